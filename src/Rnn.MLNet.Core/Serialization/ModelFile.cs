using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Serialization;

/// <summary>
/// A saved model: the network (options and float32 weights) plus string properties and string lists (vocabularies, label
/// names, scaling) that the layers above need.
/// </summary>
/// <remarks>
/// Binary format, version 1, all little-endian (kept identical in <see cref="Write"/> and <see cref="Read"/>):
/// <code>
/// "RNNMLNET"                       8 bytes magic
/// u32 version                      = 1
/// u64 payloadLength                bytes that follow, before the checksum
/// payload:
///   i32 ×9  cell, input, vocabulary, embedding, features, hidden, layers, output size, output mode
///   u8      bidirectional
///   f32     dropout
///   i32 n, then n × (string key, string value)        properties
///   i32 n, then n × (string name, i32 m, m × string)  lists
///   i64 count, then count × f32                       weights, in SequenceNetwork.Layout order
/// u32 crc32(payload)
/// string = i32 charCount + UTF-16LE code units (exact for every .NET string, lone surrogates included)
/// </code>
/// Version 2 holds an <see cref="EncoderDecoderNetwork{T}"/>: the same layout with the network fields replaced by
/// <c>i32 ×9 cell, source kind, source vocabulary, features, target vocabulary, embedding, hidden, layers, attention;
/// u8 bidirectional encoder; u8 feed features every step; f32 dropout</c> and the weights in
/// <see cref="EncoderDecoderNetwork{T}.Layout"/> order. Version 3 is version 1 with, after the dropout,
/// <c>i32 ×3 character vocabulary, character embedding, character hidden; f32 input dropout</c>: written only for sequence
/// networks with character features or input dropout, so every other sequence network is still written as version 1.
/// Version 4 is version 2 with <c>f32 embedding dropout</c> after the dropout, written only when it is not 0. Version 5
/// is version 3 followed by <c>i32 wide features</c> (the sparse bag input), written only for networks with one.
/// Every length is checked against the bytes that remain before anything is allocated, so a truncated or corrupt file
/// ends in <see cref="InvalidDataException"/> and never in a huge allocation.
/// </remarks>
public sealed class ModelFile
{
    private static ReadOnlySpan<byte> Magic => "RNNMLNET"u8;

    /// <summary>Format version of sequence-network files.</summary>
    public const uint FormatVersion = 1;

    /// <summary>Format version of encoder–decoder files.</summary>
    public const uint EncoderDecoderFormatVersion = 2;

    /// <summary>Format version of sequence networks with character features or input dropout.</summary>
    public const uint CharacterFeaturesFormatVersion = 3;

    /// <summary>Format version of encoder–decoder networks with embedding dropout.</summary>
    public const uint EncoderDecoderEmbeddingDropoutFormatVersion = 4;

    private bool NeedsVersion4 => _encoderDecoder is { EmbeddingDropout: > 0 };

    private bool NeedsVersion3 => _network is { } n && (n.HasCharacterFeatures || n.InputDropout > 0 || n.WideFeatures > 0);

    /// <summary>Format version of sequence networks with a wide (sparse bag) input: version 3 followed by <c>i32 wide features</c>.</summary>
    public const uint WideFormatVersion = 5;

    private bool NeedsVersion5 => _network is { WideFeatures: > 0 };

    private readonly NetworkOptions? _network;
    private readonly EncoderDecoderOptions? _encoderDecoder;

    /// <summary>True when the file holds an encoder–decoder network (<see cref="EncoderDecoderOptions"/>), false for a sequence network (<see cref="Options"/>).</summary>
    public bool IsEncoderDecoder => _encoderDecoder is not null;

    /// <summary>The encoder–decoder architecture.</summary>
    /// <exception cref="InvalidDataException">The file holds a sequence network.</exception>
    public EncoderDecoderOptions EncoderDecoderOptions =>
        _encoderDecoder ?? throw new InvalidDataException("The model holds a sequence network, not an encoder-decoder network.");

    /// <summary>Largest string stored (UTF-16 code units).</summary>
    public const int MaxStringChars = 1 << 20;

