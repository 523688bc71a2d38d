// SMS spam detection: a recurrent text classifier in an ML.NET pipeline, against ML.NET's own FeaturizeText + SDCA
// logistic regression on the same split.
//
//   dotnet run -c Release --project samples/SpamDetection -- [--train F] [--test F] [--positive spam]
//        [--tokenizer word|char] [--cell lstm|gru|rnntanh] [--hidden N] [--epochs N] [--lr X] [--seed N] [--seeds K]
//
// Files are `label\ttext` with a header row; labels ham/spam or 0/1 (--positive names the positive label; default spam,
// or 1 when no label is "spam"). Messages contain `"` and HTML entities, so lines are split on the first tab with no
// quoting. Without --train it reads ../shared/data/sms-spam/ when present, else a small built-in set. Ctrl+C stops
// training between batches. The last line is JSON.
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
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;

var options = Args.Parse(args, "sms-spam", DemoData.Write, train => File.ReadLines(train).Skip(1).Any(l => l.StartsWith("spam\t", StringComparison.OrdinalIgnoreCase)) ? "spam" : "1", defaultCell: "Lstm", defaultEpochs: 30, defaultLearningRate: 0.003);
var ml = new MLContext(seed: 1); // the baseline's seed; --seed changes only the recurrent model

var trainRows = LabeledText.ReadFile(options.Train, options.Positive);
var testRows = LabeledText.ReadFile(options.Test, options.Positive);
Console.WriteLine($"train: {options.Train} ({trainRows.Count} messages, {trainRows.Count(r => r.Label)} '{options.Positive}')");
Console.WriteLine($"test:  {options.Test} ({testRows.Count} messages, {testRows.Count(r => r.Label)} '{options.Positive}')");
IDataView train = ml.Data.LoadFromEnumerable(trainRows);
IDataView test = ml.Data.LoadFromEnumerable(testRows);

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };

// The recurrent model: words → embedding → 2 bidirectional LSTM layers → logistic head on the final states.
// Words seen once in training become <unk> (the vocabulary keeps words seen at least twice), so the model learns what an
// unknown word means instead of meeting an untrained <unk> embedding only at test time; that mattered most here.
// A single model depends on its seed (over seeds 1-10 the test accuracy ranged 97.58-99.32%), and choosing the seed by
// the held-out 10% of the training file did not work (it picked one of the worst), so the sample trains K models (seeds
// seed..seed+K-1, default 1..5) and averages their probabilities: an ensemble, which needs no choice at all. The test
// file is read only to score the ensemble and the baseline.
int vocabulary = Vocabulary.Build(trainRows.Select(r => r.Text.ToLowerInvariant()), Tokenizer.Create(options.Tokenizer), minCount: 2).Count;
RnnTextClassifierOptions RnnOptions(int seed) => new()
{
    Tokenizer = options.Tokenizer, MaximumVocabularySize = vocabulary, MaximumLength = options.Tokenizer == TokenizerKind.Character ? 300 : 100,
    Cell = options.Cell, Layers = 2, Dropout = 0.3f, HiddenSize = options.Hidden, EmbeddingSize = 64, Bidirectional = true,
    Epochs = options.Epochs, BatchSize = 32, LearningRate = options.LearningRate,
    ValidationFraction = 0.1, EarlyStoppingPatience = 4, Seed = seed, CancellationToken = stop.Token,
    Progress = r => Console.WriteLine($"  {r}"),
};
Console.WriteLine($"\ntraining {options.Seeds} {options.Tokenizer.ToString().ToLowerInvariant()}-level 2-layer bidirectional {options.Cell} models (hidden {options.Hidden}, vocabulary {vocabulary});" +
    " 10% of train held out for early stopping…");
var clock = Stopwatch.StartNew();
var members = new List<RnnTextClassificationTransformer>();
for (int seed = options.Seed; seed < options.Seed + options.Seeds; seed++)
{
    Console.WriteLine($"seed {seed}:");
    try { members.Add(ml.BinaryClassification.Trainers.RnnText(RnnOptions(seed)).Fit(train)); }
    catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return 130; }
}
double trainSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"trained {members.Count} models in {trainSeconds:F1} s");

// The ensemble's probability is the mean of the members'; ML.NET's evaluator scores it like any binary classifier.
var ensembleP = Ensemble.MeanProbability(ml, members, test, testRows.Count);
var metrics = Ensemble.Evaluate(ml, testRows, ensembleP);
var memberAccuracies = members.Select(m => ml.BinaryClassification.Evaluate(m.Transform(test)).Accuracy).ToList();

// The baseline: ML.NET's bag of word and character n-grams + SDCA logistic regression, on the same split.
clock.Restart();
var baseline = ml.Transforms.Text.FeaturizeText("Features", nameof(LabeledText.Text))
    .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression())
    .Fit(train);
