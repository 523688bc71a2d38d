using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.MLNet.Math;

/// <summary>
/// A float weight matrix W [N, K] quantized to int8 per output row, for Y [M, N] = X [M, K] · Wᵀ with the inputs quantized
/// to 7-bit integers per row on every call and the products summed exactly in integers: the
/// <see cref="InferencePrecision.Int8Weights"/> path of float inference (a quarter of the float matrix's bytes, and 64
/// multiply–adds per AVX-512 vpmaddubsw + vpmaddwd pair against a float FMA's 16).
/// </summary>
/// <remarks>
/// <para>Quantization (symmetric, round to nearest even): row r of W is stored as qw = round(w / s_r) ∈ [−127, 127] with
/// s_r = max_k |W[r, k]| / 127; row m of X as qx = round(x / t_m) ∈ [−63, 63] with t_m = max_k |X[m, k]| / 63. Then
/// y[m, r] = float(Σ_k qx·qw) · s_r · t_m (+ bias_r, when packed with biases). Each weight is off by at most s_r / 2 and
/// each input by at most t_m / 2, so |y − x·w| ≤ (s_r/2)·Σ|x| + (t_m/2)·Σ|w| + (s_r·t_m/4)·K, plus float rounding of
/// the final products (<see cref="ErrorBound"/>). A row of zeros gives zeros; a non-finite weight or input makes its outputs NaN.</para>
/// <para>Kernel: vpmaddubsw multiplies unsigned by signed bytes, so the weights are stored offset, qw + 128 ∈ [1, 255], and
/// Σ (qw + 128)·qx − 128·Σ qx gives the sum; the inputs' 7 bits keep each pair of products within int16
/// (2·255·63 = 32130 &lt; 32767: vpmaddubsw never saturates), and vpmaddwd by ones adds the pairs into int32.
/// Layout: blocks of <see cref="Block"/> rows of W (outputs) and, in each block, the K inputs in quads: byte
/// (block, g, c, j) holds qw[16·block + c, 4g + j] + 128 (128 past N and K, where the inputs are zero), so the 64 bytes of
/// (block, g) times the broadcast quad (qx[4g .. 4g + 3]) give the 16 outputs' quad sums. The int32 sums are exact for
/// <see cref="ChunkQuads"/> quads; longer rows are summed chunk by chunk, each chunk's sum converted to float and added in
/// chunk order. Integer sums are exact and the float steps are the same on every <see cref="SimdPath"/>, so every path and
/// every tiling gives the same bits, and a row's result does not depend on the other rows of the call.</para>
/// </remarks>
internal sealed class Int8Matrix
{
    /// <summary>Outputs per block.</summary>
    internal const int Block = 16;

    /// <summary>Input quads summed in one int32 before the partial sum goes to float: 32768 · 2 · 2 · 255 · 63 &lt; 2³¹.</summary>
    internal const int ChunkQuads = 32768;

    /// <summary>Largest |qw|: weights take 8 bits.</summary>
    internal const int WeightLevels = 127;

    /// <summary>Largest |qx|: inputs take 7 bits, so that vpmaddubsw's pair sums stay within int16.</summary>
    internal const int InputLevels = 63;

    private const int Offset = 128; // stored weight = qw + Offset, unsigned
    private const int Tile = 4; // rows per tile of the input; blocks per call of the wide kernels
    private const int QuadBytes = 4 * Block; // bytes of one (block, g)

    private byte[] _data = Array.Empty<byte>();
    private float[] _scaleBias = Array.Empty<float>(); // per block: the 16 rows' s_r, then their biases (zero past N)
    private long _version = -1;
    private ReadOnlyMemory<float> _source;

    public int N { get; private set; }
    public int K { get; private set; }
    private int Quads => (K + 3) / 4;
    private int BlockBytes => Quads * QuadBytes;

    /// <summary>Scale s_r of output row <paramref name="row"/> (the weight of qw = 1), for tests.</summary>
    internal float RowScale(int row) => _scaleBias[(row / Block) * 2 * Block + row % Block];

