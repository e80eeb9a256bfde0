/* Autograd wrappers for the dense and element-wise ops: shape checks, forward call,
 * node recording, and the matching ag_bwd_* functions. */
#include "autograd/ag.h"
#include "ops/matmul.h"

/* ---- linear ---------------------------------------------------------------------- */
mgsd_tensor *ag_linear(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b) {
    if (!x || !w) return NULL;
    if (w->ndim != 2) return ag_fail(t, MGSD_ERR_SHAPE, "linear: weight must be 2-D [OC,C], got rank %d", w->ndim);
    int C = w->shape[1], OC = w->shape[0];
    if (ag_cols(x) != C)
        return ag_fail(t, MGSD_ERR_SHAPE, "linear: input has %d columns, weight expects %d", ag_cols(x), C);
    if (b && (b->n != OC))
        return ag_fail(t, MGSD_ERR_SHAPE, "linear: bias has %lld elements, expected %d", (long long)b->n, OC);
    int shape[AG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = OC;
    mgsd_tensor *ins[3] = {x, w, b};
    mgsd_tensor *y = ag_out(t, x->ndim, shape, ins, 3);
    if (!y) return NULL;
    int64_t N = ag_rows(x);
    ops_linear_forward(y->data, x->data, w->data, b ? b->data : NULL, N, C, OC);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_linear, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->in[1] = w;
        nd->in[2] = b;
    }
    return y;
}

void ag_bwd_linear(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2], *y = nd->out;
    ops_linear_backward(x->grad, w->grad, b ? b->grad : NULL, y->grad, x->data, w->data, ag_rows(x), w->shape[1],
                        w->shape[0]);
}
