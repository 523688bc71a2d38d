# Sourced by compare.sh and scaling.sh (after they set their defaults for seconds, only, threads, rounds, fresh and
# batch_size): parses [--configs FILE] [--seconds S] [--only NAME] [--threads N] [--rounds R] [--fresh-sequences]
# [--batch-size N] [--reduced-precision], checks for the protocol file and builds the runner.
configs=../shared/bench/rnn-configs.json
while [ $# -gt 0 ]; do
  case "$1" in
    --configs) configs=$2; shift 2;;
    --seconds) seconds=$2; shift 2;;
    --only) only=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    --fresh-sequences) fresh=1; shift;;
    --batch-size) batch_size=$2; shift 2;;
    --reduced-precision) reduced=1; shift;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
[ -f "$configs" ] || { echo "missing $configs (the shared folder must sit beside the repository, or pass --configs)" >&2; exit 2; }
configs=$(cd "$(dirname "$configs")" && pwd)/$(basename "$configs")
dotnet build benchmarks/Rnn.MLNet.Benchmarks -c Release -v quiet -nologo >/dev/null
