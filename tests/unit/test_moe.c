/* Unit tests for kernels/sw_moe against float64 references from the ORIGINAL weights: all experts = dense FFN
 * for every clustering; any expert mask = the masked sum of its neurons; batched per-expert GEMM = per-token
 * path (outputs poisoned before each call); oracle scores = float64 expert output norms; the selection rules'
 * defining properties (top-k, dynamic-k by max ratio at τ=0 and τ→1, minimal cumulative share, LTE score > τ);
 * accounting; and on a planted-cluster FFN, balanced k-means beats a random partition and trained routers beat
 * random routing at a fixed number of experts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_act.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_moe.h"
#include "tests/unit/test_isa_variants.h"

/* float32 sgemm/sgemv over <= 64-term dot products vs float64 loops. */
#define OUT_TOL_ABS 2e-5
#define OUT_TOL_REL 2e-4
/* Routed reconstruction error: a trained router may lose this much (absolute) to the oracle beyond 2x. */
#define ROUTER_TOL_ABS 0.02
/* Cumulative expert shares are float32 scores summed in float64. */
#define SHARE_TOL_ABS 1e-6
/* Floors on the largest |reference output|, so that a kernel returning zeros cannot pass (outputs of the
 * float64 fixtures are O(1); the bf16 one is smaller). */
#define REF_MAGNITUDE_MIN 0.1
#define REF_MAGNITUDE_MIN_BF16 0.05

/* A test FFN in plain float arrays (rows of d), viewed through sw_ffn_weights_t. */
typedef struct tffn {
  int              d, dff, gated;
  float           *g, *u, *dn, *bu, *bd;
  sw_ffn_weights_t w;
} tffn_t;

static void fill_normal(float *x, size_t n, double scale, sw_mlp_rng_t *r) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * sw_mlp_rng_normal(r));
}

static void tffn_init(tffn_t *f, int d, int dff, int gated, sw_act_t act, int biases, uint64_t seed) {
  memset(f, 0, sizeof *f);
  sw_mlp_rng_t r = {seed};
  f->d = d, f->dff = dff, f->gated = gated;
  size_t n = (size_t)d * (size_t)dff;
  f->u = malloc(n * sizeof(float)), f->dn = malloc(n * sizeof(float));
  fill_normal(f->u, n, 1.0 / sqrt(d), &r);
  fill_normal(f->dn, n, 1.0 / sqrt(dff), &r);
  if (gated) f->g = malloc(n * sizeof(float)), fill_normal(f->g, n, 1.0 / sqrt(d), &r);
  if (biases) {
    f->bu = malloc((size_t)dff * sizeof(float)), f->bd = malloc((size_t)d * sizeof(float));
    fill_normal(f->bu, (size_t)dff, 0.3, &r);
    fill_normal(f->bd, (size_t)d, 0.3, &r);
  }
  sw_ffn_weights_t *w = &f->w;
  w->d_model = d, w->d_ff = dff, w->gated = gated, w->act = act, w->dtype = SW_DTYPE_F32;
  w->gate = f->g, w->up = f->u, w->down = f->dn, w->ld_gate = w->ld_up = w->ld_down = (size_t)d;
  w->b_up = f->bu, w->b_down = f->bd;
}

static void tffn_free(tffn_t *f) { free(f->g), free(f->u), free(f->dn), free(f->bu), free(f->bd); }

/* float64 h_i(x) from the original weights. */
static double ref_h(const tffn_t *f, const float *x, int i) {
  double u = f->bu ? f->bu[i] : 0.0, g = 0.0;
  for (int k = 0; k < f->d; k++) u += (double)f->u[(size_t)i * f->d + k] * x[k];
  if (!f->gated) return sw_act_ref(f->w.act, u, 0.0);
  for (int k = 0; k < f->d; k++) g += (double)f->g[(size_t)i * f->d + k] * x[k];
  return sw_act_ref(f->w.act, g, 0.0) * u;
}

