// Sequence-to-sequence: an encoder-decoder with attention learns to write spelled-out English numbers as digits
// ("three hundred twelve" → "312"), the translation-shaped textbook exercise, in an ML.NET pipeline.
//
//   dotnet run -c Release --project samples/NumberTranslation -- [--max N] [--train N] [--epochs N] [--beam N] [--seed N]
//
// The numbers 0..max (default 999) are shuffled with a fixed seed; --train of them (default 800, every one-word number
// among them) train the model and the rest are held out. Words in, characters out. Ctrl+C stops training between
// batches. The last line is JSON: exact-match accuracy on the held-out numbers, greedy and with beam search.
using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Microsoft.ML;
using Rnn.MLNet;
using Rnn.MLNet.Data;
using Rnn.MLNet.Models;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Text;

int max = SampleArgs.Int(args, "--max", 999), trainCount = SampleArgs.Int(args, "--train", 800), epochs = SampleArgs.Int(args, "--epochs", 40), beam = SampleArgs.Int(args, "--beam", 4), seed = SampleArgs.Int(args, "--seed", 1);
var ml = new MLContext(seed: 1);
var (trainPairs, testPairs) = SyntheticTasks.SpelledNumbers(max, trainCount, seed: 1);
IDataView train = ml.Data.LoadFromEnumerable(trainPairs.Select(p => new Pair { Source = p.Source, Target = p.Target }));
IDataView test = ml.Data.LoadFromEnumerable(testPairs.Select(p => new Pair { Source = p.Source, Target = p.Target }));
Console.WriteLine($"{trainPairs.Count} numbers to learn from, {testPairs.Count} held out, e.g. '{trainPairs[0].Source}' → '{trainPairs[0].Target}'");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };

// Encoder: word embeddings → bidirectional LSTM; decoder: an LSTM started from the encoder's final state, with Luong
// ("general") attention over the encoder outputs; output tokens are characters (digits).
var estimator = ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions
{
    SourceColumnName = nameof(Pair.Source), TargetColumnName = nameof(Pair.Target), OutputColumnName = "Digits",
    SourceTokenizer = TokenizerKind.Whitespace, TargetTokenizer = TokenizerKind.Character,
    BidirectionalEncoder = true, Attention = AttentionKind.General, HiddenSize = 32, EmbeddingSize = 32,
    Epochs = epochs, BatchSize = 32, LearningRate = 5e-3, Seed = seed, BeamWidth = beam, CancellationToken = stop.Token,
    Progress = r => { if (r.Epoch == 1 || r.Epoch % 5 == 0) Console.WriteLine($"  {r}"); },
});
var clock = Stopwatch.StartNew();
RnnSequenceGeneratorTransformer model;
try { model = estimator.Fit(train); }
catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return 130; }
double trainSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"trained in {trainSeconds:F1} s");

// Save to a temporary name and move (an interrupted save never leaves a broken model), then use the loaded model.
string path = Path.Combine(Path.GetTempPath(), "number-translation.zip");
ml.Model.Save(model, train.Schema, path + ".tmp");
File.Move(path + ".tmp", path, overwrite: true);
var loaded = new MLContext().Model.Load(path, out _);
var rows = ml.Data.CreateEnumerable<Translated>(loaded.Transform(test), reuseRowObject: false).ToList();
double beamExact = rows.Count(r => r.Digits == r.Target) / (double)rows.Count;
var generator = SequenceGeneratorModel.FromTransformer(loaded);
double greedyExact = testPairs.Count(p => generator.Generate(p.Source, new DecodingOptions { BeamWidth = 1 }) == p.Target) / (double)testPairs.Count;

Console.WriteLine("\nheld-out examples (beam search, model loaded from the .zip):");
foreach (var r in rows.Take(8)) Console.WriteLine($"  {r.Source,-36} → {r.Digits,-4} {(r.Digits == r.Target ? "✓" : "✗ expected " + r.Target)}");
foreach (var r in rows.Where(r => r.Digits != r.Target).Take(5)) Console.WriteLine($"  miss: {r.Source} → {r.Digits} (expected {r.Target})");
Console.WriteLine($"\nexact match on {rows.Count} held-out numbers: greedy {greedyExact:P2}, beam {beam} {beamExact:P2}");
Console.WriteLine(JsonSerializer.Serialize(new { exact_match = beamExact, greedy_exact_match = greedyExact, beam_width = beam, held_out = rows.Count, train_seconds = Math.Round(trainSeconds, 1) }));
return 0;

sealed class Pair
{
    public string Source { get; set; } = "";
    public string Target { get; set; } = "";
}

sealed class Translated
{
    public string Source { get; set; } = "";
    public string Target { get; set; } = "";
    public string Digits { get; set; } = "";
}
