/* sw_orch: rank-0 scheduler.  State lives in one sw_orch_t; the loop is: check drain -> dispatch to idle
 * slots -> poll one completion (MPI_Iprobe or the local backend) -> record it -> back off when idle.
 * A slot is a worker rank (MPI) or the local executor backend (-np 1).  Invariants: a slot runs at most
 * one trial; every dispatched attempt is recorded exactly once (ok/failed/timeout/interrupted); only
 * this process writes the database. */
#include "orchestrator/sw_orch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "common/sw_log.h"
#include "common/sw_time.h"
#include "experiments/sw_expfile.h"
#include "experiments/sw_grid.h"
#include "experiments/sw_keys.h"
#include "orchestrator/sw_events.h"
#include "orchestrator/sw_runlock.h"
#include "orchestrator/sw_progress.h"
#include "orchestrator/sw_stale.h"
#include "results/sw_store.h"

#define SW_ORCH_MAGIC 0x4f524348u          /* "ORCH" */
#define SW_ORCH_POLL_MIN_NS 50000LL        /* first idle sleep: 50 us */
#define SW_ORCH_POLL_MAX_NS 2000000LL      /* idle sleep cap: 2 ms (rank 0 stays well under 5% of a core) */
#define SW_ORCH_LOCAL_WAIT_MS 20           /* local backend: poll() slice while a trial runs */
#define SW_ORCH_HEARTBEAT_NS 1000000000LL  /* "progress" event period: 1 s */
#define SW_ORCH_DRAIN_CHECK_NS 200000000LL /* drain-file check period: 0.2 s */
#define SW_ORCH_HELLO_TIMEOUT_S 300.0      /* workers must say hello within this */
#define SW_ORCH_EVENT_METRICS 8            /* metrics copied into a trial_finished event */
#define SW_ORCH_BACKLOG_MAX 256            /* finished results held in memory while the database is locked by
                                              another process; at this many, dispatching pauses until they are
                                              recorded (so at most this + one per rank are ever held) */
#define SW_ORCH_DB_WAIT_MAX_S 600.0        /* a lock held longer than this ends the sweep (exit 1; the held
                                              results are lost, the committed ones kept, a rerun redoes them) */
#define SW_ORCH_DB_BUSY_MS 50              /* busy timeout during the sweep: rank 0 never blocks long on a lock */
#define SW_ORCH_DB_RETRY_MIN_NS 50000000LL /* first retry of a locked database after 50 ms ... */
#define SW_ORCH_DB_RETRY_MAX_NS 2000000000LL /* ... doubling up to every 2 s */
#define SW_ORCH_DRAIN_MARGIN_S 5.0         /* after the drain grace, interrupted trials get this long to report
                                              (the executor's TERM->KILL grace is 2 s); then rank 0 gives up on
                                              their ranks (sw_orch.h, drain deadline) */

typedef struct s_slot {
  int      rank;         /* MPI rank (0 = the local backend) */
  int      ready;        /* hello received */
  int      busy;         /* running a trial */
  size_t   trial;        /* index into trials while busy */
  uint32_t attempt;      /* attempt number while busy */
  int      interrupted;  /* INTERRUPT already sent for the running trial */
  int      infra_streak; /* infrastructure failures in a row (reset by any trial outcome) */
  int      quarantined;  /* 1: no more dispatch to this slot (infra_streak reached opts.quarantine_after) */
  int      lost;         /* 1: given up (silent past opts.rank_silence_s, or no answer by the drain deadline) */
  int64_t  heard_ns;     /* sw_now_ns() of the last dispatch to, or message from, this rank */
  char    *host;         /* owned host name */
  char    *info_json;    /* owned worker library facts (hello) */
} s_slot_t;

typedef struct s_job {
  size_t   trial;   /* index into trials */
  uint32_t attempt; /* attempt number to run */
} s_job_t;

/* A finished result waiting for a locked database (owned strings). */
typedef struct s_held {
  int               slot; /* index into slots */
  sw_proto_result_t res;
} s_held_t;

typedef struct sw_orch {
  uint32_t               magic;       /* SW_ORCH_MAGIC */
  const sw_orch_opts_t  *opts;        /* borrowed */
  const sw_orch_local_t *local;       /* borrowed, NULL in MPI mode */
  sw_log_t               log;         /* "sparsweep[rank 0]" */
  sw_experiment_t       *exp;         /* owned */
  sw_trial_list_t        trials;      /* owned */
  uint32_t              *first_attempt; /* [trials.count]: attempt number of this invocation's first try */
  s_job_t               *queue;       /* pending jobs queue[q_head..q_len) */
  size_t                 q_head, q_len, q_cap;
  s_slot_t              *slots;       /* slots[n_slots] */
  int                    n_slots;
  sw_store_t            *store;       /* owned */
  sw_events_t           *events;      /* owned */
  sw_events_counts_t     counts;      /* live counters (events and summary) */
  sw_orch_summary_t     *sum;         /* borrowed */
  int                    retries;     /* effective retries (-1 = per trial from the grid) */
  int                    dispatching; /* 1 once the dispatch loop started */
  int                    draining;    /* 1 after a drain request */
  int                    forced;      /* 1 after a second drain signal: interrupt without grace */
  int                    start_signal_count; /* drain signals already counted when this sweep started */
  int                    drain_signal_count; /* drain signals counted when the drain started */
  int64_t                drain_ns;    /* when the drain started (sw_now_ns) */
  int64_t                forced_ns;   /* when a second drain signal arrived (sw_now_ns), 0 before */
  int64_t                next_heartbeat_ns, next_drain_check_ns, next_snapshot_ns, next_lock_beat_ns;
  s_held_t              *held;        /* results not yet recorded because the database was locked, in order */
  size_t                 n_held, held_cap;
  int64_t                db_busy_since_ns; /* when the database was first found locked (0 = writable) */
  int64_t                db_retry_ns, db_retry_step_ns; /* next retry and the current back-off step */
  int64_t                timeouts;    /* trials whose last attempt timed out (also in counts.failed) */
  int                    lock_held;   /* 1 while this sweep holds the database's run lock (sw_runlock.h) */
  sw_buf_t               scratch;     /* event member text */
} sw_orch_t;

/* ---------------------------------------------------------------- helpers */

static char *s_strdup(const char *s) {
  size_t n = strlen(s ? s : "") + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s ? s : "", n);
  return d;
}

static double s_cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
  return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
         1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Doubles the capacity of an array (*items, *cap elements of elem_size bytes; first_cap when empty). */
static sw_rc s_grow(void **items, size_t *cap, size_t elem_size, size_t first_cap, const char *what, sw_err_t *err) {
  size_t n = *cap ? 2 * *cap : first_cap;
  void *grown = realloc(*items, n * elem_size);
  if (!grown) return sw_err_set(err, SW_ERR_NOMEM, "cannot grow the %s to %zu entries", what, n);
  *items = grown;
  *cap = n;
  return SW_OK;
}

static sw_rc s_queue_push(sw_orch_t *o, size_t trial, uint32_t attempt, sw_err_t *err) {
  if (o->q_len == o->q_cap) {
    sw_rc rc = s_grow((void **)&o->queue, &o->q_cap, sizeof *o->queue, 64, "trial queue", err);
    if (rc != SW_OK) return rc;
  }
  o->queue[o->q_len++] = (s_job_t){trial, attempt};
  return SW_OK;
}

static size_t s_queue_size(const sw_orch_t *o) { return o->q_len - o->q_head; }

