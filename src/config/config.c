/* Configuration: declared keys with typed values, layered defaults tables, values by
 * precedence level, YAML files (libyaml), --key=value arguments, help, JSON (cJSON) and the
 * checkpoint text form. Contract: include/mgsd/config.h; text form: docs/config.md. */
#include "mgsd/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config/config_internal.h"
#include "core/core.h"

/* ---- value storage -------------------------------------------------------------------- */
typedef struct cfg_value {
    int64_t i;
    double f;
    int b;
    char *s;
    int64_t *il;
    char **sl;
    size_t n;
} cfg_value;

/* Text as given by a source, before it is known which type it must have. */
typedef struct cfg_raw {
    int kind;     /* 0 scalar, 1 sequence of scalars, 2 mapping (no key type takes one) */
    char *scalar; /* kind 0 */
    char **items; /* kind 1: the items; kind 2: the mapping flattened, "a.b=value" per scalar */
    size_t n;
} cfg_raw;

typedef struct cfg_item {
    char *key;
    int declared;
    mgsd_config_type type;
    char *help;
    char *default_text;
    char *default_layer;
    cfg_value val;     /* declared only */
    int level;         /* level of the current value (or of the pending text) */
    char *source;
    int has_pending;   /* undeclared key set by a source: text kept until declared */
    cfg_raw pending;
} cfg_item;

struct mgsd_config {
    cfg_item *items;
    size_t n, cap;
    char **warnings;
    size_t n_warnings;
    char *help_buf, *json_buf, *ser_buf;
    size_t ser_len;
};

static const char *const type_names[MGSD_CONFIG_TYPE_COUNT] = {"int", "float", "bool", "str", "int list",
                                                               "str list"};
static const char *const type_tags[MGSD_CONFIG_TYPE_COUNT] = {"int", "float", "bool", "str", "int_list",
                                                              "str_list"};

const char *mgsd_config_type_name(mgsd_config_type t) {
    return ((int)t >= 0 && t < MGSD_CONFIG_TYPE_COUNT) ? type_names[t] : "unknown";
}
static const char *type_article(mgsd_config_type t) {
    return (t == MGSD_CONFIG_INT || t == MGSD_CONFIG_INT_LIST) ? "an" : "a";
}

static void value_free(cfg_value *v) {
    mgsd_free(v->s);
    mgsd_free(v->il);
    if (v->sl)
        for (size_t i = 0; i < v->n; i++) mgsd_free(v->sl[i]);
    mgsd_free(v->sl);
    memset(v, 0, sizeof *v);
}

static void raw_free(cfg_raw *r) {
    mgsd_free(r->scalar);
    if (r->items)
        for (size_t i = 0; i < r->n; i++) mgsd_free(r->items[i]);
    mgsd_free(r->items);
    memset(r, 0, sizeof *r);
}

static mgsd_status raw_copy(cfg_raw *dst, const cfg_raw *src) {
    memset(dst, 0, sizeof *dst);
    dst->kind = src->kind;
    if (src->kind == 0) {
        dst->scalar = mgsd_strdup(src->scalar ? src->scalar : "");
        if (!dst->scalar) return MGSD_ERR_NOMEM;
    } else { /* kind 1 (list items) or 2 (mapping entries "path=value") */
        dst->items = mgsd_calloc(src->n ? src->n : 1, sizeof(char *));
        if (!dst->items) return MGSD_ERR_NOMEM;
        for (size_t i = 0; i < src->n; i++) {
            dst->items[i] = mgsd_strdup(src->items[i]);
            if (!dst->items[i]) {
                dst->n = i;
                raw_free(dst);
                return MGSD_ERR_NOMEM;
            }
        }
        dst->n = src->n;
    }
    return MGSD_OK;
}

/* Printable form of raw text for messages (truncated). */
static void raw_describe(const cfg_raw *r, char *out, size_t n) {
    if (r->kind == 0) {
        snprintf(out, n, "%s", r->scalar ? r->scalar : "");
    } else if (r->kind == 2) {
        snprintf(out, n, "{...}");
    } else {
        size_t len = 0;
        len += (size_t)snprintf(out, n, "[");
        for (size_t i = 0; i < r->n && len < n; i++) len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", r->items[i]);
        if (len < n) snprintf(out + len, n - len, "]");
    }
}

/* ---- text -> typed value ---------------------------------------------------------------- */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static void unquote(char *s) {
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

static int parse_int(const char *text, int64_t *out) {
    char buf[64];
    if (strlen(text) >= sizeof buf) return 0;
    strcpy(buf, text);
    char *s = trim(buf);
    if (!*s) return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || errno) return 0;
    *out = v;
    return 1;
}

static int parse_float(const char *text, double *out) {
    char buf[128];
    if (strlen(text) >= sizeof buf) return 0;
    strcpy(buf, text);
    char *s = trim(buf);
    if (!*s) return 0;
    char *end;
    double v = strtod(s, &end);
    if (*end) return 0;
    *out = v;
    return 1;
}

static int parse_bool(const char *text, int *out) {
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off", "0"};
    char buf[16];
    if (strlen(text) >= sizeof buf) return 0;
    strcpy(buf, text);
    char *s = trim(buf);
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, t[i]) == 0) { *out = 1; return 1; }
        if (strcasecmp(s, f[i]) == 0) { *out = 0; return 1; }
    }
    return 0;
}

/* Split a scalar list text ("[a, 'b', c]", "a,b", "a", "[]") into items (quotes and
 * surrounding blanks removed; commas inside quotes kept). */
static mgsd_status split_list(const char *text, char ***items_out, size_t *n_out) {
    char *buf = mgsd_strdup(text);
    if (!buf) return MGSD_ERR_NOMEM;
    char *s = trim(buf);
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '[' && (s[len - 1] == ']')) {
        s[len - 1] = '\0';
        s++;
        s = trim(s);
    }
    char **items = NULL;
    size_t n = 0;
    mgsd_status st = MGSD_OK;
    if (*s) {
        char *start = s;
        char quote = 0;
        for (char *p = s;; p++) {
            if (quote) {
                if (*p == quote) quote = 0;
                else if (!*p) quote = 0; /* unterminated: take as is */
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
            }
            if (!*p || (!quote && *p == ',')) {
                int last = !*p;
                *p = '\0';
                char *it = trim(start);
                unquote(it);
                char **grown = mgsd_realloc(items, (n + 1) * sizeof *items);
                if (!grown) { st = MGSD_ERR_NOMEM; break; }
                items = grown;
                items[n] = mgsd_strdup(it);
                if (!items[n]) { st = MGSD_ERR_NOMEM; break; }
                n++;
                if (last) break;
                start = p + 1;
            }
        }
    }
    mgsd_free(buf);
    if (st != MGSD_OK) {
        for (size_t i = 0; i < n; i++) mgsd_free(items[i]);
        mgsd_free(items);
        return st;
    }
    *items_out = items;
    *n_out = n;
    return MGSD_OK;
}

