/* sw_store: the SQLite results database (schema in results/schema.sql, documented in results/SCHEMA.md).
 * Rank 0 is the only writer: one sw_store_t per process, one connection, WAL + synchronous=NORMAL, so
 * readers (reports, the sqlite3 shell, pandas) can read while a sweep writes.  Trials are buffered in one
 * open write transaction and committed every N trials / T seconds and on flush/close: a killed process
 * loses at most the uncommitted batch and never corrupts the file (SQLite's WAL guarantees atomic commits). */
#ifndef SW_STORE_H
#define SW_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "common/sw_outcome.h"
#include "common/sw_status.h"


/* Schema version written to PRAGMA user_version; opening a file with a larger value fails. */
#define SW_STORE_SCHEMA_VERSION 3
/* PRAGMA application_id of sparsweep databases ("SWSP" in ASCII). */
#define SW_STORE_APPLICATION_ID 0x53575350

/* Trial status (common/sw_status.h) is stored as text in trials.status. */

/* Status names (trials.status) are sw_trial_status_name / sw_trial_status_parse of common/sw_outcome.h. */

/* Open options.  sw_store_opts_default() fills the defaults noted per field. */
typedef struct sw_store_opts {
  int    batch_trials;    /* commit after this many buffered trials (default 64; 1 = every trial) */
  double batch_seconds;   /* commit when the oldest buffered trial is older than this, s (default 2.0) */
  int    busy_timeout_ms; /* sqlite3_busy_timeout, ms (default 5000) */
  int    sync_full;       /* 1: PRAGMA synchronous=FULL (durable across power loss); 0: NORMAL (default) */
  int    read_only;       /* 1: open an existing database read-only (no migration, no writes) */
  int    exclusive;       /* 1: PRAGMA locking_mode=EXCLUSIVE, so WAL keeps its index in heap memory instead of
                             the -shm file (sqlite.org wal.html, "WAL without shared memory"); no other process
                             can read until close.  Default 0; forced on when the path is on a network file system */
} sw_store_opts_t;

/* Fills opts with the defaults: batches of 64 trials or 2 s, busy timeout 5 s, synchronous=NORMAL,
 * read-write, not exclusive. */
void sw_store_opts_default(sw_store_opts_t *opts);

/* Provenance of one run (one `sparsweep run` invocation), filled by the orchestrator.  All strings are
 * borrowed for the duration of sw_store_run_begin(); NULL stores SQL NULL.  JSON fields must be valid JSON. */
typedef struct sw_provenance {
  const char *uuid;             /* run UUID; NULL = generate a random (v4) one */
  double      started_s;        /* wall time, s since the Unix epoch; 0 = now */
  const char *spec_name;        /* experiment name or file name */
  const char *spec_text;        /* full experiment file text as read */
  const char *spec_hash;        /* SHA-256 hex of spec_text; NULL = computed here */
  const char *sw_version;       /* sparsweep version (SW_VERSION) */
  const char *git_commit;       /* SW_GIT_COMMIT */
  int         git_dirty;        /* SW_GIT_DIRTY: 1 when built from a modified tree, 0 clean, -1 unknown */
  const char *hosts_json;       /* JSON array of host names taking part, e.g. ["n1","n2"] */
  int         n_ranks;          /* MPI world size */
  const char *cpu_model;        /* "AMD EPYC ..." (/proc/cpuinfo model name) */
  const char *cpu_id;           /* vendor, family/model/stepping and ISA flags (sw_host_info_t.cpu_id) */
  int         cores;            /* online logical CPUs on rank 0's host */
  int64_t     mem_bytes;        /* MemTotal of rank 0's host, bytes; 0 = unknown */
  const char *compiler;         /* SW_COMPILER, e.g. "GNU-12.2.0" */
  const char *cflags;           /* SW_C_FLAGS */
  const char *kernel_cflags;    /* SW_KERNEL_C_FLAGS: what the kernels were really compiled with */
  const char *openblas_version; /* openblas_get_config() */
  const char *openblas_core;    /* openblas_get_corename() */
  const char *mpi_version;      /* MPI_Get_library_version() (first line) */
  const char *papi_version;     /* "7.0.0.0" */
  const char *papi_presets_json;/* JSON array of available preset names, e.g. ["PAPI_TOT_CYC"] or [] */
  const char *env_json;         /* JSON object of relevant environment variables (sw_store_env_json()) */
  const char *fingerprint;      /* machine fingerprint; NULL = sw_machine_fingerprint() of this struct */
  const char *command_line;     /* argv joined by spaces */
} sw_provenance_t;