/* out[d] = Σ_{i: use(i)} h_i down_i + b_down, use = NULL: every neuron (the dense FFN). */
static void ref_out(double *out, const tffn_t *f, const float *x, const int32_t *assign, const uint8_t *expert_on) {
  for (int k = 0; k < f->d; k++) out[k] = f->bd ? f->bd[k] : 0.0;
  for (int i = 0; i < f->dff; i++) {
    if (expert_on && !expert_on[assign[i]]) continue;
    double h = ref_h(f, x, i);
    for (int k = 0; k < f->d; k++) out[k] += h * f->dn[(size_t)i * f->d + k];
  }
}

static void poison(float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = NAN;
}

static double check_close(const float *y, const double *ref, int n) {
  double mx = 0;
  for (int k = 0; k < n; k++) {
    if (!(fabs(y[k] - ref[k]) <= OUT_TOL_ABS + OUT_TOL_REL * fabs(ref[k])))
      fail_msg("element %d: %.8g vs reference %.8g", k, (double)y[k], ref[k]);
    mx = fmax(mx, fabs(ref[k]));
  }
  return mx;
}

/* Expert-on flags of token t of a mask. */
static void mask_flags(uint8_t *on, const sw_mask_t *m, int t) {
  memset(on, 0, (size_t)m->n_units);
  for (int64_t p = m->off[t]; p < m->off[t + 1]; p++) on[m->idx[p]] = 1;
}

typedef struct shape {
  int d, dff, E, gated, biases;
  sw_act_t act;
} shape_t;

static const shape_t k_shapes[] = {
    {23, 96, 8, 1, 0, SW_ACT_SILU},  /* Llama-style SwiGLU, odd d_model */
    {17, 60, 5, 0, 1, SW_ACT_RELU},  /* BERT/T5-style plain ReLU with both biases */
    {9, 36, 36, 1, 0, SW_ACT_RELU},  /* one neuron per expert (ReGLU) */
};

/* Every clustering, batch 1..33: all experts = dense float64 FFN; random masks = masked reference; batched =
 * per-token; in every SIMD variant the CPU runs (the gathered expert path uses the variant's row primitives). */
static void test_moe_equals_reference(void **state) {
  sw_isa_t isa = kt_variant(state);
  sw_err_t err;
  for (size_t si = 0; si < sizeof k_shapes / sizeof k_shapes[0]; si++) {
    const shape_t *s = &k_shapes[si];
    tffn_t f;
    tffn_init(&f, s->d, s->dff, s->gated, s->act, s->biases, 100 + si);
    for (int kind = 0; kind < 3; kind++) {
      int32_t *assign = malloc((size_t)s->dff * sizeof(int32_t));
      assert_int_equal(sw_moe_partition(assign, &f.w, (sw_partition_t)kind, s->E, NULL, 7, &err), SW_OK);
      sw_moe_t moe;
      assert_int_equal(sw_moe_build(&moe, &f.w, assign, s->E, &err), SW_OK);
      const int toks[4] = {1, 3, 33, 257};
      for (int ti = 0; ti < 4; ti++) {
        const int T = toks[ti];
        sw_mlp_rng_t r = {(uint64_t)(T * 31 + kind)};
        float *x = malloc((size_t)T * s->d * sizeof(float)), *y = malloc((size_t)T * s->d * sizeof(float));
        float *y2 = malloc((size_t)T * s->d * sizeof(float));
        double *ref = malloc((size_t)s->d * sizeof(double));
        fill_normal(x, (size_t)T * s->d, 1.0, &r);
        sw_moe_work_t work;
        sw_mask_t mask;
        assert_int_equal(sw_moe_work_alloc(&work, &moe, NULL, T, &err), SW_OK);
        work.isa = isa;
        assert_int_equal(sw_mask_alloc(&mask, s->E, T, &err), SW_OK);
        /* all experts */
        sw_mask_set_all(&mask, T);
        poison(y, (size_t)T * s->d);
        assert_int_equal(sw_moe_forward(y, x, &moe, &mask, NULL, &work, T), SW_OK);
        double mx = 0;
        for (int t = 0; t < T; t++) {
          ref_out(ref, &f, x + (size_t)t * s->d, NULL, NULL);
          mx = fmax(mx, check_close(y + (size_t)t * s->d, ref, s->d));
        }
        assert_true(mx > REF_MAGNITUDE_MIN);
        /* random masks, including empty and full tokens */
        uint8_t *flags = malloc((size_t)T * s->E), *on = malloc((size_t)s->E);
        for (int t = 0; t < T; t++)
          for (int e = 0; e < s->E; e++) flags[t * s->E + e] = t % 5 == 1 ? 0 : (t % 5 == 2 ? 1 : sw_mlp_rng_uniform(&r) < 0.3);
        sw_mask_from_flags(&mask, flags, T);
        poison(y, (size_t)T * s->d);
        poison(y2, (size_t)T * s->d);
        assert_int_equal(sw_moe_forward(y, x, &moe, &mask, NULL, &work, T), SW_OK);
        assert_int_equal(sw_moe_forward_per_token(y2, x, &moe, &mask, NULL, &work, T), SW_OK);
        for (int t = 0; t < T; t++) {
          mask_flags(on, &mask, t);
          ref_out(ref, &f, x + (size_t)t * s->d, assign, on);
          check_close(y + (size_t)t * s->d, ref, s->d);
          check_close(y2 + (size_t)t * s->d, ref, s->d);
        }
        free(flags), free(on), free(x), free(y), free(y2), free(ref);
        sw_mask_free(&mask);
        sw_moe_work_free(&work);
      }
      sw_moe_free(&moe);
      sw_moe_free(&moe); /* idempotent */
      free(assign);
    }
    tffn_free(&f);
  }
}

