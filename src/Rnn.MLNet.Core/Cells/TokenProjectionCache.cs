using System;
using System.Numerics;
using System.Runtime.InteropServices;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Cells;

/// <summary>
/// Inference cache of the first layer's input projection per token: ax = x · W_ihᵀ + b_ih (+ b_hh) depends on the input
/// row x alone, and when the network's input is a token (an embedding row or a one-hot vector) x is a function of the
/// token. A single-sequence forward pass then copies each token's projection instead of multiplying it again.
/// </summary>
/// <remarks>
/// Exact, never stale: all entries are dropped when the weights' <see cref="Models.ParameterStore{T}.Version"/> moves (W_ih,
/// the biases or the embedding may have changed) or the product's arithmetic does (<see cref="InferencePrecision"/>: int8
/// results are never served to a float product, nor the reverse), and an entry also keeps the input row it was computed from and is used
/// only when the current row equals it bit for bit (a row costs I of the entry's I + GH values).
/// When most rows of a call miss (a batch of new tokens), all its rows go through one product instead (gathering the
/// misses and scattering their results cost more than the hits save). A miss is computed by the same kernel as the uncached product (every element is the same multiply–add chain in the same
/// order whatever the number of rows), so results are bit-identical with and without the cache. Entries are added until
/// the cache holds <see cref="InferenceCache.TokenProjectionBytes"/>; past that, misses are computed and not kept.
/// </remarks>
internal sealed class TokenProjectionCache<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int _inputSize, _gateSize;
    private int[] _slotOfKey = Array.Empty<int>(); // key → slot + 1 (0: none)
    private T[][] _pages = Array.Empty<T[]>();    // by slot: [input row (I) | projection (GH)], EntriesPerPage slots a page
    private int _count;
    private long _version = -1;                   // the weights' version the entries were computed at
    private InferencePrecision _precision;        // and the arithmetic they were computed in
    private T[] _missX = Array.Empty<T>(), _missOut = Array.Empty<T>();
    private int[] _missRows = Array.Empty<int>();
    private (int Row, int Slot)[] _hitRows = Array.Empty<(int, int)>();

    public TokenProjectionCache(int inputSize, int gateSize)
    {
        _inputSize = inputSize; _gateSize = gateSize;
    }

    private int EntrySize => _inputSize + _gateSize;

    /// <summary>
    /// Entries are kept in pages of about 64 KB allocated as the cache fills, so the cache's memory is what it holds: no
    /// doubled array to copy into and no discarded arrays left for the collector (growing one array to 4 MiB left ~4 MiB
    /// of large-object garbage in a serving process).
    /// </summary>
    private int EntriesPerPage => System.Math.Max(1, (64 << 10) / (EntrySize * Marshal.SizeOf<T>()));

    private Span<T> Entry(int slot)
    {
        int perPage = EntriesPerPage, E = EntrySize;
        return _pages[slot / perPage].AsSpan(slot % perPage * E, E);
    }

    /// <summary>Entries kept, for tests.</summary>
    internal int Count => _count;

    /// <summary>Drops every entry.</summary>
    public void Clear()
    {
        Array.Clear(_slotOfKey);
        _count = 0;
    }

    /// <summary>
    /// Writes ax [rows, GH] for input rows <paramref name="x"/> [rows, I] whose tokens are <paramref name="keys"/> (−1: not
    /// a token; computed, not kept). <paramref name="projection"/> computes the rows that miss (its
    /// <see cref="InputProjection{T}.ProjectRows"/>); <paramref name="version"/> is the weights' version and
    /// <paramref name="precision"/> the arithmetic of that product (a new one of either drops every entry).
    /// </summary>
    public void Project(ReadOnlySpan<int> keys, ReadOnlySpan<T> x, int rows, InputProjection<T> projection, Span<T> ax, long version, InferencePrecision precision)
    {
        int I = _inputSize, GH = _gateSize, E = EntrySize;
        if (version != _version || precision != _precision)
        {
            Clear();
            _version = version;
            _precision = precision;
        }

        int misses = 0, hits = 0;
        RecurrentLayer<T>.Ensure(ref _missRows, rows);
        RecurrentLayer<T>.Ensure(ref _hitRows, rows);
        for (int r = 0; r < rows; r++)
        {
            int key = keys[r];
            ReadOnlySpan<T> xr = x.Slice(r * I, I);
            int slot = key >= 0 && key < _slotOfKey.Length ? _slotOfKey[key] - 1 : -1;
            if (slot >= 0 && Same(xr, Entry(slot).Slice(0, I))) _hitRows[hits++] = (r, slot);
            else _missRows[misses++] = r;
        }

        // Mostly misses (many rows of new tokens, e.g. a batch): one product over all the rows straight into ax costs less
        // than gathering the misses and scattering their results; the hits' rows come out the same (same kernel).
        bool whole = misses > rows / 2;
        if (!whole)
            for (int i = 0; i < hits; i++)
                Entry(_hitRows[i].Slot).Slice(I, GH).CopyTo(ax.Slice(_hitRows[i].Row * GH, GH));
        if (misses == 0) return;

        // the misses in one product (or all rows), then the biases, as the uncached path does
        Span<T> results;
        if (whole)
        {
            projection.ProjectRows(x, rows, ax);
            results = ax;
        }
        else
        {
            RecurrentLayer<T>.Ensure(ref _missX, misses * I);
            RecurrentLayer<T>.Ensure(ref _missOut, misses * GH);
            for (int i = 0; i < misses; i++) x.Slice(_missRows[i] * I, I).CopyTo(_missX.AsSpan(i * I, I));
            projection.ProjectRows(_missX, misses, _missOut);
            results = _missOut;
        }
        long maxEntries = InferenceCache.TokenProjectionBytes / ((long)E * Marshal.SizeOf<T>());
        for (int i = 0; i < misses; i++)
        {
            int r = _missRows[i], key = keys[r];
            Span<T> row = results.Slice((whole ? r : i) * GH, GH);
            if (!whole) row.CopyTo(ax.Slice(r * GH, GH));
            if (key < 0) continue;
            if (key >= _slotOfKey.Length) Grow(ref _slotOfKey, key + 1, Array.MaxLength);
            int slot = _slotOfKey[key] - 1; // a slot this key already has (its row changed, or it came twice in this call)
            if (slot < 0)
            {
                if (_count >= maxEntries) continue;
                slot = _count++;
                int perPage = EntriesPerPage, page = slot / perPage;
                if (page >= _pages.Length) Grow(ref _pages, page + 1, (maxEntries + perPage - 1) / perPage);
                // a page holds at most what the budget allows (the last one may hold fewer; a larger budget later regrows it)
                _pages[page] ??= Array.Empty<T>();
                if (_pages[page].Length < (slot % perPage + 1) * E)
                {
                    int capacity = (int)System.Math.Min(perPage, maxEntries - (long)page * perPage) * E;
                    Grow(ref _pages[page], capacity, capacity); // exactly that capacity, in one allocation
                }
                _slotOfKey[key] = slot + 1;
            }
            Span<T> entry = Entry(slot);
            x.Slice(r * I, I).CopyTo(entry.Slice(0, I));
            row.CopyTo(entry.Slice(I, GH));
        }
    }

    private static bool Same(ReadOnlySpan<T> a, ReadOnlySpan<T> b) => MemoryMarshal.AsBytes(a).SequenceEqual(MemoryMarshal.AsBytes(b));

    /// <summary>Grows <paramref name="buffer"/> to at least <paramref name="needed"/> items: doubling, but never past <paramref name="limit"/> (the budget) when it suffices.</summary>
    private static void Grow<TItem>(ref TItem[] buffer, int needed, long limit)
    {
        var grown = new TItem[(int)System.Math.Min(System.Math.Max(needed, System.Math.Min(limit, Array.MaxLength)), System.Math.Max((long)needed, 2L * buffer.Length))];
        buffer.CopyTo(grown, 0);
        buffer = grown;
    }
}
