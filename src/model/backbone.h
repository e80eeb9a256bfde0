/* Sequence backbones: the part of SASRec, BERT4Rec and GRU4Rec that turns a sequence of
 * input embeddings into one vector per sequence. MGSD-WSS runs its sub-model this way on
 * its encoded sequence G (spec section 2.5); the authors' sub-models take the
 * embeddings as an argument in the same place.
 *
 *   SASRec:   LN(x + P[pos]) -> dropout -> causal TransformerEncoder -> last position
 *   BERT4Rec: LN(x + P[pos]) -> dropout -> bidirectional TransformerEncoder -> last position
 *   GRU4Rec:  dropout(x) -> GRU (num_layers) -> dense (hidden -> C) -> last position
 *
 * Inputs are packed [Ntok, C] rows of the sequences s with pos[Ntok] the position of each
 * token inside its sequence (0 = oldest). */
#ifndef MGSD_MODEL_BACKBONE_H
#define MGSD_MODEL_BACKBONE_H

#include "mgsd/config.h"
#include "nn/nn.h"

typedef enum backbone_kind { BACKBONE_SASREC, BACKBONE_BERT4REC, BACKBONE_GRU4REC } backbone_kind;

#define BACKBONE_MAX_GRU_LAYERS 8

typedef struct backbone {
    backbone_kind kind;
    int C, max_len;
    /* transformer backbones */
    int pos;               /* position table [max_len, C] */
    nn_layernorm ln;
    nn_transformer tr;
    float hidden_drop;
    /* GRU backbone */
    int gru_hidden, gru_layers;
    int w_ih[BACKBONE_MAX_GRU_LAYERS], w_hh[BACKBONE_MAX_GRU_LAYERS]; /* no biases, as nn.GRU(bias=False) */
    nn_linear dense;
    float emb_drop;
} backbone;

/* "SASRec" | "BERT4Rec" | "GRU4Rec" (case-insensitive). */
mgsd_status backbone_parse_kind(const char *name, backbone_kind *out);
const char *backbone_kind_name(backbone_kind k);

/* Read the sub-model's keys from cfg (RecBole names: n_layers, n_heads, inner_size,
 * hidden_dropout_prob, attn_dropout_prob, hidden_act, layer_norm_eps; GRU4Rec:
 * hidden_size, num_layers, dropout_prob) and declare its parameters under prefix.
 * Transformer weights and the position table are initialised with `init` (the authors'
 * sub-models initialise themselves: BERT4Rec xavier-normal, SASRec normal(initializer_range));
 * GRU4Rec always uses its own reference initialisation (see backbone.c). */
mgsd_status backbone_declare(backbone *bb, nn_table *tb, const char *prefix, backbone_kind kind,
                             const mgsd_config *cfg, int C, int max_len, nn_init init);

/* The GRU backbone with its sizes given (GRU4Rec's own model reads them under its names:
 * embedding_size C, hidden_size H): declares the layers' weights and the dense projection
 * H -> C with the reference initialisation; errors land in tb->status. Callers check
 * 1 <= layers <= BACKBONE_MAX_GRU_LAYERS, H > 0, 0 <= drop < 1. */
void backbone_declare_gru(backbone *bb, nn_table *tb, const char *prefix, int C, int H, int layers, float drop);

/* [B, C]: the backbone's representation at the last position of every sequence. */
mgsd_tensor *backbone_forward(const backbone *bb, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x, const ag_seqs *s,
                              const int32_t *pos);

#endif
