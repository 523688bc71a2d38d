using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Onnx.Tests;

/// <summary>Every cell × input kind × output mode, one and two directions, one and two layers, a batch of sequences of
/// different lengths: ONNX Runtime's output of the exported graph equals the network's own forward pass.</summary>
public class SequenceNetworkExportTests
{
    private static readonly int[] Lengths = { 6, 3, 1, 5 };
    private const int Steps = 6, Vocabulary = 13, Features = 3;

    public static IEnumerable<object[]> Cases()
    {
        foreach (CellType cell in Enum.GetValues<CellType>())
            foreach (InputKind input in Enum.GetValues<InputKind>())
                foreach (OutputMode output in Enum.GetValues<OutputMode>())
                    foreach (var (layers, bi) in new[] { (1, false), (2, true) })
                        yield return new object[] { cell, input, output, layers, bi };
    }

    internal static SequenceNetwork<float> Network(CellType cell, InputKind input, OutputMode output, int layers, bool bi, int outputs = 4, ulong seed = 7)
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = input, VocabularySize = Vocabulary, EmbeddingSize = 5, FeatureSize = Features, HiddenSize = 7,
            Layers = layers, Bidirectional = bi, OutputSize = outputs, Output = output,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, seed);
        // Larger than the default ±1/√H so the gates leave their linear range.
        var v = net.Parameters.Values;
        for (int i = 0; i < v.Length; i++) v[i] *= 2.5f;
        return net;
    }

    internal static (SequenceBatch<float> Batch, int[] Ids, float[] Features) RandomBatch(InputKind input, ulong seed = 3)
    {
        var rng = new Rng(seed);
        int B = Lengths.Length;
        var ids = new int[B * Steps];
        var f = new float[B * Steps * Features];
        for (int i = 0; i < ids.Length; i++) ids[i] = (int)(rng.NextDouble() * Vocabulary);
        for (int i = 0; i < f.Length; i++) f[i] = (float)(rng.NextDouble() * 4 - 2);
        var batch = input == InputKind.Dense
            ? SequenceBatch<float>.FromFeatures(f, B, Steps, Features, Lengths.ToArray())
            : SequenceBatch<float>.FromTokens(ids, B, Steps, Lengths.ToArray());
        return (batch, ids, f);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OnnxRuntimeMatchesTheNetwork(CellType cell, InputKind input, OutputMode output, int layers, bool bi)
    {
        var net = Network(cell, input, output, layers, bi);
        var (batch, ids, features) = RandomBatch(input);
        float[] ours = net.Forward(batch).ToArray();

        var activation = output == OutputMode.LastStep ? OnnxOutputActivation.Sigmoid : OnnxOutputActivation.Softmax;
        byte[] model = Ort.Bytes(s => net.ExportToOnnx(s, new OnnxExportOptions { Activation = activation }));
        using var session = Ort.Session(model);
        int B = Lengths.Length, O = net.Options.OutputSize;
        var first = input == InputKind.Dense
            ? Ort.Floats(OnnxNames.Features, features, B, Steps, Features)
            : Ort.Ids(OnnxNames.InputIds, ids, B, Steps);
        var result = Ort.Run(session, first, Ort.Int32s(OnnxNames.SequenceLengths, Lengths));
        var (logits, shape) = result[OnnxNames.Logits];
        var (probs, _) = result[OnnxNames.Probabilities];

        if (output == OutputMode.LastStep)
        {
            Assert.Equal(new[] { B, O }, shape);
            var sigmoid = ours.Select(z => 1f / (1f + MathF.Exp(-z))).ToArray();
            for (int b = 0; b < B; b++)
            {
                Ort.AssertClose(ours.AsSpan(b * O, O), logits.AsSpan(b * O, O), $"logits of sequence {b}");
                Ort.AssertClose(sigmoid.AsSpan(b * O, O), probs.AsSpan(b * O, O), $"probabilities of sequence {b}");
            }
        }
        else
        {
            Assert.Equal(new[] { B, Steps, O }, shape);
            for (int b = 0; b < B; b++) // rows past a sequence's length are padding
            {
                for (int t = 0; t < Lengths[b]; t++)
                {
                    Ort.AssertClose(ours.AsSpan((b * Steps + t) * O, O), logits.AsSpan((b * Steps + t) * O, O), $"logits of step {t} of sequence {b}");
                    var row = ours.AsSpan((b * Steps + t) * O, O);
                    float max = row.ToArray().Max();
                    var e = row.ToArray().Select(z => MathF.Exp(z - max)).ToArray();
                    float sum = e.Sum();
                    Ort.AssertClose(e.Select(v => v / sum).ToArray(), probs.AsSpan((b * Steps + t) * O, O), $"probabilities of step {t} of sequence {b}");
                }
            }
        }
    }

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.RnnTanh)]
    public void StreamingStateMatchesStep(CellType cell)
    {
        // A two-layer language model: the whole sequence at once, then token by token feeding final_h/final_c back,
        // against SequenceNetwork.Step with a RecurrentState.
        var net = Network(cell, InputKind.Embedding, OutputMode.PerStep, 2, false, outputs: Vocabulary);
        byte[] model = Ort.Bytes(s => net.ExportToOnnx(s, new OnnxExportOptions { StateInputsAndOutputs = true, SequenceLengthsInput = false }));
        using var session = Ort.Session(model);
        var tokens = new[] { 3, 1, 4, 1, 5, 9, 2, 6 };
        var state = net.CreateState(1);
        int H = net.Options.HiddenSize, L = net.Options.Layers;
        var h = new float[L * H];
        var c = new float[L * H];
        bool lstm = cell == CellType.Lstm;
        foreach (int token in tokens)
        {
            float[] ours = net.Step(state, new[] { token }).ToArray();
            var inputs = new List<Microsoft.ML.OnnxRuntime.NamedOnnxValue>
            {
                Ort.Ids(OnnxNames.InputIds, new[] { token }, 1, 1), Ort.Floats(OnnxNames.InitialHidden, h, L, 1, H),
            };
            if (lstm) inputs.Add(Ort.Floats(OnnxNames.InitialCell, c, L, 1, H));
            var r = Ort.Run(session, inputs.ToArray());
            Ort.AssertClose(ours, r[OnnxNames.Logits].Values, $"logits after token {token}");
            h = r[OnnxNames.FinalHidden].Values;
            Ort.AssertClose(state.Hidden, h, "final_h");
            if (lstm) { c = r[OnnxNames.FinalCell].Values; Ort.AssertClose(state.Cell, c, "final_c"); }
        }
    }
}
