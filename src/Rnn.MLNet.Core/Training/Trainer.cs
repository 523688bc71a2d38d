using System;
using System.Collections.Generic;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Training;

/// <summary>The loss a <see cref="Trainer{T}"/> minimizes, which also says how the head's outputs are read.</summary>
public enum LossKind
{
    /// <summary>Softmax over O classes, integer targets (next token, multiclass).</summary>
    SoftmaxCrossEntropy,
    /// <summary>Sigmoid on each output, targets in [0, 1] (binary).</summary>
    SigmoidBinaryCrossEntropy,
    /// <summary>Linear outputs, real targets (regression).</summary>
    MeanSquaredError,
}

/// <summary>Targets for one batch: class ids (per step [B, S] or per sequence [B]) or real values ([B, S, O] or [B, O]).</summary>
public sealed class Targets<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Class ids for <see cref="LossKind.SoftmaxCrossEntropy"/>.</summary>
    public int[]? Classes { get; init; }

    /// <summary>Values for the other losses.</summary>
    public T[]? Values { get; init; }
}

/// <summary>Thrown when training produces a non-finite loss or gradient; the weights are left as they were before that step.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Optimizer step (1-based) that diverged.</summary>
    public long Step { get; }

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(long step, string message) : base(message) => Step = step;

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException() : base("Training diverged.") { }

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// One training step = forward → loss → backward through time → clip by global norm → optimizer update, with the buffers
/// reused from step to step. Truncated BPTT: pass a <see cref="RecurrentState{T}"/> as <c>carry</c>; it starts the batch
/// and receives its final state (detached: no gradient flows into the previous chunk).
/// </summary>
public sealed class Trainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[] _dOutput = Array.Empty<T>();
    private int[] _classes = Array.Empty<int>();
    private byte[] _mask = Array.Empty<byte>();

    /// <summary>The network being trained.</summary>
    public SequenceNetwork<T> Network { get; }
    /// <summary>The optimizer.</summary>
    public Optimizer<T> Optimizer { get; }
    /// <summary>The loss.</summary>
    public LossKind Loss { get; }
    /// <summary>Global-norm clip (≤ 0 disables).</summary>
    public double ClipNorm { get; set; } = 5.0;
    /// <summary>Per-class weights for softmax cross-entropy (empty = equal).</summary>
    public T[] ClassWeights { get; set; } = Array.Empty<T>();
    /// <summary>pos_weight for sigmoid cross-entropy.</summary>
    public T PositiveWeight { get; set; } = T.One;
    /// <summary>Gradient norm before clipping, from the last step.</summary>
    public double LastGradientNorm { get; private set; }

    /// <summary>Creates a trainer.</summary>
    public Trainer(SequenceNetwork<T> network, Optimizer<T> optimizer, LossKind loss)
    {
        Network = network ?? throw new ArgumentNullException(nameof(network));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        if (!Enum.IsDefined(loss)) throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown loss.");
        Loss = loss;
    }

    /// <summary>Trains on one batch and returns its loss (before the update).</summary>
    /// <exception cref="TrainingDivergedException">The loss or the gradient norm is not finite; no update was applied.</exception>
    public double TrainStep(SequenceBatch<T> batch, Targets<T> targets, RecurrentState<T>? carry = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(targets);
        double loss = ForwardForTraining(batch, targets, carry, out Span<T> dOut);
        Network.Parameters.ZeroGradients();
        Network.Backward(dOut);
        LastGradientNorm = ClipAndStep(Network.Parameters, Optimizer, ClipNorm);
        return loss;
    }

    /// <summary>
    /// One training step over a batch given in parts, each its own forward and backward pass (so the activation and
    /// backpropagation buffers are sized for the largest part, not the batch): part i's loss gradient is weighted by
    /// w_i / Σw, w_i its share of the loss's normalizer (<see cref="LossWeight"/>), so the summed gradients, the clipping and
    /// the update are those of <see cref="TrainStep(SequenceBatch{T}, Targets{T}, RecurrentState{T})"/> on the whole batch
    /// (each part draws its own dropout masks). Returns the batch's loss. One part is exactly that single-pass step.
    /// </summary>
    /// <exception cref="TrainingDivergedException">A part's loss or the gradient norm is not finite; no update was applied.</exception>
    public double TrainStep(IReadOnlyList<(SequenceBatch<T> Batch, Targets<T> Targets)> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("A training step needs at least one part.", nameof(parts));
        if (parts.Count == 1) return TrainStep(parts[0].Batch, parts[0].Targets);
        var weights = new double[parts.Count];
        double total = 0;
        for (int i = 0; i < parts.Count; i++) total += weights[i] = LossWeight(parts[i].Batch, parts[i].Targets);
        Network.Parameters.ZeroGradients();
        double loss = 0;
        for (int i = 0; i < parts.Count; i++)
        {
            if (weights[i] == 0) continue; // nothing counted (zero class weights): no loss, no gradient
            double partLoss = ForwardForTraining(parts[i].Batch, parts[i].Targets, null, out Span<T> dOut);
            double share = weights[i] / total;
            TensorPrimitives.Multiply(dOut, T.CreateChecked(share), dOut);
            Network.Backward(dOut);
            loss += partLoss * share;
        }
        LastGradientNorm = ClipAndStep(Network.Parameters, Optimizer, ClipNorm);
        return loss;
    }

    /// <summary>
    /// A training forward pass and its loss, with dL/d(output) in <paramref name="dOut"/> (the trainer's buffer, valid until
    /// the next pass); <paramref name="carry"/>, when given, is the initial state and receives the final one.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss is not finite.</exception>
    private double ForwardForTraining(SequenceBatch<T> batch, Targets<T> targets, RecurrentState<T>? carry, out Span<T> dOut)
    {
        Network.Forward(batch, training: true, initialState: carry);
        if (carry is not null) Network.CopyFinalState(carry);
        int n = Network.Output.Length;
        if (_dOutput.Length < n) _dOutput = new T[n];
        dOut = _dOutput.AsSpan(0, n);
        double loss = double.CreateChecked(ComputeLoss(batch, targets, dOut));
        ThrowIfDiverged(loss, Optimizer, ClipNorm);
        return loss;
    }

    /// <summary>
    /// The normalizer the loss divides by for this batch (without running the network): softmax cross-entropy, the sum of
    /// the class weights of the counted targets (their count without class weights); the other losses, the number of
    /// counted output values. A batch's loss is Σ_parts loss_i · w_i / Σ w_i over any split of its sequences.
    /// </summary>
    internal double LossWeight(SequenceBatch<T> batch, Targets<T> targets)
    {
        bool perStep = Network.Options.Output == OutputMode.PerStep;
        int o = Network.Options.OutputSize;
        long rows = 0;
        double weights = 0;
        int[]? classes = Loss == LossKind.SoftmaxCrossEntropy
            ? targets.Classes ?? throw new ArgumentException("Softmax cross-entropy needs class targets (Targets.Classes).", nameof(targets))
            : null;
        for (int b = 0; b < batch.Batch; b++)
            for (int t = 0; t < (perStep ? batch.Lengths[b] : 1); t++)
            {
                int y = classes is null ? 0 : classes[perStep ? b * batch.Steps + t : b];
                if (y == SoftmaxCrossEntropy.IgnoreIndex) continue;
                if (classes is not null && (uint)y >= (uint)o) throw new ArgumentOutOfRangeException(nameof(targets), y, $"Target {y} of sequence {b} is outside [0, {o}).");
                rows++;
                if (classes is not null && ClassWeights.Length > 0) weights += double.CreateChecked(ClassWeights[y]);
            }
        return classes is null ? rows * (double)o : ClassWeights.Length > 0 ? weights : rows;
    }

    /// <summary>Before backward: a non-finite loss stops training (no update is applied).</summary>
    /// <exception cref="TrainingDivergedException">The loss is not finite.</exception>
    internal static void ThrowIfDiverged(double loss, Optimizer<T> optimizer, double clipNorm)
    {
        long step = optimizer.StepCount + 1;
        if (!double.IsFinite(loss))
            throw new TrainingDivergedException(step, $"The training loss became {loss} at step {step}. Lower the learning rate (now {optimizer.LearningRate:g4}), enable gradient clipping (now {clipNorm}), or check the inputs and targets for extreme values.");
    }

    /// <summary>After backward: clip the gradients by global norm and take the optimizer step; returns the norm before clipping.</summary>
    /// <exception cref="TrainingDivergedException">The gradient norm is not finite; no update is applied.</exception>
    internal static double ClipAndStep(ParameterStore<T> parameters, Optimizer<T> optimizer, double clipNorm)
    {
        double norm = GradientClipping.ClipByGlobalNorm(parameters, clipNorm);
        long step = optimizer.StepCount + 1;
        if (!double.IsFinite(norm))
            throw new TrainingDivergedException(step, $"The gradient norm became {norm} at step {step}. Lower the learning rate (now {optimizer.LearningRate:g4}) or the clip norm (now {clipNorm}).");
        optimizer.Step(parameters);
        return norm;
    }

    /// <summary>The loss of a batch without training (dropout off). Writes nothing into the gradients.</summary>
    public double Evaluate(SequenceBatch<T> batch, Targets<T> targets, RecurrentState<T>? carry = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(targets);
        Network.Forward(batch, training: false, initialState: carry);
        if (carry is not null) Network.CopyFinalState(carry);
        return double.CreateChecked(ComputeLoss(batch, targets, default));
    }

    /// <summary>Loss of the network's last output against the targets; fills <paramref name="dOut"/> when not empty.</summary>
    public T ComputeLoss(SequenceBatch<T> batch, Targets<T> targets, Span<T> dOut)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(targets);
        bool perStep = Network.Options.Output == OutputMode.PerStep;
        int o = Network.Options.OutputSize, rows = Network.OutputRows;
        ReadOnlySpan<T> output = Network.Output;
        switch (Loss)
        {
            case LossKind.SoftmaxCrossEntropy:
            {
                int[] classes = targets.Classes ?? throw new ArgumentException("Softmax cross-entropy needs class targets (Targets.Classes).", nameof(targets));
                if (classes.Length != rows) throw new ArgumentException($"There are {classes.Length} class targets; the output has {rows} rows ({(perStep ? "batch × steps" : "batch")}).", nameof(targets));
                ReadOnlySpan<int> y = classes;
                if (perStep)
                {
                    if (_classes.Length < rows) _classes = new int[rows];
                    for (int b = 0; b < batch.Batch; b++)
                        for (int t = 0; t < batch.Steps; t++)
                            _classes[b * batch.Steps + t] = batch.IsValid(b, t) ? classes[b * batch.Steps + t] : SoftmaxCrossEntropy.IgnoreIndex;
                    y = _classes.AsSpan(0, rows);
                }
                return SoftmaxCrossEntropy.Compute(output, y, o, dOut, ClassWeights);
            }
            default:
            {
                T[] values = targets.Values ?? throw new ArgumentException($"{Loss} needs real-valued targets (Targets.Values).", nameof(targets));
                if (values.Length != rows * o) throw new ArgumentException($"There are {values.Length} target values; the output has {rows} rows × {o} outputs.", nameof(targets));
                ReadOnlySpan<byte> mask = default;
                if (perStep)
                {
                    if (_mask.Length < rows * o) _mask = new byte[rows * o];
                    for (int b = 0; b < batch.Batch; b++)
                        for (int t = 0; t < batch.Steps; t++)
                            _mask.AsSpan((b * batch.Steps + t) * o, o).Fill(batch.IsValid(b, t) ? (byte)1 : (byte)0);
                    mask = _mask.AsSpan(0, rows * o);
                }
                return Loss == LossKind.MeanSquaredError
                    ? MeanSquaredError.Compute(output, values, dOut, mask)
                    : SigmoidBinaryCrossEntropy.Compute(output, values, dOut, PositiveWeight, mask);
            }
        }
    }
}
