using System;
using System.Collections.Generic;
using System.Numerics;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Training;

/// <summary>
/// A first-order optimizer over a whole <see cref="ParameterStore{T}"/>: one flat loop over values, gradients and its own
/// state buffers (same layout), PyTorch's update rules. The loop is element-wise, so large models run it in contiguous
/// ranges on several threads (<see cref="Parallelism.MaxThreads"/>) with the same result.
/// </summary>
public abstract class Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Current learning rate (schedules change it between steps).</summary>
    public double LearningRate { get; set; }

    /// <summary>Number of updates applied so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>Creates an optimizer.</summary>
    protected Optimizer(double learningRate)
    {
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a positive finite number.");
        LearningRate = learningRate;
    }

    /// <summary>Applies one update from the gradients in <paramref name="store"/>.</summary>
    public void Step(ParameterStore<T> store)
    {
        ArgumentNullException.ThrowIfNull(store);
        StepCount++;
        BeginStep(store.Count);
        _job ??= new StepJob(this);
        _job.Start(store.Buffer, store.Gradients);
        store.MarkChanged();
    }

    /// <summary>Called once per step before <see cref="Update"/>: allocate state buffers, compute this step's constants.</summary>
    /// <param name="length">Number of parameters.</param>
    protected virtual void BeginStep(int length) { }

    /// <summary>
    /// The update rule for elements [<paramref name="offset"/>, offset + w.Length) of the flat buffers (called for
    /// disjoint ranges, possibly at once from several threads; state buffers are indexed from <paramref name="offset"/>).
    /// </summary>
    protected abstract void Update(Span<T> w, ReadOnlySpan<T> g, int offset);

    private StepJob? _job;

    private sealed class StepJob : RangeJob
    {
        private readonly Optimizer<T> _owner;
        private T[] _w = Array.Empty<T>(), _g = Array.Empty<T>();

        public StepJob(Optimizer<T> owner) => _owner = owner;

        public void Start(T[] w, T[] g)
        {
            _w = w; _g = g;
            try { RunAll(w.Length); }
            finally { _w = _g = Array.Empty<T>(); }
        }

        protected override void Run(int start, int end) => _owner.Update(_w.AsSpan(start, end - start), _g.AsSpan(start, end - start), start);
    }

    /// <summary>
    /// A copy of everything the next updates depend on besides the weights and gradients: step count, learning rate and
    /// the per-parameter buffers (moments), so a restored optimizer continues bit-identically (checkpoints).
    /// </summary>
    public OptimizerState<T> SaveState()
    {
        var buffers = StateBuffers();
        var copies = new T[]?[buffers.Length];
        for (int i = 0; i < buffers.Length; i++) copies[i] = (T[]?)buffers[i]?.Clone();
        return new OptimizerState<T>(StepCount, LearningRate, copies);
    }

    /// <summary>Continues from a state returned by <see cref="SaveState"/> of an optimizer of the same kind and size.</summary>
    /// <exception cref="ArgumentException">The state has a different number of buffers, or a buffer of another length than <paramref name="parameterCount"/>.</exception>
    public void RestoreState(OptimizerState<T> state, int parameterCount)
    {
        ArgumentNullException.ThrowIfNull(state);
        int expected = StateBuffers().Length;
        if (state.Buffers.Count != expected)
            throw new ArgumentException($"The saved optimizer state has {state.Buffers.Count} buffers; {GetType().Name} keeps {expected}.", nameof(state));
        foreach (var b in state.Buffers)
            if (b is not null && b.Length != parameterCount)
                throw new ArgumentException($"A saved optimizer buffer holds {b.Length} values; the model has {parameterCount} parameters.", nameof(state));
        var copies = new T[]?[expected];
        for (int i = 0; i < expected; i++) copies[i] = (T[]?)state.Buffers[i]?.Clone();
        SetStateBuffers(copies);
        StepCount = state.StepCount;
        LearningRate = state.LearningRate;
    }

    /// <summary>The per-parameter state buffers in a fixed order (null where not allocated yet).</summary>
    protected virtual T[]?[] StateBuffers() => Array.Empty<T[]?>();

    /// <summary>Replaces the buffers listed by <see cref="StateBuffers"/> (same order and count).</summary>
    protected virtual void SetStateBuffers(T[]?[] buffers) { }

    /// <summary>Allocates a state buffer matching the parameters on first use.</summary>
    protected static T[] State(ref T[]? buffer, int length) => buffer is not null && buffer.Length == length ? buffer : buffer = new T[length];
}

