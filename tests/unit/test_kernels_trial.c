/* Unit test for the "ffn" trial runner (workers/sw_trial_ffn.c) on a tiny shape: the result JSON carries the
 * interleaved samples, a sparsity near the target, FLOPs equal to the analytical count of the executed
 * neurons, and a relative error that is ~0 at sparsity 0 and clearly non-zero at high sparsity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_json.h"
#include "kernels/sw_flops.h"
#include "tests/unit/test_isa_variants.h"
#include "workers/sw_trial.h"

/* Named tolerances of the trial checks. */
#define KT_COUNT_TOL 0.5               /* FLOP counts are integers: half a unit absorbs double rounding */
#define KT_SDE_FLOPS_TOL_PER_CALL 1.0  /* the SDE flops counter is an integer per call */
#define KT_SPARSITY_TOL_THRESHOLD 0.12 /* 3 held-out tokens of 96 neurons: sampling noise */
#define KT_SPARSITY_TOL_TEAL 0.2       /* 2 held-out tokens: 96 inputs, 192 intermediates */
#define KT_SPARSITY_TOL_EXACT 1e-9     /* random policy keeps exactly k of d_ff: only double rounding */
#define KT_REL_ERROR_EXACT 1e-5        /* f32 sparse-at-0 / dense FFN vs the float64 reference */
#define KT_REL_ERROR_SPARSE_MIN 1e-3   /* dropping ~half the neurons must change the output visibly */
#define KT_REL_ERROR_SPARSE_MAX 1.0    /* ...but less than replacing it by zeros */

/* Runs the ffn trial with a JSON config and returns the parsed result JSON (caller frees). */
static sw_json_t *kt_run(const char *cfg_text, sw_rc want) {
  sw_json_t *cfg = NULL;
  sw_err_t   err;
  assert_int_equal(sw_json_parse(cfg_text, strlen(cfg_text), &cfg, &err), SW_OK);
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  sw_trial_cache_t cache = {0};
  sw_rc            rc = sw_trial_run_ffn(&cache, cfg, &out, &err);
  if (rc != want) fprintf(stderr, "trial: %s\n", err.msg);
  assert_int_equal(rc, want);
  sw_json_t *res = NULL;
  if (out.bad_metric[0]) fail_msg("undeclared metric %s (common/sw_metrics.h)", out.bad_metric);
  if (rc == SW_OK) {
    sw_buf_t buf = {0};
    sw_trial_out_json(&out, &buf);
    assert_int_equal(sw_json_parse(buf.data, buf.len, &res, &err), SW_OK);
    sw_buf_free(&buf);
  }
  sw_trial_out_free(&out);
  sw_trial_cache_free(&cache);
  sw_json_free(cfg);
  return res;
}

static double kt_metric(const sw_json_t *res, const char *name) {
  const sw_json_t *m = sw_json_get(res, "metrics");
  assert_non_null(m);
  for (size_t i = 0; i < m->count; i++) {
    const sw_json_t *n = sw_json_get(&m->items[i], "name");
    if (n && strcmp(n->string, name) == 0) return sw_json_get(&m->items[i], "value")->number;
  }
  fail_msg("metric %s missing", name);
  return NAN;
}

static void test_trial_threshold(void **state) {
  (void)state;
  sw_json_t *res = kt_run("{\"workload\":\"ffn\",\"d_model\":40,\"d_ff\":96,\"batch\":3,\"method\":\"threshold\","
                          "\"sparsity\":0.7,\"repetitions\":3,\"warmup\":1,\"cache\":\"warm\",\"n_calib\":200}",
                          SW_OK);
  double sp = kt_metric(res, "achieved_sparsity");
  assert_true(fabs(sp - 0.7) < KT_SPARSITY_TOL_THRESHOLD);
  double flops = kt_metric(res, "flops"), select = kt_metric(res, "flops_select");
  double n_exec = round((1.0 - sp) * 3 * 96);
  assert_true(fabs(select - 2.0 * 40 * 96 * 3) < KT_COUNT_TOL);                    /* dense gate */
  assert_true(fabs(flops - select - n_exec * (2.0 * 40 * 2 + 1.0)) < KT_COUNT_TOL); /* up + down + product */
  assert_true(fabs(kt_metric(res, "flops_dense") - sw_flops_ffn_dense(40, 96, 1, 3)) < KT_COUNT_TOL);
  double e = kt_metric(res, "rel_error");
  assert_true(e > KT_REL_ERROR_SPARSE_MIN && e < KT_REL_ERROR_SPARSE_MAX);
  assert_true(kt_metric(res, "rel_error_dense") < KT_REL_ERROR_EXACT);
  assert_true(kt_metric(res, "slot_mode") == 2.0); /* the timed pairs held the host's slot (workers/sw_slot.h) */
  const sw_json_t *samples = sw_json_get(res, "samples");
  assert_int_equal(samples->count, 6); /* 3 dense + 3 sparse */
  /* the kernels' SDE counters, read through PAPI around the 3 timed sparse calls */
  const sw_json_t *counters = sw_json_get(res, "counters");
  int              found_calls = 0, found_flops = 0;
  for (size_t i = 0; counters && i < counters->count; i++) {
    const sw_json_t *c = &counters->items[i], *v = sw_json_get(c, "value");
    if (strcmp(sw_json_get(c, "series")->string, "sparse") != 0) continue;
    if (strcmp(sw_json_get(c, "name")->string, "sde:::sparsweep::calls") == 0) {
      found_calls = 1;
      assert_true(v && v->kind == SW_JSON_NUMBER && v->number == 3.0);
    }
    if (strcmp(sw_json_get(c, "name")->string, "sde:::sparsweep::flops") == 0) {
      found_flops = 1;
      assert_true(v && v->kind == SW_JSON_NUMBER &&
                  fabs(v->number - 3.0 * flops) <= 3.0 * KT_SDE_FLOPS_TOL_PER_CALL);
    }
  }
  assert_true(found_calls && found_flops); /* a missing counter must fail, not skip its check */
  sw_json_free(res);
}

