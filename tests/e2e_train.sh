#!/usr/bin/env bash
# End-to-end: mgsd train / eval / recommend on a tiny synthetic file, Ctrl-C + resume,
# and the error paths with their exit codes. Usage: e2e_train.sh path/to/mgsd
set -u
MGSD=${1:?usage: e2e_train.sh path/to/mgsd}
. "$(dirname "$0")/support/e2e_lib.sh" train

# --version names the matrix-product library the binary was built with.
expect_rc 0 "mgsd --version" "$MGSD" --version
if grep -Eq "^mgsd [0-9.]+ \(matrix products: (oneDNN|OpenBLAS|none)" "$T/out"; then ok "version names the library"; else bad "version line: $(cat "$T/out")"; fi

# The model: SASRec when registered, else the first registered model.
MODEL=$("$MGSD" train --help | awk '/^models/{f=1;next} f&&NF{print $1}' | grep -x -i sasrec || true)
[ -n "$MODEL" ] || MODEL=$("$MGSD" train --help | awk '/^models/{f=1;next} f&&NF{print $1; exit}')
echo "model: $MODEL"
# Shrink the model through whichever of these keys it declares.
HELP=$("$MGSD" train --model="$MODEL" --help)
SMALL=()
for kv in hidden_size=16 inner_size=16 n_layers=1 n_heads=1 embedding_size=16; do
    echo "$HELP" | grep -q "^${kv%%=*} " && SMALL+=("--$kv")
done

"$MGSD" synth --out="$T/s.inter" --users=200 --items=80 --min-len=6 --max-len=14 >/dev/null || { echo "synth failed"; exit 1; }
COMMON=(--dataset="$T/s.inter" --train_batch_size=64 --MAX_ITEM_LIST_LENGTH=20 --threads=2 "${SMALL[@]}")

expect_rc 0 "train 2 epochs" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=2 --checkpoint-dir="$T/ck"
grep -q "^epoch 1 .*valid hit@10" "$T/out" && ok "per-epoch lines" || { bad "per-epoch lines"; cat "$T/out"; }
grep -q "^ndcg@10 " "$T/out" && ok "final table" || bad "final table"
[ -f "$T/ck/$MODEL-best.ckpt" ] && [ -f "$T/ck/$MODEL-last.ckpt" ] && ok "best and last checkpoints" || bad "checkpoints missing"
for k in '"epochs"' '"best_valid"' '"test"' '"best_epoch"' '"peak_rss_bytes"' '"hit@10"' '"train_seconds"' '"config"'; do
    grep -q "$k" "$T/ck/results.json" && ok "results.json has $k" || bad "results.json lacks $k"
done
grep -q "unknown key" "$T/err" && bad "spurious unknown-key warning" || true

expect_rc 0 "eval test split" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt"
grep -q "hit@10" "$T/out" && ok "eval prints metrics" || bad "eval output"
expect_rc 0 "eval --json valid" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --split=valid --json
grep -q '"metrics":{"hit@5"' "$T/out" && ok "eval json" || { bad "eval json"; cat "$T/out"; }
# eval's --topk need not hold training's valid_metric (hit@20 here); training's must
expect_rc 0 "eval --topk=5,10" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --topk=5,10 --json
grep -q '"hit@10"' "$T/out" && ! grep -q '"hit@20"' "$T/out" && ok "eval --topk=5,10 reports 5 and 10" || bad "eval --topk=5,10 output"
# A command-line key that changes the model's shape cannot load the checkpoint: the error
# says so and a note names what the command line set (eval and train --resume alike).
SHAPE=""
for kv in "${SMALL[@]}"; do case $kv in *=16) SHAPE=${kv%=16}=8; break ;; esac; done
if [ -n "$SHAPE" ]; then
    expect_rc 1 "eval $SHAPE" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" "$SHAPE" --topk=5,10
    expect_err "parameter layout does not match"
    expect_err "note: the command line sets $SHAPE --topk=5,10; keys that shape the model"
    expect_rc 1 "train --resume $SHAPE" "$MGSD" train --resume="$T/ck/$MODEL-last.ckpt" "$SHAPE"
    expect_err "note: the command line sets $SHAPE; keys that shape the model"
    expect_rc 0 "eval without a shaping key" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --topk=5,10
    grep -q "note: the command line" "$T/err" && bad "note without a failure" || ok "no note when the model loads"
