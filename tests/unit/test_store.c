/* test_store: the SQLite results store against hand-written expectations, checked through a second, raw
 * sqlite3 connection (never through the store's own queries): schema and versions, exact rows ingested from
 * a result JSON, resume hash sets, refusal of newer schemas and unwritable paths, merge without duplicates,
 * concurrent readers, crash (SIGKILL) and disk-full behaviour.  Every test works in its own temp directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "results/sw_store.h"
#include "results/sw_store_int.h" /* sw_store_handle: the tests read the rows back with SQL */

/* Values below are stored and read back as IEEE doubles: exact equality is expected. */
#define TOL_EXACT 0.0
/* Expected values, hand-derived from RESULT_JSON and the trial records below (all exact in binary). */
#define EXP_SPEEDUP 1.5          /* metrics "speedup" */
#define EXP_FLOPS 1200000.0      /* metrics "flops_sparse" (integer in JSON, stored as REAL) */
#define EXP_DENSE_SUM 0.75       /* samples dense rep 0 + rep 1 = 0.25 + 0.5 */
#define EXP_SPARSE_REP0 0.125    /* samples sparse rep 0 */
#define EXP_SDE_FLOPS 4096.0     /* counters sde:::sw::flops */
#define EXP_OK_DURATION 2.5      /* ended_s 1002.5 - started_s 1000.0 (duration_s < 0 given) */
#define EXP_FAIL_DURATION 0.75   /* duration_s given explicitly for the failed trial */

typedef struct fixture {
  char dir[256];  /* temp directory, removed after the test */
  char path[320]; /* dir/results.db */
} fixture_t;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/sw_store_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/results.db", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* ---- helpers: a raw connection and one-value queries ---------------------------------------------- */

static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  return db;
}

static int64_t q_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

static double q_double(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  double v = sqlite3_column_double(s, 0);
  sqlite3_finalize(s);
  return v;
}

/* Returns the first column of the first row as text ("(null)" for NULL) in the caller's buffer. */
static const char *q_text(sqlite3 *db, const char *sql, char *buf, size_t n) {
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  const unsigned char *t = sqlite3_column_text(s, 0);
  snprintf(buf, n, "%s", t ? (const char *)t : "(null)");
  sqlite3_finalize(s);
  return buf;
}

static int64_t count_rows(const char *path, const char *table) {
  sqlite3 *db = raw_open(path);
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  int64_t n = q_int(db, sql);
  sqlite3_close(db);
  return n;
}

static sw_store_t *open_store(const char *path, int batch_trials) {
  sw_store_opts_t o;
  sw_err_t err;
  sw_store_t *st = NULL;
  sw_store_opts_default(&o);
  o.batch_trials = batch_trials;
  o.batch_seconds = 3600; /* commits only by count or flush in tests */
  sw_err_clear(&err);
  sw_rc rc = sw_store_open(&st, path, &o, &err);
  if (rc != SW_OK) fprintf(stderr, "open: %s\n", err.msg);
  assert_int_equal(rc, SW_OK);
  return st;
}

static int64_t begin_run(sw_store_t *st, const char *name) {
  sw_provenance_t p;
  memset(&p, 0, sizeof p);
  p.spec_name = name;
  p.spec_text = "name: test\n";
  p.git_commit = "abc123";
  p.git_dirty = 1;
  p.hosts_json = "[\"h1\",\"h2\"]";
  p.n_ranks = 3;
  p.cpu_model = "Test CPU";
  p.cpu_id = "x86 vendor=TestVendor family=25 model=1 stepping=1 isa=avx2";
  p.kernel_cflags = "-O2 -march=test";
  p.cores = 2;
  p.mem_bytes = 24LL << 30;
  p.openblas_core = "Haswell";
  p.papi_presets_json = "[]";
  p.env_json = "{\"OPENBLAS_CORETYPE\":\"Haswell\"}";
  int64_t run_id = 0;
  sw_err_t err;
  sw_err_clear(&err);
  assert_int_equal(sw_store_run_begin(st, &p, &run_id, &err), SW_OK);
  assert_true(run_id > 0);
  return run_id;
}

static const char *const RESULT_JSON =
    "{\"v\":1,\"metrics\":[{\"name\":\"speedup\",\"value\":1.5,\"unit\":\"ratio\"},"
    "{\"name\":\"flops_sparse\",\"value\":1200000,\"unit\":\"flop\"}],"
    "\"samples\":[{\"series\":\"dense\",\"rep\":0,\"value\":0.25},{\"series\":\"dense\",\"rep\":1,\"value\":0.5},"
    "{\"series\":\"sparse\",\"rep\":0,\"value\":0.125}],"
    "\"counters\":[{\"series\":\"sparse\",\"name\":\"PAPI_TOT_CYC\",\"value\":null,"
    "\"reason\":\"no hardware counters\"},{\"series\":\"sparse\",\"name\":\"sde:::sw::flops\",\"value\":4096}]}";

static sw_rc add_attempt(sw_store_t *st, int64_t run, const char *hash, int attempt, sw_trial_status status,
                         const char *result, sw_err_t *err);

static sw_rc add(sw_store_t *st, int64_t run, const char *hash, sw_trial_status status, const char *result,
                 sw_err_t *err) {
  return add_attempt(st, run, hash, 1, status, result, err);
}

static sw_rc add_attempt(sw_store_t *st, int64_t run, const char *hash, int attempt, sw_trial_status status,
                         const char *result, sw_err_t *err) {
  sw_outcome_t o = {.status = status, .start_wall = 1000.0, .end_wall = 1002.5,
                    .exit_status = status == SW_TRIAL_OK ? 0 : -1, .result_json = (char *)result};
  sw_trial_record_t t;
  memset(&t, 0, sizeof t);
  t.run_id = run;
  t.config_hash = hash;
  t.config_json = "{\"workload\":\"test\"}";
  t.attempt = attempt;
  t.rank = 1;
  t.host = "h1";
  t.duration_s = -1;
  t.outcome = &o;
  sw_err_clear(err);
  return sw_store_add_trial(st, &t, NULL, err);
}

static void add_ok(sw_store_t *st, int64_t run, const char *hash) {
  sw_err_t err;
  assert_int_equal(add(st, run, hash, SW_TRIAL_OK, RESULT_JSON, &err), SW_OK);
}

/* ---- schema -------------------------------------------------------------------------------------- */