/* Host facts read from /proc (Linux) for filling sw_provenance_t; missing facts stay "" / 0. */
typedef struct sw_host_info {
  char    hostname[256];   /* gethostname() */
  char    cpu_model[256];  /* first "model name" of /proc/cpuinfo */
  char    cpu_id[256];     /* sw_cpu_id_read of /proc/cpuinfo */
  int     cores;           /* sysconf(_SC_NPROCESSORS_ONLN) */
  int64_t mem_bytes;       /* MemTotal of /proc/meminfo, bytes */
} sw_host_info_t;

/* Fills info from /proc and libc.  Never fails: unknown facts are left empty/zero. */
void sw_host_info_read(sw_host_info_t *info);

/* Identifies the CPU generation from a /proc/cpuinfo-format file (its first processor): on x86
 * "x86 vendor=AuthenticAMD family=25 model=1 stepping=1 isa=avx2", on aarch64 "arm implementer=0x41
 * part=0xd0c variant=0x3 revision=1 isa=asimd,sve".  isa lists only the flags that decide which kernels can
 * run (avx2, avx512f, avx512_bf16, amx_tile; asimd, sve).  A missing or unreadable file leaves out "". */
void sw_cpu_id_read(const char *cpuinfo_path, char *out, size_t n);

/* Appends a JSON object of the environment variables that change results (OPENBLAS_*, OMP_*, GOMP_*, SPARSWEEP_*,
 * OMPI_MCA_*, PAPI_*, SW_*, SLURM_JOB_ID/SLURM_ARRAY_*, LD_PRELOAD, ...), keys sorted, to dst. */
void sw_store_env_json(sw_buf_t *dst);

/* A stable machine fingerprint: the first 16 hex digits of SHA-256 over bucketed stable fields only
 * (CPU model name, CPU id = vendor/family/model/stepping/ISA flags, logical core count, memory rounded up to
 * an even number of GiB, OpenBLAS core name): two CPU generations sold under one name differ, and it
 * does not drift between reboots (unlike clocks or bogomips).  Writes 16 hex digits + NUL into out[17]. */
void sw_machine_fingerprint(const sw_provenance_t *prov, char out[17]);

/* Result of a file-system check of a database path. */
typedef struct sw_fs_check {
  int  network;     /* 1 when the path is on NFS/Lustre/GPFS/CIFS/... where SQLite locking is unreliable */
  char fs_name[32]; /* "nfs", "lustre", "gpfs", "cifs", ..., or "local" */
} sw_fs_check_t;

/* statfs() of the path's directory, classified by f_type magic (linux/magic.h and the vendors' headers).
 * SW_ERR_IO (message names the directory) when statfs fails. */
sw_rc sw_fs_check_path(const char *path, sw_fs_check_t *out, sw_err_t *err);
/* Classifies a statfs f_type magic number (exposed for tests). */
void sw_fs_classify(uint64_t f_type, sw_fs_check_t *out);

typedef struct sw_store sw_store_t;

/* Opens (creating if needed) the database at path and checks, before returning, that it can be written:
 * a missing or unwritable directory, a directory in place of the file, a read-only file, a non-SQLite file,
 * a non-sparsweep database or a newer schema version ("schema version 7 is newer than this sparsweep's 1")
 * each give an error naming the path.  Applies WAL, synchronous, busy_timeout, and migrates older schemas.
 * opts may be NULL (defaults).  On success *out is the store; on failure *out is NULL and nothing to free. */
sw_rc sw_store_open(sw_store_t **out, const char *path, const sw_store_opts_t *opts, sw_err_t *err);

/* Flushes buffered trials, closes, frees and sets *stp to NULL.  NULL-safe and idempotent.  Returns the
 * flush error (message names the path); the store is closed either way. */
sw_rc sw_store_close(sw_store_t **stp, sw_err_t *err);

