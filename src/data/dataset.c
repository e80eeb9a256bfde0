/* Dataset preparation as in RecBole 1.x: k-core filtering by interaction-count
 * intervals repeated to a fixed point, id remapping after filtering (order of first
 * appearance), per-user stable time sort, accessors and statistics. See docs/data.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "data/data_internal.h"

void mgsd_data_options_default(mgsd_data_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->format = "auto";
    opt->user_inter_num_interval = "[5,inf)";
    opt->item_inter_num_interval = "[5,inf)";
    opt->max_item_list_length = 50;
}

/* ---- intervals ------------------------------------------------------------------ */

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

static int parse_bound(const char *s, size_t n, double *v) {
    char tmp[64];
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (!strcmp(tmp, "inf") || !strcmp(tmp, "+inf")) {
        *v = INFINITY;
        return 0;
    }
    if (!strcmp(tmp, "-inf")) {
        *v = -INFINITY;
        return 0;
    }
    char *end;
    double x = strtod(tmp, &end);
    if (*end || isnan(x)) return -1;
    *v = x;
    return 0;
}

mgsd_status mgsd_data_parse_intervals(const char *s, double *lo, double *hi, int *flags, int *n) {
    MGSD_CHECK_ARG(s && lo && hi && flags && n && *n > 0);
    int cap = *n, count = 0;
    const char *p = skip_ws(s);
    while (*p) {
        const char *q = strchr(p, ';');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len < 5 || (p[0] != '[' && p[0] != '(') || (p[len - 1] != ']' && p[len - 1] != ')'))
            return mgsd_error(MGSD_ERR_CONFIG,
                              "interval '%s': expected RecBole syntax like \"[5,inf)\" or \"(0,100]\"", s);
        const char *comma = memchr(p, ',', len);
        if (!comma) return mgsd_error(MGSD_ERR_CONFIG, "interval '%s': missing ',' between the bounds", s);
        double a, b;
        if (parse_bound(p + 1, (size_t)(comma - p - 1), &a) ||
            parse_bound(comma + 1, (size_t)(p + len - 1 - comma - 1), &b))
            return mgsd_error(MGSD_ERR_CONFIG, "interval '%s': bounds must be numbers or inf", s);
        if (a > b) return mgsd_error(MGSD_ERR_CONFIG, "interval '%s': lower bound above upper bound", s);
        if (count == cap) return mgsd_error(MGSD_ERR_CONFIG, "interval '%s': more than %d intervals", s, cap);
        lo[count] = a;
        hi[count] = b;
        flags[count] = (p[0] == '[' ? 1 : 0) | (p[len - 1] == ']' ? 2 : 0);
        count++;
        if (!q) break;
        p = skip_ws(q + 1);
    }
    *n = count;
    return MGSD_OK;
}

typedef struct interval_set {
    int n; /* 0 = no filter */
    double lo[8], hi[8];
    int flags[8];
} interval_set;

/* YAML's and RecBole's ways of writing "no value": "", "~", "null", "None". */
static int is_none(const char *s) {
    s = s ? skip_ws(s) : "";
    return !*s || !strcmp(s, "~") || !strcasecmp(s, "null") || !strcasecmp(s, "none");
}

static mgsd_status intervals_load(interval_set *is, const char *s) {
    is->n = 0;
    if (is_none(s)) return MGSD_OK;
    int n = 8;
    MGSD_TRY(mgsd_data_parse_intervals(s, is->lo, is->hi, is->flags, &n));
    is->n = n;
    return MGSD_OK;
}

/* val_interval text ("rating=[3,inf) timestamp=[0,10]") into field names (copied into
 * names[k][64]) and interval sets. A field's intervals end where a blank is followed by
 * the next "name=". */