/* Shared fixture for the selection tests: a SwiGLU FFN, its MoE (k-means) and oracle scores of T tokens. */
typedef struct fixture {
  tffn_t        f;
  sw_moe_t      moe;
  int32_t      *assign;
  sw_moe_work_t work;
  sw_mask_t     mask;
  float        *x, *scores;
  int           T, E;
} fixture_t;

static void fixture_init(fixture_t *fx, int T) {
  sw_err_t err;
  memset(fx, 0, sizeof *fx);
  fx->T = T, fx->E = 8;
  tffn_init(&fx->f, 20, 64, 1, SW_ACT_SILU, 0, 9);
  fx->assign = malloc(64 * sizeof(int32_t));
  assert_int_equal(sw_moe_partition(fx->assign, &fx->f.w, SW_PARTITION_BALANCED_KMEANS, 8, NULL, 1, &err), SW_OK);
  assert_int_equal(sw_moe_build(&fx->moe, &fx->f.w, fx->assign, 8, &err), SW_OK);
  assert_int_equal(sw_moe_work_alloc(&fx->work, &fx->moe, NULL, T, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&fx->mask, 8, T, &err), SW_OK);
  sw_mlp_rng_t r = {77};
  fx->x = malloc((size_t)T * 20 * sizeof(float));
  fx->scores = malloc((size_t)T * 8 * sizeof(float));
  fill_normal(fx->x, (size_t)T * 20, 1.0, &r);
  sw_moe_router_t oracle;
  assert_int_equal(sw_moe_router_train(&oracle, SW_MOE_ROUTER_ORACLE, &fx->moe, NULL, 0, NULL, NULL, &err), SW_OK);
  assert_int_equal(sw_moe_router_scores(fx->scores, &oracle, &fx->moe, fx->x, T, &fx->work), SW_OK);
}

static void fixture_free(fixture_t *fx) {
  sw_mask_free(&fx->mask);
  sw_moe_work_free(&fx->work);
  sw_moe_free(&fx->moe);
  tffn_free(&fx->f);
  free(fx->assign), free(fx->x), free(fx->scores);
}

