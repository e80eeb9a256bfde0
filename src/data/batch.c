/* Batches (padded B x L and packed CSR forms, buffers allocated once) and the
 * leave-one-out batcher: training instances from every prefix of a user's training
 * part, validation and test instances, deterministic shuffling from (seed, epoch). */
#include <string.h>

#include "core/core.h"
#include "data/data_internal.h"

struct mgsd_batcher {
    const mgsd_dataset *ds;
    mgsd_split split;
    int bs, L;
    int64_t n_inst;
    int32_t *inst_user;  /* per instance: user id */
    int32_t *inst_pos;   /* per instance: target position in the user's sequence */
    int32_t *order;      /* instance order of the current epoch */
    int64_t cursor;      /* next batch for mgsd_batcher_next */
};

/* ---- batch ---------------------------------------------------------------------- */

mgsd_status mgsd_batch_init(mgsd_batch *b, int capacity, int L) {
    MGSD_CHECK_ARG(b);
    memset(b, 0, sizeof *b);
    MGSD_CHECK_ARG(capacity > 0 && L > 0);
    if ((int64_t)capacity * L > INT32_MAX)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "batch %d x %d is too large", capacity, L);
    b->capacity = capacity;
    b->L = L;
    size_t c = (size_t)capacity;
    b->users = mgsd_calloc(c, sizeof(int32_t));
    b->targets = mgsd_calloc(c, sizeof(int32_t));
    b->lens = mgsd_calloc(c, sizeof(int32_t));
    b->full_lens = mgsd_calloc(c, sizeof(int32_t));
    b->padded = mgsd_calloc(c * (size_t)L, sizeof(int32_t));
    b->offs = mgsd_calloc(c + 1, sizeof(int32_t));
    b->items = mgsd_calloc(c * (size_t)L, sizeof(int32_t));
    if (!b->users || !b->targets || !b->lens || !b->full_lens || !b->padded || !b->offs || !b->items) {
        mgsd_batch_free(b);
        return MGSD_ERR_NOMEM;
    }
    return MGSD_OK;
}

void mgsd_batch_free(mgsd_batch *b) {
    if (!b) return;
    mgsd_free(b->users);
    mgsd_free(b->targets);
    mgsd_free(b->lens);
    mgsd_free(b->full_lens);
    mgsd_free(b->padded);
    mgsd_free(b->offs);
    mgsd_free(b->items);
    memset(b, 0, sizeof *b);
}

void mgsd_batch_reset(mgsd_batch *b) {
    b->B = 0;
    if (b->offs) b->offs[0] = 0;
}

/* Append without checks; history already known valid. */
static void batch_put(mgsd_batch *b, int32_t user, int32_t target, const int32_t *items, int32_t n) {
    int row = b->B;
    int L = b->L;
    int32_t len = n < L ? n : L;
    int32_t *pad = b->padded + (size_t)row * L;
    int32_t o = b->offs[row];
    if (len > 0) {
        const int32_t *src = items + (n - len);
        memmove(pad, src, (size_t)len * sizeof *pad); /* src may be pad itself */
        memcpy(b->items + o, pad, (size_t)len * sizeof *pad);
    }
    if (len < L) memset(pad + len, 0, (size_t)(L - len) * sizeof *pad);
    b->offs[row + 1] = o + len;
    b->users[row] = user;
    b->targets[row] = target;
    b->lens[row] = len;
    b->full_lens[row] = n;
    b->B = row + 1;
}

void mgsd_batch_view(const mgsd_batch *b, int r0, int nb, int32_t *offs, mgsd_batch *view) {
    const int32_t base = b->offs[r0];
    for (int r = 0; r <= nb; r++) offs[r] = b->offs[r0 + r] - base;
    *view = *b;
    view->B = nb;
    view->capacity = nb;
    view->users = b->users ? b->users + r0 : NULL;
    view->targets = b->targets ? b->targets + r0 : NULL;
    view->lens = b->lens ? b->lens + r0 : NULL;
    view->full_lens = b->full_lens ? b->full_lens + r0 : NULL;
    view->padded = b->padded ? b->padded + (int64_t)r0 * b->L : NULL;
    view->offs = offs;
    view->items = b->items + base;
}

