// Part-of-speech tagging on a real treebank: every word of a sentence gets its universal POS tag (NOUN, VERB, ADP, …),
// read from CoNLL-U files (Universal Dependencies), through the ML.NET tagger component and EvaluateSequenceTags.
//
//   dotnet run -c Release --project samples/PosTagging -- [--train F] [--dev F] [--test F] [--minutes M]
//
// Defaults: the English Web Treebank split in ../shared/data/ud-english-ewt/. The model: word embeddings plus
// character-level word features (a bidirectional LSTM over each word's characters), two bidirectional LSTM layers, dropout
// on the input and between layers, rare-word dropout. The dev file chooses the epoch (lowest dev loss) and the learning
// rate decay; the test file is only scored. --minutes bounds training time (default 20). Ctrl+C stops training between
// batches. Also: --epochs, --hidden, --layers, --embedding, --char-hidden, --lr, --batch, --seed, --max-train N (first N
// training sentences, for quick runs). The last line is JSON.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Microsoft.ML;
using Rnn.MLNet;
using Rnn.MLNet.Data;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.Training;

string dataDir = Path.GetFullPath(Path.Combine("..", "shared", "data", "ud-english-ewt"));
string trainPath = SampleArgs.String(args, "--train", Path.Combine(dataDir, "en_ewt-ud-train.conllu"));
string devPath = SampleArgs.String(args, "--dev", Path.Combine(dataDir, "en_ewt-ud-dev.conllu"));
string testPath = SampleArgs.String(args, "--test", Path.Combine(dataDir, "en_ewt-ud-test.conllu"));
double minutes = SampleArgs.Double(args, "--minutes", 20);
foreach (var p in new[] { trainPath, devPath, testPath })
    if (!File.Exists(p)) { Console.Error.WriteLine($"CoNLL-U file '{p}' not found (pass --train/--dev/--test)."); return 2; }

var trainSentences = Conllu.ReadFile(trainPath);
int maxTrain = SampleArgs.Int(args, "--max-train", 0);
if (maxTrain > 0 && maxTrain < trainSentences.Count) trainSentences = trainSentences.GetRange(0, maxTrain);
var devSentences = Conllu.ReadFile(devPath);
var testSentences = Conllu.ReadFile(testPath);
Console.WriteLine($"train {trainSentences.Count} sentences ({trainSentences.Sum(s => s.Tokens.Length)} words), dev {devSentences.Count}, test {testSentences.Count} ({testSentences.Sum(s => s.Tokens.Length)} words)");

var ml = new MLContext(seed: 1);
IDataView Load(List<TaggedSentence> s) => ml.Data.LoadFromEnumerable(s.Select(x => new Sentence { Tokens = x.Tokens, Tags = x.Tags }));
IDataView train = Load(trainSentences), dev = Load(devSentences), test = Load(testSentences);

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };

var estimator = ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions
{
    TokensColumnName = nameof(Sentence.Tokens), LabelColumnName = nameof(Sentence.Tags), OutputColumnName = "PredictedTags",
    LowerCase = true, // the word embedding reads lower case; the character features see the original spelling
    EmbeddingSize = SampleArgs.Int(args, "--embedding", 100), CharacterHiddenSize = SampleArgs.Int(args, "--char-hidden", 64), CharacterEmbeddingSize = 32,
    HiddenSize = SampleArgs.Int(args, "--hidden", 128), Layers = SampleArgs.Int(args, "--layers", 2), Bidirectional = true,
    Dropout = 0.33f, InputDropout = 0.33f, WordDropout = 0.25,
    Epochs = SampleArgs.Int(args, "--epochs", 40), BatchSize = SampleArgs.Int(args, "--batch", 32), LearningRate = SampleArgs.Double(args, "--lr", 2e-3),
    Schedule = new ReduceOnPlateauSchedule(factor: 0.5, patience: 0), EarlyStoppingPatience = 4,
    TimeLimit = TimeSpan.FromMinutes(minutes * 0.97), // the last validation pass runs after the limit: keep it inside --minutes
    Seed = SampleArgs.Int(args, "--seed", 1), CancellationToken = stop.Token,
    Progress = r => Console.WriteLine($"  {r}"),
});
var clock = Stopwatch.StartNew();
RnnSequenceTaggerTransformer fitted;
try { fitted = estimator.Fit(train, dev); }
catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return 130; }
double trainSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"trained in {trainSeconds:F1} s; kept epoch {fitted.TrainingResult.BestEpoch} (lowest dev loss {fitted.TrainingResult.BestValidationLoss:F4})");

