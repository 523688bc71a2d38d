namespace Rnn.MLNet.Cells;

/// <summary>The recurrent cell of a layer. Equations follow PyTorch's nn.RNN, nn.LSTM and nn.GRU exactly.</summary>
public enum CellType
{
    /// <summary>Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh).</summary>
    RnnTanh,

    /// <summary>Elman RNN with ReLU: h' = max(0, W_ih x + b_ih + W_hh h + b_hh).</summary>
    RnnRelu,

    /// <summary>LSTM, gate order i, f, g, o: c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').</summary>
    Lstm,

    /// <summary>GRU, gate order r, z, n: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.</summary>
    Gru,
}

/// <summary>Facts about each <see cref="CellType"/>.</summary>
public static class CellTypeExtensions
{
    /// <summary>Number of gate blocks stacked in the weight matrices (G in the shape key: W_ih is [G·H, I]).</summary>
    public static int GateCount(this CellType cell) => cell switch
    {
        CellType.Lstm => 4,
        CellType.Gru => 3,
        _ => 1,
    };

    /// <summary>True for the LSTM, which carries a cell state c beside h.</summary>
    public static bool HasCellState(this CellType cell) => cell == CellType.Lstm;
}
