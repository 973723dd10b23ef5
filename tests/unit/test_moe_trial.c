/* Unit tests for workers/sw_trial_moe: each MoE/predictor method runs end to end on a small random FFN and its
 * metrics obey the method's definition at the extremes (all experts / τ=0 / threshold 0 reproduce the dense
 * output; τ→1 runs one expert per token; top-k runs k); flops include the router; bad keys are rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "workers/sw_trial_moe.h"

/* The dense comparison runs the same float32 FFN; MoE/predictor at full activity differ by summation order. */
#define DENSE_REL_ERR_MAX 1e-5
/* FLOP counts and sparsity fractions are exact in binary or one rounding away. */
#define FLOPS_TOL_REL 1e-9
#define FRACTION_TOL_ABS 1e-12

typedef struct run {
  sw_json_t *metrics;  /* parsed array */
  sw_json_t *counters; /* parsed array of {"series","name","value","reason"} */
  size_t     n_samples;
  sw_rc      rc;
  sw_err_t   err;
} run_t;

/* Parses "[" body "]" (a sw_trial_out_t array body) into *doc. */
static void parse_array_body(const sw_buf_t *body, sw_json_t **doc) {
  sw_buf_t b = {0};
  sw_err_t err;
  sw_buf_append(&b, "[", 1);
  if (body->data) sw_buf_append(&b, body->data, body->len);
  sw_buf_append(&b, "]", 1);
  *doc = NULL;
  assert_int_equal(sw_json_parse(b.data, b.len, doc, &err), SW_OK);
  sw_buf_free(&b);
}

static void run_config(run_t *r, const char *json) {
  sw_json_t *cfg = NULL;
  assert_int_equal(sw_json_parse(json, strlen(json), &cfg, &r->err), SW_OK);
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  r->rc = sw_trial_run_ffn_moe(NULL, cfg, &out, &r->err);
  if (out.bad_metric[0]) fail_msg("undeclared metric %s (common/sw_metrics.h)", out.bad_metric);
  parse_array_body(&out.metrics, &r->metrics);
  parse_array_body(&out.counters, &r->counters);
  r->n_samples = out.n_samples;
  sw_trial_out_free(&out);
  sw_json_free(cfg);
}

static double metric(const run_t *r, const char *name) {
  for (size_t i = 0; i < r->metrics->count; i++) {
    const sw_json_t *m = &r->metrics->items[i], *n = sw_json_get(m, "name"), *v = sw_json_get(m, "value");
    if (n && n->kind == SW_JSON_STRING && strcmp(n->string, name) == 0)
      return v && v->kind == SW_JSON_NUMBER ? v->number : NAN;
  }
  fail_msg("metric '%s' missing", name);
  return NAN;
}

#define BASE                                                                                                          \
  "\"d_model\":40,\"d_ff\":96,\"batch\":9,\"n_calib\":128,\"repetitions\":2,\"router_epochs\":3,\"experts\":8,"       \
  "\"cache\":\"warm\""

static void run_free(run_t *r) {
  sw_json_free(r->metrics);
  sw_json_free(r->counters);
}

/* Number of counter items named name in series. */
static size_t counter_items(const run_t *r, const char *series, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < r->counters->count; i++) {
    const sw_json_t *c = &r->counters->items[i], *s = sw_json_get(c, "series"), *nm = sw_json_get(c, "name");
    n += s && nm && strcmp(s->string, series) == 0 && strcmp(nm->string, name) == 0;
  }
  return n;
}

/* cache: cold rotates the timed calls over weight copies (here 1 MiB of them) and records how many; the quality
 * call (copy 0) gives the same error as a warm run; warm reuses one copy. */
