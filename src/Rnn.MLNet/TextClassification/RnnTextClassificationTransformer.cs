using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
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

    /// <summary>Training history of the first ensemble member (per-epoch losses and validation metrics, the epoch kept).</summary>
    public FitResult TrainingResult => MemberResults[0];

    /// <summary>Training history of every ensemble member.</summary>
    public IReadOnlyList<FitResult> MemberResults { get; }

    internal RnnTextClassificationTransformer(MLContext ml, TextClassifierModel model, DataViewSchema inputSchema, string inputColumn, bool isKey, IReadOnlyList<FitResult> results)
        : base(Fit(ml, model, inputSchema, inputColumn, isKey))
    {
        Model = model;
        MemberResults = results;
        InputColumnName = inputColumn;
        InputIsKey = isKey;
        ModelPersistence.Adopt(Chain, model);
    }

    /// <summary>The column the classifier reads (text, tokens or ids), for transforms that read it too (explanations).</summary>
    internal string InputColumnName { get; }

    /// <summary>The token column holds keys (read through their key values).</summary>
    internal bool InputIsKey { get; }

    private static TransformerChain<ITransformer> Fit(MLContext ml, TextClassifierModel model, DataViewSchema inputSchema, string inputColumn, bool isKey)
    {
        string payload = ModelPersistence.Encode(model.ToFile());
        var estimator = BuildChain(ml, payload, model.Classes.ToArray(), model.IsBinary, inputColumn, model.InputKind, isKey, inputSchema.Select(c => c.Name));
        // The public estimators only need the schema to fit: give them an empty view of it.
        return estimator.Fit(new EmptyDataView(inputSchema));
    }

    /// <summary>
    /// The twin chain: the input into a private column → payload constant → CustomMapping → (multiclass: per-class columns
    /// named by class, concatenated into Score; predicted class name → key via MapValueToKey) → drop the temporaries.
    /// </summary>
    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string[] classes, bool binary, string inputColumn, TokenInputKind kind, bool isKey, IEnumerable<string> inputColumns)
    {
        string privateInput = kind == TokenInputKind.Text ? PipelineChain.TextColumn : PipelineChain.TokensColumn;
        var chain = kind == TokenInputKind.Text
            ? PipelineChain.TextHead(ml, payload, inputColumn)
            : PipelineChain.VectorHead(ml, payload, PipelineChain.TokenConversion(ml, inputColumn, kind, isKey));
        var temporaries = PipelineChain.HeadColumns(privateInput).ToList();
        chain = chain.Append((kind, binary) switch
        {
            (TokenInputKind.Text, true) => new BinaryTextClassifierMapping().Estimator(ml),
            (TokenInputKind.Tokens, true) => new BinaryTokenStringsClassifierMapping().Estimator(ml),
            (TokenInputKind.Ids, true) => new BinaryTokenIdsClassifierMapping().Estimator(ml),
            (TokenInputKind.Text, false) => new MulticlassTextClassifierMapping().Estimator(ml),
            (TokenInputKind.Tokens, false) => new MulticlassTokenStringsClassifierMapping().Estimator(ml),
            _ => new MulticlassTokenIdsClassifierMapping().Estimator(ml),
        });
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
        return PipelineChain.Finish(ml, chain, temporaries);
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
