using System;
using BenchmarkDotNet.Running;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <code>
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- --filter '*'     BenchmarkDotNet kernel benchmarks
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- model-size       size, load time and memory of a ~5M-parameter model in an ML.NET .zip
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- batch-scoring [--rows N] [--batch B]   Transform + cursor rows/s beside the core network in batches
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- fuzz [--cases N]          the model-file fuzzer (long run)
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- soak [--threads N] [--seconds S]   concurrent scoring soak
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- protocol --configs ../shared/bench/rnn-configs.json [--only NAME] [--seconds S] [--threads N] [--fresh-sequences] [--batch-size N]
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- text-compare [--data DIR,…] [--groups 5]   our text classifier (defaults) vs FeaturizeText + SDCA / AveragedPerceptron / FastTree / LightGbm
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- stream-train [classifier [--rows N] [--buffer B] | lm [--megabytes M]]   training on data never held in memory: peak RSS
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- onnx-latency --models DIR   ONNX Runtime on our export vs on PyTorch's (benchmarks/onnx_latency.sh)
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- latency-profile [--hidden H] [--threads N] [--cache-kib K]   where a single-sequence forward pass spends its time
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- batch-profile [--batch B] [--threads N]   where a batched forward pass spends its time
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- precision-cost [--sequences N | --model M.zip --test T.tsv [--positive L]]   scores moved by the reduced precisions
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- explain [--messages N] [--model default|lstm2] [--timed K]   µs per explained SMS message (integrated gradients, occlusion) and completeness
/// dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- explain-tagger [--sentences N]   µs per explained sentence of a POS tagger (every position's tag)
/// </code>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try { return Dispatch(args); }
        catch (ArgumentException e) when (e.Message.StartsWith(args[0] + ":", StringComparison.Ordinal))
        {
            Console.Error.WriteLine(e.Message); // a command-line mistake: the message, not a stack trace
            return 2;
        }
    }

    private static int Dispatch(string[] args)
    {
        if (args.Length > 0 && args[0] == "text-compare") return TextCompare.Run(args);
        if (args.Length > 0 && args[0] == "model-size") return ModelSize.Run();
        if (args.Length > 0 && args[0] == "batch-scoring") return BatchScoring.Run(args);
        if (args.Length > 0 && args[0] == "payload-decode") return PayloadDecode.Run();
        if (args.Length > 0 && args[0] == "protocol") return Protocol.Run(args);
        if (args.Length > 0 && args[0] == "gemm") return GemmThroughput.Run(args);
        if (args.Length > 0 && args[0] == "profile") return StepProfile.Run(args);
        if (args.Length > 0 && args[0] == "latency-profile") return LatencyProfile.Run(args);
        if (args.Length > 0 && args[0] == "batch-profile") return BatchProfile.Run(args);
        if (args.Length > 0 && args[0] == "precision-cost") return PrecisionCost.Run(args);
        if (args.Length > 0 && args[0] == "explain") return ExplanationCost.Run(args);
        if (args.Length > 0 && args[0] == "explain-tagger") return ExplanationCost.RunTagger(args);
        if (args.Length > 0 && args[0] == "fuzz") return LongRuns.Fuzz(args);
        if (args.Length > 0 && args[0] == "soak") return LongRuns.Soak(args);
        if (args.Length > 0 && args[0] == "stream-train") return StreamTrain.Run(args);
        if (args.Length > 1 && args[0] == "model-load") return ModelSize.Load(args[1], args.Length > 2 ? args[2] : null);
        if (args.Length > 0 && args[0] == "onnx-latency") return OnnxLatency.Run(args);
        if (args.Length > 4 && args[0] == "prediction-engine") return PredictionEngineLatency.Score(args);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
