/* Autograd wrappers for the dense and element-wise ops: shape checks, forward call,
 * node recording, and the matching ag_bwd_* functions. Contract of every wrapper: a NULL
 * tensor input returns NULL without touching the tape's status; bad arguments record an
 * error whose message starts with the op name and return NULL; the kernels live in
 * src/ops (eltwise, norm, index, matmul). */
#include "autograd/ag.h"

#include <stdio.h>
#include <string.h>

#include "ops/eltwise.h"
#include "ops/index.h"
#include "ops/matmul.h"
#include "ops/norm.h"

/* ---- linear, linear + relu ---------------------------------------------------------- */
static mgsd_tensor *linear_impl(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b, int relu) {
    const char *name = relu ? "linear_relu" : "linear";
    if (!x || !w) return NULL;
    if (w->ndim != 2) return ag_fail(t, MGSD_ERR_SHAPE, "%s: weight must be 2-D [OC,C], got rank %d", name, w->ndim);
    int C = w->shape[1], OC = w->shape[0];
    if (ag_cols(x) != C)
        return ag_fail(t, MGSD_ERR_SHAPE, "%s: input has %d columns, weight expects %d", name, ag_cols(x), C);
    if (b && (b->n != OC))
        return ag_fail(t, MGSD_ERR_SHAPE, "%s: bias has %lld elements, expected %d", name, (long long)b->n, OC);
    int shape[AG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = OC;
    mgsd_tensor *ins[3] = {x, w, b};
    mgsd_tensor *y = ag_out(t, x->ndim, shape, ins, 3);
    if (!y) return NULL;
    int64_t N = ag_rows(x);
    if (relu) ops_linear_relu_forward(y->data, x->data, w->data, b ? b->data : NULL, N, C, OC);
    else ops_linear_forward(y->data, x->data, w->data, b ? b->data : NULL, N, C, OC);
    if (y->grad) {
        ag_node *nd = ag_record(t, relu ? AG_OP_linear_relu : AG_OP_linear, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->in[1] = w;
        nd->in[2] = b;
    }
    return y;
}

mgsd_tensor *ag_linear(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b) {
    return linear_impl(t, x, w, b, 0);
}

mgsd_tensor *ag_linear_relu(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b) {
    return linear_impl(t, x, w, b, 1);
}

/* The linear backward with the weight-gradient workspace it can use, taken from the arena
 * and handed back right after (so the step's arena does not grow with the number of
 * linear nodes). */
static void linear_bwd(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, float *db, const float *dy) {
    const int C = w->shape[1], OC = w->shape[0];
    mgsd_arena_mark mk = mgsd_arena_get_mark(&t->arena);
    int64_t nws = w->grad ? ops_linear_ws_floats(C, OC) : 0;
    float *ws = nws > 0 ? ag_scratch(t, nws) : NULL;
    if (nws > 0 && !ws) return;
    (x->fresh ? ops_linear_backward_set : ops_linear_backward)(x->grad, w->grad, db, dy, x->data, w->data, ag_rows(x),
                                                               C, OC, ws, ws ? nws : 0);
    mgsd_arena_set_mark(&t->arena, mk);
}

void ag_bwd_linear(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2], *y = nd->out;
    linear_bwd(t, x, w, b ? b->grad : NULL, y->grad);
}

void ag_bwd_linear_relu(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2], *y = nd->out;
    /* y->grad is read by no later node: mask it in place (with the bias gradient in the
     * same pass), then the linear backward. */
    if (b && b->grad) ops_bias_grad(b->grad, y->grad, y->data, ag_rows(x), w->shape[0]);
    else ops_relu_mask_inplace(y->grad, y->data, y->n);
    linear_bwd(t, x, w, NULL, y->grad);
}

/* ---- shared helpers ----------------------------------------------------------------- */

static int shape_str(char *buf, size_t cap, const mgsd_tensor *x) {
    int k = snprintf(buf, cap, "[");
    for (int i = 0; i < x->ndim && k < (int)cap; i++) k += snprintf(buf + k, cap - (size_t)k, i ? ",%d" : "%d", x->shape[i]);
    if (k < (int)cap) k += snprintf(buf + k, cap - (size_t)k, "]");
    return k;
}

/* Output with x's shape. */
static mgsd_tensor *out_like(mgsd_tape *t, const mgsd_tensor *x, mgsd_tensor *const *ins, int n_in) {
    return ag_out(t, x->ndim, x->shape, ins, n_in);
}

