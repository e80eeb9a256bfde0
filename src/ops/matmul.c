/* Matrix products: linear layer and gemm on the matrix-product library (ops/blas.h), with
 * plain reference kernels. */
#include "ops/matmul.h"
#include "ops/par.h"

#include "core/core.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many multiply-adds a plain loop beats the BLAS call overhead. */
#define GEMM_BLAS_MIN_FLOPS (32 * 32 * 32)
/* From this many multiply-adds on, ops_gemm splits C into one block per thread (rows when
 * M >= N, else columns, in multiples of 16) and each thread runs a single-threaded sgemm on
 * its block. With OpenBLAS this avoids its threads' sched_yield spins (~10% of an MGSD step
 * on 2 cores, perf); with oneDNN it measured the same as the library's own threading
 * (bench_ops, bench_mgsd) and keeps the work split ours, independent of the library's
 * heuristics. The split is fixed for a given thread count, so runs repeat bit for bit;
 * across thread counts results agree within rounding (the library may choose another
 * kernel for a smaller block). */
#define GEMM_SPLIT_MIN_FLOPS (1 << 22)

/* ---- per-shape profile (ops_gemm_profile) ------------------------------------------- */
#define PROF_CAP OPS_GEMM_PROFILE_CAP
static int prof_on;
static ops_gemm_stat prof_tab[PROF_CAP];
static int prof_n;

void ops_gemm_profile(int on) {
    if (on) {
        memset(prof_tab, 0, sizeof prof_tab);
        prof_n = 0;
    }
    prof_on = on;
}

/* Token counts vary from batch to batch: a dimension above 1024 other than 2048 (the
 * feed-forward's width) is pooled. */
static int64_t prof_dim(int64_t d) { return d > 1024 && d != 2048 ? OPS_GEMM_PROFILE_POOLED : d; }

static void prof_add(int ta, int tb, int padded, int64_t M, int64_t N, int64_t K, double seconds) {
    ops_gemm_stat key = {ta, tb, padded, prof_dim(M), prof_dim(N), prof_dim(K), 0, 0, 0};
    int i = 0;
    while (i < prof_n && !(prof_tab[i].ta == key.ta && prof_tab[i].tb == key.tb && prof_tab[i].padded == key.padded &&
                           prof_tab[i].M == key.M && prof_tab[i].N == key.N && prof_tab[i].K == key.K))
        i++;
    if (i == prof_n) {
        if (prof_n == PROF_CAP) { /* full: pool in the last entry */
            i = PROF_CAP - 1;
            prof_tab[i].M = prof_tab[i].N = prof_tab[i].K = 0;
        } else {
            prof_tab[prof_n++] = key;
        }
    }
    prof_tab[i].calls++;
    prof_tab[i].seconds += seconds;
    prof_tab[i].flops += 2.0 * (double)M * (double)N * (double)K;
}

static int prof_cmp(const void *x, const void *y) {
    double a = ((const ops_gemm_stat *)x)->seconds, b = ((const ops_gemm_stat *)y)->seconds;
    return (a < b) - (a > b);
}

int ops_gemm_profile_read(ops_gemm_stat *out, int cap) {
    ops_gemm_stat tmp[PROF_CAP];
    memcpy(tmp, prof_tab, sizeof tmp);
    qsort(tmp, (size_t)prof_n, sizeof *tmp, prof_cmp);
    for (int i = 0; i < prof_n && i < cap; i++) out[i] = tmp[i];
    return prof_n;
}

/* 1 when this product should be timed: profiling on and not inside a parallel region. */
static int prof_timed(void) {
#ifdef _OPENMP
    return prof_on && !omp_in_parallel();
#else
    return prof_on;
#endif
}

#ifdef MGSD_HAVE_BLAS
#include "ops/blas.h"

