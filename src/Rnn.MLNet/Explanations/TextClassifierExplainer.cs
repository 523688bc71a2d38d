using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Explanations;

/// <summary>Settings of per-token contributions for a recurrent text classifier.</summary>
public sealed class TokenContributionOptions
{
    /// <summary>Integrated gradients (default) or leave-one-token-out occlusion.</summary>
    public AttributionMethod Method { get; set; } = AttributionMethod.IntegratedGradients;

    /// <summary>Quadrature nodes of integrated gradients' first pass (see <see cref="TokenExplainerOptions.Steps"/>).</summary>
    public int Steps { get; set; } = 16;

    /// <summary>Completeness target of integrated gradients (see <see cref="TokenExplainerOptions.Tolerance"/>).</summary>
    public double Tolerance { get; set; } = 0.005;

    /// <summary>Most quadrature nodes per explanation (see <see cref="TokenExplainerOptions.MaximumSteps"/>).</summary>
    public int MaximumSteps { get; set; } = 1024;

    /// <summary>
    /// The baseline: null (default) for the all-zero embedding vector at every position; a vocabulary token (e.g.
    /// <c>&lt;unk&gt;</c>) for that token's embedding at every position. Occlusion replaces a token by the same vector.
    /// </summary>
    public string? BaselineToken { get; set; }

    /// <summary>Output column of the tokens as the model read them (vector of text; lower-cased when the model lower-cases).</summary>
    public string TokensColumnName { get; set; } = "Tokens";

    /// <summary>Output column of the contributions (vector of Single, aligned with the tokens).</summary>
    public string ContributionsColumnName { get; set; } = "Contributions";

