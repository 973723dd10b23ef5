/* sw_store_trials: recording finished trials in batched transactions, and the resume queries.
 * A batch is one BEGIN IMMEDIATE ... COMMIT; each trial inside it is a SAVEPOINT, so a trial goes in with
 * all its rows or not at all.  Result JSON is unpacked by SQLite's JSON1 (json_each) in INSERT ... SELECT,
 * and the tables' CHECK constraints reject values of the wrong type. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_time.h"
#include "results/sw_store_int.h"

/* ---- prepared statements ------------------------------------------------------------------------- */

static const char sw_trial_insert_sql[] =
    "INSERT INTO trials(run_id, config_hash, config, status, attempt, rank, host, started_s, ended_s, duration_s,"
    " signal, signal_name, exit_status, stderr_tail, message)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
static const char sw_metrics_ingest_sql[] =
    "INSERT INTO metrics(trial_id, name, value, unit) SELECT ?1, json_extract(value, '$.name'),"
    " json_extract(value, '$.value'), json_extract(value, '$.unit') FROM json_each(?2, '$.metrics')";
static const char sw_samples_ingest_sql[] =
    "INSERT INTO samples(trial_id, series, rep, value) SELECT ?1, json_extract(value, '$.series'),"
    " json_extract(value, '$.rep'), json_extract(value, '$.value') FROM json_each(?2, '$.samples')";
static const char sw_counters_ingest_sql[] =
    "INSERT INTO counters(trial_id, series, name, value, reason) SELECT ?1, json_extract(value, '$.series'),"
    " json_extract(value, '$.name'), json_extract(value, '$.value'), coalesce(json_extract(value, '$.reason'),"
    " CASE WHEN json_extract(value, '$.value') IS NULL THEN 'value missing or not finite in the result' END)"
    " FROM json_each(?2, '$.counters')";
/* Result JSON shape: 1 when valid, an object with "v" = 1, and every present list an array. */
static const char sw_result_check_sql[] =
    "SELECT json_valid(?1),"
    " CASE WHEN json_valid(?1) THEN json_type(?1) END,"
    " CASE WHEN json_valid(?1) AND json_type(?1) = 'object' THEN json_extract(?1, '$.v') END,"
    " CASE WHEN json_valid(?1) AND json_type(?1) = 'object' THEN"
    "  coalesce(json_type(?1, '$.metrics'), 'array') = 'array' AND coalesce(json_type(?1, '$.samples'), 'array') = 'array'"
    "  AND coalesce(json_type(?1, '$.counters'), 'array') = 'array' END";

sw_rc sw_store_prepare_inserts(sw_store_t *st, sw_err_t *err) {
  struct {
    const char    *sql;
    sqlite3_stmt **stmt;
  } list[] = {{sw_trial_insert_sql, &st->ins_trial},
              {sw_metrics_ingest_sql, &st->ins_metrics},
              {sw_samples_ingest_sql, &st->ins_samples},
              {sw_counters_ingest_sql, &st->ins_counters},
              {sw_result_check_sql, &st->chk_result}};
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
    if (sqlite3_prepare_v3(st->db, list[i].sql, -1, SQLITE_PREPARE_PERSISTENT, list[i].stmt, NULL) != SQLITE_OK)
      return sw_store_db_err(st, err, "cannot prepare statements for");
  return SW_OK;
}

void sw_store_finalize_inserts(sw_store_t *st) {
  sqlite3_finalize(st->ins_trial);
  sqlite3_finalize(st->ins_metrics);
  sqlite3_finalize(st->ins_samples);
  sqlite3_finalize(st->ins_counters);
  sqlite3_finalize(st->chk_result);
  st->ins_trial = st->ins_metrics = st->ins_samples = st->ins_counters = st->chk_result = NULL;
}

/* ---- batches ------------------------------------------------------------------------------------- */

