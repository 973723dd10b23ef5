/* Unit tests for experiments/: grid expansion counts and order (product, zip, when, nested when,
 * exclusions, ranges), canonical JSON against hand-written text and a SHA-256 computed by Python's
 * hashlib, a changed default (new identity when absent, the former one when its legacy value is written), hash
 * stability across key order, run policy kept out of the hash, the shipped examples, and a
 * table of malformed/hostile files (each must fail with SW_ERR_PARSE/INVALID and "file:line:col"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "experiments/sw_canon.h"
#include "experiments/sw_expfile.h"
#include "experiments/sw_grid.h"

/* ---------------------------------------------------------------- helpers */

static sw_rc plan_text(const char *text, sw_trial_list_t *out, sw_err_t *err) {
  sw_experiment_t *e = NULL;
  memset(out, 0, sizeof *out);
  sw_rc rc = sw_expfile_load_mem("t.yaml", text, strlen(text), &e, err);
  if (rc == SW_OK) rc = sw_grid_expand(e, out, err);
  sw_experiment_free(e);
  return rc;
}

static void plan_ok(const char *text, sw_trial_list_t *out) {
  sw_err_t err;
  sw_rc rc = plan_text(text, out, &err);
  if (rc != SW_OK) fail_msg("unexpected error: %s", err.msg);
}

/* Number of trials whose grid point contains the given JSON fragment. */
static size_t count_with(const sw_trial_list_t *l, const char *fragment) {
  size_t n = 0;
  for (size_t i = 0; i < l->count; i++) n += strstr(l->items[i].axes_json, fragment) != NULL;
  return n;
}

static int hash_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted copy of the hashes (pointers into the list). */
static char **sorted_hashes(const sw_trial_list_t *l) {
  char **h = calloc(l->count, sizeof *h);
  assert_non_null(h);
  for (size_t i = 0; i < l->count; i++) h[i] = l->items[i].hash;
  qsort(h, l->count, sizeof *h, hash_cmp);
  return h;
}

static char *source_path(const char *rel) {
  const char *root = getenv("SW_SOURCE_DIR");
  static const char fallback[] = ".";
  size_t n = strlen(root ? root : fallback) + strlen(rel) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", root ? root : fallback, rel);
  return p;
}

/* ---------------------------------------------------------------- expansion */

static void test_product_order_and_count(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: p\nworkload: noop\ngrid:\n  product:\n    a: [1, 2, 3]\n    b: [x, y, z, w]\n", &l);
  assert_int_equal(l.count, 12); /* 3 x 4 */
  /* First axis varies slowest. */
  assert_string_equal(l.items[0].axes_json, "{\"a\":1,\"b\":\"x\"}");
  assert_string_equal(l.items[1].axes_json, "{\"a\":1,\"b\":\"y\"}");
  assert_string_equal(l.items[4].axes_json, "{\"a\":2,\"b\":\"x\"}");
  assert_string_equal(l.items[11].axes_json, "{\"a\":3,\"b\":\"w\"}");
  for (size_t i = 0; i < l.count; i++) assert_int_equal(l.items[i].index, i);
  sw_trial_list_free(&l);
}

static void test_no_grid_is_one_trial(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: one\nworkload: ffn\nsettings: {d_model: 64}\n", &l);
  assert_int_equal(l.count, 1);
  assert_string_equal(l.items[0].axes_json, "{}");
  assert_non_null(strstr(l.items[0].config_json, "\"d_model\":64"));
  sw_trial_list_free(&l);
}

static void test_zip_advances_together(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: z\nworkload: ffn\ngrid:\n  product: {m: [a, b]}\n  zip:\n    - {d_model: [64, 128, 256], "
          "d_ff: [256, 512, 1024]}\n",
          &l);
  assert_int_equal(l.count, 6); /* 2 x 3 tuples, not 2 x 3 x 3 */
  assert_int_equal(count_with(&l, "\"d_ff\":256,\"d_model\":64"), 2);
  assert_int_equal(count_with(&l, "\"d_ff\":512,\"d_model\":128"), 2);
  assert_int_equal(count_with(&l, "\"d_ff\":1024,\"d_model\":256"), 2);
  assert_int_equal(count_with(&l, "\"d_ff\":256,\"d_model\":128"), 0);
  sw_trial_list_free(&l);
}

static void test_two_zip_groups_are_a_product(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: z2\nworkload: ffn\ngrid:\n  zip:\n    - {a: [1, 2], b: [3, 4]}\n    - {c: [5, 6, 7], d: [8, 9, 10]}\n",
          &l);
  assert_int_equal(l.count, 6);
  assert_string_equal(l.items[0].axes_json, "{\"a\":1,\"b\":3,\"c\":5,\"d\":8}");
  assert_string_equal(l.items[5].axes_json, "{\"a\":2,\"b\":4,\"c\":7,\"d\":10}");
  sw_trial_list_free(&l);
}

static const char when_file[] =
    "name: w\nworkload: ffn\n"
    "grid:\n"
    "  product:\n"
    "    method: [dense, topk, cats, moe_dynk]\n"
    "    batch: [1, 8]\n"
    "  when:\n"
    "    - if: {method: [topk, cats]}\n"
    "      product: {sparsity: [0.5, 0.7, 0.9]}\n"
    "    - if: {method: moe_dynk}\n"
    "      product: {experts: [8, 16]}\n"
    "      zip: {tau: [0.5, 0.9], router: [mlp, linear]}\n"
    "      timeout: 120\n"
    "      retries: 2\n"
    "timeout: 30\n";

static void test_conditional_axes(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok(when_file, &l);
  /* per batch size: dense 1 + topk 3 + cats 3 + moe 2 experts x 2 (tau,router) = 11; x 2 batch sizes */
  assert_int_equal(l.count, 22);
  assert_int_equal(count_with(&l, "\"method\":\"dense\""), 2);
  assert_int_equal(count_with(&l, "\"sparsity\""), 12);
  assert_int_equal(count_with(&l, "\"experts\""), 8);
  assert_int_equal(count_with(&l, "\"tau\""), 8);
  for (size_t i = 0; i < l.count; i++) {
    const sw_trial_spec_t *t = &l.items[i];
    int moe = strstr(t->axes_json, "moe_dynk") != NULL;
    int sparse = strstr(t->axes_json, "topk") || strstr(t->axes_json, "cats");
    assert_int_equal(strstr(t->axes_json, "\"tau\"") != NULL, moe);         /* tau only for dynamic-k */
    assert_int_equal(strstr(t->axes_json, "\"sparsity\"") != NULL, sparse); /* sparsity only for topk/cats */
    assert_true(t->timeout_s == (moe ? 120.0 : 30.0));
    assert_int_equal(t->retries, moe ? 2 : 0);
  }
  /* Expanded in place (batch, the second axis, varies fastest): trials 0-1 are dense at batch 1
   * and 8, trials 2..4 topk at batch 1 with its three sparsities. */
  assert_string_equal(l.items[0].axes_json, "{\"batch\":1,\"method\":\"dense\"}");
  assert_string_equal(l.items[1].axes_json, "{\"batch\":8,\"method\":\"dense\"}");
  assert_string_equal(l.items[2].axes_json, "{\"batch\":1,\"method\":\"topk\",\"sparsity\":0.5}");
  assert_string_equal(l.items[4].axes_json, "{\"batch\":1,\"method\":\"topk\",\"sparsity\":0.9}");
  sw_trial_list_free(&l);
}

