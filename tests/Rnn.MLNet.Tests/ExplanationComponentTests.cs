using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Explanations;
using Rnn.MLNet.Math;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.TextClassification;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Per-token contributions in ML.NET: the Tokens and Contributions columns of CalculateTokenContributions for binary and
/// multiclass classifiers, aligned with the tokens the model read; the planted word that decides the label gets the largest
/// contribution by both methods on the default recipe (an ensemble with the n-gram part, explained whole); integrated gradients
/// add up to the score's difference from the baseline's; a saved and reloaded pipeline explains identically, through Transform
/// and a PredictionEngine.
/// </summary>
public class ExplanationComponentTests
{
    private readonly ITestOutputHelper _out;
    public ExplanationComponentTests(ITestOutputHelper output) => _out = output;

    private static readonly string[] Filler = { "the", "a", "call", "now", "you", "we", "see", "my", "phone", "later", "home", "ok", "sure", "text", "me", "when" };

    /// <summary>Messages of 4–11 filler words with one planted word that decides the label ("prize"/"cash" spam, "dinner"/"mum" ham).</summary>
    private static List<SentimentRow> Planted(int count, ulong seed)
    {
        var rng = new Rng(seed);
        string[] spam = { "prize", "cash" }, ham = { "dinner", "mum" };
        return Enumerable.Range(0, count).Select(_ =>
        {
            bool label = rng.NextInt(2) == 0;
            var words = Enumerable.Range(0, 4 + rng.NextInt(8)).Select(_ => Filler[rng.NextInt(Filler.Length)]).ToList();
            words.Insert(rng.NextInt(words.Count + 1), (label ? spam : ham)[rng.NextInt(2)]);
            return new SentimentRow { Label = label, Text = string.Join(' ', words) };
        }).ToList();
    }

