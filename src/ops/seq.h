/* Moves between sequence layouts. offs[B+1] packed prefix offsets (sequence b owns
 * packed rows offs[b]..offs[b+1]-1), C columns, T padded positions (len_b <= T).
 *   last_token: out[B, C] = x[offs[b+1]-1, :]           (every len_b >= 1)
 *   pack:       out[Ntok, C] = x[b, i, :] for i < len_b  (x padded [B, T, C])
 *   unpack:     out[B, T, C] = x[offs[b]+i, :], zero for i >= len_b
 * Backward accumulates (+=): last_token and unpack scatter/gather the other way, pack's
 * backward gathers into the valid positions of dx (padding gets no gradient). */
#ifndef MGSD_OPS_SEQ_H
#define MGSD_OPS_SEQ_H

#include <stdint.h>

void ops_last_token_forward(float *out, const float *x, const int32_t *offs, int B, int C);
void ops_last_token_backward(float *dx, const float *dout, const int32_t *offs, int B, int C);
/* dir 0: pack (padded -> packed), 1: unpack (packed -> padded, padding zeroed).
 * add != 0 accumulates into dst instead of overwriting (used by the backward passes). */
void ops_seq_copy(float *dst, const float *src, const int32_t *offs, int B, int T, int C, int dir, int add);

#endif
