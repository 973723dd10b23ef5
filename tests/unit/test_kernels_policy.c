/* Unit tests for the k policies: threshold calibration (CATS |x| quantile, TEAL F⁻¹(0.5+s/2), CHESS per-channel)
 * reaches the target sparsity within ±1 point on held-out samples; top-k selects exactly k of the largest
 * |h|; random selects exactly k; CETT calibration hits its target measured by an independent float64 path;
 * policy forwards equal the float64 reference masked by the mask they report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernels/sw_ffn.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"
#include "kernels/sw_policy.h"
#include "kernels/sw_teal.h"
#include "tests/unit/test_isa_variants.h"
#include "tests/unit/test_kernels_common.h"

#define KT_SPARSITY_TOL 0.01 /* ±1 point of sparsity */
/* TEAL: f32 kernel vs float64 h near t_h (relative); the exact order statistic (1/(200·96) per tie, a few ties);
 * the signed-CDF rule on symmetric values (sampling error of a quantile of 19200 values, about 0.004 at 2σ) */
#define KT_TEAL_REL 1e-4
#define KT_TEAL_EXACT 5e-4
#define KT_TEAL_SIGNED 0.02

static double kt_laplace(uint64_t *s) {
  double u = kt_unif(s) - 0.5;
  return (u < 0 ? 1.0 : -1.0) * log(1.0 - 2.0 * fabs(u) + 1e-300);
}

static double kt_frac_at_or_below(const float *v, size_t n, float t) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += fabsf(v[i]) <= t;
  return (double)c / (double)n;
}

static void test_calib_quantiles_held_out(void **state) {
  (void)state;
  size_t   n = 40000;
  float   *cal = malloc(n * sizeof *cal), *held = malloc(n * sizeof *held);
  uint64_t s = 42;
  for (size_t i = 0; i < n; i++) cal[i] = (float)kt_laplace(&s), held[i] = (float)kt_laplace(&s);
  static const double targets[] = {0.1, 0.5, 0.8, 0.9, 0.99};
  sw_err_t err;
  for (int k = 0; k < 5; k++) {
    float t;
    assert_int_equal(sw_calib_abs_quantile(&t, cal, n, targets[k], &err), SW_OK);
    assert_true(fabs(kt_frac_at_or_below(held, n, t) - targets[k]) <= KT_SPARSITY_TOL);
    assert_int_equal(sw_calib_teal(&t, cal, n, targets[k], &err), SW_OK); /* symmetric: the TEAL rule holds */
    assert_true(fabs(kt_frac_at_or_below(held, n, t) - targets[k]) <= KT_SPARSITY_TOL);
  }
  float t;
  assert_int_equal(sw_calib_abs_quantile(&t, cal, n, 0.0, &err), SW_OK);
  assert_true(kt_frac_at_or_below(held, n, t) == 0.0);
  assert_int_equal(sw_calib_abs_quantile(&t, cal, n, 1.5, &err), SW_ERR_RANGE);
  /* Laplace(0,1): P(|x| <= t) = 1 - e^{-t}, so the s = 0.5 threshold is ln 2 (within sampling error) */
  assert_int_equal(sw_calib_abs_quantile(&t, cal, n, 0.5, &err), SW_OK);
  assert_true(fabs(t - 0.6931) < 0.03);
  free(cal);
  free(held);
}

/* TEAL's rule t = |F⁻¹(0.5 + s/2)| by hand on 8 shuffled values (sorted: -3 -2 -1 0 1 2 3 4): s = 0.25 takes
 * order statistic ceil(0.625·8) = 5, i.e. 1; s = 0.5 takes the 6th, 2; s = 1 the 8th, 4; s = 0 gives -1
 * (everything active).  Several levels from one sort equal the one-level calls. */
static void test_calib_teal_levels_by_hand(void **state) {
  (void)state;
  static const float  v[8] = {2, -1, 4, 0, -3, 1, 3, -2};
  static const double s[4] = {0.25, 0.5, 1.0, 0.0};
  static const float  want[4] = {1, 2, 4, -1};
  float               t[4], one;
  sw_err_t            err;
  assert_int_equal(sw_calib_teal_levels(t, v, 8, s, 4, &err), SW_OK);
  for (int i = 0; i < 4; i++) {
    assert_true(t[i] == want[i]);
    assert_int_equal(sw_calib_teal(&one, v, 8, s[i], &err), SW_OK);
    assert_true(one == want[i]);
  }
  const double bad[2] = {0.5, 1.5};
  assert_int_equal(sw_calib_teal_levels(t, v, 8, bad, 2, &err), SW_ERR_RANGE);
}

