/* MGSD-WSS model: gradient checks of each loss term and the total on a tiny
 * configuration, weak-supervision augmentation labels, temperatures, deterministic
 * inference, ablation switches, sub-models, configuration errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mgsd/eval.h"
#include "model/mgsd.h"
#include "test_util.h"

enum { N_ITEMS = 15, L = 6, B = 3 };

static mgsd_config *make_config(const char *const *kv, int n) {
    mgsd_config *c;
    size_t nd;
    if (mgsd_config_create(&c) != MGSD_OK) return NULL;
    const mgsd_config_entry *ov = mgsd_config_overall_defaults(&nd);
    mgsd_config_add_defaults(c, "overall", MGSD_CONFIG_LEVEL_OVERALL, ov, nd);
    mgsd_config_add_defaults(c, "MGSD", MGSD_CONFIG_LEVEL_MODEL, model_mgsd.defaults, model_mgsd.n_defaults);
    static const char *tiny[] = {"embedding_size", "8", "transformer_encoder_dim_feedforward", "16",
                                 "transformer_encoder_layers", "1", "n_layers", "1", "inner_size", "8",
                                 "user_interest_num", "3", "hard_noise_num", "2", "our_ae_drop_out", "0",
                                 "hidden_dropout_prob", "0", "attn_dropout_prob", "0", "dropout_prob", "0"};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i += 2)
        mgsd_config_set(c, tiny[i], tiny[i + 1], MGSD_CONFIG_LEVEL_FILE, "test");
    for (int i = 0; i < n; i += 2)
        if (mgsd_config_set(c, kv[i], kv[i + 1], MGSD_CONFIG_LEVEL_CMDLINE, "test") != MGSD_OK) {
            fprintf(stderr, "config: %s\n", mgsd_last_error());
            return NULL;
        }
    return c;
}

static mgsd_status make_model(mgsd_model *m, const mgsd_config *c, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->vt = &model_mgsd;
    m->info.n_items = N_ITEMS;
    m->info.n_users = B;
    m->info.max_len = L;
    mgsd_rng r;
    mgsd_rng_seed(&r, seed);
    return model_mgsd.create(m, c, &m->info, &r);
}

static void free_model(mgsd_model *m) {
    mgsd_free(m->impl); /* model_mgsd.destroy is NULL: impl is one allocation */
    m->impl = NULL;
    params_free(&m->params);
}

static void make_batch(mgsd_batch *b) {
    static const int32_t h0[2] = {3, 5}, h1[4] = {1, 2, 3, 4}, h2[6] = {7, 8, 9, 10, 11, 12};
    mgsd_batch_init(b, B, L);
    mgsd_batch_reset(b);
    mgsd_batch_append(b, 1, 6, h0, 2);
    mgsd_batch_append(b, 2, 5, h1, 4);
    mgsd_batch_append(b, 3, 13, h2, 6);
}

/* Loss term k (or the weighted total for k = 4) at the current parameters. */
static double eval_term(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, int k, int grad) {
    ag_tape_reset(t);
    mgsd_rng_seed(&t->rng, 77);
    t->grad_enabled = grad;
    t->training = 1;
    mgsd_tensor *loss;
    if (k < 4) {
        mgsd_tensor *terms[4];
        if (mgsd_loss_terms(m, t, b, terms) != MGSD_OK || !terms[k]) return NAN;
        loss = terms[k];
    } else {
        loss = m->vt->loss(m, t, b);
        if (!loss) return NAN;
    }
    if (grad) {
        params_zero_grads(&m->params);
        if (ag_backward(t, loss) != MGSD_OK) return NAN;
    }
    return loss->data[0];
}

/* Central differences over 60 parameter entries (the 40 largest analytic gradients and 20
 * random ones; 12 + 8 in quick mode); kinks (a hard selection flipping or a relu crossing inside +-eps) are
 * skipped as in test_gradcheck, and so are entries whose central differences at eps and eps/2 disagree. Tolerance |a - n| <= 2e-3 + 2e-2 max(|a|, |n|). */
static void check_term(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, int k, const char *name) {
    double l0 = eval_term(m, t, b, k, 1);
    CHECK(isfinite(l0));
    int64_t total = m->params.total;
    float *g = mgsd_malloc(sizeof(float) * (size_t)total);
    memcpy(g, m->params.grad, sizeof(float) * (size_t)total);
    int n_top = test_quick() ? 12 : 40, n_all = test_quick() ? 20 : 60;
    int64_t pick[60];
    int np = 0;
    for (int j = 0; j < n_top; j++) {
        int64_t best = -1;
        for (int64_t i = 0; i < total; i++) {
            int used = 0;
            for (int q = 0; q < np; q++) used |= pick[q] == i;
            if (!used && (best < 0 || fabsf(g[i]) > fabsf(g[best]))) best = i;
        }
        pick[np++] = best;
    }
    mgsd_rng r;
    mgsd_rng_seed(&r, 5);
    while (np < n_all) pick[np++] = (int64_t)mgsd_rng_below(&r, (uint64_t)m->params.numel);
    int checked = 0, skipped = 0, bad = 0;
    const float eps = 1e-3f;
    for (int j = 0; j < np; j++) {
        float *x = &m->params.data[pick[j]], x0 = *x;
        *x = x0 + eps;
        double lp = eval_term(m, t, b, k, 0);
        *x = x0 - eps;
        double lm = eval_term(m, t, b, k, 0);
        *x = x0;
        double lc = eval_term(m, t, b, k, 0);
        double right = (lp - lc) / eps, left = (lc - lm) / eps;
        double sc = fmax(fabs(right), fabs(left));
        if (fabs(right - left) > 0.1 * sc + 0.1) {
            skipped++;
            continue;
        }
        double num = (lp - lm) / (2 * eps), ana = g[pick[j]];
        double tol = 2e-3 + 2e-2 * fmax(fabs(ana), fabs(num));
        /* A kink just outside +-eps/2 bends the one-sided slopes by less than the test above
         * sees; the central difference at eps/2 then disagrees with the one at eps. */
        *x = x0 + eps / 2;
        double lp2 = eval_term(m, t, b, k, 0);
        *x = x0 - eps / 2;
        double lm2 = eval_term(m, t, b, k, 0);
        *x = x0;
        if (fabs((lp2 - lm2) / eps - num) > 0.5 * tol) {
            skipped++;
            continue;
        }
        checked++;
        if (fabs(ana - num) > tol) {
            if (bad++ < 4) TEST_FAIL_("%s: param %lld: analytic %.6g vs numeric %.6g", name, (long long)pick[j], ana, num);
        }
    }
    printf("  %-8s loss %.5f  checked %d  skipped %d  %s\n", name, l0, checked, skipped, bad ? "FAIL" : "ok");
    if (!bad && checked >= (2 * n_all) / 3) test_passed_++;
    else if (!bad) TEST_FAIL_("%s: only %d entries checked", name, checked);
    mgsd_free(g);
}

