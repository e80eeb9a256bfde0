/* Model checkpoints (see model_io.h and docs/checkpoint.md). */
#include "train/model_io.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mgsd_status model_io_dataset_section(const mgsd_dataset *ds, const char *data_path, char **out, size_t *len) {
    MGSD_CHECK_ARG(ds && out && len);
    if (!data_path) data_path = "";
    int32_t N = mgsd_dataset_num_items(ds), U = mgsd_dataset_num_users(ds);
    size_t cap = strlen(data_path) + 64;
    for (int32_t i = 1; i < N; i++) cap += strlen(mgsd_dataset_item_name(ds, i)) + 1;
    for (int32_t u = 1; u <= U; u++) cap += strlen(mgsd_dataset_user_name(ds, u)) + 1;
    char *buf = mgsd_malloc(cap);
    if (!buf) return MGSD_ERR_NOMEM;
    size_t n = (size_t)snprintf(buf, cap, "mgsd-dataset 1\n%s\n%d %d\n", data_path, (int)(N - 1), (int)U);
    for (int32_t i = 1; i < N; i++) n += (size_t)snprintf(buf + n, cap - n, "%s\n", mgsd_dataset_item_name(ds, i));
    for (int32_t u = 1; u <= U; u++) n += (size_t)snprintf(buf + n, cap - n, "%s\n", mgsd_dataset_user_name(ds, u));
    *out = buf;
    *len = n;
    return MGSD_OK;
}

mgsd_status model_io_save(const char *path, const model_io_save_args *a) {
    MGSD_CHECK_ARG(path && a && a->model_name && a->cfg && a->params && a->dataset_section);
    const char *cfg_text;
    size_t cfg_len;
    MGSD_TRY(mgsd_config_serialize(a->cfg, &cfg_text, &cfg_len));
    uint64_t hash = params_layout_hash(a->params);
    uint64_t bytes = (uint64_t)a->params->total * sizeof(float);
    ckpt_writer w;
    MGSD_TRY(ckpt_writer_begin(&w, path));
    mgsd_status st = ckpt_writer_add(&w, "model", a->model_name, strlen(a->model_name));
    if (st == MGSD_OK) st = ckpt_writer_add(&w, "config", cfg_text, cfg_len);
    if (st == MGSD_OK) st = ckpt_writer_add(&w, "dataset", a->dataset_section, a->dataset_len);
    if (st == MGSD_OK) st = ckpt_writer_add(&w, "params", a->params->data, bytes);
    if (st == MGSD_OK) st = ckpt_writer_add(&w, "params_layout", &hash, sizeof hash);
    if (st == MGSD_OK && a->best_params) {
        if (!params_same_layout(a->params, a->best_params))
            st = mgsd_error(MGSD_ERR_SHAPE, "%s: best_params layout differs from params", path);
        else st = ckpt_writer_add(&w, "best_params", a->best_params->data, bytes);
    }
    if (st == MGSD_OK && a->adam) {
        if (a->adam->n != a->params->total)
            st = mgsd_error(MGSD_ERR_SHAPE, "%s: Adam moments do not match the parameters", path);
        if (st == MGSD_OK) st = ckpt_writer_add(&w, "adam_m", a->adam->m, bytes);
        if (st == MGSD_OK) st = ckpt_writer_add(&w, "adam_v", a->adam->v, bytes);
    }
    if (st == MGSD_OK && a->state) st = ckpt_writer_add(&w, "state", a->state, a->state_len);
    if (st == MGSD_OK && a->history) st = ckpt_writer_add(&w, "history", a->history, a->history_len);
    if (st == MGSD_OK && a->loss_parts) st = ckpt_writer_add(&w, "loss_parts", a->loss_parts, a->loss_parts_len);
    if (st == MGSD_OK && a->train_stats) st = ckpt_writer_add(&w, "train_stats", a->train_stats, a->train_stats_len);
    if (st == MGSD_OK && a->grad_stats) st = ckpt_writer_add(&w, "grad_stats", a->grad_stats, a->grad_stats_len);
    if (st != MGSD_OK) {
        ckpt_writer_abort(&w);
        return st;
    }
    return ckpt_writer_commit(&w);
}

void model_io_close(model_io_ckpt *ck) {
    if (!ck) return;
    ckpt_reader_close(&ck->r);
    mgsd_free(ck->model_name);
    mgsd_free(ck->data_path);
    mgsd_free(ck->item_names);
    mgsd_free(ck->user_names);
    mgsd_free(ck->names_buf);
    memset(ck, 0, sizeof *ck);
}

