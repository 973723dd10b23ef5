/* Unit tests for workers/sw_counters.c: events of several PAPI components (perf_event presets, perf_event
 * software events, the kernels' SDE counters) counted around the same region, one event set per component.
 * The SDE values are checked exactly against the hand-computed sums of what the test accounts; perf_event
 * values against independent references (the thread's CPU clock, the pages the test touches).  The tests hold
 * on the three kinds of machine: perf_event disabled, perf_event with software events only (a VM without a
 * PMU), a real PMU.  Each test prints which case it hit; a check the machine cannot run is a cmocka skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "kernels/sw_sde.h"
#include "workers/sw_counters.h"

#define CT_SDE_LIBRARY "sparsweep_ctest"
#define CT_BUSY_NS 20000000LL  /* CPU time spent in each measured region: 20 ms */
#define CT_TASK_CLOCK_LO 0.5   /* TASK-CLOCK / thread CPU clock: the same quantity, read two ways... */
#define CT_TASK_CLOCK_HI 1.5   /* ...bounds wide enough for the start/stop overheads and clock granularity */
#define CT_TOUCH_PAGES 64      /* fresh pages touched in a region: at least one page fault each */

/* What the machine's perf_event component offers, probed with PAPI directly (not through sw_counters). */
typedef enum { CT_PERF_DISABLED, CT_PERF_SOFTWARE_ONLY, CT_PERF_HARDWARE } ct_perf_case_t;

/* 1 when the named event can be added to a fresh event set and started. */
static int ct_countable(const char *name) {
  int       es = PAPI_NULL, ok = 0;
  long long v = 0;
  if (PAPI_create_eventset(&es) != PAPI_OK) return 0;
  if (PAPI_add_named_event(es, name) == PAPI_OK && PAPI_start(es) == PAPI_OK) ok = PAPI_stop(es, &v) == PAPI_OK;
  PAPI_cleanup_eventset(es);
  PAPI_destroy_eventset(&es);
  return ok;
}

static ct_perf_case_t ct_perf_case(void) {
  if (PAPI_is_initialized() == PAPI_NOT_INITED) assert_int_equal(PAPI_library_init(PAPI_VER_CURRENT), PAPI_VER_CURRENT);
  ct_perf_case_t k = !ct_countable("perf::TASK-CLOCK") ? CT_PERF_DISABLED
                     : ct_countable("PAPI_TOT_CYC")    ? CT_PERF_HARDWARE
                                                       : CT_PERF_SOFTWARE_ONLY;
  static const char *const text[] = {"perf_event disabled or unusable", "perf_event with software events only",
                                     "perf_event with a hardware PMU"};
  print_message("machine case: %s\n", text[k]);
  return k;
}

static long long ct_thread_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The measured region: CT_BUSY_NS of CPU, CT_TOUCH_PAGES first touches of fresh pages, then `calls` SDE
 * accountings of flops_per_call FLOPs and 12 neurons each.  Returns the thread CPU ns it took. */
static long long ct_region(sw_sde_t *sde, int calls, double flops_per_call) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), len = page * CT_TOUCH_PAGES;
  char  *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(mem != MAP_FAILED);
  (void)madvise(mem, len, MADV_NOHUGEPAGE); /* one fault per base page, no (m)THP folio covering several */
  long long t0 = ct_thread_ns();
  for (size_t i = 0; i < CT_TOUCH_PAGES; i++) ((volatile char *)mem)[i * page] = 1;
  volatile double x = 0;
  while (ct_thread_ns() - t0 < CT_BUSY_NS)
    for (int i = 0; i < 1000; i++) x += i;
  assert_true(x > 0);
  sw_ffn_stats_t st = {0};
  st.flops = flops_per_call;
  st.neurons_executed = 12;
  st.calls = 1;
  for (int k = 0; k < calls; k++) sw_sde_account(sde, &st);
  long long dt = ct_thread_ns() - t0;
  munmap(mem, len);
  return dt;
}

