/* Core: status table, error messages, allocation accounting, arena reuse, RNG, threads,
 * flush-to-zero mode, atomic output files. */
#include "core/core.h"
#include "test_util.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static mgsd_status fails_with_shape(int n) {
    if (n != 3) return mgsd_error(MGSD_ERR_SHAPE, "x has %d columns, expected 3", n);
    return MGSD_OK;
}

static mgsd_status checks_arg(const float *p) {
    MGSD_CHECK_ARG(p != NULL);
    return MGSD_OK;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

static void test_afile(void) {
    char dir[] = "/tmp/mgsd_afile.XXXXXX", path[64], text[16] = {0};
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/out.tsv", dir);
    mgsd_afile a;
    CHECK_OK(mgsd_afile_open(&a, path));
    fputs("half", a.f);
    fflush(a.f);
    CHECK(access(path, F_OK) != 0); /* nothing at PATH while writing */
    CHECK_INT_EQ(count_prefixed(dir, "out.tsv.tmp."), 1);
    mgsd_afile_abort(&a);
    CHECK(access(path, F_OK) != 0);
    CHECK_INT_EQ(count_prefixed(dir, "out.tsv"), 0);
    mgsd_afile_abort(&a); /* twice is harmless */
    CHECK_OK(mgsd_afile_open(&a, path));
    fputs("whole\n", a.f);
    CHECK_OK(mgsd_afile_commit(&a));
    FILE *f = fopen(path, "r");
    CHECK(f && fgets(text, sizeof text, f));
    if (f) fclose(f);
    CHECK_STR_EQ(text, "whole\n");
    CHECK_INT_EQ(count_prefixed(dir, "out.tsv"), 1); /* no temporary left */
    CHECK_OK(mgsd_write_file_atomic(path, "new", 3));
    f = fopen(path, "r");
    memset(text, 0, sizeof text);
    CHECK(f && fgets(text, sizeof text, f));
    if (f) fclose(f);
    CHECK_STR_EQ(text, "new");
    /* mgsd_read_file: the whole file, NUL-terminated, through buffer growth (8192 -> 32768) */
    size_t big = 20000;
    char *data = malloc(big), *got = NULL;
    size_t got_len = 0;
    for (size_t i = 0; data && i < big; i++) data[i] = (char)('a' + i % 26);
    CHECK_OK(mgsd_write_file_atomic(path, data, big));
    CHECK_OK(mgsd_read_file(path, "test file", &got, &got_len));
    CHECK_INT_EQ(got_len, big);
    CHECK(got && data && !memcmp(got, data, big) && got[big] == '\0');
    mgsd_free(got);
    free(data);
    CHECK_OK(mgsd_write_file_atomic(path, "", 0));
    CHECK_OK(mgsd_read_file(path, "test file", &got, &got_len));
    CHECK(got_len == 0 && got && got[0] == '\0');
    mgsd_free(got);
    char missing[96];
    snprintf(missing, sizeof missing, "%s/no/such/out.tsv", dir);
    CHECK_STATUS(mgsd_afile_open(&a, missing), MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "no/such/out.tsv");
    CHECK_STATUS(mgsd_read_file(missing, "test file", &got, &got_len), MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "no/such/out.tsv: cannot open test file");
    remove(path);
    rmdir(dir);
}

int main(void) {
    test_afile();
    /* status table */
    CHECK_STR_EQ(mgsd_strerror(MGSD_OK), "success");
    CHECK_STR_EQ(mgsd_status_name(MGSD_ERR_NOMEM), "MGSD_ERR_NOMEM");
    CHECK_STR_EQ(mgsd_strerror((mgsd_status)999), "unknown status");
    CHECK_STATUS(fails_with_shape(4), MGSD_ERR_SHAPE);
    CHECK_STR_EQ(mgsd_last_error(), "x has 4 columns, expected 3");
    /* wrapping the previous message with itself as an argument */
    mgsd_error(MGSD_ERR_CONFIG, "reading a.yaml: %s", mgsd_last_error());
    CHECK_STR_EQ(mgsd_last_error(), "reading a.yaml: x has 4 columns, expected 3");
    CHECK_STATUS(fails_with_shape(4), MGSD_ERR_SHAPE);
    CHECK_STATUS(checks_arg(NULL), MGSD_ERR_INVALID_ARG);
    CHECK_CONTAINS(mgsd_last_error(), "p != NULL");
    mgsd_clear_error();
    CHECK_STR_EQ(mgsd_last_error(), "");

    /* allocation accounting */
    uint64_t n0 = mgsd_alloc_count();
    size_t b0 = mgsd_alloc_bytes();
    float *p = mgsd_malloc(1000 * sizeof(float));
    CHECK(p != NULL);
    CHECK(((uintptr_t)p & 63) == 0);
    CHECK_INT_EQ(mgsd_alloc_count(), n0 + 1);
    CHECK_INT_EQ(mgsd_alloc_bytes(), b0 + 4000);
    p = mgsd_realloc(p, 8000 * sizeof(float));
    CHECK(p != NULL);
    CHECK_INT_EQ(mgsd_alloc_bytes(), b0 + 32000);
    mgsd_free(p);
    CHECK_INT_EQ(mgsd_alloc_bytes(), b0);
    CHECK(mgsd_alloc_peak_bytes() >= 32000);
    void *huge = mgsd_malloc(SIZE_MAX - 10);
    CHECK(huge == NULL);
    CHECK_CONTAINS(mgsd_last_error(), "too large");
    CHECK(mgsd_calloc(SIZE_MAX / 2, 4) == NULL);
    /* memory limit: refused with both sizes named instead of over-committed */
    size_t phys = mgsd_memory_limit();
    CHECK(phys >= ((size_t)64 << 20)); /* the machine's memory (or cgroup limit) */
    mgsd_set_memory_limit(mgsd_alloc_bytes() + ((size_t)1 << 20));
    void *fits = mgsd_malloc((size_t)1 << 19);
    CHECK(fits != NULL);
    CHECK(mgsd_malloc((size_t)1 << 20) == NULL); /* held + 1 MiB > limit */
    CHECK_CONTAINS(mgsd_last_error(), "above its limit of");
    CHECK_CONTAINS(mgsd_last_error(), "memory_limit");
    CHECK(mgsd_calloc((size_t)1 << 18, 4) == NULL);
    mgsd_free(fits);
    void *again = mgsd_malloc((size_t)1 << 19); /* freeing gave the room back */
    CHECK(again != NULL);
    mgsd_free(again);
    mgsd_set_memory_limit(0);
    CHECK_INT_EQ(mgsd_memory_limit(), phys); /* the same default again: measured once per process */
    char fb[32];
    CHECK_STR_EQ(mgsd_format_bytes(fb, 100), "100 bytes");
    CHECK_STR_EQ(mgsd_format_bytes(fb, 1536), "1.5 KiB");
    CHECK_STR_EQ(mgsd_format_bytes(fb, 16.0 * (1 << 20)), "16 MiB");
    CHECK_STR_EQ(mgsd_format_bytes(fb, 1.25 * (1 << 30)), "1.25 GiB");
    char *s = mgsd_strdup("héllo");
    CHECK_STR_EQ(s, "héllo");
    mgsd_free(s);

    /* arena: grows during the first "step", then allocates nothing */
    mgsd_arena a;
    mgsd_arena_init(&a, 4096);
    for (int step = 0; step < 3; step++) {
        uint64_t before = mgsd_alloc_count();
        mgsd_arena_reset(&a);
        for (int i = 0; i < 10; i++) {
            float *q = mgsd_arena_alloc(&a, 3000);
            CHECK(q != NULL && ((uintptr_t)q & 63) == 0);
            q[0] = 1.0f;
            q[749] = 2.0f;
        }
        float *big = mgsd_arena_calloc(&a, 100000);
        CHECK(big != NULL && big[100] == 0.0f);
        if (step == 0) {
            CHECK(mgsd_alloc_count() > before);
            CHECK_OK(mgsd_arena_consolidate(&a));
        } else {
            CHECK_INT_EQ(mgsd_alloc_count(), before);
        }
    }
    mgsd_arena_mark m = mgsd_arena_get_mark(&a);
    size_t used = a.used;
    (void)mgsd_arena_alloc(&a, 512);
    mgsd_arena_set_mark(&a, m);
    CHECK_INT_EQ(a.used, used);
    mgsd_arena_free(&a);

    /* RNG: deterministic for a seed, distinct streams, plausible moments */
    mgsd_rng r1, r2, r3;
    mgsd_rng_seed(&r1, 42);
    mgsd_rng_seed(&r2, 42);
    mgsd_rng_seed(&r3, 43);
    CHECK(mgsd_rng_u64(&r1) == mgsd_rng_u64(&r2));
    CHECK(mgsd_rng_u64(&r1) != mgsd_rng_u64(&r3));
    double sum = 0, sum2 = 0, usum = 0;
    int n = 200000, below_hist[7] = {0};
    for (int i = 0; i < n; i++) {
        float z = mgsd_rng_normal(&r1);
        sum += z;
        sum2 += (double)z * z;
        float u = mgsd_rng_uniform(&r1);
        CHECK(u >= 0.0f && u < 1.0f);
        usum += u;
        below_hist[mgsd_rng_below(&r1, 7)]++;
    }
    CHECK_NEAR(sum / n, 0.0, 0.01);
    CHECK_NEAR(sum2 / n, 1.0, 0.02);
    CHECK_NEAR(usum / n, 0.5, 0.005);
    for (int k = 0; k < 7; k++) CHECK_NEAR(below_hist[k] / (double)n, 1.0 / 7, 0.005);
    int32_t perm[100];
    for (int i = 0; i < 100; i++) perm[i] = i;
    mgsd_rng_shuffle_i32(&r1, perm, 100);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[perm[i]]++;
        moved += perm[i] != i;
    }
    int all_once = 1;
    for (int i = 0; i < 100; i++) all_once &= seen[i] == 1;
    CHECK(all_once);
    CHECK(moved > 80);
    mgsd_rng s1, s2;
    mgsd_rng_seed(&r1, 7);
    mgsd_rng_split(&r1, 1, &s1);
    mgsd_rng_seed(&r1, 7);
    mgsd_rng_split(&r1, 2, &s2);
    CHECK(mgsd_rng_u64(&s1) != mgsd_rng_u64(&s2));

    /* threads */
    CHECK_OK(mgsd_set_num_threads(1));
    CHECK_INT_EQ(mgsd_get_num_threads(), 1);
    CHECK_STATUS(mgsd_set_num_threads(100000), MGSD_ERR_INVALID_ARG);
    CHECK_OK(mgsd_set_num_threads(0));
    CHECK(mgsd_get_num_threads() >= 1);

    /* flush-to-zero: a denormal result is 0 on the calling thread and on every worker, and
     * a denormal input reads as 0 (DAZ); off again restores IEEE gradual underflow; a team
     * made larger afterwards gets the mode too */
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    CHECK_INT_EQ(mgsd_get_flush_denormals(), 0);
    for (int on = 1; on >= 0; on--) {
        CHECK_OK(mgsd_set_num_threads(2));
        CHECK_OK(mgsd_set_flush_denormals(on));
        CHECK_OK(mgsd_set_num_threads(4));
        CHECK_INT_EQ(mgsd_get_flush_denormals(), on);
        int flushed[4] = {-1, -1, -1, -1}, team = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(4)
#endif
        {
            int id = 0;
#ifdef _OPENMP
            id = omp_get_thread_num();
#pragma omp single
            team = omp_get_num_threads();
#else
            team = 1;
#endif
            volatile float tiny = 1.1754944e-38f; /* FLT_MIN, the smallest normal */
            volatile float half = tiny * 0.5f;     /* denormal unless flushed */
            uint32_t one_bit = 1;                  /* the smallest denormal */
            volatile float d;
            memcpy((void *)&d, &one_bit, sizeof one_bit);
            volatile float d2 = d * 2.0f; /* 2 x denormal, or 0 when inputs are zero */
            flushed[id] = (half == 0.0f) + 2 * (d2 == 0.0f);
        }
        for (int i = 0; i < team; i++) CHECK_INT_EQ(flushed[i], on ? 3 : 0);
    }
    CHECK_OK(mgsd_set_num_threads(0));
#endif

    return test_summary();
}