static void test_schema_created(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 8);
  sw_err_t err;
  assert_null(sw_store_fs_warning(st)); /* a local temp dir: no network file-system warning */
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_null(st);
  assert_int_equal(sw_store_close(&st, &err), SW_OK); /* idempotent */
  sqlite3 *db = raw_open(f->path);
  char buf[64];
  assert_int_equal(q_int(db, "PRAGMA user_version"), SW_STORE_SCHEMA_VERSION);
  assert_int_equal(q_int(db, "PRAGMA application_id"), 0x53575350);
  assert_string_equal(q_text(db, "PRAGMA journal_mode", buf, sizeof buf), "wal");
  assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                             "('runs','trials','metrics','samples','counters')"),
                   5);
  assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                             "('trials_by_hash_status','trials_by_status','trials_by_run')"),
                   3);
  sqlite3_close(db);
  /* Reopening an existing database keeps it as it is. */
  st = open_store(f->path, 8);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(count_rows(f->path, "runs"), 0);
  /* Read-only open (reports): reads work, and a missing file is an error naming it. */
  sw_store_opts_t o;
  sw_store_opts_default(&o);
  o.read_only = 1;
  assert_int_equal(sw_store_open(&st, f->path, &o, &err), SW_OK);
  assert_int_equal(q_int(sw_store_handle(st), "SELECT count(*) FROM trials"), 0);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  char missing[400];
  snprintf(missing, sizeof missing, "%s/missing.db", f->dir);
  assert_int_equal(sw_store_open(&st, missing, &o, &err), SW_ERR_IO);
  assert_non_null(strstr(err.msg, missing));
  assert_int_equal(access(missing, F_OK), -1); /* read-only open never creates the file */
}

/* ---- ingest -------------------------------------------------------------------------------------- */

static void test_ingest_exact_rows(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 8);
  int64_t run = begin_run(st, "ingest");
  add_ok(st, run, "aaaa");
  sw_outcome_t o = {.status = SW_TRIAL_FAILED, .start_wall = 10.0, .end_wall = 11.0, .signo = SIGSEGV,
                    .exit_status = -1, .stderr_tail = (char *)"Segmentation fault", .cause = "killed by signal 11"};
  sw_trial_record_t t;
  memset(&t, 0, sizeof t);
  t.run_id = run;
  t.config_hash = "bbbb";
  t.config_json = "{\"workload\":\"test\",\"crash\":\"segv\"}";
  t.attempt = 2;
  t.rank = 2;
  t.duration_s = EXP_FAIL_DURATION;
  t.outcome = &o;
  sw_err_t err;
  int64_t id = 0;
  assert_int_equal(sw_store_add_trial(st, &t, &id, &err), SW_OK);
  assert_true(id > 0);
  assert_int_equal(sw_store_run_end(st, run, "done", 0, &err), SW_OK);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);

  sqlite3 *db = raw_open(f->path);
  char buf[256];
  assert_int_equal(q_int(db, "SELECT count(*) FROM trials"), 2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM metrics"), 2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM samples"), 3);
  assert_int_equal(q_int(db, "SELECT count(*) FROM counters"), 2);
  assert_float_equal(q_double(db, "SELECT value FROM metrics WHERE name = 'speedup'"), EXP_SPEEDUP, TOL_EXACT);
  assert_string_equal(q_text(db, "SELECT unit FROM metrics WHERE name = 'flops_sparse'", buf, sizeof buf), "flop");
  assert_float_equal(q_double(db, "SELECT value FROM metrics WHERE name = 'flops_sparse'"), EXP_FLOPS, TOL_EXACT);
  assert_float_equal(q_double(db, "SELECT sum(value) FROM samples WHERE series = 'dense'"), EXP_DENSE_SUM, TOL_EXACT);
  assert_float_equal(q_double(db, "SELECT value FROM samples WHERE series = 'sparse' AND rep = 0"), EXP_SPARSE_REP0, TOL_EXACT);
  assert_int_equal(q_int(db, "SELECT value IS NULL FROM counters WHERE name = 'PAPI_TOT_CYC'"), 1);
  assert_string_equal(q_text(db, "SELECT reason FROM counters WHERE name = 'PAPI_TOT_CYC'", buf, sizeof buf),
                      "no hardware counters");
  assert_float_equal(q_double(db, "SELECT value FROM counters WHERE name = 'sde:::sw::flops'"), EXP_SDE_FLOPS, TOL_EXACT);
  /* ok trial: duration from wall times (2.5 s), exit status 0, no signal. */
  assert_float_equal(q_double(db, "SELECT duration_s FROM trials WHERE config_hash = 'aaaa'"), EXP_OK_DURATION, TOL_EXACT);
  assert_int_equal(q_int(db, "SELECT signal IS NULL AND exit_status = 0 FROM trials WHERE config_hash = 'aaaa'"), 1);
  /* failed trial: its cause. */
  assert_string_equal(q_text(db, "SELECT status FROM trials WHERE config_hash = 'bbbb'", buf, sizeof buf), "failed");
  assert_int_equal(q_int(db, "SELECT signal FROM trials WHERE config_hash = 'bbbb'"), 11);
  assert_string_equal(q_text(db, "SELECT signal_name FROM trials WHERE config_hash = 'bbbb'", buf, sizeof buf),
                      "SIGSEGV");
  assert_int_equal(q_int(db, "SELECT exit_status IS NULL AND attempt = 2 AND rank = 2 FROM trials "
                             "WHERE config_hash = 'bbbb'"),
                   1);
  assert_float_equal(q_double(db, "SELECT duration_s FROM trials WHERE config_hash = 'bbbb'"), EXP_FAIL_DURATION, TOL_EXACT);
  assert_string_equal(q_text(db, "SELECT stderr_tail FROM trials WHERE config_hash = 'bbbb'", buf, sizeof buf),
                      "Segmentation fault");
  assert_int_equal(q_int(db, "SELECT count(*) FROM metrics m JOIN trials t USING (trial_id) "
                             "WHERE t.config_hash = 'bbbb'"),
                   0);
  /* run provenance */
  assert_string_equal(q_text(db, "SELECT status FROM runs", buf, sizeof buf), "done");
  assert_int_equal(q_int(db, "SELECT ended_s >= started_s AND git_dirty = 1 AND n_ranks = 3 FROM runs"), 1);
  assert_int_equal(q_int(db, "SELECT length(uuid) = 36 AND length(machine_fingerprint) = 16 AND "
                             "length(spec_hash) = 64 FROM runs"),
                   1);
  assert_string_equal(q_text(db, "SELECT json_extract(env, '$.OPENBLAS_CORETYPE') FROM runs", buf, sizeof buf),
                      "Haswell");
  assert_string_equal(q_text(db, "SELECT kernel_cflags FROM runs", buf, sizeof buf), "-O2 -march=test");
  assert_string_equal(q_text(db, "SELECT cpu_id FROM runs", buf, sizeof buf),
                      "x86 vendor=TestVendor family=25 model=1 stepping=1 isa=avx2");
  assert_int_equal(q_int(db, "SELECT count(*) FROM latest_ok"), 1);
  sqlite3_close(db);
}

