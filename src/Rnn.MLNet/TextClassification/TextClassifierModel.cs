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

/// <summary>A trained text classifier: text → tokens → network → class probabilities. Thread-safe.</summary>
public sealed class TextClassifierModel : IPipelineModel<TextClassifierModel>
{
    internal const string Kind = "text-classifier";
    private readonly NetworkPool _pool;

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

    /// <summary>The network (do not run it concurrently; <see cref="Predict"/> is thread-safe).</summary>
    public SequenceNetwork<float> Network => _pool.Prototype;

    internal TextClassifierModel(SequenceNetwork<float> network, Vocabulary vocabulary, IReadOnlyList<string> classes, bool isBinary, bool lowerCase, int maxLength, TokenInputKind inputKind = TokenInputKind.Text)
    {
        _pool = new NetworkPool(network);
        Vocabulary = vocabulary; Classes = classes; IsBinary = isBinary; LowerCase = lowerCase; MaxLength = maxLength; InputKind = inputKind;
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

    /// <summary>Scores one text: binary → [logit]; multiclass → probabilities [K].</summary>
    public float[] Predict(string? text) => PredictIds(Encode(text));

    /// <summary>Scores token ids: binary → [logit]; multiclass → probabilities [K].</summary>
    public float[] PredictIds(int[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var net = _pool.Rent();
        try
        {
            var y = net.Forward(SequenceBatch<float>.FromTokens(ids, 1, ids.Length));
            var result = new float[y.Length];
            if (IsBinary) y.CopyTo(result);
            else SoftmaxCrossEntropy.Softmax(y, result);
            return result;
        }
        finally { _pool.Return(net); }
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
        var net = file.CreateNetwork();
        if (vocab.Length != net.Options.VocabularySize) throw new System.IO.InvalidDataException($"Vocabulary has {vocab.Length} tokens; the network expects {net.Options.VocabularySize}.");
        bool binary = Prop("binary") == "1";
        if ((binary ? 1 : classes.Length) != net.Options.OutputSize) throw new System.IO.InvalidDataException($"{classes.Length} classes do not match the network's {net.Options.OutputSize} outputs.");
        if (!Enum.TryParse<TokenInputKind>(Prop("input"), out var input)) throw new System.IO.InvalidDataException($"Unknown input kind '{Prop("input")}'.");
        return new TextClassifierModel(net, file.RequireVocabulary("vocabulary", tk), classes, binary, Prop("lowercase") == "1", maxLength, input);
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
