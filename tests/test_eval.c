/* Tests of full-ranking evaluation on hand-computed rankings: tie convention, K larger
 * than the number of items, target at rank 1 and just outside K, history masking, NaN,
 * length buckets, metric keys; top-k against a full-sort reference; noise report; per-user
 * ranks, rank files and the paired comparison. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgsd/data.h"
#include "mgsd/eval.h"
#include "test_util.h"

static void test_rank_ties(void) {
    /* items 1..5; item 0 has a huge score that must not count */
    const float s[6] = {999.f, 0.5f, 0.9f, 0.5f, 0.1f, 0.5f};
    int64_t r = -1;
    CHECK_OK(mgsd_eval_rank(s, 6, 3, NULL, 0, &r));
    CHECK_INT_EQ(r, 2); /* item 2 greater, item 1 ties with a lower id */
    CHECK_OK(mgsd_eval_rank(s, 6, 1, NULL, 0, &r));
    CHECK_INT_EQ(r, 1);
    CHECK_OK(mgsd_eval_rank(s, 6, 5, NULL, 0, &r));
    CHECK_INT_EQ(r, 3);
    CHECK_OK(mgsd_eval_rank(s, 6, 4, NULL, 0, &r));
    CHECK_INT_EQ(r, 4);
    CHECK_OK(mgsd_eval_rank(s, 6, 2, NULL, 0, &r));
    CHECK_INT_EQ(r, 0);
    /* masking removes history items (duplicates once, never the target) */
    const int32_t h[4] = {2, 2, 1, 3};
    CHECK_OK(mgsd_eval_rank(s, 6, 3, h, 4, &r));
    CHECK_INT_EQ(r, 0);
    CHECK_OK(mgsd_eval_rank(s, 6, 5, h, 3, &r));
    CHECK_INT_EQ(r, 1); /* item 3 still ties with a lower id */
    CHECK_STATUS(mgsd_eval_rank(s, 6, 0, NULL, 0, &r), MGSD_ERR_INVALID_ARG);
    CHECK_STATUS(mgsd_eval_rank(s, 6, 6, NULL, 0, &r), MGSD_ERR_INVALID_ARG);
    float sn[4] = {0, 1, NAN, 2};
    CHECK_STATUS(mgsd_eval_rank(sn, 4, 2, NULL, 0, &r), MGSD_ERR_NUMERIC);
    CHECK_STATUS(mgsd_eval_rank(sn, 4, 1, NULL, 0, &r), MGSD_ERR_NUMERIC);
}

/* Model: score(i) = -i, so item i has rank i-1; item 0 gets +inf (must be ignored). */
typedef struct {
    int32_t n_items;
    int calls;
    int nan;
} stub_model;

static mgsd_status stub_score(void *m, const mgsd_batch *b, float *scores) {
    stub_model *sm = m;
    sm->calls++;
    for (int r = 0; r < b->B; r++) {
        float *row = scores + (size_t)r * sm->n_items;
        row[0] = INFINITY;
        for (int32_t i = 1; i < sm->n_items; i++) row[i] = -(float)i;
        if (sm->nan) row[1] = NAN;
    }
    return MGSD_OK;
}

/* Three users over items a-d, no filtering; the stub model ranks their test targets 3, 0
 * and 1. */
static mgsd_dataset *load_abcd(void) {
    const char *text = "u1 a b c d\nu2 b c d a\nu3 c d a b\n";
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    o.user_inter_num_interval = "";
    o.item_inter_num_interval = "";
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_dataset_load_buffer(&ds, text, strlen(text), "mem", &o));
    return ds;
}

static void test_eval_run(void) {
    mgsd_dataset *ds = load_abcd();
    if (!ds) return;
    CHECK_INT_EQ(mgsd_dataset_num_items(ds), 5);
    stub_model sm = {5, 0, 0};
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    CHECK_INT_EQ(eo.n_ks, 3);
    CHECK_INT_EQ(eo.ks[2], 20);
    eo.batch_size = 2;
    eo.n_ks = 6;
    int ks[6] = {1, 2, 3, 4, 5, 10};
    memcpy(eo.ks, ks, sizeof ks);
    eo.n_bucket_edges = 1;
    eo.bucket_edges[0] = 3;
    mgsd_eval_result res;
    /* test: ranks u1 3 (d), u2 0 (a), u3 1 (b) */
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, stub_score, &sm, &eo, &res));
    CHECK_INT_EQ(sm.calls, 2);
    CHECK_INT_EQ(res.all.n_users, 3);
    double v;
    CHECK_OK(mgsd_eval_get(&res, "hit@1", &v));
    CHECK_NEAR(v, 1.0 / 3, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "hit@2", &v));
    CHECK_NEAR(v, 2.0 / 3, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "hit@3", &v)); /* u1 just outside K=3 */
    CHECK_NEAR(v, 2.0 / 3, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "hit@4", &v));
    CHECK_NEAR(v, 1.0, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "hit@10", &v)); /* K larger than the item count */
    CHECK_NEAR(v, 1.0, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "recall@3", &v));
    CHECK_NEAR(v, 2.0 / 3, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "mrr@2", &v));
    CHECK_NEAR(v, 0.5, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "mrr@5", &v));
    CHECK_NEAR(v, (1 + 0.5 + 0.25) / 3, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "ndcg@5", &v));
    CHECK_NEAR(v, (1 + 1 / log2(3.0) + 1 / log2(5.0)) / 3, 1e-12);
    CHECK_OK(mgsd_eval_get(&res, "ndcg@1", &v));
    CHECK_NEAR(v, 1.0 / 3, 1e-12);
    CHECK_STATUS(mgsd_eval_get(&res, "hit@7", &v), MGSD_ERR_NOT_FOUND);
    CHECK_STATUS(mgsd_eval_get(&res, "auc@5", &v), MGSD_ERR_NOT_FOUND);
    CHECK_STATUS(mgsd_eval_get(&res, "hit", &v), MGSD_ERR_NOT_FOUND);
    char key[32];
    CHECK_OK(mgsd_eval_entry(&res, 0, key, sizeof key, &v));
    CHECK_STR_EQ(key, "hit@1");
    CHECK_OK(mgsd_eval_entry(&res, 6 + 1, key, sizeof key, &v));
    CHECK_STR_EQ(key, "mrr@2");
    CHECK_NEAR(v, 0.5, 1e-12);
    CHECK_OK(mgsd_eval_entry(&res, 23, key, sizeof key, &v));
    CHECK_STR_EQ(key, "recall@10");
    CHECK_STATUS(mgsd_eval_entry(&res, 24, key, sizeof key, &v), MGSD_ERR_INVALID_ARG);
    /* precision@K = hit@K / K (one target per user), reachable whether selected or not */
    double h5, p5;
    CHECK_OK(mgsd_eval_get(&res, "hit@5", &h5));
    CHECK_OK(mgsd_eval_get(&res, "precision@5", &p5));
    CHECK_NEAR(p5, h5 / 5, 1e-12);
    /* the metrics mask selects what is enumerated, in the fixed order */
    {
        mgsd_eval_result sel = res;
        unsigned b1, b2;
        CHECK_OK(mgsd_eval_parse_metric("Precision", &b1));
        CHECK_OK(mgsd_eval_parse_metric("nDCG", &b2));
        sel.metrics = b1 | b2;
        CHECK_INT_EQ(mgsd_eval_entry_count(&sel), 2 * sel.n_ks);
        CHECK_OK(mgsd_eval_entry(&sel, 0, key, sizeof key, &v));
        CHECK_STR_EQ(key, "ndcg@1");
        CHECK_OK(mgsd_eval_entry(&sel, sel.n_ks + 4, key, sizeof key, &v));
        CHECK_STR_EQ(key, "precision@5");
        CHECK_NEAR(v, p5, 1e-12);
        CHECK_STATUS(mgsd_eval_entry(&sel, 2 * sel.n_ks, key, sizeof key, &v), MGSD_ERR_INVALID_ARG);
        CHECK_STATUS(mgsd_eval_parse_metric("AUC", &b1), MGSD_ERR_CONFIG);
        CHECK_CONTAINS(mgsd_last_error(), "AUC");
    }
    /* buckets: all test histories have 3 items -> bucket [3, inf) */
    CHECK_INT_EQ(res.n_buckets, 2);
    CHECK_INT_EQ(res.bucket[0].n_users, 0);
    CHECK_INT_EQ(res.bucket[1].n_users, 3);
    CHECK_NEAR(res.bucket[1].hit[1], 2.0 / 3, 1e-12);
    /* masking: every target moves to rank 0 */
    eo.mask_history = 1;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, stub_score, &sm, &eo, &res));
    CHECK_NEAR(res.all.hit[0], 1.0, 1e-12);
    CHECK_NEAR(res.all.ndcg[0], 1.0, 1e-12);
    /* valid: targets c (rank 2), d (rank 3), a (rank 0), histories of length 2 */
    eo.mask_history = 0;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_VALID, stub_score, &sm, &eo, &res));
    CHECK_NEAR(res.all.hit[2], 2.0 / 3, 1e-12);
    CHECK_NEAR(res.all.mrr[5], (1.0 / 3 + 0.25 + 1) / 3, 1e-12);
    CHECK_INT_EQ(res.bucket[0].n_users, 3);
    /* errors */
    sm.nan = 1;
    CHECK_STATUS(mgsd_eval_run(ds, MGSD_SPLIT_TEST, stub_score, &sm, &eo, &res), MGSD_ERR_NUMERIC);
    CHECK_CONTAINS(mgsd_last_error(), "NaN");
    sm.nan = 0;
    CHECK_STATUS(mgsd_eval_run(ds, MGSD_SPLIT_TRAIN, stub_score, &sm, &eo, &res), MGSD_ERR_INVALID_ARG);
    eo.ks[0] = 0;
    CHECK_STATUS(mgsd_eval_run(ds, MGSD_SPLIT_TEST, stub_score, &sm, &eo, &res), MGSD_ERR_CONFIG);
    mgsd_dataset_free(ds);
}