fi

# A data set given by a relative path is stored in the checkpoint as an absolute one, so
# eval finds it from any working directory; when it has gone, the error says which path the
# checkpoint holds and that --dataset reads it from elsewhere.
MGSD_ABS=$(cd "$(dirname "$MGSD")" && pwd)/$(basename "$MGSD")
cp "$T/s.inter" "$T/rel.inter"
expect_rc 0 "train on a relative dataset path" \
    bash -c 'cd "$1" && shift && "$@"' _ "$T" "$MGSD_ABS" train --model="$MODEL" --dataset=rel.inter \
    --train_batch_size=64 --MAX_ITEM_LIST_LENGTH=20 --threads=2 "${SMALL[@]}" --epochs=1 --checkpoint-dir=rel
expect_rc 0 "eval from another working directory" \
    bash -c 'cd / && "$@"' _ "$MGSD_ABS" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --json
grep -q '"hit@10"' "$T/out" && ok "eval from elsewhere prints metrics" || bad "eval from elsewhere: $(cat "$T/out")"
expect_rc 0 "resume from another working directory" \
    bash -c 'cd / && "$@"' _ "$MGSD_ABS" train --resume="$T/rel/$MODEL-last.ckpt" --epochs=2 --checkpoint-dir="$T/rel1"
grep -q "^epoch 1 " "$T/out" && ok "the resumed run trains its second epoch" || bad "resumed run: $(cat "$T/out")"
rm "$T/rel.inter"
expect_rc 1 "eval when the stored dataset has gone" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt"
expect_err "$T/rel.inter: cannot open"
expect_err "pass --dataset=PATH"
expect_rc 0 "eval --dataset= elsewhere" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --dataset="$T/s.inter"
mkdir -p "$T/sfolder" && cp "$T/s.inter" "$T/sfolder/sfolder.inter"
expect_rc 0 "eval --dataset= a RecBole folder" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --dataset="$T/sfolder"
# RecBole's beyond-accuracy metrics, on request only
expect_rc 0 "eval with beyond-accuracy metrics" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" \
    --dataset="$T/s.inter" --json --metrics="[Hit,ItemCoverage,AveragePopularity,GiniIndex,ShannonEntropy,TailPercentage]"
for k in hit@10 itemcoverage@10 averagepopularity@10 giniindex@10 shannonentropy@10 tailpercentage@10; do
  grep -q "\"$k\"" "$T/out" && ok "eval reports $k" || bad "eval --metrics: no $k in $(cat "$T/out")"
done
expect_rc 0 "eval default metrics" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --dataset="$T/s.inter" --json
grep -q "itemcoverage" "$T/out" && bad "itemcoverage reported unasked" || ok "beyond-accuracy metrics only on request"
# groups of users by target popularity or history length
expect_rc 0 "eval --group-by=popularity" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --dataset="$T/s.inter" \
    --group-by=popularity:3,30
grep -q "^  0-2 " "$T/out" && grep -q "^  3-29 " "$T/out" && grep -q "^  30+ " "$T/out" && ok "popularity groups printed" \
    || bad "popularity groups: $(cat "$T/out")"
expect_rc 0 "eval --group-by=length --json" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --dataset="$T/s.inter" \
    --group-by=length --json
python3 - "$T/out" <<'PY' && ok "length groups in JSON partition the users" || bad "length groups JSON: $(cat "$T/out")"
import json, sys
o = json.load(open(sys.argv[1]))
g = o["groups"]
assert g["by"] == "length" and [x["lo"] for x in g["groups"]] == [1, 5, 10, 20, 50] and g["groups"][-1]["hi"] is None
assert sum(x["users"] for x in g["groups"]) == o["users"] and "hit@10" in g["groups"][0]["metrics"]
PY
expect_rc 2 "eval --group-by=bogus" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --group-by=items
expect_err "--group-by expects length or popularity"
expect_rc 2 "eval --group-by=length:1" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --group-by=length:1
expect_err "edges must be increasing integers >= 2"
expect_rc 2 "eval --tail_ratio=0" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --dataset="$T/s.inter" \
    --metrics="[TailPercentage]" --tail_ratio=0
