/* The training loop (see trainer.h). */
#include "train/trainer.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "train/optim.h"

#define TRAINER_STATE_MAGIC 0x5453525400000001ull /* "TRST", version 1 */

/* Checkpoint section "state": 8-byte fields only, host (little-endian) order, followed by
 * the best validation result as an mgsd_eval_result in this build's layout. */
typedef struct trainer_state {
    uint64_t magic;
    uint64_t seed;
    int64_t epoch;          /* epochs completed */
    int64_t step_in_epoch;  /* steps of epoch `epoch` already taken (interrupted run) */
    int64_t global_step;
    int64_t adam_step;
    int64_t best_epoch;     /* -1: none */
    int64_t patience;
    int64_t finished;       /* early stopping triggered */
    int64_t has_best;
    double best_metric;
    double epoch_loss_sum;  /* of the partial epoch */
    double epoch_seconds;   /* of the partial epoch */
} trainer_state;

/* Epoch means of a model hook's named values (model_vtable.loss_parts and .train_stats): the
 * names, and per value the steps of the epoch in progress that measured it (not NaN) and
 * their sum. The sums are checkpointed (sections "loss_parts", "train_stats"), so an epoch
 * resumed mid-way reports all its steps; from a checkpoint without the section, only those
 * after the resume. */
#define HOOK_MAX 4
_Static_assert(MODEL_MAX_LOSS_PARTS <= HOOK_MAX && MODEL_MAX_TRAIN_STATS <= HOOK_MAX, "hook sizes");
typedef int (*hook_fn)(const mgsd_model *m, const char **names, double *values);
typedef struct hook_sums {
    int64_t steps[HOOK_MAX];
    double sum[HOOK_MAX];
} hook_sums;
typedef struct hook_means {
    hook_fn fn; /* NULL: the model has no such hook */
    int n;
    const char *names[HOOK_MAX];
    hook_sums s;
} hook_means;

static void hook_init(hook_means *h, hook_fn fn, int max, const mgsd_model *m) {
    memset(h, 0, sizeof *h);
    h->fn = fn;
    if (!fn) return;
    double v[HOOK_MAX];
    int n = fn(m, h->names, v);
    h->n = n < 0 ? 0 : (n > max ? max : n);
}

/* After a step: add the values the hook measured. */
static void hook_add(hook_means *h, const mgsd_model *m) {
    if (h->n == 0) return;
    const char *names[HOOK_MAX];
    double v[HOOK_MAX];
    int n = h->fn(m, names, v);
    for (int k = 0; k < n && k < h->n; k++)
        if (!isnan(v[k])) {
            h->s.sum[k] += v[k];
            h->s.steps[k]++;
        }
}

/* An optional checkpoint section of fixed size: copied into dst when present with exactly
 * that size (a missing one, or one of an older layout, leaves dst zeroed). */
static void load_optional_section(const model_io_ckpt *ck, const char *section, void *dst, size_t size) {
    const void *d;
    uint64_t n;
    memset(dst, 0, size);
    if (ckpt_reader_get(&ck->r, section) && ckpt_reader_find(&ck->r, section, &d, &n) == MGSD_OK && n == size)
        memcpy(dst, d, size);
}

static void hook_load(hook_means *h, const model_io_ckpt *ck, const char *section) {
    if (h->n > 0) load_optional_section(ck, section, &h->s, sizeof h->s);
    else memset(&h->s, 0, sizeof h->s);
}

/* At the epoch's end: the names and means (NaN: never measured), then the sums restart.
 * Returns how many, 0 when no value was measured at all. */
static int hook_take(hook_means *h, const char **names, double *means) {
    int n = 0;
    for (int k = 0; k < h->n; k++) {
        names[k] = h->names[k];
        means[k] = h->s.steps[k] > 0 ? h->s.sum[k] / (double)h->s.steps[k] : NAN;
        if (h->s.steps[k] > 0) n = h->n;
    }
    memset(&h->s, 0, sizeof h->s);
    return n;
}

static void hook_json(cJSON *rec, const char *key, int n, const char *const *names, const double *means) {
    if (n == 0) return;
    cJSON *o = cJSON_AddObjectToObject(rec, key);
    for (int k = 0; k < n; k++)
        if (isnan(means[k])) cJSON_AddNullToObject(o, names[k]);
        else cJSON_AddNumberToObject(o, names[k], means[k]);
}

/* Global gradient norm before clipping, over the steps of the epoch in progress
 * (checkpointed in section "grad_stats"); measured only when clip_grad_norm > 0, where the
 * norm is computed anyway. */
typedef struct grad_stats_state {
    int64_t steps;   /* since a resume from a checkpoint without the section: only those */
    int64_t clipped; /* steps whose norm exceeded clip_grad_norm */
    double norm_sum, norm_max;
} grad_stats_state;

struct mgsd_trainer {
    mgsd_config *cfg;
    const mgsd_dataset *ds;
    mgsd_model *m;
    trainer_settings s;
    char *model_name, *best_path, *last_path;
    char *ds_section;
    size_t ds_len;
    mgsd_batcher *train_bt;
    mgsd_batch batch;
    mgsd_tape tape;
    optim_adam adam;
    optim_schedule sched;
    mgsd_params best;
    trainer_state st;
    mgsd_eval_result best_res;
    cJSON *history;
    char *history_text;
    hook_means parts; /* terms of a composite loss (model_vtable.loss_parts) */
    hook_means stats; /* the model's training statistics (model_vtable.train_stats) */
    grad_stats_state grads;
};

