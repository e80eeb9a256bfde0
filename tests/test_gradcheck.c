/* Runs every row of the gradient-check tables (tests/support/gc_*.c) and checks that the
 * table covers every op of the tape. Usage: test_gradcheck [row-name-substring]. */
#include <string.h>

#include "gradcheck.h"
#include "test_util.h"

gc_ctx *gc_ctx_new(uint64_t seed);
void gc_ctx_free(gc_ctx *g);
void gc_ctx_rewind(gc_ctx *g);
int gc_ctx_n_inputs(const gc_ctx *g);
mgsd_tensor *gc_ctx_input(gc_ctx *g, int k, int *checked);

static double weighted_sum(const mgsd_tensor *out, const float *r) {
    double s = 0;
    for (int64_t i = 0; i < out->n; i++) s += (double)out->data[i] * r[i];
    return s;
}

/* Loss at the current input values, gradients off. */
static double eval_loss(mgsd_tape *t, gc_ctx *g, const gc_row *row, const float *r, int64_t n_out, int *ok) {
    ag_tape_reset(t);
    mgsd_rng_seed(&t->rng, 1234);
    t->grad_enabled = 0;
    gc_ctx_rewind(g);
    mgsd_tensor *out = row->build(g, t);
    if (!out || out->n != n_out) {
        *ok = 0;
        return 0;
    }
    return weighted_sum(out, r);
}

static void run_row(const gc_row *row, int *n_checked_total, int *n_skipped_total) {
    mgsd_tape t;
    if (ag_tape_init(&t, 1 << 20, 1234) != MGSD_OK) {
        TEST_FAIL_("%s: tape init failed", row->name);
        return;
    }
    gc_ctx *g = gc_ctx_new(42);
    double rtol = row->rtol > 0 ? row->rtol : 1e-2;
    double atol = row->atol > 0 ? row->atol : 2e-3;
    float eps = row->eps > 0 ? (float)row->eps : 1e-3f;

    /* analytic pass */
    ag_tape_reset(&t);
    mgsd_rng_seed(&t.rng, 1234);
    t.grad_enabled = 1;
    gc_ctx_rewind(g);
    mgsd_tensor *out = row->build(g, &t);
    if (!out || ag_status(&t) != MGSD_OK) {
        TEST_FAIL_("%s: forward failed: %s", row->name, mgsd_last_error());
        goto done;
    }
    int64_t n_out = out->n;
    float *r = mgsd_malloc((size_t)n_out * sizeof(float));
    mgsd_rng wr;
    mgsd_rng_seed(&wr, 99);
    for (int64_t i = 0; i < n_out; i++) r[i] = mgsd_rng_normal(&wr);
    for (int k = 0; k < gc_ctx_n_inputs(g); k++) {
        int checked;
        mgsd_tensor *x = gc_ctx_input(g, k, &checked);
        if (x->grad) memset(x->grad, 0, (size_t)x->n * sizeof(float));
    }
    if (!out->grad) {
        TEST_FAIL_("%s: output carries no gradient", row->name);
        mgsd_free(r);
        goto done;
    }
    if (ag_backward_seeded(&t, out, r) != MGSD_OK) {
        TEST_FAIL_("%s: backward failed: %s", row->name, mgsd_last_error());
        mgsd_free(r);
        goto done;
    }
    int n_checked = 0, n_skipped = 0, n_bad = 0;
    double worst = 0;
    mgsd_rng pick;
    mgsd_rng_seed(&pick, 7);
    for (int k = 0; k < gc_ctx_n_inputs(g); k++) {
        int checked;
        mgsd_tensor *x = gc_ctx_input(g, k, &checked);
        if (!checked) continue;
        int64_t n_try = x->n <= 64 ? x->n : 48;
        for (int64_t s = 0; s < n_try; s++) {
            int64_t i = x->n <= 64 ? s : (int64_t)mgsd_rng_below(&pick, (uint64_t)x->n);
            float x0 = x->data[i];
            int ok = 1;
            x->data[i] = x0 + eps;
            double lp = eval_loss(&t, g, row, r, n_out, &ok);
            x->data[i] = x0 - eps;
            double lm = eval_loss(&t, g, row, r, n_out, &ok);
            x->data[i] = x0;
            double l0 = eval_loss(&t, g, row, r, n_out, &ok);
            if (!ok) {
                TEST_FAIL_("%s: rebuild failed: %s", row->name, mgsd_last_error());
                goto freer;
            }
            double num = (lp - lm) / (2.0 * eps);
            double right = (lp - l0) / eps, left = (l0 - lm) / eps;
            double scale = fabs(right) > fabs(left) ? fabs(right) : fabs(left);
            if (fabs(right - left) > 0.1 * scale + 50 * atol) {
                n_skipped++;
                continue;
            }
            double ana = x->grad[i];
            double err = fabs(ana - num);
            double lim = atol + rtol * (fabs(ana) > fabs(num) ? fabs(ana) : fabs(num));
            n_checked++;
            if (err / lim > worst) worst = err / lim;
            if (err > lim) {
                if (n_bad < 5)
                    TEST_FAIL_("%s: input %d element %lld: analytic %.6g vs numeric %.6g (tol %.3g)", row->name, k,
                               (long long)i, ana, num, lim);
                n_bad++;
            }
        }
    }
    if (n_bad == 0) test_passed_++;
    if (n_checked == 0) TEST_FAIL_("%s: no element was checked (%d skipped as kinks)", row->name, n_skipped);
    printf("  %-28s checked %4d  skipped %3d  worst err/tol %.3f  %s\n", row->name, n_checked, n_skipped, worst,
           n_bad ? "FAIL" : "ok");
    *n_checked_total += n_checked;
    *n_skipped_total += n_skipped;
freer:
    mgsd_free(r);
done:
    gc_ctx_free(g);
    ag_tape_free(&t);
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    const gc_row *tables[] = {gc_rows_dense, gc_rows_seq, gc_rows_extra, gc_rows_model};
    int covered[AG_OP_COUNT] = {0};
    int total_checked = 0, total_skipped = 0, n_rows = 0;
    printf("finite-difference gradient checks (rtol 1e-2, atol 2e-3, eps 1e-3 unless noted)\n");
    for (int tb = 0; tb < 4; tb++) {
        for (const gc_row *row = tables[tb]; row->name; row++) {
            for (int op = 1; op < AG_OP_COUNT; op++)
                if (!strcmp(row->name, ag_op_name(op))) covered[op] = 1;
            if (filter && !strstr(row->name, filter)) continue;
            run_row(row, &total_checked, &total_skipped);
            n_rows++;
        }
    }
    printf("%d rows, %d elements checked, %d kinks skipped\n", n_rows, total_checked, total_skipped);
    if (!filter)
        for (int op = 1; op < AG_OP_COUNT; op++) {
            if (covered[op]) test_passed_++;
            else TEST_FAIL_("op '%s' has no gradient-check row", ag_op_name(op));
        }
    return test_summary();
}
