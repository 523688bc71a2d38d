using System;
using System.Collections.Generic;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Models;

/// <summary>A decoded target sequence.</summary>
/// <param name="Tokens">Target token ids, without the end-of-sequence token.</param>
/// <param name="LogProbability">Sum of the log-probabilities of the tokens and of the end-of-sequence token (if emitted).</param>
/// <param name="Finished">Whether the decoder emitted end-of-sequence (false: cut at the length limit).</param>
public sealed record DecodedSequence(int[] Tokens, double LogProbability, bool Finished);

/// <summary>How <see cref="EncoderDecoderNetwork{T}.Decode(ReadOnlySpan{int}, DecodingOptions?)"/> searches.</summary>
public sealed class DecodingOptions
{
    /// <summary>Hypotheses kept per step; 1 is greedy decoding.</summary>
    public int BeamWidth { get; set; } = 1;

    /// <summary>Most target tokens generated (end-of-sequence excluded).</summary>
    public int MaxLength { get; set; } = 100;

    /// <summary>Finished hypotheses are ranked by log-probability / (length + 1)^LengthPenalty; 0 ranks by raw log-probability.</summary>
    public double LengthPenalty { get; set; } = 1.0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (BeamWidth < 1 || BeamWidth > 1024) throw new ArgumentException($"BeamWidth must be in 1..1024; got {BeamWidth}.", nameof(BeamWidth));
        if (MaxLength < 1 || MaxLength > 100_000) throw new ArgumentException($"MaxLength must be in 1..100000; got {MaxLength}.", nameof(MaxLength));
        if (!(LengthPenalty >= 0 && LengthPenalty <= 10)) throw new ArgumentException($"LengthPenalty must be in [0, 10]; got {LengthPenalty}.", nameof(LengthPenalty));
    }
}

public sealed partial class EncoderDecoderNetwork<T>
{
    private T[] _memKeys = Array.Empty<T>();   // [Ss, B, K]
    private T[] _memValues = Array.Empty<T>(); // [Ss, B, K]
    private EncoderDecoderBatch<T>? _decodeSources; // the sources of the decoding under way
    private RecurrentState<T>? _decodeState;        // [L, n, K] decoder state of each row of the last step

    /// <summary>Decodes the target for one source token sequence (greedy when the beam width is 1).</summary>
    public DecodedSequence Decode(ReadOnlySpan<int> source, DecodingOptions? options = null)
    {
        if (source.IsEmpty) throw new ArgumentException("The source sequence is empty; it needs at least one token.", nameof(source));
        return DecodeBatch(new[] { source.ToArray() }, options)[0];
    }

    /// <summary>
    /// Decodes several source token sequences at once (batched beam search): the sources are encoded as one batch, and each
    /// decoder step runs the live hypotheses of every source as one batch. Each result equals what <see cref="Decode"/>
    /// gives for that source alone (up to float rounding of the batched products).
    /// </summary>
    public DecodedSequence[] DecodeBatch(IReadOnlyList<int[]> sources, DecodingOptions? options = null) => DecodeBatch(new[] { this }, sources, options);

    /// <summary>
    /// Decodes with an ensemble: every member encodes the sources and follows the same hypotheses, and the search ranks
    /// each next token by the mean of the members' log-probabilities. The members must share the source and target
    /// vocabularies (sizes may otherwise differ). One member is <see cref="DecodeBatch(IReadOnlyList{int[]}, DecodingOptions?)"/>.
    /// Members must not be used by another thread meanwhile.
    /// </summary>
    public static DecodedSequence[] DecodeBatch(IReadOnlyList<EncoderDecoderNetwork<T>> members, IReadOnlyList<int[]> sources, DecodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(sources);
        CheckMembers(members, SourceKind.Tokens);
        if (sources.Count == 0) return Array.Empty<DecodedSequence>();
        for (int i = 0; i < sources.Count; i++)
            if (sources[i] is null || sources[i].Length == 0) throw new ArgumentException($"Source {i} is empty; every source needs at least one token.", nameof(sources));
        var batch = EncoderDecoderBatch<T>.FromTokens(SequenceBatch<T>.FromTokenSequences(sources is int[][] a ? a : new List<int[]>(sources).ToArray()), OneStep(sources.Count));
        return DecodeCore(members, batch, options ?? new DecodingOptions());
    }

