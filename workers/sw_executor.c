/* sw_executor, worker-rank side: spawns `sparsweep executor --fd 3` with posix_spawn (no fork of the MPI
 * process), talks to it over an AF_UNIX socket pair, waits for results with poll(), restarts it when it
 * died, and kills it when it stops answering (e.g. a prepare step that hangs past the trial's timeout). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/sw_cursor.h"
#include "common/sw_time.h"
#include "workers/sw_executor_proto.h"

extern char **environ;

#define EXECUTOR_FD 3

struct sw_executor {
  char              *exe_path;
  sw_executor_opts_t opts;
  pid_t              pid;    /* 0 when no executor process */
  int                fd;     /* socket to the executor, -1 when none */
  int                starts;
  int                busy;   /* a trial was submitted and its result not yet collected */
  int                started;   /* the executor acknowledged the RUN (SW_EXEC_MSG_STARTED) */
  int                forked;    /* its prepare step is done and the trial child runs (SW_EXEC_MSG_FORKED) */
  int64_t            interrupt_ns; /* sw_now_ns() of an interrupt of the busy trial, 0 when none */
  int                resubmits; /* times the busy trial was re-sent after an executor death before STARTED */
  char              *config;    /* the busy trial's config (owned), kept for a resubmission */
  double             busy_timeout_s;
  int64_t            busy_since_ns;
  double             busy_start_wall;
};

/* Waits up to timeout_ms for pid to exit, reaping it: 1 reaped (status filled), -1 not our child any more
 * (someone else reaped it), 0 still running. */
static int reap_within(pid_t pid, int timeout_ms, int *status) {
  int64_t end = sw_now_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return 1;
    if (r < 0 && errno != EINTR) return -1;
    if (sw_now_ns() >= end) return 0;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
}

/* Forgets the current executor process: closes the socket, kills and reaps it.  *status gets its status. */
static void drop_executor(sw_executor_t *ex, int *status) {
  int st = 0;
  if (ex->fd >= 0) close(ex->fd);
  ex->fd = -1;
  if (ex->pid > 0 && reap_within(ex->pid, 0, &st) == 0) {
    kill(ex->pid, SIGKILL);
    reap_within(ex->pid, 5000, &st);
  }
  ex->pid = 0;
  ex->busy = 0;
  if (status) *status = st;
}

static void describe_status(int status, char *buf, size_t len) {
  char tmp[16];
  if (WIFSIGNALED(status))
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), sw_signal_name(WTERMSIG(status), tmp, sizeof tmp));
  else if (WIFEXITED(status))
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
  else
    snprintf(buf, len, "ended (status 0x%x)", (unsigned)status);
}

static sw_rc await_hello(sw_executor_t *ex, sw_err_t *err) {
  struct pollfd pf = {ex->fd, POLLIN, 0};
  int r;
  do r = poll(&pf, 1, (int)(ex->opts.start_timeout_s * 1000));
  while (r < 0 && errno == EINTR);
  if (r == 0) return sw_err_set(err, SW_ERR_TIMEOUT, "executor '%s' did not start within %.0f s", ex->exe_path,
                                ex->opts.start_timeout_s);
  uint32_t type = 0;
  int eof = 0;
  sw_buf_t payload = SW_BUF_INIT;
  sw_rc rc = sw_exec_recv(ex->fd, &type, &payload, &eof, err);
  uint32_t    version = 0;
  sw_cursor_t hello; /* HELLO payload: u32 protocol version, u32 pid */
  sw_cursor_init(&hello, payload.data, payload.len);
  (void)sw_cursor_u32(&hello, &version); /* a short payload leaves 0 and is refused below (len < 8) */
  if (!rc && !eof && type == SW_EXEC_MSG_HELLO && payload.len >= 8 && version != SW_EXEC_PROTOCOL)
    rc = sw_err_set(err, SW_ERR_UNSUPPORTED, "executor '%s' speaks protocol %u, this binary %d (mixed builds?)",
                    ex->exe_path, version, SW_EXEC_PROTOCOL);
  if (!rc && (eof || type != SW_EXEC_MSG_HELLO || payload.len < 8)) {
    int st = 0;
    char how[96] = "sent no greeting";
    if (eof) {
      drop_executor(ex, &st);
      describe_status(st, how, sizeof how);
    }
    rc = sw_err_set(err, SW_ERR_CHILD, "executor '%s' failed to start: %s (is it a sparsweep binary?)", ex->exe_path,
                    how);
  }
  sw_buf_free(&payload);
  return rc;
}

