/* sw_report: loading a run's trials from the results database (read-only), user filters, validity
 * stamps, and the helpers shared by tables, compare, history and export (sw_report_table.c renders tables,
 * sw_report_compare.c compares runs and writes history and exports). */
#include "results/sw_report.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/sw_methods.h"
#include "results/sw_report_int.h"
#include "results/sw_store.h"

/* ------------------------------------------------------------------ opening */

/* Opens path read-only and checks its application id and schema version; *db = the connection. */
static sw_rc open_checked(const char *path, sqlite3 **db, sw_err_t *err) {
  *db = NULL;
  sqlite3 *h = NULL;
  if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    sw_err_set(err, SW_ERR_DB, "%s: cannot open read-only: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
    sqlite3_close(h);
    return SW_ERR_DB;
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt *st = NULL;
  int version = -1, app = 0;
  if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(h, "PRAGMA application_id", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    app = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (version < 0) {
    sw_err_set(err, SW_ERR_DB, "%s: not an SQLite database (%s)", path, sqlite3_errmsg(h));
  } else if (app != SW_STORE_APPLICATION_ID) {
    sw_err_set(err, SW_ERR_DB, "%s: not a sparsweep results database (application_id %d)", path, app);
  } else if (version > SW_STORE_SCHEMA_VERSION) {
    sw_err_set(err, SW_ERR_DB, "%s: schema version %d is newer than this sparsweep's %d", path, version,
               SW_STORE_SCHEMA_VERSION);
  } else {
    *db = h;
    return SW_OK;
  }
  sqlite3_close(h);
  return SW_ERR_DB;
}

sw_rc sw_report_open(const char *path, sw_rdb_t **db, sw_err_t *err) {
  *db = calloc(1, sizeof **db);
  if (!*db) return sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", path);
  sw_rc rc = open_checked(path, &(*db)->db, err);
  if (rc != SW_OK) {
    free(*db);
    *db = NULL;
  }
  return rc;
}

void sw_report_close(sw_rdb_t *db) {
  if (!db) return;
  sqlite3_close(db->db);
  free(db);
}

sw_rc sw_report_mean_trial_seconds(sw_rdb_t *rdb, double *mean_s, sw_err_t *err) {
  sqlite3_stmt *st = NULL;
  *mean_s = NAN;
  if (sqlite3_prepare_v2(rdb->db, "SELECT avg(ended_s - started_s) FROM trials", -1, &st, NULL) != SQLITE_OK)
    return sw_report_db_error(rdb->db, err, "trials");
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) *mean_s = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return step == SQLITE_ROW ? SW_OK : sw_report_db_error(rdb->db, err, "trials");
}

sw_rc sw_report_db_error(sqlite3 *db, sw_err_t *err, const char *what) {
  return sw_err_set(err, SW_ERR_DB, "%s: %s", what, sqlite3_errmsg(db));
}

char *sw_report_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *s = sqlite3_column_text(st, i);
  return s ? sw_report_strdup((const char *)s) : NULL;
}

