/* Tests of the leave-one-out split and the batcher: instance counts (RecBole rules for
 * short users too), padded and packed forms, truncation to the newest L, deterministic
 * shuffling by (seed, epoch), no allocation while filling, batches from string ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgsd/data.h"
#include "test_util.h"

static mgsd_dataset *load_text(const char *text) {
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    o.user_inter_num_interval = "";
    o.item_inter_num_interval = "";
    o.max_item_list_length = 3;
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_dataset_load_buffer(&ds, text, strlen(text), "mem", &o));
    return ds;
}

/* Check the padded and packed forms agree and padding is zero. */
static void check_batch_forms(const mgsd_batch *b) {
    CHECK_INT_EQ(b->offs[0], 0);
    for (int r = 0; r < b->B; r++) {
        CHECK_INT_EQ(b->offs[r + 1] - b->offs[r], b->lens[r]);
        for (int j = 0; j < b->L; j++) {
            int32_t v = b->padded[r * b->L + j];
            if (j < b->lens[r]) {
                if (v != b->items[b->offs[r] + j]) CHECK_INT_EQ(v, b->items[b->offs[r] + j]);
                if (v <= 0) CHECK(v > 0);
            } else if (v != 0) {
                CHECK_INT_EQ(v, 0);
            }
        }
    }
}

static void test_split_counts(void) {
    /* Users with 1..6 interactions. RecBole: n-1 instances, leave out min(2, n-2). */
    mgsd_dataset *ds = load_text("a 1\nb 1 2\nc 1 2 3\nd 1 2 3 4\ne 1 2 3 4 5\nf 1 2 3 4 5 6\n");
    if (!ds) return;
    mgsd_data_stats st;
    CHECK_OK(mgsd_dataset_stats(ds, &st));
    /* train: a 0, b 1, c 1, d 1, e 2, f 3 */
    CHECK_INT_EQ(st.train_instances, 8);
    CHECK_INT_EQ(st.valid_instances, 3);
    CHECK_INT_EQ(st.test_instances, 4);
    CHECK_INT_EQ(st.len_min, 1);
    CHECK_INT_EQ(st.len_max, 6);
    CHECK_NEAR(st.len_median, 3.5, 1e-12);
    CHECK_NEAR(st.len_mean, 21.0 / 6, 1e-12);
    mgsd_batcher *tr = NULL, *va = NULL, *te = NULL;
    CHECK_OK(mgsd_batcher_init(&tr, ds, MGSD_SPLIT_TRAIN, 4, 0));
    CHECK_OK(mgsd_batcher_init(&va, ds, MGSD_SPLIT_VALID, 4, 0));
    CHECK_OK(mgsd_batcher_init(&te, ds, MGSD_SPLIT_TEST, 4, 0));
    if (!tr || !va || !te) return;
    CHECK_INT_EQ(mgsd_batcher_num_instances(tr), 8);
    CHECK_INT_EQ(mgsd_batcher_num_batches(tr), 2);
    CHECK_INT_EQ(mgsd_batcher_max_len(tr), 3);
    CHECK_INT_EQ(mgsd_batcher_num_instances(va), 3);
    CHECK_INT_EQ(mgsd_batcher_num_instances(te), 4);
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 4, 3));
    /* test split in user order: c (hist 1 2 -> 3), d, e, f (hist 3 4 5 truncated -> 6) */
    CHECK_OK(mgsd_batcher_fill(te, 0, &b));
    CHECK_INT_EQ(b.B, 4);
    check_batch_forms(&b);
    int32_t uc = mgsd_dataset_find_user(ds, "c"), uf = mgsd_dataset_find_user(ds, "f");
    CHECK_INT_EQ(b.users[0], uc);
    CHECK_INT_EQ(b.lens[0], 2);
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, b.targets[0]), "3");
    CHECK_INT_EQ(b.users[3], uf);
    CHECK_INT_EQ(b.lens[3], 3);
    CHECK_INT_EQ(b.full_lens[3], 5);
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, b.padded[3 * 3 + 0]), "3");
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, b.padded[3 * 3 + 2]), "5");
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, b.targets[3]), "6");
    /* valid: e (hist 1 2 3 -> 4) is row 1; d's valid hist is 1 2 -> 3 */
    CHECK_OK(mgsd_batcher_fill(va, 0, &b));
    CHECK_INT_EQ(b.B, 3);
    check_batch_forms(&b);
    CHECK_INT_EQ(b.users[0], mgsd_dataset_find_user(ds, "d"));
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, b.targets[0]), "3");
    CHECK_INT_EQ(b.lens[0], 2);
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, b.targets[1]), "4");
    CHECK_INT_EQ(b.padded[1 * 3 + 2], mgsd_dataset_find_item(ds, "3"));
    /* train, unshuffled: b (1 -> 2), c (1 -> 2), d (1 -> 2), e (1 -> 2), e (1 2 -> 3), f ... */
    CHECK_OK(mgsd_batcher_begin_epoch(va, 1, 1)); /* no-op order for valid */
    CHECK_OK(mgsd_batcher_fill(tr, 1, &b));
    CHECK_INT_EQ(b.B, 4);
    check_batch_forms(&b);
    CHECK_INT_EQ(b.users[0], mgsd_dataset_find_user(ds, "e"));
    CHECK_INT_EQ(b.lens[0], 2);
    CHECK_INT_EQ(b.users[3], uf);
    CHECK_INT_EQ(b.lens[3], 3);
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, b.targets[3]), "4");
    CHECK_STATUS(mgsd_batcher_fill(tr, 2, &b), MGSD_ERR_INVALID_ARG);
    mgsd_batch small;
    CHECK_OK(mgsd_batch_init(&small, 2, 3));
    CHECK_STATUS(mgsd_batcher_fill(tr, 0, &small), MGSD_ERR_SHAPE);
    mgsd_batch_free(&small);
    mgsd_batch_free(&b);
    mgsd_batcher_free(tr);
    mgsd_batcher_free(va);
    mgsd_batcher_free(te);
    mgsd_dataset_free(ds);
}

