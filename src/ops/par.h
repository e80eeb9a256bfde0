/* OpenMP helpers shared by the kernels of src/ops: one size threshold below which loops
 * stay serial (thread start-up costs more than it saves), and a pragma macro that
 * disappears cleanly when the library is built without OpenMP. */
#ifndef MGSD_OPS_PAR_H
#define MGSD_OPS_PAR_H

/* Elements of work below which a kernel runs serially. */
#define OPS_PAR_MIN 32768

#define OPS_PRAGMA_(x) _Pragma(#x)
#ifdef _OPENMP
#include <omp.h>
/* Parallel for over the next loop when `work` (elements touched) is large. */
#define OPS_PAR_FOR(work) OPS_PRAGMA_(omp parallel for schedule(static) if ((work) > OPS_PAR_MIN))
static inline int ops_max_threads(void) { return omp_get_max_threads(); }
#else
#define OPS_PAR_FOR(work)
static inline int ops_max_threads(void) { return 1; }
#endif

#endif
