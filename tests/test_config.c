/* Configuration: overall and model defaults, precedence (command line > files > model >
 * overall), YAML fixtures, unknown-key warnings, type errors naming source/key/value,
 * typed getters, help table, JSON and the checkpoint text form. */
#include <cjson/cJSON.h>

#include "core/core.h"
#include "mgsd/config.h"
#include "test_util.h"

static char fixtures[512];
static const char *fx(const char *name) {
    static char buf[4][600];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fixtures, name);
    return buf[k];
}

/* A model table as a model author would write it. */
static const mgsd_config_entry sasrec_defaults[] = {
    {"hidden_size", MGSD_CONFIG_INT, "64", "d, width of item embeddings and transformer"},
    {"n_layers", MGSD_CONFIG_INT, "2", "transformer blocks"},
    {"n_heads", MGSD_CONFIG_INT, "2", "attention heads"},
    {"hidden_dropout_prob", MGSD_CONFIG_FLOAT, "0.5", "dropout on hidden states"},
    {"hidden_act", MGSD_CONFIG_STR, "gelu", "feed-forward activation"},
    {"layer_norm_eps", MGSD_CONFIG_FLOAT, "1e-12", "LayerNorm epsilon"},
    {"clip_grad_norm", MGSD_CONFIG_FLOAT, "5.0", ""}, /* overrides, keeps the overall help */
};
#define NSAS (sizeof sasrec_defaults / sizeof sasrec_defaults[0])

static mgsd_config *overall(void) {
    mgsd_config *c = NULL;
    size_t n;
    const mgsd_config_entry *t = mgsd_config_overall_defaults(&n);
    CHECK_OK(mgsd_config_create(&c));
    CHECK_OK(mgsd_config_add_defaults(c, "overall", MGSD_CONFIG_LEVEL_OVERALL, t, n));
    return c;
}

static void check_defaults(void) {
    mgsd_config *c = overall();
    int i;
    int64_t i64;
    double f;
    const char *s;
    const int64_t *il;
    const char *const *sl;
    size_t n;
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i));
    CHECK_INT_EQ(i, 300);
    CHECK_OK(mgsd_config_get_int(c, "train_batch_size", &i));
    CHECK_INT_EQ(i, 256);
    CHECK_OK(mgsd_config_get_float(c, "learning_rate", &f));
    CHECK_NEAR(f, 0.001, 0);
    CHECK_OK(mgsd_config_get_int(c, "eval_step", &i));
    CHECK_INT_EQ(i, 1);
    CHECK_OK(mgsd_config_get_int(c, "stopping_step", &i));
    CHECK_INT_EQ(i, 10);
    CHECK_OK(mgsd_config_get_str(c, "valid_metric", &s));
    CHECK_STR_EQ(s, "hit@20");
    CHECK_OK(mgsd_config_get_int_list(c, "topk", &il, &n));
    CHECK(n == 3 && il[0] == 5 && il[1] == 10 && il[2] == 20);
    CHECK_OK(mgsd_config_get_int64(c, "seed", &i64));
    CHECK_INT_EQ(i64, 2020);
    CHECK_OK(mgsd_config_get_int(c, "MAX_ITEM_LIST_LENGTH", &i));
    CHECK_INT_EQ(i, 50);
    CHECK_OK(mgsd_config_get_str(c, "user_inter_num_interval", &s));
    CHECK_STR_EQ(s, "[5,inf)");
    CHECK_OK(mgsd_config_get_str(c, "item_inter_num_interval", &s));
    CHECK_STR_EQ(s, "[5,inf)");
    CHECK_OK(mgsd_config_get_float(c, "clip_grad_norm", &f));
    CHECK(f == 0.0);
    CHECK_OK(mgsd_config_get_float(c, "weight_decay", &f));
    CHECK(f == 0.0);
    CHECK_OK(mgsd_config_get_int(c, "threads", &i));
    CHECK_INT_EQ(i, 0);
    CHECK_OK(mgsd_config_get_str_list(c, "metrics", &sl, &n));
    CHECK(n == 4);
    if (n == 4) {
        CHECK_STR_EQ(sl[0], "Hit");
        CHECK_STR_EQ(sl[3], "Recall");
    }
    mgsd_config_level lv;
    CHECK_STR_EQ(mgsd_config_source(c, "epochs", &lv), "defaults: overall");
    CHECK_INT_EQ(lv, MGSD_CONFIG_LEVEL_OVERALL);

    /* getters report missing keys and type mismatches */
    CHECK_STATUS(mgsd_config_get_int(c, "n_layers", &i), MGSD_ERR_NOT_FOUND);
    CHECK_STR_EQ(mgsd_last_error(), "config key 'n_layers' is not defined");
    CHECK_STATUS(mgsd_config_get_int(c, "learning_rate", &i), MGSD_ERR_CONFIG);
    CHECK_STR_EQ(mgsd_last_error(), "config key 'learning_rate' is a float, not an int");
    CHECK_STATUS(mgsd_config_get_str(c, "topk", &s), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "is an int list, not a str");
    CHECK_OK(mgsd_config_get_float(c, "epochs", &f)); /* int reads as float */
    CHECK(f == 300.0);
    CHECK(mgsd_config_has(c, "epochs") && !mgsd_config_has(c, "nope"));
    CHECK(mgsd_config_source(c, "nope", NULL) == NULL);
    CHECK_OK(mgsd_config_set(c, "seed", "9999999999", MGSD_CONFIG_LEVEL_CMDLINE, "command line"));
    CHECK_STATUS(mgsd_config_get_int(c, "seed", &i), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "does not fit in an int");
    CHECK_OK(mgsd_config_get_int64(c, "seed", &i64));
    CHECK_INT_EQ(i64, 9999999999LL);

    size_t nw = 99;
    mgsd_config_warnings(c, &nw);
    CHECK_INT_EQ(nw, 0);
    mgsd_config_free(c);
}