/* Output with x's leading dims (the last one dropped; [1] for a 1-D x). */
static mgsd_tensor *out_rows(mgsd_tape *t, const mgsd_tensor *x, int ncols, mgsd_tensor *const *ins, int n_in) {
    int shape[AG_MAX_DIMS];
    int nd = x->ndim;
    for (int i = 0; i < nd; i++) shape[i] = x->shape[i];
    if (ncols > 0) {
        shape[nd - 1] = ncols;
        return ag_out(t, nd, shape, ins, n_in);
    }
    if (nd == 1) {
        shape[0] = 1;
        return ag_out(t, 1, shape, ins, n_in);
    }
    return ag_out(t, nd - 1, shape, ins, n_in);
}

/* Tensor headers that come from callers are checked once per op: rank, positive dims,
 * consistent element count. Arena tensors always pass. */
static int bad_tensor(mgsd_tape *t, const char *op, const char *what, const mgsd_tensor *x) {
    if (x->ndim < 1 || x->ndim > AG_MAX_DIMS) {
        ag_fail(t, MGSD_ERR_SHAPE, "%s: %s has rank %d (must be 1..%d)", op, what, x->ndim, AG_MAX_DIMS);
        return 1;
    }
    for (int i = 0; i < x->ndim; i++)
        if (x->shape[i] <= 0) {
            ag_fail(t, MGSD_ERR_SHAPE, "%s: %s dim %d is %d (must be > 0)", op, what, i, x->shape[i]);
            return 1;
        }
    if (!x->data || ag_numel(x->ndim, x->shape) != x->n) {
        ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: %s has no data or an element count that disagrees with its shape", op,
                what);
        return 1;
    }
    return 0;
}

/* ---- binary ops with broadcasting --------------------------------------------------- */

static mgsd_tensor *binary(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b, ops_binary_kind k, int op,
                           const char *name) {
    if (!a || !b) return NULL;
    if (bad_tensor(t, name, "a", a) || bad_tensor(t, name, "b", b)) return NULL;
    int ok = b->n == 1 || b->ndim <= a->ndim;
    for (int i = 1; ok && b->n != 1 && i <= b->ndim; i++) ok = b->shape[b->ndim - i] == a->shape[a->ndim - i];
    if (!ok) {
        char sa[64], sb[64];
        shape_str(sa, sizeof sa, a);
        shape_str(sb, sizeof sb, b);
        return ag_fail(t, MGSD_ERR_SHAPE, "%s: b %s must equal a %s or a trailing part of it", name, sb, sa);
    }
    mgsd_tensor *ins[2] = {a, b};
    mgsd_tensor *y = out_like(t, a, ins, 2);
    if (!y) return NULL;
    ops_binary_forward(k, y->data, a->data, b->data, a->n / b->n, b->n);
    if (y->grad) {
        ag_node *nd = ag_record(t, op, y);
        if (!nd) return NULL;
        nd->in[0] = a;
        nd->in[1] = b;
        nd->i[0] = k;
    }
    return y;
}

static void binary_bwd(ag_node *nd) {
    mgsd_tensor *a = nd->in[0], *b = nd->in[1];
    ops_binary_backward((ops_binary_kind)nd->i[0], a->grad, b->grad, nd->out->grad, a->data, b->data, a->n / b->n,
                        b->n);
}

mgsd_tensor *ag_add(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b) { return binary(t, a, b, OPS_BIN_ADD, AG_OP_add, "add"); }
mgsd_tensor *ag_sub(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b) { return binary(t, a, b, OPS_BIN_SUB, AG_OP_sub, "sub"); }
mgsd_tensor *ag_mul(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b) { return binary(t, a, b, OPS_BIN_MUL, AG_OP_mul, "mul"); }
mgsd_tensor *ag_squared_error(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b) {
    return binary(t, a, b, OPS_BIN_SQERR, AG_OP_squared_error, "squared_error");
}
void ag_bwd_add(mgsd_tape *t, ag_node *nd) { binary_bwd(nd); }
void ag_bwd_sub(mgsd_tape *t, ag_node *nd) { binary_bwd(nd); }
void ag_bwd_mul(mgsd_tape *t, ag_node *nd) { binary_bwd(nd); }
void ag_bwd_squared_error(mgsd_tape *t, ag_node *nd) { binary_bwd(nd); }

