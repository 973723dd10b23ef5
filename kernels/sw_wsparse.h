/* sw_wsparse: weight-sparse formats and kernels (README.md, "Weight sparsity beside activation sparsity"), beside the activation-sparse ones in sw_ffn_sparse.
 * A weight W is d_out x d_in, row-major, y = W x.  Formats (all float values, 16-bit column indices, so a
 * dimension is at most 65536):
 *   CSR     row pointers + (uint16 column, float value) per non-zero: 6 bytes/nnz + 4 bytes/row.
 *   bitmap  one bit per element (row-major) + the non-zeros packed per row: 1/8 byte/element + 4 bytes/nnz.
 *   2:4     N:M with N=2, M=4: two values per group of 4 columns + 4 bits of positions: 2.125 bytes/element.
 *   CSC     CSR of Wᵀ (one list per input channel): the spMspV format, where inactive inputs skip their column;
 *           blocked CSC splits the outputs into blocks of block_rows (one CSC each) so that the block of y the
 *           scatter updates stays in L1 (4096 rows = 16 KiB).
 *   blk8    8x1 column-vector blocks, row- or column-major (sw_blk8_t below): 34 bytes per block.
 * Kernels: SpMV (batch 1, CSR/bitmap/2:4), spMspV (CSC x sparse activation vector, the DuoGPT case, arXiv
 * 2506.20194), SpMM (CSR x dense batch), SDDMM (rows of A . rows of B sampled at a CSR pattern).  Each kernel
 * fills an sw_ffn_stats_t (FLOPs executed and dense-equivalent, bytes of the sparse operand read) that
 * kernels/sw_sde.h exports as PAPI software-defined events.  The SIMD variant is chosen once in the context
 * (kernels/sw_isa.h); AVX-512 has its own bitmap SpMV bodies (a vpopcntd-indexed vpermps where the CPU has
 * AVX512_VPOPCNTDQ, vexpandps otherwise: kernels/sw_wsparse_avx512.c) and runs the AVX2 bodies otherwise. */
#ifndef SW_WSPARSE_H
#define SW_WSPARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_isa.h"

#define SW_WSPARSE_MAX_DIM 65536 /* 16-bit column indices */

/* The resolved variant and the permutation tables of the bitmap and 2:4 bodies (immutable after init). */
typedef struct sw_wsparse_ctx {
  sw_isa_t isa;
  bool     bitmap_permute; /* AVX-512 bitmap body: vpopcntd + vpermps rather than vexpandps (kernels/sw_wsparse_avx512.c) */
  size_t   prefetch_nnz;   /* software prefetch distance of the CSR and bitmap SpMV bodies, in non-zeros (0: none) */
  int32_t  bitmap_lut[256][8]; /* byte m -> lane i: index of bit i among m's set bits, or INT32_MIN when unset */
  int32_t  nm_lut[256][8];     /* 2:4 metadata byte -> positions (0..7) of the 4 kept columns, lanes 0-3 = 4-7 */
  uint8_t  bitmap_pos[256][8]; /* byte m -> its set bits' positions in increasing order (the portable body) */
  uint8_t  bitmap_cnt[256];    /* byte m -> number of set bits */
} sw_wsparse_ctx_t;

/* The default prefetch distance: 2048 non-zeros, 8 KiB of values (and 4 KiB of CSR column indices) ahead.  The
 * value streams of consecutive rows are adjacent, so the distance runs across row ends.  Cold Llama-7B up
 * projection at ws 0.7 on AMD Zen 5, same-run /ideal (`sparsweep bench weights --prefetch`), two runs per
 * distance: CSR 0.77-0.78 at 512, 0.91 at 1024, 0.96-0.97 at 2048, 0.93-0.95 at 4096; the bitmap 0.69-0.77,
 * 0.83-0.86, 0.83-0.87, 0.83.  Three more runs each: CSR 0.48-0.80 with no prefetch, 0.72-0.77 at 256 (the
 * previous default, chosen on Zen 3 against no prefetch at all), 0.90-1.00 at 2048.  Not measured since on Zen 3. */