/* Writes c's values for series "s" and parses them back. */
static sw_json_t *ct_written(sw_counters_t *c) {
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  sw_counters_write(c, &out, "s");
  sw_buf_t b = SW_BUF_INIT;
  sw_trial_out_json(&out, &b);
  sw_json_t *doc = NULL;
  sw_err_t   err;
  assert_int_equal(sw_json_parse(b.data, b.len, &doc, &err), SW_OK);
  sw_buf_free(&b);
  sw_trial_out_free(&out);
  return doc;
}

/* Counter `name` in a parsed result (borrowed from doc); a missing counter fails the test. */
static const sw_json_t *ct_counter(const sw_json_t *doc, const char *name) {
  const sw_json_t *items = sw_json_get(doc, "counters");
  for (size_t i = 0; items && i < items->count; i++)
    if (strcmp(sw_json_get(&items->items[i], "name")->string, name) == 0) return &items->items[i];
  fail_msg("counter %s missing", name);
  return NULL;
}

static double ct_value(const sw_json_t *doc, const char *name) {
  const sw_json_t *v = sw_json_get(ct_counter(doc, name), "value");
  if (v->kind != SW_JSON_NUMBER) fail_msg("%s: NULL (%s)", name, sw_json_get(ct_counter(doc, name), "reason")->string);
  return v->number;
}

/* Asserts counter `name` is NULL with a reason naming it and containing `why`. */
static void ct_assert_null(const sw_json_t *doc, const char *name, const char *why) {
  const sw_json_t *c = ct_counter(doc, name);
  assert_int_equal(sw_json_get(c, "value")->kind, SW_JSON_NULL);
  const char *reason = sw_json_get(c, "reason")->string;
  if (!strstr(reason, name) || !strstr(reason, why)) fail_msg("%s: reason '%s' lacks '%s'", name, reason, why);
}

/* TASK-CLOCK against the thread's CPU clock over the same regions (perf enabled), or NULL (disabled). */
static void ct_check_task_clock(const sw_json_t *doc, ct_perf_case_t k, long long cpu_ns) {
  if (k == CT_PERF_DISABLED) {
    ct_assert_null(doc, "perf::TASK-CLOCK", "perf::TASK-CLOCK: ");
    return;
  }
  double ratio = ct_value(doc, "perf::TASK-CLOCK") / (double)cpu_ns;
  print_message("TASK-CLOCK / thread CPU clock = %.3f\n", ratio);
  assert_true(ratio > CT_TASK_CLOCK_LO && ratio < CT_TASK_CLOCK_HI);
}

/* The default set: exact SDE sums over two regions (not what was accounted outside them), TASK-CLOCK and
 * PAGE-FAULTS next to them, hardware presets valued with a PMU and NULL with the reason without one. */
static void test_counters_default_set_mixes_components(void **state) {
  (void)state;
  ct_perf_case_t k = ct_perf_case();
  sw_sde_t       sde;
  sw_err_t       err;
  assert_int_equal(sw_sde_init(&sde, CT_SDE_LIBRARY, &err), SW_OK);
  sw_counters_t *c = NULL;
  assert_int_equal(sw_counters_open_default(&c, CT_SDE_LIBRARY, &err), SW_OK);
  sw_ffn_stats_t outside = {.flops = 100.0, .calls = 1};
  sw_sde_account(&sde, &outside); /* outside the regions: not counted */
  long long cpu_ns = 0;
  for (int rep = 0; rep < 2; rep++) { /* two start/stop pairs add up */
    assert_int_equal(sw_counters_start(c, &err), SW_OK);
    cpu_ns += ct_region(&sde, 3, 2048.0);
    assert_int_equal(sw_counters_stop(c, &err), SW_OK);
  }
  sw_json_t         *doc = ct_written(c);
  const char *const *presets;
  size_t             n_presets = sw_counters_default_presets(&presets);
  assert_int_equal(sw_json_get(doc, "counters")->count, n_presets + SW_SDE_N_COUNTERS);
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::flops") == 2 * 3 * 2048.0);
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::neurons_executed") == 2 * 3 * 12.0);
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::calls") == 2 * 3.0);
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::tokens") == 0.0);
  ct_check_task_clock(doc, k, cpu_ns);
  if (k != CT_PERF_DISABLED) assert_true(ct_value(doc, "perf::PAGE-FAULTS") >= 2 * CT_TOUCH_PAGES);
  if (k == CT_PERF_HARDWARE)
    assert_true(ct_value(doc, "PAPI_TOT_CYC") > 0);
  else
    ct_assert_null(doc, "PAPI_TOT_CYC", "PAPI_TOT_CYC: ");
  sw_json_free(doc);
  doc = ct_written(c); /* a second write without a new region: NULL "not measured", the sums were reset */
  ct_assert_null(doc, "sde:::" CT_SDE_LIBRARY "::flops", "not measured");
  sw_json_free(doc);
  sw_counters_close(c);
  sw_sde_shutdown(&sde);
}

