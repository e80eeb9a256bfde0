/* Readers for interaction files: RecBole atomic .inter (typed TAB-separated header),
 * one-user-per-line sequences ("user item item ..."), and CSV with a named header.
 * Input is streamed in large chunks from a FILE or from memory; lines of any length,
 * CR/LF endings, a UTF-8 byte order mark, empty lines and trailing blanks are handled.
 * Tokens are interned (no allocation per token). Errors name FILE:LINE. See docs/data.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "data/data_internal.h"

/* ---- raw table ----------------------------------------------------------------- */

void data_raw_init(data_raw *r) {
    memset(r, 0, sizeof *r);
    data_intern_init(&r->users);
    data_intern_init(&r->items);
}

void data_raw_free(data_raw *r) {
    mgsd_free(r->user);
    mgsd_free(r->item);
    mgsd_free(r->ts);
    for (int k = 0; k < DATA_MAX_VALUE_FIELDS; k++) mgsd_free(r->values[k]);
    data_intern_free(&r->users);
    data_intern_free(&r->items);
    memset(r, 0, sizeof *r);
}

/* vals: the row's value-field numbers (r->n_value_fields of them; NULL when none). */
static mgsd_status raw_push(data_raw *r, int32_t u, int32_t i, double ts, const double *vals) {
    if (r->n == r->cap) {
        int64_t cap = r->cap ? r->cap * 2 : 1024;
        int32_t *nu = mgsd_realloc(r->user, (size_t)cap * sizeof *nu);
        if (!nu) return MGSD_ERR_NOMEM;
        r->user = nu;
        int32_t *ni = mgsd_realloc(r->item, (size_t)cap * sizeof *ni);
        if (!ni) return MGSD_ERR_NOMEM;
        r->item = ni;
        double *nt = mgsd_realloc(r->ts, (size_t)cap * sizeof *nt);
        if (!nt) return MGSD_ERR_NOMEM;
        r->ts = nt;
        for (int k = 0; k < r->n_value_fields; k++) {
            double *nv = mgsd_realloc(r->values[k], (size_t)cap * sizeof *nv);
            if (!nv) return MGSD_ERR_NOMEM;
            r->values[k] = nv;
        }
        r->cap = cap;
    }
    r->user[r->n] = u;
    r->item[r->n] = i;
    r->ts[r->n] = ts;
    for (int k = 0; k < r->n_value_fields; k++) r->values[k][r->n] = vals[k];
    r->n++;
    return MGSD_OK;
}

/* ---- line reader ---------------------------------------------------------------- */

typedef struct line_reader {
    FILE *f;
    const char *mem;
    size_t mem_len, mem_pos;
    char *buf;
    size_t cap, start, end;
    int eof;
    int64_t lineno;
    const char *name;
} line_reader;

#define LR_CHUNK ((size_t)1 << 20)

