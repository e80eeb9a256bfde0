#!/usr/bin/env bash
# End-to-end: `mgsd demo` (what `make demo` runs) trains SASRec and MGSD on the embedded
# synthetic data and prints the comparison table, MGSD's noise detection against the
# planted labels and one user's explained history. Usage: e2e_demo.sh path/to/mgsd
set -u
MGSD=${1:?usage: e2e_demo.sh path/to/mgsd}
. "$(dirname "$0")/support/e2e_lib.sh" demo

"$MGSD" demo --help >"$T/out" 2>&1 && grep -q "planted" "$T/out" && ok "demo --help" || bad "demo --help: $(cat "$T/out")"
"$MGSD" demo --bogus >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" = 2 ] && grep -q "unknown option '--bogus'" "$T/err" && ok "unknown option (rc 2)" || bad "unknown option: rc $rc"

for bad_ep in 0 x 1001; do
  "$MGSD" demo --epochs=$bad_ep >"$T/out" 2>"$T/err"; rc=$?
  [ "$rc" = 2 ] && grep -q "epochs expects an integer in 1..1000" "$T/err" && ok "--epochs=$bad_ep refused (rc 2)" || bad "--epochs=$bad_ep: rc $rc"
done

# The full demo (20 epochs each); sanitizer runs (MGSD_TEST_QUICK) check its structure on
# one epoch only, since what it learns in one epoch is not the point there.
EP=20
[ -n "${MGSD_TEST_QUICK:-}" ] && [ "${MGSD_TEST_QUICK}" != 0 ] && EP=1
"$MGSD" demo --epochs=$EP >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" = 0 ] && ok "demo --epochs=$EP (rc 0)" || { bad "demo: rc $rc"; cat "$T/err"; }
cat "$T/out"
for m in SASRec MGSD; do
  n=$(grep -c "^  $m *epoch" "$T/out")
  [ "$n" = "$EP" ] && ok "$m: $EP epoch lines" || bad "$m: $n epoch lines"
done
# The table: hit@10 clean and noisy for both, the "lost" column their difference; after 20
# epochs both models must rank far above chance (10/500) and MGSD's discriminator must find
# the planted noise (AUC 0.878 measured).
python3 - "$T/out" "$EP" <<'PY' || fails=$((fails + 1))
import re, sys
text = open(sys.argv[1]).read()
learned = int(sys.argv[2]) >= 20
rows = {m.group(1): [float(x) for x in m.group(3, 4, 5, 6, 7)]
        for m in re.finditer(r"^  (SASRec|MGSD) +(\d+) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +(-?[\d.]+)$", text, re.M)}
assert set(rows) == {"SASRec", "MGSD"}, f"table rows: {rows}"
for name, (h, n, hn, nn, lost) in rows.items():
    assert 0 < n <= h <= 1 and abs(lost - (h - hn)) < 1e-3, (name, rows[name])
    assert h > 0.1 or not learned, f"{name} hit@10 {h}: did not learn"
det = re.search(r"flagged (\d+) \(clean probability <= 0.5, dropped at inference\): precision ([\d.]+), recall ([\d.]+); AUC ([\d.]+)", text)
assert det, "no noise-detection line"
auc = float(det.group(4))
assert 0 <= auc <= 1 and (auc > 0.6 or not learned), f"planted-noise AUC {auc}: the discriminator did not learn"
# MGSD's epoch lines: its discriminator's AUC on the items inserted into the training
# copies, learning over the 20 epochs (0.545 -> 0.790 measured)
ins = [float(x) for x in re.findall(r"^  MGSD +epoch +\d+ .* inserted AUC ([\d.]+)", text, re.M)]
assert len(ins) == int(sys.argv[2]) and all(0 <= a <= 1 for a in ins), f"inserted AUC per epoch: {ins}"
assert not learned or ins[-1] > ins[0] + 0.1, f"training AUC did not rise: {ins}"
print(f"ok   table {rows}; planted-noise AUC {auc}; training AUC {ins[0]} -> {ins[-1]}")
PY
grep -q "planted noise$" "$T/out" && ok "explained history table" || bad "no explained history"
n=$(grep -Ec "^ +[0-9]+  [0-9]+ +[0-9.]+  (yes|no) " "$T/out")
[ "$n" -ge 2 ] && ok "history rows: $n" || bad "history rows: $n"
grep -Eq "^  top 5 next items:( [0-9]+){5}$" "$T/out" && ok "top 5" || bad "top 5 line"

e2e_finish