static void test_oracle_scores_are_expert_norms(void **state) {
  (void)state;
  fixture_t fx;
  fixture_init(&fx, 6);
  uint8_t on[8];
  double ref[20];
  for (int t = 0; t < fx.T; t++)
    for (int e = 0; e < 8; e++) {
      memset(on, 0, sizeof on);
      on[e] = 1;
      ref_out(ref, &fx.f, fx.x + t * 20, fx.assign, on);
      double n2 = 0;
      for (int k = 0; k < 20; k++) n2 += ref[k] * ref[k];
      double g = fx.scores[t * 8 + e];
      assert_true(fabs(g - sqrt(n2)) <= OUT_TOL_ABS + OUT_TOL_REL * sqrt(n2));
    }
  fixture_free(&fx);
}

static void test_dynk_max_extremes(void **state) {
  (void)state;
  fixture_t fx;
  fixture_init(&fx, 40);
  sw_err_t err;
  /* τ = 0: every expert, and the output is the dense FFN */
  assert_int_equal(sw_moe_select(&fx.mask, fx.scores, SW_MOE_SELECT_DYNK_MAX, 0, 0.0, 0, &fx.work, fx.T), SW_OK);
  for (int t = 0; t < fx.T; t++) assert_int_equal(sw_mask_count(&fx.mask, t), 8);
  float *y = malloc((size_t)fx.T * 20 * sizeof(float));
  double ref[20];
  poison(y, (size_t)fx.T * 20);
  assert_int_equal(sw_moe_forward(y, fx.x, &fx.moe, &fx.mask, NULL, &fx.work, fx.T), SW_OK);
  for (int t = 0; t < fx.T; t++) {
    ref_out(ref, &fx.f, fx.x + t * 20, NULL, NULL);
    check_close(y + t * 20, ref, 20);
  }
  /* τ -> 1: exactly one expert per token, the argmax */
  const double taus[3] = {0.999999, 1.0, 1.5};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(sw_moe_select(&fx.mask, fx.scores, SW_MOE_SELECT_DYNK_MAX, 0, taus[i], 0, &fx.work, fx.T), SW_OK);
    for (int t = 0; t < fx.T; t++) {
      assert_int_equal(sw_mask_count(&fx.mask, t), 1);
      int e = fx.mask.idx[fx.mask.off[t]];
      for (int j = 0; j < 8; j++) assert_true(fx.scores[t * 8 + j] <= fx.scores[t * 8 + e]);
    }
  }
  /* intermediate τ: exactly the rule */
  assert_int_equal(sw_moe_select(&fx.mask, fx.scores, SW_MOE_SELECT_DYNK_MAX, 0, 0.5, 0, &fx.work, fx.T), SW_OK);
  uint8_t on[8];
  int64_t total = 0;
  for (int t = 0; t < fx.T; t++) {
    float mx = 0;
    for (int e = 0; e < 8; e++) mx = fmaxf(mx, fx.scores[t * 8 + e]);
    mask_flags(on, &fx.mask, t);
    for (int e = 0; e < 8; e++) assert_int_equal(on[e], (double)fx.scores[t * 8 + e] >= 0.5 * mx);
    total += sw_mask_count(&fx.mask, t);
  }
  assert_true(total > fx.T && total < 8 * fx.T); /* the rule is not degenerate on this data */
  /* all-zero scores with τ > 0: one expert */
  float zero[8] = {0};
  assert_int_equal(sw_moe_select(&fx.mask, zero, SW_MOE_SELECT_DYNK_MAX, 0, 0.3, 0, &fx.work, 1), SW_OK);
  assert_int_equal(sw_mask_count(&fx.mask, 0), 1);
  sw_moe_select_t sel;
  assert_int_equal(sw_moe_select_parse(&sel, "dynk_max", &err), SW_OK);
  assert_int_equal(sel, SW_MOE_SELECT_DYNK_MAX);
  assert_int_equal(sw_moe_select_parse(&sel, "dynk", &err), SW_ERR_INVALID);
  free(y);
  fixture_free(&fx);
}