static void test_nested_when(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: n\nworkload: ffn\ngrid:\n  product: {method: [dense, moe]}\n  when:\n"
          "    - if: {method: moe}\n      product: {policy: [topk, dynk]}\n      when:\n"
          "        - if: {policy: dynk}\n          product: {tau: [0.1, 0.2, 0.3]}\n"
          "        - if: {policy: topk}\n          product: {k: [1, 2]}\n",
          &l);
  assert_int_equal(l.count, 6); /* dense 1 + moe/topk 2 + moe/dynk 3 */
  assert_int_equal(count_with(&l, "\"tau\""), 3);
  assert_int_equal(count_with(&l, "\"k\""), 2);
  sw_trial_list_free(&l);
}

/* A nested when whose condition also tests an outer axis matches only some of its parent's points;
 * exclusions apply to keys from any block.  Counts derived by hand in the comments. */
static void test_nested_when_partial_condition(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: nested\nworkload: ffn\nretries: 1\ngrid:\n"
          "  product: {method: [dense, moe], threads: [1, 2]}\n"
          "  zip: [{d_model: [64, 96], d_ff: [128, 192]}]\n"
          "  when:\n    - if: {method: moe}\n      product: {policy: [topk, dynk]}\n      when:\n"
          "        - if: {policy: dynk}\n          product: {tau: {range: [1, 4]}}\n"
          "        - if: {policy: topk, threads: 2}\n          retries: 3\n"
          "  exclude:\n    - {tau: 3, d_model: 96}\n    - {method: dense, threads: [2]}\n",
          &l);
  /* dense: 2 threads x 2 shapes = 4, minus 2 with threads 2 -> 2.  moe: 4 points x (topk 1 + dynk 3) = 16,
   * minus tau 3 at d_model 96 (2 thread values) -> 14.  Total 16. */
  assert_int_equal(l.count, 16);
  assert_int_equal(count_with(&l, "\"method\":\"dense\""), 2);
  assert_int_equal(count_with(&l, "\"tau\":3"), 2);
  size_t boosted = 0;
  for (size_t i = 0; i < l.count; i++) {
    int topk2 = strstr(l.items[i].axes_json, "\"topk\",\"threads\":2") != NULL;
    assert_int_equal(l.items[i].retries, topk2 ? 3 : 1);
    boosted += (size_t)topk2;
  }
  assert_int_equal(boosted, 2);
  sw_trial_list_free(&l);
}

static void test_exclusions(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: x\nworkload: ffn\ngrid:\n  product: {a: [1, 2, 3], b: [1, 2, 3]}\n  exclude:\n"
          "    - {a: 1, b: [1, 2]}\n    - {a: 3, b: 3}\n",
          &l);
  assert_int_equal(l.count, 6); /* 9 - 2 - 1 */
  assert_int_equal(count_with(&l, "{\"a\":1,\"b\":1}"), 0);
  assert_int_equal(count_with(&l, "{\"a\":1,\"b\":2}"), 0);
  assert_int_equal(count_with(&l, "{\"a\":1,\"b\":3}"), 1);
  assert_int_equal(count_with(&l, "{\"a\":3,\"b\":3}"), 0);
  /* Indices stay dense after exclusion. */
  for (size_t i = 0; i < l.count; i++) assert_int_equal(l.items[i].index, i);
  sw_trial_list_free(&l);
}

static void test_exclude_on_conditional_key(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: x\nworkload: ffn\ngrid:\n  product: {method: [dense, topk]}\n  when:\n"
          "    - if: {method: topk}\n      product: {sparsity: [0.5, 0.9]}\n  exclude:\n    - {sparsity: 0.9}\n",
          &l);
  assert_int_equal(l.count, 2); /* dense + topk@0.5; an exclusion never matches a trial without the key */
  sw_trial_list_free(&l);
}

static void test_range(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: r\nworkload: noop\ngrid:\n  product:\n    i: {range: [10, 0, -3]}\n    j: {range: [0, 2]}\n", &l);
  assert_int_equal(l.count, 8); /* i in 10,7,4,1 x j in 0,1 */
  assert_string_equal(l.items[0].axes_json, "{\"i\":10,\"j\":0}");
  assert_string_equal(l.items[7].axes_json, "{\"i\":1,\"j\":1}");
  sw_trial_list_free(&l);
}

static void test_grid_overrides_measure_default(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: m\nworkload: ffn\ngrid:\n  product: {threads: [1, 2], batch: [[1, 16], [64]]}\n", &l);
  assert_int_equal(l.count, 4);
  assert_string_equal(l.items[0].axes_json, "{\"batch\":[1,16],\"threads\":1}");
  /* The other measurement keys keep their defaults, recorded in the config. */
  assert_non_null(strstr(l.items[0].config_json, "\"warmup\":2"));
  assert_non_null(strstr(l.items[0].config_json, "\"repetitions\":7"));
  assert_non_null(strstr(l.items[0].config_json, "\"cache\":\"cold\""));
  sw_trial_list_free(&l);
}

/* A measurement key set only in a when block: the trials the block does not match still record its default, with
 * the config and hash they have in the same file without the block. */
static void test_when_measure_key_keeps_default(void **state) {
  (void)state;
  sw_trial_list_t plain, when;
  plan_ok("name: w\nworkload: ffn\ngrid:\n  product: {method: [cats, topk]}\n", &plain);
  plan_ok("name: w\nworkload: ffn\ngrid:\n  product: {method: [cats, topk]}\n  when:\n"
          "    - if: {method: cats}\n      product: {warmup: [5]}\n", &when);
  assert_int_equal(plain.count, 2);
  assert_int_equal(when.count, 2);
  assert_string_equal(when.items[0].axes_json, "{\"method\":\"cats\",\"warmup\":5}");
  assert_non_null(strstr(when.items[0].config_json, "\"warmup\":5"));
  assert_string_equal(when.items[1].axes_json, "{\"method\":\"topk\"}");
  assert_non_null(strstr(when.items[1].config_json, "\"warmup\":2"));
  assert_string_equal(when.items[1].config_json, plain.items[1].config_json);
  assert_string_equal(when.items[1].hash, plain.items[1].hash);
  sw_trial_list_free(&plain);
  sw_trial_list_free(&when);
}

