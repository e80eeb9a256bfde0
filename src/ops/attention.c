/* Fused multi-head self-attention on packed ragged sequences (see attention.h).
 *
 * Work is split over (sequence, head) pairs with a dynamic OpenMP schedule, since the
 * cost of a pair grows with len^2 and lengths vary from 1 to 50 (200 for ml-1m). Pairs
 * write disjoint rows/columns of out and dqkv, so no reduction is needed.
 * A pair of length >= ATT_GEMM_MIN_LEN runs its five products (Q K^T, A V; dO V^T, A^T dO,
 * dS K, dS^T Q) as single-threaded ops_blas_sgemm calls on strided views (a library call
 * inside our parallel loop runs on the calling thread); shorter pairs use short explicit loops
 * (`omp simd` reductions) that skip the masked triangle. Measured with bench/bench_seqops.c:
 * the loops equal sgemm at Beauty-like lengths (mean ~9) and sgemm is ~2x faster when every
 * sequence has length 50 (C = 64 and 100, NH = 2). */
#include "ops/attention.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/core.h"
#include "ops/eltwise.h"
#include "ops/fastmath.h"
#ifdef MGSD_HAVE_BLAS
#include "ops/blas.h"
#define ATT_GEMM_MIN_LEN 16
#else
#define ATT_GEMM_MIN_LEN (1 << 30) /* no BLAS: loops only */
#endif

int64_t ops_attention_offsets(int64_t *aoff, const int32_t *offs, int B, int NH) {
    aoff[0] = 0;
    for (int b = 0; b < B; b++) {
        int64_t len = offs[b + 1] - offs[b];
        aoff[b + 1] = aoff[b] + (int64_t)NH * len * len;
    }
    return aoff[B];
}

int64_t ops_attention_scratch_floats(int max_len) {
#ifdef _OPENMP
    int nt = omp_get_max_threads();
#else
    int nt = 1;
#endif
    int64_t L = max_len > 0 ? max_len : 1;
    return (int64_t)nt * (L + 2 * L * L);
}

static int batch_max_len(const int32_t *offs, int B) {
    int m = 1;
    for (int b = 0; b < B; b++)
        if (offs[b + 1] - offs[b] > m) m = offs[b + 1] - offs[b];
    return m;
}

static float *thread_scratch(float *scratch, int max_len) {
#ifdef _OPENMP
    return scratch + (int64_t)omp_get_thread_num() * ((int64_t)max_len + 2 * (int64_t)max_len * max_len);
#else
    (void)max_len;
    return scratch;
#endif
}