mgsd_tensor *ag_mse(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b) { return ag_mean(t, ag_squared_error(t, a, b)); }

/* ---- scale -------------------------------------------------------------------------- */

mgsd_tensor *ag_scale(mgsd_tape *t, mgsd_tensor *x, float alpha, float beta) {
    if (!x) return NULL;
    if (bad_tensor(t, "scale", "x", x)) return NULL;
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = out_like(t, x, ins, 1);
    if (!y) return NULL;
    ops_scale_forward(y->data, x->data, alpha, beta, x->n);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_scale, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->f[0] = alpha;
    }
    return y;
}

mgsd_tensor *ag_add_scalar(mgsd_tape *t, mgsd_tensor *x, float beta) { return ag_scale(t, x, 1.0f, beta); }

void ag_bwd_scale(mgsd_tape *t, ag_node *nd) {
    ops_scale_backward(nd->in[0]->grad, nd->out->grad, nd->f[0], nd->in[0]->n);
}

/* ---- activations -------------------------------------------------------------------- */

static mgsd_tensor *unary(mgsd_tape *t, mgsd_tensor *x, ops_unary_kind k, int op, const char *name) {
    if (!x) return NULL;
    if (bad_tensor(t, name, "x", x)) return NULL;
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = out_like(t, x, ins, 1);
    if (!y) return NULL;
    ops_unary_forward(k, y->data, x->data, x->n);
    if (y->grad) {
        ag_node *nd = ag_record(t, op, y);
        if (!nd) return NULL;
        nd->in[0] = x;
    }
    return y;
}

static void unary_bwd(ag_node *nd, ops_unary_kind k) {
    mgsd_tensor *x = nd->in[0], *y = nd->out;
    ops_unary_backward(k, x->grad, y->grad, x->data, y->data, x->n);
}

#define AG_UNARY(name, kind)                                                                   \
    mgsd_tensor *ag_##name(mgsd_tape *t, mgsd_tensor *x) { return unary(t, x, kind, AG_OP_##name, #name); } \
    void ag_bwd_##name(mgsd_tape *t, ag_node *nd) { unary_bwd(nd, kind); }
AG_UNARY(relu, OPS_UN_RELU)
AG_UNARY(gelu, OPS_UN_GELU)
AG_UNARY(sigmoid, OPS_UN_SIGMOID)
AG_UNARY(exp, OPS_UN_EXP)
AG_UNARY(log, OPS_UN_LOG)
AG_UNARY(tanh, OPS_UN_TANH)
#undef AG_UNARY

/* ---- dropout ------------------------------------------------------------------------ */

mgsd_tensor *ag_dropout(mgsd_tape *t, mgsd_tensor *x, float p) {
    if (!x) return NULL;
    if (!(p >= 0.0f && p < 1.0f)) return ag_fail(t, MGSD_ERR_INVALID_ARG, "dropout: p = %g outside [0, 1)", (double)p);
    if (bad_tensor(t, "dropout", "x", x)) return NULL;
    if (!t->training || p == 0.0f) return x;
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = out_like(t, x, ins, 1);
    if (!y) return NULL;
    int64_t nw = (x->n + 63) / 64;
    uint64_t *mask = mgsd_arena_alloc(&t->arena, (size_t)nw * sizeof(uint64_t));
    if (!mask) return ag_fail(t, MGSD_ERR_NOMEM, "dropout: out of memory for a %lld-word mask", (long long)nw);
    ops_dropout_forward(y->data, mask, x->data, x->n, p, &t->rng);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_dropout, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->saved[0] = (float *)(void *)mask; /* bit mask, read back as uint64_t */
        nd->f[0] = p;
    }
    return y;
}

void ag_bwd_dropout(mgsd_tape *t, ag_node *nd) {
    ops_dropout_backward(nd->in[0]->grad, nd->out->grad, (const uint64_t *)(void *)nd->saved[0], nd->in[0]->n,
                         nd->f[0]);
}

/* ---- layernorm ---------------------------------------------------------------------- */

