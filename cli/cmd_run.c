/* `sparsweep run FILE --db DB [options]`: under mpirun rank 0 orchestrates (orchestrator/sw_orch.h) and
 * ranks >= 1 work (workers/sw_worker_rank.h); started without a launcher (or with -np 1) the single process
 * runs every trial through its own executor.  Options are parsed on every rank before MPI_Init, and every
 * rank exits with the status rank 0 decided. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "kernels/sw_isa.h"
#include "orchestrator/sw_events.h"
#include "orchestrator/sw_orch.h"
#include "orchestrator/sw_progress.h"
#include "sw_build_info.h"
#include "workers/sw_worker_rank.h"

static const char s_usage[] =
    "usage: [mpirun -np N] sparsweep run FILE --db DB [options]\n"
    "  --db DB             results database (SQLite, on a local disk; created if missing)\n"
    "  --force             run every trial again, even those already recorded\n"
    "  --rerun-failed      also rerun trials whose last attempt failed or timed out (default: missing, interrupted,\n"
    "                      or failed with retries left)\n"
    "  --retries N         retries after a failed or timed-out attempt (default: the experiment's, else 0)\n"
    "  --max-failures N    circuit breaker: stop dispatching after N distinct trials failed (exit 1)\n"
    "  --quarantine-after N  no more trials to a rank after N infrastructure failures in a row (executor cannot\n"
    "                      start or fork; the trial is requeued on another rank; default 3; 0 = never,\n"
    "                      and such failures are recorded as failed trials)\n"
    "  --wait              when another live run uses the database, wait for it (default: refuse, exit 2)\n"
    "  --events EP|none    live events endpoint (default " SW_EVENTS_DEFAULT_ENDPOINT ", best effort)\n"
    "  --drain-file F      drain (as on SIGTERM/SIGUSR1) when file F appears\n"
    "  --drain-grace S     seconds running trials may finish after a drain request (default 60)\n"
    "  --rank-silence S    give up on a busy worker rank not heard from for S seconds (frozen or lost): its\n"
    "                      trial is requeued and the job ends with MPI_Abort (default 60; 0 = never)\n"
    "  --batch N           commit every N trials (default: the store's)\n"
    "  --snapshot F        write a consistent copy of the database to F (e.g. shared storage) at the end,\n"
    "                      after a drain request and every --snapshot-every S seconds (VACUUM INTO + rename)\n"
    "  --snapshot-every S  snapshot period in seconds (default: only at the end and on drain)\n"
    "  --dry-run           show what would run and what is skipped; write nothing\n"
    "  --summary-json F    also write the run summary (counts, wall and rank 0 CPU seconds) to F as JSON\n"
    "  -v, --verbose       one line per finished trial\n"
    "  --quiet             no progress line (by default: a line updated once per second on a terminal, else a\n"
    "                      plain line every 10% of the trials or 60 s)\n"
    "  --progress tty|plain  force the terminal line or the plain lines (under mpirun stderr is a pipe)\n"
    "SIGTERM/SIGUSR1 to rank 0 (mpirun forwards SIGUSR1 to all ranks) stop dispatching, let running trials\n"
    "finish (interrupting them after the grace), commit and exit 0.  A rank that has not answered 5 s after the\n"
    "grace has its trial recorded interrupted, and the job ends with MPI_Abort (exit 1).\n";

/* Parses a non-negative integer option value; 0 on success, else -1 with the reason in why. */
static int s_parse_int(const char *opt, const char *text, int *out, char *why, size_t why_len) {
  if (sw_cli_parse_int(text, 0, 1000000000, out) == 0) return 0;
  snprintf(why, why_len, "%s needs a non-negative integer, got '%s'", opt, text);
  return -1;
}

static int s_parse_double(const char *opt, const char *text, double *out, char *why, size_t why_len) {
  if (sw_cli_parse_double(text, 0, HUGE_VAL, out) == 0) return 0;
  snprintf(why, why_len, "%s needs a finite non-negative number, got '%s'", opt, text);
  return -1;
}

/* The value of option `name` at argv[*i] (sw_cli_opt_value); a missing value, or one starting with "--", sets
 * *bad and says why naming the option. */
static const char *s_value(int argc, char **argv, int *i, const char *name, int *bad, char *why, size_t why_len) {
  int missing = 0;
  const char *v = sw_cli_opt_value(argc, argv, i, name, &missing);
  if (missing) {
    *bad = 1;
    snprintf(why, why_len, "%s needs a value (write %s=VALUE for a value starting with '--')", name, name);
  }
  return v;
}

