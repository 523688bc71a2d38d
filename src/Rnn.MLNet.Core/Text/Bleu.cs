using System;
using System.Collections.Generic;

namespace Rnn.MLNet.Text;

/// <summary>
/// Corpus BLEU-4 and exact match of translations against one reference each, exactly as the eng-fra set's
/// <c>evaluate.py</c> defines them: tokens are the parts of the text split on single spaces; clipped 1–4-gram matches and
/// n-gram totals are pooled over the corpus; the score is the geometric mean of the four precisions (equal weights, no
/// smoothing: 0 when any order has no match) times the brevity penalty exp(1 − r/c) when the hypotheses are shorter
/// (c &lt; r), ×100.
/// </summary>
public static class Bleu
{
    /// <summary>Corpus BLEU (0–100) of <paramref name="hypotheses"/> against <paramref name="references"/> (same order).</summary>
    /// <exception cref="ArgumentException">The lists differ in length.</exception>
    public static double Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references, int maxOrder = 4)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count) throw new ArgumentException($"{hypotheses.Count} hypotheses for {references.Count} references.", nameof(hypotheses));
        if (maxOrder < 1) throw new ArgumentOutOfRangeException(nameof(maxOrder), maxOrder, "maxOrder must be at least 1.");
        var match = new long[maxOrder];
        var total = new long[maxOrder];
        long cLen = 0, rLen = 0;
        var refCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var hypCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < hypotheses.Count; i++)
        {
            string[] h = (hypotheses[i] ?? "").Split(' '), r = (references[i] ?? "").Split(' ');
            cLen += h.Length;
            rLen += r.Length;
            for (int k = 1; k <= maxOrder; k++)
            {
                Count(h, k, hypCounts);
                Count(r, k, refCounts);
                foreach (var (gram, c) in hypCounts) match[k - 1] += System.Math.Min(c, refCounts.GetValueOrDefault(gram));
                total[k - 1] += System.Math.Max(h.Length - k + 1, 0);
            }
        }
        double logp = 0;
        for (int k = 0; k < maxOrder; k++)
        {
            if (match[k] == 0) return 0.0;
            logp += System.Math.Log((double)match[k] / total[k]);
        }
        logp /= maxOrder;
        double bp = cLen >= rLen ? 1.0 : System.Math.Exp(1 - (double)rLen / cLen);
        return 100.0 * bp * System.Math.Exp(logp);
    }

    /// <summary>Percentage (0–100) of hypotheses equal to their reference string.</summary>
    public static double ExactMatch(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count) throw new ArgumentException($"{hypotheses.Count} hypotheses for {references.Count} references.", nameof(hypotheses));
        if (references.Count == 0) return 0;
        int same = 0;
        for (int i = 0; i < references.Count; i++) if (string.Equals(hypotheses[i], references[i], StringComparison.Ordinal)) same++;
        return 100.0 * same / references.Count;
    }

    // An n-gram's key: each token prefixed by its length ("3:abc2:de"), so no two different token tuples share a key.
    private static void Count(string[] tokens, int n, Dictionary<string, int> counts)
    {
        counts.Clear();
        var key = new System.Text.StringBuilder();
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            key.Clear();
            for (int j = i; j < i + n; j++) key.Append(tokens[j].Length).Append(':').Append(tokens[j]);
            string gram = key.ToString();
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
    }
}
