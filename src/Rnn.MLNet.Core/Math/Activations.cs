using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rnn.MLNet.Math;

/// <summary>
/// exp, the logistic sigmoid and tanh for the cells' fused loops, one element (scalar), one Vector&lt;T&gt; or one
/// Vector512 at a time, and over whole spans (<see cref="AddSigmoid{T}"/>, <see cref="AddTanh{T}"/>: Vector512 wide on
/// that path, else Vector&lt;T&gt; wide, scalar tails).
/// Both forms do the same IEEE operations in the same order (+, −, ×, ÷, fused multiply–add, min/max and exact bit
/// operations only; no table, no approximate reciprocal), so a vector loop gives exactly its scalar loop's bits on every
/// <see cref="SimdPath"/>.
/// </summary>
/// <remarks>
/// exp(x) = 2ⁿ · P(r): x clamped to ±87 (float) / ±708 (double) so that 2ⁿ stays a normal number, n = round(x·log₂e) by
/// the 1.5·2^(mantissa bits) rounding trick, r = x − n·ln2 with ln2 in two parts (Cody–Waite: n·ln2_hi is exact), so
/// |r| ≤ ln2/2, and P the Taylor polynomial of eʳ to degree 7 (float, truncation 5e-9 relative) or 13 (double, 4e-18),
/// by Horner's rule with fused multiply–adds. NaN stays NaN (the clamp's native min/max return their second operand,
/// x, when it is NaN, on x64; the scalar and vector forms use the same native instructions). Within a few ulps of the true exp; the clamp only affects
/// results below 1.7e-38 (float) / 3e-308 (double), i.e. sigmoid(x) for x &lt; −87 is 1.6e-38 instead of eˣ.
/// sigmoid(x) = 1 / (1 + exp(−x)); tanh(x) = 2 / (1 + exp(−2x)) − 1 (absolute error a few ulps of 1, as
/// TensorPrimitives.Tanh, which the cells used before).
/// </remarks>
internal static class Activations
{
    // float
    private const float HiF = 87f, Log2eF = 1.44269504f, Ln2HiF = 0.693359375f, Ln2LoF = -2.12194440e-4f, MagicF = 12582912f; // 1.5·2²³

    // double
    private const double HiD = 708, Log2eD = 1.4426950408889634, Ln2HiD = 6.93145751953125E-1, Ln2LoD = 1.42860682030941723212E-6,
        MagicD = 6755399441055744.0; // 1.5·2⁵²

    // 1/k! for k = 2..13
    private const double F2 = 1.0 / 2, F3 = F2 / 3, F4 = F3 / 4, F5 = F4 / 5, F6 = F5 / 6, F7 = F6 / 7, F8 = F7 / 8, F9 = F8 / 9, F10 = F9 / 10,
        F11 = F10 / 11, F12 = F11 / 12, F13 = F12 / 13;

    // Horner's rule for double after F13·r + F12: the remaining coefficients, highest first (1/0! and 1/1! last)
    private static readonly double[] s_taylorD = { F11, F10, F9, F8, F7, F6, F5, F4, F3, F2, 1.0, 1.0 };

