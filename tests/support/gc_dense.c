/* Gradient-check rows for the dense ops (see tests/gradcheck.h). */
#include "autograd/ag.h"
#include "gradcheck.h"

static mgsd_tensor *gc_linear(gc_ctx *g, mgsd_tape *t) {
    mgsd_tensor *x = gc_input2(g, 5, 7);
    mgsd_tensor *w = gc_input2(g, 3, 7);
    int sb[1] = {3};
    mgsd_tensor *b = gc_input(g, 1, sb, 1.0f);
    return ag_linear(t, x, w, b);
}

static mgsd_tensor *gc_linear_big(gc_ctx *g, mgsd_tape *t) {
    /* large enough to take the BLAS path */
    mgsd_tensor *x = gc_input2(g, 40, 48);
    mgsd_tensor *w = gc_input2(g, 36, 48);
    return ag_linear(t, x, w, NULL);
}

const gc_row gc_rows_dense[] = {
    {"linear", gc_linear, 0, 0, 0},
    {"linear_blas_nobias", gc_linear_big, 0, 0, 0},
    {NULL, NULL, 0, 0, 0},
};
