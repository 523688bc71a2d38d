#!/usr/bin/env bash
# Restore, build and test the whole solution in Release; fails if any test project ran no test.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet restore Rnn.MLNet.sln
dotnet build Rnn.MLNet.sln -c Release --no-restore
results=$(mktemp -d)
status=0
dotnet test Rnn.MLNet.sln -c Release --no-build --logger "trx" --results-directory "$results" || status=$?
# Every test project must have produced a results file with at least one executed test.
shopt -s nullglob
trx=("$results"/*.trx)
projects=$(grep -l '<IsTestProject>true</IsTestProject>' tests/*/*.csproj | wc -l)
if [ "${#trx[@]}" -lt "$projects" ]; then
  echo "FAIL: $projects test projects but ${#trx[@]} result files"; exit 1
fi
passed=0; failed=0
for f in "${trx[@]}"; do
  executed=$(grep -o 'executed="[0-9]*"' "$f" | head -1 | grep -o '[0-9]*')
  p=$(grep -o 'passed="[0-9]*"' "$f" | head -1 | grep -o '[0-9]*')
  fl=$(grep -o 'failed="[0-9]*"' "$f" | head -1 | grep -o '[0-9]*')
  if [ "${executed:-0}" -eq 0 ]; then echo "FAIL: $f ran no test"; exit 1; fi
  passed=$((passed + ${p:-0})); failed=$((failed + ${fl:-0}))
done
echo "$passed passed, $failed failed"
exit $status
