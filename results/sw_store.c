/* sw_store: opening, schema creation/migration and run rows of the SQLite results database.
 * Open checks everything that could later make a sweep lose results (path, permissions, file type,
 * schema version) before the first trial runs, then leaves the file in WAL mode so readers never block
 * the single writer.  Trial batches live in sw_store_trials.c, merging in sw_store_merge.c. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sw_hash.h"
#include "common/sw_time.h"
#include "results/sw_schema_sql.h"
#include "results/sw_store_int.h"

/* ---- small helpers ------------------------------------------------------------------------------- */

/* SQLite's "database is locked" past the busy timeout: another process holds the write lock (nothing wrong
 * with the file); callers may keep their results and try again. */
static int s_is_busy(sqlite3 *db) {
  int code = db ? sqlite3_errcode(db) & 0xff : SQLITE_OK;
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

sw_rc sw_store_db_err(sw_store_t *st, sw_err_t *err, const char *what) {
  return sw_err_set(err, s_is_busy(st->db) ? SW_ERR_TIMEOUT : SW_ERR_DB, "%s '%s': %s", what, st->path,
                    st->db ? sqlite3_errmsg(st->db) : "no connection");
}

void sw_store_set_busy_timeout(sw_store_t *st, int ms) {
  SW_STORE_CHECK(st);
  st->opts.busy_timeout_ms = ms;
  sqlite3_busy_timeout(st->db, ms);
}

sw_rc sw_store_exec(sw_store_t *st, const char *sql, const char *what, sw_err_t *err) {
  char *msg = NULL;
  if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK) return SW_OK;
  sw_rc rc = sw_err_set(err, s_is_busy(st->db) ? SW_ERR_TIMEOUT : SW_ERR_DB, "%s '%s': %s", what, st->path,
                        msg ? msg : sqlite3_errmsg(st->db));
  sqlite3_free(msg);
  return rc;
}

char *sw_store_uri(const char *path, const char *query) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(path), q = query ? strlen(query) + 1 : 0;
  char *uri = malloc(8 + 3 * n + q + 1);
  if (!uri) return NULL;
  size_t o = (size_t)sprintf(uri, path[0] == '/' ? "file://" : "file:");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)path[i];
    if (c == '%' || c == '?' || c == '#' || c <= 0x20 || c >= 0x7f) {
      uri[o++] = '%';
      uri[o++] = hex[c >> 4];
      uri[o++] = hex[c & 15];
    } else {
      uri[o++] = (char)c;
    }
  }
  if (query) o += (size_t)sprintf(uri + o, "?%s", query);
  uri[o] = '\0';
  return uri;
}

