/* Gradient-check rows for the model-specific ops (src/autograd/ag_model.c). */
#include "autograd/ag.h"
#include "gradcheck.h"

static const int32_t seg_offs[4] = {0, 1, 4, 8};

static mgsd_tensor *gc_scale_rows(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 6, 5);
    int s[1] = {6};
    mgsd_tensor *w = gc_input(g, 1, s, 1.0f);
    return ag_scale_rows(t, x, w);
}

static mgsd_tensor *gc_sup_contrastive(gc_ctx *g, mgsd_tape *t) {
    int s[1] = {8};
    mgsd_tensor *z = gc_input(g, 1, s, 1.0f);
    mgsd_tensor *f = gc_input_uniform(g, 1, s, 0.2f, 1.0f);
    mgsd_tensor *a = gc_input_uniform(g, 1, s, 0.1f, 1.0f);
    mgsd_tensor *q = gc_input_uniform(g, 1, s, 0.1f, 1.0f);
    static ag_seqs seqs = {3, seg_offs, 4};
    return ag_sup_contrastive(t, z, f, a, q, &seqs, 1);
}

/* Interest granularity: the same weights on both sides (a == q). */
static mgsd_tensor *gc_sup_contrastive_shared(gc_ctx *g, mgsd_tape *t) {
    int s[1] = {8};
    mgsd_tensor *z = gc_input(g, 1, s, 1.0f);
    mgsd_tensor *f = gc_input_uniform(g, 1, s, 0.2f, 1.0f);
    mgsd_tensor *w = gc_input_uniform(g, 1, s, 0.1f, 1.0f);
    static ag_seqs seqs = {3, seg_offs, 4};
    return ag_sup_contrastive(t, z, f, w, w, &seqs, 1);
}

static mgsd_tensor *gc_gaussian_gate(gc_ctx *g, mgsd_tape *t) {
    /* cosine-like inputs in [-1, 1]; the narrow first kernel (sigma 0.001) is left out
     * of the finite-difference check because eps = 1e-3 cannot resolve it. */
    int s[1] = {12};
    mgsd_tensor *r = gc_input_uniform(g, 1, s, -1.0f, 1.0f);
    const float mu[3] = {0.9f, 0.2f, -0.5f}, sigma[3] = {0.1f, 0.3f, 0.5f};
    return ag_gaussian_gate(t, r, mu, sigma, 3);
}

const gc_row gc_rows_extra[] = {
    {"gaussian_gate", gc_gaussian_gate, 0, 0, 0},
    {"scale_rows", gc_scale_rows, 0, 0, 0},
    {"sup_contrastive", gc_sup_contrastive, 0, 0, 0},
    {"sup_contrastive_shared_weights", gc_sup_contrastive_shared, 0, 0, 0},
    {NULL, NULL, 0, 0, 0},
};
