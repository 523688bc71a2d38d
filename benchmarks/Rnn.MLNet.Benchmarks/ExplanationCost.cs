using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Explanations;
using Rnn.MLNet.Math;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>explain [--data DIR] [--messages N] [--seconds S] [--threads T] [--epochs E]</c>: the cost of per-token explanations of
/// the SMS spam classifier. Trains one member as samples/SpamDetection does (words seen twice, 2 bidirectional LSTM layers of
/// 64, embedding 64, 10% held out for early stopping, seed 1), then over the first N test messages times, per message:
/// the prediction alone, integrated gradients (default settings) and occlusion, each message's median over repeated runs,
/// reported as the mean and median over messages in µs per explained sequence; also the quadrature nodes integrated
/// gradients spent and its completeness gap.
/// </summary>
internal static class ExplanationCost
{
    private sealed class Row
    {
        public bool Label { get; set; }
        public string Text { get; set; } = "";
    }

    private static readonly string[] Options = { "--data", "--messages", "--seconds", "--threads", "--epochs" };

    public static int Run(string[] args)
    {
        CommandLine.RequireKnown(args, Options);
        Parallelism.MaxThreads = CommandLine.Int(args, "--threads", 1);
        string dir = CommandLine.Option(args, "--data") ?? Path.Combine("..", "shared", "data", "sms-spam");
        int messages = CommandLine.Int(args, "--messages", 200), epochs = CommandLine.Int(args, "--epochs", 30);
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "0.05", CultureInfo.InvariantCulture);
        List<Row> Read(string file) => File.ReadLines(Path.Combine(dir, file)).Skip(1).Where(l => l.Contains('\t', StringComparison.Ordinal))
            .Select(l => new Row { Label = l.StartsWith("spam\t", StringComparison.OrdinalIgnoreCase), Text = l[(l.IndexOf('\t', StringComparison.Ordinal) + 1)..] }).ToList();
        var train = Read("train.tsv");
        var test = Read("test.tsv").Take(messages).ToList();

        var ml = new MLContext(seed: 1);
        int vocabulary = Vocabulary.Build(train.Select(r => r.Text.ToLowerInvariant()), Tokenizer.Create(TokenizerKind.Word), minCount: 2).Count;
        var clock = Stopwatch.StartNew();
        var classifier = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            MaximumVocabularySize = vocabulary, MaximumLength = 100, Cell = CellType.Lstm, Layers = 2, Dropout = 0.3f, HiddenSize = 64,
            EmbeddingSize = 64, Bidirectional = true, Epochs = epochs, BatchSize = 32, LearningRate = 0.003, ValidationFraction = 0.1,
            EarlyStoppingPatience = 4, Seed = 1, EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0,
        }).Fit(ml.Data.LoadFromEnumerable(train));
        Console.WriteLine($"trained the SMS classifier in {clock.Elapsed.TotalSeconds:F1} s; timing {test.Count} test messages " +
            $"(mean {test.Average(r => classifier.Model.Encode(r.Text).Length):F1} tokens), {Parallelism.MaxThreads} thread(s), load {Load()}");

        var model = classifier.Model;
        var ig = new TextClassifierExplainer(model);
        var onePass = new TextClassifierExplainer(model, new TokenContributionOptions { MaximumSteps = 16 }); // 16 nodes, no refinement
        var occlusion = new TextClassifierExplainer(model, new TokenContributionOptions { Method = AttributionMethod.Occlusion });
        var nodes = new List<int>();
        var gaps = new List<double>();
        double worstGap = 0;
        var core = new TokenExplainer<float>(model.Network);
        var coreOnePass = new TokenExplainer<float>(model.Network, new TokenExplainerOptions { MaximumSteps = 16 });
        double Gap(TokenExplanation e) => System.Math.Abs(e.CompletenessGap) / System.Math.Max(1e-12, System.Math.Abs(e.Score - e.BaselineScore));
        foreach (var r in test)
        {
            var e = core.Explain(model.Encode(r.Text), 0);
            nodes.Add(e.QuadratureNodes);
            worstGap = System.Math.Max(worstGap, Gap(e));
            gaps.Add(Gap(coreOnePass.Explain(model.Encode(r.Text), 0)));
        }
        gaps.Sort();
        var results = new List<object>();
        foreach (var (name, body) in new (string, Action<string>)[]
        {
            ("predict", t => model.Predict(t)),
            ("integrated-gradients", t => ig.Explain(t)),
            ("ig-one-pass-16", t => onePass.Explain(t)),
            ("occlusion", t => occlusion.Explain(t)),
        })
        {
            var perMessage = test.Select(r => { for (int i = 0; i < 3; i++) body(r.Text); return Timing.Median(Timing.Sorted(() => body(r.Text), seconds, 5)) * 1e6; }).ToList();
            perMessage.Sort();
            double mean = perMessage.Average(), median = perMessage[perMessage.Count / 2];
            Console.WriteLine($"{name,-22} mean {mean,9:F1} µs, median {median,9:F1} µs per sequence (p90 {perMessage[(int)(perMessage.Count * 0.9)],9:F1})");
            results.Add(new { method = name, mean_us = System.Math.Round(mean, 1), median_us = System.Math.Round(median, 1) });
        }
        nodes.Sort();
        Console.WriteLine($"integrated gradients: quadrature nodes per message mean {nodes.Average():F1}, median {nodes[nodes.Count / 2]}, max {nodes.Max()}; worst completeness gap {worstGap:P3} of logit − baseline logit");
        Console.WriteLine($"one pass of 16 nodes: completeness gap median {gaps[gaps.Count / 2]:P2}, p90 {gaps[(int)(gaps.Count * 0.9)]:P2}, worst {gaps[^1]:P2}; within 1% for {gaps.Count(g => g <= 0.01)}/{gaps.Count}");
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { messages = test.Count, threads = Parallelism.MaxThreads, results, ig_nodes_mean = System.Math.Round(nodes.Average(), 1), ig_worst_gap = worstGap }));
        return 0;
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
