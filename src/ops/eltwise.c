/* Element-wise kernels: broadcast binary ops, affine scale, activations, dropout.
 * See eltwise.h for shapes and contracts. */
#include "ops/eltwise.h"

#include <math.h>
#include <string.h>

#include "ops/fastmath.h"
#include "ops/par.h"

/* ---- binary with suffix broadcasting ------------------------------------------------ */

void ops_binary_forward_ref(ops_binary_kind k, float *y, const float *a, const float *b, int64_t R, int64_t S) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < S; j++) {
            float av = a[r * S + j], bv = b[j], v;
            switch (k) {
            case OPS_BIN_ADD: v = av + bv; break;
            case OPS_BIN_SUB: v = av - bv; break;
            case OPS_BIN_MUL: v = av * bv; break;
            default: v = (av - bv) * (av - bv); break;
            }
            y[r * S + j] = v;
        }
}

void ops_binary_backward_ref(ops_binary_kind k, float *da, float *db, const float *dy, const float *a,
                             const float *b, int64_t R, int64_t S) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < S; j++) {
            float g = dy[r * S + j], av = a[r * S + j], bv = b[j], ga, gb;
            switch (k) {
            case OPS_BIN_ADD: ga = g; gb = g; break;
            case OPS_BIN_SUB: ga = g; gb = -g; break;
            case OPS_BIN_MUL: ga = g * bv; gb = g * av; break;
            default: ga = 2.0f * (av - bv) * g; gb = -ga; break;
            }
            if (da) da[r * S + j] += ga;
            if (db) db[j] += gb;
        }
}

void ops_binary_forward(ops_binary_kind k, float *y, const float *a, const float *b, int64_t R, int64_t S) {
    OPS_PAR_FOR(R * S)
    for (int64_t r = 0; r < R; r++) {
        float *restrict yr = y + r * S;
        const float *restrict ar = a + r * S;
        const float *restrict bb = b;
        switch (k) {
        case OPS_BIN_ADD: for (int64_t j = 0; j < S; j++) yr[j] = ar[j] + bb[j]; break;
        case OPS_BIN_SUB: for (int64_t j = 0; j < S; j++) yr[j] = ar[j] - bb[j]; break;
        case OPS_BIN_MUL: for (int64_t j = 0; j < S; j++) yr[j] = ar[j] * bb[j]; break;
        default:
            for (int64_t j = 0; j < S; j++) {
                float d = ar[j] - bb[j];
                yr[j] = d * d;
            }
            break;
        }
    }
}

/* db[j0:j1] += sum over rows of the b-gradient of columns j0..j1-1. */
static void binary_db_cols(ops_binary_kind k, float *restrict db, const float *restrict dy, const float *restrict a,
                           const float *restrict b, int64_t R, int64_t S, int64_t j0, int64_t j1) {
    for (int64_t r = 0; r < R; r++) {
        const float *restrict g = dy + r * S;
        const float *restrict ar = a + r * S;
        switch (k) {
        case OPS_BIN_ADD: for (int64_t j = j0; j < j1; j++) db[j] += g[j]; break;
        case OPS_BIN_SUB: for (int64_t j = j0; j < j1; j++) db[j] -= g[j]; break;
        case OPS_BIN_MUL: for (int64_t j = j0; j < j1; j++) db[j] += g[j] * ar[j]; break;
        default: for (int64_t j = j0; j < j1; j++) db[j] -= 2.0f * (ar[j] - b[j]) * g[j]; break;
        }
    }
}

void ops_binary_backward(ops_binary_kind k, float *da, float *db, const float *dy, const float *a, const float *b,
                         int64_t R, int64_t S) {
    if (da) {
        OPS_PAR_FOR(R * S)
        for (int64_t r = 0; r < R; r++) {
            float *restrict dar = da + r * S;
            const float *restrict g = dy + r * S;
            const float *restrict ar = a + r * S;
            const float *restrict bb = b;
            switch (k) {
            case OPS_BIN_ADD:
            case OPS_BIN_SUB: for (int64_t j = 0; j < S; j++) dar[j] += g[j]; break;
            case OPS_BIN_MUL: for (int64_t j = 0; j < S; j++) dar[j] += g[j] * bb[j]; break;
            default: for (int64_t j = 0; j < S; j++) dar[j] += 2.0f * (ar[j] - bb[j]) * g[j]; break;
            }
        }
    }
    if (db) {
        /* Column blocks of 16 floats (one cache line) per thread: each thread owns its part
         * of db, so the reduction over rows needs no atomics and is deterministic. */
        int64_t nblk = (S + 15) / 16;
        OPS_PAR_FOR(R * S)
        for (int64_t blk = 0; blk < nblk; blk++) {
            int64_t j0 = blk * 16, j1 = j0 + 16 < S ? j0 + 16 : S;
            binary_db_cols(k, db, dy, a, b, R, S, j0, j1);
        }
    }
}

