/* sw_store_lock: one writer per database.  The run lock is one row of table run_lock, checked and written in
 * the same BEGIN IMMEDIATE transaction, so of two runs started together exactly one sees no live holder;
 * whether a recorded holder still runs is the caller's decision (pid and start time on the same host, the
 * heartbeat on another, see orchestrator/sw_runlock.c).  Also the rank events (infrastructure failures). */
#include <stdio.h>
#include <string.h>

#include "common/sw_time.h"
#include "results/sw_store_int.h"

static void s_copy_text(char *dst, size_t cap, const unsigned char *text) {
  snprintf(dst, cap, "%s", text ? (const char *)text : "");
}

/* Reads the lock row into *holder; *found = 0 when there is none. */
static sw_rc s_read_lock(sw_store_t *st, sw_store_lock_t *holder, int *found, sw_err_t *err) {
  static const char sql[] = "SELECT COALESCE(run_id, 0), host, pid, pid_start, acquired_s, heartbeat_s, stale_after_s"
                            " FROM run_lock WHERE lock_id = 1";
  sqlite3_stmt *q = NULL;
  *found = 0;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot read the run lock of");
  int step = sqlite3_step(q);
  if (step == SQLITE_ROW) {
    memset(holder, 0, sizeof *holder);
    holder->run_id = sqlite3_column_int64(q, 0);
    s_copy_text(holder->host, sizeof holder->host, sqlite3_column_text(q, 1));
    holder->pid = sqlite3_column_int64(q, 2);
    s_copy_text(holder->pid_start, sizeof holder->pid_start, sqlite3_column_text(q, 3));
    holder->acquired_s = sqlite3_column_double(q, 4);
    holder->heartbeat_s = sqlite3_column_double(q, 5);
    holder->stale_after_s = sqlite3_column_double(q, 6);
    *found = 1;
  }
  sw_rc rc = step == SQLITE_ROW || step == SQLITE_DONE ? SW_OK : sw_store_db_err(st, err, "cannot read the run lock of");
  sqlite3_finalize(q);
  return rc;
}

sw_rc sw_store_lock_peek(sw_store_t *st, sw_store_lock_t *holder, int *found, sw_err_t *err) {
  SW_STORE_CHECK(st);
  *found = 0;
  sqlite3_stmt *q = NULL;
  int has_table = sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE name = 'run_lock'", -1, &q, NULL) ==
                      SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
  sqlite3_finalize(q);
  return has_table ? s_read_lock(st, holder, found, err) : SW_OK;
}

static sw_rc s_write_lock(sw_store_t *st, const sw_store_lock_t *me, sw_err_t *err) {
  static const char sql[] = "INSERT OR REPLACE INTO run_lock(lock_id, run_id, host, pid, pid_start, acquired_s,"
                            " heartbeat_s, stale_after_s) VALUES(1, NULLIF(?1, 0), ?2, ?3, NULLIF(?4, ''), ?5, ?5, ?6)";
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot take the run lock of");
  double now = sw_wall_s();
  sqlite3_bind_int64(q, 1, me->run_id);
  sqlite3_bind_text(q, 2, me->host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(q, 3, me->pid);
  sqlite3_bind_text(q, 4, me->pid_start, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(q, 5, now);
  sqlite3_bind_double(q, 6, me->stale_after_s);
  sw_rc rc = sqlite3_step(q) == SQLITE_DONE ? SW_OK : sw_store_db_err(st, err, "cannot take the run lock of");
  sqlite3_finalize(q);
  return rc;
}

sw_rc sw_store_lock_acquire(sw_store_t *st, const sw_store_lock_t *me, sw_store_lock_alive_fn alive, void *ctx,
                            int *acquired, sw_store_lock_t *holder, sw_err_t *err) {
  SW_STORE_CHECK(st);
  *acquired = 0;
  if (st->in_txn) return sw_err_set(err, SW_ERR_INTERNAL, "run lock of '%s' taken inside a batch", st->path);
  sw_rc rc = sw_store_exec(st, "BEGIN IMMEDIATE", "cannot lock results database", err);
  if (rc != SW_OK) return rc;
  int found = 0;
  rc = s_read_lock(st, holder, &found, err);
  int busy = rc == SW_OK && found && alive(holder, ctx);
  if (rc == SW_OK && !busy) rc = s_write_lock(st, me, err);
  if (rc == SW_OK) rc = sw_store_exec(st, "COMMIT", "cannot commit the run lock of", err);
  if (rc != SW_OK) {
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  *acquired = !busy;
  return SW_OK;
}

/* Runs one write statement inside the batch, binding a, b and now to ?1..?3 (a bind beyond the statement's
 * parameters is refused by SQLite with SQLITE_RANGE and ignored here). */
static sw_rc s_batch_write(sw_store_t *st, const char *sql, int64_t a, int64_t b, double now, const char *what,
                           sw_err_t *err) {
  sw_rc rc = sw_store_batch_begin(st, err);
  if (rc != SW_OK) return rc;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return sw_store_db_err(st, err, what);
  sqlite3_bind_int64(q, 1, a);
  sqlite3_bind_int64(q, 2, b);
  sqlite3_bind_double(q, 3, now);
  rc = sqlite3_step(q) == SQLITE_DONE ? SW_OK : sw_store_db_err(st, err, what);
  sqlite3_finalize(q);
  if (rc != SW_OK) sw_store_note_lost_batch(st, err);
  return rc;
}

sw_rc sw_store_lock_heartbeat(sw_store_t *st, int64_t pid, int64_t run_id, sw_err_t *err) {
  SW_STORE_CHECK(st);
  return s_batch_write(st, "UPDATE run_lock SET run_id = NULLIF(?2, 0), heartbeat_s = ?3 WHERE pid = ?1", pid, run_id,
                       sw_wall_s(), "cannot refresh the run lock of", err);
}

sw_rc sw_store_lock_release(sw_store_t *st, int64_t pid, sw_err_t *err) {
  SW_STORE_CHECK(st);
  sw_rc rc = s_batch_write(st, "DELETE FROM run_lock WHERE pid = ?1", pid, 0, 0.0,
                           "cannot release the run lock of", err);
  return rc == SW_OK ? sw_store_flush(st, err) : rc;
}

sw_rc sw_store_add_rank_event(sw_store_t *st, const sw_store_rank_event_t *ev, sw_err_t *err) {
  SW_STORE_CHECK(st);
  static const char sql[] = "INSERT INTO rank_events(run_id, rank, host, at_s, kind, message) VALUES(?1,?2,?3,?4,?5,?6)";
  sw_rc rc = sw_store_batch_begin(st, err);
  if (rc != SW_OK) return rc;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot record a rank event in");
  sqlite3_bind_int64(q, 1, ev->run_id);
  sqlite3_bind_int(q, 2, ev->rank);
  if (ev->host) sqlite3_bind_text(q, 3, ev->host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(q, 4, sw_wall_s());
  sqlite3_bind_text(q, 5, ev->kind, -1, SQLITE_TRANSIENT);
  if (ev->message) sqlite3_bind_text(q, 6, ev->message, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(q) == SQLITE_DONE ? SW_OK : sw_store_db_err(st, err, "cannot record a rank event in");
  sqlite3_finalize(q);
  if (rc != SW_OK) sw_store_note_lost_batch(st, err);
  return rc;
}
