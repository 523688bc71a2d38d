using System;
using System.Threading;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Training;

namespace Rnn.MLNet;

/// <summary>
/// The training settings every Rnn.MLNet component shares: the recurrent stack, the optimizer and the run (epochs, batches,
/// validation, early stopping, seed, progress, cancellation). Each component's options class derives from it, adds its
/// columns and own settings, and sets its own defaults (listed on that class).
/// </summary>
public abstract class RnnTrainerOptions
{
    /// <summary>Recurrent cell.</summary>
    public CellType Cell { get; set; } = CellType.Lstm;

    /// <summary>Stacked recurrent layers.</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Hidden size (per direction for bidirectional layers).</summary>
    public int HiddenSize { get; set; } = 64;

    /// <summary>Dropout between stacked layers (0 = none).</summary>
    public float Dropout { get; set; }

    /// <summary>Training epochs.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Examples (or, for a language model, parallel stream columns) per batch.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; set; } = 3e-3;

    /// <summary>Optimizer.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;

    /// <summary>Weight decay (L2; AdamW: decoupled).</summary>
    public double WeightDecay { get; set; }

    /// <summary>Global gradient-norm clip (0 disables).</summary>
    public double ClipNorm { get; set; } = 5;

    /// <summary>Fraction of the training rows held out for validation when no validation set is given (0 = none).</summary>
    public double ValidationFraction { get; set; }

    /// <summary>Stop after this many epochs without validation improvement (0 = run all epochs); the best epoch's weights are kept.</summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>Learning-rate schedule applied after every epoch (null = constant), e.g. <see cref="ReduceOnPlateauSchedule"/>.</summary>
    public ILearningRateSchedule? Schedule { get; set; }

    /// <summary>Stop training after this long (null = no limit); the weights reached so far are kept.</summary>
    public TimeSpan? TimeLimit { get; set; }

    /// <summary>Seed; null takes one from the MLContext (deterministic when the MLContext has a seed).</summary>
    public int? Seed { get; set; }

    /// <summary>Called after every epoch (also logged to <c>mlContext.Log</c>).</summary>
    public Action<EpochReport>? Progress { get; set; }

    /// <summary>Called after every batch with (epoch, done, total, running loss), e.g. for a progress bar.</summary>
    public Action<int, int, int, double>? BatchProgress { get; set; }

    /// <summary>Cancels training between batches; Fit then throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// Checkpoint file (null = none): when it exists, Fit resumes from it; it is rewritten every
    /// <see cref="CheckpointInterval"/>, after each epoch, when training is cancelled or times out, and at the end, keeping
    /// the previous good one beside it (docs/long-runs.md). A resumed run ends with the weights of an uninterrupted one.
    /// </summary>
    public string? CheckpointPath { get; set; }

    /// <summary>Training time between checkpoints (<see cref="TimeSpan.Zero"/>: after every batch).</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Checks the shared settings; components add their own checks.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    internal virtual void Validate()
    {
        if (!Enum.IsDefined(Cell)) throw new ArgumentException($"Unknown cell {(int)Cell}.", nameof(Cell));
        if (Layers < 1) throw new ArgumentException($"Layers must be at least 1; got {Layers}.", nameof(Layers));
        if (HiddenSize < 1) throw new ArgumentException($"HiddenSize must be at least 1; got {HiddenSize}.", nameof(HiddenSize));
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1); got {Dropout}.", nameof(Dropout));
        if (!(ValidationFraction >= 0 && ValidationFraction < 1)) throw new ArgumentException($"ValidationFraction must be in [0, 1); got {ValidationFraction}.", nameof(ValidationFraction));
        FitOptions(0).Validate();
    }

    /// <summary>The core fitter's settings for these options.</summary>
    internal FitOptions FitOptions(ulong seed, Action<EpochReport>? progress = null) => new()
    {
        Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, Optimizer = Optimizer, WeightDecay = WeightDecay,
        ClipNorm = ClipNorm, EarlyStoppingPatience = EarlyStoppingPatience, TimeLimit = TimeLimit, Cancellation = CancellationToken,
        BatchProgress = BatchProgress, Seed = seed, Progress = progress ?? Progress, Schedule = Schedule,
        CheckpointPath = CheckpointPath, CheckpointInterval = CheckpointInterval,
    };

    /// <summary>
    /// Remembers the state a stateful <see cref="Schedule"/> has now and returns the action that puts it back, so every
    /// ensemble member (and every training stage of one) starts the schedule afresh instead of inheriting its plateau state.
    /// </summary>
    internal Action ScheduleRestart()
    {
        if (Schedule is not IStatefulSchedule stateful) return () => { };
        double[] start = stateful.SaveState();
        return () => stateful.RestoreState(start);
    }

    /// <summary>The seed: <see cref="Seed"/>, else the next one of the MLContext.</summary>
    internal ulong ResolveSeed(Infrastructure.TrainingLog log) => Seed is int s ? (ulong)s : log.NextSeed();
}
