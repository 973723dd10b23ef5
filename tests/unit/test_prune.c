/* Unit tests for models/sw_prune: magnitude and Wanda masks on hand-computed matrices; 2:4 groups for every
 * method; SparseGPT's single-weight OBS update against a float64 Gauss-Jordan inverse of the dampened H, its
 * reconstruction error ‖(W − Ŵ)X‖ (float64) below both its own mask without compensation and Wanda's, exact
 * sparsity per block, and the identity at sparsity 0; bad arguments rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_prune.h"
#include "tests/unit/sw_test_util.h"

static uint64_t pt_next(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 11;
}
static float pt_uniform(uint64_t *s) { return (float)((double)pt_next(s) / 9007199254740992.0 * 2.0 - 1.0); }

/* n x cols inputs with correlated features: x = z · A (z, A uniform). */
static float *pt_inputs(int n, int cols, uint64_t seed) {
  float *z = malloc((size_t)n * cols * sizeof(float)), *a = malloc((size_t)cols * cols * sizeof(float));
  float *x = calloc((size_t)n * cols, sizeof(float));
  for (size_t i = 0; i < (size_t)n * cols; i++) z[i] = pt_uniform(&seed);
  for (size_t i = 0; i < (size_t)cols * cols; i++) /* + 2 on the diagonal: well conditioned */
    a[i] = pt_uniform(&seed) + (i % (size_t)(cols + 1) == 0 ? 2.0f : 0.0f);
  for (int r = 0; r < n; r++)
    for (int k = 0; k < cols; k++)
      for (int c = 0; c < cols; c++) x[(size_t)r * cols + c] += z[(size_t)r * cols + k] * a[(size_t)k * cols + c];
  free(z), free(a);
  return x;
}

/* Σ_n ‖(W − Ŵ) x_n‖² in float64. */
static double pt_recon_error(const float *w, const float *wh, const float *x, int rows, int cols, int n) {
  double e = 0.0;
  for (int t = 0; t < n; t++)
    for (int r = 0; r < rows; r++) {
      double acc = 0.0;
      for (int c = 0; c < cols; c++)
        acc += ((double)w[(size_t)r * cols + c] - wh[(size_t)r * cols + c]) * x[(size_t)t * cols + c];
      e += acc * acc;
    }
  return e;
}

static void test_magnitude_hand(void **state) {
  (void)state;
  float          w[8] = {1, -4, 2, 0.5f, 3, -0.1f, 5, -2};
  const float    want[8] = {0, -4, 0, 0, 3, 0, 5, -2}; /* 0.1, 0.5, 1 and the first 2 (ties: lower index) */
  sw_prune_cfg_t cfg = {SW_PRUNE_MAGNITUDE, SW_PRUNE_UNSTRUCTURED, 0.5};
  sw_err_t       err;
  assert_int_equal(sw_prune_matrix(w, 2, 4, NULL, &cfg, &err), SW_OK);
  assert_memory_equal(w, want, sizeof want);
}

static void test_wanda_hand(void **state) {
  (void)state;
  float       w[8] = {1, -4, 2, 0.5f, 3, -0.1f, 5, -2};
  const float h[16] = {100, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}; /* ‖X_0‖ = 10, the others 1 */
  /* row 0 scores 10, 4, 2, 0.5 -> drop columns 3, 2; row 1 scores 30, 0.1, 5, 2 -> drop columns 1, 3 */
  const float    want[8] = {1, -4, 0, 0, 3, 0, 5, 0};
  sw_prune_cfg_t cfg = {SW_PRUNE_WANDA, SW_PRUNE_UNSTRUCTURED, 0.5};
  sw_err_t       err;
  assert_int_equal(sw_prune_matrix(w, 2, 4, h, &cfg, &err), SW_OK);
  assert_memory_equal(w, want, sizeof want);
}

static void test_24_every_method(void **state) {
  (void)state;
  const int rows = 8, cols = 256, n = 300;
  float    *x = pt_inputs(n, cols, 3), *h = malloc((size_t)cols * cols * sizeof(float));
  sw_prune_gram(h, x, n, cols);
  for (int m = 0; m < SW_PRUNE_COUNT; m++) {
    uint64_t s = 17;
    float    w[8 * 256];
    for (int i = 0; i < rows * cols; i++) w[i] = pt_uniform(&s);
    sw_prune_cfg_t cfg = {(sw_prune_method_t)m, SW_PRUNE_NM24, 0.0};
    sw_err_t       err;
    assert_int_equal(sw_prune_matrix(w, rows, cols, h, &cfg, &err), SW_OK);
    for (int g = 0; g < rows * cols / 4; g++) {
      int zeros = 0;
      for (int i = 0; i < 4; i++) zeros += w[4 * g + i] == 0.0f;
      if (zeros != 2) fail_msg("%s: group %d has %d zeros", sw_prune_method_name(cfg.method), g, zeros);
    }
  }
  free(x), free(h);
}

