using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.TextClassification;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

public class TextClassificationTests
{
    private readonly ITestOutputHelper _out;
    public TextClassificationTests(ITestOutputHelper output) => _out = output;

    public sealed class SentimentPrediction
    {
        public bool PredictedLabel { get; set; }
        public float Score { get; set; }
        public float Probability { get; set; }
    }

    private static RnnTextClassifierOptions FastOptions(string label = "Label", string text = "Text") => new()
    {
        LabelColumnName = label, TextColumnName = text, Cell = CellType.Gru, HiddenSize = 16, EmbeddingSize = 16,
        Epochs = 12, BatchSize = 16, LearningRate = 0.01, Seed = 1,
        // One recurrent model, no n-gram part, no held-out rows: these tests are about the pipeline, not the recipe.
        EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0, ValidationFraction = 0, EarlyStoppingPatience = 0,
    };

    /// <summary>A stateful schedule that counts its calls and records the count it had when each training stage began.</summary>
    private sealed class CountingSchedule : Training.IStatefulSchedule
    {
        private double _calls;
        public List<double> CallsAtFirstEpoch { get; } = new();
        public double[] SaveState() => new[] { _calls };
        public void RestoreState(ReadOnlySpan<double> state) => _calls = state[0];
        public double NextRate(int epoch, double currentRate, double validationLoss)
        {
            if (epoch == 1) CallsAtFirstEpoch.Add(_calls);
            _calls++;
            return currentRate;
        }
    }

    [Fact]
    public void EveryEnsembleMemberAndStageStartsAStatefulScheduleAfresh()
    {
        var ml = new MLContext(seed: 1);
        var schedule = new CountingSchedule();
        var options = FastOptions();
        options.EnsembleSize = 2; options.WordNGrams = 1; options.Epochs = 3; options.Schedule = schedule;
        ml.BinaryClassification.Trainers.RnnText(options).Fit(ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(120, 1)));
        // Two members, each with the n-gram stage and the joint stage: four starts, none inheriting another's state.
        Assert.Equal(new double[] { 0, 0, 0, 0 }, schedule.CallsAtFirstEpoch);
    }

    [Fact]
    public void BinaryPipelineFitsEvaluatesSavesAndReloadsIdentically()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("Rnn", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message); };
        var train = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(600, 1));
        var test = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(200, 2));
        var pipeline = ml.Transforms.Text.NormalizeText("Text", "Text")
            .Append(ml.BinaryClassification.Trainers.RnnText(FastOptions()));
        var model = pipeline.Fit(train);
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        _out.WriteLine($"accuracy {metrics.Accuracy:P2}, AUC {metrics.AreaUnderRocCurve:F4}, F1 {metrics.F1Score:F4}");
        Assert.True(metrics.Accuracy > 0.95, $"accuracy {metrics.Accuracy}");
        Assert.Contains(messages, m => m.Contains("epoch 12/12", StringComparison.Ordinal));

        string path = Path.Combine(Path.GetTempPath(), $"rnn-binary-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            var ml2 = new MLContext();
            var loaded = ml2.Model.Load(path, out var schema);
            var metrics2 = ml2.BinaryClassification.Evaluate(loaded.Transform(ml2.Data.LoadFromEnumerable(SyntheticData.Sentiment(200, 2))));
            Assert.Equal(metrics.Accuracy, metrics2.Accuracy);
            Assert.Equal(metrics.AreaUnderRocCurve, metrics2.AreaUnderRocCurve);
            Assert.Equal(metrics.LogLoss, metrics2.LogLoss);

            var before = ml.Data.CreateEnumerable<SentimentPrediction>(model.Transform(test), false).ToList();
            var after = ml2.Data.CreateEnumerable<SentimentPrediction>(loaded.Transform(test), false).ToList();
            Assert.Equal(before.Select(p => p.Score), after.Select(p => p.Score));

            var engine = ml2.Model.CreatePredictionEngine<SentimentRow, SentimentPrediction>(loaded);
            var p = engine.Predict(new SentimentRow { Text = "the food was excellent and the service friendly" });
            Assert.True(p.PredictedLabel);
            Assert.Equal(1f / (1f + MathF.Exp(-p.Score)), p.Probability, 5);
            Assert.False(engine.Predict(new SentimentRow { Text = "rude and slow service" }).PredictedLabel);
            Assert.False(schema.GetColumnOrNull("Text") is null);
        }
        finally { File.Delete(path); }
    }

    public sealed class TopicPrediction
    {
        public string PredictedTopic { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void MulticlassPipelineWithKeyMappingAroundIt()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticData.Topics(450, 3));
        var test = ml.Data.LoadFromEnumerable(SyntheticData.Topics(150, 4));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "Topic")
            .Append(ml.MulticlassClassification.Trainers.RnnText(FastOptions()))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedTopic", "PredictedLabel"));

        // Output schema before Fit …
        var shape = pipeline.GetOutputSchema(Shapes.Of<TopicRow>(ml));
        Assert.Contains(shape, c => c.Name == "Score" && c.Kind == SchemaShape.Column.VectorKind.Vector);
        Assert.Contains(shape, c => c.Name == "PredictedLabel" && c.IsKey);

        var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        // … and after: Score is a known-size vector whose slot names are the class names.
        var score = scored.Schema["Score"];
        Assert.Equal(3, ((VectorDataViewType)score.Type).Size);
        VBuffer<ReadOnlyMemory<char>> slots = default;
        score.GetSlotNames(ref slots);
        var keyValues = default(VBuffer<ReadOnlyMemory<char>>);
        scored.Schema["Label"].GetKeyValues(ref keyValues);
        Assert.Equal(keyValues.DenseValues().Select(v => v.ToString()), slots.DenseValues().Select(v => v.ToString()));
        Assert.DoesNotContain(scored.Schema, c => c.Name.StartsWith("RnnMLNet.", StringComparison.Ordinal));

        var metrics = ml.MulticlassClassification.Evaluate(scored);
        _out.WriteLine($"macro accuracy {metrics.MacroAccuracy:P2}, log-loss {metrics.LogLoss:F4}");
        Assert.True(metrics.MicroAccuracy > 0.95, $"accuracy {metrics.MicroAccuracy}");

        string path = Path.Combine(Path.GetTempPath(), $"rnn-multi-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            var ml2 = new MLContext();
            var loaded = ml2.Model.Load(path, out _);
            var metrics2 = ml2.MulticlassClassification.Evaluate(loaded.Transform(test));
            Assert.Equal(metrics.MicroAccuracy, metrics2.MicroAccuracy);
            Assert.Equal(metrics.LogLoss, metrics2.LogLoss);
            var engine = ml2.Model.CreatePredictionEngine<TopicRow, TopicPrediction>(loaded);
            var p = engine.Predict(new TopicRow { Text = "the team scored a late goal" });
            Assert.Equal("sport", p.PredictedTopic);
            Assert.Equal(1.0, p.Score.Sum(), 4);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadInputNamesTheColumnAndTheExpectedType()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(20, 1));
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.RnnText(FastOptions(text: "Review")).Fit(data));
        Assert.Contains("'Review'", missing.Message);
        Assert.Contains("not found", missing.Message);

        var wrongLabel = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.RnnText(FastOptions()).Fit(data));
        Assert.Contains("'Label'", wrongLabel.Message);
        Assert.Contains("key type", wrongLabel.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.RnnText(FastOptions()).GetOutputSchema(Shapes.Of<SentimentRow>(ml)));

        var numericText = ml.Data.LoadFromEnumerable(new[] { new { Label = true, Text = 1f } });
        Assert.Contains("String", Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.RnnText(FastOptions()).Fit(numericText)).Message);

        var empty = ml.Data.LoadFromEnumerable(new List<SentimentRow>());
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.RnnText(FastOptions()).Fit(empty)).Message);

        var oneClass = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(50, 1).Where(r => r.Label));
        Assert.Contains("single class", Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.RnnText(FastOptions()).Fit(oneClass)).Message);
    }
}

