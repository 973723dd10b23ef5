/* Unit tests for the declared keys (experiments/sw_keys.h, experiments/sw_keys_table.c):
 *  - every row is self-consistent (its default fits its own type and range, enum words and help present);
 *  - every allowed word of a row is accepted by the parser the runner hands it to (kernels/, models/), so the
 *    table cannot promise a word the runner refuses;
 *  - the runners' reader refuses an undeclared key, a wrong type and an out-of-range value, and applies the
 *    declared default;
 *  - every metric the ffn (each method), test and noop runners emit is declared in common/sw_metrics.h with
 *    its unit (the model, attribution and modularity runners are checked by their own tests' helpers);
 *  - the experiment check: an unknown key is refused at the key's file:line:col with a suggestion, the
 *    model workload narrows repetitions, the test workload widens it, noop accepts any key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_json.h"
#include "experiments/sw_expfile.h"
#include "experiments/sw_keys.h"
#include "kernels/sw_act.h"
#include "kernels/sw_isa.h"
#include "kernels/sw_kmeans.h"
#include "kernels/sw_moe.h"
#include "kernels/sw_policy.h"
#include "models/sw_attrib.h"
#include "models/sw_llama.h"
#include "models/sw_method.h"
#include "models/sw_prune.h"
#include "common/sw_methods.h"
#include "common/sw_metrics.h"
#include "workers/sw_trial.h"
#include "workers/sw_trial_moe.h"

static const char *const k_tables[] = {"measure", "label", "ffn", "moe", "model", "prune",
                                       "attribution", "modularity", "test"};
#define N_TABLES (sizeof k_tables / sizeof k_tables[0])

/* The default of row k as a value (the way a file would write it). */
static sw_value_t default_value(const sw_keydef_t *k) {
  sw_value_t v = {0};
  if (k->type == SW_KT_INT || k->type == SW_KT_INTS) {
    char *end;
    v.kind = SW_VAL_INT, v.i = strtoll(k->def, &end, 10);
    assert_true(*end == '\0');
  } else if (k->type == SW_KT_NUM) {
    char *end;
    v.kind = SW_VAL_FLOAT, v.f = strtod(k->def, &end);
    assert_true(*end == '\0');
  } else if (k->type == SW_KT_BOOL) {
    assert_true(!strcmp(k->def, "true") || !strcmp(k->def, "false"));
    v.kind = SW_VAL_BOOL, v.b = !strcmp(k->def, "true");
  } else {
    v.kind = SW_VAL_STR, v.s = (char *)(uintptr_t)k->def;
  }
  return v;
}

static void test_rows_consistent(void **state) {
  (void)state;
  for (size_t t = 0; t < N_TABLES; t++) {
    const sw_keytable_t *tab = sw_keytable(k_tables[t]);
    assert_non_null(tab);
    for (size_t i = 0; i < tab->n; i++) {
      const sw_keydef_t *k = &tab->keys[i];
      char why[800];
      assert_true(k->help && *k->help && k->unit);
      if (k->type == SW_KT_ENUM) assert_true(k->allowed && *k->allowed);
      if (k->type == SW_KT_INT || k->type == SW_KT_NUM) assert_true(k->lo <= k->hi);
      for (size_t j = 0; j < i; j++) assert_string_not_equal(tab->keys[j].name, k->name);
      if (k->legacy_def) { /* a changed default: the former one must still be a value of the row, and differ */
        assert_non_null(k->def);
        assert_string_not_equal(k->def, k->legacy_def);
        sw_value_t v = {.kind = SW_VAL_STR, .s = (char *)(uintptr_t)k->legacy_def};
        if (k->type != SW_KT_ENUM && k->type != SW_KT_STR) fail_msg("%s.%s: legacy default of a non-word key", tab->name, k->name);
        if (sw_keys_check_value(k, &v, why, sizeof why)) fail_msg("%s.%s: legacy default: %s", tab->name, k->name, why);
      }
      if (!k->def) continue;
      sw_value_t v = default_value(k);
      if (sw_keys_check_value(k, &v, why, sizeof why)) fail_msg("%s.%s: default %s: %s", tab->name, k->name, k->def, why);
    }
  }
}

/* The model workload's weights default changed to native (legacy f32); attribution and modularity, which run the
 * dequantised weights whatever the key says, decide the key with their own f32-only rows and record nothing. */
