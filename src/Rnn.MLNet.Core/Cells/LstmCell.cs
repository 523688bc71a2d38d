using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Cells;

// Shape key: H = hidden size; gates [4H] in PyTorch's order i, f, g, o. The pre-activations a = W_ih x + b_ih + W_hh h + b_hh
// arrive in two parts, row.Ax (W_ih x + b_ih + b_hh) and row.Gates (W_hh h), and leave as the activated gates in row.Gates.

/// <summary>LSTM cell: c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').</summary>
internal sealed class LstmCell<T> : Cell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override CellType Type => CellType.Lstm;
    public override bool CachesAux => true;

    // forward, two passes over the H units (the first's activations are independent, so they overlap in the core; every
    // vector loop does its scalar loop's operations):
    //   (F1) [i f g o] = [σ σ tanh σ](ax + gates)      gates [4H], kept for backward
    //   (F2) c' = f ⊙ c + i ⊙ g
    //   (F3) h' = o ⊙ tanh(c')                        aux = tanh(c') [H], kept for backward
    public override void Forward(in CellForwardRow<T> row)
    {
        Span<T> gates = row.Gates, cNext = row.CNext, tanhC = row.Aux, hNext = row.HNext;
        ReadOnlySpan<T> ax = row.Ax, c = row.C;
        int n = c.Length, w = Vector<T>.Count;
        Activations.AddSigmoid(ax.Slice(0, 2 * n), gates.Slice(0, 2 * n));          // (F1) i, f
        Activations.AddTanh(ax.Slice(2 * n, n), gates.Slice(2 * n, n));              // (F1) g
        Activations.AddSigmoid(ax.Slice(3 * n, n), gates.Slice(3 * n, n));          // (F1) o
        int j = 0;
        if (Simd.VectorLoops)
            for (; j <= n - w; j += w)
            {
                var cn = new Vector<T>(gates.Slice(n + j)) * new Vector<T>(c.Slice(j)) + new Vector<T>(gates.Slice(j)) * new Vector<T>(gates.Slice(2 * n + j)); // (F2)
                var tc = Activations.Tanh(cn);                                                                                                          // (F3)
                cn.CopyTo(cNext.Slice(j)); tc.CopyTo(tanhC.Slice(j)); (new Vector<T>(gates.Slice(3 * n + j)) * tc).CopyTo(hNext.Slice(j));
            }
        for (; j < n; j++)
        {
            T cn = gates[n + j] * c[j] + gates[j] * gates[2 * n + j]; // (F2)
            T tc = Activations.Tanh(cn);                              // (F3)
            cNext[j] = cn; tanhC[j] = tc; hNext[j] = gates[3 * n + j] * tc;
        }
    }

    // backward (dc carries dL/dc' in, dL/dc out):
    //   (F3) → do = dh ⊙ tanh(c');  dc' += dh ⊙ o ⊙ (1 − tanh²(c'))
    //   (F2) → di = dc' ⊙ g;  df = dc' ⊙ c;  dg = dc' ⊙ i;  dc = dc' ⊙ f
    //   (F1) → da_i = di ⊙ i(1−i);  da_f = df ⊙ f(1−f);  da_g = dg ⊙ (1−g²);  da_o = do ⊙ o(1−o)
    //   no direct term: h enters only through W_hh h (dh_direct = 0)
    public override void Backward(in CellBackwardRow<T> row)
    {
        ReadOnlySpan<T> gates = row.Gates, c = row.C, tanhC = row.Aux, dh = row.Dh;
        Span<T> dc = row.Dc, da = row.Dax;
        int n = c.Length;
        int j = 0;
        if (Simd.VectorLoops)
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
            T dcNext = dc[j] + dh[j] * o * (T.One - tc * tc); // (F3)
            da[j] = dcNext * g * i * (T.One - i);              // (F2) di, (F1) σ'
            da[n + j] = dcNext * c[j] * f * (T.One - f);       // (F2) df, (F1) σ'
            da[2 * n + j] = dcNext * i * (T.One - g * g);      // (F2) dg, (F1) tanh'
            da[3 * n + j] = dh[j] * tc * o * (T.One - o);      // (F3) do, (F1) σ'
            dc[j] = dcNext * f;                                // (F2) dc
        }
        row.DhDirect.Clear();
    }
}