/// <summary>What <see cref="Optimizer{T}.SaveState"/> captures: step count, learning rate, per-parameter buffers (null = not allocated yet).</summary>
public sealed record OptimizerState<T>(long StepCount, double LearningRate, IReadOnlyList<T[]?> Buffers) where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>SGD with optional momentum, Nesterov momentum and L2 weight decay: v = μv + (g + λw); w −= lr·v.</summary>
public sealed class Sgd<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[]? _velocity;
    /// <summary>Momentum μ (0 = plain SGD).</summary>
    public double Momentum { get; }
    /// <summary>L2 weight decay λ.</summary>
    public double WeightDecay { get; }
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <summary>Creates SGD.</summary>
    public Sgd(double learningRate, double momentum = 0, double weightDecay = 0, bool nesterov = false) : base(learningRate)
    {
        Momentum = momentum; WeightDecay = weightDecay; Nesterov = nesterov;
    }

    private bool _first;

    /// <inheritdoc />
    protected override T[]?[] StateBuffers() => new[] { _velocity };

    /// <inheritdoc />
    protected override void SetStateBuffers(T[]?[] buffers) => _velocity = buffers[0];

    /// <inheritdoc />
    protected override void BeginStep(int length)
    {
        if (Momentum == 0) return;
        _first = _velocity is null || _velocity.Length != length;
        State(ref _velocity, length);
    }

    /// <inheritdoc />
    protected override void Update(Span<T> w, ReadOnlySpan<T> g, int offset)
    {
        T lr = T.CreateChecked(LearningRate), mu = T.CreateChecked(Momentum), wd = T.CreateChecked(WeightDecay);
        if (Momentum == 0)
        {
            for (int i = 0; i < w.Length; i++) w[i] -= lr * (g[i] + wd * w[i]);
            return;
        }
        bool first = _first;
        Span<T> v = _velocity.AsSpan(offset, w.Length);
        for (int i = 0; i < w.Length; i++)
        {
            T gi = g[i] + wd * w[i];
            v[i] = first ? gi : mu * v[i] + gi;
            w[i] -= lr * (Nesterov ? gi + mu * v[i] : v[i]);
        }
    }
}

/// <summary>
/// Adam (Kingma &amp; Ba) with bias correction; <c>decoupledWeightDecay</c> gives AdamW (w −= lr·λ·w before the step),
/// otherwise λ is L2 added to the gradient as PyTorch's Adam does.
/// </summary>
public sealed class Adam<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[]? _m, _v;
    /// <summary>β₁.</summary>
    public double Beta1 { get; }
    /// <summary>β₂.</summary>
    public double Beta2 { get; }
    /// <summary>ε.</summary>
    public double Epsilon { get; }
    /// <summary>Weight decay λ.</summary>
    public double WeightDecay { get; }
    /// <summary>True for AdamW.</summary>
    public bool Decoupled { get; }

    /// <summary>Creates Adam or AdamW.</summary>
    public Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0, bool decoupledWeightDecay = false)
        : base(learningRate)
    {
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay; Decoupled = decoupledWeightDecay;
    }

    /// <inheritdoc />
    protected override T[]?[] StateBuffers() => new[] { _m, _v };

    /// <inheritdoc />
    protected override void SetStateBuffers(T[]?[] buffers) { _m = buffers[0]; _v = buffers[1]; }

    /// <inheritdoc />
    protected override void BeginStep(int length)
    {
        State(ref _m, length);
        State(ref _v, length);
    }

    /// <inheritdoc />
    protected override void Update(Span<T> w, ReadOnlySpan<T> g, int offset)
    {
        Span<T> m = _m.AsSpan(offset, w.Length), v = _v.AsSpan(offset, w.Length);
        double bc1 = 1 - System.Math.Pow(Beta1, StepCount), bc2 = 1 - System.Math.Pow(Beta2, StepCount);
        T b1 = T.CreateChecked(Beta1), b2 = T.CreateChecked(Beta2), ob1 = T.One - b1, ob2 = T.One - b2;
        T stepSize = T.CreateChecked(LearningRate / bc1), invSqrtBc2 = T.CreateChecked(1 / System.Math.Sqrt(bc2));
        T eps = T.CreateChecked(Epsilon), wd = T.CreateChecked(WeightDecay), decay = T.CreateChecked(1 - LearningRate * WeightDecay);
        // Same arithmetic as the scalar rule below, Vector<T> wide:
        //   g' = g + λw (L2) | w ← w(1 − lrλ) (AdamW);  m = β₁m + (1−β₁)g';  v = β₂v + (1−β₂)g'²;
        //   w −= (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
        int i = 0;
        if (Simd.VectorLoops)
        {
            int width = Vector<T>.Count;
            var vb1 = new Vector<T>(b1); var vb2 = new Vector<T>(b2); var vob1 = new Vector<T>(ob1); var vob2 = new Vector<T>(ob2);
            var vStep = new Vector<T>(stepSize); var vInv = new Vector<T>(invSqrtBc2); var vEps = new Vector<T>(eps);
            var vWd = new Vector<T>(wd); var vDecay = new Vector<T>(decay);
            var ws = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(w);
            var gs = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(g);
            var ms = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(m);
            var vs = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(v);
            for (int j = 0; j < ws.Length; j++)
            {
                Vector<T> wj = ws[j], gj = gs[j];
                if (Decoupled) wj *= vDecay;
                else gj += vWd * wj;
                Vector<T> mj = vb1 * ms[j] + vob1 * gj;
                Vector<T> vj = vb2 * vs[j] + vob2 * gj * gj;
                ms[j] = mj; vs[j] = vj;
                ws[j] = wj - vStep * mj / (Vector.SquareRoot(vj) * vInv + vEps);
            }
            i = ws.Length * width;
        }
        for (; i < w.Length; i++)
        {
            T gi = g[i];
            if (Decoupled) w[i] *= decay;
            else gi += wd * w[i];
            m[i] = b1 * m[i] + ob1 * gi;
            v[i] = b2 * v[i] + ob2 * gi * gi;
            w[i] -= stepSize * m[i] / (T.Sqrt(v[i]) * invSqrtBc2 + eps);
        }
    }
}

