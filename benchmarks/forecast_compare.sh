#!/usr/bin/env bash
# One run, one table: our forecasting sample(s) and the classical peers (benchmarks/forecast_peers.py) on the same data
# and cut, with the same metrics.
#   bash benchmarks/forecast_compare.sh [--m4-train F --m4-test F] [--csv F --horizon H [--period P]]
# Defaults: the shared M4 Hourly files (samples/M4Forecast, h = 48, period 24: sMAPE, MASE, OWA) and the airline CSV
# (samples/TimeSeriesForecast, h = 24: RMSE, MAE, sMAPE, MASE). Pass only --csv … to skip M4, only --m4-* to skip the CSV.
# The peers run beside the sample (both niced; their warnings are dropped); each tool's last line is its JSON, which the
# table is built from. SARIMA runs for a single series only.
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data
m4_train="" m4_test="" csv="" horizon="" period=""
while [ $# -gt 0 ]; do
  case "$1" in
    --m4-train) m4_train=$2; shift 2 ;;
    --m4-test) m4_test=$2; shift 2 ;;
    --csv) csv=$2; shift 2 ;;
    --horizon) horizon=$2; shift 2 ;;
    --period) period=$2; shift 2 ;;
    *) echo "unknown argument '$1' (expected --m4-train/--m4-test/--csv/--horizon/--period)" >&2; exit 2 ;;
  esac
done
if [ -z "$m4_train$m4_test$csv" ]; then
  m4_train=$data/m4-hourly/Hourly-train.csv m4_test=$data/m4-hourly/Hourly-test.csv
  csv=$data/airline-passengers/airline-passengers.csv
fi
if [ -n "$m4_train$m4_test" ] && { [ -z "$m4_train" ] || [ -z "$m4_test" ]; }; then echo "--m4-train and --m4-test go together" >&2; exit 2; fi
for f in $m4_train $m4_test $csv; do [ -f "$f" ] || { echo "'$f' does not exist" >&2; exit 2; }; done
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT

# run_side_by_side TAG SAMPLE: forecast_peers.py with peer_args in the background, samples/SAMPLE with sample_args beside
# it (both niced); their outputs land in $out/TAG-peers.txt and $out/TAG-ours.txt.
run_side_by_side() {
  local tag=$1 sample=$2 peers
  echo "\$ dotnet run -c Release --project samples/$sample -- ${sample_args[*]}"
  nice -n 10 /usr/bin/python3 benchmarks/forecast_peers.py "${peer_args[@]}" > "$out/$tag-peers.txt" 2> "$out/$tag-peers.err" &
  peers=$!
  nice -n 10 dotnet run -c Release --project "samples/$sample" -- "${sample_args[@]}" > "$out/$tag-ours.txt"
  wait $peers || { cat "$out"/*-peers.err >&2; exit 1; }
}
echo "load before: $(uptime)"

if [ -n "$csv" ]; then
  h=${horizon:-24}
  sample_args=(--csv "$csv" --horizon "$h"); peer_args=(--csv "$csv" --horizon "$h")
  if [ -n "$period" ]; then sample_args+=(--period "$period"); peer_args+=(--period "$period"); fi
  echo "== $csv, h = $h"
  run_side_by_side csv TimeSeriesForecast
  /usr/bin/python3 - "$out/csv-ours.txt" "$out/csv-peers.txt" <<'PY'
import json, sys
ours = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
peers = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
rows = [("RNN (ours)", ours)] + [(n, peers[k]) for k, n in [("naive", "naive"), ("seasonal_naive", "seasonal naive"), ("naive2", "Naive2"),
        ("hw_damped", "HW damped"), ("theta", "Theta"), ("sarima", "SARIMA")]]
print(f"period {peers['period']}; RNN interval coverage {ours['coverage']}; peers {peers['seconds']} s")
print("| method | RMSE | MAE | sMAPE | MASE |\n|---|---:|---:|---:|---:|")
for name, r in rows:
    print(f"| {name} | {r['rmse']:.2f} | {r['mae']:.2f} | {r['smape']:.3f} | {r['mase']:.3f} |" if r else f"| {name} | – | – | – | – |")
PY
fi

if [ -n "$m4_train" ]; then
  sample_args=(--train "$m4_train" --test "$m4_test"); peer_args=(--m4-train "$m4_train" --m4-test "$m4_test" --period "${period:-24}" --horizon "48")
  echo "== M4: $m4_train / $m4_test"
  run_side_by_side m4 M4Forecast
  /usr/bin/python3 - "$out/m4-ours.txt" "$out/m4-peers.txt" <<'PY'
import json, sys
ours = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
peers = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
print(f"RNN trained in {ours['train_seconds']} s; peers {peers['seconds']} s; Naive2 check: ours {ours['naive2_smape']}/{ours['naive2_mase']}, peers {peers['naive2']['smape']}/{peers['naive2']['mase']}")
rows = [("RNN (ours)", ours)] + [(n, peers.get(k)) for k, n in [("naive", "naive"), ("seasonal_naive", "seasonal naive"), ("naive2", "Naive2"),
        ("hw_damped", "HW damped"), ("theta", "Theta"), ("sarima", "SARIMA")]]
print("| method | sMAPE | MASE | OWA |\n|---|---:|---:|---:|")
for name, r in rows:
    print(f"| {name} | {r['smape']:.3f} | {r['mase']:.3f} | {r['owa']:.3f} |" if r else f"| {name} | not run for M4 by forecast_peers.py | | |")
PY
fi
echo "load after: $(uptime)"
