/* Fused multi-head self-attention on packed ragged sequences (RecBole's
 * MultiHeadAttention core: softmax(Q K^T / sqrt(D) + mask) -> dropout -> . V).
 * Shapes (row-major, Ntok = offs[B] packed tokens, D = C / NH head size):
 *   qkv[Ntok, 3C]   q | k | v column blocks; head h uses columns h*D..h*D+D-1 of a block
 *   offs[B+1]       sequence b owns tokens offs[b]..offs[b+1]-1 (may be empty)
 *   aoff[B+1]       offsets into the per-(sequence, head) buffers, from ops_attention_offsets:
 *                   the [len_b, len_b] matrix of head h of sequence b starts at
 *                   aoff[b] + h * len_b^2; aoff[B] = sum_b NH len_b^2 = natt
 *   att[natt]       saved softmax probabilities P (before dropout; 0 above the diagonal
 *                   when causal)
 *   drop[natt]      dropout multipliers (0 or 1/(1-p)), or NULL for no dropout
 *   out[Ntok, C]    heads concatenated
 * Query i of sequence b attends to keys j of the same sequence with j <= i (causal) or to
 * all of them (bidirectional). Restricting the softmax to these keys is exactly RecBole's
 * padded computation with additive mask -10000: there every masked score is s - 10000
 * with |s| << 10000, so exp(s - 10000 - max) underflows to 0.0f in float32 and the masked
 * keys get exactly zero probability; padded query rows (which RecBole computes and then
 * ignores) do not exist in the packed layout.
 * Backward accumulates (+=) into dqkv[Ntok, 3C]. Forward and backward take a scratch of
 * ops_attention_scratch_floats(max_len) floats (max_len + 2 max_len^2 per OpenMP thread,
 * max_len >= the longest sequence of the batch). The *_ref versions are serial plain loops with
 * double accumulation, same layouts. */
#ifndef MGSD_OPS_ATTENTION_H
#define MGSD_OPS_ATTENTION_H

#include <stdint.h>

/* Fills aoff[B+1]; returns natt = aoff[B]. */
int64_t ops_attention_offsets(int64_t *aoff, const int32_t *offs, int B, int NH);
/* Floats of forward / backward scratch for sequences of at most max_len tokens. */
int64_t ops_attention_scratch_floats(int max_len);
/* Dropout multipliers: drop[aoff[b] + h len^2 + i len + j] is 0 with probability p, else
 * 1/(1-p), drawn 64 at a time with ops_dropout_keep_word; the stream of pair (b, h) is
 * seeded from (seed, b NH + h), so the masks do not depend on the thread count. */
void ops_attention_dropout_mask(float *drop, const int64_t *aoff, const int32_t *offs, int B, int NH, float p,
                                uint64_t seed);

void ops_attention_forward(float *out, float *att, float *scratch, const float *qkv, const float *drop,
                           const int32_t *offs, const int64_t *aoff, int B, int C, int NH, int causal);
void ops_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                            const float *drop, const int32_t *offs, const int64_t *aoff, int B, int C, int NH,
                            int causal);
void ops_attention_forward_ref(float *out, float *att, const float *qkv, const float *drop, const int32_t *offs,
                               const int64_t *aoff, int B, int C, int NH, int causal);
void ops_attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *att,
                                const float *drop, const int32_t *offs, const int64_t *aoff, int B, int C, int NH,
                                int causal);

#endif
