/* Could a lower-precision matrix product make the MGSD step faster on this CPU? Times the
 * products of the MGSD reference configuration (hidden 100, feed-forward 2048, 12,101 items,
 * ~2,200 real tokens per Beauty batch) three ways with oneDNN:
 *   sgemm  dnnl_sgemm, what mgsd uses (src/ops/blas.c);
 *   f32    the fp32 matmul primitive with weights pre-packed in the layout it prefers;
 *   bf16   the bf16 matmul primitive (fp32 output) with pre-packed weights; the time
 *          includes converting the fp32 activations to bf16 (a reorder), as training
 *          would have to.
 * Prints ms per product, GFLOP/s and the kernel oneDNN chose (best of 5 rounds of 20).
 * usage: bench_matmul_dtype [threads]   (default: all cores) */
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

#if defined(MGSD_BLAS_ONEDNN)
#include <dnnl.h>

#define REPS 20

static int quiet; /* set while probing whether a data type is implemented at all */

static int fail(const char *what, dnnl_status_t s) {
    if (quiet) return 1;
    fprintf(stderr, "bench_matmul_dtype: %s failed (oneDNN status %d)\n", what, (int)s);
    return 1;
}
#define CHECK(call)                                 \
    do {                                            \
        dnnl_status_t s_ = (call);                  \
        if (s_ != dnnl_success) return fail(#call, s_); \
    } while (0)

typedef struct {
    dnnl_primitive_t mm, cvt; /* cvt: fp32 -> dtype of the activations (NULL for f32) */
    dnnl_memory_t a32, a, w, c;
    char impl[64]; /* the kernel oneDNN chose */
} matmul;

/* C[M,N] = A[M,K] W[K,N] with A, C row-major fp32 in memory and W in the primitive's layout. */
static int matmul_make(matmul *m, dnnl_engine_t eng, int64_t M, int64_t N, int64_t K, dnnl_data_type_t dt) {
    dnnl_dims_t ad = {M, K}, wd = {K, N}, cd = {M, N};
    dnnl_memory_desc_t a32_md, a_md, w_md, c_md;
    CHECK(dnnl_memory_desc_init_by_tag(&a32_md, 2, ad, dnnl_f32, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&a_md, 2, ad, dt, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&w_md, 2, wd, dt, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&c_md, 2, cd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, &a_md, &w_md, NULL, &c_md));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL));
    const char *impl;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(m->impl, sizeof m->impl, "%s", impl);
    const dnnl_memory_desc_t *packed = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    CHECK(dnnl_primitive_create(&m->mm, pd));
    CHECK(dnnl_memory_create(&m->a32, &a32_md, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&m->a, &a_md, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&m->w, packed, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&m->c, &c_md, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_primitive_desc_destroy(pd)); /* the primitive and the memories hold what they need */
    m->cvt = NULL;
    if (dt != dnnl_f32) {
        dnnl_primitive_desc_t rpd;
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, &a32_md, eng, &a_md, eng, NULL));
        CHECK(dnnl_primitive_create(&m->cvt, rpd));
        CHECK(dnnl_primitive_desc_destroy(rpd));
    }
    float *a;
    CHECK(dnnl_memory_get_data_handle(m->a32, (void **)&a));
    mgsd_rng r;
    mgsd_rng_seed(&r, 1);
    for (int64_t i = 0; i < M * K; i++) a[i] = mgsd_rng_normal(&r);
    return 0;
}

/* Best over 5 rounds of the mean ms of REPS products. */
static int matmul_time(matmul *m, dnnl_stream_t st, double *ms) {
    dnnl_exec_arg_t cargs[2] = {{DNNL_ARG_FROM, m->a32}, {DNNL_ARG_TO, m->a}};
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, m->cvt ? m->a : m->a32}, {DNNL_ARG_WEIGHTS, m->w}, {DNNL_ARG_DST, m->c}};
    *ms = 1e30;
    for (int round = 0; round < 6; round++) { /* round 0 warms up */
        double t0 = mgsd_now();
        for (int r = 0; r < REPS; r++) {
            if (m->cvt) CHECK(dnnl_primitive_execute(m->cvt, st, 2, cargs));
            CHECK(dnnl_primitive_execute(m->mm, st, 3, args));
        }
        CHECK(dnnl_stream_wait(st));
        double t = (mgsd_now() - t0) * 1e3 / REPS;
        if (round > 0 && t < *ms) *ms = t;
    }
    return 0;
}

