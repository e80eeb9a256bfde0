/* MGSD-WSS: Multi-Granularity Sequence Denoising with Weakly Supervised Signal
 * (arXiv 2510.10564), as specified in shared/docs/mgsd-wss.md; the authors' released code
 * is the reference behaviour and the default, the paper's variants are options.
 *
 * All sequence tensors are packed (no padding): a batch's B histories own rows offs[b]..
 * offs[b+1]-1 of [Ntok, C] tensors. Per training step:
 *   X~ = E[S]; X = dropout(X~)
 *   M  = relu(W2 relu(W1 X + b1))            (mgp=mlp, reference)  | gate(cos(E[y], X)) X (gaussian) | X (none)
 *   G  = TrmSeq(dropout(M + P), causal)
 *   p  = softmax(Wn2 relu(Wn1 dropout(G) + bn1)); h = gumbel_st(p)[:, 0]  (>= 1 kept per row)
 *   c  = softmax(relu(Wi1 dropout(G) + bi1) Q^T); w = mean_i c_i
 *   a  = softmax(Wa [k; t; k - t; k * t]), k = Wk dropout(LN(Q)), t = dropout(E[y]);
 *   f  = gumbel_st(a)[:, 0]  (>= 1 selected per row)
 *   s  = SubModel(G)  (sub_model_input=embeddings: SubModel(X~); denoised: SubModel(h * X~[kept]));
 *   u_item = TrmItem(dropout(p0 * G[kept] + P), causal)[last];
 *   u_int = sum_k w_k f_k Q_k;  u = s + u_item + u_int;  scores = u E[:N]^T
 *   L = CE(scores, y) + gamma L_aux + zeta L_item + eta L_int
 * with L_aux computed on a copy of the batch with t random items inserted (labels known). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/backbone.h"
#include "model/model.h"
#include "model/mgsd.h"
#include "model/seqrec.h"
#include "mgsd/eval.h"
#include "ops/xent.h"

static const mgsd_config_entry mgsd_defaults[] = {
    {"embedding_size", MGSD_CONFIG_INT, "100", "d: item embedding and hidden size of every module"},
    {"sub_model", MGSD_CONFIG_STR, "BERT4Rec", "backbone producing the sequence vector s: SASRec | BERT4Rec | GRU4Rec"},
    {"n_layers", MGSD_CONFIG_INT, "2", "sub-model transformer layers (SASRec/BERT4Rec)"},
    {"n_heads", MGSD_CONFIG_INT, "2", "sub-model attention heads"},
    {"inner_size", MGSD_CONFIG_INT, "100", "sub-model feed-forward width (reference: = embedding_size)"},
    {"hidden_dropout_prob", MGSD_CONFIG_FLOAT, "0.5", "sub-model hidden dropout"},
    {"attn_dropout_prob", MGSD_CONFIG_FLOAT, "0.5", "sub-model attention dropout"},
    {"hidden_act", MGSD_CONFIG_STR, "gelu", "sub-model feed-forward activation: gelu | relu"},
    {"layer_norm_eps", MGSD_CONFIG_FLOAT, "1e-12", "sub-model LayerNorm epsilon"},
    {"num_layers", MGSD_CONFIG_INT, "1", "GRU4Rec sub-model: GRU layers"},
    {"dropout_prob", MGSD_CONFIG_FLOAT, "0.3", "GRU4Rec sub-model: embedding dropout"},
    {"transformer_encoder_layers", MGSD_CONFIG_INT, "2", "layers of MGSD's own sequence and item encoders"},
    {"transformer_encoder_heads", MGSD_CONFIG_INT, "2", "heads of MGSD's own encoders"},
    {"transformer_encoder_dim_feedforward", MGSD_CONFIG_INT, "2048", "feed-forward width of MGSD's own encoders"},
    {"transformer_encoder_layer_norm_eps", MGSD_CONFIG_FLOAT, "1e-12", "LayerNorm epsilon of MGSD's own encoders"},
    {"our_ae_drop_out", MGSD_CONFIG_FLOAT, "0.1", "every dropout of MGSD's own modules"},
    {"hard_noise_num", MGSD_CONFIG_INT, "5", "t: random items inserted into each training sequence (weak supervision)"},
    {"user_interest_num", MGSD_CONFIG_INT, "5", "K: interest prototypes"},
    {"gaussian_kernel_num", MGSD_CONFIG_INT, "10", "kernels of the Gaussian-kernel perceptron (mgp=gaussian)"},
    {"reweight_loss_gamma", MGSD_CONFIG_FLOAT, "10", "gamma: weight of the auxiliary (noise discriminator) loss"},
    {"reweight_loss_zeta", MGSD_CONFIG_FLOAT, "7", "zeta: weight of the item-granularity contrastive loss"},
    {"reweight_loss_eta", MGSD_CONFIG_FLOAT, "1", "eta: weight of the interest-granularity contrastive loss"},
    {"gumbel_temperature", MGSD_CONFIG_FLOAT, "0.5", "initial gumbel-softmax temperature tau_g"},
    {"supervised_contrastive_temperature", MGSD_CONFIG_FLOAT, "0.5", "initial contrastive temperature tau_c"},
    {"is_gumbel_tau_anneal", MGSD_CONFIG_BOOL, "true", "anneal tau_g every 40 batches: max(1e-3, tau exp(-1e-3 g))"},
    {"is_spu_cl_tau_anneal", MGSD_CONFIG_BOOL, "true", "anneal tau_c every 40 batches: max(0.1, tau exp(-1e-3 g))"},
    {"mgp", MGSD_CONFIG_STR, "mlp", "sequence encoder input map: mlp (reference code) | gaussian (paper) | none"},
    {"aux_loss", MGSD_CONFIG_STR, "mse", "auxiliary loss of the discriminator: mse (reference) | bce"},
    {"use_aux", MGSD_CONFIG_BOOL, "true", "ablation: weak-supervision auxiliary loss"},
    {"use_item_denoise", MGSD_CONFIG_BOOL, "true", "ablation: item-granularity denoising (u_item and L_item)"},
    {"use_interest_denoise", MGSD_CONFIG_BOOL, "true", "ablation: interest-granularity denoising (u_int and L_int)"},
    {"weighted_cl", MGSD_CONFIG_BOOL, "true", "weight contrastive terms by clean probabilities / interest weights"},
    {"cl_weight_grad", MGSD_CONFIG_BOOL, "true",
     "contrastive weights (p0, interest weights) carry gradient (reference); false: constants, so only the "
     "auxiliary loss trains the discriminator (the weighted terms otherwise drive every p0 to 1)"},
    {"straight_through", MGSD_CONFIG_BOOL, "true",
     "hard keep / interest flags pass straight-through gumbel gradients (reference); false: flags are constants"},
    {"cl_zero_ratio_grad", MGSD_CONFIG_BOOL, "true",
     "contrastive entries with a zero ratio (negatives) pass the gradient of the reference's -log(r + [r == 0]) "
     "to their flags and weights (reference autograd); false: they pass nothing (exact gradient of the loss)"},
    {"cl_warmup_steps", MGSD_CONFIG_INT, "0",
     "contrastive terms (zeta, eta) weighted 0 for the first N global steps (reference: 0)"},
    {"eval_sampling", MGSD_CONFIG_STR, "deterministic",
     "evaluation selections: deterministic (keep an item iff p_clean > keep_threshold, an interest iff its readout > 0.5) | gumbel (reference: sampled)"},
    {"keep_threshold", MGSD_CONFIG_FLOAT, "0.5",
     "deterministic inference keeps a history item iff its clean probability exceeds this, in (0, 1) (reference 0.5; "
     "lower drops fewer items)"},
    {"gumbel_input", MGSD_CONFIG_STR, "probs", "what the hard selection samples from: probs (reference; its discriminator calls every item clean on Beauty) | logits (a working noise discriminator needs cl_zero_ratio_grad=false or straight_through=false, docs/mgsd.md)"},
    {"sub_model_input", MGSD_CONFIG_STR, "encoded",
     "what the sub-model reads: encoded (G, the shared encoder's output: reference) | embeddings (the raw item "
     "embeddings E[S], as the sub-model trained alone reads them) | denoised (the raw embeddings of the items "
     "the discriminator keeps, compacted as for the item encoder; docs/mgsd.md)"},
    {"clip_grad_norm", MGSD_CONFIG_FLOAT, "5.0", "global gradient-norm clip (reference 5.0)"},
    {"lr_schedule", MGSD_CONFIG_STR, "epoch_linear", "learning-rate schedule (reference: epoch_linear with warm_up_ratio 0, i.e. lr x (T - e) / T at epoch e)"},
    {"weight_init", MGSD_CONFIG_STR, "xavier_normal",
     "initialisation of MGSD's own linear and embedding weights: xavier_normal (reference; the sub-model and its item table keep the sub-model's own init: SASRec normal(initializer_range), BERT4Rec xavier-normal, GRU4Rec RecBole's) | normal (every weight normal(initializer_range) but a GRU4Rec sub-model's GRU and dense layer; its GRU then learns slowly: docs/mgsd.md)"},
    {"initializer_range", MGSD_CONFIG_FLOAT, "0.02", "std of weight_init=normal and of the SASRec sub-model's init"},
};

typedef enum { MGP_MLP, MGP_GAUSSIAN, MGP_NONE } mgp_kind;
typedef enum { SUB_ENCODED, SUB_EMBEDDINGS, SUB_DENOISED } sub_input;

typedef struct mgsd_impl {
    int C, N, L, K, T, n_gauss;
    int item_rows;               /* rows of the item table (N, or N+1 with BERT4Rec's mask row) */
    float drop, gamma, zeta, eta, tau_g0, tau_c0, tau_g, tau_c;
    float keep_thr, keep_logit; /* keep_threshold and ln(thr / (1 - thr)) */
    int detach_flags; /* hard selections carry no straight-through gradient (straight_through=false) */
    int cl_weight_grad;  /* contrastive weights differentiable (reference) */
    int cl_zero_grad;    /* zero-ratio entries pass the reference's autograd gradient */
    int64_t cl_warmup;   /* contrastive terms off for global steps < cl_warmup */
    int64_t step;        /* global step, from on_step */
    double last_terms[4];  /* unweighted L_rec, L_aux, L_item, L_int of the last loss() */
    double last_stats[4];  /* train_stats of the last loss(): kept, inserted / original flagged, AUC */
    sub_input sub_in;    /* what the sub-model reads (sub_model_input) */
    int anneal_g, anneal_c, use_aux, use_item, use_int, weighted, sample_eval, gumbel_logits, aux_bce;
    mgp_kind mgp;
    float mu[32], sigma[32];
    int item_emb, pos_emb, prototypes;
    nn_linear mlp1, mlp2, noise1, noise2, int1, key, attn;
    nn_layernorm readout_ln;
    nn_transformer seq_enc, item_enc;
    backbone sub;
} mgsd_impl;

