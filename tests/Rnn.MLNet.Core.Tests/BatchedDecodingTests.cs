using System;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>Batched beam search decodes every source as decoding it alone does, for each attention kind and beam width.</summary>
public class BatchedDecodingTests
{
    [Theory]
    [InlineData(AttentionKind.Additive, 1)]
    [InlineData(AttentionKind.Additive, 4)]
    [InlineData(AttentionKind.General, 3)]
    [InlineData(AttentionKind.Dot, 2)]
    [InlineData(AttentionKind.None, 3)]
    public void BatchedDecodingMatchesOneSourceAtATime(AttentionKind attention, int beam)
    {
        var o = new EncoderDecoderOptions
        {
            Cell = CellType.Lstm, SourceVocabularySize = 12, TargetVocabularySize = 9, EmbeddingSize = 6, HiddenSize = 8, Layers = 2,
            BidirectionalEncoder = attention != AttentionKind.Dot, Attention = attention,
        };
        var net = new EncoderDecoderNetwork<double>(o); // double: batched and single products round alike
        Initializer.Initialize(net.Parameters, InitScheme.PyTorchDefault, seed: 3);
        for (int i = 0; i < net.Parameters.Count; i++) net.Parameters.Values[i] *= 2; // sharper distributions
        var rng = new Rng(5);
        var sources = Enumerable.Range(0, 7).Select(_ => Enumerable.Range(0, 1 + rng.NextInt(6)).Select(_ => rng.NextInt(12)).ToArray()).ToArray();
        var options = new DecodingOptions { BeamWidth = beam, MaxLength = 8, LengthPenalty = 1 };
        var batched = net.DecodeBatch(sources, options);
        Assert.Equal(sources.Length, batched.Length);
        for (int i = 0; i < sources.Length; i++)
        {
            var alone = net.Decode(sources[i], options);
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            Assert.Equal(alone.Finished, batched[i].Finished);
            Assert.Equal(alone.LogProbability, batched[i].LogProbability, 9);
        }
        Assert.Empty(net.DecodeBatch(Array.Empty<int[]>(), options));
        Assert.Throws<ArgumentException>(() => net.DecodeBatch(new[] { new[] { 1 }, Array.Empty<int>() }, options));
    }

    [Fact]
    public void AdditiveAttentionSurvivesTheModelFile()
    {
        var o = new EncoderDecoderOptions { SourceVocabularySize = 7, TargetVocabularySize = 6, EmbeddingSize = 4, HiddenSize = 5, BidirectionalEncoder = true, Attention = AttentionKind.Additive, EmbeddingDropout = 0.1f };
        var net = new EncoderDecoderNetwork<float>(o);
        Initializer.Initialize(net.Parameters, InitScheme.Orthogonal, seed: 2);
        byte[] bytes = ModelFile.From(net).ToBytes();
        Assert.Equal(ModelFile.EncoderDecoderEmbeddingDropoutFormatVersion, BitConverter.ToUInt32(bytes, 8));
        var loaded = ModelFile.Read(bytes).CreateEncoderDecoder();
        Assert.Equal(AttentionKind.Additive, loaded.Options.Attention);
        Assert.Equal(0.1f, loaded.Options.EmbeddingDropout);
        var src = new[] { 1, 4, 2, 6 };
        var d = new DecodingOptions { BeamWidth = 3, MaxLength = 6 };
        Assert.Equal(net.Decode(src, d).Tokens, loaded.Decode(src, d).Tokens);
    }
}
