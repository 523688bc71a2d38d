using System;
using System.IO;
using System.Runtime.InteropServices;

namespace Rnn.MLNet.Serialization;

/// <summary>
/// The envelope shared by model files and checkpoints, and the atomic way both reach the disk.
/// <code>
/// 8 bytes magic | u32 version | u64 payloadLength | payload | u32 crc32(payload)      (little-endian)
/// </code>
/// </summary>
internal static class ChecksummedFile
{
    /// <summary>Bytes before the payload.</summary>
    public const int HeaderBytes = 8 + 4 + 8;

    /// <summary>Writes magic, version, length, payload and its CRC-32.</summary>
    public static void Write(Stream stream, ReadOnlySpan<byte> magic, uint version, ReadOnlySpan<byte> payload)
    {
        using var bw = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        bw.Write(magic);
        bw.Write(version);
        bw.Write((ulong)payload.Length);
        bw.Write(payload);
        bw.Write(Crc32.Compute(payload));
    }

    /// <summary>Checks the envelope (size, magic, announced length, checksum) and returns the payload and version.</summary>
    /// <exception cref="InvalidDataException">Too short, another signature, truncated or extended, or a checksum mismatch.</exception>
    public static ReadOnlySpan<byte> Open(ReadOnlySpan<byte> data, ReadOnlySpan<byte> magic, string what, Func<uint, bool> supported, string supportedText, out uint version)
    {
        var payload = OpenHeader(data, data.Length, magic, what, supported, supportedText, out version);
        CheckCrc(BitConverter.ToUInt32(data.Slice(HeaderBytes + payload.Length, 4)), Crc32.Compute(payload));
        return payload;
    }

    /// <summary>
    /// The envelope checks that need only the first bytes (<paramref name="start"/>) of a file of <paramref name="length"/>
    /// bytes; returns the part of the payload within <paramref name="start"/>. The checksum is the caller's (<see cref="CheckCrc"/>).
    /// </summary>
    public static ReadOnlySpan<byte> OpenHeader(ReadOnlySpan<byte> start, long length, ReadOnlySpan<byte> magic, string what, Func<uint, bool> supported, string supportedText, out uint version)
    {
        if (length < HeaderBytes + 4 || start.Length < HeaderBytes) throw new InvalidDataException($"The data is {length} bytes, too short for {what} (header alone is {HeaderBytes + 4}).");
        if (!start.Slice(0, 8).SequenceEqual(magic)) throw new InvalidDataException($"The data does not start with the {what} signature '{System.Text.Encoding.ASCII.GetString(magic)}'.");
        version = BitConverter.ToUInt32(start.Slice(8, 4));
        if (!supported(version)) throw new InvalidDataException($"{what} format version {version} is not supported (this library reads {supportedText}).");
        ulong payloadLength = BitConverter.ToUInt64(start.Slice(12, 8));
        if (payloadLength != (ulong)(length - HeaderBytes - 4))
            throw new InvalidDataException($"The header announces {payloadLength} payload bytes but {length - HeaderBytes - 4} are present (truncated or extended file).");
        return start.Slice(HeaderBytes, (int)System.Math.Min((long)payloadLength, start.Length - HeaderBytes));
    }

    /// <summary>Compares the stored checksum with the one computed over the payload.</summary>
    public static void CheckCrc(uint stored, uint actual)
    {
        if (stored != actual) throw new InvalidDataException($"Checksum mismatch (stored {stored:x8}, computed {actual:x8}): the file is corrupt.");
    }

    /// <summary>
    /// Writes a file so that a crash at any moment leaves either the old file or the complete new one: the bytes go to a
    /// temporary file beside the target, are flushed to the disk, and the temporary file is renamed over the target.
    /// </summary>
    public static void SaveAtomically(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string tmp = full + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}

/// <summary>Little-endian reads from a payload, every length checked against the bytes that remain.</summary>
internal ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;
    public SpanReader(ReadOnlySpan<byte> data) { _data = data; _pos = 0; }
    public readonly long Remaining => _data.Length - _pos;

    public ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || n > _data.Length - _pos) throw new InvalidDataException($"Unexpected end of data at byte {_pos} (needed {n} more, {_data.Length - _pos} remain).");
        var s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }

    public byte Byte() => Take(1)[0];
    public int Int32() => BitConverter.ToInt32(Take(4));
    public long Int64() => BitConverter.ToInt64(Take(8));
    public ulong UInt64() => BitConverter.ToUInt64(Take(8));
    public float Single() => BitConverter.ToSingle(Take(4));
    public double Double() => BitConverter.ToDouble(Take(8));

    /// <summary>A count of items each at least <paramref name="minItemBytes"/> long, checked against what remains.</summary>
    public int Count(int minItemBytes)
    {
        int n = Int32();
        if (n < 0 || (long)n * minItemBytes > Remaining) throw new InvalidDataException($"Count {n} at byte {_pos - 4} is impossible with {Remaining} bytes left.");
        return n;
    }

    public string String()
    {
        int n = Int32();
        if (n < 0 || n > ModelFile.MaxStringChars) throw new InvalidDataException($"String length {n} at byte {_pos - 4} is outside [0, {ModelFile.MaxStringChars}].");
        var bytes = Take(2 * n);
        return string.Create(n, bytes.ToArray(), static (chars, b) => { for (int i = 0; i < chars.Length; i++) chars[i] = (char)(b[2 * i] | (b[2 * i + 1] << 8)); });
    }

    public void Floats(Span<float> dst)
    {
        var bytes = Take(checked(dst.Length * 4));
        if (BitConverter.IsLittleEndian) bytes.CopyTo(MemoryMarshal.AsBytes(dst));
        else for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.ToSingle(bytes.Slice(i * 4, 4));
    }
}
