/* Tests for the modularity workload (workers/sw_trial_modularity.c): bad 'subsets' specs are rejected with a
 * message naming the entry; on SmolLM2, two subsets that are the same byte span must give IoU 1 for both
 * statistics, no subset-specific neurons, an ablation that changes nothing (Δ NLL exactly 0) and equal dense
 * NLLs, while a different text (the GPL) overlaps less than fully.  Skipped when the model or texts are absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sw_json.h"
#include "workers/sw_trial.h"
#include "tests/unit/sw_test_trial.h"

static double metric(const sw_json_t *doc, const char *name) { return sw_test_trial_metric(doc, name); }
static void expect_error(const char *json, const char *needle) { sw_test_trial_error(sw_trial_run_modularity, json, needle); }

static void test_bad_subsets(void **state) {
  (void)state;
  expect_error("{\"workload\":\"modularity\"}", "missing 'subsets'");
  expect_error("{\"subsets\":\"a=/x\"}", "at least 2");
  expect_error("{\"subsets\":\"a=/x;Prose=/y\"}", "subset name 'Prose'");
  expect_error("{\"subsets\":\"a=/x;b=/y@12k\"}", "bad offset '12k'");
  expect_error("{\"subsets\":\"a=/x;/y\"}", "subset 2 '/y' is not name=path");
  expect_error("{\"subsets\":\"a=/x;b=/y\",\"tokens\":64,\"window\":64}", "need 3..");
}

static void test_identical_subsets(void **state) {
  (void)state;
  const char *model = getenv("SW_MODEL_PATH"), *text = getenv("SW_TEXT_PATH"), *gpl = "/usr/share/common-licenses/GPL-3";
  if (!model || !text || access(model, R_OK) || access(text, R_OK) || access(gpl, R_OK)) skip();
  char json[4096];
  snprintf(json, sizeof json,
           "{\"model\":\"%s\",\"subsets\":\"a=%s@0;b=%s@0;gpl=%s\",\"tokens\":64,\"window\":16,\"clusters\":16}", model,
           text, text, gpl);
  sw_trial_cache_t cache = {0};
  sw_json_t *doc = NULL;
  sw_err_t err = {0};
  if (sw_test_trial_run(sw_trial_run_modularity, &cache, json, &doc, &err) != SW_OK) fail_msg("%s", err.msg);
  /* means over 30 layers of exact 1s: equal to 1 up to the rounding of the sum */
  assert_true(fabs(metric(doc, "iou_act_a_b") - 1.0) < 1e-12 && fabs(metric(doc, "iou_act_a_b_se")) < 1e-12);
  assert_true(fabs(metric(doc, "iou_attr_a_b") - 1.0) < 1e-12);
  assert_true(metric(doc, "iou_act_l07_a_b") == 1.0);
  assert_true(metric(doc, "iou_act_a_gpl") < 0.9);
  assert_true(metric(doc, "specific_neurons_a") == 0.0);
  assert_true(metric(doc, "specific_neurons_gpl") > 0.0);
  assert_true(metric(doc, "ablate_a_on_a_dnll") == 0.0 && metric(doc, "ablate_b_on_gpl_dnll") == 0.0);
  assert_true(metric(doc, "nll_dense_a") == metric(doc, "nll_dense_b"));
  assert_true(fabs(metric(doc, "cluster_spec_uniform") - 1.0 / 3) < 1e-12);
  double f = 154.0 / 1536; /* round(0.1 · d_ff) of SmolLM2 */
  assert_true(fabs(metric(doc, "iou_random") - f / (2 - f)) < 1e-12);
  double c = metric(doc, "cluster_spec");
  assert_true(c >= 1.0 / 3 && c <= 1.0);
  printf("SmolLM2, 2 windows of 16 tokens: IoU(a, gpl) %.3f, cluster specialisation %.3f (random partition %.3f), "
         "ablating gpl-specific neurons: dNLL on gpl %.3f, on a %.3f\n", metric(doc, "iou_act_a_gpl"), c,
         metric(doc, "cluster_spec_random"), metric(doc, "ablate_gpl_on_gpl_dnll"), metric(doc, "ablate_gpl_on_a_dnll"));
  sw_json_free(doc);
  sw_trial_cache_free(&cache);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_subsets),
      cmocka_unit_test(test_identical_subsets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
