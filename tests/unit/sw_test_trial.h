/* sw_test_trial: runs a workload runner in-process on a JSON config and reads its metrics back (tests of the
 * attribution and modularity workloads).  Header-only, test code only; include after cmocka.h. */
#ifndef SW_TEST_TRIAL_H
#define SW_TEST_TRIAL_H
#include <math.h>
#include <string.h>

#include "common/sw_json.h"
#include "workers/sw_trial.h"

/* Runs fn on the config json; on success *doc (free with sw_json_free) is the result JSON. */
static inline sw_rc sw_test_trial_run(sw_trial_fn fn, sw_trial_cache_t *cache, const char *json, sw_json_t **doc,
                                      sw_err_t *err) {
  sw_json_t *cfg = NULL;
  sw_trial_out_t out;
  assert_int_equal(sw_json_parse(json, strlen(json), &cfg, err), SW_OK);
  sw_trial_out_init(&out);
  sw_rc rc = fn(cache, cfg, &out, err);
  if (out.bad_metric[0]) fail_msg("undeclared metric %s (common/sw_metrics.h)", out.bad_metric);
  if (!rc) {
    sw_buf_t b = SW_BUF_INIT;
    sw_trial_out_json(&out, &b);
    assert_int_equal(sw_json_parse(b.data, b.len, doc, err), SW_OK);
    sw_buf_free(&b);
  }
  sw_trial_out_free(&out);
  sw_json_free(cfg);
  return rc;
}

/* The value of metric `name` in a result JSON (the test fails when it is absent). */
static inline double sw_test_trial_metric(const sw_json_t *doc, const char *name) {
  const sw_json_t *arr = sw_json_get(doc, "metrics");
  for (size_t i = 0; i < arr->count; i++)
    if (strcmp(sw_json_get(&arr->items[i], "name")->string, name) == 0) return sw_json_get(&arr->items[i], "value")->number;
  fail_msg("metric %s missing", name);
  return NAN;
}

/* The unit of metric `name` (labels such as the MoE router are stored as the unit; the test fails when absent). */
static inline const char *sw_test_trial_unit(const sw_json_t *doc, const char *name) {
  const sw_json_t *arr = sw_json_get(doc, "metrics");
  for (size_t i = 0; i < arr->count; i++)
    if (strcmp(sw_json_get(&arr->items[i], "name")->string, name) == 0) return sw_json_get(&arr->items[i], "unit")->string;
  fail_msg("metric %s missing", name);
  return "";
}

/* fn on json must fail with a message containing needle. */
static inline void sw_test_trial_error(sw_trial_fn fn, const char *json, const char *needle) {
  sw_trial_cache_t cache = {0};
  sw_json_t *doc = NULL;
  sw_err_t err = {0};
  assert_int_not_equal(sw_test_trial_run(fn, &cache, json, &doc, &err), SW_OK);
  if (!strstr(err.msg, needle)) fail_msg("'%s' not in '%s'", needle, err.msg);
  sw_trial_cache_free(&cache);
}

#endif
