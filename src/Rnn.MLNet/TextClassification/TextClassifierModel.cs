using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;

namespace Rnn.MLNet.TextClassification;

/// <summary>
/// A trained text classifier: text → tokens (and, with a linear part, a bag of n-grams) → one or more networks → class
/// probabilities, averaged over the members of an ensemble. Thread-safe.
/// </summary>
public sealed class TextClassifierModel : IPipelineModel<TextClassifierModel>
{
    internal const string Kind = "text-classifier";
    internal const string MemberKind = "text-classifier-member";
    private readonly NetworkPool[] _pools;

    /// <summary>The vocabulary (tokenizer included).</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>Class names in score order; binary models have ["False", "True"].</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>True for a binary (sigmoid) model.</summary>
    public bool IsBinary { get; }

    /// <summary>Texts are lower-cased (invariant culture) before tokenizing.</summary>
    public bool LowerCase { get; }

    /// <summary>Texts are cut to their first MaxLength tokens.</summary>
    public int MaxLength { get; }

    /// <summary>What the model reads: a text column, a vector of token strings (or keys, read through their key values), or integer ids.</summary>
    public TokenInputKind InputKind { get; }

    /// <summary>The bag of word and character n-grams the networks' linear (wide) input reads, or null (no linear part).</summary>
    public NGramBag? Bag { get; }

    /// <summary>The first member's network (do not run it concurrently; <see cref="Predict"/> is thread-safe).</summary>
    public SequenceNetwork<float> Network => _pools[0].Prototype;

    /// <summary>The members' networks; scores are the mean of their probabilities.</summary>
    public IReadOnlyList<SequenceNetwork<float>> Networks => _pools.Select(p => p.Prototype).ToArray();

    internal TextClassifierModel(IReadOnlyList<SequenceNetwork<float>> networks, Vocabulary vocabulary, IReadOnlyList<string> classes, bool isBinary, bool lowerCase, int maxLength, TokenInputKind inputKind = TokenInputKind.Text, NGramBag? bag = null)
    {
        if (networks.Count == 0) throw new ArgumentException("A classifier needs at least one network.", nameof(networks));
        _pools = networks.Select(n => new NetworkPool(n)).ToArray();
        Vocabulary = vocabulary; Classes = classes; IsBinary = isBinary; LowerCase = lowerCase; MaxLength = maxLength; InputKind = inputKind; Bag = bag;
    }

    /// <summary>Ids of integer token ids as read from a Single column; ids outside the vocabulary read as 0.</summary>
    internal int[] EncodeIds(ReadOnlySpan<float> values)
    {
        var ids = new List<int>(System.Math.Min(values.Length, MaxLength));
        foreach (float v in values)
        {
            if (ids.Count == MaxLength) break;
            if (!(v >= 0) || float.IsInfinity(v)) throw new ArgumentException($"Token id {v} is not a non-negative integer.", nameof(values));
            ids.Add(v < Vocabulary.Count ? (int)v : 0);
        }
        if (ids.Count == 0) ids.Add(0);
        return ids.ToArray();
    }

    /// <summary>Ids of tokens given as strings (unknown tokens read as the unknown id).</summary>
    internal int[] EncodeTokens(ReadOnlySpan<ReadOnlyMemory<char>> tokens)
    {
        var ids = new List<int>(System.Math.Min(tokens.Length, MaxLength));
        foreach (var t in tokens)
        {
            if (ids.Count == MaxLength) break;
            string token = LowerCase ? t.ToString().ToLowerInvariant() : t.ToString();
            ids.Add(Vocabulary.Contains(token) ? Vocabulary.IdOf(token) : System.Math.Max(0, Vocabulary.UnknownId));
        }
        if (ids.Count == 0) ids.Add(System.Math.Max(0, Vocabulary.UnknownId));
        return ids.ToArray();
    }

