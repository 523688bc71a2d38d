using System;
using System.Collections.Generic;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Models;

// Shape key: B = batch, Ss = source steps, St = target steps, E = embedding, F = features, H = encoder hidden per direction,
// D = encoder directions, K = D·H decoder hidden, L = layers, V = target vocabulary.
// Encoder and decoder activations are time-major [S, B, X] (row (t, b) at (t·B + b)·X); attention, head and logits are
// batch-first [B, St, X] (row (b, t) at (b·St + t)·X).

/// <summary>A batch for an <see cref="EncoderDecoderNetwork{T}"/>: the source (token sequences or feature vectors) and the
/// decoder's input tokens (teacher forcing: end-of-sequence id 0, then the target tokens).</summary>
public sealed class EncoderDecoderBatch<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Source token sequences [B, Ss] (token sources), else null.</summary>
    public SequenceBatch<T>? Source { get; }

    /// <summary>Source feature vectors [B, F] (feature sources), else null.</summary>
    public T[]? Features { get; }

    /// <summary>Decoder input tokens [B, St].</summary>
    public SequenceBatch<T> Target { get; }

    /// <summary>Number of examples B.</summary>
    public int Batch => Target.Batch;

    private EncoderDecoderBatch(SequenceBatch<T>? source, T[]? features, SequenceBatch<T> target)
    {
        Source = source; Features = features; Target = target;
    }

    /// <summary>Token sources; both batches must have the same number of sequences.</summary>
    public static EncoderDecoderBatch<T> FromTokens(SequenceBatch<T> source, SequenceBatch<T> target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.Tokens is null) throw new ArgumentException("The source batch must hold token ids.", nameof(source));
        if (source.Batch != target.Batch) throw new ArgumentException($"The source has {source.Batch} sequences; the target has {target.Batch}.", nameof(target));
        return new EncoderDecoderBatch<T>(source, null, target);
    }

    /// <summary>Feature-vector sources [B, F].</summary>
    public static EncoderDecoderBatch<T> FromFeatures(T[] features, SequenceBatch<T> target)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(target);
        if (features.Length == 0 || features.Length % target.Batch != 0)
            throw new ArgumentException($"Features has {features.Length} values; expected batch × features with batch {target.Batch}.", nameof(features));
        return new EncoderDecoderBatch<T>(null, features, target);
    }
}

