using System;
using System.Numerics;
using Rnn.MLNet.Math;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>The packed SIMD GEMM against its naive twin on every transpose combination and tail length, on every SIMD path.</summary>
[Collection(nameof(SimdPathForcing))]
public class GemmTests
{
    internal static T[] Random<T>(Rng rng, int n) where T : INumber<T>
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateChecked(rng.NextUniform(-1, 1));
        return a;
    }

    private static void Compare<T>(bool ta, bool tb, int m, int n, int k, bool accumulate, double tol, int pad = 0)
        where T : unmanaged, INumber<T>
    {
        var rng = new Rng((ulong)(m * 100003 + n * 1009 + k * 7 + (ta ? 1 : 0) + (tb ? 2 : 0)));
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        var a = Random<T>(rng, (ta ? k : m) * lda);
        var b = Random<T>(rng, (tb ? n : k) * ldb);
        var c0 = Random<T>(rng, m * ldc);
        var slow = (T[])c0.Clone();
        GemmReference.Multiply<T>(ta, tb, m, n, k, a, lda, b, ldb, slow, ldc, accumulate);
        SimdPaths.OnEach(path =>
        {
            var fast = (T[])c0.Clone();
            Gemm.Multiply<T>(ta, tb, m, n, k, a, lda, b, ldb, fast, ldc, accumulate);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < ldc; j++)
                {
                    double f = double.CreateChecked(fast[i * ldc + j]), s = double.CreateChecked(slow[i * ldc + j]);
                    if (j >= n) Assert.Equal(double.CreateChecked(c0[i * ldc + j]), f); // padding untouched
                    else Assert.True(System.Math.Abs(f - s) <= tol * (1 + System.Math.Abs(s)), $"{path} m={m} n={n} k={k} ta={ta} tb={tb} acc={accumulate}: C[{i},{j}] fast {f} ref {s}");
                }
        });
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void AllTailLengthsMatchReference(bool ta, bool tb)
    {
        // m crosses the 6-row micro-panel, n every tail of the 16/32-wide column panel, k the unroll.
        for (int m = 1; m <= 13; m++)
            for (int n = 1; n <= 35; n++)
                foreach (int k in new[] { 1, 3, 17 })
                {
                    Compare<float>(ta, tb, m, n, k, accumulate: (m + n) % 2 == 0, tol: 1e-5);
                    Compare<double>(ta, tb, m, n, k, accumulate: (m + n) % 2 == 1, tol: 1e-12);
                }
    }

    [Theory]
    [InlineData(false, false, 150, 1100, 300)] // crosses MC, NC and KC blocks
    [InlineData(true, false, 77, 65, 513)]
    [InlineData(false, true, 20, 800, 200)]
    [InlineData(true, true, 64, 257, 129)]
    [InlineData(false, false, 40, 1100, 300)] // few rows: B read in place (no packing) across NC and KC blocks
    [InlineData(true, false, 72, 1030, 513)]  // the largest row count that reads B in place, partial last panel
    public void BlockBoundariesMatchReference(bool ta, bool tb, int m, int n, int k)
    {
        Compare<float>(ta, tb, m, n, k, accumulate: true, tol: 1e-4, pad: 3);
        Compare<double>(ta, tb, m, n, k, accumulate: false, tol: 1e-11, pad: 1);
    }

    [Fact]
    public void ZeroSizedDimensionsAreHandled()
    {
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.Multiply<float>(false, false, 2, 2, 0, Array.Empty<float>(), 0, Array.Empty<float>(), 2, c, 2, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, c);
        Gemm.Multiply<float>(false, false, 2, 2, 0, Array.Empty<float>(), 0, Array.Empty<float>(), 2, c, 2, accumulate: false);
        Assert.Equal(new float[4], c);
    }

    [Fact]
    public void TooSmallBuffersAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply<float>(false, false, 2, 2, 2, new float[3], 2, new float[4], 2, new float[4], 2, false));
        Assert.Contains("A is too small", ex.Message);
    }
}

