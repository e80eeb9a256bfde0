/* The per-step tape: node recording, sticky errors, arena tensors and the one backward
 * switch. See tape.h for the contract. */
#include "autograd/tape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const op_names[] = {
    "none",
#define AG_OP(name) #name,
#include "autograd/ops_dense.def"
#include "autograd/ops_seq.def"
#include "autograd/ops_model.def"
#undef AG_OP
};

const char *ag_op_name(int op) {
    if (op < 0 || op >= AG_OP_COUNT) return "?";
    return op_names[op];
}

mgsd_status ag_tape_init(mgsd_tape *t, size_t arena_block, uint64_t seed) {
    if (!t) return mgsd_error(MGSD_ERR_INVALID_ARG, "ag_tape_init: tape is NULL");
    memset(t, 0, sizeof *t);
    mgsd_arena_init(&t->arena, arena_block ? arena_block : (size_t)64 << 20);
    t->cap_nodes = 256;
    t->nodes = mgsd_malloc(sizeof(ag_node) * (size_t)t->cap_nodes);
    if (!t->nodes) return MGSD_ERR_NOMEM;
    t->grad_enabled = 1;
    t->training = 1;
    mgsd_rng_seed(&t->rng, seed);
    return MGSD_OK;
}

void ag_tape_free(mgsd_tape *t) {
    if (!t) return;
    mgsd_arena_free(&t->arena);
    mgsd_free(t->nodes);
    t->nodes = NULL;
    t->n_nodes = t->cap_nodes = 0;
}

void ag_tape_reset(mgsd_tape *t) {
    /* After the first step, fold the arena's blocks into one so later steps reuse a
     * single contiguous region and allocate nothing. */
    if (mgsd_arena_consolidate(&t->arena) != MGSD_OK) mgsd_arena_reset(&t->arena);
    t->n_nodes = 0;
    t->status = MGSD_OK;
    t->error[0] = '\0';
}

mgsd_status ag_status(mgsd_tape *t) {
    if (t->status != MGSD_OK) mgsd_error(t->status, "%s", t->error);
    return t->status;
}

mgsd_tensor *ag_fail(mgsd_tape *t, mgsd_status s, const char *fmt, ...) {
    if (t->status == MGSD_OK) {
        t->status = s;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->error, sizeof t->error, fmt, ap);
        va_end(ap);
        mgsd_error(s, "%s", t->error);
    }
    return NULL;
}

