/* `mgsd recommend`: top-K next items for a user of the training data (--user, full
 * history re-read from the dataset) or for any history of item tokens (--history, needs
 * only the checkpoint's id maps), or in batch mode for every user or a list of users
 * (--all-users / --users=FILE, to a file written atomically). Ids in and out are the
 * original string tokens. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "core/core.h"
#include "mgsd/eval.h"
#include "train/trainer.h"

int cli_history(cli_loaded *l, const char *user, const char *history, const char *dataset, int32_t **out,
                int32_t *out_n) {
    int rc = 0;
    int32_t *hist = NULL, n = 0;
    if (user) {
        if ((rc = cli_load_dataset(l, dataset))) return rc;
        int32_t u = mgsd_dataset_find_user(l->ds, user);
        if (u < 0) {
            fprintf(stderr, "mgsd: error: unknown user id '%s' (not in %s after filtering)\n", user, l->ck.data_path);
            return 1;
        }
        const int32_t *items;
        mgsd_dataset_user_items(l->ds, u, &items, &n);
        hist = cli_alloc(sizeof(int32_t) * ((size_t)n + 1));
        memcpy(hist, items, sizeof(int32_t) * (size_t)n);
    } else {
        char *buf = cli_strdup(history);
        hist = cli_alloc(sizeof(int32_t) * (strlen(history) / 2 + 2));
        for (char *tok = strtok(buf, " \t,"); tok; tok = strtok(NULL, " \t,")) {
            int32_t id = model_io_find_item(&l->ck, tok);
            if (id < 0) {
                fprintf(stderr, "mgsd: error: unknown item id '%s' (not in the checkpoint's item map)\n", tok);
                free(buf);
                free(hist);
                return 1;
            }
            hist[n++] = id;
        }
        free(buf);
        if (n == 0) {
            fprintf(stderr, "mgsd: error: --history is empty\n");
            free(hist);
            return 2;
        }
    }
    *out = hist;
    *out_n = n;
    return 0;
}

static void rec_usage(FILE *f) {
    fprintf(f, "usage: mgsd recommend --checkpoint=FILE (--user=ID | --history=\"ID ID ...\") [--topk=10]\n"
               "                      [--dataset=PATH] [--keep-history] [--json] [--threads=N] [--keep_threshold=P]\n"
               "       mgsd recommend --checkpoint=FILE (--all-users | --users=FILE) [--output=FILE] [--topk=10]\n"
               "                      [--dataset=PATH] [--keep-history] [--json] [--threads=N] [--keep_threshold=P]\n\n"
               "Top-K items for a user's full history (re-read from the dataset stored in the checkpoint,\n"
               "or --dataset) or for a given history of item ids (oldest first, space separated). Items\n"
               "already in the history are not recommended unless --keep-history is given.\n\n"
               "Batch mode scores many users at once (eval_batch_size users per forward pass): every\n"
               "user of the dataset (--all-users) or the user ids listed in FILE (one per line; blank\n"
               "lines and lines starting with # are skipped). It writes tab-separated lines\n"
               "user_id, rank, item_id, score under a header line (--json: one JSON object per user\n"
               "and line) to --output=FILE, which appears only when complete, or to standard output.\n\n"
               "MGSD: --keep_threshold=P keeps a history item iff its clean probability exceeds P\n"
               "(default: the checkpoint's, 0.5 unless trained otherwise).\n");
}

void cli_json_add_topk(cJSON *o, const model_io_ckpt *ck, const int32_t *top, const float *score, int n) {
    cJSON *r = cJSON_AddArrayToObject(o, "items");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "item", ck->item_names[top[i]]);
        cJSON_AddNumberToObject(e, "score", score[i]);
        cJSON_AddItemToArray(r, e);
    }
}

void cli_json_print(cJSON *o) {
    char *txt = cJSON_PrintUnformatted(o);
    if (txt) printf("%s\n", txt);
    cJSON_free(txt);
    cJSON_Delete(o);
}

int cli_target_parse(cli_target *t, int argc, char **argv, const char *cmd, void (*usage)(FILE *),
                     const char *const *flags, int *flag_set, int batch) {
    memset(t, 0, sizeof *t);
    t->topk = 10;
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int matched = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_opt(a, "--checkpoint"))) t->ckpt = v;
        else if ((v = cli_opt(a, "--user"))) t->user = v;
        else if ((v = cli_opt(a, "--history"))) t->history = v;
        else if ((v = cli_opt(a, "--dataset"))) t->dataset = v;
        else if (batch && (v = cli_opt(a, "--users"))) t->users_file = v;
        else if (batch && (v = cli_opt(a, "--output"))) t->output = v;
        else if (batch && !strcmp(a, "--all-users")) t->all_users = 1;
        else if ((v = cli_opt(a, "--topk"))) {
            char *end;
            t->topk = strtol(v, &end, 10);
            if (*end || t->topk <= 0 || t->topk > 100000) {
                fprintf(stderr, "mgsd: error: --topk expects a positive integer, got '%s'\n", v);
                return 2;
            }
        } else if (cli_opt(a, "--threads") || cli_opt(a, "--keep_threshold")) {
            if (t->n_kv == (int)(sizeof t->kv / sizeof t->kv[0])) {
                fprintf(stderr, "mgsd: error: %s: too many --threads / --keep_threshold options\n", cmd);
                return 2;
            }
            t->kv[t->n_kv++] = argv[i];
        } else if (!strcmp(a, "--json")) t->json = 1;
        else {
            for (int k = 0; flags && flags[k]; k++)
                if (!strcmp(a, flags[k])) flag_set[k] = matched = 1;
            if (!matched) {
                fprintf(stderr, "mgsd: error: %s: unknown option '%s'\n\n", cmd, a);
                usage(stderr);
                return 2;
            }
        }
    }
    const int n_targets = !!t->user + !!t->history + !!t->all_users + !!t->users_file;
    if (!t->ckpt || n_targets != 1 || (t->output && !(t->all_users || t->users_file))) {
        fprintf(stderr, "mgsd: error: %s: %s\n\n", cmd,
                !t->ckpt        ? "--checkpoint=FILE is required"
                : n_targets != 1 ? (batch ? "give exactly one of --user=ID, --history=\"...\", --all-users and --users=FILE"
                                          : "give exactly one of --user=ID and --history=\"...\"")
                                 : "--output=FILE goes with --all-users or --users=FILE");
        usage(stderr);
        return 2;
    }
    if (t->output && !*t->output) {
        fprintf(stderr, "mgsd: error: %s: --output needs a file name\n", cmd);
        return 2;
    }
    t->ok = 1;
    return 0;
}

/* --users=FILE: dense ids of the listed users; unknown ids name the file and line. */
static int read_users_file(const char *path, const mgsd_dataset *ds, const char *data_path, int32_t **out,
                           int64_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mgsd: error: %s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    int64_t n = 0, cap = 1024, line = 0;
    int32_t *u = malloc(sizeof *u * (size_t)cap);
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    int rc = u ? 0 : 1;
    while (!rc && (len = getline(&buf, &bcap, f)) >= 0) {
        line++;
        char *p = buf, *e = buf + len;
        while (p < e && isspace((unsigned char)*p)) p++;
        while (e > p && isspace((unsigned char)e[-1])) e--;
        *e = '\0';
        if (p == e || *p == '#') continue;
        int32_t id = mgsd_dataset_find_user(ds, p);
        if (id < 0) {
            fprintf(stderr, "mgsd: error: %s:%lld: unknown user id '%s' (not in %s after filtering)\n", path,
                    (long long)line, p, data_path);
            rc = 1;
            break;
        }
        if (n == cap) {
            int32_t *nu = realloc(u, sizeof *u * (size_t)(cap *= 2));
            if (!nu) {
                rc = 1;
                break;
            }
            u = nu;
        }
        u[n++] = id;
    }
    if (!rc && ferror(f)) {
        fprintf(stderr, "mgsd: error: %s: read error\n", path);
        rc = 1;
    }
    if (!rc && n == 0) {
        fprintf(stderr, "mgsd: error: %s: no user ids in the file\n", path);
        rc = 1;
    }
    free(buf);
    fclose(f);
    if (rc) {
        free(u);
        return rc;
    }
    *out = u;
    *n_out = n;
    return 0;
}

