/* `mgsd demo`: the main job on an embedded default, no download needed. The default
 * synthetic dataset (users walking a few latent interests, 20% planted noise) is generated
 * in memory; a small SASRec and a small MGSD-WSS are trained on it through the real
 * trainer; both are scored on the test split clean and with 20% random items injected into
 * every history; MGSD's noise discriminator is scored against the planted labels; and one
 * user's history is shown with MGSD's keep decisions next to the ground truth.
 * `mgsd demo --toy` is the engine's loss-curve demo (a 2-layer transformer on a toy
 * next-item task). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/core.h"
#include "mgsd/data.h"
#include "mgsd/eval.h"
#include "model/mgsd.h"
#include "model/toy.h"
#include "train/model_io.h"
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
    printf("  %-6s epoch %2lld  loss %7.4f  %5.1f s  valid hit@10 %.4f ndcg@10 %.4f", (const char *)u,
           (long long)e->epoch, e->loss, e->train_seconds, h, n);
    /* MGSD: how its discriminator ranks the items inserted into the training copies */
    for (int k = 0; k < e->n_stats; k++)
        if (!strcmp(e->stat_names[k], "inserted_auc")) printf("  inserted AUC %.3f", e->stat_means[k]);
    printf("%s\n", e->improved ? "  (best)" : "");
    fflush(stdout);
}

static int demo_fail(void) {
    fprintf(stderr, "mgsd: error: %s\n", mgsd_last_error());
    return 1;
}

#define DEMO_INJECT 0.2

/* One trained model of the demo and its test figures (clean, then with injected noise). */
typedef struct demo_model {
    const char *name;
    mgsd_config *cfg;
    mgsd_model *m;
    mgsd_trainer *t;
    trainer_settings s;
    int64_t best_epoch;
    double hit[2], ndcg[2];
} demo_model;

static void demo_model_free(demo_model *d) {
    trainer_free(d->t);
    if (d->m) model_free(d->m);
    mgsd_config_free(d->cfg);
}

static mgsd_status demo_config(demo_model *d, const char *name, char **args, int n_args) {
    memset(d, 0, sizeof *d);
    d->name = name;
    const model_vtable *vt = model_find(name);
    if (!vt) return mgsd_error(MGSD_ERR_INVALID_ARG, "demo: model %s is not built in", name);
    MGSD_TRY(trainer_config_create(&d->cfg, vt, n_args, args));
    return trainer_settings_read(d->cfg, &d->s);
}

/* Test split through the model's scorer, optionally behind a noise injector. */
static mgsd_status demo_test(demo_model *d, const mgsd_dataset *ds, mgsd_tape *tape, double inject, int slot) {
    model_scorer sc = {d->m, tape};
    mgsd_noise_injector *inj = NULL;
    if (inject > 0)
        MGSD_TRY(mgsd_noise_injector_init(&inj, model_scorer_fn, &sc, inject, mgsd_dataset_num_items(ds), d->s.max_len,
                                          d->s.eval.batch_size, 1));
    mgsd_eval_result r;
    mgsd_status st = mgsd_eval_run(ds, MGSD_SPLIT_TEST, inj ? mgsd_noise_injector_score : model_scorer_fn,
                                   inj ? (void *)inj : (void *)&sc, &d->s.eval, &r);
    mgsd_noise_injector_free(inj);
    if (st == MGSD_OK) st = mgsd_eval_get(&r, "hit@10", &d->hit[slot]);
    if (st == MGSD_OK) st = mgsd_eval_get(&r, "ndcg@10", &d->ndcg[slot]);
    return st;
}