/* Puts a job at the head of the queue (a retry or a requeued trial runs next, not after every first
 * attempt).  The slot before q_head is free whenever a dispatched job comes back; else it appends. */
static sw_rc s_queue_push_front(sw_orch_t *o, size_t trial, uint32_t attempt, sw_err_t *err) {
  if (o->q_head == 0) return s_queue_push(o, trial, attempt, err);
  o->queue[--o->q_head] = (s_job_t){trial, attempt};
  return SW_OK;
}

static int s_in_flight(const sw_orch_t *o) {
  int n = 0;
  for (int i = 0; i < o->n_slots; i++) n += o->slots[i].busy;
  return n;
}

static void s_publish(sw_orch_t *o, const char *topic, const char *members) {
  o->counts.running = s_in_flight(o);
  sw_events_publish(o->events, topic, &o->counts, members);
  if (o->opts->progress) sw_progress_event(o->opts->progress, topic, &o->counts, members, sw_now_ns());
}

/* Sends STOP(exit_code) to every worker rank; errors are logged, not returned (best effort on exit). */
static void s_stop_workers(sw_orch_t *o, int world_size, int exit_code) {
  if (o->local || world_size <= 1) return;
  sw_buf_t msg = SW_BUF_INIT;
  sw_proto_encode_stop(&msg, exit_code);
  for (int r = 1; r < world_size; r++) {
    sw_err_t e;
    if (sw_proto_send(&msg, r, &e) != SW_OK) sw_log(&o->log, SW_LOG_ERROR, "cannot stop rank %d: %s", r, e.msg);
  }
  sw_buf_free(&msg);
}

/* ---------------------------------------------------------------- set-up */

static sw_rc s_load(sw_orch_t *o, sw_err_t *err) {
  sw_rc rc = sw_expfile_load(o->opts->exp_path, &o->exp, err);
  if (rc != SW_OK) return rc;
  rc = sw_keys_check_experiment(o->exp, err); /* every key declared and in range before anything runs */
  if (rc != SW_OK) return rc;
  rc = sw_grid_expand(o->exp, &o->trials, err);
  if (rc != SW_OK) return rc;
  o->first_attempt = calloc(o->trials.count ? o->trials.count : 1, sizeof *o->first_attempt);
  if (!o->first_attempt) return sw_err_set(err, SW_ERR_NOMEM, "cannot allocate %zu trial states", o->trials.count);
  o->counts.total = (int64_t)o->trials.count;
  return SW_OK;
}

static int s_max_retries(const sw_orch_t *o, size_t trial) {
  return o->retries >= 0 ? o->retries : o->trials.items[trial].retries;
}

/* Whether the resume policy skips a configuration with this history (NULL: never recorded). */
static int s_skip(const sw_orch_t *o, size_t trial, const sw_attempt_summary_t *a) {
  if (!a) return 0;
  switch (o->opts->resume) {
    case SW_ORCH_RESUME_NONE: return 0;
    case SW_ORCH_RESUME_OK: return a->latest == SW_TRIAL_OK;
    default: return sw_attempt_is_final(a, s_max_retries(o, trial));
  }
}

/* Builds the queue: trials not skipped by the resume policy (decided on each configuration's latest attempt,
 * so an interrupted attempt or a failure with retries left runs again), with attempt numbers continuing from
 * the DB. */
static sw_rc s_plan(sw_orch_t *o, sw_err_t *err) {
  sw_attempt_index_t ix = {0};
  sw_rc rc = o->store ? sw_store_attempt_index(o->store, 0, &ix, err) : SW_OK;
  for (size_t i = 0; rc == SW_OK && i < o->trials.count; i++) {
    const sw_attempt_summary_t *a = sw_attempt_find(&ix, o->trials.items[i].hash);
    if (s_skip(o, i, a)) {
      o->counts.skipped++;
      continue;
    }
    o->first_attempt[i] = (uint32_t)(a ? a->max_attempt : 0) + 1;
    rc = s_queue_push(o, i, o->first_attempt[i], err);
  }
  sw_attempt_index_free(&ix);
  return rc;
}

static sw_rc s_open_events(sw_orch_t *o, sw_err_t *err) {
  const char *ep = o->opts->events_endpoint;
  sw_err_t e;
  if (sw_events_new(&o->events, ep, 0, &e) == SW_OK) return SW_OK;
  if (o->opts->events_required) return sw_err_set(err, e.code, "%s", e.msg);
  sw_log(&o->log, SW_LOG_WARN, "%s; continuing without live events", e.msg);
  return sw_events_new(&o->events, NULL, 0, err);
}

/* MPI mode: waits (non-spinning) until every worker rank has said hello. */
static sw_rc s_collect_hellos(sw_orch_t *o, sw_err_t *err) {
  sw_proto_backoff_t bo;
  int missing = o->n_slots;
  int64_t deadline = sw_now_ns() + (int64_t)(SW_ORCH_HELLO_TIMEOUT_S * 1e9);
  sw_proto_backoff_init(&bo, SW_ORCH_POLL_MIN_NS, SW_ORCH_POLL_MAX_NS);
  while (missing > 0) {
    sw_proto_msg_t m;
    int got = 0;
    sw_rc rc = sw_proto_try_recv(MPI_ANY_SOURCE, &m, &got, err);
    if (rc != SW_OK) return rc;
    if (!got) {
      if (sw_now_ns() > deadline)
        return sw_err_set(err, SW_ERR_TIMEOUT, "%d worker rank(s) did not start within %.0f s", missing,
                          SW_ORCH_HELLO_TIMEOUT_S);
      sw_proto_backoff_sleep(&bo);
      continue;
    }
    if (m.kind == SW_PROTO_HELLO && m.source >= 1 && m.source <= o->n_slots && !o->slots[m.source - 1].ready) {
      s_slot_t *s = &o->slots[m.source - 1];
      s->ready = 1;
      s->host = m.u.hello.host ? m.u.hello.host : s_strdup("?");
      s->info_json = m.u.hello.info_json;
      m.u.hello.host = m.u.hello.info_json = NULL;
      missing--;
    } else {
      sw_log(&o->log, SW_LOG_WARN, "ignoring unexpected message kind %d from rank %d before start", (int)m.kind,
             m.source);
    }
    sw_proto_msg_free(&m);
  }
  return SW_OK;
}

static sw_rc s_init_slots(sw_orch_t *o, int world_size, char *rank0_host, sw_err_t *err) {
  o->n_slots = o->local ? 1 : world_size - 1;
  o->slots = calloc((size_t)o->n_slots, sizeof *o->slots);
  if (!o->slots) return sw_err_set(err, SW_ERR_NOMEM, "cannot allocate %d worker slots", o->n_slots);
  for (int i = 0; i < o->n_slots; i++) o->slots[i].rank = o->local ? 0 : i + 1;
  if (!o->local) return s_collect_hellos(o, err);
  o->slots[0].ready = 1;
  o->slots[0].host = s_strdup(o->local->host ? o->local->host : rank0_host);
  o->slots[0].info_json = o->local->info_json ? s_strdup(o->local->info_json) : NULL;
  return SW_OK;
}

