/* The executor process side: one forked child per trial (own process group, stdout+stderr captured,
 * RLIMIT_AS cap, no core dumps, dies with its parent), watched with poll() on its pipes, a pidfd and the
 * control socket; timeout -> SIGTERM to the group, SIGKILL after the grace period; the outcome is
 * classified into ok / failed (signal, exit status, workload error, out of memory) / timeout / interrupted. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sw_cursor.h"
#include "common/sw_time.h"
#include "workers/sw_slot.h"
#include "workers/sw_executor_proto.h"

#define RESULT_MAX ((size_t)256 << 20) /* bytes of result JSON accepted from a child */

/* State of one running child, as seen by the executor. */
typedef struct child_watch {
  pid_t    pid;
  int      out_fd, res_fd, pid_fd, ctl_fd; /* -1 when closed / unused */
  sw_buf_t tail, result;
  int      exited, status;
  int      timed_out, interrupted, term_sent, kill_sent, quit;
  int64_t  deadline_ns, kill_at_ns, started_ns, term_ns;
} child_watch_t;

/* ---- descriptor hygiene ---- */

/* Closes every descriptor from lo up (close_range(2) where the kernel has it, else each one listed in
 * /proc/self/fd), so that nothing inherited from the MPI rank (its connection to the local MPI daemon,
 * listening sockets) or left by the executor reaches a trial. */
static void close_from(int lo) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)lo, ~0u, 0u) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  for (long fd = lo; fd < (max > 0 && max < 65536 ? max : 65536); fd++) close((int)fd);
}

/* Keeps only 0-2 and keep (the control socket), which is moved to keep_at first when it is elsewhere. */
static int keep_only(int keep, int keep_at) {
  if (keep < 3) return keep; /* never: 0-2 are open in the executor; do not close stdio by mistake */
  if (keep != keep_at && dup2(keep, keep_at) == keep_at) keep = keep_at;
  if (keep > 3) {
    for (int fd = 3; fd < keep; fd++) close(fd);
  }
  close_from(keep + 1);
  return keep;
}

/* Fault injection for tests (tests/mpi/faults.sh): SW_FAULT_FORK=1 in the executor's environment makes every
 * fork of a trial child fail with EAGAIN, as under a process limit (RLIMIT_NPROC, a cgroup's pids.max). */
static int fault_fork(void) {
  const char *v = getenv("SW_FAULT_FORK");
  return v && strcmp(v, "1") == 0;
}

/* ---- the child ---- */

static void child_limits(rlim_t as_limit) {
  struct rlimit core = {0, 0};
  setrlimit(RLIMIT_CORE, &core);
  if (as_limit != RLIM_INFINITY) {
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) == 0 && (as.rlim_max == RLIM_INFINITY || as_limit < as.rlim_max)) {
      as.rlim_cur = as_limit;
      setrlimit(RLIMIT_AS, &as);
    }
  }
}

/* Crash and stop signals back to their default action, so a crash is reported as the signal it is (sanitizer
 * runtimes and inherited handlers would otherwise turn it into exit status 1) and the timeout's SIGTERM works.
 * SIGUSR1/SIGUSR2 (a scheduler's walltime warning, delivered to every process of a job) stay ignored: rank 0
 * decides about draining, a warning must not kill the running trial. */
static void child_signals(void) {
  static const int defaults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM,
                                 SIGINT,  SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) signal(defaults[i], SIG_DFL);
  signal(SIGUSR1, SIG_IGN);
  signal(SIGUSR2, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static void child_write_result(int fd, sw_rc rc, const sw_trial_out_t *out, const sw_err_t *err) {
  sw_buf_t b = SW_BUF_INIT;
  if (rc == SW_OK) {
    sw_buf_puts(&b, "O");
    sw_trial_out_json(out, &b);
    if (!sw_buf_ok(&b)) {
      sw_buf_reset(&b);
      b.oom = 0;
      rc = SW_ERR_NOMEM;
    }
  }
  if (rc != SW_OK) {
    sw_buf_printf(&b, "E%d\n", (int)rc);
    sw_buf_puts(&b, err->msg[0] ? err->msg : "result JSON could not be built: out of memory");
  }
  const char *p = sw_buf_str(&b);
  size_t n = b.len;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    p += w;
    n -= (size_t)w;
  }
  sw_buf_free(&b);
}

/* The trial's CPU metrics: cpu_s, its own process's CPU time (the child starts from zero), and prepare_cpu_s, what
 * the executor spent on its shared preparation just before (0 when the trial cache already held it). */
