/* Straight-through gumbel-softmax (see gumbel.h). */
#include "ops/gumbel.h"

#include <math.h>
#include <string.h>

void ops_gumbel_noise(float *g, int64_t n, mgsd_rng *rng) {
    for (int64_t i = 0; i < n; i++) {
        double u = mgsd_rng_uniform_d(rng);
        if (u < 1e-10) u = 1e-10;
        if (u > 1.0 - 1e-10) u = 1.0 - 1e-10;
        g[i] = (float)-log(-log(u));
    }
}

void ops_gumbel_softmax_forward(float *y, float *ysoft, const float *x, const float *g, int64_t N, int K, float tau,
                                int hard) {
    const float it = 1.0f / tau;
#pragma omp parallel for schedule(static) if (N * K > 16384)
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * K, *gn = g ? g + n * K : NULL;
        float *s = ysoft + n * K, *yn = y + n * K;
        float mx = -INFINITY;
        int am = 0;
        for (int k = 0; k < K; k++) {
            s[k] = (xn[k] + (gn ? gn[k] : 0.0f)) * it;
            if (s[k] > mx) {
                mx = s[k];
                am = k;
            }
        }
        float sum = 0.0f;
        for (int k = 0; k < K; k++) {
            s[k] = expf(s[k] - mx);
            sum += s[k];
        }
        for (int k = 0; k < K; k++) s[k] /= sum;
        if (hard) {
            memset(yn, 0, (size_t)K * sizeof(float));
            yn[am] = 1.0f;
        } else {
            memcpy(yn, s, (size_t)K * sizeof(float));
        }
    }
}

void ops_gumbel_softmax_backward(float *dx, const float *dy, const float *ysoft, int64_t N, int K, float tau) {
    const float it = 1.0f / tau;
#pragma omp parallel for schedule(static) if (N * K > 16384)
    for (int64_t n = 0; n < N; n++) {
        const float *s = ysoft + n * K, *d = dy + n * K;
        float dot = 0.0f;
        for (int k = 0; k < K; k++) dot += d[k] * s[k];
        for (int k = 0; k < K; k++) dx[n * K + k] += it * s[k] * (d[k] - dot);
    }
}

void ops_gumbel_softmax_forward_ref(float *y, float *ysoft, const float *x, const float *g, int64_t N, int K,
                                    float tau, int hard) {
    for (int64_t n = 0; n < N; n++) {
        double mx = -INFINITY, sum = 0.0;
        int am = 0;
        for (int k = 0; k < K; k++) {
            double v = ((double)x[n * K + k] + (g ? g[n * K + k] : 0.0)) / tau;
            if (v > mx) {
                mx = v;
                am = k;
            }
        }
        for (int k = 0; k < K; k++) sum += exp(((double)x[n * K + k] + (g ? g[n * K + k] : 0.0)) / tau - mx);
        for (int k = 0; k < K; k++) {
            double p = exp(((double)x[n * K + k] + (g ? g[n * K + k] : 0.0)) / tau - mx) / sum;
            ysoft[n * K + k] = (float)p;
            y[n * K + k] = hard ? (k == am ? 1.0f : 0.0f) : (float)p;
        }
    }
}

void ops_gumbel_softmax_backward_ref(float *dx, const float *dy, const float *ysoft, int64_t N, int K, float tau) {
    for (int64_t n = 0; n < N; n++) {
        double dot = 0.0;
        for (int k = 0; k < K; k++) dot += (double)dy[n * K + k] * ysoft[n * K + k];
        for (int k = 0; k < K; k++) dx[n * K + k] += (float)(ysoft[n * K + k] * (dy[n * K + k] - dot) / tau);
    }
}
