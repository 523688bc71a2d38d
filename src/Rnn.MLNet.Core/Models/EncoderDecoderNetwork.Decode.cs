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
    private T[] _memKeys = Array.Empty<T>();
    private T[] _memValues = Array.Empty<T>();

    /// <summary>Decodes the target for one source token sequence (greedy when the beam width is 1).</summary>
    public DecodedSequence Decode(ReadOnlySpan<int> source, DecodingOptions? options = null)
    {
        if (Options.Source != SourceKind.Tokens) throw new InvalidOperationException("This network encodes feature vectors; call DecodeFeatures.");
        if (source.IsEmpty) throw new ArgumentException("The source sequence is empty; it needs at least one token.", nameof(source));
        var batch = EncoderDecoderBatch<T>.FromTokens(SequenceBatch<T>.FromTokens(source.ToArray(), 1, source.Length), OneStep(1));
        return DecodeCore(batch, options ?? new DecodingOptions());
    }

    /// <summary>Decodes the target for one feature vector (greedy when the beam width is 1).</summary>
    public DecodedSequence DecodeFeatures(ReadOnlySpan<T> features, DecodingOptions? options = null)
    {
        if (Options.Source != SourceKind.Features) throw new InvalidOperationException("This network encodes token sequences; call Decode.");
        var batch = EncoderDecoderBatch<T>.FromFeatures(features.ToArray(), OneStep(1));
        return DecodeCore(batch, options ?? new DecodingOptions());
    }

    private static SequenceBatch<T> OneStep(int batch) => SequenceBatch<T>.FromTokens(new int[batch], batch, 1);

    private sealed class Hypothesis
    {
        public required List<int> Tokens;
        public double LogProbability;
        public int StateRow; // row of the beam state holding this hypothesis' decoder state
    }

    private DecodedSequence DecodeCore(EncoderDecoderBatch<T> single, DecodingOptions options)
    {
        options.Validate();
        Validate(single);
        _batch = null; // the caches no longer match a training forward pass
        var o = Options;
        int W = options.BeamWidth, K = _k, V = _v, L = o.Layers, din = o.DecoderInputSize;
        var init = Encode(single, training: false, 1);

        // Encoder memory for attention: values [Ss, K], keys [Ss, K].
        int Ss = single.Source?.Steps ?? 0;
        if (o.Attention != AttentionKind.None)
        {
            Ensure(ref _memValues, Ss * K);
            _encoder!.Top.CopyTo(_memValues);
            Ensure(ref _memKeys, Ss * K);
            if (o.Attention == AttentionKind.General)
                Gemm.Multiply(false, true, Ss, K, K, _memValues, K, Parameters.Read(_attnW!), K, _memKeys, K, accumulate: false);
            else _memValues.AsSpan(0, Ss * K).CopyTo(_memKeys);
        }

        bool lstm = o.Cell.HasCellState();
        var state = new RecurrentState<T>(L, W, K, lstm);
        var next = new RecurrentState<T>(L, W, K, lstm);
        for (int l = 0; l < L; l++)
        {
            init.Hidden.AsSpan(l * K, K).CopyTo(state.Hidden.AsSpan(l * W * K, K));
            if (lstm) init.Cell.AsSpan(l * K, K).CopyTo(state.Cell.AsSpan(l * W * K, K));
        }
        var alive = new List<Hypothesis> { new() { Tokens = new List<int>(), StateRow = 0 } };
        var finished = new List<Hypothesis>();
        var ones = new int[W]; // every live hypothesis advances one step (the stack reads entries 0..n−1)
        Array.Fill(ones, 1);
        var logits = new T[W * V];
        var z = new T[W * K];
        var concat = new T[2 * K];
        var alpha = new T[System.Math.Max(1, Ss)];
        var logp = new double[V];
        var candidates = new List<(double Score, int Parent, int Token)>();

        for (int step = 0; step <= options.MaxLength && alive.Count > 0; step++)
        {
            int n = alive.Count;
            // One decoder step for every live hypothesis; row r of the batch holds hypothesis r.
            Span<T> x = _decoder.Input(1, n);
            ReadOnlySpan<T> emb = Parameters.Read(_tgtEmbedding);
            var rowState = new RecurrentState<T>(L, n, K, lstm);
            for (int r = 0; r < n; r++)
            {
                var hyp = alive[r];
                int token = hyp.Tokens.Count == 0 ? EndOfSequence : hyp.Tokens[^1];
                Span<T> row = x.Slice(r * din, din);
                emb.Slice(token * _e, _e).CopyTo(row);
                if (din > _e) single.Features.AsSpan(0, o.FeatureSize).CopyTo(row.Slice(_e));
                for (int l = 0; l < L; l++)
                {
                    state.Hidden.AsSpan((l * W + hyp.StateRow) * K, K).CopyTo(rowState.Hidden.AsSpan((l * n + r) * K, K));
                    if (lstm) state.Cell.AsSpan((l * W + hyp.StateRow) * K, K).CopyTo(rowState.Cell.AsSpan((l * n + r) * K, K));
                }
            }
            ReadOnlySpan<T> top = _decoder.Forward(1, n, ones, false, DropoutRng, rowState);
            _decoder.CopyFinalState(rowState);
            for (int r = 0; r < n; r++)
            {
                ReadOnlySpan<T> h = top.Slice(r * K, K);
                if (o.Attention == AttentionKind.None) h.CopyTo(z.AsSpan(r * K, K));
                else
                {
                    Attend(h, _memKeys, _memValues, 0, K, Ss, alpha, concat.AsSpan(0, K));
                    h.CopyTo(concat.AsSpan(K, K));
                    Combine(concat, z.AsSpan(r * K, K), 1);
                }
            }
            Gemm.Multiply(false, true, n, V, K, z, K, Parameters.Read(_headW), K, logits, V, accumulate: false);

            candidates.Clear();
            for (int r = 0; r < n; r++)
            {
                Span<T> row = logits.AsSpan(r * V, V);
                TensorPrimitives.Add(row, Parameters.Read(_headB), row);
                LogSoftmax(row, logp);
                bool mustEnd = step == options.MaxLength; // only end-of-sequence may follow the last allowed token
                foreach (int tok in TopIndices(logp, mustEnd ? 1 : W, mustEnd))
                    candidates.Add((alive[r].LogProbability + logp[tok], r, tok));
            }
            candidates.Sort((a, b) => b.Score.CompareTo(a.Score));
            var nextAlive = new List<Hypothesis>();
            foreach (var (score, parent, token) in candidates)
            {
                if (nextAlive.Count + finished.Count >= W) break;
                var tokens = new List<int>(alive[parent].Tokens);
                if (token == EndOfSequence) { finished.Add(new Hypothesis { Tokens = tokens, LogProbability = score }); continue; }
                tokens.Add(token);
                nextAlive.Add(new Hypothesis { Tokens = tokens, LogProbability = score, StateRow = parent });
            }
            // Move the chosen parents' new states into rows 0..n'−1.
            for (int r = 0; r < nextAlive.Count; r++)
            {
                int parent = nextAlive[r].StateRow;
                for (int l = 0; l < L; l++)
                {
                    rowState.Hidden.AsSpan((l * n + parent) * K, K).CopyTo(next.Hidden.AsSpan((l * W + r) * K, K));
                    if (lstm) rowState.Cell.AsSpan((l * n + parent) * K, K).CopyTo(next.Cell.AsSpan((l * W + r) * K, K));
                }
                nextAlive[r].StateRow = r;
            }
            (state, next) = (next, state);
            alive = nextAlive;
            if (finished.Count >= W) break;
        }

        Hypothesis? best = null;
        double bestScore = double.NegativeInfinity;
        bool bestFinished = false;
        foreach (var (list, done) in new[] { (finished, true), (alive, false) })
            foreach (var h in list)
            {
                double s = h.LogProbability / System.Math.Pow(h.Tokens.Count + 1, options.LengthPenalty);
                if (best is null || s > bestScore) { best = h; bestScore = s; bestFinished = done; }
            }
        return new DecodedSequence(best!.Tokens.ToArray(), best.LogProbability, bestFinished);
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