    /// <summary>Token ids of a text as the model reads it (at least one token: an empty text reads as the unknown token).</summary>
    public int[] Encode(string? text)
    {
        text ??= string.Empty;
        if (LowerCase) text = text.ToLowerInvariant();
        var ids = Vocabulary.Encode(text);
        if (ids.Length > MaxLength) ids = ids[..MaxLength];
        if (ids.Length == 0) ids = new[] { Vocabulary.UnknownId >= 0 ? Vocabulary.UnknownId : 0 };
        return ids;
    }

    /// <summary>The bag of a text as the linear part reads it (null without a linear part).</summary>
    public (int[] Ids, float[] Values)? EncodeBag(string? text) => Bag?.Encode(LowerCase ? (text ?? "").ToLowerInvariant() : text);

    /// <summary>Scores one text: binary → [logit of the mean probability]; multiclass → mean probabilities [K].</summary>
    public float[] Predict(string? text) => PredictCore(Encode(text), EncodeBag(text));

    /// <summary>Scores token ids (models without a linear part): binary → [logit]; multiclass → probabilities [K].</summary>
    public float[] PredictIds(int[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (Bag is not null) throw new InvalidOperationException("This model also reads a bag of n-grams of the text; score texts with Predict.");
        return PredictCore(ids, null);
    }

    private float[] PredictCore(int[] ids, (int[] Ids, float[] Values)? bag)
    {
        var batch = SequenceBatch<float>.FromTokens(ids, 1, ids.Length);
        if (bag is { } b) batch.WithBag(new SparseRows<float>(new[] { 0, b.Ids.Length }, b.Ids, b.Values));
        var mean = new float[IsBinary ? 1 : Classes.Count];
        var p = new float[mean.Length];
        var logits = new double[_pools.Length];
        for (int m = 0; m < _pools.Length; m++)
        {
            var net = _pools[m].Rent();
            try
            {
                var y = net.Forward(batch);
                if (IsBinary) logits[m] = y[0];
                else SoftmaxCrossEntropy.Softmax(y, p);
            }
            finally { _pools[m].Return(net); }
            if (!IsBinary) for (int i = 0; i < p.Length; i++) mean[i] += p[i] / _pools.Length;
        }
        // binary: the log-odds of the mean probability (one member: its logit), as the explanations explain it
        if (IsBinary) mean[0] = (float)EnsembleScore.LogOddsOfMeanProbability(logits, 1, 0);
        return mean;
    }

    /// <summary>
    /// The text classifier inside a transformer: the one Fit returned, a pipeline holding it, or one that
    /// <c>mlContext.Model.Load</c> returned.
    /// </summary>
    /// <exception cref="ArgumentException">The transformer holds no Rnn.MLNet text classifier.</exception>
    /// <exception cref="System.IO.InvalidDataException">Its model is corrupt; the message says what is wrong.</exception>
    public static TextClassifierModel FromTransformer(ITransformer transformer) => ModelPersistence.Find<TextClassifierModel>(transformer);

    static string IPipelineModel<TextClassifierModel>.Kind => Kind;
    static string IPipelineModel<TextClassifierModel>.Description => "text classifier";
    static TextClassifierModel IPipelineModel<TextClassifierModel>.FromFile(ModelFile file) => FromFile(file);

    /// <summary>
    /// One model file: the first member's network with the vocabulary, classes, settings and n-gram list; every other
    /// member's own model file (<see cref="MemberKind"/>, its network only) packed in (<see cref="EnsembleMembers"/>).
    /// </summary>
    internal ModelFile ToFile()
    {
        var file = ModelFile.From(Network);
        file.Properties["kind"] = Kind;
        file.Properties["binary"] = IsBinary ? "1" : "0";
        file.Properties["tokenizer"] = Vocabulary.Tokenizer.Kind.ToString();
        file.Properties["lowercase"] = LowerCase ? "1" : "0";
        file.Properties["maxLength"] = MaxLength.ToString(CultureInfo.InvariantCulture);
        file.Lists["vocabulary"] = Vocabulary.Tokens.ToArray();
        file.Lists["classes"] = Classes.ToArray();
        file.Properties["input"] = InputKind.ToString();
        if (Bag is not null)
        {
            file.Properties["wordNGrams"] = Bag.WordNGrams.ToString(CultureInfo.InvariantCulture);
            file.Properties["charNGrams"] = Bag.CharNGrams.ToString(CultureInfo.InvariantCulture);
            file.Lists["bag"] = Bag.Features.ToArray();
        }
        EnsembleMembers.Write(file, _pools.Select((p, i) => i == 0 ? file : ModelFile.From(p.Prototype)).ToArray(), MemberKind);
        return file;
    }

    internal static TextClassifierModel FromFile(ModelFile file)
    {
        string Prop(string k) => file.RequireProperty(k);
        if (Prop("kind") != Kind) throw new System.IO.InvalidDataException($"The model is a '{Prop("kind")}', not a text classifier.");
        if (!Enum.TryParse<TokenizerKind>(Prop("tokenizer"), out var tk)) throw new System.IO.InvalidDataException($"Unknown tokenizer '{Prop("tokenizer")}'.");
        if (!file.Lists.TryGetValue("vocabulary", out var vocab) || !file.Lists.TryGetValue("classes", out var classes))
            throw new System.IO.InvalidDataException("The model lacks its vocabulary or class list.");
        if (!int.TryParse(Prop("maxLength"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int maxLength) || maxLength < 1)
            throw new System.IO.InvalidDataException($"Invalid maxLength '{Prop("maxLength")}'.");
        var memberFiles = EnsembleMembers.Read(file, MemberKind, "text classifier");
        NGramBag? bag = null;
        if (file.Lists.TryGetValue("bag", out var features))
        {
            if (!int.TryParse(Prop("wordNGrams"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int words) || !int.TryParse(Prop("charNGrams"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int chars))
                throw new System.IO.InvalidDataException($"Invalid n-gram lengths '{Prop("wordNGrams")}', '{Prop("charNGrams")}'.");
            try { bag = new NGramBag(features, words, chars); }
            catch (ArgumentException e) { throw new System.IO.InvalidDataException("The model's n-gram dictionary is invalid: " + e.Message, e); }
        }
        bool binary = Prop("binary") == "1";
        var nets = new List<SequenceNetwork<float>>();
        for (int i = 0; i < memberFiles.Length; i++)
        {
            var net = memberFiles[i].CreateNetwork();
            if (vocab.Length != net.Options.VocabularySize) throw new System.IO.InvalidDataException($"Vocabulary has {vocab.Length} tokens; network {i} expects {net.Options.VocabularySize}.");
            if ((binary ? 1 : classes.Length) != net.Options.OutputSize) throw new System.IO.InvalidDataException($"{classes.Length} classes do not match network {i}'s {net.Options.OutputSize} outputs.");
            if (net.Options.WideFeatures != (bag?.Count ?? 0)) throw new System.IO.InvalidDataException($"Network {i} reads {net.Options.WideFeatures} n-gram features; the dictionary has {bag?.Count ?? 0}.");
            nets.Add(net);
        }
        if (!Enum.TryParse<TokenInputKind>(Prop("input"), out var input)) throw new System.IO.InvalidDataException($"Unknown input kind '{Prop("input")}'.");
        return new TextClassifierModel(nets, file.RequireVocabulary("vocabulary", tk), classes, binary, Prop("lowercase") == "1", maxLength, input, bag);
    }
}

/// <summary>What a text classifier reads.</summary>
public enum TokenInputKind
{
    /// <summary>A text column, tokenized by the model.</summary>
    Text,
    /// <summary>A vector of token strings, or of keys (read through their key values).</summary>
    Tokens,
    /// <summary>A vector of non-negative integer ids (Single, Double or Int32).</summary>
    Ids,
}
