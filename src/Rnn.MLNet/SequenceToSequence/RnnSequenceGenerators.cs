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
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.SequenceToSequence;

/// <summary>
/// Settings shared by the encoder–decoder components: the target text, the decoder and decoding. Shared training settings
/// are on <see cref="RnnTrainerOptions"/> (defaults here: 1 layer, hidden 128, 20 epochs, batch 32, learning rate 3e-3).
/// </summary>
public abstract class SequenceGeneratorOptions : RnnTrainerOptions
{
    /// <summary>Sets the encoder–decoder defaults.</summary>
    private protected SequenceGeneratorOptions()
    {
        HiddenSize = 128;
        Epochs = 20;
    }

    /// <summary>Target text column (training only).</summary>
    public string TargetColumnName { get; set; } = "Target";
    /// <summary>Column that receives the generated text.</summary>
    public string OutputColumnName { get; set; } = "Generated";
    /// <summary>How target texts are split (word, whitespace or character tokens).</summary>
    public TokenizerKind TargetTokenizer { get; set; } = TokenizerKind.Word;
    /// <summary>Lower-case texts first.</summary>
    public bool LowerCase { get; set; }
    /// <summary>Embedding width.</summary>
    public int EmbeddingSize { get; set; } = 64;
    /// <summary>Dropout on the encoder and decoder inputs (embeddings) and on the head's input.</summary>
    public float EmbeddingDropout { get; set; }
    /// <summary>Weight initialization.</summary>
    public InitScheme Init { get; set; } = InitScheme.Orthogonal;
    /// <summary>Beam width used when the model runs in the pipeline (1 = greedy).</summary>
    public int BeamWidth { get; set; } = 1;
    /// <summary>Most tokens generated per row.</summary>
    public int MaxOutputLength { get; set; } = 100;
    /// <summary>Beam ranking: log-probability / (length + 1)^LengthPenalty.</summary>
    public double LengthPenalty { get; set; } = 1.0;
    /// <summary>Label smoothing ε of the training loss (0 = plain cross-entropy; 0.1 is usual).</summary>
    public double LabelSmoothing { get; set; }
    /// <summary>
    /// Networks trained one after another (different initial weights and batch orders, the same data) and decoded together:
    /// the beam search ranks each next token by the mean of their log-probabilities. <see cref="RnnTrainerOptions.TimeLimit"/>
    /// bounds all of them: each member gets an equal share of the time still left when it starts.
    /// </summary>
    public int EnsembleSize { get; set; } = 1;

    internal DecodingOptions Decoding => new() { BeamWidth = BeamWidth, MaxLength = MaxOutputLength, LengthPenalty = LengthPenalty };

    internal override void Validate()
    {
        if (string.IsNullOrEmpty(TargetColumnName)) throw new ArgumentException("TargetColumnName must be set.");
        if (string.IsNullOrEmpty(OutputColumnName)) throw new ArgumentException("OutputColumnName must be set.");
        if (!Enum.IsDefined(TargetTokenizer)) throw new ArgumentException($"Unknown tokenizer {(int)TargetTokenizer}.");
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentException($"LabelSmoothing must be in [0, 1); got {LabelSmoothing}.", nameof(LabelSmoothing));
        if (EnsembleSize < 1 || EnsembleSize > 100) throw new ArgumentException($"EnsembleSize must be in 1..100; got {EnsembleSize}.", nameof(EnsembleSize));
        Decoding.Validate();
        base.Validate();
    }
}

/// <summary>Options of the sequence-to-sequence component (text in, text out).</summary>
public sealed class RnnSequenceToSequenceOptions : SequenceGeneratorOptions
{
    /// <summary>Source text column.</summary>
    public string SourceColumnName { get; set; } = "Source";
    /// <summary>How source texts are split.</summary>
    public TokenizerKind SourceTokenizer { get; set; } = TokenizerKind.Word;
    /// <summary>Largest source vocabulary (0 = no limit; rarer tokens become &lt;unk&gt;).</summary>
    public int MaximumSourceVocabularySize { get; set; }
    /// <summary>Source tokens seen fewer times in training become &lt;unk&gt; (so its embedding is trained, for unseen words).</summary>
    public int MinimumSourceCount { get; set; } = 1;
    /// <summary>Target tokens seen fewer times become the target's &lt;unk&gt; (1 = no unknown target token).</summary>
    public int MinimumTargetCount { get; set; } = 1;
    /// <summary>Longest source accepted, in tokens; longer sources are an error (in training and in the pipeline).</summary>
    public int MaxSourceLength { get; set; } = 200;
    /// <summary>Encoder reads both ways (decoder hidden size 2H).</summary>
    public bool BidirectionalEncoder { get; set; } = true;
    /// <summary>Luong attention of the decoder over the encoder outputs.</summary>
    public AttentionKind Attention { get; set; } = AttentionKind.General;
    /// <summary>
    /// Each member keeps the epoch whose greedy translations of the validation data score the highest corpus BLEU-4 (and
    /// early stopping follows that score) instead of the epoch with the lowest validation loss; the learning-rate schedule
    /// still follows the loss. Needs validation data.
    /// </summary>
    public bool SelectEpochByBleu { get; set; }
    /// <summary>
    /// After training, the validation data are translated with <see cref="SequenceGeneratorOptions.BeamWidth"/> under each
    /// of these length penalties, and the one with the highest corpus BLEU-4 is saved as the model's
    /// <see cref="SequenceGeneratorOptions.LengthPenalty"/>. Null or empty: <see cref="SequenceGeneratorOptions.LengthPenalty"/> as given.
    /// </summary>
    public double[]? LengthPenaltyCandidates { get; set; }
}

