using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Tagging;

/// <summary>
/// Options of the per-token tagger. Shared training settings are on <see cref="RnnTrainerOptions"/> (defaults here: 1 layer,
/// hidden 64 per direction, 10 epochs, batch 32, learning rate 3e-3).
/// </summary>
public sealed class RnnSequenceTaggerOptions : RnnTrainerOptions
{
    /// <summary>Tokens column: a vector of text, or of keys with key values (e.g. TokenizeIntoWords, then MapValueToKey).</summary>
    public string TokensColumnName { get; set; } = "Tokens";
    /// <summary>Tags column (training): a vector of text or of keys with key values, one tag per token.</summary>
    public string LabelColumnName { get; set; } = "Tags";
    /// <summary>Output column: a variable-length vector of keys whose key values are the tag texts.</summary>
    public string OutputColumnName { get; set; } = "PredictedTags";
    /// <summary>Lower-case tokens first.</summary>
    public bool LowerCase { get; set; }
    /// <summary>Largest token vocabulary (0 = no limit); rarer tokens become &lt;unk&gt;.</summary>
    public int MaximumVocabularySize { get; set; }
    /// <summary>Embedding width.</summary>
    public int EmbeddingSize { get; set; } = 64;
    /// <summary>Read both ways, so each tag sees the tokens on both sides (default on).</summary>
    public bool Bidirectional { get; set; } = true;
    /// <summary>
    /// Hidden size per direction of the character-level word features (0 = off): each token's characters (grapheme
    /// clusters) run through a bidirectional layer whose final states join the token's embedding — what lets a tagger
    /// tag words it never saw in training by their spelling (suffixes, capitals, digits, hyphens).
    /// </summary>
    public int CharacterHiddenSize { get; set; }
    /// <summary>Character embedding width (with character features).</summary>
    public int CharacterEmbeddingSize { get; set; } = 32;
    /// <summary>Longest token spelling read by the character features; longer tokens keep their first and last halves.</summary>
    public int MaximumWordCharacters { get; set; } = 20;
    /// <summary>Dropout on the first layer's input (word embedding and character features).</summary>
    public float InputDropout { get; set; }
    /// <summary>Rare-word dropout α (0 = off): a token seen n times in training becomes &lt;unk&gt; with probability α / (α + n) in training batches.</summary>
    public double WordDropout { get; set; }
    /// <summary>Weight initialization.</summary>
    public InitScheme Init { get; set; } = InitScheme.Orthogonal;
    /// <summary>
    /// Most padded tokens (sentences × the longest sentence's tokens) one training or validation pass holds (0 = no limit;
    /// default 1,024). Training memory grows with the largest pass — every recurrent layer keeps [tokens × 4·hidden] buffers
    /// for backpropagation through time — so this bounds it whatever the longest sentences of the data. A batch above it
    /// runs in passes over its sentences ordered by length whose gradients are summed before the batch's one update: the
    /// same training as without the limit (the dropout masks aside); a sentence longer than the limit runs alone.
    /// </summary>
    public int MaximumBatchTokens { get; set; } = 1024;

    internal override void Validate()
    {
        if (string.IsNullOrEmpty(TokensColumnName) || string.IsNullOrEmpty(LabelColumnName) || string.IsNullOrEmpty(OutputColumnName))
            throw new ArgumentException("TokensColumnName, LabelColumnName and OutputColumnName must be set.");
        if (CharacterHiddenSize < 0) throw new ArgumentException($"CharacterHiddenSize must be 0 (off) or positive; got {CharacterHiddenSize}.", nameof(CharacterHiddenSize));
        if (MaximumWordCharacters < 2) throw new ArgumentException($"MaximumWordCharacters must be at least 2; got {MaximumWordCharacters}.", nameof(MaximumWordCharacters));
        if (!(InputDropout >= 0 && InputDropout < 1)) throw new ArgumentException($"InputDropout must be in [0, 1); got {InputDropout}.", nameof(InputDropout));
        if (MaximumBatchTokens < 0) throw new ArgumentException($"MaximumBatchTokens must be 0 (no limit) or positive; got {MaximumBatchTokens}.", nameof(MaximumBatchTokens));
        base.Validate();
    }
}

