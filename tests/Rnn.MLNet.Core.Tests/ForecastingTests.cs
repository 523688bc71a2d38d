using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Rnn.MLNet.Forecasting;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>Forecast metrics and baselines against hand-computed values and M4's published figures; the forecaster on small generated series.</summary>
public class ForecastingTests
{
    [Fact]
    public void MetricsMatchHandComputedValues()
    {
        double[] train = { 1, 2, 3, 5, 4, 6 }, actual = { 10, 0, -2 }, forecast = { 8, 0, 2 };
        // sMAPE: (200/3)·(2/18 + 0 (both zero) + 4/4) = 74.074…
        Assert.Equal(200.0 / 3 * (2.0 / 18 + 1), ForecastMetrics.Smape(actual, forecast), 12);
        // MASE with m = 2: scale = (|3−1| + |5−2| + |4−3| + |6−5|) / 4 = 7/4; MAE = (2 + 0 + 4)/3 = 2 → 8/7
        Assert.Equal(7.0 / 4, ForecastMetrics.MaseScale(train, 2), 12);
        Assert.Equal(2 / (7.0 / 4), ForecastMetrics.Mase(train, actual, forecast, 2), 12);
        Assert.Equal(2, ForecastMetrics.Mae(actual, forecast), 12);
        Assert.Equal(System.Math.Sqrt((4 + 0 + 16) / 3.0), ForecastMetrics.Rmse(actual, forecast), 12);
        Assert.Equal(2.0 / 3, ForecastMetrics.Coverage(actual, new double[] { 9, 0, 0 }, new double[] { 11, 1, 1 }), 12); // −2 is outside
        // OWA: ½·(sMAPE/sMAPE_N2 + MASE/MASE_N2); the README's sNaive example 0.5·(13.912/18.383 + 1.193/2.395) = 0.62745
        double owa = ForecastMetrics.Owa(13.912, 1.193, 18.383, 2.395);
        Assert.Equal(0.5 * (13.912 / 18.383 + 1.193 / 2.395), owa, 12);
        Assert.Equal(0.627, System.Math.Round(owa, 3));
        Assert.Throws<ArgumentException>(() => ForecastMetrics.Smape(actual, new double[] { 1 }));
    }

    [Fact]
    public void BaselinesMatchHandComputedValues()
    {
        double[] x = { 1, 2, 3, 4, 5 };
        Assert.Equal(new double[] { 5, 5, 5 }, Baselines.Naive(x, 3));
        Assert.Equal(new double[] { 4, 5, 4 }, Baselines.SeasonalNaive(x, 3, 2));
        // decompose(m = 4) of 8 values: centred 2×4 moving average at t = 2..5, ratios x/trend, mean per phase, normalised.
        double[] y = { 10, 20, 30, 20, 12, 22, 34, 24 };
        var trend = new double[8];
        for (int t = 2; t < 6; t++) trend[t] = (0.5 * y[t - 2] + y[t - 1] + y[t] + y[t + 1] + 0.5 * y[t + 2]) / 4;
        double[] fig = { y[4] / trend[4], y[5] / trend[5], y[2] / trend[2], y[3] / trend[3] };
        double mean = fig.Average();
        var expected = fig.Select(f => f / mean).ToArray();
        var got = Baselines.SeasonalIndices(y, 4);
        for (int p = 0; p < 4; p++) Assert.Equal(expected[p], got[p], 12);
    }