static void check_model_layer(void) {
    mgsd_config *c = overall();
    double f;
    int i;
    CHECK_OK(mgsd_config_add_defaults(c, "SASRec", MGSD_CONFIG_LEVEL_MODEL, sasrec_defaults, NSAS));
    CHECK_OK(mgsd_config_get_float(c, "clip_grad_norm", &f));
    CHECK(f == 5.0);
    CHECK_STR_EQ(mgsd_config_source(c, "clip_grad_norm", NULL), "defaults: SASRec");
    CHECK_OK(mgsd_config_get_float(c, "layer_norm_eps", &f));
    CHECK(f == 1e-12);
    CHECK_OK(mgsd_config_get_int(c, "n_layers", &i));
    CHECK_INT_EQ(i, 2);
    /* help keeps the overall line when the model row has none, and shows the new default */
    const char *help = mgsd_config_format_help(c);
    CHECK_CONTAINS(help, "clip the global gradient L2 norm");
    CHECK_CONTAINS(help, "n_heads");

    /* a model table that redeclares a key with another type is refused, atomically */
    static const mgsd_config_entry bad[] = {
        {"gru_layers", MGSD_CONFIG_INT, "1", "ok row before the bad one"},
        {"epochs", MGSD_CONFIG_FLOAT, "3", "wrong type"},
    };
    CHECK_STATUS(mgsd_config_add_defaults(c, "GRU4Rec", MGSD_CONFIG_LEVEL_MODEL, bad, 2), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "defaults: GRU4Rec: key 'epochs' is declared as a float, but overall declared it as an int");
    CHECK(!mgsd_config_has(c, "gru_layers"));
    static const mgsd_config_entry bad_default[] = {{"dropout_prob", MGSD_CONFIG_FLOAT, "high", "x"}};
    CHECK_STATUS(mgsd_config_add_defaults(c, "GRU4Rec", MGSD_CONFIG_LEVEL_MODEL, bad_default, 1), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "defaults: GRU4Rec: key 'dropout_prob' expects a float, got 'high'");
    static const mgsd_config_entry dup[] = {{"a", MGSD_CONFIG_INT, "1", ""}, {"a", MGSD_CONFIG_INT, "2", ""}};
    CHECK_STATUS(mgsd_config_add_defaults(c, "X", MGSD_CONFIG_LEVEL_MODEL, dup, 2), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "listed twice");
    CHECK_STATUS(mgsd_config_add_defaults(c, "X", MGSD_CONFIG_LEVEL_FILE, sasrec_defaults, NSAS),
                 MGSD_ERR_INVALID_ARG);
    mgsd_config_free(c);
}

