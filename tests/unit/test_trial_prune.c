/* Unit test for workers/sw_trial_prune: the model workload's pruning keys — defaults (off), 2:4 on at any
 * weight_sparsity, the calibration-cache tag, and errors that name the bad key or value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "workers/sw_trial_prune.h"

static sw_rc parse(const char *json, sw_trial_prune_t *p, sw_err_t *err) {
  sw_json_t *doc = NULL;
  assert_int_equal(sw_json_parse(json, strlen(json), &doc, err), SW_OK);
  sw_rc rc = sw_trial_prune_parse(p, doc, err);
  sw_json_free(doc);
  return rc;
}

static void test_keys(void **state) {
  (void)state;
  sw_trial_prune_t p;
  sw_err_t         err;
  assert_int_equal(parse("{\"method\":\"topk\"}", &p, &err), SW_OK);
  assert_false(p.on);
  assert_string_equal(p.tag, "");
  assert_int_equal(parse("{\"weight_sparsity\":0.5,\"prune\":\"wanda\"}", &p, &err), SW_OK);
  assert_true(p.on && p.cfg.method == SW_PRUNE_WANDA && p.cfg.pattern == SW_PRUNE_UNSTRUCTURED);
  assert_string_equal(p.tag, "+prune:wanda:unstructured:0.5");
  assert_int_equal(parse("{\"prune\":\"sparsegpt\",\"prune_pattern\":\"2:4\"}", &p, &err), SW_OK);
  assert_true(p.on && p.cfg.pattern == SW_PRUNE_NM24);
  assert_string_equal(p.tag, "+prune:sparsegpt:2:4:0.5");
  assert_int_equal(sw_trial_prune_timed_sparse(&p, 1), 1);
  assert_int_equal(sw_trial_prune_timed_sparse(&p, 0), 0);
}

static void test_errors(void **state) {
  (void)state;
  sw_trial_prune_t p;
  sw_err_t         err;
  assert_int_equal(parse("{\"weight_sparsity\":1.0}", &p, &err), SW_ERR_RANGE);
  assert_non_null(strstr(err.msg, "weight_sparsity"));
  assert_int_equal(parse("{\"weight_sparsity\":0.5,\"prune\":\"obs\"}", &p, &err), SW_ERR_INVALID); /* declared words */
  assert_non_null(strstr(err.msg, "'obs'"));
  assert_int_equal(parse("{\"prune_pattern\":\"4:8\"}", &p, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "'4:8'"));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_keys), cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