/* Earlier runs of this host still marked 'running' whose rank 0 is gone (kill -9) become 'aborted'. */
static sw_rc s_abort_stale_runs(sw_orch_t *o, const char *rank0_host, sw_err_t *err) {
  int64_t n = 0;
  sw_rc   rc = sw_stale_abort_runs(o->store, rank0_host, &n, err);
  if (rc == SW_OK && n > 0)
    sw_log(&o->log, SW_LOG_WARN, "%lld earlier run(s) of %s left 'running' by a killed rank 0 marked 'aborted'",
           (long long)n, rank0_host);
  return rc;
}

static sw_rc s_begin_run(sw_orch_t *o, const char *rank0_host, sw_err_t *err) {
  int n_hosts = o->local ? 1 : o->n_slots + 1;
  const char **hosts = calloc((size_t)n_hosts, sizeof *hosts);
  if (!hosts) return sw_err_set(err, SW_ERR_NOMEM, "cannot allocate the host list");
  hosts[0] = rank0_host;
  for (int i = 0; !o->local && i < o->n_slots; i++) hosts[i + 1] = o->slots[i].host;
  sw_run_provenance_t rp;
  sw_rc rc = sw_run_provenance_init(&rp, &o->opts->build, o->exp->name, o->exp->spec_text, o->exp->spec_hash, hosts,
                                    n_hosts, o->slots[0].info_json, o->opts->argc, o->opts->argv, err);
  free(hosts);
  if (rc == SW_OK) rc = s_abort_stale_runs(o, rank0_host, err);
  if (rc != SW_OK) {
    sw_run_provenance_free(&rp);
    return rc;
  }
  rc = sw_store_run_begin(o->store, &rp.prov, &o->sum->run_id, err);
  sw_run_provenance_free(&rp);
  return rc;
}

/* ---------------------------------------------------------------- dispatch and results */

static sw_rc s_dispatch(sw_orch_t *o, s_slot_t *s, sw_err_t *err) {
  s_job_t job = o->queue[o->q_head++];
  const sw_trial_spec_t *t = &o->trials.items[job.trial];
  sw_proto_trial_t msg = {job.trial, job.attempt, t->timeout_s, t->config_json};
  sw_rc rc;
  if (o->local) {
    rc = o->local->submit(o->local->ctx, &msg, err);
  } else {
    sw_buf_t b = SW_BUF_INIT;
    sw_proto_encode_trial(&b, &msg);
    rc = sw_proto_send(&b, s->rank, err);
    sw_buf_free(&b);
  }
  if (rc != SW_OK) return rc;
  s->busy = 1;
  s->trial = job.trial;
  s->attempt = job.attempt;
  s->interrupted = 0;
  s->heard_ns = sw_now_ns();
  sw_buf_reset(&o->scratch);
  sw_buf_printf(&o->scratch, "\"index\":%zu,\"hash\":\"%s\",\"rank\":%d,\"attempt\":%u,\"label\":%s", job.trial,
                t->hash, s->rank, job.attempt, t->axes_json ? t->axes_json : "{}");
  s_publish(o, "trial_started", sw_buf_str(&o->scratch));
  return SW_OK;
}

static sw_rc s_dispatch_idle(sw_orch_t *o, sw_err_t *err) {
  for (int i = 0; i < o->n_slots && s_queue_size(o) > 0; i++) {
    s_slot_t *s = &o->slots[i];
    if (!s->ready || s->busy || s->quarantined) continue;
    sw_rc rc = s_dispatch(o, s, err);
    if (rc != SW_OK) return rc;
  }
  return SW_OK;
}

/* Appends up to SW_ORCH_EVENT_METRICS metrics of a result as "metrics":{"name":value,...}. */
static void s_metrics_member(sw_buf_t *b, const char *result_json) {
  sw_json_t *doc = NULL;
  sw_err_t ignored;
  sw_buf_puts(b, ",\"metrics\":{");
  if (result_json && sw_json_parse(result_json, strlen(result_json), &doc, &ignored) == SW_OK) {
    const sw_json_t *arr = sw_json_get(doc, "metrics");
    size_t n = 0;
    for (size_t i = 0; arr && arr->kind == SW_JSON_ARRAY && i < arr->count && n < SW_ORCH_EVENT_METRICS; i++) {
      const sw_json_t *name = sw_json_get(&arr->items[i], "name"), *value = sw_json_get(&arr->items[i], "value");
      if (!name || name->kind != SW_JSON_STRING || !value || value->kind != SW_JSON_NUMBER) continue;
      if (n++) sw_buf_puts(b, ",");
      sw_buf_json_string(b, name->string, name->string_len);
      sw_buf_puts(b, ":");
      sw_buf_json_double(b, value->number);
    }
    sw_json_free(doc);
  }
  sw_buf_puts(b, "}");
}


/* Records one attempt; a result the store rejects as malformed is recorded as a failed trial instead. */
static sw_rc s_record(sw_orch_t *o, const s_slot_t *s, sw_proto_result_t *r, sw_err_t *err) {
  const sw_trial_spec_t *t = &o->trials.items[r->slot];
  sw_outcome_t          *out = &r->outcome;
  sw_trial_record_t      rec = {.run_id = o->sum->run_id, .config_hash = t->hash, .config_json = t->config_json,
                                .attempt = (int)r->attempt, .rank = s->rank, .host = r->host ? r->host : s->host,
                                .duration_s = -1.0, .outcome = out};
  sw_err_t e;
  sw_rc rc = sw_store_add_trial(o->store, &rec, NULL, &e);
  if (rc == SW_ERR_PARSE && out->status == SW_TRIAL_OK) {
    sw_log(&o->log, SW_LOG_WARN, "trial %.12s: malformed result recorded as failed: %s", t->hash, e.msg);
    sw_outcome_set_cause(out, "%s", e.msg);
    out->status = SW_TRIAL_FAILED;
    free(out->result_json);
    out->result_json = NULL;
    rc = sw_store_add_trial(o->store, &rec, NULL, &e);
  }
  if (rc != SW_OK) return sw_err_set(err, rc, "%s", e.msg);
  o->sum->attempts++;
  return SW_OK;
}

static void s_log_outcome(sw_orch_t *o, const s_slot_t *s, const sw_proto_result_t *r, int will_retry) {
  const sw_trial_spec_t *t = &o->trials.items[r->slot];
  const sw_outcome_t    *out = &r->outcome;
  sw_log_level lvl = out->status == SW_TRIAL_OK ? SW_LOG_DEBUG : SW_LOG_WARN;
  if (o->opts->verbose && lvl == SW_LOG_DEBUG) lvl = SW_LOG_INFO;
  sw_log(&o->log, lvl, "trial %zu %.12s attempt %u on rank %d: %s%s%s%s", r->slot, t->hash, r->attempt, s->rank,
         sw_trial_status_name(out->status), *out->cause ? " (" : "", out->cause, *out->cause ? ")" : "");
  if (will_retry) sw_log(&o->log, SW_LOG_INFO, "trial %zu: retrying (attempt %u)", r->slot, r->attempt + 1);
}

