using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Infrastructure;

/// <summary>
/// Finds the Rnn.MLNet models inside any ITransformer, also one that <c>mlContext.Model.Load</c> returned: it walks the
/// (nested) transformer chains, runs each transformer that turns the private text column into the payload column on a
/// one-row view, and decodes the payload.
/// </summary>
internal static class ModelFinder
{
    private sealed class TextRow
    {
        [ColumnName(Payload.TextColumn)] public string Text { get; set; } = "";
    }

    private sealed class ScalarRow
    {
        [ColumnName(Payload.ConstantColumn)] public float Value { get; set; }
    }

    private sealed class PayloadRow
    {
        [ColumnName(Payload.PayloadColumn)] public string Model { get; set; } = "";
    }

    /// <summary>The first Rnn.MLNet model of the given kind inside a transformer (a fitted chain or one loaded from a .zip).</summary>
    /// <exception cref="ArgumentException">There is none; the message names <paramref name="what"/>.</exception>
    public static ModelFile FindKind(ITransformer transformer, string kind, string what) =>
        FindAll(transformer).FirstOrDefault(f => f.Properties.GetValueOrDefault("kind") == kind)
            ?? throw new ArgumentException($"The transformer contains no Rnn.MLNet {what}.", nameof(transformer));

    public static List<ModelFile> FindAll(ITransformer transformer)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        var ml = new MLContext();
        var probes = new[]
        {
            ml.Data.LoadFromEnumerable(new[] { new TextRow() }),
            ml.Data.LoadFromEnumerable(new[] { new ScalarRow() }),
        };
        var found = new List<ModelFile>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in Flatten(transformer))
        {
            if (t is ChainedTransformer) continue; // its chain is visited instead
            foreach (var probe in probes)
            {
                DataViewSchema output;
                try { output = t.GetOutputSchema(probe.Schema); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or KeyNotFoundException) { continue; }
                if (output.GetColumnOrNull(Payload.PayloadColumn) is not { Type: TextDataViewType }) continue;
                string text = ml.Data.CreateEnumerable<PayloadRow>(t.Transform(probe), reuseRowObject: false).First().Model;
                if (seen.Add(text)) found.Add(ModelFile.Read(Convert.FromBase64String(text)));
            }
        }
        return found;
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
    {
        if (t is ChainedTransformer c) { foreach (var x in Flatten(c.Chain)) yield return x; yield break; }
        if (t is IEnumerable<ITransformer> chain) { foreach (var inner in chain) foreach (var x in Flatten(inner)) yield return x; yield break; }
        yield return t;
    }
}
