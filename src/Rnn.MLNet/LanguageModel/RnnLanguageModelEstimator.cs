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
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.LanguageModel;

/// <summary>
/// Options of the recurrent language model. Shared training settings are on <see cref="RnnTrainerOptions"/> (defaults here:
/// 2 layers, hidden 128, 10 epochs, batch 32 stream columns, learning rate 2e-3).
/// </summary>
public sealed class RnnLanguageModelOptions : RnnTrainerOptions
{
    /// <summary>Sets this component's defaults.</summary>
    public RnnLanguageModelOptions()
    {
        Layers = 2;
        HiddenSize = 128;
        LearningRate = 2e-3;
    }

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
    /// <summary>Embedding width.</summary>
    public int EmbeddingSize { get; set; } = 64;
    /// <summary>Truncated-BPTT length.</summary>
    public int BpttSteps { get; set; } = 64;
    /// <summary>Weight initialization (PyTorch's default U(±1/√H) unless set).</summary>
    public InitScheme Init { get; set; } = InitScheme.PyTorchDefault;
    /// <summary>Uniform init range ±InitRange for every weight instead of <see cref="Init"/> when positive (Zaremba et al. use 0.1).</summary>
    public double InitRange { get; set; }
    /// <summary>When set, a text is generated from this prompt after each epoch and reported (<see cref="EpochReport.Sample"/>).</summary>
    public string? SamplePrompt { get; set; }
    /// <summary>How the per-epoch sample is drawn.</summary>
    public SamplingOptions EpochSampling { get; set; } = new() { MaxTokens = 200, Temperature = 0.8, Seed = 1 };

    /// <summary>
    /// False (default): the training texts are read into memory. True: they are read with a cursor (vocabulary counted
    /// as they pass), their token ids written to a temporary file and read back chunk by chunk, so a corpus larger than
    /// memory can be used; the weights equal the in-memory path's. <see cref="RnnTrainerOptions.ValidationFraction"/>
    /// is not available then: pass a validation view to Fit.
    /// </summary>
    public bool StreamTrainingData { get; set; }

    internal string SeparatorToken => Separator ?? (Tokenizer == TokenizerKind.Character ? "\n" : "<eos>");

    internal override void Validate()
    {
        if (string.IsNullOrEmpty(TextColumnName)) throw new ArgumentException("TextColumnName must be set.", nameof(TextColumnName));
        base.Validate();
    }
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
        _o.Validate();
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
        // Streamed: the texts are read with a cursor each time they are enumerated (vocabulary, then the token file).
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
        var rng = new Rng(o.ResolveSeed(log));
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
            log.Info($"Training a {o.Cell} language model: {trainStream.Length} tokens{(tokenFile is null ? "" : " streamed from " + tokenFile)}, vocabulary {vocab.Count}, {net.Parameters.Count} parameters.");
            var fit = o.FitOptions(rng.NextUInt64(), log.Epoch);
            fit.BpttSteps = o.BpttSteps;
            fit.Sampler = o.SamplePrompt is null ? null : () => vocab.Tokenizer.Join(new[] { o.SamplePrompt, model.Generate(o.SamplePrompt, o.EpochSampling) });
            var result = SequenceFitter.FitStream(net, trainStream, validStream, fit);
            log.Checkpoints(result);
            o.CancellationToken.ThrowIfCancellationRequested();
            model = new RnnLanguageModel(net.ForInference(), vocab, sep, o.LowerCase); // without training's gradients and buffers
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
        : base(BuildChain(ml, ModelPersistence.Encode(model.ToFile()), textColumn).Fit(new EmptyDataView(schema)))
    {
        Model = model;
        TrainingResult = result;
        ModelPersistence.Adopt(Chain, model);
    }

    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string textColumn) =>
        PipelineChain.Finish(ml, PipelineChain.TextHead(ml, payload, textColumn).Append(new LanguageModelMapping().Estimator(ml)), PipelineChain.HeadColumns(PipelineChain.TextColumn));
}