#define SW_WS_PREFETCH_NNZ_DEFAULT 2048
#define SW_WS_PREFETCH_NNZ_MAX     (1u << 20)

/* Resolves the variant (sw_isa_resolve), picks the AVX-512 bitmap body, sets prefetch_nnz to the default. */
sw_rc sw_wsparse_ctx_init(sw_wsparse_ctx_t *ctx, sw_isa_t request, sw_err_t *err);

typedef struct sw_csr {
  int       rows, cols;
  uint32_t *row_ptr; /* rows + 1 */
  uint16_t *col;     /* nnz */
  float    *val;     /* nnz (+ 16 floats of padding) */
  size_t    nnz;
} sw_csr_t;

typedef struct sw_bitmap {
  int       rows, cols, row_bytes; /* row_bytes = ceil(cols / 8) */
  uint8_t  *bits;                  /* rows * row_bytes, bit c%8 of byte c/8 = column c kept */
  uint32_t *row_off;               /* rows + 1 offsets into val */
  float    *val;                   /* nnz (+ 16 floats of padding: the SIMD bodies load 8 or 16 at a time) */
  size_t    nnz;
} sw_bitmap_t;

typedef struct sw_nm24 {
  int      rows, cols; /* cols % 8 == 0 */
  float   *val;        /* rows * cols/2: per group of 4 columns, the two kept values in column order */
  uint8_t *meta;       /* rows * cols/8: low nibble group 2p, high nibble group 2p+1; nibble = i0 | i1 << 2 */
} sw_nm24_t;

/* Builders from a dense row-major matrix (ld = row stride in floats); zeros are dropped (CSR, CSC, bitmap).
 * SW_ERR_INVALID when a dimension exceeds SW_WSPARSE_MAX_DIM, SW_ERR_NOMEM when out of memory. */
sw_rc sw_csr_from_dense(sw_csr_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err);
/* CSR of Wᵀ: m->rows = cols of w (input channels), m->cols = rows of w (outputs). */
sw_rc sw_csc_from_dense(sw_csr_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err);
sw_rc sw_bitmap_from_dense(sw_bitmap_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err);
/* Keeps the two largest |w| of every group of 4 columns (ties: lower column); cols must be a multiple of 8. */
sw_rc sw_nm24_from_dense(sw_nm24_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err);
/* Blocked CSC: outputs [b·block_rows, (b+1)·block_rows) in blk[b], a CSC of those rows (blk[b].cols rows). */
typedef struct sw_csc_blocked {
  int       rows, cols, block_rows, n_blocks;
  sw_csr_t *blk;
  size_t    nnz;
} sw_csc_blocked_t;
sw_rc sw_csc_blocked_from_dense(sw_csc_blocked_t *m, const float *w, int rows, int cols, size_t ld, int block_rows,
                                sw_err_t *err);
void  sw_csc_blocked_free(sw_csc_blocked_t *m);

/* Column-vector blocks of 8 output rows x 1 input column (8x1; the unit a block pruner keeps or drops):
 *   row-major (SpMV)    for each group of 8 rows, the kept blocks' columns;
 *   column-major (spMspV) for each input column, the kept blocks' row groups,
 * each index 16-bit with 8 float values beside it (rows past the last full group stored as zeros): 34 bytes
 * per block + 4 bytes per outer index.  Batch 1 then needs no gather (one x broadcast feeds 8 rows) and the
 * spMspV scatter becomes one 8-wide add per block.  A block is kept when any of its 8 weights is non-zero, so an
 * unstructured pattern at sparsity s keeps 1 - s^8 of the blocks (explicit zeros): the format pays off only for
 * weights pruned in 8x1 blocks, which constrains the pruner (coarser than unstructured, so more accuracy lost at
 * the same sparsity). */