public class TokenIdInputTests
{
    public sealed class IdsRow
    {
        public bool Label { get; set; }
        [Microsoft.ML.Data.VectorType] public int[] Ids { get; set; } = Array.Empty<int>();
    }

    public sealed class Scored
    {
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    [Fact]
    public void KeyTokenColumnFromStandardTransformsTrainsAndReloads()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(500, 1));
        var test = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(150, 2));
        var pipeline = ml.Transforms.Text.NormalizeText("Text")
            .Append(ml.Transforms.Text.TokenizeIntoWords("Words", "Text"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Words"))
            .Append(ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
            {
                TokenColumnName = "Tokens", Cell = CellType.Gru, HiddenSize = 16, EmbeddingSize = 16, Epochs = 12, LearningRate = 0.01, Seed = 1,
                EnsembleSize = 1, EmbeddingDropout = 0, ValidationFraction = 0, EarlyStoppingPatience = 0, MinimumTokenCount = 1,
            }));
        var model = pipeline.Fit(train);
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.Accuracy > 0.95, $"accuracy {metrics.Accuracy}");
        string path = Path.Combine(Path.GetTempPath(), $"rnn-keys-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            var ml2 = new MLContext();
            var loaded = ml2.Model.Load(path, out _);
            Assert.Equal(metrics.AreaUnderRocCurve, ml2.BinaryClassification.Evaluate(loaded.Transform(test)).AreaUnderRocCurve);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void IntegerIdColumnsWorkAndBadIdsAreNamed()
    {
        var ml = new MLContext(seed: 1);
        var rng = new Rnn.MLNet.Math.Rng(3);
        // Label: does id 7 occur in the sequence?
        var rows = Enumerable.Range(0, 400).Select(_ =>
        {
            var ids = Enumerable.Range(0, 3 + rng.NextInt(6)).Select(_ => rng.NextInt(7)).ToArray();
            bool pos = rng.NextInt(2) == 0;
            if (pos) ids[rng.NextInt(ids.Length)] = 7;
            return new IdsRow { Label = pos, Ids = ids };
        }).ToList();
        var options = new RnnTextClassifierOptions { TokenColumnName = "Ids", Cell = CellType.Lstm, HiddenSize = 16, EmbeddingSize = 8, Epochs = 15, LearningRate = 0.01, Seed = 2, EnsembleSize = 1 };
        var model = ml.BinaryClassification.Trainers.RnnText(options).Fit(ml.Data.LoadFromEnumerable(rows.Take(300)));
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(rows.Skip(300))));
        Assert.True(metrics.Accuracy > 0.95, $"accuracy {metrics.Accuracy}");
        Assert.Equal(8, model.Model.Vocabulary.Count);

        rows[5].Ids[0] = -3;
        var ex = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.RnnText(options).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Row 5", ex.Message);
        Assert.Contains("'Ids'", ex.Message);
        var wrong = new RnnTextClassifierOptions { TokenColumnName = "Label" };
        Assert.Contains("a vector of tokens", Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.RnnText(wrong).Fit(ml.Data.LoadFromEnumerable(rows))).Message);
    }
}
