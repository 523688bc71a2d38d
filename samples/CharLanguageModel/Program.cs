// A character-level language model in an ML.NET pipeline: min-char-rnn / char-rnn on tiny shakespeare.
//
//   dotnet run -c Release --project samples/CharLanguageModel -- [--train F] [--valid F] [--minutes M] [--prompt P] [--resume] [--checkpoint PATH]
//   dotnet run -c Release --project samples/CharLanguageModel -- --text hello
//
// Without --train it reads ../shared/data/tinyshakespeare/ when present, else a short built-in text. Ctrl+C stops training
// between batches and writes a checkpoint (every 2 minutes too); --resume continues from it, --minutes counting the
// training time of all runs together (docs/long-runs.md). The model is saved atomically. The last line is JSON.
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

var options = Args.Parse(args);
var ml = new MLContext(seed: 1);

if (options.Text is string toy)
{
    // The textbook toy: learn one string character by character and print what follows each prefix.
    var rows = Enumerable.Repeat(new Line { Text = toy }, 64).ToArray();
    var toyModel = ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions
    {
        Tokenizer = TokenizerKind.Character, Cell = CellType.Lstm, Layers = 1, HiddenSize = 32, EmbeddingSize = 8,
        Epochs = 30, BatchSize = 4, BpttSteps = 16, LearningRate = 0.01, Seed = 1,
    }).Fit(ml.Data.LoadFromEnumerable(rows)).Model;
    bool all = true;
    for (int i = 1; i < toy.Length; i++)
    {
        var (next, p) = toyModel.PredictNext(toy[..i]);
        bool ok = next == toy[i].ToString();
        all &= ok;
        Console.WriteLine($"{toy[..i],-12} → '{next}'  p={p:F3} {(ok ? "" : "(expected '" + toy[i] + "')")}");
    }
    Console.WriteLine(JsonSerializer.Serialize(new { text = toy, learned = all }));
    return all ? 0 : 1;
}

string[] trainLines = File.ReadAllText(options.Train).Split('\n');
string[] validLines = File.ReadAllText(options.Valid).Split('\n');
Console.WriteLine($"train: {options.Train} ({trainLines.Sum(l => l.Length + 1):N0} characters), valid: {options.Valid}");

var checkpoint = new SampleCheckpoint(args, "CharLanguageModel");
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };
var clock = Stopwatch.StartNew();
var estimator = ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions
{
    Tokenizer = TokenizerKind.Character, Cell = CellType.Lstm, Layers = 2, HiddenSize = options.Hidden, EmbeddingSize = 64, Dropout = 0.2f,
    Epochs = 1000, BatchSize = 32, BpttSteps = 64, LearningRate = 2e-3, TimeLimit = TimeSpan.FromMinutes(options.Minutes), Seed = 1,
    SamplePrompt = options.Prompt, CancellationToken = stop.Token, CheckpointPath = checkpoint.Path, CheckpointInterval = TimeSpan.FromMinutes(2),
    Progress = r => Console.WriteLine($"\n{r}\n--- sample ---\n{r.Sample}\n--------------"),
    BatchProgress = (epoch, batch, batches, loss) =>
    {
        if (batch % 20 == 0 || batch == batches)
            Console.Write($"\repoch {epoch} [{new string('#', 30 * batch / batches),-30}] {batch}/{batches} loss {loss:F3} {clock.Elapsed:mm\\:ss}");
    },
});
RnnLanguageModelTransformer model;
// The validation text is scored after every epoch; the weights of the best epoch are kept (char-rnn's advice: watch the
// gap between training and validation loss).
try { model = estimator.Fit(ml.Data.LoadFromEnumerable(trainLines.Select(t => new Line { Text = t })), ml.Data.LoadFromEnumerable(validLines.Select(t => new Line { Text = t }))); }
catch (OperationCanceledException) { checkpoint.PrintResumeHint(); return 130; }
double minutes = clock.Elapsed.TotalMinutes;
double tokensPerSecond = model.TrainingResult.History.Average(h => h.TokensPerSecond);

double validLoss = model.Model.CrossEntropy(validLines);
Console.WriteLine($"\nvalidation loss {validLoss:F4} nats/char (perplexity {Math.Exp(validLoss):F2}) after {minutes:F1} min");

// Save, load in a fresh MLContext, and generate from the loaded model.
string path = Path.Combine(Path.GetTempPath(), "char-lm.zip");
string temporary = path + ".partial";
ml.Model.Save(model, ml.Data.LoadFromEnumerable(new[] { new Line() }).Schema, temporary);
File.Move(temporary, path, overwrite: true); // an interrupted save never replaces a good file with half of one
var loaded = RnnLanguageModel.FromTransformer(new MLContext().Model.Load(path, out _));
Console.WriteLine($"saved to {path} ({new FileInfo(path).Length / 1e6:F1} MB); generated after loading:\n");
Console.WriteLine(options.Prompt + loaded.Generate(options.Prompt, new SamplingOptions { MaxTokens = 400, Temperature = 0.8, Seed = 7 }));
Console.WriteLine(JsonSerializer.Serialize(new
{
    valid_loss_nats = Math.Round(validLoss, 4),
    tokens_per_s = Math.Round(tokensPerSecond),
    minutes = Math.Round(minutes, 2),
}));
return 0;

internal sealed class Line
{
    public string Text { get; set; } = "";
}

internal sealed record Args(string Train, string Valid, double Minutes, string? Text, string Prompt, int Hidden)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        string shared = Path.GetFullPath(Path.Combine("..", "shared", "data", "tinyshakespeare"));
        string train = Get("--train") ?? Path.Combine(shared, "train.txt");
        string valid = Get("--valid") ?? Path.Combine(shared, "valid.txt");
        if (Get("--train") is null && !File.Exists(train))
        {
            // No shared data on this machine: write a small built-in demo text so `dotnet run` works anywhere.
            string dir = Path.Combine(Path.GetTempPath(), "char-lm-demo");
            Directory.CreateDirectory(dir);
            train = Path.Combine(dir, "train.txt"); valid = Path.Combine(dir, "valid.txt");
            File.WriteAllText(train, string.Concat(Enumerable.Repeat(DemoText.Train, 20)));
            File.WriteAllText(valid, DemoText.Valid);
            Console.WriteLine("(shared data not found: training on a small built-in text)");
        }
        foreach (var f in new[] { train, valid })
            if (!File.Exists(f)) throw new FileNotFoundException($"Text file '{f}' does not exist (pass --train and --valid).", f);
        double minutes = double.Parse(Get("--minutes") ?? "10", CultureInfo.InvariantCulture);
        return new Args(train, valid, minutes, Get("--text"), Get("--prompt") ?? "ROMEO:", int.Parse(Get("--hidden") ?? "256", CultureInfo.InvariantCulture));
    }
}

internal static class DemoText
{
    public const string Train = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\nRough winds do shake the darling buds of May,\nAnd summer's lease hath all too short a date;\n";
    public const string Valid = "Sometime too hot the eye of heaven shines,\nAnd often is his gold complexion dimm'd;\n";
}
