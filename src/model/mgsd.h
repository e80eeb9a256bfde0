/* MGSD-WSS internals exposed for tests and tools (the model itself is used through the
 * vtable `model_mgsd`, see model.h). */
#ifndef MGSD_MODEL_MGSD_H
#define MGSD_MODEL_MGSD_H

#include "model/model.h"

extern const model_vtable model_mgsd;

/* Weak-supervision augmentation (spec section 3, L_aux): for every packed history
 * (items, offs[B+1], each at most L long) insert T items drawn uniformly from 1..N-1 at T
 * distinct positions drawn uniformly from 0..len+T-1, then keep the newest L. Writes the
 * packed result (out_items, out_offs[B+1]) and labels (1 original, 0 inserted).
 * out_items/labels hold sum_b min(len_b + T, L) entries; scratch 2 (L + T) + 1 int32. */
mgsd_status mgsd_augment(mgsd_rng *rng, const int32_t *items, const int32_t *offs, int B, int L, int T, int N,
                         int32_t *out_items, int32_t *out_offs, float *labels, int32_t *scratch);

/* The four loss terms of a training batch, unweighted: [0] L_rec, [1] L_aux, [2] L_item,
 * [3] L_int (NULL when switched off). */
/* Weak-label detection figures of n augmented tokens: logits [n, 2] (clean, noise), lab 1
 * for an original item and 0 for an inserted one. out: the share of inserted items flagged
 * (clean-minus-noise margin <= keep_logit, what inference drops), the share of originals
 * flagged, and the AUC of the margins (mgsd_eval_noise; NaN where a class is empty or a
 * margin is NaN). score, noisy: n entries of scratch; ws: mgsd_eval_noise_workspace_size(n)
 * bytes. */
void mgsd_weak_label_stats(const float *logits, const float *lab, int64_t n, float keep_logit, float *score,
                           uint8_t *noisy, void *ws, double out[3]);
mgsd_status mgsd_loss_terms(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, mgsd_tensor *terms[4]);
/* Tests: make the hard keep/interest selections constants (no straight-through gradient),
 * so that finite differences and backpropagation compute the same derivative. */
void mgsd_set_detach_flags(mgsd_model *m, int detach);
/* Current (annealed) gumbel and contrastive temperatures. */
void mgsd_get_temperatures(const mgsd_model *m, float *tau_g, float *tau_c);

/* What the model decided for a batch of histories (evaluation mode, deterministic unless
 * eval_sampling=gumbel): per history token the clean probability p0, the keep flag and
 * the clean margin l0 - l1 - ln(thr / (1 - thr)) = ln(p0 / (1 - p0)) - ln(thr / (1 - thr)) from
 * the discriminator's logits, thr = keep_threshold (> 0 iff the item is kept; it keeps its
 * order where p0 rounds to 0 or 1 in float);
 * per row and prototype the interest weight w, the readout probability a0 and the
 * selection flag. Arrays are caller-owned: clean/keep hold batch->offs[B] entries,
 * weight/readout/select hold B * K. */
typedef struct mgsd_explanation {
    int K;
    float *clean, *keep;
    float *weight, *readout, *select;
    float *margin;
} mgsd_explanation;
int mgsd_interest_count(const mgsd_model *m);
mgsd_status mgsd_explain(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, mgsd_explanation *out);

/* Clean scores for noise detection: the clean margin (see mgsd_explanation; > 0
 * iff p0 > keep_threshold, i.e. the item is kept) of every interaction of ds in its CSR order
 * (mgsd_dataset_user_offsets), evaluation mode: each user's whole sequence is cut into
 * consecutive chunks of at most L items that the discriminator reads like histories.
 * out holds num_interactions floats. */
mgsd_status mgsd_clean_scores(mgsd_model *m, mgsd_tape *t, const mgsd_dataset *ds, float *out);

/* Clean margin of every token of a batch (evaluation mode), out[batch->offs[B]]; batches
 * of any size, read in forward passes of at most MODEL_SCORE_CHUNK rows. */
mgsd_status mgsd_batch_clean_scores(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *out);

#endif