static void test_gradients(const char *sub) {
    const char *kv[] = {"sub_model", sub};
    mgsd_config *c = make_config(kv, 2);
    mgsd_model m;
    CHECK_OK(make_model(&m, c, 3));
    mgsd_set_detach_flags(&m, 1);
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    mgsd_batch b;
    make_batch(&b);
    printf("gradient checks, sub_model %s (%lld parameters)\n", sub, (long long)params_count(&m.params));
    const char *names[5] = {"L_rec", "L_aux", "L_item", "L_int", "total"};
    for (int k = 0; k < 5; k++) check_term(&m, &t, &b, k, names[k]);
    mgsd_batch_free(&b);
    ag_tape_free(&t);
    free_model(&m);
    mgsd_config_free(c);
}

static void test_augment(void) {
    const int32_t items[11] = {4, 5, 6, 1, 2, 3, 4, 5, 6, 7, 9};
    const int32_t offs[4] = {0, 3, 3 + 6, 11};
    int32_t out[64], ooffs[4], scratch[64];
    float lab[64];
    mgsd_rng r;
    mgsd_rng_seed(&r, 11);
    int counts[8] = {0};
    for (int rep = 0; rep < 200; rep++) {
        CHECK_OK(mgsd_augment(&r, items, offs, 3, 6, 3, 20, out, ooffs, lab, scratch));
        CHECK_INT_EQ(ooffs[1], 6);          /* 3 + 3 */
        CHECK_INT_EQ(ooffs[2] - ooffs[1], 6); /* 6 + 3 truncated to L = 6 */
        CHECK_INT_EQ(ooffs[3] - ooffs[2], 5); /* 2 + 3 */
        for (int s = 0; s < 3; s++) {
            /* the label-1 entries, in order, are the newest original items */
            int32_t orig[9];
            int no = 0, nz = 0;
            for (int32_t i = ooffs[s]; i < ooffs[s + 1]; i++) {
                CHECK(out[i] >= 1 && out[i] < 20);
                if (lab[i] == 1.0f) orig[no++] = out[i];
                else {
                    CHECK(lab[i] == 0.0f);
                    nz++;
                }
            }
            int n = offs[s + 1] - offs[s];
            const int32_t *src = items + offs[s] + (n - no);
            int same = no <= n;
            for (int i = 0; i < no && same; i++) same = orig[i] == src[i];
            CHECK(same);
            if (s != 1) CHECK_INT_EQ(nz, 3);
            if (s == 0)
                for (int i = 0; i < 6; i++) counts[i] += lab[ooffs[0] + i] == 0.0f;
        }
    }
    /* inserted positions are uniform over the 6 slots: each holds noise half the time */
    for (int i = 0; i < 6; i++) CHECK(counts[i] > 60 && counts[i] < 140);
}

