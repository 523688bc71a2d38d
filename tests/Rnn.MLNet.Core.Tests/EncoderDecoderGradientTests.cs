using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Finite-difference gradient checks in double precision for the encoder–decoder (every cell; no attention, dot and general
/// attention; bidirectional 2-layer encoder with dropout; variable source and target lengths; the feature-vector source with
/// and without feeding the vector at every step) and for the per-token tagger (bidirectional, per-step cross-entropy).
/// Every parameter tensor is checked element by element.
/// </summary>
public class EncoderDecoderGradientTests
{
    private readonly ITestOutputHelper _out;
    public EncoderDecoderGradientTests(ITestOutputHelper output) => _out = output;

    public enum Setup
    {
        TokensNoAttention,          // 1 layer, unidirectional encoder
        TokensDotAttentionBi,       // 1 layer, bidirectional encoder, dot attention
        TokensGeneralAttentionDeep, // 2 layers, bidirectional, dropout 0.3, general attention
        TokensAdditiveAttentionBi,  // 1 layer, bidirectional encoder, additive (Bahdanau) attention
        TokensAdditiveAttentionDeep, // 2 layers, unidirectional, dropout 0.3, embedding dropout 0.2, additive attention
        FeaturesInitialState,       // one-to-many: h0 = tanh(W f + b)
        FeaturesEveryStepDeep,      // one-to-many, 2 layers, features also fed at every step
    }

    public static IEnumerable<object[]> Cases() =>
        from cell in new[] { CellType.RnnTanh, CellType.Lstm, CellType.Gru }
        from setup in Enum.GetValues<Setup>()
        select new object[] { cell, setup };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncoderDecoderGradientsMatchCentralDifferences(CellType cell, Setup setup)
    {
        const int B = 3, Vs = 6, Vt = 5, F = 3;
        var o = new EncoderDecoderOptions { Cell = cell, SourceVocabularySize = Vs, TargetVocabularySize = Vt, EmbeddingSize = 3, HiddenSize = 3, FeatureSize = F };
        bool training = false;
        switch (setup)
        {
            case Setup.TokensDotAttentionBi: o.BidirectionalEncoder = true; o.Attention = AttentionKind.Dot; break;
            case Setup.TokensGeneralAttentionDeep: o.BidirectionalEncoder = true; o.Attention = AttentionKind.General; o.Layers = 2; o.Dropout = 0.3f; training = true; break;
            case Setup.TokensAdditiveAttentionBi: o.BidirectionalEncoder = true; o.Attention = AttentionKind.Additive; break;
            case Setup.TokensAdditiveAttentionDeep: o.Attention = AttentionKind.Additive; o.Layers = 2; o.Dropout = 0.3f; o.EmbeddingDropout = 0.2f; training = true; break;
            case Setup.FeaturesInitialState: o.Source = SourceKind.Features; break;
            case Setup.FeaturesEveryStepDeep: o.Source = SourceKind.Features; o.FeedFeaturesEveryStep = true; o.Layers = 2; break;
        }
        var net = new EncoderDecoderNetwork<double>(o);
        Initializer.Initialize(net.Parameters, InitScheme.PyTorchDefault, seed: 5);
        for (int i = 0; i < net.Parameters.Count; i++) net.Parameters.Values[i] *= 1.5;
        if (o.Attention == AttentionKind.Additive) // a larger v and W_q, so the scores (and their gradients) are not all near zero
            foreach (var name in new[] { "attention.score.weight", "attention.query.weight" })
            {
                var w = net.Parameters.Value(name);
                for (int i = 0; i < w.Length; i++) w[i] *= 4;
            }
        var rng = new Rng(17);

        int Ss = 4, St = 4;
        int[] sLengths = { 4, 2, 3 }, tLengths = { 3, 4, 1 };
        var target = SequenceBatch<double>.FromTokens(Enumerable.Range(0, B * St).Select(_ => rng.NextInt(Vt)).ToArray(), B, St, tLengths);
        var batch = o.Source == SourceKind.Tokens
            ? EncoderDecoderBatch<double>.FromTokens(SequenceBatch<double>.FromTokens(Enumerable.Range(0, B * Ss).Select(_ => rng.NextInt(Vs)).ToArray(), B, Ss, sLengths), target)
            : EncoderDecoderBatch<double>.FromFeatures(GradientCheck.RandomArray(rng, B * F), target);
        int[] y = new int[B * St];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < St; t++) y[b * St + t] = t < tLengths[b] ? rng.NextInt(Vt) : SoftmaxCrossEntropy.IgnoreIndex;

        double Objective()
        {
            net.DropoutRng = new Rng(3);
            return SoftmaxCrossEntropy.Compute(net.Forward(batch, training), y, Vt, default);
        }

        Objective();
        var dLogits = new double[net.Output.Length];
        SoftmaxCrossEntropy.Compute(net.Output, y, Vt, dLogits);
        net.Parameters.ZeroGradients();
        net.Backward(dLogits);
        var analytic = (double[])net.Parameters.Gradients.Clone();
        foreach (var p in net.Parameters.Parameters)
        {
            double err = GradientCheck.RelativeError(net.Parameters.Value(p), analytic.AsSpan(p.Offset, p.Size), Objective, net.Parameters.MarkChanged);
            _out.WriteLine($"{p.Name} {p.ShapeText}: {err:e2} (max |g| {GradientCheck.LastMaxAbs:e2}, max diff {GradientCheck.LastMaxDiff:e2})");
            GradientCheck.AssertGradient($"{cell}/{setup} {p.Name}", err);
        }
    }

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.RnnTanh)]
    public void TaggerGradientsMatchCentralDifferences(CellType cell)
    {
        // The tagger is a SequenceNetwork: embedding → 2 bidirectional layers → per-step head, one label per token.
        const int B = 3, S = 5, V = 7, Tags = 4;
        int[] lengths = { 5, 2, 4 };
        var o = new NetworkOptions { Cell = cell, Input = InputKind.Embedding, VocabularySize = V, EmbeddingSize = 3, HiddenSize = 3, Layers = 2, Bidirectional = true, OutputSize = Tags, Output = OutputMode.PerStep };
        var net = new SequenceNetwork<double>(o);
        Initializer.Initialize(net, InitScheme.Orthogonal, seed: 8);
        var rng = new Rng(23);
        var batch = SequenceBatch<double>.FromTokens(Enumerable.Range(0, B * S).Select(_ => rng.NextInt(V)).ToArray(), B, S, lengths);
        var targets = new Targets<double> { Classes = Enumerable.Range(0, B * S).Select(_ => rng.NextInt(Tags)).ToArray() };
        var trainer = new Trainer<double>(net, new Sgd<double>(0.1), LossKind.SoftmaxCrossEntropy);
        double Objective()
        {
            net.Forward(batch);
            return trainer.ComputeLoss(batch, targets, default);
        }
        Objective();
        var dOut = new double[net.Output.Length];
        trainer.ComputeLoss(batch, targets, dOut);
        net.Parameters.ZeroGradients();
        net.Backward(dOut);
        var analytic = (double[])net.Parameters.Gradients.Clone();
        foreach (var p in net.Parameters.Parameters)
        {
            double err = GradientCheck.RelativeError(net.Parameters.Value(p), analytic.AsSpan(p.Offset, p.Size), Objective, net.Parameters.MarkChanged);
            _out.WriteLine($"{p.Name}: {err:e2} (max |g| {GradientCheck.LastMaxAbs:e2}, max diff {GradientCheck.LastMaxDiff:e2})");
            GradientCheck.AssertGradient($"tagger {cell} {p.Name}", err);
        }
    }
}