/* Occupies component `busy_event`'s component in this thread with a running set of its own, so that PAPI
 * refuses to start sw_counters' set of that component (PAPI_EISRUN); returns the private set. */
static int ct_occupy(const char *busy_event) {
  int es = PAPI_NULL;
  assert_int_equal(PAPI_create_eventset(&es), PAPI_OK);
  assert_int_equal(PAPI_add_named_event(es, busy_event), PAPI_OK);
  assert_int_equal(PAPI_start(es), PAPI_OK);
  return es;
}

static void ct_release(int es) {
  long long v[1];
  assert_int_equal(PAPI_stop(es, v), PAPI_OK);
  PAPI_cleanup_eventset(es);
  PAPI_destroy_eventset(&es);
}

/* Opens names[n] for a series said to run `threads` threads (0: not said), runs one region of `calls` SDE
 * accountings of flops_per_call FLOPs (with busy_event's component occupied when not NULL) and returns the
 * written values; *cpu_ns = the region's thread CPU time. */
static sw_json_t *ct_measure_threads(const char *const *names, size_t n, int threads, const char *busy_event,
                                     int calls, double flops_per_call, long long *cpu_ns) {
  sw_sde_t       sde;
  sw_err_t       err;
  sw_counters_t *c = NULL;
  assert_int_equal(sw_sde_init(&sde, CT_SDE_LIBRARY, &err), SW_OK);
  assert_int_equal(sw_counters_open(&c, names, n, &err), SW_OK);
  sw_counters_set_threads(c, threads);
  int busy = busy_event ? ct_occupy(busy_event) : PAPI_NULL;
  assert_int_equal(sw_counters_start(c, &err), SW_OK);
  *cpu_ns = ct_region(&sde, calls, flops_per_call);
  assert_int_equal(sw_counters_stop(c, &err), SW_OK);
  if (busy_event) ct_release(busy);
  sw_json_t *doc = ct_written(c);
  sw_counters_close(c);
  sw_sde_shutdown(&sde);
  return doc;
}

static sw_json_t *ct_measure(const char *const *names, size_t n, const char *busy_event, int calls,
                             double flops_per_call, long long *cpu_ns) {
  return ct_measure_threads(names, n, 0, busy_event, calls, flops_per_call, cpu_ns);
}

/* A series on more than one thread: PAPI counts the thread that started the event sets, so every non-SDE event
 * is NULL with that reason (a reason it already had, such as a disabled component, wins); the SDE events, the
 * kernels' own counts, keep their values.  One thread changes nothing. */
static void test_counters_threads_null_non_sde(void **state) {
  (void)state;
  ct_perf_case_t k = ct_perf_case();
  const char *names[] = {"perf::TASK-CLOCK", "sde:::" CT_SDE_LIBRARY "::calls", "PAPI_TOT_CYC", "perf::PAGE-FAULTS"};
  const char *why = "PAPI counted the calling thread only; the series ran 2 threads";
  long long   cpu_ns = 0;
  sw_json_t  *doc = ct_measure_threads(names, 4, 2, NULL, 4, 8.0, &cpu_ns);
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::calls") == 4.0);
  ct_assert_null(doc, "perf::TASK-CLOCK", k == CT_PERF_DISABLED ? "perf::TASK-CLOCK: " : why);
  ct_assert_null(doc, "perf::PAGE-FAULTS", k == CT_PERF_DISABLED ? "perf::PAGE-FAULTS: " : why);
  ct_assert_null(doc, "PAPI_TOT_CYC", k == CT_PERF_HARDWARE ? why : "PAPI_TOT_CYC: ");
  sw_json_free(doc);
  doc = ct_measure_threads(names, 4, 1, NULL, 4, 8.0, &cpu_ns);
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::calls") == 4.0);
  ct_check_task_clock(doc, k, cpu_ns);
  sw_json_free(doc);
}

