/* Whole-file input and atomic output files: see core.h (mgsd_read_file, mgsd_afile). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

mgsd_status mgsd_afile_open(mgsd_afile *a, const char *path) {
    MGSD_CHECK_ARG(a && path && *path);
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->path = mgsd_strdup(path);
    a->tmp = mgsd_malloc(n + 16);
    if (!a->path || !a->tmp) {
        mgsd_afile_abort(a);
        return mgsd_error(MGSD_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        mgsd_status st = mgsd_error(MGSD_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                                    strerror(errno));
        a->tmp[0] = '\0';
        mgsd_afile_abort(a);
        return st;
    }
    /* mkstemp creates mode 0600; give the file the permissions a plain fopen would. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask); /* on failure the file just stays private */
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        close(fd);
        mgsd_status st = mgsd_error(MGSD_ERR_IO, "%s: fdopen failed: %s", path, strerror(errno));
        mgsd_afile_abort(a);
        return st;
    }
    return MGSD_OK;
}

mgsd_status mgsd_afile_commit(mgsd_afile *a) {
    MGSD_CHECK_ARG(a && a->f);
    int bad = ferror(a->f);
    bad |= fclose(a->f) != 0;
    a->f = NULL;
    if (bad || rename(a->tmp, a->path) != 0) {
        mgsd_status st = mgsd_error(MGSD_ERR_IO, "%s: write failed: %s", a->path, strerror(errno ? errno : EIO));
        mgsd_afile_abort(a);
        return st;
    }
    a->tmp[0] = '\0'; /* renamed: nothing to remove */
    mgsd_afile_abort(a);
    return MGSD_OK;
}

void mgsd_afile_abort(mgsd_afile *a) {
    if (!a) return;
    if (a->f) fclose(a->f);
    if (a->tmp && a->tmp[0]) unlink(a->tmp);
    mgsd_free(a->tmp);
    mgsd_free(a->path);
    memset(a, 0, sizeof *a);
}

mgsd_status mgsd_write_file_atomic(const char *path, const void *data, size_t len) {
    mgsd_afile a;
    MGSD_TRY(mgsd_afile_open(&a, path));
    if (len && fwrite(data, 1, len, a.f) != len) {
        mgsd_status st = mgsd_error(MGSD_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        mgsd_afile_abort(&a);
        return st;
    }
    return mgsd_afile_commit(&a);
}

mgsd_status mgsd_read_file(const char *path, const char *what, char **out, size_t *out_len) {
    MGSD_CHECK_ARG(path && what && out && out_len);
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mgsd_error(MGSD_ERR_IO, "%s: cannot open %s: %s", path, what, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *g = mgsd_realloc(buf, cap);
            if (!g) {
                mgsd_free(buf);
                fclose(f);
                return mgsd_error(MGSD_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = g;
        }
        errno = 0;
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    const int err = ferror(f), e = errno;
    fclose(f);
    if (err) {
        mgsd_free(buf);
        return mgsd_error(MGSD_ERR_IO, "%s: cannot read %s%s%s", path, what, e ? ": " : "", e ? strerror(e) : "");
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return MGSD_OK;
}
