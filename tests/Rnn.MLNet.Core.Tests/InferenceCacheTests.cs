using System;
using System.Linq;
using System.Numerics;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The per-token input projection cache of inference: outputs bit-identical to the uncached path, never stale after the
/// embedding, W_ih or a bias changes (the weights' version), and bounded by its memory setting. Inference leaves the
/// version alone and allocates no gradients. Alone in a collection: the setting is global.
/// </summary>
[Collection(nameof(AllocationCounting))]
public class InferenceCacheTests
{
    private static SequenceNetwork<T> Network<T>(CellType cell, InputKind input, bool bi, int hidden = 40) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var net = new SequenceNetwork<T>(new NetworkOptions
        {
            Cell = cell, Input = input, VocabularySize = 30, EmbeddingSize = 12, HiddenSize = hidden, Layers = 2, Bidirectional = bi,
            OutputSize = 5, Output = OutputMode.PerStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 4);
        return net;
    }

    private static T[] Run<T>(SequenceNetwork<T> net, SequenceBatch<T> batch, long cacheBytes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long saved = InferenceCache.TokenProjectionBytes;
        InferenceCache.TokenProjectionBytes = cacheBytes;
        try { return net.Forward(batch).ToArray(); }
        finally { InferenceCache.TokenProjectionBytes = saved; }
    }

