using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rnn.MLNet.Math;

/// <summary>
/// A float weight matrix W [N, K] rounded to bfloat16 (8 significant bits, round to nearest even) and packed for
/// y = W·x with float accumulation: the opt-in reduced-precision path of single-sequence inference
/// (<see cref="InferencePrecision.BFloat16RecurrentWeights"/>), which streams half the bytes of the float matrix per
/// step. Only the stored weights are rounded; x, the products and the sums stay float.
/// </summary>
/// <remarks>
/// Layout: blocks of <see cref="Block"/> rows of W (output columns), and in each block the K inputs in pairs: uint
/// (block, q, c) holds W[16·block + c, 2q] in its low half and W[16·block + c, 2q + 1] in its high half (zero past N and
/// K), so one 64-byte load gives two 16-wide float vectors by a shift and a mask. Every output is the same two chains of
/// fused multiply–adds on every <see cref="SimdPath"/> (even inputs Σ_q x[2q]·w[2q] and odd inputs Σ_q x[2q+1]·w[2q+1],
/// each in q order, then added), so all paths give the same bits.
/// </remarks>
internal sealed class Bf16Matrix
{
    /// <summary>Outputs per block.</summary>
    internal const int Block = 16;

    private uint[] _data = Array.Empty<uint>();
    private long _version = -1;
    private ReadOnlyMemory<float> _source;

    public int N { get; private set; }
    public int K { get; private set; }
    private int Pairs => (K + 1) / 2;

