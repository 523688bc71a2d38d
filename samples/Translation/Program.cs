// Translation on real sentence pairs: French → English (the Tatoeba pairs of PyTorch's seq2seq tutorial), with an
// encoder–decoder through the ML.NET sequence-to-sequence component, scored by corpus BLEU-4 and exact match.
//
//   dotnet run -c Release --project samples/Translation -- [--train F] [--test F] [--minutes M] [--beam K]
//
// Files: `source<TAB>target` with a header line, tokens separated by spaces (defaults: ../shared/data/eng-fra/). The model:
// word-level source and target vocabularies (words seen once in training become <unk>, so the unknown word's embedding is
// trained), a bidirectional LSTM encoder, an LSTM decoder with additive (Bahdanau) attention, teacher forcing with label
// smoothing (--label-smoothing, default 0.1); an ensemble of --ensemble networks (default 3) trained one after another
// within --minutes (default 15), decoded together by batched beam search (--beam, default 5) over the mean of their
// log-probabilities, with length normalization. A validation part taken from the training file (5%, fixed shuffle)
// chooses each member's epoch, the learning-rate decay and the length penalty (--length-penalties, default 0.5,1,1.5);
// the test file is only scored. Also: --epochs, --hidden, --embedding, --dropout, --lr, --batch, --seed, --cell lstm|gru,
// --attention additive|general|dot, --select loss|bleu (how each member's epoch is chosen), --length-penalty (without
// candidates). Prints the validation BLEU, a dozen test translations beside their references; the last line is JSON.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Microsoft.ML;
using Rnn.MLNet;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

string dataDir = Path.GetFullPath(Path.Combine("..", "shared", "data", "eng-fra"));
string trainPath = SampleArgs.String(args, "--train", Path.Combine(dataDir, "train.tsv"));
string testPath = SampleArgs.String(args, "--test", Path.Combine(dataDir, "test.tsv"));
double minutes = SampleArgs.Double(args, "--minutes", 15);
int beam = SampleArgs.Int(args, "--beam", 5);
foreach (var p in new[] { trainPath, testPath })
    if (!File.Exists(p)) { Console.Error.WriteLine($"File '{p}' not found (pass --train/--test)."); return 2; }

static List<Pair> ReadPairs(string path)
{
    var rows = new List<Pair>();
    int lineNo = 0;
    foreach (var line in File.ReadLines(path))
    {
        if (lineNo++ == 0) continue; // header
        if (line.Length == 0) continue;
        var cols = line.Split('\t');
        if (cols.Length != 2 || cols[0].Trim().Length == 0 || cols[1].Trim().Length == 0)
            throw new InvalidDataException($"{path}, line {lineNo}: expected 'source<TAB>target' with both sides non-empty; got {cols.Length} column(s).");
        rows.Add(new Pair { Source = cols[0], Target = cols[1] });
    }
    return rows;
}
var all = ReadPairs(trainPath);
var test = ReadPairs(testPath);
// Validation: 5% of the training pairs, chosen by a fixed shuffle (the test file is never used for a choice).
var order = Enumerable.Range(0, all.Count).ToArray();
new Rng(20261129).Shuffle(order.AsSpan());
int nValid = Math.Max(1, all.Count / 20);
var valid = order.Take(nValid).Select(i => all[i]).ToList();
var train = order.Skip(nValid).Select(i => all[i]).ToList();
Console.WriteLine($"train {train.Count} pairs, validation {valid.Count} (from the training file), test {test.Count}");

