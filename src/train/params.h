/* Parameter set: every trainable tensor of a model in ONE contiguous value buffer and ONE
 * gradient buffer with the same layout, built from a per-model size table.
 *
 * Layout: tensors are placed in table order; each starts at a 64-byte aligned offset
 * (a multiple of 16 floats). The padding between tensors is zero in both buffers and
 * stays zero under every operation here and in optim.h (its gradient is zero), so whole-
 * buffer loops (Adam, clipping, zeroing, checkpoint I/O) need no per-tensor bookkeeping.
 *
 * Initialisation is deterministic: values are drawn from the caller's mgsd_rng in table
 * order, element by element in row-major order. */
#ifndef MGSD_TRAIN_PARAMS_H
#define MGSD_TRAIN_PARAMS_H

#include <stdint.h>

#include "autograd/tape.h"

typedef enum params_init_kind {
    /* PyTorch nn.init.xavier_normal_ (gain 1): std = sqrt(2 / (fan_in + fan_out)) with
     * fan_in = shape[1] * rf, fan_out = shape[0] * rf, rf = prod(shape[2:]). A Linear
     * weight is [out, in]; an embedding table [num, dim] is treated the same way (as
     * PyTorch does), i.e. fan_in = dim, fan_out = num. Needs ndim >= 2. */
    PARAMS_INIT_XAVIER_NORMAL,
    PARAMS_INIT_NORMAL,  /* N(0, a^2): a = std (RecBole's initializer_range) */
    PARAMS_INIT_ZEROS,
    PARAMS_INIT_ONES,
    PARAMS_INIT_UNIFORM, /* U[a, b) */
    PARAMS_INIT_COUNT
} params_init_kind;

/* One row of a model's size table. Unused trailing shape entries are ignored. */
typedef struct params_spec {
    const char *name;            /* unique, e.g. "item_embedding.weight" */
    int ndim;                    /* 1..AG_MAX_DIMS */
    int shape[AG_MAX_DIMS];
    params_init_kind init;
    float a, b;                  /* NORMAL: a = std; UNIFORM: [a, b) */
    /* XAVIER_NORMAL: dim 0 stacks this many equal matrices, each drawn with its own fans
     * (fan_out = shape[0] / blocks): PyTorch layers kept apart there but stored here as one
     * weight, such as attention's query, key and value in one [3C, C]. 0 or 1: one matrix.
     * Other kinds draw the same values whatever it is. */
    int blocks;
} params_spec;

typedef struct mgsd_params {
    int count;                   /* number of tensors */
    char **names;                /* [count], owned copies */
    params_init_kind *inits;     /* [count] */
    float (*init_args)[2];       /* [count] (a, b) */
    int *blocks;                 /* [count] params_spec.blocks, at least 1 */
    mgsd_tensor *tensors;        /* [count] views into data / grad */
    int64_t *offsets;            /* [count] first element of tensor i, in floats */
    int64_t total;               /* floats in each buffer, padding included */
    int64_t numel;               /* trainable scalars (padding excluded) */
    float *data;                 /* [total], 64-byte aligned */
    float *grad;                 /* [total], 64-byte aligned */
} mgsd_params;

/* Validate the table (names unique and non-empty, 1 <= ndim <= 4, dims > 0, xavier needs
 * ndim >= 2, uniform needs a <= b, normal needs std >= 0), allocate both buffers and
 * initialise values from rng (advanced). Gradients start at zero. On error *p is left
 * zeroed and nothing is allocated. */
mgsd_status params_init(mgsd_params *p, const params_spec *table, int count, mgsd_rng *rng);
void params_free(mgsd_params *p);

/* Redraw all values from rng exactly as params_init does. */
void params_reset_values(mgsd_params *p, mgsd_rng *rng);

/* Tensor i (0 <= i < count), or NULL when out of range. */
mgsd_tensor *params_get(mgsd_params *p, int i);
/* Index of the tensor called name, or -1. */
int params_index(const mgsd_params *p, const char *name);
/* Tensor called name; MGSD_ERR_NOT_FOUND naming the key and the known names if absent. */
mgsd_status params_find(mgsd_params *p, const char *name, mgsd_tensor **out);

/* Trainable scalar count (padding excluded). */
int64_t params_count(const mgsd_params *p);

/* Zero every gradient (one memset over the gradient buffer). */
void params_zero_grads(mgsd_params *p);

/* Global L2 norm of all gradients, accumulated in double (OpenMP reduction for large
 * buffers; the result may then differ in the last bits from a serial sum). */
double params_grad_norm(const mgsd_params *p);

/* torch.nn.utils.clip_grad_norm_(params, max_norm): computes the global norm, and when
 * coef = max_norm / (norm + 1e-6) < 1 scales all gradients by coef. *norm_out (may be
 * NULL) receives the norm before clipping. max_norm must be > 0. A non-finite norm is
 * MGSD_ERR_NUMERIC naming the first tensor with a NaN or Inf gradient (with its count and
 * the number of such tensors) and leaves the gradients unchanged. */
mgsd_status params_clip_grad_norm(mgsd_params *p, double max_norm, double *norm_out);

/* True when a and b have the same names, shapes and offsets. */
int params_same_layout(const mgsd_params *a, const mgsd_params *b);
/* Copy values (not gradients) of src into dst; MGSD_ERR_SHAPE if the layouts differ. */
mgsd_status params_copy_values(mgsd_params *dst, const mgsd_params *src);
/* Largest |a - b| over all values; MGSD_ERR_SHAPE if the layouts differ. */
mgsd_status params_max_abs_diff(const mgsd_params *a, const mgsd_params *b, double *out);

/* 64-bit FNV-1a hash of the layout (names, shapes, offsets, total). Stored in checkpoints
 * so that loading values into a differently shaped model is a clear error. */
uint64_t params_layout_hash(const mgsd_params *p);

/* "xavier_normal", "normal", ... ("unknown" when out of range). */
const char *params_init_name(params_init_kind k);

#endif
