/* `mgsd compare A B`: two rank files of the same users (`mgsd eval --ranks`) tested
 * against each other user by user (mgsd_eval_paired); `mgsd compare A1,A2,.. B1,B2,..`:
 * runs (seeds) of two models, each pair tested user by user and the pairs' differences
 * tested with the run as the unit (mgsd_eval_paired_runs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "mgsd/config.h"
#include "mgsd/eval.h"
#include "train/trainer.h"

static void compare_usage(FILE *f) {
    fprintf(f, "usage: mgsd compare A.tsv B.tsv [--topk=5,10,20] [--json]\n"
               "       mgsd compare A1.tsv,A2.tsv,... B1.tsv,B2.tsv,... [--topk=...] [--json]\n\n"
               "Paired comparison of two models evaluated on the same users: A and B are rank files\n"
               "written by `mgsd eval --ranks=FILE` (same data set and split; users are matched by id and\n"
               "must have the same targets). For hit, ndcg and mrr at each K: both means, B - A, its\n"
               "standard error over users, a 95%% interval and the paired z-test's two-sided p-value;\n"
               "for hit also McNemar's exact test on the users only one model hits. On the same users\n"
               "the paired test is far more sensitive than comparing two means with their own errors.\n\n"
               "With comma-separated lists (runs of each model, e.g. seeds; run i of A against run i\n"
               "of B, all on the same users and targets): each pair's B - A and paired p, then the\n"
               "runs' differences tested with the run as the unit: their mean, sd, Student's t with\n"
               "runs - 1 degrees of freedom, its p and 95%% interval. That test covers training\n"
               "randomness, which a single pair's test over users does not see.\n");
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

/* An object of the n named numbers, in order; a non-finite number is null. */
static cJSON *numbers_json(const char *const *names, const double *v, int n) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n; i++) {
        if (isfinite(v[i])) cJSON_AddNumberToObject(o, names[i], v[i]);
        else cJSON_AddNullToObject(o, names[i]);
    }
    return o;
}

static cJSON *metric_json(const mgsd_paired_metric *m) {
    static const char *const names[] = {"a", "b", "diff", "se", "ci95_lo", "ci95_hi", "p"};
    const double v[] = {m->a, m->b, m->diff, m->se, m->lo, m->hi, m->p};
    return numbers_json(names, v, 7);
}

static void metric_line(const char *name, int k, const mgsd_paired_metric *m) {
    char key[32];
    snprintf(key, sizeof key, "%s@%d", name, k);
    printf("  %-9s %.4f  %.4f  %+.4f  %.4f  [%+.4f, %+.4f]  %.3g\n", key, m->a, m->b, m->diff, m->se, m->lo, m->hi,
           m->p);
}

/* Splits a comma-separated list in place into at most max paths; the count, or -1 when a
 * path is empty or there are more than max. A file whose name holds a comma is one path. */
static int split_paths(char *arg, const char **out, int max) {
    int n = 0;
    if (access(arg, F_OK) == 0) {
        out[0] = arg;
        return 1;
    }
    for (char *p = arg;;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        if (!*p || n == max) return -1;
        out[n++] = p;
        if (!c) return n;
        p = c + 1;
    }
}

/* Reads rank files pa and pb, pairs them by user and computes the paired results at each of
 * the n_ks cut-offs into res; *n gets the user count. With ref (the first run's A file, path
 * ref_path) pa must hold the same users and targets as ref. */
static mgsd_status compare_pair(const char *pa, const char *pb, const mgsd_rank_file *ref, const char *ref_path,
                                int n_ks, const int *ks, mgsd_paired_result *res, int64_t *n) {
    mgsd_rank_file f[2];
    memset(f, 0, sizeof f);
    int64_t *ra = NULL, *rb = NULL;
    mgsd_status st = mgsd_rank_file_read(pa, &f[0]);
    if (st == MGSD_OK) st = mgsd_rank_file_read(pb, &f[1]);
    if (st == MGSD_OK) {
        size_t m = (size_t)(ref && ref->n > f[0].n ? ref->n : f[0].n); /* pairing writes the first file's rows */
        ra = cli_alloc(sizeof *ra * m);
        rb = cli_alloc(sizeof *rb * m);
        if (ref) st = mgsd_rank_files_pair(ref, ref_path, &f[0], pa, ra, rb);
        if (st == MGSD_OK) st = mgsd_rank_files_pair(&f[0], pa, &f[1], pb, ra, rb);
    }
    *n = f[0].n;
    mgsd_rank_file_free(&f[0]);
    mgsd_rank_file_free(&f[1]);
    for (int j = 0; st == MGSD_OK && j < n_ks; j++) st = mgsd_eval_paired(ra, rb, *n, ks[j], &res[j]);
    free(ra);
    free(rb);
    return st;
}

