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
cmake --build "$B" -j2 --target fuzz_inter fuzz_seq fuzz_csv fuzz_auto fuzz_filters fuzz_config fuzz_ckpt fuzz_ranks
status=0
for t in fuzz_inter fuzz_seq fuzz_csv fuzz_auto fuzz_filters fuzz_config fuzz_ckpt fuzz_ranks; do
  C="$B/corpus/$t"
  mkdir -p "$C"
  case $t in
    fuzz_config)   # first byte: the model; then a YAML file
      i=0
      for f in "$ROOT"/tests/fixtures/config/*.yaml "$ROOT"/bench/configs/*.yaml; do
        { printf "\\x0$((i % 4))"; cat "$f"; } > "$C/seed-$(basename "$f")"; i=$((i + 1))
      done
      printf '\x03clip_grad_norm: {max_norm: 5.0, norm_type: 2}\neval_args:\n  split: {LS: valid_and_test}\n  mode: uni100\nval_interval: {rating: "[3,inf)"}\nrm_dup_inter: first\n' \
        > "$C/seed-recbole.yaml"
      printf '\x80mgsd-config 1\nseed\tint\t0\tdefaults: overall\t2020\nlr\tfloat\t2\ta.yaml:3\t0.001\nflag\tbool\t3\tcommand line\ttrue\nname\tstr\t1\tmodel\ta\\,b\\tc\ntopk\tint_list\t0\t\t3:5,10,20\nm\tstr_list\t0\t\t2:hit,\\,x\n' \
        > "$C/seed-text-form" ;;
    fuzz_filters)  # first line: the val_interval setting; then an .inter file
      for f in "$ROOT"/tests/fixtures/data/*.inter; do
        { echo 'rating=[4,inf) timestamp=(0,25]'; cat "$f"; } > "$C/seed-$(basename "$f")"
      done ;;
    fuzz_ckpt)     # 0x00 + a checkpoint file, or 0x01 + section payloads separated by 0xFF
      printf '\x00MGSDCKPT\x01\x00\x00\x00\x00\x00\x00\x00' > "$C/seed-empty"
      printf '\x01SASRec\xffmgsd-config 1\nseed\tint\t0\tdefaults: overall\t2020\n\xffmgsd-dataset 1\nx.inter\n2 1\na\nb\nu1\n\xff\x00\x00\x00\x00\xff\x00\x00\x00\x00\x00\x00\x00\x00' \
        > "$C/seed-sections" ;;
    fuzz_ranks)    # two rank files separated by 0xFF
      printf 'user_id\titem_id\trank\nu1\td\t4\nu2\ta\t1\n\xffuser_id\titem_id\trank\nu2\ta\t3\nu1\td\t1\n' > "$C/seed-pair"
      printf 'user_id\titem_id\trank\r\n\nu1\td\t9223372036854775807\n' > "$C/seed-one" ;;
    *) cp -n "$ROOT"/tests/fixtures/data/* "$C"/ 2>/dev/null || true ;;
  esac
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
