/* Tests of the synthetic data generator: determinism for a seed, noise fraction and
 * labels in both modes, sequential structure (clean transitions mostly follow the
 * cluster cycle), file output with labels round trip, in-memory dataset, bad options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgsd/data.h"
#include "test_util.h"

static void test_generate(void) {
    mgsd_synth_options o;
    mgsd_synth_options_default(&o);
    mgsd_synth a, b;
    CHECK_OK(mgsd_synth_generate(&a, &o));
    CHECK_OK(mgsd_synth_generate(&b, &o));
    CHECK_INT_EQ(a.n, b.n);
    CHECK(a.n > 0 && memcmp(a.items, b.items, (size_t)a.n * sizeof *a.items) == 0);
    CHECK(memcmp(a.is_noise, b.is_noise, (size_t)a.n) == 0);
    /* lengths 10..40 and exactly round(0.2 * len) noisy rows per user */
    int32_t *trans = calloc(501 * 501, sizeof *trans);
    int64_t i = 0, bad_len = 0, bad_noise = 0, follow = 0, clean_pairs = 0, noisy = 0;
    while (i < a.n) {
        int64_t j = i;
        int64_t nn = 0;
        while (j < a.n && a.users[j] == a.users[i]) nn += a.is_noise[j++];
        int64_t len = j - i;
        bad_len += len < 10 || len > 40;
        bad_noise += nn != lround(0.2 * (double)len);
        noisy += nn;
        /* consecutive clean rows within the same cluster: mostly the cycle successor */
        for (int64_t k = i + 1; k < j; k++) {
            if (a.is_noise[k] || a.is_noise[k - 1]) continue;
            if (a.cluster[a.items[k]] != a.cluster[a.items[k - 1]]) continue;
            clean_pairs++;
            trans[a.items[k - 1] * 501 + a.items[k]]++;
        }
        i = j;
    }
    CHECK_INT_EQ(bad_len, 0);
    CHECK_INT_EQ(bad_noise, 0);
    CHECK(noisy > 0);
    CHECK(clean_pairs > 1000);
    /* the most frequent successor of each item explains most clean transitions */
    for (int x = 1; x <= 500; x++) {
        int32_t best = 0;
        for (int y = 1; y <= 500; y++)
            if (trans[x * 501 + y] > best) best = trans[x * 501 + y];
        follow += best;
    }
    CHECK((double)follow / (double)clean_pairs > 0.6);
    free(trans);
    /* timestamps strictly increase within a user */
    int64_t bad_ts = 0;
    for (int64_t k = 1; k < a.n; k++) bad_ts += a.users[k] == a.users[k - 1] && a.timestamps[k] <= a.timestamps[k - 1];
    CHECK_INT_EQ(bad_ts, 0);
    mgsd_synth_free(&b);
    /* another seed differs */
    o.seed = 43;
    CHECK_OK(mgsd_synth_generate(&b, &o));
    CHECK(b.n != a.n || memcmp(a.items, b.items, (size_t)a.n * sizeof *a.items) != 0);
    mgsd_synth_free(&b);
    /* insert mode: clean length + round(noise * clean length) */
    o.seed = 42;
    o.noise_mode = MGSD_NOISE_INSERT;
    o.noise = 0.5f;
    o.min_len = o.max_len = 10;
    CHECK_OK(mgsd_synth_generate(&b, &o));
    CHECK_INT_EQ(b.n, 1000 * 15);
    int64_t nz = 0;
    for (int64_t k = 0; k < b.n; k++) nz += b.is_noise[k];
    CHECK_INT_EQ(nz, 1000 * 5);
    mgsd_synth_free(&b);
    /* noise 0: no labels */
    o.noise_mode = MGSD_NOISE_REPLACE;
    o.noise = 0;
    CHECK_OK(mgsd_synth_generate(&b, &o));
    nz = 0;
    for (int64_t k = 0; k < b.n; k++) nz += b.is_noise[k];
    CHECK_INT_EQ(nz, 0);
    mgsd_synth_free(&b);
    mgsd_synth_free(&a);
}

