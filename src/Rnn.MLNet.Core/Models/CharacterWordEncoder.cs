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
    private int _n;
    private int[] _rows = Array.Empty<int>();     // [N] row (t·B + b) of token n in the network's input
    private int[] _lengths = Array.Empty<int>();  // [N] characters of token n
    private int[] _charIds = Array.Empty<int>();  // [C·N] character at (c, n), −1 at padding
    private RecurrentState<T>? _final, _dFinal;   // [2, N, Hc]

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
        int[] chars = batch.Characters!, charLengths = batch.CharacterLengths!;
        _batch = batch;
        int N = 0;
        for (int b = 0; b < B; b++) N += batch.Lengths[b];
        _n = N;
        RecurrentLayer<T>.Ensure(ref _rows, N);
        RecurrentLayer<T>.Ensure(ref _charIds, C * N);
        if (_lengths.Length != N) _lengths = new int[N]; // the stack keeps the array: exact size
        int n = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < batch.Lengths[b]; t++, n++)
            {
                _rows[n] = t * B + b;
                _lengths[n] = charLengths[b * S + t];
            }

        // Character embeddings → input [C, N, Ec] (padding rows zero), with the id of each row for the inference cache.
        Span<T> input = _rnn.Input(C, N);
        ReadOnlySpan<T> table = _store.Read(_embedding);
        Span<int> ids = _charIds.AsSpan(0, C * N);
        ids.Fill(-1);
        n = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < batch.Lengths[b]; t++, n++)
                for (int c = 0; c < _lengths[n]; c++)
                {
                    int id = chars[(b * S + t) * C + c];
                    ids[c * N + n] = id;
                    table.Slice(id * _e, _e).CopyTo(input.Slice((c * N + n) * _e, _e));
                }
        _rnn.Forward(C, N, _lengths, training, _unusedDropout, null, training ? default : ids);

        // Features = [h_fwd after the last character; h_rev after the first] = the two final states.
        if (_final is null || _final.Batch != N) _final = new RecurrentState<T>(2, N, _h, _hasCell);
        _rnn.CopyFinalState(_final);
        for (n = 0; n < N; n++)
        {
            Span<T> dst = x0.Slice(_rows[n] * width + offset, 2 * _h);
            _final.Hidden.AsSpan(n * _h, _h).CopyTo(dst);
            _final.Hidden.AsSpan((N + n) * _h, _h).CopyTo(dst.Slice(_h));
        }
    }

    /// <summary>Backward of the last <see cref="Forward"/>: reads dL/d(features) from <paramref name="dx0"/> [S, B, width] at the same columns.</summary>
    public void Backward(ReadOnlySpan<T> dx0, int width, int offset)
    {
        if (_batch is null) throw new InvalidOperationException("Run Forward before Backward.");
        int N = _n;
        if (_dFinal is null || _dFinal.Batch != N) _dFinal = new RecurrentState<T>(2, N, _h, _hasCell);
        Array.Clear(_dFinal.Cell);
        for (int n = 0; n < N; n++)
        {
            ReadOnlySpan<T> src = dx0.Slice(_rows[n] * width + offset, 2 * _h);
            src.Slice(0, _h).CopyTo(_dFinal.Hidden.AsSpan(n * _h, _h));
            src.Slice(_h, _h).CopyTo(_dFinal.Hidden.AsSpan((N + n) * _h, _h));
        }
        _rnn.TopGradient(); // the per-character outputs are not used: their gradient is zero
        ReadOnlySpan<T> dInput = _rnn.Backward(_dFinal, null, needInputGradient: true); // [C, N, Ec]
        Span<T> dTable = _store.Gradient(_embedding);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < _lengths[n]; c++)
            {
                Span<T> row = dTable.Slice(_charIds[c * N + n] * _e, _e);
                TensorPrimitives.Add(row, dInput.Slice((c * N + n) * _e, _e), row);
            }
    }
}
