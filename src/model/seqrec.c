/* Helpers shared by the baseline models (see seqrec.h). */
#include "model/seqrec.h"

#include <string.h>

mgsd_status seqrec_get_int(const mgsd_config *cfg, const char *model, const char *key, int lo, int hi, int *out) {
    MGSD_TRY(mgsd_config_get_int(cfg, key, out));
    if (*out < lo || *out > hi)
        return mgsd_error(MGSD_ERR_CONFIG, "%s: config key '%s' = %d outside [%d, %d]", model, key, *out, lo, hi);
    return MGSD_OK;
}

mgsd_status seqrec_get_float(const mgsd_config *cfg, const char *model, const char *key, double lo, double hi,
                             int hi_closed, float *out) {
    double v;
    MGSD_TRY(mgsd_config_get_float(cfg, key, &v));
    if (!(v >= lo) || !(hi_closed ? v <= hi : v < hi))
        return mgsd_error(MGSD_ERR_CONFIG, "%s: config key '%s' = %g outside [%g, %g%c", model, key, v, lo, hi,
                          hi_closed ? ']' : ')');
    *out = (float)v;
    return MGSD_OK;
}

mgsd_status seqrec_get_loss_type(const mgsd_config *cfg, const char *model, int allow_bpr, int *bpr) {
    const char *s;
    MGSD_TRY(mgsd_config_get_str(cfg, "loss_type", &s));
    if (!strcmp(s, "CE")) *bpr = 0;
    else if (allow_bpr && !strcmp(s, "BPR")) *bpr = 1;
    else
        return mgsd_error(MGSD_ERR_CONFIG, "%s: config key 'loss_type' = '%s' (expected %s)", model, s,
                          allow_bpr ? "CE or BPR" : "CE");
    return MGSD_OK;
}

mgsd_status seqrec_get_transformer_layers(const mgsd_config *cfg, const char *model, const char *width_key,
                                          nn_transformer_cfg *tc) {
    MGSD_TRY(seqrec_get_int(cfg, model, "n_layers", 1, NN_MAX_LAYERS, &tc->n_layers));
    MGSD_TRY(seqrec_get_int(cfg, model, "n_heads", 1, 1 << 16, &tc->NH));
    if (tc->C % tc->NH != 0)
        return mgsd_error(MGSD_ERR_CONFIG, "%s: config key '%s' = %d is not a multiple of 'n_heads' = %d", model,
                          width_key, tc->C, tc->NH);
    MGSD_TRY(seqrec_get_int(cfg, model, "inner_size", 1, 1 << 20, &tc->inner));
    MGSD_TRY(seqrec_get_float(cfg, model, "hidden_dropout_prob", 0, 1, 0, &tc->hidden_drop));
    MGSD_TRY(seqrec_get_float(cfg, model, "attn_dropout_prob", 0, 1, 0, &tc->attn_drop));
    MGSD_TRY(seqrec_get_float(cfg, model, "layer_norm_eps", 0, 1, 1, &tc->ln_eps));
    const char *act;
    MGSD_TRY(mgsd_config_get_str(cfg, "hidden_act", &act));
    if (nn_act_parse(act, &tc->act) != MGSD_OK)
        return mgsd_error(MGSD_ERR_CONFIG, "%s: config key 'hidden_act' = '%s' (supported: gelu, relu)", model, act);
    return MGSD_OK;
}

mgsd_status seqrec_get_transformer(const mgsd_config *cfg, const char *model, nn_transformer_cfg *tc) {
    memset(tc, 0, sizeof *tc);
    MGSD_TRY(seqrec_get_int(cfg, model, "hidden_size", 1, 1 << 16, &tc->C));
    MGSD_TRY(seqrec_get_transformer_layers(cfg, model, "hidden_size", tc));
    tc->init.weight = PARAMS_INIT_NORMAL;
    MGSD_TRY(seqrec_get_float(cfg, model, "initializer_range", 0, 1e30, 0, &tc->init.std));
    return MGSD_OK;
}

int32_t *seqrec_positions(mgsd_tape *t, const int32_t *offs, int B, int max_len) {
    int32_t *pos = ag_scratch_i32(t, offs[B] > 0 ? offs[B] : 1);
    if (!pos) return NULL;
    for (int b = 0; b < B; b++) {
        int len = offs[b + 1] - offs[b];
        if (len > max_len) {
            ag_fail(t, MGSD_ERR_SHAPE, "row %d has %d items, more than the model's max length %d", b, len, max_len);
            return NULL;
        }
        for (int i = 0; i < len; i++) pos[offs[b] + i] = i;
    }
    return pos;
}

int seqrec_check_nonempty(mgsd_tape *t, const char *model, const mgsd_batch *b) {
    for (int r = 0; r < b->B; r++)
        if (b->offs[r + 1] == b->offs[r]) {
            ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: batch row %d has an empty history", model, r);
            return 0;
        }
    return 1;
}

mgsd_tensor *seqrec_bpr_loss(mgsd_tape *t, mgsd_tensor *u, mgsd_tensor *E, const int32_t *targets, int B) {
    if (!u || !E) return NULL;
    int V = E->shape[0];
    if (V < 3) return ag_fail(t, MGSD_ERR_INVALID_ARG, "BPR needs at least 2 real items (V = %d)", V);
    int32_t *neg = ag_scratch_i32(t, B);
    if (!neg) return NULL;
    for (int b = 0; b < B; b++) {
        int32_t n;
        do n = 1 + (int32_t)mgsd_rng_below(&t->rng, (uint64_t)(V - 1));
        while (n == targets[b]);
        neg[b] = n;
    }
    mgsd_tensor *ps = ag_sum_rows(t, ag_mul(t, u, ag_embedding(t, E, targets, B)));
    mgsd_tensor *ns = ag_sum_rows(t, ag_mul(t, u, ag_embedding(t, E, neg, B)));
    mgsd_tensor *l = ag_log(t, ag_add_scalar(t, ag_sigmoid(t, ag_sub(t, ps, ns)), 1e-10f));
    return ag_scale(t, ag_mean(t, l), -1.0f, 0.0f);
}

mgsd_status seqrec_check_batch(const mgsd_model *m, const mgsd_batch *b) {
    MGSD_CHECK_ARG(b != NULL && b->B >= 0);
    for (int r = 0; r < b->B; r++) {
        int len = b->offs[r + 1] - b->offs[r];
        if (len > m->info.max_len)
            return mgsd_error(MGSD_ERR_SHAPE, "%s: batch row %d has %d items, more than MAX_ITEM_LIST_LENGTH %d",
                              m->vt->name, r, len, m->info.max_len);
    }
    return MGSD_OK;
}
