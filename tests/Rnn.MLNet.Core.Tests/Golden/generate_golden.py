"""PyTorch golden files for Rnn.MLNet's recurrent stack (checked by tests/Rnn.MLNet.Core.Tests/GoldenTests.cs).

Rerun from the repository root with the interpreter that has PyTorch (1.13 was used):

    /usr/bin/python3 tests/Rnn.MLNet.Core.Tests/Golden/generate_golden.py

It (re)writes one JSON file per case beside this script, Golden/<case>.json. Seeds are fixed (torch.manual_seed per
case), so reruns give the same files.

Model of every case:

    rnn  = nn.RNN(nonlinearity='tanh'|'relu') / nn.LSTM / nn.GRU(input_size=I, hidden_size=H, num_layers=L,
                                                               bidirectional=bi, batch_first=True)
    head = nn.Linear(D*H, O) applied to the output of every step             (D = 2 if bi else 1)
    out, h_n[, c_n] = rnn(x, h0[, c0]);  y = head(out)
    loss = sum(y * R) + sum(h_n * Rh) [+ sum(c_n * Rc)]

Weights use PyTorch's default init; x, h0, c0, R, Rh, Rc are standard normal. Variable-length cases run
pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False) / pad_packed_sequence(total_length=S) and
follow Rnn.MLNet's padding semantics: y is stored as 0 at padding positions (PyTorch's head would give its bias there),
and R is stored with padding rows set to 0, so the loss (and every gradient) covers valid positions only. The gradient
of x at padding positions is 0.

The parameters and inputs are drawn in float32; the forward/backward pass is then evaluated in float64 on those exact
float32 values, so the stored results are the float32 rounding of the (near-)exact answer rather than one float32
evaluation order.

Each file holds (all tensors flat lists in row-major order, floats as the shortest text that parses back to the same
float32):
    case                 the case name (= file name without .json)
    config               cell ("RnnTanh" | "RnnRelu" | "Lstm" | "Gru", Rnn.MLNet's CellType names), I, H, L,
                         bidirectional, O, B, S, lengths (list of B ints; all S for fixed-length cases)
    shapes               shape of every stored tensor, keyed like the tensors below
    params               every parameter by Rnn.MLNet / PyTorch module name: rnn.weight_ih_l0, rnn.weight_hh_l0,
                         rnn.bias_ih_l0, rnn.bias_hh_l0, rnn.*_l0_reverse, ..., head.weight [O, D*H], head.bias [O]
    inputs               x [B,S,I], h0 [L*D,B,H], c0 [L*D,B,H] (LSTM only), R [B,S,O] (0 at padding), Rh [L*D,B,H],
                         Rc [L*D,B,H] (LSTM only)
    outputs              y [B,S,O] (0 at padding), h_n [L*D,B,H], c_n [L*D,B,H] (LSTM only), loss (scalar)
    grads                dL/d of every parameter (same keys as params), and x, h0, c0 (LSTM only)
"""

import json
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))

# name, cell, I, H, L, bidirectional, O, B, S, lengths (None = all S), seed
CASES = [
    ("rnn_tanh_l1", "RnnTanh", 4, 6, 1, False, 3, 3, 5, None, 101),
    ("rnn_relu_l1", "RnnRelu", 3, 5, 1, False, 2, 2, 6, None, 102),
    ("lstm_l1", "Lstm", 4, 6, 1, False, 3, 3, 5, None, 103),
    ("gru_l1", "Gru", 5, 3, 1, False, 2, 4, 4, None, 104),
    ("lstm_l2", "Lstm", 4, 5, 2, False, 3, 3, 5, None, 105),
    ("gru_l2_bi", "Gru", 4, 6, 2, True, 3, 3, 5, None, 106),
    ("rnn_tanh_l2_bi", "RnnTanh", 3, 4, 2, True, 2, 2, 4, None, 107),
    ("lstm_l2_bi_varlen", "Lstm", 4, 6, 2, True, 3, 3, 5, [5, 3, 1], 108),
    ("gru_l1_varlen", "Gru", 3, 5, 1, False, 2, 4, 6, [2, 6, 1, 4], 109),
    ("rnn_tanh_l1_varlen", "RnnTanh", 4, 6, 1, False, 3, 3, 5, [3, 5, 1], 110),
]


