using System;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The opt-in int8-weight inference path (<see cref="InferencePrecision.Int8Weights"/>): quantization bounds, the packed
/// product against a naive twin on the same integers (same bits) and against the float product (within the stated
/// quantization bound), the same bits on every SIMD path and for every number of rows, exact int32 sums past 512 inputs,
/// and networks' outputs near the exact path's. Process-wide settings: alone in the SIMD-forcing collection.
/// </summary>
[Collection(nameof(SimdPathForcing))]
public class Int8WeightsTests
{
    private static float[] Uniform(Rng rng, int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)rng.NextUniform(-scale, scale)).ToArray();

    [Fact]
    public void QuantizationStaysWithinHalfAStepAndGivesTheSameIntegersOnEveryPath()
    {
        var rng = new Rng(3);
        foreach (int n in new[] { 1, 7, 16, 33, 128, 515 })
        {
            float[] x = Uniform(rng, n, 2.5);
            sbyte[]? first = null;
            SimdPaths.OnEach(path =>
            {
                var q = new sbyte[n];
                float t = Int8Matrix.Quantize(x, q, Int8Matrix.InputLevels, out int sum);
                Assert.Equal(x.Max(v => System.Math.Abs(v)) / Int8Matrix.InputLevels, t);
                Assert.Equal(q.Sum(v => v), sum);
                for (int i = 0; i < n; i++)
                {
                    Assert.True(System.Math.Abs(q[i]) <= Int8Matrix.InputLevels);
                    Assert.True(System.Math.Abs(q[i] * (double)t - x[i]) <= t * (0.5 + 1e-4), $"{path} n={n} i={i}: {q[i]}·{t} vs {x[i]}");
                }
                Assert.Contains(q, v => System.Math.Abs(v) == Int8Matrix.InputLevels); // the largest input takes the full range
                if (first is null) first = q; else Assert.Equal(first, q);
            });
        }
        var zeros = new sbyte[5];
        Assert.Equal(0f, Int8Matrix.Quantize(new float[5], zeros, 127, out _));
        Assert.All(zeros, v => Assert.Equal(0, v));
        foreach (int at in new[] { 67, 5, 13 }) // the scalar tail, and lanes of the vector loops (each lane of the final reduction)
            foreach (float bad in new[] { float.NaN, float.NegativeInfinity })
            {
                var withBad = Enumerable.Repeat(0.5f, 70).ToArray();
                withBad[at] = bad;
                SimdPaths.OnEach(path => Assert.True(float.IsNaN(Int8Matrix.Quantize(withBad, new sbyte[70], 127, out _)), $"{path} {bad} at {at}"));
            }
    }

    [Fact]
    public void ProductMatchesTheNaiveTwinBitForBitAndTheFloatProductWithinTheBoundOnEveryPath()
    {
        var rng = new Rng(12);
        foreach (var (n, k, m) in new[] { (512, 128, 1), (512, 64, 50), (37, 5, 3), (80, 64, 9), (16, 1, 4), (100, 33, 6), (64, 1200, 5) })
        {
            float[] w = Uniform(rng, n * k, 0.3), x = Uniform(rng, m * k, 1);
            var matrix = new Int8Matrix();
            matrix.PackReusing(w, n, k, version: 0);
            float[] Run() { var y = new float[m * n]; matrix.Multiply(m, x, k, y, n); return y; }
            float[] scalar;
            using (Simd.Force(SimdPath.Scalar)) scalar = Run();
            for (int i = 0; i < m; i++)
            {
                var qx = new sbyte[k];
                float t = Int8Matrix.Quantize(x.AsSpan(i * k, k), qx, Int8Matrix.InputLevels, out _);
                for (int r = 0; r < n; r++)
                {
                    // the naive twin: the exact integer sum, to float, then the two scales
                    long exactSum = 0;
                    for (int p = 0; p < k; p++) exactSum += qx[p] * (long)matrix.Weight(r, p);
                    Assert.Equal((float)exactSum * matrix.RowScale(r) * t, scalar[i * n + r]);
                    double exact = 0;
                    for (int p = 0; p < k; p++) exact += (double)w[r * k + p] * x[i * k + p];
                    double bound = Int8Matrix.ErrorBound(w.AsSpan(r * k, k), matrix.RowScale(r), x.AsSpan(i * k, k), t);
                    Assert.True(System.Math.Abs(scalar[i * n + r] - exact) <= bound, $"{n}x{k} row {i} out {r}: {scalar[i * n + r]} vs {exact} (bound {bound})");
                }
            }
            SimdPaths.OnEach(path => Assert.Equal(scalar, Run()));
            // a row's result does not depend on the other rows of the call
            if (m > 1)
                SimdPaths.OnEach(path =>
                {
                    var one = new float[n];
                    matrix.Multiply(1, x.AsSpan((m - 1) * k, k), k, one, n);
                    Assert.Equal(scalar.AsSpan((m - 1) * n, n).ToArray(), one);
                });
        }
    }

    [Fact]
    public void BiasesPackedWithTheWeightsAreAddedAfterTheScales()
    {
        var rng = new Rng(9);
        int n = 70, k = 24, m = 6;
        float[] w = Uniform(rng, n * k, 0.5), x = Uniform(rng, m * k, 1), bias = Uniform(rng, n, 1);
        var plain = new Int8Matrix();
        var biased = new Int8Matrix();
        plain.PackReusing(w, n, k, version: 0);
        biased.PackReusing(w, n, k, version: 0, bias);
        SimdPaths.OnEach(path =>
        {
            float[] y0 = new float[m * n], y1 = new float[m * n];
            plain.Multiply(m, x, k, y0, n);
            biased.Multiply(m, x, k, y1, n);
            for (int i = 0; i < m * n; i++) Assert.Equal(y0[i] + bias[i % n], y1[i]);
        });
    }

    [Fact]
    public void ALargeProductSplitBetweenThreadsGivesTheOneThreadBits()
    {
        var rng = new Rng(10);
        int n = 512, k = 128, m = 66; // 4.3M multiply-adds: above the split threshold; 66 rows: a part ends mid-tile
        float[] w = Uniform(rng, n * k, 0.2), x = Uniform(rng, m * k, 1);
        var matrix = new Int8Matrix();
        matrix.PackReusing(w, n, k, version: 0);
        int saved = Parallelism.MaxThreads;
        try
        {
            float[] Run(int threads) { Parallelism.MaxThreads = threads; var y = new float[m * n]; matrix.Multiply(m, x, k, y, n); return y; }
            Assert.Equal(Run(1), Run(2));
            Assert.Equal(Run(1), Run(3));
        }
        finally { Parallelism.MaxThreads = saved; }
    }

    [Fact]
    public void WeightsQuantizePerRowWithinHalfAStep()
    {
        var rng = new Rng(4);
        float[] w = Uniform(rng, 20 * 9, 1);
        for (int i = 0; i < 9; i++) w[3 * 9 + i] = 0; // a zero row
        var matrix = new Int8Matrix();
        matrix.PackReusing(w, 20, 9, version: 0);
        for (int r = 0; r < 20; r++)
        {
            float s = matrix.RowScale(r);
            Assert.Equal(w.Skip(r * 9).Take(9).Max(v => System.Math.Abs(v)) / 127, s);
            for (int p = 0; p < 9; p++)
            {
                Assert.InRange(matrix.Weight(r, p), -Int8Matrix.WeightLevels, Int8Matrix.WeightLevels);
                Assert.True(System.Math.Abs(matrix.Weight(r, p) * (double)s - w[r * 9 + p]) <= s * (0.5 + 1e-3));
            }
        }
        Assert.Equal(0f, matrix.RowScale(3));
    }

    [Fact]
    public void IntegerSumsStayExactPastOneChunk()
    {
        // every weight and input at the top of its range: each quad sums (with the weights' offset) to 2·2·255·63, so one
        // int32 chain over 140,000 inputs would overflow; the chunks of 32,768 quads keep it exact
        int n = 20, k = 140_000;
        float[] w = Enumerable.Repeat(0.5f, n * k).ToArray(), x = Enumerable.Repeat(-2f, k).ToArray();
        for (int p = 0; p < k; p += 3) w[p] = -0.5f; // row 0 mixed
        var matrix = new Int8Matrix();
        matrix.PackReusing(w, n, k, version: 0);
        double row0 = 0;
        for (int p = 0; p < k; p++) row0 += -2.0 * w[p];
        SimdPaths.OnEach(path =>
        {
            var y = new float[n];
            matrix.Multiply(1, x, k, y, n);
            Assert.Equal(row0, y[0], 1);
            for (int r = 1; r < n; r++) Assert.Equal(-140_000.0, y[r], 1);
        });
    }

    private static SequenceNetwork<float> Network(CellType cell, bool bi, int layers)
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = InputKind.Embedding, VocabularySize = 60, EmbeddingSize = 12, HiddenSize = 48, Layers = layers, Bidirectional = bi,
            OutputSize = 2, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 1);
        return net;
    }

    [Theory]
    [InlineData(CellType.Lstm, false, 1)]
    [InlineData(CellType.Gru, true, 2)]
    [InlineData(CellType.RnnTanh, false, 2)]
    public void NetworkOutputsStayNearTheExactPathForOneSequenceAndForBatches(CellType cell, bool bi, int layers)
    {
        var net = Network(cell, bi, layers);
        var rng = new Rng(5);
        var one = SequenceBatch<float>.FromTokens(Enumerable.Range(0, 30).Select(_ => rng.NextInt(60)).ToArray(), 1, 30);
        var many = SequenceBatch<float>.FromTokens(Enumerable.Range(0, 9 * 30).Select(_ => rng.NextInt(60)).ToArray(), 9, 30);
        float[] exactOne = net.Forward(one).ToArray(), exactMany = net.Forward(many).ToArray();
        long savedBytes = InferenceCache.TokenProjectionBytes;
        try
        {
            InferenceCache.Precision = InferencePrecision.Int8Weights;
            float[] int8One = net.Forward(one).ToArray(), int8Many = net.Forward(many).ToArray();
            Assert.NotEqual(exactOne, int8One); // the path was taken
            foreach (var (a, b) in new[] { (int8One, exactOne), (int8Many, exactMany) })
                for (int i = 0; i < a.Length; i++) Assert.True(System.Math.Abs(a[i] - b[i]) <= 2e-2 * (1 + System.Math.Abs(b[i])), $"{a[i]} vs {b[i]}");
            // the token cache (filled above in int8) gives the bits of the uncached int8 product, on every path
            SimdPaths.OnEach(path => Assert.Equal(int8One, net.Forward(one).ToArray()));
            InferenceCache.TokenProjectionBytes = 0;
            Assert.Equal(int8One, net.Forward(one).ToArray());
            Assert.Equal(int8Many, net.Forward(many).ToArray());
        }
        finally { InferenceCache.Precision = InferencePrecision.Exact; InferenceCache.TokenProjectionBytes = savedBytes; }
        // back to exact: the cache's int8 entries are not reused, the float bits come back
        Assert.Equal(exactOne, net.Forward(one).ToArray());
        Assert.Equal(exactMany, net.Forward(many).ToArray());
    }

    [Theory]
    [InlineData(CellType.Lstm, false, 1)]
    [InlineData(CellType.Gru, true, 2)]
    public void ABatchProjectingItsInputStepByStepGivesEachSequenceItsOwnBitsOnEveryPathAndThreadCount(CellType cell, bool bi, int layers)
    {
        // A batch in int8 projects each step's inputs on the thread that runs the step; one sequence projects all its
        // positions in one product (through the token cache): the same rows through the same kernel, so the same bits.
        var net = Network(cell, bi, layers);
        var rng = new Rng(6);
        int B = 44, S = 70; // B·H = 2,112 state values: two threads share the steps (in chunks of 8), and the gather (B·S·E = 36,960)
        int[] tokens = Enumerable.Range(0, B * S).Select(_ => rng.NextInt(60)).ToArray(), lengths = Enumerable.Range(0, B).Select(b => S - 3 * b % 11).ToArray();
        var batch = SequenceBatch<float>.FromTokens(tokens, B, S, lengths);
        int saved = Parallelism.MaxThreads;
        try
        {
            InferenceCache.Precision = InferencePrecision.Int8Weights;
            // each sequence's final states (every layer and direction), scored alone
            int LD = layers * (bi ? 2 : 1), H = 48;
            var alone = new float[B][];
            for (int b = 0; b < B; b++)
            {
                net.Forward(SequenceBatch<float>.FromTokens(tokens[(b * S)..(b * S + lengths[b])], 1, lengths[b]));
                var state = net.CreateState(1);
                net.CopyFinalState(state);
                alone[b] = state.Hidden.Concat(state.Cell).ToArray();
            }
            foreach (int threads in new[] { 1, 2 })
            {
                Parallelism.MaxThreads = threads;
                SimdPaths.OnEach(path =>
                {
                    net.Forward(batch);
                    var state = net.CreateState(B);
                    net.CopyFinalState(state);
                    for (int b = 0; b < B; b++)
                    {
                        var mine = Enumerable.Range(0, LD).SelectMany(l => state.Hidden.Skip((l * B + b) * H).Take(H))
                            .Concat(Enumerable.Range(0, state.Cell.Length == 0 ? 0 : LD).SelectMany(l => state.Cell.Skip((l * B + b) * H).Take(H)));
                        Assert.Equal(alone[b], mine.ToArray());
                    }
                });
            }
            // a backward after the batch (e.g. attributions) replays the steps with the whole projection first
            net.Forward(batch);
            net.Backward(Enumerable.Repeat(1f, 2 * B).ToArray());
            Assert.All(net.Parameters.Gradients, g => Assert.True(float.IsFinite(g)));
            Assert.Contains(net.Parameters.Gradients, g => g != 0);
        }
        finally { InferenceCache.Precision = InferencePrecision.Exact; Parallelism.MaxThreads = saved; }
    }

    [Fact]
    public void TheEnvironmentNamesEachPrecisionAndRejectsOthers()
    {
        foreach (InferencePrecision p in Enum.GetValues<InferencePrecision>())
        {
            Environment.SetEnvironmentVariable(InferenceCache.PrecisionVariable, InferenceCache.EnvironmentName(p));
            try { Assert.Equal(p, InferenceCache.PrecisionFromEnvironment()); }
            finally { Environment.SetEnvironmentVariable(InferenceCache.PrecisionVariable, null); }
        }
        Environment.SetEnvironmentVariable(InferenceCache.PrecisionVariable, "int4");
        try { Assert.Contains("'int4'", Assert.Throws<InvalidOperationException>(() => InferenceCache.PrecisionFromEnvironment()).Message); }
        finally { Environment.SetEnvironmentVariable(InferenceCache.PrecisionVariable, null); }
        Assert.Throws<ArgumentOutOfRangeException>(() => InferenceCache.Precision = (InferencePrecision)7);
    }
}
