/* Support for the finite-difference gradient checks (see gradcheck.h). */
#include "gradcheck.h"

#include <string.h>

#define GC_MAX_INPUTS 32

struct gc_ctx {
    mgsd_tensor inputs[GC_MAX_INPUTS];
    int checked[GC_MAX_INPUTS];
    int external[GC_MAX_INPUTS]; /* memory owned by the caller (gc_input_external) */
    int32_t *ints[GC_MAX_INPUTS];
    int n_inputs, n_ints;
    int cursor, int_cursor;
    mgsd_rng rng;
};

gc_ctx *gc_ctx_new(uint64_t seed);
void gc_ctx_free(gc_ctx *g);
void gc_ctx_rewind(gc_ctx *g);
int gc_ctx_n_inputs(const gc_ctx *g);
mgsd_tensor *gc_ctx_input(gc_ctx *g, int k, int *checked);

gc_ctx *gc_ctx_new(uint64_t seed) {
    gc_ctx *g = mgsd_calloc(1, sizeof *g);
    mgsd_rng_seed(&g->rng, seed);
    return g;
}

void gc_ctx_free(gc_ctx *g) {
    for (int i = 0; i < g->n_inputs; i++) {
        if (g->external[i]) continue;
        mgsd_free(g->inputs[i].data);
        mgsd_free(g->inputs[i].grad);
    }
    for (int i = 0; i < g->n_ints; i++) mgsd_free(g->ints[i]);
    mgsd_free(g);
}

void gc_ctx_rewind(gc_ctx *g) {
    g->cursor = 0;
    g->int_cursor = 0;
}

int gc_ctx_n_inputs(const gc_ctx *g) { return g->n_inputs; }

mgsd_tensor *gc_ctx_input(gc_ctx *g, int k, int *checked) {
    *checked = g->checked[k];
    return &g->inputs[k];
}

mgsd_rng *gc_rng(gc_ctx *g) { return &g->rng; }

static mgsd_tensor *make_input(gc_ctx *g, int ndim, const int *shape, int checked, int kind, float a, float b) {
    if (g->cursor < g->n_inputs) return &g->inputs[g->cursor++];
    MGSD_ASSERT(g->n_inputs < GC_MAX_INPUTS);
    mgsd_tensor *x = &g->inputs[g->n_inputs];
    int64_t n = ag_numel(ndim, shape);
    float *data = mgsd_malloc((size_t)n * sizeof(float));
    float *grad = checked ? mgsd_calloc((size_t)n, sizeof(float)) : NULL;
    for (int64_t i = 0; i < n; i++)
        data[i] = kind == 0 ? mgsd_rng_normal(&g->rng) * a : a + (b - a) * mgsd_rng_uniform(&g->rng);
    ag_tensor_wrap(x, data, grad, ndim, shape);
    g->checked[g->n_inputs] = checked;
    g->n_inputs++;
    g->cursor++;
    return x;
}

mgsd_tensor *gc_input(gc_ctx *g, int ndim, const int *shape, float scale) {
    return make_input(g, ndim, shape, 1, 0, scale > 0 ? scale : 1.0f, 0);
}

mgsd_tensor *gc_input2(gc_ctx *g, int d0, int d1) {
    int s[2] = {d0, d1};
    return gc_input(g, 2, s, 1.0f);
}

mgsd_tensor *gc_input_uniform(gc_ctx *g, int ndim, const int *shape, float lo, float hi) {
    return make_input(g, ndim, shape, 1, 1, lo, hi);
}

mgsd_tensor *gc_const(gc_ctx *g, int ndim, const int *shape) {
    return make_input(g, ndim, shape, 0, 0, 1.0f, 0);
}

int32_t *gc_ints(gc_ctx *g, int n, int lo, int hi) {
    if (g->int_cursor < g->n_ints) return g->ints[g->int_cursor++];
    MGSD_ASSERT(g->n_ints < GC_MAX_INPUTS);
    int32_t *v = mgsd_malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    for (int i = 0; i < n; i++) v[i] = lo + (int32_t)mgsd_rng_below(&g->rng, (uint64_t)(hi - lo + 1));
    g->ints[g->n_ints++] = v;
    g->int_cursor++;
    return v;
}

mgsd_tensor *gc_input_external(gc_ctx *g, mgsd_tensor *x) {
    if (g->cursor < g->n_inputs) return &g->inputs[g->cursor++];
    MGSD_ASSERT(g->n_inputs < GC_MAX_INPUTS && x->grad != NULL);
    g->inputs[g->n_inputs] = *x; /* same data and grad buffers */
    g->checked[g->n_inputs] = 1;
    g->external[g->n_inputs] = 1;
    g->n_inputs++;
    g->cursor++;
    return &g->inputs[g->n_inputs - 1];
}