static void put_cpu(sw_trial_out_t *out, double prepare_cpu_s) {
  sw_trial_out_metric(out, "cpu_s", sw_cpu_s(), "s");
  sw_trial_out_metric(out, "prepare_cpu_s", prepare_cpu_s, "s");
}

static void child_main(const sw_workload_t *wl, sw_trial_cache_t *cache, const sw_json_t *config, int out_w,
                       int res_w, int ctl_fd, pid_t parent, rlim_t as_limit, double prepare_cpu_s) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  (void)ctl_fd; /* closed with every other descriptor below */
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) dup2(null_fd, 0);
  dup2(out_w, 1);
  dup2(out_w, 2);
  res_w = keep_only(res_w, 3); /* the trial sees 0, 1, 2 and its result pipe (3), nothing else */
  child_signals();
  child_limits(as_limit);
  sw_trial_out_t out;
  sw_err_t err;
  sw_trial_out_init(&out);
  sw_err_clear(&err);
  sw_rc rc = sw_slot_quiet_begin(config, &err); /* untimed work pauses while another trial of the host times */
  if (rc == SW_OK) rc = wl->run(cache, config, &out, &err);
  sw_slot_quiet_end(&out);
  if (rc == SW_OK) put_cpu(&out, prepare_cpu_s);
  if (rc != SW_OK && err.code == SW_OK) sw_err_set(&err, rc, "%s", sw_err_text(rc));
  child_write_result(res_w, rc, &out, &err);
  fflush(stdout);
  fflush(stderr);
  _exit(0); /* no atexit handlers, no sanitizer exit-time scans of the executor's memory */
}

/* ---- the parent: watching ---- */

static rlim_t as_limit_for(uint64_t mem_limit) {
  if (mem_limit == UINT64_MAX) return RLIM_INFINITY;
  unsigned long long size_pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%llu", &size_pages) != 1) size_pages = 0;
    fclose(f);
  }
  uint64_t base = (uint64_t)size_pages * (uint64_t)sysconf(_SC_PAGESIZE);
  return (rlim_t)(base + mem_limit < base ? UINT64_MAX : base + mem_limit);
}

static void tail_append(sw_buf_t *tail, const char *p, size_t n) {
  sw_buf_append(tail, p, n);
  if (tail->len > 2 * SW_OUTCOME_STDERR_TAIL) {
    memmove(tail->data, tail->data + tail->len - SW_OUTCOME_STDERR_TAIL, SW_OUTCOME_STDERR_TAIL);
    tail->len = SW_OUTCOME_STDERR_TAIL;
    tail->data[tail->len] = '\0';
  }
}

/* Reads once from *fd into dst (tail mode or bounded result).  Returns 1 after data, 0 when nothing was
 * ready, -1 after EOF or an error (and *fd is closed). */
static int drain_once(int *fd, sw_buf_t *dst, int is_tail) {
  char chunk[16384];
  ssize_t r = read(*fd, chunk, sizeof chunk);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (r <= 0) {
    close(*fd);
    *fd = -1;
    return -1;
  }
  if (is_tail)
    tail_append(dst, chunk, (size_t)r);
  else if (dst->len + (size_t)r <= RESULT_MAX)
    sw_buf_append(dst, chunk, (size_t)r);
  else
    dst->oom = 1; /* too large: sticky, later appends are dropped and the result is rejected */
  return 1;
}

/* After the child exited: takes whatever is still buffered in the pipe, without blocking. */
static void drain_rest(int *fd, sw_buf_t *dst, int is_tail) {
  if (*fd < 0) return;
  fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
  while (drain_once(fd, dst, is_tail) > 0) {
  }
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void signal_group(child_watch_t *w, int signo) {
  if (kill(-w->pid, signo) != 0) kill(w->pid, signo);
}

static void start_termination(child_watch_t *w, double grace_s) {
  if (w->term_sent) return;
  signal_group(w, SIGTERM);
  w->term_sent = 1;
  w->term_ns = sw_now_ns();
  w->kill_at_ns = w->term_ns + (int64_t)(grace_s * 1e9);
}

/* Handles a control frame arriving during a trial: INTERRUPT, QUIT or EOF stop the child. */
static void on_control(child_watch_t *w, double grace_s) {
  uint32_t type = 0;
  int eof = 0;
  sw_buf_t payload = SW_BUF_INIT;
  sw_err_t err;
  if (sw_exec_recv(w->ctl_fd, &type, &payload, &eof, &err) != SW_OK || eof || type == SW_EXEC_MSG_QUIT) {
    w->quit = 1;
    w->ctl_fd = -1; /* stop watching; the serve loop ends after this trial */
  }
  sw_buf_free(&payload);
  if (w->quit || type == SW_EXEC_MSG_INTERRUPT) {
    w->interrupted = 1;
    start_termination(w, grace_s);
  }
}

static void check_exit(child_watch_t *w) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(P_PID, (id_t)w->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != w->pid) return;
  signal_group(w, SIGKILL); /* grandchildren left in the group; the zombie leader still holds the pgid */
  if (waitpid(w->pid, &w->status, 0) == w->pid) w->exited = 1;
}

