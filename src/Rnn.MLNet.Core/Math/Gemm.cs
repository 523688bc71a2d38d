using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.MLNet.Math;

/// <summary>
/// Row-major general matrix multiply: C[M,N] = (accumulate ? C : 0) + op(A)[M,K] · op(B)[K,N].
/// op(A) is A stored [M,K] (lda ≥ K) or, with <c>transA</c>, A stored [K,M] (lda ≥ M); likewise for B.
/// </summary>
/// <remarks>
/// Goto/BLIS structure: K is cut into blocks of <see cref="KC"/>, N into blocks of <see cref="NC"/>; within a block A is
/// packed into row panels of <see cref="MR"/> and B into column panels of NR (two SIMD vectors), so the micro-kernel
/// streams both operands linearly. Edges are zero-padded in the packed copies and written back through a small tile.
/// B can be packed once and reused (<see cref="PackedB{T}"/>): a recurrent layer multiplies by the same W_hh at every
/// step. Large products are split between <see cref="Parallelism.MaxThreads"/> threads over columns, rows or the summation,
/// whichever repeats the least packing (<see cref="ChooseSplit"/>); the choice depends on the shape only and the summation
/// order of every element is the same whatever the thread count, so results do not depend on it.
/// The naive twin is <see cref="GemmReference"/>; tests compare the two on every tail length.
/// </remarks>
internal static class Gemm
{
    internal const int MR = 6;
    internal const int KC = 256;
    internal const int MC = 72;  // rows of A packed at once (multiple of MR)
    internal const int NC = 1024; // columns of B per block

    /// <summary>Below this many multiply–adds a product runs on one thread.</summary>
    internal const long ParallelThreshold = 1L << 19;

