/* `mgsd synth`: generate synthetic interactions with planted noise and write a RecBole
 * .inter file plus PATH.noise with the ground-truth labels (see docs/data.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "mgsd/data.h"
#include "mgsd/mgsd.h"

static void synth_usage(FILE *f) {
    mgsd_synth_options d;
    mgsd_synth_options_default(&d);
    fprintf(f,
            "usage: mgsd synth --out=PATH [options]\n\n"
            "Generate users whose histories walk inside 1-3 latent interest clusters, then plant\n"
            "random items as noise. Writes PATH (.inter) and PATH.noise (labels).\n\n"
            "options:\n"
            "  --out=PATH                  output .inter file (required)\n"
            "  --users=N                   number of users (default %d)\n"
            "  --items=N                   number of items (default %d)\n"
            "  --interests=K               interest clusters (default %d)\n"
            "  --min-len=N --max-len=N     clean history length range (default %d..%d)\n"
            "  --noise=F                   noisy items per clean item (default %g)\n"
            "  --noise-mode=replace|insert replace clean items or insert extra ones (default replace)\n"
            "  --p-follow=F                probability of the cluster successor (default %g)\n"
            "  --p-switch=F                probability of switching interest (default %g)\n"
            "  --seed=S                    random seed (default %llu)\n"
            "  --help                      this text\n",
            d.users, d.items, d.interests, d.min_len, d.max_len, (double)d.noise, (double)d.p_follow,
            (double)d.p_switch, (unsigned long long)d.seed);
}

static const char *opt_value(const char *arg, const char *key) {
    size_t n = strlen(key);
    if (strncmp(arg, key, n) == 0 && arg[n] == '=') return arg + n + 1;
    return NULL;
}

static int parse_int(const char *key, const char *v, int32_t *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < 0 || x > 2000000000L) {
        fprintf(stderr, "mgsd: error: %s expects a non-negative integer, got '%s'\n", key, v);
        return 0;
    }
    *out = (int32_t)x;
    return 1;
}

static int parse_float(const char *key, const char *v, float *out) {
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || x != x) {
        fprintf(stderr, "mgsd: error: %s expects a number, got '%s'\n", key, v);
        return 0;
    }
    *out = (float)x;
    return 1;
}

int cli_cmd_synth(int argc, char **argv) {
    mgsd_synth_options o;
    mgsd_synth_options_default(&o);
    const char *out = NULL, *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int ok = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            synth_usage(stdout);
            return 0;
        } else if ((v = opt_value(a, "--out"))) out = v;
        else if ((v = opt_value(a, "--users"))) ok = parse_int("--users", v, &o.users);
        else if ((v = opt_value(a, "--items"))) ok = parse_int("--items", v, &o.items);
        else if ((v = opt_value(a, "--interests"))) ok = parse_int("--interests", v, &o.interests);
        else if ((v = opt_value(a, "--min-len"))) ok = parse_int("--min-len", v, &o.min_len);
        else if ((v = opt_value(a, "--max-len"))) ok = parse_int("--max-len", v, &o.max_len);
        else if ((v = opt_value(a, "--noise"))) ok = parse_float("--noise", v, &o.noise);
        else if ((v = opt_value(a, "--p-follow"))) ok = parse_float("--p-follow", v, &o.p_follow);
        else if ((v = opt_value(a, "--p-switch"))) ok = parse_float("--p-switch", v, &o.p_switch);
        else if ((v = opt_value(a, "--noise-mode"))) {
            if (!strcmp(v, "replace")) o.noise_mode = MGSD_NOISE_REPLACE;
            else if (!strcmp(v, "insert")) o.noise_mode = MGSD_NOISE_INSERT;
            else {
                fprintf(stderr, "mgsd: error: --noise-mode expects replace or insert, got '%s'\n", v);
                ok = 0;
            }
        } else if ((v = opt_value(a, "--seed"))) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *end || errno) {
                fprintf(stderr, "mgsd: error: --seed expects a non-negative integer, got '%s'\n", v);
                ok = 0;
            }
            o.seed = s;
        } else {
            fprintf(stderr, "mgsd: error: synth: unknown option '%s'\n\n", a);
            synth_usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!out || !*out) {
        fprintf(stderr, "mgsd: error: synth: --out=PATH is required\n\n");
        synth_usage(stderr);
        return 2;
    }
    mgsd_synth s;
    mgsd_status st = mgsd_synth_generate(&s, &o);
    if (st == MGSD_OK) {
        st = mgsd_synth_write(&s, out);
        if (st == MGSD_OK) {
            int64_t noisy = 0;
            for (int64_t i = 0; i < s.n; i++) noisy += s.is_noise[i];
            printf("wrote %s (%lld interactions, %d users, %d items) and %s.noise (%lld noisy, %.1f%%)\n", out,
                   (long long)s.n, (int)s.n_users, (int)s.n_items, out, (long long)noisy,
                   s.n ? 100.0 * (double)noisy / (double)s.n : 0.0);
        }
        mgsd_synth_free(&s);
    }
    return st == MGSD_OK ? 0 : cli_fail(st); /* an option out of range (MGSD_ERR_CONFIG) is a usage error, 2 */
}