static mgsd_status lr_init(line_reader *lr, const char *path, const void *mem, size_t mem_len,
                           const char *name) {
    memset(lr, 0, sizeof *lr);
    lr->name = name;
    if (path) {
        lr->f = fopen(path, "rb");
        if (!lr->f) return mgsd_error(MGSD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        lr->cap = LR_CHUNK;
    } else {
        lr->mem = mem;
        lr->mem_len = mem_len;
        lr->cap = mem_len + 2 < LR_CHUNK ? (mem_len + 2 < 64 ? 64 : mem_len + 2) : LR_CHUNK;
    }
    lr->buf = mgsd_malloc(lr->cap);
    if (!lr->buf) {
        if (lr->f) fclose(lr->f);
        lr->f = NULL;
        return MGSD_ERR_NOMEM;
    }
    return MGSD_OK;
}

static void lr_free(line_reader *lr) {
    if (lr->f) fclose(lr->f);
    mgsd_free(lr->buf);
    memset(lr, 0, sizeof *lr);
}

/* Error at the current line: "NAME:LINE: message". */
static mgsd_status lr_err(const line_reader *lr, mgsd_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static mgsd_status lr_err(const line_reader *lr, mgsd_status s, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mgsd_error(s, "%s:%lld: %s", lr->name, (long long)lr->lineno, msg);
}

/* Next line without its terminator (and without trailing CRs); NUL-terminated in the
 * buffer. Returns 1 with a line, 0 at end of input, -1 on error (status in *st). */
static int lr_next(line_reader *lr, char **line, size_t *len, mgsd_status *st) {
    for (;;) {
        char *p = lr->buf + lr->start;
        char *nl = lr->start < lr->end ? memchr(p, '\n', lr->end - lr->start) : NULL;
        if (nl) {
            *line = p;
            *len = (size_t)(nl - p);
            *nl = '\0';
            lr->start = (size_t)(nl - lr->buf) + 1;
            break;
        }
        if (lr->eof) {
            if (lr->start >= lr->end) return 0;
            *line = p;
            *len = lr->end - lr->start;
            lr->buf[lr->end] = '\0';
            lr->start = lr->end;
            break;
        }
        if (lr->start > 0) {
            memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
            lr->end -= lr->start;
            lr->start = 0;
        }
        if (lr->cap - lr->end < LR_CHUNK / 4 + 1 && lr->cap - lr->end < lr->cap / 2) {
            size_t cap = lr->cap * 2;
            char *nb = mgsd_realloc(lr->buf, cap);
            if (!nb) {
                *st = MGSD_ERR_NOMEM;
                return -1;
            }
            lr->buf = nb;
            lr->cap = cap;
        }
        size_t room = lr->cap - lr->end - 1, got;
        if (lr->f) {
            errno = 0;
            got = fread(lr->buf + lr->end, 1, room, lr->f);
            if (got < room) {
                if (ferror(lr->f)) {
                    const int e = errno;
                    *st = mgsd_error(MGSD_ERR_IO, "%s: read error%s%s", lr->name, e ? ": " : "", e ? strerror(e) : "");
                    return -1;
                }
                lr->eof = 1;
            }
        } else {
            got = lr->mem_len - lr->mem_pos < room ? lr->mem_len - lr->mem_pos : room;
            if (got) memcpy(lr->buf + lr->end, lr->mem + lr->mem_pos, got);
            lr->mem_pos += got;
            if (lr->mem_pos == lr->mem_len) lr->eof = 1;
        }
        lr->end += got;
    }
    lr->lineno++;
    char *s = *line;
    size_t n = *len;
    if (lr->lineno == 1 && n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
        (unsigned char)s[2] == 0xBF) {
        s += 3;
        n -= 3;
    }
    while (n > 0 && s[n - 1] == '\r') n--;
    s[n] = '\0';
    if (memchr(s, '\0', n)) {
        *st = lr_err(lr, MGSD_ERR_PARSE, "NUL byte in a text line");
        return -1;
    }
    *line = s;
    *len = n;
    return 1;
}

static int is_blank_line(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

/* ---- fields ------------------------------------------------------------------- */

typedef struct field {
    char *s;
    size_t n;
} field;

/* Split on one delimiter character. Stores up to max fields; returns the total count. */
static size_t split_delim(char *s, size_t n, char delim, field *out, size_t max) {
    size_t count = 0;
    char *end = s + n;
    for (;;) {
        char *d = memchr(s, delim, (size_t)(end - s));
        char *fe = d ? d : end;
        if (count < max) {
            out[count].s = s;
            out[count].n = (size_t)(fe - s);
        }
        count++;
        if (!d) break;
        s = d + 1;
    }
    return count;
}

static void trim_field(field *f) {
    while (f->n > 0 && (f->s[0] == ' ' || f->s[0] == '\t')) {
        f->s++;
        f->n--;
    }
    while (f->n > 0 && (f->s[f->n - 1] == ' ' || f->s[f->n - 1] == '\t')) f->n--;
}

/* Parse a timestamp field: integer fast path, else strtod on a bounded copy. */
static int parse_ts(const field *f0, double *out) {
    field f = *f0;
    trim_field(&f);
    if (f.n == 0) return -1;
    if (f.n <= 15) {
        double v = 0;
        size_t i = 0;
        for (; i < f.n && f.s[i] >= '0' && f.s[i] <= '9'; i++) v = v * 10 + (f.s[i] - '0');
        if (i == f.n) {
            *out = v;
            return 0;
        }
    }
    char tmp[64];
    if (f.n >= sizeof tmp) return -1;
    memcpy(tmp, f.s, f.n);
    tmp[f.n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + f.n || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Printable, bounded excerpt of a field for messages. */
static const char *excerpt(const field *f, char *buf, size_t cap) {
    size_t n = f->n < cap - 4 ? f->n : cap - 4;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) buf[j++] = isprint((unsigned char)f->s[i]) || ((unsigned char)f->s[i] >= 0x80) ? f->s[i] : '?';
    if (n < f->n) {
        buf[j++] = '.';
        buf[j++] = '.';
        buf[j++] = '.';
    }
    buf[j] = '\0';
    return buf;
}

/* Column roles by (case-insensitive) name, after stripping a ":type" suffix. */
enum { COL_OTHER = 0, COL_USER, COL_ITEM, COL_TIME };

static int column_role(const char *s, size_t n) {
    const char *colon = memchr(s, ':', n);
    if (colon) n = (size_t)(colon - s);
    static const char *users[] = {"user_id", "user", "userid", "uid"};
    static const char *items[] = {"item_id", "item", "itemid", "movieid", "iid"};
    static const char *times[] = {"timestamp", "time", "ts"};
#define MATCH(list, role)                                                              \
    for (size_t k = 0; k < sizeof list / sizeof list[0]; k++)                          \
        if (strlen(list[k]) == n && strncasecmp(list[k], s, n) == 0) return role;
    MATCH(users, COL_USER)
    MATCH(items, COL_ITEM)
    MATCH(times, COL_TIME)
#undef MATCH
    return COL_OTHER;
}

static int looks_like_inter_header(const char *s, size_t n) {
    if (!memchr(s, '\t', n)) return 0; /* an .inter header has >= 2 TAB-separated columns */
    /* Untyped header naming both a user and an item column ("user_id<TAB>item_id"). */
    int has_user = 0, has_item = 0;
    for (size_t i = 0; i <= n;) {
        const char *tab = memchr(s + i, '\t', n - i);
        size_t e = tab ? (size_t)(tab - s) : n;
        int role = column_role(s + i, e - i);
        has_user |= role == COL_USER;
        has_item |= role == COL_ITEM;
        i = e + 1;
    }
    if (has_user && has_item) return 1;
    static const char *types[] = {":token", ":float", ":token_seq", ":float_seq"};
    for (size_t k = 0; k < 4; k++) {
        size_t m = strlen(types[k]);
        for (size_t i = 0; i + m <= n; i++)
            if (memcmp(s + i, types[k], m) == 0 && (i + m == n || s[i + m] == '\t' || s[i + m] == ' '))
                return 1;
    }
    return 0;
}

/* ---- parsers -------------------------------------------------------------------- */

typedef struct header_map {
    size_t nf;              /* number of header fields */
    size_t cu, ci, ct;      /* column indexes; ct = SIZE_MAX when absent */
    size_t cv[DATA_MAX_VALUE_FIELDS]; /* columns of r->value_field[] */
    field *fields;          /* scratch, nf entries */
} header_map;

/* Find the value-field columns by exact name (a ":type" suffix stripped) among the header
 * fields; a missing one is an error naming it. */
static mgsd_status find_value_columns(line_reader *lr, const data_raw *r, header_map *h, const char *what) {
    for (int k = 0; k < r->n_value_fields; k++) {
        h->cv[k] = SIZE_MAX;
        for (size_t c = 0; c < h->nf && h->cv[k] == SIZE_MAX; c++) {
            field f = h->fields[c];
            trim_field(&f);
            const char *colon = memchr(f.s, ':', f.n);
            size_t n = colon ? (size_t)(colon - f.s) : f.n;
            if (n == strlen(r->value_field[k]) && !memcmp(f.s, r->value_field[k], n)) h->cv[k] = c;
        }
        if (h->cv[k] == SIZE_MAX)
            return lr_err(lr, MGSD_ERR_CONFIG, "val_interval: the %s header has no column '%s'", what,
                          r->value_field[k]);
    }
    return MGSD_OK;
}

static mgsd_status parse_header(line_reader *lr, header_map *h, char *line, size_t len, char delim,
                                const char *what) {
    size_t nf = split_delim(line, len, delim, NULL, 0);
    h->fields = mgsd_malloc(nf * sizeof *h->fields);
    if (!h->fields) return MGSD_ERR_NOMEM;
    h->nf = split_delim(line, len, delim, h->fields, nf);
    h->cu = h->ci = h->ct = SIZE_MAX;
    for (size_t k = 0; k < nf; k++) {
        field f = h->fields[k];
        trim_field(&f);
        int role = column_role(f.s, f.n);
        size_t *slot = role == COL_USER ? &h->cu : role == COL_ITEM ? &h->ci : role == COL_TIME ? &h->ct : NULL;
        if (slot && *slot == SIZE_MAX) *slot = k;
    }
    if (h->cu == SIZE_MAX || h->ci == SIZE_MAX)
        return lr_err(lr, MGSD_ERR_FORMAT,
                      "%s header needs a user column (user_id, user, userId) and an item column "
                      "(item_id, item, itemId, movieId); found neither or only one",
                      what);
    return MGSD_OK;
}

static mgsd_status push_row(line_reader *lr, data_raw *r, const header_map *h, field *f) {
    char ex[64];
    if (f[h->cu].n == 0) return lr_err(lr, MGSD_ERR_PARSE, "empty user id (column %zu)", h->cu + 1);
    if (f[h->ci].n == 0) return lr_err(lr, MGSD_ERR_PARSE, "empty item id (column %zu)", h->ci + 1);
    double ts = (double)r->n;
    if (h->ct != SIZE_MAX && parse_ts(&f[h->ct], &ts))
        return lr_err(lr, MGSD_ERR_PARSE, "timestamp '%s' is not a finite number",
                      excerpt(&f[h->ct], ex, sizeof ex));
    double vals[DATA_MAX_VALUE_FIELDS];
    for (int k = 0; k < r->n_value_fields; k++)
        if (parse_ts(&f[h->cv[k]], &vals[k]))
            return lr_err(lr, MGSD_ERR_PARSE, "%s '%s' is not a finite number (val_interval reads it)", r->value_field[k],
                          excerpt(&f[h->cv[k]], ex, sizeof ex));
    int32_t u = data_intern_add(&r->users, f[h->cu].s, f[h->cu].n);
    int32_t i = data_intern_add(&r->items, f[h->ci].s, f[h->ci].n);
    if (u < 0 || i < 0) return lr_err(lr, MGSD_ERR_NOMEM, "%s", mgsd_last_error());
    return raw_push(r, u, i, ts, vals);
}

/* Accept rows whose field count equals the header's, or exceeds it only by empty
 * trailing fields (a trailing delimiter). */
static mgsd_status check_count(line_reader *lr, const header_map *h, size_t count, const char *kind) {
    if (count == h->nf) return MGSD_OK;
    return lr_err(lr, MGSD_ERR_PARSE, "expected %zu %s-separated fields, found %zu", h->nf, kind, count);
}

static mgsd_status read_inter(line_reader *lr, data_raw *r, char *line, size_t len) {
    header_map h = {0};
    mgsd_status st = parse_header(lr, &h, line, len, '\t', ".inter");
    if (st == MGSD_OK) st = find_value_columns(lr, r, &h, ".inter");
    if (st == MGSD_OK && h.ct != SIZE_MAX) r->has_ts = 1;
    while (st == MGSD_OK) {
        int got = lr_next(lr, &line, &len, &st);
        if (got <= 0) break;
        if (is_blank_line(line, len)) continue;
        /* Trailing TABs beyond the header's columns count as trailing whitespace. */
        size_t n = len;
        size_t count = split_delim(line, n, '\t', h.fields, h.nf);
        while (count > h.nf && n > 0 && line[n - 1] == '\t') {
            n--;
            count--;
        }
        if ((st = check_count(lr, &h, count, "tab")) != MGSD_OK) break;
        if (h.nf > 0) trim_field(&h.fields[h.nf - 1]);
        st = push_row(lr, r, &h, h.fields);
    }
    mgsd_free(h.fields);
    return st;
}

/* CSV field splitting with RFC 4180 quotes ("" inside quotes is a quote), unescaped in
 * place. Unquoted fields are trimmed of blanks. Returns the count or -1 on a quote error. */
static long split_csv(char *s, size_t n, field *out, size_t max, const char **why) {
    size_t count = 0, i = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        field f;
        if (i < n && s[i] == '"') {
            size_t w = i + 1, j = i + 1;
            f.s = s + w;
            for (;;) {
                if (j >= n) {
                    *why = "unterminated quoted field";
                    return -1;
                }
                if (s[j] == '"') {
                    if (j + 1 < n && s[j + 1] == '"') {
                        s[w++] = '"';
                        j += 2;
                        continue;
                    }
                    break;
                }
                s[w++] = s[j++];
            }
            f.n = (size_t)(s + w - f.s);
            j++;
            while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
            if (j < n && s[j] != ',') {
                *why = "unexpected character after a closing quote";
                return -1;
            }
            i = j;
        } else {
            size_t j = i;
            while (j < n && s[j] != ',') j++;
            f.s = s + i;
            f.n = j - i;
            trim_field(&f);
            i = j;
        }
        if (count < max) out[count] = f;
        count++;
        if (i >= n) break;
        i++; /* skip the comma */
        if (i == n) {
            /* trailing comma: one more empty field */
            if (count < max) out[count] = (field){s + n, 0};
            count++;
            break;
        }
    }
    return (long)count;
}

static mgsd_status read_csv(line_reader *lr, data_raw *r, char *line, size_t len) {
    header_map h = {0};
    const char *why = NULL;
    /* The header is split with quote handling too (unescaping in place, so only once),
     * then matched by name. Commas + 1 bounds the field count. */
    size_t max_fields = 1;
    for (size_t k = 0; k < len; k++) max_fields += line[k] == ',';
    h.fields = mgsd_malloc(max_fields * sizeof *h.fields);
    if (!h.fields) return MGSD_ERR_NOMEM;
    long hn = split_csv(line, len, h.fields, max_fields, &why);
    if (hn < 0) {
        mgsd_free(h.fields);
        return lr_err(lr, MGSD_ERR_PARSE, "CSV header: %s", why);
    }
    h.nf = (size_t)hn;
    h.cu = h.ci = h.ct = SIZE_MAX;
    for (size_t k = 0; k < h.nf; k++) {
        int role = column_role(h.fields[k].s, h.fields[k].n);
        size_t *slot = role == COL_USER ? &h.cu : role == COL_ITEM ? &h.ci : role == COL_TIME ? &h.ct : NULL;
        if (slot && *slot == SIZE_MAX) *slot = k;
    }
    mgsd_status st = MGSD_OK;
    if (h.cu == SIZE_MAX || h.ci == SIZE_MAX)
        st = lr_err(lr, MGSD_ERR_FORMAT,
                    "CSV header needs a user column (user_id, user, userId) and an item column "
                    "(item_id, item, itemId, movieId)");
    if (st == MGSD_OK) st = find_value_columns(lr, r, &h, "CSV");
    if (st == MGSD_OK && h.ct != SIZE_MAX) r->has_ts = 1;
    while (st == MGSD_OK) {
        int got = lr_next(lr, &line, &len, &st);
        if (got <= 0) break;
        if (is_blank_line(line, len)) continue;
        size_t n = len;
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) n--;
        long count = split_csv(line, n, h.fields, h.nf, &why);
        if (count < 0) {
            st = lr_err(lr, MGSD_ERR_PARSE, "%s", why);
            break;
        }
        /* Extra empty trailing fields (a trailing comma) are accepted. */
        while ((size_t)count > h.nf && n > 0 && line[n - 1] == ',') {
            n--;
            count--;
        }
        if ((st = check_count(lr, &h, (size_t)count, "comma")) != MGSD_OK) break;
        st = push_row(lr, r, &h, h.fields);
    }
    mgsd_free(h.fields);
    return st;
}

static mgsd_status read_seq_line(line_reader *lr, data_raw *r, char *s, size_t n) {
    size_t i = 0;
    int32_t u = -1;
    int64_t items = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i >= n) break;
        size_t j = i;
        while (j < n && s[j] != ' ' && s[j] != '\t') j++;
        if (u < 0) {
            u = data_intern_add(&r->users, s + i, j - i);
            if (u < 0) return lr_err(lr, MGSD_ERR_NOMEM, "%s", mgsd_last_error());
        } else {
            int32_t it = data_intern_add(&r->items, s + i, j - i);
            if (it < 0) return lr_err(lr, MGSD_ERR_NOMEM, "%s", mgsd_last_error());
            MGSD_TRY(raw_push(r, u, it, (double)r->n, NULL));
            items++;
        }
        i = j;
    }
    if (u >= 0 && items == 0)
        return lr_err(lr, MGSD_ERR_PARSE, "expected 'user item [item ...]', found only the user id '%s'",
                      data_intern_str(&r->users, u));
    return MGSD_OK;
}

