/* sw_gemv_sparse: input-sparse matrix-vector products (docs/methods.md §1 definition 2, §5.1): y = Σ_{j active} x_j·wt_j
 * where wt_j is row j of Wᵀ (the weight stored input-channel-major, as TEAL's kernel does), so only the rows
 * of active input channels are read.  Rows are processed 4 at a time with prefetch (no gather instructions), in
 * the SIMD variant isa (a level sw_isa_resolve returned; the workspace's sw_ffn_work_t.isa). */
#ifndef SW_GEMV_SPARSE_H
#define SW_GEMV_SPARSE_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/sw_ffn.h"
#include "kernels/sw_isa.h"

/* y[0..n_out) = Σ_{k < n_idx} x[idx[k]] · wt[idx[k]*ldw .. +n_out) (overwrites y; n_idx = 0 gives zeros). */
void sw_gemv_in_sparse_idx(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *x,
                           const int32_t *idx, int n_idx, int n_out, sw_isa_t isa);
/* TEAL fused threshold: channels with |x_j| > t are active; idx_scratch needs n_in ints.  Returns the
 * number of active channels. */
int sw_gemv_in_sparse_thr(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *x, float t,
                          int32_t *idx_scratch, int n_in, int n_out, sw_isa_t isa);
/* Same with precomputed coefficients c[k] for rows idx[k]: y = Σ_k c[k] · wt[idx[k]] (down projection of
 * the active neurons; MoE experts). */
void sw_gemv_rows_axpy(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *c, const int32_t *idx,
                       int n_idx, int n_out, sw_isa_t isa);

#endif
