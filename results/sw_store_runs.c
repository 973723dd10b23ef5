/* sw_store_runs: whole-database operations the orchestrator needs without touching SQL itself: a consistent
 * snapshot of the file (VACUUM INTO, then rename) and the list of runs still marked 'running' (read by
 * orchestrator/sw_stale.c to find runs whose rank 0 died).  Both go through the store's one connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/sw_store_int.h"

/* VACUUM INTO tmp: a fresh, consistent copy of the committed database. */
static sw_rc s_vacuum_into(sw_store_t *st, const char *tmp, sw_err_t *err) {
  char *sql = sqlite3_mprintf("VACUUM INTO %Q", tmp);
  char *msg = NULL;
  sw_rc rc = SW_OK;
  if (!sql || sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    rc = sw_err_set(err, SW_ERR_IO, "cannot write snapshot '%s': %s", tmp, msg ? msg : "out of memory");
  sqlite3_free(msg);
  sqlite3_free(sql);
  return rc;
}

sw_rc sw_store_snapshot(sw_store_t *st, const char *path, sw_err_t *err) {
  SW_STORE_CHECK(st);
  sw_rc rc = sw_store_flush(st, err);
  if (rc != SW_OK) return rc;
  char *tmp = sqlite3_mprintf("%s.tmp-%ld", path, (long)getpid());
  if (!tmp) return sw_err_set(err, SW_ERR_NOMEM, "snapshot of '%s': out of memory", st->path);
  unlink(tmp); /* VACUUM INTO refuses an existing file: a leftover of a killed run with this pid */
  rc = s_vacuum_into(st, tmp, err);
  if (rc == SW_OK && rename(tmp, path) != 0)
    rc = sw_err_set(err, SW_ERR_IO, "cannot rename snapshot '%s' to '%s': %s", tmp, path, strerror(errno));
  if (rc != SW_OK) unlink(tmp);
  sqlite3_free(tmp);
  return rc;
}

sw_rc sw_store_each_running_run(sw_store_t *st, sw_store_run_fn fn, void *ctx, sw_err_t *err) {
  SW_STORE_CHECK(st);
  static const char sql[] =
      "SELECT r.run_id, r.env, COALESCE((SELECT MAX(t.ended_s) FROM trials t WHERE t.run_id = r.run_id), "
      "r.started_s) FROM runs r WHERE r.status = 'running' AND r.imported_from IS NULL ORDER BY r.run_id";
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
    return sw_err_set(err, SW_ERR_IO, "cannot look for aborted runs in '%s': %s", st->path, sqlite3_errmsg(st->db));
  sw_rc rc = SW_OK;
  int   step;
  while (rc == SW_OK && (step = sqlite3_step(q)) == SQLITE_ROW)
    rc = fn(ctx, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1), sqlite3_column_double(q, 2),
            err);
  if (rc == SW_OK && step != SQLITE_DONE)
    rc = sw_err_set(err, SW_ERR_IO, "cannot look for aborted runs in '%s': %s", st->path, sqlite3_errmsg(st->db));
  sqlite3_finalize(q);
  return rc;
}
