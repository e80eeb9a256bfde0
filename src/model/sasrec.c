/* SASRec (Kang & McAuley, ICDM 2018) exactly as RecBole 1.1 `sasrec.py`:
 *   x = dropout(LayerNorm(item_embedding[s_i] + position_embedding[i]))   i = 0..len-1
 *   h = TransformerEncoder(x) with the causal (lower-triangular) + padding mask
 *   u = h[len - 1]                                  (gather_indexes(output, len - 1))
 *   CE:  loss = mean_b CE(u_b . item_embedding.weight^T, target_b)  over all N rows,
 *        padding row 0 included (as RecBole)
 *   BPR: loss = mean_b -log(1e-10 + sigmoid(<u,E[pos]> - <u,E[neg]>)), one uniform negative
 * Sequences are packed (no padding tokens), so the padding mask is implicit. Every
 * Embedding and Linear weight is normal(0, initializer_range), including embedding row
 * 0 (RecBole's _init_weights overwrites the padding row too); biases 0, LayerNorm 1/0.
 * Shapes: N items (0 = padding), C = hidden_size, L = MAX_ITEM_LIST_LENGTH. */
#include <string.h>

#include "model/seqrec.h"
#include "ops/xent.h"

typedef struct sasrec {
    int item_emb, pos_emb; /* [N, C], [L, C] */
    nn_layernorm ln;
    nn_transformer tr;
    float hidden_drop;
    int bpr;
} sasrec;

static const mgsd_config_entry sasrec_defaults[] = {
    {"hidden_size", MGSD_CONFIG_INT, "64", "hidden size C (RecBole 64; the MGSD reference runs use 100)"},
    {"inner_size", MGSD_CONFIG_INT, "256", "feed-forward size (RecBole 256; the MGSD reference uses inner = d)"},
    {"n_layers", MGSD_CONFIG_INT, "2", "transformer blocks"},
    {"n_heads", MGSD_CONFIG_INT, "2", "attention heads (must divide hidden_size)"},
    {"hidden_dropout_prob", MGSD_CONFIG_FLOAT, "0.5", "dropout on embeddings and block outputs"},
    {"attn_dropout_prob", MGSD_CONFIG_FLOAT, "0.5", "dropout on attention probabilities"},
    {"hidden_act", MGSD_CONFIG_STR, "gelu", "feed-forward activation: gelu|relu"},
    {"layer_norm_eps", MGSD_CONFIG_FLOAT, "1e-12", "LayerNorm epsilon"},
    {"initializer_range", MGSD_CONFIG_FLOAT, "0.02", "std of the normal weight init"},
    {"loss_type", MGSD_CONFIG_STR, "CE", "CE (softmax over all items) or BPR (one sampled negative)"},
};

static mgsd_status sasrec_create(mgsd_model *m, const mgsd_config *cfg, const model_info *info, mgsd_rng *rng) {
    nn_transformer_cfg tc;
    int bpr;
    MGSD_TRY(seqrec_get_transformer(cfg, "SASRec", &tc));
    MGSD_TRY(seqrec_get_loss_type(cfg, "SASRec", 1, &bpr));
    if (info->n_items < 2 || info->max_len < 1)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "SASRec: needs n_items >= 2 and max_len >= 1 (got %d, %d)",
                          info->n_items, info->max_len);
    sasrec *s = mgsd_calloc(1, sizeof *s);
    nn_table *tb = mgsd_malloc(sizeof *tb);
    if (!s || !tb) {
        mgsd_free(s);
        mgsd_free(tb);
        return mgsd_error(MGSD_ERR_NOMEM, "SASRec: %s", mgsd_last_error());
    }
    nn_table_init(tb);
    s->item_emb = nn_table_add_weight(tb, "", "item_embedding.weight", info->n_items, tc.C, tc.init);
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
    s->bpr = bpr;
    m->impl = s;
    return MGSD_OK;
}

/* u[B, C]: the encoder output at each row's last item. */
static mgsd_tensor *sasrec_forward(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, ag_seqs *seqs) {
    sasrec *s = m->impl;
    if (!seqrec_check_nonempty(t, "SASRec", b)) return NULL;
    int ntok = b->offs[b->B];
    int32_t *pos = seqrec_positions(t, b->offs, b->B, m->info.max_len);
    if (!pos) return NULL;
    seqs->B = b->B;
    seqs->offs = b->offs;
    seqs->max_len = b->L;
    mgsd_tensor *x = ag_add(t, ag_embedding(t, params_get(&m->params, s->item_emb), b->items, ntok),
                            ag_embedding(t, params_get(&m->params, s->pos_emb), pos, ntok));
    x = ag_dropout(t, nn_layernorm_forward(&s->ln, t, &m->params, x), t->training ? s->hidden_drop : 0.0f);
    return nn_transformer_forward_last(&s->tr, t, &m->params, x, seqs, 1);
}

static mgsd_tensor *sasrec_loss(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    sasrec *s = m->impl;
    ag_seqs seqs;
    mgsd_tensor *u = sasrec_forward(m, t, b, &seqs);
    mgsd_tensor *E = params_get(&m->params, s->item_emb);
    if (s->bpr) return seqrec_bpr_loss(t, u, E, b->targets, b->B);
    return ag_softmax_xent(t, u, E, b->targets, 0);
}

static mgsd_status sasrec_scores(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *scores) {
    sasrec *s = m->impl;
    MGSD_CHECK_ARG(scores != NULL);
    MGSD_TRY(seqrec_check_batch(m, b));
    if (b->B == 0) return MGSD_OK;
    ag_tape_reset(t);
    ag_seqs seqs;
    mgsd_tensor *u = sasrec_forward(m, t, b, &seqs);
    MGSD_TRY(ag_status(t));
    mgsd_tensor *E = params_get(&m->params, s->item_emb);
    ops_scores(scores, u->data, E->data, b->B, E->shape[1], E->shape[0]);
    return MGSD_OK;
}

const model_vtable model_sasrec = {
    "SASRec",
    "SASRec: causal transformer over the history, next item from the last position (RecBole sasrec.py)",
    sasrec_defaults,
    sizeof sasrec_defaults / sizeof sasrec_defaults[0],
    sasrec_create,
    sasrec_loss,
    sasrec_scores,
    NULL,
    NULL, /* destroy: impl is one allocation */
    NULL, /* loss_parts: one term */
    NULL, /* train_stats */
};