static double col_double(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

sw_rc sw_report_resolve_run(sw_rdb_t *rdb, const char *spec, int64_t *run_id, sw_err_t *err) {
  sqlite3 *db = rdb->db;
  sqlite3_stmt *st = NULL;
  const char *sql;
  char *end = NULL;
  long long num = spec ? strtoll(spec, &end, 10) : 0;
  int numeric = spec && *spec && end && *end == '\0';
  if (!spec || strcmp(spec, "latest") == 0)
    sql = "SELECT r.run_id FROM runs r WHERE EXISTS (SELECT 1 FROM trials t WHERE t.run_id = r.run_id)"
          " ORDER BY r.started_s DESC, r.run_id DESC LIMIT 2";
  else if (numeric) sql = "SELECT run_id FROM runs WHERE run_id = ?1";
  else sql = "SELECT run_id FROM runs WHERE uuid LIKE ?1 || '%' ORDER BY run_id LIMIT 2";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return sw_report_db_error(db, err, "runs");
  if (numeric) sqlite3_bind_int64(st, 1, num);
  else if (spec && strcmp(spec, "latest") != 0) sqlite3_bind_text(st, 1, spec, -1, SQLITE_STATIC);
  int found = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (found++ == 0) *run_id = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  if (found == 0)
    return sw_err_set(err, SW_ERR_NOTFOUND, "no run %s in the database", spec ? spec : "with trials");
  if (found > 1 && spec && !numeric && strcmp(spec, "latest") != 0)
    return sw_err_set(err, SW_ERR_INVALID, "run uuid prefix '%s' is ambiguous", spec);
  return SW_OK;
}

/* ------------------------------------------------------------------ --where */

static const char *const sql_keywords[] = {"and", "or", "not", "in", "like", "glob", "between", "is", "null",
                                           "true", "false", "regexp", "escape", "collate", "case", "when",
                                           "then", "else", "end", "nocase", "cast", "as", "real", "integer", "text"};
static const char *const trial_columns[] = {"status", "attempt", "trial_id", "run_id", "config_hash", "host"};

static int in_list(const char *word, size_t n, const char *const *list, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (strlen(list[i]) == n && strncasecmp(word, list[i], n) == 0) return 1;
  return 0;
}

static int is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9') || c == '.'; }

/* Emits one identifier (bare, or the inside of "..."): keyword, function, trial column or config key. */
static void emit_ident(const char *w, size_t n, int quoted, const char *after, sw_buf_t *out) {
  while (*after == ' ' || *after == '\t') after++;
  if (!quoted && (in_list(w, n, sql_keywords, sizeof sql_keywords / sizeof *sql_keywords) || *after == '(')) {
    sw_buf_append(out, w, n);
  } else if (!quoted && in_list(w, n, trial_columns, sizeof trial_columns / sizeof *trial_columns)) {
    sw_buf_puts(out, "t.");
    sw_buf_append(out, w, n);
  } else {
    sw_buf_puts(out, "json_extract(t.config, '$.\"");
    for (size_t i = 0; i < n; i++) {
      if (w[i] == '\'') sw_buf_puts(out, "''");
      else if (w[i] != '"') sw_buf_append(out, &w[i], 1);
    }
    sw_buf_puts(out, "\"')");
  }
}

sw_rc sw_where_to_sql(const char *expr, sw_buf_t *out, sw_err_t *err) {
  for (const char *p = expr; *p;) {
    if (*p == '\'') { /* string literal, '' escapes */
      const char *q = p + 1;
      while (*q && !(q[0] == '\'' && q[1] != '\'')) q += (q[0] == '\'' ? 2 : 1);
      if (!*q) return sw_err_set(err, SW_ERR_PARSE, "--where: unterminated string at offset %zu", (size_t)(p - expr));
      sw_buf_append(out, p, (size_t)(q - p + 1));
      p = q + 1;
    } else if (*p == '"') {
      const char *q = strchr(p + 1, '"');
      if (!q) return sw_err_set(err, SW_ERR_PARSE, "--where: unterminated \"name\" at offset %zu", (size_t)(p - expr));
      emit_ident(p + 1, (size_t)(q - p - 1), 1, q + 1, out);
      p = q + 1;
    } else if ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) { /* number */
      const char *q = p;
      while ((*q >= '0' && *q <= '9') || *q == '.') q++;
      if ((*q == 'e' || *q == 'E') && ((q[1] >= '0' && q[1] <= '9') || ((q[1] == '-' || q[1] == '+') && q[2] >= '0' && q[2] <= '9'))) {
        q += 2;
        while (*q >= '0' && *q <= '9') q++;
      }
      sw_buf_append(out, p, (size_t)(q - p));
      p = q;
    } else if (is_ident_start(*p)) {
      const char *q = p;
      while (is_ident_char(*q)) q++;
      emit_ident(p, (size_t)(q - p), 0, q, out);
      p = q;
    } else if (*p == ';' || *p == '`' || *p == '[' || *p == '?' || *p == '@' || *p == '$' || *p == ':') {
      return sw_err_set(err, SW_ERR_PARSE, "--where: unexpected '%c' at offset %zu", *p, (size_t)(p - expr));
    } else if (*p == '-' && p[1] == '-') {
      return sw_err_set(err, SW_ERR_PARSE, "--where: comments are not allowed (offset %zu)", (size_t)(p - expr));
    } else {
      sw_buf_append(out, p, 1);
      p++;
    }
  }
  return sw_buf_ok(out) ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "--where: out of memory");
}

