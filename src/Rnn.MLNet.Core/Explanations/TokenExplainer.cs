using System;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Explanations;

// Shape key: S = tokens in the sequence, K = member networks, I_i = width of member i's first-layer input vector (E for an
// embedding, V for one-hot), O = head outputs, W = the bag's features (the wide input), R = rows of one batched pass.
//
// The explained function F reads every member's input vectors x_i [S, I_i] and the bag b [W] (the n-gram counts a linear
// "wide" part reads): F = score(y_1(x_1, b), …, y_K(x_K, b)), where score is one raw output (one network) or the log-odds
// of the members' mean probability (EnsembleScore). Integrated gradients (Sundararajan et al. 2017) follow ONE straight
// path that moves every input together from the baseline to the input, z(α) = z' + α (z − z') with z = (x_1, …, x_K, b)
// and the baseline z' = (x'_1, …, x'_K, 0):
//     IG_t = Σ_i Σ_j (x_i − x'_i)_tj ∫₀¹ ∂F/∂x_i,tj (z(α)) dα        (token t, through every member's embedding)
//     IG_f = b_f ∫₀¹ ∂F/∂b_f (z(α)) dα,  ∂F/∂b_f = Σ_i Σ_o ∂F/∂y_io · wide_i[o, f]   (bag feature f)
// integrated with Gauss–Legendre nodes. Completeness: Σ_t IG_t + Σ_f IG_f = F(z) − F(z') up to the quadrature error, and that
// error is known exactly on any panel [a, b] of the path: its share must add up to F(z(b)) − F(z(a)). The worst panels are
// halved until the errors fit the tolerance (adaptive composite Gauss–Legendre), all new panels of one round in one batched
// forward and backward pass per member.
// Occlusion: C_t = F(z) − F(z with position t's input vectors replaced by the baseline's, and the bag without t's n-grams).

/// <summary>Which attribution a <see cref="TokenExplainer{T}"/> computes.</summary>
public enum AttributionMethod
{
    /// <summary>
    /// Integrated gradients through the first layer's input vectors (the embedding rows) of every member and through the
    /// bag of n-grams, from the baseline to the input along one straight line, integrated with Gauss–Legendre panels halved
    /// until the contributions add up to score(input) − score(baseline) within <see cref="TokenExplainerOptions.Tolerance"/>.
    /// </summary>
    IntegratedGradients,

    /// <summary>
    /// Leave one token out: a token's contribution is score(input) − score(input with that position's input vectors
    /// replaced by the baseline vectors and, with a bag, the n-grams it forms left out). No other token moves.
    /// </summary>
    Occlusion,
}

/// <summary>The scalar a <see cref="TokenExplainer{T}"/> explains.</summary>
public enum ExplainedScore
{
    /// <summary>One raw output (logit) of a single network.</summary>
    Output,

    /// <summary>
    /// The log-odds of the members' mean probability of the explained class, ln(p̄ / (1 − p̄)) (see <see cref="EnsembleScore"/>):
    /// the score of an ensemble that averages probabilities. One binary member: its logit itself.
    /// </summary>
    MeanProbabilityLogOdds,
}

/// <summary>Settings of a <see cref="TokenExplainer{T}"/>.</summary>
public sealed class TokenExplainerOptions
{
    /// <summary>The attribution method.</summary>
    public AttributionMethod Method { get; set; } = AttributionMethod.IntegratedGradients;

    /// <summary>
    /// Quadrature nodes of the first pass of integrated gradients. Smooth cells (tanh RNN, LSTM, GRU): [0, 1] as one panel of
    /// Steps Gauss–Legendre nodes; the halves of a refined panel get <see cref="RefinementSteps"/> nodes each. ReLU RNN: Steps
    /// panels of one midpoint node each (the path integrand of a piecewise linear network is piecewise constant), refined
    /// one node per half. Panels are halved where needed (see <see cref="Tolerance"/>).
    /// </summary>
    public int Steps { get; set; } = 16;

    /// <summary>Gauss–Legendre nodes of each half of a refined panel (smooth cells; at most <see cref="Steps"/>).</summary>
    public int RefinementSteps { get; set; } = 4;

    /// <summary>
    /// Completeness target. Each panel [a, b] of the path has an exactly known error: its contributions minus
    /// F(z(b)) − F(z(a)). While the panels' absolute errors add up to more than Tolerance · |F(z) − F(z')|, the worst panels
    /// are halved and integrated again in the next batched pass (only there, where the path is rough: ReLU kinks, saturating
    /// gates), so the contributions miss F(z) − F(z') by at most Tolerance of it — unless <see cref="MaximumSteps"/> stops
    /// the refinement first (see <see cref="TokenExplanation.CompletenessGap"/>).
    /// </summary>
    public double Tolerance { get; set; } = 0.005;

