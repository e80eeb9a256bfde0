/* Differentiable sequence, fused and recurrent ops (ag_seq.c; kernels in src/ops/
 * attention, xent, gumbel, gru, seq). Conventions as in ag.h: NULL tensor inputs give
 * NULL silently, bad arguments record the first error in the tape and give NULL.
 * Packed ragged batches: see ag_seqs in tape.h; every op validates the offsets
 * (offs[0] = 0, non-decreasing, lengths <= max_len, offs[B] = number of rows) and keeps
 * the offs pointer until backward. */
#ifndef MGSD_AUTOGRAD_AG_SEQ_H
#define MGSD_AUTOGRAD_AG_SEQ_H

#include "autograd/tape.h"

/* Multi-head self-attention of packed sequences: qkv[Ntok, 3C] (q | k | v) -> [Ntok, C].
 * NH heads (C % NH == 0), scale 1/sqrt(C/NH); causal: token i sees j <= i of its own
 * sequence, else the whole sequence. attn_drop: dropout on the attention probabilities
 * (RecBole attn_dropout_prob), active only when t->training; masks drawn from t->rng. */
mgsd_tensor *ag_attention(mgsd_tape *t, mgsd_tensor *qkv, const ag_seqs *s, int NH, int causal, float attn_drop);

/* Mean softmax cross-entropy of scores u[B, C] . E[V, C]^T against targets[B] (int32 in
 * [0, V)); scalar [1] output. exclude0: score of item 0 (padding) is -inf (targets must
 * be > 0); 0 = RecBole (CE over all V rows). targets must outlive nothing (read now). */
mgsd_tensor *ag_softmax_xent(mgsd_tape *t, mgsd_tensor *u, mgsd_tensor *E, const int32_t *targets, int exclude0);

/* Straight-through gumbel-softmax over the last dim of x[..., K] (F.gumbel_softmax):
 * y = hard ? one_hot(argmax ysoft) : ysoft, ysoft = softmax((x + g) / tau), gradient of
 * ysoft either way. noise != 0: g = -log(-log U) from t->rng (U clamped to
 * [1e-10, 1-1e-10]); noise = 0: g = 0 (deterministic evaluation). tau > 0. */
mgsd_tensor *ag_gumbel_softmax_st(mgsd_tape *t, mgsd_tensor *x, float tau, int hard, int noise);

/* One-layer GRU (PyTorch equations, gate order r, z, n; h0 = 0) over packed sequences:
 * x[Ntok, C] -> all hidden states [Ntok, H]. w_ih[3H, C], w_hh[3H, H]; b[2, 3H] holds
 * b_ih in row 0 and b_hh in row 1 (PyTorch's bias_ih_l0, bias_hh_l0 back to back), or
 * NULL for no biases. */
mgsd_tensor *ag_gru(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s, mgsd_tensor *w_ih, mgsd_tensor *w_hh,
                    mgsd_tensor *b);

/* out[B, C] = row offs[b+1]-1 of packed x[Ntok, C] (every sequence must be non-empty). */
mgsd_tensor *ag_last_token(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s);
/* Padded x[B, T, C] -> packed [Ntok, C] (positions >= len_b dropped; len_b <= T). */
mgsd_tensor *ag_pack(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s);
/* Packed x[Ntok, C] -> padded [B, T, C] with zero rows at positions >= len_b. */
mgsd_tensor *ag_unpack(mgsd_tape *t, mgsd_tensor *x, const ag_seqs *s, int T);

#endif
