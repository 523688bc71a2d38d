using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;

namespace Rnn.MLNet.TextClassification;

/// <summary>
/// A trained text classifier: text → tokens (and, with a wide part, a bag of n-grams) → one or more networks → class
/// probabilities, averaged over the members of an ensemble. Thread-safe.
/// </summary>
public sealed class TextClassifierModel
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

    /// <summary>The bag of word and character n-grams the networks' wide input reads, or null (no wide part).</summary>
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
    public int[] EncodeIds(ReadOnlySpan<float> values)
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
    public int[] EncodeTokens(ReadOnlySpan<ReadOnlyMemory<char>> tokens)
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

    /// <summary>The bag of a text as the wide part reads it (null without a wide part).</summary>
    public (int[] Ids, float[] Values)? EncodeBag(string? text) => Bag?.Encode(LowerCase ? (text ?? "").ToLowerInvariant() : text);

    /// <summary>Scores one text: binary → [logit of the mean probability]; multiclass → mean probabilities [K].</summary>
    public float[] Predict(string? text) => PredictCore(Encode(text), EncodeBag(text));

    /// <summary>Scores token ids (models without a wide part): binary → [logit]; multiclass → probabilities [K].</summary>
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
        float logit = 0;
        foreach (var pool in _pools)
        {
            var net = pool.Rent();
            try
            {
                var y = net.Forward(batch);
                if (IsBinary) p[0] = SigmoidBinaryCrossEntropy.Sigmoid(logit = y[0]);
                else SoftmaxCrossEntropy.Softmax(y, p);
            }
            finally { pool.Return(net); }
            for (int i = 0; i < p.Length; i++) mean[i] += p[i] / _pools.Length;
        }
        if (IsBinary)
        {
            if (_pools.Length == 1) return new[] { logit };
            float q = System.Math.Clamp(mean[0], 1e-7f, 1 - 1e-7f);
            mean[0] = MathF.Log(q / (1 - q)); // the logit of the mean probability
        }
        return mean;
    }

    /// <summary>
    /// One model file per member: the first carries the vocabulary, classes, settings and n-gram dictionary; the others
    /// only their network (<see cref="MemberKind"/>).
    /// </summary>
    internal IReadOnlyList<ModelFile> ToFiles()
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
        file.Properties["members"] = _pools.Length.ToString(CultureInfo.InvariantCulture);
        if (Bag is not null)
        {
            file.Properties["wordNGrams"] = Bag.WordNGrams.ToString(CultureInfo.InvariantCulture);
            file.Properties["charNGrams"] = Bag.CharNGrams.ToString(CultureInfo.InvariantCulture);
            file.Lists["bag"] = Bag.Features.ToArray();
        }
        var files = new List<ModelFile> { file };
        foreach (var pool in _pools.Skip(1))
        {
            var member = ModelFile.From(pool.Prototype);
            member.Properties["kind"] = MemberKind;
            files.Add(member);
        }
        return files;
    }

    internal static TextClassifierModel FromFiles(IReadOnlyList<ModelFile> files)
    {
        var file = files[0];
        string Prop(string k) => file.RequireProperty(k);
        if (Prop("kind") != Kind) throw new System.IO.InvalidDataException($"The model is a '{Prop("kind")}', not a text classifier.");
        if (!Enum.TryParse<TokenizerKind>(Prop("tokenizer"), out var tk)) throw new System.IO.InvalidDataException($"Unknown tokenizer '{Prop("tokenizer")}'.");
        if (!file.Lists.TryGetValue("vocabulary", out var vocab) || !file.Lists.TryGetValue("classes", out var classes))
            throw new System.IO.InvalidDataException("The model lacks its vocabulary or class list.");
        if (!int.TryParse(Prop("maxLength"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int maxLength) || maxLength < 1)
            throw new System.IO.InvalidDataException($"Invalid maxLength '{Prop("maxLength")}'.");
        int members = 1;
        if (file.Properties.TryGetValue("members", out string? m) && (!int.TryParse(m, NumberStyles.Integer, CultureInfo.InvariantCulture, out members) || members < 1))
            throw new System.IO.InvalidDataException($"Invalid member count '{m}'.");
        if (members != files.Count) throw new System.IO.InvalidDataException($"The model announces {members} ensemble members; the payload holds {files.Count}.");
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
        for (int i = 0; i < files.Count; i++)
        {
            if (i > 0 && files[i].RequireProperty("kind") != MemberKind) throw new System.IO.InvalidDataException($"Ensemble member {i} is a '{files[i].RequireProperty("kind")}', not a text classifier member.");
            var net = files[i].CreateNetwork();
            if (vocab.Length != net.Options.VocabularySize) throw new System.IO.InvalidDataException($"Vocabulary has {vocab.Length} tokens; network {i} expects {net.Options.VocabularySize}.");
            if ((binary ? 1 : classes.Length) != net.Options.OutputSize) throw new System.IO.InvalidDataException($"{classes.Length} classes do not match network {i}'s {net.Options.OutputSize} outputs.");
            if (net.Options.WideFeatures != (bag?.Count ?? 0)) throw new System.IO.InvalidDataException($"Network {i} reads {net.Options.WideFeatures} n-gram features; the dictionary has {bag?.Count ?? 0}.");
            nets.Add(net);
        }
        if (!Enum.TryParse<TokenInputKind>(Prop("input"), out var input)) throw new System.IO.InvalidDataException($"Unknown input kind '{Prop("input")}'.");
        return new TextClassifierModel(nets, file.RequireVocabulary("vocabulary", tk), classes, binary, Prop("lowercase") == "1", maxLength, input, bag);
    }
}

