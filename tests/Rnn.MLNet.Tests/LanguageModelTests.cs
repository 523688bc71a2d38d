using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.Text;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

public class LanguageModelTests
{
    private readonly ITestOutputHelper _out;
    public LanguageModelTests(ITestOutputHelper output) => _out = output;

    public sealed class Line
    {
        public string Text { get; set; } = "";
    }

    public sealed class NextTokenPrediction
    {
        public string NextToken { get; set; } = "";
        public float NextTokenProbability { get; set; }
    }

    private static Line[] Corpus() =>
        Enumerable.Range(0, 60).Select(i => new Line { Text = i % 3 == 0 ? "you say goodbye and i say hello ." : i % 3 == 1 ? "the cat sat on the mat ." : "the dog ate the bone ." }).ToArray();

    [Fact]
    public void WordModelLearnsPredictsGeneratesAndSurvivesSaveLoad()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Corpus());
        var estimator = ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions
        {
            Tokenizer = TokenizerKind.Whitespace, Cell = CellType.Lstm, Layers = 1, HiddenSize = 32, EmbeddingSize = 16,
            Epochs = 25, BatchSize = 4, BpttSteps = 16, LearningRate = 0.01, Seed = 3,
        });
        var model = estimator.Fit(data);
        var lm = model.Model;
        double ppl = lm.Perplexity(Corpus().Select(l => l.Text));
        _out.WriteLine($"train perplexity {ppl:F3}; history: {string.Join(" | ", model.TrainingResult.History.Select(h => h.TrainLoss.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(ppl < 2.0, $"perplexity {ppl}");
        var greedy = new SamplingOptions { MaxTokens = 6, Temperature = 0, StopToken = "<eos>" };
        Assert.Equal("goodbye and i say hello .", lm.Generate("you say", greedy));

        var engine = ml.Model.CreatePredictionEngine<Line, NextTokenPrediction>(model);
        var next = engine.Predict(new Line { Text = "the cat sat on the" });
        Assert.Equal("mat", next.NextToken);
        Assert.True(next.NextTokenProbability > 0.5);

        string path = Path.Combine(Path.GetTempPath(), $"rnn-lm-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var ml2 = new MLContext();
            var loaded = ml2.Model.Load(path, out _);
            var lm2 = RnnLanguageModel.FromTransformer(loaded);
            Assert.Equal(lm.Generate("you say", greedy), lm2.Generate("you say", greedy));
            var sampled = new SamplingOptions { MaxTokens = 20, Temperature = 1.0, TopK = 3, Seed = 5 };
            Assert.Equal(lm.Generate("the", sampled), lm2.Generate("the", sampled));
            Assert.Equal(ppl, lm2.Perplexity(Corpus().Select(l => l.Text)));
            Assert.Equal("mat", ml2.Model.CreatePredictionEngine<Line, NextTokenPrediction>(loaded).Predict(new Line { Text = "the cat sat on the" }).NextToken);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void FromTransformerRejectsAPipelineWithoutALanguageModel()
    {
        var ml = new MLContext();
        var t = ml.Transforms.Text.NormalizeText("Text").Fit(ml.Data.LoadFromEnumerable(Corpus()));
        Assert.Contains("no Rnn.MLNet language model", Assert.Throws<ArgumentException>(() => RnnLanguageModel.FromTransformer(t)).Message);
    }
}