/* Moves fd to a number above the spawn target so dup2 onto EXECUTOR_FD always clears FD_CLOEXEC. */
static int fd_above_target(int fd) {
  if (fd > EXECUTOR_FD) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, EXECUTOR_FD + 1);
  close(fd);
  return moved;
}

static sw_rc spawn_executor(sw_executor_t *ex, sw_err_t *err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return sw_err_set(err, SW_ERR_IO, "executor: socketpair: %s", strerror(errno));
  sv[1] = fd_above_target(sv[1]);
  if (sv[1] < 0) {
    close(sv[0]);
    return sw_err_set(err, SW_ERR_IO, "executor: fcntl: %s", strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGCHLD);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], EXECUTOR_FD);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  char fd_arg[16];
  snprintf(fd_arg, sizeof fd_arg, "%d", EXECUTOR_FD);
  char *argv[] = {ex->exe_path, "executor", "--fd", fd_arg, NULL};
  pid_t pid = 0;
  int src = posix_spawn(&pid, ex->exe_path, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(sv[1]);
  if (src != 0) {
    close(sv[0]);
    return sw_err_set(err, SW_ERR_CHILD, "executor: cannot start '%s': %s", ex->exe_path, strerror(src));
  }
  ex->pid = pid;
  ex->fd = sv[0];
  ex->starts++;
  sw_rc rc = await_hello(ex, err);
  if (rc) drop_executor(ex, NULL);
  return rc;
}

sw_rc sw_executor_start(sw_executor_t **out, const char *exe_path, const sw_executor_opts_t *opts, sw_err_t *err) {
  *out = NULL;
  sw_executor_t *ex = calloc(1, sizeof *ex);
  if (!ex) return sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
  ex->fd = -1;
  sw_exec_opts_defaults(opts, &ex->opts);
  if (exe_path) {
    ex->exe_path = strdup(exe_path);
  } else {
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) path[n] = '\0';
    ex->exe_path = n > 0 ? strdup(path) : NULL;
    if (n <= 0) {
      free(ex);
      return sw_err_set(err, SW_ERR_IO, "executor: cannot read /proc/self/exe: %s", strerror(errno));
    }
  }
  if (!ex->exe_path) {
    free(ex);
    return sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
  }
  sw_rc rc = spawn_executor(ex, err);
  if (rc) {
    free(ex->exe_path);
    free(ex);
    return rc;
  }
  *out = ex;
  return SW_OK;
}

/* Restarts the executor when it is gone.  An idle executor never writes, so a readable (EOF) or hung-up
 * socket means it died; this does not rely on waitpid, which a foreign SIGCHLD handler could pre-empt. */
static sw_rc ensure_alive(sw_executor_t *ex, sw_err_t *err) {
  if (ex->fd >= 0) {
    struct pollfd pf = {ex->fd, POLLIN, 0};
    if (poll(&pf, 1, 0) == 0) return SW_OK;
  }
  drop_executor(ex, NULL);
  return spawn_executor(ex, err);
}

static sw_rc send_run(sw_executor_t *ex, const char *config_json, double timeout_s, sw_err_t *err) {
  sw_buf_t b = SW_BUF_INIT;
  sw_buf_put_f64(&b, timeout_s);
  sw_buf_put_f64(&b, ex->opts.grace_s);
  sw_buf_put_u64(&b, ex->opts.mem_limit_bytes);
  sw_buf_puts(&b, config_json);
  sw_rc rc = sw_buf_ok(&b) ? sw_exec_send(ex->fd, SW_EXEC_MSG_RUN, b.data, b.len, err)
                           : sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
  sw_buf_free(&b);
  return rc;
}

static void clear_busy(sw_executor_t *ex) {
  ex->busy = 0;
  free(ex->config);
  ex->config = NULL;
}

