/* Shared body of the reader fuzz targets: parse the bytes with a forced format, then
 * exercise filtering, statistics, name lookups and every batch of every split. Any
 * crash, sanitizer report or leak is a bug; parse errors are expected and fine. */
#ifndef MGSD_FUZZ_COMMON_H
#define MGSD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "mgsd/data.h"

/* val_interval: NULL, or RecBole's value filter (fuzz_filters.c). */
static inline void fuzz_dataset_filtered(const uint8_t *data, size_t size, const char *format, const char *val_interval) {
    /* The first byte picks the filter strength so k-core iteration is exercised too, and
     * the duplicate removal. */
    static const char *const intervals[4] = {"", "[2,inf)", "[1,3]", "(0,2];[4,inf)"};
    static const char *const dups[4] = {NULL, "none", "first", "last"};
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    o.format = format;
    o.val_interval = val_interval;
    if (size > 0) {
        o.user_inter_num_interval = intervals[data[0] & 3];
        o.item_inter_num_interval = intervals[(data[0] >> 2) & 3];
        o.rm_dup_inter = dups[(data[0] >> 4) & 3];
    }
    o.max_item_list_length = 4;
    mgsd_dataset *ds = NULL;
    if (mgsd_dataset_load_buffer(&ds, data, size, "fuzz", &o) != MGSD_OK) return;
    mgsd_data_stats st;
    mgsd_dataset_stats(ds, &st);
    for (int32_t u = 1; u <= mgsd_dataset_num_users(ds); u++) {
        const char *name = mgsd_dataset_user_name(ds, u);
        if (mgsd_dataset_find_user(ds, name) != u) __builtin_trap();
    }
    for (int32_t i = 1; i < mgsd_dataset_num_items(ds); i++) {
        const char *name = mgsd_dataset_item_name(ds, i);
        if (mgsd_dataset_find_item(ds, name) != i) __builtin_trap();
    }
    mgsd_batch b;
    if (mgsd_batch_init(&b, 3, 4) == MGSD_OK) {
        for (int split = 0; split < 3; split++) {
            mgsd_batcher *bt = NULL;
            if (mgsd_batcher_init(&bt, ds, (mgsd_split)split, 3, 4) != MGSD_OK) continue;
            mgsd_batcher_begin_epoch(bt, 1, 2);
            int more = 1;
            while (mgsd_batcher_next(bt, &b, &more) == MGSD_OK && more) {
                for (int r = 0; r < b.B; r++)
                    if (b.targets[r] <= 0 || b.targets[r] >= mgsd_dataset_num_items(ds)) __builtin_trap();
            }
            mgsd_batcher_free(bt);
        }
        mgsd_batch_free(&b);
    }
    mgsd_dataset_free(ds);
}

static inline void fuzz_dataset(const uint8_t *data, size_t size, const char *format) {
    fuzz_dataset_filtered(data, size, format, NULL);
}

#endif