static void test_moe_cache_rotation(void **state) {
  (void)state;
  run_t cold, warm;
  run_config(&cold, "{\"method\":\"moe_topk\",\"d_model\":40,\"d_ff\":96,\"batch\":9,\"n_calib\":128,\"repetitions\":2,"
                    "\"router_epochs\":3,\"experts\":8,\"k\":2,\"cache\":\"cold\",\"cold_mib\":1}");
  run_config(&warm, "{\"method\":\"moe_topk\"," BASE ",\"k\":2}");
  assert_int_equal(cold.rc, SW_OK);
  assert_int_equal(warm.rc, SW_OK);
  /* 40 x 96 gated f32 weights, rows padded to 48 floats: 3 * 48 * 96 * 4 bytes a copy, ceil(1 MiB / that) copies */
  assert_true(metric(&cold, "n_weight_copies") == ceil(1048576.0 / (3.0 * 48 * 96 * 4)));
  assert_true(metric(&warm, "n_weight_copies") == 1.0);
  assert_true(metric(&cold, "rel_error") == metric(&warm, "rel_error"));
  run_free(&cold);
  run_free(&warm);
  run_config(&cold, "{\"method\":\"moe_topk\",\"d_model\":40,\"d_ff\":96,\"experts\":8,\"cache\":\"lukewarm\"}");
  assert_int_equal(cold.rc, SW_ERR_INVALID);
  assert_non_null(strstr(cold.err.msg, "cache"));
  run_free(&cold);
}