typedef struct batch_out {
    FILE *f;
    const cli_loaded *l;
    int json, tty;
    int64_t done, total;
    double t0;
} batch_out;

static mgsd_status emit_user(void *ctx, int32_t user, const int32_t *ids, const float *scores, int n) {
    batch_out *o = ctx;
    const char *uname = mgsd_dataset_user_name(o->l->ds, user);
    int bad = 0;
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "user", uname);
        cli_json_add_topk(j, &o->l->ck, ids, scores, n);
        char *txt = cJSON_PrintUnformatted(j);
        bad = !txt || fprintf(o->f, "%s\n", txt) < 0;
        cJSON_free(txt);
        cJSON_Delete(j);
    } else {
        for (int i = 0; i < n && !bad; i++)
            bad = fprintf(o->f, "%s\t%d\t%s\t%.6g\n", uname, i + 1, o->l->ck.item_names[ids[i]], scores[i]) < 0;
    }
    if (bad) return mgsd_error(MGSD_ERR_IO, "writing the recommendations failed: %s", strerror(errno));
    if (++o->done % 1024 == 0 && o->tty)
        fprintf(stderr, "\rrecommend: %lld / %lld users", (long long)o->done, (long long)o->total);
    return MGSD_OK;
}

/* --all-users / --users=FILE */
static int recommend_batch(cli_loaded *l, const cli_target *tg, int keep) {
    int rc;
    if ((rc = cli_load_dataset(l, tg->dataset))) return rc;
    int32_t *users = NULL;
    int64_t n_users = 0;
    if (tg->users_file) {
        if ((rc = read_users_file(tg->users_file, l->ds, l->ck.data_path, &users, &n_users))) return rc;
    } else {
        n_users = mgsd_dataset_num_users(l->ds);
        users = malloc(sizeof *users * (size_t)(n_users ? n_users : 1));
        if (!users) return cli_fail(mgsd_error(MGSD_ERR_NOMEM, "out of memory"));
        for (int64_t i = 0; i < n_users; i++) users[i] = (int32_t)(i + 1);
    }
    if ((rc = cli_create_model(l, NULL))) {
        free(users);
        return rc;
    }
    trainer_settings s;
    mgsd_status st = trainer_settings_read(l->cfg, &s);
    if (st != MGSD_OK) {
        free(users);
        return cli_fail(st);
    }
    /* eval_batch_size users per pass, with at most 64 M scores in flight */
    int32_t N = mgsd_dataset_num_items(l->ds);
    int64_t cap = ((int64_t)64 << 20) / N;
    mgsd_recommend_options ro = {(int)tg->topk, (int)(s.eval.batch_size < cap ? s.eval.batch_size : (cap > 0 ? cap : 1)),
                                 s.max_len, keep};
    mgsd_afile af = {0};
    batch_out o = {stdout, l, tg->json, isatty(STDERR_FILENO), 0, n_users, mgsd_now()};
    if (tg->output) {
        if ((st = mgsd_afile_open(&af, tg->output)) != MGSD_OK) {
            free(users);
            return cli_fail(st);
        }
        o.f = af.f;
    }
    if (!tg->json && fprintf(o.f, "user_id\trank\titem_id\tscore\n") < 0)
        st = mgsd_error(MGSD_ERR_IO, "writing the recommendations failed: %s", strerror(errno));
    mgsd_tape tape;
    if (st == MGSD_OK) st = ag_tape_init(&tape, 0, s.seed);
    if (st == MGSD_OK) {
        model_scorer sc = {l->model, &tape};
        st = mgsd_recommend_users(l->ds, users, n_users, model_scorer_fn, &sc, &ro, emit_user, &o);
        ag_tape_free(&tape);
    }
    if (o.tty) fprintf(stderr, "\r\033[K");
    if (st == MGSD_OK && tg->output) st = mgsd_afile_commit(&af);
    else if (st == MGSD_OK && fflush(stdout) != 0)
        st = mgsd_error(MGSD_ERR_IO, "writing the recommendations failed: %s", strerror(errno));
    if (st != MGSD_OK) {
        mgsd_afile_abort(&af);
        free(users);
        return cli_fail(st);
    }
    fprintf(stderr, "%s: top %d for %lld users%s%s (%.1f s)\n", l->ck.model_name, ro.k, (long long)n_users,
            tg->output ? " written to " : "", tg->output ? tg->output : "", mgsd_now() - o.t0);
    free(users);
    return 0;
}

