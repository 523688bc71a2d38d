using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// The shared benchmark protocol (../shared/bench/rnn-configs.json), timed exactly as ../shared/bench/torch_peer.py times
/// PyTorch: training = embedding → stacked cell → head → loss → backward → clip 5 → Adam 1e-3 on fixed random ids,
/// 3 warm-up steps, then the median step over <c>--seconds</c> (at least 5 steps); latency = one sequence, forward +
/// sigmoid, median over <c>--seconds</c> (at least 50 runs). One JSON object per line, the peer's fields plus ours.
/// <para>
/// <c>--fresh-sequences</c>: latency mode scores a new random sequence (uniform ids from a seeded generator, drawn outside
/// the timed region) on every call, here and through the PredictionEngine, so no per-token cache can hit more often than
/// it would on real traffic; its lines carry <c>"fresh_sequences": true</c>. Without it every call scores the same
/// sequence, as the peers do.
/// </para>
/// <para>
/// <c>--batch-size N</c> (latency configs): also a <c>"mode": "batch"</c> line, scoring N fresh sequences per call in one
/// batched forward pass (sequences per second), beside ONNX Runtime's batched peer (benchmarks/ort_batch).
/// <c>--precision float|bf16|int8</c>: inference in that <see cref="InferenceCache.Precision"/> (bf16: bfloat16 W_hh for
/// single sequences; int8: int8 W_ih and W_hh), its lines marked <c>"reduced_precision": "bf16 W_hh"</c> or
/// <c>"int8 weights"</c>; the PredictionEngine process inherits it through the environment variable.
/// <c>--reduced-precision</c> is <c>--precision bf16</c>.
/// <c>--mode train|latency|batch</c> runs only the rows of that mode (compare.sh times latency on one thread and batches
/// on one and on all threads).
/// </para>
/// </summary>
internal static class Protocol
{
    private sealed record Config(string Name, string Cell, string Task, int Vocab, int Embed, int Hidden, int Layers, int Batch, int Seq);

    private static readonly string[] Options = { "--configs", "--only", "--seconds", "--threads", "--batch-size", "--mode", "--precision" };

