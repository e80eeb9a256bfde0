/* Kernels used by MGSD-WSS: per-row scaling and the noise-weighted supervised contrastive
 * loss (spec section 3, L_item and L_int).
 *
 * scale_rows: y[N, C] = x[N, C] * w[N] (row n scaled by w[n]).
 *   backward: dx += dy * w,  dw[n] += sum_c dy[n, c] x[n, c].
 *
 * sup_contrastive over B segments of a packed vector (segment b = entries
 * offs[b]..offs[b+1]-1), inputs z (similarities already divided by the temperature),
 * f (positive flags, 0/1 in the forward pass but differentiable: straight-through),
 * a (positive weights), q (negative weights); per segment:
 *   s_i = exp(z_i),  P_i = f_i a_i s_i,  Q_i = (1 - f_i) q_i s_i,  S = sum_j Q_j
 *   D_i = P_i + S  (+1e-10 when D_i <= 0),  r_i = P_i / D_i
 *   loss_b = sum_i [r_i != 0] (-log r_i) / sum_i f_i        (0 when sum_i f_i = 0)
 * which is the authors' supervised_contrastive_learning() term for term: entries with a
 * zero ratio contribute -log 1 = 0, the denominator is guarded by 1e-10.
 *   backward: gradients of sum_b dloss[b] loss_b with respect to z, f, a, q (each may be
 *   NULL), accumulated (+=). With zero_ratio_grad the entries whose ratio is 0 (P_i = 0:
 *   f_i = 0, or a_i = 0) also pass the gradient the authors' autograd gives them: their
 *   code takes -log(r_i + [r_i == 0]) with the indicator a constant, whose slope in r_i is
 *   -1 at r_i = 0, so df_i += -c a_i s_i / D_i and da_i += -c f_i s_i / D_i with
 *   c = dloss[b] / sum_i f_i. That reaches the straight-through flags of every negative
 *   (f_i = 0) and the weight of a positive whose weight is 0. Without it those entries
 *   pass nothing, the exact gradient of the loss as written (which is constant 0 there).
 *   Each derivative is computed in double and saturated at +-1e30 when stored, so a segment
 *   with a tiny denominator gives a huge but finite float, never inf. */
#ifndef MGSD_OPS_CONTRASTIVE_H
#define MGSD_OPS_CONTRASTIVE_H

#include <stdint.h>

void ops_scale_rows_forward(float *y, const float *x, const float *w, int64_t N, int C);
void ops_scale_rows_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t N, int C);

void ops_sup_contrastive_forward(float *loss, const float *z, const float *f, const float *a, const float *q,
                                 const int32_t *offs, int B);
void ops_sup_contrastive_backward(float *dz, float *df, float *da, float *dq, const float *dloss, const float *z,
                                  const float *f, const float *a, const float *q, const int32_t *offs, int B,
                                  int zero_ratio_grad);

/* Multiple Gaussian-kernel gate (the paper's MGP, option mgp=gaussian):
 *   y[n] = sum_j exp(-(r[n] - mu_j)^2 / (2 sigma_j^2)),  j < k
 *   backward: dr[n] += dy[n] * sum_j -(r[n] - mu_j) / sigma_j^2 * exp(...). */
void ops_gaussian_gate_forward(float *y, const float *r, const float *mu, const float *sigma, int k, int64_t N);
void ops_gaussian_gate_backward(float *dr, const float *dy, const float *r, const float *mu, const float *sigma, int k,
                                int64_t N);

#endif
