// Why did it say spam? Integrated-gradients contributions to the spam logit (through the embedding, from the all-zero
// embedding baseline; see docs/explanations.md). The classifier is now one transformer holding an ensemble whose members
// also have an n-gram linear part: TextClassifierExplainer explains the recurrent part of the first member only (the n-gram
// part and the other members are not attributed yet), so these are the recurrent part's reasons, not the whole model's.
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Rnn.MLNet.Explanations;
using Rnn.MLNet.TextClassification;

internal sealed class IncriminatingTokens(RnnTextClassificationTransformer model)
{
    private readonly List<TextClassifierExplainer> _explainers = new() { new TextClassifierExplainer(model.Model) };

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
