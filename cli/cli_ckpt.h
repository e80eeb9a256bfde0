/* Shared by `mgsd train`, `mgsd eval` and `mgsd recommend`: rebuild a model from a
 * checkpoint, and small argument helpers. Functions print `mgsd: error: ...` themselves
 * and return the exit code (0 ok, 1 runtime error, 2 usage error). */
#ifndef MGSD_CLI_CKPT_H
#define MGSD_CLI_CKPT_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "mgsd/config.h"
#include "mgsd/data.h"
#include "model/model.h"
#include "train/model_io.h"

/* malloc / calloc / strdup for the commands' own small buffers (argument copies, paths, one
 * history's scores): on failure they print "mgsd: error: out of memory ..." and exit 1. Used
 * only where no output file is open, so the exit leaves nothing half-written. */
void *cli_alloc(size_t n);
void *cli_calloc(size_t n, size_t size);
char *cli_strdup(const char *s);

/* Value of "--key=VALUE" or NULL. */
const char *cli_opt(const char *arg, const char *key);
/* Print the last library error and return the exit code for status s
 * (2 for MGSD_ERR_CONFIG / MGSD_ERR_INVALID_ARG, else 1). */
int cli_fail(mgsd_status s);
/* Print config warnings (unknown keys) to stderr. */
void cli_print_warnings(mgsd_config *c);

/* A loaded checkpoint with its config (model table + stored values + argv overrides). */
typedef struct cli_loaded {
    model_io_ckpt ck;
    mgsd_config *cfg;
    mgsd_dataset *ds;   /* when loaded */
    mgsd_model *model;  /* when created */
    char *overrides;    /* the command line's --key=value config overrides, blank-separated (NULL: none) */
} cli_loaded;

int cli_load_checkpoint(cli_loaded *l, const char *path, int argc, char *const *argv);
/* Load the dataset (path from --dataset or the checkpoint) with the stored filters and
 * check it has the checkpoint's id maps. */
int cli_load_dataset(cli_loaded *l, const char *override_path);
/* Create the model (n_items/n_users from the checkpoint) and load `section` values
 * (NULL: best_params when present, else params). */
int cli_create_model(cli_loaded *l, const char *section);
void cli_loaded_free(cli_loaded *l);
/* After a failed parameter load (st): when the command line set config keys, a note that
 * keys shaping the model must keep the checkpoint's values, naming what it set. */
void cli_note_overrides(const cli_loaded *l, mgsd_status st);
/* The history to score: --user (full sequence from the dataset, loaded here) or --history
 * (item tokens via the checkpoint's map). *out is malloc'ed; returns an exit code. */
int cli_history(cli_loaded *l, const char *user, const char *history, const char *dataset, int32_t **out,
                int32_t *out_n);

/* RecBole-style dataset resolution: PATH if it is a file, else
 * <data_path>/<name>/<name>.inter. Returns a malloc'ed path or NULL (error printed). */
char *cli_resolve_dataset(const char *value, const char *data_path);

/* Options shared by recommend and explain: --checkpoint, exactly one of --user/--history
 * (recommend: or --all-users / --users=FILE, with --output=FILE),
 * --dataset, --topk, --json, plus the command's own boolean flags (NULL-terminated list;
 * flag_set[k] = 1 when present). Returns an exit code; t->ok = 1 when the command should
 * run (0 with t->ok = 0 after --help). */
typedef struct cli_target {
    const char *ckpt, *user, *history, *dataset;
    /* batch mode (only when cli_target_parse is called with batch = 1): --all-users or
     * --users=FILE in place of --user/--history, and --output=FILE */
    const char *users_file, *output;
    int all_users;
    long topk;
    int json, ok;
    char *kv[8]; /* "--threads=N" and "--keep_threshold=P" as given (the last wins): config overrides */
    int n_kv;
} cli_target;
/* Add "items": [{"item": token, "score": s}, ...] for the top-K ids to o. */
void cli_json_add_topk(cJSON *o, const model_io_ckpt *ck, const int32_t *top, const float *score, int n);
/* Print o as one line of JSON on stdout and free it. */
void cli_json_print(cJSON *o);
int cli_target_parse(cli_target *t, int argc, char **argv, const char *cmd, void (*usage)(FILE *),
                     const char *const *flags, int *flag_set, int batch);

#endif