/* ---- config ------------------------------------------------------------------------ */

mgsd_status trainer_config_create(mgsd_config **out, const model_vtable *vt, int argc, char *const *argv) {
    MGSD_CHECK_ARG(out);
    *out = NULL;
    mgsd_config *c;
    MGSD_TRY(mgsd_config_create(&c));
    size_t n;
    const mgsd_config_entry *ov = mgsd_config_overall_defaults(&n);
    mgsd_status st = mgsd_config_add_defaults(c, "overall", MGSD_CONFIG_LEVEL_OVERALL, ov, n);
    if (st == MGSD_OK && vt && vt->defaults)
        st = mgsd_config_add_defaults(c, vt->name, MGSD_CONFIG_LEVEL_MODEL, vt->defaults, vt->n_defaults);
    if (st == MGSD_OK && argc > 0) st = mgsd_config_apply_args(c, argc, argv);
    if (st == MGSD_OK && vt) st = mgsd_config_set(c, "model", vt->name, MGSD_CONFIG_LEVEL_MODEL, "model");
    if (st != MGSD_OK) {
        mgsd_config_free(c);
        return st;
    }
    *out = c;
    return MGSD_OK;
}

mgsd_status trainer_data_options(const mgsd_config *cfg, mgsd_data_options *o) {
    MGSD_CHECK_ARG(cfg && o);
    mgsd_data_options_default(o);
    MGSD_TRY(mgsd_config_get_str(cfg, "user_inter_num_interval", &o->user_inter_num_interval));
    MGSD_TRY(mgsd_config_get_str(cfg, "item_inter_num_interval", &o->item_inter_num_interval));
    MGSD_TRY(mgsd_config_get_str(cfg, "val_interval", &o->val_interval));
    MGSD_TRY(mgsd_config_get_str(cfg, "rm_dup_inter", &o->rm_dup_inter));
    MGSD_TRY(mgsd_config_get_int(cfg, "MAX_ITEM_LIST_LENGTH", &o->max_item_list_length));
    if (o->max_item_list_length <= 0)
        return mgsd_error(MGSD_ERR_CONFIG, "config key 'MAX_ITEM_LIST_LENGTH' must be positive, got %d",
                          o->max_item_list_length);
    return MGSD_OK;
}

static mgsd_status positive(const char *key, double v, int allow_zero) {
    if (!(v > 0 || (allow_zero && v == 0)) || !isfinite(v))
        return mgsd_error(MGSD_ERR_CONFIG, "config key '%s' must be %s, got %g", key,
                          allow_zero ? ">= 0" : "> 0", v);
    return MGSD_OK;
}

mgsd_status trainer_apply_cpu_settings(const trainer_settings *s) {
    MGSD_CHECK_ARG(s);
    MGSD_TRY(mgsd_set_num_threads(s->threads));
    double lim = s->memory_limit * (double)((size_t)1 << 30);
    mgsd_set_memory_limit(s->memory_limit > 0 && lim < 1 ? 1 : (size_t)lim);
    mgsd_status st = mgsd_set_flush_denormals(s->flush_denormals);
    if (st == MGSD_ERR_UNSUPPORTED) mgsd_clear_error();
    return st == MGSD_ERR_UNSUPPORTED ? MGSD_OK : st;
}

mgsd_status trainer_read_topk(const mgsd_config *cfg, mgsd_eval_options *eo) {
    const int64_t *ks;
    size_t nk;
    MGSD_TRY(mgsd_config_get_int_list(cfg, "topk", &ks, &nk));
    if (nk == 0 || nk > MGSD_EVAL_MAX_KS)
        return mgsd_error(MGSD_ERR_CONFIG, "config key 'topk' needs 1 to %d cut-offs, got %zu", MGSD_EVAL_MAX_KS, nk);
    eo->n_ks = (int)nk;
    for (size_t i = 0; i < nk; i++) {
        if (ks[i] <= 0 || ks[i] > 100000)
            return mgsd_error(MGSD_ERR_CONFIG, "config key 'topk': cut-off %lld is out of range", (long long)ks[i]);
        eo->ks[i] = (int)ks[i];
    }
    return MGSD_OK;
}

