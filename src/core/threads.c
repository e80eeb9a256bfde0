/* One thread-count knob for OpenMP and the matrix-product library. */
#include "core/core.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#include "ops/blas.h"
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

static int n_threads = 0;
static int flush_denormals = -1; /* -1: never set, the host's floating-point mode is left alone */

/* Flush-to-zero (results) and denormals-are-zero (inputs) on the calling thread. */
static int fp_flush_here(int on) {
#if defined(__x86_64__) || defined(__i386__)
    const unsigned bits = 0x8040u; /* MXCSR FTZ (bit 15) | DAZ (bit 6) */
    unsigned c = _mm_getcsr();
    _mm_setcsr(on ? (c | bits) : (c & ~bits));
    return 1;
#elif defined(__aarch64__)
    unsigned long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? (fpcr | (1ul << 24)) : (fpcr & ~(1ul << 24)); /* FZ: flush inputs and results */
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
    return 1;
#else
    (void)on;
    return 0;
#endif
}

/* The calling thread and every OpenMP worker of a team of mgsd_get_num_threads() (the
 * matrix-product library runs on the same OpenMP pool). Threads created later are cloned
 * from the calling thread and inherit its mode. */
static int fp_flush_all(int on) {
    int ok = fp_flush_here(on);
#ifdef _OPENMP
    int nt = mgsd_get_num_threads();
#pragma omp parallel num_threads(nt)
    fp_flush_here(on);
#endif
    return ok;
}

mgsd_status mgsd_set_flush_denormals(int on) {
    on = on != 0;
    if (!fp_flush_all(on) && on)
        return mgsd_error(MGSD_ERR_UNSUPPORTED, "flush_denormals: no flush-to-zero mode on this CPU architecture");
    flush_denormals = on;
    return MGSD_OK;
}

int mgsd_get_flush_denormals(void) { return flush_denormals > 0; }

mgsd_status mgsd_set_num_threads(int n) {
    if (n > 4096) return mgsd_error(MGSD_ERR_INVALID_ARG, "num_threads=%d is absurd (max 4096)", n);
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    n_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    ops_blas_set_threads(n);
    if (flush_denormals >= 0) fp_flush_all(flush_denormals); /* a larger team has new workers */
    return MGSD_OK;
}

int mgsd_get_num_threads(void) {
    if (n_threads > 0) return n_threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
