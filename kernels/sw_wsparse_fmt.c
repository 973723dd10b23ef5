/* sw_wsparse_fmt: building the weight-sparse formats of kernels/sw_wsparse.h from dense matrices, their byte
 * counts, and the context's permutation tables. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_wsparse.h"
#include "kernels/sw_wsparse_avx512.h"

#define SW_WS_PAD 16 /* floats of zero padding after packed values (16-wide loads past the last non-zero) */

static sw_rc s_check_dims(int rows, int cols, sw_err_t *err) {
  if (rows <= 0 || cols <= 0 || rows > SW_WSPARSE_MAX_DIM || cols > SW_WSPARSE_MAX_DIM)
    return sw_err_set(err, SW_ERR_INVALID, "weight-sparse format: %d x %d outside 1..%d", rows, cols,
                      SW_WSPARSE_MAX_DIM);
  return SW_OK;
}

static void s_fill_bitmap_lut(sw_wsparse_ctx_t *ctx) {
  for (int m = 0; m < 256; m++) {
    int rank = 0;
    for (int i = 0; i < 8; i++) {
      ctx->bitmap_lut[m][i] = (m >> i) & 1 ? rank : INT32_MIN;
      if ((m >> i) & 1) ctx->bitmap_pos[m][rank++] = (uint8_t)i;
    }
    ctx->bitmap_cnt[m] = (uint8_t)rank;
  }
}

static void s_fill_nm_lut(int32_t lut[256][8]) {
  for (int m = 0; m < 256; m++) {
    int32_t pos[4] = {m & 3, (m >> 2) & 3, 4 + ((m >> 4) & 3), 4 + ((m >> 6) & 3)};
    for (int i = 0; i < 8; i++) lut[m][i] = pos[i & 3];
  }
}

sw_rc sw_wsparse_ctx_init(sw_wsparse_ctx_t *ctx, sw_isa_t request, sw_err_t *err) {
  memset(ctx, 0, sizeof *ctx);
  sw_rc rc = sw_isa_resolve(request, &ctx->isa, err);
  if (rc) return rc;
  ctx->bitmap_permute = ctx->isa >= SW_ISA_AVX512 && sw_bitmap_avx512_permute_supported();
  ctx->prefetch_nnz = SW_WS_PREFETCH_NNZ_DEFAULT;
  s_fill_bitmap_lut(ctx);
  s_fill_nm_lut(ctx->nm_lut);
  return SW_OK;
}

/* Element (r, c) of the matrix as seen by the builder (transposed or not). */
static inline float s_at(const float *w, size_t ld, int r, int c, int transposed) {
  return transposed ? w[(size_t)c * ld + (size_t)r] : w[(size_t)r * ld + (size_t)c];
}

static sw_rc s_csr_build(sw_csr_t *m, const float *w, int rows, int cols, size_t ld, int transposed,
                         sw_err_t *err) {
  memset(m, 0, sizeof *m);
  sw_rc rc = s_check_dims(rows, cols, err);
  if (rc) return rc;
  size_t nnz = 0;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) nnz += s_at(w, ld, r, c, transposed) != 0.0f;
  m->rows = rows, m->cols = cols, m->nnz = nnz;
  m->row_ptr = malloc(((size_t)rows + 1) * sizeof *m->row_ptr);
  m->col = malloc((nnz + SW_WS_PAD) * sizeof *m->col);
  m->val = calloc(nnz + SW_WS_PAD, sizeof *m->val);
  if (!m->row_ptr || !m->col || !m->val) {
    sw_csr_free(m);
    return sw_err_set(err, SW_ERR_NOMEM, "CSR: out of memory for %zu non-zeros", nnz);
  }
  size_t k = 0;
  for (int r = 0; r < rows; r++) {
    m->row_ptr[r] = (uint32_t)k;
    for (int c = 0; c < cols; c++) {
      float v = s_at(w, ld, r, c, transposed);
      if (v != 0.0f) m->col[k] = (uint16_t)c, m->val[k++] = v;
    }
  }
  m->row_ptr[rows] = (uint32_t)k;
  return SW_OK;
}

sw_rc sw_csr_from_dense(sw_csr_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err) {
  return s_csr_build(m, w, rows, cols, ld, 0, err);
}

sw_rc sw_csc_from_dense(sw_csr_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err) {
  return s_csr_build(m, w, cols, rows, ld, 1, err);
}

