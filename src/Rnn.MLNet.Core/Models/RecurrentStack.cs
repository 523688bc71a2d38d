using System;
using System.Collections.Generic;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Models;

// Shape key: S = steps, B = batch, I = input width of layer 0, H = hidden size, D = directions, L = layers.
// Activations are time-major: row (t, b) of an [S, B, X] buffer starts at (t·B + b)·X.

/// <summary>
/// L stacked recurrent layers, each one- or two-directional (outputs concatenated, width D·H), with dropout between layers:
/// the part shared by every model (sequence network, encoder, decoder). The caller fills <see cref="Input"/>, runs
/// <see cref="Forward"/>, and for training fills <see cref="TopGradient"/> and runs <see cref="Backward"/>.
/// </summary>
internal sealed class RecurrentStack<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentLayer<T>[] _layers; // [L·D], index l·D + d
    private readonly int _d, _h, _layerCount, _inputSize;
    private readonly float _dropout;

    private int _steps, _batch;
    private readonly T[][] _x;        // _x[l]: input of layer l [S, B, I_l]; _x[L]: top output [S, B, D·H]
    private readonly T[][] _dirOut;   // per direction scratch output [S, B, H] (bidirectional only)
    private readonly T[][] _dropMask; // per layer l < L−1: scale (0 or 1/(1−p)) [S, B, D·H]
    private readonly bool[] _dropped;
    private T[] _dCur = Array.Empty<T>();
    private T[] _dNext = Array.Empty<T>();
    private T[] _dDir = Array.Empty<T>();
    private T[] _dDirIn = Array.Empty<T>();
    private T[] _dh0 = Array.Empty<T>();
    private T[] _dc0 = Array.Empty<T>();

    public RecurrentStack(CellType cell, int inputSize, int hiddenSize, int layers, bool bidirectional, float dropout, ParameterStore<T> store, string prefix)
    {
        _d = bidirectional ? 2 : 1; _h = hiddenSize; _layerCount = layers; _inputSize = inputSize; _dropout = dropout;
        Cell = cell;
        _layers = new RecurrentLayer<T>[layers * _d];
        for (int l = 0; l < layers; l++)
            for (int d = 0; d < _d; d++)
                _layers[l * _d + d] = new RecurrentLayer<T>(cell, l == 0 ? inputSize : _d * _h, _h, d == 1, store, prefix, Suffix(l, d));
        _x = new T[layers + 1][];
        for (int i = 0; i < _x.Length; i++) _x[i] = Array.Empty<T>();
        _dirOut = new T[_d][];
        for (int i = 0; i < _d; i++) _dirOut[i] = Array.Empty<T>();
        _dropMask = new T[layers][];
        for (int i = 0; i < layers; i++) _dropMask[i] = Array.Empty<T>();
        _dropped = new bool[layers];
    }

    public CellType Cell { get; }

    /// <summary>Width of the top output, D·H.</summary>
    public int OutputSize => _d * _h;

    /// <summary>Number of layer-directions L·D (the first dimension of a <see cref="RecurrentState{T}"/>).</summary>
    public int StateCount => _layers.Length;

    private static string Suffix(int layer, int direction) => direction == 0 ? $"l{layer}" : $"l{layer}_reverse";

    /// <summary>PyTorch names and shapes (prefix + weight_ih_l0, …, weight_hh_l1_reverse, …).</summary>
    public static IEnumerable<(string Name, int[] Shape)> Layout(CellType cell, int inputSize, int hiddenSize, int layers, bool bidirectional, string prefix)
    {
        int d = bidirectional ? 2 : 1;
        for (int l = 0; l < layers; l++)
            for (int dir = 0; dir < d; dir++)
                foreach (var (name, shape) in RecurrentLayer<T>.Layout(cell, l == 0 ? inputSize : d * hiddenSize, hiddenSize, Suffix(l, dir)))
                    yield return (prefix + name, shape);
    }

    /// <summary>Layer l·D + d.</summary>
    internal RecurrentLayer<T> Layer(int index) => _layers[index];

    /// <summary>The input buffer [S, B, I] of the next <see cref="Forward"/>, cleared; the caller fills the valid rows.</summary>
    public Span<T> Input(int steps, int batch)
    {
        Ensure(ref _x[0], steps * batch * _inputSize);
        Span<T> x0 = _x[0].AsSpan(0, steps * batch * _inputSize);
        x0.Clear();
        return x0;
    }

    /// <summary>The first layer's input [S, B, I] of the last forward pass (as <see cref="Input"/> was filled; zero at padding).</summary>
    public ReadOnlySpan<T> LastInput => _x[0].AsSpan(0, _steps * _batch * _inputSize);

    /// <summary>Top output [S, B, D·H] of the last forward pass (zero at padding).</summary>
    public ReadOnlySpan<T> Top => _x[_layerCount].AsSpan(0, _steps * _batch * OutputSize);

    /// <summary>
    /// Runs the stack over <see cref="Input"/>. <paramref name="initialState"/> [L·D, B, H] or null for zeros.
    /// <paramref name="training"/> turns dropout on (masks drawn from <paramref name="dropoutRng"/>). <paramref name="inputKeys"/>
    /// [S·B] (may be empty): the token each input row stands for, −1 for none (inference caches the first layer's projections
    /// by token). Returns <see cref="Top"/>.
    /// </summary>
    public ReadOnlySpan<T> Forward(int steps, int batch, int[] lengths, bool training, Rng dropoutRng, RecurrentState<T>? initialState,
        ReadOnlySpan<int> inputKeys = default)
    {
        _steps = steps; _batch = batch;
        int S = steps, B = batch, DH = OutputSize;
        for (int l = 0; l < _layerCount; l++)
        {
            Ensure(ref _x[l + 1], S * B * DH);
            Span<T> next = _x[l + 1].AsSpan(0, S * B * DH);
            for (int d = 0; d < _d; d++)
            {
                var layer = _layers[l * _d + d];
                int idx = l * _d + d;
                ReadOnlySpan<T> h0 = initialState is null ? default : initialState.Hidden.AsSpan(idx * B * _h, B * _h);
                ReadOnlySpan<T> c0 = initialState is null || initialState.Cell.Length == 0 ? default : initialState.Cell.AsSpan(idx * B * _h, B * _h);
                if (_d == 1)
                {
                    layer.Forward(_x[l].AsMemory(0, S * B * layer.InputSize), S, B, lengths, h0, c0, _x[l + 1].AsMemory(0, S * B * DH), inference: !training,
                        inputKeys: l == 0 && !training ? inputKeys : default);
                }
                else
                {
                    Ensure(ref _dirOut[d], S * B * _h);
                    Span<T> o = _dirOut[d].AsSpan(0, S * B * _h);
                    layer.Forward(_x[l].AsMemory(0, S * B * layer.InputSize), S, B, lengths, h0, c0, _dirOut[d].AsMemory(0, S * B * _h), inference: !training,
                        inputKeys: l == 0 && !training ? inputKeys : default);
                    for (int r = 0; r < S * B; r++) o.Slice(r * _h, _h).CopyTo(next.Slice(r * DH + d * _h, _h));
                }
            }
            _dropped[l] = training && _dropout > 0 && l < _layerCount - 1;
            if (_dropped[l])
            {
                Ensure(ref _dropMask[l], S * B * DH);
                Span<T> mask = _dropMask[l].AsSpan(0, S * B * DH);
                T scale = T.One / (T.One - T.CreateChecked(_dropout));
                for (int i = 0; i < mask.Length; i++) mask[i] = dropoutRng.NextDouble() < _dropout ? T.Zero : scale;
                TensorPrimitives.Multiply(next, mask, next);
            }
        }
        return Top;
    }

    /// <summary>Copies the final state of every layer and direction into <paramref name="state"/> [L·D, B, H].</summary>
    public void CopyFinalState(RecurrentState<T> state)
    {
        int n = _batch * _h;
        for (int i = 0; i < _layers.Length; i++)
        {
            _layers[i].FinalHidden.CopyTo(state.Hidden.AsSpan(i * n, n));
            if (state.Cell.Length > 0) _layers[i].FinalCell.CopyTo(state.Cell.AsSpan(i * n, n));
        }
    }

    /// <summary>The buffer for dL/d(top) [S, B, D·H], cleared; fill it, then call <see cref="Backward"/>.</summary>
    public Span<T> TopGradient()
    {
        int n = _steps * _batch * OutputSize;
        Ensure(ref _dCur, _steps * _batch * System.Math.Max(OutputSize, _inputSize));
        Ensure(ref _dNext, _steps * _batch * System.Math.Max(OutputSize, _inputSize));
        Span<T> d = _dCur.AsSpan(0, n);
        d.Clear();
        return d;
    }

    /// <summary>
    /// Backpropagation through the stack for the last forward pass, from <see cref="TopGradient"/> (which it overwrites).
    /// Optional: <paramref name="dFinalState"/> arriving at the final state, <paramref name="dInitialState"/> receiving the
    /// initial state's gradient. Returns dL/d(input) [S, B, I] when <paramref name="needInputGradient"/>, else empty.
    /// <paramref name="parameterGradients"/> false leaves the weight gradients untouched (input gradients only).
    /// </summary>
    public ReadOnlySpan<T> Backward(RecurrentState<T>? dFinalState, RecurrentState<T>? dInitialState, bool needInputGradient, bool parameterGradients = true)
    {
        int S = _steps, B = _batch, DH = OutputSize;
        Ensure(ref _dh0, B * _h);
        Ensure(ref _dc0, B * _h);
        T[] cur = _dCur, nxt = _dNext;
        for (int l = _layerCount - 1; l >= 0; l--)
        {
            Span<T> dCur = cur.AsSpan(0, S * B * DH);
            if (_dropped[l]) TensorPrimitives.Multiply(dCur, _dropMask[l].AsSpan(0, S * B * DH), dCur);
            int inSize = _layers[l * _d].InputSize;
            bool needInput = l > 0 || needInputGradient;
            Span<T> dIn = nxt.AsSpan(0, S * B * inSize);
            for (int d = 0; d < _d; d++)
            {
                var layer = _layers[l * _d + d];
                int idx = l * _d + d;
                ReadOnlyMemory<T> dOut;
                if (_d == 1) dOut = cur.AsMemory(0, S * B * DH);
                else
                {
                    Ensure(ref _dDir, S * B * _h);
                    Span<T> dd = _dDir.AsSpan(0, S * B * _h);
                    for (int r = 0; r < S * B; r++) dCur.Slice(r * DH + d * _h, _h).CopyTo(dd.Slice(r * _h, _h));
                    dOut = _dDir.AsMemory(0, S * B * _h);
                }
                ReadOnlySpan<T> dhN = dFinalState is null ? default : dFinalState.Hidden.AsSpan(idx * B * _h, B * _h);
                ReadOnlySpan<T> dcN = dFinalState is null || dFinalState.Cell.Length == 0 ? default : dFinalState.Cell.AsSpan(idx * B * _h, B * _h);
                Span<T> dInDir = default;
                if (needInput)
                {
                    if (d == 0) dInDir = dIn;
                    else { Ensure(ref _dDirIn, S * B * inSize); dInDir = _dDirIn.AsSpan(0, S * B * inSize); }
                }
                Span<T> dh0 = dInitialState is null ? default : _dh0.AsSpan(0, B * _h);
                Span<T> dc0 = dInitialState is null || dInitialState.Cell.Length == 0 ? default : _dc0.AsSpan(0, B * _h);
                layer.Backward(dOut, dhN, dcN, dInDir, dh0, dc0, parameterGradients);
                if (needInput && d == 1) TensorPrimitives.Add(dIn, dInDir, dIn);
                if (dInitialState is not null)
                {
                    dh0.CopyTo(dInitialState.Hidden.AsSpan(idx * B * _h, B * _h));
                    if (!dc0.IsEmpty) dc0.CopyTo(dInitialState.Cell.AsSpan(idx * B * _h, B * _h));
                }
            }
            (cur, nxt) = (nxt, cur);
        }
        // cur now holds dL/d(_x[0]).
        return needInputGradient ? cur.AsSpan(0, S * B * _inputSize) : default;
    }

    private static void Ensure(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[size];
    }
}