/* In-place Gauss-Jordan inverse of a (n x n, float64, SPD). */
static void pt_inverse(double *a, double *inv, int n) {
  for (int i = 0; i < n * n; i++) inv[i] = i % (n + 1) == 0;
  for (int p = 0; p < n; p++) {
    double d = a[p * n + p];
    for (int j = 0; j < n; j++) a[p * n + j] /= d, inv[p * n + j] /= d;
    for (int r = 0; r < n; r++) {
      if (r == p) continue;
      double f = a[r * n + p];
      for (int j = 0; j < n; j++) a[r * n + j] -= f * a[p * n + j], inv[r * n + j] -= f * inv[p * n + j];
    }
  }
}

/* One row, one weight pruned (the smallest by far, in column 0): every other column is still free, so the
 * update is the OBS optimum ŵ = w − w_0 / [H⁻¹]_00 · H⁻¹[0, :] with H dampened by 1% of its mean diagonal. */
static void test_sparsegpt_single_weight_obs(void **state) {
  (void)state;
  enum { C = 8, N = 64 };
  float *x = pt_inputs(N, C, 9), h[C * C], w[C];
  sw_prune_gram(h, x, N, C);
  uint64_t s = 4;
  for (int c = 0; c < C; c++) w[c] = c == 0 ? 1e-3f : 1.0f + 0.5f * pt_uniform(&s);
  double hd[C * C], inv[C * C], mean = 0.0;
  for (int i = 0; i < C * C; i++) hd[i] = h[i];
  for (int c = 0; c < C; c++) mean += hd[c * C + c] / C;
  for (int c = 0; c < C; c++) hd[c * C + c] += 0.01 * mean;
  pt_inverse(hd, inv, C);
  double want[C];
  for (int c = 0; c < C; c++) want[c] = w[c] - w[0] / inv[0] * inv[c];
  sw_prune_cfg_t cfg = {SW_PRUNE_SPARSEGPT, SW_PRUNE_UNSTRUCTURED, 1.0 / C};
  sw_err_t       err;
  assert_int_equal(sw_prune_matrix(w, 1, C, h, &cfg, &err), SW_OK);
  assert_true(w[0] == 0.0f);
  for (int c = 1; c < C; c++)
    if (!sw_test_close(w[c], want[c], 1e-5, 1e-4)) fail_msg("column %d: %.7g, want %.7g", c, (double)w[c], want[c]);
  free(x);
}

static void test_sparsegpt_beats_masks(void **state) {
  (void)state;
  const int rows = 12, cols = 200, n = 400; /* blocks of 128 and 72 columns */
  float    *x = pt_inputs(n, cols, 5), *h = malloc((size_t)cols * cols * sizeof(float));
  float    *w = malloc((size_t)rows * cols * sizeof(float)), *ws = malloc((size_t)rows * cols * sizeof(float));
  float    *wm = malloc((size_t)rows * cols * sizeof(float)), *ww = malloc((size_t)rows * cols * sizeof(float));
  uint64_t  s = 8;
  for (int i = 0; i < rows * cols; i++) w[i] = pt_uniform(&s);
  sw_prune_gram(h, x, n, cols);
  memcpy(ws, w, (size_t)rows * cols * sizeof(float));
  memcpy(ww, w, (size_t)rows * cols * sizeof(float));
  sw_err_t       err;
  sw_prune_cfg_t cfg = {SW_PRUNE_SPARSEGPT, SW_PRUNE_UNSTRUCTURED, 0.0};
  assert_int_equal(sw_prune_matrix(ws, rows, cols, h, &cfg, &err), SW_OK); /* sparsity 0: unchanged */
  assert_memory_equal(ws, w, (size_t)rows * cols * sizeof(float));
  cfg.sparsity = 0.5;
  assert_int_equal(sw_prune_matrix(ws, rows, cols, h, &cfg, &err), SW_OK);
  cfg.method = SW_PRUNE_WANDA;
  assert_int_equal(sw_prune_matrix(ww, rows, cols, h, &cfg, &err), SW_OK);
  int zeros = 0;
  for (int i = 0; i < rows * cols; i++) {
    wm[i] = ws[i] == 0.0f ? 0.0f : w[i]; /* SparseGPT's mask, original values */
    zeros += ws[i] == 0.0f;
  }
  assert_int_equal(zeros, rows * 128 / 2 + rows * 72 / 2);
  double e_sgpt = pt_recon_error(w, ws, x, rows, cols, n), e_mask = pt_recon_error(w, wm, x, rows, cols, n);
  double e_wanda = pt_recon_error(w, ww, x, rows, cols, n);
  print_message("reconstruction error: sparsegpt %.4g, its mask uncompensated %.4g, wanda %.4g\n", e_sgpt, e_mask,
                e_wanda);
  assert_true(e_sgpt < 0.8 * e_mask && e_sgpt < 0.8 * e_wanda);
  free(x), free(h), free(w), free(ws), free(wm), free(ww);
}

