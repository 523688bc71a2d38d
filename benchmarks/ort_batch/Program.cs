// ONNX Runtime batched scoring for the shared protocol's latency configs: the dynamic-axes export that
// ../../shared/bench/ort/export_onnx.py writes (NAME-dyn.onnx: PyTorch's model with its sigmoid, exported by
// torch.onnx.export), scored N sequences per call. Each call scores N new random sequences (uniform ids, seeded, drawn
// outside the timed region, as our protocol's batch rows do); 5 warm-up calls, then calls until S seconds have passed and
// at least 20 calls; the median call time gives sequences per second. One JSON line per (model, intra-op threads), in our
// protocol's batch-row schema with "impl":"onnxruntime".
// Usage: dotnet OrtBatch.dll --models DIR [--only NAME] [--batch-size 64] [--threads 1,2] [--seconds 10]
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

internal static class Program
{
    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static int Main(string[] args)
    {
        string[] known = { "--models", "--only", "--batch-size", "--threads", "--seconds" };
        for (int i = 0; i < args.Length; i += 2)
            if (Array.IndexOf(known, args[i]) < 0 || i + 1 >= args.Length)
            { Console.Error.WriteLine($"unknown option or missing value: '{args[i]}' (known: {string.Join(", ", known)})"); return 2; }
        string dir = Option(args, "--models") ?? throw new ArgumentException("--models DIR is required (the folder export_onnx.py wrote)");
        string? only = Option(args, "--only");
        int size = int.Parse(Option(args, "--batch-size") ?? "64", CultureInfo.InvariantCulture);
        double seconds = double.Parse(Option(args, "--seconds") ?? "10", CultureInfo.InvariantCulture);
        int[] threadList = (Option(args, "--threads") ?? "1,2").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        foreach (string meta in Directory.GetFiles(dir, "*.json").OrderBy(f => f, StringComparer.Ordinal))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(meta));
            var config = doc.RootElement.GetProperty("config");
            string name = config.GetProperty("name").GetString()!;
            if (only is not null && name != only) continue;
            int seq = config.GetProperty("seq").GetInt32(), vocab = config.GetProperty("vocab").GetInt32();
            foreach (int threads in threadList) Console.WriteLine(JsonSerializer.Serialize(Measure(Path.Combine(dir, name + "-dyn.onnx"), name, seq, vocab, size, threads, seconds)));
        }
        return 0;
    }

    private static Dictionary<string, object> Measure(string model, string name, int seq, int vocab, int size, int threads, double seconds)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        string[] inputNames = { "ids" }, outputNames = { "prob" };
        var ids = new long[size * seq];
        var probabilities = new float[size];
        using var input = OrtValue.CreateTensorValueFromMemory(ids, new long[] { size, seq });
        using var output = OrtValue.CreateTensorValueFromMemory(probabilities, new long[] { size });
        var inputs = new[] { input };
        var outputs = new[] { output };
        var random = new Random(0);
        void Draw() { for (int i = 0; i < ids.Length; i++) ids[i] = random.Next(vocab); }
        for (int i = 0; i < 5; i++) { Draw(); session.Run(runOptions, inputNames, inputs, outputNames, outputs); }
        var times = new List<double>();
        long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end || times.Count < 20)
        {
            Draw();
            long t0 = Stopwatch.GetTimestamp();
            session.Run(runOptions, inputNames, inputs, outputNames, outputs);
            times.Add((Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency);
        }
        times.Sort();
        double median = times[times.Count / 2];
        return new()
        {
            ["impl"] = "onnxruntime", ["name"] = name, ["mode"] = "batch", ["threads"] = threads, ["fresh_sequences"] = true,
            ["batch"] = size, ["seqs_per_s"] = System.Math.Round(size / median, 1), ["ms_per_batch"] = System.Math.Round(median * 1e3, 3),
            ["us_per_seq"] = System.Math.Round(median * 1e6 / size, 2),
            ["peak_rss_mb"] = System.Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            ["ort_version"] = OrtEnv.Instance().GetVersionString(), ["calls"] = times.Count,
        };
    }
}
