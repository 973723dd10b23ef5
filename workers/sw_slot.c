/* sw_slot: host-wide measurement slots (see workers/sw_slot.h). */
#include "experiments/sw_keys.h"
#include "workers/sw_slot.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/sw_time.h"

sw_rc sw_slot_mode_parse(const char *name, sw_slot_mode *mode, sw_err_t *err) {
  if (strcmp(name, "node") == 0) *mode = SW_SLOT_NODE;
  else if (strcmp(name, "socket") == 0) *mode = SW_SLOT_SOCKET;
  else if (strcmp(name, "none") == 0) *mode = SW_SLOT_NONE;
  else return sw_err_set(err, SW_ERR_INVALID, "exclusive: unknown value '%s' (expected node|socket|none)", name);
  return SW_OK;
}

/* The directory for lock files: $SW_SLOT_DIR, else /dev/shm (host-local memory), else /tmp. */
static const char *slot_dir(void) {
  const char *env = getenv("SW_SLOT_DIR");
  struct stat st;
  if (env && *env) return env;
  if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return "/tmp";
}

/* The CPU package of the CPU this process runs on now (0 when unknown). */
static int current_package(void) {
  int cpu = sched_getcpu();
  char path[128];
  int pkg = 0;
  if (cpu < 0) return 0;
  snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  if (fscanf(f, "%d", &pkg) != 1 || pkg < 0) pkg = 0;
  fclose(f);
  return pkg;
}

void sw_slot_path(sw_slot_mode mode, int package, char *dst, size_t cap) {
  char host[256];
  if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = '\0';
  for (char *p = host; *p; p++)
    if (*p == '/') *p = '_';
  if (mode == SW_SLOT_SOCKET) snprintf(dst, cap, "%s/sparsweep-slot-%s-pkg%d.lock", slot_dir(), host, package);
  else snprintf(dst, cap, "%s/sparsweep-slot-%s.lock", slot_dir(), host);
}

/* The process-wide state of the quiet-host checks (workers/sw_slot.h): a signal handler can reach nothing else. */
typedef struct sw_slot_quiet_ctx {
  volatile sig_atomic_t active;    /* checks running in this process */
  volatile sig_atomic_t holding;   /* this process holds or is acquiring the slot: no check */
  char                  path[512]; /* the lock file, opened per check (a trial's descriptors stay its own) */
  int64_t               paused_ns; /* added to by the handler (atomically: any thread may take the signal) */
  struct sigaction      previous;  /* SIGVTALRM's action before sw_slot_quiet_begin */
} sw_slot_quiet_ctx_t;

static sw_slot_quiet_ctx_t sw_slot_quiet_ctx;

