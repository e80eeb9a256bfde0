/* Matrix products. Shapes (row-major):
 *   linear:  out[N,OC] = inp[N,C] . w[OC,C]^T + b[OC]      (b may be NULL; PyTorch layout)
 *   matmul:  out[M,N]  = op(a) . op(b), op(x) = x or x^T    (general, for attention-free use)
 * Backward accumulates (+=) into every non-NULL gradient:
 *   dinp[N,C] += dout . w,  dw[OC,C] += dout^T . inp,  db[OC] += sum_n dout[n,:].
 * The *_ref versions are plain loops kept as the reference; the default versions call
 * ops_blas_sgemm (ops/blas.h) for large shapes when built with a matrix-product library. */
#ifndef MGSD_OPS_MATMUL_H
#define MGSD_OPS_MATMUL_H

#include <stdint.h>

void ops_linear_forward(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC);
/* ws: NULL, or a workspace of nws floats (contents clobbered), ops_linear_ws_floats(C, OC)
 * of them asked for with the thread count of the call, that lets the weight gradient run
 * faster: a tall weight (OC several times C, e.g. a feed-forward's first layer) as the
 * transposed product, and a product whose long operand has rows a multiple of 4 KiB apart
 * (a 2048-wide hidden layer) through a padded copy of it. A smaller workspace gets what
 * fits (or the plain product); the result is the same up to float summation order. */
void ops_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                         int64_t N, int C, int OC, float *ws, int64_t nws);
/* The same, except that dinp is written (=), not accumulated: for an input gradient that
 * nothing else writes (the tape's "fresh" gradients), which then needs no zeroing. */
void ops_linear_backward_set(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                             int64_t N, int C, int OC, float *ws, int64_t nws);
/* Floats of ws that ops_linear_backward can use for a weight [OC, C] at the current thread
 * count (0: none needed). */
int64_t ops_linear_ws_floats(int C, int OC);
void ops_linear_forward_ref(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC);
void ops_linear_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, int64_t N, int C, int OC);
void ops_linear_backward_set_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                 const float *w, int64_t N, int C, int OC);

/* linear_relu: out = relu(inp . w^T + b), bias and relu applied in one pass after the
 * product. relu_mask_inplace: dy[i] = 0 where y[i] <= 0 (the relu backward on the output). */
void ops_linear_relu_forward(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC);
void ops_relu_mask_inplace(float *dy, const float *y, int64_t n);
/* Bias gradient db[OC] += sum_n dout[n, :] over dout[N, OC]; with y != NULL the relu mask
 * is applied first, in place (dout[n, j] = 0 where y[n, j] <= 0): the relu backward and the
 * bias gradient of linear_relu in one pass. dout is not written when y == NULL. */
void ops_bias_grad(float *db, float *dout, const float *y, int64_t N, int OC);
void ops_bias_grad_ref(float *db, float *dout, const float *y, int64_t N, int OC);

/* c[M,N] = alpha * op(a) . op(b) + beta * c; a is [M,K] (or [K,M] if ta), b is [K,N]
 * (or [N,K] if tb). Leading dimensions are the natural ones of the stored matrices. */
void ops_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
              float beta, float *c);
void ops_gemm_ref(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
                  float beta, float *c);

/* Per-shape timing of the products that reach the matrix-product library (ops_gemm's and
 * the padded weight-gradient products), for benchmarks that need to know where a step's
 * product time goes. Off by default (one branch per product); ops_gemm_profile(1) clears
 * the table and starts timing, ops_gemm_profile(0) stops. Products called inside a
 * parallel region are not timed (the region's caller is). A dimension above 1024 other
 * than 2048 (a batch's token count, or the item count) is pooled as OPS_GEMM_PROFILE_POOLED;
 * `padded` marks the weight gradients that read their long operand through the padded copy.
 * Shapes beyond the table's OPS_GEMM_PROFILE_CAP entries are pooled in one entry with
 * M = N = K = 0. */
#define OPS_GEMM_PROFILE_CAP 96
#define OPS_GEMM_PROFILE_POOLED 1025
typedef struct ops_gemm_stat {
    int ta, tb, padded;
    int64_t M, N, K;
    uint64_t calls;
    double seconds, flops;
} ops_gemm_stat;
void ops_gemm_profile(int on);
/* Copies up to cap entries, slowest first; returns how many the table holds. */
int ops_gemm_profile_read(ops_gemm_stat *out, int cap);

/* c[M,N] = op(a) . op(b) and its backward: da (shape of a) += dc . op(b)^T (transposed
 * back when ta), db (shape of b) += op(a)^T . dc (transposed back when tb). NULL grads are
 * skipped. Both go through ops_gemm. */
void ops_matmul_forward(float *c, const float *a, const float *b, int ta, int tb, int64_t M, int64_t N, int64_t K);
void ops_matmul_backward(float *da, float *db, const float *dc, const float *a, const float *b, int ta, int tb,
                         int64_t M, int64_t N, int64_t K);

#endif
