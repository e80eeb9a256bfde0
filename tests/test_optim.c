/* Adam / AdamW against hand-computed steps, OpenMP path against a serial reference,
 * learning-rate schedules at chosen steps, argument checks. */
#include <math.h>

#include "test_util.h"
#include "train/optim.h"

/* Three scalars p = (0.5, -1, 2), lr 0.01, betas (0.9, 0.999), eps 1e-8, three steps with
 * gradients g1 = (0.1, -0.2, 0), g2 = (0.3, 0.1, -0.5), g3 = (-0.2, 0.4, 1e-3).
 * Step 1, wd 0, first scalar: m = 0.1*0.1 = 0.01, v = 0.001*0.01 = 1e-5,
 *   m_hat = 0.01/0.1 = 0.1, sqrt(v_hat) = sqrt(1e-5/0.001) = 0.1,
 *   p = 0.5 - 0.01 * 0.1 / (0.1 + 1e-8) = 0.4900000010.
 * A zero gradient leaves m = v = 0 and the value unchanged (third scalar, step 1).
 * The remaining expectations were computed with the same formulas in double precision
 * (torch.optim.Adam / AdamW, single-tensor path). */
static const double grads[3][3] = {{0.1, -0.2, 0.0}, {0.3, 0.1, -0.5}, {-0.2, 0.4, 1e-3}};
static const double want_adam[3][3] = {
    {0.4900000010, -0.9900000005, 2.0000000000},
    {0.4808221902, -0.9873366303, 2.0074413680},
    {0.4782431523, -0.9919099480, 2.0131807729}};
/* weight_decay 0.1 as L2 in the gradient: step 1, third scalar: g = 0 + 0.1*2 = 0.2,
 * so it moves by lr * 0.2/(0.2 + 1e-8) ~ 0.01 to 1.99. */
static const double want_adam_wd[3][3] = {
    {0.4900000007, -0.9900000003, 1.9900000005},
    {0.4805180578, -0.9833242722, 1.9924919051},
    {0.4760869496, -0.9842191330, 1.9910787878}};
/* AdamW, weight_decay 0.1: step 1, third scalar: 2 * (1 - 0.01*0.1) = 1.998, no Adam move. */
static const double want_adamw[3][3] = {
    {0.4895000010, -0.9890000005, 1.9980000000},
    {0.4798326902, -0.9853476303, 2.0034433680},
    {0.4767738196, -0.9889356004, 2.0071793295}};

