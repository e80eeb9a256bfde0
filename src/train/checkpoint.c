/* Checkpoint container: writer (PATH.tmp + fsync + rename) and verifying reader.
 * On-disk layout: docs/checkpoint.md. All integers little-endian. */
#include "train/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_FILE_HEADER 16    /* magic[8] version u32 n_sections u32 */
#define CKPT_SECTION_FIXED 20  /* hdr_crc u32, name_len u16, reserved u16, data_crc u32, data_len u64 */
#define CKPT_MAX_SECTIONS 65536

/* ---- CRC-32 (reflected, polynomial 0xEDB88320), slicing by 4 ------------------------ */
static uint32_t crc_table[4][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 4; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

uint32_t ckpt_crc32(uint32_t crc, const void *data, uint64_t len) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = ~crc;
    while (len >= 4) {
        c ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        c = crc_table[3][c & 0xFF] ^ crc_table[2][(c >> 8) & 0xFF] ^ crc_table[1][(c >> 16) & 0xFF] ^
            crc_table[0][c >> 24];
        p += 4;
        len -= 4;
    }
    while (len--) c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

/* ---- little-endian helpers ---------------------------------------------------------- */
static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}
static void put_u16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t align_up(uint64_t x) { return (x + CKPT_ALIGN - 1) / CKPT_ALIGN * CKPT_ALIGN; }

/* ---- writer --------------------------------------------------------------------------- */
static void writer_release(ckpt_writer *w, int remove_tmp) {
    if (w->f) fclose(w->f);
    if (remove_tmp && w->tmp_path) unlink(w->tmp_path);
    if (w->names)
        for (uint32_t i = 0; i < w->n_sections; i++) mgsd_free(w->names[i]);
    mgsd_free(w->names);
    mgsd_free(w->path);
    mgsd_free(w->tmp_path);
    memset(w, 0, sizeof *w);
}

static mgsd_status writer_fail(ckpt_writer *w, const char *what) {
    int e = errno;
    mgsd_status s = mgsd_error(MGSD_ERR_IO, "%s: %s: %s", w->path ? w->path : "(checkpoint)", what,
                               e ? strerror(e) : "write failed");
    writer_release(w, 1);
    w->failed = 1;
    return s;
}

static mgsd_status writer_put(ckpt_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) return writer_fail(w, "write failed");
    w->offset += n;
    return MGSD_OK;
}

mgsd_status ckpt_writer_begin(ckpt_writer *w, const char *path) {
    MGSD_CHECK_ARG(w != NULL);
    memset(w, 0, sizeof *w);
    MGSD_CHECK_ARG(path != NULL && path[0] != '\0');
    if (!host_is_little_endian())
        return mgsd_error(MGSD_ERR_UNSUPPORTED, "%s: checkpoints need a little-endian host", path);
    size_t n = strlen(path);
    w->path = mgsd_strdup(path);
    w->tmp_path = mgsd_malloc(n + 5);
    if (!w->path || !w->tmp_path) {
        writer_release(w, 0);
        return mgsd_error(MGSD_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->tmp_path, path, n);
    memcpy(w->tmp_path + n, ".tmp", 5);
    w->f = fopen(w->tmp_path, "wb");
    if (!w->f) {
        int e = errno;
        mgsd_status s = mgsd_error(MGSD_ERR_IO, "%s: cannot create: %s", w->tmp_path, strerror(e));
        writer_release(w, 0);
        return s;
    }
    unsigned char hdr[CKPT_FILE_HEADER];
    memcpy(hdr, CKPT_MAGIC, 8);
    put_u32(hdr + 8, CKPT_FORMAT_VERSION);
    put_u32(hdr + 12, 0); /* section count, patched by commit */
    errno = 0;
    return writer_put(w, hdr, sizeof hdr);
}

mgsd_status ckpt_writer_add(ckpt_writer *w, const char *name, const void *data, uint64_t len) {
    MGSD_CHECK_ARG(w != NULL);
    if (w->failed || !w->f)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "ckpt_writer_add: writer is not open (begin failed or aborted)");
    size_t nl = name ? strlen(name) : 0;
    mgsd_status s = MGSD_OK;
    if (nl == 0 || nl > CKPT_MAX_NAME)
        s = mgsd_error(MGSD_ERR_INVALID_ARG, "%s: section name must be 1..%d bytes, got %zu", w->path, CKPT_MAX_NAME,
                       nl);
    else if (!data && len)
        s = mgsd_error(MGSD_ERR_INVALID_ARG, "%s: section '%s' has no data but length %llu", w->path, name,
                       (unsigned long long)len);
    else if (w->n_sections >= CKPT_MAX_SECTIONS)
        s = mgsd_error(MGSD_ERR_INVALID_ARG, "%s: more than %d sections", w->path, CKPT_MAX_SECTIONS);
    for (uint32_t i = 0; s == MGSD_OK && i < w->n_sections; i++)
        if (strcmp(w->names[i], name) == 0)
            s = mgsd_error(MGSD_ERR_INVALID_ARG, "%s: duplicate section '%s'", w->path, name);
    if (s != MGSD_OK) {
        writer_release(w, 1);
        w->failed = 1;
        return s;
    }
    char **names = mgsd_realloc(w->names, (w->n_sections + 1) * sizeof *names);
    if (!names) return writer_fail(w, "out of memory");
    w->names = names;
    w->names[w->n_sections] = mgsd_strdup(name);
    if (!w->names[w->n_sections]) return writer_fail(w, "out of memory");
    w->n_sections++;

    unsigned char hdr[CKPT_SECTION_FIXED + CKPT_MAX_NAME];
    put_u16(hdr + 4, (uint16_t)nl);
    put_u16(hdr + 6, 0);
    put_u32(hdr + 8, ckpt_crc32(0, data, len));
    put_u64(hdr + 12, len);
    memcpy(hdr + CKPT_SECTION_FIXED, name, nl);
    put_u32(hdr, ckpt_crc32(0, hdr + 4, CKPT_SECTION_FIXED - 4 + nl));
    errno = 0;
    MGSD_TRY(writer_put(w, hdr, CKPT_SECTION_FIXED + nl));
    static const unsigned char zeros[CKPT_ALIGN] = {0};
    MGSD_TRY(writer_put(w, zeros, (size_t)(align_up(w->offset) - w->offset)));
    return writer_put(w, data, (size_t)len);
}