/// <summary>Options of the one-to-many component (feature vector in, text out).</summary>
public sealed class RnnVectorToSequenceOptions : SequenceGeneratorOptions
{
    /// <summary>Feature column: a vector of Single of known size.</summary>
    public string FeatureColumnName { get; set; } = "Features";
    /// <summary>Also feed the vector beside the token embedding at every decoder step (it always sets the initial state).</summary>
    public bool FeedFeaturesEveryStep { get; set; }
}

/// <summary>Trains an encoder–decoder that reads a text column and writes a text column (translation-like tasks).</summary>
public sealed class RnnSequenceToSequenceEstimator : IEstimator<RnnSequenceGeneratorTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml = new();
    private readonly RnnSequenceToSequenceOptions _o;

    internal RnnSequenceToSequenceEstimator(IHostEnvironment env, RnnSequenceToSequenceOptions options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _o.Validate();
        if (string.IsNullOrEmpty(_o.SourceColumnName)) throw new ArgumentException("SourceColumnName must be set.", nameof(options));
        if (_o.MaxSourceLength < 1) throw new ArgumentException($"MaxSourceLength must be at least 1; got {_o.MaxSourceLength}.", nameof(options));
        foreach (double a in _o.LengthPenaltyCandidates ?? Array.Empty<double>())
            if (!(a >= 0 && a <= 10)) throw new ArgumentException($"LengthPenaltyCandidates must be in [0, 10]; got {a}.", nameof(options));
    }

    /// <inheritdoc />
    public RnnSequenceGeneratorTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains, validating on <paramref name="validation"/> each epoch (loss and next-token accuracy).</summary>
    public RnnSequenceGeneratorTransformer Fit(IDataView input, IDataView? validation)
    {
        var o = _o;
        var log = new TrainingLog(_env, "RnnSequenceToSequence", o.Progress);
        var sources = RnnLanguageModel.ReadTexts(input, o.SourceColumnName);
        var targets = RnnLanguageModel.ReadTexts(input, o.TargetColumnName);
        if (sources.Count == 0) throw new ArgumentException("The training data has no rows.", nameof(input));
        string Lower(string s) => o.LowerCase ? s.ToLowerInvariant() : s;
        var srcVocab = Vocabulary.Build(sources.Select(Lower), Tokenizer.Create(o.SourceTokenizer), o.MaximumSourceVocabularySize, minCount: System.Math.Max(1, o.MinimumSourceCount));
        var tgtVocab = Vocabulary.BuildTarget(targets.Select(Lower), Tokenizer.Create(o.TargetTokenizer), System.Math.Max(1, o.MinimumTargetCount));
        var rng = new Rng(o.ResolveSeed(log));
        var architecture = new EncoderDecoderOptions
        {
            Cell = o.Cell, Source = SourceKind.Tokens, SourceVocabularySize = srcVocab.Count, TargetVocabularySize = tgtVocab.Count,
            EmbeddingSize = o.EmbeddingSize, HiddenSize = o.HiddenSize, Layers = o.Layers, BidirectionalEncoder = o.BidirectionalEncoder,
            Attention = o.Attention, Dropout = o.Dropout, EmbeddingDropout = o.EmbeddingDropout,
        };
        var model = new SequenceGeneratorModel(new[] { new EncoderDecoderNetwork<float>(architecture) }, srcVocab, tgtVocab, o.LowerCase, o.MaxSourceLength, o.Decoding);
        List<SequencePair> Pairs(List<string> src, List<string> tgt, string what) =>
            src.Select((x, i) => GeneratorTraining.Pair(what, i, () => model.EncodeSource(x, o.SourceColumnName), null, () => model.EncodeTarget(tgt[i], o.TargetColumnName), o.TargetColumnName)).ToList();
        var train = Pairs(sources, targets, "training");
        List<SequencePair>? valid = validation is null ? null
            : Pairs(RnnLanguageModel.ReadTexts(validation, o.SourceColumnName), RnnLanguageModel.ReadTexts(validation, o.TargetColumnName), "validation");
        Func<IReadOnlyList<EncoderDecoderNetwork<float>>, List<SequencePair>, DecodingOptions, double>? bleu = o.SelectEpochByBleu || o.LengthPenaltyCandidates is { Length: > 0 }
            ? (nets, data, decoding) => GeneratorTraining.Bleu(nets, data, decoding, tgtVocab.UnknownId)
            : null;
        var (nets, results, held) = GeneratorTraining.Fit(architecture, train, valid, o, rng, log, o.SelectEpochByBleu ? bleu : null);
        var decoding = o.Decoding;
        if (o.LengthPenaltyCandidates is { Length: > 0 } candidates && held is { Count: > 0 })
        {
            var scored = candidates.Select(a => (Penalty: a, Bleu: bleu!(nets, held, new DecodingOptions { BeamWidth = decoding.BeamWidth, MaxLength = decoding.MaxLength, LengthPenalty = a }))).ToList();
            decoding.LengthPenalty = scored.OrderByDescending(c => c.Bleu).First().Penalty; // ties: the first candidate
            log.Info("Validation BLEU by length penalty: " + string.Join(", ", scored.Select(c => FormattableString.Invariant($"{c.Penalty}: {c.Bleu:F2}"))) + $"; kept {decoding.LengthPenalty}.");
        }
        model = new SequenceGeneratorModel(nets, srcVocab, tgtVocab, o.LowerCase, o.MaxSourceLength, decoding);
        return new RnnSequenceGeneratorTransformer(_ml, model, input.Schema, o.SourceColumnName, o.OutputColumnName, results);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.Require(inputSchema, _o.SourceColumnName, "source", "String (Text)", SchemaChecks.IsTextShape);
        return RnnSequenceGeneratorTransformer.BuildChain(_ml, "", _o.SourceColumnName, _o.OutputColumnName, vectorSource: false).GetOutputSchema(inputSchema);
    }
}

