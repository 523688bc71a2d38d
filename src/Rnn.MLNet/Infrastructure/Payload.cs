using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Infrastructure;

/// <summary>
/// The model as it travels inside an ML.NET pipeline: a <see cref="ModelFile"/> in base64 (1.33 bytes per byte before
/// the .zip's deflate), held as the constant of an Expression column. Decoding happens once per payload string instance.
/// </summary>
internal static class Payload
{
    /// <summary>Column names of the private columns (removed again at the end of each chain).</summary>
    public const string TextColumn = "RnnMLNet.Text";
    public const string PayloadColumn = "RnnMLNet.Payload";
    public const string FeaturesColumn = "RnnMLNet.Features";
    public const string ConstantColumn = "RnnMLNet.Constant";
    public const string TokensColumn = "RnnMLNet.Tokens";

    private static readonly ConditionalWeakTable<string, object> s_decoded = new();
    private static readonly object s_decodeLock = new();

    public static string Encode(ModelFile file) => Convert.ToBase64String(file.ToBytes());

    /// <summary>An ensemble's payload: each member's model file in base64, joined by '|' (not a base64 character).</summary>
    public static string Encode(IEnumerable<ModelFile> files) => string.Join('|', files.Select(Encode));

    /// <summary>The Expression that yields the payload (the lambda's parameter is any input column; it is ignored).</summary>
    public static string Expression(string base64) => "x => \"" + base64 + "\"";

    /// <summary>Decodes a payload (cached per string instance) with <paramref name="create"/>.</summary>
    /// <exception cref="InvalidDataException">The payload is not a valid Rnn.MLNet model.</exception>
    public static T Decode<T>(ReadOnlyMemory<char> payload, Func<ModelFile, T> create) where T : class =>
        Decode(payload, files => files.Count == 1 ? create(files[0])
            : throw new InvalidDataException($"The Rnn.MLNet model payload holds {files.Count} models; this component reads one."));

    /// <summary>Decodes a payload of one or more model files (cached per string instance) with <paramref name="create"/>.</summary>
    /// <exception cref="InvalidDataException">The payload is not a valid Rnn.MLNet model.</exception>
    public static T Decode<T>(ReadOnlyMemory<char> payload, Func<IReadOnlyList<ModelFile>, T> create) where T : class
    {
        System.Threading.Interlocked.Increment(ref s_calls);
        if (MemoryMarshal.TryGetString(payload, out string? text, out int start, out int length) && start == 0 && length == text.Length)
        {
            if (s_decoded.TryGetValue(text, out object? cached)) return (T)cached;
            lock (s_decodeLock) // concurrent cursors meeting a new payload decode it once
            {
                if (s_decoded.TryGetValue(text, out cached)) return (T)cached;
                var created = create(ReadAll(payload.Span));
                s_decoded.Add(text, created);
                return created;
            }
        }
        return create(ReadAll(payload.Span));
    }

    private static List<ModelFile> ReadAll(ReadOnlySpan<char> payload)
    {
        System.Threading.Interlocked.Increment(ref s_decodes);
        var files = new List<ModelFile>();
        while (true)
        {
            int bar = payload.IndexOf('|');
            files.Add(Read(bar < 0 ? payload : payload[..bar]));
            if (bar < 0) return files;
            payload = payload[(bar + 1)..];
        }
    }

    private static long s_calls, s_decodes;

    /// <summary>(calls, actual decodes) so far in this process: a payload must be decoded once, not once per row.</summary>
    internal static (long Calls, long Decodes) Counters => (System.Threading.Interlocked.Read(ref s_calls), System.Threading.Interlocked.Read(ref s_decodes));

    private static ModelFile Read(ReadOnlySpan<char> base64)
    {
        if (base64.IsEmpty) throw new InvalidDataException("The Rnn.MLNet model payload column is empty: the pipeline does not carry a model.");
        var bytes = new byte[base64.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64Chars(base64, bytes, out int written))
            throw new InvalidDataException("The Rnn.MLNet model payload inside the ML.NET model is not valid base64: the model file is corrupt.");
        try { return ModelFile.Read(bytes.AsSpan(0, written)); }
        catch (InvalidDataException e) { throw new InvalidDataException("The Rnn.MLNet model inside the ML.NET model is corrupt: " + e.Message, e); }
    }
}

/// <summary>CustomMapping output of a constant scalar, the input the payload Expression reads when the data offers no scalar column.</summary>
public sealed class ConstantColumn
{
    /// <summary>Always 0.</summary>
    [Microsoft.ML.Data.ColumnName(Payload.ConstantColumn)] public float Value { get; set; }
}

/// <summary>An input type with no columns.</summary>
public sealed class NoColumns
{
}

/// <summary>Adds a constant scalar column (contract <c>Rnn.MLNet.Constant.v1</c>).</summary>
[Microsoft.ML.Transforms.CustomMappingFactoryAttribute(Contract)]
public sealed class ConstantColumnFactory : Microsoft.ML.Transforms.CustomMappingFactory<NoColumns, ConstantColumn>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.Constant.v1";

    /// <inheritdoc />
    public override Action<NoColumns, ConstantColumn> GetMapping() => Map;

    internal static void Map(NoColumns input, ConstantColumn output) => output.Value = 0;
}

/// <summary>Inference copies of one network, one per concurrent caller (a network owns its activation buffers).</summary>
internal class NetworkPool<TNetwork> where TNetwork : class
{
    private readonly Func<TNetwork, TNetwork> _clone;
    private readonly ConcurrentBag<TNetwork> _free = new();

    public NetworkPool(TNetwork prototype, Func<TNetwork, TNetwork> clone)
    {
        Prototype = prototype;
        _clone = clone;
    }

    public TNetwork Prototype { get; }

    public TNetwork Rent() => _free.TryTake(out var n) ? n : _clone(Prototype);

    public void Return(TNetwork network) => _free.Add(network);
}

/// <summary>The pool of a <see cref="SequenceNetwork{T}"/>.</summary>
internal sealed class NetworkPool(SequenceNetwork<float> prototype) : NetworkPool<SequenceNetwork<float>>(prototype, n => n.CloneForInference());
