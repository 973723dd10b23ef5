/* sw_orch: the rank-0 scheduler of `sparsweep run`.  It loads and expands the experiment, opens the
 * results database (the only writer), hands trials to workers as they become free and records every outcome.
 * Waiting never spins: MPI_Iprobe + nanosleep back-off; its own CPU time is measured and reported. */

/* In detail: it checks the database can be written before any trial runs, skips trials that already have a
 * final result (resume), dispatches dynamically (one trial at a time per free worker), retries failed
 * attempts, trips a circuit breaker after --max-failures, drains on SIGTERM/SIGUSR1 or a drain file, and
 * publishes live events.  With one rank, trials run through a local backend (the same executor a worker
 * rank uses). */
#ifndef SW_ORCH_H
#define SW_ORCH_H
#include <stdint.h>

#include "common/sw_err.h"
#include "proto/sw_proto.h"
#include "orchestrator/sw_provenance.h"

/* Trial execution on rank 0 itself (-np 1), implemented by workers/sw_worker_rank.c. */
typedef struct sw_orch_local {
  void *ctx; /* the backend's state, passed to every call */
  /* Starts a trial and returns at once. */
  sw_rc (*submit)(void *ctx, const sw_proto_trial_t *trial, sw_err_t *err);
  /* Waits up to wait_ms for the running trial; when finished sets *done = 1 and fills *res (owned by
   * the caller: sw_proto_msg-style strings freed with free()).  */
  sw_rc (*wait)(void *ctx, int wait_ms, sw_proto_result_t *res, int *done, sw_err_t *err);
  /* Asks the running trial to stop; the next wait reports it (usually interrupted). */
  sw_rc (*interrupt)(void *ctx, sw_err_t *err);
  const char *host;      /* host name */
  const char *info_json; /* library facts for provenance (sw_worker_rank_env_info) */
} sw_orch_local_t;

/* Which trials a rerun skips (resume). */
typedef enum sw_orch_resume {
  SW_ORCH_RESUME_FINAL = 0,  /* default: skip trials recorded ok, failed or timeout; rerun the rest */
  SW_ORCH_RESUME_OK = 1,     /* --rerun-failed: skip only trials recorded ok */
  SW_ORCH_RESUME_NONE = 2    /* --force: run everything again */
} sw_orch_resume;

typedef struct sw_orch_opts {
  const char     *exp_path;        /* experiment file */
  const char     *db_path;         /* results database */
  const char     *events_endpoint; /* zmq endpoint, NULL or "" = no events */
  int             events_required; /* 1: a bind failure is an error; 0: a warning and no events */
  sw_orch_resume  resume;          /* which recorded trials to skip */
  int             dry_run;         /* 1: print the plan (what would run / be skipped), write nothing */
  int             wait_for_db;     /* 1 (--wait): when another live run holds the database, wait for it instead of
                                      refusing with exit 2 (orchestrator/sw_runlock.h) */
  int             max_failures;    /* circuit breaker: stop dispatching after this many failed trials (0 = off) */
  int             retries;         /* retries after a failed/timeout attempt; -1 = the experiment's value */
  int             quarantine_after;/* infrastructure failures in a row (executor cannot start or fork, worker I/O
                                      error) after which a rank gets no more trials (default 3; 0 = never, and
                                      such failures are then recorded as failed attempts of their trials) */
  double          drain_grace_s;   /* after a drain request, seconds to let running trials finish before
                                      interrupting them (default 60; 0 = interrupt at once) */
  double          rank_silence_s;  /* a busy worker rank not heard from this long (it says ALIVE every
                                      SW_PROTO_ALIVE_PERIOD_S) is given up: frozen (SIGSTOP, a hung node) or
                                      gone; its trial is requeued, the rank gets nothing more and the job ends
                                      with MPI_Abort (default 60; 0 = never) */
  const char     *drain_file;      /* NULL or a path: its appearance requests a drain (batch-script trap) */
  const char     *snapshot_path;   /* NULL or a path (e.g. on shared storage): a consistent copy of the
                                      database is written there (VACUUM INTO a temporary file, then rename)
                                      at the end of the run, after a drain, and every snapshot_every_s */
  double          snapshot_every_s;/* period of snapshots during the run, s (0 = only at the end) */
  int             batch_trials;    /* store commit batch (0 = store default) */
  int             verbose;         /* 1: one line per finished trial on stderr */
  struct sw_progress *progress;    /* NULL or the progress line fed every event (orchestrator/sw_progress.h) */
  sw_build_info_t build;           /* provenance of the binary */
  int             argc;            /* command line, recorded in the run */
  char          **argv;
} sw_orch_opts_t;

/* Fills the defaults (events off, resume final, no breaker, experiment retries, 60 s grace). */
void sw_orch_opts_default(sw_orch_opts_t *opts);

/* What a run did. */
typedef struct sw_orch_summary {
  int64_t total;        /* trials in the grid */
  int64_t skipped;      /* skipped as already recorded */
  int64_t ok;           /* trials ok in this invocation */
  int64_t failed;       /* trials failed after their last attempt (timeouts not included) */
  int64_t timeout;      /* trials that timed out on their last attempt */
  int64_t interrupted;  /* trials interrupted by a drain or an unresponsive rank */
  int64_t attempts;     /* trial attempts recorded (>= ok + failed + interrupted when retrying) */
  int64_t not_run;      /* trials without a final result (sw_attempt_is_final): what a resume will run */
  int     counts_from_db; /* 1: ok..not_run were counted back from the database after the last commit
                             (sw_store_tally_run in results/sw_store.h); 0: this process's own counts (the
                             database could not be read), which may include results a failed commit lost */
  int64_t run_id;       /* runs.run_id, 0 for a dry run */
  double  wall_s;       /* wall time of the dispatch loop, s */
  double  cpu_s;        /* rank 0 user+system CPU time during the loop, s (getrusage, all threads) */
  int     drained;      /* 1 when a signal or the drain file stopped dispatching */
  int     drain_signal; /* the signal number, 0 for the drain file */
  int     tripped;      /* 1 when the circuit breaker stopped dispatching */
  int     quarantined;  /* worker ranks quarantined for repeated infrastructure failures */
  int     all_quarantined; /* 1 when every rank was quarantined (dispatch stopped, exit 1) */
  int64_t requeued;     /* trials handed back by an infrastructure failure and requeued (not attempts) */
  double  db_wait_s;    /* seconds the sweep waited for a database locked by another process */
  int     unresponsive; /* worker ranks that did not answer by the drain deadline: their trials were recorded
                           'interrupted'; the caller must end the job with MPI_Abort (MPI_Finalize would wait
                           for them forever) */
  int     snapshots;    /* snapshots written */
  int     exit_code;    /* 0 done or drained, 1 circuit breaker or a database failure, 2 bad input/DB path */
} sw_orch_summary_t;

/* Runs the sweep on rank 0.  world_size is the MPI world size (1 = no worker ranks: local must be
 * non-NULL; > 1: MPI must be initialised and ranks 1.. run sw_worker_rank_loop).  Every worker rank is
 * sent STOP with the exit code before this returns, also on errors.  Returns SW_OK when the sweep ran
 * (sum->exit_code says how it ended) or the error that stopped it before/while running (err has the
 * message; sum->exit_code is 2 for input/database-path errors, 1 otherwise). */
sw_rc sw_orch_run(const sw_orch_opts_t *opts, int world_size, const sw_orch_local_t *local, sw_orch_summary_t *sum,
                  sw_err_t *err);

#endif