/* Updates counters, retries and the breaker after an attempt was recorded, and publishes the event. */
static sw_rc s_account(sw_orch_t *o, const s_slot_t *s, const sw_proto_result_t *r, sw_err_t *err) {
  const sw_trial_spec_t *t = &o->trials.items[r->slot];
  const sw_outcome_t    *out = &r->outcome;
  int failed = out->status == SW_TRIAL_FAILED || out->status == SW_TRIAL_TIMEOUT;
  int used = (int)(r->attempt - o->first_attempt[r->slot]);
  int will_retry = failed && !o->draining && used < s_max_retries(o, r->slot);
  sw_buf_t *b = &o->scratch;
  sw_buf_reset(b);
  sw_buf_printf(b, "\"index\":%zu,\"hash\":\"%s\",\"rank\":%d,\"attempt\":%u,\"status\":\"%s\",\"seconds\":", r->slot,
                t->hash, s->rank, r->attempt, sw_trial_status_name(out->status));
  sw_buf_json_double(b, out->end_wall - out->start_wall);
  sw_buf_printf(b, ",\"label\":%s", t->axes_json ? t->axes_json : "{}");
  if (out->status == SW_TRIAL_OK) {
    o->counts.ok++;
    s_metrics_member(b, out->result_json);
  } else {
    sw_buf_puts(b, ",\"cause\":");
    sw_buf_json_string(b, out->cause, strlen(out->cause));
    sw_buf_printf(b, ",\"retry\":%s", will_retry ? "true" : "false");
    if (out->status == SW_TRIAL_INTERRUPTED) o->counts.interrupted++;
    else if (!will_retry) o->counts.failed++;
    if (out->status == SW_TRIAL_TIMEOUT && !will_retry) o->timeouts++;
  }
  s_log_outcome(o, s, r, will_retry);
  s_publish(o, out->status == SW_TRIAL_OK ? "trial_finished" : "trial_failed", sw_buf_str(b));
  if (will_retry) return s_queue_push_front(o, r->slot, r->attempt + 1, err);
  return SW_OK;
}

/* Records a rank event in the run (best effort: a locked or failing database only costs the event). */
static void s_rank_event(sw_orch_t *o, const s_slot_t *s, const char *kind, const char *cause) {
  sw_store_rank_event_t ev = {o->sum->run_id, s->rank, s->host, kind, cause};
  sw_err_t e;
  if (sw_store_add_rank_event(o->store, &ev, &e) != SW_OK)
    sw_log(&o->log, SW_LOG_WARN, "rank %d event '%s' not recorded: %s", s->rank, kind, e.msg);
}

static int s_live_slots(const sw_orch_t *o) {
  int n = 0;
  for (int i = 0; i < o->n_slots; i++) n += !o->slots[i].quarantined;
  return n;
}

/* Stops dispatching to a slot whose infrastructure keeps failing; records it in the run and the events. */
static sw_rc s_quarantine(sw_orch_t *o, s_slot_t *s, const char *cause, sw_err_t *err) {
  s->quarantined = 1;
  o->sum->quarantined++;
  sw_log(&o->log, SW_LOG_ERROR, "rank %d (%s) quarantined after %d infrastructure failures in a row: %s", s->rank,
         s->host ? s->host : "?", s->infra_streak, cause);
  sw_buf_reset(&o->scratch);
  sw_buf_printf(&o->scratch, "\"rank\":%d,\"failures\":%d,\"cause\":", s->rank, s->infra_streak);
  sw_buf_json_string(&o->scratch, cause, strlen(cause));
  s_publish(o, "rank_quarantined", sw_buf_str(&o->scratch));
  s_rank_event(o, s, "quarantined", cause);
  (void)err;
  return SW_OK;
}

/* An infrastructure failure: not recorded as an attempt of the trial, which goes back to the head of the queue
 * with the same attempt number; the rank's streak grows and quarantines it at opts.quarantine_after. */
static sw_rc s_infra_failure(sw_orch_t *o, s_slot_t *s, const sw_proto_result_t *r, sw_err_t *err) {
  const char *cause = r->outcome.cause;
  s->infra_streak++;
  o->sum->requeued++;
  sw_log(&o->log, SW_LOG_WARN, "trial %zu on rank %d: %s; requeued", (size_t)r->slot, s->rank, cause);
  s_rank_event(o, s, "infra_failure", cause);
  sw_rc rc = s_queue_push_front(o, r->slot, r->attempt, err);
  if (rc == SW_OK && o->opts->quarantine_after > 0 && s->infra_streak >= o->opts->quarantine_after)
    rc = s_quarantine(o, s, cause, err);
  return rc;
}

/* The database was writable again: how long the sweep waited goes into the summary. */
static void s_db_writable(sw_orch_t *o, int64_t now) {
  double waited = (double)(now - o->db_busy_since_ns) * 1e-9;
  o->sum->db_wait_s += waited;
  o->db_busy_since_ns = 0;
  o->db_retry_step_ns = 0;
  sw_log(&o->log, SW_LOG_WARN, "results database writable again after %.1f s; the held results are recorded", waited);
}

/* Schedules the next retry (doubling back-off) or gives up past SW_ORCH_DB_WAIT_MAX_S. */
static sw_rc s_db_still_locked(sw_orch_t *o, int64_t now, sw_err_t *err) {
  o->db_retry_step_ns = o->db_retry_step_ns ? o->db_retry_step_ns * 2 : SW_ORCH_DB_RETRY_MIN_NS;
  if (o->db_retry_step_ns > SW_ORCH_DB_RETRY_MAX_NS) o->db_retry_step_ns = SW_ORCH_DB_RETRY_MAX_NS;
  o->db_retry_ns = now + o->db_retry_step_ns;
  if ((double)(now - o->db_busy_since_ns) * 1e-9 <= SW_ORCH_DB_WAIT_MAX_S) return SW_OK;
  return sw_err_set(err, SW_ERR_DB, "results database '%s' stayed locked by another process for more than %.0f s: "
                    "%zu finished result(s) held in memory are lost (committed results are kept; a rerun redoes them)",
                    o->opts->db_path, SW_ORCH_DB_WAIT_MAX_S, o->n_held);
}

/* Keeps a finished result in memory while the database is locked (takes ownership of r's strings). */
static sw_rc s_hold(sw_orch_t *o, s_slot_t *s, sw_proto_result_t *r, sw_err_t *err) {
  if (o->n_held == o->held_cap) {
    sw_rc rc = s_grow((void **)&o->held, &o->held_cap, sizeof *o->held, 16, "results held for a locked database", err);
    if (rc != SW_OK) return rc;
  }
  o->held[o->n_held].slot = (int)(s - o->slots);
  o->held[o->n_held++].res = *r;
  memset(r, 0, sizeof *r);
  int64_t now = sw_now_ns();
  if (o->db_busy_since_ns == 0) {
    o->db_busy_since_ns = now;
    o->db_retry_step_ns = 0;
    sw_log(&o->log, SW_LOG_WARN, "results database '%s' is locked by another process; finished results are held in "
           "memory (up to %d, then dispatching pauses) and recorded when it is free", o->opts->db_path,
           SW_ORCH_BACKLOG_MAX);
    return s_db_still_locked(o, now, err);
  }
  return SW_OK;
}

static sw_rc s_handle_result(sw_orch_t *o, s_slot_t *s, sw_proto_result_t *r, sw_err_t *err) {
  if (!s->busy || r->slot != s->trial || r->attempt != s->attempt)
    return sw_err_set(err, SW_ERR_INTERNAL, "rank %d reported trial %llu attempt %u, but was given %s%zu attempt %u",
                      s->rank, (unsigned long long)r->slot, r->attempt, s->busy ? "" : "nothing; last ", s->trial,
                      s->attempt);
  s->busy = 0;
  /* with --quarantine-after 0 nothing would ever stop a black-hole rank: its failures are then recorded as
   * the trials' own (the behaviour before failure classes) */
  if (r->outcome.infra && r->outcome.status != SW_TRIAL_OK && o->opts->quarantine_after > 0)
    return s_infra_failure(o, s, r, err);
  s->infra_streak = 0;
  if (o->n_held > 0) return s_hold(o, s, r, err); /* keep the order: behind the results already waiting */
  sw_rc rc = s_record(o, s, r, err);
  if (rc == SW_ERR_TIMEOUT) return s_hold(o, s, r, err);
  if (rc == SW_OK) rc = s_account(o, s, r, err);
  return rc;
}

