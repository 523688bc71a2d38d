using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Rnn.MLNet.Onnx.Format;

// The subset of onnx.proto (ONNX IR) this library writes and reads, with the schema's field numbers:
// ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto / TypeProto / TensorShapeProto,
// OperatorSetIdProto, StringStringEntryProto. Fields it does not know are skipped when reading.

/// <summary>ONNX tensor element types (TensorProto.DataType).</summary>
internal enum OnnxType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9,
    Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13,
}

/// <summary>A model: IR version, operator sets, the graph and metadata_props.</summary>
internal sealed class OnnxModel
{
    public long IrVersion { get; set; } = 8;
    public List<(string Domain, long Version)> Opsets { get; } = new();
    public string ProducerName { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public string DocString { get; set; } = "";
    public OnnxGraph Graph { get; set; } = new();
    public List<KeyValuePair<string, string>> Metadata { get; } = new();

    public void WriteTo(Stream stream)
    {
        var w = new ProtoWriter();
        w.Varint(1, IrVersion);
        w.String(2, ProducerName);
        w.String(3, ProducerVersion);
        if (DocString.Length > 0) w.String(6, DocString);
        w.Message(7, Graph.Write());
        foreach (var (domain, version) in Opsets)
        {
            var o = new ProtoWriter();
            o.String(1, domain);
            o.Varint(2, version);
            w.Message(8, o);
        }
        foreach (var kv in Metadata)
        {
            var e = new ProtoWriter();
            e.String(1, kv.Key);
            e.String(2, kv.Value);
            w.Message(14, e);
        }
        w.CopyTo(stream);
    }

    /// <summary>Parses a model file; malformed data throws <see cref="InvalidDataException"/>.</summary>
    public static OnnxModel Parse(ReadOnlySpan<byte> bytes)
    {
        var m = new OnnxModel { IrVersion = 0 };
        var r = new ProtoReader(bytes);
        bool sawGraph = false;
        while (!r.End)
        {
            var (f, wt) = r.Tag();
            switch (f)
            {
                case 1 when wt == 0: m.IrVersion = r.Int64(); break;
                case 2 when wt == 2: m.ProducerName = r.String(); break;
                case 3 when wt == 2: m.ProducerVersion = r.String(); break;
                case 6 when wt == 2: m.DocString = r.String(); break;
                case 7 when wt == 2: m.Graph = OnnxGraph.Parse(r.LengthDelimited(), 0); sawGraph = true; break;
                case 8 when wt == 2:
                {
                    var o = new ProtoReader(r.LengthDelimited());
                    string domain = ""; long version = 0;
                    while (!o.End)
                    {
                        var (g, gt) = o.Tag();
                        if (g == 1 && gt == 2) domain = o.String();
                        else if (g == 2 && gt == 0) version = o.Int64();
                        else o.Skip(gt);
                    }
                    m.Opsets.Add((domain, version));
                    break;
                }
                case 14 when wt == 2:
                {
                    var e = new ProtoReader(r.LengthDelimited());
                    string key = "", value = "";
                    while (!e.End)
                    {
                        var (g, gt) = e.Tag();
                        if (g == 1 && gt == 2) key = e.String();
                        else if (g == 2 && gt == 2) value = e.String();
                        else e.Skip(gt);
                    }
                    m.Metadata.Add(new(key, value));
                    break;
                }
                default: r.Skip(wt); break;
            }
        }
        if (!sawGraph) throw new InvalidDataException("The data is not an ONNX model: it has no graph (ModelProto field 7).");
        return m;
    }

    /// <summary>The version of the default ("" or "ai.onnx") operator set, 0 if none is imported.</summary>
    public long DefaultOpset => Opsets.Where(o => o.Domain.Length == 0 || o.Domain == "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
}

/// <summary>A graph: nodes in topological order, initializers (weights), inputs and outputs.</summary>
internal sealed class OnnxGraph
{
    public string Name { get; set; } = "";
    public List<OnnxNode> Nodes { get; } = new();
    public List<OnnxTensor> Initializers { get; } = new();
    public List<OnnxValueInfo> Inputs { get; } = new();
    public List<OnnxValueInfo> Outputs { get; } = new();

    public ProtoWriter Write()
    {
        var w = new ProtoWriter();
        foreach (var n in Nodes) w.Message(1, n.Write());
        w.String(2, Name);
        foreach (var t in Initializers) w.Message(5, t.Write());
        foreach (var i in Inputs) w.Message(11, i.Write());
        foreach (var o in Outputs) w.Message(12, o.Write());
        return w;
    }

    public static OnnxGraph Parse(ReadOnlySpan<byte> bytes, int depth)
    {
        if (depth > 8) throw new InvalidDataException("ONNX subgraphs are nested more than 8 deep.");
        var g = new OnnxGraph();
        var r = new ProtoReader(bytes);
        while (!r.End)
        {
            var (f, wt) = r.Tag();
            switch (f)
            {
                case 1 when wt == 2: g.Nodes.Add(OnnxNode.Parse(r.LengthDelimited(), depth)); break;
                case 2 when wt == 2: g.Name = r.String(); break;
                case 5 when wt == 2: g.Initializers.Add(OnnxTensor.Parse(r.LengthDelimited())); break;
                case 11 when wt == 2: g.Inputs.Add(OnnxValueInfo.Parse(r.LengthDelimited())); break;
                case 12 when wt == 2: g.Outputs.Add(OnnxValueInfo.Parse(r.LengthDelimited())); break;
                default: r.Skip(wt); break;
            }
        }
        return g;
    }
}

/// <summary>One operator application.</summary>
internal sealed class OnnxNode
{
    public string OpType { get; set; } = "";
    public string Name { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<string> Inputs { get; } = new();
    public List<string> Outputs { get; } = new();
    public List<OnnxAttribute> Attributes { get; } = new();

    /// <summary>The node as error messages name it: <c>LSTM node 'name'</c>.</summary>
    public string Describe() => $"{OpType} node '{(Name.Length > 0 ? Name : string.Join(",", Outputs))}'";

    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    /// <summary>Input i, or "" when absent (ONNX marks omitted optional inputs with an empty name).</summary>
    public string Input(int i) => i < Inputs.Count ? Inputs[i] : "";

    public ProtoWriter Write()
    {
        var w = new ProtoWriter();
        foreach (var i in Inputs) w.String(1, i);
        foreach (var o in Outputs) w.String(2, o);
        w.String(3, Name);
        w.String(4, OpType);
        foreach (var a in Attributes) w.Message(5, a.Write());
        if (Domain.Length > 0) w.String(7, Domain);
        return w;
    }

    public static OnnxNode Parse(ReadOnlySpan<byte> bytes, int depth)
    {
        var n = new OnnxNode();
        var r = new ProtoReader(bytes);
        while (!r.End)
        {
            var (f, wt) = r.Tag();
            switch (f)
            {
                case 1 when wt == 2: n.Inputs.Add(r.String()); break;
                case 2 when wt == 2: n.Outputs.Add(r.String()); break;
                case 3 when wt == 2: n.Name = r.String(); break;
                case 4 when wt == 2: n.OpType = r.String(); break;
                case 5 when wt == 2: n.Attributes.Add(OnnxAttribute.Parse(r.LengthDelimited(), depth)); break;
                case 7 when wt == 2: n.Domain = r.String(); break;
                default: r.Skip(wt); break;
            }
        }
        return n;
    }
}

/// <summary>A node attribute (AttributeProto): one float, int, string, tensor, or a list of floats, ints or strings.</summary>
internal sealed class OnnxAttribute
{
    // AttributeProto.AttributeType
    public const int FloatType = 1, IntType = 2, StringType = 3, TensorType = 4, GraphType = 5, FloatsType = 6, IntsType = 7, StringsType = 8;

    public string Name { get; set; } = "";
    public int Type { get; set; }
    public float F { get; set; }
    public long I { get; set; }
    public string S { get; set; } = "";
    public OnnxTensor? T { get; set; }
    public List<float> Floats { get; } = new();
    public List<long> Ints { get; } = new();
    public List<string> Strings { get; } = new();

    public static OnnxAttribute Int(string name, long v) => new() { Name = name, Type = IntType, I = v };
    public static OnnxAttribute Float(string name, float v) => new() { Name = name, Type = FloatType, F = v };
    public static OnnxAttribute Str(string name, string v) => new() { Name = name, Type = StringType, S = v };
    public static OnnxAttribute Tensor(string name, OnnxTensor v) => new() { Name = name, Type = TensorType, T = v };
    public static OnnxAttribute IntList(string name, params long[] v) { var a = new OnnxAttribute { Name = name, Type = IntsType }; a.Ints.AddRange(v); return a; }
    public static OnnxAttribute StringList(string name, params string[] v) { var a = new OnnxAttribute { Name = name, Type = StringsType }; a.Strings.AddRange(v); return a; }

    public ProtoWriter Write()
    {
        var w = new ProtoWriter();
        w.String(1, Name);
        switch (Type)
        {
            case FloatType: w.Float(2, F); break;
            case IntType: w.Varint(3, I); break;
            case StringType: w.String(4, S); break;
            case TensorType: w.Message(5, T!.Write()); break;
            case FloatsType: w.PackedFloats(7, Floats.ToArray()); break;
            case IntsType: w.PackedVarints(8, Ints.ToArray()); break;
            case StringsType: foreach (var s in Strings) w.String(9, s); break;
            default: throw new InvalidOperationException($"Attribute type {Type} is not written by this library.");
        }
        w.Varint(20, Type);
        return w;
    }

    public static OnnxAttribute Parse(ReadOnlySpan<byte> bytes, int depth)
    {
        var a = new OnnxAttribute();
        var r = new ProtoReader(bytes);
        while (!r.End)
        {
            var (f, wt) = r.Tag();
            switch (f)
            {
                case 1 when wt == 2: a.Name = r.String(); break;
                case 2 when wt == 5: a.F = r.Fixed32Float(); break;
                case 3 when wt == 0: a.I = r.Int64(); break;
                case 4 when wt == 2: a.S = r.String(); break;
                case 5 when wt == 2: a.T = OnnxTensor.Parse(r.LengthDelimited()); break;
                case 6 when wt == 2: OnnxGraph.Parse(r.LengthDelimited(), depth + 1); break; // subgraphs: checked, not kept
                case 7: r.Floats(wt, a.Floats); break;
                case 8: r.Int64s(wt, a.Ints); break;
                case 9 when wt == 2: a.Strings.Add(r.String()); break;
                case 20 when wt == 0: a.Type = (int)r.Int64(); break;
                default: r.Skip(wt); break;
            }
        }
        return a;
    }
}

/// <summary>A constant tensor (TensorProto), data kept as little-endian bytes (raw_data).</summary>
internal sealed class OnnxTensor
{
    public string Name { get; set; } = "";
    public OnnxType DataType { get; set; }
    public long[] Dims { get; set; } = Array.Empty<long>();
    public byte[] Raw { get; set; } = Array.Empty<byte>();

    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    public static OnnxTensor FromFloats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var raw = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        return Checked(new OnnxTensor { Name = name, DataType = OnnxType.Float, Dims = dims, Raw = raw });
    }

    public static OnnxTensor FromInt64s(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        return Checked(new OnnxTensor { Name = name, DataType = OnnxType.Int64, Dims = dims, Raw = raw });
    }

    public static OnnxTensor FromInt32s(string name, ReadOnlySpan<int> values, params long[] dims)
    {
        var raw = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(i * 4), values[i]);
        return Checked(new OnnxTensor { Name = name, DataType = OnnxType.Int32, Dims = dims, Raw = raw });
    }

    private static OnnxTensor Checked(OnnxTensor t) =>
        t.ElementCount * ElementSize(t.DataType) == t.Raw.Length ? t : throw new ArgumentException($"Tensor '{t.Name}': {t.Raw.Length} bytes for shape [{string.Join(", ", t.Dims)}].");

    public static int ElementSize(OnnxType t) => t switch
    {
        OnnxType.Float or OnnxType.Int32 or OnnxType.UInt32 => 4,
        OnnxType.Int64 or OnnxType.Double or OnnxType.UInt64 => 8,
        OnnxType.Int16 or OnnxType.UInt16 or OnnxType.Float16 => 2,
        OnnxType.Int8 or OnnxType.UInt8 or OnnxType.Bool => 1,
        _ => 0,
    };

    /// <summary>The values as floats (FLOAT tensors only).</summary>
    public float[] ToFloats()
    {
        if (DataType != OnnxType.Float) throw new InvalidDataException($"Tensor '{Name}' holds {DataType} values; expected FLOAT (float32).");
        var v = new float[Raw.Length / 4];
        for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(Raw.AsSpan(i * 4));
        return v;
    }

    /// <summary>The values as longs (INT64 or INT32 tensors).</summary>
    public long[] ToInt64s()
    {
        return DataType switch
        {
            OnnxType.Int64 => Enumerable.Range(0, Raw.Length / 8).Select(i => BinaryPrimitives.ReadInt64LittleEndian(Raw.AsSpan(i * 8))).ToArray(),
            OnnxType.Int32 => Enumerable.Range(0, Raw.Length / 4).Select(i => (long)BinaryPrimitives.ReadInt32LittleEndian(Raw.AsSpan(i * 4))).ToArray(),
            _ => throw new InvalidDataException($"Tensor '{Name}' holds {DataType} values; expected integers."),
        };
    }

    public ProtoWriter Write()
    {
        var w = new ProtoWriter();
        w.PackedVarints(1, Dims);
        w.Varint(2, (int)DataType);
        w.String(8, Name);
        w.Bytes(9, Raw);
        return w;
    }

    public static OnnxTensor Parse(ReadOnlySpan<byte> bytes)
    {
        var t = new OnnxTensor();
        var r = new ProtoReader(bytes);
        var dims = new List<long>();
        var floats = new List<float>();
        var ints = new List<long>();
        byte[]? raw = null;
        bool external = false;
        while (!r.End)
        {
            var (f, wt) = r.Tag();
            switch (f)
            {
                case 1: r.Int64s(wt, dims); break;
                case 2 when wt == 0: t.DataType = (OnnxType)r.Int64(); break;
                case 4: r.Floats(wt, floats); break;
                case 5: r.Int64s(wt, ints); break; // int32_data
                case 7: r.Int64s(wt, ints); break; // int64_data
                case 8 when wt == 2: t.Name = r.String(); break;
                case 9 when wt == 2: raw = r.LengthDelimited().ToArray(); break;
                case 14 when wt == 0: external = r.Int64() == 1; break;
                default: r.Skip(wt); break;
            }
        }
        if (external) throw new InvalidDataException($"Tensor '{t.Name}' keeps its data in an external file; save the model with its weights inside (torch.onnx.export does for models under 2 GB).");
        if (dims.Any(d => d < 0)) throw new InvalidDataException($"Tensor '{t.Name}' has a negative dimension.");
        t.Dims = dims.ToArray();
        int size = ElementSize(t.DataType);
        long count = t.ElementCount;
        if (raw is not null) t.Raw = raw;
        else if (t.DataType == OnnxType.Float) t.Raw = FromFloats(t.Name, floats.ToArray(), floats.Count).Raw;
        else if (t.DataType == OnnxType.Int64) t.Raw = FromInt64s(t.Name, ints.ToArray(), ints.Count).Raw;
        else if (t.DataType == OnnxType.Int32) t.Raw = FromInt32s(t.Name, ints.Select(v => (int)v).ToArray(), ints.Count).Raw;
        if (size > 0 && t.Raw.Length != count * size)
            throw new InvalidDataException($"Tensor '{t.Name}' has {t.Raw.Length} bytes of data for shape [{string.Join(", ", t.Dims)}] of {t.DataType}.");
        return t;
    }
}

/// <summary>A graph input or output: name, element type and shape (a dimension is a number or a symbolic name).</summary>
internal sealed class OnnxValueInfo
{
    public string Name { get; set; } = "";
    public OnnxType ElementType { get; set; }
    /// <summary>Null when the shape is unknown; each dimension a size or a symbolic name.</summary>
    public List<(long? Value, string? Param)>? Shape { get; set; }

