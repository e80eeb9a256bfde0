/* Autograd wrappers for the sequence, fused and recurrent ops: argument checks, arena
 * buffers, forward call, node recording, and the matching ag_bwd_* functions. */
#include "autograd/ag_seq.h"

#include <math.h>
#include <string.h>

#include "ops/attention.h"
#include "ops/gru.h"
#include "ops/gumbel.h"
#include "ops/seq.h"
#include "ops/xent.h"

/* Validates a packed batch against a tensor of ntok rows; 0 (error recorded) if bad. */
static int seqs_ok(mgsd_tape *t, const char *op, const ag_seqs *s, int64_t ntok) {
    if (!s || !s->offs) {
        ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: seqs or seqs->offs is NULL", op);
        return 0;
    }
    if (s->B <= 0) {
        ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: seqs->B is %d (must be > 0)", op, s->B);
        return 0;
    }
    if (s->offs[0] != 0) {
        ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: offs[0] is %d, expected 0", op, (int)s->offs[0]);
        return 0;
    }
    for (int b = 0; b < s->B; b++) {
        int len = s->offs[b + 1] - s->offs[b];
        if (len < 0) {
            ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: offsets not monotone: offs[%d]=%d > offs[%d]=%d", op, b,
                    (int)s->offs[b], b + 1, (int)s->offs[b + 1]);
            return 0;
        }
        if (len > s->max_len) {
            ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: sequence %d has length %d > max_len %d", op, b, len, s->max_len);
            return 0;
        }
    }
    if (s->offs[s->B] != ntok) {
        ag_fail(t, MGSD_ERR_SHAPE, "%s: last offset offs[%d]=%d but the input has %lld rows", op, s->B,
                (int)s->offs[s->B], (long long)ntok);
        return 0;
    }
    return 1;
}

/* ---- attention ------------------------------------------------------------------- */
mgsd_tensor *ag_attention(mgsd_tape *t, mgsd_tensor *qkv, const ag_seqs *s, int NH, int causal, float attn_drop) {
    if (!qkv) return NULL;
    if (qkv->ndim != 2) return ag_fail(t, MGSD_ERR_SHAPE, "attention: qkv must be 2-D [Ntok,3C], got rank %d", qkv->ndim);
    int C3 = qkv->shape[1], C = C3 / 3;
    if (C3 % 3 != 0) return ag_fail(t, MGSD_ERR_SHAPE, "attention: qkv has %d columns, not a multiple of 3 (q|k|v)", C3);
    if (NH <= 0 || C % NH != 0)
        return ag_fail(t, MGSD_ERR_INVALID_ARG, "attention: hidden size %d not divisible by n_heads %d", C, NH);
    if (!(attn_drop >= 0.0f && attn_drop < 1.0f))
        return ag_fail(t, MGSD_ERR_INVALID_ARG, "attention: attn_drop %g outside [0,1)", (double)attn_drop);
    if (!seqs_ok(t, "attention", s, qkv->shape[0])) return NULL;
    int B = s->B;
    int64_t *aoff = (int64_t *)ag_scratch(t, 2 * ((int64_t)B + 1));
    if (!aoff) return NULL;
    int64_t natt = ops_attention_offsets(aoff, s->offs, B, NH);
    float *att = ag_scratch(t, natt);
    int dropping = t->training && attn_drop > 0.0f;
    float *drop = dropping ? ag_scratch(t, natt) : NULL;
    float *scratch = ag_scratch(t, ops_attention_scratch_floats(s->max_len)); /* seqs_ok: lengths <= max_len */
    mgsd_tensor *ins[1] = {qkv};
    mgsd_tensor *y = ag_out(t, 2, (int[]){qkv->shape[0], C}, ins, 1);
    if (!y || !att || !scratch || (dropping && !drop)) return NULL;
    if (dropping) ops_attention_dropout_mask(drop, aoff, s->offs, B, NH, attn_drop, mgsd_rng_u64(&t->rng));
    ops_attention_forward(y->data, att, scratch, qkv->data, drop, s->offs, aoff, B, C, NH, causal);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_attention, y);
        if (!nd) return NULL;
        nd->in[0] = qkv;
        nd->saved[0] = att;
        nd->saved[1] = drop;
        nd->saved[2] = (float *)(void *)aoff; /* int64 offsets; only ever read as int64 */
        nd->idx[0] = s->offs;
        nd->i[0] = B;
        nd->i[1] = NH;
        nd->i[2] = causal;
        nd->i[3] = s->max_len;
    }
    return y;
}