expect_err "config key 'tail_ratio' must be a count > 1 or a share in (0, 1]"
expect_rc 0 "train --dataset=NAME --data_path=DIR (RecBole's layout)" "$MGSD" train --model="$MODEL" --dataset=sfolder \
    --data_path="$T" --train_batch_size=64 --MAX_ITEM_LIST_LENGTH=20 --threads=1 "${SMALL[@]}" --epochs=0 \
    --checkpoint-dir="$T/dp"
grep -q "on $T/sfolder/sfolder.inter:" "$T/out" && ok "data_path/NAME/NAME.inter read" || bad "data_path: $(cat "$T/out")"
expect_rc 1 "eval --dataset= a folder without its .inter" "$MGSD" eval --checkpoint="$T/rel/$MODEL-best.ckpt" --dataset="$T/rel"
expect_err "is a folder without $T/rel/rel.inter"
expect_rc 1 "resume when the stored dataset has gone" "$MGSD" train --resume="$T/rel/$MODEL-last.ckpt" \
    --epochs=2 --checkpoint-dir="$T/rel2"
expect_err "pass --dataset=PATH"

# Per-user ranks (eval --ranks) and the paired comparison (compare): the file matches eval's
# own metrics; a model against itself differs by nothing; the last and the best checkpoint's
# figures agree with their evals; files of other splits are refused naming file and user.
expect_rc 0 "eval --ranks --json" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --ranks="$T/best.tsv" --json
cp "$T/out" "$T/best.json"
expect_rc 0 "eval --ranks (last checkpoint, with injected noise)" "$MGSD" eval --checkpoint="$T/ck/$MODEL-last.ckpt" \
    --inject-noise=0.5 --ranks="$T/last.tsv" --json
cp "$T/out" "$T/last.json"
expect_rc 0 "compare --json" "$MGSD" compare "$T/best.tsv" "$T/last.tsv" --topk=5,10 --json
python3 - "$T/best.json" "$T/last.json" "$T/out" "$T/best.tsv" <<'PY3' && ok "rank file and compare agree with eval" || bad "ranks / compare figures"
import json, sys
b, l, c = (json.load(open(p)) for p in sys.argv[1:4])
rows = open(sys.argv[4]).read().split("\n")
assert rows[0] == "user_id\titem_id\trank", rows[0]
ranks = [int(r.split("\t")[2]) for r in rows[1:] if r]
assert len(ranks) == b["users"] == c["users"], (len(ranks), b["users"], c["users"])
assert abs(sum(r <= 10 for r in ranks) / len(ranks) - b["metrics"]["hit@10"]) < 1e-9
assert b["ranks_file"].endswith("best.tsv")
k10 = [e for e in c["k"] if e["k"] == 10][0]
for m in ("hit", "ndcg", "mrr"):
    assert abs(k10[m]["a"] - b["metrics"][m + "@10"]) < 1e-9 and abs(k10[m]["b"] - l["metrics"][m + "@10"]) < 1e-9, m
    assert abs(k10[m]["diff"] - (k10[m]["b"] - k10[m]["a"])) < 1e-12 and 0 <= k10[m]["p"] <= 1
assert k10["hit_only_b"] - k10["hit_only_a"] == round((k10["hit"]["b"] - k10["hit"]["a"]) * c["users"])
PY3
expect_rc 0 "compare a file with itself" "$MGSD" compare "$T/best.tsv" "$T/best.tsv"
grep -Eq "^  hit@10 .* \+0\.0000 .* 1$" "$T/out" && grep -q "only A 0, only B 0, p 1" "$T/out" \
    && ok "no difference, p 1" || { bad "self comparison"; cat "$T/out"; }
# Runs of each model as comma-separated lists: each pair as compare reports it alone, and the
# pairs' differences tested with the run as the unit (Student's t, runs - 1 df).
expect_rc 0 "compare --json (one pair)" "$MGSD" compare "$T/best.tsv" "$T/last.tsv" --topk=5,10 --json
cp "$T/out" "$T/pair.json"
expect_rc 0 "compare over 3 runs --json" "$MGSD" compare "$T/best.tsv,$T/last.tsv,$T/best.tsv" \
    "$T/last.tsv,$T/best.tsv,$T/last.tsv" --topk=5,10 --json