/* Changes the busy timeout of the open connection (ms): how long a write waits for another process's write
 * lock before giving up.  Every write that gives up because of such a lock returns SW_ERR_TIMEOUT (not
 * SW_ERR_DB) with nothing lost: buffered trials stay in the open batch, an unrecorded trial can be offered
 * again (orchestrator/sw_orch.c retries with back-off). */
void sw_store_set_busy_timeout(sw_store_t *st, int ms);

/* Non-NULL (borrowed) when the database is on a network file system: a ready-to-print warning naming the
 * path and file system.  NULL on local disks. */
const char *sw_store_fs_warning(const sw_store_t *st);

/* The run summary as the database holds it: after the last commit rank 0 counts, for run_id, each trial's
 * last attempt by status, the attempts, and which of the planned config hashes (the trials this invocation
 * had to run) have no final result, so a summary never claims results a failed commit lost.  SW_ERR_DB
 * naming the database when a query fails (then *out is zeroed). */
typedef struct sw_store_tally {
  int64_t ok;          /* trials whose last attempt in the run is ok */
  int64_t failed;      /* ... failed (crash, exit status, workload error, out of memory) */
  int64_t timeout;     /* ... timeout */
  int64_t interrupted; /* ... interrupted (a drain, or a rank that stopped answering) */
  int64_t attempts;    /* trial rows of the run */
  int64_t not_run;     /* planned trials without an ok/failed/timeout row in the run: a resume runs them */
} sw_store_tally_t;
sw_rc sw_store_tally_run(sw_store_t *st, int64_t run_id, const char *const *planned, size_t n_planned,
                         sw_store_tally_t *out, sw_err_t *err);

/* Path as given to sw_store_open (borrowed). */
const char *sw_store_path(const sw_store_t *st);

/* Commits the batch, then writes a consistent copy of the database to path: VACUUM INTO a temporary file
 * "<path>.tmp-<pid>" beside it, then rename(), so readers of path never see a partial file.  SW_ERR_IO
 * naming the file on failure (the temporary file is removed; rows already committed stay). */
sw_rc sw_store_snapshot(sw_store_t *st, const char *path, sw_err_t *err);

/* Called once per run still marked 'running' (not imported), in run_id order: env is the run's env JSON text
 * (may be NULL), last_s its last trial's end (its start when it has no trial).  The callback must not write
 * to the store (collect, then call sw_store_run_end after the iteration).  A non-SW_OK return stops it. */
typedef sw_rc (*sw_store_run_fn)(void *ctx, int64_t run_id, const char *env, double last_s, sw_err_t *err);
/* Iterates the running runs of st.  SW_ERR_IO naming the database on SQL errors. */
sw_rc sw_store_each_running_run(sw_store_t *st, sw_store_run_fn fn, void *ctx, sw_err_t *err);

/* Inserts a runs row (status "running") and commits it immediately, so a crash keeps the provenance.
 * *run_id receives runs.run_id. */
sw_rc sw_store_run_begin(sw_store_t *st, const sw_provenance_t *prov, int64_t *run_id, sw_err_t *err);

/* Flushes buffered trials, then sets runs.status ("done", "drained", "failed", ...) and ended_s (0 = now)
 * for run_id and commits. */
sw_rc sw_store_run_end(sw_store_t *st, int64_t run_id, const char *status, double ended_s, sw_err_t *err);

/* One finished trial as handed over by the orchestrator: where and which attempt it ran, and its outcome (the
 * one trial-outcome type, common/sw_outcome.h, as the executor produced it and the MPI message carried it).
 * Borrowed for the call; NULL strings = SQL NULL. */
typedef struct sw_trial_record {
  int64_t             run_id;      /* from sw_store_run_begin */
  const char         *config_hash; /* canonical config SHA-256 hex (required) */
  const char         *config_json; /* canonical config JSON (required) */
  int                 attempt;     /* 1 for the first try, 2 for the first retry, ... */
  int                 rank;        /* MPI rank that ran it (0 with -np 1) */
  const char         *host;        /* host name of that rank */
  double              duration_s;  /* monotonic duration, s; < 0 = outcome->end_wall - outcome->start_wall */
  const sw_outcome_t *outcome;     /* required: status, start/end wall times (started_s, ended_s), signal (0 =
                                      none), exit status (-1 = none), stderr tail, cause (stored as message; "" =
                                      NULL) and result_json {"v":1,"metrics":[..],"samples":[..],"counters":[..]}
                                      (NULL for failed trials; parsed with SQLite JSON1 into metrics/samples/
                                      counters) */
} sw_trial_record_t;

