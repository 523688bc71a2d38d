using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Data;
using Rnn.MLNet.Forecasting;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx;
using Rnn.MLNet.SequenceRegression;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// ExportToOnnx on every model of the ML.NET layer, from a model got back from a saved and loaded .zip: ONNX Runtime gives
/// the model's own predictions, and the sidecar's tokenization (docs/onnx.md's few lines) gives the model's token ids.
/// </summary>
public class OnnxModelExportTests
{
    private static ITransformer SaveLoad(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var ms = new MemoryStream();
        ml.Model.Save(model, schema, ms);
        ms.Position = 0;
        return new MLContext(seed: 9).Model.Load(ms, out _);
    }

    private static InferenceSession Session(byte[] bytes) => new(bytes, new SessionOptions { IntraOpNumThreads = 1 });

    private static float[] Run(InferenceSession s, string output, params NamedOnnxValue[] inputs)
    {
        using var r = s.Run(inputs);
        return r.First(x => x.Name == output).AsTensor<float>().ToArray();
    }

    private static NamedOnnxValue Ids(int[] ids) => NamedOnnxValue.CreateFromTensor(OnnxNames.InputIds, new DenseTensor<long>(ids.Select(i => (long)i).ToArray(), new[] { 1, ids.Length }));

    private static NamedOnnxValue Lengths(int n) => NamedOnnxValue.CreateFromTensor(OnnxNames.SequenceLengths, new DenseTensor<int>(new[] { n }, new[] { 1 }));

    private static void Close(float expected, float actual, string what) =>
        Assert.True(System.Math.Abs(expected - actual) <= 1e-5 * System.Math.Max(1, System.Math.Abs(expected)), $"{what}: model {expected:R}, ONNX Runtime {actual:R}");

    /// <summary>docs/onnx.md's text → ids with the sidecar alone.</summary>
    private static long[] SidecarIds(JsonElement side, string input)
    {
        var vocab = side.GetProperty("vocabulary").EnumerateArray().Select((t, i) => (t.GetString()!, i)).ToDictionary(p => p.Item1, p => (long)p.i);
        long unk = side.GetProperty("unknown_id").GetInt64();
        string text = side.GetProperty("lowercase").GetBoolean() ? input.ToLowerInvariant() : input;
        long[] ids = Regex.Matches(text, side.GetProperty("token_pattern").GetString()!)
            .Select(m => vocab.TryGetValue(m.Value, out long id) ? id : unk).Take(side.GetProperty("max_length").GetInt32()).ToArray();
        return ids.Length == 0 ? new[] { unk } : ids;
    }