/// <summary>Pre-packed B and the multi-threaded split against the naive twin, on every SIMD path; thread count never changes a bit.</summary>
[Collection(nameof(SimdPathForcing))]
public class GemmPackedAndParallelTests
{
    private static float[] Random(Rng rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)rng.NextUniform(-1, 1);
        return a;
    }

    [Theory]
    [InlineData(false, false, 7, 33, 19)]
    [InlineData(true, true, 3, 1100, 300)]   // few-row panel path across NC blocks (Bᵀ) …
    [InlineData(false, false, 2, 71, 43)]    // … and with a partial last panel (B)
    [InlineData(false, true, 4, 37, 35)]
    [InlineData(false, false, 1, 1, 1)]
    [InlineData(false, true, 40, 2100, 270)] // crosses NC and KC blocks
    [InlineData(true, false, 13, 1025, 257)]
    public void PrepackedBMatchesReference(bool ta, bool tb, int m, int n, int k)
    {
        var rng = new Rng((ulong)(m + n + k));
        var a = Random(rng, m * k);
        var b = Random(rng, n * k);
        var c0 = Random(rng, m * n);
        var slow = (float[])c0.Clone();
        GemmReference.Multiply<float>(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, slow, n, accumulate: true);
        SimdPaths.OnEach(path =>
        {
            var packed = new PackedB<float>();
            packed.Pack(tb, n, k, b, tb ? k : n);
            Assert.Equal(path, packed.Path);
            var fast = (float[])c0.Clone();
            Gemm.Multiply<float>(ta, m, packed, a, ta ? m : k, fast, n, accumulate: true);
            for (int i = 0; i < fast.Length; i++) Assert.True(System.Math.Abs(fast[i] - slow[i]) <= 1e-4 * (1 + System.Math.Abs(slow[i])), $"{path} {i}: {fast[i]} vs {slow[i]}");
        });
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void PrepackedBAllTailLengthsMatchReference(bool ta, bool tb)
    {
        // m ≤ 4 takes the few-row panel path (four panels at a time, then one, then a partial one), m > 4 the blocked one;
        // n runs past four 32-wide panels so every group and tail is hit, in float and double.
        var rng = new Rng(5);
        foreach (int m in new[] { 1, 2, 3, 4, 5, 7 })
            for (int n = 1; n <= 140; n += n < 40 ? 1 : 7)
                foreach (int k in new[] { 1, 5, 64 })
                {
                    CheckPacked<float>(rng, ta, tb, m, n, k, accumulate: (n + k) % 2 == 0, tol: 1e-5);
                    CheckPacked<double>(rng, ta, tb, m, n, k, accumulate: (n + k) % 2 == 1, tol: 1e-12);
                }
    }

    private static void CheckPacked<T>(Rng rng, bool ta, bool tb, int m, int n, int k, bool accumulate, double tol) where T : unmanaged, INumber<T>
    {
        var a = GemmTests.Random<T>(rng, m * k);
        var b = GemmTests.Random<T>(rng, n * k);
        var c0 = GemmTests.Random<T>(rng, m * n);
        var slow = (T[])c0.Clone();
        GemmReference.Multiply<T>(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, slow, n, accumulate);
        SimdPaths.OnEach(path =>
        {
            var packed = new PackedB<T>();
            packed.Pack(tb, n, k, b, tb ? k : n);
            var fast = (T[])c0.Clone();
            Gemm.Multiply<T>(ta, m, packed, a, ta ? m : k, fast, n, accumulate);
            for (int i = 0; i < fast.Length; i++)
            {
                double f = double.CreateChecked(fast[i]), s = double.CreateChecked(slow[i]);
                Assert.True(System.Math.Abs(f - s) <= tol * (1 + System.Math.Abs(s)), $"{path} m={m} n={n} k={k} ta={ta} tb={tb} acc={accumulate}: {i}: {f} vs {s}");
            }
        });
    }

    [Fact]
    public void PackReusingKeepsPanelsOnlyWhileTheWeightsVersionIsUnchanged()
    {
        var rng = new Rng(9);
        int m = 1, n = 70, k = 33;
        var a = Random(rng, m * k);
        var b = Random(rng, n * k);
        var packed = new PackedB<float>();
        long version = 7; // the owner's ParameterStore.Version
        bool packedNow = false;
        float[] Product()
        {
            packedNow = packed.PackReusing(true, n, k, b, k, version);
            var c = new float[m * n];
            Gemm.Multiply<float>(false, m, packed, a, k, c, n, accumulate: false);
            return c;
        }
        float[] Expected()
        {
            var c = new float[m * n];
            GemmReference.Multiply<float>(false, true, m, n, k, a, k, b, k, c, n, accumulate: false);
            return c;
        }
        var first = Product();
        Assert.True(packedNow);
        Assert.Equal(first, Product()); // reused
        Assert.False(packedNow);
        b[n * k - 1] += 0.5f;           // the last element changes, and its owner says so
        version++;
        var changed = Product();
        Assert.True(packedNow);
        var expected = Expected();
        for (int i = 0; i < n; i++) Assert.True(System.Math.Abs(changed[i] - expected[i]) <= 1e-5 * (1 + System.Math.Abs(expected[i])), $"{i}");
        Assert.NotEqual(first[n - 1], changed[n - 1]);
        packed.Pack(false, k, n, b, k); // used another way in between (as backward does), then reused: packs again
        var again = Product();
        Assert.True(packedNow);
        Assert.Equal(changed, again);
    }

    [Theory]
    [InlineData(false, 2600, 650)] // W_hh of lstm-large as the forward step reads it (transposing pack) …
    [InlineData(true, 650, 2600)]  // … and as the backward step does
    [InlineData(false, 1100, 70)]  // crosses an NC block with a partial last panel
    public void PackingOnSeveralThreadsGivesTheSamePanels(bool rowMajorB, int n, int k)
    {
        bool transB = !rowMajorB;
        var rng = new Rng(3);
        var b = Random(rng, n * k);
        var a = Random(rng, 5 * k);
        int saved = Parallelism.MaxThreads;
        try
        {
            SimdPaths.OnEach(_ => CheckThreadCounts());
        }
        finally { Parallelism.MaxThreads = saved; }

        void CheckThreadCounts()
        {
            float[] Product(int threads)
            {
                Parallelism.MaxThreads = threads;
                var packed = new PackedB<float>();
                packed.Pack(transB, n, k, b, transB ? k : n);
                packed.EnsurePanels();
                Parallelism.MaxThreads = 1;
                var c = new float[5 * n];
                Gemm.Multiply<float>(false, 5, packed, a, k, c, n, false);
                return c;
            }
            var one = Product(1);
            Assert.Equal(one, Product(2));
            Assert.Equal(one, Product(3));
            var slow = new float[5 * n];
            GemmReference.Multiply<float>(false, transB, 5, n, k, a, k, b, transB ? k : n, slow, n, false);
            for (int i = 0; i < slow.Length; i++) Assert.True(System.Math.Abs(one[i] - slow[i]) <= 1e-4 * (1 + System.Math.Abs(slow[i])));
        }
    }

    [Theory]
    [InlineData(150, 1300, 300, false, "Columns")]
    [InlineData(401, 100, 300, false, "Rows")]   // rows: each part packs all of B, here the small operand
    [InlineData(300, 130, 200, true, "Rows")]    // pre-packed B: nothing repeated
    [InlineData(45, 70, 1300, false, "Depth")]   // long summation: two halves, the second through a partial C
    [InlineData(20, 2600, 650, true, "Columns")] // a recurrent step at lstm-large
    public void EverySplitMatchesReferenceAndIgnoresThreadCount(int m, int n, int k, bool prepacked, string expected)
    {
        Assert.Equal(expected, Gemm.ChooseSplit(m, n, k, prepacked).ToString());
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
                foreach (bool accumulate in new[] { false, true })
                {
                    var rng = new Rng((ulong)(m + n + k + (ta ? 1 : 0) + (tb ? 2 : 0)));
                    var a = Random(rng, m * k);
                    var b = Random(rng, n * k);
                    var c0 = Random(rng, m * n);
                    var slow = (float[])c0.Clone();
                    GemmReference.Multiply<float>(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, slow, n, accumulate);
                    SimdPaths.OnEach(path =>
                    {
                        var packed = new PackedB<float>();
                        packed.Pack(tb, n, k, b, tb ? k : n);
                        float[] Product(int threads)
                        {
                            Parallelism.MaxThreads = threads;
                            var c = (float[])c0.Clone();
                            if (prepacked) Gemm.Multiply<float>(ta, m, packed, a, ta ? m : k, c, n, accumulate);
                            else Gemm.Multiply<float>(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n, accumulate);
                            return c;
                        }
                        var one = Product(1);
                        Assert.Equal(one, Product(2)); // bit for bit, whatever the thread count
                        if (path == Simd.Best) // the split does not depend on the path: the odd counts once
                        {
                            Assert.Equal(one, Product(3));
                            Assert.Equal(one, Product(4));
                        }
                        for (int i = 0; i < slow.Length; i++)
                            Assert.True(System.Math.Abs(one[i] - slow[i]) <= 1e-4 * (1 + System.Math.Abs(slow[i])), $"{path} ta={ta} tb={tb} acc={accumulate}: C[{i}] {one[i]} vs {slow[i]}");
                    });
                }
        }
        finally { Parallelism.MaxThreads = saved; }
    }
}
