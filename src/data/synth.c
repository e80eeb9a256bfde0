/* Synthetic interactions with planted noise. Items are split into interest clusters;
 * each cluster is a random cycle, and a user walks inside 1-3 clusters (mostly to the
 * cycle successor, so the next item is predictable), switching between their interests
 * now and then. A fraction of each sequence is then replaced by, or augmented with,
 * uniformly random items whose rows are labelled as noise. Output: a RecBole .inter
 * file plus PATH.noise with the labels (formats in docs/data.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "data/data_internal.h"

void mgsd_synth_options_default(mgsd_synth_options *o) {
    memset(o, 0, sizeof *o);
    o->users = 1000;
    o->items = 500;
    o->interests = 10;
    o->min_len = 10;
    o->max_len = 40;
    o->noise = 0.2f;
    o->noise_mode = MGSD_NOISE_REPLACE;
    o->p_follow = 0.8f;
    o->p_switch = 0.15f;
    o->seed = 42;
}

void mgsd_synth_free(mgsd_synth *s) {
    if (!s) return;
    mgsd_free(s->users);
    mgsd_free(s->items);
    mgsd_free(s->cluster);
    mgsd_free(s->is_noise);
    mgsd_free(s->timestamps);
    memset(s, 0, sizeof *s);
}

static mgsd_status synth_check(const mgsd_synth_options *o) {
    if (o->users < 1) return mgsd_error(MGSD_ERR_CONFIG, "synth: users must be >= 1 (got %d)", o->users);
    if (o->items < 2) return mgsd_error(MGSD_ERR_CONFIG, "synth: items must be >= 2 (got %d)", o->items);
    if (o->interests < 1 || o->interests > o->items)
        return mgsd_error(MGSD_ERR_CONFIG, "synth: interests must be in 1..items (got %d)", o->interests);
    if (o->min_len < 1 || o->max_len < o->min_len || o->max_len > 100000)
        return mgsd_error(MGSD_ERR_CONFIG, "synth: need 1 <= min_len <= max_len <= 100000 (got %d, %d)",
                          o->min_len, o->max_len);
    if (!(o->noise >= 0) || (o->noise_mode == MGSD_NOISE_REPLACE && o->noise > 1) || o->noise > 10)
        return mgsd_error(MGSD_ERR_CONFIG,
                          "synth: noise must be in [0,1] for replace and [0,10] for insert (got %g)",
                          (double)o->noise);
    if (o->noise_mode != MGSD_NOISE_REPLACE && o->noise_mode != MGSD_NOISE_INSERT)
        return mgsd_error(MGSD_ERR_CONFIG, "synth: unknown noise mode %d", (int)o->noise_mode);
    if (!(o->p_follow >= 0 && o->p_follow <= 1) || !(o->p_switch >= 0 && o->p_switch <= 1))
        return mgsd_error(MGSD_ERR_CONFIG, "synth: p_follow and p_switch must be probabilities");
    if ((int64_t)o->users * ((int64_t)o->max_len * 11 + 1) > INT32_MAX)
        return mgsd_error(MGSD_ERR_CONFIG, "synth: users * max_len too large");
    return MGSD_OK;
}

mgsd_status mgsd_synth_generate(mgsd_synth *s, const mgsd_synth_options *o) {
    MGSD_CHECK_ARG(s && o);
    memset(s, 0, sizeof *s);
    MGSD_TRY(synth_check(o));
    int32_t I = o->items, K = o->interests, U = o->users;
    int32_t maxn = o->max_len + (int32_t)ceilf(o->noise * (float)o->max_len) + 1;
    int64_t cap = (int64_t)U * maxn;
    mgsd_rng rng;
    mgsd_rng_seed(&rng, o->seed);
    int32_t *perm = mgsd_malloc((size_t)I * sizeof *perm);
    int32_t *succ = mgsd_malloc(((size_t)I + 1) * sizeof *succ);
    int32_t *cstart = mgsd_malloc(((size_t)K + 1) * sizeof *cstart); /* cluster c: perm[cstart[c]..cstart[c+1]) */
    int32_t *clean = mgsd_malloc((size_t)maxn * sizeof *clean);
    int32_t *pos = mgsd_malloc((size_t)maxn * sizeof *pos);
    uint8_t *lab = mgsd_malloc((size_t)maxn);
    s->cluster = mgsd_malloc(((size_t)I + 1) * sizeof *s->cluster);
    s->users = mgsd_malloc((size_t)cap * sizeof *s->users);
    s->items = mgsd_malloc((size_t)cap * sizeof *s->items);
    s->is_noise = mgsd_malloc((size_t)cap);
    s->timestamps = mgsd_malloc((size_t)cap * sizeof *s->timestamps);
    mgsd_status st = MGSD_OK;
    if (!perm || !succ || !cstart || !clean || !pos || !lab || !s->cluster || !s->users || !s->items ||
        !s->is_noise || !s->timestamps) {
        st = MGSD_ERR_NOMEM;
        goto done;
    }
    s->n_users = U;
    s->n_items = I;
    /* Clusters: a random permutation cut into K nearly equal consecutive runs; the run
     * order is the cycle of the Markov walk. */
    for (int32_t i = 0; i < I; i++) perm[i] = i + 1;
    mgsd_rng_shuffle_i32(&rng, perm, (size_t)I);
    s->cluster[0] = -1;
    for (int32_t c = 0; c <= K; c++) cstart[c] = (int32_t)((int64_t)I * c / K);
    for (int32_t c = 0; c < K; c++) {
        int32_t a = cstart[c], b = cstart[c + 1];
        for (int32_t j = a; j < b; j++) {
            s->cluster[perm[j]] = c;
            succ[perm[j]] = perm[j + 1 < b ? j + 1 : a];
        }
    }
    int64_t n = 0;
    for (int32_t u = 1; u <= U; u++) {
        int32_t interests[3], cur[3];
        int n_int = 1 + (int)mgsd_rng_below(&rng, (uint64_t)(K < 3 ? K : 3));
        for (int j = 0; j < n_int; j++) {
            int32_t c;
            int dup;
            do {
                c = (int32_t)mgsd_rng_below(&rng, (uint64_t)K);
                dup = 0;
                for (int q = 0; q < j; q++) dup |= interests[q] == c;
            } while (dup);
            interests[j] = c;
            cur[j] = 0;
        }
        int32_t len = o->min_len + (int32_t)mgsd_rng_below(&rng, (uint64_t)(o->max_len - o->min_len + 1));
        int active = (int)mgsd_rng_below(&rng, (uint64_t)n_int);
        for (int32_t t = 0; t < len; t++) {
            if (n_int > 1 && mgsd_rng_uniform(&rng) < o->p_switch)
                active = (active + 1 + (int)mgsd_rng_below(&rng, (uint64_t)(n_int - 1))) % n_int;
            int32_t c = interests[active];
            int32_t a = cstart[c], size = cstart[c + 1] - a;
            if (cur[active] == 0 || mgsd_rng_uniform(&rng) >= o->p_follow)
                cur[active] = perm[a + (int32_t)mgsd_rng_below(&rng, (uint64_t)size)];
            else
                cur[active] = succ[cur[active]];
            clean[t] = cur[active];
        }
        int32_t t_noise = (int32_t)lroundf(o->noise * (float)len);
        int32_t total = o->noise_mode == MGSD_NOISE_INSERT ? len + t_noise : len;
        if (t_noise > total) t_noise = total;
        /* Choose t_noise distinct positions of the final sequence (partial Fisher-Yates). */
        for (int32_t j = 0; j < total; j++) {
            pos[j] = j;
            lab[j] = 0;
        }
        for (int32_t j = 0; j < t_noise; j++) {
            int32_t r = j + (int32_t)mgsd_rng_below(&rng, (uint64_t)(total - j));
            int32_t tmp = pos[j];
            pos[j] = pos[r];
            pos[r] = tmp;
            lab[pos[j]] = 1;
        }
        int32_t ci = 0;
        for (int32_t j = 0; j < total; j++) {
            int32_t item;
            if (o->noise_mode == MGSD_NOISE_INSERT) {
                item = lab[j] ? 1 + (int32_t)mgsd_rng_below(&rng, (uint64_t)I) : clean[ci++];
            } else {
                item = clean[j];
                if (lab[j]) { /* a different item than the clean one */
                    int32_t r = 1 + (int32_t)mgsd_rng_below(&rng, (uint64_t)(I - 1));
                    item = r >= clean[j] ? r + 1 : r;
                }
            }
            s->users[n] = u;
            s->items[n] = item;
            s->is_noise[n] = lab[j];
            s->timestamps[n] = 1000000000LL + 3600LL * j;
            n++;
        }
    }
    s->n = n;