static int64_t monotonic_ns(void) { /* async-signal-safe, unlike a wrapper that might log */
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* SIGVTALRM: wait while another process holds the slot exclusively (take it shared, drop it at once). */
static void quiet_check(int signo) {
  (void)signo;
  sw_slot_quiet_ctx_t *q = &sw_slot_quiet_ctx;
  if (!q->active || q->holding) return;
  int saved = errno;
  int fd = open(q->path, O_RDONLY | O_CLOEXEC); /* open, flock and close are async-signal-safe */
  if (fd < 0) {
    errno = saved;
    return;
  }
  int64_t t0 = monotonic_ns();
  while (flock(fd, LOCK_SH) != 0 && errno == EINTR) {
  }
  close(fd); /* drops the shared lock */
  __atomic_fetch_add(&q->paused_ns, monotonic_ns() - t0, __ATOMIC_RELAXED);
  errno = saved;
}

static void quiet_timer(int on) {
  struct itimerval t;
  memset(&t, 0, sizeof t);
  if (on) t.it_interval.tv_usec = t.it_value.tv_usec = SW_SLOT_QUIET_PERIOD_US;
  (void)setitimer(ITIMER_VIRTUAL, &t, NULL);
}

/* Reads "exclusive" (default node) and "quiet" (default true) from config: *mode, *quiet. */
static sw_rc slot_settings(const sw_json_t *config, sw_slot_mode *mode, int *quiet, sw_err_t *err) {
  const sw_keytable_t *t = sw_keytable("measure");
  const char *name = "node"; /* both declared without default: absent means node and true */
  *mode = SW_SLOT_NODE;
  *quiet = 1;
  sw_rc rc = sw_key_str(t, config, "exclusive", &name, err);
  if (rc == SW_OK) rc = sw_slot_mode_parse(name, mode, err);
  if (rc == SW_OK) rc = sw_key_bool(t, config, "quiet", quiet, err);
  return rc;
}

sw_rc sw_slot_quiet_begin(const sw_json_t *config, sw_err_t *err) {
  sw_slot_quiet_ctx_t *q = &sw_slot_quiet_ctx;
  sw_slot_mode mode;
  int quiet;
  sw_rc rc = slot_settings(config, &mode, &quiet, err);
  q->paused_ns = 0;
  if (rc != SW_OK || q->active || mode == SW_SLOT_NONE || !quiet) return rc;
  sw_slot_path(mode, current_package(), q->path, sizeof q->path);
  int fd = open(q->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666); /* exists and is usable before the checks start */
  if (fd < 0) return sw_err_set(err, SW_ERR_IO, "measurement slot %s: %s", q->path, strerror(errno));
  close(fd);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = quiet_check;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  q->holding = 0;
  q->active = 1;
  (void)sigaction(SIGVTALRM, &sa, &q->previous);
  quiet_timer(1);
  return SW_OK;
}

double sw_slot_quiet_paused_s(void) {
  return (double)__atomic_load_n(&sw_slot_quiet_ctx.paused_ns, __ATOMIC_RELAXED) * 1e-9;
}

void sw_slot_quiet_end(sw_trial_out_t *out) {
  sw_slot_quiet_ctx_t *q = &sw_slot_quiet_ctx;
  int was_active = q->active;
  if (was_active) {
    quiet_timer(0);
    q->active = 0;
    (void)sigaction(SIGVTALRM, &q->previous, NULL);
  }
  if (out) {
    sw_trial_out_metric(out, "quiet_pause", sw_slot_quiet_paused_s(), "s");
    sw_trial_out_metric(out, "quiet", was_active, "bool");
  }
}

sw_rc sw_slot_acquire(sw_slot_t *slot, const sw_json_t *config, sw_err_t *err) {
  int quiet;
  slot->fd = -1;
  slot->wait_s = 0;
  sw_rc rc = slot_settings(config, &slot->mode, &quiet, err);
  if (rc != SW_OK || slot->mode == SW_SLOT_NONE) return rc;
  char path[512];
  sw_slot_path(slot->mode, current_package(), path, sizeof path);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return sw_err_set(err, SW_ERR_IO, "measurement slot %s: %s", path, strerror(errno));
  sw_slot_quiet_ctx.holding = 1; /* before the timer stops: a pending check returns at once */
  quiet_timer(0);
  int64_t t0 = sw_now_ns();
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    close(fd);
    sw_slot_quiet_ctx.holding = 0;
    if (sw_slot_quiet_ctx.active) quiet_timer(1);
    return sw_err_set(err, SW_ERR_IO, "measurement slot %s: flock: %s", path, strerror(e));
  }
  slot->wait_s = (double)(sw_now_ns() - t0) * 1e-9;
  slot->fd = fd;
  return SW_OK;
}

void sw_slot_release(sw_slot_t *slot, sw_trial_out_t *out) {
  if (slot->fd >= 0) {
    (void)flock(slot->fd, LOCK_UN);
    close(slot->fd);
    slot->fd = -1;
    sw_slot_quiet_ctx.holding = 0;
    if (sw_slot_quiet_ctx.active) quiet_timer(1);
  }
  if (out) {
    sw_trial_out_metric(out, "slot_wait", slot->wait_s, "s");
    sw_trial_out_metric(out, "slot_mode", (double)slot->mode, "enum");
  }
}