/* measure.exclusive: the default (node) is applied by the workers and not written into configs, so hashes of
 * configs from before the key existed stay the same; an explicit value is recorded; a bad one names file:line. */
static void test_measure_exclusive(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: x\nworkload: noop\n", &l);
  assert_null(strstr(l.items[0].config_json, "exclusive"));
  sw_trial_list_free(&l);
  plan_ok("name: x\nworkload: noop\nmeasure:\n  exclusive: none\n", &l);
  assert_non_null(strstr(l.items[0].config_json, "\"exclusive\":\"none\""));
  sw_trial_list_free(&l);
  sw_err_t err;
  assert_int_equal(plan_text("name: x\nworkload: noop\nmeasure:\n  exclusive: rack\n", &l, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "t.yaml:4"));
  assert_non_null(strstr(err.msg, "node|socket|none"));
  /* measure.quiet likewise: absent is not written (default true, applied by the workers), given is recorded */
  plan_ok("name: x\nworkload: noop\n", &l);
  assert_null(strstr(l.items[0].config_json, "quiet"));
  sw_trial_list_free(&l);
  plan_ok("name: x\nworkload: noop\nmeasure:\n  quiet: false\n", &l);
  assert_non_null(strstr(l.items[0].config_json, "\"quiet\":false"));
  sw_trial_list_free(&l);
  assert_int_equal(plan_text("name: x\nworkload: noop\nmeasure:\n  quiet: often\n", &l, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "t.yaml:4"));
  assert_non_null(strstr(err.msg, "true or false"));
}

/* A key whose default changed (the model workload's weights: native, legacy default f32; experiments/README.md
 * "Trial identity"): absent, the config records the new default and hashes as written; written native is the same
 * trial; written f32 runs f32 (in the config) and keeps the hash the absent key had before the change.  Expected
 * hashes: Python hashlib.sha256 of the hand-written canonical texts below (the f32 one without "weights", which is
 * also what `sparsweep plan` gave `name: w / workload: model` at commit 0cf1002, before the change). */
#define W_BASE "\"batch\":1,\"cache\":\"cold\",\"papi_events\":\"default\",\"repetitions\":7,\"threads\":1,\"warmup\":2,"
static const char w_native_text[] = "{" W_BASE "\"weights\":\"native\",\"workload\":\"model\"}";
static const char w_native_hash[] = "5c166bbd66deffc333a255603403ab6a965f9674a4b9e73d9916f0d7cab52d29";
static const char w_f32_hash[] = "bc2fec84850b53e98e18c7a4ae7016db595ce7cd7595b2599d718b1487e2c235"; /* absent before */

static void plan_one(const char *text, sw_trial_list_t *l) {
  plan_ok(text, l);
  assert_int_equal(l->count, 1);
}

static void test_changed_default_identity(void **state) {
  (void)state;
  sw_trial_list_t absent, native, f32;
  plan_one("name: w\nworkload: model\n", &absent);
  plan_one("name: w\nworkload: model\nsettings: {weights: native}\n", &native);
  plan_one("name: w\nworkload: model\nsettings: {weights: f32}\n", &f32);
  assert_string_equal(absent.items[0].config_json, w_native_text); /* what the runner reads: native */
  assert_string_equal(absent.items[0].hash, w_native_hash);
  assert_string_equal(absent.items[0].axes_json, "{}");
  assert_string_equal(native.items[0].config_json, w_native_text); /* written or defaulted: one trial */
  assert_string_equal(native.items[0].hash, w_native_hash);
  assert_non_null(strstr(f32.items[0].config_json, "\"weights\":\"f32\""));
  assert_string_equal(f32.items[0].hash, w_f32_hash);
  assert_string_not_equal(f32.items[0].hash, absent.items[0].hash);
  sw_trial_list_free(&absent);
  sw_trial_list_free(&native);
  sw_trial_list_free(&f32);
  /* the method version suffix follows the text without the legacy key */
  plan_one("name: w\nworkload: model\nsettings: {weights: f32, method: dejavu}\n", &f32);
  assert_string_equal(f32.items[0].hash, "acdbf801c2adcf2881ed35bee71d81b45b87835a48508b14d2e87cc371e1fd30");
  sw_trial_list_free(&f32);
}

/* The default fills only the trials that do not set the key, whichever block sets it; an axis over both values
 * gives the two hashes above; other workloads (their own weights row, no legacy default) record nothing. */
static void test_changed_default_in_grid(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: w\nworkload: model\ngrid:\n  product: {weights: [f32, native]}\n", &l);
  assert_int_equal(l.count, 2);
  assert_string_equal(l.items[0].hash, w_f32_hash);
  assert_string_equal(l.items[0].axes_json, "{\"weights\":\"f32\"}");
  assert_string_equal(l.items[1].hash, w_native_hash);
  sw_trial_list_free(&l);
  plan_ok("name: w\nworkload: model\ngrid:\n  product: {method: [dense, topk]}\n  when:\n"
          "    - if: {method: topk}\n      product: {weights: [f32]}\n", &l);
  assert_int_equal(l.count, 2);
  assert_non_null(strstr(l.items[0].config_json, "\"weights\":\"native\""));
  assert_string_equal(l.items[0].axes_json, "{\"method\":\"dense\"}");
  assert_non_null(strstr(l.items[1].config_json, "\"weights\":\"f32\""));
  assert_string_equal(l.items[1].axes_json, "{\"method\":\"topk\",\"weights\":\"f32\"}");
  sw_trial_list_free(&l);
  plan_ok("name: w\nworkload: attribution\n", &l);
  assert_null(strstr(l.items[0].config_json, "weights"));
  sw_trial_list_free(&l);
  plan_ok("name: w\nworkload: ffn\n", &l);
  assert_null(strstr(l.items[0].config_json, "weights"));
  sw_trial_list_free(&l);
}

/* ---------------------------------------------------------------- canonical JSON and hashes */

