# Sourced by compare.sh and scaling.sh (after they set their defaults for seconds, only, threads and rounds): parses
# [--seconds S] [--only NAME] [--threads N] [--rounds R], checks for the shared protocol file and builds the runner.
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2;;
    --only) only=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
configs=../shared/bench/rnn-configs.json
[ -f "$configs" ] || { echo "missing $configs (the shared folder must sit beside the repository)" >&2; exit 2; }
dotnet build benchmarks/Rnn.MLNet.Benchmarks -c Release -v quiet -nologo >/dev/null