/* How the progress is shown: -1 automatic (a terminal line when stderr is a terminal), 0 plain lines,
 * 1 terminal line, 2 none (--quiet). */
typedef struct run_cli {
  const char *summary_path;
  int         progress;
} run_cli_t;

static int s_parse_progress(const char *v, int *mode, char *why, size_t why_len) {
  if (v && strcmp(v, "tty") == 0) *mode = 1;
  else if (v && strcmp(v, "plain") == 0) *mode = 0;
  else {
    snprintf(why, why_len, "--progress: expected tty or plain");
    return SW_EXIT_USAGE;
  }
  return 0;
}

/* Options with a value; 1 when argv[*i] was one (*bad set when its value is missing or wrong). */
static int s_parse_valued(int argc, char **argv, int *i, sw_orch_opts_t *o, run_cli_t *cli, int *bad, char *why,
                          size_t why_len) {
  const char *v;
  if ((v = s_value(argc, argv, i, "--db", bad, why, why_len))) o->db_path = v;
  else if ((v = s_value(argc, argv, i, "--quarantine-after", bad, why, why_len)))
    *bad = s_parse_int("--quarantine-after", v, &o->quarantine_after, why, why_len);
  else if ((v = s_value(argc, argv, i, "--retries", bad, why, why_len)))
    *bad = s_parse_int("--retries", v, &o->retries, why, why_len);
  else if ((v = s_value(argc, argv, i, "--max-failures", bad, why, why_len)))
    *bad = s_parse_int("--max-failures", v, &o->max_failures, why, why_len);
  else if ((v = s_value(argc, argv, i, "--batch", bad, why, why_len)))
    *bad = s_parse_int("--batch", v, &o->batch_trials, why, why_len);
  else if ((v = s_value(argc, argv, i, "--drain-grace", bad, why, why_len)))
    *bad = s_parse_double("--drain-grace", v, &o->drain_grace_s, why, why_len);
  else if ((v = s_value(argc, argv, i, "--rank-silence", bad, why, why_len)))
    *bad = s_parse_double("--rank-silence", v, &o->rank_silence_s, why, why_len);
  else if ((v = s_value(argc, argv, i, "--drain-file", bad, why, why_len))) o->drain_file = v;
  else if ((v = s_value(argc, argv, i, "--summary-json", bad, why, why_len))) cli->summary_path = v;
  else if ((v = s_value(argc, argv, i, "--progress", bad, why, why_len)))
    *bad = s_parse_progress(v, &cli->progress, why, why_len);
  else if ((v = s_value(argc, argv, i, "--snapshot-every", bad, why, why_len)))
    *bad = s_parse_double("--snapshot-every", v, &o->snapshot_every_s, why, why_len);
  else if ((v = s_value(argc, argv, i, "--snapshot", bad, why, why_len))) o->snapshot_path = v;
  else if ((v = s_value(argc, argv, i, "--events", bad, why, why_len))) {
    o->events_endpoint = strcmp(v, "none") == 0 ? NULL : v;
    o->events_required = o->events_endpoint != NULL;
  }
  return v != NULL || *bad;
}

/* Options without a value; 1 when argv[i] was one. */
static int s_parse_flag(const char *a, sw_orch_opts_t *o, run_cli_t *cli) {
  if (strcmp(a, "--force") == 0) o->resume = SW_ORCH_RESUME_NONE;
  else if (strcmp(a, "--rerun-failed") == 0) o->resume = o->resume == SW_ORCH_RESUME_NONE ? o->resume : SW_ORCH_RESUME_OK;
  else if (strcmp(a, "--dry-run") == 0) o->dry_run = 1;
  else if (strcmp(a, "--wait") == 0) o->wait_for_db = 1;
  else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) o->verbose = 1;
  else if (strcmp(a, "--quiet") == 0) cli->progress = 2;
  else return 0;
  return 1;
}