/* Pseudo-random scores that depend on the user and item, with many ties. */
static mgsd_status hash_score(void *m, const mgsd_batch *b, float *scores) {
    int32_t n = *(const int32_t *)m;
    for (int r = 0; r < b->B; r++)
        for (int32_t i = 0; i < n; i++)
            scores[(size_t)r * n + i] = (float)(((uint32_t)(b->users[r] * 7919 + i) * 2654435761u) >> 28);
    return MGSD_OK;
}

/* The default synthetic data with `users` users as a dataset (NULL on failure, counted). */
static mgsd_dataset *synth_dataset(int users) {
    mgsd_synth_options so;
    mgsd_synth_options_default(&so);
    so.users = users;
    mgsd_synth s;
    CHECK_OK(mgsd_synth_generate(&s, &so));
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_synth_to_dataset(&s, NULL, &ds));
    mgsd_synth_free(&s);
    return ds;
}

static void test_eval_threads(void) {
    /* Same metrics with 1 and 2 threads, and equal to a serial recomputation. */
    mgsd_dataset *ds = synth_dataset(300);
    if (!ds) return;
    int32_t n = mgsd_dataset_num_items(ds);
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    eo.batch_size = 64;
    mgsd_eval_result r1, r2;
    int old = mgsd_get_num_threads();
    mgsd_set_num_threads(1);
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &r1));
    mgsd_set_num_threads(2);
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &r2));
    mgsd_set_num_threads(old);
    CHECK(memcmp(&r1.all, &r2.all, sizeof r1.all) == 0);
    CHECK_INT_EQ(r1.all.n_users, 300);
    /* serial reference for ndcg@10 through mgsd_eval_rank */
    float *row = malloc((size_t)n * sizeof *row);
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 1, 50));
    double ndcg = 0;
    for (int32_t u = 1; u <= mgsd_dataset_num_users(ds); u++) {
        const int32_t *it;
        int32_t len;
        mgsd_dataset_user_items(ds, u, &it, &len);
        mgsd_batch_reset(&b);
        mgsd_batch_append(&b, u, it[len - 1], it, len - 1);
        hash_score(&n, &b, row);
        int64_t r;
        CHECK_OK(mgsd_eval_rank(row, n, it[len - 1], NULL, 0, &r));
        if (r < 10) ndcg += 1 / log2((double)r + 2);
    }
    CHECK_NEAR(r1.all.ndcg[1], ndcg / 300, 1e-12);
    mgsd_batch_free(&b);
    free(row);
    mgsd_dataset_free(ds);
}

/* ---- beyond-accuracy metrics: against a brute-force recomputation (full sort of every
 * row, RecBole's formulas written out) ---- */
typedef struct scored_item {
    float s;
    int32_t id;
} scored_item;

