using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Onnx.Tests;

/// <summary>
/// The encoder graph and the one-step decoder graph, run step by step in ONNX Runtime with the teacher-forced tokens and
/// the state fed back, equal the network's teacher-forced forward pass (a batch of sources and targets of different lengths).
/// </summary>
public class EncoderDecoderExportTests
{
    private const int SourceVocabulary = 11, TargetVocabulary = 9, Features = 4;
    private static readonly int[] SourceLengths = { 5, 2, 4 }, TargetLengths = { 3, 4, 1 };
    private const int SourceSteps = 5, TargetSteps = 4;

    [Theory]
    [InlineData(CellType.Lstm, AttentionKind.General, true, 2)]
    [InlineData(CellType.Gru, AttentionKind.Dot, true, 2)]
    [InlineData(CellType.RnnTanh, AttentionKind.None, false, 1)]
    [InlineData(CellType.RnnRelu, AttentionKind.General, false, 2)]
    [InlineData(CellType.Lstm, AttentionKind.None, true, 1)]
    [InlineData(CellType.Gru, AttentionKind.General, false, 1)]
    public void TokenSourceStepsMatchTheForwardPass(CellType cell, AttentionKind attention, bool bidirectional, int layers)
    {
        var net = Network(new EncoderDecoderOptions
        {
            Cell = cell, Source = SourceKind.Tokens, SourceVocabularySize = SourceVocabulary, TargetVocabularySize = TargetVocabulary,
            EmbeddingSize = 5, HiddenSize = 4, Layers = layers, BidirectionalEncoder = bidirectional, Attention = attention,
        });
        var rng = new Rng(11);
        int B = SourceLengths.Length;
        var src = Enumerable.Range(0, B * SourceSteps).Select(_ => (int)(rng.NextDouble() * SourceVocabulary)).ToArray();
        var batch = EncoderDecoderBatch<float>.FromTokens(SequenceBatch<float>.FromTokens(src, B, SourceSteps, SourceLengths.ToArray()), Target(rng));
        Compare(net, batch, new[] { Ort.Ids(OnnxNames.InputIds, src, B, SourceSteps), Ort.Int32s(OnnxNames.SequenceLengths, SourceLengths) }, null);
    }

    [Theory]
    [InlineData(CellType.Lstm, true, 2)]
    [InlineData(CellType.Gru, false, 1)]
    [InlineData(CellType.RnnTanh, true, 1)]
    public void FeatureSourceStepsMatchTheForwardPass(CellType cell, bool feedEveryStep, int layers)
    {
        var net = Network(new EncoderDecoderOptions
        {
            Cell = cell, Source = SourceKind.Features, FeatureSize = Features, TargetVocabularySize = TargetVocabulary,
            EmbeddingSize = 5, HiddenSize = 6, Layers = layers, FeedFeaturesEveryStep = feedEveryStep,
        });
        var rng = new Rng(12);
        int B = SourceLengths.Length;
        var f = Enumerable.Range(0, B * Features).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var batch = EncoderDecoderBatch<float>.FromFeatures(f, Target(rng));
        var features = Ort.Floats(OnnxNames.Features, f, B, Features);
        Compare(net, batch, new[] { features }, feedEveryStep ? features : null);
    }

    private static EncoderDecoderNetwork<float> Network(EncoderDecoderOptions options)
    {
        var net = new EncoderDecoderNetwork<float>(options);
        Initializer.Initialize(net.Parameters, InitScheme.PyTorchDefault, 5);
        var v = net.Parameters.Values;
        for (int i = 0; i < v.Length; i++) v[i] *= 2f;
        return net;
    }

    private static SequenceBatch<float> Target(Rng rng)
    {
        int B = TargetLengths.Length;
        var tokens = new int[B * TargetSteps];
        for (int b = 0; b < B; b++)
            for (int t = 1; t < TargetLengths[b]; t++) tokens[b * TargetSteps + t] = 1 + (int)(rng.NextDouble() * (TargetVocabulary - 1)); // step 0: end-of-sequence
        return SequenceBatch<float>.FromTokens(tokens, B, TargetSteps, TargetLengths.ToArray());
    }

    private static void Compare(EncoderDecoderNetwork<float> net, EncoderDecoderBatch<float> batch, NamedOnnxValue[] encoderInputs, NamedOnnxValue? stepFeatures)
    {
        float[] ours = net.Forward(batch).ToArray();
        byte[] encBytes = null!, decBytes = null!;
        encBytes = Ort.Bytes(e => decBytes = Ort.Bytes(d => net.ExportToOnnx(e, d)));
        using var encoder = Ort.Session(encBytes);
        using var decoder = Ort.Session(decBytes);
        var enc = Ort.Run(encoder, encoderInputs);
        int B = batch.Batch, L = net.Options.Layers, K = net.Options.DecoderHiddenSize, V = TargetVocabulary;
        bool lstm = net.Options.Cell.HasCellState(), attention = net.Options.Attention != AttentionKind.None;
        var h = enc[OnnxNames.InitialHidden].Values;
        var c = lstm ? enc[OnnxNames.InitialCell].Values : Array.Empty<float>();
        for (int t = 0; t < TargetSteps; t++)
        {
            var token = Enumerable.Range(0, B).Select(b => (long)batch.Target.Tokens![b * TargetSteps + t]).ToArray();
            var inputs = new List<NamedOnnxValue> { Ort.Longs(OnnxNames.Token, token, B), Ort.Floats(OnnxNames.InitialHidden, h, L, B, K) };
            if (lstm) inputs.Add(Ort.Floats(OnnxNames.InitialCell, c, L, B, K));
            if (attention)
            {
                int ss = enc[OnnxNames.Memory].Shape[1];
                inputs.Add(Ort.Floats(OnnxNames.Memory, enc[OnnxNames.Memory].Values, B, ss, K));
                inputs.Add(Ort.Floats(OnnxNames.MemoryKeys, enc[OnnxNames.MemoryKeys].Values, B, ss, K));
                inputs.Add(Ort.Int32s(OnnxNames.SequenceLengths, SourceLengths));
            }
            if (stepFeatures is not null) inputs.Add(stepFeatures);
            var step = Ort.Run(decoder, inputs.ToArray());
            for (int b = 0; b < B; b++)
                if (t < TargetLengths[b])
                    Ort.AssertClose(ours.AsSpan((b * TargetSteps + t) * V, V), step[OnnxNames.Logits].Values.AsSpan(b * V, V), $"logits of step {t} of example {b}");
            h = step[OnnxNames.FinalHidden].Values;
            if (lstm) c = step[OnnxNames.FinalCell].Values;
        }
    }
}
