using System;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Explanations;

// Shape key: S = tokens in the sequence, I = width of the first layer's input vector (E for an embedding, V for one-hot),
// O = head outputs, m = quadrature nodes, R = rows of one batched pass.
//
// Integrated gradients (Sundararajan et al. 2017) along the straight path x(α) = x' + α (x − x') from the baseline x' to
// the input x, both [S, I]:
//     IG_t = Σ_j (x − x')_tj · ∫₀¹ ∂F/∂x_tj (x(α)) dα  ≈  Σ_j (x − x')_tj · Σ_k w_k ∂F/∂x_tj (x(α_k))
// with Gauss–Legendre nodes α_k and weights w_k. Completeness: Σ_t IG_t = F(x) − F(x') up to the quadrature error, and that
// error can be measured exactly on any panel [a, b] of the path: its share must add up to F(x(b)) − F(x(a)). The worst panels
// are halved until the errors fit the tolerance (adaptive composite Gauss–Legendre), all new panels of one round in one
// batched forward and backward pass.
// Occlusion: C_t = F(x) − F(x with position t's input vector replaced by the baseline's).

/// <summary>Which attribution a <see cref="TokenExplainer{T}"/> computes.</summary>
public enum AttributionMethod
{
    /// <summary>
    /// Integrated gradients through the first layer's input vectors (the embedding rows), from the baseline to the input
    /// along a straight line, integrated with <see cref="TokenExplainerOptions.Steps"/> Gauss–Legendre nodes per panel,
    /// panels halved until the contributions add up to score(input) − score(baseline) within
    /// <see cref="TokenExplainerOptions.Tolerance"/>.
    /// </summary>
    IntegratedGradients,

    /// <summary>
    /// Leave one token out: a token's contribution is score(input) − score(input with that position's input vector
    /// replaced by the baseline vector). The sequence keeps its length, so no other token moves.
    /// </summary>
    Occlusion,
}

/// <summary>Settings of a <see cref="TokenExplainer{T}"/>.</summary>
public sealed class TokenExplainerOptions
{
    /// <summary>The attribution method.</summary>
    public AttributionMethod Method { get; set; } = AttributionMethod.IntegratedGradients;

    /// <summary>
    /// Quadrature nodes of the first pass of integrated gradients: one batched forward and backward pass of Steps + 2 rows
    /// (the nodes, the input and the baseline, plus the panel ends). Smooth cells (tanh RNN, LSTM, GRU): [0, 1] as one panel
    /// of Steps Gauss–Legendre nodes. ReLU RNN: Steps panels of one midpoint node each (the path integrand of a piecewise
    /// linear network is piecewise constant). Panels are then halved where needed (see <see cref="Tolerance"/>).
    /// </summary>
    public int Steps { get; set; } = 16;

    /// <summary>
    /// Completeness target. Each panel [a, b] of the path has an exactly known error: its contributions minus
    /// F(x(b)) − F(x(a)). While the panels' absolute errors add up to more than Tolerance · |F(x) − F(x')|, the worst panels
    /// are halved and integrated again in the next batched pass (only there, where the path is rough: ReLU kinks, saturating
    /// gates), so the contributions miss F(x) − F(x') by at most Tolerance of it.
    /// </summary>
    public double Tolerance { get; set; } = 0.005;

    /// <summary>Most quadrature nodes spent on one explanation; when the next halving would pass it, the remaining panels are accepted as they are (see <see cref="TokenExplanation.CompletenessGap"/>).</summary>
    public int MaximumSteps { get; set; } = 256;

    /// <summary>
    /// The baseline: null (default) for the all-zero input vector at every position; a token id for that token's input vector
    /// (its embedding row, or its one-hot vector) at every position, e.g. the padding or unknown token.
    /// </summary>
    public int? BaselineToken { get; set; }

    /// <summary>A copy of these options.</summary>
    public TokenExplainerOptions Clone() => (TokenExplainerOptions)MemberwiseClone();
}

/// <summary>Per-token contributions to one scalar output of a network (a logit, before any sigmoid or softmax).</summary>
/// <param name="Contributions">One contribution per token, in input order.</param>
/// <param name="Score">The explained output on the input, F(x).</param>
/// <param name="BaselineScore">The explained output on the baseline, F(x').</param>
public sealed record TokenExplanation(double[] Contributions, double Score, double BaselineScore)
{
    /// <summary>Quadrature nodes integrated gradients spent (the forward and backward rows, ends aside); 0 for occlusion.</summary>
    public int QuadratureNodes { get; init; }

    /// <summary>
    /// Σ contributions − (Score − BaselineScore): the quadrature error of integrated gradients (zero for the exact integral);
    /// not meaningful for occlusion, whose contributions need not add up.
    /// </summary>
    public double CompletenessGap
    {
        get
        {
            double sum = 0;
            foreach (double c in Contributions) sum += c;
            return sum - (Score - BaselineScore);
        }
    }
}