/* Records one trial and its result rows in the current batch (one SAVEPOINT: either the trial and all its
 * rows go in, or nothing does).  Commits when the batch reaches opts.batch_trials or opts.batch_seconds.
 * A malformed result_json gives SW_ERR_PARSE naming the config hash and nothing is recorded (the caller may
 * record the trial again as failed with the message).  trial_id may be NULL. */
sw_rc sw_store_add_trial(sw_store_t *st, const sw_trial_record_t *t, int64_t *trial_id, sw_err_t *err);

/* Commits the batch now (call before each dispatch round / on drain).  No-op when nothing is buffered.
 * A failed commit (disk full, I/O error) returns SW_ERR_DB naming the path; rows committed earlier stay. */
sw_rc sw_store_flush(sw_store_t *st, sw_err_t *err);

/* Commits when the buffered batch is older than opts.batch_seconds (call from the orchestrator's loop). */
sw_rc sw_store_tick(sw_store_t *st, sw_err_t *err);

/* Number of trials buffered and not yet committed. */
size_t sw_store_pending(const sw_store_t *st);

/* Trials that were recorded in a batch and then lost because SQLite rolled the batch back after a failed write
 * (any write: a trial, the run lock's heartbeat, a rank event).  They are not in the database; a caller that
 * counted them as done must stop and have them re-run (sparsweep run --resume). */
size_t sw_store_lost_trials(const sw_store_t *st);

/* A sorted set of config hashes (strings owned by the set). */
typedef struct sw_hash_set {
  char  **items; /* items[count], sorted by strcmp, unique */
  size_t  count;
} sw_hash_set_t;

/* 1 when hash is in the set (binary search). */
int  sw_hash_set_contains(const sw_hash_set_t *set, const char *hash);
/* Frees the items; the set becomes empty.  Idempotent. */
void sw_hash_set_free(sw_hash_set_t *set);

/* Resume: config hashes with at least one "ok" trial in any run of this database (buffered trials
 * included).  out must be empty/zeroed; caller frees with sw_hash_set_free. */
sw_rc sw_store_ok_hashes(sw_store_t *st, sw_hash_set_t *out, sw_err_t *err);

/* Each configuration's attempt history, for resume decisions: its latest attempt (highest attempt number) and
 * the run of failed/timeout attempts that ends there (an ok, interrupted or skipped attempt ends a run). */
typedef struct sw_attempt_summary {
  char           *hash;
  int             max_attempt;       /* highest attempt number recorded */
  sw_trial_status latest;            /* status of that attempt */
  int             trailing_failures; /* consecutive failed/timeout attempts ending with the latest */
} sw_attempt_summary_t;

typedef struct sw_attempt_index {
  sw_attempt_summary_t *items; /* sorted by hash (strcmp) */
  size_t                count;
} sw_attempt_index_t;

/* run_id 0: every run's rows; else that run's only. */
sw_rc sw_store_attempt_index(sw_store_t *st, int64_t run_id, sw_attempt_index_t *out, sw_err_t *err);
/* The configuration's summary, or NULL when it has no recorded attempt. */
const sw_attempt_summary_t *sw_attempt_find(const sw_attempt_index_t *ix, const char *hash);
void                        sw_attempt_index_free(sw_attempt_index_t *ix);
/* 1 when the configuration has a final result for a sweep allowing `retries` retries per trial: its latest
 * attempt is ok, or it is failed/timeout at the end of retries + 1 consecutive failures.  An interrupted
 * latest attempt, or a failure whose retries a killed or drained sweep never ran, is not final. */
int sw_attempt_is_final(const sw_attempt_summary_t *a, int retries);

/* Like sw_store_ok_hashes for any set of statuses: status_mask has bit (1u << status) per wanted status. */
sw_rc sw_store_hashes_with_status(sw_store_t *st, unsigned status_mask, sw_hash_set_t *out, sw_err_t *err);

/* Highest attempt recorded for config_hash in any run (0 when never recorded), for numbering retries. */
sw_rc sw_store_max_attempt(sw_store_t *st, const char *config_hash, int *out, sw_err_t *err);

