// Time-series forecasting with a recurrent regressor in an ML.NET pipeline: the airline passengers series (Box & Jenkins),
// forecast the last 24 months from the rest, against the seasonal naive forecast and ML.NET's SDCA linear regression.
//
//   dotnet run -c Release --project samples/TimeSeriesForecast -- [--csv F] [--horizon H] [--window W]
//        [--cell lstm|gru] [--hidden N] [--epochs N] [--seed N] [--png F]
//
// The CSV has a header row and `month,value` lines (quotes allowed). Without --csv it reads
// ../shared/data/airline-passengers/airline-passengers.csv when present, else a synthetic monthly series.
//
// The series grows and its seasonal swing grows with it, so the models do not see raw values: they see the seasonal
// log-difference z[t] = ln y[t] - ln y[t-12], the growth over the same month a year before, which stays in the range
// the training part covers (the estimator then standardizes it). A model reads the last W of them (default 36 months)
// and predicts the next; the forecast feeds its own predictions back for H months and turns them back into values
// with y[t] = y[t-12] * exp(z[t]). The linear baseline gets the same windows, fed back the same way. Ctrl+C stops
// training between batches. Writes a PNG of the series and the three forecasts; the last line is JSON.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet;
using Rnn.MLNet.Cells;
using Rnn.MLNet.SequenceRegression;

var options = Args.Parse(args);
var ml = new MLContext(seed: 1);

var (name, months, values) = Series.ReadCsv(options.Csv);
int h = options.Horizon, w = options.Window;
if (values.Length - h < w + 12 + 10) throw new ArgumentException($"{values.Length} values leave too few for training with a {w}-month window and a {h}-month horizon.");
double[] known = values[..^h], actual = values[^h..];
Console.WriteLine($"series: {options.Csv} ({values.Length} months, {months[0]} to {months[^1]}); forecasting the last {h} from the first {known.Length}");

// Seasonal log-differences of the known part, and the training windows over them: W values → the next one.
const int Season = 12;
float[] z = Enumerable.Range(Season, known.Length - Season).Select(t => (float)(Math.Log(known[t]) - Math.Log(known[t - Season]))).ToArray();
var windows = Enumerable.Range(w, z.Length - w).Select(t => new Window { Features = z[(t - w)..t], Label = z[t] }).ToList();
var schema = SchemaDefinition.Create(typeof(Window));
schema[nameof(Window.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, w);
IDataView train = ml.Data.LoadFromEnumerable(windows, schema);
Console.WriteLine($"{windows.Count} training windows of {w} seasonal log-differences (the last 15% held out for early stopping)");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };

// The recurrent model: a many-to-one LSTM over the window (one feature per step). With ~70 windows it overfits within
// a few hundred epochs; the last 15% of the windows (in time order) pick the epoch to keep.
var clock = Stopwatch.StartNew();
var estimator = ml.Regression.Trainers.RnnSequence(new RnnSequenceRegressorOptions
{
    FeatureColumnName = nameof(Window.Features), LabelColumnName = nameof(Window.Label), FeaturesPerStep = 1,
    Cell = options.Cell, HiddenSize = options.Hidden, Layers = 1, Epochs = options.Epochs, BatchSize = 16, LearningRate = 3e-3,
    ValidationFraction = 0.15, EarlyStoppingPatience = 30, Seed = options.Seed, CancellationToken = stop.Token,
    Progress = r => { if (r.Epoch == 1 || r.Epoch % 10 == 0) Console.WriteLine($"  {r}"); },
});
Console.WriteLine($"training a {options.Cell} (hidden {options.Hidden}) for {options.Epochs} epochs…");
RnnSequenceRegressionTransformer rnn;
try { rnn = estimator.Fit(train); }
catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return 130; }
Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s; stopped after epoch {rnn.TrainingResult.History.Count}, kept epoch {rnn.TrainingResult.BestEpoch}");

// Save atomically and forecast with the model loaded from the .zip: predictions are fed back for H months.
string modelPath = Path.Combine(Path.GetTempPath(), "time-series-forecast.zip");
ml.Model.Save(rnn, train.Schema, modelPath + ".tmp");
File.Move(modelPath + ".tmp", modelPath, overwrite: true);
var loaded = SequenceRegressionModel.FromTransformer(new MLContext().Model.Load(modelPath, out _));
double[] rnnForecast = Series.Undifference(known, loaded.Forecast(z, w, h), Season);