python3 - "$T/pair.json" "$T/out" <<'PY4' && ok "compare over runs: per-run figures and Student's t" || bad "compare over runs"
import json, math, sys
p, r = (json.load(open(f)) for f in sys.argv[1:3])
assert r["runs"] == 3 and len(r["a"]) == 3 and r["users"] == p["users"]
for kp, kr in zip(p["k"], r["k"]):
    assert kr["per_run"][0] == {k: v for k, v in kp.items() if k != "k"}
    ov = kr["over_runs"]
    assert ov["df"] == 2
    for m in ("hit", "ndcg", "mrr"):
        d = [e[m]["diff"] for e in kr["per_run"]]
        assert abs(d[1] + d[0]) < 1e-12 and abs(d[2] - d[0]) < 1e-12, d
        mean = sum(d) / 3
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
        assert abs(ov[m]["diff"] - mean) < 1e-12 and abs(ov[m]["sd"] - sd) < 1e-12, (m, ov[m])
        if sd > 0:
            t = mean / (sd / math.sqrt(3))
            assert abs(ov[m]["t"] - t) < 1e-9 and abs(ov[m]["p"] - (1 - abs(t) / math.sqrt(2 + t * t))) < 1e-9, ov[m]
        else:
            assert ov[m]["p"] == 1, ov[m]
PY4
expect_rc 0 "compare over 2 identical runs" "$MGSD" compare "$T/best.tsv,$T/best.tsv" "$T/best.tsv,$T/best.tsv" --topk=10
grep -q "Student's t with 1 degree of freedom" "$T/out" && grep -Eq "^  hit@10 .*\+0\.0000 .* 1$" "$T/out" \
    && ok "identical runs: no difference, p 1" || { bad "compare over identical runs"; cat "$T/out"; }
cp "$T/best.tsv" "$T/best,copy.tsv"
expect_rc 0 "compare a file whose name holds a comma" "$MGSD" compare "$T/best,copy.tsv" "$T/best.tsv"
grep -q "best,copy.tsv" "$T/out" && ! grep -q "runs of each model" "$T/out" && ok "a comma in an existing file's name: one file" \
    || { bad "comma in a file name"; cat "$T/out"; }
expect_rc 2 "compare 2 runs against 1" "$MGSD" compare "$T/best.tsv,$T/last.tsv" "$T/best.tsv"; expect_err "2 rank files for A but 1 for B"
expect_rc 2 "compare with an empty path in a list" "$MGSD" compare "$T/best.tsv,,$T/last.tsv" "$T/best.tsv"; expect_err "none empty"
expect_rc 0 "eval --ranks valid" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --split=valid --ranks="$T/valid.tsv"
expect_rc 1 "compare test against valid ranks" "$MGSD" compare "$T/best.tsv" "$T/valid.tsv"; expect_err "has target item"
expect_rc 1 "compare runs on another split" "$MGSD" compare "$T/best.tsv,$T/valid.tsv" "$T/last.tsv,$T/valid.tsv"
expect_err "has target item"
expect_rc 2 "compare with one file" "$MGSD" compare "$T/best.tsv"; expect_err "two rank files"
expect_rc 2 "compare --topk=0" "$MGSD" compare "$T/best.tsv" "$T/best.tsv" --topk=0; expect_err "key 'topk': cut-off 0"
expect_rc 1 "compare a file that is not a rank file" "$MGSD" compare "$T/best.tsv" "$T/s.inter"; expect_err "s.inter:1: not a rank file"

# eval_mode: the target against N sampled negatives (RecBole's uniN / popN); never below full ranking
expect_rc 0 "eval --eval_mode=uni20 --json" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --eval_mode=uni20 --json
cp "$T/out" "$T/uni20.json"
expect_rc 0 "eval --json (full)" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --json
python3 - "$T/uni20.json" "$T/out" <<'PY2' && ok "uni20: eval_mode recorded, hit@K >= full ranking" || { bad "uni20 json"; cat "$T/uni20.json"; }
import json, sys
s, f = (json.loads(open(p).read()) for p in sys.argv[1:])
assert s["eval_mode"] == "uni20" and f["eval_mode"] == "full"
assert all(s["metrics"][k] >= f["metrics"][k] - 1e-12 for k in f["metrics"] if k.startswith("hit@")), (s, f)
assert s["metrics"]["hit@20"] > f["metrics"]["hit@20"]
PY2
expect_rc 0 "eval --eval_mode=pop20" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --eval_mode=pop20
grep -q "20 sampled negatives, pop20" "$T/out" && ok "eval names the sampled mode" || { bad "sampled header"; cat "$T/out"; }
expect_rc 0 "train --eval_mode=uni20" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/cku" --eval_mode=uni20
grep -q "^evaluation: eval_mode=uni20" "$T/out" && grep -q '"eval_mode":[[:space:]]*"uni20"' "$T/cku/results.json" \
    && ok "train announces and records the sampled mode" || { bad "train eval_mode"; cat "$T/out"; }