    /// <summary>Decodes the target for one feature vector (greedy when the beam width is 1).</summary>
    public DecodedSequence DecodeFeatures(ReadOnlySpan<T> features, DecodingOptions? options = null) => DecodeFeatures(new[] { this }, features, options);

    /// <summary>Decodes the target for one feature vector with an ensemble (mean of the members' log-probabilities).</summary>
    public static DecodedSequence DecodeFeatures(IReadOnlyList<EncoderDecoderNetwork<T>> members, ReadOnlySpan<T> features, DecodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        CheckMembers(members, SourceKind.Features);
        var batch = EncoderDecoderBatch<T>.FromFeatures(features.ToArray(), OneStep(1));
        return DecodeCore(members, batch, options ?? new DecodingOptions())[0];
    }

    private static void CheckMembers(IReadOnlyList<EncoderDecoderNetwork<T>> members, SourceKind kind)
    {
        if (members.Count == 0) throw new ArgumentException("An ensemble needs at least one member.", nameof(members));
        var first = members[0]?.Options ?? throw new ArgumentException("Member 0 is null.", nameof(members));
        if (first.Source != kind)
            throw new InvalidOperationException(kind == SourceKind.Tokens ? "This network encodes feature vectors; call DecodeFeatures." : "This network encodes token sequences; call Decode.");
        for (int m = 1; m < members.Count; m++)
        {
            var o = members[m]?.Options ?? throw new ArgumentException($"Member {m} is null.", nameof(members));
            if (o.Source != first.Source || o.SourceVocabularySize != first.SourceVocabularySize || o.FeatureSize != first.FeatureSize || o.TargetVocabularySize != first.TargetVocabularySize)
                throw new ArgumentException($"Member {m} reads {o.Source} ({o.SourceVocabularySize} source tokens, {o.FeatureSize} features) into {o.TargetVocabularySize} target tokens; " +
                    $"member 0 reads {first.Source} ({first.SourceVocabularySize}, {first.FeatureSize}) into {first.TargetVocabularySize}.", nameof(members));
        }
    }

    private static SequenceBatch<T> OneStep(int batch) => SequenceBatch<T>.FromTokens(new int[batch], batch, 1);

    private sealed class Hypothesis
    {
        public required List<int> Tokens;
        public double LogProbability;
        public int StateRow; // row of the step batch holding this hypothesis' decoder state
    }

