using System;
using BenchmarkDotNet.Attributes;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// The recurrent step product Y [M, 4H] = X [M, H] · W_hhᵀ of an LSTM of 128 in each inference precision: the exact packed
/// float kernel, bfloat16 weights (one row at a time, as single-sequence inference runs it) and int8 weights
/// (<see cref="Int8Matrix"/>, inputs quantized on the way).
/// </summary>
[MemoryDiagnoser]
public class StepProductBenchmarks
{
    private const int H = 128, GH = 4 * H;
    private float[] _w = [], _x = [], _y = [];
    private readonly PackedB<float> _packed = new();
    private readonly Bf16Matrix _bf16 = new();
    private readonly Int8Matrix _int8 = new();

    /// <summary>Rows: one sequence's step, or a batch of 64.</summary>
    [Params(1, 64)]
    public int M { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        _w = new float[GH * H]; _x = new float[M * H]; _y = new float[M * GH];
        for (int i = 0; i < _w.Length; i++) _w[i] = (float)rng.NextUniform(-0.09, 0.09);
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)rng.NextUniform(-1, 1);
        _packed.PackReusing(true, GH, H, _w, H, 0);
        _bf16.PackReusing(_w, GH, H, 0);
        _int8.PackReusing(_w, GH, H, 0);
    }

    /// <summary>Exact float (the packed GEMM kernel).</summary>
    [Benchmark(Baseline = true)]
    public void ExactFloat() => Gemm.Multiply(false, M, _packed, _x, H, _y, GH, accumulate: false);

    /// <summary>bfloat16 W_hh, float accumulation, row by row.</summary>
    [Benchmark]
    public void BFloat16Weights()
    {
        for (int r = 0; r < M; r++) _bf16.Multiply(_x.AsSpan(r * H, H), _y.AsSpan(r * GH, GH));
    }

    /// <summary>int8 W_hh, 7-bit inputs, exact integer sums.</summary>
    [Benchmark]
    public void Int8Weights() => _int8.Multiply(M, _x, H, _y, GH);
}
