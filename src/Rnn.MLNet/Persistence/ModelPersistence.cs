using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Persistence;

/// <summary>A model that travels in an ML.NET pipeline as a payload: written to and read from a <see cref="ModelFile"/>.</summary>
internal interface IPipelineModel<TSelf> where TSelf : class, IPipelineModel<TSelf>
{
    /// <summary>The <c>kind</c> property its model file carries.</summary>
    static abstract string Kind { get; }

    /// <summary>What it is, for messages ("text classifier").</summary>
    static abstract string Description { get; }

    /// <summary>Reads the model; <see cref="InvalidDataException"/> names what is wrong.</summary>
    static abstract TSelf FromFile(ModelFile file);
}

/// <summary>
/// The one place where a model becomes a payload inside an ML.NET pipeline and back:
/// <list type="bullet">
/// <item>the payload: a <see cref="ModelFile"/> packed 15 bits per char (<see cref="PayloadText"/>; base64 before), the constant of an Expression column (see <see cref="PipelineChain"/>);</item>
/// <item>decoding, once per payload string instance (every row of a pipeline sees the same instance);</item>
/// <item>adoption: a transformer returned by Fit scores with the network it trained, not with a second decoded copy;</item>
/// <item>finding the models inside any transformer, also one that <c>mlContext.Model.Load</c> returned.</item>
/// </list>
/// </summary>
internal static class ModelPersistence
{
    private static readonly ConditionalWeakTable<string, object> s_decoded = new();
    private static readonly Lock s_decodeLock = new();
    private static long s_calls, s_decodes;

    public static string Encode(ModelFile file) => PayloadText.Encode(file.ToBytes());

    /// <summary>(calls, actual decodes) so far in this process: a payload must be decoded once, not once per row.</summary>
    internal static (long Calls, long Decodes) Counters => (Interlocked.Read(ref s_calls), Interlocked.Read(ref s_decodes));

    /// <summary>The model of a payload, decoded on first sight of this payload string instance.</summary>
    /// <exception cref="InvalidDataException">The payload is not a valid model of this kind; the message says what is wrong.</exception>
    public static TModel Decode<TModel>(ReadOnlyMemory<char> payload) where TModel : class, IPipelineModel<TModel>
    {
        Interlocked.Increment(ref s_calls);
        if (!MemoryMarshal.TryGetString(payload, out string? text, out int start, out int length) || start != 0 || length != text.Length)
            return TModel.FromFile(Read<TModel>(payload));
        if (s_decoded.TryGetValue(text, out object? cached)) return Cast<TModel>(cached);
        lock (s_decodeLock) // concurrent cursors meeting a new payload decode it once
        {
            if (s_decoded.TryGetValue(text, out cached)) return Cast<TModel>(cached);
            var created = TModel.FromFile(Read<TModel>(payload));
            s_decoded.Add(text, created);
            return created;
        }
    }

    private static TModel Cast<TModel>(object cached) where TModel : class, IPipelineModel<TModel> =>
        cached as TModel ?? throw new InvalidDataException($"The Rnn.MLNet payload holds a {cached.GetType().Name}, not a {TModel.Description}.");

    /// <summary>
    /// The model file of a payload. A packed payload is decoded piece by piece (<see cref="ModelFile.ReadPieces"/>): its
    /// weights straight into the array the network will use, with no byte copy of the whole payload in between.
    /// </summary>
    private static ModelFile Read<TModel>(ReadOnlyMemory<char> payload) where TModel : class, IPipelineModel<TModel>
    {
        Interlocked.Increment(ref s_decodes);
        var text = payload.Span;
        if (text.IsEmpty) throw new InvalidDataException("The Rnn.MLNet model payload column is empty: the pipeline does not carry a model.");
        Span<byte> data;
        if (PayloadText.IsPacked(text))
        {
            long length;
            Span<byte> start = stackalloc byte[12];
            try
            {
                length = PayloadText.ByteLength(text);
                if (length >= start.Length) PayloadText.DecodeInto(text, 0, start);
            }
            catch (InvalidDataException e) { throw Corrupt<TModel>(e.Message, e); }
            if (length >= start.Length) CheckFormatVersion<TModel>(start);
            try { return ModelFile.ReadPieces(length, (offset, destination) => PayloadText.DecodeInto(payload.Span, offset, destination)); }
            catch (InvalidDataException e) { throw Corrupt<TModel>(e.Message, e); }
        }
        else
        {
            var bytes = new byte[text.Length / 4 * 3 + 3]; // base64: models saved before the packed form
            if (!Convert.TryFromBase64Chars(text, bytes, out int written))
                throw Corrupt<TModel>("its payload is not valid base64.");
            data = bytes.AsSpan(0, written);
        }
        CheckFormatVersion<TModel>(data);
        try { return ModelFile.Read(data); }
        catch (InvalidDataException e) { throw Corrupt<TModel>(e.Message, e); }
    }

