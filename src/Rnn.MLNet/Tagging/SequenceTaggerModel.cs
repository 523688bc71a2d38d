using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;

namespace Rnn.MLNet.Tagging;

/// <summary>A trained per-token tagger: one tag for every input token (bidirectional by default). Thread-safe.</summary>
public sealed class SequenceTaggerModel : IPipelineModel<SequenceTaggerModel>
{
    internal const string Kind = "tagger";
    private readonly NetworkPool _pool;

    /// <summary>Token vocabulary (unknown tokens map to &lt;unk&gt;).</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>The tags, by output index.</summary>
    public IReadOnlyList<string> Tags { get; }

    /// <summary>Tokens are lower-cased first.</summary>
    public bool LowerCase { get; }

    /// <summary>Character vocabulary of the character-level word features, or null without them.</summary>
    public Vocabulary? Characters { get; }

    /// <summary>Longest spelling the character features read (longer tokens keep their first and last halves).</summary>
    public int MaximumWordCharacters { get; }

    /// <summary>The network.</summary>
    public SequenceNetwork<float> Network => _pool.Prototype;

    internal SequenceTaggerModel(SequenceNetwork<float> network, Vocabulary vocabulary, IReadOnlyList<string> tags, bool lowerCase,
        Vocabulary? characters = null, int maximumWordCharacters = 20)
    {
        _pool = new NetworkPool(network); Vocabulary = vocabulary; Tags = tags; LowerCase = lowerCase;
        Characters = characters; MaximumWordCharacters = maximumWordCharacters;
    }

    /// <summary>The characters (grapheme clusters) the character features read of a token: all of them, or the first and
    /// last halves of <paramref name="maximum"/> for a longer token; an empty token reads as one &lt;unk&gt;.</summary>
    internal static List<string> Spelling(string token, int maximum)
    {
        var all = s_characters.Split(token);
        if (all.Count == 0) return new List<string> { Vocabulary.UnknownToken };
        if (all.Count <= maximum) return all;
        int head = maximum / 2;
        var kept = all.GetRange(0, head);
        kept.AddRange(all.GetRange(all.Count - (maximum - head), maximum - head));
        return kept;
    }

    private static readonly CharacterTokenizer s_characters = new();

    /// <summary>The character ids of every token (with character features), else null. Characters keep their case.</summary>
    public int[][]? EncodeCharacters(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (Characters is null) return null;
        var ids = new int[tokens.Count][];
        for (int i = 0; i < ids.Length; i++) ids[i] = Spelling(tokens[i] ?? "", MaximumWordCharacters).Select(Characters.IdOf).ToArray();
        return ids;
    }

    /// <summary>Token ids as the model reads them.</summary>
    public int[] Encode(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var ids = new int[tokens.Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = Vocabulary.IdOf(LowerCase ? (tokens[i] ?? "").ToLowerInvariant() : tokens[i] ?? "");
        return ids;
    }

    /// <summary>The most likely tag of every token (an empty input gives no tags).</summary>
    public string[] Predict(IReadOnlyList<string> tokens)
    {
        var ids = Encode(tokens);
        if (ids.Length == 0) return Array.Empty<string>();
        var net = _pool.Rent();
        try
        {
            var chars = EncodeCharacters(tokens);
            SequenceBatch<float> batch;
            if (chars is null) batch = SequenceBatch<float>.FromTokens(ids, 1, ids.Length);
            else
            {
                int c = chars.Max(w => w.Length);
                var flat = new int[ids.Length * c];
                for (int t = 0; t < ids.Length; t++) chars[t].CopyTo(flat, t * c);
                batch = SequenceBatch<float>.FromTokensAndCharacters(ids, 1, ids.Length, null, flat, chars.Select(w => w.Length).ToArray(), c);
            }
            var y = net.Forward(batch);
            int k = Tags.Count;
            var tags = new string[ids.Length];
            for (int t = 0; t < ids.Length; t++)
            {
                var row = y.Slice(t * k, k);
                int best = 0;
                for (int j = 1; j < k; j++) if (row[j] > row[best]) best = j;
                tags[t] = Tags[best];
            }
            return tags;
        }
        finally { _pool.Return(net); }
    }

    /// <summary>
    /// The tagger inside a transformer: the one Fit returned, a pipeline holding it, or one that <c>mlContext.Model.Load</c>
    /// returned.
    /// </summary>
    /// <exception cref="ArgumentException">The transformer holds no Rnn.MLNet tagger.</exception>
    /// <exception cref="InvalidDataException">Its model is corrupt; the message says what is wrong.</exception>
    public static SequenceTaggerModel FromTransformer(ITransformer transformer) => ModelPersistence.Find<SequenceTaggerModel>(transformer);

    static string IPipelineModel<SequenceTaggerModel>.Kind => Kind;
    static string IPipelineModel<SequenceTaggerModel>.Description => "tagger";
    static SequenceTaggerModel IPipelineModel<SequenceTaggerModel>.FromFile(ModelFile file) => FromFile(file);

    internal ModelFile ToFile()
    {
        var file = ModelFile.From(Network);
        file.Properties["kind"] = Kind;
        file.Properties["lowercase"] = LowerCase ? "1" : "0";
        file.Lists["vocabulary"] = Vocabulary.Tokens.ToArray();
        file.Lists["tags"] = Tags.ToArray();
        if (Characters is not null)
        {
            file.Lists["characters"] = Characters.Tokens.ToArray();
            file.Properties["max_word_characters"] = MaximumWordCharacters.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return file;
    }

    internal static SequenceTaggerModel FromFile(ModelFile file)
    {
        if (file.RequireProperty("kind") != Kind) throw new InvalidDataException($"The model is a '{file.RequireProperty("kind")}', not a tagger.");
        var net = file.CreateNetwork();
        var vocab = file.RequireVocabulary("vocabulary", TokenizerKind.Whitespace);
        if (!file.Lists.TryGetValue("tags", out var tags)) throw new InvalidDataException("The model lacks its tag list.");
        if (vocab.Count != net.Options.VocabularySize || tags.Length != net.Options.OutputSize || net.Options.Output != OutputMode.PerStep)
            throw new InvalidDataException($"The tagger's vocabulary ({vocab.Count}) and tags ({tags.Length}) do not match its network ({net.Options.VocabularySize} → {net.Options.OutputSize}).");
        if (tags.Distinct(StringComparer.Ordinal).Count() != tags.Length) throw new InvalidDataException("The tag list has duplicates.");
        Vocabulary? chars = null;
        int maxChars = 20;
        if (net.Options.HasCharacterFeatures)
        {
            chars = file.RequireVocabulary("characters", TokenizerKind.Character);
            if (chars.Count != net.Options.CharacterVocabularySize || chars.UnknownId < 0)
                throw new InvalidDataException($"The tagger's character list ({chars.Count}, unknown id {chars.UnknownId}) does not match its network ({net.Options.CharacterVocabularySize} characters).");
            if (!int.TryParse(file.RequireProperty("max_word_characters"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out maxChars) || maxChars < 2)
                throw new InvalidDataException($"The property max_word_characters is '{file.RequireProperty("max_word_characters")}'; expected an integer ≥ 2.");
        }
        return new SequenceTaggerModel(net, vocab, tags, file.RequireProperty("lowercase") == "1", chars, maxChars);
    }
}
