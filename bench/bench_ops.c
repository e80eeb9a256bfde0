/* Operator benchmark: throughput of our forward+backward kernels at the shapes of a
 * transformer layer (B=256, T=50, C in {64,100}, feed-forward C and 2048) and of the
 * item-table product (256 x C times C x 12,102), next to the raw library sgemm (ops_blas_sgemm) on the same
 * products measured in the same run, plus the allocations made by a training step after
 * warm-up.
 *
 * usage: bench_ops [--json] [--reps=N] [--threads=N] */
#include "ops/blas.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/toy.h"
#include "ops/matmul.h"
#include "ops/xent.h"

typedef struct row {
    char name[96];
    double flops;      /* useful flops of one forward+backward */
    double ours_s;     /* best seconds, ours */
    double raw_s;      /* best seconds, raw sgemm on the same products */
    int matmul_heavy;
} row;

static row rows[64];
static int n_rows;
static int reps = 10;

static float *rand_buf(mgsd_rng *r, int64_t n) {
    float *p = mgsd_malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mgsd_rng_normal(r) * 0.1f;
    return p;
}

/* Linear layer y[N,OC] = x[N,C] w[OC,C]^T + b: forward + backward (dx, dw, db). */
static void bench_linear(mgsd_rng *r, const char *what, int64_t N, int C, int OC) {
    float *x = rand_buf(r, N * C), *w = rand_buf(r, (int64_t)OC * C), *b = rand_buf(r, OC);
    float *y = rand_buf(r, N * OC), *dy = rand_buf(r, N * OC);
    float *dx = rand_buf(r, N * C), *dw = rand_buf(r, (int64_t)OC * C), *db = rand_buf(r, OC);
    int64_t nws = ops_linear_ws_floats(C, OC);
    float *ws = nws > 0 ? rand_buf(r, nws) : NULL; /* as the tape hands it to the op */
    double best_ours = 1e30, best_raw = 1e30;
    for (int k = 0; k < reps + 1; k++) {
        double t0 = mgsd_now();
        ops_linear_forward(y, x, w, b, N, C, OC);
        ops_linear_backward(dx, dw, db, dy, x, w, N, C, OC, ws, nws);
        double t1 = mgsd_now();
        ops_blas_sgemm(0, 1, (int)N, OC, C, 1.0f, x, C, w, C, 0.0f, y, OC);
        ops_blas_sgemm(0, 0, (int)N, C, OC, 1.0f, dy, OC, w, C, 1.0f, dx, C);
        ops_blas_sgemm(1, 0, OC, C, (int)N, 1.0f, dy, OC, x, C, 1.0f, dw, C);
        double t2 = mgsd_now();
        if (k == 0) continue; /* warm-up */
        if (t1 - t0 < best_ours) best_ours = t1 - t0;
        if (t2 - t1 < best_raw) best_raw = t2 - t1;
    }
    row *rw = &rows[n_rows++];
    snprintf(rw->name, sizeof rw->name, "%s", what);
    rw->flops = 6.0 * (double)N * C * OC;
    rw->ours_s = best_ours;
    rw->raw_s = best_raw;
    rw->matmul_heavy = 1;
    mgsd_free(ws); mgsd_free(x); mgsd_free(w); mgsd_free(b); mgsd_free(y); mgsd_free(dy);
    mgsd_free(dx); mgsd_free(dw); mgsd_free(db);
}

/* Fused softmax cross-entropy over the item table: forward (u E^T + softmax pass) and
 * backward (du = G E, dE = G^T u), against the same three raw sgemm products. */
static void bench_xent(mgsd_rng *r, int B, int C, int V) {
    float *u = rand_buf(r, (int64_t)B * C), *E = rand_buf(r, (int64_t)V * C), *G = rand_buf(r, (int64_t)B * V);
    float *du = rand_buf(r, (int64_t)B * C), *dE = rand_buf(r, (int64_t)V * C);
    int32_t *tg = mgsd_malloc(sizeof(int32_t) * (size_t)B);
    for (int b = 0; b < B; b++) tg[b] = 1 + (int32_t)mgsd_rng_below(r, (uint64_t)(V - 1));
    double best_ours = 1e30, best_raw = 1e30;
    for (int k = 0; k < reps + 1; k++) {
        double t0 = mgsd_now();
        ops_softmax_xent_forward(G, u, E, tg, B, C, V, 0);
        ops_softmax_xent_backward(du, dE, G, u, E, 1.0f, B, C, V);
        double t1 = mgsd_now();
        ops_blas_sgemm(0, 1, B, V, C, 1.0f, u, C, E, C, 0.0f, G, V);
        ops_blas_sgemm(0, 0, B, C, V, 1.0f, G, V, E, C, 1.0f, du, C);
        ops_blas_sgemm(1, 0, V, C, B, 1.0f, G, V, u, C, 1.0f, dE, C);
        double t2 = mgsd_now();
        if (k == 0) continue;
        if (t1 - t0 < best_ours) best_ours = t1 - t0;
        if (t2 - t1 < best_raw) best_raw = t2 - t1;
    }
    row *rw = &rows[n_rows++];
    snprintf(rw->name, sizeof rw->name, "softmax_xent    C=%-3d %dx%d . %dx%d", C, B, C, C, V);
    rw->flops = 6.0 * B * C * (double)V;
    rw->ours_s = best_ours;
    rw->raw_s = best_raw;
    rw->matmul_heavy = 1;
    mgsd_free(u); mgsd_free(E); mgsd_free(G); mgsd_free(du); mgsd_free(dE); mgsd_free(tg);
}

