/* Model registry: name -> vtable (see model.h). Names match case-insensitively. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"

extern const model_vtable model_sasrec;
extern const model_vtable model_bert4rec;
extern const model_vtable model_gru4rec;
extern const model_vtable model_mgsd;

static const model_vtable *const model_table[] = {&model_sasrec, &model_bert4rec, &model_gru4rec, &model_mgsd, NULL};

const model_vtable *const *model_list(void) { return model_table; }

const model_vtable *model_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; model_table[i]; i++)
        if (!strcasecmp(model_table[i]->name, name)) return model_table[i];
    return NULL;
}

static mgsd_status model_not_found(const char *name) {
    char known[256];
    size_t n = 0;
    known[0] = '\0';
    for (int i = 0; model_table[i] && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", model_table[i]->name);
    return mgsd_error(MGSD_ERR_NOT_FOUND, "unknown model '%s' (known: %s)", name ? name : "(null)", known);
}

mgsd_status model_add_defaults(mgsd_config *cfg, const char *name) {
    MGSD_CHECK_ARG(cfg != NULL);
    const model_vtable *vt = model_find(name);
    if (!vt) return model_not_found(name);
    return mgsd_config_add_defaults(cfg, vt->name, MGSD_CONFIG_LEVEL_MODEL, vt->defaults, vt->n_defaults);
}

mgsd_status model_create(mgsd_model **out, const char *name, const mgsd_config *cfg, const model_info *info,
                         mgsd_rng *rng) {
    MGSD_CHECK_ARG(out != NULL && cfg != NULL && info != NULL && rng != NULL);
    *out = NULL;
    const model_vtable *vt = model_find(name);
    if (!vt) return model_not_found(name);
    mgsd_model *m = mgsd_calloc(1, sizeof *m);
    if (!m) return mgsd_error(MGSD_ERR_NOMEM, "model_create: %s", mgsd_last_error());
    m->vt = vt;
    m->info = *info;
    mgsd_status st = vt->create(m, cfg, info, rng);
    if (st != MGSD_OK) {
        model_free(m);
        return st;
    }
    *out = m;
    return MGSD_OK;
}

void model_free(mgsd_model *m) {
    if (!m) return;
    if (m->vt && m->vt->destroy)
        m->vt->destroy(m);
    else
        mgsd_free(m->impl);
    params_free(&m->params);
    mgsd_free(m);
}