expect_rc 2 "bad eval_mode" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --eval_mode=uni; expect_err "eval_mode"
expect_rc 2 "eval_mode with more negatives than items" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --eval_mode=uni500
expect_err "500 negatives needs at least 501 items"

# eval_mask_history: the user's history items leave its target's ranking (ICLRec's protocol)
expect_rc 0 "eval --json --ranks (RecBole ranking)" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --json --ranks="$T/all.tsv"
cp "$T/out" "$T/all.json"
expect_rc 0 "eval --eval_mask_history=true --json --ranks" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" \
    --eval_mask_history=true --json --ranks="$T/masked.tsv"
python3 - "$T/all.json" "$T/out" "$T/all.tsv" "$T/masked.tsv" <<'PY4' && ok "masked history: recorded, no rank worse, some better" || { bad "eval_mask_history"; cat "$T/out"; }
import json, sys
a, m = (json.loads(open(p).read()) for p in sys.argv[1:3])
assert a["eval_mask_history"] is False and m["eval_mask_history"] is True
assert all(m["metrics"][k] >= a["metrics"][k] - 1e-12 for k in a["metrics"]), (a, m)
def ranks(p):
    rows = [l.split("\t") for l in open(p).read().splitlines() if l and not l.startswith(("#", "user"))]
    return {r[0]: (r[1], int(r[2])) for r in rows}
ra, rm = ranks(sys.argv[3]), ranks(sys.argv[4])
assert ra.keys() == rm.keys() and all(ra[u][0] == rm[u][0] for u in ra)
assert all(rm[u][1] <= ra[u][1] for u in ra) and any(rm[u][1] < ra[u][1] for u in ra)
PY4
expect_rc 0 "eval --eval_mask_history=true" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --eval_mask_history=true
grep -q "; history items masked)" "$T/out" && ok "eval says the history is masked" || { bad "masked header"; cat "$T/out"; }
expect_rc 2 "eval_mask_history=maybe" "$MGSD" eval --checkpoint="$T/ck/$MODEL-best.ckpt" --eval_mask_history=maybe
expect_err "eval_mask_history"
expect_rc 0 "train --eval_mask_history=true" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ckm" --eval_mask_history=true
grep -q "^evaluation: eval_mask_history=true" "$T/out" && grep -q '"eval_mask_history":[[:space:]]*true' "$T/ckm/results.json" \
    && ok "train announces and records the masked history" || { bad "train eval_mask_history"; cat "$T/out"; }

USER=$(awk -F'\t' 'NR==2{print $1}' "$T/s.inter")
HIST=$(awk -F'\t' 'NR>=2 && NR<=6{printf "%s ", $2}' "$T/s.inter")
expect_rc 0 "recommend --user" "$MGSD" recommend --checkpoint="$T/ck/$MODEL-best.ckpt" --user="$USER" --topk=5
[ "$(grep -c '^ *[0-9]\+  ' "$T/out")" = 5 ] && ok "5 recommendations" || { bad "recommend output"; cat "$T/out"; }
expect_rc 0 "recommend --history --json" "$MGSD" recommend --checkpoint="$T/ck/$MODEL-best.ckpt" --history="$HIST" --json
grep -q '"items":\[{"item":' "$T/out" && ok "recommend json" || { bad "recommend json"; cat "$T/out"; }

