using System;

namespace Rnn.MLNet.Math;

/// <summary>
/// How many threads the matrix kernels may use. How a product is cut into parts depends on its shape only, and every
/// element is summed in the same order whatever the number of parts, so results are bit-identical whatever the thread count.
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
