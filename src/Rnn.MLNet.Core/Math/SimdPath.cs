using System;
using System.Runtime.Intrinsics;
using System.Threading;

namespace Rnn.MLNet.Math;

/// <summary>
/// The vector width a kernel of this library runs at. Each SIMD kernel has one code path per value (the GEMM micro-kernel
/// Kernel512/Kernel256/KernelScalar, the few-row product RowPanels512/RowPanels256/RowPanelsScalar, the packing stores,
/// and the cells' Vector&lt;T&gt; loops, which run at Vector&lt;T&gt;'s width on either vector path); all paths compute
/// the same sums, differing only in rounding.
/// </summary>
internal enum SimdPath
{
    /// <summary>Plain scalar loops: the reference every vector path mirrors, and what runs without SIMD hardware.</summary>
    Scalar,

    /// <summary>256-bit vectors (AVX2 on x64).</summary>
    Vector256,

    /// <summary>512-bit vectors (AVX-512 on x64).</summary>
    Vector512,
}

/// <summary>Which <see cref="SimdPath"/> the kernels take: the widest this machine accelerates, unless a test forces another.</summary>
internal static class Simd
{
    /// <summary>The widest path the hardware accelerates.</summary>
    public static SimdPath Best { get; } =
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512 : Vector256.IsHardwareAccelerated ? SimdPath.Vector256 : SimdPath.Scalar;

    private static int s_forced = -1; // a SimdPath, or −1: none

    /// <summary>The path kernels take now: <see cref="Best"/>, or the one forced by <see cref="Force"/>.</summary>
    public static SimdPath Path
    {
        get
        {
            int forced = Volatile.Read(ref s_forced);
            return forced < 0 ? Best : (SimdPath)forced;
        }
    }

    /// <summary>True when this machine runs <paramref name="path"/> in hardware (the scalar path always).</summary>
    public static bool IsSupported(SimdPath path) => path <= Best;

    /// <summary>Why <paramref name="path"/> cannot be forced here, or null when it can.</summary>
    public static string? UnsupportedReason(SimdPath path) => IsSupported(path) ? null :
        $"{path} is not hardware-accelerated on this machine (widest: {Best}), so its kernels cannot be run here.";

    /// <summary>
    /// Makes every kernel take <paramref name="path"/> until the returned scope is disposed (tests: process-wide, so tests
    /// that force a path must not run beside others). Products started before keep the path they started with; packed
    /// weights are repacked for the new path on their next use.
    /// </summary>
    public static ForcedPath Force(SimdPath path)
    {
        if (UnsupportedReason(path) is string reason) throw new PlatformNotSupportedException(reason);
        int previous = Interlocked.Exchange(ref s_forced, (int)path);
        return new ForcedPath(previous);
    }

    /// <summary>Restores the previous path on <see cref="Dispose"/>.</summary>
    public readonly struct ForcedPath : IDisposable
    {
        private readonly int _previous;
        internal ForcedPath(int previous) => _previous = previous;

        /// <summary>Restores the path that was in force before.</summary>
        public void Dispose() => Volatile.Write(ref s_forced, _previous);
    }

    /// <summary>
    /// True when the cells' Vector&lt;T&gt; loops run (any vector path on hardware that accelerates Vector&lt;T&gt;); the
    /// scalar path runs their scalar loops, which do the same operations per element.
    /// </summary>
    public static bool VectorLoops => Path != SimdPath.Scalar && System.Numerics.Vector.IsHardwareAccelerated;
}
