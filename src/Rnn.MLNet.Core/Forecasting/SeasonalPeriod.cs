using System;

namespace Rnn.MLNet.Forecasting;

/// <summary>Finds the seasonal period of a series from its autocorrelation function.</summary>
public static class SeasonalPeriod
{
    /// <summary>
    /// The lag in 2..<paramref name="maxPeriod"/> (at most n / 2.5, so two full cycles and some are seen) whose
    /// autocorrelation of the linearly detrended series is a clear peak: a local maximum above 0.2 that rises at least 0.1
    /// above the lowest autocorrelation at a shorter lag. Of the peaks, the shortest whose height is within 0.1 of the
    /// highest wins (a daily cycle over a weekly one that repeats it). 1 when there is no such peak (no seasonality).
    /// </summary>
    public static int Detect(ReadOnlySpan<double> values, int maxPeriod = 400)
    {
        int n = values.Length;
        int maxLag = System.Math.Min(maxPeriod, (int)(n / 2.5));
        if (maxLag < 2) return 1;
        double[] x = Detrended(values);
        double den = 0;
        foreach (double v in x) den += v * v;
        if (!(den > 0)) return 1;
        var r = new double[maxLag + 2];
        for (int k = 1; k <= System.Math.Min(maxLag + 1, n - 1); k++)
        {
            double num = 0;
            for (int t = 0; t + k < n; t++) num += x[t] * x[t + k];
            r[k] = num / den;
        }
        double lowest = r[1], best = double.NegativeInfinity;
        var peaks = new System.Collections.Generic.List<(int Lag, double R)>();
        for (int k = 2; k <= maxLag; k++)
        {
            lowest = System.Math.Min(lowest, r[k - 1]);
            bool localMax = r[k] > r[k - 1] && r[k] >= r[k + 1];
            if (localMax && r[k] > 0.2 && r[k] - lowest >= 0.1)
            {
                peaks.Add((k, r[k]));
                best = System.Math.Max(best, r[k]);
            }
        }
        foreach (var (lag, height) in peaks)
            if (height >= best - 0.1) return lag;
        return 1;
    }

    private static double[] Detrended(ReadOnlySpan<double> y)
    {
        int n = y.Length;
        double mt = (n - 1) / 2.0, my = 0;
        foreach (double v in y) my += v;
        my /= n;
        double sxy = 0, sxx = 0;
        for (int t = 0; t < n; t++) { sxy += (t - mt) * (y[t] - my); sxx += (t - mt) * (t - mt); }
        double slope = sxx > 0 ? sxy / sxx : 0;
        var x = new double[n];
        for (int t = 0; t < n; t++) x[t] = y[t] - my - slope * (t - mt);
        return x;
    }
}