/* ---- scale -------------------------------------------------------------------------- */

void ops_scale_forward(float *y, const float *x, float alpha, float beta, int64_t n) {
    OPS_PAR_FOR(n)
    for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta;
}

void ops_scale_backward(float *dx, const float *dy, float alpha, int64_t n) {
    OPS_PAR_FOR(n)
    for (int64_t i = 0; i < n; i++) dx[i] += alpha * dy[i];
}

/* ---- activations -------------------------------------------------------------------- */

float ops_erf_fast(float x) { return ops_fast_erf(x); }
float ops_exp_fast(float x) { return ops_fast_exp(x); }

#define GELU_RSQRT2 0.70710678118654752f
#define GELU_RSQRT2PI 0.39894228040143268f

static inline float unary_f(ops_unary_kind k, float x) {
    switch (k) {
    case OPS_UN_RELU: return x > 0.0f ? x : 0.0f;
    case OPS_UN_GELU: return 0.5f * x * (1.0f + erff(x * GELU_RSQRT2));
    case OPS_UN_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case OPS_UN_EXP: return expf(x);
    case OPS_UN_LOG: return logf(x > OPS_LOG_MIN ? x : OPS_LOG_MIN);
    default: return tanhf(x);
    }
}

/* d f / d x, from the input x and the output y. */
static inline float unary_df(ops_unary_kind k, float x, float y) {
    switch (k) {
    case OPS_UN_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case OPS_UN_GELU: return 0.5f * (1.0f + erff(x * GELU_RSQRT2)) + x * GELU_RSQRT2PI * expf(-0.5f * x * x);
    case OPS_UN_SIGMOID: return y * (1.0f - y);
    case OPS_UN_EXP: return y;
    case OPS_UN_LOG: return x > OPS_LOG_MIN ? 1.0f / x : 0.0f;
    default: return 1.0f - y * y;
    }
}

void ops_unary_forward_ref(ops_unary_kind k, float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = unary_f(k, x[i]);
}

void ops_unary_backward_ref(ops_unary_kind k, float *dx, const float *dy, const float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * unary_df(k, x[i], y[i]);
}

/* The optimised versions hoist the switch out of the loop so that each loop body is
 * branch-free (selects, not jumps) and vectorises; the transcendental ones are bounded by
 * libm and get threads for large arrays (a cheap loop would only be memory-bound). */
#define UNARY_LOOP(n, body)                       \
    do {                                          \
        OPS_PAR_FOR(n)                            \
        for (int64_t i = 0; i < (n); i++) { body; } \
    } while (0)

void ops_unary_forward(ops_unary_kind k, float *y, const float *x, int64_t n) {
    float *restrict yy = y;
    const float *restrict xx = x;
    switch (k) {
    case OPS_UN_RELU: UNARY_LOOP(n, yy[i] = xx[i] > 0.0f ? xx[i] : 0.0f); break;
    case OPS_UN_GELU: UNARY_LOOP(n, yy[i] = 0.5f * xx[i] * (1.0f + ops_fast_erf(xx[i] * GELU_RSQRT2))); break;
    case OPS_UN_SIGMOID: UNARY_LOOP(n, yy[i] = 1.0f / (1.0f + expf(-xx[i]))); break;
    case OPS_UN_EXP: UNARY_LOOP(n, yy[i] = expf(xx[i])); break;
    case OPS_UN_LOG: UNARY_LOOP(n, yy[i] = logf(xx[i] > OPS_LOG_MIN ? xx[i] : OPS_LOG_MIN)); break;
    default: UNARY_LOOP(n, yy[i] = tanhf(xx[i])); break;
    }
}