/// <summary>Trains a per-token tagger: a tokens column in, a tags column (vector of keys) out.</summary>
public sealed class RnnSequenceTaggerEstimator : IEstimator<RnnSequenceTaggerTransformer>
{
    private const string VectorExpected = "a vector of text or of keys with key values";
    private static readonly string[] ShapeTags = { "A", "B" }; // any tag list: the output type is the same
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml = new();
    private readonly RnnSequenceTaggerOptions _o;

    internal RnnSequenceTaggerEstimator(IHostEnvironment env, RnnSequenceTaggerOptions options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _o.Validate();
    }

    /// <inheritdoc />
    public RnnSequenceTaggerTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains, reporting validation loss and token accuracy each epoch.</summary>
    public RnnSequenceTaggerTransformer Fit(IDataView input, IDataView? validation)
    {
        var o = _o;
        var log = new TrainingLog(_env, "RnnSequenceTagger", o.Progress);
        var sentences = ReadTokenVectors(_ml, input, o.TokensColumnName, "tokens");
        var labels = ReadTokenVectors(_ml, input, o.LabelColumnName, "tags");
        if (sentences.Count == 0) throw new ArgumentException("The training data has no rows.", nameof(input));
        if (sentences.All(t => t.Length == 0)) throw new ArgumentException($"Every row of '{o.TokensColumnName}' is empty; there is nothing to tag.", nameof(input));
        var vocab = Vocabulary.FromTokens(sentences.SelectMany(t => t).Select(t => o.LowerCase ? t.ToLowerInvariant() : t), new WhitespaceTokenizer(), o.MaximumVocabularySize);
        var tagList = labels.SelectMany(t => t).Distinct(StringComparer.Ordinal).OrderBy(t => t, StringComparer.Ordinal).ToList();
        // characters seen once are left to <unk>, so the unknown character's embedding is trained too
        var chars = o.CharacterHiddenSize == 0 ? null
            : Vocabulary.FromTokens(sentences.SelectMany(t => t).SelectMany(w => SequenceTaggerModel.Spelling(w, o.MaximumWordCharacters)), new CharacterTokenizer(), minCount: 2);
        if (tagList.Count < 2) throw new ArgumentException($"The tags column '{o.LabelColumnName}' holds {tagList.Count} distinct tag(s); a tagger needs at least 2.", nameof(input));
        var rng = new Rng(o.ResolveSeed(log));
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = o.Cell, Input = InputKind.Embedding, VocabularySize = vocab.Count, EmbeddingSize = o.EmbeddingSize, HiddenSize = o.HiddenSize,
            Layers = o.Layers, Bidirectional = o.Bidirectional, Dropout = o.Dropout, OutputSize = tagList.Count, Output = OutputMode.PerStep,
            CharacterVocabularySize = chars?.Count ?? 0, CharacterEmbeddingSize = o.CharacterEmbeddingSize, CharacterHiddenSize = System.Math.Max(1, o.CharacterHiddenSize),
            InputDropout = o.InputDropout,
        });
        Initializer.Initialize(net, o.Init, rng.NextUInt64());
        var model = new SequenceTaggerModel(net, vocab, tagList, o.LowerCase, chars, o.MaximumWordCharacters);
        var tagIds = tagList.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        List<LabeledSequence> Examples(List<string[]> toks, List<string[]> tags, string what) => toks.Select((x, i) =>
        {
            if (x.Length != tags[i].Length)
                throw new ArgumentException($"Row {i} of the {what} data has {x.Length} tokens in '{o.TokensColumnName}' but {tags[i].Length} tags in '{o.LabelColumnName}'; expected one tag per token.");
            var y = new int[x.Length];
            for (int t = 0; t < y.Length; t++)
                if (!tagIds.TryGetValue(tags[i][t], out y[t]))
                    throw new ArgumentException($"Row {i} of the {what} data: tag '{tags[i][t]}' in '{o.LabelColumnName}' never occurs in the training data.");
            return new LabeledSequence { Tokens = model.Encode(x), Characters = model.EncodeCharacters(x), StepClasses = y };
        }).Where(e => e.Tokens!.Length > 0).ToList();
        var train = Examples(sentences, labels, "training");
        List<LabeledSequence>? valid = validation is null ? null
            : Examples(ReadTokenVectors(_ml, validation, o.TokensColumnName, "tokens"), ReadTokenVectors(_ml, validation, o.LabelColumnName, "tags"), "validation");
        if (valid is null && o.ValidationFraction > 0 && train.Count > 1)
        {
            int n = System.Math.Max(1, (int)(train.Count * o.ValidationFraction));
            valid = train.GetRange(train.Count - n, n);
            train = train.GetRange(0, train.Count - n);
        }
        log.Info($"Training a {o.Cell} tagger: {train.Count} sentences, vocabulary {vocab.Count}, {tagList.Count} tags, {net.Parameters.Count} parameters.");
        var fit = o.FitOptions(rng.NextUInt64(), log.Epoch);
        fit.WordDropoutAlpha = o.WordDropout;
        fit.UnknownTokenId = vocab.UnknownId;
        fit.MaximumBatchTokens = o.MaximumBatchTokens;
        var result = SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, train, valid, fit);
        log.Checkpoints(result);
        o.CancellationToken.ThrowIfCancellationRequested();
        bool isKey = IsKeyVector(input.Schema[o.TokensColumnName].Type);
        model = new SequenceTaggerModel(net.ForInference(), vocab, tagList, o.LowerCase, chars, o.MaximumWordCharacters); // without training's gradients and buffers
        return new RnnSequenceTaggerTransformer(_ml, model, input.Schema, o.TokensColumnName, isKey, o.OutputColumnName, result);
    }

    internal static bool IsKeyVector(DataViewType t) => t is VectorDataViewType v && v.ItemType is KeyDataViewType;

    /// <summary>Reads a vector-of-text or vector-of-keys column as token strings (keys through their key values).</summary>
    internal static List<string[]> ReadTokenVectors(MLContext ml, IDataView data, string column, string role)
    {
        ArgumentNullException.ThrowIfNull(data);
        var col = SchemaChecks.Require(data.Schema, column, role, VectorExpected,
            t => t is VectorDataViewType v && (v.ItemType is TextDataViewType || v.ItemType is KeyDataViewType));
        IDataView view = data;
        string name = column;
        if (IsKeyVector(col.Type))
        {
            if (col.Annotations.Schema.GetColumnOrNull("KeyValues") is null)
                throw new ArgumentOutOfRangeException(nameof(data), $"The {role} column '{column}' holds keys without key values; expected keys with their texts (as MapValueToKey gives) or text.");
            name = "RnnMLNet.Read";
            view = ml.Transforms.Conversion.MapKeyToValue(name, column).Fit(data).Transform(data);
        }
        var c = view.Schema[name];
        var list = new List<string[]>();
        using var cursor = view.GetRowCursor(new[] { c });
        var get = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(c);
        VBuffer<ReadOnlyMemory<char>> v = default;
        while (cursor.MoveNext())
        {
            get(ref v);
            list.Add(v.DenseValues().Select(x => x.ToString()).ToArray());
        }
        return list;
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var col = SchemaChecks.Require(inputSchema, _o.TokensColumnName, "tokens", VectorExpected,
            c => c.Kind != SchemaShape.Column.VectorKind.Scalar && (c.IsKey || c.ItemType is TextDataViewType));
        return RnnSequenceTaggerTransformer.BuildChain(_ml, "", ShapeTags, _o.TokensColumnName, col.IsKey, _o.OutputColumnName).GetOutputSchema(inputSchema);
    }
}