// Save and load the pipeline, then score the test file with the loaded model only.
string path = Path.Combine(Path.GetTempPath(), $"pos-tagging-{Environment.ProcessId}.zip");
ml.Model.Save(fitted, train.Schema, path);
var loaded = new MLContext().Model.Load(path, out _);
File.Delete(path);
var scoreClock = Stopwatch.StartNew();
var metrics = ml.MulticlassClassification.EvaluateSequenceTags(loaded.Transform(test), nameof(Sentence.Tags), "PredictedTags");
double scoreSeconds = scoreClock.Elapsed.TotalSeconds;

// Unknown words: test forms never seen in training (exact spelling), tagged by the loaded model.
var tagger = SequenceTaggerModel.FromTransformer(loaded);
var trainForms = new HashSet<string>(trainSentences.SelectMany(s => s.Tokens), StringComparer.Ordinal);
long unknown = 0, unknownRight = 0, right = 0, total = 0;
foreach (var s in testSentences)
{
    var predicted = tagger.Predict(s.Tokens);
    for (int i = 0; i < s.Tokens.Length; i++)
    {
        bool ok = predicted[i] == s.Tags[i];
        total++; if (ok) right++;
        if (!trainForms.Contains(s.Tokens[i])) { unknown++; if (ok) unknownRight++; }
    }
}

// Baseline: each form's most frequent training tag (ties: the tag seen first), unseen forms → the most frequent tag overall.
var lexicon = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
var overall = new Dictionary<string, int>(StringComparer.Ordinal);
foreach (var s in trainSentences)
    for (int i = 0; i < s.Tokens.Length; i++)
    {
        if (!lexicon.TryGetValue(s.Tokens[i], out var counts)) lexicon[s.Tokens[i]] = counts = new Dictionary<string, int>(StringComparer.Ordinal);
        counts[s.Tags[i]] = counts.GetValueOrDefault(s.Tags[i]) + 1;
        overall[s.Tags[i]] = overall.GetValueOrDefault(s.Tags[i]) + 1;
    }
static string MostFrequent(Dictionary<string, int> counts) => counts.Aggregate((a, b) => b.Value > a.Value ? b : a).Key; // insertion order: first seen wins ties
string fallbackTag = MostFrequent(overall);
var best = lexicon.ToDictionary(kv => kv.Key, kv => MostFrequent(kv.Value), StringComparer.Ordinal);
double baseline = testSentences.SelectMany(s => s.Tokens.Zip(s.Tags)).Average(p => best.GetValueOrDefault(p.First, fallbackTag) == p.Second ? 1.0 : 0.0);

Console.WriteLine("\nexamples (test sentences, model loaded from the .zip):");
foreach (var s in testSentences.Take(3))
    Console.WriteLine("  " + string.Join(' ', s.Tokens.Zip(tagger.Predict(s.Tokens), (w, t) => $"{w}/{t}")));
Console.WriteLine($"\ntest token accuracy {metrics.TokenAccuracy:P2} ({metrics.Tokens} words; PredictionEngine-free check {(double)right / total:P2}), " +
    $"whole sentences {metrics.SequenceAccuracy:P2}, unknown words {(double)unknownRight / Math.Max(1, unknown):P2} ({unknown} words), " +
    $"most-frequent-tag baseline {baseline:P2}; scoring {metrics.Tokens / scoreSeconds:F0} words/s");
foreach (var (tag, recall) in metrics.PerTagRecall) Console.WriteLine($"  {tag,-6} recall {recall:P2}");
Console.WriteLine(JsonSerializer.Serialize(new
{
    token_accuracy = Math.Round(metrics.TokenAccuracy, 5), sentence_accuracy = Math.Round(metrics.SequenceAccuracy, 5),
    unknown_word_accuracy = Math.Round((double)unknownRight / Math.Max(1, unknown), 5), baseline_accuracy = Math.Round(baseline, 5),
    train_seconds = Math.Round(trainSeconds, 1),
}));
return 0;

sealed class Sentence
{
    public string[] Tokens { get; set; } = Array.Empty<string>();
    public string[] Tags { get; set; } = Array.Empty<string>();
}