static void test_ingest_rejects_bad_results(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 100);
  int64_t run = begin_run(st, "bad");
  sw_err_t err;
  add_ok(st, run, "good1");
  assert_int_equal(add(st, run, "h_trunc", SW_TRIAL_OK, "{\"v\":1,\"metrics\":[", &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "h_trunc"));
  assert_int_equal(add(st, run, "h_v2", SW_TRIAL_OK, "{\"v\":2}", &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "version"));
  assert_int_equal(add(st, run, "h_arr", SW_TRIAL_OK, "[1,2]", &err), SW_ERR_PARSE);
  assert_int_equal(add(st, run, "h_obj", SW_TRIAL_OK, "{\"v\":1,\"samples\":{}}", &err), SW_ERR_PARSE);
  /* A string where a number belongs: the CHECK constraint rejects it and the whole trial is rolled back. */
  assert_int_equal(
      add(st, run, "h_str", SW_TRIAL_OK, "{\"v\":1,\"metrics\":[{\"name\":\"a\",\"value\":\"fast\"}]}", &err),
      SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "metrics"));
  assert_int_equal(add(st, run, "h_rep", SW_TRIAL_OK,
                       "{\"v\":1,\"samples\":[{\"series\":\"d\",\"rep\":0,\"value\":1.0},"
                       "{\"series\":\"d\",\"rep\":0,\"value\":2.0}]}",
                       &err),
                   SW_ERR_PARSE);
  assert_int_equal(add(st, run, "h_name", SW_TRIAL_OK, "{\"v\":1,\"metrics\":[{\"value\":1.0}]}", &err),
                   SW_ERR_PARSE);
  /* A counter null without a reason (a NaN/inf value serialised as null) is kept, with a generated reason. */
  assert_int_equal(add(st, run, "h_cnt", SW_TRIAL_OK,
                       "{\"v\":1,\"counters\":[{\"series\":\"d\",\"name\":\"x\",\"value\":null}]}", &err),
                   SW_OK);
  add_ok(st, run, "good2");
  assert_int_equal(sw_store_pending(st), 3);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(count_rows(f->path, "trials"), 3);
  sqlite3 *db = raw_open(f->path);
  char buf[128];
  assert_string_equal(q_text(db, "SELECT reason FROM counters WHERE name = 'x'", buf, sizeof buf),
                      "value missing or not finite in the result");
  sqlite3_close(db);
  assert_int_equal(count_rows(f->path, "metrics"), 4);
  assert_int_equal(count_rows(f->path, "samples"), 6);
}

/* ---- resume -------------------------------------------------------------------------------------- */

static void test_ok_hashes(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 2);
  sw_err_t err;
  int64_t r1 = begin_run(st, "r1");
  add_ok(st, r1, "c3");
  assert_int_equal(add(st, r1, "b2", SW_TRIAL_FAILED, NULL, &err), SW_OK);
  assert_int_equal(add(st, r1, "d4", SW_TRIAL_TIMEOUT, NULL, &err), SW_OK);
  int64_t r2 = begin_run(st, "r2");
  assert_true(r2 != r1);
  add_ok(st, r2, "a1");
  add_ok(st, r2, "c3");                                                 /* ok twice: one entry */
  assert_int_equal(add(st, r2, "e5", SW_TRIAL_INTERRUPTED, NULL, &err), SW_OK); /* still buffered */
  sw_hash_set_t set = {0};
  assert_int_equal(sw_store_ok_hashes(st, &set, &err), SW_OK);
  assert_int_equal(set.count, 2);
  assert_string_equal(set.items[0], "a1");
  assert_string_equal(set.items[1], "c3");
  assert_true(sw_hash_set_contains(&set, "a1"));
  assert_true(sw_hash_set_contains(&set, "c3"));
  assert_false(sw_hash_set_contains(&set, "b2"));
  assert_false(sw_hash_set_contains(&set, "zz"));
  sw_hash_set_free(&set);
  sw_hash_set_free(&set);
  assert_int_equal(set.count, 0);
  assert_int_equal(
      sw_store_hashes_with_status(st, (1u << SW_TRIAL_FAILED) | (1u << SW_TRIAL_INTERRUPTED), &set, &err), SW_OK);
  assert_int_equal(set.count, 2);
  assert_string_equal(set.items[0], "b2");
  assert_string_equal(set.items[1], "e5");
  sw_hash_set_free(&set);
  int attempt = -1;
  assert_int_equal(sw_store_max_attempt(st, "c3", &attempt, &err), SW_OK);
  assert_int_equal(attempt, 1);
  assert_int_equal(sw_store_max_attempt(st, "never", &attempt, &err), SW_OK);
  assert_int_equal(attempt, 0);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
}

