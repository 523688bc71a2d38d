#!/usr/bin/env bash
# Runs our protocol benchmark and the PyTorch peer (../shared/bench/best_peer.sh: PyTorch at its fastest thread setting)
# alternately, config by config, in one run on this machine, and prints the ratios.
# Usage: benchmarks/compare.sh [--seconds S] [--only NAME] [--threads N] [--rounds R]
# Needs: the .NET SDK, and PyTorch for /usr/bin/python3 (apt-get install python3-torch libopenblas0-pthread).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10; only=""; threads=$(nproc); rounds=1
source benchmarks/protocol-args.sh
names=$(/usr/bin/python3 -c "import json,sys; d=json.load(open('$configs')); print(' '.join(c['name'] for c in d['configs']+d.get('latency',[])))")
out=$(mktemp)
for round in $(seq "$rounds"); do
  for name in $names; do
    [ -n "$only" ] && [ "$name" != "$only" ] && continue
    dotnet run -c Release --no-build --project benchmarks/Rnn.MLNet.Benchmarks -- protocol --configs "$configs" --only "$name" --seconds "$seconds" --threads "$threads" >>"$out"
    bash ../shared/bench/best_peer.sh --only "$name" --seconds "$seconds" >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
ours = {}; peer = {}
for r in rows:
    d = ours if r["impl"].startswith("rnn-mlnet") else peer
    d.setdefault((r["name"], r["mode"]), []).append(r)
def best(rs, key, hi):
    vals = [r[key] for r in rs if key in r]
    return (max(vals) if hi else min(vals)) if vals else None
print(f"{'config':16} {'mode':8} {'ours':>14} {'pytorch':>14} {'ratio':>8} {'ours RSS':>9} {'torch RSS':>9}")
for key in ours:
    name, mode = key
    if mode == "train":
        a, b = best(ours[key], "tokens_per_s", True), best(peer.get(key, []), "tokens_per_s", True)
        unit = "tok/s"; ratio = a / b if a and b else float("nan")
    else:
        a, b = best(ours[key], "us_per_seq", False), best(peer.get(key, []), "us_per_seq", False)
        unit = "us"; ratio = b / a if a and b else float("nan")
    ra = max(r["peak_rss_mb"] for r in ours[key]); rb = max((r["peak_rss_mb"] for r in peer.get(key, [])), default=float("nan"))
    print(f"{name:16} {mode:8} {a:>10.1f} {unit:3} {b if b else float('nan'):>10.1f} {unit:3} {ratio:>7.2f}x {ra:>8.0f}M {rb:>8.0f}M")
    if mode == "latency":
        pe = best(ours[key], "prediction_engine_us_per_seq", False)
        pr = max((r.get("prediction_engine_peak_rss_mb", 0) for r in ours[key]), default=0)
        if pe and b: print(f"{name:16} {'PredEng':8} {pe:>10.1f} us  {b:>10.1f} us  {b / pe:>7.2f}x {pr:>8.0f}M")
print("ratio: ours / PyTorch for throughput, PyTorch / ours for latency (higher is better for us)")
PY
rm -f "$out"
