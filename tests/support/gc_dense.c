/* Gradient-check rows for the dense ops (see tests/gradcheck.h). Row names equal the
 * AG_OP names; extra rows (suffixed) cover broadcasting, flags and composites. */
#include "autograd/ag.h"
#include "gradcheck.h"

static mgsd_tensor *in1(gc_ctx *g, int d0) { return gc_input(g, 1, &d0, 1.0f); }
static mgsd_tensor *in3(gc_ctx *g, int d0, int d1, int d2) {
    int s[3] = {d0, d1, d2};
    return gc_input(g, 3, s, 1.0f);
}

static mgsd_tensor *gc_linear(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 5, 7);
    mgsd_tensor *w = gc_input2(g, 3, 7);
    int sb[1] = {3};
    mgsd_tensor *b = gc_input(g, 1, sb, 1.0f);
    return ag_linear(t, x, w, b);
}

/* The inner activation h is read only by the second linear, so the tape leaves its gradient
 * unzeroed and that linear writes it with "=" (zero_node_grads, ops_linear_backward_set). */
static mgsd_tensor *gc_linear_chain_fresh(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 8, 12);
    mgsd_tensor *w1 = gc_input(g, 2, (int[]){16, 12}, 0.3f);
    int sb[1] = {16};
    mgsd_tensor *b1 = gc_input(g, 1, sb, 0.3f);
    mgsd_tensor *w2 = gc_input(g, 2, (int[]){6, 16}, 0.3f);
    return ag_linear(t, ag_linear_relu(t, x, w1, b1), w2, NULL);
}

/* The same with h read twice (a residual): its gradient is zeroed and accumulated. */
static mgsd_tensor *gc_linear_chain_shared(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 8, 12);
    mgsd_tensor *w1 = gc_input(g, 2, (int[]){10, 12}, 0.3f);
    mgsd_tensor *w2 = gc_input(g, 2, (int[]){10, 10}, 0.3f);
    mgsd_tensor *h = ag_linear(t, x, w1, NULL);
    return ag_add(t, ag_linear(t, h, w2, NULL), h);
}

static mgsd_tensor *gc_linear_big(gc_ctx *g, mgsd_tape *t) {
    /* large enough to take the BLAS path */
    mgsd_tensor *x = gc_input2(g, 40, 48);
    mgsd_tensor *w = gc_input2(g, 36, 48);
    return ag_linear(t, x, w, NULL);
}

/* ---- binary ---- */
static mgsd_tensor *gc_add(gc_ctx *g, mgsd_tape *t) { return ag_add(t, in3(g, 3, 4, 5), gc_input2(g, 4, 5)); }
static mgsd_tensor *gc_add_same(gc_ctx *g, mgsd_tape *t) { return ag_add(t, gc_input2(g, 4, 5), gc_input2(g, 4, 5)); }
static mgsd_tensor *gc_add_one(gc_ctx *g, mgsd_tape *t) { return ag_add(t, gc_input2(g, 4, 5), in1(g, 1)); }
static mgsd_tensor *gc_sub(gc_ctx *g, mgsd_tape *t) { return ag_sub(t, gc_input2(g, 6, 5), in1(g, 5)); }
static mgsd_tensor *gc_mul(gc_ctx *g, mgsd_tape *t) { return ag_mul(t, in3(g, 2, 3, 4), gc_input2(g, 3, 4)); }
static mgsd_tensor *gc_mul_self(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 3, 4);
    return ag_mul(t, x, x);
}
static mgsd_tensor *gc_sqerr(gc_ctx *g, mgsd_tape *t) {
    int s[2] = {6, 5};
    mgsd_tensor *a = gc_input2(g, 6, 5);
    return ag_squared_error(t, a, gc_const(g, 2, s));
}
static mgsd_tensor *gc_sqerr_bcast(gc_ctx *g, mgsd_tape *t) { return ag_squared_error(t, gc_input2(g, 6, 5), in1(g, 5)); }
static mgsd_tensor *gc_mse(gc_ctx *g, mgsd_tape *t) { return ag_mse(t, gc_input2(g, 6, 5), gc_input2(g, 6, 5)); }
static mgsd_tensor *gc_scale(gc_ctx *g, mgsd_tape *t) { return ag_scale(t, gc_input2(g, 4, 5), 1.7f, -0.3f); }
static mgsd_tensor *gc_add_scalar(gc_ctx *g, mgsd_tape *t) {
    return ag_mul(t, ag_add_scalar(t, gc_input2(g, 4, 5), 0.5f), gc_input2(g, 4, 5));
}