static int cmp_scored(const void *a, const void *b) {
    const scored_item *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_i64_asc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void beyond_reference(const mgsd_dataset *ds, const mgsd_eval_options *eo, mgsd_eval_metrics *want) {
    int32_t N = mgsd_dataset_num_items(ds), U = mgsd_dataset_num_users(ds);
    int64_t *phi = calloc((size_t)N, sizeof *phi);
    for (int32_t u = 1; u <= U; u++) { /* training targets: positions 1 .. n_train */
        const int32_t *it;
        int32_t len;
        mgsd_dataset_user_items(ds, u, &it, &len);
        int32_t n_train = len >= 4 ? len - 3 : len >= 2 ? 1 : 0;
        for (int32_t p = 1; p <= n_train; p++) phi[it[p]]++;
    }
    uint8_t *tail = calloc((size_t)N, 1);
    double ratio = eo->tail_ratio > 0 ? eo->tail_ratio : 0.1;
    if (ratio > 1) {
        for (int32_t i = 1; i < N; i++) tail[i] = phi[i] >= 1 && phi[i] <= ratio;
    } else { /* repeatedly take the rarest remaining item with phi >= 1, lower id first */
        int32_t n_pos = 0;
        for (int32_t i = 1; i < N; i++) n_pos += phi[i] >= 1;
        int64_t cut = (int64_t)(n_pos * ratio);
        if (cut < 1) cut = 1;
        for (int64_t c = 0; c < cut; c++) {
            int32_t best = 0;
            for (int32_t i = 1; i < N; i++)
                if (phi[i] >= 1 && !tail[i] && (!best || phi[i] < phi[best])) best = i;
            if (best) tail[best] = 1;
        }
    }
    int kmax = 0;
    for (int j = 0; j < eo->n_ks; j++) kmax = eo->ks[j] > kmax ? eo->ks[j] : kmax;
    int64_t *cnt = calloc((size_t)eo->n_ks * (size_t)N, sizeof *cnt);
    double psum[MGSD_EVAL_MAX_KS] = {0}, tsum[MGSD_EVAL_MAX_KS] = {0};
    scored_item *all = malloc((size_t)N * sizeof *all);
    float *row = malloc((size_t)N * sizeof *row);
    int32_t *neg = malloc((size_t)(eo->n_neg + 1) * sizeof *neg);
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 1, 50));
    int64_t users = 0;
    for (int32_t u = 1; u <= U; u++) {
        const int32_t *it;
        int32_t len;
        mgsd_dataset_user_items(ds, u, &it, &len);
        if (len < 3) continue; /* no test instance */
        int32_t target = it[len - 1];
        users++;
        mgsd_batch_reset(&b);
        mgsd_batch_append(&b, u, target, it, len - 1);
        hash_score(&N, &b, row);
        int n = 0;
        if (eo->n_neg > 0) {
            int nn = 0;
            CHECK_OK(mgsd_eval_negatives(ds, MGSD_SPLIT_TEST, eo, u, target, it, len - 1, neg, &nn));
            all[n++] = (scored_item){row[target], target};
            for (int q = 0; q < nn; q++) all[n++] = (scored_item){row[neg[q]], neg[q]};
        } else {
            for (int32_t i = 1; i < N; i++) {
                int hidden = 0;
                for (int32_t h = 0; eo->mask_history && h < len - 1; h++) hidden |= it[h] == i && i != target;
                if (!hidden) all[n++] = (scored_item){row[i], i};
            }
        }
        qsort(all, (size_t)n, sizeof *all, cmp_scored);
        for (int j = 0; j < eo->n_ks; j++) {
            int k = eo->ks[j] < n ? eo->ks[j] : n;
            double ps = 0, ts = 0;
            for (int q = 0; q < k; q++) {
                cnt[(size_t)j * N + all[q].id]++;
                ps += (double)phi[all[q].id];
                ts += tail[all[q].id];
            }
            psum[j] += ps / eo->ks[j];
            tsum[j] += ts / eo->ks[j];
        }
    }
    memset(want, 0, sizeof *want);
    want->n_users = users;
    int64_t *c = malloc((size_t)N * sizeof *c);
    for (int j = 0; j < eo->n_ks; j++) {
        int m = 0;
        for (int32_t i = 0; i < N; i++)
            if (cnt[(size_t)j * N + i]) c[m++] = cnt[(size_t)j * N + i];
        qsort(c, (size_t)m, sizeof *c, cmp_i64_asc);
        double T = (double)users * eo->ks[j], g = 0, e = 0;
        for (int q = 0; q < m; q++) {
            double idx = (double)(N - m + 1 + q);
            g += (2 * idx - N - 1) * (double)c[q];
            e -= (double)c[q] / T * log((double)c[q] / T);
        }
        want->itemcoverage[j] = (double)m / N;
        want->giniindex[j] = g / T / N;
        want->shannonentropy[j] = m ? e / m : 0;
        want->averagepopularity[j] = psum[j] / (double)users;
        want->tailpercentage[j] = tsum[j] / (double)users;
    }
    mgsd_batch_free(&b);
    free(c);
    free(neg);
    free(row);
    free(all);
    free(cnt);
    free(tail);
    free(phi);
}

static void check_beyond(const mgsd_eval_metrics *got, const mgsd_eval_metrics *want, int n_ks) {
    CHECK_INT_EQ(got->n_users, want->n_users);
    for (int j = 0; j < n_ks; j++) {
        CHECK_NEAR(got->itemcoverage[j], want->itemcoverage[j], 1e-12);
        CHECK_NEAR(got->averagepopularity[j], want->averagepopularity[j], 1e-9);
        CHECK_NEAR(got->giniindex[j], want->giniindex[j], 1e-12);
        CHECK_NEAR(got->shannonentropy[j], want->shannonentropy[j], 1e-12);
        CHECK_NEAR(got->tailpercentage[j], want->tailpercentage[j], 1e-12);
    }
}

static void test_eval_beyond(void) {
    unsigned bit = 0;
    CHECK_OK(mgsd_eval_parse_metric("ItemCoverage", &bit));
    CHECK_INT_EQ(bit, MGSD_METRIC_ITEMCOVERAGE);
    CHECK_OK(mgsd_eval_parse_metric("averagepopularity", &bit));
    CHECK_INT_EQ(bit, MGSD_METRIC_AVERAGEPOPULARITY);
    CHECK_OK(mgsd_eval_parse_metric("GINIINDEX", &bit));
    CHECK_INT_EQ(bit, MGSD_METRIC_GINIINDEX);
    CHECK_OK(mgsd_eval_parse_metric("ShannonEntropy", &bit));
    CHECK_OK(mgsd_eval_parse_metric("TailPercentage", &bit));
    CHECK_INT_EQ(bit, MGSD_METRIC_TAILPERCENTAGE);
    CHECK_STATUS(mgsd_eval_parse_metric("Coverage", &bit), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "ItemCoverage");

    mgsd_dataset *ds = synth_dataset(300);
    if (!ds) return;
    int32_t n = mgsd_dataset_num_items(ds);
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    eo.batch_size = 64;
    eo.n_ks = 3;
    eo.ks[0] = 1;
    eo.ks[1] = 7;
    eo.ks[2] = 20;
    eo.metrics = MGSD_METRIC_HIT | MGSD_METRIC_BEYOND_ACCURACY;
    mgsd_eval_result r1, r2, plain;
    mgsd_eval_metrics want;
    int old = mgsd_get_num_threads();
    /* full ranking, history masked or not, tail by share or by count; 1 and 2 threads agree */
    for (int c = 0; c < 3; c++) {
        eo.mask_history = c == 1;
        eo.tail_ratio = c == 2 ? 25 : 0;
        mgsd_set_num_threads(1);
        CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &r1));
        mgsd_set_num_threads(2);
        CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &r2));
        CHECK(memcmp(&r1.all, &r2.all, sizeof r1.all) == 0);
        beyond_reference(ds, &eo, &want);
        check_beyond(&r1.all, &want, eo.n_ks);
        CHECK(r1.all.itemcoverage[0] > 0 && r1.all.itemcoverage[0] < r1.all.itemcoverage[2]);
        CHECK(r1.all.giniindex[2] > 0 && r1.all.giniindex[2] < 1);
        CHECK(r1.all.tailpercentage[2] > 0);
    }
    mgsd_set_num_threads(old);
    /* sampled ranking: the lists hold only the target and its negatives */
    eo.mask_history = 0;
    eo.tail_ratio = 0.1;
    eo.n_neg = 20;
    eo.neg_seed = 5;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &r1));
    beyond_reference(ds, &eo, &want);
    check_beyond(&r1.all, &want, eo.n_ks);
    /* the accuracy metrics do not change when beyond-accuracy ones are added */
    eo.n_neg = 0;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &r1));
    eo.metrics = MGSD_METRIC_HIT;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &plain));
    CHECK(memcmp(r1.all.hit, plain.all.hit, sizeof plain.all.hit) == 0);
    CHECK(memcmp(r1.all.ndcg, plain.all.ndcg, sizeof plain.all.ndcg) == 0);
    /* keys: enumerated in order when selected, not found when not */
    double v;
    char key[40];
    CHECK_INT_EQ(mgsd_eval_entry_count(&r1), 6 * 3);
    CHECK_OK(mgsd_eval_entry(&r1, 3, key, sizeof key, &v));
    CHECK_STR_EQ(key, "itemcoverage@1");
    CHECK_OK(mgsd_eval_get(&r1, "giniindex@20", &v));
    CHECK_NEAR(v, r1.all.giniindex[2], 0);
    CHECK_STATUS(mgsd_eval_get(&plain, "giniindex@20", &v), MGSD_ERR_NOT_FOUND);
    CHECK_CONTAINS(mgsd_last_error(), "not selected");
    CHECK_OK(mgsd_eval_get(&plain, "ndcg@7", &v));
    mgsd_dataset_free(ds);
}

