using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.TextClassification;

/// <summary>
/// A fitted recurrent text classifier. Adds <c>Score</c>, <c>PredictedLabel</c> and (binary) <c>Probability</c>.
/// Saved with <c>mlContext.Model.Save</c> as a chain of public ML.NET transforms that carries the weights.
/// </summary>
public sealed class RnnTextClassificationTransformer : ChainedTransformer
{
    /// <summary>The trained model (for scoring single texts outside a pipeline).</summary>
    public TextClassifierModel Model { get; }

    /// <summary>Training history (per-epoch losses and validation metrics).</summary>
    public FitResult TrainingResult { get; }

    internal RnnTextClassificationTransformer(MLContext ml, TextClassifierModel model, DataViewSchema inputSchema, string textColumn, FitResult result)
        : base(Fit(ml, model, inputSchema, textColumn))
    {
        Model = model;
        TrainingResult = result;
    }

    private static TransformerChain<ITransformer> Fit(MLContext ml, TextClassifierModel model, DataViewSchema inputSchema, string textColumn)
    {
        string payload = Infrastructure.Payload.Encode(model.ToFile());
        var estimator = BuildChain(ml, payload, model.Classes.ToArray(), model.IsBinary, textColumn, inputSchema.Select(c => c.Name));
        // The public estimators only need the schema to fit: give them an empty view of it.
        return estimator.Fit(new EmptyDataView(inputSchema));
    }

    /// <summary>
    /// The twin chain: copy text → payload constant → CustomMapping → (multiclass: per-class columns named by class,
    /// concatenated into Score; predicted class name → key via MapValueToKey) → drop the temporaries.
    /// </summary>
    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string[] classes, bool binary, string textColumn, IEnumerable<string> inputColumns)
    {
        var chain = new EstimatorChain<ITransformer>()
            .Append<ITransformer>(ml.Transforms.CopyColumns(Infrastructure.Payload.TextColumn, textColumn))
            .Append<ITransformer>(ml.Transforms.Expression(Infrastructure.Payload.PayloadColumn, Infrastructure.Payload.Expression(payload), Infrastructure.Payload.TextColumn));
        var temporaries = new List<string> { Infrastructure.Payload.TextColumn, Infrastructure.Payload.PayloadColumn };
        if (binary)
        {
            chain = chain.Append<ITransformer>(ml.Transforms.CustomMapping<TextClassifierInput, BinaryClassifierOutput>(BinaryTextClassifierFactory.Map, BinaryTextClassifierFactory.Contract));
        }
        else
        {
            chain = chain.Append<ITransformer>(ml.Transforms.CustomMapping<TextClassifierInput, MulticlassScores>(MulticlassTextClassifierFactory.Map, MulticlassTextClassifierFactory.Contract));
            var slotColumns = SlotColumnNames(classes, inputColumns);
            for (int i = 0; i < classes.Length; i++)
                chain = chain.Append<ITransformer>(ml.Transforms.CopyColumns(slotColumns[i], MulticlassScores.ColumnOf(i)));
            chain = chain.Append<ITransformer>(ml.Transforms.Concatenate("Score", slotColumns));
            var keyData = ml.Data.LoadFromEnumerable(classes.Select(c => new ClassName { Value = c }));
            chain = chain.Append<ITransformer>(ml.Transforms.Conversion.MapValueToKey("PredictedLabel", "RnnMLNet.Predicted", keyData: keyData));
            temporaries.Add("RnnMLNet.Predicted");
            temporaries.AddRange(Enumerable.Range(0, MulticlassScores.MaxClasses).Select(MulticlassScores.ColumnOf));
            temporaries.AddRange(slotColumns);
        }
        return chain.Append<ITransformer>(ml.Transforms.DropColumns(temporaries.Distinct().ToArray()));
    }

    /// <summary>
    /// Concatenate names a scalar input's slot after its column, so each class's probability passes through a column named
    /// after the class. Names that would clash with an input column, an output or a temporary get " (class)" appended.
    /// </summary>
    private static string[] SlotColumnNames(string[] classes, IEnumerable<string> inputColumns)
    {
        var taken = new HashSet<string>(inputColumns, StringComparer.Ordinal) { "Score", "PredictedLabel", "Probability" };
        var names = new string[classes.Length];
        for (int i = 0; i < classes.Length; i++)
        {
            string name = string.IsNullOrEmpty(classes[i]) ? "(empty)" : classes[i];
            while (taken.Contains(name) || name.StartsWith("RnnMLNet.", StringComparison.Ordinal)) name += " (class)";
            taken.Add(name);
            names[i] = name;
        }
        return names;
    }

    private sealed class ClassName
    {
        public string Value { get; set; } = "";
    }
}
