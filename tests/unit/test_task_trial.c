/* Tests for the model workload's multiple-choice evaluation (workers/sw_trial_task.h) run in-process on SmolLM2
 * with tests/reference/mctask_small.jsonl: the task's identity (items, SHA-256 of the file computed here), a dense
 * trial equal to its own dense scores, the paired metrics of a CATS trial consistent with its two accuracies and
 * with McNemar's p-value from the discordant counts, and the errors: a malformed line naming file:line, a cloze span
 * overlapping calibration, teal_alloc on a method other than TEAL.  Skipped without the model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_hash.h"
#include "models/sw_mctask.h"
#include "tests/unit/sw_test_trial.h"
#include "tests/unit/sw_test_util.h"
#include "workers/sw_trial_model.h"

typedef struct task_fixture {
  const char *model, *text, *task;
  char        base[4096];
} task_fixture_t;

static int setup(void **state) {
  static task_fixture_t f;
  f.model = getenv("SW_MODEL_PATH"), f.text = getenv("SW_TEXT_PATH"), f.task = getenv("SW_MCTASK_FILE");
  snprintf(f.base, sizeof f.base, "\"model\":\"%s\",\"text\":\"%s\",\"calib_tokens\":64,\"eval_tokens\":64,"
           "\"window\":32,\"prompt_tokens\":8,\"decode_tokens\":2,\"repetitions\":1,\"warmup\":0",
           f.model ? f.model : "", f.text ? f.text : "");
  *state = &f;
  return 0;
}

static int have_model(const task_fixture_t *f) {
  FILE *m = f->model && f->text && f->task ? fopen(f->model, "rb") : NULL;
  if (m) fclose(m);
  return m != NULL;
}

static void test_dense_and_cats_paired(void **state) {
  task_fixture_t *f = *state;
  if (!have_model(f)) skip();
  char json[8192];
  sw_trial_cache_t cache = {0};
  sw_json_t *dense = NULL, *cats = NULL;
  sw_err_t err = {0};
  snprintf(json, sizeof json, "{%s,\"method\":\"dense\",\"task\":\"%s\"}", f->base, f->task);
  if (sw_test_trial_run(sw_trial_run_model, &cache, json, &dense, &err)) fail_msg("%s", err.msg);
  snprintf(json, sizeof json, "{%s,\"method\":\"cats\",\"sparsity\":0.7,\"task\":\"%s\"}", f->base, f->task);
  if (sw_test_trial_run(sw_trial_run_model, &cache, json, &cats, &err)) fail_msg("%s", err.msg);
  size_t len = 0;
  char *bytes = sw_test_read_file(f->task, &len), sha[65];
  sw_sha256_hex(bytes, len, sha);
  free(bytes);
  const sw_json_t *ms = sw_json_get(dense, "metrics");
  int found = 0;
  for (size_t i = 0; i < ms->count; i++)
    if (strcmp(sw_json_get(&ms->items[i], "name")->string, "task_sha256") == 0)
      found = strcmp(sw_json_get(&ms->items[i], "unit")->string, sha) == 0;
  assert_true(found);
  assert_true(sw_test_trial_metric(dense, "task_items") == 5);
  assert_true(sw_test_trial_metric(dense, "task_acc") == sw_test_trial_metric(dense, "task_acc_dense"));
  assert_true(sw_test_trial_metric(dense, "task_acc_diff") == 0);
  double acc = sw_test_trial_metric(cats, "task_acc"), acc_d = sw_test_trial_metric(cats, "task_acc_dense");
  double diff = sw_test_trial_metric(cats, "task_acc_diff");
  double b = sw_test_trial_metric(cats, "task_acc_only_method"), c = sw_test_trial_metric(cats, "task_acc_only_dense");
  assert_true(acc_d == sw_test_trial_metric(dense, "task_acc")); /* the same dense scores */
  assert_true(sw_test_close(diff, acc - acc_d, 1e-12, 0));
  assert_true(sw_test_close(diff, (b - c) / 5.0, 1e-12, 0));
  assert_true(sw_test_close(sw_test_trial_metric(cats, "task_acc_mcnemar_p"), sw_mc_mcnemar_p((int64_t)b, (int64_t)c),
                            1e-12, 0));
  sw_json_free(dense), sw_json_free(cats);
  sw_trial_cache_free(&cache);
}

static void test_errors(void **state) {
  task_fixture_t *f = *state;
  if (!have_model(f)) skip();
  const char *bad = "/tmp/sw_test_task_bad.jsonl";
  FILE *o = fopen(bad, "w");
  assert_non_null(o);
  fputs("{\"context\":\"a b\",\"choices\":[\" c\",\" d\"],\"gold\":0}\n{\"context\":\"a\",\"choices\":[\" c\"],\"gold\":0}\n", o);
  fclose(o);
  char json[8192];
  snprintf(json, sizeof json, "{%s,\"task\":\"%s\"}", f->base, bad);
  sw_test_trial_error(sw_trial_run_model, json, "/tmp/sw_test_task_bad.jsonl:2: 1 choices");
  remove(bad);
  snprintf(json, sizeof json, "{%s,\"task\":\"cloze\",\"task_offset\":0}", f->base);
  sw_test_trial_error(sw_trial_run_model, json, "overlaps the calibration span");
  snprintf(json, sizeof json, "{%s,\"method\":\"cats\",\"teal_alloc\":\"greedy\"}", f->base);
  sw_test_trial_error(sw_trial_run_model, json, "greedy applies to method teal only");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_dense_and_cats_paired), cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(tests, setup, NULL);
}
