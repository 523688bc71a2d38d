#!/usr/bin/env bash
# ONNX Runtime scoring our exported lstm-classify-1 graph against ONNX Runtime scoring PyTorch's export of the same model,
# alternating in one run. PyTorch's files come from ../shared/bench/ort/export_onnx.py (the ONNX Runtime peer's exporter:
# the exact model torch_peer.py times); ours is exported from the network imported from PyTorch's file (same weights).
# Usage: bash benchmarks/onnx_latency.sh [--seconds S] [--rounds R] [--threads N] [--only NAME]
# Needs: the .NET SDK and PyTorch for /usr/bin/python3 (apt-get install python3-torch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${ONNX_BENCH_WORK:-/tmp/rnn-mlnet-onnx-bench}; mkdir -p "$work"
/usr/bin/python3 "$here/../../shared/bench/ort/export_onnx.py" --out "$work" "$here/../../shared/bench/rnn-configs.json" >/dev/null
dotnet run -c Release --project "$here/Rnn.MLNet.Benchmarks" -- onnx-latency --models "$work" "$@"