int main(int argc, char **argv) {
    int json = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strncmp(argv[i], "--reps=", 7)) reps = atoi(argv[i] + 7);
        else if (!strncmp(argv[i], "--threads=", 10)) threads = atoi(argv[i] + 10);
        else {
            fprintf(stderr, "usage: bench_ops [--json] [--reps=N] [--threads=N]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (mgsd_set_num_threads(threads) != MGSD_OK) {
        fprintf(stderr, "bench_ops: %s\n", mgsd_last_error());
        return 2;
    }
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 1);
    const int64_t N = 256 * 50;
    const int Cs[2] = {64, 100};
    for (int ci = 0; ci < 2; ci++) {
        int C = Cs[ci];
        char nm[96];
        snprintf(nm, sizeof nm, "linear qkv      C=%-3d %lldx%d->%d", C, (long long)N, C, 3 * C);
        bench_linear(&rng, nm, N, C, 3 * C);
        snprintf(nm, sizeof nm, "linear attn_out C=%-3d %lldx%d->%d", C, (long long)N, C, C);
        bench_linear(&rng, nm, N, C, C);
        snprintf(nm, sizeof nm, "linear ffn1     C=%-3d %lldx%d->%d", C, (long long)N, C, C);
        bench_linear(&rng, nm, N, C, C);
        snprintf(nm, sizeof nm, "linear ffn1     C=%-3d %lldx%d->%d", C, (long long)N, C, 2048);
        bench_linear(&rng, nm, N, C, 2048);
        snprintf(nm, sizeof nm, "linear ffn2     C=%-3d %lldx%d->%d", C, (long long)N, 2048, C);
        bench_linear(&rng, nm, N, 2048, C);
        bench_xent(&rng, 256, C, 12102);
    }

    /* A whole training step (item + position embedding, LayerNorm, 2-layer causal
     * transformer, CE over 12,102 items) at B=256, lengths up to 50: heap allocations
     * after the warm-up steps. */
    toy_config tc;
    toy_config_default(&tc);
    tc.vocab = 12102;
    tc.hidden = 64;
    tc.inner = 64;
    tc.max_len = 50;
    tc.batch = 256;
    tc.steps = 6;
    tc.dropout = 0.2f;
    toy_result tr;
    if (toy_train(&tc, NULL, NULL, &tr) != MGSD_OK) {
        fprintf(stderr, "bench_ops: training step failed: %s\n", mgsd_last_error());
        return 1;
    }

    double min_ratio = 1e30;
    for (int i = 0; i < n_rows; i++)
        if (rows[i].matmul_heavy && rows[i].raw_s / rows[i].ours_s < min_ratio) min_ratio = rows[i].raw_s / rows[i].ours_s;
    long long allocs_per_step = (long long)tr.allocs_after_warmup / (tc.steps - 2);
    if (json) {
        printf("{\"threads\": %d, \"reps\": %d, \"rows\": [", mgsd_get_num_threads(), reps);
        for (int i = 0; i < n_rows; i++)
            printf("%s{\"name\": \"%s\", \"ours_gflops\": %.2f, \"sgemm_gflops\": %.2f, \"ratio\": %.3f}", i ? ", " : "",
                   rows[i].name, rows[i].flops / rows[i].ours_s * 1e-9, rows[i].flops / rows[i].raw_s * 1e-9,
                   rows[i].raw_s / rows[i].ours_s);
        printf("], \"min_ratio_vs_sgemm\": %.3f, \"allocs_per_step\": %lld}\n", min_ratio, allocs_per_step);
    } else {
        printf("bench_ops: forward+backward throughput vs raw %s sgemm (threads %d, best of %d)\n", ops_blas_name(),
               mgsd_get_num_threads(), reps);
        printf("%-44s %10s %10s %7s\n", "op", "ours GF/s", "sgemm GF/s", "ratio");
        for (int i = 0; i < n_rows; i++)
            printf("%-44s %10.1f %10.1f %7.3f\n", rows[i].name, rows[i].flops / rows[i].ours_s * 1e-9,
                   rows[i].flops / rows[i].raw_s * 1e-9, rows[i].raw_s / rows[i].ours_s);
        printf("min ratio vs sgemm (matmul-heavy rows): %.3f\n", min_ratio);
        printf("allocations per training step after warm-up: %lld\n", allocs_per_step);
    }
    return 0;
}