sw_rc sw_bitmap_from_dense(sw_bitmap_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err) {
  memset(m, 0, sizeof *m);
  sw_rc rc = s_check_dims(rows, cols, err);
  if (rc) return rc;
  size_t nnz = 0;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) nnz += w[(size_t)r * ld + c] != 0.0f;
  m->rows = rows, m->cols = cols, m->row_bytes = (cols + 7) / 8, m->nnz = nnz;
  m->bits = calloc((size_t)rows * (size_t)m->row_bytes, 1);
  m->row_off = malloc(((size_t)rows + 1) * sizeof *m->row_off);
  m->val = calloc(nnz + SW_WS_PAD, sizeof *m->val);
  if (!m->bits || !m->row_off || !m->val) {
    sw_bitmap_free(m);
    return sw_err_set(err, SW_ERR_NOMEM, "bitmap: out of memory for %zu non-zeros", nnz);
  }
  size_t k = 0;
  for (int r = 0; r < rows; r++) {
    m->row_off[r] = (uint32_t)k;
    uint8_t *b = m->bits + (size_t)r * m->row_bytes;
    for (int c = 0; c < cols; c++) {
      float v = w[(size_t)r * ld + c];
      if (v == 0.0f) continue;
      b[c / 8] |= (uint8_t)(1u << (c % 8));
      m->val[k++] = v;
    }
  }
  m->row_off[rows] = (uint32_t)k;
  return SW_OK;
}

/* Positions (i0 < i1) of the two largest |g[i]| among 4; ties keep the lower column. */
static void s_top2_of_4(const float *g, int *i0, int *i1) {
  int a = 0, b = -1;
  for (int i = 1; i < 4; i++)
    if (fabsf(g[i]) > fabsf(g[a])) a = i;
  for (int i = 0; i < 4; i++)
    if (i != a && (b < 0 || fabsf(g[i]) > fabsf(g[b]))) b = i;
  *i0 = a < b ? a : b, *i1 = a < b ? b : a;
}

sw_rc sw_nm24_from_dense(sw_nm24_t *m, const float *w, int rows, int cols, size_t ld, sw_err_t *err) {
  memset(m, 0, sizeof *m);
  sw_rc rc = s_check_dims(rows, cols, err);
  if (rc) return rc;
  if (cols % 8) return sw_err_set(err, SW_ERR_INVALID, "2:4 format: %d columns is not a multiple of 8", cols);
  m->rows = rows, m->cols = cols;
  m->val = malloc((size_t)rows * (size_t)(cols / 2) * sizeof *m->val);
  m->meta = calloc((size_t)rows * (size_t)(cols / 8), 1);
  if (!m->val || !m->meta) {
    sw_nm24_free(m);
    return sw_err_set(err, SW_ERR_NOMEM, "2:4 format: out of memory");
  }
  for (int r = 0; r < rows; r++)
    for (int g = 0; g < cols / 4; g++) {
      const float *grp = w + (size_t)r * ld + (size_t)g * 4;
      int          i0, i1;
      s_top2_of_4(grp, &i0, &i1);
      size_t v = (size_t)r * (cols / 2) + (size_t)g * 2;
      m->val[v] = grp[i0], m->val[v + 1] = grp[i1];
      m->meta[(size_t)r * (cols / 8) + g / 2] |= (uint8_t)((i0 | i1 << 2) << (4 * (g & 1)));
    }
  return SW_OK;
}

sw_rc sw_csc_blocked_from_dense(sw_csc_blocked_t *m, const float *w, int rows, int cols, size_t ld, int block_rows,
                                sw_err_t *err) {
  memset(m, 0, sizeof *m);
  if (block_rows <= 0 || rows <= 0) return sw_err_set(err, SW_ERR_INVALID, "blocked CSC: block of %d rows", block_rows);
  m->rows = rows, m->cols = cols, m->block_rows = block_rows, m->n_blocks = (rows + block_rows - 1) / block_rows;
  m->blk = calloc((size_t)m->n_blocks, sizeof *m->blk);
  if (!m->blk) return sw_err_set(err, SW_ERR_NOMEM, "blocked CSC: out of memory");
  for (int b = 0; b < m->n_blocks; b++) {
    int   r0 = b * block_rows, n = rows - r0 < block_rows ? rows - r0 : block_rows;
    sw_rc rc = sw_csc_from_dense(&m->blk[b], w + (size_t)r0 * ld, n, cols, ld, err);
    if (rc) return sw_csc_blocked_free(m), rc;
    m->nnz += m->blk[b].nnz;
  }
  return SW_OK;
}