/* Convert raw text to a value of type t. On a type error returns MGSD_ERR_CONFIG without
 * setting a message (the caller knows source and key); MGSD_ERR_NOMEM sets one. */
static mgsd_status value_parse(mgsd_config_type t, const cfg_raw *r, cfg_value *out) {
    memset(out, 0, sizeof *out);
    if (r->kind == 2) return MGSD_ERR_CONFIG;
    if (t == MGSD_CONFIG_INT_LIST || t == MGSD_CONFIG_STR_LIST) {
        char **items;
        size_t n;
        int owned = 0;
        if (r->kind == 1) {
            items = r->items;
            n = r->n;
        } else {
            if (split_list(r->scalar, &items, &n) != MGSD_OK) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
            owned = 1;
        }
        mgsd_status st = MGSD_OK;
        out->n = n;
        if (t == MGSD_CONFIG_INT_LIST) {
            out->il = mgsd_calloc(n ? n : 1, sizeof(int64_t));
            if (!out->il) st = MGSD_ERR_NOMEM;
            for (size_t i = 0; st == MGSD_OK && i < n; i++)
                if (!parse_int(items[i], &out->il[i])) st = MGSD_ERR_CONFIG;
        } else {
            out->sl = mgsd_calloc(n ? n : 1, sizeof(char *));
            if (!out->sl) st = MGSD_ERR_NOMEM;
            for (size_t i = 0; st == MGSD_OK && i < n; i++) {
                out->sl[i] = mgsd_strdup(items[i]);
                if (!out->sl[i]) st = MGSD_ERR_NOMEM;
            }
        }
        if (owned) {
            for (size_t i = 0; i < n; i++) mgsd_free(items[i]);
            mgsd_free(items);
        }
        if (st != MGSD_OK) {
            value_free(out);
            if (st == MGSD_ERR_NOMEM) mgsd_error(st, "config: out of memory");
        }
        return st;
    }
    if (r->kind != 0) return MGSD_ERR_CONFIG; /* a list given to a scalar key */
    switch (t) {
    case MGSD_CONFIG_INT:
        return parse_int(r->scalar, &out->i) ? MGSD_OK : MGSD_ERR_CONFIG;
    case MGSD_CONFIG_FLOAT:
        return parse_float(r->scalar, &out->f) ? MGSD_OK : MGSD_ERR_CONFIG;
    case MGSD_CONFIG_BOOL:
        return parse_bool(r->scalar, &out->b) ? MGSD_OK : MGSD_ERR_CONFIG;
    case MGSD_CONFIG_STR:
        out->s = mgsd_strdup(r->scalar);
        return out->s ? MGSD_OK : mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    default:
        return MGSD_ERR_CONFIG;
    }
}

static mgsd_status type_error(const char *source, const char *key, mgsd_config_type t, const cfg_raw *r) {
    char got[160];
    raw_describe(r, got, sizeof got);
    if (r->kind == 1 && t != MGSD_CONFIG_INT_LIST && t != MGSD_CONFIG_STR_LIST)
        return mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' expects %s %s, got a list '%s'", source, key, type_article(t),
                          type_names[t], got);
    if (r->kind == 2)
        return mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' expects %s %s, got a mapping", source, key, type_article(t),
                          type_names[t]);
    return mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' expects %s %s, got '%s'", source, key, type_article(t),
                      type_names[t], got);
}

/* Parse with a full message on error. */
static mgsd_status value_parse_msg(mgsd_config_type t, const cfg_raw *r, cfg_value *out, const char *source,
                                   const char *key) {
    mgsd_status s = value_parse(t, r, out);
    if (s == MGSD_ERR_CONFIG) return type_error(source, key, t, r);
    return s;
}

/* ---- items ----------------------------------------------------------------------------- */
static cfg_item *find_item(const mgsd_config *c, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].key, key) == 0) return &c->items[i];
    return NULL;
}

static cfg_item *add_item(mgsd_config *c, const char *key) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        cfg_item *grown = mgsd_realloc(c->items, cap * sizeof *grown);
        if (!grown) return NULL;
        c->items = grown;
        c->cap = cap;
    }
    cfg_item *it = &c->items[c->n];
    memset(it, 0, sizeof *it);
    it->key = mgsd_strdup(key);
    if (!it->key) return NULL;
    c->n++;
    return it;
}

static void item_free(cfg_item *it) {
    mgsd_free(it->key);
    mgsd_free(it->help);
    mgsd_free(it->default_text);
    mgsd_free(it->default_layer);
    mgsd_free(it->source);
    value_free(&it->val);
    raw_free(&it->pending);
}

static int set_str(char **dst, const char *src) {
    char *s = mgsd_strdup(src ? src : "");
    if (!s) return 0;
    mgsd_free(*dst);
    *dst = s;
    return 1;
}

mgsd_status mgsd_config_create(mgsd_config **out) {
    MGSD_CHECK_ARG(out != NULL);
    *out = mgsd_calloc(1, sizeof(mgsd_config));
    if (!*out) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    return MGSD_OK;
}

static void free_warnings(mgsd_config *c) {
    for (size_t i = 0; i < c->n_warnings; i++) mgsd_free(c->warnings[i]);
    mgsd_free(c->warnings);
    c->warnings = NULL;
    c->n_warnings = 0;
}

void mgsd_config_free(mgsd_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) item_free(&c->items[i]);
    mgsd_free(c->items);
    free_warnings(c);
    mgsd_free(c->help_buf);
    mgsd_free(c->json_buf);
    mgsd_free(c->ser_buf);
    mgsd_free(c);
}

