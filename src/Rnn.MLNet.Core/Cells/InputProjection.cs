using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Cells;

/// <summary>
/// The part of a recurrent layer's forward pass that does not depend on the state: ax = X · W_ihᵀ + b_ih (+ b_hh, except
/// for the GRU, whose b_hn sits inside r ⊙ (·)) for all S·B input rows in one product ([S·B, I] × [I, GH]).
/// Training multiplies afresh (every optimizer step changes W_ih). Inference keeps W_ih packed from one call to the next
/// while the weights' <see cref="ParameterStore{T}.Version"/> is unchanged, and, when the rows' tokens are known, copies
/// each token's projection from the <see cref="TokenProjectionCache{T}"/>; both give results bit-identical to the training
/// path's product.
/// </summary>
internal sealed class InputProjection<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ParameterStore<T> _store;
    private readonly Parameter _wIh, _bIh, _bHh; // [GH, I], [GH], [GH]
    private readonly bool _addHh;
    private readonly PackedB<T> _packedIh = new(); // W_ih packed for inference, kept while the weights are unchanged
    private TokenProjectionCache<T>? _tokenCache;

    public InputProjection(ParameterStore<T> store, Parameter wIh, Parameter bIh, Parameter bHh, bool addHh)
    {
        _store = store; _wIh = wIh; _bIh = bIh; _bHh = bHh; _addHh = addHh;
    }

    private int GateSize => _wIh.Shape[0];
    private int InputSize => _wIh.Shape[1];

    /// <summary>Tokens whose projection the inference cache holds (for tests).</summary>
    internal int TokenCacheCount => _tokenCache?.Count ?? 0;

    /// <summary>
    /// Writes ax [rows, GH] for <paramref name="x"/> [rows, I]. <paramref name="inputKeys"/> [rows] (inference only; may be
    /// empty) names the token each row stands for (−1: none).
    /// </summary>
    public void Compute(ReadOnlySpan<T> x, int rows, bool inference, ReadOnlySpan<int> inputKeys, Span<T> ax)
    {
        int I = InputSize, GH = GateSize;
        ReadOnlySpan<T> bIh = _store.Read(_bIh), bHh = _store.Read(_bHh);
        if (!inference)
        {
            Gemm.Multiply(false, true, rows, GH, I, x, I, _store.Read(_wIh), I, ax, GH, accumulate: false);
            AddBiases(ax, rows, bIh, bHh, _addHh);
            return;
        }
        long version = _store.Version;
        _packedIh.PackReusing(true, GH, I, _store.ReadMemory(_wIh), I, version);
        if (!inputKeys.IsEmpty && InferenceCache.TokenProjectionBytes > 0)
        {
            // the rows' tokens are known: copy each token's projection (biases included) when it has one
            _tokenCache ??= new TokenProjectionCache<T>(I, GH, _addHh);
            _tokenCache.Project(inputKeys, x, rows, _packedIh, bIh, bHh, ax, version);
        }
        else
        {
            _tokenCache = null;
            Gemm.Multiply(false, rows, _packedIh, x, I, ax, GH, accumulate: false);
            AddBiases(ax, rows, bIh, bHh, _addHh);
        }
    }

    /// <summary>Adds b_ih (and b_hh when <paramref name="addHh"/>) to each of the first <paramref name="rows"/> rows of ax [rows, GH].</summary>
    internal static void AddBiases(Span<T> ax, int rows, ReadOnlySpan<T> bIh, ReadOnlySpan<T> bHh, bool addHh)
    {
        int gh = bIh.Length;
        for (int r = 0; r < rows; r++)
        {
            Span<T> row = ax.Slice(r * gh, gh);
            TensorPrimitives.Add(row, bIh, row);
            if (addHh) TensorPrimitives.Add(row, bHh, row);
        }
    }
}
