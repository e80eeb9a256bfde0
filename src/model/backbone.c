/* Sequence backbones of SASRec, BERT4Rec and GRU4Rec on given input embeddings. */
#include "model/backbone.h"
#include "model/seqrec.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>

mgsd_status backbone_parse_kind(const char *name, backbone_kind *out) {
    if (!strcasecmp(name, "SASRec")) *out = BACKBONE_SASREC;
    else if (!strcasecmp(name, "BERT4Rec")) *out = BACKBONE_BERT4REC;
    else if (!strcasecmp(name, "GRU4Rec")) *out = BACKBONE_GRU4REC;
    else return mgsd_error(MGSD_ERR_CONFIG, "sub_model '%s' is not supported (expected SASRec, BERT4Rec or GRU4Rec)", name);
    return MGSD_OK;
}

const char *backbone_kind_name(backbone_kind k) {
    return k == BACKBONE_SASREC ? "SASRec" : k == BACKBONE_BERT4REC ? "BERT4Rec" : "GRU4Rec";
}

/* errors name the key as the baselines' do: "MGSD sub-model: config key 'n_heads' = 3 ..." */
#define SUB "MGSD sub-model"

void backbone_declare_gru(backbone *bb, nn_table *tb, const char *prefix, int C, int H, int layers, float drop) {
    char nm[96];
    bb->kind = BACKBONE_GRU4REC;
    bb->C = C;
    bb->gru_hidden = H;
    bb->gru_layers = layers;
    bb->emb_drop = drop;
    /* The authors' gru4rec.py (RecBole's): nn.GRU(bias=False); weight_ih_l0 and
     * weight_hh_l0 xavier_uniform_, deeper layers PyTorch's default U(-1/sqrt(H), 1/sqrt(H));
     * dense keeps PyTorch's Linear default U(-1/sqrt(H), 1/sqrt(H)) for weight and bias. */
    float kg = 1.0f / sqrtf((float)H);
    for (int l = 0; l < layers; l++) {
        int in = l == 0 ? C : H;
        float a_ih = l == 0 ? sqrtf(6.0f / (float)(3 * H + in)) : kg;
        float a_hh = l == 0 ? sqrtf(6.0f / (float)(4 * H)) : kg;
        int s_ih[2] = {3 * H, in}, s_hh[2] = {3 * H, H};
        snprintf(nm, sizeof nm, "gru_layers.weight_ih_l%d", l);
        bb->w_ih[l] = nn_table_add(tb, prefix, nm, 2, s_ih, PARAMS_INIT_UNIFORM, -a_ih, a_ih);
        snprintf(nm, sizeof nm, "gru_layers.weight_hh_l%d", l);
        bb->w_hh[l] = nn_table_add(tb, prefix, nm, 2, s_hh, PARAMS_INIT_UNIFORM, -a_hh, a_hh);
    }
    int s_dw[2] = {C, H}, s_db[1] = {C};
    bb->dense.in = H;
    bb->dense.out = C;
    bb->dense.w = nn_table_add(tb, prefix, "dense.weight", 2, s_dw, PARAMS_INIT_UNIFORM, -kg, kg);
    bb->dense.b = nn_table_add(tb, prefix, "dense.bias", 1, s_db, PARAMS_INIT_UNIFORM, -kg, kg);
}

mgsd_status backbone_declare(backbone *bb, nn_table *tb, const char *prefix, backbone_kind kind,
                             const mgsd_config *cfg, int C, int max_len, nn_init init) {
    char nm[96];
    bb->kind = kind;
    bb->C = C;
    bb->max_len = max_len;
    if (kind == BACKBONE_GRU4REC) {
        int layers, H = C;
        float drop;
        MGSD_TRY(seqrec_get_int(cfg, SUB, "num_layers", 1, BACKBONE_MAX_GRU_LAYERS, &layers));
        MGSD_TRY(seqrec_get_float(cfg, SUB, "dropout_prob", 0, 1, 0, &drop));
        if (mgsd_config_has(cfg, "gru_hidden_size")) MGSD_TRY(seqrec_get_int(cfg, SUB, "gru_hidden_size", 1, 1 << 16, &H));
        backbone_declare_gru(bb, tb, prefix, C, H, layers, drop);
        return tb->status;
    }
    nn_transformer_cfg tc;
    tc.C = C;
    tc.init = init;
    MGSD_TRY(seqrec_get_transformer_layers(cfg, SUB, "embedding_size", &tc));
    bb->hidden_drop = tc.hidden_drop;
    int s_pos[2] = {max_len, C};
    bb->pos = nn_table_add(tb, prefix, "position_embedding.weight", 2, s_pos, init.weight, init.std, 0);
    snprintf(nm, sizeof nm, "%sLayerNorm", prefix);
    nn_layernorm_declare(&bb->ln, tb, nm, C, tc.ln_eps);
    snprintf(nm, sizeof nm, "%strm_encoder.", prefix);
    return nn_transformer_declare(&bb->tr, tb, nm, &tc);
}

mgsd_tensor *backbone_forward(const backbone *bb, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x, const ag_seqs *s,
                              const int32_t *pos) {
    if (!x) return NULL;
    int ntok = s->offs[s->B];
    if (bb->kind == BACKBONE_GRU4REC) {
        mgsd_tensor *h = ag_dropout(t, x, bb->emb_drop);
        for (int l = 0; l < bb->gru_layers; l++)
            h = ag_gru(t, h, s, params_get(p, bb->w_ih[l]), params_get(p, bb->w_hh[l]), NULL);
        return nn_linear_forward(&bb->dense, t, p, ag_last_token(t, h, s));
    }
    mgsd_tensor *h = ag_add(t, x, ag_embedding(t, params_get(p, bb->pos), pos, ntok));
    h = ag_dropout(t, nn_layernorm_forward(&bb->ln, t, p, h), bb->hidden_drop);
    return nn_transformer_forward_last(&bb->tr, t, p, h, s, bb->kind == BACKBONE_SASREC);
}