    internal void Validate()
    {
        if (string.IsNullOrEmpty(TokensColumnName)) throw new ArgumentException("TokensColumnName must be set.", nameof(TokensColumnName));
        if (string.IsNullOrEmpty(ContributionsColumnName)) throw new ArgumentException("ContributionsColumnName must be set.", nameof(ContributionsColumnName));
        if (TokensColumnName == ContributionsColumnName) throw new ArgumentException($"The tokens and contributions columns must differ; both are '{TokensColumnName}'.", nameof(ContributionsColumnName));
        if (!Enum.IsDefined(Method)) throw new ArgumentOutOfRangeException(nameof(Method), Method, "Unknown attribution method.");
        if (Steps < 1 || Steps > 1024) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be in 1..1024.");
        if (MaximumSteps < Steps) throw new ArgumentOutOfRangeException(nameof(MaximumSteps), MaximumSteps, $"MaximumSteps must be at least Steps ({Steps}).");
        if (!(Tolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "Tolerance must be a non-negative number.");
    }

    internal TokenContributionOptions Clone() => (TokenContributionOptions)MemberwiseClone();

    private const string MethodProperty = "explain.method", StepsProperty = "explain.steps", ToleranceProperty = "explain.tolerance",
        MaximumStepsProperty = "explain.maximumSteps", BaselineProperty = "explain.baseline";

    /// <summary>
    /// An explainer's payload: the explained model's file marked as <paramref name="explainerKind"/>, with these settings
    /// beside the model (the column names live in the saved chain).
    /// </summary>
    internal ModelFile Wrap(ModelFile modelFile, string explainerKind)
    {
        modelFile.Properties["kind"] = explainerKind;
        WriteTo(modelFile);
        return modelFile;
    }

    /// <summary>
    /// Reverses <see cref="Wrap"/>: checks the file is a <paramref name="explainerKind"/> (described to the user as
    /// <paramref name="what"/>), reads the settings and marks the rest of the file as the explained model's
    /// <paramref name="modelKind"/> again, ready for that model's own reader.
    /// </summary>
    internal static TokenContributionOptions Unwrap(ModelFile file, string explainerKind, string modelKind, string what)
    {
        string kind = file.RequireProperty("kind");
        if (kind != explainerKind) throw new System.IO.InvalidDataException($"The model is a '{kind}', not {what}.");
        var options = ReadFrom(file);
        file.Properties["kind"] = modelKind;
        return options;
    }

    private void WriteTo(ModelFile file)
    {
        file.Properties[MethodProperty] = Method.ToString();
        file.Properties[StepsProperty] = Steps.ToString(CultureInfo.InvariantCulture);
        file.Properties[ToleranceProperty] = Tolerance.ToString("R", CultureInfo.InvariantCulture);
        file.Properties[MaximumStepsProperty] = MaximumSteps.ToString(CultureInfo.InvariantCulture);
        if (BaselineToken is string b) file.Properties[BaselineProperty] = b;
    }

    private static TokenContributionOptions ReadFrom(ModelFile file)
    {
        string Prop(string k) => file.RequireProperty(k);
        if (!Enum.TryParse<AttributionMethod>(Prop(MethodProperty), out var method)) throw new System.IO.InvalidDataException($"Unknown attribution method '{Prop(MethodProperty)}'.");
        if (!int.TryParse(Prop(StepsProperty), NumberStyles.Integer, CultureInfo.InvariantCulture, out int steps)
            || !int.TryParse(Prop(MaximumStepsProperty), NumberStyles.Integer, CultureInfo.InvariantCulture, out int maxSteps)
            || !double.TryParse(Prop(ToleranceProperty), NumberStyles.Float, CultureInfo.InvariantCulture, out double tolerance))
            throw new System.IO.InvalidDataException("The explanation settings in the model are not numbers.");
        var options = new TokenContributionOptions
        {
            Method = method, Steps = steps, MaximumSteps = maxSteps, Tolerance = tolerance,
            BaselineToken = file.Properties.TryGetValue(BaselineProperty, out var b) ? b : null,
        };
        try { options.Validate(); }
        catch (ArgumentException e) { throw new System.IO.InvalidDataException("The explanation settings in the model are invalid: " + e.Message, e); }
        return options;
    }
}

/// <summary>The tokens a text classifier read and each one's contribution to the explained score.</summary>
/// <param name="Tokens">The tokens, in order (for text input: the tokenizer's pieces, lower-cased when the model lower-cases).</param>
/// <param name="Contributions">One per token: its share of the explained score (positive: towards the explained class), through
/// the recurrent input of every ensemble member and through the n-grams it forms.</param>
/// <param name="ExplainedClass">The class whose score is explained: binary models "True" (negative contributions push towards False); multiclass models the predicted class.</param>
/// <param name="Logit">The explained score: the log-odds of the members' mean probability of the explained class, ln(p̄ / (1 − p̄)) —
/// for a binary model exactly the Score column (one member: its logit); for a multiclass model ln(Score_c / (1 − Score_c)).</param>
/// <param name="BaselineLogit">The score on the baseline (integrated gradients' contributions add up to Logit − BaselineLogit).</param>
public sealed record TextExplanation(string[] Tokens, float[] Contributions, string ExplainedClass, float Logit, float BaselineLogit)
{
    /// <summary>Integrated gradients: Σ contributions − (Logit − BaselineLogit), the quadrature error left (in double, before rounding to float).</summary>
    public double CompletenessGap { get; init; }

    /// <summary>Integrated gradients: the quadrature nodes spent (each a forward and backward pass of every member); 0 for occlusion.</summary>
    public int QuadratureNodes { get; init; }

    /// <summary>The <paramref name="count"/> tokens with the largest contributions, largest first.</summary>
    public IEnumerable<(string Token, float Contribution)> Top(int count) =>
        Tokens.Zip(Contributions).OrderByDescending(p => p.Second).Take(count).Select(p => (p.First, p.Second));
}

/// <summary>
/// Explains a <see cref="TextClassifierModel"/>'s predictions token by token, the whole model: every ensemble member and the
/// n-gram (wide) part, through integrated gradients along one path (the n-gram contributions handed to the tokens that form
/// them) or occlusion. Thread-safe: each concurrent caller gets its own <see cref="TokenExplainer{T}"/>.
/// </summary>
/// <remarks>
/// The explained score is the model's own: the log-odds of the members' mean probability (binary: the Score column).
/// Integrated gradients move every member's embedding rows from the baseline (zero vectors, or the BaselineToken's row) and
/// the bag of n-grams from the empty bag to the input's, together. A word n-gram's contribution is split equally between
/// its words, a character n-gram's between the tokens its characters lie in (by character count); an n-gram occurring
/// several times is split equally between its occurrences; one that touches no token the network read (past MaximumLength,
/// or only spaces) goes to the nearest token. So Σ contributions = score − baseline score, up to the quadrature error.
/// </remarks>
public sealed class TextClassifierExplainer : IPipelineModel<TextClassifierExplainer>
{
    /// <summary>The <c>kind</c> of its payload: the classifier's model file with the explanation settings beside it.</summary>
    internal const string Kind = "text-classifier-explainer";

