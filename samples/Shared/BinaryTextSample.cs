// Shared by the two binary text classification samples (SpamDetection, SentimentAnalysis): reading `label\ttext` files,
// the command line, training the recurrent classifier with the estimator's defaults next to ML.NET's FeaturizeText + SDCA,
// saving and reloading the model, and the JSON last line. Each sample's Program.cs keeps the story: its data and demo set.
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
using Rnn.MLNet.TextClassification;

internal sealed class LabeledText
{
    public bool Label { get; set; }
    public string Text { get; set; } = "";

    /// <summary>Reads `label\ttext` lines after a header, splitting on the first tab (no quoting: texts keep their quotes).</summary>
    public static List<LabeledText> ReadFile(string path, string positive)
    {
        var rows = new List<LabeledText>();
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            if (line.Length == 0) continue;
            int tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab < 0) throw new InvalidDataException($"'{path}': the line '{line}' has no tab; expected label<TAB>text.");
            rows.Add(new LabeledText { Label = string.Equals(line[..tab].Trim(), positive, StringComparison.OrdinalIgnoreCase), Text = line[(tab + 1)..] });
        }
        return rows;
    }
}

internal sealed class Prediction
{
    public bool PredictedLabel { get; set; }
    public float Probability { get; set; }
}

internal static class BinaryTextSample
{
    /// <summary>
    /// Trains <c>BinaryClassification.Trainers.RnnText</c> with its default options (an ensemble of recurrent classifiers
    /// with an n-gram linear part, early-stopped on folds of the training file) and the FeaturizeText + SDCA baseline on the
    /// same split, prints both, saves and reloads the model, shows a few test rows and ends with one JSON line.
    /// </summary>
    /// <param name="explain">Optional: from the trained model, a line to print under each example shown (SpamDetection: its most incriminating tokens).</param>
    public static int Run(string[] args, string dataSet, Action<string, string> writeDemo, Func<string, string> defaultPositive, string what,
        Func<RnnTextClassificationTransformer, Func<string, string>>? explain = null)
    {
        var options = Args.Parse(args, dataSet, writeDemo, defaultPositive);
        var ml = new MLContext(seed: options.Seed);
        var trainRows = LabeledText.ReadFile(options.Train, options.Positive);
        var testRows = LabeledText.ReadFile(options.Test, options.Positive);
        Console.WriteLine($"train: {options.Train} ({trainRows.Count} {what}, {trainRows.Count(r => r.Label)} '{options.Positive}')");
        Console.WriteLine($"test:  {options.Test} ({testRows.Count} {what}, {testRows.Count(r => r.Label)} '{options.Positive}')");
        IDataView train = ml.Data.LoadFromEnumerable(trainRows);
        IDataView test = ml.Data.LoadFromEnumerable(testRows);

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };
        // The trainer's log says how many members it trains, which epoch each keeps and why.
        ml.Log += (_, e) =>
        {
            if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info && e.Source.StartsWith("Rnn", StringComparison.Ordinal) && (!e.RawMessage.Contains("epoch ", StringComparison.Ordinal) || e.RawMessage.Contains("kept", StringComparison.Ordinal)))
                Console.WriteLine("  " + e.RawMessage);
        };

        // Every setting at its default: the recipe lives in the estimator. Only the seed, the Ctrl+C token and a progress line.
        var rnnOptions = new RnnTextClassifierOptions { Seed = options.Seed, CancellationToken = stop.Token };
        Console.WriteLine($"\ntraining RnnText with its default options (seed {options.Seed})…");
        var clock = Stopwatch.StartNew();
        RnnTextClassificationTransformer model;
        try { model = ml.BinaryClassification.Trainers.RnnText(rnnOptions).Fit(train); }
        catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return 130; }
        double trainSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"trained {model.Model.Networks.Count} member(s) in {trainSeconds:F1} s");
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));

        // The baseline: ML.NET's bag of word and character n-grams + SDCA logistic regression, on the same split.
        clock.Restart();
        var baseline = ml.Transforms.Text.FeaturizeText("Features", nameof(LabeledText.Text))
            .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression())
            .Fit(train);
        var baselineMetrics = ml.BinaryClassification.Evaluate(baseline.Transform(test));
        Console.WriteLine($"baseline (FeaturizeText + SdcaLogisticRegression) trained in {clock.Elapsed.TotalSeconds:F1} s");

        Console.WriteLine($"\n{"",-28}{"accuracy",10}{"F1",8}{"AUC",8}{"precision",11}{"recall",8}");
        foreach (var (name, m) in new[] { ("RnnText (defaults)", metrics), ("FeaturizeText + SDCA", baselineMetrics) })
            Console.WriteLine($"{name,-28}{m.Accuracy,10:P2}{m.F1Score,8:F3}{m.AreaUnderRocCurve,8:F4}{m.PositivePrecision,11:F3}{m.PositiveRecall,8:F3}");
        var cm = metrics.ConfusionMatrix;
        Console.WriteLine($"\nconfusion matrix of the RNN on the test set (rows: truth, columns: predicted)");
        Console.WriteLine($"{"",14}{options.Positive,10}{"not " + options.Positive,14}");
        Console.WriteLine($"{options.Positive,14}{cm.Counts[0][0],10}{cm.Counts[0][1],14}");
        Console.WriteLine($"{"not " + options.Positive,14}{cm.Counts[1][0],10}{cm.Counts[1][1],14}");

        // Save atomically (one .zip holds every member), load in a fresh MLContext and score a few test rows with it.
        string path = Path.Combine(Path.GetTempPath(), dataSet + "-rnn.zip");
        ml.Model.Save(model, train.Schema, path + ".tmp");
        File.Move(path + ".tmp", path, overwrite: true);
        var loaded = new MLContext().Model.Load(path, out _);
        var before = ml.Data.CreateEnumerable<Prediction>(model.Transform(test), reuseRowObject: false).Select(p => p.Probability).ToArray();
        var after = ml.Data.CreateEnumerable<Prediction>(loaded.Transform(test), reuseRowObject: false).Select(p => p.Probability).ToArray();
        Console.WriteLine($"\nsaved to {path} ({new FileInfo(path).Length / 1024} KB); reloaded scores identical: {before.SequenceEqual(after)}");
        PrintExamples(testRows, after, options.Positive, explain?.Invoke(model));

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            accuracy = Math.Round(metrics.Accuracy, 4),
            f1 = Math.Round(metrics.F1Score, 4),
            auc = Math.Round(metrics.AreaUnderRocCurve, 4),
            baseline_accuracy = Math.Round(baselineMetrics.Accuracy, 4),
            baseline_f1 = Math.Round(baselineMetrics.F1Score, 4),
            train_seconds = Math.Round(trainSeconds, 1),
            members = model.Model.Networks.Count,
        }));
        return 0;
    }

    /// <summary>A few positive and negative rows and up to four mistakes, with the model's probability (and <paramref name="why"/>'s line under each, when given).</summary>
    private static void PrintExamples(IReadOnlyList<LabeledText> rows, float[] probability, string positive, Func<string, string>? why)
    {
        var shown = rows.Select((r, i) => (Row: r, P: probability[i])).ToList();
        foreach (var (row, p) in shown.Where(s => s.Row.Label).Take(3).Concat(shown.Where(s => !s.Row.Label).Take(3)).Concat(shown.Where(s => (s.P > 0.5f) != s.Row.Label).Take(4)).Distinct())
        {
            string text = row.Text.Length > 90 ? row.Text[..87] + "..." : row.Text;
            string verdict = (p > 0.5f) == row.Label ? "  " : "✗ ";
            Console.WriteLine($"{verdict}P({positive})={p:F3}  [{(row.Label ? positive : "not " + positive)}] {text}");
            if (why is not null) Console.WriteLine($"{"",15}{why(row.Text)}");
        }
    }
}

