/* Checked, counted, 64-byte aligned allocation; the per-step arena; timing helpers. */
#include "core/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Each allocation carries a 64-byte header recording its size so that accounting and
 * realloc work without a side table. */
#define HDR 64

static atomic_uint_fast64_t n_allocs;
static atomic_size_t cur_bytes;
static atomic_size_t peak_bytes;

uint64_t mgsd_alloc_count(void) { return atomic_load(&n_allocs); }
size_t mgsd_alloc_bytes(void) { return atomic_load(&cur_bytes); }
size_t mgsd_alloc_peak_bytes(void) { return atomic_load(&peak_bytes); }

static void account(size_t add, size_t sub) {
    size_t now = atomic_fetch_add(&cur_bytes, add) + add;
    atomic_fetch_sub(&cur_bytes, sub);
    now -= sub;
    size_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {
    }
}

/* ---- memory limit ------------------------------------------------------------------ */
static atomic_size_t mem_limit;     /* set by mgsd_set_memory_limit; 0 = the default */
static atomic_size_t default_bytes; /* the default, measured once per process */

static size_t cgroup_limit(void) {
    static const char *const files[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f) continue;
        unsigned long long v = 0;
        int ok = fscanf(f, "%llu", &v) == 1; /* "max" (no limit) does not scan */
        fclose(f);
        if (ok && v > 0) return (size_t)v;
    }
    return 0;
}

/* The kernel's estimate of what can still be allocated without swapping (MemAvailable), in
 * bytes; 0 where /proc/meminfo does not say. */
static size_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[128];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* 90% of the memory available when first asked (the rest for what mgsd's libraries and the
 * system allocate beside it), else the physical memory; the cgroup's limit where lower.
 * Measured once, so that restoring the default mid-run does not move it. */
static size_t default_limit(void) {
    size_t d = atomic_load(&default_bytes);
    if (d) return d;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t lim = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : SIZE_MAX;
    size_t avail = mem_available();
    if (avail) lim = avail / 10 * 9 + atomic_load(&cur_bytes); /* what mgsd holds already counts */
    size_t cg = cgroup_limit();
    if (cg && cg < lim) lim = cg;
    size_t zero = 0;
    return atomic_compare_exchange_strong(&default_bytes, &zero, lim) ? lim : zero; /* or another thread's */
}

void mgsd_set_memory_limit(size_t bytes) { atomic_store(&mem_limit, bytes); }

size_t mgsd_memory_limit(void) {
    size_t l = atomic_load(&mem_limit);
    return l ? l : default_limit();
}