/* ---- defaults tables -------------------------------------------------------------------- */
mgsd_status mgsd_config_add_defaults(mgsd_config *c, const char *layer, mgsd_config_level level,
                                     const mgsd_config_entry *entries, size_t n) {
    MGSD_CHECK_ARG(c != NULL && (entries != NULL || n == 0));
    MGSD_CHECK_ARG(level == MGSD_CONFIG_LEVEL_OVERALL || level == MGSD_CONFIG_LEVEL_MODEL);
    if (!layer) layer = level == MGSD_CONFIG_LEVEL_OVERALL ? "overall" : "model";
    char src[160];
    snprintf(src, sizeof src, "defaults: %s", layer);

    /* Validate everything first so that an error leaves c unchanged. */
    for (size_t e = 0; e < n; e++) {
        const mgsd_config_entry *en = &entries[e];
        if (!en->key || !en->key[0])
            return mgsd_error(MGSD_ERR_CONFIG, "%s: entry %zu has no key", src, e);
        if ((int)en->type < 0 || en->type >= MGSD_CONFIG_TYPE_COUNT)
            return mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' has unknown type %d", src, en->key, (int)en->type);
        for (size_t k = 0; k < e; k++)
            if (strcmp(entries[k].key, en->key) == 0)
                return mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' is listed twice", src, en->key);
        cfg_raw raw = {.kind = 0, .scalar = (char *)(en->default_text ? en->default_text : "")};
        cfg_value v;
        MGSD_TRY(value_parse_msg(en->type, &raw, &v, src, en->key));
        value_free(&v);
        cfg_item *it = find_item(c, en->key);
        if (it && it->declared && it->type != en->type)
            return mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' is declared as %s %s, but %s declared it as %s %s", src,
                              en->key, type_article(en->type), type_names[en->type], it->default_layer,
                              type_article(it->type), type_names[it->type]);
        if (it && !it->declared && it->has_pending) {
            MGSD_TRY(value_parse_msg(en->type, &it->pending, &v, it->source, en->key));
            value_free(&v);
        }
    }
    /* Apply. */
    for (size_t e = 0; e < n; e++) {
        const mgsd_config_entry *en = &entries[e];
        cfg_item *it = find_item(c, en->key);
        if (!it && !(it = add_item(c, en->key))) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        if (!set_str(&it->default_text, en->default_text) || !set_str(&it->default_layer, layer))
            return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        if ((en->help && en->help[0]) || !it->help)
            if (!set_str(&it->help, en->help)) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        cfg_raw raw = {.kind = 0, .scalar = (char *)(en->default_text ? en->default_text : "")};
        if (!it->declared) {
            it->declared = 1;
            it->type = en->type;
            int had_pending = it->has_pending;
            int pend_level = it->level;
            MGSD_TRY(value_parse(en->type, &raw, &it->val));
            char *pend_src = it->source;
            it->source = NULL;
            it->level = (int)level;
            if (!set_str(&it->source, src)) {
                mgsd_free(pend_src);
                return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
            }
            if (had_pending && pend_level >= (int)level) {
                cfg_value v;
                MGSD_TRY(value_parse(en->type, &it->pending, &v));
                value_free(&it->val);
                it->val = v;
                it->level = pend_level;
                mgsd_free(it->source);
                it->source = pend_src;
                pend_src = NULL;
            }
            mgsd_free(pend_src);
            raw_free(&it->pending);
            it->has_pending = 0;
        } else if (it->level <= (int)level) {
            cfg_value v;
            MGSD_TRY(value_parse(en->type, &raw, &v));
            value_free(&it->val);
            it->val = v;
            it->level = (int)level;
            if (!set_str(&it->source, src)) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        }
    }
    return MGSD_OK;
}

/* ---- setting values ---------------------------------------------------------------------- */
/* Validate raw for key (when declared) without changing anything. */
static mgsd_status check_raw(const mgsd_config *c, const char *key, const cfg_raw *raw, const char *source) {
    const cfg_item *it = find_item(c, key);
    if (!it || !it->declared) return MGSD_OK;
    cfg_value v;
    MGSD_TRY(value_parse_msg(it->type, raw, &v, source, key));
    value_free(&v);
    return MGSD_OK;
}

static mgsd_status set_raw(mgsd_config *c, const char *key, const cfg_raw *raw, int level, const char *source) {
    if (!key || !key[0]) return mgsd_error(MGSD_ERR_CONFIG, "%s: empty key", source);
    cfg_item *it = find_item(c, key);
    if (it && it->level > level && (it->declared || it->has_pending)) return MGSD_OK; /* outranked */
    if (it && it->declared) {
        cfg_value v;
        MGSD_TRY(value_parse_msg(it->type, raw, &v, source, key));
        if (!set_str(&it->source, source)) {
            value_free(&v);
            return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        }
        value_free(&it->val);
        it->val = v;
        it->level = level;
        return MGSD_OK;
    }
    if (!it && !(it = add_item(c, key))) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    cfg_raw copy;
    if (raw_copy(&copy, raw) != MGSD_OK || !set_str(&it->source, source))
        return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    raw_free(&it->pending);
    it->pending = copy;
    it->has_pending = 1;
    it->level = level;
    return MGSD_OK;
}

mgsd_status mgsd_config_set(mgsd_config *c, const char *key, const char *value, mgsd_config_level level,
                            const char *source) {
    MGSD_CHECK_ARG(c != NULL && key != NULL && value != NULL);
    MGSD_CHECK_ARG((int)level >= 0 && level < MGSD_CONFIG_LEVEL_COUNT);
    cfg_raw raw = {.kind = 0, .scalar = (char *)value};
    return set_raw(c, key, &raw, (int)level, source ? source : "(set)");
}

/* ---- YAML ---------------------------------------------------------------------------------- */
typedef struct yaml_pair {
    char *key;
    cfg_raw raw;
    char source[300];
} yaml_pair;

static void pairs_free(yaml_pair *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        mgsd_free(p[i].key);
        raw_free(&p[i].raw);
    }
    mgsd_free(p);
}

static mgsd_status yaml_error(const char *name, const yaml_parser_t *ps) {
    const char *hint = "";
    if ((ps->problem && strstr(ps->problem, "flow")) || (ps->context && strstr(ps->context, "flow sequence")))
        hint = " (interval strings such as [5,inf) must be quoted: \"[5,inf)\")";
    return mgsd_error(MGSD_ERR_PARSE, "%s:%zu:%zu: YAML error: %s%s%s%s", name, ps->problem_mark.line + 1,
                      ps->problem_mark.column + 1, ps->problem ? ps->problem : "malformed YAML",
                      ps->context ? " " : "", ps->context ? ps->context : "", hint);
}