/* ------------------------------------------------------------------ loading a set */

void sw_rset_free(sw_rset_t *set) {
  for (size_t i = 0; i < set->n; i++) {
    sw_rtrial_t *t = &set->trials[i];
    free(t->config_hash);
    free(t->config_json);
    free(t->status);
    sw_json_free(t->config);
    for (size_t k = 0; k < t->n_metrics; k++) {
      free(t->metrics[k].name);
      free(t->metrics[k].unit);
    }
    free(t->metrics);
    for (size_t k = 0; k < t->n_series; k++) {
      free(t->series[k].name);
      free(t->series[k].v);
    }
    free(t->series);
    for (size_t k = 0; k < t->n_counters; k++) {
      free(t->counters[k].series);
      free(t->counters[k].name);
      free(t->counters[k].reason);
    }
    free(t->counters);
  }
  free(set->trials);
  sw_rrun_t *r = &set->run;
  free(r->uuid);
  free(r->git_commit);
  free(r->fingerprint);
  free(r->spec_name);
  free(r->status);
  free(r->cpu_model);
  memset(set, 0, sizeof *set);
}

static sw_rc load_run(sqlite3 *db, int64_t run_id, sw_rrun_t *r, sw_err_t *err) {
  sqlite3_stmt *st = NULL;
  const char *sql = "SELECT run_id, uuid, git_commit, machine_fingerprint, spec_name, status, cpu_model,"
                    " coalesce(git_dirty, -1), started_s FROM runs WHERE run_id = ?1";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return sw_report_db_error(db, err, "runs");
  sqlite3_bind_int64(st, 1, run_id);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return sw_err_set(err, SW_ERR_NOTFOUND, "no run %lld in the database", (long long)run_id);
  }
  r->run_id = sqlite3_column_int64(st, 0);
  r->uuid = col_text(st, 1);
  r->git_commit = col_text(st, 2);
  r->fingerprint = col_text(st, 3);
  r->spec_name = col_text(st, 4);
  r->status = col_text(st, 5);
  r->cpu_model = col_text(st, 6);
  r->git_dirty = sqlite3_column_int(st, 7);
  r->started_s = col_double(st, 8);
  sqlite3_finalize(st);
  return SW_OK;
}

static sw_rc grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return SW_OK;
  size_t nc = *cap ? *cap * 2 : 8;
  while (nc < need) nc *= 2;
  void *p = realloc(*arr, nc * elem);
  if (!p) return SW_ERR_NOMEM;
  memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
  *arr = p;
  *cap = nc;
  return SW_OK;
}

/* Reports show one name per method (common/sw_methods.h): a config's alias (threshold, moe_dynk_max, predictor)
 * is shown as its canonical name; the stored config keeps the spelling of its file. */
static sw_rc canonical_method(sw_json_t *config, sw_err_t *err) {
  sw_json_t *m = (sw_json_t *)(uintptr_t)sw_json_get(config, "method");
  const char *c = m && m->kind == SW_JSON_STRING ? sw_method_canonical(m->string) : NULL;
  if (!c || !strcmp(c, m->string)) return SW_OK;
  char *copy = strdup(c);
  if (!copy) return sw_err_set(err, SW_ERR_NOMEM, "loading trials: out of memory");
  free(m->string);
  m->string = copy;
  return SW_OK;
}

