using System;
using System.Linq;

namespace Rnn.MLNet.Forecasting;

/// <summary>
/// The M4 benchmarks every forecaster is judged against: Naive (last value), seasonal naive (last season repeated) and
/// Naive2 (Naive on the seasonally adjusted series, reseasonalised), with the organisers' seasonality test and R's
/// classical multiplicative decomposition (matching <c>baselines.py</c> in the M4 data folder).
/// </summary>
public static class Baselines
{
    /// <summary>The last value repeated <paramref name="horizon"/> times.</summary>
    public static double[] Naive(ReadOnlySpan<double> train, int horizon)
    {
        CheckArgs(train, horizon);
        var f = new double[horizon];
        Array.Fill(f, train[^1]);
        return f;
    }

    /// <summary>The last <paramref name="period"/> values repeated (Naive when the period is 1 or the series shorter than it).</summary>
    public static double[] SeasonalNaive(ReadOnlySpan<double> train, int horizon, int period)
    {
        CheckArgs(train, horizon);
        if (period < 1 || period > train.Length) return Naive(train, horizon);
        var f = new double[horizon];
        for (int k = 0; k < horizon; k++) f[k] = train[train.Length - period + k % period];
        return f;
    }

    /// <summary>
    /// Naive2: if <see cref="IsSeasonal"/>, divide by the multiplicative seasonal indices, repeat the last adjusted value and
    /// multiply the indices back; otherwise Naive.
    /// </summary>
    public static double[] Naive2(ReadOnlySpan<double> train, int horizon, int period)
    {
        CheckArgs(train, horizon);
        if (period <= 1 || !IsSeasonal(train, period)) return Naive(train, horizon);
        double[] index = SeasonalIndices(train, period);   // [m], phase 0 = first observation
        int n = train.Length;
        double last = train[n - 1] / index[(n - 1) % period];
        var f = new double[horizon];
        for (int k = 0; k < horizon; k++) f[k] = last * index[(n + k) % period];
        return f;
    }

    /// <summary>
    /// M4's 90% autocorrelation test at lag m: n ≥ 3m, m ≤ ⌊10·log10 n⌋ (R acf's lag.max) and
    /// |r_m| &gt; 1.645 · √((1 + 2 Σ_{k&lt;m} r_k²) / n).
    /// </summary>
    public static bool IsSeasonal(ReadOnlySpan<double> x, int m)
    {
        int n = x.Length;
        if (m <= 1 || n < 3 * m || m > (int)System.Math.Floor(10 * System.Math.Log10(n))) return false;
        double mean = 0;
        foreach (double v in x) mean += v;
        mean /= n;
        double den = 0;
        foreach (double v in x) den += (v - mean) * (v - mean);
        if (!(den > 0)) return false;
        double sumSquares = 0, rm = 0;
        for (int k = 1; k <= m; k++)
        {
            double num = 0;
            for (int t = 0; t + k < n; t++) num += (x[t] - mean) * (x[t + k] - mean);
            double r = num / den;
            if (k < m) sumSquares += r * r; else rm = r;
        }
        return System.Math.Abs(rm) > 1.645 / System.Math.Sqrt(n) * System.Math.Sqrt(1 + 2 * sumSquares);
    }

    /// <summary>
    /// R <c>decompose(type = "multiplicative")</c>'s seasonal figure: a centred moving average (2×m for even m) as trend,
    /// the mean ratio x / trend per phase, normalised to mean 1. Index 0 is the phase of the first observation.
    /// </summary>
    public static double[] SeasonalIndices(ReadOnlySpan<double> x, int m)
    {
        int n = x.Length;
        if (m < 2 || n < 2 * m) throw new ArgumentException($"Seasonal indices need a period ≥ 2 and at least two periods of values; got m = {m}, n = {n}.");
        double[] w = m % 2 == 0 ? new double[m + 1] : new double[m];
        for (int i = 0; i < w.Length; i++) w[i] = 1.0 / m;
        if (m % 2 == 0) { w[0] = 0.5 / m; w[m] = 0.5 / m; }
        int half = w.Length / 2;
        var sum = new double[m];
        var count = new int[m];
        for (int t = half; t < n - half; t++)
        {
            double trend = 0;
            for (int j = 0; j < w.Length; j++) trend += w[j] * x[t - half + j];
            double ratio = x[t] / trend;
            if (double.IsFinite(ratio)) { sum[t % m] += ratio; count[t % m]++; }
        }
        var figure = new double[m];
        for (int p = 0; p < m; p++) figure[p] = count[p] > 0 ? sum[p] / count[p] : 1;
        double mean = figure.Average();
        for (int p = 0; p < m; p++) figure[p] /= mean;
        return figure;
    }

    private static void CheckArgs(ReadOnlySpan<double> train, int horizon)
    {
        if (train.Length == 0) throw new ArgumentException("The training series is empty.", nameof(train));
        if (horizon < 1) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "The horizon must be at least 1.");
    }
}