void ag_bwd_attention(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *qkv = nd->in[0];
    if (!qkv->grad) return;
    float *scratch = ag_scratch(t, ops_attention_scratch_floats((int)nd->i[3]));
    if (!scratch) return;
    ops_attention_backward(qkv->grad, scratch, nd->out->grad, qkv->data, nd->saved[0], nd->saved[1], nd->idx[0],
                           (const int64_t *)(void *)nd->saved[2], (int)nd->i[0], qkv->shape[1] / 3, (int)nd->i[1],
                           (int)nd->i[2]);
}

/* ---- softmax cross-entropy -------------------------------------------------------- */
mgsd_tensor *ag_softmax_xent(mgsd_tape *t, mgsd_tensor *u, mgsd_tensor *E, const int32_t *targets, int exclude0) {
    if (!u || !E) return NULL;
    if (u->ndim != 2 || E->ndim != 2)
        return ag_fail(t, MGSD_ERR_SHAPE, "softmax_xent: u and E must be 2-D, got ranks %d and %d", u->ndim, E->ndim);
    int B = u->shape[0], C = u->shape[1], V = E->shape[0];
    if (E->shape[1] != C)
        return ag_fail(t, MGSD_ERR_SHAPE, "softmax_xent: u has %d columns but E has %d", C, E->shape[1]);
    if (!targets) return ag_fail(t, MGSD_ERR_INVALID_ARG, "softmax_xent: targets is NULL");
    for (int b = 0; b < B; b++)
        if (targets[b] < (exclude0 ? 1 : 0) || targets[b] >= V)
            return ag_fail(t, MGSD_ERR_INVALID_ARG, "softmax_xent: target[%d] = %d outside [%d, %d)", b,
                           (int)targets[b], exclude0 ? 1 : 0, V);
    float *G = ag_scratch(t, (int64_t)B * V);
    mgsd_tensor *ins[2] = {u, E};
    mgsd_tensor *y = ag_out(t, 1, (int[]){1}, ins, 2);
    if (!y || !G) return NULL;
    double loss = ops_softmax_xent_forward(G, u->data, E->data, targets, B, C, V, exclude0);
    y->data[0] = (float)loss;
    if (!isfinite(loss)) return ag_fail(t, MGSD_ERR_NUMERIC, "softmax_xent: loss is %g", loss);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_softmax_xent, y);
        if (!nd) return NULL;
        nd->in[0] = u;
        nd->in[1] = E;
        nd->saved[0] = G;
    }
    return y;
}

void ag_bwd_softmax_xent(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *u = nd->in[0], *E = nd->in[1];
    ops_softmax_xent_backward(u->grad, E->grad, nd->saved[0], u->data, E->data, nd->out->grad[0], u->shape[0],
                              u->shape[1], E->shape[0]);
}

/* ---- gumbel-softmax --------------------------------------------------------------- */
mgsd_tensor *ag_gumbel_softmax_st(mgsd_tape *t, mgsd_tensor *x, float tau, int hard, int noise) {
    if (!x) return NULL;
    if (!(tau > 0.0f) || !isfinite(tau))
        return ag_fail(t, MGSD_ERR_INVALID_ARG, "gumbel_softmax_st: temperature %g must be > 0", (double)tau);
    int K = ag_cols(x);
    int64_t N = ag_rows(x);
    float *ysoft = ag_scratch(t, x->n);
    float *g = noise ? ag_scratch(t, x->n) : NULL;
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = ag_out(t, x->ndim, x->shape, ins, 1);
    if (!y || !ysoft || (noise && !g)) return NULL;
    if (noise) ops_gumbel_noise(g, x->n, &t->rng);
    ops_gumbel_softmax_forward(y->data, ysoft, x->data, g, N, K, tau, hard);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_gumbel_softmax_st, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->saved[0] = ysoft;
        nd->f[0] = tau;
    }
    return y;
}