mgsd_status trainer_settings_read(const mgsd_config *cfg, trainer_settings *s) {
    MGSD_CHECK_ARG(cfg && s);
    memset(s, 0, sizeof *s);
    int seed;
    const char *learner, *vm;
    MGSD_TRY(mgsd_config_get_int(cfg, "seed", &seed));
    s->seed = (uint64_t)(int64_t)seed;
    MGSD_TRY(mgsd_config_get_int(cfg, "threads", &s->threads));
    MGSD_TRY(mgsd_config_get_bool(cfg, "flush_denormals", &s->flush_denormals));
    MGSD_TRY(mgsd_config_get_float(cfg, "memory_limit", &s->memory_limit));
    if (!(s->memory_limit >= 0 && s->memory_limit <= 1 << 20))
        return mgsd_error(MGSD_ERR_CONFIG,
                          "config key 'memory_limit' must be in [0, 1048576] GiB (0 = 90%% of the available memory), got %g",
                          s->memory_limit);
    MGSD_TRY(mgsd_config_get_int(cfg, "epochs", &s->epochs));
    MGSD_TRY(mgsd_config_get_int(cfg, "train_batch_size", &s->batch_size));
    MGSD_TRY(mgsd_config_get_int(cfg, "MAX_ITEM_LIST_LENGTH", &s->max_len));
    MGSD_TRY(positive("epochs", s->epochs, 1));
    MGSD_TRY(positive("train_batch_size", s->batch_size, 0));
    MGSD_TRY(positive("MAX_ITEM_LIST_LENGTH", s->max_len, 0));
    s->adam = optim_adam_defaults();
    MGSD_TRY(mgsd_config_get_float(cfg, "learning_rate", &s->adam.lr));
    MGSD_TRY(mgsd_config_get_float(cfg, "weight_decay", &s->adam.weight_decay));
    MGSD_TRY(positive("learning_rate", s->adam.lr, 1));
    MGSD_TRY(positive("weight_decay", s->adam.weight_decay, 1));
    MGSD_TRY(mgsd_config_get_str(cfg, "learner", &learner));
    if (!strcasecmp(learner, "adam")) s->adam.decoupled = 0;
    else if (!strcasecmp(learner, "adamw")) s->adam.decoupled = 1;
    else return mgsd_error(MGSD_ERR_CONFIG, "config key 'learner' must be adam or adamw, got '%s'", learner);
    MGSD_TRY(mgsd_config_get_float(cfg, "clip_grad_norm", &s->clip_grad_norm));
    MGSD_TRY(positive("clip_grad_norm", s->clip_grad_norm, 1));
    const char *sched;
    MGSD_TRY(mgsd_config_get_str(cfg, "lr_schedule", &sched));
    if (!strcasecmp(sched, "constant")) s->lr_schedule = TRAINER_LR_CONSTANT;
    else if (!strcasecmp(sched, "linear")) s->lr_schedule = TRAINER_LR_LINEAR;
    else if (!strcasecmp(sched, "epoch_linear")) s->lr_schedule = TRAINER_LR_EPOCH_LINEAR;
    else
        return mgsd_error(MGSD_ERR_CONFIG, "config key 'lr_schedule' must be constant, linear or epoch_linear, got '%s'",
                          sched);
    MGSD_TRY(mgsd_config_get_float(cfg, "warm_up_ratio", &s->warm_up_ratio));
    if (!(s->warm_up_ratio >= 0 && s->warm_up_ratio <= 1))
        return mgsd_error(MGSD_ERR_CONFIG, "config key 'warm_up_ratio' must be in [0, 1], got %g", s->warm_up_ratio);
    if (s->warm_up_ratio > 0 && s->lr_schedule == TRAINER_LR_CONSTANT)
        return mgsd_error(MGSD_ERR_CONFIG,
                          "config key 'warm_up_ratio' (%g) needs lr_schedule=linear or epoch_linear (lr_schedule is constant)",
                          s->warm_up_ratio);
    MGSD_TRY(mgsd_config_get_int(cfg, "eval_step", &s->eval_step));
    MGSD_TRY(mgsd_config_get_int(cfg, "stopping_step", &s->stopping_step));
    MGSD_TRY(positive("eval_step", s->eval_step, 0));
    MGSD_TRY(positive("stopping_step", s->stopping_step, 1));
    MGSD_TRY(mgsd_config_get_int(cfg, "checkpoint_steps", &s->checkpoint_steps));
    MGSD_TRY(positive("checkpoint_steps", s->checkpoint_steps, 1));
    MGSD_TRY(mgsd_config_get_bool(cfg, "valid_metric_bigger", &s->valid_bigger));
    mgsd_eval_options_default(&s->eval);
    MGSD_TRY(mgsd_config_get_int(cfg, "eval_batch_size", &s->eval.batch_size));
    MGSD_TRY(positive("eval_batch_size", s->eval.batch_size, 0));
    s->eval.L = s->max_len;
    MGSD_TRY(mgsd_config_get_bool(cfg, "eval_mask_history", &s->eval.mask_history));
    {
        const char *mode;
        MGSD_TRY(mgsd_config_get_str(cfg, "eval_mode", &mode));
        if (mgsd_eval_parse_mode(mode, &s->eval.n_neg, &s->eval.neg_pop) != MGSD_OK)
            return mgsd_error(MGSD_ERR_CONFIG, "config key 'eval_mode' must be full, uniN or popN (e.g. uni100), got '%s'",
                              mode);
        s->eval.neg_seed = s->seed;
    }
    MGSD_TRY(trainer_read_topk(cfg, &s->eval));
    {
        const char *const *names;
        size_t nn;
        MGSD_TRY(mgsd_config_get_str_list(cfg, "metrics", &names, &nn));
        if (nn == 0) return mgsd_error(MGSD_ERR_CONFIG, "config key 'metrics' lists no metric");
        s->eval.metrics = 0;
        for (size_t i = 0; i < nn; i++) {
            unsigned bit;
            if (mgsd_eval_parse_metric(names[i], &bit) != MGSD_OK)
                return mgsd_error(MGSD_ERR_CONFIG, "config key 'metrics': %s", mgsd_last_error());
            s->eval.metrics |= bit;
        }
        MGSD_TRY(mgsd_config_get_float(cfg, "tail_ratio", &s->eval.tail_ratio));
        if (!(s->eval.tail_ratio > 0) || !isfinite(s->eval.tail_ratio))
            return mgsd_error(MGSD_ERR_CONFIG, "config key 'tail_ratio' must be a count > 1 or a share in (0, 1], got %g",
                              s->eval.tail_ratio);
    }
    MGSD_TRY(mgsd_config_get_str(cfg, "valid_metric", &vm));
    size_t L = strlen(vm);
    if (L >= sizeof s->valid_metric)
        return mgsd_error(MGSD_ERR_CONFIG, "config key 'valid_metric': '%s' is too long", vm);
    for (size_t i = 0; i <= L; i++) s->valid_metric[i] = (char)tolower((unsigned char)vm[i]);
    /* The metric's name and K are checked here; that K is among topk only where the
     * metric is used, in training (trainer_check_valid_metric): eval, recommend and explain
     * read these settings with a topk of their own. */
    const char *at = strchr(s->valid_metric, '@');
    int ok = 0;
    if (at) {
        size_t nl = (size_t)(at - s->valid_metric);
        int known = (nl == 3 && (!strncmp(s->valid_metric, "hit", 3) || !strncmp(s->valid_metric, "mrr", 3))) ||
                    (nl == 4 && !strncmp(s->valid_metric, "ndcg", 4)) ||
                    (nl == 6 && !strncmp(s->valid_metric, "recall", 6)) ||
                    (nl == 9 && !strncmp(s->valid_metric, "precision", 9));
        char *end;
        errno = 0;
        long k = strtol(at + 1, &end, 10);
        ok = known && isdigit((unsigned char)at[1]) && *end == 0 && errno == 0 && k >= 1 && k <= INT_MAX;
        if (ok) s->valid_k = (int)k;
    }
    if (!ok)
        return mgsd_error(MGSD_ERR_CONFIG,
                          "config key 'valid_metric': '%s' is not one of hit|ndcg|mrr|recall|precision@K", vm);
    return MGSD_OK;
}

