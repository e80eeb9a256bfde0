/* Full-ranking evaluation (RecBole protocol): ranks of the target among all items,
 * Hit / NDCG / MRR / Recall at several K, history-length buckets. The rank convention
 * (strictly greater scores plus equal scores at lower item ids) is documented in
 * include/mgsd/eval.h and docs/data.md. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "data/data_internal.h"
#include "eval/eval_internal.h"
#include "eval/rank_metrics.h"
#include "mgsd/eval.h"

void mgsd_eval_options_default(mgsd_eval_options *o) {
    memset(o, 0, sizeof *o);
    o->batch_size = 256;
    o->L = 0;
    o->n_ks = 3;
    o->ks[0] = 5;
    o->ks[1] = 10;
    o->ks[2] = 20;
    o->mask_history = 0;
    o->n_bucket_edges = 0;
    o->metrics = MGSD_METRIC_DEFAULT;
}

/* Count of items ranked before the target; -1 if the target's score is NaN, -2 if any
 * other score is NaN. */
static int64_t rank_row(const float *s, int32_t n, int32_t target, const int32_t *hist, int32_t n_hist) {
    float t = s[target];
    if (t != t) return -1;
    int64_t c = 0;
    int nan = 0;
    for (int32_t i = 1; i < target; i++) {
        c += s[i] >= t;
        nan |= s[i] != s[i];
    }
    for (int32_t i = target + 1; i < n; i++) {
        c += s[i] > t;
        nan |= s[i] != s[i];
    }
    if (nan) return -2;
    /* Masked history: remove each distinct history item (not the target) that counted. */
    for (int32_t k = 0; k < n_hist; k++) {
        int32_t h = hist[k];
        if (h <= 0 || h >= n || h == target) continue;
        int seen = 0;
        for (int32_t j = 0; j < k; j++)
            if (hist[j] == h) {
                seen = 1;
                break;
            }
        if (seen) continue;
        c -= h < target ? s[h] >= t : s[h] > t;
    }
    return c;
}

mgsd_status mgsd_eval_rank(const float *scores, int32_t n_items, int32_t target, const int32_t *history,
                           int32_t n_hist, int64_t *rank) {
    MGSD_CHECK_ARG(scores && rank && n_items >= 2);
    MGSD_CHECK_ARG(n_hist >= 0 && (history || n_hist == 0));
    if (target < 1 || target >= n_items)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "target item %d outside 1..%d", (int)target, (int)n_items - 1);
    int64_t r = rank_row(scores, n_items, target, history, n_hist);
    if (r < 0) return mgsd_error(MGSD_ERR_NUMERIC, "NaN in scores (%s)", r == -1 ? "target" : "other item");
    *rank = r;
    return MGSD_OK;
}

/* Sampled ranking: the rank among the distinct negatives neg[0..n) (same convention), -1 / -2
 * for NaN as rank_row. */