static void test_files(void) {
    mgsd_synth_options o;
    mgsd_synth_options_default(&o);
    o.users = 200;
    mgsd_synth s;
    CHECK_OK(mgsd_synth_generate(&s, &o));
    char dir[] = "/tmp/mgsd_synth_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], npath[300];
    snprintf(path, sizeof path, "%s/s.inter", dir);
    snprintf(npath, sizeof npath, "%s.noise", path);
    CHECK_OK(mgsd_synth_write(&s, path));
    uint8_t *lab = NULL;
    int64_t nrows = 0;
    CHECK_OK(mgsd_data_read_noise_labels(npath, &lab, &nrows));
    CHECK_INT_EQ(nrows, s.n);
    if (lab) CHECK(memcmp(lab, s.is_noise, (size_t)s.n) == 0);
    /* file and in-memory datasets agree; labels map onto CSR positions */
    mgsd_data_options d;
    mgsd_data_options_default(&d);
    mgsd_dataset *df = NULL, *dm = NULL;
    CHECK_OK(mgsd_dataset_load(&df, path, &d));
    CHECK_OK(mgsd_synth_to_dataset(&s, &d, &dm));
    if (df && dm && lab) {
        CHECK_INT_EQ(mgsd_dataset_num_interactions(df), mgsd_dataset_num_interactions(dm));
        CHECK_INT_EQ(mgsd_dataset_num_items(df), mgsd_dataset_num_items(dm));
        int64_t n = mgsd_dataset_num_interactions(df);
        CHECK(memcmp(mgsd_dataset_item_array(df), mgsd_dataset_item_array(dm), (size_t)n * sizeof(int32_t)) == 0);
        uint8_t *m = calloc((size_t)n, 1);
        CHECK_OK(mgsd_dataset_map_row_labels(df, lab, nrows, m));
        /* check a few positions against the generator's rows */
        const int64_t *src = mgsd_dataset_source_rows(df);
        int bad = 0;
        for (int64_t k = 0; k < n; k++) {
            int64_t r = src[k];
            bad += m[k] != s.is_noise[r];
            char nm[32];
            snprintf(nm, sizeof nm, "%d", (int)s.items[r]);
            bad += strcmp(mgsd_dataset_item_name(df, mgsd_dataset_item_array(df)[k]), nm) != 0;
        }
        CHECK_INT_EQ(bad, 0);
        CHECK_STATUS(mgsd_dataset_map_row_labels(df, lab, 3, m), MGSD_ERR_SHAPE);
        free(m);
    }
    mgsd_dataset_free(df);
    mgsd_dataset_free(dm);
    mgsd_data_free_labels(lab);
    /* labels: bad file */
    CHECK_STATUS(mgsd_data_read_noise_labels(path, &lab, &nrows), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "is_noise");
    remove(path);
    remove(npath);
    rmdir(dir);
    /* unwritable location */
    CHECK_STATUS(mgsd_synth_write(&s, "/nonexistent/dir/x.inter"), MGSD_ERR_IO);
    mgsd_synth_free(&s);
}

static void test_bad_options(void) {
    mgsd_synth_options o;
    mgsd_synth s;
    mgsd_synth_options_default(&o);
    o.items = 1;
    CHECK_STATUS(mgsd_synth_generate(&s, &o), MGSD_ERR_CONFIG);
    mgsd_synth_options_default(&o);
    o.min_len = 50;
    CHECK_STATUS(mgsd_synth_generate(&s, &o), MGSD_ERR_CONFIG);
    mgsd_synth_options_default(&o);
    o.noise = 1.5f;
    CHECK_STATUS(mgsd_synth_generate(&s, &o), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "noise");
    mgsd_synth_options_default(&o);
    o.interests = 0;
    CHECK_STATUS(mgsd_synth_generate(&s, &o), MGSD_ERR_CONFIG);
    mgsd_synth_options_default(&o);
    o.noise = NAN;
    CHECK_STATUS(mgsd_synth_generate(&s, &o), MGSD_ERR_CONFIG);
}

int main(void) {
    test_generate();
    test_files();
    test_bad_options();
    return test_summary();
}