static void test_canonical_text_and_reference_hash(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: c\nworkload: noop\nsettings:\n  e: true\n  d: [1, 2]\n  c: x\n  b: 0.5\n  a: 1\n", &l);
  assert_int_equal(l.count, 1);
  /* Hand-written canonical text; its SHA-256 from Python: hashlib.sha256(text.encode()).hexdigest(). */
  assert_string_equal(l.items[0].config_json,
                      "{\"a\":1,\"b\":0.5,\"batch\":1,\"c\":\"x\",\"cache\":\"cold\",\"d\":[1,2],\"e\":true,"
                      "\"papi_events\":\"default\",\"repetitions\":7,\"threads\":1,\"warmup\":2,\"workload\":\"noop\"}");
  assert_string_equal(l.items[0].hash, "20861ceaa6d935942d380483dba535a02dfbea2e82483513dd7925ee88ccd9c5");
  sw_trial_list_free(&l);
}

static void test_canonical_numbers_and_strings(void **state) {
  (void)state;
  sw_trial_list_t l;
  plan_ok("name: c\nworkload: noop\nsettings:\n  f1: 0.1\n  f2: 1.0\n  f3: 1e-7\n  f4: -0.0\n  f5: 2.5e10\n"
          "  i1: 9007199254740993\n  i2: -42\n  s1: \"a\\\"b\\\\c\\u00e9\\t\"\n  s2: '007'\n  s3: yes\n  b1: False\n"
          "  t1: !!int \"5\"\n  t2: !!float '2.5'\n  t3: !!bool \"true\"\n  t4: !!str 12\n",
          &l);
  const char *j = l.items[0].config_json;
  assert_non_null(strstr(j, "\"f1\":0.1,"));
  assert_non_null(strstr(j, "\"f2\":1,"));          /* 1.0 prints as 1: numbers are numbers */
  assert_non_null(strstr(j, "\"f3\":1e-07,"));
  assert_non_null(strstr(j, "\"f4\":0,"));          /* -0.0 canonicalised to 0 */
  assert_non_null(strstr(j, "\"f5\":25000000000,"));
  assert_non_null(strstr(j, "\"i1\":9007199254740993,")); /* > 2^53: integers stay exact */
  assert_non_null(strstr(j, "\"i2\":-42,"));
  assert_non_null(strstr(j, "\"s1\":\"a\\\"b\\\\c\xc3\xa9\\t\","));
  assert_non_null(strstr(j, "\"s2\":\"007\","));   /* quoted: a string */
  assert_non_null(strstr(j, "\"s3\":\"yes\","));   /* YAML 1.2: yes is a string, not a bool */
  assert_non_null(strstr(j, "\"b1\":false,"));
  assert_non_null(strstr(j, "\"t1\":5,"));       /* !!int "5": the tag decides, not the quotes */
  assert_non_null(strstr(j, "\"t2\":2.5,"));
  assert_non_null(strstr(j, "\"t3\":true,"));
  assert_non_null(strstr(j, "\"t4\":\"12\","));   /* !!str */
  /* The canonical text is valid JSON, and canonicalising its parse gives the same bytes. */
  sw_json_t *v = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(j, strlen(j), &v, &err), SW_OK);
  sw_buf_t again = SW_BUF_INIT;
  assert_int_equal(sw_canon_json_object(v, &again, &err), SW_OK);
  assert_string_equal(sw_buf_str(&again), j);
  sw_buf_free(&again);
  sw_json_free(v);
  sw_trial_list_free(&l);
}

static void test_json_object_resorted(void **state) {
  (void)state;
  const char *in = "{ \"z\": 1.50, \"a\": [true, \"q\"], \"m\": 1e2, \"b\": -0 }";
  sw_json_t *v = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(in, strlen(in), &v, &err), SW_OK);
  sw_buf_t out = SW_BUF_INIT;
  assert_int_equal(sw_canon_json_object(v, &out, &err), SW_OK);
  assert_string_equal(sw_buf_str(&out), "{\"a\":[true,\"q\"],\"b\":0,\"m\":100,\"z\":1.5}");
  sw_buf_free(&out);
  sw_json_free(v);
  /* Nested objects are not flat configs. */
  in = "{\"a\":{\"b\":1}}";
  assert_int_equal(sw_json_parse(in, strlen(in), &v, &err), SW_OK);
  assert_int_equal(sw_canon_json_object(v, &out, &err), SW_ERR_INVALID);
  sw_buf_free(&out);
  sw_json_free(v);
}

/* The same experiment with every mapping in a different key order: the same set of hashes. */
static void test_hash_stable_across_key_order(void **state) {
  (void)state;
  static const char a[] =
      "name: k\nworkload: ffn\nsettings: {activation: relu, seed: 1, gated: false}\n"
      "measure: {warmup: 1, repetitions: 5, papi_events: [PAPI_TOT_CYC]}\n"
      "grid:\n  product: {method: [dense, topk], batch: [1, 4]}\n  zip: {d_model: [64, 128], d_ff: [256, 512]}\n"
      "  when:\n    - if: {method: topk}\n      product: {sparsity: [0.5, 0.75]}\n";
  static const char b[] =
      "grid:\n  when:\n    - product: {sparsity: [0.75, 0.5]}\n      if: {method: topk}\n"
      "  zip: {d_ff: [256, 512], d_model: [64, 128]}\n  product: {batch: [4, 1], method: [topk, dense]}\n"
      "measure: {papi_events: [PAPI_TOT_CYC], repetitions: 5, warmup: 1}\n"
      "settings: {gated: false, seed: 1, activation: relu}\nworkload: ffn\nname: k2\ntimeout: 5\nretries: 3\n";
  sw_trial_list_t la, lb;
  plan_ok(a, &la);
  plan_ok(b, &lb);
  assert_int_equal(la.count, 12); /* (dense 1 + topk 2) x 2 batch x 2 shapes */
  assert_int_equal(lb.count, la.count);
  char **ha = sorted_hashes(&la), **hb = sorted_hashes(&lb);
  for (size_t i = 0; i < la.count; i++) assert_string_equal(ha[i], hb[i]);
  /* Order differs (axis order changed), identity does not: trial 0 of a is somewhere in b. */
  assert_string_not_equal(la.items[0].hash, lb.items[0].hash);
  free(ha);
  free(hb);
  sw_trial_list_free(&la);
  sw_trial_list_free(&lb);
}

static void test_policy_and_name_not_hashed(void **state) {
  (void)state;
  sw_trial_list_t la, lb, lc;
  plan_ok("name: a\nworkload: ffn\nsettings: {x: 1}\ntimeout: 5\nretries: 0\n", &la);
  plan_ok("name: b\ndescription: other\nworkload: ffn\nsettings: {x: 1.0}\ntimeout: 500\nretries: 4\n", &lb);
  plan_ok("name: a\nworkload: ffn\nsettings: {x: 2}\ntimeout: 5\nretries: 0\n", &lc);
  assert_string_equal(la.items[0].hash, lb.items[0].hash); /* 1 == 1.0; timeout, retries, name excluded */
  assert_string_not_equal(la.items[0].hash, lc.items[0].hash);
  assert_true(lb.items[0].timeout_s == 500.0);
  assert_int_equal(lb.items[0].retries, 4);
  sw_trial_list_free(&la);
  sw_trial_list_free(&lb);
  sw_trial_list_free(&lc);
}

