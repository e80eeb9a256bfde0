/* Internal to src/config: RecBole's mapping-valued keys (recbole.c), used by the YAML loader. */
#ifndef MGSD_CONFIG_INTERNAL_H
#define MGSD_CONFIG_INTERNAL_H

#include <stddef.h>

#include "mgsd/core.h"

enum { CONFIG_FLAT_MAX = 4 };
typedef struct config_flat {
    char key[64];
    char value[1024]; /* as long as a flattened entry (config.c) */
} config_flat;

/* A YAML key whose value is a mapping, flattened into entries "a.b=value". For a RecBole key
 * mgsd understands (clip_grad_norm, eval_args, train_neg_sample_args, neg_sampling,
 * load_col, unload_col, val_interval), *known
 * = 1 and out[0 .. *n_out) receive the flat settings it means (none when it only restates
 * what mgsd does); an entry mgsd cannot honour is MGSD_ERR_CONFIG naming source. Other keys:
 * *known = 0, nothing written. */
mgsd_status config_recbole_mapping(const char *key, char *const *entries, size_t n, const char *source,
                                   config_flat *out, int *n_out, int *known);

#endif
