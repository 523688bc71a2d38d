using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Data;
using Rnn.MLNet.Math;
using Rnn.MLNet.Tagging;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Part-of-speech tagging pieces: the CoNLL-U reader, and the tagger with character-level word features tagging words it
/// never saw by their spelling, through ML.NET, with every prediction kept by Save/Load.
/// </summary>
public class PosTaggingTests
{
    private readonly ITestOutputHelper _out;
    public PosTaggingTests(ITestOutputHelper output) => _out = output;

    private const string Sample = "# newdoc id = x\n# sent_id = 1\n# text = Don't go.\n1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n" +
        "1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n" +
        "3.1\tgo\tgo\t_\t_\t_\t_\t_\t_\t_\n4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n\n# sent_id = 2\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n";

    [Fact]
    public void ConlluReaderKeepsSyntacticWordsAndSkipsRangesEmptyNodesAndComments()
    {
        var s = Conllu.Read(new StringReader(Sample));
        Assert.Equal(2, s.Count);
        Assert.Equal(new[] { "Do", "n't", "go", "." }, s[0].Tokens);
        Assert.Equal(new[] { "AUX", "PART", "VERB", "PUNCT" }, s[0].Tags);
        Assert.Equal(new[] { "Hi" }, s[1].Tokens); // the last sentence needs no blank line after it
        Assert.Equal(new[] { "INTJ" }, s[1].Tags);
        Assert.Equal(s.Count, Conllu.Read(new StringReader(Sample.Replace("\n", "\r\n", StringComparison.Ordinal))).Count);

        var ex = Assert.Throws<InvalidDataException>(() => Conllu.Read(new StringReader("1\tDo\tdo\tAUX\n"), "bad.conllu"));
        Assert.Contains("bad.conllu, line 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("10", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<InvalidDataException>(() => Conllu.Read(new StringReader("x\tDo\tdo\tAUX\t_\t_\t_\t_\t_\t_\n"), "bad.conllu"));
        Assert.Contains("ID 'x'", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<InvalidDataException>(() => Conllu.Read(new StringReader("1\ta\ta\tDET\t_\t_\t_\t_\t_\t_\n1\tb\tb\tNOUN\t_\t_\t_\t_\t_\t_\n")));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => Conllu.ReadFile("/no/such/file.conllu"));
    }

    private sealed class SentenceRow
    {
        public string[] Tokens { get; set; } = Array.Empty<string>();
        public string[] Tags { get; set; } = Array.Empty<string>();
    }

    // Sentences "the STEMs STEMed STEMly": the tag of a new word is only in its ending, so only character features can tag
    // words never seen in training; test stems are disjoint from training stems.
    private static List<TaggedSentence> SuffixSentences(int count, ulong seed, bool testStems)
    {
        var rng = new Rng(seed);
        const string letters = "bcdfgklmnprstvz", vowels = "aeiou";
        string Stem()
        {
            string s;
            do s = string.Concat(Enumerable.Range(0, 3).Select(i => i % 2 == 0 ? letters[rng.NextInt(letters.Length)] : vowels[rng.NextInt(vowels.Length)]));
            while ((s[0] < 'm') == testStems); // training stems start in b..l, test stems in m..z
            return s;
        }
        var endings = new (string Suffix, string Tag)[] { ("s", "NOUN"), ("ed", "VERB"), ("ly", "ADV"), ("ful", "ADJ") };
        var list = new List<TaggedSentence>();
        for (int i = 0; i < count; i++)
        {
            var words = new List<string> { "the" };
            var tags = new List<string> { "DET" };
            for (int k = 0; k < 4; k++)
            {
                var (suffix, tag) = endings[rng.NextInt(endings.Length)];
                words.Add(Stem() + suffix);
                tags.Add(tag);
            }
            list.Add(new TaggedSentence(words.ToArray(), tags.ToArray()));
        }
        return list;
    }

    [Fact]
    public void CharacterFeaturesTagUnseenWordsAndSaveLoadKeepsEveryPrediction()
    {
        var ml = new MLContext(seed: 1);
        IDataView Rows(IEnumerable<TaggedSentence> s) => ml.Data.LoadFromEnumerable(s.Select(x => new SentenceRow { Tokens = x.Tokens, Tags = x.Tags }));
        var train = Rows(SuffixSentences(300, 1, testStems: false));
        var testSentences = SuffixSentences(100, 2, testStems: true);
        var test = Rows(testSentences);
        var model = ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions
        {
            EmbeddingSize = 8, HiddenSize = 16, CharacterHiddenSize = 16, CharacterEmbeddingSize = 8, InputDropout = 0.1f, WordDropout = 0.25,
            Epochs = 6, BatchSize = 16, LearningRate = 1e-2, Seed = 5,
            MaximumBatchTokens = 24, // batches of 16 five-token sentences run in passes of 4 (character features and word dropout included)
        }).Fit(train);
        var metrics = ml.MulticlassClassification.EvaluateSequenceTags(model.Transform(test));
        _out.WriteLine($"unseen-stem token accuracy {metrics.TokenAccuracy:P2}");
        Assert.True(metrics.TokenAccuracy >= 0.95, $"token accuracy on unseen words {metrics.TokenAccuracy:P2} < 95%");

        using var ms = new MemoryStream();
        ml.Model.Save(model, train.Schema, ms);
        ms.Position = 0;
        var loaded = new MLContext(seed: 9).Model.Load(ms, out _);
        var before = SequenceTaggerModel.FromTransformer(model);
        var after = SequenceTaggerModel.FromTransformer(loaded);
        Assert.NotNull(after.Characters);
        Assert.Equal(before.Characters!.Tokens, after.Characters!.Tokens);
        foreach (var s in testSentences)
            Assert.Equal(before.Predict(s.Tokens), after.Predict(s.Tokens));
        // spellings longer than the limit keep their two ends; an empty token still gets a tag
        Assert.Equal(3, after.Predict(new[] { "the", new string('z', 60) + "ly", "" }).Length);
    }

    [Fact]
    public void NegativeMaximumBatchTokensIsRejectedByName()
    {
        var ml = new MLContext(seed: 1);
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.Text.RnnSequenceTagger(new RnnSequenceTaggerOptions { MaximumBatchTokens = -1 }));
        Assert.Contains("MaximumBatchTokens", e.Message);
    }
}
