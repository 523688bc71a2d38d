using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Cells;

/// <summary>
/// The part of a recurrent layer's forward pass that does not depend on the state: ax = X · W_ihᵀ + b_ih (+ b_hh, except
/// for the GRU, whose b_hn sits inside r ⊙ (·)) for all S·B input rows in one product ([S·B, I] × [I, GH]).
/// Training multiplies afresh (every optimizer step changes W_ih). Inference keeps W_ih packed from one call to the next
/// while the weights' <see cref="ParameterStore{T}.Version"/> is unchanged, and, when the rows' tokens are known, copies
/// each token's projection from the <see cref="TokenProjectionCache{T}"/>; both give results bit-identical to the training
/// path's product. With <see cref="InferencePrecision.Int8Weights"/> the product is by W_ih in int8 instead
/// (<see cref="Int8Matrix"/>), and the token cache keeps those results apart from the float ones.
/// </summary>
internal sealed class InputProjection<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ParameterStore<T> _store;
    private readonly Parameter _wIh, _bIh, _bHh; // [GH, I], [GH], [GH]
    private readonly bool _addHh;
    private readonly PackedB<T> _packedIh = new(); // W_ih packed for inference, kept while the weights are unchanged
    private TokenProjectionCache<T>? _tokenCache;
    private Int8Matrix? _int8Ih; // W_ih in int8 (opt-in reduced-precision inference, float only)
    private bool _int8;          // the current inference call multiplies by _int8Ih

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
    /// empty) names the token each row stands for (−1: none). <paramref name="precision"/> (float inference only; else
    /// <see cref="InferencePrecision.Exact"/>): <see cref="InferencePrecision.Int8Weights"/> multiplies by W_ih in int8.
    /// </summary>
    public void Compute(ReadOnlySpan<T> x, int rows, bool inference, ReadOnlySpan<int> inputKeys, Span<T> ax, InferencePrecision precision = InferencePrecision.Exact)
    {
        int I = InputSize, GH = GateSize;
        if (!inference)
        {
            Gemm.Multiply(false, true, rows, GH, I, x, I, _store.Read(_wIh), I, ax, GH, accumulate: false);
            AddBiases(ax, rows, _store.Read(_bIh), _store.Read(_bHh), _addHh);
            return;
        }
        Prepare(precision);
        if (!inputKeys.IsEmpty && InferenceCache.TokenProjectionBytes > 0)
        {
            // the rows' tokens are known: copy each token's projection (biases included) when it has one
            _tokenCache ??= new TokenProjectionCache<T>(I, GH);
            _tokenCache.Project(inputKeys, x, rows, this, ax, _store.Version, _int8 ? InferencePrecision.Int8Weights : InferencePrecision.Exact);
        }
        else
        {
            _tokenCache = null;
            ProjectRows(x, rows, ax);
        }
    }

    /// <summary>
    /// Inference: packs W_ih for <see cref="ProjectRows"/> by <paramref name="precision"/> (as <see cref="Compute"/>
    /// does) unless already packed, projecting nothing: for a caller that projects its rows piece by piece.
    /// </summary>
    public void Prepare(InferencePrecision precision)
    {
        long version = _store.Version;
        _int8 = precision == InferencePrecision.Int8Weights && typeof(T) == typeof(float);
        ReadOnlyMemory<T> wIh = _store.ReadMemory(_wIh);
        if (_int8) PackInt8(wIh, version);
        else _packedIh.PackReusing(true, GateSize, InputSize, wIh, InputSize, version);
    }

    /// <summary>
    /// Inference: ax [rows, GH] = x [rows, I] · W_ihᵀ + b_ih (+ b_hh), by the arithmetic of the last <see cref="Prepare"/>
    /// (or <see cref="Compute"/>) call: float, the biases added one after the other; or int8 weights, the biases' sum added in the product's store.
    /// Every row is the same chain of operations whatever the number of rows.
    /// </summary>
    internal void ProjectRows(ReadOnlySpan<T> x, int rows, Span<T> ax)
    {
        int I = InputSize, GH = GateSize;
        if (_int8)
        {
            _int8Ih!.Multiply(rows, MemoryMarshal.Cast<T, float>(x), I, MemoryMarshal.Cast<T, float>(ax), GH);
            return;
        }
        Gemm.Multiply(false, rows, _packedIh, x.Slice(0, rows * I), I, ax.Slice(0, rows * GH), GH, accumulate: false);
        AddBiases(ax, rows, _store.Read(_bIh), _store.Read(_bHh), _addHh);
    }

    // W_ih in int8 with b_ih (+ b_hh) folded into its stores, unless already packed at this version
    private void PackInt8(ReadOnlyMemory<T> wIh, long version)
    {
        int GH = GateSize;
        _int8Ih ??= new Int8Matrix();
        Span<float> bias = GH <= 4096 ? stackalloc float[GH] : new float[GH];
        MemoryMarshal.Cast<T, float>(_store.Read(_bIh)).CopyTo(bias);
        if (_addHh) TensorPrimitives.Add(bias, MemoryMarshal.Cast<T, float>(_store.Read(_bHh)), bias);
        _int8Ih.PackReusing(Unsafe.As<ReadOnlyMemory<T>, ReadOnlyMemory<float>>(ref wIh), GH, InputSize, version, bias);
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
