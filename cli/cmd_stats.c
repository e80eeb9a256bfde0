/* `mgsd stats`: load a dataset with RecBole filtering and print its statistics
 * (users, items, interactions, training instances, sequence lengths, sparsity). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_ckpt.h"
#include "core/core.h"
#include "mgsd/data.h"
#include "mgsd/mgsd.h"
#include "train/trainer.h"

static void stats_usage(FILE *f) {
    fprintf(f,
            "usage: mgsd stats --dataset=PATH [options]\n\n"
            "Load an interaction file, apply RecBole k-core filtering and print statistics.\n\n"
            "options:\n"
            "  --dataset=PATH                    .inter, sequence or CSV file, or a RecBole folder\n"
            "  --format=auto|inter|seq|csv       input format (default: detected from the content)\n"
            "  --user_inter_num_interval=I       RecBole interval (default \"[5,inf)\"; \"\" = no filter)\n"
            "  --item_inter_num_interval=I       RecBole interval (default \"[5,inf)\")\n"
            "  --val_interval=F=I                keep rows whose column F lies in I first (RecBole val_interval), e.g. rating=[3,inf)\n"
            "  --rm_dup_inter=none|first|last    repeated (user, item) pairs: keep all (default), the earliest or the latest\n"
            "  --MAX_ITEM_LIST_LENGTH=L          history length (default 50)\n"
            "  --json                            print one JSON object\n"
            "  --help                            this text\n");
}

static const char *opt_value(const char *arg, const char *key) {
    size_t n = strlen(key);
    if (strncmp(arg, key, n) == 0 && arg[n] == '=') return arg + n + 1;
    return NULL;
}

static int stats_print(const char *path, const mgsd_data_options *opt_in, int json);

int cli_cmd_stats(int argc, char **argv) {
    mgsd_data_options opt;
    mgsd_data_options_default(&opt);
    const char *path = NULL, *v;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            stats_usage(stdout);
            return 0;
        } else if ((v = opt_value(a, "--dataset"))) path = v;
        else if ((v = opt_value(a, "--format"))) opt.format = v;
        else if ((v = opt_value(a, "--user_inter_num_interval"))) opt.user_inter_num_interval = v;
        else if ((v = opt_value(a, "--item_inter_num_interval"))) opt.item_inter_num_interval = v;
        else if ((v = opt_value(a, "--val_interval"))) opt.val_interval = v;
        else if ((v = opt_value(a, "--rm_dup_inter"))) opt.rm_dup_inter = v;
        else if ((v = opt_value(a, "--MAX_ITEM_LIST_LENGTH"))) {
            char *end;
            long L = strtol(v, &end, 10);
            if (*end || L <= 0 || L > 1000000) {
                fprintf(stderr, "mgsd: error: --MAX_ITEM_LIST_LENGTH expects a positive integer, got '%s'\n", v);
                return 2;
            }
            opt.max_item_list_length = (int)L;
        } else if (!strcmp(a, "--json")) json = 1;
        else {
            fprintf(stderr, "mgsd: error: stats: unknown option '%s'\n\n", a);
            stats_usage(stderr);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "mgsd: error: stats: --dataset=PATH is required\n\n");
        stats_usage(stderr);
        return 2;
    }
    char *resolved = cli_resolve_dataset(path, NULL);
    if (!resolved) return 1;
    int rc = stats_print(resolved, &opt, json);
    free(resolved);
    return rc;
}

static int stats_print(const char *path, const mgsd_data_options *opt_in, int json) {
    mgsd_data_options opt = *opt_in;
    double t0 = mgsd_now();
    mgsd_dataset *ds = NULL;
    mgsd_status st = mgsd_dataset_load(&ds, path, &opt);
    if (st != MGSD_OK) {
        fprintf(stderr, "mgsd: error: %s\n", *mgsd_last_error() ? mgsd_last_error() : mgsd_strerror(st));
        return 1;
    }
    double load_s = mgsd_now() - t0;
    mgsd_data_stats s;
    st = mgsd_dataset_stats(ds, &s);
    if (st != MGSD_OK) {
        fprintf(stderr, "mgsd: error: %s\n", *mgsd_last_error() ? mgsd_last_error() : mgsd_strerror(st));
        mgsd_dataset_free(ds);
        return 1;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dataset", path);
        cJSON_AddStringToObject(o, "format", mgsd_dataset_format(ds));
        trainer_add_data_stats_json(o, &s);
        cJSON_AddNumberToObject(o, "MAX_ITEM_LIST_LENGTH", opt.max_item_list_length);
        cJSON_AddNumberToObject(o, "load_seconds", load_s);
        char *txt = cJSON_PrintUnformatted(o);
        if (txt) printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(o);
    } else {
        printf("dataset            %s (%s)\n", path, mgsd_dataset_format(ds));
        printf("filters            user_inter_num_interval=%s item_inter_num_interval=%s%s%s%s%s\n",
               opt.user_inter_num_interval ? opt.user_inter_num_interval : "",
               opt.item_inter_num_interval ? opt.item_inter_num_interval : "", opt.val_interval ? " val_interval=" : "",
               opt.val_interval ? opt.val_interval : "", opt.rm_dup_inter ? " rm_dup_inter=" : "",
               opt.rm_dup_inter ? opt.rm_dup_inter : "");
        printf("rows read          %lld\n", (long long)s.rows_read);
        printf("users              %d\n", (int)s.users);
        printf("items              %d (+1 padding id)\n", (int)s.items);
        printf("interactions       %lld\n", (long long)s.interactions);
        printf("train instances    %lld\n", (long long)s.train_instances);
        printf("valid / test       %lld / %lld\n", (long long)s.valid_instances, (long long)s.test_instances);
        printf("seq length         min %d  median %g  mean %.2f  max %d\n", (int)s.len_min, s.len_median,
               s.len_mean, (int)s.len_max);
        printf("sparsity           %.4f%%\n", 100.0 * s.sparsity);
        printf("load time          %.3f s\n", load_s);
    }
    mgsd_dataset_free(ds);
    return 0;
}