static void test_dynk_cum_properties(void **state) {
  (void)state;
  fixture_t fx;
  fixture_init(&fx, 40);
  /* add an all-zero token and a token with ties */
  for (int e = 0; e < 8; e++) fx.scores[e] = 0.0f, fx.scores[8 + e] = (float)(e % 2);
  const double taus[5] = {0.0, 0.3, 0.6, 0.9, 1.0};
  uint8_t on[8];
  for (int i = 0; i < 5; i++) {
    assert_int_equal(sw_moe_select(&fx.mask, fx.scores, SW_MOE_SELECT_DYNK_CUM, 0, taus[i], 0, &fx.work, fx.T), SW_OK);
    for (int t = 0; t < fx.T; t++) {
      const float *g = fx.scores + t * 8;
      int64_t c = sw_mask_count(&fx.mask, t);
      assert_true(c >= 1);
      double tot = 0, sel = 0, min_sel = INFINITY, max_unsel = -INFINITY;
      mask_flags(on, &fx.mask, t);
      for (int e = 0; e < 8; e++) {
        tot += g[e];
        if (on[e]) sel += g[e], min_sel = fmin(min_sel, g[e]);
        else max_unsel = fmax(max_unsel, g[e]);
      }
      if (tot <= 0) continue;
      assert_true(min_sel >= max_unsel); /* a prefix of the sorted shares */
      assert_true(sel / tot >= taus[i] - SHARE_TOL_ABS || c == 8);
      if (c > 1) assert_true((sel - min_sel) / tot < taus[i] + SHARE_TOL_ABS); /* the shortest such prefix */
    }
  }
  fixture_free(&fx);
}

static void test_topk_and_score_rules(void **state) {
  (void)state;
  fixture_t fx;
  fixture_init(&fx, 25);
  uint8_t on[8];
  for (int k = 0; k <= 8; k += 2) {
    assert_int_equal(sw_moe_select(&fx.mask, fx.scores, SW_MOE_SELECT_TOPK, k, 0.0, 0, &fx.work, fx.T), SW_OK);
    for (int t = 0; t < fx.T; t++) {
      assert_int_equal(sw_mask_count(&fx.mask, t), k);
      mask_flags(on, &fx.mask, t);
      for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
          if (on[a] && !on[b]) assert_true(fx.scores[t * 8 + a] >= fx.scores[t * 8 + b]);
    }
  }
  /* LTE rule: raw scores > τ, and max-normalised scores > τ */
  for (int norm = 0; norm <= 1; norm++) {
    assert_int_equal(sw_moe_select(&fx.mask, fx.scores, SW_MOE_SELECT_SCORE, 0, 0.4, norm, &fx.work, fx.T), SW_OK);
    for (int t = 0; t < fx.T; t++) {
      float mx = 0;
      for (int e = 0; e < 8; e++) mx = fmaxf(mx, fx.scores[t * 8 + e]);
      mask_flags(on, &fx.mask, t);
      for (int e = 0; e < 8; e++) {
        double s = norm ? fx.scores[t * 8 + e] / mx : fx.scores[t * 8 + e];
        assert_int_equal(on[e], s > 0.4);
      }
    }
  }
  fixture_free(&fx);
}

