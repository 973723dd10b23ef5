/* sw_store_merge: copies the runs and trials of another results database into this one (job arrays, separate
 * allocations).  The input is ATTACHed read-only; runs are identified by uuid (copied once, provenance
 * intact), trials by (run uuid, config hash, attempt), so merging is idempotent.  By default an ok trial
 * whose config already has an ok result is skipped, so every config keeps one ok result, as resume does. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sw_time.h"
#include "results/sw_store_int.h"

/* Columns copied verbatim (everything except run_id/trial_id and the import columns). */
#define SW_RUN_COLS                                                                                             \
  "uuid, started_s, ended_s, status, spec_name, spec_text, spec_hash, sw_version, git_commit, git_dirty, hosts,"  \
  " n_ranks, cpu_model, cores, mem_bytes, compiler, cflags, openblas_version, openblas_core, mpi_version,"        \
  " papi_version, papi_presets, env, machine_fingerprint, command_line, cpu_id, kernel_cflags"
#define SW_TRIAL_COLS                                                                                           \
  "config_hash, config, status, attempt, rank, host, started_s, ended_s, duration_s, signal, signal_name,"        \
  " exit_status, stderr_tail, message"

/* Statements used per input trial. */
typedef struct merge_stmts {
  sqlite3_stmt *list;      /* input trials with their mapped output run */
  sqlite3_stmt *same;      /* exact duplicate already present? */
  sqlite3_stmt *has_ok;    /* an ok trial for this config already present? */
  sqlite3_stmt *copy;      /* trial row */
  sqlite3_stmt *children[3]; /* metrics, samples, counters */
} merge_stmts_t;

static const char sw_merge_sql[][400] = {
    "SELECT t.trial_id, m.dst_run, t.config_hash, t.attempt, t.status FROM src.trials t"
    " JOIN temp.sw_merge_map m ON m.src_run = t.run_id ORDER BY t.trial_id",
    "SELECT 1 FROM main.trials WHERE run_id = ?1 AND config_hash = ?2 AND attempt = ?3 LIMIT 1",
    "SELECT 1 FROM main.trials WHERE config_hash = ?1 AND status = 'ok' LIMIT 1",
    "INSERT INTO main.trials(run_id, " SW_TRIAL_COLS ") SELECT ?1, " SW_TRIAL_COLS
    " FROM src.trials WHERE trial_id = ?2",
    "INSERT INTO main.metrics SELECT ?1, name, value, unit FROM src.metrics WHERE trial_id = ?2",
    "INSERT INTO main.samples SELECT ?1, series, rep, value FROM src.samples WHERE trial_id = ?2",
    "INSERT INTO main.counters SELECT ?1, series, name, value, reason FROM src.counters WHERE trial_id = ?2"};

static sqlite3_stmt **merge_slot(merge_stmts_t *m, size_t i) {
  sqlite3_stmt **slots[] = {&m->list, &m->same, &m->has_ok, &m->copy, &m->children[0], &m->children[1],
                            &m->children[2]};
  return slots[i];
}

static void merge_finalize(merge_stmts_t *m) {
  for (size_t i = 0; i < sizeof sw_merge_sql / sizeof sw_merge_sql[0]; i++) {
    sqlite3_finalize(*merge_slot(m, i));
    *merge_slot(m, i) = NULL;
  }
}

static sw_rc merge_prepare(sw_store_t *st, merge_stmts_t *m, sw_err_t *err) {
  for (size_t i = 0; i < sizeof sw_merge_sql / sizeof sw_merge_sql[0]; i++)
    if (sqlite3_prepare_v2(st->db, sw_merge_sql[i], -1, merge_slot(m, i), NULL) != SQLITE_OK)
      return sw_store_db_err(st, err, "cannot prepare the merge into");
  return SW_OK;
}

static int step_exists(sqlite3_stmt *s) {
  int found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_reset(s);
  return found;
}

