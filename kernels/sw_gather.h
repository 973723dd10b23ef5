/* sw_gather (internal to kernels/): row-gathered dot and axpy primitives on 4 (or 4+4) weight rows at a time,
 * f32 or bf16 rows, f32 vectors, in the SIMD variant k (kernels/sw_simd.h, chosen once per workspace).  While the
 * current rows stream, the rows of the next group (pf) are prefetched into L2 at the same offsets, so random
 * active rows keep the memory system busy without gather instructions.  pf entries must be valid pointers (pass
 * the current rows when there is no next group). */
#ifndef SW_GATHER_H
#define SW_GATHER_H
#include "kernels/sw_ffn.h"
#include "kernels/sw_simd.h"

/* r[k] = rows[k] · x for k < 4 (d elements). */
static inline void sw_gather_dot4(const sw_simd_t *k, float r[4], const void *const rows[4], const void *const pf[4],
                                  sw_dtype_t dtype, const float *x, int d) {
  k->dot4(r, rows, pf, dtype == SW_DTYPE_BF16, x, d);
}
/* ra[k] = a[k] · x and rb[k] = b[k] · x for k < 4 (gate and up rows of 4 neurons in one pass). */
static inline void sw_gather_dot4x2(const sw_simd_t *k, float ra[4], float rb[4], const void *const a[4],
                                    const void *const b[4], const void *const pfa[4], const void *const pfb[4],
                                    sw_dtype_t dtype, const float *x, int d) {
  k->dot4x2(ra, rb, a, b, pfa, pfb, dtype == SW_DTYPE_BF16, x, d);
}
/* y += Σ_k c[k] · rows[k] (d elements). */
static inline void sw_gather_axpy4(const sw_simd_t *k, float *y, const float c[4], const void *const rows[4],
                                   const void *const pf[4], sw_dtype_t dtype, int d) {
  k->axpy4(y, c, rows, pf, dtype == SW_DTYPE_BF16, d);
}
/* One row (or two: a and b, b may be NULL) against 4 vectors: ra[k] = a · x[k], rb[k] = b · x[k]. */
static inline void sw_gather_rows_dot_x4(const sw_simd_t *k, float ra[4], float rb[4], const void *a, const void *b,
                                         const float *const x[4], const void *pfa, const void *pfb, sw_dtype_t dtype,
                                         int d) {
  k->rows_dot_x4(ra, rb, a, b, x, pfa, pfb, dtype == SW_DTYPE_BF16, d);
}
/* y[k] += c[k] · row for k < 4; the four y must be distinct buffers. */
static inline void sw_gather_row_axpy_y4(const sw_simd_t *k, float *const y[4], const float c[4], const void *row,
                                         const void *pf, sw_dtype_t dtype, int d) {
  k->row_axpy_y4(y, c, row, pf, dtype == SW_DTYPE_BF16, d);
}

#endif