var baselineMetrics = ml.BinaryClassification.Evaluate(baseline.Transform(test));
Console.WriteLine($"baseline (FeaturizeText + SdcaLogisticRegression) trained in {clock.Elapsed.TotalSeconds:F1} s");

Ensemble.PrintComparison(metrics, members.Count, baselineMetrics);
Console.WriteLine($"\nconfusion matrix of the RNN on the test set (rows: truth, columns: predicted)");
var cm = metrics.ConfusionMatrix;
Console.WriteLine($"{"",14}{options.Positive,10}{"not " + options.Positive,14}");
Console.WriteLine($"{options.Positive,14}{cm.Counts[0][0],10}{cm.Counts[0][1],14}");
Console.WriteLine($"{"not " + options.Positive,14}{cm.Counts[1][0],10}{cm.Counts[1][1],14}");

Console.WriteLine($"(the members alone: {string.Join(", ", memberAccuracies.Select(a => a.ToString("P1", CultureInfo.InvariantCulture)))})");

// Save each member atomically, load them in a fresh MLContext and score a few test messages with the loaded ensemble.
var reloadedP = Ensemble.MeanProbability(ml, Ensemble.SaveAndReload(ml, members, train.Schema, "spam-detection"), test, testRows.Count);
Console.WriteLine($"\nsaved the {members.Count} members to {Path.GetTempPath()}spam-detection-*.zip; reloaded ensemble scores identical: {reloadedP.SequenceEqual(ensembleP)}");
// Under each shown message, its three most incriminating tokens: the largest contributions to the spam logit.
var blame = new IncriminatingTokens(members);
Ensemble.PrintExamples(testRows, reloadedP, options.Positive, "not " + options.Positive, text => "most incriminating: " + blame.Top3(text));

Console.WriteLine(JsonSerializer.Serialize(new
{
    accuracy = Math.Round(metrics.Accuracy, 4),
    f1 = Math.Round(metrics.F1Score, 4),
    auc = Math.Round(metrics.AreaUnderRocCurve, 4),
    baseline_accuracy = Math.Round(baselineMetrics.Accuracy, 4),
    baseline_f1 = Math.Round(baselineMetrics.F1Score, 4),
    train_seconds = Math.Round(trainSeconds, 1),
    members = members.Count,
    member_accuracy_mean = Math.Round(memberAccuracies.Average(), 4),
}));
return 0;

internal static class DemoData
{
    private static readonly string[] Spam =
    {
        "WINNER!! You have been selected to receive a £900 prize reward! Call 09061701461 to claim. Valid 12 hours only.",
        "Free entry in 2 a wkly comp to win FA Cup final tkts. Text FA to 87121 to receive entry question",
        "URGENT! Your mobile number has won a £2000 bonus caller prize. Call 09058095201 from a landline now",
        "Congratulations! You've won a free holiday. Reply WIN to 80086 to claim your reward. T&Cs apply",
        "SIX chances to win CASH! From 100 to 20,000 pounds txt CSH11 and send to 87575. Cost 150p/day",
        "Your free ringtone is waiting to be collected. Simply text the password MIX to 85069 to verify",
        "Had your mobile 11 months or more? U R entitled to update to the latest colour camera mobile for Free! Call 08002986030",
        "You are a winner U have been specially selected 2 receive £1000 cash or a 4* holiday. Call 0871277810810",
    };
    private static readonly string[] Ham =
    {
        "Ok lar... Joking wif u oni...", "I'll be home in 10 minutes, do you want anything from the shop?",
        "Are we still meeting for lunch tomorrow?", "Sorry, I'll call later", "Hey, how was the exam? Did it go well?",
        "Can you pick up some milk on the way back", "I'm gonna be late, the bus is stuck in traffic",
        "Happy birthday! Hope you have a great day :)", "Did you see the match last night? What a goal",
        "Mum says dinner is at 7, don't be late", "Thanks for yesterday, it was really fun", "Where are you? I'm at the station",
    };

    public static void Write(string trainPath, string testPath)
    {
        // Train on every message repeated; test on the same kinds of messages lightly changed (a demo, not a benchmark).
        var train = new List<string> { "label\ttext" };
        for (int r = 0; r < 8; r++)
            train.AddRange(Spam.Select(s => "spam\t" + s).Concat(Ham.Select(h => "ham\t" + h)));
        var test = new List<string> { "label\ttext" };
        test.AddRange(Spam.Select(s => "spam\t" + s.Replace("Call", "Ring", StringComparison.Ordinal)));
        test.AddRange(Ham.Select(h => "ham\t" + h.ToLowerInvariant()));
        File.WriteAllLines(trainPath, train);
        File.WriteAllLines(testPath, test);
    }
}
