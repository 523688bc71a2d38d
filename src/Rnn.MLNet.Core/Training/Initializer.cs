using System;
using System.Numerics;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Training;

/// <summary>Weight initialization schemes for the recurrent and head weight matrices.</summary>
public enum InitScheme
{
    /// <summary>PyTorch's default for nn.RNN/LSTM/GRU: every weight and bias U(−1/√H, 1/√H); head U(−1/√fan_in, 1/√fan_in); embedding N(0, 1).</summary>
    PyTorchDefault,

    /// <summary>Xavier/Glorot uniform U(±√(6/(fan_in + fan_out))) per gate block; biases zero.</summary>
    Xavier,

    /// <summary>Kaiming/He uniform U(±√(6/fan_in)) (ReLU gain); biases zero.</summary>
    Kaiming,

    /// <summary>Orthogonal recurrent weights (each [H, H] gate block of W_hh), Xavier input weights; biases zero except the LSTM forget gate and GRU update gate (1 in b_ih and b_hh), which start leaning towards keeping the state.</summary>
    Orthogonal,
}

/// <summary>Fills a network's parameters according to an <see cref="InitScheme"/> from a seed (same seed → same weights).</summary>
public static class Initializer
{
    /// <summary>Initializes every parameter of <paramref name="network"/>.</summary>
    public static void Initialize<T>(SequenceNetwork<T> network, InitScheme scheme, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        Initialize(network.Parameters, scheme, seed);
    }

    /// <summary>
    /// Initializes every parameter of a store by its PyTorch-style name: <c>…embedding.weight</c> N(0, 1); recurrent
    /// tensors (<c>…weight_ih_…</c>, <c>…weight_hh_…</c>, <c>…bias_ih_…</c>, <c>…bias_hh_…</c>) by <paramref name="scheme"/>
    /// with the gate count and hidden size read from the matching <c>weight_hh</c>; any other <c>X.weight</c> / <c>X.bias</c>
    /// pair is a linear layer, U(−1/√fan_in, 1/√fan_in) as nn.Linear.
    /// </summary>
    public static void Initialize<T>(ParameterStore<T> store, InitScheme scheme, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(store);
        var rng = new Rng(seed);
        foreach (var p in store.Parameters)
        {
            Span<T> v = store.Value(p);
            string? recurrentHh = RecurrentWeightHh(p.Name);
            if (p.Name.EndsWith("embedding.weight", StringComparison.Ordinal))
            {
                for (int i = 0; i < v.Length; i++) v[i] = T.CreateChecked(rng.NextNormal());
            }
            else if (recurrentHh is null)
            {
                // A linear layer: fan_in is the width of its weight's rows.
                int dot = p.Name.LastIndexOf('.');
                string weightName = (dot < 0 ? "" : p.Name[..(dot + 1)]) + "weight";
                int fanIn = store.Contains(weightName) && store[weightName].Shape.Length == 2 ? store[weightName].Shape[1] : p.Shape[^1];
                Uniform(v, rng, 1.0 / System.Math.Sqrt(fanIn));
            }
            else
            {
                var hh = store[recurrentHh];
                int h = hh.Shape[1], gates = hh.Shape[0] / h;
                if (scheme == InitScheme.PyTorchDefault)
                {
                    Uniform(v, rng, 1.0 / System.Math.Sqrt(h));
                }
                else if (p.Shape.Length == 1)
                {
                    v.Clear();
                    // Orthogonal scheme: the gates that keep memory start leaning towards "keep" (1 in b_ih and in b_hh, so
                    // σ(2) ≈ 0.88): the LSTM forget gate f (block 1 of i f g o) and the GRU update gate z (block 1 of r z n).
                    if (scheme == InitScheme.Orthogonal && gates > 1) v.Slice(h, h).Fill(T.One);
                }
                else
                {
                    int fanIn = p.Shape[1];
                    bool recurrent = p.Name.Contains("weight_hh_", StringComparison.Ordinal);
                    for (int g = 0; g < gates; g++)
                    {
                        Span<T> block = v.Slice(g * h * fanIn, h * fanIn); // one gate's [H, fan_in] rows
                        if (scheme == InitScheme.Orthogonal && recurrent) Orthogonal(block, h, fanIn, rng);
                        else if (scheme == InitScheme.Kaiming) Uniform(block, rng, System.Math.Sqrt(6.0 / fanIn));
                        else Uniform(block, rng, System.Math.Sqrt(6.0 / (fanIn + h)));
                    }
                }
            }
        }
    }

    /// <summary>For a recurrent tensor name (…weight_ih_l0, …bias_hh_l1_reverse) the name of its weight_hh; else null.</summary>
    private static string? RecurrentWeightHh(string name)
    {
        foreach (string part in new[] { "weight_ih_", "weight_hh_", "bias_ih_", "bias_hh_" })
        {
            int at = name.LastIndexOf(part, StringComparison.Ordinal);
            if (at >= 0) return name[..at] + "weight_hh_" + name[(at + part.Length)..];
        }
        return null;
    }

    private static void Uniform<T>(Span<T> v, Rng rng, double bound) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < v.Length; i++) v[i] = T.CreateChecked(rng.NextUniform(-bound, bound));
    }

    /// <summary>A (semi-)orthogonal [rows, cols] matrix: Gram–Schmidt on Gaussian rows (or columns when rows &gt; cols).</summary>
    internal static void Orthogonal<T>(Span<T> m, int rows, int cols, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool byRows = rows <= cols;
        int count = byRows ? rows : cols, len = byRows ? cols : rows;
        var q = new double[count * len];
        for (int i = 0; i < q.Length; i++) q[i] = rng.NextNormal();
        for (int i = 0; i < count; i++)
        {
            var vi = q.AsSpan(i * len, len);
            for (int pass = 0; pass < 2; pass++) // re-orthogonalize once for accuracy
                for (int j = 0; j < i; j++)
                {
                    var vj = q.AsSpan(j * len, len);
                    double dot = 0;
                    for (int k = 0; k < len; k++) dot += vi[k] * vj[k];
                    for (int k = 0; k < len; k++) vi[k] -= dot * vj[k];
                }
            double norm = 0;
            for (int k = 0; k < len; k++) norm += vi[k] * vi[k];
            norm = System.Math.Sqrt(norm);
            for (int k = 0; k < len; k++) vi[k] /= norm;
        }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                m[r * cols + c] = T.CreateChecked(byRows ? q[r * len + c] : q[c * len + r]);
    }
}
