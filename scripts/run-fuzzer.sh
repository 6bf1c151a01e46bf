#!/usr/bin/env bash
# run-fuzzer.sh BINARY SECONDS SEED_DIR: runs a libFuzzer target for SECONDS
# on a scratch copy of the committed seed corpus. Fails on any finding.
set -euo pipefail
binary=$(realpath -m "$1") seconds=$2 seeds=$(realpath -m "$3")
if [ ! -x "$binary" ]; then
  echo "fuzzer binary $binary is missing: run 'make fuzz' first" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
if [ -d "$seeds" ]; then cp -r "$seeds"/. "$work/corpus/"; fi
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$work"
"$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -timeout=10 -print_final_stats=1 corpus 2>&1 | tail -n 40