// Baseline 1: seasonal naive, the last known year repeated.
double[] naiveForecast = Enumerable.Range(0, h).Select(i => known[known.Length - 12 + i % 12]).ToArray();

// Baseline 2: ML.NET's SDCA linear regression on the same standardized windows, fed back the same way.
var linear = ml.Transforms.NormalizeMeanVariance(nameof(Window.Features))
    .Append(ml.Regression.Trainers.Sdca(labelColumnName: nameof(Window.Label), featureColumnName: nameof(Window.Features)))
    .Fit(train);
var engine = ml.Model.CreatePredictionEngine<Window, LinearPrediction>(linear, inputSchemaDefinition: schema);
var fedBack = z.ToList();
for (int i = 0; i < h; i++)
    fedBack.Add(engine.Predict(new Window { Features = fedBack.Skip(fedBack.Count - w).ToArray() }).Score);
double[] linearForecast = Series.Undifference(known, fedBack.Skip(z.Length).ToArray(), Season);

var (rmse, mape) = Series.Errors(rnnForecast, actual);
var (naiveRmse, naiveMape) = Series.Errors(naiveForecast, actual);
var (linearRmse, linearMape) = Series.Errors(linearForecast, actual);
Console.WriteLine($"\n{"month",-9}{"actual",8}{"RNN",8}{"naive",8}{"linear",8}");
for (int i = 0; i < h; i++)
    Console.WriteLine($"{months[known.Length + i],-9}{actual[i],8:F0}{rnnForecast[i],8:F1}{naiveForecast[i],8:F0}{linearForecast[i],8:F1}");
Console.WriteLine($"\n{"",-26}{"RMSE",8}{"MAPE",8}");
Console.WriteLine($"{"RNN (" + options.Cell + ")",-26}{rmse,8:F2}{mape,8:P2}");
Console.WriteLine($"{"seasonal naive",-26}{naiveRmse,8:F2}{naiveMape,8:P2}");
Console.WriteLine($"{"SDCA linear regression",-26}{linearRmse,8:F2}{linearMape,8:P2}");

string png = Series.Plot(options.Png, name, months, values, known.Length, (rnnForecast, $"RNN ({options.Cell}), RMSE {rmse:F1}"),
    (naiveForecast, $"seasonal naive, RMSE {naiveRmse:F1}"), (linearForecast, $"SDCA linear, RMSE {linearRmse:F1}"));
Console.WriteLine($"\nsaved the model to {modelPath} and the picture to {png}");
Console.WriteLine(JsonSerializer.Serialize(new
{
    rmse = Math.Round(rmse, 2),
    mape = Math.Round(mape, 4),
    seasonal_naive_rmse = Math.Round(naiveRmse, 2),
    linear_rmse = Math.Round(linearRmse, 2),
}));
return 0;

internal sealed class Window
{
    public float[] Features { get; set; } = Array.Empty<float>();
    public float Label { get; set; }
}

internal sealed class LinearPrediction
{
    public float Score { get; set; }
}