int64_t ag_numel(int ndim, const int *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

void ag_tensor_wrap(mgsd_tensor *x, float *data, float *grad, int ndim, const int *shape) {
    memset(x, 0, sizeof *x);
    x->data = data;
    x->grad = grad;
    x->ndim = ndim;
    for (int i = 0; i < ndim; i++) x->shape[i] = shape[i];
    x->n = ag_numel(ndim, shape);
}

/* An activation that does not fit: the allocator's message (which names the memory limit)
 * with what the step holds and what it asked for. */
static mgsd_tensor *oom(mgsd_tape *t, const char *what, size_t bytes) {
    char a[32], b[32];
    return ag_fail(t, MGSD_ERR_NOMEM,
                   "activations: no room for %s of %s (the step holds %s): %s; a smaller batch "
                   "(train_batch_size, eval_batch_size) or MAX_ITEM_LIST_LENGTH needs less",
                   what, mgsd_format_bytes(a, (double)bytes), mgsd_format_bytes(b, (double)t->arena.used),
                   mgsd_last_error());
}

float *ag_scratch(mgsd_tape *t, int64_t n) {
    float *p = mgsd_arena_alloc(&t->arena, (size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!p) oom(t, "a buffer", (size_t)(n > 0 ? n : 1) * sizeof(float));
    return p;
}

int32_t *ag_scratch_i32(mgsd_tape *t, int64_t n) {
    int32_t *p = mgsd_arena_alloc(&t->arena, (size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (!p) oom(t, "an index buffer", (size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    return p;
}

/* Gradient of a new tensor: none, zeroed now (leaves made with ag_new), or left unzeroed
 * (op outputs from ag_out, which always get a node: zero_node_grads clears them right
 * before the backward pass, in one threaded pass close to their first use, instead of a
 * memset per tensor during the forward pass). */
typedef enum { GRAD_NONE, GRAD_ZEROED, GRAD_ZEROED_AT_BACKWARD } grad_init;

static mgsd_tensor *new_tensor(mgsd_tape *t, int ndim, const int *shape, grad_init need_grad) {
    if (ndim < 1 || ndim > AG_MAX_DIMS)
        return ag_fail(t, MGSD_ERR_SHAPE, "tensor rank %d outside 1..%d", ndim, AG_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) return ag_fail(t, MGSD_ERR_SHAPE, "tensor dim %d is %d (must be > 0)", i, shape[i]);
    mgsd_tensor *x = mgsd_arena_alloc(&t->arena, sizeof *x);
    if (!x) return oom(t, "a tensor header", sizeof *x);
    x->ndim = ndim;
    for (int i = 0; i < AG_MAX_DIMS; i++) x->shape[i] = i < ndim ? shape[i] : 0;
    x->n = ag_numel(ndim, shape);
    x->data = ag_scratch(t, x->n);
    x->grad = NULL;
    x->grad_at_backward = need_grad == GRAD_ZEROED_AT_BACKWARD;
    x->shared = x->fresh = 0;
    x->uses = 0;
    if (!x->data) return NULL;
    if (need_grad != GRAD_NONE) {
        size_t bytes = (size_t)x->n * sizeof(float);
        x->grad = need_grad == GRAD_ZEROED ? mgsd_arena_calloc(&t->arena, bytes) : mgsd_arena_alloc(&t->arena, bytes);
        if (!x->grad) return oom(t, "a gradient", bytes);
    }
    return x;
}

mgsd_tensor *ag_new(mgsd_tape *t, int ndim, const int *shape, int need_grad) {
    return new_tensor(t, ndim, shape, need_grad ? GRAD_ZEROED : GRAD_NONE);
}

mgsd_tensor *ag_new2(mgsd_tape *t, int d0, int d1, int need_grad) {
    int s[2] = {d0, d1};
    return ag_new(t, 2, s, need_grad);
}

int ag_needs_grad(const mgsd_tape *t, mgsd_tensor *const *ins, int n) {
    if (!t->grad_enabled) return 0;
    for (int i = 0; i < n; i++)
        if (ins[i] && ins[i]->grad) return 1;
    return 0;
}

mgsd_tensor *ag_out(mgsd_tape *t, int ndim, const int *shape, mgsd_tensor *const *ins, int n_in) {
    return new_tensor(t, ndim, shape, ag_needs_grad(t, ins, n_in) ? GRAD_ZEROED_AT_BACKWARD : GRAD_NONE);
}

ag_node *ag_record(mgsd_tape *t, int op, mgsd_tensor *out) {
    if (t->n_nodes == t->cap_nodes) {
        int cap = t->cap_nodes * 2;
        ag_node *nn = mgsd_realloc(t->nodes, sizeof(ag_node) * (size_t)cap);
        if (!nn) {
            ag_fail(t, MGSD_ERR_NOMEM, "out of memory growing the tape to %d nodes", cap);
            return NULL;
        }
        t->nodes = nn;
        t->cap_nodes = cap;
    }
    ag_node *node = &t->nodes[t->n_nodes++];
    memset(node, 0, sizeof *node);
    node->op = op;
    node->out = out;
    return node;
}

static mgsd_status run_backward(mgsd_tape *t);

static int writes_input_grad(int op) { return op == AG_OP_linear || op == AG_OP_linear_relu; }

/* Zero the gradient of every recorded node's output (ag_out leaves them unzeroed), except
 * those that the backward pass writes whole before anything reads them: an op output read
 * by exactly one node, a linear layer, as its input x (the layer's backward then computes
 * dx = dy . W with "=": ops_linear_backward_set). That skips a memset and a read of the
 * largest activation gradients (the feed-forward's inner ones). seed (the loss, or the
 * output ag_backward_seeded starts from) is always zeroed. Large ones are split over the
 * threads. */
static void zero_node_grads(mgsd_tape *t, mgsd_tensor *seed) {
    for (int k = 0; k < t->n_nodes; k++) {
        ag_node *nd = &t->nodes[k];
        for (int j = 0; j < AG_MAX_IN; j++)
            if (nd->in[j]) nd->in[j]->uses = 0;
    }
    for (int k = 0; k < t->n_nodes; k++) {
        ag_node *nd = &t->nodes[k];
        for (int j = 0; j < AG_MAX_IN; j++)
            if (nd->in[j]) nd->in[j]->uses++;
    }
    for (int k = 0; k < t->n_nodes; k++) {
        ag_node *nd = &t->nodes[k];
        if (nd->out) nd->out->fresh = 0;
        mgsd_tensor *x = nd->in[0];
        if (writes_input_grad(nd->op) && x && x->grad_at_backward && !x->shared && x->uses == 1 && x != seed)
            x->fresh = 1;
    }
    for (int k = 0; k < t->n_nodes; k++) {
        mgsd_tensor *y = t->nodes[k].out;
        if (!y || !y->grad || y->fresh) continue;
        int64_t n = y->n;
        if (n < (1 << 16)) {
            memset(y->grad, 0, sizeof(float) * (size_t)n);
            continue;
        }
        const int64_t chunk = 1 << 14;
        float *g = y->grad;
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < (n + chunk - 1) / chunk; c++) {
            int64_t i0 = c * chunk, m = n - i0 < chunk ? n - i0 : chunk;
            memset(g + i0, 0, sizeof(float) * (size_t)m);
        }
    }
}

mgsd_status ag_backward(mgsd_tape *t, mgsd_tensor *loss) {
    if (t->status != MGSD_OK) return ag_status(t);
    if (!loss) return mgsd_error(MGSD_ERR_INVALID_ARG, "ag_backward: loss is NULL");
    if (loss->n != 1) return mgsd_error(MGSD_ERR_SHAPE, "ag_backward: loss has %lld elements, expected a scalar", (long long)loss->n);
    if (!loss->grad) return mgsd_error(MGSD_ERR_INVALID_ARG, "ag_backward: loss does not depend on any parameter");
    zero_node_grads(t, loss);
    loss->grad[0] += 1.0f;
    return run_backward(t);
}

mgsd_status ag_backward_seeded(mgsd_tape *t, mgsd_tensor *out, const float *dout) {
    if (t->status != MGSD_OK) return ag_status(t);
    if (!out || !dout) return mgsd_error(MGSD_ERR_INVALID_ARG, "ag_backward_seeded: NULL argument");
    if (!out->grad) return mgsd_error(MGSD_ERR_INVALID_ARG, "ag_backward_seeded: output does not depend on any parameter");
    zero_node_grads(t, out);
    for (int64_t i = 0; i < out->n; i++) out->grad[i] += dout[i];
    return run_backward(t);
}

static mgsd_status run_backward(mgsd_tape *t) {
    for (int k = t->n_nodes - 1; k >= 0; k--) {
        ag_node *node = &t->nodes[k];
        switch (node->op) {
#define AG_OP(name)                 \
    case AG_OP_##name:              \
        ag_bwd_##name(t, node);     \
        break;
#include "autograd/ops_dense.def"
#include "autograd/ops_seq.def"
#include "autograd/ops_model.def"
#undef AG_OP
        default:
            return mgsd_error(MGSD_ERR_INTERNAL, "ag_backward: unknown op %d", node->op);
        }
        if (t->status != MGSD_OK) return ag_status(t);
    }
    return MGSD_OK;
}

mgsd_tensor *ag_view_rows(mgsd_tape *t, mgsd_tensor *x, int64_t r0, int64_t nrows) {
    if (!x) return NULL;
    if (r0 < 0 || nrows <= 0 || r0 + nrows > x->shape[0])
        return ag_fail(t, MGSD_ERR_SHAPE, "view_rows: rows [%lld, %lld) outside 0..%d", (long long)r0,
                       (long long)(r0 + nrows), x->shape[0]);
    mgsd_tensor *v = mgsd_arena_alloc(&t->arena, sizeof *v);
    if (!v) return oom(t, "a tensor header", sizeof *v);
    *v = *x;
    int64_t row = x->n / x->shape[0];
    v->shape[0] = (int)nrows;
    v->n = row * nrows;
    v->data = x->data + r0 * row;
    v->grad = x->grad ? x->grad + r0 * row : NULL;
    x->shared = v->shared = 1; /* writes through v reach x's gradient: never written with "=" */
    return v;
}