static mgsd_status demo_train(demo_model *d, const mgsd_dataset *ds) {
    model_info info = {mgsd_dataset_num_items(ds), mgsd_dataset_num_users(ds), d->s.max_len};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, d->s.seed);
    trainer_options o = {d->name, "<synthetic>", NULL, NULL};
    MGSD_TRY(trainer_apply_cpu_settings(&d->s));
    MGSD_TRY(model_create(&d->m, d->name, d->cfg, &info, &rng));
    MGSD_TRY(trainer_init(&d->t, d->cfg, ds, d->m, &o));
    trainer_callbacks cb = {(void *)d->name, NULL, demo_epoch, NULL, NULL};
    MGSD_TRY(trainer_fit(d->t, &cb));
    trainer_use_best(d->t);
    d->best_epoch = trainer_best_epoch(d->t);
    mgsd_tape tape;
    MGSD_TRY(ag_tape_init(&tape, 0, d->s.seed));
    mgsd_status st = demo_test(d, ds, &tape, 0, 0);
    if (st == MGSD_OK) st = demo_test(d, ds, &tape, DEMO_INJECT, 1);
    ag_tape_free(&tape);
    return st;
}

/* MGSD's discriminator against the planted labels: every interaction, and one user's
 * newest L items in detail (the first user with at least two planted items there). */
static mgsd_status demo_detection(demo_model *d, const mgsd_dataset *ds, const mgsd_synth *syn) {
    int64_t n = mgsd_dataset_num_interactions(ds);
    uint8_t *lab = mgsd_malloc((size_t)n + 1);
    float *clean = mgsd_malloc(sizeof(float) * ((size_t)n + 1));
    int32_t N = mgsd_dataset_num_items(ds), U = mgsd_dataset_num_users(ds), L = d->s.max_len, topk = 5;
    int K = mgsd_interest_count(d->m);
    float *buf = mgsd_malloc(sizeof(float) * ((size_t)N + 3 * (size_t)L + 3 * (size_t)K + (size_t)topk));
    int32_t *top = mgsd_malloc(sizeof(int32_t) * (size_t)topk);
    mgsd_tape tape;
    mgsd_batch b;
    int have_tape = 0, have_batch = 0;
    mgsd_status st = lab && clean && buf && top ? MGSD_OK : MGSD_ERR_NOMEM;
    if (st == MGSD_OK && (st = ag_tape_init(&tape, 0, d->s.seed)) == MGSD_OK) have_tape = 1;
    if (st == MGSD_OK) st = mgsd_dataset_map_row_labels(ds, syn->is_noise, syn->n, lab);
    if (st == MGSD_OK) st = mgsd_clean_scores(d->m, &tape, ds, clean);
    mgsd_noise_report nr;
    if (st == MGSD_OK) st = mgsd_eval_noise(clean, lab, n, 0.0, &nr);
    if (st == MGSD_OK)
        printf("\nMGSD's noise discriminator on the planted noise (%lld interactions, %lld planted):\n"
               "  flagged %lld (clean probability <= 0.5, dropped at inference): precision %.3f, recall %.3f; AUC %.3f\n",
               (long long)nr.n, (long long)nr.n_noise, (long long)nr.n_flagged, nr.precision, nr.recall, nr.auc);
    /* one user in detail */
    const int64_t *offs = mgsd_dataset_user_offsets(ds);
    int32_t user = 0, shown = 0;
    const int32_t *h = NULL;
    for (int32_t u = 1; st == MGSD_OK && u <= U && !user; u++) {
        int64_t len = offs[u + 1] - offs[u], from = len > L ? len - L : 0;
        int planted = 0;
        for (int64_t i = from; i < len; i++) planted += lab[offs[u] + i];
        if (planted >= 2) {
            user = u;
            shown = (int32_t)(len - from);
            h = mgsd_dataset_item_array(ds) + offs[u] + from;
        }
    }
    if (st == MGSD_OK && user) {
        float *scores = buf, *p = buf + N, *keep = p + L, *margin = keep + L, *w = margin + L, *ro = w + K,
              *sel = ro + K, *top_s = sel + K;
        const uint8_t *planted = lab + (offs[user + 1] - shown);
        int nout = 0;
        if ((st = mgsd_batch_init(&b, 1, L)) == MGSD_OK) have_batch = 1;
        if (st == MGSD_OK) st = mgsd_batch_append(&b, user, 0, h, shown);
        mgsd_explanation ex = {K, p, keep, w, ro, sel, margin};
        if (st == MGSD_OK) st = mgsd_explain(d->m, &tape, &b, &ex);
        model_scorer sc = {d->m, &tape};
        if (st == MGSD_OK) st = model_scorer_fn(&sc, &b, scores);
        if (st == MGSD_OK) st = mgsd_eval_topk(scores, N, topk, h, shown, top, top_s, &nout);
        if (st == MGSD_OK) {
            int tp = 0, np = 0, dropped = 0;
            printf("\nuser %s, newest %d items (oldest first) as MGSD reads them for a recommendation:\n",
                   mgsd_dataset_user_name(ds, user), shown);
            printf("  %4s  %-6s %8s  %-5s  %s\n", "pos", "item", "p(clean)", "kept", "planted noise");
            for (int i = 0; i < shown; i++) {
                int kept = keep[i] > 0.5f;
                printf("  %4d  %-6s %8.3f  %-5s  %s\n", i + 1, mgsd_dataset_item_name(ds, h[i]), p[i], kept ? "yes" : "no",
                       planted[i] ? "yes" : "");
                np += planted[i];
                tp += planted[i] && !kept;
                dropped += !kept;
            }
            printf("  dropped %d of %d items; %d of the %d planted ones\n", dropped, shown, tp, np);
            printf("  top %d next items:", nout);
            for (int i = 0; i < nout; i++) printf(" %s", mgsd_dataset_item_name(ds, top[i]));
            printf("\n");
        }
    }
    if (have_batch) mgsd_batch_free(&b);
    if (have_tape) ag_tape_free(&tape);
    mgsd_free(lab);
    mgsd_free(clean);
    mgsd_free(buf);
    mgsd_free(top);
    return st;
}

