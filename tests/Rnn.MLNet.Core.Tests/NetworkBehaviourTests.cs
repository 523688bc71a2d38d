using System;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>Masking, streaming, truncated BPTT, float vs double, initializers and determinism.</summary>
public class NetworkBehaviourTests
{
    private static NetworkOptions Options(CellType cell, bool bi = false, int layers = 2) => new()
    {
        Cell = cell, Input = InputKind.Embedding, VocabularySize = 11, EmbeddingSize = 5, HiddenSize = 7,
        Layers = layers, Bidirectional = bi, OutputSize = 4, Output = OutputMode.PerStep,
    };

    private static int[] Tokens(Rng rng, int n) => Enumerable.Range(0, n).Select(_ => rng.NextInt(11)).ToArray();

    [Theory]
    [InlineData(CellType.RnnTanh, false)]
    [InlineData(CellType.Lstm, true)]
    [InlineData(CellType.Gru, true)]
    [InlineData(CellType.RnnRelu, true)]
    public void PaddedBatchGivesTheSameOutputsAndGradientsAsEachSequenceAlone(CellType cell, bool bi)
    {
        var rng = new Rng(5);
        var net = new SequenceNetwork<double>(Options(cell, bi));
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 3);
        int[][] seqs = { Tokens(rng, 6), Tokens(rng, 2), Tokens(rng, 4) };
        var batch = SequenceBatch<double>.FromTokenSequences(seqs);
        int S = batch.Steps, O = 4;
        var dOut = GradientCheck.RandomArray(rng, 3 * S * O);
        var outBatch = net.Forward(batch).ToArray();
        var finalBatch = net.CreateState(3);
        net.CopyFinalState(finalBatch);
        net.Parameters.ZeroGradients();
        net.Backward(dOut);
        var gradBatch = (double[])net.Parameters.Gradients.Clone();

