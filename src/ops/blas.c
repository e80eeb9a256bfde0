/* Matrix-product library seam: see blas.h. */
#include "ops/blas.h"

#include <stdatomic.h>
#include <stdio.h>

static void blas_call(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

static _Atomic uint64_t blas_flops;

void ops_blas_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    atomic_fetch_add_explicit(&blas_flops, (uint64_t)(2 * M * N * K), memory_order_relaxed);
    blas_call(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

uint64_t ops_blas_flops(void) { return atomic_load_explicit(&blas_flops, memory_order_relaxed); }

#if defined(MGSD_BLAS_ONEDNN)
#include <dnnl.h>

static void blas_call(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    /* dnnl_sgemm is row-major, like the rest of mgsd; its status only reports bad
     * arguments, which ops_gemm and attention have already validated. */
    (void)dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *ops_blas_name(void) {
    static char name[48];
    if (!name[0]) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(name, sizeof name, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    }
    return name;
}

/* oneDNN's OpenMP runtime follows omp_set_num_threads, which mgsd_set_num_threads calls. */
void ops_blas_set_threads(int n) { (void)n; }

#elif defined(MGSD_BLAS_OPENBLAS)
#include <cblas.h>

static void blas_call(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

const char *ops_blas_name(void) {
    static char name[64];
    if (!name[0]) snprintf(name, sizeof name, "OpenBLAS %s", openblas_get_config());
    return name;
}

void ops_blas_set_threads(int n) { openblas_set_num_threads(n); }

#else
/* Built without a library: ops_gemm and attention use their loop kernels; these stay
 * defined so benchmarks and the thread knob link. */
static void blas_call(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++) s += (ta ? a[k * lda + i] : a[i * lda + k]) * (tb ? b[j * ldb + k] : b[k * ldb + j]);
            c[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
        }
}
const char *ops_blas_name(void) { return "none"; }
void ops_blas_set_threads(int n) { (void)n; }
#endif