static void test_accounting(void **state) {
  (void)state;
  fixture_t fx;
  fixture_init(&fx, 12);
  sw_ffn_stats_t st;
  float *y = malloc(12 * 20 * sizeof(float));
  assert_int_equal(sw_moe_select(&fx.mask, fx.scores, SW_MOE_SELECT_TOPK, 2, 0.0, 0, &fx.work, fx.T), SW_OK);
  assert_int_equal(sw_moe_forward(y, fx.x, &fx.moe, &fx.mask, &st, &fx.work, fx.T), SW_OK);
  const double per_neuron = 3 * 2 * 20 + 1; /* gate, up dots and down axpy, 2 FLOPs per multiply-add; 1 product */
  assert_int_equal(st.experts_executed, 24);
  assert_int_equal(st.experts_total, 96);
  assert_int_equal(st.neurons_executed, 24 * 8);
  assert_true(st.flops == 24 * 8 * per_neuron);
  assert_true(st.flops_dense == 12 * 64 * per_neuron);
  assert_true(st.rows_read <= 64 && st.rows_read >= 16 && st.rows_read % 8 == 0);
  assert_true(st.weight_bytes == (double)st.rows_read * 3 * 20 * 4);
  /* routed call with the D2DMoE router: router FLOPs 2*(20*128 + 128*8) per token are added */
  sw_moe_router_cfg_t rc;
  sw_moe_router_defaults(&rc);
  rc.train.epochs = 1;
  sw_moe_router_t r;
  sw_err_t err;
  assert_int_equal(sw_moe_router_train(&r, SW_MOE_ROUTER_MLP, &fx.moe, fx.x, fx.T, &rc, NULL, &err), SW_OK);
  sw_moe_work_t w2;
  assert_int_equal(sw_moe_work_alloc(&w2, &fx.moe, &r, fx.T, &err), SW_OK);
  sw_ffn_stats_t st2;
  poison(y, 12 * 20);
  assert_int_equal(sw_moe_forward_routed(y, &fx.mask, fx.x, &fx.moe, &r, SW_MOE_SELECT_TOPK, 2, 0.0, &st2, &w2, fx.T),
                   SW_OK);
  const double router = 2.0 * (20 * 128 + 128 * 8);
  assert_true(st2.flops_select == 12 * router);
  assert_true(st2.flops == 24 * 8 * per_neuron + 12 * router);
  assert_true(sw_moe_router_flops(&r, &fx.moe) == router);
  for (int i = 0; i < 12 * 20; i++) assert_false(isnan(y[i]));
  sw_moe_work_free(&w2);
  sw_moe_router_free(&r);
  free(y);
  fixture_free(&fx);
}

/* bf16 weights are widened exactly: with all experts the MoE equals the library's float64 dense reference of
 * the bf16 FFN (sw_ffn_reference_f64 reads bf16 through sw_ffn_weight_at). */
static void test_bf16_source_weights(void **state) {
  (void)state;
  sw_err_t err;
  sw_ffn_weights_t w;
  assert_int_equal(sw_ffn_weights_alloc(&w, 19, 48, 1, SW_ACT_SILU, 0.0f, SW_DTYPE_BF16, &err), SW_OK);
  sw_ffn_weights_fill_random(&w, 3);
  int32_t assign[48];
  assert_int_equal(sw_moe_partition(assign, &w, SW_PARTITION_BALANCED_KMEANS, 6, NULL, 2, &err), SW_OK);
  sw_moe_t moe;
  assert_int_equal(sw_moe_build(&moe, &w, assign, 6, &err), SW_OK);
  enum { T = 5 };
  float x[T * 19], y[T * 19];
  double ref[T * 19];
  sw_mlp_rng_t r = {4};
  fill_normal(x, T * 19, 1.0, &r);
  sw_moe_work_t work;
  sw_mask_t mask;
  assert_int_equal(sw_moe_work_alloc(&work, &moe, NULL, T, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&mask, 6, T, &err), SW_OK);
  sw_mask_set_all(&mask, T);
  poison(y, T * 19);
  assert_int_equal(sw_moe_forward(y, x, &moe, &mask, NULL, &work, T), SW_OK);
  sw_ffn_reference_f64(ref, x, &w, NULL, T);
  double mx = 0;
  for (int t = 0; t < T; t++) mx = fmax(mx, check_close(y + t * 19, ref + t * 19, 19));
  assert_true(mx > REF_MAGNITUDE_MIN_BF16);
  sw_mask_free(&mask);
  sw_moe_work_free(&work);
  sw_moe_free(&moe);
  sw_ffn_weights_free(&w);
}

