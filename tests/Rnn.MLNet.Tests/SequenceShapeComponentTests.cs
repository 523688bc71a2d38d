using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Data;
using Rnn.MLNet.Models;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Tagging;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The sequence-to-sequence, tagging and one-to-many components in ML.NET pipelines: learned on generated data, scored on
/// held-out rows, saved and loaded into a fresh MLContext with identical outputs, and bad input rejected clearly.
/// </summary>
public class SequenceShapeComponentTests
{
    private readonly ITestOutputHelper _out;
    public SequenceShapeComponentTests(ITestOutputHelper output) => _out = output;

    private sealed class PairRow
    {
        public string Source { get; set; } = "";
        public string Target { get; set; } = "";
    }

    private sealed class GeneratedRow
    {
        public string Target { get; set; } = "";
        public string Generated { get; set; } = "";
    }

    private sealed class SentenceRow
    {
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public string[] Tags { get; set; } = Array.Empty<string>();
    }

    public sealed class ColourRow
    {
        [VectorType(3)] public float[] Features { get; set; } = Array.Empty<float>();
        public string Target { get; set; } = "";
    }

    private static (MLContext, ITransformer) SaveLoad(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var ms = new MemoryStream();
        ml.Model.Save(model, schema, ms);
        ms.Position = 0;
        var fresh = new MLContext(seed: 99);
        return (fresh, fresh.Model.Load(ms, out _));
    }