static void test_moe_methods_extremes(void **state) {
  (void)state;
  run_t r;
  /* top-k with every expert: dense output, no expert skipped, router FLOPs counted */
  run_config(&r, "{\"method\":\"moe_topk\"," BASE ",\"k\":8}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "rel_error") < DENSE_REL_ERR_MAX);
  assert_true(metric(&r, "sparsity_expert") == 0.0);
  double router = 9 * 2.0 * (40 * 128 + 128 * 8);
  /* swiglu, per token and neuron: gate, up and down multiply-adds over d_model plus the gating product */
  double dense = 9 * 96 * (3 * 2.0 * 40 + 1);
  assert_true(metric(&r, "flops_select") == router);
  assert_true(metric(&r, "flops_dense") == dense);
  assert_true(fabs(metric(&r, "flops") - (dense + router)) <= FLOPS_TOL_REL * metric(&r, "flops"));
  assert_true(metric(&r, "speedup") > 0);
  assert_true(metric(&r, "slot_mode") == 2.0); /* the timed pairs held the host's slot (workers/sw_slot.h) */
  run_free(&r);
  /* top-2 of 8 */
  run_config(&r, "{\"method\":\"moe_topk\"," BASE ",\"k\":2,\"clustering\":\"random\"}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "experts_per_token_p10") == 2 && metric(&r, "experts_per_token_p90") == 2);
  assert_true(fabs(metric(&r, "achieved_sparsity") - 0.75) <= FRACTION_TOL_ABS);
  assert_true(metric(&r, "rel_error") > 0.05); /* dropping 6 of 8 experts of a random FFN changes the output */
  run_free(&r);
  /* dynamic-k by max ratio: τ = 0 is dense, τ = 1 one expert per token */
  run_config(&r, "{\"method\":\"moe_dynk_max\"," BASE ",\"tau\":0,\"router\":\"oracle\"}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "rel_error") < DENSE_REL_ERR_MAX);
  assert_true(metric(&r, "experts_per_token_mean") == 8);
  run_free(&r);
  run_config(&r, "{\"method\":\"moe_dynk_max\"," BASE ",\"tau\":1,\"clustering\":\"contiguous\"}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "experts_per_token_p90") == 1 && metric(&r, "experts_per_token_p10") == 1);
  run_free(&r);
  /* cumulative share: at least one expert; LTE with a classifier router */
  run_config(&r, "{\"method\":\"moe_dynk_cum\"," BASE ",\"tau\":0}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "experts_per_token_p10") == 1);
  run_free(&r);
  run_config(&r, "{\"method\":\"moe_lte\"," BASE ",\"tau\":0}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "sparsity_expert") == 0.0); /* sigmoid > 0 everywhere */
  run_free(&r);
}

static void test_predictor_method(void **state) {
  (void)state;
  run_t r;
  run_config(&r, "{\"method\":\"predictor\"," BASE ",\"activation\":\"relu\",\"rank\":8,\"threshold\":0}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "rel_error") < DENSE_REL_ERR_MAX);
  assert_true(metric(&r, "predictor_recall") == 1.0);
  assert_true(metric(&r, "flops_select") == 9 * 2.0 * (40 * 8 + 8 * 96));
  run_free(&r);
  run_config(&r, "{\"method\":\"predictor\"," BASE ",\"activation\":\"relu\",\"rank\":8,\"k\":24}");
  assert_int_equal(r.rc, SW_OK);
  assert_true(metric(&r, "neurons_per_token_p50") == 24);
  assert_true(fabs(metric(&r, "achieved_sparsity") - 0.75) <= FRACTION_TOL_ABS);
  double td = metric(&r, "true_density");
  assert_true(td > 0.3 && td < 0.7); /* ReLU of random pre-activations: about half active */
  run_free(&r);
}

static void test_rejects_bad_keys(void **state) {
  (void)state;
  run_t r;
  run_config(&r, "{\"method\":\"moe_topk\"," BASE ",\"router\":\"softmax\"}");
  assert_int_equal(r.rc, SW_ERR_INVALID);
  assert_non_null(strstr(r.err.msg, "softmax"));
  run_free(&r);
  run_config(&r, "{\"method\":\"moe_topk\",\"d_model\":40,\"d_ff\":96,\"experts\":7,\"cache\":\"warm\"}");
  assert_int_equal(r.rc, SW_ERR_INVALID);
  assert_non_null(strstr(r.err.msg, "experts"));
  run_free(&r);
  run_config(&r, "{\"method\":\"moe_topk\",\"d_model\":40,\"d_ff\":96,\"experts\":8,\"k\":9,\"cache\":\"warm\"}");
  assert_int_equal(r.rc, SW_ERR_RANGE);
  run_free(&r);
  assert_true(sw_trial_moe_handles("moe_dynk_cum"));
  assert_true(sw_trial_moe_handles("predictor"));
  assert_false(sw_trial_moe_handles("topk"));
}

/* The measurement keys of experiments/README.md: repetitions gives the number of samples per series (warmup
 * adds none), papi_events lists exactly the counters recorded (values or NULL + reason when PAPI cannot count
 * here), [] records none, and a malformed papi_events is an error naming the key. */
static void test_measure_keys(void **state) {
  (void)state;
  run_t r;
  run_config(&r, "{\"method\":\"moe_topk\"," BASE ",\"k\":2,\"warmup\":4,"
                 "\"papi_events\":[\"PAPI_TOT_CYC\",\"sde:::sparsweep::flops\"]}");
  assert_int_equal(r.rc, SW_OK);
  assert_int_equal(r.n_samples, 2 * 2); /* BASE sets repetitions 2 (the default is 7) */
  assert_int_equal(r.counters->count, 2 * 2);
  assert_int_equal(counter_items(&r, "dense", "PAPI_TOT_CYC"), 1);
  assert_int_equal(counter_items(&r, "sparse", "sde:::sparsweep::flops"), 1);
  assert_int_equal(counter_items(&r, "dense", "PAPI_TOT_INS"), 0); /* a default preset not asked for */
  run_free(&r);
  run_config(&r, "{\"method\":\"moe_topk\"," BASE ",\"papi_events\":[]}");
  assert_int_equal(r.rc, SW_OK);
  assert_int_equal(r.counters->count, 0);
  run_free(&r);
  run_config(&r, "{\"method\":\"moe_topk\"," BASE ",\"papi_events\":[1]}");
  assert_int_equal(r.rc, SW_ERR_INVALID);
  assert_non_null(strstr(r.err.msg, "papi_events"));
  run_free(&r);
  run_config(&r, "{\"method\":\"moe_topk\"," BASE ",\"warmup\":-1}");
  assert_int_equal(r.rc, SW_ERR_RANGE);
  assert_non_null(strstr(r.err.msg, "warmup"));
  run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_moe_methods_extremes), cmocka_unit_test(test_moe_cache_rotation),
      cmocka_unit_test(test_predictor_method),
      cmocka_unit_test(test_rejects_bad_keys),
      cmocka_unit_test(test_measure_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