/// <summary>Adagrad: s += g²; w −= lr·g / (√s + ε).</summary>
public sealed class Adagrad<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[]? _s;
    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Creates Adagrad.</summary>
    public Adagrad(double learningRate = 1e-2, double epsilon = 1e-10) : base(learningRate) => Epsilon = epsilon;

    /// <inheritdoc />
    protected override void BeginStep(int length) => State(ref _s, length);

    /// <inheritdoc />
    protected override T[]?[] StateBuffers() => new[] { _s };

    /// <inheritdoc />
    protected override void SetStateBuffers(T[]?[] buffers) => _s = buffers[0];

    /// <inheritdoc />
    protected override void Update(Span<T> w, ReadOnlySpan<T> g, int offset)
    {
        Span<T> s = _s.AsSpan(offset, w.Length);
        T lr = T.CreateChecked(LearningRate), eps = T.CreateChecked(Epsilon);
        for (int i = 0; i < w.Length; i++)
        {
            s[i] += g[i] * g[i];
            w[i] -= lr * g[i] / (T.Sqrt(s[i]) + eps);
        }
    }
}

/// <summary>RMSprop: s = αs + (1 − α)g²; w −= lr·g / (√s + ε).</summary>
public sealed class RmsProp<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private T[]? _s;
    /// <summary>Smoothing α.</summary>
    public double Alpha { get; }
    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Creates RMSprop.</summary>
    public RmsProp(double learningRate = 1e-2, double alpha = 0.99, double epsilon = 1e-8) : base(learningRate)
    {
        Alpha = alpha; Epsilon = epsilon;
    }

    /// <inheritdoc />
    protected override void BeginStep(int length) => State(ref _s, length);

    /// <inheritdoc />
    protected override T[]?[] StateBuffers() => new[] { _s };

    /// <inheritdoc />
    protected override void SetStateBuffers(T[]?[] buffers) => _s = buffers[0];

    /// <inheritdoc />
    protected override void Update(Span<T> w, ReadOnlySpan<T> g, int offset)
    {
        Span<T> s = _s.AsSpan(offset, w.Length);
        T lr = T.CreateChecked(LearningRate), eps = T.CreateChecked(Epsilon), a = T.CreateChecked(Alpha), oa = T.One - a;
        for (int i = 0; i < w.Length; i++)
        {
            s[i] = a * s[i] + oa * g[i] * g[i];
            w[i] -= lr * g[i] / (T.Sqrt(s[i]) + eps);
        }
    }
}

/// <summary>Which optimizer to build (for options classes).</summary>
public enum OptimizerKind
{
    /// <summary><see cref="Adam{T}"/>.</summary>
    Adam,
    /// <summary><see cref="Adam{T}"/> with decoupled weight decay.</summary>
    AdamW,
    /// <summary>Plain <see cref="Sgd{T}"/> (PyTorch's default: no momentum), as in Zaremba et al.'s PTB language models.</summary>
    Sgd,
    /// <summary><see cref="Sgd{T}"/> with momentum 0.9.</summary>
    SgdMomentum,
    /// <summary><see cref="Adagrad{T}"/>.</summary>
    Adagrad,
    /// <summary><see cref="RmsProp{T}"/>.</summary>
    RmsProp,
}

/// <summary>Builds optimizers from an <see cref="OptimizerKind"/>.</summary>
public static class Optimizers
{
    /// <summary>Creates the optimizer of that kind.</summary>
    public static Optimizer<T> Create<T>(OptimizerKind kind, double learningRate, double weightDecay = 0) where T : unmanaged, IFloatingPointIeee754<T> => kind switch
    {
        OptimizerKind.Adam => new Adam<T>(learningRate, weightDecay: weightDecay),
        OptimizerKind.AdamW => new Adam<T>(learningRate, weightDecay: weightDecay == 0 ? 0.01 : weightDecay, decoupledWeightDecay: true),
        OptimizerKind.Sgd => new Sgd<T>(learningRate, weightDecay: weightDecay),
        OptimizerKind.SgdMomentum => new Sgd<T>(learningRate, momentum: 0.9, weightDecay: weightDecay),
        OptimizerKind.Adagrad => new Adagrad<T>(learningRate),
        OptimizerKind.RmsProp => new RmsProp<T>(learningRate),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer."),
    };
}
