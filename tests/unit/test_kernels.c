/* Unit tests for the FFN kernels: activations vs hand-computed values and float64 formulas, dense and sparse
 * FFN (f32 and bf16, gated and plain, odd sizes, batch 1..257, all-zero / all-active / random masks, 1 and
 * 2 threads) vs the float64 naive masked reference with outputs poisoned before every call, input-sparse GEMV,
 * and the FLOP/byte accounting.  Kernel tests run once per SIMD variant (portable, avx2, avx512;
 * tests/unit/test_isa_variants.h): the variants this CPU lacks are reported skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernels/sw_act.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"
#include "kernels/sw_flops.h"
#include "kernels/sw_gemv_sparse.h"
#include "kernels/sw_isa.h"
#include "kernels/sw_membw.h"
#include "kernels/sw_pool.h"
#include "kernels/sw_policy.h"
#include "tests/unit/test_isa_variants.h"
#include "tests/unit/test_kernels_common.h"
#include "tests/unit/sw_test_util.h"

/* Hand values at x = 1: Φ(1) = 0.841344746068543, silu(1) = 1/(1+e^-1) = 0.731058578630005,
 * gelu_tanh(1) = 0.5(1+tanh(0.797884561(1.044715))) = 0.841191990607477. */
#define KT_GELU_ERF_AT_1 0.841344746068543
#define KT_SILU_AT_1 0.731058578630005
#define KT_GELU_TANH_AT_1 0.841191990607477
/* float activation vs a hand value: a few f32 ulps at 1.0 */
#define KT_HAND_ATOL 1e-6
#define KT_HAND_RTOL 1e-6
/* float activation vs its float64 reference over [-6, 6]: expf/erff/tanhf error grows with |x| */
#define KT_ACT_ATOL 1e-6
#define KT_ACT_RTOL 1e-5
/* FLOP counts are integers: half a unit absorbs double rounding */
#define KT_COUNT_TOL 0.5


static void test_act_values(void **state) {
  (void)state;
  assert_true(sw_test_close(sw_act_1(SW_ACT_GELU_ERF, 1.0f, 0), KT_GELU_ERF_AT_1, KT_HAND_ATOL, KT_HAND_RTOL));
  assert_true(sw_test_close(sw_act_1(SW_ACT_SILU, 1.0f, 0), KT_SILU_AT_1, KT_HAND_ATOL, KT_HAND_RTOL));
  assert_true(sw_test_close(sw_act_1(SW_ACT_GELU_TANH, 1.0f, 0), KT_GELU_TANH_AT_1, KT_HAND_ATOL, KT_HAND_RTOL));
  assert_true(sw_act_1(SW_ACT_RELU, -2.0f, 0) == 0.0f && sw_act_1(SW_ACT_RELU, 2.5f, 0) == 2.5f);
  assert_true(sw_act_1(SW_ACT_RELU2, 3.0f, 0) == 9.0f && sw_act_1(SW_ACT_RELU2, -3.0f, 0) == 0.0f);
  assert_true(sw_act_1(SW_ACT_FATRELU, 0.5f, 1.0f) == 0.0f && sw_act_1(SW_ACT_FATRELU, 1.5f, 1.0f) == 1.5f);
  for (int a = 0; a < SW_ACT_COUNT; a++) {
    for (double x = -6.0; x <= 6.0; x += 0.37) {
      double got = sw_act_1((sw_act_t)a, (float)x, 0.25f), want = sw_act_ref((sw_act_t)a, (float)x, 0.25);
      assert_true(sw_test_close(got, want, KT_ACT_ATOL, KT_ACT_RTOL));
    }
  }
  float g[5] = {-1, 0, 1, 2, 3}, u[5] = {2, 2, 2, 2, 2}, y[5];
  sw_act_apply_gated(y, g, u, SW_ACT_RELU, 0, 5);
  assert_true(y[0] == 0 && y[2] == 2 && y[4] == 6);
}

