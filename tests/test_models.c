/* Baseline models (src/model/sasrec.c, bert4rec.c, gru4rec.c) and the registry:
 * lookup, defaults tables, config errors naming the key, parameter layout, scores
 * (shape, finite, deterministic, consistent with the CE loss, BERT4Rec's RecBole input
 * history[1:] + [MASK]), chunked scoring of wide batches, training on a tiny successor task (the loss must drop) and no
 * allocation in a warm training step. */
#include "model/model.h"
#include "train/model_io.h"
#include "train/optim.h"
#include "test_util.h"

#define TN 14 /* items 0..13, 0 = padding */
#define TL 6

static mgsd_config *make_cfg(const char *model, const char *const *kv) {
    mgsd_config *c = NULL;
    if (mgsd_config_create(&c) != MGSD_OK) return NULL;
    if (model_add_defaults(c, model) != MGSD_OK) {
        mgsd_config_free(c);
        return NULL;
    }
    for (int i = 0; kv && kv[i]; i += 2)
        if (mgsd_config_set(c, kv[i], kv[i + 1], MGSD_CONFIG_LEVEL_CMDLINE, "test") != MGSD_OK) {
            mgsd_config_free(c);
            return NULL;
        }
    return c;
}

static const char *const small_sas[] = {"hidden_size", "16", "inner_size", "32", "n_layers", "1",
                                        "hidden_dropout_prob", "0.1", "attn_dropout_prob", "0.1", NULL};
static const char *const small_bert[] = {"hidden_size", "16", "inner_size", "32", "n_layers", "1",
                                         "hidden_dropout_prob", "0.1", "attn_dropout_prob", "0.1",
                                         "mask_ratio", "0.4", NULL};
static const char *const small_gru[] = {"embedding_size", "16", "hidden_size", "24", "dropout_prob", "0.1", NULL};

static mgsd_model *make_model(const char *name, const char *const *kv, uint64_t seed) {
    mgsd_config *c = make_cfg(name, kv);
    if (!c) return NULL;
    model_info info = {TN, 10, TL};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, seed);
    mgsd_model *m = NULL;
    mgsd_status st = model_create(&m, name, c, &info, &rng);
    if (st != MGSD_OK) fprintf(stderr, "model_create(%s): %s\n", name, mgsd_last_error());
    mgsd_config_free(c);
    return m;
}

static void test_registry(void) {
    const model_vtable *const *l = model_list();
    int n = 0;
    while (l[n]) n++;
    CHECK_INT_EQ(n, 4);
    CHECK_STR_EQ(model_find("mgsd")->name, "MGSD");
    CHECK(model_find("sasrec") == model_find("SASRec") && model_find("SASRec") != NULL);
    CHECK_STR_EQ(model_find("bert4REC")->name, "BERT4Rec");
    CHECK_STR_EQ(model_find("GRU4REC")->name, "GRU4Rec");
    CHECK(model_find("nope") == NULL);
    mgsd_config *c = NULL;
    CHECK_OK(mgsd_config_create(&c));
    model_info info = {TN, 10, TL};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 1);
    mgsd_model *m = (mgsd_model *)1;
    CHECK_STATUS(model_create(&m, "nope", c, &info, &rng), MGSD_ERR_NOT_FOUND);
    CHECK(m == NULL);
    CHECK_CONTAINS(mgsd_last_error(), "SASRec, BERT4Rec, GRU4Rec");
    CHECK_STATUS(model_add_defaults(c, "nope"), MGSD_ERR_NOT_FOUND);
    mgsd_config_free(c);
}

