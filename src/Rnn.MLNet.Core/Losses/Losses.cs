using System;
using System.Numerics;
using System.Numerics.Tensors;

namespace Rnn.MLNet.Losses;

// Every loss returns the mean over the rows (or elements) it counts and writes dL/d(outputs) into a buffer of the
// outputs' shape, so SequenceNetwork.Backward can take it directly. Rows that are not counted (padding, ignored
// targets) get a zero gradient.

/// <summary>Softmax cross-entropy over logits [N, C] with integer targets, as PyTorch's <c>F.cross_entropy</c>.</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>Target value meaning "skip this row" (padding), like PyTorch's ignore_index.</summary>
    public const int IgnoreIndex = -1;

    /// <summary>
    /// Loss = Σ_n w[y_n]·(−log softmax(z_n)[y_n]) / Σ_n w[y_n] over rows whose target is not <see cref="IgnoreIndex"/>;
    /// w is <paramref name="classWeights"/> or all ones. Gradient: dz_n = w[y_n]·(softmax(z_n) − onehot(y_n)) / Σ w.
    /// </summary>
    public static T Compute<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes, Span<T> dLogits, ReadOnlySpan<T> classWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = targets.Length;
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "At least one class is needed.");
        if (logits.Length != n * classes) throw new ArgumentException($"Logits have {logits.Length} values; expected rows × classes = {n} × {classes}.", nameof(logits));
        if (!dLogits.IsEmpty && dLogits.Length != logits.Length) throw new ArgumentException("dLogits must have the shape of logits.", nameof(dLogits));
        if (!classWeights.IsEmpty && classWeights.Length != classes) throw new ArgumentException($"classWeights has {classWeights.Length} entries; expected {classes}.", nameof(classWeights));
        // One pass per row: p = exp(z − max) (vectorized) kept in dLogits, loss = log Σp + max − z_y; then one scaling pass
        // turns p into the gradient w·(softmax − onehot)/Σw once Σw is known.
        T total = T.Zero, weightSum = T.Zero;
        for (int r = 0; r < n; r++)
        {
            int y = targets[r];
            if (y == IgnoreIndex) continue;
            if ((uint)y >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(targets), y, $"Target {y} in row {r} is outside [0, {classes}).");
            weightSum += classWeights.IsEmpty ? T.One : classWeights[y];
        }
        T[]? rented = null;
        for (int r = 0; r < n; r++)
        {
            int y = targets[r];
            if (y == IgnoreIndex)
            {
                if (!dLogits.IsEmpty) dLogits.Slice(r * classes, classes).Clear();
                continue;
            }
            T w = classWeights.IsEmpty ? T.One : classWeights[y];
            ReadOnlySpan<T> z = logits.Slice(r * classes, classes);
            Span<T> p = !dLogits.IsEmpty ? dLogits.Slice(r * classes, classes) : (rented ??= new T[classes]);
            T max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, p);
            TensorPrimitives.Exp<T>(p, p);
            T sum = TensorPrimitives.Sum<T>(p);
            total += w * (T.Log(sum) + max - z[y]);
            if (!dLogits.IsEmpty)
            {
                T scale = w / weightSum;
                TensorPrimitives.Multiply<T>(p, scale / sum, p);
                p[y] -= scale;
            }
        }
        return weightSum > T.Zero ? total / weightSum : T.Zero;
    }

    /// <summary>Numerically stable softmax of one row.</summary>
    public static void Softmax<T>(ReadOnlySpan<T> z, Span<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(z);
        TensorPrimitives.Subtract(z, max, p);
        TensorPrimitives.Exp<T>(p, p);
        TensorPrimitives.Multiply<T>(p, T.One / TensorPrimitives.Sum<T>(p), p);
    }
}