mgsd_status trainer_check_valid_metric(const trainer_settings *s) {
    MGSD_CHECK_ARG(s);
    for (int i = 0; i < s->eval.n_ks; i++)
        if (s->eval.ks[i] == s->valid_k) return MGSD_OK;
    return mgsd_error(MGSD_ERR_CONFIG, "config key 'valid_metric': '%s' needs %d among the cut-offs of 'topk'",
                      s->valid_metric, s->valid_k);
}

/* ---- life cycle ---------------------------------------------------------------------- */

/* A second parameter set with p's layout (values overwritten by the caller). */
static mgsd_status params_alloc_like(mgsd_params *dst, const mgsd_params *p) {
    params_spec *spec = mgsd_calloc((size_t)p->count, sizeof *spec);
    if (!spec) return MGSD_ERR_NOMEM;
    for (int i = 0; i < p->count; i++) {
        spec[i].name = p->names[i];
        spec[i].ndim = p->tensors[i].ndim;
        memcpy(spec[i].shape, p->tensors[i].shape, sizeof spec[i].shape);
        spec[i].init = PARAMS_INIT_ZEROS;
    }
    mgsd_rng r;
    mgsd_rng_seed(&r, 0);
    mgsd_status st = params_init(dst, spec, p->count, &r);
    mgsd_free(spec);
    if (st == MGSD_OK && !params_same_layout(dst, p)) {
        params_free(dst);
        return mgsd_error(MGSD_ERR_INTERNAL, "trainer: could not reproduce the parameter layout");
    }
    return st;
}

void trainer_free(mgsd_trainer *t) {
    if (!t) return;
    mgsd_free(t->model_name);
    mgsd_free(t->best_path);
    mgsd_free(t->last_path);
    mgsd_free(t->ds_section);
    mgsd_batcher_free(t->train_bt);
    mgsd_batch_free(&t->batch);
    ag_tape_free(&t->tape);
    optim_adam_free(&t->adam);
    params_free(&t->best);
    cJSON_Delete(t->history);
    if (t->history_text) cJSON_free(t->history_text);
    mgsd_free(t);
}

static char *dup_or_null(const char *s) { return s ? mgsd_strdup(s) : NULL; }

