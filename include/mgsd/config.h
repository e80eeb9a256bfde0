/* mgsd configuration, RecBole style.
 *
 * Every key is declared in a defaults table with a type, a default and one line of help.
 * Tables are layered: the overall table (data / training / evaluation keys, see
 * mgsd_config_overall_defaults), then a model's own table that overrides some defaults
 * and adds keys. Values then come from, in increasing precedence:
 *
 *   overall defaults < model defaults < YAML files (--config=a.yaml,b.yaml; later files
 *   win) < command line (--key=value)
 *
 * Precedence is by level, not by call order, so a key may be set before the table that
 * declares it is added (the CLI reads `model` first, then adds that model's table): such
 * a value is kept as text and type-checked when the key is declared. Keys never declared
 * are reported by mgsd_config_warnings(); values of the wrong type are MGSD_ERR_CONFIG
 * errors naming source, key and value:
 *     config.yaml:3: key 'learning_rate' expects a float, got 'fast'
 *
 * Text forms accepted for each type (command line, YAML scalars, defaults):
 *   int     decimal integer ("256", "-1")
 *   float   strtod syntax ("0.001", "1e-3", "inf")
 *   bool    true/false, True/False, yes/no, on/off, 1/0
 *   str     anything (YAML quoting removed); interval strings like "[5,inf)" are strings
 *   int list / str list   YAML sequence ([5, 10, 20] or block form), or a scalar
 *           "[5,10,20]", "5,10,20", "5"; items may be quoted ('Recall'). "[]" is empty.
 *
 * Strings returned by the library (getters, help, JSON, serialised form) are owned by the
 * config and stay valid until the key is set again, the same formatter is called again,
 * or the config is freed. */
#ifndef MGSD_CONFIG_H
#define MGSD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "mgsd/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mgsd_config_type {
    MGSD_CONFIG_INT,
    MGSD_CONFIG_FLOAT,
    MGSD_CONFIG_BOOL,
    MGSD_CONFIG_STR,
    MGSD_CONFIG_INT_LIST,
    MGSD_CONFIG_STR_LIST,
    MGSD_CONFIG_TYPE_COUNT
} mgsd_config_type;

/* Where a value came from; a value replaces another only at the same or a higher level. */
typedef enum mgsd_config_level {
    MGSD_CONFIG_LEVEL_OVERALL = 0, /* overall defaults table */
    MGSD_CONFIG_LEVEL_MODEL = 1,   /* a model's defaults table */
    MGSD_CONFIG_LEVEL_FILE = 2,    /* YAML files */
    MGSD_CONFIG_LEVEL_CMDLINE = 3, /* --key=value */
    MGSD_CONFIG_LEVEL_COUNT
} mgsd_config_level;

/* One row of a defaults table. The default is written as text (parsed by the rules above),
 * so a table is a plain static array:
 *   static const mgsd_config_entry sasrec_defaults[] = {
 *       {"n_layers", MGSD_CONFIG_INT, "2", "number of transformer blocks"},
 *       {"hidden_act", MGSD_CONFIG_STR, "gelu", "feed-forward activation: gelu|relu|swish|tanh|sigmoid"},
 *   };
 */
typedef struct mgsd_config_entry {
    const char *key;
    mgsd_config_type type;
    const char *default_text;
    const char *help;
} mgsd_config_entry;

typedef struct mgsd_config mgsd_config;

/* "int", "float", "bool", "str", "int list", "str list". */
const char *mgsd_config_type_name(mgsd_config_type t);

/* Empty config (no keys). */
mgsd_status mgsd_config_create(mgsd_config **out);
void mgsd_config_free(mgsd_config *c);

/* The overall defaults table (data, training and evaluation keys with RecBole names). */
const mgsd_config_entry *mgsd_config_overall_defaults(size_t *n);

