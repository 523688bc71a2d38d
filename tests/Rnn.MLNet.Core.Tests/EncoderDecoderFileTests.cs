using System;
using System.IO;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>Encoder–decoder model files (format version 2): exact round trip, and corrupt or forged files rejected clearly.</summary>
public class EncoderDecoderFileTests
{
    private static EncoderDecoderNetwork<float> Network(SourceKind source = SourceKind.Tokens)
    {
        var o = new EncoderDecoderOptions
        {
            Cell = CellType.Gru, Source = source, SourceVocabularySize = source == SourceKind.Tokens ? 11 : 0, FeatureSize = source == SourceKind.Features ? 3 : 0,
            TargetVocabularySize = 7, EmbeddingSize = 4, HiddenSize = 5, Layers = 2, Dropout = 0.1f,
            BidirectionalEncoder = source == SourceKind.Tokens, Attention = source == SourceKind.Tokens ? AttentionKind.General : AttentionKind.None,
            FeedFeaturesEveryStep = source == SourceKind.Features,
        };
        var net = new EncoderDecoderNetwork<float>(o);
        Initializer.Initialize(net.Parameters, InitScheme.Xavier, 9);
        return net;
    }

    private static byte[] Bytes()
    {
        var file = ModelFile.From(Network());
        file.Lists["target"] = new[] { "</s>", "a", "b", "c", "d", "e", "é 👍" };
        return file.ToBytes();
    }

    [Theory]
    [InlineData(SourceKind.Tokens)]
    [InlineData(SourceKind.Features)]
    public void SaveThenLoadDecodesIdentically(SourceKind source)
    {
        var net = Network(source);
        string path = Path.Combine(Path.GetTempPath(), $"rnn-{Guid.NewGuid():N}.rnnm");
        try
        {
            ModelFile.From(net).Save(path);
            var file = ModelFile.Load(path);
            Assert.True(file.IsEncoderDecoder);
            Assert.Throws<InvalidDataException>(() => file.Options); // not a sequence network
            var net2 = file.CreateEncoderDecoder();
            Assert.Equal(net.Parameters.Values, net2.Parameters.Values);
            var beam = new DecodingOptions { BeamWidth = 3, MaxLength = 6 };
            var a = source == SourceKind.Tokens ? net.Decode(new[] { 1, 5, 10 }, beam) : net.DecodeFeatures(new[] { 0.1f, 0.9f, 0.4f }, beam);
            var b = source == SourceKind.Tokens ? net2.Decode(new[] { 1, 5, 10 }, beam) : net2.DecodeFeatures(new[] { 0.1f, 0.9f, 0.4f }, beam);
            Assert.Equal(a.Tokens, b.Tokens);
            Assert.Equal(a.LogProbability, b.LogProbability);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ASequenceNetworkFileIsNotAnEncoderDecoder()
    {
        var file = ModelFile.Read(ModelFile.From(new SequenceNetwork<float>(new NetworkOptions { VocabularySize = 3, OutputSize = 2, HiddenSize = 2, EmbeddingSize = 2 })).ToBytes());
        Assert.False(file.IsEncoderDecoder);
        Assert.Contains("not an encoder-decoder", Assert.Throws<InvalidDataException>(() => file.CreateEncoderDecoder()).Message);
    }

    [Fact]
    public void EveryTruncationAndBitFlipIsAClearError()
    {
        byte[] bytes = Bytes();
        for (int n = 0; n < bytes.Length; n++) Assert.Throws<InvalidDataException>(() => ModelFile.Read(bytes.AsSpan(0, n)));
        for (int i = 0; i < bytes.Length; i++)
            for (int bit = 0; bit < 8; bit += 3)
            {
                var copy = (byte[])bytes.Clone();
                copy[i] ^= (byte)(1 << bit);
                Assert.Throws<InvalidDataException>(() => ModelFile.Read(copy));
            }
    }

    [Fact]
    public void EveryOptionsFieldForgedWithAValidChecksumIsRejectedWithoutWork()
    {
        byte[] bytes = Bytes();
        int payloadStart = 20, payloadLength = bytes.Length - 24;
        for (int field = 0; field < 11; field++) // nine ints, then the two flags
            foreach (int forged in new[] { int.MaxValue, int.MinValue, -1, 1 << 30, 0, 2 })
            {
                var copy = (byte[])bytes.Clone();
                int at = payloadStart + (field < 9 ? 4 * field : 36 + (field - 9));
                if (field < 9)
                {
                    if (BitConverter.ToInt32(bytes, at) == forged) continue;
                    BitConverter.GetBytes(forged).CopyTo(copy, at);
                }
                else
                {
                    if (bytes[at] == (byte)forged) continue;
                    copy[at] = (byte)forged;
                }
                BitConverter.GetBytes(Crc32.Compute(copy.AsSpan(payloadStart, payloadLength))).CopyTo(copy, payloadStart + payloadLength);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var sw = System.Diagnostics.Stopwatch.StartNew();
                Assert.Throws<InvalidDataException>(() => ModelFile.Read(copy));
                Assert.True(sw.Elapsed.TotalSeconds < 5, $"field {field} = {forged} took {sw.Elapsed.TotalSeconds:F1}s");
                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, $"field {field} = {forged} allocated too much");
            }
    }
}
