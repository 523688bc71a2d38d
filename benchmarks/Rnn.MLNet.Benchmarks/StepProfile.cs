using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Benchmarks;

/// <summary><c>profile --cell lstm --vocab V --embed E --hidden H --layers L --batch B --seq T [--task lm|classify] [--threads N]</c>: where a training step's time goes.</summary>
internal static class StepProfile
{
    public static int Run(string[] args)
    {
        Parallelism.MaxThreads = CommandLine.Int(args, "--threads", 1);
        bool lm = (CommandLine.Option(args, "--task") ?? "lm") == "lm";
        int V = CommandLine.Int(args, "--vocab", 65), E = CommandLine.Int(args, "--embed", 64), H = CommandLine.Int(args, "--hidden", 256), L = CommandLine.Int(args, "--layers", 2), B = CommandLine.Int(args, "--batch", 32), T = CommandLine.Int(args, "--seq", 64);
        var cell = (CommandLine.Option(args, "--cell") ?? "lstm") switch { "rnn" => CellType.RnnTanh, "gru" => CellType.Gru, _ => CellType.Lstm };
        var net = new SequenceNetwork<float>(new NetworkOptions { Cell = cell, Input = InputKind.Embedding, VocabularySize = V, EmbeddingSize = E, HiddenSize = H, Layers = L, OutputSize = lm ? V : 1, Output = lm ? OutputMode.PerStep : OutputMode.LastStep });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 0);
        var rng = new Rng(0);
        var batch = SequenceBatch<float>.FromTokens(Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray(), B, T);
        var targets = lm ? new Targets<float> { Classes = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray() } : new Targets<float> { Values = Enumerable.Range(0, B).Select(_ => (float)rng.NextInt(2)).ToArray() };
        var trainer = new Trainer<float>(net, new Adam<float>(1e-3), lm ? LossKind.SoftmaxCrossEntropy : LossKind.SigmoidBinaryCrossEntropy);
        var dOut = new float[lm ? B * T * V : B];
        var opt = new Adam<float>(1e-3);
        double tf = 0, tl = 0, tz = 0, tb = 0, tc = 0, to = 0;
        int n = 0;
        for (int it = 0; it < 23; it++)
        {
            long t0 = Stopwatch.GetTimestamp();
            net.Forward(batch, training: true);
            long t1 = Stopwatch.GetTimestamp();
            trainer.ComputeLoss(batch, targets, dOut);
            long t2 = Stopwatch.GetTimestamp();
            net.Parameters.ZeroGradients();
            long t3 = Stopwatch.GetTimestamp();
            net.Backward(dOut);
            long t4 = Stopwatch.GetTimestamp();
            GradientClipping.ClipByGlobalNorm(net.Parameters, 5);
            long t5 = Stopwatch.GetTimestamp();
            opt.Step(net.Parameters);
            long t6 = Stopwatch.GetTimestamp();
            if (it < 3) continue;
            n++;
            double f = 1000.0 / Stopwatch.Frequency;
            tf += (t1 - t0) * f; tl += (t2 - t1) * f; tz += (t3 - t2) * f; tb += (t4 - t3) * f; tc += (t5 - t4) * f; to += (t6 - t5) * f;
        }
        Console.WriteLine(FormattableString.Invariant($"ms per step: forward {tf / n:F2}, loss {tl / n:F2}, zero-grad {tz / n:F2}, backward {tb / n:F2}, clip {tc / n:F2}, adam {to / n:F2}; total {(tf + tl + tz + tb + tc + to) / n:F2} → {B * T / ((tf + tl + tz + tb + tc + to) / n / 1000):F0} tok/s"));
        return 0;
    }
}
