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
    public DecodedSequence[] DecodeBatch(IReadOnlyList<int[]> sources, DecodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (Options.Source != SourceKind.Tokens) throw new InvalidOperationException("This network encodes feature vectors; call DecodeFeatures.");
        if (sources.Count == 0) return Array.Empty<DecodedSequence>();
        for (int i = 0; i < sources.Count; i++)
            if (sources[i] is null || sources[i].Length == 0) throw new ArgumentException($"Source {i} is empty; every source needs at least one token.", nameof(sources));
        var batch = EncoderDecoderBatch<T>.FromTokens(SequenceBatch<T>.FromTokenSequences(sources is int[][] a ? a : new List<int[]>(sources).ToArray()), OneStep(sources.Count));
        return DecodeCore(batch, options ?? new DecodingOptions());
    }

    /// <summary>Decodes the target for one feature vector (greedy when the beam width is 1).</summary>
    public DecodedSequence DecodeFeatures(ReadOnlySpan<T> features, DecodingOptions? options = null)
    {
        if (Options.Source != SourceKind.Features) throw new InvalidOperationException("This network encodes token sequences; call Decode.");
        var batch = EncoderDecoderBatch<T>.FromFeatures(features.ToArray(), OneStep(1));
        return DecodeCore(batch, options ?? new DecodingOptions())[0];
    }

    private static SequenceBatch<T> OneStep(int batch) => SequenceBatch<T>.FromTokens(new int[batch], batch, 1);

    private sealed class Hypothesis
    {
        public required List<int> Tokens;
        public double LogProbability;
        public int StateRow; // row of the step batch holding this hypothesis' decoder state
    }

    // Shape key (decoding): B = sources, W = beam width, n = live hypotheses over all sources (≤ B·W), rows of the step batch.
    private DecodedSequence[] DecodeCore(EncoderDecoderBatch<T> sources, DecodingOptions options)
    {
        options.Validate();
        Validate(sources);
        _batch = null; // the caches no longer match a training forward pass
        var o = Options;
        int B = sources.Batch, W = options.BeamWidth, K = _k, V = _v, L = o.Layers, din = o.DecoderInputSize, F = o.FeatureSize;
        var init = Encode(sources, training: false, B); // [L, B, K]

        // Encoder memory for attention, time-major [Ss, B, K]: values = encoder outputs, keys = values · W_aᵀ / W_kᵀ or the values.
        int Ss = sources.Source?.Steps ?? 0;
        bool attention = o.Attention != AttentionKind.None, additive = o.Attention == AttentionKind.Additive;
        if (attention)
        {
            Ensure(ref _memValues, Ss * B * K);
            _encoder!.Top.CopyTo(_memValues);
            Ensure(ref _memKeys, Ss * B * K);
            if (_attnW is not null)
                Gemm.Multiply(false, true, Ss * B, K, K, _memValues, K, Parameters.Read(_attnW), K, _memKeys, K, accumulate: false);
            else _memValues.AsSpan(0, Ss * B * K).CopyTo(_memKeys);
        }

        bool lstm = o.Cell.HasCellState();
        // state rows: the live hypotheses of all sources, source by source; row r of a state [L, n, K] at (l·n + r)·K
        var alive = new List<Hypothesis>[B];
        var finished = new List<Hypothesis>[B];
        var owner = new List<int>(); // source of each state row
        var state = new RecurrentState<T>(L, B, K, lstm);
        init.Hidden.CopyTo(state.Hidden, 0);
        if (lstm) init.Cell.CopyTo(state.Cell, 0);
        for (int b = 0; b < B; b++)
        {
            alive[b] = new List<Hypothesis> { new() { Tokens = new List<int>(), StateRow = b } };
            finished[b] = new List<Hypothesis>();
        }
        var logp = new double[V];
        var candidates = new List<(double Score, int Parent, int Token)>();
        var srcLengths = sources.Source?.Lengths;

        for (int step = 0; step <= options.MaxLength; step++)
        {
            owner.Clear();
            var rows = new List<Hypothesis>();
            for (int b = 0; b < B; b++)
                foreach (var h in alive[b]) { rows.Add(h); owner.Add(b); }
            int n = rows.Count;
            if (n == 0) break;
            // One decoder step for every live hypothesis of every source; row r of the batch holds rows[r].
            Span<T> x = _decoder.Input(1, n);
            ReadOnlySpan<T> emb = Parameters.Read(_tgtEmbedding);
            var rowState = new RecurrentState<T>(L, n, K, lstm);
            int prevRows = state.Batch;
            for (int r = 0; r < n; r++)
            {
                var hyp = rows[r];
                int token = hyp.Tokens.Count == 0 ? EndOfSequence : hyp.Tokens[^1];
                Span<T> row = x.Slice(r * din, din);
                emb.Slice(token * _e, _e).CopyTo(row);
                if (din > _e) sources.Features.AsSpan(owner[r] * F, F).CopyTo(row.Slice(_e));
                for (int l = 0; l < L; l++)
                {
                    state.Hidden.AsSpan((l * prevRows + hyp.StateRow) * K, K).CopyTo(rowState.Hidden.AsSpan((l * n + r) * K, K));
                    if (lstm) state.Cell.AsSpan((l * prevRows + hyp.StateRow) * K, K).CopyTo(rowState.Cell.AsSpan((l * n + r) * K, K));
                }
            }
            var ones = new int[n]; // every live hypothesis advances one step
            Array.Fill(ones, 1);
            ReadOnlySpan<T> top = _decoder.Forward(1, n, ones, false, DropoutRng, rowState);
            _decoder.CopyFinalState(rowState);
            var z = new T[n * K];
            if (!attention) top.Slice(0, n * K).CopyTo(z);
            else
            {
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
                    Attend(queries.Slice(r * K, K), _memKeys, _memValues, b * K, B * K, srcLengths![b], alpha, concat.AsSpan(r * 2 * K, K), tanh);
                    top.Slice(r * K, K).CopyTo(concat.AsSpan(r * 2 * K + K, K));
                }
                Combine(concat, z, n);
            }
            var logits = new T[n * V];
            Gemm.Multiply(false, true, n, V, K, z, K, Parameters.Read(_headW), K, logits, V, accumulate: false);

            bool mustEnd = step == options.MaxLength; // only end-of-sequence may follow the last allowed token
            int r0 = 0;
            for (int b = 0; b < B; b++)
            {
                int count = alive[b].Count;
                candidates.Clear();
                for (int r = r0; r < r0 + count; r++)
                {
                    Span<T> row = logits.AsSpan(r * V, V);
                    TensorPrimitives.Add(row, Parameters.Read(_headB), row);
                    LogSoftmax(row, logp);
                    foreach (int tok in TopIndices(logp, mustEnd ? 1 : W, mustEnd))
                        candidates.Add((rows[r].LogProbability + logp[tok], r, tok));
                }
                candidates.Sort((p, q) => q.Score.CompareTo(p.Score));
                var nextAlive = new List<Hypothesis>();
                foreach (var (score, parent, token) in candidates)
                {
                    if (nextAlive.Count + finished[b].Count >= W) break;
                    var tokens = new List<int>(rows[parent].Tokens);
                    if (token == EndOfSequence) { finished[b].Add(new Hypothesis { Tokens = tokens, LogProbability = score }); continue; }
                    tokens.Add(token);
                    nextAlive.Add(new Hypothesis { Tokens = tokens, LogProbability = score, StateRow = parent }); // row of rowState
                }
                alive[b] = finished[b].Count >= W ? new List<Hypothesis>() : nextAlive;
                r0 += count;
            }
            // the next step gathers from this step's states
            state = rowState;
        }

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

    private static void LogSoftmax(ReadOnlySpan<T> z, double[] logp)
    {
        double max = double.CreateChecked(TensorPrimitives.Max(z)), sum = 0;
        for (int i = 0; i < z.Length; i++) sum += System.Math.Exp(double.CreateChecked(z[i]) - max);
        double log = max + System.Math.Log(sum);
        for (int i = 0; i < z.Length; i++) logp[i] = double.CreateChecked(z[i]) - log;
    }

    /// <summary>The <paramref name="count"/> largest entries (or only end-of-sequence when <paramref name="endOnly"/>).</summary>
    private static IEnumerable<int> TopIndices(double[] logp, int count, bool endOnly)
    {
        if (endOnly) { yield return EndOfSequence; yield break; }
        var picked = new List<int>(count);
        for (int i = 0; i < logp.Length; i++)
        {
            if (picked.Count < count) { picked.Add(i); continue; }
            int worst = 0;
            for (int j = 1; j < picked.Count; j++) if (logp[picked[j]] < logp[picked[worst]]) worst = j;
            if (logp[i] > logp[picked[worst]]) picked[worst] = i;
        }
        foreach (int i in picked) yield return i;
    }
}
