#!/usr/bin/env python3
"""PyTorch peer of samples/Translation: the architecture of PyTorch's tutorial "NLP From Scratch: Translation with a
Sequence to Sequence Network and Attention" (batched revision): a GRU encoder, a GRU decoder with Bahdanau (additive)
attention, hidden size 128, dropout 0.1, Adam lr 0.001, batch 32, NLL loss, teacher forcing on every step; greedy
decoding. Trained on the same train file for the same wall-clock budget, scored on the same test file with the same
BLEU-4 and exact match (the data set's evaluate.py functions), printing the same JSON last line.

    python3 benchmarks/translation/torch_peer.py [--train F] [--test F] [--minutes M] [--threads N] [--seed S]

Differences from the tutorial, all in the peer's favour: padding positions are ignored by the loss and masked out of the
attention (the tutorial pads with SOS and scores them), and the vocabulary covers the train file only (unseen test
words map to an unknown token). Same input rules as the sample: `source<TAB>target` with a header, tokens split on spaces.
"""
import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, SOS, EOS, UNK = 0, 1, 2, 3


def read_tsv(path):
    with open(path, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh]
    return [(r[0], r[1]) for r in rows[1:] if len(r) >= 2]


class Lang:
    def __init__(self, sentences):
        self.words = ["<pad>", "<sos>", "<eos>", "<unk>"]
        self.index = {w: i for i, w in enumerate(self.words)}
        for s in sentences:
            for w in s.split(" "):
                if w not in self.index:
                    self.index[w] = len(self.words)
                    self.words.append(w)

    def encode(self, s):
        return [self.index.get(w, UNK) for w in s.split(" ")] + [EOS]


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super().__init__()
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, x, lengths):
        embedded = self.dropout(self.embedding(x))
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, hidden = self.gru(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=x.size(1))
        return output, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys, mask):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = F.softmax(scores, dim=-1)
        return torch.bmm(weights, keys), weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1):
        super().__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)

    def step(self, inp, hidden, enc_out, mask):
        embedded = self.dropout(self.embedding(inp))
        context, _ = self.attention(hidden.permute(1, 0, 2), enc_out, mask)
        output, hidden = self.gru(torch.cat((embedded, context), dim=2), hidden)
        return self.out(output), hidden

    def forward(self, enc_out, enc_hidden, mask, target=None, max_len=None):
        batch = enc_out.size(0)
        inp = torch.full((batch, 1), SOS, dtype=torch.long)
        hidden = enc_hidden
        steps = target.size(1) if target is not None else max_len
        outputs = []
        for i in range(steps):
            out, hidden = self.step(inp, hidden, enc_out, mask)
            outputs.append(out)
            if target is not None:
                inp = target[:, i].unsqueeze(1)  # teacher forcing
            else:
                inp = out.argmax(-1).detach()
        return F.log_softmax(torch.cat(outputs, dim=1), dim=-1)


def pad(seqs):
    n = max(len(s) for s in seqs)
    t = torch.full((len(seqs), n), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        t[i, : len(s)] = torch.tensor(s)
    return t


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data", "eng-fra"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default=os.path.join(data, "train.tsv"))
    ap.add_argument("--test", default=os.path.join(data, "test.tsv"))
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--evaluate", default=os.path.join(data, "evaluate.py"), help="the data set's evaluate.py (for bleu)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    sys.path.insert(0, os.path.dirname(os.path.abspath(a.evaluate)))
    import evaluate  # noqa: E402  (the same BLEU-4 definition the sample implements)

    train, test = read_tsv(a.train), read_tsv(a.test)
    src_lang, tgt_lang = Lang(s for s, _ in train), Lang(t for _, t in train)
    pairs = [(src_lang.encode(s), tgt_lang.encode(t)) for s, t in train]
    max_len = max(len(t) for _, t in pairs)
    hidden = 128
    encoder, decoder = EncoderRNN(len(src_lang.words), hidden), AttnDecoderRNN(hidden, len(tgt_lang.words))
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=0.001)
    print(f"{len(train)} training pairs, {len(test)} test; vocabularies {len(src_lang.words)} / {len(tgt_lang.words)}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)

    budget = a.minutes * 60
    start = time.time()
    epoch = 0
    stop = False
    while not stop:
        epoch += 1
        random.shuffle(pairs)
        total, count = 0.0, 0
        encoder.train(); decoder.train()
        for i in range(0, len(pairs), 32):
            if time.time() - start > budget:
                stop = True
                break
            batch = pairs[i:i + 32]
            src = pad([s for s, _ in batch]); tgt = pad([t for _, t in batch])
            lengths = torch.tensor([len(s) for s, _ in batch])
            mask = src != PAD
            opt.zero_grad()
            enc_out, enc_hidden = encoder(src, lengths)
            logp = decoder(enc_out, enc_hidden, mask, target=tgt)
            loss = F.nll_loss(logp.reshape(-1, logp.size(-1)), tgt.reshape(-1), ignore_index=PAD)
            loss.backward()
            opt.step()
            total += loss.item(); count += 1
        print(f"epoch {epoch}: train loss {total / max(count, 1):.4f}, {time.time() - start:.0f}s", flush=True)
    train_seconds = time.time() - start

    encoder.eval(); decoder.eval()
    hyps = []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, len(test), 64):
            batch = test[i:i + 64]
            src = pad([src_lang.encode(s) for s, _ in batch])
            lengths = torch.tensor([len(src_lang.encode(s)) for s, _ in batch])
            enc_out, enc_hidden = encoder(src, lengths)
            out = decoder(enc_out, enc_hidden, src != PAD, max_len=max_len + 1).argmax(-1)
            for row in out.tolist():
                words = []
                for tok in row:
                    if tok == EOS:
                        break
                    words.append(tgt_lang.words[tok])
                hyps.append(" ".join(words))
    decode_seconds = time.time() - t0
    refs = [t for _, t in test]
    for (s, t), h in list(zip(test, hyps))[:12]:
        print(f"  {s}\n    = {t}\n    > {h}")
    bleu = evaluate.bleu(hyps, refs)
    exact = 100.0 * sum(h == r for h, r in zip(hyps, refs)) / len(refs)
    print(json.dumps({"bleu": round(bleu, 2), "exact_match": round(exact, 2), "train_seconds": round(train_seconds, 1),
                      "sentences_per_s": round(len(test) / decode_seconds, 1)}))


if __name__ == "__main__":
    main()
