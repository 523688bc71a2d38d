using System;
using System.IO;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Character-level word features (a bidirectional layer over each token's characters, appended to the token's embedding)
/// and input dropout: double-precision gradient checks of every tensor for each cell, and the saved file round trip.
/// </summary>
public class CharacterFeatureTests
{
    private readonly ITestOutputHelper _out;
    public CharacterFeatureTests(ITestOutputHelper output) => _out = output;

    private const int B = 3, S = 4, V = 6, Vc = 7, C = 5;
    private static readonly int[] Lengths = { 4, 2, 3 };

    private static SequenceBatch<TT> Batch<TT>(Rng rng) where TT : unmanaged, System.Numerics.IFloatingPointIeee754<TT>
    {
        int[] tokens = Enumerable.Range(0, B * S).Select(_ => rng.NextInt(V)).ToArray();
        var chars = new int[B * S * C];
        var charLengths = new int[B * S];
        for (int i = 0; i < B * S; i++)
        {
            charLengths[i] = 1 + rng.NextInt(C); // 1..C characters, so the batch mixes lengths
            for (int c = 0; c < charLengths[i]; c++) chars[i * C + c] = rng.NextInt(Vc);
        }
        return SequenceBatch<TT>.FromTokensAndCharacters(tokens, B, S, Lengths, chars, charLengths, C);
    }

