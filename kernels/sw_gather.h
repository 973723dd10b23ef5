/* sw_gather (internal to kernels/): row-gathered dot and axpy primitives on 4 (or 4+4) weight rows at a time,
 * f32 or bf16 rows, f32 vectors.  While the current rows stream, the rows of the next group (pf) are
 * prefetched into L2 at the same offsets, so random active rows keep the memory system busy without
 * gather instructions.  pf entries must be valid pointers (pass the current rows when there is no next group). */
#ifndef SW_GATHER_H
#define SW_GATHER_H
#include "kernels/sw_ffn.h"

/* r[k] = rows[k] · x for k < 4 (d elements). */
void sw_gather_dot4(float r[4], const void *const rows[4], const void *const pf[4], sw_dtype_t dtype, const float *x,
                    int d);
/* ra[k] = a[k] · x and rb[k] = b[k] · x for k < 4 (gate and up rows of 4 neurons in one pass). */
void sw_gather_dot4x2(float ra[4], float rb[4], const void *const a[4], const void *const b[4],
                      const void *const pfa[4], const void *const pfb[4], sw_dtype_t dtype, const float *x, int d);
/* y += Σ_k c[k] · rows[k] (d elements). */
void sw_gather_axpy4(float *y, const float c[4], const void *const rows[4], const void *const pf[4], sw_dtype_t dtype,
                     int d);

/* One row (or two: a and b, b may be NULL) against 4 vectors: ra[k] = a · x[k], rb[k] = b · x[k]. */
void sw_gather_rows_dot_x4(float ra[4], float rb[4], const void *a, const void *b, const float *const x[4],
                           const void *pfa, const void *pfb, sw_dtype_t dtype, int d);
/* y[k] += c[k] · row for k < 4; the four y must be distinct buffers. */
void sw_gather_row_axpy_y4(float *const y[4], const float c[4], const void *row, const void *pf, sw_dtype_t dtype,
                           int d);

#endif