static void check_precedence(void) {
    mgsd_config *c = overall();
    CHECK_OK(mgsd_config_add_defaults(c, "SASRec", MGSD_CONFIG_LEVEL_MODEL, sasrec_defaults, NSAS));
    char cfgarg[1400];
    snprintf(cfgarg, sizeof cfgarg, "--config=%s,%s", fx("basic.yaml"), fx("override.yaml"));
    /* the command line wins even when it comes before --config */
    char *argv[] = {"--epochs=7", cfgarg, "--hidden_act=relu", "--topk=[1, 'x']"};
    CHECK_STATUS(mgsd_config_apply_args(c, 4, argv), MGSD_ERR_CONFIG);
    CHECK_STR_EQ(mgsd_last_error(), "command line: key 'topk' expects an int list, got '[1, 'x']'");
    int i;
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i));
    CHECK_INT_EQ(i, 20); /* files were applied; no command-line value was */
    argv[3] = "--topk=[1,2]";
    CHECK_OK(mgsd_config_apply_args(c, 4, argv));
    double f;
    const char *s;
    const int64_t *il;
    const char *const *sl;
    size_t n;
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i));
    CHECK_INT_EQ(i, 7);
    CHECK_STR_EQ(mgsd_config_source(c, "epochs", NULL), "command line");
    CHECK_OK(mgsd_config_get_float(c, "learning_rate", &f)); /* override.yaml beats basic.yaml */
    CHECK_NEAR(f, 0.002, 0);
    CHECK_CONTAINS(mgsd_config_source(c, "learning_rate", NULL), "override.yaml:2");
    CHECK_OK(mgsd_config_get_int(c, "n_layers", &i)); /* file beats model default */
    CHECK_INT_EQ(i, 3);
    CHECK_OK(mgsd_config_get_str(c, "hidden_act", &s));
    CHECK_STR_EQ(s, "relu");
    CHECK_OK(mgsd_config_get_int_list(c, "topk", &il, &n));
    CHECK(n == 2 && il[0] == 1 && il[1] == 2);
    CHECK_OK(mgsd_config_get_str_list(c, "metrics", &sl, &n)); /* block sequence, quoted item */
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR_EQ(sl[0], "Recall");
        CHECK_STR_EQ(sl[1], "NDCG");
    }
    CHECK_OK(mgsd_config_get_str(c, "user_inter_num_interval", &s));
    CHECK_STR_EQ(s, "[10,inf)");
    CHECK_OK(mgsd_config_get_bool(c, "show_progress", &i));
    CHECK_INT_EQ(i, 1);
    CHECK_OK(mgsd_config_get_int(c, "n_heads", &i)); /* untouched model default */
    CHECK_INT_EQ(i, 2);
    CHECK_OK(mgsd_config_get_float(c, "clip_grad_norm", &f));
    CHECK(f == 5.0);

    /* a lower level never replaces a higher one, whatever the call order */
    CHECK_OK(mgsd_config_set(c, "epochs", "99", MGSD_CONFIG_LEVEL_FILE, "late.yaml:1"));
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i));
    CHECK_INT_EQ(i, 7);
    static const mgsd_config_entry late[] = {{"epochs", MGSD_CONFIG_INT, "1", "late table"}};
    CHECK_OK(mgsd_config_add_defaults(c, "late", MGSD_CONFIG_LEVEL_MODEL, late, 1));
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i));
    CHECK_INT_EQ(i, 7);

    /* unknown keys are warnings naming file and line */
    size_t nw = 0;
    const char *const *w = mgsd_config_warnings(c, &nw);
    CHECK_INT_EQ(nw, 1); /* eval_args (line 11) restates mgsd's protocol: read, no warning */
    if (nw == 1) CHECK_CONTAINS(w[0], "basic.yaml:10: unknown key 'lr'");
    mgsd_config_free(c);
}

