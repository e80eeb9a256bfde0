/* BERT4Rec (Sun et al., CIKM 2019) exactly as RecBole 1.1 `bert4rec.py` with its
 * MaskItemSequence transform (recbole/data/transform.py):
 *   item_embedding [N+1, C] (row N = mask token), position_embedding [L, C],
 *   x = dropout(LayerNorm(item_embedding[s_i] + position_embedding[i])),
 *   h = bidirectional TransformerEncoder(x) (padding mask only).
 * Training (cloze): every history item is replaced by the mask token with probability
 * mask_ratio (one uniform draw per item from t->rng, oldest first). Of a row's masked
 * positions only the LAST K = int(mask_ratio * L) count (RecBole pads/truncates the
 * index list to K), and a masked position 0 never counts (RecBole weighs terms by
 * masked_index > 0). loss = mean over counted positions of
 *   CE(h_p . item_embedding.weight[:N]^T, original item at p)   (no output bias).
 * The training instance's target item is not used (RecBole 1.1 masks the history only).
 * Evaluation (reconstruct_test_data + gather at len - 1): the input is
 *   history[1:] + [MASK]   (positions 0..len-1)
 * i.e. RecBole drops the oldest item of EVERY row (not only full rows), and the scores
 * are h[len - 1] . item_embedding.weight[:N]^T.
 * Differences forced by edge cases RecBole cannot handle: a batch with no counted
 * masked position gives loss 0 (RecBole: 0/0 = NaN); an empty history is scored from
 * [MASK] alone. Init: every Embedding/Linear weight normal(0, initializer_range). */
#include <string.h>

#include "model/seqrec.h"
#include "ops/xent.h"

typedef struct bert4rec {
    int item_emb, pos_emb; /* [N+1, C], [L, C] */
    nn_layernorm ln;
    nn_transformer tr;
    float hidden_drop;
    float mask_ratio;
    int mask_len;          /* K = int(mask_ratio * L) */
    mgsd_tensor E_items;   /* view of item_embedding rows 0..N-1 (data and grad shared) */
} bert4rec;

static const mgsd_config_entry bert4rec_defaults[] = {
    {"hidden_size", MGSD_CONFIG_INT, "64", "hidden size C (RecBole 64; the MGSD reference runs use 100)"},
    {"inner_size", MGSD_CONFIG_INT, "256", "feed-forward size (RecBole 256; the MGSD reference uses inner = d)"},
    {"n_layers", MGSD_CONFIG_INT, "2", "transformer blocks"},
    {"n_heads", MGSD_CONFIG_INT, "2", "attention heads (must divide hidden_size)"},
    {"hidden_dropout_prob", MGSD_CONFIG_FLOAT, "0.2",
     "dropout on embeddings and block outputs (RecBole 0.2; the MGSD reference uses 0.5)"},
    {"attn_dropout_prob", MGSD_CONFIG_FLOAT, "0.2",
     "dropout on attention probabilities (RecBole 0.2; the MGSD reference uses 0.5)"},
    {"hidden_act", MGSD_CONFIG_STR, "gelu", "feed-forward activation: gelu|relu"},
    {"layer_norm_eps", MGSD_CONFIG_FLOAT, "1e-12", "LayerNorm epsilon"},
    {"initializer_range", MGSD_CONFIG_FLOAT, "0.02", "std of the normal weight init"},
    {"mask_ratio", MGSD_CONFIG_FLOAT, "0.2", "probability of masking each history item in training"},
    {"loss_type", MGSD_CONFIG_STR, "CE", "CE (softmax over all items; BPR is not implemented for BERT4Rec)"},
};

static mgsd_status bert4rec_create(mgsd_model *m, const mgsd_config *cfg, const model_info *info, mgsd_rng *rng) {
    nn_transformer_cfg tc;
    int bpr;
    double ratio;
    MGSD_TRY(seqrec_get_transformer(cfg, "BERT4Rec", &tc));
    MGSD_TRY(seqrec_get_loss_type(cfg, "BERT4Rec", 0, &bpr));
    MGSD_TRY(mgsd_config_get_float(cfg, "mask_ratio", &ratio));
    if (info->n_items < 2 || info->max_len < 1)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "BERT4Rec: needs n_items >= 2 and max_len >= 1 (got %d, %d)",
                          info->n_items, info->max_len);
    int K = ratio > 0 && ratio <= 1 ? (int)(ratio * info->max_len) : 0;
    if (K < 1)
        return mgsd_error(MGSD_ERR_CONFIG,
                          "BERT4Rec: config key 'mask_ratio' = %g must lie in (0, 1] with int(mask_ratio * "
                          "MAX_ITEM_LIST_LENGTH) >= 1 (MAX_ITEM_LIST_LENGTH = %d)",
                          ratio, info->max_len);
    bert4rec *s = mgsd_calloc(1, sizeof *s);
    nn_table *tb = mgsd_malloc(sizeof *tb);
    if (!s || !tb) {
        mgsd_free(s);
        mgsd_free(tb);
        return mgsd_error(MGSD_ERR_NOMEM, "BERT4Rec: %s", mgsd_last_error());
    }
    nn_table_init(tb);
    s->item_emb = nn_table_add_weight(tb, "", "item_embedding.weight", info->n_items + 1, tc.C, tc.init);
    s->pos_emb = nn_table_add_weight(tb, "", "position_embedding.weight", info->max_len, tc.C, tc.init);
    mgsd_status st = nn_transformer_declare(&s->tr, tb, "trm_encoder.", &tc);
    nn_layernorm_declare(&s->ln, tb, "LayerNorm", tc.C, tc.ln_eps);
    if (st == MGSD_OK) st = nn_table_build(tb, &m->params, rng);
    mgsd_free(tb);
    if (st != MGSD_OK) {
        mgsd_free(s);
        return st;
    }
    s->hidden_drop = tc.hidden_drop;
    s->mask_ratio = (float)ratio;
    s->mask_len = K;
    m->impl = s;
    return MGSD_OK;
}