done:
    mgsd_free(perm);
    mgsd_free(succ);
    mgsd_free(cstart);
    mgsd_free(clean);
    mgsd_free(pos);
    mgsd_free(lab);
    if (st != MGSD_OK) mgsd_synth_free(s);
    return st;
}

/* ---- output --------------------------------------------------------------------- */

static char *fmt_i64(char *p, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t x = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    if (v < 0) *p++ = '-';
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    while (n) *p++ = tmp[--n];
    return p;
}

/* Render rows as .inter text; with_labels adds the is_noise column. */
static mgsd_status synth_render(const mgsd_synth *s, int with_labels, char **text, size_t *len) {
    static const char h1[] = "user_id:token\titem_id:token\ttimestamp:float";
    static const char h2[] = "\tis_noise:float";
    size_t cap = sizeof h1 + sizeof h2 + 2 + (size_t)s->n * 48;
    char *buf = mgsd_malloc(cap);
    if (!buf) return MGSD_ERR_NOMEM;
    char *p = buf;
    memcpy(p, h1, sizeof h1 - 1);
    p += sizeof h1 - 1;
    if (with_labels) {
        memcpy(p, h2, sizeof h2 - 1);
        p += sizeof h2 - 1;
    }
    *p++ = '\n';
    for (int64_t i = 0; i < s->n; i++) {
        p = fmt_i64(p, s->users[i]);
        *p++ = '\t';
        p = fmt_i64(p, s->items[i]);
        *p++ = '\t';
        p = fmt_i64(p, s->timestamps[i]);
        if (with_labels) {
            *p++ = '\t';
            *p++ = s->is_noise[i] ? '1' : '0';
        }
        *p++ = '\n';
    }
    *p = '\0';
    *text = buf;
    *len = (size_t)(p - buf);
    return MGSD_OK;
}

