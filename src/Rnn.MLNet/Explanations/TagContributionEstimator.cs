using System;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Explanations;

/// <summary>
/// Adds per-token contributions to every tag of a fitted recurrent tagger: for each position, how much each token of the
/// sentence moved the score of the tag predicted there. Reads the column the tagger reads; fitting trains nothing.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and meaning</description></listheader>
/// <item><term>input</term><description>The tagger's tokens column (vector of text or of keys with key values).</description></item>
/// <item><term>output: Tokens</term><description>Vector of Text: the n tokens, as given.</description></item>
/// <item><term>output: Contributions</term><description>Vector of Single, n × n row-major: element t·n + s is token s's contribution
/// to the score of the tag predicted at position t — the log-odds ln(p / (1 − p)) of that tag's softmax probability. Row t
/// (elements t·n … t·n + n − 1) adds up to position t's score minus its score on the baseline (integrated gradients).</description></item>
/// </list>
/// </remarks>
public sealed class TagContributionEstimator : IEstimator<TagContributionTransformer>
{
    private readonly MLContext _ml = new();
    private readonly SequenceTaggerExplainer _explainer;
    private readonly RnnSequenceTaggerTransformer _tagger;

    internal TagContributionEstimator(RnnSequenceTaggerTransformer tagger, TokenContributionOptions? options)
    {
        _tagger = tagger ?? throw new ArgumentNullException(nameof(tagger));
        _explainer = new SequenceTaggerExplainer(tagger.Model, options);
    }

    /// <inheritdoc />
    public TagContributionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new TagContributionTransformer(_explainer, BuildChain().Fit(new EmptyDataView(input.Schema)));
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        if (!inputSchema.Any(c => c.Name == _tagger.InputColumnName))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The input has no column '{_tagger.InputColumnName}', which the explained tagger reads.");
        return BuildChain().GetOutputSchema(inputSchema);
    }

    /// <summary>The tagger's token conversion → the payload (model + settings) → a CustomMapping → copies to the requested names → drop the temporaries.</summary>
    private EstimatorChain<ITransformer> BuildChain()
    {
        var o = _explainer.Options;
        foreach (var name in new[] { o.TokensColumnName, o.ContributionsColumnName })
            if (name.StartsWith("RnnMLNet.", StringComparison.Ordinal)) throw new ArgumentException($"Output column '{name}': names starting with 'RnnMLNet.' are reserved.");
        var chain = PipelineChain.VectorHead(_ml, ModelPersistence.Encode(_explainer.ToFile()), PipelineChain.TokenConversion(_ml, _tagger.InputColumnName, TokenInputKind.Tokens, _tagger.InputIsKey))
            .Append(new TagContributionMapping().Estimator(_ml))
            .Append<ITransformer>(_ml.Transforms.CopyColumns(o.TokensColumnName, TokenContributionColumns.Tokens))
            .Append<ITransformer>(_ml.Transforms.CopyColumns(o.ContributionsColumnName, TokenContributionColumns.Contributions));
        var temporaries = PipelineChain.HeadColumns(PipelineChain.TokensColumn).Append(TokenContributionColumns.Tokens).Append(TokenContributionColumns.Contributions);
        return PipelineChain.Finish(_ml, chain, temporaries);
    }
}

/// <summary>
/// Adds <c>Tokens</c> and the n × n <c>Contributions</c> of a tagger (see <see cref="TagContributionEstimator"/>). Saved with
/// <c>mlContext.Model.Save</c> as a chain of public ML.NET transforms carrying the model and the explanation settings.
/// </summary>
public sealed class TagContributionTransformer : ChainedTransformer
{
    /// <summary>The explainer (for explaining single sentences outside a pipeline).</summary>
    public SequenceTaggerExplainer Explainer { get; }

    internal TagContributionTransformer(SequenceTaggerExplainer explainer, TransformerChain<ITransformer> chain) : base(chain)
    {
        Explainer = explainer;
        ModelPersistence.Adopt(Chain, explainer);
    }
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TagContributions.v1")]
internal sealed class TagContributionMapping : RnnMapping<TokenStringsInput, SequenceTaggerExplainer, TokenContributionColumns>
{
    protected override void Map(SequenceTaggerExplainer model, TokenStringsInput input, TokenContributionColumns output)
    {
        var e = model.Explain(input.Tokens.Select(t => t.ToString()).ToArray());
        output.TokenTexts = e.Tokens;
        output.Values = e.Contributions;
    }
}
