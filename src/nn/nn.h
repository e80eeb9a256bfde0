/* Layers composed from ops: a parameter-table builder, linear, layer norm, RecBole's
 * TransformerEncoder (post-LN, fused QKV projection) on packed ragged sequences.
 *
 * Layers do not own memory: they declare their parameters into an nn_table (names with a
 * prefix, shapes, init), the model builds one mgsd_params from the table, and the layer
 * keeps the parameter indices and fetches the tensors from the params at forward time. */
#ifndef MGSD_NN_NN_H
#define MGSD_NN_NN_H

#include "autograd/ag.h"
#include "train/params.h"

#define NN_TABLE_MAX 512

typedef struct nn_table {
    params_spec specs[NN_TABLE_MAX];
    char names[NN_TABLE_MAX][96];
    int n;
    mgsd_status status; /* sticky: first error while declaring */
} nn_table;

/* How a layer initialises its weights: RecBole models use normal(0, initializer_range),
 * MGSD's own modules xavier-normal. Biases are zero, LayerNorm weight 1 / bias 0. */
typedef struct nn_init {
    params_init_kind weight;
    float std; /* for PARAMS_INIT_NORMAL */
} nn_init;

void nn_table_init(nn_table *tb);
/* Declare one parameter "<prefix><name>"; returns its index (or -1 with tb->status set). */
int nn_table_add(nn_table *tb, const char *prefix, const char *name, int ndim, const int *shape,
                 params_init_kind init, float a, float b);
int nn_table_add_weight(nn_table *tb, const char *prefix, const char *name, int d0, int d1, nn_init init);
/* Build the parameter set from the table (values drawn from rng in table order). */
mgsd_status nn_table_build(nn_table *tb, mgsd_params *p, mgsd_rng *rng);

typedef struct nn_linear {
    int w, b; /* parameter indices (b = -1: no bias) */
    int in, out;
} nn_linear;
void nn_linear_declare(nn_linear *l, nn_table *tb, const char *prefix, int in, int out, int bias, nn_init init);
/* The same for a weight that stacks `blocks` layers of out / blocks rows each (attention's
 * query, key and value as one [3C, C]): each block is initialised with its own fans. */
void nn_linear_declare_stacked(nn_linear *l, nn_table *tb, const char *prefix, int in, int out, int blocks, int bias,
                               nn_init init);
mgsd_tensor *nn_linear_forward(const nn_linear *l, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x);
/* relu(linear(x)) fused (ag_linear_relu). */
mgsd_tensor *nn_linear_relu_forward(const nn_linear *l, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x);

typedef struct nn_layernorm {
    int w, b;
    float eps;
} nn_layernorm;
void nn_layernorm_declare(nn_layernorm *l, nn_table *tb, const char *prefix, int C, float eps);
mgsd_tensor *nn_layernorm_forward(const nn_layernorm *l, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x);

typedef enum nn_act { NN_ACT_GELU, NN_ACT_RELU } nn_act;
mgsd_status nn_act_parse(const char *s, nn_act *out);

typedef struct nn_transformer_cfg {
    int n_layers, C, NH, inner;
    float hidden_drop, attn_drop, ln_eps;
    nn_act act;
    nn_init init;
} nn_transformer_cfg;

#define NN_MAX_LAYERS 8
typedef struct nn_transformer_layer {
    nn_linear qkv, out, ff1, ff2;
    nn_layernorm ln_attn, ln_ff;
} nn_transformer_layer;

typedef struct nn_transformer {
    nn_transformer_cfg cfg;
    nn_transformer_layer layers[NN_MAX_LAYERS];
} nn_transformer;

/* RecBole TransformerEncoder: per layer
 *   a = LN(x + dropout(Wo . MHA(Wqkv . x)));  y = LN(a + dropout(W2 . act(W1 . a)))
 * Input and output are packed [Ntok, C] rows of the sequences in s. */
mgsd_status nn_transformer_declare(nn_transformer *tr, nn_table *tb, const char *prefix, const nn_transformer_cfg *cfg);
mgsd_tensor *nn_transformer_forward(const nn_transformer *tr, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x,
                                    const ag_seqs *s, int causal);
/* last_token(nn_transformer_forward(...)) -> [B, C], the output at each sequence's last token
 * (sequences must be non-empty), computed without the rows nobody reads: the last layer's
 * output projection, LayerNorms and feed-forward run on B rows instead of Ntok. Same values;
 * dropout draws fewer numbers, so training runs follow a different random stream. */
mgsd_tensor *nn_transformer_forward_last(const nn_transformer *tr, mgsd_tape *t, mgsd_params *p, mgsd_tensor *x,
                                         const ag_seqs *s, int causal);
/* Forward flops per token of one encoder (multiply-adds x 2), excluding attention's
 * length-dependent part, for throughput reports. */
double nn_transformer_flops_per_token(const nn_transformer_cfg *cfg);

#endif
