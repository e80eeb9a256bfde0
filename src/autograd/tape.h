/* Tensors and the per-step tape (reverse-mode automatic differentiation).
 *
 * A tensor is a contiguous float32 array with up to 4 dims and an optional gradient
 * buffer of the same size. Parameters are tensors whose data/grad point into the one
 * parameter and gradient buffers (src/train/params.h); activations are tensors allocated
 * from the tape's arena, so a training step allocates nothing once the arena is warm.
 *
 * Every ag_* op (src/autograd/ag_*.c) computes its forward result immediately and, when
 * gradients are enabled and some input carries a gradient, records a node. One call to
 * ag_backward() walks the nodes in reverse and dispatches each to its backward function
 * (one switch, generated from the op lists in ops_*.def).
 *
 * Errors are sticky: an op that gets bad arguments records the first error in the tape
 * and returns NULL; any op given a NULL input returns NULL without touching the status.
 * Model code therefore runs a whole forward pass and checks ag_status() once.
 *
 * Ragged batches: token-wise ops work on packed [Ntok, C] tensors holding only the valid
 * tokens of a batch; sequence ops take an ag_seqs describing where each sequence starts. */
#ifndef MGSD_AUTOGRAD_TAPE_H
#define MGSD_AUTOGRAD_TAPE_H

#include <stdint.h>

#include "core/core.h"

#define AG_MAX_DIMS 4
#define AG_MAX_IN 4

typedef struct mgsd_tensor {
    float *data;
    float *grad;       /* NULL: no gradient flows into this tensor */
    int64_t n;         /* number of elements */
    int ndim;
    int shape[AG_MAX_DIMS];
    /* Backward bookkeeping (set by the tape, not by ops): grad_at_backward: an op output
     * whose gradient ag_backward zeroes; shared: its gradient memory is aliased by a view;
     * uses: nodes that read it; fresh: its gradient is not zeroed because its only reader,
     * a linear layer, writes it with "=" instead of "+=". */
    unsigned char grad_at_backward, shared, fresh;
    int uses;
} mgsd_tensor;

/* Packed ragged batch of B sequences: sequence b owns rows offs[b]..offs[b+1]-1 of a
 * packed [offs[B], C] tensor. max_len = max over b of the length. */
typedef struct ag_seqs {
    int B;
    const int32_t *offs; /* B+1, offs[0] = 0; must stay valid until backward has run */
    int max_len;
} ag_seqs;

/* Op identifiers: one X-macro list per op group, each group in its own file pair
 * (ops_<group>.def listing AG_OP(name), ag_<group>.c implementing the forward wrapper
 * and `void ag_bwd_<name>(mgsd_tape *, ag_node *)`). */
typedef enum ag_op {
    AG_OP_none = 0,
#define AG_OP(name) AG_OP_##name,
#include "autograd/ops_dense.def"
#include "autograd/ops_seq.def"
#include "autograd/ops_model.def"
#undef AG_OP
    AG_OP_COUNT
} ag_op;

/* One recorded operation. Fields are op-specific: in[] inputs, saved[] arena buffers kept
 * for backward, idx[] int arrays (must outlive backward), i[]/f[] scalars. */
typedef struct ag_node {
    int op;
    mgsd_tensor *out;
    mgsd_tensor *in[AG_MAX_IN];
    float *saved[4];
    const int32_t *idx[3];
    int64_t i[8];
    float f[4];
} ag_node;

typedef struct mgsd_tape {
    mgsd_arena arena;
    ag_node *nodes;
    int n_nodes, cap_nodes;
    int grad_enabled; /* record nodes and allocate activation gradients */
    int training;     /* dropout active, gumbel sampling ... */
    mgsd_status status;
    char error[512];
    mgsd_rng rng;     /* dropout masks, gumbel noise: reseeded by the trainer per step */
} mgsd_tape;

/* Create/free. arena_block: initial arena block size in bytes (0: 64 MiB). */
mgsd_status ag_tape_init(mgsd_tape *t, size_t arena_block, uint64_t seed);
void ag_tape_free(mgsd_tape *t);
/* Start a new step: forget nodes, reuse the arena, clear the status. */
void ag_tape_reset(mgsd_tape *t);
/* Status of the current step: MGSD_OK, or the first error (message re-armed in
 * mgsd_last_error() by this call). */
mgsd_status ag_status(mgsd_tape *t);
/* Backpropagate from a scalar tensor (seeds dloss = 1) through all recorded nodes. */
mgsd_status ag_backward(mgsd_tape *t, mgsd_tensor *loss);
/* Backpropagate from any tensor with a given output gradient dout (same size as out):
 * the gradient of sum(out * dout). Used by the gradient checks. */
mgsd_status ag_backward_seeded(mgsd_tape *t, mgsd_tensor *out, const float *dout);
const char *ag_op_name(int op);

/* ---- helpers for op implementations ---------------------------------------------- */
/* Record the first error (sticky); always returns NULL for `return ag_fail(...)`. */
mgsd_tensor *ag_fail(mgsd_tape *t, mgsd_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Tensor header + data from the arena; gradient buffer (zeroed) when need_grad. */
mgsd_tensor *ag_new(mgsd_tape *t, int ndim, const int *shape, int need_grad);
mgsd_tensor *ag_new2(mgsd_tape *t, int d0, int d1, int need_grad);
/* True when an op with these inputs must produce a gradient-carrying output. */
int ag_needs_grad(const mgsd_tape *t, mgsd_tensor *const *ins, int n);
/* Output tensor for an op with inputs ins: data from the arena, grad iff ag_needs_grad. */
mgsd_tensor *ag_out(mgsd_tape *t, int ndim, const int *shape, mgsd_tensor *const *ins, int n_in);
/* Append a node for `out` (only call when out->grad != NULL). NULL on allocation failure
 * (status set). */
ag_node *ag_record(mgsd_tape *t, int op, mgsd_tensor *out);
/* Arena scratch that lives until the next ag_tape_reset. */
float *ag_scratch(mgsd_tape *t, int64_t n);
int32_t *ag_scratch_i32(mgsd_tape *t, int64_t n);

/* Wrap caller-owned memory (parameters, inputs) as a tensor. grad may be NULL. */
void ag_tensor_wrap(mgsd_tensor *x, float *data, float *grad, int ndim, const int *shape);
/* View of rows [r0, r0 + nrows) of x (rank >= 1, split on the first dim): shares data and
 * gradient memory with x, so no node is needed and gradients land in x's buffer. */
mgsd_tensor *ag_view_rows(mgsd_tape *t, mgsd_tensor *x, int64_t r0, int64_t nrows);
/* Shape helpers. */
int64_t ag_numel(int ndim, const int *shape);
/* Last dimension and product of the leading ones, for row-wise ops. */
static inline int ag_cols(const mgsd_tensor *x) { return x->shape[x->ndim - 1]; }
static inline int64_t ag_rows(const mgsd_tensor *x) { return x->n / x->shape[x->ndim - 1]; }

/* Backward functions of every op, declared from the op lists. */
#define AG_OP(name) void ag_bwd_##name(mgsd_tape *t, ag_node *node);
#include "autograd/ops_dense.def"
#include "autograd/ops_seq.def"
#include "autograd/ops_model.def"
#undef AG_OP

#endif
