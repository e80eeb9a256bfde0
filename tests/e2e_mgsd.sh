#!/usr/bin/env bash
# End-to-end MGSD: train on tiny synthetic data with planted noise, explain (text and
# JSON), eval with injected noise and the noise-detection report, and the error paths.
# Usage: e2e_mgsd.sh path/to/mgsd
set -u
MGSD=${1:?usage: e2e_mgsd.sh path/to/mgsd}
. "$(dirname "$0")/support/e2e_lib.sh" mgsd

"$MGSD" synth --out="$T/s.inter" --users=120 --items=60 --min-len=6 --max-len=12 --noise=0.2 --seed=3 >/dev/null \
    || { echo "synth failed"; exit 1; }
SMALL=(--embedding_size=16 --transformer_encoder_dim_feedforward=32 --transformer_encoder_layers=1 --n_layers=1
       --inner_size=16 --train_batch_size=64 --MAX_ITEM_LIST_LENGTH=20 --threads=2)
expect_rc 0 "train MGSD (SASRec sub-model) 1 epoch" "$MGSD" train --model=MGSD --sub_model=SASRec \
    --dataset="$T/s.inter" --epochs=1 --checkpoint-dir="$T/ck" "${SMALL[@]}"
has "^epoch 0 .*valid hit@10" out
has "^epoch 0 .* lr 0.001 " out
# the loss terms: in the epoch line, and in results.json summing (weighted) to the loss
has "^epoch 0  loss [0-9.]* (rec [0-9.]* aux [0-9.]* item_cl [0-9.]* interest_cl [0-9.]*)  \[" out
python3 -c "
import json; r = json.load(open('$T/ck/results.json')); e = r['epochs'][0]; p = e['loss_parts']; c = r['config']
w = p['rec'] + c['reweight_loss_gamma'] * p['aux'] + c['reweight_loss_zeta'] * p['item_cl'] + c['reweight_loss_eta'] * p['interest_cl']
assert list(p) == ['rec', 'aux', 'item_cl', 'interest_cl'] and abs(w - e['loss']) < 1e-4 * e['loss'], (p, e['loss'], w)" \
    && ok "results.json loss_parts sum to the loss" || bad "loss_parts"
# the training statistics: in the epoch line and results.json, shares and an AUC in [0, 1]
has "^epoch 0 .*)  \[kept [0-9.]* inserted_flagged [0-9.]* original_flagged [0-9.]* inserted_auc [0-9.]*\]  train" out
python3 -c "
import json; s = json.load(open('$T/ck/results.json'))['epochs'][0]['train_stats']
assert list(s) == ['kept', 'inserted_flagged', 'original_flagged', 'inserted_auc'] and all(0 <= v <= 1 for v in s.values()), s
assert 0 < s['kept'] < 1, s  # the reference samples its keep flags from the probabilities" \
    && ok "results.json train_stats" || bad "train_stats"
CK="$T/ck/MGSD-best.ckpt"
# The reference schedule: lr x (T - e) / T at epoch e, T = int(train instances / batch size).
expect_rc 0 "train MGSD 3 epochs (epoch_linear schedule)" "$MGSD" train --model=MGSD --sub_model=GRU4Rec \
    --dataset="$T/s.inter" --epochs=3 --checkpoint-dir="$T/ck3" "${SMALL[@]}"
python3 -c "
import json; r = json.load(open('$T/ck3/results.json')); lr = [e['lr'] for e in r['epochs']]
T = r['dataset']['train_instances'] // 64
assert len(lr) == 3 and all(abs(lr[e] - 0.001 * (T - e) / T) < 1e-12 for e in range(3)) and lr[2] < lr[0], (lr, T)" && ok "results.json lr follows the per-epoch linear schedule" || bad "epoch_linear lr"