static float cfg_float(const mgsd_config *c, const char *k, mgsd_status *st) {
    double v = 0;
    if (*st == MGSD_OK) *st = mgsd_config_get_float(c, k, &v);
    return (float)v;
}
static int cfg_int(const mgsd_config *c, const char *k, mgsd_status *st) {
    int v = 0;
    if (*st == MGSD_OK) *st = mgsd_config_get_int(c, k, &v);
    return v;
}
static int cfg_bool(const mgsd_config *c, const char *k, mgsd_status *st) {
    int v = 0;
    if (*st == MGSD_OK) *st = mgsd_config_get_bool(c, k, &v);
    return v;
}
static const char *cfg_str(const mgsd_config *c, const char *k, mgsd_status *st) {
    const char *v = "";
    if (*st == MGSD_OK) *st = mgsd_config_get_str(c, k, &v);
    return v;
}

static mgsd_status mgsd_create(mgsd_model *m, const mgsd_config *cfg, const model_info *info, mgsd_rng *rng) {
    mgsd_status st = MGSD_OK;
    mgsd_impl *im = mgsd_calloc(1, sizeof *im);
    if (!im) return MGSD_ERR_NOMEM;
    m->impl = im;
    for (int k = 0; k < 4; k++) im->last_stats[k] = NAN; /* no step yet */
    im->C = cfg_int(cfg, "embedding_size", &st);
    im->N = info->n_items;
    im->L = info->max_len;
    im->K = cfg_int(cfg, "user_interest_num", &st);
    im->T = cfg_int(cfg, "hard_noise_num", &st);
    im->n_gauss = cfg_int(cfg, "gaussian_kernel_num", &st);
    im->drop = cfg_float(cfg, "our_ae_drop_out", &st);
    im->gamma = cfg_float(cfg, "reweight_loss_gamma", &st);
    im->zeta = cfg_float(cfg, "reweight_loss_zeta", &st);
    im->eta = cfg_float(cfg, "reweight_loss_eta", &st);
    im->tau_g0 = im->tau_g = cfg_float(cfg, "gumbel_temperature", &st);
    im->tau_c0 = im->tau_c = cfg_float(cfg, "supervised_contrastive_temperature", &st);
    im->keep_thr = cfg_float(cfg, "keep_threshold", &st);
    im->anneal_g = cfg_bool(cfg, "is_gumbel_tau_anneal", &st);
    im->anneal_c = cfg_bool(cfg, "is_spu_cl_tau_anneal", &st);
    im->use_aux = cfg_bool(cfg, "use_aux", &st);
    im->use_item = cfg_bool(cfg, "use_item_denoise", &st);
    im->use_int = cfg_bool(cfg, "use_interest_denoise", &st);
    im->weighted = cfg_bool(cfg, "weighted_cl", &st);
    im->cl_weight_grad = cfg_bool(cfg, "cl_weight_grad", &st);
    im->cl_zero_grad = cfg_bool(cfg, "cl_zero_ratio_grad", &st);
    im->detach_flags = !cfg_bool(cfg, "straight_through", &st);
    im->cl_warmup = cfg_int(cfg, "cl_warmup_steps", &st);
    const char *mgp = cfg_str(cfg, "mgp", &st), *aux = cfg_str(cfg, "aux_loss", &st);
    const char *es = cfg_str(cfg, "eval_sampling", &st), *gi = cfg_str(cfg, "gumbel_input", &st);
    const char *subname = cfg_str(cfg, "sub_model", &st);
    const char *subin = cfg_str(cfg, "sub_model_input", &st);
    const char *winit = cfg_str(cfg, "weight_init", &st);
    float init_std = cfg_float(cfg, "initializer_range", &st);
    if (st != MGSD_OK) return st;
    if (im->C <= 0) return mgsd_error(MGSD_ERR_CONFIG, "embedding_size=%d must be > 0", im->C);
    int enc_layers, enc_heads, enc_ff;
    float enc_eps;
    MGSD_TRY(seqrec_get_int(cfg, "MGSD", "transformer_encoder_layers", 1, NN_MAX_LAYERS, &enc_layers));
    MGSD_TRY(seqrec_get_int(cfg, "MGSD", "transformer_encoder_heads", 1, 1 << 16, &enc_heads));
    if (im->C % enc_heads != 0)
        return mgsd_error(MGSD_ERR_CONFIG,
                          "MGSD: config key 'embedding_size' = %d is not a multiple of 'transformer_encoder_heads' = %d",
                          im->C, enc_heads);
    MGSD_TRY(seqrec_get_int(cfg, "MGSD", "transformer_encoder_dim_feedforward", 1, 1 << 20, &enc_ff));
    MGSD_TRY(seqrec_get_float(cfg, "MGSD", "transformer_encoder_layer_norm_eps", 0, 1, 1, &enc_eps));
    if (im->cl_warmup < 0) return mgsd_error(MGSD_ERR_CONFIG, "cl_warmup_steps=%lld must be >= 0", (long long)im->cl_warmup);
    if (im->K < 1) return mgsd_error(MGSD_ERR_CONFIG, "user_interest_num=%d must be >= 1", im->K);
    if (im->T < 0 || im->T > 1000) return mgsd_error(MGSD_ERR_CONFIG, "hard_noise_num=%d outside 0..1000", im->T);
    if (im->drop < 0 || im->drop >= 1) return mgsd_error(MGSD_ERR_CONFIG, "our_ae_drop_out=%g outside [0, 1)", im->drop);
    if (!(im->gamma >= 0 && im->zeta >= 0 && im->eta >= 0) || !isfinite(im->gamma) || !isfinite(im->zeta) ||
        !isfinite(im->eta))
        return mgsd_error(MGSD_ERR_CONFIG,
                          "loss weights must be finite and >= 0 (reweight_loss_gamma=%g, reweight_loss_zeta=%g, "
                          "reweight_loss_eta=%g); 0 turns a term off",
                          im->gamma, im->zeta, im->eta);
    if (!(im->tau_g0 > 0) || !(im->tau_c0 > 0))
        return mgsd_error(MGSD_ERR_CONFIG, "gumbel_temperature and supervised_contrastive_temperature must be > 0");
    if (!strcmp(mgp, "mlp")) im->mgp = MGP_MLP;
    else if (!strcmp(mgp, "gaussian")) im->mgp = MGP_GAUSSIAN;
    else if (!strcmp(mgp, "none")) im->mgp = MGP_NONE;
    else return mgsd_error(MGSD_ERR_CONFIG, "mgp='%s' (expected mlp, gaussian or none)", mgp);
    if (!strcmp(aux, "mse")) im->aux_bce = 0;
    else if (!strcmp(aux, "bce")) im->aux_bce = 1;
    else return mgsd_error(MGSD_ERR_CONFIG, "aux_loss='%s' (expected mse or bce)", aux);
    if (!strcmp(es, "deterministic")) im->sample_eval = 0;
    else if (!strcmp(es, "gumbel")) im->sample_eval = 1;
    else return mgsd_error(MGSD_ERR_CONFIG, "eval_sampling='%s' (expected deterministic or gumbel)", es);
    if (!strcmp(gi, "probs")) im->gumbel_logits = 0;
    else if (!strcmp(gi, "logits")) im->gumbel_logits = 1;
    else return mgsd_error(MGSD_ERR_CONFIG, "gumbel_input='%s' (expected probs or logits)", gi);
    if (!(im->keep_thr > 0.0f && im->keep_thr < 1.0f))
        return mgsd_error(MGSD_ERR_CONFIG, "keep_threshold=%g (expected a probability strictly between 0 and 1)", im->keep_thr);
    im->keep_logit = logf(im->keep_thr / (1.0f - im->keep_thr));
    if (!strcmp(subin, "encoded")) im->sub_in = SUB_ENCODED;
    else if (!strcmp(subin, "embeddings")) im->sub_in = SUB_EMBEDDINGS;
    else if (!strcmp(subin, "denoised")) im->sub_in = SUB_DENOISED;
    else return mgsd_error(MGSD_ERR_CONFIG, "sub_model_input='%s' (expected encoded, embeddings or denoised)", subin);
    if (im->mgp == MGP_GAUSSIAN) {
        int k = im->n_gauss;
        if (k < 2 || k > 32) return mgsd_error(MGSD_ERR_CONFIG, "gaussian_kernel_num=%d outside 2..32", k);
        /* centres 1, 1 - b/2, 1 - 3b/2, ... with b = 2/(k-1); widths 0.001 then 0.1 */
        float bin = 2.0f / (float)(k - 1);
        im->mu[0] = 1.0f;
        im->sigma[0] = 0.001f;
        im->mu[1] = 1.0f - bin / 2;
        for (int j = 2; j < k; j++) im->mu[j] = im->mu[j - 1] - bin;
        for (int j = 1; j < k; j++) im->sigma[j] = 0.1f;
    }
    backbone_kind kind;
    MGSD_TRY(backbone_parse_kind(subname, &kind));
    im->item_rows = kind == BACKBONE_BERT4REC ? im->N + 1 : im->N;

    int C = im->C;
    nn_table *tb = mgsd_malloc(sizeof *tb);
    if (!tb) return MGSD_ERR_NOMEM;
    nn_table_init(tb);
    nn_init xn = {PARAMS_INIT_XAVIER_NORMAL, 0};
    if (!strcmp(winit, "normal")) {
        if (!(init_std > 0)) {
            mgsd_free(tb);
            return mgsd_error(MGSD_ERR_CONFIG, "initializer_range=%g must be > 0", init_std);
        }
        xn.weight = PARAMS_INIT_NORMAL;
        xn.std = init_std;
    } else if (strcmp(winit, "xavier_normal") != 0) {
        mgsd_free(tb);
        return mgsd_error(MGSD_ERR_CONFIG, "weight_init='%s' (expected xavier_normal or normal)", winit);
    }
    /* The reference builds the sub-model after applying its xavier init to its own modules,
     * so the sub-model (and E, which is the sub-model's item table) keeps the sub-model's
     * own initialisation: SASRec normal(initializer_range), BERT4Rec and GRU4Rec xavier-normal
     * (GRU weights: see backbone.c). weight_init=normal makes every weight normal. */
    nn_init sub_init = xn;
    if (kind == BACKBONE_SASREC) {
        if (!(init_std > 0)) {
            mgsd_free(tb);
            return mgsd_error(MGSD_ERR_CONFIG, "initializer_range=%g must be > 0", init_std);
        }
        sub_init.weight = PARAMS_INIT_NORMAL;
        sub_init.std = init_std;
    }
    im->item_emb = nn_table_add_weight(tb, "", "sub_model.item_embedding.weight", im->item_rows, C, sub_init);
    im->pos_emb = nn_table_add_weight(tb, "", "position_embedding.weight", im->L + 1, C, xn);
    int sq[2] = {im->K, C};
    im->prototypes = nn_table_add(tb, "", "user_interests_emb", 2, sq, PARAMS_INIT_NORMAL, 1.0f, 0);
    nn_linear_declare(&im->mlp1, tb, "replace_gaussian_fc1", C, C, 1, xn);
    nn_linear_declare(&im->mlp2, tb, "replace_gaussian_fc2", C, C, 0, xn);
    nn_linear_declare(&im->noise1, tb, "multiattention_2_noise_scores_fc1", C, C, 1, xn);
    nn_linear_declare(&im->noise2, tb, "multiattention_2_noise_scores_fc2", C, 2, 0, xn);
    nn_linear_declare(&im->int1, tb, "multiattention_2_interest_scores_fc1", C, C, 1, xn);
    nn_layernorm_declare(&im->readout_ln, tb, "attention_read_out.layer_norm", C, 1e-5f);
    nn_linear_declare(&im->key, tb, "attention_read_out.fc_key_map", C, C, 0, xn);
    nn_linear_declare(&im->attn, tb, "attention_read_out.fc_attention", 4 * C, 2, 0, xn);
    nn_transformer_cfg tc = {enc_layers, C, enc_heads, enc_ff, im->drop, im->drop, enc_eps, NN_ACT_RELU, xn};
    st = nn_transformer_declare(&im->seq_enc, tb, "raw_gaussian_kernel_transformer_encoder.", &tc);
    if (st == MGSD_OK) st = nn_transformer_declare(&im->item_enc, tb, "item_wise_transformer_encoder.", &tc);
    if (st == MGSD_OK) st = backbone_declare(&im->sub, tb, "sub_model.", kind, cfg, C, im->L, sub_init);
    if (st == MGSD_OK) st = nn_table_build(tb, &m->params, rng);
    mgsd_free(tb);
    return st;
}