/* Groups by the target's popularity (training instances): users and hit / ndcg per group
 * against a serial recomputation; the groups partition the users; edge checks. */
static void test_eval_groups_popularity(void) {
    mgsd_dataset *ds = synth_dataset(300);
    if (!ds) return;
    int32_t N = mgsd_dataset_num_items(ds), U = mgsd_dataset_num_users(ds);
    int64_t *phi = calloc((size_t)N, sizeof *phi);
    for (int32_t u = 1; u <= U; u++) {
        const int32_t *it;
        int32_t len;
        mgsd_dataset_user_items(ds, u, &it, &len);
        for (int32_t p = 1; p <= (len >= 4 ? len - 3 : len >= 2 ? 1 : 0); p++) phi[it[p]]++;
    }
    /* edges at the terciles of the test targets' popularity, so that every group has users */
    int64_t *tp = malloc((size_t)U * sizeof *tp);
    int nt = 0;
    for (int32_t u = 1; u <= U; u++) {
        const int32_t *it;
        int32_t len;
        mgsd_dataset_user_items(ds, u, &it, &len);
        if (len >= 3) tp[nt++] = phi[it[len - 1]];
    }
    qsort(tp, (size_t)nt, sizeof *tp, cmp_i64_asc);
    const int e0 = (int)tp[nt / 3] + 1, e1 = (int)tp[2 * nt / 3] + 2;
    free(tp);
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    eo.batch_size = 50;
    eo.bucket_by = MGSD_EVAL_BY_POPULARITY;
    eo.n_bucket_edges = 2;
    eo.bucket_edges[0] = e0;
    eo.bucket_edges[1] = e1;
    mgsd_eval_result r;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &N, &eo, &r));
    CHECK_INT_EQ(r.n_buckets, 3);
    CHECK_INT_EQ(r.bucket_by, MGSD_EVAL_BY_POPULARITY);
    CHECK_INT_EQ(r.bucket_lo[0], 0);
    CHECK_INT_EQ(r.bucket_hi[0], e0);
    int64_t users[3] = {0};
    double hit10[3] = {0}, ndcg10[3] = {0};
    float *row = malloc((size_t)N * sizeof *row);
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 1, 50));
    for (int32_t u = 1; u <= U; u++) {
        const int32_t *it;
        int32_t len;
        mgsd_dataset_user_items(ds, u, &it, &len);
        if (len < 3) continue;
        int32_t target = it[len - 1];
        int g = phi[target] < e0 ? 0 : phi[target] < e1 ? 1 : 2;
        mgsd_batch_reset(&b);
        mgsd_batch_append(&b, u, target, it, len - 1);
        hash_score(&N, &b, row);
        int64_t rk;
        CHECK_OK(mgsd_eval_rank(row, N, target, NULL, 0, &rk));
        users[g]++;
        if (rk < 10) {
            hit10[g] += 1;
            ndcg10[g] += 1 / log2((double)rk + 2);
        }
    }
    int64_t total = 0;
    for (int g = 0; g < 3; g++) {
        CHECK_INT_EQ(r.bucket[g].n_users, users[g]);
        total += r.bucket[g].n_users;
        if (users[g]) {
            CHECK_NEAR(r.bucket[g].hit[1], hit10[g] / users[g], 1e-12);
            CHECK_NEAR(r.bucket[g].ndcg[1], ndcg10[g] / users[g], 1e-12);
        }
    }
    CHECK_INT_EQ(total, r.all.n_users);
    CHECK(users[0] > 0 && users[1] > 0 && users[2] > 0);
    /* entries of a group: the selected accuracy metrics only */
    char key[40];
    double v;
    CHECK_INT_EQ(mgsd_eval_bucket_entry_count(&r), 4 * 3);
    CHECK_OK(mgsd_eval_bucket_entry(&r, 2, 3, key, sizeof key, &v));
    CHECK_STR_EQ(key, "mrr@5"); /* metric-major: hit@5,10,20, then mrr@5 */
    CHECK_NEAR(v, r.bucket[2].mrr[0], 0);
    CHECK_STATUS(mgsd_eval_bucket_entry(&r, 3, 0, key, sizeof key, &v), MGSD_ERR_INVALID_ARG);
    /* popularity edges may start at 1, length edges at 2 */
    eo.bucket_edges[0] = 1;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &N, &eo, &r));
    eo.bucket_edges[0] = 0;
    CHECK_STATUS(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &N, &eo, &r), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "target popularity");
    eo.bucket_by = MGSD_EVAL_BY_LENGTH;
    eo.bucket_edges[0] = 1;
    CHECK_STATUS(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &N, &eo, &r), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), ">= 2 (history length)");
    mgsd_batch_free(&b);
    free(row);
    free(phi);
    mgsd_dataset_free(ds);
}

/* Sampled ranking (eval_mode uniN / popN): mode parsing; the negatives (never the target or,
 * masked, the history; sorted, distinct, fixed by seed, split and user, not by batch or
 * threads); metrics equal a serial recomputation over mgsd_eval_negatives; never below
 * full ranking; uniform and popularity draws follow their distributions; errors. */