/* Records the held results in order once the database is writable again; backs off while it is not.  A lock
 * held past SW_ORCH_DB_WAIT_MAX_S (or past the drain deadline, see s_give_up_unresponsive) ends the sweep. */
static sw_rc s_record_held(sw_orch_t *o, sw_err_t *err) {
  int64_t now = sw_now_ns();
  if (o->n_held == 0 || now < o->db_retry_ns) return SW_OK;
  size_t done = 0;
  sw_rc rc = SW_OK;
  while (done < o->n_held && rc == SW_OK) {
    s_held_t *h = &o->held[done];
    rc = s_record(o, &o->slots[h->slot], &h->res, err);
    if (rc == SW_OK) rc = s_account(o, &o->slots[h->slot], &h->res, err);
    if (rc == SW_OK) sw_proto_result_free(&o->held[done++].res);
  }
  memmove(o->held, o->held + done, (o->n_held - done) * sizeof *o->held);
  o->n_held -= done;
  if (rc == SW_ERR_TIMEOUT) return s_db_still_locked(o, now, err);
  if (rc == SW_OK && o->n_held == 0) s_db_writable(o, now);
  return rc;
}

/* One poll for a completion; *got = 1 when something was handled. */
static sw_rc s_poll(sw_orch_t *o, int *got, sw_err_t *err) {
  sw_rc rc = SW_OK;
  *got = 0;
  if (o->local) {
    if (!o->slots[0].busy) return SW_OK;
    sw_proto_result_t r;
    memset(&r, 0, sizeof r);
    rc = o->local->wait(o->local->ctx, SW_ORCH_LOCAL_WAIT_MS, &r, got, err);
    if (rc == SW_OK && *got) rc = s_handle_result(o, &o->slots[0], &r, err);
    sw_proto_result_free(&r);
    return rc;
  }
  sw_proto_msg_t m;
  rc = sw_proto_try_recv(MPI_ANY_SOURCE, &m, got, err);
  if (rc != SW_OK || !*got) return rc;
  s_slot_t *from = m.source >= 1 && m.source <= o->n_slots ? &o->slots[m.source - 1] : NULL;
  if (from && !from->lost) from->heard_ns = sw_now_ns();
  if (m.kind == SW_PROTO_RESULT && from && !from->lost)
    rc = s_handle_result(o, from, &m.u.result, err);
  else if (m.kind == SW_PROTO_RESULT && from)
    sw_log(&o->log, SW_LOG_WARN, "ignoring a late result of rank %d (already given up)", m.source);
  else if (m.kind == SW_PROTO_ALIVE && from)
    sw_log(&o->log, SW_LOG_DEBUG, "rank %d alive", m.source);
  else
    sw_log(&o->log, SW_LOG_WARN, "ignoring unexpected message kind %d from rank %d", (int)m.kind, m.source);
  sw_proto_msg_free(&m);
  return rc;
}

/* ---------------------------------------------------------------- drain, breaker, loop */

static void s_check_drain(sw_orch_t *o) {
  if (o->draining && !o->forced && sw_proto_signal_count() > o->drain_signal_count) {
    o->forced = 1; /* a second signal: do not wait for the grace period */
    o->forced_ns = sw_now_ns();
    sw_log(&o->log, SW_LOG_WARN, "second drain signal: interrupting running trials now");
  }
  if (o->draining) return;
  int sig = sw_proto_signal_count() > o->start_signal_count ? sw_proto_signal_received() : 0;
  int file = 0;
  int64_t now = sw_now_ns();
  if (!sig && o->opts->drain_file && now >= o->next_drain_check_ns) {
    o->next_drain_check_ns = now + SW_ORCH_DRAIN_CHECK_NS;
    file = access(o->opts->drain_file, F_OK) == 0;
  }
  if (!sig && !file) return;
  o->draining = 1;
  o->drain_signal_count = sw_proto_signal_count();
  o->drain_ns = now;
  o->sum->drained = 1;
  o->sum->drain_signal = sig;
  sw_log(&o->log, SW_LOG_WARN, "drain requested by %s%s: no more dispatching; %d running trial(s) get %.0f s to finish",
         sig ? "signal " : "drain file ", sig ? (sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : "SIGINT")
                                              : o->opts->drain_file,
         s_in_flight(o), o->opts->drain_grace_s);
  sw_buf_reset(&o->scratch);
  sw_buf_printf(&o->scratch, "\"signal\":%d", sig);
  s_publish(o, "run_draining", sw_buf_str(&o->scratch));
  if (o->opts->snapshot_path) o->next_snapshot_ns = now; /* walltime is near: copy what we have now */
}

/* After the drain grace, asks every busy slot to interrupt its trial (once). */
static sw_rc s_interrupt_overdue(sw_orch_t *o, sw_err_t *err) {
  if (!o->draining || (!o->forced && (double)(sw_now_ns() - o->drain_ns) < o->opts->drain_grace_s * 1e9))
    return SW_OK;
  for (int i = 0; i < o->n_slots; i++) {
    s_slot_t *s = &o->slots[i];
    if (!s->busy || s->interrupted) continue;
    s->interrupted = 1;
    sw_log(&o->log, SW_LOG_WARN, "drain: interrupting trial %zu on rank %d", s->trial, s->rank);
    sw_rc rc;
    if (o->local) {
      rc = o->local->interrupt(o->local->ctx, err);
    } else {
      sw_buf_t b = SW_BUF_INIT;
      sw_proto_encode_empty(&b, SW_PROTO_INTERRUPT);
      rc = sw_proto_send(&b, s->rank, err);
      sw_buf_free(&b);
    }
    if (rc != SW_OK) return rc;
  }
  return SW_OK;
}

/* 1 when no slot may run trials any more (each was quarantined): the sweep stops with exit 1. */
static int s_all_quarantined(sw_orch_t *o) {
  if (o->n_slots == 0 || s_live_slots(o) > 0) return 0;
  if (!o->sum->all_quarantined)
    sw_log(&o->log, SW_LOG_ERROR, "every worker rank is quarantined; %zu trial(s) not run (a rerun runs them)",
           s_queue_size(o));
  o->sum->all_quarantined = 1;
  return 1;
}

/* Gives up on busy worker ranks silent for opts.rank_silence_s (no ALIVE, no result): a frozen process or a
 * hung node would otherwise hold the sweep forever.  Like an infrastructure failure, the trial goes back to the
 * head of the queue with its attempt number (no row); the rank is quarantined and marked lost (a late message
 * of it is ignored), and the summary asks the caller to end the job with MPI_Abort (the rank would hold
 * MPI_Finalize).  MPI mode only; during a drain s_give_up_unresponsive decides instead. */
