using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.TextClassification;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The text classifier's default recipe inside the estimator: an ensemble of fold members with the n-gram linear part,
/// saved in one .zip; the kept epoch logged with its reason; options checked when the estimator is created; pre-trained
/// word vectors from a text file.
/// </summary>
public class TextRecipeTests
{
    private readonly Xunit.Abstractions.ITestOutputHelper _out;
    public TextRecipeTests(Xunit.Abstractions.ITestOutputHelper output) => _out = output;

    // The recipe as the defaults have it, only smaller (3 members, small networks, few epochs) to keep the test fast.
    private static RnnTextClassifierOptions Small() => new() { EnsembleSize = 3, HiddenSize = 16, EmbeddingSize = 16, Epochs = 12, LearningRate = 0.01, Seed = 1 };

    [Fact]
    public void EnsembleWithTheNGramPartTrainsLogsItsEpochsAndReloadsIdentically()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("TextClassifier", StringComparison.Ordinal)) lock (messages) messages.Add(e.RawMessage); };
        var train = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(300, 1));
        var test = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(100, 2));
        var model = ml.BinaryClassification.Trainers.RnnText(Small()).Fit(train);
        foreach (var m in messages) _out.WriteLine(m);
        Assert.Equal(3, model.Model.Networks.Count);
        Assert.Equal(3, model.MemberResults.Count);
        Assert.NotNull(model.Model.Bag);
        Assert.True(model.Model.Network.Options.WideFeatures == model.Model.Bag!.Count);
        // This synthetic task hinges on "not" before a word (order), which 300 rows teach the small recurrent part slowly; the
        // members early-stop on their folds and may keep the n-gram part alone (bigrams such as "not good" carry much of it).
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.Accuracy > 0.7, $"accuracy {metrics.Accuracy}");
        // Each member: 200 rows train, 100 validate (its fold); the linear part's stage and the joint stage each say which epoch they kept and why.
        Assert.Contains(messages, m => m.StartsWith("Member 2 of 3: 200 rows to train, 100 to validate", StringComparison.Ordinal));
        Assert.Equal(3, messages.Count(m => m.Contains("n-gram linear part alone: kept epoch", StringComparison.Ordinal)));
        Assert.Equal(3, messages.Count(m => m.Contains("the lowest validation loss", StringComparison.Ordinal) && !m.Contains("linear part alone:", StringComparison.Ordinal)));
        // A member whose joint training did not beat its linear part says so, and keeps the linear part (epoch 0).
        var reverted = model.MemberResults.Count(r => r.BestEpoch == 0);
        Assert.Equal(reverted, messages.Count(m => m.Contains("kept the n-gram linear part alone (epoch 0)", StringComparison.Ordinal)));

        var scores = ml.Data.CreateEnumerable<TextClassificationTests.SentimentPrediction>(model.Transform(test), false).ToList();
        // The ensemble's probability is the mean of the members' (each scored alone through its own network).
        var rows = SyntheticData.Sentiment(100, 2);
        for (int i = 0; i < 5; i++)
        {
            float mean = model.Model.Networks.Select(n => Sigmoid(MemberLogit(model.Model, n, rows[i].Text))).Average();
            Assert.Equal(mean, scores[i].Probability, 4);
        }

        using var stream = new MemoryStream();
        ml.Model.Save(model, train.Schema, stream);
        stream.Position = 0;
        var ml2 = new MLContext();
        var loaded = ml2.Model.Load(stream, out _);
        var again = ml2.Data.CreateEnumerable<TextClassificationTests.SentimentPrediction>(loaded.Transform(ml2.Data.LoadFromEnumerable(rows)), false).ToList();
        Assert.Equal(scores.Select(s => s.Score), again.Select(s => s.Score));
        Assert.Contains("EnsembleSize = 1", Assert.Throws<NotSupportedException>(() => OnnxModelExport.ExportToOnnx(model.Model, Stream.Null)).Message);
    }

    private static float Sigmoid(float z) => 1 / (1 + MathF.Exp(-z));

    private static float MemberLogit(TextClassifierModel model, Models.SequenceNetwork<float> net, string text)
    {
        var ids = model.Encode(text);
        var (bagIds, values) = model.EncodeBag(text)!.Value;
        var batch = Models.SequenceBatch<float>.FromTokens(ids, 1, ids.Length).WithBag(new Models.SparseRows<float>(new[] { 0, bagIds.Length }, bagIds, values));
        return net.CloneForInference().Forward(batch)[0];
    }

    [Fact]
    public void MulticlassDefaultsTrainAnEnsemble()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticData.Topics(300, 3));
        var test = ml.Data.LoadFromEnumerable(SyntheticData.Topics(100, 4));
        var model = ml.Transforms.Conversion.MapValueToKey("Label", "Topic").Append(ml.MulticlassClassification.Trainers.RnnText(Small())).Fit(train);
        Assert.Equal(3, model.LastTransformer.Model.Networks.Count);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.MicroAccuracy > 0.95, $"accuracy {metrics.MicroAccuracy}");
    }

    [Theory]
    [InlineData("HiddenSize", 0)]
    [InlineData("EmbeddingSize", -1)]
    [InlineData("Layers", 0)]
    [InlineData("EnsembleSize", -1)]
    [InlineData("WordNGrams", 9)]
    [InlineData("CharNGrams", -1)]
    [InlineData("Epochs", 0)]
    [InlineData("BatchSize", 0)]
    [InlineData("MinimumTokenCount", 0)]
    public void InvalidOptionsAreNamedWhenTheEstimatorIsCreated(string option, int value)
    {
        var o = new RnnTextClassifierOptions();
        typeof(RnnTextClassifierOptions).GetProperty(option)!.SetValue(o, value);
        var e = Assert.Throws<ArgumentException>(() => new MLContext().BinaryClassification.Trainers.RnnText(o));
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message);
    }

    [Fact]
    public void InvalidFractionsAndAMissingVectorFileAreNamedToo()
    {
        var ml = new MLContext();
        Assert.Equal("EmbeddingDropout", Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { EmbeddingDropout = 1.5f })).ParamName);
        Assert.Equal("Dropout", Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.RnnText(new RnnTextClassifierOptions { Dropout = -0.1f })).ParamName);
        var e = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { PretrainedEmbeddings = "/nonexistent/vectors.txt" }));
        Assert.Equal("PretrainedEmbeddings", e.ParamName);
        Assert.Contains("/nonexistent/vectors.txt", e.Message);
    }

    [Fact]
    public void PretrainedEmbeddingsStartTheVocabularyFromTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rnn-glove-{Guid.NewGuid():N}.txt");
        try
        {
            // A GloVe-style file: 5 dimensions for a few words the synthetic reviews use, and one they do not.
            var words = new[] { "great", "terrible", "food", "service", "zebra" };
            File.WriteAllLines(path, words.Select((w, i) => w + " " + string.Join(' ', Enumerable.Range(0, 5).Select(j => ((i + 1) * 0.1 * (j % 2 == 0 ? 1 : -1)).ToString(System.Globalization.CultureInfo.InvariantCulture)))));
            var ml = new MLContext(seed: 1);
            var messages = new List<string>();
            ml.Log += (_, e) => { if (e.Source.Contains("TextClassifier", StringComparison.Ordinal)) lock (messages) messages.Add(e.RawMessage); };
            var rows = SyntheticData.Sentiment(200, 1);
            var o = new RnnTextClassifierOptions { PretrainedEmbeddings = path, EnsembleSize = 1, HiddenSize = 8, Epochs = 1, LearningRate = 1e-12, Seed = 1, EmbeddingDropout = 0 };
            var model = ml.BinaryClassification.Trainers.RnnText(o).Fit(ml.Data.LoadFromEnumerable(rows));
            var net = model.Model.Network;
            Assert.Equal(5, net.Options.EmbeddingSize);
            int present = words.Count(w => model.Model.Vocabulary.Contains(w));
            Assert.True(present >= 2, $"only {present} of the file's words are in the vocabulary");
            Assert.Contains(messages, m => m.Contains($"5 dimensions, {present} of {model.Model.Vocabulary.Count} vocabulary tokens found", StringComparison.Ordinal));
            // With a negligible learning rate, the rows of words found in the file are still the file's vectors.
            var table = net.Parameters.Value("embedding.weight");
            int id = model.Model.Vocabulary.IdOf("food");
            Assert.Equal(new[] { 0.3f, -0.3f, 0.3f, -0.3f, 0.3f }, table.Slice(id * 5, 5).ToArray().Select(x => MathF.Round(x, 5)).ToArray());
        }
        finally { File.Delete(path); }
    }
}
