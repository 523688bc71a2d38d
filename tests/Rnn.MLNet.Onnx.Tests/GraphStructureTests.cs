using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx.Format;
using Xunit;

namespace Rnn.MLNet.Onnx.Tests;

/// <summary>The exported graph is built as torch.onnx.export builds it: one recurrent node per layer, no per-step operators.</summary>
public class GraphStructureTests
{
    [Theory]
    [InlineData(CellType.Lstm, "LSTM")]
    [InlineData(CellType.Gru, "GRU")]
    [InlineData(CellType.RnnRelu, "RNN")]
    public void OneRecurrentNodePerLayerAndNoLoops(CellType cell, string op)
    {
        var net = SequenceNetworkExportTests.Network(cell, InputKind.Embedding, OutputMode.LastStep, 3, true);
        var model = OnnxModel.Parse(Ort.Bytes(s => net.ExportToOnnx(s, new OnnxExportOptions { Activation = OnnxOutputActivation.Sigmoid })));
        var ops = model.Graph.Nodes.Select(n => n.OpType).ToList();
        Assert.Equal(3, ops.Count(o => o == op));
        Assert.DoesNotContain(ops, o => o is "Loop" or "Scan" or "If");
        Assert.True(ops.Count < 20, $"{ops.Count} nodes: {string.Join(", ", ops)}");
        var lstm = model.Graph.Nodes.First(n => n.OpType == op);
        Assert.Equal("bidirectional", lstm.Attribute("direction")!.S);
        Assert.All(lstm.Inputs.Skip(1).Take(3), w => Assert.Contains(model.Graph.Initializers, t => t.Name == w)); // W, R, B precomputed
        Assert.Equal(17, model.DefaultOpset);
        Assert.Equal(OnnxExport.ProducerName, model.ProducerName);
    }

    [Fact]
    public void ExportDoesNotCountAsAWeightChange()
    {
        // Exporting reads the weights; the network's inference caches (keyed on the weights' version) stay valid.
        var net = SequenceNetworkExportTests.Network(CellType.Lstm, InputKind.Embedding, OutputMode.PerStep, 2, true);
        long before = net.Parameters.Version;
        Ort.Bytes(s => net.ExportToOnnx(s));
        Assert.Equal(before, net.Parameters.Version);
    }
}
