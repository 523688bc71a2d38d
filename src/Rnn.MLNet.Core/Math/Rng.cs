using System;

namespace Rnn.MLNet.Math;

/// <summary>
/// Small deterministic random generator (xoshiro256**, seeded through SplitMix64). The same seed gives the same stream on
/// every platform and runtime, which <see cref="Random"/> does not promise; training runs repeat exactly because of it.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator from a seed.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [low, high).</summary>
    public double NextUniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "The bound must be positive.");
        return (int)((NextUInt64() >> 33) % (ulong)n);
    }

    /// <summary>Standard normal sample (Box–Muller).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return System.Math.Sqrt(-2.0 * System.Math.Log(u1)) * System.Math.Cos(2.0 * System.Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<TItem>(Span<TItem> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>The generator's whole state (four words); <see cref="Restore"/> continues the same stream from it (checkpoints).</summary>
    public ulong[] SaveState() => new[] { _s0, _s1, _s2, _s3 };

    /// <summary>Continues the stream from a state returned by <see cref="SaveState"/>.</summary>
    /// <exception cref="ArgumentException">Not four words, or all zero (not a reachable xoshiro state).</exception>
    public void Restore(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4) throw new ArgumentException($"An Rng state is 4 words; got {state.Length}.", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0) throw new ArgumentException("An all-zero Rng state is not valid.", nameof(state));
        _s0 = state[0]; _s1 = state[1]; _s2 = state[2]; _s3 = state[3];
    }

    /// <summary>Derives an independent generator (for a sub-task such as dropout masks) without disturbing this one's use pattern.</summary>
    public Rng Fork() => new(NextUInt64());
}
