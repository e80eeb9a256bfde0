/* Row-wise kernels over the last dimension: N rows of C columns, contiguous.
 *   layernorm:   out[N,C] = (inp - mean) * rstd * w[C] + b[C], mean[N], rstd[N] saved
 *                (rstd = 1 / sqrt(var + eps), biased variance as PyTorch).
 *                Backward (llm.c form): dnorm = w * dout,
 *                dinp += rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)),
 *                dw += sum_n dout * norm, db += sum_n dout.
 *   softmax:     out[N,C] = exp(x - max) / sum exp(x - max);  dx += y * (dy - sum(dy * y))
 *   log_softmax: out[N,C] = x - max - log sum exp(x - max);   dx += dy - exp(y) * sum(dy)
 *   cosine:      out[N] = <a_n, b_n> / max(|a_n| |b_n|, eps), b is [N,C] or [C] (b_bcast);
 *                norms na[N], nb[N] saved by the forward for the backward.
 *   sum_rows:    out[N] = sum_c x[n,c];  dx[n,c] += dout[n]
 * Backward accumulates (+=) into every non-NULL gradient. The *_ref versions are plain
 * serial loops; the default versions split rows between OpenMP threads and reduce the
 * parameter gradients (dw, db, broadcast db) in a second pass over column blocks. */
#ifndef MGSD_OPS_NORM_H
#define MGSD_OPS_NORM_H

#include <stdint.h>

void ops_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                           int64_t N, int C, float eps);
void ops_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                            const float *mean, const float *rstd, int64_t N, int C);
void ops_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp, const float *w,
                               const float *b, int64_t N, int C, float eps);
void ops_layernorm_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                const float *w, const float *mean, const float *rstd, int64_t N, int C);

/* log_sm = 0: softmax, 1: log_softmax. */
void ops_softmax_forward(float *out, const float *x, int64_t N, int C, int log_sm);
void ops_softmax_backward(float *dx, const float *dy, const float *y, int64_t N, int C, int log_sm);
void ops_softmax_forward_ref(float *out, const float *x, int64_t N, int C, int log_sm);
void ops_softmax_backward_ref(float *dx, const float *dy, const float *y, int64_t N, int C, int log_sm);

void ops_cosine_forward(float *out, float *na, float *nb, const float *a, const float *b, int64_t N, int C,
                        int b_bcast, float eps);
void ops_cosine_backward(float *da, float *db, const float *dout, const float *out, const float *na,
                         const float *nb, const float *a, const float *b, int64_t N, int C, int b_bcast, float eps);
void ops_cosine_backward_ref(float *da, float *db, const float *dout, const float *out, const float *na,
                             const float *nb, const float *a, const float *b, int64_t N, int C, int b_bcast,
                             float eps);

void ops_sum_rows_forward(float *out, const float *x, int64_t N, int C);
void ops_sum_rows_backward(float *dx, const float *dout, int64_t N, int C);

#endif