static void test_shuffle(void) {
    char text[4096];
    size_t len = 0;
    for (int u = 0; u < 40; u++) {
        len += (size_t)sprintf(text + len, "u%d", u);
        for (int k = 0; k < 3 + u % 7; k++) len += (size_t)sprintf(text + len, " i%d", (u * 7 + k * 3) % 50);
        text[len++] = '\n';
    }
    text[len] = '\0';
    mgsd_dataset *ds = load_text(text);
    if (!ds) return;
    mgsd_batcher *bt = NULL;
    CHECK_OK(mgsd_batcher_init(&bt, ds, MGSD_SPLIT_TRAIN, 16, 5));
    if (!bt) return;
    int64_t n = mgsd_batcher_num_instances(bt);
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 16, 5));
    int32_t *keys[3];
    int epochs[3] = {3, 3, 4};
    for (int e = 0; e < 3; e++) {
        keys[e] = calloc((size_t)n, sizeof(int32_t));
        CHECK_OK(mgsd_batcher_begin_epoch(bt, 99, epochs[e]));
        int more = 1;
        int64_t k = 0;
        uint64_t allocs = mgsd_alloc_count();
        while (1) {
            CHECK_OK(mgsd_batcher_next(bt, &b, &more));
            if (!more) break;
            check_batch_forms(&b);
            /* key: user * 1000 + full history length identifies the instance */
            for (int r = 0; r < b.B && k < n; r++) keys[e][k++] = b.users[r] * 1000 + b.full_lens[r];
        }
        CHECK_INT_EQ(mgsd_alloc_count() - allocs, 0);
        CHECK_INT_EQ(k, n);
    }
    CHECK(memcmp(keys[0], keys[1], (size_t)n * sizeof(int32_t)) == 0);
    CHECK(memcmp(keys[0], keys[2], (size_t)n * sizeof(int32_t)) != 0);
    /* every instance exactly once: sorted keys of both epochs agree */
    for (int e = 0; e < 3; e++) {
        for (int64_t i = 1; i < n; i++) { /* insertion sort, n is small */
            int32_t v = keys[e][i];
            int64_t j = i;
            while (j > 0 && keys[e][j - 1] > v) {
                keys[e][j] = keys[e][j - 1];
                j--;
            }
            keys[e][j] = v;
        }
    }
    CHECK(memcmp(keys[0], keys[2], (size_t)n * sizeof(int32_t)) == 0);
    int dup = 0;
    for (int64_t i = 1; i < n; i++) dup |= keys[0][i] == keys[0][i - 1];
    CHECK(!dup);
    for (int e = 0; e < 3; e++) free(keys[e]);
    mgsd_batch_free(&b);
    mgsd_batcher_free(bt);
    mgsd_dataset_free(ds);
}

