/* RecBole's mapping-valued configuration keys, read into mgsd's flat keys (config_internal.h).
 * RecBole users write, e.g. in the MGSD-WSS authors' config/text.yml:
 *   clip_grad_norm: {'max_norm': 5.0, 'norm_type': 2}
 *   eval_args: {group_by: user, order: TO, split: {'LS': 'valid_and_test'}, mode: full}
 *   train_neg_sample_args: {distribution: uniform, sample_num: 1}
 *   load_col: {inter: [user_id, item_id, rating, timestamp]}
 * Each becomes the flat setting it means, or nothing when it only restates what mgsd does;
 * an entry that asks for something mgsd does not do is an error naming file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "core/core.h"

/* An entry is "path=value" (config.c flattens nested mappings so). The value is the text
 * after the first '='; the path is compared case-insensitively. */
static size_t path_len(const char *entry) { return strcspn(entry, "="); }

static const char *value_of(const char *entry) {
    size_t n = path_len(entry);
    return entry + n + (entry[n] == '=');
}

static int path_is(const char *entry, const char *path) {
    return path_len(entry) == strlen(path) && !strncasecmp(entry, path, strlen(path));
}

static int is(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

static mgsd_status add_flat(config_flat *out, int *n_out, const char *key, const char *value) {
    if (*n_out >= CONFIG_FLAT_MAX) return mgsd_error(MGSD_ERR_INTERNAL, "config: too many flat settings");
    snprintf(out[*n_out].key, sizeof out[*n_out].key, "%s", key);
    snprintf(out[*n_out].value, sizeof out[*n_out].value, "%s", value);
    (*n_out)++;
    return MGSD_OK;
}

static mgsd_status unknown_entry(const char *source, const char *key, const char *entry) {
    return mgsd_error(MGSD_ERR_CONFIG, "%s: %s: unknown entry '%.*s'", source, key, (int)path_len(entry), entry);
}

static mgsd_status clip_grad_norm(char *const *entries, size_t n, const char *source, config_flat *out, int *n_out) {
    int have_max = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = entries[i], *value = value_of(e);
        if (path_is(e, "max_norm")) {
            MGSD_TRY(add_flat(out, n_out, "clip_grad_norm", value));
            have_max = 1;
        } else if (path_is(e, "norm_type")) {
            char *end;
            double t = strtod(value, &end);
            if (end == value || *end || t != 2.0)
                return mgsd_error(MGSD_ERR_CONFIG, "%s: clip_grad_norm: only the L2 norm is supported (norm_type 2), got '%s'",
                                  source, value);
        } else {
            return unknown_entry(source, "clip_grad_norm", e);
        }
    }
    if (!have_max) return mgsd_error(MGSD_ERR_CONFIG, "%s: clip_grad_norm: the mapping has no max_norm", source);
    return MGSD_OK;
}

static mgsd_status eval_args(char *const *entries, size_t n, const char *source, config_flat *out, int *n_out) {
    const char *mode_valid = NULL, *mode_test = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *e = entries[i], *value = value_of(e);
        if (path_is(e, "group_by")) {
            if (!is(value, "user"))
                return mgsd_error(MGSD_ERR_CONFIG, "%s: eval_args.group_by: mgsd evaluates per user (user), got '%s'", source,
                                  value);
        } else if (path_is(e, "order")) {
            if (!is(value, "TO"))
                return mgsd_error(MGSD_ERR_CONFIG,
                                  "%s: eval_args.order: mgsd orders each user's interactions by time (TO), got '%s'", source,
                                  value);
        } else if (!strncasecmp(e, "split.", 6)) {
            if (!path_is(e + 6, "LS") || !is(value, "valid_and_test"))
                return mgsd_error(MGSD_ERR_CONFIG,
                                  "%s: eval_args.split: mgsd splits leave-one-out into valid and test ({LS: "
                                  "valid_and_test}), got %s",
                                  source, e + 6);
        } else if (path_is(e, "mode") || path_is(e, "mode.valid") || path_is(e, "mode.test")) {
            if (!path_is(e, "mode.test")) mode_valid = value;
            if (!path_is(e, "mode.valid")) mode_test = value;
        } else {
            return unknown_entry(source, "eval_args", e);
        }
    }
    if (mode_valid || mode_test) {
        if (!mode_valid || !mode_test || !is(mode_valid, mode_test))
            return mgsd_error(MGSD_ERR_CONFIG,
                              "%s: eval_args.mode: valid and test must use the same mode, got valid '%s' and test '%s'",
                              source, mode_valid ? mode_valid : "(none)", mode_test ? mode_test : "(none)");
        MGSD_TRY(add_flat(out, n_out, "eval_mode", mode_valid));
    }
    return MGSD_OK;
}

