using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text.Json;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Benchmarks;

/// <summary>Latency of one sequence through the ML.NET layer: PredictionEngine over a token-id column, in a process that loaded the model from its .zip.</summary>
internal static class PredictionEngineLatency
{
    private sealed class Row
    {
        public bool Label { get; set; }
        [VectorType] public int[] Ids { get; set; } = Array.Empty<int>();
    }

    private sealed class Prediction
    {
        public float Probability { get; set; }
    }

    /// <summary>
    /// Trains a classifier of this shape through the ML.NET layer, saves it as an ML.NET .zip, and measures it in a fresh
    /// process that only loads the .zip and scores (as a serving process would): the peak memory reported is that of a
    /// process holding MLContext, the loaded pipeline and its PredictionEngine, not of the training that made it.
    /// </summary>
    public static Dictionary<string, object> Measure(int vocab, int embed, int hidden, int layers, string cell, int seq, double seconds, bool fresh)
    {
        var rng = new Rng(1);
        // Two rows whose ids reach vocab − 1 fix the vocabulary size; one epoch trains nothing that matters for timing.
        var rows = Enumerable.Range(0, 8).Select(i => new Row { Label = i % 2 == 0, Ids = Enumerable.Range(0, seq).Select(j => j == 0 ? vocab - 1 : rng.NextInt(vocab)).ToArray() }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            TokenColumnName = "Ids", EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0, Cell = cell == "gru" ? CellType.Gru : cell == "rnn" ? CellType.RnnTanh : CellType.Lstm,
            EmbeddingSize = embed, HiddenSize = hidden, Layers = layers, Bidirectional = false, Epochs = 1, MaximumLength = seq, Seed = 1,
        }).Fit(data);
        string path = Path.Combine(Path.GetTempPath(), $"rnn-mlnet-latency-{Environment.ProcessId}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            string self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find this program's path to start the scoring process.");
            var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
            start.Environment[InferenceCache.PrecisionVariable] = InferenceCache.EnvironmentName(InferenceCache.Precision); // the same arithmetic as this process
            if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) start.ArgumentList.Add(typeof(PredictionEngineLatency).Assembly.Location);
            foreach (string a in new[] { "prediction-engine", path, seq.ToString(CultureInfo.InvariantCulture), vocab.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture), fresh ? "fresh" : "same" })
                start.ArgumentList.Add(a);
            using var child = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {self}.");
            string output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"The scoring process exited with code {child.ExitCode}: {output}");
            using var json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            return json.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object)p.Value.GetDouble());
        }
        finally { File.Delete(path); }
    }

    /// <summary>
    /// <c>prediction-engine MODEL.zip SEQ VOCAB SECONDS fresh|same</c> (started by <see cref="Measure"/>): loads the model,
    /// times PredictionEngine.Predict on one random sequence (<c>same</c>) or a new one drawn before each call
    /// (<c>fresh</c>), prints one JSON line with the median, p99 and this process's peak RSS.
    /// </summary>
    public static int Score(string[] args)
    {
        string path = args[1];
        int seq = int.Parse(args[2], CultureInfo.InvariantCulture), vocab = int.Parse(args[3], CultureInfo.InvariantCulture);
        double seconds = double.Parse(args[4], CultureInfo.InvariantCulture);
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(path, out _);
        var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
        var rng = new Rng(2);
        bool fresh = args.Length > 5 && args[5] == "fresh";
        var input = new Row { Ids = new int[seq] };
        Protocol.Draw(rng, input.Ids, vocab);
        Action? next = fresh ? () => Protocol.Draw(rng, input.Ids, vocab) : null;
        for (int i = 0; i < 20; i++) { next?.Invoke(); engine.Predict(input); }
        var times = Timing.Sorted(next, () => engine.Predict(input), seconds, minRuns: 50);
        double peak = System.Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1);
        Console.WriteLine(FormattableString.Invariant(
            $"{{\"prediction_engine_us_per_seq\":{Timing.Median(times) * 1e6:F2},\"prediction_engine_us_p99\":{Timing.P99(times) * 1e6:F2},\"prediction_engine_peak_rss_mb\":{peak:F1}}}"));
        return 0;
    }
}
