/* Table-driven finite-difference gradient checks.
 *
 * A row names an op (or a composite) and a build function that, given the tape, creates
 * its inputs with gc_input*() and returns the output tensor. The runner (test_gradcheck.c)
 * builds once with gradients enabled, backpropagates the gradient of
 *     L = sum_j r_j * out_j        (r fixed random weights, accumulated in double)
 * and compares every checked input element (all of them for small inputs, 48 sampled
 * ones otherwise) against the central difference (L(x+eps) - L(x-eps)) / (2 eps) with
 * eps = 1e-3 (row may override). Forward kernels are float32, the loss sum is double.
 * Tolerance: |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|), with
 * rtol = 1e-2 and atol = 2e-3 unless the row says otherwise. Elements where the function
 * has a kink inside [x-eps, x+eps] (one-sided differences disagree by more than 10% of
 * their scale, e.g. relu at 0) are skipped and counted.
 *
 * Build functions must be deterministic: the runner reseeds the tape's RNG before every
 * build, so dropout masks and gumbel noise repeat exactly. Inputs persist across builds:
 * the k-th gc_input call of a build returns the same tensor every time. */
#ifndef MGSD_TESTS_GRADCHECK_H
#define MGSD_TESTS_GRADCHECK_H

#include "autograd/tape.h"

typedef struct gc_ctx gc_ctx;
typedef mgsd_tensor *(*gc_build_fn)(gc_ctx *g, mgsd_tape *t);

typedef struct gc_row {
    const char *name;  /* op name (must match the AG_OP name for op rows) */
    gc_build_fn build;
    double rtol, atol, eps; /* 0 = defaults */
} gc_row;

/* Checked input, values ~ N(0, 1) * scale (scale 0 -> 1). */
mgsd_tensor *gc_input(gc_ctx *g, int ndim, const int *shape, float scale);
mgsd_tensor *gc_input2(gc_ctx *g, int d0, int d1);
/* Checked input with values uniform in [lo, hi] (e.g. positive values for log). */
mgsd_tensor *gc_input_uniform(gc_ctx *g, int ndim, const int *shape, float lo, float hi);
/* Checked input backed by caller-owned memory (e.g. one tensor of a model's parameters):
 * the runner perturbs x's data and reads x's gradient; the ctx never frees them. The
 * caller keeps the memory alive across the builds of a row. */
mgsd_tensor *gc_input_external(gc_ctx *g, mgsd_tensor *x);
/* Unchecked constant input (no gradient), values ~ N(0,1). */
mgsd_tensor *gc_const(gc_ctx *g, int ndim, const int *shape);
/* Integer array that persists across builds, values uniform in [lo, hi]. */
int32_t *gc_ints(gc_ctx *g, int n, int lo, int hi);
/* The RNG for building inputs (stable across builds for the same call order). */
mgsd_rng *gc_rng(gc_ctx *g);

/* Row tables, one per op group; each ends with a {NULL} sentinel. */
extern const gc_row gc_rows_dense[];
extern const gc_row gc_rows_seq[];
extern const gc_row gc_rows_model[];

#endif