    /// <summary>Width of a packed column panel of B on <paramref name="path"/>: two vectors (the scalar path: two 128-bit widths).</summary>
    internal static int NR<T>(SimdPath path) where T : unmanaged => path switch
    {
        SimdPath.Vector512 => 2 * Vector512<T>.Count,
        SimdPath.Vector256 => 2 * Vector256<T>.Count,
        _ => 2 * Vector128<T>.Count,
    };

    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        if (m == 0 || n == 0) return;
        CheckSizes(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (k == 0) { ClearOrKeep(m, n, c, ldc, accumulate); return; }
        if (m <= SmallM)
        {
            MultiplySmallM(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        Run(Simd.Path, transA, m, n, k, a, lda, null, transB, b, ldb, c, ldc, accumulate);
    }

    /// <summary>C (+)= op(A) · B with B packed beforehand by <see cref="PackedB{T}.Pack"/>.</summary>
    public static void Multiply<T>(bool transA, int m, PackedB<T> b, ReadOnlySpan<T> a, int lda, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(b);
        int n = b.N, k = b.K;
        if (m == 0 || n == 0) return;
        CheckSizes(transA, false, m, n, k, a.Length, lda, n * k, n, c.Length, ldc);
        if (k == 0) { ClearOrKeep(m, n, c, ldc, accumulate); return; }
        b.EnsurePanels(); // before any worker reads them
        if (m <= SmallM)
        {
            PanelRows(transA, m, b, a, lda, c, ldc, accumulate);
            return;
        }
        Run(b.Path, transA, m, n, k, a, lda, b, false, default, 0, c, ldc, accumulate); // the path B was packed for
    }

    private static void ClearOrKeep<T>(int m, int n, Span<T> c, int ldc, bool accumulate) where T : unmanaged
    {
        if (!accumulate) for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
    }

    /// <summary>How a large product is cut into independent parts.</summary>
    internal enum Split
    {
        /// <summary>Ranges of NR-wide column panels; every part packs all of op(A).</summary>
        Columns,
        /// <summary>Ranges of MR-row panels; every part packs all of op(B) (nothing when B is pre-packed).</summary>
        Rows,
        /// <summary>
        /// Two halves of the summation, the second into a partial C that is then added: no packing is repeated, at the cost
        /// of one extra M×N pass. Chosen from the shape alone and used whatever the thread count (one thread runs both
        /// halves in turn), so results stay bit-identical for any number of threads.
        /// </summary>
        Depth,
    }

    /// <summary>
    /// The split that repeats the least work for a product of this shape (depends on the shape only, never on the thread
    /// count). Column parts repeat the packing of op(A) (M·K values), row parts that of op(B) (K·N, none when pre-packed),
    /// the depth split costs an M·N partial result; rows need enough rows and depth enough summation to be worth cutting.
    /// </summary>
    internal static Split ChooseSplit(int m, int n, int k, bool prepacked)
    {
        if ((long)m * n * k < ParallelThreshold) return Split.Columns;
        long columns = (long)m * k;
        long rows = m >= 2 * MC ? (prepacked ? 0 : (long)k * n) : long.MaxValue;
        long depth = !prepacked && k >= 4 * KC ? (long)m * n : long.MaxValue;
        if (depth < columns && depth < rows) return Split.Depth;
        return rows < columns ? Split.Rows : Split.Columns;
    }

    /// <summary>Runs the blocked product, split into parts (see <see cref="Split"/>) when it is large enough.</summary>
    private static unsafe void Run<T>(SimdPath path, bool transA, int m, int n, int k, ReadOnlySpan<T> a, int lda, PackedB<T>? packed,
        bool transB, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int nr = NR<T>(path);
        var split = ChooseSplit(m, n, k, packed is not null);
        int threads = (long)m * n * k >= ParallelThreshold ? Parallelism.MaxThreads : 1;
        int parts = split switch
        {
            Split.Rows => System.Math.Min(threads, (m + MR - 1) / MR),
            Split.Depth => 2 * System.Math.Max(1, System.Math.Min(threads / 2, (n + nr - 1) / nr)),
            _ => System.Math.Min(threads, (n + nr - 1) / nr),
        };
        if (parts <= 1)
        {
            Blocked(path, transA, m, 0, n, k, a, lda, packed, transB, b, ldb, c, ldc, accumulate);
            return;
        }
        var job = GemmJob<T>.Current;
        Span<T> partial = split == Split.Depth ? job.Partial(m * n) : default;
        fixed (T* pa = a, pb = b, pc = c, pp = partial)
        {
            job.Set(split, transA, m, n, k, pa, a.Length, lda, packed, transB, pb, b.Length, ldb, pc, c.Length, ldc, pp, accumulate, path);
            try
            {
                if (split == Split.Depth && threads < 2) { job.Execute(0, 2); job.Execute(1, 2); } // same halves, one thread
                else WorkerPool.Run(job, parts);
            }
            finally { job.Clear(); }
        }
        if (split == Split.Depth)
            for (int i = 0; i < m; i++) // C = (C + first half) + second half: the same order for every thread count
            {
                Span<T> row = c.Slice(i * ldc, n);
                System.Numerics.Tensors.TensorPrimitives.Add(row, partial.Slice(i * n, n), row);
            }
    }

    /// <summary>
    /// One part of a parallel product. Columns: a range of NR-wide column panels; rows: a range of MR-row panels; depth:
    /// parts come in two halves of K (the first half into C, the second into the partial buffer), each half cut into
    /// column ranges when there are threads to spare.
    /// </summary>
    private sealed unsafe class GemmJob<T> : ParallelJob where T : unmanaged, INumber<T>
    {
        [ThreadStatic] private static GemmJob<T>? s_current;
        public static GemmJob<T> Current => s_current ??= new GemmJob<T>();

        private readonly AlignedBuffer<T> _partial = new();
        private Split _split;
        private bool _transA, _transB, _accumulate;
        private int _m, _n, _k, _lda, _ldb, _ldc, _nr, _aLen, _bLen, _cLen;
        private SimdPath _path;
        private T* _a, _b, _c, _p;
        private PackedB<T>? _packed;

        /// <summary>The depth split's partial result [M, N], reused between calls.</summary>
        public Span<T> Partial(int size)
        {
            _partial.EnsureCapacity(size);
            return _partial.Span.Slice(0, size);
        }

        public void Set(Split split, bool transA, int m, int n, int k, T* a, int aLen, int lda, PackedB<T>? packed, bool transB, T* b, int bLen, int ldb,
            T* c, int cLen, int ldc, T* partial, bool accumulate, SimdPath path)
        {
            _split = split; _transA = transA; _m = m; _n = n; _k = k; _a = a; _aLen = aLen; _lda = lda; _packed = packed; _transB = transB;
            _b = b; _bLen = bLen; _ldb = ldb; _c = c; _cLen = cLen; _ldc = ldc; _p = partial; _accumulate = accumulate; _path = path; _nr = NR<T>(path);
        }

        public void Clear() { _a = _b = _c = _p = null; _packed = null; }

        public override void Execute(int part, int parts)
        {
            var a = new ReadOnlySpan<T>(_a, _aLen);
            var b = new ReadOnlySpan<T>(_b, _bLen);
            var c = new Span<T>(_c, _cLen);
            switch (_split)
            {
                case Split.Rows:
                {
                    var (i0, i1) = Share(_m, part, parts, MR);
                    if (i0 >= i1) return;
                    Blocked(_path, _transA, i1 - i0, 0, _n, _k, a.Slice(_transA ? i0 : i0 * _lda), _lda, _packed, _transB, b, _ldb,
                        c.Slice(i0 * _ldc), _ldc, _accumulate);
                    break;
                }
                case Split.Depth:
                {
                    int groups = parts / 2, half = part / groups, g = part % groups;
                    int kMid = RoundUp(_k / 2, KC); // both halves keep whole KC blocks but the last
                    int k0 = half == 0 ? 0 : kMid, k1 = half == 0 ? kMid : _k;
                    var (j0, j1) = Share(_n, g, groups, _nr);
                    if (j0 >= j1) return;
                    ReadOnlySpan<T> aHalf = a.Slice(_transA ? k0 * _lda : k0), bHalf = b.Slice(_transB ? k0 : k0 * _ldb);
                    if (half == 0) Blocked(_path, _transA, _m, j0, j1, k1 - k0, aHalf, _lda, null, _transB, bHalf, _ldb, c, _ldc, _accumulate);
                    else Blocked(_path, _transA, _m, j0, j1, k1 - k0, aHalf, _lda, null, _transB, bHalf, _ldb, new Span<T>(_p, _m * _n), _n, false);
                    break;
                }
                default:
                {
                    var (j0, j1) = Share(_n, part, parts, _nr);
                    if (j0 >= j1) return;
                    Blocked(_path, _transA, _m, j0, j1, _k, a, _lda, _packed, _transB, b, _ldb, c, _ldc, _accumulate);
                    break;
                }
            }
        }
    }

    /// <summary>
    /// The blocked algorithm over columns [jStart, jEnd) (jStart a multiple of NR). With few rows (one MC block) and B
    /// stored [K, N], the micro-kernel reads B's rows in place instead of a packed copy: each panel is used by only
    /// ⌈M / MR⌉ kernels, so copying it would cost more than the strided reads (only a partial last panel is copied, so
    /// no read runs past the matrix).
    /// </summary>
    private static void Blocked<T>(SimdPath path, bool transA, int m, int jStart, int jEnd, int k, ReadOnlySpan<T> a, int lda, PackedB<T>? packed,
        bool transB, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int nr = NR<T>(path);
        bool direct = packed is null && !transB && m <= MC;
        int bScratch = packed is not null ? 0 : direct ? nr * System.Math.Min(KC, k) : System.Math.Min(NC, RoundUp(jEnd - jStart, nr)) * System.Math.Min(KC, k);
        var scratch = GemmScratch<T>.Get(MC * System.Math.Min(KC, k), bScratch);
        Span<T> packA = scratch.A;
        for (int j0 = jStart; j0 < jEnd;)
        {
            int nc = System.Math.Min(NC - j0 % NC, jEnd - j0); // never cross an NC block: packed B is stored by blocks
            for (int p0 = 0; p0 < k; p0 += KC)
            {
                int kc = System.Math.Min(KC, k - p0);
                bool acc = accumulate || p0 > 0;
                ReadOnlySpan<T> packB = default;
                if (packed is not null) packB = packed.Panels(p0, j0, kc, nc);
                else if (!direct)
                {
                    PackB(path, transB, b, ldb, p0, j0, kc, nc, nr, scratch.B);
                    packB = scratch.B;
                }
                for (int i0 = 0; i0 < m; i0 += MC)
                {
                    int mc = System.Math.Min(MC, m - i0);
                    PackA(transA, a, lda, i0, p0, mc, kc, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nValid = System.Math.Min(nr, nc - jr);
                        int bStride = nr;
                        ref T bPanel = ref Unsafe.NullRef<T>();
                        if (!direct) bPanel = ref Unsafe.AsRef(in packB[jr * kc]);
                        else if (nValid == nr)
                        {
                            bPanel = ref Unsafe.AsRef(in b[p0 * ldb + j0 + jr]);
                            bStride = ldb;
                        }
                        else
                        {
                            PackB(path, false, b, ldb, p0, j0 + jr, kc, nValid, nr, scratch.B);
                            bPanel = ref scratch.B[0];
                        }
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mValid = System.Math.Min(MR, mc - ir);
                            ref T aPanel = ref packA[ir * kc];
                            if (mValid == MR && nValid == nr)
                            {
                                Kernel(path, kc, ref aPanel, ref bPanel, bStride, ref c[(i0 + ir) * ldc + j0 + jr], ldc, acc);
                            }
                            else
                            {
                                Span<T> t = scratch.Tile;
                                Kernel(path, kc, ref aPanel, ref bPanel, bStride, ref t[0], nr, false);
                                for (int r = 0; r < mValid; r++)
                                {
                                    Span<T> dst = c.Slice((i0 + ir + r) * ldc + j0 + jr, nValid);
                                    ReadOnlySpan<T> src = t.Slice(r * nr, nValid);
                                    AddOrCopy(src, dst, acc);
                                }
                            }
                        }
                    }
                }
            }
            j0 += nc;
        }
    }

    /// <summary>Up to this many rows of C, packing costs more than it saves (a streaming step with batch 1 is M = 1).</summary>
    internal const int SmallM = 4;

    // Matrix–vector style products for a few rows, without packing:
    //   op(B) = Bᵀ (B stored [N, K]): C[i, j] = dot(A[i, :], B[j, :]), both rows contiguous;
    //   op(B) = B  (B stored [K, N]): C[i, :] += A[i, p] · B[p, :] for each p (row axpy).
    private static void MultiplySmallM<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        Span<T> row = k <= 1024 ? stackalloc T[k] : new T[k];
        for (int i = 0; i < m; i++)
        {
            scoped ReadOnlySpan<T> ai;
            if (!transA) ai = a.Slice(i * lda, k);
            else
            {
                for (int p = 0; p < k; p++) row[p] = a[p * lda + i];
                ai = row;
            }
            Span<T> ci = c.Slice(i * ldc, n);
            if (transB)
            {
                for (int j = 0; j < n; j++)
                {
                    T dot = System.Numerics.Tensors.TensorPrimitives.Dot(ai, b.Slice(j * ldb, k));
                    ci[j] = accumulate ? ci[j] + dot : dot;
                }
            }
            else
            {
                if (!accumulate) ci.Clear();
                for (int p = 0; p < k; p++)
                    if (ai[p] != T.Zero) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(b.Slice(p * ldb, n), ai[p], ci, ci);
            }
        }
    }


