using System;

namespace Rnn.MLNet.Math;

/// <summary>Settings of the caches inference keeps between calls.</summary>
public static class InferenceCache
{
    private static long s_tokenProjectionBytes = 4L << 20;
    private static int s_reducedPrecision = Environment.GetEnvironmentVariable("RNN_MLNET_BF16_RECURRENT_WEIGHTS") == "1" ? 1 : 0;

    /// <summary>
    /// Opt-in reduced precision (default false; also turned on by the environment variable
    /// <c>RNN_MLNET_BF16_RECURRENT_WEIGHTS=1</c>): single-sequence float inference (at most four sequences per thread)
    /// multiplies the state by W_hh rounded to bfloat16 (8 significant bits), accumulating in float, which streams half
    /// the bytes per step. Each weight is rounded by at most 2⁻⁹ of its size, so outputs move slightly from the exact
    /// path's; the accuracy cost on the samples is stated in docs/benchmarks.md. Training, larger batches and double networks
    /// always use the exact weights.
    /// </summary>
    public static bool ReducedPrecisionRecurrentWeights
    {
        get => System.Threading.Volatile.Read(ref s_reducedPrecision) != 0;
        set => System.Threading.Volatile.Write(ref s_reducedPrecision, value ? 1 : 0);
    }

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