sw_rc sw_executor_submit(sw_executor_t *ex, const char *config_json, double timeout_s, sw_err_t *err) {
  if (ex->busy) return sw_err_set(err, SW_ERR_INVALID, "executor: a trial is already running");
  sw_rc rc = ensure_alive(ex, err);
  if (rc) return rc;
  if (!(ex->config = strdup(config_json))) return sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
  rc = send_run(ex, config_json, timeout_s, err);
  if (rc) { /* died between the liveness check and the send: one restart */
    drop_executor(ex, NULL);
    if ((rc = spawn_executor(ex, err)) || (rc = send_run(ex, config_json, timeout_s, err))) {
      clear_busy(ex);
      return rc;
    }
  }
  ex->busy = 1;
  ex->started = 0;
  ex->forked = 0;
  ex->interrupt_ns = 0;
  ex->resubmits = 0;
  ex->busy_timeout_s = timeout_s;
  ex->busy_since_ns = sw_now_ns();
  ex->busy_start_wall = sw_wall_s();
  return SW_OK;
}

/* The executor vanished or stopped answering under a trial: record it and forget the process. */
static sw_rc executor_lost(sw_executor_t *ex, sw_outcome_t *res, int unresponsive, sw_err_t *err) {
  int st = 0;
  char how[96];
  double start = ex->busy_start_wall, timeout = ex->busy_timeout_s;
  drop_executor(ex, &st);
  describe_status(st, how, sizeof how);
  memset(res, 0, sizeof *res);
  res->exit_status = -1;
  res->start_wall = start;
  res->end_wall = sw_wall_s();
  res->status = unresponsive ? SW_TRIAL_TIMEOUT : SW_TRIAL_FAILED;
  if (unresponsive && !ex->forked)
    snprintf(res->cause, sizeof res->cause, "timeout: the workload's prepare step did not end within %.3g s "
             "(timeout + grace + watchdog slack); the executor was killed", timeout + ex->opts.grace_s +
             ex->opts.watchdog_slack_s);
  else if (unresponsive)
    snprintf(res->cause, sizeof res->cause,
             "timeout after %.3g s: the executor stopped answering and was killed", timeout);
  else
    snprintf(res->cause, sizeof res->cause, "executor died during the trial (%s); it will be restarted", how);
  res->stderr_tail = strdup("");
  return res->stderr_tail ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
}

/* An interrupt during the prepare step: the executor reads its socket only once the trial child runs, so
 * after this long without FORKED it is killed instead (with its trial cache; the drain ends the sweep anyway). */
#define SW_EXEC_PREPARE_INTERRUPT_NS 1000000000LL

/* Milliseconds to poll: the caller's deadline, the watchdog's (*watchdog = 1) or that of an interrupt that
 * arrived during the prepare step, whichever is first. */
static int wait_budget_ms(const sw_executor_t *ex, int64_t caller_end_ns, int *watchdog) {
  int64_t now = sw_now_ns(), end = caller_end_ns;
  *watchdog = 0;
  if (ex->interrupt_ns && !ex->forked && ex->interrupt_ns + SW_EXEC_PREPARE_INTERRUPT_NS < end)
    end = ex->interrupt_ns + SW_EXEC_PREPARE_INTERRUPT_NS;
  if (ex->busy_timeout_s > 0) {
    double limit = ex->busy_timeout_s + ex->opts.grace_s + ex->opts.watchdog_slack_s;
    int64_t dog = ex->busy_since_ns + (int64_t)(limit * 1e9);
    if (dog <= end) {
      end = dog;
      *watchdog = 1;
    }
  }
  if (end == INT64_MAX) return -1;
  return end <= now ? 0 : (int)((end - now + 999999) / 1000000);
}

/* The executor died before acknowledging the trial: start a new one and send the trial again (once). */
static sw_rc resubmit(sw_executor_t *ex, sw_err_t *err) {
  drop_executor(ex, NULL);
  ex->busy = 1; /* drop_executor cleared it */
  ex->resubmits++;
  sw_rc rc = spawn_executor(ex, err);
  if (!rc) rc = send_run(ex, ex->config, ex->busy_timeout_s, err);
  if (rc) clear_busy(ex);
  return rc;
}

/* The trial interrupted while its prepare step still ran: the executor is killed, the trial recorded interrupted. */
static sw_rc interrupted_in_prepare(sw_executor_t *ex, sw_outcome_t *res, sw_err_t *err) {
  const double start = ex->busy_start_wall;
  drop_executor(ex, NULL);
  clear_busy(ex);
  memset(res, 0, sizeof *res);
  res->status = SW_TRIAL_INTERRUPTED;
  res->exit_status = -1;
  res->start_wall = start;
  res->end_wall = sw_wall_s();
  sw_outcome_set_cause(res, "interrupted during the workload's prepare step (the executor was stopped and will be "
                       "restarted)");
  res->stderr_tail = strdup("");
  return res->stderr_tail ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
}