class Net(nn.Module):
    def __init__(self, cell, I, H, L, bi, O):
        super().__init__()
        kw = dict(input_size=I, hidden_size=H, num_layers=L, bidirectional=bi, batch_first=True)
        if cell == "RnnTanh":
            self.rnn = nn.RNN(nonlinearity="tanh", **kw)
        elif cell == "RnnRelu":
            self.rnn = nn.RNN(nonlinearity="relu", **kw)
        elif cell == "Lstm":
            self.rnn = nn.LSTM(**kw)
        elif cell == "Gru":
            self.rnn = nn.GRU(**kw)
        else:
            raise ValueError(cell)
        self.head = nn.Linear((2 if bi else 1) * H, O)


def f32_list(t):
    """Flat row-major list of Python floats whose shortest repr is the shortest text of the float32 value."""
    a = t.detach().to(torch.float32).contiguous().view(-1).numpy()
    return [float(str(np.float32(v))) for v in a]


def make_case(name, cell, I, H, L, bi, O, B, S, lengths, seed):
    torch.manual_seed(seed)
    D = 2 if bi else 1
    lstm = cell == "Lstm"
    net = Net(cell, I, H, L, bi, O)  # float32 default init
    x = torch.randn(B, S, I)
    h0 = torch.randn(L * D, B, H)
    c0 = torch.randn(L * D, B, H) if lstm else None
    R = torch.randn(B, S, O)
    Rh = torch.randn(L * D, B, H)
    Rc = torch.randn(L * D, B, H) if lstm else None
    lens = lengths if lengths is not None else [S] * B
    mask = (torch.arange(S)[None, :] < torch.tensor(lens)[:, None]).to(torch.float32)  # [B, S]
    R = R * mask[:, :, None]

    # Evaluate in float64 on the float32 values.
    net = net.double()
    x = x.double().requires_grad_(True)
    h0 = h0.double().requires_grad_(True)
    if lstm:
        c0 = c0.double().requires_grad_(True)
    state = (h0, c0) if lstm else h0

    if lengths is None:
        out, hn = net.rnn(x, state)
    else:
        packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        pout, hn = net.rnn(packed, state)
        out, _ = nn.utils.rnn.pad_packed_sequence(pout, batch_first=True, total_length=S)
    if lstm:
        hn, cn = hn
    y = net.head(out) * mask.double()[:, :, None]  # 0 at padding, as Rnn.MLNet

    loss = (y * R.double()).sum() + (hn * Rh.double()).sum()
    if lstm:
        loss = loss + (cn * Rc.double()).sum()
    net.zero_grad()
    loss.backward()

    params = {n: f32_list(p) for n, p in net.named_parameters()}
    shapes = {n: list(p.shape) for n, p in net.named_parameters()}
    grads = {n: f32_list(p.grad) for n, p in net.named_parameters()}
    inputs = {"x": f32_list(x), "h0": f32_list(h0), "R": f32_list(R), "Rh": f32_list(Rh)}
    outputs = {"y": f32_list(y), "h_n": f32_list(hn), "loss": float(loss.item())}
    grads["x"] = f32_list(x.grad)
    grads["h0"] = f32_list(h0.grad)
    shapes.update({"x": [B, S, I], "h0": [L * D, B, H], "R": [B, S, O], "Rh": [L * D, B, H],
                   "y": [B, S, O], "h_n": [L * D, B, H]})
    if lstm:
        inputs["c0"] = f32_list(c0)
        inputs["Rc"] = f32_list(Rc)
        outputs["c_n"] = f32_list(cn)
        grads["c0"] = f32_list(c0.grad)
        shapes.update({"c0": [L * D, B, H], "Rc": [L * D, B, H], "c_n": [L * D, B, H]})

    return {
        "case": name,
        "config": {"cell": cell, "I": I, "H": H, "L": L, "bidirectional": bi, "O": O, "B": B, "S": S,
                   "lengths": lens},
        "shapes": shapes,
        "params": params,
        "inputs": inputs,
        "outputs": outputs,
        "grads": grads,
    }


def main():
    torch.set_num_threads(1)
    total = 0
    for case in CASES:
        data = make_case(*case)
        path = os.path.join(HERE, case[0] + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            f.write("\n")
        size = os.path.getsize(path)
        total += size
        print(f"{case[0]}.json  {size} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