static void test_behaviour(void) {
    mgsd_config *c = make_config(NULL, 0);
    mgsd_model m;
    CHECK_OK(make_model(&m, c, 3));
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    mgsd_batch b;
    make_batch(&b);
    /* temperatures: reference annealing every 40 batches */
    float tg, tc;
    model_mgsd.on_step(&m, 38, 0);
    mgsd_get_temperatures(&m, &tg, &tc);
    CHECK_NEAR(tg, 0.5, 1e-7);
    model_mgsd.on_step(&m, 39, 0); /* g = 40 */
    mgsd_get_temperatures(&m, &tg, &tc);
    CHECK_NEAR(tg, 0.5 * exp(-0.04), 1e-6);
    model_mgsd.on_step(&m, 79, 0); /* g = 80: two annealings */
    mgsd_get_temperatures(&m, &tg, &tc);
    CHECK_NEAR(tg, 0.5 * exp(-0.04) * exp(-0.08), 1e-6);
    model_mgsd.on_step(&m, 100000, 0);
    mgsd_get_temperatures(&m, &tg, &tc);
    CHECK_NEAR(tg, 1e-3, 1e-9);
    CHECK_NEAR(tc, 0.1, 1e-7);
    /* deterministic inference */
    float s1[B * N_ITEMS], s2[B * N_ITEMS];
    t.training = 0;
    t.grad_enabled = 0;
    ag_tape_reset(&t);
    CHECK_OK(model_mgsd.scores(&m, &t, &b, s1));
    ag_tape_reset(&t);
    mgsd_rng_seed(&t.rng, 999);
    CHECK_OK(model_mgsd.scores(&m, &t, &b, s2));
    CHECK(memcmp(s1, s2, sizeof s1) == 0);
    int finite = 1;
    for (int i = 0; i < B * N_ITEMS; i++) finite &= isfinite(s1[i]);
    CHECK(finite);
    /* explanation: the clean margin is ln(p0 / (1 - p0)) and keep = (margin > 0) */
    {
        int ntok = b.offs[B];
        float p0[B * L], keep[B * L], mg[B * L], mg2[B * L];
        mgsd_explanation ex = {.clean = p0, .keep = keep, .margin = mg};
        CHECK_OK(mgsd_explain(&m, &t, &b, &ex));
        int ok_margin = 1, ok_keep = 1;
        for (int i = 0; i < ntok; i++) {
            ok_margin &= fabs(mg[i] - log(p0[i] / (1.0 - p0[i]))) < 1e-4 * (1 + fabs(mg[i]));
            ok_keep &= keep[i] == (mg[i] > 0 ? 1.0f : 0.0f) || fabs(mg[i]) < 1e-6;
        }
        CHECK(ok_margin);
        CHECK(ok_keep);
        /* the batch helper gives the same margins, also through its chunked path (> 256 rows) */
        CHECK_OK(mgsd_batch_clean_scores(&m, &t, &b, mg2));
        CHECK(memcmp(mg, mg2, sizeof(float) * (size_t)ntok) == 0);
        enum { BIG = 300 };
        mgsd_batch big;
        CHECK_OK(mgsd_batch_init(&big, BIG, L));
        for (int r = 0; r < BIG; r++) {
            int row = r % B;
            mgsd_batch_append(&big, b.users[row], b.targets[row], b.items + b.offs[row], b.offs[row + 1] - b.offs[row]);
        }
        float *bm = malloc(sizeof(float) * (size_t)big.offs[BIG]);
        CHECK_OK(mgsd_batch_clean_scores(&m, &t, &big, bm));
        int same = 1;
        for (int r = 0; r < BIG; r++)
            for (int32_t i = big.offs[r]; i < big.offs[r + 1]; i++)
                same &= fabsf(bm[i] - mg[b.offs[r % B] + (i - big.offs[r])]) <= 1e-5f * (1 + fabsf(bm[i]));
        CHECK(same);
        free(bm);
        mgsd_batch_free(&big);
        t.training = 0;
        t.grad_enabled = 0;
    }
    /* a training step allocates nothing once warm */
    t.training = 1;
    t.grad_enabled = 1;
    for (int step = 0; step < 3; step++) {
        uint64_t a0 = mgsd_alloc_count();
        ag_tape_reset(&t);
        params_zero_grads(&m.params);
        mgsd_tensor *loss = model_mgsd.loss(&m, &t, &b);
        CHECK(loss && isfinite(loss->data[0]));
        CHECK_OK(ag_backward(&t, loss));
        if (step == 2) CHECK_INT_EQ(mgsd_alloc_count() - a0, 0);
    }
    mgsd_batch_free(&b);
    ag_tape_free(&t);
    free_model(&m);
    mgsd_config_free(c);

    /* ablations remove exactly their term */
    const char *kv[] = {"use_aux", "false", "use_item_denoise", "false"};
    c = make_config(kv, 4);
    CHECK_OK(make_model(&m, c, 3));
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    make_batch(&b);
    mgsd_tensor *terms[4];
    CHECK_OK(mgsd_loss_terms(&m, &t, &b, terms));
    CHECK(terms[0] != NULL && terms[1] == NULL && terms[2] == NULL && terms[3] != NULL);
    /* the reported loss parts are the configured terms, and weighted they sum to the loss */
    {
        const char *names[MODEL_MAX_LOSS_PARTS];
        double v[MODEL_MAX_LOSS_PARTS];
        ag_tape_reset(&t);
        mgsd_tensor *loss = model_mgsd.loss(&m, &t, &b);
        CHECK(loss != NULL);
        CHECK_INT_EQ(model_mgsd.loss_parts(&m, names, v), 2);
        CHECK_STR_EQ(names[0], "rec");
        CHECK_STR_EQ(names[1], "interest_cl");
        CHECK(v[0] > 0 && v[1] > 0);
        if (loss) CHECK_NEAR(v[0] + 1.0 * v[1], loss->data[0], 1e-5 * fabs(loss->data[0]));
    }
    mgsd_batch_free(&b);
    ag_tape_free(&t);
    free_model(&m);
    mgsd_config_free(c);
    /* all four terms: L = rec + gamma aux + zeta item + eta interest (10 / 7 / 1 by default) */
    c = make_config(NULL, 0);
    CHECK_OK(make_model(&m, c, 3));
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    make_batch(&b);
    {
        const char *names[MODEL_MAX_LOSS_PARTS];
        double v[MODEL_MAX_LOSS_PARTS];
        mgsd_tensor *loss = model_mgsd.loss(&m, &t, &b);
        CHECK(loss != NULL);
        CHECK_INT_EQ(model_mgsd.loss_parts(&m, names, v), 4);
        CHECK_STR_EQ(names[1], "aux");
        CHECK_STR_EQ(names[2], "item_cl");
        CHECK(v[1] > 0 && v[2] > 0 && v[3] > 0);
        if (loss) CHECK_NEAR(v[0] + 10 * v[1] + 7 * v[2] + v[3], loss->data[0], 1e-5 * fabs(loss->data[0]));
    }
    mgsd_batch_free(&b);
    ag_tape_free(&t);
    free_model(&m);
    mgsd_config_free(c);

    /* configuration errors name the key */
    const char *bad1[] = {"sub_model", "Caser"};
    c = make_config(bad1, 2);
    CHECK_STATUS(make_model(&m, c, 1), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "sub_model");
    free_model(&m);
    mgsd_config_free(c);
    const char *const badw[][2] = {{"reweight_loss_eta", "-1"}, {"reweight_loss_zeta", "-0.5"},
                                   {"reweight_loss_gamma", "nan"}, {"reweight_loss_gamma", "inf"}};
    for (int i = 0; i < 4; i++) {
        c = make_config(badw[i], 2);
        CHECK_STATUS(make_model(&m, c, 1), MGSD_ERR_CONFIG);
        CHECK_CONTAINS(mgsd_last_error(), "loss weights must be finite and >= 0");
        CHECK_CONTAINS(mgsd_last_error(), badw[i][0]);
        free_model(&m);
        mgsd_config_free(c);
    }
    /* MGSD's own encoders and the sub-model: each error names the key that was set, not the
     * layer's internal name (transformer_encoder_dim_feedforward=0 once read "inner_size=0") */
    const char *const badk[][4] = {
        {"transformer_encoder_heads", "3", "", "MGSD: config key 'embedding_size' = 8 is not a multiple of 'transformer_encoder_heads' = 3"},
        {"transformer_encoder_dim_feedforward", "0", "", "'transformer_encoder_dim_feedforward' = 0"},
        {"transformer_encoder_layers", "0", "", "'transformer_encoder_layers' = 0"},
        {"transformer_encoder_layer_norm_eps", "-1", "", "'transformer_encoder_layer_norm_eps' = -1"},
        {"n_heads", "3", "", "MGSD sub-model: config key 'embedding_size' = 8 is not a multiple of 'n_heads' = 3"},
        {"n_layers", "9", "", "MGSD sub-model: config key 'n_layers' = 9 outside [1, 8]"},
        {"inner_size", "0", "", "'inner_size' = 0"},
        {"hidden_dropout_prob", "-0.1", "", "'hidden_dropout_prob' = -0.1 outside [0, 1)"},
        {"attn_dropout_prob", "1", "", "'attn_dropout_prob' = 1 outside [0, 1)"},
        {"layer_norm_eps", "-1", "", "'layer_norm_eps' = -1"},
        {"hidden_act", "tanh", "", "'hidden_act' = 'tanh'"},
        {"num_layers", "0", "GRU4Rec", "MGSD sub-model: config key 'num_layers' = 0 outside [1, 8]"},
        {"dropout_prob", "1.5", "GRU4Rec", "'dropout_prob' = 1.5 outside [0, 1)"},
    };
    for (size_t i = 0; i < sizeof badk / sizeof badk[0]; i++) {
        const char *kv[] = {badk[i][0], badk[i][1], "sub_model", badk[i][2][0] ? badk[i][2] : "BERT4Rec"};
        c = make_config(kv, 4);
        CHECK_STATUS(make_model(&m, c, 1), MGSD_ERR_CONFIG);
        CHECK_CONTAINS(mgsd_last_error(), badk[i][3]);
        free_model(&m);
        mgsd_config_free(c);
    }
    const char *bad3[] = {"weight_init", "kaiming"};
    c = make_config(bad3, 2);
    CHECK_STATUS(make_model(&m, c, 1), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "weight_init");
    free_model(&m);
    mgsd_config_free(c);
    /* weight_init=normal: weights drawn with std initializer_range */
    const char *ni[] = {"weight_init", "normal", "initializer_range", "0.05"};
    c = make_config(ni, 4);
    CHECK_OK(make_model(&m, c, 1));
    {
        mgsd_tensor *w;
        CHECK_OK(params_find(&m.params, "replace_gaussian_fc1.weight", &w));
        double s2 = 0;
        for (int64_t i = 0; i < w->n; i++) s2 += (double)w->data[i] * w->data[i];
        CHECK_NEAR(sqrt(s2 / (double)w->n), 0.05, 0.012);
    }
    free_model(&m);
    mgsd_config_free(c);
    const char *bad2[] = {"mgp", "cubic"};
    c = make_config(bad2, 2);
    CHECK_STATUS(make_model(&m, c, 1), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "mgp");
    free_model(&m);
    mgsd_config_free(c);
}

