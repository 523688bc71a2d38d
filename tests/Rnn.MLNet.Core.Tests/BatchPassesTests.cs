using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Training passes bounded in padded tokens (<see cref="FitOptions.MaximumBatchTokens"/>): the split rule, a step over a
/// batch's parts equal to the step over the whole batch, and the fitter's runs with and without the limit.
/// </summary>
public class BatchPassesTests
{
    private static List<LabeledSequence> Sequences(int count, int maxLength, int seed)
    {
        var rng = new Rng((ulong)seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            int n = 1 + rng.NextInt(maxLength);
            return new LabeledSequence
            {
                Tokens = Enumerable.Range(0, n).Select(_ => rng.NextInt(9)).ToArray(),
                StepClasses = Enumerable.Range(0, n).Select(_ => rng.NextInt(3)).ToArray(),
            };
        }).ToList();
    }

    [Fact]
    public void PassesPartitionTheBatchWithinTheLimit()
    {
        var data = Sequences(400, 120, seed: 3);
        var rng = new Rng(11);
        foreach (int limit in new[] { 1, 50, 100, 256, 1000 })
            for (int trial = 0; trial < 40; trial++)
            {
                var batch = Enumerable.Range(0, 1 + rng.NextInt(40)).Select(_ => rng.NextInt(data.Count)).Distinct().ToArray();
                var passes = SequenceFitter.Passes(data, batch, limit, 1);
                // every index exactly once
                Assert.Equal(batch.OrderBy(i => i), passes.SelectMany(p => p).OrderBy(i => i));
                foreach (var p in passes)
                {
                    Assert.NotEmpty(p);
                    long padded = (long)p.Length * p.Max(i => data[i].Length(1));
                    Assert.True(padded <= limit || p.Length == 1, $"limit {limit}: a pass of {p.Length} sequences holds {padded} padded tokens");
                }
                // greedy: a pass could not have taken the next pass's first sequence
                for (int k = 0; k + 1 < passes.Count; k++)
                    Assert.True((long)(passes[k].Length + 1) * data[passes[k + 1][0]].Length(1) > limit);
                Assert.Equal(passes.Select(p => p.ToArray()), SequenceFitter.Passes(data, batch, limit, 1)); // deterministic
            }
        // A batch within the limit (or no limit) is one pass, in its own order.
        var small = new[] { 5, 2, 9 };
        int longest = small.Max(i => data[i].Length(1));
        Assert.Same(small, Assert.Single(SequenceFitter.Passes(data, small, longest * small.Length, 1)));
        Assert.Same(small, Assert.Single(SequenceFitter.Passes(data, small, 0, 1)));
    }

    /// <summary>Token batch [B, S] of the given sequences (padded to their longest), double precision.</summary>
    private static (SequenceBatch<double>, Targets<double>) TokenBatch(IReadOnlyList<LabeledSequence> data, int[] indices, bool perStep)
    {
        int B = indices.Length, S = indices.Max(i => data[i].Tokens!.Length);
        var tokens = new int[B * S];
        var classes = new int[perStep ? B * S : B];
        for (int b = 0; b < B; b++)
        {
            data[indices[b]].Tokens!.CopyTo(tokens, b * S);
            if (perStep) data[indices[b]].StepClasses!.CopyTo(classes, b * S);
            else classes[b] = data[indices[b]].StepClasses![0];
        }
        return (SequenceBatch<double>.FromTokens(tokens, B, S, indices.Select(i => data[i].Tokens!.Length).ToArray()), new Targets<double> { Classes = classes });
    }

    private static (SequenceBatch<double>, Targets<double>) FeatureBatch(int[] lengths, int features, int outputs, int seed)
    {
        var rng = new Rng((ulong)seed);
        int B = lengths.Length, S = lengths.Max();
        var x = new double[B * S * features];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < lengths[b] * features; i++) x[b * S * features + i] = rng.NextDouble() * 2 - 1;
        var y = Enumerable.Range(0, B * outputs).Select(_ => rng.NextDouble()).ToArray();
        return (SequenceBatch<double>.FromFeatures(x, B, S, features, lengths), new Targets<double> { Values = y });
    }

    private static SequenceNetwork<double> Network(CellType cell, InputKind input, OutputMode output, int outputs)
    {
        var net = new SequenceNetwork<double>(new NetworkOptions
        {
            Cell = cell, Input = input, VocabularySize = 9, EmbeddingSize = 4, FeatureSize = 3, HiddenSize = 5, Layers = 2, Bidirectional = true,
            OutputSize = outputs, Output = output,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, seed: 7);
        return net;
    }

    /// <summary>One optimizer step from the same weights, over the whole batch or over its parts: the same new weights.</summary>
    private static void AssertSameStep(Func<SequenceNetwork<double>> make, LossKind loss, (SequenceBatch<double>, Targets<double>) whole,
        (SequenceBatch<double>, Targets<double>)[] parts, double clipNorm, double[]? classWeights = null)
    {
        Trainer<double> Make() => new(make(), new Sgd<double>(0.5), loss) { ClipNorm = clipNorm, ClassWeights = classWeights ?? Array.Empty<double>() };
        var one = Make();
        var split = Make();
        double lossOne = one.TrainStep(whole.Item1, whole.Item2);
        double lossSplit = split.TrainStep(parts);
        Assert.Equal(lossOne, lossSplit, 12);
        Assert.Equal(one.LastGradientNorm, split.LastGradientNorm, 10);
        var a = one.Network.Parameters.Values;
        var b = split.Network.Parameters.Values;
        for (int i = 0; i < a.Length; i++) Assert.True(System.Math.Abs(a[i] - b[i]) < 1e-12, $"weight {i}: {a[i]} vs {b[i]}");
    }

    [Theory]
    [InlineData(CellType.Lstm, 0)]
    [InlineData(CellType.Gru, 0)]
    [InlineData(CellType.RnnTanh, 0.05)] // with clipping: the norm is that of the summed gradients
    public void StepOverPartsEqualsStepOverTheBatch_Tagging(CellType cell, double clipNorm)
    {
        var data = Sequences(7, 9, seed: 5);
        int[] all = { 0, 1, 2, 3, 4, 5, 6 };
        var whole = TokenBatch(data, all, perStep: true);
        var parts = new[] { TokenBatch(data, new[] { 0, 1, 2 }, true), TokenBatch(data, new[] { 3 }, true), TokenBatch(data, new[] { 4, 5, 6 }, true) };
        Func<SequenceNetwork<double>> make = () => Network(cell, InputKind.Embedding, OutputMode.PerStep, 3);
        AssertSameStep(make, LossKind.SoftmaxCrossEntropy, whole, parts, clipNorm);
        AssertSameStep(make, LossKind.SoftmaxCrossEntropy, whole, parts, clipNorm, classWeights: new[] { 0.5, 2.0, 1.25 });
    }

    [Fact]
    public void StepOverPartsEqualsStepOverTheBatch_LastStepLosses()
    {
        var data = Sequences(6, 8, seed: 9);
        var whole = TokenBatch(data, new[] { 0, 1, 2, 3, 4, 5 }, perStep: false);
        var parts = new[] { TokenBatch(data, new[] { 0, 1 }, false), TokenBatch(data, new[] { 2, 3, 4, 5 }, false) };
        AssertSameStep(() => Network(CellType.Lstm, InputKind.Embedding, OutputMode.LastStep, 3), LossKind.SoftmaxCrossEntropy, whole, parts, 0);

        int[] lengths = { 3, 5, 1, 4, 2 };
        var wholeX = FeatureBatch(lengths, 3, 2, seed: 1);
        // the same rows, split 2 + 3 (each part padded to its own longest sequence)
        (SequenceBatch<double>, Targets<double>) Part(int first, int count)
        {
            var (x, y) = wholeX;
            int S = lengths.Skip(first).Take(count).Max();
            var f = new double[count * S * 3];
            for (int b = 0; b < count; b++) Array.Copy(x.Features!, (first + b) * x.Steps * 3, f, b * S * 3, lengths[first + b] * 3);
            return (SequenceBatch<double>.FromFeatures(f, count, S, 3, lengths.Skip(first).Take(count).ToArray()),
                new Targets<double> { Values = y.Values!.Skip(first * 2).Take(count * 2).ToArray() });
        }
        var partsX = new[] { Part(0, 2), Part(2, 3) };
        AssertSameStep(() => Network(CellType.Gru, InputKind.Dense, OutputMode.LastStep, 2), LossKind.MeanSquaredError, wholeX, partsX, 0);
        AssertSameStep(() => Network(CellType.Gru, InputKind.Dense, OutputMode.LastStep, 2), LossKind.SigmoidBinaryCrossEntropy, wholeX, partsX, 0);
    }

    private static (SequenceNetwork<float> Net, FitResult Result) FitTagger(List<LabeledSequence> train, List<LabeledSequence> valid, int maximumBatchTokens, ulong seed = 3)
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 9, EmbeddingSize = 4, HiddenSize = 6, Layers = 1, Bidirectional = true,
            OutputSize = 3, Output = OutputMode.PerStep,
        });
        Initializer.Initialize(net, InitScheme.Orthogonal, 1);
        var result = SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, train, valid,
            new FitOptions { Epochs = 3, BatchSize = 8, LearningRate = 1e-2, Seed = seed, MaximumBatchTokens = maximumBatchTokens });
        return (net, result);
    }

    [Fact]
    public void FitWithinTheLimitTrainsAsWithoutIt()
    {
        // 120 sequences of 1–40 tokens, batches of 8: with a limit of 60 tokens nearly every batch runs in several passes.
        var train = Sequences(120, 40, seed: 21);
        var valid = Sequences(30, 40, seed: 22);
        var (plain, plainResult) = FitTagger(train, valid, 0);
        var (limited, limitedResult) = FitTagger(train, valid, 60);
        var (again, _) = FitTagger(train, valid, 60);
        Assert.Equal(limited.Parameters.Values, again.Parameters.Values); // deterministic by seed
        var (otherSeed, _) = FitTagger(train, valid, 60, seed: 4);
        Assert.NotEqual(limited.Parameters.Values, otherSeed.Parameters.Values);
        // No dropout: the limit changes only the order of float sums.
        float[] a = plain.Parameters.Values, b = limited.Parameters.Values;
        for (int i = 0; i < a.Length; i++) Assert.True(System.Math.Abs(a[i] - b[i]) < 1e-4, $"weight {i}: {a[i]} vs {b[i]}");
        for (int e = 0; e < 3; e++)
        {
            Assert.Equal(plainResult.History[e].TrainLoss, limitedResult.History[e].TrainLoss, 4);
            Assert.Equal(plainResult.History[e].ValidationLoss!.Value, limitedResult.History[e].ValidationLoss!.Value, 4);
        }
        // Validation split into passes: the same loss and accuracy.
        var trainer = new Trainer<float>(limited, new Sgd<float>(0.1f), LossKind.SoftmaxCrossEntropy);
        var (loss, accuracy) = SequenceFitter.Evaluate(trainer, valid, 16);
        var (lossSplit, accuracySplit) = SequenceFitter.Evaluate(trainer, valid, 16, maximumBatchTokens: 30);
        Assert.Equal(loss, lossSplit, 5);
        Assert.Equal(accuracy, accuracySplit);
        Assert.Throws<ArgumentException>(() => new FitOptions { MaximumBatchTokens = -1 }.Validate());
    }
}