mgsd_status trainer_init(mgsd_trainer **out, mgsd_config *cfg, const mgsd_dataset *ds, mgsd_model *m,
                         const trainer_options *opt) {
    MGSD_CHECK_ARG(out && cfg && ds && m && m->vt);
    *out = NULL;
    mgsd_trainer *t = mgsd_calloc(1, sizeof *t);
    if (!t) return MGSD_ERR_NOMEM;
    t->cfg = cfg;
    t->ds = ds;
    t->m = m;
    mgsd_status st = trainer_settings_read(cfg, &t->s);
    if (st == MGSD_OK) st = trainer_check_valid_metric(&t->s);
    if (st != MGSD_OK) goto fail;
    st = trainer_apply_cpu_settings(&t->s);
    if (st != MGSD_OK) goto fail;
    t->model_name = mgsd_strdup(opt && opt->model_name ? opt->model_name : m->vt->name);
    t->best_path = dup_or_null(opt ? opt->best_path : NULL);
    t->last_path = dup_or_null(opt ? opt->last_path : NULL);
    if (!t->model_name) { st = MGSD_ERR_NOMEM; goto fail; }
    st = model_io_dataset_section(ds, opt && opt->data_path ? opt->data_path : "", &t->ds_section, &t->ds_len);
    if (st != MGSD_OK) goto fail;
    st = mgsd_batcher_init(&t->train_bt, ds, MGSD_SPLIT_TRAIN, t->s.batch_size, t->s.max_len);
    if (st != MGSD_OK) goto fail;
    if (mgsd_batcher_num_batches(t->train_bt) == 0) {
        st = mgsd_error(MGSD_ERR_EMPTY, "trainer: the dataset has no training instances");
        goto fail;
    }
    st = mgsd_batch_init(&t->batch, t->s.batch_size, t->s.max_len);
    if (st != MGSD_OK) goto fail;
    st = ag_tape_init(&t->tape, 0, t->s.seed);
    if (st != MGSD_OK) goto fail;
    st = optim_adam_init(&t->adam, &m->params, &t->s.adam);
    if (st != MGSD_OK) goto fail;
    st = params_alloc_like(&t->best, &m->params);
    if (st != MGSD_OK) goto fail;
    params_copy_values(&t->best, &m->params);
    /* linear: over every step of the run; epoch_linear: the reference's total, steps per
     * epoch = int(train instances / batch size), counted in epochs. */
    int64_t total = t->s.lr_schedule == TRAINER_LR_LINEAR
                        ? (int64_t)t->s.epochs * mgsd_batcher_num_batches(t->train_bt)
                        : (int64_t)(mgsd_batcher_num_instances(t->train_bt) / t->s.batch_size);
    if (total < 1) total = 1;
    if (t->s.lr_schedule == TRAINER_LR_CONSTANT)
        st = optim_schedule_init(&t->sched, OPTIM_SCHEDULE_CONSTANT, t->s.adam.lr, 0, 1);
    else
        st = optim_schedule_init(&t->sched, OPTIM_SCHEDULE_LINEAR_WARMUP, t->s.adam.lr,
                                 (int64_t)(t->s.warm_up_ratio * (double)total), total);
    if (st != MGSD_OK) goto fail;
    t->history = cJSON_CreateArray();
    if (!t->history) { st = mgsd_error(MGSD_ERR_NOMEM, "trainer: out of memory"); goto fail; }
    hook_init(&t->parts, m->vt->loss_parts, MODEL_MAX_LOSS_PARTS, m);
    hook_init(&t->stats, m->vt->train_stats, MODEL_MAX_TRAIN_STATS, m);
    t->st.magic = TRAINER_STATE_MAGIC;
    t->st.seed = t->s.seed;
    t->st.best_epoch = -1;
    t->st.best_metric = t->s.valid_bigger ? -INFINITY : INFINITY;
    *out = t;
    return MGSD_OK;
fail:
    trainer_free(t);
    return st;
}

const trainer_settings *trainer_get_settings(const mgsd_trainer *t) { return &t->s; }
int64_t trainer_best_epoch(const mgsd_trainer *t) { return t->st.best_epoch; }
const mgsd_eval_result *trainer_best_valid(const mgsd_trainer *t) { return t->st.has_best ? &t->best_res : NULL; }
int64_t trainer_epochs_done(const mgsd_trainer *t) { return t->st.epoch; }
int64_t trainer_global_step(const mgsd_trainer *t) { return t->st.global_step; }
int trainer_stopped_early(const mgsd_trainer *t) { return (int)t->st.finished; }

const char *trainer_history_json(mgsd_trainer *t) {
    if (t->history_text) cJSON_free(t->history_text);
    t->history_text = cJSON_PrintUnformatted(t->history);
    return t->history_text ? t->history_text : "[]";
}

/* ---- checkpoints --------------------------------------------------------------------- */

static mgsd_status save(mgsd_trainer *t, const char *path, int with_best) {
    unsigned char state[sizeof(trainer_state) + sizeof(mgsd_eval_result)];
    t->st.adam_step = t->adam.step;
    memcpy(state, &t->st, sizeof t->st);
    memcpy(state + sizeof t->st, &t->best_res, sizeof t->best_res);
    const char *hist = trainer_history_json(t);
    model_io_save_args a = {
        .model_name = t->model_name, .cfg = t->cfg, .dataset_section = t->ds_section, .dataset_len = t->ds_len,
        .params = &t->m->params, .best_params = with_best ? &t->best : NULL, .adam = &t->adam,
        .state = state, .state_len = sizeof state, .history = hist, .history_len = strlen(hist),
        .loss_parts = t->parts.n > 0 ? &t->parts.s : NULL, .loss_parts_len = sizeof t->parts.s,
        .train_stats = t->stats.n > 0 ? &t->stats.s : NULL, .train_stats_len = sizeof t->stats.s,
        .grad_stats = &t->grads, .grad_stats_len = sizeof t->grads};
    return model_io_save(path, &a);
}

/* The best epoch's validation result, rebuilt from the history's JSON (its "valid" object),
 * for checkpoints of builds with another result layout. */
static mgsd_status best_from_history(mgsd_trainer *t, const cJSON *hist, const char *path) {
    mgsd_eval_result *r = &t->best_res;
    memset(r, 0, sizeof *r);
    r->metrics = t->s.eval.metrics ? t->s.eval.metrics : MGSD_METRIC_DEFAULT;
    r->n_ks = t->s.eval.n_ks;
    memcpy(r->ks, t->s.eval.ks, sizeof r->ks);
    r->n_neg = t->s.eval.n_neg;
    r->neg_pop = t->s.eval.n_neg > 0 && t->s.eval.neg_pop;
    const cJSON *e;
    cJSON_ArrayForEach(e, hist) {
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(e, "epoch");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "valid");
        if (!cJSON_IsNumber(ep) || (int64_t)ep->valuedouble != t->st.best_epoch || !cJSON_IsObject(v)) continue;
        const cJSON *m;
        int found = 0;
        cJSON_ArrayForEach(m, v) {
            if (cJSON_IsNumber(m) && mgsd_eval_set(r, m->string, m->valuedouble) == MGSD_OK) found++;
        }
        mgsd_clear_error();
        if (found) return MGSD_OK;
    }
    return mgsd_error(MGSD_ERR_FORMAT, "%s: the history holds no validation result for the best epoch %lld",
                      path, (long long)t->st.best_epoch);
}