    static string IPipelineModel<TextClassifierExplainer>.Kind => Kind;
    static string IPipelineModel<TextClassifierExplainer>.Description => "text classifier explainer";
    static TextClassifierExplainer IPipelineModel<TextClassifierExplainer>.FromFile(ModelFile file) => FromFile(file);

    private readonly ConcurrentBag<TokenExplainer<float>> _free = new();
    private readonly TokenExplainerOptions _core;

    /// <summary>The explained model.</summary>
    public TextClassifierModel Model { get; }

    /// <summary>The settings (a copy).</summary>
    public TokenContributionOptions Options => _options.Clone();
    private readonly TokenContributionOptions _options;

    /// <summary>An explainer of <paramref name="model"/>.</summary>
    public TextClassifierExplainer(TextClassifierModel model, TokenContributionOptions? options = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _options = (options ?? new TokenContributionOptions()).Clone();
        _options.Validate();
        int? baseline = null;
        if (_options.BaselineToken is string b)
        {
            if (!model.Vocabulary.Contains(b))
                throw new ArgumentException($"BaselineToken '{b}' is not in the model's vocabulary of {model.Vocabulary.Count} tokens.", nameof(options));
            baseline = model.Vocabulary.IdOf(b);
        }
        _core = new TokenExplainerOptions { Method = _options.Method, Steps = _options.Steps, Tolerance = _options.Tolerance, MaximumSteps = _options.MaximumSteps, BaselineToken = baseline };
        _free.Add(NewCoreExplainer()); // validates the settings against the networks now
    }

    private TokenExplainer<float> NewCoreExplainer() => new(Model.Networks, ExplainedScore.MeanProbabilityLogOdds, _core);

    /// <summary>Explains the prediction for one text (a model that reads text).</summary>
    public TextExplanation Explain(string? text)
    {
        string read = Model.LowerCase ? (text ?? "").ToLowerInvariant() : text ?? "";
        var tokens = Model.Vocabulary.Tokenizer.Split(read);
        var spans = Tokenizer.Locate(read, tokens);
        if (tokens.Count > Model.MaxLength) { tokens.RemoveRange(Model.MaxLength, tokens.Count - Model.MaxLength); spans = spans[..Model.MaxLength]; }
        if (tokens.Count == 0) { tokens.Add(Text.Vocabulary.UnknownToken); spans = new[] { (0, 0) }; }
        return ExplainCore(Model.Encode(text), tokens.ToArray(), () => Model.Predict(text), Model.Bag?.Occurrences(read), spans);
    }

    /// <summary>Explains the prediction for token strings (a model that reads a token column).</summary>
    public TextExplanation ExplainTokens(ReadOnlySpan<ReadOnlyMemory<char>> tokens)
    {
        int[] ids = Model.EncodeTokens(tokens);
        var shown = new string[ids.Length];
        for (int i = 0; i < shown.Length; i++) shown[i] = i < tokens.Length ? tokens[i].ToString() : Text.Vocabulary.UnknownToken;
        return ExplainCore(ids, shown, () => Model.PredictIds(ids), null, null);
    }

    /// <summary>Explains the prediction for integer token ids (a model that reads an id column).</summary>
    public TextExplanation ExplainIds(ReadOnlySpan<float> ids)
    {
        int[] encoded = Model.EncodeIds(ids);
        return ExplainCore(encoded, encoded.Select(i => Model.Vocabulary.Tokens[i]).ToArray(), () => Model.PredictIds(encoded), null, null);
    }

