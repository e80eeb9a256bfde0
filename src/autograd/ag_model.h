/* Differentiable model-specific ops (ag_model.c; kernels in src/ops/contrastive). Same
 * conventions as ag.h: NULL inputs give NULL, bad arguments a sticky tape error. */
#ifndef MGSD_AUTOGRAD_AG_MODEL_H
#define MGSD_AUTOGRAD_AG_MODEL_H

#include "autograd/tape.h"

/* y[..., C] = x[..., C] * w[rows]: each row of x scaled by one element of w (w has as
 * many elements as x has rows, any shape). */
mgsd_tensor *ag_scale_rows(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w);

/* Noise-weighted supervised contrastive loss per segment (ops/contrastive.h): z, f, a, q
 * hold one value per entry (same element count = s->offs[s->B]); output [B] losses.
 * q may equal a (interest granularity). zero_ratio_grad: entries with a zero ratio pass the
 * authors' autograd gradient (see ops_sup_contrastive_backward). */
mgsd_tensor *ag_sup_contrastive(mgsd_tape *t, mgsd_tensor *z, mgsd_tensor *f, mgsd_tensor *a, mgsd_tensor *q,
                                const ag_seqs *s, int zero_ratio_grad);

/* y[n] = sum_j exp(-(r[n] - mu_j)^2 / (2 sigma_j^2)) for the k kernels (mu, sigma: k
 * floats each, copied into the tape). Output has r's shape. */
mgsd_tensor *ag_gaussian_gate(mgsd_tape *t, mgsd_tensor *r, const float *mu, const float *sigma, int k);

#endif
