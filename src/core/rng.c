/* xoshiro256** (Blackman & Vigna) seeded with splitmix64. */
#include "core/core.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mgsd_rng_seed(mgsd_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

void mgsd_rng_split(mgsd_rng *r, uint64_t stream, mgsd_rng *out) {
    uint64_t x = mgsd_rng_u64(r) ^ (stream * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++) out->s[i] = splitmix64(&x);
}

uint64_t mgsd_rng_u64(mgsd_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t mgsd_rng_u32(mgsd_rng *r) { return (uint32_t)(mgsd_rng_u64(r) >> 32); }

float mgsd_rng_uniform(mgsd_rng *r) { return (float)(mgsd_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

double mgsd_rng_uniform_d(mgsd_rng *r) { return (double)(mgsd_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

uint64_t mgsd_rng_below(mgsd_rng *r, uint64_t n) {
    /* Lemire's nearly-divisionless method on 64 bits via 128-bit product. */
    uint64_t x = mgsd_rng_u64(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = mgsd_rng_u64(r);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

float mgsd_rng_normal(mgsd_rng *r) {
    double u1 = mgsd_rng_uniform_d(r);
    double u2 = mgsd_rng_uniform_d(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void mgsd_rng_shuffle_i32(mgsd_rng *r, int32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)mgsd_rng_below(r, i);
        int32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
