using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Forecasting;
using Rnn.MLNet.Math;
using Xunit;

namespace Rnn.MLNet.Onnx.Tests;

/// <summary>
/// A direct forecaster exported as one graph: ONNX Runtime's forecast, lower and upper for a batch of history windows
/// equal <see cref="RnnForecastModel.Forecast(IReadOnlyList{TimeSeries}, int)"/> on the whole series (log and raw scale,
/// an even and an odd ensemble, the network's forecast and the baseline's).
/// </summary>
public class ForecasterExportTests
{
    private const int Period = 8, Horizon = 8;

    private static List<TimeSeries> Series(bool positive, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, 6).Select(i =>
        {
            double level = positive ? 50 + 20 * i : 10 * (i - 3), amp = 1 + i;
            var v = Enumerable.Range(0, 72 + 3 * i).Select(t => level + 0.05 * t + amp * System.Math.Sin(2 * System.Math.PI * t / Period + i) + 0.2 * amp * rng.NextNormal()).ToArray();
            return new TimeSeries($"s{i}", v);
        }).ToList();
    }

    private static RnnForecastModel Fit(List<TimeSeries> series, ValueTransform transform, CellType cell, int members, bool fallBack, ForecastStrategy strategy = ForecastStrategy.Direct) =>
        RnnForecaster.Fit(series, new RnnForecasterOptions
        {
            Horizon = Horizon, SeasonalPeriod = Period, Strategy = strategy, Transform = transform, Cell = cell, HiddenSize = 8,
            MaxEpochs = 2, Patience = 1, EnsembleSize = members, BatchSize = 32, Seed = 3, FallBackToBaseline = fallBack,
        });

    [Theory]
    [InlineData(true, CellType.Lstm, 2, false)]
    [InlineData(false, CellType.Gru, 3, true)]
    public void OnnxRuntimeForecastsWhatTheModelForecasts(bool positive, CellType cell, int members, bool fallBack)
    {
        var series = Series(positive, 5);
        var model = Fit(series, positive ? ValueTransform.Log : ValueTransform.None, cell, members, fallBack);
        Assert.Equal(positive, model.LogScale);
        Assert.Equal(members, model.EnsembleSize);
        if (!fallBack) Assert.False(model.UsesBaseline);
        var mine = new OnnxExportOptions { Opset = 18 };
        mine.Metadata["owner"] = "me";
        using var session = Ort.Session(Ort.Bytes(s => model.ExportToOnnx(s, mine)));
        Assert.Equal(new[] { "owner" }, mine.Metadata.Keys); // the caller's options are not changed
        Assert.Equal("me", session.ModelMetadata.CustomMetadataMap["owner"]);
        int window = int.Parse(session.ModelMetadata.CustomMetadataMap["rnn_mlnet.window"], CultureInfo.InvariantCulture);
        Assert.True(window >= model.InputLengths.Max());

        var history = series.SelectMany(s => s.Values[^window..].Select(x => (float)x)).ToArray();
        var outputs = Ort.Run(session, Ort.Floats(OnnxNames.History, history, series.Count, window));
        var expected = model.Forecast(series, Horizon); // the whole series: the graph's window is all the model reads
        foreach (var (name, pick) in new (string, Func<SeriesForecast, double[]>)[] { (OnnxNames.Forecast, f => f.Point), (OnnxNames.Lower, f => f.Lower), (OnnxNames.Upper, f => f.Upper) })
        {
            var (values, shape) = outputs[name];
            Assert.Equal(new[] { series.Count, Horizon }, shape);
            for (int i = 0; i < series.Count; i++)
                for (int k = 0; k < Horizon; k++)
                {
                    double e = pick(expected[i])[k], a = values[i * Horizon + k];
                    Assert.True(System.Math.Abs(e - a) <= 1e-5 * System.Math.Max(1, System.Math.Abs(e)), $"{name}[{i}, {k}]: model {e:R}, ONNX Runtime {a:R}");
                }
        }
    }

    [Fact]
    public void ARecursiveForecasterIsNotExported()
    {
        var model = RnnForecaster.Fit(Series(true, 6), new RnnForecasterOptions
        {
            Horizon = 2 * Period, SeasonalPeriod = Period, Strategy = ForecastStrategy.Recursive, HiddenSize = 4, MaxEpochs = 1, Patience = 1, EnsembleSize = 1, BatchSize = 32,
        });
        var e = Assert.Throws<NotSupportedException>(() => model.ExportToOnnx(new System.IO.MemoryStream()));
        Assert.Contains("recursive", e.Message);
    }
}