static void test_spec_hash_is_file_hash(void **state) {
  (void)state;
  static const char text[] = "name: s\nworkload: noop\n";
  sw_experiment_t *e = NULL;
  sw_err_t err;
  assert_int_equal(sw_expfile_load_mem("s.yaml", text, strlen(text), &e, &err), SW_OK);
  /* hashlib.sha256(b"name: s\nworkload: noop\n").hexdigest() */
  assert_string_equal(e->spec_hash, "843ebdd0f333b6092db64c0c704adf7b848232d7d97f1c52d7949f4a14bc0c0b");
  assert_string_equal(e->name, "s");
  assert_string_equal(e->workload, "noop");
  assert_int_equal(e->spec_len, strlen(text));
  sw_experiment_free(e);
}

/* ---------------------------------------------------------------- shipped examples */

static void load_example(const char *rel, sw_trial_list_t *l) {
  char *path = source_path(rel);
  sw_experiment_t *e = NULL;
  sw_err_t err;
  sw_rc rc = sw_expfile_load(path, &e, &err);
  if (rc == SW_OK) rc = sw_grid_expand(e, l, &err);
  if (rc != SW_OK) fail_msg("%s: %s", rel, err.msg);
  sw_experiment_free(e);
  free(path);
}

static void test_examples(void **state) {
  (void)state;
  sw_trial_list_t l;
  load_example("experiments/examples/test_crash.yaml", &l);
  assert_true(l.count >= 50);
  assert_int_equal(count_with(&l, "\"action\":\"ok\""), l.count - 4);
  assert_int_equal(count_with(&l, "\"action\":\"segv\""), 1);
  assert_int_equal(count_with(&l, "\"action\":\"abort\""), 1);
  assert_int_equal(count_with(&l, "\"action\":\"exit\",\"exit_code\":3"), 1);
  assert_int_equal(count_with(&l, "\"action\":\"hang\""), 1);
  for (size_t i = 0; i < l.count; i++)
    assert_true(l.items[i].timeout_s == (strstr(l.items[i].axes_json, "hang") ? 2.0 : 10.0));
  sw_trial_list_free(&l);
  load_example("experiments/examples/ffn_small.yaml", &l);
  assert_int_equal(l.count, 28); /* (dense + 3 topk + 3 threshold) x 2 batch sizes x 2 zipped shapes */
  assert_int_equal(count_with(&l, "\"method\":\"dense\""), 4);
  sw_trial_list_free(&l);
  load_example("experiments/examples/ffn_default.yaml", &l);
  /* per batch size: dense 1 + 3 methods x 3 sparsities + cett 2 + moe_topk 2 + moe_dynk_max 2 = 16; x 2 */
  assert_int_equal(l.count, 32);
  assert_int_equal(count_with(&l, "\"tau\""), 8);
  sw_trial_list_free(&l);
  load_example("experiments/examples/noop.yaml", &l);
  assert_int_equal(l.count, 1000);
  sw_trial_list_free(&l);
}

/* ---------------------------------------------------------------- malformed and hostile files */