/* Encoder output [Ntok, C] of packed token ids tok (values in [0, N]); last_only: only each
 * sequence's last token, [B, C]. */
static mgsd_tensor *bert4rec_encode(mgsd_model *m, mgsd_tape *t, const int32_t *tok, const ag_seqs *seqs,
                                    int last_only) {
    bert4rec *s = m->impl;
    int ntok = seqs->offs[seqs->B];
    int32_t *pos = seqrec_positions(t, seqs->offs, seqs->B, m->info.max_len);
    if (!pos) return NULL;
    mgsd_tensor *x = ag_add(t, ag_embedding(t, params_get(&m->params, s->item_emb), tok, ntok),
                            ag_embedding(t, params_get(&m->params, s->pos_emb), pos, ntok));
    x = ag_dropout(t, nn_layernorm_forward(&s->ln, t, &m->params, x), t->training ? s->hidden_drop : 0.0f);
    return last_only ? nn_transformer_forward_last(&s->tr, t, &m->params, x, seqs, 0)
                     : nn_transformer_forward(&s->tr, t, &m->params, x, seqs, 0);
}

static mgsd_tensor *bert4rec_items_view(mgsd_model *m) {
    bert4rec *s = m->impl;
    mgsd_tensor *E = params_get(&m->params, s->item_emb);
    int shape[2] = {m->info.n_items, E->shape[1]};
    ag_tensor_wrap(&s->E_items, E->data, E->grad, 2, shape);
    return &s->E_items;
}

static mgsd_tensor *bert4rec_loss(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    bert4rec *s = m->impl;
    int B = b->B, ntok = b->offs[B], N = m->info.n_items;
    int32_t *tok = ag_scratch_i32(t, ntok > 0 ? ntok : 1);
    int32_t *gidx = ag_scratch_i32(t, ntok > 0 ? ntok : 1);
    int32_t *tgt = ag_scratch_i32(t, ntok > 0 ? ntok : 1);
    if (!tok || !gidx || !tgt) return NULL;
    int M = 0, max_len = 0;
    for (int r = 0; r < B; r++) {
        int o = b->offs[r], len = b->offs[r + 1] - o;
        if (len > max_len) max_len = len;
        for (int i = 0; i < len; i++) {
            int32_t it = b->items[o + i];
            tok[o + i] = mgsd_rng_uniform(&t->rng) < s->mask_ratio ? N : it;
        }
        /* the last K masked positions of the row count, except position 0 */
        int kept = 0;
        for (int i = len - 1; i >= 0 && kept < s->mask_len; i--) {
            if (tok[o + i] != N) continue;
            kept++;
            if (i == 0) continue;
            gidx[M] = o + i;
            tgt[M] = b->items[o + i];
            M++;
        }
    }
    ag_seqs seqs = {B, b->offs, max_len};
    mgsd_tensor *h = bert4rec_encode(m, t, tok, &seqs, 0);
    mgsd_tensor *E = bert4rec_items_view(m);
    if (M == 0) { /* nothing to predict: loss 0 (RecBole would give NaN) */
        gidx[0] = 0;
        tgt[0] = b->items[0];
        return ag_scale(t, ag_softmax_xent(t, ag_gather_rows(t, h, gidx, 1), E, tgt, 0), 0.0f, 0.0f);
    }
    return ag_softmax_xent(t, ag_gather_rows(t, h, gidx, M), E, tgt, 0);
}

static mgsd_status bert4rec_scores(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *scores) {
    MGSD_CHECK_ARG(scores != NULL);
    MGSD_TRY(seqrec_check_batch(m, b));
    if (b->B == 0) return MGSD_OK;
    ag_tape_reset(t);
    int B = b->B, ntok = b->offs[B], N = m->info.n_items;
    /* history[1:] + [MASK]: one token per row more than the history minus one */
    int32_t *offs = ag_scratch_i32(t, B + 1);
    int32_t *tok = ag_scratch_i32(t, ntok + B + 1);
    MGSD_TRY(ag_status(t));
    offs[0] = 0;
    int max_len = 1;
    for (int r = 0; r < B; r++) {
        int o = b->offs[r], len = b->offs[r + 1] - o, w = offs[r];
        for (int i = 1; i < len; i++) tok[w++] = b->items[o + i];
        tok[w++] = N;
        offs[r + 1] = w;
        if (w - offs[r] > max_len) max_len = w - offs[r];
    }
    ag_seqs seqs = {B, offs, max_len};
    mgsd_tensor *u = bert4rec_encode(m, t, tok, &seqs, 1);
    MGSD_TRY(ag_status(t));
    mgsd_tensor *E = bert4rec_items_view(m);
    ops_scores(scores, u->data, E->data, B, E->shape[1], N);
    return MGSD_OK;
}

const model_vtable model_bert4rec = {
    "BERT4Rec",
    "BERT4Rec: bidirectional transformer trained by masked-item prediction (RecBole bert4rec.py)",
    bert4rec_defaults,
    sizeof bert4rec_defaults / sizeof bert4rec_defaults[0],
    bert4rec_create,
    bert4rec_loss,
    bert4rec_scores,
    NULL,
    NULL, /* destroy: impl is one allocation */
    NULL, /* loss_parts: one term */
    NULL, /* train_stats */
};
