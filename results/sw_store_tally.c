/* sw_store_tally: counting a run's results back from the database (see sw_store_tally_run in
 * results/sw_store.h); read-only queries on the store's connection. */
#include <string.h>

#include "results/sw_store_int.h"

static sw_rc s_fail(sw_store_t *st, sqlite3_stmt *q, sw_store_tally_t *out, sw_err_t *err) {
  sqlite3_finalize(q);
  memset(out, 0, sizeof *out);
  return sw_err_set(err, SW_ERR_DB, "cannot count the results of the run in '%s': %s", sw_store_path(st),
                    sqlite3_errmsg(st->db));
}

/* Each trial's last attempt in the run, by status, and the number of rows. */
static sw_rc s_count_status(sw_store_t *st, int64_t run_id, sw_store_tally_t *out, sw_err_t *err) {
  static const char sql[] =
      "SELECT status, count(*) FROM trials t WHERE run_id = ?1 AND attempt = (SELECT max(attempt) FROM trials u"
      " WHERE u.run_id = ?1 AND u.config_hash = t.config_hash) GROUP BY status"
      " UNION ALL SELECT 'rows', count(*) FROM trials WHERE run_id = ?1";
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return s_fail(st, q, out, err);
  sqlite3_bind_int64(q, 1, run_id);
  int step;
  while ((step = sqlite3_step(q)) == SQLITE_ROW) {
    const char *status = (const char *)sqlite3_column_text(q, 0);
    int64_t     n = sqlite3_column_int64(q, 1);
    if (!status) continue;
    if (strcmp(status, "ok") == 0) out->ok = n;
    else if (strcmp(status, "failed") == 0) out->failed = n;
    else if (strcmp(status, "timeout") == 0) out->timeout = n;
    else if (strcmp(status, "interrupted") == 0) out->interrupted = n;
    else if (strcmp(status, "rows") == 0) out->attempts = n;
  }
  if (step != SQLITE_DONE) return s_fail(st, q, out, err);
  sqlite3_finalize(q);
  return SW_OK;
}

/* Planned trials without a final (ok, failed, timeout) row in the run. */
static sw_rc s_count_not_run(sw_store_t *st, int64_t run_id, const char *const *planned, size_t n_planned,
                             sw_store_tally_t *out, sw_err_t *err) {
  static const char sql[] = "SELECT 1 FROM trials WHERE run_id = ?1 AND config_hash = ?2 AND status IN"
                            " ('ok', 'failed', 'timeout') LIMIT 1";
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return s_fail(st, q, out, err);
  for (size_t i = 0; i < n_planned; i++) {
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, run_id);
    sqlite3_bind_text(q, 2, planned[i], -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_DONE) out->not_run++;
    else if (step != SQLITE_ROW) return s_fail(st, q, out, err);
  }
  sqlite3_finalize(q);
  return SW_OK;
}

sw_rc sw_store_tally_run(sw_store_t *st, int64_t run_id, const char *const *planned, size_t n_planned,
                         sw_store_tally_t *out, sw_err_t *err) {
  memset(out, 0, sizeof *out);
  sw_rc rc = s_count_status(st, run_id, out, err);
  if (rc == SW_OK) rc = s_count_not_run(st, run_id, planned, n_planned, out, err);
  return rc;
}