# batch mode: every user to a file (atomic), the same items as one user at a time; a list of users
CK="$T/ck/$MODEL-best.ckpt"
expect_rc 0 "recommend --all-users --output" "$MGSD" recommend --checkpoint="$CK" --all-users --topk=5 --output="$T/all.tsv"
NU=$(awk -F'\t' 'NR>1{print $1}' "$T/s.inter" | sort -u | wc -l)
[ "$(head -1 "$T/all.tsv")" = "$(printf 'user_id\trank\titem_id\tscore')" ] && [ "$(wc -l < "$T/all.tsv")" = $((NU * 5 + 1)) ] \
    && ok "all.tsv: header and 5 lines for each of $NU users" || { bad "all.tsv shape"; head -3 "$T/all.tsv"; wc -l "$T/all.tsv"; }
ls "$T"/all.tsv.tmp* >/dev/null 2>&1 && bad "temporary file left behind" || ok "no temporary file left"
"$MGSD" recommend --checkpoint="$CK" --user="$USER" --topk=5 | awk 'NR>1{print $2}' > "$T/one.txt"
awk -F'\t' -v u="$USER" '$1==u{print $3}' "$T/all.tsv" > "$T/batch.txt"
cmp -s "$T/one.txt" "$T/batch.txt" && ok "batch items = single-user items" || { bad "batch vs single user"; paste "$T/one.txt" "$T/batch.txt"; }
printf '%s\n\n# a comment\n%s\n' "$USER" "$USER" > "$T/users.txt"
expect_rc 0 "recommend --users=FILE --json" "$MGSD" recommend --checkpoint="$CK" --users="$T/users.txt" --json --topk=3
[ "$(grep -c '^{"user":"'"$USER"'","items":\[{"item":' "$T/out")" = 2 ] && ok "one JSON line per listed user" || { bad "users file json"; cat "$T/out"; }
printf '%s\nno-such-user\n' "$USER" > "$T/users_bad.txt"
expect_rc 1 "unknown user in --users file" "$MGSD" recommend --checkpoint="$CK" --users="$T/users_bad.txt" --output="$T/bad.tsv"
expect_err "users_bad.txt:2: unknown user id 'no-such-user'"
[ ! -e "$T/bad.tsv" ] && ! ls "$T"/bad.tsv.tmp* >/dev/null 2>&1 && ok "no output file after an error" || bad "output left after an error"
expect_rc 2 "--output without batch mode" "$MGSD" recommend --checkpoint="$CK" --user="$USER" --output="$T/x.tsv"
expect_rc 2 "--all-users with --user" "$MGSD" recommend --checkpoint="$CK" --all-users --user="$USER"
expect_rc 1 "--output in a missing folder" "$MGSD" recommend --checkpoint="$CK" --all-users --output="$T/no/such/dir/x.tsv"; expect_err "x.tsv"

# metrics selects what is reported (RecBole names, any case); Precision@K = Hit@K / K
expect_rc 0 "train --metrics=[hit,Precision]" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ckm" --metrics="[hit,Precision]"
grep -q '"precision@10"' "$T/ckm/results.json" && ! grep -q '"ndcg@10"' "$T/ckm/results.json" && ok "results.json has only the selected metrics" || { bad "metrics selection"; cat "$T/ckm/results.json"; }
grep -q "^precision@10 " "$T/out" && ! grep -q "^mrr@10 " "$T/out" && ok "final table has only the selected metrics" || { bad "metrics table"; cat "$T/out"; }

# epochs=0 trains nothing: no validation ran, so the valid column is '-' (never nan) and no best model is claimed
expect_rc 0 "train --epochs=0" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=0 --checkpoint-dir="$T/ck0"
grep -q "^no epoch was validated" "$T/out" && grep -Eq "^hit@10 +- +[0-9.]+$" "$T/out" && ! grep -qi "nan" "$T/out" \
    && ok "epochs=0: valid column empty, no nan" || { bad "epochs=0 output"; cat "$T/out"; }
[ -f "$T/ck0/$MODEL-last.ckpt" ] && [ ! -e "$T/ck0/$MODEL-best.ckpt" ] && ! grep -q -- "-best.ckpt" "$T/out" \
    && grep -q '"best_valid":[[:space:]]*null' "$T/ck0/results.json" && ok "epochs=0: last checkpoint only, best_valid null" \
    || bad "epochs=0 checkpoints/results"

