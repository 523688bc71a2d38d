using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Cells;

// Shape key: H = hidden size. Pre-activations a = W_ih x + b_ih + W_hh h + b_hh [H] arrive in two parts: row.Ax
// (W_ih x + b_ih + b_hh) and row.Gates (W_hh h).

/// <summary>Elman cell: h' = tanh(a) (or relu(a)).</summary>
internal sealed class ElmanCell<T>(bool relu) : Cell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override CellType Type => relu ? CellType.RnnRelu : CellType.RnnTanh;

    // forward: h' = tanh(a)  (or max(0, a)),  a = ax + gates (the vector loop does the scalar loop's operations)
    public override void Forward(in CellForwardRow<T> row)
    {
        ReadOnlySpan<T> ax = row.Ax;
        Span<T> hNext = row.HNext;
        row.Gates.CopyTo(hNext);
        if (!relu)
        {
            Activations.AddTanh(ax, hNext);
            return;
        }
        int j = 0;
        if (Simd.VectorLoops)
            for (; j <= hNext.Length - Vector<T>.Count; j += Vector<T>.Count)
                Vector.Max(new Vector<T>(ax.Slice(j)) + new Vector<T>(hNext.Slice(j)), Vector<T>.Zero).CopyTo(hNext.Slice(j));
        for (; j < hNext.Length; j++) hNext[j] = T.Max(ax[j] + hNext[j], T.Zero);
    }

    // backward of h' = tanh(a): da = dh ⊙ (1 − h'²);  of h' = max(0, a): da = dh ⊙ [h' > 0];  no direct term (dh_direct = 0)
    public override void Backward(in CellBackwardRow<T> row)
    {
        ReadOnlySpan<T> h = row.HNext, dh = row.Dh;
        Span<T> da = row.Dax;
        int j = 0;
        if (Simd.VectorLoops && !relu)
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
        row.DhDirect.Clear();
    }
}
