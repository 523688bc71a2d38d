using System;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The cells' activations (Math/Activations) against the math library, and inference's step loop: a batch scored at once,
/// with its sequences shared between threads, gives each sequence's recurrent states bit for bit as scored alone (the
/// head's product may sum in another order for a few rows), and a backward pass after an inference forward (which keeps
/// no per-step caches and replays the steps) gives the training forward's gradients bit for bit.
/// </summary>
public class InferenceStepTests
{
    [Fact]
    public void ExpSigmoidAndTanhAreWithinAFewUlpsOfTheMathLibrary()
    {
        for (double x = -87; x <= 87; x += 0.0137)
        {
            double e = System.Math.Exp(x);
            Assert.True(System.Math.Abs(Activations.Exp((float)x) - System.Math.Exp((float)x)) <= 3e-7 * System.Math.Exp((float)x), $"float exp({x})");
            Assert.True(System.Math.Abs(Activations.Exp(x) - e) <= 1e-15 * e, $"double exp({x})");
            double s = 1 / (1 + System.Math.Exp(-x)), t = System.Math.Tanh(x);
            Assert.True(System.Math.Abs(Activations.Sigmoid(x) - s) <= 1e-15, $"double sigmoid({x})");
            Assert.True(System.Math.Abs(Activations.Tanh(x) - t) <= 1e-15, $"double tanh({x})");
            float xf = (float)x;
            Assert.True(System.Math.Abs(Activations.Sigmoid(xf) - 1 / (1 + System.Math.Exp(-(double)xf))) <= 2e-7, $"float sigmoid({x})");
            Assert.True(System.Math.Abs(Activations.Tanh(xf) - System.Math.Tanh(xf)) <= 3e-7, $"float tanh({x})");
        }
        Assert.True(float.IsNaN(Activations.Sigmoid(float.NaN)) && double.IsNaN(Activations.Tanh(double.NaN)) && float.IsNaN(Activations.Exp(float.NaN)));
        Assert.Equal(1f, Activations.Sigmoid(float.PositiveInfinity));
        Assert.True(Activations.Sigmoid(float.NegativeInfinity) < 1e-37f);
        Assert.Equal(-1.0, Activations.Tanh(double.NegativeInfinity));
        Assert.Equal(1f, Activations.Tanh(100f));
    }

