using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Rnn.MLNet.Training;

/// <summary>
/// Training examples read afresh for each epoch, in a fixed order (a file, a database cursor, rows generated on demand),
/// so a data set larger than memory can be trained on (<see cref="SequenceFitter.Fit(Models.SequenceNetwork{float}, LossKind, ISequenceSource, IReadOnlyList{LabeledSequence}, FitOptions, float[], float)"/>).
/// </summary>
public interface ISequenceSource
{
    /// <summary>Number of examples when known without reading them, else null (progress reports only).</summary>
    long? Count { get; }

    /// <summary>The examples from row <paramref name="first"/> on (earlier rows skipped: a resumed run starts mid-epoch), always in the same order.</summary>
    IEnumerable<LabeledSequence> Read(long first);
}

/// <summary>A token stream read piece by piece (<see cref="SequenceFitter.FitStream(Models.SequenceNetwork{float}, ITokenSource, int[], FitOptions)"/>).</summary>
public interface ITokenSource
{
    /// <summary>Number of tokens.</summary>
    long Length { get; }

    /// <summary>Copies tokens [position, position + destination.Length) into <paramref name="destination"/>.</summary>
    void Read(long position, Span<int> destination);
}

/// <summary>Examples already in memory.</summary>
public sealed class ListSequenceSource : ISequenceSource
{
    private readonly IReadOnlyList<LabeledSequence> _items;

    /// <summary>Wraps a list.</summary>
    public ListSequenceSource(IReadOnlyList<LabeledSequence> items) => _items = items ?? throw new ArgumentNullException(nameof(items));

    /// <inheritdoc />
    public long? Count => _items.Count;

    /// <inheritdoc />
    public IEnumerable<LabeledSequence> Read(long first)
    {
        for (long i = first; i < _items.Count; i++) yield return _items[(int)i];
    }
}

/// <summary>A token stream held in an array.</summary>
public sealed class ArrayTokenSource : ITokenSource
{
    private readonly int[] _tokens;

    /// <summary>Wraps an array.</summary>
    public ArrayTokenSource(int[] tokens) => _tokens = tokens ?? throw new ArgumentNullException(nameof(tokens));

    /// <inheritdoc />
    public long Length => _tokens.Length;

    /// <inheritdoc />
    public void Read(long position, Span<int> destination) => _tokens.AsSpan(checked((int)position), destination.Length).CopyTo(destination);
}

/// <summary>
/// A token stream in a file of little-endian 32-bit ids (<see cref="Write"/>), read where needed: memory holds only what
/// is being trained on.
/// </summary>
public sealed class FileTokenSource : ITokenSource, IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly string _path;

    /// <summary>Opens a token file for reading.</summary>
    /// <exception cref="InvalidDataException">The file's length is not a multiple of 4 bytes.</exception>
    public FileTokenSource(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        long bytes = RandomAccess.GetLength(_file);
        if (bytes % 4 != 0) { _file.Dispose(); throw new InvalidDataException($"The token file '{path}' is {bytes} bytes, not a whole number of 4-byte ids."); }
        Length = bytes / 4;
    }

    /// <inheritdoc />
    public long Length { get; }

    /// <inheritdoc />
    public void Read(long position, Span<int> destination)
    {
        if (position < 0 || position + destination.Length > Length) throw new ArgumentOutOfRangeException(nameof(position), position, $"Tokens [{position}, {position + destination.Length}) are outside the stream of {Length} in '{_path}'.");
        var bytes = MemoryMarshal.AsBytes(destination);
        long offset = position * 4;
        while (bytes.Length > 0)
        {
            int n = RandomAccess.Read(_file, bytes, offset);
            if (n <= 0) throw new EndOfStreamException($"'{_path}' ended at byte {offset}.");
            bytes = bytes.Slice(n); offset += n;
        }
        if (!BitConverter.IsLittleEndian) for (int i = 0; i < destination.Length; i++) destination[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(destination[i]);
    }

    /// <summary>Appends ids to a token file being written (little-endian int32).</summary>
    public static void Write(Stream file, ReadOnlySpan<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (BitConverter.IsLittleEndian) file.Write(MemoryMarshal.AsBytes(tokens));
        else
        {
            Span<byte> b = stackalloc byte[4];
            foreach (int t in tokens) { System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(b, t); file.Write(b); }
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();
}
