using System;

namespace Rnn.MLNet.Math;

/// <summary>Settings of the caches inference keeps between calls.</summary>
public static class InferenceCache
{
    private static long s_tokenProjectionBytes = 64L << 20;

    /// <summary>
    /// Memory (bytes, per recurrent layer and direction) for the first layer's per-token input projections, which spare a
    /// single-sequence prediction its input matrix product (default 64 MiB; 0 turns the cache off). Results are identical
    /// with and without it.
    /// </summary>
    public static long TokenProjectionBytes
    {
        get => System.Threading.Volatile.Read(ref s_tokenProjectionBytes);
        set => System.Threading.Volatile.Write(ref s_tokenProjectionBytes,
            value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Zero or more bytes."));
    }
}