        var gradSum = new double[gradBatch.Length];
        for (int b = 0; b < 3; b++)
        {
            int len = seqs[b].Length;
            var single = SequenceBatch<double>.FromTokens(seqs[b], 1, len);
            var outSingle = net.Forward(single).ToArray();
            for (int t = 0; t < S; t++)
                for (int j = 0; j < O; j++)
                {
                    double expected = t < len ? outSingle[t * O + j] : 0;
                    Assert.Equal(expected, outBatch[(b * S + t) * O + j], 12);
                }
            var final = net.CreateState(1);
            net.CopyFinalState(final);
            int H = 7, n = final.Hidden.Length / H;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < H; j++)
                    Assert.Equal(final.Hidden[i * H + j], finalBatch.Hidden[(i * 3 + b) * H + j], 12);
            net.Parameters.ZeroGradients();
            net.Backward(dOut.AsSpan(b * S * O, len * O).ToArray());
            for (int i = 0; i < gradSum.Length; i++) gradSum[i] += net.Parameters.Gradients[i];
        }
        for (int i = 0; i < gradSum.Length; i++) Assert.Equal(gradSum[i], gradBatch[i], 10);
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void StreamingStepsReproduceTheFullSequence(CellType cell)
    {
        var rng = new Rng(8);
        var net = new SequenceNetwork<float>(Options(cell));
        Initializer.Initialize(net, InitScheme.Orthogonal, 4);
        int[] tokens = Tokens(rng, 9);
        var full = net.Forward(SequenceBatch<float>.FromTokens(tokens, 1, 9)).ToArray();
        var state = net.CreateState(1);
        for (int t = 0; t < 9; t++)
        {
            var y = net.Step(state, new[] { tokens[t] });
            for (int j = 0; j < 4; j++) Assert.True(System.Math.Abs(full[t * 4 + j] - y[j]) <= 1e-5, $"step {t}: {full[t * 4 + j]} vs {y[j]}");
        }
        state.Reset();
        var again = net.Step(state, new[] { tokens[0] }).ToArray();
        for (int j = 0; j < 4; j++) Assert.True(System.Math.Abs(full[j] - again[j]) <= 1e-5);
    }

    [Fact]
    public void StreamingRejectsBidirectionalNetworks()
    {
        var net = new SequenceNetwork<float>(Options(CellType.Gru, bi: true));
        var ex = Assert.Throws<InvalidOperationException>(() => net.Step(net.CreateState(1), new[] { 1 }));
        Assert.Contains("unidirectional", ex.Message);
    }

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void TruncatedBpttCarriesStateAcrossChunks(CellType cell)
    {
        var rng = new Rng(12);
        var net = new SequenceNetwork<double>(Options(cell));
        Initializer.Initialize(net, InitScheme.Xavier, 5);
        int[] stream = Tokens(rng, 2 * 12);
        // Two sequences of 12 steps, processed whole and as 3 chunks of 4 with the state carried.
        var whole = net.Forward(SequenceBatch<double>.FromTokens(stream, 2, 12)).ToArray();
        var carry = net.CreateState(2);
        for (int c = 0; c < 3; c++)
        {
            var chunk = new int[8];
            for (int b = 0; b < 2; b++) Array.Copy(stream, b * 12 + c * 4, chunk, b * 4, 4);
            var y = net.Forward(SequenceBatch<double>.FromTokens(chunk, 2, 4), initialState: carry).ToArray();
            net.CopyFinalState(carry);
            for (int b = 0; b < 2; b++)
                for (int t = 0; t < 4; t++)
                    for (int j = 0; j < 4; j++)
                        Assert.Equal(whole[(b * 12 + c * 4 + t) * 4 + j], y[(b * 4 + t) * 4 + j], 12);
        }

        // Trainer with a carry: the loss goes down on a stream it sees repeatedly, and the carry holds the final state.
        var trainNet = new SequenceNetwork<float>(Options(cell));
        Initializer.Initialize(trainNet, InitScheme.PyTorchDefault, 5);
        var trainer = new Trainer<float>(trainNet, new Adam<float>(0.02), LossKind.SoftmaxCrossEntropy);
        var state = trainNet.CreateState(2);
        double first = 0, last = 0;
        for (int epoch = 0; epoch < 40; epoch++)
        {
            state.Reset();
            double sum = 0;
            for (int c = 0; c < 3; c++)
            {
                var chunk = new int[8];
                var targets = new int[8];
                for (int b = 0; b < 2; b++)
                    for (int t = 0; t < 4; t++) { chunk[b * 4 + t] = stream[b * 12 + c * 4 + t]; targets[b * 4 + t] = stream[b * 12 + c * 4 + t] % 4; }
                sum += trainer.TrainStep(SequenceBatch<float>.FromTokens(chunk, 2, 4), new Targets<float> { Classes = targets }, state);
            }
            if (epoch == 0) first = sum; else last = sum;
        }
        Assert.True(last < first * 0.5, $"loss {first} → {last}");
        Assert.Contains(state.Hidden, v => v != 0);
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void FloatPathMatchesDoubleReference(CellType cell)
    {
        var o = Options(cell, bi: true);
        var d = new SequenceNetwork<double>(o);
        Initializer.Initialize(d, InitScheme.PyTorchDefault, 21);
        var f = new SequenceNetwork<float>(o);
        for (int i = 0; i < d.Parameters.Count; i++) f.Parameters.Values[i] = (float)d.Parameters.Values[i];
        var rng = new Rng(4);
        int[] tokens = Tokens(rng, 3 * 30);
        int[] lengths = { 30, 17, 5 };
        var yd = d.Forward(SequenceBatch<double>.FromTokens(tokens, 3, 30, lengths)).ToArray();
        var yf = f.Forward(SequenceBatch<float>.FromTokens(tokens, 3, 30, lengths)).ToArray();
        var dOut = GradientCheck.RandomArray(rng, yd.Length);
        d.Parameters.ZeroGradients(); d.Backward(dOut);
        f.Parameters.ZeroGradients(); f.Backward(dOut.Select(v => (float)v).ToArray());
        Assert.True(MaxRelative(yf, yd) < 1e-5, $"outputs: {MaxRelative(yf, yd)}");
        foreach (var p in d.Parameters.Parameters)
        {
            double err = MaxRelative(f.Parameters.Gradient(p.Name).ToArray(), d.Parameters.Gradient(p).ToArray());
            Assert.True(err < 1e-4, $"{p.Name}: {err}");
        }
    }

    private static double MaxRelative(float[] a, double[] b)
    {
        double diff = 0, max = 1e-12;
        for (int i = 0; i < a.Length; i++) { diff = System.Math.Max(diff, System.Math.Abs(a[i] - b[i])); max = System.Math.Max(max, System.Math.Abs(b[i])); }
        return diff / max;
    }

    [Fact]
    public void OrthogonalInitGivesOrthogonalRecurrentBlocks()
    {
        var net = new SequenceNetwork<double>(Options(CellType.Lstm));
        Initializer.Initialize(net, InitScheme.Orthogonal, 1);
        var w = net.Parameters.Value("rnn.weight_hh_l0"); // [4H, H]
        int h = 7;
        for (int g = 0; g < 4; g++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < h; j++)
                {
                    double dot = 0;
                    for (int k = 0; k < h; k++) dot += w[(g * h + i) * h + k] * w[(g * h + j) * h + k];
                    Assert.Equal(i == j ? 1.0 : 0.0, dot, 10);
                }
        Assert.All(net.Parameters.Value("rnn.bias_ih_l0").Slice(h, h).ToArray(), v => Assert.Equal(1.0, v)); // forget-gate bias
    }

    [Theory]
    [InlineData(InitScheme.PyTorchDefault, 0.3779645)] // 1/√7
    [InlineData(InitScheme.Xavier, 0.7559289)]         // √(6/(5+7)) for weight_ih_l0 [·, 5]
    [InlineData(InitScheme.Kaiming, 1.0954451)]        // √(6/5)
    public void InitializersRespectTheirBounds(InitScheme scheme, double bound)
    {
        var net = new SequenceNetwork<double>(Options(CellType.Gru));
        Initializer.Initialize(net, scheme, 9);
        var w = net.Parameters.Value("rnn.weight_ih_l0").ToArray();
        Assert.All(w, v => Assert.InRange(System.Math.Abs(v), 0, bound));
        Assert.True(w.Max(System.Math.Abs) > 0.8 * bound, "the draws should fill the range");
    }

    [Fact]
    public void SameSeedRepeatsTrainingBitForBit()
    {
        float[] Run()
        {
            var o = Options(CellType.Lstm);
            o.Dropout = 0.2f;
            var net = new SequenceNetwork<float>(o);
            Initializer.Initialize(net, InitScheme.PyTorchDefault, 77);
            net.DropoutRng = new Rng(78);
            var trainer = new Trainer<float>(net, new Adam<float>(0.01), LossKind.SoftmaxCrossEntropy);
            var rng = new Rng(79);
            for (int step = 0; step < 20; step++)
            {
                var tokens = Tokens(rng, 4 * 6);
                trainer.TrainStep(SequenceBatch<float>.FromTokens(tokens, 4, 6), new Targets<float> { Classes = tokens.Select(t => t % 4).ToArray() });
            }
            return net.Parameters.Values;
        }
        Assert.Equal(Run(), Run());
    }
}

