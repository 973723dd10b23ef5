/* Unit tests for workers/: the trial result writer (parsed back with sw_json), the executor cache, and the
 * crash-isolating executor driven through the test workload (ok, segv, abort, exit, hang, oom, interrupt,
 * executor death and restart; the PAPI counters are tested in test_counters.c).  This test binary doubles as
 * the executor executable: started as
 * `test_workers executor --fd N` it serves trials exactly like `sparsweep executor`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sw_buf.h"
#include "common/sw_json.h"

/* Sample values are sums of binary fractions written with %.17g: only JSON round-off separates them. */
#define SAMPLE_TOL_ABS 1e-12
#include "common/sw_time.h"
#include "workers/sw_executor.h"
#include "workers/sw_trial.h"

/* ---- helpers ---- */

static sw_executor_t *start_self(double grace_s) {
  sw_executor_t *ex = NULL;
  sw_err_t err;
  sw_executor_opts_t opts = {.grace_s = grace_s, .mem_limit_bytes = UINT64_MAX};
  sw_rc rc = sw_executor_start(&ex, NULL, &opts, &err); /* NULL: /proc/self/exe, i.e. this test binary */
  if (rc) fprintf(stderr, "executor start: %s\n", err.msg);
  assert_int_equal(rc, SW_OK);
  assert_non_null(ex);
  return ex;
}

static void run(sw_executor_t *ex, const char *config, double timeout_s, sw_outcome_t *res) {
  sw_err_t err;
  sw_rc rc = sw_executor_run(ex, config, timeout_s, res, &err);
  if (rc) fprintf(stderr, "executor run: %s\n", err.msg);
  assert_int_equal(rc, SW_OK);
  assert_non_null(res->stderr_tail);
}

/* Value of metric `name` in a result JSON text; fails the test when absent. */
static double result_metric(const char *result_json, const char *name) {
  sw_json_t *doc = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(result_json, strlen(result_json), &doc, &err), SW_OK);
  const sw_json_t *metrics = sw_json_get(doc, "metrics");
  assert_non_null(metrics);
  double value = 0;
  int found = 0;
  for (size_t i = 0; i < metrics->count && !found; i++) {
    const sw_json_t *n = sw_json_get(&metrics->items[i], "name");
    if (n && n->kind == SW_JSON_STRING && strcmp(n->string, name) == 0) {
      value = sw_json_get(&metrics->items[i], "value")->number;
      found = 1;
    }
  }
  sw_json_free(doc);
  assert_true(found);
  return value;
}

/* ---- result writer and cache ---- */

static void test_trial_out_json_roundtrip(void **state) {
  (void)state;
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  sw_trial_out_metric(&out, "speedup \"x\"", 1.5, "ratio");
  sw_trial_out_metric(&out, "flops", 2.5e9, "flop");
  sw_trial_out_sample(&out, "dense", 0, 0.25);
  sw_trial_out_sample(&out, "sparse", 1, 0.125);
  sw_trial_out_counter(&out, "dense", "PAPI_TOT_CYC", 0, 0, "no hardware counters");
  sw_trial_out_counter(&out, "sparse", "sde:::sparsweep::flops", 1, 4096, NULL);
  sw_buf_t b = SW_BUF_INIT;
  sw_trial_out_json(&out, &b);
  assert_true(sw_buf_ok(&b));
  sw_json_t *doc = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(b.data, b.len, &doc, &err), SW_OK);
  assert_int_equal(sw_json_get(doc, "v")->integer, 1);
  const sw_json_t *m = sw_json_get(doc, "metrics"), *s = sw_json_get(doc, "samples"), *c = sw_json_get(doc, "counters");
  assert_int_equal(m->count, 2);
  assert_string_equal(sw_json_get(&m->items[0], "name")->string, "speedup \"x\"");
  assert_true(sw_json_get(&m->items[1], "value")->number == 2.5e9);
  assert_string_equal(sw_json_get(&m->items[1], "unit")->string, "flop");
  assert_int_equal(s->count, 2);
  assert_string_equal(sw_json_get(&s->items[1], "series")->string, "sparse");
  assert_int_equal(sw_json_get(&s->items[1], "rep")->integer, 1);
  assert_true(sw_json_get(&s->items[1], "value")->number == 0.125);
  assert_int_equal(c->count, 2);
  assert_int_equal(sw_json_get(&c->items[0], "value")->kind, SW_JSON_NULL);
  assert_string_equal(sw_json_get(&c->items[0], "reason")->string, "no hardware counters");
  assert_true(sw_json_get(&c->items[1], "value")->number == 4096);
  assert_int_equal(sw_json_get(&c->items[1], "reason")->kind, SW_JSON_NULL);
  sw_json_free(doc);
  sw_buf_free(&b);
  sw_trial_out_free(&out);
}

