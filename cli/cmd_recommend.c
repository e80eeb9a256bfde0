/* `mgsd recommend`: top-K next items for a user of the training data (--user, full
 * history re-read from the dataset) or for any history of item tokens (--history, needs
 * only the checkpoint's id maps). Ids in and out are the original string tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        hist = malloc(sizeof(int32_t) * ((size_t)n + 1));
        memcpy(hist, items, sizeof(int32_t) * (size_t)n);
    } else {
        char *buf = strdup(history);
        hist = malloc(sizeof(int32_t) * (strlen(history) / 2 + 2));
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
               "                      [--dataset=PATH] [--keep-history] [--json] [--threads=N]\n\n"
               "Top-K items for a user's full history (re-read from the dataset stored in the checkpoint,\n"
               "or --dataset) or for a given history of item ids (oldest first, space separated). Items\n"
               "already in the history are not recommended unless --keep-history is given.\n");
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
                     const char *const *flags, int *flag_set) {
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
        else if ((v = cli_opt(a, "--topk"))) {
            char *end;
            t->topk = strtol(v, &end, 10);
            if (*end || t->topk <= 0 || t->topk > 100000) {
                fprintf(stderr, "mgsd: error: --topk expects a positive integer, got '%s'\n", v);
                return 2;
            }
        } else if (cli_opt(a, "--threads")) {
            t->threads_kv[0] = argv[i];
            t->n_kv = 1;
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
    if (!t->ckpt || (!t->user) == (!t->history)) {
        fprintf(stderr, "mgsd: error: %s: %s\n\n", cmd,
                !t->ckpt ? "--checkpoint=FILE is required" : "give exactly one of --user=ID and --history=\"...\"");
        usage(stderr);
        return 2;
    }
    t->ok = 1;
    return 0;
}

int cli_cmd_recommend(int argc, char **argv) {
    static const char *const flags[] = {"--keep-history", NULL};
    int keep = 0;
    cli_target tg;
    int prc = cli_target_parse(&tg, argc, argv, "recommend", rec_usage, flags, &keep);
    if (prc || !tg.ok) return prc;
    const char *ckpt = tg.ckpt, *user = tg.user, *history = tg.history, *dataset = tg.dataset;
    int json = tg.json;
    long topk = tg.topk;
    cli_loaded l;
    int rc = cli_load_checkpoint(&l, ckpt, tg.n_kv, tg.threads_kv);
    if (rc) return rc;
    int32_t *hist = NULL, n = 0;
    if ((rc = cli_history(&l, user, history, dataset, &hist, &n))) goto done;
    if ((rc = cli_create_model(&l, NULL))) goto done;
    {
        trainer_settings s;
        trainer_settings_read(l.cfg, &s);
        int32_t N = l.ck.n_items;
        mgsd_batch b;
        mgsd_tape tape;
        float *scores = malloc(sizeof(float) * (size_t)N), *top_s = malloc(sizeof(float) * (size_t)topk);
        int32_t *top = malloc(sizeof(int32_t) * (size_t)topk);
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