/* Decides whether input trial row (current row of m->list) is already represented in the output. */
static int trial_is_duplicate(merge_stmts_t *m, const sw_merge_opts_t *opts) {
  sqlite3_stmt *l = m->list;
  sqlite3_bind_int64(m->same, 1, sqlite3_column_int64(l, 1));
  sqlite3_bind_value(m->same, 2, sqlite3_column_value(l, 2));
  sqlite3_bind_int64(m->same, 3, sqlite3_column_int64(l, 3));
  if (step_exists(m->same)) return 1;
  const unsigned char *status = sqlite3_column_text(l, 4);
  if (opts->keep_repeats || !status || strcmp((const char *)status, "ok") != 0) return 0;
  sqlite3_bind_value(m->has_ok, 1, sqlite3_column_value(l, 2));
  return step_exists(m->has_ok);
}

static sw_rc copy_trial(sw_store_t *st, merge_stmts_t *m, sw_err_t *err) {
  int64_t src_id = sqlite3_column_int64(m->list, 0);
  sqlite3_bind_int64(m->copy, 1, sqlite3_column_int64(m->list, 1));
  sqlite3_bind_int64(m->copy, 2, src_id);
  int rc = sqlite3_step(m->copy);
  sqlite3_reset(m->copy);
  if (rc != SQLITE_DONE) return sw_store_db_err(st, err, "cannot copy a trial into");
  int64_t dst_id = sqlite3_last_insert_rowid(st->db);
  for (int i = 0; i < 3; i++) {
    sqlite3_bind_int64(m->children[i], 1, dst_id);
    sqlite3_bind_int64(m->children[i], 2, src_id);
    rc = sqlite3_step(m->children[i]);
    sqlite3_reset(m->children[i]);
    if (rc != SQLITE_DONE) return sw_store_db_err(st, err, "cannot copy trial results into");
  }
  return SW_OK;
}

static sw_rc merge_trials(sw_store_t *st, const sw_merge_opts_t *opts, sw_merge_stats_t *stats, sw_err_t *err) {
  merge_stmts_t m;
  memset(&m, 0, sizeof m);
  sw_rc rc = merge_prepare(st, &m, err);
  int step = SQLITE_DONE;
  while (rc == SW_OK && (step = sqlite3_step(m.list)) == SQLITE_ROW) {
    if (trial_is_duplicate(&m, opts)) {
      stats->trials_skipped++;
      continue;
    }
    rc = copy_trial(st, &m, err);
    if (rc == SW_OK) stats->trials_added++;
  }
  if (rc == SW_OK && step != SQLITE_DONE) rc = sw_store_db_err(st, err, "cannot read the merge input for");
  merge_finalize(&m);
  return rc;
}

static sw_rc merge_runs(sw_store_t *st, const char *in_path, sw_merge_stats_t *stats, sw_err_t *err) {
  sqlite3_stmt *s = NULL;
  const char *sql = "INSERT INTO main.runs(" SW_RUN_COLS ", imported_from, imported_s) SELECT " SW_RUN_COLS
                    ", coalesce(imported_from, ?1), coalesce(imported_s, ?2) FROM src.runs"
                    " WHERE uuid NOT IN (SELECT uuid FROM main.runs) ORDER BY run_id";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return sw_store_db_err(st, err, "cannot merge runs into");
  sqlite3_bind_text(s, 1, in_path, -1, SQLITE_STATIC);
  sqlite3_bind_double(s, 2, sw_wall_s());
  sw_rc rc = sqlite3_step(s) == SQLITE_DONE ? SW_OK : sw_store_db_err(st, err, "cannot merge runs into");
  sqlite3_finalize(s);
  if (rc != SW_OK) return rc;
  stats->runs_added = sqlite3_changes(st->db);
  return sw_store_exec(st,
                       "DROP TABLE IF EXISTS temp.sw_merge_map;"
                       "CREATE TEMP TABLE sw_merge_map(src_run INTEGER PRIMARY KEY, dst_run INTEGER NOT NULL);"
                       "INSERT INTO temp.sw_merge_map SELECT s.run_id, m.run_id FROM src.runs s"
                       " JOIN main.runs m ON m.uuid = s.uuid",
                       "cannot map runs in", err);
}