/// <summary>
/// Allocation counts are only meaningful with nothing else running: other test classes share the worker pool (their jobs'
/// allocations would be counted on the workers, and while they hold the pool ours run on the calling thread) and change
/// <see cref="Parallelism.MaxThreads"/>. This collection runs after the parallel ones, alone.
/// </summary>
[CollectionDefinition(nameof(AllocationCounting), DisableParallelization = true)]
public sealed class AllocationCounting { }

/// <summary>The steady-state training step allocates nothing on the managed heap (buffers are reused).</summary>
[Collection(nameof(AllocationCounting))]
public class AllocationTests
{
    [Theory]
    [InlineData(CellType.Lstm, 2, false)]
    [InlineData(CellType.Gru, 1, true)]
    [InlineData(CellType.RnnTanh, 2, false)]
    public void SteadyStateTrainingStepAllocatesNothing(CellType cell, int layers, bool lastStep)
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = InputKind.Embedding, VocabularySize = 50, EmbeddingSize = 16, HiddenSize = 32, Layers = layers,
            Dropout = layers > 1 ? 0.2f : 0, OutputSize = lastStep ? 1 : 50, Output = lastStep ? OutputMode.LastStep : OutputMode.PerStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 1);
        var rng = new Rng(2);
        var tokens = Enumerable.Range(0, 8 * 12).Select(_ => rng.NextInt(50)).ToArray();
        var batch = SequenceBatch<float>.FromTokens(tokens, 8, 12, Enumerable.Range(0, 8).Select(i => 12 - i).ToArray());
        var targets = lastStep
            ? new Targets<float> { Values = Enumerable.Range(0, 8).Select(i => (float)(i % 2)).ToArray() }
            : new Targets<float> { Classes = tokens };
        var trainer = new Trainer<float>(net, new Adam<float>(1e-3), lastStep ? LossKind.SigmoidBinaryCrossEntropy : LossKind.SoftmaxCrossEntropy);
        for (int i = 0; i < 30; i++) trainer.TrainStep(batch, targets); // warm-up: buffers grow, methods tier up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) trainer.TrainStep(batch, targets);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{allocated} bytes allocated in 20 steady-state steps");
    }
}

