/* Row-wise kernels: layernorm, softmax / log_softmax, cosine similarity, row sums.
 * See norm.h for shapes and equations. Row statistics are accumulated in float with a
 * two-pass mean/variance (as llm.c); softmax subtracts the row max for stability. */
#include "ops/norm.h"

#include <math.h>
#include <string.h>

#include "ops/fastmath.h"
#include "ops/par.h"

/* ---- layernorm ---------------------------------------------------------------------- */

static void layernorm_row(float *restrict o, float *mean, float *rstd, const float *restrict x,
                          const float *restrict w, const float *restrict b, int C, float eps) {
    float m = 0.0f;
    OPS_SIMD_SUM(m)
    for (int c = 0; c < C; c++) m += x[c];
    m /= (float)C;
    float v = 0.0f;
    OPS_SIMD_SUM(v)
    for (int c = 0; c < C; c++) {
        float d = x[c] - m;
        v += d * d;
    }
    v /= (float)C;
    float s = 1.0f / sqrtf(v + eps);
    for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + b[c];
    *mean = m;
    *rstd = s;
}

void ops_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp, const float *w,
                               const float *b, int64_t N, int C, float eps) {
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        double m = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        double v = 0;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        double s = 1.0 / sqrt(v + eps);
        for (int c = 0; c < C; c++) out[n * C + c] = (float)((x[c] - m) * s * w[c] + b[c]);
        mean[n] = (float)m;
        rstd[n] = (float)s;
    }
}

void ops_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                           int64_t N, int C, float eps) {
    OPS_PAR_FOR(N * C)
    for (int64_t n = 0; n < N; n++) layernorm_row(out + n * C, mean + n, rstd + n, inp + n * C, w, b, C, eps);
}

void ops_layernorm_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                const float *w, const float *mean, const float *rstd, int64_t N, int C) {
    for (int64_t n = 0; n < N; n++) {
        const float *g = dout + n * C, *x = inp + n * C;
        double dn_mean = 0, dnn_mean = 0;
        for (int c = 0; c < C; c++) {
            double norm = (x[c] - mean[n]) * (double)rstd[n];
            double dn = (double)w[c] * g[c];
            dn_mean += dn;
            dnn_mean += dn * norm;
        }
        dn_mean /= C;
        dnn_mean /= C;
        for (int c = 0; c < C; c++) {
            double norm = (x[c] - mean[n]) * (double)rstd[n];
            double dn = (double)w[c] * g[c];
            if (db) db[c] += g[c];
            if (dw) dw[c] += (float)(norm * g[c]);
            if (dinp) dinp[n * C + c] += (float)((dn - dn_mean - norm * dnn_mean) * rstd[n]);
        }
    }
}

void ops_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                            const float *mean, const float *rstd, int64_t N, int C) {
    if (dinp) {
        OPS_PAR_FOR(N * C)
        for (int64_t n = 0; n < N; n++) {
            const float *restrict g = dout + n * C, *restrict x = inp + n * C;
            float *restrict dx = dinp + n * C;
            float m = mean[n], s = rstd[n], a = 0.0f, bb = 0.0f;
            OPS_SIMD_SUM(a, bb)
            for (int c = 0; c < C; c++) {
                float norm = (x[c] - m) * s, dn = w[c] * g[c];
                a += dn;
                bb += dn * norm;
            }
            a /= (float)C;
            bb /= (float)C;
            for (int c = 0; c < C; c++) {
                float norm = (x[c] - m) * s;
                dx[c] += (w[c] * g[c] - a - norm * bb) * s;
            }
        }
    }
    if (dw || db) {
        /* Parameter gradients: threads own blocks of 16 columns and walk all rows. */
        int nblk = (C + 15) / 16;
        OPS_PAR_FOR(N * C)
        for (int blk = 0; blk < nblk; blk++) {
            int c0 = blk * 16, c1 = c0 + 16 < C ? c0 + 16 : C;
            for (int64_t n = 0; n < N; n++) {
                const float *restrict g = dout + n * C, *restrict x = inp + n * C;
                float m = mean[n], s = rstd[n];
                if (dw)
                    for (int c = c0; c < c1; c++) dw[c] += (x[c] - m) * s * g[c];
                if (db)
                    for (int c = c0; c < c1; c++) db[c] += g[c];
            }
        }
    }
}

