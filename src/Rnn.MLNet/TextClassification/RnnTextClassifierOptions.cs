using System;
using System.Threading;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.TextClassification;

/// <summary>Options of the recurrent text classifier (binary and multiclass).</summary>
public sealed class RnnTextClassifierOptions
{
    /// <summary>Label column: Boolean for binary, key-typed for multiclass (use MapValueToKey first).</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Text column.</summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>
    /// Alternative input: a column of token-id vectors (ML.NET keys, e.g. from MapValueToKey on tokens, or non-negative
    /// integer ids as Single/Double/Int32). When set, <see cref="TextColumnName"/> is not read.
    /// </summary>
    public string? TokenColumnName { get; set; }

    /// <summary>Recurrent cell.</summary>
    public CellType Cell { get; set; } = CellType.Lstm;

    /// <summary>Stacked layers.</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Hidden size per direction.</summary>
    public int HiddenSize { get; set; } = 64;

    /// <summary>Embedding width.</summary>
    public int EmbeddingSize { get; set; } = 64;

    /// <summary>Read the text in both directions.</summary>
    public bool Bidirectional { get; set; } = true;

    /// <summary>Dropout between stacked layers.</summary>
    public float Dropout { get; set; }

    /// <summary>How text is split into tokens.</summary>
    public TokenizerKind Tokenizer { get; set; } = TokenizerKind.Word;

    /// <summary>Lower-case texts before tokenizing.</summary>
    public bool LowerCase { get; set; } = true;

    /// <summary>Largest vocabulary (the unknown token included); rarer tokens become &lt;unk&gt;.</summary>
    public int MaximumVocabularySize { get; set; } = 20000;

    /// <summary>Tokens read per text (the first ones).</summary>
    public int MaximumLength { get; set; } = 200;

    /// <summary>Training epochs.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Texts per batch.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; set; } = 3e-3;

    /// <summary>Optimizer.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;

    /// <summary>Weight decay.</summary>
    public double WeightDecay { get; set; }

    /// <summary>Global gradient-norm clip (0 disables).</summary>
    public double ClipNorm { get; set; } = 5;

    /// <summary>Weight classes inversely to their frequency (binary: pos_weight = negatives / positives).</summary>
    public bool BalanceClasses { get; set; }

    /// <summary>Fraction of the training rows held out for validation when no validation set is given (0 = none).</summary>
    public double ValidationFraction { get; set; }

    /// <summary>Stop after this many epochs without validation improvement (0 = run all epochs); the best epoch's weights are kept.</summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>Seed; null takes one from the MLContext (deterministic when the MLContext has a seed).</summary>
    public int? Seed { get; set; }

    /// <summary>Called after every epoch (also logged to mlContext.Log).</summary>
    public Action<EpochReport>? Progress { get; set; }

    /// <summary>Cancels training between batches; Fit then throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Called after each batch with (epoch, examples done in the epoch, examples per epoch, running loss).</summary>
    public Action<int, int, int, double>? BatchProgress { get; set; }

    /// <summary>
    /// Null (default): the training rows are read into memory once. A number: the training view is streamed — read with
    /// a new cursor each epoch, this many rows in memory at a time, each buffer shuffled on its own — so a data set larger
    /// than memory can be used (vocabulary and label counts come from one extra pass). A buffer at least as large as the
    /// data set trains exactly as the in-memory path. <see cref="ValidationFraction"/> is not available when streaming.
    /// </summary>
    public int? ShuffleBufferSize { get; set; }

    /// <summary>Checkpoint file: training resumes from it when it exists and rewrites it as it goes (see docs/long-runs.md). Null: none.</summary>
    public string? CheckpointPath { get; set; }

    /// <summary>Training time between checkpoints (also written after each epoch and when cancelled).</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);

    internal void Validate()
    {
        if (string.IsNullOrEmpty(LabelColumnName)) throw new ArgumentException("LabelColumnName must be set.", nameof(LabelColumnName));
        if (string.IsNullOrEmpty(TextColumnName)) throw new ArgumentException("TextColumnName must be set.", nameof(TextColumnName));
        if (MaximumVocabularySize < 2) throw new ArgumentException($"MaximumVocabularySize must be at least 2; got {MaximumVocabularySize}.", nameof(MaximumVocabularySize));
        if (MaximumLength < 1) throw new ArgumentException($"MaximumLength must be at least 1; got {MaximumLength}.", nameof(MaximumLength));
        if (!(ValidationFraction >= 0 && ValidationFraction < 1)) throw new ArgumentException($"ValidationFraction must be in [0, 1); got {ValidationFraction}.", nameof(ValidationFraction));
        FitOptions().Validate();
    }

    internal FitOptions FitOptions() => new()
    {
        Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, Optimizer = Optimizer, WeightDecay = WeightDecay,
        ClipNorm = ClipNorm, EarlyStoppingPatience = EarlyStoppingPatience, Cancellation = CancellationToken,
        BatchProgress = BatchProgress, CheckpointPath = CheckpointPath, CheckpointInterval = CheckpointInterval, ShuffleBufferSize = ShuffleBufferSize ?? 65_536,
    };
}
