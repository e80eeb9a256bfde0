/* Checkpoint container: round trip, every truncation point, every flipped byte, foreign
 * and empty files, wrong version, and failed writes that must leave no half-written PATH. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "train/checkpoint.h"
#include "train/params.h"

static char dir[64];

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }
static int exists(const char *p) { struct stat st; return stat(p, &st) == 0; }

static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}
static void spit(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

#define NP 1000
static float params[NP], adam_m[NP];
static const char config_text[] = "learning_rate=0.001\nepochs=300\n";

static mgsd_status write_sample(const char *path) {
    ckpt_writer w;
    MGSD_TRY(ckpt_writer_begin(&w, path));
    MGSD_TRY(ckpt_writer_add(&w, "model", "SASRec", 6));
    MGSD_TRY(ckpt_writer_add(&w, "config", config_text, sizeof config_text - 1));
    MGSD_TRY(ckpt_writer_add(&w, "empty", NULL, 0));
    MGSD_TRY(ckpt_writer_add(&w, "params", params, sizeof params));
    MGSD_TRY(ckpt_writer_add(&w, "adam_m", adam_m, sizeof adam_m));
    return ckpt_writer_commit(&w);
}

static void check_round_trip(const char *path) {
    ckpt_reader r;
    CHECK_OK(ckpt_reader_open(&r, path));
    CHECK_INT_EQ(r.n_sections, 5);
    CHECK_INT_EQ(r.version, CKPT_FORMAT_VERSION);
    const void *d;
    uint64_t n;
    CHECK_OK(ckpt_reader_find(&r, "model", &d, &n));
    CHECK(n == 6 && memcmp(d, "SASRec", 6) == 0);
    CHECK_OK(ckpt_reader_find(&r, "config", &d, &n));
    CHECK(n == sizeof config_text - 1 && memcmp(d, config_text, n) == 0);
    CHECK_OK(ckpt_reader_find(&r, "empty", &d, &n));
    CHECK_INT_EQ(n, 0);
    CHECK_OK(ckpt_reader_find(&r, "params", &d, &n));
    CHECK(n == sizeof params && memcmp(d, params, n) == 0);
    CHECK(((uintptr_t)d & 63) == 0); /* float payloads are usable in place */
    CHECK_OK(ckpt_reader_find(&r, "adam_m", &d, &n));
    CHECK(n == sizeof adam_m && memcmp(d, adam_m, n) == 0);
    CHECK_STR_EQ(r.sections[3].name, "params");
    CHECK_STATUS(ckpt_reader_find(&r, "adam_v", &d, &n), MGSD_ERR_NOT_FOUND);
    CHECK_CONTAINS(mgsd_last_error(), "no section 'adam_v'");
    CHECK(ckpt_reader_get(&r, "adam_v") == NULL);
    ckpt_reader_close(&r);
    ckpt_reader_close(&r); /* idempotent */
}

/* Index of the first payload byte of section `name` in the file, from a good reader. */
static size_t payload_offset(const unsigned char *file, size_t size, const char *name) {
    ckpt_reader r;
    size_t off = 0;
    if (ckpt_reader_open_buffer(&r, "x", file, size) == MGSD_OK) {
        const ckpt_section *s = ckpt_reader_get(&r, name);
        if (s) off = (size_t)((const unsigned char *)s->data - r.buf);
        ckpt_reader_close(&r);
    }
    return off;
}