static void test_defaults(void) {
    int v;
    double f;
    const char *s;
    mgsd_config *c = make_cfg("sasrec", NULL);
    CHECK(c != NULL);
    CHECK_OK(mgsd_config_get_int(c, "hidden_size", &v));
    CHECK_INT_EQ(v, 64);
    CHECK_OK(mgsd_config_get_int(c, "inner_size", &v));
    CHECK_INT_EQ(v, 256);
    CHECK_OK(mgsd_config_get_float(c, "hidden_dropout_prob", &f));
    CHECK_NEAR(f, 0.5, 1e-12);
    CHECK_OK(mgsd_config_get_float(c, "layer_norm_eps", &f));
    CHECK_NEAR(f, 1e-12, 1e-20);
    CHECK_OK(mgsd_config_get_str(c, "loss_type", &s));
    CHECK_STR_EQ(s, "CE");
    mgsd_config_free(c);
    c = make_cfg("BERT4Rec", NULL);
    CHECK_OK(mgsd_config_get_float(c, "attn_dropout_prob", &f));
    CHECK_NEAR(f, 0.2, 1e-12);
    CHECK_OK(mgsd_config_get_float(c, "mask_ratio", &f));
    CHECK_NEAR(f, 0.2, 1e-12);
    mgsd_config_free(c);
    c = make_cfg("GRU4Rec", NULL);
    CHECK_OK(mgsd_config_get_int(c, "hidden_size", &v));
    CHECK_INT_EQ(v, 128);
    CHECK_OK(mgsd_config_get_int(c, "embedding_size", &v));
    CHECK_INT_EQ(v, 64);
    CHECK_OK(mgsd_config_get_float(c, "dropout_prob", &f));
    CHECK_NEAR(f, 0.3, 1e-12);
    mgsd_config_free(c);
}

static void expect_config_error(const char *name, const char *const *kv, const char *needle) {
    mgsd_config *c = make_cfg(name, kv);
    CHECK(c != NULL);
    if (!c) return;
    model_info info = {TN, 10, TL};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 1);
    mgsd_model *m = NULL;
    CHECK_STATUS(model_create(&m, name, c, &info, &rng), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), needle);
    CHECK(m == NULL);
    mgsd_config_free(c);
}

static void test_bad_config(void) {
    expect_config_error("SASRec", (const char *const[]){"n_heads", "3", NULL}, "n_heads");
    expect_config_error("BERT4Rec", (const char *const[]){"n_heads", "5", NULL}, "n_heads");
    expect_config_error("SASRec", (const char *const[]){"loss_type", "XE", NULL}, "loss_type");
    expect_config_error("BERT4Rec", (const char *const[]){"loss_type", "BPR", NULL}, "loss_type");
    expect_config_error("SASRec", (const char *const[]){"hidden_dropout_prob", "1.0", NULL}, "hidden_dropout_prob");
    expect_config_error("SASRec", (const char *const[]){"hidden_act", "swishy", NULL}, "hidden_act");
    expect_config_error("BERT4Rec", (const char *const[]){"mask_ratio", "0.1", NULL}, "mask_ratio"); /* int(0.6)=0 */
    expect_config_error("GRU4Rec", (const char *const[]){"num_layers", "0", NULL}, "num_layers");
    expect_config_error("GRU4Rec", (const char *const[]){"dropout_prob", "-0.1", NULL}, "dropout_prob");
}

static void check_shape(mgsd_model *m, const char *name, int d0, int d1) {
    mgsd_tensor *x = NULL;
    CHECK_OK(params_find(&m->params, name, &x));
    if (!x) return;
    CHECK_INT_EQ(x->shape[0], d0);
    if (d1 > 0) CHECK_INT_EQ(x->shape[1], d1);
}

