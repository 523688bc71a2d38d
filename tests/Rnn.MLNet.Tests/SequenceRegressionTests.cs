using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.SequenceRegression;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

public class SequenceRegressionTests
{
    private readonly ITestOutputHelper _out;
    public SequenceRegressionTests(ITestOutputHelper output) => _out = output;

    public const int Window = 12;

    public sealed class WindowRow
    {
        [VectorType(Window)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    public sealed class WeatherRow
    {
        [VectorType(Window * 2)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    /// <summary>A seasonal series with trend and noise, cut into (12 past values → next value) windows.</summary>
    private static (float[] Series, List<WindowRow> Rows) Seasonal(int length, ulong seed)
    {
        var rng = new Rng(seed);
        var s = Enumerable.Range(0, length).Select(t => (float)(100 + 0.5 * t + 20 * System.Math.Sin(2 * System.Math.PI * t / 12) + rng.NextNormal())).ToArray();
        var rows = Enumerable.Range(0, length - Window).Select(i => new WindowRow { Features = s[i..(i + Window)], Label = s[i + Window] }).ToList();
        return (s, rows);
    }

    [Fact]
    public void UnivariateWindowsBeatTheMeanSurviveSaveLoadAndForecast()
    {
        var ml = new MLContext(seed: 1);
        var (series, rows) = Seasonal(200, 1);
        var train = ml.Data.LoadFromEnumerable(rows.Take(160));
        var test = ml.Data.LoadFromEnumerable(rows.Skip(160));
        var model = ml.Regression.Trainers.RnnSequence(new RnnSequenceRegressorOptions { Cell = CellType.Gru, HiddenSize = 16, Epochs = 60, LearningRate = 0.01, Seed = 2 }).Fit(train);
        var metrics = ml.Regression.Evaluate(model.Transform(test));
        double meanRmse = System.Math.Sqrt(rows.Skip(160).Average(r => System.Math.Pow(r.Label - rows.Take(160).Average(x => x.Label), 2)));
        _out.WriteLine($"RMSE {metrics.RootMeanSquaredError:F3} vs predicting the training mean {meanRmse:F3}; R² {metrics.RSquared:F3}");
        Assert.True(metrics.RootMeanSquaredError < 0.25 * meanRmse);

        string path = Path.Combine(Path.GetTempPath(), $"rnn-reg-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            var ml2 = new MLContext();
            var loaded = ml2.Model.Load(path, out _);
            Assert.Equal(metrics.RootMeanSquaredError, ml2.Regression.Evaluate(loaded.Transform(test)).RootMeanSquaredError);
            var restored = SequenceRegressionModel.FromTransformer(loaded);
            var forecast = restored.Forecast(series.AsSpan(0, 188), Window, 12);
            Assert.Equal(model.Model.Forecast(series.AsSpan(0, 188), Window, 12), forecast);
            double rmse = System.Math.Sqrt(forecast.Select((f, i) => System.Math.Pow(f - series[188 + i], 2)).Average());
            _out.WriteLine($"12-step forecast RMSE {rmse:F3}");
            Assert.True(rmse < 0.5 * meanRmse, $"forecast RMSE {rmse}");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void SeveralFeaturesPerStepStateSpaceStyle()
    {
        // x_t = 0.8 x_{t−1} + 2 u_t (tomorrow's temperature from today's and the cloud cover u): predict x_{T+1} from (x, u) pairs.
        var rng = new Rng(7);
        var rows = new List<WeatherRow>();
        for (int r = 0; r < 300; r++)
        {
            var f = new float[Window * 2];
            float x = (float)rng.NextNormal();
            for (int t = 0; t < Window; t++)
            {
                float u = (float)rng.NextUniform(-1, 1);
                x = 0.8f * x + 2 * u;
                f[2 * t] = x; f[2 * t + 1] = u;
            }
            float uNext = (float)rng.NextUniform(-1, 1);
            f[2 * (Window - 1) + 1] = uNext; // the last step carries tomorrow's forecast cloud cover
            rows.Add(new WeatherRow { Features = f, Label = 0.8f * f[2 * (Window - 1)] + 2 * uNext });
        }
        var ml = new MLContext(seed: 1);
        var model = ml.Regression.Trainers.RnnSequence(new RnnSequenceRegressorOptions { FeaturesPerStep = 2, HiddenSize = 16, Epochs = 60, LearningRate = 0.01, Seed = 1 })
            .Fit(ml.Data.LoadFromEnumerable(rows.Take(240)));
        var metrics = ml.Regression.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(rows.Skip(240))));
        _out.WriteLine($"RMSE {metrics.RootMeanSquaredError:F3}, R² {metrics.RSquared:F3}");
        Assert.True(metrics.RSquared > 0.95, $"R² {metrics.RSquared}");
    }

    [Fact]
    public void BadWindowsAreNamed()
    {
        var ml = new MLContext();
        var rows = Seasonal(40, 1).Rows;
        rows[3].Features[5] = float.NaN;
        var ex = Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.RnnSequence(epochs: 1).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Row 3", ex.Message);
        Assert.Contains("'Features'", ex.Message);
        var odd = ml.Regression.Trainers.RnnSequence(new RnnSequenceRegressorOptions { FeaturesPerStep = 5, Epochs = 1 });
        Assert.Contains("multiple of FeaturesPerStep = 5", Assert.Throws<ArgumentException>(() => odd.Fit(ml.Data.LoadFromEnumerable(Seasonal(40, 1).Rows))).Message);
        var text = ml.Data.LoadFromEnumerable(new[] { new { Features = "1 2 3", Label = 1f } });
        Assert.Contains("vector of Single", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.RnnSequence().Fit(text)).Message);
    }
}
