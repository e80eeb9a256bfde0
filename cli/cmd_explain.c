/* `mgsd explain`: what an MGSD checkpoint makes of one history: each item's clean
 * probability and keep decision, the interest weights and selections, and the top-K with
 * scores. Deterministic (evaluation mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "core/core.h"
#include "mgsd/eval.h"
#include "model/mgsd.h"
#include "train/trainer.h"

static void explain_usage(FILE *f) {
    fprintf(f, "usage: mgsd explain --checkpoint=FILE (--user=ID | --history=\"ID ID ...\") [--topk=10]\n"
               "                    [--dataset=PATH] [--json] [--threads=N] [--keep_threshold=P]\n\n"
               "For an MGSD checkpoint: every history item with its clean probability (the noise\n"
               "discriminator) and whether MGSD keeps it (p > keep_threshold: 0.5 unless --keep_threshold\n"
               "or the checkpoint says otherwise; the item-granularity encoder, and with\n"
               "sub_model_input=denoised the sub-model, read only the kept items), the weight of\n"
               "each interest prototype, its readout probability for the last item and whether it is\n"
               "selected, and the top-K recommendations (history items excluded) with scores.\n");
}

int cli_cmd_explain(int argc, char **argv) {
    cli_target tg;
    int prc = cli_target_parse(&tg, argc, argv, "explain", explain_usage, NULL, NULL, 0);
    if (prc || !tg.ok) return prc;
    const char *ckpt = tg.ckpt, *user = tg.user, *history = tg.history, *dataset = tg.dataset;
    int json = tg.json;
    long topk = tg.topk;
    cli_loaded l;
    int rc = cli_load_checkpoint(&l, ckpt, tg.n_kv, tg.kv);
    if (rc) return rc;
    cli_print_warnings(l.cfg);
    if (strcasecmp(l.ck.model_name, "MGSD") != 0) {
        fprintf(stderr, "mgsd: error: explain needs an MGSD checkpoint; %s holds a %s model\n", ckpt, l.ck.model_name);
        cli_loaded_free(&l);
        return 1;
    }
    int32_t *hist = NULL, n = 0;
    if ((rc = cli_history(&l, user, history, dataset, &hist, &n)) || (rc = cli_create_model(&l, NULL))) {
        free(hist);
        cli_loaded_free(&l);
        return rc;
    }
    trainer_settings s;
    trainer_settings_read(l.cfg, &s);
    int32_t N = l.ck.n_items;
    int K = mgsd_interest_count(l.model);
    int shown = n < s.max_len ? n : s.max_len; /* the model reads the newest L items */
    const int32_t *h = hist + (n - shown);
    float *scores = cli_alloc(sizeof(float) * (size_t)N), *top_s = cli_alloc(sizeof(float) * (size_t)topk);
    float *clean = cli_alloc(sizeof(float) * (size_t)shown), *keep = cli_alloc(sizeof(float) * (size_t)shown);
    float *margin = cli_alloc(sizeof(float) * (size_t)shown);
    float *w = cli_alloc(sizeof(float) * (size_t)K), *ro = cli_alloc(sizeof(float) * (size_t)K), *sel = cli_alloc(sizeof(float) * (size_t)K);
    int32_t *top = cli_alloc(sizeof(int32_t) * (size_t)topk);
    int nout = 0;
    mgsd_batch b;
    mgsd_tape tape;
    mgsd_status st = mgsd_batch_init(&b, 1, s.max_len);
    if (st == MGSD_OK) st = ag_tape_init(&tape, 1 << 24, s.seed);
    if (st == MGSD_OK) st = mgsd_batch_append(&b, 0, 0, h, shown);
    mgsd_explanation ex = {K, clean, keep, w, ro, sel, margin};
    if (st == MGSD_OK) st = mgsd_explain(l.model, &tape, &b, &ex);
    model_scorer sc = {l.model, &tape};
    if (st == MGSD_OK) st = model_scorer_fn(&sc, &b, scores);
    if (st == MGSD_OK) st = mgsd_eval_topk(scores, N, (int)topk, hist, n, top, top_s, &nout);
    ag_tape_free(&tape);
    mgsd_batch_free(&b);
    if (st != MGSD_OK) rc = cli_fail(st);
    else if (json) {
        cJSON *o = cJSON_CreateObject();
        if (user) cJSON_AddStringToObject(o, "user", user);
        cJSON *ha = cJSON_AddArrayToObject(o, "history");
        for (int i = 0; i < shown; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "item", l.ck.item_names[h[i]]);
            cJSON_AddNumberToObject(e, "clean_probability", clean[i]);
            cJSON_AddNumberToObject(e, "clean_margin", margin[i]);
            cJSON_AddBoolToObject(e, "kept", keep[i] > 0.5f);
            cJSON_AddItemToArray(ha, e);
        }
        cJSON *ia = cJSON_AddArrayToObject(o, "interests");
        for (int k = 0; k < K; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "interest", k);
            cJSON_AddNumberToObject(e, "weight", w[k]);
            cJSON_AddNumberToObject(e, "readout_probability", ro[k]);
            cJSON_AddBoolToObject(e, "selected", sel[k] > 0.5f);
            cJSON_AddItemToArray(ia, e);
        }
        cli_json_add_topk(o, &l.ck, top, top_s, nout);
        cli_json_print(o);
    } else {
        int kept = 0;
        for (int i = 0; i < shown; i++) kept += keep[i] > 0.5f;
        printf("MGSD explanation for %s%s: %d history items read (newest last), %d kept as clean\n\n",
               user ? "user " : "the given history", user ? user : "", shown, kept);
        printf("  %4s  %-20s %8s %8s  %s\n", "pos", "item", "p(clean)", "margin", "kept");
        for (int i = 0; i < shown; i++)
            printf("  %4d  %-20s %8.4f %8.2f  %s\n", i + 1, l.ck.item_names[h[i]], clean[i], margin[i],
                   keep[i] > 0.5f ? "yes" : "no");
        printf("\n  %8s %8s %10s  %s\n", "interest", "weight", "p(readout)", "selected");
        for (int k = 0; k < K; k++) printf("  %8d %8.4f %10.4f  %s\n", k, w[k], ro[k], sel[k] > 0.5f ? "yes" : "no");
        printf("\ntop %d (history items excluded)\n", nout);
        for (int i = 0; i < nout; i++) printf("  %3d  %-20s %.4f\n", i + 1, l.ck.item_names[top[i]], top_s[i]);
    }
    free(scores);
    free(top_s);
    free(top);
    free(clean);
    free(keep);
    free(margin);
    free(w);
    free(ro);
    free(sel);
    free(hist);
    cli_loaded_free(&l);
    return rc;
}
