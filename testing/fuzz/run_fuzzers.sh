#!/usr/bin/env bash
# Builds every libFuzzer target with clang + ASan + UBSan and fuzzes each for
# a while, starting from its corpus in testing/fuzz/corpus/<name>/.
#
#   testing/fuzz/run_fuzzers.sh            # 60 s per target (the CI-sized run)
#   testing/fuzz/run_fuzzers.sh 3600 png   # one hour on the PNG decoder
#
# New inputs that increase coverage are kept in a scratch corpus (not the
# repo's). A crash leaves crash-* in $DIFFMEM_FUZZ_OUT (default
# /tmp/diffmem-fuzz) and fails the script: copy it into the target's corpus
# directory, so its regression test replays it forever, then fix the parser.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
only=${2:-}
out=${DIFFMEM_FUZZ_OUT:-/tmp/diffmem-fuzz}
base="$HOME/.cache/diffmem/fuzz-output-base"
mkdir -p "$out"

# --symlink_prefix=/ keeps this build from re-pointing the workspace's bazel-bin.
targets=$(bazel --output_base="$base" query 'attr(tags, "fuzzer", //testing/fuzz:all)' 2>/dev/null)
bazel --output_base="$base" build --config=fuzz --symlink_prefix=/ $targets
bin=$(bazel --output_base="$base" info --config=fuzz bazel-bin 2>/dev/null)
status=0
for label in $targets; do
  name=${label##*:}
  corpus=${name%_fuzzer}
  if [[ -n "$only" && "$only" != "$corpus" ]]; then continue; fi
  work="$out/$corpus"
  mkdir -p "$work/corpus"
  echo "=== fuzzing $name for ${seconds}s"
  if ! "$bin/testing/fuzz/$name" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 \
      -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" "testing/fuzz/corpus/$corpus" \
      2>"$work/log.txt"; then
    echo "=== $name FOUND A CRASH: see $work/log.txt and $work/crash-*"
    tail -40 "$work/log.txt"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log.txt" | sed "s/^/$name /" || true
done
bazel --output_base="$base" shutdown
exit $status
