/* Throughput of the sequence ops next to raw sgemm for the same products, same run.
 * Usage: bench_seqops [threads] [reps]
 *  - attention fwd+bwd at B = 256 sequences (Beauty-like lengths, mean ~9, cap 50; or all
 *    50), C = 64 / 100, NH = 2, causal: the library kernel (explicit loops) against a
 *    variant doing the six per-(sequence, head) products with ops_blas_sgemm (single-threaded
 *    BLAS inside the OpenMP loop). GFLOP/s count the multiply-adds each variant performs
 *    in its products (the loop kernel skips the masked upper triangle; sgemm cannot), and
 *    "time ratio" compares wall time for the same work.
 *  - softmax_xent fwd+bwd at B = 256, V = 12102, C = 64 / 100 against the three raw
 *    library sgemm calls it contains (scores, du, dE); ratio = sgemm time / op time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/blas.h"

#include "core/core.h"
#include "ops/attention.h"
#include "ops/fastmath.h"
#include "ops/xent.h"

static float *randv(mgsd_rng *r, int64_t n, float s) {
    float *p = mgsd_malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mgsd_rng_normal(r) * s;
    return p;
}

/* sgemm variant of the attention kernel pair (causal or not, no dropout). */
static void attn_fwd_gemm(float *out, float *att, const float *qkv, const int32_t *offs, const int64_t *aoff, int B,
                          int C, int NH, int causal) {
    const int D = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t pair = 0; pair < (int64_t)B * NH; pair++) {
        int b = (int)(pair / NH), h = (int)(pair % NH), len = offs[b + 1] - offs[b];
        const float *q = qkv + (int64_t)offs[b] * C3 + h * D;
        float *P = att + aoff[b] + (int64_t)h * len * len;
        ops_blas_sgemm(0, 1, len, len, D, scale, q, C3, q + C, C3, 0.0f, P, len);
        for (int i = 0; i < len; i++) {
            float *p = P + (int64_t)i * len, mx = -INFINITY, sum = 0;
            int jn = causal ? i + 1 : len;
            for (int j = 0; j < jn; j++) mx = p[j] > mx ? p[j] : mx;
            for (int j = 0; j < jn; j++) sum += (p[j] = ops_fast_exp0(p[j] - mx));
            for (int j = 0; j < jn; j++) p[j] /= sum;
            for (int j = jn; j < len; j++) p[j] = 0;
        }
        ops_blas_sgemm(0, 0, len, D, len, 1.0f, P, len, q + 2 * C, C3, 0.0f,
                    out + (int64_t)offs[b] * C + h * D, C);
    }
}

static void attn_bwd_gemm(float *dqkv, float *dS, const float *dout, const float *qkv, const float *att,
                          const int32_t *offs, const int64_t *aoff, int B, int C, int NH) {
    const int D = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t pair = 0; pair < (int64_t)B * NH; pair++) {
        int b = (int)(pair / NH), h = (int)(pair % NH), len = offs[b + 1] - offs[b];
        const float *q = qkv + (int64_t)offs[b] * C3 + h * D, *go = dout + (int64_t)offs[b] * C + h * D;
        float *dq = dqkv + (int64_t)offs[b] * C3 + h * D;
        const float *P = att + aoff[b] + (int64_t)h * len * len;
        float *ds = dS + aoff[b] + (int64_t)h * len * len;
        /* dV += P^T dO ; dP = dO V^T */
        ops_blas_sgemm(1, 0, len, D, len, 1.0f, P, len, go, C, 1.0f, dq + 2 * C, C3);
        ops_blas_sgemm(0, 1, len, len, D, 1.0f, go, C, q + 2 * C, C3, 0.0f, ds, len);
        for (int i = 0; i < len; i++) {
            const float *p = P + (int64_t)i * len;
            float *d = ds + (int64_t)i * len, dot = 0;
            for (int j = 0; j < len; j++) dot += d[j] * p[j];
            for (int j = 0; j < len; j++) d[j] = p[j] * (d[j] - dot) * scale;
        }
        ops_blas_sgemm(0, 0, len, D, len, 1.0f, ds, len, q + C, C3, 1.0f, dq, C3);
        ops_blas_sgemm(1, 0, len, D, len, 1.0f, ds, len, q, C3, 1.0f, dq + C, C3);
    }
}