mgsd_tensor *ag_layernorm(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b, float eps) {
    if (!x || !w || !b) return NULL;
    if (bad_tensor(t, "layernorm", "x", x) || bad_tensor(t, "layernorm", "weight", w) ||
        bad_tensor(t, "layernorm", "bias", b))
        return NULL;
    int C = ag_cols(x);
    if (w->n != C) return ag_fail(t, MGSD_ERR_SHAPE, "layernorm: weight has %lld elements, expected %d", (long long)w->n, C);
    if (b->n != C) return ag_fail(t, MGSD_ERR_SHAPE, "layernorm: bias has %lld elements, expected %d", (long long)b->n, C);
    if (!(eps >= 0.0f)) return ag_fail(t, MGSD_ERR_INVALID_ARG, "layernorm: eps = %g must be >= 0", (double)eps);
    int64_t N = ag_rows(x);
    mgsd_tensor *ins[3] = {x, w, b};
    mgsd_tensor *y = out_like(t, x, ins, 3);
    if (!y) return NULL;
    float *stats = ag_scratch(t, 2 * N);
    if (!stats) return NULL;
    ops_layernorm_forward(y->data, stats, stats + N, x->data, w->data, b->data, N, C, eps);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_layernorm, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->in[1] = w;
        nd->in[2] = b;
        nd->saved[0] = stats;
        nd->saved[1] = stats + N;
    }
    return y;
}

void ag_bwd_layernorm(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    ops_layernorm_backward(x->grad, w->grad, b->grad, nd->out->grad, x->data, w->data, nd->saved[0], nd->saved[1],
                           ag_rows(x), ag_cols(x));
}

/* ---- softmax / log_softmax ---------------------------------------------------------- */

static mgsd_tensor *softmax(mgsd_tape *t, mgsd_tensor *x, int log_sm) {
    if (!x) return NULL;
    if (bad_tensor(t, log_sm ? "log_softmax" : "softmax", "x", x)) return NULL;
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = out_like(t, x, ins, 1);
    if (!y) return NULL;
    ops_softmax_forward(y->data, x->data, ag_rows(x), ag_cols(x), log_sm);
    if (y->grad) {
        ag_node *nd = ag_record(t, log_sm ? AG_OP_log_softmax : AG_OP_softmax, y);
        if (!nd) return NULL;
        nd->in[0] = x;
    }
    return y;
}

mgsd_tensor *ag_softmax(mgsd_tape *t, mgsd_tensor *x) { return softmax(t, x, 0); }
mgsd_tensor *ag_log_softmax(mgsd_tape *t, mgsd_tensor *x) { return softmax(t, x, 1); }

static void softmax_bwd(ag_node *nd, int log_sm) {
    mgsd_tensor *x = nd->in[0], *y = nd->out;
    ops_softmax_backward(x->grad, y->grad, y->data, ag_rows(x), ag_cols(x), log_sm);
}
void ag_bwd_softmax(mgsd_tape *t, ag_node *nd) { softmax_bwd(nd, 0); }
void ag_bwd_log_softmax(mgsd_tape *t, ag_node *nd) { softmax_bwd(nd, 1); }

/* ---- embedding / gather_rows / index_add -------------------------------------------- */

static int check_idx(mgsd_tape *t, const char *op, const int32_t *idx, int n, int lim) {
    if (!idx) {
        ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: index array is NULL", op);
        return 1;
    }
    if (n <= 0) {
        ag_fail(t, MGSD_ERR_SHAPE, "%s: %d indices (must be > 0)", op, n);
        return 1;
    }
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= lim) {
            ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: index %d at position %d outside [0, %d)", op, idx[i], i, lim);
            return 1;
        }
    return 0;
}

