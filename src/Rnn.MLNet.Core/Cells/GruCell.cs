using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Cells;

// Shape key: H = hidden size; gates [3H] in PyTorch's order r, z, n. The two projections arrive apart:
// ax = W_ih x + b_ih [3H] and ah = W_hh h + b_hh [3H], since r multiplies ah's n block alone.

/// <summary>GRU cell: n = tanh(ax_n + r ⊙ ah_n), h' = (1 − z) ⊙ n + z ⊙ h.</summary>
internal sealed class GruCell<T> : Cell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override CellType Type => CellType.Gru;
    public override bool KeepsHiddenProjectionApart => true;
    public override bool CachesAux => true;

    // forward, two passes over the H units (r and z first, independent of each other; every vector loop does its scalar
    // loop's operations):
    //   (F1) r = σ(ax_r + ah_r),  z = σ(ax_z + ah_z)
    //   (F2) n = tanh(ax_n + r ⊙ ah_n)                aux = ah_n [H], kept for backward
    //   (F3) h' = (1 − z) ⊙ n + z ⊙ h                 computed as n + z ⊙ (h − n)
    //   gates [3H] = [r z n], kept for backward
    public override void Forward(in CellForwardRow<T> row)
    {
        ReadOnlySpan<T> ax = row.Ax, ah = row.Ah, h = row.H;
        Span<T> gates = row.Gates, ahN = row.Aux, hNext = row.HNext;
        int n = h.Length, w = Vector<T>.Count;
        ah.Slice(0, 2 * n).CopyTo(gates);
        Activations.AddSigmoid(ax.Slice(0, 2 * n), gates.Slice(0, 2 * n)); // (F1), r and z side by side
        int j = 0;
        if (Simd.VectorLoops)
            for (; j <= n - w; j += w)
            {
                var an = new Vector<T>(ah.Slice(2 * n + j));
                var nn = Activations.Tanh(new Vector<T>(gates.Slice(j)) * an + new Vector<T>(ax.Slice(2 * n + j)));  // (F2)
                nn.CopyTo(gates.Slice(2 * n + j)); an.CopyTo(ahN.Slice(j));
                (new Vector<T>(gates.Slice(n + j)) * (new Vector<T>(h.Slice(j)) - nn) + nn).CopyTo(hNext.Slice(j)); // (F3)
            }
        for (; j < n; j++)
        {
            T an = ah[2 * n + j];
            T nn = Activations.Tanh(gates[j] * an + ax[2 * n + j]);  // (F2)
            gates[2 * n + j] = nn; ahN[j] = an;
            hNext[j] = gates[n + j] * (h[j] - nn) + nn;              // (F3)
        }
    }

    // backward:
    //   (F3) → dn = dh ⊙ (1 − z);  dz = dh ⊙ (h − n);  dh_direct = dh ⊙ z
    //   (F2) → dan = dn ⊙ (1 − n²);  dr = dan ⊙ ah_n;  d(ah_n) = dan ⊙ r
    //   (F1) → dar = dr ⊙ r(1−r);  daz = dz ⊙ z(1−z)
    //   dax = [dar, daz, dan] (input pre-activations), dah = [dar, daz, dan ⊙ r] (hidden pre-activations)
    public override void Backward(in CellBackwardRow<T> row)
    {
        ReadOnlySpan<T> gates = row.Gates, ahN = row.Aux, h = row.H, dh = row.Dh;
        Span<T> dax = row.Dax, dah = row.Dah, dhDirect = row.DhDirect;
        int n = h.Length;
        int j = 0;
        if (Simd.VectorLoops)
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
            T dn = dh[j] * (T.One - z);                 // (F3)
            T dz = dh[j] * (h[j] - nn);                 // (F3)
            T dan = dn * (T.One - nn * nn);             // (F2) tanh'
            T dar = dan * ahN[j] * r * (T.One - r);     // (F2) dr, (F1) σ'
            T daz = dz * z * (T.One - z);               // (F1) σ'
            dax[j] = dar; dax[n + j] = daz; dax[2 * n + j] = dan;
            dah[j] = dar; dah[n + j] = daz; dah[2 * n + j] = dan * r; // (F2) d(ah_n)
            dhDirect[j] = dh[j] * z;                    // (F3)
        }
    }
}