static sw_rc s_give_up_silent(sw_orch_t *o, sw_err_t *err) {
  if (o->local || o->draining || o->opts->rank_silence_s <= 0) return SW_OK;
  const int64_t now = sw_now_ns(), limit = (int64_t)(o->opts->rank_silence_s * 1e9);
  for (int i = 0; i < o->n_slots; i++) {
    s_slot_t *s = &o->slots[i];
    if (!s->busy || s->lost || now - s->heard_ns < limit) continue;
    char cause[200];
    snprintf(cause, sizeof cause, "rank %d (%s) silent for %.0f s while running trial %zu (frozen or lost); its "
             "trial is requeued and the job ends with MPI_Abort", s->rank, s->host ? s->host : "?",
             1e-9 * (double)(now - s->heard_ns), s->trial);
    sw_log(&o->log, SW_LOG_ERROR, "%s", cause);
    s->busy = 0;
    s->lost = 1;
    o->sum->unresponsive++;
    s_rank_event(o, s, "unresponsive", cause);
    s->quarantined = 1; /* no more dispatch; s_all_quarantined stops the sweep when no rank is left */
    sw_rc rc = s_queue_push_front(o, s->trial, s->attempt, err);
    if (rc != SW_OK) return rc;
  }
  return SW_OK;
}

/* The drain deadline: grace + SW_ORCH_DRAIN_MARGIN_S after the drain request (margin only, after a second
 * signal).  Past it, every slot still busy is given up: its trial is recorded 'interrupted', the rank
 * 'unresponsive', and the summary asks the caller to end the job with MPI_Abort (a frozen rank would hold
 * MPI_Finalize forever). */
static sw_rc s_give_up_unresponsive(sw_orch_t *o, sw_err_t *err) {
  if (!o->draining || (s_in_flight(o) == 0 && o->n_held == 0)) return SW_OK;
  int64_t deadline = o->drain_ns + (int64_t)(o->opts->drain_grace_s * 1e9);
  if (o->forced && o->forced_ns < deadline) deadline = o->forced_ns;
  if (sw_now_ns() < deadline + (int64_t)(SW_ORCH_DRAIN_MARGIN_S * 1e9)) return SW_OK;
  for (int i = 0; i < o->n_slots; i++) {
    s_slot_t *s = &o->slots[i];
    if (!s->busy) continue;
    sw_proto_result_t r = {.slot = s->trial, .attempt = s->attempt, .host = s_strdup(s->host),
                           .outcome = {.status = SW_TRIAL_INTERRUPTED, .exit_status = -1}};
    r.outcome.start_wall = r.outcome.end_wall = sw_wall_s();
    sw_outcome_set_cause(&r.outcome, "interrupted: rank %d did not answer within %.0f s of the drain deadline "
                         "(frozen or lost); the job ends with MPI_Abort", s->rank, SW_ORCH_DRAIN_MARGIN_S);
    const char *cause = r.outcome.cause;
    sw_log(&o->log, SW_LOG_ERROR, "%s", cause);
    s->lost = 1;
    o->sum->unresponsive++;
    s_rank_event(o, s, "unresponsive", cause);
    sw_rc rc = s_handle_result(o, s, &r, err);
    sw_proto_result_free(&r);
    if (rc != SW_OK) return rc;
  }
  if (o->n_held > 0 && s_record_held(o, err) == SW_OK && o->n_held > 0)
    return sw_err_set(err, SW_ERR_DB, "results database '%s' still locked by another process at the drain deadline: "
                      "%zu finished result(s) held in memory are lost (a rerun redoes them)", o->opts->db_path,
                      o->n_held);
  return SW_OK;
}

static int s_breaker(sw_orch_t *o) {
  if (o->sum->tripped || o->opts->max_failures <= 0 || o->counts.failed < o->opts->max_failures) return o->sum->tripped;
  o->sum->tripped = 1;
  sw_log(&o->log, SW_LOG_ERROR, "circuit breaker: %lld trials failed (--max-failures %d); no more dispatching",
         (long long)o->counts.failed, o->opts->max_failures);
  s_publish(o, "run_tripped", NULL);
  return 1;
}

/* Commits the batch, then writes a consistent copy of the database to opts->snapshot_path (sw_store_snapshot:
 * VACUUM INTO a temporary file, then rename, so readers of the snapshot never see a partial file). */
static sw_rc s_snapshot(sw_orch_t *o, sw_err_t *err) {
  const char *path = o->opts->snapshot_path;
  if (!path || !o->store) return SW_OK;
  sw_rc rc = sw_store_snapshot(o->store, path, err);
  if (rc == SW_OK) {
    o->sum->snapshots++;
    sw_log(&o->log, SW_LOG_INFO, "snapshot of %s written to %s", o->opts->db_path, path);
  }
  return rc;
}

/* A periodic snapshot that fails is reported and retried at the next period; it does not stop the sweep. */
static void s_snapshot_periodic(sw_orch_t *o, int64_t now) {
  if (!o->opts->snapshot_path) return;
  double every = o->opts->snapshot_every_s;
  int64_t next = every > 0 ? now + (int64_t)(every * 1e9) : INT64_MAX;
  if (o->next_snapshot_ns == 0) o->next_snapshot_ns = next;
  if (now < o->next_snapshot_ns) return;
  o->next_snapshot_ns = next;
  sw_err_t e;
  if (s_snapshot(o, &e) != SW_OK) sw_log(&o->log, SW_LOG_ERROR, "%s", e.msg);
}

/* Refreshes the run lock's heartbeat (in the batch, committed with it); a failure is logged, not fatal. */
static void s_lock_heartbeat(sw_orch_t *o, int64_t now) {
  if (!o->lock_held || now < o->next_lock_beat_ns) return;
  o->next_lock_beat_ns = now + (int64_t)(SW_RUNLOCK_HEARTBEAT_S * 1e9);
  sw_err_t e;
  if (sw_store_lock_heartbeat(o->store, (int64_t)getpid(), o->sum->run_id, &e) != SW_OK)
    sw_log(&o->log, SW_LOG_WARN, "%s", e.msg);
}

static sw_rc s_idle(sw_orch_t *o, sw_proto_backoff_t *bo, sw_err_t *err) {
  int64_t now = sw_now_ns();
  s_snapshot_periodic(o, now);
  s_lock_heartbeat(o, now);
  if (now >= o->next_heartbeat_ns) {
    o->next_heartbeat_ns = now + SW_ORCH_HEARTBEAT_NS;
    s_publish(o, "progress", NULL);
  }
  sw_rc rc = sw_store_tick(o->store, err);
  if (rc == SW_ERR_TIMEOUT) rc = SW_OK; /* a locked database: the batch stays open, the next tick commits it */
  if (rc == SW_OK && !o->local) sw_proto_backoff_sleep(bo);
  return rc;
}

/* Trials already counted as recorded but lost with a batch SQLite rolled back after a failed write (of a trial,
 * the lock's heartbeat or a rank event) end the sweep: the database cannot be trusted to take the next ones. */
static sw_rc s_check_lost(const sw_orch_t *o, sw_err_t *err) {
  size_t lost = o->store ? sw_store_lost_trials(o->store) : 0;
  if (lost == 0) return SW_OK;
  return sw_err_set(err, SW_ERR_DB, "%zu recorded trials are not in results database '%s': SQLite rolled their batch "
                    "back after a failed write (the warning above says which); the same command run again after "
                    "fixing the cause runs them", lost, o->opts->db_path);
}

