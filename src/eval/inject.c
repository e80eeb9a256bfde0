/* Noise injection into evaluation histories (robustness evaluation, see eval.h). */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "mgsd/eval.h"

struct mgsd_noise_injector {
    mgsd_score_fn inner;
    void *inner_model;
    double ratio;
    int32_t n_items;
    int L, capacity;
    mgsd_rng rng;
    mgsd_batch noisy;
    int32_t *hist;    /* [L + max inserted] one noisy history before truncation */
    uint8_t *is_noise;
    int32_t *slot;
    uint8_t *labels; /* [capacity * L] 1 = inserted, aligned with noisy.items */
    mgsd_noise_observer observer;
    void *observer_ctx;
    int64_t inserted;
};

mgsd_status mgsd_noise_injector_init(mgsd_noise_injector **out, mgsd_score_fn inner, void *inner_model, double ratio,
                                     int32_t n_items, int L, int capacity, uint64_t seed) {
    MGSD_CHECK_ARG(out != NULL && inner != NULL);
    *out = NULL;
    if (!(ratio >= 0 && ratio <= 1)) return mgsd_error(MGSD_ERR_INVALID_ARG, "inject-noise ratio %g outside [0, 1]", ratio);
    if (n_items < 2) return mgsd_error(MGSD_ERR_INVALID_ARG, "inject-noise: the dataset has no items");
    if (L <= 0 || capacity <= 0) return mgsd_error(MGSD_ERR_INVALID_ARG, "inject-noise: L=%d capacity=%d", L, capacity);
    mgsd_noise_injector *inj = mgsd_calloc(1, sizeof *inj);
    if (!inj) return MGSD_ERR_NOMEM;
    int extra = (int)ceil(ratio * L) + 1;
    inj->inner = inner;
    inj->inner_model = inner_model;
    inj->ratio = ratio;
    inj->n_items = n_items;
    inj->L = L;
    inj->capacity = capacity;
    mgsd_rng_seed(&inj->rng, seed);
    inj->hist = mgsd_malloc(sizeof(int32_t) * (size_t)(L + extra));
    inj->slot = mgsd_malloc(sizeof(int32_t) * (size_t)(L + extra));
    inj->is_noise = mgsd_malloc((size_t)(L + extra));
    inj->labels = mgsd_malloc((size_t)capacity * (size_t)L);
    mgsd_status st = inj->hist && inj->slot && inj->is_noise && inj->labels ? mgsd_batch_init(&inj->noisy, capacity, L) : MGSD_ERR_NOMEM;
    if (st != MGSD_OK) {
        mgsd_noise_injector_free(inj);
        return st;
    }
    *out = inj;
    return MGSD_OK;
}

void mgsd_noise_injector_free(mgsd_noise_injector *inj) {
    if (!inj) return;
    mgsd_batch_free(&inj->noisy);
    mgsd_free(inj->hist);
    mgsd_free(inj->slot);
    mgsd_free(inj->is_noise);
    mgsd_free(inj->labels);
    mgsd_free(inj);
}

int64_t mgsd_noise_injector_inserted(const mgsd_noise_injector *inj) { return inj->inserted; }

void mgsd_noise_injector_observe(mgsd_noise_injector *inj, mgsd_noise_observer fn, void *ctx) {
    inj->observer = fn;
    inj->observer_ctx = ctx;
}

mgsd_status mgsd_noise_injector_score(void *injector, const mgsd_batch *batch, float *scores) {
    mgsd_noise_injector *inj = injector;
    if (batch->B > inj->capacity)
        return mgsd_error(MGSD_ERR_SHAPE, "inject-noise: batch of %d rows exceeds capacity %d", batch->B, inj->capacity);
    mgsd_batch_reset(&inj->noisy);
    for (int r = 0; r < batch->B; r++) {
        const int32_t *src = batch->items + batch->offs[r];
        int n = batch->offs[r + 1] - batch->offs[r];
        int k = (int)floor(inj->ratio * n + 0.5);
        int tot = n + k;
        for (int j = 0; j < tot; j++) {
            inj->slot[j] = j;
            inj->is_noise[j] = 0;
        }
        for (int j = 0; j < k; j++) {
            int s = j + (int)mgsd_rng_below(&inj->rng, (uint64_t)(tot - j));
            int32_t t = inj->slot[j];
            inj->slot[j] = inj->slot[s];
            inj->slot[s] = t;
            inj->is_noise[inj->slot[j]] = 1;
        }
        for (int j = 0, si = 0; j < tot; j++)
            inj->hist[j] = inj->is_noise[j] ? 1 + (int32_t)mgsd_rng_below(&inj->rng, (uint64_t)(inj->n_items - 1))
                                            : src[si++];
        inj->inserted += k;
        MGSD_TRY(mgsd_batch_append(&inj->noisy, batch->users[r], batch->targets[r], inj->hist, tot));
        inj->noisy.full_lens[r] = batch->full_lens[r] + k;
        /* the batch keeps the newest min(tot, L) tokens: label those */
        int kept = inj->noisy.offs[r + 1] - inj->noisy.offs[r];
        memcpy(inj->labels + inj->noisy.offs[r], inj->is_noise + (tot - kept), (size_t)kept);
    }
    if (inj->observer) MGSD_TRY(inj->observer(inj->observer_ctx, &inj->noisy, inj->labels));
    return inj->inner(inj->inner_model, &inj->noisy, scores);
}
