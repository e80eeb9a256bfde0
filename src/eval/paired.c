/* Paired comparison of two models on the same users (per-user metric differences, paired
 * z-test, McNemar's exact test on hit@K) and the rank files that carry per-user ranks from
 * `mgsd eval --ranks` to `mgsd compare`. Formats and conventions: include/mgsd/eval.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "eval/rank_metrics.h"
#include "mgsd/eval.h"

static const char rank_header[] = "user_id\titem_id\trank";

/* Per-user value of a metric at K from a 0-based rank. */
enum { M_HIT, M_NDCG, M_MRR };
static double metric_at(int which, int64_t r, int k) {
    if (r >= k) return 0.0;
    switch (which) {
    case M_HIT: return 1.0;
    case M_NDCG: return rank_ndcg(r);
    default: return rank_mrr(r);
    }
}

static void paired_metric(int which, const int64_t *ra, const int64_t *rb, int64_t n, int k,
                          mgsd_paired_metric *m) {
    double sa = 0, sb = 0;
    for (int64_t i = 0; i < n; i++) {
        sa += metric_at(which, ra[i], k);
        sb += metric_at(which, rb[i], k);
    }
    m->a = sa / (double)n;
    m->b = sb / (double)n;
    m->diff = m->b - m->a;
    double ss = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = metric_at(which, rb[i], k) - metric_at(which, ra[i], k) - m->diff;
        ss += e * e;
    }
    m->se = sqrt(ss / (double)(n - 1) / (double)n);
    m->lo = m->diff - 1.96 * m->se;
    m->hi = m->diff + 1.96 * m->se;
    m->p = m->se > 0 ? erfc(fabs(m->diff / m->se) / sqrt(2.0)) : 1.0;
}

/* Two-sided exact binomial p-value of x successes out of m at probability 1/2:
 * min(1, 2 P(X <= min(x, m - x))). */
static double binomial_two_sided(int64_t x, int64_t m) {
    if (m == 0) return 1.0;
    int64_t lo = x < m - x ? x : m - x;
    double lm = lgamma((double)m + 1.0), tail = 0;
    for (int64_t i = 0; i <= lo; i++)
        tail += exp(lm - lgamma((double)i + 1.0) - lgamma((double)(m - i) + 1.0) - (double)m * log(2.0));
    return tail * 2.0 < 1.0 ? tail * 2.0 : 1.0;
}

mgsd_status mgsd_eval_paired(const int64_t *rank_a, const int64_t *rank_b, int64_t n, int k,
                             mgsd_paired_result *out) {
    MGSD_CHECK_ARG(rank_a && rank_b && out);
    if (n < 2) return mgsd_error(MGSD_ERR_INVALID_ARG, "paired comparison needs at least 2 users, got %lld", (long long)n);
    if (k < 1) return mgsd_error(MGSD_ERR_INVALID_ARG, "paired comparison: K must be >= 1, got %d", k);
    memset(out, 0, sizeof *out);
    for (int64_t i = 0; i < n; i++) {
        if (rank_a[i] < 0 || rank_b[i] < 0)
            return mgsd_error(MGSD_ERR_INVALID_ARG, "paired comparison: negative rank at row %lld", (long long)i);
        int ha = rank_a[i] < k, hb = rank_b[i] < k;
        out->only_a += ha && !hb;
        out->only_b += hb && !ha;
    }
    out->n = n;
    out->k = k;
    paired_metric(M_HIT, rank_a, rank_b, n, k, &out->hit);
    paired_metric(M_NDCG, rank_a, rank_b, n, k, &out->ndcg);
    paired_metric(M_MRR, rank_a, rank_b, n, k, &out->mrr);
    out->p_mcnemar = binomial_two_sided(out->only_b, out->only_a + out->only_b);
    return MGSD_OK;
}