    [Fact]
    public void NaiveBaselinesReproduceTheOfficialM4HourlyScores()
    {
        string dir = Path.Combine(Repo.Root, "..", "shared", "data", "m4-hourly");
        string trainPath = Path.Combine(dir, "Hourly-train.csv"), testPath = Path.Combine(dir, "Hourly-test.csv");
        if (!File.Exists(trainPath) || !File.Exists(testPath)) return; // the data set is not on this machine
        static List<double[]> Read(string path) => File.ReadLines(path).Skip(1).Select(l => l.Split(',').Skip(1)
            .Select(f => f.Trim('"')).Where(f => f.Length > 0).Select(f => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToList();
        var train = Read(trainPath);
        var test = Read(testPath);
        Assert.Equal(414, train.Count);
        var naive2 = ForecastMetrics.Average(train, test, train.Select(s => Baselines.Naive2(s, 48, 24)).ToList(), 24);
        var snaive = ForecastMetrics.Average(train, test, train.Select(s => Baselines.SeasonalNaive(s, 48, 24)).ToList(), 24);
        // Official (and baselines.py): Naive2 18.383 / 2.395, sNaive 13.912 / 1.193, OWA 0.627 from the rounded values.
        Assert.Equal(18.383, naive2.Smape, 3);
        Assert.Equal(2.395, naive2.Mase, 3);
        Assert.Equal(13.912, snaive.Smape, 3);
        Assert.Equal(1.193, snaive.Mase, 3);
        Assert.Equal(413, train.Count(s => Baselines.IsSeasonal(s, 24)));
    }

    [Fact]
    public void PinballLossValueAndGradient()
    {
        // y = 1, predictions (0.5 at τ=0.5, 2 at τ=0.1, 0 at τ=0.9): ρ = 0.25, 0.9, 0.9 → mean 2.05/3
        double[] p = { 0.5, 2, 0 }, y = { 1 };
        double[] taus = { 0.5, 0.1, 0.9 };
        var d = new double[3];
        Assert.Equal(2.05 / 3, PinballLoss.Compute<double>(p, y, taus, d), 12);
        var rng = new Rng(3);
        var preds = GradientCheck.RandomArray(rng, 5 * 3, 2);
        var targets = GradientCheck.RandomArray(rng, 5, 2);
        var grad = new double[preds.Length];
        PinballLoss.Compute<double>(preds, targets, taus, grad);
        GradientCheck.AssertClose("pinball", GradientCheck.RelativeError(preds, grad, () => PinballLoss.Compute<double>(preds, targets, taus, default)));
    }

    [Fact]
    public void SeasonalPeriodIsDetected()
    {
        var rng = new Rng(5);
        double[] Series(int n, Func<int, double> f) => Enumerable.Range(0, n).Select(t => f(t) + 0.3 * rng.NextNormal()).ToArray();
        Assert.Equal(12, SeasonalPeriod.Detect(Series(144, t => 100 + t + 20 * System.Math.Sin(2 * System.Math.PI * t / 12))));
        Assert.Equal(24, SeasonalPeriod.Detect(Series(24 * 30, t => 5 * System.Math.Sin(2 * System.Math.PI * t / 24) + 2 * System.Math.Cos(4 * System.Math.PI * t / 24))));
        Assert.Equal(1, SeasonalPeriod.Detect(Series(300, t => 0)));
    }

    /// <summary>Series with zeros and negative values, a period of 8, levels far apart: one global model for all of them.</summary>
    private static List<TimeSeries> Generated(int count, int length, ulong seed)
    {
        var rng = new Rng(seed);
        var result = new List<TimeSeries>();
        for (int i = 0; i < count; i++)
        {
            double level = i % 3 == 0 ? 0 : i % 3 == 1 ? -50 : 1000, amp = 1 + i, slope = 0.02 * (i - count / 2.0);
            var v = Enumerable.Range(0, length).Select(t => level + slope * t + amp * System.Math.Sin(2 * System.Math.PI * t / 8 + i) + 0.2 * amp * rng.NextNormal()).ToArray();
            if (i % 3 == 0) for (int t = 0; t < length; t += 5) v[t] = 0; // exact zeros
            result.Add(new TimeSeries($"s{i}", v));
        }
        return result;
    }

    private static RnnForecasterOptions Small(int horizon) => new()
    {
        Horizon = horizon, SeasonalPeriod = 8, HiddenSize = 16, MaxEpochs = 8, Patience = 3, EnsembleSize = 2, BatchSize = 32, Seed = 3,
    };

    [Fact]
    public void GlobalModelOnManySeriesBeatsNaiveAndSurvivesTheModelFile()
    {
        var all = Generated(6, 120, 11);
        var train = all.Select(s => new TimeSeries(s.Id, s.Values[..^8])).ToList();
        var model = RnnForecaster.Fit(train, Small(8));
        Assert.Equal(8, model.SeasonalPeriod);
        Assert.False(model.LogScale); // zeros and negatives: raw values
        var forecasts = model.Forecast(train, 8);
        double ours = 0, naive = 0;
        for (int i = 0; i < train.Count; i++)
        {
            var actual = all[i].Values[^8..];
            ours += ForecastMetrics.Mase(train[i].Values, actual, forecasts[i].Point, 8);
            naive += ForecastMetrics.Mase(train[i].Values, actual, Baselines.Naive(train[i].Values, 8), 8);
            for (int t = 0; t < 8; t++) Assert.True(forecasts[i].Lower[t] <= forecasts[i].Point[t] && forecasts[i].Point[t] <= forecasts[i].Upper[t]);
        }
        Assert.True(ours < naive, $"MASE sum {ours:F3} vs naive {naive:F3}");

        var twice = model.Forecast(train, 8);
        for (int i = 0; i < train.Count; i++) Assert.Equal(forecasts[i].Point, twice[i].Point);
        var loaded = RnnForecastModel.FromModelFile(Serialization.ModelFile.Read(model.ToModelFile().ToBytes()));
        var again = loaded.Forecast(train, 8);
        for (int i = 0; i < train.Count; i++) Assert.Equal(forecasts[i].Point, again[i].Point);
        var byId = loaded.Forecast("s2", 8); // by id, from the kept tail; alone in its batch, so float rounding may differ
        for (int t = 0; t < 8; t++) Assert.Equal(forecasts[2].Upper[t], byId.Upper[t], 1e-6 * System.Math.Abs(forecasts[2].Upper[t]) + 1e-9);
        Assert.Throws<KeyNotFoundException>(() => loaded.Forecast("nope", 8));
    }

    [Fact]
    public void RecursiveStrategyForecastsBeyondOneSeason()
    {
        var train = Generated(3, 60, 12);
        var o = Small(20);
        o.Strategy = ForecastStrategy.Recursive;
        o.EnsembleSize = 1;
        var model = RnnForecaster.Fit(train, o);
        Assert.Equal(8, model.OutputSteps);
        var f = model.Forecast(train[1], 20);
        Assert.Equal(20, f.Point.Length);
        Assert.All(f.Point, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void KnownFutureCovariatesAreUsed()
    {
        // A value that is 10 on the steps a covariate flags (irregularly) and 0 elsewhere: only the covariate tells when.
        var rng = new Rng(21);
        int n = 400, h = 6;
        var flags = Enumerable.Range(0, n).Select(_ => rng.NextDouble() < 0.2 ? 1.0 : 0.0).ToArray();
        var cov = new double[n, 1];
        for (int t = 0; t < n; t++) cov[t, 0] = flags[t];
        var values = flags.Select(f => 10 * f + 0.1 * rng.NextNormal()).ToArray();
        var train = new TimeSeries("x", values[..^h], cov);
        var o = Small(h);
        o.SeasonalPeriod = 1;
        o.MaxEpochs = 20;
        var model = RnnForecaster.Fit(new[] { train }, o);
        Assert.Equal(1, model.CovariateCount);
        var f = model.Forecast(train, h).Point;
        double mae = ForecastMetrics.Mae(values.AsSpan(n - h), f);
        Assert.True(mae < 2.5, $"MAE {mae:F3} with the flags known (a flag-blind forecast errs by ~3.2)");
        Assert.Throws<InvalidOperationException>(() => model.Forecast("x", h));
    }

    [Fact]
    public void BadSeriesAreRejectedWithTheirNameAndPosition()
    {
        var e = Assert.Throws<ArgumentException>(() => new TimeSeries("abc", new[] { 1.0, double.NaN }));
        Assert.Contains("'abc'", e.Message);
        Assert.Contains("value 1", e.Message);
        var o = Small(4);
        o.Transform = ValueTransform.Log;
        var e2 = Assert.Throws<ArgumentException>(() => RnnForecaster.Fit(new[] { new TimeSeries("z", new[] { 1.0, 2, 0, 3, 4, 5, 6, 7, 8, 9 }) }, o));
        Assert.Contains("'z'", e2.Message);
        Assert.Throws<ArgumentException>(() => RnnForecaster.Fit(new[] { new TimeSeries("short", new[] { 1.0 }) }, Small(4)));
    }
}

internal static class Repo
{
    /// <summary>The folder holding Rnn.MLNet.sln (found upwards from the test binaries).</summary>
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rnn.MLNet.sln"))) dir = dir.Parent;
            return dir?.FullName ?? AppContext.BaseDirectory;
        }
    }
}