/* ---- softmax / log_softmax ---------------------------------------------------------- */

void ops_softmax_forward_ref(float *out, const float *x, int64_t N, int C, int log_sm) {
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        double mx = -INFINITY, s = 0;
        for (int c = 0; c < C; c++) mx = xr[c] > mx ? xr[c] : mx;
        for (int c = 0; c < C; c++) s += exp(xr[c] - mx);
        for (int c = 0; c < C; c++)
            out[n * C + c] = log_sm ? (float)(xr[c] - mx - log(s)) : (float)(exp(xr[c] - mx) / s);
    }
}

void ops_softmax_backward_ref(float *dx, const float *dy, const float *y, int64_t N, int C, int log_sm) {
    for (int64_t n = 0; n < N; n++) {
        const float *g = dy + n * C, *yr = y + n * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += log_sm ? g[c] : (double)g[c] * yr[c];
        for (int c = 0; c < C; c++)
            dx[n * C + c] += log_sm ? (float)(g[c] - exp(yr[c]) * s) : (float)(yr[c] * (g[c] - s));
    }
}

/* exp through ops_fast_exp (relative error 1e-7, vectorised): softmax over V items is the
 * full-ranking loss, where libm's expf dominated. */
void ops_softmax_forward(float *out, const float *x, int64_t N, int C, int log_sm) {
    OPS_PAR_FOR(N * C)
    for (int64_t n = 0; n < N; n++) {
        const float *restrict xr = x + n * C;
        float *restrict o = out + n * C;
        float mx = -INFINITY, s = 0.0f;
        OPS_SIMD_MAX(mx)
        for (int c = 0; c < C; c++) mx = xr[c] > mx ? xr[c] : mx;
        for (int c = 0; c < C; c++) o[c] = ops_fast_exp(xr[c] - mx);
        OPS_SIMD_SUM(s)
        for (int c = 0; c < C; c++) s += o[c];
        if (log_sm) {
            float ls = mx + logf(s);
            for (int c = 0; c < C; c++) o[c] = xr[c] - ls;
        } else {
            float inv = 1.0f / s;
            for (int c = 0; c < C; c++) o[c] *= inv;
        }
    }
}

void ops_softmax_backward(float *dx, const float *dy, const float *y, int64_t N, int C, int log_sm) {
    OPS_PAR_FOR(N * C)
    for (int64_t n = 0; n < N; n++) {
        const float *restrict g = dy + n * C, *restrict yr = y + n * C;
        float *restrict d = dx + n * C;
        float s = 0.0f;
        if (log_sm) {
            OPS_SIMD_SUM(s)
            for (int c = 0; c < C; c++) s += g[c];
            for (int c = 0; c < C; c++) d[c] += g[c] - ops_fast_exp(yr[c]) * s;
        } else {
            OPS_SIMD_SUM(s)
            for (int c = 0; c < C; c++) s += g[c] * yr[c];
            for (int c = 0; c < C; c++) d[c] += yr[c] * (g[c] - s);
        }
    }
}

/* ---- cosine similarity -------------------------------------------------------------- */
/* cos = <a,b> / den, den = max(na nb, eps). Where den > eps:
 *   dcos/da = b / den - cos a / na^2,   dcos/db = a / den - cos b / nb^2;
 * where clamped (den = eps, a constant): dcos/da = b / eps, dcos/db = a / eps. */

void ops_cosine_forward(float *out, float *na, float *nb, const float *a, const float *b, int64_t N, int C,
                        int b_bcast, float eps) {
    OPS_PAR_FOR(N * C)
    for (int64_t n = 0; n < N; n++) {
        const float *restrict ar = a + n * C, *restrict br = b_bcast ? b : b + n * C;
        float d = 0.0f, sa = 0.0f, sb = 0.0f;
        OPS_SIMD_SUM(d, sa, sb)
        for (int c = 0; c < C; c++) {
            d += ar[c] * br[c];
            sa += ar[c] * ar[c];
            sb += br[c] * br[c];
        }
        na[n] = sqrtf(sa);
        nb[n] = sqrtf(sb);
        float den = na[n] * nb[n];
        out[n] = d / (den > eps ? den : eps);
    }
}