/* The default synthetic data -> SASRec and MGSD with its default BERT4Rec sub-model (hidden
 * 32, L 20, `epochs` each: 20 unless --epochs says otherwise). MGSD runs with the
 * contrastive terms off and normal init (on this data the reference losses collapse the
 * discriminator: docs/mgsd.md, "Training dynamics"), its sub-model reading the raw
 * embeddings of the items the discriminator keeps (sub_model_input=denoised: it ranks above
 * SASRec then and loses less to injected noise; docs/mgsd.md, "The sub-model on the kept
 * items"). */
static int demo_main(int epochs) {
    char ep[32];
    snprintf(ep, sizeof ep, "--epochs=%d", epochs);
    char *sas_args[] = {ep, "--MAX_ITEM_LIST_LENGTH=20", "--hidden_size=32", "--inner_size=32",
                        "--train_batch_size=256", "--eval_batch_size=1000"};
    char *mgsd_args[] = {ep, "--MAX_ITEM_LIST_LENGTH=20", "--embedding_size=32", "--inner_size=32",
                         "--transformer_encoder_dim_feedforward=64", "--reweight_loss_zeta=0", "--reweight_loss_eta=0",
                         "--sub_model_input=denoised", "--weight_init=normal", "--train_batch_size=256", "--eval_batch_size=1000"};
    mgsd_synth_options so;
    mgsd_synth_options_default(&so);
    mgsd_synth syn;
    mgsd_dataset *ds = NULL;
    demo_model dm[2];
    memset(dm, 0, sizeof dm);
    double t0 = mgsd_now();
    mgsd_status st = mgsd_synth_generate(&syn, &so);
    if (st != MGSD_OK) return demo_fail();
    mgsd_data_options dopt;
    st = demo_config(&dm[0], "SASRec", sas_args, (int)(sizeof sas_args / sizeof *sas_args));
    if (st == MGSD_OK) st = demo_config(&dm[1], "MGSD", mgsd_args, (int)(sizeof mgsd_args / sizeof *mgsd_args));
    if (st == MGSD_OK) st = trainer_data_options(dm[0].cfg, &dopt);
    if (st == MGSD_OK) st = mgsd_synth_to_dataset(&syn, &dopt, &ds);
    int64_t planted = 0;
    for (int64_t i = 0; i < syn.n; i++) planted += syn.is_noise[i];
    if (st == MGSD_OK) {
        printf("mgsd demo: the default synthetic data: %d users, %d items, %lld interactions, %.0f%% of them planted noise;\n"
               "SASRec and MGSD-WSS (BERT4Rec sub-model; contrastive terms off, see docs/mgsd.md), hidden 32, L 20,\n"
               "%d epochs each, %d threads\n",
               (int)mgsd_dataset_num_users(ds), (int)mgsd_dataset_num_items(ds) - 1,
               (long long)mgsd_dataset_num_interactions(ds), 100.0 * (double)planted / (double)(syn.n ? syn.n : 1), epochs,
               mgsd_get_num_threads());
        fflush(stdout);
    }
    for (int k = 0; k < 2 && st == MGSD_OK; k++) st = demo_train(&dm[k], ds);
    if (st == MGSD_OK) {
        printf("\ntest split, best-validation model; then with %.0f%% random items injected into every history\n",
               100 * DEMO_INJECT);
        printf("  %-6s %4s  %8s %8s  %8s %8s  %s\n", "model", "best", "hit@10", "ndcg@10", "hit@10", "ndcg@10", "hit@10 lost");
        for (int k = 0; k < 2; k++)
            printf("  %-6s %4lld  %8.4f %8.4f  %8.4f %8.4f  %.4f\n", dm[k].name, (long long)dm[k].best_epoch, dm[k].hit[0],
                   dm[k].ndcg[0], dm[k].hit[1], dm[k].ndcg[1], dm[k].hit[0] - dm[k].hit[1]);
        st = demo_detection(&dm[1], ds, &syn);
    }
    if (st == MGSD_OK)
        printf("\n%.0f s in all. On files: `mgsd synth --out=x.inter`, `mgsd train --model=MGSD --dataset=x.inter\n"
               "--checkpoint-dir=saved`, `mgsd eval --checkpoint=saved/MGSD-best.ckpt --inject-noise=0.2`,\n"
               "`mgsd explain --checkpoint=saved/MGSD-best.ckpt --user=1` (README.md).\n",
               mgsd_now() - t0);
    int rc = st == MGSD_OK ? 0 : demo_fail();
    for (int k = 0; k < 2; k++) demo_model_free(&dm[k]);
    mgsd_dataset_free(ds);
    mgsd_synth_free(&syn);
    return rc;
}