/* Reference annealing: before batch g (1-based), if g % 40 == 0, tau <- max(floor, tau
 * exp(-1e-3 g)). As a function of g: tau0 exp(-0.04 n(n+1)/2) floored, n = g / 40. */
static void mgsd_on_step(mgsd_model *m, int64_t global_step, int64_t epoch) {
    mgsd_impl *im = m->impl;
    im->step = global_step;
    double n = (double)((global_step + 1) / 40);
    double f = exp(-1e-3 * 40.0 * n * (n + 1) / 2);
    im->tau_g = im->anneal_g ? (float)fmax(1e-3, im->tau_g0 * f) : im->tau_g0;
    im->tau_c = im->anneal_c ? (float)fmax(0.1, im->tau_c0 * f) : im->tau_c0;
}

/* Per-batch index arrays, all from the tape arena. */
typedef struct seq_index {
    ag_seqs s;
    int32_t *pos;     /* [Ntok] position inside the sequence */
    int32_t *tok2seq; /* [Ntok] sequence of each token */
    int ntok;
} seq_index;

static int index_build(mgsd_tape *t, seq_index *ix, int B, const int32_t *offs, int max_len) {
    ix->ntok = offs[B];
    ix->s.B = B;
    ix->s.offs = offs;
    ix->s.max_len = max_len;
    ix->pos = ag_scratch_i32(t, ix->ntok);
    ix->tok2seq = ag_scratch_i32(t, ix->ntok);
    if (!ix->pos || !ix->tok2seq) return 0;
    for (int b = 0; b < B; b++)
        for (int32_t i = offs[b]; i < offs[b + 1]; i++) {
            ix->pos[i] = i - offs[b];
            ix->tok2seq[i] = b;
        }
    return 1;
}

