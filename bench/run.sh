#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: runs every Google Benchmark binary built in
# BUILD_DIR/bench and stores its JSON under bench/results/<name>.json.
# Figures worth keeping are copied by hand into docs/benchmarks.md together
# with the command that produced them.
set -euo pipefail
build=${1:-build-release}
here=$(cd "$(dirname "$0")" && pwd)
out="$here/results"
mkdir -p "$out"
found=0
for binary in "$build"/bench/*_bench; do
  [ -x "$binary" ] || continue
  found=1
  name=$(basename "$binary")
  echo "== $name"
  "$binary" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/$name.json" --benchmark_out_format=json
done
if [ "$found" -eq 0 ]; then
  echo "bench/run.sh: no benchmark binaries under $build/bench" >&2
  exit 1
fi
