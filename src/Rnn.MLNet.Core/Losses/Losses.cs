using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;

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
    /// Loss = Σ_n w[y_n]·(−Σ_c q_n,c log softmax(z_n)_c) / Σ_n w[y_n] over rows whose target is not <see cref="IgnoreIndex"/>;
    /// w is <paramref name="classWeights"/> or all ones; q_n = (1 − ε)·onehot(y_n) + ε/C with ε = <paramref name="labelSmoothing"/>
    /// (0: plain cross-entropy; PyTorch's <c>label_smoothing</c> when unweighted). Gradient: dz_n = w[y_n]·(softmax(z_n) − q_n) / Σ w.
    /// </summary>
    public static T Compute<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes, Span<T> dLogits, ReadOnlySpan<T> classWeights = default,
        double labelSmoothing = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = targets.Length;
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "At least one class is needed.");
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must be in [0, 1).");
        if (logits.Length != n * classes) throw new ArgumentException($"Logits have {logits.Length} values; expected rows × classes = {n} × {classes}.", nameof(logits));
        if (!dLogits.IsEmpty && dLogits.Length != logits.Length) throw new ArgumentException("dLogits must have the shape of logits.", nameof(dLogits));
        if (!classWeights.IsEmpty && classWeights.Length != classes) throw new ArgumentException($"classWeights has {classWeights.Length} entries; expected {classes}.", nameof(classWeights));
        // Σw first (it scales every row's gradient), then one pass per row (Rows).
        T weightSum = T.Zero;
        for (int r = 0; r < n; r++)
        {
            int y = targets[r];
            if (y == IgnoreIndex) continue;
            if ((uint)y >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(targets), y, $"Target {y} in row {r} is outside [0, {classes}).");
            weightSum += classWeights.IsEmpty ? T.One : classWeights[y];
        }
        // Row losses are kept apart and summed in row order afterwards, so splitting the rows between threads (large
        // vocabularies: a 700 × 10,000 head is 7M exponentials) gives the same total as one thread.
        T[] rowLoss = RowLossBuffer<T>.Get(n);
        T eps = T.CreateChecked(labelSmoothing);
        if (!dLogits.IsEmpty && n >= 2 && (long)n * classes >= RangeJob.Grain && Parallelism.MaxThreads > 1)
            RowsJob<T>.Current.Start(logits, targets, classes, dLogits, classWeights, weightSum, eps, rowLoss, n);
        else
            Rows(logits, targets, classes, dLogits, classWeights, weightSum, eps, rowLoss, 0, n);
        T total = T.Zero;
        for (int r = 0; r < n; r++) total += rowLoss[r];
        return weightSum > T.Zero ? total / weightSum : T.Zero;
    }

    // Rows [r0, r1): p = exp(z − max) (vectorized) kept in dLogits, loss = w·(log Σp + max − (1 − ε) z_y − ε/C Σ_c z_c)
    // (−Σ_c q_c log softmax_c, as Σ_c q_c = 1); then p becomes the gradient w·(softmax − q)/Σw.
    private static void Rows<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes, Span<T> dLogits, ReadOnlySpan<T> classWeights,
        T weightSum, T eps, Span<T> rowLoss, int r0, int r1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[]? scratch = null;
        for (int r = r0; r < r1; r++)
        {
            int y = targets[r];
            if (y == IgnoreIndex)
            {
                if (!dLogits.IsEmpty) dLogits.Slice(r * classes, classes).Clear();
                rowLoss[r] = T.Zero;
                continue;
            }
            T w = classWeights.IsEmpty ? T.One : classWeights[y];
            ReadOnlySpan<T> z = logits.Slice(r * classes, classes);
            Span<T> p = !dLogits.IsEmpty ? dLogits.Slice(r * classes, classes) : (scratch ??= new T[classes]);
            T max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, p);
            TensorPrimitives.Exp<T>(p, p);
            T sum = TensorPrimitives.Sum<T>(p);
            T uniform = eps / T.CreateChecked(classes);
            rowLoss[r] = eps == T.Zero ? w * (T.Log(sum) + max - z[y])
                : w * (T.Log(sum) + max - (T.One - eps) * z[y] - uniform * TensorPrimitives.Sum(z));
            if (!dLogits.IsEmpty)
            {
                T scale = w / weightSum;
                TensorPrimitives.Multiply<T>(p, scale / sum, p);
                p[y] -= scale * (T.One - eps);
                if (eps != T.Zero) TensorPrimitives.Subtract(p, scale * uniform, p);
            }
        }
    }

    private static class RowLossBuffer<T>
    {
        [ThreadStatic] private static T[]? s_buffer;
        public static T[] Get(int n) => s_buffer is { } b && b.Length >= n ? b : s_buffer = new T[System.Math.Max(n, 64)];
    }

    private sealed unsafe class RowsJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static RowsJob<T>? s_current;
        public static RowsJob<T> Current => s_current ??= new RowsJob<T>();
        private T* _logits, _dLogits, _weights;
        private int* _targets;
        private int _n, _classes, _weightCount;
        private T _weightSum, _eps;
        private T[] _rowLoss = Array.Empty<T>();

        public void Start(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes, Span<T> dLogits, ReadOnlySpan<T> classWeights,
            T weightSum, T eps, T[] rowLoss, int n)
        {
            fixed (T* pl = logits, pd = dLogits, pw = classWeights)
            fixed (int* pt = targets)
            {
                _logits = pl; _dLogits = pd; _weights = pw; _targets = pt;
                _n = n; _classes = classes; _weightCount = classWeights.Length; _weightSum = weightSum; _eps = eps; _rowLoss = rowLoss;
                try { WorkerPool.Run(this, System.Math.Min(n, Parallelism.MaxThreads)); }
                finally { _logits = _dLogits = _weights = null; _targets = null; _rowLoss = Array.Empty<T>(); }
            }
        }

        public override void Execute(int part, int parts)
        {
            var (r0, r1) = Share(_n, part, parts);
            Rows(new ReadOnlySpan<T>(_logits, _n * _classes), new ReadOnlySpan<int>(_targets, _n), _classes, new Span<T>(_dLogits, _n * _classes),
                new ReadOnlySpan<T>(_weights, _weightCount), _weightSum, _eps, _rowLoss, r0, r1);
        }
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