/* Median of 4 values computed here, independently of common/sw_stats: sort, then the mean of the middle two. */
static double kt_median4(double v[4]) {
  for (int i = 1; i < 4; i++)
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
      double t = v[j];
      v[j] = v[j - 1], v[j - 1] = t;
    }
  return 0.5 * (v[1] + v[2]);
}

/* With an even number of repetitions the stored speedup is the mean of the two middle per-pair ratios and
 * time_dense / time_method the mean of the two middle samples, for the plain ffn path and its MoE path alike
 * (one median definition, common/sw_stats.h; the ffn runner used to take the lower middle value). */
static void kt_check_even_median(const char *cfg, const char *method_series) {
  sw_json_t       *res = kt_run(cfg, SW_OK);
  const sw_json_t *samples = sw_json_get(res, "samples");
  double           dense[4] = {0}, method[4] = {0}, ratio[4];
  int              seen = 0;
  for (size_t i = 0; samples && i < samples->count; i++) {
    const sw_json_t *smp = &samples->items[i];
    int              rep = (int)sw_json_get(smp, "rep")->number;
    const char      *series = sw_json_get(smp, "series")->string;
    assert_true(rep >= 0 && rep < 4);
    if (strcmp(series, "dense") == 0) dense[rep] = sw_json_get(smp, "value")->number, seen |= 1 << rep;
    else if (strcmp(series, method_series) == 0) method[rep] = sw_json_get(smp, "value")->number, seen |= 16 << rep;
  }
  assert_int_equal(seen, 0xff); /* 4 dense and 4 method samples */
  for (int i = 0; i < 4; i++) ratio[i] = dense[i] / method[i];
  double want_speedup = kt_median4(ratio), want_dense = kt_median4(dense), want_method = kt_median4(method);
  assert_true(fabs(kt_metric(res, "speedup") - want_speedup) <= 1e-12 * want_speedup);
  assert_true(fabs(kt_metric(res, "time_dense") - want_dense) <= 1e-12 * want_dense);
  assert_true(fabs(kt_metric(res, "time_method") - want_method) <= 1e-12 * want_method);
  sw_json_free(res);
}

static void test_trial_even_repetitions_median(void **state) {
  (void)state;
  kt_check_even_median("{\"workload\":\"ffn\",\"d_model\":40,\"d_ff\":96,\"batch\":1,\"method\":\"threshold\","
                       "\"sparsity\":0.5,\"repetitions\":4,\"warmup\":1,\"cache\":\"warm\",\"n_calib\":200}",
                       "sparse");
  kt_check_even_median("{\"workload\":\"ffn\",\"d_model\":40,\"d_ff\":128,\"batch\":1,\"method\":\"moe_topk\","
                       "\"experts\":4,\"sparsity\":0.5,\"repetitions\":4,\"warmup\":1,\"n_calib\":200,"
                       "\"router_epochs\":2}",
                       "sparse");
}

