using System;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Cells;

// Shape key: S = time steps, B = batch, I = input size, H = hidden size, G = gate count (1 RNN, 4 LSTM, 3 GRU).
// Sequences are time-major: element (t, b, j) of an [S, B, X] buffer is at (t·B + b)·X + j.
// "Position" p is the time index in the input; "step" k is the order in which this direction visits positions
// (p = k forwards, p = S−1−k for the reverse direction). State buffers are indexed by step: h[0] is the initial state,
// h[k+1] the state after step k.
// Masking: position p of sequence b is valid when p < lengths[b]. On an invalid position the state is held
// (h[k+1] = h[k], c likewise) and the output is zero, so padding never changes a result, and the reverse direction
// starts each sequence at its own last valid position from the initial state.

/// <summary>One direction of one recurrent layer over a whole batch of sequences: forward with caches, then backward through time.</summary>
internal sealed class RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public CellType Cell { get; }
    public int InputSize { get; }
    public int HiddenSize { get; }
    public bool Reverse { get; }
    public int GateSize => Cell.GateCount() * HiddenSize;

    private readonly ParameterStore<T> _store;
    private readonly Parameter _wIh, _wHh, _bIh, _bHh; // [GH, I], [GH, H], [GH], [GH]

    // Caches of the last forward pass.
    private int _steps, _batch;
    private int[] _lengths = Array.Empty<int>();
    private T[] _ax = Array.Empty<T>();     // [S, B, GH] by position: W_ih x + b_ih (+ b_hh for RNN and LSTM)
    private T[] _ah = Array.Empty<T>();     // [B, GH] GRU scratch: W_hh h + b_hh for one step
    private T[] _gates = Array.Empty<T>();  // [S, B, GH] by step: pre-activations, then activated in place (LSTM i f g o, GRU r z n)
    private T[] _h = Array.Empty<T>();      // [S+1, B, H] by step
    private T[] _c = Array.Empty<T>();      // [S+1, B, H] by step (LSTM)
    private T[] _aux = Array.Empty<T>();    // [S, B, H] by step: LSTM tanh(c'), GRU ah_n
    private ReadOnlyMemory<T> _input;       // [S, B, I] by position (kept by reference, owned by the caller)
    private Memory<T> _output;              // [S, B, H] by position, the caller's, during Forward
    private ReadOnlyMemory<T> _dOutput;     // [S, B, H] by position, the caller's, during Backward

    // Backward scratch.
    private T[] _dax = Array.Empty<T>();    // [S, B, GH] by position: dL/d(ax)
    private T[] _dah = Array.Empty<T>();    // [S, B, GH] by step:     dL/d(ah)
    private T[] _dh = Array.Empty<T>();     // [B, H]
    private T[] _dhNext = Array.Empty<T>(); // [B, H]
    private T[] _dc = Array.Empty<T>();     // [B, H]
    private readonly PackedB<T> _packedHh = new(); // W_hh packed for the step products (forward: h·W_hhᵀ, backward: dah·W_hh)
    private readonly PackedB<T> _packedIh = new(); // W_ih packed for inference, kept while the weights are unchanged
    private TokenProjectionCache<T>? _tokenCache;  // inference: ax per input token (first layer of a token model)

    public RecurrentLayer(CellType cell, int inputSize, int hiddenSize, bool reverse, ParameterStore<T> store, string prefix, string suffix)
    {
        Cell = cell; InputSize = inputSize; HiddenSize = hiddenSize; Reverse = reverse;
        _store = store;
        _wIh = store[prefix + "weight_ih_" + suffix];
        _wHh = store[prefix + "weight_hh_" + suffix];
        _bIh = store[prefix + "bias_ih_" + suffix];
        _bHh = store[prefix + "bias_hh_" + suffix];
    }

    /// <summary>PyTorch names and shapes of this layer's parameters.</summary>
    public static (string, int[])[] Layout(CellType cell, int inputSize, int hiddenSize, string suffix)
    {
        int gh = cell.GateCount() * hiddenSize;
        return new[]
        {
            ("weight_ih_" + suffix, new[] { gh, inputSize }),
            ("weight_hh_" + suffix, new[] { gh, hiddenSize }),
            ("bias_ih_" + suffix, new[] { gh }),
            ("bias_hh_" + suffix, new[] { gh }),
        };
    }

    /// <summary>Tokens whose input projection the inference cache holds (for tests).</summary>
    internal int TokenCacheCount => _tokenCache?.Count ?? 0;

    private int Position(int step) => Reverse ? _steps - 1 - step : step;

    /// <summary>Final hidden state [B, H] of the last forward pass.</summary>
    public ReadOnlySpan<T> FinalHidden => _h.AsSpan(_steps * _batch * HiddenSize, _batch * HiddenSize);

    /// <summary>Final cell state [B, H] of the last forward pass (LSTM only).</summary>
    public ReadOnlySpan<T> FinalCell => _c.AsSpan(_steps * _batch * HiddenSize, _batch * HiddenSize);

    /// <summary>
    /// Runs the layer over <paramref name="input"/> [S, B, I] and writes the outputs [S, B, H] (zero at padding).
    /// <paramref name="h0"/> / <paramref name="c0"/> are [B, H] initial states or empty for zeros. The input is kept by
    /// reference for <see cref="Backward"/> and must not change in between. <paramref name="inference"/> keeps the packed
    /// weight copies from one call to the next while the weights are unchanged (see <see cref="PackedB{T}.PackReusing"/>);
    /// training packs them afresh every call, since every optimizer step changes them. <paramref name="inputKeys"/> [S·B]
    /// (inference only; may be empty) names the token each input row stands for (−1: none), so that a token's input
    /// projection is computed once (see <see cref="TokenProjectionCache{T}"/>).
    /// </summary>
    public void Forward(ReadOnlyMemory<T> input, int steps, int batch, int[] lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, Memory<T> output,
        bool inference = false, ReadOnlySpan<int> inputKeys = default)
    {
        int H = HiddenSize, GH = GateSize, B = batch;
        _steps = steps; _batch = batch; _lengths = lengths; _input = input; _output = output;
        Ensure(ref _ax, steps * B * GH);
        Ensure(ref _ah, B * GH);
        Ensure(ref _gates, steps * B * GH);
        Ensure(ref _h, (steps + 1) * B * H);
        if (Cell != CellType.RnnTanh && Cell != CellType.RnnRelu) Ensure(ref _aux, steps * B * H);
        if (Cell == CellType.Lstm) Ensure(ref _c, (steps + 1) * B * H);
        bool isGru = Cell == CellType.Gru;

        // ax = X · W_ihᵀ + b_ih (+ b_hh, except for the GRU, whose b_hn sits inside r ⊙ (·)) for all positions at once:
        // [S·B, I] × [I, GH]
        ReadOnlySpan<T> bIh = _store.Value(_bIh), bHh = _store.Value(_bHh);
        Span<T> ax = _ax.AsSpan(0, steps * B * GH);
        var wIh = _store.Values.AsMemory(_wIh.Offset, _wIh.Size);
        var wHh = _store.Values.AsMemory(_wHh.Offset, _wHh.Size);
        if (inference)
        {
            // a change of W_ih drops the token cache whichever path this call takes, so no later call sees old W_ih
            if (_packedIh.PackReusing(true, GH, InputSize, wIh, InputSize)) _tokenCache?.Clear();
            if (!inputKeys.IsEmpty && InferenceCache.TokenProjectionBytes > 0)
            {
                // the rows' tokens are known: copy each token's projection (biases included) when it has one
                _tokenCache ??= new TokenProjectionCache<T>(InputSize, GH, addHh: !isGru);
                _tokenCache.Project(inputKeys, input.Span, steps * B, _packedIh, bIh, bHh, ax);
            }
            else
            {
                _tokenCache = null;
                Gemm.Multiply(false, steps * B, _packedIh, input.Span, InputSize, ax, GH, accumulate: false);
                AddInputBiases(ax, steps * B, bIh, bHh, addHh: !isGru);
            }
            _packedHh.PackReusing(true, GH, H, wHh, H);
        }
        else
        {
            Gemm.Multiply(false, true, steps * B, GH, InputSize, input.Span, InputSize, wIh.Span, InputSize, ax, GH, accumulate: false);
            AddInputBiases(ax, steps * B, bIh, bHh, addHh: !isGru);
            _packedHh.Pack(true, GH, H, wHh, H); // once per sequence, not per step
        }

        CopyOrZero(h0, _h.AsSpan(0, B * H));
        if (Cell == CellType.Lstm) CopyOrZero(c0, _c.AsSpan(0, B * H));

        Span<T> ah = _ah.AsSpan(0, B * GH);
        for (int k = 0; k < steps; k++)
        {
            int p = Position(k);
            ReadOnlySpan<T> hPrev = _h.AsSpan(k * B * H, B * H);
            Span<T> gatesStep = _gates.AsSpan(k * B * GH, B * GH);
            if (isGru)
            {
                // ah = h · W_hhᵀ + b_hh: [B, H] × [H, GH], kept apart from ax (the GRU needs ah_n on its own)
                Gemm.Multiply(false, B, _packedHh, hPrev, H, ah, GH, accumulate: false);
                for (int b = 0; b < B; b++) TensorPrimitives.Add(ah.Slice(b * GH, GH), bHh, ah.Slice(b * GH, GH));
            }
            else
            {
                // pre-activations straight into the gate cache: gates = ax[p] + h · W_hhᵀ ([B, H] × [H, GH])
                ax.Slice(p * B * GH, B * GH).CopyTo(gatesStep);
                Gemm.Multiply(false, B, _packedHh, hPrev, H, gatesStep, GH, accumulate: true);
            }
            RunRows(forward: true, k, B);
        }
        _output = default;
    }

    /// <summary>Adds b_ih (and b_hh when <paramref name="addHh"/>) to each of the first <paramref name="rows"/> rows of ax [rows, GH].</summary>
    internal static void AddInputBiases(Span<T> ax, int rows, ReadOnlySpan<T> bIh, ReadOnlySpan<T> bHh, bool addHh)
    {
        int gh = bIh.Length;
        for (int r = 0; r < rows; r++)
        {
            Span<T> row = ax.Slice(r * gh, gh);
            TensorPrimitives.Add(row, bIh, row);
            if (addHh) TensorPrimitives.Add(row, bHh, row);
        }
    }

    // Per-sequence work of step k, rows [b0, b1) of the batch. Rows are independent, so large batches split them
    // between threads (RunRows); the step products before and after stay whole.

    /// <summary>Forward, after the step product: activations, new state, output row (zero at padding).</summary>
    private void ForwardRows(int k, int b0, int b1)
    {
        int H = HiddenSize, GH = GateSize, B = _batch, p = Position(k);
        Span<T> output = _output.Span;
        for (int b = b0; b < b1; b++)
        {
            ReadOnlySpan<T> hp = _h.AsSpan((k * B + b) * H, H);
            Span<T> hn = _h.AsSpan(((k + 1) * B + b) * H, H);
            Span<T> y = output.Slice((p * B + b) * H, H);
            if (p >= _lengths[b])
            {
                hp.CopyTo(hn);
                if (Cell == CellType.Lstm) _c.AsSpan((k * B + b) * H, H).CopyTo(_c.AsSpan(((k + 1) * B + b) * H, H));
                y.Clear();
                continue;
            }
            Span<T> gRow = _gates.AsSpan((k * B + b) * GH, GH);
            switch (Cell)
            {
                case CellType.RnnTanh:
                case CellType.RnnRelu:
                    ElmanCell.Forward(Cell == CellType.RnnRelu, gRow, hn);
                    break;
                case CellType.Lstm:
                    LstmCell.Forward(gRow, _c.AsSpan((k * B + b) * H, H), _c.AsSpan(((k + 1) * B + b) * H, H), _aux.AsSpan((k * B + b) * H, H), hn);
                    break;
                case CellType.Gru:
                    GruCell.Forward(_ax.AsSpan((p * B + b) * GH, GH), _ah.AsSpan(b * GH, GH), hp, gRow, _aux.AsSpan((k * B + b) * H, H), hn);
                    break;
            }
            hn.CopyTo(y);
        }
    }

    /// <summary>
    /// Backward, before the step product: dL/d(pre-activations) into dax (and dah for the GRU), and dh_prev's term that
    /// bypasses W_hh: valid rows: the GRU's z ⊙ dh, others nothing; invalid rows: all of dh (the state was held).
    /// </summary>
    private void BackwardRows(int k, int b0, int b1)
    {
        int H = HiddenSize, GH = GateSize, B = _batch, p = Position(k);
        bool isGru = Cell == CellType.Gru;
        ReadOnlySpan<T> dOutput = _dOutput.Span;
        Span<T> daxStep = _dax.AsSpan(p * B * GH, B * GH);
        Span<T> dahStep = isGru ? _dah.AsSpan(k * B * GH, B * GH) : daxStep;
        for (int b = b0; b < b1; b++)
        {
            Span<T> dhRow = _dh.AsSpan(b * H, H), dhPrevRow = _dhNext.AsSpan(b * H, H);
            Span<T> dax = daxStep.Slice(b * GH, GH);
            if (p >= _lengths[b])
            {
                dax.Clear();
                if (isGru) dahStep.Slice(b * GH, GH).Clear();
                dhRow.CopyTo(dhPrevRow);
                continue;
            }
            if (!dOutput.IsEmpty) TensorPrimitives.Add(dhRow, dOutput.Slice((p * B + b) * H, H), dhRow);
            ReadOnlySpan<T> gates = _gates.AsSpan((k * B + b) * GH, GH);
            switch (Cell)
            {
                case CellType.RnnTanh:
                case CellType.RnnRelu:
                    ElmanCell.Backward(Cell == CellType.RnnRelu, _h.AsSpan(((k + 1) * B + b) * H, H), dhRow, dax);
                    dhPrevRow.Clear();
                    break;
                case CellType.Lstm:
                    LstmCell.Backward(gates, _c.AsSpan((k * B + b) * H, H), _aux.AsSpan((k * B + b) * H, H), dhRow, _dc.AsSpan(b * H, H), dax);
                    dhPrevRow.Clear();
                    break;
                case CellType.Gru:
                    // the direct term z ⊙ dh goes straight into dh_prev; the matrix term is added by the step product
                    GruCell.Backward(gates, _aux.AsSpan((k * B + b) * H, H), _h.AsSpan((k * B + b) * H, H), dhRow,
                        dax, dahStep.Slice(b * GH, GH), dhPrevRow);
                    break;
            }
        }
    }

    /// <summary>Below this many state values per step the rows run on the calling thread (a hand-off costs more).</summary>
    internal const int RowGrain = 2048;

    private RowJob? _rowJob;

    private void RunRows(bool forward, int k, int batch)
    {
        int parts = batch >= 2 && batch * HiddenSize >= RowGrain ? System.Math.Min(Parallelism.MaxThreads, batch) : 1;
        if (parts <= 1)
        {
            if (forward) ForwardRows(k, 0, batch);
            else BackwardRows(k, 0, batch);
            return;
        }
        _rowJob ??= new RowJob(this);
        _rowJob.Forward = forward; _rowJob.Step = k; _rowJob.Batch = batch;
        WorkerPool.Run(_rowJob, parts);
    }

    private sealed class RowJob : ParallelJob
    {
        private readonly RecurrentLayer<T> _layer;
        public bool Forward;
        public int Step, Batch;

        public RowJob(RecurrentLayer<T> layer) => _layer = layer;

        public override void Execute(int part, int parts)
        {
            var (b0, b1) = Share(Batch, part, parts);
            if (Forward) _layer.ForwardRows(Step, b0, b1);
            else _layer.BackwardRows(Step, b0, b1);
        }
    }

    /// <summary>
    /// Backpropagation through time for the last forward pass. Adds into the parameter gradients.
    /// <paramref name="dOutput"/> [S, B, H] (empty = zero), <paramref name="dhFinal"/>/<paramref name="dcFinal"/> [B, H] (empty = zero).
    /// Writes <paramref name="dInput"/> [S, B, I] (skipped when empty), <paramref name="dh0"/>/<paramref name="dc0"/> [B, H] (skipped when empty).
    /// <paramref name="parameterGradients"/> false skips the weight gradients (input gradients only, for attributions).
    /// </summary>
    public void Backward(ReadOnlyMemory<T> dOutput, ReadOnlySpan<T> dhFinal, ReadOnlySpan<T> dcFinal, Span<T> dInput, Span<T> dh0, Span<T> dc0, bool parameterGradients = true)
    {
        int S = _steps, B = _batch, H = HiddenSize, GH = GateSize;
        _dOutput = dOutput;
        Ensure(ref _dax, S * B * GH);
        Ensure(ref _dah, S * B * GH);
        Ensure(ref _dh, B * H);
        Ensure(ref _dhNext, B * H);
        Ensure(ref _dc, B * H);
        Span<T> dh = _dh.AsSpan(0, B * H), dhPrev = _dhNext.AsSpan(0, B * H), dc = _dc.AsSpan(0, B * H);
        CopyOrZero(dhFinal, dh);
        if (Cell == CellType.Lstm) CopyOrZero(dcFinal, dc);
        bool isGru = Cell == CellType.Gru;
        _packedHh.Pack(false, H, GH, _store.Values.AsMemory(_wHh.Offset, _wHh.Size), H); // dh_prev = dah · W_hh at every step

        for (int k = S - 1; k >= 0; k--)
        {
            int p = Position(k);
            Span<T> daxStep = _dax.AsSpan(p * B * GH, B * GH);
            // For RNN and LSTM dL/d(ah) = dL/d(ax); only the GRU needs its own buffer.
            Span<T> dahStep = isGru ? _dah.AsSpan(k * B * GH, B * GH) : daxStep;
            RunRows(forward: false, k, B); // dax (dah), and dh_prev's direct term
            Gemm.Multiply(false, B, _packedHh, dahStep, GH, dhPrev, H, accumulate: true); // dh_prev += dah · W_hh ([B, GH] × [GH, H])
            dhPrev.CopyTo(dh);
        }

        // Weight gradients in three large products over all steps:
        //   dW_ih += daxᵀ · X        ([GH, S·B] × [S·B, I])
        //   dW_hh += dahᵀ · h[0..S)  ([GH, S·B] × [S·B, H]), dah indexed by step, h[k] the state step k read
        //   db_ih += Σ rows dax,  db_hh += Σ rows dah
        ReadOnlySpan<T> daxAll = _dax.AsSpan(0, S * B * GH);
        if (parameterGradients) AddWeightGradients(daxAll);
        // dX = dax · W_ih  ([S·B, GH] × [GH, I])
        if (!dInput.IsEmpty)
            Gemm.Multiply(false, false, S * B, InputSize, GH, daxAll, GH, _store.Value(_wIh), InputSize, dInput, InputSize, accumulate: false);
        _dOutput = default;
        if (!dh0.IsEmpty) dh.CopyTo(dh0);
        if (!dc0.IsEmpty && Cell == CellType.Lstm) dc.CopyTo(dc0);
    }

    private void AddWeightGradients(ReadOnlySpan<T> daxAll)
    {
        int S = _steps, B = _batch, H = HiddenSize, GH = GateSize;
        bool isGru = Cell == CellType.Gru;
        ReadOnlySpan<T> dahAll;
        if (isGru) dahAll = _dah.AsSpan(0, S * B * GH);
        else if (!Reverse) dahAll = daxAll;
        else
        {
            Span<T> reordered = _dah.AsSpan(0, S * B * GH);
            for (int k = 0; k < S; k++) daxAll.Slice(Position(k) * B * GH, B * GH).CopyTo(reordered.Slice(k * B * GH, B * GH));
            dahAll = reordered;
        }
        Gemm.Multiply(true, false, GH, InputSize, S * B, daxAll, GH, _input.Span, InputSize, _store.Gradient(_wIh), InputSize, accumulate: true);
        Gemm.Multiply(true, false, GH, H, S * B, dahAll, GH, _h.AsSpan(0, S * B * H), H, _store.Gradient(_wHh), H, accumulate: true);
        Span<T> dbIh = _store.Gradient(_bIh), dbHh = _store.Gradient(_bHh);
        for (int r = 0; r < S * B; r++)
        {
            TensorPrimitives.Add(dbIh, daxAll.Slice(r * GH, GH), dbIh);
            TensorPrimitives.Add(dbHh, dahAll.Slice(r * GH, GH), dbHh);
        }
    }

    private static void CopyOrZero(ReadOnlySpan<T> src, Span<T> dst)
    {
        if (src.IsEmpty) dst.Clear();
        else src.CopyTo(dst);
    }

    internal static void Ensure<TItem>(ref TItem[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new TItem[size];
    }
}