/* train_neg_sample_args (RecBole 1.1) or neg_sampling (1.0): mgsd's BPR draws one uniform
 * negative per instance, and the other losses draw none. */
static mgsd_status negatives(const char *key, char *const *entries, size_t n, const char *source) {
    const char *dist = NULL, *num = NULL;
    char dbuf[64];
    for (size_t i = 0; i < n; i++) {
        const char *e = entries[i], *value = value_of(e);
        if (!strcmp(key, "neg_sampling")) { /* {uniform: 1}: the path is the distribution */
            snprintf(dbuf, sizeof dbuf, "%.*s", (int)path_len(e), e);
            dist = dbuf;
            num = value;
        } else if (path_is(e, "distribution")) {
            dist = value;
        } else if (path_is(e, "sample_num")) {
            num = value;
        } else if (path_is(e, "dynamic")) {
            if (!is(value, "false") && !is(value, "none"))
                return mgsd_error(MGSD_ERR_CONFIG, "%s: %s.dynamic: dynamic negative sampling is not supported", source, key);
        } else if (!path_is(e, "alpha") && !path_is(e, "candidate_num")) {
            return unknown_entry(source, key, e);
        }
    }
    if (dist && is(dist, "none")) return MGSD_OK;
    if (!dist || !num || !is(dist, "uniform") || strtol(num, NULL, 10) != 1 || strspn(num, "0123456789.") != strlen(num))
        return mgsd_error(MGSD_ERR_CONFIG,
                          "%s: %s: mgsd's BPR loss draws one uniform negative (distribution uniform, sample_num 1), got "
                          "distribution '%s', sample_num '%s'",
                          source, key, dist ? dist : "(none)", num ? num : "(none)");
    return MGSD_OK;
}

/* val_interval: {rating: "[3,inf)", timestamp: "[0,1e9)"} -> "rating=[3,inf) timestamp=[0,1e9)". */
static mgsd_status val_interval(char *const *entries, size_t n, const char *source, config_flat *out, int *n_out) {
    char text[sizeof out->value] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (memchr(entries[i], '.', path_len(entries[i])))
            return mgsd_error(MGSD_ERR_CONFIG, "%s: val_interval: '%.*s' is not a field name", source,
                              (int)path_len(entries[i]), entries[i]);
        int w = snprintf(text + len, sizeof text - len, "%s%s", len ? " " : "", entries[i]);
        if (w < 0 || (size_t)w >= sizeof text - len) return mgsd_error(MGSD_ERR_CONFIG, "%s: val_interval is too long", source);
        len += (size_t)w;
    }
    return add_flat(out, n_out, "val_interval", text);
}

mgsd_status config_recbole_mapping(const char *key, char *const *entries, size_t n, const char *source,
                                   config_flat *out, int *n_out, int *known) {
    *n_out = 0;
    *known = 1;
    if (!strcmp(key, "clip_grad_norm")) return clip_grad_norm(entries, n, source, out, n_out);
    if (!strcmp(key, "eval_args")) return eval_args(entries, n, source, out, n_out);
    if (!strcmp(key, "train_neg_sample_args") || !strcmp(key, "neg_sampling")) return negatives(key, entries, n, source);
    if (!strcmp(key, "load_col") || !strcmp(key, "unload_col")) return MGSD_OK; /* the *_FIELD keys name what is read */
    if (!strcmp(key, "val_interval")) return val_interval(entries, n, source, out, n_out);
    *known = 0;
    return MGSD_OK;
}