/* Creates a current database at path through the store, then runs sql on it through a raw connection. */
static void create_then_alter(const char *path, const char *sql) {
  sw_store_t *st = open_store(path, 8);
  sw_err_t    err;
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  sqlite3 *db = raw_open(path);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

/* A version-1 database (before cpu_id and kernel_cflags) is refused read-only with a hint, and migrated
 * when opened read-write: its run keeps every value, the new columns are NULL for it and filled for new runs. */
static void test_migrates_version_1(void **state) {
  fixture_t *f = *state;
  create_then_alter(f->path, "ALTER TABLE runs DROP COLUMN cpu_id; ALTER TABLE runs DROP COLUMN kernel_cflags;"
                             "DROP TABLE run_lock; DROP TABLE rank_events;"
                             "INSERT INTO runs(uuid, started_s, spec_name, cflags) VALUES('old', 1000, 'v1', '-O2');"
                             "PRAGMA user_version = 1");
  sw_store_t     *st = NULL;
  sw_err_t        err;
  sw_store_opts_t o;
  sw_store_opts_default(&o);
  o.read_only = 1;
  assert_int_equal(sw_store_open(&st, f->path, &o, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "open it once read-write to migrate"));
  st = open_store(f->path, 8);
  begin_run(st, "v2");
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  sqlite3 *db = raw_open(f->path);
  char     buf[128];
  assert_int_equal(q_int(db, "PRAGMA user_version"), SW_STORE_SCHEMA_VERSION);
  assert_int_equal(q_int(db, "SELECT cpu_id IS NULL AND kernel_cflags IS NULL AND cflags = '-O2' AND spec_name = 'v1'"
                             " FROM runs WHERE uuid = 'old'"),
                   1);
  assert_string_equal(q_text(db, "SELECT kernel_cflags FROM runs WHERE spec_name = 'v2'", buf, sizeof buf),
                      "-O2 -march=test");
  sqlite3_close(db);
}

/* ---- refusals ------------------------------------------------------------------------------------ */

static void test_newer_version_refused(void **state) {
  char this_version[32];
  snprintf(this_version, sizeof this_version, "version %d", SW_STORE_SCHEMA_VERSION);
  fixture_t *f = *state;
  create_then_alter(f->path, "PRAGMA user_version = 7");
  sw_store_t *st = NULL;
  sw_err_t    err;
  assert_int_equal(sw_store_open(&st, f->path, NULL, &err), SW_ERR_UNSUPPORTED);
  assert_null(st);
  assert_non_null(strstr(err.msg, "schema version 7"));
  assert_non_null(strstr(err.msg, this_version));
  assert_non_null(strstr(err.msg, f->path));
  sw_store_opts_t o;
  sw_store_opts_default(&o);
  o.read_only = 1;
  assert_int_equal(sw_store_open(&st, f->path, &o, &err), SW_ERR_UNSUPPORTED);
}

static void test_bad_paths(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = NULL;
  sw_err_t err;
  char p[512];
  /* missing directory */
  snprintf(p, sizeof p, "%s/no/such/dir/r.db", f->dir);
  assert_int_equal(sw_store_open(&st, p, NULL, &err), SW_ERR_IO);
  assert_null(st);
  assert_non_null(strstr(err.msg, p));
  assert_non_null(strstr(err.msg, "No such file"));
  /* a directory where the file should be */
  assert_int_equal(sw_store_open(&st, f->dir, NULL, &err), SW_ERR_IO);
  assert_non_null(strstr(err.msg, "is a directory"));
  /* a regular file used as a directory */
  snprintf(p, sizeof p, "%s/plain", f->dir);
  FILE *fp = fopen(p, "w");
  fputs("this is not a database, just text long enough to have a header..........................\n", fp);
  fclose(fp);
  char q[600];
  snprintf(q, sizeof q, "%s/r.db", p);
  assert_int_equal(sw_store_open(&st, q, NULL, &err), SW_ERR_IO);
  assert_non_null(strstr(err.msg, q));
  /* a file that is not a database */
  assert_int_equal(sw_store_open(&st, p, NULL, &err), SW_ERR_DB);
  assert_non_null(strstr(err.msg, p));
  assert_non_null(strstr(err.msg, "not a database"));
  /* an SQLite database that is not sparsweep's */
  snprintf(p, sizeof p, "%s/other.db", f->dir);
  sqlite3 *db = NULL;
  sqlite3_open(p, &db);
  sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
  sqlite3_close(db);
  assert_int_equal(sw_store_open(&st, p, NULL, &err), SW_ERR_DB);
  assert_non_null(strstr(err.msg, "not a sparsweep results database"));
  /* a directory nobody can create files in, not even root */
  assert_int_equal(sw_store_open(&st, "/proc/sw_store_test.db", NULL, &err), SW_ERR_IO);
  assert_non_null(strstr(err.msg, "'/proc/sw_store_test.db'"));
}

/* The permission checks of a read-only file and a read-only directory under dir; returns 0 or the number of
 * the first check that failed (run in a child process: no cmocka assertion may fire there). */
static int read_only_checks(const char *dir) {
  char        p[512], q[600];
  sw_store_t *st = NULL;
  sw_err_t    err;
  snprintf(p, sizeof p, "%s/ro.db", dir);
  if (sw_store_open(&st, p, NULL, &err) != SW_OK || sw_store_close(&st, &err) != SW_OK) return 1;
  chmod(p, 0444);
  if (sw_store_open(&st, p, NULL, &err) != SW_ERR_IO) return 2;
  if (!strstr(err.msg, p)) return 3;
  chmod(p, 0644);
  snprintf(p, sizeof p, "%s/rodir", dir);
  mkdir(p, 0555);
  snprintf(q, sizeof q, "%s/r.db", p);
  if (sw_store_open(&st, q, NULL, &err) != SW_ERR_IO) return 4;
  if (!strstr(err.msg, "not writable")) return 5;
  chmod(p, 0755);
  return 0;
}

#define RO_CANNOT_DROP_ROOT 100 /* child exit status: setgid/setuid to nobody refused (no CAP_SETUID) */

/* Read-only file and directory are refused with the path named.  Root ignores permission bits, so as root
 * the checks run in a child that first becomes `nobody` (uid/gid 65534 when there is no such entry). */
static void test_read_only_paths(void **state) {
  fixture_t     *f = *state;
  struct passwd *pw = getpwnam("nobody");
  uid_t          uid = pw ? pw->pw_uid : 65534;
  gid_t          gid = pw ? pw->pw_gid : 65534;
  int            as_root = geteuid() == 0;
  if (as_root) assert_int_equal(chmod(f->dir, 0777), 0); /* nobody must create files in the fixture dir */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (as_root && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) _exit(RO_CANNOT_DROP_ROOT);
    _exit(read_only_checks(f->dir));
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == RO_CANNOT_DROP_ROOT) {
    print_message("skipped: running as root and cannot become nobody (setuid refused)\n");
    skip();
  }
  if (as_root) print_message("read-only checks ran as uid %d (nobody), not root\n", (int)uid);
  if (WEXITSTATUS(status) != 0) fail_msg("read-only check %d failed", WEXITSTATUS(status));
}

