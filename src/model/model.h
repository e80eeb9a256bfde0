/* The model interface: every recommender (SASRec, BERT4Rec, GRU4Rec, later MGSD) is a
 * small vtable registered by name in src/model/registry.c. The trainer, evaluation,
 * checkpoints and the CLI only talk to models through this interface.
 *
 * Life cycle: model_create(name, cfg, info, rng) -> the model declares its parameters
 * into one mgsd_params (src/train/params.h) and reads its hyper-parameters from cfg (its
 * own defaults table was added to cfg beforehand from vt->defaults). Then per step:
 * ag_tape_reset; loss = vt->loss(m, tape, batch); ag_backward; optimiser step. For
 * evaluation: vt->scores(m, tape, batch, scores) with tape->training = 0 and
 * tape->grad_enabled = 0 writes B x n_items scores (item 0 included, ignored). */
#ifndef MGSD_MODEL_MODEL_H
#define MGSD_MODEL_MODEL_H

#include "autograd/ag.h"
#include "mgsd/config.h"
#include "mgsd/data.h"
#include "train/params.h"

typedef struct model_info {
    int32_t n_items;  /* N: item ids 0..N-1, 0 = padding */
    int32_t n_users;  /* U: user ids 1..U */
    int max_len;      /* L: MAX_ITEM_LIST_LENGTH */
} model_info;

typedef struct mgsd_model mgsd_model;

/* Evaluation-mode readers (model_scorer_fn, MGSD's clean scores) run forward passes of
 * at most MODEL_SCORE_CHUNK rows: the tape keeps every activation of a pass, so this
 * bounds its memory. */
#define MODEL_SCORE_CHUNK 256

typedef struct model_vtable {
    const char *name;                  /* "SASRec" (matched case-insensitively) */
    const char *help;                  /* one line */
    const mgsd_config_entry *defaults; /* the model's own keys and overridden defaults */
    size_t n_defaults;
    /* Read hyper-parameters from cfg, declare and initialise parameters into m->params
     * (values from rng), set m->impl. Errors name the offending key. */
    mgsd_status (*create)(mgsd_model *m, const mgsd_config *cfg, const model_info *info, mgsd_rng *rng);
    /* Scalar training loss of a batch (mean over its rows); NULL with the error in the
     * tape. Uses t->rng for dropout/masking/noise. */
    mgsd_tensor *(*loss)(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b);
    /* scores[b * n_items + i] for every row of b and every item. */
    mgsd_status (*scores)(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *scores);
    /* Called at each global training step before loss(), e.g. for annealed temperatures
     * (may be NULL). */
    void (*on_step)(mgsd_model *m, int64_t global_step, int64_t epoch);
    /* Frees impl (not params); NULL: impl is one allocation, freed with mgsd_free. */
    void (*destroy)(mgsd_model *m);
    /* The unweighted terms of a composite loss, as computed by the last loss() call (may
     * be NULL: the loss is one term). Writes at most MODEL_MAX_LOSS_PARTS names (static
     * strings, the same list at every call) and values; returns how many. */
    int (*loss_parts)(const mgsd_model *m, const char **names, double *values);
    /* Statistics of the last loss() call that show how training goes beside the loss (may
     * be NULL), in the contract of loss_parts with at most MODEL_MAX_TRAIN_STATS; the
     * trainer reports their means over each epoch's steps. A NaN value is "not measured at
     * this step" and stays out of the mean. */
    int (*train_stats)(const mgsd_model *m, const char **names, double *values);
} model_vtable;

#define MODEL_MAX_LOSS_PARTS 4
#define MODEL_MAX_TRAIN_STATS 4

struct mgsd_model {
    const model_vtable *vt;
    model_info info;
    mgsd_params params;
    void *impl;
};

/* Registry. */
const model_vtable *model_find(const char *name);
/* NULL-terminated list of all registered models. */
const model_vtable *const *model_list(void);

/* Create a model by name (MGSD_ERR_NOT_FOUND lists the known names). The model's
 * defaults table must already be in cfg (model_add_defaults). */
mgsd_status model_add_defaults(mgsd_config *cfg, const char *name);
mgsd_status model_create(mgsd_model **out, const char *name, const mgsd_config *cfg, const model_info *info,
                         mgsd_rng *rng);
void model_free(mgsd_model *m);

#endif