static mgsd_tensor *gather(mgsd_tape *t, mgsd_tensor *x, const int32_t *idx, int M, int op, const char *name) {
    int64_t R = ag_rows(x);
    if (R > INT32_MAX) return ag_fail(t, MGSD_ERR_SHAPE, "%s: %lld rows exceed int32 indexing", name, (long long)R);
    if (check_idx(t, name, idx, M, (int)R)) return NULL;
    int C = ag_cols(x);
    mgsd_tensor *ins[1] = {x};
    int shape[2] = {M, C};
    mgsd_tensor *y = ag_out(t, 2, shape, ins, 1);
    if (!y) return NULL;
    ops_gather_rows(y->data, x->data, idx, M, C, 0);
    if (y->grad) {
        ag_node *nd = ag_record(t, op, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->idx[0] = idx;
        nd->i[0] = M;
    }
    return y;
}

mgsd_tensor *ag_embedding(mgsd_tape *t, mgsd_tensor *table, const int32_t *idx, int N) {
    if (!table) return NULL;
    if (bad_tensor(t, "embedding", "table", table)) return NULL;
    if (table->ndim != 2)
        return ag_fail(t, MGSD_ERR_SHAPE, "embedding: table must be 2-D [V,C], got rank %d", table->ndim);
    return gather(t, table, idx, N, AG_OP_embedding, "embedding");
}

mgsd_tensor *ag_gather_rows(mgsd_tape *t, mgsd_tensor *x, const int32_t *idx, int M) {
    if (!x) return NULL;
    if (bad_tensor(t, "gather_rows", "x", x)) return NULL;
    return gather(t, x, idx, M, AG_OP_gather_rows, "gather_rows");
}

static void gather_bwd(ag_node *nd) {
    mgsd_tensor *x = nd->in[0];
    ops_scatter_add_rows(x->grad, nd->out->grad, nd->idx[0], nd->i[0], ag_cols(x));
}
void ag_bwd_embedding(mgsd_tape *t, ag_node *nd) { gather_bwd(nd); }
void ag_bwd_gather_rows(mgsd_tape *t, ag_node *nd) { gather_bwd(nd); }

mgsd_tensor *ag_index_add(mgsd_tape *t, mgsd_tensor *x, const int32_t *idx, int R) {
    if (!x) return NULL;
    if (bad_tensor(t, "index_add", "x", x)) return NULL;
    if (R <= 0) return ag_fail(t, MGSD_ERR_SHAPE, "index_add: %d output rows (must be > 0)", R);
    int64_t M = ag_rows(x);
    if (M > INT32_MAX) return ag_fail(t, MGSD_ERR_SHAPE, "index_add: %lld rows exceed int32 indexing", (long long)M);
    if (check_idx(t, "index_add", idx, (int)M, R)) return NULL;
    int C = ag_cols(x);
    mgsd_tensor *ins[1] = {x};
    int shape[2] = {R, C};
    mgsd_tensor *y = ag_out(t, 2, shape, ins, 1);
    if (!y) return NULL;
    memset(y->data, 0, (size_t)y->n * sizeof(float));
    ops_scatter_add_rows(y->data, x->data, idx, M, C);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_index_add, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->idx[0] = idx;
    }
    return y;
}

void ag_bwd_index_add(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0];
    ops_gather_rows(x->grad, nd->out->grad, nd->idx[0], ag_rows(x), ag_cols(x), 1);
}

/* ---- segment reductions ------------------------------------------------------------- */

