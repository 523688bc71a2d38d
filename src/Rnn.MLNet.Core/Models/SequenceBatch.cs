using System;
using System.Collections.Generic;
using System.Numerics;

namespace Rnn.MLNet.Models;

/// <summary>
/// A batch of B sequences padded to S steps, batch-first: token (b, t) at <c>Tokens[b·S + t]</c>, feature j of step
/// (b, t) at <c>Features[(b·S + t)·F + j]</c>. Positions t ≥ <c>Lengths[b]</c> are padding and never change a result.
/// </summary>
/// <typeparam name="T">Element type of dense features.</typeparam>
public sealed class SequenceBatch<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of sequences B.</summary>
    public int Batch { get; }

    /// <summary>Padded length S.</summary>
    public int Steps { get; }

    /// <summary>Valid length of each sequence, 1..S.</summary>
    public int[] Lengths { get; }

    /// <summary>Token ids [B, S] (for embedding or one-hot input), or null.</summary>
    public int[]? Tokens { get; }

    /// <summary>Dense features [B, S, F], or null.</summary>
    public T[]? Features { get; }

    /// <summary>Character ids of every token [B, S, C] (networks with character features), or null.</summary>
    public int[]? Characters { get; private init; }

    /// <summary>Number of characters of every token [B, S], 1..C at valid steps (with <see cref="Characters"/>).</summary>
    public int[]? CharacterLengths { get; private init; }

    /// <summary>Characters stored per token, C.</summary>
    public int MaxCharacters { get; private init; }

    private SequenceBatch(int batch, int steps, int[]? lengths, int[]? tokens, T[]? features)
    {
        if (batch < 1) throw new ArgumentException($"A batch needs at least one sequence; got {batch}.", nameof(batch));
        if (steps < 1) throw new ArgumentException($"Sequences need at least one step; got {steps} (empty sequences cannot be processed).", nameof(steps));
        lengths ??= Full(batch, steps);
        if (lengths.Length != batch) throw new ArgumentException($"Lengths has {lengths.Length} entries; expected one per sequence ({batch}).", nameof(lengths));
        for (int b = 0; b < batch; b++)
            if (lengths[b] < 1 || lengths[b] > steps)
                throw new ArgumentException($"Sequence {b} has length {lengths[b]}; expected 1..{steps} (empty sequences cannot be processed).", nameof(lengths));
        Batch = batch; Steps = steps; Lengths = lengths; Tokens = tokens; Features = features;
    }

    private static int[] Full(int batch, int steps)
    {
        var l = new int[batch];
        Array.Fill(l, steps);
        return l;
    }

    /// <summary>A batch of token-id sequences [B, S] (batch-first).</summary>
    public static SequenceBatch<T> FromTokens(int[] tokens, int batch, int steps, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Length != (long)batch * steps) throw new ArgumentException($"Tokens has {tokens.Length} ids; expected batch × steps = {batch} × {steps}.", nameof(tokens));
        return new SequenceBatch<T>(batch, steps, lengths, tokens, null);
    }

    /// <summary>
    /// A batch of token-id sequences [B, S] with the characters of every token: <paramref name="characters"/> [B, S, C]
    /// (C = <paramref name="maxCharacters"/>), the first <paramref name="characterLengths"/>[b·S + t] of each token's C slots used.
    /// </summary>
    public static SequenceBatch<T> FromTokensAndCharacters(int[] tokens, int batch, int steps, int[]? lengths, int[] characters, int[] characterLengths, int maxCharacters)
    {
        ArgumentNullException.ThrowIfNull(characters);
        ArgumentNullException.ThrowIfNull(characterLengths);
        var b = FromTokens(tokens, batch, steps, lengths);
        if (maxCharacters < 1) throw new ArgumentException($"maxCharacters must be at least 1; got {maxCharacters}.", nameof(maxCharacters));
        if (characters.Length != (long)batch * steps * maxCharacters)
            throw new ArgumentException($"Characters has {characters.Length} ids; expected batch × steps × characters = {batch} × {steps} × {maxCharacters}.", nameof(characters));
        if (characterLengths.Length != batch * steps) throw new ArgumentException($"CharacterLengths has {characterLengths.Length} entries; expected batch × steps = {batch * steps}.", nameof(characterLengths));
        for (int i = 0; i < batch; i++)
            for (int t = 0; t < b.Lengths[i]; t++)
                if (characterLengths[i * steps + t] < 1 || characterLengths[i * steps + t] > maxCharacters)
                    throw new ArgumentException($"Token {t} of sequence {i} has {characterLengths[i * steps + t]} characters; expected 1..{maxCharacters}.", nameof(characterLengths));
        return new SequenceBatch<T>(batch, steps, b.Lengths, tokens, null) { Characters = characters, CharacterLengths = characterLengths, MaxCharacters = maxCharacters };
    }

    /// <summary>A batch of feature sequences [B, S, F] (batch-first).</summary>
    public static SequenceBatch<T> FromFeatures(T[] features, int batch, int steps, int featureSize, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (featureSize < 1 || features.Length != (long)batch * steps * featureSize)
            throw new ArgumentException($"Features has {features.Length} values; expected batch × steps × features = {batch} × {steps} × {featureSize}.", nameof(features));
        return new SequenceBatch<T>(batch, steps, lengths, null, features);
    }

    /// <summary>A batch of variable-length token sequences, padded to the longest.</summary>
    public static SequenceBatch<T> FromTokenSequences(params int[][] sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (sequences.Length == 0) throw new ArgumentException("At least one sequence is needed.", nameof(sequences));
        int steps = 0;
        var lengths = new int[sequences.Length];
        for (int b = 0; b < sequences.Length; b++)
        {
            if (sequences[b] is null || sequences[b].Length == 0) throw new ArgumentException($"Sequence {b} is empty; every sequence needs at least one token.", nameof(sequences));
            lengths[b] = sequences[b].Length;
            steps = System.Math.Max(steps, lengths[b]);
        }
        var tokens = new int[sequences.Length * steps];
        for (int b = 0; b < sequences.Length; b++) sequences[b].CopyTo(tokens, b * steps);
        return new SequenceBatch<T>(sequences.Length, steps, lengths, tokens, null);
    }

    /// <summary>True where (b, t) is a real step, not padding.</summary>
    public bool IsValid(int b, int t) => t < Lengths[b];

    /// <summary>One sparse bag of features per sequence, for a network with <see cref="NetworkOptions.WideFeatures"/>; or null.</summary>
    public SparseRows<T>? Bag { get; private set; }

    /// <summary>Attaches one bag of features per sequence (the wide input) and returns this batch.</summary>
    public SequenceBatch<T> WithBag(SparseRows<T> bag)
    {
        ArgumentNullException.ThrowIfNull(bag);
        if (bag.Rows != Batch) throw new ArgumentException($"The bag has {bag.Rows} rows; the batch has {Batch} sequences.", nameof(bag));
        Bag = bag;
        return this;
    }
}