int cli_cmd_demo(int argc, char **argv) {
    int toy = 0, epochs = 20;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--epochs=", 9)) {
            char *end;
            long v = strtol(argv[i] + 9, &end, 10);
            if (end == argv[i] + 9 || *end || v < 1 || v > 1000) {
                fprintf(stderr, "mgsd: error: demo: --epochs expects an integer in 1..1000, got '%s'\n", argv[i] + 9);
                return 2;
            }
            epochs = (int)v;
            continue;
        }
        if (!strcmp(argv[i], "--help")) {
            printf("usage: mgsd demo [--epochs=20] [--toy]\n\nGenerates the default synthetic dataset in memory (20%% planted noise), trains a\n"
                   "small SASRec and a small MGSD-WSS on it (--epochs each, default 20), scores both on the test split\n"
                   "clean and with 20%% injected noise, scores MGSD's noise discriminator against the planted\n"
                   "labels and shows one user's history with MGSD's keep decisions (1-2 minutes on 2\n"
                   "cores). --toy: the engine demo (a 2-layer causal transformer on a toy next-item task,\n"
                   "loss curve).\n");
            return 0;
        }
        if (!strcmp(argv[i], "--toy")) {
            toy = 1;
            continue;
        }
        fprintf(stderr, "mgsd: error: demo: unknown option '%s'\n", argv[i]);
        return 2;
    }
    if (!toy) return demo_main(epochs);
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