/// <summary>A fitted tagger in a pipeline: adds the predicted tags (vector of keys with the tag texts as key values).</summary>
public sealed class RnnSequenceTaggerTransformer : ChainedTransformer
{
    /// <summary>The model.</summary>
    public SequenceTaggerModel Model { get; }

    /// <summary>Training history.</summary>
    public FitResult TrainingResult { get; }

    internal RnnSequenceTaggerTransformer(MLContext ml, SequenceTaggerModel model, DataViewSchema schema, string tokensColumn, bool isKey, string outputColumn, FitResult result)
        : base(BuildChain(ml, ModelPersistence.Encode(model.ToFile()), model.Tags.ToArray(), tokensColumn, isKey, outputColumn).Fit(new EmptyDataView(schema)))
    {
        Model = model;
        TrainingResult = result;
        InputColumnName = tokensColumn;
        InputIsKey = isKey;
        ModelPersistence.Adopt(Chain, model);
    }

    /// <summary>The tokens column the tagger reads.</summary>
    internal string InputColumnName { get; }

    /// <summary>The tokens column holds keys (read through their key values).</summary>
    internal bool InputIsKey { get; }

    /// <summary>Tokens → private token strings → payload constant → CustomMapping (tag texts) → MapValueToKey over the tag list → drop temporaries.</summary>
    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string[] tags, string tokensColumn, bool isKey, string outputColumn)
    {
        var keyData = ml.Data.LoadFromEnumerable(tags.Select(t => new TagName { Value = t }));
        var chain = PipelineChain.VectorHead(ml, payload, PipelineChain.TokenConversion(ml, tokensColumn, TokenInputKind.Tokens, isKey))
            .Append(new TaggerMapping().Estimator(ml))
            .Append<ITransformer>(ml.Transforms.Conversion.MapValueToKey(outputColumn, TagTextsOutput.TagsColumn, keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByOccurrence, keyData: keyData));
        return PipelineChain.Finish(ml, chain, PipelineChain.HeadColumns(PipelineChain.TokensColumn).Append(TagTextsOutput.TagsColumn));
    }

    private sealed class TagName
    {
        public string Value { get; set; } = "";
    }
}

