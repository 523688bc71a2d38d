using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx.Format;
using Xunit;

namespace Rnn.MLNet.Onnx.Tests;

/// <summary>
/// Import of PyTorch's torch.onnx.export files (Fixtures/, written by Fixtures/make_fixtures.py with Debian's PyTorch 1.13):
/// the imported network reproduces PyTorch's outputs; export → import is bit-identical; bad files get clear exceptions.
/// </summary>
public class OnnxImportTests
{
    public static IEnumerable<object[]> Fixtures() =>
        new[] { "lstm", "gru", "rnn_tanh", "rnn_relu" }.SelectMany(c => new[] { $"tagger-{c}", $"classifier-{c}" }).Append("lastout-lstm").Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ImportedNetworkReproducesPyTorch(string name)
    {
        var result = OnnxImport.ReadSequenceNetwork(Path.Combine("Fixtures", name + ".onnx"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine("Fixtures", name + ".json")));
        var ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        var expected = json.RootElement.GetProperty("logits").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        var shape = json.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        var net = result.Network;
        Assert.Equal(name.StartsWith("tagger", StringComparison.Ordinal) ? OutputMode.PerStep : OutputMode.LastStep, net.Options.Output);
        Assert.Equal(name.StartsWith("lastout", StringComparison.Ordinal) ? 1 : 2, net.Options.Directions);
        Assert.Equal(2, net.Options.Layers);
        Assert.Equal(InputKind.Embedding, net.Options.Input);
        int B = ids.Length, S = ids[0].Length;
        float[] ours = net.Forward(SequenceBatch<float>.FromTokens(ids.SelectMany(r => r).ToArray(), B, S)).ToArray();
        Assert.Equal(shape.Aggregate(1, (a, b) => a * b), ours.Length);
        int O = shape[^1];
        for (int r = 0; r < ours.Length / O; r++)
            Ort.AssertClose(ours.AsSpan(r * O, O), expected.AsSpan(r * O, O), $"{name} row {r} (ours vs PyTorch)");
    }

    public static IEnumerable<object[]> RoundTripCases() => SequenceNetworkExportTests.Cases();

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void ExportThenImportIsBitIdentical(CellType cell, InputKind input, OutputMode output, int layers, bool bi)
    {
        var net = SequenceNetworkExportTests.Network(cell, input, output, layers, bi);
        var back = OnnxImport.ReadSequenceNetwork(new MemoryStream(Ort.Bytes(s => net.ExportToOnnx(s, new OnnxExportOptions { Activation = OnnxOutputActivation.Softmax }))));
        AssertSame(net, back.Network);
        Assert.Equal(OnnxOutputActivation.Softmax, back.Activation);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void PyTorchFileExportedAgainImportsBitIdentical(string name)
    {
        var net = OnnxImport.ReadSequenceNetwork(Path.Combine("Fixtures", name + ".onnx")).Network;
        var again = OnnxImport.ReadSequenceNetwork(new MemoryStream(Ort.Bytes(s => net.ExportToOnnx(s)))).Network;
        AssertSame(net, again);
    }

    private static void AssertSame(SequenceNetwork<float> a, SequenceNetwork<float> b)
    {
        var (x, y) = (a.Options, b.Options);
        Assert.Equal((x.Cell, x.Input, x.Output, x.Layers, x.Bidirectional, x.HiddenSize, x.OutputSize, x.RecurrentInputSize),
                     (y.Cell, y.Input, y.Output, y.Layers, y.Bidirectional, y.HiddenSize, y.OutputSize, y.RecurrentInputSize));
        Assert.Equal(a.Parameters.Parameters.Select(p => (p.Name, p.ShapeText)), b.Parameters.Parameters.Select(p => (p.Name, p.ShapeText)));
        Assert.True(a.Parameters.Values.Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.Parameters.Values.Select(BitConverter.SingleToInt32Bits)), "weights differ in some bit");
    }

    private static byte[] Mutated(Action<OnnxModel> change)
    {
        var net = SequenceNetworkExportTests.Network(CellType.Gru, InputKind.Embedding, OutputMode.LastStep, 2, true);
        var model = OnnxModel.Parse(Ort.Bytes(s => net.ExportToOnnx(s)));
        change(model);
        return Ort.Bytes(model.WriteTo);
    }

    [Fact]
    public void UnsupportedOperatorNamesTheNodeAndWhatIsSupported()
    {
        var bytes = Mutated(m =>
        {
            var n = m.Graph.Nodes.First(n => n.OpType == "Transpose");
            n.OpType = "Conv"; n.Name = "my_conv";
        });
        var e = Assert.Throws<NotSupportedException>(() => OnnxImport.ReadSequenceNetwork(new MemoryStream(bytes)));
        Assert.Contains("Conv node 'my_conv'", e.Message, StringComparison.Ordinal);
        Assert.Contains("supported: LSTM, GRU, RNN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GruWithoutLinearBeforeResetIsRefused()
    {
        var bytes = Mutated(m => m.Graph.Nodes.First(n => n.OpType == "GRU").Attributes.RemoveAll(a => a.Name == "linear_before_reset"));
        var e = Assert.Throws<NotSupportedException>(() => OnnxImport.ReadSequenceNetwork(new MemoryStream(bytes)));
        Assert.Contains("GRU node", e.Message, StringComparison.Ordinal);
        Assert.Contains("linear_before_reset", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongWeightShapeNamesTheNodeAndTheExpectedShape()
    {
        var bytes = Mutated(m =>
        {
            var r = m.Graph.Nodes.First(n => n.OpType == "GRU").Inputs[2];
            var t = m.Graph.Initializers.First(i => i.Name == r);
            t.Dims = new[] { t.Dims[0], t.Dims[1] / 3, t.Dims[2] * 3 };
        });
        var e = Assert.Throws<NotSupportedException>(() => OnnxImport.ReadSequenceNetwork(new MemoryStream(bytes)));
        Assert.Contains("GRU node", e.Message, StringComparison.Ordinal);
        Assert.Contains("expected [2, 21, 7]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CorruptOrTruncatedFilesThrowInvalidData()
    {
        var good = Ort.Bytes(s => SequenceNetworkExportTests.Network(CellType.Lstm, InputKind.Embedding, OutputMode.PerStep, 1, false).ExportToOnnx(s));
        foreach (int cut in new[] { 1, 7, good.Length / 2, good.Length - 3 })
            Assert.ThrowsAny<Exception>(() => OnnxImport.ReadSequenceNetwork(new MemoryStream(good[..cut])));
        var e = Assert.Throws<InvalidDataException>(() => OnnxImport.ReadSequenceNetwork(new MemoryStream(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0x0F })));
        Assert.Contains("claims", e.Message, StringComparison.Ordinal);
        var rng = new Random(5);
        for (int i = 0; i < 200; i++) // flipped bytes: an exception of the documented kinds, never a crash
        {
            var bad = (byte[])good.Clone();
            for (int k = 0; k < 4; k++) bad[rng.Next(bad.Length)] = (byte)rng.Next(256);
            try { OnnxImport.ReadSequenceNetwork(new MemoryStream(bad)); }
            catch (Exception ex) when (ex is InvalidDataException or NotSupportedException or ArgumentException) { }
        }
    }
}