var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Message.Contains("member ", StringComparison.Ordinal) || e.Message.Contains("length penalty", StringComparison.Ordinal)) Console.WriteLine("  " + e.Message); };
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };
var estimator = ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions
{
    SourceColumnName = nameof(Pair.Source), TargetColumnName = nameof(Pair.Target), OutputColumnName = "Translation",
    SourceTokenizer = TokenizerKind.Whitespace, TargetTokenizer = TokenizerKind.Whitespace, MinimumSourceCount = 2, MinimumTargetCount = 2,
    Cell = SampleArgs.String(args, "--cell", "lstm") == "gru" ? CellType.Gru : CellType.Lstm,
    EmbeddingSize = SampleArgs.Int(args, "--embedding", 128), HiddenSize = SampleArgs.Int(args, "--hidden", 128), Layers = 1, BidirectionalEncoder = true,
    EmbeddingDropout = (float)SampleArgs.Double(args, "--dropout", 0), LabelSmoothing = SampleArgs.Double(args, "--label-smoothing", 0.1),
    EnsembleSize = SampleArgs.Int(args, "--ensemble", 3), SelectEpochByBleu = SampleArgs.String(args, "--select", "loss") == "bleu",
    LengthPenaltyCandidates = SampleArgs.String(args, "--length-penalties", args.Contains("--length-penalty") ? "" : "0.5,1,1.5").Split(',', StringSplitOptions.RemoveEmptyEntries)
        .Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
    Attention = SampleArgs.String(args, "--attention", "additive") switch { "general" => AttentionKind.General, "dot" => AttentionKind.Dot, _ => AttentionKind.Additive },
    Epochs = SampleArgs.Int(args, "--epochs", 60), BatchSize = SampleArgs.Int(args, "--batch", 32), LearningRate = SampleArgs.Double(args, "--lr", 2e-3),
    Schedule = new ReduceOnPlateauSchedule(factor: 0.5, patience: 0), EarlyStoppingPatience = 4,
    BeamWidth = beam, MaxOutputLength = 2 * train.Max(p => p.Target.Split(' ').Length) + 2, LengthPenalty = SampleArgs.Double(args, "--length-penalty", 1.0), MaxSourceLength = 1000,
    TimeLimit = TimeSpan.FromMinutes(minutes * 0.95), // the last validation pass and the length-penalty choice run after the limit: keep them inside --minutes
    Seed = SampleArgs.Int(args, "--seed", 1), CancellationToken = stop.Token,
    Progress = r => Console.WriteLine($"  {r}"),
});
// Train, report on the validation part, save; in a function, so that the trained transformer (its networks, caches and
// payload) is garbage before the saved file is loaded back: a process that goes on to serve holds only the loaded model.
string path = Path.Combine(Path.GetTempPath(), $"translation-{Environment.ProcessId}.zip");
if (TrainAndSave() is not (double trainSeconds, double validBleu)) return 130; // null: cancelled, nothing saved
var loaded = new MLContext().Model.Load(path, out _);
File.Delete(path);
var model = SequenceGeneratorModel.FromTransformer(loaded);
var decodeClock = Stopwatch.StartNew();
var hypotheses = new List<string>();
for (int i = 0; i < test.Count; i += 64)
    hypotheses.AddRange(model.GenerateBatch(test.Skip(i).Take(64).Select(p => (string?)p.Source).ToList()));
double decodeSeconds = decodeClock.Elapsed.TotalSeconds;
var references = test.Select(p => p.Target).ToList();
double bleu = Bleu.Corpus(hypotheses, references), exact = Bleu.ExactMatch(hypotheses, references);

// The pipeline's own column (PredictionEngine-style, one row at a time, beam from the saved settings) agrees on a few rows.
var engine = new MLContext().Model.CreatePredictionEngine<Pair, Translated>(loaded);
int agree = test.Take(12).Select((p, i) => engine.Predict(p).Translation == hypotheses[i] ? 1 : 0).Sum();

Console.WriteLine($"\ntest translations (beam {beam}; source / reference / ours):");
for (int i = 0; i < Math.Min(12, test.Count); i++)
    Console.WriteLine($"  {test[i].Source}\n    = {test[i].Target}\n    {(hypotheses[i] == test[i].Target ? "✓" : ">")} {hypotheses[i]}");
Console.WriteLine($"\ntest BLEU-4 {bleu:F2}, exact match {exact:F2} % over {test.Count} sentences; decoding {test.Count / decodeSeconds:F1} sentences/s; " +
    $"PredictionEngine agrees on {agree} of {Math.Min(12, test.Count)}");
Console.WriteLine(JsonSerializer.Serialize(new
{
    bleu = Math.Round(bleu, 2), exact_match = Math.Round(exact, 2), train_seconds = Math.Round(trainSeconds, 1),
    sentences_per_s = Math.Round(test.Count / decodeSeconds, 1), validation_bleu = Math.Round(validBleu, 2),
}));
return 0;

(double TrainSeconds, double ValidBleu)? TrainAndSave()
{
    var clock = Stopwatch.StartNew();
    RnnSequenceGeneratorTransformer fitted;
    try { fitted = estimator.Fit(ml.Data.LoadFromEnumerable(train), ml.Data.LoadFromEnumerable(valid)); }
    catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return null; }
    double seconds = clock.Elapsed.TotalSeconds;
    foreach (var (r, m) in fitted.TrainingResults.Select((r, m) => (r, m)))
        Console.WriteLine($"member {m + 1}: {r.History.Count} epochs, kept epoch {r.BestEpoch} (validation loss {r.BestValidationLoss:F4})");
    Console.WriteLine($"trained in {seconds:F1} s");
    // Validation BLEU (the part of the training file held out): what settings are compared by; the test file is only scored.
    var validHypotheses = new List<string>();
    for (int i = 0; i < valid.Count; i += 64)
        validHypotheses.AddRange(fitted.Model.GenerateBatch(valid.Skip(i).Take(64).Select(p => (string?)p.Source).ToList()));
    double bleu = Bleu.Corpus(validHypotheses, valid.Select(p => p.Target).ToList());
    Console.WriteLine($"validation BLEU-4 {bleu:F2}, exact match {Bleu.ExactMatch(validHypotheses, valid.Select(p => p.Target).ToList()):F2} % (beam {beam}, length penalty {fitted.Model.Decoding.LengthPenalty})");
    // Save the pipeline; the test file is translated by the model loaded back from it, many sentences per batched beam search.
    ml.Model.Save(fitted, ml.Data.LoadFromEnumerable(train).Schema, path);
    return (seconds, bleu);
}

sealed class Pair
{
    public string Source { get; set; } = "";
    public string Target { get; set; } = "";
}

sealed class Translated
{
    public string Translation { get; set; } = "";
}