    private TextExplanation ExplainCore(int[] ids, string[] shown, Func<float[]> predict, List<NGramOccurrence>? occurrences, (int Start, int Length)[]? spans)
    {
        int explained = 0;
        if (!Model.IsBinary)
        {
            var p = predict();
            for (int i = 1; i < p.Length; i++) if (p[i] > p[explained]) explained = i;
        }
        // the bag and, per occurrence of an n-gram, each token's share of it
        BagInput? bag = null;
        List<Dictionary<int, double>>? shares = null;
        if (occurrences is not null && Model.Bag is { } ngrams)
        {
            shares = occurrences.Select(o => TokenShares(o, spans!)).ToList();
            var (bagIds, bagValues) = ngrams.Encode(occurrences);
            bag = new BagInput(bagIds, bagValues.Select(v => (double)v).ToArray())
            {
                WithoutToken = t =>
                {
                    var (i, v) = ngrams.Encode(occurrences.Where((_, k) => !shares[k].ContainsKey(t)));
                    return (i, v.Select(x => (double)x).ToArray());
                },
            };
        }
        var explainer = _free.TryTake(out var e) ? e : NewCoreExplainer();
        TokenExplanation x;
        try { x = explainer.Explain(ids, explained, bag: bag); }
        finally { _free.Add(explainer); }

        var contributions = (double[])x.Contributions.Clone();
        if (bag is not null && x.FeatureContributions.Length > 0)
        {
            // feature f's contribution: equally over its occurrences, each occurrence over its tokens by share
            var occurrencesOf = new Dictionary<int, List<int>>();
            for (int k = 0; k < occurrences!.Count; k++)
            {
                if (!occurrencesOf.TryGetValue(occurrences[k].Feature, out var list)) occurrencesOf[occurrences[k].Feature] = list = new List<int>();
                list.Add(k);
            }
            for (int f = 0; f < bag.Ids.Length; f++)
            {
                var list = occurrencesOf[bag.Ids[f]];
                foreach (int k in list)
                    foreach (var (token, share) in shares![k]) contributions[token] += x.FeatureContributions[f] * share / list.Count;
            }
        }
        return new TextExplanation(shown, contributions.Select(c => (float)c).ToArray(), Model.IsBinary ? "True" : Model.Classes[explained], (float)x.Score, (float)x.BaselineScore)
        {
            CompletenessGap = contributions.Sum() - (x.Score - x.BaselineScore),
            QuadratureNodes = x.QuadratureNodes,
        };
    }

    /// <summary>
    /// The tokens an n-gram occurrence belongs to, with shares adding up to 1: each piece (a word of a word n-gram, or the
    /// span of a character n-gram) an equal share, split between the tokens it overlaps by overlapping characters; a piece
    /// that overlaps none goes to the nearest token.
    /// </summary>
    private static Dictionary<int, double> TokenShares(NGramOccurrence occurrence, (int Start, int Length)[] tokens)
    {
        var shares = new Dictionary<int, double>();
        double pieceShare = 1.0 / occurrence.Pieces.Length;
        foreach (var (start, length) in occurrence.Pieces)
        {
            int end = start + length, total = 0, nearest = 0, nearestDistance = int.MaxValue;
            for (int t = 0; t < tokens.Length; t++)
            {
                int tEnd = tokens[t].Start + tokens[t].Length;
                total += System.Math.Max(0, System.Math.Min(end, tEnd) - System.Math.Max(start, tokens[t].Start));
                int distance = System.Math.Max(0, System.Math.Max(tokens[t].Start - end, start - tEnd));
                if (distance < nearestDistance) { nearestDistance = distance; nearest = t; }
            }
            if (total == 0) { shares[nearest] = shares.GetValueOrDefault(nearest) + pieceShare; continue; }
            for (int t = 0; t < tokens.Length; t++)
            {
                int overlap = System.Math.Min(end, tokens[t].Start + tokens[t].Length) - System.Math.Max(start, tokens[t].Start);
                if (overlap > 0) shares[t] = shares.GetValueOrDefault(t) + pieceShare * overlap / total;
            }
        }
        return shares;
    }

    /// <summary>The model file with the settings beside the model (the payload of the saved chain).</summary>
    internal ModelFile ToFile() => _options.Wrap(Model.ToFile(), Kind);

    internal static TextClassifierExplainer FromFile(ModelFile file)
    {
        var options = TokenContributionOptions.Unwrap(file, Kind, TextClassifierModel.Kind, "a text classifier explainer");
        try { return new TextClassifierExplainer(TextClassifierModel.FromFile(file), options); }
        catch (ArgumentException e) { throw new System.IO.InvalidDataException("The explanation settings in the model are invalid: " + e.Message, e); }
    }
}
