/* Autograd wrappers for the model-specific ops (see ag_model.h). */
#include "autograd/ag.h"
#include "ops/contrastive.h"

mgsd_tensor *ag_scale_rows(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w) {
    if (!x || !w) return NULL;
    int64_t N = ag_rows(x);
    if (w->n != N)
        return ag_fail(t, MGSD_ERR_SHAPE, "scale_rows: %lld weights for %lld rows", (long long)w->n, (long long)N);
    mgsd_tensor *ins[2] = {x, w};
    mgsd_tensor *y = ag_out(t, x->ndim, x->shape, ins, 2);
    if (!y) return NULL;
    ops_scale_rows_forward(y->data, x->data, w->data, N, ag_cols(x));
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_scale_rows, y);
        if (!nd) return NULL;
        nd->in[0] = x;
        nd->in[1] = w;
    }
    return y;
}

void ag_bwd_scale_rows(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *x = nd->in[0], *w = nd->in[1];
    ops_scale_rows_backward(x->grad, w->grad, nd->out->grad, x->data, w->data, ag_rows(x), ag_cols(x));
}

mgsd_tensor *ag_sup_contrastive(mgsd_tape *t, mgsd_tensor *z, mgsd_tensor *f, mgsd_tensor *a, mgsd_tensor *q,
                                const ag_seqs *s, int zero_ratio_grad) {
    if (!z || !f || !a || !q) return NULL;
    if (!s || !s->offs || s->B <= 0) return ag_fail(t, MGSD_ERR_INVALID_ARG, "sup_contrastive: no segments");
    int64_t n = s->offs[s->B];
    if (s->offs[0] != 0 || z->n != n || f->n != n || a->n != n || q->n != n)
        return ag_fail(t, MGSD_ERR_SHAPE, "sup_contrastive: z/f/a/q have %lld/%lld/%lld/%lld entries, segments cover %lld",
                       (long long)z->n, (long long)f->n, (long long)a->n, (long long)q->n, (long long)n);
    for (int b = 0; b < s->B; b++)
        if (s->offs[b + 1] < s->offs[b]) return ag_fail(t, MGSD_ERR_INVALID_ARG, "sup_contrastive: offsets decrease at %d", b);
    mgsd_tensor *ins[4] = {z, f, a, q};
    int shape[1] = {s->B};
    mgsd_tensor *y = ag_out(t, 1, shape, ins, 4);
    if (!y) return NULL;
    ops_sup_contrastive_forward(y->data, z->data, f->data, a->data, q->data, s->offs, s->B);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_sup_contrastive, y);
        if (!nd) return NULL;
        nd->in[0] = z;
        nd->in[1] = f;
        nd->in[2] = a;
        nd->in[3] = q;
        nd->idx[0] = s->offs;
        nd->i[0] = s->B;
        nd->i[1] = zero_ratio_grad != 0;
    }
    return y;
}

void ag_bwd_sup_contrastive(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *z = nd->in[0], *f = nd->in[1], *a = nd->in[2], *q = nd->in[3];
    /* a and q may be the same tensor: the kernel accumulates both contributions. */
    ops_sup_contrastive_backward(z->grad, f->grad, a->grad, q->grad, nd->out->grad, z->data, f->data, a->data, q->data,
                                 nd->idx[0], (int)nd->i[0], (int)nd->i[1]);
}

mgsd_tensor *ag_gaussian_gate(mgsd_tape *t, mgsd_tensor *r, const float *mu, const float *sigma, int k) {
    if (!r) return NULL;
    if (k <= 0 || !mu || !sigma) return ag_fail(t, MGSD_ERR_INVALID_ARG, "gaussian_gate: need k > 0 kernels");
    for (int j = 0; j < k; j++)
        if (!(sigma[j] > 0)) return ag_fail(t, MGSD_ERR_INVALID_ARG, "gaussian_gate: sigma[%d] = %g must be > 0", j, sigma[j]);
    mgsd_tensor *ins[1] = {r};
    mgsd_tensor *y = ag_out(t, r->ndim, r->shape, ins, 1);
    float *par = ag_scratch(t, 2 * k);
    if (!y || !par) return NULL;
    for (int j = 0; j < k; j++) {
        par[j] = mu[j];
        par[k + j] = sigma[j];
    }
    ops_gaussian_gate_forward(y->data, r->data, par, par + k, k, r->n);
    if (y->grad) {
        ag_node *nd = ag_record(t, AG_OP_gaussian_gate, y);
        if (!nd) return NULL;
        nd->in[0] = r;
        nd->saved[0] = par;
        nd->i[0] = k;
    }
    return y;
}

void ag_bwd_gaussian_gate(mgsd_tape *t, ag_node *nd) {
    mgsd_tensor *r = nd->in[0];
    int k = (int)nd->i[0];
    if (r->grad) ops_gaussian_gate_backward(r->grad, nd->out->grad, r->data, nd->saved[0], nd->saved[0] + k, k, r->n);
}