/* L2 norm of the gradient of every parameter whose name starts with prefix. */
static double param_grad_norm(mgsd_model *m, const char *prefix) {
    double s = 0;
    size_t n = strlen(prefix);
    for (int i = 0; i < m->params.count; i++) {
        if (strncmp(m->params.names[i], prefix, n) != 0) continue;
        const mgsd_tensor *pt = &m->params.tensors[i];
        for (int64_t j = 0; j < pt->n; j++) s += (double)pt->grad[j] * pt->grad[j];
    }
    return sqrt(s);
}

/* Stabilising options: cl_weight_grad=false keeps the forward values and changes only the
 * gradient reaching the discriminator; cl_warmup_steps zeroes the contrastive terms' weight
 * for the first N global steps; straight_through=false equals mgsd_set_detach_flags. */
static void test_stabilisers(void) {
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    mgsd_batch b;
    make_batch(&b);
    double val[2], gn[2];
    for (int v = 0; v < 2; v++) {
        const char *kv[] = {"cl_weight_grad", v ? "false" : "true", "straight_through", "false"};
        mgsd_config *c = make_config(kv, 4);
        mgsd_model m;
        CHECK_OK(make_model(&m, c, 3));
        val[v] = eval_term(&m, &t, &b, 2, 1);
        gn[v] = param_grad_norm(&m, "multiattention_2_noise_scores_fc2.weight");
        free_model(&m);
        mgsd_config_free(c);
    }
    CHECK(isfinite(val[0]) && val[0] > 0);
    CHECK_NEAR(val[0], val[1], 1e-6);
    CHECK(gn[0] > 0 && isfinite(gn[1]));
    CHECK(fabs(gn[0] - gn[1]) > 1e-3 * gn[0]);

    /* cl_zero_ratio_grad: same loss values; with straight-through flags the zero-ratio
     * entries (the negatives) change the gradient of both contrastive terms, with detached
     * flags (and no zero weight) they change nothing. */
    for (int k = 2; k <= 3; k++)
        for (int st = 0; st < 2; st++) {
            double v2[2], diff = 0, norm = 0;
            float *g0 = NULL;
            for (int z = 0; z < 2; z++) {
                const char *kv[] = {"cl_zero_ratio_grad", z ? "true" : "false", "straight_through", st ? "true" : "false"};
                mgsd_config *c = make_config(kv, 4);
                mgsd_model m;
                CHECK_OK(make_model(&m, c, 3));
                v2[z] = eval_term(&m, &t, &b, k, 1);
                if (!z) {
                    g0 = mgsd_malloc(sizeof(float) * (size_t)m.params.total);
                    memcpy(g0, m.params.grad, sizeof(float) * (size_t)m.params.total);
                } else {
                    for (int64_t i = 0; i < m.params.total; i++) {
                        diff += fabs((double)m.params.grad[i] - g0[i]);
                        norm += fabs((double)g0[i]);
                    }
                }
                free_model(&m);
                mgsd_config_free(c);
            }
            mgsd_free(g0);
            CHECK(isfinite(v2[0]) && v2[0] > 0);
            CHECK_NEAR(v2[0], v2[1], 0);
            if (st)
                CHECK(diff > 1e-3 * norm);
            else
                CHECK_NEAR(diff, 0, 0);
        }

    /* warm-up: total = L_rec + gamma L_aux before step N, the full sum from step N on */
    const char *kw[] = {"cl_warmup_steps", "5", "straight_through", "false"};
    mgsd_config *c = make_config(kw, 4);
    mgsd_model m;
    CHECK_OK(make_model(&m, c, 3));
    double term[4];
    for (int k = 0; k < 4; k++) term[k] = eval_term(&m, &t, &b, k, 0);
    model_mgsd.on_step(&m, 4, 0);
    double before = eval_term(&m, &t, &b, 4, 0);
    model_mgsd.on_step(&m, 5, 0);
    double after = eval_term(&m, &t, &b, 4, 0);
    CHECK_NEAR(before, term[0] + 10 * term[1], 1e-4 * fabs(before));
    CHECK_NEAR(after, term[0] + 10 * term[1] + 7 * term[2] + term[3], 1e-4 * fabs(after));
    free_model(&m);
    mgsd_config_free(c);
    const char *bad[] = {"cl_warmup_steps", "-1"};
    c = make_config(bad, 2);
    CHECK_STATUS(make_model(&m, c, 1), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "cl_warmup_steps");
    free_model(&m);
    mgsd_config_free(c);
    mgsd_batch_free(&b);
    ag_tape_free(&t);
}

