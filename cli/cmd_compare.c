/* `mgsd compare A B`: two rank files of the same users (`mgsd eval --ranks`) tested
 * against each other user by user (mgsd_eval_paired). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "mgsd/config.h"
#include "mgsd/eval.h"
#include "train/trainer.h"

static void compare_usage(FILE *f) {
    fprintf(f, "usage: mgsd compare A.tsv B.tsv [--topk=5,10,20] [--json]\n\n"
               "Paired comparison of two models evaluated on the same users: A and B are rank files\n"
               "written by `mgsd eval --ranks=FILE` (same data set and split; users are matched by id and\n"
               "must have the same targets). For hit, ndcg and mrr at each K: both means, B - A, its\n"
               "standard error over users, a 95%% interval and the paired z-test's two-sided p-value;\n"
               "for hit also McNemar's exact test on the users only one model hits. On the same users\n"
               "the paired test is far more sensitive than comparing two means with their own errors.\n");
}

/* The cut-offs of a --topk=... argument (NULL: the default), read as `mgsd eval` reads
 * them: the config key topk, same syntax, defaults and checks. Exit code (0 ok). */
static int read_ks(char *arg, mgsd_eval_options *eo) {
    mgsd_config *c = NULL;
    size_t n;
    const mgsd_config_entry *defs = mgsd_config_overall_defaults(&n);
    mgsd_status st = mgsd_config_create(&c);
    if (st == MGSD_OK) st = mgsd_config_add_defaults(c, "overall", MGSD_CONFIG_LEVEL_OVERALL, defs, n);
    if (st == MGSD_OK && arg) st = mgsd_config_apply_args(c, 1, &arg);
    if (st == MGSD_OK) st = trainer_read_topk(c, eo);
    mgsd_config_free(c);
    return st == MGSD_OK ? 0 : cli_fail(st);
}

static cJSON *metric_json(const mgsd_paired_metric *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "a", m->a);
    cJSON_AddNumberToObject(o, "b", m->b);
    cJSON_AddNumberToObject(o, "diff", m->diff);
    cJSON_AddNumberToObject(o, "se", m->se);
    cJSON_AddNumberToObject(o, "ci95_lo", m->lo);
    cJSON_AddNumberToObject(o, "ci95_hi", m->hi);
    cJSON_AddNumberToObject(o, "p", m->p);
    return o;
}

static void metric_line(const char *name, int k, const mgsd_paired_metric *m) {
    char key[32];
    snprintf(key, sizeof key, "%s@%d", name, k);
    printf("  %-9s %.4f  %.4f  %+.4f  %.4f  [%+.4f, %+.4f]  %.3g\n", key, m->a, m->b, m->diff, m->se, m->lo, m->hi,
           m->p);
}

int cli_cmd_compare(int argc, char **argv) {
    const char *path[2] = {NULL, NULL};
    char *topk = NULL;
    int json = 0, np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            compare_usage(stdout);
            return 0;
        } else if (cli_opt(a, "--topk")) {
            topk = argv[i];
        } else if (!strcmp(a, "--json")) json = 1;
        else if (strncmp(a, "--", 2) && np < 2) path[np++] = a;
        else {
            fprintf(stderr, "mgsd: error: compare: unexpected argument '%s'\n\n", a);
            compare_usage(stderr);
            return 2;
        }
    }
    if (np != 2) {
        fprintf(stderr, "mgsd: error: compare: two rank files are required\n\n");
        compare_usage(stderr);
        return 2;
    }
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    int rc = read_ks(topk, &eo);
    if (rc) return rc;
    const int n_ks = eo.n_ks, *ks = eo.ks;
    mgsd_rank_file f[2];
    memset(f, 0, sizeof f);
    int64_t *ra = NULL, *rb = NULL;
    mgsd_status st = mgsd_rank_file_read(path[0], &f[0]);
    if (st == MGSD_OK) st = mgsd_rank_file_read(path[1], &f[1]);
    if (st == MGSD_OK) {
        ra = malloc(sizeof *ra * (size_t)f[0].n);
        rb = malloc(sizeof *rb * (size_t)f[0].n);
        st = ra && rb ? mgsd_rank_files_pair(&f[0], path[0], &f[1], path[1], ra, rb) : MGSD_ERR_NOMEM;
    }
    int64_t n = f[0].n;
    mgsd_rank_file_free(&f[0]);
    mgsd_rank_file_free(&f[1]);
    mgsd_paired_result r[MGSD_EVAL_MAX_KS];
    for (int j = 0; st == MGSD_OK && j < n_ks; j++) st = mgsd_eval_paired(ra, rb, n, ks[j], &r[j]);
    free(ra);
    free(rb);
    if (st != MGSD_OK) return cli_fail(st);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "a", path[0]);
        cJSON_AddStringToObject(o, "b", path[1]);
        cJSON_AddNumberToObject(o, "users", (double)n);
        cJSON *arr = cJSON_AddArrayToObject(o, "k");
        for (int j = 0; j < n_ks; j++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "k", ks[j]);
            cJSON_AddItemToObject(e, "hit", metric_json(&r[j].hit));
            cJSON_AddItemToObject(e, "ndcg", metric_json(&r[j].ndcg));
            cJSON_AddItemToObject(e, "mrr", metric_json(&r[j].mrr));
            cJSON_AddNumberToObject(e, "hit_only_a", (double)r[j].only_a);
            cJSON_AddNumberToObject(e, "hit_only_b", (double)r[j].only_b);
            cJSON_AddNumberToObject(e, "mcnemar_p", r[j].p_mcnemar);
            cJSON_AddItemToArray(arr, e);
        }
        char *txt = cJSON_PrintUnformatted(o);
        if (txt) printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(o);
        return 0;
    }
    printf("A = %s\nB = %s\n%lld users, paired by user id (same targets)\n\n", path[0], path[1], (long long)n);
    printf("  metric    A       B       B - A    se      95%% interval       p (paired)\n");
    for (int j = 0; j < n_ks; j++) {
        metric_line("hit", ks[j], &r[j].hit);
        metric_line("ndcg", ks[j], &r[j].ndcg);
        metric_line("mrr", ks[j], &r[j].mrr);
    }
    printf("\nMcNemar's exact test on hit@K (users hit by one model only):\n");
    for (int j = 0; j < n_ks; j++)
        printf("  hit@%-5d only A %lld, only B %lld, p %.3g\n", ks[j], (long long)r[j].only_a, (long long)r[j].only_b,
               r[j].p_mcnemar);
    return 0;
}