static void bench_attention(int all50, int C, int reps) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 1);
    int B = 256, NH = 2, D = C / NH;
    int32_t offs[257];
    offs[0] = 0;
    for (int b = 0; b < B; b++) {
        int len = 50;
        if (!all50) { /* geometric-ish, mean ~9 */
            len = 1 + (int)floor(-8.0 * log(1.0 - mgsd_rng_uniform_d(&r)));
            if (len > 50) len = 50;
        }
        offs[b + 1] = offs[b] + len;
    }
    int N = offs[B];
    int64_t aoff[257];
    int64_t natt = ops_attention_offsets(aoff, offs, B, NH);
    double tri = 0, full = 0;
    for (int b = 0; b < B; b++) {
        double l = offs[b + 1] - offs[b];
        tri += l * (l + 1) / 2;
        full += l * l;
    }
    double flop_loop = 12.0 * D * tri * NH, flop_gemm = 12.0 * D * full * NH;
    float *qkv = randv(&r, (int64_t)N * 3 * C, 1), *dout = randv(&r, (int64_t)N * C, 1);
    float *out = mgsd_calloc((size_t)N * C, 4), *att = mgsd_calloc((size_t)natt, 4), *ds = mgsd_calloc((size_t)natt, 4);
    float *dq = mgsd_calloc((size_t)N * 3 * C, 4), *scr = mgsd_calloc((size_t)ops_attention_scratch_floats(50), 4);
    double best[2] = {1e9, 1e9};
    int nthr = mgsd_get_num_threads();
    for (int rep = 0; rep < reps; rep++) {
        double t0 = mgsd_now();
        ops_attention_forward(out, att, scr, qkv, NULL, offs, aoff, B, C, NH, 1);
        ops_attention_backward(dq, scr, dout, qkv, att, NULL, offs, aoff, B, C, NH, 1);
        double t1 = mgsd_now();
        mgsd_set_num_threads(1);
        attn_fwd_gemm(out, att, qkv, offs, aoff, B, C, NH, 1);
        attn_bwd_gemm(dq, ds, dout, qkv, att, offs, aoff, B, C, NH);
        mgsd_set_num_threads(nthr);
        double t2 = mgsd_now();
        if (t1 - t0 < best[0]) best[0] = t1 - t0;
        if (t2 - t1 < best[1]) best[1] = t2 - t1;
    }
    printf("attention fwd+bwd B=256 %-12s C=%3d NH=2 Ntok=%5d: loops %7.3f ms %6.2f GFLOP/s | sgemm/pair %7.3f ms "
           "%6.2f GFLOP/s | time ratio sgemm/loops %.2f\n",
           all50 ? "len=50" : "len~Beauty", C, N, best[0] * 1e3, flop_loop / best[0] * 1e-9, best[1] * 1e3,
           flop_gemm / best[1] * 1e-9, best[1] / best[0]);
    mgsd_free(qkv); mgsd_free(dout); mgsd_free(out); mgsd_free(att); mgsd_free(ds); mgsd_free(dq); mgsd_free(scr);
}

static void bench_xent(int C, int reps) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 2);
    int B = 256, V = 12102;
    float *u = randv(&r, (int64_t)B * C, 1), *E = randv(&r, (int64_t)V * C, 0.1f);
    float *G = mgsd_calloc((size_t)B * V, 4), *du = mgsd_calloc((size_t)B * C, 4), *dE = mgsd_calloc((size_t)V * C, 4);
    int32_t tg[256];
    for (int b = 0; b < B; b++) tg[b] = (int32_t)mgsd_rng_below(&r, (uint64_t)V);
    double flop = 3.0 * 2.0 * B * (double)V * C;
    double best_op = 1e9, best_blas = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = mgsd_now();
        ops_softmax_xent_forward(G, u, E, tg, B, C, V, 0);
        ops_softmax_xent_backward(du, dE, G, u, E, 1.0f, B, C, V);
        double t1 = mgsd_now();
        ops_blas_sgemm(0, 1, B, V, C, 1.0f, u, C, E, C, 0.0f, G, V);
        ops_blas_sgemm(0, 0, B, C, V, 1.0f, G, V, E, C, 1.0f, du, C);
        ops_blas_sgemm(1, 0, V, C, B, 1.0f, G, V, u, C, 1.0f, dE, C);
        double t2 = mgsd_now();
        if (t1 - t0 < best_op) best_op = t1 - t0;
        if (t2 - t1 < best_blas) best_blas = t2 - t1;
    }
    printf("softmax_xent fwd+bwd B=256 V=12102 C=%3d: op %7.3f ms %6.2f GFLOP/s | 3x sgemm %7.3f ms %6.2f GFLOP/s | "
           "ratio %.2f\n",
           C, best_op * 1e3, flop / best_op * 1e-9, best_blas * 1e3, flop / best_blas * 1e-9, best_blas / best_op);
    mgsd_free(u); mgsd_free(E); mgsd_free(G); mgsd_free(du); mgsd_free(dE);
}

int main(int argc, char **argv) {
    int nt = argc > 1 ? atoi(argv[1]) : 0, reps = argc > 2 ? atoi(argv[2]) : 10;
    mgsd_set_num_threads(nt);
    printf("threads %d, best of %d\n", mgsd_get_num_threads(), reps);
    for (int C = 64; C <= 100; C += 36) {
        bench_attention(0, C, reps);
        bench_attention(1, C, reps);
    }
    bench_xent(64, reps);
    bench_xent(100, reps);
    return 0;
}
