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
