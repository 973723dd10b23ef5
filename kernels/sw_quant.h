/* sw_quant: matrix-vector products on GGUF block-quantised weights (Q8_0, Q4_0, Q4_1) without dequantising
 * them.  The activation vector is quantised once per product to 8-bit blocks of 32 (sw_q8a_t: one f32 scale
 * per block, round to nearest, |q| <= 127), and each weight block meets its activation block in an integer
 * dot product; the two scales (and the Q4_1 offset times the block's activation sum) are applied per block.
 * This is the technique of integer dot products between 4/8-bit weight blocks and 8-bit activation blocks
 * described for GGML/llama.cpp (ggml/src/ggml-common.h block layouts, see docs/models.md §2); the code here
 * is sparsweep's own.  Error of the product against the dequantised f32 math: only the activation rounding,
 * at most sum_j |w_j| * d_a / 2 per block (d_a the activation block's scale), see sw_q8a_error_bound.
 * Every kernel has a portable C body and x86-64 AVX2 and AVX-512 bodies (per-function target attributes);
 * the variant is chosen once per sw_qctx_t (kernels/sw_isa.h).  The AVX-512 variant currently runs the
 * 256-bit integer body compiled for the AVX-512 target (EVEX encodings, no 512-bit integer dot yet). */
#ifndef SW_QUANT_H
#define SW_QUANT_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_isa.h"

#define SW_QBLOCK 32 /* elements per block of every format here */

/* GGUF type ids of the supported weight formats (ggml's enum ggml_type, as in models/sw_types.h). */
enum { SW_QTYPE_Q4_0 = 2, SW_QTYPE_Q4_1 = 3, SW_QTYPE_Q8_0 = 8 };

/* One quantised activation block: x_j ~= d * qs[j]; s = d * sum_j qs[j] (for the Q4_0/Q4_1 offsets). */
typedef struct sw_q8a {
  float  d;
  float  s;
  int8_t qs[SW_QBLOCK];
} sw_q8a_t;

struct sw_qpack;
/* A row-major quantised matrix: rows of `cols` elements (a multiple of 32), row r at data + r * row_bytes. */
typedef struct sw_qmat {
  uint32_t               type;      /* SW_QTYPE_* */
  int                    rows, cols;
  size_t                 row_bytes; /* cols / 32 * block bytes */
  const uint8_t         *data;      /* borrowed */
  const struct sw_qpack *packed;    /* borrowed row-interleaved copy (kernels/sw_qpack.h) or NULL: when set,
                                       sw_qgemm runs on it; the gathered-row kernels always read data */
} sw_qmat_t;

struct sw_pool;
/* Per-context choice: the resolved ISA variant and an optional thread pool (NULL: the caller's thread). */
typedef struct sw_qctx {
  sw_isa_t        isa;
  struct sw_pool *pool;
} sw_qctx_t;

/* 1 when the type id is a supported weight format. */
int    sw_qtype_supported(uint32_t type);
/* Bytes of one 32-element block of a supported type (0 otherwise). */
size_t sw_qtype_block_bytes(uint32_t type);
/* Fills a matrix view; SW_ERR_UNSUPPORTED naming `what` when the type is not supported, SW_ERR_INVALID when
 * cols is not a positive multiple of 32. */
sw_rc  sw_qmat_view(sw_qmat_t *m, uint32_t type, int rows, int cols, const void *data, const char *what,
                    sw_err_t *err);

/* IEEE binary16 bits to float (exact, subnormals included). */
float sw_qf16_to_f32(uint16_t h);

/* Quantises n floats (a multiple of 32) into n/32 activation blocks. */
void sw_q8a_quantize(sw_q8a_t *out, const float *x, int n);
/* Dot product of one weight row (nb blocks of `type`) with nb activation blocks, by the chosen variant. */
float sw_qdot(sw_isa_t isa, uint32_t type, const void *row, const sw_q8a_t *a, int nb);
/* Upper bound of |dot(deq(row), x) - dot(deq(row), deq(a))| from the activation rounding (float64). */
double sw_q8a_error_bound(uint32_t type, const void *row, const sw_q8a_t *a, int nb);

/* y (n_tok x W->rows) = xq (n_tok x W->cols, quantised) . W^T (+ y when accumulate), rows split across the
 * context's pool (on W->packed when set).  Tokens are independent: a token's result does not depend on n_tok. */
void sw_qgemm(const sw_qctx_t *ctx, float *y, const sw_q8a_t *xq, const sw_qmat_t *W, int n_tok, int accumulate);

/* Gathered rows: out[k] = dot(row idx[k] of W, a) for k < n (the variant's four-row kernel where it has one). */
void sw_qdot_rows(sw_isa_t isa, const sw_qmat_t *W, const int32_t *idx, int n, const sw_q8a_t *a, float *out);
/* y (W->cols floats) += sum_k coef[k] * deq(row idx[k] of W), for a Q8_0 W (other types: no-op). */
void sw_q8_axpy_rows(sw_isa_t isa, float *y, const sw_qmat_t *W, const int32_t *idx, const float *coef, int n);
/* sw_qdot_rows and sw_q8_axpy_rows on the context's pool (rows split for the dots, output blocks for the axpy);
 * the same values as the single-thread calls. */
void sw_qdot_rows_ctx(const sw_qctx_t *ctx, const sw_qmat_t *W, const int32_t *idx, int n, const sw_q8a_t *a,
                      float *out);
void sw_q8_axpy_rows_ctx(const sw_qctx_t *ctx, float *y, const sw_qmat_t *W, const int32_t *idx, const float *coef,
                         int n);
/* float to binary16 bits, round to nearest even (overflow to inf). */
uint16_t sw_qf32_to_f16(float x);
/* Quantises n floats (a multiple of 32) into n/32 Q8_0 blocks (34 bytes each: f16 scale max|x|/127, then
 * round(x/scale) with the stored f16 scale). */
void sw_q8_0_quantize_row(uint8_t *dst, const float *x, int n);

#endif