static mgsd_status value_filters_parse(const char *s, char (*names)[64], interval_set *sets, int *n_out) {
    int n = 0;
    const char *p = is_none(s) ? "" : skip_ws(s);
    while (*p) {
        const char *eq = strchr(p, '=');
        size_t nl = eq ? (size_t)(eq - p) : 0;
        if (!eq || nl == 0 || nl >= 64 || memchr(p, ' ', nl) || memchr(p, '\t', nl))
            return mgsd_error(MGSD_ERR_CONFIG, "val_interval '%s': expected field=interval, e.g. rating=[3,inf)", s);
        if (n == DATA_MAX_VALUE_FIELDS)
            return mgsd_error(MGSD_ERR_CONFIG, "val_interval '%s': more than %d fields", s, DATA_MAX_VALUE_FIELDS);
        const char *v = eq + 1, *end = v;
        for (;;) { /* the end of this field's intervals */
            end += strcspn(end, " \t");
            if (!*end) break;
            const char *q = skip_ws(end);
            size_t id = 0;
            while (q[id] && (q[id] == '_' || (q[id] >= 'a' && q[id] <= 'z') || (q[id] >= 'A' && q[id] <= 'Z') ||
                             (q[id] >= '0' && q[id] <= '9')))
                id++;
            if (id > 0 && q[id] == '=') break;
            end = q;
        }
        char text[512];
        snprintf(text, sizeof text, "%.*s", (int)(end - v), v);
        memcpy(names[n], p, nl);
        names[n][nl] = '\0';
        MGSD_TRY(intervals_load(&sets[n], text));
        if (sets[n].n == 0) return mgsd_error(MGSD_ERR_CONFIG, "val_interval '%s': field '%s' has no interval", s, names[n]);
        n++;
        p = skip_ws(end);
    }
    *n_out = n;
    return MGSD_OK;
}

static int intervals_contain(const interval_set *is, double x) {
    if (!is->n) return 1;
    for (int k = 0; k < is->n; k++) {
        int lo_ok = (is->flags[k] & 1) ? x >= is->lo[k] : x > is->lo[k];
        int hi_ok = (is->flags[k] & 2) ? x <= is->hi[k] : x < is->hi[k];
        if (lo_ok && hi_ok) return 1;
    }
    return 0;
}

/* ---- stable sort of (timestamp, row) pairs -------------------------------------- */

typedef struct ts_row {
    double ts;
    int64_t row;
} ts_row;

