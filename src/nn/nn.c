/* Layers: parameter-table builder, linear, layer norm, RecBole's TransformerEncoder. */
#include "nn/nn.h"

#include <stdio.h>
#include <string.h>

void nn_table_init(nn_table *tb) {
    tb->n = 0;
    tb->status = MGSD_OK;
}

int nn_table_add(nn_table *tb, const char *prefix, const char *name, int ndim, const int *shape,
                 params_init_kind init, float a, float b) {
    if (tb->status != MGSD_OK) return -1;
    if (tb->n >= NN_TABLE_MAX) {
        tb->status = mgsd_error(MGSD_ERR_INVALID_ARG, "parameter table full (%d entries)", NN_TABLE_MAX);
        return -1;
    }
    int i = tb->n++;
    int len = snprintf(tb->names[i], sizeof tb->names[i], "%s%s", prefix ? prefix : "", name);
    if (len >= (int)sizeof tb->names[i]) {
        tb->status = mgsd_error(MGSD_ERR_INVALID_ARG, "parameter name '%s%s' too long", prefix ? prefix : "", name);
        return -1;
    }
    params_spec *sp = &tb->specs[i];
    memset(sp, 0, sizeof *sp);
    sp->name = tb->names[i];
    sp->ndim = ndim;
    for (int k = 0; k < ndim && k < AG_MAX_DIMS; k++) sp->shape[k] = shape[k];
    sp->init = init;
    sp->a = a;
    sp->b = b;
    return i;
}

int nn_table_add_weight(nn_table *tb, const char *prefix, const char *name, int d0, int d1, nn_init init) {
    int s[2] = {d0, d1};
    return nn_table_add(tb, prefix, name, 2, s, init.weight, init.std, 0);
}

mgsd_status nn_table_build(nn_table *tb, mgsd_params *p, mgsd_rng *rng) {
    if (tb->status != MGSD_OK) return tb->status;
    return params_init(p, tb->specs, tb->n, rng);
}

void nn_linear_declare(nn_linear *l, nn_table *tb, const char *prefix, int in, int out, int bias, nn_init init) {
    nn_linear_declare_stacked(l, tb, prefix, in, out, 1, bias, init);
}

void nn_linear_declare_stacked(nn_linear *l, nn_table *tb, const char *prefix, int in, int out, int blocks, int bias,
                               nn_init init) {
    char nm[96];
    l->in = in;
    l->out = out;
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    l->w = nn_table_add_weight(tb, "", nm, out, in, init);
    if (l->w >= 0) tb->specs[l->w].blocks = blocks;
    l->b = -1;
    if (bias) {
        snprintf(nm, sizeof nm, "%s.bias", prefix);
        int s[1] = {out};
        l->b = nn_table_add(tb, "", nm, 1, s, PARAMS_INIT_ZEROS, 0, 0);
    }
}

mgsd_tensor *nn_linear_forward(const nn_linear *l, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x) {
    return ag_linear(t, x, params_get(p, l->w), l->b >= 0 ? params_get(p, l->b) : NULL);
}

mgsd_tensor *nn_linear_relu_forward(const nn_linear *l, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x) {
    return ag_linear_relu(t, x, params_get(p, l->w), l->b >= 0 ? params_get(p, l->b) : NULL);
}

void nn_layernorm_declare(nn_layernorm *l, nn_table *tb, const char *prefix, int C, float eps) {
    char nm[96];
    int s[1] = {C};
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    l->w = nn_table_add(tb, "", nm, 1, s, PARAMS_INIT_ONES, 0, 0);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    l->b = nn_table_add(tb, "", nm, 1, s, PARAMS_INIT_ZEROS, 0, 0);
    l->eps = eps;
}

mgsd_tensor *nn_layernorm_forward(const nn_layernorm *l, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x) {
    return ag_layernorm(t, x, params_get(p, l->w), params_get(p, l->b), l->eps);
}

mgsd_status nn_act_parse(const char *s, nn_act *out) {
    if (!strcmp(s, "gelu")) *out = NN_ACT_GELU;
    else if (!strcmp(s, "relu")) *out = NN_ACT_RELU;
    else return mgsd_error(MGSD_ERR_CONFIG, "unknown activation '%s' (expected gelu or relu)", s);
    return MGSD_OK;
}