/* An unknown native event, a disabled or absent component's event and a hardware preset requested with the
 * SDE and software events: each failing event is NULL with its own reason, the others still count. */
static void test_counters_failing_events_keep_other_components(void **state) {
  (void)state;
  ct_perf_case_t k = ct_perf_case();
  const char *names[] = {"perf::SW_NOT_AN_EVENT", "sde:::" CT_SDE_LIBRARY "::flops", "rocm_smi:::NO_SUCH_GPU",
                         "PAPI_TOT_CYC",          "sde:::" CT_SDE_LIBRARY "::calls", "perf::TASK-CLOCK"};
  long long   cpu_ns = 0;
  sw_json_t  *doc = ct_measure(names, 6, NULL, 5, 64.0, &cpu_ns);
  ct_assert_null(doc, "perf::SW_NOT_AN_EVENT", "no such event");
  ct_assert_null(doc, "rocm_smi:::NO_SUCH_GPU", "rocm_smi:::NO_SUCH_GPU: ");
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::flops") == 5 * 64.0);
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::calls") == 5.0);
  ct_check_task_clock(doc, k, cpu_ns);
  if (k != CT_PERF_HARDWARE) ct_assert_null(doc, "PAPI_TOT_CYC", "PAPI_TOT_CYC: ");
  sw_json_free(doc);
}

/* The perf_event set fails to start: its events are NULL with the start failure, the SDE set still counts. */
static void test_counters_perf_start_failure_keeps_sde(void **state) {
  (void)state;
  if (ct_perf_case() == CT_PERF_DISABLED) {
    print_message("skipped: perf_event cannot count here, there is no perf_event set to make fail\n");
    skip();
  }
  const char *names[] = {"perf::TASK-CLOCK", "sde:::" CT_SDE_LIBRARY "::flops", "perf::PAGE-FAULTS"};
  long long   cpu_ns = 0;
  sw_json_t  *doc = ct_measure(names, 3, "perf::CPU-CLOCK", 7, 10.0, &cpu_ns);
  ct_assert_null(doc, "perf::TASK-CLOCK", "PAPI_start of the perf_event event set failed");
  ct_assert_null(doc, "perf::PAGE-FAULTS", "PAPI_start of the perf_event event set failed");
  assert_true(ct_value(doc, "sde:::" CT_SDE_LIBRARY "::flops") == 70.0);
  sw_json_free(doc);
}

/* The SDE set fails to start: the SDE events are NULL with the start failure, perf_event still counts. */
static void test_counters_sde_start_failure_keeps_perf(void **state) {
  (void)state;
  ct_perf_case_t k = ct_perf_case();
  const char    *names[] = {"sde:::" CT_SDE_LIBRARY "::calls", "perf::TASK-CLOCK"};
  long long      cpu_ns = 0;
  sw_json_t     *doc = ct_measure(names, 2, "sde:::" CT_SDE_LIBRARY "::tokens", 2, 1.0, &cpu_ns);
  ct_assert_null(doc, "sde:::" CT_SDE_LIBRARY "::calls", "PAPI_start of the sde event set failed");
  ct_check_task_clock(doc, k, cpu_ns);
  sw_json_free(doc);
}

