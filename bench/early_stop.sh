#!/usr/bin/env bash
# Trains MODEL on DATASET to early stopping (valid hit@20, patience stopping_step) for each
# seed and prints one table of best-validation and test metrics with seconds per epoch.
# Models use bench/configs/<model>_ref.yaml (the MGSD-WSS reference settings) when present.
#
# usage: bench/early_stop.sh MODEL DATASET "SEEDS" [--key=value ...]
#        bench/early_stop.sh --report DIR...     (re-print the table of finished runs)
#   e.g. bench/early_stop.sh SASRec ../shared/data/beauty/beauty.txt "2020 2021 2022"
# Runs go to $EARLY_STOP_DIR (default /tmp/mgsd-early-stop)/<model>-<dataset>-<seed>. Run the
# same command again to continue runs that were killed (from <model>-last.ckpt; only
# --threads and --checkpoint_steps are taken from the command line then) and to skip
# finished ones.
# A finished run's test ranks go to <dir>/test-ranks.tsv (mgsd eval --ranks); the table then
# tests MGSD against its sub-model seed by seed, user by user, and over the seeds with the seed
# as the unit (mgsd compare).
# Each run also saves its last checkpoint every $EARLY_STOP_CHECKPOINT_STEPS steps (default
# 200; 0 = at epoch ends only), so a run killed mid-epoch loses at most that many steps.
# EARLY_STOP_JOBS=N trains N seeds at a time, each on cores/N threads unless --threads is
# given (on 2 cores two 1-thread runs do 1.07-1.39x the work of one 2-thread run: README).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mgsd=${MGSD_BIN:-$here/build/mgsd}
out=${EARLY_STOP_DIR:-/tmp/mgsd-early-stop}
# OMP_WAIT_POLICY: the OpenMP default unless the caller sets it (README, "Threads").

report() {
MGSD_BIN="$mgsd" python3 - "$@" <<'PY'
import json, os, sys, math, subprocess
rows = []
for d in sys.argv[1:]:
    p = os.path.join(d, 'results.json')
    if not os.path.exists(p):
        continue
    r = json.load(open(p))
    ep = r.get('epochs', [])
    sec = sum(e.get('train_seconds', 0) for e in ep) / max(1, len(ep))
    name = r['model']
    if name == 'MGSD' and r['config'].get('sub_model', 'BERT4Rec') != 'BERT4Rec':
        name += '-' + r['config']['sub_model']
    rows.append((name, os.path.basename(r['config'].get('dataset', '?')), r['config'].get('seed'),
                 len(ep), r.get('best_epoch', -1), r['best_valid'].get('hit@20', 0),
                 r['test'].get('hit@10', 0), r['test'].get('ndcg@10', 0), r['test'].get('hit@20', 0), sec,
                 r.get('stopped_early', False), os.path.join(d, 'test-ranks.tsv')))
print(f"{'model':10} {'dataset':24} {'seed':>5} {'epochs':>6} {'best':>4} {'valid h@20':>10} "
      f"{'test h@10':>9} {'test n@10':>9} {'test h@20':>9} {'s/epoch':>7} stopped")
for r in rows:
    print(f"{r[0]:10} {r[1]:24} {r[2]!s:>5} {r[3]:>6} {r[4]:>4} {r[5]:>10.4f} {r[6]:>9.4f} {r[7]:>9.4f} "
          f"{r[8]:>9.4f} {r[9]:>7.1f} {'early' if r[10] else 'cap'}")
groups = {}
for r in rows:
    groups.setdefault((r[0], r[1]), []).append(r)
for (m, d), g in groups.items():
    if len(g) < 2:
        continue
    def ms(i):
        v = [x[i] for x in g]
        mu = sum(v) / len(v)
        sd = math.sqrt(sum((x - mu) ** 2 for x in v) / (len(v) - 1))
        return f"{mu:.4f}+-{sd:.4f}"
    print(f"{m:10} {d:24} mean of {len(g)} seeds: test hit@10 {ms(6)}  ndcg@10 {ms(7)}  hit@20 {ms(8)}")
# MGSD against its own sub-model trained alone (the paper's comparison), means over seeds
def mean(g, i):
    return sum(x[i] for x in g) / len(g)
for (m, d), g in groups.items():
    if not m.startswith('MGSD'):
        continue
    sub = m.split('-', 1)[1] if '-' in m else 'BERT4Rec'
    base = groups.get((sub, d))
    if not base:
        continue
    print(f"{m:10} vs {sub:8} on {d}: test hit@10 {mean(g, 6):.4f} vs {mean(base, 6):.4f} ({mean(g, 6) - mean(base, 6):+.4f}), "
          f"ndcg@10 {mean(g, 7):.4f} vs {mean(base, 7):.4f} ({mean(g, 7) - mean(base, 7):+.4f}) "
          f"[{len(g)} vs {len(base)} seeds]")
    # The same seeds tested user by user (mgsd compare on the runs' test-ranks.tsv)
    by_seed = {x[2]: x[11] for x in base}
    for x in g:
        a = by_seed.get(x[2])
        if not a or not os.path.exists(a) or not os.path.exists(x[11]):
            continue
        cp = subprocess.run([os.environ['MGSD_BIN'], 'compare', a, x[11], '--topk=10', '--json'],
                            capture_output=True, text=True)
        if cp.returncode != 0:
            print(f"  seed {x[2]} paired: {cp.stderr.strip()}")
            continue
        c = json.loads(cp.stdout)['k'][0]
        print(f"  seed {x[2]} paired: hit@10 {c['hit']['diff']:+.4f} (se {c['hit']['se']:.4f}, p {c['hit']['p']:.2g}; "
              f"only {sub} {c['hit_only_a']:.0f}, only MGSD {c['hit_only_b']:.0f}), "
              f"ndcg@10 {c['ndcg']['diff']:+.4f} (se {c['ndcg']['se']:.4f}, p {c['ndcg']['p']:.2g})")
    # Over the seeds that have both rank files: the seed as the unit (Student's t)
    pairs = [(by_seed[x[2]], x[11]) for x in g
             if by_seed.get(x[2]) and os.path.exists(by_seed[x[2]]) and os.path.exists(x[11])]
    if len(pairs) >= 2:
        cp = subprocess.run([os.environ['MGSD_BIN'], 'compare', ','.join(a for a, _ in pairs),
                             ','.join(b for _, b in pairs), '--topk=10', '--json'], capture_output=True, text=True)
        if cp.returncode != 0:
            print(f"  over seeds: {cp.stderr.strip()}")
            continue
        o = json.loads(cp.stdout)['k'][0]['over_runs']
        print(f"  over {len(pairs)} seeds (Student's t, {o['df']} df): " + ", ".join(
              f"{m}@10 {o[m]['diff']:+.4f} (sd {o[m]['sd']:.4f}, p {o[m]['p']:.2g})" for m in ('hit', 'ndcg')))
PY
}

