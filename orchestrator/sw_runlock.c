/* sw_runlock: taking the database's run lock for rank 0 (see sw_runlock.h). */
#include "orchestrator/sw_runlock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/sw_time.h"
#include "orchestrator/sw_stale.h"

typedef struct s_alive_ctx {
  const char *host; /* this process's host */
} s_alive_ctx_t;

/* A holder on this host is live while its process exists (this very process counts as gone: one sweep at a
 * time per process, so a row left by an earlier sweep of it is stale); elsewhere while its heartbeat is fresh. */
static int s_holder_alive(const sw_store_lock_t *h, void *ctx) {
  const s_alive_ctx_t *c = ctx;
  if (strcmp(h->host, c->host) == 0) {
    if (h->pid == (int64_t)getpid()) return 0;
    return !sw_stale_owner_gone(h->pid, h->pid_start[0] ? h->pid_start : NULL);
  }
  return sw_wall_s() - h->heartbeat_s < h->stale_after_s;
}

static void s_describe(const char *db_path, const sw_store_lock_t *h, char *buf, size_t cap) {
  char run[48] = "a run that has not recorded its run id yet";
  if (h->run_id > 0) snprintf(run, sizeof run, "run %lld", (long long)h->run_id);
  snprintf(buf, cap,
           "results database '%s' is in use by %s (rank 0 pid %lld on host %s, started %.0f s ago, heartbeat %.0f s "
           "ago): one sweep per database; wait for it with --wait, or give this sweep another --db",
           db_path, run, (long long)h->pid, h->host, sw_wall_s() - h->acquired_s,
           sw_wall_s() - h->heartbeat_s);
}

/* One read-only look at the lock row of db_path: *busy = 1 with *holder when a live run holds it. */
static sw_rc s_peek_file(const char *db_path, const char *host, sw_store_lock_t *holder, int *busy, sw_err_t *err) {
  sw_store_opts_t so;
  sw_store_opts_default(&so);
  so.read_only = 1;
  sw_store_t *st = NULL;
  int found = 0;
  *busy = 0;
  if (access(db_path, F_OK) != 0 || sw_store_open(&st, db_path, &so, err) != SW_OK) return SW_OK; /* open reports */
  s_alive_ctx_t actx = {host};
  sw_rc rc = sw_store_lock_peek(st, holder, &found, err);
  *busy = rc == SW_OK && found && s_holder_alive(holder, &actx);
  sw_err_t ignored;
  sw_store_close(&st, &ignored);
  return rc;
}

sw_rc sw_runlock_precheck(const char *db_path, const char *host, int wait, int (*stop)(void *ctx),
                          void (*log_wait)(void *ctx, const char *msg), void *ctx, sw_err_t *err) {
  for (int round = 0;; round++) {
    sw_store_lock_t holder;
    int busy = 0;
    sw_rc rc = s_peek_file(db_path, host ? host : "", &holder, &busy, err);
    if (rc != SW_OK || !busy) return rc;
    char msg[SW_ERR_MSG_MAX - 64];
    s_describe(db_path, &holder, msg, sizeof msg);
    if (!wait || (stop && stop(ctx))) return sw_err_set(err, SW_ERR_INVALID, "%s", msg);
    if (round == 0 && log_wait) log_wait(ctx, msg);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
  }
}

sw_rc sw_runlock_take(sw_store_t *st, const char *host, int wait, int (*stop)(void *ctx),
                      void (*log_wait)(void *ctx, const char *msg), void *ctx, sw_err_t *err) {
  sw_store_lock_t me, holder;
  memset(&me, 0, sizeof me);
  snprintf(me.host, sizeof me.host, "%s", host ? host : "");
  me.pid = (int64_t)getpid();
  sw_stale_self_start(me.pid_start, sizeof me.pid_start);
  me.stale_after_s = SW_RUNLOCK_STALE_AFTER_S;
  s_alive_ctx_t actx = {me.host};
  for (int round = 0;; round++) {
    int acquired = 0;
    sw_rc rc = sw_store_lock_acquire(st, &me, s_holder_alive, &actx, &acquired, &holder, err);
    if (rc != SW_OK || acquired) return rc;
    char msg[SW_ERR_MSG_MAX - 64];
    s_describe(sw_store_path(st), &holder, msg, sizeof msg);
    if (!wait || (stop && stop(ctx))) return sw_err_set(err, SW_ERR_INVALID, "%s", msg);
    if (round == 0 && log_wait) log_wait(ctx, msg);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
  }
}
