/* `mgsd demo`: the main job on an embedded default, no download needed: the default
 * synthetic dataset (generated in memory) and a small SASRec trained for a few epochs
 * through the real trainer, with valid/test metrics. `mgsd demo --toy` is the engine's
 * loss-curve demo (a 2-layer transformer on a toy next-item task). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mgsd/data.h"
#include "mgsd/eval.h"
#include "model/toy.h"
#include "train/trainer.h"

static int print_step(void *user, int step, float loss) {
    int every = *(int *)user;
    if (step % every == 0) printf("  step %4d  loss %.4f\n", step, loss);
    return 0;
}

static void demo_epoch(void *u, const trainer_epoch_info *e) {
    double h = 0, n = 0;
    if (e->validated) {
        mgsd_eval_get(e->valid, "hit@10", &h);
        mgsd_eval_get(e->valid, "ndcg@10", &n);
    }
    printf("  epoch %lld  loss %.4f  train %.1f s  valid hit@10 %.4f ndcg@10 %.4f%s\n", (long long)e->epoch, e->loss,
           e->train_seconds, h, n, e->improved ? " (best)" : "");
    fflush(stdout);
}

static int demo_fail(void) {
    fprintf(stderr, "mgsd: error: %s\n", mgsd_last_error());
    return 1;
}

/* Default synthetic data -> SASRec (hidden 32, 2 layers, L 20) for 3 epochs. */
static int demo_sasrec(void) {
    mgsd_synth_options so;
    mgsd_synth_options_default(&so);
    mgsd_synth syn;
    mgsd_dataset *ds = NULL;
    mgsd_config *cfg = NULL;
    mgsd_model *m = NULL;
    mgsd_trainer *t = NULL;
    int rc = 1;
    char *args[] = {"--epochs=3", "--MAX_ITEM_LIST_LENGTH=20", "--hidden_size=32", "--inner_size=32",
                    "--train_batch_size=256", "--eval_batch_size=1000"};
    if (mgsd_synth_generate(&syn, &so) != MGSD_OK) return demo_fail();
    mgsd_data_options dopt;
    if (model_find("SASRec") == NULL || trainer_config_create(&cfg, model_find("SASRec"), 6, args) != MGSD_OK ||
        trainer_data_options(cfg, &dopt) != MGSD_OK || mgsd_synth_to_dataset(&syn, &dopt, &ds) != MGSD_OK) {
        rc = demo_fail();
        goto done;
    }
    trainer_settings s;
    trainer_settings_read(cfg, &s);
    model_info info = {mgsd_dataset_num_items(ds), mgsd_dataset_num_users(ds), s.max_len};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, s.seed);
    trainer_options o = {"SASRec", "<synthetic>", NULL, NULL};
    if (model_create(&m, "SASRec", cfg, &info, &rng) != MGSD_OK || trainer_init(&t, cfg, ds, m, &o) != MGSD_OK) {
        rc = demo_fail();
        goto done;
    }
    printf("mgsd demo: SASRec (hidden 32, 2 layers, L 20) on the default synthetic data: %d users, %d items, "
           "%lld interactions, %d threads\n(try `mgsd synth --out=x.inter` and `mgsd train --model=SASRec --dataset=x.inter`; "
           "`mgsd demo --toy` is the engine demo)\n",
           (int)mgsd_dataset_num_users(ds), (int)mgsd_dataset_num_items(ds) - 1,
           (long long)mgsd_dataset_num_interactions(ds), mgsd_get_num_threads());
    fflush(stdout);
    trainer_callbacks cb = {NULL, NULL, demo_epoch, NULL, NULL};
    mgsd_eval_result test;
    if (trainer_fit(t, &cb) != MGSD_OK) {
        rc = demo_fail();
        goto done;
    }
    trainer_use_best(t);
    if (trainer_evaluate(t, MGSD_SPLIT_TEST, &test) != MGSD_OK) {
        rc = demo_fail();
        goto done;
    }
    printf("test (best epoch %lld):", (long long)trainer_best_epoch(t));
    char key[32];
    double v;
    for (int i = 0; i < mgsd_eval_entry_count(&test); i++)
        if (mgsd_eval_entry(&test, i, key, sizeof key, &v) == MGSD_OK && (key[0] == 'h' || key[0] == 'n'))
            printf(" %s %.4f", key, v);
    printf("\n");
    rc = 0;
done:
    trainer_free(t);
    if (m) model_free(m);
    mgsd_dataset_free(ds);
    mgsd_config_free(cfg);
    mgsd_synth_free(&syn);
    return rc;
}

int cli_cmd_demo(int argc, char **argv) {
    int toy = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: mgsd demo [--toy]\n\nGenerates the default synthetic dataset in memory, trains a small SASRec for 3 epochs\n"
                   "and prints valid/test metrics. --toy: the engine demo (a 2-layer causal transformer on a\n"
                   "toy next-item task, loss curve).\n");
            return 0;
        }
        if (!strcmp(argv[i], "--toy")) {
            toy = 1;
            continue;
        }
        fprintf(stderr, "mgsd demo: unknown option '%s'\n", argv[i]);
        return 2;
    }
    if (!toy) return demo_sasrec();
    toy_config c;
    toy_config_default(&c);
    printf("mgsd demo: 2-layer transformer (hidden %d, %d heads) on a toy next-item task, %d items, batch %d, %d steps\n",
           c.hidden, c.heads, c.vocab, c.batch, c.steps);
    int every = 25;
    toy_result r;
    mgsd_status st = toy_train(&c, print_step, &every, &r);
    if (st != MGSD_OK) {
        fprintf(stderr, "mgsd: error: %s\n", mgsd_last_error());
        return 1;
    }
    printf("loss %.3f -> %.3f in %.2f s (%.0f tokens/s), %llu allocations after warm-up\n", r.first_loss, r.last_loss,
           r.seconds, r.tokens_per_second, (unsigned long long)r.allocs_after_warmup);
    return 0;
}