if [ "${1:-}" = "--report" ]; then shift; report "$@"; exit 0; fi
model=${1:?usage: bench/early_stop.sh MODEL DATASET "SEEDS" [--key=value ...]}
data=${2:?dataset path}
seeds=${3:-2020}
shift $(( $# >= 3 ? 3 : 2 ))
lc=$(echo "$model" | tr '[:upper:]' '[:lower:]')
cfg=()
[ -f "$here/bench/configs/${lc}_ref.yaml" ] && cfg=(--config="$here/bench/configs/${lc}_ref.yaml")
# An MGSD run with a non-default sub-model gets its own directory: MGSD-SASRec-<dataset>-<seed>.
tag=$model
for a in "$@"; do
  case $a in --sub_model=*) [ "${a#--sub_model=}" != BERT4Rec ] && tag="$model-${a#--sub_model=}" ;; esac
done
jobs=${EARLY_STOP_JOBS:-1}
case $jobs in ''|*[!0-9]*|0) echo "EARLY_STOP_JOBS must be a positive integer, got '$jobs'" >&2; exit 2 ;; esac
ckpt_steps=${EARLY_STOP_CHECKPOINT_STEPS:-200}
case $ckpt_steps in ''|*[!0-9]*) echo "EARLY_STOP_CHECKPOINT_STEPS must be a number >= 0, got '$ckpt_steps'" >&2; exit 2 ;; esac
extra=()
if [ "$jobs" -gt 1 ] && ! printf '%s\n' "$@" | grep -qE '^--threads='; then
  cores=$(nproc)
  extra=(--threads=$(( cores / jobs > 0 ? cores / jobs : 1 )))
fi
one_seed() { # seed dir [--key=value ...]
  local s=$1 d=$2
  shift 2
  # A run that stopped before its test scores (killed, machine lost) continues from its
  # last checkpoint, bit for bit; a finished one is only reported.
  if [ -f "$d/results.json" ] && python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("test") else 1)' "$d/results.json"; then
    echo "== $model $(basename "$data") seed $s: finished in $d" >&2
  elif [ -f "$d/$model-last.ckpt" ]; then
    echo "== $model $(basename "$data") seed $s: resuming $d/$model-last.ckpt" >&2
    "$mgsd" train --resume="$d/$model-last.ckpt" --checkpoint-dir="$d" --checkpoint_steps="$ckpt_steps" \
      $(printf '%s\n' "$@" "${extra[@]}" | grep -E '^--(threads|checkpoint_steps)=' || true) \
      >> "$d/train.log" 2>&1 || echo "$model seed $s failed, see $d/train.log" >&2
  else
    echo "== $model $(basename "$data") seed $s -> $d" >&2
    "$mgsd" train --model="$model" --dataset="$data" "${cfg[@]}" --seed="$s" --checkpoint-dir="$d" \
      --checkpoint_steps="$ckpt_steps" "$@" "${extra[@]}" \
      > "$d/train.log" 2>&1 || echo "$model seed $s failed, see $d/train.log" >&2
  fi
  # Each user's test rank, for paired comparisons in the report (mgsd compare)
  if [ -f "$d/$model-best.ckpt" ] && [ ! -f "$d/test-ranks.tsv" ] \
     && python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("test") else 1)' "$d/results.json" 2>/dev/null; then
    "$mgsd" eval --checkpoint="$d/$model-best.ckpt" --ranks="$d/test-ranks.tsv" \
      $(printf '%s\n' "$@" "${extra[@]}" | grep -E '^--threads=' || true) > /dev/null \
      || echo "$model seed $s: eval --ranks failed" >&2
  fi
}
dirs=()
running=0
for s in $seeds; do
  d="$out/$tag-$(basename "${data%.*}")-$s"
  mkdir -p "$d"
  if [ "$jobs" -gt 1 ]; then
    one_seed "$s" "$d" "$@" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  else
    one_seed "$s" "$d" "$@"
  fi
  dirs+=("$d")
done
wait
report "${dirs[@]}"