    /// <summary>The sequence network's architecture.</summary>
    /// <exception cref="InvalidDataException">The file holds an encoder–decoder network.</exception>
    public NetworkOptions Options =>
        _network ?? throw new InvalidDataException("The model holds an encoder-decoder network, not a sequence network.");

    /// <summary>Weights in <see cref="SequenceNetwork{T}.Layout"/> (or <see cref="EncoderDecoderNetwork{T}.Layout"/>) order.</summary>
    public float[] Weights { get; }

    // A file read piece by piece (from a payload nobody else sees) hands its weight array to the first network created
    // from it instead of copying it: one copy of the weights in memory, not two.
    private bool _weightsHandedOver;
    private bool _handOverWeights;

    private float[]? TakeWeights()
    {
        if (!_handOverWeights || _weightsHandedOver) return null;
        _weightsHandedOver = true;
        return Weights;
    }

    /// <summary>Named string properties.</summary>
    public Dictionary<string, string> Properties { get; } = new(StringComparer.Ordinal);

    /// <summary>Named string lists.</summary>
    public Dictionary<string, string[]> Lists { get; } = new(StringComparer.Ordinal);

    /// <summary>Creates a model file from options and weights.</summary>
    public ModelFile(NetworkOptions options, float[] weights)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(weights);
        options.Validate();
        if (weights.LongLength != options.ParameterCount())
            throw new ArgumentException($"{weights.Length} weights given; the options describe {options.ParameterCount()}.", nameof(weights));
        _network = options.Clone();
        Weights = weights;
    }

    /// <summary>Creates a model file from encoder–decoder options and weights.</summary>
    public ModelFile(EncoderDecoderOptions options, float[] weights)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(weights);
        options.Validate();
        if (weights.LongLength != options.ParameterCount())
            throw new ArgumentException($"{weights.Length} weights given; the options describe {options.ParameterCount()}.", nameof(weights));
        _encoderDecoder = options.Clone();
        Weights = weights;
    }

    /// <summary>Captures an encoder–decoder network (weights are copied).</summary>
    public static ModelFile From(EncoderDecoderNetwork<float> network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return new ModelFile(network.Options, (float[])network.Parameters.Buffer.Clone());
    }

    /// <summary>Builds the encoder–decoder network holding these weights.</summary>
    /// <exception cref="InvalidDataException">The file holds a sequence network.</exception>
    public EncoderDecoderNetwork<float> CreateEncoderDecoder()
    {
        if (TakeWeights() is float[] own) return EncoderDecoderNetwork<float>.Over(EncoderDecoderOptions, own);
        var net = new EncoderDecoderNetwork<float>(EncoderDecoderOptions);
        Weights.CopyTo(net.Parameters.Buffer, 0);
        net.Parameters.MarkChanged();
        return net;
    }

    /// <summary>A property the reader requires.</summary>
    /// <exception cref="InvalidDataException">The file has no such property.</exception>
    public string RequireProperty(string key) =>
        Properties.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"The model lacks the property '{key}'.");

    /// <summary>A vocabulary stored as a list, rebuilt with its tokenizer.</summary>
    /// <exception cref="InvalidDataException">The list is missing or not a valid vocabulary (duplicates, empty).</exception>
    public Text.Vocabulary RequireVocabulary(string listName, Text.TokenizerKind tokenizer)
    {
        if (!Lists.TryGetValue(listName, out var tokens)) throw new InvalidDataException($"The model lacks the list '{listName}'.");
        try { return new Text.Vocabulary(Text.Tokenizer.Create(tokenizer), tokens); }
        catch (ArgumentException e) { throw new InvalidDataException("The stored vocabulary is invalid: " + e.Message, e); }
    }

    /// <summary>Captures a network (weights are copied).</summary>
    public static ModelFile From(SequenceNetwork<float> network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return new ModelFile(network.Options, (float[])network.Parameters.Buffer.Clone());
    }

    /// <summary>Builds a network holding these weights.</summary>
    public SequenceNetwork<float> CreateNetwork()
    {
        if (TakeWeights() is float[] own) return SequenceNetwork<float>.Over(Options, own);
        var net = new SequenceNetwork<float>(Options);
        Weights.CopyTo(net.Parameters.Buffer, 0);
        net.Parameters.MarkChanged();
        return net;
    }

    /// <summary>Writes the model to a stream.</summary>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var payload = new MemoryStream(PayloadCapacity); // sized once: no doubling copies of a large model's bytes
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            if (_encoderDecoder is { } e)
            {
                // Sizes the source kind does not use are written as 0 (and must read back as 0).
                int srcVocab = e.Source == SourceKind.Tokens ? e.SourceVocabularySize : 0, features = e.Source == SourceKind.Features ? e.FeatureSize : 0;
                foreach (int v in new[] { (int)e.Cell, (int)e.Source, srcVocab, features, e.TargetVocabularySize, e.EmbeddingSize, e.HiddenSize, e.Layers, (int)e.Attention })
                    w.Write(v);
                w.Write(e.BidirectionalEncoder ? (byte)1 : (byte)0);
                w.Write(e.FeedFeaturesEveryStep ? (byte)1 : (byte)0);
                w.Write(e.Dropout);
                if (NeedsVersion4) w.Write(e.EmbeddingDropout);
            }
            else
            {
                var o = Options;
                // Sizes the input kind does not use are written as 0 (and must read back as 0).
                int vocab = o.Input == InputKind.Dense ? 0 : o.VocabularySize, embed = o.Input == InputKind.Embedding ? o.EmbeddingSize : 0, features = o.Input == InputKind.Dense ? o.FeatureSize : 0;
                foreach (int v in new[] { (int)o.Cell, (int)o.Input, vocab, embed, features, o.HiddenSize, o.Layers, o.OutputSize, (int)o.Output })
                    w.Write(v);
                w.Write(o.Bidirectional ? (byte)1 : (byte)0);
                w.Write(o.Dropout);
                if (NeedsVersion3)
                {
                    bool chars = o.HasCharacterFeatures;
                    w.Write(o.CharacterVocabularySize);
                    w.Write(chars ? o.CharacterEmbeddingSize : 0);
                    w.Write(chars ? o.CharacterHiddenSize : 0);
                    w.Write(o.InputDropout);
                    if (NeedsVersion5) w.Write(o.WideFeatures);
                }
            }
            w.Write(Properties.Count);
            foreach (var kv in Properties) { WriteString(w, kv.Key); WriteString(w, kv.Value); }
            w.Write(Lists.Count);
            foreach (var kv in Lists)
            {
                WriteString(w, kv.Key);
                w.Write(kv.Value.Length);
                foreach (var s in kv.Value) WriteString(w, s);
            }
            w.Write((long)Weights.Length);
            if (BitConverter.IsLittleEndian) w.Write(MemoryMarshal.AsBytes(Weights.AsSpan()));
            else foreach (float f in Weights) w.Write(f);
        }
        uint version = IsEncoderDecoder ? (NeedsVersion4 ? EncoderDecoderEmbeddingDropoutFormatVersion : EncoderDecoderFormatVersion)
            : NeedsVersion5 ? WideFormatVersion : NeedsVersion3 ? CharacterFeaturesFormatVersion : FormatVersion;
        ChecksummedFile.Write(stream, Magic, version, payload.GetBuffer().AsSpan(0, (int)payload.Length));
    }

    /// <summary>The model as bytes.</summary>
    public byte[] ToBytes()
    {
        using var ms = new MemoryStream(ChecksummedFile.HeaderBytes + PayloadCapacity + 4);
        Write(ms);
        return ms.ToArray();
    }

    /// <summary>The payload's size, at most 256 bytes over: the weights, each string's length and UTF-16 units, the options.</summary>
    private int PayloadCapacity
    {
        get
        {
            long n = 256 + 4L * Weights.Length;
            foreach (var kv in Properties) n += 8 + 2L * (kv.Key.Length + kv.Value.Length);
            foreach (var kv in Lists)
            {
                n += 8 + 2L * kv.Key.Length;
                foreach (var s in kv.Value) n += 4 + 2L * s.Length;
            }
            return (int)System.Math.Min(n, Array.MaxLength);
        }
    }

    /// <summary>Saves to a file atomically: written to a temporary file beside it, then moved over the target.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ChecksummedFile.SaveAtomically(path, Write);
    }

    /// <summary>Loads a model file.</summary>
    /// <exception cref="InvalidDataException">The file is not a model, is truncated or corrupt, or has an unsupported version; the message names the file.</exception>
    public static ModelFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = File.ReadAllBytes(path);
        try { return Read(bytes); }
        catch (InvalidDataException e) { throw new InvalidDataException($"'{path}' is not a valid Rnn.MLNet model: {e.Message}", e); }
    }

    /// <summary>Reads a model from bytes.</summary>
    /// <exception cref="InvalidDataException">Not a model, truncated, corrupt, or an unsupported version.</exception>
    public static ModelFile Read(ReadOnlySpan<byte> data)
    {
        var payload = ChecksummedFile.Open(data, Magic, "model", IsSupported, SupportedVersions, out uint version);
        var r = new SpanReader(payload);
        var (o, e) = ReadOptions(ref r, version);
        return ReadRest(ref r, o, e, weights: null);
    }

    private static bool IsSupported(uint version) => version is >= FormatVersion and <= WideFormatVersion;

    private static string SupportedVersions => $"versions {FormatVersion} to {WideFormatVersion}";

    /// <summary>Fills <paramref name="destination"/> with the bytes of a model file that start at <paramref name="offset"/>.</summary>
    internal delegate void ByteSource(long offset, Span<byte> destination);

    /// <summary>
    /// Reads a model of <paramref name="length"/> bytes that <paramref name="read"/> produces piece by piece (a model decoded
    /// from text): the weights go straight into their final array (the network created from the file takes it over), the
    /// rest into a buffer of its own, so memory holds one copy of the weights instead of the bytes and the weights. The
    /// checks are <see cref="Read(ReadOnlySpan{byte})"/>'s; a file whose first bytes do not make sense is read whole and
    /// checked as one span, so a corrupt file gets the same message either way.
    /// </summary>
    internal static ModelFile ReadPieces(long length, ByteSource read)
    {
        ArgumentNullException.ThrowIfNull(read);
        byte[] ReadWhole()
        {
            var all = new byte[length];
            read(0, all);
            return all;
        }
        const int probeBytes = 4096; // the envelope and the options, far less than this
        if (length <= 2 * probeBytes || !BitConverter.IsLittleEndian) return Read(ReadWhole());
        var probe = new byte[probeBytes];
        read(0, probe);
        long weightsAt;
        try
        {
            var payload = ChecksummedFile.OpenHeader(probe, length, Magic, "model", IsSupported, SupportedVersions, out uint version);
            var r = new SpanReader(payload);
            var (o, e) = ReadOptions(ref r, version);
            weightsAt = length - 4 - 4 * (o?.ParameterCount() ?? e!.ParameterCount());
            if (weightsAt < ChecksummedFile.HeaderBytes + probeBytes / 2) return Read(ReadWhole());
        }
        catch (Exception e) when (e is InvalidDataException or OverflowException) { return Read(ReadWhole()); } // the checksum then names the damage

        var head = new byte[weightsAt + 4]; // everything but the weights, then the stored CRC
        read(0, head.AsSpan(0, (int)weightsAt));
        read(length - 4, head.AsSpan((int)weightsAt, 4));
        var weights = new float[(length - 4 - weightsAt) / 4];
        read(weightsAt, MemoryMarshal.AsBytes(weights.AsSpan()));
        var before = head.AsSpan(ChecksummedFile.HeaderBytes, (int)weightsAt - ChecksummedFile.HeaderBytes);
        ChecksummedFile.CheckCrc(BitConverter.ToUInt32(head, (int)weightsAt), Crc32.Append(Crc32.Compute(before), MemoryMarshal.AsBytes(weights.AsSpan())));
        var reader = new SpanReader(before);
        var (options, edOptions) = ReadOptions(ref reader, BitConverter.ToUInt32(head, 8));
        var file = ReadRest(ref reader, options, edOptions, weights);
        file._handOverWeights = true;
        return file;
    }

    private static (NetworkOptions?, EncoderDecoderOptions?) ReadOptions(ref SpanReader r, uint version) =>
        version == EncoderDecoderFormatVersion || version == EncoderDecoderEmbeddingDropoutFormatVersion
            ? (null, ReadEncoderDecoderOptions(ref r, version == EncoderDecoderEmbeddingDropoutFormatVersion))
            : (ReadNetworkOptions(ref r, version), null);

    /// <summary>Properties, lists and weights after the options; <paramref name="weights"/>, when given, were read apart and the payload ends at their count.</summary>
    private static ModelFile ReadRest(ref SpanReader r, NetworkOptions? o, EncoderDecoderOptions? e, float[]? weights)
    {
        long expected = o?.ParameterCount() ?? e!.ParameterCount();
        int nProps = r.Count(8);
        var props = new List<(string, string)>(nProps);
        for (int i = 0; i < nProps; i++) props.Add((r.String(), r.String()));
        int nLists = r.Count(8);
        var lists = new List<(string, string[])>(nLists);
        for (int i = 0; i < nLists; i++)
        {
            string name = r.String();
            int m = r.Count(4);
            var items = new string[m];
            for (int j = 0; j < m; j++) items[j] = r.String();
            lists.Add((name, items));
        }
        long count = r.Int64();
        if (count != expected) throw new InvalidDataException($"The file holds {count} weights; its options describe {expected}.");
        long remaining = r.Remaining + (weights?.LongLength ?? 0) * 4;
        if (count * 4 != remaining) throw new InvalidDataException($"{count} weights need {count * 4} bytes; {remaining} remain.");
        if (weights is null)
        {
            weights = new float[count];
            r.Floats(weights);
        }
        var file = o is not null ? new ModelFile(o, weights) : new ModelFile(e!, weights);
        foreach (var (k, v) in props)
            if (!file.Properties.TryAdd(k, v)) throw new InvalidDataException($"Property '{k}' appears twice.");
        foreach (var (k, v) in lists)
            if (!file.Lists.TryAdd(k, v)) throw new InvalidDataException($"List '{k}' appears twice.");
        return file;
    }

    private static NetworkOptions ReadNetworkOptions(ref SpanReader r, uint version)
    {
        var o = new NetworkOptions
        {
            Cell = (CellType)r.Int32(), Input = (InputKind)r.Int32(), VocabularySize = r.Int32(), EmbeddingSize = r.Int32(),
            FeatureSize = r.Int32(), HiddenSize = r.Int32(), Layers = r.Int32(), OutputSize = r.Int32(), Output = (OutputMode)r.Int32(),
        };
        o.Bidirectional = Flag(ref r, "Bidirectional");
        o.Dropout = r.Single();
        if (version is CharacterFeaturesFormatVersion or WideFormatVersion)
        {
            o.CharacterVocabularySize = r.Int32();
            int ce = r.Int32(), ch = r.Int32();
            o.InputDropout = r.Single();
            if (o.HasCharacterFeatures) { o.CharacterEmbeddingSize = ce; o.CharacterHiddenSize = ch; }
            else if (ce != 0 || ch != 0) throw new InvalidDataException($"Character sizes must be 0 without character features (embedding {ce}, hidden {ch}).");
            if (version == WideFormatVersion)
            {
                o.WideFeatures = r.Int32();
                if (o.WideFeatures < 1) throw new InvalidDataException($"A version 5 file must have a wide input; it announces {o.WideFeatures} features.");
            }
            else if (!o.HasCharacterFeatures && !(o.InputDropout > 0)) throw new InvalidDataException("A version 3 file must have character features or input dropout.");
        }
        if (!Enum.IsDefined(o.Input) || !Enum.IsDefined(o.Output)) throw new InvalidDataException($"Unknown input kind {(int)o.Input} or output mode {(int)o.Output}.");
        if ((o.Input == InputKind.Dense && o.VocabularySize != 0) || (o.Input != InputKind.Embedding && o.EmbeddingSize != 0) || (o.Input != InputKind.Dense && o.FeatureSize != 0))
            throw new InvalidDataException($"Sizes unused by {o.Input} input must be 0 (vocabulary {o.VocabularySize}, embedding {o.EmbeddingSize}, features {o.FeatureSize}).");
        try { o.Validate(); }
        catch (ArgumentException ex) { throw new InvalidDataException("The stored network options are invalid: " + ex.Message, ex); }
        return o;
    }

    private static EncoderDecoderOptions ReadEncoderDecoderOptions(ref SpanReader r, bool version4)
    {
        var e = new EncoderDecoderOptions
        {
            Cell = (CellType)r.Int32(), Source = (SourceKind)r.Int32(), SourceVocabularySize = r.Int32(), FeatureSize = r.Int32(),
            TargetVocabularySize = r.Int32(), EmbeddingSize = r.Int32(), HiddenSize = r.Int32(), Layers = r.Int32(), Attention = (AttentionKind)r.Int32(),
        };
        e.BidirectionalEncoder = Flag(ref r, "Bidirectional encoder");
        e.FeedFeaturesEveryStep = Flag(ref r, "Feed features every step");
        e.Dropout = r.Single();
        if (version4)
        {
            e.EmbeddingDropout = r.Single();
            if (!(e.EmbeddingDropout > 0)) throw new InvalidDataException($"A version 4 file must have a positive embedding dropout; got {e.EmbeddingDropout}.");
        }
        if (!Enum.IsDefined(e.Source)) throw new InvalidDataException($"Unknown source kind {(int)e.Source}.");
        if ((e.Source == SourceKind.Tokens && e.FeatureSize != 0) || (e.Source == SourceKind.Features && e.SourceVocabularySize != 0))
            throw new InvalidDataException($"Sizes unused by a {e.Source} source must be 0 (source vocabulary {e.SourceVocabularySize}, features {e.FeatureSize}).");
        try { e.Validate(); }
        catch (ArgumentException ex) { throw new InvalidDataException("The stored encoder-decoder options are invalid: " + ex.Message, ex); }
        return e;
    }

    private static bool Flag(ref SpanReader r, string what)
    {
        byte b = r.Byte();
        if (b > 1) throw new InvalidDataException($"{what} flag is {b}; expected 0 or 1.");
        return b == 1;
    }

    // UTF-16 code units as they are: UTF-8 would turn a lone surrogate (a legal token of the character tokenizer) into U+FFFD.
    private static void WriteString(BinaryWriter w, string s)
    {
        if (s.Length > MaxStringChars) throw new ArgumentException($"A stored string is {s.Length} characters; the limit is {MaxStringChars}.");
        w.Write(s.Length);
        foreach (char c in s) w.Write((ushort)c);
    }
}

/// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of zip and PNG.</summary>
public static class Crc32
{
    // s_tables[k][b]: the CRC of byte b followed by k zero bytes (slicing-by-8: eight bytes per step, one lookup each)
    private static readonly uint[][] s_tables = BuildTables();

    private static uint[][] BuildTables()
    {
        var t = new uint[8][];
        for (int k = 0; k < 8; k++) t[k] = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int bit = 0; bit < 8; bit++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[0][i] = c;
        }
        for (int k = 1; k < 8; k++)
            for (int i = 0; i < 256; i++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
        return t;
    }

    /// <summary>The CRC-32 of the bytes.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>The CRC-32 of the bytes whose CRC-32 is <paramref name="crc"/> followed by <paramref name="data"/> (Compute(a ‖ b) = Append(Compute(a), b)).</summary>
    internal static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] t0 = s_tables[0], t1 = s_tables[1], t2 = s_tables[2], t3 = s_tables[3], t4 = s_tables[4], t5 = s_tables[5], t6 = s_tables[6], t7 = s_tables[7];
        crc = ~crc;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            uint one = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i)) ^ crc, two = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i + 4));
            crc = t7[one & 0xFF] ^ t6[(one >> 8) & 0xFF] ^ t5[(one >> 16) & 0xFF] ^ t4[one >> 24]
                ^ t3[two & 0xFF] ^ t2[(two >> 8) & 0xFF] ^ t1[(two >> 16) & 0xFF] ^ t0[two >> 24];
        }
        for (; i < data.Length; i++) crc = t0[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    /// <summary>The byte-at-a-time definition <see cref="Append"/> must equal (tests).</summary>
    internal static uint AppendNaive(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        foreach (byte b in data) crc = s_tables[0][(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
}
