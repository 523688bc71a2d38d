using System;
using System.Numerics;

namespace Rnn.MLNet.Cells;

// Shape key: H = hidden size, G = gate count (1 RNN, 4 LSTM, 3 GRU), GH = G·H.
// A cell is the point-wise part of one time step for one batch row, one fused pass over the hidden units (exp, σ and tanh
// from Math/Activations, whose vector and scalar forms give the same bits). RecurrentLayer does the rest: the matrix products
// (ax = W_ih x + b_ih for all steps at once, the W_hh h product of each step), time order, padding, threads and the
// weight gradients. Each cell kind is one file holding its Forward and Backward side by side (ElmanCell, LstmCell, GruCell).

/// <summary>
/// What one cell kind does at one step for one batch row, and the few facts about it the layer needs. Forward goes from
/// pre-activations to the new state; Backward from dL/dh' to dL/d(pre-activations).
/// </summary>
internal abstract class Cell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The cell's kind.</summary>
    public abstract CellType Type { get; }

    /// <summary>
    /// True for the GRU: ah = W_hh h + b_hh is kept apart from ax = W_ih x + b_ih (r multiplies ah's n block alone), so b_hh
    /// is not folded into ax, each step's product writes its own row, and dL/d(ah) differs from dL/d(ax). The other cells
    /// take the summed pre-activations a = ax + ah in <see cref="CellForwardRow{T}.Gates"/>.
    /// </summary>
    public virtual bool KeepsHiddenProjectionApart => false;

    /// <summary>True when Forward keeps one [H] row per step for Backward in <see cref="CellForwardRow{T}.Aux"/>.</summary>
    public virtual bool CachesAux => false;

    /// <summary>One step of one row (see <see cref="CellForwardRow{T}"/> for what is read and written).</summary>
    public abstract void Forward(in CellForwardRow<T> row);

    /// <summary>The gradient of <see cref="Forward"/> for one row (see <see cref="CellBackwardRow{T}"/>).</summary>
    public abstract void Backward(in CellBackwardRow<T> row);

    /// <summary>The cell of a given kind.</summary>
    public static Cell<T> For(CellType type) => type switch
    {
        CellType.RnnTanh => new ElmanCell<T>(relu: false),
        CellType.RnnRelu => new ElmanCell<T>(relu: true),
        CellType.Lstm => new LstmCell<T>(),
        CellType.Gru => new GruCell<T>(),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown cell type."),
    };
}

/// <summary>One batch row at one step, as a cell's forward pass sees it (a cell leaves the buffers it does not use alone).</summary>
internal ref struct CellForwardRow<T>
{
    /// <summary>[GH] W_ih x + b_ih (RNN and LSTM: + b_hh, which the GRU keeps in <see cref="Ah"/>).</summary>
    public ReadOnlySpan<T> Ax;
    /// <summary>[GH] W_hh h + b_hh (GRU).</summary>
    public ReadOnlySpan<T> Ah;
    /// <summary>[H] the state before the step.</summary>
    public ReadOnlySpan<T> H;
    /// <summary>[H] the cell state before the step (LSTM).</summary>
    public ReadOnlySpan<T> C;
    /// <summary>
    /// [GH] in (RNN, LSTM): W_hh h, the pre-activations being a = <see cref="Ax"/> + this; out: the activated gates, cached
    /// for backward (LSTM, GRU).
    /// </summary>
    public Span<T> Gates;
    /// <summary>[H] a value cached for backward: LSTM tanh(c'), GRU ah_n.</summary>
    public Span<T> Aux;
    /// <summary>[H] the new cell state (LSTM).</summary>
    public Span<T> CNext;
    /// <summary>[H] the new state.</summary>
    public Span<T> HNext;
}

/// <summary>One batch row at one step, as a cell's backward pass sees it: the forward caches and the incoming gradients.</summary>
internal ref struct CellBackwardRow<T>
{
    /// <summary>[GH] the gates cached by forward.</summary>
    public ReadOnlySpan<T> Gates;
    /// <summary>[H] forward's <see cref="CellForwardRow{T}.Aux"/>.</summary>
    public ReadOnlySpan<T> Aux;
    /// <summary>[H] the state before the step.</summary>
    public ReadOnlySpan<T> H;
    /// <summary>[H] the cell state before the step (LSTM).</summary>
    public ReadOnlySpan<T> C;
    /// <summary>[H] the state after the step.</summary>
    public ReadOnlySpan<T> HNext;
    /// <summary>[H] dL/dh' (the output's gradient included).</summary>
    public ReadOnlySpan<T> Dh;
    /// <summary>[H] LSTM: dL/dc' on entry, dL/dc on return.</summary>
    public Span<T> Dc;
    /// <summary>[GH] out: dL/d(input pre-activations), dL/d(ax) (for RNN and LSTM also dL/d(ah)).</summary>
    public Span<T> Dax;
    /// <summary>[GH] out (GRU): dL/d(ah).</summary>
    public Span<T> Dah;
    /// <summary>[H] out: the part of dL/dh that bypasses W_hh (GRU z ⊙ dh'; zero for the others).</summary>
    public Span<T> DhDirect;
}
