/* Exact top-k selection over one score row with a bounded min-heap (O(N log k), no full
 * sort). Order: higher score first, equal scores by lower item id (the rank convention
 * of include/mgsd/eval.h). */
#include <string.h>

#include "core/core.h"
#include "eval/eval_internal.h"
#include "mgsd/eval.h"

/* a is worse than b: lower score, or equal score and higher id. */
static inline int worse(float sa, int32_t ia, float sb, int32_t ib) {
    return sa < sb || (sa == sb && ia > ib);
}

static inline void swap_entries(float *hs, int32_t *hi, int a, int b) {
    float ts = hs[a];
    hs[a] = hs[b];
    hs[b] = ts;
    int32_t ti = hi[a];
    hi[a] = hi[b];
    hi[b] = ti;
}

static void sift_down(float *hs, int32_t *hi, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(hs[l], hi[l], hs[m], hi[m])) m = l;
        if (r < n && worse(hs[r], hi[r], hs[m], hi[m])) m = r;
        if (m == i) return;
        swap_entries(hs, hi, i, m);
        i = m;
    }
}

static void sift_up(float *hs, int32_t *hi, int i) {
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!worse(hs[i], hi[i], hs[p], hi[p])) return;
        swap_entries(hs, hi, i, p);
        i = p;
    }
}

static int excluded(int32_t i, const int32_t *ex, int32_t n, int32_t keep) {
    if (i == keep) return 0;
    for (int32_t j = 0; j < n; j++)
        if (ex[j] == i) return 1;
    return 0;
}

static inline void consider(float *hs, int32_t *hi, int *n, int k, float s, int32_t i, const int32_t *ex, int32_t n_ex,
                            int32_t keep) {
    if (s != s) return; /* NaN never ranks */
    if (*n < k) {
        if (n_ex && excluded(i, ex, n_ex, keep)) return;
        hs[*n] = s;
        hi[*n] = i;
        sift_up(hs, hi, *n);
        (*n)++;
    } else if (worse(hs[0], hi[0], s, i)) {
        if (n_ex && excluded(i, ex, n_ex, keep)) return;
        hs[0] = s;
        hi[0] = i;
        sift_down(hs, hi, *n, 0);
    }
}

int eval_topk_core(const float *scores, int32_t n_items, int k, const int32_t *cand, int n_cand,
                   const int32_t *exclude, int32_t n_exclude, int32_t keep, int32_t *ids, float *top_scores) {
    /* The output arrays serve as the heap. */
    float *hs = top_scores;
    int32_t *hi = ids;
    int n = 0;
    if (cand) {
        for (int c = 0; c < n_cand; c++)
            if (cand[c] >= 1 && cand[c] < n_items) consider(hs, hi, &n, k, scores[cand[c]], cand[c], exclude, n_exclude, keep);
    } else {
        for (int32_t i = 1; i < n_items; i++) consider(hs, hi, &n, k, scores[i], i, exclude, n_exclude, keep);
    }
    /* Heap sort in place: repeatedly move the worst to the end. */
    for (int m = n - 1; m > 0; m--) {
        swap_entries(hs, hi, 0, m);
        sift_down(hs, hi, m, 0);
    }
    return n;
}

mgsd_status mgsd_eval_topk(const float *scores, int32_t n_items, int k, const int32_t *exclude,
                           int32_t n_exclude, int32_t *ids, float *top_scores, int *n_out) {
    MGSD_CHECK_ARG(scores && ids && top_scores && n_out && k > 0 && n_items >= 1);
    MGSD_CHECK_ARG(n_exclude >= 0 && (exclude || n_exclude == 0));
    *n_out = eval_topk_core(scores, n_items, k, NULL, 0, exclude, n_exclude, 0, ids, top_scores);
    return MGSD_OK;
}
