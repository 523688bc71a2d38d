using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Cells;

// Shape key: S = time steps, B = batch, I = input size, H = hidden size, G = gate count (1 RNN, 4 LSTM, 3 GRU), GH = G·H.
// Sequences are time-major: element (t, b, j) of an [S, B, X] buffer is at (t·B + b)·X + j.
// "Position" p is the time index in the input; "step" k is the order in which this direction visits positions
// (p = k forwards, p = S−1−k for the reverse direction). State buffers are indexed by step: h[0] is the initial state,
// h[k+1] the state after step k.
// Masking: position p of sequence b is valid when p < lengths[b]. On an invalid position the state is held
// (h[k+1] = h[k], c likewise) and the output is zero, so padding never changes a result, and the reverse direction
// starts each sequence at its own last valid position from the initial state.
// Beside the layer: the cell's point-wise math (Cell<T>: ElmanCell, LstmCell, GruCell), the input projection with its
// inference reuse and token cache (InputProjection<T>), and the split of a step's rows between threads (StepRows).

/// <summary>One direction of one recurrent layer over a whole batch of sequences: forward with caches, then backward through time.</summary>
internal sealed class RecurrentLayer<T> : IStepRows where T : unmanaged, IFloatingPointIeee754<T>
{
    public CellType Cell => _cell.Type;
    public int InputSize { get; }
    public int HiddenSize { get; }
    public bool Reverse { get; }
    public int GateSize => Cell.GateCount() * HiddenSize;

    private readonly Cell<T> _cell;
    private readonly bool _lstm, _apart; // the cell carries c; the cell keeps ah = W_hh h + b_hh apart from ax (GRU)
    private readonly ParameterStore<T> _store;
    private readonly Parameter _wIh, _wHh, _bIh, _bHh; // [GH, I], [GH, H], [GH], [GH]
    private readonly InputProjection<T> _inputProjection;
    private readonly StepRows _rows;

    // Caches of the last forward pass.
    private int _steps, _batch;
    private int[] _lengths = Array.Empty<int>();
    private T[] _ax = Array.Empty<T>();     // [S, B, GH] by position: W_ih x + b_ih (+ b_hh unless apart); Backward overwrites it with dL/d(ax)
    private T[] _ah = Array.Empty<T>();     // [B, GH] (apart only) scratch: W_hh h + b_hh for one step
    private T[] _gates = Array.Empty<T>();  // [S, B, GH] by step: W_hh h (RNN, LSTM), then the activated gates (LSTM i f g o, GRU r z n)
    private T[] _h = Array.Empty<T>();      // [S+1, B, H] by step
    private T[] _c = Array.Empty<T>();      // [S+1, B, H] by step (LSTM)
    private T[] _aux = Array.Empty<T>();    // [S, B, H] by step: the cell's cache (LSTM tanh(c'), GRU ah_n)
    private bool _lean;                     // the last forward was inference: _gates and _aux were not kept
    private T[] _stepGates = Array.Empty<T>(); // [B, GH] inference: one step's gates
    private T[] _stepAux = Array.Empty<T>();   // [B, H] inference: one step's aux
    private bool _stepInput;                   // int8 batch inference: ax is projected step by step into _stepAx, not into _ax
    private T[] _stepAx = Array.Empty<T>();    // [B, GH] (_stepInput) one step's ax
    private ReadOnlyMemory<T> _input;       // [S, B, I] by position (kept by reference, owned by the caller)
    private Memory<T> _output;              // [S, B, H] by position, the caller's, during Forward
    private ReadOnlyMemory<T> _dOutput;     // [S, B, H] by position, the caller's, during Backward

    // Backward scratch.
    private T[] _dah = Array.Empty<T>();    // [S, B, GH] by step: dL/d(ah) (apart only; otherwise dah is dax)
    private T[] _dh = Array.Empty<T>();     // [B, H]
    private T[] _dhNext = Array.Empty<T>(); // [B, H]
    private T[] _dc = Array.Empty<T>();     // [B, H]
    private readonly PackedB<T> _packedHh = new(); // W_hh packed for the step products (forward: h·W_hhᵀ, backward: dah·W_hh)
    private Bf16Matrix? _bf16Hh;                   // W_hh in bfloat16 (opt-in reduced-precision inference, float only)
    private Int8Matrix? _int8Hh;                   // W_hh in int8 (opt-in reduced-precision inference, float only)
    private InferencePrecision _precision;         // this forward's arithmetic (float for training and double networks)
    private bool _bf16;                            // this forward's step products use _bf16Hh

