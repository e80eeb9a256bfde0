/* GRU layer over packed ragged sequences (PyTorch nn.GRU, one layer, h0 = 0).
 * Shapes: x[Ntok, C] packed tokens, offs[B+1], w_ih[3H, C], w_hh[3H, H], b_ih[3H],
 * b_hh[3H] (biases may be NULL), out h[Ntok, H] (hidden state after every token).
 * Gate order r, z, n as PyTorch:
 *   r = sig(W_ir x + b_ir + W_hr h + b_hr)      z = sig(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h
 *
 * Time-major plan (ops_gru_plan): sequences sorted by length, longest first (stable);
 * step s owns rows tm_off[s]..tm_off[s+1]-1 and row tm_off[s]+k is token
 * offs[order[k]] + s. The sequences active at step s are a prefix of those active at
 * s-1, so the previous hidden states of a step are contiguous rows and each step is one
 * sgemm [nb_s, H] x [H, 3H] (PyTorch's packed-sequence layout). The input projection of
 * all tokens is one sgemm up front; backward does the weight gradients as two sgemm over
 * all tokens after the time loop.
 * Saved for backward (tm order): hprev[Ntok, H] (state entering each row's step) and
 * gates[Ntok, 4H] = r | z | n | (W_hn h + b_hn). Scratch: gi[Ntok, 3H], gh[B, 3H] forward;
 * dh[Ntok, H], dgi[Ntok, 3H], dgh[Ntok, 3H] backward. Backward accumulates (+=) into
 * every non-NULL gradient. The *_ref versions step each sequence with plain double loops
 * (the backward reference recomputes the forward). */
#ifndef MGSD_OPS_GRU_H
#define MGSD_OPS_GRU_H

#include <stdint.h>

void ops_gru_plan(int32_t *tm_off, int32_t *tm_tok, int32_t *order, const int32_t *offs, int B, int T);
void ops_gru_forward(float *h, float *hprev, float *gates, float *gi, float *gh, const float *x, const float *w_ih,
                     const float *w_hh, const float *b_ih, const float *b_hh, const int32_t *tm_off,
                     const int32_t *tm_tok, int64_t Ntok, int T, int C, int H);
void ops_gru_backward(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh, float *dh, float *dgi,
                      float *dgh, const float *dout, const float *x, const float *w_ih, const float *w_hh,
                      const float *hprev, const float *gates, const int32_t *tm_off, const int32_t *tm_tok,
                      int64_t Ntok, int T, int C, int H);
void ops_gru_forward_ref(float *h, const float *x, const float *w_ih, const float *w_hh, const float *b_ih,
                         const float *b_hh, const int32_t *offs, int B, int C, int H);
void ops_gru_backward_ref(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh, const float *dout,
                          const float *x, const float *w_ih, const float *w_hh, const float *b_ih,
                          const float *b_hh, const int32_t *offs, int B, int C, int H);

#endif
