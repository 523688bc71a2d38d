using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Cells;

// Shape key: H = hidden size. Pre-activations a = W_ih x + b_ih + W_hh h + b_hh [H] arrive in row.Gates.

/// <summary>Elman cell: h' = tanh(a) (or relu(a)).</summary>
internal sealed class ElmanCell<T>(bool relu) : Cell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override CellType Type => relu ? CellType.RnnRelu : CellType.RnnTanh;

    // forward: h' = tanh(a)  (or max(0, a))
    public override void Forward(in CellForwardRow<T> row)
    {
        if (relu) TensorPrimitives.Max(row.Gates, T.Zero, row.HNext);
        else TensorPrimitives.Tanh(row.Gates, row.HNext);
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
