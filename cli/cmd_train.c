/* `mgsd train`: RecBole-style training run. Config layers (overall < model < --config
 * files < --key=value), progress on stderr (a `\r` bar on a TTY, nothing otherwise),
 * one line per epoch on stdout, a final valid/test table, checkpoints and results.json
 * in the checkpoint directory. Ctrl-C saves <dir>/<Model>-last.ckpt and exits with 130. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "core/core.h"
#include "mgsd/eval.h"
#include "train/trainer.h"

/* SIGINT (Ctrl-C) and SIGTERM. No signal handler may run on a thread that computes: the
 * AVX-512 and AVX2 sgemm kernels of oneDNN up to 3.11 (Debian 12 ships 2.6) point the
 * stack pointer into a heap buffer, so a handler's frame lands in the heap and corrupts it
 * (oneDNN issue 4845; seen here as "free(): invalid next size" after a SIGTERM). So every
 * thread blocks the two signals (OpenMP workers inherit the mask of the thread that
 * creates them) and one thread of our own takes them with sigwait:
 *  - while training, the first one sets the flag that trainer_fit polls between steps (it
 *    saves the resumable checkpoint and the run exits with 130);
 *  - otherwise, and for a second one, the process ends as the default action would. */
static sigset_t g_stop_sigs;
static int g_ignored[2]; /* SIGINT, SIGTERM were ignored when we started (e.g. `cmd &` in a script) */
static atomic_int g_training = 0;
static atomic_int g_interrupted = 0;
static atomic_int g_guard_done = 0; /* the run is over: the next signal to the taker ends it */

static void *signal_thread(void *u) {
    (void)u;
    for (;;) {
        int sig = 0;
        if (sigwait(&g_stop_sigs, &sig) != 0) continue;
        if (atomic_load(&g_guard_done)) break;
        if (atomic_load(&g_training) && !atomic_exchange(&g_interrupted, 1)) continue;
        if (g_ignored[sig == SIGTERM]) continue; /* as before: ignored outside training */
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        raise(sig); /* this thread has it unblocked, the default action ends the process */
    }
    return NULL;
}

typedef struct signal_guard {
    sigset_t old_mask;
    pthread_t thread;
    int running;
} signal_guard;

/* Before any thread of the process exists: block the signals and start the taker. */
static void signal_guard_begin(signal_guard *g) {
    sigemptyset(&g_stop_sigs);
    sigaddset(&g_stop_sigs, SIGINT);
    sigaddset(&g_stop_sigs, SIGTERM);
    atomic_store(&g_guard_done, 0);
    struct sigaction cur;
    for (int i = 0; i < 2; i++)
        g_ignored[i] = sigaction(i ? SIGTERM : SIGINT, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN;
    pthread_sigmask(SIG_BLOCK, &g_stop_sigs, &g->old_mask);
    g->running = pthread_create(&g->thread, NULL, signal_thread, NULL) == 0;
    if (!g->running) pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL); /* keep the default action */
}

static void signal_guard_end(signal_guard *g) {
    if (!g->running) return;
    /* Wake the taker with a signal aimed at it alone (not pthread_cancel: ASan reports a
     * false stack-use-after-scope when a cancelled thread is torn down). */
    atomic_store(&g_guard_done, 1);
    pthread_kill(g->thread, SIGTERM);
    pthread_join(g->thread, NULL);
    g->running = 0;
    pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
}

static int poll_interrupt(void *u) {
    (void)u;
    return atomic_load(&g_interrupted) != 0;
}

static void train_usage(FILE *f) {
    fprintf(f,
            "usage: mgsd train --model=NAME --dataset=PATH [--config=a.yaml,b.yaml] [--key=value ...]\n"
            "                  [--checkpoint-dir=DIR] [--resume=FILE]\n\n"
            "Train a sequential recommender with RecBole's protocol (leave-one-out split, full ranking,\n"
            "early stopping on valid_metric). --dataset is a file, or a name resolved as\n"
            "<data_path>/<name>/<name>.inter. Writes <dir>/<Model>-best.ckpt on every validation\n"
            "improvement, <dir>/<Model>-last.ckpt at the end or on Ctrl-C (resumable with --resume), and\n"
            "<dir>/results.json; <dir> is checkpoint_dir (default saved/). `mgsd train --model=NAME --help`\n"
            "lists every key of that model.\n\n");
}

