using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.MLNet.Math;

/// <summary>
/// A float weight matrix W [N, K] quantized to int8 per output row, for Y [M, N] = X [M, K] · Wᵀ with the inputs quantized
/// to int16 per row on every call and the products summed exactly in int32: the <see cref="InferencePrecision.Int8Weights"/>
/// path of float inference (a quarter of the float matrix's bytes, and 32 multiply–adds per AVX-512 vpmaddwd against a
/// float FMA's 16).
/// </summary>
/// <remarks>
/// <para>Quantization (symmetric, round to nearest even): row r of W is stored as qw = round(w / s_r) ∈ [−127, 127] with
/// s_r = max_k |W[r, k]| / 127; row m of X as qx = round(x / t_m) ∈ [−32767, 32767] with t_m = max_k |X[m, k]| / 32767.
/// Then y[m, r] = float(Σ_k qx·qw) · s_r · t_m. Each weight is off by at most s_r / 2 and each input by at most t_m / 2,
/// so |y − x·w| ≤ (s_r/2)·Σ|x| + (t_m/2)·Σ|w| + (s_r·t_m/4)·K, plus float rounding of the final products
/// (<see cref="ErrorBound"/>). A row of zeros gives zeros; a non-finite weight or input makes its outputs NaN.</para>
/// <para>Layout: blocks of <see cref="Block"/> rows of W (outputs) and, in each block, the K inputs in pairs: byte
/// (block, q, c, j) holds qw[16·block + c, 2q + j] (zero past N and K), so the 32 bytes of (block, q) sign-extended to 32
/// int16 and multiplied by the broadcast pair (qx[2q], qx[2q + 1]) with vpmaddwd give the 16 outputs' pair sums. The int32
/// sums are exact for <see cref="ChunkPairs"/> pairs (|pair sum| ≤ 2·127·32767); longer rows are summed chunk by chunk,
/// each chunk's int32 converted to float and added in chunk order. Integer sums are exact and the float steps are the same
/// on every <see cref="SimdPath"/>, so every path and every tiling gives the same bits, and a row's result does not depend
/// on the other rows of the call.</para>
/// </remarks>
internal sealed class Int8Matrix
{
    /// <summary>Outputs per block.</summary>
    internal const int Block = 16;

    /// <summary>Input pairs summed in one int32 before the partial sum goes to float: 256 · 2 · 127 · 32767 &lt; 2³¹.</summary>
    internal const int ChunkPairs = 256;

    private const int Tile = 4; // rows per tile of the input; blocks per call of the wide kernels
    private const int PairBytes = 2 * Block; // bytes of one (block, q)

    private sbyte[] _data = Array.Empty<sbyte>();
    private float[] _rowScale = Array.Empty<float>(); // s_r, [blocks · 16] (zero past N)
    private long _version = -1;
    private ReadOnlyMemory<float> _source;

    public int N { get; private set; }
    public int K { get; private set; }
    private int Pairs => (K + 1) / 2;
    private int BlockBytes => Pairs * PairBytes;

    /// <summary>Scale s_r of output row <paramref name="row"/> (the weight of qw = 1), for tests.</summary>
    internal float RowScale(int row) => _rowScale[row];

    /// <summary>Quantized weight qw[row, k], for tests.</summary>
    internal sbyte Weight(int row, int k) => _data[(row / Block) * BlockBytes + (k / 2) * PairBytes + (row % Block) * 2 + (k & 1)];

    /// <summary>
    /// Quantizes and packs W [n, k] (row-major, leading dimension k) unless it is the same memory packed at the same
    /// <paramref name="version"/> (the owner's <see cref="Models.ParameterStore{T}.Version"/>).
    /// </summary>
    public void PackReusing(ReadOnlyMemory<float> w, int n, int k, long version)
    {
        if (version == _version && n == N && k == K && w.Equals(_source)) return;
        N = n; K = k; _source = w;
        int blocks = (n + Block - 1) / Block, blockBytes = BlockBytes;
        if (_data.Length < blocks * blockBytes) _data = new sbyte[blocks * blockBytes];
        if (_rowScale.Length < blocks * Block) _rowScale = new float[blocks * Block];
        Array.Clear(_data, 0, blocks * blockBytes);
        Array.Clear(_rowScale, 0, blocks * Block);
        ReadOnlySpan<float> src = w.Span;
        Span<short> row = k <= 4096 ? stackalloc short[k] : new short[k];
        for (int r = 0; r < n; r++)
        {
            _rowScale[r] = Quantize(src.Slice(r * k, k), row, 127);
            int at = (r / Block) * blockBytes + (r % Block) * 2;
            for (int p = 0; p < k; p++) _data[at + (p / 2) * PairBytes + (p & 1)] = (sbyte)row[p];
        }
        _version = version;
    }

