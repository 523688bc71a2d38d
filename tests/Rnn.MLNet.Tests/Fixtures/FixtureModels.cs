using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Data;
using Rnn.MLNet.Forecasting;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.SequenceRegression;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Tests.Fixtures;

/// <summary>
/// Tiny models of every ML.NET component (one per CustomMapping contract), the inputs they are scored on and how their
/// outputs are written as text lines. The committed <c>*.zip</c> fixtures and their <c>*.expected.txt</c> lines were
/// written by <see cref="WriteAll"/> with the code of their time (the first set before issue 23's restructuring):
/// <code>RNN_MLNET_WRITE_FIXTURES=$PWD/tests/Rnn.MLNet.Tests/Fixtures dotnet test tests/Rnn.MLNet.Tests -c Release --filter FixtureModelsRoundTrip</code>
/// A fixture is never regenerated to make a test pass: models saved by an earlier Rnn.MLNet must keep loading.
/// </summary>
public static class FixtureModels
{
    public sealed class TextRow
    {
        public bool Label { get; set; }
        public string Topic { get; set; } = "";
        public string Text { get; set; } = "";
    }

    public sealed class IdsRow
    {
        public bool Label { get; set; }
        public string Topic { get; set; } = "";
        public float[] Ids { get; set; } = Array.Empty<float>();
    }

    public sealed class WindowRow
    {
        [VectorType(6)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    public sealed class PairRow
    {
        public string Source { get; set; } = "";
        public string Target { get; set; } = "";
    }

    public sealed class ColourRow
    {
        [VectorType(3)] public float[] Features { get; set; } = Array.Empty<float>();
        public string Target { get; set; } = "";
    }

    public sealed class ObservationRow
    {
        public string Series { get; set; } = "";
        public float Value { get; set; }
    }

    public sealed class SentenceRow
    {
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public string[] Tags { get; set; } = Array.Empty<string>();
    }

    private sealed class BinaryOut { public float Score { get; set; } public float Probability { get; set; } public bool PredictedLabel { get; set; } }
    private sealed class MulticlassOut { public float[] Score { get; set; } = Array.Empty<float>(); public uint PredictedLabel { get; set; } }
    private sealed class NextTokenOut { public string NextToken { get; set; } = ""; public float NextTokenProbability { get; set; } }
    private sealed class RegressionOut { public float Score { get; set; } }
    private sealed class GeneratedOut { public string Generated { get; set; } = ""; }
    private sealed class ForecastOut
    {
        public float[] Forecast { get; set; } = Array.Empty<float>();
        public float[] LowerBound { get; set; } = Array.Empty<float>();
        public float[] UpperBound { get; set; } = Array.Empty<float>();
    }
    private sealed class TagsOut { public uint[] PredictedTags { get; set; } = Array.Empty<uint>(); }

    /// <summary>One fixture: how it is trained (with the code of the day), the rows it is scored on, how its outputs read as lines.</summary>
    public sealed record Fixture(string Name, Func<MLContext, (ITransformer Model, DataViewSchema Schema)> Train, Func<MLContext, IDataView> Inputs, Func<MLContext, IDataView, string[]> Lines)
    {
        /// <summary>Gets back to the model object from a loaded transformer (<c>XModel.FromTransformer</c>).</summary>
        public Func<ITransformer, object> ModelOf => Name switch
        {
            "language-model" => RnnLanguageModel.FromTransformer,
            "sequence-regressor" => SequenceRegressionModel.FromTransformer,
            "sequence-to-sequence" or "vector-to-sequence" => SequenceGeneratorModel.FromTransformer,
            "tagger" => SequenceTaggerModel.FromTransformer,
            "forecaster" => RnnForecastModel.FromTransformer,
            _ => TextClassifierModel.FromTransformer,
        };
    }

    private static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static List<TextRow> Sentiment(int n, ulong seed) => SyntheticData.Sentiment(n, seed).Select(r => new TextRow { Label = r.Label, Text = r.Text }).ToList();

    private static List<TextRow> Topics(int n, ulong seed) => SyntheticData.Topics(n, seed).Select(r => new TextRow { Topic = r.Topic, Text = r.Text, Label = r.Topic == "tech" }).ToList();

    private static List<IdsRow> Ids(List<TextRow> rows)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        return rows.Select(r => new IdsRow
        {
            Label = r.Label, Topic = r.Topic,
            Ids = r.Text.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => (float)(ids.TryGetValue(w, out int id) ? id : ids[w] = ids.Count % 40 + 1)).ToArray(),
        }).ToList();
    }

    private static RnnTextClassifierOptions Tiny(string? tokenColumn = null) =>
        new() { TokenColumnName = tokenColumn, HiddenSize = 4, EmbeddingSize = 4, Epochs = 2, MaximumVocabularySize = 40, Seed = 1 };

