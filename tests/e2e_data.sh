#!/usr/bin/env bash
# End-to-end checks of `mgsd stats` and `mgsd synth`: help texts, JSON keys, exact
# RecBole counts on the staged datasets (when present), error messages and exit codes.
set -u
MGSD="$1"
SRC="${MGSD_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
FIX="$SRC/tests/fixtures/data"
TMP=$(mktemp -d /tmp/mgsd_e2e_data.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0; passes=0
ok()   { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_rc() { # expected_rc description command...
  local want=$1 what=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  if [ "$rc" -eq "$want" ]; then ok; else fail "$what: exit $rc, expected $want; stderr: $(cat "$TMP/err")"; fi
}
expect_in() { # file needle description
  if grep -qF -- "$2" "$1"; then ok; else fail "$3: '$2' not in $(cat "$1")"; fi
}

expect_rc 0 "stats --help" "$MGSD" stats --help
expect_in "$TMP/out" "--user_inter_num_interval" "stats help"
expect_rc 0 "synth --help" "$MGSD" synth --help
expect_in "$TMP/out" "--noise-mode" "synth help"
expect_rc 2 "stats without dataset" "$MGSD" stats
expect_rc 2 "stats unknown option" "$MGSD" stats --dataset=x --bogus
expect_in "$TMP/err" "unknown option '--bogus'" "unknown option message"

expect_rc 0 "stats fixture" "$MGSD" stats --dataset="$FIX/tiny.inter" --user_inter_num_interval= --item_inter_num_interval= --json
expect_in "$TMP/out" '"users":2' "fixture users"
expect_in "$TMP/out" '"items":4' "fixture items"
expect_in "$TMP/out" '"interactions":6' "fixture interactions"
expect_in "$TMP/out" '"train_instances":' "train_instances key"

# val_interval: rows kept by column value before the k-core filter (RecBole's order)
expect_rc 0 "stats --val_interval" "$MGSD" stats --dataset="$FIX/tiny.inter" --user_inter_num_interval= --item_inter_num_interval= --val_interval="rating=[3,inf)" --json
expect_in "$TMP/out" '"interactions":3' "val_interval keeps ratings >= 3"
expect_in "$TMP/out" '"users":1' "val_interval drops u2"
expect_rc 1 "val_interval on a missing column" "$MGSD" stats --dataset="$FIX/tiny.inter" --val_interval="score=[3,inf)"
expect_in "$TMP/err" "tiny.inter:1: val_interval: the .inter header has no column 'score'" "val_interval missing column"

expect_rc 1 "bad fields" "$MGSD" stats --dataset="$FIX/bad_fields.inter"
expect_in "$TMP/err" "mgsd: error: $FIX/bad_fields.inter:3: expected 4 tab-separated fields, found 2" "bad fields message"
expect_rc 1 "missing file" "$MGSD" stats --dataset="$TMP/none.inter"
expect_in "$TMP/err" "mgsd: error: $TMP/none.inter: cannot open" "missing file message"
# a RecBole dataset folder <name>/<name>.inter, given as a path or by name from the working
# directory; a folder without it and a path that is not a regular file get precise errors
mkdir -p "$TMP/tinyset/" "$TMP/nodata"
cp "$FIX/tiny.inter" "$TMP/tinyset/tinyset.inter"
expect_rc 0 "stats on a RecBole folder" "$MGSD" stats --dataset="$TMP/tinyset/" --user_inter_num_interval= --item_inter_num_interval= --json
expect_in "$TMP/out" '"interactions":6' "folder resolves to <name>/<name>.inter"
expect_in "$TMP/out" "tinyset/tinyset.inter" "folder's file named"
expect_rc 0 "stats on a folder by name" bash -c "cd '$TMP' && '$(readlink -f "$MGSD")' stats --dataset=tinyset --user_inter_num_interval= --item_inter_num_interval= --json"
expect_in "$TMP/out" '"interactions":6' "folder by name"
expect_rc 1 "folder without its .inter" "$MGSD" stats --dataset="$TMP/nodata"
expect_in "$TMP/err" "dataset '$TMP/nodata' is a folder without $TMP/nodata/nodata.inter" "folder message"
expect_rc 1 "not a regular file" "$MGSD" stats --dataset=/dev/null
expect_in "$TMP/err" "dataset '/dev/null' is not a regular file" "special file message"
: > "$TMP/empty.txt"
expect_rc 1 "empty file" "$MGSD" stats --dataset="$TMP/empty.txt"
expect_in "$TMP/err" "empty file" "empty file message"
expect_rc 1 "nothing left" "$MGSD" stats --dataset="$FIX/tiny_seq.txt"
expect_in "$TMP/err" "no interaction left after filtering" "filter message"
expect_rc 1 "bad interval" "$MGSD" stats --dataset="$FIX/tiny_seq.txt" --user_inter_num_interval="[5,"
expect_in "$TMP/err" "RecBole syntax" "interval message"

# synth -> stats round trip, deterministic for a seed
expect_rc 0 "synth" "$MGSD" synth --out="$TMP/a.inter" --users=300 --items=200 --seed=5
expect_rc 0 "synth again" "$MGSD" synth --out="$TMP/b.inter" --users=300 --items=200 --seed=5
if cmp -s "$TMP/a.inter" "$TMP/b.inter" && cmp -s "$TMP/a.inter.noise" "$TMP/b.inter.noise"; then ok; else fail "synth not deterministic"; fi
head -1 "$TMP/a.inter.noise" > "$TMP/h"
expect_in "$TMP/h" "is_noise:float" "noise header"
ls "$TMP" | grep -q tmp && fail "temporary files left behind" || ok
expect_rc 0 "stats synth" "$MGSD" stats --dataset="$TMP/a.inter" --json
expect_in "$TMP/out" '"users":300' "synth users"
expect_rc 2 "synth bad mode" "$MGSD" synth --out="$TMP/c.inter" --noise-mode=sometimes
expect_rc 2 "synth bad noise (an option out of range is a usage error)" "$MGSD" synth --out="$TMP/c.inter" --noise=3
expect_rc 2 "synth --users=0" "$MGSD" synth --out="$TMP/c.inter" --users=0
expect_in "$TMP/err" "mgsd: error: synth: users must be >= 1 (got 0)" "synth --users=0 message"

# exact RecBole numbers on the staged data
D="${MGSD_SHARED_DATA:-}"
if [ -n "$D" ] && [ -r "$D/ml-100k/ml-100k.inter" ]; then
  expect_rc 0 "ml-100k" "$MGSD" stats --dataset="$D/ml-100k/ml-100k.inter" --json
  for kv in '"users":943' '"items":1349' '"interactions":99287' '"train_instances":96458'; do expect_in "$TMP/out" "$kv" ml-100k; done
  expect_rc 0 "ml-100k rating >= 3" "$MGSD" stats --dataset="$D/ml-100k/ml-100k.inter" --val_interval="rating=[3,inf)" --json
  for kv in '"users":943' '"items":1203' '"interactions":81697'; do expect_in "$TMP/out" "$kv" "ml-100k rating >= 3"; done
  expect_rc 0 "beauty" "$MGSD" stats --dataset="$D/beauty/Beauty.txt" --json
  for kv in '"users":22363' '"items":12101' '"interactions":198502' '"train_instances":131413'; do expect_in "$TMP/out" "$kv" beauty; done
  expect_rc 0 "sports" "$MGSD" stats --dataset="$D/sports/Sports_and_Outdoors.txt" --json
  for kv in '"users":35598' '"items":18357' '"interactions":296337'; do expect_in "$TMP/out" "$kv" sports; done
  expect_rc 0 "stats text" "$MGSD" stats --dataset="$D/beauty/Beauty.txt"
  expect_in "$TMP/out" "sparsity" "text output"
else
  echo "note: MGSD_SHARED_DATA not available; skipping dataset counts"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
