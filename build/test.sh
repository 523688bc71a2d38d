#!/usr/bin/env bash
# Restore, build and test the whole solution in Release (fails if any test project ran no test), then pack the packages
# and run a consumer project against them.
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
# The packages as a user gets them: pack all three (with symbols) into a local folder, then build and run a small consumer
# project outside the solution against them: train and save, then load and score in a fresh process.
version="0.1.0-ci.$(date +%Y%m%d%H%M%S).$$"
work=$(mktemp -d)
cleanup() { rm -rf "$work" "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/rnn.mlnet*/"$version"; }
trap cleanup EXIT
dotnet pack src/Rnn.MLNet.Core/Rnn.MLNet.Core.csproj -c Release --no-build -p:Version="$version" -o "$work/packages"
dotnet pack src/Rnn.MLNet.Onnx/Rnn.MLNet.Onnx.csproj -c Release --no-build -p:Version="$version" -o "$work/packages"
dotnet pack src/Rnn.MLNet/Rnn.MLNet.csproj -c Release --no-build -p:Version="$version" -o "$work/packages"
for p in Rnn.MLNet.Core Rnn.MLNet.Onnx Rnn.MLNet; do
  for ext in nupkg snupkg; do [ -f "$work/packages/$p.$version.$ext" ] || { echo "FAIL: no $p.$version.$ext"; exit 1; }; done
done
cp build/consumer/Consumer.csproj build/consumer/Program.cs "$work/"
cat > "$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
XML
dotnet build "$work/Consumer.csproj" -c Release -p:RnnMLNetVersion="$version" -o "$work/bin"
trained=$(dotnet "$work/bin/Consumer.dll" train "$work/model.zip")
loaded=$(dotnet "$work/bin/Consumer.dll" score "$work/model.zip")
echo "consumer: trained '$trained', loaded in a fresh process '$loaded'"
[ "$trained" = "$loaded" ] || { echo "FAIL: the consumer's scores differ after loading"; exit 1; }

echo "$passed passed, $failed failed"
exit $status