/* Continued fraction of the regularised incomplete beta function (modified Lentz), for
 * x < (a + 1) / (a + b + 2), where it converges fast. */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        double aa = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)); /* even step */
        d = 1.0 + aa * d;
        c = 1.0 + aa / c;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        if (fabs(c) < tiny) c = tiny;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)); /* odd step */
        d = 1.0 + aa * d;
        c = 1.0 + aa / c;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        if (fabs(c) < tiny) c = tiny;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15) break;
    }
    return h;
}

/* I_x(a, b), the regularised incomplete beta function. */
static double beta_reg(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_cf(a, b, x) / a;
    return 1.0 - front * beta_cf(b, a, 1.0 - x) / b;
}

double mgsd_student_t_p(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return 0.0;
    return beta_reg(0.5 * df, 0.5, df / (df + t * t));
}

double mgsd_student_t_quantile(double prob, double df) {
    if (!(prob > 0.0 && prob < 1.0) || !(df > 0)) return NAN;
    if (prob == 0.5) return 0.0;
    double target = 2.0 * (prob > 0.5 ? 1.0 - prob : prob); /* two-sided p of |q| */
    double lo = 0.0, hi = 1.0;
    while (mgsd_student_t_p(hi, df) > target && hi < 1e300) hi *= 2.0;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (mgsd_student_t_p(mid, df) > target) lo = mid;
        else hi = mid;
    }
    double q = 0.5 * (lo + hi);
    return prob > 0.5 ? q : -q;
}

static void runs_metric(const mgsd_paired_metric *const *m, int runs, mgsd_runs_metric *o) {
    double sa = 0, sb = 0, sd = 0;
    for (int i = 0; i < runs; i++) {
        sa += m[i]->a;
        sb += m[i]->b;
        sd += m[i]->diff;
    }
    o->a = sa / runs;
    o->b = sb / runs;
    o->diff = sd / runs;
    double ss = 0;
    for (int i = 0; i < runs; i++) ss += (m[i]->diff - o->diff) * (m[i]->diff - o->diff);
    o->sd = sqrt(ss / (runs - 1));
    o->se = o->sd / sqrt((double)runs);
    double q = mgsd_student_t_quantile(0.975, runs - 1);
    o->lo = o->diff - q * o->se;
    o->hi = o->diff + q * o->se;
    /* Differences that agree to rounding count as identical (se 0). */
    if (o->se <= 1e-12 * (fabs(o->diff) + 1e-300)) {
        o->se = 0;
        o->t = o->diff == 0 ? 0 : o->diff > 0 ? INFINITY : -INFINITY;
        o->p = o->diff == 0 ? 1.0 : 0.0;
    } else {
        o->t = o->diff / o->se;
        o->p = mgsd_student_t_p(o->t, runs - 1);
    }
}

mgsd_status mgsd_eval_paired_runs(const mgsd_paired_result *r, int runs, mgsd_runs_result *out) {
    MGSD_CHECK_ARG(r && out);
    if (runs < 2)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "comparison over runs needs at least 2 runs of each model, got %d",
                          runs);
    if (runs > MGSD_EVAL_MAX_RUNS)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "comparison over runs: at most %d runs, got %d", MGSD_EVAL_MAX_RUNS,
                          runs);
    for (int i = 1; i < runs; i++)
        if (r[i].k != r[0].k || r[i].n != r[0].n)
            return mgsd_error(MGSD_ERR_INVALID_ARG, "comparison over runs: run %d has K %d and %lld users, run 1 K %d "
                              "and %lld", i + 1, r[i].k, (long long)r[i].n, r[0].k, (long long)r[0].n);
    const mgsd_paired_metric *m[3][MGSD_EVAL_MAX_RUNS];
    for (int i = 0; i < runs; i++) {
        m[0][i] = &r[i].hit;
        m[1][i] = &r[i].ndcg;
        m[2][i] = &r[i].mrr;
    }
    memset(out, 0, sizeof *out);
    out->runs = runs;
    out->k = r[0].k;
    runs_metric(m[0], runs, &out->hit);
    runs_metric(m[1], runs, &out->ndcg);
    runs_metric(m[2], runs, &out->mrr);
    return MGSD_OK;
}