static mgsd_tensor *segment(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, const ag_seqs *s, int mean, int op,
                            const char *name) {
    if (bad_tensor(t, name, "x", x)) return NULL;
    if (w && bad_tensor(t, name, "w", w)) return NULL;
    if (!s || !s->offs) return ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: sequence offsets are NULL", name);
    if (s->B <= 0) return ag_fail(t, MGSD_ERR_SHAPE, "%s: %d sequences (must be > 0)", name, s->B);
    int64_t N = ag_rows(x);
    if (s->offs[0] != 0) return ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: offs[0] = %d, expected 0", name, s->offs[0]);
    for (int b = 0; b < s->B; b++)
        if (s->offs[b + 1] < s->offs[b])
            return ag_fail(t, MGSD_ERR_INVALID_ARG, "%s: offsets decrease at sequence %d (%d > %d)", name, b,
                           s->offs[b], s->offs[b + 1]);
    if (s->offs[s->B] != N)
        return ag_fail(t, MGSD_ERR_SHAPE, "%s: offsets cover %d rows, x has %lld", name, s->offs[s->B], (long long)N);
    if (w && w->n != N)
        return ag_fail(t, MGSD_ERR_SHAPE, "%s: w has %lld elements, expected one per row (%lld)", name,
                       (long long)w->n, (long long)N);
    int C = ag_cols(x);
    mgsd_tensor *ins[2] = {x, w};
    int shape[2] = {s->B, C};
    mgsd_tensor *y = ag_out(t, 2, shape, ins, 2);
    if (!y) return NULL;
    ops_segment_forward(y->data, x->data, w ? w->data : NULL, s->offs, s->B, C, mean);
    if (y->grad) {
        ag_node *nd = ag_record(t, op, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->in[1] = w;
        nd->idx[0] = s->offs;
        nd->i[0] = s->B;
        nd->i[1] = mean;
    }
    return y;
}

mgsd_tensor *ag_masked_sum(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s) {
    if (!x) return NULL;
    return segment(t, x, NULL, s, 0, AG_OP_masked_sum, "masked_sum");
}
mgsd_tensor *ag_masked_mean(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s) {
    if (!x) return NULL;
    return segment(t, x, NULL, s, 1, AG_OP_masked_mean, "masked_mean");
}
mgsd_tensor *ag_masked_wsum(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, const ag_seqs *s) {
    if (!x || !w) return NULL;
    return segment(t, x, w, s, 0, AG_OP_masked_wsum, "masked_wsum");
}

static void segment_bwd(ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *w = nd->in[1];
    ops_segment_backward(x->grad, w ? w->grad : NULL, nd->out->grad, x->data, w ? w->data : NULL, nd->idx[0],
                         (int)nd->i[0], ag_cols(x), (int)nd->i[1]);
}
void ag_bwd_masked_sum(mgsd_tape *t, ag_node *nd) { segment_bwd(nd); }
void ag_bwd_masked_mean(mgsd_tape *t, ag_node *nd) { segment_bwd(nd); }
void ag_bwd_masked_wsum(mgsd_tape *t, ag_node *nd) { segment_bwd(nd); }

/* ---- reductions --------------------------------------------------------------------- */

static mgsd_tensor *total(mgsd_tape *t, mgsd_tensor *x, int mean) {
    if (!x) return NULL;
    if (bad_tensor(t, mean ? "mean" : "sum", "x", x)) return NULL;
    mgsd_tensor *ins[1] = {x};
    int one = 1;
    mgsd_tensor *y = ag_out(t, 1, &one, ins, 1);
    if (!y) return NULL;
    y->data[0] = ops_sum_all(x->data, x->n) / (mean ? (float)x->n : 1.0f);
    if (y->grad) {
        ag_node *nd = ag_record(t, mean ? AG_OP_mean : AG_OP_sum, y);
        if (!nd) return NULL;
        nd->in[0] = x;
    }
    return y;
}

mgsd_tensor *ag_sum(mgsd_tape *t, mgsd_tensor *x) { return total(t, x, 0); }
mgsd_tensor *ag_mean(mgsd_tape *t, mgsd_tensor *x) { return total(t, x, 1); }
void ag_bwd_sum(mgsd_tape *t, ag_node *nd) { ops_fill_add(nd->in[0]->grad, nd->out->grad[0], nd->in[0]->n); }
void ag_bwd_mean(mgsd_tape *t, ag_node *nd) {
    ops_fill_add(nd->in[0]->grad, nd->out->grad[0] / (float)nd->in[0]->n, nd->in[0]->n);
}

mgsd_tensor *ag_sum_rows(mgsd_tape *t, mgsd_tensor *x) {
    if (!x) return NULL;
    if (bad_tensor(t, "sum_rows", "x", x)) return NULL;
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = out_rows(t, x, 0, ins, 1);
    if (!y) return NULL;
    ops_sum_rows_forward(y->data, x->data, ag_rows(x), ag_cols(x));
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_sum_rows, y);
        if (!nd) return NULL;
        nd->in[0] = x;
    }
    return y;
}

void ag_bwd_sum_rows(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0];
    ops_sum_rows_backward(x->grad, nd->out->grad, ag_rows(x), ag_cols(x));
}

/* ---- cosine similarity -------------------------------------------------------------- */

mgsd_tensor *ag_cosine_similarity(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b, float eps) {
    if (!a || !b) return NULL;
    if (bad_tensor(t, "cosine_similarity", "a", a) || bad_tensor(t, "cosine_similarity", "b", b)) return NULL;
    int C = ag_cols(a);
    int same = b->ndim == a->ndim;
    for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
    int bcast = !same && b->ndim == 1 && b->shape[0] == C;
    if (!same && !bcast) {
        char sa[64], sb[64];
        shape_str(sa, sizeof sa, a);
        shape_str(sb, sizeof sb, b);
        return ag_fail(t, MGSD_ERR_SHAPE, "cosine_similarity: b %s must equal a %s or be [%d]", sb, sa, C);
    }
    if (!(eps > 0.0f)) return ag_fail(t, MGSD_ERR_INVALID_ARG, "cosine_similarity: eps = %g must be > 0", (double)eps);
    int64_t N = ag_rows(a);
    mgsd_tensor *ins[2] = {a, b};
    mgsd_tensor *y = out_rows(t, a, 0, ins, 2);
    if (!y) return NULL;
    float *norms = ag_scratch(t, 2 * N);
    if (!norms) return NULL;
    ops_cosine_forward(y->data, norms, norms + N, a->data, b->data, N, C, bcast, eps);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_cosine_similarity, y);
        if (!nd) return NULL;
        nd->in[0] = a;
        nd->in[1] = b;
        nd->saved[0] = norms;
        nd->saved[1] = norms + N;
        nd->i[0] = bcast;
        nd->f[0] = eps;
    }
    return y;
}

