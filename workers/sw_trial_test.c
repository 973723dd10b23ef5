/* The test-only workload ("workload":"test"): misbehaves on demand so the executor's crash isolation can be
 * tested.  Config: action = ok|segv|abort|exit|hang|oom|sleep|fds|grandchild|stream, sleep_ms, exit_code, oom_mb (0 = no bound),
 * stderr_text (written to stderr first), ignore_term (hang ignoring SIGTERM), value and samples (count of
 * 1 ms, 2 ms, ... samples; reported by ok/sleep, which both sleep sleep_ms first),
 * cache_key (prepare stores its creation time in the executor's cache; ok reports it), pid_file (the child
 * writes its pid there first, so a test can signal it), prepare_sleep_ms (prepare stalls the executor itself),
 * action fds (reports open_fds, the descriptors the trial holds, and max_fd) and action grandchild (forks a
 * process that writes its pid to pid_file and sleeps, then reports ok at once: it must not outlive the trial).
 *
 * action = stream is a real timed loop for calibrating compare (scripts/calibrate_compare.sh): per repetition,
 * interleaved, "dense" sums a buffer of stream_kib KiB (default 4096) and "sparse" sums its first fraction
 * (default 0.5); warmup and repetitions as in measure:, inside the host's measurement slot (workers/sw_slot.h),
 * after sleeping sleep_ms (untimed, outside the slot).
 * Test-only knob: the environment variable SW_TEST_SLOWDOWN = F (>= 1, default 1) makes the "sparse" loop do F
 * times the work, a planted slowdown of the method that leaves the config and its hash unchanged; the run's
 * env records it (SW_* variables, results/SCHEMA.md) and the trial its metric slowdown_knob. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/sw_stats.h"
#include "common/sw_time.h"
#include "models/sw_eval.h"
#include "experiments/sw_keys.h"
#include "workers/sw_slot.h"
#include "workers/sw_trial.h"

#define TEST_KEYS sw_keytable("test") /* experiments/sw_keys_table.c */

#define TEST_OOM_CHUNK ((size_t)16 << 20)

typedef struct test_cache_value {
  int64_t created_ns; /* monotonic time when prepare created the entry */
  pid_t   created_pid;
} test_cache_value_t;

static sw_rc cache_key_of(const sw_json_t *config, char *key, size_t key_len, int *has_key, sw_err_t *err) {
  const char *name = NULL;
  sw_rc rc = sw_key_str(TEST_KEYS, config, "cache_key", &name, err);
  if (rc) return rc;
  *has_key = name != NULL;
  if (name) snprintf(key, key_len, "test:%s", name);
  return SW_OK;
}

static void sleep_ms_total(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

sw_rc sw_trial_prepare_test(sw_trial_cache_t *cache, const sw_json_t *config, sw_err_t *err) {
  char key[256];
  int  has_key = 0;
  int64_t stall_ms = 0;
  sw_rc rc = sw_key_int(TEST_KEYS, config, "prepare_sleep_ms", &stall_ms, err);
  if (rc) return rc;
  if (stall_ms > 0) sleep_ms_total(stall_ms);
  rc = cache_key_of(config, key, sizeof key, &has_key, err);
  if (rc || !has_key || sw_trial_cache_get(cache, key)) return rc;
  test_cache_value_t *v = malloc(sizeof *v);
  if (!v) return sw_err_set(err, SW_ERR_NOMEM, "test workload: cannot allocate a cache entry");
  v->created_ns = sw_now_ns();
  v->created_pid = getpid();
  rc = sw_trial_cache_put(cache, key, v, free);
  if (rc) return sw_err_set(err, rc, "test workload: cannot store cache entry '%s'", key);
  return SW_OK;
}

static sw_rc action_ok(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  double value = 0;
  int64_t n_samples = 3;
  sw_rc rc = sw_key_num(TEST_KEYS, config, "value", &value, err);
  if (!rc) rc = sw_key_int(TEST_KEYS, config, "samples", &n_samples, err);
  if (rc) return rc;
  if (n_samples < 0 || n_samples > 10000000) return sw_err_set(err, SW_ERR_RANGE, "test workload: samples out of range");
  sw_trial_out_metric(out, "value", value, "count");
  sw_trial_out_metric(out, "pid", (double)getpid(), "id");
  for (int rep = 0; rep < (int)n_samples; rep++) sw_trial_out_sample(out, "test", rep, 1e-3 * (rep + 1));
  sw_trial_out_counter(out, "test", "TEST_NULL_COUNTER", 0, 0, "the test workload measures no counters");
  char key[256];
  int  has_key = 0;
  if ((rc = cache_key_of(config, key, sizeof key, &has_key, err))) return rc;
  if (has_key) {
    const test_cache_value_t *v = sw_trial_cache_get(cache, key);
    if (!v) return sw_err_set(err, SW_ERR_INTERNAL, "test workload: cache entry '%s' missing (prepare not run)", key);
    sw_trial_out_metric(out, "cache_created_ns", (double)v->created_ns, "ns");
    sw_trial_out_metric(out, "cache_created_pid", (double)v->created_pid, "id");
  }
  return SW_OK;
}

/* A real invalid access: a store to a PROT_NONE page (not NULL, which UBSan would report first). */
static void crash_segv(void) {
  volatile int *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) raise(SIGSEGV);
  page[1] = 1;
  raise(SIGSEGV); /* not reached */
}

