/* `mgsd eval`: evaluate a checkpoint on the valid or test split (full ranking), and the
 * checkpoint helpers shared with train and recommend (cli_ckpt.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "core/core.h"
#include "mgsd/eval.h"
#include "model/mgsd.h"
#include "train/trainer.h"

static void cli_out_of_memory(size_t bytes) {
    char b[32];
    fprintf(stderr, "mgsd: error: out of memory (%s for the command's own buffers)\n", mgsd_format_bytes(b, (double)bytes));
    exit(1);
}

void *cli_alloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) cli_out_of_memory(n);
    return p;
}

void *cli_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) cli_out_of_memory(n * size);
    return p;
}

char *cli_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(cli_alloc(n), s, n);
}

const char *cli_opt(const char *arg, const char *key) {
    size_t n = strlen(key);
    if (strncmp(arg, key, n) == 0 && arg[n] == '=') return arg + n + 1;
    return NULL;
}

int cli_fail(mgsd_status s) {
    const char *m = mgsd_last_error();
    fprintf(stderr, "mgsd: error: %s\n", *m ? m : mgsd_strerror(s));
    return (s == MGSD_ERR_CONFIG || s == MGSD_ERR_INVALID_ARG) ? 2 : 1;
}

void cli_print_warnings(mgsd_config *c) {
    size_t n;
    const char *const *w = mgsd_config_warnings(c, &n);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "mgsd: warning: %s\n", w[i]);
}

/* A RecBole dataset folder ("ml-100k" or "data/ml-100k/") holds <name>/<name>.inter. */
static char *resolve_folder(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    size_t cap = 2 * n + 16;
    char *p = cli_alloc(cap);
    snprintf(p, cap, "%.*s/%.*s.inter", (int)n, dir, (int)(n - b), dir + b);
    struct stat sb;
    if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) return p;
    fprintf(stderr, "mgsd: error: dataset '%s' is a folder without %s (give a data file, or a RecBole folder <name>/<name>.inter)\n",
            dir, p);
    free(p);
    return NULL;
}

char *cli_resolve_dataset(const char *value, const char *data_path) {
    struct stat sb;
    const int exists = stat(value, &sb) == 0, stat_errno = exists ? 0 : errno;
    if (exists && S_ISREG(sb.st_mode)) return cli_strdup(value);
    const int is_dir = exists && S_ISDIR(sb.st_mode);
    if (!strchr(value, '/') && data_path && *data_path) {
        size_t n = strlen(data_path) + 2 * strlen(value) + 16;
        char *p = cli_alloc(n);
        snprintf(p, n, "%s%s%s/%s.inter", data_path, data_path[strlen(data_path) - 1] == '/' ? "" : "/", value, value);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) return p;
        if (!is_dir) fprintf(stderr, "mgsd: error: dataset '%s': no such file, and no %s\n", value, p);
        free(p);
        if (!is_dir) return NULL;
    }
    if (is_dir) return resolve_folder(value);
    if (exists) fprintf(stderr, "mgsd: error: dataset '%s' is not a regular file\n", value);
    else fprintf(stderr, "mgsd: error: %s: cannot open: %s\n", value, strerror(stat_errno));
    return NULL;
}

void cli_loaded_free(cli_loaded *l) {
    if (l->model) model_free(l->model);
    mgsd_dataset_free(l->ds);
    mgsd_config_free(l->cfg);
    model_io_close(&l->ck);
    free(l->overrides);
    memset(l, 0, sizeof *l);
}

int cli_load_checkpoint(cli_loaded *l, const char *path, int argc, char *const *argv) {
    memset(l, 0, sizeof *l);
    mgsd_status st = model_io_open(&l->ck, path);
    if (st != MGSD_OK) return cli_fail(st);
    st = trainer_config_create(&l->cfg, NULL, 0, NULL);
    if (st == MGSD_OK) st = model_add_defaults(l->cfg, l->ck.model_name);
    if (st == MGSD_OK) st = mgsd_config_deserialize(l->cfg, path, l->ck.config, l->ck.config_len);
    if (st != MGSD_OK) {
        int rc = cli_fail(st);
        cli_loaded_free(l);
        return rc == 2 ? 1 : rc; /* a bad stored config is a runtime failure */
    }
    if (argc > 0) { /* kept for cli_note_overrides: argv may be freed before the model loads */
        size_t n = 1;
        for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
        l->overrides = cli_alloc(n);
        l->overrides[0] = '\0';
        for (int i = 0; i < argc; i++) {
            if (i) strcat(l->overrides, " ");
            strcat(l->overrides, argv[i]);
        }
    }
    if (argc > 0 && (st = mgsd_config_apply_args(l->cfg, argc, argv)) != MGSD_OK) {
        int rc = cli_fail(st);
        cli_loaded_free(l);
        return rc;
    }
    return 0;
}