/* Declare a table at level OVERALL or MODEL. `layer` names it in messages ("SASRec").
 * A key already declared keeps its position; its default (and its value, unless set at a
 * higher level) is replaced, and its help too when the new entry has one. Redeclaring with
 * another type, an unparsable default, or a pending value of the wrong type is
 * MGSD_ERR_CONFIG and leaves the config unchanged. */
mgsd_status mgsd_config_add_defaults(mgsd_config *c, const char *layer, mgsd_config_level level,
                                     const mgsd_config_entry *entries, size_t n);

/* Set key from text at a level; `source` names the origin in messages ("command line",
 * "config.yaml:3"). Ignored (MGSD_OK) when the key already has a value from a higher level. */
mgsd_status mgsd_config_set(mgsd_config *c, const char *key, const char *value, mgsd_config_level level,
                            const char *source);

/* Load a YAML file (a mapping of keys to scalars or sequences of scalars) at level FILE. */
mgsd_status mgsd_config_load_yaml(mgsd_config *c, const char *path);
/* Same from memory; `name` stands for the file name in messages. */
mgsd_status mgsd_config_load_yaml_string(mgsd_config *c, const char *name, const char *text, size_t len);

/* Apply command-line arguments: every argv[i] must be --key=value. --config=a.yaml,b.yaml
 * loads the files in order (level FILE); the others are set at level CMDLINE. */
mgsd_status mgsd_config_apply_args(mgsd_config *c, int argc, char *const *argv);

/* Messages about keys set but declared by no table ("config.yaml:4: unknown key 'lr'"),
 * recomputed on each call; *n receives the count. */
const char *const *mgsd_config_warnings(mgsd_config *c, size_t *n);

/* Typed getters. MGSD_ERR_NOT_FOUND: "config key 'x' is not defined"; MGSD_ERR_CONFIG on a
 * type mismatch ("config key 'x' is a str, not an int"). get_float also reads int keys.
 * get_int fails with MGSD_ERR_CONFIG when the value does not fit in an int. */
mgsd_status mgsd_config_get_int(const mgsd_config *c, const char *key, int *out);
mgsd_status mgsd_config_get_int64(const mgsd_config *c, const char *key, int64_t *out);
mgsd_status mgsd_config_get_float(const mgsd_config *c, const char *key, double *out);
mgsd_status mgsd_config_get_bool(const mgsd_config *c, const char *key, int *out);
mgsd_status mgsd_config_get_str(const mgsd_config *c, const char *key, const char **out);
mgsd_status mgsd_config_get_int_list(const mgsd_config *c, const char *key, const int64_t **items, size_t *n);
mgsd_status mgsd_config_get_str_list(const mgsd_config *c, const char *key, const char *const **items,
                                     size_t *n);
/* 1 if the key is declared (has a typed value). */
int mgsd_config_has(const mgsd_config *c, const char *key);
/* Origin of the key's current value ("defaults: overall", "a.yaml:3", "command line"), or
 * NULL when the key is not declared; *level (may be NULL) receives its level. */
const char *mgsd_config_source(const mgsd_config *c, const char *key, mgsd_config_level *level);

/* Table of every declared key: key, type, default, help (declaration order). */
const char *mgsd_config_format_help(mgsd_config *c);
/* JSON object of every declared key and its current value (cJSON); pretty != 0 indents. */
mgsd_status mgsd_config_to_json(mgsd_config *c, int pretty, const char **out);

/* Compact text form for checkpoints (see docs/config.md): every declared key with type,
 * level, source and value; help and defaults are not stored. */
mgsd_status mgsd_config_serialize(mgsd_config *c, const char **out, size_t *len);
/* Rebuild keys and values from the text form into c (declaring keys c lacks, overwriting
 * values of keys it has, regardless of level). `name` is used in messages. */
mgsd_status mgsd_config_deserialize(mgsd_config *c, const char *name, const char *text, size_t len);

#ifdef __cplusplus
}
#endif
#endif