static int poll_timeout_ms(const child_watch_t *w) {
  int64_t now = sw_now_ns(), next = INT64_MAX;
  if (!w->term_sent) next = w->deadline_ns;
  if (w->term_sent && !w->kill_sent) next = w->kill_at_ns;
  int ms = -1;
  if (next != INT64_MAX) ms = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
  if (w->pid_fd < 0 && (ms < 0 || ms > 20)) ms = 20; /* no pidfd: check for exit every 20 ms */
  return ms;
}

static void watch_child(child_watch_t *w, const sw_exec_params_t *p) {
  while (!w->exited) {
    struct pollfd pf[4];
    int n = 0, i_out = -1, i_res = -1, i_ctl = -1;
    if (w->out_fd >= 0) pf[i_out = n++] = (struct pollfd){w->out_fd, POLLIN, 0};
    if (w->res_fd >= 0) pf[i_res = n++] = (struct pollfd){w->res_fd, POLLIN, 0};
    if (w->ctl_fd >= 0) pf[i_ctl = n++] = (struct pollfd){w->ctl_fd, POLLIN, 0};
    if (w->pid_fd >= 0) pf[n++] = (struct pollfd){w->pid_fd, POLLIN, 0};
    int r = poll(pf, (nfds_t)n, poll_timeout_ms(w));
    if (r > 0 && i_out >= 0 && pf[i_out].revents) drain_once(&w->out_fd, &w->tail, 1);
    if (r > 0 && i_res >= 0 && pf[i_res].revents) drain_once(&w->res_fd, &w->result, 0);
    if (r > 0 && i_ctl >= 0 && pf[i_ctl].revents) on_control(w, p->grace_s);
    check_exit(w);
    int64_t now = sw_now_ns();
    if (!w->exited && !w->term_sent && now >= w->deadline_ns) {
      w->timed_out = 1;
      start_termination(w, p->grace_s);
    }
    if (!w->exited && w->term_sent && !w->kill_sent && now >= w->kill_at_ns) {
      signal_group(w, SIGKILL);
      w->kill_sent = 1;
    }
  }
  /* Whatever the child wrote before exiting is still in the pipes. */
  drain_rest(&w->out_fd, &w->tail, 1);
  drain_rest(&w->res_fd, &w->result, 0);
}

/* ---- classification ---- */

static int mentions_oom(const char *text) {
  /* glibc/strerror, C++, sanitizer runtimes ("allocator is out of memory", "ERROR: Failed to mmap"), Python. */
  static const char *needles[] = {"out of memory",           "cannot allocate memory", "bad_alloc",
                                  "allocation-size-too-big", "failed to mmap",         "memory exhausted",
                                  "MemoryError"};
  for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
    size_t n = strlen(needles[i]);
    for (const char *p = text; *p; p++)
      if (strncasecmp(p, needles[i], n) == 0) return 1;
  }
  return 0;
}

/* Signals a batch scheduler or a user sends to stop work (the executor never sends them except on timeout). */
static int is_external_stop(int sig) { return sig == SIGTERM || sig == SIGINT || sig == SIGHUP; }

static void classify_signal(const child_watch_t *w, sw_outcome_t *res, const char *tail) {
  int sig = WTERMSIG(w->status);
  sw_outcome_set_signal(res, sig);
  res->out_of_memory = sig == SIGKILL || mentions_oom(tail);
  if (sig == SIGKILL)
    sw_outcome_set_cause(res, "out of memory: killed by signal 9 (SIGKILL), as the kernel OOM killer does");
  else
    sw_outcome_set_cause(res, "%skilled by signal %d (%s)", res->out_of_memory ? "out of memory: " : "",
             sig, res->signal_name);
}