/* A 2-layer synthetic model: every linear (q, k, v, o, gate, up, down stored transposed) ends exactly half zero
 * for each method, counted here over each array. */
static void test_prune_model_every_linear(void **state) {
  (void)state;
  enum { NL = 2, D = 16, F = 32, KV = 8, NT = 40 };
  for (int meth = 0; meth < SW_PRUNE_COUNT; meth++) {
    sw_llama_t m;
    memset(&m, 0, sizeof m);
    m.cfg = (sw_llama_config_t){.n_layer = NL, .d_model = D, .d_ff = F, .n_head = 2, .n_head_kv = 1, .head_dim = 8};
    size_t   sizes[7] = {NL * D * D, NL * KV * D, NL * KV * D, NL * D * D, NL * F * D, NL * F * D, NL * F * D};
    float   *arr[7];
    uint64_t s = 77;
    for (int k = 0; k < 7; k++) {
      arr[k] = malloc(sizes[k] * sizeof(float));
      for (size_t i = 0; i < sizes[k]; i++) arr[k][i] = pt_uniform(&s);
    }
    m.w.wq = arr[0], m.w.wk = arr[1], m.w.wv = arr[2], m.w.wo = arr[3];
    m.w.w_gate = arr[4], m.w.w_up = arr[5], m.w.w_down_t = arr[6];
    sw_calib_data_t cd = {.n_layer = NL, .d_model = D, .n_tok = NT};
    cd.x = pt_inputs(NL * NT, D, 1), cd.a = pt_inputs(NL * SW_LLAMA_SITES * NT, D, 2);
    sw_prune_cfg_t cfg = {(sw_prune_method_t)meth, SW_PRUNE_UNSTRUCTURED, 0.5};
    sw_err_t       err;
    double         achieved = -1.0;
    assert_int_equal(sw_prune_model(&m, &cd, &cfg, &achieved, &err), SW_OK);
    assert_true(achieved == 0.5);
    for (int k = 0; k < 7; k++) {
      size_t zeros = 0;
      for (size_t i = 0; i < sizes[k]; i++) zeros += arr[k][i] == 0.0f;
      if (zeros != sizes[k] / 2) fail_msg("%s: array %d has %zu of %zu zeros", sw_prune_method_name(cfg.method), k,
                                          zeros, sizes[k]);
      free(arr[k]);
    }
    free(cd.x), free(cd.a);
  }
}

static void test_bad_arguments(void **state) {
  (void)state;
  float              w[6] = {1, 2, 3, 4, 5, 6};
  sw_err_t           err;
  sw_prune_cfg_t     cfg = {SW_PRUNE_MAGNITUDE, SW_PRUNE_UNSTRUCTURED, 1.0};
  sw_prune_method_t  m;
  sw_prune_pattern_t p;
  assert_int_equal(sw_prune_matrix(w, 1, 6, NULL, &cfg, &err), SW_ERR_INVALID);
  cfg.pattern = SW_PRUNE_NM24;
  assert_int_equal(sw_prune_matrix(w, 1, 6, NULL, &cfg, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "6"));
  cfg = (sw_prune_cfg_t){SW_PRUNE_WANDA, SW_PRUNE_UNSTRUCTURED, 0.5};
  assert_int_equal(sw_prune_matrix(w, 1, 6, NULL, &cfg, &err), SW_ERR_INVALID);
  assert_int_equal(sw_prune_method_parse("obs", &m, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "'obs'"));
  assert_int_equal(sw_prune_method_parse("sparsegpt", &m, &err), SW_OK);
  assert_int_equal(m, SW_PRUNE_SPARSEGPT);
  assert_int_equal(sw_prune_pattern_parse("2:4", &p, &err), SW_OK);
  assert_int_equal(sw_prune_pattern_parse("4:8", &p, &err), SW_ERR_PARSE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_magnitude_hand),       cmocka_unit_test(test_wanda_hand),
      cmocka_unit_test(test_24_every_method),      cmocka_unit_test(test_sparsegpt_single_weight_obs),
      cmocka_unit_test(test_sparsegpt_beats_masks), cmocka_unit_test(test_prune_model_every_linear),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