static char *next_line(char **p, char *end) {
    if (*p >= end) return NULL;
    char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) return NULL;
    *nl = 0;
    *p = nl + 1;
    return s;
}

static mgsd_status parse_dataset(model_io_ckpt *ck, const char *data, uint64_t len) {
    const char *path = ck->r.path;
    ck->names_buf = mgsd_malloc(len + 1);
    if (!ck->names_buf) return MGSD_ERR_NOMEM;
    memcpy(ck->names_buf, data, len);
    ck->names_buf[len] = 0;
    char *p = ck->names_buf, *end = p + len, *line;
    int ni, nu;
    line = next_line(&p, end);
    if (!line || strcmp(line, "mgsd-dataset 1") != 0)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: section 'dataset' has an unknown format", path);
    line = next_line(&p, end);
    if (!line) goto bad;
    ck->data_path = mgsd_strdup(line);
    if (!ck->data_path) return MGSD_ERR_NOMEM;
    line = next_line(&p, end);
    /* every name takes at least its newline, which bounds the counts by the section */
    if (!line || sscanf(line, "%d %d", &ni, &nu) != 2 || ni < 0 || nu < 0 || ni == INT_MAX ||
        (uint64_t)ni + (uint64_t)nu > len)
        goto bad;
    ck->n_items = ni + 1;
    ck->n_users = nu;
    ck->item_names = mgsd_calloc((size_t)ck->n_items, sizeof(char *));
    ck->user_names = mgsd_calloc((size_t)nu + 1, sizeof(char *));
    if (!ck->item_names || !ck->user_names) return MGSD_ERR_NOMEM;
    for (int i = 1; i <= ni; i++)
        if (!(ck->item_names[i] = next_line(&p, end))) goto bad;
    for (int u = 1; u <= nu; u++)
        if (!(ck->user_names[u] = next_line(&p, end))) goto bad;
    return MGSD_OK;
bad:
    return mgsd_error(MGSD_ERR_FORMAT, "%s: section 'dataset' is malformed", path);
}

/* The sections every checkpoint has, read from the opened ck->r. */
static mgsd_status open_sections(model_io_ckpt *ck) {
    const void *d;
    uint64_t n;
    mgsd_status st = ckpt_reader_find(&ck->r, "model", &d, &n);
    if (st == MGSD_OK) {
        ck->model_name = mgsd_malloc(n + 1);
        if (!ck->model_name) st = MGSD_ERR_NOMEM;
        else {
            memcpy(ck->model_name, d, n);
            ck->model_name[n] = 0;
        }
    }
    if (st == MGSD_OK) st = ckpt_reader_find(&ck->r, "config", &d, &ck->config_len);
    if (st == MGSD_OK) ck->config = d;
    if (st == MGSD_OK) st = ckpt_reader_find(&ck->r, "dataset", &d, &n);
    if (st == MGSD_OK) st = parse_dataset(ck, d, n);
    if (st == MGSD_OK) st = ckpt_reader_find(&ck->r, "params", &d, &n);
    if (st == MGSD_OK) st = ckpt_reader_find(&ck->r, "params_layout", &d, &n);
    if (st != MGSD_OK) {
        model_io_close(ck);
        return st;
    }
    return MGSD_OK;
}

mgsd_status model_io_open(model_io_ckpt *ck, const char *path) {
    MGSD_CHECK_ARG(ck && path);
    memset(ck, 0, sizeof *ck);
    MGSD_TRY(ckpt_reader_open(&ck->r, path));
    return open_sections(ck);
}

mgsd_status model_io_open_buffer(model_io_ckpt *ck, const char *name, const void *bytes, uint64_t size) {
    MGSD_CHECK_ARG(ck && name && (bytes || size == 0));
    memset(ck, 0, sizeof *ck);
    MGSD_TRY(ckpt_reader_open_buffer(&ck->r, name, bytes, size));
    return open_sections(ck);
}

mgsd_status model_io_load_values(const model_io_ckpt *ck, const char *section, mgsd_params *p) {
    MGSD_CHECK_ARG(ck && section && p);
    const void *d, *h;
    uint64_t n, hn;
    MGSD_TRY(ckpt_reader_find(&ck->r, section, &d, &n));
    MGSD_TRY(ckpt_reader_find(&ck->r, "params_layout", &h, &hn));
    uint64_t hash;
    if (hn != sizeof hash) return mgsd_error(MGSD_ERR_FORMAT, "%s: section 'params_layout' is malformed", ck->r.path);
    memcpy(&hash, h, sizeof hash);
    if (hash != params_layout_hash(p) || n != (uint64_t)p->total * sizeof(float))
        return mgsd_error(MGSD_ERR_FORMAT,
                          "%s: parameter layout does not match model '%s' as configured (%lld floats stored, "
                          "%lld expected): the checkpoint was saved with other hyper-parameters",
                          ck->r.path, ck->model_name, (long long)(n / sizeof(float)), (long long)p->total);
    memcpy(p->data, d, n);
    return MGSD_OK;
}

