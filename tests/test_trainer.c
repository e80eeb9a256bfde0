/* Trainer and model checkpoints on a tiny synthetic dataset with a test-local model
 * (mean-pooled item embeddings -> linear -> softmax over the tied item table):
 * config precedence through trainer_config_create, checkpoint round trip (identical
 * scores after reload), resume equivalence (straight vs end-of-epoch resume vs
 * mid-epoch interrupt + resume: bit-identical parameters and Adam moments), and clear
 * errors for truncated checkpoints and mismatched layouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autograd/ag.h"
#include "mgsd/data.h"
#include "mgsd/eval.h"
#include "model/model.h"
#include "test_util.h"
#include "train/checkpoint.h"
#include "train/model_io.h"
#include "train/trainer.h"

/* ---- the test model ---- */
typedef struct tm_impl { int C; float drop; } tm_impl;

static const mgsd_config_entry tm_defaults[] = {
    {"hidden_size", MGSD_CONFIG_INT, "16", "embedding size"},
    {"dropout_prob", MGSD_CONFIG_FLOAT, "0.2", "dropout on the pooled history"},
    {"learning_rate", MGSD_CONFIG_FLOAT, "0.01", ""}, /* overrides the overall default */
};

static mgsd_status tm_create(mgsd_model *m, const mgsd_config *cfg, const model_info *info, mgsd_rng *rng) {
    tm_impl *im = calloc(1, sizeof *im);
    double d;
    MGSD_TRY(mgsd_config_get_int(cfg, "hidden_size", &im->C));
    MGSD_TRY(mgsd_config_get_float(cfg, "dropout_prob", &d));
    im->drop = (float)d;
    params_spec spec[] = {
        {"item_embedding.weight", 2, {info->n_items, im->C}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
        {"proj.weight", 2, {im->C, im->C}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
        {"proj.bias", 1, {im->C}, PARAMS_INIT_ZEROS, 0, 0, 0},
    };
    m->impl = im;
    return params_init(&m->params, spec, 3, rng);
}

static mgsd_tensor *tm_user(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    tm_impl *im = m->impl;
    mgsd_tensor *E = &m->params.tensors[0];
    ag_seqs s = {b->B, b->offs, b->L};
    mgsd_tensor *x = ag_embedding(t, E, b->items, b->offs[b->B]);
    mgsd_tensor *h = ag_dropout(t, ag_masked_mean(t, x, &s), im->drop);
    return ag_linear(t, h, &m->params.tensors[1], &m->params.tensors[2]);
}

static mgsd_tensor *tm_loss(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    return ag_softmax_xent(t, tm_user(m, t, b), &m->params.tensors[0], b->targets, 0);
}

static mgsd_status tm_scores(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *scores) {
    mgsd_tensor *y = ag_matmul(t, tm_user(m, t, b), &m->params.tensors[0], 0, 1);
    MGSD_TRY(ag_status(t));
    memcpy(scores, y->data, sizeof(float) * (size_t)y->n);
    return MGSD_OK;
}

static void tm_destroy(mgsd_model *m) { free(m->impl); }

/* One reported part: the loss itself, as the last loss() computed it. */
static double tm_last_loss;
static mgsd_tensor *tm_loss_logged(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    mgsd_tensor *l = tm_loss(m, t, b);
    if (l) tm_last_loss = l->data[0];
    return l;
}
static int tm_loss_parts(const mgsd_model *m, const char **names, double *values) {
    names[0] = "xent";
    values[0] = tm_last_loss;
    return 1;
}
/* train_stats: the loss again; the loss where the batch's first target is odd, NaN (not
 * measured) elsewhere, with its sum and count over the steps since tm_odd_reset(); NaN always. */
static double tm_odd_sum;
static int64_t tm_odd_n;
static int tm_last_odd;
static void tm_odd_reset(void) { tm_odd_sum = 0, tm_odd_n = 0; }
static int tm_train_stats(const mgsd_model *m, const char **names, double *values) {
    names[0] = "xent2";
    names[1] = "odd";
    names[2] = "never";
    values[0] = tm_last_loss;
    values[1] = tm_last_odd ? tm_last_loss : NAN;
    values[2] = NAN;
    return 3;
}
static mgsd_tensor *tm_loss_stats(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    mgsd_tensor *l = tm_loss_logged(m, t, b);
    tm_last_odd = b->targets[0] & 1;
    if (l && tm_last_odd) {
        tm_odd_sum += tm_last_loss;
        tm_odd_n++;
    }
    return l;
}

static const model_vtable tm_vt = {"TestPool", "test model", tm_defaults, 3,         tm_create, tm_loss_stats,
                                   tm_scores,  NULL,         tm_destroy,  tm_loss_parts, tm_train_stats};

static mgsd_model *tm_new(const mgsd_config *cfg, const mgsd_dataset *ds) {
    mgsd_model *m = calloc(1, sizeof *m);
    m->vt = &tm_vt;
    m->info.n_items = mgsd_dataset_num_items(ds);
    m->info.n_users = mgsd_dataset_num_users(ds);
    m->info.max_len = 10;
    int seed;
    mgsd_config_get_int(cfg, "seed", &seed);
    mgsd_rng r;
    mgsd_rng_seed(&r, (uint64_t)seed);
    if (tm_create(m, cfg, &m->info, &r) != MGSD_OK) {
        fprintf(stderr, "tm_create: %s\n", mgsd_last_error());
        exit(1);
    }
    return m;
}
static void tm_free(mgsd_model *m) {
    tm_destroy(m);
    params_free(&m->params);
    free(m);
}

/* ---- helpers ---- */
static char dir[64];
static const char *base_args[] = {"--epochs=2", "--train_batch_size=32", "--MAX_ITEM_LIST_LENGTH=10",
                                  "--eval_batch_size=64", "--threads=1", "--seed=7"};

/* base_args, then the space-separated options of extra (may be NULL). */
static mgsd_config *make_cfg(const char *extra) {
    char *argv[12];
    char buf[256];
    int n = 0;
    for (size_t i = 0; i < sizeof base_args / sizeof *base_args; i++) argv[n++] = (char *)base_args[i];
    if (extra) {
        snprintf(buf, sizeof buf, "%s", extra);
        for (char *tok = strtok(buf, " "); tok && n < 12; tok = strtok(NULL, " ")) argv[n++] = tok;
    }
    mgsd_config *c = NULL;
    if (trainer_config_create(&c, &tm_vt, n, argv) != MGSD_OK) {
        fprintf(stderr, "config: %s\n", mgsd_last_error());
        exit(1);
    }
    return c;
}

typedef struct { int64_t stop_at, steps; } stopper;
static int stop_cb(void *u) {
    stopper *s = u;
    return s->stop_at >= 0 && s->steps >= s->stop_at;
}
static void step_cb(void *u, const trainer_step_info *si) { ((stopper *)u)->steps++; }
/* Loss and loss parts of the last epoch that run() finished. */
static trainer_epoch_info last_epoch;
static void epoch_cb(void *u, const trainer_epoch_info *e) { last_epoch = *e; }

/* Learning rate of every step of a 3-epoch run under each schedule. */
typedef struct { int64_t n; double lr[512]; int64_t epoch[512], gstep[512]; } lr_log;
static void lr_cb(void *u, const trainer_step_info *si) {
    lr_log *l = u;
    if (l->n < 512) {
        l->lr[l->n] = si->lr;
        l->epoch[l->n] = si->epoch;
        l->gstep[l->n] = si->global_step;
        l->n++;
    }
}

static void test_lr_schedules(const mgsd_dataset *ds) {
    const char *names[] = {"--lr_schedule=constant", "--lr_schedule=linear", "--lr_schedule=epoch_linear"};
    for (int k = 0; k < 3; k++) {
        char *argv[] = {"--epochs=3", "--train_batch_size=32", "--MAX_ITEM_LIST_LENGTH=10", "--threads=1",
                        "--learning_rate=0.01", (char *)names[k]};
        mgsd_config *c = NULL;
        CHECK_OK(trainer_config_create(&c, &tm_vt, 6, argv));
        mgsd_model *m = tm_new(c, ds);
        trainer_options o = {"TestPool", "synthetic", NULL, NULL};
        mgsd_trainer *t = NULL;
        CHECK_OK(trainer_init(&t, c, ds, m, &o));
        lr_log lg = {0};
        trainer_callbacks cb = {&lg, lr_cb, NULL, NULL, NULL};
        CHECK_OK(trainer_fit(t, &cb));
        /* steps per epoch, and the reference's T = int(train instances / batch size) */
        mgsd_batcher *bt = NULL;
        CHECK_OK(mgsd_batcher_init(&bt, ds, MGSD_SPLIT_TRAIN, 32, 10));
        int64_t spe = mgsd_batcher_num_batches(bt), T = mgsd_batcher_num_instances(bt) / 32;
        mgsd_batcher_free(bt);
        CHECK_INT_EQ(lg.n, 3 * spe);
        CHECK(T >= 3 && T < spe + 1);
        int bad = 0;
        for (int64_t i = 0; i < lg.n; i++) {
            double want = 0.01;
            /* the callback reports global_step after the step (1-based) */
            if (k == 1) want = 0.01 * (double)(3 * spe - (lg.gstep[i] - 1)) / (double)(3 * spe);
            if (k == 2) want = 0.01 * (double)(T - lg.epoch[i]) / (double)T;
            bad += fabs(lg.lr[i] - want) > 1e-12;
        }
        CHECK_INT_EQ(bad, 0);
        if (k == 2) CHECK(lg.lr[lg.n - 1] < lg.lr[0] && lg.lr[spe - 1] == lg.lr[0]);
        trainer_free(t);
        tm_free(m);
        mgsd_config_free(c);
    }
}

/* flush_denormals: the trainer sets the CPU mode from the key (default true) and back
 * (on CPUs that have the mode). */
static void __attribute__((unused)) test_flush_denormals(const mgsd_dataset *ds) {
    const char *vals[] = {NULL, "--flush_denormals=false", "--flush_denormals=true"};
    const int want[] = {1, 0, 1};
    for (int k = 0; k < 3; k++) {
        mgsd_config *c = make_cfg(vals[k]);
        mgsd_model *m = tm_new(c, ds);
        trainer_options o = {"TestPool", "synthetic", NULL, NULL};
        mgsd_trainer *t = NULL;
        CHECK_OK(trainer_init(&t, c, ds, m, &o));
        CHECK_INT_EQ(mgsd_get_flush_denormals(), want[k]);
        volatile float tiny = 1.1754944e-38f, half = tiny * 0.5f;
        CHECK_INT_EQ(half == 0.0f, want[k]);
        trainer_free(t);
        tm_free(m);
        mgsd_config_free(c);
    }
    CHECK_OK(mgsd_set_flush_denormals(0));
}

static int64_t last_run_steps; /* steps that run() trained */

/* Train (optionally resuming from `resume`), writing best/last into dir/<tag>-*.ckpt. */
static mgsd_status run(const mgsd_dataset *ds, const char *epochs, const char *tag, const char *resume,
                       int64_t stop_at) {
    mgsd_config *c = make_cfg(epochs);
    mgsd_model *m = tm_new(c, ds);
    char best[128], last[128];
    snprintf(best, sizeof best, "%s/%s-best.ckpt", dir, tag);
    snprintf(last, sizeof last, "%s/%s-last.ckpt", dir, tag);
    trainer_options o = {"TestPool", "synthetic", best, last};
    mgsd_trainer *t = NULL;
    mgsd_status st = trainer_init(&t, c, ds, m, &o);
    CHECK_OK(st);
    if (st == MGSD_OK && resume) {
        model_io_ckpt ck;
        CHECK_OK(st = model_io_open(&ck, resume));
        if (st == MGSD_OK) {
            CHECK_OK(st = trainer_resume(t, &ck));
            model_io_close(&ck);
        }
    }
    stopper sp = {stop_at, 0};
    trainer_callbacks cb = {&sp, step_cb, epoch_cb, NULL, stop_cb};
    memset(&last_epoch, 0, sizeof last_epoch);
    if (st == MGSD_OK) st = trainer_fit(t, &cb);
    last_run_steps = sp.steps;
    trainer_free(t);
    tm_free(m);
    mgsd_config_free(c);
    return st;
}

/* 1 when the sections of two checkpoints are byte-identical. */
static int same_section(const char *a, const char *b, const char *name) {
    ckpt_reader ra, rb;
    if (ckpt_reader_open(&ra, a) != MGSD_OK) return 0;
    if (ckpt_reader_open(&rb, b) != MGSD_OK) { ckpt_reader_close(&ra); return 0; }
    const void *da, *db;
    uint64_t na, nb;
    int ok = ckpt_reader_find(&ra, name, &da, &na) == MGSD_OK && ckpt_reader_find(&rb, name, &db, &nb) == MGSD_OK &&
             na == nb && memcmp(da, db, na) == 0;
    ckpt_reader_close(&ra);
    ckpt_reader_close(&rb);
    return ok;
}

static void test_precedence(void) {
    /* overall < model < file < command line */
    char yaml[128];
    snprintf(yaml, sizeof yaml, "%s/a.yaml", dir);
    FILE *f = fopen(yaml, "w");
    fputs("learning_rate: 0.02\ntrain_batch_size: 16\nstopping_step: 3\n", f);
    fclose(f);
    char cfgarg[160];
    snprintf(cfgarg, sizeof cfgarg, "--config=%s", yaml);
    char *argv[] = {cfgarg, "--train_batch_size=64"};
    mgsd_config *c = NULL;
    trainer_settings s;
    CHECK_OK(trainer_config_create(&c, &tm_vt, 0, NULL));
    CHECK_OK(trainer_settings_read(c, &s));
    CHECK_NEAR(s.adam.lr, 0.01, 0); /* model table beats overall 0.001 */
    CHECK_INT_EQ(s.batch_size, 256);
    CHECK_STR_EQ(s.valid_metric, "hit@20");
    mgsd_config_free(c);
    CHECK_OK(trainer_config_create(&c, &tm_vt, 2, argv));
    CHECK_OK(trainer_settings_read(c, &s));
    CHECK_NEAR(s.adam.lr, 0.02, 0); /* file beats model */
    CHECK_INT_EQ(s.batch_size, 64); /* command line beats file */
    CHECK_INT_EQ(s.stopping_step, 3);
    CHECK_INT_EQ(s.epochs, 300);
    mgsd_config_free(c);
    char *bad[] = {"--learning_rate=fast"};
    CHECK_STATUS(trainer_config_create(&c, &tm_vt, 1, bad), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "learning_rate");
    char *vm[] = {"--valid_metric=NDCG@50"};
    CHECK_OK(trainer_config_create(&c, &tm_vt, 1, vm));
    CHECK_OK(trainer_settings_read(c, &s)); /* eval, recommend, explain: any topk */
    CHECK_INT_EQ(s.valid_k, 50);
    CHECK_STATUS(trainer_check_valid_metric(&s), MGSD_ERR_CONFIG); /* training: 50 not in topk */
    CHECK_CONTAINS(mgsd_last_error(), "needs 50 among the cut-offs of 'topk'");
    mgsd_config_free(c);
    char *vm50[] = {"--valid_metric=NDCG@50", "--topk=[10,50]"};
    CHECK_OK(trainer_config_create(&c, &tm_vt, 2, vm50));
    CHECK_OK(trainer_settings_read(c, &s));
    CHECK_OK(trainer_check_valid_metric(&s));
    mgsd_config_free(c);
    const char *badvm[] = {"--valid_metric=NDCG", "--valid_metric=auc@10", "--valid_metric=hit@", "--valid_metric=hit@0",
                           "--valid_metric=hit@10x", "--valid_metric=hit@-5", "--valid_metric=hit@ 5", "--valid_metric=hit@+5",
                           "--valid_metric=hit@99999999999"};
    for (size_t i = 0; i < sizeof badvm / sizeof *badvm; i++) {
        char *a[] = {(char *)badvm[i]};
        CHECK_OK(trainer_config_create(&c, &tm_vt, 1, a));
        CHECK_STATUS(trainer_settings_read(c, &s), MGSD_ERR_CONFIG);
        CHECK_CONTAINS(mgsd_last_error(), "is not one of hit|ndcg|mrr|recall|precision@K");
        mgsd_config_free(c);
    }
    char *vm2[] = {"--valid_metric=NDCG@10", "--warm_up_ratio=0.1"};
    CHECK_OK(trainer_config_create(&c, &tm_vt, 2, vm2));
    size_t nw;
    mgsd_config_warnings(c, &nw);
    CHECK_INT_EQ(nw, 0);
    CHECK_STATUS(trainer_settings_read(c, &s), MGSD_ERR_CONFIG); /* a warm-up needs a linear schedule */
    CHECK_CONTAINS(mgsd_last_error(), "warm_up_ratio");
    CHECK_CONTAINS(mgsd_last_error(), "lr_schedule");
    mgsd_config_free(c);
    char *vm3[] = {"--valid_metric=NDCG@10", "--warm_up_ratio=0.1", "--lr_schedule=linear"};
    CHECK_OK(trainer_config_create(&c, &tm_vt, 3, vm3));
    CHECK_OK(trainer_settings_read(c, &s));
    CHECK_STR_EQ(s.valid_metric, "ndcg@10");
    CHECK_INT_EQ(s.lr_schedule, TRAINER_LR_LINEAR);
    mgsd_config_free(c);
    char *vm4[] = {"--lr_schedule=cosine"};
    CHECK_OK(trainer_config_create(&c, &tm_vt, 1, vm4));
    CHECK_STATUS(trainer_settings_read(c, &s), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "lr_schedule");
    mgsd_config_free(c);
}

static void test_resume(const mgsd_dataset *ds) {
    char a[128], b[128], d[128];
    tm_odd_reset();
    CHECK_OK(run(ds, "--epochs=1", "first", NULL, -1));
    /* the epoch's mean loss part: the mean of the per-step values, like the loss */
    CHECK_INT_EQ(last_epoch.n_parts, 1);
    CHECK_STR_EQ(last_epoch.part_names[0], "xent");
    CHECK(last_epoch.loss > 0 && last_epoch.part_means[0] == last_epoch.loss);
    const double loss0 = last_epoch.loss;
    /* train stats: means over the steps that measured them */
    CHECK_INT_EQ(last_epoch.n_stats, 3);
    CHECK_STR_EQ(last_epoch.stat_names[1], "odd");
    CHECK(last_epoch.stat_means[0] == loss0);
    CHECK(tm_odd_n > 0 && tm_odd_n < 100);
    const double odd0 = last_epoch.stat_means[1];
    CHECK(odd0 == tm_odd_sum / (double)tm_odd_n && odd0 != loss0);
    CHECK(isnan(last_epoch.stat_means[2]));
    CHECK_OK(run(ds, "--epochs=2", "straight", NULL, -1));
    const double loss1 = last_epoch.part_means[0];
    CHECK(loss1 == last_epoch.loss && loss1 != loss0);
    snprintf(b, sizeof b, "%s/first-last.ckpt", dir);
    CHECK_OK(run(ds, "--epochs=2", "resumed", b, -1));
    /* interrupted in the middle of epoch 0, then resumed */
    CHECK_STATUS(run(ds, "--epochs=2", "intr", NULL, 3), MGSD_ERR_INTERRUPTED);
    snprintf(d, sizeof d, "%s/intr-last.ckpt", dir);
    CHECK(same_section(d, d, "loss_parts")); /* the partial epoch's part sums are saved */
    CHECK(same_section(d, d, "train_stats"));
    CHECK_OK(run(ds, "--epochs=1", "intr1", d, -1));
    CHECK(last_epoch.part_means[0] == loss0); /* resumed mid-epoch: the whole epoch's mean */
    CHECK(last_epoch.stat_means[0] == loss0 && last_epoch.stat_means[1] == odd0);
    CHECK_OK(run(ds, "--epochs=2", "intr2", d, -1));
    CHECK(last_epoch.part_means[0] == loss1);
    snprintf(a, sizeof a, "%s/straight-last.ckpt", dir);
    snprintf(b, sizeof b, "%s/resumed-last.ckpt", dir);
    snprintf(d, sizeof d, "%s/intr2-last.ckpt", dir);
    CHECK(same_section(a, b, "params"));
    CHECK(same_section(a, b, "adam_m"));
    CHECK(same_section(a, b, "adam_v"));
    CHECK(same_section(a, b, "best_params"));
    CHECK(same_section(a, d, "params"));
    CHECK(same_section(a, d, "adam_v"));
    CHECK(same_section(a, d, "best_params"));
    /* a different run really differs (the comparison can fail) */
    snprintf(b, sizeof b, "%s/first-last.ckpt", dir);
    CHECK(!same_section(a, b, "params"));
}

/* The best validation result after resuming `path` (hit@10 and ndcg@10 into v[2]). */
static void resumed_best(const mgsd_dataset *ds, const char *path, double v[2]) {
    v[0] = v[1] = -1;
    mgsd_config *c = make_cfg("--epochs=1");
    mgsd_model *m = tm_new(c, ds);
    trainer_options o = {"TestPool", "synthetic", NULL, NULL};
    mgsd_trainer *t = NULL;
    model_io_ckpt ck;
    CHECK_OK(trainer_init(&t, c, ds, m, &o));
    CHECK_OK(model_io_open(&ck, path));
    CHECK_OK(trainer_resume(t, &ck));
    model_io_close(&ck);
    const mgsd_eval_result *b = trainer_best_valid(t);
    CHECK(b != NULL);
    if (b) {
        CHECK_OK(mgsd_eval_get(b, "hit@10", &v[0]));
        CHECK_OK(mgsd_eval_get(b, "ndcg@10", &v[1]));
    }
    trainer_free(t);
    tm_free(m);
    mgsd_config_free(c);
}

/* A checkpoint whose best validation result has another build's layout (the state section
 * longer than this build's) resumes with that result rebuilt from its history. */
static void test_resume_other_layout(const mgsd_dataset *ds) {
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/first-last.ckpt", dir);
    snprintf(b, sizeof b, "%s/otherlayout-last.ckpt", dir);
    ckpt_reader r;
    CHECK_OK(ckpt_reader_open(&r, a));
    ckpt_writer w;
    CHECK_OK(ckpt_writer_begin(&w, b));
    for (uint32_t i = 0; i < r.n_sections; i++) {
        const ckpt_section *sec = &r.sections[i];
        if (strcmp(sec->name, "state") != 0) {
            CHECK_OK(ckpt_writer_add(&w, sec->name, sec->data, sec->len));
            continue;
        }
        CHECK(sec->len > sizeof(mgsd_eval_result));
        const size_t counters = (size_t)sec->len - sizeof(mgsd_eval_result), n = counters + 1000;
        unsigned char *st = malloc(n);
        memcpy(st, sec->data, counters);
        memset(st + counters, 0xab, n - counters); /* a result this build cannot read */
        CHECK_OK(ckpt_writer_add(&w, "state", st, n));
        free(st);
    }
    CHECK_OK(ckpt_writer_commit(&w));
    ckpt_reader_close(&r);
    double want[2], got[2];
    resumed_best(ds, a, want);
    resumed_best(ds, b, got);
    CHECK(want[0] >= 0 && want[1] > 0);
    /* the history's JSON keeps 15 significant digits where they read back within an ulp (cJSON) */
    CHECK_NEAR(got[0], want[0], 1e-15);
    CHECK_NEAR(got[1], want[1], 1e-15);
}

/* checkpoint_steps: the last checkpoint is also written inside the epoch. A copy taken
 * right after the save of global step 3 stands for a run killed without warning (SIGKILL,
 * a lost machine) after step 3: resumed, it runs only the remaining steps and ends
 * bit-identical to a run straight through. */
typedef struct { int64_t steps, copy_at; char from[128], to[128]; int copied; } copier;
static void copy_cb(void *u, const trainer_step_info *si) {
    copier *c = u;
    c->steps++;
    if (si->global_step != c->copy_at) return;
    FILE *in = fopen(c->from, "rb"), *out = fopen(c->to, "wb");
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    c->copied = in && out;
    if (in) fclose(in);
    if (out) fclose(out);
}
static void test_checkpoint_steps(const mgsd_dataset *ds) {
    mgsd_config *c = make_cfg("--checkpoint_steps=-1");
    trainer_settings s;
    CHECK_STATUS(trainer_settings_read(c, &s), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "checkpoint_steps");
    mgsd_config_free(c);
    c = make_cfg("--epochs=2 --checkpoint_steps=3");
    mgsd_model *m = tm_new(c, ds);
    copier cp = {0, 3, "", "", 0};
    snprintf(cp.from, sizeof cp.from, "%s/every3-last.ckpt", dir);
    snprintf(cp.to, sizeof cp.to, "%s/killed-last.ckpt", dir);
    trainer_options o = {"TestPool", "synthetic", NULL, cp.from};
    mgsd_trainer *t = NULL;
    CHECK_OK(trainer_init(&t, c, ds, m, &o));
    trainer_callbacks cb = {&cp, copy_cb, NULL, NULL, NULL};
    CHECK_OK(trainer_fit(t, &cb));
    trainer_free(t);
    tm_free(m);
    mgsd_config_free(c);
    CHECK(cp.copied);
    CHECK(cp.steps > 6); /* step 3 lies inside the first epoch */
    CHECK_OK(run(ds, "--epochs=2", "plain", NULL, -1));
    char a[128];
    snprintf(a, sizeof a, "%s/plain-last.ckpt", dir);
    CHECK(same_section(a, cp.from, "params")); /* saving inside the epoch changes nothing */
    CHECK(same_section(a, cp.from, "adam_v"));
    CHECK(!same_section(a, cp.to, "params"));
    CHECK_OK(run(ds, "--epochs=2", "afterkill", cp.to, -1));
    CHECK_INT_EQ(last_run_steps, cp.steps - 3);
    char b[128];
    snprintf(b, sizeof b, "%s/afterkill-last.ckpt", dir);
    CHECK(same_section(a, b, "params"));
    CHECK(same_section(a, b, "adam_m"));
    CHECK(same_section(a, b, "adam_v"));
    CHECK(same_section(a, b, "best_params"));
}

/* Gradient-norm statistics of the epoch line: measured only with clipping on; a clip
 * below every norm scales every step; a run interrupted inside the epoch and resumed
 * reports the same statistics as one run straight through. */
static void test_grad_stats(const mgsd_dataset *ds) {
    CHECK_OK(run(ds, "--epochs=1", "g0", NULL, -1));
    CHECK_INT_EQ(last_epoch.grad_steps, 0);
    CHECK_OK(run(ds, "--epochs=1 --clip_grad_norm=1e9", "gbig", NULL, -1));
    const trainer_epoch_info big = last_epoch;
    CHECK(big.grad_steps > 3);
    CHECK(big.grad_norm_mean > 0 && big.grad_norm_max >= big.grad_norm_mean);
    CHECK(big.clipped_fraction == 0);
    /* a clip between the mean and the largest norm scales some steps, not all */
    char arg[96];
    snprintf(arg, sizeof arg, "--epochs=1 --clip_grad_norm=%.17g", 0.5 * (big.grad_norm_mean + big.grad_norm_max));
    CHECK_OK(run(ds, arg, "gmid", NULL, -1));
    CHECK(last_epoch.clipped_fraction > 0 && last_epoch.clipped_fraction < 1);
    CHECK_OK(run(ds, "--epochs=1 --clip_grad_norm=1e-6", "gtiny", NULL, -1));
    const trainer_epoch_info tiny = last_epoch;
    CHECK_INT_EQ(tiny.grad_steps, big.grad_steps);
    CHECK(tiny.clipped_fraction == 1);
    CHECK(tiny.grad_norm_mean > 1e-6);
    CHECK_STATUS(run(ds, "--epochs=1 --clip_grad_norm=1e-6", "gint", NULL, 3), MGSD_ERR_INTERRUPTED);
    char d[128];
    snprintf(d, sizeof d, "%s/gint-last.ckpt", dir);
    CHECK_OK(run(ds, "--epochs=1 --clip_grad_norm=1e-6", "gres", d, -1));
    CHECK_INT_EQ(last_epoch.grad_steps, tiny.grad_steps);
    CHECK(last_epoch.grad_norm_mean == tiny.grad_norm_mean);
    CHECK(last_epoch.grad_norm_max == tiny.grad_norm_max);
    CHECK(last_epoch.clipped_fraction == 1);
}

static void test_roundtrip(const mgsd_dataset *ds) {
    /* Train, take the best parameters, score the valid split; reload the best checkpoint
     * into a fresh model and score again: identical scores and metrics. */
    mgsd_config *c = make_cfg("--epochs=2");
    mgsd_model *m = tm_new(c, ds);
    char best[128];
    snprintf(best, sizeof best, "%s/rt-best.ckpt", dir);
    trainer_options o = {"TestPool", "synthetic", best, NULL};
    mgsd_trainer *t = NULL;
    CHECK_OK(trainer_init(&t, c, ds, m, &o));
    CHECK_OK(trainer_fit(t, NULL));
    CHECK(trainer_best_epoch(t) >= 0);
    trainer_use_best(t);
    mgsd_eval_result r1, r2;
    CHECK_OK(trainer_evaluate(t, MGSD_SPLIT_TEST, &r1));

    model_io_ckpt ck;
    CHECK_OK(model_io_open(&ck, best));
    CHECK_STR_EQ(ck.model_name, "TestPool");
    CHECK_STR_EQ(ck.data_path, "synthetic");
    CHECK_INT_EQ(ck.n_items, mgsd_dataset_num_items(ds));
    CHECK_INT_EQ(ck.n_users, mgsd_dataset_num_users(ds));
    CHECK_STR_EQ(ck.item_names[5], mgsd_dataset_item_name(ds, 5));
    CHECK_INT_EQ(model_io_find_user(&ck, mgsd_dataset_user_name(ds, 3)), 3);
    CHECK_INT_EQ(model_io_find_item(&ck, "no-such-item"), -1);
    CHECK_OK(model_io_check_dataset(&ck, ds));
    mgsd_config *c2 = NULL;
    CHECK_OK(trainer_config_create(&c2, &tm_vt, 0, NULL));
    CHECK_OK(mgsd_config_deserialize(c2, best, ck.config, ck.config_len));
    int bs;
    CHECK_OK(mgsd_config_get_int(c2, "train_batch_size", &bs));
    CHECK_INT_EQ(bs, 32);
    mgsd_model *m2 = tm_new(c2, ds);
    double diff = -1;
    params_max_abs_diff(&m->params, &m2->params, &diff);
    CHECK(diff > 0); /* a fresh model differs from the trained one: the reload below matters */
    CHECK_OK(model_io_load_values(&ck, "params", &m2->params));
    CHECK_OK(params_max_abs_diff(&m->params, &m2->params, &diff));
    CHECK(diff == 0);
    mgsd_tape tape;
    CHECK_OK(ag_tape_init(&tape, 1 << 20, 1));
    model_scorer sc = {m2, &tape};
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    eo.batch_size = 64;
    eo.L = 10;
    CHECK_OK(mgsd_eval_run(ds, MGSD_SPLIT_TEST, model_scorer_fn, &sc, &eo, &r2));
    for (int k = 0; k < r1.n_ks; k++) {
        CHECK(r1.all.hit[k] == r2.all.hit[k]);
        CHECK(r1.all.ndcg[k] == r2.all.ndcg[k]);
    }
    /* raw scores of one batch */
    mgsd_batch bt;
    mgsd_batch_init(&bt, 4, 10);
    const int32_t *items;
    int32_t len;
    mgsd_dataset_user_items(ds, 1, &items, &len);
    mgsd_batch_append(&bt, 1, 0, items, len);
    int N = mgsd_dataset_num_items(ds);
    float *s1 = malloc(sizeof(float) * N), *s2 = malloc(sizeof(float) * N);
    model_scorer sc1 = {m, &tape};
    CHECK_OK(model_scorer_fn(&sc1, &bt, s1));
    CHECK_OK(model_scorer_fn(&sc, &bt, s2));
    CHECK(memcmp(s1 + 1, s2 + 1, sizeof(float) * (N - 1)) == 0);
    free(s1);
    free(s2);
    mgsd_batch_free(&bt);

    /* A model configured differently cannot take these values. */
    mgsd_config *c3 = make_cfg("--hidden_size=8");
    mgsd_model *m3 = tm_new(c3, ds);
    CHECK_STATUS(model_io_load_values(&ck, "params", &m3->params), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "layout");
    tm_free(m3);
    mgsd_config_free(c3);
    model_io_close(&ck);

    /* Truncated copy: a clear error naming the file. */
    FILE *f = fopen(best, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    char trunc[128];
    snprintf(trunc, sizeof trunc, "%s/trunc.ckpt", dir);
    f = fopen(trunc, "wb");
    fwrite(buf, 1, (size_t)(n - 100), f);
    fclose(f);
    /* The same bytes from memory open as the file does; truncated ones fail the same way. */
    CHECK_OK(model_io_open_buffer(&ck, "mem.ckpt", buf, (uint64_t)n));
    CHECK_STR_EQ(ck.model_name, "TestPool");
    CHECK_INT_EQ(ck.n_items, mgsd_dataset_num_items(ds));
    CHECK_STR_EQ(ck.user_names[3], mgsd_dataset_user_name(ds, 3));
    model_io_close(&ck);
    CHECK_STATUS(model_io_open_buffer(&ck, "mem.ckpt", buf, (uint64_t)(n - 100)), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "mem.ckpt: truncated");
    free(buf);
    CHECK_STATUS(model_io_open(&ck, trunc), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "truncated");
    CHECK_CONTAINS(mgsd_last_error(), "trunc.ckpt");
    CHECK_STATUS(model_io_open(&ck, "/nonexistent/x.ckpt"), MGSD_ERR_IO);

    /* A dataset section counting more names than it has bytes is malformed (not a huge
     * allocation, not an overflow of the item count). */
    static const char *const bad_counts[] = {"2147483647 0\n", "0 2147483647\n", "3 1\na\nb\nc\n", "-1 0\n"};
    for (size_t k = 0; k < sizeof bad_counts / sizeof bad_counts[0]; k++) {
        char bad[128], text[256];
        snprintf(bad, sizeof bad, "%s/bad-dataset.ckpt", dir);
        int len = snprintf(text, sizeof text, "mgsd-dataset 1\nx.inter\n%s", bad_counts[k]);
        ckpt_writer w;
        CHECK_OK(ckpt_writer_begin(&w, bad));
        CHECK_OK(ckpt_writer_add(&w, "model", "TestPool", 8));
        CHECK_OK(ckpt_writer_add(&w, "config", "mgsd-config 1\n", 14));
        CHECK_OK(ckpt_writer_add(&w, "dataset", text, (uint64_t)len));
        CHECK_OK(ckpt_writer_add(&w, "params", "\0\0\0\0", 4));
        CHECK_OK(ckpt_writer_add(&w, "params_layout", "\0\0\0\0\0\0\0\0", 8));
        CHECK_OK(ckpt_writer_commit(&w));
        CHECK_STATUS(model_io_open(&ck, bad), MGSD_ERR_FORMAT);
        CHECK_CONTAINS(mgsd_last_error(), "bad-dataset.ckpt: section 'dataset' is malformed");
    }

    ag_tape_free(&tape);
    tm_free(m2);
    mgsd_config_free(c2);
    trainer_free(t);
    tm_free(m);
    mgsd_config_free(c);
}

/* No heap allocation inside training steps once the arena is warm (steps 3.. of epoch 0). */
typedef struct { int64_t n; uint64_t a0, a1; } alloc_probe;
static void probe_step(void *u, const trainer_step_info *si) {
    alloc_probe *p = u;
    p->n++;
    if (p->n == 3) p->a0 = mgsd_alloc_count();
    if (si->epoch == 0 && si->step + 1 == si->n_steps) p->a1 = mgsd_alloc_count();
}
static void test_no_alloc(const mgsd_dataset *ds) {
    mgsd_config *c = make_cfg("--epochs=1");
    mgsd_model *m = tm_new(c, ds);
    mgsd_trainer *t = NULL;
    CHECK_OK(trainer_init(&t, c, ds, m, NULL));
    alloc_probe p = {0, 0, 0};
    trainer_callbacks cb = {&p, probe_step, NULL, NULL, NULL};
    CHECK_OK(trainer_fit(t, &cb));
    CHECK(p.n > 5);
    CHECK_INT_EQ(p.a1 - p.a0, 0);
    trainer_free(t);
    tm_free(m);
    mgsd_config_free(c);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/mgsd_test_trainer_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    mgsd_synth_options so;
    mgsd_synth_options_default(&so);
    so.users = 150;
    so.items = 60;
    so.min_len = 6;
    so.max_len = 14;
    mgsd_synth syn;
    mgsd_dataset *ds = NULL;
    if (mgsd_synth_generate(&syn, &so) != MGSD_OK || mgsd_synth_to_dataset(&syn, NULL, &ds) != MGSD_OK) {
        fprintf(stderr, "synth: %s\n", mgsd_last_error());
        return 1;
    }
    test_precedence();
    test_resume(ds);
    test_resume_other_layout(ds);
    test_checkpoint_steps(ds);
    test_grad_stats(ds);
    test_lr_schedules(ds);
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    test_flush_denormals(ds);
#endif
    test_roundtrip(ds);
    test_no_alloc(ds);
    mgsd_dataset_free(ds);
    mgsd_synth_free(&syn);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
