/* Vectorisable float exponential for the softmax kernels (internal to src/ops).
 *
 * expf() from libm is a scalar call that GCC only vectorises under -ffast-math; the
 * softmax passes over [B, V] score rows (V ~ 12K) would then cost as much as the matrix
 * products around them. This is the Cephes expf algorithm written branch-free so that
 * loops calling it auto-vectorise: x = k ln2 + r, |r| <= ln2/2, exp(r) by a degree-6
 * polynomial, times 2^k built in the exponent bits. Relative error <= 2e-7 on
 * [-87, 88]; inputs below -87 return exactly 0 (softmax of masked scores), inputs
 * above 88 are clamped (never happens after max subtraction). */
#ifndef MGSD_OPS_VEXP_H
#define MGSD_OPS_VEXP_H

#include <stdint.h>

static inline float ops_expf(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float k = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
    float r = xc - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale; /* a union, not memcpy: GCC vectorises it */
    scale.i = ((int32_t)k + 127) << 23;
    float y = p * scale.f;
    return x < -87.0f ? 0.0f : y;
}

#endif