mgsd_status mgsd_batch_append(mgsd_batch *b, int32_t user, int32_t target, const int32_t *items, int32_t n) {
    MGSD_CHECK_ARG(b && b->padded && n >= 0 && (items || n == 0));
    if (b->B >= b->capacity)
        return mgsd_error(MGSD_ERR_SHAPE, "batch is full (capacity %d)", b->capacity);
    if (b->B == 0) b->offs[0] = 0;
    batch_put(b, user, target, items, n);
    return MGSD_OK;
}

mgsd_status mgsd_batch_append_names(mgsd_batch *b, const mgsd_dataset *ds, const char *user_name,
                                    const char *target_name, const char *const *item_names, int32_t n) {
    MGSD_CHECK_ARG(b && b->padded && ds && n >= 0 && (item_names || n == 0));
    if (b->B >= b->capacity)
        return mgsd_error(MGSD_ERR_SHAPE, "batch is full (capacity %d)", b->capacity);
    int32_t user = 0, target = 0;
    if (user_name && (user = mgsd_dataset_find_user(ds, user_name)) < 0)
        return mgsd_error(MGSD_ERR_NOT_FOUND, "unknown user id '%s'", user_name);
    if (target_name && (target = mgsd_dataset_find_item(ds, target_name)) < 0)
        return mgsd_error(MGSD_ERR_NOT_FOUND, "unknown item id '%s'", target_name);
    for (int32_t k = 0; k < n; k++)
        if (!item_names[k] || mgsd_dataset_find_item(ds, item_names[k]) < 0)
            return mgsd_error(MGSD_ERR_NOT_FOUND, "unknown item id '%s' (history position %d)",
                              item_names[k] ? item_names[k] : "(null)", (int)k + 1);
    /* Resolve the newest L into the row's padded slot, then append from there. */
    if (b->B == 0) b->offs[0] = 0;
    int L = b->L;
    int32_t len = n < L ? n : L;
    int32_t *pad = b->padded + (size_t)b->B * L;
    for (int32_t k = 0; k < len; k++) pad[k] = mgsd_dataset_find_item(ds, item_names[n - len + k]);
    int row = b->B;
    batch_put(b, user, target, pad, len);
    b->full_lens[row] = n;
    return MGSD_OK;
}

/* ---- batcher -------------------------------------------------------------------- */

mgsd_status mgsd_batcher_init(mgsd_batcher **out, const mgsd_dataset *ds, mgsd_split split, int batch_size,
                              int L) {
    MGSD_CHECK_ARG(out);
    *out = NULL;
    MGSD_CHECK_ARG(ds && batch_size > 0);
    MGSD_CHECK_ARG(split == MGSD_SPLIT_TRAIN || split == MGSD_SPLIT_VALID || split == MGSD_SPLIT_TEST);
    if (L <= 0) L = ds->max_len;
    int64_t n = 0;
    for (int32_t u = 1; u <= ds->n_users; u++) {
        int hv, ht;
        int64_t t = data_split_counts(ds->user_offs[u + 1] - ds->user_offs[u], &hv, &ht);
        n += split == MGSD_SPLIT_TRAIN ? t : split == MGSD_SPLIT_VALID ? hv : ht;
    }
    if (n >= INT32_MAX) return mgsd_error(MGSD_ERR_UNSUPPORTED, "more than 2^31 instances");
    mgsd_batcher *bt = mgsd_calloc(1, sizeof *bt);
    if (!bt) return MGSD_ERR_NOMEM;
    bt->ds = ds;
    bt->split = split;
    bt->bs = batch_size;
    bt->L = L;
    bt->n_inst = n;
    size_t m = (size_t)(n > 0 ? n : 1);
    bt->inst_user = mgsd_malloc(m * sizeof(int32_t));
    bt->inst_pos = mgsd_malloc(m * sizeof(int32_t));
    bt->order = mgsd_malloc(m * sizeof(int32_t));
    if (!bt->inst_user || !bt->inst_pos || !bt->order) {
        mgsd_batcher_free(bt);
        return MGSD_ERR_NOMEM;
    }
    int64_t k = 0;
    for (int32_t u = 1; u <= ds->n_users; u++) {
        int64_t len = ds->user_offs[u + 1] - ds->user_offs[u];
        int hv, ht;
        int64_t t = data_split_counts(len, &hv, &ht);
        if (split == MGSD_SPLIT_TRAIN) {
            for (int64_t p = 1; p <= t; p++) {
                bt->inst_user[k] = u;
                bt->inst_pos[k++] = (int32_t)p;
            }
        } else if (split == MGSD_SPLIT_VALID && hv) {
            bt->inst_user[k] = u;
            bt->inst_pos[k++] = (int32_t)(len - 2);
        } else if (split == MGSD_SPLIT_TEST && ht) {
            bt->inst_user[k] = u;
            bt->inst_pos[k++] = (int32_t)(len - 1);
        }
    }
    MGSD_ASSERT(k == n);
    for (int64_t i = 0; i < n; i++) bt->order[i] = (int32_t)i;
    *out = bt;
    return MGSD_OK;
}