/* Stable: ties keep their order (rows arrive in file order). tmp holds n/2 + 1 pairs. */
static void merge_sort_pairs(ts_row *a, ts_row *tmp, int64_t n) {
    if (n < 24) {
        for (int64_t i = 1; i < n; i++) {
            ts_row v = a[i];
            int64_t j = i;
            while (j > 0 && a[j - 1].ts > v.ts) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    int64_t h = n / 2;
    merge_sort_pairs(a, tmp, h);
    merge_sort_pairs(a + h, tmp, n - h);
    if (a[h - 1].ts <= a[h].ts) return;
    memcpy(tmp, a, (size_t)h * sizeof *a);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) a[k++] = a[j].ts < tmp[i].ts ? a[j++] : tmp[i++];
    while (i < h) a[k++] = tmp[i++];
}

/* ---- building ------------------------------------------------------------------- */

void mgsd_dataset_free(mgsd_dataset *ds) {
    if (!ds) return;
    mgsd_free(ds->user_offs);
    mgsd_free(ds->items);
    mgsd_free(ds->ts);
    mgsd_free(ds->src_rows);
    mgsd_free(ds->user_raw);
    mgsd_free(ds->item_raw);
    mgsd_free(ds->user_dense);
    mgsd_free(ds->item_dense);
    data_intern_free(&ds->user_names);
    data_intern_free(&ds->item_names);
    mgsd_free(ds);
}

/* rm_dup_inter text: 0 keep all, 1 first, 2 last. */
static mgsd_status dup_mode_parse(const char *s, int *mode) {
    *mode = 0;
    if (is_none(s)) return MGSD_OK;
    if (!strcasecmp(s, "first")) *mode = 1;
    else if (!strcasecmp(s, "last")) *mode = 2;
    else return mgsd_error(MGSD_ERR_CONFIG, "rm_dup_inter '%s': expected none, first or last", s);
    return MGSD_OK;
}

typedef struct dup_key {
    int32_t user, item;
    double ts;
    int64_t row;
} dup_key;

static int dup_cmp(const void *a, const void *b) {
    const dup_key *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* RecBole _remove_duplication: of each (user, item) pair keep the row that comes first (mode
 * 1) or last (2) in time order, ties in file order; the others are marked dead. */
static mgsd_status remove_duplicates(const data_raw *r, int mode, uint8_t *alive, int64_t *n_alive) {
    int64_t n = r->n;
    dup_key *k = mgsd_malloc((size_t)n * sizeof *k);
    if (!k) return MGSD_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) k[i] = (dup_key){r->user[i], r->item[i], r->ts[i], i};
    qsort(k, (size_t)n, sizeof *k, dup_cmp);
    for (int64_t a = 0; a < n;) {
        int64_t b = a + 1;
        while (b < n && k[b].user == k[a].user && k[b].item == k[a].item) b++;
        int64_t keep = mode == 1 ? k[a].row : k[b - 1].row;
        for (int64_t i = a; i < b; i++)
            if (k[i].row != keep && alive[k[i].row]) {
                alive[k[i].row] = 0;
                (*n_alive)--;
            }
        a = b;
    }
    mgsd_free(k);
    return MGSD_OK;
}

/* dup_mode and value_sets: rm_dup_inter and val_interval, parsed before the file is read. */
static mgsd_status build_dataset(data_raw *r, const mgsd_data_options *opt, int dup_mode, const interval_set *value_sets,
                                 const char *name, mgsd_dataset **out) {
    interval_set ui, ii;
    MGSD_TRY(intervals_load(&ui, opt->user_inter_num_interval));
    MGSD_TRY(intervals_load(&ii, opt->item_inter_num_interval));

    mgsd_status st = MGSD_OK;
    int64_t n = r->n;
    int32_t nu_raw = r->users.n, ni_raw = r->items.n;
    uint8_t *alive = mgsd_malloc((size_t)n);
    int64_t *ucnt = mgsd_calloc((size_t)nu_raw + 1, sizeof *ucnt);
    int64_t *icnt = mgsd_calloc((size_t)ni_raw + 1, sizeof *icnt);
    uint8_t *uban = mgsd_calloc((size_t)nu_raw + 1, 1);
    uint8_t *iban = mgsd_calloc((size_t)ni_raw + 1, 1);
    mgsd_dataset *ds = mgsd_calloc(1, sizeof *ds);
    int64_t *rows = NULL;
    ts_row *pairs = NULL;
    if (!alive || !ucnt || !icnt || !uban || !iban || !ds) {
        st = MGSD_ERR_NOMEM;
        goto done;
    }
    memset(alive, 1, (size_t)n);

    /* RecBole's order: _remove_duplication (rm_dup_inter), _filter_by_field_value
     * (val_interval), then _filter_by_inter_num: count
     * on the current rows, ban users and items outside their intervals simultaneously, drop
     * their rows, repeat until stable. */
    int64_t n_alive = n;
    if (dup_mode && (st = remove_duplicates(r, dup_mode, alive, &n_alive)) != MGSD_OK) goto done;
    for (int f = 0; f < r->n_value_fields; f++)
        for (int64_t k = 0; k < n; k++)
            if (alive[k] && !intervals_contain(&value_sets[f], r->values[f][k])) {
                alive[k] = 0;
                n_alive--;
            }
    if (ui.n || ii.n) {
        for (;;) {
            memset(ucnt, 0, (size_t)nu_raw * sizeof *ucnt);
            memset(icnt, 0, (size_t)ni_raw * sizeof *icnt);
            for (int64_t k = 0; k < n; k++)
                if (alive[k]) {
                    ucnt[r->user[k]]++;
                    icnt[r->item[k]]++;
                }
            int64_t banned = 0;
            for (int32_t u = 0; u < nu_raw; u++) {
                uban[u] = ucnt[u] > 0 && !intervals_contain(&ui, (double)ucnt[u]);
                banned += uban[u];
            }
            for (int32_t i = 0; i < ni_raw; i++) {
                iban[i] = icnt[i] > 0 && !intervals_contain(&ii, (double)icnt[i]);
                banned += iban[i];
            }
            if (!banned) break;
            for (int64_t k = 0; k < n; k++)
                if (alive[k] && (uban[r->user[k]] || iban[r->item[k]])) {
                    alive[k] = 0;
                    n_alive--;
                }
        }
    }
    if (n_alive == 0) {
        st = mgsd_error(MGSD_ERR_EMPTY,
                        "%s: no interaction left after filtering (val_interval '%s', user_inter_num_interval '%s', "
                        "item_inter_num_interval '%s'; %lld rows read)",
                        name, opt->val_interval ? opt->val_interval : "",
                        opt->user_inter_num_interval ? opt->user_inter_num_interval : "",
                        opt->item_inter_num_interval ? opt->item_inter_num_interval : "", (long long)n);
        goto done;
    }

    /* Remap in order of first appearance among the surviving rows. */
    ds->user_dense = mgsd_malloc(((size_t)nu_raw + 1) * sizeof(int32_t));
    ds->item_dense = mgsd_malloc(((size_t)ni_raw + 1) * sizeof(int32_t));
    if (!ds->user_dense || !ds->item_dense) {
        st = MGSD_ERR_NOMEM;
        goto done;
    }
    for (int32_t u = 0; u < nu_raw; u++) ds->user_dense[u] = -1;
    for (int32_t i = 0; i < ni_raw; i++) ds->item_dense[i] = -1;
    int32_t U = 0, N = 1;
    for (int64_t k = 0; k < n; k++) {
        if (!alive[k]) continue;
        if (ds->user_dense[r->user[k]] < 0) ds->user_dense[r->user[k]] = ++U;
        if (ds->item_dense[r->item[k]] < 0) ds->item_dense[r->item[k]] = N++;
    }
    ds->n_users = U;
    ds->n_items = N;
    ds->n_inter = n_alive;
    ds->rows_read = n;
    ds->format = r->format;
    ds->max_len = opt->max_item_list_length > 0 ? opt->max_item_list_length : 50;
    ds->user_raw = mgsd_malloc(((size_t)U + 1) * sizeof(int32_t));
    ds->item_raw = mgsd_malloc((size_t)N * sizeof(int32_t));
    ds->user_offs = mgsd_calloc((size_t)U + 2, sizeof(int64_t));
    ds->items = mgsd_malloc((size_t)n_alive * sizeof(int32_t));
    ds->ts = mgsd_malloc((size_t)n_alive * sizeof(double));
    ds->src_rows = mgsd_malloc((size_t)n_alive * sizeof(int64_t));
    rows = mgsd_malloc((size_t)n_alive * sizeof *rows);
    if (!ds->user_raw || !ds->item_raw || !ds->user_offs || !ds->items || !ds->ts || !ds->src_rows || !rows) {
        st = MGSD_ERR_NOMEM;
        goto done;
    }
    ds->user_raw[0] = -1;
    ds->item_raw[0] = -1;
    for (int32_t u = 0; u < nu_raw; u++)
        if (ds->user_dense[u] > 0) ds->user_raw[ds->user_dense[u]] = u;
    for (int32_t i = 0; i < ni_raw; i++)
        if (ds->item_dense[i] > 0) ds->item_raw[ds->item_dense[i]] = i;

    /* Counting sort by dense user (stable: file order within a user). */
    int64_t *offs = ds->user_offs;
    for (int64_t k = 0; k < n; k++)
        if (alive[k]) offs[ds->user_dense[r->user[k]] + 1]++;
    for (int32_t u = 1; u <= U + 1; u++) offs[u] += offs[u - 1];
    /* offs[u] is now the start of user u (offs[0] == offs[1] == 0); place rows. */
    {
        int64_t *cur = ucnt; /* reuse: needs U+1 entries; ucnt has nu_raw+1 >= U+1 */
        for (int32_t u = 0; u <= U; u++) cur[u] = offs[u];
        for (int64_t k = 0; k < n; k++)
            if (alive[k]) rows[cur[ds->user_dense[r->user[k]]]++] = k;
    }
    int64_t max_len = 0;
    for (int32_t u = 1; u <= U; u++) {
        int64_t len = offs[u + 1] - offs[u];
        if (len > max_len) max_len = len;
    }
    if (r->has_ts) {
        /* Gather each user's (ts, row) pairs once, sort them contiguously, scatter back. */
        pairs = mgsd_malloc((size_t)(max_len > 0 ? max_len : 1) * 3 / 2 * sizeof *pairs + sizeof *pairs);
        if (!pairs) {
            st = MGSD_ERR_NOMEM;
            goto done;
        }
        ts_row *ptmp = pairs + max_len;
        for (int32_t u = 1; u <= U; u++) {
            int64_t a = offs[u], len = offs[u + 1] - a;
            int sorted = 1;
            for (int64_t k = 0; k < len; k++) {
                pairs[k].row = rows[a + k];
                pairs[k].ts = r->ts[pairs[k].row];
                sorted &= k == 0 || pairs[k - 1].ts <= pairs[k].ts;
            }
            if (sorted) continue;
            merge_sort_pairs(pairs, ptmp, len);
            for (int64_t k = 0; k < len; k++) rows[a + k] = pairs[k].row;
        }
    }
    for (int64_t k = 0; k < n_alive; k++) {
        int64_t row = rows[k];
        ds->items[k] = ds->item_dense[r->item[row]];
        ds->ts[k] = r->ts[row];
        ds->src_rows[k] = row;
    }
    /* Take over the interners (raw keeps empty ones). */
    ds->user_names = r->users;
    ds->item_names = r->items;
    data_intern_init(&r->users);
    data_intern_init(&r->items);
    *out = ds;
    ds = NULL;
    st = MGSD_OK;
done:
    if (st == MGSD_ERR_NOMEM && !*mgsd_last_error()) mgsd_error(st, "%s: out of memory while preparing", name);
    mgsd_free(pairs);
    mgsd_free(rows);
    mgsd_free(alive);
    mgsd_free(ucnt);
    mgsd_free(icnt);
    mgsd_free(uban);
    mgsd_free(iban);
    mgsd_dataset_free(ds);
    return st;
}

static mgsd_status load_common(mgsd_dataset **out, const char *path, const void *mem, size_t size,
                               const char *name, const mgsd_data_options *opt) {
    MGSD_CHECK_ARG(out);
    *out = NULL;
    mgsd_data_options def;
    if (!opt) {
        mgsd_data_options_default(&def);
        opt = &def;
    }
    char fields[DATA_MAX_VALUE_FIELDS][64];
    interval_set sets[DATA_MAX_VALUE_FIELDS];
    int nf = 0;
    int dup_mode;
    MGSD_TRY(dup_mode_parse(opt->rm_dup_inter, &dup_mode));
    MGSD_TRY(value_filters_parse(opt->val_interval, fields, sets, &nf));
    data_raw r;
    data_raw_init(&r);
    r.n_value_fields = nf;
    for (int k = 0; k < nf; k++) r.value_field[k] = fields[k];
    mgsd_status st = data_read(&r, path, mem, size, name, opt->format);
    if (st == MGSD_OK) st = build_dataset(&r, opt, dup_mode, sets, name ? name : path ? path : "<memory>", out);
    data_raw_free(&r);
    return st;
}

mgsd_status mgsd_dataset_load(mgsd_dataset **out, const char *path, const mgsd_data_options *opt) {
    MGSD_CHECK_ARG(path);
    return load_common(out, path, NULL, 0, path, opt);
}

mgsd_status mgsd_dataset_load_buffer(mgsd_dataset **out, const void *data, size_t size, const char *name,
                                     const mgsd_data_options *opt) {
    MGSD_CHECK_ARG(data || size == 0);
    return load_common(out, NULL, data ? data : "", size, name ? name : "<memory>", opt);
}

/* ---- accessors ------------------------------------------------------------------ */

int32_t mgsd_dataset_num_users(const mgsd_dataset *ds) { return ds->n_users; }
int32_t mgsd_dataset_num_items(const mgsd_dataset *ds) { return ds->n_items; }
int64_t mgsd_dataset_num_interactions(const mgsd_dataset *ds) { return ds->n_inter; }
int64_t mgsd_dataset_num_rows_read(const mgsd_dataset *ds) { return ds->rows_read; }
const char *mgsd_dataset_format(const mgsd_dataset *ds) { return ds->format; }
int mgsd_dataset_max_item_list_length(const mgsd_dataset *ds) { return ds->max_len; }
const int64_t *mgsd_dataset_user_offsets(const mgsd_dataset *ds) { return ds->user_offs; }
const int32_t *mgsd_dataset_item_array(const mgsd_dataset *ds) { return ds->items; }
const double *mgsd_dataset_timestamps(const mgsd_dataset *ds) { return ds->ts; }
const int64_t *mgsd_dataset_source_rows(const mgsd_dataset *ds) { return ds->src_rows; }

mgsd_status mgsd_dataset_user_items(const mgsd_dataset *ds, int32_t user, const int32_t **items,
                                    int32_t *len) {
    MGSD_CHECK_ARG(ds && items && len);
    if (user < 1 || user > ds->n_users)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "user id %d outside 1..%d", (int)user, (int)ds->n_users);
    *items = ds->items + ds->user_offs[user];
    *len = (int32_t)(ds->user_offs[user + 1] - ds->user_offs[user]);
    return MGSD_OK;
}

