using System;
using System.IO;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

public class ModelFileTests
{
    private static SequenceNetwork<float> Network()
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Gru, Input = InputKind.Embedding, VocabularySize = 13, EmbeddingSize = 4, HiddenSize = 6,
            Layers = 2, Bidirectional = true, OutputSize = 3, Output = OutputMode.LastStep, Dropout = 0.25f,
        });
        Initializer.Initialize(net, InitScheme.Xavier, 5);
        return net;
    }

    private static ModelFile File1()
    {
        var file = ModelFile.From(Network());
        file.Properties["task"] = "test";
        file.Lists["labels"] = new[] { "ham", "spam", "ünïcödé 👍" };
        return file;
    }

    [Fact]
    public void Crc32EightBytesAStepEqualsTheByteAtATimeDefinition()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8)); // the standard check value
        var rng = new Rng(3);
        var data = new byte[300];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)rng.NextInt(256);
        for (int start = 0; start < 9; start++)
            for (int length = 0; start + length <= data.Length; length += 1 + length / 4)
            {
                var piece = data.AsSpan(start, length);
                Assert.Equal(Crc32.AppendNaive(0, piece), Crc32.Compute(piece));
                Assert.Equal(Crc32.AppendNaive(0x12345678u, piece), Crc32.Append(0x12345678u, piece));
            }
    }

    [Fact]
    public void SaveThenLoadGivesBitIdenticalOutputs()
    {
        var net = Network();
        var file = ModelFile.From(net);
        file.Lists["vocab"] = Enumerable.Range(0, 13).Select(i => "w" + i).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"rnn-{Guid.NewGuid():N}.rnnm");
        try
        {
            file.Save(path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(file.Lists["vocab"], loaded.Lists["vocab"]);
            var net2 = loaded.CreateNetwork();
            var batch = SequenceBatch<float>.FromTokenSequences(new[] { 1, 2, 3, 4 }, new[] { 12, 0 });
            var a = net.Forward(batch).ToArray();
            var b = net2.Forward(batch).ToArray();
            Assert.Equal(a.Select(BitConverter.SingleToInt32Bits), b.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(0.25f, net2.Options.Dropout);
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".*.tmp"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReadingInPiecesGivesTheSameModelHandsTheWeightsOverAndNamesEveryCorruption()
    {
        // Large enough for the piecewise path (a vocabulary of 3,000 × 16 and a vocabulary list before the weights).
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 3000, EmbeddingSize = 16, HiddenSize = 8,
            Bidirectional = true, OutputSize = 2, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 9);
        var file = ModelFile.From(net);
        file.Properties["task"] = "test";
        file.Lists["vocab"] = Enumerable.Range(0, 3000).Select(i => "w" + i).ToArray();
        byte[] bytes = file.ToBytes();
        int reads = 0;
        ModelFile Pieces(byte[] data) => ModelFile.ReadPieces(data.Length, (offset, dst) => { reads++; data.AsSpan((int)offset, dst.Length).CopyTo(dst); });

        var read = Pieces(bytes);
        Assert.True(reads > 1);
        Assert.Equal(file.Weights, read.Weights);
        Assert.Equal(file.Lists["vocab"], read.Lists["vocab"]);
        Assert.Equal("test", read.Properties["task"]);
        var taken = read.CreateNetwork();
        Assert.Same(read.Weights, taken.Parameters.Buffer);         // the first network takes the array over
        Assert.NotSame(read.Weights, read.CreateNetwork().Parameters.Buffer); // later ones copy it
        var batch = SequenceBatch<float>.FromTokenSequences(new[] { 1, 2999, 3 }, new[] { 12 });
        Assert.Equal(net.Forward(batch).ToArray(), taken.Forward(batch).ToArray());
        Assert.NotSame(ModelFile.Read(bytes).Weights, ModelFile.Read(bytes).CreateNetwork().Parameters.Buffer); // a file read whole keeps its own

        // A flipped bit anywhere (options, lists, weights, checksum) gets the message reading it whole gives.
        var rng = new Rng(4);
        for (int trial = 0; trial < 40; trial++)
        {
            var bad = (byte[])bytes.Clone();
            int at = trial == 0 ? bad.Length - 1 : trial == 1 ? 24 : rng.NextInt(bad.Length);
            bad[at] ^= (byte)(1 << rng.NextInt(8));
            var whole = Assert.Throws<InvalidDataException>(() => ModelFile.Read(bad));
            var pieces = Assert.Throws<InvalidDataException>(() => Pieces(bad));
            Assert.Equal(whole.Message, pieces.Message);
        }
    }

    [Fact]
    public void EveryTruncationIsAClearError()
    {
        byte[] bytes = File1().ToBytes();
        for (int n = 0; n < bytes.Length; n++)
        {
            var ex = Assert.Throws<InvalidDataException>(() => ModelFile.Read(bytes.AsSpan(0, n)));
            Assert.False(string.IsNullOrWhiteSpace(ex.Message));
        }
    }

    [Fact]
    public void EverySingleBitFlipIsDetected()
    {
        byte[] bytes = File1().ToBytes();
        for (int i = 0; i < bytes.Length; i++)
            for (int bit = 0; bit < 8; bit += 3)
            {
                var copy = (byte[])bytes.Clone();
                copy[i] ^= (byte)(1 << bit);
                Assert.Throws<InvalidDataException>(() => ModelFile.Read(copy));
            }
    }

    [Fact]
    public void WrongVersionAndWrongMagicAreNamed()
    {
        byte[] bytes = File1().ToBytes();
        var v = (byte[])bytes.Clone();
        v[8] = 9;
        Assert.Contains("version 9", Assert.Throws<InvalidDataException>(() => ModelFile.Read(v)).Message);
        var m = (byte[])bytes.Clone();
        m[0] = (byte)'X';
        Assert.Contains("signature", Assert.Throws<InvalidDataException>(() => ModelFile.Read(m)).Message);
    }

    [Fact]
    public void HugeLengthFieldsWithAValidChecksumNeverAllocate()
    {
        // Forge files whose checksum is right but whose inner counts are absurd: the reader must refuse before allocating.
        byte[] bytes = File1().ToBytes();
        int payloadStart = 20, payloadLength = bytes.Length - 24;
        // The property count sits after 9 ints, a byte and a float.
        int propCountAt = payloadStart + 9 * 4 + 1 + 4;
        foreach (int forged in new[] { int.MaxValue, -1, 1 << 28 })
        {
            var copy = (byte[])bytes.Clone();
            BitConverter.GetBytes(forged).CopyTo(copy, propCountAt);
            BitConverter.GetBytes(Crc32.Compute(copy.AsSpan(payloadStart, payloadLength))).CopyTo(copy, payloadStart + payloadLength);
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Throws<InvalidDataException>(() => ModelFile.Read(copy));
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        }
        // Hidden size forged to 2^30: the options are rejected before any weight buffer is allocated.
        var big = (byte[])bytes.Clone();
        BitConverter.GetBytes(1 << 30).CopyTo(big, payloadStart + 5 * 4);
        BitConverter.GetBytes(Crc32.Compute(big.AsSpan(payloadStart, payloadLength))).CopyTo(big, payloadStart + payloadLength);
        long b0 = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => ModelFile.Read(big));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - b0 < 1 << 20);
    }

    [Fact]
    public void EveryOptionsFieldForgedWithAValidChecksumIsRejectedWithoutWork()
    {
        // Found by the fuzzer: Layers = 2³¹ − 1 once made validation loop for seconds. Each of the nine option ints is forged
        // to extreme values with a correct checksum; all must be rejected at once and without allocating the claimed sizes.
        byte[] bytes = File1().ToBytes();
        int payloadStart = 20, payloadLength = bytes.Length - 24;
        foreach (int field in Enumerable.Range(0, 9))
            foreach (int forged in new[] { int.MaxValue, int.MinValue, -1, 1 << 30, 0 })
            {
                int original = BitConverter.ToInt32(bytes, payloadStart + 4 * field);
                if (forged == original || (field == 8 && forged == 0)) continue; // unchanged, or the other (equally valid) output mode
                var copy = (byte[])bytes.Clone();
                BitConverter.GetBytes(forged).CopyTo(copy, payloadStart + 4 * field);
                BitConverter.GetBytes(Crc32.Compute(copy.AsSpan(payloadStart, payloadLength))).CopyTo(copy, payloadStart + payloadLength);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var sw = System.Diagnostics.Stopwatch.StartNew();
                Assert.Throws<InvalidDataException>(() => ModelFile.Read(copy));
                Assert.True(sw.Elapsed.TotalSeconds < 5, $"field {field} = {forged} took {sw.Elapsed.TotalSeconds:F1}s");
                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, $"field {field} = {forged} allocated too much");
            }
    }

    [Fact]
    public void RandomBytesAreRejected()
    {
        var rng = new Rng(42);
        for (int i = 0; i < 500; i++)
        {
            var junk = new byte[rng.NextInt(200)];
            for (int j = 0; j < junk.Length; j++) junk[j] = (byte)rng.NextInt(256);
            if (i % 2 == 0 && junk.Length >= 8) "RNNMLNET"u8.CopyTo(junk);
            Assert.Throws<InvalidDataException>(() => ModelFile.Read(junk));
        }
    }

    [Fact]
    public void LoadNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rnn-{Guid.NewGuid():N}.rnnm");
        try
        {
            File.WriteAllBytes(path, new byte[] { 1, 2, 3 });
            Assert.Contains(path, Assert.Throws<InvalidDataException>(() => ModelFile.Load(path)).Message);
        }
        finally { File.Delete(path); }
    }
}
