using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.TextClassification;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

public class ConcurrencyAndControlTests
{
    public sealed class Prediction
    {
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    private static RnnTextClassifierOptions Options() => new() { Cell = CellType.Lstm, HiddenSize = 12, EmbeddingSize = 8, Epochs = 3, Seed = 4, EnsembleSize = 1 };

    [Fact]
    public void ManyThreadsScoringThroughOneTransformerMatchSingleThreadedScores()
    {
        var ml = new MLContext(seed: 1);
        var rows = SyntheticData.Sentiment(300, 9);
        var model = ml.BinaryClassification.Trainers.RnnText(Options()).Fit(ml.Data.LoadFromEnumerable(rows));
        var probe = SyntheticData.Sentiment(200, 10);
        var single = ml.Model.CreatePredictionEngine<SentimentRow, Prediction>(model);
        var expected = probe.Select(r => single.Predict(r).Score).ToArray();

        const int threads = 8;
        var mismatches = new int[threads];
        var done = new int[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<SentimentRow, Prediction>(model); // PredictionEngine is per thread
            for (int round = 0; round < 5; round++)
                for (int i = (t * 37) % probe.Count, n = 0; n < probe.Count; n++, i = (i + 1) % probe.Count)
                {
                    if (engine.Predict(probe[i]).Score != expected[i]) mismatches[t]++;
                    done[t]++;
                }
        });
        Assert.All(mismatches, m => Assert.Equal(0, m));
        Assert.Equal(threads * 5 * probe.Count, done.Sum());

        // Transform (the IDataView path) from several threads at once.
        var views = Enumerable.Range(0, 4).AsParallel().Select(_ => ml.Data.CreateEnumerable<Prediction>(model.Transform(ml.Data.LoadFromEnumerable(probe)), false).Select(p => p.Score).ToArray()).ToList();
        Assert.All(views, v => Assert.Equal(expected, v));
    }

    [Fact]
    public void ProgressIsReportedEachEpochAndCancellationStopsFit()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(200, 1));
        var reports = new List<EpochReport>();
        var o = Options();
        o.Epochs = 3;
        o.ValidationFraction = 0.2;
        o.Progress = reports.Add;
        ml.BinaryClassification.Trainers.RnnText(o).Fit(data);
        Assert.Equal(new[] { 1, 2, 3 }, reports.Select(r => r.Epoch));
        Assert.All(reports, r => { Assert.NotNull(r.ValidationLoss); Assert.NotNull(r.ValidationAccuracy); Assert.True(r.TokensPerSecond > 0); });

        using var cts = new CancellationTokenSource();
        var c = Options();
        c.Epochs = 50;
        c.CancellationToken = cts.Token;
        c.Progress = r => { if (r.Epoch == 2) cts.Cancel(); };
        Assert.Throws<OperationCanceledException>(() => ml.BinaryClassification.Trainers.RnnText(c).Fit(data));
    }

    [Fact]
    public void SameSeedGivesIdenticalModels()
    {
        float[] Train()
        {
            var ml = new MLContext(seed: 5);
            var m = ml.BinaryClassification.Trainers.RnnText(Options()).Fit(ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(150, 2)));
            return m.Model.Network.Parameters.Values;
        }
        Assert.Equal(Train(), Train());
    }
}

/// <summary>Reads process-wide decode counters, so it runs alone (other tests decode payloads too).</summary>
[CollectionDefinition(nameof(PayloadCounters), DisableParallelization = true)]
public sealed class PayloadCounters { }

[Collection(nameof(PayloadCounters))]
public class PayloadTests
{
    [Fact]
    public void AFittedTransformerScoresWithTheNetworkItTrainedAndALoadedOneDecodesOnce()
    {
        var ml = new Microsoft.ML.MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(100, 1));
        var model = ml.BinaryClassification.Trainers.RnnText(new TextClassification.RnnTextClassifierOptions { HiddenSize = 8, EmbeddingSize = 8, Epochs = 1, Seed = 1 }).Fit(data);
        var before = Persistence.ModelPersistence.Counters;
        var rows = ml.Data.CreateEnumerable<ConcurrencyAndControlTests.Prediction>(model.Transform(ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(300, 2))), false).ToList();
        var after = Persistence.ModelPersistence.Counters;
        Assert.Equal(300, rows.Count);
        Assert.Equal(300, after.Calls - before.Calls);
        Assert.Equal(0, after.Decodes - before.Decodes); // the payload of a fitted transformer resolves to its own model
        Assert.Same(model.Model, TextClassification.TextClassifierModel.FromTransformer(model));

        using var saved = new System.IO.MemoryStream();
        ml.Model.Save(model, data.Schema, saved);
        saved.Position = 0;
        var loaded = ml.Model.Load(saved, out _);
        before = Persistence.ModelPersistence.Counters;
        rows = ml.Data.CreateEnumerable<ConcurrencyAndControlTests.Prediction>(loaded.Transform(ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(300, 2))), false).ToList();
        var back = TextClassification.TextClassifierModel.FromTransformer(loaded);
        after = Persistence.ModelPersistence.Counters;
        // At most once for all rows and FromTransformer (none when ML.NET's expression parser hands back the same string instance).
        Assert.True(after.Decodes - before.Decodes <= 1, $"{after.Decodes - before.Decodes} decodes");
        Assert.Equal(model.Model.Predict("great food"), back.Predict("great food"));
    }
}
