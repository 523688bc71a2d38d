using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Infrastructure;

namespace Rnn.MLNet.Persistence;

/// <summary>
/// The parts of the twin chain every component saves as (public ML.NET transforms only): the input copied to a private
/// column → an Expression column whose constant is the payload → the component's CustomMapping → public fix-ups → the
/// temporaries dropped. Column names are part of saved models: never rename them.
/// </summary>
internal static class PipelineChain
{
    public const string TextColumn = "RnnMLNet.Text";
    public const string PayloadColumn = "RnnMLNet.Payload";
    public const string FeaturesColumn = "RnnMLNet.Features";
    public const string ConstantColumn = "RnnMLNet.Constant";
    public const string TokensColumn = "RnnMLNet.Tokens";

    /// <summary>The Expression that yields the payload (the lambda's parameter is any input column; it is ignored).</summary>
    private static string Expression(string payload) => "x => \"" + payload + "\"";

    /// <summary>Text input: the text copied to <see cref="TextColumn"/>, the payload read beside it.</summary>
    public static EstimatorChain<ITransformer> TextHead(MLContext ml, string payload, string textColumn) =>
        new EstimatorChain<ITransformer>()
            .Append<ITransformer>(ml.Transforms.CopyColumns(TextColumn, textColumn))
            .Append<ITransformer>(ml.Transforms.Expression(PayloadColumn, Expression(payload), TextColumn));

    /// <summary>
    /// Vector input: <paramref name="copyInput"/> writes the private input column; a constant scalar column is what the
    /// payload Expression reads (an Expression over a vector would run once per element).
    /// </summary>
    public static EstimatorChain<ITransformer> VectorHead(MLContext ml, string payload, IEstimator<ITransformer> copyInput) =>
        new EstimatorChain<ITransformer>()
            .Append(copyInput)
            .Append<ITransformer>(ml.Transforms.CustomMapping<NoColumns, Infrastructure.ConstantColumn>(ConstantColumnFactory.Map, ConstantColumnFactory.Contract))
            .Append<ITransformer>(ml.Transforms.Expression(PayloadColumn, Expression(payload), ConstantColumn));

    /// <summary>The temporaries of a head built by <see cref="TextHead"/> or <see cref="VectorHead"/> with the given input column.</summary>
    public static IEnumerable<string> HeadColumns(string privateInputColumn) =>
        privateInputColumn == TextColumn ? new[] { TextColumn, PayloadColumn } : new[] { privateInputColumn, ConstantColumn, PayloadColumn };

    /// <summary>Appends the drop of the temporaries.</summary>
    public static EstimatorChain<ITransformer> Finish(MLContext ml, EstimatorChain<ITransformer> chain, IEnumerable<string> temporaries) =>
        chain.Append<ITransformer>(ml.Transforms.DropColumns(temporaries.Distinct().ToArray()));

    /// <summary>
    /// The token column in <see cref="TokensColumn"/> as a token mapping reads it: token strings (keys through their key
    /// values, since ML.NET converts keys only to other keys) or Single ids.
    /// </summary>
    public static IEstimator<ITransformer> TokenConversion(MLContext ml, string inputColumn, TextClassification.TokenInputKind kind, bool isKey)
    {
        if (kind == TextClassification.TokenInputKind.Ids) return ml.Transforms.Conversion.ConvertType(TokensColumn, inputColumn, DataKind.Single);
        if (isKey) return ml.Transforms.Conversion.MapKeyToValue(TokensColumn, inputColumn);
        return ml.Transforms.CopyColumns(TokensColumn, inputColumn);
    }
}
