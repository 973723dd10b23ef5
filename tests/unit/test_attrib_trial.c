/* Tests for the attribution workload (workers/sw_trial_attrib.c): bad settings are rejected naming the key;
 * on SmolLM2, activation ratio 1 (nothing deactivated) reproduces the dense model (KL ~ 0, top-1 agreement 1,
 * perplexity equal to the dense one), and ratio 0.5 of the corrected GxO reports the paper's sparsity
 * (1/3)·heads + (2/3)·MLP = 0.5 and loses quality.  Skipped when the model or text is absent. */
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

/* Masked FFN (sgemm) vs the dense kernel on the same weights: summation order only. */
#define SW_TOL_KL_DENSE 1e-4

static double metric(const sw_json_t *doc, const char *name) { return sw_test_trial_metric(doc, name); }
static void expect_error(const char *json, const char *needle) { sw_test_trial_error(sw_trial_run_attrib, json, needle); }

static void test_bad_settings(void **state) {
  (void)state;
  /* the declared rows of experiments/sw_keys_table.c refuse these before the runner looks at them */
  expect_error("{\"metric\":\"snip\"}", "'metric' = 'snip' is not allowed");
  expect_error("{\"protocol\":\"both\"}", "'protocol' = 'both' is not allowed");
  expect_error("{\"activation_ratio\":1.5}", "'activation_ratio' = 1.5 is out of range");
  expect_error("{\"scope\":\"mlp\"}", "'scope' = 'mlp' is not allowed");
}

/* Runs one attribution trial whose config is fmt (model, text, protocol, activation_ratio) over the test model;
 * fails the test with the trial's message on error. */
static sw_json_t *run_attrib(sw_trial_cache_t *cache, const char *fmt, const char *protocol, double ratio) {
  char json[4096];
  sw_json_t *doc = NULL;
  sw_err_t err = {0};
  snprintf(json, sizeof json, fmt, getenv("SW_MODEL_PATH"), getenv("SW_TEXT_PATH"), protocol, ratio);
  if (sw_test_trial_run(sw_trial_run_attrib, cache, json, &doc, &err) != SW_OK) fail_msg("%s", err.msg);
  return doc;
}

/* Skips the test when the model or the text is not there. */
static void need_model(void) {
  const char *model = getenv("SW_MODEL_PATH"), *text = getenv("SW_TEXT_PATH");
  if (!model || !text || access(model, R_OK) || access(text, R_OK)) skip();
}

static void test_ratio_one_is_dense(void **state) {
  (void)state;
  need_model();
  sw_trial_cache_t cache = {0};
  const char *fmt = "{\"model\":\"%s\",\"text\":\"%s\",\"calib_tokens\":64,\"eval_tokens\":64,\"window\":32,"
                    "\"prompt_tokens\":8,\"decode_tokens\":4,\"metric\":\"cor_gxo\",\"protocol\":\"%s\","
                    "\"activation_ratio\":%g}";
  sw_json_t *doc = run_attrib(&cache, fmt, "oracle", 1.0);
  assert_true(fabs(metric(doc, "kl")) < SW_TOL_KL_DENSE);
  assert_true(metric(doc, "top1_agree") == 1.0);
  assert_true(fabs(metric(doc, "ppl") / metric(doc, "ppl_dense") - 1) < 1e-3);
  assert_true(metric(doc, "sparsity_paper") == 0.0);
  sw_json_free(doc);
  doc = run_attrib(&cache, fmt, "calibrated", 0.5);
  /* 768 of 1536 neurons and round(4.5) = 5 of 9 heads per layer: (5/9)/3 + (2/3)·0.5 */
  assert_true(fabs(metric(doc, "sparsity_paper") - (5.0 / 27 + 1.0 / 3)) < 1e-12);
  assert_true(fabs(metric(doc, "achieved_sparsity") - 0.5) < 1e-12);
  assert_true(fabs(metric(doc, "head_sparsity") - 5.0 / 9) < 1e-12);
  assert_true(metric(doc, "kl") > 0.01);
  assert_true(metric(doc, "eval_windows") == 2);
  printf("SmolLM2 (2 windows of 32): calibrated cor_gxo at ratio 0.5: ppl %.1f (dense %.1f), KL %.3f; backward "
         "%.2fx the forward time\n", metric(doc, "ppl"), metric(doc, "ppl_dense"), metric(doc, "kl"),
         metric(doc, "grad_seconds_per_window") / metric(doc, "forward_seconds_per_window"));
  sw_json_free(doc);
  sw_trial_cache_free(&cache);
}

/* The built-in cloze task under both protocols: at ratio 1 nothing is masked, so the method's answers are the
 * dense model's on every item (paired difference exactly 0); at ratio 0.3 the oracle (per-item masks from each
 * item's own context) still scores every item and reports its cost. */
static void test_task(void **state) {
  (void)state;
  need_model();
  sw_trial_cache_t cache = {0};
  const char *fmt = "{\"model\":\"%s\",\"text\":\"%s\",\"calib_tokens\":64,\"eval_tokens\":64,\"window\":32,"
                    "\"metric\":\"gxo\",\"protocol\":\"%s\",\"activation_ratio\":%g,\"task\":\"cloze\","
                    "\"task_items\":3,\"task_context_bytes\":96}";
  const char *protocol[3] = {"oracle", "calibrated", "oracle"};
  const double ratio[3] = {1.0, 1.0, 0.3};
  for (int i = 0; i < 3; i++) {
    sw_json_t *doc = run_attrib(&cache, fmt, protocol[i], ratio[i]);
    assert_true(metric(doc, "task_items") == 3);
    assert_true(fabs(metric(doc, "task_acc") - metric(doc, "task_acc_dense") - metric(doc, "task_acc_diff")) < 1e-12);
    if (ratio[i] == 1.0) {
      assert_true(metric(doc, "task_acc_diff") == 0 && metric(doc, "task_acc_norm_diff") == 0);
      assert_true(metric(doc, "task_acc_only_method") == 0 && metric(doc, "task_acc_only_dense") == 0);
    }
    if (protocol[i][0] == 'o') assert_true(metric(doc, "task_oracle_seconds_per_item") > 0);
    sw_json_free(doc);
  }
  sw_trial_cache_free(&cache);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_settings),
      cmocka_unit_test(test_ratio_one_is_dense),
      cmocka_unit_test(test_task),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
