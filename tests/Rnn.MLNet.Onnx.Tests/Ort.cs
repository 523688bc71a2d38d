using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace Rnn.MLNet.Onnx.Tests;

/// <summary>Runs exported bytes in ONNX Runtime and compares float outputs.</summary>
internal static class Ort
{
    public static InferenceSession Session(byte[] model)
    {
        var so = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        return new InferenceSession(model, so);
    }

    public static byte[] Bytes(Action<Stream> write)
    {
        using var ms = new MemoryStream();
        write(ms);
        return ms.ToArray();
    }

    public static NamedOnnxValue Ids(string name, int[] ids, int batch, int steps) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(ids.Select(i => (long)i).ToArray(), new[] { batch, steps }));

    public static NamedOnnxValue Int32s(string name, int[] values) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<int>(values, new[] { values.Length }));

    public static NamedOnnxValue Floats(string name, float[] values, params int[] dims) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(values, dims));

    public static NamedOnnxValue Longs(string name, long[] values, params int[] dims) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(values, dims));

    /// <summary>Runs the session and returns every output as a flat float array with its shape.</summary>
    public static Dictionary<string, (float[] Values, int[] Shape)> Run(InferenceSession session, params NamedOnnxValue[] inputs)
    {
        using var results = session.Run(inputs);
        return results.ToDictionary(r => r.Name, r =>
        {
            var t = r.AsTensor<float>();
            return (t.ToArray(), t.Dimensions.ToArray());
        });
    }

    /// <summary>
    /// Asserts max |ours − ort| ≤ 1e-5 · max |ours| over the span (the normwise relative error in the infinity norm: an
    /// output row's entries are compared against the row's scale, since a single entry near zero is the difference of larger
    /// terms and carries their rounding), with an absolute floor of 1e-7 for an all-zero span. Returns the relative error.
    /// </summary>
    public static double AssertClose(ReadOnlySpan<float> ours, ReadOnlySpan<float> ort, string what, double relative = 1e-5)
    {
        Assert.True(ours.Length == ort.Length, $"{what}: {ours.Length} values vs ONNX Runtime's {ort.Length}.");
        double scale = 0, worst = 0;
        for (int i = 0; i < ours.Length; i++) scale = System.Math.Max(scale, System.Math.Abs((double)ours[i]));
        double bound = System.Math.Max(relative * scale, 1e-7);
        for (int i = 0; i < ours.Length; i++)
        {
            double diff = System.Math.Abs((double)ours[i] - ort[i]);
            Assert.True(diff <= bound, $"{what}[{i}]: ours {ours[i]:R}, ONNX Runtime {ort[i]:R} (|diff| {diff:E2}, bound {bound:E2}).");
            worst = System.Math.Max(worst, diff);
        }
        return scale > 0 ? worst / scale : worst;
    }
}
