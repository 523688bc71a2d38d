// Many series, one global model: the 414 hourly series of the M4 competition, 48 hours ahead, scored with M4's sMAPE,
// MASE and OWA against Naive2 (the competition's reference) and seasonal naive, computed in the same run.
//
//   dotnet run -c Release --project samples/M4Forecast -- --train F --test F [--period 24] [--horizon 48] [--minutes M]
//        [--series N] [--hidden N] [--ensemble N] [--seed N]
//
// Without --train/--test it reads ../shared/data/m4-hourly/Hourly-{train,test}.csv. The files have M4's layout: a header,
// then one row per series: a quoted id and quoted values, shorter series padded with empty fields. The forecaster sees
// only the training file (its own validation cut is the last 48 hours of each training series); the test file is read
// after training, for scoring. The last line is JSON.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Rnn.MLNet.Forecasting;

var a = Args.Parse(args);
var train = M4File.Read(a.Train);
if (a.Series is int limit) train = train.Take(limit).ToList();
Console.WriteLine($"{train.Count} training series from {a.Train} ({train.Min(s => s.Values.Length)}–{train.Max(s => s.Values.Length)} values), period {a.Period}, horizon {a.Horizon}, limit {a.Minutes} min");

var options = new RnnForecasterOptions
{
    Horizon = a.Horizon, SeasonalPeriod = a.Period, TimeLimit = TimeSpan.FromMinutes(a.Minutes), Seed = a.Seed, Log = Console.WriteLine,
};
if (a.Hidden is int hidden) options.HiddenSize = hidden;
if (a.Ensemble is int ensemble) options.EnsembleSize = ensemble;
var clock = Stopwatch.StartNew();
var model = RnnForecaster.Fit(train, options);
double trainSeconds = clock.Elapsed.TotalSeconds;
var forecasts = model.Forecast(train, a.Horizon);
Console.WriteLine($"trained in {trainSeconds:F1} s ({model.EnsembleSize} members), forecast in {clock.Elapsed.TotalSeconds - trainSeconds:F1} s");

var test = M4File.Read(a.Test).ToDictionary(s => s.Id);
var trainValues = new List<double[]>();
var actual = new List<double[]>();
foreach (var s in train)
{
    if (!test.TryGetValue(s.Id, out var t)) throw new InvalidDataException($"'{a.Test}' has no row for series {s.Id}.");
    if (t.Values.Length < a.Horizon) throw new InvalidDataException($"'{a.Test}': series {s.Id} has {t.Values.Length} test values; the horizon is {a.Horizon}.");
    trainValues.Add(s.Values);
    actual.Add(t.Values[..a.Horizon]);
}
var methods = new (string Name, List<double[]> Forecast)[]
{
    ("RNN (global)", forecasts.Select(f => f.Point).ToList()),
    ("Naive2", train.Select(s => Baselines.Naive2(s.Values, a.Horizon, a.Period)).ToList()),
    ("seasonal naive", train.Select(s => Baselines.SeasonalNaive(s.Values, a.Horizon, a.Period)).ToList()),
    ("naive", train.Select(s => Baselines.Naive(s.Values, a.Horizon)).ToList()),
};
var scores = methods.Select(m => ForecastMetrics.Average(trainValues, actual, m.Forecast, a.Period)).ToArray();
var (n2s, n2m) = scores[1];
Console.WriteLine($"\n{"method",-16}{"sMAPE",9}{"MASE",9}{"OWA",9}");
for (int i = 0; i < methods.Length; i++)
    Console.WriteLine($"{methods[i].Name,-16}{scores[i].Smape,9:F3}{scores[i].Mase,9:F3}{ForecastMetrics.Owa(scores[i].Smape, scores[i].Mase, n2s, n2m),9:F3}");
double coverage = Enumerable.Range(0, train.Count).Average(i => ForecastMetrics.Coverage(actual[i], forecasts[i].Lower, forecasts[i].Upper));
Console.WriteLine($"interval coverage {coverage:P1} (nominal {model.IntervalCoverage:P0}); validation score {model.ValidationScore:F4}{(model.UsesBaseline ? " (fell back to the baseline)" : "")}");
var (smape, mase) = scores[0];
Console.WriteLine(JsonSerializer.Serialize(new
{
    smape = Math.Round(smape, 3),
    mase = Math.Round(mase, 3),
    owa = Math.Round(ForecastMetrics.Owa(smape, mase, n2s, n2m), 3),
    naive2_smape = Math.Round(n2s, 3),
    naive2_mase = Math.Round(n2m, 3),
    train_seconds = Math.Round(trainSeconds, 1),
}));

internal static class M4File
{
    /// <summary>Reads M4's CSV layout: header, then `"id","v1",…` with empty fields after a short series' last value.</summary>
    public static List<TimeSeries> Read(string path)
    {
        var result = new List<TimeSeries>();
        int row = 0;
        foreach (string line in File.ReadLines(path))
        {
            row++;
            if (row == 1 || line.Trim().Length == 0) continue;
            string[] fields = line.Split(',');
            string id = fields[0].Trim().Trim('"');
            var values = new List<double>();
            for (int j = 1; j < fields.Length; j++)
            {
                string text = fields[j].Trim().Trim('"');
                if (text.Length == 0) continue;
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                    throw new InvalidDataException($"'{path}' row {row} (series {id}), column {j + 1}: '{fields[j]}' is not a number.");
                values.Add(v);
            }
            if (values.Count < 2) throw new InvalidDataException($"'{path}' row {row} (series {id}) has {values.Count} values; at least 2 are needed.");
            result.Add(new TimeSeries(id, values.ToArray()));
        }
        if (result.Count == 0) throw new InvalidDataException($"'{path}' has no series rows.");
        return result;
    }
}

internal sealed record Args(string Train, string Test, int Period, int Horizon, double Minutes, int? Series, int? Hidden, int? Ensemble, int Seed)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        string data = Path.GetFullPath(Path.Combine("..", "shared", "data", "m4-hourly"));
        string train = Get("--train") ?? Path.Combine(data, "Hourly-train.csv"), test = Get("--test") ?? Path.Combine(data, "Hourly-test.csv");
        foreach (string f in new[] { train, test })
            if (!File.Exists(f)) throw new FileNotFoundException($"'{f}' does not exist (pass --train and --test: M4 CSV files).", f);
        int? Int(string name) => Get(name) is string s ? int.Parse(s, CultureInfo.InvariantCulture) : null;
        double minutes = Get("--minutes") is string m ? double.Parse(m, CultureInfo.InvariantCulture) : 9;
        var result = new Args(train, test, Int("--period") ?? 24, Int("--horizon") ?? 48, minutes, Int("--series"), Int("--hidden"), Int("--ensemble"), Int("--seed") ?? 1);
        if (result.Period < 1 || result.Horizon < 1 || !(minutes > 0)) throw new ArgumentException("--period and --horizon must be at least 1 and --minutes positive.");
        return result;
    }
}
