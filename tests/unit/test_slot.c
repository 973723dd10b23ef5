/* workers/sw_slot: the host-wide measurement slot, and the test workload's stream action that times inside it
 * with its SW_TEST_SLOWDOWN knob (workers/sw_trial_test.c).  Checks exclusion with flock(LOCK_NB) from another process
 * (never by timing), the none mode, the per-package path and the error for a bad mode or an unusable
 * directory.  Every test uses its own SW_SLOT_DIR, so a sweep running on the machine does not interfere. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "workers/sw_slot.h"

static char g_dir[] = "/tmp/sw_slot_test_XXXXXX";

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(g_dir)) return -1;
  return setenv("SW_SLOT_DIR", g_dir, 1);
}

static int teardown(void **state) {
  (void)state;
  char path[512];
  for (int m = SW_SLOT_SOCKET; m <= SW_SLOT_NODE; m++) {
    sw_slot_path((sw_slot_mode)m, 0, path, sizeof path);
    unlink(path);
  }
  return rmdir(g_dir);
}

static sw_json_t *config_of(const char *text) {
  sw_json_t *j = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(text, strlen(text), &j, &err), SW_OK);
  return j;
}

/* 1 when another process finds the lock file at path locked (its non-blocking flock fails with EWOULDBLOCK). */
static int locked_elsewhere(const char *path) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(path, O_RDWR | O_CREAT, 0666);
    if (fd < 0) _exit(3);
    _exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_true(WEXITSTATUS(st) <= 1);
  return WEXITSTATUS(st);
}

static void test_node_slot_excludes_other_processes(void **state) {
  (void)state;
  sw_json_t *cfg = config_of("{\"workload\":\"test\"}"); /* default: node */
  char path[512];
  sw_slot_path(SW_SLOT_NODE, 0, path, sizeof path);
  sw_slot_t slot;
  sw_err_t err;
  assert_int_equal(sw_slot_acquire(&slot, cfg, &err), SW_OK);
  assert_int_equal(slot.mode, SW_SLOT_NODE);
  assert_true(slot.fd >= 0);
  assert_int_equal(locked_elsewhere(path), 1);
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  sw_slot_release(&slot, &out);
  assert_int_equal(locked_elsewhere(path), 0);
  /* both metrics recorded: the wait and the mode (2 = node) */
  sw_buf_t b = SW_BUF_INIT;
  sw_trial_out_json(&out, &b);
  assert_non_null(strstr(sw_buf_str(&b), "\"slot_wait\""));
  assert_non_null(strstr(sw_buf_str(&b), "{\"name\":\"slot_mode\",\"value\":2"));
  sw_buf_free(&b);
  sw_trial_out_free(&out);
  sw_json_free(cfg);
}

static void test_none_takes_no_lock(void **state) {
  (void)state;
  sw_json_t *cfg = config_of("{\"exclusive\":\"none\"}");
  char path[512];
  sw_slot_path(SW_SLOT_NODE, 0, path, sizeof path);
  sw_slot_t slot;
  sw_err_t err;
  assert_int_equal(sw_slot_acquire(&slot, cfg, &err), SW_OK);
  assert_int_equal(slot.mode, SW_SLOT_NONE);
  assert_int_equal(slot.fd, -1);
  assert_int_equal(locked_elsewhere(path), 0);
  sw_slot_release(&slot, NULL);
  sw_json_free(cfg);
}

static void test_socket_path_differs_per_package(void **state) {
  (void)state;
  char node[512], p0[512], p1[512];
  sw_slot_path(SW_SLOT_NODE, 0, node, sizeof node);
  sw_slot_path(SW_SLOT_SOCKET, 0, p0, sizeof p0);
  sw_slot_path(SW_SLOT_SOCKET, 1, p1, sizeof p1);
  assert_string_not_equal(node, p0);
  assert_string_not_equal(p0, p1);
  assert_int_equal(strncmp(node, g_dir, strlen(g_dir)), 0);
  char host[256];
  assert_int_equal(gethostname(host, sizeof host), 0);
  assert_non_null(strstr(node, host));
}

static void test_bad_mode_and_bad_dir_are_errors(void **state) {
  (void)state;
  sw_json_t *cfg = config_of("{\"exclusive\":\"rack\"}");
  sw_slot_t slot;
  sw_err_t err;
  assert_int_equal(sw_slot_acquire(&slot, cfg, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "rack"));
  sw_json_free(cfg);
  cfg = config_of("{\"exclusive\":\"node\"}");
  setenv("SW_SLOT_DIR", "/nonexistent/sw_slot_dir", 1);
  assert_int_equal(sw_slot_acquire(&slot, cfg, &err), SW_ERR_IO);
  assert_non_null(strstr(err.msg, "/nonexistent/sw_slot_dir"));
  setenv("SW_SLOT_DIR", g_dir, 1);
  sw_json_free(cfg);
}

/* The stream action: warmup + repetitions interleaved samples per series, the knob recorded (never timed
 * here: a unit test does not judge speed), slot metrics present, a bad knob value is an error naming it. */
static void test_stream_action_and_knob(void **state) {
  (void)state;
  sw_json_t *cfg = config_of("{\"action\":\"stream\",\"stream_kib\":16,\"repetitions\":5,\"warmup\":1}");
  sw_err_t err;
  for (int knob = 0; knob < 2; knob++) {
    if (knob) setenv("SW_TEST_SLOWDOWN", "2.5", 1);
    sw_trial_out_t out;
    sw_trial_out_init(&out);
    assert_int_equal(sw_trial_run_test(NULL, cfg, &out, &err), SW_OK);
    assert_int_equal(out.n_samples, 10);
    sw_buf_t b = SW_BUF_INIT;
    sw_trial_out_json(&out, &b);
    assert_non_null(strstr(sw_buf_str(&b), knob ? "{\"name\":\"slowdown_knob\",\"value\":2.5"
                                                  : "{\"name\":\"slowdown_knob\",\"value\":1,"));
    assert_non_null(strstr(sw_buf_str(&b), "\"slot_wait\""));
    assert_non_null(strstr(sw_buf_str(&b), "\"series\":\"sparse\",\"rep\":4"));
    sw_buf_free(&b);
    sw_trial_out_free(&out);
  }
  setenv("SW_TEST_SLOWDOWN", "0.5", 1);
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  assert_int_equal(sw_trial_run_test(NULL, cfg, &out, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "SW_TEST_SLOWDOWN='0.5'"));
  sw_trial_out_free(&out);
  unsetenv("SW_TEST_SLOWDOWN");
  sw_json_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_node_slot_excludes_other_processes),
      cmocka_unit_test(test_none_takes_no_lock),
      cmocka_unit_test(test_socket_path_differs_per_package),
      cmocka_unit_test(test_bad_mode_and_bad_dir_are_errors),
      cmocka_unit_test(test_stream_action_and_knob),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
