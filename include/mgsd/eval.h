/* mgsd evaluation: full ranking of all items for validation/test users, RecBole
 * metrics (hit, ndcg, mrr, recall at several K), exact top-K selection, optional
 * grouping by history length, and the noise-detection report (precision, recall,
 * ROC AUC) for models that estimate per-item clean probabilities.
 *
 * Rank convention (0-based rank r of the target among items 1..N-1):
 *   r = #{ i : score[i] > score[target] } + #{ i < target : score[i] == score[target] }
 * i.e. ties are broken by item id, lower id first, the same order mgsd_eval_topk uses,
 * so "target in top K" <=> r < K. Item 0 (padding) never counts. NaN scores are an
 * error (MGSD_ERR_NUMERIC). With history masking on, the user's history items (except the
 * target itself) are excluded before ranking, like scores of -inf.
 *
 * Sampled ranking (RecBole's eval_args mode "uniN" / "popN"; options n_neg, neg_pop): the
 * target is ranked, with the same convention, only against n_neg negatives drawn for its
 * user. The negatives are drawn with replacement, as RecBole's sampler draws them, and
 * repeats count once. They come uniformly from items 1..N-1 or in proportion to each item's
 * interaction count in the whole dataset. The target is never drawn, and with history
 * masking the history items are not drawn either. The draws of user u on a split come from
 * a stream fixed by (neg_seed, split, u): the same negatives at every validation and for any
 * batch size or thread count.
 *
 * Per-user metrics at K: hit = [r < K], recall = hit (one relevant item per user),
 * mrr = 1/(r+1) if r < K else 0, ndcg = 1/log2(r+2) if r < K else 0; averaged over
 * users. Keys are RecBole's lowercase "hit@10", "ndcg@10", "mrr@10", "recall@10". */
#ifndef MGSD_EVAL_H
#define MGSD_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include "mgsd/core.h"
#include "mgsd/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MGSD_EVAL_MAX_KS 16
#define MGSD_EVAL_MAX_BUCKETS 16

/* The model: write scores for all N items (padding included) of every row of the
 * batch into scores[b * n_items + i], b < batch->B. Anything written for item 0 is
 * ignored. Called from one thread at a time. */
typedef mgsd_status (*mgsd_score_fn)(void *model, const mgsd_batch *batch, float *scores);

typedef struct mgsd_eval_options {
    int batch_size;                        /* users per score call (default 256) */
    int L;                                 /* history length; <= 0: the dataset's */
    int n_ks;                              /* default 3 */
    int ks[MGSD_EVAL_MAX_KS];              /* default {5, 10, 20} */
    int mask_history;                      /* 0 (RecBole reference behaviour) */
    /* Groups of users, by bucket_by: MGSD_EVAL_BY_LENGTH (the history's full length before
     * truncation; buckets [1,e_0), [e_0,e_1), ..., [e_last, inf), edges >= 2) or
     * MGSD_EVAL_BY_POPULARITY (the target item's popularity phi, its number of training
     * instances as for AveragePopularity below; buckets [0,e_0), ..., [e_last, inf), edges
     * >= 1). Edges increasing; n_bucket_edges = 0 disables grouping. At most
     * MGSD_EVAL_MAX_BUCKETS - 1 edges. Groups get the accuracy metrics only. */
    int bucket_by;
    int n_bucket_edges;
    int bucket_edges[MGSD_EVAL_MAX_BUCKETS - 1];
    unsigned metrics;                      /* MGSD_METRIC_* bits reported (default: hit, mrr, ndcg, recall) */
    double tail_ratio;                     /* TailPercentage's long tail (RecBole's tail_ratio): > 1, the items with
                                              1..tail_ratio training interactions; in (0, 1], the rarest
                                              max(floor(n x tail_ratio), 1) of the n items with any; <= 0: 0.1 */
    int n_neg;                             /* 0: full ranking (default); > 0: sampled ranking, 1..N-2 */
    int neg_pop;                           /* sampled: 0 uniform ("uniN"), 1 by interaction count ("popN") */
    uint64_t neg_seed;                     /* sampled: seed of the negatives' streams */
    /* Optional outputs (NULL: off), arrays of n_users + 1 indexed by dense user id: the
     * 0-based rank and the target item of every user evaluated; other entries are left as
     * they are. For rank files and paired comparisons (below). */
    int64_t *user_ranks;
    int32_t *user_targets;
} mgsd_eval_options;