    public static int Run(string[] args)
    {
        CommandLine.RequireKnown(args, Options, "--fresh-sequences", "--reduced-precision");
        string configs = CommandLine.Option(args, "--configs") ?? Path.Combine("..", "shared", "bench", "rnn-configs.json");
        bool fresh = CommandLine.Flag(args, "--fresh-sequences");
        string precisionName = CommandLine.Option(args, "--precision") ?? (CommandLine.Flag(args, "--reduced-precision") ? "bf16" : "float");
        var precision = precisionName switch
        {
            "float" => InferencePrecision.Exact, "bf16" => InferencePrecision.BFloat16RecurrentWeights, "int8" => InferencePrecision.Int8Weights,
            _ => throw new ArgumentException($"protocol: --precision must be float, bf16 or int8, not '{precisionName}'."),
        };
        InferenceCache.Precision = precision;
        int batchSize = CommandLine.Int(args, "--batch-size", 0);
        string? only = CommandLine.Option(args, "--only");
        string? onlyMode = CommandLine.Option(args, "--mode");
        if (onlyMode is not null && onlyMode is not ("train" or "latency" or "batch"))
            throw new ArgumentException($"protocol: --mode must be train, latency or batch, not '{onlyMode}'.");
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "10", CultureInfo.InvariantCulture);
        int threads = int.Parse(CommandLine.Option(args, "--threads") ?? "1", CultureInfo.InvariantCulture);
        if (!File.Exists(configs)) { Console.Error.WriteLine($"configs file '{configs}' not found (pass --configs)"); return 2; }
        Parallelism.MaxThreads = threads;
        using var doc = JsonDocument.Parse(File.ReadAllText(configs));
        foreach (var (mode, key) in new[] { ("train", "configs"), ("latency", "latency"), ("batch", "latency") })
        {
            if (!doc.RootElement.TryGetProperty(key, out var list)) continue;
            foreach (var e in list.EnumerateArray())
            {
                var c = new Config(e.GetProperty("name").GetString()!, e.GetProperty("cell").GetString()!, e.GetProperty("task").GetString()!,
                    e.GetProperty("vocab").GetInt32(), e.GetProperty("embed").GetInt32(), e.GetProperty("hidden").GetInt32(),
                    e.GetProperty("layers").GetInt32(), e.GetProperty("batch").GetInt32(), e.GetProperty("seq").GetInt32());
                if (only is not null && c.Name != only) continue;
                if (mode == "batch" && batchSize <= 0) continue;
                if (onlyMode is not null && mode != onlyMode) continue;
                var result = new Dictionary<string, object>
                {
                    ["impl"] = "rnn-mlnet-" + typeof(SequenceNetwork<float>).Assembly.GetName().Version!.ToString(3),
                    ["name"] = c.Name, ["mode"] = mode, ["threads"] = threads,
                };
                if (mode != "train") result["fresh_sequences"] = fresh || mode == "batch";
                if (precision != InferencePrecision.Exact && mode != "train") result["reduced_precision"] = precision == InferencePrecision.Int8Weights ? "int8 weights" : "bf16 W_hh";
                var measured = mode switch { "train" => Train(c, seconds), "latency" => Latency(c, seconds, fresh), _ => Batched(c, seconds, batchSize) };
                foreach (var kv in measured) result[kv.Key] = kv.Value;
                if (!result.ContainsKey("peak_rss_mb")) result["peak_rss_mb"] = PeakRssMb();
                Console.WriteLine(JsonSerializer.Serialize(result));
            }
        }
        return 0;
    }

    private static SequenceNetwork<float> Build(Config c, bool lm)
    {
        var cell = c.Cell switch { "rnn" => CellType.RnnTanh, "lstm" => CellType.Lstm, "gru" => CellType.Gru, _ => throw new ArgumentException($"unknown cell '{c.Cell}'") };
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = InputKind.Embedding, VocabularySize = c.Vocab, EmbeddingSize = c.Embed, HiddenSize = c.Hidden, Layers = c.Layers,
            OutputSize = lm ? c.Vocab : 1, Output = lm ? OutputMode.PerStep : OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 0);
        return net;
    }

    private static Dictionary<string, object> Train(Config c, double seconds)
    {
        bool lm = c.Task == "lm";
        var net = Build(c, lm);
        var rng = new Rng(0);
        int B = c.Batch, T = c.Seq;
        var x = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(c.Vocab)).ToArray();
        var batch = SequenceBatch<float>.FromTokens(x, B, T);
        var targets = lm
            ? new Targets<float> { Classes = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(c.Vocab)).ToArray() }
            : new Targets<float> { Values = Enumerable.Range(0, B).Select(_ => (float)rng.NextInt(2)).ToArray() };
        var trainer = new Trainer<float>(net, new Adam<float>(1e-3), lm ? LossKind.SoftmaxCrossEntropy : LossKind.SigmoidBinaryCrossEntropy) { ClipNorm = 5 };
        for (int i = 0; i < 3; i++) trainer.TrainStep(batch, targets);
        long allocated = 0; // by the steps alone, not by the list of times
        var times = Timing.Sorted(() =>
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            trainer.TrainStep(batch, targets);
            allocated += GC.GetAllocatedBytesForCurrentThread() - a0;
        }, seconds, minRuns: 5);
        double median = Timing.Median(times);
        return new()
        {
            ["tokens_per_s"] = System.Math.Round(B * T / median, 1), ["step_ms_median"] = System.Math.Round(median * 1e3, 3), ["steps"] = times.Count,
            ["alloc_bytes_per_step"] = allocated / times.Count,
        };
    }

    private static double PeakRssMb() => System.Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1);

    /// <summary>Fills <paramref name="ids"/> with uniform random token ids.</summary>
    internal static void Draw(Rng rng, int[] ids, int vocab)
    {
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.NextInt(vocab);
    }

    private static Dictionary<string, object> Latency(Config c, double seconds, bool fresh)
    {
        var net = Build(c, lm: false);
        var rng = new Rng(0);
        var x = new int[c.Seq];
        Draw(rng, x, c.Vocab);
        var batch = SequenceBatch<float>.FromTokens(x, 1, c.Seq);
        float Run() => Losses.SigmoidBinaryCrossEntropy.Sigmoid(net.Forward(batch)[0]);
        Action? next = fresh ? () => Draw(rng, x, c.Vocab) : null;
        for (int i = 0; i < 20; i++) { next?.Invoke(); Run(); }
        var times = Timing.Sorted(next, () => Run(), seconds, minRuns: 50);
        var r = new Dictionary<string, object>
        {
            ["us_per_seq"] = System.Math.Round(Timing.Median(times) * 1e6, 2), ["us_p99"] = System.Math.Round(Timing.P99(times) * 1e6, 2),
        };
        // The core path's peak is read before ML.NET is loaded: the PyTorch peer's process holds only its own model too.
        // The PredictionEngine measurement runs in a scoring process of its own and reports that process's peak.
        r["peak_rss_mb"] = PeakRssMb();
        foreach (var kv in PredictionEngineLatency.Measure(c.Vocab, c.Embed, c.Hidden, c.Layers, c.Cell, c.Seq, seconds, fresh)) r[kv.Key] = kv.Value;
        return r;
    }

    /// <summary>Batched scoring: <paramref name="size"/> fresh sequences per call, one forward pass, sigmoid on each.</summary>
    private static Dictionary<string, object> Batched(Config c, double seconds, int size)
    {
        var net = Build(c, lm: false);
        var rng = new Rng(0);
        var x = new int[size * c.Seq];
        var batch = SequenceBatch<float>.FromTokens(x, size, c.Seq);
        var probabilities = new float[size];
        void Run()
        {
            var logits = net.Forward(batch);
            for (int b = 0; b < size; b++) probabilities[b] = Losses.SigmoidBinaryCrossEntropy.Sigmoid(logits[b]);
        }
        void Next() => Draw(rng, x, c.Vocab);
        for (int i = 0; i < 5; i++) { Next(); Run(); }
        var times = Timing.Sorted(Next, Run, seconds, minRuns: 20);
        double median = Timing.Median(times);
        return new()
        {
            ["batch"] = size, ["seqs_per_s"] = System.Math.Round(size / median, 1), ["ms_per_batch"] = System.Math.Round(median * 1e3, 3),
            ["us_per_seq"] = System.Math.Round(median * 1e6 / size, 2),
        };
    }
}