/* ---- merge --------------------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  assert_non_null(a);
  assert_non_null(b);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0) assert_int_equal(fwrite(buf, 1, n, b), n);
  fclose(a);
  fclose(b);
}

static void test_merge(void **state) {
  fixture_t *f = *state;
  char a[512], b[512], out[512], buf[512];
  snprintf(a, sizeof a, "%s/a.db", f->dir);
  snprintf(b, sizeof b, "%s/b.db", f->dir);
  snprintf(out, sizeof out, "%s/out.db", f->dir);
  sw_err_t err;
  /* Job A: h1 ok, h2 ok, h3 failed. */
  sw_store_t *st = open_store(a, 8);
  int64_t ra = begin_run(st, "job-a");
  add_ok(st, ra, "h1");
  add_ok(st, ra, "h2");
  assert_int_equal(add(st, ra, "h3", SW_TRIAL_FAILED, NULL, &err), SW_OK);
  assert_int_equal(sw_store_close(&st, &err), SW_OK); /* close checkpoints: the .db file is complete */
  /* Job B started from a copy of A (same run A inside), then its own run: h2 again (repeat), h3 ok, h4 ok. */
  copy_file(a, b);
  st = open_store(b, 8);
  int64_t rb = begin_run(st, "job-b");
  add_ok(st, rb, "h2");
  add_ok(st, rb, "h3");
  add_ok(st, rb, "h4");
  assert_int_equal(sw_store_close(&st, &err), SW_OK);

  st = open_store(out, 8);
  sw_merge_stats_t s;
  assert_int_equal(sw_store_merge(st, a, NULL, &s, &err), SW_OK);
  assert_int_equal(s.runs_added, 1);
  assert_int_equal(s.trials_added, 3);
  assert_int_equal(s.trials_skipped, 0);
  assert_int_equal(sw_store_merge(st, b, NULL, &s, &err), SW_OK);
  assert_int_equal(s.runs_added, 1);      /* run A already present */
  assert_int_equal(s.trials_added, 2);    /* h3 ok, h4 ok */
  assert_int_equal(s.trials_skipped, 4);  /* run A's 3 trials + run B's repeat of h2 */
  assert_int_equal(sw_store_merge(st, b, NULL, &s, &err), SW_OK);
  assert_int_equal(s.runs_added + s.trials_added, 0);
  /* The output itself and garbage inputs are refused, and the output is unchanged. */
  assert_int_equal(sw_store_merge(st, out, NULL, &s, &err), SW_ERR_INVALID);
  snprintf(buf, sizeof buf, "%s/missing.db", f->dir);
  assert_int_equal(sw_store_merge(st, buf, NULL, &s, &err), SW_ERR_IO);
  assert_non_null(strstr(err.msg, buf));
  assert_int_equal(sw_store_integrity_check(st, &err), SW_OK);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);

  sqlite3 *db = raw_open(out);
  assert_int_equal(q_int(db, "SELECT count(*) FROM runs"), 2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM trials"), 5);
  assert_int_equal(q_int(db, "SELECT count(*) FROM (SELECT config_hash FROM trials WHERE status = 'ok' "
                             "GROUP BY config_hash HAVING count(*) > 1)"),
                   0);
  assert_int_equal(q_int(db, "SELECT count(*) FROM metrics"), 4 * 2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM samples"), 4 * 3);
  assert_int_equal(q_int(db, "SELECT count(*) FROM counters"), 4 * 2);
  /* Provenance: each run keeps its spec name and where it came from; trials point at the right run. */
  snprintf(buf, sizeof buf, "SELECT imported_from FROM runs WHERE spec_name = 'job-b'");
  char got[512];
  assert_string_equal(q_text(db, buf, got, sizeof got), b);
  assert_string_equal(q_text(db, "SELECT imported_from FROM runs WHERE spec_name = 'job-a'", got, sizeof got), a);
  assert_string_equal(q_text(db, "SELECT r.spec_name FROM trials t JOIN runs r USING (run_id) "
                                 "WHERE t.config_hash = 'h4'",
                             got, sizeof got),
                      "job-b");
  assert_string_equal(q_text(db, "SELECT r.spec_name FROM trials t JOIN runs r USING (run_id) "
                                 "WHERE t.config_hash = 'h3' AND t.status = 'failed'",
                             got, sizeof got),
                      "job-a");
  assert_float_equal(q_double(db, "SELECT m.value FROM metrics m JOIN trials t USING (trial_id) "
                                  "WHERE t.config_hash = 'h4' AND m.name = 'speedup'"),
                     EXP_SPEEDUP, TOL_EXACT);
  sqlite3_close(db);

  /* --keep-repeats keeps run B's second measurement of h2. */
  snprintf(out, sizeof out, "%s/out2.db", f->dir);
  st = open_store(out, 8);
  sw_merge_opts_t keep = {1};
  assert_int_equal(sw_store_merge(st, b, &keep, &s, &err), SW_OK);
  assert_int_equal(s.runs_added, 2);
  assert_int_equal(s.trials_added, 6);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
}

static void test_merge_refuses_newer_input(void **state) {
  char this_version[32];
  snprintf(this_version, sizeof this_version, "version %d", SW_STORE_SCHEMA_VERSION);
  fixture_t *f = *state;
  char in[512], out[512];
  snprintf(in, sizeof in, "%s/in.db", f->dir);
  snprintf(out, sizeof out, "%s/out.db", f->dir);
  sw_err_t err;
  sw_store_t *st = open_store(in, 8);
  add_ok(st, begin_run(st, "x"), "h1");
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  sqlite3 *db = raw_open(in);
  sqlite3_exec(db, "PRAGMA user_version = 9", NULL, NULL, NULL);
  sqlite3_close(db);
  st = open_store(out, 8);
  assert_int_equal(sw_store_merge(st, in, NULL, NULL, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "version 9"));
  assert_non_null(strstr(err.msg, this_version));
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(count_rows(out, "trials"), 0);
}

/* ---- batching, concurrency, crashes, disk full ---------------------------------------------------- */

static void test_batches_and_concurrent_reader(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 3);
  sw_err_t err;
  int64_t run = begin_run(st, "batch");
  sqlite3 *reader = raw_open(f->path);
  add_ok(st, run, "t1");
  add_ok(st, run, "t2");
  assert_int_equal(sw_store_pending(st), 2);
  assert_int_equal(q_int(reader, "SELECT count(*) FROM trials"), 0); /* not committed yet */
  add_ok(st, run, "t3");                                              /* third: batch commits */
  assert_int_equal(sw_store_pending(st), 0);
  assert_int_equal(q_int(reader, "SELECT count(*) FROM trials"), 3);
  /* A reader holding a snapshot does not block the writer's commit and keeps its snapshot. */
  assert_int_equal(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(q_int(reader, "SELECT count(*) FROM trials"), 3);
  add_ok(st, run, "t4");
  assert_int_equal(sw_store_flush(st, &err), SW_OK);
  assert_int_equal(q_int(reader, "SELECT count(*) FROM trials"), 3);
  assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(q_int(reader, "SELECT count(*) FROM trials"), 4);
  assert_int_equal(q_int(reader, "SELECT count(*) FROM samples"), 4 * 3);
  assert_int_equal(sw_store_flush(st, &err), SW_OK); /* nothing pending: no-op */
  sqlite3_close(reader);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
}

static void test_exclusive_locking(void **state) {
  fixture_t *f = *state;
  sw_store_opts_t o;
  sw_err_t err;
  sw_store_t *st = NULL;
  sw_store_opts_default(&o);
  o.exclusive = 1;
  assert_int_equal(sw_store_open(&st, f->path, &o, &err), SW_OK);
  add_ok(st, begin_run(st, "excl"), "x1");
  assert_int_equal(sw_store_flush(st, &err), SW_OK);
  sqlite3 *other = NULL;
  assert_int_equal(sqlite3_open_v2(f->path, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "SELECT count(*) FROM trials", NULL, NULL, NULL), SQLITE_BUSY);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(q_int(other, "SELECT count(*) FROM trials"), 1); /* released on close */
  sqlite3_close(other);
}

static void test_killed_writer_loses_only_unflushed(void **state) {
  fixture_t *f = *state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    sw_store_opts_t o;
    sw_err_t err;
    sw_store_t *st = NULL;
    sw_store_opts_default(&o);
    o.batch_trials = 1000;
    o.batch_seconds = 3600;
    if (sw_store_open(&st, f->path, &o, &err) != SW_OK) _exit(3);
    sw_provenance_t p;
    memset(&p, 0, sizeof p);
    int64_t run = 0;
    if (sw_store_run_begin(st, &p, &run, &err) != SW_OK) _exit(4);
    char h[16];
    for (int i = 0; i < 8; i++) {
      snprintf(h, sizeof h, "k%d", i);
      if (add(st, run, h, SW_TRIAL_OK, RESULT_JSON, &err) != SW_OK) _exit(5);
      if (i == 4 && sw_store_flush(st, &err) != SW_OK) _exit(6);
    }
    raise(SIGKILL); /* three trials buffered, never committed */
    _exit(7);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  sw_store_t *st = open_store(f->path, 8);
  sw_err_t err;
  assert_int_equal(sw_store_integrity_check(st, &err), SW_OK);
  sw_hash_set_t set = {0};
  assert_int_equal(sw_store_ok_hashes(st, &set, &err), SW_OK);
  assert_int_equal(set.count, 5);
  assert_true(sw_hash_set_contains(&set, "k4"));
  assert_false(sw_hash_set_contains(&set, "k5"));
  sw_hash_set_free(&set);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(count_rows(f->path, "samples"), 5 * 3);
}

static void test_disk_full_keeps_committed(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 4);
  sw_err_t err;
  int64_t run = begin_run(st, "full");
  for (int i = 0; i < 4; i++) {
    char h[16];
    snprintf(h, sizeof h, "f%d", i);
    add_ok(st, run, h);
  }
  assert_int_equal(sw_store_pending(st), 0);
  /* Simulate a full disk: forbid the file from growing beyond its current size. */
  sqlite3 *db = sw_store_handle(st);
  int64_t pages = q_int(db, "PRAGMA page_count");
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  size_t big_len = 64 * 1024;
  char *big = malloc(big_len + 1);
  assert_non_null(big);
  memset(big, 'x', big_len);
  big[big_len] = '\0';
  sw_outcome_t o = {.status = SW_TRIAL_FAILED, .stderr_tail = big, .exit_status = 1};
  sw_trial_record_t t;
  memset(&t, 0, sizeof t);
  t.run_id = run;
  t.config_hash = "g0";
  t.config_json = "{}";
  t.outcome = &o;
  sw_rc rc = SW_OK;
  for (int i = 0; i < 20 && rc == SW_OK; i++) rc = sw_store_add_trial(st, &t, NULL, &err);
  free(big);
  assert_int_equal(rc, SW_ERR_DB);
  assert_non_null(strstr(err.msg, f->path));
  assert_non_null(strstr(err.msg, "full"));
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(count_rows(f->path, "trials"), 4);
  st = open_store(f->path, 4);
  assert_int_equal(sw_store_integrity_check(st, &err), SW_OK);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
}

