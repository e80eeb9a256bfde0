/* Statistics of the staged public datasets after RecBole 5-core filtering must match
 * RecBole 1.x exactly (users, items, interactions, training instances). Skips with a
 * note when $MGSD_SHARED_DATA is not available. Also checks per-user time order with
 * the stable tie-break on ml-100k (many equal timestamps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgsd/data.h"
#include "test_util.h"

typedef struct {
    const char *file;
    int32_t users, items;
    int64_t inter, train;
} expected;

int main(void) {
    const char *dir = getenv("MGSD_SHARED_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/ml-100k/ml-100k.inter", dir ? dir : "");
    if (!dir || access(path, R_OK) != 0) {
        printf("note: MGSD_SHARED_DATA not set or datasets missing; skipping shared-data checks\n");
        return test_summary();
    }
    const expected ex[] = {
        {"ml-100k/ml-100k.inter", 943, 1349, 99287, 96458},
        {"beauty/Beauty.txt", 22363, 12101, 198502, 131413},
        {"sports/Sports_and_Outdoors.txt", 35598, 18357, 296337, 296337 - 3 * 35598},
    };
    for (size_t k = 0; k < sizeof ex / sizeof ex[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, ex[k].file);
        if (access(path, R_OK) != 0) {
            printf("note: %s missing; skipped\n", path);
            continue;
        }
        mgsd_data_options o;
        mgsd_data_options_default(&o);
        mgsd_dataset *ds = NULL;
        CHECK_OK(mgsd_dataset_load(&ds, path, &o));
        if (!ds) continue;
        mgsd_data_stats st;
        CHECK_OK(mgsd_dataset_stats(ds, &st));
        CHECK_INT_EQ(st.users, ex[k].users);
        CHECK_INT_EQ(st.items, ex[k].items);
        CHECK_INT_EQ(mgsd_dataset_num_items(ds), ex[k].items + 1);
        CHECK_INT_EQ(st.interactions, ex[k].inter);
        CHECK_INT_EQ(st.train_instances, ex[k].train);
        mgsd_batcher *bt = NULL;
        CHECK_OK(mgsd_batcher_init(&bt, ds, MGSD_SPLIT_TRAIN, 256, 50));
        if (bt) CHECK_INT_EQ(mgsd_batcher_num_instances(bt), ex[k].train);
        mgsd_batcher_free(bt);
        /* time order with stable ties: ts non-decreasing, source rows increasing on ties */
        const int64_t *offs = mgsd_dataset_user_offsets(ds);
        const double *ts = mgsd_dataset_timestamps(ds);
        const int64_t *src = mgsd_dataset_source_rows(ds);
        int64_t bad = 0;
        for (int32_t u = 1; u <= st.users; u++)
            for (int64_t i = offs[u] + 1; i < offs[u + 1]; i++)
                bad += ts[i] < ts[i - 1] || (ts[i] == ts[i - 1] && src[i] < src[i - 1]);
        CHECK_INT_EQ(bad, 0);
        if (k == 0) {
            /* user "196" rated item "242" first in the file: both get id 1 */
            CHECK_INT_EQ(mgsd_dataset_find_user(ds, "196"), 1);
            CHECK_INT_EQ(mgsd_dataset_find_item(ds, "242"), 1);
            /* items rated fewer than 5 times are gone (item 1682 has 1 rating) */
            CHECK_INT_EQ(mgsd_dataset_find_item(ds, "1682"), -1);
            CHECK(mgsd_dataset_find_item(ds, "50") > 0);
        }
        mgsd_dataset_free(ds);
    }
    return test_summary();
}