/* p[0..jn) = softmax of the scores p[0..jn) whose maximum is mx; p[jn..len) = 0. */
static inline void softmax_finish(float *p, int jn, int len, float mx) {
    float sum = 0.0f;
    for (int j = 0; j < jn; j++) {
        p[j] = ops_fast_exp0(p[j] - mx);
        sum += p[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < jn; j++) p[j] *= inv;
    for (int j = jn; j < len; j++) p[j] = 0.0f;
}

#ifdef MGSD_HAVE_BLAS
/* c[m, n] (ldc) = alpha op(a) op(b) + beta c, row-major strided views. */
static inline void gemm_s(int ta, int tb, int m, int n, int k, float alpha, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    ops_blas_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Row softmax of the len x len scores in P (keys j < i+1 when causal), zeros above. */
static void softmax_rows(float *P, int len, int causal) {
    for (int i = 0; i < len; i++) {
        int jn = causal ? i + 1 : len;
        float *p = P + (int64_t)i * len, mx = -INFINITY;
        for (int j = 0; j < jn; j++) mx = p[j] > mx ? p[j] : mx;
        softmax_finish(p, jn, len, mx);
    }
}

static void pair_forward_gemm(float *o, float *P, float *A, const float *q, const float *M, int len, int D, int64_t C,
                              int causal, float scale) {
    const int64_t C3 = 3 * C;
    gemm_s(0, 1, len, len, D, scale, q, C3, q + C, C3, 0.0f, P, len);
    softmax_rows(P, len, causal);
    const float *use = P;
    if (M) {
        for (int64_t e = 0; e < (int64_t)len * len; e++) A[e] = P[e] * M[e];
        use = A;
    }
    gemm_s(0, 0, len, D, len, 1.0f, use, len, q + 2 * C, C3, 0.0f, o, C);
}

static void pair_backward_gemm(float *dq, float *A, float *dA, const float *go, const float *q, const float *P,
                               const float *M, int len, int D, int64_t C, float scale) {
    const int64_t C3 = 3 * C;
    const float *k = q + C, *v = q + 2 * C;
    const float *use = P;
    if (M) {
        for (int64_t e = 0; e < (int64_t)len * len; e++) A[e] = P[e] * M[e];
        use = A;
    }
    gemm_s(1, 0, len, D, len, 1.0f, use, len, go, C, 1.0f, dq + 2 * C, C3); /* dV += A^T dO */
    gemm_s(0, 1, len, len, D, 1.0f, go, C, v, C3, 0.0f, dA, len);          /* dA = dO V^T */
    for (int i = 0; i < len; i++) {
        float *d = dA + (int64_t)i * len;
        const float *p = P + (int64_t)i * len, *m = M ? M + (int64_t)i * len : NULL;
        float pdot = 0.0f;
        for (int j = 0; j < len; j++) {
            if (m) d[j] *= m[j];
            pdot += d[j] * p[j];
        }
        for (int j = 0; j < len; j++) d[j] = p[j] * (d[j] - pdot) * scale; /* P = 0 above the diagonal */
    }
    gemm_s(0, 0, len, D, len, 1.0f, dA, len, k, C3, 1.0f, dq, C3);     /* dQ += dS K */
    gemm_s(1, 0, len, D, len, 1.0f, dA, len, q, C3, 1.0f, dq + C, C3); /* dK += dS^T Q */
}
#endif

void ops_attention_dropout_mask(float *drop, const int64_t *aoff, const int32_t *offs, int B, int NH, float p,
                                uint64_t seed) {
    float keep = 1.0f / (1.0f - p);
    uint32_t thr = ops_dropout_threshold(p);
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t pair = 0; pair < (int64_t)B * NH; pair++) {
        int b = (int)(pair / NH), h = (int)(pair % NH);
        int64_t len = offs[b + 1] - offs[b];
        float *d = drop + aoff[b] + h * len * len;
        mgsd_rng r;
        mgsd_rng_seed(&r, seed ^ ((uint64_t)(pair + 1) * 0x9E3779B97F4A7C15ULL));
        for (int64_t e0 = 0; e0 < len * len; e0 += 64) {
            uint64_t w = ops_dropout_keep_word(&r, thr);
            int64_t n = len * len - e0 < 64 ? len * len - e0 : 64;
            for (int64_t j = 0; j < n; j++) d[e0 + j] = (float)((w >> j) & 1u) * keep;
        }
    }
}

/* ---- optimised --------------------------------------------------------------------- */

static inline float dotf(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < n; d++) s += a[d] * b[d];
    return s;
}

static inline void axpyf(float *y, float a, const float *x, int n) {
#pragma omp simd
    for (int d = 0; d < n; d++) y[d] += a * x[d];
}