static void test_append(void) {
    mgsd_dataset *ds = load_text("u1 a b c\nu2 b c d\n");
    if (!ds) return;
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 2, 3));
    const char *h1[] = {"a", "b", "c", "d"};
    CHECK_OK(mgsd_batch_append_names(&b, ds, "u2", NULL, h1, 4));
    CHECK_INT_EQ(b.lens[0], 3);
    CHECK_INT_EQ(b.full_lens[0], 4);
    CHECK_INT_EQ(b.users[0], 2);
    CHECK_INT_EQ(b.targets[0], 0);
    CHECK_INT_EQ(b.padded[0], mgsd_dataset_find_item(ds, "b"));
    CHECK_INT_EQ(b.padded[2], mgsd_dataset_find_item(ds, "d"));
    const char *h2[] = {"a", "zzz"};
    CHECK_STATUS(mgsd_batch_append_names(&b, ds, NULL, NULL, h2, 2), MGSD_ERR_NOT_FOUND);
    CHECK_CONTAINS(mgsd_last_error(), "'zzz'");
    CHECK_INT_EQ(b.B, 1);
    CHECK_STATUS(mgsd_batch_append_names(&b, ds, "nobody", NULL, h1, 1), MGSD_ERR_NOT_FOUND);
    int32_t ids[1] = {1};
    CHECK_OK(mgsd_batch_append(&b, 0, 2, ids, 1));
    CHECK_INT_EQ(b.padded[3], 1);
    CHECK_INT_EQ(b.padded[4], 0);
    CHECK_INT_EQ(b.offs[2], 4);
    check_batch_forms(&b);
    CHECK_STATUS(mgsd_batch_append(&b, 0, 2, ids, 1), MGSD_ERR_SHAPE);
    mgsd_batch_reset(&b);
    CHECK_OK(mgsd_batch_append(&b, 0, 0, NULL, 0));
    CHECK_INT_EQ(b.lens[0], 0);
    CHECK_INT_EQ(b.offs[1], 0);
    mgsd_batch_free(&b);
    CHECK_STATUS(mgsd_batch_init(&b, 0, 3), MGSD_ERR_INVALID_ARG);
    mgsd_dataset_free(ds);
}

/* A view of rows r0.. shares the arrays and rebases the offsets. */
static void test_view(void) {
    mgsd_batch b, v;
    CHECK_OK(mgsd_batch_init(&b, 4, 5));
    const int32_t h0[2] = {1, 2}, h1[3] = {3, 4, 5}, h2[1] = {6};
    CHECK_OK(mgsd_batch_append(&b, 10, 7, h0, 2));
    CHECK_OK(mgsd_batch_append(&b, 11, 8, h1, 3));
    CHECK_OK(mgsd_batch_append(&b, 12, 9, h2, 1));
    int32_t offs[3];
    mgsd_batch_view(&b, 1, 2, offs, &v);
    CHECK_INT_EQ(v.B, 2);
    CHECK_INT_EQ(v.offs[0], 0);
    CHECK_INT_EQ(v.offs[1], 3);
    CHECK_INT_EQ(v.offs[2], 4);
    CHECK_INT_EQ(v.users[0], 11);
    CHECK_INT_EQ(v.targets[1], 9);
    CHECK_INT_EQ(v.items[0], 3);
    CHECK_INT_EQ(v.items[3], 6);
    CHECK_INT_EQ(v.lens[1], 1);
    CHECK_INT_EQ(v.padded[0], 3);
    CHECK(v.items == b.items + 2);
    mgsd_batch_free(&b);
}

int main(void) {
    test_view();
    test_split_counts();
    test_shuffle();
    test_append();
    return test_summary();
}
