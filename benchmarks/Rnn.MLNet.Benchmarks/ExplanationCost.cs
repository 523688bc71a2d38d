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
/// <c>explain [--data DIR] [--messages N] [--seconds S] [--threads T] [--epochs E] [--model default|lstm2] [--max-steps M] [--timed K]</c>:
/// the cost and completeness of per-token explanations of the SMS spam classifier. <c>default</c> (the default) trains the
/// classifier samples/SpamDetection trains (the estimator's defaults, seed 1: an ensemble of bidirectional GRUs with the n-gram
/// linear part) and explains the whole model; <c>lstm2</c> trains one member of 2 bidirectional LSTM layers of 64, embedding 64,
/// no n-grams (words seen twice, 10% held out for early stopping, seed 1). Then over the first N test messages it times, per
/// message: the prediction alone, integrated gradients (default settings, or MaximumSteps = M), one pass of 16 nodes, and
/// occlusion, each message's median over repeated runs, reported as the mean and median over messages in µs per explained
/// sequence (over the first K of them with --timed); and, over all N, the quadrature nodes integrated gradients spent and its
/// completeness gap per message.
/// </summary>
internal static class ExplanationCost
{
    private sealed class Row
    {
        public bool Label { get; set; }
        public string Text { get; set; } = "";
    }

    private static readonly string[] Options = { "--data", "--messages", "--seconds", "--threads", "--epochs", "--model", "--max-steps", "--timed" };

    public static int Run(string[] args)
    {
        CommandLine.RequireKnown(args, Options);
        Parallelism.MaxThreads = CommandLine.Int(args, "--threads", 1);
        string dir = CommandLine.Option(args, "--data") ?? Path.Combine("..", "shared", "data", "sms-spam");
        int messages = CommandLine.Int(args, "--messages", 200), epochs = CommandLine.Int(args, "--epochs", 30);
        int maxSteps = CommandLine.Int(args, "--max-steps", new TokenContributionOptions().MaximumSteps);
        int timed = CommandLine.Int(args, "--timed", messages);
        string kind = CommandLine.Option(args, "--model") ?? "default";
        if (kind is not ("default" or "lstm2")) throw new ArgumentException($"--model must be default or lstm2; got '{kind}'.");
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "0.05", CultureInfo.InvariantCulture);
        List<Row> Read(string file) => File.ReadLines(Path.Combine(dir, file)).Skip(1).Where(l => l.Contains('\t', StringComparison.Ordinal))
            .Select(l => new Row { Label = l.StartsWith("spam\t", StringComparison.OrdinalIgnoreCase), Text = l[(l.IndexOf('\t', StringComparison.Ordinal) + 1)..] }).ToList();
        var train = Read("train.tsv");
        var test = Read("test.tsv").Take(messages).ToList();

        var ml = new MLContext(seed: 1);
        int vocabulary = Vocabulary.Build(train.Select(r => r.Text.ToLowerInvariant()), Tokenizer.Create(TokenizerKind.Word), minCount: 2).Count;
        var clock = Stopwatch.StartNew();
        var options = kind == "default" ? new RnnTextClassifierOptions { Seed = 1 } : new RnnTextClassifierOptions
        {
            MaximumVocabularySize = vocabulary, MaximumLength = 100, Cell = CellType.Lstm, Layers = 2, Dropout = 0.3f, HiddenSize = 64,
            EmbeddingSize = 64, Bidirectional = true, Epochs = epochs, BatchSize = 32, LearningRate = 0.003, ValidationFraction = 0.1,
            EarlyStoppingPatience = 4, Seed = 1, EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0,
        };
        var classifier = ml.BinaryClassification.Trainers.RnnText(options).Fit(ml.Data.LoadFromEnumerable(train));
        var model = classifier.Model;
        Console.WriteLine($"trained the SMS classifier ({kind}: {model.Networks.Count} member(s), {model.Networks[0].Options.Cell}, " +
            $"{(model.Bag is null ? "no n-grams" : $"{model.Bag.Count} n-gram features")}) in {clock.Elapsed.TotalSeconds:F1} s; timing {test.Count} test messages " +
            $"(mean {test.Average(r => model.Encode(r.Text).Length):F1} tokens; {System.Math.Min(timed, test.Count)} timed), {Parallelism.MaxThreads} thread(s), load {Load()}");

