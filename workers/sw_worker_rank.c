/* sw_worker_rank: the worker-rank loop (hello, trial -> executor -> result, STOP) and the -np 1 local
 * backend.  Both drive the executor through its split submit/wait/interrupt form so that the rank can
 * react to rank 0 while a trial runs; neither ever busy-waits. */
#include "workers/sw_worker_rank.h"

#include <cblas.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sw_log.h"
#include "common/sw_time.h"
#include "workers/sw_counters.h"
#include "workers/sw_executor.h"

#define SW_WORKER_POLL_MIN_NS 50000LL   /* first idle sleep: 50 us */
#define SW_WORKER_POLL_MAX_NS 5000000LL /* idle sleep cap: 5 ms */
#define SW_WORKER_WAIT_MS 20            /* executor poll() slice while a trial runs */

struct sw_worker_local {
  sw_executor_t *ex;         /* owned executor (NULL if it could not start) */
  sw_err_t       start_err;  /* why ex is NULL */
  const char    *exe_path;   /* borrowed */
  char           host[256];  /* gethostname */
  sw_buf_t       info;       /* sw_worker_rank_env_info */
  uint64_t       slot;       /* running trial */
  uint32_t       attempt;
  int            busy;       /* a trial was submitted and not yet reported */
  sw_err_t       submit_err; /* submit failure, reported by the next wait as a failed trial */
  int            submit_failed;
};

static char *s_dup(const char *s) {
  size_t n = strlen(s ? s : "") + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s ? s : "", n);
  return d;
}

/* PAPI facts from workers/sw_counters ({"papi_version":..,"presets_available":[..],"components":[..],
 * "perf_event":..}), or null when they cannot be described. */
static void s_papi_info(sw_buf_t *b) {
  sw_buf_t papi = SW_BUF_INIT;
  sw_err_t err;
  sw_buf_puts(b, ",\"papi\":");
  sw_buf_puts(b, sw_counters_describe(&papi, &err) == SW_OK ? sw_buf_str(&papi) : "null");
  sw_buf_free(&papi);
}

void sw_worker_rank_env_info(sw_buf_t *dst) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  sw_buf_puts(dst, "{\"host\":");
  sw_buf_json_string(dst, host, strlen(host));
  const char *cfg = openblas_get_config(), *core = openblas_get_corename();
  if (cfg) {
    sw_buf_puts(dst, ",\"openblas_config\":");
    sw_buf_json_string(dst, cfg, strlen(cfg));
  }
  if (core) {
    sw_buf_puts(dst, ",\"openblas_corename\":");
    sw_buf_json_string(dst, core, strlen(core));
  }
  s_papi_info(dst);
  sw_buf_puts(dst, "}");
}

/* Wraps an executor outcome into a protocol result: the outcome's strings move into it (res is left empty). */
static void s_to_proto(sw_outcome_t *res, uint64_t slot, uint32_t attempt, const char *host, sw_proto_result_t *out) {
  memset(out, 0, sizeof *out);
  out->slot = slot;
  out->attempt = attempt;
  out->host = s_dup(host);
  out->outcome = *res;
  if (!out->outcome.stderr_tail) out->outcome.stderr_tail = s_dup(""); /* as a decoded message has it */
  memset(res, 0, sizeof *res);
}

/* A failed result for a trial the executor could not run at all. */
static void s_failed_proto(const char *cause, uint64_t slot, uint32_t attempt, const char *host,
                           sw_proto_result_t *out) {
  sw_outcome_t res;
  memset(&res, 0, sizeof res);
  res.status = SW_TRIAL_FAILED;
  res.exit_status = -1;
  res.infra = 1;
  sw_outcome_set_cause(&res, "infrastructure: executor unavailable: %s", cause);
  res.start_wall = res.end_wall = sw_wall_s();
  s_to_proto(&res, slot, attempt, host, out);
}

/* ---------------------------------------------------------------- local backend (-np 1) */

sw_rc sw_worker_local_new(sw_worker_local_t **out, const char *exe_path, sw_err_t *err) {
  *out = NULL;
  sw_worker_local_t *l = calloc(1, sizeof *l);
  if (!l) return sw_err_set(err, SW_ERR_NOMEM, "cannot allocate the local executor backend");
  l->exe_path = exe_path;
  gethostname(l->host, sizeof l->host - 1);
  sw_worker_rank_env_info(&l->info);
  sw_rc rc = sw_executor_start(&l->ex, exe_path, NULL, err);
  if (rc != SW_OK) {
    sw_buf_free(&l->info);
    free(l);
    return rc;
  }
  *out = l;
  return SW_OK;
}