void sw_store_note_lost_batch(sw_store_t *st, sw_err_t *err) {
  if (!st->in_txn || !sqlite3_get_autocommit(st->db)) return;
  if (err && err->code != SW_OK && st->pending > 0) {
    char more[96];
    snprintf(more, sizeof more, " (%zu uncommitted trials of this batch are lost; earlier commits are kept)",
             st->pending);
    size_t len = strlen(err->msg);
    snprintf(err->msg + len, sizeof err->msg - len, "%s", more);
  }
  st->lost += st->pending;
  st->in_txn = 0;
  st->pending = 0;
}

size_t sw_store_lost_trials(const sw_store_t *st) {
  SW_STORE_CHECK(st);
  return st->lost;
}

sw_rc sw_store_batch_begin(sw_store_t *st, sw_err_t *err) {
  sw_store_note_lost_batch(st, NULL); /* a batch rolled back behind the store's back is not continued */
  if (st->in_txn) return SW_OK;
  sw_rc rc = sw_store_exec(st, "BEGIN IMMEDIATE", "cannot start a write transaction in", err);
  if (rc != SW_OK) return rc;
  st->in_txn = 1;
  st->pending = 0;
  st->batch_t0 = sw_now_ns();
  return SW_OK;
}

sw_rc sw_store_flush(sw_store_t *st, sw_err_t *err) {
  SW_STORE_CHECK(st);
  if (!st->in_txn) return SW_OK;
  if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
    st->in_txn = 0;
    st->pending = 0;
    return SW_OK;
  }
  int code = sqlite3_errcode(st->db) & 0xff;
  if ((code == SQLITE_BUSY || code == SQLITE_LOCKED) && !sqlite3_get_autocommit(st->db))
    return sw_err_set(err, SW_ERR_TIMEOUT, "cannot commit %zu trials to results database '%s' yet: %s (they stay in "
                      "the open batch)", st->pending, st->path, sqlite3_errmsg(st->db));
  sw_err_set(err, SW_ERR_DB, "cannot commit %zu trials to results database '%s': %s", st->pending, st->path,
             sqlite3_errmsg(st->db));
  if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  sw_store_note_lost_batch(st, err);
  return SW_ERR_DB;
}

sw_rc sw_store_tick(sw_store_t *st, sw_err_t *err) {
  SW_STORE_CHECK(st);
  if (!st->in_txn) return SW_OK;
  double age_s = 1e-9 * (double)(sw_now_ns() - st->batch_t0);
  return age_s >= st->opts.batch_seconds ? sw_store_flush(st, err) : SW_OK;
}

size_t sw_store_pending(const sw_store_t *st) {
  SW_STORE_CHECK(st);
  return st->pending;
}

/* ---- one trial ----------------------------------------------------------------------------------- */

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(s, i);
}

static sw_rc insert_trial_row(sw_store_t *st, const sw_trial_record_t *t, sw_err_t *err) {
  sqlite3_stmt       *s = st->ins_trial;
  const sw_outcome_t *o = t->outcome;
  char                signame[32];
  double              duration = t->duration_s >= 0 ? t->duration_s : o->end_wall - o->start_wall;
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, t->run_id);
  bind_text(s, 2, t->config_hash);
  bind_text(s, 3, t->config_json);
  bind_text(s, 4, sw_trial_status_name(o->status));
  sqlite3_bind_int(s, 5, t->attempt);
  sqlite3_bind_int(s, 6, t->rank);
  bind_text(s, 7, t->host);
  sqlite3_bind_double(s, 8, o->start_wall);
  sqlite3_bind_double(s, 9, o->end_wall);
  sqlite3_bind_double(s, 10, duration);
  if (o->signo > 0) {
    sqlite3_bind_int(s, 11, o->signo);
    sqlite3_bind_text(s, 12, sw_signal_name(o->signo, signame, sizeof signame), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(s, 11);
    sqlite3_bind_null(s, 12);
  }
  if (o->exit_status >= 0) sqlite3_bind_int(s, 13, o->exit_status);
  else sqlite3_bind_null(s, 13);
  bind_text(s, 14, o->stderr_tail);
  bind_text(s, 15, o->cause[0] ? o->cause : NULL);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc == SQLITE_DONE) return SW_OK;
  return sw_err_set(err, SW_ERR_DB, "cannot record trial %.16s in '%s': %s", t->config_hash, st->path,
                    sqlite3_errmsg(st->db));
}