static void check_pending(void) {
    /* values set before the table that declares them: checked when it arrives */
    mgsd_config *c = overall();
    char *argv[] = {"--n_heads=4", "--model=SASRec"};
    CHECK_OK(mgsd_config_apply_args(c, 2, argv));
    size_t nw = 0;
    const char *const *w = mgsd_config_warnings(c, &nw);
    CHECK_INT_EQ(nw, 1);
    if (nw == 1) CHECK_STR_EQ(w[0], "command line: unknown key 'n_heads' (not used by the overall or model defaults)");
    const char *model;
    CHECK_OK(mgsd_config_get_str(c, "model", &model));
    CHECK_STR_EQ(model, "SASRec");
    CHECK_OK(mgsd_config_add_defaults(c, model, MGSD_CONFIG_LEVEL_MODEL, sasrec_defaults, NSAS));
    int i;
    CHECK_OK(mgsd_config_get_int(c, "n_heads", &i));
    CHECK_INT_EQ(i, 4);
    CHECK_STR_EQ(mgsd_config_source(c, "n_heads", NULL), "command line");
    mgsd_config_warnings(c, &nw);
    CHECK_INT_EQ(nw, 0);
    mgsd_config_free(c);

    c = overall();
    char *bad[] = {"--n_heads=four"};
    CHECK_OK(mgsd_config_apply_args(c, 1, bad));
    CHECK_STATUS(mgsd_config_add_defaults(c, "SASRec", MGSD_CONFIG_LEVEL_MODEL, sasrec_defaults, NSAS),
                 MGSD_ERR_CONFIG);
    CHECK_STR_EQ(mgsd_last_error(), "command line: key 'n_heads' expects an int, got 'four'");
    CHECK(!mgsd_config_has(c, "n_layers")); /* table not applied */
    mgsd_config_free(c);
}

