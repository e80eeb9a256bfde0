/* One thread-count knob for OpenMP and the matrix-product library. */
#include "core/core.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#include "ops/blas.h"
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
    ops_blas_set_threads(n);
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
