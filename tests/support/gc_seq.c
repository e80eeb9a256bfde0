/* Gradient-check rows for the seq ops (see tests/gradcheck.h).
 * Packed fixture: 3 sequences of lengths 1, 3, 4 (8 tokens).
 * gumbel_softmax_st: the row checks the soft output (hard = 0) with gumbel noise; the
 * hard output is piecewise constant in x, so its finite differences are 0 (or a jump)
 * and cannot match the straight-through gradient. test_ops_seq.c checks the hard path
 * separately: exact one-hot of argmax(ysoft) forward, and a gradient bit-identical to
 * the soft path's for the same noise. */
#include "autograd/ag_seq.h"
#include "gradcheck.h"

static const int32_t offs3[4] = {0, 1, 4, 8};
static const ag_seqs seqs3 = {3, offs3, 4};

static mgsd_tensor *gc_attention(gc_ctx *g, mgsd_tape *t) {
    return ag_attention(t, gc_input2(g, 8, 24), &seqs3, 2, 1, 0.0f);
}

static mgsd_tensor *gc_attention_bidir(gc_ctx *g, mgsd_tape *t) {
    return ag_attention(t, gc_input2(g, 8, 24), &seqs3, 2, 0, 0.0f);
}

static mgsd_tensor *gc_attention_dropout(gc_ctx *g, mgsd_tape *t) {
    t->training = 1; /* dropout masks from t->rng, reseeded by the runner per build */
    return ag_attention(t, gc_input2(g, 8, 24), &seqs3, 2, 1, 0.3f);
}

static const int32_t tgt_rep[6] = {3, 7, 3, 0, 49, 7};
static const int32_t tgt_nz[6] = {3, 7, 3, 1, 49, 7};

static mgsd_tensor *gc_softmax_xent(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *u = gc_input2(g, 6, 8), *E = gc_input2(g, 50, 8);
    return ag_softmax_xent(t, u, E, tgt_rep, 0);
}

static mgsd_tensor *gc_softmax_xent_excl(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *u = gc_input2(g, 6, 8), *E = gc_input2(g, 50, 8);
    return ag_softmax_xent(t, u, E, tgt_nz, 1);
}

static mgsd_tensor *gc_gumbel(gc_ctx *g, mgsd_tape *t) {
    return ag_gumbel_softmax_st(t, gc_input2(g, 5, 4), 0.7f, 0, 1);
}

static mgsd_tensor *gc_gumbel_det(gc_ctx *g, mgsd_tape *t) {
    return ag_gumbel_softmax_st(t, gc_input2(g, 5, 2), 0.5f, 0, 0);
}

static mgsd_tensor *gc_gru(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 8, 5), *wi = gc_input2(g, 9, 5), *wh = gc_input2(g, 9, 3);
    mgsd_tensor *b = gc_input2(g, 2, 9);
    return ag_gru(t, x, &seqs3, wi, wh, b);
}

static mgsd_tensor *gc_gru_nobias(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 8, 4), *wi = gc_input2(g, 6, 4), *wh = gc_input2(g, 6, 2);
    return ag_gru(t, x, &seqs3, wi, wh, NULL);
}

static mgsd_tensor *gc_last_token(gc_ctx *g, mgsd_tape *t) {
    return ag_last_token(t, gc_input2(g, 8, 5), &seqs3);
}

static mgsd_tensor *gc_pack(gc_ctx *g, mgsd_tape *t) {
    return ag_pack(t, gc_input(g, 3, (int[]){3, 5, 4}, 1.0f), &seqs3);
}

static mgsd_tensor *gc_unpack(gc_ctx *g, mgsd_tape *t) {
    return ag_unpack(t, gc_input2(g, 8, 4), &seqs3, 5);
}

/* Composite: the SASRec head path, attention -> last token -> CE. */
static mgsd_tensor *gc_attn_xent(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *a = ag_attention(t, gc_input2(g, 8, 24), &seqs3, 2, 1, 0.0f);
    mgsd_tensor *u = ag_last_token(t, a, &seqs3);
    static const int32_t tg[3] = {1, 2, 1};
    return ag_softmax_xent(t, u, gc_input2(g, 20, 8), tg, 0);
}

const gc_row gc_rows_seq[] = {
    {"attention", gc_attention, 0, 0, 0},
    {"attention_bidirectional", gc_attention_bidir, 0, 0, 0},
    {"attention_dropout", gc_attention_dropout, 0, 0, 0},
    {"softmax_xent", gc_softmax_xent, 0, 0, 0},
    {"softmax_xent_exclude0", gc_softmax_xent_excl, 0, 0, 0},
    {"gumbel_softmax_st", gc_gumbel, 0, 0, 0},
    {"gumbel_softmax_st_nonoise", gc_gumbel_det, 0, 0, 0},
    {"gru", gc_gru, 0, 0, 0},
    {"gru_nobias", gc_gru_nobias, 0, 0, 0},
    {"last_token", gc_last_token, 0, 0, 0},
    {"pack", gc_pack, 0, 0, 0},
    {"unpack", gc_unpack, 0, 0, 0},
    {"attention_last_token_xent", gc_attn_xent, 0, 0, 0},
    {NULL, NULL, 0, 0, 0},
};