static sw_rc load_trials(sqlite3 *db, int64_t run_id, const char *where, sw_rset_t *set, sw_err_t *err) {
  sw_buf_t sql = SW_BUF_INIT;
  sw_buf_puts(&sql, "SELECT t.trial_id, t.run_id, t.config_hash, t.config, t.status, t.attempt FROM trials t"
                    " WHERE t.run_id = ?1 AND t.trial_id = (SELECT t2.trial_id FROM trials t2"
                    " WHERE t2.run_id = t.run_id AND t2.config_hash = t.config_hash"
                    " ORDER BY (t2.status = 'ok') DESC, t2.trial_id DESC LIMIT 1)");
  sw_rc rc = SW_OK;
  if (where && *where) {
    sw_buf_puts(&sql, " AND (");
    rc = sw_where_to_sql(where, &sql, err);
    sw_buf_puts(&sql, ")");
  }
  sw_buf_puts(&sql, " ORDER BY t.trial_id");
  sqlite3_stmt *st = NULL;
  if (rc == SW_OK && sqlite3_prepare_v2(db, sw_buf_str(&sql), -1, &st, NULL) != SQLITE_OK)
    rc = sw_err_set(err, SW_ERR_INVALID, "cannot select trials%s%s: %s", where ? " with --where " : "",
                    where ? where : "", sqlite3_errmsg(db));
  sw_buf_free(&sql);
  if (rc != SW_OK) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  size_t cap = 0;
  int step;
  while (rc == SW_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (grow((void **)&set->trials, &cap, set->n + 1, sizeof *set->trials) != SW_OK) {
      rc = sw_err_set(err, SW_ERR_NOMEM, "loading trials: out of memory");
      break;
    }
    sw_rtrial_t *t = &set->trials[set->n++];
    t->trial_id = sqlite3_column_int64(st, 0);
    t->run_id = sqlite3_column_int64(st, 1);
    t->config_hash = col_text(st, 2);
    t->config_json = col_text(st, 3);
    t->status = col_text(st, 4);
    t->attempt = sqlite3_column_int(st, 5);
    t->valid = 1;
    if (!t->config_hash || !t->config_json || !t->status) rc = sw_err_set(err, SW_ERR_NOMEM, "loading trials: out of memory");
    else rc = sw_json_parse(t->config_json, strlen(t->config_json), &t->config, err);
    if (rc == SW_OK && t->config->kind != SW_JSON_OBJECT)
      rc = sw_err_set(err, SW_ERR_PARSE, "trial %lld: config is not a JSON object", (long long)t->trial_id);
    if (rc == SW_OK) rc = canonical_method(t->config, err);
  }
  if (rc == SW_OK && step != SQLITE_DONE) rc = sw_report_db_error(db, err, "reading trials");
  sqlite3_finalize(st);
  return rc;
}