static int kt_cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The abs-quantile threshold is exactly the order statistic a fully sorted |v| gives (the selection is not an
 * approximation): random values with many ties (rounded to 1/8), lengths 1..9 at every s = k/n and 100000 at
 * a few s, including an adversarial already-sorted and reversed input. */
static void test_calib_abs_quantile_is_order_statistic(void **state) {
  (void)state;
  uint64_t s = 7;
  size_t   big = 100000;
  float   *v = malloc(big * sizeof *v), *ref = malloc(big * sizeof *ref);
  sw_err_t err;
  for (size_t n = 1; n <= big; n = n < 9 ? n + 1 : big) {
    for (int shape = 0; shape < 3; shape++) {
      for (size_t i = 0; i < n; i++) v[i] = roundf((float)kt_laplace(&s) * 8.0f) / 8.0f;
      for (size_t i = 0; i < n; i++) ref[i] = fabsf(v[i]);
      qsort(ref, n, sizeof *ref, kt_cmp_float);
      if (shape > 0) /* sorted ascending or descending by |v| */
        for (size_t i = 0; i < n; i++) v[i] = shape == 1 ? ref[i] : -ref[n - 1 - i];
      size_t step = n < 10 ? 1 : n / 7;
      for (size_t k = 1; k <= n; k += step) {
        float t;
        assert_int_equal(sw_calib_abs_quantile(&t, v, n, (double)k / (double)n, &err), SW_OK);
        assert_true(t == ref[k - 1]);
      }
    }
    if (n == big) break;
  }
  free(v);
  free(ref);
}

static void test_calib_chess_held_out(void **state) {
  (void)state;
  int      n_tok = 400, f = 100;
  size_t   n = (size_t)n_tok * f;
  float   *g = malloc(n * sizeof *g), *u = malloc(n * sizeof *u), *g2 = malloc(n * sizeof *g2),
        *u2 = malloc(n * sizeof *u2), *tch = malloc((size_t)f * sizeof *tch);
  uint64_t s = 9;
  for (size_t k = 0; k < n; k++) {
    double sc = 0.2 + (double)(k % f) / f * 3.0; /* channel-dependent up scale */
    g[k] = (float)kt_gauss(&s), u[k] = (float)(sc * kt_gauss(&s));
    g2[k] = (float)kt_gauss(&s), u2[k] = (float)(sc * kt_gauss(&s));
  }
  sw_err_t err;
  for (double target = 0.3; target < 0.95; target += 0.3) {
    assert_int_equal(sw_calib_chess(tch, g, u, n_tok, f, target, &err), SW_OK);
    size_t inactive = 0;
    for (size_t k = 0; k < n; k++) inactive += fabsf(g2[k]) <= tch[k % f];
    assert_true(fabs((double)inactive / n - target) <= KT_SPARSITY_TOL);
    /* channels with larger E[u²] get smaller thresholds */
    assert_true(tch[f - 1] < tch[0]);
  }
  free(g), free(u), free(g2), free(u2), free(tch);
}

typedef struct kt_layer {
  sw_ffn_weights_t w;
  sw_ffn_work_t    work;
  sw_mask_t        mask;
  float           *x, *gact, *u, *h, *out;
  double          *ref;
  int              n_tok;
} kt_layer_t;