/* Every accepted spelling with the (activation, gated) pair it must give, written out by hand. */
static const struct {
  const char *name;
  sw_act_t    act;
  int         gated;
} kt_act_spellings[] = {
    {"identity", SW_ACT_IDENTITY, 0}, {"relu", SW_ACT_RELU, 0},           {"gelu", SW_ACT_GELU_ERF, 0},
    {"gelu_erf", SW_ACT_GELU_ERF, 0}, {"gelu_tanh", SW_ACT_GELU_TANH, 0}, {"silu", SW_ACT_SILU, 0},
    {"relu2", SW_ACT_RELU2, 0},       {"fatrelu", SW_ACT_FATRELU, 0},     {"swiglu", SW_ACT_SILU, 1},
    {"geglu", SW_ACT_GELU_ERF, 1},    {"geglu_tanh", SW_ACT_GELU_TANH, 1}, {"reglu", SW_ACT_RELU, 1},
    {"relu2glu", SW_ACT_RELU2, 1},
};

static void test_act_parse(void **state) {
  (void)state;
  sw_act_t act;
  int      gated;
  sw_err_t err;
  for (size_t i = 0; i < sizeof kt_act_spellings / sizeof kt_act_spellings[0]; i++) {
    act = SW_ACT_COUNT;
    gated = -1;
    assert_int_equal(sw_act_parse(kt_act_spellings[i].name, &act, &gated, &err), SW_OK);
    assert_int_equal(act, kt_act_spellings[i].act);
    assert_int_equal(gated, kt_act_spellings[i].gated);
  }
  assert_string_equal(sw_act_name(SW_ACT_GELU_ERF), "gelu");
  assert_string_equal(sw_act_name(SW_ACT_FATRELU), "fatrelu");
  assert_string_equal(sw_act_name(SW_ACT_COUNT), "?");
  assert_int_equal(sw_act_parse("swish", &act, &gated, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "swish"));
  assert_int_equal(sw_act_parse(NULL, &act, &gated, &err), SW_ERR_INVALID);
}

static void test_bf16_round(void **state) {
  (void)state;
  assert_int_equal(sw_bf16_from_f32(1.0f), 0x3f80);
  /* 1 + 2^-8 is exactly halfway between bf16 1.0 and 1+2^-7: ties to even gives 1.0 */
  assert_int_equal(sw_bf16_from_f32(1.00390625f), 0x3f80);
  assert_int_equal(sw_bf16_from_f32(1.01171875f), 0x3f82); /* 1 + 3·2^-8: halfway, rounds to even 0x3f82 */
  assert_true(sw_bf16_to_f32(0xc000) == -2.0f);
  assert_true(isnan(sw_bf16_to_f32(sw_bf16_from_f32(NAN))));
}

typedef struct kt_ffn {
  sw_ffn_weights_t w;
  sw_ffn_work_t    work;
  sw_mask_t        mask;
  float           *x, *out;
  double          *ref;
  int              n_tok;
} kt_ffn_t;

static void kt_setup(kt_ffn_t *k, int d, int f, int gated, sw_act_t act, sw_dtype_t dt, int n_tok, int threads,
                     uint64_t seed, sw_isa_t isa) {
  sw_err_t err;
  memset(k, 0, sizeof *k);
  assert_int_equal(sw_ffn_weights_alloc(&k->w, d, f, gated, act, 0.1f, dt, &err), SW_OK);
  sw_ffn_weights_fill_random(&k->w, seed);
  assert_int_equal(sw_ffn_work_alloc(&k->work, d, f, n_tok, threads, &err), SW_OK);
  assert_int_equal(sw_ffn_work_set_isa(&k->work, isa, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&k->mask, f, n_tok, &err), SW_OK);
  k->x = malloc((size_t)n_tok * d * sizeof *k->x);
  k->out = malloc((size_t)n_tok * d * sizeof *k->out);
  k->ref = malloc((size_t)n_tok * d * sizeof *k->ref);
  assert_true(k->x && k->out && k->ref);
  uint64_t s = seed * 31 + 7;
  kt_fill_gauss(k->x, (size_t)n_tok * d, 1.0, &s);
  k->n_tok = n_tok;
}

static void kt_teardown(kt_ffn_t *k) {
  sw_ffn_weights_free(&k->w);
  sw_ffn_work_free(&k->work);
  sw_mask_free(&k->mask);
  free(k->x);
  free(k->out);
  free(k->ref);
}