    /// <summary>
    /// q = round(x / t) with t = max |x| / <paramref name="levels"/> (ties to even), returning t: zero for a zero row, NaN
    /// (with q zero) when x holds a NaN or an infinity. The same IEEE steps on every path (max, one multiply, round).
    /// </summary>
    internal static float Quantize(ReadOnlySpan<float> x, Span<short> q, int levels)
    {
        int n = x.Length, i = 0;
        float max = 0f;
        if (Simd.Path == SimdPath.Vector512)
        {
            var m = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) m = Vector512.Max(m, Vector512.Abs(Vector512.Create(x.Slice(i, 16))));
            max = MaxOf(Vector256.Max(m.GetLower(), m.GetUpper()));
        }
        else if (Simd.Path == SimdPath.Vector256)
        {
            var m = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Create(x.Slice(i, 8))));
            max = MaxOf(m);
        }
        for (; i < n; i++) max = MathF.Max(max, MathF.Abs(x[i]));
        if (!float.IsFinite(max) || float.IsNaN(max))
        {
            q.Slice(0, n).Clear();
            return float.NaN;
        }
        if (max == 0f)
        {
            q.Slice(0, n).Clear();
            return 0f;
        }
        float inverse = levels / max, scale = max / levels;
        i = 0;
        if (Simd.Path == SimdPath.Vector512)
        {
            var inv = Vector512.Create(inverse);
            ref short dst = ref MemoryMarshal.GetReference(q);
            for (; i + 32 <= n; i += 32)
            {
                var lo = Vector512.ConvertToInt32(Vector512.Round(Vector512.Create(x.Slice(i, 16)) * inv));
                var hi = Vector512.ConvertToInt32(Vector512.Round(Vector512.Create(x.Slice(i + 16, 16)) * inv));
                Vector512.Narrow(lo, hi).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        else if (Simd.Path == SimdPath.Vector256)
        {
            var inv = Vector256.Create(inverse);
            ref short dst = ref MemoryMarshal.GetReference(q);
            for (; i + 16 <= n; i += 16)
            {
                var lo = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x.Slice(i, 8)) * inv));
                var hi = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x.Slice(i + 8, 8)) * inv));
                Vector256.Narrow(lo, hi).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < n; i++) q[i] = (short)MathF.Round(x[i] * inverse); // |x·inverse| ≤ levels·(1 + 2⁻²⁴): no clamp needed
        return scale;
    }

    private static float MaxOf(Vector256<float> v)
    {
        float m = 0f;
        for (int j = 0; j < Vector256<float>.Count; j++) m = MathF.Max(m, v[j]);
        return m;
    }

    /// <summary>
    /// The bound on |y − x·w| for one output: (s/2)·Σ|x| + (t/2)·Σ|w| + (s·t/4)·K, with s, t the weight row's and the
    /// input row's scales, plus the float roundings of the chunk sums and the two scale products (relative 2⁻²³ each).
    /// </summary>
    internal static double ErrorBound(ReadOnlySpan<float> w, float s, ReadOnlySpan<float> x, float t)
    {
        double sumX = 0, sumW = 0, exact = 0;
        for (int k = 0; k < x.Length; k++) { sumX += System.Math.Abs(x[k]); sumW += System.Math.Abs(w[k]); exact += System.Math.Abs((double)x[k] * w[k]); }
        double quantization = s / 2.0 * sumX + t / 2.0 * sumW + s * (double)t / 4 * x.Length;
        return quantization + (exact + quantization) * 4 * 1.2e-7 * (1 + x.Length / (2.0 * ChunkPairs));
    }

    /// <summary>
    /// Y [m, N] = X [m, K] · Wᵀ (X row i at <paramref name="x"/>[i·ldx], Y row i at <paramref name="y"/>[i·ldy]), each row of
    /// X quantized on the way, on the current <see cref="SimdPath"/>. Safe to call from several threads at once.
    /// </summary>
    public void Multiply(int m, ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy)
    {
        if (m < 0 || (m > 0 && (x.Length < (m - 1) * ldx + K || y.Length < (m - 1) * ldy + N || ldx < K || ldy < N)))
            throw new ArgumentException($"Need {m} rows of x with {K} values and of y with {N} values (leading dimensions {ldx}, {ldy}), have {x.Length} and {y.Length}.");
        int pairs = Pairs, padded = 2 * pairs, blocks = (N + Block - 1) / Block, whole = N / Block;
        SimdPath path = Simd.Path;
        if (path == SimdPath.Vector512 && !Avx512BW.IsSupported) path = SimdPath.Scalar; // never on x64, where Vector512 needs AVX-512 BW
        if (path == SimdPath.Vector256 && !Avx2.IsSupported) path = SimdPath.Scalar;
        Span<short> xq = Tile * padded <= 16384 ? stackalloc short[Tile * padded] : new short[Tile * padded];
        Span<float> xScale = stackalloc float[Tile];
        Span<float> tail = stackalloc float[Tile * Block]; // the last block's outputs when N is not a multiple of 16
        for (int r0 = 0; r0 < m; r0 += Tile)
        {
            int rows = System.Math.Min(Tile, m - r0);
            for (int r = 0; r < rows; r++)
            {
                Span<short> row = xq.Slice(r * padded, padded);
                xScale[r] = Quantize(x.Slice((r0 + r) * ldx, K), row, short.MaxValue);
                if (padded > K) row[K] = 0;
            }
            ReadOnlySpan<int> xp = MemoryMarshal.Cast<short, int>(xq); // pair q of row r at r·pairs + q: (qx[2q], qx[2q+1])
            ref float y0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), r0 * ldy);
            for (int q0 = 0; q0 < pairs; q0 += ChunkPairs)
            {
                int q1 = System.Math.Min(pairs, q0 + ChunkPairs);
                bool first = q0 == 0;
                int b = 0;
                if (path == SimdPath.Vector512)
                {
                    if (rows == Tile)
                        for (; b + 4 <= whole; b += 4) Rows4Blocks4(b, xp, pairs, q0, q1, ref Unsafe.Add(ref y0, b * Block), ldy, first);
                    for (; b + 4 <= whole; b += 4)
                        for (int r = 0; r < rows; r++) Row1Blocks4(b, xp.Slice(r * pairs), q0, q1, ref Unsafe.Add(ref y0, r * ldy + b * Block), first);
                }
                for (; b < blocks; b++)
                    for (int r = 0; r < rows; r++)
                    {
                        ref float dst = ref (b < whole ? ref Unsafe.Add(ref y0, r * ldy + b * Block) : ref tail[r * Block]);
                        ReadOnlySpan<int> xr = xp.Slice(r * pairs);
                        switch (path)
                        {
                            case SimdPath.Vector512: Block512(b, xr, q0, q1, ref dst, first); break;
                            case SimdPath.Vector256: Block256(b, xr, q0, q1, ref dst, first); break;
                            default: BlockScalar(b, xr, q0, q1, ref dst, first); break;
                        }
                    }
            }
            for (int r = 0; r < rows; r++)
            {
                Span<float> yr = y.Slice((r0 + r) * ldy, N);
                if (whole < blocks) tail.Slice(r * Block, N - whole * Block).CopyTo(yr.Slice(whole * Block));
                Scale(yr, _rowScale, xScale[r], path);
            }
        }
    }

    // y = (y · s_r) · t, element by element (the same two IEEE products on every path)
    private static void Scale(Span<float> y, ReadOnlySpan<float> rowScale, float t, SimdPath path)
    {
        int n = y.Length, j = 0;
        ref float dst = ref MemoryMarshal.GetReference(y);
        ref float s = ref MemoryMarshal.GetReference(rowScale);
        if (path == SimdPath.Vector512)
            for (var tv = Vector512.Create(t); j + 16 <= n; j += 16)
                (Vector512.LoadUnsafe(ref dst, (nuint)j) * Vector512.LoadUnsafe(ref s, (nuint)j) * tv).StoreUnsafe(ref dst, (nuint)j);
        else if (path == SimdPath.Vector256)
            for (var tv = Vector256.Create(t); j + 8 <= n; j += 8)
                (Vector256.LoadUnsafe(ref dst, (nuint)j) * Vector256.LoadUnsafe(ref s, (nuint)j) * tv).StoreUnsafe(ref dst, (nuint)j);
        for (; j < n; j++) y[j] = y[j] * rowScale[j] * t;
    }

    // dst[0..16) = (first ? 0 : dst) + float(acc), the chunk's exact sums
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float dst, Vector512<int> acc, bool first)
    {
        var f = Vector512.ConvertToSingle(acc);
        if (!first) f = Vector512.LoadUnsafe(ref dst) + f;
        f.StoreUnsafe(ref dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float dst, Vector256<int> acc, bool first)
    {
        var f = Vector256.ConvertToSingle(acc);
        if (!first) f = Vector256.LoadUnsafe(ref dst) + f;
        f.StoreUnsafe(ref dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Weights512(ref sbyte w, int offset) => Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref w, (nuint)offset));

    // Four rows × four blocks: sixteen independent int32 chains, each weight vector used by four rows.
    private void Rows4Blocks4(int b, ReadOnlySpan<int> xp, int pairs, int q0, int q1, ref float y, int ldy, bool first)
    {
        int stride = BlockBytes;
        ref sbyte w = ref _data[b * stride];
        ref int x0 = ref MemoryMarshal.GetReference(xp);
        ref int x1 = ref Unsafe.Add(ref x0, pairs);
        ref int x2 = ref Unsafe.Add(ref x0, 2 * pairs);
        ref int x3 = ref Unsafe.Add(ref x0, 3 * pairs);
        Vector512<int> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<int> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        for (int q = q0; q < q1; q++)
        {
            int off = q * PairBytes;
            var w0 = Weights512(ref w, off);
            var w1 = Weights512(ref w, stride + off);
            var w2 = Weights512(ref w, 2 * stride + off);
            var w3 = Weights512(ref w, 3 * stride + off);
            var v = Vector512.Create(Unsafe.Add(ref x0, q)).AsInt16();
            a00 += Avx512BW.MultiplyAddAdjacent(w0, v); a01 += Avx512BW.MultiplyAddAdjacent(w1, v);
            a02 += Avx512BW.MultiplyAddAdjacent(w2, v); a03 += Avx512BW.MultiplyAddAdjacent(w3, v);
            v = Vector512.Create(Unsafe.Add(ref x1, q)).AsInt16();
            a10 += Avx512BW.MultiplyAddAdjacent(w0, v); a11 += Avx512BW.MultiplyAddAdjacent(w1, v);
            a12 += Avx512BW.MultiplyAddAdjacent(w2, v); a13 += Avx512BW.MultiplyAddAdjacent(w3, v);
            v = Vector512.Create(Unsafe.Add(ref x2, q)).AsInt16();
            a20 += Avx512BW.MultiplyAddAdjacent(w0, v); a21 += Avx512BW.MultiplyAddAdjacent(w1, v);
            a22 += Avx512BW.MultiplyAddAdjacent(w2, v); a23 += Avx512BW.MultiplyAddAdjacent(w3, v);
            v = Vector512.Create(Unsafe.Add(ref x3, q)).AsInt16();
            a30 += Avx512BW.MultiplyAddAdjacent(w0, v); a31 += Avx512BW.MultiplyAddAdjacent(w1, v);
            a32 += Avx512BW.MultiplyAddAdjacent(w2, v); a33 += Avx512BW.MultiplyAddAdjacent(w3, v);
        }
        Put(ref y, a00, first); Put(ref Unsafe.Add(ref y, Block), a01, first); Put(ref Unsafe.Add(ref y, 2 * Block), a02, first); Put(ref Unsafe.Add(ref y, 3 * Block), a03, first);
        y = ref Unsafe.Add(ref y, ldy);
        Put(ref y, a10, first); Put(ref Unsafe.Add(ref y, Block), a11, first); Put(ref Unsafe.Add(ref y, 2 * Block), a12, first); Put(ref Unsafe.Add(ref y, 3 * Block), a13, first);
        y = ref Unsafe.Add(ref y, ldy);
        Put(ref y, a20, first); Put(ref Unsafe.Add(ref y, Block), a21, first); Put(ref Unsafe.Add(ref y, 2 * Block), a22, first); Put(ref Unsafe.Add(ref y, 3 * Block), a23, first);
        y = ref Unsafe.Add(ref y, ldy);
        Put(ref y, a30, first); Put(ref Unsafe.Add(ref y, Block), a31, first); Put(ref Unsafe.Add(ref y, 2 * Block), a32, first); Put(ref Unsafe.Add(ref y, 3 * Block), a33, first);
    }

    // One row × four blocks (a single sequence's step): four independent chains.
    private void Row1Blocks4(int b, ReadOnlySpan<int> xp, int q0, int q1, ref float y, bool first)
    {
        int stride = BlockBytes;
        ref sbyte w = ref _data[b * stride];
        ref int x0 = ref MemoryMarshal.GetReference(xp);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int q = q0; q < q1; q++)
        {
            int off = q * PairBytes;
            var v = Vector512.Create(Unsafe.Add(ref x0, q)).AsInt16();
            a0 += Avx512BW.MultiplyAddAdjacent(Weights512(ref w, off), v);
            a1 += Avx512BW.MultiplyAddAdjacent(Weights512(ref w, stride + off), v);
            a2 += Avx512BW.MultiplyAddAdjacent(Weights512(ref w, 2 * stride + off), v);
            a3 += Avx512BW.MultiplyAddAdjacent(Weights512(ref w, 3 * stride + off), v);
        }
        Put(ref y, a0, first); Put(ref Unsafe.Add(ref y, Block), a1, first);
        Put(ref Unsafe.Add(ref y, 2 * Block), a2, first); Put(ref Unsafe.Add(ref y, 3 * Block), a3, first);
    }

    private void Block512(int b, ReadOnlySpan<int> xp, int q0, int q1, ref float y, bool first)
    {
        ref sbyte w = ref _data[b * BlockBytes];
        Vector512<int> a = default;
        for (int q = q0; q < q1; q++)
            a += Avx512BW.MultiplyAddAdjacent(Weights512(ref w, q * PairBytes), Vector512.Create(xp[q]).AsInt16());
        Put(ref y, a, first);
    }

    private void Block256(int b, ReadOnlySpan<int> xp, int q0, int q1, ref float y, bool first)
    {
        ref sbyte w = ref _data[b * BlockBytes];
        Vector256<int> lo = default, hi = default;
        for (int q = q0; q < q1; q++)
        {
            var v = Vector256.Create(xp[q]).AsInt16();
            lo += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref w, (nuint)(q * PairBytes))), v);
            hi += Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref w, (nuint)(q * PairBytes + 16))), v);
        }
        Put(ref y, lo, first);
        Put(ref Unsafe.Add(ref y, 8), hi, first);
    }

    private void BlockScalar(int b, ReadOnlySpan<int> xp, int q0, int q1, ref float y, bool first)
    {
        ReadOnlySpan<sbyte> w = _data.AsSpan(b * BlockBytes, BlockBytes);
        for (int c = 0; c < Block; c++)
        {
            int acc = 0;
            for (int q = q0; q < q1; q++)
            {
                int pair = xp[q];
                acc += (short)pair * w[q * PairBytes + 2 * c] + (short)(pair >> 16) * w[q * PairBytes + 2 * c + 1];
            }
            ref float dst = ref Unsafe.Add(ref y, c);
            dst = first ? acc : dst + acc;
        }
    }
}