static void test_trial_out_empty(void **state) {
  (void)state;
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  sw_buf_t b = SW_BUF_INIT;
  sw_trial_out_json(&out, &b);
  assert_string_equal(sw_buf_str(&b), "{\"v\":1,\"metrics\":[],\"samples\":[],\"counters\":[]}");
  sw_buf_free(&b);
  sw_trial_out_free(&out);
}

static void count_destroy(void *value) { ++*(int *)value; }

static void test_cache_put_get_replace_free(void **state) {
  (void)state;
  sw_trial_cache_t cache = {0};
  int a = 0, b = 0, c = 0;
  assert_null(sw_trial_cache_get(&cache, "k"));
  assert_int_equal(sw_trial_cache_put(&cache, "model:abc", &a, count_destroy), SW_OK);
  for (int i = 0; i < 20; i++) { /* forces growth */
    char key[32];
    snprintf(key, sizeof key, "filler:%d", i);
    assert_int_equal(sw_trial_cache_put(&cache, key, NULL, NULL), SW_OK);
  }
  assert_ptr_equal(sw_trial_cache_get(&cache, "model:abc"), &a);
  assert_int_equal(sw_trial_cache_put(&cache, "model:abc", &b, count_destroy), SW_OK);
  assert_int_equal(a, 1); /* replaced value destroyed */
  assert_ptr_equal(sw_trial_cache_get(&cache, "model:abc"), &b);
  assert_int_equal(sw_trial_cache_put(&cache, "calib:x", &c, count_destroy), SW_OK);
  assert_int_equal(cache.count, 22);
  sw_trial_cache_free(&cache);
  assert_int_equal(b, 1);
  assert_int_equal(c, 1);
  assert_int_equal(a, 1);
  assert_int_equal(cache.count, 0);
}

static void test_workload_table(void **state) {
  (void)state;
  const char *names[] = {"test", "noop", "ffn", "model"};
  for (size_t i = 0; i < 4; i++) {
    const sw_workload_t *w = sw_workload_find(names[i]);
    assert_non_null(w);
    assert_string_equal(w->name, names[i]);
    assert_non_null(w->run);
    assert_true(strlen(w->help) > 0);
  }
  assert_ptr_equal(sw_workload_find("test")->run, sw_trial_run_test);
  assert_null(sw_workload_find("nope"));
  assert_null(sw_workload_find(NULL));
}

static void test_signal_and_status_names(void **state) {
  (void)state;
  char buf[16];
  assert_string_equal(sw_signal_name(SIGSEGV, buf, sizeof buf), "SIGSEGV");
  assert_string_equal(sw_signal_name(SIGABRT, buf, sizeof buf), "SIGABRT");
  assert_string_equal(sw_signal_name(77, buf, sizeof buf), "SIG77");
  assert_string_equal(sw_trial_status_name(SW_TRIAL_OK), "ok");
  assert_string_equal(sw_trial_status_name(SW_TRIAL_FAILED), "failed");
  assert_string_equal(sw_trial_status_name(SW_TRIAL_TIMEOUT), "timeout");
  assert_string_equal(sw_trial_status_name(SW_TRIAL_INTERRUPTED), "interrupted");
}