/// <summary>
/// Sparse rows in compressed form: row r holds the pairs (Ids[k], Values[k]) for k in [Offsets[r], Offsets[r + 1]).
/// </summary>
public sealed class SparseRows<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Row starts [rows + 1], non-decreasing, from 0 to Ids.Length.</summary>
    public int[] Offsets { get; }

    /// <summary>Feature ids.</summary>
    public int[] Ids { get; }

    /// <summary>Feature values, one per id.</summary>
    public T[] Values { get; }

    /// <summary>Number of rows.</summary>
    public int Rows => Offsets.Length - 1;

    /// <summary>Creates the rows, checking the layout (ids are checked against a width where they are used).</summary>
    public SparseRows(int[] offsets, int[] ids, T[] values)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(values);
        if (offsets.Length < 1 || offsets[0] != 0 || offsets[^1] != ids.Length)
            throw new ArgumentException($"Offsets must start at 0 and end at the number of ids ({ids.Length}).", nameof(offsets));
        for (int r = 0; r + 1 < offsets.Length; r++)
            if (offsets[r + 1] < offsets[r]) throw new ArgumentException($"Offsets decrease at row {r}.", nameof(offsets));
        if (values.Length != ids.Length) throw new ArgumentException($"There are {ids.Length} ids and {values.Length} values; expected one value per id.", nameof(values));
        Offsets = offsets; Ids = ids; Values = values;
    }

    /// <summary>Rows built from one (ids, values) pair per row.</summary>
    public static SparseRows<T> FromRows(IReadOnlyList<(int[] Ids, T[] Values)> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var offsets = new int[rows.Count + 1];
        for (int r = 0; r < rows.Count; r++) offsets[r + 1] = offsets[r] + rows[r].Ids.Length;
        var ids = new int[offsets[^1]];
        var values = new T[offsets[^1]];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Values.Length != rows[r].Ids.Length) throw new ArgumentException($"Row {r} has {rows[r].Ids.Length} ids and {rows[r].Values.Length} values.", nameof(rows));
            rows[r].Ids.CopyTo(ids, offsets[r]);
            rows[r].Values.CopyTo(values, offsets[r]);
        }
        return new SparseRows<T>(offsets, ids, values);
    }
}

/// <summary>
/// Hidden (and LSTM cell) state of every layer and direction, PyTorch's h_n / c_n layout [L·D, B, H].
/// Used as initial state, final state, and the carried state of truncated BPTT and streaming.
/// </summary>
public sealed class RecurrentState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>h [L·D, B, H].</summary>
    public T[] Hidden { get; }

    /// <summary>c [L·D, B, H] (LSTM), else empty.</summary>
    public T[] Cell { get; }

    /// <summary>Batch size B.</summary>
    public int Batch { get; }

    /// <summary>Creates a zero state.</summary>
    public RecurrentState(int layersTimesDirections, int batch, int hidden, bool hasCell)
    {
        Batch = batch;
        Hidden = new T[layersTimesDirections * batch * hidden];
        Cell = hasCell ? new T[Hidden.Length] : Array.Empty<T>();
    }

    /// <summary>Sets the state back to zero.</summary>
    public void Reset()
    {
        Array.Clear(Hidden);
        Array.Clear(Cell);
    }

    /// <summary>Copies another state of the same shape into this one.</summary>
    public void CopyFrom(RecurrentState<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Hidden.Length != Hidden.Length || other.Cell.Length != Cell.Length) throw new ArgumentException("States differ in shape.", nameof(other));
        other.Hidden.CopyTo(Hidden, 0);
        other.Cell.CopyTo(Cell, 0);
    }
}
