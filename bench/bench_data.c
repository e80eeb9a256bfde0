/* Data pipeline benchmark: load (read + 5-core filter + remap + sort) time and the
 * time to build every training batch of one epoch (B=256, L=50, padded and packed
 * forms) for ml-100k, Beauty, Sports and a generated 10-million-line .inter file.
 *
 * usage: bench_data [--shared=DIR] [--big=LINES (0 = skip)] [--keep] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "mgsd/data.h"
#include "mgsd/eval.h"

/* Trivial scorer for timing the metric loop: a fixed pseudo-random score per item. */
static mgsd_status bench_score(void *model, const mgsd_batch *b, float *scores) {
    int32_t n = *(const int32_t *)model;
    for (int r = 0; r < b->B; r++)
        for (int32_t i = 0; i < n; i++) scores[(size_t)r * n + i] = (float)((i * 2654435761u) >> 8);
    return MGSD_OK;
}

static int bench_one(const char *label, const char *path) {
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    mgsd_dataset *ds = NULL;
    double t0 = mgsd_now();
    if (mgsd_dataset_load(&ds, path, &o) != MGSD_OK) {
        fprintf(stderr, "%s: %s\n", label, mgsd_last_error());
        return 1;
    }
    double t_load = mgsd_now() - t0;
    mgsd_batcher *bt = NULL;
    mgsd_batch b;
    t0 = mgsd_now();
    if (mgsd_batcher_init(&bt, ds, MGSD_SPLIT_TRAIN, 256, 50) != MGSD_OK || mgsd_batch_init(&b, 256, 50) != MGSD_OK) {
        fprintf(stderr, "%s: %s\n", label, mgsd_last_error());
        return 1;
    }
    double t_init = mgsd_now() - t0;
    t0 = mgsd_now();
    mgsd_batcher_begin_epoch(bt, 2024, 0);
    int64_t nb = mgsd_batcher_num_batches(bt), checksum = 0;
    uint64_t allocs = mgsd_alloc_count();
    for (int64_t i = 0; i < nb; i++) {
        mgsd_batcher_fill(bt, i, &b);
        checksum += b.offs[b.B] + b.padded[0];
    }
    double t_batch = mgsd_now() - t0;
    uint64_t fill_allocs = mgsd_alloc_count() - allocs;
    printf("%-10s users %8d items %8d inter %10lld  load %7.3f s  train batches %6lld (%9lld inst) init %6.3f s "
           "fill %6.3f s  load+batches %6.3f s  allocs/fill %llu  [%lld]\n",
           label, (int)mgsd_dataset_num_users(ds), (int)mgsd_dataset_num_items(ds) - 1,
           (long long)mgsd_dataset_num_interactions(ds), t_load, (long long)nb,
           (long long)mgsd_batcher_num_instances(bt), t_init, t_batch, t_load + t_init + t_batch,
           (unsigned long long)fill_allocs, (long long)(checksum % 1000));
    mgsd_batch_free(&b);
    mgsd_batcher_free(bt);
    if (mgsd_dataset_num_items(ds) <= 200000) {
        int32_t n = mgsd_dataset_num_items(ds);
        mgsd_eval_result res;
        if (mgsd_eval_run(ds, MGSD_SPLIT_TEST, bench_score, &n, NULL, &res) == MGSD_OK) {
            double h;
            mgsd_eval_get(&res, "hit@10", &h);
            printf("%-10s full-ranking eval (test, %lld users x %d items, incl. trivial scoring) %.3f s  hit@10 %.4f\n",
                   label, (long long)res.all.n_users, (int)n - 1, res.seconds, h);
        }
    }
    mgsd_dataset_free(ds);
    return 0;
}

/* Random .inter file: LINES rows over users/items drawn uniformly, integer timestamps. */
static int write_big(const char *path, int64_t lines) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    static char buf[1 << 20];
    size_t n = (size_t)sprintf(buf, "user_id:token\titem_id:token\trating:float\ttimestamp:float\n");
    mgsd_rng r;
    mgsd_rng_seed(&r, 1);
    int64_t users = lines / 50 > 1 ? lines / 50 : 1, items = lines / 100 > 1 ? lines / 100 : 1;
    for (int64_t i = 0; i < lines; i++) {
        if (n > sizeof buf - 128) {
            fwrite(buf, 1, n, f);
            n = 0;
        }
        n += (size_t)sprintf(buf + n, "%llu\t%llu\t%d\t%llu\n", (unsigned long long)mgsd_rng_below(&r, (uint64_t)users),
                             (unsigned long long)mgsd_rng_below(&r, (uint64_t)items), 1 + (int)mgsd_rng_below(&r, 5),
                             (unsigned long long)(880000000 + mgsd_rng_below(&r, 20000000)));
    }
    fwrite(buf, 1, n, f);
    return fclose(f) != 0;
}

int main(int argc, char **argv) {
    const char *shared = getenv("MGSD_SHARED_DATA");
    if (!shared) shared = "../shared/data";
    int64_t big = 10000000;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--shared=", 9)) shared = argv[i] + 9;
        else if (!strncmp(argv[i], "--big=", 6)) big = atoll(argv[i] + 6);
        else if (!strcmp(argv[i], "--keep")) keep = 1;
        else {
            fprintf(stderr, "usage: bench_data [--shared=DIR] [--big=LINES] [--keep]\n");
            return 2;
        }
    }
    printf("bench_data: %d threads\n", mgsd_get_num_threads());
    const char *files[3][2] = {{"ml-100k", "ml-100k/ml-100k.inter"},
                               {"beauty", "beauty/Beauty.txt"},
                               {"sports", "sports/Sports_and_Outdoors.txt"}};
    char path[4096];
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", shared, files[k][1]);
        if (access(path, R_OK) != 0) {
            printf("%-10s skipped (%s not found)\n", files[k][0], path);
            continue;
        }
        bench_one(files[k][0], path);
    }
    if (big > 0) {
        snprintf(path, sizeof path, "/tmp/mgsd_bench_%lld.inter", (long long)big);
        if (access(path, R_OK) != 0) {
            double t0 = mgsd_now();
            if (write_big(path, big)) {
                fprintf(stderr, "cannot write %s\n", path);
                return 1;
            }
            printf("generated %s (%lld lines) in %.1f s\n", path, (long long)big, mgsd_now() - t0);
        }
        char label[32];
        snprintf(label, sizeof label, "%lldM", (long long)(big / 1000000));
        bench_one(big >= 1000000 ? label : "big", path);
        if (!keep) remove(path);
    }
    printf("peak RSS %.1f MiB\n", (double)mgsd_peak_rss() / (1 << 20));
    return 0;
}