/* Constant (no-gradient) tensor from the arena. */
static mgsd_tensor *const_tensor(mgsd_tape *t, int d0, int d1) {
    int s[2] = {d0, d1};
    return ag_new(t, 2, s, 0);
}

/* [R, 1] copy of x's values with no gradient path (x has R values). */
static mgsd_tensor *detached_col(mgsd_tape *t, const mgsd_tensor *x, int R) {
    mgsd_tensor *d = const_tensor(t, R, 1);
    if (d) memcpy(d->data, x->data, sizeof(float) * (size_t)R);
    return d;
}

/* Steps 1-2: X~ = E[S], G = TrmSeq(dropout(map(dropout(X~)) + P)). *raw receives X~. */
static mgsd_tensor *encode(mgsd_model *m, mgsd_tape *t, const int32_t *items, const seq_index *ix,
                           const int32_t *target_tok, mgsd_tensor **raw) {
    mgsd_impl *im = m->impl;
    mgsd_params *P = &m->params;
    mgsd_tensor *E = params_get(P, im->item_emb);
    mgsd_tensor *xr = ag_embedding(t, E, items, ix->ntok);
    if (raw) *raw = xr;
    mgsd_tensor *x = ag_dropout(t, xr, im->drop), *mm = x;
    if (im->mgp == MGP_MLP) {
        mm = nn_linear_relu_forward(&im->mlp2, t, P, nn_linear_relu_forward(&im->mlp1, t, P, x));
    } else if (im->mgp == MGP_GAUSSIAN) {
        mgsd_tensor *te = ag_embedding(t, E, target_tok, ix->ntok);
        mgsd_tensor *r = ag_cosine_similarity(t, x, te, 1e-8f);
        mm = ag_scale_rows(t, x, ag_gaussian_gate(t, r, im->mu, im->sigma, im->n_gauss));
    }
    mgsd_tensor *z = ag_dropout(t, ag_add(t, mm, ag_embedding(t, params_get(P, im->pos_emb), ix->pos, ix->ntok)), im->drop);
    return nn_transformer_forward(&im->seq_enc, t, P, z, &ix->s, 1);
}

