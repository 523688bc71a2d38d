#!/usr/bin/env bash
# Our packed GEMM against OpenBLAS sgemm (through PyTorch) at the protocol's shapes, on 1 and 2 threads, in one run:
# ours and the peer alternate per thread count, then a table of GFLOP/s and ratios is printed.
#   bash benchmarks/compare_gemm.sh [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=1
[[ "${1:-}" == "--seconds" ]] && seconds="$2"
out=$(mktemp)
dotnet build -c Release benchmarks/Rnn.MLNet.Benchmarks -v q -nologo >/dev/null
for t in 1 2; do
  dotnet run -c Release --no-build --project benchmarks/Rnn.MLNet.Benchmarks -- gemm --threads "$t" --seconds "$seconds" >>"$out"
  /usr/bin/python3 benchmarks/gemm_peer.py --threads "$t" --seconds "$seconds" >>"$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
key = lambda r: (r["m"], r["n"], r["k"], r["layout"], r["threads"])
ours = {key(r): r["gflops"] for r in rows if r["impl"] == "rnn-mlnet"}
peer = {key(r): r["gflops"] for r in rows if r["impl"] == "torch"}
print(f"{'M×N×K':>18} {'layout':>6} {'thr':>3} {'ours GF/s':>10} {'OpenBLAS':>9} {'ratio':>6}")
ratios = {1: [], 2: []}
for k in sorted(ours):
    if k in peer:
        r = ours[k] / peer[k]
        ratios[k[4]].append(r)
        print(f"{k[0]:>6}×{k[1]:>5}×{k[2]:>4} {k[3]:>6} {k[4]:>3} {ours[k]:>10.1f} {peer[k]:>9.1f} {r:>6.2f}")
for t, rs in ratios.items():
    if rs: print(f"threads {t}: worst ratio {min(rs):.2f}, median {sorted(rs)[len(rs)//2]:.2f} over {len(rs)} shapes/layouts")
PY
