/* Vectorisable float math shared by the kernels of src/ops (internal header). */
#ifndef MGSD_OPS_FASTMATH_H
#define MGSD_OPS_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* Branch-free float erf and exp that GCC vectorises (libm's erff/expf are scalar calls
 * and made gelu the slowest op of a transformer block: ~13 ns per element).
 * erf: odd/even rational minimax approximation on [-4, 4] (the coefficients Eigen and
 * XLA use for float erf), +-1 outside, where float erf is +-1 anyway.
 * exp: Cephes expf: x = k ln2 + r, |r| <= ln2/2, degree-7 polynomial, times 2^k built in
 * the exponent bits; input clamped to [-87, 88] (exp(-87) ~ 1.6e-38, still normal).
 * Measured against glibc over [-10, 10] by test_ops_dense: max abs error 4e-7 for erf,
 * max relative error 1e-7 for exp. */
static inline float ops_fast_erf(float x) {
    x = x > 4.0f ? 4.0f : (x < -4.0f ? -4.0f : x);
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

static inline float ops_fast_exp(float x) {
    x = x > 88.0f ? 88.0f : (x < -87.0f ? -87.0f : x);
    /* k = round(x / ln2) with the 1.5 * 2^23 magic number (float adds only: a float to
     * int conversion here stops GCC's if-conversion, and the loop would stay scalar). */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float kf = t - 12582912.0f;
    int32_t k;
    memcpy(&k, &t, sizeof k);
    k -= 0x4B400000;
    float r = x - kf * 0.693359375f - kf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (k + 127) << 23; /* k in [-126, 127]: a normal power of two */
    float two_k;
    memcpy(&two_k, &bits, sizeof two_k);
    return p * two_k;
}

/* ops_fast_exp for softmax passes: exactly 0 below -87, so masked (-inf or -1e30) scores
 * get probability 0. */
static inline float ops_fast_exp0(float x) {
    float y = ops_fast_exp(x);
    return x < -87.0f ? 0.0f : y;
}

/* omp simd reductions let GCC reorder float sums/maxima (vectorise) without -ffast-math. */
#define OPS_PRAGMA2_(x) _Pragma(#x)
#ifdef _OPENMP
#define OPS_SIMD_SUM(...) OPS_PRAGMA2_(omp simd reduction(+ : __VA_ARGS__))
#if defined(__clang__) /* clang cannot vectorise an fmaxf reduction and warns */
#define OPS_SIMD_MAX(var)
#else
#define OPS_SIMD_MAX(var) OPS_PRAGMA2_(omp simd reduction(max : var))
#endif
#else
#define OPS_SIMD_SUM(...)
#define OPS_SIMD_MAX(var)
#endif

#endif