        var ig = new TextClassifierExplainer(model, new TokenContributionOptions { MaximumSteps = maxSteps });
        var onePass = new TextClassifierExplainer(model, new TokenContributionOptions { MaximumSteps = 16 }); // 16 nodes, no refinement
        var occlusion = new TextClassifierExplainer(model, new TokenContributionOptions { Method = AttributionMethod.Occlusion });
        var nodes = new List<int>();
        var gaps = new List<double>();
        var onePassGaps = new List<double>();
        double Gap(TextExplanation e) => System.Math.Abs(e.CompletenessGap) / System.Math.Max(1e-12, System.Math.Abs((double)e.Logit - e.BaselineLogit));
        foreach (var r in test)
        {
            var e = ig.Explain(r.Text);
            nodes.Add(e.QuadratureNodes);
            gaps.Add(Gap(e));
            onePassGaps.Add(Gap(onePass.Explain(r.Text)));
        }
        var results = new List<object>();
        foreach (var (name, body) in new (string, Action<string>)[]
        {
            ("predict", t => model.Predict(t)),
            ("integrated-gradients", t => ig.Explain(t)),
            ("ig-one-pass-16", t => onePass.Explain(t)),
            ("occlusion", t => occlusion.Explain(t)),
        })
        {
            var perMessage = test.Take(timed).Select(r => { for (int i = 0; i < 2; i++) body(r.Text); return Timing.Median(Timing.Sorted(() => body(r.Text), seconds, 3)) * 1e6; }).ToList();
            perMessage.Sort();
            double mean = perMessage.Average(), median = perMessage[perMessage.Count / 2];
            Console.WriteLine($"{name,-22} mean {mean,9:F1} µs, median {median,9:F1} µs per sequence (p90 {perMessage[(int)(perMessage.Count * 0.9)],9:F1})");
            results.Add(new { method = name, mean_us = System.Math.Round(mean, 1), median_us = System.Math.Round(median, 1) });
        }
        string Summary(List<double> g)
        {
            var sorted = g.OrderBy(x => x).ToList();
            return $"median {sorted[sorted.Count / 2]:P3}, p90 {sorted[(int)(sorted.Count * 0.9)]:P3}, worst {sorted[^1]:P3}; within 1% for {g.Count(x => x <= 0.01)}/{g.Count}";
        }
        var sortedNodes = nodes.OrderBy(n => n).ToList();
        Console.WriteLine($"integrated gradients (MaximumSteps {maxSteps}): quadrature nodes per message mean {nodes.Average():F1}, median {sortedNodes[nodes.Count / 2]}, max {nodes.Max()}; completeness gap (of score − baseline score) {Summary(gaps)}");
        for (int i = 0; i < test.Count; i++)
            if (gaps[i] > 0.01) Console.WriteLine($"  over 1%: gap {gaps[i]:P2} with {nodes[i]} nodes: {test[i].Text[..System.Math.Min(60, test[i].Text.Length)]}");
        Console.WriteLine($"one pass of 16 nodes: completeness gap {Summary(onePassGaps)}");
        if (model.Bag is null && model.Networks.Count == 1)
        {
            // the refinement's halves with 16 nodes each (as many as the first pass) instead of the default 4, same budget
            var wide = new TokenExplainer<float>(model.Network, new TokenExplainerOptions { MaximumSteps = maxSteps, RefinementSteps = 16 });
            var wideGaps = new List<double>();
            var wideNodes = new List<int>();
            foreach (var r in test)
            {
                var e = wide.Explain(model.Encode(r.Text), 0);
                wideGaps.Add(e.RelativeCompletenessGap);
                wideNodes.Add(e.QuadratureNodes);
            }
            Console.WriteLine($"refined halves of 16 nodes: nodes per message mean {wideNodes.Average():F1}, max {wideNodes.Max()}; completeness gap {Summary(wideGaps)}");
        }
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { model = kind, messages = test.Count, threads = Parallelism.MaxThreads, results, ig_nodes_mean = System.Math.Round(nodes.Average(), 1),
            ig_within_1pct = gaps.Count(g => g <= 0.01), ig_worst_gap = gaps.Max() }));
        return 0;
    }

    private sealed class Sentence
    {
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public string[] Tags { get; set; } = Array.Empty<string>();
    }

    private static readonly string[] TaggerOptions = { "--data", "--train-sentences", "--epochs", "--sentences", "--seconds", "--threads" };

    /// <summary>
    /// <c>explain-tagger [--data DIR] [--train-sentences N] [--epochs E] [--sentences M] [--seconds S] [--threads T]</c>: the cost
    /// and completeness of per-token contributions to every tag of a tagger with samples/PosTagging's architecture (word embedding
    /// 100, character features 64 per direction, 2 bidirectional LSTM layers of 128, lower-cased words), trained briefly on the
    /// first N sentences of UD English EWT (the cost depends on the architecture and the sentence, not on how well it tags). Over
    /// the first M test sentences: tagging alone, integrated gradients and occlusion for every position (one explanation per
    /// position), each sentence's median over repeated runs, in µs per sentence; completeness gap per position.
    /// </summary>
    public static int RunTagger(string[] args)
    {
        CommandLine.RequireKnown(args, TaggerOptions);
        Parallelism.MaxThreads = CommandLine.Int(args, "--threads", 1);
        string dir = CommandLine.Option(args, "--data") ?? Path.Combine("..", "shared", "data", "ud-english-ewt");
        int trainCount = CommandLine.Int(args, "--train-sentences", 2000), epochs = CommandLine.Int(args, "--epochs", 3), count = CommandLine.Int(args, "--sentences", 100);
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "0.05", CultureInfo.InvariantCulture);
        var train = Rnn.MLNet.Data.Conllu.ReadFile(Path.Combine(dir, "en_ewt-ud-train.conllu")).Take(trainCount).Select(s => new Sentence { Tokens = s.Tokens, Tags = s.Tags }).ToList();
        var test = Rnn.MLNet.Data.Conllu.ReadFile(Path.Combine(dir, "en_ewt-ud-test.conllu")).Take(count).Select(s => s.Tokens).ToList();
        var ml = new MLContext(seed: 1);
        var clock = Stopwatch.StartNew();
        var tagger = ml.Transforms.Text.RnnSequenceTagger(new Rnn.MLNet.Tagging.RnnSequenceTaggerOptions
        {
            LowerCase = true, EmbeddingSize = 100, CharacterHiddenSize = 64, CharacterEmbeddingSize = 32, HiddenSize = 128, Layers = 2, Bidirectional = true,
            Epochs = epochs, BatchSize = 32, LearningRate = 2e-3, Seed = 1,
        }).Fit(ml.Data.LoadFromEnumerable(train));
        var model = tagger.Model;
        Console.WriteLine($"trained the tagger on {train.Count} sentences for {epochs} epoch(s) in {clock.Elapsed.TotalSeconds:F1} s; timing {test.Count} test sentences " +
            $"(mean {test.Average(t => t.Length):F1} tokens), {Parallelism.MaxThreads} thread(s), load {Load()}");
        var ig = new SequenceTaggerExplainer(model);
        var occlusion = new SequenceTaggerExplainer(model, new TokenContributionOptions { Method = AttributionMethod.Occlusion });
        var gaps = new List<double>();
        foreach (var tokens in test) gaps.Add(ig.Explain(tokens).WorstRelativeCompletenessGap);
        var results = new List<object>();
        foreach (var (name, body) in new (string, Action<string[]>)[]
        {
            ("tag", t => model.Predict(t)),
            ("integrated-gradients", t => ig.Explain(t)),
            ("occlusion", t => occlusion.Explain(t)),
        })
        {
            var perSentence = test.Select(t => { body(t); return Timing.Median(Timing.Sorted(() => body(t), seconds, 3)) * 1e6; }).ToList();
            double perPosition = perSentence.Sum() / test.Sum(t => t.Length);
            perSentence.Sort();
            Console.WriteLine($"{name,-22} mean {perSentence.Average(),10:F1} µs, median {perSentence[perSentence.Count / 2],10:F1} µs per sentence; {perPosition,9:F1} µs per tagged position");
            results.Add(new { method = name, mean_us = System.Math.Round(perSentence.Average(), 1), per_position_us = System.Math.Round(perPosition, 1) });
        }
        gaps.Sort();
        Console.WriteLine($"integrated gradients: worst completeness gap per sentence (over its positions) median {gaps[gaps.Count / 2]:P3}, worst {gaps[^1]:P3}; sentences whose every position is within 1%: {gaps.Count(g => g <= 0.01)}/{gaps.Count}");
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { sentences = test.Count, threads = Parallelism.MaxThreads, results, worst_gap = gaps[^1] }));
        return 0;
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