static sw_rc s_loop(sw_orch_t *o, sw_err_t *err) {
  sw_proto_backoff_t bo;
  sw_proto_backoff_init(&bo, SW_ORCH_POLL_MIN_NS, SW_ORCH_POLL_MAX_NS);
  for (;;) {
    s_check_drain(o);
    int stop_dispatch = o->draining || s_breaker(o) || s_all_quarantined(o);
    int paused = o->n_held >= SW_ORCH_BACKLOG_MAX; /* the database is locked: hold no more than this */
    sw_rc rc = stop_dispatch ? s_interrupt_overdue(o, err) : paused ? SW_OK : s_dispatch_idle(o, err);
    if (rc == SW_OK) rc = s_give_up_unresponsive(o, err);
    if (rc == SW_OK) rc = s_give_up_silent(o, err);
    if (rc == SW_OK) rc = s_record_held(o, err);
    if (rc == SW_OK) rc = s_check_lost(o, err);
    if (rc != SW_OK) return rc;
    if (s_in_flight(o) == 0 && o->n_held == 0 && (stop_dispatch || s_queue_size(o) == 0)) return SW_OK;
    int got = 0;
    rc = s_poll(o, &got, err);
    if (rc == SW_OK && got) sw_proto_backoff_reset(&bo);
    else if (rc == SW_OK) rc = s_idle(o, &bo, err);
    if (rc != SW_OK) return rc;
  }
}

/* ---------------------------------------------------------------- entry */

void sw_orch_opts_default(sw_orch_opts_t *opts) {
  memset(opts, 0, sizeof *opts);
  opts->resume = SW_ORCH_RESUME_FINAL;
  opts->retries = -1;
  opts->drain_grace_s = 60.0;
  opts->rank_silence_s = 60.0;
  opts->quarantine_after = 3;
  opts->build = (sw_build_info_t){"unknown", "unknown", -1, "unknown", "", ""};
}

static void s_free(sw_orch_t *o) {
  for (int i = 0; i < o->n_slots; i++) {
    free(o->slots[i].host);
    free(o->slots[i].info_json);
  }
  free(o->slots);
  free(o->queue);
  free(o->first_attempt);
  for (size_t i = 0; i < o->n_held; i++) sw_proto_result_free(&o->held[i].res);
  free(o->held);
  sw_trial_list_free(&o->trials);
  sw_experiment_free(o->exp);
  sw_events_destroy(&o->events);
  sw_buf_free(&o->scratch);
  o->magic = 0;
}

static void s_dry_run(sw_orch_t *o) {
  printf("%s: %zu trials, %lld already recorded (skipped), %zu would run\n", o->opts->exp_path, o->trials.count,
         (long long)o->counts.skipped, s_queue_size(o));
  for (size_t i = o->q_head; i < o->q_len; i++) {
    const sw_trial_spec_t *t = &o->trials.items[o->queue[i].trial];
    printf("  %6zu  %.12s  attempt %u  %s\n", t->index, t->hash, o->queue[i].attempt, t->axes_json ? t->axes_json : "");
  }
}

/* Opens the store for a dry run read-only (a missing database simply has no results). */
static sw_rc s_open_store(sw_orch_t *o, sw_err_t *err) {
  sw_store_opts_t so;
  sw_store_opts_default(&so);
  if (o->opts->batch_trials > 0) so.batch_trials = o->opts->batch_trials;
  if (o->opts->dry_run) {
    if (access(o->opts->db_path, F_OK) != 0) return SW_OK;
    so.read_only = 1;
  }
  sw_rc rc = sw_store_open(&o->store, o->opts->db_path, &so, err);
  if (rc != SW_OK && !strstr(err->msg, o->opts->db_path))
    return sw_err_prefix(err, "cannot use results database '%s'", o->opts->db_path);
  if (rc != SW_OK) return rc;
  const char *warn = sw_store_fs_warning(o->store);
  if (warn) sw_log(&o->log, SW_LOG_WARN, "%s", warn);
  return SW_OK;
}

static void s_log_lock_wait(void *ctx, const char *msg) {
  sw_orch_t *o = ctx;
  sw_log(&o->log, SW_LOG_WARN, "%s; waiting (--wait)", msg);
}

static int s_lock_wait_stop(void *ctx) {
  const sw_orch_t *o = ctx;
  return sw_proto_signal_count() > o->start_signal_count;
}

/* Refuses (or waits) before the read-write open when a live run already holds the database. */
static sw_rc s_precheck_lock(sw_orch_t *o, sw_err_t *err) {
  if (o->opts->dry_run) return SW_OK;
  sw_host_info_t host;
  sw_host_info_read(&host);
  return sw_runlock_precheck(o->opts->db_path, host.hostname, o->opts->wait_for_db, s_lock_wait_stop,
                             s_log_lock_wait, o, err);
}

/* One writer per database: takes the run lock before planning, so the plan sees every earlier result. */
static sw_rc s_take_lock(sw_orch_t *o, sw_err_t *err) {
  if (o->opts->dry_run) return SW_OK;
  sw_host_info_t host;
  sw_host_info_read(&host);
  sw_rc rc = sw_runlock_take(o->store, host.hostname, o->opts->wait_for_db, s_lock_wait_stop, s_log_lock_wait, o, err);
  o->lock_held = rc == SW_OK;
  return rc;
}

static void s_release_lock(sw_orch_t *o) {
  sw_err_t e;
  if (o->lock_held && sw_store_lock_release(o->store, (int64_t)getpid(), &e) != SW_OK)
    sw_log(&o->log, SW_LOG_WARN, "%s", e.msg);
  o->lock_held = 0;
}

/* Planned trials without a final result in this run (sw_attempt_is_final over this run's attempts: an
 * interrupted last attempt, or a failure whose retries the sweep never ran, counts): what a rerun runs.
 * Fallback when the index cannot be read: the planned trials without an ok/failed/timeout row. */
static int64_t s_count_resumable(const sw_orch_t *o, int64_t fallback) {
  sw_attempt_index_t ix;
  sw_err_t e;
  if (sw_store_attempt_index(o->store, o->sum->run_id, &ix, &e) != SW_OK) return fallback;
  int64_t n = 0;
  for (size_t i = 0; i < o->trials.count; i++) {
    if (o->first_attempt[i] == 0) continue; /* skipped by the resume policy */
    const sw_attempt_summary_t *a = sw_attempt_find(&ix, o->trials.items[i].hash);
    n += !a || !sw_attempt_is_final(a, s_max_retries(o, i));
  }
  sw_attempt_index_free(&ix);
  return n;
}

/* The summary's counts as the database holds them after the last commit (sw_store_tally_run). */
static void s_tally(sw_orch_t *o) {
  const char **planned = calloc(o->trials.count ? o->trials.count : 1, sizeof *planned);
  size_t n_planned = 0;
  sw_store_tally_t t;
  sw_err_t e;
  for (size_t i = 0; planned && i < o->trials.count; i++)
    if (o->first_attempt[i] != 0) planned[n_planned++] = o->trials.items[i].hash;
  if (planned && sw_store_tally_run(o->store, o->sum->run_id, planned, n_planned, &t, &e) == SW_OK) {
    o->sum->ok = t.ok;
    o->sum->failed = t.failed;
    o->sum->timeout = t.timeout;
    o->sum->interrupted = t.interrupted;
    o->sum->attempts = t.attempts;
    o->sum->not_run = s_count_resumable(o, t.not_run);
    o->sum->counts_from_db = 1;
  } else {
    sw_log(&o->log, SW_LOG_WARN, "summary from this process's counts: %s", planned ? e.msg : "out of memory");
  }
  free(planned);
}

/* This process's own counts, used when the database cannot be read back. */
static void s_counts_fallback(const sw_orch_t *o, sw_orch_summary_t *sum) {
  sum->ok = o->counts.ok;
  sum->failed = o->counts.failed - o->timeouts;
  sum->timeout = o->timeouts;
  sum->interrupted = o->counts.interrupted;
}

