/* The training loop: epochs over the train split, Adam, optional clipping and warm-up,
 * validation every eval_step epochs, early stopping, best-parameter copy, checkpoints.
 * Never prints: progress goes through trainer_callbacks (the CLI draws it).
 *
 * Determinism: the train order of epoch e is a pure function of (seed, e); the tape RNG
 * (dropout, masking, negatives) is reseeded before global step g from (seed, g); so a run
 * resumed from any checkpoint (best, last or interrupted mid-epoch) continues bit for bit.
 * Epochs are numbered from 0, as RecBole prints them.
 *
 * Memory: the batch, the tape arena, Adam moments and the best-parameter copy are
 * allocated in trainer_init; a training step allocates nothing once the arena is warm. */
#ifndef MGSD_TRAIN_TRAINER_H
#define MGSD_TRAIN_TRAINER_H

#include <stdint.h>

#include "mgsd/config.h"
#include "mgsd/data.h"
#include "mgsd/eval.h"
#include "model/model.h"
#include "train/model_io.h"

/* Settings read from the config (keys in docs/config.md and docs/cli.md). */
/* lr_schedule: constant; linear = per optimiser step over epochs x T steps (transformers'
 * get_linear_schedule_with_warmup); epoch_linear = the MGSD-WSS reference's MgsdTrainer, a
 * WarmupLinearSchedule with t_total = T (steps per epoch) stepped once per epoch, so epoch e
 * (0-based) trains at lr x (e < w ? e / w : max(0, (T - e) / (T - w))), w = warm_up_ratio x T. */
typedef enum trainer_lr_schedule { TRAINER_LR_CONSTANT, TRAINER_LR_LINEAR, TRAINER_LR_EPOCH_LINEAR } trainer_lr_schedule;

typedef struct trainer_settings {
    uint64_t seed;
    int threads;
    int flush_denormals;   /* set the CPU's flush-to-zero mode (mgsd_set_flush_denormals) */
    double memory_limit;   /* GiB, 0 = the default (mgsd_set_memory_limit) */
    int epochs;            /* total epochs of the run (--epochs caps) */
    int batch_size;        /* train_batch_size */
    int max_len;           /* MAX_ITEM_LIST_LENGTH */
    optim_adam_config adam;
    double clip_grad_norm; /* 0 = off */
    trainer_lr_schedule lr_schedule;
    double warm_up_ratio;  /* warm-up share of the linear schedules */
    int eval_step;
    int stopping_step;
    int checkpoint_steps;  /* 0: the last checkpoint at epoch ends only */
    char valid_metric[32]; /* lowercase "hit@20" */
    int valid_k;           /* its K */
    int valid_bigger;
    mgsd_eval_options eval;
} trainer_settings;

/* Read and validate the settings (MGSD_ERR_CONFIG naming the key). */
mgsd_status trainer_settings_read(const mgsd_config *cfg, trainer_settings *s);
/* Training validates on valid_metric: its K must be one of topk's cut-offs (MGSD_ERR_CONFIG
 * otherwise). Only training needs this, so eval can take any --topk. */
mgsd_status trainer_check_valid_metric(const trainer_settings *s);
/* The cut-offs of config key `topk` (1 to MGSD_EVAL_MAX_KS values in 1..100000) into
 * eo->ks / eo->n_ks; MGSD_ERR_CONFIG naming the key otherwise. */
mgsd_status trainer_read_topk(const mgsd_config *cfg, mgsd_eval_options *eo);
/* Apply the process-wide CPU settings: thread count, flush-to-zero mode and memory limit. A CPU without
 * a flush-to-zero mode keeps IEEE denormals (slower, same results up to rounding). */
mgsd_status trainer_apply_cpu_settings(const trainer_settings *s);
/* Dataset options from the config (strings point into cfg). */
mgsd_status trainer_data_options(const mgsd_config *cfg, mgsd_data_options *o);
/* A config with the overall table, the model's table (vt may be NULL) and argv applied:
 * the precedence of docs/config.md. On error *out is NULL. */
mgsd_status trainer_config_create(mgsd_config **out, const model_vtable *vt, int argc, char *const *argv);

typedef struct trainer_step_info {
    int64_t epoch, step, n_steps, global_step;
    int64_t instances_done;  /* in this epoch */
    double loss;             /* of this step */
    double epoch_seconds;    /* so far */
    double lr;
} trainer_step_info;