/* ---- the executor ---- */

static void test_executor_ok_result(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"test\",\"action\":\"ok\",\"value\":7,\"stderr_text\":\"hello from the child\\n\"}", 10, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_string_equal(res.cause, "");
  assert_int_equal(res.signo, 0);
  assert_non_null(res.result_json);
  assert_true(result_metric(res.result_json, "value") == 7.0);
  pid_t child = (pid_t)result_metric(res.result_json, "pid");
  assert_true(child != getpid() && child != sw_executor_pid(ex)); /* ran in a forked child */
  assert_non_null(strstr(res.stderr_tail, "hello from the child"));
  assert_true(res.end_wall >= res.start_wall && res.end_wall - res.start_wall < 10);
  sw_json_t *doc = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(res.result_json, strlen(res.result_json), &doc, &err), SW_OK);
  assert_int_equal(sw_json_get(doc, "samples")->count, 3);
  const sw_json_t *c0 = &sw_json_get(doc, "counters")->items[0];
  assert_int_equal(sw_json_get(c0, "value")->kind, SW_JSON_NULL);
  assert_true(strlen(sw_json_get(c0, "reason")->string) > 0);
  sw_json_free(doc);
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"noop\"}", 0, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_true(result_metric(res.result_json, "noop") == 1.0);
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 1);
  sw_executor_stop(ex);
}

/* A result far larger than a pipe's buffer (~1 MB of JSON) arrives whole. */
static void test_executor_large_result(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"test\",\"samples\":20000}", 30, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_true(strlen(res.result_json) > 20000 * 30);
  sw_json_t *doc = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(res.result_json, strlen(res.result_json), &doc, &err), SW_OK);
  const sw_json_t *samples = sw_json_get(doc, "samples");
  assert_int_equal(samples->count, 20000);
  assert_int_equal(sw_json_get(&samples->items[19999], "rep")->integer, 19999);
  assert_true(fabs(sw_json_get(&samples->items[19999], "value")->number - 20.0) < SAMPLE_TOL_ABS); /* 1 ms * 20000 */
  sw_json_free(doc);
  sw_outcome_free(&res);
  sw_executor_stop(ex);
}

