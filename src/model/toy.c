/* Toy next-item task + 2-layer causal transformer trainer (see toy.h). */
#include "model/toy.h"

#include <math.h>
#include <string.h>

#include "autograd/ag.h"
#include "nn/nn.h"
#include "train/optim.h"
#include "train/params.h"

void toy_config_default(toy_config *c) {
    c->vocab = 40;
    c->hidden = 32;
    c->heads = 2;
    c->layers = 2;
    c->inner = 64;
    c->max_len = 12;
    c->batch = 64;
    c->steps = 300;
    c->lr = 3e-3f;
    c->dropout = 0.0f;
    c->seed = 1;
}

mgsd_status toy_train(const toy_config *c, toy_progress_fn progress, void *user, toy_result *res) {
    MGSD_CHECK_ARG(c != NULL && res != NULL);
    if (c->vocab < 3 || c->hidden <= 0 || c->heads <= 0 || c->layers <= 0 || c->max_len < 2 || c->batch <= 0 ||
        c->steps <= 0 || !(c->lr > 0))
        return mgsd_error(MGSD_ERR_INVALID_ARG, "toy_train: invalid configuration");
    memset(res, 0, sizeof *res);
    mgsd_rng rng;
    mgsd_rng_seed(&rng, c->seed);
    int V = c->vocab, C = c->hidden, L = c->max_len, B = c->batch;

    nn_table tb;
    nn_table_init(&tb);
    nn_init init = {PARAMS_INIT_NORMAL, 0.02f};
    int item_emb = nn_table_add_weight(&tb, "", "item_embedding.weight", V, C, init);
    int pos_emb = nn_table_add_weight(&tb, "", "position_embedding.weight", L, C, init);
    nn_layernorm ln;
    nn_layernorm_declare(&ln, &tb, "LayerNorm", C, 1e-12f);
    nn_transformer tr;
    nn_transformer_cfg tcfg = {c->layers, C, c->heads, c->inner, c->dropout, c->dropout, 1e-12f, NN_ACT_GELU, init};
    MGSD_TRY(nn_transformer_declare(&tr, &tb, "trm_encoder.", &tcfg));
    mgsd_params P;
    MGSD_TRY(nn_table_build(&tb, &P, &rng));
    optim_adam opt;
    optim_adam_config acfg = optim_adam_defaults();
    acfg.lr = c->lr;
    mgsd_status st = optim_adam_init(&opt, &P, &acfg);
    if (st != MGSD_OK) {
        params_free(&P);
        return st;
    }
    mgsd_tape t;
    st = ag_tape_init(&t, 0, c->seed + 1);
    int32_t *succ = mgsd_malloc(sizeof(int32_t) * (size_t)V);
    int32_t *items = mgsd_malloc(sizeof(int32_t) * (size_t)B * L);
    int32_t *pos = mgsd_malloc(sizeof(int32_t) * (size_t)B * L);
    int32_t *offs = mgsd_malloc(sizeof(int32_t) * (size_t)(B + 1));
    int32_t *targets = mgsd_malloc(sizeof(int32_t) * (size_t)B);
    if (st != MGSD_OK || !succ || !items || !pos || !offs || !targets) {
        if (st == MGSD_OK) st = MGSD_ERR_NOMEM;
        goto out;
    }
    /* successor map: a random permutation cycle over 1..V-1 */
    for (int i = 0; i < V; i++) succ[i] = i;
    mgsd_rng_shuffle_i32(&rng, succ + 1, (size_t)(V - 1));
    const float noise = 0.1f;
    double first = 0, last = 0, t0 = mgsd_now();
    uint64_t allocs0 = 0;
    int64_t tokens = 0;
    for (int step = 0; step < c->steps; step++) {
        if (step == 2) allocs0 = mgsd_alloc_count();
        /* batch */
        offs[0] = 0;
        for (int b = 0; b < B; b++) {
            int len = 2 + (int)mgsd_rng_below(&rng, (uint64_t)(L - 1));
            int32_t *s = items + offs[b];
            s[0] = 1 + (int32_t)mgsd_rng_below(&rng, (uint64_t)(V - 1));
            for (int i = 1; i <= len; i++) {
                int32_t nx = mgsd_rng_uniform(&rng) < noise ? 1 + (int32_t)mgsd_rng_below(&rng, (uint64_t)(V - 1))
                                                             : succ[s[i - 1]];
                if (i < len) s[i] = nx;
                else targets[b] = succ[s[len - 1]];
            }
            for (int i = 0; i < len; i++) pos[offs[b] + i] = i;
            offs[b + 1] = offs[b] + len;
        }
        int ntok = offs[B];
        tokens += ntok;
        ag_seqs seqs = {B, offs, L};
        /* forward */
        ag_tape_reset(&t);
        params_zero_grads(&P);
        mgsd_tensor *E = params_get(&P, item_emb);
        mgsd_tensor *x = ag_add(&t, ag_embedding(&t, E, items, ntok), ag_embedding(&t, params_get(&P, pos_emb), pos, ntok));
        x = ag_dropout(&t, nn_layernorm_forward(&ln, &t, &P, x), c->dropout);
        mgsd_tensor *u = nn_transformer_forward_last(&tr, &t, &P, x, &seqs, 1);
        mgsd_tensor *loss = ag_softmax_xent(&t, u, E, targets, 0);
        if ((st = ag_status(&t)) != MGSD_OK) goto out;
        if ((st = ag_backward(&t, loss)) != MGSD_OK) goto out;
        if ((st = optim_adam_step(&opt, &P, c->lr)) != MGSD_OK) goto out;
        float lv = loss->data[0];
        if (!isfinite(lv)) {
            st = mgsd_error(MGSD_ERR_NUMERIC, "toy_train: loss is %f at step %d", lv, step);
            goto out;
        }
        if (step < 10) first += lv;
        if (step >= c->steps - 10) last += lv;
        if (progress && progress(user, step, lv)) break;
    }
    res->allocs_after_warmup = mgsd_alloc_count() - allocs0;
    res->seconds = mgsd_now() - t0;
    res->first_loss = (float)(first / (c->steps < 10 ? c->steps : 10));
    res->last_loss = (float)(last / (c->steps < 10 ? c->steps : 10));
    res->tokens_per_second = tokens / (res->seconds > 0 ? res->seconds : 1e-9);
out:
    mgsd_free(succ);
    mgsd_free(items);
    mgsd_free(pos);
    mgsd_free(offs);
    mgsd_free(targets);
    ag_tape_free(&t);
    optim_adam_free(&opt);
    params_free(&P);
    return st;
}
