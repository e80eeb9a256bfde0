/* Per-row scaling and the noise-weighted supervised contrastive loss (see contrastive.h).
 * Both are cheap (linear in the number of entries); the contrastive loss runs serially per
 * segment in double precision because segments are short (<= 50 items or K interests). */
#include "ops/contrastive.h"

#include <math.h>

void ops_scale_rows_forward(float *y, const float *x, const float *w, int64_t N, int C) {
    for (int64_t n = 0; n < N; n++) {
        float s = w[n];
        const float *xr = x + n * C;
        float *yr = y + n * C;
        for (int c = 0; c < C; c++) yr[c] = xr[c] * s;
    }
}

void ops_scale_rows_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t N, int C) {
    for (int64_t n = 0; n < N; n++) {
        const float *g = dy + n * C, *xr = x + n * C;
        if (dx) {
            float s = w[n];
            float *d = dx + n * C;
            for (int c = 0; c < C; c++) d[c] += g[c] * s;
        }
        if (dw) {
            float acc = 0;
            for (int c = 0; c < C; c++) acc += g[c] * xr[c];
            dw[n] += acc;
        }
    }
}

#define SC_EPS 1e-10

/* The gradients are exact in double; their terms grow like 1 / D_k when a segment's
 * denominator is tiny next to a heavy positive (interest weights near 0), past float's range:
 * an interest flag's derivative of -8.2e38 was measured on Beauty (docs/mgsd.md). A plain
 * cast gives inf, which the ops upstream turn into NaN. Saturating at +-SC_GRAD_MAX keeps the
 * step finite, so the trainer's gradient clipping scales it like any other large step; the
 * headroom below FLT_MAX leaves room for the sums upstream. */
#define SC_GRAD_MAX 1e30

static inline float sat(double v) {
    return v > SC_GRAD_MAX ? (float)SC_GRAD_MAX : v < -SC_GRAD_MAX ? (float)-SC_GRAD_MAX : (float)v;
}

void ops_sup_contrastive_forward(float *loss, const float *z, const float *f, const float *a, const float *q,
                                 const int32_t *offs, int B) {
    for (int b = 0; b < B; b++) {
        int32_t o = offs[b], e = offs[b + 1];
        double S = 0, F = 0, sum = 0;
        for (int32_t i = o; i < e; i++) {
            S += (1.0 - f[i]) * q[i] * exp((double)z[i]);
            F += f[i];
        }
        for (int32_t i = o; i < e; i++) {
            double P = (double)f[i] * a[i] * exp((double)z[i]);
            double D = P + S;
            if (D <= 0) D += SC_EPS;
            double r = P / D;
            if (r != 0) sum -= log(r);
        }
        loss[b] = F != 0 ? (float)(sum / F) : 0.0f;
    }
}

void ops_sup_contrastive_backward(float *dz, float *df, float *da, float *dq, const float *dloss, const float *z,
                                  const float *f, const float *a, const float *q, const int32_t *offs, int B,
                                  int zero_ratio_grad) {
    for (int b = 0; b < B; b++) {
        int32_t o = offs[b], e = offs[b + 1];
        double S = 0, F = 0, sum = 0;
        for (int32_t i = o; i < e; i++) {
            S += (1.0 - f[i]) * q[i] * exp((double)z[i]);
            F += f[i];
        }
        if (F == 0) continue;
        double g = dloss[b], c = g / F, dS = 0;
        /* pass 1: loss value (for d/dF) and the gradient through each active P_i */
        for (int32_t i = o; i < e; i++) {
            double s = exp((double)z[i]);
            double P = (double)f[i] * a[i] * s;
            double D = P + S;
            if (D <= 0) D += SC_EPS;
            double r = P / D;
            if (r == 0) {
                /* The reference logs r + [r == 0]: slope -1 in r, so dP = -c / D (dD = -P / D^2
                 * = 0 here). Only f and a see it (dz = dP * P = 0). */
                if (zero_ratio_grad) {
                    double dP = -c / D;
                    if (df) df[i] += sat(dP * a[i] * s);
                    if (da) da[i] += sat(dP * f[i] * s);
                }
                continue;
            }
            sum -= log(r);
            double dP = c * (-1.0 / P + 1.0 / D);
            dS += c / D;
            if (df) df[i] += sat(dP * a[i] * s);
            if (da) da[i] += sat(dP * f[i] * s);
            if (dz) dz[i] += sat(dP * P);
        }
        double dF = -g * (sum / F) / F;
        /* pass 2: the negative sum S and the normaliser F */
        for (int32_t i = o; i < e; i++) {
            double s = exp((double)z[i]);
            double Q = (1.0 - f[i]) * q[i] * s;
            if (df) df[i] += sat(dF - dS * q[i] * s);
            if (dq) dq[i] += sat(dS * (1.0 - f[i]) * s);
            if (dz) dz[i] += sat(dS * Q);
        }
    }
}

void ops_gaussian_gate_forward(float *y, const float *r, const float *mu, const float *sigma, int k, int64_t N) {
    for (int64_t n = 0; n < N; n++) {
        double acc = 0;
        for (int j = 0; j < k; j++) {
            double d = (double)r[n] - mu[j];
            acc += exp(-d * d / (2.0 * (double)sigma[j] * sigma[j]));
        }
        y[n] = (float)acc;
    }
}

void ops_gaussian_gate_backward(float *dr, const float *dy, const float *r, const float *mu, const float *sigma, int k,
                                int64_t N) {
    for (int64_t n = 0; n < N; n++) {
        double acc = 0;
        for (int j = 0; j < k; j++) {
            double d = (double)r[n] - mu[j], s2 = (double)sigma[j] * sigma[j];
            acc += -d / s2 * exp(-d * d / (2.0 * s2));
        }
        dr[n] += (float)(dy[n] * acc);
    }
}