static void test_eval_sampled(void) {
    int nn = -1, pop = -1;
    CHECK_OK(mgsd_eval_parse_mode("full", &nn, &pop));
    CHECK(nn == 0 && pop == 0);
    CHECK_OK(mgsd_eval_parse_mode("uni100", &nn, &pop));
    CHECK(nn == 100 && pop == 0);
    CHECK_OK(mgsd_eval_parse_mode("POP7", &nn, &pop));
    CHECK(nn == 7 && pop == 1);
    const char *bad[] = {"uni", "uni0", "uni-5", "uni10x", "pop 5", "sampled", "", "uni1000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STATUS(mgsd_eval_parse_mode(bad[i], &nn, &pop), MGSD_ERR_CONFIG);
    char name[32];
    mgsd_eval_mode_name(50, 1, name, sizeof name);
    CHECK_STR_EQ(name, "pop50");
    mgsd_eval_mode_name(0, 1, name, sizeof name);
    CHECK_STR_EQ(name, "full");

    mgsd_dataset *ds = synth_dataset(400);
    if (!ds) return;
    int32_t n = mgsd_dataset_num_items(ds), U = mgsd_dataset_num_users(ds);
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    eo.batch_size = 37;
    eo.n_neg = 30;
    eo.neg_seed = 11;
    float *row = malloc((size_t)n * sizeof *row);
    int32_t *neg = malloc(sizeof(int32_t) * 64), *neg2 = malloc(sizeof(int32_t) * 64);
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 1, 50));
    for (int mask = 0; mask <= 1; mask++)
        for (int p = 0; p <= 1; p++)
            for (int split = MGSD_SPLIT_VALID; split <= MGSD_SPLIT_TEST; split++) {
                eo.mask_history = mask;
                eo.neg_pop = p;
                mgsd_eval_result r1, r2, full;
                int old = mgsd_get_num_threads();
                mgsd_set_num_threads(1);
                CHECK_OK(mgsd_eval_run(ds, (mgsd_split)split, hash_score, &n, &eo, &r1));
                mgsd_set_num_threads(2);
                eo.batch_size = 128;
                CHECK_OK(mgsd_eval_run(ds, (mgsd_split)split, hash_score, &n, &eo, &r2));
                eo.batch_size = 37;
                mgsd_set_num_threads(old);
                CHECK(memcmp(&r1.all, &r2.all, sizeof r1.all) == 0);
                CHECK(r1.n_neg == 30 && r1.neg_pop == p);
                mgsd_eval_options fo = eo;
                fo.n_neg = 0;
                CHECK_OK(mgsd_eval_run(ds, (mgsd_split)split, hash_score, &n, &fo, &full));
                CHECK(full.n_neg == 0);
                for (int j = 0; j < r1.n_ks; j++) CHECK(r1.all.hit[j] >= full.all.hit[j]);
                /* serial recomputation */
                double hit10 = 0, mrr20 = 0;
                int bad_neg = 0, unsorted = 0, same_other_seed = 0;
                for (int32_t u = 1; u <= U; u++) {
                    const int32_t *it;
                    int32_t len;
                    mgsd_dataset_user_items(ds, u, &it, &len);
                    int32_t nh = split == MGSD_SPLIT_TEST ? len - 1 : len - 2, target = it[nh];
                    int k = 0, k2 = 0;
                    CHECK_OK(mgsd_eval_negatives(ds, (mgsd_split)split, &eo, u, target, it, nh, neg, &k));
                    mgsd_batch_reset(&b);
                    mgsd_batch_append(&b, u, target, it, nh);
                    hash_score(&n, &b, row);
                    int64_t r = 0;
                    for (int q = 0; q < k; q++) {
                        int32_t v = neg[q];
                        bad_neg += v < 1 || v >= n || v == target;
                        for (int32_t h = 0; mask && h < nh; h++) bad_neg += it[h] == v;
                        unsorted += q > 0 && neg[q - 1] >= v;
                        r += v < target ? row[v] >= row[target] : row[v] > row[target];
                    }
                    hit10 += r < 10;
                    if (r < 20) mrr20 += 1.0 / (double)(r + 1);
                    mgsd_eval_options o2 = eo;
                    o2.neg_seed = 12;
                    CHECK_OK(mgsd_eval_negatives(ds, (mgsd_split)split, &o2, u, target, it, nh, neg2, &k2));
                    same_other_seed += k == k2 && memcmp(neg, neg2, sizeof(int32_t) * (size_t)k) == 0;
                }
                CHECK_INT_EQ(bad_neg, 0);
                CHECK_INT_EQ(unsorted, 0);
                CHECK(same_other_seed < U / 10);
                CHECK_NEAR(r1.all.hit[1], hit10 / U, 1e-12);
                CHECK_NEAR(r1.all.mrr[2], mrr20 / U, 1e-12);
            }
    /* Distributions: draws over all users of the test split (no masking), compared with the
     * uniform share and with the interaction-count share of the more popular half of items. */
    int64_t *cnt = calloc((size_t)n, sizeof *cnt), *freq = calloc((size_t)n, sizeof *freq);
    for (int32_t u = 1; u <= U; u++) {
        const int32_t *it;
        int32_t len;
        mgsd_dataset_user_items(ds, u, &it, &len);
        for (int32_t i = 0; i < len; i++) cnt[it[i]]++;
    }
    eo.mask_history = 0;
    eo.n_neg = 5;
    for (int p = 0; p <= 1; p++) {
        eo.neg_pop = p;
        memset(freq, 0, sizeof(int64_t) * (size_t)n);
        int64_t draws = 0;
        for (int32_t u = 1; u <= U; u++) {
            const int32_t *it;
            int32_t len;
            int k;
            mgsd_dataset_user_items(ds, u, &it, &len);
            CHECK_OK(mgsd_eval_negatives(ds, MGSD_SPLIT_TEST, &eo, u, it[len - 1], it, len - 1, neg, &k));
            for (int q = 0; q < k; q++) freq[neg[q]]++;
            draws += k;
        }
        /* share of draws landing on items above the median count, against its expectation */
        int64_t *sorted = malloc(sizeof(int64_t) * (size_t)n);
        memcpy(sorted, cnt + 1, sizeof(int64_t) * (size_t)(n - 1));
        for (int32_t i = 0; i < n - 1; i++) /* insertion sort: n is small */
            for (int32_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                int64_t t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        int64_t med = sorted[(n - 1) / 2], total = 0, hi_cnt = 0, hi_freq = 0, hi_items = 0;
        for (int32_t i = 1; i < n; i++) {
            total += cnt[i];
            if (cnt[i] > med) {
                hi_cnt += cnt[i];
                hi_freq += freq[i];
                hi_items++;
            }
        }
        double expect = p ? (double)hi_cnt / (double)total : (double)hi_items / (double)(n - 1);
        double got = (double)hi_freq / (double)draws, sd = sqrt(expect * (1 - expect) / (double)draws);
        CHECK(fabs(got - expect) < 5 * sd + 0.01);
        free(sorted);
    }
    free(cnt);
    free(freq);
    /* errors */
    eo.n_neg = n - 1;
    mgsd_eval_result res;
    CHECK_STATUS(mgsd_eval_run(ds, MGSD_SPLIT_TEST, hash_score, &n, &eo, &res), MGSD_ERR_CONFIG);
    CHECK_STATUS(mgsd_eval_negatives(ds, MGSD_SPLIT_TEST, &eo, 1, 1, NULL, 0, neg, &nn), MGSD_ERR_CONFIG);
    eo.n_neg = 0;
    CHECK_STATUS(mgsd_eval_negatives(ds, MGSD_SPLIT_TEST, &eo, 1, 1, NULL, 0, neg, &nn), MGSD_ERR_INVALID_ARG);
    mgsd_batch_free(&b);
    free(row);
    free(neg);
    free(neg2);
    mgsd_dataset_free(ds);
}

/* mgsd_recommend_users: what it emits, and in which order, against a serial recomputation
 * with mgsd_eval_topk (batches that do not divide the user list, repeated users, history
 * excluded or kept), and its errors. */
typedef struct {
    const mgsd_dataset *ds;
    int32_t n_items;
    int k, keep, n_calls, fail_at, mismatches, history_hits;
    const int32_t *expect_users;
} rec_check;

static mgsd_status rec_emit(void *ctx, int32_t user, const int32_t *ids, const float *scores, int n) {
    rec_check *c = ctx;
    if (c->n_calls == c->fail_at) return MGSD_ERR_IO;
    if (user != c->expect_users[c->n_calls]) c->mismatches++;
    c->n_calls++;
    const int32_t *it;
    int32_t len;
    mgsd_dataset_user_items(c->ds, user, &it, &len);
    float *row = malloc((size_t)c->n_items * sizeof *row);
    int32_t want[32];
    float want_s[32];
    int nw = 0;
    mgsd_batch b;
    mgsd_batch_init(&b, 1, 50);
    mgsd_batch_append(&b, user, 0, it, len);
    hash_score(&c->n_items, &b, row);
    mgsd_eval_topk(row, c->n_items, c->k, c->keep ? NULL : it, c->keep ? 0 : len, want, want_s, &nw);
    if (n != nw) c->mismatches++;
    for (int i = 0; i < n && i < nw; i++)
        if (ids[i] != want[i] || scores[i] != want_s[i]) c->mismatches++;
    for (int i = 0; i < n; i++)
        for (int32_t j = 0; j < len; j++) c->history_hits += ids[i] == it[j];
    mgsd_batch_free(&b);
    free(row);
    return MGSD_OK;
}

static mgsd_status nan_score(void *m, const mgsd_batch *b, float *scores) {
    hash_score(m, b, scores);
    scores[(size_t)(b->B - 1) * *(const int32_t *)m + 3] = NAN;
    return MGSD_OK;
}