[Collection(nameof(AllocationCounting))]
public class MultiThreadedAllocationTests
{
    [Fact]
    public void SteadyStateTrainingStepAllocatesNothingOnAnyThread()
    {
        // Large enough for every multi-threaded path: split GEMMs, per-row cell work (B·H ≥ RowGrain), the split softmax
        // (192 rows × 2,000 classes), packing on several threads and the element-wise optimizer, clip and zeroing ranges.
        // Counted on this thread and on the worker pool's threads.
        int saved = Parallelism.MaxThreads;
        Parallelism.MaxThreads = 2;
        try
        {
            var net = new SequenceNetwork<float>(new NetworkOptions
            {
                Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 2000, EmbeddingSize = 64, HiddenSize = 256, Layers = 2,
                Dropout = 0.2f, OutputSize = 2000, Output = OutputMode.PerStep,
            });
            Initializer.Initialize(net, InitScheme.PyTorchDefault, 1);
            var rng = new Rng(2);
            var tokens = Enumerable.Range(0, 16 * 12).Select(_ => rng.NextInt(2000)).ToArray();
            var batch = SequenceBatch<float>.FromTokens(tokens, 16, 12, Enumerable.Range(0, 16).Select(i => 12 - i % 5).ToArray());
            var trainer = new Trainer<float>(net, new Adam<float>(1e-3), LossKind.SoftmaxCrossEntropy);
            var targets = new Targets<float> { Classes = tokens };
            for (int i = 0; i < 30; i++) trainer.TrainStep(batch, targets);
            long before = GC.GetAllocatedBytesForCurrentThread(), workersBefore = WorkerPool.WorkerAllocatedBytes;
            for (int i = 0; i < 20; i++) trainer.TrainStep(batch, targets);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before, onWorkers = WorkerPool.WorkerAllocatedBytes - workersBefore;
            Assert.True(allocated == 0 && onWorkers == 0, $"{allocated} bytes allocated on the calling thread, {onWorkers} on the workers in 20 steady-state steps");
        }
        finally { Parallelism.MaxThreads = saved; }
    }
}