/* Random mask with per-token density p (0 = none, 1 = all). */
static void kt_random_mask(sw_mask_t *m, int n_tok, double p, uint64_t seed) {
  uint8_t *fl = malloc((size_t)n_tok * m->n_units);
  assert_non_null(fl);
  uint64_t s = seed;
  for (size_t i = 0; i < (size_t)n_tok * m->n_units; i++) fl[i] = kt_unif(&s) < p;
  sw_mask_from_flags(m, fl, n_tok);
  free(fl);
}

static void kt_check_sparse(kt_ffn_t *k, double p, uint64_t seed, const char *what) {
  int d = k->w.d_model;
  kt_random_mask(&k->mask, k->n_tok, p, seed);
  kt_poison(k->out, (size_t)k->n_tok * d);
  sw_ffn_stats_t st;
  assert_int_equal(sw_ffn_sparse_forward(k->out, k->x, &k->w, &k->mask, &st, &k->work, k->n_tok), SW_OK);
  sw_ffn_reference_f64(k->ref, k->x, &k->w, &k->mask, k->n_tok);
  assert_int_equal(kt_mismatches(k->out, k->ref, k->n_tok, d, what), 0);
  assert_int_equal(st.neurons_executed, k->mask.off[k->n_tok]);
  assert_int_equal(st.neurons_total, (int64_t)k->n_tok * k->w.d_ff);
  assert_true(fabs(st.flops - sw_flops_ffn_neurons(d, k->w.gated, st.neurons_executed)) < KT_COUNT_TOL);
}

static void test_sparse_matches_masked_reference(void **state) {
  sw_isa_t isa = kt_variant(state);
  static const int shapes[][2] = {{37, 53}, {16, 64}, {17, 131}, {40, 9}};
  static const int batches[] = {1, 2, 3, 5, 64, 257};
  for (size_t si = 0; si < 4; si++) {
    for (int gated = 0; gated <= 1; gated++) {
      for (size_t bi = 0; bi < 6; bi++) {
        int      nt = batches[bi];
        kt_ffn_t k;
        kt_setup(&k, shapes[si][0], shapes[si][1], gated, gated ? SW_ACT_SILU : SW_ACT_GELU_ERF, SW_DTYPE_F32, nt, 1,
                 100 + si * 10 + bi, isa);
        char what[96];
        snprintf(what, sizeof what, "sparse d=%d f=%d gated=%d batch=%d", shapes[si][0], shapes[si][1], gated, nt);
        kt_check_sparse(&k, 0.0, 1, what);
        kt_check_sparse(&k, 1.0, 2, what);
        kt_check_sparse(&k, 0.3, 3, what);
        kt_check_sparse(&k, 0.9, 4, what);
        kt_check_sparse(&k, 0.03, 5, what); /* few active pairs: token-sparse neuron-major path */
        kt_check_sparse(&k, 0.5, 6, what);  /* batch 2: union 75%, packed-block path */
        kt_teardown(&k);
      }
    }
  }
}

static void test_sparse_bf16_and_threads(void **state) {
  sw_isa_t isa = kt_variant(state);
  static const int batches[] = {1, 2, 7};
  for (int dt = 0; dt <= 1; dt++) {
    for (int threads = 1; threads <= 2; threads++) {
      for (int bi = 0; bi < 3; bi++) {
        kt_ffn_t k;
        kt_setup(&k, 45, 203, 1, SW_ACT_SILU, (sw_dtype_t)dt, batches[bi], threads, 7 + dt * 3 + threads,
                 isa);
        kt_check_sparse(&k, 0.5, 11, dt ? "bf16" : "f32 threads");
        kt_check_sparse(&k, 0.2, 13, dt ? "bf16 0.2" : "f32 threads token-sparse");
        kt_check_sparse(&k, 1.0, 12, dt ? "bf16 all" : "f32 threads all");
        kt_teardown(&k);
      }
    }
  }
}