const char *mgsd_dataset_item_name(const mgsd_dataset *ds, int32_t item) {
    if (!ds || item < 1 || item >= ds->n_items) return NULL;
    return data_intern_str(&ds->item_names, ds->item_raw[item]);
}

const char *mgsd_dataset_user_name(const mgsd_dataset *ds, int32_t user) {
    if (!ds || user < 1 || user > ds->n_users) return NULL;
    return data_intern_str(&ds->user_names, ds->user_raw[user]);
}

int32_t mgsd_dataset_find_item(const mgsd_dataset *ds, const char *name) {
    if (!ds || !name) return -1;
    int32_t raw = data_intern_find(&ds->item_names, name, strlen(name));
    return raw < 0 ? -1 : ds->item_dense[raw];
}

int32_t mgsd_dataset_find_user(const mgsd_dataset *ds, const char *name) {
    if (!ds || !name) return -1;
    int32_t raw = data_intern_find(&ds->user_names, name, strlen(name));
    return raw < 0 ? -1 : ds->user_dense[raw];
}

/* ---- statistics ----------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

mgsd_status mgsd_dataset_stats(const mgsd_dataset *ds, mgsd_data_stats *st) {
    MGSD_CHECK_ARG(ds && st);
    memset(st, 0, sizeof *st);
    int32_t U = ds->n_users;
    st->users = U;
    st->items = ds->n_items - 1;
    st->interactions = ds->n_inter;
    st->rows_read = ds->rows_read;
    int32_t *lens = mgsd_malloc((size_t)(U > 0 ? U : 1) * sizeof *lens);
    if (!lens) return MGSD_ERR_NOMEM;
    for (int32_t u = 1; u <= U; u++) {
        int64_t n = ds->user_offs[u + 1] - ds->user_offs[u];
        int hv, ht;
        st->train_instances += data_split_counts(n, &hv, &ht);
        st->valid_instances += hv;
        st->test_instances += ht;
        lens[u - 1] = (int32_t)n;
    }
    if (U > 0) {
        qsort(lens, (size_t)U, sizeof *lens, cmp_i32);
        st->len_min = lens[0];
        st->len_max = lens[U - 1];
        st->len_median = U % 2 ? lens[U / 2] : 0.5 * ((double)lens[U / 2 - 1] + lens[U / 2]);
        st->len_mean = (double)ds->n_inter / U;
        st->sparsity = 1.0 - (double)ds->n_inter / ((double)U * (double)st->items);
    }
    mgsd_free(lens);
    return MGSD_OK;
}

mgsd_status mgsd_dataset_map_row_labels(const mgsd_dataset *ds, const uint8_t *row_labels, int64_t n_rows,
                                        uint8_t *out) {
    MGSD_CHECK_ARG(ds && row_labels && out && n_rows >= 0);
    for (int64_t k = 0; k < ds->n_inter; k++) {
        int64_t r = ds->src_rows[k];
        if (r >= n_rows)
            return mgsd_error(MGSD_ERR_SHAPE, "labels cover %lld rows but the dataset has row %lld",
                              (long long)n_rows, (long long)r);
        out[k] = row_labels[r];
    }
    return MGSD_OK;
}
