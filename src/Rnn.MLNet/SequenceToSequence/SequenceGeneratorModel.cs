using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.SequenceToSequence;

/// <summary>
/// A trained encoder–decoder with its vocabularies: text → text (sequence-to-sequence) or feature vector → text
/// (one-to-many); with several networks (an ensemble), the search ranks tokens by the mean of their log-probabilities.
/// Thread-safe; decoding settings (beam width, length limits) are saved with it.
/// </summary>
public sealed class SequenceGeneratorModel : IPipelineModel<SequenceGeneratorModel>
{
    internal const string Kind = "encoder-decoder";
    internal const string MemberKind = "encoder-decoder-member";

    /// <summary>The end-of-sequence token of every target vocabulary (id 0).</summary>
    public const string EndToken = Vocabulary.EndToken;

    private readonly NetworkPool<EncoderDecoderNetwork<float>>[] _pools;

    /// <summary>Source vocabulary (text sources), else null.</summary>
    public Vocabulary? SourceVocabulary { get; }

    /// <summary>Target vocabulary; id 0 is <see cref="EndToken"/>.</summary>
    public Vocabulary TargetVocabulary { get; }

    /// <summary>Texts are lower-cased before tokenizing.</summary>
    public bool LowerCase { get; }

    /// <summary>Longest source accepted, in tokens; longer sources are an error.</summary>
    public int MaxSourceLength { get; }

    /// <summary>How outputs are decoded.</summary>
    public DecodingOptions Decoding { get; }

    /// <summary>The first member's network (use the methods of this class for thread-safe access).</summary>
    public EncoderDecoderNetwork<float> Network => _pools[0].Prototype;

    /// <summary>The members' networks (one unless trained as an ensemble).</summary>
    public IReadOnlyList<EncoderDecoderNetwork<float>> Networks => _pools.Select(p => p.Prototype).ToArray();

    internal SequenceGeneratorModel(IReadOnlyList<EncoderDecoderNetwork<float>> networks, Vocabulary? source, Vocabulary target, bool lowerCase, int maxSourceLength, DecodingOptions decoding)
    {
        if (networks.Count == 0) throw new ArgumentException("A model needs at least one network.", nameof(networks));
        _pools = networks.Select(n => new NetworkPool<EncoderDecoderNetwork<float>>(n, p => p.CloneForInference())).ToArray();
        SourceVocabulary = source; TargetVocabulary = target; LowerCase = lowerCase; MaxSourceLength = maxSourceLength;
        decoding.Validate();
        Decoding = decoding;
    }

    /// <summary>Source token ids of a text.</summary>
    /// <exception cref="ArgumentException">The text has no tokens, or more than <see cref="MaxSourceLength"/>.</exception>
    public int[] EncodeSource(string? text, string column = "Source")
    {
        var vocab = SourceVocabulary ?? throw new InvalidOperationException("This model generates from feature vectors, not from text.");
        int[] ids = vocab.Encode(LowerCase ? text?.ToLowerInvariant() : text);
        if (ids.Length == 0) throw new ArgumentException($"The source text in column '{column}' is empty; it needs at least one token.", nameof(text));
        if (ids.Length > MaxSourceLength)
            throw new ArgumentException($"The source text in column '{column}' has {ids.Length} tokens; this model accepts at most {MaxSourceLength} (MaxSourceLength).", nameof(text));
        return ids;
    }

    /// <summary>Target token ids of a text (training); a token outside the target vocabulary becomes its unknown token, or is
    /// an error when the vocabulary has none.</summary>
    /// <exception cref="ArgumentException">A token is not in a target vocabulary without an unknown token.</exception>
    public int[] EncodeTarget(string? text, string column = "Target")
    {
        var tokens = TargetVocabulary.Tokenizer.Split(LowerCase ? text?.ToLowerInvariant() : text);
        var ids = new int[tokens.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            if (tokens[i] != EndToken && !TargetVocabulary.Contains(tokens[i]) && TargetVocabulary.UnknownId > 0) { ids[i] = TargetVocabulary.UnknownId; continue; }
            if (!TargetVocabulary.Contains(tokens[i]) || tokens[i] == EndToken)
                throw new ArgumentException($"The target token '{tokens[i]}' in column '{column}' is not in the output vocabulary of {TargetVocabulary.Count - 1} tokens learned in training.", nameof(text));
            ids[i] = TargetVocabulary.IdOf(tokens[i]);
        }
        return ids;
    }

    /// <summary>Generates the output text for a source text.</summary>
    public string Generate(string? source, DecodingOptions? decoding = null) =>
        GenerateBatch(new[] { source }, decoding)[0];

    /// <summary>Generates the output texts for several source texts at once (batched beam search: faster than one by one).</summary>
    public string[] GenerateBatch(IReadOnlyList<string?> sources, DecodingOptions? decoding = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var ids = new int[sources.Count][];
        for (int i = 0; i < ids.Length; i++) ids[i] = EncodeSource(sources[i]);
        return Run(nets => EncoderDecoderNetwork<float>.DecodeBatch(nets, ids, decoding ?? Decoding)).Select(d => TargetVocabulary.Decode(d.Tokens)).ToArray();
    }

    /// <summary>Generates the output text for a feature vector.</summary>
    public string Generate(ReadOnlySpan<float> features, DecodingOptions? decoding = null)
    {
        if (SourceVocabulary is not null) throw new InvalidOperationException("This model translates text; pass a string.");
        if (features.Length != Network.Options.FeatureSize)
            throw new ArgumentException($"The feature vector has {features.Length} values; this model expects {Network.Options.FeatureSize}.", nameof(features));
        var copy = features.ToArray();
        return TargetVocabulary.Decode(Run(nets => new[] { EncoderDecoderNetwork<float>.DecodeFeatures(nets, copy, decoding ?? Decoding) })[0].Tokens);
    }