static void classify_result(const child_watch_t *w, sw_outcome_t *res) {
  const char *r = sw_buf_str(&w->result);
  if (r[0] == 'O' && sw_buf_ok(&w->result)) {
    res->status = SW_TRIAL_OK;
    res->result_json = strdup(r + 1);
    if (!res->result_json) {
      res->status = SW_TRIAL_FAILED;
      sw_outcome_set_cause(res, "executor out of memory copying the result");
    }
    return;
  }
  if (r[0] == 'E') {
    int code = atoi(r + 1);
    const char *msg = strchr(r, '\n');
    res->out_of_memory = code == SW_ERR_NOMEM;
    sw_outcome_set_cause(res, "%sworkload error %s: %s", code == SW_ERR_NOMEM ? "out of memory: " : "",
             sw_err_name((sw_rc)code), msg ? msg + 1 : "");
    return;
  }
  sw_outcome_set_cause(res, "exited with status 0 without writing a result%s",
           sw_buf_ok(&w->result) ? "" : " (result larger than 256 MiB, or the executor ran out of memory)");
}

static void classify(const child_watch_t *w, const sw_exec_params_t *p, sw_outcome_t *res) {
  const char *tail = sw_buf_str(&w->tail);
  res->status = SW_TRIAL_FAILED;
  res->exit_status = WIFEXITED(w->status) ? WEXITSTATUS(w->status) : -1;
  int clean = WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0;
  if (clean && sw_buf_str(&w->result)[0] == 'O') return classify_result(w, res);
  if (WIFSIGNALED(w->status)) classify_signal(w, res, tail);
  if (w->timed_out) {
    res->status = SW_TRIAL_TIMEOUT;
    res->out_of_memory = 0;
    sw_outcome_set_cause(res, "timeout after %.3g s: %s", p->timeout_s,
             w->kill_sent ? "SIGTERM ignored, killed with SIGKILL after the grace period"
                          : "SIGTERM sent, exited within the grace period");
    return;
  }
  if (w->interrupted) {
    res->status = SW_TRIAL_INTERRUPTED;
    res->out_of_memory = 0;
    sw_outcome_set_cause(res, "interrupted: the worker asked to stop the trial (drain)");
    return;
  }
  if (WIFSIGNALED(w->status) && is_external_stop(WTERMSIG(w->status))) {
    res->status = SW_TRIAL_INTERRUPTED;
    sw_outcome_set_cause(res, "interrupted: killed by signal %d (%s) sent from outside (batch scheduler or user)", res->signo,
              res->signal_name);
    return;
  }
  if (WIFSIGNALED(w->status)) return;
  if (clean) return classify_result(w, res);
  res->out_of_memory = mentions_oom(tail);
  sw_outcome_set_cause(res, "%sexited with status %d", res->out_of_memory ? "out of memory: " : "",
           res->exit_status);
}

/* ---- one trial ---- */

static void fail_before_fork(sw_outcome_t *res, sw_rc code, const char *what, const char *msg) {
  res->status = SW_TRIAL_FAILED;
  res->out_of_memory = code == SW_ERR_NOMEM;
  sw_outcome_set_cause(res, "%s%s: %s", code == SW_ERR_NOMEM ? "out of memory: " : "", what, msg);
}

/* Parses the config and resolves the workload; on failure fills res and returns NULL. */
static const sw_workload_t *resolve(const char *config, size_t len, sw_json_t **doc, sw_outcome_t *res) {
  sw_err_t e;
  const char *name = NULL;
  if (sw_json_parse(config, len, doc, &e) != SW_OK) {
    *doc = NULL;
    fail_before_fork(res, e.code, "invalid trial config", e.msg);
    return NULL;
  }
  if ((*doc)->kind != SW_JSON_OBJECT) {
    fail_before_fork(res, SW_ERR_INVALID, "invalid trial config", "not a JSON object");
    return NULL;
  }
  if (sw_json_get_str(*doc, "workload", NULL, &name, &e) != SW_OK || !name) {
    fail_before_fork(res, SW_ERR_INVALID, "invalid trial config", name ? e.msg : "no \"workload\" key");
    return NULL;
  }
  const sw_workload_t *wl = sw_workload_find(name);
  if (!wl) fail_before_fork(res, SW_ERR_NOTFOUND, "unknown workload", name);
  return wl;
}