    private static string[] BinaryLines(MLContext ml, IDataView scored) =>
        ml.Data.CreateEnumerable<BinaryOut>(scored, reuseRowObject: false).Select(o => $"{F(o.Score)} {F(o.Probability)} {o.PredictedLabel}").ToArray();

    private static string[] MulticlassLines(MLContext ml, IDataView scored) =>
        ml.Data.CreateEnumerable<MulticlassOut>(scored, reuseRowObject: false).Select(o => string.Join(' ', o.Score.Select(F)) + " " + o.PredictedLabel.ToString(CultureInfo.InvariantCulture)).ToArray();

    private static (ITransformer, DataViewSchema) Fitted<TRow>(MLContext ml, IEnumerable<TRow> rows, IEstimator<ITransformer> pipeline) where TRow : class
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        return (pipeline.Fit(data), data.Schema);
    }

    private static readonly string[] LanguageTexts = { "the cat sat on the mat", "a dog ran to the park", "the cat ran", "a mat sat" };

    /// <summary>Every fixture: the six classifier contracts (binary/multiclass × text/token strings/ids) and the other six components.</summary>
    public static IReadOnlyList<Fixture> All { get; } = new Fixture[]
    {
        new("binary-text",
            ml => Fitted(ml, Sentiment(60, 1), ml.BinaryClassification.Trainers.RnnText(Tiny())),
            ml => ml.Data.LoadFromEnumerable(Sentiment(6, 9).Append(new TextRow { Text = "" })),
            BinaryLines),
        new("multiclass-text",
            ml => Fitted(ml, Topics(60, 1), ml.Transforms.Conversion.MapValueToKey("Label", "Topic").Append(ml.MulticlassClassification.Trainers.RnnText(Tiny()))),
            ml => ml.Data.LoadFromEnumerable(Topics(6, 9)),
            MulticlassLines),
        new("binary-tokens",
            ml => Fitted(ml, Sentiment(60, 1), ml.Transforms.Text.TokenizeIntoWords("Tokens", "Text").Append(ml.BinaryClassification.Trainers.RnnText(Tiny("Tokens")))),
            ml => ml.Data.LoadFromEnumerable(Sentiment(6, 9)),
            BinaryLines),
        new("multiclass-token-keys",
            ml => Fitted(ml, Topics(60, 1), ml.Transforms.Conversion.MapValueToKey("Label", "Topic")
                .Append(ml.Transforms.Text.TokenizeIntoWords("Words", "Text")).Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "Words"))
                .Append(ml.MulticlassClassification.Trainers.RnnText(Tiny("Tokens")))),
            ml => ml.Data.LoadFromEnumerable(Topics(6, 9)),
            MulticlassLines),
        new("binary-ids",
            ml => Fitted(ml, Ids(Sentiment(60, 1)), ml.BinaryClassification.Trainers.RnnText(Tiny("Ids"))),
            ml => ml.Data.LoadFromEnumerable(Ids(Sentiment(6, 9))),
            BinaryLines),
        new("multiclass-ids",
            ml => Fitted(ml, Ids(Topics(60, 1)), ml.Transforms.Conversion.MapValueToKey("Label", "Topic").Append(ml.MulticlassClassification.Trainers.RnnText(Tiny("Ids")))),
            ml => ml.Data.LoadFromEnumerable(Ids(Topics(6, 9))),
            MulticlassLines),
        new("language-model",
            ml => Fitted(ml, LanguageTexts.Select(t => new TextRow { Text = t }), ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions { HiddenSize = 8, EmbeddingSize = 4, Layers = 1, Epochs = 2, BatchSize = 4, BpttSteps = 8, Seed = 1 })),
            ml => ml.Data.LoadFromEnumerable(new[] { "the c", "a do", "", "zebra" }.Select(t => new TextRow { Text = t })),
            (ml, scored) => ml.Data.CreateEnumerable<NextTokenOut>(scored, reuseRowObject: false).Select(o => $"{o.NextToken.Replace("\n", "\\n", StringComparison.Ordinal)} {F(o.NextTokenProbability)}").ToArray()),
        new("sequence-regressor",
            ml => Fitted(ml, Windows(40, 0), ml.Regression.Trainers.RnnSequence(new RnnSequenceRegressorOptions { HiddenSize = 4, Epochs = 3, Seed = 1 })),
            ml => ml.Data.LoadFromEnumerable(Windows(5, 50)),
            (ml, scored) => ml.Data.CreateEnumerable<RegressionOut>(scored, reuseRowObject: false).Select(o => F(o.Score)).ToArray()),
        new("sequence-to-sequence",
            ml => Fitted(ml, SyntheticTasks.SpelledNumbers(99, 40, seed: 1).Train.Select(p => new PairRow { Source = p.Source, Target = p.Target }),
                ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions { TargetTokenizer = Text.TokenizerKind.Character, HiddenSize = 6, EmbeddingSize = 4, Epochs = 2, Seed = 1, MaxOutputLength = 6 })),
            ml => ml.Data.LoadFromEnumerable(new[] { "twelve", "forty two", "seven" }.Select(s => new PairRow { Source = s })),
            (ml, scored) => ml.Data.CreateEnumerable<GeneratedOut>(scored, reuseRowObject: false).Select(o => "[" + o.Generated + "]").ToArray()),
        new("vector-to-sequence",
            ml => Fitted(ml, SyntheticTasks.ColourPhrases(40, seed: 1).Select(c => new ColourRow { Features = c.Features, Target = c.Phrase }),
                ml.Transforms.Text.RnnVectorToSequence(new RnnVectorToSequenceOptions { Cell = CellType.Gru, HiddenSize = 6, EmbeddingSize = 4, Epochs = 2, Seed = 1, MaxOutputLength = 4 })),
            ml => ml.Data.LoadFromEnumerable(SyntheticTasks.ColourPhrases(3, seed: 2).Select(c => new ColourRow { Features = c.Features })),
            (ml, scored) => ml.Data.CreateEnumerable<GeneratedOut>(scored, reuseRowObject: false).Select(o => "[" + o.Generated + "]").ToArray()),
        new("tagger",
            ml => Fitted(ml, SyntheticTasks.WordClassSentences(40, seed: 1).Select(s => new SentenceRow { Tokens = s.Tokens, Tags = s.Tags }),
                ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions { HiddenSize = 4, EmbeddingSize = 4, Epochs = 2, Seed = 1 })),
            ml => ml.Data.LoadFromEnumerable(SyntheticTasks.WordClassSentences(3, seed: 2).Select(s => new SentenceRow { Tokens = s.Tokens }).Append(new SentenceRow { Tokens = new[] { "unseen", "words" } })),
            (ml, scored) => ml.Data.CreateEnumerable<TagsOut>(scored, reuseRowObject: false).Select(o => string.Join(' ', o.PredictedTags)).ToArray()),
        new("forecaster",
            ml => Fitted(ml, Observations(), ml.Forecasting.ForecastByRnn(new RnnForecastingOptions
            {
                SeriesIdColumnName = nameof(ObservationRow.Series), Horizon = 4, SeasonalPeriod = 4, HiddenSize = 4, EnsembleSize = 2, MaxEpochs = 2, Seed = 1,
            })),
            ml => ml.Data.LoadFromEnumerable(new[] { "b", "a" }.Select(id => new ObservationRow { Series = id })),
            (ml, scored) => ml.Data.CreateEnumerable<ForecastOut>(scored, reuseRowObject: false)
                .Select(o => string.Join(' ', o.Forecast.Concat(o.LowerBound).Concat(o.UpperBound).Select(F))).ToArray()),
    };

    /// <summary>Two series of 40 steps with a season of 4 (one positive, one crossing zero), in long format.</summary>
    private static IEnumerable<ObservationRow> Observations() =>
        new[] { ("a", 10.0), ("b", 0.5) }.SelectMany(s => Enumerable.Range(0, 40).Select(t => new ObservationRow
        {
            Series = s.Item1, Value = (float)(s.Item2 + 2 * System.Math.Sin(System.Math.PI * t / 2) + 0.05 * t + 0.3 * System.Math.Cos(5.1 * t)),
        }));

    private static List<WindowRow> Windows(int n, int start) =>
        Enumerable.Range(start, n).Select(i => new WindowRow
        {
            Features = Enumerable.Range(i, 6).Select(t => (float)System.Math.Sin(t * 0.5)).ToArray(),
            Label = (float)System.Math.Sin((i + 6) * 0.5),
        }).ToList();

    /// <summary>Trains every fixture, saves it as <c>name.zip</c> and writes its output lines to <c>name.expected.txt</c>.</summary>
    public static void WriteAll(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var f in All)
        {
            var ml = new MLContext(seed: 1);
            var (model, schema) = f.Train(ml);
            ml.Model.Save(model, schema, Path.Combine(directory, f.Name + ".zip"));
            File.WriteAllLines(Path.Combine(directory, f.Name + ".expected.txt"), f.Lines(ml, model.Transform(f.Inputs(ml))));
        }
    }

    /// <summary>Loads <c>name.zip</c> into a fresh MLContext and scores the fixture's inputs.</summary>
    public static string[] ScoreSaved(Fixture fixture, string directory)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(Path.Combine(directory, fixture.Name + ".zip"), out _);
        return fixture.Lines(ml, model.Transform(fixture.Inputs(ml)));
    }
}
