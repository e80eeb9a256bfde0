/* Minimal test harness: assertion macros that print both values and file:line, a
 * counter of passed/failed checks, and a closing line "N passed, N failed" that CI reads.
 * Each test program includes this once and ends main() with `return test_summary();`. */
#ifndef MGSD_TEST_UTIL_H
#define MGSD_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed_ = 0;
static int test_failed_ = 0;

#define TEST_FAIL_(fmt, ...)                                                   \
    do {                                                                       \
        test_failed_++;                                                        \
        fprintf(stderr, "%s:%d: FAIL: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#define CHECK(cond)                                                  \
    do {                                                             \
        if (cond) test_passed_++;                                    \
        else TEST_FAIL_("%s", #cond);                                \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                        \
    do {                                                                          \
        long long a_ = (long long)(a), b_ = (long long)(b);                       \
        if (a_ == b_) test_passed_++;                                             \
        else TEST_FAIL_("%s == %s: got %lld, expected %lld", #a, #b, a_, b_);     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                 \
        if (fabs(a_ - b_) <= t_ && !isnan(a_) && !isnan(b_)) test_passed_++;           \
        else TEST_FAIL_("%s ~= %s: got %.9g, expected %.9g (tol %.3g)", #a, #b, a_, b_, t_); \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                          \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (a_ && b_ && strcmp(a_, b_) == 0) test_passed_++;                        \
        else TEST_FAIL_("%s == %s: got \"%s\", expected \"%s\"", #a, #b,            \
                        a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
    } while (0)

/* Status check: prints the status name and the library's last error message. */
#define CHECK_STATUS(expr, expected)                                                    \
    do {                                                                                \
        int s_ = (int)(expr), e_ = (int)(expected);                                     \
        if (s_ == e_) test_passed_++;                                                   \
        else TEST_FAIL_("%s: got %s, expected %s (last error: %s)", #expr,              \
                        mgsd_status_name((mgsd_status)s_), mgsd_status_name((mgsd_status)e_), \
                        mgsd_last_error());                                             \
    } while (0)
#define CHECK_OK(expr) CHECK_STATUS(expr, MGSD_OK)

/* Substring check for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                   \
    do {                                                                              \
        const char *h_ = (hay), *n_ = (needle);                                       \
        if (h_ && n_ && strstr(h_, n_)) test_passed_++;                               \
        else TEST_FAIL_("\"%s\" should contain \"%s\"", h_ ? h_ : "(null)", n_);      \
    } while (0)

/* Worst |got - want| / (atol + rtol |want|) over n elements; <= 1 passes. */
static inline double worst_ratio(const float *got, const float *want, int64_t n, double atol, double rtol) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d == 0) continue;
        double r = d / (atol + rtol * fabs((double)want[i])); /* +Inf when an exact match was required */
        if (!(r <= w)) w = r; /* NaN propagates as a failure */
    }
    return w;
}

#define CHECK_CLOSE(what, got, want, n, atol, rtol)                                                    \
    do {                                                                                               \
        double r_ = worst_ratio(got, want, n, atol, rtol);                                             \
        if (r_ <= 1.0) test_passed_++;                                                                 \
        else TEST_FAIL_("%s: worst |diff| / (%g + %g |ref|) = %.3g", what, (double)(atol), (double)(rtol), r_); \
    } while (0)

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", test_passed_, test_failed_);
    return test_failed_ ? 1 : 0;
}

/* True when the tests run under sanitizers / in quick mode (smaller sizes). */
static inline int test_quick(void) {
    const char *q = getenv("MGSD_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

#endif