/// <summary>
/// Pinball (quantile) loss for several quantile outputs per target, as in quantile regression and MQ-RNN: for a target y
/// and a prediction q of quantile τ, ρ_τ(y − q) = max(τ·(y − q), (τ − 1)·(y − q)). τ = 0.5 gives half the absolute error.
/// </summary>
public static class PinballLoss
{
    /// <summary>
    /// <paramref name="predictions"/> is [N, Q] (row i holds the Q quantile predictions for target i), <paramref name="targets"/>
    /// [N], <paramref name="quantiles"/> [Q]. Loss = mean over the N·Q pairs of ρ_τ(y − q); gradient dq = (1{y &lt; q} − τ) / (N·Q)
    /// (0 exactly at y = q, the subgradient PyTorch's sign-based formulas give).
    /// </summary>
    public static T Compute<T>(ReadOnlySpan<T> predictions, ReadOnlySpan<T> targets, ReadOnlySpan<double> quantiles, Span<T> dPredictions)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int q = quantiles.Length;
        if (q < 1) throw new ArgumentException("At least one quantile is needed.", nameof(quantiles));
        if (predictions.Length != targets.Length * q) throw new ArgumentException($"Predictions have {predictions.Length} values; expected targets × quantiles = {targets.Length} × {q}.", nameof(predictions));
        if (!dPredictions.IsEmpty && dPredictions.Length != predictions.Length) throw new ArgumentException("dPredictions must have the shape of predictions.", nameof(dPredictions));
        foreach (double tau in quantiles)
            if (!(tau > 0 && tau < 1)) throw new ArgumentOutOfRangeException(nameof(quantiles), tau, "Quantiles must be in (0, 1).");
        T total = T.Zero, inv = targets.Length > 0 ? T.One / T.CreateChecked(targets.Length * q) : T.Zero;
        for (int i = 0; i < targets.Length; i++)
            for (int j = 0; j < q; j++)
            {
                T tau = T.CreateChecked(quantiles[j]), e = targets[i] - predictions[i * q + j];
                total += e >= T.Zero ? tau * e : (tau - T.One) * e;
                if (!dPredictions.IsEmpty) dPredictions[i * q + j] = (e < T.Zero ? T.One - tau : e > T.Zero ? -tau : T.Zero) * inv;
            }
        return total * inv;
    }
}
