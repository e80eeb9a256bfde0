/* Model checkpoints: what `mgsd train` saves and `mgsd eval` / `mgsd recommend` /
 * `--resume` load, on top of the section container of checkpoint.h.
 *
 * Sections (docs/checkpoint.md):
 *   model        model name ("SASRec")
 *   config       mgsd_config_serialize text of the run's configuration
 *   dataset      "mgsd-dataset 1\n<data path>\n<N-1> <U>\n" then the N-1 item tokens in id
 *                order (ids 1..N-1), then the U user tokens (ids 1..U), one per line
 *   params       parameter values (params->total float32, padding included)
 *   params_layout u64 params_layout_hash
 *   best_params  (optional) values of the best-validation epoch when they differ from params
 *   adam_m, adam_v (optional) Adam moments, same layout
 *   state, history (optional) trainer state (binary, owned by trainer.c) and the per-epoch
 *                records (JSON text)
 *
 * This module does not need the model registry: model_io_open reads the name, config and
 * id maps; the caller creates the model (model_create) and then loads the values with
 * model_io_load_params. */
#ifndef MGSD_TRAIN_MODEL_IO_H
#define MGSD_TRAIN_MODEL_IO_H

#include <stdint.h>

#include "mgsd/config.h"
#include "mgsd/data.h"
#include "model/model.h"
#include "train/checkpoint.h"
#include "train/optim.h"

typedef struct model_io_save_args {
    const char *model_name;
    mgsd_config *cfg;
    const char *dataset_section; /* from model_io_dataset_section */
    size_t dataset_len;
    const mgsd_params *params;
    const mgsd_params *best_params; /* NULL: not written */
    const optim_adam *adam;         /* NULL: moments not written */
    const void *state;              /* NULL: not written */
    size_t state_len;
    const char *history;            /* NULL: not written */
    size_t history_len;
    const void *loss_parts;         /* NULL: not written (section "loss_parts") */
    size_t loss_parts_len;
    const void *train_stats;        /* NULL: not written (section "train_stats") */
    size_t train_stats_len;
    const void *grad_stats;         /* NULL: not written (section "grad_stats") */
    size_t grad_stats_len;
} model_io_save_args;

/* Build the "dataset" section of ds (caller frees *out with mgsd_free). */
mgsd_status model_io_dataset_section(const mgsd_dataset *ds, const char *data_path, char **out, size_t *len);

/* Write a checkpoint atomically (PATH.tmp + rename). */
mgsd_status model_io_save(const char *path, const model_io_save_args *a);

typedef struct model_io_ckpt {
    ckpt_reader r;
    char *model_name;     /* owned */
    const char *config;   /* serialised config, into r */
    uint64_t config_len;
    char *data_path;      /* owned */
    int32_t n_items;      /* N, padding included */
    int32_t n_users;      /* U */
    char **item_names;    /* [N], [0] = NULL; into names_buf */
    char **user_names;    /* [U + 1], [0] = NULL */
    char *names_buf;
} model_io_ckpt;

/* Open and verify a checkpoint; checks that model, config, dataset and params exist.
 * Errors name the file (truncated / corrupt / missing section). On error *ck is zeroed. */
mgsd_status model_io_open(model_io_ckpt *ck, const char *path);
/* Same from bytes in memory (copied); `name` stands for the file in messages. */
mgsd_status model_io_open_buffer(model_io_ckpt *ck, const char *name, const void *bytes, uint64_t size);
void model_io_close(model_io_ckpt *ck);

/* Load the values of section `section` ("params" or "best_params") into p; a layout
 * hash or size mismatch is MGSD_ERR_FORMAT naming the file. MGSD_ERR_NOT_FOUND when the
 * section is absent. */
mgsd_status model_io_load_values(const model_io_ckpt *ck, const char *section, mgsd_params *p);
/* Adam moments (and nothing else) into o; MGSD_ERR_NOT_FOUND when absent. */
mgsd_status model_io_load_adam(const model_io_ckpt *ck, optim_adam *o);

/* Dense id of an item / user token in the stored maps, -1 if unknown. */
int32_t model_io_find_item(const model_io_ckpt *ck, const char *name);
int32_t model_io_find_user(const model_io_ckpt *ck, const char *name);

/* MGSD_OK when ds has exactly the stored id maps, else MGSD_ERR_FORMAT explaining the
 * difference (e.g. the file changed or other filters were used). */
mgsd_status model_io_check_dataset(const model_io_ckpt *ck, const mgsd_dataset *ds);

/* Evaluation scores through the model vtable (tape in eval mode, no gradients): an
 * mgsd_score_fn for mgsd_eval_run with user = model_scorer *. A batch is scored in
 * forward passes of at most MODEL_SCORE_CHUNK rows (model.h). */
typedef struct model_scorer {
    mgsd_model *model;
    mgsd_tape *tape;
} model_scorer;
mgsd_status model_scorer_fn(void *scorer, const mgsd_batch *batch, float *scores);

#endif