/// <summary>
/// An encoder–decoder: a token encoder (embedding → stacked, optionally bidirectional recurrent layers) or a feature-vector
/// encoder (h0 = tanh(W f + b)), whose final state starts a unidirectional decoder of the same depth; optional Luong
/// attention over the encoder outputs; a linear head over the target vocabulary. Trained with teacher forcing
/// (<see cref="Forward"/> / <see cref="Backward"/>, hand-written backpropagation through both networks), decoded greedily or
/// by beam search (<see cref="Decode"/>). Target id 0 is the end-of-sequence token; decoding starts from it.
/// </summary>
/// <typeparam name="T">float for training and inference; double for gradient checks.</typeparam>
public sealed partial class EncoderDecoderNetwork<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The end-of-sequence id of the target vocabulary, also the first decoder input.</summary>
    public const int EndOfSequence = 0;

    /// <summary>The architecture.</summary>
    public EncoderDecoderOptions Options { get; }

    /// <summary>All weights and their gradients.</summary>
    public ParameterStore<T> Parameters { get; }

    /// <summary>Random stream for dropout masks.</summary>
    public Rng DropoutRng { get; set; } = new(0x5EED);

    private readonly RecurrentStack<T>? _encoder;
    private readonly RecurrentStack<T> _decoder;
    private readonly Parameter? _srcEmbedding, _bridgeW, _bridgeB, _attnW, _combineW, _combineB;
    private readonly Parameter? _queryW, _scoreV;  // additive attention: W_q [K, K], v [1, K] (W_k is _attnW)
    private readonly Parameter _tgtEmbedding, _headW, _headB;
    private readonly int _k, _v, _e;

    // Forward caches.
    private EncoderDecoderBatch<T>? _batch;
    private RecurrentState<T>? _encFinal, _decInit, _dEncFinal, _dDecInit;
    private T[] _keys = Array.Empty<T>();     // [Ss, B, K] W_a h̄_s (General) or W_k h̄_s (Additive) — Dot uses the encoder outputs themselves
    private T[] _queries = Array.Empty<T>();  // [St, B, K] W_q h_t (Additive)
    private T[] _scoreTanh = Array.Empty<T>(); // [B, St, Ss, K] tanh(W_q h_t + W_k h̄_s) (Additive)
    private T[] _alpha = Array.Empty<T>();    // [B, St, Ss] attention weights
    private T[] _concat = Array.Empty<T>();   // [B·St, 2K] [context; h_t]
    private T[] _headIn = Array.Empty<T>();   // [B·St, K] h̃_t = tanh(W_c [c; h] + b_c), or h_t without attention
    private T[] _output = Array.Empty<T>();   // [B, St, V] logits
    private T[] _bridgeOut = Array.Empty<T>(); // [B, L·K] tanh(W f + b)
    // Backward scratch.
    private T[] _dHeadIn = Array.Empty<T>(), _dConcat = Array.Empty<T>(), _dKeys = Array.Empty<T>(), _dEnc = Array.Empty<T>(), _dAlpha = Array.Empty<T>();
    private T[] _dQueries = Array.Empty<T>();
    // Embedding dropout (training): scale masks (0 or 1/(1−p)) of the encoder input [Ss, B, E], the decoder input
    // [St, B, Din] and the head input [B·St, K], and the head's dropped input.
    private T[] _srcMask = Array.Empty<T>(), _tgtMask = Array.Empty<T>(), _headMask = Array.Empty<T>(), _headInDropped = Array.Empty<T>();
    private bool _embeddingDropped;

    /// <summary>Creates a network with zero weights; initialize it (<see cref="Training.Initializer"/>) before training.</summary>
    public EncoderDecoderNetwork(EncoderDecoderOptions options) : this(options, null) { }

    private EncoderDecoderNetwork(EncoderDecoderOptions options, ParameterStore<T>? shared)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options.Clone();
        var o = Options;
        _k = o.DecoderHiddenSize; _v = o.TargetVocabularySize; _e = o.EmbeddingSize;
        Parameters = shared ?? new ParameterStore<T>(Layout(o));
        if (o.Source == SourceKind.Tokens)
        {
            _srcEmbedding = Parameters["encoder.embedding.weight"];
            _encoder = new RecurrentStack<T>(o.Cell, o.EmbeddingSize, o.HiddenSize, o.Layers, o.BidirectionalEncoder, o.Dropout, Parameters, "encoder.rnn.");
        }
        else
        {
            _bridgeW = Parameters["bridge.weight"];
            _bridgeB = Parameters["bridge.bias"];
        }
        _tgtEmbedding = Parameters["decoder.embedding.weight"];
        _decoder = new RecurrentStack<T>(o.Cell, o.DecoderInputSize, _k, o.Layers, false, o.Dropout, Parameters, "decoder.rnn.");
        if (o.Attention == AttentionKind.General) _attnW = Parameters["attention.weight"];
        if (o.Attention == AttentionKind.Additive)
        {
            _attnW = Parameters["attention.key.weight"];
            _queryW = Parameters["attention.query.weight"];
            _scoreV = Parameters["attention.score.weight"];
        }
        if (o.Attention != AttentionKind.None)
        {
            _combineW = Parameters["attention.combine.weight"];
            _combineB = Parameters["attention.combine.bias"];
        }
        _headW = Parameters["head.weight"];
        _headB = Parameters["head.bias"];
    }

    /// <summary>Another instance over the same weights with its own buffers (one per thread).</summary>
    public EncoderDecoderNetwork<T> CloneForInference() => new(Options, Parameters);

    /// <summary>A network whose weight buffer is <paramref name="weights"/> itself (not copied): for a loader that hands its array over.</summary>
    internal static EncoderDecoderNetwork<T> Over(EncoderDecoderOptions options, T[] weights) => new(options, new ParameterStore<T>(Layout(options), weights));

    /// <summary>
    /// What to keep once training is over: an instance over the same weights without this one's activation and backward
    /// buffers, with the gradient buffer freed (see <see cref="SequenceNetwork{T}.ForInference"/>).
    /// </summary>
    public EncoderDecoderNetwork<T> ForInference()
    {
        Parameters.ReleaseGradients();
        return CloneForInference();
    }

    /// <summary>Parameter names and shapes, in storage order.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Layout(EncoderDecoderOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        int k = o.DecoderHiddenSize;
        if (o.Source == SourceKind.Tokens)
        {
            yield return ("encoder.embedding.weight", new[] { o.SourceVocabularySize, o.EmbeddingSize });
            foreach (var p in RecurrentStack<T>.Layout(o.Cell, o.EmbeddingSize, o.HiddenSize, o.Layers, o.BidirectionalEncoder, "encoder.rnn.")) yield return p;
        }
        else
        {
            yield return ("bridge.weight", new[] { o.Layers * k, o.FeatureSize });
            yield return ("bridge.bias", new[] { o.Layers * k });
        }
        yield return ("decoder.embedding.weight", new[] { o.TargetVocabularySize, o.EmbeddingSize });
        foreach (var p in RecurrentStack<T>.Layout(o.Cell, o.DecoderInputSize, k, o.Layers, false, "decoder.rnn.")) yield return p;
        if (o.Attention == AttentionKind.General) yield return ("attention.weight", new[] { k, k });
        if (o.Attention == AttentionKind.Additive)
        {
            yield return ("attention.query.weight", new[] { k, k });
            yield return ("attention.key.weight", new[] { k, k });
            yield return ("attention.score.weight", new[] { 1, k });
        }
        if (o.Attention != AttentionKind.None)
        {
            yield return ("attention.combine.weight", new[] { k, 2 * k });
            yield return ("attention.combine.bias", new[] { k });
        }
        yield return ("head.weight", new[] { o.TargetVocabularySize, k });
        yield return ("head.bias", new[] { o.TargetVocabularySize });
    }

    /// <summary>Logits [B, St, V] of the last forward pass (zero at padding).</summary>
    public ReadOnlySpan<T> Output => _batch is null ? default : _output.AsSpan(0, _batch.Batch * _batch.Target.Steps * _v);

    /// <summary>Attention weights [B, St, Ss] of the last forward pass (attention models), else empty.</summary>
    public ReadOnlySpan<T> AttentionWeights =>
        _batch?.Source is null || Options.Attention == AttentionKind.None ? default : _alpha.AsSpan(0, _batch.Batch * _batch.Target.Steps * _batch.Source.Steps);

    /// <summary>
    /// Teacher-forced forward pass: encodes the source, starts the decoder from the encoder's final state, reads the
    /// decoder input tokens, attends (if configured) and returns the logits [B, St, V] for the next target token at every step.
    /// </summary>
    public ReadOnlySpan<T> Forward(EncoderDecoderBatch<T> batch, bool training = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Validate(batch);
        _batch = batch;
        int B = batch.Batch;
        _decInit = Encode(batch, training, B);

        // Decoder over the teacher-forced inputs.
        var target = batch.Target;
        int St = target.Steps, din = Options.DecoderInputSize;
        Span<T> x = _decoder.Input(St, B);
        ReadOnlySpan<T> emb = Parameters.Read(_tgtEmbedding);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < target.Lengths[b]; t++)
            {
                Span<T> row = x.Slice((t * B + b) * din, din);
                emb.Slice(target.Tokens![b * St + t] * _e, _e).CopyTo(row);
                if (din > _e) batch.Features.AsSpan(b * Options.FeatureSize, Options.FeatureSize).CopyTo(row.Slice(_e));
            }
        _embeddingDropped = training && Options.EmbeddingDropout > 0;
        if (_embeddingDropped) Drop(x, ref _tgtMask);
        ReadOnlySpan<T> top = _decoder.Forward(St, B, target.Lengths, training, DropoutRng, _decInit);

        // Attention and head, batch-first.
        Ensure(ref _headIn, B * St * _k);
        Span<T> z = _headIn.AsSpan(0, B * St * _k);
        z.Clear();
        if (Options.Attention == AttentionKind.None)
        {
            for (int b = 0; b < B; b++)
                for (int t = 0; t < target.Lengths[b]; t++)
                    top.Slice((t * B + b) * _k, _k).CopyTo(z.Slice((b * St + t) * _k, _k));
        }
        else
        {
            AttentionForward(batch, top, z);
        }
        Ensure(ref _output, B * St * _v);
        Span<T> logits = _output.AsSpan(0, B * St * _v);
        ReadOnlySpan<T> headIn = z;
        if (_embeddingDropped)
        {
            // the head reads a dropped copy; z itself stays for the attention backward (tanh derivative)
            Ensure(ref _headInDropped, B * St * _k);
            Span<T> dropped = _headInDropped.AsSpan(0, B * St * _k);
            z.CopyTo(dropped);
            Drop(dropped, ref _headMask);
            headIn = dropped;
        }
        Gemm.Multiply(false, true, B * St, _v, _k, headIn, _k, Parameters.Read(_headW), _k, logits, _v, accumulate: false);
        ReadOnlySpan<T> hb = Parameters.Read(_headB);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < St; t++)
            {
                Span<T> row = logits.Slice((b * St + t) * _v, _v);
                if (t < target.Lengths[b]) TensorPrimitives.Add(row, hb, row);
                else row.Clear();
            }
        return Output;
    }

    /// <summary>Runs the encoder (or the feature bridge) and returns the decoder's initial state [L, B, K].</summary>
    private RecurrentState<T> Encode(EncoderDecoderBatch<T> batch, bool training, int B)
    {
        var o = Options;
        bool lstm = o.Cell.HasCellState();
        if (_decInit is null || _decInit.Batch != B)
        {
            _decInit = new RecurrentState<T>(o.Layers, B, _k, lstm);
            _dDecInit = new RecurrentState<T>(o.Layers, B, _k, lstm);
            _encFinal = new RecurrentState<T>(o.Layers * o.Directions, B, o.HiddenSize, lstm);
            _dEncFinal = new RecurrentState<T>(o.Layers * o.Directions, B, o.HiddenSize, lstm);
        }
        var init = _decInit;
        if (o.Source == SourceKind.Tokens)
        {
            var src = batch.Source!;
            int Ss = src.Steps;
            Span<T> x = _encoder!.Input(Ss, B);
            ReadOnlySpan<T> emb = Parameters.Read(_srcEmbedding!);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < src.Lengths[b]; t++)
                    emb.Slice(src.Tokens![b * Ss + t] * _e, _e).CopyTo(x.Slice((t * B + b) * _e, _e));
            if (training && o.EmbeddingDropout > 0) Drop(x, ref _srcMask);
            _encoder.Forward(Ss, B, src.Lengths, training, DropoutRng, null);
            _encoder.CopyFinalState(_encFinal!);
            // Decoder layer l starts from [forward final; reverse final] of encoder layer l.
            MoveStates(_encFinal!, init, toDecoder: true);
        }
        else
        {
            // h0 of layer l = tanh(W f + b)[l·K .. (l+1)·K), c0 = 0:  z = F · Wᵀ + b  [B, L·K]
            int F = o.FeatureSize, LK = o.Layers * _k;
            Ensure(ref _bridgeOut, B * LK);
            Span<T> z = _bridgeOut.AsSpan(0, B * LK);
            Gemm.Multiply(false, true, B, LK, F, batch.Features, F, Parameters.Read(_bridgeW!), F, z, LK, accumulate: false);
            for (int b = 0; b < B; b++)
            {
                Span<T> row = z.Slice(b * LK, LK);
                TensorPrimitives.Add(row, Parameters.Read(_bridgeB!), row);
                TensorPrimitives.Tanh(row, row);
                for (int l = 0; l < o.Layers; l++) row.Slice(l * _k, _k).CopyTo(init.Hidden.AsSpan((l * B + b) * _k, _k));
            }
            Array.Clear(init.Cell);
        }
        return init;
    }

    /// <summary>Inverted dropout of <paramref name="x"/> in place with a fresh mask kept in <paramref name="mask"/> for backward.</summary>
    private void Drop(Span<T> x, ref T[] mask)
    {
        Ensure(ref mask, x.Length);
        Span<T> m = mask.AsSpan(0, x.Length);
        T scale = T.One / (T.One - T.CreateChecked(Options.EmbeddingDropout));
        for (int i = 0; i < m.Length; i++) m[i] = DropoutRng.NextDouble() < Options.EmbeddingDropout ? T.Zero : scale;
        TensorPrimitives.Multiply(x, m, x);
    }

    /// <summary>Encoder final states [L·D, B, H] ↔ decoder states [L, B, D·H] (directions side by side).</summary>
    private void MoveStates(RecurrentState<T> enc, RecurrentState<T> dec, bool toDecoder)
    {
        int L = Options.Layers, D = Options.Directions, H = Options.HiddenSize, B = dec.Batch;
        for (int l = 0; l < L; l++)
            for (int d = 0; d < D; d++)
                for (int b = 0; b < B; b++)
                {
                    int e = ((l * D + d) * B + b) * H, k = (l * B + b) * _k + d * H;
                    if (toDecoder)
                    {
                        enc.Hidden.AsSpan(e, H).CopyTo(dec.Hidden.AsSpan(k, H));
                        if (enc.Cell.Length > 0) enc.Cell.AsSpan(e, H).CopyTo(dec.Cell.AsSpan(k, H));
                    }
                    else
                    {
                        dec.Hidden.AsSpan(k, H).CopyTo(enc.Hidden.AsSpan(e, H));
                        if (enc.Cell.Length > 0) dec.Cell.AsSpan(k, H).CopyTo(enc.Cell.AsSpan(e, H));
                    }
                }
    }

    private void AttentionForward(EncoderDecoderBatch<T> batch, ReadOnlySpan<T> top, Span<T> z)
    {
        var src = batch.Source!;
        int B = batch.Batch, Ss = src.Steps, St = batch.Target.Steps, K = _k;
        ReadOnlySpan<T> enc = _encoder!.Top; // [Ss, B, K]
        ReadOnlySpan<T> keys = enc, queries = top;
        bool additive = Options.Attention == AttentionKind.Additive;
        if (_attnW is not null)
        {
            // keys = enc · W_aᵀ (General: score = h_t · keys_s = h_tᵀ W_a h̄_s), or enc · W_kᵀ (Additive)
            Ensure(ref _keys, Ss * B * K);
            Gemm.Multiply(false, true, Ss * B, K, K, enc, K, Parameters.Read(_attnW), K, _keys, K, accumulate: false);
            keys = _keys.AsSpan(0, Ss * B * K);
        }
        if (additive)
        {
            // queries = top · W_qᵀ [St·B, K]; the tanh of every (query, key) pair is kept for backward
            Ensure(ref _queries, St * B * K);
            Gemm.Multiply(false, true, St * B, K, K, top, K, Parameters.Read(_queryW!), K, _queries, K, accumulate: false);
            queries = _queries.AsSpan(0, St * B * K);
            Ensure(ref _scoreTanh, B * St * Ss * K);
        }
        Ensure(ref _alpha, B * St * Ss);
        Ensure(ref _concat, B * St * 2 * K);
        Span<T> alpha = _alpha.AsSpan(0, B * St * Ss), concat = _concat.AsSpan(0, B * St * 2 * K);
        alpha.Clear(); concat.Clear();
        for (int b = 0; b < B; b++)
            for (int t = 0; t < batch.Target.Lengths[b]; t++)
            {
                int row = b * St + t;
                ReadOnlySpan<T> h = top.Slice((t * B + b) * K, K), q = queries.Slice((t * B + b) * K, K);
                Attend(q, keys, enc, b * K, B * K, src.Lengths[b], alpha.Slice(row * Ss, Ss), concat.Slice(row * 2 * K, K),
                    additive ? _scoreTanh.AsSpan(row * Ss * K, Ss * K) : default);
                h.CopyTo(concat.Slice(row * 2 * K + K, K));
            }
        Combine(concat, z, B * St);
        for (int b = 0; b < B; b++) // padding rows read nothing
            z.Slice((b * St + batch.Target.Lengths[b]) * K, (St - batch.Target.Lengths[b]) * K).Clear();
    }

    /// <summary>
    /// One query over one source sequence: α = softmax_s(score_s) over the <paramref name="count"/> valid positions,
    /// context = Σ α_s h̄_s. Key and value rows start at <paramref name="offset"/> + s·<paramref name="stride"/>.
    /// Dot and General: score_s = q · key_s (q = h_t). Additive: score_s = v · u_s, u_s = tanh(q + key_s) (q = W_q h_t),
    /// u_s written to row s of <paramref name="tanh"/> [count, K].
    /// </summary>
    private void Attend(ReadOnlySpan<T> q, ReadOnlySpan<T> keys, ReadOnlySpan<T> values, int offset, int stride, int count, Span<T> alpha, Span<T> context,
        Span<T> tanh)
    {
        int K = _k;
        if (Options.Attention == AttentionKind.Additive)
        {
            ReadOnlySpan<T> v = Parameters.Read(_scoreV!);
            for (int s = 0; s < count; s++)
            {
                Span<T> u = tanh.Slice(s * K, K);
                TensorPrimitives.Add(q, keys.Slice(offset + s * stride, K), u);
                TensorPrimitives.Tanh(u, u);
                alpha[s] = TensorPrimitives.Dot(v, u);
            }
        }
        else
            for (int s = 0; s < count; s++) alpha[s] = TensorPrimitives.Dot(q, keys.Slice(offset + s * stride, K));
        SoftmaxCrossEntropy.Softmax<T>(alpha.Slice(0, count), alpha.Slice(0, count));
        context.Clear();
        for (int s = 0; s < count; s++) TensorPrimitives.MultiplyAdd(values.Slice(offset + s * stride, K), alpha[s], context, context);
    }

    /// <summary>h̃ = tanh(W_c [c; h] + b_c) for <paramref name="rows"/> rows of <paramref name="concat"/> [rows, 2K].</summary>
    private void Combine(ReadOnlySpan<T> concat, Span<T> z, int rows)
    {
        int K = _k;
        Gemm.Multiply(false, true, rows, K, 2 * K, concat, 2 * K, Parameters.Read(_combineW!), 2 * K, z, K, accumulate: false);
        ReadOnlySpan<T> bc = Parameters.Read(_combineB!);
        for (int r = 0; r < rows; r++)
        {
            Span<T> row = z.Slice(r * K, K);
            TensorPrimitives.Add(row, bc, row);
            TensorPrimitives.Tanh(row, row);
        }
    }

    /// <summary>
    /// Backpropagation through head, attention, decoder, bridge and encoder for the last <see cref="Forward"/>.
    /// <paramref name="dLogits"/> is [B, St, V] (padding rows ignored). Adds into the parameter gradients.
    /// </summary>
    public void Backward(ReadOnlySpan<T> dLogits)
    {
        var batch = _batch ?? throw new InvalidOperationException("Run Forward before Backward.");
        var target = batch.Target;
        int B = batch.Batch, St = target.Steps, K = _k, V = _v;
        if (dLogits.Length != B * St * V) throw new ArgumentException($"dLogits has {dLogits.Length} values; the output has {B * St * V}.", nameof(dLogits));

        // Head: logits = z · Wᵀ + b  →  dW += dlogitsᵀ · z,  db += Σ valid rows,  dz = dlogits · W
        ReadOnlySpan<T> z = _embeddingDropped ? _headInDropped.AsSpan(0, B * St * K) : _headIn.AsSpan(0, B * St * K);
        Gemm.Multiply(true, false, V, K, B * St, dLogits, V, z, K, Parameters.Gradient(_headW), K, accumulate: true);
        Span<T> dHb = Parameters.Gradient(_headB);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < target.Lengths[b]; t++) TensorPrimitives.Add(dHb, dLogits.Slice((b * St + t) * V, V), dHb);
        Ensure(ref _dHeadIn, B * St * K);
        Span<T> dz = _dHeadIn.AsSpan(0, B * St * K);
        Gemm.Multiply(false, false, B * St, K, V, dLogits, V, Parameters.Read(_headW), K, dz, K, accumulate: false);
        if (_embeddingDropped) TensorPrimitives.Multiply(dz, _headMask.AsSpan(0, B * St * K), dz); // through the head-input dropout

        Span<T> dTop = _decoder.TopGradient(); // [St, B, K]
        Span<T> dEnc = default;                // [Ss, B, K], gradient reaching the encoder outputs through attention
        if (Options.Attention == AttentionKind.None)
        {
            for (int b = 0; b < B; b++)
                for (int t = 0; t < target.Lengths[b]; t++) dz.Slice((b * St + t) * K, K).CopyTo(dTop.Slice((t * B + b) * K, K));
        }
        else
        {
            dEnc = AttentionBackward(batch, dz, dTop);
        }

        // Decoder: its input gradient feeds the target embedding; its initial-state gradient feeds the bridge or encoder.
        ReadOnlySpan<T> dx = _decoder.Backward(null, _dDecInit, needInputGradient: true);
        int din = Options.DecoderInputSize;
        ReadOnlySpan<T> tgtMask = _embeddingDropped ? _tgtMask.AsSpan(0, St * B * din) : default;
        Span<T> dEmb = Parameters.Gradient(_tgtEmbedding);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < target.Lengths[b]; t++)
            {
                Span<T> row = dEmb.Slice(target.Tokens![b * St + t] * _e, _e);
                if (_embeddingDropped) TensorPrimitives.MultiplyAdd(dx.Slice((t * B + b) * din, _e), tgtMask.Slice((t * B + b) * din, _e), row, row);
                else TensorPrimitives.Add(row, dx.Slice((t * B + b) * din, _e), row);
            }

        if (Options.Source == SourceKind.Tokens)
        {
            var src = batch.Source!;
            int Ss = src.Steps;
            MoveStates(_dEncFinal!, _dDecInit!, toDecoder: false);
            Span<T> dEncTop = _encoder!.TopGradient();
            if (!dEnc.IsEmpty) dEnc.CopyTo(dEncTop);
            ReadOnlySpan<T> dxs = _encoder.Backward(_dEncFinal, null, needInputGradient: true);
            Span<T> dSrc = Parameters.Gradient(_srcEmbedding!);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < src.Lengths[b]; t++)
                {
                    Span<T> row = dSrc.Slice(src.Tokens![b * Ss + t] * _e, _e);
                    if (_embeddingDropped) TensorPrimitives.MultiplyAdd(dxs.Slice((t * B + b) * _e, _e), _srcMask.AsSpan((t * B + b) * _e, _e), row, row);
                    else TensorPrimitives.Add(row, dxs.Slice((t * B + b) * _e, _e), row);
                }
        }
        else
        {
            // h0 = tanh(u), u = F · Wᵀ + b: du = dh0 ⊙ (1 − h0²); dW += duᵀ · F; db += Σ du   (c0 is a constant 0)
            int F = Options.FeatureSize, LK = Options.Layers * K;
            Span<T> du = _bridgeOut.AsSpan(0, B * LK); // overwritten in place: tanh values → du
            for (int b = 0; b < B; b++)
                for (int l = 0; l < Options.Layers; l++)
                {
                    Span<T> hRow = du.Slice(b * LK + l * K, K);
                    ReadOnlySpan<T> g = _dDecInit!.Hidden.AsSpan((l * B + b) * K, K);
                    for (int j = 0; j < K; j++) hRow[j] = g[j] * (T.One - hRow[j] * hRow[j]);
                }
            Gemm.Multiply(true, false, LK, F, B, du, LK, batch.Features, F, Parameters.Gradient(_bridgeW!), F, accumulate: true);
            Span<T> dBb = Parameters.Gradient(_bridgeB!);
            for (int b = 0; b < B; b++) TensorPrimitives.Add(dBb, du.Slice(b * LK, LK), dBb);
        }
    }

    /// <summary>Backward of attention and combine; writes the decoder top gradient, returns the encoder output gradient [Ss, B, K].</summary>
    private Span<T> AttentionBackward(EncoderDecoderBatch<T> batch, Span<T> dz, Span<T> dTop)
    {
        var src = batch.Source!;
        int B = batch.Batch, Ss = src.Steps, St = batch.Target.Steps, K = _k, rows = B * St;
        ReadOnlySpan<T> z = _headIn.AsSpan(0, rows * K), concat = _concat.AsSpan(0, rows * 2 * K), alpha = _alpha.AsSpan(0, rows * Ss);
        ReadOnlySpan<T> enc = _encoder!.Top, top = _decoder.Top;
        bool general = Options.Attention == AttentionKind.General, additive = Options.Attention == AttentionKind.Additive;
        bool projectedKeys = general || additive;
        ReadOnlySpan<T> keys = projectedKeys ? _keys.AsSpan(0, Ss * B * K) : enc;

        // h̃ = tanh(a), a = W_c [c; h] + b_c:  da = dh̃ ⊙ (1 − h̃²) (in place), dW_c += daᵀ [c; h], db_c += Σ da, d[c; h] = da · W_c
        for (int i = 0; i < rows * K; i++) dz[i] *= T.One - z[i] * z[i];
        for (int b = 0; b < B; b++)
            for (int t = batch.Target.Lengths[b]; t < St; t++) dz.Slice((b * St + t) * K, K).Clear();
        Gemm.Multiply(true, false, K, 2 * K, rows, dz, K, concat, 2 * K, Parameters.Gradient(_combineW!), 2 * K, accumulate: true);
        Span<T> dbc = Parameters.Gradient(_combineB!);
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(dbc, dz.Slice(r * K, K), dbc);
        Ensure(ref _dConcat, rows * 2 * K);
        Span<T> dConcat = _dConcat.AsSpan(0, rows * 2 * K);
        Gemm.Multiply(false, false, rows, 2 * K, K, dz, K, Parameters.Read(_combineW!), 2 * K, dConcat, 2 * K, accumulate: false);

        Ensure(ref _dEnc, Ss * B * K);
        Ensure(ref _dKeys, Ss * B * K);
        Ensure(ref _dAlpha, Ss);
        Span<T> dEnc = _dEnc.AsSpan(0, Ss * B * K);
        Span<T> dKeys = projectedKeys ? _dKeys.AsSpan(0, Ss * B * K) : dEnc; // Dot: keys are the encoder outputs
        dEnc.Clear();
        dKeys.Clear();
        Span<T> dAlpha = _dAlpha.AsSpan(0, Ss);
        Span<T> dQueries = default; // [St, B, K] (Additive)
        ReadOnlySpan<T> v = default;
        Span<T> dv = default;
        if (additive)
        {
            Ensure(ref _dQueries, St * B * K);
            dQueries = _dQueries.AsSpan(0, St * B * K);
            dQueries.Clear();
            v = Parameters.Read(_scoreV!);
            dv = Parameters.Gradient(_scoreV!);
        }
        for (int b = 0; b < B; b++)
            for (int t = 0; t < batch.Target.Lengths[b]; t++)
            {
                int row = b * St + t, n = src.Lengths[b];
                ReadOnlySpan<T> dCtx = dConcat.Slice(row * 2 * K, K), a = alpha.Slice(row * Ss, Ss), h = top.Slice((t * B + b) * K, K);
                Span<T> dh = dTop.Slice((t * B + b) * K, K);
                dConcat.Slice(row * 2 * K + K, K).CopyTo(dh); // the h half of [c; h]
                // context = Σ α_s h̄_s:  dα_s = dctx · h̄_s,  dh̄_s += α_s dctx
                T dot = T.Zero;
                for (int s = 0; s < n; s++)
                {
                    int at = (s * B + b) * K;
                    dAlpha[s] = TensorPrimitives.Dot(dCtx, enc.Slice(at, K));
                    dot += a[s] * dAlpha[s];
                    TensorPrimitives.MultiplyAdd(dCtx, a[s], dEnc.Slice(at, K), dEnc.Slice(at, K));
                }
                // α = softmax(e): de_s = α_s (dα_s − Σ α dα)
                for (int s = 0; s < n; s++)
                {
                    int at = (s * B + b) * K;
                    T de = a[s] * (dAlpha[s] - dot);
                    if (additive)
                    {
                        // e_s = v · u_s, u_s = tanh(q + key_s): dv += de_s u_s; dpre = de_s v ⊙ (1 − u_s²) → dq and dkey_s
                        ReadOnlySpan<T> u = _scoreTanh.AsSpan((row * Ss + s) * K, K);
                        TensorPrimitives.MultiplyAdd(u, de, dv, dv);
                        Span<T> dq = dQueries.Slice((t * B + b) * K, K), dk = dKeys.Slice(at, K);
                        for (int j = 0; j < K; j++)
                        {
                            T dpre = de * v[j] * (T.One - u[j] * u[j]);
                            dq[j] += dpre;
                            dk[j] += dpre;
                        }
                    }
                    else
                    {
                        // e_s = h · key_s: dh += de_s key_s, dkey_s += de_s h
                        TensorPrimitives.MultiplyAdd(keys.Slice(at, K), de, dh, dh);
                        TensorPrimitives.MultiplyAdd(h, de, dKeys.Slice(at, K), dKeys.Slice(at, K));
                    }
                }
            }
        if (projectedKeys)
        {
            // keys = enc · W_aᵀ (or W_kᵀ):  dW_a += dkeysᵀ · enc,  denc += dkeys · W_a
            Gemm.Multiply(true, false, K, K, Ss * B, dKeys, K, enc, K, Parameters.Gradient(_attnW!), K, accumulate: true);
            Gemm.Multiply(false, false, Ss * B, K, K, dKeys, K, Parameters.Read(_attnW!), K, dEnc, K, accumulate: true);
        }
        if (additive)
        {
            // queries = top · W_qᵀ:  dW_q += dqᵀ · top,  dtop += dq · W_q  (both time-major [St·B, K])
            Gemm.Multiply(true, false, K, K, St * B, dQueries, K, top, K, Parameters.Gradient(_queryW!), K, accumulate: true);
            Gemm.Multiply(false, false, St * B, K, K, dQueries, K, Parameters.Read(_queryW!), K, dTop, K, accumulate: true);
        }
        return dEnc;
    }

    private void Validate(EncoderDecoderBatch<T> batch)
    {
        var o = Options;
        if (o.Source == SourceKind.Tokens)
        {
            var src = batch.Source ?? throw new ArgumentException("This network encodes token sequences, but the batch has feature vectors.", nameof(batch));
            CheckIds(src, o.SourceVocabularySize, "source");
        }
        else
        {
            var f = batch.Features ?? throw new ArgumentException("This network encodes feature vectors, but the batch has token sequences.", nameof(batch));
            if (f.Length != batch.Batch * o.FeatureSize) throw new ArgumentException($"The batch has {f.Length / batch.Batch} features per example; the network expects {o.FeatureSize}.", nameof(batch));
            for (int i = 0; i < f.Length; i++)
                if (!T.IsFinite(f[i])) throw new ArgumentException($"Feature {i % o.FeatureSize} of example {i / o.FeatureSize} is {f[i]}; features must be finite numbers.", nameof(batch));
        }
        if (batch.Target.Tokens is null) throw new ArgumentException("The decoder input must be token ids.", nameof(batch));
        CheckIds(batch.Target, o.TargetVocabularySize, "target");
    }

    private static void CheckIds(SequenceBatch<T> s, int vocabulary, string what)
    {
        for (int b = 0; b < s.Batch; b++)
            for (int t = 0; t < s.Lengths[b]; t++)
            {
                int id = s.Tokens![b * s.Steps + t];
                if ((uint)id >= (uint)vocabulary)
                    throw new ArgumentOutOfRangeException(nameof(s), id, $"The {what} token id {id} at step {t} of sequence {b} is outside the {what} vocabulary [0, {vocabulary}).");
            }
    }

    private static void Ensure(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[size];
    }
}