    /// <summary>Most quadrature nodes spent on one explanation; when the next halving would pass it, the remaining panels are accepted as they are (see <see cref="TokenExplanation.CompletenessGap"/>).</summary>
    public int MaximumSteps { get; set; } = 1024;

    /// <summary>
    /// The baseline: null (default) for the all-zero input vector at every position; a token id for that token's input vector
    /// (its embedding row, or its one-hot vector) at every position, e.g. the padding or unknown token. The bag's baseline is
    /// always the empty bag (all n-gram counts 0).
    /// </summary>
    public int? BaselineToken { get; set; }

    /// <summary>A copy of these options.</summary>
    public TokenExplainerOptions Clone() => (TokenExplainerOptions)MemberwiseClone();
}

/// <summary>
/// The bag of features (n-gram counts) that the networks' wide input reads for the explained sequence. For occlusion,
/// <see cref="WithoutToken"/> gives the bag with the features token t forms left out.
/// </summary>
/// <param name="Ids">Feature ids in [0, W).</param>
/// <param name="Values">One value per id.</param>
public sealed record BagInput(int[] Ids, double[] Values)
{
    /// <summary>For occlusion: the bag of the sequence without the features that token t forms.</summary>
    public Func<int, (int[] Ids, double[] Values)>? WithoutToken { get; init; }
}

/// <summary>Per-token contributions to one scalar output (see <see cref="ExplainedScore"/>).</summary>
/// <param name="Contributions">One contribution per token, in input order (through the tokens' input vectors).</param>
/// <param name="Score">The explained output on the input, F(z).</param>
/// <param name="BaselineScore">The explained output on the baseline, F(z').</param>
public sealed record TokenExplanation(double[] Contributions, double Score, double BaselineScore)
{
    /// <summary>
    /// Integrated gradients with a bag: one contribution per bag feature, aligned with <see cref="BagInput.Ids"/> (for the
    /// caller to hand to the tokens that form it). Empty otherwise (occlusion folds a token's features into its contribution).
    /// </summary>
    public double[] FeatureContributions { get; init; } = Array.Empty<double>();

    /// <summary>Quadrature nodes integrated gradients spent (the forward and backward rows, ends aside); 0 for occlusion.</summary>
    public int QuadratureNodes { get; init; }

    /// <summary>
    /// Σ contributions (tokens and features) − (Score − BaselineScore): the quadrature error of integrated gradients (zero for
    /// the exact integral); not meaningful for occlusion, whose contributions need not add up.
    /// </summary>
    public double CompletenessGap => Contributions.Sum() + FeatureContributions.Sum() - (Score - BaselineScore);

    /// <summary><see cref="CompletenessGap"/> relative to |Score − BaselineScore|.</summary>
    public double RelativeCompletenessGap => System.Math.Abs(CompletenessGap) / System.Math.Max(System.Math.Abs(Score - BaselineScore), 1e-12);
}

