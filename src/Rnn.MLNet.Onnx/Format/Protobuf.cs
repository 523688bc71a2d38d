using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.Text;

namespace Rnn.MLNet.Onnx.Format;

// The protocol buffers wire format, as much of it as ONNX files use: varints (wire type 0), 64-bit (1), length-delimited
// (2) and 32-bit (5) fields. Enough to write and read onnx.proto's messages without a protobuf library.

/// <summary>Appends protobuf fields to a growing byte buffer.</summary>
internal sealed class ProtoWriter
{
    private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new();

    public void Varint(int field, long value) { Tag(field, 0); RawVarint((ulong)value); }

    public void Float(int field, float value) { Tag(field, 5); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, value); _buffer.Write(b); }

    public void String(int field, string? value)
    {
        if (value is null) return;
        Bytes(field, Encoding.UTF8.GetBytes(value));
    }

    public void Bytes(int field, ReadOnlySpan<byte> value) { Tag(field, 2); RawVarint((ulong)value.Length); _buffer.Write(value); }

    public void Message(int field, ProtoWriter message) => Bytes(field, message._buffer.WrittenSpan);

    /// <summary>A packed repeated varint field.</summary>
    public void PackedVarints(int field, ReadOnlySpan<long> values)
    {
        if (values.IsEmpty) return;
        var inner = new ProtoWriter();
        foreach (long v in values) inner.RawVarint((ulong)v);
        Message(field, inner);
    }

    /// <summary>A packed repeated 32-bit float field.</summary>
    public void PackedFloats(int field, ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        Bytes(field, bytes);
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public void CopyTo(Stream stream) => stream.Write(_buffer.WrittenSpan);

    private void Tag(int field, int wireType) => RawVarint((ulong)((field << 3) | wireType));

    private void RawVarint(ulong v)
    {
        Span<byte> b = stackalloc byte[10];
        int n = 0;
        while (v >= 0x80) { b[n++] = (byte)(v | 0x80); v >>= 7; }
        b[n++] = (byte)v;
        _buffer.Write(b[..n]);
    }
}

/// <summary>Reads protobuf fields from a byte range; any malformed length or varint throws <see cref="InvalidDataException"/>.</summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public ProtoReader(ReadOnlySpan<byte> data) { _data = data; _pos = 0; }

    public readonly bool End => _pos >= _data.Length;

    /// <summary>Next field's number and wire type.</summary>
    public (int Field, int WireType) Tag()
    {
        ulong t = Varint();
        int field = (int)(t >> 3), wire = (int)(t & 7);
        if (field <= 0) throw new InvalidDataException($"Bad protobuf field number {field} at byte {_pos}.");
        return (field, wire);
    }

    public ulong Varint()
    {
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw new InvalidDataException("The protobuf data ends inside a varint.");
            byte b = _data[_pos++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
        throw new InvalidDataException("A protobuf varint is longer than 10 bytes.");
    }

    public long Int64() => (long)Varint();

    public ReadOnlySpan<byte> LengthDelimited()
    {
        ulong n = Varint();
        if (n > (ulong)(_data.Length - _pos)) throw new InvalidDataException($"A protobuf field claims {n} bytes; only {_data.Length - _pos} remain.");
        var s = _data.Slice(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    public string String() => Encoding.UTF8.GetString(LengthDelimited());

    public float Fixed32Float()
    {
        if (_data.Length - _pos < 4) throw new InvalidDataException("The protobuf data ends inside a 32-bit field.");
        float f = BinaryPrimitives.ReadSingleLittleEndian(_data.Slice(_pos, 4));
        _pos += 4;
        return f;
    }

    /// <summary>Skips a field of the given wire type.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0: Varint(); break;
            case 1: Advance(8); break;
            case 2: LengthDelimited(); break;
            case 5: Advance(4); break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {wireType} at byte {_pos}.");
        }
    }

    /// <summary>A repeated varint field, packed (wire type 2) or one value (wire type 0), appended to <paramref name="into"/>.</summary>
    public void Int64s(int wireType, System.Collections.Generic.List<long> into)
    {
        if (wireType == 0) { into.Add(Int64()); return; }
        var inner = new ProtoReader(LengthDelimited());
        while (!inner.End) into.Add(inner.Int64());
    }

    /// <summary>A repeated float field, packed or one value.</summary>
    public void Floats(int wireType, System.Collections.Generic.List<float> into)
    {
        if (wireType == 5) { into.Add(Fixed32Float()); return; }
        var bytes = LengthDelimited();
        if (bytes.Length % 4 != 0) throw new InvalidDataException("A packed float field's length is not a multiple of 4.");
        for (int i = 0; i < bytes.Length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i, 4)));
    }

    private void Advance(int n)
    {
        if (_data.Length - _pos < n) throw new InvalidDataException("The protobuf data ends inside a fixed-width field.");
        _pos += n;
    }
}
