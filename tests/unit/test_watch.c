/* `sparsweep watch` against a hostile publisher (cli/cmd_watch.c): a 128 MiB message on its endpoint is
 * refused by libzmq (ZMQ_MAXMSGSIZE) before it is buffered and the sender is cut off, so the watcher's peak
 * memory stays far below the message size and it ends by its --timeout (exit 1) instead of growing.  A
 * normal publisher still ends it with exit 0 (the control case).  The watcher runs in a child process so
 * that its peak RSS (wait4) is its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "cli/sw_cli.h"

#define HOSTILE_BYTES ((size_t)128 << 20)
#define RSS_LIMIT_KIB (96 * 1024) /* well under the message, well over a watcher's own needs (ASan included) */

static const char k_finished[] = "{\"v\":1,\"event\":\"run_finished\",\"seq\":1,\"time\":1,\"run_id\":1,\"total\":1,"
                                 "\"skipped\":0,\"ok\":1,\"failed\":0,\"interrupted\":0,\"running\":0,"
                                 "\"status\":\"done\",\"not_run\":0,\"wall_s\":1,\"rank0_cpu_s\":0}";

static pid_t start_watcher(const char *endpoint) {
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, 1);
    char *argv[] = {"watch", (char *)endpoint, "--plain", "--timeout", "3", NULL};
    _exit(cmd_watch(5, argv));
  }
  return pid;
}

/* Runs a watcher, publishes `bytes` of junk first (0 = none), then run_finished events until it exits;
 * returns its exit status and peak RSS (KiB). */
static int watch_after(size_t bytes, long *maxrss_kib) {
  void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_PUB);
  int linger = 0;
  zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
  assert_int_equal(zmq_bind(pub, "tcp://127.0.0.1:*"), 0);
  char endpoint[128];
  size_t len = sizeof endpoint;
  assert_int_equal(zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, endpoint, &len), 0);
  pid_t pid = start_watcher(endpoint);
  assert_true(pid > 0);
  usleep(500000); /* the subscription reaches the publisher */
  if (bytes > 0) {
    char *junk = malloc(bytes);
    assert_non_null(junk);
    memset(junk, '{', bytes);
    zmq_send(pub, "progress", 8, ZMQ_SNDMORE);
    zmq_send(pub, junk, bytes, 0);
    free(junk);
  }
  int status = 0;
  struct rusage ru;
  pid_t got = 0;
  for (int i = 0; i < 100 && got == 0; i++) {
    usleep(100000);
    zmq_send(pub, "run_finished", 12, ZMQ_SNDMORE);
    zmq_send(pub, k_finished, sizeof k_finished - 1, 0);
    got = wait4(pid, &status, WNOHANG, &ru);
  }
  if (got == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("watch did not end within 10 s");
  }
  zmq_close(pub);
  zmq_ctx_term(ctx);
  *maxrss_kib = ru.ru_maxrss;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_watch_refuses_huge_message(void **state) {
  (void)state;
  long rss = 0;
  assert_int_equal(watch_after(0, &rss), 0); /* control: the harness delivers events */
  assert_int_equal(watch_after(HOSTILE_BYTES, &rss), 1);
  printf("watch peak RSS %ld KiB after a %zu MiB message\n", rss, HOSTILE_BYTES >> 20);
  assert_true(rss < RSS_LIMIT_KIB);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_watch_refuses_huge_message)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