typedef struct progress {
    int tty;
    double last_draw;
    const trainer_settings *s;
    int64_t n_instances;
    int kshow; /* K shown in the epoch line */
} progress;

static void on_step(void *u, const trainer_step_info *si) {
    progress *p = u;
    if (!p->tty) return;
    double now = mgsd_now();
    if (now - p->last_draw < 0.2 && si->step + 1 != si->n_steps) return;
    p->last_draw = now;
    double frac = (double)(si->step + 1) / (double)si->n_steps;
    double rate = si->epoch_seconds > 0 ? (double)si->instances_done / si->epoch_seconds : 0;
    double eta = frac > 0 ? si->epoch_seconds * (1 - frac) / frac : 0;
    char bar[21];
    int filled = (int)(frac * 20);
    for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
    bar[20] = 0;
    fprintf(stderr, "\r\033[Kepoch %lld [%s] %3.0f%%  %.0f items/s  loss %.4f  ETA %.0f s", (long long)si->epoch, bar,
            100 * frac, rate, si->loss, eta);
    fflush(stderr);
}

static void on_valid_begin(void *u, int64_t epoch) {
    progress *p = u;
    if (p->tty) {
        fprintf(stderr, "\r\033[Kepoch %lld  evaluating ...", (long long)epoch);
        fflush(stderr);
    }
}

static void on_epoch(void *u, const trainer_epoch_info *e) {
    progress *p = u;
    if (p->tty) fprintf(stderr, "\r\033[K");
    printf("epoch %lld  loss %.4f", (long long)e->epoch, e->loss);
    for (int k = 0; k < e->n_parts; k++)
        printf("%s%s %.4f%s", k ? " " : " (", e->part_names[k], e->part_means[k], k + 1 == e->n_parts ? ")" : "");
    for (int k = 0; k < e->n_stats; k++)
        printf("%s%s %.3f%s", k ? " " : "  [", e->stat_names[k], e->stat_means[k], k + 1 == e->n_stats ? "]" : "");
    printf("  train %.1f s", e->train_seconds);
    if (e->lr_scheduled) printf("  lr %.4g", e->lr);
    if (e->grad_steps > 0)
        printf("  grad norm %.3g (max %.3g, clipped %.0f%%)", e->grad_norm_mean, e->grad_norm_max,
               100.0 * e->clipped_fraction);
    if (e->validated) {
        char k1[32], k2[32];
        double v1 = 0, v2 = 0;
        snprintf(k1, sizeof k1, "hit@%d", p->kshow);
        snprintf(k2, sizeof k2, "ndcg@%d", p->kshow);
        mgsd_eval_get(e->valid, k1, &v1);
        mgsd_eval_get(e->valid, k2, &v2);
        printf("  valid %s %.4f %s %.4f", k1, v1, k2, v2);
        if (strcmp(p->s->valid_metric, k1) && strcmp(p->s->valid_metric, k2))
            printf(" %s %.4f", p->s->valid_metric, e->valid_metric);
        printf(" (%.1f s)", e->valid->seconds);
        if (e->improved) printf(" (best)");
        if (e->stop) printf("  early stop: no improvement in %lld validations", (long long)e->patience);
    }
    printf("\n");
    fflush(stdout);
}

static int mkdir_p(const char *dir) {
    char *d = cli_strdup(dir);
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(d, 0777) && errno != EEXIST) break;
            *p = '/';
        }
    int rc = mkdir(d, 0777) && errno != EEXIST ? -1 : 0;
    free(d);
    return rc;
}