static int64_t pragma_int(sqlite3 *db, const char *sql, int *ok) {
  sqlite3_stmt *s = NULL;
  int64_t v = 0;
  *ok = sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW;
  if (*ok) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

sw_rc sw_store_read_version(sw_store_t *st, const char *schema, int *version, int *app_id, sw_err_t *err) {
  char sql[96];
  int ok1, ok2;
  snprintf(sql, sizeof sql, "PRAGMA %s.user_version", schema);
  *version = (int)pragma_int(st->db, sql, &ok1);
  snprintf(sql, sizeof sql, "PRAGMA %s.application_id", schema);
  *app_id = (int)pragma_int(st->db, sql, &ok2);
  if (!ok1 || !ok2) return sw_store_db_err(st, err, "cannot read the schema version of");
  return SW_OK;
}

/* ---- path checks (clear messages before SQLite gives a generic "unable to open") ------------------ */

static sw_rc check_dir(const char *path, const char *dir, int writable, sw_err_t *err) {
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return sw_err_set(err, SW_ERR_IO, "cannot open results database '%s': directory '%s': %s", path, dir,
                      strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return sw_err_set(err, SW_ERR_IO, "cannot open results database '%s': '%s' is not a directory", path, dir);
  if (writable && access(dir, W_OK | X_OK) != 0)
    return sw_err_set(err, SW_ERR_IO,
                      "cannot write results database '%s': directory '%s' is not writable (%s); SQLite must "
                      "create '%s-wal' and '%s-shm' next to the database",
                      path, dir, strerror(errno), path, path);
  return SW_OK;
}

static sw_rc check_path(const char *path, int writable, sw_err_t *err) {
  struct stat sb;
  if (stat(path, &sb) == 0) {
    if (S_ISDIR(sb.st_mode))
      return sw_err_set(err, SW_ERR_IO, "cannot open results database '%s': it is a directory", path);
    if (access(path, writable ? R_OK | W_OK : R_OK) != 0)
      return sw_err_set(err, SW_ERR_IO, "cannot %s results database '%s': %s", writable ? "write" : "read", path,
                        strerror(errno));
  } else if (errno != ENOENT || !writable) {
    return sw_err_set(err, SW_ERR_IO, "cannot open results database '%s': %s", path, strerror(errno));
  }
  char *copy = strdup(path);
  if (!copy) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  sw_rc rc = check_dir(path, dirname(copy), writable, err);
  free(copy);
  return rc;
}

static sw_rc check_fs(sw_store_t *st, sw_err_t *err) {
  sw_rc rc = sw_fs_check_path(st->path, &st->fs, err);
  if (rc != SW_OK || !st->fs.network) return rc;
  char msg[1024];
  snprintf(msg, sizeof msg,
           "warning: results database '%s' is on a network file system (%s): SQLite locking and WAL shared "
           "memory are unreliable there, so the database is locked exclusively (no reader until the sweep ends); "
           "write to node-local disk and copy or merge afterwards",
           st->path, st->fs.fs_name);
  st->fs_warning = strdup(msg);
  return st->fs_warning ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "out of memory");
}

/* ---- schema version and migration ---------------------------------------------------------------- */

/* One migration step upgrades version from to from + 1.  Version 1 is the first schema.  A version N adds
 * {N - 1, "ALTER TABLE ..."} here and schema.sql becomes version N. */
typedef struct sw_migration {
  int         from; /* user_version this step applies to */
  const char *sql;  /* statements run inside the migration transaction */
} sw_migration_t;

/* 2 -> 3: the run lock (one writer per database) and the rank events (infrastructure failures, quarantine). */
static const char sw_migrate_2_to_3[] =
    "CREATE TABLE IF NOT EXISTS run_lock (lock_id INTEGER PRIMARY KEY CHECK (lock_id = 1), run_id INTEGER, host TEXT NOT NULL,"
    " pid INTEGER NOT NULL, pid_start TEXT, acquired_s REAL NOT NULL, heartbeat_s REAL NOT NULL,"
    " stale_after_s REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rank_events (event_id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(run_id),"
    " rank INTEGER NOT NULL, host TEXT, at_s REAL NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('infra_failure',"
    " 'quarantined', 'unresponsive')), message TEXT);"
    "CREATE INDEX IF NOT EXISTS rank_events_by_run ON rank_events(run_id);";

static const sw_migration_t sw_migrations[] = {
    /* 1 -> 2: the CPU generation and the kernels' real compile flags; NULL for older runs */
    {1, "ALTER TABLE runs ADD COLUMN cpu_id TEXT; ALTER TABLE runs ADD COLUMN kernel_cflags TEXT;"},
    {2, sw_migrate_2_to_3},
};

static sw_rc create_schema(sw_store_t *st, sw_err_t *err) {
  int ok;
  int n_tables = (int)pragma_int(st->db, "SELECT count(*) FROM sqlite_master", &ok);
  if (!ok) return sw_store_db_err(st, err, "cannot read");
  if (n_tables > 0)
    return sw_err_set(err, SW_ERR_DB,
                      "'%s' is not a sparsweep results database (user_version 0 but %d schema objects exist)",
                      st->path, n_tables);
  return sw_store_exec(st, sw_schema_sql, "cannot create the schema in", err);
}

static sw_rc migrate_steps(sw_store_t *st, int from, sw_err_t *err) {
  for (int v = from; v < SW_STORE_SCHEMA_VERSION; v++) {
    const sw_migration_t *step = NULL;
    for (size_t i = 0; i < sizeof sw_migrations / sizeof sw_migrations[0]; i++)
      if (sw_migrations[i].from == v && sw_migrations[i].sql) step = &sw_migrations[i];
    if (!step)
      return sw_err_set(err, SW_ERR_UNSUPPORTED, "cannot migrate '%s' from schema version %d: no migration step",
                        st->path, v);
    char what[96];
    snprintf(what, sizeof what, "cannot migrate schema version %d to %d of", v, v + 1);
    sw_rc rc = sw_store_exec(st, step->sql, what, err);
    if (rc != SW_OK) return rc;
  }
  return SW_OK;
}

static sw_rc check_version(sw_store_t *st, int version, int app_id, sw_err_t *err) {
  if (app_id != 0 && app_id != SW_STORE_APPLICATION_ID)
    return sw_err_set(err, SW_ERR_DB, "'%s' is not a sparsweep results database (application_id 0x%08x)", st->path,
                      (unsigned)app_id);
  if (version > SW_STORE_SCHEMA_VERSION)
    return sw_err_set(err, SW_ERR_UNSUPPORTED,
                      "results database '%s' has schema version %d, newer than this sparsweep's version %d: "
                      "use a newer sparsweep",
                      st->path, version, SW_STORE_SCHEMA_VERSION);
  if (version < 0)
    return sw_err_set(err, SW_ERR_DB, "results database '%s' has invalid schema version %d", st->path, version);
  return SW_OK;
}

/* Explicit migration to SW_STORE_SCHEMA_VERSION inside one write transaction.  Also the write probe: the
 * header write proves now, before any trial runs, that the file, its journal and the directory are writable. */
static sw_rc migrate(sw_store_t *st, sw_err_t *err) {
  sw_rc rc = sw_store_exec(st, "BEGIN IMMEDIATE", "cannot write results database", err);
  if (rc != SW_OK) return rc;
  int version = 0, app_id = 0;
  rc = sw_store_read_version(st, "main", &version, &app_id, err);
  if (rc == SW_OK) rc = check_version(st, version, app_id, err);
  if (rc == SW_OK && version == 0) rc = create_schema(st, err);
  else if (rc == SW_OK) rc = migrate_steps(st, version, err);
  if (rc == SW_OK) {
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d", SW_STORE_APPLICATION_ID,
             SW_STORE_SCHEMA_VERSION);
    rc = sw_store_exec(st, sql, "cannot set the schema version of", err);
  }
  if (rc == SW_OK) return sw_store_exec(st, "COMMIT", "cannot write results database", err);
  sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

static sw_rc check_read_only_version(sw_store_t *st, sw_err_t *err) {
  int version = 0, app_id = 0;
  sw_rc rc = sw_store_read_version(st, "main", &version, &app_id, err);
  if (rc == SW_OK) rc = check_version(st, version, app_id, err);
  if (rc == SW_OK && version < SW_STORE_SCHEMA_VERSION)
    rc = sw_err_set(err, SW_ERR_UNSUPPORTED,
                    "results database '%s' has schema version %d, older than %d: open it once read-write to migrate",
                    st->path, version, SW_STORE_SCHEMA_VERSION);
  return rc;
}

/* ---- open / close -------------------------------------------------------------------------------- */

void sw_store_opts_default(sw_store_opts_t *opts) {
  opts->batch_trials = 64;
  opts->batch_seconds = 2.0;
  opts->busy_timeout_ms = 5000;
  opts->sync_full = 0;
  opts->read_only = 0;
  opts->exclusive = 0;
}

static sw_rc open_connection(sw_store_t *st, sw_err_t *err) {
  char *uri = sw_store_uri(st->path, st->opts.read_only ? "mode=ro" : NULL);
  if (!uri) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  int flags = SQLITE_OPEN_URI | (st->opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int src = sqlite3_open_v2(uri, &st->db, flags, NULL);
  free(uri);
  if (src != SQLITE_OK) {
    int sys = sqlite3_system_errno(st->db);
    return sw_err_set(err, SW_ERR_IO, "cannot open results database '%s': %s%s%s", st->path, sqlite3_errmsg(st->db),
                      sys ? ": " : "", sys ? strerror(sys) : "");
  }
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_busy_timeout(st->db, st->opts.busy_timeout_ms);
  if (!st->opts.read_only && sqlite3_db_readonly(st->db, "main") == 1)
    return sw_err_set(err, SW_ERR_IO, "cannot write results database '%s': opened read-only", st->path);
  return SW_OK;
}

static sw_rc set_pragmas(sw_store_t *st, sw_err_t *err) {
  sw_rc rc = sw_store_exec(st, "PRAGMA foreign_keys = ON", "cannot configure", err);
  if (rc != SW_OK || st->opts.read_only) return rc;
  /* On a network file system the -shm shared memory cannot be trusted across hosts: keep the WAL index in
   * this process's heap (exclusive locking, set before the first WAL access; sqlite.org wal.html). */
  if (st->opts.exclusive || st->fs.network)
    rc = sw_store_exec(st, "PRAGMA locking_mode = EXCLUSIVE", "cannot configure", err);
  if (rc != SW_OK) return rc;
  /* Setting journal_mode reads the header: "file is not a database" becomes an early, named error. */
  rc = sw_store_exec(st, "PRAGMA journal_mode = WAL", "cannot open results database", err);
  if (rc != SW_OK) return rc;
  return sw_store_exec(st, st->opts.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                       "cannot configure", err);
}

static sw_rc open_steps(sw_store_t *st, sw_err_t *err) {
  sw_rc rc = check_path(st->path, !st->opts.read_only, err);
  if (rc == SW_OK) rc = check_fs(st, err);
  if (rc == SW_OK) rc = open_connection(st, err);
  if (rc == SW_OK) rc = set_pragmas(st, err);
  if (rc != SW_OK) return rc;
  if (st->opts.read_only) return check_read_only_version(st, err);
  rc = migrate(st, err);
  if (rc == SW_OK) rc = sw_store_prepare_inserts(st, err);
  return rc;
}

static void store_destroy(sw_store_t *st) {
  sw_store_finalize_inserts(st);
  sqlite3_close_v2(st->db);
  free(st->path);
  free(st->fs_warning);
  st->magic = SW_STORE_DEAD;
  free(st);
}

sw_rc sw_store_open(sw_store_t **out, const char *path, const sw_store_opts_t *opts, sw_err_t *err) {
  *out = NULL;
  if (!path || !*path) return sw_err_set(err, SW_ERR_INVALID, "results database path is empty");
  sw_store_t *st = calloc(1, sizeof *st);
  if (!st) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  st->magic = SW_STORE_MAGIC;
  st->path = strdup(path);
  if (opts) st->opts = *opts;
  else sw_store_opts_default(&st->opts);
  if (st->opts.batch_trials < 1) st->opts.batch_trials = 1;
  sw_rc rc = st->path ? open_steps(st, err) : sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  if (rc != SW_OK) {
    store_destroy(st);
    return rc;
  }
  *out = st;
  return SW_OK;
}

sw_rc sw_store_close(sw_store_t **stp, sw_err_t *err) {
  if (!stp || !*stp) return SW_OK;
  sw_store_t *st = *stp;
  SW_STORE_CHECK(st);
  sw_rc rc = st->opts.read_only ? SW_OK : sw_store_flush(st, err);
  store_destroy(st);
  *stp = NULL;
  return rc;
}

const char *sw_store_fs_warning(const sw_store_t *st) {
  SW_STORE_CHECK(st);
  return st->fs_warning;
}

const char *sw_store_path(const sw_store_t *st) {
  SW_STORE_CHECK(st);
  return st->path;
}

struct sqlite3 *sw_store_handle(sw_store_t *st) {
  SW_STORE_CHECK(st);
  return st->db;
}

sw_rc sw_store_integrity_check(sw_store_t *st, sw_err_t *err) {
  SW_STORE_CHECK(st);
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot check");
  sw_rc rc = SW_OK;
  int step = sqlite3_step(s);
  if (step != SQLITE_ROW) rc = sw_store_db_err(st, err, "cannot check");
  else if (strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0)
    rc = sw_err_set(err, SW_ERR_DB, "integrity check of '%s' failed: %s", st->path,
                    (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return rc;
}

/* ---- runs ---------------------------------------------------------------------------------------- */

static void random_uuid(char out[37]) {
  unsigned char b[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? read(fd, b, sizeof b) : -1;
  if (fd >= 0) close(fd);
  if (got != (ssize_t)sizeof b) {
    /* No /dev/urandom: hash time and pid (unique enough for a run id on one host). */
    char seed[64];
    uint8_t d[32];
    sw_sha256_t h;
    snprintf(seed, sizeof seed, "%lld:%ld", (long long)sw_now_ns(), (long)getpid());
    sw_sha256_init(&h);
    sw_sha256_update(&h, seed, strlen(seed));
    sw_sha256_final(&h, d);
    memcpy(b, d, sizeof b);
  }
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* RFC 9562 §5.4: version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static const char sw_run_insert_sql[] =
    "INSERT INTO runs(uuid, started_s, status, spec_name, spec_text, spec_hash, sw_version, git_commit, git_dirty,"
    " hosts, n_ranks, cpu_model, cores, mem_bytes, compiler, cflags, openblas_version, openblas_core, mpi_version,"
    " papi_version, papi_presets, env, machine_fingerprint, command_line, cpu_id, kernel_cflags)"
    " VALUES(?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
    " ?21, ?22, ?23, ?24, ?25)";

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(s, i);
}

static void bind_run(sqlite3_stmt *s, const sw_provenance_t *p, const char *uuid, const char *spec_hash,
                     const char *fingerprint) {
  bind_text(s, 1, uuid);
  sqlite3_bind_double(s, 2, p->started_s > 0 ? p->started_s : sw_wall_s());
  bind_text(s, 3, p->spec_name);
  bind_text(s, 4, p->spec_text);
  bind_text(s, 5, spec_hash);
  bind_text(s, 6, p->sw_version);
  bind_text(s, 7, p->git_commit);
  if (p->git_dirty >= 0) sqlite3_bind_int(s, 8, p->git_dirty);
  bind_text(s, 9, p->hosts_json);
  sqlite3_bind_int(s, 10, p->n_ranks);
  bind_text(s, 11, p->cpu_model);
  sqlite3_bind_int(s, 12, p->cores);
  if (p->mem_bytes > 0) sqlite3_bind_int64(s, 13, p->mem_bytes);
  bind_text(s, 14, p->compiler);
  bind_text(s, 15, p->cflags);
  bind_text(s, 16, p->openblas_version);
  bind_text(s, 17, p->openblas_core);
  bind_text(s, 18, p->mpi_version);
  bind_text(s, 19, p->papi_version);
  bind_text(s, 20, p->papi_presets_json);
  bind_text(s, 21, p->env_json);
  bind_text(s, 22, fingerprint);
  bind_text(s, 23, p->command_line);
  bind_text(s, 24, p->cpu_id);
  bind_text(s, 25, p->kernel_cflags);
}

sw_rc sw_store_run_begin(sw_store_t *st, const sw_provenance_t *prov, int64_t *run_id, sw_err_t *err) {
  SW_STORE_CHECK(st);
  char uuid[37], spec_hash[65], fingerprint[17];
  if (!prov->uuid) random_uuid(uuid);
  if (!prov->spec_hash && prov->spec_text) sw_sha256_hex(prov->spec_text, strlen(prov->spec_text), spec_hash);
  if (!prov->fingerprint) sw_machine_fingerprint(prov, fingerprint);
  sw_rc rc = sw_store_flush(st, err);
  if (rc != SW_OK) return rc;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(st->db, sw_run_insert_sql, -1, &s, NULL) != SQLITE_OK)
    return sw_store_db_err(st, err, "cannot record the run in");
  bind_run(s, prov, prov->uuid ? prov->uuid : uuid,
           prov->spec_hash ? prov->spec_hash : (prov->spec_text ? spec_hash : NULL),
           prov->fingerprint ? prov->fingerprint : fingerprint);
  if (sqlite3_step(s) != SQLITE_DONE) rc = sw_store_db_err(st, err, "cannot record the run in");
  else if (run_id) *run_id = sqlite3_last_insert_rowid(st->db);
  sqlite3_finalize(s);
  return rc;
}

sw_rc sw_store_run_end(sw_store_t *st, int64_t run_id, const char *status, double ended_s, sw_err_t *err) {
  SW_STORE_CHECK(st);
  sw_rc rc = sw_store_flush(st, err);
  if (rc != SW_OK) return rc;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(st->db, "UPDATE runs SET status = ?1, ended_s = ?2 WHERE run_id = ?3", -1, &s, NULL) !=
      SQLITE_OK)
    return sw_store_db_err(st, err, "cannot finish the run in");
  bind_text(s, 1, status ? status : "done");
  sqlite3_bind_double(s, 2, ended_s > 0 ? ended_s : sw_wall_s());
  sqlite3_bind_int64(s, 3, run_id);
  if (sqlite3_step(s) != SQLITE_DONE) rc = sw_store_db_err(st, err, "cannot finish the run in");
  else if (sqlite3_changes(st->db) != 1)
    rc = sw_err_set(err, SW_ERR_NOTFOUND, "no run %lld in '%s'", (long long)run_id, st->path);
  sqlite3_finalize(s);
  return rc;
}