static void test_dense_matches_reference(void **state) {
  sw_isa_t isa = kt_variant(state);
  static const int batches[] = {1, 2, 4, 33, 257};
  for (int dt = 0; dt <= 1; dt++) {
    for (int gated = 0; gated <= 1; gated++) {
      for (int bi = 0; bi < 5; bi++) {
        kt_ffn_t k;
        kt_setup(&k, 29, 71, gated, gated ? SW_ACT_GELU_TANH : SW_ACT_RELU2, (sw_dtype_t)dt, batches[bi], 1,
                 900 + bi + 10 * gated + 100 * dt, isa);
        float *b1 = malloc(71 * sizeof *b1), *b2 = malloc(29 * sizeof *b2);
        uint64_t s = 5;
        kt_fill_gauss(b1, 71, 0.2, &s);
        kt_fill_gauss(b2, 29, 0.2, &s);
        k.w.b_up = gated ? NULL : b1;
        k.w.b_down = b2;
        kt_poison(k.out, (size_t)k.n_tok * 29);
        sw_ffn_stats_t st;
        assert_int_equal(sw_ffn_dense_forward(k.out, k.x, &k.w, &st, &k.work, k.n_tok), SW_OK);
        sw_ffn_reference_f64(k.ref, k.x, &k.w, NULL, k.n_tok);
        assert_int_equal(kt_mismatches(k.out, k.ref, k.n_tok, 29, "dense"), 0);
        assert_true(fabs(st.flops - sw_flops_ffn_dense(29, 71, gated, k.n_tok)) < KT_COUNT_TOL);
        assert_true(st.weight_bytes == (double)(gated ? 3 : 2) * 29 * 71 * (dt ? 2 : 4));
        /* sparsity 0 equals dense (same biases) */
        sw_mask_set_all(&k.mask, k.n_tok);
        float *o2 = malloc((size_t)k.n_tok * 29 * sizeof *o2);
        kt_poison(o2, (size_t)k.n_tok * 29);
        assert_int_equal(sw_ffn_sparse_forward(o2, k.x, &k.w, &k.mask, NULL, &k.work, k.n_tok), SW_OK);
        assert_int_equal(kt_mismatches(o2, k.ref, k.n_tok, 29, "sparse all == dense"), 0);
        free(o2);
        free(b1);
        free(b2);
        kt_teardown(&k);
      }
    }
  }
}

/* Batches whose inputs exceed 256 KiB (n_tok * d_model > 65536) run the d-tiled two-pass token-sparse kernel:
 * d = 300 with 257 tokens gives tiles of 256 and a 44-wide tail. */
static void test_sparse_tiled_batches(void **state) {
  sw_isa_t isa = kt_variant(state);
  for (int v = 0; v < 4; v++) {
    int      gated = v != 1, threads = v == 2 ? 2 : 1;
    kt_ffn_t k;
    kt_setup(&k, 300, 37, gated, gated ? SW_ACT_SILU : SW_ACT_RELU, v == 3 ? SW_DTYPE_BF16 : SW_DTYPE_F32, 257,
             threads, 300 + v, isa);
    kt_check_sparse(&k, 0.03, 31, "tiled 0.03");
    kt_check_sparse(&k, 0.25, 32, "tiled 0.25");
    if (v == 0) {
      /* policy forwards: gate known (threshold) and h known (topk) on the tiled path */
      sw_err_t    err;
      float      *g = malloc((size_t)257 * 37 * sizeof *g), *u = malloc((size_t)257 * 37 * sizeof *u);
      sw_policy_t p;
      assert_int_equal(sw_ffn_dense_acts(g, u, NULL, k.x, &k.w, &k.work, 257), SW_OK);
      for (int kind = SW_POLICY_TOPK; kind <= SW_POLICY_THRESHOLD; kind++) {
        assert_int_equal(sw_policy_init(&p, (sw_policy_kind_t)kind, 37, 0, &err), SW_OK);
        assert_int_equal(sw_policy_calibrate(&p, &k.w, g, u, 257, 0.85, &err), SW_OK);
        kt_poison(k.out, (size_t)257 * 300);
        assert_int_equal(sw_ffn_policy_forward(k.out, &k.mask, k.x, &k.w, &p, 0, NULL, &k.work, 257), SW_OK);
        sw_ffn_reference_f64(k.ref, k.x, &k.w, &k.mask, 257);
        assert_int_equal(kt_mismatches(k.out, k.ref, 257, 300, "tiled policy"), 0);
        sw_policy_free(&p);
      }
      free(g);
      free(u);
    }
    kt_teardown(&k);
  }
}