static mgsd_status read_seq(line_reader *lr, data_raw *r, char *line, size_t len) {
    mgsd_status st = read_seq_line(lr, r, line, len);
    while (st == MGSD_OK) {
        int got = lr_next(lr, &line, &len, &st);
        if (got <= 0) break;
        st = read_seq_line(lr, r, line, len);
    }
    return st;
}

mgsd_status data_read(data_raw *r, const char *path, const void *mem, size_t mem_len, const char *name,
                      const char *format) {
    int fmt = 0; /* 0 auto, 1 inter, 2 seq, 3 csv */
    if (format && *format && strcmp(format, "auto") != 0) {
        if (!strcmp(format, "inter")) fmt = 1;
        else if (!strcmp(format, "seq")) fmt = 2;
        else if (!strcmp(format, "csv")) fmt = 3;
        else
            return mgsd_error(MGSD_ERR_CONFIG, "unknown data format '%s' (expected auto, inter, seq or csv)",
                              format);
    }
    line_reader lr;
    MGSD_TRY(lr_init(&lr, path, mem, mem_len, name ? name : path ? path : "<memory>"));
    char *line = NULL;
    size_t len = 0;
    mgsd_status st = MGSD_OK;
    int got;
    while ((got = lr_next(&lr, &line, &len, &st)) == 1 && is_blank_line(line, len)) {
    }
    if (got < 0) goto done;
    if (got == 0) {
        st = mgsd_error(MGSD_ERR_EMPTY, "%s: empty file (no data lines)", lr.name);
        goto done;
    }
    if (fmt == 0) {
        if (looks_like_inter_header(line, len)) fmt = 1;
        else if (memchr(line, ',', len)) fmt = 3;
        else fmt = 2;
    }
    if (fmt == 1) {
        r->format = "inter";
        st = read_inter(&lr, r, line, len);
    } else if (fmt == 3) {
        r->format = "csv";
        st = read_csv(&lr, r, line, len);
    } else if (r->n_value_fields > 0) {
        st = mgsd_error(MGSD_ERR_CONFIG, "%s: val_interval needs a column '%s', and a sequence file has only users and items",
                        lr.name, r->value_field[0]);
    } else {
        r->format = "seq";
        st = read_seq(&lr, r, line, len);
    }
    if (st == MGSD_OK && r->n == 0) st = mgsd_error(MGSD_ERR_EMPTY, "%s: no interactions (header only)", lr.name);
done:
    lr_free(&lr);
    return st;
}
