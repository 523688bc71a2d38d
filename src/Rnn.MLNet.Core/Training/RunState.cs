using System;
using System.Diagnostics;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Training;

/// <summary>
/// What the training loops share: the result, the best weights, the clock (which continues across resumes), stopping,
/// end-of-epoch bookkeeping, and taking and restoring checkpoints.
/// </summary>
internal sealed class RunState
{
    private readonly FitOptions _options;
    private readonly ParameterStore<float> _store;
    private readonly Optimizer<float> _optimizer;
    private readonly Rng _dropout;
    private readonly Func<ModelFile> _model;
    private readonly string _fingerprint;
    private readonly CheckpointKeeper _keeper;
    private readonly SequenceFitter.BestWeights _best = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _before;
    private (int Epoch, long Chunk, int Batch, long Steps) _lastWritten = (-1, -1, -1, -1);

    public RunState(FitOptions options, ParameterStore<float> store, Optimizer<float> optimizer, Rng dropout, Func<ModelFile> model, string fingerprint)
    {
        _options = options; _store = store; _optimizer = optimizer; _dropout = dropout; _model = model; _fingerprint = fingerprint;
        _keeper = new CheckpointKeeper(options);
    }

    public FitResult Result { get; } = new();

    /// <summary>True when a resumed checkpoint says the run had already ended by early stopping.</summary>
    public bool Finished { get; private set; }

    /// <summary>Training time, checkpointed runs included.</summary>
    public TimeSpan Elapsed => _before + _clock.Elapsed;

    public bool Enabled => _keeper.Enabled;

    public bool Due => _keeper.Due;

    public bool ShouldStop => _options.Cancellation.IsCancellationRequested || (_options.TimeLimit is TimeSpan limit && Elapsed > limit);

    /// <summary>Loads the checkpoint, if any, into the weights, optimizer, schedule, generators and result; returns it for the position.</summary>
    public TrainingCheckpoint? Resume(Rng shuffle)
    {
        var c = _keeper.Resume(_fingerprint, Result);
        if (c is null) return null;
        if (c.Model.Weights.Length != _store.Count)
            throw new ArgumentException($"The checkpoint '{_options.CheckpointPath}' holds {c.Model.Weights.Length} weights; this model has {_store.Count}.");
        c.Model.Weights.CopyTo(_store.Buffer, 0);
        _store.MarkChanged();
        _optimizer.RestoreState(c.Optimizer, _store.Count);
        if (_options.Schedule is IStatefulSchedule s) s.RestoreState(c.Schedule);
        shuffle.Restore(c.ShuffleRng);
        _dropout.Restore(c.DropoutRng);
        _best.Weights = c.BestWeights.Length > 0 ? c.BestWeights : null;
        _best.Loss = c.BestLoss; _best.SinceBest = c.SinceBest;
        Result.BestEpoch = c.BestEpoch; Result.BestValidationLoss = c.BestValidationLoss;
        Result.History.AddRange(c.History);
        _before = c.Elapsed;
        Finished = c.Finished;
        return c;
    }

    public static void RestoreCarried(TrainingCheckpoint c, RecurrentState<float> state)
    {
        if (c.CarriedHidden.Length != state.Hidden.Length || c.CarriedCell.Length != state.Cell.Length)
            throw new ArgumentException($"The checkpoint's carried state has {c.CarriedHidden.Length}/{c.CarriedCell.Length} values; this run's has {state.Hidden.Length}/{state.Cell.Length}.");
        c.CarriedHidden.CopyTo(state.Hidden, 0);
        c.CarriedCell.CopyTo(state.Cell, 0);
    }

    /// <summary>Writes a checkpoint at a position: the next batch to train is <paramref name="batch"/> of chunk <paramref name="chunk"/> of <paramref name="epoch"/>.</summary>
    public void Checkpoint(int epoch, long chunk, int batch, ulong[] chunkRng, int[] chunkOrder, double sum, long tokens, long examples,
        RecurrentState<float>? carried = null, bool finished = false)
    {
        if (!_keeper.Enabled) return;
        // A stop right after a checkpoint would write the same state again and push the previous good one out.
        var position = (epoch, chunk, batch, _optimizer.StepCount);
        if (position == _lastWritten && !finished) return;
        _lastWritten = position;
        var c = new TrainingCheckpoint
        {
            Fingerprint = _fingerprint, Finished = finished, Model = _model(), Optimizer = _optimizer.SaveState(),
            Schedule = _options.Schedule is IStatefulSchedule s ? s.SaveState() : Array.Empty<double>(),
            ShuffleRng = chunkRng, DropoutRng = _dropout.SaveState(),
            Epoch = epoch, Chunk = chunk, Batch = batch, Order = chunkOrder, LossSum = sum, Tokens = tokens, Examples = examples,
            CarriedHidden = carried is null ? Array.Empty<float>() : (float[])carried.Hidden.Clone(),
            CarriedCell = carried is null ? Array.Empty<float>() : (float[])carried.Cell.Clone(),
            Elapsed = Elapsed, BestWeights = _best.Weights ?? Array.Empty<float>(), BestLoss = _best.Loss, SinceBest = _best.SinceBest,
            BestEpoch = Result.BestEpoch, BestValidationLoss = Result.BestValidationLoss,
        };
        c.History.AddRange(Result.History);
        _keeper.Write(c);
    }

    /// <summary>
    /// End of an epoch: report, best weights, early stopping, schedule (<see cref="SequenceFitter.EndEpoch"/>), then a
    /// checkpoint at the start of the next epoch unless the run was stopped mid-epoch (its checkpoint is already written).
    /// Returns true when training should stop.
    /// </summary>
    public bool EndEpoch(EpochReport report, Rng shuffle, int[] order)
    {
        bool stop = SequenceFitter.EndEpoch(_store, _optimizer, _options, Result, _best, report);
        if (!Result.Stopped) Checkpoint(report.Epoch + 1, 0, 0, shuffle.SaveState(), order, 0, 0, 0, finished: stop);
        return stop;
    }

    /// <summary>Puts the best weights (or the last) into the network and returns the result.</summary>
    public FitResult Finish()
    {
        _best.Restore(_store);
        return Result;
    }
}
