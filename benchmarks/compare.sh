#!/usr/bin/env bash
# Runs our protocol benchmark, the PyTorch peer (../shared/bench/best_peer.sh: PyTorch at its fastest thread setting) and,
# for the latency configs, the ONNX Runtime peer (../shared/bench/ort/ort_peer.sh, 1 and 2 intra-op threads: the model
# the PyTorch peer times, exported by torch.onnx.export) alternately, config by config, in one run on this machine, and
# prints the ratios. Training rows: ours on 1 thread and on N threads. Latency rows: ours, our PredictionEngine, ONNX
# Runtime at its best thread count, PyTorch. With --batch-size N (default 64; 0 = off): a batched-scoring row per
# latency config, ours (best of 1 and N threads, as ONNX Runtime's is the best of 1 and 2) against ONNX Runtime batched
# (benchmarks/ort_batch). --fresh-sequences: our latency rows score a
# new random sequence per call (ONNX Runtime and PyTorch have no per-token cache; theirs do not depend on the ids).
# --reduced-precision: also our rows with the opt-in reduced precisions, as rows of their own: latency with bfloat16
# W_hh and with int8 weights (protocol --precision bf16|int8), batches with int8 weights.
# Usage: benchmarks/compare.sh [--configs FILE] [--seconds S] [--only NAME] [--threads N] [--rounds R] [--fresh-sequences] [--batch-size N] [--reduced-precision]
# Needs: the .NET SDK, and PyTorch for /usr/bin/python3 (apt-get install python3-torch libopenblas0-pthread).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10; only=""; threads=$(nproc); rounds=1; fresh=0; batch_size=64; reduced=0
source benchmarks/protocol-args.sh
train_names=$(/usr/bin/python3 -c "import json; d=json.load(open('$configs')); print(' '.join(c['name'] for c in d.get('configs', [])))")
latency_names=$(/usr/bin/python3 -c "import json; d=json.load(open('$configs')); print(' '.join(c['name'] for c in d.get('latency', [])))")
ours() { dotnet run -c Release --no-build --project benchmarks/Rnn.MLNet.Benchmarks -- protocol --configs "$configs" "$@"; }
fresh_flag=(); [ "$fresh" = 1 ] && fresh_flag=(--fresh-sequences)
out=$(mktemp)
for round in $(seq "$rounds"); do
  for name in $train_names; do
    [ -n "$only" ] && [ "$name" != "$only" ] && continue
    ours --only "$name" --seconds "$seconds" --threads 1 >>"$out"
    [ "$threads" != 1 ] && ours --only "$name" --seconds "$seconds" --threads "$threads" >>"$out"
    bash ../shared/bench/best_peer.sh --configs "$configs" --only "$name" --seconds "$seconds" >>"$out"
  done
  for name in $latency_names; do
    [ -n "$only" ] && [ "$name" != "$only" ] && continue
    ours --only "$name" --seconds "$seconds" --threads 1 --mode latency "${fresh_flag[@]}" >>"$out"
    if [ "$reduced" = 1 ]; then
      for p in bf16 int8; do ours --only "$name" --seconds "$seconds" --threads 1 --mode latency --precision "$p" "${fresh_flag[@]}" >>"$out"; done
    fi
    bash ../shared/bench/ort/ort_peer.sh --configs "$configs" --only "$name" --seconds "$seconds" --threads 1,2 >>"$out"
    if [ "$batch_size" -gt 0 ]; then
      for t in $(printf '%s\n' 1 "$threads" | sort -u); do
        ours --only "$name" --seconds "$seconds" --threads "$t" --batch-size "$batch_size" --mode batch >>"$out"
        [ "$reduced" = 1 ] && ours --only "$name" --seconds "$seconds" --threads "$t" --batch-size "$batch_size" --mode batch --precision int8 >>"$out"
      done
      bash benchmarks/ort_batch/ort_batch.sh --configs "$configs" --only "$name" --seconds "$seconds" --threads 1,2 --batch-size "$batch_size" >>"$out"
    fi
    bash ../shared/bench/best_peer.sh --configs "$configs" --only "$name" --seconds "$seconds" >>"$out"
  done
done
/usr/bin/python3 benchmarks/compare_table.py "$out" "$threads"
rm -f "$out"