/// <summary>Trains a decoder that writes a text column from a feature vector column (one-to-many).</summary>
public sealed class RnnVectorToSequenceEstimator : IEstimator<RnnSequenceGeneratorTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml = new();
    private readonly RnnVectorToSequenceOptions _o;

    internal RnnVectorToSequenceEstimator(IHostEnvironment env, RnnVectorToSequenceOptions options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _o.Validate();
        if (string.IsNullOrEmpty(_o.FeatureColumnName)) throw new ArgumentException("FeatureColumnName must be set.", nameof(options));
    }

    /// <inheritdoc />
    public RnnSequenceGeneratorTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains, validating on <paramref name="validation"/> each epoch.</summary>
    public RnnSequenceGeneratorTransformer Fit(IDataView input, IDataView? validation)
    {
        var o = _o;
        var log = new TrainingLog(_env, "RnnVectorToSequence", o.Progress);
        var features = GeneratorTraining.ReadVectors(input, o.FeatureColumnName, "training");
        var targets = RnnLanguageModel.ReadTexts(input, o.TargetColumnName);
        if (features.Count == 0) throw new ArgumentException("The training data has no rows.", nameof(input));
        var tgtVocab = Vocabulary.BuildTarget(targets.Select(t => o.LowerCase ? t.ToLowerInvariant() : t), Tokenizer.Create(o.TargetTokenizer));
        var rng = new Rng(o.ResolveSeed(log));
        var architecture = new EncoderDecoderOptions
        {
            Cell = o.Cell, Source = SourceKind.Features, FeatureSize = features[0].Length, FeedFeaturesEveryStep = o.FeedFeaturesEveryStep,
            TargetVocabularySize = tgtVocab.Count, EmbeddingSize = o.EmbeddingSize, HiddenSize = o.HiddenSize, Layers = o.Layers, Dropout = o.Dropout,
        };
        var model = new SequenceGeneratorModel(new[] { new EncoderDecoderNetwork<float>(architecture) }, null, tgtVocab, o.LowerCase, int.MaxValue, o.Decoding);
        List<SequencePair> Pairs(List<float[]> f, List<string> tgt, string what) =>
            f.Select((x, i) => GeneratorTraining.Pair(what, i, null, x, () => model.EncodeTarget(tgt[i], o.TargetColumnName), o.TargetColumnName)).ToList();
        var train = Pairs(features, targets, "training");
        List<SequencePair>? valid = null;
        if (validation is not null)
        {
            var vf = GeneratorTraining.ReadVectors(validation, o.FeatureColumnName, "validation");
            if (vf.Count > 0 && vf[0].Length != features[0].Length)
                throw new ArgumentException($"The validation column '{o.FeatureColumnName}' has {vf[0].Length} features; the training data has {features[0].Length}.", nameof(validation));
            valid = Pairs(vf, RnnLanguageModel.ReadTexts(validation, o.TargetColumnName), "validation");
        }
        var (nets, results, _) = GeneratorTraining.Fit(architecture, train, valid, o, rng, log);
        model = new SequenceGeneratorModel(nets, null, tgtVocab, o.LowerCase, int.MaxValue, o.Decoding);
        return new RnnSequenceGeneratorTransformer(_ml, model, input.Schema, o.FeatureColumnName, o.OutputColumnName, results);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.Require(inputSchema, _o.FeatureColumnName, "feature", "a vector of Single", c => c.Kind == SchemaShape.Column.VectorKind.Vector && c.ItemType == NumberDataViewType.Single);
        return RnnSequenceGeneratorTransformer.BuildChain(_ml, "", _o.FeatureColumnName, _o.OutputColumnName, vectorSource: true).GetOutputSchema(inputSchema);
    }
}

