using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.TextClassification;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>Tests that attack the ML.NET layer: corrupt model archives, hostile texts, thread counts.</summary>
public class HardeningTests
{
    private readonly ITestOutputHelper _out;
    public HardeningTests(ITestOutputHelper output) => _out = output;

    public sealed class Scored
    {
        public float Score { get; set; }
        public float Probability { get; set; }
    }

    private static (MLContext Ml, ITransformer Model, IDataView Data) SmallModel()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(120, 1));
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { HiddenSize = 6, EmbeddingSize = 4, Epochs = 1, Seed = 1, Tokenizer = Text.TokenizerKind.Character }).Fit(data);
        return (ml, model, data);
    }

    /// <summary>
    /// The payload inside the saved .zip is corrupted in place (one of its characters changed to another of its alphabet):
    /// loading and scoring must end in an exception that says the model is corrupt — never a crash or a wrong score.
    /// </summary>
    [Fact]
    public void APackedPayloadDecodesTheSameFromAnyOffset()
    {
        var rng = new Rng(8);
        foreach (int n in new[] { 0, 1, 2, 14, 15, 16, 29, 30, 31, 257, 1000 }) // 15-byte groups from aligned offsets, single bytes elsewhere
        {
            var bytes = new byte[n];
            for (int i = 0; i < n; i++) bytes[i] = (byte)rng.NextInt(256);
            string text = Persistence.PayloadText.Encode(bytes);
            Assert.Equal(n, Persistence.PayloadText.ByteLength(text));
            Assert.Equal(bytes, Persistence.PayloadText.Decode(text));
            for (int start = 0; start <= n; start++)
                for (int length = 0; start + length <= n; length += 1 + length / 3)
                {
                    var piece = new byte[length];
                    Persistence.PayloadText.DecodeInto(text, start, piece);
                    Assert.Equal(bytes.AsSpan(start, length).ToArray(), piece);
                }
        }
    }

    [Fact]
    public void CorruptedPayloadsInsideTheZipAreRejected()
    {
        var (ml, model, data) = SmallModel();
        using var ms = new MemoryStream();
        ml.Model.Save(model, data.Schema, ms);
        byte[] zip = ms.ToArray();
        // Find the payload: ML.NET stores the Expression's text as UTF-16; the payload is the marker U+C000, three length
        // characters, then characters U+4000–U+BFFF (15 bits each; see Persistence/PayloadText.cs).
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        var entries = archive.Entries.Select(e => { using var s = e.Open(); using var b = new MemoryStream(); s.CopyTo(b); return (e.FullName, Bytes: b.ToArray()); }).ToList();
        string name = "";
        byte[] bytes = Array.Empty<byte>();
        int bestStart = 0, bestLength = 0;
        foreach (var (entryName, content) in entries)
        {
            for (int i = 0; i + 1 < content.Length; i++)
            {
                if (content[i] != 0x00 || content[i + 1] != 0xC0) continue;
                int n = 0;
                for (int j = i + 2; j + 1 < content.Length && content[j + 1] >= 0x40 && content[j + 1] < 0xC0; j += 2) n++;
                if (n > bestLength) { bestLength = n; bestStart = i + 2 * 4; name = entryName; bytes = content; } // data after marker + length
            }
        }
        Assert.True(bestLength > 500, $"payload not found (longest run {bestLength} in {name})");
        bestLength -= 3;
        var rng = new Rng(3);
        int rejected = 0;
        long worstAllocated = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var mutated = (byte[])bytes.Clone();
            // A character past the file header (magic, version, length: 20 bytes = 11 characters) and before the last one
            // (whose low bits are padding), changed to another character of the alphabet.
            int at = bestStart + 2 * (16 + rng.NextInt(bestLength - 32));
            int old = mutated[at] | mutated[at + 1] << 8, replacement;
            do replacement = 0x4000 + rng.NextInt(0x8000); while (replacement == old);
            mutated[at] = (byte)replacement;
            mutated[at + 1] = (byte)(replacement >> 8);
            byte[] corrupted = Rezip(entries, name, mutated);
            var ml2 = new MLContext();
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            var ex = Record.Exception(() =>
            {
                var loaded = ml2.Model.Load(new MemoryStream(corrupted), out _);
                _ = ml2.Data.CreateEnumerable<Scored>(loaded.Transform(data), false).Sum(s => s.Score);
            });
            worstAllocated = System.Math.Max(worstAllocated, GC.GetAllocatedBytesForCurrentThread() - a0);
            Assert.NotNull(ex);
            var inner = ex!;
            while (inner.InnerException is not null && inner is not InvalidDataException) inner = inner.InnerException;
            Assert.True(inner is InvalidDataException, $"trial {trial}: {ex.GetType().Name}: {ex.Message}");
            Assert.Contains("corrupt", inner.Message, StringComparison.OrdinalIgnoreCase);
            rejected++;
        }
        _out.WriteLine($"{rejected} corrupted payloads rejected; worst allocation for one case {worstAllocated / 1e6:F1} MB");
        Assert.True(worstAllocated < 64 << 20, $"a corrupted payload made loading allocate {worstAllocated} bytes");
    }

    private static byte[] Rezip(List<(string FullName, byte[] Bytes)> entries, string replace, byte[] with)
    {
        using var outStream = new MemoryStream();
        using (var w = new ZipArchive(outStream, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (entryName, content) in entries)
            {
                using var s = w.CreateEntry(entryName).Open();
                s.Write(entryName == replace ? with : content);
            }
        return outStream.ToArray();
    }

    [Fact]
    public void TruncatedAndRandomZipsFailWithAnExceptionNotACrash()
    {
        var (ml, model, data) = SmallModel();
        using var ms = new MemoryStream();
        ml.Model.Save(model, data.Schema, ms);
        byte[] zip = ms.ToArray();
        var rng = new Rng(9);
        int cases = 0;
        var sw = Stopwatch.StartNew();
        foreach (int n in Enumerable.Range(0, 60).Select(_ => rng.NextInt(zip.Length)).Append(0).Append(zip.Length / 2))
        {
            var ex = Record.Exception(() => new MLContext().Model.Load(new MemoryStream(zip, 0, n), out _).Transform(data).Preview(2));
            Assert.NotNull(ex);
            cases++;
        }
        for (int i = 0; i < 40; i++)
        {
            var junk = new byte[rng.NextInt(5000)];
            for (int j = 0; j < junk.Length; j++) junk[j] = (byte)rng.NextInt(256);
            Assert.NotNull(Record.Exception(() => new MLContext().Model.Load(new MemoryStream(junk), out _)));
            cases++;
        }
        _out.WriteLine($"{cases} truncated/random archives rejected in {sw.Elapsed.TotalSeconds:F1}s");
    }

    public sealed class TextRow
    {
        public bool Label { get; set; }
        public string? Text { get; set; }
    }

    [Fact]
    public void HostileTextsScoreWithoutCrashing()
    {
        var (ml, model, _) = SmallModel();
        var engine = ml.Model.CreatePredictionEngine<TextRow, Scored>(model);
        var texts = new List<string?>
        {
            null, "", " ", "\r\n\r\n", "한국어 텍스트", "emoji 👩‍👩‍👧 🇫🇷 🏳️‍🌈", "e\u0301\u0301\u0301", "lone \ud800 high and \udfff low",
            "\0\u0001\u001f control", new string('x', 1 << 20), string.Concat(Enumerable.Repeat("word ", 200_000)), "CR\rLF\nCRLF\r\n mixed",
        };
        foreach (var t in texts)
        {
            var s = engine.Predict(new TextRow { Text = t });
            Assert.True(float.IsFinite(s.Score), $"score {s.Score} for a text of length {t?.Length}");
            Assert.InRange(s.Probability, 0, 1);
        }
    }

    [Theory]
    [InlineData(Text.TokenizerKind.Character)]
    [InlineData(Text.TokenizerKind.Word)]
    public void VocabulariesWithEmojiAndLoneSurrogatesSurviveSaveAndLoad(Text.TokenizerKind tokenizer)
    {
        var ml = new MLContext(seed: 1);
        var rows = SyntheticData.Sentiment(80, 5).Select((r, i) => new TextRow { Label = r.Label, Text = r.Text + (i % 3 == 0 ? " 😀👍🏽 \ud800" : " 한국어 e\u0301 \udfff") }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { Tokenizer = tokenizer, HiddenSize = 6, EmbeddingSize = 4, Epochs = 1, Seed = 1 }).Fit(data);
        var before = ml.Data.CreateEnumerable<Scored>(model.Transform(data), false).Select(s => s.Score).ToArray();
        using var ms = new MemoryStream();
        ml.Model.Save(model, data.Schema, ms);
        ms.Position = 0;
        var loaded = new MLContext().Model.Load(ms, out _);
        Assert.Equal(before, ml.Data.CreateEnumerable<Scored>(loaded.Transform(data), false).Select(s => s.Score).ToArray());
    }

    [Fact]
    public void ThreadCountDoesNotChangeTrainedWeights()
    {
        float[] Train(int threads)
        {
            int saved = Parallelism.MaxThreads;
            Parallelism.MaxThreads = threads;
            try
            {
                var ml = new MLContext(seed: 3);
                var m = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { Cell = CellType.Lstm, HiddenSize = 96, EmbeddingSize = 64, Epochs = 2, Seed = 3, BatchSize = 64 })
                    .Fit(ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(400, 4)));
                return m.Model.Network.Parameters.Values;
            }
            finally { Parallelism.MaxThreads = saved; }
        }
        Assert.Equal(Train(1), Train(2));
    }
}
