// Shared by the two binary text classification samples (SpamDetection, SentimentAnalysis): reading `label\ttext` files,
// the command line, and the ensemble of recurrent classifiers (mean probability, scored by ML.NET's evaluator, saved and
// reloaded). Each sample's Program.cs keeps the story: its data, its model settings, its baseline.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Text;

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

internal sealed class EnsembleScore
{
    public bool Label { get; set; }
    public float Score { get; set; }
    public float Probability { get; set; }
    public bool PredictedLabel { get; set; }
}

/// <summary>An ensemble of binary classifiers: the probability is the mean of the members'.</summary>
internal static class Ensemble
{
    public static float[] MeanProbability(MLContext ml, IEnumerable<ITransformer> models, IDataView data, int rows)
    {
        var sums = new float[rows];
        int n = 0;
        foreach (var m in models)
        {
            int i = 0;
            foreach (var p in ml.Data.CreateEnumerable<Prediction>(m.Transform(data), reuseRowObject: false)) sums[i++] += p.Probability;
            n++;
        }
        return sums.Select(x => x / n).ToArray();
    }

    /// <summary>ML.NET's binary evaluator on the ensemble's probabilities (Score = their logit).</summary>
    public static CalibratedBinaryClassificationMetrics Evaluate(MLContext ml, IReadOnlyList<LabeledText> rows, float[] probability) =>
        ml.BinaryClassification.Evaluate(ml.Data.LoadFromEnumerable(rows.Select((r, i) =>
        {
            float p = Math.Clamp(probability[i], 1e-7f, 1 - 1e-7f);
            return new EnsembleScore { Label = r.Label, Probability = probability[i], PredictedLabel = probability[i] > 0.5f, Score = MathF.Log(p / (1 - p)) };
        })));

    /// <summary>Saves each member atomically to {temp}/{name}-{i}.zip and loads it back in a fresh MLContext.</summary>
    public static List<ITransformer> SaveAndReload(MLContext ml, IEnumerable<ITransformer> members, DataViewSchema schema, string name)
    {
        var loaded = new List<ITransformer>();
        int i = 0;
        foreach (var member in members)
        {
            string path = Path.Combine(Path.GetTempPath(), $"{name}-{++i}.zip");
            ml.Model.Save(member, schema, path + ".tmp");
            File.Move(path + ".tmp", path, overwrite: true);
            loaded.Add(new MLContext().Model.Load(path, out _));
        }
        return loaded;
    }

    public static void PrintComparison(CalibratedBinaryClassificationMetrics ensemble, int members, CalibratedBinaryClassificationMetrics baseline)
    {
        Console.WriteLine($"\n{"",-28}{"accuracy",10}{"F1",8}{"AUC",8}{"precision",11}{"recall",8}");
        foreach (var (name, m) in new[] { ($"RNN ensemble of {members}", ensemble), ("FeaturizeText + SDCA", baseline) })
            Console.WriteLine($"{name,-28}{m.Accuracy,10:P2}{m.F1Score,8:F3}{m.AreaUnderRocCurve,8:F4}{m.PositivePrecision,11:F3}{m.PositiveRecall,8:F3}");
    }

    /// <summary>A few positive and negative rows and up to four mistakes, with the ensemble's probability (and <paramref name="why"/>'s line under each, when given).</summary>
    public static void PrintExamples(IReadOnlyList<LabeledText> rows, float[] probability, string positive, string negative, Func<string, string>? why = null)
    {
        var shown = rows.Select((r, i) => (Row: r, P: probability[i])).ToList();
        foreach (var (row, p) in shown.Where(s => s.Row.Label).Take(3).Concat(shown.Where(s => !s.Row.Label).Take(3)).Concat(shown.Where(s => (s.P > 0.5f) != s.Row.Label).Take(4)).Distinct())
        {
            string text = row.Text.Length > 90 ? row.Text[..87] + "..." : row.Text;
            string verdict = (p > 0.5f) == row.Label ? "  " : "✗ ";
            Console.WriteLine($"{verdict}P({positive})={p:F3}  [{(row.Label ? positive : negative)}] {text}");
            if (why is not null) Console.WriteLine($"{"",15}{why(row.Text)}");
        }
    }
}

internal sealed record Args(string Train, string Test, string Positive, TokenizerKind Tokenizer, CellType Cell, int Hidden, int Epochs, double LearningRate, int Seed, int Seeds)
{
    /// <summary>
    /// The command line. Without --train the files come from ../shared/data/<paramref name="dataSet"/>/, or, when that is
    /// missing, from a demo set that <paramref name="writeDemo"/> writes (so `dotnet run` works anywhere).
    /// </summary>
    public static Args Parse(string[] args, string dataSet, Action<string, string> writeDemo, Func<string, string> defaultPositive,
        string defaultCell, int defaultEpochs, double defaultLearningRate)
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
        var tokenizer = (Get("--tokenizer") ?? "word").ToLowerInvariant() switch
        {
            "char" or "character" => TokenizerKind.Character,
            "word" => TokenizerKind.Word,
            var t => throw new ArgumentException($"--tokenizer must be char or word; got '{t}'."),
        };
        var cell = Enum.Parse<CellType>(Get("--cell") ?? defaultCell, ignoreCase: true);
        int Int(string name, int fallback) => int.Parse(Get(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return new Args(train, test, positive, tokenizer, cell, Int("--hidden", 64), Int("--epochs", defaultEpochs),
            double.Parse(Get("--lr") ?? defaultLearningRate.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            Int("--seed", 1), Math.Max(1, Int("--seeds", 5)));
    }
}