static sw_rtrial_t *find_trial(sw_rset_t *set, int64_t id) {
  size_t lo = 0, hi = set->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (set->trials[mid].trial_id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < set->n && set->trials[lo].trial_id == id ? &set->trials[lo] : NULL;
}

/* Capacities of the per-trial arrays while loading (kept outside sw_rtrial_t). */
typedef struct caps {
  size_t *metrics, *series, *counters, *samples;
} caps_t;

static sw_rc add_metric(sw_rtrial_t *t, size_t *cap, sqlite3_stmt *st) {
  if (grow((void **)&t->metrics, cap, t->n_metrics + 1, sizeof *t->metrics) != SW_OK) return SW_ERR_NOMEM;
  sw_rmetric_t *m = &t->metrics[t->n_metrics++];
  m->name = col_text(st, 1);
  m->value = col_double(st, 2);
  m->unit = col_text(st, 3);
  return m->name ? SW_OK : SW_ERR_NOMEM;
}

static sw_rc add_sample(sw_rtrial_t *t, size_t *scap, size_t *vcap, sqlite3_stmt *st) {
  const char *name = (const char *)sqlite3_column_text(st, 1);
  if (!name) return SW_ERR_NOMEM;
  if (t->n_series == 0 || strcmp(t->series[t->n_series - 1].name, name) != 0) {
    if (grow((void **)&t->series, scap, t->n_series + 1, sizeof *t->series) != SW_OK) return SW_ERR_NOMEM;
    t->series[t->n_series].name = sw_report_strdup(name);
    if (!t->series[t->n_series++].name) return SW_ERR_NOMEM;
    *vcap = 0;
  }
  sw_rseries_t *s = &t->series[t->n_series - 1];
  if (grow((void **)&s->v, vcap, s->n + 1, sizeof *s->v) != SW_OK) return SW_ERR_NOMEM;
  s->v[s->n++] = sqlite3_column_double(st, 2);
  return SW_OK;
}

static sw_rc add_counter(sw_rtrial_t *t, size_t *cap, sqlite3_stmt *st) {
  if (grow((void **)&t->counters, cap, t->n_counters + 1, sizeof *t->counters) != SW_OK) return SW_ERR_NOMEM;
  sw_rcounter_t *c = &t->counters[t->n_counters++];
  c->series = col_text(st, 1);
  c->name = col_text(st, 2);
  c->value = col_double(st, 3);
  c->reason = col_text(st, 4);
  return c->series && c->name ? SW_OK : SW_ERR_NOMEM;
}

/* Runs one child-table query (rows ordered by trial_id) and hands each row of a loaded trial to add(). */
static sw_rc load_children(sqlite3 *db, int64_t run_id, sw_rset_t *set, int which, sw_err_t *err) {
  static const char *const sqls[] = {
      "SELECT c.trial_id, c.name, c.value, c.unit FROM metrics c JOIN trials t ON t.trial_id = c.trial_id"
      " WHERE t.run_id = ?1 ORDER BY c.trial_id, c.name",
      "SELECT c.trial_id, c.series, c.value FROM samples c JOIN trials t ON t.trial_id = c.trial_id"
      " WHERE t.run_id = ?1 ORDER BY c.trial_id, c.series, c.rep",
      "SELECT c.trial_id, c.series, c.name, c.value, c.reason FROM counters c JOIN trials t ON t.trial_id = c.trial_id"
      " WHERE t.run_id = ?1 ORDER BY c.trial_id, c.series, c.name"};
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sqls[which], -1, &st, NULL) != SQLITE_OK) return sw_report_db_error(db, err, "results");
  sqlite3_bind_int64(st, 1, run_id);
  sw_rc rc = SW_OK;
  int step;
  sw_rtrial_t *cur = NULL;
  size_t cap = 0, vcap = 0;
  while (rc == SW_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    if (!cur || cur->trial_id != id) {
      cur = find_trial(set, id);
      cap = vcap = 0;
    }
    if (!cur) continue;
    if (which == 0) rc = add_metric(cur, &cap, st);
    else if (which == 1) rc = add_sample(cur, &cap, &vcap, st);
    else rc = add_counter(cur, &cap, st);
    if (rc != SW_OK) rc = sw_err_set(err, SW_ERR_NOMEM, "loading results: out of memory");
  }
  if (rc == SW_OK && step != SQLITE_DONE) rc = sw_report_db_error(db, err, "reading results");
  sqlite3_finalize(st);
  return rc;
}

sw_rc sw_rset_load(sw_rdb_t *rdb, int64_t run_id, const char *where, sw_rset_t *out, sw_err_t *err) {
  sqlite3 *db = rdb->db;
  memset(out, 0, sizeof *out);
  sw_rc rc = load_run(db, run_id, &out->run, err);
  if (rc == SW_OK) rc = load_trials(db, run_id, where, out, err);
  for (int which = 0; rc == SW_OK && which < 3; which++) rc = load_children(db, run_id, out, which, err);
  if (rc != SW_OK) sw_rset_free(out);
  return rc;
}

const sw_rmetric_t *sw_rtrial_metric(const sw_rtrial_t *t, const char *name) {
  for (size_t i = 0; i < t->n_metrics; i++)
    if (strcmp(t->metrics[i].name, name) == 0) return &t->metrics[i];
  return NULL;
}

const sw_rseries_t *sw_rtrial_series(const sw_rtrial_t *t, const char *name) {
  for (size_t i = 0; i < t->n_series; i++)
    if (strcmp(t->series[i].name, name) == 0) return &t->series[i];
  return NULL;
}

