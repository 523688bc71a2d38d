using System;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The opt-in bfloat16 recurrent weights of single-sequence inference: rounding to nearest even, the packed product
/// against a naive double-precision twin on the rounded weights, the same bits on every SIMD path, and a network's
/// outputs near the exact path's. Process-wide settings: alone in the SIMD-forcing collection.
/// </summary>
[Collection(nameof(SimdPathForcing))]
public class ReducedPrecisionTests
{
    [Fact]
    public void RoundsToTheNearestBfloat16TiesToEven()
    {
        Assert.Equal(0x3F80u, Bf16Matrix.ToBf16(1f));
        Assert.Equal(0x3F80u, Bf16Matrix.ToBf16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie, even stays
        Assert.Equal(0x3F82u, Bf16Matrix.ToBf16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie, odd rounds up
        Assert.Equal(0x3F81u, Bf16Matrix.ToBf16(BitConverter.UInt32BitsToSingle(0x3F808001))); // above the tie
        Assert.Equal(0xC000u, Bf16Matrix.ToBf16(-2f));
    }

    [Fact]
    public void ProductMatchesTheNaiveTwinAndGivesTheSameBitsOnEveryPath()
    {
        var rng = new Rng(12);
        foreach (var (n, k) in new[] { (512, 128), (37, 5), (80, 64), (16, 1), (100, 33) })
        {
            var w = Enumerable.Range(0, n * k).Select(_ => (float)rng.NextUniform(-1, 1)).ToArray();
            var x = Enumerable.Range(0, k).Select(_ => (float)rng.NextUniform(-1, 1)).ToArray();
            var m = new Bf16Matrix();
            m.PackReusing(w, n, k, version: 0);
            float[] Run() { var y = new float[n]; m.Multiply(x, y); return y; }
            float[] scalar;
            using (Simd.Force(SimdPath.Scalar)) scalar = Run();
            for (int r = 0; r < n; r++)
            {
                double sum = 0, scale = 0;
                for (int p = 0; p < k; p++)
                {
                    double wr = BitConverter.UInt32BitsToSingle(Bf16Matrix.ToBf16(w[r * k + p]) << 16);
                    sum += wr * x[p]; scale += System.Math.Abs(wr * x[p]);
                }
                Assert.True(System.Math.Abs(scalar[r] - sum) <= 1e-6 * (1 + scale), $"{n}x{k} row {r}: {scalar[r]} vs {sum}");
            }
            SimdPaths.OnEach(path => Assert.Equal(scalar, Run()));
        }
    }

    [Fact]
    public void SingleSequenceOutputsStayNearTheExactPathAndBatchesAreUntouched()
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 40, EmbeddingSize = 8, HiddenSize = 48, OutputSize = 2, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 1);
        var rng = new Rng(5);
        var one = SequenceBatch<float>.FromTokens(Enumerable.Range(0, 30).Select(_ => rng.NextInt(40)).ToArray(), 1, 30);
        var many = SequenceBatch<float>.FromTokens(Enumerable.Range(0, 8 * 30).Select(_ => rng.NextInt(40)).ToArray(), 8, 30);
        float[] exactOne = net.Forward(one).ToArray(), exactMany = net.Forward(many).ToArray();
        try
        {
            InferenceCache.Precision = InferencePrecision.BFloat16RecurrentWeights;
            float[] reduced = net.Forward(one).ToArray();
            Assert.NotEqual(exactOne, reduced); // the path was taken
            for (int i = 0; i < reduced.Length; i++) Assert.True(System.Math.Abs(reduced[i] - exactOne[i]) <= 1e-2 * (1 + System.Math.Abs(exactOne[i])), $"{reduced[i]} vs {exactOne[i]}");
            Assert.Equal(exactMany, net.Forward(many).ToArray());
        }
        finally { InferenceCache.Precision = InferencePrecision.Exact; }
        Assert.Equal(exactOne, net.Forward(one).ToArray());
    }
}