/// <summary>
/// Explains a token network's predictions token by token: integrated gradients or occlusion (see
/// <see cref="AttributionMethod"/>), each as one batched pass per member over all the rows it needs. Works for any
/// <see cref="SequenceNetwork{T}"/> with embedding or one-hot input, every cell, stacked and bidirectional, many-to-one
/// (explain an output of the sequence) or many-to-many (explain an output at one step); and for an ensemble of such
/// networks with a bag of n-grams as their wide input, explaining the ensemble's score (<see cref="ExplainedScore"/>).
/// </summary>
/// <remarks>Owns inference copies of the networks sharing their weights and never touches the parameter gradients, so it
/// may run between training steps. One instance is not thread-safe; create one per thread.</remarks>
/// <example><code>
/// var explainer = new TokenExplainer&lt;float&gt;(network);            // integrated gradients, zero baseline
/// var e = explainer.Explain(tokens, output: 0);                     // contributions to logit 0
/// </code></example>
public sealed class TokenExplainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>One member network and its buffers.</summary>
    private sealed class Member(SequenceNetwork<T> net)
    {
        public readonly SequenceNetwork<T> Net = net;
        public readonly int I = net.Options.RecurrentInputSize;
        public T[] Inputs = Array.Empty<T>();   // [R, S, I], exactly
        public T[] DOutput = Array.Empty<T>();  // [R, O] or [R, S, O]
        public T[] DInputs = Array.Empty<T>();  // [R, S, I]
        public T[] X = Array.Empty<T>(), X0 = Array.Empty<T>(); // [S, I]: the input and the baseline
        public T[] Outputs = Array.Empty<T>();  // the last pass's output rows [R, O] or [R, S, O]
        public int PerRow;                      // outputs per row
    }

    private readonly Member[] _members;
    private readonly ExplainedScore _explained;
    private readonly TokenExplainerOptions _options;
    private readonly double[] _nodes = Array.Empty<double>(), _weights = Array.Empty<double>();
    private readonly double[] _refineNodes = Array.Empty<double>(), _refineWeights = Array.Empty<double>();
    private readonly int _o, _initialPanels, _wide;
    private double[] _rowScores = Array.Empty<double>(); // F per row
    private double[] _dScores = Array.Empty<double>();   // ∂F/∂y [R, K, O]
    private double[] _logits = Array.Empty<double>();    // y [R, K, O] at the explained step

    /// <summary>An explainer of one output of <paramref name="network"/> (its weights are read at every call, so later training shows).</summary>
    public TokenExplainer(SequenceNetwork<T> network, TokenExplainerOptions? options = null)
        : this(new[] { network ?? throw new ArgumentNullException(nameof(network)) }, ExplainedScore.Output, options) { }

    /// <summary>
    /// An explainer of the score <paramref name="score"/> of the networks <paramref name="members"/> (same vocabulary, head
    /// and wide input; each with its own embedding), moved together along one path.
    /// </summary>
    public TokenExplainer(IReadOnlyList<SequenceNetwork<T>> members, ExplainedScore score, TokenExplainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0) throw new ArgumentException("There is no network to explain.", nameof(members));
        if (!Enum.IsDefined(score)) throw new ArgumentOutOfRangeException(nameof(score), score, "Unknown explained score.");
        if (score == ExplainedScore.Output && members.Count != 1) throw new ArgumentException($"A raw output is one network's; {members.Count} networks need ExplainedScore.MeanProbabilityLogOdds.", nameof(score));
        var o = members[0].Options;
        foreach (var m in members)
        {
            if (m.Options.Input == InputKind.Dense) throw new ArgumentException("TokenExplainer explains token networks (embedding or one-hot input); this network reads dense features.", nameof(members));
            if (m.Options.VocabularySize != o.VocabularySize || m.Options.OutputSize != o.OutputSize || m.Options.Output != o.Output || m.Options.WideFeatures != o.WideFeatures)
                throw new ArgumentException("The member networks differ in vocabulary, head or wide input; an ensemble's members share them.", nameof(members));
        }
        _options = (options ?? new TokenExplainerOptions()).Clone();
        if (_options.Steps < 1 || _options.Steps > 1024) throw new ArgumentOutOfRangeException(nameof(options), _options.Steps, "Steps (quadrature nodes per panel) must be in 1..1024.");
        if (_options.RefinementSteps < 1 || _options.RefinementSteps > _options.Steps) throw new ArgumentOutOfRangeException(nameof(options), _options.RefinementSteps, $"RefinementSteps must be in 1..Steps ({_options.Steps}).");
        if (_options.MaximumSteps < _options.Steps) throw new ArgumentOutOfRangeException(nameof(options), _options.MaximumSteps, $"MaximumSteps must be at least Steps ({_options.Steps}).");
        if (!(_options.Tolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(options), _options.Tolerance, "Tolerance must be a non-negative number.");
        if (_options.BaselineToken is int b && (uint)b >= (uint)o.VocabularySize)
            throw new ArgumentOutOfRangeException(nameof(options), b, $"BaselineToken {b} is outside the vocabulary [0, {o.VocabularySize}).");
        if (!Enum.IsDefined(_options.Method)) throw new ArgumentOutOfRangeException(nameof(options), _options.Method, "Unknown attribution method.");
        _members = members.Select(m => new Member(m.CloneForInference())).ToArray();
        _explained = score;
        _o = o.OutputSize; _wide = o.WideFeatures;
        // A ReLU network is piecewise linear along the path, so the integrand is piecewise constant: one node per panel is
        // exact between kinks, and Steps panels of one node (the composite midpoint rule) refine kink by kink far cheaper than
        // wide Gauss–Legendre panels. Smooth cells: one panel of Steps Gauss–Legendre nodes, exponentially accurate; refined
        // halves get RefinementSteps nodes (a refined stretch is rough, where a few nodes on a narrow panel beat many on a wide one).
        bool relu = members.Any(m => m.Options.Cell == Cells.CellType.RnnRelu);
        _initialPanels = relu ? _options.Steps : 1;
        if (_options.Method == AttributionMethod.IntegratedGradients)
        {
            (_nodes, _weights) = GaussLegendre.OnUnitInterval(_options.Steps / _initialPanels);
            (_refineNodes, _refineWeights) = GaussLegendre.OnUnitInterval(relu ? 1 : _options.RefinementSteps);
        }
    }

    /// <summary>The settings (a copy).</summary>
    public TokenExplainerOptions Options => _options.Clone();

    /// <summary>
    /// Contributions of each token of <paramref name="tokens"/> to output <paramref name="output"/> (a logit index of the
    /// head; with <see cref="ExplainedScore.MeanProbabilityLogOdds"/>, the class): of the sequence for a many-to-one network,
    /// of step <paramref name="step"/> for a many-to-many one. <paramref name="bag"/>: the wide input, for networks that
    /// have one (null reads as the empty bag); its baseline is the empty bag. <paramref name="characters"/>: each token's
    /// character ids, for networks with character features — a token's input vector is then its embedding row and its
    /// character features side by side, as the network's input stage makes them (the baseline's character part is zero).
    /// </summary>
    public TokenExplanation Explain(ReadOnlySpan<int> tokens, int output, int step = -1, BagInput? bag = null, IReadOnlyList<int[]>? characters = null)
    {
        bool perStep = _members[0].Net.Options.Output == OutputMode.PerStep;
        int S = tokens.Length;
        if (S == 0) throw new ArgumentException("There is nothing to explain in an empty sequence.", nameof(tokens));
        if (perStep && (uint)step >= (uint)S) throw new ArgumentOutOfRangeException(nameof(step), step, $"A many-to-many network needs the step to explain, in 0..{System.Math.Max(0, S - 1)}.");
        if (!perStep && step != -1) throw new ArgumentOutOfRangeException(nameof(step), step, "A many-to-one network explains the whole sequence: leave step at −1.");
        ValidateOutput(output, nameof(output));
        bag = Prepare(tokens, bag, characters);
        return _options.Method == AttributionMethod.IntegratedGradients
            ? IntegratedGradients(S, output, perStep ? step : 0, bag)
            : Occlusion(S, new[] { output }, new[] { perStep ? step : 0 }, bag)[0];
    }

    /// <summary>
    /// A many-to-many network (a tagger): the contributions of every token to output <paramref name="outputs"/>[t] at every
    /// step t (e.g. the tag predicted there), one explanation per step. Occlusion shares one batched pass between all the
    /// steps (the occluded rows are the same; only the explained output differs); integrated gradients explain step by step.
    /// </summary>
    public TokenExplanation[] ExplainEveryStep(ReadOnlySpan<int> tokens, ReadOnlySpan<int> outputs, IReadOnlyList<int[]>? characters = null)
    {
        if (_members[0].Net.Options.Output != OutputMode.PerStep) throw new InvalidOperationException("ExplainEveryStep explains a many-to-many network; this one has one output per sequence: call Explain.");
        int S = tokens.Length;
        if (outputs.Length != S) throw new ArgumentException($"Give one output to explain per step: {S} tokens, {outputs.Length} outputs.", nameof(outputs));
        foreach (int o in outputs) ValidateOutput(o, nameof(outputs));
        if (_options.Method == AttributionMethod.IntegratedGradients)
        {
            var each = new TokenExplanation[S];
            for (int t = 0; t < S; t++) each[t] = Explain(tokens, outputs[t], t, null, characters);
            return each;
        }
        var bag = Prepare(tokens, null, characters);
        return Occlusion(S, outputs.ToArray(), Enumerable.Range(0, S).ToArray(), bag);
    }

    private void ValidateOutput(int output, string name)
    {
        if ((uint)output >= (uint)_o) throw new ArgumentOutOfRangeException(name, output, $"The network has {_o} outputs.");
    }

    /// <summary>Checks the tokens, bag and characters, fills every member's input and baseline vectors; the bag to read (the empty bag for a wide network given none).</summary>
    private BagInput? Prepare(ReadOnlySpan<int> tokens, BagInput? bag, IReadOnlyList<int[]>? characters)
    {
        var no = _members[0].Net.Options;
        int S = tokens.Length;
        if (S == 0) throw new ArgumentException("There is nothing to explain in an empty sequence.", nameof(tokens));
        for (int t = 0; t < S; t++)
            if ((uint)tokens[t] >= (uint)no.VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[t], $"Token id {tokens[t]} at position {t} is outside the vocabulary [0, {no.VocabularySize}).");
        if (bag is not null)
        {
            if (_wide == 0) throw new ArgumentException("The networks have no wide input to read a bag.", nameof(bag));
            ValidateBag(bag.Ids, bag.Values, nameof(bag));
        }
        bag ??= _wide > 0 ? new BagInput(Array.Empty<int>(), Array.Empty<double>()) : null;
        if (_options.Method == AttributionMethod.Occlusion && bag is { Ids.Length: > 0, WithoutToken: null })
            throw new ArgumentException("Occlusion of a sequence with a bag needs BagInput.WithoutToken (the bag without each token's features).", nameof(bag));
        if (_members.Any(m => m.Net.Options.HasCharacterFeatures) && (characters is null || characters.Count != S))
            throw new ArgumentException($"The network reads character features: give each of the {S} tokens' character ids.", nameof(characters));
        foreach (var m in _members) FillInputAndBaseline(m, tokens, characters);
        return bag;
    }

    private void ValidateBag(int[] ids, double[] values, string name)
    {
        if (ids.Length != values.Length) throw new ArgumentException($"The bag has {ids.Length} ids and {values.Length} values; expected one value per id.", name);
        foreach (int id in ids)
            if ((uint)id >= (uint)_wide) throw new ArgumentOutOfRangeException(name, id, $"Bag feature id {id} is outside the wide input [0, {_wide}).");
        foreach (double v in values)
            if (!double.IsFinite(v)) throw new ArgumentException($"The bag holds the value {v}; expected finite numbers.", name);
    }

    private TokenExplanation IntegratedGradients(int S, int output, int step, BagInput? bag)
    {
        int F = bag?.Ids.Length ?? 0;
        var panels = Enumerable.Range(0, _initialPanels).Select(p => new Panel { A = (double)p / _initialPanels, B = (double)(p + 1) / _initialPanels, Refined = false }).ToList();
        double score = double.NaN, baselineScore = double.NaN, allowed = 0;
        int nodesUsed = 0;
        var dFeature = Array.Empty<double>(); // ∂F/∂b_f at every node row [nodeRows, F]
        while (true)
        {
            // One batched pass: the nodes of every new panel, then the ends not yet scored (round 0: the input α = 1, the baseline α = 0).
            var pending = panels.Where(p => p.Sums is null).ToList();
            var alphas = new List<double>();
            var rowStart = new int[pending.Count];
            for (int q = 0; q < pending.Count; q++)
            {
                rowStart[q] = alphas.Count;
                foreach (double node in NodesOf(pending[q])) alphas.Add(pending[q].A + (pending[q].B - pending[q].A) * node);
            }
            int nodeRows = alphas.Count;
            var ends = new List<double>();
            if (nodesUsed == 0) { ends.Add(1); ends.Add(0); }
            foreach (var p in pending)
            {
                if (double.IsNaN(p.FA) && p.A != 0 && !ends.Contains(p.A)) ends.Add(p.A);
                if (double.IsNaN(p.FB) && p.B != 1 && !ends.Contains(p.B)) ends.Add(p.B);
            }
            alphas.AddRange(ends);
            int R = alphas.Count;
            foreach (var m in _members)
            {
                int SI = S * m.I;
                Span<T> inputs = ExactRows(ref m.Inputs, R * SI);
                for (int r = 0; r < R; r++)
                {
                    Span<T> row = inputs.Slice(r * SI, SI);
                    // exactly the input and the baseline at the path's ends, not x' + 1·(x − x')
                    if (alphas[r] == 1 && r >= nodeRows) m.X.AsSpan(0, SI).CopyTo(row);
                    else if (alphas[r] == 0 && r >= nodeRows) m.X0.AsSpan(0, SI).CopyTo(row);
                    else Interpolate(m.X.AsSpan(0, SI), m.X0.AsSpan(0, SI), alphas[r], row);
                }
            }
            var rowBag = bag is null ? null : ScaledBags(bag, alphas);
            RunMembers(R, S, rowBag);
            ScoreRows(R, step, output, gradients: true);
            var endScore = new Dictionary<double, double>();
            for (int e = 0; e < ends.Count; e++) endScore[ends[e]] = _rowScores[nodeRows + e];
            if (nodesUsed == 0)
            {
                score = endScore[1]; baselineScore = endScore[0];
                // the panels' errors may add up (in absolute value) to Tolerance·|F(z) − F(z')|, or to float round-off
                allowed = _options.Tolerance * System.Math.Max(System.Math.Abs(score - baselineScore), RoundOff * (1 + System.Math.Abs(score) + System.Math.Abs(baselineScore)));
            }
            nodesUsed += nodeRows;
            Backward(R, S, nodeRows, step);
            if (F > 0) dFeature = FeatureGradients(nodeRows, bag!.Ids);

            for (int q = 0; q < pending.Count; q++)
            {
                var p = pending[q];
                if (double.IsNaN(p.FA)) p.FA = p.A == 0 ? baselineScore : endScore[p.A];
                if (double.IsNaN(p.FB)) p.FB = p.B == 1 ? score : endScore[p.B];
                var weights = WeightsOf(p);
                // panel [a, b]: IG_t += (b − a) Σ_i Σ_j (x_i − x'_i)_tj Σ_k w_k g_i[k, t, j]; IG_f += (b − a) b_f Σ_k w_k ∂F/∂b_f[k]
                p.Sums = new double[S + F];
                double width = p.B - p.A, total = 0;
                foreach (var m in _members)
                {
                    int SI = S * m.I;
                    ReadOnlySpan<T> x = m.X.AsSpan(0, SI), x0 = m.X0.AsSpan(0, SI), g = m.DInputs.AsSpan(0, R * SI);
                    for (int t = 0; t < S; t++)
                    {
                        double c = 0;
                        for (int j = t * m.I; j < (t + 1) * m.I; j++)
                        {
                            double delta = double.CreateChecked(x[j] - x0[j]);
                            if (delta == 0) continue;
                            double avg = 0;
                            for (int k = 0; k < weights.Length; k++) avg += weights[k] * double.CreateChecked(g[(rowStart[q] + k) * SI + j]);
                            c += delta * avg;
                        }
                        p.Sums[t] += width * c;
                    }
                }
                for (int f = 0; f < F; f++)
                {
                    double avg = 0;
                    for (int k = 0; k < weights.Length; k++) avg += weights[k] * dFeature[(rowStart[q] + k) * F + f];
                    p.Sums[S + f] = width * bag!.Values[f] * avg;
                }
                foreach (double v in p.Sums) total += v;
                p.Error = total - (p.FB - p.FA);
            }

            // Done when the errors add up to no more than allowed; else halve the worst panels, as many as it takes for the
            // rest to fit in half the allowance (a kink's error halves with its panel, a smooth stretch's falls much faster).
            double sumErrors = panels.Sum(p => System.Math.Abs(p.Error));
            if (sumErrors <= allowed) break;
            var split = new List<Panel>();
            double rest = sumErrors;
            foreach (var p in panels.OrderByDescending(p => System.Math.Abs(p.Error)))
            {
                if (rest <= allowed / 2) break;
                split.Add(p);
                rest -= System.Math.Abs(p.Error);
            }
            // within the budget, the worst panels first
            int cost = 2 * _refineNodes.Length, affordable = (_options.MaximumSteps - nodesUsed) / cost;
            if (affordable < 1) break;
            if (split.Count > affordable) split.RemoveRange(affordable, split.Count - affordable);
            foreach (var p in split)
            {
                double mid = (p.A + p.B) / 2;
                panels.Remove(p);
                panels.Add(new Panel { A = p.A, B = mid, FA = p.FA, Refined = true });
                panels.Add(new Panel { A = mid, B = p.B, FB = p.FB, Refined = true });
            }
        }
        var contributions = new double[S];
        var features = new double[F];
        foreach (var p in panels)
        {
            for (int t = 0; t < S; t++) contributions[t] += p.Sums![t];
            for (int f = 0; f < F; f++) features[f] += p.Sums![S + f];
        }
        return new TokenExplanation(contributions, score, baselineScore) { FeatureContributions = features, QuadratureNodes = nodesUsed };
    }

    private double[] NodesOf(Panel p) => p.Refined ? _refineNodes : _nodes;
    private double[] WeightsOf(Panel p) => p.Refined ? _refineWeights : _weights;

    /// <summary>A stretch [A, B] of the path, with F at its ends, and once integrated, its contributions (tokens, then features) and their error.</summary>
    private sealed class Panel
    {
        public double A, B, FA = double.NaN, FB = double.NaN, Error;
        public bool Refined;
        public double[]? Sums;
    }

    /// <summary>Float round-off scale of a score: below it a completeness gap cannot be resolved.</summary>
    private static readonly double RoundOff = 1e3 * double.CreateChecked(T.BitIncrement(T.One) - T.One);

    private static void Interpolate(ReadOnlySpan<T> x, ReadOnlySpan<T> x0, double alpha, Span<T> row)
    {
        T a = T.CreateChecked(alpha);
        for (int j = 0; j < row.Length; j++) row[j] = x0[j] + a * (x[j] - x0[j]);
    }

    /// <summary>Row r's bag: the sequence's bag scaled by α_r (the path from the empty bag).</summary>
    private static SparseRows<T> ScaledBags(BagInput bag, List<double> alphas)
    {
        int F = bag.Ids.Length, R = alphas.Count;
        var offsets = new int[R + 1];
        var ids = new int[R * F];
        var values = new T[R * F];
        for (int r = 0; r < R; r++)
        {
            offsets[r + 1] = (r + 1) * F;
            bag.Ids.CopyTo(ids, r * F);
            for (int f = 0; f < F; f++) values[r * F + f] = T.CreateChecked(alphas[r] == 1 ? bag.Values[f] : alphas[r] * bag.Values[f]);
        }
        return new SparseRows<T>(offsets, ids, values);
    }

    /// <summary>Occlusion, one batched pass shared by every (step, output) pair explained.</summary>
    private TokenExplanation[] Occlusion(int S, int[] outputs, int[] steps, BagInput? bag)
    {
        int R = S + 2;
        // row 0: z;  row 1+t: z with position t set to the baseline's vectors and the bag without t's features;  row S+1: z'
        foreach (var m in _members)
        {
            int SI = S * m.I;
            Span<T> inputs = ExactRows(ref m.Inputs, R * SI);
            ReadOnlySpan<T> x = m.X.AsSpan(0, SI), x0 = m.X0.AsSpan(0, SI);
            for (int r = 0; r <= S; r++) x.CopyTo(inputs.Slice(r * SI, SI));
            for (int t = 0; t < S; t++) x0.Slice(t * m.I, m.I).CopyTo(inputs.Slice((1 + t) * SI + t * m.I, m.I));
            x0.CopyTo(inputs.Slice((S + 1) * SI, SI));
        }
        SparseRows<T>? rowBag = null;
        if (bag is not null)
        {
            var rows = new List<(int[] Ids, T[] Values)> { (bag.Ids, ToT(bag.Values)) };
            for (int t = 0; t < S; t++)
            {
                var (ids, values) = bag.Ids.Length == 0 ? (bag.Ids, bag.Values) : bag.WithoutToken!(t);
                ValidateBag(ids, values, nameof(bag));
                rows.Add((ids, ToT(values)));
            }
            rows.Add((Array.Empty<int>(), Array.Empty<T>()));
            rowBag = SparseRows<T>.FromRows(rows);
        }
        RunMembers(R, S, rowBag);
        var explained = new TokenExplanation[outputs.Length];
        for (int k = 0; k < outputs.Length; k++)
        {
            ScoreRows(R, steps[k], outputs[k], gradients: false);
            double score = _rowScores[0];
            var contributions = new double[S];
            for (int t = 0; t < S; t++) contributions[t] = score - _rowScores[1 + t];
            explained[k] = new TokenExplanation(contributions, score, _rowScores[S + 1]);
        }
        return explained;
    }

    private static T[] ToT(double[] values) => values.Select(T.CreateChecked).ToArray();

    /// <summary>Runs every member on its input rows (and the bag rows), keeping each member's output rows in its Outputs.</summary>
    private void RunMembers(int R, int S, SparseRows<T>? bag)
    {
        foreach (var m in _members)
        {
            var batch = SequenceBatch<T>.FromFeatures(m.Inputs, R, S, m.I);
            if (bag is not null) batch.WithBag(bag);
            ReadOnlySpan<T> outp = m.Net.ForwardInputVectors(batch);
            outp.CopyTo(Rows(ref m.Outputs, outp.Length));
            m.PerRow = outp.Length / R;
        }
    }

    /// <summary>From the members' outputs at <paramref name="step"/>: F per row into _rowScores and, with <paramref name="gradients"/>, ∂F/∂y per row and member into _dScores.</summary>
    private void ScoreRows(int R, int step, int output, bool gradients)
    {
        int K = _members.Length, KO = K * _o;
        var logits = Rows(ref _logits, R * KO);
        for (int i = 0; i < K; i++)
        {
            var m = _members[i];
            for (int r = 0; r < R; r++)
                for (int o = 0; o < _o; o++) logits[r * KO + i * _o + o] = double.CreateChecked(m.Outputs[r * m.PerRow + step * _o + o]);
        }
        var scores = Rows(ref _rowScores, R);
        var d = Rows(ref _dScores, gradients ? R * KO : 0);
        for (int r = 0; r < R; r++)
        {
            ReadOnlySpan<double> y = logits.Slice(r * KO, KO);
            if (_explained == ExplainedScore.Output)
            {
                scores[r] = y[output];
                if (gradients) { d.Slice(r * KO, KO).Clear(); d[r * KO + output] = 1; }
            }
            else scores[r] = EnsembleScore.LogOddsOfMeanProbability(y, _o, output, gradients ? d.Slice(r * KO, KO) : default);
        }
    }

    /// <summary>Every member's input gradient: ∂F/∂x_i of the first <paramref name="nodeRows"/> rows into its DInputs (the end rows, only scored, get 0).</summary>
    private void Backward(int R, int S, int nodeRows, int step)
    {
        int K = _members.Length, KO = K * _o;
        for (int i = 0; i < K; i++)
        {
            var m = _members[i];
            int perRow = m.Net.Options.Output == OutputMode.PerStep ? S * _o : _o;
            Span<T> dOut = Rows(ref m.DOutput, R * perRow);
            dOut.Clear();
            for (int r = 0; r < nodeRows; r++)
                for (int o = 0; o < _o; o++) dOut[r * perRow + step * _o + o] = T.CreateChecked(_dScores[r * KO + i * _o + o]);
            m.Net.InputGradient(dOut, Rows(ref m.DInputs, R * S * m.I));
        }
    }

    /// <summary>∂F/∂b_f [nodeRows, F] = Σ_i Σ_o ∂F/∂y_io · wide_i[o, f] (the wide part is linear in the bag).</summary>
    private double[] FeatureGradients(int nodeRows, int[] ids)
    {
        int K = _members.Length, KO = K * _o, F = ids.Length;
        var d = new double[nodeRows * F];
        for (int i = 0; i < K; i++)
        {
            var p = _members[i].Net.Parameters;
            ReadOnlySpan<T> wide = p.Read(p["wide.weight"]); // [O, W]
            for (int r = 0; r < nodeRows; r++)
                for (int o = 0; o < _o; o++)
                {
                    double dy = _dScores[r * KO + i * _o + o];
                    if (dy == 0) continue;
                    for (int f = 0; f < F; f++) d[r * F + f] += dy * double.CreateChecked(wide[o * _wide + ids[f]]);
                }
        }
        return d;
    }

    /// <summary>The buffer, exactly <paramref name="size"/> long (a batch's features are its whole array).</summary>
    private static Span<T> ExactRows(ref T[] buffer, int size)
    {
        if (buffer.Length != size) buffer = new T[size];
        return buffer;
    }

    /// <summary>
    /// x [S, I]: the tokens' input vectors as the member's input stage makes them (embedding rows or one-hot vectors, with
    /// character features beside them when the network has them); x' [S, I]: the baseline's (zero, or the baseline token's
    /// embedding row or one-hot vector with a zero character part).
    /// </summary>
    private void FillInputAndBaseline(Member m, ReadOnlySpan<int> tokens, IReadOnlyList<int[]>? characters)
    {
        int S = tokens.Length, I = m.I;
        Span<T> x = Rows(ref m.X, S * I), x0 = Rows(ref m.X0, S * I);
        x.Clear(); x0.Clear();
        var o = m.Net.Options;
        bool embedding = o.Input == InputKind.Embedding;
        int width = embedding ? o.EmbeddingSize : o.VocabularySize; // the token's own part of the vector
        ReadOnlySpan<T> table = embedding ? m.Net.Parameters.Read(m.Net.Parameters["embedding.weight"]) : default;
        if (o.HasCharacterFeatures)
        {
            var words = characters!;
            int c = System.Math.Max(1, words.Max(w => w.Length));
            var flat = new int[S * c];
            for (int t = 0; t < S; t++) words[t].CopyTo(flat, t * c);
            var batch = SequenceBatch<T>.FromTokensAndCharacters(tokens.ToArray(), 1, S, null, flat, words.Select(w => w.Length).ToArray(), c);
            m.Net.InputVectors(batch, x);
        }
        for (int t = 0; t < S; t++)
        {
            if (!o.HasCharacterFeatures)
            {
                if (embedding) table.Slice(tokens[t] * width, width).CopyTo(x.Slice(t * I, width));
                else x[t * I + tokens[t]] = T.One;
            }
            if (_options.BaselineToken is not int b) continue;
            if (embedding) table.Slice(b * width, width).CopyTo(x0.Slice(t * I, width));
            else x0[t * I + b] = T.One;
        }
    }

    private static Span<TItem> Rows<TItem>(ref TItem[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new TItem[size];
        return buffer.AsSpan(0, size);
    }
}
