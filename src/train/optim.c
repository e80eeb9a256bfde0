/* Adam / AdamW on the flat parameter buffer, and learning-rate schedules (optim.h). */
#include "train/optim.h"

#include <math.h>
#include <string.h>

#define OPTIM_OMP_MIN 32768

optim_adam_config optim_adam_defaults(void) {
    optim_adam_config c = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0,
                           .decoupled = 0};
    return c;
}

static mgsd_status optim_check_config(const optim_adam_config *c) {
    if (!(c->lr >= 0.0) || !isfinite(c->lr))
        return mgsd_error(MGSD_ERR_CONFIG, "adam: learning rate must be a finite number >= 0, got %g", c->lr);
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0) || !(c->beta2 >= 0.0 && c->beta2 < 1.0))
        return mgsd_error(MGSD_ERR_CONFIG, "adam: betas must be in [0, 1), got (%g, %g)", c->beta1, c->beta2);
    if (!(c->eps > 0.0))
        return mgsd_error(MGSD_ERR_CONFIG, "adam: eps must be > 0, got %g", c->eps);
    if (!(c->weight_decay >= 0.0) || !isfinite(c->weight_decay))
        return mgsd_error(MGSD_ERR_CONFIG, "adam: weight_decay must be >= 0, got %g", c->weight_decay);
    return MGSD_OK;
}

mgsd_status optim_adam_init(optim_adam *o, const mgsd_params *p, const optim_adam_config *cfg) {
    MGSD_CHECK_ARG(o != NULL);
    memset(o, 0, sizeof *o);
    MGSD_CHECK_ARG(p != NULL && cfg != NULL);
    MGSD_TRY(optim_check_config(cfg));
    size_t n = p->total > 0 ? (size_t)p->total : 1;
    float *m = mgsd_calloc(n, sizeof(float));
    float *v = mgsd_calloc(n, sizeof(float));
    if (!m || !v) {
        mgsd_free(m);
        mgsd_free(v);
        return mgsd_error(MGSD_ERR_NOMEM, "adam: out of memory for %lld moment values: %s", (long long)p->total,
                          mgsd_last_error()); /* the allocator's reason, which names the memory limit */
    }
    o->cfg = *cfg;
    o->m = m;
    o->v = v;
    o->n = p->total;
    o->step = 0;
    return MGSD_OK;
}

void optim_adam_free(optim_adam *o) {
    if (!o) return;
    mgsd_free(o->m);
    mgsd_free(o->v);
    memset(o, 0, sizeof *o);
}

void optim_adam_reset(optim_adam *o) {
    if (!o) return;
    if (o->n > 0) {
        memset(o->m, 0, (size_t)o->n * sizeof(float));
        memset(o->v, 0, (size_t)o->n * sizeof(float));
    }
    o->step = 0;
}

mgsd_status optim_adam_step(optim_adam *o, mgsd_params *p, double lr) {
    MGSD_CHECK_ARG(o != NULL && p != NULL);
    if (p->total != o->n)
        return mgsd_error(MGSD_ERR_SHAPE, "adam: optimiser holds %lld values, parameters have %lld",
                          (long long)o->n, (long long)p->total);
    if (!(lr >= 0.0) || !isfinite(lr))
        return mgsd_error(MGSD_ERR_INVALID_ARG, "adam: learning rate must be a finite number >= 0, got %g", lr);

    int64_t t = o->step + 1;
    /* Scalars in double, then float for the loop (torch computes them as Python floats). */
    const double bc1 = 1.0 - pow(o->cfg.beta1, (double)t);
    const double bc2 = 1.0 - pow(o->cfg.beta2, (double)t);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1w = (float)(1.0 - o->cfg.beta1);
    const float b2 = (float)o->cfg.beta2, b2w = (float)(1.0 - o->cfg.beta2);
    const float eps = (float)o->cfg.eps;
    const float wd = (float)o->cfg.weight_decay;
    const int decoupled = o->cfg.decoupled;
    const float decay = (float)(1.0 - lr * o->cfg.weight_decay);

    float *restrict x = p->data;
    const float *restrict g = p->grad;
    float *restrict m = o->m;
    float *restrict v = o->v;
    const int64_t n = o->n;

#pragma omp parallel for simd schedule(static) if (n >= OPTIM_OMP_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float xi = x[i];
        if (decoupled) xi *= decay;            /* AdamW: param.mul_(1 - lr * wd) */
        else gi += wd * xi;                    /* Adam: grad.add(param, alpha=wd) */
        float mi = m[i] + b1w * (gi - m[i]);   /* exp_avg.lerp_(grad, 1 - beta1) */
        float vi = v[i] * b2 + b2w * gi * gi;  /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2) */
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        x[i] = xi - step_size * (mi / denom);
        m[i] = mi;
        v[i] = vi;
    }
    o->step = t;
    return MGSD_OK;
}

mgsd_status optim_schedule_init(optim_schedule *s, optim_schedule_kind kind, double base_lr,
                                int64_t warmup_steps, int64_t total_steps) {
    MGSD_CHECK_ARG(s != NULL);
    if (!(base_lr >= 0.0) || !isfinite(base_lr))
        return mgsd_error(MGSD_ERR_CONFIG, "schedule: learning rate must be a finite number >= 0, got %g", base_lr);
    switch (kind) {
    case OPTIM_SCHEDULE_CONSTANT:
        break;
    case OPTIM_SCHEDULE_LINEAR_WARMUP:
        if (total_steps <= 0)
            return mgsd_error(MGSD_ERR_CONFIG, "schedule: total steps must be > 0, got %lld",
                              (long long)total_steps);
        if (warmup_steps < 0 || warmup_steps > total_steps)
            return mgsd_error(MGSD_ERR_CONFIG, "schedule: warm-up steps must be in [0, %lld], got %lld",
                              (long long)total_steps, (long long)warmup_steps);
        break;
    default:
        return mgsd_error(MGSD_ERR_INVALID_ARG, "schedule: unknown kind %d", (int)kind);
    }
    s->kind = kind;
    s->base_lr = base_lr;
    s->warmup_steps = warmup_steps;
    s->total_steps = total_steps;
    return MGSD_OK;
}

double optim_schedule_lr(const optim_schedule *s, int64_t step) {
    if (s->kind != OPTIM_SCHEDULE_LINEAR_WARMUP) return s->base_lr;
    if (step < s->warmup_steps)
        return s->base_lr * (double)step / (double)(s->warmup_steps > 1 ? s->warmup_steps : 1);
    int64_t rest = s->total_steps - s->warmup_steps;
    double f = (double)(s->total_steps - step) / (double)(rest > 1 ? rest : 1);
    return s->base_lr * (f > 0.0 ? f : 0.0);
}