    [Fact]
    public void VectorActivationsGiveTheScalarBits()
    {
        var rng = new Rng(8);
        int wf = System.Numerics.Vector<float>.Count, wd = System.Numerics.Vector<double>.Count;
        for (int rep = 0; rep < 2000; rep++)
        {
            double scale = rep % 3 == 0 ? 100 : rep % 3 == 1 ? 10 : 1e-3;
            var xf = Enumerable.Range(0, wf).Select(_ => (float)rng.NextUniform(-scale, scale)).ToArray();
            var xd = Enumerable.Range(0, wd).Select(_ => rng.NextUniform(-scale, scale)).ToArray();
            var vf = new System.Numerics.Vector<float>(xf);
            var vd = new System.Numerics.Vector<double>(xd);
            for (int i = 0; i < wf; i++)
            {
                Assert.Equal(Activations.Exp(xf[i]), Activations.Exp(vf)[i]);
                Assert.Equal(Activations.Sigmoid(xf[i]), Activations.Sigmoid(vf)[i]);
                Assert.Equal(Activations.Tanh(xf[i]), Activations.Tanh(vf)[i]);
            }
            for (int i = 0; i < wd; i++)
            {
                Assert.Equal(Activations.Sigmoid(xd[i]), Activations.Sigmoid(vd)[i]);
                Assert.Equal(Activations.Tanh(xd[i]), Activations.Tanh(vd)[i]);
            }
            if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) continue;
            var wf512 = Enumerable.Range(0, 16).Select(_ => (float)rng.NextUniform(-scale, scale)).ToArray();
            var wd512 = Enumerable.Range(0, 8).Select(_ => rng.NextUniform(-scale, scale)).ToArray();
            var v512 = System.Runtime.Intrinsics.Vector512.Create(wf512);
            var d512 = System.Runtime.Intrinsics.Vector512.Create(wd512);
            for (int i = 0; i < 16; i++)
            {
                Assert.Equal(Activations.Sigmoid(wf512[i]), Activations.Sigmoid(v512)[i]);
                Assert.Equal(Activations.Tanh(wf512[i]), Activations.Tanh(v512)[i]);
            }
            for (int i = 0; i < 8; i++) Assert.Equal(Activations.Tanh(wd512[i]), Activations.Tanh(d512)[i]);
        }
    }

    private static SequenceNetwork<float> Network(CellType cell, bool bi, int hidden)
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = InputKind.Embedding, VocabularySize = 50, EmbeddingSize = 9, HiddenSize = hidden, Layers = 2, Bidirectional = bi,
            OutputSize = 3, Output = OutputMode.PerStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 6);
        return net;
    }

    [Theory]
    [InlineData(CellType.Lstm, false)]
    [InlineData(CellType.Gru, true)]
    [InlineData(CellType.RnnTanh, false)]
    public void ABatchSharedBetweenThreadsScoresEachSequenceAsAlone(CellType cell, bool bi)
    {
        // 40 sequences × 64 units: each thread runs its share of the sequences through all the steps (RecurrentLayer.RunSteps)
        var net = Network(cell, bi, hidden: 64);
        var rng = new Rng(2);
        int[][] seqs = Enumerable.Range(0, 40).Select(_ => Enumerable.Range(0, 1 + rng.NextInt(12)).Select(_ => rng.NextInt(50)).ToArray()).ToArray();
        var batch = SequenceBatch<float>.FromTokenSequences(seqs);
        int S = batch.Steps, O = 3, saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 2;
            float[] shared = net.Forward(batch).ToArray();
            Parallelism.MaxThreads = 1;
            Assert.Equal(shared, net.Forward(batch).ToArray());
            var states = net.CreateState(seqs.Length);
            net.CopyFinalState(states);
            int n = states.Hidden.Length / seqs.Length / 64; // layer-directions
            for (int b = 0; b < seqs.Length; b++)
            {
                float[] alone = net.Forward(SequenceBatch<float>.FromTokens(seqs[b], 1, seqs[b].Length)).ToArray();
                var state = net.CreateState(1);
                net.CopyFinalState(state);
                for (int i = 0; i < n; i++)
                {
                    Assert.Equal(state.Hidden.AsSpan(i * 64, 64).ToArray(), states.Hidden.AsSpan((i * seqs.Length + b) * 64, 64).ToArray());
                    if (cell == CellType.Lstm) Assert.Equal(state.Cell.AsSpan(i * 64, 64).ToArray(), states.Cell.AsSpan((i * seqs.Length + b) * 64, 64).ToArray());
                }
                for (int i = 0; i < alone.Length; i++) Assert.True(System.Math.Abs(alone[i] - shared[b * S * O + i]) <= 1e-6, $"output {i} of sequence {b}");
            }
        }
        finally { Parallelism.MaxThreads = saved; }
    }

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.RnnRelu)]
    public void BackwardAfterInferenceGivesTheTrainingForwardsGradients(CellType cell)
    {
        var net = Network(cell, bi: true, hidden: 64);
        var rng = new Rng(3);
        int[][] seqs = Enumerable.Range(0, 36).Select(_ => Enumerable.Range(0, 1 + rng.NextInt(9)).Select(_ => rng.NextInt(50)).ToArray()).ToArray();
        var batch = SequenceBatch<float>.FromTokenSequences(seqs);
        var dOut = Enumerable.Range(0, seqs.Length * batch.Steps * 3).Select(_ => (float)rng.NextUniform(-1, 1)).ToArray();
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 2;
            float[] trainingOut = net.Forward(batch, training: true).ToArray();
            net.Parameters.ZeroGradients();
            net.Backward(dOut);
            float[] trainingGrad = (float[])net.Parameters.Gradients.Clone();
            Assert.Equal(trainingOut, net.Forward(batch).ToArray());
            net.Parameters.ZeroGradients();
            net.Backward(dOut);
            Assert.Equal(trainingGrad, net.Parameters.Gradients);
        }
        finally { Parallelism.MaxThreads = saved; }
    }
}