static void hang_forever(int ignore_term) {
  if (ignore_term) signal(SIGTERM, SIG_IGN);
  for (;;) pause();
}

/* Allocates and touches 16 MiB chunks until malloc fails or limit_mb is reached (0 = no bound). */
static sw_rc allocate_until_failure(int64_t limit_mb, sw_trial_out_t *out, sw_err_t *err) {
  void  *chain = NULL; /* each chunk starts with a pointer to the previous one */
  size_t total_mb = 0;
  sw_rc  rc = SW_OK;
  while (limit_mb <= 0 || (int64_t)total_mb < limit_mb) {
    void *chunk = malloc(TEST_OOM_CHUNK);
    if (!chunk) {
      rc = sw_err_set(err, SW_ERR_NOMEM, "test workload: allocation failed after %zu MiB", total_mb);
      break;
    }
    memset(chunk, 0x5a, TEST_OOM_CHUNK);
    memcpy(chunk, &chain, sizeof chain);
    chain = chunk;
    total_mb += TEST_OOM_CHUNK >> 20;
  }
  while (chain) {
    void *prev;
    memcpy(&prev, chain, sizeof prev);
    free(chain);
    chain = prev;
  }
  if (!rc) sw_trial_out_metric(out, "allocated", (double)total_mb, "MiB");
  return rc;
}

/* Writes the pid to path.tmp and renames it, so a reader never sees a partial file. */
static void write_pid_file(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "%ld\n", (long)getpid());
  if (fclose(f) == 0) rename(tmp, path);
}

/* Counts the open descriptors in /proc/self/fd, not counting the one the listing itself uses. */
static sw_rc action_fds(sw_trial_out_t *out, sw_err_t *err) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return sw_err_set(err, SW_ERR_IO, "test workload: cannot list /proc/self/fd");
  int n = 0, max_fd = -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    if (fd == dirfd(d)) continue;
    n++;
    if (fd > max_fd) max_fd = fd;
  }
  closedir(d);
  sw_trial_out_metric(out, "open_fds", (double)n, "count");
  sw_trial_out_metric(out, "max_fd", (double)max_fd, "id");
  return SW_OK;
}

/* Leaves a grandchild behind (it writes its pid to pid_file, then sleeps up to 60 s) and returns at once. */
static sw_rc action_grandchild(const char *pid_file, sw_trial_out_t *out, sw_err_t *err) {
  if (!pid_file) return sw_err_set(err, SW_ERR_INVALID, "test workload: action grandchild needs pid_file");
  unlink(pid_file); /* a file left by an earlier trial must not end the wait below before the grandchild wrote */
  pid_t pid = fork();
  if (pid < 0) return sw_err_set(err, SW_ERR_CHILD, "test workload: fork failed");
  if (pid == 0) {
    write_pid_file(pid_file);
    sleep_ms_total(60000);
    _exit(0);
  }
  for (int i = 0; i < 2000 && access(pid_file, F_OK) != 0; i++) sleep_ms_total(1);
  sw_trial_out_metric(out, "grandchild_pid", (double)pid, "id");
  return SW_OK;
}

/* SW_TEST_SLOWDOWN: 1 when unset; an error names the variable when it is not a number in [1, 100]. */
static sw_rc slowdown_knob(double *factor, sw_err_t *err) {
  const char *v = getenv("SW_TEST_SLOWDOWN");
  char *end = NULL;
  *factor = 1;
  if (!v || !*v) return SW_OK;
  *factor = strtod(v, &end);
  if (*end != '\0' || !(*factor >= 1 && *factor <= 100))
    return sw_err_set(err, SW_ERR_INVALID, "test workload: SW_TEST_SLOWDOWN='%s' is not a number in [1, 100]", v);
  return SW_OK;
}

/* Sums n floats of buf, wrapping around len (so n may exceed len); seconds taken. */
static double timed_sum(const float *buf, size_t len, size_t n, volatile float *sink) {
  int64_t t0 = sw_now_ns();
  float acc[8] = {0};
  for (size_t done = 0; done < n;) {
    size_t chunk = n - done < len ? n - done : len;
    for (size_t i = 0; i + 8 <= chunk; i += 8)
      for (int k = 0; k < 8; k++) acc[k] += buf[i + k];
    done += chunk;
  }
  *sink = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
  return (double)(sw_now_ns() - t0) * 1e-9;
}

typedef struct stream_cfg {
  int64_t kib, warmup, reps;
  double  fraction, slowdown;
} stream_cfg_t;