mgsd_status ckpt_writer_commit(ckpt_writer *w) {
    MGSD_CHECK_ARG(w != NULL);
    if (w->failed || !w->f)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "ckpt_writer_commit: writer is not open (begin failed or aborted)");
    unsigned char cnt[4];
    put_u32(cnt, w->n_sections);
    errno = 0;
    if (fflush(w->f) != 0 || fseek(w->f, 12, SEEK_SET) != 0 || fwrite(cnt, 1, 4, w->f) != 4 || fflush(w->f) != 0)
        return writer_fail(w, "write failed");
    if (fsync(fileno(w->f)) != 0) return writer_fail(w, "fsync failed");
    int rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0) return writer_fail(w, "close failed");
    if (rename(w->tmp_path, w->path) != 0) return writer_fail(w, "rename failed");
    /* Make the rename durable: fsync the directory (best effort; some filesystems refuse). */
    char *dir = mgsd_strdup(w->path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        const char *d = ".";
        if (slash == dir) d = "/";
        else if (slash) { *slash = '\0'; d = dir; }
        int fd = open(d, O_RDONLY);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
        mgsd_free(dir);
    }
    writer_release(w, 0);
    return MGSD_OK;
}

void ckpt_writer_abort(ckpt_writer *w) {
    if (!w) return;
    writer_release(w, 1);
}

/* ---- reader --------------------------------------------------------------------------- */
static mgsd_status reader_parse(ckpt_reader *r) {
    const char *P = r->path;
    const unsigned char *b = r->buf;
    uint64_t size = r->size;
    if (size == 0) return mgsd_error(MGSD_ERR_FORMAT, "%s: not an mgsd checkpoint (empty file)", P);
    if (memcmp(b, CKPT_MAGIC, size < 8 ? (size_t)size : 8) != 0)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: not an mgsd checkpoint", P);
    if (size < CKPT_FILE_HEADER) return mgsd_error(MGSD_ERR_FORMAT, "%s: truncated in the file header", P);
    r->version = get_u32(b + 8);
    if (r->version != CKPT_FORMAT_VERSION)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: checkpoint format version %u is not supported (this build reads %u)",
                          P, r->version, CKPT_FORMAT_VERSION);
    uint32_t n = get_u32(b + 12);
    if (n == 0 && size > CKPT_FILE_HEADER)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: section count is 0 (the writer did not finish)", P);
    if (n > CKPT_MAX_SECTIONS)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: corrupt file header (%u sections)", P, n);
    r->sections = mgsd_calloc(n ? n : 1, sizeof *r->sections);
    if (!r->sections) return mgsd_error(MGSD_ERR_NOMEM, "%s: out of memory", P);
    uint64_t off = CKPT_FILE_HEADER;
    for (uint32_t i = 0; i < n; i++) {
        ckpt_section *s = &r->sections[i];
        if (size - off < CKPT_SECTION_FIXED)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: truncated in the header of section %u", P, i);
        const unsigned char *h = b + off;
        uint16_t nl = get_u16(h + 4);
        if (nl == 0 || nl > CKPT_MAX_NAME || get_u16(h + 6) != 0)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: corrupt header of section %u", P, i);
        if (size - off - CKPT_SECTION_FIXED < nl)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: truncated in the header of section %u", P, i);
        if (ckpt_crc32(0, h + 4, CKPT_SECTION_FIXED - 4 + nl) != get_u32(h))
            return mgsd_error(MGSD_ERR_FORMAT, "%s: corrupt header of section %u (checksum mismatch)", P, i);
        memcpy(s->name, h + CKPT_SECTION_FIXED, nl);
        s->name[nl] = '\0';
        uint32_t data_crc = get_u32(h + 8);
        s->len = get_u64(h + 12);
        uint64_t start = align_up(off + CKPT_SECTION_FIXED + nl);
        if (start > size || size - start < s->len)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: truncated in section '%s'", P, s->name);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(r->sections[j].name, s->name) == 0)
                return mgsd_error(MGSD_ERR_FORMAT, "%s: duplicate section '%s'", P, s->name);
        for (uint64_t z = off + CKPT_SECTION_FIXED + nl; z < start; z++)
            if (b[z] != 0) return mgsd_error(MGSD_ERR_FORMAT, "%s: corrupt padding before section '%s'", P, s->name);
        s->data = b + start;
        if (ckpt_crc32(0, s->data, s->len) != data_crc)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: checksum mismatch in section '%s'", P, s->name);
        off = start + s->len;
    }
    if (off != size)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: %llu bytes of trailing data after the last section", P,
                          (unsigned long long)(size - off));
    r->n_sections = n;
    return MGSD_OK;
}