/* The sub-model keeps its own reference initialisation (it is built after MGSD's xavier
 * apply in the authors' code): SASRec normal(initializer_range) for E and every weight,
 * BERT4Rec xavier-normal, GRU4Rec a bias-free GRU and a PyTorch-default dense layer. */
static int init_of(mgsd_model *m, const char *name, params_init_kind *kind, float *a) {
    int i = params_index(&m->params, name);
    if (i < 0) return 0;
    *kind = m->params.inits[i];
    *a = m->params.init_args[i][0];
    return 1;
}

static void test_sub_model_init(void) {
    const char *subs[] = {"SASRec", "BERT4Rec", "GRU4Rec"};
    for (int k = 0; k < 3; k++) {
        const char *kv[] = {"sub_model", subs[k], "initializer_range", "0.03"};
        mgsd_config *c = make_config(kv, 4);
        mgsd_model m;
        CHECK_OK(make_model(&m, c, 1));
        params_init_kind kind = PARAMS_INIT_ZEROS;
        float a = 0;
        CHECK(init_of(&m, "sub_model.item_embedding.weight", &kind, &a));
        CHECK_INT_EQ(kind, k == 0 ? PARAMS_INIT_NORMAL : PARAMS_INIT_XAVIER_NORMAL);
        if (k == 0) CHECK_NEAR(a, 0.03, 1e-7);
        CHECK(init_of(&m, "replace_gaussian_fc1.weight", &kind, &a)); /* MGSD's own: xavier */
        CHECK_INT_EQ(kind, PARAMS_INIT_XAVIER_NORMAL);
        int n_sub = 0, n_normal = 0;
        for (int i = 0; i < m.params.count; i++) {
            if (strncmp(m.params.names[i], "sub_model.", 10) != 0 || m.params.tensors[i].ndim != 2) continue;
            n_sub++;
            n_normal += m.params.inits[i] == PARAMS_INIT_NORMAL && m.params.init_args[i][0] == 0.03f;
        }
        if (k == 0) CHECK_INT_EQ(n_normal, n_sub);
        else CHECK_INT_EQ(n_normal, 0);
        /* every attention's query, key and value weight is three blocks with their own
         * xavier fans, as RecBole's three Linear layers; nothing else is stacked */
        int n_qkv = 0, blocks_ok = 1;
        for (int i = 0; i < m.params.count; i++) {
            int qkv = strstr(m.params.names[i], "attention.qkv.weight") != NULL;
            n_qkv += qkv;
            blocks_ok &= m.params.blocks[i] == (qkv ? 3 : 1);
        }
        CHECK(blocks_ok);
        CHECK_INT_EQ(n_qkv, 2 + (k < 2 ? 1 : 0)); /* one layer in each encoder (+ the sub-model's) */
        if (k == 2) {
            CHECK(params_index(&m.params, "sub_model.gru_layers.bias_l0") < 0);
            CHECK(init_of(&m, "sub_model.dense.bias", &kind, &a));
            CHECK_INT_EQ(kind, PARAMS_INIT_UNIFORM);
            CHECK_NEAR(a, -1.0 / sqrt(8.0), 1e-6); /* U(-1/sqrt(H), 1/sqrt(H)), H = 8 */
        }
        free_model(&m);
        mgsd_config_free(c);
        /* weight_init=normal: every weight normal(initializer_range) */
        const char *kn[] = {"sub_model", subs[k], "weight_init", "normal"};
        c = make_config(kn, 4);
        CHECK_OK(make_model(&m, c, 1));
        CHECK(init_of(&m, "replace_gaussian_fc1.weight", &kind, &a));
        CHECK_INT_EQ(kind, PARAMS_INIT_NORMAL);
        CHECK(init_of(&m, "sub_model.item_embedding.weight", &kind, &a));
        CHECK_INT_EQ(kind, PARAMS_INIT_NORMAL);
        free_model(&m);
        mgsd_config_free(c);
    }
}

