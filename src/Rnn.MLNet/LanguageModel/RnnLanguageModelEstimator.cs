using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.LanguageModel;

/// <summary>Options of the recurrent language model.</summary>
public sealed class RnnLanguageModelOptions
{
    /// <summary>Text column; rows are joined with the separator into one stream.</summary>
    public string TextColumnName { get; set; } = "Text";
    /// <summary>Character or word tokens.</summary>
    public TokenizerKind Tokenizer { get; set; } = TokenizerKind.Character;
    /// <summary>Lower-case texts first.</summary>
    public bool LowerCase { get; set; }
    /// <summary>Token between rows; default "\n" for characters and "&lt;eos&gt;" otherwise.</summary>
    public string? Separator { get; set; }
    /// <summary>Largest vocabulary (0 = no limit).</summary>
    public int MaximumVocabularySize { get; set; }
    /// <summary>Cell.</summary>
    public CellType Cell { get; set; } = CellType.Lstm;
    /// <summary>Layers.</summary>
    public int Layers { get; set; } = 2;
    /// <summary>Hidden size.</summary>
    public int HiddenSize { get; set; } = 128;
    /// <summary>Embedding width.</summary>
    public int EmbeddingSize { get; set; } = 64;
    /// <summary>Dropout between layers.</summary>
    public float Dropout { get; set; }
    /// <summary>Epochs.</summary>
    public int Epochs { get; set; } = 10;
    /// <summary>Parallel stream columns per batch.</summary>
    public int BatchSize { get; set; } = 32;
    /// <summary>Truncated-BPTT length.</summary>
    public int BpttSteps { get; set; } = 64;
    /// <summary>Learning rate.</summary>
    public double LearningRate { get; set; } = 2e-3;
    /// <summary>Optimizer.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;
    /// <summary>Gradient clip.</summary>
    public double ClipNorm { get; set; } = 5;
    /// <summary>Learning-rate schedule applied after each epoch (e.g. <see cref="StepDecaySchedule"/>, <see cref="ReduceOnPlateauSchedule"/>), or null.</summary>
    public ILearningRateSchedule? Schedule { get; set; }
    /// <summary>Weight initialization (PyTorch's default U(±1/√H) unless set).</summary>
    public InitScheme Init { get; set; } = InitScheme.PyTorchDefault;
    /// <summary>Uniform init range ±InitRange for every weight instead of <see cref="Init"/> when positive (Zaremba et al. use 0.1).</summary>
    public double InitRange { get; set; }
    /// <summary>Fraction of rows (the last ones) held out for validation when no validation set is given.</summary>
    public double ValidationFraction { get; set; }
    /// <summary>Early-stopping patience in epochs (0 = off).</summary>
    public int EarlyStoppingPatience { get; set; }
    /// <summary>Stop training after this long (null = no limit).</summary>
    public TimeSpan? TimeLimit { get; set; }
    /// <summary>Seed (null: from the MLContext).</summary>
    public int? Seed { get; set; }
    /// <summary>Per-epoch callback.</summary>
    public Action<EpochReport>? Progress { get; set; }
    /// <summary>Per-batch callback (epoch, batch, batches, running loss), e.g. for a progress bar.</summary>
    public Action<int, int, int, double>? BatchProgress { get; set; }
    /// <summary>When set, a text is generated from this prompt after each epoch and reported (<see cref="EpochReport.Sample"/>).</summary>
    public string? SamplePrompt { get; set; }
    /// <summary>How the per-epoch sample is drawn.</summary>
    public SamplingOptions EpochSampling { get; set; } = new() { MaxTokens = 200, Temperature = 0.8, Seed = 1 };
    /// <summary>Cancellation between batches.</summary>
    public CancellationToken CancellationToken { get; set; }
    /// <summary>
    /// False (default): the training texts are read into memory. True: they are read with a cursor (vocabulary counted
    /// as they pass), their token ids written to a temporary file and read back chunk by chunk, so a corpus larger than
    /// memory can be used; the weights equal the in-memory path's. <see cref="ValidationFraction"/> is not available then.
    /// </summary>
    public bool StreamTrainingData { get; set; }
    /// <summary>Checkpoint file: training resumes from it when it exists and rewrites it as it goes (see docs/long-runs.md). Null: none.</summary>
    public string? CheckpointPath { get; set; }
    /// <summary>Training time between checkpoints (also written after each epoch and when cancelled).</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);