typedef struct bad_case {
  const char *what;
  const char *text;  /* NULL: generated by the test */
  sw_rc       code;
  const char *where; /* expected "t.yaml:L:C:" prefix (hand-derived from the text) */
  const char *says;  /* expected substring of the message */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"syntax: unclosed flow list", "name: a\nworkload: ffn\nsettings: {k: [1, 2\n", SW_ERR_PARSE, "t.yaml:4:1:",
     "YAML syntax error"},
    {"syntax: bad indentation", "name: a\nworkload: ffn\n  settings: 1\n", SW_ERR_PARSE, "t.yaml:3:11:", "syntax"},
    {"syntax: tab indentation", "name: a\nsettings:\n\tk: 1\n", SW_ERR_PARSE, "t.yaml:3:1:", "syntax"},
    {"not a mapping", "- a\n- b\n", SW_ERR_INVALID, "t.yaml:1:1:", "expected a mapping"},
    {"empty file", "", SW_ERR_INVALID, "t.yaml:1:1:", "empty"},
    {"comments only", "# nothing here\n", SW_ERR_INVALID, "t.yaml:1:1:", "empty"},
    {"two documents", "name: a\nworkload: ffn\n---\nname: b\n", SW_ERR_PARSE, "t.yaml:3:1:", "one YAML document"},
    {"missing name", "workload: ffn\n", SW_ERR_INVALID, "t.yaml:1:1:", "missing key 'name'"},
    {"missing workload", "name: a\n", SW_ERR_INVALID, "t.yaml:1:1:", "missing key 'workload'"},
    {"unknown workload", "name: a\nworkload: fnn\n", SW_ERR_INVALID, "t.yaml:2:11:", "did you mean 'ffn'"},
    {"unknown top key", "name: a\nworkload: ffn\nsetings: {}\n", SW_ERR_INVALID, "t.yaml:3:1:",
     "did you mean 'settings'"},
    {"unknown measure key", "name: a\nworkload: ffn\nmeasure: {repetitons: 3}\n", SW_ERR_INVALID, "t.yaml:3:11:",
     "did you mean 'repetitions'"},
    {"unknown grid key", "name: a\nworkload: ffn\ngrid: {prodcut: {a: [1]}}\n", SW_ERR_INVALID, "t.yaml:3:8:",
     "did you mean 'product'"},
    {"unknown when key", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1]}\n  when:\n    - {iff: {a: 1}}\n",
     SW_ERR_INVALID, "t.yaml:6:8:", "did you mean 'if'"},
    {"if names unknown key", "name: a\nworkload: ffn\ngrid:\n  product: {method: [x]}\n  when:\n    - if: {metod: x}\n"
     "      product: {s: [1]}\n", SW_ERR_INVALID, "t.yaml:6:12:", "did you mean 'method'"},
    {"duplicate top key", "name: a\nworkload: ffn\nname: b\n", SW_ERR_INVALID, "t.yaml:3:1:", "duplicate key 'name'"},
    {"duplicate settings key", "name: a\nworkload: ffn\nsettings:\n  k: 1\n  k: 2\n", SW_ERR_INVALID, "t.yaml:5:3:",
     "duplicate key 'k'"},
    {"wrong type: timeout", "name: a\nworkload: ffn\ntimeout: soon\n", SW_ERR_INVALID, "t.yaml:3:10:",
     "expected a number"},
    {"negative timeout", "name: a\nworkload: ffn\ntimeout: -1\n", SW_ERR_INVALID, "t.yaml:3:10:", "expected a number"},
    {"wrong type: retries", "name: a\nworkload: ffn\nretries: 1.5\n", SW_ERR_INVALID, "t.yaml:3:10:",
     "expected an integer"},
    {"wrong type: threads", "name: a\nworkload: ffn\nmeasure: {threads: two}\n", SW_ERR_INVALID, "t.yaml:3:20:",
     "expected an integer"},
    {"wrong value: cache", "name: a\nworkload: ffn\nmeasure: {cache: lukewarm}\n", SW_ERR_INVALID, "t.yaml:3:18:",
     "cold|warm"},
    {"wrong value: kernel_isa", "name: a\nworkload: ffn\nmeasure: {kernel_isa: avx1024}\n", SW_ERR_INVALID,
     "t.yaml:3:23:", "auto|portable|avx2|avx512"},
    {"bad grid value for measure key", "name: a\nworkload: ffn\ngrid: {product: {threads: [1, 0]}}\n", SW_ERR_INVALID,
     "t.yaml:3:31:", "threads"},
    {"settings value is a mapping", "name: a\nworkload: ffn\nsettings: {k: {x: 1}}\n", SW_ERR_INVALID,
     "t.yaml:3:15:", "got a mapping"},
    {"nested list in settings", "name: a\nworkload: ffn\nsettings: {k: [[1]]}\n", SW_ERR_INVALID, "t.yaml:3:16:",
     "cannot be nested"},
    {"null value", "name: a\nworkload: ffn\nsettings: {k: ~}\n", SW_ERR_INVALID, "t.yaml:3:15:", "null"},
    {"non-finite number", "name: a\nworkload: ffn\nsettings: {k: .nan}\n", SW_ERR_INVALID, "t.yaml:3:15:", "finite"},
    {"float underflow", "name: a\nworkload: ffn\nsettings: {k: 1e-400}\n", SW_ERR_INVALID, "t.yaml:3:15:",
     "out of range"},
    {"!!int on a word", "name: a\nworkload: ffn\nsettings: {k: !!int topk}\n", SW_ERR_INVALID, "t.yaml:3:15:",
     "tagged !!int but 'topk'"},
    {"!!bool on a number", "name: a\nworkload: ffn\nsettings: {k: !!bool 0.5}\n", SW_ERR_INVALID, "t.yaml:3:15:",
     "tagged !!bool"},
    {"!!float on a word", "name: a\nworkload: ffn\nsettings: {k: !!float \"x1\"}\n", SW_ERR_INVALID, "t.yaml:3:15:",
     "tagged !!float"},
    {"integer overflow", "name: a\nworkload: ffn\nsettings: {k: 99999999999999999999}\n", SW_ERR_INVALID,
     "t.yaml:3:15:", "64 bits"},
    {"bad key syntax", "name: a\nworkload: ffn\nsettings: {Bad-Key: 1}\n", SW_ERR_INVALID, "t.yaml:3:12:",
     "bad key 'Bad-Key'"},
    {"workload in settings", "name: a\nworkload: ffn\nsettings: {workload: x}\n", SW_ERR_INVALID, "t.yaml:3:12:",
     "top level"},
    {"measure key in settings", "name: a\nworkload: ffn\nsettings: {threads: 2}\n", SW_ERR_INVALID, "t.yaml:3:12:",
     "measure:"},
    {"bad name", "name: 'my sweep'\nworkload: ffn\n", SW_ERR_INVALID, "t.yaml:1:7:", "expected a name"},
    {"empty grid axis", "name: a\nworkload: ffn\ngrid:\n  product:\n    x: []\n", SW_ERR_INVALID, "t.yaml:5:8:",
     "empty list"},
    {"scalar grid axis", "name: a\nworkload: ffn\ngrid:\n  product:\n    x: 3\n", SW_ERR_INVALID, "t.yaml:5:8:",
     "expected a list of values"},
    {"repeated axis value", "name: a\nworkload: ffn\ngrid:\n  product:\n    x: [1, 2, 1.0]\n", SW_ERR_INVALID,
     "t.yaml:5:15:", "repeated"},
    {"zip lengths differ", "name: a\nworkload: ffn\ngrid:\n  zip: {a: [1, 2], b: [1, 2, 3]}\n", SW_ERR_INVALID,
     "t.yaml:4:23:", "equal length"},
    {"empty zip group", "name: a\nworkload: ffn\ngrid:\n  zip: [{}]\n", SW_ERR_INVALID, "t.yaml:4:9:", "empty zip"},
    {"fixed key also an axis", "name: a\nworkload: ffn\nsettings: {k: 1}\ngrid: {product: {k: [1, 2]}}\n",
     SW_ERR_INVALID, "t.yaml:4:18:", "already fixed in settings at line 3, column 12"},
    {"axis in product and zip", "name: a\nworkload: ffn\ngrid:\n  product: {k: [1]}\n  zip: {k: [2]}\n",
     SW_ERR_INVALID, "t.yaml:5:9:", "already a grid axis"},
    {"when block with no if", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1]}\n  when:\n    - product: {b: [1]}\n",
     SW_ERR_INVALID, "t.yaml:6:7:", "without 'if:'"},
    {"when block sets nothing", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1]}\n  when:\n    - if: {a: 1}\n",
     SW_ERR_INVALID, "t.yaml:6:7:", "sets nothing"},
    {"if value no trial has", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1, 2]}\n  when:\n    - if: {a: 3}\n"
     "      product: {b: [1]}\n", SW_ERR_INVALID, "t.yaml:6:15:", "no trial can have this value of 'a'"},
    {"if value typo", "name: a\nworkload: ffn\ngrid:\n  product: {method: [dense, topk]}\n  when:\n"
     "    - if: {method: [dense, topkk]}\n      product: {b: [1]}\n", SW_ERR_INVALID, "t.yaml:6:28:",
     "did you mean 'topk'"},
    {"if values never together", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1, 2]}\n  when:\n"
     "    - if: {a: 1}\n      product: {b: [1]}\n    - if: {a: 2}\n      product: {c: [1]}\n"
     "    - if: {b: 1, c: 1}\n      product: {d: [1]}\n", SW_ERR_INVALID, "t.yaml:10:11:", "matches no trial"},
    {"overlapping when blocks set one key", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1, 2]}\n  when:\n"
     "    - if: {a: [1, 2]}\n      product: {b: [1]}\n    - if: {a: 2}\n      product: {b: [5]}\n",
     SW_ERR_INVALID, "t.yaml:9:21:", "set again"},
    {"exclude names fixed key", "name: a\nworkload: ffn\nsettings: {k: 1}\ngrid:\n  product: {a: [1, 2]}\n"
     "  exclude:\n    - {k: 1}\n", SW_ERR_INVALID, "t.yaml:7:8:", "only grid keys"},
    {"exclude names unknown key", "name: a\nworkload: ffn\ngrid:\n  product: {aa: [1, 2]}\n  exclude:\n    - {ab: 1}\n",
     SW_ERR_INVALID, "t.yaml:6:8:", "did you mean 'aa'"},
    {"exclude value no trial has", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1, 2]}\n  exclude:\n"
     "    - {a: 3}\n", SW_ERR_INVALID, "t.yaml:6:11:", "no trial can have this value"},
    {"exclude values never together", "name: a\nworkload: ffn\ngrid:\n  zip: {a: [1, 2], b: [1, 2]}\n  exclude:\n"
     "    - {a: 1, b: 2}\n", SW_ERR_INVALID, "t.yaml:6:7:", "matches no trial"},
    {"everything excluded", "name: a\nworkload: ffn\ngrid:\n  product: {a: [1, 2]}\n  exclude:\n    - {a: [1, 2]}\n",
     SW_ERR_INVALID, "t.yaml:4:3:", "grid is empty"},
    {"duplicate trials via zip", "name: a\nworkload: ffn\ngrid:\n  zip: {a: [1, 1], b: [2, 2]}\n", SW_ERR_INVALID,
     "t.yaml:4:3:", "same config"},
    {"huge grid", "name: a\nworkload: ffn\ngrid:\n  product:\n    a: {range: [0, 100000]}\n"
     "    b: {range: [0, 100000]}\n"
     "    c: {range: [0, 100000]}\n", SW_ERR_INVALID, "t.yaml:4:3:", "max_trials"},
    {"grid over a lowered cap", "name: a\nworkload: ffn\nmax_trials: 5\ngrid: {product: {a: [1, 2, 3], b: [1, 2]}}\n",
     SW_ERR_INVALID, "t.yaml:4:7:", "max_trials = 5"},
    {"cap above the hard limit", "name: a\nworkload: ffn\nmax_trials: 2000000\n", SW_ERR_INVALID, "t.yaml:3:13:",
     "expected an integer"},
    {"empty range", "name: a\nworkload: ffn\ngrid: {product: {a: {range: [5, 5]}}}\n", SW_ERR_INVALID,
     "t.yaml:3:29:", "empty"},
    {"zero range step", "name: a\nworkload: ffn\ngrid: {product: {a: {range: [0, 5, 0]}}}\n", SW_ERR_INVALID,
     "t.yaml:3:36:", "step"},
    {"unknown alias", "name: a\nworkload: ffn\nsettings: {k: *nope}\n", SW_ERR_PARSE, "t.yaml:3:15:", "no anchor"},
    {"recursive alias", "name: a\nworkload: ffn\nsettings: &s {k: *s}\n", SW_ERR_PARSE, "t.yaml:3:18:", "recursive"},
    {"unsupported tag", "name: a\nworkload: ffn\nsettings: {k: !!binary aGVsbG8=}\n", SW_ERR_PARSE, "t.yaml:3:15:",
     "unsupported YAML tag"},
    {"NUL escape in a string", "name: a\nworkload: ffn\nsettings: {k: \"a\\0b\"}\n", SW_ERR_PARSE, "t.yaml:3:15:",
     "NUL"},
    {"non-UTF-8 byte", "name: a\nworkload: ffn\nsettings: {k: \"\xff\"}\n", SW_ERR_PARSE, "t.yaml:3:16:", "UTF-8"},
    {"overlong UTF-8", "name: a\nworkload: \xc0\xaf\n", SW_ERR_PARSE, "t.yaml:2:11:", "UTF-8"},
    {"control character", "name: a\x01\nworkload: ffn\n", SW_ERR_PARSE, "t.yaml:1:8:",
     "control characters are not allowed"},
    {"billion laughs", NULL, SW_ERR_PARSE, "t.yaml:9:", "alias bomb"},
    /* the root mapping is level 1, so the 32nd "[" (column 35) would be level 33 */
    {"deep nesting", NULL, SW_ERR_PARSE, "t.yaml:1:35:", "nesting deeper than 32"},
    {"huge scalar", NULL, SW_ERR_PARSE, "t.yaml:3:15:", "longer than the limit"},
    {"file over 1 MiB", NULL, SW_ERR_PARSE, "t.yaml:1:1:", "larger than the limit"},
    {"too many exclusion values", NULL, SW_ERR_INVALID, "t.yaml:7:11:", "more than 4096 values"},
    /* settings k0..k512 on line 3: the 513th distinct key (column 5 of line 516) is one too many */
    {"too many keys", NULL, SW_ERR_INVALID, "t.yaml:516:3:", "more than 512 distinct config keys"},
};

