using System;
using System.Diagnostics;
using System.Globalization;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>gemm [--threads N[,N…]] [--seconds S] [--only MxNxK]</c>: GFLOP/s of the packed GEMM at the shapes the protocol configs use, in all three
/// layouts a training step needs (forward A·Bᵀ, backward-data A·B, backward-weights Aᵀ·B). One JSON line per shape.
/// <c>gemm --peak</c>: this core's float FMA peak, from twelve independent register-only Vector512 (or Vector256) FMA
/// chains, per second of the thread's CPU time (so other load does not lower it) — the ceiling any float product reaches here.
/// </summary>
internal static class GemmThroughput
{
    public static int Run(string[] args)
    {
        if (CommandLine.Flag(args, "--peak")) return Peak();
        // --threads 1,2 alternates the thread counts shape by shape, so their ratio is measured under the same conditions.
        int[] threadCounts = Array.ConvertAll((CommandLine.Option(args, "--threads") ?? "1").Split(','), t => int.Parse(t, CultureInfo.InvariantCulture));
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "1", CultureInfo.InvariantCulture);
        // (M, N, K): lm head at lstm-ptb-small (S·B=400, V=10000, H=200), lstm-char recurrent step (B=32, 4H=1024, H=256),
        // lstm-char input projection (S·B=2048, 4H=1024, E/H=256), lstm-large step (20, 2600, 650) and head (700, 10000, 650);
        // then lstm-large's backward products: head weight gradient (V=10000, H=650, S·B=700) and input gradient (700, 650, V),
        // layer weight gradients (4H=2600, 650, 700), layer input gradient (700, 650, 2600) and the step's dh (20, 650, 2600).
        var shapes = new (int M, int N, int K)[]
        {
            (400, 10000, 200), (32, 1024, 256), (2048, 1024, 256), (20, 2600, 650), (700, 10000, 650), (1600, 512, 128),
            (10000, 650, 700), (700, 650, 10000), (2600, 650, 700), (700, 650, 2600), (20, 650, 2600),
        };
        if (CommandLine.Option(args, "--only") is { } only) shapes = Array.FindAll(shapes, s => FormattableString.Invariant($"{s.M}x{s.N}x{s.K}") == only);
        foreach (var (m, n, k) in shapes)
            foreach (var (ta, tb, layout) in new[] { (false, true, "A·Bᵀ"), (false, false, "A·B"), (true, false, "Aᵀ·B") })
            {
                int rowsA = ta ? k : m, colsA = ta ? m : k, rowsB = tb ? n : k, colsB = tb ? k : n;
                var rng = new Rng(1);
                var a = new float[rowsA * colsA]; var b = new float[rowsB * colsB]; var c = new float[m * n];
                for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextUniform(-1, 1);
                for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextUniform(-1, 1);
                foreach (int threads in threadCounts)
                {
                    Parallelism.MaxThreads = threads;
                    Gemm.Multiply<float>(ta, tb, m, n, k, a, colsA, b, colsB, c, n, false);
                    int reps = 0;
                    var sw = Stopwatch.StartNew();
                    while (sw.Elapsed.TotalSeconds < seconds || reps < 3) { Gemm.Multiply<float>(ta, tb, m, n, k, a, colsA, b, colsB, c, n, false); reps++; }
                    double gflops = 2.0 * m * n * k * reps / sw.Elapsed.TotalSeconds / 1e9;
                    Console.WriteLine(FormattableString.Invariant($"{{\"impl\":\"rnn-mlnet\",\"m\":{m},\"n\":{n},\"k\":{k},\"layout\":\"{layout}\",\"threads\":{threads},\"gflops\":{gflops:F1}}}"));
                }
            }
        return 0;
    }

    private static int Peak()
    {
        bool wide = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        double best = 0;
        for (int round = 0; round < 5; round++)
        {
            long iterations = 20_000_000;
            double c0 = BatchProfile.ThreadCpuSeconds();
            float sink = wide ? Chains512(iterations) : Chains256(iterations);
            double cpu = BatchProfile.ThreadCpuSeconds() - c0;
            double flops = 2.0 * 12 * (wide ? 16 : 8) * iterations / cpu;
            best = System.Math.Max(best, flops);
            if (float.IsNaN(sink)) Console.WriteLine("unexpected NaN");
        }
        Console.WriteLine(FormattableString.Invariant($"{{\"impl\":\"fma-peak\",\"width\":{(wide ? 512 : 256)},\"gflops_per_cpu_second\":{best / 1e9:F1}}}"));
        return 0;
    }

    private static float Chains512(long n)
    {
        var x = System.Runtime.Intrinsics.Vector512.Create(0.999999f); var y = System.Runtime.Intrinsics.Vector512.Create(1e-7f);
        System.Runtime.Intrinsics.Vector512<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
        for (long i = 0; i < n; i++)
        {
            a0 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a0, x, y); a1 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a2, x, y); a3 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a4, x, y); a5 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a6, x, y); a7 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a8, x, y); a9 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a10, x, y); a11 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a11, x, y);
        }
        return System.Runtime.Intrinsics.Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    private static float Chains256(long n)
    {
        var x = System.Runtime.Intrinsics.Vector256.Create(0.999999f); var y = System.Runtime.Intrinsics.Vector256.Create(1e-7f);
        System.Runtime.Intrinsics.Vector256<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
        for (long i = 0; i < n; i++)
        {
            a0 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a0, x, y); a1 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a2, x, y); a3 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a4, x, y); a5 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a6, x, y); a7 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a8, x, y); a9 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a10, x, y); a11 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a11, x, y);
        }
        return System.Runtime.Intrinsics.Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
