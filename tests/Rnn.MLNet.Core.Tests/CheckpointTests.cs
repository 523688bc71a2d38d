using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Checkpoints: a run stopped at arbitrary batches and resumed each time ends bit-identical to an uninterrupted run (all
/// three fitters, dropout, schedules, early stopping, shuffle buffers); damaged checkpoints fall back to the previous good
/// one; streamed data with a buffer covering the set trains exactly as data in memory.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rnn-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<LabeledSequence> Examples(int n, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            var t = new int[2 + rng.NextInt(9)];
            for (int i = 0; i < t.Length; i++) t[i] = 1 + rng.NextInt(11);
            return new LabeledSequence { Tokens = t, Class = t.Count(x => x == 1) > t.Count(x => x == 2) ? 1 : 0 };
        }).ToList();
    }

    private static SequenceNetwork<float> Classifier()
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 12, EmbeddingSize = 6, HiddenSize = 10, Layers = 2,
            Dropout = 0.25f, OutputSize = 2, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 1);
        return net;
    }

    private FitOptions ClassifierOptions(string? checkpoint) => new()
    {
        Epochs = 4, BatchSize = 8, Seed = 5, EarlyStoppingPatience = 2, Schedule = new ReduceOnPlateauSchedule(0.5),
        CheckpointPath = checkpoint, CheckpointInterval = TimeSpan.Zero,
    };

    /// <summary>
    /// Runs <paramref name="fit"/> with a checkpoint, cancelling it after each of <paramref name="stops"/> further batches
    /// (a new network each time, as a new process would build), then lets it finish; returns the final weights.
    /// </summary>
    private static float[] StopAndResume(Func<FitOptions, float[]> fit, Func<string?, FitOptions> options, string path, int[] stops)
    {
        foreach (int stopAfter in stops)
        {
            using var cancel = new CancellationTokenSource();
            var o = options(path);
            int batches = 0;
            o.Cancellation = cancel.Token;
            o.BatchProgress = (_, _, _, _) => { if (++batches == stopAfter) cancel.Cancel(); };
            fit(o);
        }
        return fit(options(path));
    }

    [Fact]
    public void ClassifierStoppedFiveTimesEndsBitIdenticalToAnUninterruptedRun()
    {
        var train = Examples(150, 1);
        var valid = Examples(40, 2);
        float[] Fit(FitOptions o)
        {
            var net = Classifier();
            SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, train, valid, o);
            return net.Parameters.Values;
        }
        float[] reference = Fit(ClassifierOptions(null));
        // 19 batches per epoch: stops inside epochs, right at an epoch's end and at the first batch after a resume.
        float[] resumed = StopAndResume(Fit, ClassifierOptions, Path.Combine(_dir, "c.ckpt"), new[] { 7, 12, 1, 19, 23 });
        Assert.Equal(reference, resumed);
    }

    [Fact]
    public void ShuffleBufferRunsResumeMidChunkBitIdentically()
    {
        var train = Examples(150, 3);
        FitOptions Options(string? path) { var o = ClassifierOptions(path); o.ShuffleBufferSize = 40; o.EarlyStoppingPatience = 0; o.Epochs = 2; return o; }
        float[] Fit(FitOptions o)
        {
            var net = Classifier();
            SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, new OnDemandSource(train), null, o);
            return net.Parameters.Values;
        }
        float[] reference = Fit(Options(null));
        float[] resumed = StopAndResume(Fit, Options, Path.Combine(_dir, "b.ckpt"), new[] { 4, 6, 9, 2 });
        Assert.Equal(reference, resumed);
    }

    [Fact]
    public void StreamTrainingResumesWithTheCarriedHiddenState()
    {
        var rng = new Rng(9);
        var stream = Enumerable.Range(0, 1500).Select(_ => rng.NextInt(15)).ToArray();
        FitOptions Options(string? path) => new()
        {
            Epochs = 2, BatchSize = 4, BpttSteps = 9, Seed = 2, Optimizer = OptimizerKind.SgdMomentum, LearningRate = 0.1,
            Schedule = new StepDecaySchedule(1, 0.5), CheckpointPath = path, CheckpointInterval = TimeSpan.Zero,
        };
        float[] Fit(FitOptions o)
        {
            var net = new SequenceNetwork<float>(new NetworkOptions
            {
                Cell = CellType.Gru, Input = InputKind.Embedding, VocabularySize = 15, EmbeddingSize = 5, HiddenSize = 8, Layers = 2,
                Dropout = 0.2f, OutputSize = 15, Output = OutputMode.PerStep,
            });
            Initializer.Initialize(net, InitScheme.PyTorchDefault, 4);
            SequenceFitter.FitStream(net, stream, stream[..200], o);
            return net.Parameters.Values;
        }
        float[] reference = Fit(Options(null));
        float[] resumed = StopAndResume(Fit, Options, Path.Combine(_dir, "s.ckpt"), new[] { 5, 30, 3, 20 });
        Assert.Equal(reference, resumed);
    }

    [Fact]
    public void EncoderDecoderStoppedAndResumedEndsBitIdentical()
    {
        var rng = new Rng(4);
        var pairs = Enumerable.Range(0, 60).Select(_ =>
        {
            var src = Enumerable.Range(0, 2 + rng.NextInt(4)).Select(_ => 1 + rng.NextInt(8)).ToArray();
            return new SequencePair { Source = src, Target = src.Reverse().ToArray() };
        }).ToList();
        FitOptions Options(string? path) => new() { Epochs = 3, BatchSize = 8, Seed = 3, CheckpointPath = path, CheckpointInterval = TimeSpan.Zero };
        float[] Fit(FitOptions o)
        {
            var net = new EncoderDecoderNetwork<float>(new EncoderDecoderOptions
            {
                Cell = CellType.Gru, Source = SourceKind.Tokens, SourceVocabularySize = 9, TargetVocabularySize = 9, EmbeddingSize = 6,
                HiddenSize = 8, Layers = 1, Attention = AttentionKind.Dot, Dropout = 0.1f,
            });
            Initializer.Initialize(net.Parameters, InitScheme.PyTorchDefault, 6);
            EncoderDecoderFitter.Fit(net, pairs, pairs.Take(10).ToList(), o);
            return net.Parameters.Values;
        }
        float[] reference = Fit(Options(null));
        float[] resumed = StopAndResume(Fit, Options, Path.Combine(_dir, "e.ckpt"), new[] { 3, 8, 1, 6 });
        Assert.Equal(reference, resumed);
    }

    [Fact]
    public void StreamedDataWithABufferCoveringTheSetTrainsExactlyAsDataInMemory()
    {
        var train = Examples(120, 5);
        var valid = Examples(30, 6);
        var inMemory = Classifier();
        var a = SequenceFitter.Fit(inMemory, LossKind.SoftmaxCrossEntropy, train, valid, ClassifierOptions(null));
        var streamed = Classifier();
        var o = ClassifierOptions(null);
        o.ShuffleBufferSize = 120;
        var b = SequenceFitter.Fit(streamed, LossKind.SoftmaxCrossEntropy, new OnDemandSource(train), valid, o);
        Assert.Equal(inMemory.Parameters.Values, streamed.Parameters.Values);
        Assert.Equal(a.History.Select(h => h.TrainLoss), b.History.Select(h => h.TrainLoss));
    }

    [Fact]
    public void TokenFileStreamTrainsExactlyAsTheArray()
    {
        var rng = new Rng(8);
        var stream = Enumerable.Range(0, 900).Select(_ => rng.NextInt(10)).ToArray();
        string file = Path.Combine(_dir, "tokens.bin");
        using (var fs = File.Create(file)) FileTokenSource.Write(fs, stream);
        SequenceNetwork<float> Net()
        {
            var net = new SequenceNetwork<float>(new NetworkOptions
            {
                Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 10, EmbeddingSize = 4, HiddenSize = 6, OutputSize = 10, Output = OutputMode.PerStep,
            });
            Initializer.Initialize(net, InitScheme.PyTorchDefault, 2);
            return net;
        }
        var o = new FitOptions { Epochs = 2, BatchSize = 5, BpttSteps = 7 };
        var a = Net();
        SequenceFitter.FitStream(a, stream, null, o);
        var b = Net();
        using (var source = new FileTokenSource(file)) SequenceFitter.FitStream(b, source, null, o);
        Assert.Equal(a.Parameters.Values, b.Parameters.Values);
    }

    [Fact]
    public void DamagedNewestCheckpointFallsBackToThePreviousGoodOneAndTheRunStillEndsIdentical()
    {
        var train = Examples(100, 7);
        float[] Fit(FitOptions o)
        {
            var net = Classifier();
            SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, train, null, o);
            return net.Parameters.Values;
        }
        FitOptions Options(string? path) { var o = ClassifierOptions(path); o.Epochs = 2; o.EarlyStoppingPatience = 0; return o; }
        float[] reference = Fit(Options(null));
        string path = Path.Combine(_dir, "d.ckpt");
        foreach (var damage in new Action<string>[]
        {
            f => { var b = File.ReadAllBytes(f); File.WriteAllBytes(f, b[..(b.Length / 2)]); },                 // truncated
            f => { var b = File.ReadAllBytes(f); b[b.Length / 3] ^= 0x10; File.WriteAllBytes(f, b); },          // one bit flipped
            f => File.WriteAllBytes(f, Array.Empty<byte>()),                                                     // empty
        })
        {
            foreach (var f in Directory.GetFiles(_dir)) File.Delete(f);
            using (var cancel = new CancellationTokenSource())
            {
                var stopped = Options(path);
                int batches = 0;
                stopped.Cancellation = cancel.Token;
                stopped.BatchProgress = (_, _, _, _) => { if (++batches == 6) cancel.Cancel(); };
                Fit(stopped);
            }
            var before = TrainingCheckpoint.Load(path)!;
            var previous = TrainingCheckpoint.Read(File.ReadAllBytes(TrainingCheckpoint.PreviousPath(path)));
            Assert.Equal(before.Steps - 1, previous.Steps);
            damage(path);
            var problems = new List<string>();
            var loaded = TrainingCheckpoint.Load(path, problems);
            Assert.Equal(previous.Steps, loaded!.Steps);
            Assert.Contains(path, Assert.Single(problems), StringComparison.Ordinal);
            // A stale temporary file from a write cut short changes nothing.
            File.WriteAllBytes(path + ".0123.tmp", new byte[] { 1, 2, 3 });
            var o = Options(path);
            var net = Classifier();
            var result = SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, train, null, o);
            Assert.Single(result.CheckpointProblems);
            Assert.Contains(".prev", result.ResumedFrom, StringComparison.Ordinal);
            Assert.Equal(reference, net.Parameters.Values);
        }
    }

    [Fact]
    public void NoUsableCheckpointOrAnotherRunsCheckpointIsAClearError()
    {
        string path = Path.Combine(_dir, "x.ckpt");
        File.WriteAllText(path, "not a checkpoint");
        File.WriteAllBytes(TrainingCheckpoint.PreviousPath(path), new byte[40]);
        var e = Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(".prev", e.Message, StringComparison.Ordinal);

        foreach (var f in Directory.GetFiles(_dir)) File.Delete(f);
        var train = Examples(40, 1);
        var o = ClassifierOptions(path);
        o.Epochs = 1;
        SequenceFitter.Fit(Classifier(), LossKind.SoftmaxCrossEntropy, train, null, o);
        o.BatchSize = 4; // another run
        var mismatch = Assert.Throws<ArgumentException>(() => SequenceFitter.Fit(Classifier(), LossKind.SoftmaxCrossEntropy, train, null, o));
        Assert.Contains("another run", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryOptimizerContinuesIdenticallyFromItsSavedState()
    {
        foreach (var kind in Enum.GetValues<OptimizerKind>())
        {
            var store = new ParameterStore<float>(new[] { ("w", new[] { 37 }) });
            var rng = new Rng(1);
            for (int i = 0; i < store.Count; i++) store.Values[i] = (float)rng.NextNormal();
            void Gradients(int step) { for (int i = 0; i < store.Count; i++) store.Gradients[i] = MathF.Sin(i * 0.7f + step); }
            var a = Optimizers.Create<float>(kind, 0.01, 0.001);
            for (int s = 0; s < 3; s++) { Gradients(s); a.Step(store); }
            var saved = a.SaveState();
            var weights = (float[])store.Values.Clone();
            for (int s = 3; s < 6; s++) { Gradients(s); a.Step(store); }
            var expected = (float[])store.Values.Clone();
            weights.CopyTo(store.Values, 0);
            var b = Optimizers.Create<float>(kind, 0.5, 0.001);
            b.RestoreState(saved, store.Count);
            for (int s = 3; s < 6; s++) { Gradients(s); b.Step(store); }
            Assert.Equal(expected, store.Values);
            Assert.Equal(a.StepCount, b.StepCount);
        }
    }

    /// <summary>Examples produced on demand (never a list the fitter could see), skipping rows by counting.</summary>
    private sealed class OnDemandSource(List<LabeledSequence> rows) : ISequenceSource
    {
        public long? Count => null;

        public IEnumerable<LabeledSequence> Read(long first)
        {
            for (long i = first; i < rows.Count; i++)
                yield return new LabeledSequence { Tokens = (int[])rows[(int)i].Tokens!.Clone(), Class = rows[(int)i].Class };
        }
    }
}