/* Step 3: clean/noise probabilities p [Ntok, 2] and the discriminator logits. */
static mgsd_tensor *discriminate(mgsd_model *m, mgsd_tape *t, mgsd_tensor *G, mgsd_tensor **logits) {
    mgsd_impl *im = m->impl;
    mgsd_tensor *h = nn_linear_relu_forward(&im->noise1, t, &m->params, ag_dropout(t, G, im->drop));
    mgsd_tensor *lg = nn_linear_forward(&im->noise2, t, &m->params, h);
    if (logits) *logits = lg;
    return ag_softmax(t, lg);
}

/* Hard 0/1 selections from a [R, 2] distribution: straight-through gumbel in training (or
 * with sampled evaluation), else the deterministic rule p0 > thr. Rows are grouped in
 * segments; a segment with nothing selected gets `fallback(segment)` forced to 1 (with no
 * gradient), as the reference does. Returns [R, 1]. */
static mgsd_tensor *hard_select(mgsd_model *m, mgsd_tape *t, mgsd_tensor *probs, mgsd_tensor *logits,
                                float thr, const int32_t *offs, int nseg, int last_fallback) {
    mgsd_impl *im = m->impl;
    if (!probs) return NULL;
    int R = (int)ag_rows(probs);
    mgsd_tensor *h;
    if (t->training || im->sample_eval) {
        mgsd_tensor *src = im->gumbel_logits ? logits : probs;
        h = ag_slice_cols(t, ag_gumbel_softmax_st(t, src, im->tau_g, 1, 1), 0, 1);
        if (h && im->detach_flags) h = detached_col(t, h, R);
    } else {
        h = const_tensor(t, R, 1);
        if (!h) return NULL;
        for (int r = 0; r < R; r++) h->data[r] = probs->data[2 * r] > thr ? 1.0f : 0.0f;
    }
    if (!h) return NULL;
    int forced = -1;
    for (int b = 0; b < nseg; b++) {
        float any = 0;
        for (int32_t i = offs[b]; i < offs[b + 1]; i++) any += h->data[i];
        if (any == 0 && offs[b + 1] > offs[b]) {
            forced = b;
            break;
        }
    }
    if (forced < 0) return h;
    mgsd_tensor *keep = const_tensor(t, R, 1), *add = const_tensor(t, R, 1);
    if (!keep || !add) return NULL;
    for (int r = 0; r < R; r++) {
        keep->data[r] = 1.0f;
        add->data[r] = 0.0f;
    }
    for (int b = 0; b < nseg; b++) {
        float any = 0;
        for (int32_t i = offs[b]; i < offs[b + 1]; i++) any += h->data[i];
        if (any == 0 && offs[b + 1] > offs[b]) {
            int32_t at = last_fallback ? offs[b + 1] - 1 : offs[b];
            keep->data[at] = 0.0f;
            add->data[at] = 1.0f;
        }
    }
    return ag_add(t, ag_mul(t, h, keep), add);
}

typedef struct fwd_out {
    mgsd_tensor *u;          /* [B, C] user vectors */
    mgsd_tensor *xraw;       /* [Ntok, C] E[S] */
    mgsd_tensor *p0;         /* [Ntok, 1] clean probabilities */
    mgsd_tensor *logits;     /* [Ntok, 2] discriminator logits (clean, noise) */
    mgsd_tensor *h;          /* [Ntok, 1] keep flags */
    mgsd_tensor *w;          /* [B, K] interest weights */
    mgsd_tensor *a;          /* [B*K, 2] interest readout probabilities */
    mgsd_tensor *f;          /* [B*K, 1] interest flags */
    int32_t *idxK, *idxB;    /* [B*K] prototype / sequence of each (b, k) pair */
    int32_t *koffs;          /* [B+1] offsets of the K-segments */
} fwd_out;

