using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Explanations;

/// <summary>
/// Adds per-token contributions of a fitted recurrent text classifier (binary or multiclass), the recurrent counterpart of
/// ML.NET's <c>CalculateFeatureContribution</c>. Reads the column the classifier reads; fitting trains nothing.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and meaning</description></listheader>
/// <item><term>input</term><description>The classifier's text (or token) column.</description></item>
/// <item><term>output: Tokens</term><description>Vector of Text: the tokens the model read (after lower-casing and truncation).</description></item>
/// <item><term>output: Contributions</term><description>Vector of Single aligned with Tokens: each token's contribution to the logit of the
/// explained class (binary: the logit, positive towards True; multiclass: the predicted class's logit).</description></item>
/// </list>
/// </remarks>
public sealed class TokenContributionEstimator : IEstimator<TokenContributionTransformer>
{
    private readonly MLContext _ml = new();
    private readonly TextClassifierExplainer _explainer;
    private readonly RnnTextClassificationTransformer _classifier;

    internal TokenContributionEstimator(RnnTextClassificationTransformer classifier, TokenContributionOptions? options)
    {
        _classifier = classifier ?? throw new ArgumentNullException(nameof(classifier));
        _explainer = new TextClassifierExplainer(classifier.Model, options);
    }

    /// <inheritdoc />
    public TokenContributionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new TokenContributionTransformer(_explainer, BuildChain().Fit(new EmptyDataView(input.Schema)));
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        if (!inputSchema.Any(c => c.Name == _classifier.InputColumnName))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The input has no column '{_classifier.InputColumnName}', which the explained classifier reads.");
        return BuildChain().GetOutputSchema(inputSchema);
    }

    /// <summary>
    /// The chain it saves as: the classifier's input conversion → the payload (model + explanation settings) → a CustomMapping
    /// computing tokens and contributions → copies to the requested names → drop the temporaries.
    /// </summary>
    private EstimatorChain<ITransformer> BuildChain()
    {
        var o = _explainer.Options;
        foreach (var name in new[] { o.TokensColumnName, o.ContributionsColumnName })
            if (name.StartsWith("RnnMLNet.", StringComparison.Ordinal)) throw new ArgumentException($"Output column '{name}': names starting with 'RnnMLNet.' are reserved.");
        string payload = Payload.Encode(_explainer.ToFile());
        var kind = _classifier.Model.InputKind;
        var chain = new EstimatorChain<ITransformer>();
        var temporaries = new List<string> { Payload.PayloadColumn, TokenContributionColumns.Tokens, TokenContributionColumns.Contributions };
        if (kind == TextClassification.TokenInputKind.Text)
        {
            chain = chain.Append<ITransformer>(_ml.Transforms.CopyColumns(Payload.TextColumn, _classifier.InputColumnName))
                .Append<ITransformer>(_ml.Transforms.Expression(Payload.PayloadColumn, Payload.Expression(payload), Payload.TextColumn))
                .Append<ITransformer>(_ml.Transforms.CustomMapping<TextClassifierInput, TokenContributionColumns>(TokenContributionFactory.Map, TokenContributionFactory.Contract));
            temporaries.Add(Payload.TextColumn);
        }
        else
        {
            chain = chain.Append<ITransformer>(RnnTextClassificationTransformer.TokenConversion(_ml, _classifier.InputColumnName, kind, _classifier.InputIsKey))
                .Append<ITransformer>(_ml.Transforms.CustomMapping<NoColumns, ConstantColumn>(ConstantColumnFactory.Map, ConstantColumnFactory.Contract))
                .Append<ITransformer>(_ml.Transforms.Expression(Payload.PayloadColumn, Payload.Expression(payload), Payload.ConstantColumn));
            chain = kind == TextClassification.TokenInputKind.Tokens
                ? chain.Append<ITransformer>(_ml.Transforms.CustomMapping<TokenStringsInput, TokenContributionColumns>(TokenContributionFactory.MapTokens, TokenStringsContributionFactory.Contract))
                : chain.Append<ITransformer>(_ml.Transforms.CustomMapping<TokenIdsInput, TokenContributionColumns>(TokenContributionFactory.MapIds, TokenIdsContributionFactory.Contract));
            temporaries.Add(Payload.TokensColumn);
            temporaries.Add(Payload.ConstantColumn);
        }
        chain = chain.Append<ITransformer>(_ml.Transforms.CopyColumns(o.TokensColumnName, TokenContributionColumns.Tokens))
            .Append<ITransformer>(_ml.Transforms.CopyColumns(o.ContributionsColumnName, TokenContributionColumns.Contributions));
        return chain.Append<ITransformer>(_ml.Transforms.DropColumns(temporaries.ToArray()));
    }
}