/* A mapping value being flattened into "a.b=value" entries (RecBole's nested keys such as
 * eval_args: {split: {LS: valid_and_test}, mode: uni100}). Lists of scalars become one entry
 * "key=[x, y]"; anything nested inside a list is skipped. */
enum { NEST_MAX = 8 };
typedef struct yaml_nested {
    int depth;                      /* 1 = the value mapping itself */
    int expect_key[NEST_MAX + 1];   /* per depth: the next scalar is a key */
    char *key[NEST_MAX + 1];        /* per depth: the key whose value comes next */
    int in_list, skip;              /* inside a list of scalars; depth of skipped structure */
    char list[512];
    size_t list_len;
} yaml_nested;

static void nested_free(yaml_nested *ns) {
    for (int d = 0; d <= NEST_MAX; d++) mgsd_free(ns->key[d]);
    memset(ns, 0, sizeof *ns);
}

/* Append "path=value" (path: the keys of depths 1..depth joined by '.') to r->items. */
static mgsd_status nested_add(yaml_nested *ns, cfg_raw *r, const char *value) {
    char entry[1024];
    size_t len = 0;
    for (int d = 1; d <= ns->depth && len < sizeof entry; d++)
        len += (size_t)snprintf(entry + len, sizeof entry - len, "%s%s", d > 1 ? "." : "", ns->key[d] ? ns->key[d] : "");
    if (len < sizeof entry) snprintf(entry + len, sizeof entry - len, "=%s", value);
    char **grown = mgsd_realloc(r->items, (r->n + 1) * sizeof *grown);
    if (!grown) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    r->items = grown;
    if (!(r->items[r->n] = mgsd_strdup(entry))) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    r->n++;
    return MGSD_OK;
}

static mgsd_status nested_event(yaml_nested *ns, const yaml_event_t *ev, cfg_raw *r, const char *name, size_t line,
                                int *end) {
    int d = ns->depth;
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        if (ns->in_list || ns->skip) ns->skip++;
        else if (ns->expect_key[d]) return mgsd_error(MGSD_ERR_PARSE, "%s:%zu: a key must be a plain value, not a %s", name, line,
                                                     ev->type == YAML_SEQUENCE_START_EVENT ? "list" : "mapping");
        else if (ev->type == YAML_SEQUENCE_START_EVENT) {
            ns->in_list = 1;
            ns->list_len = (size_t)snprintf(ns->list, sizeof ns->list, "[");
        } else {
            if (d >= NEST_MAX) return mgsd_error(MGSD_ERR_PARSE, "%s:%zu: mapping nested deeper than %d levels", name, line, NEST_MAX);
            ns->depth = d + 1;
            ns->expect_key[d + 1] = 1;
        }
        return MGSD_OK;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        if (ns->skip) ns->skip--;
        else if (ns->in_list) {
            ns->in_list = 0;
            if (ns->list_len < sizeof ns->list) snprintf(ns->list + ns->list_len, sizeof ns->list - ns->list_len, "]");
            ns->expect_key[d] = 1;
            return nested_add(ns, r, ns->list);
        } else {
            mgsd_free(ns->key[d]);
            ns->key[d] = NULL;
            ns->depth = d - 1;
            if (ns->depth == 0) *end = 1;
            else ns->expect_key[ns->depth] = 1;
        }
        return MGSD_OK;
    case YAML_SCALAR_EVENT: {
        const char *val = (const char *)ev->data.scalar.value;
        if (ns->skip) return MGSD_OK;
        if (ns->in_list) {
            if (ns->list_len < sizeof ns->list)
                ns->list_len += (size_t)snprintf(ns->list + ns->list_len, sizeof ns->list - ns->list_len, "%s%s",
                                                 ns->list_len > 1 ? ", " : "", val);
            return MGSD_OK;
        }
        if (ns->expect_key[d]) {
            mgsd_free(ns->key[d]);
            if (!(ns->key[d] = mgsd_strdup(val))) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
            ns->expect_key[d] = 0;
            return MGSD_OK;
        }
        ns->expect_key[d] = 1;
        return nested_add(ns, r, val);
    }
    default:
        return MGSD_OK;
    }
}