/* Per-trial overrides from the config: grace_s and mem_limit_mb. */
static void apply_overrides(const sw_json_t *doc, const sw_exec_params_t *in, sw_exec_params_t *p) {
  sw_err_t e;
  int64_t mb = 0;
  double grace = 0;
  *p = *in;
  if (sw_json_get_double(doc, "grace_s", 0, &grace, &e) == SW_OK && grace > 0) p->grace_s = grace;
  if (sw_json_get_int(doc, "mem_limit_mb", 0, &mb, &e) == SW_OK && mb > 0) p->mem_limit = (uint64_t)mb << 20;
}

static sw_rc fork_and_watch(const sw_workload_t *wl, sw_trial_cache_t *cache, const sw_json_t *doc,
                            const sw_exec_params_t *p, double prepare_cpu_s, int ctl_fd, sw_outcome_t *res, int *quit,
                            sw_err_t *err) {
  int out_p[2], res_p[2];
  if (pipe2(out_p, O_CLOEXEC) != 0) return sw_err_set(err, SW_ERR_IO, "pipe: %s", strerror(errno));
  if (pipe2(res_p, O_CLOEXEC) != 0) {
    close(out_p[0]);
    close(out_p[1]);
    return sw_err_set(err, SW_ERR_IO, "pipe: %s", strerror(errno));
  }
  rlim_t as_limit = as_limit_for(p->mem_limit);
  pid_t parent = getpid();
  fflush(NULL);
  child_watch_t w = {.out_fd = out_p[0], .res_fd = res_p[0], .ctl_fd = ctl_fd, .pid_fd = -1};
  w.started_ns = sw_now_ns();
  w.deadline_ns = p->timeout_s > 0 ? w.started_ns + (int64_t)(p->timeout_s * 1e9) : INT64_MAX;
  res->start_wall = sw_wall_s();
  w.pid = fault_fork() ? (errno = EAGAIN, -1) : fork();
  if (w.pid == 0) child_main(wl, cache, doc, out_p[1], res_p[1], ctl_fd, parent, as_limit, prepare_cpu_s);
  int fork_errno = errno;
  close(out_p[1]);
  close(res_p[1]);
  if (w.pid < 0) {
    close(out_p[0]);
    close(res_p[0]);
    return sw_err_set(err, SW_ERR_CHILD, "fork: %s", strerror(fork_errno));
  }
  setpgid(w.pid, w.pid);
  sw_err_t lost;
  if (ctl_fd >= 0) sw_exec_send(ctl_fd, SW_EXEC_MSG_FORKED, NULL, 0, &lost); /* a gone worker: watch_child sees EOF */
#ifdef SYS_pidfd_open
  w.pid_fd = (int)syscall(SYS_pidfd_open, w.pid, 0);
#endif
  watch_child(&w, p);
  res->end_wall = sw_wall_s();
  if (w.pid_fd >= 0) close(w.pid_fd);
  classify(&w, p, res);
  *quit = w.quit;
  res->stderr_tail = strdup(sw_buf_str(&w.tail) + (w.tail.len > SW_OUTCOME_STDERR_TAIL ? w.tail.len - SW_OUTCOME_STDERR_TAIL : 0));
  sw_buf_free(&w.tail);
  sw_buf_free(&w.result);
  if (!res->stderr_tail) return sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
  return SW_OK;
}

sw_rc sw_exec_trial(sw_trial_cache_t *cache, const char *config, size_t config_len, const sw_exec_params_t *params,
                    int ctl_fd, sw_outcome_t *res, int *quit, sw_err_t *err) {
  sw_json_t *doc = NULL;
  sw_exec_params_t p;
  memset(res, 0, sizeof *res);
  res->exit_status = -1;
  *quit = 0;
  res->start_wall = sw_wall_s();
  const sw_workload_t *wl = resolve(config, config_len, &doc, res);
  sw_rc rc = SW_OK;
  if (wl) {
    apply_overrides(doc, params, &p);
    sw_err_t e;
    sw_err_clear(&e);
    double cpu0 = sw_cpu_s();
    sw_rc prc = wl->prepare ? sw_slot_quiet_begin(doc, &e) : SW_OK; /* prepare is untimed work too */
    if (prc == SW_OK && wl->prepare) prc = wl->prepare(cache, doc, &e);
    sw_slot_quiet_end(NULL);
    if (prc != SW_OK)
      fail_before_fork(res, prc, "prepare failed", e.msg);
    else
      rc = fork_and_watch(wl, cache, doc, &p, sw_cpu_s() - cpu0, ctl_fd, res, quit, err);
  }
  sw_json_free(doc);
  if (!res->end_wall) res->end_wall = sw_wall_s();
  if (!rc && !res->stderr_tail && !(res->stderr_tail = strdup("")))
    rc = sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory");
  if (rc) sw_outcome_free(res);
  return rc;
}

