/* Unit tests for kernels/sw_wsparse (weight-sparse formats and kernels): every kernel against a float64 naive
 * product over the same (pruned) dense matrix, on each SIMD variant the CPU supports (the others are reported
 * skipped), with odd sizes that exercise every tail; 2:4 selection against hand-picked groups; FLOP and byte
 * counts against counts made here; bad dimensions rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_wsparse.h"
#include "kernels/sw_wsparse_avx512.h"
#include "tests/unit/sw_test_isa.h"
#include "tests/unit/sw_test_util.h"

/* float sums of a few thousand products vs float64: relative to Σ|terms| */
#define WT_RTOL 1e-5
#define WT_POISON 12345.0f

typedef struct wt_mat {
  int    rows, cols;
  float *w; /* rows x cols, ld = cols */
  size_t nnz;
} wt_mat_t;

static uint64_t wt_next(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 11;
}

static float wt_uniform(uint64_t *s) { return (float)((double)wt_next(s) / 9007199254740992.0 * 2.0 - 1.0); }

/* Random matrix with each element zero with probability `sparsity` (never an exact zero otherwise). */
static wt_mat_t wt_random(int rows, int cols, double sparsity, uint64_t seed) {
  wt_mat_t m = {rows, cols, malloc((size_t)rows * cols * sizeof(float)), 0};
  for (size_t i = 0; i < (size_t)rows * cols; i++) {
    int keep = (double)wt_next(&seed) / 9007199254740992.0 >= sparsity;
    float v = wt_uniform(&seed);
    m.w[i] = keep ? (v == 0.0f ? 0.5f : v) : 0.0f;
    m.nnz += keep;
  }
  return m;
}

/* Random 2:4 matrix: in every group of 4 exactly two random positions hold values of magnitude >= 0.1. */
static wt_mat_t wt_random_24(int rows, int cols, uint64_t seed) {
  wt_mat_t m = {rows, cols, calloc((size_t)rows * cols, sizeof(float)), (size_t)rows * cols / 2};
  static const int pairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
  for (size_t g = 0; g < (size_t)rows * cols / 4; g++) {
    const int *p = pairs[wt_next(&seed) % 6];
    for (int i = 0; i < 2; i++) {
      float v = wt_uniform(&seed);
      m.w[4 * g + (size_t)p[i]] = v < 0 ? v - 0.1f : v + 0.1f;
    }
  }
  return m;
}

static float *wt_vec(int n, uint64_t seed) {
  float *x = malloc((size_t)n * sizeof(float));
  for (int i = 0; i < n; i++) x[i] = wt_uniform(&seed);
  return x;
}

/* y = W x in float64; scale[r] = Σ|W_rc x_c| (tolerance scale). */
static void wt_ref_gemv(const wt_mat_t *m, const float *x, double *y, double *scale) {
  for (int r = 0; r < m->rows; r++) {
    double acc = 0.0, s = 0.0;
    for (int c = 0; c < m->cols; c++) {
      double t = (double)m->w[(size_t)r * m->cols + c] * x[c];
      acc += t, s += fabs(t);
    }
    y[r] = acc, scale[r] = s;
  }
}

static void wt_assert_close(const float *got, const double *want, const double *scale, int n) {
  for (int i = 0; i < n; i++) {
    if (!sw_test_close(got[i], want[i], WT_RTOL * scale[i] + 1e-30, 0.0))
      fail_msg("element %d: got %.9g, want %.9g (scale %.3g)", i, (double)got[i], want[i], scale[i]);
  }
}

/* One SpMV check: input x, output y (poisoned), float64 reference and tolerance scale per output. */
typedef struct wt_case {
  float  *x, *y;
  double *ref, *scale;
} wt_case_t;

