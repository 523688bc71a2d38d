using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.TextClassification;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// The long runs behind the hardening tests:
/// <c>fuzz [--cases N] [--seed S]</c> mutates a saved model (truncation, bit flips, byte runs, forged lengths with a valid
/// checksum, random bytes) and requires every case to end in <see cref="InvalidDataException"/> within bounded time and
/// allocation; <c>soak [--threads N] [--seconds S]</c> scores through one transformer from N threads and compares every
/// score with single-threaded scoring.
/// </summary>
internal static class LongRuns
{

    public static int Fuzz(string[] args)
    {
        int cases = int.Parse(CommandLine.Option(args, "--cases") ?? "100000", CultureInfo.InvariantCulture);
        var rng = new Rng(ulong.Parse(CommandLine.Option(args, "--seed") ?? "1", CultureInfo.InvariantCulture));
        var net = new SequenceNetwork<float>(new NetworkOptions { Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 30, EmbeddingSize = 8, HiddenSize = 12, Layers = 2, Bidirectional = true, OutputSize = 3, Output = OutputMode.LastStep });
        Initializer.Initialize(net, InitScheme.Xavier, 1);
        var file = ModelFile.From(net);
        file.Lists["vocabulary"] = Enumerable.Range(0, 30).Select(i => "tok" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        file.Properties["kind"] = "fuzz";
        byte[] good = file.ToBytes();
        var kinds = new Dictionary<string, int>();
        var acceptedKinds = new Dictionary<string, int>();
        double worstMs = 0; long worstAlloc = 0; int accepted = 0;
        var total = Stopwatch.StartNew();
        for (int c = 0; c < cases; c++)
        {
            byte[] bytes = (byte[])good.Clone();
            string kind;
            switch (rng.NextInt(5))
            {
                case 0: kind = "truncate"; bytes = bytes[..rng.NextInt(bytes.Length)]; break;
                case 1: kind = "bit flips"; for (int i = 1 + rng.NextInt(4); i > 0; i--) bytes[rng.NextInt(bytes.Length)] ^= (byte)(1 << rng.NextInt(8)); break;
                case 2: kind = "byte run"; { int at = rng.NextInt(bytes.Length), n = System.Math.Min(bytes.Length - at, 1 + rng.NextInt(16)); byte v = (byte)rng.NextInt(256); for (int i = 0; i < n; i++) bytes[at + i] = v; } break;
                case 3:
                    kind = "forged length, valid checksum";
                    {
                        // Somewhere in the structure (options, counts, strings, weight count), before the raw weights.
                        int weightsStart = bytes.Length - 4 - file.Weights.Length * 4;
                        int at = 20 + rng.NextInt(weightsStart - 24);
                        BitConverter.GetBytes(rng.NextInt(2) == 0 ? int.MaxValue - rng.NextInt(1000) : -1 - rng.NextInt(1000)).CopyTo(bytes, at);
                        BitConverter.GetBytes(Crc32.Compute(bytes.AsSpan(20, bytes.Length - 24))).CopyTo(bytes, bytes.Length - 4);
                    }
                    break;
                default: kind = "random bytes"; bytes = new byte[rng.NextInt(4096)]; for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)rng.NextInt(256); if (bytes.Length >= 8 && rng.NextInt(2) == 0) "RNNMLNET"u8.CopyTo(bytes); break;
            }
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            long t0 = Stopwatch.GetTimestamp();
            try { ModelFile.Read(bytes); accepted++; acceptedKinds[kind] = acceptedKinds.GetValueOrDefault(kind) + 1; }
            catch (InvalidDataException) { kinds[kind] = kinds.GetValueOrDefault(kind) + 1; }
            worstMs = System.Math.Max(worstMs, (Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency);
            worstAlloc = System.Math.Max(worstAlloc, GC.GetAllocatedBytesForCurrentThread() - a0);
        }
        // A mutation can leave the file valid only when it changed nothing (a flip undone, a run of the bytes already there).
        Console.WriteLine(FormattableString.Invariant($"{{\"cases\":{cases},\"rejected\":{cases - accepted},\"accepted\":{accepted},\"accepted_by_kind\":{{{string.Join(",", acceptedKinds.Select(k => $"\"{k.Key}\":{k.Value}"))}}},\"worst_ms\":{worstMs:F3},\"worst_alloc_bytes\":{worstAlloc},\"seconds\":{total.Elapsed.TotalSeconds:F1},\"by_kind\":{{{string.Join(",", kinds.Select(k => $"\"{k.Key}\":{k.Value}"))}}}}}"));
        return 0;
    }

    private sealed class Row
    {
        public bool Label { get; set; }
        public string Text { get; set; } = "";
    }

    private sealed class Prediction
    {
        public float Score { get; set; }
    }

    public static int Soak(string[] args)
    {
        int threads = int.Parse(CommandLine.Option(args, "--threads") ?? "8", CultureInfo.InvariantCulture);
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "60", CultureInfo.InvariantCulture);
        var ml = new MLContext(seed: 1);
        var rng = new Rng(1);
        string[] words = { "good", "bad", "great", "awful", "the", "food", "was", "not", "very", "service", "😀", "한국어" };
        var rows = Enumerable.Range(0, 500).Select(i => new Row { Label = i % 2 == 0, Text = string.Join(' ', Enumerable.Range(0, 3 + rng.NextInt(20)).Select(_ => words[rng.NextInt(words.Length)])) }).ToList();
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { HiddenSize = 32, Epochs = 2, Seed = 1 }).Fit(ml.Data.LoadFromEnumerable(rows));
        var single = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
        float[] expected = rows.Select(r => single.Predict(r).Score).ToArray();
        long scored = 0, mismatches = 0;
        var stop = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
            int i = t * 31;
            while (stop.Elapsed.TotalSeconds < seconds)
            {
                int k = i++ % rows.Count;
                if (engine.Predict(rows[k]).Score != expected[k]) Interlocked.Increment(ref mismatches);
                Interlocked.Increment(ref scored);
            }
        });
        Console.WriteLine(FormattableString.Invariant($"{{\"threads\":{threads},\"seconds\":{stop.Elapsed.TotalSeconds:F1},\"scored\":{scored},\"mismatches\":{mismatches}}}"));
        return mismatches == 0 ? 0 : 1;
    }
}