/* A kernel that returned zeros (or left the output untouched) must fail the comparison used above. */
static void test_zeroing_mutation_is_caught(void **state) {
  (void)state;
  kt_ffn_t k;
  kt_setup(&k, 37, 53, 1, SW_ACT_SILU, SW_DTYPE_F32, 3, 1, 77, SW_ISA_AUTO);
  kt_random_mask(&k.mask, 3, 0.5, 9);
  sw_ffn_reference_f64(k.ref, k.x, &k.w, &k.mask, 3);
  memset(k.out, 0, 3 * 37 * sizeof *k.out);
  assert_true(kt_mismatches(k.out, k.ref, 3, 37, "expected failure (zeros)") > 3 * 37 / 2);
  kt_poison(k.out, 3 * 37);
  assert_int_equal(kt_mismatches(k.out, k.ref, 3, 37, "expected failure (poison)"), 3 * 37);
  /* dropping a single active neuron is also caught */
  assert_int_equal(sw_ffn_sparse_forward(k.out, k.x, &k.w, &k.mask, NULL, &k.work, 3), SW_OK);
  sw_mask_t m2;
  sw_err_t  err;
  assert_int_equal(sw_mask_alloc(&m2, 53, 3, &err), SW_OK);
  uint8_t fl[3 * 53] = {0};
  for (int t = 0; t < 3; t++)
    for (int64_t q = k.mask.off[t]; q < k.mask.off[t + 1]; q++) fl[t * 53 + k.mask.idx[q]] = 1;
  fl[k.mask.idx[0]] = 0;
  sw_mask_from_flags(&m2, fl, 3);
  sw_ffn_reference_f64(k.ref, k.x, &k.w, &m2, 3);
  assert_true(kt_mismatches(k.out, k.ref, 3, 37, "expected failure (one neuron)") > 0);
  sw_mask_free(&m2);
  kt_teardown(&k);
}

static void test_sparse_down_and_gemv(void **state) {
  sw_isa_t isa = kt_variant(state);
  int      d = 33, f = 75, n = 3;
  kt_ffn_t k;
  kt_setup(&k, d, f, 1, SW_ACT_SILU, SW_DTYPE_F32, n, 1, 55, isa);
  float   *h = malloc((size_t)n * f * sizeof *h);
  uint64_t s = 3;
  kt_fill_gauss(h, (size_t)n * f, 1.0, &s);
  kt_random_mask(&k.mask, n, 0.4, 21);
  kt_poison(k.out, (size_t)n * d);
  assert_int_equal(sw_ffn_sparse_down(k.out, h, &k.w, &k.mask, NULL, &k.work, n), SW_OK);
  for (int t = 0; t < n; t++) {
    for (int j = 0; j < d; j++) {
      double r = 0.0;
      for (int64_t q = k.mask.off[t]; q < k.mask.off[t + 1]; q++) {
        int i = k.mask.idx[q];
        r += (double)h[(size_t)t * f + i] * sw_ffn_weight_at(k.w.down, k.w.ld_down, SW_DTYPE_F32, i, j);
      }
      k.ref[(size_t)t * d + j] = r;
    }
  }
  assert_int_equal(kt_mismatches(k.out, k.ref, n, d, "sparse down"), 0);
  /* input-sparse GEMV with threshold: y = Σ_{|x_j|>t} x_j W^T[j] over the down matrix as W^T (f rows of d) */
  int32_t idx[75];
  float   y[33];
  kt_poison(y, 33);
  int na = sw_gemv_in_sparse_thr(y, k.w.down, k.w.ld_down, SW_DTYPE_F32, h, 0.7f, idx, f, d, isa);
  int want_na = 0;
  double yr[33] = {0};
  for (int i = 0; i < f; i++) {
    if (fabsf(h[i]) <= 0.7f) continue;
    want_na++;
    for (int j = 0; j < d; j++) yr[j] += (double)h[i] * sw_ffn_weight_at(k.w.down, k.w.ld_down, SW_DTYPE_F32, i, j);
  }
  assert_int_equal(na, want_na);
  assert_int_equal(kt_mismatches(y, yr, 1, d, "gemv thr"), 0);
  kt_poison(y, 33);
  sw_gemv_in_sparse_idx(y, k.w.down, k.w.ld_down, SW_DTYPE_F32, h, idx, 0, d, isa);
  for (int j = 0; j < d; j++) assert_true(y[j] == 0.0f);
  free(h);
  kt_teardown(&k);
}