typedef struct sw_blk8 {
  int       rows, cols, col_major, n_outer; /* n_outer = ceil(rows / 8) groups (row-major) or cols (column-major) */
  uint32_t *ptr;                            /* n_outer + 1 */
  uint16_t *idx;                            /* n_blocks: column (row-major) or row group (column-major) */
  float    *val;                            /* 8 * n_blocks, block k at val + 8k, row r0 + i in lane i */
  size_t    n_blocks;
} sw_blk8_t;
sw_rc  sw_blk8_from_dense(sw_blk8_t *m, const float *w, int rows, int cols, size_t ld, int col_major, sw_err_t *err);
void   sw_blk8_free(sw_blk8_t *m);
double sw_blk8_bytes(const sw_blk8_t *m);
void  sw_csr_free(sw_csr_t *m);
void  sw_bitmap_free(sw_bitmap_t *m);
void  sw_nm24_free(sw_nm24_t *m);

/* Bytes a kernel reads of each format (values + indices + pointers). */
double sw_csr_bytes(const sw_csr_t *m);
double sw_bitmap_bytes(const sw_bitmap_t *m);
double sw_nm24_bytes(const sw_nm24_t *m);

/* SpMV y[0..rows) = W x (overwrites y).  st (may be NULL) receives this call's counts (overwritten). */
void sw_spmv_csr(const sw_wsparse_ctx_t *ctx, float *y, const sw_csr_t *w, const float *x, sw_ffn_stats_t *st);
void sw_spmv_bitmap(const sw_wsparse_ctx_t *ctx, float *y, const sw_bitmap_t *w, const float *x,
                    sw_ffn_stats_t *st);
void sw_spmv_nm24(const sw_wsparse_ctx_t *ctx, float *y, const sw_nm24_t *w, const float *x, sw_ffn_stats_t *st);

/* SpMV over row-major 8x1 blocks (w->col_major == 0). */
void sw_spmv_blk8(const sw_wsparse_ctx_t *ctx, float *y, const sw_blk8_t *w, const float *x, sw_ffn_stats_t *st);

/* spMspV over column-major 8x1 blocks (w->col_major == 1): y[0..w->rows) = Σ_k x[act[k]] · column act[k]. */
void sw_spmspv_blk8(const sw_wsparse_ctx_t *ctx, float *y, const sw_blk8_t *w, const float *x, const int32_t *act,
                    int n_act, sw_ffn_stats_t *st);

/* spMspV y[0..wt->cols) = Σ_{k < n_act} x[act[k]] · column act[k] of W, W given as CSC (wt = CSR of Wᵀ):
 * only the active inputs' non-zeros are read.  act: indices of the non-zero (kept) inputs. */
void sw_spmspv_csc(const sw_wsparse_ctx_t *ctx, float *y, const sw_csr_t *wt, const float *x, const int32_t *act,
                   int n_act, sw_ffn_stats_t *st);

/* The same over a blocked CSC (y[0..w->rows)). */
void sw_spmspv_csc_blocked(const sw_wsparse_ctx_t *ctx, float *y, const sw_csc_blocked_t *w, const float *x,
                           const int32_t *act, int n_act, sw_ffn_stats_t *st);

/* SpMM Y = X Wᵀ for n_tok tokens: x is n_tok x w->cols, y is n_tok x w->rows (row-major, token-major as the
 * FFN kernels).  scratch holds sw_spmm_scratch_floats(w, n_tok) floats (the token-minor copies of X and Y). */
size_t sw_spmm_scratch_floats(const sw_csr_t *w, int n_tok);
void   sw_spmm_csr(const sw_wsparse_ctx_t *ctx, float *y, const sw_csr_t *w, const float *x, int n_tok,
                   float *scratch, sw_ffn_stats_t *st);

/* SDDMM out[p] = s->val[p] · (A_i · B_j) for every non-zero p = (i, j) of the pattern s: a is s->rows x k, b is
 * s->cols x k (both row-major with row stride k), e.g. attention scores Q Kᵀ at a sparse mask. */
void sw_sddmm_csr(const sw_wsparse_ctx_t *ctx, float *out, const sw_csr_t *s, const float *a, const float *b, int k,
                  sw_ffn_stats_t *st);

#endif