/* Parse a YAML mapping into (key, raw, source) pairs. */
static mgsd_status yaml_collect(const char *name, const char *text, size_t len, yaml_pair **out, size_t *n_out) {
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps)) return mgsd_error(MGSD_ERR_NOMEM, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    yaml_pair *pairs = NULL;
    size_t n = 0;
    mgsd_status st = MGSD_OK;
    /* states: 0 outside a document mapping, 1 expecting key, 2 expecting value,
     * 3 inside a value sequence, 4 inside a mapping value (nested_event flattens it) */
    int state = 0, done = 0;
    yaml_nested nest;
    memset(&nest, 0, sizeof nest);
    while (!done && st == MGSD_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&ps, &ev)) {
            st = yaml_error(name, &ps);
            break;
        }
        size_t line = ev.start_mark.line + 1;
        if (state == 4 && ev.type != YAML_ALIAS_EVENT) {
            int end = 0;
            st = nested_event(&nest, &ev, &pairs[n - 1].raw, name, line, &end);
            if (end) state = 1;
            yaml_event_delete(&ev);
            continue;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_ALIAS_EVENT:
            st = mgsd_error(MGSD_ERR_PARSE, "%s:%zu: YAML aliases are not supported", name, line);
            break;
        case YAML_MAPPING_START_EVENT:
            if (state == 0) state = 1;
            else if (state == 1) st = mgsd_error(MGSD_ERR_PARSE, "%s:%zu: a key must be a plain value, not a mapping", name, line);
            else if (state == 2) {
                pairs[n - 1].raw.kind = 2;
                state = 4;
                nest.depth = 1;
                nest.expect_key[1] = 1;
            } else st = mgsd_error(MGSD_ERR_PARSE, "%s:%zu: key '%s': nested values are not supported", name, line, pairs[n - 1].key);
            break;
        case YAML_MAPPING_END_EVENT:
            state = 0;
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (state == 2) { pairs[n - 1].raw.kind = 1; state = 3; }
            else if (state == 3) st = mgsd_error(MGSD_ERR_PARSE, "%s:%zu: key '%s': nested lists are not supported", name, line, pairs[n - 1].key);
            else if (state == 1) st = mgsd_error(MGSD_ERR_PARSE, "%s:%zu: a key must be a plain value, not a list", name, line);
            else st = mgsd_error(MGSD_ERR_PARSE, "%s:%zu: expected a mapping of keys to values", name, line);
            break;
        case YAML_SEQUENCE_END_EVENT:
            if (state == 3) state = 1;
            break;
        case YAML_SCALAR_EVENT: {
            const char *val = (const char *)ev.data.scalar.value;
            if (state == 0) {
                /* an empty document is a null scalar: accept; anything else is not a mapping */
                if (ev.data.scalar.length != 0)
                    st = mgsd_error(MGSD_ERR_PARSE, "%s:%zu: expected a mapping of keys to values", name, line);
            } else if (state == 1) {
                yaml_pair *grown = mgsd_realloc(pairs, (n + 1) * sizeof *pairs);
                if (!grown) { st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory"); break; }
                pairs = grown;
                memset(&pairs[n], 0, sizeof pairs[n]);
                pairs[n].key = mgsd_strdup(val);
                snprintf(pairs[n].source, sizeof pairs[n].source, "%s:%zu", name, line);
                n++;
                if (!pairs[n - 1].key) { st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory"); break; }
                state = 2;
            } else if (state == 2) {
                pairs[n - 1].raw.kind = 0;
                pairs[n - 1].raw.scalar = mgsd_strdup(val);
                if (!pairs[n - 1].raw.scalar) st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
                state = 1;
            } else if (state == 3) {
                cfg_raw *r = &pairs[n - 1].raw;
                char **grown = mgsd_realloc(r->items, (r->n + 1) * sizeof *grown);
                if (!grown) { st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory"); break; }
                r->items = grown;
                r->items[r->n] = mgsd_strdup(val);
                if (!r->items[r->n]) { st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory"); break; }
                r->n++;
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&ps);
    nested_free(&nest);
    if (st != MGSD_OK) {
        pairs_free(pairs, n);
        return st;
    }
    *out = pairs;
    *n_out = n;
    return MGSD_OK;
}

/* Replace each RecBole mapping-valued pair that config_recbole_mapping knows by the flat
 * scalar pairs it means (same source line); other pairs stay as they are. */
static mgsd_status recbole_expand(yaml_pair **pairs, size_t *n) {
    size_t cap = *n * CONFIG_FLAT_MAX + 1, m = 0;
    yaml_pair *out = mgsd_calloc(cap, sizeof *out);
    if (!out) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    mgsd_status st = MGSD_OK;
    for (size_t i = 0; i < *n && st == MGSD_OK; i++) {
        yaml_pair *p = &(*pairs)[i];
        config_flat flat[CONFIG_FLAT_MAX];
        int nf = 0, known = 0;
        if (p->raw.kind == 2) st = config_recbole_mapping(p->key, p->raw.items, p->raw.n, p->source, flat, &nf, &known);
        if (st != MGSD_OK) break;
        if (!known) { /* moved as is */
            out[m++] = *p;
            memset(p, 0, sizeof *p);
            continue;
        }
        for (int k = 0; k < nf && st == MGSD_OK; k++, m++) {
            out[m].key = mgsd_strdup(flat[k].key);
            out[m].raw.scalar = mgsd_strdup(flat[k].value);
            memcpy(out[m].source, p->source, sizeof out[m].source);
            if (!out[m].key || !out[m].raw.scalar) st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        }
    }
    pairs_free(*pairs, *n);
    *pairs = out;
    *n = m;
    return st;
}

mgsd_status mgsd_config_load_yaml_string(mgsd_config *c, const char *name, const char *text, size_t len) {
    MGSD_CHECK_ARG(c != NULL && (text != NULL || len == 0));
    if (!name) name = "(yaml)";
    yaml_pair *pairs = NULL;
    size_t n = 0;
    MGSD_TRY(yaml_collect(name, text ? text : "", len, &pairs, &n));
    mgsd_status st = MGSD_OK;
    /* YAML mapping keys are unique; a repeated one is most likely an edit that did not take */
    for (size_t i = 1; i < n && st == MGSD_OK; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(pairs[i].key, pairs[j].key)) {
                st = mgsd_error(MGSD_ERR_PARSE, "%s: key '%s' repeats the one at %s", pairs[i].source, pairs[i].key,
                                pairs[j].source);
                break;
            }
    if (st == MGSD_OK) st = recbole_expand(&pairs, &n);
    for (size_t i = 0; i < n && st == MGSD_OK; i++) st = check_raw(c, pairs[i].key, &pairs[i].raw, pairs[i].source);
    for (size_t i = 0; i < n && st == MGSD_OK; i++)
        st = set_raw(c, pairs[i].key, &pairs[i].raw, MGSD_CONFIG_LEVEL_FILE, pairs[i].source);
    pairs_free(pairs, n);
    return st;
}

mgsd_status mgsd_config_load_yaml(mgsd_config *c, const char *path) {
    MGSD_CHECK_ARG(c != NULL && path != NULL);
    char *buf;
    size_t len;
    MGSD_TRY(mgsd_read_file(path, "config file", &buf, &len));
    mgsd_status st = mgsd_config_load_yaml_string(c, path, buf, len);
    mgsd_free(buf);
    return st;
}

/* ---- command line ------------------------------------------------------------------------ */
mgsd_status mgsd_config_apply_args(mgsd_config *c, int argc, char *const *argv) {
    MGSD_CHECK_ARG(c != NULL && argc >= 0 && (argv != NULL || argc == 0));
    /* Check the form of every argument first. */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = a ? strchr(a, '=') : NULL;
        if (!a || strncmp(a, "--", 2) != 0 || !eq || eq == a + 2)
            return mgsd_error(MGSD_ERR_CONFIG, "command line: argument '%s' is not of the form --key=value",
                              a ? a : "(null)");
    }
    /* Files first (their level is below the command line anyway). */
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--config=", 9) != 0) continue;
        char *list = mgsd_strdup(argv[i] + 9);
        if (!list) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        mgsd_status st = MGSD_OK;
        char *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p && st == MGSD_OK; p = strtok_r(NULL, ",", &save)) {
            char *path = trim(p);
            if (*path) st = mgsd_config_load_yaml(c, path);
        }
        mgsd_free(list);
        MGSD_TRY(st);
    }
    for (int pass = 0; pass < 2; pass++) { /* pass 0 validates all, pass 1 applies */
        for (int i = 0; i < argc; i++) {
            if (strncmp(argv[i], "--config=", 9) == 0) continue;
            const char *a = argv[i] + 2;
            const char *eq = strchr(a, '=');
            char key[256];
            size_t kl = (size_t)(eq - a);
            if (kl >= sizeof key) return mgsd_error(MGSD_ERR_CONFIG, "command line: key too long in '%s'", argv[i]);
            memcpy(key, a, kl);
            key[kl] = '\0';
            cfg_raw raw = {.kind = 0, .scalar = (char *)(eq + 1)};
            if (pass == 0) MGSD_TRY(check_raw(c, key, &raw, "command line"));
            else MGSD_TRY(set_raw(c, key, &raw, MGSD_CONFIG_LEVEL_CMDLINE, "command line"));
        }
    }
    return MGSD_OK;
}

/* ---- warnings --------------------------------------------------------------------------- */
const char *const *mgsd_config_warnings(mgsd_config *c, size_t *n) {
    if (n) *n = 0;
    if (!c) return NULL;
    free_warnings(c);
    size_t cnt = 0;
    for (size_t i = 0; i < c->n; i++) cnt += !c->items[i].declared;
    if (!cnt) return NULL;
    c->warnings = mgsd_calloc(cnt, sizeof(char *));
    if (!c->warnings) return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const cfg_item *it = &c->items[i];
        if (it->declared) continue;
        char msg[512];
        snprintf(msg, sizeof msg, "%s: unknown key '%s' (not used by the overall or model defaults)", it->source,
                 it->key);
        char *m = mgsd_strdup(msg);
        if (!m) break;
        c->warnings[c->n_warnings++] = m;
    }
    if (n) *n = c->n_warnings;
    return (const char *const *)c->warnings;
}

/* ---- getters ---------------------------------------------------------------------------- */
static mgsd_status get_item(const mgsd_config *c, const char *key, mgsd_config_type want, int allow_int,
                            const cfg_item **out) {
    MGSD_CHECK_ARG(c != NULL && key != NULL);
    const cfg_item *it = find_item(c, key);
    if (!it || !it->declared) return mgsd_error(MGSD_ERR_NOT_FOUND, "config key '%s' is not defined", key);
    if (it->type != want && !(allow_int && it->type == MGSD_CONFIG_INT))
        return mgsd_error(MGSD_ERR_CONFIG, "config key '%s' is %s %s, not %s %s", key, type_article(it->type),
                          type_names[it->type], type_article(want), type_names[want]);
    *out = it;
    return MGSD_OK;
}

mgsd_status mgsd_config_get_int64(const mgsd_config *c, const char *key, int64_t *out) {
    MGSD_CHECK_ARG(out != NULL);
    const cfg_item *it = NULL;
    MGSD_TRY(get_item(c, key, MGSD_CONFIG_INT, 0, &it));
    *out = it->val.i;
    return MGSD_OK;
}

mgsd_status mgsd_config_get_int(const mgsd_config *c, const char *key, int *out) {
    MGSD_CHECK_ARG(out != NULL);
    const cfg_item *it = NULL;
    MGSD_TRY(get_item(c, key, MGSD_CONFIG_INT, 0, &it));
    if (it->val.i < INT_MIN || it->val.i > INT_MAX)
        return mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' value %lld does not fit in an int", it->source, key,
                          (long long)it->val.i);
    *out = (int)it->val.i;
    return MGSD_OK;
}