/// <summary>A fitted encoder–decoder in a pipeline: adds the generated text column; <see cref="Model"/> generates directly.</summary>
public sealed class RnnSequenceGeneratorTransformer : ChainedTransformer
{
    /// <summary>The model.</summary>
    public SequenceGeneratorModel Model { get; }

    /// <summary>Training history (of the first member of an ensemble).</summary>
    public FitResult TrainingResult => TrainingResults[0];

    /// <summary>Training history of every member, in <see cref="SequenceGeneratorModel.Networks"/> order.</summary>
    public IReadOnlyList<FitResult> TrainingResults { get; }

    internal RnnSequenceGeneratorTransformer(MLContext ml, SequenceGeneratorModel model, DataViewSchema schema, string inputColumn, string outputColumn, IReadOnlyList<FitResult> results)
        : base(BuildChain(ml, ModelPersistence.Encode(model.ToFile()), inputColumn, outputColumn, model.SourceVocabulary is null).Fit(new EmptyDataView(schema)))
    {
        Model = model;
        TrainingResults = results;
        ModelPersistence.Adopt(Chain, model);
    }

    /// <summary>Copy the input → payload constant → CustomMapping → copy the private result to the output name → drop temporaries.</summary>
    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string inputColumn, string outputColumn, bool vectorSource)
    {
        var chain = vectorSource
            ? PipelineChain.VectorHead(ml, payload, ml.Transforms.CopyColumns(PipelineChain.FeaturesColumn, inputColumn)).Append(new VectorToSequenceMapping().Estimator(ml))
            : PipelineChain.TextHead(ml, payload, inputColumn).Append(new SequenceToSequenceMapping().Estimator(ml));
        chain = chain.Append<ITransformer>(ml.Transforms.CopyColumns(outputColumn, GeneratedTextOutput.GeneratedColumn));
        var temporaries = PipelineChain.HeadColumns(vectorSource ? PipelineChain.FeaturesColumn : PipelineChain.TextColumn).Append(GeneratedTextOutput.GeneratedColumn);
        return PipelineChain.Finish(ml, chain, temporaries);
    }
}

/// <summary>What the two encoder–decoder estimators share: data reading and the training run.</summary>
internal static class GeneratorTraining
{
    public static SequencePair Pair(string what, int row, Func<int[]>? source, float[]? features, Func<int[]> target, string targetColumn)
    {
        try
        {
            var t = target();
            if (t.Length == 0) throw new ArgumentException($"The target text in column '{targetColumn}' is empty; every example needs at least one target token.");
            return new SequencePair { Source = source?.Invoke(), Features = features, Target = t };
        }
        catch (ArgumentException e) { throw new ArgumentException($"Row {row} of the {what} data: {e.Message}", e); }
    }