int cli_load_dataset(cli_loaded *l, const char *override_path) {
    mgsd_data_options o;
    mgsd_status st = trainer_data_options(l->cfg, &o);
    if (st != MGSD_OK) return cli_fail(st);
    const char *path = l->ck.data_path;
    char *resolved = NULL;
    if (override_path) {
        const char *dpath = NULL;
        mgsd_config_get_str(l->cfg, "data_path", &dpath);
        if (!(path = resolved = cli_resolve_dataset(override_path, dpath))) return 1;
    }
    if (!path || !*path) {
        fprintf(stderr, "mgsd: error: %s stores no dataset path; pass --dataset=PATH\n", l->ck.r.path);
        return 2;
    }
    st = mgsd_dataset_load(&l->ds, path, &o);
    if (st == MGSD_OK) st = model_io_check_dataset(&l->ck, l->ds);
    int rc = 0;
    if (st != MGSD_OK) {
        rc = cli_fail(st);
        if (!override_path && st == MGSD_ERR_IO)
            fprintf(stderr, "mgsd: note: %s is the data set path stored in %s; pass --dataset=PATH to read the "
                            "data set from elsewhere\n", path, l->ck.r.path);
    }
    free(resolved);
    return rc;
}

int cli_create_model(cli_loaded *l, const char *section) {
    trainer_settings s;
    mgsd_status st = trainer_settings_read(l->cfg, &s);
    if (st != MGSD_OK) return cli_fail(st);
    if ((st = trainer_apply_cpu_settings(&s)) != MGSD_OK) return cli_fail(st);
    model_info info = {l->ck.n_items, l->ck.n_users, s.max_len};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, s.seed);
    st = model_create(&l->model, l->ck.model_name, l->cfg, &info, &rng);
    if (st != MGSD_OK) return cli_fail(st);
    if (!section) section = ckpt_reader_get(&l->ck.r, "best_params") ? "best_params" : "params";
    st = model_io_load_values(&l->ck, section, &l->model->params);
    if (st != MGSD_OK) {
        int rc = cli_fail(st);
        cli_note_overrides(l, st);
        return rc;
    }
    return 0;
}

void cli_note_overrides(const cli_loaded *l, mgsd_status st) {
    if (st != MGSD_ERR_FORMAT || !l->overrides) return; /* a layout mismatch the command line may have caused */
    fprintf(stderr,
            "mgsd: note: the command line sets %s; keys that shape the model (sizes, layers, heads, max length) "
            "must keep the values %s was trained with\n",
            l->overrides, l->ck.r.path);
}

/* Injected-noise detection: the MGSD discriminator's clean margins of every token
 * the scorer sees, with the injector's labels. */
typedef struct injected_detection {
    mgsd_model *model;
    mgsd_tape *tape;
    float *clean;
    uint8_t *label;
    int64_t n, cap;
} injected_detection;

static mgsd_status observe_injected(void *ctx, const mgsd_batch *b, const uint8_t *injected) {
    injected_detection *d = ctx;
    int64_t ntok = b->offs[b->B];
    if (d->n + ntok > d->cap) {
        int64_t cap = d->cap * 2 > d->n + ntok ? d->cap * 2 : d->n + ntok;
        float *c = realloc(d->clean, sizeof(float) * (size_t)cap);
        if (c) d->clean = c;
        uint8_t *l = c ? realloc(d->label, (size_t)cap) : NULL;
        if (l) d->label = l;
        if (!c || !l) return MGSD_ERR_NOMEM;
        d->cap = cap;
    }
    MGSD_TRY(mgsd_batch_clean_scores(d->model, d->tape, b, d->clean + d->n));
    memcpy(d->label + d->n, injected, (size_t)ntok);
    d->n += ntok;
    return MGSD_OK;
}

static void print_noise_report(const char *what, double keep_thr, const mgsd_noise_report *nr) {
    printf("noise detection (%s): %lld history items, %lld noise, %lld flagged (p_clean <= %g: dropped), AUC of the clean margin\n"
           "  precision %.4f  recall %.4f  f1 %.4f  AUC %.4f\n",
           what, (long long)nr->n, (long long)nr->n_noise, (long long)nr->n_flagged, keep_thr, nr->precision,
           nr->recall, nr->f1, nr->auc);
}

