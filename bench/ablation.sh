#!/usr/bin/env bash
# MGSD-WSS ablation grid: trains the full model and each variant with one part removed
# on a dataset, then prints one table of best-validation and test metrics.
#
# usage: bench/ablation.sh DATASET [EPOCHS] [extra --key=value ...]
#   e.g. bench/ablation.sh ../shared/data/ml-100k/ml-100k.inter 20 --sub_model=SASRec
# ABLATION_VARIANTS="no_aux mgp_none" runs only those variants (the table lists every
# variant found in $ABLATION_DIR, so runs can be split over several calls).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mgsd=${MGSD_BIN:-$here/build/mgsd}
data=${1:?usage: bench/ablation.sh DATASET [EPOCHS] [--key=value ...]}
epochs=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
out=${ABLATION_DIR:-$(mktemp -d /tmp/mgsd-ablation.XXXXXX)}
mkdir -p "$out"
# OMP_WAIT_POLICY: the OpenMP default unless the caller sets it (README, "Threads").
variants=(
  "full|"
  "no_aux|--use_aux=false"
  "no_item_denoise|--use_item_denoise=false"
  "no_interest_denoise|--use_interest_denoise=false"
  "mgp_none|--mgp=none"
  "mgp_gaussian|--mgp=gaussian"
  "unweighted_cl|--weighted_cl=false"
)
for v in "${variants[@]}"; do
  name=${v%%|*}; flags=${v#*|}
  if [ -n "${ABLATION_VARIANTS:-}" ] && [[ " $ABLATION_VARIANTS " != *" $name "* ]]; then continue; fi
  echo "== $name $flags" >&2
  # shellcheck disable=SC2086
  "$mgsd" train --model=MGSD --dataset="$data" --epochs="$epochs" --checkpoint-dir="$out/$name" $flags "$@" \
    > "$out/$name.log" 2>&1 || { echo "$name failed, see $out/$name.log" >&2; continue; }
done
python3 - "$out" "${variants[@]}" <<'PY'
import json, os, sys
out = sys.argv[1]
print(f"{'variant':22} {'best ep':>7} {'valid hit@20':>12} {'test hit@10':>11} {'test ndcg@10':>12} {'s/epoch':>8}  valid hit@20 by epoch")
for v in sys.argv[2:]:
    name = v.split('|')[0]
    p = os.path.join(out, name, 'results.json')
    if not os.path.exists(p):
        print(f"{name:22} {'not run':>7}"); continue
    r = json.load(open(p))
    ep = r.get('epochs', [])
    sec = sum(e.get('train_seconds', 0) for e in ep) / max(1, len(ep))
    print(f"{name:22} {r.get('best_epoch', -1):>7} {r['best_valid'].get('hit@20', 0):>12.4f} "
          f"{r['test'].get('hit@10', 0):>11.4f} {r['test'].get('ndcg@10', 0):>12.4f} {sec:>8.1f}  "
          + " ".join(f"{e['valid']['hit@20']:.4f}" for e in ep[:12] if 'valid' in e) + (" ..." if len(ep) > 12 else ""))
PY
