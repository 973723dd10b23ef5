/* The MoE methods of the "model" workload (workers/sw_trial_model.c) on the real SmolLM2 model, layers 0-1, 64
 * calibration tokens: every variant (MoEfication's MLP, ground-truth and similarity routers, k-means and
 * co-activation experts; D2DMoE's oracle and MLP routers, dynk_max / dynk_cum, random and contiguous experts; LTE)
 * runs and its stored labels say what ran (split, router, selection, sparsity definition 4); the router's
 * held-out recall / precision / predicted density are recorded per layer and averaged (exactly 1 / 1 for the
 * routers that are their own truth, exactly k/E density for top-k); a cached calibration restores the router
 * quality; keys that contradict the method are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/sw_test_trial.h"

static char config_buf[4096];

/* The test config (layers 0-1, short spans and timing) on the given weights plus extra keys. */
static const char *config_on(const char *weights, const char *extra) {
  const char *model = getenv("SW_MODEL_PATH"), *text = getenv("SW_TEXT_PATH");
  snprintf(config_buf, sizeof config_buf,
           "{\"workload\":\"model\",\"model\":\"%s\",\"text\":\"%s\",\"calib_tokens\":64,\"eval_tokens\":64,"
           "\"window\":32,\"prompt_tokens\":8,\"decode_tokens\":2,\"repetitions\":2,\"warmup\":0,\"layers\":\"0-1\","
           "\"weights\":\"%s\"%s}",
           model ? model : "cache/models/SmolLM2-135M-Instruct.Q4_1.gguf", text ? text : "cache/text/austen.txt", weights,
           extra);
  return config_buf;
}

static const char *config(const char *extra) { return config_on("f32", extra); }

static sw_json_t *run_on(sw_trial_cache_t *cache, const char *weights, const char *extra) {
  sw_json_t *doc = NULL;
  sw_err_t err = {0};
  if (sw_test_trial_run(sw_trial_run_model, cache, config_on(weights, extra), &doc, &err))
    fail_msg("%s %s: %s", weights, extra, err.msg);
  return doc;
}

static sw_json_t *run(sw_trial_cache_t *cache, const char *extra) { return run_on(cache, "f32", extra); }

#define M(doc, name) sw_test_trial_metric(doc, name)

typedef struct moe_case {
  const char *extra;                           /* method and MoE keys */
  const char *clustering, *router, *selection; /* expected labels */
  int         exact;                           /* 1: the router is its own truth (recall = precision = 1) */
  double      density;                         /* expected predicted density (top-k: k/E), < 0: any in (0, 1] */
} moe_case_t;

static void check_case(sw_trial_cache_t *cache, const moe_case_t *mc) {
  sw_json_t *r = run(cache, mc->extra);
  assert_true(M(r, "sparsity_definition") == 4.0);
  assert_string_equal(sw_test_trial_unit(r, "moe_clustering"), mc->clustering);
  assert_string_equal(sw_test_trial_unit(r, "moe_router"), mc->router);
  assert_string_equal(sw_test_trial_unit(r, "moe_selection"), mc->selection);
  double rec = M(r, "router_recall"), prec = M(r, "router_precision"), dens = M(r, "router_density");
  print_message("%s: recall %.3f precision %.3f density %.3f sparsity %.3f kl %.3f\n", mc->extra, rec, prec, dens,
                M(r, "achieved_sparsity"), M(r, "kl"));
  assert_true(rec >= 0 && rec <= 1 && prec >= 0 && prec <= 1 && dens > 0 && dens <= 1);
  assert_true(M(r, "router_recall_layer_00") >= 0 && M(r, "router_precision_layer_01") >= 0);
  assert_true(M(r, "router_density_layer_01") > 0);
  if (mc->exact) assert_true(rec == 1.0 && prec == 1.0);
  double s = M(r, "achieved_sparsity");
  assert_true(s >= 0 && s < 1);
  if (mc->density >= 0) { /* top-k: exactly E - k experts skipped, on held-out and evaluation tokens alike */
    assert_true(fabs(dens - mc->density) < 1e-6);
    assert_true(fabs(s - (1.0 - mc->density)) < 1e-6);
  }
  assert_true(M(r, "ffn_flops_saved") < 1.0 && M(r, "kl") >= 0.0);
  /* per-token expert sparsity percentiles, ordered and in [0, 1], for every MoE method */
  double p10 = M(r, "sparsity_token_p10"), p50 = M(r, "sparsity_token_p50"), p90 = M(r, "sparsity_token_p90");
  if (!(p10 >= 0 && p10 <= p50 && p50 <= p90 && p90 <= 1))
    fail_msg("%s: token sparsity p10 %g p50 %g p90 %g", mc->extra, p10, p50, p90);
  sw_json_free(r);
}

