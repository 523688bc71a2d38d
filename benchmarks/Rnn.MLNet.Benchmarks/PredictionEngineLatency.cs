using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Benchmarks;

/// <summary>Latency of one sequence through the ML.NET layer: PredictionEngine over a token-id column.</summary>
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

    public static Dictionary<string, object> Measure(int vocab, int embed, int hidden, string cell, int seq, double seconds)
    {
        var rng = new Rng(1);
        // Two rows whose ids reach vocab − 1 fix the vocabulary size; one epoch trains nothing that matters for timing.
        var rows = Enumerable.Range(0, 8).Select(i => new Row { Label = i % 2 == 0, Ids = Enumerable.Range(0, seq).Select(j => j == 0 ? vocab - 1 : rng.NextInt(vocab)).ToArray() }).ToList();
        var ml = new MLContext(seed: 1);
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            TokenColumnName = "Ids", Cell = cell == "gru" ? CellType.Gru : cell == "rnn" ? CellType.RnnTanh : CellType.Lstm,
            EmbeddingSize = embed, HiddenSize = hidden, Bidirectional = false, Epochs = 1, MaximumLength = seq, Seed = 1,
        }).Fit(ml.Data.LoadFromEnumerable(rows));
        var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
        var input = new Row { Ids = Enumerable.Range(0, seq).Select(_ => rng.NextInt(vocab)).ToArray() };
        for (int i = 0; i < 20; i++) engine.Predict(input);
        var times = new List<double>();
        var end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end || times.Count < 50)
        {
            long t0 = Stopwatch.GetTimestamp();
            engine.Predict(input);
            times.Add((Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency);
        }
        times.Sort();
        return new()
        {
            ["prediction_engine_us_per_seq"] = System.Math.Round(times[times.Count / 2] * 1e6, 2),
            ["prediction_engine_us_p99"] = System.Math.Round(times[(int)(times.Count * 0.99)] * 1e6, 2),
        };
    }
}