/* RecBole's mapping-valued keys: read into flat keys, or errors naming file and line. */
static void check_recbole_mappings(void) {
    mgsd_config *c = overall();
    /* the MGSD-WSS authors' config/text.yml, in part */
    const char *ok =
        "epochs: 300\n"
        "clip_grad_norm: {'max_norm': 5.0, 'norm_type': 2}\n"
        "load_col: {\n    inter: [user_id, item_id, rating, timestamp]\n    }\n"
        "eval_args:\n  group_by: user\n  order: TO\n  split: {'LS': 'valid_and_test'}\n  mode: 'uni100'\n"
        "train_neg_sample_args: {distribution: uniform, sample_num: 1}\n"
        "field_mapping: {timestamp: '[1546272000, inf]'}\n"
        "topk: [5, 10]\n";
    CHECK_OK(mgsd_config_load_yaml_string(c, "t.yml", ok, strlen(ok)));
    double f = 0;
    const char *str = NULL;
    CHECK_OK(mgsd_config_get_float(c, "clip_grad_norm", &f));
    CHECK_NEAR(f, 5.0, 0);
    CHECK_STR_EQ(mgsd_config_source(c, "clip_grad_norm", NULL), "t.yml:2");
    CHECK_OK(mgsd_config_get_str(c, "eval_mode", &str));
    CHECK_STR_EQ(str, "uni100");
    CHECK_STR_EQ(mgsd_config_source(c, "eval_mode", NULL), "t.yml:6");
    const int64_t *il;
    size_t n;
    CHECK_OK(mgsd_config_get_int_list(c, "topk", &il, &n)); /* keys after the mappings still read */
    CHECK(n == 2 && il[1] == 10);
    size_t nw = 0;
    const char *const *w = mgsd_config_warnings(c, &nw);
    CHECK_INT_EQ(nw, 1); /* load_col is read (no effect); a mapping mgsd does not know is warned */
    if (nw == 1) CHECK_CONTAINS(w[0], "t.yml:12: unknown key 'field_mapping'");
    const char *same = "eval_args: {mode: {valid: pop50, test: pop50}}\nneg_sampling: {uniform: 1}\n"
                       "val_interval: {rating: '[3,inf)', timestamp: '[0,10];[20,30]'}\n";
    CHECK_OK(mgsd_config_load_yaml_string(c, "m.yml", same, strlen(same)));
    CHECK_OK(mgsd_config_get_str(c, "eval_mode", &str));
    CHECK_STR_EQ(str, "pop50");
    CHECK_OK(mgsd_config_get_str(c, "val_interval", &str));
    CHECK_STR_EQ(str, "rating=[3,inf) timestamp=[0,10];[20,30]");

    struct {
        const char *yaml, *msg;
        mgsd_status st;
    } bad[] = {
        {"seed: 1\nclip_grad_norm: {max_norm: 5, norm_type: 1}\n", "b.yml:2: clip_grad_norm: only the L2 norm", MGSD_ERR_CONFIG},
        {"clip_grad_norm: {norm_type: 2}\n", "b.yml:1: clip_grad_norm: the mapping has no max_norm", MGSD_ERR_CONFIG},
        {"clip_grad_norm: {max_norm: big}\n", "b.yml:1: key 'clip_grad_norm' expects a float, got 'big'", MGSD_ERR_CONFIG},
        {"clip_grad_norm: {max_norm: 5, foo: 1}\n", "b.yml:1: clip_grad_norm: unknown entry 'foo'", MGSD_ERR_CONFIG},
        {"eval_args: {split: {RS: [0.8, 0.1, 0.1]}}\n", "b.yml:1: eval_args.split: mgsd splits leave-one-out", MGSD_ERR_CONFIG},
        {"eval_args: {order: RO}\n", "eval_args.order", MGSD_ERR_CONFIG},
        {"eval_args: {group_by: none}\n", "eval_args.group_by", MGSD_ERR_CONFIG},
        {"eval_args: {mode: {valid: full, test: uni100}}\n", "valid and test must use the same mode", MGSD_ERR_CONFIG},
        {"train_neg_sample_args: {distribution: popularity, sample_num: 1}\n", "one uniform negative", MGSD_ERR_CONFIG},
        {"neg_sampling: {uniform: 5}\n", "b.yml:1: neg_sampling: mgsd's BPR loss draws one uniform negative", MGSD_ERR_CONFIG},
        {"val_interval: {rating: {x: 1}}\n", "b.yml:1: val_interval: 'rating.x' is not a field name", MGSD_ERR_CONFIG},
        {"x: {a: {b: {c: {d: {e: {f: {g: {h: {i: 1}}}}}}}}}\n", "b.yml:1: mapping nested deeper than 8 levels", MGSD_ERR_PARSE},
        /* keys that are not scalars (fuzz_config found the first one reading pairs[-1]) */
        {"{{{{", "b.yml:1: a key must be a plain value, not a mapping", MGSD_ERR_PARSE},
        {"{{a: 1}: 2}\n", "b.yml:1: a key must be a plain value, not a mapping", MGSD_ERR_PARSE},
        {"{[a]: 2}\n", "b.yml:1: a key must be a plain value, not a list", MGSD_ERR_PARSE},
        {"seed: 1\n? {a: 1}\n: 2\n", "b.yml:2: a key must be a plain value, not a mapping", MGSD_ERR_PARSE},
        {"eval_args: {{mode: full}: 1}\n", "b.yml:1: a key must be a plain value, not a mapping", MGSD_ERR_PARSE},
        {"eval_args: {[a, b]: 1}\n", "b.yml:1: a key must be a plain value, not a list", MGSD_ERR_PARSE},
        /* YAML keys are unique: a repeated one is refused, naming both lines */
        {"epochs: 3\nseed: 1\nepochs: 4\n", "b.yml:3: key 'epochs' repeats the one at b.yml:1", MGSD_ERR_PARSE},
        {"eval_args: {mode: full}\neval_args: {order: TO}\n", "b.yml:2: key 'eval_args' repeats the one at b.yml:1",
         MGSD_ERR_PARSE},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_STATUS(mgsd_config_load_yaml_string(c, "b.yml", bad[k].yaml, strlen(bad[k].yaml)), bad[k].st);
        CHECK_CONTAINS(mgsd_last_error(), bad[k].msg);
    }
    CHECK_OK(mgsd_config_get_float(c, "clip_grad_norm", &f)); /* a rejected file changes nothing */
    CHECK_NEAR(f, 5.0, 0);
    mgsd_config_free(c);
}

