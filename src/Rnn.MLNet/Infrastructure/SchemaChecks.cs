using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Infrastructure;

/// <summary>Input checks with messages that name the column, what it is, and what was expected.</summary>
internal static class SchemaChecks
{
    public static DataViewSchema.Column Require(DataViewSchema schema, string name, string role, string expected, Func<DataViewType, bool> ok)
    {
        var col = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"The {role} column '{name}' was not found in the input (columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))}). Expected a column of type {expected}.");
        if (!ok(col.Type)) throw new ArgumentOutOfRangeException(nameof(schema), $"The {role} column '{name}' has type {col.Type}; expected {expected}.");
        return col;
    }

    public static SchemaShape.Column Require(SchemaShape shape, string name, string role, string expected, Func<SchemaShape.Column, bool> ok)
    {
        int at = -1;
        for (int i = 0; i < shape.Count; i++) if (shape[i].Name == name) at = i;
        if (at < 0)
            throw new ArgumentOutOfRangeException(nameof(shape), $"The {role} column '{name}' was not found in the input (columns: {string.Join(", ", shape.Select(c => c.Name))}). Expected a column of type {expected}.");
        var col = shape[at];
        if (!ok(col)) throw new ArgumentOutOfRangeException(nameof(shape), $"The {role} column '{name}' has type {col.ItemType}{(col.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : " vector")}; expected {expected}.");
        return col;
    }

    public static bool IsText(DataViewType t) => t is TextDataViewType;

    public static bool IsTextShape(SchemaShape.Column c) => c.Kind == SchemaShape.Column.VectorKind.Scalar && c.ItemType is TextDataViewType;

    /// <summary>Key values (class names, tokens) of a key column or key vector, in key order; "1".."K" when it has none.</summary>
    public static string[] KeyNames(DataViewSchema.Column column)
    {
        ulong count = (column.Type as KeyDataViewType ?? (column.Type as VectorDataViewType)?.ItemType as KeyDataViewType)?.Count ?? 0;
        var names = new string[count];
        if (column.Annotations.Schema.GetColumnOrNull("KeyValues") is { } kv && kv.Type is VectorDataViewType vt && (ulong)vt.Size == count)
        {
            var rawType = vt.ItemType.RawType;
            if (rawType == typeof(ReadOnlyMemory<char>))
            {
                VBuffer<ReadOnlyMemory<char>> values = default;
                column.GetKeyValues(ref values);
                var dense = values.DenseValues().ToArray();
                for (int i = 0; i < names.Length; i++) names[i] = dense[i].ToString();
            }
            else
            {
                var method = typeof(SchemaChecks).GetMethod(nameof(KeyNamesOf), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.MakeGenericMethod(rawType);
                var strings = (string[])method.Invoke(null, new object[] { column })!;
                strings.CopyTo(names, 0);
            }
        }
        else
        {
            for (int i = 0; i < names.Length; i++) names[i] = (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return names;
    }

    private static string[] KeyNamesOf<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
    }

    /// <summary>A getter for a key column as a 0-based class index (−1 for the missing key 0), whatever its raw type.</summary>
    public static Func<int> KeyIndexGetter(DataViewRow row, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw == typeof(uint)) { var g = row.GetGetter<uint>(column); uint v = 0; return () => { g(ref v); return (int)v - 1; }; }
        if (raw == typeof(ushort)) { var g = row.GetGetter<ushort>(column); ushort v = 0; return () => { g(ref v); return v - 1; }; }
        if (raw == typeof(byte)) { var g = row.GetGetter<byte>(column); byte v = 0; return () => { g(ref v); return v - 1; }; }
        if (raw == typeof(ulong)) { var g = row.GetGetter<ulong>(column); ulong v = 0; return () => { g(ref v); return (int)v - 1; }; }
        throw new ArgumentOutOfRangeException(nameof(column), $"Key column '{column.Name}' has unsupported raw type {raw}.");
    }
}

/// <summary>
/// The MLContext environment behind a catalog. ML.NET keeps it internal (IInternalCatalog.Environment); it is read
/// here by reflection, once per call, so that training messages reach <c>mlContext.Log</c> and the MLContext's seed
/// drives the default seed. If a future ML.NET moves it, a private environment is used instead (messages then reach
/// only the Progress callback); a test fails when that happens.
/// </summary>
internal static class CatalogEnvironment
{
    public static IHostEnvironment Of(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var iface = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.FullName == "Microsoft.ML.Data.IInternalCatalog");
        if (iface?.GetProperty("Environment")?.GetValue(catalog) is IHostEnvironment env) return env;
        return new MLContext();
    }
}

/// <summary>Training progress the ML.NET way (mlContext.Log) and through the user's callback.</summary>
internal sealed class TrainingLog
{
    private readonly IHost _host;
    private readonly Action<EpochReport>? _callback;

    public TrainingLog(IHostEnvironment env, string component, Action<EpochReport>? callback)
    {
        _host = env.Register(component);
        _callback = callback;
    }

    /// <summary>A seed from the MLContext's seed (deterministic when the MLContext was created with one).</summary>
    public ulong NextSeed() => (ulong)_host.Rand.Next();

    public void Info(string message)
    {
        using var ch = _host.Start("Training");
        ch.Info(MessageSensitivity.None, "{0}", message);
    }

    public void Warning(string message)
    {
        using var ch = _host.Start("Training");
        ch.Warning(MessageSensitivity.None, "{0}", message);
    }

    /// <summary>Logs the checkpoint a run resumed from and the damaged checkpoint files it passed over.</summary>
    public void Checkpoints(FitResult result)
    {
        foreach (var problem in result.CheckpointProblems) Warning(problem);
        if (result.ResumedFrom is not null) Info("Resumed from the checkpoint " + result.ResumedFrom + ".");
    }

    public void Epoch(EpochReport report)
    {
        Info(report.ToString());
        if (report.Sample is not null) Info("sample: " + report.Sample);
        _callback?.Invoke(report);
    }
}
