using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Rnn.MLNet.Infrastructure;
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
        var (texts, labels, classes) = Read(input, "training");
        if (texts.Count == 0) throw new ArgumentException($"The training data has no rows with a label in '{o.LabelColumnName}'; cannot train on an empty set.", nameof(input));
        int k = classes.Length;
        var counts = new int[k];
        foreach (int y in labels) counts[y]++;
        int present = counts.Count(c => c > 0);
        if (present < 2)
            throw new ArgumentException($"The label column '{o.LabelColumnName}' has a single class ('{classes[Array.FindIndex(counts, c => c > 0)]}') in the training data; a classifier needs at least two.", nameof(input));
        if (present < k) log.Warning($"Classes never seen in training (they will not be predicted): {string.Join(", ", classes.Where((_, i) => counts[i] == 0))}.");

        ulong seed = o.Seed is int s ? (ulong)s : log.NextSeed();
        var rng = new Rng(seed);
        var vocab = Vocabulary.Build(texts.Select(t => o.LowerCase ? t.ToLowerInvariant() : t), Tokenizer.Create(o.Tokenizer), o.MaximumVocabularySize);
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = o.Cell, Input = InputKind.Embedding, VocabularySize = vocab.Count, EmbeddingSize = o.EmbeddingSize,
            HiddenSize = o.HiddenSize, Layers = o.Layers, Bidirectional = o.Bidirectional, Dropout = o.Dropout,
            OutputSize = _binary ? 1 : k, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, rng.NextUInt64());
        var model = new TextClassifierModel(net, vocab, classes, _binary, o.LowerCase, o.MaximumLength);

        var examples = texts.Select((t, i) => ToExample(model, t, labels[i])).ToList();
        List<LabeledSequence>? valid = null;
        if (validation is not null)
        {
            var (vt, vl, vc) = Read(validation, "validation");
            if (!_binary && vc.Length != k) throw new ArgumentException($"The validation label column '{o.LabelColumnName}' has {vc.Length} classes; the training data has {k}.", nameof(validation));
            valid = vt.Select((t, i) => ToExample(model, t, vl[i])).ToList();
        }
        else if (o.ValidationFraction > 0)
        {
            var order = Enumerable.Range(0, examples.Count).ToArray();
            rng.Fork().Shuffle(order.AsSpan());
            int nValid = System.Math.Max(1, (int)(examples.Count * o.ValidationFraction));
            valid = order.Take(nValid).Select(i => examples[i]).ToList();
            examples = order.Skip(nValid).Select(i => examples[i]).ToList();
        }

        var fit = o.FitOptions();
        fit.Seed = rng.NextUInt64();
        fit.Progress = log.Epoch;
        float[]? classWeights = null;
        float posWeight = 1;
        if (o.BalanceClasses)
        {
            if (_binary) posWeight = counts[1] > 0 ? (float)counts[0] / counts[1] : 1;
            else classWeights = counts.Select(c => c > 0 ? (float)labels.Count / (present * c) : 0f).ToArray();
        }
        log.Info($"Training a {(_binary ? "binary" : $"{k}-class")} {o.Cell} text classifier: {examples.Count} texts, vocabulary {vocab.Count}, {net.Parameters.Count} parameters.");
        var result = SequenceFitter.Fit(net, _binary ? LossKind.SigmoidBinaryCrossEntropy : LossKind.SoftmaxCrossEntropy, examples, valid, fit, classWeights, posWeight);
        o.CancellationToken.ThrowIfCancellationRequested();
        return new RnnTextClassificationTransformer(_ml, model, input.Schema, o.TextColumnName, result);
    }

    private LabeledSequence ToExample(TextClassifierModel model, string text, int label) => _binary
        ? new LabeledSequence { Tokens = model.Encode(text), Values = new[] { (float)label } }
        : new LabeledSequence { Tokens = model.Encode(text), Class = label };

    /// <summary>Reads texts and labels with one cursor over the two columns. Rows with a missing key label are skipped.</summary>
    private (List<string> Texts, List<int> Labels, string[] Classes) Read(IDataView data, string what)
    {
        var o = _options;
        var textCol = SchemaChecks.Require(data.Schema, o.TextColumnName, "text", "String (Text)", SchemaChecks.IsText);
        DataViewSchema.Column labelCol;
        string[] classes;
        if (_binary)
        {
            labelCol = SchemaChecks.Require(data.Schema, o.LabelColumnName, "label", "Boolean (binary classification)", t => t is BooleanDataViewType);
            classes = new[] { "False", "True" };
        }
        else
        {
            labelCol = SchemaChecks.Require(data.Schema, o.LabelColumnName, "label", "a key type (multiclass classification; apply MapValueToKey to the label first)", t => t is KeyDataViewType);
            classes = SchemaChecks.KeyNames(labelCol);
            if (classes.Length > MulticlassScores.MaxClasses)
                throw new ArgumentOutOfRangeException(nameof(data), $"The label column '{o.LabelColumnName}' has {classes.Length} classes; the multiclass component supports at most {MulticlassScores.MaxClasses}.");
        }
        var texts = new List<string>();
        var labels = new List<int>();
        using var cursor = data.GetRowCursor(new[] { textCol, labelCol });
        var getText = cursor.GetGetter<ReadOnlyMemory<char>>(textCol);
        Func<int> getLabel;
        if (_binary)
        {
            var g = cursor.GetGetter<bool>(labelCol);
            bool v = false;
            getLabel = () => { g(ref v); return v ? 1 : 0; };
        }
        else getLabel = SchemaChecks.KeyIndexGetter(cursor, labelCol);
        ReadOnlyMemory<char> text = default;
        long row = 0, skipped = 0;
        while (cursor.MoveNext())
        {
            int y = getLabel();
            row++;
            if (y < 0) { skipped++; continue; }
            getText(ref text);
            texts.Add(text.ToString());
            labels.Add(y);
        }
        if (skipped > 0)
            new TrainingLog(_env, "RnnTextClassifier", null).Warning($"{skipped} of {row} {what} rows have a missing label in '{o.LabelColumnName}' and were skipped.");
        return (texts, labels, classes);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var o = _options;
        SchemaChecks.Require(inputSchema, o.TextColumnName, "text", "String (Text)", SchemaChecks.IsTextShape);
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
        return RnnTextClassificationTransformer.BuildChain(_ml, "", names, _binary, o.TextColumnName, inputColumns: inputSchema.Select(c => c.Name))
            .GetOutputSchema(inputSchema);
    }
}
