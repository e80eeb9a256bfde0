/* Training and evaluation cost of SASRec at the reference settings (hidden 100, inner 100,
 * 2 layers, 2 heads, dropout 0.5, CE, lr 1e-3, batch 256, L 50) on ml-100k and Beauty:
 * seconds per training step (timed after a warm-up, extrapolated to an epoch), seconds
 * per full evaluation of the valid split, allocations inside the timed steps (must be 0)
 * and peak RSS. Usage: bench_train [--steps=N] [--threads=T] [--eval-batch=B (256)] [DATA_DIR]
 * DATA_DIR defaults to $MGSD_SHARED_DATA or ../shared/data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "mgsd/data.h"
#include "mgsd/eval.h"
#include "train/trainer.h"

typedef struct timing {
    int64_t warm, stop, steps;
    double t_warm, t_end;
    uint64_t a_warm, a_end;
} timing;

static void on_step(void *u, const trainer_step_info *s) {
    timing *tm = u;
    tm->steps++;
    if (tm->steps == tm->warm) {
        tm->t_warm = mgsd_now();
        tm->a_warm = mgsd_alloc_count();
    }
    if (tm->steps == tm->stop) {
        tm->t_end = mgsd_now();
        tm->a_end = mgsd_alloc_count();
    }
}
static int stop_after(void *u) {
    timing *tm = u;
    return tm->steps >= tm->stop;
}

int main(int argc, char **argv) {
    int steps = 30;
    const char *threads = "--threads=0";
    char evalbs[64] = "--eval_batch_size=256";
    const char *dir = getenv("MGSD_SHARED_DATA") ? getenv("MGSD_SHARED_DATA") : "../shared/data";
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--steps=", 8)) steps = atoi(argv[i] + 8);
        else if (!strncmp(argv[i], "--threads=", 10)) threads = argv[i];
        else if (!strncmp(argv[i], "--eval-batch=", 13)) snprintf(evalbs, sizeof evalbs, "--eval_batch_size=%s", argv[i] + 13);
        else dir = argv[i];
    }
    if (steps < 2) steps = 2;
    const char *files[2] = {"ml-100k/ml-100k.inter", "beauty/Beauty.txt"};
    printf("SASRec reference settings: hidden 100, inner 100, 2 layers, 2 heads, dropout 0.5, CE, lr 1e-3, batch 256, L 50\n");
    printf("%-10s %6s %6s %8s %7s %9s %10s %10s %8s %9s\n", "dataset", "users", "items", "train", "steps", "s/step",
           "s/epoch*", "eval s", "allocs", "peakRSS");
    for (int f = 0; f < 2; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        char *args[] = {"--hidden_size=100", "--inner_size=100", "--n_layers=2", "--n_heads=2",
                        "--hidden_dropout_prob=0.5", "--attn_dropout_prob=0.5", "--loss_type=CE",
                        "--learning_rate=0.001", "--train_batch_size=256", "--MAX_ITEM_LIST_LENGTH=50",
                        "--epochs=1", evalbs, (char *)threads};
        mgsd_config *cfg = NULL;
        mgsd_dataset *ds = NULL;
        mgsd_model *m = NULL;
        mgsd_trainer *t = NULL;
        mgsd_data_options dopt;
        trainer_settings s;
        mgsd_status st = trainer_config_create(&cfg, model_find("SASRec"), 13, args);
        if (st == MGSD_OK) st = trainer_data_options(cfg, &dopt);
        if (st == MGSD_OK) st = trainer_settings_read(cfg, &s);
        if (st == MGSD_OK) st = mgsd_dataset_load(&ds, path, &dopt);
        if (st == MGSD_OK) {
            model_info info = {mgsd_dataset_num_items(ds), mgsd_dataset_num_users(ds), s.max_len};
            mgsd_rng rng;
            mgsd_rng_seed(&rng, s.seed);
            st = model_create(&m, "SASRec", cfg, &info, &rng);
        }
        trainer_options o = {"SASRec", path, NULL, NULL};
        if (st == MGSD_OK) st = trainer_init(&t, cfg, ds, m, &o);
        if (st != MGSD_OK) {
            printf("%-10s skipped: %s\n", f ? "Beauty" : "ml-100k", mgsd_last_error());
        } else {
            mgsd_data_stats ds_st;
            mgsd_dataset_stats(ds, &ds_st);
            int64_t per_epoch = (ds_st.train_instances + 255) / 256;
            timing tm = {3, steps + 3, 0, 0, 0, 0, 0};
            trainer_callbacks cb = {&tm, on_step, NULL, NULL, stop_after};
            st = trainer_fit(t, &cb);
            double s_step = (tm.t_end - tm.t_warm) / (double)(tm.stop - tm.warm);
            mgsd_eval_result r;
            if (st == MGSD_ERR_INTERRUPTED) st = trainer_evaluate(t, MGSD_SPLIT_VALID, &r);
            if (st != MGSD_OK) printf("%-10s failed: %s\n", f ? "Beauty" : "ml-100k", mgsd_last_error());
            else
                printf("%-10s %6d %6d %8lld %7lld %9.3f %10.1f %10.2f %8llu %7.0fM\n", f ? "Beauty" : "ml-100k",
                       (int)ds_st.users, (int)ds_st.items, (long long)ds_st.train_instances, (long long)per_epoch,
                       s_step, s_step * (double)per_epoch, r.seconds, (unsigned long long)(tm.a_end - tm.a_warm),
                       (double)mgsd_peak_rss() / (1024.0 * 1024.0));
            fflush(stdout);
        }
        trainer_free(t);
        if (m) model_free(m);
        mgsd_dataset_free(ds);
        mgsd_config_free(cfg);
    }
    printf("* s/epoch = s/step (mean of %d steps after 3 warm-up steps) x steps per epoch; eval = full ranking of the valid split; threads = %d\n",
           steps, mgsd_get_num_threads());
    return 0;
}