static void test_layout(void) {
    mgsd_model *m = make_model("SASRec", small_sas, 1);
    CHECK(m != NULL);
    if (!m) return;
    check_shape(m, "item_embedding.weight", TN, 16);
    check_shape(m, "position_embedding.weight", TL, 16);
    check_shape(m, "trm_encoder.layer.0.attention.qkv.weight", 48, 16);
    check_shape(m, "trm_encoder.layer.0.feed_forward.dense_1.weight", 32, 16);
    check_shape(m, "LayerNorm.weight", 16, 0);
    /* item + pos + per layer (qkv, dense, 2 LN, ff1, ff2) + final LN */
    int64_t C = 16, I = 32;
    CHECK_INT_EQ(params_count(&m->params),
                 TN * C + TL * C + (3 * C * C + 3 * C) + (C * C + C) + 4 * C + (C * I + I) + (I * C + C) + 2 * C);
    /* RecBole init: normal(0, 0.02) on the embeddings, row 0 included */
    mgsd_tensor *E = params_get(&m->params, 0);
    double ss = 0;
    for (int64_t i = 0; i < E->n; i++) ss += (double)E->data[i] * E->data[i];
    CHECK_NEAR(sqrt(ss / (double)E->n), 0.02, 0.006);
    double row0 = 0;
    for (int i = 0; i < 16; i++) row0 += fabs(E->data[i]);
    CHECK(row0 > 0);
    model_free(m);

    m = make_model("BERT4Rec", small_bert, 1);
    CHECK(m != NULL);
    if (!m) return;
    check_shape(m, "item_embedding.weight", TN + 1, 16);
    check_shape(m, "position_embedding.weight", TL, 16);
    model_free(m);

    m = make_model("GRU4Rec", (const char *const[]){"embedding_size", "16", "hidden_size", "24", "num_layers", "2",
                                                    NULL},
                   1);
    CHECK(m != NULL);
    if (!m) return;
    check_shape(m, "item_embedding.weight", TN, 16);
    check_shape(m, "gru_layers.weight_ih_l0", 72, 16);
    check_shape(m, "gru_layers.weight_hh_l0", 72, 24);
    check_shape(m, "gru_layers.weight_ih_l1", 72, 24);
    check_shape(m, "dense.weight", 16, 24);
    check_shape(m, "dense.bias", 16, 0);
    CHECK(params_index(&m->params, "gru_layers.bias_ih_l0") < 0); /* RecBole: bias=False */
    /* xavier_uniform_ bound on weight_ih_l0: sqrt(6 / (16 + 72)) */
    mgsd_tensor *w = NULL;
    params_find(&m->params, "gru_layers.weight_ih_l0", &w);
    float mx = 0;
    for (int64_t i = 0; w && i < w->n; i++) mx = fabsf(w->data[i]) > mx ? fabsf(w->data[i]) : mx;
    CHECK(mx <= sqrtf(6.0f / 88.0f) && mx > 0.8f * sqrtf(6.0f / 88.0f));
    model_free(m);
}

static void fill_batch(mgsd_batch *b, const int32_t (*rows)[TL + 1], const int *lens, int n) {
    mgsd_batch_reset(b);
    for (int r = 0; r < n; r++) mgsd_batch_append(b, r + 1, rows[r][lens[r]], rows[r], lens[r]);
}

static void test_scores(const char *name, const char *const *kv) {
    mgsd_model *m = make_model(name, kv, 3);
    CHECK(m != NULL);
    if (!m) return;
    static const int32_t rows[3][TL + 1] = {{3, 4, 5, 6, 7, 8, 9}, {2, 9, 4, 0}, {11, 12, 13, 1, 0}};
    int lens[3] = {6, 3, 4};
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 4, TL));
    fill_batch(&b, rows, lens, 3);
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 5));
    t.training = 0;
    t.grad_enabled = 0;
    float s1[3 * TN], s2[3 * TN];
    CHECK_OK(m->vt->scores(m, &t, &b, s1));
    int finite = 1;
    for (int i = 0; i < 3 * TN; i++) finite &= isfinite(s1[i]) != 0;
    CHECK(finite);
    CHECK_OK(m->vt->scores(m, &t, &b, s2));
    CHECK(memcmp(s1, s2, sizeof s1) == 0);
    if (strcmp(name, "BERT4Rec") != 0) {
        /* with training off the CE loss is the softmax CE of the scores */
        ag_tape_reset(&t);
        mgsd_tensor *loss = m->vt->loss(m, &t, &b);
        CHECK_OK(ag_status(&t));
        double ref = 0;
        for (int r = 0; r < 3; r++) {
            double mx = -1e30, se = 0;
            for (int i = 0; i < TN; i++) mx = s1[r * TN + i] > mx ? s1[r * TN + i] : mx;
            for (int i = 0; i < TN; i++) se += exp(s1[r * TN + i] - mx);
            ref += mx + log(se) - s1[r * TN + b.targets[r]];
        }
        if (loss) CHECK_NEAR(loss->data[0], ref / 3, 1e-4);
        /* the oldest item matters */
        static const int32_t alt[3][TL + 1] = {{10, 4, 5, 6, 7, 8, 9}, {2, 9, 4, 0}, {11, 12, 13, 1, 0}};
        fill_batch(&b, alt, lens, 3);
        CHECK_OK(m->vt->scores(m, &t, &b, s2));
        CHECK(memcmp(s1, s2, TN * sizeof(float)) != 0);
        CHECK(memcmp(s1 + TN, s2 + TN, 2 * TN * sizeof(float)) == 0);
    } else {
        /* RecBole's reconstruct_test_data scores history[1:] + [MASK]: the oldest item of
         * every row is dropped, full or not */
        static const int32_t alt[3][TL + 1] = {{10, 4, 5, 6, 7, 8, 9}, {5, 9, 4, 0}, {11, 12, 13, 1, 0}};
        fill_batch(&b, alt, lens, 3);
        CHECK_OK(m->vt->scores(m, &t, &b, s2));
        CHECK(memcmp(s1, s2, sizeof s1) == 0);
        static const int32_t alt2[3][TL + 1] = {{3, 4, 5, 6, 7, 8, 9}, {2, 10, 4, 0}, {11, 12, 13, 1, 0}};
        fill_batch(&b, alt2, lens, 3);
        CHECK_OK(m->vt->scores(m, &t, &b, s2));
        CHECK(memcmp(s1 + TN, s2 + TN, TN * sizeof(float)) != 0);
        /* a one-item history is scored from [MASK] alone: independent of the item */
        static const int32_t one[2][TL + 1] = {{3, 5}, {7, 2}};
        int l1[2] = {1, 1};
        fill_batch(&b, one, l1, 2);
        CHECK_OK(m->vt->scores(m, &t, &b, s2));
        CHECK(memcmp(s2, s2 + TN, TN * sizeof(float)) == 0);
    }
    /* a batch wider than the model's max length is refused */
    mgsd_batch wide;
    CHECK_OK(mgsd_batch_init(&wide, 1, TL + 2));
    int32_t h[TL + 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    mgsd_batch_append(&wide, 1, 9, h, TL + 2);
    CHECK_STATUS(m->vt->scores(m, &t, &wide, s2), MGSD_ERR_SHAPE);
    mgsd_batch_free(&wide);
    mgsd_batch_free(&b);
    ag_tape_free(&t);
    model_free(m);
}

