using System;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>Bad input ends in an exception that says what was wrong.</summary>
public class BadInputTests
{
    private static SequenceNetwork<float> TokenNet() => new(new NetworkOptions
    {
        Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 10, EmbeddingSize = 4, HiddenSize = 5, OutputSize = 2, Output = OutputMode.LastStep,
    });

    private static SequenceNetwork<float> DenseNet() => new(new NetworkOptions
    {
        Cell = CellType.Gru, Input = InputKind.Dense, FeatureSize = 2, HiddenSize = 5, OutputSize = 1, Output = OutputMode.LastStep,
    });

    [Fact]
    public void EmptySequencesAreRejected()
    {
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => SequenceBatch<float>.FromTokenSequences(new[] { 1 }, Array.Empty<int>())).Message);
        Assert.Contains("at least one step", Assert.Throws<ArgumentException>(() => SequenceBatch<float>.FromTokens(Array.Empty<int>(), 1, 0)).Message);
        Assert.Contains("length 0", Assert.Throws<ArgumentException>(() => SequenceBatch<float>.FromTokens(new int[4], 2, 2, new[] { 2, 0 })).Message);
    }

    [Fact]
    public void TokenIdsOutOfRangeNameTheirPosition()
    {
        var batch = SequenceBatch<float>.FromTokens(new[] { 1, 2, 3, 4, 10, 5 }, 2, 3);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => TokenNet().Forward(batch));
        Assert.Contains("Token id 10 at step 1 of sequence 1", ex.Message);
        Assert.Contains("[0, 10)", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenNet().Forward(SequenceBatch<float>.FromTokens(new[] { -1 }, 1, 1)));
    }

    [Fact]
    public void MismatchedShapesAreNamed()
    {
        Assert.Contains("batch × steps", Assert.Throws<ArgumentException>(() => SequenceBatch<float>.FromTokens(new int[5], 2, 3)).Message);
        Assert.Contains("features per step", Assert.Throws<ArgumentException>(() => DenseNet().Forward(SequenceBatch<float>.FromFeatures(new float[9], 1, 3, 3))).Message);
        Assert.Contains("token ids", Assert.Throws<ArgumentException>(() => DenseNet().Forward(SequenceBatch<float>.FromTokens(new int[3], 1, 3))).Message);
        var net = TokenNet();
        net.Forward(SequenceBatch<float>.FromTokens(new int[6], 2, 3));
        Assert.Contains("dOutput", Assert.Throws<ArgumentException>(() => net.Backward(new float[3])).Message);
        Assert.Contains("batch size 1", Assert.Throws<ArgumentException>(() => net.Forward(SequenceBatch<float>.FromTokens(new int[6], 2, 3), initialState: net.CreateState(1))).Message);
        var trainer = new Trainer<float>(net, new Adam<float>(), LossKind.SoftmaxCrossEntropy);
        Assert.Contains("3 class targets", Assert.Throws<ArgumentException>(() => trainer.TrainStep(SequenceBatch<float>.FromTokens(new int[6], 2, 3), new Targets<float> { Classes = new int[3] })).Message);
    }

    [Fact]
    public void NaNInputsAreNamed()
    {
        var features = new float[] { 0, 1, 2, float.NaN, 4, 5 };
        var ex = Assert.Throws<ArgumentException>(() => DenseNet().Forward(SequenceBatch<float>.FromFeatures(features, 1, 3, 2)));
        Assert.Contains("Feature 1 of step 1 in sequence 0 is NaN", ex.Message);
    }

    [Fact]
    public void InvalidOptionsAreNamed()
    {
        Assert.Contains("HiddenSize", Assert.Throws<ArgumentException>(() => new SequenceNetwork<float>(new NetworkOptions { VocabularySize = 3, OutputSize = 2, HiddenSize = 0 })).Message);
        Assert.Contains("Dropout", Assert.Throws<ArgumentException>(() => new SequenceNetwork<float>(new NetworkOptions { VocabularySize = 3, OutputSize = 2, Dropout = 1 })).Message);
        Assert.Contains("parameters", Assert.Throws<ArgumentException>(() => new SequenceNetwork<float>(new NetworkOptions { VocabularySize = 3, OutputSize = 2, HiddenSize = 1 << 20 })).Message);
    }

    [Fact]
    public void DivergingTrainingStopsWithTheStepAndARemedyAndLeavesWeightsUntouched()
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.RnnRelu, Input = InputKind.Dense, FeatureSize = 1, HiddenSize = 8, OutputSize = 1, Output = OutputMode.PerStep,
        });
        Initializer.Initialize(net, InitScheme.Kaiming, 1);
        var trainer = new Trainer<float>(net, new Sgd<float>(1e4), LossKind.MeanSquaredError) { ClipNorm = 0 };
        var x = new float[40];
        for (int i = 0; i < x.Length; i++) x[i] = 1e3f * (i % 3);
        var batch = SequenceBatch<float>.FromFeatures(x, 1, 40, 1);
        var targets = new Targets<float> { Values = x };
        float[]? before = null;
        var ex = Assert.Throws<TrainingDivergedException>(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                before = (float[])net.Parameters.Values.Clone();
                trainer.TrainStep(batch, targets);
            }
        });
        Assert.InRange(ex.Step, 1, 1000);
        Assert.Contains($"step {ex.Step}", ex.Message);
        Assert.Contains("Lower the learning rate", ex.Message);
        Assert.Equal(before, net.Parameters.Values); // the failing step applied no update
    }
}
