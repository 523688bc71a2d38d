// One-to-many generation: a decoder writes a short phrase ("dark green", "light blue", "orange") for an RGB colour
// vector, in an ML.NET pipeline; the vector sets the decoder's initial state.
//
//   dotnet run -c Release --project samples/ColourDescription -- [--train N] [--test N] [--epochs N] [--seed N] [--feed]
//
// Colours come from a seeded generator: one of eight hues and three shades, jittered. The Features column could come
// from any upstream ML.NET transform. --feed also feeds the vector at every decoder step. Ctrl+C stops training between
// batches. The last line is JSON.
using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Data;
using Rnn.MLNet.SequenceToSequence;

int trainCount = SampleArgs.Int(args, "--train", 3000), testCount = SampleArgs.Int(args, "--test", 500), epochs = SampleArgs.Int(args, "--epochs", 15), seed = SampleArgs.Int(args, "--seed", 4);
bool feed = args.Contains("--feed");
var ml = new MLContext(seed: 1);
IDataView Load(int count, ulong dataSeed) => ml.Data.LoadFromEnumerable(SyntheticTasks.ColourPhrases(count, dataSeed).Select(c => new Colour { Features = c.Features, Phrase = c.Phrase }));
IDataView train = Load(trainCount, 1), test = Load(testCount, 2);
Console.WriteLine($"{trainCount} training colours, {testCount} held out");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.WriteLine("\nstopping after this batch…"); };

var estimator = ml.Transforms.Text.RnnVectorToSequence(new RnnVectorToSequenceOptions
{
    FeatureColumnName = nameof(Colour.Features), TargetColumnName = nameof(Colour.Phrase), OutputColumnName = "Description",
    Cell = CellType.Gru, HiddenSize = 64, EmbeddingSize = 16, FeedFeaturesEveryStep = feed,
    Epochs = epochs, LearningRate = 5e-3, Seed = seed, CancellationToken = stop.Token,
    Progress = r => Console.WriteLine($"  {r}"),
});
var clock = Stopwatch.StartNew();
RnnSequenceGeneratorTransformer model;
try { model = estimator.Fit(train); }
catch (OperationCanceledException) { Console.WriteLine("training cancelled; nothing saved."); return 130; }
double trainSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"trained in {trainSeconds:F1} s");

string path = Path.Combine(Path.GetTempPath(), "colour-description.zip");
ml.Model.Save(model, train.Schema, path + ".tmp");
File.Move(path + ".tmp", path, overwrite: true);
var loaded = new MLContext().Model.Load(path, out _);
var rows = ml.Data.CreateEnumerable<Described>(loaded.Transform(test), reuseRowObject: false).ToList();
double exact = rows.Count(r => r.Description == r.Phrase) / (double)rows.Count;

Console.WriteLine("\nheld-out examples (model loaded from the .zip):");
foreach (var r in rows.Take(8))
    Console.WriteLine($"  rgb({r.Features[0]:F2}, {r.Features[1]:F2}, {r.Features[2]:F2}) → {r.Description,-14} {(r.Description == r.Phrase ? "✓" : "✗ expected " + r.Phrase)}");
Console.WriteLine($"\nexact match on {rows.Count} held-out colours: {exact:P2}");
Console.WriteLine(JsonSerializer.Serialize(new { exact_match = exact, held_out = rows.Count, train_seconds = Math.Round(trainSeconds, 1) }));
return 0;

sealed class Colour
{
    [VectorType(3)] public float[] Features { get; set; } = Array.Empty<float>();
    public string Phrase { get; set; } = "";
}

sealed class Described
{
    [VectorType(3)] public float[] Features { get; set; } = Array.Empty<float>();
    public string Phrase { get; set; } = "";
    public string Description { get; set; } = "";
}