    internal string SeparatorToken => Separator ?? (Tokenizer == TokenizerKind.Character ? "\n" : "<eos>");
}

/// <summary>Trains a next-token language model on a text column.</summary>
/// <remarks>Adds <c>NextToken</c> (text) and <c>NextTokenProbability</c> (Single) for each row's text.</remarks>
public sealed class RnnLanguageModelEstimator : IEstimator<RnnLanguageModelTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml = new();
    private readonly RnnLanguageModelOptions _o;

    internal RnnLanguageModelEstimator(IHostEnvironment env, RnnLanguageModelOptions options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        if (string.IsNullOrEmpty(_o.TextColumnName)) throw new ArgumentException("TextColumnName must be set.", nameof(options));
        if (!(_o.ValidationFraction >= 0 && _o.ValidationFraction < 1)) throw new ArgumentException($"ValidationFraction must be in [0, 1); got {_o.ValidationFraction}.", nameof(options));
    }

    /// <inheritdoc />
    public RnnLanguageModelTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains, reporting validation perplexity on <paramref name="validation"/> each epoch.</summary>
    public RnnLanguageModelTransformer Fit(IDataView input, IDataView? validation)
    {
        var o = _o;
        var log = new TrainingLog(_env, "RnnLanguageModel", o.Progress);
        if (o.StreamTrainingData && o.ValidationFraction > 0)
            throw new ArgumentException("ValidationFraction needs the training texts in memory; with StreamTrainingData, pass a validation IDataView to Fit instead.", nameof(input));
        IEnumerable<string> texts = o.StreamTrainingData ? RnnLanguageModel.Texts(input, o.TextColumnName) : RnnLanguageModel.ReadTexts(input, o.TextColumnName);
        List<string> validTexts = validation is null ? new() : RnnLanguageModel.ReadTexts(validation, o.TextColumnName);
        if (validation is null && o.ValidationFraction > 0)
        {
            var all = (List<string>)texts;
            int n = System.Math.Max(1, (int)(all.Count * o.ValidationFraction));
            validTexts = all.GetRange(all.Count - n, n);
            texts = all.GetRange(0, all.Count - n);
        }
        var tokenizer = Tokenizer.Create(o.Tokenizer);
        string sep = o.SeparatorToken;
        var vocab = Vocabulary.Build(texts.Select(t => o.LowerCase ? t.ToLowerInvariant() : t).Append(sep), tokenizer, o.MaximumVocabularySize);
        if (!vocab.Contains(sep)) vocab = new Vocabulary(tokenizer, vocab.Tokens.Append(sep).ToList());
        ulong seed = o.Seed is int s ? (ulong)s : log.NextSeed();
        var rng = new Rng(seed);
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = o.Cell, Input = InputKind.Embedding, VocabularySize = vocab.Count, EmbeddingSize = o.EmbeddingSize, HiddenSize = o.HiddenSize,
            Layers = o.Layers, Dropout = o.Dropout, OutputSize = vocab.Count, Output = OutputMode.PerStep,
        });
        ulong initSeed = rng.NextUInt64();
        if (o.InitRange > 0)
        {
            var initRng = new Rng(initSeed);
            var w = net.Parameters.Values;
            for (int i = 0; i < w.Length; i++) w[i] = (float)initRng.NextUniform(-o.InitRange, o.InitRange);
        }
        else Initializer.Initialize(net, o.Init, initSeed);
        var model = new RnnLanguageModel(net, vocab, sep, o.LowerCase);
        string? tokenFile = null;
        FileTokenSource? fileSource = null;
        try
        {
            if (o.StreamTrainingData)
            {
                tokenFile = Path.Combine(Path.GetTempPath(), "rnn-mlnet-tokens-" + Guid.NewGuid().ToString("N") + ".bin");
                using (var file = new FileStream(tokenFile, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                    RnnLanguageModel.WriteStream(model, texts, file);
                fileSource = new FileTokenSource(tokenFile);
            }
            ITokenSource trainStream = fileSource ?? (ITokenSource)new ArrayTokenSource(RnnLanguageModel.Stream(model, texts));
            if (trainStream.Length <= o.BatchSize + 1)
                throw new ArgumentException($"The text column '{o.TextColumnName}' holds {trainStream.Length} tokens; a language model needs more than batch size + 1 = {o.BatchSize + 1}.", nameof(input));
            int[]? validStream = validTexts.Count > 0 ? RnnLanguageModel.Stream(model, validTexts) : null;
            log.Info($"Training a {o.Cell} language model: {trainStream.Length} tokens{(o.StreamTrainingData ? " streamed from " + tokenFile : "")}, vocabulary {vocab.Count}, {net.Parameters.Count} parameters.");
            var result = SequenceFitter.FitStream(net, trainStream, validStream, new FitOptions
            {
                Epochs = o.Epochs, BatchSize = o.BatchSize, BpttSteps = o.BpttSteps, LearningRate = o.LearningRate, Optimizer = o.Optimizer,
                ClipNorm = o.ClipNorm, EarlyStoppingPatience = o.EarlyStoppingPatience, Seed = rng.NextUInt64(), Progress = log.Epoch, Schedule = o.Schedule,
                Cancellation = o.CancellationToken, TimeLimit = o.TimeLimit, BatchProgress = o.BatchProgress,
                CheckpointPath = o.CheckpointPath, CheckpointInterval = o.CheckpointInterval,
                Sampler = o.SamplePrompt is null ? null : () => vocab.Tokenizer.Join(new[] { o.SamplePrompt, model.Generate(o.SamplePrompt, o.EpochSampling) }),
            });
            foreach (var problem in result.CheckpointProblems) log.Warning(problem);
            if (result.ResumedFrom is not null) log.Info("Resumed from the checkpoint " + result.ResumedFrom + ".");
            o.CancellationToken.ThrowIfCancellationRequested();
            return new RnnLanguageModelTransformer(_ml, model, input.Schema, o.TextColumnName, result);
        }
        finally
        {
            fileSource?.Dispose();
            if (tokenFile is not null) File.Delete(tokenFile);
        }
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.Require(inputSchema, _o.TextColumnName, "text", "String (Text)", SchemaChecks.IsTextShape);
        return RnnLanguageModelTransformer.BuildChain(_ml, "", _o.TextColumnName).GetOutputSchema(inputSchema);
    }
}