static void test_rejects_mismatches(void **state) {
  (void)state;
  fixture_t fx;
  fixture_init(&fx, 4);
  sw_err_t err;
  float y[5 * 20], x[5 * 20] = {0};
  sw_mask_t m7;
  assert_int_equal(sw_mask_alloc(&m7, 7, 4, &err), SW_OK);
  sw_mask_set_all(&m7, 4);
  assert_int_equal(sw_moe_forward(y, x, &fx.moe, &m7, NULL, &fx.work, 4), SW_ERR_INVALID);
  sw_mask_free(&m7);
  sw_mask_t m5;
  assert_int_equal(sw_mask_alloc(&m5, 8, 5, &err), SW_OK);
  sw_mask_set_all(&m5, 5);
  assert_int_equal(sw_moe_forward(y, x, &fx.moe, &m5, NULL, &fx.work, 5), SW_ERR_INVALID); /* work holds 4 */
  sw_mask_free(&m5);
  sw_moe_t bad;
  assert_int_equal(sw_moe_build(&bad, &fx.f.w, fx.assign, 7, &err), SW_ERR_INVALID);
  sw_moe_router_kind_t k;
  assert_int_equal(sw_moe_router_parse(&k, "classifier", &err), SW_OK);
  assert_int_equal(k, SW_MOE_ROUTER_CLASSIFIER);
  assert_int_equal(sw_moe_router_parse(&k, "softmax", &err), SW_ERR_INVALID);
  fixture_free(&fx);
}

/* ---- planted-cluster FFN: neurons in E groups whose up rows share a direction; a token aligned with one
 * group's direction activates mostly that group (ReLU).  Measures relative reconstruction error at k experts. */
typedef struct planted {
  tffn_t f;
  float *xtr, *xte;
  int    ntr, nte, E;
} planted_t;

static void planted_init(planted_t *p, int d, int dff, int E, int ntr, int nte) {
  tffn_init(&p->f, d, dff, 0, SW_ACT_RELU, 0, 5);
  sw_mlp_rng_t r = {55};
  float *c = malloc((size_t)E * d * sizeof(float));
  fill_normal(c, (size_t)E * d, 1.0 / sqrt(d), &r);
  for (int i = 0; i < dff; i++) { /* neuron i belongs to group (i*7) % E: not contiguous */
    int g = (i * 7) % E;
    for (int k = 0; k < d; k++) p->f.u[(size_t)i * d + k] = c[(size_t)g * d + k] + 0.3f * p->f.u[(size_t)i * d + k];
  }
  p->E = E, p->ntr = ntr, p->nte = nte;
  p->xtr = malloc((size_t)ntr * d * sizeof(float));
  p->xte = malloc((size_t)nte * d * sizeof(float));
  for (int t = 0; t < ntr + nte; t++) {
    float *x = t < ntr ? p->xtr + (size_t)t * d : p->xte + (size_t)(t - ntr) * d;
    int g = (int)sw_mlp_rng_below(&r, (size_t)E);
    for (int k = 0; k < d; k++) x[k] = (float)(3.0 * sqrt(d) * c[(size_t)g * d + k] + 0.5 * sw_mlp_rng_normal(&r));
  }
  free(c);
}

static void planted_free(planted_t *p) {
  tffn_free(&p->f);
  free(p->xtr), free(p->xte);
}

/* Mean over test tokens of ‖MoE_k(x) - FFN(x)‖ / ‖FFN(x)‖ with top-k experts by the router's scores
 * (router NULL: k random experts). */
static double routed_error(const planted_t *p, const int32_t *assign, sw_moe_router_kind_t kind, int k, size_t epochs) {
  sw_err_t err;
  sw_moe_t moe;
  assert_int_equal(sw_moe_build(&moe, &p->f.w, assign, p->E, &err), SW_OK);
  sw_moe_router_t r;
  sw_moe_router_cfg_t cfg;
  sw_moe_router_defaults(&cfg);
  cfg.train.epochs = epochs;
  cfg.train.lr = 3e-3;
  assert_int_equal(sw_moe_router_train(&r, kind, &moe, p->xtr, p->ntr, &cfg, NULL, &err), SW_OK);
  sw_moe_work_t work;
  sw_mask_t mask;
  assert_int_equal(sw_moe_work_alloc(&work, &moe, &r, p->nte, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&mask, p->E, p->nte, &err), SW_OK);
  const int d = p->f.d;
  float *y = malloc((size_t)p->nte * d * sizeof(float));
  double *ref = malloc((size_t)d * sizeof(double));
  assert_int_equal(sw_moe_forward_routed(y, &mask, p->xte, &moe, &r, SW_MOE_SELECT_TOPK, k, 0.0, NULL, &work, p->nte),
                   SW_OK);
  double sum = 0;
  for (int t = 0; t < p->nte; t++) {
    ref_out(ref, &p->f, p->xte + (size_t)t * d, NULL, NULL);
    double num = 0, den = 0;
    for (int j = 0; j < d; j++) num += pow(y[(size_t)t * d + j] - ref[j], 2), den += ref[j] * ref[j];
    sum += sqrt(num / den);
  }
  free(y), free(ref);
  sw_mask_free(&mask);
  sw_moe_work_free(&work);
  sw_moe_router_free(&r);
  sw_moe_free(&moe);
  return sum / p->nte;
}