mgsd_status mgsd_config_get_float(const mgsd_config *c, const char *key, double *out) {
    MGSD_CHECK_ARG(out != NULL);
    const cfg_item *it = NULL;
    MGSD_TRY(get_item(c, key, MGSD_CONFIG_FLOAT, 1, &it));
    *out = it->type == MGSD_CONFIG_INT ? (double)it->val.i : it->val.f;
    return MGSD_OK;
}

mgsd_status mgsd_config_get_bool(const mgsd_config *c, const char *key, int *out) {
    MGSD_CHECK_ARG(out != NULL);
    const cfg_item *it = NULL;
    MGSD_TRY(get_item(c, key, MGSD_CONFIG_BOOL, 0, &it));
    *out = it->val.b;
    return MGSD_OK;
}

mgsd_status mgsd_config_get_str(const mgsd_config *c, const char *key, const char **out) {
    MGSD_CHECK_ARG(out != NULL);
    const cfg_item *it = NULL;
    MGSD_TRY(get_item(c, key, MGSD_CONFIG_STR, 0, &it));
    *out = it->val.s;
    return MGSD_OK;
}

mgsd_status mgsd_config_get_int_list(const mgsd_config *c, const char *key, const int64_t **items, size_t *n) {
    MGSD_CHECK_ARG(items != NULL && n != NULL);
    const cfg_item *it = NULL;
    MGSD_TRY(get_item(c, key, MGSD_CONFIG_INT_LIST, 0, &it));
    *items = it->val.il;
    *n = it->val.n;
    return MGSD_OK;
}

mgsd_status mgsd_config_get_str_list(const mgsd_config *c, const char *key, const char *const **items,
                                     size_t *n) {
    MGSD_CHECK_ARG(items != NULL && n != NULL);
    const cfg_item *it = NULL;
    MGSD_TRY(get_item(c, key, MGSD_CONFIG_STR_LIST, 0, &it));
    *items = (const char *const *)it->val.sl;
    *n = it->val.n;
    return MGSD_OK;
}

int mgsd_config_has(const mgsd_config *c, const char *key) {
    const cfg_item *it = c && key ? find_item(c, key) : NULL;
    return it && it->declared;
}

const char *mgsd_config_source(const mgsd_config *c, const char *key, mgsd_config_level *level) {
    const cfg_item *it = c && key ? find_item(c, key) : NULL;
    if (!it || !it->declared) return NULL;
    if (level) *level = (mgsd_config_level)it->level;
    return it->source;
}

/* ---- growable string buffer ---------------------------------------------------------------- */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *g = mgsd_realloc(b->p, cap);
        if (!g) { b->oom = 1; return; }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { sb_putn(b, tmp, (size_t)n); return; }
    char *big = mgsd_malloc((size_t)n + 1);
    if (!big) { b->oom = 1; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, big, (size_t)n);
    mgsd_free(big);
}

