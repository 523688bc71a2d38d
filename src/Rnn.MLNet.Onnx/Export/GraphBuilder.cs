using System;
using System.Collections.Generic;
using Rnn.MLNet.Onnx.Format;

namespace Rnn.MLNet.Onnx.Export;

/// <summary>Adds nodes, constants and initializers to an <see cref="OnnxGraph"/> with unique value names.</summary>
internal sealed class GraphBuilder
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _counter;

    public OnnxGraph Graph { get; } = new();

    /// <summary>Reserves a value name (a graph input or output keeps its exact name).</summary>
    public string Reserve(string name)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"The value name '{name}' is used twice.");
        return name;
    }

    private string Fresh(string hint)
    {
        string name;
        do name = $"{hint}_{_counter++}"; while (!_names.Add(name));
        return name;
    }

    public string Floats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        Graph.Initializers.Add(OnnxTensor.FromFloats(Reserve(name), values, dims));
        return name;
    }

    /// <summary>An int64 constant (shapes, axes, indices).</summary>
    public string Int64s(string hint, params long[] values)
    {
        string name = Fresh(hint);
        Graph.Initializers.Add(OnnxTensor.FromInt64s(name, values, values.Length));
        return name;
    }

    /// <summary>A scalar float constant (rank 0).</summary>
    public string Scalar(string hint, float value)
    {
        string name = Fresh(hint);
        Graph.Initializers.Add(OnnxTensor.FromFloats(name, new[] { value }));
        return name;
    }

    /// <summary>A scalar int64 constant (rank 0).</summary>
    public string ScalarInt64(string hint, long value)
    {
        string name = Fresh(hint);
        Graph.Initializers.Add(OnnxTensor.FromInt64s(name, new[] { value }));
        return name;
    }

    public void Input(string name, OnnxType type, params object[] dims) => Graph.Inputs.Add(OnnxValueInfo.Of(Reserve(name), type, dims));

    /// <summary>Declares a graph output; the node producing it must have been given the same name.</summary>
    public void Output(string name, OnnxType type, params object[] dims) => Graph.Outputs.Add(OnnxValueInfo.Of(name, type, dims));

    /// <summary>Adds a node and returns its outputs. <paramref name="outputNames"/> fixes names (null entries get fresh ones).</summary>
    public string[] Node(string op, string[] inputs, int outputs, string?[]? outputNames, params OnnxAttribute[] attributes)
    {
        var node = new OnnxNode { OpType = op, Name = Fresh(op) };
        node.Inputs.AddRange(inputs);
        var result = new string[outputs];
        for (int i = 0; i < outputs; i++)
        {
            string? fixedName = outputNames is not null && i < outputNames.Length ? outputNames[i] : null;
            result[i] = fixedName is null ? Fresh(op.ToLowerInvariant()) : Reserve(fixedName);
        }
        node.Outputs.AddRange(result);
        node.Attributes.AddRange(attributes);
        Graph.Nodes.Add(node);
        return result;
    }

    /// <summary>A node with one output (named <paramref name="output"/> when given).</summary>
    public string Op(string op, string[] inputs, string? output = null, params OnnxAttribute[] attributes) =>
        Node(op, inputs, 1, output is null ? null : new[] { output }, attributes)[0];

    public string Transpose(string x, params long[] perm) => Op("Transpose", new[] { x }, null, OnnxAttribute.IntList("perm", perm));

    public string Transpose(string x, long a, long b, long c, string output) => Op("Transpose", new[] { x }, output, OnnxAttribute.IntList("perm", a, b, c));

    public string Reshape(string x, params long[] shape) => Op("Reshape", new[] { x, Int64s("shape", shape) });

    public string Squeeze(string x, params long[] axes) => Op("Squeeze", new[] { x, Int64s("axes", axes) });

    public string Unsqueeze(string x, params long[] axes) => Op("Unsqueeze", new[] { x, Int64s("axes", axes) });

    public string Concat(string[] xs, long axis, string? output = null) => Op("Concat", xs, output, OnnxAttribute.Int("axis", axis));

    /// <summary>y = x · Wᵀ + b for x [B, In], W [Out, In] (a Gemm node, as PyTorch exports nn.Linear on matrices).</summary>
    public string Linear(string x, string w, string b, string? output = null) => Op("Gemm", new[] { x, w, b }, output, OnnxAttribute.Int("transB", 1));

    /// <summary>x[start:end] along one axis.</summary>
    public string Slice(string x, long axis, long start, long end) =>
        Op("Slice", new[] { x, Int64s("starts", start), Int64s("ends", end), Int64s("axes", axis) });
}
