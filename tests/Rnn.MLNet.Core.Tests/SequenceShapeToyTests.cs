using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Data;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The other sequence shapes learned from fixed seeds on generated data, scored on held-out examples: translation-like
/// (spelled-out numbers → digits), per-token tagging (word classes), one-to-many (a colour vector → its name).
/// </summary>
public class SequenceShapeToyTests
{
    private readonly ITestOutputHelper _out;
    public SequenceShapeToyTests(ITestOutputHelper output) => _out = output;

    [Theory]
    [InlineData(AttentionKind.General, false)]
    [InlineData(AttentionKind.None, true)]
    public void SpelledNumbersTranslateToDigits(AttentionKind attention, bool bidirectional)
    {
        var (train, test) = SyntheticTasks.SpelledNumbers(999, 800, seed: 1);
        var src = Vocabulary.Build(train.Select(p => p.Source), new WhitespaceTokenizer());
        var tgt = Vocabulary.BuildTarget(train.Select(p => p.Target), new CharacterTokenizer());
        List<SequencePair> Encode(List<TextPair> pairs) => pairs.Select(p => new SequencePair { Source = src.Encode(p.Source), Target = tgt.Encode(p.Target) }).ToList();
        var net = new EncoderDecoderNetwork<float>(new EncoderDecoderOptions
        {
            Cell = CellType.Lstm, SourceVocabularySize = src.Count, TargetVocabularySize = tgt.Count, EmbeddingSize = 32, HiddenSize = bidirectional ? 32 : 64,
            BidirectionalEncoder = bidirectional, Attention = attention,
        });
        Initializer.Initialize(net.Parameters, InitScheme.Orthogonal, seed: 3);
        var result = EncoderDecoderFitter.Fit(net, Encode(train), null, new FitOptions { Epochs = 40, BatchSize = 32, LearningRate = 5e-3, Seed = 2, Progress = r => _out.WriteLine(r.ToString()) });
        double greedy = EncoderDecoderFitter.ExactMatch(net, Encode(test));
        double beam = EncoderDecoderFitter.ExactMatch(net, Encode(test), new DecodingOptions { BeamWidth = 4 });
        foreach (var p in test)
        {
            string got = tgt.Decode(net.Decode(src.Encode(p.Source)).Tokens);
            if (got != p.Target) _out.WriteLine($"miss: '{p.Source}' → '{got}' (expected {p.Target})");
        }
        _out.WriteLine($"held-out exact match: greedy {greedy:P2}, beam 4 {beam:P2} ({test.Count} numbers)");
        Assert.True(greedy >= 0.99, $"greedy exact match {greedy:P2} < 99%");
        Assert.True(beam >= 0.99, $"beam exact match {beam:P2} < 99%");
        Assert.Equal("312", tgt.Decode(net.Decode(src.Encode("three hundred twelve")).Tokens));
    }

    [Fact]
    public void AValidationScoreChoosesTheKeptEpochAndEarlyStopping()
    {
        var (train, _) = SyntheticTasks.SpelledNumbers(99, 60, seed: 1);
        var src = Vocabulary.Build(train.Select(p => p.Source), new WhitespaceTokenizer());
        var tgt = Vocabulary.BuildTarget(train.Select(p => p.Target), new CharacterTokenizer());
        var pairs = train.Select(p => new SequencePair { Source = src.Encode(p.Source), Target = tgt.Encode(p.Target) }).ToList();
        var net = new EncoderDecoderNetwork<float>(new EncoderDecoderOptions { SourceVocabularySize = src.Count, TargetVocabularySize = tgt.Count, EmbeddingSize = 4, HiddenSize = 6 });
        Initializer.Initialize(net.Parameters, InitScheme.Orthogonal, seed: 3);
        double[] scores = { 1, 5, 2, 4, 3, 9 }; // best at epoch 2; patience 3 stops after epoch 5
        int calls = 0;
        float[]? atEpoch2 = null;
        var result = EncoderDecoderFitter.Fit(net, pairs, pairs.Take(10).ToList(), new FitOptions
        {
            Epochs = 6, BatchSize = 16, LearningRate = 1e-2, EarlyStoppingPatience = 3, Seed = 1,
            ValidationScore = () => { if (calls == 1) atEpoch2 = net.Parameters.Values.ToArray(); return scores[calls++]; },
        });
        Assert.Equal(5, calls);
        Assert.Equal(2, result.BestEpoch);
        Assert.Equal(result.History[1].ValidationLoss, result.BestValidationLoss);
        Assert.Equal(new double?[] { 1, 5, 2, 4, 3 }, result.History.Select(h => h.ValidationScore));
        Assert.Equal(atEpoch2, net.Parameters.Values.ToArray());
    }