U=$(awk 'NR==2{print $1}' "$T/s.inter")
expect_rc 0 "explain --user" "$MGSD" explain --checkpoint="$CK" --user="$U" --topk=3
has "p(clean)" out
has "selected" out
has "top 3" out
expect_rc 0 "explain --threads=1" "$MGSD" explain --checkpoint="$CK" --history="1 2 3" --threads=1
has "p(clean)" out
expect_rc 2 "recommend --threads=x is a config error" "$MGSD" recommend --checkpoint="$CK" --history="1 2" --threads=x
has "threads" err
# keep_threshold: the inference rule, settable after training (only each history's last item passes 0.999999)
expect_rc 0 "explain --keep_threshold" "$MGSD" explain --checkpoint="$CK" --history="1 2 3" --keep_threshold=0.999999
has "3 history items read (newest last), 1 kept as clean" out
expect_rc 0 "eval --keep_threshold" "$MGSD" eval --checkpoint="$CK" --keep_threshold=0.999999 --inject-noise=0.2
has "p_clean <= 0.999999: dropped" out
expect_rc 2 "recommend --keep_threshold=1 is a config error" "$MGSD" recommend --checkpoint="$CK" --history="1 2" \
    --keep_threshold=1
has "keep_threshold=1 (expected a probability strictly between 0 and 1)" err
expect_rc 0 "explain --history --json" "$MGSD" explain --checkpoint="$CK" --history="1 2 3" --json
has '"clean_probability"' out
has '"clean_margin"' out
has '"interests"' out
has '"items"' out
python3 -c "import json,sys; d=json.load(open('$T/out')); assert len(d['history'])==3 and len(d['interests'])==5" \
    && ok "explain JSON parses, 3 history items, 5 interests" || bad "explain JSON content"

expect_rc 0 "eval with injected noise and noise detection" "$MGSD" eval --checkpoint="$CK" --inject-noise=0.2 --json
has '"inject_noise"' out
has '"noise_detection"' out
python3 -c "import json; d=json.load(open('$T/out')); n=d['noise_detection']; assert 0<=n['auc']<=1 and n['noise']>0 and d['inserted_items']>0" \
    && ok "noise report values" || bad "noise report values"
python3 -c "
import json; d=json.load(open('$T/out')); n=d['injected_noise_detection']
assert 0 <= n['auc'] <= 1 and 0 < n['noise'] <= d['inserted_items'] and n['interactions'] > n['noise'], n" \
    && ok "injected-noise detection: labels count the inserted items the scorer saw" || bad "injected-noise detection values"
expect_rc 0 "eval --inject-noise text report" "$MGSD" eval --checkpoint="$CK" --inject-noise=0.2
has "noise detection (injected items" out
expect_rc 0 "eval --inject-noise=0 equals plain eval" "$MGSD" eval --checkpoint="$CK" --inject-noise=0
grep -v "histories with injected\|noise detection\|precision\|split of" "$T/out" > "$T/a"
"$MGSD" eval --checkpoint="$CK" 2>/dev/null | grep -v "noise detection\|precision\|split of" > "$T/b"
cmp -s "$T/a" "$T/b" && ok "ratio 0 leaves metrics unchanged" || { bad "ratio 0 changed metrics"; diff "$T/a" "$T/b"; }

# errors
expect_rc 2 "inject-noise out of range" "$MGSD" eval --checkpoint="$CK" --inject-noise=1.5
has "inject-noise" err
expect_rc 2 "explain without --user/--history" "$MGSD" explain --checkpoint="$CK"
expect_rc 1 "explain unknown user" "$MGSD" explain --checkpoint="$CK" --user=no-such-user
expect_rc 2 "unknown sub_model" "$MGSD" train --model=MGSD --sub_model=Caser --dataset="$T/s.inter" --epochs=1 \
    --checkpoint-dir="$T/ck2" "${SMALL[@]}"
has "sub_model" err
"$MGSD" train --model=SASRec --dataset="$T/s.inter" --epochs=1 --checkpoint-dir="$T/ck3" --hidden_size=16 \
    --inner_size=16 --n_layers=1 --MAX_ITEM_LIST_LENGTH=20 >/dev/null 2>&1
expect_rc 1 "explain on a SASRec checkpoint" "$MGSD" explain --checkpoint="$T/ck3/SASRec-best.ckpt" --user="$U"
has "needs an MGSD checkpoint" err

e2e_finish
