# Helpers shared by the shell end-to-end tests (tests/e2e_*.sh source this file):
# a temporary directory $T removed on exit, pass/fail counters, and checks.
#   . "$(dirname "$0")/support/e2e_lib.sh" NAME
T=$(mktemp -d "/tmp/mgsd_e2e_${1:-test}.XXXXXX")
trap 'rm -rf "$T"' EXIT
# OpenMP threads spin while waiting by default, which slows a shared machine badly.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
fails=0
passed=0
ok()  { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# expect_rc RC DESCRIPTION COMMAND...: run it (stdout to $T/out, stderr to $T/err).
expect_rc() {
    local want=$1 what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" = "$want" ]; then ok "$what (rc $rc)"; else bad "$what: rc $rc, expected $want"; cat "$T/out" "$T/err"; fi
}
# expect_err PATTERN: the last command's stderr contains it.
expect_err() {
    if grep -q -- "$1" "$T/err"; then ok "stderr mentions '$1'"; else bad "stderr lacks '$1':"; cat "$T/err"; fi
}
# has PATTERN FILE: $T/FILE contains it.
has() { if grep -q -- "$1" "$T/$2"; then ok "$2 has '$1'"; else bad "$2 lacks '$1'"; cat "$T/$2"; fi; }
# The last line of a test script: the counts, and its exit status.
e2e_finish() { echo "$passed passed, $fails failed"; [ "$fails" -eq 0 ]; }