internal sealed record Args(string Train, string Test, string Positive, int Seed)
{
    /// <summary>
    /// The command line: --train F --test F [--positive P] [--seed N]. Without --train the files come from
    /// ../shared/data/<paramref name="dataSet"/>/, or, when that is missing, from a demo set that <paramref name="writeDemo"/>
    /// writes (so `dotnet run` works anywhere).
    /// </summary>
    public static Args Parse(string[] args, string dataSet, Action<string, string> writeDemo, Func<string, string> defaultPositive)
    {
        string? Get(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        string shared = Path.GetFullPath(Path.Combine("..", "shared", "data", dataSet));
        string train = Get("--train") ?? Path.Combine(shared, "train.tsv");
        string test = Get("--test") ?? Path.Combine(shared, "test.tsv");
        if (Get("--train") is null && !File.Exists(train))
        {
            string dir = Path.Combine(Path.GetTempPath(), dataSet + "-demo");
            Directory.CreateDirectory(dir);
            train = Path.Combine(dir, "train.tsv"); test = Path.Combine(dir, "test.tsv");
            writeDemo(train, test);
            Console.WriteLine("(shared data not found: training on a small built-in demo set)");
        }
        foreach (var f in new[] { train, test })
            if (!File.Exists(f)) throw new FileNotFoundException($"Data file '{f}' does not exist (pass --train and --test).", f);
        string positive = Get("--positive") ?? defaultPositive(train);
        return new Args(train, test, positive, int.Parse(Get("--seed") ?? "1", CultureInfo.InvariantCulture));
    }
}
