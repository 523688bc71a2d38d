// Forecasting one series from a `date,value` CSV: a global recurrent forecaster (ml.Forecasting.ForecastByRnn) trained on
// the series' own windows, against the naive and seasonal naive forecasts, on the last H values held out.
//
//   dotnet run -c Release --project samples/TimeSeriesForecast -- --csv F --horizon H [--period P] [--png F] [--seed N]
//        [--input N] [--hidden N] [--ensemble N]     (input length, hidden size, ensemble members; defaults from the library)
//
// The CSV has a header and `date,value` lines (quotes allowed; any real values, zeros and negatives included; dates in
// any ISO-like form or a plain index). Without --csv it reads ../shared/data/airline-passengers/airline-passengers.csv
// (monthly, forecast the last 24 months) when present, else a synthetic monthly series. Without --period the seasonal
// period is detected from the training part. A bad date or value stops the run with the file's row number. Writes a PNG
// (default: the temp folder) and, last, a JSON line with the held-out scores.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML;
using Rnn.MLNet;
using Rnn.MLNet.Forecasting;

try { return Run(args); }
catch (Exception e) when (e is InvalidDataException or ArgumentException or FileNotFoundException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

static int Run(string[] args)
{
    var options = Args.Parse(args);
    var (name, dates, values, spacing) = SeriesCsv.Read(options.Csv);
    int h = options.Horizon;
    if (values.Length < h + 2) throw new ArgumentException($"'{options.Csv}' has {values.Length} values; forecasting the last {h} needs at least {h + 2}.");
    double[] known = values[..^h], actual = values[^h..];
    Console.WriteLine($"series: {options.Csv} ({values.Length} values, {dates[0]} to {dates[^1]}); forecasting the last {h} from the first {known.Length}");

    // The seasonal period: --period, else the calendar's for regular dates (monthly 12, quarterly 4, hourly 24, weekly 52)
    // when the training part holds at least three such seasons, a year for daily data whose detected period is about a
    // year, else the library's detection from the autocorrelation.
    int? periodHint = options.Period ?? SeriesCsv.CalendarPeriod(spacing, known);
    // The forecaster as an ML.NET component: rows of (Value), one series; saved into the .zip and loaded back.
    var ml = new MLContext(seed: options.Seed);
    IDataView train = ml.Data.LoadFromEnumerable(known.Select(v => new Observation { Value = (float)v }));
    var estimator = ml.Forecasting.ForecastByRnn(new RnnForecastingOptions
    {
        ValueColumnName = nameof(Observation.Value), Horizon = h, SeasonalPeriod = periodHint, Seed = options.Seed, Log = Console.WriteLine,
        InputLength = options.Input, HiddenSize = options.Hidden ?? 64, EnsembleSize = options.Ensemble ?? 3,
    });
    var clock = Stopwatch.StartNew();
    var transformer = estimator.Fit(train);
    Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s");
    string modelPath = Path.Combine(Path.GetTempPath(), $"time-series-forecast-{Environment.ProcessId}.zip");
    ml.Model.Save(transformer, train.Schema, modelPath);
    var model = RnnForecastModel.FromTransformer(new MLContext().Model.Load(modelPath, out _));
    File.Delete(modelPath);
    var forecast = model.Forecast(new TimeSeries(name, known), h);
    int period = model.SeasonalPeriod;

    double[] seasonalNaive = Baselines.SeasonalNaive(known, h, period), naive = Baselines.Naive(known, h);
    double rmse = ForecastMetrics.Rmse(actual, forecast.Point), mae = ForecastMetrics.Mae(actual, forecast.Point);
    double smape = ForecastMetrics.Smape(actual, forecast.Point), mase = ForecastMetrics.Mase(known, actual, forecast.Point, period);
    double coverage = ForecastMetrics.Coverage(actual, forecast.Lower, forecast.Upper);
    Console.WriteLine($"period {period}{(options.Period is not null ? "" : periodHint is not null ? " (from the dates)" : " (detected)")}, inputs of {string.Join("/", model.InputLengths)} values, {model.EnsembleSize} member(s){(model.UsesBaseline ? ", point forecast = the baseline (the network did not beat it on the validation cut)" : "")}");
    Console.WriteLine($"\n{"date",-20}{"actual",12}{"RNN",12}{"lower",12}{"upper",12}{"s.naive",12}");
    for (int i = 0; i < h; i++)
        Console.WriteLine($"{dates[known.Length + i],-20}{actual[i],12:G6}{forecast.Point[i],12:G6}{forecast.Lower[i],12:G6}{forecast.Upper[i],12:G6}{seasonalNaive[i],12:G6}");
    Console.WriteLine($"\n{"",-16}{"RMSE",12}{"MAE",12}{"sMAPE",10}{"MASE",10}");
    foreach (var (label, f) in new[] { ("RNN", forecast.Point), ("seasonal naive", seasonalNaive), ("naive", naive) })
        Console.WriteLine($"{label,-16}{ForecastMetrics.Rmse(actual, f),12:G6}{ForecastMetrics.Mae(actual, f),12:G6}{ForecastMetrics.Smape(actual, f),10:F3}{ForecastMetrics.Mase(known, actual, f, period),10:F3}");
    Console.WriteLine($"interval coverage {coverage:P1} (nominal {model.IntervalCoverage:P0})");

    string png = Plot.Save(options.Png, name, values, known.Length, forecast, seasonalNaive);
    Console.WriteLine($"picture: {png}");
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        rmse = Round(rmse), mae = Round(mae), smape = Round(smape), mase = Round(mase),
        seasonal_naive_rmse = Round(ForecastMetrics.Rmse(actual, seasonalNaive)), coverage = Round(coverage),
    }));
    return 0;
}