void sw_report_appendf(char *dst, size_t cap, const char *fmt, ...) {
  size_t used = strnlen(dst, cap);
  if (used + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst + used, cap - used, fmt, ap);
  va_end(ap);
}

/* Shortest "%.*g" text that reads back as v. */
void sw_report_fmt_number(double v, char *dst, size_t cap) {
  if (v == floor(v) && fabs(v) < 1e15) { /* integral values (counts) in full: 1000000, not 1e+06 */
    snprintf(dst, cap, "%.0f", v);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(dst, cap, "%.*g", prec, v);
    if (strtod(dst, NULL) == v) return;
  }
}

static void json_scalar_buf(const sw_json_t *v, sw_buf_t *b) {
  char num[40];
  switch (v->kind) {
  case SW_JSON_NULL: sw_buf_puts(b, "null"); break;
  case SW_JSON_BOOL: sw_buf_puts(b, v->boolean ? "true" : "false"); break;
  case SW_JSON_NUMBER:
    if (v->is_integer) sw_buf_printf(b, "%lld", (long long)v->integer);
    else sw_report_fmt_number(v->number, num, sizeof num), sw_buf_puts(b, num);
    break;
  case SW_JSON_STRING: sw_buf_puts(b, v->string); break;
  default: sw_buf_puts(b, v->kind == SW_JSON_ARRAY ? "[...]" : "{...}"); break;
  }
}

void sw_rtrial_config_buf(const sw_rtrial_t *t, const char *key, sw_buf_t *b) {
  const sw_json_t *v = sw_json_get(t->config, key);
  if (!v) sw_buf_puts(b, "-");
  else if (v->kind != SW_JSON_ARRAY) json_scalar_buf(v, b);
  else
    for (size_t i = 0; i < v->count; i++) {
      if (i) sw_buf_puts(b, ",");
      json_scalar_buf(&v->items[i], b);
    }
}

void sw_rtrial_config_text(const sw_rtrial_t *t, const char *key, char *dst, size_t cap) {
  sw_buf_t b = SW_BUF_INIT;
  sw_rtrial_config_buf(t, key, &b);
  snprintf(dst, cap, "%s", sw_buf_ok(&b) ? sw_buf_str(&b) : "");
  sw_buf_free(&b);
}

const sw_rmetric_t *sw_metric_se(const sw_rtrial_t *t, const char *metric) {
  char name[160];
  snprintf(name, sizeof name, "%s_se", metric);
  const sw_rmetric_t *se = sw_rtrial_metric(t, name);
  size_t n = strlen(metric);
  if (!se && n > 5 && n < sizeof name && strcmp(metric + n - 5, "_mean") == 0) { /* kl_mean -> kl_se */
    snprintf(name, sizeof name, "%.*s_se", (int)(n - 5), metric);
    se = sw_rtrial_metric(t, name);
  }
  return se;
}

/* ------------------------------------------------------------------ validity */

void sw_validity_opts_default(sw_validity_opts_t *o) {
  o->min_reps = 6;
  o->max_ci = 0.135; /* pyperf's CV 0.10 at the minimum count: 7 normal samples span 2.704 sigma on average, so
                       * their [min, max] interval has half-width 1.35 CV (docs/measurement.md, "Validity stamps") */
  o->ci_level = 0.95;
  o->max_cv = 0; /* off: docs/measurement.md, "Validity stamps" */
  o->min_sample_s = 1e-6;
  o->max_sparsity_gap = 0.05;
}