/* model_scorer_fn scores a batch wider than MODEL_SCORE_CHUNK in several forward passes
 * over views of the batch (rows, rebased offsets): the scores must equal one pass over
 * the whole batch, row for row (up to float rounding of differently sized products). */
static void test_scorer_chunks(const char *name, const char *const *kv) {
    mgsd_model *m = make_model(name, kv, 5);
    CHECK(m != NULL);
    if (!m) return;
    const int B = MODEL_SCORE_CHUNK + 45;
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, B, TL));
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 11);
    for (int r = 0; r < B; r++) {
        int32_t h[TL];
        int n = 1 + (int)mgsd_rng_below(&rng, TL);
        for (int i = 0; i < n; i++) h[i] = 1 + (int32_t)mgsd_rng_below(&rng, TN - 1);
        CHECK_OK(mgsd_batch_append(&b, r + 1, 1 + (int32_t)mgsd_rng_below(&rng, TN - 1), h, n));
    }
    float *whole = mgsd_malloc(sizeof(float) * (size_t)B * TN), *chunked = mgsd_malloc(sizeof(float) * (size_t)B * TN);
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 5));
    t.training = 0;
    t.grad_enabled = 0;
    CHECK_OK(m->vt->scores(m, &t, &b, whole));
    t.training = 1; /* model_scorer_fn switches to eval mode and back */
    t.grad_enabled = 1;
    model_scorer sc = {m, &t};
    CHECK_OK(model_scorer_fn(&sc, &b, chunked));
    CHECK(t.training == 1 && t.grad_enabled == 1);
    double worst = 0;
    for (int64_t i = 0; i < (int64_t)B * TN; i++) {
        double d = fabs((double)whole[i] - chunked[i]) / (1.0 + fabs(whole[i]));
        worst = d > worst ? d : worst;
    }
    if (worst > 1e-5) fprintf(stderr, "%s: chunked scores differ by %g\n", name, worst);
    CHECK(worst <= 1e-5);
    mgsd_free(whole);
    mgsd_free(chunked);
    mgsd_batch_free(&b);
    ag_tape_free(&t);
    model_free(m);
}