void sw_csc_blocked_free(sw_csc_blocked_t *m) {
  for (int b = 0; b < m->n_blocks && m->blk; b++) sw_csr_free(&m->blk[b]);
  free(m->blk);
  memset(m, 0, sizeof *m);
}

/* Whether block (row group g, column c) of w holds a non-zero; vals (may be NULL) receives its 8 values. */
static int s_blk8_at(const float *w, int rows, size_t ld, int g, int c, float *vals) {
  int any = 0;
  for (int i = 0; i < 8; i++) {
    float v = 8 * g + i < rows ? w[(size_t)(8 * g + i) * ld + (size_t)c] : 0.0f;
    any |= v != 0.0f;
    if (vals) vals[i] = v;
  }
  return any;
}

/* Outer index o and inner index i as (row group, column). */
static void s_blk8_gc(int col_major, int o, int i, int *g, int *c) {
  *g = col_major ? i : o, *c = col_major ? o : i;
}

sw_rc sw_blk8_from_dense(sw_blk8_t *m, const float *w, int rows, int cols, size_t ld, int col_major, sw_err_t *err) {
  memset(m, 0, sizeof *m);
  sw_rc rc = s_check_dims(rows, cols, err);
  if (rc) return rc;
  const int groups = (rows + 7) / 8, n_outer = col_major ? cols : groups, n_inner = col_major ? groups : cols;
  size_t    nb = 0;
  for (int g = 0; g < groups; g++)
    for (int c = 0; c < cols; c++) nb += (size_t)s_blk8_at(w, rows, ld, g, c, NULL);
  m->rows = rows, m->cols = cols, m->col_major = col_major, m->n_outer = n_outer, m->n_blocks = nb;
  m->ptr = malloc(((size_t)n_outer + 1) * sizeof *m->ptr);
  m->idx = malloc((nb + 1) * sizeof *m->idx);
  m->val = malloc((nb + 1) * 8 * sizeof *m->val);
  if (!m->ptr || !m->idx || !m->val) {
    sw_blk8_free(m);
    return sw_err_set(err, SW_ERR_NOMEM, "8x1 blocks: out of memory for %zu blocks", nb);
  }
  size_t k = 0;
  for (int o = 0; o < n_outer; o++) {
    m->ptr[o] = (uint32_t)k;
    for (int i = 0, g, c; i < n_inner; i++) {
      s_blk8_gc(col_major, o, i, &g, &c);
      if (s_blk8_at(w, rows, ld, g, c, m->val + 8 * k)) m->idx[k++] = (uint16_t)i;
    }
  }
  m->ptr[n_outer] = (uint32_t)k;
  return SW_OK;
}

void sw_blk8_free(sw_blk8_t *m) {
  free(m->ptr), free(m->idx), free(m->val);
  memset(m, 0, sizeof *m);
}

double sw_blk8_bytes(const sw_blk8_t *m) {
  return (double)m->n_blocks * (8 * sizeof(float) + sizeof(uint16_t)) + ((double)m->n_outer + 1) * sizeof(uint32_t);
}

void sw_csr_free(sw_csr_t *m) {
  free(m->row_ptr), free(m->col), free(m->val);
  memset(m, 0, sizeof *m);
}

void sw_bitmap_free(sw_bitmap_t *m) {
  free(m->bits), free(m->row_off), free(m->val);
  memset(m, 0, sizeof *m);
}

void sw_nm24_free(sw_nm24_t *m) {
  free(m->val), free(m->meta);
  memset(m, 0, sizeof *m);
}

double sw_csr_bytes(const sw_csr_t *m) {
  return (double)m->nnz * (sizeof(float) + sizeof(uint16_t)) + ((double)m->rows + 1) * sizeof(uint32_t);
}

double sw_bitmap_bytes(const sw_bitmap_t *m) {
  return (double)m->nnz * sizeof(float) + (double)m->rows * m->row_bytes + ((double)m->rows + 1) * sizeof(uint32_t);
}

double sw_nm24_bytes(const sw_nm24_t *m) {
  return (double)m->rows * m->cols * (0.5 * sizeof(float) + 0.125);
}
