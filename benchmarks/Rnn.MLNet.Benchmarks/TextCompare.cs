using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>text-compare</c>: for each text classification set (a folder with <c>train.tsv</c> and <c>test.tsv</c>,
/// <c>label\ttext</c> with a header row), trains our classifier with its DEFAULT options and ML.NET's FeaturizeText + SDCA,
/// AveragedPerceptron, FastTree and LightGbm in the same run, for each of several seed groups, and prints a table (mean ± sd
/// of accuracy, F1, AUC and training seconds), the per-group results as JSON lines and the checks of issue 16.
/// <code>
/// text-compare [--data DIR[,DIR…]] [--groups 5] [--first-seed 1] [--trainers ours,sdca,ap,fasttree,lightgbm]
///              [--from-train ROWS] [--set Option=Value …] [--doc docs/text-classification.md] [--json FILE]
/// </code>
/// Without --data: every folder under ../shared/data whose train.tsv starts with the header <c>label\ttext</c>.
/// --from-train ROWS: a check that reads only train.tsv: a fixed 30% of it is held out as the test set and ROWS rows of the
/// rest are the training set (for exploring without looking at the test split). --set changes one of our options
/// (exploration only: the published table uses the defaults); --log prints our trainer's log (which epoch each member kept and why). --doc rewrites the part of that file between
/// <c>&lt;!-- text-compare:begin --&gt;</c> and <c>&lt;!-- text-compare:end --&gt;</c> with the table.
/// </summary>
internal static class TextCompare
{
    private static readonly string[] AllTrainers = { "ours", "sdca", "ap", "fasttree", "lightgbm" };

    private static readonly Dictionary<string, string> Names = new()
    {
        ["ours"] = "RnnText (defaults)", ["sdca"] = "FeaturizeText + SDCA", ["ap"] = "FeaturizeText + AveragedPerceptron",
        ["fasttree"] = "FeaturizeText + FastTree", ["lightgbm"] = "FeaturizeText + LightGbm",
    };

    private sealed record Result(string Set, string Trainer, int Group, double Accuracy, double F1, double Auc, double Seconds);

    private static bool s_log;

    public static int Run(string[] args)
    {
        s_log = args.Contains("--log");
        int groups = CommandLine.Int(args, "--groups", 5), firstSeed = CommandLine.Int(args, "--first-seed", 1);
        int fromTrain = CommandLine.Int(args, "--from-train", 0);
        var trainers = (CommandLine.Option(args, "--trainers") ?? string.Join(',', AllTrainers)).Split(',', StringSplitOptions.RemoveEmptyEntries);
        foreach (var t in trainers)
            if (!AllTrainers.Contains(t)) throw new ArgumentException($"--trainers: unknown trainer '{t}'; expected some of {string.Join(", ", AllTrainers)}.");
        var overrides = new List<(string, string)>();
        for (int i = 0; i + 1 < args.Length; i++)
            if (args[i] == "--set")
            {
                int eq = args[i + 1].IndexOf('=', StringComparison.Ordinal);
                if (eq < 1) throw new ArgumentException($"--set expects Option=Value; got '{args[i + 1]}'.");
                overrides.Add((args[i + 1][..eq], args[i + 1][(eq + 1)..]));
            }
        var sets = (CommandLine.Option(args, "--data")?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? DefaultSets()).ToList();
        if (sets.Count == 0) throw new ArgumentException("No data sets: pass --data DIR (a folder with train.tsv and test.tsv, label\\ttext).");
        string? jsonPath = CommandLine.Option(args, "--json");
        Console.WriteLine($"text-compare: {groups} seed groups (seeds {firstSeed}..{firstSeed + groups - 1}), trainers {string.Join(", ", trainers)}" +
            (overrides.Count > 0 ? $", our options changed: {string.Join(", ", overrides.Select(o => o.Item1 + "=" + o.Item2))}" : ", our options at their defaults") +
            (fromTrain > 0 ? $"; evaluation from train.tsv only: {fromTrain} training rows, a fixed 30% held out" : ""));
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load average {LoadAverage()}");

        var results = new List<Result>();
        foreach (string dir in sets)
        {
            var (train, test, setName) = ReadSet(dir, fromTrain);
            var labels = train.Select(r => r.Label).Concat(test.Select(r => r.Label)).Distinct(StringComparer.Ordinal).OrderBy(l => l, StringComparer.Ordinal).ToArray();
            bool binary = labels.Length == 2;
            string positive = labels.Contains("spam") ? "spam" : labels.Contains("1") ? "1" : labels[^1];
            Console.WriteLine($"\n{setName}: {train.Count} training rows, {test.Count} test rows, {(binary ? $"binary (positive '{positive}')" : $"{labels.Length} classes")}");
            for (int g = 0; g < groups; g++)
            {
                int seed = firstSeed + g;
                foreach (string trainer in trainers)
                {
                    var r = binary ? RunBinary(setName, trainer, seed, train, test, positive, overrides) : RunMulticlass(setName, trainer, seed, train, test, overrides);
                    results.Add(r);
                    string line = JsonSerializer.Serialize(new
                    {
                        set = r.Set, trainer = r.Trainer, seed_group = r.Group, accuracy = System.Math.Round(r.Accuracy, 4), f1 = System.Math.Round(r.F1, 4),
                        auc = double.IsNaN(r.Auc) ? (double?)null : System.Math.Round(r.Auc, 4), train_seconds = System.Math.Round(r.Seconds, 1),
                    });
                    Console.WriteLine(line);
                    if (jsonPath is not null) File.AppendAllText(jsonPath, line + Environment.NewLine);
                }
            }
        }
        string table = Table(results, trainers, groups, firstSeed);
        Console.WriteLine();
        Console.WriteLine(table);
        Console.WriteLine($"load average at the end {LoadAverage()}");
        if (CommandLine.Option(args, "--doc") is { } doc)
        {
            string command = "dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- " + string.Join(' ', args.Where((a, i) => a != "--doc" && (i == 0 || args[i - 1] != "--doc")));
            WriteDoc(doc, $"Generated by `{command.Trim()}` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC ({Environment.ProcessorCount} cores, load average at the end {LoadAverage()}).\n\n" + table);
            Console.WriteLine($"wrote the table into {doc}");
        }
        return 0;
    }

    private static IEnumerable<string> DefaultSets()
    {
        string root = Path.GetFullPath(Path.Combine("..", "shared", "data"));
        if (!Directory.Exists(root)) return Array.Empty<string>();
        return Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal)
            .Where(d => File.Exists(Path.Combine(d, "train.tsv")) && File.Exists(Path.Combine(d, "test.tsv"))
                && File.ReadLines(Path.Combine(d, "train.tsv")).FirstOrDefault()?.Trim() == "label\ttext");
    }

    private sealed class TextRow
    {
        public string Label { get; set; } = "";
        public string Text { get; set; } = "";
    }

    private sealed class BinaryRow
    {
        public bool Label { get; set; }
        public string Text { get; set; } = "";
    }

    private static List<TextRow> ReadTsv(string path)
    {
        var rows = new List<TextRow>();
        int n = 0;
        foreach (string line in File.ReadLines(path))
        {
            if (n++ == 0 || line.Length == 0) continue;
            int tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab < 0) throw new InvalidDataException($"'{path}' line {n}: no tab; expected label<TAB>text.");
            rows.Add(new TextRow { Label = line[..tab].Trim(), Text = line[(tab + 1)..] });
        }
        return rows;
    }

    private static (List<TextRow> Train, List<TextRow> Test, string Name) ReadSet(string dir, int fromTrain)
    {
        var train = ReadTsv(Path.Combine(dir, "train.tsv"));
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(dir));
        if (fromTrain <= 0) return (train, ReadTsv(Path.Combine(dir, "test.tsv")), name);
        // A fixed shuffle of train.tsv: the last 30% is the held-out set, the first ROWS rows of the rest train.
        var order = Enumerable.Range(0, train.Count).ToArray();
        new Rnn.MLNet.Math.Rng(20251129).Shuffle(order.AsSpan());
        int held = train.Count * 3 / 10;
        var test = order[^held..].Select(i => train[i]).ToList();
        var part = order[..^held].Take(fromTrain).Select(i => train[i]).ToList();
        return (part, test, $"{name} (train.tsv only: {part.Count} train / {test.Count} held out)");
    }

    private static RnnTextClassifierOptions OurOptions(int seed, IEnumerable<(string Name, string Value)> overrides)
    {
        var o = new RnnTextClassifierOptions { Seed = seed };
        foreach (var (name, value) in overrides)
        {
            var p = typeof(RnnTextClassifierOptions).GetProperty(name) ?? throw new ArgumentException($"--set: RnnTextClassifierOptions has no option '{name}'.");
            var type = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            p.SetValue(o, type.IsEnum ? Enum.Parse(type, value, ignoreCase: true) : Convert.ChangeType(value, type, CultureInfo.InvariantCulture));
        }
        return o;
    }

    private static Result RunBinary(string set, string trainer, int seed, List<TextRow> trainRows, List<TextRow> testRows, string positive, List<(string, string)> overrides)
    {
        var ml = Context(seed);
        BinaryRow Map(TextRow r) => new() { Label = r.Label == positive, Text = r.Text };
        var train = ml.Data.LoadFromEnumerable(trainRows.Select(Map));
        var test = ml.Data.LoadFromEnumerable(testRows.Select(Map));
        var featurize = ml.Transforms.Text.FeaturizeText("Features", nameof(BinaryRow.Text));
        IEstimator<ITransformer> pipeline = trainer switch
        {
            "ours" => ml.BinaryClassification.Trainers.RnnText(OurOptions(seed, overrides)),
            "sdca" => featurize.Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression()),
            "ap" => featurize.Append(ml.BinaryClassification.Trainers.AveragedPerceptron()),
            "fasttree" => featurize.Append(ml.BinaryClassification.Trainers.FastTree()),
            _ => featurize.Append(ml.BinaryClassification.Trainers.LightGbm()),
        };
        var clock = Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        double seconds = clock.Elapsed.TotalSeconds;
        var m = ml.BinaryClassification.EvaluateNonCalibrated(model.Transform(test));
        return new Result(set, trainer, seed, m.Accuracy, m.F1Score, m.AreaUnderRocCurve, seconds);
    }

    private static Result RunMulticlass(string set, string trainer, int seed, List<TextRow> trainRows, List<TextRow> testRows, List<(string, string)> overrides)
    {
        var ml = Context(seed);
        var train = ml.Data.LoadFromEnumerable(trainRows);
        var test = ml.Data.LoadFromEnumerable(testRows);
        var key = ml.Transforms.Conversion.MapValueToKey("Label", keyData: ml.Data.LoadFromEnumerable(trainRows.Concat(testRows)));
        var featurize = ml.Transforms.Text.FeaturizeText("Features", nameof(TextRow.Text));
        IEstimator<ITransformer> pipeline = trainer switch
        {
            "ours" => key.Append(ml.MulticlassClassification.Trainers.RnnText(OurOptions(seed, overrides))),
            "sdca" => key.Append(featurize).Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy()),
            "ap" => key.Append(featurize).Append(ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.AveragedPerceptron())),
            "fasttree" => key.Append(featurize).Append(ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree())),
            _ => key.Append(featurize).Append(ml.MulticlassClassification.Trainers.LightGbm()),
        };
        var clock = Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        double seconds = clock.Elapsed.TotalSeconds;
        var m = ml.MulticlassClassification.Evaluate(model.Transform(test));
        // Macro F1 from the confusion matrix (ML.NET reports per-class precision and recall, not F1).
        var cm = m.ConfusionMatrix;
        double f1 = 0;
        for (int c = 0; c < cm.NumberOfClasses; c++)
        {
            double p = cm.PerClassPrecision[c], r = cm.PerClassRecall[c];
            f1 += p + r > 0 ? 2 * p * r / (p + r) : 0;
        }
        return new Result(set, trainer, seed, m.MicroAccuracy, f1 / cm.NumberOfClasses, double.NaN, seconds);
    }

    /// <summary>An MLContext with the group's seed; with --log, our trainer's messages (epochs kept and why) are printed.</summary>
    private static MLContext Context(int seed)
    {
        var ml = new MLContext(seed: seed);
        if (s_log) ml.Log += (_, e) => { if (e.Kind is Microsoft.ML.Runtime.ChannelMessageKind.Info or Microsoft.ML.Runtime.ChannelMessageKind.Warning && e.Source.Contains("TextClassifier", StringComparison.Ordinal) && !e.RawMessage.StartsWith("epoch ", StringComparison.Ordinal)) Console.WriteLine("  " + e.RawMessage); };
        return ml;
    }

    private static (double Mean, double Sd) Stats(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        double sd = v.Length > 1 ? System.Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        return (mean, sd);
    }

    private static string Table(List<Result> results, string[] trainers, int groups, int firstSeed)
    {
        var sb = new StringBuilder();
        foreach (var set in results.Select(r => r.Set).Distinct())
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"**{set}** — mean ± sd over {groups} seed groups (seeds {firstSeed}–{firstSeed + groups - 1})\n");
            sb.AppendLine("| trainer | accuracy | F1 | AUC | train seconds | accuracy per group |");
            sb.AppendLine("|---|---|---|---|---|---|");
            foreach (string t in trainers)
            {
                var rs = results.Where(r => r.Set == set && r.Trainer == t).ToList();
                if (rs.Count == 0) continue;
                var (a, asd) = Stats(rs.Select(r => r.Accuracy));
                var (f, fsd) = Stats(rs.Select(r => r.F1));
                var (u, usd) = Stats(rs.Select(r => r.Auc));
                var (s, ssd) = Stats(rs.Select(r => r.Seconds));
                string auc = double.IsNaN(u) ? "—" : FormattableString.Invariant($"{u:F4} ± {usd:F4}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {Names[t]} | {a * 100:F2}% ± {asd * 100:F2} | {f:F4} ± {fsd:F4} | {auc} | {s:F1} ± {ssd:F1} | {string.Join(" ", rs.Select(r => (r.Accuracy * 100).ToString("F2", CultureInfo.InvariantCulture)))} |");
            }
            sb.AppendLine();
            var ours = results.Where(r => r.Set == set && r.Trainer == "ours").ToList();
            var classical = trainers.Where(t => t != "ours").Select(t => results.Where(r => r.Set == set && r.Trainer == t).ToList()).Where(l => l.Count > 0).ToList();
            if (ours.Count > 0 && classical.Count > 0)
            {
                double oa = ours.Average(r => r.Accuracy), of = ours.Average(r => r.F1);
                var bestA = classical.OrderByDescending(l => l.Average(r => r.Accuracy)).First();
                var bestF = classical.OrderByDescending(l => l.Average(r => r.F1)).First();
                sb.AppendLine(CultureInfo.InvariantCulture, $"- mean accuracy {oa * 100:F2}% vs best classical {bestA.Average(r => r.Accuracy) * 100:F2}% ({Names[bestA[0].Trainer]}): {(oa >= bestA.Average(r => r.Accuracy) ? "met" : "NOT met")}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"- mean F1 {of:F4} vs best classical {bestF.Average(r => r.F1):F4} ({Names[bestF[0].Trainer]}): {(of >= bestF.Average(r => r.F1) ? "met" : "NOT met")}");
                var sdca = results.Where(r => r.Set == set && r.Trainer == "sdca").ToDictionary(r => r.Group);
                if (sdca.Count > 0)
                {
                    var below = ours.Where(r => sdca.TryGetValue(r.Group, out var b) && (r.Accuracy < b.Accuracy || r.F1 < b.F1)).Select(r => r.Group).ToList();
                    sb.AppendLine(below.Count == 0 ? "- no seed group below the in-run SDCA (accuracy and F1): met"
                        : $"- seed groups below the in-run SDCA (accuracy or F1): {string.Join(", ", below)} — NOT met");
                }
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }

    private static void WriteDoc(string path, string generated)
    {
        const string begin = "<!-- text-compare:begin -->", end = "<!-- text-compare:end -->";
        string text = File.Exists(path) ? File.ReadAllText(path) : $"# Text classification\n\n{begin}\n{end}\n";
        int b = text.IndexOf(begin, StringComparison.Ordinal), e = text.IndexOf(end, StringComparison.Ordinal);
        if (b < 0 || e < b) throw new InvalidDataException($"'{path}' lacks the markers {begin} … {end} around the generated table.");
        File.WriteAllText(path, text[..(b + begin.Length)] + "\n" + generated.TrimEnd() + "\n" + text[e..]);
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }
}