    // Shape key (decoding): B = sources, W = beam width, n = live hypotheses over all sources (≤ B·W), rows of the step batch.
    private static DecodedSequence[] DecodeCore(IReadOnlyList<EncoderDecoderNetwork<T>> members, EncoderDecoderBatch<T> sources, DecodingOptions options)
    {
        options.Validate();
        foreach (var member in members) member.BeginDecoding(sources);
        int B = sources.Batch, W = options.BeamWidth, V = members[0]._v;
        // live rows: the live hypotheses of all sources, source by source
        var alive = new List<Hypothesis>[B];
        var finished = new List<Hypothesis>[B];
        for (int b = 0; b < B; b++)
        {
            alive[b] = new List<Hypothesis> { new() { Tokens = new List<int>(), StateRow = b } };
            finished[b] = new List<Hypothesis>();
        }
        var logp = Array.Empty<double>();
        var candidates = new List<(double Score, int Parent, int Token)>();

        for (int step = 0; step <= options.MaxLength; step++)
        {
            var rows = new List<Hypothesis>();
            var owner = new List<int>(); // source of each row
            for (int b = 0; b < B; b++)
                foreach (var h in alive[b]) { rows.Add(h); owner.Add(b); }
            int n = rows.Count;
            if (n == 0) break;
            var tokens = new int[n];
            var parents = new int[n];
            for (int r = 0; r < n; r++)
            {
                tokens[r] = rows[r].Tokens.Count == 0 ? EndOfSequence : rows[r].Tokens[^1];
                parents[r] = rows[r].StateRow;
            }
            // logp [n, V]: the mean over members of log softmax of each member's logits
            if (logp.Length < n * V) logp = new double[n * V];
            Array.Clear(logp, 0, n * V);
            foreach (var member in members) member.DecodeStep(tokens, parents, owner, logp, 1.0 / members.Count);

            bool mustEnd = step == options.MaxLength; // only end-of-sequence may follow the last allowed token
            int r0 = 0;
            for (int b = 0; b < B; b++)
            {
                int count = alive[b].Count;
                candidates.Clear();
                for (int r = r0; r < r0 + count; r++)
                {
                    var row = logp.AsSpan(r * V, V);
                    foreach (int tok in TopIndices(row, mustEnd ? 1 : W, mustEnd))
                        candidates.Add((rows[r].LogProbability + row[tok], r, tok));
                }
                candidates.Sort((p, q) => q.Score.CompareTo(p.Score));
                var nextAlive = new List<Hypothesis>();
                foreach (var (score, parent, token) in candidates)
                {
                    if (nextAlive.Count + finished[b].Count >= W) break;
                    var next = new List<int>(rows[parent].Tokens);
                    if (token == EndOfSequence) { finished[b].Add(new Hypothesis { Tokens = next, LogProbability = score }); continue; }
                    next.Add(token);
                    nextAlive.Add(new Hypothesis { Tokens = next, LogProbability = score, StateRow = parent }); // row of this step's states
                }
                alive[b] = finished[b].Count >= W ? new List<Hypothesis>() : nextAlive;
                r0 += count;
            }
        }
        foreach (var member in members) member.EndDecoding();

        var results = new DecodedSequence[B];
        for (int b = 0; b < B; b++)
        {
            Hypothesis? best = null;
            double bestScore = double.NegativeInfinity;
            bool bestFinished = false;
            foreach (var (list, done) in new[] { (finished[b], true), (alive[b], false) })
                foreach (var h in list)
                {
                    double sc = h.LogProbability / System.Math.Pow(h.Tokens.Count + 1, options.LengthPenalty);
                    if (best is null || sc > bestScore) { best = h; bestScore = sc; bestFinished = done; }
                }
            results[b] = new DecodedSequence(best!.Tokens.ToArray(), best.LogProbability, bestFinished);
        }
        return results;
    }

    /// <summary>Encodes the sources, keeps the attention memory and sets the decoder state of row b to source b's initial state.</summary>
    private void BeginDecoding(EncoderDecoderBatch<T> sources)
    {
        Validate(sources);
        _batch = null; // the caches no longer match a training forward pass
        var o = Options;
        int B = sources.Batch, K = _k;
        var init = Encode(sources, training: false, B); // [L, B, K]
        // Encoder memory for attention, time-major [Ss, B, K]: values = encoder outputs, keys = values · W_aᵀ / W_kᵀ or the values.
        if (o.Attention != AttentionKind.None)
        {
            int Ss = sources.Source!.Steps;
            Ensure(ref _memValues, Ss * B * K);
            _encoder!.Top.CopyTo(_memValues);
            Ensure(ref _memKeys, Ss * B * K);
            if (_attnW is not null)
                Gemm.Multiply(false, true, Ss * B, K, K, _memValues, K, Parameters.Read(_attnW), K, _memKeys, K, accumulate: false);
            else _memValues.AsSpan(0, Ss * B * K).CopyTo(_memKeys);
        }
        bool lstm = o.Cell.HasCellState();
        _decodeState = new RecurrentState<T>(o.Layers, B, K, lstm);
        init.Hidden.CopyTo(_decodeState.Hidden, 0);
        if (lstm) init.Cell.CopyTo(_decodeState.Cell, 0);
        _decodeSources = sources;
    }

    private void EndDecoding()
    {
        _decodeSources = null;
        _decodeState = null;
    }

