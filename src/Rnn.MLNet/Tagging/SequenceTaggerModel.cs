using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Tagging;

/// <summary>A trained per-token tagger: one tag for every input token (bidirectional by default). Thread-safe.</summary>
public sealed class SequenceTaggerModel
{
    internal const string Kind = "tagger";
    private readonly NetworkPool _pool;

    /// <summary>Token vocabulary (unknown tokens map to &lt;unk&gt;).</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>The tags, by output index.</summary>
    public IReadOnlyList<string> Tags { get; }

    /// <summary>Tokens are lower-cased first.</summary>
    public bool LowerCase { get; }

    /// <summary>The network.</summary>
    public SequenceNetwork<float> Network => _pool.Prototype;

    internal SequenceTaggerModel(SequenceNetwork<float> network, Vocabulary vocabulary, IReadOnlyList<string> tags, bool lowerCase)
    {
        _pool = new NetworkPool(network); Vocabulary = vocabulary; Tags = tags; LowerCase = lowerCase;
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
            var y = net.Forward(SequenceBatch<float>.FromTokens(ids, 1, ids.Length));
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

    /// <summary>The tagger inside a transformer (also one returned by <c>mlContext.Model.Load</c>).</summary>
    /// <exception cref="ArgumentException">The transformer holds no Rnn.MLNet tagger.</exception>
    public static SequenceTaggerModel FromTransformer(ITransformer transformer)
    {
        var file = ModelFinder.FindKind(transformer, Kind, "tagger");
        return FromFile(file);
    }

    internal ModelFile ToFile()
    {
        var file = ModelFile.From(Network);
        file.Properties["kind"] = Kind;
        file.Properties["lowercase"] = LowerCase ? "1" : "0";
        file.Lists["vocabulary"] = Vocabulary.Tokens.ToArray();
        file.Lists["tags"] = Tags.ToArray();
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
        return new SequenceTaggerModel(net, vocab, tags, file.RequireProperty("lowercase") == "1");
    }
}

/// <summary>CustomMapping output of the tagger: the tag texts in a private column (then mapped to keys).</summary>
public sealed class TagTextsOutput
{
    /// <summary>One tag per input token.</summary>
    [ColumnName(TagsColumn)] public ReadOnlyMemory<char>[] Tags { get; set; } = Array.Empty<ReadOnlyMemory<char>>();

    internal const string TagsColumn = "RnnMLNet.Tags";
}

/// <summary>Runs the tagger inside a CustomMapping (contract <c>Rnn.MLNet.Tagger.v1</c>).</summary>
[CustomMappingFactoryAttribute(Contract)]
public sealed class SequenceTaggerFactory : CustomMappingFactory<TokenStringsInput, TagTextsOutput>
{
    /// <summary>The contract name saved in the model.</summary>
    public const string Contract = "Rnn.MLNet.Tagger.v1";

    /// <inheritdoc />
    public override Action<TokenStringsInput, TagTextsOutput> GetMapping() => Map;

    internal static void Map(TokenStringsInput input, TagTextsOutput output)
    {
        var model = Payload.Decode(input.Model, SequenceTaggerModel.FromFile);
        var tokens = new string[input.Tokens.Length];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = input.Tokens[i].ToString();
        output.Tags = model.Predict(tokens).Select(t => t.AsMemory()).ToArray();
    }
}
