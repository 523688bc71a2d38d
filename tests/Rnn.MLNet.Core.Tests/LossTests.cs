using System;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Xunit;

namespace Rnn.MLNet.Tests;

public class LossTests
{
    [Fact]
    public void SoftmaxCrossEntropyGradientWithClassWeightsAndIgnoredRows()
    {
        var rng = new Rng(1);
        var z = GradientCheck.RandomArray(rng, 4 * 5, 3);
        int[] y = { 2, SoftmaxCrossEntropy.IgnoreIndex, 0, 4 };
        double[] w = { 1, 2, 0.5, 1, 3 };
        var dz = new double[z.Length];
        SoftmaxCrossEntropy.Compute<double>(z, y, 5, dz, w);
        double err = GradientCheck.RelativeError(z, dz, () => SoftmaxCrossEntropy.Compute<double>(z, y, 5, default, w));
        GradientCheck.AssertClose("softmax CE", err);
        Assert.All(dz.AsSpan(5, 5).ToArray(), v => Assert.Equal(0, v)); // ignored row
    }

    [Fact]
    public void LabelSmoothedCrossEntropyGradientAndDefinition()
    {
        // Double-precision central differences, with class weights and an ignored row.
        var rng = new Rng(2);
        var z = GradientCheck.RandomArray(rng, 4 * 5, 3);
        int[] y = { 2, SoftmaxCrossEntropy.IgnoreIndex, 0, 4 };
        double[] w = { 1, 2, 0.5, 1, 3 };
        var dz = new double[z.Length];
        SoftmaxCrossEntropy.Compute<double>(z, y, 5, dz, w, labelSmoothing: 0.1);
        double err = GradientCheck.RelativeError(z, dz, () => SoftmaxCrossEntropy.Compute<double>(z, y, 5, default, w, labelSmoothing: 0.1));
        GradientCheck.AssertClose("label-smoothed softmax CE", err);
        Assert.All(dz.AsSpan(5, 5).ToArray(), v => Assert.Equal(0, v));
        // The definition (PyTorch's label_smoothing, unweighted): mean over rows of −Σ_c q_c log softmax_c, q = 0.9·onehot + 0.1/5.
        double expected = 0;
        int rows = 0;
        for (int r = 0; r < 4; r++)
        {
            if (y[r] == SoftmaxCrossEntropy.IgnoreIndex) continue;
            rows++;
            double max = double.NegativeInfinity, sum = 0;
            for (int c = 0; c < 5; c++) max = System.Math.Max(max, z[r * 5 + c]);
            for (int c = 0; c < 5; c++) sum += System.Math.Exp(z[r * 5 + c] - max);
            for (int c = 0; c < 5; c++) expected -= ((c == y[r] ? 0.9 : 0) + 0.1 / 5) * (z[r * 5 + c] - max - System.Math.Log(sum));
        }
        Assert.Equal(expected / rows, SoftmaxCrossEntropy.Compute<double>(z, y, 5, default, labelSmoothing: 0.1), 12);
        Assert.Equal(SoftmaxCrossEntropy.Compute<double>(z, y, 5, default), SoftmaxCrossEntropy.Compute<double>(z, y, 5, default, labelSmoothing: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Compute<double>(z, y, 5, default, labelSmoothing: 1));
    }

    [Fact]
    public void SoftmaxCrossEntropyOverALargeVocabularyIsTheSameOnAnyThreadCount()
    {
        // 300 rows × 2,000 classes: large enough to be split between threads; ignored rows and class weights included.
        var rng = new Rng(4);
        var z = new float[300 * 2000];
        for (int i = 0; i < z.Length; i++) z[i] = (float)rng.NextUniform(-4, 4);
        var y = new int[300];
        for (int r = 0; r < y.Length; r++) y[r] = r % 17 == 0 ? SoftmaxCrossEntropy.IgnoreIndex : rng.NextInt(2000);
        var w = new float[2000];
        for (int c = 0; c < w.Length; c++) w[c] = 0.5f + c % 3;
        int saved = Parallelism.MaxThreads;
        try
        {
            (float Loss, float[] Grad) Run(int threads, double smoothing = 0)
            {
                Parallelism.MaxThreads = threads;
                var dz = new float[z.Length];
                return (SoftmaxCrossEntropy.Compute<float>(z, y, 2000, dz, w, smoothing), dz);
            }
            var one = Run(1);
            var oneSmoothed = Run(1, 0.1);
            foreach (int threads in new[] { 2, 3 })
            {
                var many = Run(threads);
                Assert.Equal(one.Loss, many.Loss);
                Assert.Equal(one.Grad, many.Grad);
                var manySmoothed = Run(threads, 0.1);
                Assert.Equal(oneSmoothed.Loss, manySmoothed.Loss);
                Assert.Equal(oneSmoothed.Grad, manySmoothed.Grad);
            }
            Parallelism.MaxThreads = 1;
            Assert.Equal(one.Loss, SoftmaxCrossEntropy.Compute<float>(z, y, 2000, default, w)); // without a gradient buffer
            // against a double-precision evaluation of the same definition
            double total = 0, weightSum = 0;
            for (int r = 0; r < y.Length; r++)
            {
                if (y[r] == SoftmaxCrossEntropy.IgnoreIndex) continue;
                double max = double.NegativeInfinity, sum = 0;
                for (int c = 0; c < 2000; c++) max = System.Math.Max(max, z[r * 2000 + c]);
                for (int c = 0; c < 2000; c++) sum += System.Math.Exp(z[r * 2000 + c] - max);
                total += w[y[r]] * (System.Math.Log(sum) + max - z[r * 2000 + y[r]]);
                weightSum += w[y[r]];
            }
            Assert.Equal(total / weightSum, one.Loss, 4);
        }
        finally { Parallelism.MaxThreads = saved; }
    }

    [Fact]
    public void SoftmaxCrossEntropyMatchesClosedForm()
    {
        // Uniform logits over 4 classes: loss = ln 4.
        var z = new float[8];
        Assert.Equal(MathF.Log(4), SoftmaxCrossEntropy.Compute<float>(z, new[] { 1, 3 }, 4, default), 6);
        // Huge logits stay finite.
        var big = new float[] { 1e30f, -1e30f };
        Assert.Equal(0f, SoftmaxCrossEntropy.Compute<float>(big, new[] { 0 }, 2, default));
    }

    [Fact]
    public void SigmoidBinaryCrossEntropyGradientWithPositiveWeight()
    {
        var rng = new Rng(2);
        var z = GradientCheck.RandomArray(rng, 7, 4);
        double[] y = { 1, 0, 1, 1, 0, 0.25, 1 };
        byte[] mask = { 1, 1, 0, 1, 1, 1, 1 };
        var dz = new double[7];
        SigmoidBinaryCrossEntropy.Compute<double>(z, y, dz, 2.5, mask);
        GradientCheck.AssertClose("BCE", GradientCheck.RelativeError(z, dz, () => SigmoidBinaryCrossEntropy.Compute<double>(z, y, default, 2.5, mask)));
        // Large logits: no overflow, loss ~ |z| for the wrong side.
        Assert.Equal(100.0, SigmoidBinaryCrossEntropy.Compute<double>(new[] { -100.0 }, new[] { 1.0 }, default, 1.0), 6);
    }

    [Fact]
    public void MeanSquaredErrorGradient()
    {
        var rng = new Rng(3);
        var p = GradientCheck.RandomArray(rng, 6);
        var t = GradientCheck.RandomArray(rng, 6);
        var dp = new double[6];
        MeanSquaredError.Compute<double>(p, t, dp);
        GradientCheck.AssertClose("MSE", GradientCheck.RelativeError(p, dp, () => MeanSquaredError.Compute<double>(p, t, default)));
    }

    [Fact]
    public void BadTargetsAreRejectedWithTheirPosition()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Compute<float>(new float[6], new[] { 0, 3 }, 3, default));
        Assert.Contains("row 1", ex.Message);
        var ex2 = Assert.Throws<ArgumentException>(() => MeanSquaredError.Compute<float>(new float[2], new[] { 1f, float.NaN }, default));
        Assert.Contains("Target 1", ex2.Message);
    }
}