    /// <summary>eˣ (see the remarks for the method and its accuracy).</summary>
    public static float Exp(float x)
    {
        x = float.MaxNative(-HiF, float.MinNative(HiF, x)); // x last: a NaN x passes through
        float n = float.FusedMultiplyAdd(x, Log2eF, MagicF) - MagicF;
        float r = float.FusedMultiplyAdd(n, -Ln2LoF, float.FusedMultiplyAdd(n, -Ln2HiF, x));
        float p = float.FusedMultiplyAdd((float)F7, r, (float)F6);
        p = float.FusedMultiplyAdd(p, r, (float)F5); p = float.FusedMultiplyAdd(p, r, (float)F4); p = float.FusedMultiplyAdd(p, r, (float)F3);
        p = float.FusedMultiplyAdd(p, r, (float)F2); p = float.FusedMultiplyAdd(p, r, 1f); p = float.FusedMultiplyAdd(p, r, 1f);
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <summary>eˣ on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        x = Vector.MaxNative(new Vector<float>(-HiF), Vector.MinNative(new Vector<float>(HiF), x)); // x last: a NaN x passes through
        var magic = new Vector<float>(MagicF);
        var n = Vector.FusedMultiplyAdd(x, new Vector<float>(Log2eF), magic) - magic;
        var r = Vector.FusedMultiplyAdd(n, new Vector<float>(-Ln2LoF), Vector.FusedMultiplyAdd(n, new Vector<float>(-Ln2HiF), x));
        var p = Vector.FusedMultiplyAdd(new Vector<float>((float)F7), r, new Vector<float>((float)F6));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>((float)F5));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>((float)F4));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>((float)F3));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>((float)F2));
        p = Vector.FusedMultiplyAdd(p, r, Vector<float>.One);
        p = Vector.FusedMultiplyAdd(p, r, Vector<float>.One);
        var scale = Vector.ShiftLeft(Vector.ConvertToInt32Native(n) + new Vector<int>(127), 23); // n is a whole number in range
        return p * Vector.AsVectorSingle(scale);
    }

    /// <summary>eˣ (see the remarks for the method and its accuracy).</summary>
    public static double Exp(double x)
    {
        x = double.MaxNative(-HiD, double.MinNative(HiD, x)); // x last: a NaN x passes through
        double n = double.FusedMultiplyAdd(x, Log2eD, MagicD) - MagicD;
        double r = double.FusedMultiplyAdd(n, -Ln2LoD, double.FusedMultiplyAdd(n, -Ln2HiD, x));
        double p = double.FusedMultiplyAdd(F13, r, F12);
        foreach (double f in s_taylorD) p = double.FusedMultiplyAdd(p, r, f);
        return p * BitConverter.Int64BitsToDouble(((long)n + 1023) << 52);
    }

    /// <summary>eˣ on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Exp(Vector<double> x)
    {
        x = Vector.MaxNative(new Vector<double>(-HiD), Vector.MinNative(new Vector<double>(HiD), x)); // x last: a NaN x passes through
        var magic = new Vector<double>(MagicD);
        var n = Vector.FusedMultiplyAdd(x, new Vector<double>(Log2eD), magic) - magic;
        var r = Vector.FusedMultiplyAdd(n, new Vector<double>(-Ln2LoD), Vector.FusedMultiplyAdd(n, new Vector<double>(-Ln2HiD), x));
        var p = Vector.FusedMultiplyAdd(new Vector<double>(F13), r, new Vector<double>(F12));
        foreach (double f in s_taylorD) p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(f));
        var scale = Vector.ShiftLeft(Vector.ConvertToInt64Native(n) + new Vector<long>(1023), 52); // n is a whole number in range
        return p * Vector.AsVectorDouble(scale);
    }

    /// <summary>eˣ on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.MaxNative(Vector512.Create(-HiF), Vector512.MinNative(Vector512.Create(HiF), x));
        var magic = Vector512.Create(MagicF);
        var n = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2eF), magic) - magic;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2LoF), Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2HiF), x));
        var p = Vector512.FusedMultiplyAdd(Vector512.Create((float)F7), r, Vector512.Create((float)F6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create((float)F5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create((float)F4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create((float)F3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create((float)F2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23);
        return p * scale.AsSingle();
    }

    /// <summary>eˣ on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Exp(Vector512<double> x)
    {
        x = Vector512.MaxNative(Vector512.Create(-HiD), Vector512.MinNative(Vector512.Create(HiD), x));
        var magic = Vector512.Create(MagicD);
        var n = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2eD), magic) - magic;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2LoD), Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2HiD), x));
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(F13), r, Vector512.Create(F12));
        foreach (double f in s_taylorD) p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(f));
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt64Native(n) + Vector512.Create(1023L), 52);
        return p * scale.AsDouble();
    }

    /// <summary>eˣ on each element (float or double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp<T>(Vector512<T> x) where T : IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Exp(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Exp(x.AsDouble()).As<double, T>();
        throw new NotSupportedException($"Vector exp of {typeof(T).Name}.");
    }

    /// <summary>1 / (1 + e⁻ˣ) on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sigmoid<T>(Vector512<T> x) where T : IFloatingPointIeee754<T> => Vector512<T>.One / (Vector512<T>.One + Exp(-x));

    /// <summary>tanh on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Tanh<T>(Vector512<T> x) where T : IFloatingPointIeee754<T>
    {
        var two = Vector512<T>.One + Vector512<T>.One;
        return two / (Vector512<T>.One + Exp(-(two * x))) - Vector512<T>.One;
    }

    /// <summary>gates[j] = σ(ax[j] + gates[j]) for every j (in place; same bits on every path).</summary>
    public static void AddSigmoid<T>(ReadOnlySpan<T> ax, Span<T> gates) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gates.Length, j = 0;
        ref T a = ref MemoryMarshal.GetReference(ax);
        ref T g = ref MemoryMarshal.GetReference(gates);
        if (ax.Length < n) throw new ArgumentException("ax is shorter than gates.", nameof(ax));
        if (Simd.Path == SimdPath.Vector512)
            for (; j <= n - Vector512<T>.Count; j += Vector512<T>.Count)
                Sigmoid(Vector512.LoadUnsafe(ref a, (nuint)j) + Vector512.LoadUnsafe(ref g, (nuint)j)).StoreUnsafe(ref g, (nuint)j);
        if (Simd.VectorLoops)
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
                Sigmoid(new Vector<T>(ax.Slice(j)) + new Vector<T>(gates.Slice(j))).CopyTo(gates.Slice(j));
        for (; j < n; j++) gates[j] = Sigmoid(ax[j] + gates[j]);
    }

    /// <summary>gates[j] = tanh(ax[j] + gates[j]) for every j (in place; same bits on every path).</summary>
    public static void AddTanh<T>(ReadOnlySpan<T> ax, Span<T> gates) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gates.Length, j = 0;
        ref T a = ref MemoryMarshal.GetReference(ax);
        ref T g = ref MemoryMarshal.GetReference(gates);
        if (ax.Length < n) throw new ArgumentException("ax is shorter than gates.", nameof(ax));
        if (Simd.Path == SimdPath.Vector512)
            for (; j <= n - Vector512<T>.Count; j += Vector512<T>.Count)
                Tanh(Vector512.LoadUnsafe(ref a, (nuint)j) + Vector512.LoadUnsafe(ref g, (nuint)j)).StoreUnsafe(ref g, (nuint)j);
        if (Simd.VectorLoops)
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
                Tanh(new Vector<T>(ax.Slice(j)) + new Vector<T>(gates.Slice(j))).CopyTo(gates.Slice(j));
        for (; j < n; j++) gates[j] = Tanh(ax[j] + gates[j]);
    }

    /// <summary>eˣ for the cells' element type (float or double; other types: T.Exp).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Exp<T>(T x) where T : IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) { float y = Exp(Unsafe.As<T, float>(ref x)); return Unsafe.As<float, T>(ref y); }
        if (typeof(T) == typeof(double)) { double y = Exp(Unsafe.As<T, double>(ref x)); return Unsafe.As<double, T>(ref y); }
        return T.Exp(x);
    }

    /// <summary>eˣ on each element (float or double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Exp<T>(Vector<T> x) where T : IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector.As<float, T>(Exp(Vector.As<T, float>(x)));
        if (typeof(T) == typeof(double)) return Vector.As<double, T>(Exp(Vector.As<T, double>(x)));
        throw new NotSupportedException($"Vector exp of {typeof(T).Name}.");
    }

    /// <summary>1 / (1 + e⁻ˣ).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sigmoid<T>(T x) where T : IFloatingPointIeee754<T> => T.One / (T.One + Exp(-x));

    /// <summary>1 / (1 + e⁻ˣ) on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Sigmoid<T>(Vector<T> x) where T : IFloatingPointIeee754<T> => Vector<T>.One / (Vector<T>.One + Exp(-x));

    /// <summary>tanh x = 2 / (1 + e⁻²ˣ) − 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Tanh<T>(T x) where T : IFloatingPointIeee754<T>
    {
        T two = T.One + T.One;
        return two / (T.One + Exp(-(two * x))) - T.One;
    }

    /// <summary>tanh on each element, with the scalar form's bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Tanh<T>(Vector<T> x) where T : IFloatingPointIeee754<T>
    {
        var two = Vector<T>.One + Vector<T>.One;
        return two / (Vector<T>.One + Exp(-(two * x))) - Vector<T>.One;
    }
}