/* ---- help --------------------------------------------------------------------------------- */
const char *mgsd_config_format_help(mgsd_config *c) {
    if (!c) return "";
    size_t wk = 3, wt = 4, wd = 7;
    for (size_t i = 0; i < c->n; i++) {
        const cfg_item *it = &c->items[i];
        if (!it->declared) continue;
        if (strlen(it->key) > wk) wk = strlen(it->key);
        if (strlen(type_names[it->type]) > wt) wt = strlen(type_names[it->type]);
        if (strlen(it->default_text) > wd) wd = strlen(it->default_text);
    }
    if (wd > 20) wd = 20; /* long defaults push their help line out rather than every line */
    sbuf b = {0};
    sb_printf(&b, "%-*s  %-*s  %-*s  %s\n", (int)wk, "key", (int)wt, "type", (int)wd, "default", "help");
    for (size_t i = 0; i < c->n; i++) {
        const cfg_item *it = &c->items[i];
        if (!it->declared) continue;
        sb_printf(&b, "%-*s  %-*s  %-*s  %s\n", (int)wk, it->key, (int)wt, type_names[it->type], (int)wd,
                  it->default_text[0] ? it->default_text : "\"\"", it->help ? it->help : "");
    }
    if (b.oom) {
        mgsd_free(b.p);
        mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        return "";
    }
    mgsd_free(c->help_buf);
    c->help_buf = b.p;
    return c->help_buf ? c->help_buf : "";
}

/* ---- JSON ---------------------------------------------------------------------------------- */
mgsd_status mgsd_config_to_json(mgsd_config *c, int pretty, const char **out) {
    MGSD_CHECK_ARG(c != NULL && out != NULL);
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    for (size_t i = 0; ok && i < c->n; i++) {
        const cfg_item *it = &c->items[i];
        if (!it->declared) continue;
        cJSON *v = NULL;
        switch (it->type) {
        case MGSD_CONFIG_INT: v = cJSON_CreateNumber((double)it->val.i); break;
        case MGSD_CONFIG_FLOAT: v = isfinite(it->val.f) ? cJSON_CreateNumber(it->val.f) : cJSON_CreateString(isnan(it->val.f) ? "nan" : it->val.f > 0 ? "inf" : "-inf"); break;
        case MGSD_CONFIG_BOOL: v = cJSON_CreateBool(it->val.b); break;
        case MGSD_CONFIG_STR: v = cJSON_CreateString(it->val.s); break;
        case MGSD_CONFIG_INT_LIST:
            v = cJSON_CreateArray();
            for (size_t k = 0; v && k < it->val.n; k++) {
                cJSON *e = cJSON_CreateNumber((double)it->val.il[k]);
                if (!e || !cJSON_AddItemToArray(v, e)) { cJSON_Delete(e); ok = 0; break; }
            }
            break;
        case MGSD_CONFIG_STR_LIST:
            v = cJSON_CreateArray();
            for (size_t k = 0; v && k < it->val.n; k++) {
                cJSON *e = cJSON_CreateString(it->val.sl[k]);
                if (!e || !cJSON_AddItemToArray(v, e)) { cJSON_Delete(e); ok = 0; break; }
            }
            break;
        default: break;
        }
        if (!v || !cJSON_AddItemToObject(root, it->key, v)) {
            cJSON_Delete(v);
            ok = 0;
        }
    }
    char *text = ok ? (pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root)) : NULL;
    cJSON_Delete(root);
    if (!text) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory building JSON");
    char *copy = mgsd_strdup(text);
    cJSON_free(text);
    if (!copy) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory building JSON");
    mgsd_free(c->json_buf);
    c->json_buf = copy;
    *out = copy;
    return MGSD_OK;
}

/* ---- text form for checkpoints ---------------------------------------------------------------
 * "mgsd-config 1\n" then one line per declared key:
 *   key \t type-tag \t level \t source \t value \n
 * Fields escape '\\', '\t', '\n', '\r' and ',' with a backslash. Lists are "N:" followed
 * by N escaped items joined by ','. Floats use %.17g (exact round trip). */
#define CFG_TEXT_HEADER "mgsd-config 1\n"

static void sb_escaped(sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '\\': sb_puts(b, "\\\\"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case ',': sb_puts(b, "\\,"); break;
        default: sb_putn(b, s, 1);
        }
    }
}

mgsd_status mgsd_config_serialize(mgsd_config *c, const char **out, size_t *len) {
    MGSD_CHECK_ARG(c != NULL && out != NULL);
    sbuf b = {0};
    sb_puts(&b, CFG_TEXT_HEADER);
    for (size_t i = 0; i < c->n; i++) {
        const cfg_item *it = &c->items[i];
        if (!it->declared) continue;
        sb_escaped(&b, it->key);
        sb_printf(&b, "\t%s\t%d\t", type_tags[it->type], it->level);
        sb_escaped(&b, it->source ? it->source : "");
        sb_puts(&b, "\t");
        switch (it->type) {
        case MGSD_CONFIG_INT: sb_printf(&b, "%lld", (long long)it->val.i); break;
        case MGSD_CONFIG_FLOAT: sb_printf(&b, "%.17g", it->val.f); break;
        case MGSD_CONFIG_BOOL: sb_puts(&b, it->val.b ? "true" : "false"); break;
        case MGSD_CONFIG_STR: sb_escaped(&b, it->val.s); break;
        case MGSD_CONFIG_INT_LIST:
            sb_printf(&b, "%zu:", it->val.n);
            for (size_t k = 0; k < it->val.n; k++) sb_printf(&b, "%s%lld", k ? "," : "", (long long)it->val.il[k]);
            break;
        case MGSD_CONFIG_STR_LIST:
            sb_printf(&b, "%zu:", it->val.n);
            for (size_t k = 0; k < it->val.n; k++) {
                if (k) sb_puts(&b, ",");
                sb_escaped(&b, it->val.sl[k]);
            }
            break;
        default: break;
        }
        sb_puts(&b, "\n");
    }
    if (b.oom) {
        mgsd_free(b.p);
        return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory serialising");
    }
    mgsd_free(c->ser_buf);
    c->ser_buf = b.p;
    c->ser_len = b.len;
    *out = b.p;
    if (len) *len = b.len;
    return MGSD_OK;
}

/* Split s (modified in place) at unescaped `sep`, unescaping each piece. Returns the
 * number of pieces (at most max), or -1 on a bad escape. */
static int split_escaped(char *s, char sep, char **pieces, int max) {
    int n = 0;
    char *w = s, *start = s;
    for (char *r = s;; r++) {
        if (*r == '\\') {
            r++;
            char e = *r;
            if (e == 't') *w++ = '\t';
            else if (e == 'n') *w++ = '\n';
            else if (e == 'r') *w++ = '\r';
            else if (e == '\\' || e == ',') *w++ = e;
            else return -1;
        } else if (*r == sep || *r == '\0') {
            int end = *r == '\0';
            *w++ = '\0';
            if (n >= max) return -1;
            pieces[n++] = start;
            start = w;
            if (end) break;
        } else {
            *w++ = *r;
        }
    }
    return n;
}