static void kt_layer_init(kt_layer_t *L, int d, int f, int gated, int n_tok, uint64_t seed) {
  sw_err_t err;
  memset(L, 0, sizeof *L);
  assert_int_equal(sw_ffn_weights_alloc(&L->w, d, f, gated, gated ? SW_ACT_SILU : SW_ACT_GELU_ERF, 0, SW_DTYPE_F32,
                                        &err),
                   SW_OK);
  sw_ffn_weights_fill_random(&L->w, seed);
  assert_int_equal(sw_ffn_work_alloc(&L->work, d, f, n_tok, 1, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&L->mask, f, n_tok, &err), SW_OK);
  size_t nf = (size_t)n_tok * f, nd = (size_t)n_tok * d;
  L->x = malloc(nd * sizeof(float));
  L->out = malloc(nd * sizeof(float));
  L->ref = malloc(nd * sizeof(double));
  L->gact = malloc(nf * sizeof(float));
  L->u = malloc(nf * sizeof(float));
  L->h = malloc(nf * sizeof(float));
  uint64_t s = seed + 1000;
  kt_fill_gauss(L->x, nd, 1.0, &s);
  L->n_tok = n_tok;
  assert_int_equal(sw_ffn_dense_acts(L->gact, L->u, L->h, L->x, &L->w, &L->work, n_tok), SW_OK);
}

static void kt_layer_free(kt_layer_t *L) {
  sw_ffn_weights_free(&L->w);
  sw_ffn_work_free(&L->work);
  sw_mask_free(&L->mask);
  free(L->x), free(L->out), free(L->ref), free(L->gact), free(L->u), free(L->h);
}

/* Runs the policy forward on L's tokens and checks the output against the masked float64 reference. */
static void kt_policy_forward_check(kt_layer_t *L, const sw_policy_t *p, const char *what) {
  int d = L->w.d_model;
  kt_poison(L->out, (size_t)L->n_tok * d);
  sw_ffn_stats_t st;
  assert_int_equal(sw_ffn_policy_forward(L->out, &L->mask, L->x, &L->w, p, 1, &st, &L->work, L->n_tok), SW_OK);
  sw_ffn_reference_f64(L->ref, L->x, &L->w, &L->mask, L->n_tok);
  assert_int_equal(kt_mismatches(L->out, L->ref, L->n_tok, d, what), 0);
  assert_int_equal(st.neurons_executed, L->mask.off[L->n_tok]);
  if (p->kind != SW_POLICY_RANDOM && p->kind != SW_POLICY_DENSE) assert_true(st.flops_select > 0.0);
}

static void test_threshold_policy_ffn_held_out(void **state) {
  (void)state;
  kt_layer_t cal, held;
  kt_layer_init(&cal, 32, 256, 1, 512, 5);
  kt_layer_init(&held, 32, 256, 1, 512, 5); /* same weights (seed), different x below */
  uint64_t s = 777;
  kt_fill_gauss(held.x, (size_t)512 * 32, 1.0, &s);
  sw_err_t err;
  for (int kind = SW_POLICY_THRESHOLD; kind <= SW_POLICY_CHESS; kind++) {
    for (double target = 0.5; target < 0.95; target += 0.2) {
      sw_policy_t p;
      assert_int_equal(sw_policy_init(&p, (sw_policy_kind_t)kind, 256, 1, &err), SW_OK);
      assert_int_equal(sw_policy_calibrate(&p, &cal.w, cal.gact, cal.u, cal.n_tok, target, &err), SW_OK);
      kt_policy_forward_check(&held, &p, sw_policy_name(p.kind));
      assert_true(fabs(sw_mask_sparsity(&held.mask) - target) <= KT_SPARSITY_TOL);
      /* ±1 point on 512 held-out tokens (131072 samples); the calibration tokens themselves hit it too */
      assert_int_equal(sw_ffn_policy_forward(cal.out, &cal.mask, cal.x, &cal.w, &p, 1, NULL, &cal.work, cal.n_tok),
                       SW_OK);
      assert_true(fabs(sw_mask_sparsity(&cal.mask) - target) <= KT_SPARSITY_TOL);
      sw_policy_free(&p);
    }
  }
  kt_layer_free(&cal);
  kt_layer_free(&held);
}

