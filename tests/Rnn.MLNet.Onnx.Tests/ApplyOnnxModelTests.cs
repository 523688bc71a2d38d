using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Xunit;

namespace Rnn.MLNet.Onnx.Tests;

/// <summary>
/// An exported binary classifier scored by ML.NET's own ApplyOnnxModel (Microsoft.ML.OnnxTransformer), in this project that
/// does not reference the Rnn.MLNet ML.NET package: the same probabilities as the network's.
/// </summary>
public class ApplyOnnxModelTests
{
    private const int Steps = 10;

    private sealed class Row
    {
        [VectorType(Steps)] public long[] input_ids { get; set; } = Array.Empty<long>();
        [VectorType(1)] public int[] sequence_lengths { get; set; } = Array.Empty<int>();
    }

    private sealed class Scored
    {
        [VectorType(1)] public float[] probabilities { get; set; } = Array.Empty<float>();
    }

    [Theory]
    [InlineData(CellType.Lstm, false)]
    [InlineData(CellType.Gru, true)]
    public void ApplyOnnxModelGivesTheNetworksProbabilities(CellType cell, bool bidirectional)
    {
        var net = SequenceNetworkExportTests.Network(cell, InputKind.Embedding, OutputMode.LastStep, 2, bidirectional, outputs: 1);
        string path = Path.Combine(Path.GetTempPath(), $"rnn-mlnet-onnx-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var f = File.Create(path)) net.ExportToOnnx(f, new OnnxExportOptions { Activation = OnnxOutputActivation.Sigmoid });
            var rng = new Random(3);
            var rows = Enumerable.Range(0, 12).Select(i =>
            {
                int length = 1 + i % Steps;
                var ids = new long[Steps];
                for (int t = 0; t < length; t++) ids[t] = rng.Next(13);
                return new Row { input_ids = ids, sequence_lengths = new[] { length } };
            }).ToList();

            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var pipeline = ml.Transforms.ApplyOnnxModel(new[] { "probabilities" }, new[] { "input_ids", "sequence_lengths" }, path,
                shapeDictionary: new Dictionary<string, int[]> { ["input_ids"] = new[] { 1, Steps }, ["sequence_lengths"] = new[] { 1 } }, gpuDeviceId: null, fallbackToCpu: false, recursionLimit: 100);
            var scored = ml.Data.CreateEnumerable<Scored>(pipeline.Fit(data).Transform(data), reuseRowObject: false).ToList();

            Assert.Equal(rows.Count, scored.Count);
            for (int i = 0; i < rows.Count; i++)
            {
                int n = rows[i].sequence_lengths[0];
                float logit = net.Forward(SequenceBatch<float>.FromTokens(rows[i].input_ids.Take(n).Select(v => (int)v).ToArray(), 1, n))[0];
                float ours = 1f / (1f + MathF.Exp(-logit));
                Ort.AssertClose(new[] { ours }, scored[i].probabilities, $"row {i} (length {n})");
            }
        }
        finally { File.Delete(path); }
    }
}
