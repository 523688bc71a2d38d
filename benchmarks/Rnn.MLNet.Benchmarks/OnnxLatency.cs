using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// ONNX Runtime scoring our exported graph against ONNX Runtime scoring PyTorch's export of the same model
/// (../shared/bench/ort/export_onnx.py writes NAME.onnx, NAME-dyn.onnx and NAME.json). Our graph is exported from the
/// network imported from PyTorch's file, so both hold the same weights; the outputs are checked against PyTorch's.
/// Batch 1, the config's token ids, 20 warm-up runs, then the median of each variant's runs over S seconds, the
/// variants alternating round by round; each variant's best median over the rounds.
/// <code>onnx-latency --models DIR [--only NAME] [--seconds S] [--rounds R] [--threads N]</code>
/// </summary>
internal static class OnnxLatency
{
    public static int Run(string[] args)
    {
        string dir = CommandLine.Option(args, "--models") ?? throw new ArgumentException("--models DIR is required (the folder export_onnx.py wrote).");
        string name = CommandLine.Option(args, "--only") ?? "lstm-classify-1";
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "3", CultureInfo.InvariantCulture);
        int rounds = CommandLine.Int(args, "--rounds", 3), threads = CommandLine.Int(args, "--threads", 1);

        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, name + ".json")));
        long[] ids = meta.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        double torchProb = meta.RootElement.GetProperty("torch_prob").EnumerateArray().First().GetDouble();

        // Our network with PyTorch's weights, exported by us.
        var imported = OnnxImport.ReadSequenceNetwork(Path.Combine(dir, name + "-dyn.onnx"));
        var net = imported.Network;
        float logit = net.Forward(SequenceBatch<float>.FromTokens(ids.Select(i => (int)i).ToArray(), 1, ids.Length))[0];
        string ours = Path.Combine(dir, name + "-rnnmlnet.onnx");
        using (var f = File.Create(ours)) net.ExportToOnnx(f, new OnnxExportOptions { Activation = OnnxOutputActivation.Sigmoid, SequenceLengthsInput = false });

        var variants = new (string Label, string File, string Output)[]
        {
            ("pytorch-export-static", Path.Combine(dir, name + ".onnx"), "prob"),
            ("pytorch-export-dynamic", Path.Combine(dir, name + "-dyn.onnx"), "prob"),
            ("rnn-mlnet-export", ours, OnnxNames.Probabilities),
        };
        var best = new double[variants.Length];
        Array.Fill(best, double.MaxValue);
        var outputs = new double[variants.Length];
        for (int r = 0; r < rounds; r++)
            for (int v = 0; v < variants.Length; v++)
            {
                var (median, prob) = Time(variants[v].File, variants[v].Output, ids, threads, seconds);
                best[v] = System.Math.Min(best[v], median);
                outputs[v] = prob;
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["round"] = r, ["variant"] = variants[v].Label, ["us_per_seq"] = System.Math.Round(median * 1e6, 1),
                }));
            }
        double ourProb = 1 / (1 + System.Math.Exp(-logit));
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = name, ["threads"] = threads, ["rounds"] = rounds, ["seconds"] = seconds,
            ["pytorch_static_us"] = System.Math.Round(best[0] * 1e6, 1), ["pytorch_dynamic_us"] = System.Math.Round(best[1] * 1e6, 1),
            ["rnn_mlnet_us"] = System.Math.Round(best[2] * 1e6, 1),
            ["ratio_vs_static"] = System.Math.Round(best[2] / best[0], 3), ["ratio_vs_dynamic"] = System.Math.Round(best[2] / best[1], 3),
            ["abs_diff_ort_ours_vs_torch"] = System.Math.Abs(outputs[2] - torchProb), ["abs_diff_ort_pytorch_vs_torch"] = System.Math.Abs(outputs[0] - torchProb),
            ["abs_diff_network_vs_torch"] = System.Math.Abs(ourProb - torchProb), ["ort_version"] = OrtEnv.Instance().GetVersionString(),
        }));
        return 0;
    }

    private static (double Median, double Output) Time(string model, string output, long[] ids, int threads, double seconds)
    {
        using var so = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        using var session = new InferenceSession(model, so);
        using var runOptions = new RunOptions();
        string inName = session.InputMetadata.Keys.First();
        var dims = session.OutputMetadata[output].Dimensions.Select(d => d < 0 ? 1L : d).ToArray();
        var prob = new float[dims.Aggregate(1L, (a, b) => a * b)];
        using var input = OrtValue.CreateTensorValueFromMemory(ids, new long[] { 1, ids.Length });
        using var result = OrtValue.CreateTensorValueFromMemory(prob, dims);
        string[] inNames = { inName }, outNames = { output };
        var inputs = new[] { input };
        var outputs = new[] { result };
        void Run() => session.Run(runOptions, inNames, inputs, outNames, outputs);
        for (int i = 0; i < 20; i++) Run();
        var times = new List<double>();
        long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end || times.Count < 50)
        {
            long t0 = Stopwatch.GetTimestamp();
            Run();
            times.Add((Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency);
        }
        times.Sort();
        int n = times.Count;
        return (n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2, prob[0]);
    }
}