static void test_topk_and_random(void **state) {
  (void)state;
  kt_layer_t L;
  kt_layer_init(&L, 24, 103, 1, 5, 8);
  sw_err_t    err;
  sw_policy_t p;
  assert_int_equal(sw_policy_init(&p, SW_POLICY_TOPK, 103, 1, &err), SW_OK);
  assert_int_equal(sw_policy_calibrate(&p, &L.w, NULL, NULL, 0, 0.8, &err), SW_OK);
  assert_int_equal(p.k, 21); /* round(0.2 * 103) */
  kt_policy_forward_check(&L, &p, "topk");
  for (int t = 0; t < 5; t++) {
    assert_int_equal(sw_mask_count(&L.mask, t), 21);
    uint8_t sel[103] = {0};
    float   min_in = INFINITY, max_out = 0.0f;
    for (int64_t q = L.mask.off[t]; q < L.mask.off[t + 1]; q++) {
      if (q > L.mask.off[t]) assert_true(L.mask.idx[q] > L.mask.idx[q - 1]);
      sel[L.mask.idx[q]] = 1;
    }
    for (int i = 0; i < 103; i++) {
      float a = fabsf(L.h[(size_t)t * 103 + i]);
      if (sel[i]) min_in = fminf(min_in, a);
      else max_out = fmaxf(max_out, a);
    }
    assert_true(min_in >= max_out);
  }
  sw_policy_free(&p);
  assert_int_equal(sw_policy_init(&p, SW_POLICY_RANDOM, 103, 99, &err), SW_OK);
  assert_int_equal(sw_policy_calibrate(&p, &L.w, NULL, NULL, 0, 0.5, &err), SW_OK);
  kt_policy_forward_check(&L, &p, "random");
  sw_mask_t m2;
  assert_int_equal(sw_mask_alloc(&m2, 103, 5, &err), SW_OK);
  assert_int_equal(sw_policy_select(&m2, &p, NULL, NULL, 2, NULL, 5), SW_OK);
  int differ = 0;
  for (int t = 0; t < 5; t++) {
    assert_int_equal(sw_mask_count(&m2, t), p.k);
    for (int64_t q = 0; q < p.k; q++) differ |= m2.idx[m2.off[t] + q] != L.mask.idx[L.mask.off[t] + q];
  }
  assert_true(differ); /* nonce 2 vs 1 */
  sw_mask_free(&m2);
  sw_policy_free(&p);
  /* threshold on few tokens at high sparsity: the union path with the gate already computed */
  assert_int_equal(sw_policy_init(&p, SW_POLICY_THRESHOLD, 103, 0, &err), SW_OK);
  assert_int_equal(sw_policy_calibrate(&p, &L.w, L.gact, L.u, L.n_tok, 0.9, &err), SW_OK);
  kt_policy_forward_check(&L, &p, "threshold few tokens");
  assert_true(sw_mask_sparsity(&L.mask) > 0.8);
  sw_policy_free(&p);
  assert_int_equal(sw_policy_init(&p, SW_POLICY_DENSE, 103, 0, &err), SW_OK);
  kt_policy_forward_check(&L, &p, "dense policy");
  assert_true(sw_mask_sparsity(&L.mask) == 0.0);
  sw_policy_free(&p);
  kt_layer_free(&L);
}

/* Batch 1 (the per-token gathered kernel) with the gate given (CATS threshold), with h given (top-k, and the
 * down-only entry point) and the gate computed (random), on 1 and 2 threads; d = 2*16 + 13 covers the vector
 * body and the masked tail. */
static void test_batch1_paths(void **state) {
  sw_isa_t isa = kt_variant(state);
  sw_err_t err;
  for (int threads = 1; threads <= 2; threads++) {
    kt_layer_t L;
    kt_layer_init(&L, 45, 203, 1, 1, 30 + (uint64_t)threads);
    if (threads == 2) {
      sw_ffn_work_free(&L.work);
      assert_int_equal(sw_ffn_work_alloc(&L.work, 45, 203, 1, 2, &err), SW_OK);
    }
    assert_int_equal(sw_ffn_work_set_isa(&L.work, isa, &err), SW_OK);
    sw_policy_t p;
    assert_int_equal(sw_policy_init(&p, SW_POLICY_THRESHOLD, 203, 0, &err), SW_OK);
    assert_int_equal(sw_policy_calibrate(&p, &L.w, L.gact, L.u, 1, 0.5, &err), SW_OK);
    kt_policy_forward_check(&L, &p, "threshold batch 1 (gate given)");
    assert_true(L.mask.off[1] >= 8); /* the 2-thread split needs at least 8 active neurons */
    sw_policy_free(&p);
    assert_int_equal(sw_policy_init(&p, SW_POLICY_RANDOM, 203, 3, &err), SW_OK);
    assert_int_equal(sw_policy_calibrate(&p, &L.w, NULL, NULL, 0, 0.6, &err), SW_OK);
    kt_policy_forward_check(&L, &p, "random batch 1 (gate computed)");
    sw_policy_free(&p);
    assert_int_equal(sw_policy_init(&p, SW_POLICY_TOPK, 203, 0, &err), SW_OK);
    assert_int_equal(sw_policy_calibrate(&p, &L.w, NULL, NULL, 0, 0.7, &err), SW_OK);
    kt_policy_forward_check(&L, &p, "topk batch 1 (h given)");
    kt_poison(L.out, 45);
    assert_int_equal(sw_ffn_sparse_down(L.out, L.h, &L.w, &L.mask, NULL, &L.work, 1), SW_OK);
    assert_int_equal(kt_mismatches(L.out, L.ref, 1, 45, "sparse down batch 1"), 0); /* ref of the top-k mask */
    sw_policy_free(&p);
    kt_layer_free(&L);
  }
}