enum { MGSD_EVAL_BY_LENGTH = 0, MGSD_EVAL_BY_POPULARITY = 1 };

/* Metrics (RecBole's names, case-insensitive in mgsd_eval_parse_metric). The accuracy
 * metrics (hit .. precision) are always computed; the mask selects which mgsd_eval_entry
 * enumerates (tables, results.json). With one target per user, Precision@K = Hit@K / K.
 *
 * RecBole's beyond-accuracy metrics are computed only when selected, from every evaluated
 * user's top-K list (the items ranked by the rank convention above, with the same
 * exclusions: the masked history, or under sampled ranking everything but the target and
 * its negatives). n_items counts the padding id as RecBole's item_num does, and an item's
 * popularity phi(i) is its number of RecBole training instances (i as the target of a
 * training prefix: each user's items at positions 1 .. n_train, data_split_counts):
 *   ItemCoverage@K      distinct items in the users' top-K lists / n_items;
 *   AveragePopularity@K mean over users of (1/K) sum of phi over the user's top K;
 *   GiniIndex@K         with c_(1) <= ... <= c_(m) the counts of the m distinct recommended
 *                       items and T = users x K: sum_j (2 (n_items - m + j) - n_items - 1) c_(j)
 *                       / (T n_items), i.e. the Gini index over all n_items, unrecommended
 *                       items counting 0;
 *   ShannonEntropy@K    -sum_j (c_j / T) ln(c_j / T), divided by m (RecBole's normalisation);
 *   TailPercentage@K    mean over users of the share of the top K in the long tail
 *                       (mgsd_eval_options.tail_ratio; only items with phi >= 1 can be tail
 *                       items, as in RecBole, ties at the cut taken by lower id).
 * A top-K list shorter than K (fewer eligible items than K) counts its missing places as
 * popularity 0 and not in the tail. */
enum { MGSD_METRIC_HIT = 1, MGSD_METRIC_MRR = 2, MGSD_METRIC_NDCG = 4, MGSD_METRIC_RECALL = 8,
       MGSD_METRIC_PRECISION = 16, MGSD_METRIC_DEFAULT = 15, MGSD_METRIC_ITEMCOVERAGE = 32,
       MGSD_METRIC_AVERAGEPOPULARITY = 64, MGSD_METRIC_GINIINDEX = 128, MGSD_METRIC_SHANNONENTROPY = 256,
       MGSD_METRIC_TAILPERCENTAGE = 512, MGSD_METRIC_BEYOND_ACCURACY = 992 };
/* Bit of a metric name ("Hit", "ndcg", ...); MGSD_ERR_CONFIG naming it if unknown. */
mgsd_status mgsd_eval_parse_metric(const char *name, unsigned *bit);

void mgsd_eval_options_default(mgsd_eval_options *o);

/* Means over users. Metric arrays are indexed like ks. */
typedef struct mgsd_eval_metrics {
    int64_t n_users;
    double hit[MGSD_EVAL_MAX_KS];
    double ndcg[MGSD_EVAL_MAX_KS];
    double mrr[MGSD_EVAL_MAX_KS];
    double recall[MGSD_EVAL_MAX_KS];
    double precision[MGSD_EVAL_MAX_KS];
    /* beyond accuracy: in mgsd_eval_result.all only, and only when selected */
    double itemcoverage[MGSD_EVAL_MAX_KS];
    double averagepopularity[MGSD_EVAL_MAX_KS];
    double giniindex[MGSD_EVAL_MAX_KS];
    double shannonentropy[MGSD_EVAL_MAX_KS];
    double tailpercentage[MGSD_EVAL_MAX_KS];
} mgsd_eval_metrics;

typedef struct mgsd_eval_result {
    unsigned metrics; /* MGSD_METRIC_* bits enumerated by mgsd_eval_entry */
    int n_neg, neg_pop; /* how the ranks were computed (mgsd_eval_options); n_neg 0: full ranking */
    int n_ks;
    int ks[MGSD_EVAL_MAX_KS];
    mgsd_eval_metrics all;
    int n_buckets;                               /* 0 when grouping is off */
    int bucket_by;                               /* MGSD_EVAL_BY_* */
    int bucket_lo[MGSD_EVAL_MAX_BUCKETS];        /* inclusive */
    int bucket_hi[MGSD_EVAL_MAX_BUCKETS];        /* exclusive; INT32_MAX for the last */
    mgsd_eval_metrics bucket[MGSD_EVAL_MAX_BUCKETS];
    double seconds;                              /* wall time of the evaluation */
} mgsd_eval_result;