mgsd_status mgsd_rank_file_write(const char *path, const mgsd_dataset *ds, const int64_t *user_ranks,
                                 const int32_t *user_targets) {
    MGSD_CHECK_ARG(path && ds && user_ranks && user_targets);
    mgsd_afile af;
    MGSD_TRY(mgsd_afile_open(&af, path));
    fprintf(af.f, "%s\n", rank_header);
    int32_t U = mgsd_dataset_num_users(ds);
    for (int32_t u = 1; u <= U; u++)
        if (user_ranks[u] >= 0)
            fprintf(af.f, "%s\t%s\t%lld\n", mgsd_dataset_user_name(ds, u),
                    mgsd_dataset_item_name(ds, user_targets[u]), (long long)user_ranks[u] + 1);
    return mgsd_afile_commit(&af);
}

void mgsd_rank_file_free(mgsd_rank_file *f) {
    if (!f) return;
    mgsd_free(f->users);
    mgsd_free(f->items);
    mgsd_free(f->ranks);
    mgsd_free(f->lines);
    mgsd_free(f->buf);
    memset(f, 0, sizeof *f);
}

typedef struct user_row {
    const char *user;
    int64_t row;
} user_row;

static int cmp_user_row(const void *x, const void *y) {
    const user_row *a = x, *b = y;
    int c = strcmp(a->user, b->user);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

/* Rows sorted by user (ties by row); NULL when out of memory. */
static user_row *sorted_users(const mgsd_rank_file *f) {
    user_row *s = mgsd_malloc((size_t)(f->n ? f->n : 1) * sizeof *s);
    if (!s) return NULL;
    for (int64_t i = 0; i < f->n; i++) s[i] = (user_row){f->users[i], i};
    qsort(s, (size_t)f->n, sizeof *s, cmp_user_row);
    return s;
}

/* Parses out->buf (len bytes, NUL-terminated; out owns it) in place; path names the file in
 * errors. Frees everything on error. */
static mgsd_status parse_rank_file(const char *path, size_t len, mgsd_rank_file *out) {
    int64_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += out->buf[i] == '\n';
    size_t z = strlen(out->buf);
    if (z < len) {
        int64_t line = 1;
        for (size_t i = 0; i < z; i++) line += out->buf[i] == '\n';
        mgsd_status e = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: NUL byte: not a text file", path, (long long)line);
        mgsd_rank_file_free(out);
        return e;
    }
    out->users = mgsd_malloc((size_t)cap * sizeof *out->users);
    out->items = mgsd_malloc((size_t)cap * sizeof *out->items);
    out->ranks = mgsd_malloc((size_t)cap * sizeof *out->ranks);
    out->lines = mgsd_malloc((size_t)cap * sizeof *out->lines);
    mgsd_status st = MGSD_OK;
    if (!out->users || !out->items || !out->ranks || !out->lines) st = MGSD_ERR_NOMEM;
    int have_header = 0;
    char *p = out->buf;
    for (int64_t lineno = 1; st == MGSD_OK && *p; lineno++) {
        char *line = p, *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
        if (nl) *nl = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        if (l == 0) continue;
        if (!have_header) {
            if (strcmp(line, rank_header) != 0)
                st = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: not a rank file: the header must be user_id, item_id, rank "
                                "(TAB-separated), as `mgsd eval --ranks` writes it", path, (long long)lineno);
            have_header = 1;
            continue;
        }
        char *f[4] = {line, NULL, NULL, NULL};
        int nf = 1;
        for (char *c = line; *c; c++)
            if (*c == '\t') {
                *c = '\0';
                if (nf < 4) f[nf] = c + 1;
                nf++;
            }
        if (nf != 3) {
            st = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: expected 3 TAB-separated fields (user_id, item_id, rank), found %d",
                            path, (long long)lineno, nf);
            break;
        }
        if (!*f[0] || !*f[1]) {
            st = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: empty user or item id", path, (long long)lineno);
            break;
        }
        char *end;
        errno = 0;
        long long r = strtoll(f[2], &end, 10);
        if (*end || end == f[2] || errno || r < 1) {
            st = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: rank '%s' is not a positive integer (1 = first)", path,
                            (long long)lineno, f[2]);
            break;
        }
        out->users[out->n] = f[0];
        out->items[out->n] = f[1];
        out->ranks[out->n] = r - 1;
        out->lines[out->n] = lineno;
        out->n++;
    }
    if (st == MGSD_OK && out->n == 0)
        st = mgsd_error(MGSD_ERR_EMPTY, "%s: %s", path, have_header ? "no users after the header" : "empty file");
    user_row *s = NULL;
    if (st == MGSD_OK && !(s = sorted_users(out))) st = MGSD_ERR_NOMEM;
    for (int64_t i = 1; st == MGSD_OK && i < out->n; i++)
        if (!strcmp(s[i].user, s[i - 1].user))
            st = mgsd_error(MGSD_ERR_PARSE, "%s:%lld: user '%s' is listed twice (first at line %lld)", path,
                            (long long)out->lines[s[i].row], s[i].user, (long long)out->lines[s[i - 1].row]);
    mgsd_free(s);
    if (st != MGSD_OK) mgsd_rank_file_free(out);
    return st;
}