typedef struct ser_entry {
    char *key, *source;
    mgsd_config_type type;
    int level;
    cfg_value val;
} ser_entry;

static mgsd_status ser_parse_line(const char *name, size_t lineno, char *line, ser_entry *e) {
    memset(e, 0, sizeof *e);
    /* The value of a list keeps its escapes for the item split; separate on raw tabs first. */
    char *f[5];
    int nf = 0;
    char *p = line;
    for (; nf < 4; nf++) {
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        f[nf] = p;
        p = tab + 1;
    }
    if (nf != 4) return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: expected 5 tab-separated fields", name, lineno);
    f[4] = p;
    char *one[1];
    for (int k = 0; k < 4; k++)
        if (k != 1 && k != 2 && split_escaped(f[k], '\0', one, 1) != 1)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: bad escape", name, lineno);
    int t = -1;
    for (int k = 0; k < MGSD_CONFIG_TYPE_COUNT; k++)
        if (strcmp(f[1], type_tags[k]) == 0) t = k;
    int64_t level;
    if (t < 0 || !parse_int(f[2], &level) || level < 0 || level >= MGSD_CONFIG_LEVEL_COUNT || !f[0][0])
        return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: bad key, type or level", name, lineno);
    e->type = (mgsd_config_type)t;
    e->level = (int)level;
    e->key = mgsd_strdup(f[0]);
    e->source = mgsd_strdup(f[3]);
    if (!e->key || !e->source) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    char *v = f[4];
    cfg_raw raw = {0};
    mgsd_status st = MGSD_OK;
    if (t == MGSD_CONFIG_INT_LIST || t == MGSD_CONFIG_STR_LIST) {
        char *colon = strchr(v, ':');
        int64_t cnt;
        if (!colon) return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: list without count", name, lineno);
        *colon = '\0';
        if (!parse_int(v, &cnt) || cnt < 0 || cnt > 1000000)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: bad list count", name, lineno);
        raw.kind = 1;
        raw.items = mgsd_calloc(cnt ? (size_t)cnt : 1, sizeof(char *));
        if (!raw.items) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
        int got = cnt ? split_escaped(colon + 1, ',', raw.items, (int)cnt) : (colon[1] ? -1 : 0);
        if (got != (int)cnt) {
            mgsd_free(raw.items);
            return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: list has the wrong number of items", name, lineno);
        }
        raw.n = (size_t)cnt;
        st = value_parse(e->type, &raw, &e->val);
        mgsd_free(raw.items); /* items point into line */
    } else {
        if (split_escaped(v, '\0', one, 1) != 1)
            return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: bad escape", name, lineno);
        raw.kind = 0;
        raw.scalar = v;
        st = value_parse(e->type, &raw, &e->val);
    }
    if (st == MGSD_ERR_CONFIG)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu: bad %s value for key '%s'", name, lineno,
                          type_names[t], e->key);
    return st;
}

static void ser_entries_free(ser_entry *e, size_t n) {
    for (size_t i = 0; i < n; i++) {
        mgsd_free(e[i].key);
        mgsd_free(e[i].source);
        value_free(&e[i].val);
    }
    mgsd_free(e);
}

mgsd_status mgsd_config_deserialize(mgsd_config *c, const char *name, const char *text, size_t len) {
    MGSD_CHECK_ARG(c != NULL && (text != NULL || len == 0));
    if (!name) name = "(config)";
    size_t hl = strlen(CFG_TEXT_HEADER);
    if (len < hl || memcmp(text, CFG_TEXT_HEADER, hl) != 0)
        return mgsd_error(MGSD_ERR_FORMAT, "%s: not an mgsd config text (expected '%.*s')", name, (int)hl - 1,
                          CFG_TEXT_HEADER);
    char *buf = mgsd_malloc(len + 1);
    if (!buf) return mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        mgsd_free(buf);
        return mgsd_error(MGSD_ERR_FORMAT, "%s: config text contains a NUL byte", name);
    }
    ser_entry *ents = NULL;
    size_t n = 0;
    mgsd_status st = MGSD_OK;
    size_t lineno = 1;
    char *p = buf + hl;
    while (*p && st == MGSD_OK) {
        lineno++;
        char *nl = strchr(p, '\n');
        if (!nl) {
            st = mgsd_error(MGSD_ERR_FORMAT, "%s: config line %zu is not terminated (truncated?)", name, lineno);
            break;
        }
        *nl = '\0';
        ser_entry *g = mgsd_realloc(ents, (n + 1) * sizeof *ents);
        if (!g) { st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory"); break; }
        ents = g;
        st = ser_parse_line(name, lineno, p, &ents[n]);
        n++;
        if (st == MGSD_OK) {
            const cfg_item *it = find_item(c, ents[n - 1].key);
            if (it && it->declared && it->type != ents[n - 1].type)
                st = mgsd_error(MGSD_ERR_CONFIG, "%s: key '%s' is %s %s here but %s %s in the stored config", name,
                                it->key, type_article(it->type), type_names[it->type],
                                type_article(ents[n - 1].type), type_names[ents[n - 1].type]);
        }
        p = nl + 1;
    }
    /* Apply (only after every line parsed). */
    for (size_t i = 0; i < n && st == MGSD_OK; i++) {
        ser_entry *e = &ents[i];
        cfg_item *it = find_item(c, e->key);
        if (!it && !(it = add_item(c, e->key))) { st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory"); break; }
        if (!it->declared) {
            /* a stored key unknown here: declare it with the stored value as default */
            raw_free(&it->pending);
            it->has_pending = 0;
            it->declared = 1;
            it->type = e->type;
            if (!set_str(&it->default_text, "") || !set_str(&it->default_layer, name) || !set_str(&it->help, "")) {
                st = mgsd_error(MGSD_ERR_NOMEM, "config: out of memory");
                break;
            }
        }
        value_free(&it->val);
        it->val = e->val;
        memset(&e->val, 0, sizeof e->val);
        it->level = e->level;
        mgsd_free(it->source);
        it->source = e->source;
        e->source = NULL;
    }
    ser_entries_free(ents, n);
    mgsd_free(buf);
    return st;
}
