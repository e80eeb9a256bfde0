/* Element-wise kernels on contiguous float32 arrays. Shapes:
 *   binary:   y[R,S] = f(a[R,S], b[S])   b broadcast over the R leading rows (R = 1: same
 *             shape); kinds ADD a+b, SUB a-b, MUL a*b, SQERR (a-b)^2
 *   scale:    y[n] = alpha * x[n] + beta
 *   unary:    y[n] = f(x[n]); kinds RELU, GELU (exact: 0.5 x (1 + erf(x / sqrt 2))),
 *             SIGMOID, EXP, LOG (input clamped at 1e-30: log(max(x, 1e-30)), zero gradient
 *             where clamped), TANH. Backward reads x or y, whichever the derivative needs.
 *   dropout:  y[n] = x[n] * keep[n] / (1 - p), keep[n] ~ Bernoulli(1 - p) stored as bits,
 *             mask[(n + 63) / 64] (bit j of word w: element 64 w + j is kept).
 * Backward accumulates (+=) into every non-NULL gradient. The *_ref versions are plain
 * serial loops; the default versions use OpenMP for large arrays and, for the broadcast
 * reduction of db, split the columns between threads (race-free, deterministic). */
#ifndef MGSD_OPS_ELTWISE_H
#define MGSD_OPS_ELTWISE_H

#include <stdint.h>

#include "mgsd/core.h"

typedef enum ops_binary_kind { OPS_BIN_ADD, OPS_BIN_SUB, OPS_BIN_MUL, OPS_BIN_SQERR } ops_binary_kind;
typedef enum ops_unary_kind {
    OPS_UN_RELU,
    OPS_UN_GELU,
    OPS_UN_SIGMOID,
    OPS_UN_EXP,
    OPS_UN_LOG,
    OPS_UN_TANH
} ops_unary_kind;

/* Smallest input log accepts before clamping. */
#define OPS_LOG_MIN 1e-30f

void ops_binary_forward(ops_binary_kind k, float *y, const float *a, const float *b, int64_t R, int64_t S);
void ops_binary_backward(ops_binary_kind k, float *da, float *db, const float *dy, const float *a, const float *b,
                         int64_t R, int64_t S);
void ops_binary_forward_ref(ops_binary_kind k, float *y, const float *a, const float *b, int64_t R, int64_t S);
void ops_binary_backward_ref(ops_binary_kind k, float *da, float *db, const float *dy, const float *a,
                             const float *b, int64_t R, int64_t S);

void ops_scale_forward(float *y, const float *x, float alpha, float beta, int64_t n);
void ops_scale_backward(float *dx, const float *dy, float alpha, int64_t n);

void ops_unary_forward(ops_unary_kind k, float *y, const float *x, int64_t n);
void ops_unary_backward(ops_unary_kind k, float *dx, const float *dy, const float *x, const float *y, int64_t n);
void ops_unary_forward_ref(ops_unary_kind k, float *y, const float *x, int64_t n);
void ops_unary_backward_ref(ops_unary_kind k, float *dx, const float *dy, const float *x, const float *y, int64_t n);

/* The vectorisable erf and exp behind the fast gelu (exposed for the accuracy test). */
float ops_erf_fast(float x);
float ops_exp_fast(float x);

/* Draw the keep mask (advances rng) and apply it. p in [0, 1). Drop probability is
 * round(p * 2^32) / 2^32: each element compares a 32-bit uniform with the threshold, done
 * bit-serially for 64 elements at once so that a word of 64 decisions usually costs a
 * handful of 64-bit draws (one for p = 0.5) instead of 64. */
void ops_dropout_forward(float *y, uint64_t *mask, const float *x, int64_t n, float p, mgsd_rng *rng);
void ops_dropout_backward(float *dx, const float *dy, const uint64_t *mask, int64_t n, float p);
/* Reference: one mgsd_rng_u32 per element (a different stream; same distribution). */
void ops_dropout_forward_ref(float *y, uint64_t *mask, const float *x, int64_t n, float p, mgsd_rng *rng);

/* Dropout randomness shared by every dropout kernel: thr = round(p 2^32); a keep word has
 * bit j set when a 32-bit uniform of lane j is >= thr (probability 1 - p per bit), drawn
 * bit-sliced from r (one u64 per bit of thr until all lanes are decided; 1 for p = 0.5). */
uint32_t ops_dropout_threshold(float p);
uint64_t ops_dropout_keep_word(mgsd_rng *r, uint32_t thr);

#endif
