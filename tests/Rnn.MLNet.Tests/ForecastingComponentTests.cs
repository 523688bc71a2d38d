using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Forecasting;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary><c>mlContext.Forecasting.ForecastByRnn</c>: many series in long format, one model; output columns; save/load; bad input.</summary>
public class ForecastingComponentTests
{
    private sealed class Observation
    {
        public string Series { get; set; } = "";
        public float Value { get; set; }
    }

    private sealed class ForecastRow
    {
        public string Series { get; set; } = "";
        public float[] Forecast { get; set; } = Array.Empty<float>();
        public float[] LowerBound { get; set; } = Array.Empty<float>();
        public float[] UpperBound { get; set; } = Array.Empty<float>();
    }

    private static Observation[] Rows(int series, int length) =>
        Enumerable.Range(0, series).SelectMany(i => Enumerable.Range(0, length).Select(t => new Observation
        {
            Series = $"s{i}", Value = (float)(10 * i - 5 + (1 + i) * System.Math.Sin(2 * System.Math.PI * t / 6) + 0.05 * t + 0.1 * System.Math.Cos(7.3 * t)),
        })).ToArray();

    private static RnnForecastingOptions Options(string? idColumn) => new()
    {
        ValueColumnName = "Value", SeriesIdColumnName = idColumn, Horizon = 6, SeasonalPeriod = 6, HiddenSize = 12, EnsembleSize = 2, MaxEpochs = 4, Seed = 2,
    };

    [Fact]
    public void ManySeriesOneModelSavedAndLoaded()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(3, 80));
        var model = ml.Forecasting.ForecastByRnn(Options("Series")).Fit(data);
        Assert.Equal(new[] { "s0", "s1", "s2" }, model.Model.SeriesIds);

        var queries = ml.Data.LoadFromEnumerable(new[] { new Observation { Series = "s2" }, new Observation { Series = "s0" } });
        var rows = ml.Data.CreateEnumerable<ForecastRow>(model.Transform(queries), reuseRowObject: false).ToArray();
        Assert.All(rows, r => Assert.Equal(6, r.Forecast.Length));
        Assert.All(rows, r => Assert.True(r.Forecast.Zip(r.LowerBound, (f, l) => l <= f).All(x => x) && r.Forecast.Zip(r.UpperBound, (f, u) => f <= u).All(x => x)));

        string path = Path.Combine(Path.GetTempPath(), $"rnn-forecast-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var fresh = new MLContext();
            var loaded = fresh.Model.Load(path, out _);
            var again = fresh.Data.CreateEnumerable<ForecastRow>(loaded.Transform(queries), reuseRowObject: false).ToArray();
            for (int i = 0; i < rows.Length; i++) Assert.Equal(rows[i].Forecast, again[i].Forecast);
            var core = RnnForecastModel.FromTransformer(loaded);
            Assert.Equal(rows[0].Forecast, core.Forecast("s2", 6).Point.Select(x => (float)x).ToArray());
            // A history the model never saw: forecast after Load from any series.
            var f = core.Forecast(new TimeSeries("new", Enumerable.Range(0, 40).Select(t => 3 + System.Math.Sin(2 * System.Math.PI * t / 6)).ToArray()), 12);
            Assert.Equal(12, f.Point.Length);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void OneSeriesWithoutAnIdColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(1, 90));
        var model = ml.Forecasting.ForecastByRnn(Options(null)).Fit(data);
        var row = ml.Data.CreateEnumerable<ForecastRow>(model.Transform(ml.Data.TakeRows(data, 1)), reuseRowObject: false).Single();
        Assert.Equal(6, row.Forecast.Length);
        Assert.Equal(model.Model.Forecast("", 6).Point.Select(x => (float)x).ToArray(), row.Forecast);
    }

    [Fact]
    public void BadInputNamesTheColumnOrRow()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(1, 30);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Forecasting.ForecastByRnn(new RnnForecastingOptions { ValueColumnName = "Sales", Horizon = 3 }).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("'Sales'", missing.Message);
        var rate = Assert.Throws<ArgumentException>(() => ml.Forecasting.ForecastByRnn(new RnnForecastingOptions { Horizon = 3, LearningRate = 0 }).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("LearningRate", rate.Message);
        rows[17].Value = float.NaN;
        var nan = Assert.Throws<ArgumentException>(() => ml.Forecasting.ForecastByRnn(Options(null)).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Row 17", nan.Message);
    }
}