mgsd_status trainer_resume(mgsd_trainer *t, const model_io_ckpt *ck) {
    MGSD_CHECK_ARG(t && ck);
    const void *d, *h;
    uint64_t n, hn;
    MGSD_TRY(ckpt_reader_find(&ck->r, "state", &d, &n));
    MGSD_TRY(ckpt_reader_find(&ck->r, "history", &h, &hn));
    trainer_state s;
    /* The best validation result follows the counters in this build's layout; a checkpoint
     * of a build whose result layout differs gets it back from its history. */
    if (n <= sizeof s)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: section 'state' has %llu bytes, expected %zu (written by another build?)",
                          ck->r.path, (unsigned long long)n, sizeof s + sizeof(mgsd_eval_result));
    memcpy(&s, d, sizeof s);
    if (s.magic != TRAINER_STATE_MAGIC)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: section 'state' has an unknown format", ck->r.path);
    if (s.seed != t->s.seed)
        return mgsd_error(MGSD_ERR_CONFIG, "%s: resuming needs the same seed (checkpoint %llu, config %llu)",
                          ck->r.path, (unsigned long long)s.seed, (unsigned long long)t->s.seed);
    cJSON *hist = cJSON_ParseWithLength(h, (size_t)hn);
    if (!hist || !cJSON_IsArray(hist)) {
        cJSON_Delete(hist);
        return mgsd_error(MGSD_ERR_FORMAT, "%s: section 'history' is not a JSON array", ck->r.path);
    }
    mgsd_status st = model_io_load_values(ck, "params", &t->m->params);
    if (st == MGSD_OK) st = model_io_load_adam(ck, &t->adam);
    if (st == MGSD_OK) {
        if (ckpt_reader_get(&ck->r, "best_params")) st = model_io_load_values(ck, "best_params", &t->best);
        else st = params_copy_values(&t->best, &t->m->params);
    }
    if (st != MGSD_OK) {
        cJSON_Delete(hist);
        return st;
    }
    t->st = s;
    hook_load(&t->parts, ck, "loss_parts");
    hook_load(&t->stats, ck, "train_stats");
    load_optional_section(ck, "grad_stats", &t->grads, sizeof t->grads);
    if (n == sizeof s + sizeof t->best_res) {
        memcpy(&t->best_res, (const unsigned char *)d + sizeof s, sizeof t->best_res);
    } else if (t->st.has_best && (st = best_from_history(t, hist, ck->r.path)) != MGSD_OK) {
        cJSON_Delete(hist);
        return st;
    }
    t->adam.step = s.adam_step;
    cJSON_Delete(t->history);
    t->history = hist;
    return MGSD_OK;
}

/* ---- training ------------------------------------------------------------------------ */

static cJSON *metrics_obj(const mgsd_eval_result *r) {
    cJSON *o = cJSON_CreateObject();
    char key[32];
    double v;
    for (int i = 0; i < mgsd_eval_entry_count(r); i++)
        if (mgsd_eval_entry(r, i, key, sizeof key, &v) == MGSD_OK) cJSON_AddNumberToObject(o, key, v);
    return o;
}

void trainer_add_data_stats_json(cJSON *o, const mgsd_data_stats *s) {
    cJSON_AddNumberToObject(o, "rows_read", (double)s->rows_read);
    cJSON_AddNumberToObject(o, "users", s->users);
    cJSON_AddNumberToObject(o, "items", s->items);
    cJSON_AddNumberToObject(o, "interactions", (double)s->interactions);
    cJSON_AddNumberToObject(o, "train_instances", (double)s->train_instances);
    cJSON_AddNumberToObject(o, "valid_instances", (double)s->valid_instances);
    cJSON_AddNumberToObject(o, "test_instances", (double)s->test_instances);
    cJSON_AddNumberToObject(o, "seq_len_min", s->len_min);
    cJSON_AddNumberToObject(o, "seq_len_median", s->len_median);
    cJSON_AddNumberToObject(o, "seq_len_mean", s->len_mean);
    cJSON_AddNumberToObject(o, "seq_len_max", s->len_max);
    cJSON_AddNumberToObject(o, "sparsity", s->sparsity);
}

char *trainer_metrics_json(const mgsd_eval_result *r) {
    cJSON *o = metrics_obj(r);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *out = txt ? mgsd_strdup(txt) : NULL;
    cJSON_free(txt);
    return out;
}

mgsd_status trainer_evaluate(mgsd_trainer *t, mgsd_split split, mgsd_eval_result *out) {
    model_scorer sc = {t->m, &t->tape};
    return mgsd_eval_run(t->ds, split, model_scorer_fn, &sc, &t->s.eval, out);
}

void trainer_use_best(mgsd_trainer *t) {
    if (t->st.has_best) params_copy_values(&t->m->params, &t->best);
}

