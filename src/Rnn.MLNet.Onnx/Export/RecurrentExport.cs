using System;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx.Format;

namespace Rnn.MLNet.Onnx.Export;

/// <summary>
/// Writes a stack of recurrent layers as ONNX LSTM / GRU / RNN nodes, one node per layer (both directions in it), the way
/// torch.onnx.export does: the weights reordered once into ONNX's gate order at export time, no per-step operators.
/// </summary>
internal static class RecurrentExport
{
    // Gate blocks of ONNX's order, as indices into PyTorch's: LSTM PyTorch (i, f, g, o) → ONNX (i, o, f, c);
    // GRU PyTorch (r, z, n) → ONNX (z, r, h); the Elman cell has one block.
    public static int[] OnnxGateOrder(CellType cell) => cell switch
    {
        CellType.Lstm => new[] { 0, 3, 1, 2 },
        CellType.Gru => new[] { 1, 0, 2 },
        _ => new[] { 0 },
    };

    /// <summary>The stack's parameters and shape, as a <c>RecurrentStack</c> lays them out under a name prefix.</summary>
    public sealed record Stack(ParameterStore<float> Parameters, string Prefix, CellType Cell, int InputSize, int HiddenSize, int Layers, bool Bidirectional)
    {
        public int Directions => Bidirectional ? 2 : 1;
    }

    /// <summary>The stack's values: top output [S, B, D·H], and per layer the final states Y_h and Y_c [D, B, H].</summary>
    public sealed record Outputs(string Top, string[] FinalHidden, string[] FinalCell);

    /// <summary>
    /// Emits the stack over <paramref name="x"/> [S, B, I]. <paramref name="lengths"/>: an int32 [B] value or "" (all
    /// sequences full length). <paramref name="initialH"/> / <paramref name="initialC"/>: [L·D, B, H] values or null (zeros).
    /// </summary>
    public static Outputs Emit(GraphBuilder g, Stack s, string x, string lengths, string? initialH, string? initialC, string name)
    {
        int D = s.Directions, H = s.HiddenSize, G = s.Cell.GateCount();
        var finalH = new string[s.Layers];
        var finalC = new string[s.Layers];
        string input = x;
        for (int l = 0; l < s.Layers; l++)
        {
            int inSize = l == 0 ? s.InputSize : D * H;
            var w = new float[D * G * H * inSize];
            var r = new float[D * G * H * H];
            var b = new float[D * 2 * G * H];
            for (int d = 0; d < D; d++)
            {
                string suffix = $"l{l}" + (d == 1 ? "_reverse" : "");
                var p = s.Parameters;
                Reorder(s.Cell, H, inSize, p.Read(p[s.Prefix + "weight_ih_" + suffix]), w.AsSpan(d * G * H * inSize, G * H * inSize));
                Reorder(s.Cell, H, H, p.Read(p[s.Prefix + "weight_hh_" + suffix]), r.AsSpan(d * G * H * H, G * H * H));
                Reorder(s.Cell, H, 1, p.Read(p[s.Prefix + "bias_ih_" + suffix]), b.AsSpan(d * 2 * G * H, G * H));
                Reorder(s.Cell, H, 1, p.Read(p[s.Prefix + "bias_hh_" + suffix]), b.AsSpan(d * 2 * G * H + G * H, G * H));
            }
            string wName = g.Floats($"{name}.W_l{l}", w, D, G * H, inSize);
            string rName = g.Floats($"{name}.R_l{l}", r, D, G * H, H);
            string bName = g.Floats($"{name}.B_l{l}", b, D, 2 * G * H);
            string h0 = initialH is null ? "" : g.Slice(initialH, 0, l * D, (l + 1) * D);
            string c0 = initialC is null ? "" : g.Slice(initialC, 0, l * D, (l + 1) * D);

            var attributes = new System.Collections.Generic.List<OnnxAttribute>
            {
                OnnxAttribute.Int("hidden_size", H),
                OnnxAttribute.Str("direction", D == 2 ? "bidirectional" : "forward"),
            };
            string op;
            string[] inputs;
            switch (s.Cell)
            {
                case CellType.Lstm:
                    op = "LSTM"; inputs = new[] { input, wName, rName, bName, lengths, h0, c0 };
                    break;
                case CellType.Gru:
                    op = "GRU"; inputs = new[] { input, wName, rName, bName, lengths, h0 };
                    attributes.Add(OnnxAttribute.Int("linear_before_reset", 1)); // PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
                    break;
                default:
                    op = "RNN"; inputs = new[] { input, wName, rName, bName, lengths, h0 };
                    string act = s.Cell == CellType.RnnRelu ? "Relu" : "Tanh";
                    attributes.Add(OnnxAttribute.StringList("activations", D == 2 ? new[] { act, act } : new[] { act }));
                    break;
            }
            // Trailing empty optional inputs are dropped.
            int n = inputs.Length;
            while (n > 3 && inputs[n - 1].Length == 0) n--;
            var outs = g.Node(op, inputs[..n], s.Cell == CellType.Lstm ? 3 : 2, null, attributes.ToArray());
            finalH[l] = outs[1];
            if (s.Cell == CellType.Lstm) finalC[l] = outs[2];
            // Y [S, D, B, H] → [S, B, D·H]
            input = D == 1 ? g.Squeeze(outs[0], 1) : g.Reshape(g.Transpose(outs[0], 0, 2, 1, 3), 0, 0, -1);
        }
        return new Outputs(input, finalH, s.Cell == CellType.Lstm ? finalC : Array.Empty<string>());
    }

    /// <summary>Copies a [G·H, cols] PyTorch-ordered block matrix (or bias, cols = 1) into ONNX's gate order.</summary>
    public static void Reorder(CellType cell, int hidden, int cols, ReadOnlySpan<float> pytorch, Span<float> onnx)
    {
        var order = OnnxGateOrder(cell);
        int block = hidden * cols;
        for (int k = 0; k < order.Length; k++) pytorch.Slice(order[k] * block, block).CopyTo(onnx.Slice(k * block, block));
    }

    /// <summary>The inverse of <see cref="Reorder"/>: ONNX's gate order back to PyTorch's.</summary>
    public static void ReorderBack(CellType cell, int hidden, int cols, ReadOnlySpan<float> onnx, Span<float> pytorch)
    {
        var order = OnnxGateOrder(cell);
        int block = hidden * cols;
        for (int k = 0; k < order.Length; k++) onnx.Slice(k * block, block).CopyTo(pytorch.Slice(order[k] * block, block));
    }

    /// <summary>Per-layer final states [D, B, H] concatenated into [L·D, B, H] (the layout of <c>RecurrentState</c>).</summary>
    public static string ConcatStates(GraphBuilder g, string[] perLayer, string output) =>
        perLayer.Length == 1 ? g.Op("Identity", perLayer, output) : g.Concat(perLayer, 0, output);
}
