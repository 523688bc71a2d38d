// Trains a tiny classifier through the Rnn.MLNet package and saves it (`train MODEL.zip`), or loads it in a fresh process
// and scores (`score MODEL.zip`); each prints one line that build/test.sh compares.
using Microsoft.ML;
using Rnn.MLNet;
using Rnn.MLNet.TextClassification;

if (args.Length != 2 || args[0] is not ("train" or "score")) { Console.Error.WriteLine("usage: Consumer train|score MODEL.zip"); return 2; }
var ml = new MLContext(seed: 1);
var probe = new[] { new Review { Text = "really great food" }, new Review { Text = "awful and slow service" } };
if (args[0] == "train")
{
    string[] good = { "great", "lovely", "excellent", "tasty" }, bad = { "awful", "bland", "rude", "slow" };
    var rows = Enumerable.Range(0, 200).Select(i => new Review
    {
        Label = i % 2 == 0,
        Text = $"the {(i % 2 == 0 ? good : bad)[i / 2 % 4]} food {(i % 3 == 0 ? "and service" : "")}",
    });
    var data = ml.Data.LoadFromEnumerable(rows);
    var model = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { HiddenSize = 8, EmbeddingSize = 8, Epochs = 5, LearningRate = 0.02 }).Fit(data);
    ml.Model.Save(model, data.Schema, args[1]);
    Console.WriteLine(Scores(ml, model));
}
else
{
    var loaded = ml.Model.Load(args[1], out _);
    Console.WriteLine(Scores(ml, loaded));
    Console.Error.WriteLine($"model: {TextClassifierModel.FromTransformer(loaded).Classes.Count} classes");
}
return 0;

string Scores(MLContext ml, ITransformer model)
{
    var engine = ml.Model.CreatePredictionEngine<Review, Prediction>(model);
    return string.Join(" ", probe.Select(r => engine.Predict(r)).Select(p => $"{p.PredictedLabel}:{p.Probability.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}"));
}

internal sealed class Review
{
    public bool Label { get; set; }
    public string Text { get; set; } = "";
}

internal sealed class Prediction
{
    public bool PredictedLabel { get; set; }
    public float Probability { get; set; }
}