static void check_errors(void) {
    mgsd_config *c = overall();
    int i;
    CHECK_STATUS(mgsd_config_load_yaml(c, fx("bad_type.yaml")), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "bad_type.yaml:3: key 'learning_rate' expects a float, got 'fast'");
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i)); /* file applied all or nothing */
    CHECK_INT_EQ(i, 300);
    CHECK_STATUS(mgsd_config_load_yaml(c, fx("bad_interval.yaml")), MGSD_ERR_PARSE);
    CHECK_CONTAINS(mgsd_last_error(), "bad_interval.yaml:");
    CHECK_CONTAINS(mgsd_last_error(), "must be quoted");
    CHECK_STATUS(mgsd_config_load_yaml(c, fx("not_mapping.yaml")), MGSD_ERR_PARSE);
    CHECK_CONTAINS(mgsd_last_error(), "not_mapping.yaml:1: expected a mapping");
    CHECK_OK(mgsd_config_load_yaml(c, fx("empty.yaml")));
    CHECK_STATUS(mgsd_config_load_yaml(c, fx("missing.yaml")), MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "missing.yaml: cannot open config file");

    const char *y1 = "epochs: [1, 2]\n";
    CHECK_STATUS(mgsd_config_load_yaml_string(c, "s.yaml", y1, strlen(y1)), MGSD_ERR_CONFIG);
    CHECK_STR_EQ(mgsd_last_error(), "s.yaml:1: key 'epochs' expects an int, got a list '[1, 2]'");
    const char *y2 = "seed: 1\ntopk: {a: 1}\n";
    CHECK_STATUS(mgsd_config_load_yaml_string(c, "s.yaml", y2, strlen(y2)), MGSD_ERR_CONFIG);
    CHECK_STR_EQ(mgsd_last_error(), "s.yaml:2: key 'topk' expects an int list, got a mapping");
    const char *y3 = "topk: [[1, 2]]\n";
    CHECK_STATUS(mgsd_config_load_yaml_string(c, "s.yaml", y3, strlen(y3)), MGSD_ERR_PARSE);
    CHECK_CONTAINS(mgsd_last_error(), "nested lists");
    const char *y4 = "a: &x 1\nb: *x\n";
    CHECK_STATUS(mgsd_config_load_yaml_string(c, "s.yaml", y4, strlen(y4)), MGSD_ERR_PARSE);
    const char *y5 = "epochs: 5\n  bad indent: [\n";
    CHECK_STATUS(mgsd_config_load_yaml_string(c, "s.yaml", y5, strlen(y5)), MGSD_ERR_PARSE);
    CHECK_CONTAINS(mgsd_last_error(), "s.yaml:");
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i));
    CHECK_INT_EQ(i, 300);

    char *a1[] = {"epochs=3"};
    CHECK_STATUS(mgsd_config_apply_args(c, 1, a1), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "argument 'epochs=3' is not of the form --key=value");
    char *a2[] = {"--epochs"};
    CHECK_STATUS(mgsd_config_apply_args(c, 1, a2), MGSD_ERR_CONFIG);
    char *a3[] = {"--epochs=3", "--learning_rate=0.01x"};
    CHECK_STATUS(mgsd_config_apply_args(c, 2, a3), MGSD_ERR_CONFIG);
    CHECK_STR_EQ(mgsd_last_error(), "command line: key 'learning_rate' expects a float, got '0.01x'");
    CHECK_OK(mgsd_config_get_int(c, "epochs", &i)); /* validated before applying */
    CHECK_INT_EQ(i, 300);
    char *a4[] = {"--epochs=[1,2]"};
    CHECK_STATUS(mgsd_config_apply_args(c, 1, a4), MGSD_ERR_CONFIG);
    CHECK_STR_EQ(mgsd_last_error(), "command line: key 'epochs' expects an int, got '[1,2]'");

    /* booleans */
    const char *yes[] = {"true", "True", "YES", "on", "1"}, *no[] = {"false", "False", "no", "Off", "0"};
    for (int k = 0; k < 5; k++) {
        CHECK_OK(mgsd_config_set(c, "show_progress", yes[k], MGSD_CONFIG_LEVEL_CMDLINE, "t"));
        CHECK_OK(mgsd_config_get_bool(c, "show_progress", &i));
        CHECK_INT_EQ(i, 1);
        CHECK_OK(mgsd_config_set(c, "show_progress", no[k], MGSD_CONFIG_LEVEL_CMDLINE, "t"));
        CHECK_OK(mgsd_config_get_bool(c, "show_progress", &i));
        CHECK_INT_EQ(i, 0);
    }
    CHECK_STATUS(mgsd_config_set(c, "show_progress", "maybe", MGSD_CONFIG_LEVEL_CMDLINE, "t"), MGSD_ERR_CONFIG);
    /* lists from scalars */
    const int64_t *il;
    size_t n;
    CHECK_OK(mgsd_config_set(c, "topk", "50", MGSD_CONFIG_LEVEL_CMDLINE, "t"));
    CHECK_OK(mgsd_config_get_int_list(c, "topk", &il, &n));
    CHECK(n == 1 && il[0] == 50);
    CHECK_OK(mgsd_config_set(c, "topk", " 3, 4 ", MGSD_CONFIG_LEVEL_CMDLINE, "t"));
    CHECK_OK(mgsd_config_get_int_list(c, "topk", &il, &n));
    CHECK(n == 2 && il[0] == 3 && il[1] == 4);
    CHECK_OK(mgsd_config_set(c, "topk", "[]", MGSD_CONFIG_LEVEL_CMDLINE, "t"));
    CHECK_OK(mgsd_config_get_int_list(c, "topk", &il, &n));
    CHECK_INT_EQ(n, 0);
    const char *const *sl;
    CHECK_OK(mgsd_config_set(c, "metrics", "['Recall','a,b', \"MRR\"]", MGSD_CONFIG_LEVEL_CMDLINE, "t"));
    CHECK_OK(mgsd_config_get_str_list(c, "metrics", &sl, &n));
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR_EQ(sl[0], "Recall");
        CHECK_STR_EQ(sl[1], "a,b");
        CHECK_STR_EQ(sl[2], "MRR");
    }
    mgsd_config_free(c);
}

