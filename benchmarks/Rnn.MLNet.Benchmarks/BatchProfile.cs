using System;
using System.Diagnostics;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>batch-profile [--batch B] [--embed E] [--hidden H] [--seq T] [--vocab V] [--threads N] [--seconds S] [--whole]</c>: where the time of one
/// batched LSTM classification goes (the protocol's batch row): the whole forward on new random sequences each call, then
/// its parts timed one by one, with the GFLOP/s of the products (<c>--whole</c>: the whole forward only, e.g. under perf).
/// </summary>
internal static class BatchProfile
{
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds, Nanoseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID): what a timing under load would be on an idle core.</summary>
    internal static double ThreadCpuSeconds() => ClockGetTime(3, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9 : double.NaN;

    private static readonly string[] Options = { "--batch", "--embed", "--hidden", "--seq", "--vocab", "--threads", "--seconds" };

    public static int Run(string[] args)
    {
        CommandLine.RequireKnown(args, Options, "--whole");
        Parallelism.MaxThreads = CommandLine.Int(args, "--threads", 1);
        double seconds = double.Parse(CommandLine.Option(args, "--seconds") ?? "1.5", System.Globalization.CultureInfo.InvariantCulture);
        int B = CommandLine.Int(args, "--batch", 64), V = CommandLine.Int(args, "--vocab", 20000), E = CommandLine.Int(args, "--embed", 64);
        int H = CommandLine.Int(args, "--hidden", 128), T = CommandLine.Int(args, "--seq", 50), GH = 4 * H;
        var net = new SequenceNetwork<float>(new NetworkOptions { Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = V, EmbeddingSize = E, HiddenSize = H, OutputSize = 1, Output = OutputMode.LastStep });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 0);
        var rng = new Rng(0);
        var fresh = Enumerable.Range(0, 16).Select(_ => SequenceBatch<float>.FromTokens(Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray(), B, T)).ToArray();
        int next = 0;
        long cacheBytes = InferenceCache.TokenProjectionBytes;
        var x = new float[T * B * E]; var ax = new float[T * B * GH]; var gates = new float[T * B * GH];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextUniform(-1, 1);
        var h = new float[(T + 1) * B * H]; var c = new float[(T + 1) * B * H]; var tc = new float[T * B * H];
        var wIh = net.Parameters.Values.AsMemory(net.Parameters["rnn.weight_ih_l0"].Offset, GH * E);
        var wHh = net.Parameters.Values.AsMemory(net.Parameters["rnn.weight_hh_l0"].Offset, GH * H);
        var pIh = new PackedB<float>(); var pHh = new PackedB<float>();
        var i8Ih = new Int8Matrix(); var i8Hh = new Int8Matrix();
        for (int i = 0; i < h.Length; i++) h[i] = (float)rng.NextUniform(-1, 1); // values, not zeros: the int8 kernels quantize them
        var lstm = Cell<float>.For(CellType.Lstm);
        long version = net.Parameters.Version;
        pIh.PackReusing(true, GH, E, wIh, E, version); pHh.PackReusing(true, GH, H, wHh, H, version);
        double projFlop = 2.0 * T * B * E * GH, stepFlop = 2.0 * T * B * H * GH;
        var parts = new (string Name, double Flop, Action Body)[]
        {
            ("whole forward, new tokens/call", projFlop + stepFlop, () => net.Forward(fresh[next++ % fresh.Length])),
            ("whole forward, token cache off", projFlop + stepFlop, () => { InferenceCache.TokenProjectionBytes = 0; net.Forward(fresh[next++ % fresh.Length]); InferenceCache.TokenProjectionBytes = cacheBytes; }),
            ("whole forward, int8 weights", projFlop + stepFlop, () => { InferenceCache.Precision = InferencePrecision.Int8Weights; net.Forward(fresh[next++ % fresh.Length]); InferenceCache.Precision = InferencePrecision.Exact; }),
            ("ax GEMM [T·B,E]x[E,4H]", projFlop, () => Gemm.Multiply(false, T * B, pIh, x, E, ax, GH, false)),
            ("ax, int8 W_ih", projFlop, () => { i8Ih.PackReusing(wIh, GH, E, version); i8Ih.Multiply(T * B, x, E, ax, GH); }),
            ("T step GEMMs [B,H]x[H,4H]", stepFlop, () => { for (int t = 0; t < T; t++) Gemm.Multiply(false, B, pHh, h.AsSpan(t * B * H, B * H), H, gates.AsSpan(t * B * GH, B * GH), GH, true); }),
            ("T step products, int8 W_hh", stepFlop, () => { i8Hh.PackReusing(wHh, GH, H, version); for (int t = 0; t < T; t++) i8Hh.Multiply(B, h.AsSpan(t * B * H, B * H), H, gates.AsSpan(t * B * GH, B * GH), GH); }),
            ("T·B LSTM cell rows", 0, () =>
            {
                for (int t = 0; t < T; t++)
                    for (int b = 0; b < B; b++)
                    {
                        int r = t * B + b;
                        lstm.Forward(new CellForwardRow<float>
                        {
                            Ax = ax.AsSpan(r * GH, GH), Gates = gates.AsSpan(r * GH, GH), C = c.AsSpan(r * H, H), CNext = c.AsSpan(r * H + B * H, H), Aux = tc.AsSpan(r * H, H), HNext = h.AsSpan(r * H + B * H, H),
                        });
                    }
            }),
        };
        foreach (var (name, flop, body) in CommandLine.Flag(args, "--whole") ? parts[..1] : parts)
        {
            for (int i = 0; i < 5; i++) body();
            var cpu = new System.Collections.Generic.List<double>();
            var times = Timing.Sorted(() => { double c0 = ThreadCpuSeconds(); body(); cpu.Add(ThreadCpuSeconds() - c0); }, seconds, 20);
            cpu.Sort();
            double median = Timing.Median(times);
            string rate = flop > 0 ? FormattableString.Invariant($"  {flop / median / 1e9,6:F1} GFLOP/s") : "";
            Console.WriteLine(FormattableString.Invariant($"{name,-32} median {median * 1e3,8:F3} ms   p10 {times[times.Count / 10] * 1e3,8:F3} ms   calling thread's CPU {Timing.Median(cpu) * 1e3,8:F3} ms{rate}"));
        }
        return 0;
    }
}
