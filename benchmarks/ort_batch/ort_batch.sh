#!/usr/bin/env bash
# ONNX Runtime's batched scoring of the protocol's latency configs (the peer of our protocol's --batch-size rows): the
# shared ONNX Runtime peer's exporter writes PyTorch's model (NAME-dyn.onnx, dynamic batch axis); OrtBatch times N
# sequences per call. Prints one JSON line per (config, intra-op threads).
# Usage: benchmarks/ort_batch/ort_batch.sh [--configs FILE] [--only NAME] [--batch-size 64] [--threads 1,2] [--seconds S]
# Needs: the .NET SDK and PyTorch for /usr/bin/python3. Writes under ${ORT_WORK:-/tmp/ort-batch}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
configs=$here/../../../shared/bench/rnn-configs.json; pass=()
while [ $# -gt 0 ]; do
  case "$1" in --configs) configs=$2; shift 2;; *) pass+=("$1"); shift;; esac
done
work=${ORT_WORK:-/tmp/ort-batch}; mkdir -p "$work/models"
/usr/bin/python3 "$here/../../../shared/bench/ort/export_onnx.py" --out "$work/models" "$configs" >/dev/null
dotnet build -c Release "$here/OrtBatch.csproj" -o "$work/bin" -v quiet -nologo >/dev/null
dotnet "$work/bin/OrtBatch.dll" --models "$work/models" "${pass[@]}"