static mgsd_status forward(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, fwd_out *o) {
    mgsd_impl *im = m->impl;
    mgsd_params *P = &m->params;
    int B = b->B, C = im->C, K = im->K;
    memset(o, 0, sizeof *o);
    for (int r = 0; r < B; r++)
        if (b->offs[r + 1] <= b->offs[r])
            return mgsd_error(MGSD_ERR_INVALID_ARG, "MGSD: row %d of the batch has an empty history", r);
    seq_index ix;
    if (!index_build(t, &ix, B, b->offs, b->L)) return ag_status(t);
    /* target per row (training: next item; inference: last history item) and per token */
    int32_t *tgt = ag_scratch_i32(t, B), *tgt_tok = ag_scratch_i32(t, ix.ntok);
    if (!tgt || !tgt_tok) return ag_status(t);
    for (int r = 0; r < B; r++) tgt[r] = t->training ? b->targets[r] : b->items[b->offs[r + 1] - 1];
    for (int i = 0; i < ix.ntok; i++) tgt_tok[i] = tgt[ix.tok2seq[i]];
    mgsd_tensor *E = params_get(P, im->item_emb), *Q = params_get(P, im->prototypes);

    mgsd_tensor *G = encode(m, t, b->items, &ix, tgt_tok, &o->xraw);
    mgsd_tensor *logits, *pr = discriminate(m, t, G, &logits);
    o->p0 = ag_slice_cols(t, pr, 0, 1);
    o->logits = logits;
    o->h = hard_select(m, t, pr, logits, im->keep_thr, b->offs, B, 1);
    if (!o->h) return ag_status(t);

    /* the kept tokens (h = 1), compacted to the left of each history */
    int32_t *kidx = NULL, *koff = NULL, *kpos = NULL;
    int nk = 0;
    int need_kept = im->use_item || im->sub_in == SUB_DENOISED;
    if (need_kept) {
        kidx = ag_scratch_i32(t, ix.ntok);
        koff = ag_scratch_i32(t, B + 1);
        kpos = ag_scratch_i32(t, ix.ntok);
        if (!kidx || !koff || !kpos) return ag_status(t);
        koff[0] = 0;
        for (int r = 0; r < B; r++) {
            for (int32_t i = b->offs[r]; i < b->offs[r + 1]; i++)
                if (o->h->data[i] > 0.5f) {
                    kpos[nk] = nk - koff[r];
                    kidx[nk++] = i;
                }
            koff[r + 1] = nk;
        }
    }
    ag_seqs ks = {B, koff, b->L};

    /* sub-model sequence vector: on G (reference), on E[S] as the sub-model alone, or on the
     * kept items' E rows times their flags (1; straight-through gradient to the discriminator) */
    mgsd_tensor *u;
    if (im->sub_in == SUB_DENOISED) {
        mgsd_tensor *xk = ag_scale_rows(t, ag_gather_rows(t, o->xraw, kidx, nk), ag_gather_rows(t, o->h, kidx, nk));
        u = backbone_forward(&im->sub, t, P, xk, &ks, kpos);
    } else {
        u = backbone_forward(&im->sub, t, P, im->sub_in == SUB_EMBEDDINGS ? o->xraw : G, &ix.s, ix.pos);
    }

    /* item granularity: kept tokens weighted by p0, own causal encoder */
    if (im->use_item) {
        mgsd_tensor *gk = ag_scale_rows(t, ag_gather_rows(t, G, kidx, nk), ag_gather_rows(t, o->p0, kidx, nk));
        gk = ag_add(t, gk, ag_embedding(t, params_get(P, im->pos_emb), kpos, nk));
        u = ag_add(t, u, nn_transformer_forward_last(&im->item_enc, t, P, ag_dropout(t, gk, im->drop), &ks, 1));
    }

    /* interest granularity */
    if (im->use_int) {
        mgsd_tensor *c = nn_linear_relu_forward(&im->int1, t, P, ag_dropout(t, G, im->drop));
        c = ag_softmax(t, ag_matmul(t, c, Q, 0, 1));        /* [Ntok, K] */
        o->w = ag_masked_mean(t, c, &ix.s);                  /* [B, K] */
        o->idxK = ag_scratch_i32(t, (int64_t)B * K);
        o->idxB = ag_scratch_i32(t, (int64_t)B * K);
        o->koffs = ag_scratch_i32(t, B + 1);
        if (!o->idxK || !o->idxB || !o->koffs) return ag_status(t);
        for (int r = 0; r < B; r++) {
            o->koffs[r] = r * K;
            for (int k = 0; k < K; k++) {
                o->idxK[r * K + k] = k;
                o->idxB[r * K + k] = r;
            }
        }
        o->koffs[B] = B * K;
        mgsd_tensor *key = ag_gather_rows(t, nn_layernorm_forward(&im->readout_ln, t, P, Q), o->idxK, B * K);
        key = nn_linear_forward(&im->key, t, P, ag_dropout(t, key, im->drop));
        mgsd_tensor *tv = ag_gather_rows(t, ag_dropout(t, ag_embedding(t, E, tgt, B), im->drop), o->idxB, B * K);
        mgsd_tensor *parts[4] = {key, tv, ag_sub(t, key, tv), ag_mul(t, key, tv)};
        mgsd_tensor *alog = nn_linear_forward(&im->attn, t, P, ag_concat(t, parts, 4));
        mgsd_tensor *a = ag_softmax(t, alog);
        o->a = a;
        o->f = hard_select(m, t, a, alog, 0.5f, o->koffs, B, 0); /* [B*K, 1], fallback: prototype 0 */
        int sw[2] = {B, K};
        mgsd_tensor *wf = ag_mul(t, o->w, ag_reshape(t, o->f, 2, sw));
        u = ag_add(t, u, ag_matmul(t, wf, Q, 0, 0));
    }
    o->u = u;
    (void)C;
    return ag_status(t);
}

mgsd_status mgsd_augment(mgsd_rng *rng, const int32_t *items, const int32_t *offs, int B, int L, int T, int N,
                         int32_t *out_items, int32_t *out_offs, float *labels, int32_t *scratch) {
    if (L <= 0 || T < 0 || N < 2) return mgsd_error(MGSD_ERR_INVALID_ARG, "mgsd_augment: L=%d T=%d N=%d", L, T, N);
    int32_t *slot = scratch;
    uint8_t *isn = (uint8_t *)(scratch + L + T);
    int64_t w = 0;
    out_offs[0] = 0;
    for (int r = 0; r < B; r++) {
        const int32_t *src = items + offs[r];
        int n = offs[r + 1] - offs[r], tot = n + T;
        if (n > L) return mgsd_error(MGSD_ERR_INVALID_ARG, "mgsd_augment: row %d has %d items > L=%d", r, n, L);
        /* uniform T-subset of positions 0..tot-1 (partial Fisher-Yates), like randperm[:T] */
        for (int j = 0; j < tot; j++) {
            slot[j] = j;
            isn[j] = 0;
        }
        for (int j = 0; j < T; j++) {
            int k = j + (int)mgsd_rng_below(rng, (uint64_t)(tot - j));
            int32_t tmp = slot[j];
            slot[j] = slot[k];
            slot[k] = tmp;
            isn[slot[j]] = 1;
        }
        int start = tot > L ? tot - L : 0, si = 0;
        for (int j = 0; j < tot; j++) {
            int32_t it;
            float label;
            if (isn[j]) {
                it = 1 + (int32_t)mgsd_rng_below(rng, (uint64_t)(N - 1));
                label = 0.0f;
            } else {
                it = src[si++];
                label = 1.0f;
            }
            if (j >= start) {
                out_items[w] = it;
                labels[w++] = label;
            }
        }
        out_offs[r + 1] = (int32_t)w;
    }
    return MGSD_OK;
}

/* How well the discriminator separates the inserted items of the augmented copy from the
 * originals (train_stats): an item counts as flagged when inference would drop it (logit
 * margin <= that of keep_threshold); the AUC ranks the margins. */
void mgsd_weak_label_stats(const float *logits, const float *lab, int64_t n, float keep_logit, float *score,
                           uint8_t *noisy, void *ws, double out[3]) {
    for (int64_t i = 0; i < n; i++) {
        score[i] = logits[2 * i] - logits[2 * i + 1] - keep_logit;
        noisy[i] = lab[i] < 0.5f;
    }
    mgsd_noise_report r;
    if (mgsd_eval_noise_ws(score, noisy, n, 0.0, ws, &r) != MGSD_OK) { /* a NaN margin: the loss is NaN too */
        out[0] = out[1] = out[2] = NAN;
        return;
    }
    out[0] = r.n_noise ? (double)r.true_positives / (double)r.n_noise : NAN;
    out[1] = r.n > r.n_noise ? (double)(r.n_flagged - r.true_positives) / (double)(r.n - r.n_noise) : NAN;
    out[2] = r.auc;
}

/* The same with scratch from the tape, so the training step allocates nothing. 0 with the
 * status set when scratch runs out. */
static int aux_stats(mgsd_impl *im, mgsd_tape *t, const float *logits, const float *lab, int64_t n) {
    float *score = ag_scratch(t, n);
    uint8_t *noisy = (uint8_t *)ag_scratch_i32(t, (n + 3) / 4);
    void *ws = ag_scratch(t, (int64_t)((mgsd_eval_noise_workspace_size(n) + sizeof(float) - 1) / sizeof(float)));
    if (!score || !noisy || !ws) return 0;
    mgsd_weak_label_stats(logits, lab, n, im->keep_logit, score, noisy, ws, im->last_stats + 1);
    return 1;
}