/* Texts too large or too repetitive to write inline. */
static char *generate(const char *what, size_t *len) {
  sw_buf_t b = SW_BUF_INIT;
  if (!strcmp(what, "billion laughs")) {
    sw_buf_puts(&b, "name: a\nworkload: ffn\nsettings:\n"
                    "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i < 10; i++) {
      sw_buf_printf(&b, "  l%d: &l%d [", i, i);
      for (int j = 0; j < 10; j++) sw_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
      sw_buf_puts(&b, "]\n");
    }
    /* l0 (line 4) .. l4 (line 8) expand to 11 + 111 + ... + 111111 < 200000 nodes; l5's first alias
     * (line 9) adds 111111 more and crosses the budget. */
  } else if (!strcmp(what, "deep nesting")) {
    sw_buf_puts(&b, "x: ");
    for (int i = 0; i < 100; i++) sw_buf_puts(&b, "[");
    for (int i = 0; i < 100; i++) sw_buf_puts(&b, "]");
    sw_buf_puts(&b, "\n");
  } else if (!strcmp(what, "huge scalar")) {
    sw_buf_puts(&b, "name: a\nworkload: ffn\nsettings: {k: ");
    for (int i = 0; i < SW_EXP_MAX_SCALAR + 1; i++) sw_buf_puts(&b, "x");
    sw_buf_puts(&b, "}\n");
  } else if (!strcmp(what, "too many keys")) {
    sw_buf_puts(&b, "name: a\nworkload: ffn\nsettings:\n");
    for (int i = 0; i <= SW_EXP_MAX_KEYS; i++) sw_buf_printf(&b, "  k%d: 1\n", i);
  } else if (!strcmp(what, "too many exclusion values")) {
    sw_buf_puts(&b, "name: a\nworkload: ffn\ngrid:\n  product:\n    a: {range: [0, 5000]}\n  exclude:\n    - {a: [0");
    for (int i = 1; i <= SW_EXP_MAX_MATCH_VALUES; i++) sw_buf_printf(&b, ", %d", i);
    sw_buf_puts(&b, "]}\n");
  } else {
    sw_buf_puts(&b, "name: a\nworkload: ffn\n");
    while (b.len <= SW_EXP_MAX_FILE_BYTES) sw_buf_puts(&b, "# padding padding padding padding padding padding\n");
  }
  assert_true(sw_buf_ok(&b));
  *len = b.len;
  return sw_buf_take(&b);
}

