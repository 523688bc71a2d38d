using System;
using System.Numerics;
using System.Numerics.Tensors;

namespace Rnn.MLNet.Math;

/// <summary>
/// A loop over the elements [0, length) of flat buffers, cut into contiguous ranges that run as parts on the
/// <see cref="WorkerPool"/>. Ranges start on multiples of <see cref="Alignment"/> elements (whole cache lines and vectors).
/// Small loops run on the calling thread: below <see cref="Grain"/> elements per part, waking a worker costs more than it saves.
/// Subclasses are reused objects holding their operands in fields, so a call allocates nothing.
/// </summary>
internal abstract class RangeJob : ParallelJob
{
    /// <summary>Fewest elements worth giving a part of their own.</summary>
    public const int Grain = 1 << 15;

    /// <summary>Range starts are multiples of this.</summary>
    public const int Alignment = 64;

    private int _length;

    /// <summary>Processes the elements [start, end).</summary>
    protected abstract void Run(int start, int end);

    /// <summary>Runs the loop over [0, <paramref name="length"/>).</summary>
    protected void RunAll(int length)
    {
        _length = length;
        int parts = System.Math.Max(1, System.Math.Min(Parallelism.MaxThreads, length / Grain));
        WorkerPool.Run(this, parts);
    }

    /// <inheritdoc />
    public override void Execute(int part, int parts)
    {
        var (start, end) = Share(_length, part, parts, Alignment);
        if (start < end) Run(start, end);
    }
}

/// <summary>Element-wise operations on whole parameter-sized buffers, spread over the worker pool.</summary>
internal static class ParallelOps
{
    /// <summary>Sums of squares are taken over fixed chunks of this many elements, then added in chunk order.</summary>
    public const int SumChunk = 1 << 16;

    /// <summary>x = 0.</summary>
    public static void Clear<T>(T[] x) where T : unmanaged, INumber<T> => ClearJob<T>.Current.Start(x);

    /// <summary>x *= factor.</summary>
    public static void Scale<T>(T[] x, T factor) where T : unmanaged, INumber<T> => ScaleJob<T>.Current.Start(x, factor);

    /// <summary>
    /// Σ x², as per-chunk sums (<see cref="SumChunk"/> elements each) added in chunk order: the same rounding whatever the
    /// thread count. A buffer of one chunk gives exactly <c>TensorPrimitives.SumOfSquares</c>.
    /// </summary>
    public static T SumOfSquares<T>(T[] x) where T : unmanaged, IFloatingPointIeee754<T> => SumOfSquaresJob<T>.Current.Start(x);

    private sealed class ClearJob<T> : RangeJob where T : unmanaged, INumber<T>
    {
        [ThreadStatic] private static ClearJob<T>? s_current;
        public static ClearJob<T> Current => s_current ??= new ClearJob<T>();
        private T[] _x = Array.Empty<T>();

        public void Start(T[] x)
        {
            _x = x;
            try { RunAll(x.Length); }
            finally { _x = Array.Empty<T>(); }
        }

        protected override void Run(int start, int end) => _x.AsSpan(start, end - start).Clear();
    }

    private sealed class ScaleJob<T> : RangeJob where T : unmanaged, INumber<T>
    {
        [ThreadStatic] private static ScaleJob<T>? s_current;
        public static ScaleJob<T> Current => s_current ??= new ScaleJob<T>();
        private T[] _x = Array.Empty<T>();
        private T _factor;

        public void Start(T[] x, T factor)
        {
            _x = x; _factor = factor;
            try { RunAll(x.Length); }
            finally { _x = Array.Empty<T>(); }
        }

        protected override void Run(int start, int end)
        {
            Span<T> s = _x.AsSpan(start, end - start);
            TensorPrimitives.Multiply<T>(s, _factor, s);
        }
    }

    // Parts take whole chunks (the range loop runs over chunk indices), so every chunk sum is the same computation.
    private sealed class SumOfSquaresJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static SumOfSquaresJob<T>? s_current;
        public static SumOfSquaresJob<T> Current => s_current ??= new SumOfSquaresJob<T>();
        private T[] _x = Array.Empty<T>();
        private T[] _partials = Array.Empty<T>();

        public T Start(T[] x)
        {
            int chunks = (x.Length + SumChunk - 1) / SumChunk;
            if (chunks <= 1) return TensorPrimitives.SumOfSquares<T>(x);
            if (_partials.Length < chunks) _partials = new T[chunks];
            _x = x;
            try { WorkerPool.Run(this, System.Math.Min(chunks, Parallelism.MaxThreads)); }
            finally { _x = Array.Empty<T>(); }
            T total = T.Zero;
            for (int c = 0; c < chunks; c++) total += _partials[c];
            return total;
        }

        public override void Execute(int part, int parts)
        {
            var (first, last) = Share((_x.Length + SumChunk - 1) / SumChunk, part, parts);
            for (int c = first; c < last; c++)
            {
                int start = c * SumChunk;
                _partials[c] = TensorPrimitives.SumOfSquares<T>(_x.AsSpan(start, System.Math.Min(SumChunk, _x.Length - start)));
            }
        }
    }
}