static void run_three_steps(double wd, int decoupled, const double want[3][3]) {
    params_spec spec[] = {{"w", 1, {3}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 1);
    mgsd_params p;
    CHECK_OK(params_init(&p, spec, 1, &rng));
    p.data[0] = 0.5f;
    p.data[1] = -1.0f;
    p.data[2] = 2.0f;
    optim_adam_config cfg = optim_adam_defaults();
    cfg.lr = 0.01;
    cfg.weight_decay = wd;
    cfg.decoupled = decoupled;
    optim_adam o;
    CHECK_OK(optim_adam_init(&o, &p, &cfg));
    for (int s = 0; s < 3; s++) {
        params_zero_grads(&p);
        for (int i = 0; i < 3; i++) p.grad[i] = (float)grads[s][i];
        CHECK_OK(optim_adam_step(&o, &p, cfg.lr));
        for (int i = 0; i < 3; i++) CHECK_NEAR(p.data[i], want[s][i], 1e-6);
        /* padding never moves */
        for (int64_t i = 3; i < p.total; i++) CHECK(p.data[i] == 0.0f && o.m[i] == 0.0f);
    }
    CHECK_INT_EQ(o.step, 3);
    /* reset forgets moments and the count */
    optim_adam_reset(&o);
    CHECK_INT_EQ(o.step, 0);
    CHECK(o.m[0] == 0.0f && o.v[1] == 0.0f);
    optim_adam_free(&o);
    params_free(&p);
}

/* Large buffer: the OpenMP loop against a double-precision serial reference. */
static void check_large(void) {
    int n = test_quick() ? 50000 : 300000;
    params_spec spec[] = {{"a", 2, {n / 100, 100}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
                          {"b", 1, {7}, PARAMS_INIT_UNIFORM, -1, 1, 0}};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 5);
    mgsd_params p;
    CHECK_OK(params_init(&p, spec, 2, &rng));
    int64_t T = p.total;
    double *x = malloc(sizeof(double) * T), *m = calloc(T, sizeof(double)), *v = calloc(T, sizeof(double));
    for (int64_t i = 0; i < T; i++) x[i] = p.data[i];
    optim_adam_config cfg = optim_adam_defaults();
    cfg.weight_decay = 0.01;
    optim_adam o;
    CHECK_OK(optim_adam_init(&o, &p, &cfg));
    for (int s = 1; s <= 3; s++) {
        for (int64_t i = 0; i < T; i++) p.grad[i] = (float)(((i * 7 + s * 13) % 29) - 14) * 0.01f;
        for (int i = 0; i < p.count; i++) /* padding gradient stays zero */
            for (int64_t j = p.offsets[i] + p.tensors[i].n; j < (i + 1 < p.count ? p.offsets[i + 1] : T); j++)
                p.grad[j] = 0.0f;
        for (int64_t i = 0; i < T; i++) {
            double g = p.grad[i] + 0.01 * x[i];
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            x[i] -= 1e-3 / (1 - pow(0.9, s)) * m[i] / (sqrt(v[i]) / sqrt(1 - pow(0.999, s)) + 1e-8);
        }
        CHECK_OK(optim_adam_step(&o, &p, 1e-3));
    }
    double worst = 0;
    for (int64_t i = 0; i < T; i++) worst = fmax(worst, fabs(x[i] - p.data[i]));
    CHECK_NEAR(worst, 0.0, 1e-6);
    free(x);
    free(m);
    free(v);
    optim_adam_free(&o);
    params_free(&p);
}

static void check_schedules(void) {
    optim_schedule s;
    CHECK_OK(optim_schedule_init(&s, OPTIM_SCHEDULE_CONSTANT, 0.001, 0, 0));
    CHECK_NEAR(optim_schedule_lr(&s, 0), 0.001, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 123456), 0.001, 1e-15);

    /* warm-up 10 of 110 steps, lr 0.1 */
    CHECK_OK(optim_schedule_init(&s, OPTIM_SCHEDULE_LINEAR_WARMUP, 0.1, 10, 110));
    CHECK_NEAR(optim_schedule_lr(&s, 0), 0.0, 1e-15);   /* HF: first step at lr 0 */
    CHECK_NEAR(optim_schedule_lr(&s, 1), 0.01, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 5), 0.05, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 10), 0.1, 1e-15);  /* peak */
    CHECK_NEAR(optim_schedule_lr(&s, 35), 0.075, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 60), 0.05, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 109), 0.001, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 110), 0.0, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 500), 0.0, 1e-15); /* clamped at 0 */

    /* no warm-up: linear decay from the start */
    CHECK_OK(optim_schedule_init(&s, OPTIM_SCHEDULE_LINEAR_WARMUP, 1.0, 0, 4));
    CHECK_NEAR(optim_schedule_lr(&s, 0), 1.0, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 1), 0.75, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 3), 0.25, 1e-15);
    /* all warm-up (warmup == total): max(1, 0) denominator, no division by zero */
    CHECK_OK(optim_schedule_init(&s, OPTIM_SCHEDULE_LINEAR_WARMUP, 1.0, 4, 4));
    CHECK_NEAR(optim_schedule_lr(&s, 2), 0.5, 1e-15);
    CHECK_NEAR(optim_schedule_lr(&s, 4), 0.0, 1e-15);

    CHECK_STATUS(optim_schedule_init(&s, OPTIM_SCHEDULE_LINEAR_WARMUP, 0.1, 20, 10), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "warm-up");
    CHECK_STATUS(optim_schedule_init(&s, OPTIM_SCHEDULE_LINEAR_WARMUP, 0.1, 0, 0), MGSD_ERR_CONFIG);
    CHECK_STATUS(optim_schedule_init(&s, OPTIM_SCHEDULE_CONSTANT, -1.0, 0, 0), MGSD_ERR_CONFIG);
}

static void check_errors(void) {
    params_spec spec[] = {{"w", 1, {3}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    params_spec spec2[] = {{"w", 1, {40}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 1);
    mgsd_params p, q;
    CHECK_OK(params_init(&p, spec, 1, &rng));
    CHECK_OK(params_init(&q, spec2, 1, &rng));
    optim_adam o;
    optim_adam_config cfg = optim_adam_defaults();
    cfg.beta1 = 1.0;
    CHECK_STATUS(optim_adam_init(&o, &p, &cfg), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "betas");
    CHECK(o.m == NULL);
    cfg = optim_adam_defaults();
    cfg.eps = 0;
    CHECK_STATUS(optim_adam_init(&o, &p, &cfg), MGSD_ERR_CONFIG);
    cfg = optim_adam_defaults();
    CHECK_OK(optim_adam_init(&o, &p, &cfg));
    CHECK_STATUS(optim_adam_step(&o, &q, 1e-3), MGSD_ERR_SHAPE);
    CHECK_INT_EQ(o.step, 0); /* state unchanged on error */
    CHECK_STATUS(optim_adam_step(&o, &p, NAN), MGSD_ERR_INVALID_ARG);
    CHECK_STATUS(optim_adam_step(&o, &p, -1.0), MGSD_ERR_INVALID_ARG);
    CHECK_INT_EQ(o.step, 0);
    /* lr 0 is a no-op on values but still counts as a step (warm-up step 0) */
    p.grad[0] = 1.0f;
    p.data[0] = 0.25f;
    CHECK_OK(optim_adam_step(&o, &p, 0.0));
    CHECK(p.data[0] == 0.25f);
    CHECK_INT_EQ(o.step, 1);
    CHECK_NEAR(o.m[0], 0.1, 1e-7);
    optim_adam_free(&o);
    optim_adam_free(&o); /* idempotent */
    params_free(&p);
    params_free(&q);
}

int main(void) {
    run_three_steps(0.0, 0, want_adam);
    run_three_steps(0.1, 0, want_adam_wd);
    run_three_steps(0.1, 1, want_adamw);
    check_large();
    check_schedules();
    check_errors();
    return test_summary();
}