static void test_hostile_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case_t *c = &bad_cases[i];
    size_t len = c->text ? strlen(c->text) : 0;
    char *gen = c->text ? NULL : generate(c->what, &len);
    sw_experiment_t *e = NULL;
    sw_trial_list_t l = {0};
    sw_err_t err;
    sw_rc rc = sw_expfile_load_mem("t.yaml", c->text ? c->text : gen, len, &e, &err);
    if (rc == SW_OK) rc = sw_grid_expand(e, &l, &err);
    sw_trial_list_free(&l);
    sw_experiment_free(e);
    free(gen);
    if (rc != c->code || strncmp(err.msg, c->where, strlen(c->where)) != 0 || !strstr(err.msg, c->says))
      fail_msg("case '%s': expected %s \"%s ...%s...\", got %s \"%s\"", c->what, sw_err_name(c->code), c->where,
               c->says, sw_err_name(rc), rc == SW_OK ? "" : err.msg);
  }
}

/* Every file in tests/hostile/expfiles/ fails to load or expand with a "path:line:col:" message. */
static void test_hostile_files(void **state) {
  (void)state;
  char *dir = source_path("tests/hostile/expfiles");
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *ent;
  int files = 0;
  while ((ent = readdir(d)) != NULL) {
    if (!strstr(ent->d_name, ".yaml")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    sw_experiment_t *e = NULL;
    sw_trial_list_t l = {0};
    sw_err_t err;
    sw_rc rc = sw_expfile_load(path, &e, &err);
    if (rc == SW_OK) rc = sw_grid_expand(e, &l, &err);
    sw_trial_list_free(&l);
    sw_experiment_free(e);
    if (rc != SW_ERR_PARSE && rc != SW_ERR_INVALID) fail_msg("%s: expected an error, got %s", path, sw_err_name(rc));
    /* "path:line:col: " with positive line and column */
    size_t n = strlen(path);
    int line = 0, col = 0;
    if (strncmp(err.msg, path, n) != 0 || sscanf(err.msg + n, ":%d:%d:", &line, &col) != 2 || line < 1 || col < 1)
      fail_msg("%s: message lacks file:line:col: %s", path, err.msg);
    files++;
  }
  closedir(d);
  free(dir);
  assert_true(files >= 10);
}

static void test_missing_file(void **state) {
  (void)state;
  sw_experiment_t *e = (sw_experiment_t *)&e; /* must be reset to NULL */
  sw_err_t err;
  assert_int_equal(sw_expfile_load("/nonexistent/x.yaml", &e, &err), SW_ERR_IO);
  assert_null(e);
  assert_non_null(strstr(err.msg, "/nonexistent/x.yaml"));
}

static void test_value_matching(void **state) {
  (void)state;
  sw_value_t one = {.kind = SW_VAL_INT, .i = 1}, onef = {.kind = SW_VAL_FLOAT, .f = 1.0};
  sw_value_t two = {.kind = SW_VAL_INT, .i = 2}, s = {.kind = SW_VAL_STR, .s = (char *)"1"};
  sw_value_t items[2] = {one, two};
  sw_value_t list = {.kind = SW_VAL_LIST, .items = items, .count = 2};
  assert_true(sw_value_equal(&one, &onef));
  assert_false(sw_value_equal(&one, &s)); /* "1" is not 1 */
  assert_true(sw_value_matches(&two, &list));
  assert_false(sw_value_matches(&s, &list));
  assert_true(sw_value_matches(&list, &list)); /* a list value matches an equal list */
  /* integers against floats exactly: 2^53 + 1 is not 2^53.0 (through a double it would be) */
  sw_value_t big = {.kind = SW_VAL_INT, .i = 9007199254740993LL}, bigf = {.kind = SW_VAL_FLOAT, .f = 9007199254740992.0};
  sw_value_t big0 = {.kind = SW_VAL_INT, .i = 9007199254740992LL}, half = {.kind = SW_VAL_FLOAT, .f = 1.5};
  sw_value_t huge = {.kind = SW_VAL_FLOAT, .f = 1e300};
  assert_false(sw_value_equal(&big, &bigf));
  assert_false(sw_value_equal(&bigf, &big));
  assert_true(sw_value_equal(&big0, &bigf));
  assert_false(sw_value_equal(&one, &half));
  assert_false(sw_value_equal(&big, &huge));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_product_order_and_count),
      cmocka_unit_test(test_no_grid_is_one_trial),
      cmocka_unit_test(test_zip_advances_together),
      cmocka_unit_test(test_two_zip_groups_are_a_product),
      cmocka_unit_test(test_conditional_axes),
      cmocka_unit_test(test_nested_when),
      cmocka_unit_test(test_nested_when_partial_condition),
      cmocka_unit_test(test_exclusions),
      cmocka_unit_test(test_exclude_on_conditional_key),
      cmocka_unit_test(test_range),
      cmocka_unit_test(test_grid_overrides_measure_default),
      cmocka_unit_test(test_when_measure_key_keeps_default),
      cmocka_unit_test(test_measure_exclusive),
      cmocka_unit_test(test_changed_default_identity),
      cmocka_unit_test(test_changed_default_in_grid),
      cmocka_unit_test(test_canonical_text_and_reference_hash),
      cmocka_unit_test(test_canonical_numbers_and_strings),
      cmocka_unit_test(test_json_object_resorted),
      cmocka_unit_test(test_hash_stable_across_key_order),
      cmocka_unit_test(test_policy_and_name_not_hashed),
      cmocka_unit_test(test_spec_hash_is_file_hash),
      cmocka_unit_test(test_examples),
      cmocka_unit_test(test_hostile_table),
      cmocka_unit_test(test_hostile_files),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_value_matching),
  };
  return cmocka_run_group_tests_name("experiments", tests, NULL, NULL);
}