void ops_unary_backward(ops_unary_kind k, float *dx, const float *dy, const float *x, const float *y, int64_t n) {
    float *restrict d = dx;
    const float *restrict g = dy, *restrict xx = x, *restrict yy = y;
    switch (k) {
    case OPS_UN_RELU: UNARY_LOOP(n, d[i] += xx[i] > 0.0f ? g[i] : 0.0f); break;
    case OPS_UN_GELU:
        UNARY_LOOP(n, d[i] += g[i] * (0.5f * (1.0f + ops_fast_erf(xx[i] * GELU_RSQRT2)) +
                                      xx[i] * GELU_RSQRT2PI * ops_fast_exp(-0.5f * xx[i] * xx[i])));
        break;
    case OPS_UN_SIGMOID: UNARY_LOOP(n, d[i] += g[i] * yy[i] * (1.0f - yy[i])); break;
    case OPS_UN_EXP: UNARY_LOOP(n, d[i] += g[i] * yy[i]); break;
    case OPS_UN_LOG: UNARY_LOOP(n, d[i] += xx[i] > OPS_LOG_MIN ? g[i] / xx[i] : 0.0f); break;
    default: UNARY_LOOP(n, d[i] += g[i] * (1.0f - yy[i] * yy[i])); break;
    }
}

/* ---- dropout ------------------------------------------------------------------------ */

uint32_t ops_dropout_threshold(float p) {
    double t = (double)p * 4294967296.0 + 0.5;
    return t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
}

/* Bits set where a 32-bit uniform U (one per lane) is >= thr, i.e. the element is kept.
 * Lane-parallel comparison from the most significant bit: a lane is decided at the first
 * bit where its U differs from thr; once the remaining bits of thr are zero every
 * undecided lane has U >= thr. Same distribution as comparing 64 independent uniforms. */
uint64_t ops_dropout_keep_word(mgsd_rng *r, uint32_t thr) {
    uint64_t lt = 0, undecided = ~(uint64_t)0;
    if (thr == 0) return undecided;
    for (int i = 31; i >= 0; i--) {
        uint64_t u = mgsd_rng_u64(r);
        if ((thr >> i) & 1u) {
            lt |= undecided & ~u;
            undecided &= u;
        } else {
            undecided &= ~u;
        }
        if (!undecided || (thr & ((1u << i) - 1u)) == 0) break;
    }
    return ~lt;
}

static void dropout_apply(float *restrict y, const float *restrict x, const uint64_t *restrict mask, int64_t n,
                          float scale) {
    int64_t nw = (n + 63) / 64;
    OPS_PAR_FOR(n)
    for (int64_t w = 0; w < nw; w++) {
        uint64_t m = mask[w];
        int64_t base = w * 64, len = n - base < 64 ? n - base : 64;
        for (int64_t j = 0; j < len; j++) y[base + j] = x[base + j] * (scale * (float)((m >> j) & 1u));
    }
}

void ops_dropout_forward(float *y, uint64_t *mask, const float *x, int64_t n, float p, mgsd_rng *rng) {
    uint32_t thr = ops_dropout_threshold(p);
    int64_t nw = (n + 63) / 64;
    mgsd_rng r = *rng;
    for (int64_t w = 0; w < nw; w++) mask[w] = ops_dropout_keep_word(&r, thr);
    *rng = r;
    dropout_apply(y, x, mask, n, 1.0f / (1.0f - p));
}

void ops_dropout_forward_ref(float *y, uint64_t *mask, const float *x, int64_t n, float p, mgsd_rng *rng) {
    uint32_t thr = ops_dropout_threshold(p);
    float scale = 1.0f / (1.0f - p);
    memset(mask, 0, (size_t)((n + 63) / 64) * sizeof(uint64_t));
    for (int64_t i = 0; i < n; i++) {
        int keep = (uint32_t)(mgsd_rng_u64(rng) >> 32) >= thr;
        if (keep) mask[i / 64] |= (uint64_t)1 << (i % 64);
        y[i] = keep ? x[i] * scale : 0.0f;
    }
}

void ops_dropout_backward(float *dx, const float *dy, const uint64_t *mask, int64_t n, float p) {
    float scale = 1.0f / (1.0f - p);
    int64_t nw = (n + 63) / 64;
    OPS_PAR_FOR(n)
    for (int64_t w = 0; w < nw; w++) {
        uint64_t m = mask[w];
        int64_t base = w * 64, len = n - base < 64 ? n - base : 64;
        for (int64_t j = 0; j < len; j++) dx[base + j] += dy[base + j] * (scale * (float)((m >> j) & 1u));
    }
}
