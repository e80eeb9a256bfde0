/* Fused softmax cross-entropy and full-ranking scores (see xent.h).
 * Cost model: three [B,C]x[C,V]-sized products (forward scores, du, dE) in BLAS plus one
 * row pass of the softmax, vectorised through ops_fast_exp0 and parallel over rows. */
#include "ops/xent.h"

#include <math.h>

#include "ops/matmul.h"
#include "ops/fastmath.h"

void ops_scores(float *scores, const float *u, const float *E, int B, int C, int V) {
    ops_gemm(0, 1, B, V, C, 1.0f, u, E, 0.0f, scores);
}

double ops_softmax_xent_forward(float *G, const float *u, const float *E, const int32_t *targets, int B, int C,
                                int V, int exclude0) {
    ops_gemm(0, 1, B, V, C, 1.0f, u, E, 0.0f, G);
    const float invB = 1.0f / (float)B;
    double loss = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : loss)
    for (int b = 0; b < B; b++) {
        float *g = G + (int64_t)b * V;
        if (exclude0) g[0] = -INFINITY;
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int v = 0; v < V; v++) mx = g[v] > mx ? g[v] : mx;
        float st = g[targets[b]];
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int v = 0; v < V; v++) {
            float e = ops_fast_exp0(g[v] - mx);
            g[v] = e;
            sum += e;
        }
        float sc = invB / sum;
#pragma omp simd
        for (int v = 0; v < V; v++) g[v] *= sc;
        g[targets[b]] -= invB;
        loss += (double)mx + log((double)sum) - (double)st;
    }
    return loss / B;
}

void ops_softmax_xent_backward(float *du, float *dE, const float *G, const float *u, const float *E, float dloss,
                               int B, int C, int V) {
    if (du) ops_gemm(0, 0, B, C, V, dloss, G, E, 1.0f, du); /* [B,V].[V,C] */
    if (dE) ops_gemm(1, 0, V, C, B, dloss, G, u, 1.0f, dE); /* [V,B].[B,C] */
}

double ops_softmax_xent_forward_ref(float *G, const float *u, const float *E, const int32_t *targets, int B, int C,
                                    int V, int exclude0) {
    double loss = 0.0;
    for (int b = 0; b < B; b++) {
        float *g = G + (int64_t)b * V;
        double mx = -INFINITY, sum = 0.0, st = 0.0;
        for (int v = 0; v < V; v++) {
            double s = 0.0;
            for (int c = 0; c < C; c++) s += (double)u[(int64_t)b * C + c] * E[(int64_t)v * C + c];
            if (exclude0 && v == 0) s = -INFINITY;
            g[v] = (float)s;
            if (s > mx) mx = s;
            if (v == targets[b]) st = s;
        }
        for (int v = 0; v < V; v++) sum += exp((double)g[v] - mx);
        for (int v = 0; v < V; v++) g[v] = (float)((exp((double)g[v] - mx) / sum - (v == targets[b])) / B);
        loss += mx + log(sum) - st;
    }
    return loss / B;
}

void ops_softmax_xent_backward_ref(float *du, float *dE, const float *G, const float *u, const float *E,
                                   float dloss, int B, int C, int V) {
    for (int b = 0; b < B; b++)
        for (int v = 0; v < V; v++) {
            float g = dloss * G[(int64_t)b * V + v];
            for (int c = 0; c < C; c++) {
                if (du) du[(int64_t)b * C + c] += g * E[(int64_t)v * C + c];
                if (dE) dE[(int64_t)v * C + c] += g * u[(int64_t)b * C + c];
            }
        }
}