    public static List<float[]> ReadVectors(IDataView data, string column, string what)
    {
        ArgumentNullException.ThrowIfNull(data);
        var col = SchemaChecks.Require(data.Schema, column, "feature", "a vector of Single of known size",
            t => t is VectorDataViewType v && v.ItemType == NumberDataViewType.Single && v.IsKnownSize);
        var list = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { col });
        var get = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> v = default;
        while (cursor.MoveNext())
        {
            get(ref v);
            var values = v.DenseValues().ToArray();
            for (int j = 0; j < values.Length; j++)
                if (!float.IsFinite(values[j])) throw new ArgumentException($"Row {list.Count} of the {what} data: feature {j} of column '{column}' is {values[j]}; features must be finite numbers.");
            list.Add(values);
        }
        return list;
    }

    /// <summary>
    /// Trains <see cref="SequenceGeneratorOptions.EnsembleSize"/> networks of one architecture on the same data, one after
    /// another; member m has its own initial weights and batch order and an equal share of the time still left.
    /// Returns the validation data used (given, or held out here), if any. <paramref name="score"/>, when given, chooses each
    /// member's kept epoch on the validation data (higher is better; greedy decoding).
    /// </summary>
    public static (List<EncoderDecoderNetwork<float>> Networks, List<FitResult> Results, List<SequencePair>? Validation) Fit(EncoderDecoderOptions architecture,
        List<SequencePair> train, List<SequencePair>? valid, SequenceGeneratorOptions o, Rng rng, TrainingLog log,
        Func<IReadOnlyList<EncoderDecoderNetwork<float>>, List<SequencePair>, DecodingOptions, double>? score = null)
    {
        if (valid is null && o.ValidationFraction > 0 && train.Count > 1)
        {
            int n = System.Math.Max(1, (int)(train.Count * o.ValidationFraction));
            valid = train.GetRange(train.Count - n, n);
            train = train.GetRange(0, train.Count - n);
        }
        var nets = new List<EncoderDecoderNetwork<float>>();
        var results = new List<FitResult>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var restartSchedule = o.ScheduleRestart(); // every member starts the schedule afresh
        for (int m = 0; m < o.EnsembleSize; m++)
        {
            var net = new EncoderDecoderNetwork<float>(architecture);
            Initializer.Initialize(net.Parameters, o.Init, rng.NextUInt64());
            string who = o.EnsembleSize > 1 ? $"member {m + 1} of {o.EnsembleSize}: " : "";
            log.Info($"Training a {o.Cell} encoder-decoder, {who}{train.Count} examples, target vocabulary {net.Options.TargetVocabularySize}, {net.Parameters.Count} parameters.");
            restartSchedule();
            var fit = o.FitOptions(rng.NextUInt64(), log.Epoch);
            fit.LabelSmoothing = o.LabelSmoothing;
            if (score is not null && valid is { Count: > 0 })
            {
                var greedy = new DecodingOptions { BeamWidth = 1, MaxLength = o.MaxOutputLength };
                fit.ValidationScore = () => score(new[] { net }, valid, greedy);
            }
            if (o.TimeLimit is TimeSpan limit) fit.TimeLimit = (limit - clock.Elapsed) / (o.EnsembleSize - m);
            if (o.EnsembleSize > 1 && o.CheckpointPath is not null) fit.CheckpointPath = $"{o.CheckpointPath}.member{m}";
            var result = EncoderDecoderFitter.Fit(net, train, valid, fit);
            log.Checkpoints(result);
            o.CancellationToken.ThrowIfCancellationRequested();
            if (result.History.Count == 0 && nets.Count > 0)
            {
                log.Info($"{who}no time left for an epoch; the ensemble keeps {nets.Count} member(s).");
                break;
            }
            nets.Add(net.ForInference()); // without training's gradients and buffers
            results.Add(result);
        }
        return (nets, results, valid);
    }

    /// <summary>
    /// Corpus BLEU-4 of the networks' translations of <paramref name="data"/> (64 sources per batched search) against its
    /// targets, over token ids, so it does not depend on how the tokenizer joins tokens; an unknown reference token matches nothing.
    /// </summary>
    public static double Bleu(IReadOnlyList<EncoderDecoderNetwork<float>> nets, List<SequencePair> data, DecodingOptions decoding, int unknownId)
    {
        var hypotheses = new List<string>(data.Count);
        for (int i = 0; i < data.Count; i += 64)
        {
            var sources = data.Skip(i).Take(64).Select(p => p.Source!).ToList();
            hypotheses.AddRange(EncoderDecoderNetwork<float>.DecodeBatch(nets, sources, decoding).Select(d => string.Join(' ', d.Tokens)));
        }
        var references = data.Select(p => string.Join(' ', p.Target.Select(id => id == unknownId && unknownId > 0 ? "?" : id.ToString(System.Globalization.CultureInfo.InvariantCulture)))).ToList();
        return Text.Bleu.Corpus(hypotheses, references);
    }
}