static void test_invalid_args(void **state) {
  (void)state;
  kt_ffn_t k;
  kt_setup(&k, 8, 16, 1, SW_ACT_SILU, SW_DTYPE_F32, 2, 1, 3, SW_ISA_AUTO);
  sw_mask_set_all(&k.mask, 2);
  assert_int_equal(sw_ffn_sparse_forward(k.out, k.x, &k.w, &k.mask, NULL, &k.work, 3), SW_ERR_INVALID);
  assert_int_equal(sw_ffn_sparse_forward(k.out, k.x, &k.w, &k.mask, NULL, &k.work, 1), SW_ERR_INVALID);
  assert_int_equal(sw_ffn_dense_forward(k.out, k.x, &k.w, NULL, &k.work, 5), SW_ERR_INVALID);
  sw_mask_set_none(&k.mask, 0);
  assert_int_equal(sw_ffn_sparse_forward(k.out, k.x, &k.w, &k.mask, NULL, &k.work, 0), SW_OK);
  assert_int_equal(sw_ffn_dense_forward(k.out, k.x, &k.w, NULL, &k.work, 0), SW_OK);
  sw_err_t err;
  sw_ffn_weights_t w2;
  assert_int_equal(sw_ffn_weights_alloc(&w2, 0, 4, 1, SW_ACT_SILU, 0, SW_DTYPE_F32, &err), SW_ERR_INVALID);
  kt_teardown(&k);
}

static void test_pack_layouts(void **state) {
  (void)state;
  int      d = 5, f = 7;
  float    gate[35], up[35], down[35], downT[35];
  uint64_t s = 1;
  kt_fill_gauss(gate, 35, 1, &s);
  kt_fill_gauss(up, 35, 1, &s);
  kt_fill_gauss(down, 35, 1, &s);
  for (int i = 0; i < f; i++)
    for (int j = 0; j < d; j++) downT[j * f + i] = down[i * d + j];
  sw_ffn_weights_t a, b;
  sw_err_t         err;
  assert_int_equal(sw_ffn_weights_alloc(&a, d, f, 1, SW_ACT_SILU, 0, SW_DTYPE_F32, &err), SW_OK);
  assert_int_equal(sw_ffn_weights_alloc(&b, d, f, 1, SW_ACT_SILU, 0, SW_DTYPE_F32, &err), SW_OK);
  sw_ffn_weights_pack(&a, gate, up, down, 0);
  sw_ffn_weights_pack(&b, gate, up, downT, 1);
  for (int i = 0; i < f; i++) {
    for (int j = 0; j < d; j++) {
      assert_true(sw_ffn_weight_at(a.gate, a.ld_gate, a.dtype, i, j) == gate[i * d + j]);
      assert_true(sw_ffn_weight_at(a.up, a.ld_up, a.dtype, i, j) == up[i * d + j]);
      assert_true(sw_ffn_weight_at(a.down, a.ld_down, a.dtype, i, j) == down[i * d + j]);
      assert_true(sw_ffn_weight_at(b.down, b.ld_down, b.dtype, i, j) == down[i * d + j]);
    }
  }
  assert_int_equal(sw_ffn_weights_bytes(&a), 3 * 35 * 4);
  sw_ffn_weights_free(&a);
  sw_ffn_weights_free(&b);
}

static void test_flops_hand_values(void **state) {
  (void)state;
  /* gated d=4, f=8, 2 tokens: per neuron 3 dots/axpys of 4 MACs = 24 FLOPs + 1 product; 16 pairs -> 400 */
  assert_true(sw_flops_ffn_dense(4, 8, 1, 2) == 400.0);
  assert_true(sw_flops_ffn_dense(4, 8, 0, 2) == 256.0); /* plain: 2 x 8 FLOPs per pair */
  assert_true(sw_flops_ffn_neurons(4096, 1, 1) == 24577.0);
  assert_true(sw_bytes_ffn_rows(4096, 1, SW_DTYPE_F32, 10) == 491520.0);
  assert_true(sw_bytes_ffn_rows(4096, 0, SW_DTYPE_BF16, 10) == 163840.0);
  assert_true(sw_flops_linear(576, 128, 3) == 442368.0);
}