static void matmul_free(matmul *m) {
    dnnl_primitive_destroy(m->mm);
    if (m->cvt) dnnl_primitive_destroy(m->cvt);
    dnnl_memory_destroy(m->a32);
    dnnl_memory_destroy(m->a);
    dnnl_memory_destroy(m->w);
    dnnl_memory_destroy(m->c);
}

static double sgemm_ms(int64_t M, int64_t N, int64_t K, int tb) {
    float *a = malloc((size_t)(M * K) * sizeof *a), *b = malloc((size_t)(K * N) * sizeof *b),
          *c = malloc((size_t)(M * N) * sizeof *c);
    mgsd_rng r;
    mgsd_rng_seed(&r, 2);
    for (int64_t i = 0; i < M * K; i++) a[i] = mgsd_rng_normal(&r);
    for (int64_t i = 0; i < K * N; i++) b[i] = mgsd_rng_normal(&r);
    double best = 1e30;
    for (int round = 0; round < 6; round++) {
        double t0 = mgsd_now();
        for (int rep = 0; rep < REPS; rep++)
            dnnl_sgemm('N', tb ? 'T' : 'N', M, N, K, 1.0f, a, K, b, tb ? K : N, 0.0f, c, N);
        double t = (mgsd_now() - t0) * 1e3 / REPS;
        if (round > 0 && t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int main(int argc, char **argv) {
    if (argc > 1) mgsd_set_num_threads(atoi(argv[1]));
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    static const struct {
        const char *name;
        int64_t M, N, K;
        int tb; /* how mgsd's own call holds the second operand (a weight stored [out, in]) */
    } shapes[] = {
        {"feed-forward in  (tokens x 100 . 100 x 2048)", 2200, 2048, 100, 1},
        {"  the same, an ml-100k batch (~9,800 tokens)", 9800, 2048, 100, 1},
        {"feed-forward out (tokens x 2048 . 2048 x 100)", 2200, 100, 2048, 1},
        {"  the same, an ml-100k batch", 9800, 100, 2048, 1},
        {"scores (256 x 100 . 100 x 12101)", 256, 12101, 100, 1},
        {"weight gradient (100 x tokens . tokens x 2048)", 100, 2048, 2200, 0},
        {"  the same, an ml-100k batch", 100, 2048, 9800, 0},
    };
    int bf16_ok = 1;
    printf("threads %d; ms per product (best of 5 rounds of %d), GFLOP/s\n", mgsd_get_num_threads(), REPS);
    printf("%-48s %15s %15s %15s  kernels (f32 | bf16)\n", "product", "sgemm", "f32 primitive", "bf16 primitive");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        double gf = 2.0 * (double)shapes[i].M * (double)shapes[i].N * (double)shapes[i].K * 1e-6;
        double ts = sgemm_ms(shapes[i].M, shapes[i].N, shapes[i].K, shapes[i].tb), tf, tb;
        matmul f, b;
        if (matmul_make(&f, eng, shapes[i].M, shapes[i].N, shapes[i].K, dnnl_f32) || matmul_time(&f, st, &tf)) return 1;
        /* CPUs without AVX-512 have no bf16 matmul: oneDNN answers "unimplemented" */
        quiet = 1;
        int have_bf16 = bf16_ok && matmul_make(&b, eng, shapes[i].M, shapes[i].N, shapes[i].K, dnnl_bf16) == 0;
        quiet = 0;
        if (!have_bf16) bf16_ok = 0;
        if (have_bf16 && matmul_time(&b, st, &tb)) return 1;
        if (have_bf16)
            printf("%-48s %6.3f %6.0f   %6.3f %6.0f   %6.3f %6.0f   %s | %s\n", shapes[i].name, ts, gf / ts, tf, gf / tf,
                   tb, gf / tb, f.impl, b.impl);
        else
            printf("%-48s %6.3f %6.0f   %6.3f %6.0f   %15s   %s | -\n", shapes[i].name, ts, gf / ts, tf, gf / tf,
                   "none on this CPU", f.impl);
        matmul_free(&f);
        if (have_bf16) matmul_free(&b);
    }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}

#else
int main(void) {
    printf("bench_matmul_dtype: needs the oneDNN build (MGSD_BLAS=onednn)\n");
    return 0;
}
#endif
