using System;
using System.Collections.Generic;
using System.Globalization;

namespace Rnn.MLNet.Forecasting;

// Shape key: L = input length (values before the origin), C = values per recurrent step (a season, or a part of a long
// one), S = L / C past steps, U = future steps (covariates only), K = covariates, O = output steps, Q = quantiles.

/// <summary>
/// How a window of a series becomes one network input and target, the same in training and forecasting:
/// with v = the (log-)values and e the forecast origin (first future index),
/// <list type="bullet">
/// <item>baseline b_k = v[e − P + (k mod P)], the seasonal naive forecast (P = 1: the last value);</item>
/// <item>location m = mean of the last season v[e−P..e−1]; scale d = mean |v_t − v_{t−P}| over the window (lag 1 when
/// the window is shorter than 2P), floored so a constant window does not divide by zero;</item>
/// <item>step s of the input holds C scaled values (v − m) / d (then C·K standardized covariates and, with covariates, a
/// future flag); future steps (only with covariates) hold zeros, the future's covariates and the flag 1;</item>
/// <item>the target of output k is (v[e+k] − b_k) / d: the network learns a correction to the seasonal naive forecast in
/// units of the window's own seasonal variation (per-window normalization, as global models need for many series).</item>
/// </list>
/// Positions before the series start are filled by repeating its first season (short series still give windows).
/// </summary>
internal sealed class WindowLayout
{
    public int Period { get; }
    public int Chunk { get; }        // C
    public int PastSteps { get; }    // S
    public int InputLength => PastSteps * Chunk;
    public int OutputSteps { get; }  // O
    public int Covariates { get; }   // K
    public int FutureSteps => Covariates == 0 ? 0 : (OutputSteps + Chunk - 1) / Chunk; // U
    public int Steps => PastSteps + FutureSteps;
    public int FeatureSize => Chunk * (1 + Covariates) + (Covariates > 0 ? 1 : 0);
    public bool Log { get; }
    public double[] CovariateMean { get; }
    public double[] CovariateScale { get; }

    private const double InputClip = 30;

    /// <summary>Seasons averaged by the baseline: 1 = seasonal naive, K = mean of the last K seasons at the same phase.</summary>
    public int BaselineSeasons { get; }

    public WindowLayout(int period, int chunk, int pastSteps, int outputSteps, bool log, double[] covariateMean, double[] covariateScale, int baselineSeasons = 1)
    {
        if (baselineSeasons < 1) throw new ArgumentException($"Invalid baseline: {baselineSeasons} seasons.");
        BaselineSeasons = baselineSeasons;
        if (period < 1 || chunk < 1 || pastSteps < 1 || outputSteps < 1) throw new ArgumentException($"Invalid window layout: period {period}, chunk {chunk}, steps {pastSteps}, outputs {outputSteps}.");
        if (covariateMean.Length != covariateScale.Length) throw new ArgumentException("Covariate mean and scale differ in length.");
        Period = period; Chunk = chunk; PastSteps = pastSteps; OutputSteps = outputSteps; Log = log;
        Covariates = covariateMean.Length; CovariateMean = covariateMean; CovariateScale = covariateScale;
    }

    /// <summary>The same layout reading <paramref name="pastSteps"/> steps before the origin.</summary>
    public WindowLayout WithPastSteps(int pastSteps) => new(Period, Chunk, pastSteps, OutputSteps, Log, CovariateMean, CovariateScale, BaselineSeasons);

    /// <summary>The same layout with another baseline.</summary>
    public WindowLayout WithBaselineSeasons(int seasons) => new(Period, Chunk, PastSteps, OutputSteps, Log, CovariateMean, CovariateScale, seasons);

    /// <summary>
    /// The baseline for step k after <paramref name="origin"/>: the mean over the last K seasons of the value at step k's
    /// phase (K = 1: seasonal naive; P = 1: the mean of the last K values). Positions before the start are padded as in Encode.
    /// </summary>
    public double Baseline(ReadOnlySpan<double> v, int origin, int k)
    {
        int p = System.Math.Min(Period, origin);
        double sum = 0;
        for (int j = 0; j < BaselineSeasons; j++) sum += At(v, origin - p + k % p - j * p, origin);
        return sum / BaselineSeasons;
    }

    /// <summary>Values per step for a seasonal period: the whole season up to 64 values, else an even part of it.</summary>
    public static int ChunkFor(int period) => period <= 64 ? period : (period + (period + 63) / 64 - 1) / ((period + 63) / 64);

    public double ToModel(double v) => Log ? System.Math.Log(v) : v;

    public double FromModel(double v) => Log ? System.Math.Exp(System.Math.Clamp(v, -700, 700)) : v;

