/* orchestrator/sw_progress: the progress line of `sparsweep run`, fed synthetic events with a synthetic clock
 * (no sleeping, no timing): at most one terminal redraw per second, the slowest running trial and its age,
 * rate and ETA computed by hand, plain lines at each 10% and after 60 s of silence, a final line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orchestrator/sw_progress.h"

#define SEC 1000000000LL

/* Everything written to f so far, as a NUL-terminated string (caller frees). */
static char *contents(FILE *f) {
  fflush(f);
  long n = ftell(f);
  assert_true(n >= 0);
  char *s = calloc((size_t)n + 1, 1);
  assert_non_null(s);
  rewind(f);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  return s;
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void started(sw_progress_t *p, sw_events_counts_t *c, int index, const char *label, int64_t t) {
  char m[256];
  c->running++;
  snprintf(m, sizeof m, "\"index\":%d,\"hash\":\"h%d\",\"rank\":1,\"attempt\":1,\"label\":%s", index, index, label);
  sw_progress_event(p, "trial_started", c, m, t);
}

static void finished(sw_progress_t *p, sw_events_counts_t *c, int index, int ok, int64_t t) {
  char m[128];
  c->running--;
  if (ok) c->ok++;
  else c->failed++;
  snprintf(m, sizeof m, "\"index\":%d,\"hash\":\"h%d\",\"status\":\"%s\"", index, index, ok ? "ok" : "failed");
  sw_progress_event(p, ok ? "trial_finished" : "trial_failed", c, m, t);
}

/* Terminal: 40 events 0.1 s apart (4 s) give at most 5 redraws; the line names the oldest running trial. */
static void test_terminal_line(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  sw_progress_t *p = sw_progress_new(f, 1);
  sw_events_counts_t c = {.total = 30, .skipped = 2};
  sw_progress_event(p, "run_started", &c, NULL, 0);
  started(p, &c, 0, "{\"method\":\"topk\",\"sparsity\":0.5}", 0);
  for (int i = 1; i <= 39; i++) {
    if (i % 2) started(p, &c, i, "{\"method\":\"cats\"}", i * SEC / 10);
    else finished(p, &c, i - 1, i != 10, i * SEC / 10);
  }
  char *s = contents(f);
  size_t draws = count_of(s, "\r\033[K");
  if (draws < 3 || draws > 5) fail_msg("%zu redraws in 3.9 s, want 3..5 (at most one per second)", draws);
  free(s);
  /* At t = 4 s, counted by hand: trial 0 and the 20 odd i started (21), the 19 even i finished trials 1, 3, ..,
   * 37 (trial 9 failed): 19 of the 28 to run finished in 4 s (4.75/s), 2 running (0 and 39). */
  char line[512];
  sw_progress_format(p, &c, 4 * SEC, line, sizeof line);
  if (!strstr(line, "[19/28] done 18, failed 1, running 2 of 30; 4.75 trials/s, ETA 0:02")) fail_msg("line: %s", line);
  /* trial 0 never finished: it is the slowest, 4 s old */
  assert_non_null(strstr(line, "slowest running: method=topk sparsity=0.5 (0:04)"));
  sw_progress_free(p);
  fclose(f);
}

/* ETA = remaining / rate: 25 of 100 done after 50 s -> 0.5 trials/s, 75 left -> 150 s = 2:30. */
static void test_rate_and_eta(void **state) {
  (void)state;
  FILE *f = tmpfile();
  sw_progress_t *p = sw_progress_new(f, 1);
  sw_events_counts_t c = {.total = 100};
  sw_progress_event(p, "run_started", &c, NULL, 10 * SEC);
  c.ok = 25;
  char line[512];
  sw_progress_format(p, &c, 60 * SEC, line, sizeof line);
  assert_non_null(strstr(line, "[25/100] done 25, failed 0, running 0 of 100; 0.50 trials/s, ETA 2:30"));
  assert_null(strstr(line, "slowest"));
  sw_progress_free(p);
  fclose(f);
}

/* Plain lines: 50 trials finishing one per second give one line per 10% (9 lines: 10%..90%) plus the final
 * one; then 130 s without a finished trial gives two more (one every 60 s). */
static void test_plain_lines(void **state) {
  (void)state;
  FILE *f = tmpfile();
  sw_progress_t *p = sw_progress_new(f, 0);
  sw_events_counts_t c = {.total = 52, .skipped = 2};
  sw_progress_event(p, "run_started", &c, NULL, 0);
  for (int i = 0; i < 49; i++) {
    started(p, &c, i, "{\"a\":1}", i * SEC);
    finished(p, &c, i, 1, i * SEC + SEC / 2);
  }
  char *s = contents(f);
  assert_int_equal(count_of(s, "\n"), 9);
  assert_int_equal(count_of(s, "\r"), 0);
  assert_non_null(strstr(s, "sparsweep run: [5/50] done 5,"));
  assert_non_null(strstr(s, "sparsweep run: [45/50] done 45,"));
  free(s);
  started(p, &c, 49, "{\"a\":2}", 49 * SEC);
  for (int t = 50; t <= 180; t += 10) sw_progress_event(p, "progress", &c, NULL, t * SEC);
  s = contents(f);
  assert_int_equal(count_of(s, "\n"), 11); /* last line at 44.5 s (90%): then at 110 s and 170 s */
  free(s);
  finished(p, &c, 49, 1, 181 * SEC);
  sw_progress_event(p, "run_finished", &c, NULL, 181 * SEC);
  s = contents(f);
  assert_non_null(strstr(s, "sparsweep run: finished: [50/50] done 50"));
  free(s);
  sw_progress_free(p);
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_terminal_line),
      cmocka_unit_test(test_rate_and_eta),
      cmocka_unit_test(test_plain_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
