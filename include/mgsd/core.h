/* mgsd core: status codes, error messages, random numbers, threads.
 *
 * Every library function that can fail returns an mgsd_status. On failure it also
 * leaves a human-readable message (naming file, line, key, shape ... as relevant) that
 * mgsd_last_error() returns for the calling thread. The library never prints or exits. */
#ifndef MGSD_CORE_H
#define MGSD_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro table: name, default message. */
#define MGSD_STATUS_TABLE(X)                                           \
    X(MGSD_OK, "success")                                              \
    X(MGSD_ERR_INVALID_ARG, "invalid argument")                        \
    X(MGSD_ERR_SHAPE, "shape mismatch")                                \
    X(MGSD_ERR_NOMEM, "out of memory")                                 \
    X(MGSD_ERR_IO, "input/output error")                               \
    X(MGSD_ERR_PARSE, "malformed input")                               \
    X(MGSD_ERR_FORMAT, "unsupported or corrupt file format")           \
    X(MGSD_ERR_NOT_FOUND, "not found")                                 \
    X(MGSD_ERR_EMPTY, "empty input")                                   \
    X(MGSD_ERR_CONFIG, "invalid configuration")                        \
    X(MGSD_ERR_NUMERIC, "numerical error (NaN or Inf)")                \
    X(MGSD_ERR_UNSUPPORTED, "unsupported operation")                   \
    X(MGSD_ERR_INTERRUPTED, "interrupted")                             \
    X(MGSD_ERR_INTERNAL, "internal error")

typedef enum mgsd_status {
#define MGSD_X_ENUM(name, msg) name,
    MGSD_STATUS_TABLE(MGSD_X_ENUM)
#undef MGSD_X_ENUM
    MGSD_STATUS_COUNT
} mgsd_status;

/* Fixed description of a status code ("out of memory"). Never NULL. */
const char *mgsd_strerror(mgsd_status s);
/* Name of a status code ("MGSD_ERR_NOMEM"). Never NULL. */
const char *mgsd_status_name(mgsd_status s);
/* The detailed message of the last failure on this thread ("" if none). */
const char *mgsd_last_error(void);
/* Forget the last message. */
void mgsd_clear_error(void);

/* ---- random numbers ----------------------------------------------------------
 * xoshiro256** seeded through splitmix64. State is explicit: there is no global RNG,
 * so a seed fixes every random choice of whoever holds the state. */
typedef struct mgsd_rng {
    uint64_t s[4];
} mgsd_rng;

void mgsd_rng_seed(mgsd_rng *r, uint64_t seed);
/* Derive an independent stream (e.g. one per thread or per purpose). */
void mgsd_rng_split(mgsd_rng *r, uint64_t stream, mgsd_rng *out);
uint64_t mgsd_rng_u64(mgsd_rng *r);
uint32_t mgsd_rng_u32(mgsd_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float mgsd_rng_uniform(mgsd_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double mgsd_rng_uniform_d(mgsd_rng *r);
/* Uniform integer in [0, n), unbiased (Lemire). n must be > 0. */
uint64_t mgsd_rng_below(mgsd_rng *r, uint64_t n);
/* Standard normal (Box-Muller, no cached second value, so the stream is stateless). */
float mgsd_rng_normal(mgsd_rng *r);
/* Fisher-Yates shuffle of n int32 values. */
void mgsd_rng_shuffle_i32(mgsd_rng *r, int32_t *a, size_t n);

/* ---- threads -------------------------------------------------------------------
 * One knob for both OpenMP and the matrix-product library. n <= 0 means "all cores".
 * Signals: with the oneDNN backend (up to oneDNN 3.11), no signal handler may run on a
 * thread that is inside a library call: oneDNN's sgemm kernels point the stack pointer
 * into the heap, and the handler's frame corrupts it (oneDNN issue 4845). Block handled
 * signals in the computing threads (OpenMP workers inherit the creating thread's mask)
 * and take them with sigwait in a thread of your own, as `mgsd train` does, or give the
 * handler an alternate stack (sigaltstack, SA_ONSTACK). */
mgsd_status mgsd_set_num_threads(int n);
int mgsd_get_num_threads(void);

/* ---- denormal floats -----------------------------------------------------------
 * Flush denormal (subnormal) floats to zero, as inputs and as results, on the calling
 * thread and the OpenMP workers (x86 MXCSR FTZ+DAZ, AArch64 FPCR.FZ). Without it, an
 * operation on a denormal takes a slow microcode path on x86. Late in training many values
 * underflow (in one epoch-28 Beauty checkpoint, 237k of the 3.2M Adam first moments were
 * denormal) and an MGSD step ran 1.7x slower: 0.608 s against 0.364 s flushed. The trainer
 * and the CLI turn it on (config key flush_denormals, default true); the library never
 * changes the mode unless asked. MGSD_ERR_UNSUPPORTED when on is asked on a CPU without
 * such a mode. mgsd_get_flush_denormals: 1 once turned on, else 0. */
mgsd_status mgsd_set_flush_denormals(int on);
int mgsd_get_flush_denormals(void);

/* ---- allocation accounting --------------------------------------------------------
 * Number of heap allocations the library has made (mgsd_malloc / arena growth).
 * Benchmarks difference it around a training step to prove the step allocates nothing. */
uint64_t mgsd_alloc_count(void);
/* Bytes currently allocated through the library, and the high-water mark. */
size_t mgsd_alloc_bytes(void);
size_t mgsd_alloc_peak_bytes(void);

/* Version string "MAJOR.MINOR.PATCH". */
const char *mgsd_version(void);

#ifdef __cplusplus
}
#endif
#endif