/* Evaluate the valid or test split of ds: batches in user order, one score call per
 * batch, ranks computed in parallel (OpenMP) and summed in user order (deterministic). */
mgsd_status mgsd_eval_run(const mgsd_dataset *ds, mgsd_split split, mgsd_score_fn score, void *model,
                          const mgsd_eval_options *opt, mgsd_eval_result *out);

/* The selected accuracy metrics of group `bucket` (0 .. n_buckets - 1), enumerated like
 * mgsd_eval_entry: index in 0 .. mgsd_eval_bucket_entry_count - 1. */
int mgsd_eval_bucket_entry_count(const mgsd_eval_result *r);
mgsd_status mgsd_eval_bucket_entry(const mgsd_eval_result *r, int bucket, int index, char *key, size_t cap,
                                   double *value);

/* Parse an evaluation mode, RecBole's eval_args mode: "full" (n_neg 0), "uniN" or "popN"
 * (N >= 1; case-insensitive). MGSD_ERR_CONFIG naming the text otherwise. */
mgsd_status mgsd_eval_parse_mode(const char *mode, int *n_neg, int *neg_pop);
/* The text of a mode ("full", "uni100", "pop50") into buf[cap]. */
void mgsd_eval_mode_name(int n_neg, int neg_pop, char *buf, size_t cap);

/* Rank of `target` (convention above) among items 1..n_items-1 of one score row. With
 * history != NULL and n_hist > 0 those items (except the target) are excluded. */
mgsd_status mgsd_eval_rank(const float *scores, int32_t n_items, int32_t target, const int32_t *history,
                           int32_t n_hist, int64_t *rank);

/* The negatives user `user` (dense id) is ranked against on `split` under sampled ranking
 * (opt->n_neg > 0; target and history as the evaluation reads them, history only used with
 * opt->mask_history): distinct ids in increasing order into out[opt->n_neg], count in
 * *n_out. mgsd_eval_run draws exactly these. MGSD_ERR_CONFIG when opt->n_neg is not in
 * 1..N-2 or when the exclusions leave (almost) nothing to draw. */
mgsd_status mgsd_eval_negatives(const mgsd_dataset *ds, mgsd_split split, const mgsd_eval_options *opt,
                                int32_t user, int32_t target, const int32_t *history, int32_t n_hist, int32_t *out,
                                int *n_out);

/* Value of a metric key ("hit@10", "ndcg@5", "mrr@20", "recall@10", "precision@10",
 * "itemcoverage@10", ...) of the overall means; accuracy metrics selected or not, the
 * beyond-accuracy ones only when selected (MGSD_ERR_NOT_FOUND otherwise). MGSD_ERR_NOT_FOUND for an unknown metric or a K that
 * was not evaluated. */
mgsd_status mgsd_eval_get(const mgsd_eval_result *r, const char *key, double *value);
/* Sets the overall value of a metric key (as mgsd_eval_get reads it; the same errors), e.g.
 * to rebuild a result from its JSON form (a checkpoint's history). */
mgsd_status mgsd_eval_set(mgsd_eval_result *r, const char *key, double value);
/* Number of selected metric entries: (selected metrics) x n_ks. */
int mgsd_eval_entry_count(const mgsd_eval_result *r);
/* Enumerate the selected metrics (in the order hit, mrr, ndcg, recall, precision,
 * itemcoverage, averagepopularity, giniindex, shannonentropy, tailpercentage; each for all K): index in 0 .. mgsd_eval_entry_count - 1. Writes the key ("ndcg@10") into
 * key[cap] and the value. */
mgsd_status mgsd_eval_entry(const mgsd_eval_result *r, int index, char *key, size_t cap, double *value);

/* Exact top-k of one score row without a full sort: indices and scores in rank order
 * (same ordering as the rank convention: higher score first, ties by lower id).
 * Item 0 is skipped; items listed in exclude[0..n_exclude-1] are skipped. Returns the
 * number found in *n_out (< k when fewer candidates exist). */
mgsd_status mgsd_eval_topk(const float *scores, int32_t n_items, int k, const int32_t *exclude,
                           int32_t n_exclude, int32_t *ids, float *top_scores, int *n_out);