/* A statement SQLite aborts inside the batch rolls back the whole transaction (as SQLITE_FULL or IOERR do); an
 * interrupt from the progress handler makes any write fail that way on demand. */
static int interrupt_now(void *ctx) {
  (void)ctx;
  return 1;
}

typedef enum { FAIL_RANK_EVENT, FAIL_HEARTBEAT } failing_write_t;

static sw_rc failing_write(sw_store_t *st, int64_t run, failing_write_t which, sw_err_t *err) {
  sqlite3 *db = sw_store_handle(st);
  sqlite3_progress_handler(db, 1, interrupt_now, NULL);
  sw_store_rank_event_t ev = {run, 1, "node1", "infra_failure", "planted"};
  sw_rc rc = which == FAIL_RANK_EVENT ? sw_store_add_rank_event(st, &ev, err)
                                      : sw_store_lock_heartbeat(st, 111, run, err);
  sqlite3_progress_handler(db, 0, NULL, NULL);
  return rc;
}

/* Trials recorded in a batch that a failed rank-event or heartbeat write rolled back are reported lost (in the
 * error and in sw_store_lost_trials), and the next trial goes into a new batch that commits: before, the store
 * kept believing in its vanished batch, said nothing of the 3 trials, and later blamed a commit for 4. */
static void check_lost_batch(fixture_t *f, failing_write_t which) {
  sw_store_t *st = open_store(f->path, 100);
  sw_err_t err;
  int64_t run = begin_run(st, "lost");
  add_ok(st, run, "l0"), add_ok(st, run, "l1"), add_ok(st, run, "l2");
  assert_int_equal(sw_store_pending(st), 3);
  assert_int_not_equal(failing_write(st, run, which, &err), SW_OK);
  assert_non_null(strstr(err.msg, "3 uncommitted trials"));
  assert_int_equal(sw_store_lost_trials(st), 3);
  assert_int_equal(sw_store_pending(st), 0);
  add_ok(st, run, "l3");
  assert_int_equal(sw_store_pending(st), 1);
  assert_int_equal(sw_store_flush(st, &err), SW_OK);
  assert_int_equal(sw_store_lost_trials(st), 3);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(count_rows(f->path, "trials"), 1);
}

static void test_lost_batch_rank_event(void **state) { check_lost_batch(*state, FAIL_RANK_EVENT); }
static void test_lost_batch_heartbeat(void **state) { check_lost_batch(*state, FAIL_HEARTBEAT); }

/* The attempt index behind resume: each configuration's latest attempt and its trailing failures (rows added
 * out of attempt order on purpose), and which histories are final for a given number of retries. */
static void test_attempt_index(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 1);
  sw_err_t err;
  int64_t r1 = begin_run(st, "a"), r2 = begin_run(st, "b");
  static const struct {
    const char *hash;
    int attempt;
    sw_trial_status status;
  } rows[] = {{"ok", 1, SW_TRIAL_FAILED},          {"ok", 2, SW_TRIAL_OK},
              {"retry_left", 1, SW_TRIAL_TIMEOUT}, {"interrupted", 2, SW_TRIAL_INTERRUPTED},
              {"interrupted", 1, SW_TRIAL_FAILED}, {"spent", 3, SW_TRIAL_FAILED},
              {"spent", 1, SW_TRIAL_INTERRUPTED},  {"spent", 2, SW_TRIAL_TIMEOUT}};
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
    assert_int_equal(add_attempt(st, strcmp(rows[i].hash, "spent") ? r1 : r2, rows[i].hash, rows[i].attempt,
                                 rows[i].status, rows[i].status == SW_TRIAL_OK ? RESULT_JSON : NULL, &err), SW_OK);
  sw_attempt_index_t ix;
  assert_int_equal(sw_store_attempt_index(st, 0, &ix, &err), SW_OK);
  assert_int_equal(ix.count, 4);
  const sw_attempt_summary_t *ok = sw_attempt_find(&ix, "ok"), *left = sw_attempt_find(&ix, "retry_left");
  const sw_attempt_summary_t *intr = sw_attempt_find(&ix, "interrupted"), *spent = sw_attempt_find(&ix, "spent");
  assert_non_null(ok), assert_non_null(left), assert_non_null(intr), assert_non_null(spent);
  assert_null(sw_attempt_find(&ix, "never"));
  assert_int_equal(ok->max_attempt, 2), assert_int_equal(ok->latest, SW_TRIAL_OK);
  assert_int_equal(intr->latest, SW_TRIAL_INTERRUPTED), assert_int_equal(intr->trailing_failures, 0);
  assert_int_equal(spent->max_attempt, 3), assert_int_equal(spent->trailing_failures, 2); /* the interrupt ends a run */
  assert_true(sw_attempt_is_final(ok, 0));
  assert_true(sw_attempt_is_final(left, 0));  /* no retries: its one timeout is its result */
  assert_false(sw_attempt_is_final(left, 1)); /* a retry it never got */
  assert_false(sw_attempt_is_final(intr, 5));
  assert_true(sw_attempt_is_final(spent, 1));
  assert_false(sw_attempt_is_final(spent, 2));
  sw_attempt_index_free(&ix);
  assert_int_equal(sw_store_attempt_index(st, r2, &ix, &err), SW_OK); /* one run's rows only */
  assert_int_equal(ix.count, 1);
  assert_string_equal(ix.items[0].hash, "spent");
  sw_attempt_index_free(&ix);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
}