/// <summary>Sigmoid binary cross-entropy on logits, as PyTorch's <c>F.binary_cross_entropy_with_logits</c> with pos_weight.</summary>
public static class SigmoidBinaryCrossEntropy
{
    /// <summary>
    /// Loss = mean over counted elements of −[p·y·log σ(z) + (1 − y)·log(1 − σ(z))], p = <paramref name="positiveWeight"/>
    /// (up-weights the positive class: spam data is imbalanced). Gradient: dz = ((1 − y)·σ(z) − p·y·(1 − σ(z))) / N.
    /// <paramref name="rowMask"/>, when given, counts element i only where it is non-zero.
    /// </summary>
    public static T Compute<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> dLogits, T positiveWeight, ReadOnlySpan<byte> rowMask = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (targets.Length != logits.Length) throw new ArgumentException($"Targets have {targets.Length} values; logits have {logits.Length}.", nameof(targets));
        if (!dLogits.IsEmpty && dLogits.Length != logits.Length) throw new ArgumentException("dLogits must have the shape of logits.", nameof(dLogits));
        int count = 0;
        T total = T.Zero;
        for (int i = 0; i < logits.Length; i++)
        {
            if (!rowMask.IsEmpty && rowMask[i] == 0) continue;
            T y = targets[i], z = logits[i];
            if (!(y >= T.Zero && y <= T.One)) throw new ArgumentOutOfRangeException(nameof(targets), y, $"Target {y} at {i} is outside [0, 1].");
            // log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z)
            total += positiveWeight * y * Softplus(-z) + (T.One - y) * Softplus(z);
            count++;
        }
        if (!dLogits.IsEmpty)
        {
            dLogits.Clear();
            T inv = count > 0 ? T.One / T.CreateChecked(count) : T.Zero;
            for (int i = 0; i < logits.Length; i++)
            {
                if (!rowMask.IsEmpty && rowMask[i] == 0) continue;
                T s = Sigmoid(logits[i]), y = targets[i];
                dLogits[i] = ((T.One - y) * s - positiveWeight * y * (T.One - s)) * inv;
            }
        }
        return count > 0 ? total / T.CreateChecked(count) : T.Zero;
    }

    /// <summary>log(1 + eᶻ) without overflow.</summary>
    public static T Softplus<T>(T z) where T : IFloatingPointIeee754<T> =>
        z > T.Zero ? z + T.Log(T.One + T.Exp(-z)) : T.Log(T.One + T.Exp(z));

    /// <summary>σ(z) = 1 / (1 + e⁻ᶻ), stable for large |z|.</summary>
    public static T Sigmoid<T>(T z) where T : IFloatingPointIeee754<T> =>
        z >= T.Zero ? T.One / (T.One + T.Exp(-z)) : T.Exp(z) / (T.One + T.Exp(z));
}

/// <summary>Mean squared error, as PyTorch's <c>F.mse_loss</c>.</summary>
public static class MeanSquaredError
{
    /// <summary>Loss = mean (ŷ − y)² over counted elements; gradient 2(ŷ − y)/N. <paramref name="rowMask"/> as in <see cref="SigmoidBinaryCrossEntropy"/>.</summary>
    public static T Compute<T>(ReadOnlySpan<T> predictions, ReadOnlySpan<T> targets, Span<T> dPredictions, ReadOnlySpan<byte> rowMask = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (targets.Length != predictions.Length) throw new ArgumentException($"Targets have {targets.Length} values; predictions have {predictions.Length}.", nameof(targets));
        int count = 0;
        T total = T.Zero;
        for (int i = 0; i < predictions.Length; i++)
        {
            if (!rowMask.IsEmpty && rowMask[i] == 0) continue;
            if (!T.IsFinite(targets[i])) throw new ArgumentException($"Target {i} is {targets[i]}; regression targets must be finite.", nameof(targets));
            T e = predictions[i] - targets[i];
            total += e * e;
            count++;
        }
        if (!dPredictions.IsEmpty)
        {
            dPredictions.Clear();
            T scale = count > 0 ? T.CreateChecked(2) / T.CreateChecked(count) : T.Zero;
            for (int i = 0; i < predictions.Length; i++)
                if (rowMask.IsEmpty || rowMask[i] != 0) dPredictions[i] = scale * (predictions[i] - targets[i]);
        }
        return count > 0 ? total / T.CreateChecked(count) : T.Zero;
    }
}
