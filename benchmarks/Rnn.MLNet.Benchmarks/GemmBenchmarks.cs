using BenchmarkDotNet.Attributes;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Benchmarks;

/// <summary>Matrix multiply at the shapes a recurrent step uses, packed SIMD kernel beside its naive twin.</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];

    /// <summary>M×N×K: per-step W_hh·h (B×4H×H), the all-steps input projection (S·B×4H×E), the weight gradient (4H×H×S·B).</summary>
    [Params("32x1024x256", "640x1024x64", "1024x256x640", "20x2600x650")]
    public string Shape { get; set; } = "32x1024x256";

    private int _m, _n, _k;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split('x');
        (_m, _n, _k) = (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
        var rng = new Rng(1);
        _a = new float[_m * _k]; _b = new float[_n * _k]; _c = new float[_m * _n];
        for (int i = 0; i < _a.Length; i++) _a[i] = (float)rng.NextUniform(-1, 1);
        for (int i = 0; i < _b.Length; i++) _b[i] = (float)rng.NextUniform(-1, 1);
    }

    /// <summary>C = A·Bᵀ (the forward layout: weights stored [out, in]).</summary>
    [Benchmark(Baseline = true)]
    public void Packed() => Gemm.Multiply<float>(false, true, _m, _n, _k, _a, _k, _b, _k, _c, _n, accumulate: false);

    /// <summary>The naive triple loop the tests compare against.</summary>
    [Benchmark]
    public void Naive() => GemmReference.Multiply<float>(false, true, _m, _n, _k, _a, _k, _b, _k, _c, _n, accumulate: false);
}