    /// <summary>Quantized weight qw[row, k], for tests.</summary>
    internal int Weight(int row, int k) => _data[(row / Block) * BlockBytes + (k / 4) * QuadBytes + (row % Block) * 4 + (k & 3)] - Offset;

    /// <summary>
    /// Quantizes and packs W [n, k] (row-major, leading dimension k) unless it is the same memory packed at the same
    /// <paramref name="version"/> (the owner's <see cref="Models.ParameterStore{T}.Version"/>). <paramref name="bias"/>
    /// [n] (optional, of the same version) is added to every product's row: y = float(Σ)·s_r·t + bias_r.
    /// </summary>
    public void PackReusing(ReadOnlyMemory<float> w, int n, int k, long version, ReadOnlySpan<float> bias = default)
    {
        if (version == _version && n == N && k == K && w.Equals(_source)) return;
        N = n; K = k; _source = w;
        int blocks = (n + Block - 1) / Block, blockBytes = BlockBytes;
        if (_data.Length < blocks * blockBytes) _data = new byte[blocks * blockBytes];
        if (_scaleBias.Length < 2 * blocks * Block) _scaleBias = new float[2 * blocks * Block];
        Array.Fill(_data, (byte)Offset, 0, blocks * blockBytes);
        Array.Clear(_scaleBias, 0, 2 * blocks * Block);
        ReadOnlySpan<float> src = w.Span;
        Span<sbyte> row = k <= 16384 ? stackalloc sbyte[k] : new sbyte[k];
        for (int r = 0; r < n; r++)
        {
            _scaleBias[(r / Block) * 2 * Block + r % Block] = Quantize(src.Slice(r * k, k), row, WeightLevels, out _);
            if (!bias.IsEmpty) _scaleBias[(r / Block) * 2 * Block + Block + r % Block] = bias[r];
            int at = (r / Block) * blockBytes + (r % Block) * 4;
            for (int p = 0; p < k; p++) _data[at + (p / 4) * QuadBytes + (p & 3)] = (byte)(row[p] + Offset);
        }
        _version = version;
    }

