/* Row indexing, segment reductions and column copies on row-major matrices.
 *   gather:      out[M,C] = x[idx[m], :]             (embedding lookup, gather_rows)
 *                backward dx[idx[m], :] += dout[m, :]  (scatter-add; repeated indices add)
 *   index_add:   out[R,C] += x[idx[m], :] -> out[idx[m], :] += x[m, :]  is the same
 *                scatter-add; its backward is a gather.
 *   segments:    x[Ntok,C] packed, segment b = rows offs[b]..offs[b+1]-1, offs[B+1]:
 *                out[b,:] = sum_n wt(n) x[n,:], wt(n) = w[n] (w != NULL), 1/len (mean),
 *                or 1 (sum); empty segments give zero rows.
 *                backward dx[n,:] += wt(n) dout[b,:], dw[n] += <dout[b,:], x[n,:]>
 *   cols:        copy columns: dst[N, dC] at column offset d0 <- src[N, sC] columns
 *                [s0, s0 + w), add = 1 accumulates (concat, slice_cols and their backward)
 *   transpose:   out[N,M] = x[M,N]^T (add = 1 accumulates)
 * Indices must be in range (the autograd wrappers check). The scatter-add is race-free:
 * the threaded version gives each thread a block of columns of every touched row, and the
 * default one uses it only for very large M*C; the *_ref versions are plain serial loops. */
#ifndef MGSD_OPS_INDEX_H
#define MGSD_OPS_INDEX_H

#include <stdint.h>

/* add = 1: out += gathered rows (the backward of index_add). */
void ops_gather_rows(float *out, const float *x, const int32_t *idx, int64_t M, int C, int add);
void ops_scatter_add_rows(float *dx, const float *dout, const int32_t *idx, int64_t M, int C);
/* Always splits columns between threads (the large-M*C path of ops_scatter_add_rows). */
void ops_scatter_add_rows_par(float *dx, const float *dout, const int32_t *idx, int64_t M, int C);
void ops_scatter_add_rows_ref(float *dx, const float *dout, const int32_t *idx, int64_t M, int C);

/* mean = 1: divide by segment length (ignored when w != NULL). */
void ops_segment_forward(float *out, const float *x, const float *w, const int32_t *offs, int B, int C, int mean);
void ops_segment_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const int32_t *offs, int B, int C, int mean);
void ops_segment_forward_ref(float *out, const float *x, const float *w, const int32_t *offs, int B, int C,
                             int mean);
void ops_segment_backward_ref(float *dx, float *dw, const float *dout, const float *x, const float *w,
                              const int32_t *offs, int B, int C, int mean);

void ops_copy_cols(float *dst, int dC, int d0, const float *src, int sC, int s0, int w, int64_t N, int add);

void ops_transpose(float *out, const float *x, int64_t M, int64_t N, int add);
void ops_transpose_ref(float *out, const float *x, int64_t M, int64_t N, int add);

/* Sum of all n elements (double accumulation per thread chunk), and its backward. */
float ops_sum_all(const float *x, int64_t n);
void ops_fill_add(float *dx, float v, int64_t n);

#endif