/* sub_model_input=embeddings: the sub-model reads E[S], so with every MGSD part off L_rec
 * sends no gradient into the shared sequence encoder (it does with the reference's G); the
 * total passes the gradient check; an unknown value is a configuration error. */
static void test_sub_model_input(void) {
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    mgsd_batch b;
    make_batch(&b);
    /* With every MGSD part off, L_rec reaches the shared encoder through G (encoded), not at
     * all (embeddings), or only through the keep flags' straight-through gradient (denoised:
     * none once the flags are constants). */
    static const char *const modes[3] = {"encoded", "embeddings", "denoised"};
    for (int mode = 0; mode < 3; mode++)
        for (int detach = 0; detach < 2; detach++) {
            const char *kv[] = {"sub_model", "SASRec", "sub_model_input", modes[mode],
                                "use_aux", "false", "use_item_denoise", "false", "use_interest_denoise", "false"};
            mgsd_config *c = make_config(kv, 10);
            mgsd_model m;
            CHECK_OK(make_model(&m, c, 3));
            mgsd_set_detach_flags(&m, detach);
            CHECK(isfinite(eval_term(&m, &t, &b, 0, 1)));
            double enc = param_grad_norm(&m, "raw_gaussian_kernel_transformer_encoder.");
            double disc = param_grad_norm(&m, "multiattention_2_noise_scores_fc2");
            double emb = param_grad_norm(&m, "sub_model.item_embedding.weight");
            int reaches = mode == 0 || (mode == 2 && !detach);
            if (reaches) CHECK(enc > 1e-6);
            else CHECK(enc == 0.0);
            if (mode == 2 && !detach) CHECK(disc > 1e-6);
            else CHECK(disc == 0.0);
            CHECK(emb > 1e-6);
            free_model(&m);
            mgsd_config_free(c);
        }
    for (int mode = 1; mode < 3; mode++) {
        const char *kv[] = {"sub_model", "SASRec", "sub_model_input", modes[mode]};
        mgsd_config *c = make_config(kv, 4);
        mgsd_model m;
        CHECK_OK(make_model(&m, c, 3));
        mgsd_set_detach_flags(&m, 1);
        printf("gradient checks, sub_model_input=%s\n", modes[mode]);
        check_term(&m, &t, &b, 0, "L_rec");
        check_term(&m, &t, &b, 4, "total");
        free_model(&m);
        mgsd_config_free(c);
    }
    mgsd_model m;
    const char *bad[] = {"sub_model_input", "raw"};
    mgsd_config *c = make_config(bad, 2);
    CHECK(make_model(&m, c, 3) == MGSD_ERR_CONFIG);
    CHECK(strstr(mgsd_last_error(), "sub_model_input='raw'") != NULL);
    free_model(&m);
    mgsd_config_free(c);
    mgsd_batch_free(&b);
    ag_tape_free(&t);
}

/* Largest difference between model a's evaluation scores of batch ba and model b's of bb. */
static float scores_gap(mgsd_tape *t, mgsd_model *a, const mgsd_batch *ba, mgsd_model *b, const mgsd_batch *bb) {
    float sa[B * N_ITEMS], sb[B * N_ITEMS], worst = 0;
    t->training = 0;
    t->grad_enabled = 0;
    ag_tape_reset(t);
    if (a->vt->scores(a, t, ba, sa) != MGSD_OK) return INFINITY;
    ag_tape_reset(t);
    if (b->vt->scores(b, t, bb, sb) != MGSD_OK) return INFINITY;
    for (int i = 0; i < B * N_ITEMS; i++) worst = fmaxf(worst, fabsf(sa[i] - sb[i]));
    return worst;
}