static void add_reason(sw_rtrial_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_reason(sw_rtrial_t *t, const char *fmt, ...) {
  size_t used = strlen(t->reasons);
  if (used && used + 2 < sizeof t->reasons) {
    memcpy(t->reasons + used, "; ", 3);
    used += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  if (used < sizeof t->reasons) vsnprintf(t->reasons + used, sizeof t->reasons - used, fmt, ap);
  va_end(ap);
  t->valid = 0;
}

double *sw_series_ratios(const sw_rseries_t *dense, const sw_rseries_t *sparse) {
  if (!dense || !sparse || dense->n != sparse->n || dense->n == 0) return NULL;
  double *r = malloc(dense->n * sizeof *r);
  for (size_t i = 0; r && i < dense->n; i++) {
    if (!(sparse->v[i] > 0)) {
      free(r);
      return NULL;
    }
    r[i] = dense->v[i] / sparse->v[i];
  }
  return r;
}

const sw_rseries_t *sw_rtrial_dense_partner(const sw_rtrial_t *t, const char *sparse_name) {
  size_t n = strlen(sparse_name);
  if (n < 6 || n > 100 || strcmp(sparse_name + n - 6, "sparse") != 0) return NULL;
  char dn[128];
  snprintf(dn, sizeof dn, "%.*sdense", (int)(n - 6), sparse_name);
  return sw_rtrial_series(t, dn);
}

/* The larger of two values where NaN means "none yet". */
static double worst_of(double a, double b) { return isnan(a) ? b : isnan(b) ? a : fmax(a, b); }

static void stamp_series(sw_rtrial_t *t, const sw_rseries_t *s, const sw_validity_opts_t *o) {
  if (s->n < o->min_reps) add_reason(t, "too few repetitions (%s: %zu < %zu)", s->name, s->n, o->min_reps);
  double cv = sw_cv(s->v, s->n), hw = sw_median_ci_relhw(s->v, s->n, o->ci_level);
  t->worst_ci = worst_of(t->worst_ci, hw);
  t->worst_cv = worst_of(t->worst_cv, cv);
  if (hw > o->max_ci)
    add_reason(t, "median ±%.1f%% > %.1f%% (%s, n %zu, CV %.3f)", 100 * hw, 100 * o->max_ci, s->name, s->n, cv);
  if (o->max_cv > 0 && cv > o->max_cv) add_reason(t, "CV %.3f > %.2f (%s)", cv, o->max_cv, s->name);
  double med = sw_median(s->v, s->n);
  if (med < o->min_sample_s)
    add_reason(t, "%s median %.3g s below the timer resolution bound %.3g s", s->name, med, o->min_sample_s);
}

/* The paired speedup of a "<p>sparse" series: the interval of the median of its per-repetition ratios. */
static void stamp_pair(sw_rtrial_t *t, const sw_rseries_t *sparse, const sw_validity_opts_t *o) {
  const sw_rseries_t *dense = sw_rtrial_dense_partner(t, sparse->name);
  double *r = sw_series_ratios(dense, sparse);
  if (!r) return;
  double hw = sw_median_ci_relhw(r, sparse->n, o->ci_level);
  t->worst_ci = worst_of(t->worst_ci, hw);
  if (hw > o->max_ci)
    add_reason(t, "speedup median ±%.1f%% > %.1f%% (%s / %s, n %zu)", 100 * hw, 100 * o->max_ci, dense->name,
               sparse->name, sparse->n);
  free(r);
}

void sw_report_stamp(sw_rtrial_t *t, const sw_validity_opts_t *o) {
  t->valid = 1;
  t->reasons[0] = '\0';
  t->worst_ci = t->worst_cv = NAN;
  if (strcmp(t->status, "ok") != 0) add_reason(t, "status %s", t->status);
  for (size_t i = 0; i < t->n_series; i++) stamp_series(t, &t->series[i], o);
  for (size_t i = 0; i < t->n_series; i++) stamp_pair(t, &t->series[i], o);
  const sw_json_t *target = sw_json_get(t->config, "sparsity");
  const sw_rmetric_t *got = sw_rtrial_metric(t, "achieved_sparsity");
  if (!got) got = sw_rtrial_metric(t, "sparsity_neuron"); /* its older ffn name (common/sw_metrics.h: legacy) */
  if (target && target->kind == SW_JSON_NUMBER && got && !isnan(got->value) &&
      fabs(got->value - target->number) > o->max_sparsity_gap)
    add_reason(t, "achieved sparsity %.3f vs target %.3f (gap > %.2f)", got->value, target->number,
               o->max_sparsity_gap);
}

/* ------------------------------------------------------------------ metric classes */

static int name_has(const char *name, const char *const *parts, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strstr(name, parts[i])) return 1;
  return 0;
}

/* The model-quality metrics of common/sw_metrics.h, each by its exact name: its direction (+1 higher is better)
 * and whether `compare` tests it as accuracy (against the standard errors or the tolerance).  Exact names, not
 * substrings: task_acc_only_dense ("items only the dense model gets right") is a count where higher is worse,
 * and task_acc_mcnemar_p is a p-value; both contain "acc".  tests/unit/test_report.c checks that every name
 * here is declared in the registry. */
typedef struct quality_metric {
  const char *name;
  int         dir;      /* +1 higher is better, -1 lower */
  int         accuracy; /* 1: compared as accuracy */
} quality_metric_t;

static const quality_metric_t k_quality[] = {
    {"ppl", -1, 1},          {"ppl_dense", -1, 1},           {"ppl_ratio", -1, 1},
    {"ppl_native_dense", -1, 1}, {"ppl_f32_dense", -1, 1},   {"bits_per_byte", -1, 1},
    {"bits_per_byte_dense", -1, 1}, {"kl", -1, 1},           {"kl_native_dense", -1, 1},
    {"rel_error", -1, 1},    {"rel_error_dense", -1, 1},     {"top1_agree", +1, 1},
    {"top1_native_dense", +1, 1}, {"task_acc", +1, 1},       {"task_acc_norm", +1, 1},
    {"task_acc_dense", +1, 1}, {"task_acc_norm_dense", +1, 1}, {"task_acc_diff", +1, 1},
    {"task_acc_norm_diff", +1, 1}, {"router_loss_first", -1, 0}, {"router_loss_final", -1, 0},
    {"nll", -1, 0},          {"task_acc_only_method", +1, 0}, {"task_acc_norm_only_method", +1, 0},
    {"task_acc_only_dense", -1, 0}, {"task_acc_norm_only_dense", -1, 0},
};

static const quality_metric_t *quality_metric(const char *name) {
  for (size_t i = 0; i < sizeof k_quality / sizeof *k_quality; i++)
    if (strcmp(name, k_quality[i].name) == 0) return &k_quality[i];
  return NULL;
}

size_t sw_quality_metric_names(const char **names, size_t cap) {
  size_t n = sizeof k_quality / sizeof *k_quality;
  for (size_t i = 0; i < n && i < cap; i++) names[i] = k_quality[i].name;
  return n;
}

int sw_metric_higher_is_better(const char *name) {
  static const char *const up[] = {"speedup", "agree", "accuracy", "saved", "throughput", "tok_per_s", "tok_s_",
                                   "recall", "precision"};
  const quality_metric_t *q = quality_metric(name);
  if (q) return q->dir > 0;
  return name_has(name, up, sizeof up / sizeof *up);
}

int sw_is_accuracy_metric(const char *name) {
  const quality_metric_t *q = quality_metric(name);
  return q && q->accuracy;
}

int sw_is_exact_count(const char *name, const char *unit, int is_counter) {
  static const char *const noisy[] = {"CYC", "cyc", "_DCM", "_ICM", "_TCM", "L1_", "L2_", "L3_", "STL", "MSP",
                                      "cache", "stall", "miss", "time", "latency", "preemptions", "timing_"};
  if (name_has(name, noisy, sizeof noisy / sizeof *noisy)) return 0;
  /* counters: only the software-defined ones (FLOPs, neurons, bytes) are deterministic; hardware and kernel
   * counts (instructions, branches, page faults, task clock) move from run to run */
  if (is_counter) return strncmp(name, "sde:::", 6) == 0;
  if (!unit) return 0;
  if (strstr(unit, "/s")) return 0; /* rates are timings */
  return strcmp(unit, "flop") == 0 || strcmp(unit, "count") == 0 || strcmp(unit, "byte") == 0 ||
         strcmp(unit, "bytes") == 0 || strstr(name, "flops") != NULL;
}
