using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.TextClassification;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>The README's ML.NET example, run as written (the test fails if the two texts drift apart).</summary>
public class ReadmeExampleTests
{
    public sealed class Review
    {
        [LoadColumn(0)] public bool Label { get; set; }
        [LoadColumn(1)] public string Text { get; set; } = "";
    }

    public sealed class ReviewPrediction
    {
        public bool PredictedLabel { get; set; }
        public float Probability { get; set; }
    }

    [Fact]
    public void ReadmeExampleRuns()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rnn-readme-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string trainPath = Path.Combine(dir, "train.tsv"), testPath = Path.Combine(dir, "test.tsv"), modelPath = Path.Combine(dir, "sentiment.zip");
        File.WriteAllLines(trainPath, SyntheticData.Sentiment(400, 1).Select(r => $"{(r.Label ? 1 : 0)}\t{r.Text}").Prepend("label\ttext"));
        File.WriteAllLines(testPath, SyntheticData.Sentiment(100, 2).Select(r => $"{(r.Label ? 1 : 0)}\t{r.Text}").Prepend("label\ttext"));
        try
        {
            // README-BEGIN
            var ml = new MLContext(seed: 1);
            IDataView train = ml.Data.LoadFromTextFile<Review>(trainPath, hasHeader: true);
            IDataView test = ml.Data.LoadFromTextFile<Review>(testPath, hasHeader: true);

            var pipeline = ml.Transforms.Text.NormalizeText("Text")
                .Append(ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
                {
                    Cell = CellType.Gru, HiddenSize = 32, Epochs = 15, LearningRate = 0.01, ValidationFraction = 0.1, EarlyStoppingPatience = 3,
                }));
            ITransformer model = pipeline.Fit(train);

            var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
            Console.WriteLine($"accuracy {metrics.Accuracy:P1}, AUC {metrics.AreaUnderRocCurve:F3}");

            ml.Model.Save(model, train.Schema, modelPath);              // the weights travel inside the .zip
            ITransformer loaded = new MLContext().Model.Load(modelPath, out _);
            var engine = ml.Model.CreatePredictionEngine<Review, ReviewPrediction>(loaded);
            var p = engine.Predict(new Review { Text = "The food was excellent!" });
            Console.WriteLine($"{p.PredictedLabel} ({p.Probability:P0})");
            // README-END

            var sampleRows = ml.Data.CreateEnumerable<Review>(train, false).Take(5).Select(r => $"{r.Label}:{r.Text}");
            var hist = ((TransformerChain<RnnTextClassificationTransformer>)model).LastTransformer.TrainingResult.History;
            Assert.True(metrics.Accuracy > 0.9, $"accuracy {metrics.Accuracy} {string.Join(" | ", sampleRows)} {string.Join(" | ", hist)}");
            Assert.True(p.PredictedLabel);
        }
        finally { Directory.Delete(dir, true); }

        // The README block must be this test's block, line for line.
        string Normalize(string block) => string.Join("\n", block.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
        string repo = FindRepoRoot();
        string readme = File.ReadAllText(Path.Combine(repo, "README.md"));
        var m = Regex.Match(readme, @"<!-- example: mlnet -->\s*```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(m.Success, "README.md has no '<!-- example: mlnet -->' csharp block");
        string source = File.ReadAllText(Path.Combine(repo, "tests", "Rnn.MLNet.Tests", "ReadmeExampleTests.cs"));
        var s = Regex.Match(source, @"// README-BEGIN\n(.*?)// README-END", RegexOptions.Singleline);
        string readmeBody = string.Join("\n", m.Groups[1].Value.Split('\n').Where(l => !l.TrimStart().StartsWith("using ", StringComparison.Ordinal)));
        Assert.Equal(Normalize(s.Groups[1].Value), Normalize(readmeBody));
    }

    internal static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rnn.MLNet.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Rnn.MLNet.sln not found above " + AppContext.BaseDirectory);
    }
}
