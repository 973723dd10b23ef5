/* sw_qpack: a row-interleaved copy of a block-quantised matrix for the dense GEMV/GEMM of decode and prefill.
 *
 * The file's layout (kernels/sw_quant.h) keeps each row's blocks together, so a row's integer dot ends in a
 * horizontal sum, and every block costs two scalar f16 conversions and a broadcast of its scale.  The packed
 * copy groups 8 consecutive rows and, per block, stores the 8 rows' scales side by side (one vector
 * conversion for 8 rows) followed by their quantised values interleaved 4 elements at a time: 32-bit lane r of
 * every 256-bit load holds 4 consecutive elements of row r.  A dot step then multiplies one load by 4
 * activation bytes broadcast to every lane (pmaddubsw), lane r accumulates row r's sum, and 8 rows finish in
 * one vector with no horizontal reduction.  Same bytes as the file (rows padded to a multiple of 8 with zero
 * blocks); the values are the file's, reordered, so results differ from sw_qgemm's row kernels only by the
 * order of float additions.
 *
 * Per block of a group of 8 rows (little-endian):
 *   Q4_1: f16 d[8], f16 m[8], u8 q[128]   Q4_0: f16 d[8], u8 q[128]   Q8_0: f16 d[8], i8 q[256]
 * Q4: byte 32p + 4r + i holds element 8p+i of row r in its low nibble and element 8p+4+i in its high nibble
 * (p < 4, i < 4).  Q8_0: byte 32p + 4r + i holds element 4p+i of row r (p < 8). */
#ifndef SW_QPACK_H
#define SW_QPACK_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_quant.h"

#define SW_QPACK_ROWS 8 /* rows per group */

typedef struct sw_qpack {
  uint32_t type;        /* SW_QTYPE_* of the source */
  int      rows, cols;  /* of the source matrix */
  int      groups;      /* ceil(rows / 8) */
  size_t   block_bytes; /* bytes of one block of a group (8 rows) */
  size_t   group_bytes; /* cols / 32 * block_bytes */
  uint8_t *data;        /* owned, 64-byte aligned */
} sw_qpack_t;

/* Bytes the packed copy of a type/rows/cols matrix takes (0 for an unsupported type). */
size_t sw_qpack_bytes(uint32_t type, int rows, int cols);
/* Packs W into dst (sw_qpack_bytes of it, caller-owned, 32-byte aligned) and fills p (p->data = dst, borrowed). */
void   sw_qpack_into(sw_qpack_t *p, const sw_qmat_t *W, uint8_t *dst);
/* Packs W into a new allocation (SW_ERR_NOMEM / SW_ERR_UNSUPPORTED naming `what`); free with sw_qpack_free. */
sw_rc  sw_qpack_build(sw_qpack_t *p, const sw_qmat_t *W, const char *what, sw_err_t *err);
void   sw_qpack_free(sw_qpack_t *p);

/* y (n_tok x P->rows) = xq (n_tok x P->cols, quantised) . W^T (+ y when accumulate), groups split across the
 * context's pool.  A token's result does not depend on n_tok or on the number of threads (every row is one
 * lane of one group, summed in block order). */
void sw_qpack_gemm(const sw_qctx_t *ctx, float *y, const sw_q8a_t *xq, const sw_qpack_t *P, int n_tok,
                   int accumulate);

#endif