/* Top-k next items for many users of a dataset (`mgsd recommend --all-users`, a model
 * server later): each user's whole history (the newest L items) is one row of a batch of
 * batch_size users scored by `score`; history items are excluded unless keep_history.
 * emit receives each user's items in rank order (ids, scores; n < k only when fewer items
 * remain), in the order of users[], from the calling thread; a status other than MGSD_OK
 * from it stops the run and is returned. NaN scores are MGSD_ERR_NUMERIC naming the user. */
typedef struct mgsd_recommend_options {
    int k;            /* items per user */
    int batch_size;   /* users per score call */
    int L;            /* history length; <= 0: the dataset's */
    int keep_history; /* 1: history items may be recommended */
} mgsd_recommend_options;
typedef mgsd_status (*mgsd_recommend_emit_fn)(void *ctx, int32_t user, const int32_t *ids, const float *scores,
                                              int n);
mgsd_status mgsd_recommend_users(const mgsd_dataset *ds, const int32_t *users, int64_t n_users, mgsd_score_fn score,
                                 void *model, const mgsd_recommend_options *opt, mgsd_recommend_emit_fn emit,
                                 void *ctx);

/* Noise detection: clean[i] is the model's clean score of interaction i (a probability
 * with threshold 0.5, or any increasing transform of it with the matching threshold, such
 * as a logit margin with 0), is_noise[i] the ground truth (1 = noise). An interaction is
 * flagged as noise when clean <= threshold: exactly the items inference drops (it keeps an
 * item iff p_clean > 0.5, i.e. margin > 0). AUC is of the noise score -clean against
 * is_noise, exact (Mann-Whitney U with ties counting 1/2); NaN when a class is empty.
 * precision = TP / flagged (0 if nothing flagged), recall = TP / noisy (0 if no noise). */
typedef struct mgsd_noise_report {
    int64_t n, n_noise, n_flagged, true_positives;
    double threshold;
    double precision, recall, f1, auc;
} mgsd_noise_report;

mgsd_status mgsd_eval_noise(const float *clean, const uint8_t *is_noise, int64_t n, double threshold,
                            mgsd_noise_report *out);
/* The same without allocating: workspace holds mgsd_eval_noise_workspace_size(n) bytes,
 * aligned for a float (the training step passes scratch memory it reuses). */
size_t mgsd_eval_noise_workspace_size(int64_t n);
mgsd_status mgsd_eval_noise_ws(const float *clean, const uint8_t *is_noise, int64_t n, double threshold,
                               void *workspace, mgsd_noise_report *out);

/* ---- robustness: noise injected into evaluation histories --------------------------
 * A scorer that wraps another: before scoring, every history of the batch gets
 * round(ratio * len) items drawn uniformly from 1..N-1 inserted at uniformly random
 * distinct positions (the newest L are kept), then the inner scorer sees the noisy batch.
 * The random stream is fixed by the seed, so two runs over the same split inject the same
 * noise. The copy batch is allocated once by init for `capacity` rows. */
typedef struct mgsd_noise_injector mgsd_noise_injector;
mgsd_status mgsd_noise_injector_init(mgsd_noise_injector **out, mgsd_score_fn inner, void *inner_model, double ratio,
                                     int32_t n_items, int L, int capacity, uint64_t seed);
/* An mgsd_score_fn: pass the injector as `model`. */
mgsd_status mgsd_noise_injector_score(void *injector, const mgsd_batch *batch, float *scores);
/* Items inserted so far (for reports). */
int64_t mgsd_noise_injector_inserted(const mgsd_noise_injector *inj);
/* Optional observer, called with every noisy batch before the inner scorer sees it, and
 * injected[i] = 1 where token i of noisy->items was inserted (0: an original item), so a
 * model's noise detector can be scored against known labels. A status other than MGSD_OK
 * stops the evaluation. fn NULL removes the observer. */
typedef mgsd_status (*mgsd_noise_observer)(void *ctx, const mgsd_batch *noisy, const uint8_t *injected);
void mgsd_noise_injector_observe(mgsd_noise_injector *inj, mgsd_noise_observer fn, void *ctx);
void mgsd_noise_injector_free(mgsd_noise_injector *inj);

/* ---- paired comparison of two models on the same users -----------------------------
 * rank_a[i] and rank_b[i] are the 0-based ranks of user i's target under models A and B
 * (the same users and targets). For hit, ndcg and mrr at K (the per-user values above)
 * with d_i = metric_B(i) - metric_A(i): both means, the mean difference, its standard error
 * sd(d) / sqrt(n) (sd with n - 1), a 95% interval (diff +- 1.96 se) and the two-sided
 * p-value of the paired z-test (1 when every d_i is 0). For hit@K also McNemar's exact test:
 * the users only A hits, only B hits, and the two-sided binomial p-value of that split. The
 * paired test sees what an unpaired standard error hides: most users are hit by both models
 * or by neither. */