static void test_cett_calibration(void **state) {
  (void)state;
  kt_layer_t L;
  kt_layer_init(&L, 20, 160, 1, 24, 13);
  sw_err_t err;
  double   prev_sparsity = -1.0;
  for (double target = 0.05; target < 0.35; target += 0.1) {
    sw_policy_t p;
    assert_int_equal(sw_policy_init(&p, SW_POLICY_CETT, 160, 0, &err), SW_OK);
    assert_int_equal(sw_policy_calibrate(&p, &L.w, L.gact, L.u, L.n_tok, target, &err), SW_OK);
    double mean = 0.0;
    for (int t = 0; t < L.n_tok; t++) mean += sw_cett_token(L.h + (size_t)t * 160, &L.w, p.down_norm, p.threshold);
    mean /= L.n_tok;
    assert_true(mean <= target + 1e-6);
    assert_true(mean >= target - 0.02);
    kt_policy_forward_check(&L, &p, "cett");
    double sp = sw_mask_sparsity(&L.mask);
    assert_true(sp > prev_sparsity);
    prev_sparsity = sp;
    sw_policy_free(&p);
  }
  kt_layer_free(&L);
}

static void test_plain_ffn_policies(void **state) {
  (void)state;
  kt_layer_t L;
  kt_layer_init(&L, 19, 90, 0, 40, 17);
  sw_err_t err;
  for (int kind = SW_POLICY_TOPK; kind <= SW_POLICY_CETT; kind++) {
    if (kind == SW_POLICY_CHESS) continue; /* gated only */
    sw_policy_t p;
    assert_int_equal(sw_policy_init(&p, (sw_policy_kind_t)kind, 90, 0, &err), SW_OK);
    assert_int_equal(sw_policy_calibrate(&p, &L.w, L.gact, NULL, L.n_tok, kind == SW_POLICY_CETT ? 0.1 : 0.6, &err),
                     SW_OK);
    kt_policy_forward_check(&L, &p, sw_policy_name(p.kind));
    sw_policy_free(&p);
  }
  sw_policy_t p;
  assert_int_equal(sw_policy_init(&p, SW_POLICY_CHESS, 90, 0, &err), SW_OK);
  assert_int_equal(sw_policy_calibrate(&p, &L.w, L.gact, NULL, L.n_tok, 0.5, &err), SW_ERR_INVALID);
  sw_policy_free(&p);
  kt_layer_free(&L);
}

/* Float64 h of one token from x̃ = x·1[|x| > t_x] (h[0..d_ff)). */
static void kt_teal_h(double *h, const float *xt, const sw_ffn_weights_t *w, float t_x) {
  for (int i = 0; i < w->d_ff; i++) {
    double g = 0.0, u = 0.0;
    for (int j = 0; j < w->d_model; j++) {
      if (!(fabsf(xt[j]) > t_x)) continue;
      if (w->gated) g += (double)sw_ffn_weight_at(w->gate, w->ld_gate, w->dtype, i, j) * xt[j];
      u += (double)sw_ffn_weight_at(w->up, w->ld_up, w->dtype, i, j) * xt[j];
    }
    h[i] = w->gated ? sw_act_ref(w->act, g, 0) * u : sw_act_ref(w->act, u, 0);
  }
}

