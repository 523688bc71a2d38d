using System;
using System.Collections.Generic;
using System.Numerics;
using System.Numerics.Tensors;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Models;

// Shape key: B = batch, S = steps, N = valid tokens of the batch, C = characters per token (padded), Vc = character
// vocabulary, Ec = character embedding, Hc = hidden size per direction. The character layer runs time-major over
// characters: row (c, n) of its [C, N, X] buffers is character c of token n.

/// <summary>
/// Character-level word features: each token's characters → character embedding [Vc, Ec] → one bidirectional recurrent
/// layer → [forward state after the last character; reverse state after the first] (width 2·Hc). All tokens of a batch
/// run as one batch of N character sequences. The features go into columns [offset, offset + 2·Hc) of the token's
/// input row; <see cref="Backward"/> reads their gradient from the same columns.
/// </summary>
internal sealed class CharacterWordEncoder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ParameterStore<T> _store;
    private readonly Parameter _embedding; // [Vc, Ec]
    private readonly RecurrentStack<T> _rnn;
    private readonly int _e, _h;
    private readonly bool _hasCell;
    private readonly Rng _unusedDropout = new(1); // one layer: no dropout between layers

    private SequenceBatch<T>? _batch;
    private int _n, _chunk;                        // tokens of the last batch, and per pass of the layer
    private int[] _rows = Array.Empty<int>();     // [N] row (t·B + b) of token n in the network's input
    private int[] _source = Array.Empty<int>();   // [N] index b·S + t of token n in the batch's character arrays
    private int[] _lengths = Array.Empty<int>();  // [chunk] characters of each token of the pass
    private int[] _charIds = Array.Empty<int>();  // [C·chunk] character at (c, k), −1 at padding
    private RecurrentState<T>? _final, _dFinal;   // [2, chunk, Hc]

    /// <summary>
    /// Most values one [C, tokens, 4·Hc] buffer of the character layer may hold (4 MB of floats): a batch with more tokens
    /// runs them in passes of at most that many, and backward runs each pass's forward again (the layer keeps one pass's
    /// caches). Without it a batch of 32 of the longest sentences (~5,000 tokens of up to 20 characters, 4 × 64 gates)
    /// needed ~100 MB per buffer and ~1 GB in all (PosTagging peaked at 1.38 GB). Forward outputs do not depend on the
    /// passes; the weight gradients are summed pass by pass (the same sum in another order).
    /// </summary>
    internal int ChunkValues { get; set; } = 1 << 20;

    public CharacterWordEncoder(NetworkOptions o, ParameterStore<T> store)
    {
        _store = store;
        _e = o.CharacterEmbeddingSize; _h = o.CharacterHiddenSize;
        _hasCell = o.Cell.HasCellState();
        _embedding = store["char_embedding.weight"];
        _rnn = new RecurrentStack<T>(o.Cell, _e, _h, 1, bidirectional: true, 0, store, "char_rnn.");
    }

    /// <summary>Width of one token's features, 2·Hc.</summary>
    public int OutputSize => 2 * _h;

    /// <summary>Parameter names and shapes: char_embedding.weight, char_rnn.weight_ih_l0, …, char_rnn.bias_hh_l0_reverse.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Layout(NetworkOptions o)
    {
        yield return ("char_embedding.weight", new[] { o.CharacterVocabularySize, o.CharacterEmbeddingSize });
        foreach (var p in RecurrentStack<T>.Layout(o.Cell, o.CharacterEmbeddingSize, o.CharacterHiddenSize, 1, true, "char_rnn."))
            yield return p;
    }

    /// <summary>
    /// Computes the features of every valid token of <paramref name="batch"/> into <paramref name="x0"/> [S, B, width] at
    /// columns [offset, offset + 2·Hc).
    /// </summary>
    public void Forward(SequenceBatch<T> batch, Span<T> x0, int width, int offset, bool training)
    {
        int B = batch.Batch, S = batch.Steps, C = batch.MaxCharacters;
        _batch = batch;
        int N = 0;
        for (int b = 0; b < B; b++) N += batch.Lengths[b];
        _n = N;
        RecurrentLayer<T>.Ensure(ref _rows, N);
        RecurrentLayer<T>.Ensure(ref _source, N);
        int n = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < batch.Lengths[b]; t++, n++)
            {
                _rows[n] = t * B + b;
                _source[n] = b * S + t;
            }
        _chunk = (int)System.Math.Clamp(ChunkValues / ((long)C * 4 * _h), 1, System.Math.Max(1, N)); // 4: the most gates (LSTM)
        for (int first = 0; first < N; first += _chunk)
        {
            int m = System.Math.Min(_chunk, N - first);
            RunPass(first, m, training);
            // Features = [h_fwd after the last character; h_rev after the first] = the two final states.
            if (_final is null || _final.Batch != m) _final = new RecurrentState<T>(2, m, _h, _hasCell);
            _rnn.CopyFinalState(_final);
            for (int k = 0; k < m; k++)
            {
                Span<T> dst = x0.Slice(_rows[first + k] * width + offset, 2 * _h);
                _final.Hidden.AsSpan(k * _h, _h).CopyTo(dst);
                _final.Hidden.AsSpan((m + k) * _h, _h).CopyTo(dst.Slice(_h));
            }
        }
    }

    /// <summary>The character layer's forward pass over tokens [first, first + m) of the last batch.</summary>
    private void RunPass(int first, int m, bool training)
    {
        var batch = _batch!;
        int C = batch.MaxCharacters;
        int[] chars = batch.Characters!, charLengths = batch.CharacterLengths!;
        RecurrentLayer<T>.Ensure(ref _charIds, C * m);
        if (_lengths.Length != m) _lengths = new int[m]; // the stack keeps the array: exact size
        for (int k = 0; k < m; k++) _lengths[k] = charLengths[_source[first + k]];

        // Character embeddings → input [C, m, Ec] (padding rows zero), with the id of each row for the inference cache.
        Span<T> input = _rnn.Input(C, m);
        ReadOnlySpan<T> table = _store.Read(_embedding);
        Span<int> ids = _charIds.AsSpan(0, C * m);
        ids.Fill(-1);
        for (int k = 0; k < m; k++)
            for (int c = 0; c < _lengths[k]; c++)
            {
                int id = chars[_source[first + k] * C + c];
                ids[c * m + k] = id;
                table.Slice(id * _e, _e).CopyTo(input.Slice((c * m + k) * _e, _e));
            }
        _rnn.Forward(C, m, _lengths, training, _unusedDropout, null, training ? default : ids);
    }

    /// <summary>Backward of the last <see cref="Forward"/>: reads dL/d(features) from <paramref name="dx0"/> [S, B, width] at the same columns.</summary>
    public void Backward(ReadOnlySpan<T> dx0, int width, int offset)
    {
        if (_batch is null) throw new InvalidOperationException("Run Forward before Backward.");
        int N = _n;
        if (N == 0) return;
        int last = (N - 1) / _chunk * _chunk;
        for (int first = last; first >= 0; first -= _chunk) // the last pass first: the layer still holds its caches
        {
            int m = System.Math.Min(_chunk, N - first);
            if (first != last) RunPass(first, m, training: true); // no dropout inside the layer: the same forward again
            if (_dFinal is null || _dFinal.Batch != m) _dFinal = new RecurrentState<T>(2, m, _h, _hasCell);
            Array.Clear(_dFinal.Cell);
            for (int k = 0; k < m; k++)
            {
                ReadOnlySpan<T> src = dx0.Slice(_rows[first + k] * width + offset, 2 * _h);
                src.Slice(0, _h).CopyTo(_dFinal.Hidden.AsSpan(k * _h, _h));
                src.Slice(_h, _h).CopyTo(_dFinal.Hidden.AsSpan((m + k) * _h, _h));
            }
            _rnn.TopGradient(); // the per-character outputs are not used: their gradient is zero
            ReadOnlySpan<T> dInput = _rnn.Backward(_dFinal, null, needInputGradient: true); // [C, m, Ec]
            Span<T> dTable = _store.Gradient(_embedding);
            for (int k = 0; k < m; k++)
                for (int c = 0; c < _lengths[k]; c++)
                {
                    Span<T> row = dTable.Slice(_charIds[c * m + k] * _e, _e);
                    TensorPrimitives.Add(row, dInput.Slice((c * m + k) * _e, _e), row);
                }
        }
    }
}
