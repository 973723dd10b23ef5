/* sw_runlock: one `sparsweep run` per results database.  Rank 0 takes the database's run lock
 * (results/sw_store.h, table run_lock) before planning: a holder on this host counts as live while its
 * process (pid and start time, as sw_stale checks them) exists; a holder on another host while its heartbeat
 * is younger than its stale-after time.  A second run is refused naming the first, or waits (--wait). */
#ifndef SW_RUNLOCK_H
#define SW_RUNLOCK_H
#include "common/sw_err.h"
#include "results/sw_store.h"

#define SW_RUNLOCK_STALE_AFTER_S 60.0 /* another host's holder is presumed dead after this without heartbeat */
#define SW_RUNLOCK_HEARTBEAT_S 10.0   /* the holder refreshes its heartbeat this often */

/* Takes the lock for this process on host.  When another live run holds it: with wait = 0 returns
 * SW_ERR_INVALID with a message naming the database and the other run (host, pid, run id, age of its
 * heartbeat); with wait = 1 retries every second until it is free, or until stop(ctx) (may be NULL) returns
 * non-zero (then SW_ERR_INVALID as without wait).  log_wait (may be NULL) is called once when waiting starts. */
sw_rc sw_runlock_take(sw_store_t *st, const char *host, int wait, int (*stop)(void *ctx),
                      void (*log_wait)(void *ctx, const char *msg), void *ctx, sw_err_t *err);

/* Before opening the database for writing (which takes SQLite's write lock, and waits for it while the other
 * run's batch holds it): reads the lock row through a read-only connection and, while a live run holds it,
 * refuses or waits exactly as sw_runlock_take.  A missing file or one without a run lock passes. */
sw_rc sw_runlock_precheck(const char *db_path, const char *host, int wait, int (*stop)(void *ctx),
                          void (*log_wait)(void *ctx, const char *msg), void *ctx, sw_err_t *err);

#endif
