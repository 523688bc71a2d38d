using System;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The estimators' checkpoints and streaming: a streamed classifier with a buffer covering the data and a streamed
/// language model train exactly as their in-memory paths; a cancelled estimator resumes from its checkpoint to the
/// weights of an uninterrupted run.
/// </summary>
public sealed class LongRunTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rnn-longrun-" + Guid.NewGuid().ToString("N"));

    public LongRunTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RnnTextClassifierOptions Classifier(int? buffer, string? checkpoint = null) => new()
    {
        Cell = CellType.Gru, HiddenSize = 12, EmbeddingSize = 8, Epochs = 3, BatchSize = 16, Seed = 4, Dropout = 0.1f, Layers = 2,
        ShuffleBufferSize = buffer, CheckpointPath = checkpoint, CheckpointInterval = TimeSpan.Zero,
        // The streamed path trains one recurrent model: the in-memory path compared with it must too.
        EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0, ValidationFraction = 0, EarlyStoppingPatience = 0,
    };

    private static float[] TrainClassifier(RnnTextClassifierOptions o, IDataView train, IDataView valid) =>
        new MLContext(seed: 1).BinaryClassification.Trainers.RnnText(o).Fit(train, valid).Model.Network.Parameters.Values;

    [Fact]
    public void StreamedClassifierWithABufferCoveringTheDataEqualsTheInMemoryPath()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(200, 1));
        var valid = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(40, 2));
        float[] inMemory = TrainClassifier(Classifier(null), train, valid);
        Assert.Equal(inMemory, TrainClassifier(Classifier(200), train, valid));
        Assert.Equal(inMemory, TrainClassifier(Classifier(1_000), train, valid));
        Assert.NotEqual(inMemory, TrainClassifier(Classifier(64), train, valid)); // smaller buffers shuffle within each buffer only
    }

    [Fact]
    public void CancelledClassifierResumesFromItsCheckpointToTheUninterruptedWeights()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(150, 3));
        var valid = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(30, 4));
        float[] reference = TrainClassifier(Classifier(50), train, valid);
        string path = Path.Combine(_dir, "classifier.ckpt");
        // 12 batches per epoch (three buffers of 50 rows): each process stops a few batches after it (re)started.
        foreach (int stopAfter in new[] { 3, 17, 6 })
        {
            using var cancel = new CancellationTokenSource();
            int batches = 0;
            var o = Classifier(50, path);
            o.CancellationToken = cancel.Token;
            o.BatchProgress = (_, _, _, _) => { if (++batches == stopAfter) cancel.Cancel(); };
            Assert.Throws<OperationCanceledException>(() => TrainClassifier(o, train, valid));
            Assert.True(File.Exists(path));
        }
        Assert.Equal(reference, TrainClassifier(Classifier(50, path), train, valid));
    }

    [Fact]
    public void StreamedLanguageModelEqualsTheInMemoryPathAndRemovesItsTokenFile()
    {
        var ml = new MLContext(seed: 1);
        var lines = Enumerable.Range(0, 80).Select(i => new LanguageModelTests.Line { Text = i % 2 == 0 ? "the cat sat on the mat" : "a dog ate the bone today" }).ToArray();
        var data = ml.Data.LoadFromEnumerable(lines);
        float[] Train(bool stream)
        {
            var o = new RnnLanguageModelOptions
            {
                Tokenizer = TokenizerKind.Whitespace, Cell = CellType.Lstm, Layers = 1, HiddenSize = 10, EmbeddingSize = 6, Epochs = 2,
                BatchSize = 4, BpttSteps = 7, Seed = 2, StreamTrainingData = stream,
            };
            return new MLContext(seed: 1).Transforms.Text.RnnLanguageModel(o).Fit(data).Model.Network.Parameters.Values;
        }
        int before = Directory.GetFiles(Path.GetTempPath(), "rnn-mlnet-tokens-*").Length;
        Assert.Equal(Train(false), Train(true));
        Assert.Equal(before, Directory.GetFiles(Path.GetTempPath(), "rnn-mlnet-tokens-*").Length);
    }
}
