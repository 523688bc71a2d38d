using System;
using System.Numerics;
using System.Numerics.Tensors;

namespace Rnn.MLNet.Cells;

// Point-wise halves of one time step for each cell, over one batch row at a time.
// Shape key: H = hidden size, G = gate count. The matrix products (W_ih x for all steps, W_hh h per step) are done by
// RecurrentLayer. The Elman cell and the LSTM take the summed pre-activations a = W_ih x + b_ih + W_hh h + b_hh ([G·H]);
// the GRU takes the two rows ax = W_ih x + b_ih and ah = W_hh h + b_hh apart, since r multiplies ah_n alone.

/// <summary>Elman cell: h' = act(ax + ah).</summary>
internal static class ElmanCell
{
    // forward: h' = tanh(a)  (or relu), a = W_ih x + b_ih + W_hh h + b_hh
    public static void Forward<T>(bool relu, ReadOnlySpan<T> a, Span<T> h)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (relu) TensorPrimitives.Max(a, T.Zero, h);
        else TensorPrimitives.Tanh(a, h);
    }

    // backward of h' = tanh(a): da = dh ⊙ (1 − h'²);  of relu: da = dh ⊙ [h' > 0]
    public static void Backward<T>(bool relu, ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated && !relu)
        {
            var one = Vector<T>.One;
            for (; j <= h.Length - Vector<T>.Count; j += Vector<T>.Count)
            {
                var hv = new Vector<T>(h.Slice(j));
                (new Vector<T>(dh.Slice(j)) * (one - hv * hv)).CopyTo(da.Slice(j));
            }
        }
        for (; j < h.Length; j++)
            da[j] = relu ? (h[j] > T.Zero ? dh[j] : T.Zero) : dh[j] * (T.One - h[j] * h[j]);
    }
}

/// <summary>LSTM cell, PyTorch gate order i, f, g, o.</summary>
internal static class LstmCell
{
    // forward (gates holds the pre-activations a = W_ih x + b_ih + W_hh h + b_hh on entry, activated in place):
    //   [i f g o] = [σ σ tanh σ](a)                  gates [4H]
    //   c' = f ⊙ c + i ⊙ g
    //   h' = o ⊙ tanh(c')                            tanhC [H] cached for backward
    public static void Forward<T>(Span<T> gates, ReadOnlySpan<T> c, Span<T> cNext, Span<T> tanhC, Span<T> hNext)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = c.Length;
        Span<T> i = gates.Slice(0, n), f = gates.Slice(n, n), g = gates.Slice(2 * n, n), o = gates.Slice(3 * n, n);
        TensorPrimitives.Sigmoid(gates.Slice(0, 2 * n), gates.Slice(0, 2 * n));
        TensorPrimitives.Tanh(g, g);
        TensorPrimitives.Sigmoid(o, o);
        TensorPrimitives.Multiply(f, c, cNext);
        TensorPrimitives.MultiplyAdd(i, g, cNext, cNext);
        TensorPrimitives.Tanh(cNext, tanhC);
        TensorPrimitives.Multiply(o, tanhC, hNext);
    }

    // backward (dc is the carried dL/dc', replaced by dL/dc on return):
    //   h' = o ⊙ tanh(c')        → do = dh ⊙ tanh(c');  dc' += dh ⊙ o ⊙ (1 − tanh²(c'))
    //   c' = f ⊙ c + i ⊙ g       → di = dc' ⊙ g;  df = dc' ⊙ c;  dg = dc' ⊙ i;  dc = dc' ⊙ f
    //   gates = act(a)           → da_i = di ⊙ i(1−i), da_f = df ⊙ f(1−f), da_g = dg ⊙ (1−g²), da_o = do ⊙ o(1−o)
    public static void Backward<T>(ReadOnlySpan<T> gates, ReadOnlySpan<T> c, ReadOnlySpan<T> tanhC, ReadOnlySpan<T> dh, Span<T> dc, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = c.Length;
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // The scalar loop below, Vector<T> wide (same operations in the same order per element).
            var one = Vector<T>.One;
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
            {
                var i = new Vector<T>(gates.Slice(j)); var f = new Vector<T>(gates.Slice(n + j));
                var g = new Vector<T>(gates.Slice(2 * n + j)); var o = new Vector<T>(gates.Slice(3 * n + j));
                var tc = new Vector<T>(tanhC.Slice(j)); var dhv = new Vector<T>(dh.Slice(j));
                var dcNext = new Vector<T>(dc.Slice(j)) + dhv * o * (one - tc * tc);
                (dcNext * g * i * (one - i)).CopyTo(da.Slice(j));
                (dcNext * new Vector<T>(c.Slice(j)) * f * (one - f)).CopyTo(da.Slice(n + j));
                (dcNext * i * (one - g * g)).CopyTo(da.Slice(2 * n + j));
                (dhv * tc * o * (one - o)).CopyTo(da.Slice(3 * n + j));
                (dcNext * f).CopyTo(dc.Slice(j));
            }
        }
        for (; j < n; j++)
        {
            T i = gates[j], f = gates[n + j], g = gates[2 * n + j], o = gates[3 * n + j];
            T tc = tanhC[j];
            T dcNext = dc[j] + dh[j] * o * (T.One - tc * tc);
            da[j] = dcNext * g * i * (T.One - i);
            da[n + j] = dcNext * c[j] * f * (T.One - f);
            da[2 * n + j] = dcNext * i * (T.One - g * g);
            da[3 * n + j] = dh[j] * tc * o * (T.One - o);
            dc[j] = dcNext * f;
        }
    }
}