    public sealed class Explained
    {
        public string Text { get; set; } = "";
        public bool Label { get; set; }
        public float Score { get; set; }
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public float[] Contributions { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void BinaryContributionsFindThePlantedWordAddUpAndSurviveSaveAndLoad()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Planted(500, 1));
        var heldOut = Planted(100, 2);
        var test = ml.Data.LoadFromEnumerable(heldOut);
        var classifier = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            // The default recipe (an ensemble by data size — 5 members here — each with the word and character n-gram part), smaller.
            HiddenSize = 16, EmbeddingSize = 16, Epochs = 8, BatchSize = 16, LearningRate = 0.01, Seed = 1, MinimumTokenCount = 1,
        }).Fit(train);
        Assert.Equal(5, classifier.Model.Networks.Count);
        Assert.NotNull(classifier.Model.Bag);
        var scored = classifier.Transform(test);

        foreach (var method in Enum.GetValues<AttributionMethod>())
        {
            var explain = ml.Transforms.Text.CalculateTokenContributions(classifier, new TokenContributionOptions { Method = method }).Fit(scored);
            var pipeline = new TransformerChain<ITransformer>(classifier, explain);
            var rows = ml.Data.CreateEnumerable<Explained>(pipeline.Transform(test), reuseRowObject: false).ToList();
            Assert.Equal(heldOut.Count, rows.Count);
            int hits = 0;
            double worstGap = 0;
            foreach (var r in rows)
            {
                Assert.Equal(r.Text.Split(' '), r.Tokens); // aligned with the tokens the model read
                Assert.Equal(r.Tokens.Length, r.Contributions.Length);
                // towards the predicted class: the largest contribution to the logit (spam) or to its negative (ham)
                float sign = r.Score > 0 ? 1 : -1;
                int top = Enumerable.Range(0, r.Tokens.Length).MaxBy(i => sign * r.Contributions[i]);
                if (r.Tokens[top] is "prize" or "cash" or "dinner" or "mum") hits++;
                if (method == AttributionMethod.IntegratedGradients)
                {
                    var e = explain.Explainer.Explain(r.Text);
                    // the explained scalar is the classifier's Score column, the log-odds of the members' mean probability (scored here
                    // in a batch of rows: the same to float round-off); the whole model, every member and the n-grams, is explained
                    Assert.True(System.Math.Abs(r.Score - e.Logit) <= 1e-5 * System.Math.Max(1, System.Math.Abs(r.Score)), $"explained {e.Logit}, Score {r.Score}");
                    double difference = e.Logit - e.BaselineLogit;
                    Assert.True(System.Math.Abs(r.Contributions.Sum() - difference) <= 0.01 * System.Math.Abs(difference) + 1e-5,
                        $"'{r.Text}': Σ contributions {r.Contributions.Sum()} vs score − baseline score {difference}");
                    worstGap = System.Math.Max(worstGap, System.Math.Abs(r.Contributions.Sum() - difference) / System.Math.Abs(difference));
                }
            }
            _out.WriteLine($"{method}: planted word largest towards the prediction in {hits}/{rows.Count} held-out messages" +
                (method == AttributionMethod.IntegratedGradients ? $"; worst completeness gap {worstGap:P3}" : ""));
            Assert.True(hits >= 0.95 * rows.Count, $"{method}: planted word largest in {hits} of {rows.Count}");

            string path = Path.Combine(Path.GetTempPath(), $"rnn-explain-{Guid.NewGuid():N}.zip");
            try
            {
                ml.Model.Save(pipeline, test.Schema, path);
                var ml2 = new MLContext();
                var loaded = ml2.Model.Load(path, out _);
                var again = ml2.Data.CreateEnumerable<Explained>(loaded.Transform(ml2.Data.LoadFromEnumerable(heldOut)), reuseRowObject: false).ToList();
                for (int i = 0; i < rows.Count; i++)
                {
                    Assert.Equal(rows[i].Tokens, again[i].Tokens);
                    Assert.Equal(rows[i].Contributions, again[i].Contributions); // bit for bit
                }
                var engine = ml2.Model.CreatePredictionEngine<SentimentRow, Explained>(loaded);
                var one = engine.Predict(heldOut[0]);
                Assert.Equal(rows[0].Contributions, one.Contributions);
            }
            finally { File.Delete(path); }
        }
    }

    public sealed class TopicExplained
    {
        public string Text { get; set; } = "";
        public string Topic { get; set; } = "";
        public string[] Words { get; set; } = Array.Empty<string>();
        public float[] Why { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void MulticlassContributionsExplainThePredictedClassInNamedColumns()
    {
        var ml = new MLContext(seed: 1);
        var rows = SyntheticData.Topics(300, 3);
        var data = ml.Data.LoadFromEnumerable(rows);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", "Topic").Fit(data);
        var classifier = ml.MulticlassClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            Cell = CellType.Lstm, HiddenSize = 16, EmbeddingSize = 16, Epochs = 6, BatchSize = 16, LearningRate = 0.01, Seed = 1,
            // two members with the n-gram part, explained whole
            EnsembleSize = 2, EmbeddingDropout = 0, ValidationFraction = 0, EarlyStoppingPatience = 0, MinimumTokenCount = 1, Optimizer = Training.OptimizerKind.Adam, WeightDecay = 0,
        }).Fit(keys.Transform(data));
        var options = new TokenContributionOptions { TokensColumnName = "Words", ContributionsColumnName = "Why", BaselineToken = "<unk>" };
        var estimator = ml.Transforms.Text.CalculateTokenContributions(classifier, options);
        var shape = estimator.GetOutputSchema(Shapes.Of<TopicRow>(ml));
        Assert.True(shape.Single(c => c.Name == "Words").ItemType is TextDataViewType);
        Assert.True(shape.Single(c => c.Name == "Why").ItemType == NumberDataViewType.Single);
        var explain = estimator.Fit(data);
        var explained = ml.Data.CreateEnumerable<TopicExplained>(explain.Transform(data), reuseRowObject: false).Take(40).ToList();
        int topicWordTop = 0;
        foreach (var r in explained)
        {
            Assert.Equal(r.Text.Split(' '), r.Words);
            var e = explain.Explainer.Explain(r.Text);
            Assert.Equal(e.Contributions, r.Why);
            var p = classifier.Model.Predict(r.Text);
            int c = Array.IndexOf(p, p.Max());
            Assert.Equal(classifier.Model.Classes[c], e.ExplainedClass); // the predicted class's score: ln(Score_c / (1 − Score_c))
            if (p[c] < 0.99) Assert.True(System.Math.Abs(System.Math.Log(p[c] / (1.0 - p[c])) - e.Logit) < 0.01, $"explained {e.Logit}, Score {p[c]}");
            Assert.True(System.Math.Abs(e.CompletenessGap) <= 0.01 * System.Math.Abs(e.Logit - e.BaselineLogit), $"gap {e.CompletenessGap} with {e.QuadratureNodes} nodes");
            if (SyntheticData.IsTopicWord(r.Words[Array.IndexOf(r.Why, r.Why.Max())])) topicWordTop++;
        }
        _out.WriteLine($"a topic word has the largest contribution in {topicWordTop}/{explained.Count} texts");
        Assert.True(topicWordTop >= 0.9 * explained.Count);
        Assert.Contains("vocabulary", Assert.Throws<ArgumentException>(() => ml.Transforms.Text.CalculateTokenContributions(classifier, new TokenContributionOptions { BaselineToken = "no-such-token" })).Message);
    }

    public sealed class TaggedRow
    {
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public string[] Tags { get; set; } = Array.Empty<string>();
    }

    public sealed class TagsExplained
    {
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public string[] Words { get; set; } = Array.Empty<string>();
        public float[] Why { get; set; } = Array.Empty<float>();
    }

    /// <summary>
    /// Sentences of 4–9 filler words with one planted word ("alpha" or "beta") that decides the tag of EVERY position (A or B):
    /// so at each position the planted word, wherever it is, should move the tag's score the most.
    /// </summary>
    private static List<TaggedRow> PlantedTagging(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            bool alpha = rng.NextInt(2) == 0;
            var words = Enumerable.Range(0, 3 + rng.NextInt(6)).Select(_ => Filler[rng.NextInt(Filler.Length)]).ToList();
            words.Insert(rng.NextInt(words.Count + 1), alpha ? "alpha" : "beta");
            return new TaggedRow { Tokens = words.ToArray(), Tags = Enumerable.Repeat(alpha ? "A" : "B", words.Count).ToArray() };
        }).ToList();
    }

    /// <summary>
    /// The tagger per token (with character features): an n × n Contributions column (row t: each token's contribution to position t's predicted tag)
    /// whose rows add up to the position's score − baseline score within 1% (integrated gradients); the planted word gets the
    /// largest contribution at ≥ 95% of held-out positions by both methods; saved and loaded, Transform and a PredictionEngine
    /// give the same values bit for bit.
    /// </summary>
    [Fact]
    public void TaggerContributionsExplainEveryPositionAndSurviveSaveAndLoad()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(PlantedTagging(400, 5));
        var heldOut = PlantedTagging(40, 6);
        var test = ml.Data.LoadFromEnumerable(heldOut);
        var tagger = ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions
        {
            Cell = CellType.Gru, HiddenSize = 16, EmbeddingSize = 16, Epochs = 6, LearningRate = 0.01, Seed = 2,
            CharacterHiddenSize = 8, CharacterEmbeddingSize = 8, // with the spelling encoder, as samples/PosTagging trains it
        }).Fit(train);
        foreach (var method in Enum.GetValues<AttributionMethod>())
        {
            var explain = ml.Transforms.Text.CalculateTokenContributions(tagger, new TokenContributionOptions { Method = method, TokensColumnName = "Words", ContributionsColumnName = "Why" }).Fit(test);
            var rows = ml.Data.CreateEnumerable<TagsExplained>(explain.Transform(test), reuseRowObject: false).ToList();
            int positions = 0, hits = 0;
            double worst = 0;
            for (int i = 0; i < rows.Count; i++)
            {
                var r = rows[i];
                int n = r.Tokens.Length;
                Assert.Equal(r.Tokens, r.Words);
                Assert.Equal(n * n, r.Why.Length);
                var e = explain.Explainer.Explain(r.Tokens);
                Assert.Equal(e.Contributions, r.Why);
                int planted = Array.FindIndex(r.Tokens, w => w is "alpha" or "beta");
                for (int t = 0; t < n; t++)
                {
                    var row = e.Row(t).ToArray();
                    positions++;
                    if (Array.IndexOf(row, row.Max()) == planted) hits++;
                    if (method != AttributionMethod.IntegratedGradients) continue;
                    double difference = e.Scores[t] - e.BaselineScores[t], gap = System.Math.Abs(row.Sum() - difference);
                    Assert.True(gap <= 0.01 * System.Math.Abs(difference) + 1e-5, $"row {i} position {t}: Σ {row.Sum()} vs {difference}");
                    worst = System.Math.Max(worst, gap / System.Math.Abs(difference));
                }
            }
            _out.WriteLine($"tagger, {method}: planted word largest at {hits}/{positions} held-out positions" + (method == AttributionMethod.IntegratedGradients ? $"; worst completeness gap {worst:P3}" : ""));
            Assert.True(hits >= 0.95 * positions, $"{method}: planted word largest at {hits} of {positions} positions");

            string path = Path.Combine(Path.GetTempPath(), $"rnn-tag-explain-{Guid.NewGuid():N}.zip");
            try
            {
                ml.Model.Save(new TransformerChain<ITransformer>(tagger, explain), test.Schema, path);
                var ml2 = new MLContext();
                var loaded = ml2.Model.Load(path, out _);
                var again = ml2.Data.CreateEnumerable<TagsExplained>(loaded.Transform(ml2.Data.LoadFromEnumerable(heldOut)), reuseRowObject: false).ToList();
                for (int i = 0; i < rows.Count; i++) Assert.Equal(rows[i].Why, again[i].Why); // bit for bit
                var engine = ml2.Model.CreatePredictionEngine<TaggedRow, TagsExplained>(loaded);
                Assert.Equal(rows[1].Why, engine.Predict(heldOut[1]).Why);
            }
            finally { File.Delete(path); }
        }
    }
}