static double Round(double x) => double.IsFinite(x) ? Math.Round(x, 4) : x;

internal sealed class Observation
{
    public float Value { get; set; }
}

internal static class SeriesCsv
{
    private static readonly string[] s_dateFormats = { "yyyy-MM", "yyyy-M", "yyyy", "yyyy-MM-dd", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-ddTHH:mm:ss", "yyyy/MM/dd", "MM/dd/yyyy", "dd.MM.yyyy" };

    /// <summary>
    /// The calendar's seasonal period for a median spacing between dates, when at least three seasons are known; for daily
    /// data, 365 when the detected period is a year give or take 10% (a yearly autocorrelation peak is broad).
    /// </summary>
    public static int? CalendarPeriod(TimeSpan? spacing, double[] knownValues)
    {
        int known = knownValues.Length;
        if (spacing is not TimeSpan s) return null;
        double days = s.TotalDays;
        if (days >= 0.9 && days <= 1.1)
        {
            int detected = SeasonalPeriod.Detect(knownValues);
            return detected >= 330 && detected <= 400 ? 365 : null;
        }
        int? p = days switch
        {
            >= 1.0 / 24 * 0.9 and <= 1.0 / 24 * 1.1 => 24,
            >= 6.5 and <= 7.5 => 52,
            >= 27 and <= 32 => 12,
            >= 88 and <= 93 => 4,
            _ => null,
        };
        return p is int q && known >= 3 * q ? q : null;
    }

    /// <summary>Reads `date,value` lines after a header; the header's last field names the series. Rows are sorted by date when out of order.</summary>
    public static (string Name, string[] Dates, double[] Values, TimeSpan? Spacing) Read(string path)
    {
        var rows = new List<(string Date, DateTime? When, double Value)>();
        string name = "value";
        int row = 0;
        foreach (string raw in File.ReadLines(path))
        {
            row++;
            string line = raw.Trim();
            if (row == 1)
            {
                name = line.Split(',')[^1].Trim().Trim('"');
                if (name.Length == 0) name = "value";
                continue;
            }
            if (line.Length == 0) continue;
            string[] f = line.Split(',');
            if (f.Length < 2) throw new InvalidDataException($"'{path}' row {row}: '{raw}' has no comma; expected `date,value`.");
            string date = f[0].Trim().Trim('"'), text = f[^1].Trim().Trim('"');
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                throw new InvalidDataException($"'{path}' row {row}: the value '{text}' is not a finite number.");
            if (date.Length == 0) throw new InvalidDataException($"'{path}' row {row}: the date is empty.");
            DateTime? when = null;
            if (DateTime.TryParseExact(date, s_dateFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ||
                DateTime.TryParse(date, CultureInfo.InvariantCulture, DateTimeStyles.None, out d)) when = d;
            else if (!double.TryParse(date, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                throw new InvalidDataException($"'{path}' row {row}: '{date}' is not a date (expected e.g. 1949-01, 2020-03-31 or 2020-03-31 13:00) or a time index.");
            rows.Add((date, when, v));
        }
        if (rows.Count == 0) throw new InvalidDataException($"'{path}' has no data rows after the header.");
        if (rows.All(r => r.When is not null) && rows.Zip(rows.Skip(1), (a, b) => a.When > b.When).Any(x => x))
            rows = rows.OrderBy(r => r.When).ToList(); // stable: equal dates keep file order
        TimeSpan? spacing = null;
        if (rows.Count > 2 && rows.All(r => r.When is not null))
        {
            var gaps = rows.Zip(rows.Skip(1), (a, b) => (b.When!.Value - a.When!.Value).Ticks).OrderBy(x => x).ToArray();
            spacing = TimeSpan.FromTicks(gaps[gaps.Length / 2]);
        }
        return (name, rows.Select(r => r.Date).ToArray(), rows.Select(r => r.Value).ToArray(), spacing);
    }
}

internal static class Plot
{
    /// <summary>Saves a PNG of the series, the forecast with its interval and seasonal naive; returns the path.</summary>
    public static string Save(string path, string name, double[] values, int known, SeriesForecast forecast, double[] seasonalNaive)
    {
        double[] x = Enumerable.Range(0, values.Length).Select(i => (double)i).ToArray();
        double[] future = x[known..];
        var plot = new ScottPlot.Plot();
        var band = plot.Add.FillY(future, forecast.Lower, forecast.Upper);
        band.FillColor = ScottPlot.Colors.Red.WithAlpha(0.15);
        band.LegendText = $"{forecast.Lower.Length}-step interval";
        var series = plot.Add.Scatter(x, values);
        series.LegendText = "actual";
        series.Color = ScottPlot.Colors.Black;
        series.MarkerSize = 2;
        var rnn = plot.Add.Scatter(future, forecast.Point);
        rnn.LegendText = "RNN forecast";
        rnn.Color = ScottPlot.Colors.Red;
        rnn.LineWidth = 2;
        rnn.MarkerSize = 0;
        var sn = plot.Add.Scatter(future, seasonalNaive);
        sn.LegendText = "seasonal naive";
        sn.Color = ScottPlot.Colors.Gray;
        sn.LinePattern = ScottPlot.LinePattern.Dashed;
        sn.MarkerSize = 0;
        plot.Title($"{name}: the last {values.Length - known} values forecast from the first {known}");
        plot.XLabel("step");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp.png";
        plot.SavePng(tmp, 1200, 600);
        File.Move(tmp, full, overwrite: true);
        return full;
    }
}

internal sealed record Args(string Csv, int Horizon, int? Period, string Png, int Seed, int? Input, int? Hidden, int? Ensemble)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        string csv = Get("--csv") ?? Path.GetFullPath(Path.Combine("..", "shared", "data", "airline-passengers", "airline-passengers.csv"));
        if (Get("--csv") is null && !File.Exists(csv))
        {
            // No shared data on this machine: write a synthetic monthly series (trend × growing season × noise).
            csv = Path.Combine(Path.GetTempPath(), $"forecast-demo-{Environment.ProcessId}.csv");
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
        int? Int(string name)
        {
            if (Get(name) is not string s) return null;
            return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"{name} '{s}' is not an integer.");
        }
        int horizon = Int("--horizon") ?? 24;
        int? period = Int("--period");
        if (horizon < 1) throw new ArgumentException($"--horizon must be at least 1; got {horizon}.");
        if (period is < 1) throw new ArgumentException($"--period must be at least 1; got {period}.");
        return new Args(csv, horizon, period, Get("--png") ?? Path.Combine(Path.GetTempPath(), "time-series-forecast.png"), Int("--seed") ?? 1, Int("--input"), Int("--hidden"), Int("--ensemble"));
    }
}