    /// <summary>
    /// q = round(x / t) with t = max |x| / <paramref name="levels"/> (ties to even; levels ≤ 127), returning t and
    /// <paramref name="sum"/> = Σ q: zero for a zero row, NaN (with q zero) when x holds a NaN or an infinity. The same IEEE
    /// steps on every path (max, one multiply, round).
    /// </summary>
    internal static float Quantize(ReadOnlySpan<float> x, Span<sbyte> q, int levels, out int sum)
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
        sum = 0;
        if (!float.IsFinite(max) || max == 0f)
        {
            q.Slice(0, n).Clear();
            return max == 0f ? 0f : float.NaN;
        }
        float inverse = levels / max, scale = max / levels;
        i = 0;
        ref sbyte dst = ref MemoryMarshal.GetReference(q);
        if (Simd.Path == SimdPath.Vector512)
        {
            var inv = Vector512.Create(inverse);
            var total = Vector512<int>.Zero;
            for (; i + 64 <= n; i += 64)
            {
                var a = Vector512.ConvertToInt32(Vector512.Round(Vector512.Create(x.Slice(i, 16)) * inv));
                var b = Vector512.ConvertToInt32(Vector512.Round(Vector512.Create(x.Slice(i + 16, 16)) * inv));
                var c = Vector512.ConvertToInt32(Vector512.Round(Vector512.Create(x.Slice(i + 32, 16)) * inv));
                var d = Vector512.ConvertToInt32(Vector512.Round(Vector512.Create(x.Slice(i + 48, 16)) * inv));
                total += a + b + c + d;
                Vector512.Narrow(Vector512.Narrow(a, b), Vector512.Narrow(c, d)).StoreUnsafe(ref dst, (nuint)i);
            }
            sum = Vector512.Sum(total);
        }
        else if (Simd.Path == SimdPath.Vector256)
        {
            var inv = Vector256.Create(inverse);
            var total = Vector256<int>.Zero;
            for (; i + 32 <= n; i += 32)
            {
                var a = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x.Slice(i, 8)) * inv));
                var b = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x.Slice(i + 8, 8)) * inv));
                var c = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x.Slice(i + 16, 8)) * inv));
                var d = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x.Slice(i + 24, 8)) * inv));
                total += a + b + c + d;
                Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, d)).StoreUnsafe(ref dst, (nuint)i);
            }
            sum = Vector256.Sum(total);
        }
        for (; i < n; i++)
        {
            int v = (int)MathF.Round(x[i] * inverse); // |x·inverse| ≤ levels·(1 + 2⁻²³): no clamp needed
            q[i] = (sbyte)v;
            sum += v;
        }
        return scale;
    }

    // the largest lane (NaN when a lane is NaN: Vector128.Max is IEEE maximum, as MathF.Max is), by a tree of lane swaps
    // instead of eight dependent scalar steps; the lanes are |x| ≥ +0, so the order of the maxima cannot change the result
    private static float MaxOf(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
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
        return quantization + (exact + quantization) * 4 * 1.2e-7 * (1 + x.Length / (4.0 * ChunkQuads));
    }

    /// <summary>
    /// Y [m, N] = X [m, K] · Wᵀ (X row i at <paramref name="x"/>[i·ldx], Y row i at <paramref name="y"/>[i·ldy]), each row of
    /// X quantized on the way, on the current <see cref="SimdPath"/>. Safe to call from several threads at once. A large
    /// product (as <see cref="Gemm"/> judges one) is split by rows between <see cref="Parallelism.MaxThreads"/> threads;
    /// every row is computed the same way whichever thread runs it.
    /// </summary>
    public unsafe void Multiply(int m, ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy)
    {
        if (m < 0 || (m > 0 && (x.Length < (m - 1) * ldx + K || y.Length < (m - 1) * ldy + N || ldx < K || ldy < N)))
            throw new ArgumentException($"Need {m} rows of x with {K} values and of y with {N} values (leading dimensions {ldx}, {ldy}), have {x.Length} and {y.Length}.");
        SimdPath path = Simd.Path;
        if (path == SimdPath.Vector512 && !Avx512BW.IsSupported) path = SimdPath.Scalar; // never on x64, where Vector512 needs AVX-512 BW
        if (path == SimdPath.Vector256 && !Avx2.IsSupported) path = SimdPath.Scalar;
        int parts = (long)m * N * K >= Gemm.ParallelThreshold ? System.Math.Min(Parallelism.MaxThreads, (m + Tile - 1) / Tile) : 1;
        if (parts <= 1)
        {
            Rows(0, m, x, ldx, y, ldy, path);
            return;
        }
        var job = RowsJob.Current;
        fixed (float* px = x, py = y)
        {
            job.Set(this, m, px, x.Length, ldx, py, y.Length, ldy, path);
            try { WorkerPool.Run(job, parts); }
            finally { job.Clear(); }
        }
    }

    /// <summary>One part of a parallel product: a range of whole row tiles.</summary>
    private sealed unsafe class RowsJob : ParallelJob
    {
        [ThreadStatic] private static RowsJob? s_current;
        public static RowsJob Current => s_current ??= new RowsJob();

        private Int8Matrix? _matrix;
        private int _m, _xLen, _ldx, _yLen, _ldy;
        private float* _x, _y;
        private SimdPath _path;

        public void Set(Int8Matrix matrix, int m, float* x, int xLen, int ldx, float* y, int yLen, int ldy, SimdPath path)
        {
            _matrix = matrix; _m = m; _x = x; _xLen = xLen; _ldx = ldx; _y = y; _yLen = yLen; _ldy = ldy; _path = path;
        }

        public void Clear() { _matrix = null; _x = null; _y = null; }

        public override void Execute(int part, int parts)
        {
            var (r0, r1) = Share(_m, part, parts, Tile);
            if (r0 < r1) _matrix!.Rows(r0, r1, new ReadOnlySpan<float>(_x, _xLen), _ldx, new Span<float>(_y, _yLen), _ldy, _path);
        }
    }

    // rows [r0, r1) of the product (r0 a multiple of the tile)
    private void Rows(int r0Start, int r1, ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy, SimdPath path)
    {
        int quads = Quads, padded = 4 * quads, blocks = (N + Block - 1) / Block, whole = N / Block;
        Span<sbyte> xq = Tile * padded <= 32768 ? stackalloc sbyte[Tile * padded] : new sbyte[Tile * padded];
        Span<float> xScale = stackalloc float[Tile];
        Span<int> xSum = stackalloc int[Tile], correction = stackalloc int[Tile];
        Span<float> tail = stackalloc float[Tile * Block]; // the last block's outputs when N is not a multiple of 16
        for (int r0 = r0Start; r0 < r1; r0 += Tile)
        {
            int rows = System.Math.Min(Tile, r1 - r0);
            for (int r = 0; r < rows; r++)
            {
                Span<sbyte> row = xq.Slice(r * padded, padded);
                xScale[r] = Quantize(x.Slice((r0 + r) * ldx, K), row, InputLevels, out xSum[r]);
                row.Slice(K).Clear();
            }
            ReadOnlySpan<int> xp = MemoryMarshal.Cast<sbyte, int>(xq); // quad g of row r at r·quads + g: qx[4g .. 4g + 3]
            ref float y0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), r0 * ldy);
            for (int g0 = 0; g0 < quads; g0 += ChunkQuads)
            {
                int g1 = System.Math.Min(quads, g0 + ChunkQuads);
                bool first = g0 == 0, last = g1 == quads;
                for (int r = 0; r < rows; r++) correction[r] = Offset * (g1 - g0 == quads ? xSum[r] : SumOf(xq.Slice(r * padded + 4 * g0, 4 * (g1 - g0))));
                int b = 0;
                if (path == SimdPath.Vector512)
                {
                    if (rows == Tile)
                        for (; b + 4 <= whole; b += 4) Rows4Blocks4(b, xp, quads, g0, g1, correction, ref Unsafe.Add(ref y0, b * Block), ldy, first, last, xScale);
                    for (; b + 4 <= whole; b += 4)
                        for (int r = 0; r < rows; r++) Row1Blocks4(b, xp.Slice(r * quads), g0, g1, correction[r], ref Unsafe.Add(ref y0, r * ldy + b * Block), first, last, xScale[r]);
                }
                for (; b < blocks; b++)
                    for (int r = 0; r < rows; r++)
                    {
                        ref float dst = ref (b < whole ? ref Unsafe.Add(ref y0, r * ldy + b * Block) : ref tail[r * Block]);
                        ReadOnlySpan<int> xr = xp.Slice(r * quads);
                        switch (path)
                        {
                            case SimdPath.Vector512: Block512(b, xr, g0, g1, correction[r], ref dst, first, last, xScale[r]); break;
                            case SimdPath.Vector256: Block256(b, xr, g0, g1, correction[r], ref dst, first, last, xScale[r]); break;
                            default: BlockScalar(b, xr, g0, g1, correction[r], ref dst, first, last, xScale[r]); break;
                        }
                    }
            }
            if (whole < blocks)
                for (int r = 0; r < rows; r++) tail.Slice(r * Block, N - whole * Block).CopyTo(y.Slice((r0 + r) * ldy + whole * Block));
        }
    }

    private static int SumOf(ReadOnlySpan<sbyte> q)
    {
        int sum = 0;
        foreach (sbyte v in q) sum += v;
        return sum;
    }

    // dst[0..16) = (first ? 0 : dst) + float(acc − correction), the chunk's exact sums; after the last chunk, times the
    // rows' scales (at s) and the input's scale t, plus the rows' biases (at s + 16): y = (sum · s_r) · t + bias_r
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float dst, Vector512<int> acc, Vector512<int> correction, bool first, bool last, ref float s, float t)
    {
        var f = Vector512.ConvertToSingle(acc - correction);
        if (!first) f = Vector512.LoadUnsafe(ref dst) + f;
        if (last) f = f * Vector512.LoadUnsafe(ref s) * Vector512.Create(t) + Vector512.LoadUnsafe(ref s, Block);
        f.StoreUnsafe(ref dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float dst, Vector256<int> acc, Vector256<int> correction, bool first, bool last, ref float s, float t)
    {
        var f = Vector256.ConvertToSingle(acc - correction);
        if (!first) f = Vector256.LoadUnsafe(ref dst) + f;
        if (last) f = f * Vector256.LoadUnsafe(ref s) * Vector256.Create(t) + Vector256.LoadUnsafe(ref s, Block);
        f.StoreUnsafe(ref dst);
    }

    // the 16 outputs' sums over one quad: (qw + 128)·qx in int16 pairs (never saturating), then the pairs added into int32
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Quad512(ref byte w, int offset, Vector512<sbyte> x, Vector512<short> ones) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.LoadUnsafe(ref w, (nuint)offset), x), ones);

    // Four rows × four blocks: sixteen independent int32 chains, each weight vector used by four rows.
    private void Rows4Blocks4(int b, ReadOnlySpan<int> xp, int quads, int g0, int g1, ReadOnlySpan<int> correction, ref float y, int ldy, bool first, bool last, ReadOnlySpan<float> t)
    {
        int stride = BlockBytes;
        ref byte w = ref _data[b * stride];
        ref int x0 = ref MemoryMarshal.GetReference(xp);
        ref int x1 = ref Unsafe.Add(ref x0, quads);
        ref int x2 = ref Unsafe.Add(ref x0, 2 * quads);
        ref int x3 = ref Unsafe.Add(ref x0, 3 * quads);
        var ones = Vector512.Create((short)1);
        Vector512<int> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<int> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        for (int g = g0; g < g1; g++)
        {
            int off = g * QuadBytes;
            var w0 = Vector512.LoadUnsafe(ref w, (nuint)off);
            var w1 = Vector512.LoadUnsafe(ref w, (nuint)(stride + off));
            var w2 = Vector512.LoadUnsafe(ref w, (nuint)(2 * stride + off));
            var w3 = Vector512.LoadUnsafe(ref w, (nuint)(3 * stride + off));
            var v = Vector512.Create(Unsafe.Add(ref x0, g)).AsSByte();
            a00 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w0, v), ones); a01 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w1, v), ones);
            a02 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w2, v), ones); a03 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w3, v), ones);
            v = Vector512.Create(Unsafe.Add(ref x1, g)).AsSByte();
            a10 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w0, v), ones); a11 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w1, v), ones);
            a12 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w2, v), ones); a13 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w3, v), ones);
            v = Vector512.Create(Unsafe.Add(ref x2, g)).AsSByte();
            a20 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w0, v), ones); a21 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w1, v), ones);
            a22 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w2, v), ones); a23 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w3, v), ones);
            v = Vector512.Create(Unsafe.Add(ref x3, g)).AsSByte();
            a30 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w0, v), ones); a31 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w1, v), ones);
            a32 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w2, v), ones); a33 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w3, v), ones);
        }
        ref float s = ref _scaleBias[b * 2 * Block];
        Put4(ref y, a00, a01, a02, a03, correction[0], first, last, ref s, t[0]);
        Put4(ref Unsafe.Add(ref y, ldy), a10, a11, a12, a13, correction[1], first, last, ref s, t[1]);
        Put4(ref Unsafe.Add(ref y, 2 * ldy), a20, a21, a22, a23, correction[2], first, last, ref s, t[2]);
        Put4(ref Unsafe.Add(ref y, 3 * ldy), a30, a31, a32, a33, correction[3], first, last, ref s, t[3]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put4(ref float y, Vector512<int> a0, Vector512<int> a1, Vector512<int> a2, Vector512<int> a3, int correction, bool first, bool last, ref float s, float t)
    {
        var c = Vector512.Create(correction);
        Put(ref y, a0, c, first, last, ref s, t);
        Put(ref Unsafe.Add(ref y, Block), a1, c, first, last, ref Unsafe.Add(ref s, 2 * Block), t);
        Put(ref Unsafe.Add(ref y, 2 * Block), a2, c, first, last, ref Unsafe.Add(ref s, 4 * Block), t);
        Put(ref Unsafe.Add(ref y, 3 * Block), a3, c, first, last, ref Unsafe.Add(ref s, 6 * Block), t);
    }

    // One row × four blocks (a single sequence's step): four independent chains.
    private void Row1Blocks4(int b, ReadOnlySpan<int> xp, int g0, int g1, int correction, ref float y, bool first, bool last, float t)
    {
        int stride = BlockBytes;
        ref byte w = ref _data[b * stride];
        ref int x0 = ref MemoryMarshal.GetReference(xp);
        var ones = Vector512.Create((short)1);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = g0; g < g1; g++)
        {
            int off = g * QuadBytes;
            var v = Vector512.Create(Unsafe.Add(ref x0, g)).AsSByte();
            a0 += Quad512(ref w, off, v, ones);
            a1 += Quad512(ref w, stride + off, v, ones);
            a2 += Quad512(ref w, 2 * stride + off, v, ones);
            a3 += Quad512(ref w, 3 * stride + off, v, ones);
        }
        Put4(ref y, a0, a1, a2, a3, correction, first, last, ref _scaleBias[b * 2 * Block], t);
    }

    private void Block512(int b, ReadOnlySpan<int> xp, int g0, int g1, int correction, ref float y, bool first, bool last, float t)
    {
        ref byte w = ref _data[b * BlockBytes];
        var ones = Vector512.Create((short)1);
        Vector512<int> a = default;
        for (int g = g0; g < g1; g++) a += Quad512(ref w, g * QuadBytes, Vector512.Create(xp[g]).AsSByte(), ones);
        Put(ref y, a, Vector512.Create(correction), first, last, ref _scaleBias[b * 2 * Block], t);
    }

    private void Block256(int b, ReadOnlySpan<int> xp, int g0, int g1, int correction, ref float y, bool first, bool last, float t)
    {
        ref byte w = ref _data[b * BlockBytes];
        var ones = Vector256.Create((short)1);
        Vector256<int> lo = default, hi = default;
        for (int g = g0; g < g1; g++)
        {
            var v = Vector256.Create(xp[g]).AsSByte();
            lo += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref w, (nuint)(g * QuadBytes)), v), ones);
            hi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref w, (nuint)(g * QuadBytes + 32)), v), ones);
        }
        var c = Vector256.Create(correction);
        Put(ref y, lo, c, first, last, ref _scaleBias[b * 2 * Block], t);
        Put(ref Unsafe.Add(ref y, 8), hi, c, first, last, ref _scaleBias[b * 2 * Block + 8], t);
    }

    private void BlockScalar(int b, ReadOnlySpan<int> xp, int g0, int g1, int correction, ref float y, bool first, bool last, float t)
    {
        ReadOnlySpan<byte> w = _data.AsSpan(b * BlockBytes, BlockBytes);
        for (int c = 0; c < Block; c++)
        {
            int acc = 0;
            for (int g = g0; g < g1; g++)
            {
                int quad = xp[g];
                for (int j = 0; j < 4; j++) acc += w[g * QuadBytes + 4 * c + j] * (sbyte)(quad >> (8 * j));
            }
            ref float dst = ref Unsafe.Add(ref y, c);
            dst = first ? acc - correction : dst + (acc - correction);
            if (last) dst = dst * _scaleBias[b * 2 * Block + c] * t + _scaleBias[b * 2 * Block + Block + c];
        }
    }
}