static void test_recommend_users(void) {
    mgsd_dataset *ds = synth_dataset(100);
    if (!ds) return;
    int32_t n = mgsd_dataset_num_items(ds), U = mgsd_dataset_num_users(ds);
    int32_t users[130];
    for (int i = 0; i < 130; i++) users[i] = 1 + (int32_t)((i * 37) % U); /* shuffled, with repeats */
    for (int keep = 0; keep < 2; keep++) {
        rec_check c = {ds, n, 10, keep, 0, -1, 0, 0, users};
        mgsd_recommend_options ro = {10, 7, 50, keep};
        CHECK_OK(mgsd_recommend_users(ds, users, 130, hash_score, &n, &ro, rec_emit, &c));
        CHECK_INT_EQ(c.n_calls, 130);
        CHECK_INT_EQ(c.mismatches, 0);
        if (!keep) CHECK_INT_EQ(c.history_hits, 0);
        else CHECK(c.history_hits > 0); /* hash scores do rank some history items high */
    }
    /* an emit error stops the run and comes back */
    rec_check c = {ds, n, 5, 0, 0, 20, 0, 0, users};
    mgsd_recommend_options ro = {5, 8, 0, 0};
    CHECK_STATUS(mgsd_recommend_users(ds, users, 130, hash_score, &n, &ro, rec_emit, &c), MGSD_ERR_IO);
    CHECK_INT_EQ(c.n_calls, 20);
    /* NaN scores name the user; bad arguments */
    c.fail_at = -1;
    c.n_calls = 0;
    CHECK_STATUS(mgsd_recommend_users(ds, users, 10, nan_score, &n, &ro, rec_emit, &c), MGSD_ERR_NUMERIC);
    CHECK_CONTAINS(mgsd_last_error(), "NaN scores for user");
    int32_t bad_user = U + 1;
    CHECK_STATUS(mgsd_recommend_users(ds, &bad_user, 1, hash_score, &n, &ro, rec_emit, &c), MGSD_ERR_INVALID_ARG);
    ro.k = 0;
    CHECK_STATUS(mgsd_recommend_users(ds, users, 10, hash_score, &n, &ro, rec_emit, &c), MGSD_ERR_INVALID_ARG);
    ro.k = 5;
    CHECK_OK(mgsd_recommend_users(ds, users, 0, hash_score, &n, &ro, rec_emit, &c)); /* nothing to do */
    mgsd_dataset_free(ds);
}

typedef struct {
    float s;
    int32_t i;
} pair;

static int cmp_pair(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static void test_topk(void) {
    int32_t N = 1000;
    float *s = malloc((size_t)N * sizeof *s);
    pair *ref = malloc((size_t)N * sizeof *ref);
    int32_t *ids = malloc(2000 * sizeof *ids);
    float *ts = malloc(2000 * sizeof *ts);
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 7);
    for (int32_t i = 0; i < N; i++) s[i] = (float)mgsd_rng_below(&rng, 50) / 10.f; /* many ties */
    s[0] = 100.f;
    int n_ref = 0;
    for (int32_t i = 1; i < N; i++) ref[n_ref++] = (pair){s[i], i};
    qsort(ref, (size_t)n_ref, sizeof *ref, cmp_pair);
    int kk[4] = {1, 10, 999, 2000};
    for (int t = 0; t < 4; t++) {
        int n = -1;
        CHECK_OK(mgsd_eval_topk(s, N, kk[t], NULL, 0, ids, ts, &n));
        CHECK_INT_EQ(n, kk[t] < N - 1 ? kk[t] : N - 1);
        int bad = 0;
        for (int j = 0; j < n; j++) bad += ids[j] != ref[j].i || ts[j] != ref[j].s;
        CHECK_INT_EQ(bad, 0);
    }
    /* rank of the item at top-k position p is p */
    int n = 0;
    CHECK_OK(mgsd_eval_topk(s, N, 50, NULL, 0, ids, ts, &n));
    int bad = 0;
    for (int j = 0; j < n; j++) {
        int64_t r;
        mgsd_eval_rank(s, N, ids[j], NULL, 0, &r);
        bad += r != j;
    }
    CHECK_INT_EQ(bad, 0);
    /* exclusion */
    int32_t ex[3] = {ref[0].i, ref[2].i, 0};
    CHECK_OK(mgsd_eval_topk(s, N, 3, ex, 3, ids, ts, &n));
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(ids[0], ref[1].i);
    CHECK_INT_EQ(ids[1], ref[3].i);
    CHECK_INT_EQ(ids[2], ref[4].i);
    /* NaN never ranks; tiny N */
    float s3[3] = {0, NAN, 1};
    CHECK_OK(mgsd_eval_topk(s3, 3, 5, NULL, 0, ids, ts, &n));
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(ids[0], 2);
    CHECK_STATUS(mgsd_eval_topk(s3, 3, 0, NULL, 0, ids, ts, &n), MGSD_ERR_INVALID_ARG);
    free(s);
    free(ref);
    free(ids);
    free(ts);
}