static void sgemm_rm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
                     float beta, float *c, int64_t lda, int64_t ldb, int64_t ldc) {
    ops_blas_sgemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void sgemm_split(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                        const float *b, float beta, float *c) {
    const int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    int nt = 1;
#ifdef _OPENMP
    if (!omp_in_parallel() && M * N * K >= GEMM_SPLIT_MIN_FLOPS) nt = omp_get_max_threads();
#endif
    const int by_rows = M >= N;
    const int64_t extent = by_rows ? M : N;
    int64_t chunk = (extent + nt - 1) / nt;
    chunk = (chunk + 15) / 16 * 16;
    if (nt <= 1 || chunk >= extent) {
        sgemm_rm(ta, tb, M, N, K, alpha, a, b, beta, c, lda, ldb, ldc);
        return;
    }
    const int nblk = (int)((extent + chunk - 1) / chunk);
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int blk = 0; blk < nblk; blk++) {
        int64_t i0 = (int64_t)blk * chunk, n = extent - i0 < chunk ? extent - i0 : chunk;
        if (by_rows) /* rows i0.. of C and op(A) */
            sgemm_rm(ta, tb, n, N, K, alpha, ta ? a + i0 : a + i0 * lda, b, beta, c + i0 * ldc, lda, ldb, ldc);
        else /* columns i0.. of C and op(B) */
            sgemm_rm(ta, tb, M, n, K, alpha, a, tb ? b + i0 * ldb : b + i0, beta, c + i0, lda, ldb, ldc);
    }
}
#endif

void ops_gemm_ref(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
                  float beta, float *c) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                float av = ta ? a[k * M + i] : a[i * K + k];
                float bv = tb ? b[j * K + k] : b[k * N + j];
                s += (double)av * bv;
            }
            c[i * N + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * c[i * N + j]));
        }
}

void ops_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, const float *b,
              float beta, float *c) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int64_t i = 0; i < M * N; i++) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
        return;
    }
#ifdef MGSD_HAVE_BLAS
    if (M * N * K >= GEMM_BLAS_MIN_FLOPS) {
        const double t0 = prof_timed() ? mgsd_now() : -1.0;
        sgemm_split(ta, tb, M, N, K, alpha, a, b, beta, c);
        if (t0 >= 0) prof_add(ta, tb, 0, M, N, K, mgsd_now() - t0);
        return;
    }
#endif
    /* Small product: i-k-j loop order, vectorisable inner loop. */
    for (int64_t i = 0; i < M; i++) {
        float *ci = c + i * N;
        if (beta == 0.0f) memset(ci, 0, (size_t)N * sizeof(float));
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; j++) ci[j] *= beta;
        for (int64_t k = 0; k < K; k++) {
            float av = alpha * (ta ? a[k * M + i] : a[i * K + k]);
            if (tb) {
                for (int64_t j = 0; j < N; j++) ci[j] += av * b[j * K + k];
            } else {
                const float *bk = b + k * N;
                for (int64_t j = 0; j < N; j++) ci[j] += av * bk[j];
            }
        }
    }
}

void ops_linear_forward_ref(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC) {
    for (int64_t n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++) s += (double)inp[n * C + c] * w[(int64_t)o * C + c];
            out[n * OC + o] = (float)s;
        }
}

void ops_linear_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, int64_t N, int C, int OC) {
    for (int64_t n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float g = dout[n * OC + o];
            if (db) db[o] += g;
            for (int c = 0; c < C; c++) {
                if (dinp) dinp[n * C + c] += g * w[(int64_t)o * C + c];
                if (dw) dw[(int64_t)o * C + c] += g * inp[n * C + c];
            }
        }
}

void ops_linear_backward_set_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                 const float *w, int64_t N, int C, int OC) {
    if (dinp) memset(dinp, 0, sizeof(float) * (size_t)(N * C));
    ops_linear_backward_ref(dinp, dw, db, dout, inp, w, N, C, OC);
}

void ops_linear_forward(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC) {
    if (b) { /* the bias rows, then out += inp . w^T; threaded so that the other thread does not idle */
OPS_PAR_FOR(N * OC)
        for (int64_t n = 0; n < N; n++) memcpy(out + n * OC, b, (size_t)OC * sizeof(float));
        ops_gemm(0, 1, N, OC, C, 1.0f, inp, w, 1.0f, out);
    } else {
        ops_gemm(0, 1, N, OC, C, 1.0f, inp, w, 0.0f, out);
    }
}