/* L_aux: run steps 1-3 on the augmented copy and score the clean probabilities against
 * the known labels: sum_i (p0_i - z_i)^2 / len per sequence (or BCE), batch mean. */
static mgsd_tensor *aux_loss(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, const int32_t *tgt) {
    mgsd_impl *im = m->impl;
    int B = b->B, L = b->L, T = im->T;
    int64_t cap = 0;
    for (int r = 0; r < B; r++) {
        int n = b->offs[r + 1] - b->offs[r] + T;
        cap += n < L ? n : L;
    }
    int32_t *items = ag_scratch_i32(t, cap), *offs = ag_scratch_i32(t, B + 1);
    int32_t *scratch = ag_scratch_i32(t, 2 * (L + T) + 1), *ttok = ag_scratch_i32(t, cap);
    mgsd_tensor *lab = const_tensor(t, (int)cap, 1);
    if (!items || !offs || !scratch || !ttok || !lab) return NULL;
    mgsd_status st = mgsd_augment(&t->rng, b->items, b->offs, B, L, T, im->N, items, offs, lab->data, scratch);
    if (st != MGSD_OK) return ag_fail(t, st, "%s", mgsd_last_error());
    for (int r = 0; r < B; r++)
        for (int32_t i = offs[r]; i < offs[r + 1]; i++) ttok[i] = tgt[r];
    seq_index ix;
    if (!index_build(t, &ix, B, offs, L)) return NULL;
    mgsd_tensor *G = encode(m, t, items, &ix, ttok, NULL);
    mgsd_tensor *lg = NULL, *p0 = ag_slice_cols(t, discriminate(m, t, G, &lg), 0, 1);
    if (!p0 || !lg || !aux_stats(im, t, lg->data, lab->data, cap)) return NULL;
    mgsd_tensor *per;
    if (!im->aux_bce) {
        per = ag_squared_error(t, p0, lab);
    } else {
        mgsd_tensor *nl = const_tensor(t, (int)cap, 1);
        if (!nl) return NULL;
        for (int64_t i = 0; i < cap; i++) nl->data[i] = 1.0f - lab->data[i];
        mgsd_tensor *lp = ag_mul(t, ag_log(t, p0), lab);
        mgsd_tensor *lq = ag_mul(t, ag_log(t, ag_scale(t, p0, -1.0f, 1.0f)), nl);
        per = ag_scale(t, ag_add(t, lp, lq), -1.0f, 0.0f);
    }
    return ag_mean(t, ag_masked_mean(t, per, &ix.s));
}

static mgsd_tensor *item_table_view(mgsd_model *m, mgsd_tape *t) {
    mgsd_impl *im = m->impl;
    mgsd_tensor *E = params_get(&m->params, im->item_emb);
    if (im->item_rows == im->N) return E;
    return ag_view_rows(t, E, 0, im->N);
}

mgsd_status mgsd_loss_terms(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, mgsd_tensor *terms[4]) {
    mgsd_impl *im = m->impl;
    fwd_out o;
    terms[0] = terms[1] = terms[2] = terms[3] = NULL;
    MGSD_TRY(forward(m, t, b, &o));
    int B = b->B;
    double kept = 0;
    for (int32_t i = 0; i < b->offs[B]; i++) kept += o.h->data[i] > 0.5f;
    im->last_stats[0] = kept / (double)b->offs[B];
    terms[0] = ag_softmax_xent(t, o.u, item_table_view(m, t), b->targets, 0);
    float inv_tau = 1.0f / im->tau_c;
    if (im->use_item && o.h) {
        ag_seqs s = {B, b->offs, b->L};
        int32_t *tok2seq = ag_scratch_i32(t, b->offs[B]);
        if (!tok2seq) return ag_status(t);
        for (int r = 0; r < B; r++)
            for (int32_t i = b->offs[r]; i < b->offs[r + 1]; i++) tok2seq[i] = r;
        mgsd_tensor *z = ag_scale(t, ag_cosine_similarity(t, o.xraw, ag_gather_rows(t, o.u, tok2seq, b->offs[B]), 1e-8f),
                                  inv_tau, 0.0f);
        mgsd_tensor *a = o.p0;
        if (!im->cl_weight_grad && a && !(a = detached_col(t, o.p0, b->offs[B]))) return ag_status(t);
        mgsd_tensor *q = ag_scale(t, a, -1.0f, 1.0f);
        if (!im->weighted) {
            a = q = const_tensor(t, b->offs[B], 1);
            if (!a) return ag_status(t);
            for (int i = 0; i < b->offs[B]; i++) a->data[i] = 1.0f;
        }
        terms[2] = ag_mean(t, ag_sup_contrastive(t, z, o.h, a, q, &s, im->cl_zero_grad));
    }
    if (im->use_int && o.f) {
        int BK = B * im->K;
        ag_seqs s = {B, o.koffs, im->K};
        mgsd_tensor *Qx = ag_gather_rows(t, params_get(&m->params, im->prototypes), o.idxK, BK);
        mgsd_tensor *z = ag_scale(t, ag_cosine_similarity(t, Qx, ag_gather_rows(t, o.u, o.idxB, BK), 1e-8f), inv_tau, 0.0f);
        int sw[1] = {BK};
        mgsd_tensor *wv = ag_reshape(t, o.w, 1, sw);
        if (!im->cl_weight_grad && wv && !(wv = detached_col(t, wv, BK))) return ag_status(t);
        if (!im->weighted) {
            wv = const_tensor(t, BK, 1);
            if (!wv) return ag_status(t);
            for (int i = 0; i < BK; i++) wv->data[i] = 1.0f;
        }
        terms[3] = ag_mean(t, ag_sup_contrastive(t, z, o.f, wv, wv, &s, im->cl_zero_grad));
    }
    if (im->use_aux && im->T > 0) terms[1] = aux_loss(m, t, b, b->targets);
    return ag_status(t);
}

void mgsd_set_detach_flags(mgsd_model *m, int detach) { ((mgsd_impl *)m->impl)->detach_flags = detach; }
void mgsd_get_temperatures(const mgsd_model *m, float *tau_g, float *tau_c) {
    const mgsd_impl *im = m->impl;
    *tau_g = im->tau_g;
    *tau_c = im->tau_c;
}