/* sub_model_input=denoised with both denoising parts off scores a history as
 * sub_model_input=embeddings, with the same parameters, scores the history without the items
 * the discriminator drops; keep_threshold near 0 keeps every item, near 1 only the forced one. */
static void test_sub_model_denoised(void) {
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    mgsd_batch b, kept;
    make_batch(&b);
    mgsd_batch_init(&kept, B, L);
    const char *kv[] = {"sub_model", "SASRec", "sub_model_input", "denoised",
                        "use_item_denoise", "false", "use_interest_denoise", "false"};
    mgsd_config *cd = make_config(kv, 8);
    kv[3] = "embeddings";
    mgsd_config *ce = make_config(kv, 8);
    mgsd_model md, me;
    float keep[B * L];
    int dropped = 0;
    /* the first initialisation whose discriminator drops some items and keeps others */
    for (uint64_t seed = 3; seed < 40 && (dropped == 0 || dropped == b.offs[B]); seed++) {
        if (seed > 3) free_model(&md);
        CHECK_OK(make_model(&md, cd, seed));
        mgsd_explanation ex = {.keep = keep};
        CHECK_OK(mgsd_explain(&md, &t, &b, &ex));
        dropped = 0;
        for (int i = 0; i < b.offs[B]; i++) dropped += keep[i] == 0.0f;
    }
    CHECK(dropped > 0 && dropped < b.offs[B]);
    CHECK_OK(make_model(&me, ce, 3));
    CHECK(me.params.total == md.params.total);
    memcpy(me.params.data, md.params.data, sizeof(float) * (size_t)md.params.total);
    mgsd_batch_reset(&kept);
    for (int r = 0; r < B; r++) {
        int32_t h[L], n = 0;
        for (int32_t i = b.offs[r]; i < b.offs[r + 1]; i++)
            if (keep[i] > 0.5f) h[n++] = b.items[i];
        CHECK_OK(mgsd_batch_append(&kept, b.users[r], b.targets[r], h, n));
    }
    float worst = scores_gap(&t, &md, &b, &me, &kept);
    printf("sub_model_input=denoised: %d of %d items dropped, scores match the kept histories to %.2g\n",
           dropped, b.offs[B], worst);
    CHECK(worst < 1e-5f);
    /* keep_threshold moves the inference rule p_clean > thr and the clean margin with it */
    for (int lo = 0; lo < 2; lo++) {
        CHECK_OK(mgsd_config_set(cd, "keep_threshold", lo ? "1e-6" : "0.999999", MGSD_CONFIG_LEVEL_CMDLINE, "test"));
        mgsd_model mt;
        CHECK_OK(make_model(&mt, cd, 3));
        memcpy(mt.params.data, md.params.data, sizeof(float) * (size_t)md.params.total);
        float clean[B * L], margin[B * L];
        mgsd_explanation ex = {.keep = keep, .clean = clean, .margin = margin};
        CHECK_OK(mgsd_explain(&mt, &t, &b, &ex));
        int n_kept = 0, agree = 1;
        for (int i = 0; i < b.offs[B]; i++) {
            n_kept += keep[i] > 0.5f;
            agree &= (margin[i] > 0) == (clean[i] > (lo ? 1e-6f : 0.999999f));
        }
        CHECK(agree);
        CHECK(n_kept == (lo ? b.offs[B] : B)); /* all, or only each row's forced last item */
        if (lo) CHECK(scores_gap(&t, &mt, &b, &me, &b) < 1e-5f); /* all kept: the whole history */
        free_model(&mt);
    }
    CHECK_OK(mgsd_config_set(cd, "keep_threshold", "1", MGSD_CONFIG_LEVEL_CMDLINE, "test"));
    mgsd_model mbad;
    CHECK(make_model(&mbad, cd, 3) == MGSD_ERR_CONFIG);
    CHECK(strstr(mgsd_last_error(), "keep_threshold=1") != NULL);
    free_model(&mbad);
    free_model(&md);
    free_model(&me);
    mgsd_config_free(cd);
    mgsd_config_free(ce);
    mgsd_batch_free(&kept);
    mgsd_batch_free(&b);
    ag_tape_free(&t);
}

/* train_stats: the share of history items the training step kept, and how the discriminator
 * does on the augmented copy's inserted items. The discriminator is forced (fc1 gives 1 on
 * every unit, fc2 makes the clean-minus-noise margin +-20 C for every token), so the
 * figures are known: a margin far below zero flags every item (inserted and original) and
 * keeps nothing but each row's forced last item; far above, it flags nothing and keeps all;
 * a zero margin flags everything at keep_threshold 0.5 and nothing at 0.1. Ties rank at 1/2. */
static void set_discriminator(mgsd_model *m, float sign) {
    mgsd_tensor *w1, *b1, *w2;
    CHECK_OK(params_find(&m->params, "multiattention_2_noise_scores_fc1.weight", &w1));
    CHECK_OK(params_find(&m->params, "multiattention_2_noise_scores_fc1.bias", &b1));
    CHECK_OK(params_find(&m->params, "multiattention_2_noise_scores_fc2.weight", &w2));
    for (int64_t i = 0; i < w1->n; i++) w1->data[i] = 0.0f;
    for (int64_t i = 0; i < b1->n; i++) b1->data[i] = 1.0f;
    int64_t C = w2->n / 2; /* [2, C]: row 0 the clean logit, row 1 the noise logit */
    for (int64_t i = 0; i < C; i++) {
        w2->data[i] = 10.0f * sign;
        w2->data[C + i] = -10.0f * sign;
    }
}

