/* Row gathers and scatter-adds, segment sums, column copies, transpose, total sum.
 * See index.h for shapes. */
#include "ops/index.h"

#include <string.h>

#include "ops/fastmath.h"
#include "ops/par.h"

void ops_gather_rows(float *out, const float *x, const int32_t *idx, int64_t M, int C, int add) {
    OPS_PAR_FOR(M * C)
    for (int64_t m = 0; m < M; m++) {
        float *restrict o = out + m * C;
        const float *restrict xr = x + (int64_t)idx[m] * C;
        if (add)
            for (int c = 0; c < C; c++) o[c] += xr[c];
        else
            memcpy(o, xr, (size_t)C * sizeof(float));
    }
}

void ops_scatter_add_rows_ref(float *dx, const float *dout, const int32_t *idx, int64_t M, int C) {
    for (int64_t m = 0; m < M; m++)
        for (int c = 0; c < C; c++) dx[(int64_t)idx[m] * C + c] += dout[m * C + c];
}

/* Below this many elements one thread does it all. Measured (bench_ops_dense, SASRec
 * batch N = 12800 x C = 64, V = 40000): serial 0.10 ms, i.e. negligible next to the
 * products, while waking a second thread on a shared 2-core machine cost milliseconds.
 * Only a very large batch (N*C >= 4M) takes the column-split path. */
#define SCATTER_PAR_MIN ((int64_t)1 << 22)

void ops_scatter_add_rows_par(float *dx, const float *dout, const int32_t *idx, int64_t M, int C) {
    /* Each thread owns the same column block of every row (whole cache lines), so
     * repeated indices never race, no sort is needed, and every element receives its
     * additions in row order: the result equals the serial one bit for bit. */
    int nt = ops_max_threads();
    int nblk = (C + 15) / 16;
    if (nblk > nt) nblk = nt;
    int per = ((C + nblk - 1) / nblk + 15) / 16 * 16;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nblk)
#endif
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * per, c1 = c0 + per < C ? c0 + per : C;
        for (int64_t m = 0; m < M; m++) {
            float *restrict d = dx + (int64_t)idx[m] * C;
            const float *restrict g = dout + m * C;
            for (int c = c0; c < c1; c++) d[c] += g[c];
        }
    }
}

void ops_scatter_add_rows(float *dx, const float *dout, const int32_t *idx, int64_t M, int C) {
    if (ops_max_threads() > 1 && M * C >= SCATTER_PAR_MIN && C >= 32) {
        ops_scatter_add_rows_par(dx, dout, idx, M, C);
        return;
    }
    for (int64_t m = 0; m < M; m++) {
        float *restrict d = dx + (int64_t)idx[m] * C;
        const float *restrict g = dout + m * C;
        for (int c = 0; c < C; c++) d[c] += g[c];
    }
}

/* ---- segment sums ------------------------------------------------------------------- */

static inline float seg_weight(const float *w, int64_t n, int len, int mean) {
    return w ? w[n] : (mean ? 1.0f / (float)len : 1.0f);
}

void ops_segment_forward_ref(float *out, const float *x, const float *w, const int32_t *offs, int B, int C,
                             int mean) {
    for (int b = 0; b < B; b++) {
        int len = offs[b + 1] - offs[b];
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int64_t n = offs[b]; n < offs[b + 1]; n++) s += (double)seg_weight(w, n, len, mean) * x[n * C + c];
            out[(int64_t)b * C + c] = (float)s;
        }
    }
}

void ops_segment_backward_ref(float *dx, float *dw, const float *dout, const float *x, const float *w,
                              const int32_t *offs, int B, int C, int mean) {
    for (int b = 0; b < B; b++) {
        int len = offs[b + 1] - offs[b];
        for (int64_t n = offs[b]; n < offs[b + 1]; n++)
            for (int c = 0; c < C; c++) {
                if (dx) dx[n * C + c] += seg_weight(w, n, len, mean) * dout[(int64_t)b * C + c];
                if (dw) dw[n] += dout[(int64_t)b * C + c] * x[n * C + c];
            }
    }
}

void ops_segment_forward(float *out, const float *x, const float *w, const int32_t *offs, int B, int C, int mean) {
    OPS_PAR_FOR((int64_t)offs[B] * C)
    for (int b = 0; b < B; b++) {
        float *restrict o = out + (int64_t)b * C;
        int len = offs[b + 1] - offs[b];
        memset(o, 0, (size_t)C * sizeof(float));
        for (int64_t n = offs[b]; n < offs[b + 1]; n++) {
            const float *restrict xr = x + n * C;
            float wt = w ? w[n] : 1.0f;
            for (int c = 0; c < C; c++) o[c] += wt * xr[c];
        }
        if (!w && mean && len > 0) {
            float inv = 1.0f / (float)len;
            for (int c = 0; c < C; c++) o[c] *= inv;
        }
    }
}

void ops_segment_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const int32_t *offs, int B, int C, int mean) {
    /* Segments are disjoint row ranges: threads over segments never write the same row. */
    OPS_PAR_FOR((int64_t)offs[B] * C)
    for (int b = 0; b < B; b++) {
        const float *restrict g = dout + (int64_t)b * C;
        int len = offs[b + 1] - offs[b];
        for (int64_t n = offs[b]; n < offs[b + 1]; n++) {
            if (dx) {
                float *restrict d = dx + n * C;
                float wt = seg_weight(w, n, len, mean);
                for (int c = 0; c < C; c++) d[c] += wt * g[c];
            }
            if (dw) {
                const float *restrict xr = x + n * C;
                float s = 0.0f;
                OPS_SIMD_SUM(s)
                for (int c = 0; c < C; c++) s += g[c] * xr[c];
                dw[n] += s;
            }
        }
    }
}

/* ---- column copies, transpose, totals ----------------------------------------------- */

void ops_copy_cols(float *dst, int dC, int d0, const float *src, int sC, int s0, int w, int64_t N, int add) {
    OPS_PAR_FOR(N * w)
    for (int64_t n = 0; n < N; n++) {
        float *restrict d = dst + n * dC + d0;
        const float *restrict s = src + n * sC + s0;
        if (add)
            for (int c = 0; c < w; c++) d[c] += s[c];
        else
            memcpy(d, s, (size_t)w * sizeof(float));
    }
}

void ops_transpose_ref(float *out, const float *x, int64_t M, int64_t N, int add) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            if (add) out[j * M + i] += x[i * N + j];
            else out[j * M + i] = x[i * N + j];
        }
}

void ops_transpose(float *out, const float *x, int64_t M, int64_t N, int add) {
    /* 32x32 tiles keep both the reads and the strided writes inside the L1 cache. */
    enum { TB = 32 };
    int64_t nbi = (M + TB - 1) / TB;
    OPS_PAR_FOR(M * N)
    for (int64_t bi = 0; bi < nbi; bi++) {
        int64_t i0 = bi * TB, i1 = i0 + TB < M ? i0 + TB : M;
        for (int64_t j0 = 0; j0 < N; j0 += TB) {
            int64_t j1 = j0 + TB < N ? j0 + TB : N;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) {
                    if (add) out[j * M + i] += x[i * N + j];
                    else out[j * M + i] = x[i * N + j];
                }
        }
    }
}

float ops_sum_all(const float *x, int64_t n) {
    double s = 0;
#ifdef _OPENMP
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > OPS_PAR_MIN)
#endif
    for (int64_t i = 0; i < n; i++) s += x[i];
    return (float)s;
}

void ops_fill_add(float *dx, float v, int64_t n) {
    OPS_PAR_FOR(n)
    for (int64_t i = 0; i < n; i++) dx[i] += v;
}
