/* One thread-count knob for OpenMP and OpenBLAS. */
#include "core/core.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef MGSD_HAVE_BLAS
#include <cblas.h>
#endif
#include <unistd.h>

static int n_threads = 0;

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
#ifdef MGSD_HAVE_BLAS
    openblas_set_num_threads(n);
#endif
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
