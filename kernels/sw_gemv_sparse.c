/* sw_gemv_sparse: the input-sparse GEMV on the gathered-row primitives of the workspace's SIMD variant
 * (kernels/sw_simd.h).  Four rows are processed per pass with explicit loads of contiguous rows (the literal
 * one-row loop is auto-vectorised into slow gather instructions on some CPUs). */
#include "kernels/sw_gemv_sparse.h"

#include <math.h>
#include <string.h>

#include "kernels/sw_gather.h"

static const void *sw_row(const void *base, size_t ld, sw_dtype_t dtype, int32_t i) {
  return (const char *)base + (size_t)i * ld * (dtype == SW_DTYPE_BF16 ? 2u : 4u);
}

void sw_gemv_rows_axpy(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *c, const int32_t *idx,
                       int n_idx, int n_out, sw_isa_t isa) {
  const sw_simd_t *k4 = sw_simd_get(isa);
  memset(y, 0, (size_t)n_out * sizeof *y);
  for (int k = 0; k < n_idx; k += 4) {
    const void *rows[4], *pf[4];
    float       cc[4];
    for (int q = 0; q < 4; q++) {
      int kk = k + q < n_idx ? k + q : n_idx - 1; /* pad with the last row and a zero coefficient */
      rows[q] = sw_row(wt, ldw, dtype, idx[kk]);
      cc[q] = k + q < n_idx ? c[k + q] : 0.0f;
      int kn = k + 4 + q < n_idx ? k + 4 + q : kk;
      pf[q] = sw_row(wt, ldw, dtype, idx[kn]);
    }
    sw_gather_axpy4(k4, y, cc, rows, pf, dtype, n_out);
  }
}

void sw_gemv_in_sparse_idx(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *x,
                           const int32_t *idx, int n_idx, int n_out, sw_isa_t isa) {
  const sw_simd_t *k4 = sw_simd_get(isa);
  memset(y, 0, (size_t)n_out * sizeof *y);
  for (int k = 0; k < n_idx; k += 4) {
    const void *rows[4], *pf[4];
    float       cc[4];
    for (int q = 0; q < 4; q++) {
      int kk = k + q < n_idx ? k + q : n_idx - 1;
      rows[q] = sw_row(wt, ldw, dtype, idx[kk]);
      cc[q] = k + q < n_idx ? x[idx[kk]] : 0.0f;
      int kn = k + 4 + q < n_idx ? k + 4 + q : kk;
      pf[q] = sw_row(wt, ldw, dtype, idx[kn]);
    }
    sw_gather_axpy4(k4, y, cc, rows, pf, dtype, n_out);
  }
}

int sw_gemv_in_sparse_thr(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *x, float t,
                          int32_t *idx_scratch, int n_in, int n_out, sw_isa_t isa) {
  int n = 0;
  for (int j = 0; j < n_in; j++)
    if (fabsf(x[j]) > t) idx_scratch[n++] = j;
  sw_gemv_in_sparse_idx(y, wt, ldw, dtype, x, idx_scratch, n, n_out, isa);
  return n;
}
