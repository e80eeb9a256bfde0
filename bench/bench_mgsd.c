/* MGSD-WSS training-step benchmark at the reference configuration (hidden 100, batch 256,
 * max length 50, encoders 2 layers x 2 heads, feed-forward 2048, t = 5, K = 5) on real
 * batches of a dataset: seconds per step, tokens per step, projected seconds per epoch,
 * achieved GFLOP/s of useful work (17.5 MFLOP per real token per step, the issue's
 * accounting) and of the matrix products actually executed (counted by ops_blas_flops: the
 * encoders skip the last layer's rows that no loss reads), next to raw sgemm measured in the
 * same run, before the steps and again at the end (a machine whose speed moves shows two
 * figures), and the useful work's rate as a fraction of a raw sgemm timed right after each
 * measured step (on a machine whose speed moves within minutes, this fraction compares two
 * builds where seconds per step do not); then the seconds of one full evaluation (ranking
 * all items for every user of the valid split) and peak RSS.
 *
 * --checkpoint=FILE starts from a trained MGSD checkpoint of the same dataset and sub-model
 * (parameters and Adam state) instead of a fresh initialisation: late in training many
 * values underflow to denormal floats, and --flush_denormals=0 (IEEE, no flush-to-zero)
 * against 1 (the default, as the trainer) shows what they cost.
 *
 * --shapes adds where the steps' product time goes: each product shape that reaches the
 * matrix-product library (ops_gemm_profile; token and item counts above 1024 pooled as
 * ">1024"), its calls and seconds per step, share and GFLOP/s, timed over the steps after
 * warm-up.
 *
 * usage: bench_mgsd [--dataset=PATH] [--sub_model=BERT4Rec] [--sub_model_input=encoded] [--steps=N]
 *                   [--threads=N] [--checkpoint=FILE] [--flush_denormals=0|1] [--shapes] */
#include "ops/blas.h"
#include "ops/matmul.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgsd/data.h"
#include "mgsd/eval.h"
#include "model/mgsd.h"
#include "train/model_io.h"
#include "train/optim.h"

/* Raw sgemm, [M,100] . [2048,100]^T on the caller's buffers (a: RAW_M x 100, b: 2048 x 100,
 * c: RAW_M x 2048, M <= RAW_M): GFLOP/s of the best of reps calls after `warm` untimed ones.
 * Before and after the steps: M = RAW_M, 1 + 3 calls; the probe right after each measured
 * step: M = PROBE_M (1.7 GFLOP), best of two. */
#define RAW_M 12800
#define PROBE_M 4096
static double sgemm_rate(int64_t M, const float *a, const float *b, float *c, int warm, int reps) {
    double best = 1e30;
    for (int r = 0; r < warm + reps; r++) {
        double t0 = mgsd_now();
        ops_blas_sgemm(0, 1, M, 2048, 100, 1.0f, a, 100, b, 100, 0.0f, c, 2048);
        double dt = mgsd_now() - t0;
        if (r >= warm && dt < best) best = dt;
    }
    return 2.0 * M * 2048 * 100 / best * 1e-9;
}