static cJSON *runs_metric_json(const mgsd_runs_metric *m) {
    static const char *const names[] = {"a", "b", "diff", "sd", "se", "t", "ci95_lo", "ci95_hi", "p"};
    const double v[] = {m->a, m->b, m->diff, m->sd, m->se, m->t, m->lo, m->hi, m->p};
    return numbers_json(names, v, 9);
}

static void pair_json(cJSON *e, const mgsd_paired_result *r) {
    cJSON_AddItemToObject(e, "hit", metric_json(&r->hit));
    cJSON_AddItemToObject(e, "ndcg", metric_json(&r->ndcg));
    cJSON_AddItemToObject(e, "mrr", metric_json(&r->mrr));
    cJSON_AddNumberToObject(e, "hit_only_a", (double)r->only_a);
    cJSON_AddNumberToObject(e, "hit_only_b", (double)r->only_b);
    cJSON_AddNumberToObject(e, "mcnemar_p", r->p_mcnemar);
}

static cJSON *paths_json(const char *const *p, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(p[i]));
    return a;
}

static void print_json(cJSON *o) {
    char *txt = cJSON_PrintUnformatted(o);
    if (txt) printf("%s\n", txt);
    cJSON_free(txt);
    cJSON_Delete(o);
}

static void runs_line(const char *name, int k, const mgsd_runs_metric *m) {
    char key[32], t[32];
    snprintf(key, sizeof key, "%s@%d", name, k);
    if (isfinite(m->t)) snprintf(t, sizeof t, "%.2f", m->t);
    else snprintf(t, sizeof t, "%s", m->t > 0 ? "inf" : "-inf");
    printf("  %-9s %.4f  %.4f  %+.4f  %.4f  [%+.4f, %+.4f]  %-6s  %.3g\n", key, m->a, m->b, m->diff, m->sd, m->lo,
           m->hi, t, m->p);
}

/* Text report of R >= 2 runs: res[i * n_ks + j] is run i at cut-off j. */
static void print_runs(const char *const *pa, const char *const *pb, int runs, int64_t n, int n_ks, const int *ks,
                       const mgsd_paired_result *res, const mgsd_runs_result *over) {
    printf("A =");
    for (int i = 0; i < runs; i++) printf(" %s%s", pa[i], i + 1 < runs ? "," : "\n");
    printf("B =");
    for (int i = 0; i < runs; i++) printf(" %s%s", pb[i], i + 1 < runs ? "," : "\n");
    printf("%d runs of each model, run i of A against run i of B; %lld users, paired by user id (same targets)\n\n",
           runs, (long long)n);
    printf("Each run, B - A over users (p of the paired z-test):\n  metric   ");
    for (int i = 0; i < runs; i++) printf("  run %-16d", i + 1);
    printf("\n");
    for (int j = 0; j < n_ks; j++)
        for (int m = 0; m < 3; m++) {
            char key[32];
            snprintf(key, sizeof key, "%s@%d", m == 0 ? "hit" : m == 1 ? "ndcg" : "mrr", ks[j]);
            printf("  %-9s", key);
            for (int i = 0; i < runs; i++) {
                const mgsd_paired_result *r = &res[(size_t)i * n_ks + j];
                const mgsd_paired_metric *pm = m == 0 ? &r->hit : m == 1 ? &r->ndcg : &r->mrr;
                char cell[40];
                snprintf(cell, sizeof cell, "%+.4f (p %.2g)", pm->diff, pm->p);
                printf("  %-20s", cell);
            }
            printf("\n");
        }
    printf("\nOver the runs (the run as the unit: Student's t with %d degree%s of freedom):\n", runs - 1,
           runs == 2 ? "" : "s");
    printf("  metric    A       B       B - A    sd      95%% interval       t       p\n");
    for (int j = 0; j < n_ks; j++) {
        runs_line("hit", ks[j], &over[j].hit);
        runs_line("ndcg", ks[j], &over[j].ndcg);
        runs_line("mrr", ks[j], &over[j].mrr);
    }
}