    /// <summary>
    /// One decoder step for n rows: row r reads <paramref name="tokens"/>[r] from the state of row <paramref name="parents"/>[r]
    /// of the previous step (of source <paramref name="owner"/>[r]); adds <paramref name="weight"/> · log softmax(logits) to
    /// <paramref name="logp"/> [n, V] and keeps the new states for the next step.
    /// </summary>
    private void DecodeStep(int[] tokens, int[] parents, List<int> owner, double[] logp, double weight)
    {
        var sources = _decodeSources!;
        var state = _decodeState!;
        var o = Options;
        int n = tokens.Length, B = sources.Batch, K = _k, V = _v, L = o.Layers, din = o.DecoderInputSize, F = o.FeatureSize;
        bool lstm = o.Cell.HasCellState();
        Span<T> x = _decoder.Input(1, n);
        ReadOnlySpan<T> emb = Parameters.Read(_tgtEmbedding);
        var rowState = new RecurrentState<T>(L, n, K, lstm);
        int prevRows = state.Batch;
        for (int r = 0; r < n; r++)
        {
            Span<T> row = x.Slice(r * din, din);
            emb.Slice(tokens[r] * _e, _e).CopyTo(row);
            if (din > _e) sources.Features.AsSpan(owner[r] * F, F).CopyTo(row.Slice(_e));
            for (int l = 0; l < L; l++)
            {
                state.Hidden.AsSpan((l * prevRows + parents[r]) * K, K).CopyTo(rowState.Hidden.AsSpan((l * n + r) * K, K));
                if (lstm) state.Cell.AsSpan((l * prevRows + parents[r]) * K, K).CopyTo(rowState.Cell.AsSpan((l * n + r) * K, K));
            }
        }
        var ones = new int[n]; // every row advances one step
        Array.Fill(ones, 1);
        ReadOnlySpan<T> top = _decoder.Forward(1, n, ones, false, DropoutRng, rowState);
        _decoder.CopyFinalState(rowState);
        _decodeState = rowState;
        var z = new T[n * K];
        if (o.Attention == AttentionKind.None) top.Slice(0, n * K).CopyTo(z);
        else
        {
            bool additive = o.Attention == AttentionKind.Additive;
            int Ss = sources.Source!.Steps;
            ReadOnlySpan<T> queries = top;
            if (additive)
            {
                var q = new T[n * K];
                Gemm.Multiply(false, true, n, K, K, top, K, Parameters.Read(_queryW!), K, q, K, accumulate: false);
                queries = q;
            }
            var concat = new T[n * 2 * K];
            var alpha = new T[Ss];
            var tanh = additive ? new T[Ss * K] : Array.Empty<T>();
            for (int r = 0; r < n; r++)
            {
                int b = owner[r];
                Attend(queries.Slice(r * K, K), _memKeys, _memValues, b * K, B * K, sources.Source.Lengths[b], alpha, concat.AsSpan(r * 2 * K, K), tanh);
                top.Slice(r * K, K).CopyTo(concat.AsSpan(r * 2 * K + K, K));
            }
            Combine(concat, z, n);
        }
        var logits = new T[n * V];
        Gemm.Multiply(false, true, n, V, K, z, K, Parameters.Read(_headW), K, logits, V, accumulate: false);
        ReadOnlySpan<T> hb = Parameters.Read(_headB);
        for (int r = 0; r < n; r++)
        {
            Span<T> row = logits.AsSpan(r * V, V);
            TensorPrimitives.Add(row, hb, row);
            AddLogSoftmax(row, logp.AsSpan(r * V, V), weight);
        }
    }

    /// <summary>logp += weight · log softmax(z).</summary>
    private static void AddLogSoftmax(ReadOnlySpan<T> z, Span<double> logp, double weight)
    {
        double max = double.CreateChecked(TensorPrimitives.Max(z)), sum = 0;
        for (int i = 0; i < z.Length; i++) sum += System.Math.Exp(double.CreateChecked(z[i]) - max);
        double log = max + System.Math.Log(sum);
        for (int i = 0; i < z.Length; i++) logp[i] += weight * (double.CreateChecked(z[i]) - log);
    }

    /// <summary>The <paramref name="count"/> largest entries (or only end-of-sequence when <paramref name="endOnly"/>).</summary>
    private static List<int> TopIndices(ReadOnlySpan<double> logp, int count, bool endOnly)
    {
        var picked = new List<int>(count);
        if (endOnly) { picked.Add(EndOfSequence); return picked; }
        for (int i = 0; i < logp.Length; i++)
        {
            if (picked.Count < count) { picked.Add(i); continue; }
            int worst = 0;
            for (int j = 1; j < picked.Count; j++) if (logp[picked[j]] < logp[picked[worst]]) worst = j;
            if (logp[i] > logp[picked[worst]]) picked[worst] = i;
        }
        return picked;
    }
}