/* One optimisation step on t->batch; *loss receives the batch loss. No allocation. */
static mgsd_status train_step(mgsd_trainer *t, double *loss_out, double *lr_out) {
    mgsd_tape *tp = &t->tape;
    mgsd_model *m = t->m;
    ag_tape_reset(tp);
    tp->training = 1;
    tp->grad_enabled = 1;
    mgsd_rng base;
    mgsd_rng_seed(&base, t->s.seed);
    mgsd_rng_split(&base, (uint64_t)t->st.global_step, &tp->rng);
    params_zero_grads(&m->params);
    if (m->vt->on_step) m->vt->on_step(m, t->st.global_step, t->st.epoch);
    mgsd_tensor *loss = m->vt->loss(m, tp, &t->batch);
    if (!loss) {
        mgsd_status st = ag_status(tp);
        return st != MGSD_OK ? st : mgsd_error(MGSD_ERR_INTERNAL, "%s: loss() returned NULL", m->vt->name);
    }
    MGSD_TRY(ag_status(tp));
    double lv = loss->data[0];
    if (!isfinite(lv))
        return mgsd_error(MGSD_ERR_NUMERIC, "training loss is %g at epoch %lld step %lld (lower learning_rate or set clip_grad_norm)",
                          lv, (long long)t->st.epoch, (long long)t->st.step_in_epoch);
    MGSD_TRY(ag_backward(tp, loss));
    if (t->s.clip_grad_norm > 0) {
        double gn = 0;
        mgsd_status st = params_clip_grad_norm(&m->params, t->s.clip_grad_norm, &gn);
        if (st != MGSD_OK)
            return mgsd_error(st, "%s, at epoch %lld step %lld (the loss was finite: %g)", mgsd_last_error(),
                              (long long)t->st.epoch, (long long)t->st.step_in_epoch, lv);
        t->grads.steps++;
        t->grads.norm_sum += gn;
        if (gn > t->grads.norm_max) t->grads.norm_max = gn;
        if (gn > t->s.clip_grad_norm) t->grads.clipped++;
    }
    double lr = optim_schedule_lr(&t->sched, t->s.lr_schedule == TRAINER_LR_EPOCH_LINEAR ? t->st.epoch : t->st.global_step);
    MGSD_TRY(optim_adam_step(&t->adam, &m->params, lr));
    hook_add(&t->parts, m);
    hook_add(&t->stats, m);
    *loss_out = lv;
    *lr_out = lr;
    return MGSD_OK;
}

/* The resumable checkpoint inside an epoch (on interrupt, every checkpoint_steps): the
 * epoch's time since *t0 goes into it, the save's own time does not. */
static mgsd_status save_mid_epoch(mgsd_trainer *t, double *t0) {
    t->st.epoch_seconds += mgsd_now() - *t0;
    mgsd_status st = t->last_path ? save(t, t->last_path, 1) : MGSD_OK;
    *t0 = mgsd_now();
    return st;
}