/* Float64 TEAL reference: x̃ = x·1[|x| > t_x], h from x̃, h̃ = h·1[|h| > t_h], out = Σ h̃_i down_i. */
static void kt_teal_reference(double *out, const float *x, const sw_ffn_weights_t *w, float t_x, float t_h, int n_tok) {
  int     d = w->d_model, f = w->d_ff;
  double *h = malloc((size_t)f * sizeof *h);
  for (int t = 0; t < n_tok; t++) {
    double *o = out + (size_t)t * d;
    for (int j = 0; j < d; j++) o[j] = 0.0;
    kt_teal_h(h, x + (size_t)t * d, w, t_x);
    for (int i = 0; i < f; i++) {
      if (!(fabs(h[i]) > t_h)) continue;
      for (int j = 0; j < d; j++) o[j] += h[i] * sw_ffn_weight_at(w->down, w->ld_down, w->dtype, i, j);
    }
  }
  free(h);
}

/* Counts, in float64 over n_tok tokens, the zeroed x and h values and the input rows any token needs (a value
 * within rel of t_h counts as zeroed in *h_zero_lo's bound and as active in *rows_h_hi's). */
typedef struct kt_teal_count {
  int64_t x_zero, h_zero_lo, h_zero_hi, rows_x, rows_h_lo, rows_h_hi;
} kt_teal_count_t;
static kt_teal_count_t kt_teal_count(const float *x, const sw_ffn_weights_t *w, float t_x, float t_h, int n_tok,
                                     double rel) {
  int              d = w->d_model, f = w->d_ff;
  kt_teal_count_t  c = {0};
  double          *h = malloc((size_t)f * sizeof *h);
  uint8_t         *rx = calloc((size_t)d, 1), *rlo = calloc((size_t)f, 1), *rhi = calloc((size_t)f, 1);
  for (int t = 0; t < n_tok; t++) {
    const float *xt = x + (size_t)t * d;
    for (int j = 0; j < d; j++) {
      int on = fabsf(xt[j]) > t_x;
      c.x_zero += !on, rx[j] |= (uint8_t)on;
    }
    kt_teal_h(h, xt, w, t_x);
    for (int i = 0; i < f; i++) {
      double a = fabs(h[i]);
      c.h_zero_lo += a < t_h * (1.0 - rel), c.h_zero_hi += a <= t_h * (1.0 + rel);
      rlo[i] |= (uint8_t)(a > t_h * (1.0 + rel)), rhi[i] |= (uint8_t)(a >= t_h * (1.0 - rel));
    }
  }
  for (int j = 0; j < d; j++) c.rows_x += rx[j];
  for (int i = 0; i < f; i++) c.rows_h_lo += rlo[i], c.rows_h_hi += rhi[i];
  free(h), free(rx), free(rlo), free(rhi);
  return c;
}

static void test_teal_forward(void **state) {
  sw_isa_t isa = kt_variant(state);
  for (int gated = 0; gated <= 1; gated++) {
    kt_layer_t L;
    kt_layer_init(&L, 33, 70, gated, 6, 21 + gated);
    sw_err_t          err;
    assert_int_equal(sw_ffn_work_set_isa(&L.work, isa, &err), SW_OK);
    sw_teal_weights_t tw;
    sw_teal_policy_t  p;
    assert_int_equal(sw_teal_weights_init(&tw, &L.w, &err), SW_OK);
    assert_int_equal(sw_teal_calibrate(&p, &L.w, L.x, L.n_tok, 0.5, 1, &err), SW_OK);
    assert_true(p.t_x > 0.0f && p.t_h > 0.0f);
    p.t_h *= 1.001f; /* t_h is one of these tokens' h values: off it, summation order cannot flip a neuron */
    kt_poison(L.out, (size_t)6 * 33);
    sw_ffn_stats_t st;
    int64_t        nx = 0;
    assert_int_equal(sw_ffn_teal_forward(L.out, L.x, &tw, &p, &st, &nx, &L.work, L.n_tok), SW_OK);
    kt_teal_reference(L.ref, L.x, &L.w, p.t_x, p.t_h, L.n_tok);
    assert_int_equal(kt_mismatches(L.out, L.ref, 6, 33, "teal"), 0);
    int64_t want_nx = 0;
    for (int k = 0; k < 6 * 33; k++) want_nx += fabsf(L.x[k]) > p.t_x;
    assert_int_equal(nx, want_nx);
    assert_true(st.neurons_executed > 0 && st.neurons_executed < 6 * 70);
    /* weight bytes per call: each input row of gate/up (70 floats) and down (33 floats) once if any token reads it */
    kt_teal_count_t c = kt_teal_count(L.x, &L.w, p.t_x, p.t_h, L.n_tok, KT_TEAL_REL);
    double in_mats = gated ? 2.0 : 1.0;
    assert_true(st.weight_bytes >= 4.0 * (in_mats * c.rows_x * 70 + c.rows_h_lo * 33));
    assert_true(st.weight_bytes <= 4.0 * (in_mats * c.rows_x * 70 + c.rows_h_hi * 33));
    assert_true(st.weight_bytes <= st.weight_bytes_dense);
    sw_teal_weights_free(&tw);
    kt_layer_free(&L);
  }
}