    [Fact]
    public void TextClassifierFromALoadedZipScoresTheSameInOnnxRuntime()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(120, 1));
        var fitted = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions { Cell = CellType.Gru, HiddenSize = 8, EmbeddingSize = 6, Epochs = 2, Seed = 1, Bidirectional = true, EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0, EmbeddingDropout = 0, ValidationFraction = 0, EarlyStoppingPatience = 0, MinimumTokenCount = 1, Optimizer = Training.OptimizerKind.Adam, WeightDecay = 0, }).Fit(data);
        var loaded = SaveLoad(ml, fitted, data.Schema);
        var model = TextClassifierModel.FromTransformer(loaded);
        using var onnx = new MemoryStream();
        using var sidecar = new MemoryStream();
        model.ExportToOnnx(onnx, sidecar);
        using var session = Session(onnx.ToArray());
        var side = JsonDocument.Parse(sidecar.ToArray()).RootElement;
        Assert.Equal(model.Vocabulary.Tokens.Count, side.GetProperty("vocabulary").GetArrayLength());
        Assert.Contains(session.ModelMetadata.CustomMetadataMap, kv => kv.Key == "rnn_mlnet.vocabulary");
        foreach (string text in new[] { "The food was excellent!", "awful, rude service", "", "never seen words qwerty" })
        {
            int[] ids = model.Encode(text);
            Assert.Equal(ids.Select(i => (long)i), SidecarIds(side, text));
            float p = Run(session, OnnxNames.Probabilities, Ids(ids), Lengths(ids.Length))[0];
            Close(1f / (1f + MathF.Exp(-model.Predict(text)[0])), p, $"probability of '{text}'");
        }

        // The caller's own options: the export honours them (opset, metadata) and adds what the model decides (sigmoid,
        // vocabulary) on a copy, so the caller's object is exactly as it was.
        var mine = new OnnxExportOptions { Opset = 15, Activation = OnnxOutputActivation.None, SequenceLengthsInput = true };
        mine.Metadata["owner"] = "me";
        var regressorLike = new OnnxExportOptions { FeatureMean = new[] { 1f }, FeatureStd = new[] { 2f }, OutputScale = 3f, OutputShift = 4f };
        using var withMine = new MemoryStream();
        model.ExportToOnnx(withMine, options: mine);
        AssertUnchanged(mine, 15, OnnxOutputActivation.None, OnnxNames.Logits, new Dictionary<string, string> { ["owner"] = "me" });
        using (var session2 = Session(withMine.ToArray()))
        {
            Assert.Contains(session2.OutputMetadata.Keys, k => k == OnnxNames.Probabilities);
            Assert.Equal("me", session2.ModelMetadata.CustomMetadataMap["owner"]);
            Assert.Contains(session2.ModelMetadata.CustomMetadataMap, kv => kv.Key == "rnn_mlnet.vocabulary");
        }
        var ml2 = new MLContext(seed: 2);
        var rng = new Rng(5);
        var windows = Enumerable.Range(0, 30).Select(i => Enumerable.Range(0, 8).Select(t => (float)(10 + System.Math.Sin((i + t) / 2.0) + 0.1 * rng.NextNormal())).ToArray()).ToList();
        var regData = ml2.Data.LoadFromEnumerable(windows.Select(w => new WindowRow { Features = w, Label = w[^1] }));
        var regressor = SequenceRegressionModel.FromTransformer(ml2.Regression.Trainers.RnnSequence(new RnnSequenceRegressorOptions { HiddenSize = 4, Epochs = 1, Seed = 2 }).Fit(regData));
        regressor.ExportToOnnx(new MemoryStream(), options: regressorLike);
        Assert.Equal(new[] { 1f }, regressorLike.FeatureMean);
        Assert.Equal(new[] { 2f }, regressorLike.FeatureStd);
        Assert.Equal((3f, 4f), (regressorLike.OutputScale, regressorLike.OutputShift));
        AssertUnchanged(regressorLike, 17, OnnxOutputActivation.None, OnnxNames.Logits, new Dictionary<string, string>());
    }

    private static void AssertUnchanged(OnnxExportOptions options, int opset, OnnxOutputActivation activation, string outputName, Dictionary<string, string> metadata)
    {
        Assert.Equal(opset, options.Opset);
        Assert.Equal(activation, options.Activation);
        Assert.Equal(outputName, options.OutputName);
        Assert.False(options.StateInputsAndOutputs);
        Assert.True(options.SequenceLengthsInput);
        Assert.Equal(metadata.OrderBy(kv => kv.Key), options.Metadata.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void MulticlassTaggerLanguageModelAndRegressorScoreTheSameInOnnxRuntime()
    {
        var ml = new MLContext(seed: 1);
        // Multiclass classifier
        var topics = ml.Data.LoadFromEnumerable(SyntheticData.Topics(90, 1));
        var mc = ml.Transforms.Conversion.MapValueToKey("Label", "Topic")
            .Append(ml.MulticlassClassification.Trainers.RnnText(new RnnTextClassifierOptions { HiddenSize = 8, EmbeddingSize = 6, Epochs = 1, Seed = 1, EnsembleSize = 1, WordNGrams = 0, CharNGrams = 0, EmbeddingDropout = 0, ValidationFraction = 0, EarlyStoppingPatience = 0, MinimumTokenCount = 1, Optimizer = Training.OptimizerKind.Adam, WeightDecay = 0, })).Fit(topics);
        var classifier = TextClassifierModel.FromTransformer(SaveLoad(ml, mc, topics.Schema));
        using (var session = Session(Bytes(s => classifier.ExportToOnnx(s))))
        {
            int[] ids = classifier.Encode("the match and the goal");
            var probs = Run(session, OnnxNames.Probabilities, Ids(ids), Lengths(ids.Length));
            var expected = classifier.Predict("the match and the goal");
            for (int k = 0; k < expected.Length; k++) Close(expected[k], probs[k], $"class {k}");
        }

        // Tagger
        var sentences = ml.Data.LoadFromEnumerable(SyntheticTasks.WordClassSentences(200, seed: 1).Select(x => new SentenceRow { Tokens = x.Tokens, Tags = x.Tags }));
        var tagged = ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions { HiddenSize = 8, EmbeddingSize = 6, Epochs = 1, Seed = 3 }).Fit(sentences);
        var tagger = SequenceTaggerModel.FromTransformer(SaveLoad(ml, tagged, sentences.Schema));
        using (var session = Session(Bytes(s => tagger.ExportToOnnx(s))))
        {
            var tokens = "the fish watch a light".Split(' ');
            int[] ids = tagger.Encode(tokens);
            var probs = Run(session, OnnxNames.Probabilities, Ids(ids), Lengths(ids.Length));
            int T = tagger.Tags.Count;
            var argmax = Enumerable.Range(0, ids.Length).Select(t => tagger.Tags[Enumerable.Range(0, T).MaxBy(k => probs[t * T + k])]).ToArray();
            Assert.Equal(tagger.Predict(tokens), argmax);
        }

        // Language model: the next-token distribution after a prompt, fed token by token through final_h/final_c.
        var corpus = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 20).Select(i => new LineRow { Text = i % 2 == 0 ? "you say goodbye and i say hello ." : "the cat sat on the mat ." }));
        var lmFit = ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions { Tokenizer = TokenizerKind.Whitespace, Layers = 2, HiddenSize = 8, EmbeddingSize = 6, Epochs = 1, Seed = 3 }).Fit(corpus);
        var lm = RnnLanguageModel.FromTransformer(SaveLoad(ml, lmFit, corpus.Schema));
        using (var session = Session(Bytes(s => lm.ExportToOnnx(s))))
        {
            int[] prompt = lm.Encode("the cat sat");
            var net = lm.Network.CloneForInference();
            var state = net.CreateState(1);
            int L = net.Options.Layers, H = net.Options.HiddenSize;
            float[] h = new float[L * H], c = new float[L * H];
            foreach (int token in prompt)
            {
                var ours = net.Step(state, new[] { token }).ToArray();
                using var r = session.Run(new[]
                {
                    Ids(new[] { token }), NamedOnnxValue.CreateFromTensor(OnnxNames.InitialHidden, new DenseTensor<float>(h, new[] { L, 1, H })),
                    NamedOnnxValue.CreateFromTensor(OnnxNames.InitialCell, new DenseTensor<float>(c, new[] { L, 1, H })),
                });
                var logits = r.First(x => x.Name == OnnxNames.Logits).AsTensor<float>().ToArray();
                for (int k = 0; k < ours.Length; k++) Close(ours[k], logits[k], $"logit {k}");
                h = r.First(x => x.Name == OnnxNames.FinalHidden).AsTensor<float>().ToArray();
                c = r.First(x => x.Name == OnnxNames.FinalCell).AsTensor<float>().ToArray();
            }
        }

        // Sequence regressor: original units in and out (the standardization is inside the graph).
        var rng = new Rng(4);
        var windows = Enumerable.Range(0, 60).Select(i => Enumerable.Range(0, 8).Select(t => (float)(50 + 10 * System.Math.Sin((i + t) / 3.0) + rng.NextNormal())).ToArray()).ToList();
        var regData = ml.Data.LoadFromEnumerable(windows.Select(w => new WindowRow { Features = w, Label = w[^1] * 1.1f + 3 }));
        var regFit = ml.Regression.Trainers.RnnSequence(new RnnSequenceRegressorOptions { HiddenSize = 6, Epochs = 2, Seed = 2 }).Fit(regData);
        var regressor = SequenceRegressionModel.FromTransformer(SaveLoad(ml, regFit, regData.Schema));
        using (var session = Session(Bytes(s => regressor.ExportToOnnx(s))))
        {
            var w = windows[7];
            var score = Run(session, "score", NamedOnnxValue.CreateFromTensor(OnnxNames.Features, new DenseTensor<float>(w, new[] { 1, w.Length, 1 })), Lengths(w.Length))[0];
            Close(regressor.Predict(w), score, "regression score");
        }
    }

    [Fact]
    public void ForecasterFromALoadedZipForecastsTheSameInOnnxRuntime()
    {
        var ml = new MLContext(seed: 1);
        var observations = Enumerable.Range(0, 2).SelectMany(i => Enumerable.Range(0, 60).Select(t => new ObservationRow
        {
            Series = $"s{i}", Value = (float)(20 + 5 * i + (1 + i) * System.Math.Sin(2 * System.Math.PI * t / 6) + 0.05 * t + 0.1 * System.Math.Cos(7.3 * t)),
        })).ToArray();
        var data = ml.Data.LoadFromEnumerable(observations);
        var fitted = ml.Forecasting.ForecastByRnn(new Rnn.MLNet.Forecasting.RnnForecastingOptions
        {
            ValueColumnName = "Value", SeriesIdColumnName = "Series", Horizon = 6, SeasonalPeriod = 6, Strategy = Rnn.MLNet.Forecasting.ForecastStrategy.Direct,
            HiddenSize = 6, EnsembleSize = 1, MaxEpochs = 2, Seed = 2,
        }).Fit(data);
        var model = Rnn.MLNet.Forecasting.RnnForecastModel.FromTransformer(SaveLoad(ml, fitted, data.Schema));
        using var session = Session(Bytes(s => model.ExportToOnnx(s)));
        int window = int.Parse(session.ModelMetadata.CustomMetadataMap["rnn_mlnet.window"], System.Globalization.CultureInfo.InvariantCulture);
        var history = observations.Where(o => o.Series == "s1").Select(o => o.Value).ToArray()[^window..];
        var forecast = Run(session, OnnxNames.Forecast, NamedOnnxValue.CreateFromTensor(OnnxNames.History, new DenseTensor<float>(history, new[] { 1, window })));
        var expected = model.Forecast("s1", 6).Point;
        for (int k = 0; k < 6; k++) Close((float)expected[k], forecast[k], $"forecast step {k}");
    }

    [Fact]
    public void SequenceToSequenceGreedyLoopInTheHostGeneratesTheSameText()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = SyntheticTasks.SpelledNumbers(99, 60, seed: 1);
        var data = ml.Data.LoadFromEnumerable(train.Select(p => new PairRow { Source = p.Source, Target = p.Target }));
        var fitted = ml.Transforms.Text.RnnSequenceToSequence(new RnnSequenceToSequenceOptions
        {
            TargetTokenizer = TokenizerKind.Character, HiddenSize = 8, EmbeddingSize = 6, Epochs = 2, Seed = 2, BeamWidth = 1, BidirectionalEncoder = true,
            Attention = AttentionKind.General, MaxOutputLength = 8,
        }).Fit(data);
        var model = SequenceGeneratorModel.FromTransformer(SaveLoad(ml, fitted, data.Schema));
        using var enc = new MemoryStream();
        using var dec = new MemoryStream();
        model.ExportToOnnx(enc, dec);
        using var encoder = Session(enc.ToArray());
        using var decoder = Session(dec.ToArray());
        foreach (string source in new[] { "forty two", "seven", "ninety nine" })
        {
            int[] ids = model.EncodeSource(source);
            using var e = encoder.Run(new[] { Ids(ids), Lengths(ids.Length) });
            var memory = e.First(x => x.Name == OnnxNames.Memory).AsTensor<float>().ToDenseTensor();
            var keys = e.First(x => x.Name == OnnxNames.MemoryKeys).AsTensor<float>().ToDenseTensor();
            var h = e.First(x => x.Name == OnnxNames.InitialHidden).AsTensor<float>().ToDenseTensor();
            var c = e.First(x => x.Name == OnnxNames.InitialCell).AsTensor<float>().ToDenseTensor();
            var generated = new List<int>();
            long token = 0; // end-of-sequence starts decoding
            for (int step = 0; step <= model.Decoding.MaxLength; step++)
            {
                using var r = decoder.Run(new[]
                {
                    NamedOnnxValue.CreateFromTensor(OnnxNames.Token, new DenseTensor<long>(new[] { token }, new[] { 1 })),
                    NamedOnnxValue.CreateFromTensor(OnnxNames.InitialHidden, h), NamedOnnxValue.CreateFromTensor(OnnxNames.InitialCell, c),
                    NamedOnnxValue.CreateFromTensor(OnnxNames.Memory, memory), NamedOnnxValue.CreateFromTensor(OnnxNames.MemoryKeys, keys), Lengths(ids.Length),
                });
                var logp = r.First(x => x.Name == OnnxNames.LogProbabilities).AsTensor<float>().ToArray();
                int best = step == model.Decoding.MaxLength ? 0 : Enumerable.Range(0, logp.Length).MaxBy(k => logp[k]);
                if (best == 0) break;
                generated.Add(best);
                token = best;
                h = r.First(x => x.Name == OnnxNames.FinalHidden).AsTensor<float>().ToDenseTensor();
                c = r.First(x => x.Name == OnnxNames.FinalCell).AsTensor<float>().ToDenseTensor();
            }
            Assert.Equal(model.Generate(source, new DecodingOptions { BeamWidth = 1, MaxLength = model.Decoding.MaxLength }), model.TargetVocabulary.Decode(generated.ToArray()));
        }
    }

    private static byte[] Bytes(Action<Stream> write)
    {
        using var ms = new MemoryStream();
        write(ms);
        return ms.ToArray();
    }

    private sealed class SentenceRow
    {
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public string[] Tags { get; set; } = Array.Empty<string>();
    }

    private sealed class LineRow
    {
        public string Text { get; set; } = "";
    }

    private sealed class ObservationRow
    {
        public string Series { get; set; } = "";
        public float Value { get; set; }
    }

    private sealed class WindowRow
    {
        [VectorType(8)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    private sealed class PairRow
    {
        public string Source { get; set; } = "";
        public string Target { get; set; } = "";
    }
}