/* ---- serving requests ---- */

static sw_rc serve_run(sw_trial_cache_t *cache, int fd, const sw_buf_t *payload, int *quit, sw_err_t *err) {
  sw_exec_params_t p;
  sw_cursor_t      c; /* RUN payload: f64 timeout_s, f64 grace_s, u64 mem_limit, then the config text */
  const uint8_t   *config;
  sw_cursor_init(&c, payload->data, payload->len);
  if (sw_cursor_f64(&c, &p.timeout_s) || sw_cursor_f64(&c, &p.grace_s) || sw_cursor_u64(&c, &p.mem_limit))
    return sw_err_set(err, SW_ERR_TRUNCATED, "executor: RUN frame of %zu bytes", payload->len);
  const size_t config_len = sw_cursor_remain(&c);
  (void)sw_cursor_bytes(&c, config_len, &config); /* exactly the bytes remaining: cannot fail */
  sw_rc rc = sw_exec_send(fd, SW_EXEC_MSG_STARTED, NULL, 0, err);
  if (rc) return rc;
  sw_outcome_t res;
  rc = sw_exec_trial(cache, (const char *)config, config_len, &p, fd, &res, quit, err);
  if (rc) {
    memset(&res, 0, sizeof res);
    res.status = SW_TRIAL_FAILED;
    res.exit_status = -1;
    res.infra = 1; /* fork, pipe or memory of the executor: not the trial's fault */
    sw_outcome_set_cause(&res, "infrastructure: executor could not run the trial: %s", err->msg);
  }
  sw_buf_t out = SW_BUF_INIT;
  sw_exec_encode_result(&res, &out);
  sw_rc src = sw_buf_ok(&out) ? sw_exec_send(fd, SW_EXEC_MSG_RESULT, out.data, out.len, err)
                              : sw_err_set(err, SW_ERR_NOMEM, "executor: out of memory encoding a result");
  sw_buf_free(&out);
  sw_outcome_free(&res);
  return *quit ? SW_OK : src; /* after a quit or EOF the worker is gone: nobody to report to */
}

/* The executor's lifetime follows its worker's socket, not signals: a scheduler's SIGTERM/SIGUSR1 to the whole
 * job must reach the orchestrator's drain logic and the trial child, not kill the executor under it. */
static void ignore_stop_signals(void) {
  static const int ignored[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE};
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);
}

sw_rc sw_executor_serve(int fd, sw_err_t *err) {
  sw_trial_cache_t cache = {0};
  ignore_stop_signals();
  fd = keep_only(fd, fd); /* drop whatever the MPI rank left open (posix_spawn does not close it) */
  sw_buf_t hello = SW_BUF_INIT, payload = SW_BUF_INIT;
  sw_buf_put_u32(&hello, SW_EXEC_PROTOCOL);
  sw_buf_put_u32(&hello, (uint32_t)getpid());
  sw_rc rc = sw_exec_send(fd, SW_EXEC_MSG_HELLO, hello.data, hello.len, err);
  sw_buf_free(&hello);
  int quit = 0;
  while (!rc && !quit) {
    uint32_t type = 0;
    int eof = 0;
    rc = sw_exec_recv(fd, &type, &payload, &eof, err);
    if (rc || eof || type == SW_EXEC_MSG_QUIT) break;
    if (type == SW_EXEC_MSG_RUN) rc = serve_run(&cache, fd, &payload, &quit, err);
    /* INTERRUPT with no trial running: nothing to stop. */
  }
  sw_buf_free(&payload);
  sw_trial_cache_free(&cache);
  return rc;
}

sw_rc sw_trial_run_isolated(sw_trial_cache_t *cache, const char *config_json, double timeout_s,
                            const sw_executor_opts_t *opts, sw_outcome_t *res, sw_err_t *err) {
  sw_executor_opts_t o;
  sw_exec_opts_defaults(opts, &o);
  sw_exec_params_t p = {timeout_s, o.grace_s, o.mem_limit_bytes};
  int quit = 0;
  return sw_exec_trial(cache, config_json, strlen(config_json), &p, -1, res, &quit, err);
}