static const moe_case_t k_cases[] = {
    {",\"method\":\"moefication\",\"sparsity\":0.75", "balanced_kmeans", "moefication", "topk", 0, 0.25},
    {",\"method\":\"moefication\",\"router\":\"ground_truth\",\"sparsity\":0.5", "balanced_kmeans", "ground_truth",
     "topk", 1, 0.5},
    {",\"method\":\"moefication\",\"router\":\"similarity\",\"clustering\":\"coactivation\",\"sparsity\":0.5",
     "coactivation", "similarity", "topk", 0, 0.5},
    {",\"method\":\"d2dmoe\",\"router\":\"oracle\",\"selection\":\"dynk_cum\",\"tau\":0.9", "balanced_kmeans", "oracle",
     "dynk_cum", 1, -1},
    {",\"method\":\"d2dmoe\",\"clustering\":\"random\",\"tau\":0.3", "random", "mlp", "dynk_max", 0, -1},
    {",\"method\":\"d2dmoe\",\"clustering\":\"contiguous\",\"selection\":\"dynk_cum\",\"tau\":0.9", "contiguous", "mlp",
     "dynk_cum", 0, -1},
    {",\"method\":\"lte\",\"eta\":0.5", "balanced_kmeans", "lte", "score", 0, -1},
};

static void test_moe_variants(void **state) {
  (void)state;
  sw_trial_cache_t cache = {0};
  for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) check_case(&cache, &k_cases[i]);
  /* the first case again: router, experts and held-out router quality come from the disk calibration cache */
  sw_json_t *b = run(&cache, k_cases[0].extra);
  assert_true(M(b, "calib_cached") == 1.0);
  assert_true(M(b, "router_recall") >= 0 && M(b, "router_best_epoch") >= 0);
  sw_json_free(b);
  sw_trial_cache_free(&cache);
}

/* The routed methods on native weights (experts and Deja Vu's neurons gathered from the file's blocks): a
 * static top-k skips exactly the requested fraction, FLOPs are counted as on f32, and the quality is measured against the
 * native dense model (KL finite, non-negative, and of the size of the f32 run's). */
static void test_routed_native(void **state) {
  (void)state;
  sw_trial_cache_t cache = {0};
  const char *extra[] = {",\"method\":\"moefication\",\"router\":\"ground_truth\",\"sparsity\":0.5",
                         ",\"method\":\"dejavu\",\"sparsity\":0.5",
                         ",\"method\":\"dejavu\",\"sparsity\":0.5,\"predictor_input\":\"previous\""};
  for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
    sw_json_t *n = run_on(&cache, "native", extra[i]), *f = run(&cache, extra[i]);
    print_message("native %s: sparsity %.4f kl %.4f (f32 kl %.4f)\n", extra[i], M(n, "achieved_sparsity"), M(n, "kl"),
                  M(f, "kl"));
    assert_true(M(n, "weights_native") == 1.0);
    assert_true(fabs(M(n, "achieved_sparsity") - 0.5) < 1e-9);
    /* FLOPs counted alike on both weights (the ground-truth router's own cost can exceed the saving) */
    assert_true(fabs(M(n, "ffn_flops_saved") - M(f, "ffn_flops_saved")) < 0.05);
    assert_true(M(n, "kl") >= 0.0 && M(n, "kl") < 2.0 * M(f, "kl") + 0.05);
    sw_json_free(n);
    sw_json_free(f);
  }
  /* PowerInfer thresholds its logits, so its sparsity is not fixed: the same predictor on the native model's
   * slightly different hidden states selects nearly the same fraction as on f32. */
  const char *pi = ",\"method\":\"powerinfer\",\"sparsity\":0.5";
  sw_json_t *n = run_on(&cache, "native", pi), *f = run(&cache, pi);
  print_message("native powerinfer: sparsity %.4f kl %.4f (f32: %.4f, %.4f)\n", M(n, "achieved_sparsity"), M(n, "kl"),
                M(f, "achieved_sparsity"), M(f, "kl"));
  assert_true(M(n, "weights_native") == 1.0);
  assert_true(M(f, "achieved_sparsity") > 0.0 && fabs(M(n, "achieved_sparsity") - M(f, "achieved_sparsity")) < 0.05);
  assert_true(M(n, "kl") >= 0.0 && M(n, "kl") < 2.0 * M(f, "kl") + 0.05);
  sw_json_free(n);
  sw_json_free(f);
  sw_trial_cache_free(&cache);
}

static void test_moe_keys_refused(void **state) {
  (void)state;
  sw_test_trial_error(sw_trial_run_model, config(",\"method\":\"moefication\",\"router\":\"lte\""), "lte");
  sw_test_trial_error(sw_trial_run_model, config(",\"method\":\"d2dmoe\",\"clustering\":\"spectral\""), "clustering");
  sw_test_trial_error(sw_trial_run_model, config(",\"method\":\"lte\",\"eta\":500"), "'eta' = 500");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_moe_variants), cmocka_unit_test(test_moe_keys_refused),
                                     cmocka_unit_test(test_routed_native)};
  if (getenv("SW_TEST_FILTER")) cmocka_set_test_filter(getenv("SW_TEST_FILTER")); /* one test by name, by hand */
  return cmocka_run_group_tests_name("model_moe", tests, NULL, NULL);
}