void ops_attention_forward(float *out, float *att, float *scratch, const float *qkv, const float *drop,
                           const int32_t *offs, const int64_t *aoff, int B, int C, int NH, int causal) {
    const int D = C / NH;
    const int64_t C3 = 3 * (int64_t)C;
    const float scale = 1.0f / sqrtf((float)D);
    const int max_len = batch_max_len(offs, B);
    (void)scratch;
    (void)max_len;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t pair = 0; pair < (int64_t)B * NH; pair++) {
        int b = (int)(pair / NH), h = (int)(pair % NH);
        int len = offs[b + 1] - offs[b];
        const float *q = qkv + (int64_t)offs[b] * C3 + (int64_t)h * D;
        const float *k = q + C, *v = q + 2 * C;
        float *o = out + (int64_t)offs[b] * C + (int64_t)h * D;
        float *P = att + aoff[b] + (int64_t)h * len * len;
        const float *M = drop ? drop + aoff[b] + (int64_t)h * len * len : NULL;
#ifdef MGSD_HAVE_BLAS
        if (len >= ATT_GEMM_MIN_LEN) {
            pair_forward_gemm(o, P, thread_scratch(scratch, max_len) + max_len, q, M, len, D, C, causal, scale);
            continue;
        }
#endif
        for (int i = 0; i < len; i++) {
            int jn = causal ? i + 1 : len;
            float *p = P + (int64_t)i * len;
            const float *qi = q + i * C3;
            float mx = -INFINITY;
            for (int j = 0; j < jn; j++) {
                float s = dotf(qi, k + j * C3, D) * scale;
                p[j] = s;
                mx = s > mx ? s : mx;
            }
            softmax_finish(p, jn, len, mx);
            float *oi = o + (int64_t)i * C;
            memset(oi, 0, (size_t)D * sizeof(float));
            for (int j = 0; j < jn; j++) {
                float a = M ? p[j] * M[(int64_t)i * len + j] : p[j];
                if (a != 0.0f) axpyf(oi, a, v + j * C3, D);
            }
        }
    }
}

void ops_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                            const float *drop, const int32_t *offs, const int64_t *aoff, int B, int C, int NH,
                            int causal) {
    const int D = C / NH;
    const int64_t C3 = 3 * (int64_t)C;
    const float scale = 1.0f / sqrtf((float)D);
    const int max_len = batch_max_len(offs, B);
#pragma omp parallel
    {
        float *dp = thread_scratch(scratch, max_len);
#pragma omp for schedule(dynamic, 1)
        for (int64_t pair = 0; pair < (int64_t)B * NH; pair++) {
            int b = (int)(pair / NH), h = (int)(pair % NH);
            int len = offs[b + 1] - offs[b];
            int64_t base = (int64_t)offs[b] * C3 + (int64_t)h * D;
            const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
            const float *go = dout + (int64_t)offs[b] * C + (int64_t)h * D;
            const float *P = att + aoff[b] + (int64_t)h * len * len;
            const float *M = drop ? drop + aoff[b] + (int64_t)h * len * len : NULL;
#ifdef MGSD_HAVE_BLAS
            if (len >= ATT_GEMM_MIN_LEN) {
                float *A = dp + max_len, *dA = A + (int64_t)max_len * max_len;
                pair_backward_gemm(dq, A, dA, go, q, P, M, len, D, C, scale);
                continue;
            }
#endif
            for (int i = 0; i < len; i++) {
                int jn = causal ? i + 1 : len;
                const float *p = P + (int64_t)i * len;
                const float *m = M ? M + (int64_t)i * len : NULL;
                const float *gi = go + (int64_t)i * C;
                /* out_i = sum_j P_ij m_ij v_j: dv_j += P_ij m_ij dout_i, dP_ij = m_ij dout_i.v_j */
                float pdot = 0.0f;
                for (int j = 0; j < jn; j++) {
                    float mj = m ? m[j] : 1.0f;
                    float g = mj != 0.0f ? dotf(gi, v + j * C3, D) * mj : 0.0f;
                    if (p[j] * mj != 0.0f) axpyf(dv + j * C3, p[j] * mj, gi, D);
                    dp[j] = g;
                    pdot += g * p[j];
                }
                /* softmax: dS_ij = P_ij (dP_ij - sum_k dP_ik P_ik), times the score scale */
                float *dqi = dq + i * C3;
                const float *qi = q + i * C3;
                for (int j = 0; j < jn; j++) {
                    float ds = p[j] * (dp[j] - pdot) * scale;
                    if (ds == 0.0f) continue;
                    axpyf(dqi, ds, k + j * C3, D);
                    axpyf(dk + j * C3, ds, qi, D);
                }
            }
        }
    }
}