mgsd_status mgsd_rank_file_read(const char *path, mgsd_rank_file *out) {
    MGSD_CHECK_ARG(path && out);
    memset(out, 0, sizeof *out);
    size_t len = 0;
    MGSD_TRY(mgsd_read_file(path, "rank file", &out->buf, &len));
    return parse_rank_file(path, len, out);
}

mgsd_status mgsd_rank_file_parse(const char *name, const void *text, size_t len, mgsd_rank_file *out) {
    MGSD_CHECK_ARG(name && (text || len == 0) && out);
    memset(out, 0, sizeof *out);
    if (!(out->buf = mgsd_malloc(len + 1))) return MGSD_ERR_NOMEM;
    if (len) memcpy(out->buf, text, len);
    out->buf[len] = '\0';
    return parse_rank_file(name, len, out);
}

mgsd_status mgsd_rank_files_pair(const mgsd_rank_file *a, const char *path_a, const mgsd_rank_file *b,
                                 const char *path_b, int64_t *rank_a, int64_t *rank_b) {
    MGSD_CHECK_ARG(a && b && path_a && path_b && rank_a && rank_b);
    user_row *s = sorted_users(b);
    uint8_t *used = mgsd_calloc((size_t)(b->n ? b->n : 1), 1);
    mgsd_status st = s && used ? MGSD_OK : MGSD_ERR_NOMEM;
    for (int64_t i = 0; st == MGSD_OK && i < a->n; i++) {
        user_row key = {a->users[i], -1};
        int64_t lo = 0, hi = b->n; /* first row of b whose user is >= a's */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (cmp_user_row(&s[mid], &key) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo == b->n || strcmp(s[lo].user, a->users[i])) {
            st = mgsd_error(MGSD_ERR_FORMAT, "%s:%lld: user '%s' is not in %s: the files must come from the same "
                            "data set and split", path_a, (long long)a->lines[i], a->users[i], path_b);
            break;
        }
        int64_t j = s[lo].row;
        if (strcmp(a->items[i], b->items[j])) {
            st = mgsd_error(MGSD_ERR_FORMAT, "%s:%lld: user '%s' has target item '%s' but '%s' in %s:%lld: the files "
                            "must come from the same data set and split", path_a, (long long)a->lines[i], a->users[i],
                            a->items[i], b->items[j], path_b, (long long)b->lines[j]);
            break;
        }
        used[j] = 1;
        rank_a[i] = a->ranks[i];
        rank_b[i] = b->ranks[j];
    }
    for (int64_t j = 0; st == MGSD_OK && j < b->n; j++)
        if (!used[j])
            st = mgsd_error(MGSD_ERR_FORMAT, "%s:%lld: user '%s' is not in %s: the files must come from the same "
                            "data set and split", path_b, (long long)b->lines[j], b->users[j], path_a);
    mgsd_free(s);
    mgsd_free(used);
    return st;
}