static void test_kmeans_beats_random_partition(void **state) {
  (void)state;
  planted_t p;
  planted_init(&p, 32, 128, 8, 8, 64);
  sw_err_t err;
  int32_t km[128], rnd[128];
  assert_int_equal(sw_moe_partition(km, &p.f.w, SW_PARTITION_BALANCED_KMEANS, 8, NULL, 3, &err), SW_OK);
  assert_int_equal(sw_moe_partition(rnd, &p.f.w, SW_PARTITION_RANDOM, 8, NULL, 3, &err), SW_OK);
  double e_km = routed_error(&p, km, SW_MOE_ROUTER_ORACLE, 2, 0);
  double e_rnd = routed_error(&p, rnd, SW_MOE_ROUTER_ORACLE, 2, 0);
  print_message("oracle top-2 of 8 relative error: k-means %.4f, random partition %.4f\n", e_km, e_rnd);
  if (!(e_km < 0.5 * e_rnd)) fail_msg("k-means error %.3f vs random partition %.3f", e_km, e_rnd);
  planted_free(&p);
}

/* Trained routers (D2DMoE regression, MoEfication-style classifier) on held-out tokens: at k=2 of 8 experts
 * their reconstruction error is far below an untrained (random-init) router's and within 2x of the oracle's. */
static void test_trained_routers_route_well(void **state) {
  (void)state;
  planted_t p;
  planted_init(&p, 32, 128, 8, 512, 128);
  sw_err_t err;
  int32_t km[128];
  assert_int_equal(sw_moe_partition(km, &p.f.w, SW_PARTITION_BALANCED_KMEANS, 8, NULL, 3, &err), SW_OK);
  double e_oracle = routed_error(&p, km, SW_MOE_ROUTER_ORACLE, 2, 0);
  double e_untrained = routed_error(&p, km, SW_MOE_ROUTER_MLP, 2, 0);
  double e_mlp = routed_error(&p, km, SW_MOE_ROUTER_MLP, 2, 40);
  double e_cls = routed_error(&p, km, SW_MOE_ROUTER_CLASSIFIER, 2, 40);
  print_message("top-2 of 8 relative error: oracle %.4f, mlp %.4f, classifier %.4f, untrained %.4f\n", e_oracle, e_mlp,
                e_cls, e_untrained);
  assert_true(e_mlp < 2.0 * e_oracle + ROUTER_TOL_ABS && e_mlp < 0.5 * e_untrained);
  assert_true(e_cls < 2.0 * e_oracle + ROUTER_TOL_ABS && e_cls < 0.5 * e_untrained);
  planted_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      KT_VARIANT(test_moe_equals_reference),              cmocka_unit_test(test_oracle_scores_are_expert_norms),
      cmocka_unit_test(test_dynk_max_extremes),           cmocka_unit_test(test_dynk_cum_properties),
      cmocka_unit_test(test_topk_and_score_rules),        cmocka_unit_test(test_accounting),
      cmocka_unit_test(test_bf16_source_weights),         cmocka_unit_test(test_rejects_mismatches),          cmocka_unit_test(test_kmeans_beats_random_partition),
      cmocka_unit_test(test_trained_routers_route_well),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
