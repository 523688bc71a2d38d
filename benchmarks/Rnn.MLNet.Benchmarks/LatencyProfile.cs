using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Numerics.Tensors;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>latency-profile [--embed E] [--hidden H] [--seq T] [--vocab V] [--threads N]</c>: where the time of one single-sequence
/// LSTM classification goes (the protocol's latency row), the whole forward first (the protocol's fixed sequence; without
/// the per-token input projection cache; a new random sequence each call), then its parts timed one by one.
/// </summary>
internal static class LatencyProfile
{
    public static int Run(string[] args)
    {
        Parallelism.MaxThreads = CommandLine.Int(args, "--threads", 1);
        if (CommandLine.Int(args, "--cache-kib", -1) is int kib and >= 0) InferenceCache.TokenProjectionBytes = kib * 1024L;
        int V = CommandLine.Int(args, "--vocab", 20000), E = CommandLine.Int(args, "--embed", 64), H = CommandLine.Int(args, "--hidden", 128), T = CommandLine.Int(args, "--seq", 50), GH = 4 * H;
        var net = new SequenceNetwork<float>(new NetworkOptions { Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = V, EmbeddingSize = E, HiddenSize = H, OutputSize = 1, Output = OutputMode.LastStep });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 0);
        var rng = new Rng(0);
        var batch = SequenceBatch<float>.FromTokens(Enumerable.Range(0, T).Select(_ => rng.NextInt(V)).ToArray(), 1, T);
        // other sequences of random tokens, a new one each call (the cache fills up as the vocabulary is seen)
        var fresh = Enumerable.Range(0, 256).Select(_ => SequenceBatch<float>.FromTokens(Enumerable.Range(0, T).Select(_ => rng.NextInt(V)).ToArray(), 1, T)).ToArray();
        int next = 0;
        long cacheBytes = InferenceCache.TokenProjectionBytes;
        var x = new float[T * E]; var ax = new float[T * GH]; var gates = new float[T * GH];
        var h = new float[(T + 1) * H]; var c = new float[(T + 1) * H]; var tc = new float[T * H];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextUniform(-1, 1); // values, not zeros: the int8 kernels quantize them
        for (int i = 0; i < h.Length; i++) h[i] = (float)rng.NextUniform(-1, 1);
        var wIh = net.Parameters.Values.AsMemory(net.Parameters["rnn.weight_ih_l0"].Offset, GH * E);
        var wHh = net.Parameters.Values.AsMemory(net.Parameters["rnn.weight_hh_l0"].Offset, GH * H);
        var pIh = new PackedB<float>(); var pHh = new PackedB<float>();
        var lstm = Cell<float>.For(CellType.Lstm);
        var bf16 = new Bf16Matrix();
        var i8Hh = new Int8Matrix(); var i8Ih = new Int8Matrix();
        long version = net.Parameters.Version;
        pIh.PackReusing(true, GH, E, wIh, E, version); pHh.PackReusing(true, GH, H, wHh, H, version);
        var parts = new (string Name, Action Body)[]
        {
            ("whole forward", () => net.Forward(batch)),
            ("whole forward, token cache off", () => { InferenceCache.TokenProjectionBytes = 0; net.Forward(batch); InferenceCache.TokenProjectionBytes = cacheBytes; }),
            ("whole forward, new tokens/call", () => net.Forward(fresh[next++ % fresh.Length])),
            ("same, bf16 W_hh (opt-in)", () => { InferenceCache.Precision = InferencePrecision.BFloat16RecurrentWeights; net.Forward(fresh[next++ % fresh.Length]); InferenceCache.Precision = InferencePrecision.Exact; }),
            ("same, int8 weights (opt-in)", () => { InferenceCache.Precision = InferencePrecision.Int8Weights; net.Forward(fresh[next++ % fresh.Length]); InferenceCache.Precision = InferencePrecision.Exact; }),
            ("same, int8, token cache off", () => { InferenceCache.Precision = InferencePrecision.Int8Weights; InferenceCache.TokenProjectionBytes = 0; net.Forward(fresh[next++ % fresh.Length]); InferenceCache.TokenProjectionBytes = cacheBytes; InferenceCache.Precision = InferencePrecision.Exact; }),
            ("pack reuse check W_ih+W_hh", () => { pIh.PackReusing(true, GH, E, wIh, E, version); pHh.PackReusing(true, GH, H, wHh, H, version); }),
            ("pack W_ih+W_hh afresh", () => { pIh.Pack(true, GH, E, wIh, E); pIh.EnsurePanels(); pHh.Pack(true, GH, H, wHh, H); pHh.EnsurePanels(); }),
            ("ax GEMM [T,E]x[E,4H]", () => { pIh.PackReusing(true, GH, E, wIh, E, version); Gemm.Multiply(false, T, pIh, x, E, ax, GH, false); }),
            ("T step GEMVs [1,H]x[H,4H]", () => { pHh.PackReusing(true, GH, H, wHh, H, version); for (int t = 0; t < T; t++) Gemm.Multiply(false, 1, pHh, h.AsSpan(t * H, H), H, gates.AsSpan(t * GH, GH), GH, true); }),
            ("T step GEMVs, bf16 W_hh", () => { bf16.PackReusing(wHh, GH, H, version); for (int t = 0; t < T; t++) bf16.Multiply(h.AsSpan(t * H, H), gates.AsSpan(t * GH, GH)); }),
            ("T step GEMVs, int8 W_hh", () => { i8Hh.PackReusing(wHh, GH, H, version); for (int t = 0; t < T; t++) i8Hh.Multiply(1, h.AsSpan(t * H, H), H, gates.AsSpan(t * GH, GH), GH); }),
            ("ax, int8 W_ih [T,E]x[E,4H]", () => { i8Ih.PackReusing(wIh, GH, E, version); i8Ih.Multiply(T, x, E, ax, GH); }),
            ("T LSTM cells", () =>
            {
                for (int t = 0; t < T; t++)
                    lstm.Forward(new CellForwardRow<float>
                    {
                        Ax = ax.AsSpan(t * GH, GH), Gates = gates.AsSpan(t * GH, GH), C = c.AsSpan(t * H, H), CNext = c.AsSpan((t + 1) * H, H), Aux = tc.AsSpan(t * H, H), HNext = h.AsSpan((t + 1) * H, H),
                    });
            }),
            ("bias rows", () => { for (int t = 0; t < T; t++) TensorPrimitives.Add(ax.AsSpan(t * GH, GH), ax.AsSpan(0, GH), ax.AsSpan(t * GH, GH)); }),
        };
        foreach (var (name, body) in parts)
        {
            for (int i = 0; i < 200; i++) body();
            var times = new double[2000];
            for (int i = 0; i < times.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                body();
                times[i] = (Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency;
            }
            Array.Sort(times);
            Console.WriteLine(FormattableString.Invariant($"{name,-30} median {times[times.Length / 2],8:F1} us   p10 {times[times.Length / 10],8:F1} us"));
        }
        return 0;
    }
}