    public RecurrentLayer(CellType cell, int inputSize, int hiddenSize, bool reverse, ParameterStore<T> store, string prefix, string suffix)
    {
        _cell = Cell<T>.For(cell);
        _lstm = cell.HasCellState(); _apart = _cell.KeepsHiddenProjectionApart;
        InputSize = inputSize; HiddenSize = hiddenSize; Reverse = reverse;
        _store = store;
        _wIh = store[prefix + "weight_ih_" + suffix];
        _wHh = store[prefix + "weight_hh_" + suffix];
        _bIh = store[prefix + "bias_ih_" + suffix];
        _bHh = store[prefix + "bias_hh_" + suffix];
        _inputProjection = new InputProjection<T>(store, _wIh, _bIh, _bHh, addHh: !_apart);
        _rows = new StepRows(this);
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
    internal int TokenCacheCount => _inputProjection.TokenCacheCount;

    private int Position(int step) => Reverse ? _steps - 1 - step : step;

    /// <summary>Final hidden state [B, H] of the last forward pass.</summary>
    public ReadOnlySpan<T> FinalHidden => _h.AsSpan(_steps * _batch * HiddenSize, _batch * HiddenSize);

    /// <summary>Final cell state [B, H] of the last forward pass (LSTM only).</summary>
    public ReadOnlySpan<T> FinalCell => _c.AsSpan(_steps * _batch * HiddenSize, _batch * HiddenSize);

    /// <summary>
    /// Runs the layer over <paramref name="input"/> [S, B, I] and writes the outputs [S, B, H] (zero at padding).
    /// <paramref name="h0"/> / <paramref name="c0"/> are [B, H] initial states or empty for zeros. The input is kept by
    /// reference for <see cref="Backward"/> and must not change in between. <paramref name="inference"/> keeps the packed
    /// weight copies from one call to the next while the weights' <see cref="ParameterStore{T}.Version"/> is unchanged;
    /// training packs them afresh every call, since every optimizer step changes them. Inference also keeps no per-step
    /// caches (a <see cref="Backward"/> after it replays the steps to rebuild them, bit for bit). <paramref name="inputKeys"/> [S·B]
    /// (inference only; may be empty) names the token each input row stands for (−1: none), so that a token's input
    /// projection is computed once (see <see cref="InputProjection{T}"/>).
    /// </summary>
    public void Forward(ReadOnlyMemory<T> input, int steps, int batch, int[] lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, Memory<T> output,
        bool inference = false, ReadOnlySpan<int> inputKeys = default)
    {
        int H = HiddenSize, GH = GateSize, B = batch;
        _steps = steps; _batch = batch; _lengths = lengths; _input = input; _output = output;
        if (_apart) Ensure(ref _ah, B * GH);
        Ensure(ref _h, (steps + 1) * B * H);
        if (_lstm) Ensure(ref _c, (steps + 1) * B * H);
        // Inference keeps no per-step caches: each step's gates and aux go to one [B, ·] scratch; a Backward after it replays
        // the steps with caches first (same kernels, same bits).
        _lean = inference;
        if (_lean)
        {
            Ensure(ref _stepGates, B * GH);
            if (_cell.CachesAux) Ensure(ref _stepAux, B * H);
        }
        else EnsureCaches();

        // opt-in reduced precision: float inference only; a Backward after this forward replays its steps the same way
        _precision = inference && typeof(T) == typeof(float) ? InferenceCache.Precision : InferencePrecision.Exact;

        // ax = X · W_ihᵀ + b_ih (+ b_hh unless apart) for all positions at once: [S·B, I] × [I, GH]. A batch in int8 projects
        // each step's rows just before the step instead, on the thread that runs them (same rows, same kernel, same bits;
        // no token cache): one step's ax stays in the core's cache instead of S·B·GH values going out to memory and back.
        _stepInput = _lean && _precision == InferencePrecision.Int8Weights && B >= 2;
        if (_stepInput)
        {
            Ensure(ref _stepAx, B * GH);
            _inputProjection.Prepare(_precision);
        }
        else
        {
            Ensure(ref _ax, steps * B * GH);
            _inputProjection.Compute(input.Span, steps * B, inference, inputKeys, _ax.AsSpan(0, steps * B * GH), _precision);
        }
        if (!inference) _packedHh.Pack(true, GH, H, _store.ReadMemory(_wHh), H); // once per sequence, not per step
        else if (_precision != InferencePrecision.Int8Weights) _packedHh.PackReusing(true, GH, H, _store.ReadMemory(_wHh), H, _store.Version); // (int8: RunSteps packs _int8Hh)

        CopyOrZero(h0, _h.AsSpan(0, B * H));
        if (_lstm) CopyOrZero(c0, _c.AsSpan(0, B * H));
        RunSteps();
        _output = default;
    }

    private void EnsureCaches()
    {
        Ensure(ref _gates, _steps * _batch * GateSize);
        if (_cell.CachesAux) Ensure(ref _aux, _steps * _batch * HiddenSize);
    }

    /// <summary>
    /// The recurrence over all steps. Inference with a batch of at least two sequences, the threads to share it and W_hh
    /// small enough to sit in each core's cache runs each thread's share of the sequences through all the steps on its own
    /// (one hand-off per layer instead of two per step); otherwise every step's product and cells are split across the
    /// threads. Every row is computed the same way in either case.
    /// </summary>
    private void RunSteps()
    {
        int B = _batch, H = HiddenSize;
        int parts = _lean && B >= 2 && B * H >= StepRows.RowGrain && (long)GateSize * H * Unsafe.SizeOf<T>() <= LeanSplitWeightBytes
            ? System.Math.Min(Parallelism.MaxThreads, B) : 1;
        // opt-in: a few sequences per thread of float inference multiply by W_hh in bfloat16 (half the bytes streamed per
        // step), or all of them by W_hh in int8; packed here, before the threads start
        _bf16 = _precision == InferencePrecision.BFloat16RecurrentWeights && (B + parts - 1) / parts <= Gemm.SmallM;
        ReadOnlyMemory<T> wHh = _store.ReadMemory(_wHh);
        if (_bf16) (_bf16Hh ??= new Bf16Matrix()).PackReusing(Unsafe.As<ReadOnlyMemory<T>, ReadOnlyMemory<float>>(ref wHh), GateSize, H, _store.Version);
        if (_precision == InferencePrecision.Int8Weights)
            (_int8Hh ??= new Int8Matrix()).PackReusing(Unsafe.As<ReadOnlyMemory<T>, ReadOnlyMemory<float>>(ref wHh), GateSize, H, _store.Version);
        if (parts > 1)
        {
            // int8 rows are independent of the rows beside them: the sequences go out in chunks of up to 8 that the threads
            // take in turn, so a thread the machine holds back (a shared machine) leaves its later chunks to the others
            var job = _stepsJob ??= new StepsJob(this);
            job.Chunk = _precision == InferencePrecision.Int8Weights ? System.Math.Min(StepsChunk, (B + parts - 1) / parts) : 0;
            job.Reset();
            WorkerPool.Run(job, parts);
        }
        else Steps(0, B, whole: true);
    }

    /// <summary>Largest W_hh (bytes) for which inference gives each thread its own sequences (each thread streams all of W_hh every step).</summary>
    internal const int LeanSplitWeightBytes = 1 << 20;

    /// <summary>
    /// Steps 0..S−1 for batch rows [b0, b1): the step product h·W_hhᵀ into the step's gates (or ah when apart, + b_hh), then
    /// the cells. <paramref name="whole"/>: all rows, the cells split across threads by <see cref="StepRows"/>.
    /// </summary>
    private void Steps(int b0, int b1, bool whole)
    {
        int H = HiddenSize, GH = GateSize, B = _batch, n = b1 - b0, I = InputSize;
        ReadOnlySpan<T> bHh = _store.Read(_bHh);
        for (int k = 0; k < _steps; k++)
        {
            if (_stepInput) // this step's ax for rows [b0, b1): x [n, I] at position p × W_ihᵀ
                _inputProjection.ProjectRows(_input.Span.Slice((Position(k) * B + b0) * I, n * I), n, _stepAx.AsSpan(b0 * GH, n * GH));
            ReadOnlySpan<T> hPrev = _h.AsSpan((k * B + b0) * H, n * H);
            // the step product h · W_hhᵀ ([n, H] × [H, GH]) into ah (GRU, + b_hh, kept apart from ax) or the step's gates (the cell adds ax)
            Span<T> product = _apart ? _ah.AsSpan(b0 * GH, n * GH) : _lean ? _stepGates.AsSpan(b0 * GH, n * GH) : _gates.AsSpan((k * B + b0) * GH, n * GH);
            if (_precision == InferencePrecision.Int8Weights)
                _int8Hh!.Multiply(n, MemoryMarshal.Cast<T, float>(hPrev), H, MemoryMarshal.Cast<T, float>(product), GH);
            else if (_bf16)
                for (int b = 0; b < n; b++)
                    _bf16Hh!.Multiply(MemoryMarshal.Cast<T, float>(hPrev.Slice(b * H, H)), MemoryMarshal.Cast<T, float>(product.Slice(b * GH, GH)));
            else Gemm.Multiply(false, n, _packedHh, hPrev, H, product, GH, accumulate: false);
            if (_apart)
                for (int b = 0; b < n; b++) TensorPrimitives.Add(product.Slice(b * GH, GH), bHh, product.Slice(b * GH, GH));
            if (whole) _rows.Run(forward: true, k, B, H);
            else ((IStepRows)this).ForwardRows(k, b0, b1);
        }
    }

    private StepsJob? _stepsJob;

    /// <summary>Most sequences in one chunk of an int8 batch's steps (a multiple of the int8 kernel's four-row tile).</summary>
    private const int StepsChunk = 8;

    /// <summary>
    /// Inference: part p runs all the steps for its share of the batch rows; or, with <see cref="Chunk"/> set, each part
    /// takes the next chunk of <see cref="Chunk"/> sequences until none is left (which thread runs a chunk never changes
    /// its rows' results).
    /// </summary>
    private sealed class StepsJob(RecurrentLayer<T> layer) : ParallelJob
    {
        private int _taken; // chunks taken so far (the parts count them up together)

        /// <summary>Sequences per chunk; 0: one fixed share per part.</summary>
        public int Chunk { get; set; }

        public override void Execute(int part, int parts)
        {
            int B = layer._batch;
            if (Chunk == 0)
            {
                var (b0, b1) = Share(B, part, parts);
                if (b0 < b1) layer.Steps(b0, b1, whole: false);
                return;
            }
            for (int b0; (b0 = (Interlocked.Increment(ref _taken) - 1) * Chunk) < B;)
                layer.Steps(b0, System.Math.Min(B, b0 + Chunk), whole: false);
        }

        /// <summary>Readies the chunk counter for a new run.</summary>
        public void Reset() => _taken = 0;
    }

    /// <summary>Before a Backward that follows an inference forward: runs the steps again, keeping the caches (no output).</summary>
    private void ReplayWithCaches()
    {
        _lean = false;
        if (_stepInput) // the whole ax this time (Backward needs its buffer)
        {
            Ensure(ref _ax, _steps * _batch * GateSize);
            _inputProjection.ProjectRows(_input.Span, _steps * _batch, _ax.AsSpan(0, _steps * _batch * GateSize));
            _stepInput = false;
        }
        EnsureCaches();
        _output = default;
        RunSteps();
    }

    /// <summary>Forward, after the step product, rows [b0, b1) of step k: the cell, the new state, the output row (zero at padding).</summary>
    void IStepRows.ForwardRows(int k, int b0, int b1)
    {
        int H = HiddenSize, GH = GateSize, B = _batch, p = Position(k);
        Span<T> output = _output.Span;
        for (int b = b0; b < b1; b++)
        {
            int now = (k * B + b) * H, next = ((k + 1) * B + b) * H; // row b of h[k] and h[k+1] (and c, aux)
            Span<T> hn = _h.AsSpan(next, H);
            Span<T> y = output.IsEmpty ? default : output.Slice((p * B + b) * H, H);
            if (p >= _lengths[b])
            {
                _h.AsSpan(now, H).CopyTo(hn);
                if (_lstm) _c.AsSpan(now, H).CopyTo(_c.AsSpan(next, H));
                y.Clear();
                continue;
            }
            _cell.Forward(new CellForwardRow<T>
            {
                Ax = _stepInput ? _stepAx.AsSpan(b * GH, GH) : _ax.AsSpan((p * B + b) * GH, GH),
                Ah = _apart ? _ah.AsSpan(b * GH, GH) : default,
                H = _h.AsSpan(now, H),
                C = _lstm ? _c.AsSpan(now, H) : default,
                Gates = _lean ? _stepGates.AsSpan(b * GH, GH) : _gates.AsSpan((k * B + b) * GH, GH),
                Aux = !_cell.CachesAux ? default : _lean ? _stepAux.AsSpan(b * H, H) : _aux.AsSpan(now, H),
                CNext = _lstm ? _c.AsSpan(next, H) : default,
                HNext = hn,
            });
            if (!y.IsEmpty) hn.CopyTo(y);
        }
    }

    /// <summary>
    /// Backward, before the step product, rows [b0, b1) of step k: dL/d(pre-activations) into dax (and dah when apart),
    /// and dh_prev's term that bypasses W_hh: valid rows: the cell's direct term; invalid rows: all of dh (the state was held).
    /// </summary>
    void IStepRows.BackwardRows(int k, int b0, int b1)
    {
        int H = HiddenSize, GH = GateSize, B = _batch, p = Position(k);
        ReadOnlySpan<T> dOutput = _dOutput.Span;
        Span<T> daxStep = _ax.AsSpan(p * B * GH, B * GH); // dax replaces ax (see Backward)
        Span<T> dahStep = _apart ? _dah.AsSpan(k * B * GH, B * GH) : daxStep;
        for (int b = b0; b < b1; b++)
        {
            int now = (k * B + b) * H;
            Span<T> dhRow = _dh.AsSpan(b * H, H), dhPrevRow = _dhNext.AsSpan(b * H, H);
            Span<T> dax = daxStep.Slice(b * GH, GH);
            if (p >= _lengths[b])
            {
                dax.Clear();
                if (_apart) dahStep.Slice(b * GH, GH).Clear();
                dhRow.CopyTo(dhPrevRow);
                continue;
            }
            if (!dOutput.IsEmpty) TensorPrimitives.Add(dhRow, dOutput.Slice((p * B + b) * H, H), dhRow);
            // the direct term goes straight into dh_prev; the matrix term is added by the step product
            _cell.Backward(new CellBackwardRow<T>
            {
                Gates = _gates.AsSpan((k * B + b) * GH, GH),
                Aux = _cell.CachesAux ? _aux.AsSpan(now, H) : default,
                H = _h.AsSpan(now, H),
                C = _lstm ? _c.AsSpan(now, H) : default,
                HNext = _h.AsSpan(((k + 1) * B + b) * H, H),
                Dh = dhRow,
                Dc = _lstm ? _dc.AsSpan(b * H, H) : default,
                Dax = dax,
                Dah = dahStep.Slice(b * GH, GH),
                DhDirect = dhPrevRow,
            });
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
        if (_lean) ReplayWithCaches();
        _dOutput = dOutput;
        // dL/d(ax) goes into ax's own buffer: the cells' backward reads the cached gates and states, never ax (a replay
        // above reads it first), so training needs one [S, B, GH] buffer less per layer and direction.
        if (_apart) Ensure(ref _dah, S * B * GH); // otherwise dah is dax itself
        Ensure(ref _dh, B * H);
        Ensure(ref _dhNext, B * H);
        Ensure(ref _dc, B * H);
        Span<T> dh = _dh.AsSpan(0, B * H), dhPrev = _dhNext.AsSpan(0, B * H), dc = _dc.AsSpan(0, B * H);
        CopyOrZero(dhFinal, dh);
        if (_lstm) CopyOrZero(dcFinal, dc);
        _packedHh.Pack(false, H, GH, _store.ReadMemory(_wHh), H); // dh_prev = dah · W_hh at every step

        for (int k = S - 1; k >= 0; k--)
        {
            int p = Position(k);
            Span<T> daxStep = _ax.AsSpan(p * B * GH, B * GH);
            // Unless apart, dL/d(ah) = dL/d(ax): gates = ax + ah.
            Span<T> dahStep = _apart ? _dah.AsSpan(k * B * GH, B * GH) : daxStep;
            _rows.Run(forward: false, k, B, H); // dax (dah), and dh_prev's direct term
            Gemm.Multiply(false, B, _packedHh, dahStep, GH, dhPrev, H, accumulate: true); // dh_prev += dah · W_hh ([B, GH] × [GH, H])
            dhPrev.CopyTo(dh);
        }

        ReadOnlySpan<T> daxAll = _ax.AsSpan(0, S * B * GH);
        if (parameterGradients) AddWeightGradients(daxAll);
        // dX = dax · W_ih  ([S·B, GH] × [GH, I])
        if (!dInput.IsEmpty)
            Gemm.Multiply(false, false, S * B, InputSize, GH, daxAll, GH, _store.Read(_wIh), InputSize, dInput, InputSize, accumulate: false);
        _dOutput = default;
        if (!dh0.IsEmpty) dh.CopyTo(dh0);
        if (!dc0.IsEmpty && _lstm) dc.CopyTo(dc0);
    }

    private void AddWeightGradients(ReadOnlySpan<T> daxAll)
    {
        // Weight gradients in three large products over all steps:
        //   dW_ih += daxᵀ · X        ([GH, S·B] × [S·B, I])
        //   dW_hh += dahᵀ · h_read   ([GH, S·B] × [S·B, H]), h_read the state each row of dah read
        //   db_ih += Σ rows dax,  db_hh += Σ rows dah
        int S = _steps, B = _batch, H = HiddenSize, GH = GateSize;
        Gemm.Multiply(true, false, GH, InputSize, S * B, daxAll, GH, _input.Span, InputSize, _store.Gradient(_wIh), InputSize, accumulate: true);
        // dah by step (apart: its own buffer; forward direction: dax, where step = position) reads h[k] at row k. A reverse
        // layer's dah is dax by position, row p read h[S−1−p]: h[0..S) is put in position order in place around the product.
        ReadOnlySpan<T> dahAll = _apart ? _dah.AsSpan(0, S * B * GH) : daxAll;
        Span<T> hRead = _h.AsSpan(0, S * B * H);
        bool byPosition = !_apart && Reverse;
        if (byPosition) ReverseSteps(hRead, S);
        Gemm.Multiply(true, false, GH, H, S * B, dahAll, GH, hRead, H, _store.Gradient(_wHh), H, accumulate: true);
        if (byPosition) ReverseSteps(hRead, S);
        Span<T> dbIh = _store.Gradient(_bIh), dbHh = _store.Gradient(_bHh);
        for (int r = 0; r < S * B; r++)
        {
            TensorPrimitives.Add(dbIh, daxAll.Slice(r * GH, GH), dbIh);
            TensorPrimitives.Add(dbHh, dahAll.Slice(r * GH, GH), dbHh);
        }
    }

    /// <summary>Reverses the order of the <paramref name="steps"/> equal blocks of <paramref name="rows"/> (each block's contents unchanged).</summary>
    private static void ReverseSteps(Span<T> rows, int steps)
    {
        int n = rows.Length / steps;
        rows.Reverse();
        for (int k = 0; k < steps; k++) rows.Slice(k * n, n).Reverse();
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
