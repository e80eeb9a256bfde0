/* GRU4Rec (Hidasi et al. 2016; Tan et al. 2016) exactly as RecBole 1.1 `gru4rec.py`:
 *   x = dropout(item_embedding[s_i])                    (emb_dropout, dropout_prob)
 *   h = GRU(x)  num_layers stacked layers, hidden_size H, bias=False, h0 = 0
 *   u = dense(h[len - 1])                               (Linear H -> embedding_size)
 *   CE over u . item_embedding.weight^T (all N rows), or BPR with one sampled negative.
 * Init (RecBole _init_weights): item_embedding xavier_normal_ (row 0 included); the GRU
 * and dense layer are the MGSD sub-model's (backbone_declare_gru, same init and names).
 * RecBole applies the dense layer to every position and then gathers; applying it to the
 * gathered row only is the same function. */
#include "model/backbone.h"
#include "model/seqrec.h"
#include "ops/xent.h"

typedef struct gru4rec {
    int item_emb; /* [N, E] */
    backbone bb;  /* dropout, the GRU layers (hidden H) and the dense projection H -> E */
    int bpr;
} gru4rec;

static const mgsd_config_entry gru4rec_defaults[] = {
    {"embedding_size", MGSD_CONFIG_INT, "64", "item embedding size E (the MGSD reference uses d = 100)"},
    {"hidden_size", MGSD_CONFIG_INT, "128", "GRU hidden size H"},
    {"num_layers", MGSD_CONFIG_INT, "1", "stacked GRU layers"},
    {"dropout_prob", MGSD_CONFIG_FLOAT, "0.3", "dropout on the item embeddings"},
    {"loss_type", MGSD_CONFIG_STR, "CE", "CE (softmax over all items) or BPR (one sampled negative)"},
};

static mgsd_status gru4rec_create(mgsd_model *m, const mgsd_config *cfg, const model_info *info, mgsd_rng *rng) {
    int E, H, nl, bpr;
    float drop;
    MGSD_TRY(seqrec_get_int(cfg, "GRU4Rec", "embedding_size", 1, 1 << 16, &E));
    MGSD_TRY(seqrec_get_int(cfg, "GRU4Rec", "hidden_size", 1, 1 << 16, &H));
    MGSD_TRY(seqrec_get_int(cfg, "GRU4Rec", "num_layers", 1, BACKBONE_MAX_GRU_LAYERS, &nl));
    MGSD_TRY(seqrec_get_float(cfg, "GRU4Rec", "dropout_prob", 0, 1, 0, &drop));
    MGSD_TRY(seqrec_get_loss_type(cfg, "GRU4Rec", 1, &bpr));
    if (info->n_items < 2 || info->max_len < 1)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "GRU4Rec: needs n_items >= 2 and max_len >= 1 (got %d, %d)",
                          info->n_items, info->max_len);
    gru4rec *g = mgsd_calloc(1, sizeof *g);
    nn_table *tb = mgsd_malloc(sizeof *tb);
    if (!g || !tb) {
        mgsd_free(g);
        mgsd_free(tb);
        return mgsd_error(MGSD_ERR_NOMEM, "GRU4Rec: %s", mgsd_last_error());
    }
    nn_table_init(tb);
    nn_init xn = {PARAMS_INIT_XAVIER_NORMAL, 0};
    g->item_emb = nn_table_add_weight(tb, "", "item_embedding.weight", info->n_items, E, xn);
    backbone_declare_gru(&g->bb, tb, "", E, H, nl, drop);
    mgsd_status st = nn_table_build(tb, &m->params, rng);
    mgsd_free(tb);
    if (st != MGSD_OK) {
        mgsd_free(g);
        return st;
    }
    g->bpr = bpr;
    m->impl = g;
    return MGSD_OK;
}

static mgsd_tensor *gru4rec_forward(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    gru4rec *g = m->impl;
    if (!seqrec_check_nonempty(t, "GRU4Rec", b)) return NULL;
    ag_seqs seqs = {b->B, b->offs, b->L};
    mgsd_tensor *x = ag_embedding(t, params_get(&m->params, g->item_emb), b->items, b->offs[b->B]);
    return backbone_forward(&g->bb, t, &m->params, x, &seqs, NULL);
}

static mgsd_tensor *gru4rec_loss(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    gru4rec *g = m->impl;
    mgsd_tensor *u = gru4rec_forward(m, t, b);
    mgsd_tensor *E = params_get(&m->params, g->item_emb);
    if (g->bpr) return seqrec_bpr_loss(t, u, E, b->targets, b->B);
    return ag_softmax_xent(t, u, E, b->targets, 0);
}

static mgsd_status gru4rec_scores(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *scores) {
    gru4rec *g = m->impl;
    MGSD_CHECK_ARG(scores != NULL);
    MGSD_TRY(seqrec_check_batch(m, b));
    if (b->B == 0) return MGSD_OK;
    ag_tape_reset(t);
    mgsd_tensor *u = gru4rec_forward(m, t, b);
    MGSD_TRY(ag_status(t));
    mgsd_tensor *E = params_get(&m->params, g->item_emb);
    ops_scores(scores, u->data, E->data, b->B, E->shape[1], E->shape[0]);
    return MGSD_OK;
}

const model_vtable model_gru4rec = {
    "GRU4Rec",
    "GRU4Rec: GRU over the history, dense projection of the last state (RecBole gru4rec.py)",
    gru4rec_defaults,
    sizeof gru4rec_defaults / sizeof gru4rec_defaults[0],
    gru4rec_create,
    gru4rec_loss,
    gru4rec_scores,
    NULL,
    NULL, /* destroy: impl is one allocation */
    NULL, /* loss_parts: one term */
    NULL, /* train_stats */
};
