/* Exact top-k selection over one score row with a bounded min-heap (O(N log k), no full
 * sort). Order: higher score first, equal scores by lower item id (the rank convention
 * of include/mgsd/eval.h). */
#include <string.h>

#include "core/core.h"
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

static int excluded(int32_t i, const int32_t *ex, int32_t n) {
    for (int32_t j = 0; j < n; j++)
        if (ex[j] == i) return 1;
    return 0;
}

mgsd_status mgsd_eval_topk(const float *scores, int32_t n_items, int k, const int32_t *exclude,
                           int32_t n_exclude, int32_t *ids, float *top_scores, int *n_out) {
    MGSD_CHECK_ARG(scores && ids && top_scores && n_out && k > 0 && n_items >= 1);
    MGSD_CHECK_ARG(n_exclude >= 0 && (exclude || n_exclude == 0));
    /* The output arrays serve as the heap. */
    float *hs = top_scores;
    int32_t *hi = ids;
    int n = 0;
    for (int32_t i = 1; i < n_items; i++) {
        float s = scores[i];
        if (s != s) continue; /* NaN never ranks */
        if (n < k) {
            if (n_exclude && excluded(i, exclude, n_exclude)) continue;
            hs[n] = s;
            hi[n] = i;
            sift_up(hs, hi, n);
            n++;
        } else if (s > hs[0]) { /* later ids lose ties */
            if (n_exclude && excluded(i, exclude, n_exclude)) continue;
            hs[0] = s;
            hi[0] = i;
            sift_down(hs, hi, n, 0);
        }
    }
    /* Heap sort in place: repeatedly move the worst to the end. */
    for (int m = n - 1; m > 0; m--) {
        float ts = hs[0];
        hs[0] = hs[m];
        hs[m] = ts;
        int32_t ti = hi[0];
        hi[0] = hi[m];
        hi[m] = ti;
        sift_down(hs, hi, m, 0);
    }
    *n_out = n;
    return MGSD_OK;
}
