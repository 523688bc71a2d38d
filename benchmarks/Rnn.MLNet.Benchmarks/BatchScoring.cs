using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>batch-scoring [--rows N] [--batch B] [--rounds R]</c>: rows/s of batch scoring through ML.NET (<c>Transform</c> and a
/// cursor over the scores, as Evaluate or a downstream trainer reads them) beside the core network scoring the same rows
/// in batches of B, for the protocol's lstm-classify-1 shape (vocabulary 20,000, embedding 64, LSTM 128, 50 tokens).
/// Prints one JSON line; each side's best of R rounds.
/// </summary>
internal static class BatchScoring
{
    private sealed class Row
    {
        public bool Label { get; set; }
        [VectorType] public int[] Ids { get; set; } = Array.Empty<int>();
    }

    public static int Run(string[] args)
    {
        int rows = CommandLine.Int(args, "--rows", 10_000), batch = CommandLine.Int(args, "--batch", 64), rounds = CommandLine.Int(args, "--rounds", 3);
        const int vocab = 20000, seq = 50;
        var rng = new Rng(1);
        var data = Enumerable.Range(0, rows).Select(i => new Row { Label = i % 2 == 0, Ids = Enumerable.Range(0, seq).Select(j => i == 0 && j == 0 ? vocab - 1 : rng.NextInt(vocab)).ToArray() }).ToList();
        var ml = new MLContext(seed: 1);
        var trainData = ml.Data.LoadFromEnumerable(data.Take(8).ToList());
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            TokenColumnName = "Ids", EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0, Cell = CellType.Lstm, EmbeddingSize = 64, HiddenSize = 128, Bidirectional = false, Epochs = 1, MaximumLength = seq, Seed = 1,
        }).Fit(trainData);
        var view = ml.Data.LoadFromEnumerable(data);

        // ML.NET: Transform + one cursor over Score, as Evaluate or a downstream trainer reads it.
        var cursorScores = new float[rows];
        double cursorSeconds = Best(rounds, () =>
        {
            var scored = model.Transform(view);
            var column = scored.Schema["Score"];
            using var cursor = scored.GetRowCursor(new[] { column });
            var get = cursor.GetGetter<float>(column);
            int i = 0;
            float v = 0;
            while (cursor.MoveNext()) { get(ref v); cursorScores[i++] = v; }
            if (i != rows) throw new InvalidOperationException($"{i} rows scored, {rows} expected.");
        });

        // The core network: the same rows in batches of B (ids as the model reads them).
        var net = model.Model.Network.CloneForInference();
        var coreScores = new float[rows];
        var flat = new int[batch * seq];
        double coreSeconds = Best(rounds, () =>
        {
            for (int start = 0; start < rows; start += batch)
            {
                int b = System.Math.Min(batch, rows - start);
                for (int r = 0; r < b; r++) data[start + r].Ids.AsSpan().CopyTo(flat.AsSpan(r * seq, seq));
                var y = net.Forward(SequenceBatch<float>.FromTokens(b == batch ? flat : flat[..(b * seq)], b, seq));
                y.CopyTo(coreScores.AsSpan(start, b));
            }
        });
        double maxDiff = cursorScores.Zip(coreScores, (a, b) => (double)System.Math.Abs(a - b)).Max();
        double cursorRate = rows / cursorSeconds, coreRate = rows / coreSeconds;
        Console.WriteLine(FormattableString.Invariant(
            $"{{\"rows\":{rows},\"batch\":{batch},\"cursor_rows_per_s\":{cursorRate:F0},\"core_batched_rows_per_s\":{coreRate:F0},\"cursor_over_core\":{cursorRate / coreRate:F3},\"max_abs_score_diff\":{maxDiff:G3},\"threads\":{Parallelism.MaxThreads}}}"));
        return 0;
    }

    private static double Best(int rounds, Action body)
    {
        double best = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            var sw = Stopwatch.StartNew();
            body();
            best = System.Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return best;
    }
}