    [Fact]
    public void WordClassesAreTaggedPerToken()
    {
        var train = SyntheticTasks.WordClassSentences(2000, seed: 1);
        var test = SyntheticTasks.WordClassSentences(500, seed: 2);
        var words = Vocabulary.Build(train.SelectMany(s => s.Tokens), new WhitespaceTokenizer());
        var tags = Vocabulary.Build(train.SelectMany(s => s.Tags), new WhitespaceTokenizer(), addUnknown: false);
        List<LabeledSequence> Encode(List<TaggedSentence> data) => data.Select(s => new LabeledSequence
        {
            Tokens = s.Tokens.Select(words.IdOf).ToArray(),
            StepClasses = s.Tags.Select(tags.IdOf).ToArray(),
        }).ToList();
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = words.Count, EmbeddingSize = 16, HiddenSize = 32,
            Bidirectional = true, Output = OutputMode.PerStep, OutputSize = tags.Count,
        });
        Initializer.Initialize(net, InitScheme.Orthogonal, seed: 4);
        SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, Encode(train), null, new FitOptions { Epochs = 5, BatchSize = 32, LearningRate = 5e-3, Seed = 3 });
        var trainer = new Trainer<float>(net, new Sgd<float>(0.1), LossKind.SoftmaxCrossEntropy); // evaluation only: no step is taken
        var (_, accuracy) = SequenceFitter.Evaluate(trainer, Encode(test), 64);
        _out.WriteLine($"held-out token accuracy {accuracy:P2} over {test.Sum(s => s.Tokens.Length)} tokens");
        Assert.True(accuracy >= 0.99, $"token accuracy {accuracy:P2} < 99%");

        // The ambiguous words get the tag their position calls for, which needs the right-hand context too.
        var sentence = "the fish watch a light".Split(' ');
        net.Forward(Models.SequenceBatch<float>.FromTokens(sentence.Select(words.IdOf).ToArray(), 1, sentence.Length));
        var predicted = Enumerable.Range(0, sentence.Length).Select(t => tags.Tokens[ArgMax(net.Output.Slice(t * tags.Count, tags.Count))]).ToArray();
        Assert.Equal(new[] { "DET", "NOUN", "VERB", "DET", "NOUN" }, predicted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ColourVectorsAreDescribed(bool feedEveryStep)
    {
        var train = SyntheticTasks.ColourPhrases(3000, seed: 1);
        var test = SyntheticTasks.ColourPhrases(500, seed: 2);
        var tgt = Vocabulary.BuildTarget(train.Select(c => c.Phrase), new WhitespaceTokenizer());
        List<SequencePair> Encode(List<DescribedVector> data) => data.Select(c => new SequencePair { Features = c.Features, Target = tgt.Encode(c.Phrase) }).ToList();
        var net = new EncoderDecoderNetwork<float>(new EncoderDecoderOptions
        {
            Cell = CellType.Gru, Source = SourceKind.Features, FeatureSize = 3, FeedFeaturesEveryStep = feedEveryStep,
            TargetVocabularySize = tgt.Count, EmbeddingSize = 16, HiddenSize = 64,
        });
        Initializer.Initialize(net.Parameters, InitScheme.Orthogonal, seed: 5);
        EncoderDecoderFitter.Fit(net, Encode(train), null, new FitOptions { Epochs = 15, BatchSize = 32, LearningRate = 5e-3, Seed = 6, Progress = r => _out.WriteLine(r.ToString()) });
        double exact = EncoderDecoderFitter.ExactMatch(net, Encode(test));
        _out.WriteLine($"held-out exact match {exact:P2} ({test.Count} colours)");
        Assert.True(exact >= 0.95, $"exact match {exact:P2} < 95%");
        Assert.Equal("dark green", tgt.Decode(net.DecodeFeatures(SyntheticTasks.HslToRgb(120, 0.8, 0.25)).Tokens));
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
