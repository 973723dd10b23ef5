/* sw_executor: crash-isolated trial execution for a worker rank.  fork() inside an MPI process is unsafe on
 * InfiniBand clusters, so the rank posix_spawns a NON-MPI executor process (`sparsweep executor --fd N`,
 * the same binary) connected by a Unix socket pair.  The executor keeps the expensive state
 * (sw_trial_cache_t) and forks one child per trial; the child runs the workload with its stdout/stderr
 * captured, under RLIMIT_AS / no core dumps, in its own process group; on timeout the group gets SIGTERM,
 * then SIGKILL after a grace period.  The rank restarts the executor automatically if it died. */
#ifndef SW_EXECUTOR_H
#define SW_EXECUTOR_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/sw_err.h"
#include "common/sw_outcome.h"
#include "common/sw_status.h"
#include "workers/sw_trial.h"

/* A trial attempt's outcome is sw_outcome_t (common/sw_outcome.h): the same type travels to rank 0 in the MPI
 * message (proto/sw_proto.h) and into the store (results/sw_store.h). */

typedef struct sw_executor sw_executor_t;

/* Tunables; zero fields mean "default".  Per-trial overrides come from the trial config keys
 * "grace_s" and "mem_limit_mb" when present. */
typedef struct sw_executor_opts {
  double   grace_s;          /* SIGTERM -> SIGKILL grace period; default 2 s */
  uint64_t mem_limit_bytes;  /* RLIMIT_AS headroom over the executor's own address space for each child;
                                default 80% of physical RAM; UINT64_MAX = no limit */
  double   start_timeout_s;  /* how long to wait for a freshly spawned executor's hello; default 60 s */
  double   watchdog_slack_s; /* the workload's prepare step (untimed work a trial shares with the next ones:
                                loading, calibration) and then the trial each get timeout + grace + this; past
                                either, the executor itself is stuck: it is killed, the trial recorded as
                                TIMEOUT and the executor restarted; default 30 s */
} sw_executor_opts_t;

/* Spawns the executor: exe_path is a sparsweep binary (NULL = /proc/self/exe).  opts may be NULL.
 * Safe to call from an MPI process (posix_spawn + exec, no fork of the MPI process).  The caller frees
 * with sw_executor_stop(). */
sw_rc sw_executor_start(sw_executor_t **ex, const char *exe_path, const sw_executor_opts_t *opts, sw_err_t *err);

/* Runs one trial and blocks (poll(), no busy wait) until it finished, timed out (timeout_s > 0; 0 = none)
 * or was interrupted.  Restarts the executor first if it died.  Returns SW_OK whenever *res describes the
 * trial (including failed/timeout trials, and a trial whose executor died under it: FAILED with cause
 * "executor died ..."); an error only when the executor cannot be (re)started or talked to.  res must be
 * zeroed or previously freed; the caller frees it with sw_outcome_free(). */
sw_rc sw_executor_run(sw_executor_t *ex, const char *config_json, double timeout_s, sw_outcome_t *res,
                      sw_err_t *err);

/* Split form of sw_executor_run for a worker that must watch MPI while a trial runs:
 * submit starts the trial and returns at once; wait blocks up to wait_ms (-1 = forever) and returns
 * SW_OK with *res filled when the trial is done, SW_ERR_TIMEOUT when it is still running (res untouched);
 * any other error from wait means the trial has no result (the executor is dropped and restarted by the
 * next submit); interrupt asks the executor to stop the running trial (drain): the next wait reports
 * INTERRUPTED (or the trial's real outcome if it finished first). */
sw_rc sw_executor_submit(sw_executor_t *ex, const char *config_json, double timeout_s, sw_err_t *err);
sw_rc sw_executor_wait(sw_executor_t *ex, int wait_ms, sw_outcome_t *res, sw_err_t *err);
sw_rc sw_executor_interrupt(sw_executor_t *ex, sw_err_t *err);

/* Process id of the current executor process (0 when none is running): for tests and logs. */
pid_t sw_executor_pid(const sw_executor_t *ex);
/* Number of times the executor has been (re)started (1 after a successful start). */
int sw_executor_starts(const sw_executor_t *ex);

/* Asks the executor to exit, waits for it (killing it after a few seconds), frees ex.  NULL is a no-op. */
void sw_executor_stop(sw_executor_t *ex);

/* The executor process side: serves requests on socket fd until the peer closes it or sends quit.
 * Called by `sparsweep executor --fd N`; sets the process to ignore SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2/SIGPIPE
 * (its lifetime follows the socket; trial children get default dispositions back).  A trial child killed by
 * SIGTERM/SIGINT/SIGHUP that the executor did not send is reported INTERRUPTED (a scheduler stopping the job).
 * Returns SW_OK on an orderly end. */
sw_rc sw_executor_serve(int fd, sw_err_t *err);

/* Runs one trial in a forked child of the calling process (no executor process, no cache reuse), with the
 * same isolation and classification as the executor.  For `sparsweep executor --trial JSON` and tests;
 * not for MPI processes. */
sw_rc sw_trial_run_isolated(sw_trial_cache_t *cache, const char *config_json, double timeout_s,
                            const sw_executor_opts_t *opts, sw_outcome_t *res, sw_err_t *err);

#endif