/* TEAL's sequential calibration (kernels/sw_teal.h): t_x zeroes a fraction s of the calibration inputs and t_h
 * a fraction s of the h computed from the sparsified x̃ (float64 count, values within KT_TEAL_REL of t_h
 * counted both ways), at s = 0.5 and 0.8.  Rule abs_quantile: within KT_TEAL_EXACT (the order statistic's
 * rounding, 1/(n·d_ff) each way); rule signed_cdf on these zero-mean symmetric values: within KT_TEAL_SIGNED.
 * A t_h read from the dense h instead is off by more than KT_TEAL_SIGNED (checked: the test can fail). */
static void test_teal_sequential_calibration(void **state) {
  (void)state;
  enum { D = 48, F = 96, N = 200 };
  kt_layer_t L;
  kt_layer_init(&L, D, F, 1, N, 77);
  sw_err_t err;
  static const double targets[2] = {0.5, 0.8};
  for (int i = 0; i < 2; i++) {
    for (int rule = 0; rule <= 1; rule++) {
      sw_teal_policy_t p;
      assert_int_equal(sw_teal_calibrate(&p, &L.w, L.x, N, targets[i], rule, &err), SW_OK);
      kt_teal_count_t c = kt_teal_count(L.x, &L.w, p.t_x, p.t_h, N, KT_TEAL_REL);
      double tol = rule ? KT_TEAL_SIGNED : KT_TEAL_EXACT;
      assert_true(fabs((double)c.x_zero / (N * D) - targets[i]) <= tol);
      assert_true((double)c.h_zero_lo / (N * F) >= targets[i] - tol);
      assert_true((double)c.h_zero_hi / (N * F) <= targets[i] + tol);
      if (rule) continue;
      float t_dense; /* the previous calibration: t_h from the dense h */
      assert_int_equal(sw_calib_abs_quantile(&t_dense, L.h, (size_t)N * F, targets[i], &err), SW_OK);
      kt_teal_count_t cd = kt_teal_count(L.x, &L.w, p.t_x, t_dense, N, 0.0);
      assert_true(fabs((double)cd.h_zero_lo / (N * F) - targets[i]) > KT_TEAL_SIGNED);
    }
  }
  kt_layer_free(&L);
}

static void test_policy_names(void **state) {
  (void)state;
  sw_policy_kind_t k;
  sw_err_t         err;
  assert_int_equal(sw_policy_parse("cats", &k, &err), SW_OK);
  assert_int_equal(k, SW_POLICY_THRESHOLD);
  assert_int_equal(sw_policy_parse("chess", &k, &err), SW_OK);
  assert_int_equal(k, SW_POLICY_CHESS);
  assert_int_equal(sw_policy_parse("teal", &k, &err), SW_ERR_INVALID);
  assert_string_equal(sw_policy_name(SW_POLICY_CETT), "cett");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calib_quantiles_held_out), cmocka_unit_test(test_calib_teal_levels_by_hand),
      cmocka_unit_test(test_calib_abs_quantile_is_order_statistic),
      cmocka_unit_test(test_calib_chess_held_out),
      cmocka_unit_test(test_threshold_policy_ffn_held_out), cmocka_unit_test(test_topk_and_random),
      KT_VARIANT(test_batch1_paths),
      cmocka_unit_test(test_cett_calibration), cmocka_unit_test(test_plain_ffn_policies),
      cmocka_unit_test(test_policy_names), KT_VARIANT(test_teal_forward), cmocka_unit_test(test_teal_sequential_calibration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
