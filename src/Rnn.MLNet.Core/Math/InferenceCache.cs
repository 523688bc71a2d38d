using System;

namespace Rnn.MLNet.Math;

/// <summary>Settings of the caches inference keeps between calls.</summary>
public static class InferenceCache
{
    private static long s_tokenProjectionBytes = 4L << 20;

    /// <summary>
    /// Memory (bytes) each network instance may use for its first layer's per-token input projections (per direction),
    /// which spare a prediction its input matrix product: an entry takes (input width + gates × hidden) values, e.g. 2.3 KB
    /// for a 64-wide embedding into an LSTM of 128, so the default 4 MiB keeps ~1,800 tokens (the first seen; later ones
    /// are computed each time). Instances scoring on other threads (clones, ML.NET's pooled engines) each have their own.
    /// 0 turns the cache off. Results are bit-identical with and without it. The default was 16 MiB until issue 23: 4 MiB
    /// keeps a serving process ~20 MB smaller for ~8% of latency on uniformly random tokens (none on repeated ones;
    /// docs/benchmarks.md).
    /// </summary>
    public static long TokenProjectionBytes
    {
        get => System.Threading.Volatile.Read(ref s_tokenProjectionBytes);
        set => System.Threading.Volatile.Write(ref s_tokenProjectionBytes,
            value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Zero or more bytes."));
    }
}