mgsd_status nn_transformer_declare(nn_transformer *tr, nn_table *tb, const char *prefix, const nn_transformer_cfg *cfg) {
    if (cfg->n_layers < 1 || cfg->n_layers > NN_MAX_LAYERS)
        return mgsd_error(MGSD_ERR_CONFIG, "n_layers=%d outside 1..%d", cfg->n_layers, NN_MAX_LAYERS);
    if (cfg->C <= 0 || cfg->NH <= 0 || cfg->C % cfg->NH != 0)
        return mgsd_error(MGSD_ERR_CONFIG, "hidden size %d is not a positive multiple of n_heads %d", cfg->C, cfg->NH);
    if (cfg->inner <= 0) return mgsd_error(MGSD_ERR_CONFIG, "inner_size=%d must be > 0", cfg->inner);
    if (cfg->hidden_drop < 0 || cfg->hidden_drop >= 1 || cfg->attn_drop < 0 || cfg->attn_drop >= 1)
        return mgsd_error(MGSD_ERR_CONFIG, "dropout probabilities must lie in [0, 1)");
    tr->cfg = *cfg;
    char pre[96];
    for (int i = 0; i < cfg->n_layers; i++) {
        nn_transformer_layer *L = &tr->layers[i];
        snprintf(pre, sizeof pre, "%slayer.%d.attention.qkv", prefix, i);
        /* RecBole's query, key and value are three Linear layers, each initialised with
         * its own fans (xavier-normal: std sqrt(2 / 2C), not sqrt(2 / 4C) of one [3C, C]) */
        nn_linear_declare_stacked(&L->qkv, tb, pre, cfg->C, 3 * cfg->C, 3, 1, cfg->init);
        snprintf(pre, sizeof pre, "%slayer.%d.attention.dense", prefix, i);
        nn_linear_declare(&L->out, tb, pre, cfg->C, cfg->C, 1, cfg->init);
        snprintf(pre, sizeof pre, "%slayer.%d.attention.LayerNorm", prefix, i);
        nn_layernorm_declare(&L->ln_attn, tb, pre, cfg->C, cfg->ln_eps);
        snprintf(pre, sizeof pre, "%slayer.%d.feed_forward.dense_1", prefix, i);
        nn_linear_declare(&L->ff1, tb, pre, cfg->C, cfg->inner, 1, cfg->init);
        snprintf(pre, sizeof pre, "%slayer.%d.feed_forward.dense_2", prefix, i);
        nn_linear_declare(&L->ff2, tb, pre, cfg->inner, cfg->C, 1, cfg->init);
        snprintf(pre, sizeof pre, "%slayer.%d.feed_forward.LayerNorm", prefix, i);
        nn_layernorm_declare(&L->ln_ff, tb, pre, cfg->C, cfg->ln_eps);
    }
    return tb->status;
}

/* One layer; last_only: the rows after the attention are restricted to each sequence's last
 * token (the attention itself still reads every key and value of the sequence), so the output
 * is [B, C]. Exact: a token's output depends on the other rows only through the keys and
 * values. */
static mgsd_tensor *transformer_layer(const nn_transformer *tr, const nn_transformer_layer *L, mgsd_tape *t,
                                      mgsd_params *p, mgsd_tensor *x, const ag_seqs *s, int causal, int last_only) {
    const nn_transformer_cfg *c = &tr->cfg;
    float hd = t->training ? c->hidden_drop : 0.0f;
    mgsd_tensor *qkv = nn_linear_forward(&L->qkv, t, p, x);
    mgsd_tensor *ctx = ag_attention(t, qkv, s, c->NH, causal, c->attn_drop);
    if (last_only) {
        ctx = ag_last_token(t, ctx, s);
        x = ag_last_token(t, x, s);
    }
    mgsd_tensor *a = nn_linear_forward(&L->out, t, p, ctx);
    a = ag_dropout(t, a, hd);
    a = nn_layernorm_forward(&L->ln_attn, t, p, ag_add(t, a, x));
    mgsd_tensor *f = c->act == NN_ACT_RELU ? nn_linear_relu_forward(&L->ff1, t, p, a)
                                           : ag_gelu(t, nn_linear_forward(&L->ff1, t, p, a));
    f = nn_linear_forward(&L->ff2, t, p, f);
    f = ag_dropout(t, f, hd);
    return nn_layernorm_forward(&L->ln_ff, t, p, ag_add(t, f, a));
}

static mgsd_tensor *transformer_run(const nn_transformer *tr, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x,
                                    const ag_seqs *s, int causal, int last_only) {
    int n = tr->cfg.n_layers;
    for (int i = 0; i < n; i++) x = transformer_layer(tr, &tr->layers[i], t, p, x, s, causal, last_only && i == n - 1);
    return x;
}

mgsd_tensor *nn_transformer_forward(const nn_transformer *tr, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x,
                                    const ag_seqs *s, int causal) {
    return transformer_run(tr, t, p, x, s, causal, 0);
}

mgsd_tensor *nn_transformer_forward_last(const nn_transformer *tr, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x,
                                         const ag_seqs *s, int causal) {
    return transformer_run(tr, t, p, x, s, causal, 1);
}

double nn_transformer_flops_per_token(const nn_transformer_cfg *c) {
    double C = c->C, I = c->inner;
    return c->n_layers * 2.0 * (3 * C * C + C * C + 2 * C * I);
}