static void test_trial_sparsity_zero_is_exact(void **state) {
  (void)state;
  sw_json_t *res = kt_run("{\"d_model\":24,\"d_ff\":50,\"batch\":5,\"method\":\"topk\",\"sparsity\":0,"
                          "\"repetitions\":2,\"cache\":\"cold\",\"cold_mib\":1,\"activation\":\"geglu\"}",
                          SW_OK);
  assert_true(kt_metric(res, "achieved_sparsity") == 0.0);
  assert_true(kt_metric(res, "rel_error") < KT_REL_ERROR_EXACT);
  assert_true(kt_metric(res, "n_weight_copies") > 1);
  sw_json_free(res);
  res = kt_run("{\"d_model\":24,\"d_ff\":50,\"batch\":2,\"method\":\"random\",\"sparsity\":0.5,\"timing\":\"kernel\","
               "\"repetitions\":2,\"dtype\":\"bf16\",\"cache\":\"warm\"}",
               SW_OK);
  assert_true(fabs(kt_metric(res, "achieved_sparsity") - 0.5) < KT_SPARSITY_TOL_EXACT); /* 25 of 50 per token */
  sw_json_free(res);
}

static void test_trial_teal(void **state) {
  (void)state;
  sw_json_t *res = kt_run("{\"d_model\":48,\"d_ff\":96,\"batch\":2,\"method\":\"teal\",\"sparsity\":0.5,"
                          "\"repetitions\":2,\"cache\":\"cold\",\"cold_mib\":1,\"n_calib\":256}",
                          SW_OK);
  /* 2 held-out tokens: 96 inputs and 192 intermediates, so only a loose check of the calibrated sparsity */
  assert_true(fabs(kt_metric(res, "sparsity_input") - 0.5) < KT_SPARSITY_TOL_TEAL);
  assert_true(fabs(kt_metric(res, "achieved_sparsity") - 0.5) < KT_SPARSITY_TOL_TEAL);
  double e = kt_metric(res, "rel_error");
  assert_true(e > KT_REL_ERROR_SPARSE_MIN && e < KT_REL_ERROR_SPARSE_MAX);
  assert_true(kt_metric(res, "t_x") > 0.0);
  sw_json_free(res);
}

/* kernel_isa: the trial runs in the requested SIMD variant (checked against the float64 reference through
 * rel_error at sparsity 0) and records it as metric kernel_isa (level as value, name as unit); a variant this CPU cannot run
 * fails the trial with SW_ERR_UNSUPPORTED, and the test then reports itself skipped for that variant. */
static void test_trial_kernel_isa(void **state) {
  sw_isa_t isa = *(const sw_isa_t *)*state;
  char     cfg[256];
  snprintf(cfg, sizeof cfg,
           "{\"d_model\":40,\"d_ff\":72,\"batch\":1,\"method\":\"random\",\"sparsity\":0,\"timing\":\"kernel\","
           "\"repetitions\":2,\"cache\":\"warm\",\"kernel_isa\":\"%s\"}",
           sw_isa_name(isa));
  if (!sw_isa_supported(isa)) {
    assert_null(kt_run(cfg, SW_ERR_UNSUPPORTED));
    print_message("variant %s skipped: this CPU cannot run it (the trial refused it)\n", sw_isa_name(isa));
    skip();
  }
  sw_json_t       *res = kt_run(cfg, SW_OK);
  const sw_json_t *m = sw_json_get(res, "metrics");
  int              found = 0;
  for (size_t i = 0; i < m->count; i++) {
    const sw_json_t *n = sw_json_get(&m->items[i], "name");
    if (strcmp(n->string, "kernel_isa") != 0) continue;
    found = 1;
    assert_true(sw_json_get(&m->items[i], "value")->number == (double)isa);
    assert_string_equal(sw_json_get(&m->items[i], "unit")->string, sw_isa_name(isa));
  }
  assert_true(found);
  assert_true(kt_metric(res, "rel_error") < KT_REL_ERROR_EXACT);
  sw_json_free(res);
}

static void test_trial_bad_config(void **state) {
  (void)state;
  assert_null(kt_run("{\"method\":\"nope\"}", SW_ERR_INVALID));
  assert_null(kt_run("{\"sparsity\":1.5}", SW_ERR_RANGE));
  assert_null(kt_run("{\"d_model\":\"wide\"}", SW_ERR_INVALID));
  assert_null(kt_run("{\"kernel_isa\":\"sse9\"}", SW_ERR_INVALID)); /* a declared word (experiments/sw_keys_table.c) */
  assert_null(kt_run("{\"activation\":\"relu\",\"act_param\":0.5}", SW_ERR_RANGE)); /* FATReLU's threshold only */
  assert_null(kt_run("{\"activation\":\"fatrelu\",\"act_param\":-1}", SW_ERR_RANGE));
  assert_null(kt_run("{\"method\":\"teal\",\"teal_threshold\":\"median\"}", SW_ERR_INVALID));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trial_threshold),
      cmocka_unit_test(test_trial_sparsity_zero_is_exact),
      cmocka_unit_test(test_trial_even_repetitions_median),
      cmocka_unit_test(test_trial_teal),
      cmocka_unit_test(test_trial_bad_config),
      KT_VARIANT(test_trial_kernel_isa),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