internal static class Series
{
    /// <summary>Reads `label,value` lines after a header (whose last field names the series); quotes around fields are dropped.</summary>
    public static (string Name, string[] Months, double[] Values) ReadCsv(string path)
    {
        var months = new List<string>();
        var values = new List<double>();
        string name = File.ReadLines(path).FirstOrDefault()?.Split(',')[^1].Trim().Trim('"') ?? "value";
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            if (line.Trim().Length == 0) continue;
            string[] f = line.Split(',');
            if (f.Length < 2 || !double.TryParse(f[^1].Trim().Trim('"'), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v > 0))
                throw new InvalidDataException($"'{path}': the line '{line}' is not `month,positive value`.");
            months.Add(f[0].Trim().Trim('"'));
            values.Add(v);
        }
        return (name, months.ToArray(), values.ToArray());
    }

    /// <summary>Turns predicted log-differences over <paramref name="lag"/> months back into the values after the known ones.</summary>
    public static double[] Undifference(double[] known, IReadOnlyList<float> differences, int lag)
    {
        var logs = known.Select(v => Math.Log(v)).ToList();
        foreach (float d in differences) logs.Add(logs[^lag] + d);
        return logs.Skip(known.Length).Select(Math.Exp).ToArray();
    }

    public static (double Rmse, double Mape) Errors(double[] forecast, double[] actual) =>
        (Math.Sqrt(forecast.Zip(actual, (f, a) => (f - a) * (f - a)).Average()), forecast.Zip(actual, (f, a) => Math.Abs(f - a) / a).Average());

    /// <summary>Saves a PNG of the series and the forecasts (written to a temporary name, then moved); returns its path.</summary>
    public static string Plot(string path, string name, string[] months, double[] values, int known, params (double[] Forecast, string Label)[] forecasts)
    {
        DateTime Month(int i) => DateTime.TryParseExact(months[i], "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? d : new DateTime(2000, 1, 1).AddMonths(i);
        var x = Enumerable.Range(0, values.Length).Select(Month).ToArray();
        var plot = new ScottPlot.Plot();
        var series = plot.Add.Scatter(x, values);
        series.LegendText = "actual";
        series.Color = ScottPlot.Colors.Black;
        series.MarkerSize = 3;
        var colors = new[] { ScottPlot.Colors.Red, ScottPlot.Colors.Gray, ScottPlot.Colors.Blue };
        for (int k = 0; k < forecasts.Length; k++)
        {
            var line = plot.Add.Scatter(x[known..], forecasts[k].Forecast);
            line.LegendText = forecasts[k].Label;
            line.Color = colors[k % colors.Length];
            line.LineWidth = 2;
            line.MarkerSize = 0;
            if (k == 1) line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        var start = plot.Add.VerticalLine(x[known].ToOADate());
        start.Color = ScottPlot.Colors.Gray.WithAlpha(0.6);
        start.LinePattern = ScottPlot.LinePattern.Dotted;
        plot.Axes.DateTimeTicksBottom();
        plot.Title($"{name}: forecast of the last {values.Length - known} months from the first {known}");
        plot.YLabel(name);
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        string full = Path.GetFullPath(path);
        string tmp = full + ".tmp.png";
        plot.SavePng(tmp, 1200, 600);
        File.Move(tmp, full, overwrite: true);
        return full;
    }
}

internal sealed record Args(string Csv, int Horizon, int Window, CellType Cell, int Hidden, int Epochs, int Seed, string Png)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        string csv = Get("--csv") ?? Path.GetFullPath(Path.Combine("..", "shared", "data", "airline-passengers", "airline-passengers.csv"));
        if (Get("--csv") is null && !File.Exists(csv))
        {
            // No shared data on this machine: write a synthetic monthly series (trend × growing season × noise).
            csv = Path.Combine(Path.GetTempPath(), "forecast-demo.csv");
            var rng = new Random(1);
            var lines = new List<string> { "\"Month\",\"Value\"" };
            for (int t = 0; t < 144; t++)
            {
                double v = (100 + 2.5 * t) * (1 + 0.2 * Math.Sin(2 * Math.PI * t / 12) + 0.05 * rng.NextDouble());
                lines.Add(FormattableString.Invariant($"\"{1949 + t / 12}-{t % 12 + 1:00}\",{v:F0}"));
            }
            File.WriteAllLines(csv, lines);
            Console.WriteLine("(shared data not found: forecasting a synthetic series)");
        }
        if (!File.Exists(csv)) throw new FileNotFoundException($"CSV file '{csv}' does not exist (pass --csv).", csv);
        int Int(string name, int fallback) => int.Parse(Get(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int horizon = Int("--horizon", 24), window = Int("--window", 36);
        if (horizon < 1 || window < 1) throw new ArgumentException("--horizon and --window must be at least 1.");
        return new Args(csv, horizon, window, Enum.Parse<CellType>(Get("--cell") ?? "Lstm", ignoreCase: true), Int("--hidden", 32),
            Int("--epochs", 500), Int("--seed", 1), Get("--png") ?? "forecast.png");
    }
}
