using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>precision-cost [--sequences N]</c>: how far the opt-in reduced precisions (<see cref="InferencePrecision"/>) move
/// the scores of the protocol's lstm-classify-1 shape (random PyTorch-default weights, N fresh uniform sequences): max and
/// mean |Δ probability| and max |Δ logit| against the exact path, one JSON line per precision.
/// <c>precision-cost --model FILE.zip --test FILE.tsv [--positive LABEL]</c>: the same trained ML.NET binary text
/// classifier (e.g. the one SpamDetection or SentimentAnalysis saves) scored on the test file (label&lt;TAB&gt;text after a
/// header) in each precision: accuracy, F1, AUC and max |Δ probability| against the exact path, one JSON line each.
/// </summary>
internal static class PrecisionCost
{
    private static readonly string[] Options = { "--sequences", "--model", "--test", "--positive" };

    private static readonly InferencePrecision[] Reduced = { InferencePrecision.BFloat16RecurrentWeights, InferencePrecision.Int8Weights };

    public static int Run(string[] args)
    {
        CommandLine.RequireKnown(args, Options);
        InferencePrecision saved = InferenceCache.Precision;
        try
        {
            string? model = CommandLine.Option(args, "--model");
            if (model is null) return RandomModel(CommandLine.Int(args, "--sequences", 300));
            string test = CommandLine.Option(args, "--test") ?? throw new ArgumentException("precision-cost: --model needs --test FILE.tsv.");
            return TrainedModel(model, test, CommandLine.Option(args, "--positive") ?? "spam");
        }
        finally { InferenceCache.Precision = saved; }
    }

    private static int RandomModel(int sequences)
    {
        const int V = 20000, E = 64, H = 128, T = 50;
        var net = new SequenceNetwork<float>(new NetworkOptions { Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = V, EmbeddingSize = E, HiddenSize = H, OutputSize = 1, Output = OutputMode.LastStep });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 0);
        var rng = new Rng(0);
        var batches = Enumerable.Range(0, sequences).Select(_ => SequenceBatch<float>.FromTokens(Enumerable.Range(0, T).Select(_ => rng.NextInt(V)).ToArray(), 1, T)).ToArray();
        float[] Logits(InferencePrecision p) { InferenceCache.Precision = p; return batches.Select(b => net.Forward(b)[0]).ToArray(); }
        float[] exact = Logits(InferencePrecision.Exact);
        foreach (var p in Reduced)
        {
            float[] logits = Logits(p);
            var dp = exact.Zip(logits, (a, b) => (double)System.Math.Abs(Sigmoid(a) - Sigmoid(b))).ToArray();
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["model"] = "lstm-classify-1 (random, PyTorch default init)", ["precision"] = InferenceCache.EnvironmentName(p), ["sequences"] = sequences,
                ["max_abs_dprob"] = Round(dp.Max()), ["mean_abs_dprob"] = Round(dp.Average()),
                ["max_abs_dlogit"] = Round(exact.Zip(logits, (a, b) => (double)System.Math.Abs(a - b)).Max()),
                ["prob_range"] = new[] { Round(exact.Min(Sigmoid)), Round(exact.Max(Sigmoid)) },
            }));
        }
        return 0;
    }

    private static double Sigmoid(float z) => Losses.SigmoidBinaryCrossEntropy.Sigmoid(z);

    private static double Round(double v) => System.Math.Round(v, 7);

    private sealed class Row
    {
        public bool Label { get; set; }
        public string Text { get; set; } = "";
    }

    private sealed class Scored
    {
        public float Probability { get; set; }
    }

    private static int TrainedModel(string modelPath, string testPath, string positive)
    {
        var rows = File.ReadLines(testPath).Skip(1).Where(l => l.Length > 0).Select(line =>
        {
            int tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab < 0) throw new InvalidDataException($"'{testPath}': the line '{line}' has no tab; expected label<TAB>text.");
            return new Row { Label = string.Equals(line[..tab].Trim(), positive, StringComparison.OrdinalIgnoreCase), Text = line[(tab + 1)..] };
        }).ToList();
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(modelPath, out _);
        var data = ml.Data.LoadFromEnumerable(rows);
        float[]? exact = null;
        foreach (var p in new[] { InferencePrecision.Exact }.Concat(Reduced))
        {
            InferenceCache.Precision = p;
            var scored = model.Transform(data);
            var metrics = ml.BinaryClassification.Evaluate(scored);
            float[] prob = ml.Data.CreateEnumerable<Scored>(scored, reuseRowObject: false).Select(s => s.Probability).ToArray();
            exact ??= prob;
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["model"] = Path.GetFileName(modelPath), ["test"] = testPath, ["rows"] = rows.Count, ["precision"] = InferenceCache.EnvironmentName(p),
                ["accuracy"] = System.Math.Round(metrics.Accuracy, 4), ["f1"] = System.Math.Round(metrics.F1Score, 4), ["auc"] = System.Math.Round(metrics.AreaUnderRocCurve, 4),
                ["max_abs_dprob"] = Round(exact.Zip(prob, (a, b) => (double)System.Math.Abs(a - b)).Max()),
                ["decisions_changed"] = exact.Zip(prob, (a, b) => (a > 0.5f) != (b > 0.5f)).Count(c => c),
            }));
        }
        return 0;
    }
}