/* ---- provenance helpers -------------------------------------------------------------------------- */

static void test_fs_classify(void **state) {
  (void)state;
  sw_fs_check_t c;
  /* Constants from linux/magic.h, the independent reference for the table in sw_store_host.c. */
  const unsigned long net[] = {NFS_SUPER_MAGIC, SMB_SUPER_MAGIC, CIFS_SUPER_MAGIC, SMB2_SUPER_MAGIC,
                               CEPH_SUPER_MAGIC, AFS_SUPER_MAGIC, V9FS_MAGIC};
  for (size_t i = 0; i < sizeof net / sizeof net[0]; i++) {
    sw_fs_classify(net[i], &c);
    assert_int_equal(c.network, 1);
  }
  sw_fs_classify(NFS_SUPER_MAGIC, &c);
  assert_string_equal(c.fs_name, "nfs");
  sw_fs_classify(0x0BD00BD0, &c); /* Lustre LL_SUPER_MAGIC */
  assert_string_equal(c.fs_name, "lustre");
  sw_fs_classify(0x47504653, &c); /* 'G''P''F''S' */
  assert_string_equal(c.fs_name, "gpfs");
  sw_fs_classify(EXT4_SUPER_MAGIC, &c);
  assert_int_equal(c.network, 0);
  sw_fs_classify(TMPFS_MAGIC, &c);
  assert_int_equal(c.network, 0);
  fixture_t *f = *state;
  sw_err_t err;
  assert_int_equal(sw_fs_check_path(f->path, &c, &err), SW_OK);
}

/* Writes text to dir/name and returns the path in buf. */
static const char *write_fixture(const char *dir, const char *name, const char *text, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", dir, name);
  FILE *fp = fopen(buf, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
  return buf;
}

/* Two CPU generations sold as "AMD EPYC" (Zen 2, family 23; Zen 3, family 25) and an aarch64 Neoverse: the
 * CPU ids are the hand-read fields of these /proc/cpuinfo excerpts, and the fingerprints differ. */
static void test_cpu_id_tells_generations_apart(void **state) {
  fixture_t  *f = *state;
  const char *zen2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 49\n"
                     "model name\t: AMD EPYC\nstepping\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512fake\n\n"
                     "processor\t: 1\nvendor_id\t: Other\ncpu family\t: 99\n";
  const char *zen3 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
                     "model name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: fpu avx2 fma vaes avx512f avx512_bf16 "
                     "amx_tile\n";
  const char *arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm sve2 sve\nCPU implementer\t: 0x41\n"
                    "CPU variant\t: 0x1\nCPU part\t: 0xd0c\nCPU revision\t: 1\n";
  char path[512], id2[256], id3[256], ida[256];
  sw_cpu_id_read(write_fixture(f->dir, "zen2", zen2, path, sizeof path), id2, sizeof id2);
  sw_cpu_id_read(write_fixture(f->dir, "zen3", zen3, path, sizeof path), id3, sizeof id3);
  sw_cpu_id_read(write_fixture(f->dir, "arm", arm, path, sizeof path), ida, sizeof ida);
  assert_string_equal(id2, "x86 vendor=AuthenticAMD family=23 model=49 stepping=0 isa=avx2");
  assert_string_equal(id3, "x86 vendor=AuthenticAMD family=25 model=1 stepping=1 isa=avx2,avx512f,avx512_bf16,amx_tile");
  assert_string_equal(ida, "arm implementer=0x41 part=0xd0c variant=0x1 revision=1 isa=asimd,sve");
  sw_cpu_id_read("/nonexistent/cpuinfo", id2, sizeof id2);
  assert_string_equal(id2, "");
  sw_provenance_t a, b;
  memset(&a, 0, sizeof a);
  a.cpu_model = "AMD EPYC";
  a.cores = 2;
  a.cpu_id = "x86 vendor=AuthenticAMD family=23 model=49 stepping=0 isa=avx2";
  b = a;
  b.cpu_id = id3;
  char fa[17], fb[17];
  sw_machine_fingerprint(&a, fa);
  sw_machine_fingerprint(&b, fb);
  assert_string_not_equal(fa, fb);
}

static void test_fingerprint_and_env(void **state) {
  (void)state;
  sw_provenance_t a, b;
  memset(&a, 0, sizeof a);
  a.cpu_model = "AMD EPYC 9R45";
  a.cores = 2;
  a.mem_bytes = (int64_t)(23.4 * (1 << 30)); /* MemTotal of a 24 GiB machine */
  a.openblas_core = "Haswell";
  b = a;
  b.mem_bytes = 24LL << 30; /* another kernel reserves less */
  b.git_commit = "different";  /* not part of the machine identity */
  char fa[17], fb[17];
  sw_machine_fingerprint(&a, fa);
  sw_machine_fingerprint(&b, fb);
  assert_int_equal(strlen(fa), 16);
  assert_string_equal(fa, fb);
  b.cores = 4;
  sw_machine_fingerprint(&b, fb);
  assert_string_not_equal(fa, fb);
  b = a;
  b.mem_bytes = 32LL << 30;
  sw_machine_fingerprint(&b, fb);
  assert_string_not_equal(fa, fb);

  setenv("OPENBLAS_SW_TEST", "q\"uote", 1);
  setenv("SW_UNRELATED_NOT", "1", 1);
  setenv("ZZ_IRRELEVANT", "1", 1);
  setenv("SPARSWEEP_KERNEL_ISA", "avx2", 1); /* read by the kernels: changes what is measured */
  setenv("SPARSWEEP_CACHE", "/tmp/sw-cache", 1); /* where the model and text come from (docs/environment.md) */
  setenv("SPARSWEEP_LOG", "debug", 1);
  sw_buf_t buf = SW_BUF_INIT;
  sw_store_env_json(&buf);
  assert_true(sw_buf_ok(&buf));
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  char sql[8192], got[256];
  char *q = sqlite3_mprintf("%Q", sw_buf_str(&buf));
  snprintf(sql, sizeof sql, "SELECT json_valid(%s)", q);
  assert_int_equal(q_int(db, sql), 1);
  snprintf(sql, sizeof sql, "SELECT json_extract(%s, '$.OPENBLAS_SW_TEST')", q);
  assert_string_equal(q_text(db, sql, got, sizeof got), "q\"uote");
  snprintf(sql, sizeof sql, "SELECT json_type(%s, '$.ZZ_IRRELEVANT') IS NULL", q);
  assert_int_equal(q_int(db, sql), 1);
  snprintf(sql, sizeof sql, "SELECT json_extract(%s, '$.SPARSWEEP_KERNEL_ISA')", q);
  assert_string_equal(q_text(db, sql, got, sizeof got), "avx2");
  snprintf(sql, sizeof sql, "SELECT json_extract(%s, '$.SPARSWEEP_CACHE') || ' ' || json_extract(%s, '$.SPARSWEEP_LOG')",
           q, q);
  assert_string_equal(q_text(db, sql, got, sizeof got), "/tmp/sw-cache debug");
  unsetenv("SPARSWEEP_CACHE");
  unsetenv("SPARSWEEP_LOG");
  sqlite3_free(q);
  sqlite3_close(db);
  sw_buf_free(&buf);

  /* environ as execve may leave it: an entry without '=' first, a name twice (the first one wins, as getenv) */
  extern char **environ;
  char **saved = environ;
  char *odd[] = {"OMP_BROKEN", "PAPI_X=y", "OMP_NUM_THREADS=2", "OMP_NUM_THREADS=1", NULL};
  environ = odd;
  sw_buf_reset(&buf);
  sw_store_env_json(&buf);
  environ = saved;
  assert_string_equal(sw_buf_str(&buf), "{\"OMP_NUM_THREADS\":\"2\",\"PAPI_X\":\"y\"}");
  sw_buf_free(&buf);

  sw_host_info_t h;
  sw_host_info_read(&h);
  assert_true(h.cores >= 1);
  assert_true(h.mem_bytes > 0);
}

static void test_status_names(void **state) {
  (void)state;
  sw_err_t err;
  for (int i = 0; i < SW_TRIAL_STATUS_COUNT; i++) {
    sw_trial_status s = SW_TRIAL_STATUS_COUNT;
    assert_int_equal(sw_trial_status_parse(sw_trial_status_name((sw_trial_status)i), &s, &err), SW_OK);
    assert_int_equal(s, i);
  }
  sw_trial_status s;
  assert_int_equal(sw_trial_status_parse("done", &s, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "'done'"));
  assert_string_equal(sw_trial_status_name(SW_TRIAL_TIMEOUT), "timeout");
}


/* A version-2 file (the version-3 schema without the two tables step 2->3 adds) migrates on open. */
static void test_migrates_version_2(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 8);
  add_ok(st, begin_run(st, "v1"), "h1");
  sw_err_t err;
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(sqlite3_exec(db, "DROP TABLE run_lock; DROP TABLE rank_events; PRAGMA user_version = 2", NULL,
                                NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  st = open_store(f->path, 8);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  db = raw_open(f->path);
  assert_int_equal(q_int(db, "PRAGMA user_version"), 3);
  assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('run_lock','rank_events')"), 2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM trials"), 1); /* the version-1 results are kept */
  sqlite3_close(db);
}