    public static OnnxValueInfo Of(string name, OnnxType type, params object[] dims) => new()
    {
        Name = name, ElementType = type,
        Shape = dims.Select(d => d is string s ? ((long?)null, (string?)s) : ((long?)Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture), (string?)null)).ToList(),
    };

    public ProtoWriter Write()
    {
        var w = new ProtoWriter();
        w.String(1, Name);
        var tensor = new ProtoWriter();
        tensor.Varint(1, (int)ElementType);
        if (Shape is not null)
        {
            var shape = new ProtoWriter();
            foreach (var (value, param) in Shape)
            {
                var d = new ProtoWriter();
                if (value is long v) d.Varint(1, v); else d.String(2, param);
                shape.Message(1, d);
            }
            tensor.Message(2, shape);
        }
        var type = new ProtoWriter();
        type.Message(1, tensor);
        w.Message(2, type);
        return w;
    }

    public static OnnxValueInfo Parse(ReadOnlySpan<byte> bytes)
    {
        var v = new OnnxValueInfo();
        var r = new ProtoReader(bytes);
        while (!r.End)
        {
            var (f, wt) = r.Tag();
            if (f == 1 && wt == 2) v.Name = r.String();
            else if (f == 2 && wt == 2)
            {
                var type = new ProtoReader(r.LengthDelimited());
                while (!type.End)
                {
                    var (g, gt) = type.Tag();
                    if (g != 1 || gt != 2) { type.Skip(gt); continue; }
                    var tensor = new ProtoReader(type.LengthDelimited());
                    while (!tensor.End)
                    {
                        var (h, ht) = tensor.Tag();
                        if (h == 1 && ht == 0) v.ElementType = (OnnxType)tensor.Int64();
                        else if (h == 2 && ht == 2)
                        {
                            v.Shape = new();
                            var shape = new ProtoReader(tensor.LengthDelimited());
                            while (!shape.End)
                            {
                                var (k, kt) = shape.Tag();
                                if (k != 1 || kt != 2) { shape.Skip(kt); continue; }
                                var dim = new ProtoReader(shape.LengthDelimited());
                                long? value = null; string? param = null;
                                while (!dim.End)
                                {
                                    var (m, mt) = dim.Tag();
                                    if (m == 1 && mt == 0) value = dim.Int64();
                                    else if (m == 2 && mt == 2) param = dim.String();
                                    else dim.Skip(mt);
                                }
                                v.Shape.Add((value, param));
                            }
                        }
                        else tensor.Skip(ht);
                    }
                }
            }
            else r.Skip(wt);
        }
        return v;
    }
}