typedef struct mgsd_paired_metric {
    double a, b, diff, se, lo, hi, p;
} mgsd_paired_metric;
typedef struct mgsd_paired_result {
    int64_t n;
    int k;
    mgsd_paired_metric hit, ndcg, mrr;
    int64_t only_a, only_b;
    double p_mcnemar;
} mgsd_paired_result;
/* MGSD_ERR_INVALID_ARG when n < 2, k < 1 or a rank is negative. */
mgsd_status mgsd_eval_paired(const int64_t *rank_a, const int64_t *rank_b, int64_t n, int k,
                             mgsd_paired_result *out);

/* Several runs of each model (seeds), run i of A paired with run i of B: r[0..runs-1] are
 * their paired results at one K. With the run as the unit, for hit, ndcg and mrr: the means
 * of A's and B's means, the mean of the runs' differences d_i, their sd (runs - 1) and
 * standard error sd / sqrt(runs), Student's t = diff / se with runs - 1 degrees of freedom,
 * its two-sided p-value and a 95% interval (diff +- t(0.975, runs - 1) se). This is the test
 * of training randomness: a per-run paired test only sees which users one trained model
 * hits, and two seeds of one model can differ significantly there. All runs being scored on
 * the same users, it does not cover the sampling of users, which the per-run test does.
 * When every d_i is the
 * same, se is 0 and p is 1 for d = 0, else 0. MGSD_ERR_INVALID_ARG when runs < 2 or
 * > MGSD_EVAL_MAX_RUNS, or the results are of different K or user counts. */
#define MGSD_EVAL_MAX_RUNS 64
typedef struct mgsd_runs_metric {
    double a, b, diff, sd, se, t, lo, hi, p;
} mgsd_runs_metric;
typedef struct mgsd_runs_result {
    int runs, k;
    mgsd_runs_metric hit, ndcg, mrr;
} mgsd_runs_result;
mgsd_status mgsd_eval_paired_runs(const mgsd_paired_result *r, int runs, mgsd_runs_result *out);
/* Two-sided p-value of Student's t with df > 0 degrees of freedom, P(|T| >= |t|); and the
 * quantile q with P(T <= q) = prob (0 < prob < 1). */
double mgsd_student_t_p(double t, double df);
double mgsd_student_t_quantile(double prob, double df);

/* Rank files (`mgsd eval --ranks=FILE`, `mgsd compare`): a header line
 * "user_id<TAB>item_id<TAB>rank", then one line per evaluated user: the user's id, its
 * target item's id (the dataset's tokens) and the target's 1-based rank (1 = first).
 * write: the users with user_ranks[u] >= 0, in dense id order, atomically (PATH.tmp +
 * rename). read: blank lines are skipped; errors name the file and line (wrong header or
 * field count, a rank that is not a positive integer, a user listed twice, no rows). */
typedef struct mgsd_rank_file {
    int64_t n;
    char **users, **items; /* point into buf */
    int64_t *ranks;        /* 0-based */
    int64_t *lines;        /* line number of each row */
    char *buf;
} mgsd_rank_file;
mgsd_status mgsd_rank_file_write(const char *path, const mgsd_dataset *ds, const int64_t *user_ranks,
                                 const int32_t *user_targets);
mgsd_status mgsd_rank_file_read(const char *path, mgsd_rank_file *out);
/* The same from text in memory (copied); name stands for the file in errors. */
mgsd_status mgsd_rank_file_parse(const char *name, const void *text, size_t len, mgsd_rank_file *out);
void mgsd_rank_file_free(mgsd_rank_file *f);
/* Pairs b's rows with a's by user: rank_a[i] = a's rank of a's i-th row, rank_b[i] = b's rank
 * of the same user (arrays of a->n). MGSD_ERR_FORMAT naming the file and line when a user is
 * in one file only or a user's target differs (files of other splits or data sets);
 * path_a and path_b are only used in messages. */
mgsd_status mgsd_rank_files_pair(const mgsd_rank_file *a, const char *path_a, const mgsd_rank_file *b,
                                 const char *path_b, int64_t *rank_a, int64_t *rank_b);

#ifdef __cplusplus
}
#endif
#endif
