// Per-token tagging: a bidirectional LSTM tags every word of a sentence with its word class (DET ADJ NOUN VERB ADV PREP)
// in an ML.NET pipeline. Some words are nouns or verbs by position ("the fish watch a light"), so a tag needs the words
// on both sides.
//
//   dotnet run -c Release --project samples/WordClassTagging -- [--train N] [--test N] [--epochs N] [--seed N]
//
// Sentences come from a small generated grammar (seeded, so every run sees the same data). Tokens are a vector column,
// turned into keys by MapValueToKey upstream; the output is a vector of keys whose key values are the tag names.
// Ctrl+C stops training between batches. The last line is JSON.
using System;
using System.Diagnostics;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet;
using Rnn.MLNet.Data;
using Rnn.MLNet.Tagging;

int trainCount = SampleArgs.Int(args, "--train", 2000), testCount = SampleArgs.Int(args, "--test", 500), epochs = SampleArgs.Int(args, "--epochs", 5), seed = SampleArgs.Int(args, "--seed", 3);
var ml = new MLContext(seed: 1);
IDataView Load(int count, ulong dataSeed) => ml.Data.LoadFromEnumerable(SyntheticTasks.WordClassSentences(count, dataSeed).Select(s => new Sentence { Tokens = s.Tokens, Tags = s.Tags }));
IDataView train = Load(trainCount, 1), test = Load(testCount, 2);
Console.WriteLine($"{trainCount} training sentences, {testCount} held out (a different seed of the same grammar)");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };

var pipeline = ml.Transforms.Conversion.MapValueToKey("TokenKeys", nameof(Sentence.Tokens))
    .Append(ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions
    {
        TokensColumnName = "TokenKeys", LabelColumnName = nameof(Sentence.Tags), OutputColumnName = "PredictedTags",
        Bidirectional = true, HiddenSize = 32, EmbeddingSize = 16, Epochs = epochs, Seed = seed, CancellationToken = stop.Token,
        Progress = r => Console.WriteLine($"  {r}"),
    }));
var clock = Stopwatch.StartNew();
ITransformer model;
try { model = pipeline.Fit(train); }
catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return 130; }
double trainSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"trained in {trainSeconds:F1} s");

string path = Path.Combine(Path.GetTempPath(), "word-class-tagging.zip");
ml.Model.Save(model, train.Schema, path + ".tmp");
File.Move(path + ".tmp", path, overwrite: true);
var loaded = new MLContext().Model.Load(path, out _);
var scored = loaded.Transform(test);
var metrics = ml.MulticlassClassification.EvaluateSequenceTags(scored, nameof(Sentence.Tags), "PredictedTags");

// A majority-tag baseline: each word's most frequent tag in training (what a lookup table gets without context).
var counts = SyntheticTasks.WordClassSentences(trainCount, 1).SelectMany(s => s.Tokens.Zip(s.Tags))
    .GroupBy(p => p.First).ToDictionary(g => g.Key, g => g.GroupBy(p => p.Second).OrderByDescending(x => x.Count()).First().Key);
var testSentences = SyntheticTasks.WordClassSentences(testCount, 2);
double baseline = testSentences.SelectMany(s => s.Tokens.Zip(s.Tags)).Average(p => counts.GetValueOrDefault(p.First) == p.Second ? 1.0 : 0.0);

var tagger = SequenceTaggerModel.FromTransformer(loaded);
Console.WriteLine("\nexamples (model loaded from the .zip):");
foreach (var s in new[] { "the fish watch a light", "my old dog likes the river near a city", "every child fish under the bright light today" })
    Console.WriteLine("  " + string.Join(' ', s.Split(' ').Zip(tagger.Predict(s.Split(' ')), (w, t) => $"{w}/{t}")));
Console.WriteLine($"\nheld-out token accuracy {metrics.TokenAccuracy:P2} ({metrics.Tokens} tokens), whole sentences right {metrics.SequenceAccuracy:P2}; " +
    $"most-frequent-tag baseline {baseline:P2}");
foreach (var (tag, recall) in metrics.PerTagRecall) Console.WriteLine($"  {tag,-5} recall {recall:P2}");
Console.WriteLine(JsonSerializer.Serialize(new { token_accuracy = metrics.TokenAccuracy, sentence_accuracy = metrics.SequenceAccuracy, baseline_token_accuracy = baseline, train_seconds = Math.Round(trainSeconds, 1) }));
return 0;

sealed class Sentence
{
    public string[] Tokens { get; set; } = Array.Empty<string>();
    public string[] Tags { get; set; } = Array.Empty<string>();
}