static wt_case_t wt_case_make(const wt_mat_t *m, uint64_t seed) {
  wt_case_t c = {wt_vec(m->cols, seed), malloc((size_t)m->rows * sizeof(float)),
                 malloc((size_t)m->rows * sizeof(double)), malloc((size_t)m->rows * sizeof(double))};
  wt_ref_gemv(m, c.x, c.ref, c.scale);
  for (int i = 0; i < m->rows; i++) c.y[i] = WT_POISON;
  return c;
}

static void wt_case_free(wt_case_t *c) { free(c->x), free(c->y), free(c->ref), free(c->scale); }

/* The context of the variant under test (skipped when the CPU cannot run it). */
static void wt_ctx(sw_wsparse_ctx_t *ctx, void **state) {
  const sw_isa_t isa = sw_test_isa(state);
  sw_err_t       err;
  assert_int_equal(sw_wsparse_ctx_init(ctx, isa, &err), SW_OK);
  assert_int_equal(ctx->isa, isa);
}

static void test_spmv_csr_bitmap(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int shapes[][2] = {{1, 1}, {7, 37}, {33, 128}, {64, 515}};
  const double sp[] = {0.0, 0.5, 0.7, 0.9, 1.0};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (size_t q = 0; q < sizeof sp / sizeof sp[0]; q++) {
      wt_mat_t       m = wt_random(shapes[s][0], shapes[s][1], sp[q], 11 + s * 7 + q);
      wt_case_t      c = wt_case_make(&m, 99 + s);
      sw_err_t       err;
      sw_csr_t       csr;
      sw_bitmap_t    bm;
      sw_ffn_stats_t st;
      assert_int_equal(sw_csr_from_dense(&csr, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
      assert_int_equal(sw_bitmap_from_dense(&bm, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
      assert_int_equal(csr.nnz, m.nnz);
      sw_spmv_csr(&ctx, c.y, &csr, c.x, &st);
      wt_assert_close(c.y, c.ref, c.scale, m.rows);
      assert_true(st.flops == 2.0 * (double)m.nnz && st.flops_dense == 2.0 * m.rows * m.cols);
      assert_true(st.weight_bytes == 6.0 * (double)m.nnz + 4.0 * (m.rows + 1));
      for (int i = 0; i < m.rows; i++) c.y[i] = WT_POISON;
      sw_spmv_bitmap(&ctx, c.y, &bm, c.x, &st);
      wt_assert_close(c.y, c.ref, c.scale, m.rows);
      assert_true(st.weight_bytes == 4.0 * (double)m.nnz + m.rows * ((m.cols + 7) / 8) + 4.0 * (m.rows + 1));
      sw_csr_free(&csr), sw_bitmap_free(&bm);
      wt_case_free(&c);
      free(m.w);
    }
}

/* Random matrix at 0.7 sparsity with whole rows zero (every 3rd), whole columns zero (every 5th) and every 7th
 * row dense: the per-byte tables see bytes 0x00 and 0xff, the scatter sees empty columns and full ones. */
static wt_mat_t wt_structured(int rows, int cols, uint64_t seed) {
  wt_mat_t m = wt_random(rows, cols, 0.7, seed);
  m.nnz = 0;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      float *e = &m.w[(size_t)r * cols + c];
      if (r % 7 == 6) *e = 0.25f + (float)((r + c) % 5);
      if (r % 3 == 0 || c % 5 == 0) *e = 0.0f;
      m.nnz += *e != 0.0f;
    }
  return m;
}

/* CSR and bitmap SpMV and the (blocked) CSC spMspV on matrices with empty rows, all-zero columns and dense rows,
 * column counts around the 8-column byte and 32-column word boundaries of the bitmap bodies. */
static void test_empty_rows_cols(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int shapes[][2] = {{14, 8}, {21, 31}, {22, 33}, {35, 64}, {15, 71}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    wt_mat_t    m = wt_structured(shapes[s][0], shapes[s][1], 61 + s);
    wt_case_t   c = wt_case_make(&m, 5 + s);
    sw_err_t    err;
    sw_csr_t    csr, csc;
    sw_bitmap_t bm;
    assert_int_equal(sw_csr_from_dense(&csr, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
    assert_int_equal(sw_csc_from_dense(&csc, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
    assert_int_equal(sw_bitmap_from_dense(&bm, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
    assert_true(csr.nnz == m.nnz && csc.nnz == m.nnz && bm.nnz == m.nnz);
    sw_spmv_csr(&ctx, c.y, &csr, c.x, NULL);
    wt_assert_close(c.y, c.ref, c.scale, m.rows);
    for (int i = 0; i < m.rows; i++) c.y[i] = WT_POISON;
    sw_spmv_bitmap(&ctx, c.y, &bm, c.x, NULL);
    wt_assert_close(c.y, c.ref, c.scale, m.rows);
    int32_t *all = malloc((size_t)m.cols * sizeof *all); /* every input active: spMspV = SpMV */
    for (int j = 0; j < m.cols; j++) all[j] = j;
    for (int i = 0; i < m.rows; i++) c.y[i] = WT_POISON;
    sw_spmspv_csc(&ctx, c.y, &csc, c.x, all, m.cols, NULL);
    wt_assert_close(c.y, c.ref, c.scale, m.rows);
    for (int r = 0; r < m.rows; r += 3) assert_true(c.y[r] == 0.0f); /* empty rows: exactly zero */
    free(all);
    sw_csr_free(&csr), sw_csr_free(&csc), sw_bitmap_free(&bm);
    wt_case_free(&c);
    free(m.w);
  }
}

static void test_spmv_nm24(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int shapes[][2] = {{1, 8}, {5, 24}, {17, 64}, {40, 520}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    wt_mat_t       m = wt_random_24(shapes[s][0], shapes[s][1], 5 + s);
    wt_case_t      c = wt_case_make(&m, 3 + s);
    sw_err_t       err;
    sw_nm24_t      nm;
    sw_ffn_stats_t st;
    assert_int_equal(sw_nm24_from_dense(&nm, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
    sw_spmv_nm24(&ctx, c.y, &nm, c.x, &st);
    wt_assert_close(c.y, c.ref, c.scale, m.rows);
    assert_true(st.weight_bytes == 2.125 * m.rows * m.cols && st.flops == 1.0 * m.rows * m.cols);
    sw_nm24_free(&nm);
    wt_case_free(&c);
    free(m.w);
  }
}

/* Hand groups: the two largest magnitudes are kept, ties to the lower column. */
static void test_nm24_selection(void **state) {
  (void)state;
  const float w[8] = {1.0f, -5.0f, 3.0f, 2.0f, /* keeps -5, 3 */ 2.0f, 2.0f, 2.0f, -0.5f /* keeps cols 4, 5 */};
  const float x[8] = {1, 10, 100, 1000, 1, 10, 100, 1000};
  sw_wsparse_ctx_t ctx;
  sw_err_t         err;
  sw_nm24_t        nm;
  assert_int_equal(sw_wsparse_ctx_init(&ctx, SW_ISA_PORTABLE, &err), SW_OK);
  assert_int_equal(sw_nm24_from_dense(&nm, w, 1, 8, 8, &err), SW_OK);
  float y = 0.0f;
  sw_spmv_nm24(&ctx, &y, &nm, x, NULL);
  assert_float_equal(y, -5.0f * 10 + 3.0f * 100 + 2.0f * 1 + 2.0f * 10, 0.0f); /* 272 */
  sw_nm24_free(&nm);
  assert_int_equal(sw_nm24_from_dense(&nm, w, 1, 4, 4, &err), SW_ERR_INVALID);
}

/* Zeroes each input with probability sp (the dense reference then sees the zeros); act gets the others. */
static int wt_pick_active(float *x, int cols, double sp, uint64_t seed, int32_t *act) {
  int n_act = 0;
  for (int j = 0; j < cols; j++) {
    if ((double)wt_next(&seed) / 9007199254740992.0 < sp) x[j] = 0.0f;
    else act[n_act++] = j;
  }
  return n_act;
}

/* Float64 reference of m x into ref/scale, and y[0..rows) poisoned. */
static void wt_ref_poison(const wt_mat_t *m, const float *x, double *ref, double *scale, float *y) {
  wt_ref_gemv(m, x, ref, scale);
  for (int i = 0; i < m->rows; i++) y[i] = WT_POISON;
}

static void test_spmspv_csc(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int    rows = 45, cols = 130;
  const double act_sp[] = {0.0, 0.5, 0.8, 1.0};
  wt_mat_t     m = wt_random(rows, cols, 0.7, 21);
  sw_err_t     err;
  sw_csr_t     csc;
  assert_int_equal(sw_csc_from_dense(&csc, m.w, rows, cols, (size_t)cols, &err), SW_OK);
  assert_true(csc.rows == cols && csc.cols == rows && csc.nnz == m.nnz);
  sw_csc_blocked_t blk;
  assert_int_equal(sw_csc_blocked_from_dense(&blk, m.w, rows, cols, (size_t)cols, 16, &err), SW_OK);
  assert_true(blk.n_blocks == 3 && blk.nnz == m.nnz);
  for (size_t q = 0; q < sizeof act_sp / sizeof act_sp[0]; q++) {
    float  *x = wt_vec(cols, 8 + q), y[45];
    int32_t act[130];
    int     n_act = wt_pick_active(x, cols, act_sp[q], 31 + q, act);
    size_t  nnz_read = 0;
    for (int a = 0; a < n_act; a++)
      for (int r = 0; r < rows; r++) nnz_read += m.w[(size_t)r * cols + act[a]] != 0.0f;
    double ref[45], scale[45];
    wt_ref_poison(&m, x, ref, scale, y);
    sw_ffn_stats_t st;
    sw_spmspv_csc(&ctx, y, &csc, x, act, n_act, &st);
    wt_assert_close(y, ref, scale, rows);
    assert_true(st.flops == 2.0 * (double)nnz_read);
    assert_true(st.weight_bytes == 6.0 * (double)nnz_read + 8.0 * n_act);
    for (int i = 0; i < rows; i++) y[i] = WT_POISON;
    sw_spmspv_csc_blocked(&ctx, y, &blk, x, act, n_act, &st); /* blocks of 16, 16, 13 outputs */
    wt_assert_close(y, ref, scale, rows);
    assert_true(st.flops == 2.0 * (double)nnz_read && st.calls == 1);
    assert_true(st.weight_bytes == 6.0 * (double)nnz_read + 3 * 8.0 * n_act);
    free(x);
  }
  sw_csr_free(&csc);
  sw_csc_blocked_free(&blk);
  free(m.w);
}

/* Random matrix whose 8x1 blocks (rows 8g..8g+7 of one column) are all zero with probability `sparsity`. */
static wt_mat_t wt_random_blk8(int rows, int cols, double sparsity, uint64_t seed) {
  wt_mat_t m = wt_random(rows, cols, 0.0, seed);
  m.nnz = 0;
  for (int g = 0; g < (rows + 7) / 8; g++)
    for (int c = 0; c < cols; c++) {
      int drop = (double)wt_next(&seed) / 9007199254740992.0 < sparsity;
      for (int r = 8 * g; r < rows && r < 8 * g + 8; r++) {
        if (drop) m.w[(size_t)r * cols + c] = 0.0f;
        m.nnz += !drop;
      }
    }
  return m;
}

/* Blocks of w (row groups x columns) holding a non-zero, counted here. */
static size_t wt_count_blk8(const wt_mat_t *m) {
  size_t n = 0;
  for (int g = 0; g < (m->rows + 7) / 8; g++)
    for (int c = 0; c < m->cols; c++) {
      int any = 0;
      for (int r = 8 * g; r < m->rows && r < 8 * g + 8; r++) any |= m->w[(size_t)r * m->cols + c] != 0.0f;
      n += (size_t)any;
    }
  return n;
}

/* Row-major 8x1 blocks of m (block count checked against a count made here) and their SpMV against the float64
 * reference; st (may be NULL) receives the call's counts.  The caller frees the returned case. */
static wt_case_t wt_blk8_spmv(const sw_wsparse_ctx_t *ctx, const wt_mat_t *m, uint64_t seed, sw_ffn_stats_t *st) {
  wt_case_t c = wt_case_make(m, seed);
  sw_err_t  err;
  sw_blk8_t b;
  assert_int_equal(sw_blk8_from_dense(&b, m->w, m->rows, m->cols, (size_t)m->cols, 0, &err), SW_OK);
  assert_true(b.n_blocks == wt_count_blk8(m) && b.n_outer == (m->rows + 7) / 8);
  sw_spmv_blk8(ctx, c.y, &b, c.x, st);
  wt_assert_close(c.y, c.ref, c.scale, m->rows);
  sw_blk8_free(&b);
  return c;
}

/* 8x1 block SpMV on block-pruned and on unstructured matrices (explicit zeros), rows not a multiple of 8. */
static void test_spmv_blk8(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int    shapes[][2] = {{1, 1}, {7, 37}, {8, 9}, {45, 128}, {64, 515}};
  const double sp[] = {0.0, 0.5, 0.7, 0.9, 1.0};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (size_t q = 0; q < sizeof sp / sizeof sp[0]; q++)
      for (int unstructured = 0; unstructured < 2; unstructured++) {
        uint64_t       seed = 17 + s * 5 + q;
        wt_mat_t       m = unstructured ? wt_random(shapes[s][0], shapes[s][1], sp[q], seed)
                                        : wt_random_blk8(shapes[s][0], shapes[s][1], sp[q], seed);
        sw_ffn_stats_t st;
        size_t         nb = wt_count_blk8(&m);
        wt_case_t      c = wt_blk8_spmv(&ctx, &m, 7 + s, &st);
        assert_true(st.weight_bytes == 34.0 * (double)nb + 4.0 * ((m.rows + 7) / 8 + 1));
        assert_true(st.flops == 16.0 * (double)nb && st.flops_dense == 2.0 * m.rows * m.cols);
        wt_case_free(&c);
        free(m.w);
      }
}

/* Row groups of very different lengths for the AVX2 body, which runs groups in pairs over their common length and
 * then each one's remaining blocks: every third group empty, every third dense (a block in every column), the
 * others at 0.7; group counts odd and even, the last group partial inside a pair or alone, 1-3 columns (no paired
 * step) and 33 (odd common lengths). */
static void test_spmv_blk8_groups(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int rows[] = {9, 16, 17, 24, 39, 40}, cols[] = {1, 2, 3, 33};
  for (size_t s = 0; s < sizeof rows / sizeof rows[0]; s++)
    for (size_t t = 0; t < sizeof cols / sizeof cols[0]; t++) {
      const int r_n = rows[s], c_n = cols[t];
      wt_mat_t  m = wt_random_blk8(r_n, c_n, 0.7, 71 + s * 4 + t);
      for (int r = 0; r < r_n; r++)
        for (int c = 0; c < c_n; c++) {
          float *e = &m.w[(size_t)r * c_n + c];
          if (r / 8 % 3 == 1) *e = 0.0f;
          if (r / 8 % 3 == 2) *e = 0.5f + (float)((r + c) % 3);
        }
      wt_case_t c = wt_blk8_spmv(&ctx, &m, 13 + s, NULL);
      for (int r = 8; r < r_n && r < 16; r++) assert_true(c.y[r] == 0.0f); /* group 1 is empty: exactly zero */
      wt_case_free(&c);
      free(m.w);
    }
}

/* CSR SpMV with SW_WSPARSE_MAX_DIM columns, so the 16-bit column indices use their top bits (the AVX2 body splits
 * four indices out of each 64-bit load). */
static void test_spmv_csr_wide(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  wt_mat_t  m = wt_random(3, SW_WSPARSE_MAX_DIM, 0.99, 83);
  wt_case_t c = wt_case_make(&m, 19);
  sw_err_t  err;
  sw_csr_t  csr;
  assert_int_equal(sw_csr_from_dense(&csr, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
  assert_true(csr.col[csr.nnz - 1] > 65000); /* the last row's last column: near the top of the index range */
  sw_spmv_csr(&ctx, c.y, &csr, c.x, NULL);
  wt_assert_close(c.y, c.ref, c.scale, m.rows);
  sw_csr_free(&csr);
  wt_case_free(&c);
  free(m.w);
}

/* spMspV over column-major 8x1 blocks: only the active columns' blocks are read. */
static void test_spmspv_blk8(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int    rows = 45, cols = 130; /* 5 full row groups and one of 5 rows */
  const double act_sp[] = {0.0, 0.5, 0.8, 1.0};
  wt_mat_t     m = wt_random_blk8(rows, cols, 0.7, 23);
  sw_err_t     err;
  sw_blk8_t    b;
  assert_int_equal(sw_blk8_from_dense(&b, m.w, rows, cols, (size_t)cols, 1, &err), SW_OK);
  assert_true(b.n_outer == cols && b.col_major == 1 && b.n_blocks == wt_count_blk8(&m));
  for (size_t q = 0; q < sizeof act_sp / sizeof act_sp[0]; q++) {
    float  *x = wt_vec(cols, 9 + q), y[45];
    int32_t act[130];
    int     n_act = wt_pick_active(x, cols, act_sp[q], 41 + q, act);
    size_t  blocks_read = 0;
    for (int a = 0; a < n_act; a++)
      for (int g = 0; g < (rows + 7) / 8; g++) {
        int any = 0;
        for (int r = 8 * g; r < rows && r < 8 * g + 8; r++) any |= m.w[(size_t)r * cols + act[a]] != 0.0f;
        blocks_read += (size_t)any;
      }
    double ref[45], scale[45];
    wt_ref_poison(&m, x, ref, scale, y);
    sw_ffn_stats_t st;
    sw_spmspv_blk8(&ctx, y, &b, x, act, n_act, &st);
    wt_assert_close(y, ref, scale, rows);
    assert_true(st.flops == 16.0 * (double)blocks_read);
    assert_true(st.weight_bytes == 34.0 * (double)blocks_read + 8.0 * n_act);
    free(x);
  }
  sw_blk8_free(&b);
  free(m.w);
}

static void test_spmm_csr(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int rows = 29, cols = 70, toks[] = {1, 5, 8, 16, 37, 64};
  wt_mat_t  m = wt_random(rows, cols, 0.6, 77);
  sw_err_t  err;
  sw_csr_t  csr;
  assert_int_equal(sw_csr_from_dense(&csr, m.w, rows, cols, (size_t)cols, &err), SW_OK);
  for (size_t q = 0; q < sizeof toks / sizeof toks[0]; q++) {
    int     n = toks[q];
    float  *x = wt_vec(n * cols, 40 + q), *y = malloc((size_t)n * rows * sizeof(float));
    float  *scr = malloc(sw_spmm_scratch_floats(&csr, n) * sizeof(float));
    double *ref = malloc((size_t)n * rows * sizeof(double)), *scale = malloc((size_t)n * rows * sizeof(double));
    for (int t = 0; t < n; t++) wt_ref_gemv(&m, x + (size_t)t * cols, ref + (size_t)t * rows, scale + (size_t)t * rows);
    for (int i = 0; i < n * rows; i++) y[i] = WT_POISON;
    sw_ffn_stats_t st;
    sw_spmm_csr(&ctx, y, &csr, x, n, scr, &st);
    wt_assert_close(y, ref, scale, n * rows);
    assert_true(st.flops == 2.0 * (double)m.nnz * n && st.tokens == n);
    free(x), free(y), free(scr), free(ref), free(scale);
  }
  sw_csr_free(&csr);
  free(m.w);
}

static void test_sddmm_csr(void **state) {
  sw_wsparse_ctx_t ctx;
  wt_ctx(&ctx, state);
  const int ks[] = {1, 7, 64, 75};
  const int rows = 19, cols = 23;
  wt_mat_t  pat = wt_random(rows, cols, 0.8, 5);
  sw_err_t  err;
  sw_csr_t  s;
  assert_int_equal(sw_csr_from_dense(&s, pat.w, rows, cols, (size_t)cols, &err), SW_OK);
  for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++) {
    int    k = ks[q];
    float *a = wt_vec(rows * k, 1 + q), *b = wt_vec(cols * k, 2 + q);
    float *out = malloc((s.nnz + 1) * sizeof(float));
    for (size_t p = 0; p < s.nnz; p++) out[p] = WT_POISON;
    sw_ffn_stats_t st;
    sw_sddmm_csr(&ctx, out, &s, a, b, k, &st);
    size_t p = 0;
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++) {
        double sv = pat.w[(size_t)i * cols + j];
        if (sv == 0.0) continue;
        double acc = 0.0, sc = 0.0;
        for (int e = 0; e < k; e++) {
          double t = (double)a[(size_t)i * k + e] * b[(size_t)j * k + e];
          acc += t, sc += fabs(t);
        }
        double want = sv * acc, wscale = fabs(sv) * sc;
        wt_assert_close(&out[p++], &want, &wscale, 1);
      }
    assert_true(p == s.nnz && st.flops == 2.0 * (double)s.nnz * k);
    free(a), free(b), free(out);
  }
  sw_csr_free(&s);
  free(pat.w);
}

static void test_bad_dims(void **state) {
  (void)state;
  sw_err_t    err;
  sw_csr_t    csr;
  sw_bitmap_t bm;
  float       w[1] = {1.0f};
  assert_int_equal(sw_csr_from_dense(&csr, w, 1, SW_WSPARSE_MAX_DIM + 1, 1, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "65537"));
  assert_int_equal(sw_bitmap_from_dense(&bm, w, 0, 1, 1, &err), SW_ERR_INVALID);
  assert_int_equal(sw_csc_from_dense(&csr, w, SW_WSPARSE_MAX_DIM + 1, 1, 1, &err), SW_ERR_INVALID);
  sw_blk8_t b;
  assert_int_equal(sw_blk8_from_dense(&b, w, 1, SW_WSPARSE_MAX_DIM + 1, 1, 1, &err), SW_ERR_INVALID);
}

/* The AVX-512 bitmap bodies (expand and permute, kernels/sw_wsparse_avx512.c) against the float64 reference:
 * column counts on both sides of their 16-column steps and 64-column words (tails of 1-15 columns, one and two
 * bitmap bytes), empty and full rows.  The shim builds run them on plain-C intrinsics (tests/shim/
 * sw_avx512_shim.h) on every CPU; the real instructions run where the CPU has them (skipped otherwise, named). */
typedef void (*bitmap_body_fn)(float *y, const sw_bitmap_t *w, const float *x, size_t pf);
void sw_spmv_bitmap_avx512_shim(float *y, const sw_bitmap_t *w, const float *x, size_t pf);
void sw_spmv_bitmap_avx512_permute_shim(float *y, const sw_bitmap_t *w, const float *x, size_t pf);

static void s_check_bitmap_body(bitmap_body_fn body) {
  const int    cols[] = {1, 7, 8, 9, 16, 17, 37, 63, 64, 65, 100, 128, 130, 200, 515};
  const double sp[] = {0.0, 0.5, 0.7, 0.9, 1.0};
  for (size_t s = 0; s < sizeof cols / sizeof cols[0]; s++)
    for (size_t q = 0; q < sizeof sp / sizeof sp[0] + 1; q++) {
      wt_mat_t    m = q < sizeof sp / sizeof sp[0] ? wt_random(9, cols[s], sp[q], 3 + 13 * s + q)
                                                  : wt_structured(22, cols[s], 17 + s);
      wt_case_t   c = wt_case_make(&m, 41 + s);
      sw_err_t    err;
      sw_bitmap_t bm;
      assert_int_equal(sw_bitmap_from_dense(&bm, m.w, m.rows, m.cols, (size_t)m.cols, &err), SW_OK);
      for (int i = 0; i < m.rows; i++) c.y[i] = WT_POISON;
      body(c.y, &bm, c.x, SW_WS_PREFETCH_NNZ_DEFAULT);
      wt_assert_close(c.y, c.ref, c.scale, m.rows);
      sw_bitmap_free(&bm);
      wt_case_free(&c);
      free(m.w);
    }
}

static void test_bitmap_avx512_shim(void **state) {
  (void)state;
  s_check_bitmap_body(sw_spmv_bitmap_avx512_shim);
  s_check_bitmap_body(sw_spmv_bitmap_avx512_permute_shim);
}

/* Runs body on the cases above, or reports the test skipped by name when this CPU lacks what it needs. */
static void s_check_real_body(bitmap_body_fn body, bool supported, const char *needs) {
  if (!supported) {
    print_message("[  SKIPPED ] %s: not supported by this CPU\n", needs);
    skip();
  }
  s_check_bitmap_body(body);
}

static void test_bitmap_avx512_expand(void **state) {
  (void)state;
  s_check_real_body(sw_spmv_bitmap_avx512, sw_isa_supported(SW_ISA_AVX512), "avx512");
}

static void test_bitmap_avx512_permute(void **state) {
  (void)state;
  s_check_real_body(sw_spmv_bitmap_avx512_permute, sw_bitmap_avx512_permute_supported(), "avx512vpopcntdq");
}

/* The context picks the permute body exactly when the variant is AVX-512 and the CPU has vpopcntd. */
static void test_bitmap_body_choice(void **state) {
  (void)state;
  for (int isa = SW_ISA_PORTABLE; isa < SW_ISA_COUNT; isa++) {
    sw_wsparse_ctx_t ctx;
    sw_err_t         err;
    if (!sw_isa_supported((sw_isa_t)isa)) continue;
    assert_int_equal(sw_wsparse_ctx_init(&ctx, (sw_isa_t)isa, &err), SW_OK);
    assert_int_equal(ctx.bitmap_permute, isa >= SW_ISA_AVX512 && sw_bitmap_avx512_permute_supported());
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      SW_TEST_ISAS(test_spmv_csr_bitmap), SW_TEST_ISAS(test_empty_rows_cols), SW_TEST_ISAS(test_spmv_nm24), SW_TEST_ISAS(test_spmspv_csc),
      SW_TEST_ISAS(test_spmv_blk8),       SW_TEST_ISAS(test_spmv_blk8_groups), SW_TEST_ISAS(test_spmv_csr_wide),
      SW_TEST_ISAS(test_spmspv_blk8),
      SW_TEST_ISAS(test_spmm_csr),        SW_TEST_ISAS(test_sddmm_csr), cmocka_unit_test(test_nm24_selection),
      cmocka_unit_test(test_bad_dims),    cmocka_unit_test(test_bitmap_avx512_shim),
      cmocka_unit_test(test_bitmap_avx512_expand), cmocka_unit_test(test_bitmap_avx512_permute),
      cmocka_unit_test(test_bitmap_body_choice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
