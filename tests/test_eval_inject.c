/* Noise injection into evaluation histories (mgsd_noise_injector). */
#include <string.h>

#include "core/core.h"
#include "mgsd/eval.h"
#include "test_util.h"

typedef struct seen {
    int32_t items[4096];
    int32_t offs[64];
    int B;
} seen;

static mgsd_status record(void *model, const mgsd_batch *b, float *scores) {
    seen *s = model;
    s->B = b->B;
    memcpy(s->offs, b->offs, sizeof(int32_t) * (size_t)(b->B + 1));
    memcpy(s->items, b->items, sizeof(int32_t) * (size_t)b->offs[b->B]);
    scores[0] = 0;
    return MGSD_OK;
}

typedef struct observed {
    int calls, B;
    int32_t items[4096], offs[64];
    uint8_t injected[4096];
} observed;

static mgsd_status observe(void *ctx, const mgsd_batch *b, const uint8_t *injected) {
    observed *o = ctx;
    o->calls++;
    o->B = b->B;
    memcpy(o->offs, b->offs, sizeof(int32_t) * (size_t)(b->B + 1));
    memcpy(o->items, b->items, sizeof(int32_t) * (size_t)b->offs[b->B]);
    memcpy(o->injected, injected, (size_t)b->offs[b->B]);
    return MGSD_OK;
}

static mgsd_status refuse(void *ctx, const mgsd_batch *b, const uint8_t *injected) {
    (void)ctx, (void)b, (void)injected;
    return mgsd_error(MGSD_ERR_INVALID_ARG, "observer refused");
}

/* The tokens of row r not labelled injected, in order, must be exactly the newest
 * originals of h (len n); returns the number of injected labels, -1 on mismatch. */
static int check_row(const observed *o, int r, const int32_t *h, int n) {
    int32_t orig[64];
    int no = 0, ni = 0;
    for (int32_t i = o->offs[r]; i < o->offs[r + 1]; i++) {
        if (o->injected[i] > 1) return -1;
        if (o->injected[i]) ni++;
        else orig[no++] = o->items[i];
    }
    if (no > n || memcmp(orig, h + (n - no), sizeof(int32_t) * (size_t)no) != 0) return -1;
    return ni;
}

/* Is a (len na) a subsequence of b (len nb)? */
static int subseq(const int32_t *a, int na, const int32_t *b, int nb) {
    int i = 0;
    for (int j = 0; j < nb && i < na; j++)
        if (a[i] == b[j]) i++;
    return i == na;
}

int main(void) {
    const int L = 10, N = 1000;
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 4, L));
    const int32_t h0[5] = {501, 502, 503, 504, 505}, h1[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, h2[1] = {900};
    CHECK_OK(mgsd_batch_append(&b, 1, 7, h0, 5));
    CHECK_OK(mgsd_batch_append(&b, 2, 7, h1, 10));
    CHECK_OK(mgsd_batch_append(&b, 3, 7, h2, 1));
    float scores[16];
    seen s1, s2;
    mgsd_noise_injector *inj;
    CHECK_OK(mgsd_noise_injector_init(&inj, record, &s1, 0.2, N, L, 4, 42));
    CHECK_OK(mgsd_noise_injector_score(inj, &b, scores));
    /* round(0.2 * len) inserted: 1, 2 (then the newest 10 kept), 0 */
    CHECK_INT_EQ(s1.offs[1] - s1.offs[0], 6);
    CHECK_INT_EQ(s1.offs[2] - s1.offs[1], 10);
    CHECK_INT_EQ(s1.offs[3] - s1.offs[2], 1);
    CHECK_INT_EQ(mgsd_noise_injector_inserted(inj), 3);
    CHECK(subseq(h0, 5, s1.items, 6));
    CHECK(s1.items[s1.offs[2]] == 900);
    /* the truncated row keeps the newest items: originals 3..10 (at least 8) in order */
    CHECK(subseq(h1 + 2, 8, s1.items + s1.offs[1], 10));
    int in_range = 1;
    for (int i = 0; i < s1.offs[3]; i++) in_range &= s1.items[i] >= 1 && s1.items[i] < N;
    CHECK(in_range);
    mgsd_noise_injector_free(inj);
    /* same seed, same noise */
    CHECK_OK(mgsd_noise_injector_init(&inj, record, &s2, 0.2, N, L, 4, 42));
    CHECK_OK(mgsd_noise_injector_score(inj, &b, scores));
    CHECK(memcmp(s1.items, s2.items, sizeof(int32_t) * (size_t)s1.offs[3]) == 0);
    mgsd_noise_injector_free(inj);
    /* ratio 0 leaves histories unchanged */
    CHECK_OK(mgsd_noise_injector_init(&inj, record, &s2, 0.0, N, L, 4, 1));
    CHECK_OK(mgsd_noise_injector_score(inj, &b, scores));
    CHECK(memcmp(s2.items, b.items, sizeof(int32_t) * (size_t)b.offs[3]) == 0);
    mgsd_noise_injector_free(inj);
    /* observer: labels mark exactly the inserted tokens of the batch the scorer sees */
    observed ob = {0};
    CHECK_OK(mgsd_noise_injector_init(&inj, record, &s2, 0.2, N, L, 4, 42));
    mgsd_noise_injector_observe(inj, observe, &ob);
    CHECK_OK(mgsd_noise_injector_score(inj, &b, scores));
    CHECK_INT_EQ(ob.calls, 1);
    CHECK_INT_EQ(ob.B, 3);
    CHECK(memcmp(ob.items, s1.items, sizeof(int32_t) * (size_t)s1.offs[3]) == 0); /* same seed, same noise */
    CHECK(memcmp(ob.offs, s2.offs, sizeof(int32_t) * 4) == 0);
    CHECK_INT_EQ(check_row(&ob, 0, h0, 5), 1);
    int ni1 = check_row(&ob, 1, h1, 10);
    CHECK(ni1 >= 0 && ni1 <= 2); /* 2 inserted into 12, newest 10 kept */
    CHECK_INT_EQ(check_row(&ob, 2, h2, 1), 0);
    /* an observer's error stops scoring */
    mgsd_noise_injector_observe(inj, refuse, NULL);
    CHECK_STATUS(mgsd_noise_injector_score(inj, &b, scores), MGSD_ERR_INVALID_ARG);
    CHECK_CONTAINS(mgsd_last_error(), "refused");
    mgsd_noise_injector_free(inj);
    /* bad arguments */
    CHECK_STATUS(mgsd_noise_injector_init(&inj, record, &s2, 1.5, N, L, 4, 1), MGSD_ERR_INVALID_ARG);
    CHECK_CONTAINS(mgsd_last_error(), "1.5");
    CHECK_STATUS(mgsd_noise_injector_init(&inj, NULL, &s2, 0.1, N, L, 4, 1), MGSD_ERR_INVALID_ARG);
    mgsd_batch_free(&b);
    return test_summary();
}