static void test_noise_report(void) {
    const float p[5] = {0.1f, 0.4f, 0.4f, 0.8f, 0.9f};
    const uint8_t y[5] = {1, 1, 0, 0, 1};
    mgsd_noise_report r;
    CHECK_OK(mgsd_eval_noise(p, y, 5, 0.5, &r));
    CHECK_INT_EQ(r.n_noise, 3);
    CHECK_INT_EQ(r.n_flagged, 3);
    CHECK_INT_EQ(r.true_positives, 2);
    CHECK_NEAR(r.precision, 2.0 / 3, 1e-12);
    CHECK_NEAR(r.recall, 2.0 / 3, 1e-12);
    CHECK_NEAR(r.f1, 2.0 / 3, 1e-12);
    CHECK_NEAR(r.auc, 3.5 / 6, 1e-12);
    /* perfect and inverted detectors */
    const float q[4] = {0.1f, 0.2f, 0.7f, 0.9f};
    const uint8_t z[4] = {1, 1, 0, 0}, zi[4] = {0, 0, 1, 1};
    CHECK_OK(mgsd_eval_noise(q, z, 4, 0.5, &r));
    CHECK_NEAR(r.auc, 1.0, 1e-12);
    CHECK_NEAR(r.precision, 1.0, 1e-12);
    CHECK_OK(mgsd_eval_noise(q, zi, 4, 0.5, &r));
    CHECK_NEAR(r.auc, 0.0, 1e-12);
    CHECK_NEAR(r.recall, 0.0, 1e-12);
    /* all tied at the threshold: inference keeps only p > 0.5, so all are flagged */
    const float t[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    CHECK_OK(mgsd_eval_noise(t, z, 4, 0.5, &r));
    CHECK_NEAR(r.auc, 0.5, 1e-12);
    CHECK_INT_EQ(r.n_flagged, 4);
    CHECK_NEAR(r.precision, 0.5, 1e-12);
    CHECK_NEAR(r.recall, 1.0, 1e-12);
    /* a margin of exactly 0 (both logits 0) is dropped at inference: flagged at threshold 0 */
    const float m0[4] = {0.0f, -1.0f, 2.0f, 0.0f};
    CHECK_OK(mgsd_eval_noise(m0, z, 4, 0.0, &r));
    CHECK_INT_EQ(r.n_flagged, 3);
    CHECK_INT_EQ(r.true_positives, 2);
    /* one class only: AUC undefined */
    const uint8_t none[4] = {0, 0, 0, 0};
    CHECK_OK(mgsd_eval_noise(q, none, 4, 0.5, &r));
    CHECK(isnan(r.auc));
    float bad[2] = {NAN, 0.5f};
    CHECK_STATUS(mgsd_eval_noise(bad, z, 2, 0.5, &r), MGSD_ERR_NUMERIC);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Per-user ranks from mgsd_eval_run, the rank file round trip, its errors and pairing. */
static void test_rank_files(void) {
    mgsd_dataset *ds = load_abcd();
    if (!ds) return;
    stub_model sm = {5, 0, 0};
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    eo.batch_size = 2;
    int64_t ranks[4] = {-1, -1, -1, -1};
    int32_t targets[4] = {0, 0, 0, 0};
    eo.user_ranks = ranks;
    eo.user_targets = targets;
    mgsd_eval_result res;
    /* test: ranks u1 3 (d), u2 0 (a), u3 1 (b), as in test_eval_run */
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, stub_score, &sm, &eo, &res));
    int32_t u1 = mgsd_dataset_find_user(ds, "u1"), u2 = mgsd_dataset_find_user(ds, "u2"),
            u3 = mgsd_dataset_find_user(ds, "u3");
    CHECK_INT_EQ(ranks[u1], 3);
    CHECK_INT_EQ(ranks[u2], 0);
    CHECK_INT_EQ(ranks[u3], 1);
    CHECK_INT_EQ(ranks[0], -1);
    CHECK_INT_EQ(targets[u1], mgsd_dataset_find_item(ds, "d"));
    CHECK_INT_EQ(targets[u3], mgsd_dataset_find_item(ds, "b"));

    char dir[] = "/tmp/mgsd_ranks_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s/a.tsv", dir);
    snprintf(pb, sizeof pb, "%s/b.tsv", dir);
    CHECK_OK(mgsd_rank_file_write(pa, ds, ranks, targets));
    mgsd_rank_file fa, fb;
    CHECK_OK(mgsd_rank_file_read(pa, &fa));
    CHECK_INT_EQ(fa.n, 3);
    CHECK(fa.n == 3 && !strcmp(fa.users[0], mgsd_dataset_user_name(ds, 1)));
    for (int64_t i = 0; i < fa.n; i++) {
        int32_t u = mgsd_dataset_find_user(ds, fa.users[i]);
        CHECK_INT_EQ(fa.ranks[i], ranks[u]);
        CHECK(!strcmp(fa.items[i], mgsd_dataset_item_name(ds, targets[u])));
        CHECK_INT_EQ(fa.lines[i], i + 2);
    }
    /* B: the same users in another order (blank line and CRLF), u2 now ranked 5th */
    write_text(pb, "user_id\titem_id\trank\r\nu3\tb\t2\r\n\nu2\ta\t5\nu1\td\t4\n");
    CHECK_OK(mgsd_rank_file_read(pb, &fb));
    CHECK_INT_EQ(fb.lines[1], 4);
    int64_t ra[3], rb[3];
    CHECK_OK(mgsd_rank_files_pair(&fa, pa, &fb, pb, ra, rb));
    for (int64_t i = 0; i < 3; i++) {
        int32_t u = mgsd_dataset_find_user(ds, fa.users[i]);
        CHECK_INT_EQ(ra[i], ranks[u]);
        CHECK_INT_EQ(rb[i], u == u2 ? 4 : ranks[u]);
    }
    mgsd_rank_file_free(&fb);
    /* pairing errors name the file, the line and the user */
    write_text(pb, "user_id\titem_id\trank\nu3\tb\t2\nu1\td\t4\n");
    CHECK_OK(mgsd_rank_file_read(pb, &fb));
    CHECK_STATUS(mgsd_rank_files_pair(&fa, pa, &fb, pb, ra, rb), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "user 'u2' is not in");
    CHECK_STATUS(mgsd_rank_files_pair(&fb, pb, &fa, pa, ra, rb), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "user 'u2' is not in");
    mgsd_rank_file_free(&fb);
    write_text(pb, "user_id\titem_id\trank\nu3\tb\t2\nu2\tc\t5\nu1\td\t4\n");
    CHECK_OK(mgsd_rank_file_read(pb, &fb));
    CHECK_STATUS(mgsd_rank_files_pair(&fa, pa, &fb, pb, ra, rb), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "target item 'a' but 'c'");
    CHECK_CONTAINS(mgsd_last_error(), "b.tsv:3");
    mgsd_rank_file_free(&fb);
    mgsd_rank_file_free(&fa);
    /* malformed files */
    static const struct { const char *text, *msg; mgsd_status st; } bad[] = {
        {"", "empty file", MGSD_ERR_EMPTY},
        {"user_id\titem_id\trank\n\n", "no users", MGSD_ERR_EMPTY},
        {"user\titem\trank\nu1\td\t4\n", "b.tsv:1: not a rank file", MGSD_ERR_PARSE},
        {"user_id\titem_id\trank\nu1\td\n", "b.tsv:2: expected 3 TAB-separated fields", MGSD_ERR_PARSE},
        {"user_id\titem_id\trank\nu1\td\t4\t1\n", "found 4", MGSD_ERR_PARSE},
        {"user_id\titem_id\trank\nu1\td\t0\n", "rank '0' is not a positive integer", MGSD_ERR_PARSE},
        {"user_id\titem_id\trank\nu1\td\t4x\n", "rank '4x'", MGSD_ERR_PARSE},
        {"user_id\titem_id\trank\n\td\t4\n", "b.tsv:2: empty user or item id", MGSD_ERR_PARSE},
        {"user_id\titem_id\trank\nu1\td\t4\nu2\ta\t1\nu1\td\t3\n", "b.tsv:4: user 'u1' is listed twice (first at line 2)",
         MGSD_ERR_PARSE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(pb, bad[i].text);
        CHECK_STATUS(mgsd_rank_file_read(pb, &fb), bad[i].st);
        CHECK_CONTAINS(mgsd_last_error(), bad[i].msg);
        CHECK(fb.n == 0 && fb.buf == NULL);
    }
    /* from memory: the same parser; a NUL byte is an error naming its line */
    const char mem[] = "user_id\titem_id\trank\nu1\td\t4\nu2\ta\t1\n";
    CHECK_OK(mgsd_rank_file_parse("mem.tsv", mem, sizeof mem - 1, &fb));
    CHECK(fb.n == 2 && fb.ranks[1] == 0 && !strcmp(fb.items[0], "d"));
    mgsd_rank_file_free(&fb);
    CHECK_STATUS(mgsd_rank_file_parse("mem.tsv", mem, sizeof mem, &fb), MGSD_ERR_PARSE);
    CHECK_CONTAINS(mgsd_last_error(), "mem.tsv:4: NUL byte");
    snprintf(pb, sizeof pb, "%s/missing.tsv", dir);
    CHECK_STATUS(mgsd_rank_file_read(pb, &fb), MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "missing.tsv");
    remove(pa);
    snprintf(pb, sizeof pb, "%s/b.tsv", dir);
    remove(pb);
    rmdir(dir);
    mgsd_dataset_free(ds);
}