static void check_corruption(const char *path) {
    size_t size;
    unsigned char *file = slurp(path, &size);
    CHECK(file != NULL && size > 2 * sizeof params);
    ckpt_reader r;
    char bad[256];
    path_in(bad, sizeof bad, "bad.ckpt");

    /* every truncation point is an error, never a crash or a partial success */
    int all_fail = 1;
    for (size_t cut = 0; cut < size; cut++) {
        mgsd_status s = ckpt_reader_open_buffer(&r, bad, file, cut);
        if (s != MGSD_ERR_FORMAT || r.buf != NULL) {
            all_fail = 0;
            TEST_FAIL_("cut at %zu: %s", cut, mgsd_status_name(s));
            break;
        }
    }
    CHECK(all_fail);
    /* ... with messages that say where */
    size_t p_off = payload_offset(file, size, "params"), m_off = payload_offset(file, size, "adam_m");
    CHECK(p_off > 0 && m_off > p_off);
    spit(bad, file, p_off + 100);
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "bad.ckpt: truncated in section 'params'");
    spit(bad, file, size - 1);
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "truncated in section 'adam_m'");
    spit(bad, file, 10);
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "truncated in the file header");
    spit(bad, file, 16 + 7);
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "truncated in the header of section 0");
    spit(bad, file, 0);
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "not an mgsd checkpoint");

    /* every flipped byte is detected (payloads, headers, padding, counts, magic) */
    int all_detected = 1;
    for (size_t i = 0; i < size; i++) {
        file[i] ^= 0x20;
        mgsd_status s = ckpt_reader_open_buffer(&r, bad, file, size);
        file[i] ^= 0x20;
        if (s != MGSD_ERR_FORMAT) {
            all_detected = 0;
            TEST_FAIL_("flip at %zu not detected: %s", i, mgsd_status_name(s));
            break;
        }
    }
    CHECK(all_detected);
    file[m_off + 17] ^= 1;
    spit(bad, file, size);
    file[m_off + 17] ^= 1;
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "bad.ckpt: checksum mismatch in section 'adam_m'");

    /* trailing bytes */
    unsigned char *longer = malloc(size + 3);
    memcpy(longer, file, size);
    memset(longer + size, 0, 3);
    CHECK_STATUS(ckpt_reader_open_buffer(&r, bad, longer, size + 3), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "3 bytes of trailing data");
    free(longer);

    /* wrong version */
    file[8] = 7;
    spit(bad, file, size);
    file[8] = 1;
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "format version 7 is not supported (this build reads 1)");

    /* foreign file */
    const char *text = "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n";
    spit(bad, text, strlen(text));
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "bad.ckpt: not an mgsd checkpoint");
    spit(bad, "MGSD", 4); /* prefix of the magic: truncated, not foreign */
    CHECK_STATUS(ckpt_reader_open(&r, bad), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "truncated in the file header");

    char missing[256];
    path_in(missing, sizeof missing, "missing.ckpt");
    CHECK_STATUS(ckpt_reader_open(&r, missing), MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "missing.ckpt: cannot open");
    CHECK_STATUS(ckpt_reader_open(&r, dir), MGSD_ERR_IO); /* a directory */
    unlink(bad);
    free(file);
}

static void check_failed_writes(const char *good) {
    size_t good_size;
    unsigned char *good_bytes = slurp(good, &good_size);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", good);
    ckpt_writer w;

    /* abort: PATH keeps the previous checkpoint, no PATH.tmp */
    CHECK_OK(ckpt_writer_begin(&w, good));
    CHECK(exists(tmp));
    CHECK_OK(ckpt_writer_add(&w, "model", "GRU4Rec", 7));
    ckpt_writer_abort(&w);
    CHECK(!exists(tmp));
    ckpt_writer_abort(&w); /* safe twice */

    /* bad section name / duplicate: writer aborted, nothing left, commit refused */
    CHECK_OK(ckpt_writer_begin(&w, good));
    CHECK_OK(ckpt_writer_add(&w, "model", "x", 1));
    CHECK_STATUS(ckpt_writer_add(&w, "model", "y", 1), MGSD_ERR_INVALID_ARG);
    CHECK_CONTAINS(mgsd_last_error(), "duplicate section 'model'");
    CHECK(!exists(tmp));
    CHECK_STATUS(ckpt_writer_add(&w, "other", "y", 1), MGSD_ERR_INVALID_ARG);
    CHECK_STATUS(ckpt_writer_commit(&w), MGSD_ERR_INVALID_ARG);
    CHECK_OK(ckpt_writer_begin(&w, good));
    CHECK_STATUS(ckpt_writer_add(&w, "", "y", 1), MGSD_ERR_INVALID_ARG);
    CHECK(!exists(tmp));

    /* an I/O error in the middle of a section (file size limit): error, no PATH.tmp,
     * PATH unchanged */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 2048;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    mgsd_status s = ckpt_writer_begin(&w, good);
    if (s == MGSD_OK) s = ckpt_writer_add(&w, "model", "SASRec", 6);
    if (s == MGSD_OK) s = ckpt_writer_add(&w, "params", params, sizeof params);
    if (s == MGSD_OK) s = ckpt_writer_add(&w, "adam_m", adam_m, sizeof adam_m);
    if (s == MGSD_OK) s = ckpt_writer_commit(&w);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_STATUS(s, MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "failed");
    CHECK(!exists(tmp));
    size_t now_size;
    unsigned char *now = slurp(good, &now_size);
    CHECK(now && now_size == good_size && memcmp(now, good_bytes, good_size) == 0);
    free(now);

    /* unwritable location: nothing created */
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.ckpt", dir);
    CHECK_STATUS(ckpt_writer_begin(&w, nodir), MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "cannot create");
    CHECK(!exists(nodir));
    free(good_bytes);
}