void sw_worker_local_destroy(sw_worker_local_t **lp) {
  if (!lp || !*lp) return;
  sw_executor_stop((*lp)->ex);
  sw_buf_free(&(*lp)->info);
  free(*lp);
  *lp = NULL;
}

const char *sw_worker_local_host(const sw_worker_local_t *l) { return l->host; }
const char *sw_worker_local_info(const sw_worker_local_t *l) { return sw_buf_str(&l->info); }

sw_rc sw_worker_local_submit(void *ctx, const sw_proto_trial_t *trial, sw_err_t *err) {
  sw_worker_local_t *l = ctx;
  (void)err;
  l->slot = trial->slot;
  l->attempt = trial->attempt;
  l->busy = 1;
  l->submit_failed = sw_executor_submit(l->ex, trial->config_json, trial->timeout_s, &l->submit_err) != SW_OK;
  return SW_OK; /* a submit failure becomes a failed trial at the next wait */
}

sw_rc sw_worker_local_wait(void *ctx, int wait_ms, sw_proto_result_t *res, int *done, sw_err_t *err) {
  sw_worker_local_t *l = ctx;
  *done = 0;
  if (!l->busy) return SW_OK;
  if (l->submit_failed) {
    s_failed_proto(l->submit_err.msg, l->slot, l->attempt, l->host, res);
    l->busy = 0;
    *done = 1;
    return SW_OK;
  }
  sw_outcome_t tr;
  memset(&tr, 0, sizeof tr);
  sw_err_t e;
  sw_rc rc = sw_executor_wait(l->ex, wait_ms, &tr, &e);
  if (rc == SW_ERR_TIMEOUT) return SW_OK;
  if (rc != SW_OK) {
    s_failed_proto(e.msg, l->slot, l->attempt, l->host, res);
  } else {
    s_to_proto(&tr, l->slot, l->attempt, l->host, res);
  }
  sw_outcome_free(&tr);
  l->busy = 0;
  *done = 1;
  (void)err;
  return SW_OK;
}

sw_rc sw_worker_local_interrupt(void *ctx, sw_err_t *err) {
  sw_worker_local_t *l = ctx;
  if (!l->busy || l->submit_failed) return SW_OK;
  return sw_executor_interrupt(l->ex, err);
}

/* ---------------------------------------------------------------- MPI worker loop */

/* Sends the result to rank 0 and frees its strings. */
static sw_rc s_send_result(sw_proto_result_t *r, sw_err_t *err) {
  sw_buf_t b = SW_BUF_INIT;
  sw_proto_encode_result(&b, r);
  sw_rc rc = sw_proto_send(&b, 0, err);
  sw_buf_free(&b);
  sw_proto_result_free(r);
  return rc;
}

/* Tells rank 0 this rank still runs its trial, at most every SW_PROTO_ALIVE_PERIOD_S: rank 0 gives up on a rank
 * it has not heard from for --rank-silence seconds (a frozen or vanished process, orchestrator/sw_orch.c). */
static sw_rc s_alive(int64_t *next_ns, sw_err_t *err) {
  int64_t now = sw_now_ns();
  if (now < *next_ns) return SW_OK;
  *next_ns = now + (int64_t)(SW_PROTO_ALIVE_PERIOD_S * 1e9);
  sw_buf_t b = SW_BUF_INIT;
  sw_proto_encode_empty(&b, SW_PROTO_ALIVE);
  sw_rc rc = sw_proto_send(&b, 0, err);
  sw_buf_free(&b);
  return rc;
}

/* Runs one trial on the executor, watching for INTERRUPT/STOP from rank 0 between poll() slices.
 * *stop is set (with *exit_code) when STOP arrived meanwhile: the trial is interrupted, its result sent. */
static sw_rc s_run_trial(sw_worker_local_t *l, const sw_proto_trial_t *t, int *stop, int *exit_code, sw_err_t *err) {
  sw_proto_result_t r;
  int done = 0;
  int64_t next_alive = sw_now_ns() + (int64_t)(SW_PROTO_ALIVE_PERIOD_S * 1e9);
  sw_rc rc = sw_worker_local_submit(l, t, err);
  while (rc == SW_OK) {
    memset(&r, 0, sizeof r);
    rc = sw_worker_local_wait(l, SW_WORKER_WAIT_MS, &r, &done, err);
    if (rc != SW_OK || done) break;
    if (!*stop) rc = s_alive(&next_alive, err);
    if (rc != SW_OK) break;
    sw_proto_msg_t m;
    int got = 0;
    rc = sw_proto_try_recv(0, &m, &got, err);
    if (rc != SW_OK || !got) continue;
    if (m.kind == SW_PROTO_STOP) {
      *stop = 1;
      *exit_code = m.u.stop_exit_code;
    }
    if (m.kind == SW_PROTO_STOP || m.kind == SW_PROTO_INTERRUPT) rc = sw_worker_local_interrupt(l, err);
    sw_proto_msg_free(&m);
  }
  if (rc != SW_OK) return rc;
  if (*stop) { /* rank 0 is shutting down and will not receive this result: drop it */
    sw_proto_result_free(&r);
    return SW_OK;
  }
  return s_send_result(&r, err);
}