static void test_executor_segv_abort_exit(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"test\",\"action\":\"segv\",\"stderr_text\":\"about to crash: segv\\n\"}", 10, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_int_equal(res.signo, SIGSEGV);
  assert_string_equal(res.signal_name, "SIGSEGV");
  assert_int_equal(res.exit_status, -1);
  assert_non_null(strstr(res.cause, "signal 11 (SIGSEGV)"));
  assert_non_null(strstr(res.stderr_tail, "about to crash: segv"));
  assert_null(res.result_json);
  assert_false(res.out_of_memory);
  sw_outcome_free(&res);

  run(ex, "{\"workload\":\"test\",\"action\":\"abort\",\"stderr_text\":\"aborting now\"}", 10, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_int_equal(res.signo, SIGABRT);
  assert_string_equal(res.signal_name, "SIGABRT");
  assert_non_null(strstr(res.stderr_tail, "aborting now"));
  sw_outcome_free(&res);

  run(ex, "{\"workload\":\"test\",\"action\":\"exit\",\"exit_code\":3,\"stderr_text\":\"exiting 3\"}", 10, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_int_equal(res.exit_status, 3);
  assert_int_equal(res.signo, 0);
  assert_string_equal(res.cause, "exited with status 3");
  assert_non_null(strstr(res.stderr_tail, "exiting 3"));
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 1); /* crashes never took the executor down */
  sw_executor_stop(ex);
}

static void test_executor_stderr_tail_is_last_4k(void **state) {
  (void)state;
  /* 6000 'a' then a marker: the tail keeps the marker and at most 4096 bytes. */
  size_t n = 6000;
  char *config = malloc(n + 200);
  assert_non_null(config);
  int off = snprintf(config, 200, "{\"workload\":\"test\",\"action\":\"abort\",\"stderr_text\":\"");
  memset(config + off, 'a', n);
  snprintf(config + off + n, 200, "END-MARKER\"}");
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  run(ex, config, 10, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  size_t len = strlen(res.stderr_tail);
  assert_int_equal(len, SW_OUTCOME_STDERR_TAIL);
  assert_string_equal(res.stderr_tail + len - 10, "END-MARKER");
  assert_int_equal(res.stderr_tail[0], 'a');
  sw_outcome_free(&res);
  sw_executor_stop(ex);
  free(config);
}

static void test_executor_timeout_term_then_kill(void **state) {
  (void)state;
  const double timeout = 0.5, grace = 1.0;
  sw_executor_t *ex = start_self(grace);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"test\",\"action\":\"hang\"}", timeout, &res);
  double took = res.end_wall - res.start_wall;
  assert_int_equal(res.status, SW_TRIAL_TIMEOUT);
  assert_int_equal(res.signo, SIGTERM); /* the default action of SIGTERM ended it, no KILL needed */
  assert_non_null(strstr(res.cause, "SIGTERM sent"));
  assert_true(took >= timeout && took < timeout + grace);
  sw_outcome_free(&res);

  run(ex, "{\"workload\":\"test\",\"action\":\"hang\",\"ignore_term\":true}", timeout, &res);
  took = res.end_wall - res.start_wall;
  assert_int_equal(res.status, SW_TRIAL_TIMEOUT);
  assert_int_equal(res.signo, SIGKILL);
  assert_false(res.out_of_memory);
  assert_non_null(strstr(res.cause, "SIGKILL after the grace period"));
  assert_true(took >= timeout + grace && took < timeout + grace + 2.0);
  sw_outcome_free(&res);

  run(ex, "{\"workload\":\"test\",\"action\":\"sleep\",\"sleep_ms\":50}", 5, &res); /* below the timeout: ok */
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_true(res.end_wall - res.start_wall >= 0.05);
  sw_outcome_free(&res);
  sw_executor_stop(ex);
}

static void test_executor_out_of_memory(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  /* 64 MiB of address space over the executor's; the workload would take 1 GiB if the cap did not hold. */
  run(ex, "{\"workload\":\"test\",\"action\":\"oom\",\"oom_mb\":1024,\"mem_limit_mb\":64}", 30, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_true(res.out_of_memory);
  assert_memory_equal(res.cause, "out of memory", 13);
  assert_null(res.result_json);
  sw_outcome_free(&res);
  /* Within the cap the same workload succeeds and reports what it allocated. */
  run(ex, "{\"workload\":\"test\",\"action\":\"oom\",\"oom_mb\":32,\"mem_limit_mb\":512}", 30, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_true(result_metric(res.result_json, "allocated") == 32.0);
  sw_outcome_free(&res);
  sw_executor_stop(ex);
}

static void test_executor_bad_configs(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  run(ex, "{not json", 5, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_non_null(strstr(res.cause, "invalid trial config"));
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"warp-drive\"}", 5, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_string_equal(res.cause, "unknown workload: warp-drive");
  sw_outcome_free(&res);
  run(ex, "{\"action\":\"ok\"}", 5, &res);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_non_null(strstr(res.cause, "no \"workload\" key"));
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"test\",\"action\":\"dance\"}", 5, &res); /* the workload itself returns an error */
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_int_equal(res.exit_status, 0);
  assert_non_null(strstr(res.cause, "SW_ERR_INVALID"));
  assert_non_null(strstr(res.cause, "'action' = 'dance' is not allowed")); /* experiments/sw_keys_table.c */
  sw_outcome_free(&res);
  sw_executor_stop(ex);
}

static void test_executor_restart_after_external_kill(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"noop\"}", 5, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  sw_outcome_free(&res);
  pid_t first = sw_executor_pid(ex);
  assert_int_equal(kill(first, SIGKILL), 0);
  run(ex, "{\"workload\":\"test\",\"action\":\"ok\",\"value\":5}", 5, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_true(result_metric(res.result_json, "value") == 5.0);
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 2);
  assert_true(sw_executor_pid(ex) != first && sw_executor_pid(ex) > 0);
  sw_executor_stop(ex);
}

static void test_executor_dies_during_trial(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  sw_err_t err;
  assert_int_equal(sw_executor_submit(ex, "{\"workload\":\"test\",\"action\":\"hang\"}", 0, &err), SW_OK);
  assert_int_equal(sw_executor_wait(ex, 100, &res, &err), SW_ERR_TIMEOUT); /* still running */
  assert_int_equal(kill(sw_executor_pid(ex), SIGKILL), 0);
  assert_int_equal(sw_executor_wait(ex, 5000, &res, &err), SW_OK);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_non_null(strstr(res.cause, "executor died during the trial (killed by signal 9 (SIGKILL))"));
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"noop\"}", 5, &res); /* restarted; the orphaned hang child died with its parent */
  assert_int_equal(res.status, SW_TRIAL_OK);
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 2);
  sw_executor_stop(ex);
}

static void test_executor_interrupt(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  sw_err_t err;
  assert_int_equal(sw_executor_submit(ex, "{\"workload\":\"test\",\"action\":\"hang\"}", 30, &err), SW_OK);
  assert_int_equal(sw_executor_submit(ex, "{\"workload\":\"noop\"}", 30, &err), SW_ERR_INVALID); /* one at a time */
  assert_int_equal(sw_executor_wait(ex, 50, &res, &err), SW_ERR_TIMEOUT);
  assert_int_equal(sw_executor_interrupt(ex, &err), SW_OK);
  assert_int_equal(sw_executor_wait(ex, 10000, &res, &err), SW_OK);
  assert_int_equal(res.status, SW_TRIAL_INTERRUPTED);
  assert_non_null(strstr(res.cause, "interrupted"));
  assert_true(res.end_wall - res.start_wall < 10);
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"noop\"}", 5, &res); /* the executor carries on */
  assert_int_equal(res.status, SW_TRIAL_OK);
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 1);
  sw_executor_stop(ex);
}

