using System;
using System.Collections.Generic;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>Central finite differences in double precision against an analytic gradient.</summary>
internal static class GradientCheck
{
    public const double Epsilon = 1e-6;

    /// <summary>
    /// For each index i of <paramref name="values"/>, (f(x + ε e_i) − f(x − ε e_i)) / 2ε against <paramref name="analytic"/>[i].
    /// Returns max |a − n| / max(max |n|, 1e-8) over the tensor. <paramref name="changed"/> is called after each write
    /// (for weights: the store's MarkChanged, so that inference does not reuse copies packed from the old values).
    /// </summary>
    public static double RelativeError(Span<double> values, ReadOnlySpan<double> analytic, Func<double> f, Action? changed = null)
    {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double keep = values[i];
            values[i] = keep + Epsilon;
            changed?.Invoke();
            double plus = f();
            values[i] = keep - Epsilon;
            changed?.Invoke();
            double minus = f();
            values[i] = keep;
            changed?.Invoke();
            double numeric = (plus - minus) / (2 * Epsilon);
            maxDiff = System.Math.Max(maxDiff, System.Math.Abs(numeric - analytic[i]));
            maxRef = System.Math.Max(maxRef, System.Math.Abs(numeric));
        }
        LastMaxAbs = maxRef;
        LastMaxDiff = maxDiff;
        return maxDiff / System.Math.Max(maxRef, 1e-8);
    }

    /// <summary>Largest |numeric gradient| and largest |analytic − numeric| of the last <see cref="RelativeError"/> call.</summary>
    [ThreadStatic] public static double LastMaxAbs, LastMaxDiff;

    /// <summary>
    /// Asserts the last <see cref="RelativeError"/> result: relative error ≤ 1e-6, or, for a tensor whose gradients are all
    /// tiny (deep in a stack), an absolute difference at the finite-difference noise floor (≤ 1e-9 for ε = 1e-6 and an O(1)
    /// objective: round-off 1e-16 / 1e-6 ≈ 1e-10) with relative error still ≤ 1e-4.
    /// </summary>
    public static void AssertGradient(string what, double relativeError) =>
        Assert.True(relativeError <= 1e-6 || (LastMaxDiff <= 1e-9 && relativeError <= 1e-4),
            $"{what}: relative error {relativeError:e3} (max |g| {LastMaxAbs:e2}, max |analytic − numeric| {LastMaxDiff:e2})");

    public static void AssertClose(string what, double relativeError, double tolerance = 1e-6) =>
        Assert.True(relativeError <= tolerance, $"{what}: relative error {relativeError:e3} > {tolerance:e0}");

    public static double[] RandomArray(Rng rng, int n, double scale = 1)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = scale * rng.NextUniform(-1, 1);
        return a;
    }
}
