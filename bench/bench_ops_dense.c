/* Timings of the dense kernels against their plain references (best of 5 runs, ms).
 * Usage: bench_ops_dense [threads]. Shapes follow a SASRec-sized batch: N = 256 x 50
 * tokens, C = 64 hidden, V = 40000 items. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ops/eltwise.h"
#include "ops/index.h"
#include "ops/norm.h"

static float *rnd(mgsd_rng *r, int64_t n) {
    float *p = mgsd_malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mgsd_rng_normal(r);
    return p;
}

/* Best of 5 runs of stmt in ms, into var. */
#define BEST_MS(var, stmt)                            \
    do {                                              \
        var = 1e30;                                   \
        for (int rep_ = 0; rep_ < 5; rep_++) {        \
            double t0_ = mgsd_now();                  \
            stmt;                                     \
            double d_ = (mgsd_now() - t0_) * 1e3;     \
            if (d_ < var) var = d_;                   \
        }                                             \
    } while (0)
#define ROW(name, fast, ref)                                  \
    do {                                                      \
        double f_, r_;                                        \
        BEST_MS(f_, fast);                                    \
        BEST_MS(r_, ref);                                     \
        printf("%-36s %10.3f %10.3f\n", name, f_, r_);        \
    } while (0)

int main(int argc, char **argv) {
    if (argc > 1) mgsd_set_num_threads(atoi(argv[1]));
    printf("threads %d\n", mgsd_get_num_threads());
    mgsd_rng r;
    mgsd_rng_seed(&r, 1);
    const int64_t N = 256 * 50, C = 64, V = 40000, n = N * C;
    float *x = rnd(&r, n), *y = rnd(&r, n), *dy = rnd(&r, n), *dx = rnd(&r, n), *w = rnd(&r, C), *b = rnd(&r, C);
    float *st = rnd(&r, 2 * N), *tab = rnd(&r, V * C);
    uint64_t *mask = mgsd_malloc((size_t)(n + 63) / 64 * 8);
    int32_t *idx = mgsd_malloc((size_t)N * sizeof(int32_t));
    for (int64_t i = 0; i < N; i++) idx[i] = (int32_t)mgsd_rng_below(&r, (uint64_t)V);

    printf("%-36s %10s %10s\n", "kernel [N=12800, C=64]", "fast ms", "ref ms");
    ROW("dropout fwd p=0.1", ops_dropout_forward(y, mask, x, n, 0.1f, &r), ops_dropout_forward_ref(y, mask, x, n, 0.1f, &r));
    ROW("dropout fwd p=0.5", ops_dropout_forward(y, mask, x, n, 0.5f, &r), ops_dropout_forward_ref(y, mask, x, n, 0.5f, &r));
    ROW("gelu fwd", ops_unary_forward(OPS_UN_GELU, y, x, n), ops_unary_forward_ref(OPS_UN_GELU, y, x, n));
    ROW("gelu bwd", ops_unary_backward(OPS_UN_GELU, dx, dy, x, y, n), ops_unary_backward_ref(OPS_UN_GELU, dx, dy, x, y, n));
    ROW("relu bwd", ops_unary_backward(OPS_UN_RELU, dx, dy, x, y, n), ops_unary_backward_ref(OPS_UN_RELU, dx, dy, x, y, n));
    ROW("add [N,C]+[C] bwd (db reduce)", ops_binary_backward(OPS_BIN_ADD, dx, w, dy, x, b, N, C), ops_binary_backward_ref(OPS_BIN_ADD, dx, w, dy, x, b, N, C));
    ROW("layernorm fwd", ops_layernorm_forward(y, st, st + N, x, w, b, N, C, 1e-12f), ops_layernorm_forward_ref(y, st, st + N, x, w, b, N, C, 1e-12f));
    ROW("layernorm bwd", ops_layernorm_backward(dx, w, b, dy, x, w, st, st + N, N, C), ops_layernorm_backward_ref(dx, w, b, dy, x, w, st, st + N, N, C));
    ROW("softmax fwd", ops_softmax_forward(y, x, N, C, 0), ops_softmax_forward_ref(y, x, N, C, 0));
    ROW("embedding gather (fast = ref)", ops_gather_rows(y, tab, idx, N, C, 0), ops_gather_rows(y, tab, idx, N, C, 0));
    ROW("embedding scatter-add", ops_scatter_add_rows(tab, dy, idx, N, C), ops_scatter_add_rows_ref(tab, dy, idx, N, C));
    /* a 4x larger batch crosses SCATTER_PAR_MIN */
    int64_t N4 = 4 * N;
    float *dy4 = rnd(&r, N4 * C);
    int32_t *idx4 = mgsd_malloc((size_t)N4 * sizeof(int32_t));
    for (int64_t i = 0; i < N4; i++) idx4[i] = (int32_t)mgsd_rng_below(&r, (uint64_t)V);
    ROW("scatter-add N=51200 column-split", ops_scatter_add_rows_par(tab, dy4, idx4, N4, C),
        ops_scatter_add_rows_ref(tab, dy4, idx4, N4, C));
    return 0;
}