/* A scheduler's SIGTERM to the trial child (not from the executor) means interrupted, not failed; the same
 * signal sent to the executor itself does not stop it, and SIGUSR1 (walltime warning) stops neither. */
static void test_executor_external_sigterm(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t res;
  sw_err_t err;
  char path[64], config[256];
  snprintf(path, sizeof path, "/tmp/sw_test_workers_%ld.pid", (long)getpid());
  unlink(path);
  snprintf(config, sizeof config, "{\"workload\":\"test\",\"action\":\"hang\",\"pid_file\":\"%s\"}", path);
  assert_int_equal(kill(sw_executor_pid(ex), SIGTERM), 0); /* ignored by the executor */
  assert_int_equal(kill(sw_executor_pid(ex), SIGUSR1), 0);
  assert_int_equal(sw_executor_submit(ex, config, 30, &err), SW_OK);
  long child = 0;
  for (int i = 0; i < 1000 && child <= 0; i++) { /* up to 10 s for the child to write its pid */
    FILE *f = fopen(path, "r");
    if (f) {
      if (fscanf(f, "%ld", &child) != 1) child = 0;
      fclose(f);
    }
    if (child <= 0) usleep(10000);
  }
  unlink(path);
  assert_true(child > 0);
  assert_int_equal(kill((pid_t)child, SIGUSR1), 0); /* a walltime warning: ignored by the trial */
  assert_int_equal(sw_executor_wait(ex, 200, &res, &err), SW_ERR_TIMEOUT);
  assert_int_equal(kill((pid_t)child, SIGTERM), 0);
  assert_int_equal(sw_executor_wait(ex, 10000, &res, &err), SW_OK);
  assert_int_equal(res.status, SW_TRIAL_INTERRUPTED);
  assert_int_equal(res.signo, SIGTERM);
  assert_non_null(strstr(res.cause, "sent from outside"));
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 1);
  sw_executor_stop(ex);
}

