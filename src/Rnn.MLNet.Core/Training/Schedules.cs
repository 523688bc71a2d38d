using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Training;

/// <summary>Gradient clipping by global norm, as PyTorch's <c>clip_grad_norm_</c>.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients by min(1, maxNorm / ‖g‖₂) and returns ‖g‖₂ before clipping. A non-finite norm is returned
    /// unchanged and nothing is scaled (the trainer reports divergence).
    /// </summary>
    public static double ClipByGlobalNorm<T>(ParameterStore<T> store, double maxNorm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(store);
        double norm = double.CreateChecked(T.Sqrt(ParallelOps.SumOfSquares(store.Gradients)));
        // As PyTorch: scale by min(1, maxNorm / (‖g‖ + 1e-6)).
        if (maxNorm > 0 && double.IsFinite(norm) && maxNorm / (norm + 1e-6) < 1)
            ParallelOps.Scale(store.Gradients, T.CreateChecked(maxNorm / (norm + 1e-6)));
        return norm;
    }
}

/// <summary>A learning-rate schedule, told the epoch number and validation metric after each epoch.</summary>
public interface ILearningRateSchedule
{
    /// <summary>Returns the learning rate for the next epoch, told the 1-based epoch just finished.</summary>
    double NextRate(int epoch, double currentRate, double validationLoss);
}

/// <summary>
/// A schedule that remembers something between epochs (a best loss, a counter). Checkpoints save and restore it, so a
/// resumed run takes the same decisions; a schedule without this interface must be a function of its arguments alone.
/// </summary>
public interface IStatefulSchedule : ILearningRateSchedule
{
    /// <summary>The schedule's state as numbers.</summary>
    double[] SaveState();

    /// <summary>Continues from a state returned by <see cref="SaveState"/>.</summary>
    void RestoreState(ReadOnlySpan<double> state);
}

/// <summary>Multiplies the rate by <see cref="Gamma"/> every <see cref="StepSize"/> epochs (PyTorch StepLR).</summary>
public sealed class StepDecaySchedule : ILearningRateSchedule
{
    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }
    /// <summary>Decay factor.</summary>
    public double Gamma { get; }

    /// <summary>Creates the schedule.</summary>
    public StepDecaySchedule(int stepSize, double gamma)
    {
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "Step size must be at least 1 epoch.");
        StepSize = stepSize; Gamma = gamma;
    }

    /// <inheritdoc />
    public double NextRate(int epoch, double currentRate, double validationLoss) => epoch % StepSize == 0 ? currentRate * Gamma : currentRate;
}

/// <summary>
/// "Divide when validation stalls" (Zaremba et al.; PyTorch ReduceLROnPlateau): when the validation loss has not improved
/// by more than <see cref="Threshold"/> (relative) for <see cref="Patience"/> epochs, multiply the rate by <see cref="Factor"/>.
/// </summary>
public sealed class ReduceOnPlateauSchedule : IStatefulSchedule
{
    private double _best = double.PositiveInfinity;
    private int _bad;
    /// <summary>Multiplier applied on a plateau.</summary>
    public double Factor { get; }
    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; }
    /// <summary>Relative improvement that counts.</summary>
    public double Threshold { get; }
    /// <summary>Lower bound for the rate.</summary>
    public double MinRate { get; }

    /// <summary>Creates the schedule.</summary>
    public ReduceOnPlateauSchedule(double factor = 0.25, int patience = 0, double threshold = 1e-4, double minRate = 0)
    {
        if (!(factor > 0 && factor < 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "Factor must be in (0, 1).");
        Factor = factor; Patience = patience; Threshold = threshold; MinRate = minRate;
    }

    /// <inheritdoc />
    public double[] SaveState() => new[] { _best, _bad };

    /// <inheritdoc />
    public void RestoreState(ReadOnlySpan<double> state)
    {
        if (state.Length != 2) throw new ArgumentException($"A {nameof(ReduceOnPlateauSchedule)} state is 2 numbers; got {state.Length}.", nameof(state));
        _best = state[0]; _bad = (int)state[1];
    }

    /// <inheritdoc />
    public double NextRate(int epoch, double currentRate, double validationLoss)
    {
        if (validationLoss < _best * (1 - Threshold)) { _best = validationLoss; _bad = 0; return currentRate; }
        if (++_bad > Patience)
        {
            _bad = 0;
            double next = System.Math.Max(MinRate, currentRate * Factor);
            return currentRate - next > 1e-8 ? next : currentRate; // PyTorch ignores reductions smaller than eps = 1e-8
        }
        return currentRate;
    }
}
