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