/// <summary>
/// Explains a token network's predictions token by token: integrated gradients or occlusion (see
/// <see cref="AttributionMethod"/>), each as one batched pass over all the rows it needs. Works for any
/// <see cref="SequenceNetwork{T}"/> with embedding or one-hot input, every cell, stacked and bidirectional, many-to-one
/// (explain an output of the sequence) or many-to-many (explain an output at one step).
/// </summary>
/// <remarks>Owns an inference copy of the network sharing its weights and never touches the parameter gradients, so it may
/// run between training steps. One instance is not thread-safe; create one per thread.</remarks>
/// <example><code>
/// var explainer = new TokenExplainer&lt;float&gt;(network);            // integrated gradients, 32 nodes, zero baseline
/// var e = explainer.Explain(tokens, output: 0);                     // contributions to logit 0
/// </code></example>
public sealed class TokenExplainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SequenceNetwork<T> _net;
    private readonly TokenExplainerOptions _options;
    private readonly double[] _nodes = Array.Empty<double>(), _weights = Array.Empty<double>();
    private readonly int _i, _o, _initialPanels;
    private T[] _inputs = Array.Empty<T>();   // [R, S, I], exactly
    private T[] _dOutput = Array.Empty<T>();  // [R, O] or [R, S, O]
    private T[] _dInputs = Array.Empty<T>();  // [R, S, I]
    private T[] _x = Array.Empty<T>(), _baseline = Array.Empty<T>(); // [S, I]

    /// <summary>An explainer over <paramref name="network"/>'s weights (read at every call, so later training shows).</summary>
    public TokenExplainer(SequenceNetwork<T> network, TokenExplainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var o = network.Options;
        if (o.Input == InputKind.Dense) throw new ArgumentException("TokenExplainer explains token networks (embedding or one-hot input); this network reads dense features.", nameof(network));
        _options = (options ?? new TokenExplainerOptions()).Clone();
        if (_options.Steps < 1 || _options.Steps > 1024) throw new ArgumentOutOfRangeException(nameof(options), _options.Steps, "Steps (quadrature nodes per panel) must be in 1..1024.");
        if (_options.MaximumSteps < _options.Steps) throw new ArgumentOutOfRangeException(nameof(options), _options.MaximumSteps, $"MaximumSteps must be at least Steps ({_options.Steps}).");
        if (!(_options.Tolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(options), _options.Tolerance, "Tolerance must be a non-negative number.");
        if (_options.BaselineToken is int b && (uint)b >= (uint)o.VocabularySize)
            throw new ArgumentOutOfRangeException(nameof(options), b, $"BaselineToken {b} is outside the vocabulary [0, {o.VocabularySize}).");
        if (!Enum.IsDefined(_options.Method)) throw new ArgumentOutOfRangeException(nameof(options), _options.Method, "Unknown attribution method.");
        _net = network.CloneForInference();
        _i = o.RecurrentInputSize; _o = o.OutputSize;
        // A ReLU network is piecewise linear along the path, so the integrand is piecewise constant: one node per panel is
        // exact between kinks, and Steps panels of one node (the composite midpoint rule) refine kink by kink far cheaper than
        // wide Gauss–Legendre panels. Smooth cells: one panel of Steps Gauss–Legendre nodes, exponentially accurate.
        _initialPanels = o.Cell == Cells.CellType.RnnRelu ? _options.Steps : 1;
        if (_options.Method == AttributionMethod.IntegratedGradients) (_nodes, _weights) = GaussLegendre.OnUnitInterval(_options.Steps / _initialPanels);
    }

    /// <summary>The settings (a copy).</summary>
    public TokenExplainerOptions Options => _options.Clone();

    /// <summary>
    /// Contributions of each token of <paramref name="tokens"/> to output <paramref name="output"/> (a logit index of the
    /// head): of the sequence for a many-to-one network, of step <paramref name="step"/> for a many-to-many one.
    /// </summary>
    public TokenExplanation Explain(ReadOnlySpan<int> tokens, int output, int step = -1)
    {
        var no = _net.Options;
        int S = tokens.Length;
        if (S == 0) throw new ArgumentException("There is nothing to explain in an empty sequence.", nameof(tokens));
        for (int t = 0; t < S; t++)
            if ((uint)tokens[t] >= (uint)no.VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[t], $"Token id {tokens[t]} at position {t} is outside the vocabulary [0, {no.VocabularySize}).");
        if ((uint)output >= (uint)_o) throw new ArgumentOutOfRangeException(nameof(output), output, $"The network has {_o} outputs.");
        bool perStep = no.Output == OutputMode.PerStep;
        if (perStep && (uint)step >= (uint)S) throw new ArgumentOutOfRangeException(nameof(step), step, $"A many-to-many network needs the step to explain, in 0..{S - 1}.");
        if (!perStep && step != -1) throw new ArgumentOutOfRangeException(nameof(step), step, "A many-to-one network explains the whole sequence: leave step at −1.");

        FillInputAndBaseline(tokens);
        return _options.Method == AttributionMethod.IntegratedGradients
            ? IntegratedGradients(S, output, perStep ? step : 0)
            : Occlusion(S, output, perStep ? step : 0);
    }

    private TokenExplanation IntegratedGradients(int S, int output, int step)
    {
        int n = _nodes.Length, SI = S * _i;
        ReadOnlySpan<T> x = _x.AsSpan(0, SI), x0 = _baseline.AsSpan(0, SI);
        var panels = Enumerable.Range(0, _initialPanels).Select(p => new Panel { A = (double)p / _initialPanels, B = (double)(p + 1) / _initialPanels }).ToList();
        double score = double.NaN, baselineScore = double.NaN, allowed = 0;
        int nodesUsed = 0;
        while (true)
        {
            // One batched pass: n nodes per new panel, then the ends not yet scored (round 0: the input α = 1, the baseline α = 0).
            var pending = panels.Where(p => p.Sums is null).ToList();
            var ends = new List<double>();
            if (nodesUsed == 0) { ends.Add(1); ends.Add(0); }
            foreach (var p in pending)
            {
                if (double.IsNaN(p.FA) && p.A != 0 && !ends.Contains(p.A)) ends.Add(p.A);
                if (double.IsNaN(p.FB) && p.B != 1 && !ends.Contains(p.B)) ends.Add(p.B);
            }
            int nodeRows = pending.Count * n, R = nodeRows + ends.Count;
            Span<T> inputs = ExactRows(R * SI);
            for (int q = 0; q < pending.Count; q++)
                for (int k = 0; k < n; k++)
                    Interpolate(x, x0, pending[q].A + (pending[q].B - pending[q].A) * _nodes[k], inputs.Slice((q * n + k) * SI, SI));
            for (int e = 0; e < ends.Count; e++)
            {
                Span<T> row = inputs.Slice((nodeRows + e) * SI, SI);
                if (ends[e] == 1) x.CopyTo(row); // exactly the input and the baseline, not x' + 1·(x − x')
                else if (ends[e] == 0) x0.CopyTo(row);
                else Interpolate(x, x0, ends[e], row);
            }
            ReadOnlySpan<T> outp = Forward(R, S);
            int perRow = outp.Length / R;
            var endScore = new Dictionary<double, double>();
            for (int e = 0; e < ends.Count; e++) endScore[ends[e]] = Score(outp, perRow, nodeRows + e, step, output);
            if (nodesUsed == 0)
            {
                score = endScore[1]; baselineScore = endScore[0];
                // the panels' errors may add up (in absolute value) to Tolerance·|F(x) − F(x')|, or to float round-off
                allowed = _options.Tolerance * System.Math.Max(System.Math.Abs(score - baselineScore), RoundOff * (1 + System.Math.Abs(score) + System.Math.Abs(baselineScore)));
            }
            nodesUsed += nodeRows;

            // dF/d(output) = 1 at the explained logit of the node rows, 0 on the end rows (only scored)
            Span<T> dOut = Rows(ref _dOutput, outp.Length);
            dOut.Clear();
            for (int r = 0; r < nodeRows; r++) dOut[r * perRow + step * _o + output] = T.One;
            Span<T> g = Rows(ref _dInputs, R * SI);
            _net.InputGradient(dOut, g);

            for (int q = 0; q < pending.Count; q++)
            {
                var p = pending[q];
                if (double.IsNaN(p.FA)) p.FA = p.A == 0 ? baselineScore : endScore[p.A];
                if (double.IsNaN(p.FB)) p.FB = p.B == 1 ? score : endScore[p.B];
                // panel [a, b]: IG_t += (b − a) Σ_j (x − x')_tj Σ_k w_k g[k, t, j]; its error against F(b) − F(a) is exact
                p.Sums = new double[S];
                double width = p.B - p.A, total = 0;
                for (int t = 0; t < S; t++)
                {
                    double c = 0;
                    for (int j = t * _i; j < (t + 1) * _i; j++)
                    {
                        double delta = double.CreateChecked(x[j] - x0[j]);
                        if (delta == 0) continue;
                        double avg = 0;
                        for (int k = 0; k < n; k++) avg += _weights[k] * double.CreateChecked(g[(q * n + k) * SI + j]);
                        c += delta * avg;
                    }
                    p.Sums[t] = width * c;
                    total += p.Sums[t];
                }
                p.Error = total - (p.FB - p.FA);
            }

            // Done when the errors add up to no more than allowed; else halve the worst panels, as many as it takes for the
            // rest to fit in half the allowance (a kink's error halves with its panel, a smooth stretch's falls much faster).
            double sumErrors = panels.Sum(p => System.Math.Abs(p.Error));
            if (sumErrors <= allowed) break;
            var worst = panels.OrderByDescending(p => System.Math.Abs(p.Error)).ToList();
            var split = new List<Panel>();
            double rest = sumErrors;
            foreach (var p in worst)
            {
                if (rest <= allowed / 2) break;
                split.Add(p);
                rest -= System.Math.Abs(p.Error);
            }
            if (nodesUsed + split.Count * 2 * n > _options.MaximumSteps) break;
            foreach (var p in split)
            {
                double mid = (p.A + p.B) / 2;
                panels.Remove(p);
                panels.Add(new Panel { A = p.A, B = mid, FA = p.FA });
                panels.Add(new Panel { A = mid, B = p.B, FB = p.FB });
            }
        }
        var contributions = new double[S];
        foreach (var p in panels)
            for (int t = 0; t < S; t++) contributions[t] += p.Sums![t];
        return new TokenExplanation(contributions, score, baselineScore) { QuadratureNodes = nodesUsed };
    }

    /// <summary>A stretch [A, B] of the path, with F at its ends, and once integrated, its contributions and their error.</summary>
    private sealed class Panel
    {
        public double A, B, FA = double.NaN, FB = double.NaN, Error;
        public double[]? Sums;
    }

    /// <summary>Float round-off scale of a score: below it a completeness gap cannot be resolved.</summary>
    private static readonly double RoundOff = 1e3 * double.CreateChecked(T.BitIncrement(T.One) - T.One);

    private static void Interpolate(ReadOnlySpan<T> x, ReadOnlySpan<T> x0, double alpha, Span<T> row)
    {
        T a = T.CreateChecked(alpha);
        for (int j = 0; j < row.Length; j++) row[j] = x0[j] + a * (x[j] - x0[j]);
    }

    private TokenExplanation Occlusion(int S, int output, int step)
    {
        int R = S + 2, SI = S * _i;
        // row 0: x;  row 1+t: x with position t set to the baseline's vector;  row S+1: x'
        Span<T> inputs = ExactRows(R * SI);
        ReadOnlySpan<T> x = _x.AsSpan(0, SI), x0 = _baseline.AsSpan(0, SI);
        for (int r = 0; r <= S; r++) x.CopyTo(inputs.Slice(r * SI, SI));
        for (int t = 0; t < S; t++) x0.Slice(t * _i, _i).CopyTo(inputs.Slice((1 + t) * SI + t * _i, _i));
        x0.CopyTo(inputs.Slice((S + 1) * SI, SI));
        ReadOnlySpan<T> outp = Forward(R, S);
        int perRow = outp.Length / R;
        double score = Score(outp, perRow, 0, step, output);
        var contributions = new double[S];
        for (int t = 0; t < S; t++) contributions[t] = score - Score(outp, perRow, 1 + t, step, output);
        return new TokenExplanation(contributions, score, Score(outp, perRow, S + 1, step, output));
    }

    private double Score(ReadOnlySpan<T> outp, int perRow, int row, int step, int output) => double.CreateChecked(outp[row * perRow + step * _o + output]);

    private ReadOnlySpan<T> Forward(int rows, int steps) => _net.ForwardInputVectors(SequenceBatch<T>.FromFeatures(_inputs, rows, steps, _i));

    /// <summary>The batch's input buffer, exactly <paramref name="size"/> long (a batch's features are its whole array).</summary>
    private Span<T> ExactRows(int size)
    {
        if (_inputs.Length != size) _inputs = new T[size];
        return _inputs;
    }

    /// <summary>x [S, I]: the tokens' input vectors as the network's input stage makes them; x' [S, I]: the baseline's.</summary>
    private void FillInputAndBaseline(ReadOnlySpan<int> tokens)
    {
        int S = tokens.Length;
        Span<T> x = Rows(ref _x, S * _i), x0 = Rows(ref _baseline, S * _i);
        x.Clear(); x0.Clear();
        bool embedding = _net.Options.Input == InputKind.Embedding;
        ReadOnlySpan<T> table = embedding ? _net.Parameters.Read(_net.Parameters["embedding.weight"]) : default;
        for (int t = 0; t < S; t++)
        {
            if (embedding) table.Slice(tokens[t] * _i, _i).CopyTo(x.Slice(t * _i, _i));
            else x[t * _i + tokens[t]] = T.One;
            if (_options.BaselineToken is not int b) continue;
            if (embedding) table.Slice(b * _i, _i).CopyTo(x0.Slice(t * _i, _i));
            else x0[t * _i + b] = T.One;
        }
    }

    private static Span<T> Rows(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[size];
        return buffer.AsSpan(0, size);
    }
}