mgsd_status model_io_load_adam(const model_io_ckpt *ck, optim_adam *o) {
    MGSD_CHECK_ARG(ck && o);
    const void *m, *v;
    uint64_t nm, nv;
    MGSD_TRY(ckpt_reader_find(&ck->r, "adam_m", &m, &nm));
    MGSD_TRY(ckpt_reader_find(&ck->r, "adam_v", &v, &nv));
    if (nm != (uint64_t)o->n * sizeof(float) || nv != nm)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: Adam moments do not match the parameters", ck->r.path);
    memcpy(o->m, m, nm);
    memcpy(o->v, v, nv);
    return MGSD_OK;
}

int32_t model_io_find_item(const model_io_ckpt *ck, const char *name) {
    for (int32_t i = 1; i < ck->n_items; i++)
        if (!strcmp(ck->item_names[i], name)) return i;
    return -1;
}

int32_t model_io_find_user(const model_io_ckpt *ck, const char *name) {
    for (int32_t u = 1; u <= ck->n_users; u++)
        if (!strcmp(ck->user_names[u], name)) return u;
    return -1;
}

mgsd_status model_io_check_dataset(const model_io_ckpt *ck, const mgsd_dataset *ds) {
    int32_t N = mgsd_dataset_num_items(ds), U = mgsd_dataset_num_users(ds);
    if (N != ck->n_items || U != ck->n_users)
        return mgsd_error(MGSD_ERR_FORMAT,
                          "%s: dataset has %d items and %d users after filtering, the checkpoint was trained "
                          "on %d items and %d users (different file or filters?)",
                          ck->r.path, (int)(N - 1), (int)U, (int)(ck->n_items - 1), (int)ck->n_users);
    for (int32_t i = 1; i < N; i++)
        if (strcmp(mgsd_dataset_item_name(ds, i), ck->item_names[i]))
            return mgsd_error(MGSD_ERR_FORMAT, "%s: item id %d is '%s' in the dataset but '%s' in the checkpoint",
                              ck->r.path, (int)i, mgsd_dataset_item_name(ds, i), ck->item_names[i]);
    for (int32_t u = 1; u <= U; u++)
        if (strcmp(mgsd_dataset_user_name(ds, u), ck->user_names[u]))
            return mgsd_error(MGSD_ERR_FORMAT, "%s: user id %d is '%s' in the dataset but '%s' in the checkpoint",
                              ck->r.path, (int)u, mgsd_dataset_user_name(ds, u), ck->user_names[u]);
    return MGSD_OK;
}

mgsd_status model_scorer_fn(void *scorer, const mgsd_batch *batch, float *scores) {
    model_scorer *s = scorer;
    mgsd_tape *t = s->tape;
    const int64_t n_items = s->model->info.n_items;
    int tr = t->training, ge = t->grad_enabled;
    t->training = 0;
    t->grad_enabled = 0;
    mgsd_status st = MGSD_OK;
    /* At most MODEL_SCORE_CHUNK rows per forward pass: the tape keeps every activation of
     * a pass, so an evaluation batch of 4096 users (RecBole's default) would otherwise
     * hold ~16x a training step's activations (MGSD on Beauty: 2.8 GiB peak RSS). Rows
     * are scored independently, so the scores do not depend on the chunking. */
    for (int r0 = 0; r0 < batch->B && st == MGSD_OK; r0 += MODEL_SCORE_CHUNK) {
        int nb = batch->B - r0 < MODEL_SCORE_CHUNK ? batch->B - r0 : MODEL_SCORE_CHUNK;
        int32_t offs[MODEL_SCORE_CHUNK + 1]; /* not on the tape: scores() resets it */
        ag_tape_reset(t);
        mgsd_batch sub;
        mgsd_batch_view(batch, r0, nb, offs, &sub);
        st = s->model->vt->scores(s->model, t, &sub, scores + (int64_t)r0 * n_items);
    }
    t->training = tr;
    t->grad_enabled = ge;
    return st;
}
