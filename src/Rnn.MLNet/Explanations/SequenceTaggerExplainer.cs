using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Tagging;

namespace Rnn.MLNet.Explanations;

/// <summary>
/// Why each tag: for every position t of a tagged sentence, each token's contribution to the score of the tag predicted at t.
/// </summary>
/// <param name="Tokens">The tokens, as given (n).</param>
/// <param name="Tags">The predicted tag of each position (n).</param>
/// <param name="Contributions">n × n, row-major: <c>Contributions[t * n + s]</c> is token s's contribution to position t's
/// predicted-tag score (row t adds up to <c>Scores[t] − BaselineScores[t]</c> for integrated gradients).</param>
/// <param name="Scores">Position t's explained score: the log-odds of its predicted tag's probability, ln(p / (1 − p)) of the softmax.</param>
/// <param name="BaselineScores">The same score on the baseline input.</param>
public sealed record TagExplanation(string[] Tokens, string[] Tags, float[] Contributions, float[] Scores, float[] BaselineScores)
{
    /// <summary>Integrated gradients: the largest |Σ row t − (Scores[t] − BaselineScores[t])| relative to |Scores[t] − BaselineScores[t]| over the positions.</summary>
    public double WorstRelativeCompletenessGap { get; init; }

    /// <summary>Row t: every token's contribution to position t's predicted tag.</summary>
    public ReadOnlySpan<float> Row(int t) => Contributions.AsSpan(t * Tokens.Length, Tokens.Length);
}

/// <summary>
/// Explains a <see cref="SequenceTaggerModel"/>'s tags token by token (integrated gradients through the embedding, or
/// occlusion), one explanation per position: the explained scalar at position t is the log-odds of the tag predicted there.
/// With character-level word features, a token's input vector is its embedding row and its character features side by
/// side, and both move along the path (the baseline's character part is zero). Thread-safe: each concurrent caller gets its
/// own <see cref="TokenExplainer{T}"/>.
/// </summary>
public sealed class SequenceTaggerExplainer : IPipelineModel<SequenceTaggerExplainer>
{
    /// <summary>The <c>kind</c> of its payload: the tagger's model file with the explanation settings beside it.</summary>
    internal const string Kind = "tagger-explainer";

    static string IPipelineModel<SequenceTaggerExplainer>.Kind => Kind;
    static string IPipelineModel<SequenceTaggerExplainer>.Description => "tagger explainer";
    static SequenceTaggerExplainer IPipelineModel<SequenceTaggerExplainer>.FromFile(ModelFile file) => FromFile(file);

    private readonly ConcurrentBag<TokenExplainer<float>> _free = new();
    private readonly TokenExplainerOptions _core;
    private readonly TokenContributionOptions _options;

    /// <summary>The explained tagger.</summary>
    public SequenceTaggerModel Model { get; }

    /// <summary>The settings (a copy).</summary>
    public TokenContributionOptions Options => _options.Clone();

    /// <summary>An explainer of <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">The settings are invalid.</exception>
    public SequenceTaggerExplainer(SequenceTaggerModel model, TokenContributionOptions? options = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _options = (options ?? new TokenContributionOptions()).Clone();
        _options.Validate();
        int? baseline = null;
        if (_options.BaselineToken is string b)
        {
            if (!model.Vocabulary.Contains(b))
                throw new ArgumentException($"BaselineToken '{b}' is not in the tagger's vocabulary of {model.Vocabulary.Count} tokens.", nameof(options));
            baseline = model.Vocabulary.IdOf(b);
        }
        _core = new TokenExplainerOptions { Method = _options.Method, Steps = _options.Steps, Tolerance = _options.Tolerance, MaximumSteps = _options.MaximumSteps, BaselineToken = baseline };
        _free.Add(NewCoreExplainer());
    }

    private TokenExplainer<float> NewCoreExplainer() => new(new[] { Model.Network }, ExplainedScore.MeanProbabilityLogOdds, _core);

    /// <summary>Explains the tag of every position of <paramref name="tokens"/> (an empty input gives an empty explanation).</summary>
    public TagExplanation Explain(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int n = tokens.Count;
        var shown = tokens.Select(t => t ?? "").ToArray();
        if (n == 0) return new TagExplanation(shown, Array.Empty<string>(), Array.Empty<float>(), Array.Empty<float>(), Array.Empty<float>());
        int[] ids = Model.Encode(tokens);
        int[][]? characters = Model.EncodeCharacters(tokens);
        string[] tags = Model.Predict(tokens);
        var contributions = new float[n * n];
        var scores = new float[n];
        var baselines = new float[n];
        double worst = 0;
        var explainer = _free.TryTake(out var e) ? e : NewCoreExplainer();
        try
        {
            var each = explainer.ExplainEveryStep(ids, tags.Select(IndexOf).ToArray(), characters);
            for (int t = 0; t < n; t++)
            {
                var x = each[t];
                for (int s = 0; s < n; s++) contributions[t * n + s] = (float)x.Contributions[s];
                scores[t] = (float)x.Score;
                baselines[t] = (float)x.BaselineScore;
                if (_options.Method == AttributionMethod.IntegratedGradients) worst = System.Math.Max(worst, x.RelativeCompletenessGap);
            }
        }
        finally { _free.Add(explainer); }
        return new TagExplanation(shown, tags, contributions, scores, baselines) { WorstRelativeCompletenessGap = worst };
    }

    private int IndexOf(string tag)
    {
        for (int i = 0; i < Model.Tags.Count; i++) if (Model.Tags[i] == tag) return i;
        throw new InvalidOperationException($"The tagger predicted '{tag}', which is not in its tag list.");
    }

    /// <summary>The model file with the settings beside the model (the payload of the saved chain).</summary>
    internal ModelFile ToFile() => _options.Wrap(Model.ToFile(), Kind);

    internal static SequenceTaggerExplainer FromFile(ModelFile file)
    {
        var options = TokenContributionOptions.Unwrap(file, Kind, SequenceTaggerModel.Kind, "a tagger explainer");
        try { return new SequenceTaggerExplainer(SequenceTaggerModel.FromFile(file), options); }
        catch (ArgumentException e) { throw new System.IO.InvalidDataException("The explanation settings in the model are invalid: " + e.Message, e); }
    }
}