static sw_rc check_result_json(sw_store_t *st, const sw_trial_record_t *t, sw_err_t *err) {
  sqlite3_stmt *s = st->chk_result;
  sqlite3_reset(s);
  sqlite3_bind_text(s, 1, t->outcome->result_json, -1, SQLITE_STATIC);
  sw_rc rc = SW_OK;
  if (sqlite3_step(s) != SQLITE_ROW) {
    rc = sw_err_set(err, SW_ERR_DB, "cannot check the result of trial %.16s in '%s': %s", t->config_hash, st->path,
                    sqlite3_errmsg(st->db));
  } else if (!sqlite3_column_int(s, 0)) {
    rc = sw_err_set(err, SW_ERR_PARSE, "result of trial %.16s is not valid JSON", t->config_hash);
  } else if (sqlite3_column_type(s, 1) != SQLITE_TEXT || strcmp((const char *)sqlite3_column_text(s, 1), "object")) {
    rc = sw_err_set(err, SW_ERR_PARSE, "result of trial %.16s is not a JSON object", t->config_hash);
  } else if (sqlite3_column_type(s, 2) != SQLITE_INTEGER || sqlite3_column_int64(s, 2) != 1) {
    rc = sw_err_set(err, SW_ERR_UNSUPPORTED, "result of trial %.16s has format version '%s', expected 1",
                    t->config_hash, sqlite3_column_text(s, 2) ? (const char *)sqlite3_column_text(s, 2) : "(none)");
  } else if (!sqlite3_column_int(s, 3)) {
    rc = sw_err_set(err, SW_ERR_PARSE, "result of trial %.16s: \"metrics\", \"samples\" and \"counters\" must be arrays",
                    t->config_hash);
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static sw_rc ingest(sw_store_t *st, sqlite3_stmt *s, int64_t trial_id, const sw_trial_record_t *t, const char *what,
                    sw_err_t *err) {
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, trial_id);
  sqlite3_bind_text(s, 2, t->outcome->result_json, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  int ext = sqlite3_extended_errcode(st->db);
  sw_rc out = SW_OK;
  if (rc != SQLITE_DONE)
    out = sw_err_set(err, (ext & 0xff) == SQLITE_CONSTRAINT ? SW_ERR_PARSE : SW_ERR_DB,
                     "cannot record the %s of trial %.16s in '%s': %s", what, t->config_hash, st->path,
                     sqlite3_errmsg(st->db));
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return out;
}

static sw_rc insert_trial(sw_store_t *st, const sw_trial_record_t *t, int64_t *trial_id, sw_err_t *err) {
  sw_rc rc = t->outcome->result_json ? check_result_json(st, t, err) : SW_OK;
  if (rc == SW_OK) rc = insert_trial_row(st, t, err);
  if (rc != SW_OK) return rc;
  *trial_id = sqlite3_last_insert_rowid(st->db);
  if (!t->outcome->result_json) return SW_OK;
  rc = ingest(st, st->ins_metrics, *trial_id, t, "metrics", err);
  if (rc == SW_OK) rc = ingest(st, st->ins_samples, *trial_id, t, "samples", err);
  if (rc == SW_OK) rc = ingest(st, st->ins_counters, *trial_id, t, "counters", err);
  return rc;
}

sw_rc sw_store_add_trial(sw_store_t *st, const sw_trial_record_t *t, int64_t *trial_id, sw_err_t *err) {
  SW_STORE_CHECK(st);
  if (!t->config_hash || !t->config_json || !t->outcome)
    return sw_err_set(err, SW_ERR_INVALID, "trial record needs config_hash, config_json and an outcome");
  if ((unsigned)t->outcome->status >= SW_TRIAL_STATUS_COUNT)
    return sw_err_set(err, SW_ERR_INVALID, "trial %.16s: invalid status %d", t->config_hash, (int)t->outcome->status);
  sw_rc rc = sw_store_batch_begin(st, err);
  if (rc == SW_OK) rc = sw_store_exec(st, "SAVEPOINT sw_trial", "cannot start a savepoint in", err);
  if (rc != SW_OK) return rc;
  int64_t id = 0;
  rc = insert_trial(st, t, &id, err);
  if (rc != SW_OK) {
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK TO sw_trial; RELEASE sw_trial", NULL, NULL, NULL);
    sw_store_note_lost_batch(st, err);
    return rc;
  }
  rc = sw_store_exec(st, "RELEASE sw_trial", "cannot release a savepoint in", err);
  if (rc != SW_OK) {
    sw_store_note_lost_batch(st, err);
    return rc;
  }
  st->pending++;
  if (trial_id) *trial_id = id;
  rc = st->pending >= (size_t)st->opts.batch_trials ? sw_store_flush(st, err) : sw_store_tick(st, err);
  return rc == SW_ERR_TIMEOUT ? SW_OK : rc; /* recorded in the open batch; a later commit takes it */
}

/* ---- resume queries ------------------------------------------------------------------------------ */

int sw_hash_set_contains(const sw_hash_set_t *set, const char *hash) {
  size_t lo = 0, hi = set->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(set->items[mid], hash);
    if (c == 0) return 1;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

void sw_hash_set_free(sw_hash_set_t *set) {
  if (!set) return;
  for (size_t i = 0; i < set->count; i++) free(set->items[i]);
  free(set->items);
  set->items = NULL;
  set->count = 0;
}

static sw_rc hash_set_push(sw_hash_set_t *set, size_t *cap, const char *hash, sw_err_t *err) {
  if (set->count == *cap) {
    size_t ncap = *cap ? 2 * *cap : 256;
    char **items = realloc(set->items, ncap * sizeof *items);
    if (!items) return sw_err_set(err, SW_ERR_NOMEM, "out of memory reading config hashes");
    set->items = items;
    *cap = ncap;
  }
  if (!(set->items[set->count] = strdup(hash))) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  set->count++;
  return SW_OK;
}

sw_rc sw_store_hashes_with_status(sw_store_t *st, unsigned status_mask, sw_hash_set_t *out, sw_err_t *err) {
  SW_STORE_CHECK(st);
  out->items = NULL;
  out->count = 0;
  sqlite3_stmt *s = NULL;
  /* ORDER BY uses the BINARY collation (memcmp), the same order as strcmp for the bsearch above. */
  if (sqlite3_prepare_v2(st->db,
                         "SELECT DISTINCT config_hash FROM trials WHERE status IN (?1, ?2, ?3, ?4, ?5) ORDER BY 1",
                         -1, &s, NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot read config hashes from");
  for (int i = 0; i < SW_TRIAL_STATUS_COUNT; i++)
    if (status_mask & (1u << i)) sqlite3_bind_text(s, i + 1, sw_trial_status_name((sw_trial_status)i), -1, SQLITE_STATIC);
  size_t cap = 0;
  sw_rc rc = SW_OK;
  int step;
  while (rc == SW_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
    rc = hash_set_push(out, &cap, (const char *)sqlite3_column_text(s, 0), err);
  if (rc == SW_OK && step != SQLITE_DONE) rc = sw_store_db_err(st, err, "cannot read config hashes from");
  sqlite3_finalize(s);
  if (rc != SW_OK) sw_hash_set_free(out);
  return rc;
}

/* Appends a summary for hash (the first of its rows). */
static sw_attempt_summary_t *attempt_push(sw_attempt_index_t *ix, size_t *cap, const char *hash) {
  if (ix->count == *cap) {
    size_t ncap = *cap ? 2 * *cap : 256;
    sw_attempt_summary_t *items = realloc(ix->items, ncap * sizeof *items);
    if (!items) return NULL;
    ix->items = items;
    *cap = ncap;
  }
  sw_attempt_summary_t *a = &ix->items[ix->count];
  memset(a, 0, sizeof *a);
  if (!(a->hash = strdup(hash))) return NULL;
  ix->count++;
  return a;
}

/* One row, in attempt order within its configuration. */
static void attempt_add(sw_attempt_summary_t *a, int attempt, sw_trial_status status) {
  a->max_attempt = attempt;
  a->latest = status;
  a->trailing_failures = status == SW_TRIAL_FAILED || status == SW_TRIAL_TIMEOUT ? a->trailing_failures + 1 : 0;
}

sw_rc sw_store_attempt_index(sw_store_t *st, int64_t run_id, sw_attempt_index_t *out, sw_err_t *err) {
  SW_STORE_CHECK(st);
  memset(out, 0, sizeof *out);
  sqlite3_stmt *s = NULL;
  /* BINARY collation (memcmp): the order strcmp gives, for sw_attempt_find's bsearch */
  if (sqlite3_prepare_v2(st->db, "SELECT config_hash, attempt, status FROM trials WHERE ?1 = 0 OR run_id = ?1"
                                 " ORDER BY 1, 2, trial_id", -1, &s, NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot read trial attempts from");
  sqlite3_bind_int64(s, 1, run_id);
  size_t cap = 0;
  sw_rc rc = SW_OK;
  int step;
  sw_attempt_summary_t *cur = NULL;
  while (rc == SW_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
    const char *hash = (const char *)sqlite3_column_text(s, 0), *name = (const char *)sqlite3_column_text(s, 2);
    sw_trial_status status;
    if (!hash || !name || sw_trial_status_parse(name, &status, err) != SW_OK) {
      rc = sw_err_set(err, SW_ERR_DB, "results database '%s': a trial row without a valid hash or status", st->path);
      break;
    }
    if (!cur || strcmp(cur->hash, hash) != 0) cur = attempt_push(out, &cap, hash);
    if (!cur) rc = sw_err_set(err, SW_ERR_NOMEM, "out of memory reading trial attempts");
    else attempt_add(cur, sqlite3_column_int(s, 1), status);
  }
  if (rc == SW_OK && step != SQLITE_DONE) rc = sw_store_db_err(st, err, "cannot read trial attempts from");
  sqlite3_finalize(s);
  if (rc != SW_OK) sw_attempt_index_free(out);
  return rc;
}

static int cmp_attempt_hash(const void *key, const void *item) {
  return strcmp((const char *)key, ((const sw_attempt_summary_t *)item)->hash);
}

const sw_attempt_summary_t *sw_attempt_find(const sw_attempt_index_t *ix, const char *hash) {
  return ix->count ? bsearch(hash, ix->items, ix->count, sizeof *ix->items, cmp_attempt_hash) : NULL;
}

void sw_attempt_index_free(sw_attempt_index_t *ix) {
  for (size_t i = 0; i < ix->count; i++) free(ix->items[i].hash);
  free(ix->items);
  ix->items = NULL;
  ix->count = 0;
}

int sw_attempt_is_final(const sw_attempt_summary_t *a, int retries) {
  if (a->latest == SW_TRIAL_OK) return 1;
  return (a->latest == SW_TRIAL_FAILED || a->latest == SW_TRIAL_TIMEOUT) && a->trailing_failures > retries;
}

sw_rc sw_store_ok_hashes(sw_store_t *st, sw_hash_set_t *out, sw_err_t *err) {
  return sw_store_hashes_with_status(st, 1u << SW_TRIAL_OK, out, err);
}

sw_rc sw_store_max_attempt(sw_store_t *st, const char *config_hash, int *out, sw_err_t *err) {
  SW_STORE_CHECK(st);
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(attempt), 0) FROM trials WHERE config_hash = ?1", -1, &s,
                         NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot read attempts from");
  sqlite3_bind_text(s, 1, config_hash, -1, SQLITE_STATIC);
  sw_rc rc = SW_OK;
  if (sqlite3_step(s) == SQLITE_ROW) *out = sqlite3_column_int(s, 0);
  else rc = sw_store_db_err(st, err, "cannot read attempts from");
  sqlite3_finalize(s);
  return rc;
}