    private static NetworkOptions Options(CellType cell, float inputDropout) => new()
    {
        Cell = cell, Input = InputKind.Embedding, VocabularySize = V, EmbeddingSize = 3, HiddenSize = 4, Layers = 2, Bidirectional = true,
        Dropout = 0.2f, InputDropout = inputDropout, OutputSize = 3, Output = OutputMode.PerStep,
        CharacterVocabularySize = Vc, CharacterEmbeddingSize = 3, CharacterHiddenSize = 2,
    };

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.RnnTanh)]
    public void CharacterFeatureGradientsMatchCentralDifferences(CellType cell)
    {
        var o = Options(cell, inputDropout: 0.25f);
        var net = new SequenceNetwork<double>(o);
        Initializer.Initialize(net, InitScheme.PyTorchDefault, seed: 5);
        for (int i = 0; i < net.Parameters.Count; i++) net.Parameters.Values[i] *= 1.5;
        var rng = new Rng(17);
        var batch = Batch<double>(rng);
        var targets = new Targets<double> { Classes = Enumerable.Range(0, B * S).Select(_ => rng.NextInt(o.OutputSize)).ToArray() };
        var trainer = new Trainer<double>(net, new Sgd<double>(0.1), LossKind.SoftmaxCrossEntropy);
        double Objective()
        {
            net.DropoutRng = new Rng(3); // the same input and between-layer dropout masks in every evaluation
            net.Forward(batch, training: true);
            return trainer.ComputeLoss(batch, targets, default);
        }
        Objective();
        var dOut = new double[net.Output.Length];
        trainer.ComputeLoss(batch, targets, dOut);
        net.Parameters.ZeroGradients();
        net.Backward(dOut);
        var analytic = (double[])net.Parameters.Gradients.Clone();
        Assert.Contains(net.Parameters.Parameters, p => p.Name == "char_rnn.weight_hh_l0_reverse");
        foreach (var p in net.Parameters.Parameters)
        {
            double err = GradientCheck.RelativeError(net.Parameters.Value(p), analytic.AsSpan(p.Offset, p.Size), Objective);
            _out.WriteLine($"{p.Name} {p.ShapeText}: {err:e2}");
            Assert.True(GradientCheck.LastMaxAbs > 0 || p.Name.StartsWith("embedding", StringComparison.Ordinal) || p.Name.StartsWith("char_embedding", StringComparison.Ordinal),
                $"{p.Name} has no gradient at all: the path is not connected");
            GradientCheck.AssertGradient($"{cell} {p.Name}", err);
        }
    }

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void TokensRunInPassesGiveTheSameOutputsAndGradients(CellType cell)
    {
        // One pass (the default for a batch this small) against passes of 1, 2 and 4 tokens (9 tokens in the batch).
        (double[] Output, double[] Gradients) Run(int tokensPerPass)
        {
            var o = Options(cell, inputDropout: 0.25f);
            var net = new SequenceNetwork<double>(o);
            Initializer.Initialize(net, InitScheme.PyTorchDefault, seed: 5);
            if (tokensPerPass > 0) net.CharactersForTests!.ChunkValues = tokensPerPass * C * 4 * o.CharacterHiddenSize;
            var rng = new Rng(17);
            var batch = Batch<double>(rng);
            var targets = new Targets<double> { Classes = Enumerable.Range(0, B * S).Select(_ => rng.NextInt(o.OutputSize)).ToArray() };
            var trainer = new Trainer<double>(net, new Sgd<double>(0.1), LossKind.SoftmaxCrossEntropy);
            net.DropoutRng = new Rng(3);
            net.Forward(batch, training: true);
            var dOut = new double[net.Output.Length];
            trainer.ComputeLoss(batch, targets, dOut);
            net.Parameters.ZeroGradients();
            net.Backward(dOut);
            return (net.Output.ToArray(), (double[])net.Parameters.Gradients.Clone());
        }
        var (output, gradients) = Run(0);
        foreach (int k in new[] { 1, 2, 4 })
        {
            var (o, g) = Run(k);
            Assert.Equal(output, o); // bit for bit: each token's characters run alone whatever the pass
            for (int i = 0; i < g.Length; i++) Assert.True(System.Math.Abs(g[i] - gradients[i]) <= 1e-12 * (1 + System.Math.Abs(gradients[i])), $"{k} per pass: gradient {i} {g[i]} vs {gradients[i]}");
        }
    }

    [Fact]
    public void CharacterFeaturesChangeTheOutputAndPaddingDoesNot()
    {
        var o = Options(CellType.Lstm, 0);
        var net = new SequenceNetwork<float>(o);
        Initializer.Initialize(net, InitScheme.Orthogonal, 2);
        var batch = Batch<float>(new Rng(4));
        float[] a = net.Forward(batch).ToArray();
        // changing a character inside a token's length changes that token's outputs; changing one past it changes nothing
        var chars = (int[])batch.Characters!.Clone();
        int token = 0; // sequence 0, step 0
        int len = batch.CharacterLengths![token];
        if (len < C)
        {
            chars[token * C + len] = (chars[token * C + len] + 1) % Vc;
            var padded = SequenceBatch<float>.FromTokensAndCharacters(batch.Tokens!, B, S, Lengths, chars, batch.CharacterLengths, C);
            Assert.Equal(a, net.Forward(padded).ToArray());
        }
        chars = (int[])batch.Characters.Clone();
        chars[token * C] = (chars[token * C] + 1) % Vc;
        var changed = SequenceBatch<float>.FromTokensAndCharacters(batch.Tokens!, B, S, Lengths, chars, batch.CharacterLengths, C);
        Assert.NotEqual(a.AsSpan(0, o.OutputSize).ToArray(), net.Forward(changed).Slice(0, o.OutputSize).ToArray());
    }

    [Fact]
    public void SavedFileKeepsCharacterFeaturesAndEveryOutput()
    {
        var o = Options(CellType.Lstm, 0.3f);
        var net = new SequenceNetwork<float>(o);
        Initializer.Initialize(net, InitScheme.Orthogonal, 9);
        var batch = Batch<float>(new Rng(8));
        float[] before = net.Forward(batch).ToArray();
        byte[] bytes = ModelFile.From(net).ToBytes();
        Assert.Equal(ModelFile.CharacterFeaturesFormatVersion, BitConverter.ToUInt32(bytes, 8));
        var loaded = ModelFile.Read(bytes).CreateNetwork();
        Assert.Equal(o.CharacterVocabularySize, loaded.Options.CharacterVocabularySize);
        Assert.Equal(o.CharacterHiddenSize, loaded.Options.CharacterHiddenSize);
        Assert.Equal(o.InputDropout, loaded.Options.InputDropout);
        Assert.Equal(before, loaded.Forward(batch).ToArray());
        // a network without the new settings is still written as version 1
        var plain = new SequenceNetwork<float>(new NetworkOptions { VocabularySize = 4, OutputSize = 2, HiddenSize = 3, EmbeddingSize = 2 });
        Assert.Equal(ModelFile.FormatVersion, BitConverter.ToUInt32(ModelFile.From(plain).ToBytes(), 8));
        // a batch without characters is refused with a message that says what is missing
        var noChars = SequenceBatch<float>.FromTokens(batch.Tokens!, B, S, Lengths);
        var ex = Assert.Throws<ArgumentException>(() => loaded.Forward(noChars));
        Assert.Contains("characters", ex.Message);
        // a corrupt version-3 header field is an InvalidDataException, not a crash
        var bad = (byte[])bytes.Clone();
        Assert.Throws<InvalidDataException>(() => ModelFile.Read(bad.AsSpan(0, bad.Length - 5)));
    }
}