/* ---- reference --------------------------------------------------------------------- */
void ops_attention_forward_ref(float *out, float *att, const float *qkv, const float *drop, const int32_t *offs,
                               const int64_t *aoff, int B, int C, int NH, int causal) {
    const int D = C / NH;
    const int64_t C3 = 3 * (int64_t)C;
    const double scale = 1.0 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int len = offs[b + 1] - offs[b];
            float *P = att + aoff[b] + (int64_t)h * len * len;
            for (int i = 0; i < len; i++) {
                int64_t ti = offs[b] + i;
                double mx = -INFINITY, sum = 0.0;
                double s[4096];
                MGSD_ASSERT(len <= 4096);
                for (int j = 0; j < len; j++) {
                    int64_t tj = offs[b] + j;
                    double acc = 0.0;
                    for (int d = 0; d < D; d++)
                        acc += (double)qkv[ti * C3 + h * D + d] * qkv[tj * C3 + C + h * D + d];
                    s[j] = acc * scale;
                    if ((!causal || j <= i) && s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < len; j++) {
                    s[j] = (!causal || j <= i) ? exp(s[j] - mx) : 0.0;
                    sum += s[j];
                }
                for (int j = 0; j < len; j++) P[(int64_t)i * len + j] = (float)(s[j] / sum);
                for (int d = 0; d < D; d++) {
                    double acc = 0.0;
                    for (int j = 0; j < len; j++) {
                        double a = P[(int64_t)i * len + j] * (drop ? drop[aoff[b] + (int64_t)h * len * len + (int64_t)i * len + j] : 1.0f);
                        acc += a * qkv[(offs[b] + j) * C3 + 2 * C + h * D + d];
                    }
                    out[ti * C + h * D + d] = (float)acc;
                }
            }
        }
}

void ops_attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *att,
                                const float *drop, const int32_t *offs, const int64_t *aoff, int B, int C, int NH,
                                int causal) {
    const int D = C / NH;
    const int64_t C3 = 3 * (int64_t)C;
    const double scale = 1.0 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int len = offs[b + 1] - offs[b];
            const float *P = att + aoff[b] + (int64_t)h * len * len;
            const float *M = drop ? drop + aoff[b] + (int64_t)h * len * len : NULL;
            for (int i = 0; i < len; i++) {
                int64_t ti = offs[b] + i;
                double dP[4096], pdot = 0.0;
                MGSD_ASSERT(len <= 4096);
                for (int j = 0; j < len; j++) {
                    int64_t tj = offs[b] + j;
                    double m = M ? M[(int64_t)i * len + j] : 1.0, acc = 0.0;
                    for (int d = 0; d < D; d++) {
                        acc += (double)dout[ti * C + h * D + d] * qkv[tj * C3 + 2 * C + h * D + d];
                        dqkv[tj * C3 + 2 * C + h * D + d] +=
                            (float)(P[(int64_t)i * len + j] * m * dout[ti * C + h * D + d]);
                    }
                    dP[j] = (!causal || j <= i) ? acc * m : 0.0;
                    pdot += dP[j] * P[(int64_t)i * len + j];
                }
                for (int j = 0; j < len; j++) {
                    int64_t tj = offs[b] + j;
                    double ds = P[(int64_t)i * len + j] * (dP[j] - pdot) * scale;
                    for (int d = 0; d < D; d++) {
                        dqkv[ti * C3 + h * D + d] += (float)(ds * qkv[tj * C3 + C + h * D + d]);
                        dqkv[tj * C3 + C + h * D + d] += (float)(ds * qkv[ti * C3 + h * D + d]);
                    }
                }
            }
        }
}