/* Fills opts from argv; returns 0, or SW_EXIT_USAGE with the problem in why. */
static int s_parse(int argc, char **argv, sw_orch_opts_t *o, run_cli_t *cli, char *why, size_t why_len) {
  o->events_endpoint = SW_EVENTS_DEFAULT_ENDPOINT;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int bad = 0;
    if (s_parse_flag(a, o, cli)) continue;
    if (s_parse_valued(argc, argv, &i, o, cli, &bad, why, why_len)) {
      if (bad) return SW_EXIT_USAGE;
    } else if (a[0] != '-' && !o->exp_path) o->exp_path = a;
    else {
      snprintf(why, why_len, "unknown or incomplete option '%s'", a);
      return SW_EXIT_USAGE;
    }
  }
  if (!o->exp_path || !o->db_path) {
    snprintf(why, why_len, "%s", o->exp_path ? "--db DB is required" : "an experiment FILE is required");
    return SW_EXIT_USAGE;
  }
  return sw_cli_check_input(o->exp_path, 1, why, why_len) != 0 ? SW_EXIT_USAGE : 0;
}

/* This process's rank from the launcher's environment (before MPI_Init), 0 when not launched by MPI. */
static int s_env_rank(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return atoi(getenv(vars[i]));
  return 0;
}

/* 1 when this process was started by an MPI launcher (mpirun/mpiexec/srun with PMI/PMIx). */
static int s_launched_by_mpi(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

/* Below this wall time a CPU share is mostly start-up noise and is not printed. */
#define SW_RUN_CPU_SHARE_MIN_WALL_S 1.0

static void s_print_summary(const sw_orch_opts_t *o, const sw_orch_summary_t *s) {
  if (o->dry_run || s->run_id == 0) return; /* nothing ran */
  printf("sparsweep run: %lld trials: %lld ok, %lld failed, %lld timeout, %lld interrupted, %lld skipped (already "
         "recorded), %lld not run (a rerun runs them); %lld attempts recorded in run %lld of %s%s\n",
         (long long)s->total, (long long)s->ok, (long long)s->failed, (long long)s->timeout,
         (long long)s->interrupted, (long long)s->skipped, (long long)s->not_run, (long long)s->attempts,
         (long long)s->run_id, o->db_path, s->counts_from_db ? "" : " (database unreadable: counts not verified)");
  if (s->quarantined || s->requeued)
    printf("sparsweep run: %d rank(s) quarantined; %lld trial(s) requeued after infrastructure failures\n",
           s->quarantined, (long long)s->requeued);
  char share[64] = "";
  if (s->wall_s >= SW_RUN_CPU_SHARE_MIN_WALL_S) snprintf(share, sizeof share, " (%.1f%% of one core)", 100.0 * s->cpu_s / s->wall_s);
  char waited[64] = "";
  if (s->db_wait_s > 0) snprintf(waited, sizeof waited, "; %.1f s waiting for a locked database", s->db_wait_s);
  printf("sparsweep run: %.2f s wall%s; rank 0 CPU %.3f s%s%s%s%s\n", s->wall_s, waited, s->cpu_s, share,
         s->drained ? "; drained" : "", s->tripped ? "; stopped by the circuit breaker" : "",
         s->all_quarantined ? "; stopped: every rank quarantined" : "");
}

/* Writes the summary as one JSON object (for `sparsweep bench orchestration` and scripts). */
static void s_write_summary_json(const char *path, const sw_orch_summary_t *s) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "sparsweep run: cannot write summary '%s'\n", path);
    return;
  }
  fprintf(f, "{\"total\":%lld,\"skipped\":%lld,\"ok\":%lld,\"failed\":%lld,\"timeout\":%lld,"
             "\"interrupted\":%lld,\"attempts\":%lld,\"not_run\":%lld,\"counts_from_db\":%d,\"quarantined\":%d,"
             "\"requeued\":%lld,\"db_wait_s\":%.9g,\"run_id\":%lld,\"wall_s\":%.9g,\"rank0_cpu_s\":%.9g,\"drained\":%d,"
             "\"tripped\":%d,\"exit_code\":%d}\n",
          (long long)s->total, (long long)s->skipped, (long long)s->ok, (long long)s->failed, (long long)s->timeout,
          (long long)s->interrupted, (long long)s->attempts, (long long)s->not_run, s->counts_from_db,
          s->quarantined, (long long)s->requeued, s->db_wait_s, (long long)s->run_id, s->wall_s, s->cpu_s, s->drained,
          s->tripped, s->exit_code);
  if (fclose(f) != 0) fprintf(stderr, "sparsweep run: cannot write summary '%s'\n", path);
}