/* ctx points to the answer the test wants (1 = the holder still runs). */
static int lock_alive_stub(const sw_store_lock_t *holder, void *ctx) {
  (void)holder;
  return *(const int *)ctx;
}

/* The run lock: free -> taken; a live holder refuses the next one and is named; a gone holder is replaced;
 * heartbeat and release write the row. */
static void test_run_lock(void **state) {
  fixture_t *f = *state;
  sw_store_t *st = open_store(f->path, 8);
  sw_err_t err;
  sw_store_lock_t a = {.host = "node-a", .pid = 111, .pid_start = "42", .stale_after_s = 60}, b = a, holder;
  snprintf(b.host, sizeof b.host, "node-b");
  b.pid = 222;
  int got = -1, alive = 1;
  assert_int_equal(sw_store_lock_acquire(st, &a, lock_alive_stub, &alive, &got, &holder, &err), SW_OK);
  assert_int_equal(got, 1); /* no row: taken without asking */
  assert_int_equal(sw_store_lock_acquire(st, &b, lock_alive_stub, &alive, &got, &holder, &err), SW_OK);
  assert_int_equal(got, 0);
  assert_string_equal(holder.host, "node-a");
  assert_int_equal(holder.pid, 111);
  assert_string_equal(holder.pid_start, "42");
  assert_int_equal(sw_store_lock_heartbeat(st, 111, 5, &err), SW_OK);
  assert_int_equal(sw_store_flush(st, &err), SW_OK);
  alive = 0; /* holder gone: b takes over */
  assert_int_equal(sw_store_lock_acquire(st, &b, lock_alive_stub, &alive, &got, &holder, &err), SW_OK);
  assert_int_equal(got, 1);
  assert_int_equal(holder.run_id, 5); /* the heartbeat had recorded a's run */
  sqlite3 *db = raw_open(f->path);
  assert_int_equal(q_int(db, "SELECT pid FROM run_lock"), 222);
  sqlite3_close(db);
  assert_int_equal(sw_store_lock_release(st, 111, &err), SW_OK); /* not the holder: nothing removed */
  assert_int_equal(count_rows(f->path, "run_lock"), 1);
  assert_int_equal(sw_store_lock_release(st, 222, &err), SW_OK);
  assert_int_equal(count_rows(f->path, "run_lock"), 0);
  sw_store_rank_event_t ev = {begin_run(st, "r"), 3, "node-c", "quarantined", "executor cannot start"};
  assert_int_equal(sw_store_add_rank_event(st, &ev, &err), SW_OK);
  ev.kind = "bogus";
  assert_int_equal(sw_store_add_rank_event(st, &ev, &err), SW_ERR_DB); /* the CHECK constraint */
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  assert_int_equal(count_rows(f->path, "rank_events"), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_schema_created, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ingest_exact_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ingest_rejects_bad_results, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ok_hashes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migrates_version_1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_merge_refuses_newer_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batches_and_concurrent_reader, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exclusive_locking, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_writer_loses_only_unflushed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disk_full_keeps_committed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lost_batch_rank_event, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attempt_index, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lost_batch_heartbeat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_classify, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migrates_version_2, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run_lock, setup, teardown),
      cmocka_unit_test(test_fingerprint_and_env),
      cmocka_unit_test_setup_teardown(test_cpu_id_tells_generations_apart, setup, teardown),
      cmocka_unit_test(test_status_names),
  };
  return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