/* A prepare step (runs in the executor itself, outside the child's timeout) that stalls: the worker side's
 * watchdog kills the executor, records TIMEOUT, and the next trial gets a fresh executor. */
static void test_executor_watchdog_on_stuck_prepare(void **state) {
  (void)state;
  sw_executor_t *ex = NULL;
  sw_err_t err;
  sw_executor_opts_t opts = {.grace_s = 0.2, .watchdog_slack_s = 0.3, .mem_limit_bytes = UINT64_MAX};
  assert_int_equal(sw_executor_start(&ex, NULL, &opts, &err), SW_OK);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"test\",\"prepare_sleep_ms\":60000}", 0.3, &res);
  assert_int_equal(res.status, SW_TRIAL_TIMEOUT);
  assert_non_null(strstr(res.cause, "prepare step did not end within 0.8 s"));
  double took = res.end_wall - res.start_wall;
  assert_true(took >= 0.3 + 0.2 + 0.3 && took < 10);
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"test\",\"prepare_sleep_ms\":10}", 5, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 2);
  sw_executor_stop(ex);
}

/* The prepare step and the trial each get timeout + grace + slack (0.8 s here): a prepare of 0.6 s followed by
 * a trial of 0.4 s (inside its 0.5 s timeout) is ok, although the two together exceed 0.8 s.  Before, the
 * watchdog counted from the submit and killed the executor (and its trial cache) at 0.8 s. */
static void test_executor_watchdog_times_prepare_and_trial_apart(void **state) {
  (void)state;
  sw_executor_t *ex = NULL;
  sw_err_t err;
  sw_executor_opts_t opts = {.grace_s = 0.1, .watchdog_slack_s = 0.2, .mem_limit_bytes = UINT64_MAX};
  assert_int_equal(sw_executor_start(&ex, NULL, &opts, &err), SW_OK);
  sw_outcome_t res;
  const double t0 = sw_wall_s();
  run(ex, "{\"workload\":\"test\",\"prepare_sleep_ms\":600,\"action\":\"sleep\",\"sleep_ms\":400}", 0.5, &res);
  if (res.status != SW_TRIAL_OK) fail_msg("status %d: %s", (int)res.status, res.cause);
  assert_true(sw_wall_s() - t0 >= 0.95); /* both ran: past the 0.8 s the old watchdog allowed in all */
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 1);
  sw_executor_stop(ex);
}

/* A drain's interrupt while the workload prepares (the executor does not read its socket then): the trial is
 * interrupted within about a second, not when the prepare step ends (20 s here) or the watchdog fires. */
static void test_executor_interrupt_during_prepare(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_err_t err;
  sw_outcome_t res;
  assert_int_equal(sw_executor_submit(ex, "{\"workload\":\"test\",\"prepare_sleep_ms\":20000}", 60, &err), SW_OK);
  assert_int_equal(sw_executor_wait(ex, 300, &res, &err), SW_ERR_TIMEOUT);
  const double t0 = sw_wall_s();
  assert_int_equal(sw_executor_interrupt(ex, &err), SW_OK);
  sw_rc rc;
  while ((rc = sw_executor_wait(ex, 100, &res, &err)) == SW_ERR_TIMEOUT) assert_true(sw_wall_s() - t0 < 5);
  assert_int_equal(rc, SW_OK);
  assert_int_equal(res.status, SW_TRIAL_INTERRUPTED);
  assert_non_null(strstr(res.cause, "prepare step"));
  assert_true(sw_wall_s() - t0 < 3);
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"test\"}", 5, &res); /* a fresh executor takes the next trial */
  assert_int_equal(res.status, SW_TRIAL_OK);
  sw_outcome_free(&res);
  assert_int_equal(sw_executor_starts(ex), 2);
  sw_executor_stop(ex);
}