# errors
expect_rc 2 "unknown metric" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ckm2" --metrics="[Hit,AUC]"; expect_err "AUC"
expect_rc 2 "valid_metric outside topk" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ckv" --topk=5,10; expect_err "'hit@20' needs 20 among the cut-offs of 'topk'"
[ ! -e "$T/ckv" ] && ok "refused before writing a checkpoint dir" || bad "checkpoint dir made for a refused run"
expect_rc 2 "unknown model" "$MGSD" train --model=NoSuchModel --dataset="$T/s.inter"; expect_err "NoSuchModel"
expect_rc 2 "wrong type" "$MGSD" train --model="$MODEL" --dataset="$T/s.inter" --learning_rate=fast; expect_err "expects a float"
expect_rc 0 "--checkpoint-dir twice: the last wins" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ckA" --checkpoint-dir="$T/ckB"
[ -f "$T/ckB/$MODEL-last.ckpt" ] && [ ! -e "$T/ckA" ] && ok "checkpoints in the last --checkpoint-dir" || bad "--checkpoint-dir twice"
expect_rc 0 "unknown key warns" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ck3" --no_such_key=1; expect_err "unknown key 'no_such_key'"
expect_rc 1 "memory_limit below one step's activations" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ckmem" --memory_limit=0.01
expect_err "activations: no room for"; expect_err "above its limit of 10.2 MiB (memory_limit"
expect_rc 2 "memory_limit < 0" "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/ckmem" --memory_limit=-1; expect_err "'memory_limit' must be in"
expect_rc 1 "missing dataset" "$MGSD" train --model="$MODEL" --dataset="$T/none.inter"; expect_err "none.inter"
expect_rc 2 "no model" "$MGSD" train --dataset="$T/s.inter"
expect_rc 1 "unknown user" "$MGSD" recommend --checkpoint="$T/ck/$MODEL-best.ckpt" --user=no-such-user; expect_err "unknown user id 'no-such-user'"
expect_rc 1 "unknown history item" "$MGSD" recommend --checkpoint="$T/ck/$MODEL-best.ckpt" --history="no-such-item"; expect_err "unknown item id"
expect_rc 2 "user and history" "$MGSD" recommend --checkpoint="$T/ck/$MODEL-best.ckpt" --user=1 --history=1
expect_rc 1 "missing checkpoint" "$MGSD" eval --checkpoint="$T/missing.ckpt"; expect_err "missing.ckpt"
head -c 2000 "$T/ck/$MODEL-best.ckpt" >"$T/trunc.ckpt"
expect_rc 1 "truncated checkpoint" "$MGSD" eval --checkpoint="$T/trunc.ckpt"; expect_err "truncated"
expect_rc 0 "train --help lists keys" "$MGSD" train --model="$MODEL" --help
grep -q "learning_rate .*float" "$T/out" && ok "help has typed keys" || bad "help table"

# Ctrl-C saves a resumable last checkpoint; resume finishes the run
"$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=100000 --stopping_step=100000 --checkpoint-dir="$T/int" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 50); do grep -q "^epoch 0" "$T/out" && break; sleep 0.1; done
kill -INT $pid; wait $pid; rc=$?
[ "$rc" = 130 ] && ok "SIGINT exits 130" || { bad "SIGINT rc $rc"; cat "$T/err"; }
expect_err "resume"
[ -f "$T/int/$MODEL-last.ckpt" ] && ok "last checkpoint on SIGINT" || bad "no last checkpoint"
N=$(grep -c "^epoch" "$T/out")
expect_rc 0 "resume" "$MGSD" train --resume="$T/int/$MODEL-last.ckpt" --epochs=$((N + 1)) --checkpoint-dir="$T/int"
grep -q "^resuming" "$T/out" && ok "resume message" || bad "resume output"

