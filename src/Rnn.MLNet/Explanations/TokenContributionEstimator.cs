using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
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
        string payload = ModelPersistence.Encode(_explainer.ToFile());
        var kind = _classifier.Model.InputKind;
        var chain = kind == TokenInputKind.Text
            ? PipelineChain.TextHead(_ml, payload, _classifier.InputColumnName)
            : PipelineChain.VectorHead(_ml, payload, PipelineChain.TokenConversion(_ml, _classifier.InputColumnName, kind, _classifier.InputIsKey));
        var temporaries = PipelineChain.HeadColumns(kind == TokenInputKind.Text ? PipelineChain.TextColumn : PipelineChain.TokensColumn).ToList();
        chain = chain.Append(kind switch
        {
            TokenInputKind.Text => new TextContributionMapping().Estimator(_ml),
            TokenInputKind.Tokens => new TokenStringsContributionMapping().Estimator(_ml),
            _ => new TokenIdsContributionMapping().Estimator(_ml),
        });
        chain = chain.Append<ITransformer>(_ml.Transforms.CopyColumns(o.TokensColumnName, TokenContributionColumns.Tokens))
            .Append<ITransformer>(_ml.Transforms.CopyColumns(o.ContributionsColumnName, TokenContributionColumns.Contributions));
        temporaries.Add(TokenContributionColumns.Tokens);
        temporaries.Add(TokenContributionColumns.Contributions);
        return PipelineChain.Finish(_ml, chain, temporaries);
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

    internal TokenContributionTransformer(TextClassifierExplainer explainer, TransformerChain<ITransformer> chain) : base(chain)
    {
        Explainer = explainer;
        ModelPersistence.Adopt(Chain, explainer);
    }
}

/// <summary>CustomMapping output: the tokens and their contributions (private column names, copied to the requested ones).</summary>
internal sealed class TokenContributionColumns
{
    internal const string Tokens = "RnnMLNet.ExplainedTokens", Contributions = "RnnMLNet.Contributions";

    [ColumnName(Tokens)] public string[] TokenTexts { get; set; } = Array.Empty<string>();
    [ColumnName(Contributions)] public float[] Values { get; set; } = Array.Empty<float>();

    public void Set(TextExplanation e)
    {
        TokenTexts = e.Tokens;
        Values = e.Contributions;
    }
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TokenContributions.Text.v1")]
internal sealed class TextContributionMapping : RnnMapping<TextInput, TextClassifierExplainer, TokenContributionColumns>
{
    protected override void Map(TextClassifierExplainer model, TextInput input, TokenContributionColumns output) => output.Set(model.Explain(input.Text.ToString()));
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TokenContributions.Tokens.v1")]
internal sealed class TokenStringsContributionMapping : RnnMapping<TokenStringsInput, TextClassifierExplainer, TokenContributionColumns>
{
    protected override void Map(TextClassifierExplainer model, TokenStringsInput input, TokenContributionColumns output) => output.Set(model.ExplainTokens(input.Tokens));
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TokenContributions.Ids.v1")]
internal sealed class TokenIdsContributionMapping : RnnMapping<TokenIdsInput, TextClassifierExplainer, TokenContributionColumns>
{
    protected override void Map(TextClassifierExplainer model, TokenIdsInput input, TokenContributionColumns output) => output.Set(model.ExplainIds(input.Tokens));
}
