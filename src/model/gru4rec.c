/* GRU4Rec (Hidasi et al. 2016; Tan et al. 2016) exactly as RecBole 1.1 `gru4rec.py`:
 *   x = dropout(item_embedding[s_i])                    (emb_dropout, dropout_prob)
 *   h = GRU(x)  num_layers stacked layers, hidden_size H, bias=False, h0 = 0
 *   u = dense(h[len - 1])                               (Linear H -> embedding_size)
 *   CE over u . item_embedding.weight^T (all N rows), or BPR with one sampled negative.
 * Init (RecBole _init_weights): item_embedding xavier_normal_ (row 0 included);
 * weight_ih_l0 and weight_hh_l0 xavier_uniform_; deeper GRU layers keep PyTorch's GRU
 * default U(-1/sqrt(H), 1/sqrt(H)); dense keeps PyTorch's Linear default,
 * U(-1/sqrt(H), 1/sqrt(H)) for weight and bias (kaiming_uniform(a = sqrt(5))).
 * RecBole applies the dense layer to every position and then gathers; applying it to the
 * gathered row only is the same function. */
#include <math.h>
#include <stdio.h>

#include "model/seqrec.h"
#include "ops/xent.h"

#define GRU4REC_MAX_LAYERS 8

typedef struct gru4rec {
    int item_emb;                        /* [N, E] */
    int w_ih[GRU4REC_MAX_LAYERS];        /* [3H, E] (layer 0) or [3H, H] */
    int w_hh[GRU4REC_MAX_LAYERS];        /* [3H, H] */
    int dense_w, dense_b;                /* [E, H], [E] */
    int n_layers;
    float dropout;
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
    MGSD_TRY(seqrec_get_int(cfg, "GRU4Rec", "num_layers", 1, GRU4REC_MAX_LAYERS, &nl));
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
        return mgsd_error(MGSD_ERR_NOMEM, "GRU4Rec: out of memory");
    }
    nn_table_init(tb);
    nn_init xn = {PARAMS_INIT_XAVIER_NORMAL, 0};
    g->item_emb = nn_table_add_weight(tb, "", "item_embedding.weight", info->n_items, E, xn);
    float kg = 1.0f / sqrtf((float)H);
    for (int l = 0; l < nl; l++) {
        int in = l == 0 ? E : H;
        char nm[64];
        /* xavier_uniform_: bound sqrt(6 / (fan_in + fan_out)) on layer 0 */
        float bih = l == 0 ? sqrtf(6.0f / (float)(in + 3 * H)) : kg;
        float bhh = l == 0 ? sqrtf(6.0f / (float)(H + 3 * H)) : kg;
        int sih[2] = {3 * H, in}, shh[2] = {3 * H, H};
        snprintf(nm, sizeof nm, "gru_layers.weight_ih_l%d", l);
        g->w_ih[l] = nn_table_add(tb, "", nm, 2, sih, PARAMS_INIT_UNIFORM, -bih, bih);
        snprintf(nm, sizeof nm, "gru_layers.weight_hh_l%d", l);
        g->w_hh[l] = nn_table_add(tb, "", nm, 2, shh, PARAMS_INIT_UNIFORM, -bhh, bhh);
    }
    int sd[2] = {E, H}, sb[1] = {E};
    g->dense_w = nn_table_add(tb, "", "dense.weight", 2, sd, PARAMS_INIT_UNIFORM, -kg, kg);
    g->dense_b = nn_table_add(tb, "", "dense.bias", 1, sb, PARAMS_INIT_UNIFORM, -kg, kg);
    mgsd_status st = nn_table_build(tb, &m->params, rng);
    mgsd_free(tb);
    if (st != MGSD_OK) {
        mgsd_free(g);
        return st;
    }
    g->n_layers = nl;
    g->dropout = drop;
    g->bpr = bpr;
    m->impl = g;
    return MGSD_OK;
}

static mgsd_tensor *gru4rec_forward(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    gru4rec *g = m->impl;
    if (!seqrec_check_nonempty(t, "GRU4Rec", b)) return NULL;
    ag_seqs seqs = {b->B, b->offs, b->L};
    mgsd_tensor *x = ag_embedding(t, params_get(&m->params, g->item_emb), b->items, b->offs[b->B]);
    x = ag_dropout(t, x, t->training ? g->dropout : 0.0f);
    for (int l = 0; l < g->n_layers; l++)
        x = ag_gru(t, x, &seqs, params_get(&m->params, g->w_ih[l]), params_get(&m->params, g->w_hh[l]), NULL);
    x = ag_last_token(t, x, &seqs);
    return ag_linear(t, x, params_get(&m->params, g->dense_w), params_get(&m->params, g->dense_b));
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

static void gru4rec_destroy(mgsd_model *m) {
    mgsd_free(m->impl);
    m->impl = NULL;
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
    gru4rec_destroy,
    NULL, /* loss_parts: one term */
};