/// <summary>GRU cell, PyTorch gate order r, z, n.</summary>
internal static class GruCell
{
    // forward:
    //   r = σ(ax_r + ah_r),  z = σ(ax_z + ah_z)
    //   n = tanh(ax_n + r ⊙ ah_n)                    ah_n = W_hn h + b_hn, cached for backward
    //   h' = (1 − z) ⊙ n + z ⊙ h
    public static void Forward<T>(ReadOnlySpan<T> ax, ReadOnlySpan<T> ah, ReadOnlySpan<T> h, Span<T> gates, Span<T> ahN, Span<T> hNext)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = h.Length;
        Span<T> rz = gates.Slice(0, 2 * n), gn = gates.Slice(2 * n, n);
        TensorPrimitives.Add(ax.Slice(0, 2 * n), ah.Slice(0, 2 * n), rz);
        TensorPrimitives.Sigmoid(rz, rz);
        ah.Slice(2 * n, n).CopyTo(ahN);
        TensorPrimitives.MultiplyAdd(gates.Slice(0, n), ahN, ax.Slice(2 * n, n), gn);
        TensorPrimitives.Tanh(gn, gn);
        // h' = n + z ⊙ (h − n)
        TensorPrimitives.Subtract(h, gn, hNext);
        TensorPrimitives.MultiplyAdd(gates.Slice(n, n), hNext, gn, hNext);
    }

    // backward:
    //   h' = (1 − z) ⊙ n + z ⊙ h   → dn = dh ⊙ (1 − z);  dz = dh ⊙ (h − n);  dh_direct = dh ⊙ z
    //   n = tanh(ax_n + r ⊙ ah_n)  → dan = dn ⊙ (1 − n²);  dr = dan ⊙ ah_n;  d(ah_n) = dan ⊙ r
    //   r, z = σ(·)                → dar = dr ⊙ r(1−r);  daz = dz ⊙ z(1−z)
    // dax = [dar, daz, dan] (gradient of the input pre-activations), dah = [dar, daz, dan ⊙ r] (hidden pre-activations).
    public static void Backward<T>(ReadOnlySpan<T> gates, ReadOnlySpan<T> ahN, ReadOnlySpan<T> h, ReadOnlySpan<T> dh,
        Span<T> dax, Span<T> dah, Span<T> dhDirect)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = h.Length;
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var one = Vector<T>.One;
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
            {
                var r = new Vector<T>(gates.Slice(j)); var z = new Vector<T>(gates.Slice(n + j)); var nn = new Vector<T>(gates.Slice(2 * n + j));
                var dhv = new Vector<T>(dh.Slice(j));
                var dn = dhv * (one - z);
                var dz = dhv * (new Vector<T>(h.Slice(j)) - nn);
                var dan = dn * (one - nn * nn);
                var dar = dan * new Vector<T>(ahN.Slice(j)) * r * (one - r);
                var daz = dz * z * (one - z);
                dar.CopyTo(dax.Slice(j)); daz.CopyTo(dax.Slice(n + j)); dan.CopyTo(dax.Slice(2 * n + j));
                dar.CopyTo(dah.Slice(j)); daz.CopyTo(dah.Slice(n + j)); (dan * r).CopyTo(dah.Slice(2 * n + j));
                (dhv * z).CopyTo(dhDirect.Slice(j));
            }
        }
        for (; j < n; j++)
        {
            T r = gates[j], z = gates[n + j], nn = gates[2 * n + j];
            T dn = dh[j] * (T.One - z);
            T dz = dh[j] * (h[j] - nn);
            T dan = dn * (T.One - nn * nn);
            T dar = dan * ahN[j] * r * (T.One - r);
            T daz = dz * z * (T.One - z);
            dax[j] = dar; dax[n + j] = daz; dax[2 * n + j] = dan;
            dah[j] = dar; dah[n + j] = daz; dah[2 * n + j] = dan * r;
            dhDirect[j] = dh[j] * z;
        }
    }
}
