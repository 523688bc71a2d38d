// A word-level LSTM language model on the Penn Treebank (Zaremba et al. 2014's "small" setup) in an ML.NET pipeline.
//
//   dotnet run -c Release --project samples/WordLanguageModel -- [--data DIR] [--minutes M] [--dropout P] [--epochs N] [--decay-after N] [--resume] [--checkpoint PATH]
//   dotnet run -c Release --project samples/WordLanguageModel -- --text "You say goodbye and I say hello."
//
// Without --data it reads ../shared/data/ptb/ when present, else a small built-in corpus. 2 layers × 200 LSTM,
// embeddings 200, truncated BPTT over 20 steps carrying the state across batches of 20 streams, plain SGD with the rate
// halved each epoch after the 4th. Zaremba's lr 1 / clip 5 apply to a loss summed over the 20 steps; our loss is the mean
// per token, so the same update is lr 20 / clip 0.25 (as PyTorch's word_language_model example). Trained for at most
// --minutes, keeping the best validation epoch. --dropout adds dropout between the two layers (default 0, Zaremba's
// non-regularized model); --decay-after sets the epoch after which the rate halves (default 4).
// Ctrl+C stops between batches and writes a checkpoint (every 2 minutes too); --resume continues from it, --minutes
// counting the training time of all runs together (docs/long-runs.md). The last line is JSON.
using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Microsoft.ML;
using Rnn.MLNet;
using Rnn.MLNet.Cells;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

string? Get(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
var ml = new MLContext(seed: 1);

if (Get("--text") is string toy)
{
    // The textbook toy: "say" is followed once by "goodbye" and once by "hello"; the model must learn every next word.
    var words = toy.ToLowerInvariant();
    var toyModel = ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions
    {
        Tokenizer = TokenizerKind.Word, Cell = CellType.Lstm, Layers = 1, HiddenSize = 32, EmbeddingSize = 16,
        Epochs = 40, BatchSize = 2, BpttSteps = 16, LearningRate = 0.01, Seed = 1,
    }).Fit(ml.Data.LoadFromEnumerable(Enumerable.Repeat(new Line { Text = words }, 32))).Model;
    var tokens = new WordTokenizer().Split(words);
    bool all = true;
    for (int i = 1; i < tokens.Count; i++)
    {
        string prefix = string.Join(' ', tokens.Take(i));
        var (next, p) = toyModel.PredictNext(prefix);
        all &= next == tokens[i];
        Console.WriteLine($"{prefix,-32} → {next,-8} p={p:F3}{(next == tokens[i] ? "" : "  (expected " + tokens[i] + ")")}");
    }
    Console.WriteLine(JsonSerializer.Serialize(new { text = toy, learned = all }));
    return all ? 0 : 1;
}

string dir = Get("--data") ?? Path.GetFullPath(Path.Combine("..", "shared", "data", "ptb"));
double minutes = double.Parse(Get("--minutes") ?? "20", CultureInfo.InvariantCulture);
float dropout = float.Parse(Get("--dropout") ?? "0", CultureInfo.InvariantCulture);
int epochs = int.Parse(Get("--epochs") ?? "13", CultureInfo.InvariantCulture), decayAfter = int.Parse(Get("--decay-after") ?? "4", CultureInfo.InvariantCulture);
string[] Lines(string name)
{
    string path = Path.Combine(dir, name);
    if (File.Exists(path)) return File.ReadAllLines(path);
    if (Get("--data") is not null) throw new FileNotFoundException($"'{path}' not found: --data must hold ptb.train.txt, ptb.valid.txt and ptb.test.txt.", path);
    return DemoCorpus.Lines(name);
}
var train = Lines("ptb.train.txt");
var valid = Lines("ptb.valid.txt");
var test = Lines("ptb.test.txt");
Console.WriteLine($"data: {(Directory.Exists(dir) ? dir : "built-in demo corpus")} — {train.Length:N0} / {valid.Length:N0} / {test.Length:N0} lines");

var checkpoint = new SampleCheckpoint(args, "WordLanguageModel");
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };
var clock = Stopwatch.StartNew();
var estimator = ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions
{
    Tokenizer = TokenizerKind.Whitespace, Separator = "<eos>", Cell = CellType.Lstm, Layers = 2, HiddenSize = 200, EmbeddingSize = 200,
    Dropout = dropout, Epochs = epochs, BatchSize = 20, BpttSteps = 20, Optimizer = OptimizerKind.Sgd, LearningRate = 20, ClipNorm = 0.25, InitRange = 0.1,
    Schedule = new ZarembaSchedule(decayAfter), TimeLimit = TimeSpan.FromMinutes(minutes), Seed = 1, CancellationToken = stop.Token,
    CheckpointPath = checkpoint.Path, CheckpointInterval = TimeSpan.FromMinutes(2),
    SamplePrompt = "the", EpochSampling = new SamplingOptions { MaxTokens = 25, Temperature = 0.8, Seed = 3, StopToken = "<eos>" },
    Progress = r => Console.WriteLine($"\n{r} | valid ppl {Math.Exp(r.ValidationLoss ?? double.NaN):F1}\n  sample: {r.Sample}"),
    BatchProgress = (epoch, batch, batches, loss) =>
    {
        if (batch % 100 == 0 || batch == batches)
            Console.Write($"\repoch {epoch} [{new string('#', 30 * batch / batches),-30}] {batch}/{batches} ppl {Math.Exp(loss):F1} {clock.Elapsed:mm\\:ss}");
    },
});
RnnLanguageModelTransformer model;
try
{
    model = estimator.Fit(ml.Data.LoadFromEnumerable(train.Select(t => new Line { Text = t })), ml.Data.LoadFromEnumerable(valid.Select(t => new Line { Text = t })));
}
catch (OperationCanceledException) { checkpoint.PrintResumeHint(); return 130; }
double elapsed = clock.Elapsed.TotalMinutes;
double validPpl = model.Model.Perplexity(valid);
double testPpl = model.Model.Perplexity(test);
Console.WriteLine($"\nbest epoch {model.TrainingResult.BestEpoch}: valid perplexity {validPpl:F1}, test perplexity {testPpl:F1} after {elapsed:F1} min");
Console.WriteLine("generated: the " + model.Model.Generate("the", new SamplingOptions { MaxTokens = 30, Temperature = 0.8, Seed = 11, StopToken = "<eos>" }));
Console.WriteLine(JsonSerializer.Serialize(new { valid_ppl = Math.Round(validPpl, 2), test_ppl = Math.Round(testPpl, 2), minutes = Math.Round(elapsed, 2), dropout }));
return 0;

internal sealed class Line
{
    public string Text { get; set; } = "";
}

/// <summary>Zaremba et al.'s small-model schedule: the initial rate for <c>decayAfter</c> epochs (4 in the paper), then halved after every epoch.</summary>
internal sealed class ZarembaSchedule(int decayAfter) : ILearningRateSchedule
{
    public double NextRate(int epoch, double currentRate, double validationLoss) => epoch >= decayAfter ? currentRate * 0.5 : currentRate;
}

internal static class DemoCorpus
{
    private static readonly string[] Sentences =
    {
        "the company said it expects sales to rise", "the market fell sharply in early trading", "investors said the stock was cheap",
        "the bank said profits would rise next year", "the company expects the market to recover", "sales fell in the third quarter",
    };

    public static string[] Lines(string name) => name.Contains("train", StringComparison.Ordinal)
        ? Enumerable.Range(0, 400).Select(i => Sentences[i % Sentences.Length]).ToArray()
        : Sentences;
}
