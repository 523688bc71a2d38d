// Why did it say spam? Each member's integrated-gradients contributions to its spam logit (through the embedding, from the
// all-zero embedding baseline; see docs/explanations.md), averaged over the ensemble's members: integrated gradients are
// linear in the explained function, so the average is the contribution to the members' mean logit.
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Rnn.MLNet.Explanations;
using Rnn.MLNet.TextClassification;

internal sealed class IncriminatingTokens(IEnumerable<RnnTextClassificationTransformer> members)
{
    private readonly List<TextClassifierExplainer> _explainers = members.Select(m => new TextClassifierExplainer(m.Model)).ToList();

    /// <summary>The three tokens that push the message's spam logit up the most, e.g. "call +2.41, prize +1.97, claim +0.88".</summary>
    public string Top3(string text)
    {
        var each = _explainers.Select(e => e.Explain(text)).ToList();
        var tokens = each[0].Tokens; // the members share the tokenizer, so they read the same tokens
        var mean = Enumerable.Range(0, tokens.Length).Select(i => each.Average(e => e.Contributions[i])).ToArray();
        return string.Join(", ", Enumerable.Range(0, tokens.Length).OrderByDescending(i => mean[i]).Take(3)
            .Select(i => $"{tokens[i]} {mean[i].ToString("+0.00;-0.00", CultureInfo.InvariantCulture)}"));
    }
}