    /// <summary>The bfloat16 nearest to <paramref name="x"/> (ties to even), as its 16 bits.</summary>
    internal static uint ToBf16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    }

    /// <summary>
    /// Packs W [n, k] (row-major, leading dimension k) unless it is the same memory packed at the same
    /// <paramref name="version"/> (the owner's <see cref="Models.ParameterStore{T}.Version"/>).
    /// </summary>
    public void PackReusing(ReadOnlyMemory<float> w, int n, int k, long version)
    {
        if (version == _version && n == N && k == K && w.Equals(_source)) return;
        N = n; K = k; _source = w;
        int blocks = (n + Block - 1) / Block, pairs = Pairs;
        if (_data.Length < blocks * pairs * Block) _data = new uint[blocks * pairs * Block];
        ReadOnlySpan<float> src = w.Span;
        for (int b = 0; b < blocks; b++)
            for (int q = 0; q < pairs; q++)
                for (int c = 0; c < Block; c++)
                {
                    int row = b * Block + c;
                    uint lo = row < n ? ToBf16(src[row * k + 2 * q]) : 0, hi = row < n && 2 * q + 1 < k ? ToBf16(src[row * k + 2 * q + 1]) : 0;
                    _data[(b * pairs + q) * Block + c] = lo | hi << 16;
                }
        _version = version;
    }

    /// <summary>y [N] = W · x (x [K]), on the current <see cref="SimdPath"/>.</summary>
    public void Multiply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length < K || y.Length < N) throw new ArgumentException($"Need x of {K} and y of {N} values, have {x.Length} and {y.Length}.");
        int blocks = (N + Block - 1) / Block, whole = N / Block, b = 0;
        if (Simd.Path == SimdPath.Vector512)
            for (; b + 4 <= whole; b += 4) Blocks512x4(b, x, y.Slice(b * Block, 4 * Block));
        Span<float> tile = stackalloc float[Block];
        for (; b < blocks; b++)
        {
            Span<float> dst = b < whole ? y.Slice(b * Block, Block) : tile;
            switch (Simd.Path)
            {
                case SimdPath.Vector512: Block512(b, x, dst); break;
                case SimdPath.Vector256: Block256(b, x, dst); break;
                default: BlockScalar(b, x, dst); break;
            }
            if (b >= whole) tile.Slice(0, N - b * Block).CopyTo(y.Slice(b * Block));
        }
    }

    private float X(ReadOnlySpan<float> x, int i) => i < K ? x[i] : 0f;

    // Four blocks at once: eight independent chains, one broadcast pair per four loads.
    private void Blocks512x4(int b, ReadOnlySpan<float> x, Span<float> y)
    {
        int pairs = Pairs, stride = pairs * Block;
        ref uint w = ref _data[b * stride];
        var mask = Vector512.Create(0xFFFF0000u);
        Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        for (int q = 0; q < pairs; q++)
        {
            var xe = Vector512.Create(x[2 * q]);
            var xo = Vector512.Create(X(x, 2 * q + 1));
            var u0 = Vector512.LoadUnsafe(ref w, (nuint)(q * Block));
            var u1 = Vector512.LoadUnsafe(ref w, (nuint)(stride + q * Block));
            var u2 = Vector512.LoadUnsafe(ref w, (nuint)(2 * stride + q * Block));
            var u3 = Vector512.LoadUnsafe(ref w, (nuint)(3 * stride + q * Block));
            e0 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u0, 16).AsSingle(), e0); o0 = Vector512.FusedMultiplyAdd(xo, (u0 & mask).AsSingle(), o0);
            e1 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u1, 16).AsSingle(), e1); o1 = Vector512.FusedMultiplyAdd(xo, (u1 & mask).AsSingle(), o1);
            e2 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u2, 16).AsSingle(), e2); o2 = Vector512.FusedMultiplyAdd(xo, (u2 & mask).AsSingle(), o2);
            e3 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u3, 16).AsSingle(), e3); o3 = Vector512.FusedMultiplyAdd(xo, (u3 & mask).AsSingle(), o3);
        }
        ref float dst = ref MemoryMarshal.GetReference(y);
        (e0 + o0).StoreUnsafe(ref dst); (e1 + o1).StoreUnsafe(ref dst, Block);
        (e2 + o2).StoreUnsafe(ref dst, 2 * Block); (e3 + o3).StoreUnsafe(ref dst, 3 * Block);
    }

    private void Block512(int b, ReadOnlySpan<float> x, Span<float> y)
    {
        int pairs = Pairs;
        ref uint w = ref _data[b * pairs * Block];
        var mask = Vector512.Create(0xFFFF0000u);
        Vector512<float> e = default, o = default;
        for (int q = 0; q < pairs; q++)
        {
            var u = Vector512.LoadUnsafe(ref w, (nuint)(q * Block));
            e = Vector512.FusedMultiplyAdd(Vector512.Create(x[2 * q]), Vector512.ShiftLeft(u, 16).AsSingle(), e);
            o = Vector512.FusedMultiplyAdd(Vector512.Create(X(x, 2 * q + 1)), (u & mask).AsSingle(), o);
        }
        (e + o).StoreUnsafe(ref MemoryMarshal.GetReference(y));
    }

    private void Block256(int b, ReadOnlySpan<float> x, Span<float> y)
    {
        int pairs = Pairs;
        ref uint w = ref _data[b * pairs * Block];
        var mask = Vector256.Create(0xFFFF0000u);
        Vector256<float> e0 = default, e1 = default, o0 = default, o1 = default;
        for (int q = 0; q < pairs; q++)
        {
            var u0 = Vector256.LoadUnsafe(ref w, (nuint)(q * Block));
            var u1 = Vector256.LoadUnsafe(ref w, (nuint)(q * Block + 8));
            var xe = Vector256.Create(x[2 * q]);
            var xo = Vector256.Create(X(x, 2 * q + 1));
            e0 = Vector256.FusedMultiplyAdd(xe, Vector256.ShiftLeft(u0, 16).AsSingle(), e0);
            e1 = Vector256.FusedMultiplyAdd(xe, Vector256.ShiftLeft(u1, 16).AsSingle(), e1);
            o0 = Vector256.FusedMultiplyAdd(xo, (u0 & mask).AsSingle(), o0);
            o1 = Vector256.FusedMultiplyAdd(xo, (u1 & mask).AsSingle(), o1);
        }
        ref float dst = ref MemoryMarshal.GetReference(y);
        (e0 + o0).StoreUnsafe(ref dst);
        (e1 + o1).StoreUnsafe(ref dst, 8);
    }

    private void BlockScalar(int b, ReadOnlySpan<float> x, Span<float> y)
    {
        int pairs = Pairs;
        ReadOnlySpan<uint> w = _data.AsSpan(b * pairs * Block, pairs * Block);
        for (int c = 0; c < Block; c++)
        {
            float e = 0f, o = 0f;
            for (int q = 0; q < pairs; q++)
            {
                uint u = w[q * Block + c];
                e = MathF.FusedMultiplyAdd(x[2 * q], BitConverter.UInt32BitsToSingle(u << 16), e);
                o = MathF.FusedMultiplyAdd(X(x, 2 * q + 1), BitConverter.UInt32BitsToSingle(u & 0xFFFF0000u), o);
            }
            y[c] = e + o;
        }
    }
}