void ag_bwd_cosine_similarity(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *a = nd->in[0], *b = nd->in[1], *y = nd->out;
    ops_cosine_backward(a->grad, b->grad, y->grad, y->data, nd->saved[0], nd->saved[1], a->data, b->data, ag_rows(a),
                        ag_cols(a), (int)nd->i[0], nd->f[0]);
}

/* ---- concat / slice_cols / reshape -------------------------------------------------- */

mgsd_tensor *ag_concat(mgsd_tape *t, mgsd_tensor *const *xs, int n) {
    if (!xs) return ag_fail(t, MGSD_ERR_INVALID_ARG, "concat: tensor list is NULL");
    if (n < 1 || n > AG_MAX_IN) return ag_fail(t, MGSD_ERR_INVALID_ARG, "concat: %d tensors (must be 1..%d)", n, AG_MAX_IN);
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL;
    for (int i = 0; i < n; i++)
        if (bad_tensor(t, "concat", "input", xs[i])) return NULL;
    int shape[AG_MAX_DIMS], nd0 = xs[0]->ndim, Ctot = 0;
    for (int i = 0; i < nd0; i++) shape[i] = xs[0]->shape[i];
    for (int i = 0; i < n; i++) {
        int ok = xs[i]->ndim == nd0;
        for (int d = 0; ok && d < nd0 - 1; d++) ok = xs[i]->shape[d] == shape[d];
        if (!ok) {
            char s0[64], si[64];
            shape_str(s0, sizeof s0, xs[0]);
            shape_str(si, sizeof si, xs[i]);
            return ag_fail(t, MGSD_ERR_SHAPE, "concat: input %d %s and input 0 %s differ outside the last dim", i, si,
                           s0);
        }
        Ctot += ag_cols(xs[i]);
    }
    shape[nd0 - 1] = Ctot;
    mgsd_tensor *y = ag_out(t, nd0, shape, xs, n);
    if (!y) return NULL;
    int64_t N = ag_rows(y);
    for (int i = 0, c0 = 0; i < n; c0 += ag_cols(xs[i]), i++)
        ops_copy_cols(y->data, Ctot, c0, xs[i]->data, ag_cols(xs[i]), 0, ag_cols(xs[i]), N, 0);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_concat, y);
        if (!nd) return NULL;
        for (int i = 0; i < n; i++) nd->in[i] = xs[i];
        nd->i[0] = n;
    }
    return y;
}

void ag_bwd_concat(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *y = nd->out;
    int Ctot = ag_cols(y);
    int64_t N = ag_rows(y);
    for (int i = 0, c0 = 0; i < nd->i[0]; c0 += ag_cols(nd->in[i]), i++) {
        mgsd_tensor *x = nd->in[i];
        if (x->grad) ops_copy_cols(x->grad, ag_cols(x), 0, y->grad, Ctot, c0, ag_cols(x), N, 1);
    }
}

mgsd_tensor *ag_slice_cols(mgsd_tape *t, mgsd_tensor *x, int c0, int c1) {
    if (!x) return NULL;
    if (bad_tensor(t, "slice_cols", "x", x)) return NULL;
    int C = ag_cols(x);
    if (c0 < 0 || c1 > C || c0 >= c1)
        return ag_fail(t, MGSD_ERR_SHAPE, "slice_cols: columns [%d, %d) not a non-empty part of [0, %d)", c0, c1, C);
    mgsd_tensor *ins[1] = {x};
    mgsd_tensor *y = out_rows(t, x, c1 - c0, ins, 1);
    if (!y) return NULL;
    ops_copy_cols(y->data, c1 - c0, 0, x->data, C, c0, c1 - c0, ag_rows(x), 0);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_slice_cols, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->i[0] = c0;
    }
    return y;
}