    [Fact]
    public void SpelledNumbersTranslateInAPipelineAndSurviveSaveLoad()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = SyntheticTasks.SpelledNumbers(999, 800, seed: 1);
        IDataView Rows(List<TextPair> p) => ml.Data.LoadFromEnumerable(p.Select(x => new PairRow { Source = x.Source, Target = x.Target }));
        var trainData = Rows(train);
        var testData = Rows(test);
        var estimator = ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions
        {
            TargetTokenizer = Text.TokenizerKind.Character, HiddenSize = 32, EmbeddingSize = 32, Epochs = 40, LearningRate = 5e-3, Seed = 2, BeamWidth = 3,
        });
        var model = estimator.Fit(trainData);
        var rows = ml.Data.CreateEnumerable<GeneratedRow>(model.Transform(testData), reuseRowObject: false).ToList();
        double exact = rows.Count(r => r.Generated == r.Target) / (double)rows.Count;
        _out.WriteLine($"held-out exact match {exact:P2} over {rows.Count} numbers");
        Assert.True(exact >= 0.99, $"exact match {exact:P2} < 99%");

        var (ml2, loaded) = SaveLoad(ml, model, trainData.Schema);
        var again = ml2.Data.CreateEnumerable<GeneratedRow>(loaded.Transform(testData), reuseRowObject: false).Select(r => r.Generated);
        Assert.Equal(rows.Select(r => r.Generated), again);
        var engine = ml2.Model.CreatePredictionEngine<PairRow, GeneratedRow>(loaded);
        Assert.Equal("312", engine.Predict(new PairRow { Source = "three hundred twelve" }).Generated);
        var back = SequenceGeneratorModel.FromTransformer(loaded);
        Assert.Equal(3, back.Decoding.BeamWidth);
        Assert.Equal("907", back.Generate("nine hundred seven"));

        // Bad input: an empty source, an over-long source, a target token never seen in training (validation set).
        Assert.Contains("empty", Assert.ThrowsAny<Exception>(() => engine.Predict(new PairRow { Source = "  " })).ToString(), StringComparison.Ordinal);
        string longSource = string.Join(' ', Enumerable.Repeat("nine", 201));
        Assert.Contains("MaxSourceLength", Assert.ThrowsAny<Exception>(() => engine.Predict(new PairRow { Source = longSource })).ToString(), StringComparison.Ordinal);
        var badValidation = ml.Data.LoadFromEnumerable(new[] { new PairRow { Source = "one", Target = "1x" } });
        var ex = Assert.Throws<ArgumentException>(() => ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions { TargetTokenizer = Text.TokenizerKind.Character, Epochs = 1, HiddenSize = 4, EmbeddingSize = 4 })
            .Fit(trainData, badValidation));
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("output vocabulary", ex.Message, StringComparison.Ordinal);
        var missing = Assert.ThrowsAny<ArgumentException>(() => estimator.GetOutputSchema(Shapes.Of<ColourRow>(ml)));
        Assert.Contains("'Source'", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnsembleWithLabelSmoothingSurvivesSaveLoad()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = SyntheticTasks.SpelledNumbers(999, 300, seed: 4);
        IDataView Rows(IEnumerable<TextPair> p) => ml.Data.LoadFromEnumerable(p.Select(x => new PairRow { Source = x.Source, Target = x.Target }));
        var trainData = Rows(train);
        var testData = Rows(test.Take(60));
        var model = ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions
        {
            TargetTokenizer = Text.TokenizerKind.Character, HiddenSize = 12, EmbeddingSize = 8, Epochs = 2, LearningRate = 1e-2, Seed = 3, BeamWidth = 2,
            EnsembleSize = 2, LabelSmoothing = 0.1, Attention = AttentionKind.Additive, SelectEpochByBleu = true, LengthPenaltyCandidates = new[] { 0.0, 1.0, 3.0 },
        }).Fit(trainData, Rows(test.Skip(60).Take(40)));
        Assert.Equal(2, model.TrainingResults.Count);
        Assert.All(model.TrainingResults.SelectMany(r => r.History), h => Assert.NotNull(h.ValidationScore)); // greedy validation BLEU per epoch
        // The saved length penalty is the candidate whose beam search scores the highest validation BLEU (ties: the first);
        // that BLEU, over token ids, is the BLEU of the generated texts' tokens.
        var m = model.Model;
        var held = test.Skip(60).Take(40).Select(p => new Training.SequencePair { Source = m.EncodeSource(p.Source), Target = m.EncodeTarget(p.Target) }).ToList();
        var bleus = new[] { 0.0, 1.0, 3.0 }.Select(a => GeneratorTraining.Bleu(m.Networks, held, new DecodingOptions { BeamWidth = 2, MaxLength = m.Decoding.MaxLength, LengthPenalty = a }, m.TargetVocabulary.UnknownId)).ToArray();
        Assert.Equal(new[] { 0.0, 1.0, 3.0 }[Array.IndexOf(bleus, bleus.Max())], m.Decoding.LengthPenalty);
        string Spaced(string text) => string.Join(' ', m.TargetVocabulary.Tokenizer.Split(text));
        var texts = m.GenerateBatch(test.Skip(60).Take(40).Select(p => (string?)p.Source).ToList()).Select(Spaced).ToList();
        Assert.Equal(Text.Bleu.Corpus(texts, test.Skip(60).Take(40).Select(p => Spaced(p.Target)).ToList()), bleus[Array.IndexOf(new[] { 0.0, 1.0, 3.0 }, m.Decoding.LengthPenalty)], 9);
        Assert.Equal(2, model.Model.Networks.Count);
        Assert.NotEqual(model.Model.Networks[0].Parameters.Values.ToArray(), model.Model.Networks[1].Parameters.Values.ToArray()); // own initial weights
        var rows = ml.Data.CreateEnumerable<GeneratedRow>(model.Transform(testData), reuseRowObject: false).Select(r => r.Generated).ToList();
        var sources = test.Take(60).Select(p => (string?)p.Source).ToList();
        Assert.Equal(rows, model.Model.GenerateBatch(sources));

        var (ml2, loaded) = SaveLoad(ml, model, trainData.Schema);
        var back = SequenceGeneratorModel.FromTransformer(loaded);
        Assert.Equal(2, back.Networks.Count);
        Assert.Equal(rows, ml2.Data.CreateEnumerable<GeneratedRow>(loaded.Transform(testData), reuseRowObject: false).Select(r => r.Generated));
        Assert.Equal(rows, back.GenerateBatch(sources));
        var engine = ml2.Model.CreatePredictionEngine<PairRow, GeneratedRow>(loaded);
        Assert.Equal(rows[0], engine.Predict(new PairRow { Source = test[0].Source }).Generated);
        Assert.Throws<NotSupportedException>(() => back.ExportToOnnx(new MemoryStream(), new MemoryStream()));
    }

    [Fact]
    public void TaggerLabelsEveryTokenWithKeysAndSurvivesSaveLoad()
    {
        var ml = new MLContext(seed: 1);
        IDataView Rows(IEnumerable<TaggedSentence> s) => ml.Data.LoadFromEnumerable(s.Select(x => new SentenceRow { Tokens = x.Tokens, Tags = x.Tags }));
        var trainData = Rows(SyntheticTasks.WordClassSentences(2000, seed: 1));
        var testData = Rows(SyntheticTasks.WordClassSentences(400, seed: 2));
        // Tokens as keys (MapValueToKey upstream), tags as text: both input forms are accepted.
        var pipeline = ml.Transforms.Conversion.MapValueToKey("TokenKeys", "Tokens")
            .Append(ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions { TokensColumnName = "TokenKeys", HiddenSize = 32, EmbeddingSize = 16, Epochs = 5, Seed = 3 }));
        var model = pipeline.Fit(trainData);
        var scored = model.Transform(testData);
        var column = scored.Schema["PredictedTags"];
        var type = Assert.IsType<VectorDataViewType>(column.Type);
        Assert.IsType<KeyDataViewType>(type.ItemType);
        Assert.NotNull(column.Annotations.Schema.GetColumnOrNull("KeyValues"));
        var metrics = ml.MulticlassClassification.EvaluateSequenceTags(scored, "Tags", "PredictedTags");
        _out.WriteLine($"token accuracy {metrics.TokenAccuracy:P2}, sentence accuracy {metrics.SequenceAccuracy:P2} over {metrics.Tokens} tokens");
        Assert.True(metrics.TokenAccuracy >= 0.99, $"token accuracy {metrics.TokenAccuracy:P2} < 99%");
        Assert.True(metrics.PerTagRecall["NOUN"] > 0.95);

        var (ml2, loaded) = SaveLoad(ml, model, trainData.Schema);
        var metrics2 = ml2.MulticlassClassification.EvaluateSequenceTags(loaded.Transform(testData));
        Assert.Equal(metrics.TokenAccuracy, metrics2.TokenAccuracy);
        var tagger = SequenceTaggerModel.FromTransformer(loaded);
        Assert.Equal(new[] { "DET", "NOUN", "VERB", "DET", "NOUN" }, tagger.Predict("the fish watch a light".Split(' ')));
        Assert.Empty(tagger.Predict(Array.Empty<string>()));

        // One tag per token, or a clear error naming the row and both columns.
        var bad = Rows(new[] { new TaggedSentence(new[] { "the", "dog" }, new[] { "DET" }), new TaggedSentence(new[] { "a", "cat" }, new[] { "DET", "NOUN" }) });
        var ex = Assert.Throws<ArgumentException>(() => ml.Transforms.Text.RnnSequenceTagger(epochs: 1).Fit(bad));
        Assert.Contains("Row 0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("one tag per token", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ColourVectorsAreDescribedInAPipelineAndSurviveSaveLoad()
    {
        var ml = new MLContext(seed: 1);
        IDataView Rows(IEnumerable<DescribedVector> c) => ml.Data.LoadFromEnumerable(c.Select(x => new ColourRow { Features = x.Features, Target = x.Phrase }));
        var trainData = Rows(SyntheticTasks.ColourPhrases(3000, seed: 1));
        var testData = Rows(SyntheticTasks.ColourPhrases(500, seed: 2));
        var model = ml.Transforms.Text.RnnVectorToSequence(new RnnVectorToSequenceOptions { Cell = Cells.CellType.Gru, HiddenSize = 64, EmbeddingSize = 16, Epochs = 15, LearningRate = 5e-3, Seed = 4 })
            .Fit(trainData);
        var rows = ml.Data.CreateEnumerable<GeneratedRow>(model.Transform(testData), reuseRowObject: false).ToList();
        double exact = rows.Count(r => r.Generated == r.Target) / (double)rows.Count;
        _out.WriteLine($"held-out exact match {exact:P2} over {rows.Count} colours");
        Assert.True(exact >= 0.95, $"exact match {exact:P2} < 95%");
        var (ml2, loaded) = SaveLoad(ml, model, trainData.Schema);
        Assert.Equal(rows.Select(r => r.Generated), ml2.Data.CreateEnumerable<GeneratedRow>(loaded.Transform(testData), reuseRowObject: false).Select(r => r.Generated));
        Assert.Equal("light blue", SequenceGeneratorModel.FromTransformer(loaded).Generate(SyntheticTasks.HslToRgb(240, 0.9, 0.75)));

        var nan = Rows(new[] { new DescribedVector(new[] { 0.1f, float.NaN, 0.2f }, "red") });
        var ex = Assert.Throws<ArgumentException>(() => ml.Transforms.Text.RnnVectorToSequence(epochs: 1).Fit(nan));
        Assert.Contains("'Features'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("NaN", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConcurrentDecodingThroughOneTransformerMatchesSequential()
    {
        // Beam search on shared weights from several threads (each PredictionEngine rents its own network copy).
        var ml = new MLContext(seed: 1);
        var (train, test) = SyntheticTasks.SpelledNumbers(300, 200, seed: 3);
        var data = ml.Data.LoadFromEnumerable(train.Select(x => new PairRow { Source = x.Source, Target = x.Target }));
        var model = ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions { HiddenSize = 16, EmbeddingSize = 8, Epochs = 2, Seed = 5, BeamWidth = 3, MaxOutputLength = 6 }).Fit(data);
        var sources = test.Select(p => p.Source).ToArray();
        var sequential = sources.Select(x => model.Model.Generate(x)).ToArray();
        var parallel = new string[4][];
        System.Threading.Tasks.Parallel.For(0, 4, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<PairRow, GeneratedRow>(model);
            parallel[t] = sources.Select(x => engine.Predict(new PairRow { Source = x }).Generated).ToArray();
        });
        foreach (var run in parallel) Assert.Equal(sequential, run);
    }
}