typedef struct trainer_epoch_info {
    int64_t epoch;
    double loss;             /* mean batch loss */
    int n_parts;             /* terms of a composite loss (0: one term), unweighted means */
    const char *part_names[MODEL_MAX_LOSS_PARTS];
    double part_means[MODEL_MAX_LOSS_PARTS];
    int n_stats;             /* the model's train_stats: means over the epoch's steps (NaN: never measured) */
    const char *stat_names[MODEL_MAX_TRAIN_STATS];
    double stat_means[MODEL_MAX_TRAIN_STATS];
    double train_seconds;
    double lr;               /* learning rate of the epoch's last step */
    int lr_scheduled;        /* lr_schedule is not constant */
    /* Global gradient norm before clipping (0 steps: clip_grad_norm = 0, not measured) */
    int64_t grad_steps;
    double grad_norm_mean, grad_norm_max;
    double clipped_fraction; /* of grad_steps, norm > clip_grad_norm */
    int validated;
    int improved;            /* new best (checkpoint written when a best path is set) */
    const mgsd_eval_result *valid;
    double valid_metric;
    int64_t patience;        /* validations without improvement */
    int stop;                /* early stopping triggered */
} trainer_epoch_info;

typedef struct trainer_callbacks {
    void *user;
    void (*on_step)(void *user, const trainer_step_info *s);           /* may be NULL */
    void (*on_epoch)(void *user, const trainer_epoch_info *e);         /* may be NULL */
    void (*on_valid_begin)(void *user, int64_t epoch);                 /* may be NULL */
    /* Polled before every step; nonzero: save the last checkpoint and stop. */
    int (*interrupted)(void *user);                                    /* may be NULL */
} trainer_callbacks;

typedef struct trainer_options {
    const char *model_name;  /* stored in checkpoints */
    const char *data_path;   /* stored in checkpoints (for eval / recommend --user) */
    const char *best_path;   /* NULL: no best checkpoint */
    const char *last_path;   /* NULL: no last checkpoint (at the end or on interrupt) */
} trainer_options;

typedef struct mgsd_trainer mgsd_trainer;

/* cfg, ds and m must outlive the trainer; m's parameters are trained in place. */
mgsd_status trainer_init(mgsd_trainer **out, mgsd_config *cfg, const mgsd_dataset *ds, mgsd_model *m,
                         const trainer_options *opt);
void trainer_free(mgsd_trainer *t);
const trainer_settings *trainer_get_settings(const mgsd_trainer *t);

/* Restore parameters, best parameters, Adam moments, counters and history from a
 * checkpoint written by this trainer (best or last). */
mgsd_status trainer_resume(mgsd_trainer *t, const model_io_ckpt *ck);

/* Train until `epochs`, early stopping or interruption. Returns MGSD_OK when finished
 * (the last checkpoint, if any, is written), MGSD_ERR_INTERRUPTED when cb->interrupted
 * fired (the last checkpoint holds the exact position, mid-epoch included). */
mgsd_status trainer_fit(mgsd_trainer *t, const trainer_callbacks *cb);

/* Copy the best-validation parameters into the model (no-op when no validation ran). */
void trainer_use_best(mgsd_trainer *t);
/* Evaluate the model's current parameters on a split. */
mgsd_status trainer_evaluate(mgsd_trainer *t, mgsd_split split, mgsd_eval_result *out);

int64_t trainer_best_epoch(const mgsd_trainer *t);        /* -1: none */
const mgsd_eval_result *trainer_best_valid(const mgsd_trainer *t); /* NULL: none */
int64_t trainer_epochs_done(const mgsd_trainer *t);
int64_t trainer_global_step(const mgsd_trainer *t);
int trainer_stopped_early(const mgsd_trainer *t);
/* Per-epoch records as a JSON array text: [{epoch, loss, train_seconds, valid: {...}}]. */
const char *trainer_history_json(mgsd_trainer *t);

/* Write results.json atomically (PATH.tmp + rename): config, dataset stats, epochs,
 * best_epoch, best_valid, test (may be NULL), peak_rss_bytes, model, stopped_early. */
mgsd_status trainer_write_results(mgsd_trainer *t, const char *path, const mgsd_eval_result *test,
                                  double total_seconds);

/* Adds a dataset's statistics to the JSON object o: rows_read, users, items, interactions,
 * train/valid/test_instances, seq_len_min/median/mean/max, sparsity (results.json's
 * "dataset" and `mgsd stats --json`). */
struct cJSON;
void trainer_add_data_stats_json(struct cJSON *o, const mgsd_data_stats *s);

/* Metrics of a result as a JSON object text {"hit@5": ...} (owned by the caller: mgsd_free). */
char *trainer_metrics_json(const mgsd_eval_result *r);

#endif