void mgsd_batcher_free(mgsd_batcher *bt) {
    if (!bt) return;
    mgsd_free(bt->inst_user);
    mgsd_free(bt->inst_pos);
    mgsd_free(bt->order);
    mgsd_free(bt);
}

int64_t mgsd_batcher_num_instances(const mgsd_batcher *bt) { return bt->n_inst; }
int64_t mgsd_batcher_num_batches(const mgsd_batcher *bt) { return (bt->n_inst + bt->bs - 1) / bt->bs; }
int mgsd_batcher_batch_size(const mgsd_batcher *bt) { return bt->bs; }
int mgsd_batcher_max_len(const mgsd_batcher *bt) { return bt->L; }

mgsd_status mgsd_batcher_begin_epoch(mgsd_batcher *bt, uint64_t seed, int64_t epoch) {
    MGSD_CHECK_ARG(bt);
    for (int64_t i = 0; i < bt->n_inst; i++) bt->order[i] = (int32_t)i;
    if (bt->split == MGSD_SPLIT_TRAIN && bt->n_inst > 1) {
        mgsd_rng base, r;
        mgsd_rng_seed(&base, seed);
        mgsd_rng_split(&base, (uint64_t)epoch, &r);
        mgsd_rng_shuffle_i32(&r, bt->order, (size_t)bt->n_inst);
    }
    bt->cursor = 0;
    return MGSD_OK;
}

mgsd_status mgsd_batcher_fill(const mgsd_batcher *bt, int64_t index, mgsd_batch *b) {
    MGSD_CHECK_ARG(bt && b && b->padded);
    if (b->capacity < bt->bs || b->L != bt->L)
        return mgsd_error(MGSD_ERR_SHAPE, "batch has capacity %d and L %d; the batcher needs %d and %d",
                          b->capacity, b->L, bt->bs, bt->L);
    int64_t nb = mgsd_batcher_num_batches(bt);
    if (index < 0 || index >= nb)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "batch index %lld outside 0..%lld", (long long)index,
                          (long long)nb - 1);
    const mgsd_dataset *ds = bt->ds;
    int64_t lo = index * bt->bs;
    int64_t hi = lo + bt->bs < bt->n_inst ? lo + bt->bs : bt->n_inst;
    mgsd_batch_reset(b);
    for (int64_t i = lo; i < hi; i++) {
        int32_t k = bt->order[i];
        int32_t u = bt->inst_user[k], p = bt->inst_pos[k];
        const int32_t *seq = ds->items + ds->user_offs[u];
        batch_put(b, u, seq[p], seq, p);
    }
    return MGSD_OK;
}

mgsd_status mgsd_batcher_next(mgsd_batcher *bt, mgsd_batch *b, int *more) {
    MGSD_CHECK_ARG(bt && b && more);
    if (bt->cursor >= mgsd_batcher_num_batches(bt)) {
        *more = 0;
        mgsd_batch_reset(b);
        return MGSD_OK;
    }
    MGSD_TRY(mgsd_batcher_fill(bt, bt->cursor, b));
    bt->cursor++;
    *more = 1;
    return MGSD_OK;
}