/* Successor task: item i is followed by succ(i) = 1 + (i % 13) (a cycle over 1..13). A
 * fixed batch of 24 histories of lengths 1..6; 120 Adam steps at lr 1e-2. The mean loss of
 * the last 10 steps must be below max_ratio times that of the first 10. */
static void test_train(const char *name, const char *const *kv, double min_first, double max_ratio) {
    mgsd_model *m = make_model(name, kv, 7);
    CHECK(m != NULL);
    if (!m) return;
    mgsd_batch b;
    CHECK_OK(mgsd_batch_init(&b, 24, TL));
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 11);
    for (int r = 0; r < 24; r++) {
        int32_t s[TL + 1];
        int len = 1 + r % TL;
        s[0] = 1 + (int32_t)mgsd_rng_below(&rng, TN - 1);
        for (int i = 1; i <= len; i++) s[i] = 1 + (s[i - 1] % (TN - 1));
        mgsd_batch_append(&b, r + 1, s[len], s, len);
    }
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 22, 9));
    optim_adam opt;
    optim_adam_config acfg = optim_adam_defaults();
    acfg.lr = 1e-2f;
    CHECK_OK(optim_adam_init(&opt, &m->params, &acfg));
    double first = 0, last = 0;
    uint64_t allocs0 = 0;
    int steps = 120, ok = 1;
    for (int step = 0; step < steps && ok; step++) {
        if (step == 3) allocs0 = mgsd_alloc_count();
        ag_tape_reset(&t);
        t.training = 1;
        t.grad_enabled = 1;
        mgsd_rng_seed(&t.rng, 1000 + (uint64_t)step);
        params_zero_grads(&m->params);
        if (m->vt->on_step) m->vt->on_step(m, step, 0);
        mgsd_tensor *loss = m->vt->loss(m, &t, &b);
        if (ag_status(&t) != MGSD_OK || ag_backward(&t, loss) != MGSD_OK ||
            optim_adam_step(&opt, &m->params, acfg.lr) != MGSD_OK || !isfinite(loss->data[0])) {
            TEST_FAIL_("%s: step %d failed: %s", name, step, mgsd_last_error());
            ok = 0;
            break;
        }
        if (step < 10) first += loss->data[0] / 10;
        if (step >= steps - 10) last += loss->data[0] / 10;
    }
    uint64_t allocs = mgsd_alloc_count() - allocs0;
    printf("  %-8s loss %.4f -> %.4f (log N = %.3f), %llu allocations after warm-up\n", name, first, last,
           log((double)TN), (unsigned long long)allocs);
    CHECK(ok);
    CHECK(first > min_first);
    CHECK(last < max_ratio * first);
    CHECK_INT_EQ(allocs, 0);
    optim_adam_free(&opt);
    ag_tape_free(&t);
    mgsd_batch_free(&b);
    model_free(m);
}

int main(void) {
    test_registry();
    test_defaults();
    test_bad_config();
    test_layout();
    test_scores("SASRec", small_sas);
    test_scores("BERT4Rec", small_bert);
    test_scores("GRU4Rec", small_gru);
    test_scorer_chunks("SASRec", small_sas);
    test_scorer_chunks("BERT4Rec", small_bert);
    test_scorer_chunks("GRU4Rec", small_gru);
    test_scorer_chunks("MGSD", (const char *const[]){"embedding_size", "8", "transformer_encoder_dim_feedforward", "16",
                                                     "n_layers", "1", "inner_size", "8", NULL});
    test_train("SASRec", small_sas, 1.5, 0.1);
    test_train("SASRec", (const char *const[]){"hidden_size", "16", "inner_size", "32", "n_layers", "1",
                                               "hidden_dropout_prob", "0.1", "attn_dropout_prob", "0.1",
                                               "loss_type", "BPR", NULL},
               0.4, 0.2); /* BPR starts near log 2 */
    test_train("BERT4Rec", small_bert, 1.5, 0.7); /* masked neighbours keep the cloze loss up */
    test_train("GRU4Rec", small_gru, 1.5, 0.1);
    test_train("GRU4Rec", (const char *const[]){"embedding_size", "16", "hidden_size", "24", "num_layers", "2",
                                                "dropout_prob", "0.1", NULL},
               1.5, 0.1);
    return test_summary();
}
