#!/usr/bin/env bash
# Build the libFuzzer targets with clang (ASan + UBSan + coverage) and run each for
# SECONDS (default 60). Corpora live in build-fuzz/corpus/<target>, seeded from the
# test fixtures. Prints the number of executions per target.
set -euo pipefail
SECS="${1:-60}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
B="$ROOT/build-fuzz"
cmake -S "$ROOT" -B "$B" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMGSD_FUZZ=ON -DMGSD_BLAS=ON \
      -DMGSD_NATIVE=OFF >/dev/null
cmake --build "$B" -j2 --target fuzz_inter fuzz_seq fuzz_csv fuzz_auto
status=0
for t in fuzz_inter fuzz_seq fuzz_csv fuzz_auto; do
  C="$B/corpus/$t"
  mkdir -p "$C"
  cp -n "$ROOT"/tests/fixtures/data/* "$C"/ 2>/dev/null || true
  log="$B/$t.log"
  if "$B/$t" -artifact_prefix="$B/$t-" -print_final_stats=1 -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 "$C" >"$log" 2>&1; then
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
    [ -n "$execs" ] || execs=$(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
    echo "$t: clean, $execs executions in ${SECS}s"
  else
    echo "$t: FAILED (see $log)"; tail -30 "$log"; status=1
  fi
done
exit $status