static void test_executor_cache_survives_trials(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0);
  sw_outcome_t r1, r2, r3;
  run(ex, "{\"workload\":\"test\",\"cache_key\":\"model-a\"}", 5, &r1);
  run(ex, "{\"workload\":\"test\",\"action\":\"segv\"}", 5, &r2); /* a crash in between changes nothing */
  sw_outcome_free(&r2);
  run(ex, "{\"workload\":\"test\",\"cache_key\":\"model-a\"}", 5, &r2);
  run(ex, "{\"workload\":\"test\",\"cache_key\":\"model-b\"}", 5, &r3);
  assert_int_equal(r1.status, SW_TRIAL_OK);
  assert_int_equal(r2.status, SW_TRIAL_OK);
  assert_int_equal(r3.status, SW_TRIAL_OK);
  double c1 = result_metric(r1.result_json, "cache_created_ns"), c2 = result_metric(r2.result_json, "cache_created_ns");
  double c3 = result_metric(r3.result_json, "cache_created_ns");
  assert_true(c1 == c2); /* the same entry, created once */
  assert_true(c3 > c1);  /* another key: another entry, created later */
  /* Created by the executor process itself (before the fork), not by a trial child. */
  assert_true(result_metric(r1.result_json, "cache_created_pid") == (double)sw_executor_pid(ex));
  assert_true(result_metric(r1.result_json, "pid") != result_metric(r2.result_json, "pid"));
  sw_outcome_free(&r1);
  sw_outcome_free(&r2);
  sw_outcome_free(&r3);
  sw_executor_stop(ex);
}

static int count_open_fds(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
  DIR *d = opendir(path);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* Children of pid still present (running or zombie), from /proc/<pid>/task/<pid>/children. */
static int count_children(pid_t pid) {
  char path[96], buf[4096];
  snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1; /* kernel without CONFIG_PROC_CHILDREN */
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  int count = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) count++;
  return count;
}

/* Many trials of every outcome leave the executor with the same descriptors and no children. */
static void test_executor_no_fd_or_child_leaks(void **state) {
  (void)state;
  sw_executor_t *ex = start_self(0.2);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"noop\"}", 5, &res);
  sw_outcome_free(&res);
  pid_t pid = sw_executor_pid(ex);
  int fds_before = count_open_fds(pid);
  const char *configs[] = {"{\"workload\":\"test\",\"action\":\"segv\"}", "{\"workload\":\"test\",\"action\":\"abort\"}",
                           "{\"workload\":\"test\",\"action\":\"exit\"}", "{\"workload\":\"test\",\"action\":\"hang\"}",
                           "{\"workload\":\"test\",\"action\":\"dance\"}", "{oops", "{\"workload\":\"test\"}"};
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
      run(ex, configs[i], 0.2, &res);
      assert_int_equal(res.status, i == 6 ? SW_TRIAL_OK : (i == 3 ? SW_TRIAL_TIMEOUT : SW_TRIAL_FAILED));
      sw_outcome_free(&res);
    }
  assert_int_equal(sw_executor_pid(ex), pid);
  assert_int_equal(count_open_fds(pid), fds_before);
  int children = count_children(pid);
  if (children >= 0) assert_int_equal(children, 0);
  sw_executor_stop(ex);
}

static void test_executor_bad_binary(void **state) {
  (void)state;
  sw_executor_t *ex = NULL;
  sw_err_t err;
  assert_int_not_equal(sw_executor_start(&ex, "/nonexistent/sparsweep", NULL, &err), SW_OK);
  assert_null(ex);
  assert_non_null(strstr(err.msg, "/nonexistent/sparsweep"));
  /* A binary that is not a sparsweep executor exits without the greeting. */
  assert_int_equal(sw_executor_start(&ex, "/bin/true", NULL, &err), SW_ERR_CHILD);
  assert_null(ex);
  assert_non_null(strstr(err.msg, "exited with status 0"));
}