    // A few rows of C against pre-packed B (a recurrent step with batch ≤ SmallM: h · W_hhᵀ): each row of op(A) is
    // multiplied into the NR-wide k-major panels one panel at a time, so B streams through contiguous memory; the k loop
    // is unrolled by four into four accumulator pairs (independent multiply–add chains), summed at the end.
    private static void PanelRows<T>(bool transA, int m, PackedB<T> b, ReadOnlySpan<T> a, int lda, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int n = b.N, k = b.K;
        var scratch = GemmScratch<T>.Get(transA ? k : 0, 0);
        for (int i = 0; i < m; i++)
        {
            ReadOnlySpan<T> row;
            if (!transA) row = a.Slice(i * lda, k);
            else
            {
                Span<T> gathered = scratch.A.Slice(0, k);
                for (int p = 0; p < k; p++) gathered[p] = a[p * lda + i];
                row = gathered;
            }
            for (int j0 = 0; j0 < n; j0 += NC)
            {
                int nc = System.Math.Min(NC, n - j0);
                for (int p0 = 0; p0 < k; p0 += KC)
                {
                    int kc = System.Math.Min(KC, k - p0);
                    Span<T> cRow = c.Slice(i * ldc + j0, nc);
                    bool acc = accumulate || p0 > 0;
                    ReadOnlySpan<T> panels = b.Panels(p0, j0, kc, nc), aRow = row.Slice(p0, kc);
                    switch (b.Path) // the path B was packed for (its panel width)
                    {
                        case SimdPath.Vector512: RowPanels512(kc, nc, aRow, panels, cRow, acc, scratch.Tile); break;
                        case SimdPath.Vector256: RowPanels256(kc, nc, aRow, panels, cRow, acc, scratch.Tile); break;
                        default: RowPanelsScalar(kc, nc, aRow, panels, cRow, acc); break;
                    }
                }
            }
        }
    }

