/* Gradient-check rows for the baseline models (see tests/gradcheck.h): the output is a
 * model's training loss and the checked inputs are ALL its parameter tensors (registered
 * with gc_input_external). Tiny configs: N = 12 items, C = 8, 1 block (GRU4Rec: 2 stacked
 * layers), 2 heads, L = 6, B = 3 histories of lengths 1, 3, 5, dropout 0. The weights use
 * initializer_range 0.5 so that gradients are well above the tolerance. Each row keeps its
 * model and batch in statics across builds (created on the first build, never freed).
 * BERT4Rec's masks come from the tape RNG, which the runner reseeds before every build, so
 * every build masks the same positions; mask_ratio 0.5 gives K = int(0.5 * 6) = 3. The
 * BPR row draws its negatives from the same RNG. */
#include "gradcheck.h"
#include "model/model.h"

#define GC_N 12
#define GC_L 6

typedef struct gc_model_row {
    const char *name;
    const char *const *kv;
    mgsd_model *m;
    mgsd_batch b;
} gc_model_row;

static const char *const kv_sas[] = {"hidden_size", "8", "inner_size", "12", "n_layers", "1", "n_heads", "2",
                                     "hidden_dropout_prob", "0", "attn_dropout_prob", "0",
                                     "initializer_range", "0.5", NULL};
static const char *const kv_sas_bpr[] = {"hidden_size", "8", "inner_size", "12", "n_layers", "1", "n_heads", "2",
                                         "hidden_dropout_prob", "0", "attn_dropout_prob", "0",
                                         "initializer_range", "0.5", "loss_type", "BPR", NULL};
static const char *const kv_bert[] = {"hidden_size", "8", "inner_size", "12", "n_layers", "1", "n_heads", "2",
                                      "hidden_dropout_prob", "0", "attn_dropout_prob", "0",
                                      "initializer_range", "0.5", "mask_ratio", "0.5", NULL};
static const char *const kv_gru[] = {"embedding_size", "8", "hidden_size", "6", "num_layers", "2",
                                     "dropout_prob", "0", NULL};

static gc_model_row row_sas = {"SASRec", kv_sas, NULL, {0}};
static gc_model_row row_sas_bpr = {"SASRec", kv_sas_bpr, NULL, {0}};
static gc_model_row row_bert = {"BERT4Rec", kv_bert, NULL, {0}};
static gc_model_row row_gru = {"GRU4Rec", kv_gru, NULL, {0}};

static int gc_model_setup(gc_model_row *r) {
    if (r->m) return 1;
    mgsd_config *c = NULL;
    if (mgsd_config_create(&c) != MGSD_OK) return 0;
    int ok = model_add_defaults(c, r->name) == MGSD_OK;
    for (int i = 0; ok && r->kv[i]; i += 2)
        ok = mgsd_config_set(c, r->kv[i], r->kv[i + 1], MGSD_CONFIG_LEVEL_CMDLINE, "gradcheck") == MGSD_OK;
    model_info info = {GC_N, 3, GC_L};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 17);
    ok = ok && model_create(&r->m, r->name, c, &info, &rng) == MGSD_OK;
    mgsd_config_free(c);
    if (!ok || mgsd_batch_init(&r->b, 3, GC_L) != MGSD_OK) return 0;
    static const int32_t h[3][GC_L] = {{4, 0}, {7, 2, 9, 0}, {1, 5, 11, 3, 8, 0}};
    static const int32_t tgt[3] = {6, 10, 2};
    static const int lens[3] = {1, 3, 5};
    for (int i = 0; i < 3; i++)
        if (mgsd_batch_append(&r->b, i + 1, tgt[i], h[i], lens[i]) != MGSD_OK) return 0;
    return 1;
}

static mgsd_tensor *gc_model_loss(gc_model_row *r, gc_ctx *g, mgsd_tape *t) {
    if (!gc_model_setup(r)) return ag_fail(t, MGSD_ERR_INTERNAL, "gradcheck: %s setup failed", r->name);
    for (int i = 0; i < r->m->params.count; i++) gc_input_external(g, params_get(&r->m->params, i));
    t->training = 1;
    return r->m->vt->loss(r->m, t, &r->b);
}

static mgsd_tensor *gc_sasrec(gc_ctx *g, mgsd_tape *t) { return gc_model_loss(&row_sas, g, t); }
static mgsd_tensor *gc_sasrec_bpr(gc_ctx *g, mgsd_tape *t) { return gc_model_loss(&row_sas_bpr, g, t); }
static mgsd_tensor *gc_bert4rec(gc_ctx *g, mgsd_tape *t) { return gc_model_loss(&row_bert, g, t); }
static mgsd_tensor *gc_gru4rec(gc_ctx *g, mgsd_tape *t) { return gc_model_loss(&row_gru, g, t); }

const gc_row gc_rows_model[] = {
    {"model:SASRec", gc_sasrec, 0, 0, 0},
    {"model:SASRec(BPR)", gc_sasrec_bpr, 0, 0, 0},
    {"model:BERT4Rec", gc_bert4rec, 0, 0, 0},
    {"model:GRU4Rec(2 layers)", gc_gru4rec, 0, 0, 0},
    {NULL, NULL, 0, 0, 0},
};