const char *mgsd_format_bytes(char buf[32], double bytes) {
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.3g %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

void *mgsd_malloc(size_t bytes) {
    if (bytes > SIZE_MAX - 2 * HDR) {
        mgsd_error(MGSD_ERR_NOMEM, "allocation of %zu bytes is too large", bytes);
        return NULL;
    }
    size_t limit = mgsd_memory_limit(), held = atomic_load(&cur_bytes);
    if (bytes > limit || held > limit - bytes) {
        char a[32], b[32], c[32];
        mgsd_error(MGSD_ERR_NOMEM,
                   "out of memory: %s more would bring mgsd to %s, above its limit of %s "
                   "(memory_limit; default: 90%% of the memory available at start)",
                   mgsd_format_bytes(a, (double)bytes), mgsd_format_bytes(b, (double)held + (double)bytes),
                   mgsd_format_bytes(c, (double)limit));
        return NULL;
    }
    size_t total = (bytes + HDR + 63) & ~(size_t)63;
    void *raw = aligned_alloc(64, total);
    if (!raw) {
        mgsd_error(MGSD_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    *(size_t *)raw = bytes;
    atomic_fetch_add(&n_allocs, 1);
    account(bytes, 0);
    return (char *)raw + HDR;
}

void *mgsd_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) {
        mgsd_error(MGSD_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = mgsd_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void mgsd_free(void *p) {
    if (!p) return;
    char *raw = (char *)p - HDR;
    account(0, *(size_t *)raw);
    free(raw);
}

void *mgsd_realloc(void *p, size_t bytes) {
    if (!p) return mgsd_malloc(bytes);
    size_t old = *(size_t *)((char *)p - HDR);
    void *q = mgsd_malloc(bytes);
    if (!q) return NULL;
    memcpy(q, p, old < bytes ? old : bytes);
    mgsd_free(p);
    return q;
}

char *mgsd_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mgsd_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- arena ------------------------------------------------------------------------ */
struct mgsd_arena_block {
    mgsd_arena_block *next;
    size_t size; /* usable bytes */
    size_t off;  /* next free byte */
    char *mem;
};

void mgsd_arena_init(mgsd_arena *a, size_t block_size) {
    memset(a, 0, sizeof *a);
    a->block_size = block_size ? block_size : (size_t)1 << 20;
}

static mgsd_arena_block *block_new(size_t size) {
    mgsd_arena_block *b = mgsd_malloc(sizeof *b);
    if (!b) return NULL;
    b->mem = mgsd_malloc(size);
    if (!b->mem) {
        mgsd_free(b);
        return NULL;
    }
    b->next = NULL;
    b->size = size;
    b->off = 0;
    return b;
}

void *mgsd_arena_alloc(mgsd_arena *a, size_t bytes) {
    size_t need = (bytes + 63) & ~(size_t)63;
    if (need == 0) need = 64;
    mgsd_arena_block *b = a->head;
    /* Walk forward through already-allocated blocks (kept after reset). */
    while (b && b->off + need > b->size) {
        if (!b->next) break;
        b = b->next;
        b->off = 0;
    }
    if (!b || b->off + need > b->size) {
        size_t sz = need > a->block_size ? need : a->block_size;
        mgsd_arena_block *nb = block_new(sz);
        if (!nb) return NULL;
        if (b) {
            nb->next = b->next;
            b->next = nb;
        } else {
            a->first = nb;
        }
        b = nb;
    }
    a->head = b;
    void *p = b->mem + b->off;
    b->off += need;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void *mgsd_arena_calloc(mgsd_arena *a, size_t bytes) {
    void *p = mgsd_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void mgsd_arena_reset(mgsd_arena *a) {
    a->head = a->first;
    if (a->first) a->first->off = 0;
    a->used = 0;
}

mgsd_status mgsd_arena_consolidate(mgsd_arena *a) {
    if (!a->first || !a->first->next) {
        mgsd_arena_reset(a);
        return MGSD_OK;
    }
    /* One block for the high-water mark plus 25% headroom: a later step somewhat larger
     * than any seen so far (batches vary in token count) still fits, so the block is
     * reallocated (and its pages touched afresh) rarely. */
    size_t total = 0;
    for (mgsd_arena_block *b = a->first; b; b = b->next) total += b->size;
    if (a->peak + a->peak / 4 > total) total = a->peak + a->peak / 4;
    mgsd_arena_block *nb = block_new(total);
    if (!nb) return MGSD_ERR_NOMEM;
    size_t bs = a->block_size, peak = a->peak;
    mgsd_arena_free(a);
    mgsd_arena_init(a, bs);
    a->first = a->head = nb;
    a->peak = peak;
    return MGSD_OK;
}

void mgsd_arena_free(mgsd_arena *a) {
    mgsd_arena_block *b = a->first;
    while (b) {
        mgsd_arena_block *n = b->next;
        mgsd_free(b->mem);
        mgsd_free(b);
        b = n;
    }
    a->first = a->head = NULL;
    a->used = 0;
}

mgsd_arena_mark mgsd_arena_get_mark(const mgsd_arena *a) {
    mgsd_arena_mark m = {a->head, a->head ? a->head->off : 0, a->used};
    return m;
}

void mgsd_arena_set_mark(mgsd_arena *a, mgsd_arena_mark m) {
    if (!m.block) {
        mgsd_arena_reset(a);
        return;
    }
    a->head = m.block;
    m.block->off = m.off;
    a->used = m.used;
}

/* ---- timing ------------------------------------------------------------------------ */
double mgsd_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t mgsd_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}
