using System;

namespace Rnn.MLNet.Math;

/// <summary>Settings of inference: the caches it keeps between calls and the precision of its arithmetic.</summary>
public static class InferenceCache
{
    private static long s_tokenProjectionBytes = 4L << 20;
    private static int s_precision = -1; // an InferencePrecision, or −1: not read from the environment yet

    /// <summary>
    /// The arithmetic of float inference's recurrent layers (default <see cref="InferencePrecision.Exact"/>: the training
    /// path's bits). The opt-in reduced precisions trade a small, measured accuracy cost (docs/benchmarks.md) for
    /// speed; see each value for what exactly is approximated. Also set by the environment variable
    /// <c>RNN_MLNET_INFERENCE_PRECISION</c> = <c>float</c>, <c>bf16</c> or <c>int8</c> (read at the first forward pass
    /// unless set before), or
    /// <c>RNN_MLNET_BF16_RECURRENT_WEIGHTS=1</c> (the older name of <c>bf16</c>). Training and double networks always use
    /// the exact weights. Process-wide; read at the start of each forward pass.
    /// </summary>
    public static InferencePrecision Precision
    {
        get
        {
            int precision = System.Threading.Volatile.Read(ref s_precision);
            if (precision >= 0) return (InferencePrecision)precision;
            // first read: the environment's choice (an unknown name throws here, naming it, on every read until it is set)
            System.Threading.Interlocked.CompareExchange(ref s_precision, (int)PrecisionFromEnvironment(), -1);
            return (InferencePrecision)System.Threading.Volatile.Read(ref s_precision);
        }
        set => System.Threading.Volatile.Write(ref s_precision, Enum.IsDefined(value) ? (int)value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Exact, BFloat16RecurrentWeights or Int8Weights."));
    }

    /// <summary>The precision the environment asks for (see <see cref="Precision"/>); an unknown value is an error naming it.</summary>
    internal static InferencePrecision PrecisionFromEnvironment()
    {
        string? name = Environment.GetEnvironmentVariable(PrecisionVariable);
        if (!string.IsNullOrEmpty(name))
            return name.ToLowerInvariant() switch
            {
                "float" or "exact" => InferencePrecision.Exact,
                "bf16" => InferencePrecision.BFloat16RecurrentWeights,
                "int8" => InferencePrecision.Int8Weights,
                _ => throw new InvalidOperationException($"The environment variable {PrecisionVariable} is '{name}'; expected float (or exact), bf16 or int8."),
            };
        return Environment.GetEnvironmentVariable("RNN_MLNET_BF16_RECURRENT_WEIGHTS") == "1" ? InferencePrecision.BFloat16RecurrentWeights : InferencePrecision.Exact;
    }

    /// <summary>The environment variable that sets <see cref="Precision"/> at start-up.</summary>
    public const string PrecisionVariable = "RNN_MLNET_INFERENCE_PRECISION";

    /// <summary>The value of <see cref="PrecisionVariable"/> that selects <paramref name="precision"/>.</summary>
    public static string EnvironmentName(InferencePrecision precision) => precision switch
    {
        InferencePrecision.BFloat16RecurrentWeights => "bf16",
        InferencePrecision.Int8Weights => "int8",
        _ => "float",
    };

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

/// <summary>The arithmetic of float inference's recurrent layers (<see cref="InferenceCache.Precision"/>).</summary>
public enum InferencePrecision
{
    /// <summary>Exact float arithmetic (the default): the same bits as the training path's forward.</summary>
    Exact,

    /// <summary>
    /// Single-sequence inference (at most four sequences per thread) multiplies the state by W_hh rounded to bfloat16
    /// (8 significant bits, ties to even; each weight off by at most 2⁻⁹ of its size), accumulating in float: half the
    /// bytes streamed per step. The input projection W_ih x, the cells, the biases and larger batches stay exact.
    /// </summary>
    BFloat16RecurrentWeights,

    /// <summary>
    /// Every recurrent layer's two products, the input projection W_ih x and the step product W_hh h (any batch size),
    /// use W_ih and W_hh quantized to int8 per output row (symmetric: w ≈ s_r·q, q ∈ [−127, 127], s_r = max_k |W[r, k]| / 127)
    /// and the input row (x or h) quantized to 7 bits on every product (x ≈ t·q, q ∈ [−63, 63], t = max |x| / 63), the
    /// products summed exactly in integers and scaled back to float: each weight is off by at most s_r / 2, each input by
    /// at most t / 2 (Math/Int8Matrix; the accuracy cost on the samples is in docs/benchmarks.md).
    /// A quarter of the float weights' bytes and four times the multiply–adds per instruction. Biases (the input
    /// projection adds b_ih + b_hh as one float sum), the cells (σ, tanh, state updates), embeddings, attention and output
    /// layers stay float. A non-finite input or weight gives NaN outputs.
    /// </summary>
    Int8Weights,
}
