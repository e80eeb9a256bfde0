/* Internal core helpers shared by every module: error reporting, checked allocation,
 * the activation arena, asserts, timing. Not part of the public API. */
#ifndef MGSD_SRC_CORE_H
#define MGSD_SRC_CORE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "mgsd/core.h"

/* Record a failure: stores the formatted message for mgsd_last_error() and returns s,
 * so that a function can `return mgsd_error(MGSD_ERR_SHAPE, "x has %d cols", n);`. */
mgsd_status mgsd_error(mgsd_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Propagate a failing status unchanged. */
#define MGSD_TRY(expr)                          \
    do {                                        \
        mgsd_status mgsd_try_s_ = (expr);       \
        if (mgsd_try_s_ != MGSD_OK) return mgsd_try_s_; \
    } while (0)

/* Argument check: returns MGSD_ERR_INVALID_ARG naming the function and condition. */
#define MGSD_CHECK_ARG(cond)                                                        \
    do {                                                                            \
        if (!(cond)) return mgsd_error(MGSD_ERR_INVALID_ARG, "%s: invalid argument: %s", \
                                       __func__, #cond);                            \
    } while (0)

/* Internal invariant. Violations are bugs: report file:line through the error slot and
 * abort (only in this case does the library stop the process). */
void mgsd_assert_fail(const char *file, int line, const char *cond);
#define MGSD_ASSERT(cond) \
    do { if (!(cond)) mgsd_assert_fail(__FILE__, __LINE__, #cond); } while (0)

/* Checked, counted allocation. On failure they set the error message and return NULL.
 * mgsd_free accepts NULL. Memory is 64-byte aligned. */
void *mgsd_malloc(size_t bytes);
/* The most bytes mgsd's counted allocations may hold at once. An allocation beyond it fails
 * with MGSD_ERR_NOMEM and a message giving both sizes, where the kernel would otherwise
 * hand out the memory lazily and kill the process once it is touched. 0 restores the
 * default: 90% of the memory available (MemAvailable) when first asked (measured once per
 * process), or the cgroup's limit where that is lower. */
void mgsd_set_memory_limit(size_t bytes);
size_t mgsd_memory_limit(void);
/* A size for messages: "1.5 GiB", "12 MiB", "3 KiB", "100 bytes" (3 significant digits). */
const char *mgsd_format_bytes(char buf[32], double bytes);
void *mgsd_calloc(size_t n, size_t size);
void *mgsd_realloc(void *p, size_t bytes);
void mgsd_free(void *p);
char *mgsd_strdup(const char *s);

/* Arena for per-step activations: bump allocation from chained blocks, reset() makes
 * everything reusable without freeing. After the first step of a fixed-shape workload
 * the arena has grown to its high-water mark and allocates nothing more. Memory from
 * mgsd_arena_alloc is 64-byte aligned and NOT zeroed (mgsd_arena_calloc zeroes). */
typedef struct mgsd_arena_block mgsd_arena_block;
typedef struct mgsd_arena {
    mgsd_arena_block *head;    /* block currently allocated from */
    mgsd_arena_block *first;   /* chain start */
    size_t block_size;         /* minimum size of a new block */
    size_t used;               /* bytes handed out since the last reset */
    size_t peak;               /* high-water mark of `used` */
} mgsd_arena;

void mgsd_arena_init(mgsd_arena *a, size_t block_size);
void *mgsd_arena_alloc(mgsd_arena *a, size_t bytes);
void *mgsd_arena_calloc(mgsd_arena *a, size_t bytes);
void mgsd_arena_reset(mgsd_arena *a);
/* Merge all blocks into one of the high-water size so the next step is contiguous. */
mgsd_status mgsd_arena_consolidate(mgsd_arena *a);
void mgsd_arena_free(mgsd_arena *a);
/* Save/restore points for temporary scratch inside a step. */
typedef struct { mgsd_arena_block *block; size_t off; size_t used; } mgsd_arena_mark;
mgsd_arena_mark mgsd_arena_get_mark(const mgsd_arena *a);
void mgsd_arena_set_mark(mgsd_arena *a, mgsd_arena_mark m);

/* The whole of a file into a NUL-terminated buffer (*out, free with mgsd_free; *out_len bytes
 * before the NUL). Errors name the file: "PATH: cannot open WHAT: reason", read errors. */
mgsd_status mgsd_read_file(const char *path, const char *what, char **out, size_t *out_len);

/* Output files that appear whole or not at all: writes go to PATH.tmp.XXXXXX beside PATH
 * (same filesystem), commit flushes, closes and renames it over PATH; abort (or a failed
 * commit) removes it, so a crash or an error never leaves a half-written PATH. */
typedef struct mgsd_afile {
    FILE *f; /* write here between open and commit */
    char *path, *tmp;
} mgsd_afile;
mgsd_status mgsd_afile_open(mgsd_afile *a, const char *path);
mgsd_status mgsd_afile_commit(mgsd_afile *a);
void mgsd_afile_abort(mgsd_afile *a); /* safe on a zeroed, aborted or committed mgsd_afile */
/* The whole of data[0..len-1] to path through an mgsd_afile. */
mgsd_status mgsd_write_file_atomic(const char *path, const void *data, size_t len);

/* Monotonic wall-clock seconds. */
double mgsd_now(void);
/* Peak resident set size of the process in bytes (0 if unknown). */
size_t mgsd_peak_rss(void);

#endif