/* Unknown names and SDE libraries nobody registered are never counted; the reasons say why. */
static void test_counters_null_with_reason(void **state) {
  (void)state;
  sw_counters_t *c = NULL;
  sw_err_t       err;
  const char *events[] = {"PAPI_TOT_CYC", "PAPI_TOT_INS", "PAPI_NOT_AN_EVENT", "sde:::sw_nobody_registered::flops"};
  assert_int_equal(sw_counters_open(&c, events, 4, &err), SW_OK);
  assert_int_equal(sw_counters_start(c, &err), SW_OK);
  assert_int_equal(sw_counters_stop(c, &err), SW_OK);
  sw_json_t       *doc = ct_written(c);
  const sw_json_t *items = sw_json_get(doc, "counters");
  assert_int_equal(items->count, 4);
  for (size_t i = 0; i < 4; i++) {
    const sw_json_t *it = &items->items[i];
    assert_string_equal(sw_json_get(it, "name")->string, events[i]);
    const sw_json_t *v = sw_json_get(it, "value"), *r = sw_json_get(it, "reason");
    if (v->kind == SW_JSON_NULL) { /* missing: the reason names the event and says why */
      assert_non_null(strstr(r->string, events[i]));
      assert_true(strlen(r->string) > strlen(events[i]) + 10);
    } else {
      assert_true(v->number >= 0);
    }
  }
  ct_assert_null(doc, "PAPI_NOT_AN_EVENT", "no such event");
  ct_assert_null(doc, "sde:::sw_nobody_registered::flops", "sde:::sw_nobody_registered::flops: ");
  sw_json_free(doc);
  sw_counters_close(c);
}

/* Opens preset `name` alone, measures an empty region and returns 1 when it came back with a value. */
static int ct_preset_counts(const char *name) {
  sw_counters_t *c = NULL;
  sw_err_t       err;
  assert_int_equal(sw_counters_open(&c, &name, 1, &err), SW_OK);
  assert_int_equal(sw_counters_start(c, &err), SW_OK);
  assert_int_equal(sw_counters_stop(c, &err), SW_OK);
  sw_json_t *doc = ct_written(c);
  int        counted = sw_json_get(ct_counter(doc, name), "value")->kind == SW_JSON_NUMBER;
  sw_json_free(doc);
  sw_counters_close(c);
  return counted;
}

static int ct_listed(const sw_json_t *list, const char *name) {
  for (size_t i = 0; i < list->count; i++)
    if (strcmp(list->items[i].string, name) == 0) return 1;
  return 0;
}

/* presets_available lists exactly the presets PAPI names that really count on this machine: each listed one
 * comes back with a value when measured, each other named one comes back NULL. */
static void test_counters_available_presets_count(void **state) {
  (void)state;
  ct_perf_case_t k = ct_perf_case();
  sw_buf_t       list = SW_BUF_INIT;
  sw_err_t       err;
  assert_int_equal(sw_counters_describe(&list, &err), SW_OK);
  sw_json_t *doc = NULL;
  assert_int_equal(sw_json_parse(list.data, list.len, &doc, &err), SW_OK);
  const sw_json_t *avail = sw_json_get(doc, "presets_available");
  assert_int_equal(avail->kind, SW_JSON_ARRAY);
  assert_non_null(sw_json_get(doc, "perf_event"));
  int code = PAPI_PRESET_MASK, named = 0;
  assert_int_equal(PAPI_enum_event(&code, PAPI_ENUM_FIRST), PAPI_OK);
  do {
    char name[PAPI_MAX_STR_LEN];
    if (PAPI_event_code_to_name(code, name) != PAPI_OK) continue;
    named++;
    if (ct_listed(avail, name) != ct_preset_counts(name)) fail_msg("%s: listed and counted disagree", name);
  } while (PAPI_enum_event(&code, PAPI_PRESET_ENUM_AVAIL) == PAPI_OK);
  print_message("%d presets named by PAPI, %zu can be counted\n", named, avail->count);
  if (k == CT_PERF_HARDWARE) assert_true(ct_listed(avail, "PAPI_TOT_CYC"));
  if (k != CT_PERF_HARDWARE) assert_false(ct_listed(avail, "PAPI_TOT_CYC"));
  sw_json_free(doc);
  sw_buf_free(&list);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counters_default_set_mixes_components),
      cmocka_unit_test(test_counters_failing_events_keep_other_components),
      cmocka_unit_test(test_counters_perf_start_failure_keeps_sde),
      cmocka_unit_test(test_counters_sde_start_failure_keeps_perf),
      cmocka_unit_test(test_counters_null_with_reason),
      cmocka_unit_test(test_counters_threads_null_non_sde),
      cmocka_unit_test(test_counters_available_presets_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