/* ---- activations ---- */
static mgsd_tensor *gc_relu(gc_ctx *g, mgsd_tape *t) { return ag_relu(t, gc_input2(g, 5, 7)); }
static mgsd_tensor *gc_gelu(gc_ctx *g, mgsd_tape *t) { return ag_gelu(t, in3(g, 2, 5, 7)); }
static mgsd_tensor *gc_sigmoid(gc_ctx *g, mgsd_tape *t) { return ag_sigmoid(t, gc_input2(g, 5, 7)); }
static mgsd_tensor *gc_exp(gc_ctx *g, mgsd_tape *t) { return ag_exp(t, gc_input2(g, 5, 7)); }
static mgsd_tensor *gc_log(gc_ctx *g, mgsd_tape *t) {
    int s[2] = {5, 7};
    return ag_log(t, gc_input_uniform(g, 2, s, 0.2f, 3.0f));
}
static mgsd_tensor *gc_tanh(gc_ctx *g, mgsd_tape *t) { return ag_tanh(t, gc_input2(g, 5, 7)); }
static mgsd_tensor *gc_dropout(gc_ctx *g, mgsd_tape *t) {
    /* t->training is 1 and the runner reseeds t->rng before every build: same mask. */
    return ag_dropout(t, gc_input2(g, 9, 13), 0.3f);
}

/* ---- row-wise ---- */
static mgsd_tensor *gc_layernorm(gc_ctx *g, mgsd_tape *t) {
    return ag_layernorm(t, gc_input2(g, 6, 8), in1(g, 8), in1(g, 8), 1e-5f);
}
static mgsd_tensor *gc_layernorm_recbole(gc_ctx *g, mgsd_tape *t) {
    return ag_layernorm(t, in3(g, 2, 3, 16), in1(g, 16), in1(g, 16), 1e-12f);
}
static mgsd_tensor *gc_softmax(gc_ctx *g, mgsd_tape *t) { return ag_softmax(t, gc_input2(g, 5, 7)); }
static mgsd_tensor *gc_log_softmax(gc_ctx *g, mgsd_tape *t) { return ag_log_softmax(t, gc_input2(g, 5, 7)); }

/* ---- indexing ---- */
static mgsd_tensor *gc_embedding(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *table = gc_input2(g, 6, 5);
    const int32_t *idx = gc_ints(g, 10, 0, 5); /* 10 draws from 6 rows: repeats */
    return ag_embedding(t, table, idx, 10);
}
static mgsd_tensor *gc_gather_rows(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = in3(g, 2, 4, 5);
    return ag_gather_rows(t, x, gc_ints(g, 6, 0, 7), 6);
}
static mgsd_tensor *gc_index_add(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 7, 5);
    return ag_index_add(t, x, gc_ints(g, 7, 0, 3), 4);
}

/* Three sequences of 3, 0 (empty) and 4 rows. */
static const int32_t seg_offs[4] = {0, 3, 3, 7};
static const ag_seqs seg_seqs = {3, seg_offs, 4};
static mgsd_tensor *gc_masked_sum(gc_ctx *g, mgsd_tape *t) { return ag_masked_sum(t, gc_input2(g, 7, 4), &seg_seqs); }
static mgsd_tensor *gc_masked_mean(gc_ctx *g, mgsd_tape *t) { return ag_masked_mean(t, gc_input2(g, 7, 4), &seg_seqs); }
static mgsd_tensor *gc_masked_wsum(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 7, 4);
    return ag_masked_wsum(t, x, in1(g, 7), &seg_seqs);
}

/* ---- reductions, cosine ---- */
static mgsd_tensor *gc_sum(gc_ctx *g, mgsd_tape *t) { return ag_sum(t, gc_input2(g, 4, 5)); }
static mgsd_tensor *gc_mean(gc_ctx *g, mgsd_tape *t) { return ag_mean(t, gc_input2(g, 4, 5)); }
static mgsd_tensor *gc_sum_rows(gc_ctx *g, mgsd_tape *t) { return ag_sum_rows(t, in3(g, 3, 4, 5)); }
static mgsd_tensor *gc_cosine(gc_ctx *g, mgsd_tape *t) {
    return ag_cosine_similarity(t, gc_input2(g, 6, 5), gc_input2(g, 6, 5), 1e-8f);
}
static mgsd_tensor *gc_cosine_bcast(gc_ctx *g, mgsd_tape *t) {
    return ag_cosine_similarity(t, gc_input2(g, 6, 5), in1(g, 5), 1e-8f);
}

