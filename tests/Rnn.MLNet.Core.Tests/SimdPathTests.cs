using System;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The named SIMD paths: each can be forced and is then taken by the kernels (skipped with the reason where the machine
/// cannot run it); the Vector&lt;T&gt; loops of the cells and of Adam give their scalar loops' bits on every path.
/// </summary>
[Collection(nameof(SimdPathForcing))]
public class SimdPathTests
{
    [SimdPathFact(SimdPath.Vector512)]
    public void TheVector512PathIsTakenWhenForced() => ForcedPathIsTaken(SimdPath.Vector512);

    [SimdPathFact(SimdPath.Vector256)]
    public void TheVector256PathIsTakenWhenForced() => ForcedPathIsTaken(SimdPath.Vector256);

    [SimdPathFact(SimdPath.Scalar)]
    public void TheScalarPathIsTakenWhenForced() => ForcedPathIsTaken(SimdPath.Scalar);

    // Forced: the setting reads back, packing lays panels out for the path (its width), a product on it matches the
    // naive twin, and a matrix packed on another path is repacked on its next reuse.
    private static void ForcedPathIsTaken(SimdPath path)
    {
        var rng = new Rng(17);
        int m = 3, n = 45, k = 20;
        var a = GemmTests.Random<float>(rng, m * k);
        var b = GemmTests.Random<float>(rng, n * k);
        var reused = new PackedB<float>();
        using (Simd.Force(path == SimdPath.Scalar ? Simd.Best : SimdPath.Scalar)) reused.PackReusing(true, n, k, b, k, version: 0);
        using (Simd.Force(path))
        {
            Assert.Equal(path, Simd.Path);
            var packed = new PackedB<float>();
            packed.Pack(true, n, k, b, k);
            Assert.Equal(path, packed.Path);
            Assert.True(reused.PackReusing(true, n, k, b, k, version: 0) || path == Simd.Best && Simd.Best == SimdPath.Scalar, "packed on another path: repacked");
            Assert.Equal(path, reused.Path);
            var fast = new float[m * n];
            var slow = new float[m * n];
            Gemm.Multiply<float>(false, m, packed, a, k, fast, n, accumulate: false);
            GemmReference.Multiply<float>(false, true, m, n, k, a, k, b, k, slow, n, accumulate: false);
            for (int i = 0; i < fast.Length; i++) Assert.True(System.Math.Abs(fast[i] - slow[i]) <= 1e-5 * (1 + System.Math.Abs(slow[i])), $"{path} {i}");
        }
        Assert.Equal(Simd.Best, Simd.Path); // restored
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void CellBackwardGivesTheScalarLoopsBitsOnEveryPath(CellType type)
    {
        var cell = Cell<float>.For(type);
        int g = type.GateCount();
        var rng = new Rng(3);
        for (int h = 1; h <= 40; h++) // every tail of an 8- or 16-wide vector
        {
            float[] R(int len, double scale = 1) => Enumerable.Range(0, len).Select(_ => (float)rng.NextUniform(-scale, scale)).ToArray();
            float[] gates = R(g * h, 0.99), aux = R(h), hPrev = R(h), c = R(h), hNext = R(h), dh = R(h), dc0 = R(h);
            (float[] Dax, float[] Dah, float[] Dc, float[] Direct) Run()
            {
                var r = (Dax: new float[g * h], Dah: new float[g * h], Dc: (float[])dc0.Clone(), Direct: R(h));
                cell.Backward(new CellBackwardRow<float>
                {
                    Gates = gates, Aux = aux, H = hPrev, C = c, HNext = hNext, Dh = dh, Dc = r.Dc, Dax = r.Dax, Dah = r.Dah, DhDirect = r.Direct,
                });
                return r;
            }
            (float[] Dax, float[] Dah, float[] Dc, float[] Direct) scalar;
            using (Simd.Force(SimdPath.Scalar)) scalar = Run();
            SimdPaths.OnEach(_ =>
            {
                var v = Run();
                Assert.Equal(scalar.Dax, v.Dax);
                Assert.Equal(scalar.Dah, v.Dah);
                Assert.Equal(scalar.Dc, v.Dc);
                Assert.Equal(scalar.Direct, v.Direct);
            });
        }
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.RnnRelu)]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void CellForwardGivesTheScalarLoopsBitsOnEveryPath(CellType type)
    {
        var cell = Cell<float>.For(type);
        int g = type.GateCount();
        var rng = new Rng(4);
        for (int h = 1; h <= 40; h++) // every tail of an 8- or 16-wide vector
        {
            float[] R(int len, double scale) => Enumerable.Range(0, len).Select(_ => (float)rng.NextUniform(-scale, scale)).ToArray();
            float[] ax = R(g * h, 4), ah = R(g * h, 4), product = R(g * h, 4), hPrev = R(h, 1), c = R(h, 2);
            (float[] Gates, float[] Aux, float[] C, float[] H) Run()
            {
                var r = (Gates: (float[])product.Clone(), Aux: new float[h], C: new float[h], H: new float[h]);
                cell.Forward(new CellForwardRow<float> { Ax = ax, Ah = ah, H = hPrev, C = c, Gates = r.Gates, Aux = r.Aux, CNext = r.C, HNext = r.H });
                return r;
            }
            (float[] Gates, float[] Aux, float[] C, float[] H) scalar;
            using (Simd.Force(SimdPath.Scalar)) scalar = Run();
            SimdPaths.OnEach(_ =>
            {
                var v = Run();
                Assert.Equal(scalar.Gates, v.Gates);
                Assert.Equal(scalar.Aux, v.Aux);
                Assert.Equal(scalar.C, v.C);
                Assert.Equal(scalar.H, v.H);
            });
        }
    }

    [Fact]
    public void AdamGivesTheScalarLoopsBitsOnEveryPath()
    {
        float[] Train()
        {
            var store = new ParameterStore<float>(new[] { ("w", new[] { 37 }) });
            var rng = new Rng(5);
            for (int i = 0; i < store.Count; i++) store.Values[i] = (float)rng.NextUniform(-1, 1);
            var adam = new Adam<float>(1e-2, weightDecay: 1e-3);
            for (int step = 0; step < 3; step++)
            {
                for (int i = 0; i < store.Count; i++) store.Gradients[i] = (float)rng.NextUniform(-0.1, 0.1);
                adam.Step(store);
            }
            return store.Values;
        }
        float[] scalar;
        using (Simd.Force(SimdPath.Scalar)) scalar = Train();
        SimdPaths.OnEach(_ => Assert.Equal(scalar, Train()));
    }
}
