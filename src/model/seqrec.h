/* Helpers shared by the baseline models (sasrec.c, bert4rec.c, gru4rec.c): reading and
 * range-checking hyper-parameters with errors that name the key, RecBole's transformer
 * keys, position ids of packed sequences and RecBole's BPR loss. Internal to src/model. */
#ifndef MGSD_MODEL_SEQREC_H
#define MGSD_MODEL_SEQREC_H

#include "model/model.h"
#include "nn/nn.h"

/* cfg[key] as an int in [lo, hi]; MGSD_ERR_CONFIG naming the key otherwise. */
mgsd_status seqrec_get_int(const mgsd_config *cfg, const char *model, const char *key, int lo, int hi, int *out);
/* cfg[key] as a float in [lo, hi) (hi_closed: [lo, hi]). */
mgsd_status seqrec_get_float(const mgsd_config *cfg, const char *model, const char *key, double lo, double hi,
                             int hi_closed, float *out);
/* loss_type: "CE" -> 0, "BPR" -> 1 (when allow_bpr), anything else MGSD_ERR_CONFIG. */
mgsd_status seqrec_get_loss_type(const mgsd_config *cfg, const char *model, int allow_bpr, int *bpr);

/* RecBole TransformerEncoder keys: n_layers, n_heads, hidden_size, inner_size,
 * hidden_dropout_prob, attn_dropout_prob, hidden_act, layer_norm_eps, initializer_range.
 * The weight init is normal(0, initializer_range). Errors name the key. */
mgsd_status seqrec_get_transformer(const mgsd_config *cfg, const char *model, nn_transformer_cfg *tc);
/* The same keys but the width and the init: tc->C is given (its key named width_key in the
 * heads error); reads n_layers, n_heads, inner_size, the two dropouts, hidden_act and
 * layer_norm_eps into tc. */
mgsd_status seqrec_get_transformer_layers(const mgsd_config *cfg, const char *model, const char *width_key,
                                          nn_transformer_cfg *tc);

/* Position ids 0..len_b-1 of every packed token (arena scratch, lives until the next
 * ag_tape_reset); NULL with the tape error set when a length exceeds max_len. */
int32_t *seqrec_positions(mgsd_tape *t, const int32_t *offs, int B, int max_len);

/* Fails the tape naming the first row with an empty history (SASRec and GRU4Rec read the
 * output at position len - 1). Returns 1 if all rows are non-empty. */
int seqrec_check_nonempty(mgsd_tape *t, const char *model, const mgsd_batch *b);

/* RecBole BPRLoss with one negative per row: mean(-log(1e-10 + sigmoid(<u,E[pos]> -
 * <u,E[neg]>))), the negative drawn uniformly from 1..V-1 excluding the target (RecBole's
 * SeqSampler resamples collisions with the positive item), from t->rng. */
mgsd_tensor *seqrec_bpr_loss(mgsd_tape *t, mgsd_tensor *u, mgsd_tensor *E, const int32_t *targets, int B);

/* Checks shared by every scores(): batch width within the model's max_len. */
mgsd_status seqrec_check_batch(const mgsd_model *m, const mgsd_batch *b);

#endif