void ag_bwd_slice_cols(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *y = nd->out;
    int w = ag_cols(y);
    ops_copy_cols(x->grad, ag_cols(x), (int)nd->i[0], y->grad, w, 0, w, ag_rows(x), 1);
}

mgsd_tensor *ag_reshape(mgsd_tape *t, mgsd_tensor *x, int ndim, const int *shape) {
    if (!x) return NULL;
    if (bad_tensor(t, "reshape", "x", x)) return NULL;
    if (!shape || ndim < 1 || ndim > AG_MAX_DIMS)
        return ag_fail(t, MGSD_ERR_SHAPE, "reshape: rank %d outside 1..%d", ndim, AG_MAX_DIMS);
    int s[AG_MAX_DIMS], infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) infer = i;
        else if (s[i] <= 0)
            return ag_fail(t, MGSD_ERR_SHAPE, "reshape: dim %d is %d (must be > 0, or one -1)", i, s[i]);
        else known *= s[i];
    }
    if (infer >= 0) {
        if (x->n % known) return ag_fail(t, MGSD_ERR_SHAPE, "reshape: %lld elements do not divide into dims of %lld",
                                         (long long)x->n, (long long)known);
        s[infer] = (int)(x->n / known);
        known *= s[infer];
    }
    if (known != x->n)
        return ag_fail(t, MGSD_ERR_SHAPE, "reshape: new shape has %lld elements, x has %lld", (long long)known,
                       (long long)x->n);
    mgsd_tensor *y = mgsd_arena_alloc(&t->arena, sizeof *y);
    if (!y) return ag_fail(t, MGSD_ERR_NOMEM, "reshape: out of memory for a tensor header");
    ag_tensor_wrap(y, x->data, x->grad, ndim, s);
    return y;
}

/* ---- matmul / transpose2d ----------------------------------------------------------- */

mgsd_tensor *ag_matmul(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b, int ta, int tb) {
    if (!a || !b) return NULL;
    if (bad_tensor(t, "matmul", "a", a) || bad_tensor(t, "matmul", "b", b)) return NULL;
    if (a->ndim != 2 || b->ndim != 2)
        return ag_fail(t, MGSD_ERR_SHAPE, "matmul: operands must be 2-D, got ranks %d and %d", a->ndim, b->ndim);
    int M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
    int Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
    if (K != Kb)
        return ag_fail(t, MGSD_ERR_SHAPE, "matmul: inner dims differ: op(a) is [%d,%d], op(b) is [%d,%d]", M, K, Kb, N);
    mgsd_tensor *ins[2] = {a, b};
    int shape[2] = {M, N};
    mgsd_tensor *y = ag_out(t, 2, shape, ins, 2);
    if (!y) return NULL;
    ops_matmul_forward(y->data, a->data, b->data, ta != 0, tb != 0, M, N, K);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_matmul, y);
        if (!nd) return NULL;
        nd->in[0] = a;
        nd->in[1] = b;
        nd->i[0] = ta != 0;
        nd->i[1] = tb != 0;
        nd->i[2] = K;
    }
    return y;
}

void ag_bwd_matmul(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *a = nd->in[0], *b = nd->in[1], *y = nd->out;
    ops_matmul_backward(a->grad, b->grad, y->grad, a->data, b->data, (int)nd->i[0], (int)nd->i[1], y->shape[0],
                        y->shape[1], nd->i[2]);
}

mgsd_tensor *ag_transpose2d(mgsd_tape *t, mgsd_tensor *x) {
    if (!x) return NULL;
    if (bad_tensor(t, "transpose2d", "x", x)) return NULL;
    if (x->ndim != 2) return ag_fail(t, MGSD_ERR_SHAPE, "transpose2d: x must be 2-D, got rank %d", x->ndim);
    mgsd_tensor *ins[1] = {x};
    int shape[2] = {x->shape[1], x->shape[0]};
    mgsd_tensor *y = ag_out(t, 2, shape, ins, 1);
    if (!y) return NULL;
    ops_transpose(y->data, x->data, x->shape[0], x->shape[1], 0);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_transpose2d, y);
        if (!nd) return NULL;
        nd->in[0] = x;
    }
    return y;
}

void ag_bwd_transpose2d(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *y = nd->out;
    ops_transpose(x->grad, y->grad, y->shape[0], y->shape[1], 1);
}