static int64_t rank_sampled(const float *s, int32_t target, const int32_t *neg, int n) {
    float t = s[target];
    if (t != t) return -1;
    int64_t c = 0;
    int nan = 0;
    for (int k = 0; k < n; k++) {
        float v = s[neg[k]];
        c += neg[k] < target ? v >= t : v > t;
        nan |= v != v;
    }
    return nan ? -2 : c;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Cumulative interaction counts of items 1..N-1 (cum[0] = 0) for popularity sampling. */
static int64_t *pop_table(const mgsd_dataset *ds) {
    int32_t N = ds->n_items;
    int64_t *cum = mgsd_calloc((size_t)N, sizeof *cum);
    if (!cum) return NULL;
    for (int64_t i = 0; i < ds->n_inter; i++) cum[ds->items[i]]++;
    for (int32_t i = 1; i < N; i++) cum[i] += cum[i - 1];
    return cum;
}

/* Draws of one user (see mgsd_eval_negatives): returns the number of distinct negatives, or
 * -1 when too many draws were rejected. base is the split's stream, not advanced. */
static int draw_negatives(const mgsd_rng *base, int32_t user, const mgsd_eval_options *o, int32_t N,
                          const int64_t *cum, int32_t target, const int32_t *hist, int32_t nh, int32_t *neg) {
    mgsd_rng b = *base, r;
    mgsd_rng_split(&b, (uint64_t)user, &r);
    int64_t tries = 0, max_tries = 100 * (int64_t)o->n_neg + 10000;
    for (int k = 0; k < o->n_neg;) {
        if (++tries > max_tries) return -1;
        int32_t v;
        if (cum) { /* smallest i with cum[i] > u */
            uint64_t u = mgsd_rng_below(&r, (uint64_t)cum[N - 1]);
            int32_t lo = 1, hi = N - 1;
            while (lo < hi) {
                int32_t mid = lo + (hi - lo) / 2;
                if ((uint64_t)cum[mid] > u) hi = mid;
                else lo = mid + 1;
            }
            v = lo;
        } else {
            v = 1 + (int32_t)mgsd_rng_below(&r, (uint64_t)(N - 1));
        }
        int bad = v == target;
        for (int32_t j = 0; j < nh && !bad; j++) bad = hist[j] == v;
        if (!bad) neg[k++] = v;
    }
    qsort(neg, (size_t)o->n_neg, sizeof *neg, cmp_i32);
    int n = 0;
    for (int k = 0; k < o->n_neg; k++)
        if (n == 0 || neg[k] != neg[n - 1]) neg[n++] = neg[k];
    return n;
}

static mgsd_status check_n_neg(const mgsd_eval_options *o, int32_t N) {
    if (o->n_neg < 0) return mgsd_error(MGSD_ERR_CONFIG, "number of sampled negatives is %d, must be >= 0", o->n_neg);
    if (o->n_neg > N - 2)
        return mgsd_error(MGSD_ERR_CONFIG, "sampled evaluation with %d negatives needs at least %d items; the dataset has %d",
                          o->n_neg, o->n_neg + 1, (int)N - 1);
    return MGSD_OK;
}

/* The split's stream of negatives. */
static void neg_stream(const mgsd_eval_options *o, mgsd_split split, mgsd_rng *out) {
    mgsd_rng r;
    mgsd_rng_seed(&r, o->neg_seed);
    mgsd_rng_split(&r, 0x6e656773ULL + (uint64_t)split, out);
}

static mgsd_status negatives_error(const mgsd_dataset *ds, int32_t user, const mgsd_eval_options *o) {
    return mgsd_error(MGSD_ERR_CONFIG, "cannot draw %d negatives for user '%s': almost every item is excluded", o->n_neg,
                      mgsd_dataset_user_name(ds, user));
}

mgsd_status mgsd_eval_negatives(const mgsd_dataset *ds, mgsd_split split, const mgsd_eval_options *opt,
                                int32_t user, int32_t target, const int32_t *history, int32_t n_hist, int32_t *out,
                                int *n_out) {
    MGSD_CHECK_ARG(ds && opt && out && n_out && n_hist >= 0 && (history || n_hist == 0));
    MGSD_CHECK_ARG(split == MGSD_SPLIT_VALID || split == MGSD_SPLIT_TEST);
    MGSD_CHECK_ARG(user >= 1 && user <= ds->n_users && target >= 1 && target < ds->n_items);
    if (opt->n_neg == 0) return mgsd_error(MGSD_ERR_INVALID_ARG, "mgsd_eval_negatives: n_neg is 0 (full ranking)");
    MGSD_TRY(check_n_neg(opt, ds->n_items));
    int64_t *cum = NULL;
    if (opt->neg_pop && !(cum = pop_table(ds))) return MGSD_ERR_NOMEM;
    mgsd_rng base;
    neg_stream(opt, split, &base);
    int n = draw_negatives(&base, user, opt, ds->n_items, cum, target, opt->mask_history ? history : NULL,
                           opt->mask_history ? n_hist : 0, out);
    mgsd_free(cum);
    if (n < 0) return negatives_error(ds, user, opt);
    *n_out = n;
    return MGSD_OK;
}

static void metrics_add(mgsd_eval_metrics *m, const int *ks, int n_ks, int64_t r) {
    m->n_users++;
    for (int j = 0; j < n_ks; j++) {
        if (r < ks[j]) {
            m->hit[j] += 1.0;
            m->recall[j] += 1.0;
            m->mrr[j] += rank_mrr(r);
            m->ndcg[j] += rank_ndcg(r);
        }
    }
}

static void metrics_finish(mgsd_eval_metrics *m, int n_ks, const int *ks) {
    if (!m->n_users) return;
    double inv = 1.0 / (double)m->n_users;
    for (int j = 0; j < n_ks; j++) {
        m->hit[j] *= inv;
        m->recall[j] *= inv;
        m->mrr[j] *= inv;
        m->ndcg[j] *= inv;
        m->precision[j] = m->hit[j] / ks[j];
    }
}

/* ---- beyond-accuracy metrics (include/mgsd/eval.h) ------------------------------------ */

typedef struct beyond {
    unsigned sel;    /* the selected MGSD_METRIC_* beyond-accuracy bits; 0: off */
    int kmax;        /* the largest cut-off: the length of every top list */
    int32_t N;       /* items, padding included */
    int64_t *pop;    /* [N] phi: training instances per target item */
    uint8_t *tail;   /* [N] long-tail flags */
    int64_t *counts; /* [n_ks][N] how many top-K lists hold each item */
    double pop_sum[MGSD_EVAL_MAX_KS], tail_sum[MGSD_EVAL_MAX_KS];
    int32_t *top;    /* [batch][kmax] the rows' top lists */
    float *top_s;    /* [batch][kmax] their scores (heap space) */
    int *n_top;      /* [batch] */
    int32_t *cand;   /* sampled ranking: [batch][n_neg + 1] the target and its negatives */
} beyond;

static void beyond_free(beyond *bz) {
    mgsd_free(bz->pop);
    mgsd_free(bz->tail);
    mgsd_free(bz->counts);
    mgsd_free(bz->top);
    mgsd_free(bz->top_s);
    mgsd_free(bz->n_top);
    mgsd_free(bz->cand);
    memset(bz, 0, sizeof *bz);
}

typedef struct pop_entry {
    int64_t count;
    int32_t id;
} pop_entry;

static int cmp_pop_entry(const void *a, const void *b) {
    const pop_entry *x = a, *y = b;
    if (x->count != y->count) return (x->count > y->count) - (x->count < y->count);
    return (x->id > y->id) - (x->id < y->id);
}

/* phi: each item's number of RecBole training instances (the target of a training prefix:
 * every user's items at positions 1 .. n_train), [n_items]; NULL when out of memory. */
static int64_t *train_popularity(const mgsd_dataset *ds) {
    int64_t *pop = mgsd_calloc((size_t)ds->n_items, sizeof *pop);
    if (!pop) return NULL;
    for (int32_t u = 1; u <= ds->n_users; u++) {
        int hv, ht;
        const int64_t o = ds->user_offs[u], n_train = data_split_counts(ds->user_offs[u + 1] - o, &hv, &ht);
        for (int64_t p = 1; p <= n_train; p++) pop[ds->items[o + p]]++;
    }
    return pop;
}

/* phi and the long tail of TailPercentage. */
static mgsd_status beyond_popularity(beyond *bz, const mgsd_dataset *ds, double tail_ratio) {
    const int32_t N = ds->n_items;
    if (!(bz->pop = train_popularity(ds)) || !(bz->tail = mgsd_calloc((size_t)N, 1))) return MGSD_ERR_NOMEM;
    if (!(bz->sel & MGSD_METRIC_TAILPERCENTAGE)) return MGSD_OK;
    if (!(tail_ratio > 0)) tail_ratio = 0.1;
    if (tail_ratio > 1) {
        for (int32_t i = 1; i < N; i++) bz->tail[i] = bz->pop[i] >= 1 && (double)bz->pop[i] <= tail_ratio;
        return MGSD_OK;
    }
    pop_entry *e = mgsd_malloc((size_t)N * sizeof *e);
    if (!e) return MGSD_ERR_NOMEM;
    int32_t n = 0;
    for (int32_t i = 1; i < N; i++)
        if (bz->pop[i] >= 1) e[n++] = (pop_entry){bz->pop[i], i};
    qsort(e, (size_t)n, sizeof *e, cmp_pop_entry);
    int64_t cut = (int64_t)((double)n * tail_ratio);
    if (cut < 1) cut = 1;
    for (int64_t j = 0; j < cut && j < n; j++) bz->tail[e[j].id] = 1;
    mgsd_free(e);
    return MGSD_OK;
}

static mgsd_status beyond_init(beyond *bz, const mgsd_dataset *ds, const mgsd_eval_options *o, unsigned metrics) {
    memset(bz, 0, sizeof *bz);
    bz->sel = metrics & MGSD_METRIC_BEYOND_ACCURACY;
    if (!bz->sel) return MGSD_OK;
    bz->N = ds->n_items;
    for (int j = 0; j < o->n_ks; j++)
        if (o->ks[j] > bz->kmax) bz->kmax = o->ks[j];
    if (bz->kmax > bz->N) bz->kmax = bz->N; /* no list is longer than the catalogue */
    const size_t B = (size_t)o->batch_size, K = (size_t)bz->kmax;
    bz->counts = mgsd_calloc((size_t)o->n_ks * (size_t)bz->N, sizeof *bz->counts);
    bz->top = mgsd_malloc(B * K * sizeof *bz->top);
    bz->top_s = mgsd_malloc(B * K * sizeof *bz->top_s);
    bz->n_top = mgsd_malloc(B * sizeof *bz->n_top);
    if (o->n_neg > 0) bz->cand = mgsd_malloc(B * ((size_t)o->n_neg + 1) * sizeof *bz->cand);
    if (!bz->counts || !bz->top || !bz->top_s || !bz->n_top || (o->n_neg > 0 && !bz->cand))
        return mgsd_error(MGSD_ERR_NOMEM, "eval: top-%d lists for the beyond-accuracy metrics", bz->kmax);
    if (bz->sel & (MGSD_METRIC_AVERAGEPOPULARITY | MGSD_METRIC_TAILPERCENTAGE))
        return beyond_popularity(bz, ds, o->tail_ratio);
    return MGSD_OK;
}

/* Row r's top list (thread-safe: writes only row r's slots). */
static void beyond_row(beyond *bz, int r, const float *row, int32_t target, const int32_t *hist, int32_t nh,
                       const int32_t *neg, int n_neg) {
    int32_t *ids = bz->top + (size_t)r * bz->kmax;
    float *ts = bz->top_s + (size_t)r * bz->kmax;
    if (neg) { /* sampled ranking: the target and its negatives are the only candidates */
        int32_t *c = bz->cand + (size_t)r * ((size_t)n_neg + 1);
        c[0] = target;
        memcpy(c + 1, neg, (size_t)n_neg * sizeof *c);
        bz->n_top[r] = eval_topk_core(row, bz->N, bz->kmax, c, n_neg + 1, NULL, 0, 0, ids, ts);
    } else {
        bz->n_top[r] = eval_topk_core(row, bz->N, bz->kmax, NULL, 0, hist, nh, target, ids, ts);
    }
}

/* Adds row r's list to the sums (serially, in user order). */
static void beyond_add(beyond *bz, int r, const int *ks, int n_ks) {
    const int32_t *ids = bz->top + (size_t)r * bz->kmax;
    const int n = bz->n_top[r];
    for (int j = 0; j < n_ks; j++) {
        const int k = ks[j] < n ? ks[j] : n;
        int64_t *cnt = bz->counts + (size_t)j * bz->N, psum = 0, tsum = 0;
        for (int q = 0; q < k; q++) {
            cnt[ids[q]]++;
            if (bz->pop) psum += bz->pop[ids[q]];
            if (bz->tail) tsum += bz->tail[ids[q]];
        }
        bz->pop_sum[j] += (double)psum / ks[j];
        bz->tail_sum[j] += (double)tsum / ks[j];
    }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void beyond_finish(beyond *bz, mgsd_eval_metrics *m, const int *ks, int n_ks) {
    if (!m->n_users) return;
    const double N = (double)bz->N;
    for (int j = 0; j < n_ks; j++) {
        int64_t *cnt = bz->counts + (size_t)j * bz->N;
        const double T = (double)m->n_users * ks[j]; /* RecBole's total_num: users x K */
        m->averagepopularity[j] = bz->pop_sum[j] / (double)m->n_users;
        m->tailpercentage[j] = bz->tail_sum[j] / (double)m->n_users;
        qsort(cnt, (size_t)bz->N, sizeof *cnt, cmp_i64); /* the counts are not needed by item any more */
        int64_t first = 0;
        while (first < bz->N && cnt[first] == 0) first++;
        const double m_rec = (double)(bz->N - first);
        double gini = 0, ent = 0;
        for (int64_t i = first; i < bz->N; i++) {
            const double idx = (double)(i + 1); /* rank among all N items, unrecommended ones first */
            gini += (2 * idx - N - 1) * (double)cnt[i];
            const double p = (double)cnt[i] / T;
            ent -= p * log(p);
        }
        m->itemcoverage[j] = m_rec / N;
        m->giniindex[j] = gini / T / N;
        m->shannonentropy[j] = m_rec > 0 ? ent / m_rec : 0.0;
    }
}

mgsd_status mgsd_eval_run(const mgsd_dataset *ds, mgsd_split split, mgsd_score_fn score, void *model,
                          const mgsd_eval_options *opt, mgsd_eval_result *out) {
    MGSD_CHECK_ARG(ds && score && out);
    MGSD_CHECK_ARG(split == MGSD_SPLIT_VALID || split == MGSD_SPLIT_TEST);
    mgsd_eval_options def;
    if (!opt) {
        mgsd_eval_options_default(&def);
        opt = &def;
    }
    if (opt->batch_size <= 0) return mgsd_error(MGSD_ERR_CONFIG, "eval batch size must be positive");
    if (opt->n_ks < 1 || opt->n_ks > MGSD_EVAL_MAX_KS)
        return mgsd_error(MGSD_ERR_CONFIG, "number of K values must be 1..%d", MGSD_EVAL_MAX_KS);
    for (int j = 0; j < opt->n_ks; j++)
        if (opt->ks[j] < 1) return mgsd_error(MGSD_ERR_CONFIG, "topk value %d must be >= 1", opt->ks[j]);
    if (opt->n_bucket_edges < 0 || opt->n_bucket_edges > MGSD_EVAL_MAX_BUCKETS - 1)
        return mgsd_error(MGSD_ERR_CONFIG, "at most %d bucket edges", MGSD_EVAL_MAX_BUCKETS - 1);
    if (opt->bucket_by != MGSD_EVAL_BY_LENGTH && opt->bucket_by != MGSD_EVAL_BY_POPULARITY)
        return mgsd_error(MGSD_ERR_CONFIG, "unknown grouping %d (length or popularity)", opt->bucket_by);
    const int by_pop = opt->bucket_by == MGSD_EVAL_BY_POPULARITY, min_edge = by_pop ? 1 : 2;
    for (int j = 0; j < opt->n_bucket_edges; j++)
        if (opt->bucket_edges[j] < min_edge || (j > 0 && opt->bucket_edges[j] <= opt->bucket_edges[j - 1]))
            return mgsd_error(MGSD_ERR_CONFIG, "group edges must be increasing and >= %d (%s)", min_edge,
                              by_pop ? "target popularity" : "history length");

    double t0 = mgsd_now();
    memset(out, 0, sizeof *out);
    out->n_ks = opt->n_ks;
    out->metrics = opt->metrics ? opt->metrics : MGSD_METRIC_DEFAULT;
    memcpy(out->ks, opt->ks, sizeof out->ks);
    if (opt->n_bucket_edges > 0) {
        out->n_buckets = opt->n_bucket_edges + 1;
        out->bucket_by = opt->bucket_by;
        for (int j = 0; j < out->n_buckets; j++) {
            out->bucket_lo[j] = j == 0 ? (by_pop ? 0 : 1) : opt->bucket_edges[j - 1];
            out->bucket_hi[j] = j < opt->n_bucket_edges ? opt->bucket_edges[j] : INT32_MAX;
        }
    }

    int L = opt->L > 0 ? opt->L : ds->max_len;
    int32_t N = ds->n_items;
    mgsd_batcher *bt = NULL;
    mgsd_batch b;
    memset(&b, 0, sizeof b);
    float *scores = NULL;
    int64_t *ranks = NULL, *cum = NULL;
    int32_t *neg = NULL;
    const int n_neg = opt->n_neg;
    out->n_neg = n_neg;
    out->neg_pop = n_neg > 0 && opt->neg_pop;
    mgsd_rng base;
    neg_stream(opt, split, &base);
    beyond bz;
    mgsd_status st = check_n_neg(opt, N);
    if (st != MGSD_OK) return st;
    if ((st = beyond_init(&bz, ds, opt, out->metrics)) != MGSD_OK) {
        beyond_free(&bz);
        return st;
    }
    int64_t *group_pop = NULL; /* phi, for groups by target popularity */
    if (out->n_buckets && by_pop && !(group_pop = train_popularity(ds))) {
        beyond_free(&bz);
        return MGSD_ERR_NOMEM;
    }
    if ((st = mgsd_batcher_init(&bt, ds, split, opt->batch_size, L)) != MGSD_OK) {
        beyond_free(&bz);
        mgsd_free(group_pop);
        return st;
    }
    if ((st = mgsd_batch_init(&b, opt->batch_size, L)) != MGSD_OK) goto done;
    scores = mgsd_malloc((size_t)opt->batch_size * (size_t)N * sizeof *scores);
    ranks = mgsd_malloc((size_t)opt->batch_size * sizeof *ranks);
    if (n_neg > 0) neg = mgsd_malloc((size_t)opt->batch_size * (size_t)n_neg * sizeof *neg);
    if (n_neg > 0 && opt->neg_pop) cum = pop_table(ds);
    if (!scores || !ranks || (n_neg > 0 && !neg) || (n_neg > 0 && opt->neg_pop && !cum)) {
        st = mgsd_error(MGSD_ERR_NOMEM, "eval: %d x %d scores: %s", opt->batch_size, (int)N, mgsd_last_error());
        goto done;
    }
    int64_t nb = mgsd_batcher_num_batches(bt);
    for (int64_t bi = 0; bi < nb; bi++) {
        if ((st = mgsd_batcher_fill(bt, bi, &b)) != MGSD_OK) goto done;
        if ((st = score(model, &b, scores)) != MGSD_OK) goto done;
        int B = b.B;
        int mask = opt->mask_history;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B >= 16)
#endif
        for (int r = 0; r < B; r++) {
            const int32_t *hist = NULL;
            int32_t nh = 0;
            if (mask) {
                hist = ds->items + ds->user_offs[b.users[r]];
                nh = b.full_lens[r];
            }
            if (n_neg > 0) {
                int32_t *nr = neg + (size_t)r * n_neg;
                int n = draw_negatives(&base, b.users[r], opt, N, cum, b.targets[r], hist, nh, nr);
                ranks[r] = n < 0 ? -3 : rank_sampled(scores + (size_t)r * N, b.targets[r], nr, n);
                if (bz.sel && n >= 0) beyond_row(&bz, r, scores + (size_t)r * N, b.targets[r], NULL, 0, nr, n);
            } else {
                ranks[r] = rank_row(scores + (size_t)r * N, N, b.targets[r], hist, nh);
                if (bz.sel) beyond_row(&bz, r, scores + (size_t)r * N, b.targets[r], hist, nh, NULL, 0);
            }
        }
        for (int r = 0; r < B; r++) {
            if (ranks[r] == -3) {
                st = negatives_error(ds, b.users[r], opt);
                goto done;
            }
            if (ranks[r] < 0) {
                st = mgsd_error(MGSD_ERR_NUMERIC, "model produced NaN scores for user '%s'",
                                mgsd_dataset_user_name(ds, b.users[r]));
                goto done;
            }
            if (opt->user_ranks) opt->user_ranks[b.users[r]] = ranks[r];
            if (opt->user_targets) opt->user_targets[b.users[r]] = b.targets[r];
            metrics_add(&out->all, out->ks, out->n_ks, ranks[r]);
            if (bz.sel) beyond_add(&bz, r, out->ks, out->n_ks);
            const int64_t gv = group_pop ? group_pop[b.targets[r]] : b.full_lens[r];
            for (int j = 0; j < out->n_buckets; j++)
                if (gv >= out->bucket_lo[j] && gv < out->bucket_hi[j])
                    metrics_add(&out->bucket[j], out->ks, out->n_ks, ranks[r]);
        }
    }
    metrics_finish(&out->all, out->n_ks, out->ks);
    if (bz.sel) beyond_finish(&bz, &out->all, out->ks, out->n_ks);
    for (int j = 0; j < out->n_buckets; j++) metrics_finish(&out->bucket[j], out->n_ks, out->ks);
    out->seconds = mgsd_now() - t0;
done:
    beyond_free(&bz);
    mgsd_free(group_pop);
    mgsd_free(scores);
    mgsd_free(ranks);
    mgsd_free(neg);
    mgsd_free(cum);
    mgsd_batch_free(&b);
    mgsd_batcher_free(bt);
    return st;
}

mgsd_status mgsd_eval_parse_mode(const char *mode, int *n_neg, int *neg_pop) {
    MGSD_CHECK_ARG(mode && n_neg && neg_pop);
    if (!strcasecmp(mode, "full")) {
        *n_neg = *neg_pop = 0;
        return MGSD_OK;
    }
    int pop = !strncasecmp(mode, "pop", 3);
    if ((pop || !strncasecmp(mode, "uni", 3)) && mode[3] >= '1' && mode[3] <= '9') {
        long n = 0;
        const char *p = mode + 3;
        while (*p >= '0' && *p <= '9' && n <= 100000000) n = n * 10 + (*p++ - '0');
        if (!*p && n <= 100000000) {
            *n_neg = (int)n;
            *neg_pop = pop;
            return MGSD_OK;
        }
    }
    return mgsd_error(MGSD_ERR_CONFIG, "evaluation mode '%s': expected full, uniN or popN (N >= 1, e.g. uni100)", mode);
}

void mgsd_eval_mode_name(int n_neg, int neg_pop, char *buf, size_t cap) {
    if (n_neg <= 0) snprintf(buf, cap, "full");
    else snprintf(buf, cap, "%s%d", neg_pop ? "pop" : "uni", n_neg);
}

enum { N_METRICS = 10 };
static const char *const metric_names[N_METRICS] = {"hit",          "mrr",
                                                    "ndcg",         "recall",
                                                    "precision",    "itemcoverage",
                                                    "averagepopularity", "giniindex",
                                                    "shannonentropy", "tailpercentage"};

static const double *metric_array(const mgsd_eval_metrics *m, int which) {
    switch (which) {
    case 0: return m->hit;
    case 1: return m->mrr;
    case 2: return m->ndcg;
    case 3: return m->recall;
    case 4: return m->precision;
    case 5: return m->itemcoverage;
    case 6: return m->averagepopularity;
    case 7: return m->giniindex;
    case 8: return m->shannonentropy;
    default: return m->tailpercentage;
    }
}

mgsd_status mgsd_eval_parse_metric(const char *name, unsigned *bit) {
    MGSD_CHECK_ARG(name && bit);
    for (int w = 0; w < N_METRICS; w++) {
        size_t n = strlen(metric_names[w]);
        if (strlen(name) != n) continue;
        int eq = 1;
        for (size_t i = 0; i < n; i++) eq &= tolower((unsigned char)name[i]) == metric_names[w][i];
        if (eq) {
            *bit = 1u << w;
            return MGSD_OK;
        }
    }
    return mgsd_error(MGSD_ERR_CONFIG,
                      "unknown metric '%s' (expected Hit, NDCG, MRR, Recall, Precision, ItemCoverage, "
                      "AveragePopularity, GiniIndex, ShannonEntropy or TailPercentage)", name);
}

int mgsd_eval_entry_count(const mgsd_eval_result *r) {
    int n = 0;
    for (int w = 0; w < N_METRICS; w++) n += (r->metrics >> w) & 1u;
    return n * r->n_ks;
}

/* The metric index w and cut-off index j of a key "name@K" of r. */
static mgsd_status find_key(const mgsd_eval_result *r, const char *key, int *w_out, int *j_out) {
    const char *at = strchr(key, '@');
    if (!at) return mgsd_error(MGSD_ERR_NOT_FOUND, "metric key '%s' has no '@K'", key);
    size_t n = (size_t)(at - key);
    int k = 0;
    for (const char *p = at + 1; *p; p++) {
        if (*p < '0' || *p > '9' || k > 100000000) return mgsd_error(MGSD_ERR_NOT_FOUND, "bad K in '%s'", key);
        k = k * 10 + (*p - '0');
    }
    for (int w = 0; w < N_METRICS; w++) {
        if (strlen(metric_names[w]) != n || strncmp(metric_names[w], key, n) != 0) continue;
        if ((1u << w) & MGSD_METRIC_BEYOND_ACCURACY & ~r->metrics)
            return mgsd_error(MGSD_ERR_NOT_FOUND, "metric '%s' was not selected (beyond-accuracy metrics are computed "
                                                  "only when listed in 'metrics')", key);
        for (int j = 0; j < r->n_ks; j++)
            if (r->ks[j] == k) {
                *w_out = w;
                *j_out = j;
                return MGSD_OK;
            }
        return mgsd_error(MGSD_ERR_NOT_FOUND, "metric '%s': K=%d was not evaluated", key, k);
    }
    return mgsd_error(MGSD_ERR_NOT_FOUND,
                      "unknown metric '%s' (expected hit, mrr, ndcg, recall, precision, itemcoverage, "
                      "averagepopularity, giniindex, shannonentropy or tailpercentage)", key);
}

mgsd_status mgsd_eval_get(const mgsd_eval_result *r, const char *key, double *value) {
    MGSD_CHECK_ARG(r && key && value);
    int w, j;
    MGSD_TRY(find_key(r, key, &w, &j));
    *value = metric_array(&r->all, w)[j];
    return MGSD_OK;
}

mgsd_status mgsd_eval_set(mgsd_eval_result *r, const char *key, double value) {
    MGSD_CHECK_ARG(r && key);
    int w, j;
    MGSD_TRY(find_key(r, key, &w, &j));
    ((double *)metric_array(&r->all, w))[j] = value;
    return MGSD_OK;
}

int mgsd_eval_bucket_entry_count(const mgsd_eval_result *r) {
    int n = 0;
    for (int w = 0; w < N_METRICS; w++) n += (r->metrics & ~(unsigned)MGSD_METRIC_BEYOND_ACCURACY) >> w & 1u;
    return n * r->n_ks;
}

mgsd_status mgsd_eval_bucket_entry(const mgsd_eval_result *r, int bucket, int index, char *key, size_t cap,
                                   double *value) {
    MGSD_CHECK_ARG(r && key && cap > 0 && value);
    if (bucket < 0 || bucket >= r->n_buckets)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "group %d outside 0..%d", bucket, r->n_buckets - 1);
    int count = mgsd_eval_bucket_entry_count(r);
    if (index < 0 || index >= count)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "metric index %d outside 0..%d", index, count - 1);
    const unsigned sel = r->metrics & ~(unsigned)MGSD_METRIC_BEYOND_ACCURACY;
    int which = index / r->n_ks, j = index % r->n_ks, w = 0;
    for (;; w++)
        if (((sel >> w) & 1u) && which-- == 0) break;
    snprintf(key, cap, "%s@%d", metric_names[w], r->ks[j]);
    *value = metric_array(&r->bucket[bucket], w)[j];
    return MGSD_OK;
}

mgsd_status mgsd_eval_entry(const mgsd_eval_result *r, int index, char *key, size_t cap, double *value) {
    MGSD_CHECK_ARG(r && key && cap > 0 && value);
    int count = mgsd_eval_entry_count(r);
    if (index < 0 || index >= count)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "metric index %d outside 0..%d", index, count - 1);
    int sel = index / r->n_ks, j = index % r->n_ks, w = 0;
    for (;; w++)
        if (((r->metrics >> w) & 1u) && sel-- == 0) break;
    snprintf(key, cap, "%s@%d", metric_names[w], r->ks[j]);
    *value = metric_array(&r->all, w)[j];
    return MGSD_OK;
}