static void print_help(const char *model) {
    train_usage(stdout);
    mgsd_config *c = NULL;
    mgsd_status st = trainer_config_create(&c, NULL, 0, NULL);
    if (st == MGSD_OK && model) st = model_add_defaults(c, model);
    if (st != MGSD_OK) {
        cli_fail(st);
        mgsd_config_free(c);
        return;
    }
    printf("keys (overall%s%s):\n%s\n", model ? " + " : "", model ? model : "", mgsd_config_format_help(c));
    if (!model) {
        printf("models (`mgsd train --model=NAME --help` adds the model's keys):\n");
        for (const model_vtable *const *m = model_list(); *m; m++) printf("  %-10s %s\n", (*m)->name, (*m)->help);
    }
    mgsd_config_free(c);
}

static int cmd_train(int argc, char **argv);

int cli_cmd_train(int argc, char **argv) {
    signal_guard g;
    signal_guard_begin(&g);
    int rc = cmd_train(argc, argv);
    signal_guard_end(&g);
    return rc;
}

static int cmd_train(int argc, char **argv) {
    const char *resume = NULL, *v;
    int help = 0, nk = 0, ckdir_slot = -1, dataset_arg = 0;
    char **kv = cli_calloc((size_t)argc + 1, sizeof *kv);
    char *ckdir_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) help = 1;
        else if ((v = cli_opt(a, "--resume"))) resume = v;
        else if ((v = cli_opt(a, "--checkpoint-dir"))) {
            free(ckdir_arg); /* given twice: the last one wins, in the same kv slot */
            ckdir_arg = cli_alloc(strlen(v) + 20);
            sprintf(ckdir_arg, "--checkpoint_dir=%s", v);
            if (ckdir_slot < 0) ckdir_slot = nk++;
            kv[ckdir_slot] = ckdir_arg;
        } else if (!strncmp(a, "--", 2) && strchr(a, '=')) {
            if (!strncmp(a, "--dataset=", 10)) dataset_arg = 1;
            kv[nk++] = argv[i];
        } else {
            fprintf(stderr, "mgsd: error: train: unexpected argument '%s' (options are --key=value)\n\n", a);
            train_usage(stderr);
            free(kv);
            free(ckdir_arg);
            return 2;
        }
    }
    int rc = 0;
    mgsd_status st;
    cli_loaded l;
    memset(&l, 0, sizeof l);
    mgsd_model *model = NULL;
    mgsd_trainer *t = NULL;
    char *data_path = NULL, *best = NULL, *last = NULL, *results = NULL;
    const char *model_name = NULL;

    if (resume) {
        if ((rc = cli_load_checkpoint(&l, resume, nk, kv))) goto done;
        model_name = l.ck.model_name;
        const char *m2;
        if (mgsd_config_get_str(l.cfg, "model", &m2) == MGSD_OK && *m2 && strcasecmp(m2, model_name)) {
            fprintf(stderr, "mgsd: error: --resume: %s holds a %s model, not %s\n", resume, model_name, m2);
            rc = 2;
            goto done;
        }
    } else {
        if ((st = trainer_config_create(&l.cfg, NULL, nk, kv)) != MGSD_OK) {
            rc = cli_fail(st);
            goto done;
        }
        mgsd_config_get_str(l.cfg, "model", &model_name);
        if (!model_name || !*model_name) {
            if (help) {
                print_help(NULL);
                goto done;
            }
            fprintf(stderr, "mgsd: error: train: --model=NAME is required\n\n");
            train_usage(stderr);
            rc = 2;
            goto done;
        }
        if (!model_find(model_name)) {
            model_add_defaults(l.cfg, model_name); /* sets the message listing known models */
            fprintf(stderr, "mgsd: error: %s\n", mgsd_last_error());
            rc = 2;
            goto done;
        }
        model_name = model_find(model_name)->name;
        if ((st = model_add_defaults(l.cfg, model_name)) != MGSD_OK) {
            rc = cli_fail(st);
            goto done;
        }
    }
    if (help) {
        print_help(model_name);
        goto done;
    }
    cli_print_warnings(l.cfg);
    trainer_settings s;
    if ((st = trainer_settings_read(l.cfg, &s)) != MGSD_OK || (st = trainer_check_valid_metric(&s)) != MGSD_OK ||
        (st = trainer_apply_cpu_settings(&s)) != MGSD_OK) {
        rc = cli_fail(st);
        goto done;
    }
    /* dataset */
    const char *dsv = NULL, *dpath = NULL;
    mgsd_config_get_str(l.cfg, "dataset", &dsv);
    mgsd_config_get_str(l.cfg, "data_path", &dpath);
    /* A resumed run reads the path stored in the checkpoint unless this command line gives
     * --dataset (the stored config holds the value as first given, maybe relative), and
     * must re-read the checkpoint's id maps (cli_load_dataset, as eval does). */
    double t_start = mgsd_now();
    if (resume) {
        if (dataset_arg && !(data_path = cli_resolve_dataset(dsv, dpath))) {
            rc = 1;
            goto done;
        }
        if ((rc = cli_load_dataset(&l, data_path))) goto done;
        if (!data_path) data_path = cli_strdup(l.ck.data_path);
    } else {
        if (!dsv || !*dsv) {
            fprintf(stderr, "mgsd: error: train: --dataset=PATH is required\n\n");
            train_usage(stderr);
            rc = 2;
            goto done;
        }
        if (!(data_path = cli_resolve_dataset(dsv, dpath))) {
            rc = 1;
            goto done;
        }
        mgsd_data_options dopt;
        trainer_data_options(l.cfg, &dopt);
        if ((st = mgsd_dataset_load(&l.ds, data_path, &dopt)) != MGSD_OK) {
            rc = cli_fail(st);
            goto done;
        }
    }
    /* model */
    model_info info = {mgsd_dataset_num_items(l.ds), mgsd_dataset_num_users(l.ds), s.max_len};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, s.seed);
    if ((st = model_create(&model, model_name, l.cfg, &info, &rng)) != MGSD_OK) {
        rc = cli_fail(st);
        goto done;
    }
    /* checkpoint paths */
    const char *dir;
    mgsd_config_get_str(l.cfg, "checkpoint_dir", &dir);
    if (!*dir) dir = ".";
    if (mkdir_p(dir)) {
        fprintf(stderr, "mgsd: error: cannot create checkpoint directory '%s': %s\n", dir, strerror(errno));
        rc = 1;
        goto done;
    }
    size_t pl = strlen(dir) + strlen(model_name) + 32;
    best = cli_alloc(pl);
    last = cli_alloc(pl);
    results = cli_alloc(pl);
    snprintf(best, pl, "%s/%s-best.ckpt", dir, model_name);
    snprintf(last, pl, "%s/%s-last.ckpt", dir, model_name);
    snprintf(results, pl, "%s/results.json", dir);
    /* The checkpoint stores the data set's absolute path, so that eval, recommend and explain
     * find it from any working directory (--dataset overrides it there). */
    char *abs_path = realpath(data_path, NULL);
    trainer_options o = {model_name, abs_path ? abs_path : data_path, best, last};
    st = trainer_init(&t, l.cfg, l.ds, model, &o); /* copies the path */
    free(abs_path);
    if (st != MGSD_OK) {
        rc = cli_fail(st);
        goto done;
    }
    if (resume) {
        if ((st = trainer_resume(t, &l.ck)) != MGSD_OK) {
            rc = cli_fail(st);
            cli_note_overrides(&l, st);
            goto done;
        }
        printf("resuming %s from %s at epoch %lld (step %lld)\n", model_name, resume,
               (long long)trainer_epochs_done(t), (long long)trainer_global_step(t));
    }
    mgsd_data_stats ds;
    mgsd_dataset_stats(l.ds, &ds);
    printf("%s on %s: %d users, %d items, %lld interactions, %lld train instances; %lld parameters, %d threads\n",
           model_name, data_path, (int)ds.users, (int)ds.items, (long long)ds.interactions,
           (long long)ds.train_instances, (long long)params_count(&model->params), mgsd_get_num_threads());
    if (s.eval.n_neg > 0) {
        char mode[32];
        mgsd_eval_mode_name(s.eval.n_neg, s.eval.neg_pop, mode, sizeof mode);
        printf("evaluation: eval_mode=%s, the target ranked against %d sampled negatives (%s), not all items\n", mode,
               s.eval.n_neg, s.eval.neg_pop ? "by popularity" : "uniform");
    }
    if (s.eval.mask_history)
        printf("evaluation: eval_mask_history=true, the items of a user's history are removed from its target's ranking\n");
    fflush(stdout);
    progress p = {isatty(STDERR_FILENO), 0, trainer_get_settings(t), ds.train_instances, 10};
    int has10 = 0;
    for (int i = 0; i < s.eval.n_ks; i++) has10 |= s.eval.ks[i] == 10;
    if (!has10) p.kshow = s.eval.ks[s.eval.n_ks - 1];
    trainer_callbacks cb = {&p, on_step, on_epoch, on_valid_begin, NULL};
    cb.interrupted = poll_interrupt;
    atomic_store(&g_training, 1);
    st = trainer_fit(t, &cb);
    atomic_store(&g_training, 0);
    if (p.tty) fprintf(stderr, "\r\033[K");
    if (st == MGSD_ERR_INTERRUPTED) {
        fprintf(stderr, "mgsd: interrupted: saved %s (continue with --resume=%s)\n", last, last);
        rc = 130;
        goto done;
    }
    if (st != MGSD_OK) {
        rc = cli_fail(st);
        goto done;
    }
    /* test with the best parameters */
    trainer_use_best(t);
    mgsd_eval_result test;
    if ((st = trainer_evaluate(t, MGSD_SPLIT_TEST, &test)) != MGSD_OK) {
        rc = cli_fail(st);
        goto done;
    }
    const mgsd_eval_result *bv = trainer_best_valid(t);
    if (bv)
        printf("\nbest epoch %lld%s\n", (long long)trainer_best_epoch(t),
               trainer_stopped_early(t) ? " (early stopping)" : "");
    else /* epochs=0, or eval_step beyond the epochs trained: no validation ran */
        printf("\nno epoch was validated (%lld epochs trained, eval_step %d): test scores the final parameters\n",
               (long long)trainer_epochs_done(t), s.eval_step);
    char key[32];
    double tv, vv = 0;
    int width = 12;
    for (int i = 0; i < mgsd_eval_entry_count(&test); i++)
        if (mgsd_eval_entry(&test, i, key, sizeof key, &tv) == MGSD_OK && (int)strlen(key) > width) width = (int)strlen(key);
    printf("%-*s %10s %10s\n", width, "metric", "valid", "test");
    for (int i = 0; i < mgsd_eval_entry_count(&test); i++) {
        mgsd_eval_entry(&test, i, key, sizeof key, &tv);
        if (bv) {
            mgsd_eval_get(bv, key, &vv);
            printf("%-*s %10.4f %10.4f\n", width, key, vv, tv);
        } else {
            printf("%-*s %10s %10.4f\n", width, key, "-", tv);
        }
    }
    if ((st = trainer_write_results(t, results, &test, mgsd_now() - t_start)) != MGSD_OK) {
        rc = cli_fail(st);
        goto done;
    }
    if (bv) printf("\ncheckpoints: %s, %s\n", best, last);
    else printf("\ncheckpoint: %s (no best model without validation)\n", last);
    printf("results: %s  (peak RSS %.1f MiB)\n", results, (double)mgsd_peak_rss() / (1024.0 * 1024.0));
done:
    trainer_free(t);
    if (model) model_free(model);
    cli_loaded_free(&l);
    free(kv);
    free(ckdir_arg);
    free(data_path);
    free(best);
    free(last);
    free(results);
    return rc;
}