static void json_noise_report(cJSON *o, const char *key, const char *labels, double keep_thr,
                              const mgsd_noise_report *nr) {
    cJSON *nd = cJSON_AddObjectToObject(o, key);
    if (labels) cJSON_AddStringToObject(nd, "labels", labels);
    cJSON_AddNumberToObject(nd, "keep_threshold", keep_thr);
    cJSON_AddNumberToObject(nd, "interactions", (double)nr->n);
    cJSON_AddNumberToObject(nd, "noise", (double)nr->n_noise);
    cJSON_AddNumberToObject(nd, "flagged", (double)nr->n_flagged);
    cJSON_AddNumberToObject(nd, "precision", nr->precision);
    cJSON_AddNumberToObject(nd, "recall", nr->recall);
    cJSON_AddNumberToObject(nd, "f1", nr->f1);
    cJSON_AddNumberToObject(nd, "auc", nr->auc);
}

static void eval_usage(FILE *f) {
    fprintf(f, "usage: mgsd eval --checkpoint=FILE [--dataset=PATH] [--split=test|valid] [--json]\n"
               "                 [--inject-noise=R] [--noise-seed=S] [--noise-labels=FILE] [--ranks=FILE]\n"
               "                 [--key=value ...]\n\n"
               "Full-ranking evaluation of a checkpoint (the best-validation parameters when the file holds\n"
               "both). The dataset is re-read from the path stored in the checkpoint (or --dataset) with the\n"
               "stored filters and must have the same id maps. --key=value overrides evaluation keys such as\n"
               "--topk=[1,5,10] or --eval_batch_size=512. --eval_mask_history=true ranks each target among\n"
               "the items not in the user's history (how the ICLRec and CoSeRec code evaluates; RecBole, the\n"
               "default, ranks it among all items).\n"
               "--inject-noise=R (0..1) inserts round(R x len) random items at random positions of every\n"
               "evaluation history before scoring (seeded by --noise-seed, default the run's seed); for\n"
               "MGSD checkpoints the discriminator is also scored at finding the inserted items.\n"
               "For MGSD checkpoints, when ground-truth noise labels exist (--noise-labels, default\n"
               "DATASET.noise as written by `mgsd synth`), the discriminator's precision, recall and AUC\n"
               "at detecting the planted noise items are reported too.\n"
               "--ranks=FILE writes every evaluated user's target item and its rank (1 = first) as\n"
               "TSV (user_id, item_id, rank): `mgsd compare A B` tests two such files against each\n"
               "other, user by user.\n"
               "--group-by=length|popularity[:E1,E2,...] also reports the metrics per group of users: by\n"
               "the history's length (groups [1,E1), [E1,E2), ..., default edges 5,10,20,50) or by the\n"
               "target item's popularity, its number of training instances (groups [0,E1), ..., default\n"
               "5,10,20,50,100): where a model wins or loses, e.g. on rare items.\n");
}

/* --group-by=length|popularity[:E1,E2,...] into o's grouping; 0, or 2 after an error message. */
static int parse_group_by(const char *v, mgsd_eval_options *o) {
    static const int def_len[] = {5, 10, 20, 50}, def_pop[] = {5, 10, 20, 50, 100};
    const char *colon = strchr(v, ':');
    size_t nl = colon ? (size_t)(colon - v) : strlen(v);
    if (nl == 6 && !strncmp(v, "length", 6)) o->bucket_by = MGSD_EVAL_BY_LENGTH;
    else if (nl == 10 && !strncmp(v, "popularity", 10)) o->bucket_by = MGSD_EVAL_BY_POPULARITY;
    else {
        fprintf(stderr, "mgsd: error: eval: --group-by expects length or popularity (optionally :E1,E2,...), got '%s'\n", v);
        return 2;
    }
    const int by_pop = o->bucket_by == MGSD_EVAL_BY_POPULARITY, min_edge = by_pop ? 1 : 2;
    o->n_bucket_edges = 0;
    if (!colon) {
        const int *d = by_pop ? def_pop : def_len;
        int n = by_pop ? 5 : 4;
        for (int i = 0; i < n; i++) o->bucket_edges[o->n_bucket_edges++] = d[i];
        return 0;
    }
    const char *p = colon + 1;
    for (;;) {
        char *end;
        long e = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || e < min_edge || e > INT32_MAX ||
            (o->n_bucket_edges && e <= o->bucket_edges[o->n_bucket_edges - 1]) ||
            o->n_bucket_edges == MGSD_EVAL_MAX_BUCKETS - 1) {
            fprintf(stderr, "mgsd: error: eval: --group-by=%s: edges must be increasing integers >= %d, at most %d "
                            "of them\n", v, min_edge, MGSD_EVAL_MAX_BUCKETS - 1);
            return 2;
        }
        o->bucket_edges[o->n_bucket_edges++] = (int)e;
        if (!*end) return 0;
        p = end + 1;
    }
}

