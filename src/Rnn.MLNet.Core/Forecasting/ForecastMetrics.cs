using System;
using System.Collections.Generic;

namespace Rnn.MLNet.Forecasting;

/// <summary>
/// Forecast accuracy measures with the M4 competition's definitions (Makridakis et al. 2020; the organisers'
/// <c>Benchmarks and Evaluation.R</c>). <c>x</c> is the training series (n values), <c>y</c> the actual future values and
/// <c>f</c> the forecasts (h values each), <c>m</c> the seasonal period used by MASE's in-sample scale.
/// </summary>
public static class ForecastMetrics
{
    /// <summary>sMAPE in per cent: (200 / h) · Σ |y − f| / (|y| + |f|); a term with y = f = 0 counts as 0.</summary>
    public static double Smape(ReadOnlySpan<double> actual, ReadOnlySpan<double> forecast)
    {
        CheckSameLength(actual, forecast);
        double sum = 0;
        for (int t = 0; t < actual.Length; t++)
        {
            double den = System.Math.Abs(actual[t]) + System.Math.Abs(forecast[t]);
            if (den > 0) sum += System.Math.Abs(actual[t] - forecast[t]) / den;
        }
        return 200.0 * sum / actual.Length;
    }

    /// <summary>
    /// The MASE denominator: (1 / (n − m)) · Σ_{t=m+1..n} |x_t − x_{t−m}|, the in-sample mean absolute error of the seasonal
    /// naive forecast (m = 1: the naive forecast). Uses m = 1 when the series is not longer than m; 0 for a constant series.
    /// </summary>
    public static double MaseScale(ReadOnlySpan<double> train, int m)
    {
        if (train.Length < 2) throw new ArgumentException($"MASE needs at least 2 training values; got {train.Length}.", nameof(train));
        if (m < 1) throw new ArgumentOutOfRangeException(nameof(m), m, "The seasonal period must be at least 1.");
        if (train.Length <= m) m = 1;
        double sum = 0;
        for (int t = m; t < train.Length; t++) sum += System.Math.Abs(train[t] - train[t - m]);
        return sum / (train.Length - m);
    }

    /// <summary>MASE: mean absolute forecast error divided by <see cref="MaseScale"/>; infinity when the scale is 0 and an error is not.</summary>
    public static double Mase(ReadOnlySpan<double> train, ReadOnlySpan<double> actual, ReadOnlySpan<double> forecast, int m)
    {
        double mae = Mae(actual, forecast), scale = MaseScale(train, m);
        return scale > 0 ? mae / scale : mae == 0 ? 0 : double.PositiveInfinity;
    }

    /// <summary>Mean absolute error.</summary>
    public static double Mae(ReadOnlySpan<double> actual, ReadOnlySpan<double> forecast)
    {
        CheckSameLength(actual, forecast);
        double sum = 0;
        for (int t = 0; t < actual.Length; t++) sum += System.Math.Abs(actual[t] - forecast[t]);
        return sum / actual.Length;
    }

    /// <summary>Root mean squared error.</summary>
    public static double Rmse(ReadOnlySpan<double> actual, ReadOnlySpan<double> forecast)
    {
        CheckSameLength(actual, forecast);
        double sum = 0;
        for (int t = 0; t < actual.Length; t++) sum += (actual[t] - forecast[t]) * (actual[t] - forecast[t]);
        return System.Math.Sqrt(sum / actual.Length);
    }

    /// <summary>Interval coverage: the fraction of actual values with lower ≤ y ≤ upper.</summary>
    public static double Coverage(ReadOnlySpan<double> actual, ReadOnlySpan<double> lower, ReadOnlySpan<double> upper)
    {
        CheckSameLength(actual, lower);
        CheckSameLength(actual, upper);
        int inside = 0;
        for (int t = 0; t < actual.Length; t++) if (actual[t] >= lower[t] && actual[t] <= upper[t]) inside++;
        return (double)inside / actual.Length;
    }

    /// <summary>
    /// OWA = ½ · (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2), from sMAPE and MASE already averaged over all series (M4's
    /// definition: the averages are divided, not the per-series values).
    /// </summary>
    public static double Owa(double smape, double mase, double naive2Smape, double naive2Mase)
    {
        if (!(naive2Smape > 0) || !(naive2Mase > 0)) throw new ArgumentException($"OWA needs positive Naive2 scores; got sMAPE {naive2Smape}, MASE {naive2Mase}.");
        return 0.5 * (smape / naive2Smape + mase / naive2Mase);
    }

    /// <summary>Mean sMAPE and mean MASE over many series (each series weighs the same, as in M4).</summary>
    public static (double Smape, double Mase) Average(IReadOnlyList<double[]> train, IReadOnlyList<double[]> actual, IReadOnlyList<double[]> forecast, int m)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(forecast);
        if (train.Count != actual.Count || train.Count != forecast.Count || train.Count == 0)
            throw new ArgumentException($"Need the same positive number of training series, actuals and forecasts; got {train.Count}, {actual.Count}, {forecast.Count}.");
        double s = 0, q = 0;
        for (int i = 0; i < train.Count; i++)
        {
            s += Smape(actual[i], forecast[i]);
            q += Mase(train[i], actual[i], forecast[i], m);
        }
        return (s / train.Count, q / train.Count);
    }

    private static void CheckSameLength(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"The series have different lengths ({a.Length} and {b.Length}).");
        if (a.Length == 0) throw new ArgumentException("The series are empty.");
    }
}