static sw_rc s_hello(sw_worker_local_t *l, int rank, sw_err_t *err) {
  sw_proto_hello_t h = {rank, l->host, (char *)sw_buf_str(&l->info)};
  sw_buf_t b = SW_BUF_INIT;
  sw_proto_encode_hello(&b, &h);
  sw_rc rc = sw_proto_send(&b, 0, err);
  sw_buf_free(&b);
  return rc;
}

/* Builds the local wrapper; an executor that cannot start is remembered, and each trial is then
 * reported as failed with that cause (rank 0's circuit breaker decides when to give up). */
static sw_worker_local_t *s_worker_new(const char *exe_path, sw_err_t *err) {
  sw_worker_local_t *l = calloc(1, sizeof *l);
  if (!l) {
    sw_err_set(err, SW_ERR_NOMEM, "cannot allocate the worker state");
    return NULL;
  }
  /* Fault injection for tests (tests/mpi/blackhole.sh): SW_FAULT_EXECUTOR_PATH names the executor binary
   * instead of this one, e.g. a path that does not exist, as when the binary is deleted during a sweep. */
  const char *fault_path = getenv("SW_FAULT_EXECUTOR_PATH");
  l->exe_path = fault_path && *fault_path ? fault_path : exe_path;
  gethostname(l->host, sizeof l->host - 1);
  sw_worker_rank_env_info(&l->info);
  if (sw_executor_start(&l->ex, l->exe_path, NULL, &l->start_err) != SW_OK) l->ex = NULL;
  return l;
}

sw_rc sw_worker_rank_loop(int rank, const char *exe_path, int *exit_code, sw_err_t *err) {
  sw_log_t log;
  char prefix[48];
  snprintf(prefix, sizeof prefix, "sparsweep[rank %d]", rank);
  sw_log_init(&log, prefix, SW_LOG_WARN);
  *exit_code = 1;
  sw_rc rc = sw_proto_signals_install(err);
  if (rc != SW_OK) return rc;
  /* mpirun and srun deliver SIGUSR1 (the walltime warning) to every process of the job, including the
   * executor and its trial children, whose default action would be to die.  The worker does not need
   * it (rank 0 decides about draining), and an ignored disposition survives exec, so the executor and
   * the trials it forks (also after a restart) ignore it too. */
  signal(SIGUSR1, SIG_IGN);
  sw_worker_local_t *l = s_worker_new(exe_path, err);
  if (!l) return SW_ERR_NOMEM;
  if (!l->ex) sw_log(&log, SW_LOG_ERROR, "cannot start the executor: %s", l->start_err.msg);
  rc = s_hello(l, rank, err);
  sw_proto_backoff_t bo;
  sw_proto_backoff_init(&bo, SW_WORKER_POLL_MIN_NS, SW_WORKER_POLL_MAX_NS);
  int stop = 0;
  while (rc == SW_OK && !stop) {
    sw_proto_msg_t m;
    int got = 0;
    rc = sw_proto_try_recv(0, &m, &got, err);
    if (rc != SW_OK) break;
    if (!got) {
      sw_proto_backoff_sleep(&bo);
      continue;
    }
    sw_proto_backoff_reset(&bo);
    if (m.kind == SW_PROTO_STOP) {
      stop = 1;
      *exit_code = m.u.stop_exit_code;
    } else if (m.kind == SW_PROTO_TRIAL && !l->ex) {
      sw_proto_result_t r;
      s_failed_proto(l->start_err.msg, m.u.trial.slot, m.u.trial.attempt, l->host, &r);
      rc = s_send_result(&r, err);
    } else if (m.kind == SW_PROTO_TRIAL) {
      rc = s_run_trial(l, &m.u.trial, &stop, exit_code, err);
    } /* INTERRUPT while idle: the trial already finished; nothing to do */
    sw_proto_msg_free(&m);
  }
  sw_worker_local_destroy(&l);
  return rc;
}
