#!/usr/bin/env python3
"""Writes the PyTorch-exported ONNX fixtures of OnnxImportTests: small nn.Embedding -> nn.LSTM / nn.GRU / nn.RNN
(2 layers, bidirectional, batch_first) -> nn.Linear models, exported with torch.onnx.export (opset 17, dynamic batch and
sequence axes), each beside a JSON file with the token ids it was run on and PyTorch's outputs for them.

  tagger-CELL.onnx      the head reads every step's output:            logits [B, S, O]
  classifier-CELL.onnx  the head reads the final states h_n of the top layer, both directions:  logits [B, O]
  lastout-lstm.onnx     unidirectional, the head reads out[:, -1, :] (what ../../../../shared/bench's torch_peer.py does)

Run (Debian's PyTorch 1.13):  /usr/bin/python3 make_fixtures.py   (from this folder; rewrites the files in place)
"""
import json, os
import torch
import torch.nn as nn

VOCAB, EMBED, HIDDEN, OUT, BATCH, STEPS = 17, 6, 5, 4, 3, 7
CELLS = {"lstm": lambda **k: nn.LSTM(**k), "gru": lambda **k: nn.GRU(**k),
         "rnn_tanh": lambda **k: nn.RNN(nonlinearity="tanh", **k), "rnn_relu": lambda **k: nn.RNN(nonlinearity="relu", **k)}


class Net(nn.Module):
    def __init__(self, cell, head, layers=2, bidirectional=True):
        super().__init__()
        self.head_kind = head
        self.emb = nn.Embedding(VOCAB, EMBED)
        self.rnn = CELLS[cell](input_size=EMBED, hidden_size=HIDDEN, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        d = 2 if bidirectional else 1
        self.head = nn.Linear(d * HIDDEN, OUT)

    def forward(self, ids):
        out, state = self.rnn(self.emb(ids))
        if self.head_kind == "tagger":
            return self.head(out)
        if self.head_kind == "lastout":
            return self.head(out[:, -1, :])
        h_n = state[0] if isinstance(state, tuple) else state  # [L*D, B, H]
        return self.head(torch.cat([h_n[-2], h_n[-1]], dim=1))


def write(name, model):
    model.eval()
    ids = torch.randint(0, VOCAB, (BATCH, STEPS))
    with torch.no_grad():
        y = model(ids)
    torch.onnx.export(model, (ids,), name + ".onnx", input_names=["ids"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}, do_constant_folding=True)
    json.dump({"ids": ids.tolist(), "logits": y.reshape(-1).tolist(), "shape": list(y.shape), "torch_version": torch.__version__},
              open(name + ".json", "w"))
    print(name, os.path.getsize(name + ".onnx"), "bytes")


def main():
    torch.manual_seed(0)
    for cell in CELLS:
        write(f"tagger-{cell}", Net(cell, "tagger"))
        write(f"classifier-{cell}", Net(cell, "classifier"))
    write("lastout-lstm", Net("lstm", "lastout", layers=2, bidirectional=False))


if __name__ == "__main__":
    main()