static mgsd_status reader_finish(ckpt_reader *r) {
    mgsd_status s = reader_parse(r);
    if (s != MGSD_OK) ckpt_reader_close(r);
    return s;
}

mgsd_status ckpt_reader_open(ckpt_reader *r, const char *path) {
    MGSD_CHECK_ARG(r != NULL);
    memset(r, 0, sizeof *r);
    MGSD_CHECK_ARG(path != NULL);
    if (!host_is_little_endian())
        return mgsd_error(MGSD_ERR_UNSUPPORTED, "%s: checkpoints need a little-endian host", path);
    FILE *f = fopen(path, "rb");
    if (!f) return mgsd_error(MGSD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return mgsd_error(MGSD_ERR_IO, "%s: not a regular file", path);
    }
    r->path = mgsd_strdup(path);
    r->size = (uint64_t)st.st_size;
    r->buf = mgsd_malloc(r->size ? (size_t)r->size : 1);
    if (!r->path || !r->buf) {
        fclose(f);
        ckpt_reader_close(r);
        return mgsd_error(MGSD_ERR_NOMEM, "%s: reading %llu bytes: %s", path, (unsigned long long)st.st_size,
                          mgsd_last_error());
    }
    size_t got = r->size ? fread(r->buf, 1, (size_t)r->size, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (err || got != r->size) {
        ckpt_reader_close(r);
        return mgsd_error(MGSD_ERR_IO, "%s: read failed", path);
    }
    return reader_finish(r);
}

mgsd_status ckpt_reader_open_buffer(ckpt_reader *r, const char *name, const void *bytes, uint64_t size) {
    MGSD_CHECK_ARG(r != NULL);
    memset(r, 0, sizeof *r);
    MGSD_CHECK_ARG(bytes != NULL || size == 0);
    r->path = mgsd_strdup(name ? name : "(buffer)");
    r->size = size;
    r->buf = mgsd_malloc(size ? (size_t)size : 1);
    if (!r->path || !r->buf) {
        ckpt_reader_close(r);
        return mgsd_error(MGSD_ERR_NOMEM, "checkpoint: out of memory");
    }
    if (size) memcpy(r->buf, bytes, (size_t)size);
    return reader_finish(r);
}

const ckpt_section *ckpt_reader_get(const ckpt_reader *r, const char *name) {
    if (!r || !name) return NULL;
    for (uint32_t i = 0; i < r->n_sections; i++)
        if (strcmp(r->sections[i].name, name) == 0) return &r->sections[i];
    return NULL;
}

mgsd_status ckpt_reader_find(const ckpt_reader *r, const char *name, const void **data, uint64_t *len) {
    MGSD_CHECK_ARG(r != NULL && name != NULL && data != NULL && len != NULL);
    const ckpt_section *s = ckpt_reader_get(r, name);
    if (!s) return mgsd_error(MGSD_ERR_NOT_FOUND, "%s: no section '%s'", r->path ? r->path : "checkpoint", name);
    *data = s->data;
    *len = s->len;
    return MGSD_OK;
}

void ckpt_reader_close(ckpt_reader *r) {
    if (!r) return;
    mgsd_free(r->path);
    mgsd_free(r->buf);
    mgsd_free(r->sections);
    memset(r, 0, sizeof *r);
}