mgsd_status trainer_fit(mgsd_trainer *t, const trainer_callbacks *cb) {
    MGSD_CHECK_ARG(t);
    trainer_callbacks none = {0};
    if (!cb) cb = &none;
    int64_t nb = mgsd_batcher_num_batches(t->train_bt);
    int bs = mgsd_batcher_batch_size(t->train_bt);
    while (t->st.epoch < t->s.epochs && !t->st.finished) {
        int64_t e = t->st.epoch;
        MGSD_TRY(mgsd_batcher_begin_epoch(t->train_bt, t->s.seed, e));
        double t0 = mgsd_now();
        double lr = optim_schedule_lr(&t->sched, t->s.lr_schedule == TRAINER_LR_EPOCH_LINEAR ? e : t->st.global_step);
        for (int64_t k = t->st.step_in_epoch; k < nb; k++) {
            if (cb->interrupted && cb->interrupted(cb->user)) {
                t->st.step_in_epoch = k;
                MGSD_TRY(save_mid_epoch(t, &t0));
                return mgsd_error(MGSD_ERR_INTERRUPTED, "training interrupted at epoch %lld step %lld",
                                  (long long)e, (long long)k);
            }
            MGSD_TRY(mgsd_batcher_fill(t->train_bt, k, &t->batch));
            double loss = 0;
            MGSD_TRY(train_step(t, &loss, &lr));
            t->st.epoch_loss_sum += loss;
            t->st.global_step++;
            t->st.step_in_epoch = k + 1;
            if (t->s.checkpoint_steps > 0 && k + 1 < nb && t->st.global_step % t->s.checkpoint_steps == 0)
                MGSD_TRY(save_mid_epoch(t, &t0));
            if (cb->on_step) {
                trainer_step_info si = {e, k, nb, t->st.global_step, (k + 1) * (int64_t)bs, loss,
                                        t->st.epoch_seconds + mgsd_now() - t0, lr};
                if (k + 1 == nb) si.instances_done = mgsd_batcher_num_instances(t->train_bt);
                cb->on_step(cb->user, &si);
            }
        }
        t->st.epoch_seconds += mgsd_now() - t0;
        trainer_epoch_info ei = {0};
        ei.epoch = e;
        ei.lr = lr;
        ei.lr_scheduled = t->s.lr_schedule != TRAINER_LR_CONSTANT;
        ei.loss = t->st.epoch_loss_sum / (double)nb;
        ei.n_parts = hook_take(&t->parts, ei.part_names, ei.part_means);
        ei.n_stats = hook_take(&t->stats, ei.stat_names, ei.stat_means);
        ei.grad_steps = t->grads.steps;
        if (ei.grad_steps > 0) {
            ei.grad_norm_mean = t->grads.norm_sum / (double)ei.grad_steps;
            ei.grad_norm_max = t->grads.norm_max;
            ei.clipped_fraction = (double)t->grads.clipped / (double)ei.grad_steps;
        }
        memset(&t->grads, 0, sizeof t->grads);
        ei.train_seconds = t->st.epoch_seconds;
        t->st.epoch = e + 1;
        t->st.step_in_epoch = 0;
        t->st.epoch_loss_sum = 0;
        t->st.epoch_seconds = 0;
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddNumberToObject(rec, "epoch", (double)e);
        cJSON_AddNumberToObject(rec, "loss", ei.loss);
        hook_json(rec, "loss_parts", ei.n_parts, ei.part_names, ei.part_means);
        hook_json(rec, "train_stats", ei.n_stats, ei.stat_names, ei.stat_means);
        cJSON_AddNumberToObject(rec, "train_seconds", ei.train_seconds);
        cJSON_AddNumberToObject(rec, "lr", ei.lr);
        if (ei.grad_steps > 0) {
            cJSON_AddNumberToObject(rec, "grad_norm_mean", ei.grad_norm_mean);
            cJSON_AddNumberToObject(rec, "grad_norm_max", ei.grad_norm_max);
            cJSON_AddNumberToObject(rec, "clipped_fraction", ei.clipped_fraction);
        }
        mgsd_eval_result vr;
        if ((e + 1) % t->s.eval_step == 0) {
            if (cb->on_valid_begin) cb->on_valid_begin(cb->user, e);
            mgsd_status st = trainer_evaluate(t, MGSD_SPLIT_VALID, &vr);
            if (st != MGSD_OK) {
                cJSON_Delete(rec);
                return st;
            }
            double v;
            MGSD_TRY(mgsd_eval_get(&vr, t->s.valid_metric, &v));
            ei.validated = 1;
            ei.valid = &vr;
            ei.valid_metric = v;
            int better = t->s.valid_bigger ? v > t->st.best_metric : v < t->st.best_metric;
            if (better) {
                t->st.best_metric = v;
                t->st.best_epoch = e;
                t->st.patience = 0;
                t->st.has_best = 1;
                t->best_res = vr;
                params_copy_values(&t->best, &t->m->params);
                ei.improved = 1;
            } else if (++t->st.patience > t->s.stopping_step) {
                t->st.finished = 1; /* RecBole early_stopping: cur_step > stopping_step */
                ei.stop = 1;
            }
            ei.patience = t->st.patience;
            cJSON_AddNumberToObject(rec, "valid_seconds", vr.seconds);
            cJSON_AddItemToObject(rec, "valid", metrics_obj(&vr));
        }
        cJSON_AddItemToArray(t->history, rec);
        if (ei.improved && t->best_path) MGSD_TRY(save(t, t->best_path, 0));
        if (cb->on_epoch) cb->on_epoch(cb->user, &ei);
        /* The resumable checkpoint after every epoch too: a run killed without warning
         * (SIGKILL, a lost machine) loses at most the epoch in progress. */
        if (t->last_path && !t->st.finished && t->st.epoch < t->s.epochs) MGSD_TRY(save(t, t->last_path, 1));
    }
    if (t->last_path) MGSD_TRY(save(t, t->last_path, 1));
    return MGSD_OK;
}

/* ---- results.json -------------------------------------------------------------------- */

mgsd_status trainer_write_results(mgsd_trainer *t, const char *path, const mgsd_eval_result *test,
                                  double total_seconds) {
    MGSD_CHECK_ARG(t && path);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", t->model_name);
    const char *cj;
    if (mgsd_config_to_json(t->cfg, 0, &cj) == MGSD_OK) cJSON_AddItemToObject(o, "config", cJSON_Parse(cj));
    mgsd_data_stats ds;
    if (mgsd_dataset_stats(t->ds, &ds) == MGSD_OK) {
        trainer_add_data_stats_json(cJSON_AddObjectToObject(o, "dataset"), &ds);
    }
    cJSON_AddNumberToObject(o, "parameters", (double)params_count(&t->m->params));
    cJSON_AddItemToObject(o, "epochs", cJSON_Duplicate(t->history, 1));
    cJSON_AddNumberToObject(o, "best_epoch", (double)t->st.best_epoch);
    if (t->st.has_best) cJSON_AddItemToObject(o, "best_valid", metrics_obj(&t->best_res));
    else cJSON_AddNullToObject(o, "best_valid");
    if (test) cJSON_AddItemToObject(o, "test", metrics_obj(test));
    else cJSON_AddNullToObject(o, "test");
    cJSON_AddBoolToObject(o, "stopped_early", t->st.finished != 0);
    cJSON_AddNumberToObject(o, "global_steps", (double)t->st.global_step);
    cJSON_AddNumberToObject(o, "total_seconds", total_seconds);
    cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)mgsd_peak_rss());
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return mgsd_error(MGSD_ERR_NOMEM, "results.json: out of memory");
    mgsd_afile f;
    mgsd_status st = mgsd_afile_open(&f, path);
    if (st == MGSD_OK) {
        if (fputs(txt, f.f) < 0 || fputc('\n', f.f) == EOF) {
            st = mgsd_error(MGSD_ERR_IO, "%s: cannot write", path);
            mgsd_afile_abort(&f);
        } else {
            st = mgsd_afile_commit(&f);
        }
    }
    cJSON_free(txt);
    return st;
}
