/* The one seam to the matrix-product library. Everything that multiplies matrices goes
 * through ops_blas_sgemm (ops_gemm's blocks, attention's per-(sequence, head) products,
 * the benchmarks' raw-sgemm figures), so swapping the library touches only blas.c.
 *
 *   c[M,N] (ldc) = alpha * op(a) . op(b) + beta * c, row-major strided views;
 *   op(a) is a[M,K] (lda), or a[K,M]^T when ta; op(b) is b[K,N] (ldb), or b[N,K]^T when tb.
 *
 * Libraries (build option MGSD_BLAS): onednn (default: oneDNN's dnnl_sgemm, which has
 * AVX-512 kernels chosen at run time) or openblas (cblas_sgemm). A call made inside one of
 * our OpenMP parallel regions runs single-threaded; outside, it uses the library's own
 * OpenMP threads. Only built when MGSD_HAVE_BLAS is defined. */
#ifndef MGSD_OPS_BLAS_H
#define MGSD_OPS_BLAS_H

#include <stdint.h>

void ops_blas_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* Floating-point operations (2 M N K per call) of every ops_blas_sgemm call so far, all
 * threads together: the executed matrix-product work that benchmarks divide by time. */
uint64_t ops_blas_flops(void);
/* "oneDNN 2.6.3", "OpenBLAS 0.3.21", or "none" */
const char *ops_blas_name(void);
/* Threads the library uses for a call made outside our parallel regions. */
void ops_blas_set_threads(int n);

#endif