static void test_train_stats(void) {
    const char *names[MODEL_MAX_TRAIN_STATS];
    double v[MODEL_MAX_TRAIN_STATS];
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    mgsd_batch b;
    make_batch(&b); /* 12 history items in 3 rows */
    const char *kv[] = {"gumbel_input", "logits", "keep_threshold", "0.5"};
    mgsd_config *c = make_config(kv, 4);
    mgsd_model m;
    CHECK_OK(make_model(&m, c, 3));
    CHECK_INT_EQ(model_mgsd.train_stats(&m, names, v), 4);
    CHECK(isnan(v[0]) && isnan(v[3])); /* no step yet */
    CHECK_STR_EQ(names[0], "kept");
    CHECK_STR_EQ(names[1], "inserted_flagged");
    CHECK_STR_EQ(names[2], "original_flagged");
    CHECK_STR_EQ(names[3], "inserted_auc");
    t.training = t.grad_enabled = 1;
    /* as initialised: fractions */
    CHECK(model_mgsd.loss(&m, &t, &b) != NULL);
    model_mgsd.train_stats(&m, names, v);
    for (int k = 0; k < 4; k++) CHECK(v[k] >= 0 && v[k] <= 1);
    const float signs[2] = {-1.0f, 1.0f};
    for (int s = 0; s < 2; s++) {
        set_discriminator(&m, signs[s]);
        ag_tape_reset(&t);
        CHECK(model_mgsd.loss(&m, &t, &b) != NULL);
        model_mgsd.train_stats(&m, names, v);
        CHECK_NEAR(v[0], s ? 1.0 : 3.0 / 12.0, 1e-12);
        CHECK_NEAR(v[1], s ? 0.0 : 1.0, 1e-12);
        CHECK_NEAR(v[2], s ? 0.0 : 1.0, 1e-12);
        CHECK_NEAR(v[3], 0.5, 1e-12);
    }
    free_model(&m);
    mgsd_config_free(c);
    /* margin 0: flagged iff the threshold's logit is >= 0 */
    const char *thr[2] = {"0.5", "0.1"};
    for (int s = 0; s < 2; s++) {
        const char *kz[] = {"keep_threshold", thr[s]};
        c = make_config(kz, 2);
        CHECK_OK(make_model(&m, c, 3));
        set_discriminator(&m, 0.0f);
        ag_tape_reset(&t);
        CHECK(model_mgsd.loss(&m, &t, &b) != NULL);
        model_mgsd.train_stats(&m, names, v);
        CHECK_NEAR(v[1], s ? 0.0 : 1.0, 1e-12);
        CHECK_NEAR(v[2], s ? 0.0 : 1.0, 1e-12);
        free_model(&m);
        mgsd_config_free(c);
    }
    /* the figures themselves on hand-made logits: one inserted item (margin -1) among
     * originals with margins 2, 0.5, -3 */
    {
        const float lg[8] = {0, 1, 2, 0, 1, 0.5f, 0, 3}, lab[4] = {0, 1, 1, 1};
        float score[4], ws[16];
        uint8_t noisy[4];
        double o[3];
        CHECK(mgsd_eval_noise_workspace_size(4) <= sizeof ws);
        mgsd_weak_label_stats(lg, lab, 4, 0.0f, score, noisy, ws, o);
        CHECK_NEAR(o[0], 1.0, 1e-12);       /* the inserted item is flagged */
        CHECK_NEAR(o[1], 1.0 / 3.0, 1e-12); /* so is the original at -3 */
        CHECK_NEAR(o[2], 2.0 / 3.0, 1e-12); /* ranked below two of the three originals */
        mgsd_weak_label_stats(lg, lab, 4, -2.0f, score, noisy, ws, o); /* keep_threshold ~0.12 */
        CHECK_NEAR(o[0], 0.0, 1e-12);
        CHECK_NEAR(o[1], 1.0 / 3.0, 1e-12);
        CHECK_NEAR(o[2], 2.0 / 3.0, 1e-12);
    }
    /* without the auxiliary loss there is no augmented copy: only the kept share */
    const char *na[] = {"use_aux", "false"};
    c = make_config(na, 2);
    CHECK_OK(make_model(&m, c, 3));
    ag_tape_reset(&t);
    CHECK(model_mgsd.loss(&m, &t, &b) != NULL);
    CHECK_INT_EQ(model_mgsd.train_stats(&m, names, v), 1);
    CHECK(v[0] > 0 && v[0] <= 1);
    free_model(&m);
    mgsd_config_free(c);
    mgsd_batch_free(&b);
    ag_tape_free(&t);
}

int main(void) {
    test_sub_model_init();
    test_sub_model_input();
    test_sub_model_denoised();
    test_augment();
    test_stabilisers();
    test_behaviour();
    test_train_stats();
    test_gradients("BERT4Rec");
    test_gradients("SASRec");
    test_gradients("GRU4Rec");
    const char *g[] = {"mgp", "gaussian", "aux_loss", "bce", "weighted_cl", "false"};
    mgsd_config *c = make_config(g, 6);
    mgsd_model m;
    CHECK_OK(make_model(&m, c, 4));
    mgsd_set_detach_flags(&m, 1);
    mgsd_tape t;
    ag_tape_init(&t, 1 << 20, 1);
    mgsd_batch b;
    make_batch(&b);
    printf("gradient checks, mgp=gaussian aux_loss=bce weighted_cl=false\n");
    check_term(&m, &t, &b, 4, "total");
    mgsd_batch_free(&b);
    ag_tape_free(&t);
    free_model(&m);
    mgsd_config_free(c);
    return test_summary();
}