void ag_bwd_gumbel_softmax_st(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0];
    if (x->grad)
        ops_gumbel_softmax_backward(x->grad, nd->out->grad, nd->saved[0], ag_rows(x), ag_cols(x), nd->f[0]);
}

/* ---- GRU -------------------------------------------------------------------------- */
mgsd_tensor *ag_gru(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s, mgsd_tensor *w_ih, mgsd_tensor *w_hh,
                    mgsd_tensor *b) {
    if (!x || !w_ih || !w_hh) return NULL;
    if (x->ndim != 2) return ag_fail(t, MGSD_ERR_SHAPE, "gru: x must be 2-D [Ntok,C], got rank %d", x->ndim);
    if (w_hh->ndim != 2 || w_hh->shape[0] != 3 * w_hh->shape[1])
        return ag_fail(t, MGSD_ERR_SHAPE, "gru: w_hh must be [3H,H], got %dx%d", w_hh->shape[0], w_hh->shape[1]);
    int H = w_hh->shape[1], C = x->shape[1];
    if (w_ih->ndim != 2 || w_ih->shape[0] != 3 * H || w_ih->shape[1] != C)
        return ag_fail(t, MGSD_ERR_SHAPE, "gru: w_ih must be [3H,C] = [%d,%d], got %dx%d", 3 * H, C, w_ih->shape[0],
                       w_ih->ndim == 2 ? w_ih->shape[1] : -1);
    if (b && b->n != 6 * (int64_t)H)
        return ag_fail(t, MGSD_ERR_SHAPE, "gru: bias must be [2,3H] = %d elements, got %lld", 6 * H, (long long)b->n);
    if (!seqs_ok(t, "gru", s, x->shape[0])) return NULL;
    int64_t N = x->shape[0];
    int B = s->B, T = s->max_len;
    int32_t *tm_off = ag_scratch_i32(t, T + 1), *tm_tok = ag_scratch_i32(t, N), *order = ag_scratch_i32(t, B);
    float *hprev = ag_scratch(t, N * H), *gates = ag_scratch(t, N * 4 * H);
    mgsd_tensor *ins[4] = {x, w_ih, w_hh, b};
    mgsd_tensor *y = ag_out(t, 2, (int[]){(int)N, H}, ins, 4);
    if (!tm_off || !tm_tok || !order || !hprev || !gates || !y) return NULL;
    mgsd_arena_mark mk = mgsd_arena_get_mark(&t->arena);
    float *gi = ag_scratch(t, N * 3 * H), *gh = ag_scratch(t, (int64_t)B * 3 * H);
    if (!gi || !gh) return NULL;
    ops_gru_plan(tm_off, tm_tok, order, s->offs, B, T);
    ops_gru_forward(y->data, hprev, gates, gi, gh, x->data, w_ih->data, w_hh->data, b ? b->data : NULL,
                    b ? b->data + 3 * H : NULL, tm_off, tm_tok, N, T, C, H);
    mgsd_arena_set_mark(&t->arena, mk); /* gi, gh are forward-only scratch */
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_gru, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->in[1] = w_ih;
        nd->in[2] = w_hh;
        nd->in[3] = b;
        nd->saved[0] = hprev;
        nd->saved[1] = gates;
        nd->idx[0] = tm_off;
        nd->idx[1] = tm_tok;
        nd->i[0] = T;
    }
    return y;
}

void ag_bwd_gru(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *w_ih = nd->in[1], *w_hh = nd->in[2], *b = nd->in[3];
    int64_t N = x->shape[0];
    int C = x->shape[1], H = w_hh->shape[1];
    float *dh = ag_scratch(t, N * H), *dgi = ag_scratch(t, N * 3 * H), *dgh = ag_scratch(t, N * 3 * H);
    if (!dh || !dgi || !dgh) return;
    float *db = b ? b->grad : NULL;
    ops_gru_backward(x->grad, w_ih->grad, w_hh->grad, db, db ? db + 3 * H : NULL, dh, dgi, dgh, nd->out->grad,
                     x->data, w_ih->data, w_hh->data, nd->saved[0], nd->saved[1], nd->idx[0], nd->idx[1], N,
                     (int)nd->i[0], C, H);
}

