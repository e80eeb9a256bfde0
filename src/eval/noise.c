/* Noise-detection report: precision and recall of flagging interactions whose clean
 * score is at or below a threshold (what inference drops), and the exact ROC AUC (Mann-Whitney U, ties 1/2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "mgsd/eval.h"

typedef struct {
    float x;
    uint8_t y;
} scored;

static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored *)a)->x, y = ((const scored *)b)->x;
    return (x > y) - (x < y);
}

size_t mgsd_eval_noise_workspace_size(int64_t n) { return (size_t)(n > 0 ? n : 0) * sizeof(scored); }

mgsd_status mgsd_eval_noise(const float *clean, const uint8_t *is_noise, int64_t n, double threshold,
                            mgsd_noise_report *out) {
    MGSD_CHECK_ARG(out && n >= 0 && (n == 0 || (clean && is_noise)));
    void *ws = n > 0 ? mgsd_malloc(mgsd_eval_noise_workspace_size(n)) : NULL;
    if (n > 0 && !ws) return mgsd_error(MGSD_ERR_NOMEM, "noise report: out of memory for %lld scores", (long long)n);
    mgsd_status st = mgsd_eval_noise_ws(clean, is_noise, n, threshold, ws, out);
    mgsd_free(ws);
    return st;
}

mgsd_status mgsd_eval_noise_ws(const float *clean, const uint8_t *is_noise, int64_t n, double threshold,
                               void *workspace, mgsd_noise_report *out) {
    MGSD_CHECK_ARG(out && n >= 0 && (n == 0 || (clean && is_noise && workspace)));
    memset(out, 0, sizeof *out);
    out->n = n;
    out->threshold = threshold;
    for (int64_t i = 0; i < n; i++) {
        float p = clean[i];
        if (p != p) return mgsd_error(MGSD_ERR_NUMERIC, "clean score %lld is NaN", (long long)i);
        int noisy = is_noise[i] != 0, flag = p <= threshold;
        out->n_noise += noisy;
        out->n_flagged += flag;
        out->true_positives += noisy && flag;
    }
    out->precision = out->n_flagged ? (double)out->true_positives / (double)out->n_flagged : 0.0;
    out->recall = out->n_noise ? (double)out->true_positives / (double)out->n_noise : 0.0;
    out->f1 = out->precision + out->recall > 0
                  ? 2 * out->precision * out->recall / (out->precision + out->recall)
                  : 0.0;
    int64_t n_clean = n - out->n_noise;
    if (out->n_noise == 0 || n_clean == 0) {
        out->auc = NAN;
        return MGSD_OK;
    }
    scored *a = workspace;
    for (int64_t i = 0; i < n; i++) {
        a[i].x = clean[i];
        a[i].y = is_noise[i] != 0;
    }
    qsort(a, (size_t)n, sizeof *a, cmp_scored);
    /* AUC = P(clean score of a noisy item < that of a clean item) + 1/2 P(equal). */
    double num = 0;
    int64_t clean_seen = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, gn = 0, gc = 0;
        while (j < n && a[j].x == a[i].x) {
            gn += a[j].y;
            gc += !a[j].y;
            j++;
        }
        num += (double)gn * (double)(n_clean - clean_seen - gc) + 0.5 * (double)gn * (double)gc;
        clean_seen += gc;
        i = j;
    }
    out->auc = num / ((double)out->n_noise * (double)n_clean);
    return MGSD_OK;
}