# SIGTERM is handled like Ctrl-C
"$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=100000 --stopping_step=100000 --checkpoint-dir="$T/term" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 50); do grep -q "^epoch 0" "$T/out" && break; sleep 0.1; done
# No handler may run on a computing thread (oneDNN's sgemm kernels point the stack pointer
# into the heap: a handler frame there corrupts it). So no thread catches SIGINT/SIGTERM
# with a handler, and every thread, OpenMP workers included, blocks them; one of them takes
# them with sigwait (inside which the kernel shows them unblocked for that thread only).
if [ -d "/proc/$pid/task" ]; then
    nt=0; unblocked=0; waiting=0
    for task in /proc/$pid/task/*; do
        blk=$(awk '/^SigBlk:/ {print $2}' "$task/status" 2>/dev/null) || continue
        [ -n "$blk" ] || continue
        nt=$((nt + 1))
        if [ $(( 0x$blk & 0x4002 )) != $(( 0x4002 )) ]; then
            w=$(cat "$task/wchan" 2>/dev/null || echo 0) # "0" where the kernel hides it
            if [ "${task##*/}" != "$pid" ] && { [ "$w" = 0 ] || [ "${w#*sigtimedwait}" != "$w" ]; }; then
                waiting=$((waiting + 1))
            else unblocked=$((unblocked + 1)); fi
        fi
    done
    cgt=$(awk '/^SigCgt:/ {print $2}' /proc/$pid/status)
    [ "$nt" -ge 2 ] && [ "$unblocked" = 0 ] && [ "$waiting" -le 1 ] \
        && ok "$nt threads: SIGINT and SIGTERM blocked in all but the one in sigwait ($waiting)" \
        || bad "$unblocked of $nt threads have SIGINT/SIGTERM unblocked outside sigwait ($waiting waiting)"
    [ $(( 0x$cgt & 0x4002 )) = 0 ] && ok "no SIGINT/SIGTERM handler" || bad "a SIGINT/SIGTERM handler is installed (SigCgt $cgt)"
fi
kill -TERM $pid; wait $pid; rc=$?
[ "$rc" = 130 ] && ok "SIGTERM exits 130" || { bad "SIGTERM rc $rc"; cat "$T/err"; }
[ -f "$T/term/$MODEL-last.ckpt" ] && ok "last checkpoint on SIGTERM" || bad "no last checkpoint on SIGTERM"

# Resume is bit-exact with the real model: 2 epochs straight == 1 epoch + resume 1 epoch
if command -v python3 >/dev/null; then
    PY="python3 $(dirname "$0")/ckpt_section.py"
    "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=2 --checkpoint-dir="$T/r2" >/dev/null 2>&1
    "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=1 --checkpoint-dir="$T/r1" >/dev/null 2>&1
    "$MGSD" train --resume="$T/r1/$MODEL-last.ckpt" --epochs=2 --checkpoint-dir="$T/r1" >/dev/null 2>&1
    for sec in params adam_m adam_v best_params; do
        a=$($PY "$T/r2/$MODEL-last.ckpt" $sec); b=$($PY "$T/r1/$MODEL-last.ckpt" $sec)
        [ -n "$a" ] && [ "$a" = "$b" ] && ok "resume bit-exact: $sec" || bad "resume differs in $sec"
    done
    # A run killed without warning (SIGKILL) resumes from the checkpoint written at the end
    # of every epoch and ends where a straight run of as many epochs ends. (The kill lands
    # after N epoch lines; the checkpoint holds N or N - 1 epochs; both resume to N + 1.)
    "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=100000 --stopping_step=100000 --checkpoint-dir="$T/k" >"$T/out" 2>"$T/err" &
    pid=$!
    for _ in $(seq 100); do grep -q "^epoch 1" "$T/out" && break; sleep 0.1; done
    kill -KILL $pid; wait $pid 2>/dev/null
    N=$(grep -c "^epoch" "$T/out")
    if [ -f "$T/k/$MODEL-last.ckpt" ] && [ "$N" -ge 1 ]; then
        ok "per-epoch checkpoint survives SIGKILL ($N epochs printed)"
        "$MGSD" train --resume="$T/k/$MODEL-last.ckpt" --epochs=$((N + 1)) --checkpoint-dir="$T/k" >"$T/out2" 2>&1
        "$MGSD" train --model="$MODEL" "${COMMON[@]}" --epochs=$((N + 1)) --stopping_step=100000 --checkpoint-dir="$T/r3" >/dev/null 2>&1
        a=$($PY "$T/r3/$MODEL-last.ckpt" params); b=$($PY "$T/k/$MODEL-last.ckpt" params)
        [ -n "$a" ] && [ "$a" = "$b" ] && ok "resume after SIGKILL bit-exact" || { bad "resume after SIGKILL differs"; cat "$T/out2"; }
    else
        bad "no checkpoint after SIGKILL"
    fi
fi

e2e_finish