static const char *s_run_status(const sw_orch_summary_t *sum) {
  return sum->tripped ? "tripped" : sum->all_quarantined ? "quarantined" : sum->drained ? "drained" : "done";
}

/* Ends the run row, waiting (with back-off) for a database another process holds locked, up to
 * SW_ORCH_DB_WAIT_MAX_S, or up to the drain margin when draining (the job's walltime is near). */
static sw_rc s_run_end(sw_orch_t *o, const char *status, sw_err_t *err) {
  double limit = o->draining ? SW_ORCH_DRAIN_MARGIN_S : SW_ORCH_DB_WAIT_MAX_S;
  int64_t t0 = sw_now_ns(), step = SW_ORCH_DB_RETRY_MIN_NS;
  sw_rc rc;
  int retried = 0;
  while ((rc = sw_store_run_end(o->store, o->sum->run_id, status, 0, err)) == SW_ERR_TIMEOUT &&
         (double)(sw_now_ns() - t0) * 1e-9 < limit) {
    struct timespec ts = {(time_t)(step / 1000000000LL), (long)(step % 1000000000LL)};
    nanosleep(&ts, NULL);
    step = step * 2 > SW_ORCH_DB_RETRY_MAX_NS ? SW_ORCH_DB_RETRY_MAX_NS : step * 2;
    retried = 1;
  }
  if (retried) o->sum->db_wait_s += (double)(sw_now_ns() - t0) * 1e-9;
  return rc;
}

static sw_rc s_sweep(sw_orch_t *o, int world_size, sw_err_t *err) {
  sw_host_info_t host;
  sw_host_info_read(&host);
  sw_rc rc = s_init_slots(o, world_size, host.hostname, err);
  if (rc == SW_OK) rc = s_begin_run(o, host.hostname, err);
  if (rc != SW_OK) return rc;
  s_lock_heartbeat(o, sw_now_ns()); /* the lock row now names the run */
  sw_events_set_run_id(o->events, o->sum->run_id);
  sw_buf_reset(&o->scratch);
  const char *name = o->exp->name ? o->exp->name : "", *endpoint = sw_events_endpoint(o->events);
  sw_buf_puts(&o->scratch, "\"name\":");
  sw_buf_json_string(&o->scratch, name, strlen(name));
  sw_buf_printf(&o->scratch, ",\"workers\":%d,\"to_run\":%zu,\"endpoint\":", o->n_slots, s_queue_size(o));
  sw_buf_json_string(&o->scratch, endpoint, strlen(endpoint));
  s_publish(o, "run_started", sw_buf_str(&o->scratch));
  sw_log(&o->log, SW_LOG_INFO, "run %lld: %zu trials, %lld skipped (already recorded), %zu to run on %d worker(s)%s%s",
         (long long)o->sum->run_id, o->trials.count, (long long)o->counts.skipped, s_queue_size(o), o->n_slots,
         *sw_events_endpoint(o->events) ? ", events on " : "", sw_events_endpoint(o->events));
  double cpu0 = s_cpu_seconds();
  int64_t t0 = sw_now_ns();
  o->dispatching = 1;
  sw_store_set_busy_timeout(o->store, SW_ORCH_DB_BUSY_MS);
  rc = s_loop(o, err);
  o->sum->wall_s = (double)(sw_now_ns() - t0) * 1e-9;
  o->sum->cpu_s = s_cpu_seconds() - cpu0;
  o->sum->not_run = (int64_t)s_queue_size(o);
  sw_err_t e2;
  const char *status = rc == SW_OK ? s_run_status(o->sum) : "failed";
  if (s_run_end(o, status, &e2) != SW_OK && rc == SW_OK) rc = sw_err_set(err, e2.code, "%s", e2.msg);
  if (s_snapshot(o, &e2) != SW_OK && rc == SW_OK) rc = sw_err_set(err, e2.code, "%s", e2.msg);
  s_tally(o);
  sw_buf_reset(&o->scratch);
  sw_buf_printf(&o->scratch, "\"status\":\"%s\",\"not_run\":%lld,\"wall_s\":", status, (long long)o->sum->not_run);
  sw_buf_json_double(&o->scratch, o->sum->wall_s);
  sw_buf_puts(&o->scratch, ",\"rank0_cpu_s\":");
  sw_buf_json_double(&o->scratch, o->sum->cpu_s);
  s_publish(o, "run_finished", sw_buf_str(&o->scratch));
  return rc;
}

/* Exit status for an error: input problems found before the first dispatch (experiment file, database
 * path, event endpoint) are usage/input errors (2); anything else (MPI, memory, a database failure
 * during the sweep) is a failure (1). */
static int s_exit_code_for(sw_rc rc, int dispatching) {
  if (rc == SW_OK) return 0;
  if (dispatching) return 1;
  switch (rc) {
    case SW_ERR_IO: case SW_ERR_PARSE: case SW_ERR_TRUNCATED: case SW_ERR_RANGE: case SW_ERR_UNSUPPORTED:
    case SW_ERR_INVALID: case SW_ERR_DB: case SW_ERR_NOTFOUND: return 2;
    default: return 1;
  }
}

sw_rc sw_orch_run(const sw_orch_opts_t *opts, int world_size, const sw_orch_local_t *local, sw_orch_summary_t *sum,
                  sw_err_t *err) {
  sw_orch_t o;
  memset(&o, 0, sizeof o);
  memset(sum, 0, sizeof *sum);
  o.magic = SW_ORCH_MAGIC;
  o.opts = opts;
  o.local = world_size <= 1 ? local : NULL;
  o.sum = sum;
  o.retries = opts->retries;
  o.start_signal_count = sw_proto_signal_count();
  sw_log_init(&o.log, "sparsweep[rank 0]", SW_LOG_INFO);
  if (world_size <= 1 && !local) return sw_err_set(err, SW_ERR_INVALID, "one rank and no local executor");
  sw_rc rc = s_load(&o, err);
  /* bind the event endpoint early: subscribers waiting for the run connect while the store opens and
   * the workers start, so they see the first trials (PUB/SUB drops events sent before a subscription) */
  if (rc == SW_OK && !opts->dry_run) rc = s_open_events(&o, err);
  if (rc == SW_OK) rc = s_precheck_lock(&o, err);
  if (rc == SW_OK) rc = s_open_store(&o, err);
  if (rc == SW_OK) rc = s_take_lock(&o, err);
  if (rc == SW_OK) rc = s_plan(&o, err);
  if (rc == SW_OK && opts->dry_run) s_dry_run(&o);
  else if (rc == SW_OK) rc = s_sweep(&o, world_size, err);
  sum->exit_code = s_exit_code_for(rc, o.dispatching);
  if (rc == SW_OK && (sum->tripped || sum->all_quarantined)) sum->exit_code = 1;
  sum->total = o.counts.total;
  sum->skipped = o.counts.skipped;
  if (!sum->counts_from_db) s_counts_fallback(&o, sum);
  sw_err_t e2;
  if (o.store) s_release_lock(&o);
  if (sw_store_close(&o.store, &e2) != SW_OK && rc == SW_OK) {
    rc = sw_err_set(err, e2.code, "%s", e2.msg);
    sum->exit_code = 1;
  }
  s_stop_workers(&o, world_size, sum->exit_code);
  s_free(&o);
  return rc;
}