mgsd_status mgsd_synth_to_text(const mgsd_synth *s, char **text, size_t *len) {
    MGSD_CHECK_ARG(s && text && len);
    return synth_render(s, 0, text, len);
}

void mgsd_synth_free_text(char *text) { mgsd_free(text); }

mgsd_status mgsd_synth_write(const mgsd_synth *s, const char *path) {
    MGSD_CHECK_ARG(s && path && *path);
    char *text = NULL, *npath = NULL;
    size_t len = 0;
    MGSD_TRY(synth_render(s, 0, &text, &len));
    mgsd_status st = mgsd_write_file_atomic(path, text, len);
    mgsd_free(text);
    if (st != MGSD_OK) return st;
    MGSD_TRY(synth_render(s, 1, &text, &len));
    size_t n = strlen(path);
    npath = mgsd_malloc(n + 7);
    if (!npath) {
        mgsd_free(text);
        return MGSD_ERR_NOMEM;
    }
    memcpy(npath, path, n);
    memcpy(npath + n, ".noise", 7);
    st = mgsd_write_file_atomic(npath, text, len);
    mgsd_free(text);
    mgsd_free(npath);
    return st;
}

mgsd_status mgsd_synth_to_dataset(const mgsd_synth *s, const mgsd_data_options *opt, mgsd_dataset **out) {
    MGSD_CHECK_ARG(s && out);
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    MGSD_TRY(synth_render(s, 0, &text, &len));
    mgsd_data_options def;
    if (!opt) {
        mgsd_data_options_default(&def);
        opt = &def;
    }
    mgsd_data_options o = *opt;
    o.format = "inter";
    mgsd_status st = mgsd_dataset_load_buffer(out, text, len, "<synth>", &o);
    mgsd_free(text);
    return st;
}

/* ---- reading labels ----------------------------------------------------------------- */

void mgsd_data_free_labels(uint8_t *labels) { mgsd_free(labels); }

mgsd_status mgsd_data_read_noise_labels(const char *path, uint8_t **labels, int64_t *n_rows) {
    MGSD_CHECK_ARG(path && labels && n_rows);
    *labels = NULL;
    *n_rows = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mgsd_error(MGSD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    int64_t lineno = 0, n = 0, cap = 0;
    int col = -1, nf = 0;
    uint8_t *lab = NULL;
    mgsd_status st = MGSD_OK;
    while ((got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        if (col < 0) {
            /* header: find is_noise */
            int k = 0;
            for (char *p = line;; k++) {
                char *tab = strchr(p, '\t');
                size_t fl = tab ? (size_t)(tab - p) : strlen(p);
                if (fl >= 8 && strncmp(p, "is_noise", 8) == 0 && (fl == 8 || p[8] == ':')) col = k;
                if (!tab) break;
                p = tab + 1;
            }
            nf = k + 1;
            if (col < 0) {
                st = mgsd_error(MGSD_ERR_FORMAT, "%s:%lld: header has no is_noise column", path, (long long)lineno);
                break;
            }
            continue;
        }
        int k = 0;
        char *p = line, *val = NULL;
        for (;; k++) {
            if (k == col) val = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            p = tab + 1;
        }
        if (k + 1 != nf || !val) {
            st = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: expected %d tab-separated fields, found %d", path,
                            (long long)lineno, nf, k + 1);
            break;
        }
        char *end;
        double v = strtod(val, &end);
        if (end == val || (*end && *end != '\t') || !(v == 0 || v == 1)) {
            st = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: is_noise must be 0 or 1", path, (long long)lineno);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nl = mgsd_realloc(lab, (size_t)cap);
            if (!nl) {
                st = MGSD_ERR_NOMEM;
                break;
            }
            lab = nl;
        }
        lab[n++] = v != 0;
    }
    free(line);
    fclose(f);
    if (st == MGSD_OK && col < 0) st = mgsd_error(MGSD_ERR_EMPTY, "%s: empty label file", path);
    if (st != MGSD_OK) {
        mgsd_free(lab);
        return st;
    }
    *labels = lab;
    *n_rows = n;
    return MGSD_OK;
}
