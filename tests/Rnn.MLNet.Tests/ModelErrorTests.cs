using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using Microsoft.ML;
using Rnn.MLNet.TextClassification;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>What a user reads when a saved model is corrupt or comes from another version: our message, naming what is wrong.</summary>
public class ModelErrorTests
{
    public sealed class Review
    {
        public bool Label { get; set; }
        public string Text { get; set; } = "";
    }

    public sealed class Scored
    {
        public float Score { get; set; }
    }

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name + ".zip");

    /// <summary>A copy of a .zip whose entries went through <paramref name="edit"/> (the archive itself stays intact).</summary>
    private static string Rewrite(string source, Func<byte[], byte[]> edit)
    {
        string target = Path.Combine(Path.GetTempPath(), $"rnn-edited-{Guid.NewGuid():N}.zip");
        using var input = ZipFile.OpenRead(source);
        using var output = ZipFile.Open(target, ZipArchiveMode.Create);
        foreach (var entry in input.Entries)
        {
            using var ms = new MemoryStream();
            using (var s = entry.Open()) s.CopyTo(ms);
            using var w = output.CreateEntry(entry.FullName).Open();
            w.Write(edit(ms.ToArray()));
        }
        return target;
    }

    /// <summary>Replaces every occurrence of <paramref name="from"/> (UTF-8 or UTF-16) by <paramref name="to"/> of the same length.</summary>
    private static byte[] Replace(byte[] bytes, string from, string to)
    {
        foreach (var encoding in new Encoding[] { Encoding.UTF8, Encoding.Unicode })
        {
            byte[] f = encoding.GetBytes(from), t = encoding.GetBytes(to);
            for (int i = bytes.AsSpan().IndexOf(f); i >= 0; i = bytes.AsSpan().IndexOf(f))
                t.CopyTo(bytes, i);
        }
        return bytes;
    }

    /// <summary>Changes one base64 character well inside the payload (ML.NET stores the Expression's text as UTF-16; the payload starts with the magic "RNNMLNET" = "Uk5OTUxORVQ").</summary>
    private static byte[] CorruptPayload(byte[] bytes)
    {
        int at = bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes("Uk5OTUxORVQ"));
        if (at < 0) return bytes;
        int i = at + 2 * 200;
        bytes[i] = bytes[i] == (byte)'A' ? (byte)'B' : (byte)'A';
        return bytes;
    }

    [Fact]
    public void ACorruptModelInsideAnIntactZipSaysWhatIsWrongFirst()
    {
        string zip = Rewrite(Fixture("binary-text"), CorruptPayload);
        try
        {
            var ml = new MLContext();
            var loaded = ml.Model.Load(zip, out _);

            // Getting back to the model validates it at once: our exception, not ML.NET's.
            var e = Assert.Throws<InvalidDataException>(() => TextClassifierModel.FromTransformer(loaded));
            Assert.StartsWith("The Rnn.MLNet text classifier inside the ML.NET model is corrupt", e.Message, StringComparison.Ordinal);
            Assert.Contains("checksum", e.Message, StringComparison.OrdinalIgnoreCase);

            // A PredictionEngine scores on the caller's thread: our exception surfaces as it is.
            var engine = ml.Model.CreatePredictionEngine<Review, Scored>(loaded);
            var p = Assert.Throws<InvalidDataException>(() => engine.Predict(new Review { Text = "great" }));
            Assert.StartsWith("The Rnn.MLNet text classifier inside the ML.NET model is corrupt", p.Message, StringComparison.Ordinal);

            // Transform + a cursor: ML.NET runs the mapping on its worker threads and wraps what they throw
            // ("Splitter/consolidator worker encountered exception…"); ours is inside, with the same message.
            var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 50).Select(i => new Review { Text = "good food " + i }));
            var t = Assert.ThrowsAny<Exception>(() => ml.Data.CreateEnumerable<Scored>(loaded.Transform(data), reuseRowObject: false).ToList());
            Assert.Contains(Chain(t), x => x is InvalidDataException && x.Message.StartsWith("The Rnn.MLNet text classifier inside the ML.NET model is corrupt", StringComparison.Ordinal));
        }
        finally { File.Delete(zip); }
    }

    private static System.Collections.Generic.IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException) yield return e;
    }

    [Fact]
    public void ACorruptPackedPayloadSaysWhatIsWrong()
    {
        // Today's payload form: 15 bits per char after the marker U+C000 (UTF-16 in the .zip).
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(40, 1).Select(r => new Review { Label = r.Label, Text = r.Text }));
        var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { HiddenSize = 4, EmbeddingSize = 4, Epochs = 1, Seed = 1 }).Fit(data);
        string saved = Path.Combine(Path.GetTempPath(), $"rnn-packed-{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, data.Schema, saved);
        string flipped = Rewrite(saved, b =>
        {
            int at = b.AsSpan().IndexOf(new byte[] { 0x00, 0xC0 });
            if (at >= 0) b[at + 2 * 100] ^= 1; // one char well inside the data, still inside the alphabet
            return b;
        });
        string truncated = Rewrite(saved, b => Replace(b, "\uC000\u4000", "\uC000\u4001"));
        try
        {
            Assert.Equal(model.Model.Predict("great"), TextClassifierModel.FromTransformer(new MLContext().Model.Load(saved, out _)).Predict("great"));
            var e = Assert.Throws<InvalidDataException>(() => TextClassifierModel.FromTransformer(new MLContext().Model.Load(flipped, out _)));
            Assert.StartsWith("The Rnn.MLNet text classifier inside the ML.NET model is corrupt: Checksum mismatch", e.Message, StringComparison.Ordinal);
            e = Assert.Throws<InvalidDataException>(() => TextClassifierModel.FromTransformer(new MLContext().Model.Load(truncated, out _)));
            Assert.StartsWith("The Rnn.MLNet text classifier inside the ML.NET model is corrupt: the payload announces", e.Message, StringComparison.Ordinal);
        }
        finally { File.Delete(saved); File.Delete(flipped); File.Delete(truncated); }
    }

    [Fact]
    public void AModelFileOfAnotherVersionNamesTheVersionAndWhatThisOneReads()
    {
        // The payload's header "RNNMLNET" + format 1 is "Uk5OTUxORVQBAAAA" in base64; format 7 is "…HAAAA", format 0 "…AAAAA".
        foreach (var (forged, by) in new[] { ("Uk5OTUxORVQHAAAA", "a newer"), ("Uk5OTUxORVQAAAAA", "an older") })
        {
            string zip = Rewrite(Fixture("binary-text"), b => Replace(b, "Uk5OTUxORVQBAAAA", forged));
            try
            {
                var loaded = new MLContext().Model.Load(zip, out _);
                var e = Assert.Throws<InvalidDataException>(() => TextClassifierModel.FromTransformer(loaded));
                Assert.StartsWith($"The Rnn.MLNet text classifier inside the ML.NET model was saved by {by} Rnn.MLNet (model format {(by == "a newer" ? 7 : 0)}); this version reads formats 1 to 5.", e.Message, StringComparison.Ordinal);
            }
            finally { File.Delete(zip); }
        }
    }

    [Fact]
    public void AModelNamingTheNextContractVersionSaysItWasSavedByANewerRnnMLNet()
    {
        string zip = Rewrite(Fixture("binary-text"), b => Replace(b, "Rnn.MLNet.TextClassifier.Binary.v1", "Rnn.MLNet.TextClassifier.Binary.v2"));
        try
        {
            var e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(zip, out _));
            var ours = Assert.Single(Chain(e), x => x is InvalidDataException);
            Assert.Equal("The model was saved by a newer Rnn.MLNet: its contract 'Rnn.MLNet.TextClassifier.Binary.v2' is unknown to this version, " +
                "which reads 'Rnn.MLNet.TextClassifier.Binary.v1'. Update the Rnn.MLNet package to load it.", ours.Message);
        }
        finally { File.Delete(zip); }
    }
}
