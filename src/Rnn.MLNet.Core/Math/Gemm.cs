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
/// step. Large products are split over columns between <see cref="Parallelism.MaxThreads"/> threads; the summation order
/// of every element is the same whatever the split, so results do not depend on the thread count.
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

    internal static int NR<T>() where T : unmanaged => Vector512.IsHardwareAccelerated ? 2 * Vector512<T>.Count : 2 * Vector256<T>.Count;

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
        Run(transA, m, n, k, a, lda, null, transB, b, ldb, c, ldc, accumulate);
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
        if (m <= SmallM)
        {
            if (b.TransB) RowsDotRows(transA, m, n, k, a, lda, b.Source.Span, b.Ldb, c, ldc, accumulate);
            else RowTimesMatrix(transA, m, n, k, a, lda, b.Source.Span, b.Ldb, c, ldc, accumulate);
            return;
        }
        b.EnsurePanels(); // before any worker reads them
        Run(transA, m, n, k, a, lda, b, false, default, 0, c, ldc, accumulate);
    }

    private static void ClearOrKeep<T>(int m, int n, Span<T> c, int ldc, bool accumulate) where T : unmanaged
    {
        if (!accumulate) for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
    }

    /// <summary>Runs the blocked product, split over column ranges when it is large enough.</summary>
    private static unsafe void Run<T>(bool transA, int m, int n, int k, ReadOnlySpan<T> a, int lda, PackedB<T>? packed,
        bool transB, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int nr = NR<T>();
        int panels = (n + nr - 1) / nr;
        int parts = (long)m * n * k >= ParallelThreshold ? System.Math.Min(Parallelism.MaxThreads, panels) : 1;
        if (parts <= 1)
        {
            Blocked(transA, m, 0, n, k, a, lda, packed, transB, b, ldb, c, ldc, accumulate);
            return;
        }
        fixed (T* pa = a, pb = b, pc = c)
        {
            var job = GemmJob<T>.Current;
            job.Set(transA, m, n, k, pa, a.Length, lda, packed, transB, pb, b.Length, ldb, pc, c.Length, ldc, accumulate, nr);
            WorkerPool.Run(job, parts);
            job.Clear();
        }
    }

    /// <summary>One part of a parallel product: a contiguous range of NR-wide column panels.</summary>
    private sealed unsafe class GemmJob<T> : ParallelJob where T : unmanaged, INumber<T>
    {
        [ThreadStatic] private static GemmJob<T>? s_current;
        public static GemmJob<T> Current => s_current ??= new GemmJob<T>();

        private bool _transA, _transB, _accumulate;
        private int _m, _n, _k, _lda, _ldb, _ldc, _nr, _aLen, _bLen, _cLen;
        private T* _a, _b, _c;
        private PackedB<T>? _packed;

        public void Set(bool transA, int m, int n, int k, T* a, int aLen, int lda, PackedB<T>? packed, bool transB, T* b, int bLen, int ldb,
            T* c, int cLen, int ldc, bool accumulate, int nr)
        {
            _transA = transA; _m = m; _n = n; _k = k; _a = a; _aLen = aLen; _lda = lda; _packed = packed; _transB = transB;
            _b = b; _bLen = bLen; _ldb = ldb; _c = c; _cLen = cLen; _ldc = ldc; _accumulate = accumulate; _nr = nr;
        }

        public void Clear() { _a = _b = _c = null; _packed = null; }

        public override void Execute(int part, int parts)
        {
            int panels = (_n + _nr - 1) / _nr;
            int first = panels * part / parts, last = panels * (part + 1) / parts;
            int j0 = first * _nr, j1 = System.Math.Min(_n, last * _nr);
            if (j0 >= j1) return;
            Blocked(_transA, _m, j0, j1, _k, new ReadOnlySpan<T>(_a, _aLen), _lda, _packed, _transB, new ReadOnlySpan<T>(_b, _bLen), _ldb,
                new Span<T>(_c, _cLen), _ldc, _accumulate);
        }
    }

    /// <summary>The blocked algorithm over columns [jStart, jEnd) (jStart a multiple of NR).</summary>
    private static void Blocked<T>(bool transA, int m, int jStart, int jEnd, int k, ReadOnlySpan<T> a, int lda, PackedB<T>? packed,
        bool transB, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int nr = NR<T>();
        var scratch = GemmScratch<T>.Get(MC * System.Math.Min(KC, k), packed is null ? System.Math.Min(NC, RoundUp(jEnd - jStart, nr)) * System.Math.Min(KC, k) : 0);
        Span<T> packA = scratch.A;
        for (int j0 = jStart; j0 < jEnd;)
        {
            int nc = System.Math.Min(NC - j0 % NC, jEnd - j0); // never cross an NC block: packed B is stored by blocks
            for (int p0 = 0; p0 < k; p0 += KC)
            {
                int kc = System.Math.Min(KC, k - p0);
                bool acc = accumulate || p0 > 0;
                ReadOnlySpan<T> packB;
                if (packed is null)
                {
                    PackB(transB, b, ldb, p0, j0, kc, nc, nr, scratch.B);
                    packB = scratch.B;
                }
                else packB = packed.Panels(p0, j0, kc, nc);
                for (int i0 = 0; i0 < m; i0 += MC)
                {
                    int mc = System.Math.Min(MC, m - i0);
                    PackA(transA, a, lda, i0, p0, mc, kc, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nValid = System.Math.Min(nr, nc - jr);
                        ref T bPanel = ref Unsafe.AsRef(in packB[jr * kc]);
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mValid = System.Math.Min(MR, mc - ir);
                            ref T aPanel = ref packA[ir * kc];
                            if (mValid == MR && nValid == nr)
                            {
                                Kernel(kc, ref aPanel, ref bPanel, ref c[(i0 + ir) * ldc + j0 + jr], ldc, acc);
                            }
                            else
                            {
                                Span<T> t = scratch.Tile;
                                Kernel(kc, ref aPanel, ref bPanel, ref t[0], nr, false);
                                for (int r = 0; r < mValid; r++)
                                {
                                    Span<T> dst = c.Slice((i0 + ir + r) * ldc + j0 + jr, nValid);
                                    ReadOnlySpan<T> src = t.Slice(r * nr, nValid);
                                    if (acc) for (int q = 0; q < nValid; q++) dst[q] += src[q];
                                    else src.CopyTo(dst);
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

    // C[i, :] (+)= Σ_p A[i, p] · B[p, :] with B stored [K, N] (row stride ldb): four rows of B per pass over C's row, so C is read and
    // written once per four multiply–adds (a streaming step with batch 1 is this product).
    private static void RowTimesMatrix<T>(bool transA, int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> bkn, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count;
        for (int i = 0; i < m; i++)
        {
            Span<T> ci = c.Slice(i * ldc, n);
            if (!accumulate) ci.Clear();
            int rowStep = transA ? lda : 1, rowStart = transA ? i : i * lda; // A[i, p] = a[rowStart + p·rowStep]
            int p0 = 0;
            for (; p0 + 4 <= k; p0 += 4)
            {
                T a0 = a[rowStart + p0 * rowStep], a1 = a[rowStart + (p0 + 1) * rowStep], a2 = a[rowStart + (p0 + 2) * rowStep], a3 = a[rowStart + (p0 + 3) * rowStep];
                ReadOnlySpan<T> b0 = bkn.Slice(p0 * ldb, n), b1 = bkn.Slice((p0 + 1) * ldb, n), b2 = bkn.Slice((p0 + 2) * ldb, n), b3 = bkn.Slice((p0 + 3) * ldb, n);
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    int w5 = Vector512<T>.Count;
                    Vector512<T> v0 = Vector512.Create(a0), v1 = Vector512.Create(a1), v2 = Vector512.Create(a2), v3 = Vector512.Create(a3);
                    ref T rc = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(ci);
                    ref T r0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b0), r1 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b1);
                    ref T r2 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b2), r3 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b3);
                    for (; j <= n - w5; j += w5)
                    {
                        var acc = Vector512.LoadUnsafe(ref rc, (nuint)j);
                        acc = Fma(v0, Vector512.LoadUnsafe(ref r0, (nuint)j), acc);
                        acc = Fma(v1, Vector512.LoadUnsafe(ref r1, (nuint)j), acc);
                        acc = Fma(v2, Vector512.LoadUnsafe(ref r2, (nuint)j), acc);
                        acc = Fma(v3, Vector512.LoadUnsafe(ref r3, (nuint)j), acc);
                        acc.StoreUnsafe(ref rc, (nuint)j);
                    }
                }
                else if (Vector.IsHardwareAccelerated)
                {
                    Vector<T> v0 = new(a0), v1 = new(a1), v2 = new(a2), v3 = new(a3);
                    for (; j <= n - w; j += w)
                    {
                        var acc = new Vector<T>(ci.Slice(j));
                        acc += v0 * new Vector<T>(b0.Slice(j)) + v1 * new Vector<T>(b1.Slice(j)) + v2 * new Vector<T>(b2.Slice(j)) + v3 * new Vector<T>(b3.Slice(j));
                        acc.CopyTo(ci.Slice(j));
                    }
                }
                for (; j < n; j++) ci[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
            }
            for (; p0 < k; p0++)
            {
                T ap = a[rowStart + p0 * rowStep];
                ReadOnlySpan<T> bp = bkn.Slice(p0 * ldb, n);
                for (int j = 0; j < n; j++) ci[j] += ap * bp[j];
            }
        }
    }

    // C[i, j] (+)= dot(A[i, :], B[j, :]) with B stored [N, K]: four rows of B per pass over A's row, four vector accumulators.
    private static void RowsDotRows<T>(bool transA, int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count;
        T[]? copy = null;
        for (int i = 0; i < m; i++)
        {
            ReadOnlySpan<T> ai;
            if (!transA) ai = a.Slice(i * lda, k);
            else
            {
                copy ??= new T[k];
                for (int p = 0; p < k; p++) copy[p] = a[p * lda + i];
                ai = copy;
            }
            Span<T> ci = c.Slice(i * ldc, n);
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                ReadOnlySpan<T> b0 = b.Slice(j * ldb, k), b1 = b.Slice((j + 1) * ldb, k), b2 = b.Slice((j + 2) * ldb, k), b3 = b.Slice((j + 3) * ldb, k);
                T s0 = T.Zero, s1 = T.Zero, s2 = T.Zero, s3 = T.Zero;
                int p = 0;
                if (Vector512.IsHardwareAccelerated && k >= Vector512<T>.Count)
                {
                    int w5 = Vector512<T>.Count;
                    Vector512<T> v0 = default, v1 = default, v2 = default, v3 = default;
                    ref T ra = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(ai);
                    ref T r0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b0), r1 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b1);
                    ref T r2 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b2), r3 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b3);
                    for (; p <= k - w5; p += w5)
                    {
                        var x = Vector512.LoadUnsafe(ref ra, (nuint)p);
                        v0 = Fma(x, Vector512.LoadUnsafe(ref r0, (nuint)p), v0); v1 = Fma(x, Vector512.LoadUnsafe(ref r1, (nuint)p), v1);
                        v2 = Fma(x, Vector512.LoadUnsafe(ref r2, (nuint)p), v2); v3 = Fma(x, Vector512.LoadUnsafe(ref r3, (nuint)p), v3);
                    }
                    s0 = Vector512.Sum(v0); s1 = Vector512.Sum(v1); s2 = Vector512.Sum(v2); s3 = Vector512.Sum(v3);
                }
                else if (Vector.IsHardwareAccelerated && k >= w)
                {
                    Vector<T> v0 = Vector<T>.Zero, v1 = Vector<T>.Zero, v2 = Vector<T>.Zero, v3 = Vector<T>.Zero;
                    for (; p <= k - w; p += w)
                    {
                        var x = new Vector<T>(ai.Slice(p));
                        v0 += x * new Vector<T>(b0.Slice(p)); v1 += x * new Vector<T>(b1.Slice(p));
                        v2 += x * new Vector<T>(b2.Slice(p)); v3 += x * new Vector<T>(b3.Slice(p));
                    }
                    s0 = Vector.Sum(v0); s1 = Vector.Sum(v1); s2 = Vector.Sum(v2); s3 = Vector.Sum(v3);
                }
                for (; p < k; p++) { T x = ai[p]; s0 += x * b0[p]; s1 += x * b1[p]; s2 += x * b2[p]; s3 += x * b3[p]; }
                if (accumulate) { ci[j] += s0; ci[j + 1] += s1; ci[j + 2] += s2; ci[j + 3] += s3; }
                else { ci[j] = s0; ci[j + 1] = s1; ci[j + 2] = s2; ci[j + 3] = s3; }
            }
            for (; j < n; j++)
            {
                T dot = System.Numerics.Tensors.TensorPrimitives.Dot(ai, b.Slice(j * ldb, k));
                ci[j] = accumulate ? ci[j] + dot : dot;
            }
        }
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
    internal static void PackB<T>(bool transB, ReadOnlySpan<T> b, int ldb, int p0, int j0, int kc, int nc, int nr, Span<T> packB)
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
                if (cols < nr) panel.Clear();
                for (int col = 0; col < cols; col++)
                {
                    ReadOnlySpan<T> src = b.Slice((j0 + jr + col) * ldb + p0, kc);
                    for (int p = 0; p < kc; p++) panel[p * nr + col] = src[p];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel<T>(int kc, ref T a, ref T b, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        if (Vector512.IsHardwareAccelerated) Kernel512(kc, ref a, ref b, ref c, ldc, accumulate);
        else Kernel256(kc, ref a, ref b, ref c, ldc, accumulate);
    }

    // 6 x (2 x Vector512) register tile: 12 accumulators, 2 B loads and 1 broadcast live per k step.
    private static void Kernel512<T>(int kc, ref T a, ref T b, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                     c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.LoadUnsafe(ref b, (nuint)(p * 2 * w));
            Vector512<T> b1 = Vector512.LoadUnsafe(ref b, (nuint)(p * 2 * w + w));
            ref T ap = ref Unsafe.Add(ref a, p * MR);
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

    private static void Kernel256<T>(int kc, ref T a, ref T b, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        int w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                     c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<T> b0 = Vector256.LoadUnsafe(ref b, (nuint)(p * 2 * w));
            Vector256<T> b1 = Vector256.LoadUnsafe(ref b, (nuint)(p * 2 * w + w));
            ref T ap = ref Unsafe.Add(ref a, p * MR);
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
        public T[] AArray = Array.Empty<T>();
        public T[] BArray = Array.Empty<T>();
        public T[] TileArray = new T[MR * 2 * System.Math.Max(Vector512<T>.Count, Vector256<T>.Count)];
        public Span<T> A => AArray;
        public Span<T> B => BArray;
        public Span<T> Tile => TileArray;

        public static GemmScratch<T> Get(int aSize, int bSize)
        {
            var s = s_current ??= new GemmScratch<T>();
            if (s.AArray.Length < aSize) s.AArray = new T[aSize];
            if (s.BArray.Length < bSize) s.BArray = new T[bSize];
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
    private T[] _data = Array.Empty<T>();
    private int _nBlocks, _kBlocks, _nr;

    public int N { get; private set; }
    public int K { get; private set; }
    public bool TransB { get; private set; }
    public int Ldb { get; private set; }

    private bool _panelsValid;

    /// <summary>The matrix as given (kept by reference: the few-row paths read it directly).</summary>
    public ReadOnlyMemory<T> Source { get; private set; }

    /// <summary>
    /// Sets op(B) to <paramref name="b"/> (kept by reference; it must not change while this object is used). The panels
    /// are packed on the first product that needs them (few-row products read the matrix directly); the buffer is reused.
    /// </summary>
    public void Pack(bool transB, int n, int k, ReadOnlyMemory<T> b, int ldb)
    {
        Gemm.CheckSizes(false, transB, 1, n, k, k, k, b.Length, ldb, n, n);
        _nr = Gemm.NR<T>();
        N = n; K = k; TransB = transB; Ldb = ldb; Source = b;
        _panelsValid = false;
    }

    /// <summary>Packs the panels if this matrix has not been packed yet.</summary>
    public void EnsurePanels()
    {
        if (_panelsValid) return;
        int n = N, k = K;
        var b = Source;
        bool transB = TransB;
        int ldb = Ldb;
        _nBlocks = (n + Gemm.NC - 1) / Gemm.NC;
        _kBlocks = (k + Gemm.KC - 1) / Gemm.KC;
        long size = (long)Gemm.RoundUp(n, _nr) * k;
        if (_data.Length < size) _data = new T[size];
        for (int j0 = 0; j0 < n; j0 += Gemm.NC)
            for (int p0 = 0; p0 < k; p0 += Gemm.KC)
            {
                int nc = System.Math.Min(Gemm.NC, n - j0), kc = System.Math.Min(Gemm.KC, k - p0);
                Gemm.PackB<T>(transB, b.Span, ldb, p0, j0, kc, nc, _nr, _data.AsSpan(Offset(p0, j0)));
            }
        _panelsValid = true;
    }

    // Blocks are stored j0-major then p0; a block holds RoundUp(nc, nr) × kc values.
    private int Offset(int p0, int j0) => j0 * K + p0 * Gemm.RoundUp(System.Math.Min(Gemm.NC, N - j0), _nr);

    /// <summary>The panels of block (p0, j0) starting at column <paramref name="j"/> (a multiple of NR inside the block).</summary>
    public ReadOnlySpan<T> Panels(int p0, int j, int kc, int nc)
    {
        int j0 = j / Gemm.NC * Gemm.NC;
        int within = j - j0;
        int start = Offset(p0, j0) + within * kc;
        return _data.AsSpan(start, Gemm.RoundUp(nc, _nr) * kc);
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