sw_rc sw_executor_wait(sw_executor_t *ex, int wait_ms, sw_outcome_t *res, sw_err_t *err) {
  if (!ex->busy) return sw_err_set(err, SW_ERR_INVALID, "executor: no trial was submitted");
  int64_t caller_end = wait_ms < 0 ? INT64_MAX : sw_now_ns() + (int64_t)wait_ms * 1000000;
  for (;;) {
    if (ex->interrupt_ns && !ex->forked && sw_now_ns() >= ex->interrupt_ns + SW_EXEC_PREPARE_INTERRUPT_NS)
      return interrupted_in_prepare(ex, res, err);
    int watchdog = 0, budget = wait_budget_ms(ex, caller_end, &watchdog);
    struct pollfd pf = {ex->fd, POLLIN, 0};
    int r;
    do r = poll(&pf, 1, budget);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      sw_rc prc = sw_err_set(err, SW_ERR_IO, "executor: poll: %s", strerror(errno));
      drop_executor(ex, NULL); /* the next submit starts afresh */
      clear_busy(ex);
      return prc;
    }
    if (r == 0 && watchdog) {
      clear_busy(ex);
      return executor_lost(ex, res, 1, err);
    }
    if (r == 0 && sw_now_ns() < caller_end) continue; /* the interrupt deadline: checked at the top */
    if (r == 0) return SW_ERR_TIMEOUT; /* still running: not an error, err untouched */
    uint32_t type = 0;
    int eof = 0;
    sw_buf_t payload = SW_BUF_INIT;
    sw_rc rc = sw_exec_recv(ex->fd, &type, &payload, &eof, err);
    if (!rc && !eof && type == SW_EXEC_MSG_STARTED) {
      ex->started = 1;
      sw_buf_free(&payload);
      continue;
    }
    if (!rc && !eof && type == SW_EXEC_MSG_FORKED) { /* prepare done: the watchdog now times the trial */
      ex->forked = 1;
      ex->busy_since_ns = sw_now_ns();
      sw_buf_free(&payload);
      continue;
    }
    if (rc || eof || type != SW_EXEC_MSG_RESULT) {
      sw_buf_free(&payload);
      if (!ex->started && ex->resubmits == 0) {
        if ((rc = resubmit(ex, err))) return rc;
        continue;
      }
      clear_busy(ex);
      return executor_lost(ex, res, 0, err);
    }
    rc = sw_exec_decode_result(payload.data, payload.len, res, err);
    sw_buf_free(&payload);
    if (rc) drop_executor(ex, NULL); /* a garbled frame: do not trust the stream any more */
    clear_busy(ex);
    return rc;
  }
}

sw_rc sw_executor_run(sw_executor_t *ex, const char *config_json, double timeout_s, sw_outcome_t *res,
                      sw_err_t *err) {
  sw_rc rc = sw_executor_submit(ex, config_json, timeout_s, err);
  while (!rc && (rc = sw_executor_wait(ex, -1, res, err)) == SW_ERR_TIMEOUT) {
  }
  return rc;
}

sw_rc sw_executor_interrupt(sw_executor_t *ex, sw_err_t *err) {
  if (!ex->busy || ex->fd < 0) return SW_OK;
  if (!ex->interrupt_ns) ex->interrupt_ns = sw_now_ns();
  return sw_exec_send(ex->fd, SW_EXEC_MSG_INTERRUPT, NULL, 0, err);
}

pid_t sw_executor_pid(const sw_executor_t *ex) { return ex ? ex->pid : 0; }
int   sw_executor_starts(const sw_executor_t *ex) { return ex ? ex->starts : 0; }

void sw_executor_stop(sw_executor_t *ex) {
  if (!ex) return;
  if (ex->fd >= 0) {
    sw_err_t ignored;
    sw_exec_send(ex->fd, SW_EXEC_MSG_QUIT, NULL, 0, &ignored);
    shutdown(ex->fd, SHUT_WR);
  }
  int st;
  if (ex->pid > 0 && reap_within(ex->pid, 5000, &st)) ex->pid = 0;
  drop_executor(ex, NULL);
  free(ex->config);
  free(ex->exe_path);
  free(ex);
}