static void check_help_json(void) {
    mgsd_config *c = overall();
    size_t nkeys;
    mgsd_config_overall_defaults(&nkeys);
    const char *help = mgsd_config_format_help(c);
    size_t lines = 0;
    for (const char *p = help; *p; p++) lines += *p == '\n';
    CHECK_INT_EQ(lines, nkeys + 1);
    CHECK(strncmp(help, "key ", 4) == 0);
    CHECK_CONTAINS(help, "learning_rate");
    CHECK_CONTAINS(help, "Adam learning rate");
    CHECK_CONTAINS(help, "int list");
    CHECK_CONTAINS(help, "our reference runs use 256");
    /* every key has help */
    const mgsd_config_entry *t = mgsd_config_overall_defaults(&nkeys);
    for (size_t k = 0; k < nkeys; k++) CHECK(t[k].help && strlen(t[k].help) > 5);

    CHECK_OK(mgsd_config_set(c, "dataset", "ml-1m \"quoted\"", MGSD_CONFIG_LEVEL_CMDLINE, "command line"));
    const char *json;
    CHECK_OK(mgsd_config_to_json(c, 0, &json));
    cJSON *root = cJSON_Parse(json);
    CHECK(root != NULL);
    if (root) {
        cJSON *lr = cJSON_GetObjectItemCaseSensitive(root, "learning_rate");
        CHECK(cJSON_IsNumber(lr) && lr->valuedouble == 0.001);
        cJSON *topk = cJSON_GetObjectItemCaseSensitive(root, "topk");
        CHECK(cJSON_IsArray(topk) && cJSON_GetArraySize(topk) == 3 && cJSON_GetArrayItem(topk, 2)->valueint == 20);
        cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metrics");
        CHECK(cJSON_IsArray(m) && cJSON_IsString(cJSON_GetArrayItem(m, 0)));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "reproducibility")));
        CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(root, "dataset")->valuestring, "ml-1m \"quoted\"");
        CHECK_INT_EQ(cJSON_GetArraySize(root), nkeys);
        cJSON_Delete(root);
    }
    CHECK_OK(mgsd_config_to_json(c, 1, &json));
    CHECK_CONTAINS(json, "\n");
    mgsd_config_free(c);
}