/* Merge policy for sw_store_merge. */
typedef struct sw_merge_opts {
  int keep_repeats; /* 0 (default): an "ok" trial whose config hash already has an "ok" trial in the output
                       is skipped; 1: keep ok repeats from different runs (exact duplicates are always skipped) */
} sw_merge_opts_t;

/* Counts reported by sw_store_merge for one input. */
typedef struct sw_merge_stats {
  int64_t runs_added;      /* runs rows copied (runs already present, by uuid, are not copied again) */
  int64_t trials_added;    /* trials copied with their metrics/samples/counters */
  int64_t trials_skipped;  /* exact duplicates (same run uuid, config hash, attempt) + ok repeats */
} sw_merge_stats_t;

/* Copies runs and trials of the database at in_path into st in one transaction (all or nothing), keeping
 * each run's provenance (runs.imported_from records in_path).  The input is opened read-only and its
 * schema version checked (newer than ours fails naming both versions).  Idempotent: merging the same input
 * twice adds nothing.  stats may be NULL. */
sw_rc sw_store_merge(sw_store_t *st, const char *in_path, const sw_merge_opts_t *opts, sw_merge_stats_t *stats,
                     sw_err_t *err);

/* Runs PRAGMA integrity_check; SW_ERR_DB with the first problem when it is not "ok". */
sw_rc sw_store_integrity_check(sw_store_t *st, sw_err_t *err);

/* ---- one writer per database (table run_lock) and rank events (table rank_events) ---------------- */

/* The holder of a database's run lock. */
typedef struct sw_store_lock {
  int64_t run_id;        /* runs.run_id once known, 0 before sw_store_run_begin */
  char    host[256];     /* rank 0's host name */
  int64_t pid;           /* rank 0's process id */
  char    pid_start[32]; /* its start time (/proc/<pid>/stat field 22), "" when unknown */
  double  acquired_s;    /* when the lock was taken, s since the epoch */
  double  heartbeat_s;   /* last refresh, s since the epoch */
  double  stale_after_s; /* a holder on another host whose heartbeat is older than this is presumed dead */
} sw_store_lock_t;

/* Decides whether the recorded holder still runs (1) or is gone (0); ctx is passed through. */
typedef int (*sw_store_lock_alive_fn)(const sw_store_lock_t *holder, void *ctx);

/* In one write transaction: reads the lock row; when a holder is recorded and alive(holder) says it runs,
 * *acquired = 0 and *holder receives it; otherwise writes me (acquired_s, heartbeat_s = now) and
 * *acquired = 1.  No batch may be open.  SW_ERR_DB naming the path on SQL errors (a database that stays
 * locked past the busy timeout included). */
sw_rc sw_store_lock_acquire(sw_store_t *st, const sw_store_lock_t *me, sw_store_lock_alive_fn alive, void *ctx,
                            int *acquired, sw_store_lock_t *holder, sw_err_t *err);
/* Reads the lock row without taking the write lock (works on a read-only store); *found = 0 when there is
 * none or the file predates the run lock (schema version 1). */
sw_rc sw_store_lock_peek(sw_store_t *st, sw_store_lock_t *holder, int *found, sw_err_t *err);
/* Sets the lock's run_id and heartbeat_s = now for the holder pid, in the current batch (committed with it). */
sw_rc sw_store_lock_heartbeat(sw_store_t *st, int64_t pid, int64_t run_id, sw_err_t *err);
/* Deletes the lock row held by pid and commits (the end of a run). */
sw_rc sw_store_lock_release(sw_store_t *st, int64_t pid, sw_err_t *err);

/* One rank event: an infrastructure failure, a quarantine or an unresponsive rank during a run. */
typedef struct sw_store_rank_event {
  int64_t     run_id;
  int         rank;
  const char *host;    /* NULL = SQL NULL */
  const char *kind;    /* "infra_failure", "quarantined" or "unresponsive" */
  const char *message; /* cause in words */
} sw_store_rank_event_t;

/* Records a rank event in the current batch (committed with the trials). */
sw_rc sw_store_add_rank_event(sw_store_t *st, const sw_store_rank_event_t *ev, sw_err_t *err);

#endif