static void test_changed_defaults(void **state) {
  (void)state;
  const sw_keydef_t *rows[4];
  assert_int_equal(sw_keys_changed_defaults("model", rows, 4), 1);
  assert_string_equal(rows[0]->name, "weights");
  assert_string_equal(rows[0]->def, "native");
  assert_string_equal(rows[0]->legacy_def, "f32");
  assert_int_equal(sw_keys_changed_defaults("model", rows, 0), 1); /* counts beyond cap */
  const char *const others[] = {"attribution", "modularity", "ffn", "test", "noop", "nosuch"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
    assert_int_equal(sw_keys_changed_defaults(others[i], rows, 4), 0);
  assert_string_equal(sw_keys_lookup("attribution", "weights")->allowed, "f32");
  assert_string_equal(sw_keys_lookup("modularity", "weights")->allowed, "f32");
}

/* Calls check(word) for every word of row (table, key). */
static void each_word(const char *table, const char *key, void (*check)(const char *word)) {
  const sw_keydef_t *k = sw_keytable_find(sw_keytable(table), key);
  assert_non_null(k);
  assert_int_equal(k->type, SW_KT_ENUM);
  char copy[512];
  snprintf(copy, sizeof copy, "%s", k->allowed);
  int n = 0;
  for (char *save = NULL, *w = strtok_r(copy, "|", &save); w; w = strtok_r(NULL, "|", &save), n++) check(w);
  assert_true(n >= 2);
}

static void act_ok(const char *w) {
  sw_act_t a;
  int gated;
  sw_err_t err;
  assert_int_equal(sw_act_parse(w, &a, &gated, &err), SW_OK);
}
static void model_act_ok(const char *w) { /* the model workload takes plain names only, and model (the file's own) */
  sw_act_t a;
  int gated = 1;
  sw_err_t err;
  if (!strcmp(w, "model")) return;
  assert_int_equal(sw_act_parse(w, &a, &gated, &err), SW_OK);
  assert_int_equal(gated, 0);
}
static void ffn_method_ok(const char *w) {
  sw_policy_kind_t p;
  sw_err_t err;
  assert_true(!strcmp(w, "teal") || sw_trial_moe_handles(w) || sw_policy_parse(w, &p, &err) == SW_OK);
}
static void model_method_ok(const char *w) {
  sw_method_kind_t m;
  sw_err_t err;
  assert_int_equal(sw_method_parse(w, &m, &err), SW_OK);
}
static void isa_ok(const char *w) {
  sw_isa_t isa;
  sw_err_t err;
  assert_int_equal(sw_isa_parse(w, &isa, &err), SW_OK);
}
static void router_ok(const char *w) {
  sw_moe_router_kind_t r;
  sw_err_t err;
  assert_int_equal(sw_moe_router_parse(&r, w, &err), SW_OK);
}
static void clustering_ok(const char *w) {
  sw_partition_t p;
  sw_err_t err;
  assert_int_equal(sw_partition_parse(&p, w, &err), SW_OK);
}
static void weights_ok(const char *w) {
  sw_llama_weights_kind_t k;
  sw_err_t err;
  assert_int_equal(sw_llama_weights_parse(w, &k, &err), SW_OK);
}
static void prune_ok(const char *w) {
  sw_prune_method_t m;
  sw_err_t err;
  assert_int_equal(sw_prune_method_parse(w, &m, &err), SW_OK);
}
static void pattern_ok(const char *w) {
  sw_prune_pattern_t p;
  sw_err_t err;
  assert_int_equal(sw_prune_pattern_parse(w, &p, &err), SW_OK);
}
static void metric_ok(const char *w) {
  sw_attrib_metric_t m;
  sw_err_t err;
  assert_int_equal(sw_attrib_metric_parse(w, &m, &err), SW_OK);
}

static void test_words_match_the_parsers(void **state) {
  (void)state;
  each_word("ffn", "activation", act_ok);
  each_word("moe", "activation", act_ok);
  each_word("model", "activation", model_act_ok);
  each_word("ffn", "method", ffn_method_ok);
  each_word("model", "method", model_method_ok);
  each_word("measure", "kernel_isa", isa_ok);
  each_word("moe", "router", router_ok);
  each_word("moe", "clustering", clustering_ok);
  each_word("model", "weights", weights_ok);
  each_word("prune", "prune", prune_ok);
  each_word("prune", "prune_pattern", pattern_ok);
  each_word("attribution", "metric", metric_ok);
}

static sw_json_t *json_of(const char *text) {
  sw_json_t *j = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(text, strlen(text), &j, &err), SW_OK);
  return j;
}