/* ---- layout moves ----------------------------------------------------------------- */
mgsd_tensor *ag_last_token(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s) {
    if (!x) return NULL;
    if (x->ndim != 2) return ag_fail(t, MGSD_ERR_SHAPE, "last_token: x must be 2-D [Ntok,C], got rank %d", x->ndim);
    if (!seqs_ok(t, "last_token", s, x->shape[0])) return NULL;
    for (int b = 0; b < s->B; b++)
        if (s->offs[b + 1] == s->offs[b])
            return ag_fail(t, MGSD_ERR_INVALID_ARG, "last_token: sequence %d is empty", b);
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = ag_out(t, 2, (int[]){s->B, x->shape[1]}, ins, 1);
    if (!y) return NULL;
    ops_last_token_forward(y->data, x->data, s->offs, s->B, x->shape[1]);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_last_token, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->idx[0] = s->offs;
        nd->i[0] = s->B;
    }
    return y;
}

void ag_bwd_last_token(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0];
    if (x->grad) ops_last_token_backward(x->grad, nd->out->grad, nd->idx[0], (int)nd->i[0], x->shape[1]);
}

mgsd_tensor *ag_pack(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s) {
    if (!x) return NULL;
    if (x->ndim != 3) return ag_fail(t, MGSD_ERR_SHAPE, "pack: x must be 3-D [B,T,C], got rank %d", x->ndim);
    int B = x->shape[0], T = x->shape[1], C = x->shape[2];
    if (!s || !s->offs) return ag_fail(t, MGSD_ERR_INVALID_ARG, "pack: seqs or seqs->offs is NULL");
    if (s->B != B) return ag_fail(t, MGSD_ERR_SHAPE, "pack: x has %d sequences, seqs has %d", B, s->B);
    if (s->max_len > T) return ag_fail(t, MGSD_ERR_SHAPE, "pack: max_len %d exceeds padded length %d", s->max_len, T);
    if (!seqs_ok(t, "pack", s, s->offs[B])) return NULL;
    if (s->offs[B] <= 0) return ag_fail(t, MGSD_ERR_EMPTY, "pack: the batch has no tokens");
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = ag_out(t, 2, (int[]){s->offs[B], C}, ins, 1);
    if (!y) return NULL;
    ops_seq_copy(y->data, x->data, s->offs, B, T, C, 0, 0);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_pack, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->idx[0] = s->offs;
    }
    return y;
}

void ag_bwd_pack(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0];
    if (x->grad) /* padded -> packed forward, so the gradient goes packed -> padded */
        ops_seq_copy(x->grad, nd->out->grad, nd->idx[0], x->shape[0], x->shape[1], x->shape[2], 1, 1);
}

mgsd_tensor *ag_unpack(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s, int T) {
    if (!x) return NULL;
    if (x->ndim != 2) return ag_fail(t, MGSD_ERR_SHAPE, "unpack: x must be 2-D [Ntok,C], got rank %d", x->ndim);
    if (!seqs_ok(t, "unpack", s, x->shape[0])) return NULL;
    if (s->max_len > T) return ag_fail(t, MGSD_ERR_SHAPE, "unpack: max_len %d exceeds padded length %d", s->max_len, T);
    int B = s->B, C = x->shape[1];
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = ag_out(t, 3, (int[]){B, T, C}, ins, 1);
    if (!y) return NULL;
    ops_seq_copy(y->data, x->data, s->offs, B, T, C, 1, 0);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_unpack, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->idx[0] = s->offs;
    }
    return y;
}

void ag_bwd_unpack(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *y = nd->out;
    if (x->grad) ops_seq_copy(x->grad, y->grad, nd->idx[0], y->shape[0], y->shape[1], y->shape[2], 0, 1);
}