    /// <summary>v[t] with positions before the start filled from the first season (t &lt; e).</summary>
    private double At(ReadOnlySpan<double> v, int t, int origin)
    {
        if (t >= 0) return v[t];
        int p = System.Math.Min(Period, origin);
        t %= p;
        return v[t < 0 ? t + p : t];
    }

    /// <summary>
    /// Writes the input features of the window ending before <paramref name="origin"/> into <paramref name="features"/>
    /// [Steps, FeatureSize] and the baseline [O] into <paramref name="baseline"/>; returns the scale d.
    /// <paramref name="v"/> are model-scale values (at least <paramref name="origin"/> of them).
    /// </summary>
    public double Encode(ReadOnlySpan<double> v, int origin, double[,]? covariates, Span<float> features, Span<double> baseline)
    {
        int p = System.Math.Min(Period, origin), L = InputLength;
        double location = 0;
        for (int t = origin - p; t < origin; t++) location += v[t];
        location /= p;
        int lag = L >= 2 * Period && origin > Period ? Period : 1;
        double scale = 0, level = 0;
        int count = 0;
        for (int t = System.Math.Max(origin - L + lag, lag); t < origin; t++) { scale += System.Math.Abs(v[t] - v[t - lag]); count++; }
        for (int t = origin - p; t < origin; t++) level += System.Math.Abs(v[t]);
        scale = count > 0 ? scale / count : 0;
        double floor = 1e-3 * (level / p) + 1e-8;
        if (!(scale > floor)) scale = floor;
        for (int k = 0; k < baseline.Length; k++) baseline[k] = Baseline(v, origin, k);

        features.Clear();
        int f = FeatureSize, c = Chunk, kc = Covariates;
        for (int s = 0; s < PastSteps; s++)
        {
            Span<float> row = features.Slice(s * f, f);
            for (int j = 0; j < c; j++)
            {
                int t = origin - L + s * c + j;
                row[j] = (float)System.Math.Clamp((At(v, t, origin) - location) / scale, -InputClip, InputClip);
                for (int k = 0; k < kc; k++) row[c + j * kc + k] = Covariate(covariates, System.Math.Max(t, 0), k);
            }
        }
        for (int u = 0; u < FutureSteps; u++)
        {
            Span<float> row = features.Slice((PastSteps + u) * f, f);
            for (int j = 0; j < c; j++)
            {
                int t = origin + u * c + j;
                for (int k = 0; k < kc; k++) row[c + j * kc + k] = t < origin + OutputSteps ? Covariate(covariates, t, k) : 0f;
            }
            row[f - 1] = 1f;
        }
        return scale;
    }

    private float Covariate(double[,]? covariates, int t, int k)
    {
        if (covariates is null) throw new ArgumentException("The model was trained with covariates; give them for every series (and for the future steps when forecasting).");
        if (t >= covariates.GetLength(0)) throw new ArgumentException($"Covariates are needed up to step {t} (the forecast's future); the series has them for {covariates.GetLength(0)} steps.");
        return (float)System.Math.Clamp((covariates[t, k] - CovariateMean[k]) / CovariateScale[k], -InputClip, InputClip);
    }

    public void Save(IDictionary<string, string> properties)
    {
        var inv = CultureInfo.InvariantCulture;
        properties["forecast.period"] = Period.ToString(inv);
        properties["forecast.chunk"] = Chunk.ToString(inv);
        properties["forecast.pastSteps"] = PastSteps.ToString(inv);
        properties["forecast.outputSteps"] = OutputSteps.ToString(inv);
        properties["forecast.log"] = Log ? "1" : "0";
        properties["forecast.baselineSeasons"] = BaselineSeasons.ToString(inv);
        properties["forecast.covariateMean"] = string.Join(" ", Array.ConvertAll(CovariateMean, x => x.ToString("R", inv)));
        properties["forecast.covariateScale"] = string.Join(" ", Array.ConvertAll(CovariateScale, x => x.ToString("R", inv)));
    }

    public static WindowLayout Load(Func<string, string> property)
    {
        var inv = CultureInfo.InvariantCulture;
        int Int(string key) => int.Parse(property(key), NumberStyles.Integer, inv);
        double[] Doubles(string key)
        {
            string text = property(key);
            return text.Length == 0 ? Array.Empty<double>() : Array.ConvertAll(text.Split(' '), x => double.Parse(x, NumberStyles.Float, inv));
        }
        return new WindowLayout(Int("forecast.period"), Int("forecast.chunk"), Int("forecast.pastSteps"), Int("forecast.outputSteps"),
            property("forecast.log") == "1", Doubles("forecast.covariateMean"), Doubles("forecast.covariateScale"), Int("forecast.baselineSeasons"));
    }
}