static void test_reader(void **state) {
  (void)state;
  const sw_keytable_t *ffn = sw_keytable("ffn");
  sw_json_t *j = json_of("{\"d_model\":128,\"sparsity\":1.5,\"d_ff\":\"wide\",\"threads\":65}");
  sw_err_t err;
  int64_t i = -7;
  double x = -7;
  const char *s = NULL;
  assert_int_equal(sw_key_int(ffn, j, "d_model", &i, &err), SW_OK);
  assert_int_equal(i, 128);
  assert_int_equal(sw_key_int(ffn, j, "sed", &i, &err), SW_ERR_INVALID); /* undeclared: refused, never read */
  assert_non_null(strstr(err.msg, "not declared"));
  assert_int_equal(sw_key_num(ffn, j, "sparsity", &x, &err), SW_ERR_RANGE);
  assert_int_equal(sw_key_int(ffn, j, "d_ff", &i, &err), SW_ERR_INVALID);
  assert_int_equal(sw_key_int(ffn, j, "threads", &i, &err), SW_ERR_RANGE); /* the shared measure row: 1..64 */
  assert_int_equal(sw_key_num(ffn, j, "d_model", &x, &err), SW_ERR_INVALID); /* read with the wrong type */
  /* absent: the declared default ("threshold"), or the caller's value when the row has none */
  assert_int_equal(sw_key_str(ffn, j, "method", &s, &err), SW_OK);
  assert_string_equal(s, sw_keytable_find(ffn, "method")->def);
  x = 0.25;
  assert_int_equal(sw_key_num(sw_keytable("moe"), j, "tau", &x, &err), SW_OK);
  assert_true(x == 0.25);
  sw_json_free(j);
}

static sw_rc check_text(const char *text, sw_err_t *err) {
  sw_experiment_t *e = NULL;
  sw_rc rc = sw_expfile_load_mem("k.yaml", text, strlen(text), &e, err);
  if (rc == SW_OK) rc = sw_keys_check_experiment(e, err);
  sw_experiment_free(e);
  return rc;
}

static void test_experiment_check(void **state) {
  (void)state;
  sw_err_t err;
  assert_int_equal(check_text("name: a\nworkload: ffn\ngrid:\n  product: {method: [topk], sparsty: [0.9]}\n", &err),
                   SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "k.yaml:4:29: unknown key 'sparsty'"));
  assert_non_null(strstr(err.msg, "did you mean 'sparsity'?"));
  assert_int_equal(check_text("name: a\nworkload: ffn\nsettings: {seed: 1}\nmeasure: {repetitions: 1000}\n", &err), SW_OK);
  assert_int_equal(check_text("name: a\nworkload: model\nmeasure: {repetitions: 101}\n", &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "k.yaml:3:24:"));
  assert_int_equal(check_text("name: a\nworkload: test\nmeasure: {repetitions: 5000}\n", &err), SW_OK);
  assert_int_equal(check_text("name: a\nworkload: noop\nsettings: {anything: 1}\n", &err), SW_OK);
  assert_int_equal(check_text("name: a\nworkload: test\nsettings: {anything: 1}\n", &err), SW_ERR_INVALID);
  /* attribution and modularity run f32 only: weights: native is refused before anything runs */
  assert_int_equal(check_text("name: a\nworkload: attribution\nsettings: {weights: native}\n", &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "k.yaml:3:21:"));
  assert_int_equal(check_text("name: a\nworkload: modularity\nsettings: {weights: native}\n", &err), SW_ERR_INVALID);
  assert_int_equal(check_text("name: a\nworkload: attribution\nsettings: {weights: f32}\n", &err), SW_OK);
  assert_int_equal(check_text("name: a\nworkload: model\nsettings: {weights: native}\n", &err), SW_OK);
  /* an axis value of a list-valued key is checked item by item */
  assert_int_equal(check_text("name: a\nworkload: ffn\ngrid: {product: {batch: [[1, 0]]}}\n", &err), SW_ERR_INVALID);
}

