using System;

namespace Rnn.MLNet.Models;

/// <summary>
/// The score of an ensemble of classifiers that averages its members' probabilities: the log-odds of the mean probability
/// of one class, F = ln(p̄ / (1 − p̄)), computed as ln Σ_i p_i − ln Σ_i (1 − p_i) so that neither sum loses its digits
/// near 0 or 1 (no clamping), with its gradient with respect to every member's logits.
/// </summary>
/// <remarks>
/// Binary heads (one logit y_i per member): p_i = σ(y_i), 1 − p_i = σ(−y_i); one member gives its logit itself.
/// Multiclass heads (logits y_i [O]): p_i = softmax(y_i)_c for the explained class c, 1 − p_i = Σ_{o≠c} softmax(y_i)_o.
/// Gradient: with P = Σ p_i, Q = Σ (1 − p_i), ∂F/∂y_io = (1/P + 1/Q) ∂p_i/∂y_io, where ∂p_i/∂y_i = p_i (1 − p_i) (binary)
/// and ∂p_i/∂y_io = p_i (δ_oc − s_io) (softmax).
/// </remarks>
public static class EnsembleScore
{
    /// <summary>
    /// F for member logits <paramref name="logits"/> [members, outputs] (row-major); when <paramref name="gradient"/> is not
    /// empty, also ∂F/∂logits into it (same layout).
    /// </summary>
    public static double LogOddsOfMeanProbability(ReadOnlySpan<double> logits, int outputs, int explained, Span<double> gradient = default)
    {
        if (outputs < 1 || logits.Length == 0 || logits.Length % outputs != 0) throw new ArgumentException($"Expected members × {outputs} logits; got {logits.Length}.", nameof(logits));
        if ((uint)explained >= (uint)outputs) throw new ArgumentOutOfRangeException(nameof(explained), explained, $"The head has {outputs} outputs.");
        bool grad = !gradient.IsEmpty;
        if (grad && gradient.Length != logits.Length) throw new ArgumentException("The gradient needs one value per logit.", nameof(gradient));
        int members = logits.Length / outputs;
        if (outputs == 1 && members == 1)
        {
            if (grad) gradient[0] = 1;
            return logits[0];
        }
        double p = 0, q = 0;
        Span<double> pi = stackalloc double[members], qi = stackalloc double[members];
        for (int i = 0; i < members; i++)
        {
            ReadOnlySpan<double> y = logits.Slice(i * outputs, outputs);
            if (outputs == 1) { pi[i] = Sigmoid(y[0]); qi[i] = Sigmoid(-y[0]); }
            else
            {
                double max = double.NegativeInfinity, z = 0, others = 0;
                foreach (double v in y) max = System.Math.Max(max, v);
                for (int o = 0; o < outputs; o++)
                {
                    double e = System.Math.Exp(y[o] - max);
                    z += e;
                    if (o != explained) others += e;
                }
                pi[i] = System.Math.Exp(y[explained] - max) / z; qi[i] = others / z;
            }
            p += pi[i]; q += qi[i];
        }
        if (grad)
        {
            double scale = 1 / p + 1 / q;
            for (int i = 0; i < members; i++)
            {
                if (outputs == 1) { gradient[i] = scale * pi[i] * qi[i]; continue; }
                ReadOnlySpan<double> y = logits.Slice(i * outputs, outputs);
                double max = double.NegativeInfinity, z = 0;
                foreach (double v in y) max = System.Math.Max(max, v);
                foreach (double v in y) z += System.Math.Exp(v - max);
                for (int o = 0; o < outputs; o++)
                    gradient[i * outputs + o] = scale * (o == explained ? pi[i] * qi[i] : -pi[i] * System.Math.Exp(y[o] - max) / z);
            }
        }
        return System.Math.Log(p) - System.Math.Log(q);
    }

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + System.Math.Exp(-x)) : System.Math.Exp(x) / (1 + System.Math.Exp(x));
}