/* Coefficients of row n: grad_a = ca_b * b + ca_a * a, grad_b = cb_a * a + cb_b * b. */
static inline void cosine_coefs(float g, float cs, float na, float nb, float eps, float *ca_b, float *ca_a,
                                float *cb_a, float *cb_b) {
    float den = na * nb;
    if (den > eps) {
        *ca_b = *cb_a = g / den;
        *ca_a = -g * cs / (na * na);
        *cb_b = -g * cs / (nb * nb);
    } else {
        *ca_b = *cb_a = g / eps;
        *ca_a = *cb_b = 0.0f;
    }
}

void ops_cosine_backward_ref(float *da, float *db, const float *dout, const float *out, const float *na,
                             const float *nb, const float *a, const float *b, int64_t N, int C, int b_bcast,
                             float eps) {
    for (int64_t n = 0; n < N; n++) {
        const float *ar = a + n * C, *br = b_bcast ? b : b + n * C;
        float ca_b, ca_a, cb_a, cb_b;
        cosine_coefs(dout[n], out[n], na[n], nb[n], eps, &ca_b, &ca_a, &cb_a, &cb_b);
        for (int c = 0; c < C; c++) {
            if (da) da[n * C + c] += ca_b * br[c] + ca_a * ar[c];
            if (db) db[(b_bcast ? 0 : n * C) + c] += cb_a * ar[c] + cb_b * br[c];
        }
    }
}

void ops_cosine_backward(float *da, float *db, const float *dout, const float *out, const float *na,
                         const float *nb, const float *a, const float *b, int64_t N, int C, int b_bcast,
                         float eps) {
    float *dbr_shared = b_bcast ? db : NULL;
    OPS_PAR_FOR(N * C)
    for (int64_t n = 0; n < N; n++) {
        const float *restrict ar = a + n * C, *restrict br = b_bcast ? b : b + n * C;
        float ca_b, ca_a, cb_a, cb_b;
        cosine_coefs(dout[n], out[n], na[n], nb[n], eps, &ca_b, &ca_a, &cb_a, &cb_b);
        if (da) {
            float *restrict d = da + n * C;
            for (int c = 0; c < C; c++) d[c] += ca_b * br[c] + ca_a * ar[c];
        }
        if (db && !b_bcast) {
            float *restrict d = db + n * C;
            for (int c = 0; c < C; c++) d[c] += cb_a * ar[c] + cb_b * br[c];
        }
    }
    if (dbr_shared) {
        /* Broadcast b: reduce over rows serially (C floats per row, memory-bound anyway). */
        for (int64_t n = 0; n < N; n++) {
            const float *restrict ar = a + n * C;
            float ca_b, ca_a, cb_a, cb_b;
            cosine_coefs(dout[n], out[n], na[n], nb[n], eps, &ca_b, &ca_a, &cb_a, &cb_b);
            for (int c = 0; c < C; c++) dbr_shared[c] += cb_a * ar[c] + cb_b * b[c];
        }
    }
}

/* ---- row sums ----------------------------------------------------------------------- */

void ops_sum_rows_forward(float *out, const float *x, int64_t N, int C) {
    OPS_PAR_FOR(N * C)
    for (int64_t n = 0; n < N; n++) {
        const float *restrict xr = x + n * C;
        float s = 0.0f;
        OPS_SIMD_SUM(s)
        for (int c = 0; c < C; c++) s += xr[c];
        out[n] = s;
    }
}

void ops_sum_rows_backward(float *dx, const float *dout, int64_t N, int C) {
    OPS_PAR_FOR(N * C)
    for (int64_t n = 0; n < N; n++) {
        float *restrict d = dx + n * C;
        float g = dout[n];
        for (int c = 0; c < C; c++) d[c] += g;
    }
}