/* A weight at least this many times taller than wide (OC >= WGRAD_T_RATIO * C) gets its
 * gradient as the transpose: the libraries are slow on a tall, narrow result with a long
 * inner dimension. oneDNN 2.6, 2 threads, N = 10,000 tokens: dw[2048,100] += dout^T . inp
 * at 130 GFLOP/s, inp^T . dout into [100,2048] plus a transposed add at 219 (1.5-1.7x for
 * N >= 3,000, 1.16x at 500); [300,100] and square shapes gain nothing, and the transposed
 * form of a wide weight ([100,2048]) is 0.6x (/tmp microbenchmarks, 2026-11-29). */
#define WGRAD_T_RATIO 4

#ifdef MGSD_HAVE_BLAS
/* A weight gradient is a^T . b with the token count as the inner dimension. When b's rows
 * lie a multiple of 4 KiB apart (the 2048-wide hidden layer of a feed-forward: 8 KiB),
 * oneDNN 2.6's AVX2 kernels run it at half speed (presumably rows a power of two apart
 * competing for the same cache sets; the cause was not measured). On the 2-core AMD EPYC
 * (Zen 3, AVX2 only), 2 threads, [100,2048] = a^T . b over 2,500 / 9,600 tokens: 81-87
 * GFLOP/s with b's row stride 2048, 135-177 with 2056 or 2064 (/tmp microbenchmarks,
 * 2026-12-07; OpenBLAS 0.3.21 runs the unpadded product at 135-164). gemm_tn_padded
 * therefore copies WG_KC rows of its column block of b at a time into a per-thread buffer
 * whose row stride is not a multiple of 4 KiB and accumulates the product chunk by chunk:
 * 156-159 GFLOP/s in the same microbenchmark, 105-118 inside an MGSD step against 73-77
 * before (docs/performance.md, "Padded weight-gradient operand"). */
#define WG_KC 256

static int wg_pads(int64_t ldb) { return ldb % 1024 == 0; }

/* Row stride of a buffer holding n columns: n rounded up to 16, plus 16, and never a
 * multiple of 1024 floats. */
static int64_t wg_ldp(int64_t n) {
    int64_t ld = (n + 15) / 16 * 16 + 16;
    return ld % 1024 ? ld : ld + 16;
}

/* Floats of gemm_tn_padded's buffer for products with ncols columns: one WG_KC-row block
 * per thread, each as wide as all ncols columns (an upper bound for the column block of
 * any thread count, so a buffer sized here always fits the split). */
static int64_t wg_buf_floats(int64_t ncols) { return (int64_t)ops_max_threads() * WG_KC * wg_ldp(ncols); }

/* c[M,N] = a^T . b + beta c, a [K,M] (row stride M), b [K,N] (row stride ldb), c row
 * stride N. Threads take one block of columns each (as sgemm_split does for M < N); a
 * fixed split, so the result does not depend on timing. buf holds nbuf floats
 * (wg_buf_floats(N) when sized for this thread count); a buffer sized for fewer threads
 * gets fewer, wider blocks. Returns 0 (and computes nothing) when buf is too small even
 * for one block. */
static int gemm_tn_padded(int64_t M, int64_t N, int64_t K, const float *a, const float *b, int64_t ldb, float beta,
                          float *c, float *buf, int64_t nbuf) {
    const double t0 = prof_timed() ? mgsd_now() : -1.0;
    int nt = 1;
#ifdef _OPENMP
    if (!omp_in_parallel()) nt = omp_get_max_threads();
#endif
    int64_t chunk;
    for (;; nt--) {
        if (nt < 1) return 0;
        chunk = ((N + nt - 1) / nt + 15) / 16 * 16;
        if ((int64_t)nt * WG_KC * wg_ldp(chunk) <= nbuf) break;
    }
    const int nblk = (int)((N + chunk - 1) / chunk);
    const int64_t ldp = wg_ldp(chunk);
#pragma omp parallel for num_threads(nblk) schedule(static, 1) if (nblk > 1)
    for (int blk = 0; blk < nblk; blk++) {
        const int64_t j0 = (int64_t)blk * chunk, n = N - j0 < chunk ? N - j0 : chunk;
        float *pb = buf + (int64_t)blk * WG_KC * ldp;
        for (int64_t k0 = 0; k0 < K; k0 += WG_KC) {
            const int64_t kk = K - k0 < WG_KC ? K - k0 : WG_KC;
            for (int64_t k = 0; k < kk; k++) memcpy(pb + k * ldp, b + (k0 + k) * ldb + j0, (size_t)n * sizeof(float));
            ops_blas_sgemm(1, 0, M, n, kk, 1.0f, a + k0 * M, M, pb, ldp, k0 ? 1.0f : beta, c + j0, N);
        }
    }
    if (t0 >= 0) prof_add(1, 0, 1, M, N, K, mgsd_now() - t0);
    return 1;
}
#endif

