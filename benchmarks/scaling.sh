#!/usr/bin/env bash
# Multi-threaded training against single-threaded: runs our protocol benchmark at 1 thread and at N threads alternately,
# config by config, for R rounds in one run, and prints each side's best throughput and their ratio.
# Usage: benchmarks/scaling.sh [--seconds S] [--only NAME] [--threads N] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5; only=""; threads=$(nproc); rounds=2
source benchmarks/protocol-args.sh
names=$(/usr/bin/python3 -c "import json; d=json.load(open('$configs')); print(' '.join(c['name'] for c in d['configs']))")
out=$(mktemp)
for round in $(seq "$rounds"); do
  for name in $names; do
    [ -n "$only" ] && [ "$name" != "$only" ] && continue
    for t in 1 "$threads"; do
      dotnet run -c Release --no-build --project benchmarks/Rnn.MLNet.Benchmarks -- protocol --configs "$configs" --only "$name" --seconds "$seconds" --threads "$t" >>"$out"
    done
  done
done
/usr/bin/python3 - "$out" "$threads" <<'PY'
import json, sys
n = int(sys.argv[2])
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
best = {}
for r in rows:
    if r["mode"] == "train":
        k = (r["name"], r["threads"])
        best[k] = max(best.get(k, 0), r["tokens_per_s"])
print(f"{'config':16} {'1 thread':>12} {f'{n} threads':>12} {'ratio':>7}")
for name in dict.fromkeys(k[0] for k in best):
    a, b = best.get((name, 1)), best.get((name, n))
    if a and b: print(f"{name:16} {a:>8.0f} t/s {b:>8.0f} t/s {b / a:>6.2f}x")
print("best of each side's rounds; ratio = N threads / 1 thread")
PY
rm -f "$out"
