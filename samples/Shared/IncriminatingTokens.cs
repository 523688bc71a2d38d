// Why did it say spam? Integrated-gradients contributions to the model's spam score (the Score column: the log-odds of the
// ensemble members' mean spam probability), the whole model explained along one path: every member's embedding rows from
// the all-zero baseline and the n-gram bag from the empty bag, an n-gram's share handed to the words that form it (see
// docs/explanations.md).
using System.Globalization;
using System.Linq;
using Rnn.MLNet.Explanations;
using Rnn.MLNet.TextClassification;

internal sealed class IncriminatingTokens(RnnTextClassificationTransformer model)
{
    private readonly TextClassifierExplainer _explainer = new(model.Model);

    /// <summary>The three tokens that push the message's spam score up the most, e.g. "call +2.41, prize +1.97, claim +0.88".</summary>
    public string Top3(string text) =>
        string.Join(", ", _explainer.Explain(text).Top(3).Select(p => $"{p.Token} {p.Contribution.ToString("+0.00;-0.00", CultureInfo.InvariantCulture)}"));
}