static void check_serialize(void) {
    mgsd_config *c = overall();
    CHECK_OK(mgsd_config_add_defaults(c, "SASRec", MGSD_CONFIG_LEVEL_MODEL, sasrec_defaults, NSAS));
    CHECK_OK(mgsd_config_set(c, "dataset", "a\tb\nc,d\\e", MGSD_CONFIG_LEVEL_CMDLINE, "command line"));
    CHECK_OK(mgsd_config_set(c, "learning_rate", "0.1234567890123456789", MGSD_CONFIG_LEVEL_FILE, "x.yaml:2"));
    CHECK_OK(mgsd_config_set(c, "metrics", "['a,b', '', 'c']", MGSD_CONFIG_LEVEL_CMDLINE, "command line"));
    CHECK_OK(mgsd_config_set(c, "topk", "[]", MGSD_CONFIG_LEVEL_CMDLINE, "command line"));
    const char *text;
    size_t len;
    CHECK_OK(mgsd_config_serialize(c, &text, &len));
    CHECK(strncmp(text, "mgsd-config 1\n", 14) == 0);
    char *copy = strdup(text);

    /* into an empty config: every key comes back with type, value, level and source */
    mgsd_config *d = NULL;
    CHECK_OK(mgsd_config_create(&d));
    CHECK_OK(mgsd_config_deserialize(d, "ckpt", copy, len));
    double f;
    const char *s;
    const char *const *sl;
    const int64_t *il;
    size_t n;
    int i;
    CHECK_OK(mgsd_config_get_float(d, "learning_rate", &f));
    CHECK(f == 0.1234567890123456789);
    CHECK_OK(mgsd_config_get_str(d, "dataset", &s));
    CHECK_STR_EQ(s, "a\tb\nc,d\\e");
    CHECK_OK(mgsd_config_get_str_list(d, "metrics", &sl, &n));
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR_EQ(sl[0], "a,b");
        CHECK_STR_EQ(sl[1], "");
        CHECK_STR_EQ(sl[2], "c");
    }
    CHECK_OK(mgsd_config_get_int_list(d, "topk", &il, &n));
    CHECK_INT_EQ(n, 0);
    CHECK_OK(mgsd_config_get_int(d, "n_layers", &i));
    CHECK_INT_EQ(i, 2);
    CHECK_OK(mgsd_config_get_bool(d, "reproducibility", &i));
    CHECK_INT_EQ(i, 1);
    mgsd_config_level lv;
    CHECK_STR_EQ(mgsd_config_source(d, "learning_rate", &lv), "x.yaml:2");
    CHECK_INT_EQ(lv, MGSD_CONFIG_LEVEL_FILE);
    /* serialising again gives the same text */
    const char *text2;
    size_t len2;
    CHECK_OK(mgsd_config_serialize(d, &text2, &len2));
    CHECK(len2 == len && memcmp(text2, copy, len) == 0);

    /* into a config with the tables: values overwrite defaults; help kept */
    mgsd_config *e = overall();
    CHECK_OK(mgsd_config_deserialize(e, "ckpt", copy, len));
    CHECK_OK(mgsd_config_get_float(e, "clip_grad_norm", &f));
    CHECK(f == 5.0);
    CHECK_CONTAINS(mgsd_config_format_help(e), "Adam learning rate");

    /* corrupt forms */
    CHECK_STATUS(mgsd_config_deserialize(e, "ckpt", copy, len - 1), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "not terminated");
    CHECK_STATUS(mgsd_config_deserialize(e, "ckpt", "hello\n", 6), MGSD_ERR_FORMAT);
    CHECK_CONTAINS(mgsd_last_error(), "ckpt: not an mgsd config text");
    const char *badtype = "mgsd-config 1\nepochs\tfloat\t0\tx\t1.5\n";
    CHECK_STATUS(mgsd_config_deserialize(e, "ckpt", badtype, strlen(badtype)), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "key 'epochs' is an int here but a float in the stored config");
    const char *badval = "mgsd-config 1\nepochs\tint\t0\tx\tabc\n";
    CHECK_STATUS(mgsd_config_deserialize(e, "ckpt", badval, strlen(badval)), MGSD_ERR_FORMAT);
    const char *badcount = "mgsd-config 1\ntopk\tint_list\t0\tx\t3:1,2\n";
    CHECK_STATUS(mgsd_config_deserialize(e, "ckpt", badcount, strlen(badcount)), MGSD_ERR_FORMAT);
    CHECK_OK(mgsd_config_get_int(e, "epochs", &i)); /* unchanged by failed loads */
    CHECK_INT_EQ(i, 300);

    free(copy);
    mgsd_config_free(c);
    mgsd_config_free(d);
    mgsd_config_free(e);
    mgsd_config_free(NULL);
}

int main(void) {
    const char *src = getenv("MGSD_SOURCE_DIR");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/config", src && *src ? src : ".");
    uint64_t live0 = mgsd_alloc_bytes();
    check_defaults();
    check_model_layer();
    check_precedence();
    check_pending();
    check_errors();
    check_recbole_mappings();
    check_help_json();
    check_serialize();
    CHECK_INT_EQ(mgsd_alloc_bytes(), live0); /* nothing leaked through the library allocator */
    return test_summary();
}