/// <summary>A fitted language model in a pipeline; <see cref="Model"/> generates text.</summary>
public sealed class RnnLanguageModelTransformer : ChainedTransformer
{
    /// <summary>The model: generation, next-token prediction, perplexity.</summary>
    public RnnLanguageModel Model { get; }

    /// <summary>Training history.</summary>
    public FitResult TrainingResult { get; }

    internal RnnLanguageModelTransformer(MLContext ml, RnnLanguageModel model, DataViewSchema schema, string textColumn, FitResult result)
        : base(BuildChain(ml, Payload.Encode(model.ToFile()), textColumn).Fit(new EmptyDataView(schema)))
    {
        Model = model;
        TrainingResult = result;
    }

    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string textColumn) =>
        new EstimatorChain<ITransformer>()
            .Append<ITransformer>(ml.Transforms.CopyColumns(Payload.TextColumn, textColumn))
            .Append<ITransformer>(ml.Transforms.Expression(Payload.PayloadColumn, Payload.Expression(payload), Payload.TextColumn))
            .Append<ITransformer>(ml.Transforms.CustomMapping<TextClassifierInput, NextTokenOutput>(LanguageModelFactory.Map, LanguageModelFactory.Contract))
            .Append<ITransformer>(ml.Transforms.DropColumns(Payload.TextColumn, Payload.PayloadColumn));
}