/// <summary>Per-token evaluation of a tagger's output.</summary>
/// <param name="TokenAccuracy">Fraction of tokens whose predicted tag equals the reference.</param>
/// <param name="SequenceAccuracy">Fraction of rows whose every tag is right.</param>
/// <param name="Tokens">Tokens scored.</param>
/// <param name="Sequences">Rows scored.</param>
/// <param name="PerTagRecall">For each reference tag, the fraction of its tokens tagged correctly.</param>
public sealed record SequenceTaggingMetrics(double TokenAccuracy, double SequenceAccuracy, long Tokens, long Sequences, IReadOnlyDictionary<string, double> PerTagRecall);

/// <summary>Scores a tagged data view.</summary>
public static class SequenceTaggingEvaluator
{
    /// <summary>
    /// Compares the reference tags with the predicted tags row by row (both vectors of text or of keys with key values).
    /// </summary>
    /// <exception cref="ArgumentException">A column is missing or mistyped, or a row's two vectors differ in length.</exception>
    public static SequenceTaggingMetrics Evaluate(IDataView data, string labelColumnName = "Tags", string predictedColumnName = "PredictedTags")
    {
        var ml = new MLContext();
        var gold = RnnSequenceTaggerEstimator.ReadTokenVectors(ml, data, labelColumnName, "tags");
        var predicted = RnnSequenceTaggerEstimator.ReadTokenVectors(ml, data, predictedColumnName, "predicted tags");
        long tokens = 0, right = 0, rows = 0, rowsRight = 0;
        var perTag = new Dictionary<string, (long Right, long All)>(StringComparer.Ordinal);
        for (int r = 0; r < gold.Count; r++)
        {
            if (gold[r].Length != predicted[r].Length)
                throw new ArgumentException($"Row {r} has {gold[r].Length} tags in '{labelColumnName}' but {predicted[r].Length} in '{predictedColumnName}'.");
            bool all = true;
            for (int t = 0; t < gold[r].Length; t++)
            {
                bool ok = gold[r][t] == predicted[r][t];
                tokens++;
                if (ok) right++; else all = false;
                var (a, b) = perTag.GetValueOrDefault(gold[r][t]);
                perTag[gold[r][t]] = (a + (ok ? 1 : 0), b + 1);
            }
            rows++;
            if (all) rowsRight++;
        }
        return new SequenceTaggingMetrics(tokens == 0 ? 0 : (double)right / tokens, rows == 0 ? 0 : (double)rowsRight / rows, tokens, rows,
            perTag.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => (double)kv.Value.Right / kv.Value.All, StringComparer.Ordinal));
    }
}