/* ws layout: [the transposed result (tall weights)][gemm_tn_padded's buffer (when the
 * long operand's rows are 4 KiB-multiples apart)]. */
int64_t ops_linear_ws_floats(int C, int OC) {
#ifdef MGSD_HAVE_BLAS
    const int tall = OC >= WGRAD_T_RATIO * C;
    const int64_t ld = tall ? OC : C; /* row stride of b in the weight-gradient product */
    return (tall ? (int64_t)OC * C : 0) + (wg_pads(ld) ? wg_buf_floats(ld) : 0);
#else
    (void)C;
    (void)OC;
    return 0;
#endif
}

/* dw[OC,C] += dout^T . inp. With a workspace of ops_linear_ws_floats(C, OC) floats (ws not
 * NULL) and a product big enough for the library: a tall weight computes ws[C,OC] =
 * inp^T . dout, then dw += ws^T (threaded over rows of dw); either product goes through
 * gemm_tn_padded when its long operand's rows are a multiple of 4 KiB apart and there are
 * at least WG_KC tokens. */
static void weight_grad(float *dw, const float *dout, const float *inp, int64_t N, int C, int OC, float *ws,
                        int64_t nws) {
#ifdef MGSD_HAVE_BLAS
    const int big = (int64_t)OC * C * N >= GEMM_SPLIT_MIN_FLOPS;
    if (ws && big && OC >= WGRAD_T_RATIO * C && nws >= (int64_t)OC * C) {
        const int64_t nres = (int64_t)OC * C; /* the transposed result comes first in ws */
        if (!(wg_pads(OC) && N >= WG_KC && gemm_tn_padded(C, OC, N, inp, dout, OC, 0.0f, ws, ws + nres, nws - nres)))
            ops_gemm(1, 0, C, OC, N, 1.0f, inp, dout, 0.0f, ws); /* [C,N].[N,OC] */
OPS_PAR_FOR((int64_t)OC * C)
        for (int o = 0; o < OC; o++) {
            float *d = dw + (int64_t)o * C;
            for (int c = 0; c < C; c++) d[c] += ws[(int64_t)c * OC + o];
        }
        return;
    }
    if (ws && big && wg_pads(C) && N >= WG_KC && gemm_tn_padded(OC, C, N, dout, inp, C, 1.0f, dw, ws, nws)) return;
#else
    (void)ws;
    (void)nws;
#endif
    ops_gemm(1, 0, OC, C, N, 1.0f, dout, inp, 1.0f, dw); /* [OC,N].[N,C] */
}

static void linear_backward(float *dinp, float beta_dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int64_t N, int C, int OC, float *ws, int64_t nws) {
    if (dinp) ops_gemm(0, 0, N, C, OC, 1.0f, dout, w, beta_dinp, dinp); /* [N,OC].[OC,C] */
    if (dw) weight_grad(dw, dout, inp, N, C, OC, ws, nws);
    if (db) ops_bias_grad(db, (float *)dout, NULL, N, OC);
}

void ops_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                         int64_t N, int C, int OC, float *ws, int64_t nws) {
    linear_backward(dinp, 1.0f, dw, db, dout, inp, w, N, C, OC, ws, nws);
}

void ops_linear_backward_set(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                             int64_t N, int C, int OC, float *ws, int64_t nws) {
    linear_backward(dinp, 0.0f, dw, db, dout, inp, w, N, C, OC, ws, nws);
}