static void group_name(const mgsd_eval_result *r, int g, char *buf, size_t cap) {
    if (r->bucket_hi[g] == INT32_MAX) snprintf(buf, cap, "%d+", r->bucket_lo[g]);
    else snprintf(buf, cap, "%d-%d", r->bucket_lo[g], r->bucket_hi[g] - 1);
}

int cli_cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *dataset = NULL, *split = "test", *labels_path = NULL, *ranks_path = NULL, *v;
    const char *group_by = NULL;
    int json = 0, nk = 0, have_seed = 0;
    double inject = 0;
    unsigned long long noise_seed = 0;
    char **kv = cli_calloc((size_t)argc + 1, sizeof *kv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            eval_usage(stdout);
            free(kv);
            return 0;
        } else if ((v = cli_opt(a, "--checkpoint"))) ckpt = v;
        else if ((v = cli_opt(a, "--dataset"))) dataset = v;
        else if ((v = cli_opt(a, "--split"))) split = v;
        else if ((v = cli_opt(a, "--noise-labels"))) labels_path = v;
        else if ((v = cli_opt(a, "--ranks"))) ranks_path = v;
        else if ((v = cli_opt(a, "--group-by"))) group_by = v;
        else if ((v = cli_opt(a, "--inject-noise")) || (v = cli_opt(a, "--noise-seed"))) {
            char *end;
            int is_seed = a[2] == 'n';
            double d = is_seed ? (double)strtoull(v, &end, 10) : strtod(v, &end);
            if (*end || !*v || (!is_seed && !(d >= 0 && d <= 1))) {
                fprintf(stderr, "mgsd: error: eval: %s expects %s, got '%s'\n", is_seed ? "--noise-seed" : "--inject-noise",
                        is_seed ? "a non-negative integer" : "a ratio in [0, 1]", v);
                free(kv);
                return 2;
            }
            if (is_seed) {
                noise_seed = strtoull(v, NULL, 10);
                have_seed = 1;
            } else {
                inject = d;
            }
        }
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strncmp(a, "--", 2) && strchr(a, '=')) kv[nk++] = argv[i];
        else {
            fprintf(stderr, "mgsd: error: eval: unknown option '%s'\n\n", a);
            eval_usage(stderr);
            free(kv);
            return 2;
        }
    }
    if (!ckpt || (strcmp(split, "test") && strcmp(split, "valid"))) {
        fprintf(stderr, ckpt ? "mgsd: error: eval: --split must be test or valid\n\n"
                             : "mgsd: error: eval: --checkpoint=FILE is required\n\n");
        eval_usage(stderr);
        free(kv);
        return 2;
    }
    mgsd_eval_options groups; /* --group-by, checked before anything loads */
    mgsd_eval_options_default(&groups);
    if (group_by && parse_group_by(group_by, &groups)) {
        free(kv);
        return 2;
    }
    cli_loaded l;
    int rc = cli_load_checkpoint(&l, ckpt, nk, kv);
    free(kv);
    if (rc) return rc;
    cli_print_warnings(l.cfg);
    if ((rc = cli_load_dataset(&l, dataset)) || (rc = cli_create_model(&l, NULL))) {
        cli_loaded_free(&l);
        return rc;
    }
    trainer_settings s;
    trainer_settings_read(l.cfg, &s);
    s.eval.bucket_by = groups.bucket_by;
    s.eval.n_bucket_edges = groups.n_bucket_edges;
    memcpy(s.eval.bucket_edges, groups.bucket_edges, sizeof groups.bucket_edges);
    mgsd_tape tape;
    mgsd_status st = ag_tape_init(&tape, 0, s.seed);
    mgsd_eval_result r;
    model_scorer sc = {l.model, &tape};
    mgsd_noise_injector *inj = NULL;
    int is_mgsd = !strcasecmp(l.ck.model_name, "MGSD");
    double thr = 0.5; /* MGSD's keep_threshold: items with p_clean <= thr are flagged (dropped) */
    if (is_mgsd) (void)mgsd_config_get_float(l.cfg, "keep_threshold", &thr);
    injected_detection det = {l.model, &tape, NULL, NULL, 0, 0};
    int64_t *user_ranks = NULL;
    int32_t *user_targets = NULL;
    if (st == MGSD_OK && ranks_path) {
        int32_t U = mgsd_dataset_num_users(l.ds);
        user_ranks = malloc(sizeof *user_ranks * ((size_t)U + 1));
        user_targets = calloc((size_t)U + 1, sizeof *user_targets);
        if (!user_ranks || !user_targets) st = MGSD_ERR_NOMEM;
        for (int32_t u = 0; st == MGSD_OK && u <= U; u++) user_ranks[u] = -1;
        s.eval.user_ranks = user_ranks;
        s.eval.user_targets = user_targets;
    }
    if (st == MGSD_OK && inject > 0) {
        st = mgsd_noise_injector_init(&inj, model_scorer_fn, &sc, inject, l.ck.n_items, s.max_len, s.eval.batch_size,
                                      have_seed ? noise_seed : s.seed);
        if (st == MGSD_OK && is_mgsd) mgsd_noise_injector_observe(inj, observe_injected, &det);
    }
    if (st == MGSD_OK)
        st = mgsd_eval_run(l.ds, strcmp(split, "test") ? MGSD_SPLIT_VALID : MGSD_SPLIT_TEST,
                           inj ? mgsd_noise_injector_score : model_scorer_fn, inj ? (void *)inj : (void *)&sc, &s.eval, &r);
    int64_t inserted = inj ? mgsd_noise_injector_inserted(inj) : 0;
    mgsd_noise_injector_free(inj);
    mgsd_noise_report inr;
    int have_injected = 0;
    if (st == MGSD_OK && det.n > 0) {
        st = mgsd_eval_noise(det.clean, det.label, det.n, 0.0, &inr);
        have_injected = st == MGSD_OK;
    }
    free(det.clean);
    free(det.label);
    /* noise detection against planted labels (MGSD only) */
    int have_noise = 0;
    mgsd_noise_report nr;
    char def[4096];
    if (st == MGSD_OK && is_mgsd) {
        const char *dpath = dataset ? dataset : l.ck.data_path;
        if (!labels_path && dpath) {
            snprintf(def, sizeof def, "%s.noise", dpath);
            if (access(def, R_OK) == 0) labels_path = def;
        }
        if (labels_path) {
            uint8_t *row_labels = NULL;
            int64_t n_rows = 0, n = mgsd_dataset_num_interactions(l.ds);
            uint8_t *lab = malloc((size_t)n + 1);
            float *clean = malloc(sizeof(float) * ((size_t)n + 1));
            st = lab && clean ? mgsd_data_read_noise_labels(labels_path, &row_labels, &n_rows) : MGSD_ERR_NOMEM;
            if (st == MGSD_OK) st = mgsd_dataset_map_row_labels(l.ds, row_labels, n_rows, lab);
            if (st == MGSD_OK) st = mgsd_clean_scores(l.model, &tape, l.ds, clean);
            if (st == MGSD_OK) st = mgsd_eval_noise(clean, lab, n, 0.0, &nr);
            if (st == MGSD_OK) have_noise = 1;
            mgsd_data_free_labels(row_labels);
            free(lab);
            free(clean);
        }
    }
    /* written last, so a failed evaluation leaves no rank file */
    if (st == MGSD_OK && ranks_path) st = mgsd_rank_file_write(ranks_path, l.ds, user_ranks, user_targets);
    free(user_ranks);
    free(user_targets);
    ag_tape_free(&tape);
    if (st != MGSD_OK) {
        rc = cli_fail(st);
        cli_loaded_free(&l);
        return rc;
    }
    if (json) {
        char *m = trainer_metrics_json(&r);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "checkpoint", ckpt);
        cJSON_AddStringToObject(o, "model", l.ck.model_name);
        cJSON_AddStringToObject(o, "dataset", l.ds ? (dataset ? dataset : l.ck.data_path) : "");
        cJSON_AddStringToObject(o, "split", split);
        cJSON_AddNumberToObject(o, "users", (double)r.all.n_users);
        char mode[32];
        mgsd_eval_mode_name(r.n_neg, r.neg_pop, mode, sizeof mode);
        cJSON_AddStringToObject(o, "eval_mode", mode);
        cJSON_AddBoolToObject(o, "eval_mask_history", s.eval.mask_history);
        cJSON_AddNumberToObject(o, "seconds", r.seconds);
        cJSON_AddItemToObject(o, "metrics", m ? cJSON_Parse(m) : cJSON_CreateObject());
        if (inject > 0) {
            cJSON_AddNumberToObject(o, "inject_noise", inject);
            cJSON_AddNumberToObject(o, "inserted_items", (double)inserted);
        }
        if (ranks_path) cJSON_AddStringToObject(o, "ranks_file", ranks_path);
        if (r.n_buckets) {
            cJSON *gs = cJSON_AddObjectToObject(o, "groups");
            cJSON_AddStringToObject(gs, "by", r.bucket_by == MGSD_EVAL_BY_POPULARITY ? "popularity" : "length");
            cJSON *arr = cJSON_AddArrayToObject(gs, "groups");
            for (int g = 0; g < r.n_buckets; g++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "lo", r.bucket_lo[g]);
                if (r.bucket_hi[g] == INT32_MAX) cJSON_AddNullToObject(e, "hi");
                else cJSON_AddNumberToObject(e, "hi", r.bucket_hi[g]);
                cJSON_AddNumberToObject(e, "users", (double)r.bucket[g].n_users);
                cJSON *mm = cJSON_AddObjectToObject(e, "metrics");
                char key[32];
                double val;
                for (int i = 0; i < mgsd_eval_bucket_entry_count(&r); i++)
                    if (mgsd_eval_bucket_entry(&r, g, i, key, sizeof key, &val) == MGSD_OK)
                        cJSON_AddNumberToObject(mm, key, val);
                cJSON_AddItemToArray(arr, e);
            }
        }
        if (have_noise) json_noise_report(o, "noise_detection", labels_path, thr, &nr);
        if (have_injected) json_noise_report(o, "injected_noise_detection", NULL, thr, &inr);
        char *txt = cJSON_PrintUnformatted(o);
        if (txt) printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(o);
        mgsd_free(m);
    } else {
        char mode[96] = "";
        if (r.n_neg > 0) {
            snprintf(mode, sizeof mode, "; target against %d sampled negatives, ", r.n_neg);
            mgsd_eval_mode_name(r.n_neg, r.neg_pop, mode + strlen(mode), sizeof mode - strlen(mode));
        }
        if (s.eval.mask_history) snprintf(mode + strlen(mode), sizeof mode - strlen(mode), "; history items masked");
        printf("%s on %s split of %s (%lld users, %.2f s%s)\n", l.ck.model_name, split, l.ck.data_path,
               (long long)r.all.n_users, r.seconds, mode);
        char key[32];
        double val;
        int width = 10;
        for (int i = 0; i < mgsd_eval_entry_count(&r); i++)
            if (mgsd_eval_entry(&r, i, key, sizeof key, &val) == MGSD_OK && (int)strlen(key) > width) width = (int)strlen(key);
        for (int i = 0; i < mgsd_eval_entry_count(&r); i++)
            if (mgsd_eval_entry(&r, i, key, sizeof key, &val) == MGSD_OK) printf("  %-*s %.4f\n", width, key, val);
        if (r.n_buckets) {
            printf("by %s:\n  %-10s %7s", r.bucket_by == MGSD_EVAL_BY_POPULARITY
                                             ? "the target's popularity (training instances of the item)"
                                             : "history length",
                   "group", "users");
            for (int i = 0; i < mgsd_eval_bucket_entry_count(&r); i++)
                if (mgsd_eval_bucket_entry(&r, 0, i, key, sizeof key, &val) == MGSD_OK) printf(" %10s", key);
            printf("\n");
            for (int g = 0; g < r.n_buckets; g++) {
                char name[32];
                group_name(&r, g, name, sizeof name);
                printf("  %-10s %7lld", name, (long long)r.bucket[g].n_users);
                for (int i = 0; i < mgsd_eval_bucket_entry_count(&r); i++)
                    if (mgsd_eval_bucket_entry(&r, g, i, key, sizeof key, &val) == MGSD_OK) printf(" %10.4f", val);
                printf("\n");
            }
        }
        if (inject > 0) printf("histories with injected noise: ratio %.3f, %lld items inserted\n", inject, (long long)inserted);
        if (ranks_path) printf("per-user ranks written to %s\n", ranks_path);
        if (have_noise) print_noise_report(labels_path, thr, &nr);
        if (have_injected) print_noise_report("injected items, evaluation histories", thr, &inr);
    }
    cli_loaded_free(&l);
    return 0;
}