int cli_cmd_recommend(int argc, char **argv) {
    static const char *const flags[] = {"--keep-history", NULL};
    int keep = 0;
    cli_target tg;
    int prc = cli_target_parse(&tg, argc, argv, "recommend", rec_usage, flags, &keep, 1);
    if (prc || !tg.ok) return prc;
    const char *ckpt = tg.ckpt, *user = tg.user, *history = tg.history, *dataset = tg.dataset;
    int json = tg.json;
    long topk = tg.topk;
    cli_loaded l;
    int rc = cli_load_checkpoint(&l, ckpt, tg.n_kv, tg.kv);
    if (rc) return rc;
    cli_print_warnings(l.cfg);
    if (tg.all_users || tg.users_file) {
        rc = recommend_batch(&l, &tg, keep);
        cli_loaded_free(&l);
        return rc;
    }
    int32_t *hist = NULL, n = 0;
    if ((rc = cli_history(&l, user, history, dataset, &hist, &n))) goto done;
    if ((rc = cli_create_model(&l, NULL))) goto done;
    {
        trainer_settings s;
        trainer_settings_read(l.cfg, &s);
        int32_t N = l.ck.n_items;
        mgsd_batch b;
        mgsd_tape tape;
        float *scores = cli_alloc(sizeof(float) * (size_t)N), *top_s = cli_alloc(sizeof(float) * (size_t)topk);
        int32_t *top = cli_alloc(sizeof(int32_t) * (size_t)topk);
        int nout = 0;
        mgsd_status st = mgsd_batch_init(&b, 1, s.max_len);
        if (st == MGSD_OK) st = ag_tape_init(&tape, 1 << 24, s.seed);
        if (st == MGSD_OK) st = mgsd_batch_append(&b, 0, 0, hist, n);
        model_scorer sc = {l.model, &tape};
        if (st == MGSD_OK) st = model_scorer_fn(&sc, &b, scores);
        if (st == MGSD_OK) st = mgsd_eval_topk(scores, N, (int)topk, keep ? NULL : hist, keep ? 0 : n, top, top_s, &nout);
        ag_tape_free(&tape);
        mgsd_batch_free(&b);
        if (st != MGSD_OK) rc = cli_fail(st);
        else if (json) {
            cJSON *o = cJSON_CreateObject();
            if (user) cJSON_AddStringToObject(o, "user", user);
            cJSON *h = cJSON_AddArrayToObject(o, "history");
            for (int32_t i = 0; i < n; i++) cJSON_AddItemToArray(h, cJSON_CreateString(l.ck.item_names[hist[i]]));
            cli_json_add_topk(o, &l.ck, top, top_s, nout);
            cli_json_print(o);
        } else {
            printf("%s: top %d for %s%s (history of %d items, newest %s)\n", l.ck.model_name, nout,
                   user ? "user " : "the given history", user ? user : "", (int)n, l.ck.item_names[hist[n - 1]]);
            for (int i = 0; i < nout; i++) printf("%3d  %-20s %.4f\n", i + 1, l.ck.item_names[top[i]], top_s[i]);
        }
        free(scores);
        free(top_s);
        free(top);
    }
done:
    free(hist);
    cli_loaded_free(&l);
    return rc;
}