    // c[0, nc) (+)= Σ_p a[p] · panels[p, 0..nc): panel q holds columns [q·NR, (q+1)·NR) as kc rows of NR (= 2 vectors).
    private static void RowPanels512<T>(int kc, int nc, ReadOnlySpan<T> a, ReadOnlySpan<T> panels, Span<T> c, bool accumulate, Span<T> tile)
        where T : unmanaged, INumber<T>
    {
        int w = Vector512<T>.Count, nr = 2 * w, stride = kc * nr;
        ref T ra = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        int j = 0;
        for (; j + 4 * nr <= nc; j += 4 * nr) // four whole panels: eight accumulators, one broadcast per eight loads
        {
            ref T b0 = ref Unsafe.AsRef(in panels[j * kc]);
            Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
            for (int p = 0; p < kc; p++)
            {
                var x = Vector512.Create(Unsafe.Add(ref ra, p));
                ref T bp = ref Unsafe.Add(ref b0, p * nr);
                c0 = Fma(x, Vector512.LoadUnsafe(ref bp), c0); c1 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)w), c1);
                c2 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)stride), c2); c3 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(stride + w)), c3);
                c4 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(2 * stride)), c4); c5 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(2 * stride + w)), c5);
                c6 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(3 * stride)), c6); c7 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(3 * stride + w)), c7);
            }
            ref T cj = ref c[j];
            if (accumulate)
            {
                c0 += Vector512.LoadUnsafe(ref cj); c1 += Vector512.LoadUnsafe(ref cj, (nuint)w);
                c2 += Vector512.LoadUnsafe(ref cj, (nuint)(2 * w)); c3 += Vector512.LoadUnsafe(ref cj, (nuint)(3 * w));
                c4 += Vector512.LoadUnsafe(ref cj, (nuint)(4 * w)); c5 += Vector512.LoadUnsafe(ref cj, (nuint)(5 * w));
                c6 += Vector512.LoadUnsafe(ref cj, (nuint)(6 * w)); c7 += Vector512.LoadUnsafe(ref cj, (nuint)(7 * w));
            }
            c0.StoreUnsafe(ref cj); c1.StoreUnsafe(ref cj, (nuint)w); c2.StoreUnsafe(ref cj, (nuint)(2 * w)); c3.StoreUnsafe(ref cj, (nuint)(3 * w));
            c4.StoreUnsafe(ref cj, (nuint)(4 * w)); c5.StoreUnsafe(ref cj, (nuint)(5 * w)); c6.StoreUnsafe(ref cj, (nuint)(6 * w)); c7.StoreUnsafe(ref cj, (nuint)(7 * w));
        }
        for (; j < nc; j += nr) // the remaining panels one at a time; a partial one goes through the tile
        {
            ref T bp = ref Unsafe.AsRef(in panels[j * kc]);
            Vector512<T> c0 = default, c1 = default;
            for (int p = 0; p < kc; p++)
            {
                var x = Vector512.Create(Unsafe.Add(ref ra, p));
                c0 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(p * nr)), c0);
                c1 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(p * nr + w)), c1);
            }
            int valid = System.Math.Min(nr, nc - j);
            if (valid == nr)
            {
                ref T cj = ref c[j];
                if (accumulate) { c0 += Vector512.LoadUnsafe(ref cj); c1 += Vector512.LoadUnsafe(ref cj, (nuint)w); }
                c0.StoreUnsafe(ref cj); c1.StoreUnsafe(ref cj, (nuint)w);
            }
            else
            {
                c0.StoreUnsafe(ref tile[0]); c1.StoreUnsafe(ref tile[0], (nuint)w);
                AddOrCopy(tile.Slice(0, valid), c.Slice(j, valid), accumulate);
            }
        }
    }

    // The same, Vector256 wide.
    private static void RowPanels256<T>(int kc, int nc, ReadOnlySpan<T> a, ReadOnlySpan<T> panels, Span<T> c, bool accumulate, Span<T> tile)
        where T : unmanaged, INumber<T>
    {
        int w = Vector256<T>.Count, nr = 2 * w, stride = kc * nr;
        ref T ra = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        int j = 0;
        for (; j + 4 * nr <= nc; j += 4 * nr) // four whole panels: eight accumulators, one broadcast per eight loads
        {
            ref T b0 = ref Unsafe.AsRef(in panels[j * kc]);
            Vector256<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
            for (int p = 0; p < kc; p++)
            {
                var x = Vector256.Create(Unsafe.Add(ref ra, p));
                ref T bp = ref Unsafe.Add(ref b0, p * nr);
                c0 = Fma(x, Vector256.LoadUnsafe(ref bp), c0); c1 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)w), c1);
                c2 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)stride), c2); c3 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)(stride + w)), c3);
                c4 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)(2 * stride)), c4); c5 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)(2 * stride + w)), c5);
                c6 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)(3 * stride)), c6); c7 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)(3 * stride + w)), c7);
            }
            ref T cj = ref c[j];
            if (accumulate)
            {
                c0 += Vector256.LoadUnsafe(ref cj); c1 += Vector256.LoadUnsafe(ref cj, (nuint)w);
                c2 += Vector256.LoadUnsafe(ref cj, (nuint)(2 * w)); c3 += Vector256.LoadUnsafe(ref cj, (nuint)(3 * w));
                c4 += Vector256.LoadUnsafe(ref cj, (nuint)(4 * w)); c5 += Vector256.LoadUnsafe(ref cj, (nuint)(5 * w));
                c6 += Vector256.LoadUnsafe(ref cj, (nuint)(6 * w)); c7 += Vector256.LoadUnsafe(ref cj, (nuint)(7 * w));
            }
            c0.StoreUnsafe(ref cj); c1.StoreUnsafe(ref cj, (nuint)w); c2.StoreUnsafe(ref cj, (nuint)(2 * w)); c3.StoreUnsafe(ref cj, (nuint)(3 * w));
            c4.StoreUnsafe(ref cj, (nuint)(4 * w)); c5.StoreUnsafe(ref cj, (nuint)(5 * w)); c6.StoreUnsafe(ref cj, (nuint)(6 * w)); c7.StoreUnsafe(ref cj, (nuint)(7 * w));
        }
        for (; j < nc; j += nr) // the remaining panels one at a time; a partial one goes through the tile
        {
            ref T bp = ref Unsafe.AsRef(in panels[j * kc]);
            Vector256<T> c0 = default, c1 = default;
            for (int p = 0; p < kc; p++)
            {
                var x = Vector256.Create(Unsafe.Add(ref ra, p));
                c0 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)(p * nr)), c0);
                c1 = Fma(x, Vector256.LoadUnsafe(ref bp, (nuint)(p * nr + w)), c1);
            }
            int valid = System.Math.Min(nr, nc - j);
            if (valid == nr)
            {
                ref T cj = ref c[j];
                if (accumulate) { c0 += Vector256.LoadUnsafe(ref cj); c1 += Vector256.LoadUnsafe(ref cj, (nuint)w); }
                c0.StoreUnsafe(ref cj); c1.StoreUnsafe(ref cj, (nuint)w);
            }
            else
            {
                c0.StoreUnsafe(ref tile[0]); c1.StoreUnsafe(ref tile[0], (nuint)w);
                AddOrCopy(tile.Slice(0, valid), c.Slice(j, valid), accumulate);
            }
        }
    }

    // The same, in scalar loops (panels NR = 2 × 128 bits wide): each element's sum over p in the same order.
    private static void RowPanelsScalar<T>(int kc, int nc, ReadOnlySpan<T> a, ReadOnlySpan<T> panels, Span<T> c, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int nr = NR<T>(SimdPath.Scalar);
        Span<T> sums = stackalloc T[nr];
        for (int j = 0; j < nc; j += nr)
        {
            ReadOnlySpan<T> panel = panels.Slice(j * kc, kc * nr);
            sums.Clear();
            for (int p = 0; p < kc; p++)
            {
                T x = a[p];
                ReadOnlySpan<T> bp = panel.Slice(p * nr, nr);
                for (int q = 0; q < nr; q++) sums[q] += x * bp[q];
            }
            int valid = System.Math.Min(nr, nc - j);
            AddOrCopy(sums.Slice(0, valid), c.Slice(j, valid), accumulate);
        }
    }

    private static void AddOrCopy<T>(ReadOnlySpan<T> src, Span<T> dst, bool accumulate) where T : unmanaged, INumber<T>
    {
        if (!accumulate) { src.CopyTo(dst); return; }
        for (int q = 0; q < src.Length; q++) dst[q] += src[q];
    }

    internal static void CheckSizes(bool transA, bool transB, int m, int n, int k, int aLen, int lda, int bLen, int ldb, int cLen, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "Matrix sizes must be non-negative.");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        if (lda < aCols || (aRows > 0 && (long)(aRows - 1) * lda + aCols > aLen))
            throw new ArgumentException($"A is too small: need {aRows}x{aCols} with leading dimension {lda}, have {aLen} elements.");
        if (ldb < bCols || (bRows > 0 && (long)(bRows - 1) * ldb + bCols > bLen))
            throw new ArgumentException($"B is too small: need {bRows}x{bCols} with leading dimension {ldb}, have {bLen} elements.");
        if (ldc < n || (long)(m - 1) * ldc + n > cLen)
            throw new ArgumentException($"C is too small: need {m}x{n} with leading dimension {ldc}, have {cLen} elements.");
    }

    internal static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    // packA[panel][p][r] = op(A)[i0 + panel*MR + r, p0 + p], zero past the last row.
    private static void PackA<T>(bool transA, ReadOnlySpan<T> a, int lda, int i0, int p0, int mc, int kc, Span<T> packA)
        where T : unmanaged, INumber<T>
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int rows = System.Math.Min(MR, mc - ir);
            Span<T> panel = packA.Slice(ir * kc, kc * MR);
            if (!transA)
            {
                for (int r = 0; r < rows; r++)
                {
                    ReadOnlySpan<T> row = a.Slice((i0 + ir + r) * lda + p0, kc);
                    for (int p = 0; p < kc; p++) panel[p * MR + r] = row[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    ReadOnlySpan<T> src = a.Slice((p0 + p) * lda + i0 + ir, rows);
                    src.CopyTo(panel.Slice(p * MR, rows));
                }
            }
            if (rows < MR)
                for (int p = 0; p < kc; p++) panel.Slice(p * MR + rows, MR - rows).Clear();
        }
    }

    // packB[panel][p][c] = op(B)[p0 + p, j0 + panel*nr + c], zero past the last column.
    internal static void PackB<T>(SimdPath path, bool transB, ReadOnlySpan<T> b, int ldb, int p0, int j0, int kc, int nc, int nr, Span<T> packB)
        where T : unmanaged, INumber<T>
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = System.Math.Min(nr, nc - jr);
            Span<T> panel = packB.Slice(jr * kc, kc * nr);
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    b.Slice((p0 + p) * ldb + j0 + jr, cols).CopyTo(panel.Slice(p * nr, cols));
                    if (cols < nr) panel.Slice(p * nr + cols, nr - cols).Clear();
                }
            }
            else
            {
                // A transposing copy, four source rows at a time so every store writes four adjacent columns.
                if (cols < nr) panel.Clear();
                int col = 0;
                for (; col + 4 <= cols; col += 4)
                {
                    int r = (j0 + jr + col) * ldb + p0;
                    ReadOnlySpan<T> s0 = b.Slice(r, kc), s1 = b.Slice(r + ldb, kc), s2 = b.Slice(r + 2 * ldb, kc), s3 = b.Slice(r + 3 * ldb, kc);
                    for (int p = 0; p < kc; p++) Store4(path, ref panel[p * nr + col], s0[p], s1[p], s2[p], s3[p]);
                }
                for (; col < cols; col++)
                {
                    ReadOnlySpan<T> src = b.Slice((j0 + jr + col) * ldb + p0, kc);
                    for (int p = 0; p < kc; p++) panel[p * nr + col] = src[p];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4<T>(SimdPath path, ref T dst, T x0, T x1, T x2, T x3) where T : unmanaged
    {
        if (path == SimdPath.Scalar) { dst = x0; Unsafe.Add(ref dst, 1) = x1; Unsafe.Add(ref dst, 2) = x2; Unsafe.Add(ref dst, 3) = x3; }
        else if (typeof(T) == typeof(float))
            Vector128.Create(Unsafe.As<T, float>(ref x0), Unsafe.As<T, float>(ref x1), Unsafe.As<T, float>(ref x2), Unsafe.As<T, float>(ref x3))
                .StoreUnsafe(ref Unsafe.As<T, float>(ref dst));
        else if (typeof(T) == typeof(double))
            Vector256.Create(Unsafe.As<T, double>(ref x0), Unsafe.As<T, double>(ref x1), Unsafe.As<T, double>(ref x2), Unsafe.As<T, double>(ref x3))
                .StoreUnsafe(ref Unsafe.As<T, double>(ref dst));
        else
        {
            dst = x0; Unsafe.Add(ref dst, 1) = x1; Unsafe.Add(ref dst, 2) = x2; Unsafe.Add(ref dst, 3) = x3;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel<T>(SimdPath path, int kc, ref T a, ref T b, int bStride, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        switch (path)
        {
            case SimdPath.Vector512: Kernel512(kc, ref a, ref b, bStride, ref c, ldc, accumulate); break;
            case SimdPath.Vector256: Kernel256(kc, ref a, ref b, bStride, ref c, ldc, accumulate); break;
            default: KernelScalar(kc, ref a, ref b, bStride, ref c, ldc, accumulate); break;
        }
    }

    // MR x NR tile in scalar loops (NR = 2 × 128 bits): the sums the vector kernels form, one element at a time.
    private static void KernelScalar<T>(int kc, ref T a, ref T b, int bStride, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int nr = NR<T>(SimdPath.Scalar);
        Span<T> sums = stackalloc T[MR * nr];
        sums.Clear();
        for (int p = 0; p < kc; p++)
        {
            ref T bp = ref Unsafe.Add(ref b, p * bStride);
            ref T ap = ref Unsafe.Add(ref a, p * MR);
            for (int r = 0; r < MR; r++)
            {
                T x = Unsafe.Add(ref ap, r);
                for (int q = 0; q < nr; q++) sums[r * nr + q] += x * Unsafe.Add(ref bp, q);
            }
        }
        for (int r = 0; r < MR; r++)
            for (int q = 0; q < nr; q++)
            {
                ref T cq = ref Unsafe.Add(ref c, r * ldc + q);
                cq = accumulate ? cq + sums[r * nr + q] : sums[r * nr + q];
            }
    }

    // 6 x (2 x Vector512) register tile: 12 accumulators, 2 B loads and 1 broadcast live per k step.
    private static void Kernel512<T>(int kc, ref T a, ref T b, int bStride, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                     c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        ref T bp = ref b, ap = ref a; // advanced by one row of the panels per k (no index arithmetic in the loop)
        for (int p = 0; p < kc; p++, bp = ref Unsafe.Add(ref bp, bStride), ap = ref Unsafe.Add(ref ap, MR))
        {
            Vector512<T> b0 = Vector512.LoadUnsafe(ref bp);
            Vector512<T> b1 = Vector512.LoadUnsafe(ref bp, (nuint)w);
            Vector512<T> x = Vector512.Create(ap);
            c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            x = Vector512.Create(Unsafe.Add(ref ap, 1)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
            x = Vector512.Create(Unsafe.Add(ref ap, 2)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
            x = Vector512.Create(Unsafe.Add(ref ap, 3)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            x = Vector512.Create(Unsafe.Add(ref ap, 4)); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
            x = Vector512.Create(Unsafe.Add(ref ap, 5)); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
        }
        Store(ref c, 0, w, c00, c01, accumulate);
        Store(ref c, ldc, w, c10, c11, accumulate);
        Store(ref c, 2 * ldc, w, c20, c21, accumulate);
        Store(ref c, 3 * ldc, w, c30, c31, accumulate);
        Store(ref c, 4 * ldc, w, c40, c41, accumulate);
        Store(ref c, 5 * ldc, w, c50, c51, accumulate);
    }

    private static void Kernel256<T>(int kc, ref T a, ref T b, int bStride, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                     c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        ref T bp = ref b, ap = ref a; // advanced by one row of the panels per k (no index arithmetic in the loop)
        for (int p = 0; p < kc; p++, bp = ref Unsafe.Add(ref bp, bStride), ap = ref Unsafe.Add(ref ap, MR))
        {
            Vector256<T> b0 = Vector256.LoadUnsafe(ref bp);
            Vector256<T> b1 = Vector256.LoadUnsafe(ref bp, (nuint)w);
            Vector256<T> x = Vector256.Create(ap);
            c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            x = Vector256.Create(Unsafe.Add(ref ap, 1)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
            x = Vector256.Create(Unsafe.Add(ref ap, 2)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
            x = Vector256.Create(Unsafe.Add(ref ap, 3)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            x = Vector256.Create(Unsafe.Add(ref ap, 4)); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
            x = Vector256.Create(Unsafe.Add(ref ap, 5)); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
        }
        Store(ref c, 0, w, c00, c01, accumulate);
        Store(ref c, ldc, w, c10, c11, accumulate);
        Store(ref c, 2 * ldc, w, c20, c21, accumulate);
        Store(ref c, 3 * ldc, w, c30, c31, accumulate);
        Store(ref c, 4 * ldc, w, c40, c41, accumulate);
        Store(ref c, 5 * ldc, w, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> acc) where T : unmanaged, INumber<T>
    {
#if NET9_0_OR_GREATER
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>();
#endif
        return x * y + acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> x, Vector256<T> y, Vector256<T> acc) where T : unmanaged, INumber<T>
    {
#if NET9_0_OR_GREATER
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>();
#endif
        return x * y + acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(ref T c, int offset, int w, Vector512<T> v0, Vector512<T> v1, bool accumulate) where T : unmanaged, INumber<T>
    {
        ref T row = ref Unsafe.Add(ref c, offset);
        if (accumulate)
        {
            v0 += Vector512.LoadUnsafe(ref row);
            v1 += Vector512.LoadUnsafe(ref row, (nuint)w);
        }
        v0.StoreUnsafe(ref row);
        v1.StoreUnsafe(ref row, (nuint)w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(ref T c, int offset, int w, Vector256<T> v0, Vector256<T> v1, bool accumulate) where T : unmanaged, INumber<T>
    {
        ref T row = ref Unsafe.Add(ref c, offset);
        if (accumulate)
        {
            v0 += Vector256.LoadUnsafe(ref row);
            v1 += Vector256.LoadUnsafe(ref row, (nuint)w);
        }
        v0.StoreUnsafe(ref row);
        v1.StoreUnsafe(ref row, (nuint)w);
    }

    /// <summary>Per-thread packing buffers, grown on demand and then reused, so steady-state calls allocate nothing.</summary>
    private sealed class GemmScratch<T> where T : unmanaged
    {
        [ThreadStatic] private static GemmScratch<T>? s_current;
        private readonly AlignedBuffer<T> _a = new(), _b = new();
        public T[] TileArray = new T[MR * 2 * System.Math.Max(Vector512<T>.Count, Vector256<T>.Count)];
        public Span<T> A => _a.Span;
        public Span<T> B => _b.Span;
        public Span<T> Tile => TileArray;

        public static GemmScratch<T> Get(int aSize, int bSize)
        {
            var s = s_current ??= new GemmScratch<T>();
            s._a.EnsureCapacity(aSize);
            s._b.EnsureCapacity(bSize);
            return s;
        }
    }
}

/// <summary>
/// op(B) [K, N] packed once into the layout the GEMM micro-kernel reads, block by block (N blocks of NC, K blocks of KC,
/// NR-wide panels inside). Reusing it saves re-packing a weight matrix at every time step.
/// </summary>
internal sealed class PackedB<T> where T : unmanaged, INumber<T>
{
    private readonly AlignedBuffer<T> _data = new(); // 64-byte aligned: every panel row is two whole vectors
    private int _nr;

    public int N { get; private set; }
    public int K { get; private set; }
    public bool TransB { get; private set; }
    public int Ldb { get; private set; }

    /// <summary>The SIMD path the panels are laid out for (their width); products with this matrix take it.</summary>
    public SimdPath Path { get; private set; }

    private bool _panelsValid;

    /// <summary>The matrix as given (kept by reference and packed from on first use).</summary>
    public ReadOnlyMemory<T> Source { get; private set; }

    /// <summary>
    /// Sets op(B) to <paramref name="b"/> (kept by reference; it must not change while this object is used). The panels
    /// are packed on the first product that needs them; the buffer is reused.
    /// </summary>
    public void Pack(bool transB, int n, int k, ReadOnlyMemory<T> b, int ldb)
    {
        Gemm.CheckSizes(false, transB, 1, n, k, k, k, b.Length, ldb, n, n);
        Path = Simd.Path;
        _nr = Gemm.NR<T>(Path);
        N = n; K = k; TransB = transB; Ldb = ldb; Source = b;
        _panelsValid = false;
        _version = -1;
    }

    private long _version = -1; // the weights' version the panels were packed from (PackReusing), −1: none

    /// <summary>
    /// <see cref="Pack"/> for weights that rarely change (inference): keeps the packed panels when <paramref name="b"/> is the
    /// same memory, used the same way, on the same SIMD path, and <paramref name="version"/> (the owner's
    /// <see cref="Models.ParameterStore{T}.Version"/>) is the one they were packed at. Otherwise packs now.
    /// Returns true when it packed (the weights, or how they are used, changed since the last call).
    /// </summary>
    public bool PackReusing(bool transB, int n, int k, ReadOnlyMemory<T> b, int ldb, long version)
    {
        if (_version == version && _panelsValid && Path == Simd.Path && transB == TransB && n == N && k == K && ldb == Ldb && b.Equals(Source))
            return false;
        Pack(transB, n, k, b, ldb);
        EnsurePanels();
        _version = version;
        return true;
    }

    /// <summary>Packs the panels if this matrix has not been packed yet (large matrices on several threads).</summary>
    public void EnsurePanels()
    {
        if (_panelsValid) return;
        long size = (long)Gemm.RoundUp(N, _nr) * K;
        _data.EnsureCapacity(checked((int)size));
        int panels = (N + _nr - 1) / _nr;
        int parts = System.Math.Max(1, System.Math.Min(panels, (int)System.Math.Min(Parallelism.MaxThreads, size / RangeJob.Grain)));
        if (parts <= 1) PackPanels(0, 1);
        else
        {
            _packJob ??= new PackJob(this);
            WorkerPool.Run(_packJob, parts);
        }
        _panelsValid = true;
    }

    private PackJob? _packJob;

    private sealed class PackJob : ParallelJob
    {
        private readonly PackedB<T> _owner;
        public PackJob(PackedB<T> owner) => _owner = owner;
        public override void Execute(int part, int parts) => _owner.PackPanels(part, parts);
    }

    // Part `part` of `parts` packs the same share of the column panels of every block (panels are independent).
    private void PackPanels(int part, int parts)
    {
        ReadOnlySpan<T> b = Source.Span;
        for (int j0 = 0; j0 < N; j0 += Gemm.NC)
        {
            int nc = System.Math.Min(Gemm.NC, N - j0);
            var (first, last) = ParallelJob.Share(nc, part, parts, _nr);
            if (first >= last) continue;
            for (int p0 = 0; p0 < K; p0 += Gemm.KC)
            {
                int kc = System.Math.Min(Gemm.KC, K - p0);
                Gemm.PackB<T>(Path, TransB, b, Ldb, p0, j0 + first, kc, last - first, _nr, _data.Span.Slice(Offset(p0, j0) + first * kc));
            }
        }
    }

    // Blocks are stored j0-major then p0; a block holds RoundUp(nc, nr) × kc values.
    private int Offset(int p0, int j0) => j0 * K + p0 * Gemm.RoundUp(System.Math.Min(Gemm.NC, N - j0), _nr);

    /// <summary>The panels of block (p0, j0) starting at column <paramref name="j"/> (a multiple of NR inside the block).</summary>
    public ReadOnlySpan<T> Panels(int p0, int j, int kc, int nc)
    {
        int j0 = j / Gemm.NC * Gemm.NC;
        int within = j - j0;
        int start = Offset(p0, j0) + within * kc;
        return _data.Span.Slice(start, Gemm.RoundUp(nc, _nr) * kc);
    }
}

/// <summary>Naive triple-loop twin of <see cref="Gemm"/>, the reference the fast kernel is tested against.</summary>
internal static class GemmReference
{
    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        Gemm.CheckSizes(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                    sum += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
    }
}
