/* Adam / AdamW over the flat parameter buffer, and learning-rate schedules.
 *
 * The first and second moments m and v are one buffer each with exactly the layout of
 * mgsd_params.data (padding included), so a step is one loop over `total` floats and a
 * checkpoint stores them as two flat sections.
 *
 * Update rule (torch.optim.Adam, single-tensor path, step t counted from 1):
 *   g  = grad + wd * p                      (Adam: L2 penalty added to the gradient)
 *   p  = p * (1 - lr * wd)                  (AdamW instead: decoupled decay, g = grad)
 *   m  = b1 * m + (1 - b1) * g
 *   v  = b2 * v + (1 - b2) * g * g
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * eps is added to the bias-corrected sqrt(v), as PyTorch does. */
#ifndef MGSD_TRAIN_OPTIM_H
#define MGSD_TRAIN_OPTIM_H

#include <stdint.h>

#include "train/params.h"

typedef struct optim_adam_config {
    double lr;           /* base learning rate (a schedule may scale it per step) */
    double beta1, beta2; /* 0 <= beta < 1 */
    double eps;          /* > 0 */
    double weight_decay; /* >= 0 */
    int decoupled;       /* 0: Adam with L2 in the gradient; 1: AdamW */
} optim_adam_config;

/* lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, Adam (torch defaults). */
optim_adam_config optim_adam_defaults(void);

typedef struct optim_adam {
    optim_adam_config cfg;
    float *m;      /* [n] */
    float *v;      /* [n] */
    int64_t n;     /* = params->total at init */
    int64_t step;  /* completed steps; the next step uses t = step + 1 */
} optim_adam;

/* Validate cfg, allocate zeroed m and v matching p. On error *o is zeroed. */
mgsd_status optim_adam_init(optim_adam *o, const mgsd_params *p, const optim_adam_config *cfg);
void optim_adam_free(optim_adam *o);
/* Forget the moments and the step count. */
void optim_adam_reset(optim_adam *o);

/* One update of all parameters of p from p->grad with learning rate lr (pass cfg.lr or a
 * schedule's value). MGSD_ERR_SHAPE if p does not match the buffers; lr must be >= 0 and
 * finite. Gradients are read, not modified. */
mgsd_status optim_adam_step(optim_adam *o, mgsd_params *p, double lr);

/* ---- learning-rate schedules ---------------------------------------------------------
 * A schedule is a pure function of the step count, so resuming needs only the count.
 * `step` is the number of scheduler steps taken before this optimiser step (0 first),
 * as in torch.optim.lr_scheduler.LambdaLR. */
typedef enum optim_schedule_kind {
    OPTIM_SCHEDULE_CONSTANT,
    /* transformers.get_linear_schedule_with_warmup:
     *   step < warmup: lr * step / max(1, warmup)
     *   else:          lr * max(0, (total - step) / max(1, total - warmup)) */
    OPTIM_SCHEDULE_LINEAR_WARMUP,
} optim_schedule_kind;

typedef struct optim_schedule {
    optim_schedule_kind kind;
    double base_lr;
    int64_t warmup_steps;
    int64_t total_steps;
} optim_schedule;

/* Validate and fill: base_lr >= 0; for LINEAR_WARMUP 0 <= warmup <= total, total > 0. */
mgsd_status optim_schedule_init(optim_schedule *s, optim_schedule_kind kind, double base_lr,
                                int64_t warmup_steps, int64_t total_steps);
/* Learning rate for scheduler step `step` (>= 0). */
double optim_schedule_lr(const optim_schedule *s, int64_t step);

#endif
