using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Benchmarks;

/// <summary>Measures what a ~5M-parameter text classifier costs inside an ML.NET .zip: bytes, load time, memory.</summary>
internal static class ModelSize
{
    private sealed class Row
    {
        public bool Label { get; set; }
        public string Text { get; set; } = "";
    }

    private sealed class Prediction
    {
        public float Score { get; set; }
    }

    public static int Run()
    {
        // 20,000 distinct words so the vocabulary fills: embedding 20,000 × 200 + bidirectional LSTM 200 → 256.
        var rng = new Rng(1);
        var words = Enumerable.Range(0, 19999).Select(i => "w" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var rows = Enumerable.Range(0, 4000).Select(i => new Row
        {
            Label = i % 2 == 0,
            Text = string.Join(' ', Enumerable.Range(0, 10).Select(j => words[(i * 10 + j) % words.Length])),
        }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var sw = Stopwatch.StartNew();
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            Cell = CellType.Lstm, EmbeddingSize = 200, HiddenSize = 256, Bidirectional = true, Epochs = 1, BatchSize = 64,
            MaximumVocabularySize = 20000, Seed = 1, EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0, MinimumTokenCount = 1,
        }).Fit(data);
        double trainSeconds = sw.Elapsed.TotalSeconds;
        long parameters = model.Model.Network.Parameters.Count;
        string zip = Path.Combine(Path.GetTempPath(), $"rnn-size-{Guid.NewGuid():N}.zip");
        string tinyZip = Path.Combine(Path.GetTempPath(), $"rnn-size-tiny-{Guid.NewGuid():N}.zip");
        try
        {
            // The same pipeline with a few hundred weights: what a process pays for ML.NET and our code before any weights.
            var tiny = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
            {
                Cell = CellType.Lstm, EmbeddingSize = 2, HiddenSize = 2, Bidirectional = true, Epochs = 1, MaximumVocabularySize = 4, Seed = 1, EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0,
            }).Fit(data);
            ml.Model.Save(tiny, data.Schema, tinyZip);
            sw.Restart();
            ml.Model.Save(model, data.Schema, zip);
            double saveSeconds = sw.Elapsed.TotalSeconds;
            long zipBytes = new FileInfo(zip).Length;
            long raw = parameters * 4;
            Console.WriteLine(FormattableString.Invariant($"parameters {parameters:N0}; raw float32 {raw / 1e6:F2} MB; .zip {zipBytes / 1e6:F2} MB ({(double)zipBytes / raw:F3}× raw); save {saveSeconds:F2} s; 1 training epoch {trainSeconds:F1} s"));
            // Load in a fresh process so its time and peak memory are the load's alone.
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add(typeof(ModelSize).Assembly.Location);
            psi.ArgumentList.Add("model-load");
            psi.ArgumentList.Add(zip);
            psi.ArgumentList.Add(tinyZip);
            using var p = Process.Start(psi)!;
            string loadLine = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            Console.WriteLine(loadLine);
            Console.WriteLine(FormattableString.Invariant($"{{\"parameters\":{parameters},\"raw_bytes\":{raw},\"zip_bytes\":{zipBytes},\"zip_over_raw\":{(double)zipBytes / raw:F3},\"save_s\":{saveSeconds:F3},{loadLine.TrimStart('{')}"));
        }
        finally { File.Delete(zip); File.Delete(tinyZip); }
        return 0;
    }

    /// <summary>
    /// <c>model-load MODEL.zip [TINY.zip]</c>: loads the model and scores once, in this fresh process. With a tiny model of the
    /// same pipeline, that one is loaded and scored first: the memory then is the baseline of a process that runs ML.NET and
    /// Rnn.MLNet (assemblies, JIT) before any weights, and the big model's load and first prediction are timed warm too.
    /// </summary>
    public static int Load(string zip, string? tinyZip = null)
    {
        var baseline = Process.GetCurrentProcess().WorkingSet64;
        long mlnetBaseline = 0;
        if (tinyZip is not null)
        {
            var tinyMl = new MLContext();
            var tinyEngine = tinyMl.Model.CreatePredictionEngine<Row, Prediction>(tinyMl.Model.Load(tinyZip, out _));
            tinyEngine.Predict(new Row { Text = "w1 w2 w3" });
            GC.Collect();
            mlnetBaseline = Process.GetCurrentProcess().WorkingSet64;
        }
        var sw = Stopwatch.StartNew();
        var ml = new MLContext();
        var model = ml.Model.Load(zip, out _);
        double loadSeconds = sw.Elapsed.TotalSeconds;
        var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
        engine.Predict(new Row { Text = "w1 w2 w3" }); // decodes the payload
        double firstPredictionSeconds = sw.Elapsed.TotalSeconds - loadSeconds;
        sw.Restart();
        const int n = 200;
        for (int i = 0; i < n; i++) engine.Predict(new Row { Text = "w5 w9 w12 w7 w3 w1 w2 w8 w4 w6" });
        double perPredictionUs = sw.Elapsed.TotalMilliseconds * 1000 / n;
        var me = Process.GetCurrentProcess();
        me.Refresh();
        Console.WriteLine(FormattableString.Invariant($"{{\"load_s\":{loadSeconds:F3},\"first_prediction_s\":{firstPredictionSeconds:F3},\"prediction_us\":{perPredictionUs:F0},\"peak_rss_mb\":{me.PeakWorkingSet64 / 1048576.0:F0},\"baseline_rss_mb\":{baseline / 1048576.0:F0},\"mlnet_baseline_rss_mb\":{mlnetBaseline / 1048576.0:F0},\"managed_heap_mb\":{GC.GetTotalMemory(false) / 1048576.0:F0}}}"));
        return 0;
    }
}