/* *abort_job = 1 when a worker rank did not answer by the drain deadline: MPI_Finalize would wait for it. */
static int s_rank0(const sw_orch_opts_t *opts, int world_size, const char *summary_path, int progress,
                   int *abort_job) {
  sw_orch_opts_t run_opts = *opts, *o = &run_opts;
  sw_err_t err;
  sw_orch_summary_t sum;
  sw_worker_local_t *local = NULL;
  sw_orch_local_t backend = {0};
  if (sw_proto_signals_install(&err) != SW_OK) {
    fprintf(stderr, "sparsweep run: %s\n", err.msg);
    return SW_EXIT_FAIL;
  }
  if (world_size <= 1 && !o->dry_run) {
    if (sw_worker_local_new(&local, NULL, &err) != SW_OK) {
      fprintf(stderr, "sparsweep run: cannot start the trial executor: %s\n", err.msg);
      return SW_EXIT_FAIL;
    }
    backend = (sw_orch_local_t){local, sw_worker_local_submit, sw_worker_local_wait, sw_worker_local_interrupt,
                                sw_worker_local_host(local), sw_worker_local_info(local)};
  } else if (world_size <= 1) {
    backend = (sw_orch_local_t){NULL, sw_worker_local_submit, sw_worker_local_wait, sw_worker_local_interrupt,
                                "", NULL};
  }
  o->progress = progress == 2 || o->dry_run ? NULL : sw_progress_new(stderr, progress);
  sw_rc rc = sw_orch_run(o, world_size, world_size <= 1 ? &backend : NULL, &sum, &err);
  sw_progress_free(o->progress);
  sw_worker_local_destroy(&local);
  if (rc != SW_OK) fprintf(stderr, "sparsweep run: %s\n", err.msg);
  s_print_summary(o, &sum);
  if (summary_path) s_write_summary_json(summary_path, &sum);
  *abort_job = sum.unresponsive > 0;
  return sum.exit_code;
}

int cmd_run(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    fputs(s_usage, stdout);
    return SW_EXIT_OK;
  }
  sw_orch_opts_t o;
  sw_orch_opts_default(&o);
  char kernel_flags[1024]; /* the kernels library's flags, then the SIMD variants compiled in (kernels/sw_isa.h) */
  snprintf(kernel_flags, sizeof kernel_flags, "%s; %s", SW_KERNEL_C_FLAGS, sw_isa_variant_flags());
  o.build = (sw_build_info_t){SW_VERSION, SW_GIT_COMMIT, SW_GIT_DIRTY, SW_COMPILER, SW_C_FLAGS, kernel_flags};
  o.argc = argc;
  o.argv = argv;
  run_cli_t cli = {NULL, -1};
  /* options are checked on every rank before MPI_Init (all exit 2 alike); only rank 0 says why */
  char why[512] = "";
  int rc = s_parse(argc, argv, &o, &cli, why, sizeof why);
  const char *summary_path = cli.summary_path;
  if (rc && s_env_rank() == 0) fprintf(stderr, "sparsweep run: %s\n%s", why, s_usage);
  if (rc) return rc;
  int abort_job = 0;
  if (!s_launched_by_mpi()) return s_rank0(&o, 1, summary_path, cli.progress, &abort_job);
  int rank = 0, size = 1;
  sw_err_t err;
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS || sw_proto_init(&err) != SW_OK ||
      MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS || MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS) {
    fprintf(stderr, "sparsweep run: MPI start-up failed\n");
    return SW_EXIT_FAIL;
  }
  if (rank == 0) {
    rc = s_rank0(&o, size, summary_path, cli.progress, &abort_job);
    if (abort_job) { /* everything is committed and the summary printed; a frozen rank must not hold the job */
      fprintf(stderr, "sparsweep run: ending the job with MPI_Abort: a worker rank did not answer by the drain "
                      "deadline\n");
      fflush(NULL);
      MPI_Abort(MPI_COMM_WORLD, rc == SW_EXIT_OK ? SW_EXIT_FAIL : rc);
    }
  } else if (sw_worker_rank_loop(rank, NULL, &rc, &err) != SW_OK) {
    fprintf(stderr, "sparsweep[rank %d]: %s\n", rank, err.msg);
    MPI_Abort(MPI_COMM_WORLD, SW_EXIT_FAIL); /* an MPI failure on a worker: rank 0 would wait forever */
  }
  if (MPI_Finalize() != MPI_SUCCESS) {
    fprintf(stderr, "sparsweep[rank %d]: MPI_Finalize failed\n", rank);
    if (rc == SW_EXIT_OK) rc = SW_EXIT_FAIL;
  }
  return rc;
}