int main(int argc, char **argv) {
    const char *path = "../shared/data/ml-100k/ml-100k.inter", *sub = "BERT4Rec";
    const char *ckpt = NULL, *sub_in = "encoded";
    int steps = 6, threads = 0, flush = 1, shapes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--dataset=", 10)) path = argv[i] + 10;
        else if (!strncmp(argv[i], "--sub_model=", 12)) sub = argv[i] + 12;
        else if (!strncmp(argv[i], "--sub_model_input=", 18)) sub_in = argv[i] + 18;
        else if (!strncmp(argv[i], "--steps=", 8)) steps = atoi(argv[i] + 8);
        else if (!strncmp(argv[i], "--threads=", 10)) threads = atoi(argv[i] + 10);
        else if (!strncmp(argv[i], "--checkpoint=", 13)) ckpt = argv[i] + 13;
        else if (!strncmp(argv[i], "--flush_denormals=", 18)) flush = atoi(argv[i] + 18);
        else if (!strcmp(argv[i], "--shapes")) shapes = 1;
        else {
            fprintf(stderr, "usage: bench_mgsd [--dataset=PATH] [--sub_model=NAME] [--sub_model_input=NAME] [--steps=N]\n"
                            "                  [--threads=N] [--checkpoint=FILE] [--flush_denormals=0|1] [--shapes]\n");
            return 2;
        }
    }
    if (steps < 3) steps = 3;
    mgsd_set_num_threads(threads);
    if (mgsd_set_flush_denormals(flush) != MGSD_OK) {
        fprintf(stderr, "bench_mgsd: %s\n", mgsd_last_error());
        return 1;
    }
    mgsd_data_options dopt;
    mgsd_data_options_default(&dopt);
    mgsd_dataset *ds;
    if (mgsd_dataset_load(&ds, path, &dopt) != MGSD_OK) {
        fprintf(stderr, "bench_mgsd: %s\n", mgsd_last_error());
        return 1;
    }
    mgsd_batcher *bt;
    mgsd_batcher_init(&bt, ds, MGSD_SPLIT_TRAIN, 256, 50);
    mgsd_batcher_begin_epoch(bt, 2020, 0);
    mgsd_config *c;
    size_t nd;
    mgsd_config_create(&c);
    const mgsd_config_entry *ov = mgsd_config_overall_defaults(&nd);
    mgsd_config_add_defaults(c, "overall", MGSD_CONFIG_LEVEL_OVERALL, ov, nd);
    mgsd_config_add_defaults(c, "MGSD", MGSD_CONFIG_LEVEL_MODEL, model_mgsd.defaults, model_mgsd.n_defaults);
    mgsd_config_set(c, "sub_model", sub, MGSD_CONFIG_LEVEL_CMDLINE, "command line");
    mgsd_config_set(c, "sub_model_input", sub_in, MGSD_CONFIG_LEVEL_CMDLINE, "command line");
    mgsd_model m;
    memset(&m, 0, sizeof m);
    m.vt = &model_mgsd;
    m.info.n_items = mgsd_dataset_num_items(ds);
    m.info.n_users = mgsd_dataset_num_users(ds);
    m.info.max_len = 50;
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 2020);
    if (model_mgsd.create(&m, c, &m.info, &rng) != MGSD_OK) {
        fprintf(stderr, "bench_mgsd: %s\n", mgsd_last_error());
        return 1;
    }
    optim_adam opt;
    optim_adam_config acfg = optim_adam_defaults();
    optim_adam_init(&opt, &m.params, &acfg);
    int64_t step0 = 0;
    if (ckpt) {
        model_io_ckpt ck;
        mgsd_status st = model_io_open(&ck, ckpt);
        if (st == MGSD_OK && strcmp(ck.model_name, "MGSD") != 0)
            st = mgsd_error(MGSD_ERR_INVALID_ARG, "%s holds a %s model, not MGSD", ckpt, ck.model_name);
        if (st == MGSD_OK) st = model_io_load_values(&ck, "params", &m.params);
        if (st == MGSD_OK) st = model_io_load_adam(&ck, &opt);
        if (st != MGSD_OK) {
            fprintf(stderr, "bench_mgsd: %s\n", mgsd_last_error());
            return 1;
        }
        /* late in training: Adam's bias corrections and the gumbel temperatures are at
         * their limits (the trainer's own step count is not needed for timing) */
        step0 = opt.step = 1000000;
        model_io_close(&ck);
    }
    mgsd_tape t;
    ag_tape_init(&t, 0, 1);
    mgsd_batch b;
    mgsd_batch_init(&b, 256, 50);
    /* raw sgemm before and after the steps: on a shared virtual machine the same product
     * has been measured at 91 and 185 GFLOP/s minutes apart, so the reader needs both */
    float *pa = mgsd_calloc((size_t)RAW_M * 100, 4), *pb = mgsd_calloc((size_t)2048 * 100, 4),
          *pc = mgsd_calloc((size_t)RAW_M * 2048, 4);
    if (!pa || !pb || !pc) {
        fprintf(stderr, "bench_mgsd: %s\n", mgsd_last_error());
        return 1;
    }
    double gf_before = sgemm_rate(RAW_M, pa, pb, pc, 1, 3);
    double t_sum = 0, t_min = 1e30, t_max = 0, fr_sum = 0, fr_min = 1e30, fr_max = 0;
    int64_t tok_sum = 0;
    uint64_t allocs = 0, flops = 0;
    for (int s = 0; s < steps; s++) {
        int more;
        mgsd_batcher_next(bt, &b, &more);
        if (shapes && s == 2) ops_gemm_profile(1); /* after the warm-up steps */
        uint64_t a0 = mgsd_alloc_count(), f0 = ops_blas_flops();
        double t0 = mgsd_now();
        ag_tape_reset(&t);
        params_zero_grads(&m.params);
        model_mgsd.on_step(&m, step0 + s, 0);
        mgsd_tensor *loss = model_mgsd.loss(&m, &t, &b);
        if (!loss || ag_backward(&t, loss) != MGSD_OK) {
            fprintf(stderr, "bench_mgsd: %s\n", mgsd_last_error());
            return 1;
        }
        params_clip_grad_norm(&m.params, 5.0, NULL);
        optim_adam_step(&opt, &m.params, 1e-3);
        double dt = mgsd_now() - t0;
        printf("step %d: %.3f s, %d tokens, loss %.4f", s, dt, b.offs[b.B], loss->data[0]);
        if (s < 2) printf(" (warm-up)\n");
        if (s >= 2) {
            t_sum += dt;
            if (dt < t_min) t_min = dt;
            if (dt > t_max) t_max = dt;
            tok_sum += b.offs[b.B];
            allocs += mgsd_alloc_count() - a0;
            flops += ops_blas_flops() - f0;
            const double probe = sgemm_rate(PROBE_M, pa, pb, pc, 0, 2), fr = 17.5e6 * b.offs[b.B] / dt * 1e-9 / probe;
            printf(", raw sgemm after it %.1f GFLOP/s\n", probe);
            fr_sum += fr;
            if (fr < fr_min) fr_min = fr;
            if (fr > fr_max) fr_max = fr;
        }
    }
    ops_gemm_profile(0);
    int measured = steps - 2;
    double sps = t_sum / measured, tps = (double)tok_sum / measured;
    int64_t nb = mgsd_batcher_num_batches(bt);
    double real_tokens = 0;
    /* real tokens per epoch: sum of history lengths over all training instances */
    mgsd_batcher_begin_epoch(bt, 2020, 0);
    for (;;) {
        int more;
        mgsd_batcher_next(bt, &b, &more);
        if (!more) break;
        real_tokens += b.offs[b.B];
    }
    /* one full-ranking evaluation of the valid split (deterministic inference) */
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    eo.L = 50;
    mgsd_eval_result er;
    model_scorer sc = {&m, &t};
    if (mgsd_eval_run(ds, MGSD_SPLIT_VALID, model_scorer_fn, &sc, &eo, &er) != MGSD_OK) {
        fprintf(stderr, "bench_mgsd: %s\n", mgsd_last_error());
        return 1;
    }
    double gf = sgemm_rate(RAW_M, pa, pb, pc, 1, 3);
    mgsd_free(pa);
    mgsd_free(pb);
    mgsd_free(pc);
    printf("\nMGSD (%s sub-model) on %s, threads %d, %s, denormals %s\n", sub, path, mgsd_get_num_threads(),
           ckpt ? ckpt : "fresh initialisation", flush ? "flushed to zero" : "kept (IEEE)");
    printf("seconds per step          %.3f (mean of %d steps after 2 warm-up; min %.3f, max %.3f)\n", sps, measured,
           t_min, t_max);
    printf("real tokens per step      %.0f\n", tps);
    printf("steps per epoch           %lld (%.2f M real tokens)\n", (long long)nb, real_tokens * 1e-6);
    printf("projected epoch seconds   %.0f\n", real_tokens / tps * sps);
    printf("useful GFLOP/s            %.1f (17.5 MFLOP per real token per step: the issue's count of the full computation)\n", 17.5e6 * tps / sps * 1e-9);
    printf("executed sgemm GFLOP/s    %.1f (%.1f MFLOP of matrix products per real token per step, counted)\n",
           (double)flops / t_sum * 1e-9, (double)flops / (double)tok_sum * 1e-6);
    printf("raw sgemm GFLOP/s         %.1f before the steps, %.1f after the evaluation (12800x100 . 100x2048, same run)\n",
           gf_before, gf);
    printf("useful / raw sgemm        %.3f (mean over the measured steps, each against the raw product timed right after\n"
           "                          it, %dx100 . 100x2048; min %.3f, max %.3f)\n",
           fr_sum / measured, PROBE_M, fr_min, fr_max);
    printf("allocations per step      %.1f after warm-up\n", (double)allocs / measured);
    printf("full evaluation seconds   %.2f (valid split, %lld users, all %d items ranked)\n", er.seconds,
           (long long)er.all.n_users, m.info.n_items - 1);
    printf("peak RSS                  %.0f MiB\n", mgsd_peak_rss() / 1048576.0);
    if (shapes) {
        ops_gemm_stat st[OPS_GEMM_PROFILE_CAP];
        int n = ops_gemm_profile_read(st, OPS_GEMM_PROFILE_CAP);
        double tot = 0;
        for (int i = 0; i < n; i++) tot += st[i].seconds;
        printf("\nmatrix products over the %d measured steps (%.3f s per step in all; >1024: a token or item count)\n",
               measured, tot / measured);
        printf("  op(a) op(b)        M      N      K  calls/step  s/step   share  GFLOP/s\n");
        for (int i = 0; i < n && i < 20; i++) {
            char d[3][8];
            const int64_t v[3] = {st[i].M, st[i].N, st[i].K};
            for (int j = 0; j < 3; j++)
                snprintf(d[j], sizeof d[j], v[j] == OPS_GEMM_PROFILE_POOLED ? ">1024" : v[j] == 0 ? "other" : "%lld", (long long)v[j]);
            printf("  %-5s %-9s %6s %6s %6s %10.1f %7.3f %6.1f%% %8.1f\n", st[i].ta ? "a^T" : "a",
                   st[i].padded ? "b padded" : st[i].tb ? "b^T" : "b", d[0], d[1], d[2],
                   (double)st[i].calls / measured, st[i].seconds / measured, 100.0 * st[i].seconds / tot,
                   st[i].flops / st[i].seconds * 1e-9);
        }
        if (n > 20) printf("  (%d smaller shapes not shown)\n", n - 20);
    }
    return 0;
}