static sw_rc check_input_version(sw_store_t *st, const char *in_path, sw_err_t *err) {
  int version = 0, app_id = 0;
  sw_rc rc = sw_store_read_version(st, "src", &version, &app_id, err);
  if (rc != SW_OK) return sw_err_set(err, SW_ERR_DB, "cannot read merge input '%s': %s", in_path, sqlite3_errmsg(st->db));
  if (app_id != SW_STORE_APPLICATION_ID || version == 0)
    return sw_err_set(err, SW_ERR_DB, "merge input '%s' is not a sparsweep results database", in_path);
  if (version > SW_STORE_SCHEMA_VERSION)
    return sw_err_set(err, SW_ERR_UNSUPPORTED,
                      "merge input '%s' has schema version %d, newer than this sparsweep's version %d", in_path,
                      version, SW_STORE_SCHEMA_VERSION);
  if (version < SW_STORE_SCHEMA_VERSION)
    return sw_err_set(err, SW_ERR_UNSUPPORTED,
                      "merge input '%s' has schema version %d, older than %d: open it once with this sparsweep "
                      "(e.g. `sparsweep report`) to migrate",
                      in_path, version, SW_STORE_SCHEMA_VERSION);
  return SW_OK;
}

static sw_rc attach_input(sw_store_t *st, const char *in_path, sw_err_t *err) {
  if (access(in_path, R_OK) != 0)
    return sw_err_set(err, SW_ERR_IO, "cannot read merge input '%s': no such readable file", in_path);
  char a[PATH_MAX], b[PATH_MAX];
  if (realpath(in_path, a) && realpath(st->path, b) && strcmp(a, b) == 0)
    return sw_err_set(err, SW_ERR_INVALID, "merge input '%s' is the output database itself", in_path);
  char *uri = sw_store_uri(in_path, "mode=ro");
  if (!uri) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  sqlite3_stmt *s = NULL;
  sw_rc rc = SW_OK;
  if (sqlite3_prepare_v2(st->db, "ATTACH DATABASE ?1 AS src", -1, &s, NULL) != SQLITE_OK) rc = SW_ERR_DB;
  if (rc == SW_OK) sqlite3_bind_text(s, 1, uri, -1, SQLITE_STATIC);
  if (rc == SW_OK && sqlite3_step(s) != SQLITE_DONE) rc = SW_ERR_DB;
  if (rc != SW_OK) sw_err_set(err, SW_ERR_DB, "cannot open merge input '%s': %s", in_path, sqlite3_errmsg(st->db));
  sqlite3_finalize(s);
  free(uri);
  return rc;
}

sw_rc sw_store_merge(sw_store_t *st, const char *in_path, const sw_merge_opts_t *opts, sw_merge_stats_t *stats,
                     sw_err_t *err) {
  SW_STORE_CHECK(st);
  sw_merge_opts_t defaults = {0};
  sw_merge_stats_t local;
  if (!opts) opts = &defaults;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  sw_rc rc = sw_store_flush(st, err);
  if (rc == SW_OK) rc = attach_input(st, in_path, err);
  if (rc != SW_OK) return rc;
  rc = check_input_version(st, in_path, err);
  if (rc == SW_OK) rc = sw_store_exec(st, "BEGIN IMMEDIATE", "cannot start the merge into", err);
  if (rc == SW_OK) {
    rc = merge_runs(st, in_path, stats, err);
    if (rc == SW_OK) rc = merge_trials(st, opts, stats, err);
    if (rc == SW_OK) rc = sw_store_exec(st, "COMMIT", "cannot commit the merge into", err);
    if (rc != SW_OK && !sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  }
  sqlite3_exec(st->db, "DROP TABLE IF EXISTS temp.sw_merge_map", NULL, NULL, NULL);
  sqlite3_exec(st->db, "DETACH DATABASE src", NULL, NULL, NULL);
  if (rc != SW_OK) memset(stats, 0, sizeof *stats);
  return rc;
}