/// <summary>CustomMapping input: the text and the serialized model.</summary>
public sealed class TextClassifierInput
{
    /// <summary>The text (a private copy of the user's text column).</summary>
    [ColumnName(Payload.TextColumn)] public ReadOnlyMemory<char> Text { get; set; }

    /// <summary>The model payload (the same string on every row).</summary>
    [ColumnName(Payload.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
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

/// <summary>CustomMapping input: token strings and the serialized model.</summary>
public sealed class TokenStringsInput
{
    /// <summary>The tokens (a private copy of the user's token column, keys mapped to their values).</summary>
    [ColumnName(Payload.TokensColumn)] public ReadOnlyMemory<char>[] Tokens { get; set; } = Array.Empty<ReadOnlyMemory<char>>();

    /// <summary>The model payload.</summary>
    [ColumnName(Payload.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
}

/// <summary>CustomMapping input: token ids (converted to Single) and the serialized model.</summary>
public sealed class TokenIdsInput
{
    /// <summary>The token ids (a private Single copy of the user's token column).</summary>
    [ColumnName(Payload.TokensColumn)] public float[] Tokens { get; set; } = Array.Empty<float>();

    /// <summary>The model payload.</summary>
    [ColumnName(Payload.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
}

/// <summary>CustomMapping output of the binary classifier, in the columns ML.NET's binary evaluator reads.</summary>
public sealed class BinaryClassifierOutput
{
    /// <summary>Raw logit; the evaluator predicts Score &gt; 0.</summary>
    public float Score { get; set; }

    /// <summary>σ(Score).</summary>
    public float Probability { get; set; }

    /// <summary>Score &gt; 0.</summary>
    public bool PredictedLabel { get; set; }
}

/// <summary>Runs a binary text classifier inside a CustomMapping (contract <c>Rnn.MLNet.TextClassifier.Binary.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class BinaryTextClassifierFactory : CustomMappingFactory<TextClassifierInput, BinaryClassifierOutput>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TextClassifier.Binary.v1";

    /// <inheritdoc />
    public override Action<TextClassifierInput, BinaryClassifierOutput> GetMapping() => Map;

    internal static void Map(TextClassifierInput input, BinaryClassifierOutput output)
    {
        var model = Payload.Decode(input.Model, TextClassifierModel.FromFiles);
        Write(model.Predict(input.Text.ToString())[0], output);
    }

    internal static void MapIds(TokenIdsInput input, BinaryClassifierOutput output)
    {
        var model = Payload.Decode(input.Model, TextClassifierModel.FromFiles);
        Write(model.PredictIds(model.EncodeIds(input.Tokens))[0], output);
    }

    internal static void MapTokens(TokenStringsInput input, BinaryClassifierOutput output)
    {
        var model = Payload.Decode(input.Model, TextClassifierModel.FromFiles);
        Write(model.PredictIds(model.EncodeTokens(input.Tokens))[0], output);
    }

    private static void Write(float logit, BinaryClassifierOutput output)
    {
        output.Score = logit;
        output.Probability = SigmoidBinaryCrossEntropy.Sigmoid(logit);
        output.PredictedLabel = logit > 0;
    }
}

/// <summary>Runs a multiclass text classifier inside a CustomMapping (contract <c>Rnn.MLNet.TextClassifier.Multiclass.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class MulticlassTextClassifierFactory : CustomMappingFactory<TextClassifierInput, MulticlassScores>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TextClassifier.Multiclass.v1";

    /// <inheritdoc />
    public override Action<TextClassifierInput, MulticlassScores> GetMapping() => Map;

    internal static void Map(TextClassifierInput input, MulticlassScores output)
    {
        var model = Payload.Decode(input.Model, TextClassifierModel.FromFiles);
        Write(model, model.Predict(input.Text.ToString()), output);
    }

    internal static void MapIds(TokenIdsInput input, MulticlassScores output)
    {
        var model = Payload.Decode(input.Model, TextClassifierModel.FromFiles);
        Write(model, model.PredictIds(model.EncodeIds(input.Tokens)), output);
    }

    internal static void MapTokens(TokenStringsInput input, MulticlassScores output)
    {
        var model = Payload.Decode(input.Model, TextClassifierModel.FromFiles);
        Write(model, model.PredictIds(model.EncodeTokens(input.Tokens)), output);
    }

    private static void Write(TextClassifierModel model, float[] p, MulticlassScores output)
    {
        int best = 0;
        for (int i = 0; i < p.Length; i++)
        {
            output.Set(i, p[i]);
            if (p[i] > p[best]) best = i;
        }
        output.Predicted = model.Classes[best].AsMemory();
    }
}

/// <summary>Binary classifier over a token-id column (contract <c>Rnn.MLNet.TokenClassifier.Binary.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class BinaryTokenIdsClassifierFactory : CustomMappingFactory<TokenIdsInput, BinaryClassifierOutput>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TokenClassifier.Binary.v1";

    /// <inheritdoc />
    public override Action<TokenIdsInput, BinaryClassifierOutput> GetMapping() => BinaryTextClassifierFactory.MapIds;
}

/// <summary>Multiclass classifier over a token-id column (contract <c>Rnn.MLNet.TokenClassifier.Multiclass.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class MulticlassTokenIdsClassifierFactory : CustomMappingFactory<TokenIdsInput, MulticlassScores>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TokenClassifier.Multiclass.v1";

    /// <inheritdoc />
    public override Action<TokenIdsInput, MulticlassScores> GetMapping() => MulticlassTextClassifierFactory.MapIds;
}

/// <summary>Binary classifier over a token-string or key column (contract <c>Rnn.MLNet.TokenStringClassifier.Binary.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class BinaryTokenStringsClassifierFactory : CustomMappingFactory<TokenStringsInput, BinaryClassifierOutput>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TokenStringClassifier.Binary.v1";

    /// <inheritdoc />
    public override Action<TokenStringsInput, BinaryClassifierOutput> GetMapping() => BinaryTextClassifierFactory.MapTokens;
}

/// <summary>Multiclass classifier over a token-string or key column (contract <c>Rnn.MLNet.TokenStringClassifier.Multiclass.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class MulticlassTokenStringsClassifierFactory : CustomMappingFactory<TokenStringsInput, MulticlassScores>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.TokenStringClassifier.Multiclass.v1";

    /// <inheritdoc />
    public override Action<TokenStringsInput, MulticlassScores> GetMapping() => MulticlassTextClassifierFactory.MapTokens;
}