    /// <summary>"The Rnn.MLNet … inside the ML.NET model is corrupt: <paramref name="why"/>" (the inner exception kept).</summary>
    private static InvalidDataException Corrupt<TModel>(string why, Exception? inner = null) where TModel : class, IPipelineModel<TModel> =>
        new($"The Rnn.MLNet {TModel.Description} inside the ML.NET model is corrupt: {why}", inner);

    /// <summary>A payload written by another Rnn.MLNet: says which, and what this version reads.</summary>
    private static void CheckFormatVersion<TModel>(ReadOnlySpan<byte> data) where TModel : class, IPipelineModel<TModel>
    {
        if (data.Length < 12 || !data[..8].SequenceEqual("RNNMLNET"u8)) return; // not a model at all: ModelFile.Read says so
        uint version = BitConverter.ToUInt32(data.Slice(8, 4));
        if (version is >= ModelFile.FormatVersion and <= ModelFile.WideFormatVersion) return;
        string by = version > ModelFile.WideFormatVersion ? "a newer" : "an older";
        throw new InvalidDataException(
            $"The Rnn.MLNet {TModel.Description} inside the ML.NET model was saved by {by} Rnn.MLNet (model format {version}); this version " +
            $"reads formats {ModelFile.FormatVersion} to {ModelFile.WideFormatVersion}." + (version > ModelFile.WideFormatVersion ? " Update the Rnn.MLNet package to load it." : ""));
    }

    /// <summary>
    /// Makes <paramref name="transformer"/>'s payload decode to <paramref name="model"/> itself: called when Fit builds the
    /// twin chain, so scoring after Fit uses the trained network (and its pool) instead of a copy decoded from the payload.
    /// </summary>
    public static void Adopt<TModel>(ITransformer transformer, TModel model) where TModel : class, IPipelineModel<TModel>
    {
        foreach (string payload in PayloadStrings(transformer))
            lock (s_decodeLock) s_decoded.AddOrUpdate(payload, model);
    }

    /// <summary>The first model of type <typeparamref name="TModel"/> inside a transformer (a fitted chain or one loaded from a .zip).</summary>
    /// <exception cref="ArgumentException">There is none; the message names what was looked for.</exception>
    /// <exception cref="InvalidDataException">The payload is corrupt; the message says what is wrong.</exception>
    public static TModel Find<TModel>(ITransformer transformer) where TModel : class, IPipelineModel<TModel>
    {
        ArgumentNullException.ThrowIfNull(transformer);
        foreach (string payload in PayloadStrings(transformer))
        {
            if (s_decoded.TryGetValue(payload, out object? cached))
            {
                if (cached is TModel known) return known;
                continue;
            }
            var file = Read<TModel>(payload.AsMemory());
            if (file.Properties.GetValueOrDefault("kind") != TModel.Kind) continue;
            return Decode<TModel>(payload.AsMemory());
        }
        throw new ArgumentException($"The transformer contains no Rnn.MLNet {TModel.Description}.", nameof(transformer));
    }

    private sealed class TextRow
    {
        [ColumnName(PipelineChain.TextColumn)] public string Text { get; set; } = "";
    }

    private sealed class ScalarRow
    {
        [ColumnName(PipelineChain.ConstantColumn)] public float Value { get; set; }
    }

    /// <summary>
    /// The payload strings inside a transformer: walks the (nested) chains and runs each transformer that turns a private
    /// input column into the payload column on a one-row view (the Expression of the twin chain).
    /// </summary>
    private static IEnumerable<string> PayloadStrings(ITransformer transformer)
    {
        var ml = new MLContext();
        var probes = new[] { ml.Data.LoadFromEnumerable(new[] { new TextRow() }), ml.Data.LoadFromEnumerable(new[] { new ScalarRow() }) };
        var seen = new HashSet<string>(ReferenceEqualityComparer.Instance);
        foreach (var t in Flatten(transformer))
        {
            foreach (var probe in probes)
            {
                DataViewSchema output;
                try { output = t.GetOutputSchema(probe.Schema); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or KeyNotFoundException) { continue; }
                if (output.GetColumnOrNull(PipelineChain.PayloadColumn) is not { Type: TextDataViewType } column) continue;
                using var cursor = t.Transform(probe).GetRowCursor(new[] { column });
                var get = cursor.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> value = default;
                if (!cursor.MoveNext()) continue;
                get(ref value);
                // The Expression returns its constant itself: the instance every row of this pipeline will carry.
                string text = MemoryMarshal.TryGetString(value, out string? s, out int start, out int length) && start == 0 && length == s.Length ? s : value.ToString();
                if (seen.Add(text)) yield return text;
            }
        }
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
    {
        if (t is ChainedTransformer c) { foreach (var x in Flatten(c.Chain)) yield return x; yield break; }
        if (t is IEnumerable<ITransformer> chain) { foreach (var inner in chain) foreach (var x in Flatten(inner)) yield return x; yield break; }
        yield return t;
    }
}