/* Runs workload w on config json; every emitted metric must be declared. */
static void run_declared(const char *w, const char *json) {
  const sw_workload_t *wl = sw_workload_find(w);
  assert_non_null(wl);
  sw_json_t *cfg = json_of(json);
  sw_trial_out_t out;
  sw_trial_cache_t cache = {0};
  sw_err_t err;
  sw_trial_out_init(&out);
  sw_rc rc = wl->run(&cache, cfg, &out, &err);
  if (rc != SW_OK) fail_msg("%s %s: %s", w, json, err.msg);
  assert_true(out.n_metrics > 0);
  if (out.bad_metric[0]) fail_msg("%s %s: undeclared metric %s", w, json, out.bad_metric);
  sw_trial_out_free(&out);
  sw_trial_cache_free(&cache);
  sw_json_free(cfg);
}

static void test_emitted_metrics_declared(void **state) {
  (void)state;
  static const char *const methods[] = {"dense", "topk", "threshold", "chess", "cett", "random", "teal",
                                        "moe_topk", "moe_dynk_max", "moe_dynk_cum", "moe_lte", "predictor",
                                        "cats", "d2dmoe", "dejavu"}; /* the model workload's spellings too */
  char json[512];
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    snprintf(json, sizeof json, "{\"workload\":\"ffn\",\"method\":\"%s\",\"d_model\":32,\"d_ff\":64,\"n_calib\":64,"
             "\"repetitions\":2,\"warmup\":0,\"cache\":\"warm\",\"papi_events\":[],\"exclusive\":\"none\","
             "\"router_epochs\":1}", methods[i]);
    run_declared("ffn", json);
  }
  run_declared("test", "{\"workload\":\"test\",\"action\":\"ok\"}");
  run_declared("test", "{\"workload\":\"test\",\"action\":\"fds\"}");
  run_declared("test", "{\"workload\":\"test\",\"action\":\"stream\",\"stream_kib\":16,\"repetitions\":2,"
                       "\"exclusive\":\"none\"}");
  run_declared("noop", "{\"workload\":\"noop\"}");
  assert_int_equal(sw_metric_ok("sed", "s"), 0);               /* undeclared */
  assert_int_equal(sw_metric_ok("speedup", "s"), 0);           /* declared with another unit */
  assert_int_equal(sw_metric_ok("sparsity_neuron", "fraction"), 0); /* legacy: read from old databases only */
  assert_int_equal(sw_metric_ok("sparsity_layer_07", "fraction"), 1);
}

static void vocabulary_word(const char *w) { assert_non_null(sw_method_canonical(w)); }

/* One vocabulary: every method word of either workload names a method; the ffn and model spellings of one
 * method share a canonical name; the model runner takes the ffn spellings. */
static void test_method_vocabulary(void **state) {
  (void)state;
  each_word("ffn", "method", vocabulary_word);
  each_word("model", "method", vocabulary_word);
  static const char *const pairs[][2] = {{"threshold", "cats"}, {"moe_dynk_max", "d2dmoe"}, {"predictor", "dejavu"}};
  for (size_t i = 0; i < 3; i++) {
    assert_ptr_equal(sw_method_canonical(pairs[i][0]), sw_method_canonical(pairs[i][1]));
    sw_method_kind_t a, b;
    sw_err_t err;
    assert_int_equal(sw_method_parse(pairs[i][0], &a, &err), SW_OK);
    assert_int_equal(sw_method_parse(pairs[i][1], &b, &err), SW_OK);
    assert_int_equal(a, b);
  }
  assert_null(sw_method_canonical("moe_dynk"));
  assert_ptr_not_equal(sw_method_canonical("moe_topk"), sw_method_canonical("moefication")); /* routers differ */
  /* definition versions (enter the trial hash above 1): an alias has its method's, a non-method none */
  assert_int_equal(sw_method_version("dejavu"), 2);
  assert_int_equal(sw_method_version("predictor"), 2);
  assert_int_equal(sw_method_version("cats"), 1);
  assert_int_equal(sw_method_version("powerinfer"), 1);
  assert_int_equal(sw_method_version("bogus"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows_consistent),
      cmocka_unit_test(test_words_match_the_parsers),
      cmocka_unit_test(test_changed_defaults),
      cmocka_unit_test(test_reader),
      cmocka_unit_test(test_experiment_check),
      cmocka_unit_test(test_emitted_metrics_declared),
      cmocka_unit_test(test_method_vocabulary),
  };
  return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