/* ---- columns, views, products ---- */
static mgsd_tensor *gc_concat(gc_ctx *g, mgsd_tape *t) {
    int sc[2] = {4, 1};
    mgsd_tensor *xs[3] = {gc_input2(g, 4, 2), gc_input2(g, 4, 3), gc_const(g, 2, sc)};
    return ag_concat(t, xs, 3);
}
static mgsd_tensor *gc_slice_cols(gc_ctx *g, mgsd_tape *t) { return ag_slice_cols(t, gc_input2(g, 4, 7), 2, 5); }
static mgsd_tensor *gc_reshape(gc_ctx *g, mgsd_tape *t) {
    /* The view shares x's grad: softmax over rows of 3 of a [4,6] input, viewed [8,3]. */
    int s[2] = {-1, 3};
    return ag_softmax(t, ag_reshape(t, gc_input2(g, 4, 6), 2, s));
}
static mgsd_tensor *gc_matmul(gc_ctx *g, mgsd_tape *t) { return ag_matmul(t, gc_input2(g, 4, 3), gc_input2(g, 3, 5), 0, 0); }
static mgsd_tensor *gc_matmul_nt(gc_ctx *g, mgsd_tape *t) { return ag_matmul(t, gc_input2(g, 4, 3), gc_input2(g, 5, 3), 0, 1); }
static mgsd_tensor *gc_matmul_tn(gc_ctx *g, mgsd_tape *t) { return ag_matmul(t, gc_input2(g, 3, 4), gc_input2(g, 3, 5), 1, 0); }
static mgsd_tensor *gc_matmul_tt(gc_ctx *g, mgsd_tape *t) { return ag_matmul(t, gc_input2(g, 3, 4), gc_input2(g, 5, 3), 1, 1); }
static mgsd_tensor *gc_matmul_blas(gc_ctx *g, mgsd_tape *t) {
    return ag_matmul(t, gc_input2(g, 40, 36), gc_input2(g, 44, 40), 1, 1);
}
static mgsd_tensor *gc_transpose2d(gc_ctx *g, mgsd_tape *t) { return ag_transpose2d(t, gc_input2(g, 37, 70)); }

static mgsd_tensor *gc_linear_relu(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 6, 7);
    mgsd_tensor *w = gc_input2(g, 5, 7);
    int sb[1] = {5};
    mgsd_tensor *b = gc_input(g, 1, sb, 1.0f);
    return ag_linear_relu(t, x, w, b);
}

const gc_row gc_rows_dense[] = {
    {"linear_relu", gc_linear_relu, 0, 0, 0},
    {"linear", gc_linear, 0, 0, 0},
    {"linear_blas_nobias", gc_linear_big, 0, 0, 0},
    {"linear_chain_fresh", gc_linear_chain_fresh, 0, 0, 0},
    {"linear_chain_shared", gc_linear_chain_shared, 0, 0, 0},
    {"add", gc_add, 0, 0, 0},
    {"add_same_shape", gc_add_same, 0, 0, 0},
    {"add_one_element", gc_add_one, 0, 0, 0},
    {"sub", gc_sub, 0, 0, 0},
    {"mul", gc_mul, 0, 0, 0},
    {"mul_self", gc_mul_self, 0, 0, 0},
    {"squared_error", gc_sqerr, 0, 0, 0},
    {"squared_error_bcast", gc_sqerr_bcast, 0, 0, 0},
    {"mse", gc_mse, 0, 0, 0},
    {"scale", gc_scale, 0, 0, 0},
    {"add_scalar", gc_add_scalar, 0, 0, 0},
    {"relu", gc_relu, 0, 0, 0},
    {"gelu", gc_gelu, 0, 0, 0},
    {"sigmoid", gc_sigmoid, 0, 0, 0},
    {"exp", gc_exp, 0, 0, 0},
    {"log", gc_log, 0, 0, 0},
    {"tanh", gc_tanh, 0, 0, 0},
    {"dropout", gc_dropout, 0, 0, 0},
    {"layernorm", gc_layernorm, 0, 0, 0},
    {"layernorm_eps1e-12", gc_layernorm_recbole, 0, 0, 0},
    {"softmax", gc_softmax, 0, 0, 0},
    {"log_softmax", gc_log_softmax, 0, 0, 0},
    {"embedding", gc_embedding, 0, 0, 0},
    {"gather_rows", gc_gather_rows, 0, 0, 0},
    {"index_add", gc_index_add, 0, 0, 0},
    {"masked_sum", gc_masked_sum, 0, 0, 0},
    {"masked_mean", gc_masked_mean, 0, 0, 0},
    {"masked_wsum", gc_masked_wsum, 0, 0, 0},
    {"sum", gc_sum, 0, 0, 0},
    {"mean", gc_mean, 0, 0, 0},
    {"sum_rows", gc_sum_rows, 0, 0, 0},
    {"cosine_similarity", gc_cosine, 0, 0, 0},
    {"cosine_similarity_bcast", gc_cosine_bcast, 0, 0, 0},
    {"concat", gc_concat, 0, 0, 0},
    {"slice_cols", gc_slice_cols, 0, 0, 0},
    {"reshape_view", gc_reshape, 0, 0, 0},
    {"matmul", gc_matmul, 0, 0, 0},
    {"matmul_nt", gc_matmul_nt, 0, 0, 0},
    {"matmul_tn", gc_matmul_tn, 0, 0, 0},
    {"matmul_tt", gc_matmul_tt, 0, 0, 0},
    {"matmul_blas_tt", gc_matmul_blas, 0, 0, 0},
    {"transpose2d", gc_transpose2d, 0, 0, 0},
    {NULL, NULL, 0, 0, 0},
};