/* The bandwidth kernel's checksum is the exact sum (values are powers of two, so float sums are exact) for every
 * read strategy, alone and split over pools of 2, 3 and 70 threads (more threads than checksum slots: the extra
 * ones stay idle).  The buffer length is not a multiple of any unrolled step, so the tails are covered too. */
static void test_membw_checksum(void **state) {
  sw_isa_t isa = kt_variant(state);
  enum { n = 4096 + 16 * 3 }; /* 16 KiB + 3 lines */
  static float buf[n];
  for (int i = 0; i < n; i++) buf[i] = (i % 2) ? 0.25f : 0.5f;
  const float want = (n / 2) * 0.25f + (n / 2) * 0.5f; /* hand sum: 1554 */
  static const int threads[] = {2, 3, 70};
  for (int st = 0; st < SW_MEMBW_N_STRATEGIES; st++) {
    sw_membw_t how = {isa, (sw_membw_strategy_t)st};
    assert_true(sw_membw_read(&how, buf, sizeof buf) == want);
    assert_true(sw_membw_read(&how, buf + 1, sizeof buf - 2 * sizeof *buf) == want - 0.75f);
    assert_true(sw_membw_read_pool(NULL, &how, buf, sizeof buf) == want);
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
      sw_pool_t *pool = NULL;
      sw_err_t   err;
      assert_int_equal(sw_pool_create(&pool, threads[t], &err), SW_OK);
      assert_true(sw_membw_read_pool(pool, &how, buf, sizeof buf) == want);
      sw_pool_destroy(pool);
    }
  }
}

/* Level resolution through the workspace: auto without the environment variable is the best level; an explicit
 * level the CPU lacks is refused and leaves the workspace's level unchanged. */
static void test_work_isa_choice(void **state) {
  (void)state;
  sw_ffn_work_t work;
  sw_err_t      err;
  const char   *env = getenv(SW_ISA_ENV);
  assert_int_equal(sw_ffn_work_alloc(&work, 8, 8, 1, 1, &err), SW_OK);
  if (!env || !*env) assert_int_equal(work.isa, sw_isa_best());
  assert_int_equal(sw_ffn_work_set_isa(&work, SW_ISA_PORTABLE, &err), SW_OK);
  assert_int_equal(work.isa, SW_ISA_PORTABLE);
  sw_isa_t missing = SW_ISA_COUNT;
  for (int l = SW_ISA_COUNT - 1; l >= 0; l--)
    if (!sw_isa_supported((sw_isa_t)l)) missing = (sw_isa_t)l;
  if (missing != SW_ISA_COUNT) {
    assert_int_equal(sw_ffn_work_set_isa(&work, missing, &err), SW_ERR_UNSUPPORTED);
    assert_int_equal(work.isa, SW_ISA_PORTABLE);
  }
  sw_ffn_work_free(&work);
  /* the recorded variant attributes name every variant compiled in (kernels/sw_isa.c) */
  assert_non_null(strstr(sw_isa_variant_flags(), "portable"));
  if (missing == SW_ISA_COUNT) {
    print_message("refusal of a missing level not checked: this CPU supports every level\n");
    skip();
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_act_values),
      cmocka_unit_test(test_act_parse),
      cmocka_unit_test(test_bf16_round),
      cmocka_unit_test(test_pack_layouts),
      KT_VARIANT(test_dense_matches_reference),
      KT_VARIANT(test_sparse_matches_masked_reference),
      KT_VARIANT(test_sparse_bf16_and_threads),
      KT_VARIANT(test_sparse_tiled_batches),
      cmocka_unit_test(test_zeroing_mutation_is_caught),
      KT_VARIANT(test_sparse_down_and_gemv),
      cmocka_unit_test(test_invalid_args),
      cmocka_unit_test(test_flops_hand_values),
      KT_VARIANT(test_membw_checksum),
      cmocka_unit_test(test_work_isa_choice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
