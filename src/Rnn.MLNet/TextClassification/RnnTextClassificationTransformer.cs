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

    /// <summary>Training history of the first member (per-epoch losses and validation metrics, the epoch kept).</summary>
    public FitResult TrainingResult => MemberResults[0];

    /// <summary>Training history of every ensemble member.</summary>
    public IReadOnlyList<FitResult> MemberResults { get; }

    internal RnnTextClassificationTransformer(MLContext ml, TextClassifierModel model, DataViewSchema inputSchema, string inputColumn, bool isKey, IReadOnlyList<FitResult> results)
        : base(Fit(ml, model, inputSchema, inputColumn, isKey))
    {
        Model = model;
        MemberResults = results;
    }

    private static TransformerChain<ITransformer> Fit(MLContext ml, TextClassifierModel model, DataViewSchema inputSchema, string inputColumn, bool isKey)
    {
        string payload = Infrastructure.Payload.Encode(model.ToFiles());
        var estimator = BuildChain(ml, payload, model.Classes.ToArray(), model.IsBinary, inputColumn, model.InputKind, isKey, inputSchema.Select(c => c.Name));
        // The public estimators only need the schema to fit: give them an empty view of it.
        return estimator.Fit(new EmptyDataView(inputSchema));
    }

    /// <summary>
    /// The twin chain: copy text → payload constant → CustomMapping → (multiclass: per-class columns named by class,
    /// concatenated into Score; predicted class name → key via MapValueToKey) → drop the temporaries.
    /// </summary>
    /// <summary>
    /// The token column in the private tokens column as the CustomMapping reads it: token strings (keys through their key
    /// values, since ML.NET converts keys only to other keys) or Single ids.
    /// </summary>
    internal static IEstimator<ITransformer> TokenConversion(MLContext ml, string inputColumn, TokenInputKind kind, bool isKey)
    {
        const string tokens = Infrastructure.Payload.TokensColumn;
        if (kind == TokenInputKind.Ids) return ml.Transforms.Conversion.ConvertType(tokens, inputColumn, DataKind.Single);
        if (isKey) return ml.Transforms.Conversion.MapKeyToValue(tokens, inputColumn);
        return ml.Transforms.CopyColumns(tokens, inputColumn);
    }

    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string[] classes, bool binary, string inputColumn, TokenInputKind kind, bool isKey, IEnumerable<string> inputColumns)
    {
        var chain = new EstimatorChain<ITransformer>();
        var temporaries = new List<string> { Infrastructure.Payload.PayloadColumn };
        if (kind == TokenInputKind.Text)
        {
            chain = chain.Append<ITransformer>(ml.Transforms.CopyColumns(Infrastructure.Payload.TextColumn, inputColumn))
                .Append<ITransformer>(ml.Transforms.Expression(Infrastructure.Payload.PayloadColumn, Infrastructure.Payload.Expression(payload), Infrastructure.Payload.TextColumn));
            temporaries.Add(Infrastructure.Payload.TextColumn);
        }
        else
        {
            // A constant scalar for the payload Expression to read (an Expression over a vector would run once per element).
            chain = chain.Append<ITransformer>(TokenConversion(ml, inputColumn, kind, isKey))
                .Append<ITransformer>(ml.Transforms.CustomMapping<NoColumns, ConstantColumn>(ConstantColumnFactory.Map, ConstantColumnFactory.Contract))
                .Append<ITransformer>(ml.Transforms.Expression(Infrastructure.Payload.PayloadColumn, Infrastructure.Payload.Expression(payload), Infrastructure.Payload.ConstantColumn));
            temporaries.Add(Infrastructure.Payload.TokensColumn);
            temporaries.Add(Infrastructure.Payload.ConstantColumn);
        }
        chain = (kind, binary) switch
        {
            (TokenInputKind.Text, true) => chain.Append<ITransformer>(ml.Transforms.CustomMapping<TextClassifierInput, BinaryClassifierOutput>(BinaryTextClassifierFactory.Map, BinaryTextClassifierFactory.Contract)),
            (TokenInputKind.Tokens, true) => chain.Append<ITransformer>(ml.Transforms.CustomMapping<TokenStringsInput, BinaryClassifierOutput>(BinaryTextClassifierFactory.MapTokens, BinaryTokenStringsClassifierFactory.Contract)),
            (TokenInputKind.Ids, true) => chain.Append<ITransformer>(ml.Transforms.CustomMapping<TokenIdsInput, BinaryClassifierOutput>(BinaryTextClassifierFactory.MapIds, BinaryTokenIdsClassifierFactory.Contract)),
            (TokenInputKind.Text, false) => chain.Append<ITransformer>(ml.Transforms.CustomMapping<TextClassifierInput, MulticlassScores>(MulticlassTextClassifierFactory.Map, MulticlassTextClassifierFactory.Contract)),
            (TokenInputKind.Tokens, false) => chain.Append<ITransformer>(ml.Transforms.CustomMapping<TokenStringsInput, MulticlassScores>(MulticlassTextClassifierFactory.MapTokens, MulticlassTokenStringsClassifierFactory.Contract)),
            _ => chain.Append<ITransformer>(ml.Transforms.CustomMapping<TokenIdsInput, MulticlassScores>(MulticlassTextClassifierFactory.MapIds, MulticlassTokenIdsClassifierFactory.Contract)),
        };
        if (!binary)
        {
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