/// <summary>
/// Adds <c>Tokens</c> and <c>Contributions</c> (see <see cref="TokenContributionEstimator"/>). Saved with
/// <c>mlContext.Model.Save</c> as a chain of public ML.NET transforms carrying the model and the explanation settings.
/// </summary>
public sealed class TokenContributionTransformer : ChainedTransformer
{
    /// <summary>The explainer (for explaining single texts outside a pipeline).</summary>
    public TextClassifierExplainer Explainer { get; }

    internal TokenContributionTransformer(TextClassifierExplainer explainer, TransformerChain<ITransformer> chain) : base(chain) => Explainer = explainer;
}

/// <summary>CustomMapping output: the tokens and their contributions (private column names, copied to the requested ones).</summary>
public sealed class TokenContributionColumns
{
    internal const string Tokens = "RnnMLNet.ExplainedTokens", Contributions = "RnnMLNet.Contributions";

    /// <summary>The tokens the model read.</summary>
    [ColumnName(Tokens)] public string[] TokenTexts { get; set; } = Array.Empty<string>();

    /// <summary>Each token's contribution to the explained logit.</summary>
    [ColumnName(Contributions)] public float[] Values { get; set; } = Array.Empty<float>();
}

/// <summary>Per-token contributions of a text classifier over a text column (contract <c>Rnn.MLNet.TokenContributions.Text.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class TokenContributionFactory : CustomMappingFactory<TextClassifierInput, TokenContributionColumns>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TokenContributions.Text.v1";

    /// <inheritdoc />
    public override Action<TextClassifierInput, TokenContributionColumns> GetMapping() => Map;

    internal static void Map(TextClassifierInput input, TokenContributionColumns output) =>
        Write(Payload.Decode(input.Model, TextClassifierExplainer.FromFile).Explain(input.Text.ToString()), output);

    internal static void MapTokens(TokenStringsInput input, TokenContributionColumns output) =>
        Write(Payload.Decode(input.Model, TextClassifierExplainer.FromFile).ExplainTokens(input.Tokens), output);

    internal static void MapIds(TokenIdsInput input, TokenContributionColumns output) =>
        Write(Payload.Decode(input.Model, TextClassifierExplainer.FromFile).ExplainIds(input.Tokens), output);

    private static void Write(TextExplanation e, TokenContributionColumns output)
    {
        output.TokenTexts = e.Tokens;
        output.Values = e.Contributions;
    }
}

/// <summary>Per-token contributions over a token-string or key column (contract <c>Rnn.MLNet.TokenContributions.Tokens.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class TokenStringsContributionFactory : CustomMappingFactory<TokenStringsInput, TokenContributionColumns>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TokenContributions.Tokens.v1";

    /// <inheritdoc />
    public override Action<TokenStringsInput, TokenContributionColumns> GetMapping() => TokenContributionFactory.MapTokens;
}

/// <summary>Per-token contributions over a token-id column (contract <c>Rnn.MLNet.TokenContributions.Ids.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class TokenIdsContributionFactory : CustomMappingFactory<TokenIdsInput, TokenContributionColumns>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TokenContributions.Ids.v1";

    /// <inheritdoc />
    public override Action<TokenIdsInput, TokenContributionColumns> GetMapping() => TokenContributionFactory.MapIds;
}