/* The paired comparison on hand-computed figures. */
static void test_paired(void) {
    mgsd_paired_result r;
    /* hit@1: A hits users 0 and 1, B users 0, 2 and 3: d = {0, -1, 1, 1} */
    int64_t a[8] = {0, 0, 5, 5}, b[8] = {0, 5, 0, 0};
    CHECK_OK(mgsd_eval_paired(a, b, 4, 1, &r));
    CHECK_INT_EQ(r.n, 4);
    CHECK_NEAR(r.hit.a, 0.5, 1e-12);
    CHECK_NEAR(r.hit.b, 0.75, 1e-12);
    CHECK_NEAR(r.hit.diff, 0.25, 1e-12);
    double se = sqrt(2.75 / 3 / 4);
    CHECK_NEAR(r.hit.se, se, 1e-12);
    CHECK_NEAR(r.hit.lo, 0.25 - 1.96 * se, 1e-12);
    CHECK_NEAR(r.hit.hi, 0.25 + 1.96 * se, 1e-12);
    CHECK_NEAR(r.hit.p, erfc(0.25 / se / sqrt(2.0)), 1e-12);
    CHECK_INT_EQ(r.only_a, 1);
    CHECK_INT_EQ(r.only_b, 2);
    CHECK_NEAR(r.p_mcnemar, 1.0, 1e-12); /* 2 P(X <= 1), X ~ Bin(3, 1/2) = 2 x 4/8 */
    /* McNemar: B alone hits 6 users, A none: 2 / 2^6 */
    int64_t a2[8] = {5, 5, 5, 5, 5, 5, 5, 5}, b2[8] = {0, 0, 0, 0, 0, 0, 5, 5};
    CHECK_OK(mgsd_eval_paired(a2, b2, 8, 1, &r));
    CHECK_NEAR(r.p_mcnemar, 2.0 / 64, 1e-12);
    CHECK_OK(mgsd_eval_paired(b2, a2, 8, 1, &r)); /* symmetric */
    CHECK_NEAR(r.p_mcnemar, 2.0 / 64, 1e-12);
    CHECK_INT_EQ(r.only_a, 6);
    /* ndcg@3 and mrr@3 from ranks 2 and 0 swapped between the models: equal means, se 0.5 */
    int64_t a3[2] = {2, 0}, b3[2] = {0, 2};
    CHECK_OK(mgsd_eval_paired(a3, b3, 2, 3, &r));
    CHECK_NEAR(r.ndcg.a, 0.75, 1e-12);
    CHECK_NEAR(r.ndcg.diff, 0.0, 1e-12);
    CHECK_NEAR(r.ndcg.se, 0.5, 1e-12);
    CHECK_NEAR(r.ndcg.p, 1.0, 1e-12);
    CHECK_NEAR(r.mrr.b, (1 + 1.0 / 3) / 2, 1e-12);
    CHECK_NEAR(r.mrr.se, 2.0 / 3, 1e-12); /* d = {2/3, -2/3}: sd sqrt(8/9), over sqrt(2) */
    /* identical ranks: no difference, p 1 */
    CHECK_OK(mgsd_eval_paired(a, a, 4, 10, &r));
    CHECK_NEAR(r.hit.diff, 0.0, 0);
    CHECK_NEAR(r.hit.p, 1.0, 0);
    CHECK_NEAR(r.p_mcnemar, 1.0, 0);
    CHECK_STATUS(mgsd_eval_paired(a, b, 1, 1, &r), MGSD_ERR_INVALID_ARG);
    CHECK_STATUS(mgsd_eval_paired(a, b, 4, 0, &r), MGSD_ERR_INVALID_ARG);
    int64_t neg[2] = {0, -1};
    CHECK_STATUS(mgsd_eval_paired(neg, a, 2, 1, &r), MGSD_ERR_INVALID_ARG);
}

/* Student's t against closed forms (df 1: Cauchy, p = 1 - 2 atan(t) / pi; df 2: p = 1 -
 * t / sqrt(2 + t^2)) and tabled quantiles; the comparison over runs on hand-made results. */
static void test_paired_runs(void) {
    const double pi = 3.14159265358979323846;
    const double ts[] = {0.0, 0.3, 1.0, 2.5, 12.7, 300.0};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        double t = ts[i];
        CHECK_NEAR(mgsd_student_t_p(t, 1), 1 - 2 * atan(t) / pi, 1e-12);
        CHECK_NEAR(mgsd_student_t_p(-t, 2), 1 - t / sqrt(2 + t * t), 1e-12);
    }
    CHECK_NEAR(mgsd_student_t_p(2.776445105, 4), 0.05, 1e-8);
    CHECK_NEAR(mgsd_student_t_p(1.959963985, 1e7), 0.05, 1e-6); /* the normal limit */
    CHECK_NEAR(mgsd_student_t_p(INFINITY, 3), 0.0, 0);
    CHECK(isnan(mgsd_student_t_p(1.0, 0)));
    CHECK_NEAR(mgsd_student_t_quantile(0.975, 1), 12.706204736, 1e-7);
    CHECK_NEAR(mgsd_student_t_quantile(0.975, 2), 4.302652730, 1e-8);
    CHECK_NEAR(mgsd_student_t_quantile(0.025, 4), -2.776445105, 1e-8);
    CHECK_NEAR(mgsd_student_t_quantile(0.5, 4), 0.0, 0);
    CHECK(isnan(mgsd_student_t_quantile(1.0, 4)));

    mgsd_paired_result r[3];
    memset(r, 0, sizeof r);
    const double da[3] = {0.0800, 0.0820, 0.0817}, d[3] = {0.0040, 0.0026, 0.0039};
    for (int i = 0; i < 3; i++) {
        r[i].n = 100;
        r[i].k = 10;
        r[i].hit.a = da[i];
        r[i].hit.b = da[i] + d[i];
        r[i].hit.diff = d[i];
        r[i].ndcg.diff = 0.001; /* the same difference every run: se 0, p 0 */
        r[i].ndcg.b = 0.001;
    }
    mgsd_runs_result o;
    CHECK_OK(mgsd_eval_paired_runs(r, 3, &o));
    CHECK_INT_EQ(o.runs, 3);
    CHECK_INT_EQ(o.k, 10);
    double mean = (0.0040 + 0.0026 + 0.0039) / 3, ss = 0;
    for (int i = 0; i < 3; i++) ss += (d[i] - mean) * (d[i] - mean);
    double sd = sqrt(ss / 2), se = sd / sqrt(3.0), t = mean / se;
    CHECK_NEAR(o.hit.a, (0.0800 + 0.0820 + 0.0817) / 3, 1e-12);
    CHECK_NEAR(o.hit.b - o.hit.a, mean, 1e-12);
    CHECK_NEAR(o.hit.diff, mean, 1e-12);
    CHECK_NEAR(o.hit.sd, sd, 1e-12);
    CHECK_NEAR(o.hit.se, se, 1e-12);
    CHECK_NEAR(o.hit.t, t, 1e-9);
    CHECK_NEAR(o.hit.p, 1 - t / sqrt(2 + t * t), 1e-12); /* about 0.016 */
    CHECK_NEAR(o.hit.lo, mean - 4.302652730 * se, 1e-9);
    CHECK_NEAR(o.hit.hi, mean + 4.302652730 * se, 1e-9);
    CHECK_NEAR(o.ndcg.se, 0.0, 0);
    CHECK_NEAR(o.ndcg.p, 0.0, 0);
    CHECK_NEAR(o.mrr.diff, 0.0, 0); /* all zero: no difference, p 1 */
    CHECK_NEAR(o.mrr.p, 1.0, 0);
    CHECK_STATUS(mgsd_eval_paired_runs(r, 1, &o), MGSD_ERR_INVALID_ARG);
    r[2].k = 5;
    CHECK_STATUS(mgsd_eval_paired_runs(r, 3, &o), MGSD_ERR_INVALID_ARG);
}

int main(void) {
    test_rank_ties();
    test_eval_run();
    test_eval_threads();
    test_eval_sampled();
    test_eval_beyond();
    test_eval_groups_popularity();
    test_topk();
    test_recommend_users();
    test_noise_report();
    test_rank_files();
    test_paired();
    test_paired_runs();
    return test_summary();
}
