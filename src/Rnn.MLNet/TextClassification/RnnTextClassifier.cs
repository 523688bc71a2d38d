using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.TextClassification;

/// <summary>
/// Trains a recurrent text classifier (embedding → LSTM/GRU/RNN layers → linear head on the final state).
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and meaning</description></listheader>
/// <item><term>input: Text</term><description>Text (one document per row).</description></item>
/// <item><term>input: Label</term><description>Boolean (binary) or key (multiclass; MapValueToKey first).</description></item>
/// <item><term>output: Score</term><description>Binary: Single, the raw logit. Multiclass: Vector&lt;Single, K&gt; of probabilities, slot names = class names.</description></item>
/// <item><term>output: Probability</term><description>Binary only: σ(Score).</description></item>
/// <item><term>output: PredictedLabel</term><description>Binary: Boolean. Multiclass: key with the class names as key values.</description></item>
/// </list>
/// </remarks>
public sealed class RnnTextClassifier : IEstimator<RnnTextClassificationTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml = new();
    private readonly RnnTextClassifierOptions _options;
    private readonly bool _binary;

    internal RnnTextClassifier(IHostEnvironment env, RnnTextClassifierOptions options, bool binary)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _binary = binary;
    }

    /// <inheritdoc />
    public RnnTextClassificationTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains, validating on <paramref name="validation"/> after each epoch (early stopping uses it).</summary>
    public RnnTextClassificationTransformer Fit(IDataView input, IDataView? validation)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var log = new TrainingLog(_env, _binary ? "RnnBinaryTextClassifier" : "RnnMulticlassTextClassifier", o.Progress);
        var (kind, isKey) = InputKindOf(input.Schema);
        bool streaming = o.ShuffleBufferSize is not null;
        if (streaming && o.ValidationFraction > 0)
            throw new ArgumentException("ValidationFraction needs the training rows in memory; with ShuffleBufferSize set, pass a validation IDataView to Fit instead.", nameof(input));
        // In memory: every row read once. Streamed: one pass counts the labels and the vocabulary; training reads the view again each epoch.
        var train = streaming ? Scan(input, kind, isKey) : Read(input, "training", kind, isKey);
        if (train.Count == 0) throw new ArgumentException($"The training data has no rows with a label in '{o.LabelColumnName}'; cannot train on an empty set.", nameof(input));
        string[] classes = train.Classes;
        int k = classes.Length;
        var counts = train.ClassCounts;
        int present = counts.Count(c => c > 0);
        if (present < 2)
            throw new ArgumentException($"The label column '{o.LabelColumnName}' has a single class ('{classes[Array.FindIndex(counts, c => c > 0)]}') in the training data; a classifier needs at least two.", nameof(input));
        if (present < k) log.Warning($"Classes never seen in training (they will not be predicted): {string.Join(", ", classes.Where((_, i) => counts[i] == 0))}.");

        ulong seed = o.ResolveSeed(log);
        var rng = new Rng(seed);
        if (streaming) return FitStreamed(input, validation, train, kind, isKey, classes, k, counts, present, log, rng);
        var lowered = kind == TokenInputKind.Text ? train.Rows.Select(r => o.LowerCase ? r.Text!.ToLowerInvariant() : r.Text!).ToList() : null;
        var vocab = train.Vocabulary ?? BuildVocabulary(train.Rows, kind, isKey, input.Schema, train.MaxId);
        // The wide part: word and character n-grams seen in at least two training texts (text input only).
        NGramBag? bag = kind == TokenInputKind.Text && (o.WordNGrams > 0 || o.CharNGrams > 0)
            ? NGramBag.Build(lowered!, o.WordNGrams, o.CharNGrams, minDocuments: 2, o.MaximumBagSize) : null;
        if (bag is { Count: 0 }) bag = null;
        var (embeddingSize, pretrained) = LoadPretrained(vocab, log);
        var networkOptions = o.NetworkOptions(vocab.Count, _binary ? 1 : k, bag?.Count ?? 0);
        networkOptions.EmbeddingSize = embeddingSize;

        // Rows → examples once (the model's own encoding, so training reads texts exactly as scoring will).
        // One network trains every member in turn (its training buffers are allocated once, not once per member); each
        // member keeps a copy of its weights without them. The encoding model reads only its settings.
        var net = new SequenceNetwork<float>(networkOptions);
        var encoder = new TextClassifierModel(new[] { net }, vocab, classes, _binary, o.LowerCase && !isKey, o.MaximumLength, kind, bag);
        var examples = train.Rows.Select(r => Example(encoder, r)).ToList();
        List<LabeledSequence>? given = null;
        if (validation is not null)
        {
            var v = Read(validation, "validation", kind, isKey);
            if (!_binary && v.Classes.Length != k) throw new ArgumentException($"The validation label column '{o.LabelColumnName}' has {v.Classes.Length} classes; the training data has {k}.", nameof(validation));
            given = v.Rows.Select(r => Example(encoder, r)).ToList();
        }

        // Members: member m trains on every row but fold m and early-stops on fold m, so together they use all rows.
        int members = System.Math.Max(1, System.Math.Min(o.MembersFor(examples.Count), examples.Count / 2));
        var order = Enumerable.Range(0, examples.Count).ToArray();
        new Rng(seed ^ 0xF01D5EEDUL).Shuffle(order.AsSpan()); // its own generator: the members' seeds do not depend on the folds
        float[]? classWeights = null;
        float posWeight = 1;
        if (o.BalanceClasses)
        {
            if (_binary) posWeight = counts[1] > 0 ? (float)counts[0] / counts[1] : 1;
            else classWeights = counts.Select(c => c > 0 ? (float)train.Count / (present * c) : 0f).ToArray();
        }
        log.Info($"Training {(members > 1 ? $"an ensemble of {members}" : "one")} {(_binary ? "binary" : $"{k}-class")} {o.Cell} text classifier{(members > 1 ? "s" : "")}: {examples.Count} rows, vocabulary {vocab.Count}, " +
            $"{(bag is null ? "no n-gram part" : $"{bag.Count} n-grams in the linear part")}, {networkOptions.ParameterCount()} parameters per member.");
        var nets = new List<SequenceNetwork<float>>();
        var results = new List<FitResult>();
        var restartSchedule = o.ScheduleRestart(); // each member's stages start the schedule afresh
        for (int m = 0; m < members; m++)
        {
            List<LabeledSequence> trainPart = examples;
            List<LabeledSequence>? validPart = given;
            if (given is null && members > 1)
            {
                trainPart = order.Where((_, i) => i % members != m).Select(i => examples[i]).ToList();
                validPart = order.Where((_, i) => i % members == m).Select(i => examples[i]).ToList();
            }
            else if (given is null && o.ValidationFraction > 0)
            {
                int nValid = System.Math.Max(1, (int)(examples.Count * o.ValidationFraction));
                validPart = order.Take(nValid).Select(i => examples[i]).ToList();
                trainPart = order.Skip(nValid).Select(i => examples[i]).ToList();
            }
            Initializer.Initialize(net, InitScheme.PyTorchDefault, rng.NextUInt64());
            if (bag is not null) net.Parameters.Value("wide.weight").Clear(); // the linear part starts at zero, as a linear model does
            if (pretrained is not null) pretrained.CopyTo(net.Parameters.Value("embedding.weight"));
            var fit = o.FitOptions(rng.NextUInt64(), log.Epoch);
            if (members > 1) log.Info($"Member {m + 1} of {members}: {trainPart.Count} rows to train, {validPart?.Count ?? 0} to validate.");
            var lossKind = _binary ? LossKind.SigmoidBinaryCrossEntropy : LossKind.SoftmaxCrossEntropy;
            string who = members > 1 ? $"Member {m + 1}: " : "";
            float[]? linearOnly = null;
            double linearLoss = double.PositiveInfinity;
            if (bag is not null)
            {
                // Stage 1: the n-gram linear part alone (recurrent part off), so joint training starts from a linear classifier.
                restartSchedule();
                var wideFit = o.FitOptions(rng.NextUInt64());
                wideFit.LearningRate = WideLearningRate;
                wideFit.Epochs = System.Math.Max(o.Epochs, WideEpochs);
                wideFit.Progress = r => log.Info("n-gram linear part alone, " + r); // logged; Progress reports the model's own epochs
                var wide = WideFitter.Fit(net, lossKind, trainPart, validPart, wideFit, classWeights, posWeight);
                o.CancellationToken.ThrowIfCancellationRequested();
                log.Info(who + "n-gram linear part alone: " + KeptEpoch(wide, wideFit.Epochs, wideFit.EarlyStoppingPatience));
                linearOnly = (float[])net.Parameters.Values.Clone();
                linearLoss = wide.BestValidationLoss ?? double.PositiveInfinity;
            }
            // Stage 2: the recurrent and linear parts together.
            restartSchedule();
            var result = SequenceFitter.Fit(net, lossKind, trainPart, validPart, fit, classWeights, posWeight);
            o.CancellationToken.ThrowIfCancellationRequested();
            log.Info(who + KeptEpoch(result, o.Epochs, o.EarlyStoppingPatience));
            if (linearOnly is not null && result.BestValidationLoss is double joint && joint >= linearLoss)
            {
                linearOnly.CopyTo(net.Parameters.Values, 0);
                result.BestEpoch = 0;
                result.BestValidationLoss = linearLoss;
                log.Info(who + FormattableString.Invariant($"kept the n-gram linear part alone (epoch 0): joint training did not lower its validation loss ({joint:F4} ≥ {linearLoss:F4})."));
            }
            nets.Add(net.CopyForInference());
            results.Add(result);
        }
        var model = new TextClassifierModel(nets, vocab, classes, _binary, o.LowerCase && !isKey, o.MaximumLength, kind, bag);
        return new RnnTextClassificationTransformer(_ml, model, input.Schema, o.TokenColumnName ?? o.TextColumnName, isKey, results);
    }

    /// <summary>Learning rate of the linear part's own stage (a linear model needs larger steps than the recurrent one).</summary>
    internal const double WideLearningRate = 0.02;

    /// <summary>Most epochs of the linear part's own stage (early stopping usually ends it sooner).</summary>
    internal const int WideEpochs = 50;

    /// <summary>Which epoch's weights a member keeps, and why (logged after each member).</summary>
    internal static string KeptEpoch(FitResult result, int epochs, int patience)
    {
        int ran = result.History.Count;
        if (result.BestValidationLoss is not double loss)
            return FormattableString.Invariant($"kept the last epoch ({ran} of {epochs}): no validation data to choose by.");
        string why = FormattableString.Invariant($"kept epoch {result.BestEpoch} of {ran} run, the lowest validation loss ({loss:F4}");
        if (result.History[result.BestEpoch - 1].ValidationAccuracy is double acc) why += FormattableString.Invariant($", accuracy {acc:P2}");
        why += ")";
        if (result.Stopped) return why + "; training was stopped (cancelled or out of time).";
        if (ran < epochs && patience > 0) return why + FormattableString.Invariant($"; stopped early: {patience} epochs without improvement.");
        return why + FormattableString.Invariant($"; all {epochs} epochs run.");
    }

    /// <summary>The embedding width and, with <see cref="RnnTextClassifierOptions.PretrainedEmbeddings"/>, the initial embedding table [V, D] (random rows for words the file lacks).</summary>
    private (int Size, float[]? Table) LoadPretrained(Vocabulary vocab, TrainingLog log)
    {
        var o = _options;
        if (o.PretrainedEmbeddings is null) return (o.EmbeddingSize, null);
        var wanted = new HashSet<string>(vocab.Tokens, StringComparer.Ordinal);
        var (dimension, vectors) = WordVectors.Load(o.PretrainedEmbeddings, wanted.Contains);
        var table = new float[vocab.Count * dimension];
        var rng = new Rng(0x9E3779B9);
        // Rows the file lacks start like the others' scale: N(0, σ²) with σ the spread of the loaded vectors.
        double sq = 0; long n = 0;
        foreach (var v in vectors.Values) foreach (float x in v) { sq += (double)x * x; n++; }
        double sigma = n > 0 ? System.Math.Sqrt(sq / n) : 1;
        int found = 0;
        for (int i = 0; i < vocab.Count; i++)
        {
            var row = table.AsSpan(i * dimension, dimension);
            if (vectors.TryGetValue(vocab.Tokens[i], out var vector)) { vector.CopyTo(row); found++; }
            else for (int j = 0; j < dimension; j++) row[j] = (float)(sigma * rng.NextNormal());
        }
        log.Info($"Pre-trained embeddings '{o.PretrainedEmbeddings}': {dimension} dimensions, {found} of {vocab.Count} vocabulary tokens found.");
        return (dimension, table);
    }

    /// <summary>The streamed path (ShuffleBufferSize set): one recurrent model read from the view each epoch, no n-gram part.</summary>
    private RnnTextClassificationTransformer FitStreamed(IDataView input, IDataView? validation, DataSummary train, TokenInputKind kind, bool isKey,
        string[] classes, int k, int[] counts, int present, TrainingLog log, Rng rng)
    {
        var o = _options;
        bool streaming = true;
        var vocab = train.Vocabulary ?? BuildVocabulary(train.Rows, kind, isKey, input.Schema, train.MaxId);
        var net = new SequenceNetwork<float>(o.NetworkOptions(vocab.Count, _binary ? 1 : k, wideFeatures: 0));
        Initializer.Initialize(net, InitScheme.PyTorchDefault, rng.NextUInt64());
        var model = new TextClassifierModel(new[] { net }, vocab, classes, _binary, o.LowerCase && !isKey, o.MaximumLength, kind);

        var examples = streaming ? null : train.Rows.Select(r => Example(model, r)).ToList();
        List<LabeledSequence>? valid = null;
        if (validation is not null)
        {
            var v = Read(validation, "validation", kind, isKey);
            if (!_binary && v.Classes.Length != k) throw new ArgumentException($"The validation label column '{o.LabelColumnName}' has {v.Classes.Length} classes; the training data has {k}.", nameof(validation));
            valid = v.Rows.Select(r => Example(model, r)).ToList();
        }
        else if (o.ValidationFraction > 0 && examples is not null)
        {
            var order = Enumerable.Range(0, examples.Count).ToArray();
            rng.Fork().Shuffle(order.AsSpan());
            int nValid = System.Math.Max(1, (int)(examples.Count * o.ValidationFraction));
            valid = order.Take(nValid).Select(i => examples[i]).ToList();
            examples = order.Skip(nValid).Select(i => examples[i]).ToList();
        }

        var fit = o.FitOptions(rng.NextUInt64(), log.Epoch);
        if (o.ShuffleBufferSize is int buffer) fit.ShuffleBufferSize = buffer;
        float[]? classWeights = null;
        float posWeight = 1;
        if (o.BalanceClasses)
        {
            if (_binary) posWeight = counts[1] > 0 ? (float)counts[0] / counts[1] : 1;
            else classWeights = counts.Select(c => c > 0 ? (float)train.Count / (present * c) : 0f).ToArray();
        }
        log.Info($"Training a {(_binary ? "binary" : $"{k}-class")} {o.Cell} text classifier: {examples?.Count ?? train.Count} rows{(streaming ? $" streamed, {o.ShuffleBufferSize} at a time" : "")}, vocabulary {vocab.Count}, {net.Parameters.Count} parameters.");
        var loss = _binary ? LossKind.SigmoidBinaryCrossEntropy : LossKind.SoftmaxCrossEntropy;
        var result = examples is not null
            ? SequenceFitter.Fit(net, loss, examples, valid, fit, classWeights, posWeight)
            : SequenceFitter.Fit(net, loss, new RowSource(this, model, input, kind, isKey, train.Count), valid, fit, classWeights, posWeight);
        log.Checkpoints(result);
        o.CancellationToken.ThrowIfCancellationRequested();
        model = new TextClassifierModel(new[] { net.ForInference() }, vocab, classes, _binary, o.LowerCase && !isKey, o.MaximumLength, kind);
        return new RnnTextClassificationTransformer(_ml, model, input.Schema, o.TokenColumnName ?? o.TextColumnName, isKey, new[] { result });
    }

    private static List<string> KeyValueVocabulary(DataViewSchema.Column column)
    {
        var names = SchemaChecks.KeyNames(column);
        var tokens = new List<string>(names.Length + 1) { Vocabulary.UnknownToken };
        var seen = new HashSet<string>(StringComparer.Ordinal) { Vocabulary.UnknownToken };
        for (int i = 0; i < names.Length; i++) tokens.Add(seen.Add(names[i]) ? names[i] : names[i] + "\u0000" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return tokens;
    }

    private LabeledSequence Example(TextClassifierModel model, Row row)
    {
        int[] ids = model.InputKind switch
        {
            TokenInputKind.Text => model.Encode(row.Text!),
            TokenInputKind.Tokens => model.EncodeTokens(row.Tokens!.Select(t => t.AsMemory()).ToArray()),
            _ => model.EncodeIds(row.Ids!),
        };
        var bag = model.InputKind == TokenInputKind.Text ? model.EncodeBag(row.Text) : null;
        return _binary
            ? new LabeledSequence { Tokens = ids, Values = new[] { (float)row.Label }, BagIds = bag?.Ids, BagValues = bag?.Values }
            : new LabeledSequence { Tokens = ids, Class = row.Label, BagIds = bag?.Ids, BagValues = bag?.Values };
    }

    private Vocabulary BuildVocabulary(IEnumerable<Row> rows, TokenInputKind kind, bool isKey, DataViewSchema schema, int maxId)
    {
        var o = _options;
        return kind switch
        {
            TokenInputKind.Text => Vocabulary.Build(rows.Select(r => o.LowerCase ? r.Text!.ToLowerInvariant() : r.Text), Tokenizer.Create(o.Tokenizer), o.MaximumVocabularySize, minCount: o.MinimumTokenCount),
            // Keys: id = key value (1..count) with id 0 for the missing key, so the vocabulary is <unk> + the key values.
            TokenInputKind.Tokens when isKey => new Vocabulary(new WhitespaceTokenizer(), KeyValueVocabulary(schema[o.TokenColumnName!])),
            TokenInputKind.Tokens => Vocabulary.Build(rows.Select(r => string.Join(' ', r.Tokens!.Select(x => o.LowerCase ? x.ToLowerInvariant() : x))), new WhitespaceTokenizer(), o.MaximumVocabularySize, minCount: o.MinimumTokenCount),
            _ => new Vocabulary(new WhitespaceTokenizer(), Enumerable.Range(0, maxId + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList()),
        };
    }

    /// <summary>The training rows read from the view at each epoch, encoded as they come (a resumed run skips the rows already trained on).</summary>
    private sealed class RowSource(RnnTextClassifier owner, TextClassifierModel model, IDataView data, TokenInputKind kind, bool isKey, long count) : ISequenceSource
    {
        public long? Count => count;

        public IEnumerable<LabeledSequence> Read(long first)
        {
            foreach (var row in owner.Rows(data, "training", kind, isKey, first)) yield return owner.Example(model, row);
        }
    }

    private const string TokenColumnExpected = "a vector of tokens (Text), of keys (e.g. MapValueToKey on tokens), or of non-negative integer ids (Single, Double or Int32)";

    private static bool IsTokenVector(DataViewType t) =>
        t is VectorDataViewType v && (v.ItemType is TextDataViewType || v.ItemType is KeyDataViewType || v.ItemType == NumberDataViewType.Single || v.ItemType == NumberDataViewType.Double || v.ItemType == NumberDataViewType.Int32);

    private (TokenInputKind Kind, bool IsKey) InputKindOf(DataViewSchema schema)
    {
        var o = _options;
        if (o.TokenColumnName is null)
        {
            SchemaChecks.Require(schema, o.TextColumnName, "text", "String (Text)", SchemaChecks.IsText);
            return (TokenInputKind.Text, false);
        }
        var col = SchemaChecks.Require(schema, o.TokenColumnName, "token", TokenColumnExpected, IsTokenVector);
        var item = ((VectorDataViewType)col.Type).ItemType;
        if (item is KeyDataViewType)
        {
            if (col.Annotations.Schema.GetColumnOrNull("KeyValues") is null)
                throw new ArgumentOutOfRangeException(nameof(schema), $"The token column '{o.TokenColumnName}' holds keys without key values; expected keys with their token texts (as MapValueToKey gives) or integer ids.");
            return (TokenInputKind.Tokens, true);
        }
        return (item is TextDataViewType ? TokenInputKind.Tokens : TokenInputKind.Ids, false);
    }

    /// <summary>One labelled row: its text, tokens or ids (by input kind) and class index.</summary>
    private sealed record Row(string? Text, string[]? Tokens, float[]? Ids, int Label);

    /// <summary>What training needs to know about the data before it starts.</summary>
    private sealed class DataSummary
    {
        public List<Row> Rows { get; } = new();
        public string[] Classes { get; set; } = Array.Empty<string>();
        public int[] ClassCounts { get; set; } = Array.Empty<int>();
        public long Count { get; set; }
        public int MaxId { get; set; }
        /// <summary>Built while scanning a streamed view; null when built later from <see cref="Rows"/>.</summary>
        public Vocabulary? Vocabulary { get; set; }
    }

    /// <summary>Reads every labelled row into memory.</summary>
    private DataSummary Read(IDataView data, string what, TokenInputKind kind, bool isKey)
    {
        var summary = new DataSummary { Classes = Classes(data.Schema) };
        summary.ClassCounts = new int[summary.Classes.Length];
        foreach (var row in Rows(data, what, kind, isKey, 0)) summary.Rows.Add(Count(summary, row));
        return summary;
    }

    /// <summary>One pass over a view too large to hold: label counts, largest id, and the vocabulary (counted as the rows go by).</summary>
    private DataSummary Scan(IDataView data, TokenInputKind kind, bool isKey)
    {
        var summary = new DataSummary { Classes = Classes(data.Schema) };
        summary.ClassCounts = new int[summary.Classes.Length];
        var rows = Rows(data, "training", kind, isKey, 0).Select(r => Count(summary, r));
        if (kind == TokenInputKind.Ids || isKey) foreach (var _ in rows) { }
        summary.Vocabulary = BuildVocabulary(kind == TokenInputKind.Ids || isKey ? Enumerable.Empty<Row>() : rows, kind, isKey, data.Schema, summary.MaxId);
        return summary;
    }

    /// <summary>Adds the row to the label counts and the largest id; returns it.</summary>
    private static Row Count(DataSummary summary, Row row)
    {
        summary.ClassCounts[row.Label]++;
        summary.Count++;
        if (row.Ids is not null) foreach (float v in row.Ids) summary.MaxId = System.Math.Max(summary.MaxId, (int)v);
        return row;
    }

    private string[] Classes(DataViewSchema schema)
    {
        var o = _options;
        if (_binary)
        {
            SchemaChecks.Require(schema, o.LabelColumnName, "label", "Boolean (binary classification)", t => t is BooleanDataViewType);
            return new[] { "False", "True" };
        }
        var labelCol = SchemaChecks.Require(schema, o.LabelColumnName, "label", "a key type (multiclass classification; apply MapValueToKey to the label first)", t => t is KeyDataViewType);
        var classes = SchemaChecks.KeyNames(labelCol);
        if (classes.Length > MulticlassScores.MaxClasses)
            throw new ArgumentOutOfRangeException(nameof(schema), $"The label column '{o.LabelColumnName}' has {classes.Length} classes; the multiclass component supports at most {MulticlassScores.MaxClasses}.");
        return classes;
    }

    /// <summary>
    /// The labelled rows of a view from the <paramref name="first"/>-th on, read with one cursor through the same
    /// conversion the saved chain applies. Rows with a missing key label are skipped (and not counted in <paramref name="first"/>).
    /// </summary>
    private IEnumerable<Row> Rows(IDataView data, string what, TokenInputKind kind, bool isKey, long first)
    {
        var o = _options;
        Classes(data.Schema);
        IDataView source = kind == TokenInputKind.Text ? data : PipelineChain.TokenConversion(_ml, o.TokenColumnName!, kind, isKey).Fit(data).Transform(data);
        var inputCol = kind == TokenInputKind.Text ? source.Schema[o.TextColumnName] : source.Schema[PipelineChain.TokensColumn];
        var labelCol = source.Schema[o.LabelColumnName];
        using var cursor = source.GetRowCursor(new[] { inputCol, labelCol });
        Func<int> getLabel;
        if (_binary)
        {
            var g = cursor.GetGetter<bool>(labelCol);
            bool v = false;
            getLabel = () => { g(ref v); return v ? 1 : 0; };
        }
        else getLabel = SchemaChecks.KeyIndexGetter(cursor, labelCol);
        var getText = kind == TokenInputKind.Text ? cursor.GetGetter<ReadOnlyMemory<char>>(inputCol) : null;
        var getTokens = kind == TokenInputKind.Tokens ? cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(inputCol) : null;
        var getIds = kind == TokenInputKind.Ids ? cursor.GetGetter<VBuffer<float>>(inputCol) : null;
        ReadOnlyMemory<char> text = default;
        VBuffer<ReadOnlyMemory<char>> tokens = default;
        VBuffer<float> ids = default;
        long row = -1, skipped = 0, labelled = 0;
        while (cursor.MoveNext())
        {
            row++;
            int y = getLabel();
            if (y < 0) { skipped++; continue; }
            if (labelled++ < first) continue;
            if (getText is not null) { getText(ref text); yield return new Row(text.ToString(), null, null, y); }
            else if (getTokens is not null) { getTokens(ref tokens); yield return new Row(null, tokens.DenseValues().Select(t => t.ToString()).ToArray(), null, y); }
            else
            {
                getIds!(ref ids);
                var values = ids.DenseValues().ToArray();
                for (int j = 0; j < values.Length; j++)
                {
                    float v = values[j];
                    if (!(v >= 0) || v != MathF.Floor(v) || v > 1 << 24)
                        throw new ArgumentException($"Row {row} of the {what} data: token {j} of column '{o.TokenColumnName}' is {v}; expected a non-negative integer id.");
                }
                yield return new Row(null, null, values, y);
            }
        }
        if (skipped > 0 && first == 0)
            new TrainingLog(_env, "RnnTextClassifier", null).Warning($"{skipped} of {row + 1} {what} rows have a missing label in '{o.LabelColumnName}' and were skipped.");
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var o = _options;
        var kind = TokenInputKind.Text;
        bool isKey = false;
        if (o.TokenColumnName is null) SchemaChecks.Require(inputSchema, o.TextColumnName, "text", "String (Text)", SchemaChecks.IsTextShape);
        else
        {
            var col = SchemaChecks.Require(inputSchema, o.TokenColumnName, "token", TokenColumnExpected, c => c.Kind != SchemaShape.Column.VectorKind.Scalar && (c.IsKey || c.ItemType is TextDataViewType || c.ItemType == NumberDataViewType.Single || c.ItemType == NumberDataViewType.Double || c.ItemType == NumberDataViewType.Int32));
            isKey = col.IsKey;
            kind = col.IsKey || col.ItemType is TextDataViewType ? TokenInputKind.Tokens : TokenInputKind.Ids;
        }
        int k = 2;
        if (_binary)
            SchemaChecks.Require(inputSchema, o.LabelColumnName, "label", "Boolean (binary classification)", c => c.Kind == SchemaShape.Column.VectorKind.Scalar && c.ItemType is BooleanDataViewType);
        else
        {
            var label = SchemaChecks.Require(inputSchema, o.LabelColumnName, "label", "a key type (multiclass classification; apply MapValueToKey to the label first)", c => c.Kind == SchemaShape.Column.VectorKind.Scalar && c.IsKey);
            // A schema shape often does not know a key's count (MapValueToKey before Fit): assume 2 classes for the shape.
            k = (int)((label.ItemType as KeyDataViewType)?.Count ?? 2);
            if (k < 2 || k > MulticlassScores.MaxClasses) throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The label column '{o.LabelColumnName}' has {k} classes; expected 2 to {MulticlassScores.MaxClasses}.");
        }
        var names = Enumerable.Range(0, k).Select(i => "class" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return RnnTextClassificationTransformer.BuildChain(_ml, "", names, _binary, o.TokenColumnName ?? o.TextColumnName, kind, isKey, inputSchema.Select(c => c.Name))
            .GetOutputSchema(inputSchema);
    }
}