static void test_run_isolated_without_executor(void **state) {
  (void)state;
  sw_trial_cache_t cache = {0};
  sw_outcome_t res;
  sw_err_t err;
  sw_executor_opts_t opts = {.mem_limit_bytes = UINT64_MAX};
  assert_int_equal(sw_trial_run_isolated(&cache, "{\"workload\":\"test\",\"action\":\"abort\"}", 5, &opts, &res, &err),
                   SW_OK);
  assert_int_equal(res.status, SW_TRIAL_FAILED);
  assert_int_equal(res.signo, SIGABRT);
  sw_outcome_free(&res);
  assert_int_equal(sw_trial_run_isolated(&cache, "{\"workload\":\"test\",\"cache_key\":\"k\"}", 5, &opts, &res, &err),
                   SW_OK);
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_true(result_metric(res.result_json, "cache_created_pid") == (double)getpid());
  assert_int_equal(cache.count, 1);
  sw_outcome_free(&res);
  sw_trial_cache_free(&cache);
}

/* The real `sparsweep executor` (env SPARSWEEP, set by ctest) speaks the same protocol. */
static void test_sparsweep_binary_as_executor(void **state) {
  (void)state;
  const char *bin = getenv("SPARSWEEP");
  if (!bin || access(bin, X_OK) != 0) skip();
  sw_executor_t *ex = NULL;
  sw_err_t err;
  assert_int_equal(sw_executor_start(&ex, bin, NULL, &err), SW_OK);
  sw_outcome_t res;
  run(ex, "{\"workload\":\"test\",\"action\":\"segv\"}", 5, &res);
  assert_int_equal(res.signo, SIGSEGV);
  sw_outcome_free(&res);
  run(ex, "{\"workload\":\"test\",\"value\":3}", 5, &res);
  assert_int_equal(res.status, SW_TRIAL_OK);
  assert_true(result_metric(res.result_json, "value") == 3.0);
  sw_outcome_free(&res);
  sw_executor_stop(ex);
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "executor") == 0) { /* started by sw_executor_start(NULL = self) */
    if (argc != 4 || strcmp(argv[2], "--fd") != 0) return 2;
    sw_err_t err;
    sw_rc rc = sw_executor_serve(atoi(argv[3]), &err);
    if (rc) fprintf(stderr, "test executor: %s\n", err.msg);
    return rc ? 1 : 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trial_out_json_roundtrip),
      cmocka_unit_test(test_trial_out_empty),
      cmocka_unit_test(test_cache_put_get_replace_free),
      cmocka_unit_test(test_workload_table),
      cmocka_unit_test(test_signal_and_status_names),
      cmocka_unit_test(test_executor_ok_result),
      cmocka_unit_test(test_executor_large_result),
      cmocka_unit_test(test_executor_segv_abort_exit),
      cmocka_unit_test(test_executor_stderr_tail_is_last_4k),
      cmocka_unit_test(test_executor_timeout_term_then_kill),
      cmocka_unit_test(test_executor_out_of_memory),
      cmocka_unit_test(test_executor_bad_configs),
      cmocka_unit_test(test_executor_restart_after_external_kill),
      cmocka_unit_test(test_executor_dies_during_trial),
      cmocka_unit_test(test_executor_interrupt),
      cmocka_unit_test(test_executor_external_sigterm),
      cmocka_unit_test(test_executor_watchdog_on_stuck_prepare),
      cmocka_unit_test(test_executor_watchdog_times_prepare_and_trial_apart),
      cmocka_unit_test(test_executor_interrupt_during_prepare),
      cmocka_unit_test(test_executor_cache_survives_trials),
      cmocka_unit_test(test_executor_no_fd_or_child_leaks),
      cmocka_unit_test(test_executor_bad_binary),
      cmocka_unit_test(test_run_isolated_without_executor),
      cmocka_unit_test(test_sparsweep_binary_as_executor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
