using System;
using System.IO;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The text classifier's pieces in Core: the wide (sparse bag) input (with input dropout) of <see cref="SequenceNetwork{T}"/>
/// (double-precision gradient checks), their model-file version, the n-gram bag, word-vector files and the wide fitter.
/// </summary>
public class WideAndDeepTests
{
    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy, CellType.Gru)]
    [InlineData(LossKind.SigmoidBinaryCrossEntropy, CellType.Lstm)]
    public void WideInputWithInputDropoutGradientsMatchCentralDifferences(LossKind loss, CellType cell)
    {
        const int B = 3, S = 4, V = 6, W = 7;
        int outputs = loss == LossKind.SoftmaxCrossEntropy ? 3 : 1;
        var o = new NetworkOptions
        {
            Cell = cell, Input = InputKind.Embedding, VocabularySize = V, EmbeddingSize = 3, HiddenSize = 4, Bidirectional = true,
            Output = OutputMode.LastStep, OutputSize = outputs, WideFeatures = W, InputDropout = 0.4f,
        };
        var net = new SequenceNetwork<double>(o);
        Initializer.Initialize(net, InitScheme.PyTorchDefault, seed: 5);
        var rng = new Rng(17);
        GradientCheck.RandomArray(rng, W * outputs).CopyTo(net.Parameters.Value("wide.weight"));
        var tokens = Enumerable.Range(0, B * S).Select(_ => rng.NextInt(V)).ToArray();
        // Bags: 3, 0 and 2 features (an empty bag too), one id repeated.
        var bag = new SparseRows<double>(new[] { 0, 3, 3, 5 }, new[] { 1, 4, 6, 2, 2 }, new[] { 0.5, -1.0, 0.25, 0.7, 0.3 });
        var batch = SequenceBatch<double>.FromTokens(tokens, B, S, new[] { 4, 2, 3 }).WithBag(bag);
        var targets = loss == LossKind.SoftmaxCrossEntropy
            ? new Targets<double> { Classes = new[] { 2, 0, 1 } }
            : new Targets<double> { Values = new[] { 1.0, 0.0, 1.0 } };
        var trainer = new Trainer<double>(net, new Sgd<double>(0.1), loss);

        double Objective()
        {
            net.DropoutRng = new Rng(3); // the same embedding-dropout mask in every evaluation
            net.Forward(batch, training: true);
            return trainer.ComputeLoss(batch, targets, default);
        }

        Objective();
        var dOut = new double[net.Output.Length];
        trainer.ComputeLoss(batch, targets, dOut);
        net.Parameters.ZeroGradients();
        net.Backward(dOut);
        var analytic = (double[])net.Parameters.Gradients.Clone();
        foreach (var p in net.Parameters.Parameters)
            GradientCheck.AssertGradient($"{cell}/{loss} {p.Name}", GradientCheck.RelativeError(net.Parameters.Value(p), analytic.AsSpan(p.Offset, p.Size), Objective));
        Assert.Contains(net.Parameters.Parameters, p => p.Name == "wide.weight");

        // Inference has no dropout: two passes agree.
        net.Forward(batch, training: false);
        var clean = net.Output.ToArray();
        net.Forward(batch, training: false);
        Assert.Equal(clean, net.Output.ToArray());
    }

    [Fact]
    public void WideNetworksNeedABagAndItsIdsInRange()
    {
        var o = new NetworkOptions { Input = InputKind.Embedding, VocabularySize = 4, EmbeddingSize = 2, HiddenSize = 2, Output = OutputMode.LastStep, OutputSize = 1, WideFeatures = 3 };
        var net = new SequenceNetwork<float>(o);
        Assert.Contains("no bag", Assert.Throws<ArgumentException>(() => net.Forward(SequenceBatch<float>.FromTokens(new[] { 1, 2 }, 1, 2))).Message);
        var bad = SequenceBatch<float>.FromTokens(new[] { 1, 2 }, 1, 2).WithBag(new SparseRows<float>(new[] { 0, 1 }, new[] { 3 }, new[] { 1f }));
        Assert.Contains("outside [0, 3)", Assert.Throws<ArgumentOutOfRangeException>(() => net.Forward(bad)).Message);
        Assert.Equal("WideFeatures", Assert.Throws<ArgumentException>(() => new NetworkOptions { VocabularySize = 4, OutputSize = 1, WideFeatures = 2, Output = OutputMode.PerStep }.Validate()).ParamName);
    }

    [Fact]
    public void ModelFilesKeepTheWideInputAndInputDropout()
    {
        var o = new NetworkOptions { Input = InputKind.Embedding, VocabularySize = 5, EmbeddingSize = 2, HiddenSize = 3, Output = OutputMode.LastStep, OutputSize = 2, WideFeatures = 4, InputDropout = 0.2f };
        var net = new SequenceNetwork<float>(o);
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 1);
        byte[] bytes = ModelFile.From(net).ToBytes();
        Assert.Equal(ModelFile.WideFormatVersion, BitConverter.ToUInt32(bytes, 8));
        var back = ModelFile.Read(bytes);
        Assert.Equal(4, back.Options.WideFeatures);
        Assert.Equal(0.2f, back.Options.InputDropout);
        Assert.Equal(net.Parameters.Values, back.CreateNetwork().Parameters.Values);

        // Without a wide input (nor character features or input dropout), the file stays version 1.
        var plain = new SequenceNetwork<float>(new NetworkOptions { Input = InputKind.Embedding, VocabularySize = 5, EmbeddingSize = 2, HiddenSize = 3, Output = OutputMode.LastStep, OutputSize = 2 });
        Assert.Equal(ModelFile.FormatVersion, BitConverter.ToUInt32(ModelFile.From(plain).ToBytes(), 8));
    }

    [Fact]
    public void NGramBagCountsWordAndCharacterNGramsAtUnitNormPerGroup()
    {
        var bag = NGramBag.Build(new[] { "good food", "good service", "bad food", "good good" }, wordNGrams: 2, charNGrams: 3, minDocuments: 2, maxFeatures: 1000);
        Assert.Contains("w:good", bag.Features);
        Assert.Contains("w:food", bag.Features);
        Assert.DoesNotContain("w:bad", bag.Features);          // one text only
        Assert.DoesNotContain("w:good food", bag.Features);    // one text only
        Assert.Contains("c:goo", bag.Features);
        Assert.Equal("c:ood", bag.Features[0]);                // the most frequent first (in all 4 texts)

        var (ids, values) = bag.Encode("good good food unknownword");
        Assert.Equal(ids.OrderBy(i => i), ids);
        double words = ids.Select((id, k) => bag.Features[id][0] == 'w' ? (double)values[k] * values[k] : 0).Sum();
        double chars = ids.Select((id, k) => bag.Features[id][0] == 'c' ? (double)values[k] * values[k] : 0).Sum();
        Assert.Equal(1, words, 5);
        Assert.Equal(1, chars, 5);
        // "good" twice, "food" once: their values are 2/√5 and 1/√5.
        Assert.Equal(2 / System.Math.Sqrt(5), values[Array.IndexOf(ids, bag.Features.ToList().IndexOf("w:good"))], 5);
        Assert.Empty(bag.Encode("zzz").Ids);
        Assert.Equal(bag.Features, new NGramBag(bag.Features, 2, 3).Features);
    }

    [Fact]
    public void WordVectorFilesInGloveAndWord2VecFormatsAreRead()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rnn-vectors-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string glove = Path.Combine(dir, "glove.txt");
            File.WriteAllLines(glove, new[] { "the 0.1 0.2 0.3", "cat -1 0.5 2e-1", "dog 1 1 1" });
            var (d, v) = WordVectors.Load(glove, w => w != "dog");
            Assert.Equal(3, d);
            Assert.Equal(new[] { -1f, 0.5f, 0.2f }, v["cat"]);
            Assert.False(v.ContainsKey("dog"));

            string w2v = Path.Combine(dir, "w2v.vec");
            File.WriteAllLines(w2v, new[] { "2 2", "the 0.5 0.5", "cat 1 2" });
            Assert.Equal(2, WordVectors.Load(w2v).Dimension);

            string bad = Path.Combine(dir, "bad.txt");
            File.WriteAllLines(bad, new[] { "the 0.1 0.2", "cat 0.1" });
            var e = Assert.Throws<InvalidDataException>(() => WordVectors.Load(bad));
            Assert.Contains("line 2", e.Message);
            Assert.Contains("bad.txt", e.Message);
            File.WriteAllLines(bad, new[] { "the 0.1 abc" });
            Assert.Contains("not a finite number", Assert.Throws<InvalidDataException>(() => WordVectors.Load(bad)).Message);
            Assert.Throws<FileNotFoundException>(() => WordVectors.Load(Path.Combine(dir, "missing.txt")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void WideFitterLearnsALinearRuleWithTheRecurrentPartOff()
    {
        // Label = feature 0 present; feature 1 is noise; tokens carry no signal.
        var rng = new Rng(9);
        LabeledSequence Row()
        {
            bool positive = rng.NextInt(2) == 0;
            var ids = positive ? new[] { 0, 1 } : new[] { 1, 2 };
            return new LabeledSequence { Tokens = new[] { rng.NextInt(3) }, Values = new[] { positive ? 1f : 0f }, BagIds = ids, BagValues = new[] { 0.7f, 0.7f } };
        }
        var train = Enumerable.Range(0, 200).Select(_ => Row()).ToList();
        var valid = Enumerable.Range(0, 50).Select(_ => Row()).ToList();
        var net = new SequenceNetwork<float>(new NetworkOptions { Input = InputKind.Embedding, VocabularySize = 3, EmbeddingSize = 2, HiddenSize = 2, Output = OutputMode.LastStep, OutputSize = 1, WideFeatures = 3 });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 2);
        var result = WideFitter.Fit(net, LossKind.SigmoidBinaryCrossEntropy, train, valid, new FitOptions { Epochs = 30, LearningRate = 0.05, EarlyStoppingPatience = 3 });
        Assert.True(result.History[result.BestEpoch - 1].ValidationAccuracy == 1.0, $"validation accuracy {result.History[result.BestEpoch - 1].ValidationAccuracy}");
        Assert.All(net.Parameters.Value("head.weight").ToArray(), w => Assert.Equal(0f, w));
        // The network's own output is the linear model's: the validation loss the fitter kept.
        var (loss, _) = SequenceFitter.Evaluate(new Trainer<float>(net, new Sgd<float>(1), LossKind.SigmoidBinaryCrossEntropy), valid, 16);
        Assert.Equal(result.BestValidationLoss!.Value, loss, 4);
    }
}
