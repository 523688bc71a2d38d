using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx.Export;
using Rnn.MLNet.Onnx.Format;

namespace Rnn.MLNet.Onnx;

// Shape key: B = batch, S = steps, V = vocabulary, E = embedding, F = features, H = hidden, D = directions, L = layers,
// O = head outputs, K = decoder hidden, Ss = source steps.

/// <summary>Writes networks as standard ONNX models (opset 14+), scored by any ONNX runtime.</summary>
public static partial class OnnxExport
{
    /// <summary>The producer name written into every exported model.</summary>
    public const string ProducerName = "Rnn.MLNet";

    /// <summary>
    /// Writes a sequence network: <see cref="OnnxNames.InputIds"/> int64 [B, S] (embedding and one-hot input) or
    /// <see cref="OnnxNames.Features"/> float [B, S, F] (dense input), optional <see cref="OnnxNames.SequenceLengths"/> int32 [B]
    /// → one ONNX LSTM / GRU / RNN node per layer → the head: <see cref="OnnxExportOptions.OutputName"/> [B, O] read from the
    /// final states (last-step networks) or [B, S, O] (per-step networks; rows past a sequence's length are meaningless).
    /// </summary>
    public static void ExportToOnnx(this SequenceNetwork<float> network, Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new OnnxExportOptions();
        options.Validate();
        var o = network.Options;
        if (options.StateInputsAndOutputs && o.Bidirectional)
            throw new ArgumentException("StateInputsAndOutputs needs a unidirectional network: a bidirectional layer reads the whole sequence, so it cannot be streamed.", nameof(options));
        if (options.FeatureMean is not null && (o.Input != InputKind.Dense || options.FeatureMean.Count != o.FeatureSize || options.FeatureStd!.Count != o.FeatureSize))
            throw new ArgumentException($"FeatureMean and FeatureStd need a dense-input network and {o.FeatureSize} values each.", nameof(options));

        var g = new GraphBuilder();
        var p = network.Parameters;
        int L = o.Layers, D = o.Directions, H = o.HiddenSize, O = o.OutputSize;
        bool lstm = o.Cell.HasCellState();

        // Input → x [S, B, I]
        string x;
        if (o.Input == InputKind.Dense)
        {
            g.Input(OnnxNames.Features, OnnxType.Float, "batch", "sequence", o.FeatureSize);
            string f = OnnxNames.Features;
            if (options.FeatureMean is not null)
            {
                f = g.Op("Sub", new[] { f, g.Floats("features.mean", options.FeatureMean.ToArray(), o.FeatureSize) });
                f = g.Op("Div", new[] { f, g.Floats("features.std", options.FeatureStd!.ToArray(), o.FeatureSize) });
            }
            x = g.Transpose(f, 1, 0, 2);
        }
        else
        {
            g.Input(OnnxNames.InputIds, OnnxType.Int64, "batch", "sequence");
            string ids = g.Transpose(OnnxNames.InputIds, 1, 0); // [S, B]
            x = o.Input == InputKind.Embedding
                ? g.Op("Gather", new[] { g.Floats("embedding.weight", p.Read(p["embedding.weight"]), o.VocabularySize, o.EmbeddingSize), ids })
                : g.Op("OneHot", new[] { ids, g.Int64s("depth", o.VocabularySize), g.Floats("onehot.values", new[] { 0f, 1f }, 2) }, null, OnnxAttribute.Int("axis", -1));
        }
        string lengths = "";
        if (options.SequenceLengthsInput)
        {
            g.Input(OnnxNames.SequenceLengths, OnnxType.Int32, "batch");
            lengths = OnnxNames.SequenceLengths;
        }
        string? h0 = null, c0 = null;
        if (options.StateInputsAndOutputs)
        {
            g.Input(OnnxNames.InitialHidden, OnnxType.Float, L * D, "batch", H);
            h0 = OnnxNames.InitialHidden;
            if (lstm)
            {
                g.Input(OnnxNames.InitialCell, OnnxType.Float, L * D, "batch", H);
                c0 = OnnxNames.InitialCell;
            }
        }

        var stack = new RecurrentExport.Stack(p, "rnn.", o.Cell, o.RecurrentInputSize, H, L, o.Bidirectional);
        var rnn = RecurrentExport.Emit(g, stack, x, lengths, h0, c0, "rnn");

        // Head
        bool scaled = options.OutputScale != 1f || options.OutputShift != 0f;
        string? headName = scaled ? null : options.OutputName;
        string head;
        if (o.Output == OutputMode.LastStep)
        {
            // Final states of the top layer [D, B, H] → [B, D·H]: the forward direction after the last valid step, the
            // reverse direction after step 0 (what the ONNX operators return as Y_h with sequence_lens).
            string top = rnn.FinalHidden[L - 1];
            string z = D == 1 ? g.Squeeze(top, 0) : g.Reshape(g.Transpose(top, 1, 0, 2), 0, -1);
            head = g.Linear(z, g.Floats("head.weight", p.Read(p["head.weight"]), O, D * H), g.Floats("head.bias", p.Read(p["head.bias"]), O), headName);
        }
        else
        {
            // [S, B, D·H] → [B, S, D·H] · Wᵀ + b
            string z = g.Transpose(rnn.Top, 1, 0, 2);
            var wt = Transposed(p.Read(p["head.weight"]), O, D * H);
            string mm = g.Op("MatMul", new[] { z, g.Floats("head.weight_t", wt, D * H, O) });
            head = g.Op("Add", new[] { mm, g.Floats("head.bias", p.Read(p["head.bias"]), O) }, headName);
        }
        if (scaled)
        {
            string m = g.Op("Mul", new[] { head, g.Scalar("output.scale", options.OutputScale) });
            head = g.Op("Add", new[] { m, g.Scalar("output.shift", options.OutputShift) }, options.OutputName);
        }
        object[] outDims = o.Output == OutputMode.LastStep ? new object[] { "batch", O } : new object[] { "batch", "sequence", O };
        g.Output(options.OutputName, OnnxType.Float, outDims);
        if (options.Activation != OnnxOutputActivation.None)
        {
            if (options.Activation == OnnxOutputActivation.Sigmoid) g.Op("Sigmoid", new[] { head }, OnnxNames.Probabilities);
            else g.Op("Softmax", new[] { head }, OnnxNames.Probabilities, OnnxAttribute.Int("axis", -1));
            g.Output(OnnxNames.Probabilities, OnnxType.Float, outDims);
        }
        if (options.StateInputsAndOutputs)
        {
            RecurrentExport.ConcatStates(g, rnn.FinalHidden, OnnxNames.FinalHidden);
            g.Output(OnnxNames.FinalHidden, OnnxType.Float, L * D, "batch", H);
            if (lstm)
            {
                RecurrentExport.ConcatStates(g, rnn.FinalCell, OnnxNames.FinalCell);
                g.Output(OnnxNames.FinalCell, OnnxType.Float, L * D, "batch", H);
            }
        }

        g.Graph.Name = "rnn_mlnet_sequence_network";
        var model = NewModel(g.Graph, options);
        AddArchitecture(model, o);
        model.WriteTo(stream);
    }

    internal static OnnxModel NewModel(OnnxGraph graph, OnnxExportOptions options)
    {
        var model = new OnnxModel
        {
            IrVersion = 8, ProducerName = ProducerName,
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "", Graph = graph,
        };
        model.Opsets.Add(("", options.Opset));
        foreach (var kv in options.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) model.Metadata.Add(new(kv.Key, kv.Value));
        return model;
    }

    /// <summary>The architecture in metadata_props (keys "rnn_mlnet.*"), so an import can check what it reads.</summary>
    private static void AddArchitecture(OnnxModel model, NetworkOptions o)
    {
        void Add(string key, object value) => model.Metadata.Add(new("rnn_mlnet." + key, Convert.ToString(value, CultureInfo.InvariantCulture)!));
        Add("cell", o.Cell);
        Add("input", o.Input);
        Add("output", o.Output);
        Add("layers", o.Layers);
        Add("bidirectional", o.Bidirectional ? 1 : 0);
        Add("hidden_size", o.HiddenSize);
    }

    internal static float[] Transposed(ReadOnlySpan<float> m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
        return t;
    }
}
