using System;

namespace Rnn.MLNet.Math;

/// <summary>
/// How many threads the matrix kernels may use. Work is split over output columns only, never over the summation, so
/// results are bit-identical whatever the thread count.
/// </summary>
public static class Parallelism
{
    private static int s_maxThreads = System.Math.Max(1, Environment.ProcessorCount);

    /// <summary>Threads used by large matrix products (default: the processor count; 1 = single-threaded).</summary>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set => s_maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "At least one thread.");
    }
}