static sw_rc stream_parse(const sw_json_t *config, stream_cfg_t *c, sw_err_t *err) {
  sw_rc rc;
  if ((rc = sw_key_int(TEST_KEYS, config, "stream_kib", &c->kib, err)) ||
      (rc = sw_key_int(TEST_KEYS, config, "warmup", &c->warmup, err)) ||
      (rc = sw_key_int(TEST_KEYS, config, "repetitions", &c->reps, err)) ||
      (rc = sw_key_num(TEST_KEYS, config, "fraction", &c->fraction, err)))
    return sw_err_prefix(err, "test workload");
  return slowdown_knob(&c->slowdown, err);
}

static void stream_samples(const stream_cfg_t *c, const float *buf, size_t len, sw_trial_out_t *out) {
  volatile float sink = 0;
  size_t n_sparse = (size_t)((double)len * c->fraction * c->slowdown);
  double *ratio = malloc((size_t)c->reps * sizeof *ratio);
  for (int64_t rep = -c->warmup; rep < c->reps; rep++) {
    double td = timed_sum(buf, len, len, &sink), ts = timed_sum(buf, len, n_sparse, &sink);
    if (rep < 0) continue;
    sw_trial_out_sample(out, "dense", (int)rep, td);
    sw_trial_out_sample(out, "sparse", (int)rep, ts);
    if (ratio) ratio[rep] = td / ts;
  }
  if (ratio) sw_trial_out_metric(out, "speedup", sw_median(ratio, (size_t)c->reps), "ratio");
  free(ratio);
}

static sw_rc action_stream(const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  stream_cfg_t c;
  sw_rc rc = stream_parse(config, &c, err);
  if (rc) return rc;
  size_t len = (size_t)c.kib * 1024 / sizeof(float);
  float *buf = malloc(len * sizeof *buf);
  if (!buf) return sw_err_set(err, SW_ERR_NOMEM, "test workload: cannot allocate %lld KiB", (long long)c.kib);
  for (size_t i = 0; i < len; i++) buf[i] = (float)(i % 7);
  sw_slot_t slot;
  if (!(rc = sw_slot_acquire(&slot, config, err))) {
    stream_samples(&c, buf, len, out);
    sw_slot_release(&slot, out);
  }
  sw_trial_out_metric(out, "slowdown_knob", c.slowdown, "ratio");
  free(buf);
  return rc;
}

sw_rc sw_trial_run_test(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  const char *action = NULL, *text = NULL, *pid_file = NULL;
  int64_t     sleep_ms = 0, exit_code = 1, oom_mb = 0;
  int         ignore_term = 0;
  sw_rc rc;
  if ((rc = sw_key_str(TEST_KEYS, config, "action", &action, err)) ||
      (rc = sw_key_str(TEST_KEYS, config, "stderr_text", &text, err)) ||
      (rc = sw_key_int(TEST_KEYS, config, "sleep_ms", &sleep_ms, err)) ||
      (rc = sw_key_int(TEST_KEYS, config, "exit_code", &exit_code, err)) ||
      (rc = sw_key_int(TEST_KEYS, config, "oom_mb", &oom_mb, err)) ||
      (rc = sw_key_bool(TEST_KEYS, config, "ignore_term", &ignore_term, err)))
    return sw_err_prefix(err, "test workload");
  if ((rc = sw_key_str(TEST_KEYS, config, "pid_file", &pid_file, err))) return sw_err_prefix(err, "test workload");
  if (strcmp(action, "grandchild") == 0) return action_grandchild(pid_file, out, err);
  if (pid_file) write_pid_file(pid_file);
  if (text) {
    fputs(text, stderr);
    fflush(stderr);
  }
  if (strcmp(action, "ok") == 0 || strcmp(action, "sleep") == 0) { /* both sleep sleep_ms (default 0) first */
    if (sleep_ms > 0) sleep_ms_total(sleep_ms);
    return action_ok(cache, config, out, err);
  }
  if (strcmp(action, "stream") == 0) { /* sleep_ms first too: untimed work outside the slot */
    if (sleep_ms > 0) sleep_ms_total(sleep_ms);
    return action_stream(config, out, err);
  }
  if (strcmp(action, "segv") == 0) crash_segv();
  if (strcmp(action, "abort") == 0) abort();
  if (strcmp(action, "exit") == 0) {
    fflush(NULL);
    _exit((int)exit_code); /* like a library calling exit(); _exit skips LeakSanitizer's exit-time scan */
  }
  if (strcmp(action, "hang") == 0) hang_forever(ignore_term);
  if (strcmp(action, "oom") == 0) return allocate_until_failure(oom_mb, out, err);
  if (strcmp(action, "fds") == 0) return action_fds(out, err);
  return sw_err_set(err, SW_ERR_INVALID, "test workload: unknown action '%s' "
                    "(expected ok|segv|abort|exit|hang|oom|sleep|stream|fds|grandchild)",
                    action);
}
