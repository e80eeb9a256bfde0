/* Fused softmax cross-entropy over the item table, and full-ranking scores.
 * Shapes (row-major): u[B, C] user vectors, E[V, C] item table, targets[B] in [0, V),
 * G[B, V] arena buffer.
 *   loss = (1/B) sum_b ( log sum_v exp(s_bv) - s_b,target_b ),   s = u . E^T
 * exactly RecBole's CE over `seq_output @ item_emb.weight.T` (all V rows, padding id 0
 * included). exclude0 != 0 gives column 0 a score of -inf (probability 0); targets must
 * then be > 0.
 * forward: writes G = (softmax(s) - onehot(target)) / B, i.e. dloss/ds, in the same row
 *   pass that computes the log-sum-exp (max, exp+sum, scale: the [B, V] matrix is touched
 *   once per row while it is in cache); returns the mean loss.
 * backward: du[B, C] += dloss G . E,  dE[V, C] += dloss G^T . u  (two sgemm, no pass over
 *   G beyond the products); either gradient may be NULL.
 * scores: s[B, V] = u . E^T (evaluation, no gradient).
 * The *_ref versions are serial plain loops with double accumulation. */
#ifndef MGSD_OPS_XENT_H
#define MGSD_OPS_XENT_H

#include <stdint.h>

double ops_softmax_xent_forward(float *G, const float *u, const float *E, const int32_t *targets, int B, int C,
                                int V, int exclude0);
void ops_softmax_xent_backward(float *du, float *dE, const float *G, const float *u, const float *E, float dloss,
                               int B, int C, int V);
double ops_softmax_xent_forward_ref(float *G, const float *u, const float *E, const int32_t *targets, int B, int C,
                                    int V, int exclude0);
void ops_softmax_xent_backward_ref(float *du, float *dE, const float *G, const float *u, const float *E,
                                   float dloss, int B, int C, int V);

void ops_scores(float *scores, const float *u, const float *E, int B, int C, int V);

#endif