    private static SequenceBatch<T> RandomBatch<T>(Rng rng, int batch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // few distinct tokens, so most rows hit the cache; a batch > 1 has padding
        var seqs = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, 3 + rng.NextInt(10)).Select(_ => rng.NextInt(8)).ToArray()).ToArray();
        return SequenceBatch<T>.FromTokenSequences(seqs);
    }

    public static TheoryData<CellType, InputKind, bool> Cases => new()
    {
        { CellType.Lstm, InputKind.Embedding, false },
        { CellType.Gru, InputKind.Embedding, true },
        { CellType.RnnTanh, InputKind.OneHot, false },
        { CellType.RnnRelu, InputKind.Embedding, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CachedInferenceIsBitIdenticalToTheUncachedPath(CellType cell, InputKind input, bool bi)
    {
        Compare<float>(cell, input, bi);
        Compare<double>(cell, input, bi);
    }

    private static void Compare<T>(CellType cell, InputKind input, bool bi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cached = Network<T>(cell, input, bi);
        var plain = Network<T>(cell, input, bi);
        var rng = new Rng(9);
        foreach (long bytes in new[] { 64L << 20, 3L * 1024 }) // roomy, and full after a few entries (misses not kept)
            for (int i = 0; i < 30; i++)
            {
                var batch = RandomBatch<T>(rng, i % 3 == 0 ? 3 : 1);
                Assert.Equal(Run(plain, batch, 0), Run(cached, batch, bytes));
            }
    }

    [Theory]
    [InlineData("embedding.weight")]
    [InlineData("rnn.weight_ih_l0")]
    [InlineData("rnn.bias_ih_l0")]
    [InlineData("rnn.bias_hh_l0")]
    public void AChangedWeightIsSeenOnTheNextCall(string parameter)
    {
        var net = Network<float>(CellType.Lstm, InputKind.Embedding, bi: false);
        var batch = SequenceBatch<float>.FromTokens(new[] { 1, 2, 3, 2, 1, 4 }, 1, 6);
        // token 2's embedding row, or one weight / bias entry of the first layer
        AssertSeenAfter(net, batch, () => net.Parameters.Value(parameter)[parameter == "embedding.weight" ? 2 * 12 + 5 : 3] += 0.25f);
    }

    [Fact]
    public void TrainingBetweenPredictionsIsSeen()
    {
        var net = Network<float>(CellType.Gru, InputKind.Embedding, bi: false);
        var batch = SequenceBatch<float>.FromTokens(new[] { 5, 6, 7, 5 }, 1, 4);
        var trainer = new Trainer<float>(net, new Adam<float>(1e-2), LossKind.SoftmaxCrossEntropy);
        AssertSeenAfter(net, batch, () => trainer.TrainStep(batch, new Targets<float> { Classes = new[] { 1, 2, 3, 4 } }));
    }

    // Predicts twice (the second from the cache), changes the weights, predicts again: the output moves, and equals the
    // uncached path's.
    private static void AssertSeenAfter(SequenceNetwork<float> net, SequenceBatch<float> batch, Action change)
    {
        var before = Run(net, batch, 64L << 20);
        Assert.Equal(before, Run(net, batch, 64L << 20));
        change();
        var after = Run(net, batch, 64L << 20);
        Assert.NotEqual(before, after);
        Assert.Equal(Run(net, batch, 0), after);
    }

    [Fact]
    public void AWriteThroughAKeptViewIsSeenOnceMarkedChanged()
    {
        var net = Network<float>(CellType.Gru, InputKind.Embedding, bi: false);
        var batch = SequenceBatch<float>.FromTokens(new[] { 1, 2, 3, 2 }, 1, 4);
        Span<float> w = net.Parameters.Value("rnn.weight_ih_l0"); // a view taken before the predictions
        var before = Run(net, batch, 64L << 20);
        w[7] += 0.25f; // written later through the kept view: not detectable until the owner says so
        net.Parameters.MarkChanged();
        var after = Run(net, batch, 64L << 20);
        Assert.NotEqual(before, after);
        Assert.Equal(Run(net, batch, 0), after);
    }

    [Fact]
    public void PredictingLeavesTheWeightsVersionAndAllocatesNoGradients()
    {
        var net = Network<float>(CellType.Lstm, InputKind.Embedding, bi: true);
        var batch = SequenceBatch<float>.FromTokens(new[] { 4, 5, 6 }, 1, 3);
        long version = net.Parameters.Version;
        Run(net, batch, 64L << 20);
        Run(net, batch, 0);
        Assert.Equal(version, net.Parameters.Version); // reads do not count as changes, so the packed copies are reused
        Assert.False(net.Parameters.HasGradients);     // inference carries no gradient buffer
        var trainer = new Trainer<float>(net, new Sgd<float>(0.1), LossKind.SoftmaxCrossEntropy);
        trainer.TrainStep(batch, new Targets<float> { Classes = new[] { 1, 2, 3 } });
        Assert.True(net.Parameters.HasGradients);
        Assert.NotEqual(version, net.Parameters.Version); // the optimizer step marks its change
        var loaded = Serialization.ModelFile.From(net).CreateNetwork();
        Assert.False(loaded.Parameters.HasGradients);
        Assert.Equal(Run(net, batch, 64L << 20), Run(loaded, batch, 64L << 20));
    }

    [Fact]
    public void WhatTrainingKeepsForInferenceHasNoGradientsAndTheSameOutputs()
    {
        var net = Network<float>(CellType.Gru, InputKind.Embedding, bi: true);
        var batch = SequenceBatch<float>.FromTokens(new[] { 4, 5, 6 }, 1, 3);
        new Trainer<float>(net, new Sgd<float>(0.1), LossKind.SoftmaxCrossEntropy).TrainStep(batch, new Targets<float> { Classes = new[] { 1, 2, 3 } });
        var expected = Run(net, batch, 0);

        var copy = net.CopyForInference(); // an ensemble member: its own weights while net trains on
        Assert.False(copy.Parameters.HasGradients);
        Assert.True(net.Parameters.HasGradients);
        Assert.Equal(expected, Run(copy, batch, 64L << 20));
        float w0 = net.Parameters.Values[0];
        net.Parameters.Values[0] = w0 + 1;
        Assert.Equal(expected, Run(copy, batch, 0));
        net.Parameters.Values[0] = w0;

        var kept = net.ForInference(); // the same weights, the gradient buffer freed
        Assert.Same(net.Parameters, kept.Parameters);
        Assert.False(kept.Parameters.HasGradients);
        Assert.Equal(expected, Run(kept, batch, 64L << 20));
    }

    [Fact]
    public void TheCacheKeepsNoMoreEntriesThanItsBudgetAllows()
    {
        var net = Network<float>(CellType.Lstm, InputKind.Embedding, bi: false);
        int entryBytes = (12 + 4 * 40) * sizeof(float);
        var layer = net.FirstLayerForTests;
        var all = SequenceBatch<float>.FromTokens(Enumerable.Range(0, 30).ToArray(), 1, 30);
        Run(net, all, 5L * entryBytes);
        Assert.Equal(5, layer.TokenCacheCount);
        Run(net, all, 64L << 20);
        Assert.Equal(30, layer.TokenCacheCount);
        Run(net, all, 0); // off: the cache is dropped
        Assert.Equal(0, layer.TokenCacheCount);
    }

    [Fact]
    public void EntriesOnSeveralPagesGiveTheUncachedOutputs()
    {
        // an entry of (12 + 4·160) floats = 2,608 bytes: 25 a 64 KB page, so 30 tokens fill a page and start a second
        var cached = Network<float>(CellType.Lstm, InputKind.Embedding, bi: false, hidden: 160);
        var plain = Network<float>(CellType.Lstm, InputKind.Embedding, bi: false, hidden: 160);
        var layer = cached.FirstLayerForTests;
        int entryBytes = (12 + 4 * 160) * sizeof(float);
        var all = SequenceBatch<float>.FromTokens(Enumerable.Range(0, 30).ToArray(), 1, 30);
        var reversed = SequenceBatch<float>.FromTokens(Enumerable.Range(0, 30).Reverse().ToArray(), 1, 30);
        float[] expected = Run(plain, all, 0), expectedReversed = Run(plain, reversed, 0);
        Assert.Equal(expected, Run(cached, all, 27L * entryBytes)); // the second page holds only what the budget allows
        Assert.Equal(27, layer.TokenCacheCount);
        Assert.Equal(expected, Run(cached, all, 27L * entryBytes)); // all hits
        Assert.Equal(expectedReversed, Run(cached, reversed, 64L << 20)); // a larger budget regrows the second page
        Assert.Equal(30, layer.TokenCacheCount);
        Assert.Equal(expected, Run(cached, all, 64L << 20));
        Assert.Equal(expectedReversed, Run(cached, reversed, 64L << 20));
    }
}