    /// <summary>Runs <paramref name="decode"/> on one inference copy of every member.</summary>
    private DecodedSequence[] Run(Func<EncoderDecoderNetwork<float>[], DecodedSequence[]> decode)
    {
        var nets = _pools.Select(p => p.Rent()).ToArray();
        try { return decode(nets); }
        finally { for (int i = 0; i < nets.Length; i++) _pools[i].Return(nets[i]); }
    }

    /// <summary>
    /// The encoder–decoder inside a transformer: the one Fit returned, a pipeline holding it, or one that
    /// <c>mlContext.Model.Load</c> returned.
    /// </summary>
    /// <exception cref="ArgumentException">The transformer holds no Rnn.MLNet encoder–decoder.</exception>
    /// <exception cref="InvalidDataException">Its model is corrupt; the message says what is wrong.</exception>
    public static SequenceGeneratorModel FromTransformer(ITransformer transformer) => ModelPersistence.Find<SequenceGeneratorModel>(transformer);

    static string IPipelineModel<SequenceGeneratorModel>.Kind => Kind;
    static string IPipelineModel<SequenceGeneratorModel>.Description => "encoder-decoder model";
    static SequenceGeneratorModel IPipelineModel<SequenceGeneratorModel>.FromFile(ModelFile file) => FromFile(file);

    internal ModelFile ToFile()
    {
        var file = ModelFile.From(Network);
        file.Properties["kind"] = Kind;
        file.Properties["lowercase"] = LowerCase ? "1" : "0";
        file.Properties["maxSourceLength"] = MaxSourceLength.ToString(CultureInfo.InvariantCulture);
        file.Properties["beamWidth"] = Decoding.BeamWidth.ToString(CultureInfo.InvariantCulture);
        file.Properties["maxLength"] = Decoding.MaxLength.ToString(CultureInfo.InvariantCulture);
        file.Properties["lengthPenalty"] = Decoding.LengthPenalty.ToString("R", CultureInfo.InvariantCulture);
        file.Properties["targetTokenizer"] = TargetVocabulary.Tokenizer.Kind.ToString();
        if (_pools.Length > 1) EnsembleMembers.Write(file, _pools.Select((p, i) => i == 0 ? file : ModelFile.From(p.Prototype)).ToArray(), MemberKind);
        file.Lists["target"] = TargetVocabulary.Tokens.ToArray();
        if (SourceVocabulary is not null)
        {
            file.Properties["sourceTokenizer"] = SourceVocabulary.Tokenizer.Kind.ToString();
            file.Lists["source"] = SourceVocabulary.Tokens.ToArray();
        }
        return file;
    }

    internal static SequenceGeneratorModel FromFile(ModelFile file)
    {
        string Prop(string k) => file.RequireProperty(k);
        if (Prop("kind") != Kind) throw new InvalidDataException($"The model is a '{Prop("kind")}', not an encoder-decoder.");
        var nets = EnsembleMembers.Read(file, MemberKind, "encoder-decoder").Select(f => f.CreateEncoderDecoder()).ToArray();
        var o = nets[0].Options;
        for (int i = 1; i < nets.Length; i++)
        {
            var m = nets[i].Options;
            if (m.Source != o.Source || m.SourceVocabularySize != o.SourceVocabularySize || m.FeatureSize != o.FeatureSize || m.TargetVocabularySize != o.TargetVocabularySize)
                throw new InvalidDataException($"Ensemble member {i} reads {m.Source} ({m.SourceVocabularySize} source tokens, {m.FeatureSize} features) into {m.TargetVocabularySize} target tokens; " +
                    $"member 0 reads {o.Source} ({o.SourceVocabularySize}, {o.FeatureSize}) into {o.TargetVocabularySize}.");
        }
        var target = file.RequireVocabulary("target", ParseTokenizer(Prop("targetTokenizer")));
        if (target.Count != o.TargetVocabularySize || target.Tokens[0] != EndToken)
            throw new InvalidDataException($"The target vocabulary has {target.Count} tokens starting with '{target.Tokens[0]}'; the network expects {o.TargetVocabularySize} starting with '{EndToken}'.");
        Vocabulary? source = null;
        if (o.Source == SourceKind.Tokens)
        {
            source = file.RequireVocabulary("source", ParseTokenizer(Prop("sourceTokenizer")));
            if (source.Count != o.SourceVocabularySize) throw new InvalidDataException($"The source vocabulary has {source.Count} tokens; the network expects {o.SourceVocabularySize}.");
        }
        var decoding = new DecodingOptions { BeamWidth = Int(Prop("beamWidth")), MaxLength = Int(Prop("maxLength")), LengthPenalty = Double(Prop("lengthPenalty")) };
        try { decoding.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException("The stored decoding settings are invalid: " + e.Message, e); }
        int maxSource = Int(Prop("maxSourceLength"));
        if (maxSource < 1) throw new InvalidDataException($"The stored maximum source length {maxSource} is not positive.");
        return new SequenceGeneratorModel(nets, source, target, Prop("lowercase") == "1", maxSource, decoding);
    }

    private static TokenizerKind ParseTokenizer(string s) =>
        Enum.TryParse<TokenizerKind>(s, out var k) && Enum.IsDefined(k) ? k : throw new InvalidDataException($"Unknown tokenizer '{s}'.");

    private static int Int(string s) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new InvalidDataException($"'{s}' is not an integer.");

    private static double Double(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new InvalidDataException($"'{s}' is not a number.");
}