void ops_matmul_forward(float *c, const float *a, const float *b, int ta, int tb, int64_t M, int64_t N, int64_t K) {
    ops_gemm(ta, tb, M, N, K, 1.0f, a, b, 0.0f, c);
}

void ops_matmul_backward(float *da, float *db, const float *dc, const float *a, const float *b, int ta, int tb,
                         int64_t M, int64_t N, int64_t K) {
    /* C = A.B    : dA[M,K] += dC.B^T          dB[K,N] += A^T.dC
     * C = A.B^T  : dA[M,K] += dC.B            dB[N,K] += dC^T.A
     * C = A^T.B  : dA[K,M] += B.dC^T          dB[K,N] += A.dC
     * C = A^T.B^T: dA[K,M] += B^T.dC^T        dB[N,K] += dC^T.A^T */
    if (da) {
        if (!ta) ops_gemm(0, !tb, M, K, N, 1.0f, dc, b, 1.0f, da);
        else ops_gemm(tb, 1, K, M, N, 1.0f, b, dc, 1.0f, da);
    }
    if (db) {
        if (!tb) ops_gemm(!ta, 0, K, N, M, 1.0f, a, dc, 1.0f, db);
        else ops_gemm(1, ta, N, K, M, 1.0f, dc, a, 1.0f, db);
    }
}

void ops_linear_relu_forward(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC) {
    ops_gemm(0, 1, N, OC, C, 1.0f, inp, w, 0.0f, out);
OPS_PAR_FOR(N * OC)
    for (int64_t n = 0; n < N; n++) {
        float *o = out + n * OC;
        if (b) {
            for (int j = 0; j < OC; j++) {
                float v = o[j] + b[j];
                o[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (int j = 0; j < OC; j++) o[j] = o[j] > 0.0f ? o[j] : 0.0f;
        }
    }
}

/* Threads split the columns (blocks of 16): each sums its columns over all rows in row
 * order, so the result does not depend on the thread count, and no partial sums need a
 * buffer. dout is only written when y != NULL. */
#define BIAS_GRAD_TILE 1024
void ops_bias_grad(float *db, float *dout, const float *y, int64_t N, int OC) {
    if (N <= 0 || OC <= 0) return;
    int nt = 1;
#ifdef _OPENMP
    if (!omp_in_parallel() && N * OC > OPS_PAR_MIN) nt = omp_get_max_threads();
#endif
    int chunk = ((OC + nt - 1) / nt + 15) / 16 * 16;
    int nblk = (OC + chunk - 1) / chunk;
#pragma omp parallel for num_threads(nblk) schedule(static, 1) if (nblk > 1)
    for (int blk = 0; blk < nblk; blk++) {
        const int jb = blk * chunk, je = OC - jb < chunk ? OC : jb + chunk;
        for (int j0 = jb; j0 < je; j0 += BIAS_GRAD_TILE) { /* bounded stack: tiles of columns */
            const int nj = je - j0 < BIAS_GRAD_TILE ? je - j0 : BIAS_GRAD_TILE;
            float acc[BIAS_GRAD_TILE];
            memset(acc, 0, sizeof(float) * (size_t)nj);
            for (int64_t n = 0; n < N; n++) {
                float *g = dout + n * OC + j0;
                if (y) {
                    const float *yr = y + n * OC + j0;
                    for (int j = 0; j < nj; j++) {
                        g[j] = yr[j] > 0.0f ? g[j] : 0.0f;
                        acc[j] += g[j];
                    }
                } else {
                    for (int j = 0; j < nj; j++) acc[j] += g[j];
                }
            }
            for (int j = 0; j < nj; j++) db[j0 + j] += acc[j];
        }
    }
}

void ops_bias_grad_ref(float *db, float *dout, const float *y, int64_t N, int OC) {
    for (int64_t n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float *g = dout + n * OC + o;
            if (y && !(y[n * OC + o] > 0.0f)) *g = 0.0f;
            db[o] += *g;
        }
}

void ops_relu_mask_inplace(float *dy, const float *y, int64_t n) {
OPS_PAR_FOR(n)
    for (int64_t i = 0; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
