using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.LanguageModel;

/// <summary>A trained next-token language model: generation, next-token prediction and perplexity. Thread-safe.</summary>
public sealed class RnnLanguageModel : IPipelineModel<RnnLanguageModel>
{
    internal const string Kind = "language-model";
    private readonly NetworkPool _pool;

    /// <summary>The vocabulary (tokenizer included).</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>Token placed between rows of training text (and meaning "end of text").</summary>
    public string Separator { get; }

    /// <summary>Texts are lower-cased before tokenizing.</summary>
    public bool LowerCase { get; }

    /// <summary>The network (use the methods of this class for thread-safe access).</summary>
    public SequenceNetwork<float> Network => _pool.Prototype;

    internal RnnLanguageModel(SequenceNetwork<float> network, Vocabulary vocabulary, string separator, bool lowerCase)
    {
        _pool = new NetworkPool(network);
        Vocabulary = vocabulary; Separator = separator; LowerCase = lowerCase;
    }

    /// <summary>Token ids of a text, as the model reads it.</summary>
    public int[] Encode(string? text) => Vocabulary.Encode(LowerCase ? text?.ToLowerInvariant() : text);

    /// <summary>Generates a continuation of <paramref name="prompt"/> (the prompt itself is not repeated).</summary>
    public string Generate(string prompt, SamplingOptions sampling)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        var ids = Encode(prompt);
        if (ids.Length == 0) ids = new[] { Vocabulary.IdOf(Separator) };
        var net = _pool.Rent();
        try
        {
            var generated = TextGenerator.GenerateIds(net, ids, sampling);
            string stop = sampling.StopToken ?? "";
            if (stop.Length > 0 && Vocabulary.Contains(stop))
            {
                int at = generated.IndexOf(Vocabulary.IdOf(stop));
                if (at >= 0) generated.RemoveRange(at, generated.Count - at);
            }
            return Vocabulary.Decode(generated);
        }
        finally { _pool.Return(net); }
    }

    /// <summary>The most likely next token after <paramref name="text"/> and its probability.</summary>
    public (string Token, float Probability) PredictNext(string? text)
    {
        var ids = Encode(text);
        if (ids.Length == 0) ids = new[] { Vocabulary.IdOf(Separator) };
        var net = _pool.Rent();
        try
        {
            var y = net.Forward(SequenceBatch<float>.FromTokens(ids, 1, ids.Length));
            int v = Vocabulary.Count;
            var p = new float[v];
            SoftmaxCrossEntropy.Softmax(y.Slice((ids.Length - 1) * v, v), p);
            int best = 0;
            for (int i = 1; i < v; i++) if (p[i] > p[best]) best = i;
            return (Vocabulary.Tokens[best], p[best]);
        }
        finally { _pool.Return(net); }
    }

    /// <summary>Mean cross-entropy in nats per token over texts joined by the separator (as in training).</summary>
    public double CrossEntropy(IEnumerable<string?> texts, int batchSize = 16, int bptt = 64)
    {
        var stream = Stream(this, texts);
        var net = _pool.Rent();
        try { return SequenceFitter.StreamLoss(net, stream, batchSize, bptt); }
        finally { _pool.Return(net); }
    }

    /// <summary>exp(cross-entropy): the perplexity per token.</summary>
    public double Perplexity(IEnumerable<string?> texts) => System.Math.Exp(CrossEntropy(texts));

    /// <summary>Perplexity on a text column of a data view.</summary>
    public double Perplexity(IDataView data, string textColumnName = "Text") => System.Math.Exp(CrossEntropy(ReadTexts(data, textColumnName)));

    internal static List<string> ReadTexts(IDataView data, string column) => Texts(data, column).ToList();

    /// <summary>The texts of a column, read with a cursor as they are enumerated (nothing kept).</summary>
    internal static IEnumerable<string> Texts(IDataView data, string column)
    {
        ArgumentNullException.ThrowIfNull(data);
        var col = SchemaChecks.Require(data.Schema, column, "text", "String (Text)", SchemaChecks.IsText);
        return Read(data, col);

        static IEnumerable<string> Read(IDataView data, DataViewSchema.Column col)
        {
            using var cursor = data.GetRowCursor(new[] { col });
            var get = cursor.GetGetter<ReadOnlyMemory<char>>(col);
            ReadOnlyMemory<char> v = default;
            while (cursor.MoveNext()) { get(ref v); yield return v.ToString(); }
        }
    }

    /// <summary>Writes the token stream of texts (<see cref="Stream"/>) to a file of 32-bit ids, one text at a time.</summary>
    internal static void WriteStream(RnnLanguageModel model, IEnumerable<string?> texts, System.IO.Stream file)
    {
        int[] sep = { model.Vocabulary.IdOf(model.Separator) };
        foreach (var t in texts) { FileTokenSource.Write(file, model.Encode(t)); FileTokenSource.Write(file, sep); }
    }

    /// <summary>The token stream of texts: each text's tokens followed by the separator.</summary>
    internal static int[] Stream(RnnLanguageModel model, IEnumerable<string?> texts)
    {
        int sep = model.Vocabulary.IdOf(model.Separator);
        var ids = new List<int>();
        foreach (var t in texts) { ids.AddRange(model.Encode(t)); ids.Add(sep); }
        return ids.ToArray();
    }

    /// <summary>
    /// The language model inside a transformer: the one Fit returned, a pipeline holding it, or one that
    /// <c>mlContext.Model.Load</c> returned. Use it to get back to generation after loading a saved pipeline.
    /// </summary>
    /// <exception cref="ArgumentException">The transformer holds no Rnn.MLNet language model.</exception>
    /// <exception cref="InvalidDataException">Its model is corrupt; the message says what is wrong.</exception>
    public static RnnLanguageModel FromTransformer(ITransformer transformer) => ModelPersistence.Find<RnnLanguageModel>(transformer);

    static string IPipelineModel<RnnLanguageModel>.Kind => Kind;
    static string IPipelineModel<RnnLanguageModel>.Description => "language model";
    static RnnLanguageModel IPipelineModel<RnnLanguageModel>.FromFile(ModelFile file) => FromFile(file);

    internal ModelFile ToFile()
    {
        var file = ModelFile.From(Network);
        file.Properties["kind"] = Kind;
        file.Properties["tokenizer"] = Vocabulary.Tokenizer.Kind.ToString();
        file.Properties["lowercase"] = LowerCase ? "1" : "0";
        file.Properties["separator"] = Separator;
        file.Lists["vocabulary"] = Vocabulary.Tokens.ToArray();
        return file;
    }

    internal static RnnLanguageModel FromFile(ModelFile file)
    {
        string Prop(string k) => file.RequireProperty(k);
        if (Prop("kind") != Kind) throw new InvalidDataException($"The model is a '{Prop("kind")}', not a language model.");
        if (!Enum.TryParse<TokenizerKind>(Prop("tokenizer"), out var tk)) throw new InvalidDataException($"Unknown tokenizer '{Prop("tokenizer")}'.");
        if (!file.Lists.TryGetValue("vocabulary", out var vocab)) throw new InvalidDataException("The model lacks its vocabulary.");
        var net = file.CreateNetwork();
        if (vocab.Length != net.Options.VocabularySize || vocab.Length != net.Options.OutputSize)
            throw new InvalidDataException($"Vocabulary has {vocab.Length} tokens; the network expects {net.Options.VocabularySize}.");
        var v = file.RequireVocabulary("vocabulary", tk);
        string sep = Prop("separator");
        if (!v.Contains(sep)) throw new InvalidDataException($"The separator '{sep}' is not in the vocabulary.");
        return new RnnLanguageModel(net, v, sep, Prop("lowercase") == "1");
    }
}