static mgsd_tensor *mgsd_loss(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b) {
    mgsd_impl *im = m->impl;
    mgsd_tensor *terms[4];
    if (mgsd_loss_terms(m, t, b, terms) != MGSD_OK) return NULL;
    const float cl_on = im->step < im->cl_warmup ? 0.0f : 1.0f;
    const float wts[4] = {1.0f, im->gamma, im->zeta * cl_on, im->eta * cl_on};
    mgsd_tensor *loss = terms[0];
    for (int k = 0; k < 4; k++) im->last_terms[k] = terms[k] ? terms[k]->data[0] : 0.0;
    for (int k = 1; k < 4; k++)
        if (terms[k]) loss = ag_add(t, loss, ag_scale(t, terms[k], wts[k], 0.0f));
    return loss;
}

/* The configured terms (the ablation switches remove theirs), unweighted. */
static int mgsd_loss_parts(const mgsd_model *m, const char **names, double *values) {
    const mgsd_impl *im = m->impl;
    static const char *const all[4] = {"rec", "aux", "item_cl", "interest_cl"};
    const int on[4] = {1, im->use_aux && im->T > 0, im->use_item, im->use_int};
    int n = 0;
    for (int k = 0; k < 4; k++)
        if (on[k]) {
            names[n] = all[k];
            values[n++] = im->last_terms[k];
        }
    return n;
}

/* Beside the loss: the share of history items the training step's hard selection kept,
 * and (with the auxiliary loss) how the discriminator does on the inserted items. */
static int mgsd_train_stats(const mgsd_model *m, const char **names, double *values) {
    const mgsd_impl *im = m->impl;
    static const char *const all[4] = {"kept", "inserted_flagged", "original_flagged", "inserted_auc"};
    int n = im->use_aux && im->T > 0 ? 4 : 1;
    for (int k = 0; k < n; k++) {
        names[k] = all[k];
        values[k] = im->last_stats[k];
    }
    return n;
}

static mgsd_status mgsd_scores(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *scores) {
    mgsd_impl *im = m->impl;
    fwd_out o;
    MGSD_TRY(forward(m, t, b, &o));
    mgsd_tensor *E = params_get(&m->params, im->item_emb);
    ops_scores(scores, o.u->data, E->data, b->B, im->C, im->N);
    return MGSD_OK;
}

int mgsd_interest_count(const mgsd_model *m) { return ((const mgsd_impl *)m->impl)->K; }

mgsd_status mgsd_explain(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, mgsd_explanation *out) {
    mgsd_impl *im = m->impl;
    MGSD_CHECK_ARG(out != NULL && b != NULL);
    int tr = t->training, ge = t->grad_enabled;
    ag_tape_reset(t);
    t->training = 0;
    t->grad_enabled = 0;
    fwd_out o;
    mgsd_status st = forward(m, t, b, &o);
    t->training = tr;
    t->grad_enabled = ge;
    MGSD_TRY(st);
    int ntok = b->offs[b->B], BK = b->B * im->K;
    out->K = im->K;
    for (int i = 0; i < ntok; i++) {
        if (out->clean) out->clean[i] = o.p0->data[i];
        if (out->keep) out->keep[i] = o.h->data[i];
        if (out->margin) out->margin[i] = o.logits->data[2 * i] - o.logits->data[2 * i + 1] - im->keep_logit;
    }
    for (int i = 0; i < BK; i++) {
        if (out->weight) out->weight[i] = o.w ? o.w->data[i] : 0.0f;
        if (out->readout) out->readout[i] = o.a ? o.a->data[2 * i] : 0.0f;
        if (out->select) out->select[i] = o.f ? o.f->data[i] : 0.0f;
    }
    return MGSD_OK;
}

mgsd_status mgsd_clean_scores(mgsd_model *m, mgsd_tape *t, const mgsd_dataset *ds, float *out) {
    mgsd_impl *im = m->impl;
    MGSD_CHECK_ARG(ds != NULL && out != NULL);
    if (mgsd_dataset_num_items(ds) != im->N)
        return mgsd_error(MGSD_ERR_SHAPE, "dataset has %d items, the model %d", mgsd_dataset_num_items(ds), im->N);
    const int64_t *uo = mgsd_dataset_user_offsets(ds);
    const int32_t *items = mgsd_dataset_item_array(ds);
    int32_t U = mgsd_dataset_num_users(ds);
    const int cap = MODEL_SCORE_CHUNK;
    mgsd_batch b;
    MGSD_TRY(mgsd_batch_init(&b, cap, im->L));
    float *clean = mgsd_malloc(sizeof(float) * (size_t)cap * im->L);
    int64_t *dst = mgsd_malloc(sizeof(int64_t) * (size_t)cap);
    mgsd_status st = clean && dst ? MGSD_OK : MGSD_ERR_NOMEM;
    int32_t u = 1;
    int64_t pos = uo[1];
    while (st == MGSD_OK && u <= U) {
        mgsd_batch_reset(&b);
        while (b.B < cap && u <= U) {
            if (pos >= uo[u + 1]) {
                u++;
                if (u <= U) pos = uo[u];
                continue;
            }
            int64_t n = uo[u + 1] - pos;
            if (n > im->L) n = im->L;
            dst[b.B] = pos;
            if ((st = mgsd_batch_append(&b, u, 0, items + pos, (int32_t)n)) != MGSD_OK) break;
            pos += n;
        }
        if (st != MGSD_OK || b.B == 0) break;
        mgsd_explanation ex = {.margin = clean};
        if ((st = mgsd_explain(m, t, &b, &ex)) != MGSD_OK) break;
        for (int r = 0; r < b.B; r++)
            for (int32_t i = b.offs[r]; i < b.offs[r + 1]; i++) out[dst[r] + (i - b.offs[r])] = clean[i];
    }
    mgsd_free(clean);
    mgsd_free(dst);
    mgsd_batch_free(&b);
    return st;
}

mgsd_status mgsd_batch_clean_scores(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *out) {
    MGSD_CHECK_ARG(m != NULL && b != NULL && out != NULL);
    for (int r0 = 0; r0 < b->B; r0 += MODEL_SCORE_CHUNK) {
        int nb = b->B - r0 < MODEL_SCORE_CHUNK ? b->B - r0 : MODEL_SCORE_CHUNK;
        int32_t offs[MODEL_SCORE_CHUNK + 1]; /* not on the tape: mgsd_explain resets it */
        mgsd_batch sub;
        mgsd_batch_view(b, r0, nb, offs, &sub);
        mgsd_explanation ex = {.margin = out + b->offs[r0]};
        MGSD_TRY(mgsd_explain(m, t, &sub, &ex));
    }
    return MGSD_OK;
}

const model_vtable model_mgsd = {
    "MGSD",
    "MGSD-WSS: multi-granularity sequence denoising with weakly supervised signal (arXiv 2510.10564)",
    mgsd_defaults,
    sizeof mgsd_defaults / sizeof mgsd_defaults[0],
    mgsd_create,
    mgsd_loss,
    mgsd_scores,
    mgsd_on_step,
    NULL, /* destroy: impl is one allocation */
    mgsd_loss_parts,
    mgsd_train_stats,
};
