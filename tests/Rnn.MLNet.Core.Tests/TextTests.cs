using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;
using Xunit;

namespace Rnn.MLNet.Tests;

public class TextTests
{
    [Theory]
    [InlineData("hello world")]
    [InlineData("한국어 텍스트")]
    [InlineData("emoji 👩‍👩‍👧 and flags 🇫🇷")]
    [InlineData("combining e\u0301 marks")]
    [InlineData("lone \ud800 surrogate and \udc00")]
    [InlineData("CR\r\nLF\nmix\r")]
    [InlineData("")]
    public void CharacterTokenizerRoundTripsExactly(string text)
    {
        var tok = new CharacterTokenizer();
        Assert.Equal(text, tok.Join(tok.Split(text)));
        var vocab = Vocabulary.Build(new[] { text, "x" }, tok, addUnknown: false);
        Assert.Equal(text, vocab.Decode(vocab.Encode(text)));
    }

    [Fact]
    public void GraphemeClustersAreSingleTokens()
    {
        var tokens = new CharacterTokenizer().Split("a👩‍👩‍👧e\u0301");
        Assert.Equal(new[] { "a", "👩‍👩‍👧", "e\u0301" }, tokens);
    }

    [Fact]
    public void WordTokenizerSplitsWordsAndPunctuationAndRoundTripsTokens()
    {
        var tok = new WordTokenizer();
        var tokens = tok.Split("You say goodbye, and I say \"hello\"! Don't stop.");
        Assert.Equal(new[] { "You", "say", "goodbye", ",", "and", "I", "say", "\"", "hello", "\"", "!", "Don't", "stop", "." }, tokens);
        Assert.Equal(tokens, tok.Split(tok.Join(tokens)));
    }

    [Fact]
    public void WordTokenizerKeepsSurrogatePairsWhole()
    {
        var tokens = new WordTokenizer().Split("great 😀😀 food👍🏽 ❤️");
        Assert.Equal(new[] { "great", "😀", "😀", "food", "👍", "🏽", "❤️" }, tokens);
        Assert.DoesNotContain(tokens, t => t.Length == 1 && char.IsSurrogate(t[0]));
    }

    [Fact]
    public void VocabulariesWithAnyUnicodeSurviveTheModelFileExactly()
    {
        string text = "lone \ud800 and \udfff surrogates, 😀, 한국어, e\u0301, \0 and \uFFFD";
        var vocab = Vocabulary.Build(new[] { text }, new CharacterTokenizer(), addUnknown: true);
        var file = new Serialization.ModelFile(new NetworkOptions { Input = InputKind.OneHot, VocabularySize = vocab.Count, HiddenSize = 2, OutputSize = 2 },
            new float[new NetworkOptions { Input = InputKind.OneHot, VocabularySize = vocab.Count, HiddenSize = 2, OutputSize = 2 }.ParameterCount()]);
        file.Lists["vocabulary"] = vocab.Tokens.ToArray();
        var back = Serialization.ModelFile.Read(file.ToBytes()).Lists["vocabulary"];
        Assert.Equal(vocab.Tokens, back);
        Assert.Equal(text, new Vocabulary(new CharacterTokenizer(), back).Decode(vocab.Encode(text)));
    }

    [Fact]
    public void VocabularyLimitKeepsTheMostFrequentAndMapsTheRestToUnknown()
    {
        var vocab = Vocabulary.Build(new[] { "a a a b b c d", "a b e" }, new WhitespaceTokenizer(), maxSize: 3);
        Assert.Equal(new[] { Vocabulary.UnknownToken, "a", "b" }, vocab.Tokens);
        Assert.Equal(new[] { 1, 2, 0, 0 }, vocab.Encode("a b c zzz"));
        Assert.Equal("a b <unk>", vocab.Decode(new[] { 1, 2, 0 }));
    }

    [Fact]
    public void VocabularyWithoutUnknownRejectsUnseenTokensByName()
    {
        var vocab = Vocabulary.Build(new[] { "abc" }, new CharacterTokenizer(), addUnknown: false);
        var ex = Assert.Throws<ArgumentException>(() => vocab.Encode("abz"));
        Assert.Contains("'z'", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => vocab.Decode(new[] { 7 }));
    }

    [Fact]
    public void BuildingFromEmptyTextIsAClearError()
    {
        var ex = Assert.Throws<ArgumentException>(() => Vocabulary.Build(new string?[] { "", null }, new WordTokenizer(), addUnknown: false));
        Assert.Contains("no tokens", ex.Message);
    }

    [Fact]
    public void GenerationIsGreedyAtTemperatureZeroAndRepeatsWithTheSameSeed()
    {
        var vocab = new Vocabulary(new CharacterTokenizer(), new[] { "h", "e", "l", "o" });
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Lstm, Input = InputKind.OneHot, VocabularySize = 4, HiddenSize = 12, OutputSize = 4, Output = OutputMode.PerStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 3);
        var trainer = new Trainer<float>(net, new Adam<float>(0.05), LossKind.SoftmaxCrossEntropy);
        int[] ids = vocab.Encode("hello");
        var batch = SequenceBatch<float>.FromTokens(ids[..4], 1, 4);
        for (int i = 0; i < 100; i++) trainer.TrainStep(batch, new Targets<float> { Classes = ids[1..] });

        Assert.Equal("ello", TextGenerator.Generate(net, vocab, "h", new SamplingOptions { MaxTokens = 4, Temperature = 0 }));
        var sampled = new SamplingOptions { MaxTokens = 30, Temperature = 1.5, TopK = 3, Seed = 9 };
        string a = TextGenerator.Generate(net, vocab, "he", sampled), b = TextGenerator.Generate(net, vocab, "he", sampled);
        Assert.Equal(a, b);
        Assert.Equal(30, a.Length);
        // top-1 sampling is greedy whatever the temperature
        Assert.Equal("ello", TextGenerator.Generate(net, vocab, "h", new SamplingOptions { MaxTokens = 4, Temperature = 2, TopK = 1 }));
    }
}
