using System;
using System.Collections.Generic;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics.X86;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Models;

// Shape key: B = batch, S = steps, V = vocabulary, E = embedding, F = features, H = hidden, D = directions,
// L = layers, O = head outputs. Inside the network activations are time-major [S, B, X]; the public surface is batch-first.

/// <summary>
/// A recurrent network: input (embedding, one-hot or dense) → L stacked recurrent layers (optionally bidirectional, dropout
/// between layers) → linear head read at every step or at the last one. Forward keeps what backward needs; <see cref="Backward"/>
/// is backpropagation through time written by hand and adds into <see cref="Parameters"/>' gradients.
/// </summary>
/// <typeparam name="T">float for training and inference; double for gradient checks.</typeparam>
/// <remarks>One instance is not thread-safe (it owns its activation buffers); <see cref="CloneForInference"/> gives another
/// instance sharing the same weights, one per thread.</remarks>
public sealed class SequenceNetwork<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The architecture.</summary>
    public NetworkOptions Options { get; }

    /// <summary>All weights and their gradients.</summary>
    public ParameterStore<T> Parameters { get; }

    private readonly RecurrentStack<T> _stack;
    private readonly CharacterWordEncoder<T>? _characters; // character-level word features, appended to the embedding
    private readonly Parameter? _embedding;       // [V, E]
    private readonly Parameter _headW, _headB;    // [O, D·H], [O]
    private readonly Parameter? _wide;            // [O, W] weights of the sparse bag input (wide part), or null
    private readonly int _d, _h, _o;

    // Forward caches.
    private SequenceBatch<T>? _batch;
    private bool _fromInputVectors;              // the last forward pass read input vectors (ForwardInputVectors)
    private int[] _inputKeys = Array.Empty<int>(); // [S·B] the token of each input row (−1 at padding), for inference caches
    private T[] _headIn = Array.Empty<T>();  // rows read by the head, batch-first: [B·S, D·H] per step, [B, D·H] last step
    private T[] _output = Array.Empty<T>();  // batch-first [B, S, O] or [B, O]
    private T[] _inputMask = Array.Empty<T>(); // [S, B, I0] input dropout scale (0 or 1/(1−p))
    private bool _inputDropped;
    // Backward scratch.
    private T[] _dHeadIn = Array.Empty<T>();
    private T[] _dInput = Array.Empty<T>();    // [S, B, I0]

    /// <summary>Random stream for dropout masks; replace it to make masks repeat (gradient checks do).</summary>
    public Rng DropoutRng { get; set; }

    /// <summary>Creates a network with all weights zero; call an initializer (see <see cref="Training.Initializer"/>) before training.</summary>
    public SequenceNetwork(NetworkOptions options) : this(options, null) { }

    private SequenceNetwork(NetworkOptions options, ParameterStore<T>? shared)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options.Clone();
        _d = Options.Directions; _h = Options.HiddenSize; _o = Options.OutputSize;
        Parameters = shared ?? new ParameterStore<T>(Layout(Options));
        if (Options.Input == InputKind.Embedding) _embedding = Parameters["embedding.weight"];
        _headW = Parameters["head.weight"];
        _headB = Parameters["head.bias"];
        if (Options.WideFeatures > 0) _wide = Parameters["wide.weight"];
        _stack = new RecurrentStack<T>(Options.Cell, Options.RecurrentInputSize, _h, Options.Layers, Options.Bidirectional, Options.Dropout, Parameters, "rnn.");
        if (Options.HasCharacterFeatures) _characters = new CharacterWordEncoder<T>(Options, Parameters);
        DropoutRng = new Rng(0x5EED);
    }

    /// <summary>Another instance over the same weights with its own buffers (for inference on another thread).</summary>
    public SequenceNetwork<T> CloneForInference() => new(Options, Parameters);

    /// <summary>A network whose weight buffer is <paramref name="weights"/> itself (not copied): for a loader that hands its array over.</summary>
    internal static SequenceNetwork<T> Over(NetworkOptions options, T[] weights) => new(options, new ParameterStore<T>(Layout(options), weights));

    /// <summary>
    /// What to keep once training is over: an instance over the same weights without this one's activation and backward
    /// buffers (sized for training batches), with the gradient buffer freed. Keep the result and drop this instance; training
    /// either of them again allocates what it needs anew.
    /// </summary>
    public SequenceNetwork<T> ForInference()
    {
        Parameters.ReleaseGradients();
        return CloneForInference();
    }

    /// <summary>
    /// A new instance with its own copy of the current weights and no buffers: what an ensemble keeps of a finished member
    /// while this instance, buffers and all, goes on to train the next one.
    /// </summary>
    public SequenceNetwork<T> CopyForInference()
    {
        var copy = new SequenceNetwork<T>(Options);
        Parameters.Buffer.CopyTo(copy.Parameters.Buffer, 0);
        return copy;
    }

    /// <summary>The character-feature encoder (null without character features), for tests.</summary>
    internal CharacterWordEncoder<T>? CharactersForTests => _characters;

    /// <summary>The first recurrent layer (forward direction), for tests.</summary>
    internal RecurrentLayer<T> FirstLayerForTests => _stack.Layer(0);

    /// <summary>Parameter names and shapes, PyTorch style (embedding.weight, rnn.weight_ih_l0, …, head.weight, head.bias, then
    /// char_embedding.weight, char_rnn.… with character features).</summary>
    public static IEnumerable<(string Name, int[] Shape)> Layout(NetworkOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Input == InputKind.Embedding) yield return ("embedding.weight", new[] { o.VocabularySize, o.EmbeddingSize });
        foreach (var p in RecurrentStack<T>.Layout(o.Cell, o.RecurrentInputSize, o.HiddenSize, o.Layers, o.Bidirectional, "rnn."))
            yield return p;
        yield return ("head.weight", new[] { o.OutputSize, o.Directions * o.HiddenSize });
        yield return ("head.bias", new[] { o.OutputSize });
        if (o.WideFeatures > 0) yield return ("wide.weight", new[] { o.OutputSize, o.WideFeatures });
        if (o.HasCharacterFeatures)
            foreach (var p in CharacterWordEncoder<T>.Layout(o))
                yield return p;
    }

    /// <summary>Number of rows of <see cref="Output"/>: B·S (per step) or B (last step).</summary>
    public int OutputRows => _batch is null ? 0 : Options.Output == OutputMode.PerStep ? _batch.Batch * _batch.Steps : _batch.Batch;

    /// <summary>Head outputs (logits or regression values) of the last forward pass, batch-first: [B, S, O] (zero at padding) or [B, O].</summary>
    public ReadOnlySpan<T> Output => _output.AsSpan(0, OutputRows * _o);

    /// <summary>The batch of the last forward pass.</summary>
    public SequenceBatch<T>? LastBatch => _batch;

    /// <summary>Creates a zero state shaped for this network and a batch size.</summary>
    public RecurrentState<T> CreateState(int batch) => new(Options.Layers * _d, batch, _h, Options.Cell.HasCellState());

    /// <summary>
    /// Runs the network on a batch. <paramref name="training"/> turns dropout on. <paramref name="initialState"/> (shape
    /// [L·D, B, H]) starts every layer; null means zeros. Returns <see cref="Output"/>.
    /// </summary>
    public ReadOnlySpan<T> Forward(SequenceBatch<T> batch, bool training = false, RecurrentState<T>? initialState = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ValidateInput(batch);
        return ForwardCore(batch, training, initialState, inputVectors: false);
    }

    /// <summary>
    /// Inference on the first layer's input vectors instead of the network's own input stage: <paramref name="inputs"/> is a
    /// feature batch [B, S, I] with I = <see cref="NetworkOptions.RecurrentInputSize"/> (the embedding width, V for one-hot
    /// input, F for dense input), read as if the embedding lookup or one-hot encoding had produced it. For attributions
    /// (integrated gradients feeds points between an embedding and a baseline); follow it with <see cref="InputGradient"/>.
    /// No dropout. Returns <see cref="Output"/>.
    /// </summary>
    public ReadOnlySpan<T> ForwardInputVectors(SequenceBatch<T> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int i0 = Options.RecurrentInputSize;
        if (inputs.Features is null || inputs.Features.Length != inputs.Batch * inputs.Steps * i0)
            throw new ArgumentException($"Input vectors must be a feature batch of {i0} values per step (the first layer's input width).", nameof(inputs));
        ValidateFinite(inputs, i0);
        return ForwardCore(inputs, training: false, initialState: null, inputVectors: true);
    }

    /// <summary>
    /// The first layer's input vectors the network's own input stage makes for a token batch — embedding rows (or one-hot
    /// vectors) and, with character features, the character encoder's output beside them — written batch-major to
    /// <paramref name="destination"/> [B, S, I] (zero at padding), I = <see cref="NetworkOptions.RecurrentInputSize"/>. No
    /// dropout; runs one inference pass. <see cref="ForwardInputVectors"/> on them gives what <see cref="Forward"/> gives.
    /// </summary>
    public void InputVectors(SequenceBatch<T> batch, Span<T> destination)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (Options.Input == InputKind.Dense) throw new InvalidOperationException("A network that reads dense features has no input stage: its features are its input vectors.");
        int B = batch.Batch, S = batch.Steps, i0 = Options.RecurrentInputSize;
        if (destination.Length != B * S * i0) throw new ArgumentException($"destination has {destination.Length} values; expected batch × steps × input width = {B * S * i0}.", nameof(destination));
        Forward(batch);
        ReadOnlySpan<T> x0 = _stack.LastInput; // [S, B, I]
        destination.Clear();
        for (int b = 0; b < B; b++)
            for (int t = 0; t < batch.Lengths[b]; t++) x0.Slice((t * B + b) * i0, i0).CopyTo(destination.Slice((b * S + t) * i0, i0));
    }

    /// <summary>
    /// Embedding rows of the batch's tokens into columns [0, E) of x0 [S, B, I0] (and each row's token into the input keys
    /// when <paramref name="keyed"/>); a large batch's sequences are shared between the threads.
    /// </summary>
    private unsafe void GatherEmbeddings(SequenceBatch<T> batch, Span<T> x0, int i0, int e, bool keyed)
    {
        int B = batch.Batch;
        int parts = (long)B * batch.Steps * e >= RangeJob.Grain ? System.Math.Min(Parallelism.MaxThreads, B) : 1;
        if (parts <= 1)
        {
            GatherEmbeddings(batch, x0, i0, e, keyed, 0, B);
            return;
        }
        var job = _gatherJob ??= new GatherJob(this);
        fixed (T* px = x0)
        {
            job.Set(batch, px, x0.Length, i0, e, keyed);
            try { WorkerPool.Run(job, parts); }
            finally { job.Clear(); }
        }
    }

    /// <summary>
    /// <see cref="GatherEmbeddings(SequenceBatch{T}, Span{T}, int, int, bool)"/> for sequences [b0, b1). A large
    /// vocabulary's table lies mostly outside the core's caches by the time a batch comes (a batch's activations push it
    /// out): each row is prefetched a few tokens ahead, so that the loads of several rows overlap instead of waiting one by one.
    /// </summary>
    private unsafe void GatherEmbeddings(SequenceBatch<T> batch, Span<T> x0, int i0, int e, bool keyed, int b0, int b1)
    {
        const int Ahead = 8; // tokens
        int B = batch.Batch, S = batch.Steps, rowBytes = e * sizeof(T);
        ReadOnlySpan<T> table = Parameters.Read(_embedding!);
        int[] tokens = batch.Tokens!;
        fixed (T* rows = table)
            for (int b = b0; b < b1; b++)
            {
                int length = batch.Lengths[b];
                for (int t = 0; t < length; t++)
                {
                    if (t + Ahead < length && Sse.IsSupported)
                    {
                        byte* ahead = (byte*)(rows + (long)tokens[b * S + t + Ahead] * e); // a prefetch never faults, even off the table
                        for (int line = 0; line < rowBytes; line += 64) Sse.Prefetch0(ahead + line);
                    }
                    int token = tokens[b * S + t];
                    if (keyed) _inputKeys[t * B + b] = token;
                    table.Slice(token * e, e).CopyTo(x0.Slice((t * B + b) * i0, i0));
                }
            }
    }

    private GatherJob? _gatherJob;

    /// <summary>One part of a shared embedding gather: a range of whole sequences.</summary>
    private sealed unsafe class GatherJob(SequenceNetwork<T> network) : ParallelJob
    {
        private SequenceBatch<T>? _batch;
        private T* _x0;
        private int _length, _i0, _e;
        private bool _keyed;

        public void Set(SequenceBatch<T> batch, T* x0, int length, int i0, int e, bool keyed)
        {
            _batch = batch; _x0 = x0; _length = length; _i0 = i0; _e = e; _keyed = keyed;
        }

        public void Clear() { _batch = null; _x0 = null; }

        public override void Execute(int part, int parts)
        {
            var (b0, b1) = Share(_batch!.Batch, part, parts);
            if (b0 < b1) network.GatherEmbeddings(_batch, new Span<T>(_x0, _length), _i0, _e, _keyed, b0, b1);
        }
    }

    private ReadOnlySpan<T> ForwardCore(SequenceBatch<T> batch, bool training, RecurrentState<T>? initialState, bool inputVectors)
    {
        if (initialState is not null && initialState.Batch != batch.Batch)
            throw new ArgumentException($"The initial state is for batch size {initialState.Batch}; the batch has {batch.Batch} sequences.", nameof(initialState));
        _batch = batch;
        _fromInputVectors = inputVectors;
        int B = batch.Batch, S = batch.Steps, DH = _d * _h;

        // Input stage → _x[0] [S, B, I0]: embedding (columns [0, E)) and character features (columns [E, I0)), one-hot or features
        int i0 = Options.RecurrentInputSize, e = Options.EmbeddingSize;
        Span<T> x0 = _stack.Input(S, B);
        bool tokens = Options.Input != InputKind.Dense && !inputVectors;
        bool keyed = tokens && _characters is null; // with character features a row is not a function of its token
        if (keyed)
        {
            RecurrentLayer<T>.Ensure(ref _inputKeys, S * B);
            _inputKeys.AsSpan(0, S * B).Fill(-1); // padding rows stand for no token
        }
        if (tokens && Options.Input == InputKind.Embedding) GatherEmbeddings(batch, x0, i0, e, keyed);
        else
            for (int b = 0; b < B; b++)
                for (int t = 0; t < batch.Lengths[b]; t++)
                {
                    Span<T> dst = x0.Slice((t * B + b) * i0, i0);
                    if (!tokens) { batch.Features.AsSpan((b * S + t) * i0, i0).CopyTo(dst); continue; }
                    if (keyed) _inputKeys[t * B + b] = batch.Tokens![b * S + t];
                    dst[batch.Tokens![b * S + t]] = T.One;
                }

        if (tokens) _characters?.Forward(batch, x0, i0, e, training);
        _inputDropped = training && Options.InputDropout > 0;
        if (_inputDropped)
        {
            Ensure(ref _inputMask, S * B * i0);
            Span<T> mask = _inputMask.AsSpan(0, S * B * i0);
            T scale = T.One / (T.One - T.CreateChecked(Options.InputDropout));
            for (int i = 0; i < mask.Length; i++) mask[i] = DropoutRng.NextDouble() < Options.InputDropout ? T.Zero : scale;
            TensorPrimitives.Multiply(x0, mask, x0);
        }

        ReadOnlySpan<T> top = _stack.Forward(S, B, batch.Lengths, training, DropoutRng, initialState, keyed ? _inputKeys.AsSpan(0, S * B) : default);

        // Head
        ReadOnlySpan<T> w = Parameters.Read(_headW), bias = Parameters.Read(_headB);
        if (Options.Output == OutputMode.PerStep)
        {
            // The head reads the top activations batch-first, so its (large) output needs no reordering:
            // z [B·S, D·H] (zero rows at padding) → out = z · Wᵀ + b  [B·S, O], bias on valid rows only.
            Ensure(ref _headIn, B * S * DH);
            Span<T> z = _headIn.AsSpan(0, B * S * DH);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < S; t++)
                    top.Slice((t * B + b) * DH, DH).CopyTo(z.Slice((b * S + t) * DH, DH));
            Ensure(ref _output, B * S * _o);
            Span<T> outp = _output.AsSpan(0, B * S * _o);
            Gemm.Multiply(false, true, B * S, _o, DH, z, DH, w, DH, outp, _o, accumulate: false);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < batch.Lengths[b]; t++)
                {
                    Span<T> row = outp.Slice((b * S + t) * _o, _o);
                    TensorPrimitives.Add(row, bias, row);
                }
        }
        else
        {
            Ensure(ref _headIn, B * DH);
            Span<T> z = _headIn.AsSpan(0, B * DH);
            for (int b = 0; b < B; b++)
                for (int d = 0; d < _d; d++)
                {
                    int t = d == 0 ? batch.Lengths[b] - 1 : 0; // forward final state at the last valid step, reverse after step 0
                    top.Slice((t * B + b) * DH + d * _h, _h).CopyTo(z.Slice(b * DH + d * _h, _h));
                }
            Ensure(ref _output, B * _o);
            Span<T> outp = _output.AsSpan(0, B * _o);
            Gemm.Multiply(false, true, B, _o, DH, z, DH, w, DH, outp, _o, accumulate: false);
            for (int b = 0; b < B; b++) TensorPrimitives.Add(outp.Slice(b * _o, _o), bias, outp.Slice(b * _o, _o));
            // Input vectors without a bag (attributions of the recurrent part) leave the wide part out.
            if (_wide is not null && !(inputVectors && batch.Bag is null)) AddWide(batch, outp);
        }
        return Output;
    }

    /// <summary>The wide part: out[b, o] += Σ_k value_k · wide.weight[o, id_k] over sequence b's bag.</summary>
    private void AddWide(SequenceBatch<T> batch, Span<T> outp)
    {
        var bag = batch.Bag ?? throw new ArgumentException($"The network has a wide input of {Options.WideFeatures} features, but the batch carries no bag (SequenceBatch.WithBag).", nameof(batch));
        int w = Options.WideFeatures;
        ReadOnlySpan<T> wide = Parameters.Value(_wide!);
        for (int b = 0; b < batch.Batch; b++)
            for (int k = bag.Offsets[b]; k < bag.Offsets[b + 1]; k++)
            {
                int id = bag.Ids[k];
                if ((uint)id >= (uint)w) throw new ArgumentOutOfRangeException(nameof(batch), id, $"Bag feature id {id} of sequence {b} is outside [0, {w}).");
                for (int o = 0; o < _o; o++) outp[b * _o + o] += bag.Values[k] * wide[o * w + id];
            }
    }

    /// <summary>Copies the final state of every layer and direction after the last forward pass into <paramref name="state"/>.</summary>
    public void CopyFinalState(RecurrentState<T> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var batch = _batch ?? throw new InvalidOperationException("Run Forward first.");
        if (state.Batch != batch.Batch) throw new ArgumentException($"The state is for batch size {state.Batch}; the last batch had {batch.Batch}.", nameof(state));
        _stack.CopyFinalState(state);
    }

    /// <summary>
    /// Backpropagation through time for the last <see cref="Forward"/>. <paramref name="dOutput"/> has the shape of
    /// <see cref="Output"/> (padding rows are ignored). Adds into <see cref="ParameterStore{T}.Gradients"/>.
    /// Optional: <paramref name="dFinalState"/>, the gradient arriving at the final state; <paramref name="dInitialState"/>,
    /// receives the gradient of the initial state; <paramref name="dFeatures"/>, receives the gradient of dense inputs [B, S, F].
    /// </summary>
    public void Backward(ReadOnlySpan<T> dOutput, RecurrentState<T>? dFinalState = null, RecurrentState<T>? dInitialState = null, Span<T> dFeatures = default)
    {
        if (_fromInputVectors && Options.Input != InputKind.Dense)
            throw new InvalidOperationException("The last forward pass read input vectors, not tokens, so there are no embedding rows to train: call InputGradient.");
        if (!dFeatures.IsEmpty && dFeatures.Length != OutputRowsInputSize())
            throw new ArgumentException($"dFeatures has {dFeatures.Length} values; expected {OutputRowsInputSize()}.", nameof(dFeatures));
        BackwardCore(dOutput, dFinalState, dInitialState, Options.Input == InputKind.Dense ? dFeatures : default, parameterGradients: true);
    }

    /// <summary>
    /// The gradient of Σ dOutput ⊙ Output with respect to the first layer's input vectors of the last forward pass (embedding
    /// rows, one-hot vectors or dense features), written to <paramref name="dInputs"/> [B, S, I] (zero at padding), with
    /// I = <see cref="NetworkOptions.RecurrentInputSize"/>. Parameter gradients are left untouched, so it may run between
    /// training steps or on a clone serving other callers. With a one-hot dOutput it is the saliency of one logit.
    /// </summary>
    public void InputGradient(ReadOnlySpan<T> dOutput, Span<T> dInputs)
    {
        if (_batch is null) throw new InvalidOperationException("Run a forward pass before InputGradient.");
        if (dInputs.Length != OutputRowsInputSize())
            throw new ArgumentException($"dInputs has {dInputs.Length} values; expected batch × steps × input width = {OutputRowsInputSize()}.", nameof(dInputs));
        BackwardCore(dOutput, null, null, dInputs, parameterGradients: false);
    }

    private int OutputRowsInputSize() => _batch is null ? 0 : _batch.Batch * _batch.Steps * Options.RecurrentInputSize;

    private void BackwardCore(ReadOnlySpan<T> dOutput, RecurrentState<T>? dFinalState, RecurrentState<T>? dInitialState, Span<T> dInputs, bool parameterGradients)
    {
        var batch = _batch ?? throw new InvalidOperationException("Run Forward before Backward.");
        if (dOutput.Length != OutputRows * _o) throw new ArgumentException($"dOutput has {dOutput.Length} values; the output has {OutputRows * _o}.", nameof(dOutput));
        int B = batch.Batch, S = batch.Steps, DH = _d * _h;

        // Head backward: out = z · Wᵀ + b  →  dW += doutᵀ · z,  db += Σ dout,  dz = dout · W
        ReadOnlySpan<T> w = Parameters.Read(_headW);
        Span<T> dW = Parameters.Gradient(_headW), dB = Parameters.Gradient(_headB);
        Span<T> dTop = _stack.TopGradient();
        if (Options.Output == OutputMode.PerStep)
        {
            // dW += doutᵀ · z (padding rows of z are zero), db += Σ valid rows, dz = dout · W, read back time-major.
            ReadOnlySpan<T> z = _headIn.AsSpan(0, B * S * DH);
            if (parameterGradients)
            {
                Gemm.Multiply(true, false, _o, DH, B * S, dOutput, _o, z, DH, dW, DH, accumulate: true);
                for (int b = 0; b < B; b++)
                    for (int t = 0; t < batch.Lengths[b]; t++) TensorPrimitives.Add(dB, dOutput.Slice((b * S + t) * _o, _o), dB);
            }
            Ensure(ref _dHeadIn, B * S * DH);
            Span<T> dz = _dHeadIn.AsSpan(0, B * S * DH);
            Gemm.Multiply(false, false, B * S, DH, _o, dOutput, _o, w, DH, dz, DH, accumulate: false);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < batch.Lengths[b]; t++)
                    dz.Slice((b * S + t) * DH, DH).CopyTo(dTop.Slice((t * B + b) * DH, DH));
        }
        else
        {
            if (parameterGradients)
            {
                Gemm.Multiply(true, false, _o, DH, B, dOutput, _o, _headIn, DH, dW, DH, accumulate: true);
                for (int b = 0; b < B; b++) TensorPrimitives.Add(dB, dOutput.Slice(b * _o, _o), dB);
                if (_wide is not null && batch.Bag is { } bag)
                {
                    // out[b, o] += v_k · wide[o, id_k]  →  dwide[o, id_k] += v_k · dout[b, o]
                    int wf = Options.WideFeatures;
                    Span<T> dWide = Parameters.Gradient(_wide);
                    for (int b = 0; b < B; b++)
                        for (int k = bag.Offsets[b]; k < bag.Offsets[b + 1]; k++)
                            for (int o = 0; o < _o; o++) dWide[o * wf + bag.Ids[k]] += bag.Values[k] * dOutput[b * _o + o];
                }
            }
            Ensure(ref _dHeadIn, B * DH);
            Span<T> dz = _dHeadIn.AsSpan(0, B * DH);
            Gemm.Multiply(false, false, B, DH, _o, dOutput, _o, w, DH, dz, DH, accumulate: false);
            for (int b = 0; b < B; b++)
                for (int d = 0; d < _d; d++)
                {
                    int t = d == 0 ? batch.Lengths[b] - 1 : 0;
                    dz.Slice(b * DH + d * _h, _h).CopyTo(dTop.Slice((t * B + b) * DH + d * _h, _h));
                }
        }

        // Recurrent stack, top to bottom.
        bool needInput = !dInputs.IsEmpty || (parameterGradients && Options.Input == InputKind.Embedding);
        ReadOnlySpan<T> cur = _stack.Backward(dFinalState, dInitialState, needInput, parameterGradients);

        // Input stage backward; cur holds dL/d(input) [S, B, I0] (after the dropout mask: through it first).
        int i0 = Options.RecurrentInputSize, e = Options.EmbeddingSize;
        if (_inputDropped)
        {
            Ensure(ref _dInput, S * B * i0);
            Span<T> masked = _dInput.AsSpan(0, S * B * i0);
            TensorPrimitives.Multiply(cur, _inputMask.AsSpan(0, S * B * i0), masked);
            cur = masked;
        }
        if (parameterGradients && Options.Input == InputKind.Embedding)
        {
            Span<T> dE = Parameters.Gradient(_embedding!);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < batch.Lengths[b]; t++)
                {
                    Span<T> row = dE.Slice(batch.Tokens![b * S + t] * e, e);
                    TensorPrimitives.Add(row, cur.Slice((t * B + b) * i0, e), row);
                }
            _characters?.Backward(cur, i0, e);
        }
        if (!dInputs.IsEmpty)
        {
            dInputs.Clear();
            for (int b = 0; b < B; b++)
                for (int t = 0; t < batch.Lengths[b]; t++)
                    cur.Slice((t * B + b) * i0, i0).CopyTo(dInputs.Slice((b * S + t) * i0, i0));
        }
    }

    private int[] _stepTokens = Array.Empty<int>();
    private T[] _stepFeatures = Array.Empty<T>();
    private SequenceBatch<T>? _stepBatch;

    /// <summary>
    /// Streaming inference, the textbook <c>y = rnn.step(x)</c>: feeds one token per sequence of <paramref name="state"/>'s
    /// batch, advances the state in place and returns the head's output for that step [B, O]. Reset the state to start over.
    /// Steady-state calls allocate nothing.
    /// </summary>
    public ReadOnlySpan<T> Step(RecurrentState<T> state, ReadOnlySpan<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (Options.Input == InputKind.Dense) throw new InvalidOperationException("This network reads dense features; call the Step overload that takes features.");
        if (tokens.Length != state.Batch) throw new ArgumentException($"Got {tokens.Length} tokens for a state of batch size {state.Batch}.", nameof(tokens));
        var batch = StepBatch(state.Batch);
        tokens.CopyTo(_stepTokens);
        return StepCore(state, batch);
    }

    /// <summary>Streaming inference on dense input: <paramref name="features"/> is [B, F] for one step.</summary>
    public ReadOnlySpan<T> StepFeatures(RecurrentState<T> state, ReadOnlySpan<T> features)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (Options.Input != InputKind.Dense) throw new InvalidOperationException("This network reads token ids; call the Step overload that takes tokens.");
        if (features.Length != state.Batch * Options.FeatureSize) throw new ArgumentException($"Got {features.Length} features; expected batch × features = {state.Batch} × {Options.FeatureSize}.", nameof(features));
        var batch = StepBatch(state.Batch);
        features.CopyTo(_stepFeatures);
        return StepCore(state, batch);
    }

    private SequenceBatch<T> StepBatch(int b)
    {
        if (Options.Bidirectional) throw new InvalidOperationException("Streaming needs a unidirectional network: a bidirectional layer must see the whole sequence.");
        if (_stepBatch is null || _stepBatch.Batch != b)
        {
            _stepTokens = new int[b];
            _stepFeatures = new T[b * System.Math.Max(1, Options.FeatureSize)];
            _stepBatch = Options.Input == InputKind.Dense
                ? SequenceBatch<T>.FromFeatures(_stepFeatures, b, 1, Options.FeatureSize)
                : SequenceBatch<T>.FromTokens(_stepTokens, b, 1);
        }
        return _stepBatch;
    }

    private ReadOnlySpan<T> StepCore(RecurrentState<T> state, SequenceBatch<T> batch)
    {
        Forward(batch, training: false, initialState: state);
        CopyFinalState(state);
        return Output;
    }

    private void ValidateInput(SequenceBatch<T> batch)
    {
        int S = batch.Steps;
        if (Options.Input == InputKind.Dense)
        {
            if (batch.Features is null) throw new ArgumentException("This network reads dense features, but the batch has token ids.", nameof(batch));
            if (batch.Features.Length != batch.Batch * S * Options.FeatureSize)
                throw new ArgumentException($"The batch has {batch.Features.Length / System.Math.Max(1, batch.Batch * S)} features per step; the network expects {Options.FeatureSize}.", nameof(batch));
            ValidateFinite(batch, Options.FeatureSize);
        }
        else
        {
            if (batch.Tokens is null) throw new ArgumentException("This network reads token ids, but the batch has dense features.", nameof(batch));
            int v = Options.VocabularySize;
            for (int b = 0; b < batch.Batch; b++)
                for (int t = 0; t < batch.Lengths[b]; t++)
                {
                    int id = batch.Tokens[b * S + t];
                    if ((uint)id >= (uint)v)
                        throw new ArgumentOutOfRangeException(nameof(batch), id, $"Token id {id} at step {t} of sequence {b} is outside the vocabulary [0, {v}).");
                }
            if (_characters is not null)
            {
                if (batch.Characters is null) throw new ArgumentException("This network reads the characters of every token, but the batch has none (use SequenceBatch.FromTokensAndCharacters).", nameof(batch));
                int vc = Options.CharacterVocabularySize, C = batch.MaxCharacters;
                for (int b = 0; b < batch.Batch; b++)
                    for (int t = 0; t < batch.Lengths[b]; t++)
                        for (int c = 0; c < batch.CharacterLengths![b * S + t]; c++)
                        {
                            int id = batch.Characters[(b * S + t) * C + c];
                            if ((uint)id >= (uint)vc)
                                throw new ArgumentOutOfRangeException(nameof(batch), id, $"Character id {id} (character {c} of token {t} in sequence {b}) is outside the character vocabulary [0, {vc}).");
                        }
            }
        }
    }

    private static void ValidateFinite(SequenceBatch<T> batch, int width)
    {
        int S = batch.Steps;
        for (int b = 0; b < batch.Batch; b++)
            for (int t = 0; t < batch.Lengths[b]; t++)
                for (int j = 0; j < width; j++)
                    if (!T.IsFinite(batch.Features![(b * S + t) * width + j]))
                        throw new ArgumentException($"Feature {j} of step {t} in sequence {b} is {batch.Features[(b * S + t) * width + j]}; inputs must be finite numbers.", nameof(batch));
    }

    private static void Ensure(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[size];
    }
}
