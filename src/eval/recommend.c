/* Top-K recommendations for many users in batches: see include/mgsd/eval.h. */
#include <string.h>

#include "core/core.h"
#include "data/data_internal.h"
#include "mgsd/eval.h"

mgsd_status mgsd_recommend_users(const mgsd_dataset *ds, const int32_t *users, int64_t n_users, mgsd_score_fn score,
                                 void *model, const mgsd_recommend_options *opt, mgsd_recommend_emit_fn emit,
                                 void *ctx) {
    MGSD_CHECK_ARG(ds && (users || n_users == 0) && n_users >= 0 && score && opt && emit);
    if (opt->k <= 0 || opt->batch_size <= 0)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "recommend: k (%d) and batch_size (%d) must be positive", opt->k,
                          opt->batch_size);
    const int32_t U = mgsd_dataset_num_users(ds), N = mgsd_dataset_num_items(ds);
    for (int64_t i = 0; i < n_users; i++)
        if (users[i] < 1 || users[i] > U)
            return mgsd_error(MGSD_ERR_INVALID_ARG, "recommend: user id %d outside 1..%d", (int)users[i], (int)U);
    const int L = opt->L > 0 ? opt->L : ds->max_len;
    const int k = opt->k;
    const int bs = (int)(n_users < opt->batch_size ? (n_users > 0 ? n_users : 1) : opt->batch_size);
    mgsd_batch b;
    memset(&b, 0, sizeof b);
    float *scores = NULL, *top_s = NULL;
    int32_t *top = NULL;
    int *n_out = NULL;
    mgsd_status st = mgsd_batch_init(&b, bs, L);
    if (st != MGSD_OK) return st;
    scores = mgsd_malloc((size_t)bs * (size_t)N * sizeof *scores);
    top_s = mgsd_malloc((size_t)bs * (size_t)k * sizeof *top_s);
    top = mgsd_malloc((size_t)bs * (size_t)k * sizeof *top);
    n_out = mgsd_malloc((size_t)bs * sizeof *n_out);
    mgsd_status *row_st = mgsd_malloc((size_t)bs * sizeof *row_st);
    if (!scores || !top_s || !top || !n_out || !row_st) {
        st = mgsd_error(MGSD_ERR_NOMEM, "recommend: %d x %d scores: %s", bs, (int)N, mgsd_last_error());
        goto done;
    }
    for (int64_t u0 = 0; u0 < n_users; u0 += bs) {
        const int B = (int)(n_users - u0 < bs ? n_users - u0 : bs);
        mgsd_batch_reset(&b);
        for (int r = 0; r < B; r++) {
            const int32_t *items;
            int32_t n;
            if ((st = mgsd_dataset_user_items(ds, users[u0 + r], &items, &n)) != MGSD_OK) goto done;
            if ((st = mgsd_batch_append(&b, users[u0 + r], 0, items, n)) != MGSD_OK) goto done;
        }
        if ((st = score(model, &b, scores)) != MGSD_OK) goto done;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (B >= 16)
#endif
        for (int r = 0; r < B; r++) {
            const int32_t *hist = NULL;
            int32_t nh = 0;
            if (!opt->keep_history) mgsd_dataset_user_items(ds, b.users[r], &hist, &nh);
            const float *row = scores + (size_t)r * N;
            row_st[r] = MGSD_OK;
            for (int32_t i = 1; i < N; i++)
                if (row[i] != row[i]) {
                    row_st[r] = MGSD_ERR_NUMERIC;
                    break;
                }
            if (row_st[r] == MGSD_OK)
                row_st[r] = mgsd_eval_topk(row, N, k, hist, nh, top + (size_t)r * k, top_s + (size_t)r * k, &n_out[r]);
        }
        for (int r = 0; r < B; r++) {
            if (row_st[r] == MGSD_ERR_NUMERIC) {
                st = mgsd_error(MGSD_ERR_NUMERIC, "model produced NaN scores for user '%s'",
                                mgsd_dataset_user_name(ds, b.users[r]));
                goto done;
            }
            if ((st = row_st[r]) != MGSD_OK) goto done;
            if ((st = emit(ctx, b.users[r], top + (size_t)r * k, top_s + (size_t)r * k, n_out[r])) != MGSD_OK)
                goto done;
        }
    }
done:
    mgsd_free(scores);
    mgsd_free(top_s);
    mgsd_free(top);
    mgsd_free(n_out);
    mgsd_free(row_st);
    mgsd_batch_free(&b);
    return st;
}
