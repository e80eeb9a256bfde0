/* The differentiable op API used by layers and models. Each function computes its
 * result now and records a backward node when gradients flow (see tape.h). All return
 * NULL on error with the first error kept in the tape (sticky). Shapes use the letters of
 * the style guide: N rows (tokens), C/OC columns, B sequences, T positions, NH heads. */
#ifndef MGSD_AUTOGRAD_AG_H
#define MGSD_AUTOGRAD_AG_H

#include "autograd/tape.h"

/* ---- dense (ag_dense.c) ---- */
/* y[..., OC] = x[..., C] . w[OC, C]^T + b[OC]   (b may be NULL) */
mgsd_tensor *ag_linear(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b);
/* y = relu(x . w^T + b) in one op: no separate pre-activation buffer or gradient. */
mgsd_tensor *ag_linear_relu(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b);

/* Element-wise binary ops. b has a's shape, or a trailing suffix of it ([N,C] op [C],
 * [B,T,C] op [T,C]), or one element; it is broadcast over a's leading dims. y has a's
 * shape. squared_error: y = (a - b)^2 (b may be a constant without gradient). */
mgsd_tensor *ag_add(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b);
mgsd_tensor *ag_sub(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b);
mgsd_tensor *ag_mul(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b);
mgsd_tensor *ag_squared_error(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b);
/* mean((a - b)^2) -> [1]  (composite: squared_error + mean) */
mgsd_tensor *ag_mse(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b);
/* y = alpha * x + beta (constants); add_scalar(x, beta) = scale(x, 1, beta). */
mgsd_tensor *ag_scale(mgsd_tape *t, mgsd_tensor *x, float alpha, float beta);
mgsd_tensor *ag_add_scalar(mgsd_tape *t, mgsd_tensor *x, float beta);

/* Activations, same shape as x. gelu is the exact erf form (PyTorch's default). log
 * clamps its input at 1e-30 (log(max(x, 1e-30)), zero gradient where clamped): it never
 * fails or returns NaN/-Inf for non-positive inputs. */
mgsd_tensor *ag_relu(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_gelu(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_sigmoid(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_exp(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_log(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_tanh(mgsd_tape *t, mgsd_tensor *x);

/* Inverted dropout, p in [0, 1): y = x * keep / (1 - p) with the mask drawn from t->rng.
 * Returns x itself (no copy, no node) when !t->training or p == 0. */
mgsd_tensor *ag_dropout(mgsd_tape *t, mgsd_tensor *x, float p);

/* Layer normalisation over the last dim: x[..., C], w[C], b[C], eps >= 0 (RecBole 1e-12). */
mgsd_tensor *ag_layernorm(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b, float eps);
/* Numerically stable softmax / log_softmax over the last dim, same shape as x. */
mgsd_tensor *ag_softmax(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_log_softmax(mgsd_tape *t, mgsd_tensor *x);

/* Row indexing. idx (int32) is NOT copied: the caller keeps it valid until backward has
 * run (like ag_seqs.offs). Indices are range-checked (MGSD_ERR_INVALID_ARG).
 * embedding:   table[V, C], idx[N] in [0, V) -> [N, C]; backward scatter-adds into the
 *              touched rows of the table gradient only (repeated indices add up).
 * gather_rows: x[..., C] viewed as [R, C], idx[M] in [0, R) -> [M, C].
 * index_add:   x[M, C], idx[M] in [0, R) -> out[R, C], out[idx[m]] += x[m] (zero rows
 *              elsewhere); the transpose of gather_rows. */
mgsd_tensor *ag_embedding(mgsd_tape *t, mgsd_tensor *table, const int32_t *idx, int N);
mgsd_tensor *ag_gather_rows(mgsd_tape *t, mgsd_tensor *x, const int32_t *idx, int M);
mgsd_tensor *ag_index_add(mgsd_tape *t, mgsd_tensor *x, const int32_t *idx, int R);

/* Segment reductions of a packed x[Ntok, C] over the B sequences of s (s->offs[B] must
 * equal Ntok; s->offs stays valid until backward) -> [B, C]. Empty segments give zero
 * rows (mean too: no NaN). masked_wsum weighs row n by w[n] (w has Ntok elements, and
 * gets a gradient when it carries one). */
mgsd_tensor *ag_masked_sum(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s);
mgsd_tensor *ag_masked_mean(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s);
mgsd_tensor *ag_masked_wsum(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, const ag_seqs *s);

/* Reductions: sum and mean of all elements -> [1]; sum_rows over the last dim ->
 * x's leading dims ([1] for a 1-D x). */
mgsd_tensor *ag_sum(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_mean(mgsd_tape *t, mgsd_tensor *x);
mgsd_tensor *ag_sum_rows(mgsd_tape *t, mgsd_tensor *x);

/* Row-wise cosine similarity over the last dim: a[..., C], b like a or b[C] (broadcast)
 * -> a's leading dims. cos = <a,b> / max(|a| |b|, eps); PyTorch's default eps is 1e-8. */
mgsd_tensor *ag_cosine_similarity(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b, float eps);

/* Column ops on the last dim. concat: n in 1..AG_MAX_IN tensors with equal leading dims
 * -> [..., sum C_i]. slice_cols: columns [c0, c1) -> [..., c1 - c0]. */
mgsd_tensor *ag_concat(mgsd_tape *t, mgsd_tensor *const *xs, int n);
mgsd_tensor *ag_slice_cols(mgsd_tape *t, mgsd_tensor *x, int c0, int c1);
/* View with another shape and the same element count (one dim may be -1: inferred).
 * The result SHARES x's data and grad buffers (no copy, no node): gradients written
 * into the view land in x->grad. Do not write into either tensor's data afterwards. */
mgsd_tensor *ag_reshape(mgsd_tape *t, mgsd_tensor *x, int ndim, const int *shape);

/* 2-D products: y[M, N] = op(a) . op(b), op(x) = x^T when the flag is set
 * (a is [M,K] or [K,M], b is [K,N] or [N,K]). transpose2d: x[M,N] -> [N,M] copy. */
mgsd_tensor *ag_matmul(mgsd_tape *t, mgsd_tensor *a, mgsd_tensor *b, int ta, int tb);
mgsd_tensor *ag_transpose2d(mgsd_tape *t, mgsd_tensor *x);

/* Sequence, fused and recurrent ops. */
#include "autograd/ag_seq.h"
/* Model-specific ops (MGSD-WSS). */
#include "autograd/ag_model.h"

#endif