int cli_cmd_compare(int argc, char **argv) {
    char *arg[2] = {NULL, NULL};
    char *topk = NULL;
    int json = 0, np = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            compare_usage(stdout);
            return 0;
        } else if (cli_opt(a, "--topk")) {
            topk = argv[i];
        } else if (!strcmp(a, "--json")) json = 1;
        else if (strncmp(a, "--", 2) && np < 2) arg[np++] = a;
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
    const char *pa[MGSD_EVAL_MAX_RUNS], *pb[MGSD_EVAL_MAX_RUNS];
    char *copy[2] = {cli_strdup(arg[0]), cli_strdup(arg[1])};
    int na = split_paths(copy[0], pa, MGSD_EVAL_MAX_RUNS), nb = split_paths(copy[1], pb, MGSD_EVAL_MAX_RUNS);
    if (na < 0 || nb < 0 || na != nb) {
        if (na < 0 || nb < 0)
            fprintf(stderr, "mgsd: error: compare: '%s': a list of rank files needs 1 to %d paths, none empty\n",
                    na < 0 ? arg[0] : arg[1], MGSD_EVAL_MAX_RUNS);
        else
            fprintf(stderr, "mgsd: error: compare: %d rank files for A but %d for B: run i of A is compared with "
                    "run i of B\n", na, nb);
        free(copy[0]);
        free(copy[1]);
        return 2;
    }
    const int runs = na;
    mgsd_eval_options eo;
    mgsd_eval_options_default(&eo);
    int rc = read_ks(topk, &eo);
    if (rc) {
        free(copy[0]);
        free(copy[1]);
        return rc;
    }
    const int n_ks = eo.n_ks, *ks = eo.ks;
    mgsd_paired_result *res = cli_calloc((size_t)runs * n_ks, sizeof *res);
    mgsd_runs_result over[MGSD_EVAL_MAX_KS];
    mgsd_rank_file ref;
    memset(&ref, 0, sizeof ref);
    int64_t n = 0;
    mgsd_status st = runs > 1 ? mgsd_rank_file_read(pa[0], &ref) : MGSD_OK;
    for (int i = 0; st == MGSD_OK && i < runs; i++) {
        int64_t ni;
        st = compare_pair(pa[i], pb[i], i > 0 ? &ref : NULL, pa[0], n_ks, ks, res + (size_t)i * n_ks, &ni);
        if (i == 0) n = ni;
    }
    mgsd_rank_file_free(&ref);
    if (runs > 1)
        for (int j = 0; st == MGSD_OK && j < n_ks; j++) {
            mgsd_paired_result col[MGSD_EVAL_MAX_RUNS];
            for (int i = 0; i < runs; i++) col[i] = res[(size_t)i * n_ks + j];
            st = mgsd_eval_paired_runs(col, runs, &over[j]);
        }
    if (st != MGSD_OK) {
        free(res);
        free(copy[0]);
        free(copy[1]);
        return cli_fail(st);
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (runs == 1) {
            cJSON_AddStringToObject(o, "a", pa[0]);
            cJSON_AddStringToObject(o, "b", pb[0]);
        } else {
            cJSON_AddItemToObject(o, "a", paths_json(pa, runs));
            cJSON_AddItemToObject(o, "b", paths_json(pb, runs));
            cJSON_AddNumberToObject(o, "runs", runs);
        }
        cJSON_AddNumberToObject(o, "users", (double)n);
        cJSON *arr = cJSON_AddArrayToObject(o, "k");
        for (int j = 0; j < n_ks; j++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "k", ks[j]);
            if (runs == 1) pair_json(e, &res[j]);
            else {
                cJSON *per = cJSON_AddArrayToObject(e, "per_run");
                for (int i = 0; i < runs; i++) {
                    cJSON *x = cJSON_CreateObject();
                    pair_json(x, &res[(size_t)i * n_ks + j]);
                    cJSON_AddItemToArray(per, x);
                }
                cJSON *ov = cJSON_AddObjectToObject(e, "over_runs");
                cJSON_AddNumberToObject(ov, "df", runs - 1);
                cJSON_AddItemToObject(ov, "hit", runs_metric_json(&over[j].hit));
                cJSON_AddItemToObject(ov, "ndcg", runs_metric_json(&over[j].ndcg));
                cJSON_AddItemToObject(ov, "mrr", runs_metric_json(&over[j].mrr));
            }
            cJSON_AddItemToArray(arr, e);
        }
        print_json(o);
    } else if (runs > 1) {
        print_runs(pa, pb, runs, n, n_ks, ks, res, over);
    } else {
        const mgsd_paired_result *r = res;
        printf("A = %s\nB = %s\n%lld users, paired by user id (same targets)\n\n", pa[0], pb[0], (long long)n);
        printf("  metric    A       B       B - A    se      95%% interval       p (paired)\n");
        for (int j = 0; j < n_ks; j++) {
            metric_line("hit", ks[j], &r[j].hit);
            metric_line("ndcg", ks[j], &r[j].ndcg);
            metric_line("mrr", ks[j], &r[j].mrr);
        }
        printf("\nMcNemar's exact test on hit@K (users hit by one model only):\n");
        for (int j = 0; j < n_ks; j++)
            printf("  hit@%-5d only A %lld, only B %lld, p %.3g\n", ks[j], (long long)r[j].only_a,
                   (long long)r[j].only_b, r[j].p_mcnemar);
    }
    free(res);
    free(copy[0]);
    free(copy[1]);
    return 0;
}
