/* Straight-through gumbel-softmax over the last dim (PyTorch F.gumbel_softmax).
 * Shapes: x[N, K] logits (or probabilities, MGSD reference quirk), g[N, K] gumbel noise
 * -log(-log U) (NULL: no noise, deterministic evaluation), ysoft[N, K] saved, y[N, K].
 *   ysoft = softmax((x + g) / tau)
 *   y     = hard ? one_hot(argmax ysoft) : ysoft       (first index wins ties)
 * PyTorch's hard output y_hard - ysoft.detach() + ysoft equals one_hot up to one float
 * rounding; we store the exact one-hot. The gradient is always the soft one:
 *   dx += (1/tau) ysoft * (dy - sum_k dy_k ysoft_k).
 * The *_ref versions use double arithmetic. */
#ifndef MGSD_OPS_GUMBEL_H
#define MGSD_OPS_GUMBEL_H

#include <stdint.h>

#include "core/core.h"

/* g[n] = -log(-log U), U uniform clamped to [1e-10, 1 - 1e-10]. */
void ops_gumbel_noise(float *g, int64_t n, mgsd_rng *rng);
void ops_gumbel_softmax_forward(float *y, float *ysoft, const float *x, const float *g, int64_t N, int K, float tau,
                                int hard);
void ops_gumbel_softmax_backward(float *dx, const float *dy, const float *ysoft, int64_t N, int K, float tau);
void ops_gumbel_softmax_forward_ref(float *y, float *ysoft, const float *x, const float *g, int64_t N, int K,
                                    float tau, int hard);
void ops_gumbel_softmax_backward_ref(float *dx, const float *dy, const float *ysoft, int64_t N, int K, float tau);

#endif
