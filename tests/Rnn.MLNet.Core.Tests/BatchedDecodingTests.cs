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
    public void EnsembleDecodingFollowsTheMeanOfTheMembersLogProbabilities()
    {
        // Two members of different sizes over the same vocabularies.
        EncoderDecoderNetwork<double> Member(int hidden, AttentionKind attention, ulong seed)
        {
            var net = new EncoderDecoderNetwork<double>(new EncoderDecoderOptions
            {
                Cell = CellType.Gru, SourceVocabularySize = 10, TargetVocabularySize = 7, EmbeddingSize = 5, HiddenSize = hidden, BidirectionalEncoder = true, Attention = attention,
            });
            Initializer.Initialize(net.Parameters, InitScheme.PyTorchDefault, seed);
            for (int i = 0; i < net.Parameters.Count; i++) net.Parameters.Values[i] *= 2;
            return net;
        }
        var members = new[] { Member(6, AttentionKind.Additive, 11), Member(4, AttentionKind.General, 12) };
        var rng = new Rng(8);
        var sources = Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, 1 + rng.NextInt(5)).Select(_ => 1 + rng.NextInt(9)).ToArray()).ToArray();

        // Greedy: every emitted token (and the end) is the argmax of the mean log-softmax of the members' teacher-forced
        // logits on the emitted prefix, and the reported log-probability is the sum of those means.
        var greedy = new DecodingOptions { BeamWidth = 1, MaxLength = 6 };
        var decoded = EncoderDecoderNetwork<double>.DecodeBatch(members, sources, greedy);
        for (int i = 0; i < sources.Length; i++)
        {
            var emitted = decoded[i].Tokens;
            int steps = emitted.Length + (decoded[i].Finished ? 1 : 0);
            var input = new int[emitted.Length + 1]; // end-of-sequence, then the emitted tokens
            emitted.CopyTo(input, 1);
            var mean = new double[input.Length * 7];
            foreach (var m in members)
            {
                var batch = EncoderDecoderBatch<double>.FromTokens(SequenceBatch<double>.FromTokens(sources[i], 1, sources[i].Length),
                    SequenceBatch<double>.FromTokens(input, 1, input.Length));
                var logits = m.Forward(batch).ToArray();
                for (int t = 0; t < input.Length; t++)
                {
                    double max = logits.Skip(t * 7).Take(7).Max(), sum = logits.Skip(t * 7).Take(7).Sum(v => System.Math.Exp(v - max));
                    for (int c = 0; c < 7; c++) mean[t * 7 + c] += (logits[t * 7 + c] - max - System.Math.Log(sum)) / members.Length;
                }
            }
            double total = 0;
            for (int t = 0; t < steps; t++)
            {
                int chosen = t < emitted.Length ? emitted[t] : EncoderDecoderNetwork<double>.EndOfSequence;
                var row = mean.AsSpan(t * 7, 7).ToArray();
                if (t < emitted.Length || emitted.Length < greedy.MaxLength) // past MaxLength the end is forced
                    Assert.Equal(Array.IndexOf(row, row.Max()), chosen);
                total += row[chosen];
            }
            Assert.Equal(total, decoded[i].LogProbability, 9);
        }

        // Beam search: batched = one source at a time; one member = that network's own search; identical members = one.
        var beam = new DecodingOptions { BeamWidth = 3, MaxLength = 6 };
        var batched = EncoderDecoderNetwork<double>.DecodeBatch(members, sources, beam);
        for (int i = 0; i < sources.Length; i++)
        {
            var alone = EncoderDecoderNetwork<double>.DecodeBatch(members, new[] { sources[i] }, beam)[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            Assert.Equal(alone.LogProbability, batched[i].LogProbability, 9);
            Assert.Equal(members[0].Decode(sources[i], beam).Tokens, EncoderDecoderNetwork<double>.DecodeBatch(new[] { members[0] }, new[] { sources[i] }, beam)[0].Tokens);
            var twice = EncoderDecoderNetwork<double>.DecodeBatch(new[] { members[1], members[1].CloneForInference() }, new[] { sources[i] }, beam)[0];
            Assert.Equal(members[1].Decode(sources[i], beam).Tokens, twice.Tokens);
        }
        var otherVocabulary = new EncoderDecoderNetwork<double>(new EncoderDecoderOptions { SourceVocabularySize = 10, TargetVocabularySize = 8, EmbeddingSize = 5, HiddenSize = 4 });
        Assert.Contains("member 0", Assert.Throws<ArgumentException>(() => EncoderDecoderNetwork<double>.DecodeBatch(new[] { members[0], otherVocabulary }, sources, beam)).Message, StringComparison.Ordinal);
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