/* A real parameter buffer and its layout hash survive the container bit for bit. */
static void check_params_round_trip(void) {
    static const params_spec spec[] = {{"emb", 2, {101, 8}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
                                       {"bias", 1, {3}, PARAMS_INIT_UNIFORM, -1, 1, 0}};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 11);
    mgsd_params a, b;
    CHECK_OK(params_init(&a, spec, 2, &rng));
    CHECK_OK(params_init(&b, spec, 2, &rng)); /* different values */
    char path[256];
    path_in(path, sizeof path, "params.ckpt");
    uint64_t hash = params_layout_hash(&a);
    ckpt_writer w;
    CHECK_OK(ckpt_writer_begin(&w, path));
    CHECK_OK(ckpt_writer_add(&w, "params_layout", &hash, sizeof hash));
    CHECK_OK(ckpt_writer_add(&w, "params", a.data, (uint64_t)a.total * sizeof(float)));
    CHECK_OK(ckpt_writer_commit(&w));
    ckpt_reader r;
    CHECK_OK(ckpt_reader_open(&r, path));
    const void *d;
    uint64_t n;
    CHECK_OK(ckpt_reader_find(&r, "params_layout", &d, &n));
    uint64_t stored = 0;
    if (n == sizeof stored) memcpy(&stored, d, n);
    CHECK(stored == params_layout_hash(&b));
    CHECK_OK(ckpt_reader_find(&r, "params", &d, &n));
    CHECK_INT_EQ(n, (uint64_t)b.total * sizeof(float));
    if (n == (uint64_t)b.total * sizeof(float)) memcpy(b.data, d, n);
    double diff = -1;
    CHECK_OK(params_max_abs_diff(&a, &b, &diff));
    CHECK(diff == 0.0);
    ckpt_reader_close(&r);
    unlink(path);
    params_free(&a);
    params_free(&b);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/mgsd_ckpt_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    for (int i = 0; i < NP; i++) {
        params[i] = (float)i * 0.25f - 3.0f;
        adam_m[i] = (float)(i % 13) * 1e-3f;
    }
    /* CRC-32 check value of the standard test vector */
    CHECK_INT_EQ(ckpt_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_INT_EQ(ckpt_crc32(ckpt_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);

    char path[256];
    path_in(path, sizeof path, "model.ckpt");
    CHECK_OK(write_sample(path));
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(exists(path) && !exists(tmp));
    check_round_trip(path);
    /* overwrite in place with new content */
    params[0] = 42.0f;
    CHECK_OK(write_sample(path));
    check_round_trip(path);
    check_corruption(path);
    check_failed_writes(path);
    check_params_round_trip();

    unlink(path);
    rmdir(dir);
    return test_summary();
}
