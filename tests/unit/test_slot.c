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
#include <sys/mman.h>
#include <time.h>
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

/* ---- quiet host: a trial's untimed work pauses while another process holds the slot ---- */

/* What a quiet child reports through shared memory. */
typedef struct quiet_shared {
  volatile int    started;  /* the child's checks are running and it computes */
  volatile int    done;     /* the child finished its work */
  volatile double paused_s; /* sw_slot_quiet_paused_s at the end */
  volatile double quiet;    /* the quiet metric (1 checks ran, 0 off) */
} quiet_shared_t;

/* The process state letter of pid from /proc/PID/stat ('R' running, 'S' sleeping, ...; '?' unknown). */
static char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *close_paren = strrchr(buf, ')'); /* the command name may hold spaces */
  return close_paren && close_paren[1] == ' ' ? close_paren[2] : '?';
}

/* Burns user CPU time (the checks fire on CPU time, ITIMER_VIRTUAL) for about `checks` check periods. */
static void burn_cpu(int checks) {
  struct timespec t0, t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  volatile double x = 1;
  for (;;) {
    for (int i = 0; i < 100000; i++) x = x * 1.0000001 + 1e-9;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    double used_us = (double)(t.tv_sec - t0.tv_sec) * 1e6 + (double)(t.tv_nsec - t0.tv_nsec) * 1e-3;
    if (used_us > (double)checks * SW_SLOT_QUIET_PERIOD_US) break;
  }
}

/* A child that starts the checks per config, computes, optionally times inside the slot itself, and reports. */
static pid_t quiet_child(const char *config, int take_slot, quiet_shared_t *sh) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid != 0) return pid;
  alarm(60); /* a deadlock fails the test instead of hanging it */
  sw_json_t *cfg = NULL;
  sw_err_t err;
  if (sw_json_parse(config, strlen(config), &cfg, &err) || sw_slot_quiet_begin(cfg, &err)) _exit(3);
  sh->started = 1;
  burn_cpu(20);
  if (take_slot) { /* its own timed phase: the checks must not block on the slot it holds */
    sw_slot_t slot;
    if (sw_slot_acquire(&slot, cfg, &err)) _exit(4);
    burn_cpu(10);
    sw_slot_release(&slot, NULL);
    burn_cpu(5);
  }
  sh->paused_s = sw_slot_quiet_paused_s();
  sw_trial_out_t out;
  sw_trial_out_init(&out);
  sw_slot_quiet_end(&out);
  sw_buf_t b = SW_BUF_INIT;
  sw_trial_out_json(&out, &b);
  const char *json = sw_buf_str(&b);
  sh->quiet = strstr(json, "{\"name\":\"quiet\",\"value\":1,") ? 1 : strstr(json, "{\"name\":\"quiet\",\"value\":0,") ? 0 : -1;
  sh->done = 1;
  _exit(0);
}

static quiet_shared_t *shared_block(void) {
  void *p = mmap(NULL, sizeof(quiet_shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  memset(p, 0, sizeof(quiet_shared_t));
  return p;
}

static int wait_exit(pid_t pid) {
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* While this process holds the node slot, a quiet child blocks (its state turns to sleeping while it has work
 * left); released, it finishes and reports the pause.  State is read from /proc, never judged by a duration. */
static void test_quiet_child_pauses_while_slot_held(void **state) {
  (void)state;
  char path[512];
  sw_slot_path(SW_SLOT_NODE, 0, path, sizeof path);
  int fd = open(path, O_RDWR | O_CREAT, 0666);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX), 0);
  quiet_shared_t *sh = shared_block();
  pid_t pid = quiet_child("{\"workload\":\"test\"}", 0, sh);
  int blocked = 0;
  for (int i = 0; i < 1000 && !blocked && !sh->done; i++) {
    sleep_ms(10);
    blocked = sh->started && proc_state(pid) == 'S';
  }
  assert_true(blocked);      /* it stopped computing while the slot was held ... */
  assert_int_equal(sh->done, 0);
  sleep_ms(50);
  assert_int_equal(sh->done, 0); /* ... and stays stopped */
  assert_int_equal(flock(fd, LOCK_UN), 0);
  assert_int_equal(wait_exit(pid), 0);
  assert_int_equal(sh->done, 1);
  assert_true(sh->paused_s > 0.04); /* at least the 50 ms it was seen stopped */
  assert_true(sh->quiet == 1.0);
  close(fd);
  munmap(sh, sizeof *sh);
}

/* quiet: false (and exclusive: none) never pause: the child finishes while the slot is held. */
static void test_quiet_off_never_pauses(void **state) {
  (void)state;
  static const char *const configs[] = {"{\"quiet\":false}", "{\"exclusive\":\"none\"}"};
  char path[512];
  sw_slot_path(SW_SLOT_NODE, 0, path, sizeof path);
  int fd = open(path, O_RDWR | O_CREAT, 0666);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX), 0);
  for (size_t i = 0; i < 2; i++) {
    quiet_shared_t *sh = shared_block();
    assert_int_equal(wait_exit(quiet_child(configs[i], 0, sh)), 0);
    assert_int_equal(sh->done, 1);
    assert_true(sh->paused_s == 0.0);
    assert_true(sh->quiet == 0.0);
    munmap(sh, sizeof *sh);
  }
  assert_int_equal(flock(fd, LOCK_UN), 0);
  close(fd);
}

/* A quiet process that takes the slot for its own timed phase does not block on itself. */
static void test_quiet_process_times_without_self_deadlock(void **state) {
  (void)state;
  quiet_shared_t *sh = shared_block();
  assert_int_equal(wait_exit(quiet_child("{}", 1, sh)), 0);
  assert_int_equal(sh->done, 1);
  assert_true(sh->quiet == 1.0);
  munmap(sh, sizeof *sh);
}

static void test_quiet_bad_value_is_an_error(void **state) {
  (void)state;
  sw_json_t *cfg = config_of("{\"quiet\":\"sometimes\"}");
  sw_err_t err;
  assert_int_not_equal(sw_slot_quiet_begin(cfg, &err), SW_OK);
  assert_non_null(strstr(err.msg, "quiet"));
  sw_slot_quiet_end(NULL);
  sw_json_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_node_slot_excludes_other_processes),
      cmocka_unit_test(test_none_takes_no_lock),
      cmocka_unit_test(test_socket_path_differs_per_package),
      cmocka_unit_test(test_bad_mode_and_bad_dir_are_errors),
      cmocka_unit_test(test_stream_action_and_knob),
      cmocka_unit_test(test_quiet_child_pauses_while_slot_held),
      cmocka_unit_test(test_quiet_off_never_pauses),
      cmocka_unit_test(test_quiet_process_times_without_self_deadlock),
      cmocka_unit_test(test_quiet_bad_value_is_an_error),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
