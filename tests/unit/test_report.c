/* Unit tests for the report layer: databases are built here with results/schema.sql and plain SQL (not
 * through sw_store), then read back by sw_report / sw_plot and the report/compare/history/export commands.
 * Checks: an exact expected table for a small run (values and layout worked out by hand), --where, the
 * Pareto front, compare on two synthetic runs with a planted 10% slowdown in 5 of 300 noisy configurations
 * (fixed seed: finds exactly those, exit 1; identical runs exit 0; too few samples warns without a verdict;
 * a FLOPs change is flagged), several baseline runs with a run-to-run noise floor (configurations that drift
 * 8% between baseline runs are not flagged, a planted 15% slowdown is), history step marking, exports, and
 * PNG/SVG files from gnuplot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/sw_cli.h"
#include "common/sw_metrics.h"
#include "results/sw_plot.h"
#include "results/sw_report.h"
#include "results/sw_store.h"
#include "tests/unit/sw_test_util.h"

/* ------------------------------------------------------------------ fixtures */

typedef struct rng {
  uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double rng_normal(rng_t *r) {
  double u1 = ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
  double u2 = ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* Group state: a fresh temporary directory (char[256]) that every test writes its databases into. */
static int setup_tmp(void **state) {
  char *dir = malloc(256);
  if (!dir) return -1;
  snprintf(dir, 256, "/tmp/sw_test_report_XXXXXX");
  *state = dir;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
  free(*state);
  return system(cmd) == 0 ? 0 : -1;
}

static size_t count_of(const char *hay, const char *needle);

static void assert_contains(const char *hay, const char *needle) {
  if (!strstr(hay, needle)) fail_msg("expected to find\n%s\n--- in\n%s", needle, hay);
}

static void exec_sql(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("SQL failed: %s\n%s", msg, sql);
}

/* A new database at dir/name with the real schema. */
static sqlite3 *new_db(const char *dir, const char *name, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s", dir, name);
  unlink(path);
  const char *src = getenv("SW_SOURCE_DIR");
  char schema_path[1024];
  snprintf(schema_path, sizeof schema_path, "%s/results/schema.sql", src ? src : ".");
  char *schema = sw_test_read_file(schema_path, NULL);
  if (!schema) fail_msg("cannot read %s (SW_SOURCE_DIR)", schema_path);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  exec_sql(db, schema);
  free(schema);
  char pragma[128];
  snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = %d; BEGIN",
           SW_STORE_APPLICATION_ID, SW_STORE_SCHEMA_VERSION);
  exec_sql(db, pragma);
  return db;
}

static void close_db(sqlite3 *db) {
  exec_sql(db, "COMMIT");
  sqlite3_close(db);
}

static void add_run(sqlite3 *db, int id, const char *commit, const char *machine, double started) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "INSERT INTO runs(run_id, uuid, started_s, status, spec_name, git_commit, git_dirty, machine_fingerprint)"
           " VALUES (%d, 'uuid-%d-%s', %.17g, 'done', 'tiny', '%s', 0, '%s')",
           id, id, commit, started, commit, machine);
  exec_sql(db, sql);
}

static void add_trial(sqlite3 *db, int id, int run, const char *hash, const char *config) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "INSERT INTO trials(trial_id, run_id, config_hash, config, status) VALUES (%d, %d, '%s', '%s', 'ok')", id,
           run, hash, config);
  exec_sql(db, sql);
}

static void add_metric(sqlite3 *db, int trial, const char *name, double v, const char *unit) {
  char sql[512];
  snprintf(sql, sizeof sql, "INSERT INTO metrics VALUES (%d, '%s', %.17g, %s%s%s)", trial, name, v, unit ? "'" : "",
           unit ? unit : "NULL", unit ? "'" : "");
  exec_sql(db, sql);
}

static void add_samples(sqlite3 *db, int trial, const char *series, const double *v, int n) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO samples VALUES (?1, ?2, ?3, ?4)", -1, &st, NULL), SQLITE_OK);
  for (int i = 0; i < n; i++) {
    sqlite3_bind_int(st, 1, trial);
    sqlite3_bind_text(st, 2, series, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, i);
    sqlite3_bind_double(st, 4, v[i]);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
}

static sw_rdb_t *open_ro(const char *path) {
  sw_rdb_t *db = NULL;
  sw_err_t err;
  if (sw_report_open(path, &db, &err) != SW_OK) fail_msg("%s", err.msg);
  return db;
}

/* The small run of the exact-table test: method x sparsity, ppl with a standard error, speedup, error.
 * Trial 2 misses its sparsity target by 0.1; trial 3 has only 3 repetitions. */
static void small_db(const char *dir, char *path, size_t cap) {
  sqlite3 *db = new_db(dir, "small.db", path, cap);
  add_run(db, 1, "0123456789abcdef", "fp1", 1e9);
  add_trial(db, 1, 1, "h1", "{\"method\":\"topk\",\"sparsity\":0.5,\"workload\":\"ffn\"}");
  add_trial(db, 2, 1, "h2", "{\"method\":\"topk\",\"sparsity\":0.9,\"workload\":\"ffn\"}");
  add_trial(db, 3, 1, "h3", "{\"method\":\"teal\",\"sparsity\":0.5,\"workload\":\"ffn\"}");
  add_trial(db, 4, 1, "h4", "{\"method\":\"teal\",\"sparsity\":0.9,\"workload\":\"ffn\"}");
  const double ppl[] = {20.5, 31.25, 20.25, 29}, se[] = {0.25, 0.5, 0.25, 0.5};
  const double sp[] = {1.8, 4.5, 1.5, 3.9}, rel[] = {0.012, 0.0625, 0.01, 0.05};
  for (int i = 0; i < 4; i++) {
    add_metric(db, i + 1, "ppl", ppl[i], NULL);
    add_metric(db, i + 1, "ppl_se", se[i], NULL);
    add_metric(db, i + 1, "speedup", sp[i], "x");
    add_metric(db, i + 1, "rel_error", rel[i], NULL);
  }
  add_metric(db, 2, "achieved_sparsity", 0.8, "fraction");
  const double three[] = {1e-3, 1e-3, 1e-3};
  add_samples(db, 3, "sparse", three, 3);
  close_db(db);
}

/* ------------------------------------------------------------------ report tables */

static const char *const expected_small =
    "run 1 (tiny, commit 0123456, machine fp1): 4 trials, 2 INVALID\n"
    "\n"
    "ppl\n"
    "method    sparsity=0.5   sparsity=0.9\n"
    "------  --------------  -------------\n"
    "teal    20.25 ± 0.25 !       29 ± 0.5\n"
    "topk       20.5 ± 0.25  31.25 ± 0.5 !\n"
    "\n"
    "speedup [x]\n"
    "method  sparsity=0.5  sparsity=0.9\n"
    "------  ------------  ------------\n"
    "teal           1.5 !           3.9\n"
    "topk             1.8         4.5 !\n"
    "\n"
    "rel_error\n"
    "method  sparsity=0.5  sparsity=0.9\n"
    "------  ------------  ------------\n"
    "teal          0.01 !          0.05\n"
    "topk           0.012      0.0625 !\n"
    "\n"
    "INVALID (!):\n"
    "  trial 2 method=topk sparsity=0.9: achieved sparsity 0.800 vs target 0.900 (gap > 0.05)\n"
    "  trial 3 method=teal sparsity=0.5: too few repetitions (sparse: 3 < 6)\n";

static void report_text(const char *path, const char *where, const sw_report_opts_t *o, sw_buf_t *out) {
  sw_rdb_t *rdb = open_ro(path);
  int64_t run;
  sw_err_t err;
  sw_rset_t set;
  assert_int_equal(sw_report_resolve_run(rdb, NULL, &run, &err), SW_OK);
  if (sw_rset_load(rdb, run, where, &set, &err) != SW_OK) fail_msg("%s", err.msg);
  if (sw_report_tables(&set, o, out, NULL, &err) != SW_OK) fail_msg("%s", err.msg);
  sw_rset_free(&set);
  sw_report_close(rdb);
}

static void test_report_small_exact(void **state) {
  const char *dir = *state;
  char path[512];
  small_db(dir, path, sizeof path);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  sw_buf_t out = SW_BUF_INIT;
  report_text(path, NULL, &o, &out);
  if (strcmp(sw_buf_str(&out), expected_small) != 0)
    fail_msg("report differs:\n--- got\n%s--- want\n%s", sw_buf_str(&out), expected_small);
  /* Markdown: same cells in pipes, right-aligned value columns. */
  sw_buf_reset(&out);
  o.format = SW_FMT_MD;
  o.n_metrics = 1;
  o.metrics[0] = "speedup";
  report_text(path, NULL, &o, &out);
  assert_contains(sw_buf_str(&out), "| method | sparsity=0.5 | sparsity=0.9 |\n|---|---:|---:|\n"
                                           "| teal | 1.5 ! | 3.9 |\n| topk | 1.8 | 4.5 ! |\n");
  /* CSV: plain numbers only. */
  sw_buf_reset(&out);
  o.format = SW_FMT_CSV;
  report_text(path, NULL, &o, &out);
  assert_string_equal(sw_buf_str(&out), "# speedup [x]\nmethod,sparsity=0.5,sparsity=0.9\nteal,1.5,3.9\ntopk,1.8,4.5\n\n");
  /* LaTeX: booktabs rules, escaped underscores, $\pm$. */
  sw_buf_reset(&out);
  o.format = SW_FMT_LATEX;
  o.metrics[0] = "rel_error";
  o.metrics[1] = "ppl";
  o.n_metrics = 2;
  report_text(path, NULL, &o, &out);
  const char *tex = sw_buf_str(&out);
  assert_contains(tex, "% rel_error\n\\begin{tabular}{lrr}\n\\toprule\nmethod & sparsity=0.5 & sparsity=0.9 \\\\\n"
                              "\\midrule\nteal & 0.01 ! & 0.05 \\\\\n");
  assert_contains(tex, "teal & 20.25 $\\pm$ 0.25 ! & 29 $\\pm$ 0.5 \\\\\n");
  sw_buf_free(&out);
}

/* MoE and predictor trials: the default table shows the router's / predictor's held-out recall, precision and
 * density beside quality, and the MoE paper layouts ask for them. */
/* The validity options take a whole number / a finite gap >= 0; a longer --metric list than the report holds is
 * refused (each was accepted before: nan became 2^63 repetitions, 15.9 became 15, -1 and nan passed). */
static void test_report_cli_strict_values(void **state) {
  const char *dir = *state;
  char path[512];
  small_db(dir, path, sizeof path);
  const char *cases[][2] = {{"--min-reps", "nan"}, {"--min-reps", "15.9"}, {"--max-sparsity-gap", "-1"},
                            {"--max-sparsity-gap", "nan"}, {"--max-cv", "inf"},
                            {"--metric", "speedup,speedup,speedup,speedup,speedup,speedup,speedup,speedup,speedup,"
                                         "speedup,speedup,speedup,speedup,speedup,speedup,speedup,speedup"}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char *argv[] = {"report", path, (char *)cases[k][0], (char *)cases[k][1], NULL};
    if (cmd_report(4, argv) != SW_EXIT_USAGE) fail_msg("report %s %s: not refused", cases[k][0], cases[k][1]);
  }
  char *ok[] = {"report", path, "--min-reps", "3", "--max-sparsity-gap", "0.1", NULL};
  assert_int_equal(cmd_report(6, ok), SW_EXIT_OK);
}

static void test_report_selection_quality_columns(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "sel.db", path, sizeof path);
  add_run(db, 1, "0123456789abcdef", "fp1", 1e9);
  add_trial(db, 1, 1, "h1", "{\"method\":\"moefication\",\"sparsity\":0.5,\"workload\":\"model\"}");
  add_trial(db, 2, 1, "h2", "{\"method\":\"dejavu\",\"sparsity\":0.5,\"workload\":\"model\"}");
  add_trial(db, 3, 1, "h3", "{\"method\":\"dense\",\"sparsity\":0.5,\"workload\":\"model\"}");
  for (int i = 1; i <= 3; i++) add_metric(db, i, "ppl", 20 + i, NULL);
  add_metric(db, 1, "router_recall", 0.625, "fraction");
  add_metric(db, 1, "router_precision", 0.375, "fraction");
  add_metric(db, 1, "router_density", 0.25, "fraction");
  add_metric(db, 2, "predictor_recall", 0.875, "fraction");
  add_metric(db, 2, "predictor_precision", 0.125, "fraction");
  add_metric(db, 2, "predictor_density", 0.5, "fraction");
  close_db(db);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  o.format = SW_FMT_CSV;
  sw_buf_t out = SW_BUF_INIT;
  report_text(path, NULL, &o, &out);
  const char *csv = sw_buf_str(&out);
  assert_contains(csv, "# ppl\nworkload,method=dejavu,method=dense,method=moefication\nmodel,22,23,21\n");
  assert_contains(csv, "# router_recall [fraction]\nworkload,method=moefication\nmodel,0.625\n");
  assert_contains(csv, "# router_precision [fraction]\nworkload,method=moefication\nmodel,0.375\n");
  assert_contains(csv, "# router_density [fraction]\nworkload,method=moefication\nmodel,0.25\n");
  assert_contains(csv, "# predictor_recall [fraction]\nworkload,method=dejavu\nmodel,0.875\n");
  assert_contains(csv, "# predictor_precision [fraction]\nworkload,method=dejavu\nmodel,0.125\n");
  assert_contains(csv, "# predictor_density [fraction]\nworkload,method=dejavu\nmodel,0.5\n");
  sw_buf_free(&out);
  const char *const moe_layouts[] = {"moefication", "d2dmoe"};
  for (int i = 0; i < 2; i++) {
    const sw_report_layout_t *l = sw_report_layout_find(moe_layouts[i]);
    assert_non_null(l);
    assert_non_null(strstr(l->metrics, "router_recall,router_precision"));
  }
}

/* weights: native trials: the native-vs-f32 dense comparison is printed once under the tables (all trials of a
 * span share it: one line), with hand-chosen values, in text and Markdown; f32-only runs print nothing. */
static void test_report_native_vs_f32_line(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "native.db", path, sizeof path);
  add_run(db, 1, "0123456789abcdef", "fp1", 1e9);
  add_trial(db, 1, 1, "h1", "{\"method\":\"dense\",\"weights\":\"native\",\"workload\":\"model\"}");
  add_trial(db, 2, 1, "h2", "{\"method\":\"cats\",\"weights\":\"native\",\"workload\":\"model\"}");
  for (int i = 1; i <= 2; i++) {
    add_metric(db, i, "ppl", 55 + i, "ppl");
    add_metric(db, i, "ppl_native_dense", 56.5, "ppl");
    add_metric(db, i, "ppl_native_dense_se", 4.25, "ppl");
    add_metric(db, i, "ppl_f32_dense", 55.0, "ppl");
    add_metric(db, i, "ppl_f32_dense_se", 4.5, "ppl");
    add_metric(db, i, "kl_native_dense", 0.0125, "nat/token");
    add_metric(db, i, "top1_native_dense", 0.96875, "fraction");
  }
  close_db(db);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  o.n_metrics = 1;
  o.metrics[0] = "ppl";
  sw_buf_t out = SW_BUF_INIT;
  report_text(path, NULL, &o, &out);
  const char *line = "perplexity 56.5 ± 4.25 native, 55 ± 4.5 f32; KL(f32 || native) 0.0125 nat/token; top-1 "
                     "agreement 0.9688 (trial 1)\n";
  assert_contains(sw_buf_str(&out), "weights native vs f32, dense model on the evaluation tokens:\n  ");
  assert_contains(sw_buf_str(&out), line);
  assert_int_equal(count_of(sw_buf_str(&out), "KL(f32 || native)"), 1);
  sw_buf_reset(&out);
  o.format = SW_FMT_MD;
  report_text(path, NULL, &o, &out);
  assert_contains(sw_buf_str(&out), "- perplexity 56.5 ± 4.25 native");
  sw_buf_reset(&out);
  o.format = SW_FMT_TEXT;
  report_text(path, "method = 'cats'", &o, &out); /* the line survives a --where (trial 2 carries it too) */
  assert_contains(sw_buf_str(&out), "(trial 2)\n");
  sw_buf_free(&out);
  small_db(dir, path, sizeof path); /* no native trials: no line */
  report_text(path, NULL, &o, &out);
  assert_null(strstr(sw_buf_str(&out), "native vs f32"));
  sw_buf_free(&out);
}

static void test_report_where_relative_trials(void **state) {
  const char *dir = *state;
  char path[512];
  small_db(dir, path, sizeof path);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  o.n_metrics = 1;
  o.metrics[0] = "speedup";
  sw_buf_t out = SW_BUF_INIT;
  /* --where on a config key: only teal remains (2 trials), and the table keeps only its row. */
  report_text(path, "method = 'teal' and sparsity >= 0.5", &o, &out);
  assert_contains(sw_buf_str(&out), ": 2 trials, 1 INVALID");
  assert_null(strstr(sw_buf_str(&out), "topk"));
  /* Trials view: one row per trial with its stamp. */
  sw_buf_reset(&out);
  o.trials_view = 1;
  report_text(path, "sparsity > 0.6", &o, &out);
  assert_contains(sw_buf_str(&out), "INVALID: achieved sparsity 0.800 vs target 0.900 (gap > 0.05)");
  assert_contains(sw_buf_str(&out), "VALID\n");
  sw_buf_free(&out);
  /* A filter that is not SQL is an input error, not a crash. */
  sw_rdb_t *rdb = open_ro(path);
  sw_rset_t set;
  sw_err_t err;
  assert_int_equal(sw_rset_load(rdb, 1, "method = ; drop table runs", &set, &err), SW_ERR_PARSE);
  assert_int_equal(sw_rset_load(rdb, 1, "method = = 'x'", &set, &err), SW_ERR_INVALID);
  sw_report_close(rdb);
  sw_buf_t sql = SW_BUF_INIT;
  assert_int_equal(sw_where_to_sql("status = 'ok' and abs(tau) < 1e-3", &sql, &err), SW_OK);
  assert_string_equal(sw_buf_str(&sql), "t.status = 'ok' and abs(json_extract(t.config, '$.\"tau\"')) < 1e-3");
  sw_buf_free(&sql);
}

/* The precision gate (results/sw_report.c, docs/measurement.md "Validity stamps"; default ±13.5 %), on the
 * sequences of tests/unit/test_stats.c: tight series; one sparse outlier (+35 %) among 7, where [min, max] is the
 * 95 % interval of the median (sorted .98 .99 1 1 1.01 1.02 1.35: ±18.5 %, over the gate; ratios 1.5/1.35 ..
 * 1.48/.98 around 1.5: ±13.3 %, just inside);
 * the same plus two tight repetitions, where the interval [x_(2), x_(8)] drops it (±1.5 %) though its CV is
 * still 0.112; and two series within ±8 % in opposite phase, whose per-repetition ratio 1.08/.92 or .92/1.08 is
 * ±(1 - (.92/1.08)^2)/2 = 13.7 %.  A database of fixed-count trials without timing_* metrics (every database
 * written before the gate) is stamped from its samples alone, and --max-cv 0.10 with the interval gate lifted
 * gives the former CV stamp. */
static void precision_db(const char *dir, char *path, size_t cap) {
  sqlite3 *db = new_db(dir, "precision.db", path, cap);
  add_run(db, 1, "0123456789abcdef", "fp1", 1e9);
  add_trial(db, 1, 1, "h1", "{\"case\":\"tight\"}");
  add_trial(db, 2, 1, "h2", "{\"case\":\"outlier7\"}");
  add_trial(db, 3, 1, "h3", "{\"case\":\"outlier9\"}");
  add_trial(db, 4, 1, "h4", "{\"case\":\"pair\"}");
  const double tight_d[] = {1.49e-3, 1.50e-3, 1.51e-3, 1.49e-3, 1.50e-3, 1.51e-3, 1.49e-3};
  const double tight_s[] = {0.99e-3, 1.00e-3, 1.01e-3, 0.99e-3, 1.00e-3, 1.01e-3, 0.99e-3};
  const double de[] = {1.50e-3, 1.51e-3, 1.49e-3, 1.50e-3, 1.52e-3, 1.48e-3, 1.50e-3, 1.50e-3, 1.49e-3};
  const double sp[] = {1.00e-3, 1.01e-3, 0.99e-3, 1.35e-3, 1.02e-3, 0.98e-3, 1.00e-3, 1.00e-3, 1.01e-3};
  const double up[] = {1.08e-3, 0.92e-3, 1.08e-3, 0.92e-3, 1.08e-3, 0.92e-3, 1.08e-3};
  const double down[] = {0.92e-3, 1.08e-3, 0.92e-3, 1.08e-3, 0.92e-3, 1.08e-3, 0.92e-3};
  add_samples(db, 1, "dense", tight_d, 7);
  add_samples(db, 1, "sparse", tight_s, 7);
  add_samples(db, 2, "dense", de, 7);
  add_samples(db, 2, "sparse", sp, 7);
  add_samples(db, 3, "dense", de, 9);
  add_samples(db, 3, "sparse", sp, 9);
  add_samples(db, 4, "decode_dense", up, 7);
  add_samples(db, 4, "decode_sparse", down, 7);
  close_db(db);
}

static void test_report_precision_gate(void **state) {
  const char *dir = *state;
  char path[512];
  precision_db(dir, path, sizeof path);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  o.trials_view = 1;
  o.format = SW_FMT_CSV;
  sw_buf_t out = SW_BUF_INIT;
  report_text(path, NULL, &o, &out);
  const char *csv = sw_buf_str(&out); /* columns: trial, case, dense and sparse medians, precision, validity */
  assert_contains(csv, "1,tight,0.0015,0.001,±1.0% CV 0.009,VALID\n"); /* sparse [.99, 1.01], CV 0.0090 */
  assert_contains(csv, "2,outlier7,0.0015,0.001,±18.5% CV 0.127,\"INVALID: median ±18.5% > 13.5% (sparse, n 7, CV 0.127)\"\n");
  assert_contains(csv, "3,outlier9,0.0015,0.001,±1.5% CV 0.112,VALID\n");
  assert_contains(csv, "4,pair,,,±13.7% CV 0.087,\"INVALID: speedup median ±13.7% > 13.5% "
                       "(decode_dense / decode_sparse, n 7)\"\n");
  /* The former rule on the same data: CV gate 0.10, no interval gate. */
  sw_buf_reset(&out);
  o.validity.max_ci = INFINITY;
  o.validity.max_cv = 0.10;
  report_text(path, NULL, &o, &out);
  csv = sw_buf_str(&out);
  assert_contains(csv, "1,tight,0.0015,0.001,±1.0% CV 0.009,VALID\n");
  assert_contains(csv, "2,outlier7,0.0015,0.001,±18.5% CV 0.127,INVALID: CV 0.127 > 0.10 (sparse)\n");
  assert_contains(csv, "3,outlier9,0.0015,0.001,±1.5% CV 0.112,INVALID: CV 0.112 > 0.10 (sparse)\n");
  assert_contains(csv, "4,pair,,,±13.7% CV 0.087,VALID\n");
  sw_buf_free(&out);
}

static void test_report_relative_to_dense(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "rel.db", path, sizeof path);
  add_run(db, 1, "abc", "fp", 1);
  add_trial(db, 1, 1, "a", "{\"method\":\"topk\",\"sparsity\":0}");
  add_trial(db, 2, 1, "b", "{\"method\":\"topk\",\"sparsity\":0.5}");
  add_metric(db, 1, "ppl", 20, NULL);
  add_metric(db, 2, "ppl", 25, NULL);
  close_db(db);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  o.relative = 1;
  sw_buf_t out = SW_BUF_INIT;
  report_text(path, NULL, &o, &out);
  /* 25 / 20 = 1.25 against the sparsity-0 column of the same row. */
  assert_contains(sw_buf_str(&out), "ppl relative to dense\nmethod  sparsity=0  sparsity=0.5\n"
                                           "------  ----------  ------------\ntopk             1          1.25\n");
  sw_buf_free(&out);
}

/* Methods set different knobs (sparsity, tau) and MoE adds "experts": one table, knob columns merged,
 * "experts" in the row label (it is fixed by the method), dense as the "-" column. */
static void test_report_merged_knobs(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "knobs.db", path, sizeof path);
  add_run(db, 1, "abc", "fp", 1);
  const char *cfg[] = {"{\"method\":\"dense\"}", "{\"method\":\"topk\",\"sparsity\":0.5}",
                       "{\"method\":\"topk\",\"sparsity\":0.9}", "{\"method\":\"cett\",\"tau\":0.05}",
                       "{\"experts\":48,\"method\":\"moe_topk\",\"sparsity\":0.5}"};
  const double sp[] = {1, 1.6, 3.2, 2.1, 1.4};
  for (int i = 0; i < 5; i++) {
    char h[8];
    snprintf(h, sizeof h, "k%d", i);
    add_trial(db, i + 1, 1, h, cfg[i]);
    add_metric(db, i + 1, "speedup", sp[i], "x");
  }
  close_db(db);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  o.relative = 1;
  sw_buf_t out = SW_BUF_INIT;
  report_text(path, NULL, &o, &out);
  const char *table = "method               -  sparsity=0.5  sparsity=0.9  tau=0.05\n"
                      "-------------------  -  ------------  ------------  --------\n"
                      "cett                 -             -             -       2.1\n"
                      "dense                1             -             -         -\n"
                      "moe_topk experts=48  -           1.4             -         -\n"
                      "topk                 -           1.6           3.2         -\n";
  assert_contains(sw_buf_str(&out), table);
  assert_int_equal(count_of(sw_buf_str(&out), "speedup [x]"), 1); /* no split tables */
  /* Relative to the dense row's only cell (1): the same numbers. */
  assert_contains(sw_buf_str(&out), "speedup relative to dense\n");
  assert_int_equal(count_of(sw_buf_str(&out), "moe_topk experts=48  -           1.4             -         -\n"), 2);
  sw_buf_free(&out);
}

static void test_report_pareto(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "pareto.db", path, sizeof path);
  add_run(db, 1, "abc", "fp", 1);
  /* (flops, ppl): A (1, 30) B (2, 25) C (3, 26) D (4, 20): C is dominated by B; A, B, D are on the front. */
  const double f[] = {1, 2, 3, 4}, p[] = {30, 25, 26, 20};
  for (int i = 0; i < 4; i++) {
    char cfg[64], h[8];
    snprintf(cfg, sizeof cfg, "{\"k\":%d}", i);
    snprintf(h, sizeof h, "p%d", i);
    add_trial(db, i + 1, 1, h, cfg);
    add_metric(db, i + 1, "flops", f[i], "flop");
    add_metric(db, i + 1, "ppl", p[i], NULL);
  }
  close_db(db);
  sw_rdb_t *rdb = open_ro(path);
  sw_rset_t set;
  sw_err_t err;
  assert_int_equal(sw_rset_load(rdb, 1, NULL, &set, &err), SW_OK);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  sw_buf_t out = SW_BUF_INIT;
  assert_int_equal(sw_report_pareto(&set, "flops", "ppl", &o, &out, &err), SW_OK);
  const char *want = "Pareto: flops (min) vs ppl (min): 3 of 4 configurations not dominated\n"
                     "k  flops  ppl  pareto  validity\n"
                     "-  -----  ---  ------  --------\n"
                     "0      1   30       *     VALID\n"
                     "1      2   25       *     VALID\n"
                     "2      3   26             VALID\n"
                     "3      4   20       *     VALID\n";
  assert_string_equal(sw_buf_str(&out), want);
  sw_buf_free(&out);
  sw_rset_free(&set);
  sw_report_close(rdb);
}

/* ------------------------------------------------------------------ compare */

enum { N_METHODS = 3, N_SPARS = 10, N_BATCH = 10, N_REPS = 16, N_PLANTED = 5 };
static const int planted[N_PLANTED] = {7, 58, 123, 200, 277};

static int is_planted(int cfg) {
  for (int i = 0; i < N_PLANTED; i++)
    if (planted[i] == cfg) return 1;
  return 0;
}

static void describe_cfg(int cfg, char *dst, size_t cap) {
  static const char *const methods[N_METHODS] = {"cats", "teal", "topk"};
  snprintf(dst, cap, "{\"batch\":%d,\"method\":\"%s\",\"sparsity\":%.1f}", 1 << (cfg % N_BATCH) % 4,
           methods[cfg / (N_SPARS * N_BATCH)], 0.05 + 0.1 * ((cfg / N_BATCH) % N_SPARS));
}

/* Noise model of a synthetic run: per-sample lognormal noise, an optional per-repetition machine-state factor
 * shared by the interleaved dense_i/sparse_i pair, and a drift factor applied to every sample of the run. */
typedef struct noise {
  double indep, shared, drift;
} noise_t;

/* 300 configurations, dense and sparse series of reps lognormal samples; slow multiplies the planted
 * configurations' sparse series.  flops_scale changes config 3's FLOPs count. */
static void synthetic_run_noise(const char *dir, const char *name, char *path, size_t cap, uint64_t seed,
                                double slow, int reps, const char *machine, double flops_scale, noise_t nz) {
  sqlite3 *db = new_db(dir, name, path, cap);
  add_run(db, 1, seed == 1 ? "basebase" : "candcand", machine, (double)seed);
  rng_t r = {seed};
  double dv[N_REPS], sv[N_REPS];
  for (int cfg = 0; cfg < N_METHODS * N_SPARS * N_BATCH; cfg++) {
    char config[128], hash[16];
    describe_cfg(cfg, config, sizeof config);
    snprintf(hash, sizeof hash, "cfg%03d", cfg);
    add_trial(db, cfg + 1, 1, hash, config);
    double base = 1e-3 * (1 + cfg % 7), f = is_planted(cfg) ? slow : 1;
    for (int i = 0; i < reps; i++) {
      double state = nz.shared > 0 ? exp(nz.shared * rng_normal(&r)) : 1;
      dv[i] = nz.drift * state * base * exp(nz.indep * rng_normal(&r));
      sv[i] = nz.drift * state * 0.5 * base * f * exp(nz.indep * rng_normal(&r));
    }
    add_samples(db, cfg + 1, "dense", dv, reps);
    add_samples(db, cfg + 1, "sparse", sv, reps);
    add_metric(db, cfg + 1, "flops_sparse", 1e6 * (cfg == 3 ? flops_scale : 1), "flop");
  }
  close_db(db);
}

static void synthetic_run(const char *dir, const char *name, char *path, size_t cap, uint64_t seed, double slow, int reps,
                          const char *machine, double flops_scale) {
  synthetic_run_noise(dir, name, path, cap, seed, slow, reps, machine, flops_scale, (noise_t){0.02, 0, 1});
}

static void load_run(const char *path, sw_rset_t *set) {
  sw_rdb_t *rdb = open_ro(path);
  sw_err_t err;
  if (sw_rset_load(rdb, 1, NULL, set, &err) != SW_OK) fail_msg("%s", err.msg);
  sw_report_close(rdb);
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_compare_planted_regression(void **state) {
  const char *dir = *state;
  char base[512], cand[512];
  synthetic_run(dir, "base.db", base, sizeof base, 1, 1.0, N_REPS, "fp", 1);
  synthetic_run(dir, "cand.db", cand, sizeof cand, 2, 1.10, N_REPS, "fp", 1);
  sw_rset_t b, c;
  load_run(base, &b);
  load_run(cand, &c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 1; /* single runs: the within-run test (the run-level tests are further below) */
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  assert_int_equal(sw_compare_sets(&b, &c, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.matched, 300);
  assert_int_equal(sum.compared, 600);
  assert_int_equal(sum.too_few, 0);
  assert_int_equal(sum.regressions, N_PLANTED);
  assert_int_equal(sum.improvements, 0);
  assert_int_equal(sum.count_changes, 0);
  assert_false(sum.machines_differ);
  const char *text = sw_buf_str(&out);
  assert_int_equal(count_of(text, "REGRESSION"), N_PLANTED);
  /* Each planted configuration appears on a REGRESSION line of its sparse series. */
  for (int i = 0; i < N_PLANTED; i++) {
    char cfg[128], want[160];
    sw_rtrial_t *t = &b.trials[planted[i]];
    char bt[16], m[16], s[16];
    sw_rtrial_config_text(t, "batch", bt, sizeof bt);
    sw_rtrial_config_text(t, "method", m, sizeof m);
    sw_rtrial_config_text(t, "sparsity", s, sizeof s);
    snprintf(cfg, sizeof cfg, "batch=%s method=%s sparsity=%s", bt, m, s);
    const char *line = strstr(text, cfg);
    assert_non_null(line);
    snprintf(want, sizeof want, "%s", line);
    *strchr(want, '\n') = '\0';
    assert_contains(want, "sparse");
    assert_contains(want, "REGRESSION");
  }
  /* Geomean over 600 ratios: 5 of them at ~1.10, the rest at ~1: (1.1)^(5/600) = 1.0008. */
  assert_true(fabs(sum.geomean_ratio - 1.0008) < 0.003);
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&b);
  sw_rset_free(&c);
  /* The command: exit 1 on the regression, 0 for a run against itself; BH finds the same. */
  char *argv1[] = {"compare", base, "--baseline", "1", "--candidate", "1", "--candidate-db", cand, "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(10, argv1), SW_EXIT_FAIL);
  char *argv2[] = {"compare", base, "--baseline", "1", "--candidate", "1", "--candidate-db", base, "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(10, argv2), SW_EXIT_OK);
  char *argv3[] = {"compare", base, "--baseline", "1", "--candidate", "latest", "--candidate-db", cand,
                   "--correction", "bh", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(12, argv3), SW_EXIT_FAIL);
  char *argv4[] = {"compare", base, "--baseline", "1", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(6, argv4), SW_EXIT_USAGE);
  /* A NaN threshold or tolerance would switch detection off (every comparison with NaN is false): refused. */
  char *argv5[] = {"compare", base, "--baseline", "1", "--candidate", "1", "--candidate-db", cand, "--min-runs", "1",
                   "--threshold", "nan", NULL};
  assert_int_equal(cmd_compare(12, argv5), SW_EXIT_USAGE);
  argv5[10] = "--acc-tol";
  assert_int_equal(cmd_compare(12, argv5), SW_EXIT_USAGE);
  argv5[10] = "--min-runs", argv5[11] = "1.5";
  assert_int_equal(cmd_compare(12, argv5), SW_EXIT_USAGE);
}

static void test_compare_unchanged_noise_is_quiet(void **state) {
  const char *dir = *state;
  /* Two independent noisy runs of the same code: nothing flagged (fixed seeds). */
  char base[512], cand[512];
  synthetic_run(dir, "base2.db", base, sizeof base, 1, 1.0, N_REPS, "fp", 1);
  synthetic_run(dir, "cand2.db", cand, sizeof cand, 3, 1.0, N_REPS, "fp", 1);
  char *argv[] = {"compare", base, "--baseline", "1", "--candidate", "1", "--candidate-db", cand, "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(10, argv), SW_EXIT_OK);
}

static void test_compare_too_few_and_counts(void **state) {
  const char *dir = *state;
  char base[512], cand[512];
  /* 3 repetitions per side: even a planted 30% slowdown is a warning, never a verdict (min p = 0.1). */
  synthetic_run(dir, "few_b.db", base, sizeof base, 1, 1.0, 3, "fp", 1);
  synthetic_run(dir, "few_c.db", cand, sizeof cand, 2, 1.30, 3, "other", 1);
  sw_rset_t b, c;
  load_run(base, &b);
  load_run(cand, &c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 1; /* single runs: the within-run test (the run-level tests are further below) */
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  assert_int_equal(sw_compare_sets(&b, &c, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.regressions, 0);
  assert_int_equal(sum.too_few, 600);
  assert_true(sum.machines_differ);
  assert_contains(sw_buf_str(&warn), "machines differ");
  assert_contains(sw_buf_str(&warn), "too few samples");
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&c);
  /* A deterministic count that changed (FLOPs of config 3) is flagged exactly. */
  synthetic_run(dir, "flops_c.db", cand, sizeof cand, 1, 1.0, 3, "fp", 1.5);
  load_run(cand, &c);
  memset(&out, 0, sizeof out);
  memset(&warn, 0, sizeof warn);
  assert_int_equal(sw_compare_sets(&b, &c, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.count_changes, 1);
  assert_contains(sw_buf_str(&out), "batch=8 method=cats sparsity=0.1  flops_sparse   1000000    1500000  CHANGED");
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&b);
  sw_rset_free(&c);
}

/* Accuracy metrics against their own tolerance: twice the combined standard error when both runs have one,
 * else 1e-3 relative; the direction decides WORSE (ppl up, agreement down) or better. */
static void test_compare_accuracy_tolerance(void **state) {
  const char *dir = *state;
  char base[512], cand[512];
  const double ppl_b[] = {20, 30}, ppl_c[] = {20.5, 30.6}, se[] = {0.1, 0.5};
  const double agree_b[] = {0.9, 0.8}, agree_c[] = {0.95, 0.8};
  for (int v = 0; v < 2; v++) {
    sqlite3 *db = new_db(dir, v ? "acc_c.db" : "acc_b.db", v ? cand : base, sizeof base);
    add_run(db, 1, v ? "cand" : "base", "fp", 1 + v);
    for (int i = 0; i < 2; i++) {
      char h[8], cfg[64];
      snprintf(h, sizeof h, "a%d", i);
      snprintf(cfg, sizeof cfg, "{\"method\":\"m%d\"}", i);
      add_trial(db, i + 1, 1, h, cfg);
      add_metric(db, i + 1, "ppl", v ? ppl_c[i] : ppl_b[i], NULL);
      add_metric(db, i + 1, "ppl_se", se[i], NULL);
      add_metric(db, i + 1, "top1_agree", v ? agree_c[i] : agree_b[i], "fraction");
    }
    close_db(db);
  }
  sw_rset_t b, c;
  load_run(base, &b);
  load_run(cand, &c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 1; /* single runs: the within-run test (the run-level tests are further below) */
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  assert_int_equal(sw_compare_sets(&b, &c, &o, &out, &warn, &sum, &err), SW_OK);
  /* m0: ppl +0.5 > 2 * sqrt(0.1^2 + 0.1^2) = 0.283 -> WORSE; agreement +0.05 -> better.
   * m1: ppl +0.6 < 2 * sqrt(0.5^2 + 0.5^2) = 1.414 -> within tolerance. */
  assert_int_equal(sum.accuracy_changes, 2);
  assert_int_equal(sum.accuracy_regressions, 1);
  assert_contains(sw_buf_str(&out), "method=m0         ppl        20       20.5    WORSE\n");
  assert_contains(sw_buf_str(&out), "method=m0  top1_agree       0.9       0.95   better\n");
  assert_null(strstr(sw_buf_str(&out), "method=m1 "));
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&b);
  sw_rset_free(&c);
  char *argv[] = {"compare", base, "--baseline", "1", "--candidate", "1", "--candidate-db", cand, "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(10, argv), SW_EXIT_FAIL);
}

/* One trial per side with the metric classes compare must tell apart (values from the helper's reproducers):
 * a perplexity that became non-finite (stored NULL) and a KL the candidate lacks are accuracy regressions; a
 * count where higher is worse, a p-value, preemptions, the adaptive repetition count and a hardware counter
 * are not verdicts; a deterministic count and an SDE counter that changed are. */
static void metric_class_db(const char *dir, const char *name, char *path, size_t cap, int cand) {
  sqlite3 *db = new_db(dir, name, path, cap);
  add_run(db, 1, cand ? "cand" : "base", "fp", 1 + cand);
  add_trial(db, 1, 1, "mc0", "{\"method\":\"m0\"}");
  if (cand) exec_sql(db, "INSERT INTO metrics VALUES (1, 'ppl', NULL, 'ppl')");
  else add_metric(db, 1, "ppl", 10, "ppl"), add_metric(db, 1, "kl", 0.01, "nat/token");
  add_metric(db, 1, "task_acc_only_dense", cand ? 40 : 10, "count");
  add_metric(db, 1, "task_acc_mcnemar_p", cand ? 0.001 : 0.9, "p-value");
  add_metric(db, 1, "decode_preemptions", cand ? 131.5 : 117.25, "count");
  add_metric(db, 1, "timing_reps", cand ? 12 : 9, "count");
  add_metric(db, 1, "eval_tokens", cand ? 101 : 100, "count");
  exec_sql(db, cand ? "INSERT INTO counters VALUES (1, 'sparse', 'PAPI_TOT_INS', 1010, NULL)"
                    : "INSERT INTO counters VALUES (1, 'sparse', 'PAPI_TOT_INS', 1000, NULL)");
  exec_sql(db, cand ? "INSERT INTO counters VALUES (1, 'sparse', 'sde:::sparsweep::flops', 4097, NULL)"
                    : "INSERT INTO counters VALUES (1, 'sparse', 'sde:::sparsweep::flops', 4096, NULL)");
  close_db(db);
}

static void test_compare_metric_classes(void **state) {
  const char *dir = *state;
  char base[512], cand[512];
  metric_class_db(dir, "mc_b.db", base, sizeof base, 0);
  metric_class_db(dir, "mc_c.db", cand, sizeof cand, 1);
  sw_rset_t b, c;
  load_run(base, &b);
  load_run(cand, &c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 1;
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  assert_int_equal(sw_compare_sets(&b, &c, &o, &out, &warn, &sum, &err), SW_OK);
  const char *text = sw_buf_str(&out);
  assert_int_equal(sum.accuracy_changes, 2);
  assert_int_equal(sum.accuracy_regressions, 2);
  assert_contains(text, "ppl        10       null    WORSE\n");
  assert_contains(text, "kl      0.01       null    WORSE\n");
  assert_int_equal(sum.count_changes, 3);
  assert_contains(text, "task_acc_only_dense");
  assert_contains(text, "eval_tokens");
  assert_contains(text, "sparse:sde:::sparsweep::flops");
  assert_null(strstr(text, "mcnemar"));
  assert_null(strstr(text, "preemptions"));
  assert_null(strstr(text, "timing_reps"));
  assert_null(strstr(text, "PAPI_TOT_INS"));
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&b);
  sw_rset_free(&c);
  /* directions: declared for the quality metrics, by name for speeds and rates */
  assert_false(sw_metric_higher_is_better("task_acc_only_dense"));
  assert_true(sw_metric_higher_is_better("task_acc_only_method"));
  assert_true(sw_metric_higher_is_better("task_acc"));
  assert_false(sw_metric_higher_is_better("ppl"));
  assert_true(sw_metric_higher_is_better("top1_agree"));
  assert_true(sw_metric_higher_is_better("decode_speedup"));
  assert_true(sw_metric_higher_is_better("prefill_tok_s_dense"));
  assert_false(sw_metric_higher_is_better("decode_s_sparse"));
  assert_false(sw_is_accuracy_metric("task_acc_mcnemar_p"));
  assert_false(sw_is_accuracy_metric("ppl_se"));
  /* every quality metric named there is declared, by its exact name, in common/sw_metrics.h */
  const char *names[64];
  size_t n = sw_quality_metric_names(names, 64);
  assert_true(n > 0 && n <= 64);
  for (size_t i = 0; i < n; i++) {
    const sw_metric_def_t *d = sw_metric_find(names[i]);
    if (!d || strcmp(d->name, names[i]) != 0) fail_msg("quality metric %s is not declared in sw_metrics.h", names[i]);
  }
}

/* Machine drift between runs (+8% on every sample of the candidate, e.g. a busier shared node): raw latencies
 * flag most configurations, the paired per-repetition speedups flag exactly the planted sparse slowdowns. */
static void test_compare_paired_resists_drift(void **state) {
  const char *dir = *state;
  char base[512], cand[512];
  synthetic_run_noise(dir, "drift_b.db", base, sizeof base, 1, 1.0, N_REPS, "fp", 1, (noise_t){0.01, 0.03, 1.0});
  synthetic_run_noise(dir, "drift_c.db", cand, sizeof cand, 2, 1.10, N_REPS, "fp", 1, (noise_t){0.01, 0.03, 1.08});
  sw_rset_t b, c;
  load_run(base, &b);
  load_run(cand, &c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 1; /* single runs: the within-run test (the run-level tests are further below) */
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  assert_int_equal(sw_compare_sets(&b, &c, &o, &out, &warn, &sum, &err), SW_OK);
  if (sum.regressions < 100) fail_msg("raw latencies: only %zu regressions under an 8%% drift", sum.regressions);
  sw_buf_reset(&out);
  o.paired = 1;
  assert_int_equal(sw_compare_sets(&b, &c, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.compared, 300);
  assert_int_equal(sum.regressions, N_PLANTED);
  assert_int_equal(sum.improvements, 0);
  assert_int_equal(count_of(sw_buf_str(&out), "dense/sparse"), N_PLANTED);
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&b);
  sw_rset_free(&c);
}

/* ------------------------------------------------------------------ several baseline runs, noise floor */

enum { N_DRIFT = 10 };

/* Configurations whose sparse series moves between runs (e.g. another page placement per process). */
static int is_drifting(int cfg) { return cfg % 30 == 13; }

/* One database with runs 1..3 of the 300 configurations (0.3% lognormal noise, so that the drift, threshold and
 * floor are several standard errors apart; trial ids run * 1000 + cfg + 1).
 * The sparse series of a drifting configuration is scaled by level[run - 1]; in run 3 the planted
 * configurations' sparse series is scaled by slow3. */
static void multi_run_db(const char *dir, const char *name, char *path, size_t cap, const double level[3], double slow3) {
  sqlite3 *db = new_db(dir, name, path, cap);
  double dv[N_REPS], sv[N_REPS];
  for (int run = 1; run <= 3; run++) {
    add_run(db, run, run < 3 ? "basebase" : "candcand", "fp", (double)run);
    rng_t r = {100 + (uint64_t)run};
    for (int cfg = 0; cfg < N_METHODS * N_SPARS * N_BATCH; cfg++) {
      char config[128], hash[16];
      describe_cfg(cfg, config, sizeof config);
      snprintf(hash, sizeof hash, "cfg%03d", cfg);
      int id = run * 1000 + cfg + 1;
      add_trial(db, id, run, hash, config);
      double base = 1e-3 * (1 + cfg % 7), f = is_drifting(cfg) ? level[run - 1] : 1;
      if (run == 3 && is_planted(cfg)) f *= slow3;
      for (int i = 0; i < N_REPS; i++) {
        dv[i] = base * exp(0.003 * rng_normal(&r));
        sv[i] = 0.5 * base * f * exp(0.003 * rng_normal(&r));
      }
      add_samples(db, id, "dense", dv, N_REPS);
      add_samples(db, id, "sparse", sv, N_REPS);
    }
  }
  close_db(db);
}

static void load_run_id(const char *path, int run, sw_rset_t *set) {
  sw_rdb_t *rdb = open_ro(path);
  sw_err_t err;
  if (sw_rset_load(rdb, run, NULL, set, &err) != SW_OK) fail_msg("%s", err.msg);
  sw_report_close(rdb);
}

/* The line of out that describes cfg (its first one), copied into line. */
static void config_line(const sw_rset_t *b, int cfg, const char *out, char *line, size_t cap) {
  char bt[16], m[16], sp[16], want[128];
  const sw_rtrial_t *t = &b->trials[cfg];
  sw_rtrial_config_text(t, "batch", bt, sizeof bt);
  sw_rtrial_config_text(t, "method", m, sizeof m);
  sw_rtrial_config_text(t, "sparsity", sp, sizeof sp);
  snprintf(want, sizeof want, "batch=%s method=%s sparsity=%s ", bt, m, sp);
  const char *p = strstr(out, want);
  if (!p) fail_msg("no line for config %d (%s)", cfg, want);
  snprintf(line, cap, "%s", p);
  char *nl = strchr(line, '\n');
  if (nl) *nl = '\0';
}

/* Baseline runs 1 and 2 differ by 8% on the drifting configurations; the candidate (run 3) lands 10.25% above
 * run 1 there, i.e. inside the run-to-run spread (2.1% from run 2; about 6% above the pooled median, between the 5% threshold and the 8% floor), and has a 15% slowdown planted in 5 other
 * configurations.  Against run 1 alone, both kinds are flagged; against the pooled runs 1,2 with the floor,
 * exactly the planted ones are, and the drifting ones are "noisy (floor ~8%)" warnings. */
static void test_compare_noise_floor_two_baselines(void **state) {
  const char *dir = *state;
  char path[512];
  const double level[3] = {1.0, 1.08, 1.1025};
  multi_run_db(dir, "floor.db", path, sizeof path, level, 1.15);
  sw_rset_t b[2], c;
  memset(b, 0, sizeof b);
  load_run_id(path, 1, &b[0]);
  load_run_id(path, 2, &b[1]);
  load_run_id(path, 3, &c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 1; /* single runs: the within-run test (the run-level tests are further below) */
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  /* One baseline run: the 8% drift is indistinguishable from a regression, and the hint says so. */
  assert_int_equal(sw_compare_runs(b, 1, &c, 1, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.regressions, N_PLANTED + N_DRIFT);
  assert_int_equal(sum.noisy, 0);
  assert_contains(sw_buf_str(&warn), "hint: one baseline run");
  assert_null(strstr(sw_buf_str(&out), "floor"));
  for (int paired = 0; paired < 2; paired++) {
    sw_buf_reset(&out);
    sw_buf_reset(&warn);
    o.paired = paired;
    assert_int_equal(sw_compare_runs(b, 2, &c, 1, &o, &out, &warn, &sum, &err), SW_OK);
    const char *text = sw_buf_str(&out);
    assert_int_equal(sum.matched, 300);
    assert_int_equal(sum.compared, paired ? 300 : 600);
    assert_int_equal(sum.regressions, N_PLANTED);
    assert_int_equal(sum.improvements, 0);
    assert_int_equal(sum.noisy, N_DRIFT);
    assert_int_equal(sum.floor_above, N_DRIFT);
    assert_int_equal(count_of(text, "REGRESSION"), N_PLANTED);
    assert_contains(text, "samples pooled over the 2 baseline and the 1 candidate runs");
    assert_contains(sw_buf_str(&warn), "within the run-to-run noise floor");
    assert_null(strstr(sw_buf_str(&warn), "hint:"));
    assert_int_equal(count_of(text, "noisy (floor "), N_DRIFT);
    /* Only changed rows are listed (the dense rows are unchanged), and no two of them share a description. */
    for (int cfg = 0; cfg < N_METHODS * N_SPARS * N_BATCH; cfg++) {
      if (!is_planted(cfg) && !is_drifting(cfg)) continue;
      char line[512];
      config_line(&b[0], cfg, text, line, sizeof line);
      assert_contains(line, paired ? "dense/sparse" : "sparse");
      if (is_planted(cfg)) {
        assert_contains(line, "REGRESSION");
        continue;
      }
      /* Floor = run 2 / run 1 medians = 8% (x 0.3% sample noise on 16-sample medians): shown and in the verdict. */
      const char *v = strstr(line, "noisy (floor ");
      if (!v) fail_msg("drifting config %d not marked noisy: %s", cfg, line);
      double floor_pct = strtod(v + strlen("noisy (floor "), NULL);
      if (fabs(floor_pct - 8.0) > 1.0) fail_msg("config %d: floor %.2f%%, want 8%% +- 1", cfg, floor_pct);
    }
  }
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&b[0]);
  sw_rset_free(&b[1]);
  sw_rset_free(&c);
  /* The command: --baseline 1,2 fails on the planted slowdowns (noisy alone does not), --baseline 1 too. */
  char *argv1[] = {"compare", path, "--baseline", "1,2", "--candidate", "3", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(8, argv1), SW_EXIT_FAIL);
  char *argv2[] = {"compare", path, "--baseline", "1,2", "--candidate", "3", "--paired", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(9, argv2), SW_EXIT_FAIL);
  char *argv3[] = {"compare", path, "--baseline", "1,1", "--candidate", "3", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(8, argv3), SW_EXIT_USAGE);
  char *argv4[] = {"compare", path, "--baseline", "1,", "--candidate", "3", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(8, argv4), SW_EXIT_USAGE);
}

/* No planted change, the same drift as above: baseline 1,2 vs candidate 3 exits 0, raw and paired (noisy is
 * not a failure), while baseline 1 alone fails on the drift. */
static void test_compare_two_baselines_unchanged(void **state) {
  const char *dir = *state;
  char path[512];
  const double level[3] = {1.0, 1.08, 1.1025};
  multi_run_db(dir, "floor0.db", path, sizeof path, level, 1.0);
  char *argv1[] = {"compare", path, "--baseline", "1,2", "--candidate", "3", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(8, argv1), SW_EXIT_OK);
  char *argv2[] = {"compare", path, "--baseline", "1,2", "--candidate", "3", "--paired", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(9, argv2), SW_EXIT_OK);
  /* The same data through one baseline run fails: the drift looks like a regression. */
  char *argv3[] = {"compare", path, "--baseline", "1", "--candidate", "3", "--min-runs", "1", NULL};
  assert_int_equal(cmd_compare(8, argv3), SW_EXIT_FAIL);
}

/* ------------------------------------------------------------------ run-level verdicts */

/* nb baseline runs (ids 1..nb) and nc candidate runs (nb+1..nb+nc) of the 300 configurations.  Every (run,
 * configuration) gets its own level exp(0.01 N(0,1)) on both series (a process's memory placement), samples
 * 0.3% lognormal noise around it; the candidate run drift_run (0: none) is 8% slower on every sample (a busy
 * neighbour); the planted configurations' sparse series is scaled by slow in every candidate run. */
static void runs_db(const char *dir, const char *name, char *path, size_t cap, int nb, int nc, int drift_run,
                    double slow) {
  sqlite3 *db = new_db(dir, name, path, cap);
  double dv[N_REPS], sv[N_REPS];
  for (int run = 1; run <= nb + nc; run++) {
    add_run(db, run, run <= nb ? "basebase" : "candcand", "fp", (double)run);
    rng_t r = {500 + (uint64_t)run};
    for (int cfg = 0; cfg < N_METHODS * N_SPARS * N_BATCH; cfg++) {
      char config[160], hash[16];
      describe_cfg(cfg, config, sizeof config);
      snprintf(config + strlen(config) - 1, 32, ",\"zslot\":%d}", cfg % 100); /* unique contents per method */
      snprintf(hash, sizeof hash, "cfg%03d", cfg);
      int id = run * 1000 + cfg + 1;
      add_trial(db, id, run, hash, config);
      double level = 1e-3 * (1 + cfg % 7) * exp(0.01 * rng_normal(&r)) * (run == drift_run ? 1.08 : 1);
      double f = run > nb && is_planted(cfg) ? slow : 1;
      for (int i = 0; i < N_REPS; i++) {
        dv[i] = level * exp(0.003 * rng_normal(&r));
        sv[i] = 0.5 * level * f * exp(0.003 * rng_normal(&r));
      }
      add_samples(db, id, "dense", dv, N_REPS);
      add_samples(db, id, "sparse", sv, N_REPS);
    }
  }
  close_db(db);
}

/* Loads runs first..first+n-1 into sets. */
static void load_runs(const char *path, int first, int n, sw_rset_t *sets) {
  for (int i = 0; i < n; i++) load_run_id(path, first + i, &sets[i]);
}

/* runs_db, then its baseline runs into b[nb] and its candidate runs into c[nc]. */
static void runs_db_loaded(const char *dir, const char *name, char *path, size_t cap, int nb, int nc, int drift_run,
                           double slow, sw_rset_t *b, sw_rset_t *c) {
  runs_db(dir, name, path, cap, nb, nc, drift_run, slow);
  memset(b, 0, (size_t)nb * sizeof *b);
  memset(c, 0, (size_t)nc * sizeof *c);
  load_runs(path, 1, nb, b);
  load_runs(path, nb + 1, nc, c);
}

static void free_runs(sw_rset_t *sets, int n) {
  for (int i = 0; i < n; i++) sw_rset_free(&sets[i]);
}

/* A/A with run-to-run spread and one candidate run 8% slower throughout: the within-run test of two single runs
 * flags the drift on most configurations; the run-level test over 3 + 3 runs flags nothing, raw or paired. */
static void test_compare_run_level_aa_is_quiet(void **state) {
  const char *dir = *state;
  char path[512];
  sw_rset_t b[3], c[3];
  runs_db_loaded(dir, "aa.db", path, sizeof path, 3, 3, 5, 1.0, b, c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  assert_int_equal(o.min_runs, 0); /* by mode */
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  o.min_runs = 1;
  assert_int_equal(sw_compare_runs(&b[0], 1, &c[1], 1, &o, &out, &warn, &sum, &err), SW_OK); /* c[1] is run 5 */
  assert_true(sum.regressions > 300);
  o.min_runs = 3;
  for (int paired = 0; paired < 2; paired++) {
    o.paired = paired;
    sw_buf_reset(&out);
    assert_int_equal(sw_compare_runs(b, 3, c, 3, &o, &out, &warn, &sum, &err), SW_OK);
    assert_true(sum.run_level);
    assert_int_equal(sum.compared, paired ? 300 : 600);
    assert_int_equal(sum.regressions, 0);
    assert_int_equal(sum.improvements, 0);
    assert_int_equal(sum.inconclusive, 0);
    assert_contains(sw_buf_str(&out), "run-level test: one value per run");
  }
  sw_buf_free(&out);
  sw_buf_free(&warn);
  free_runs(b, 3);
  free_runs(c, 3);
  char *argv[] = {"compare", path, "--baseline", "1,2,3", "--candidate", "4,5,6", "--min-runs", "3", NULL};
  assert_int_equal(cmd_compare(8, argv), SW_EXIT_OK);
}

/* A 15% slowdown planted in 5 configurations' sparse series, 5 + 5 runs: exactly those are REGRESSION (raw
 * sparse latency and paired speedup), with a ratio interval around 1.15 (raw); exit 1. */
static void test_compare_run_level_finds_planted(void **state) {
  const char *dir = *state;
  char path[512];
  sw_rset_t b[5], c[5];
  runs_db_loaded(dir, "planted.db", path, sizeof path, 5, 5, 0, 1.15, b, c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  for (int paired = 0; paired < 2; paired++) {
    o.paired = paired;
    sw_buf_reset(&out);
    assert_int_equal(sw_compare_runs(b, 5, c, 5, &o, &out, &warn, &sum, &err), SW_OK);
    assert_int_equal(sum.regressions, N_PLANTED);
    assert_int_equal(sum.improvements, 0);
    assert_int_equal(count_of(sw_buf_str(&out), "REGRESSION"), N_PLANTED);
    for (int cfg = 0; cfg < N_METHODS * N_SPARS * N_BATCH && !paired; cfg++) {
      if (!is_planted(cfg)) continue;
      char line[512];
      config_line(&b[0], cfg, sw_buf_str(&out), line, sizeof line);
      const char *r = strstr(line, " 1.1");
      if (!r) fail_msg("config %d: no ratio near 1.15: %s", cfg, line);
      double ratio = strtod(r, NULL);
      if (fabs(ratio - 1.15) > 0.02) fail_msg("config %d: ratio %.3f, want 1.15 +- 0.02", cfg, ratio);
    }
  }
  sw_buf_free(&out);
  sw_buf_free(&warn);
  free_runs(b, 5);
  free_runs(c, 5);
  char *argv[] = {"compare", path, "--baseline", "1,2,3,4,5", "--candidate", "6,7,8,9,10", "--paired", NULL};
  assert_int_equal(cmd_compare(7, argv), SW_EXIT_FAIL);
}

/* Too few runs: 2 + 2 with the default min_runs (5 for raw latency, 3 paired) gives no verdict even for the
 * planted 15%, says how many runs are needed, and exits 0; --min-runs 0 is bad usage. */
static void test_compare_run_level_too_few_runs(void **state) {
  const char *dir = *state;
  char path[512];
  sw_rset_t b[2], c[2];
  runs_db_loaded(dir, "few.db", path, sizeof path, 2, 2, 0, 1.15, b, c);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  sw_err_t err;
  assert_int_equal(sw_compare_runs(b, 2, c, 2, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.regressions, 0);
  assert_int_equal(sum.compared, 0);
  assert_int_equal(sum.inconclusive, 600);
  assert_false(sum.run_level);
  /* the planted rows are shown (beyond the threshold) with the verdict, the others are not */
  assert_int_equal(count_of(sw_buf_str(&out), "inconclusive: need >= 5 runs per side"), N_PLANTED);
  assert_contains(sw_buf_str(&warn), "600 comparisons inconclusive: need >= 5 runs per side (have 2 baseline, 2");
  o.paired = 1;
  sw_buf_reset(&out);
  sw_buf_reset(&warn);
  assert_int_equal(sw_compare_runs(b, 2, c, 2, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.inconclusive, 300);
  assert_int_equal(count_of(sw_buf_str(&out), "inconclusive: need >= 3 runs per side"), N_PLANTED);
  sw_buf_free(&out);
  sw_buf_free(&warn);
  free_runs(b, 2);
  free_runs(c, 2);
  char *argv1[] = {"compare", path, "--baseline", "1,2", "--candidate", "3,4", NULL};
  assert_int_equal(cmd_compare(6, argv1), SW_EXIT_OK);
  char *argv2[] = {"compare", path, "--baseline", "1,2", "--candidate", "3,4", "--min-runs", "0", NULL};
  assert_int_equal(cmd_compare(8, argv2), SW_EXIT_USAGE);
}

/* Along an axis inside one database: cats trials (baseline) against teal trials (candidate) of the same 3 runs,
 * matched on batch, sparsity and zslot.  Levels are 1 + cfg % 7 ms and teal's cfg is cats' + 100 (100 % 7 = 2), so
 * every pair differs by >= 1/7: each of the 100 pairs is a regression (both series) where teal's level is the
 * higher, an improvement otherwise, counted here from the levels alone. */
static void test_compare_along_axis(void **state) {
  const char *dir = *state;
  char path[512];
  runs_db(dir, "axis.db", path, sizeof path, 3, 0, 0, 1.0);
  size_t slower = 0;
  for (int cfg = 0; cfg < 100; cfg++) slower += (1 + (cfg + 100) % 7) > (1 + cfg % 7);
  char *argv[] = {"compare", path, "--baseline", "1,2,3", "--baseline-where", "method=cats", "--candidate-where",
                  "method=teal", "--min-runs", "3", NULL};
  assert_int_equal(cmd_compare(10, argv), SW_EXIT_FAIL);
  sw_rset_t b[3], c[3];
  memset(b, 0, sizeof b);
  memset(c, 0, sizeof c);
  sw_buf_t fb = SW_BUF_INIT, fc = SW_BUF_INIT;
  char *kb = NULL, *kc = NULL;
  sw_err_t err;
  assert_int_equal(sw_axis_filter("method=cats", NULL, &kb, &fb, &err), SW_OK);
  assert_int_equal(sw_axis_filter("method=teal", "batch >= 1", &kc, &fc, &err), SW_OK);
  assert_string_equal(kb, "method");
  assert_string_equal(sw_buf_str(&fc), "(batch >= 1) and method = 'teal'");
  sw_rdb_t *rdb = open_ro(path);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(sw_rset_load(rdb, i + 1, sw_buf_str(&fb), &b[i], &err), SW_OK);
    assert_int_equal(sw_rset_load(rdb, i + 1, sw_buf_str(&fc), &c[i], &err), SW_OK);
    assert_int_equal(sw_compare_rekey(&b[i], kb, &err), SW_OK);
    assert_int_equal(sw_compare_rekey(&c[i], kc, &err), SW_OK);
  }
  sw_report_close(rdb);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 3;
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  assert_int_equal(sw_compare_runs(b, 3, c, 3, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.matched, 100);
  assert_int_equal(sum.only_baseline, 0);
  assert_int_equal(sum.regressions, 2 * slower);
  assert_int_equal(sum.improvements, 2 * (100 - slower));
  /* without zslot, two cats trials share every other key (sparsity 0.15 and 0.25 are both stored as "0.2"):
   * ambiguous, an error naming both trials */
  assert_int_equal(sw_compare_rekey(&b[0], "zslot", &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "differ only in 'zslot'"));
  char *bad = NULL;
  assert_int_equal(sw_axis_filter("method", NULL, &bad, &fb, &err), SW_ERR_INVALID);
  assert_int_equal(sw_axis_filter("1x=2", NULL, &bad, &fb, &err), SW_ERR_INVALID);
  assert_int_equal(sw_axis_filter("m='x'", NULL, &bad, &fb, &err), SW_ERR_INVALID);
  assert_null(bad);
  char *argv2[] = {"compare", path, "--baseline-where", "method=cats", NULL};
  assert_int_equal(cmd_compare(4, argv2), SW_EXIT_USAGE);
  free(kb);
  free(kc);
  sw_buf_free(&fb);
  sw_buf_free(&fc);
  sw_buf_free(&out);
  sw_buf_free(&warn);
  free_runs(b, 3);
  free_runs(c, 3);
}

/* ------------------------------------------------------------------ history and export */

static void test_history_marks_step(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "hist.db", path, sizeof path);
  const double speed[] = {2.0, 2.01, 1.99, 2.0, 1.7, 1.71, 1.69, 1.7};
  for (int r = 0; r < 8; r++) {
    char commit[16];
    snprintf(commit, sizeof commit, "c%d000000", r);
    add_run(db, r + 1, commit, "fp", 1000.0 + r);
    add_trial(db, r + 1, r + 1, "same", "{\"method\":\"topk\",\"sparsity\":0.5}");
    add_metric(db, r + 1, "speedup", speed[r], "x");
  }
  close_db(db);
  sw_rdb_t *rdb = open_ro(path);
  sw_buf_t out = SW_BUF_INIT;
  sw_err_t err;
  assert_int_equal(sw_report_history(rdb, "speedup", NULL, 0.05, &out, &err), SW_OK);
  const char *text = sw_buf_str(&out);
  assert_contains(text, ": 8 runs, 1 step\n");
  assert_int_equal(count_of(text, "<- "), 1);
  /* The step is on run 5 (commit c4), from level 2 to 1.7: -15%. */
  const char *line = strstr(text, "\n5    c400000");
  assert_non_null(line);
  assert_contains(line, "<- -15.0%");
  assert_int_equal(sw_report_history(rdb, "nope", NULL, 0.05, &out, &err), SW_ERR_NOTFOUND);
  /* Run selection: latest by start time, id, unique uuid prefix; ambiguous and missing runs are errors. */
  int64_t run = 0;
  assert_int_equal(sw_report_resolve_run(rdb, NULL, &run, &err), SW_OK);
  assert_int_equal(run, 8);
  assert_int_equal(sw_report_resolve_run(rdb, "3", &run, &err), SW_OK);
  assert_int_equal(run, 3);
  assert_int_equal(sw_report_resolve_run(rdb, "uuid-5", &run, &err), SW_OK);
  assert_int_equal(run, 5);
  assert_int_equal(sw_report_resolve_run(rdb, "uuid-", &run, &err), SW_ERR_INVALID);
  assert_int_equal(sw_report_resolve_run(rdb, "99", &run, &err), SW_ERR_NOTFOUND);
  char *argv1[] = {"history", path, NULL}; /* --metric is required */
  assert_int_equal(cmd_history(2, argv1), SW_EXIT_USAGE);
  char *argv2[] = {"history", path, "--metric", "speedup", "--where", "method = 'topk'", NULL};
  assert_int_equal(cmd_history(6, argv2), SW_EXIT_OK);
  sw_buf_free(&out);
  sw_report_close(rdb);
}

/* The benchmark's mean trial time goes through the opaque handle: (2 + 4 + 9) / 3 = 5 s, hand-computed; a
 * database without trials gives NaN. */
static void test_mean_trial_seconds(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "mean.db", path, sizeof path);
  add_run(db, 1, "abc", "fp", 1);
  close_db(db);
  sw_rdb_t *rdb = open_ro(path);
  sw_err_t err;
  double mean = 0;
  assert_int_equal(sw_report_mean_trial_seconds(rdb, &mean, &err), SW_OK);
  assert_true(isnan(mean));
  sw_report_close(rdb);
  db = new_db(dir, "mean.db", path, sizeof path);
  add_run(db, 1, "abc", "fp", 1);
  const double span[][2] = {{100, 102}, {200, 204}, {300, 309}};
  for (int i = 0; i < 3; i++) {
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO trials(trial_id, run_id, config_hash, config, status, started_s, ended_s)"
             " VALUES (%d, 1, 'h%d', '{}', 'ok', %g, %g)", i + 1, i, span[i][0], span[i][1]);
    exec_sql(db, sql);
  }
  close_db(db);
  rdb = open_ro(path);
  assert_int_equal(sw_report_mean_trial_seconds(rdb, &mean, &err), SW_OK);
  assert_true(fabs(mean - 5.0) < 1e-12);
  sw_report_close(rdb);
  sw_report_close(NULL); /* NULL-safe */
}

static void test_export_csv_jsonl(void **state) {
  const char *dir = *state;
  char path[512], out_path[600];
  small_db(dir, path, sizeof path);
  snprintf(out_path, sizeof out_path, "%s/export.csv", dir);
  char *argv[] = {"export", path, "--format", "csv", "--out", out_path, NULL};
  assert_int_equal(cmd_export(6, argv), SW_EXIT_OK);
  char *csv = sw_test_read_file(out_path, NULL);
  assert_non_null(csv);
  assert_contains(csv, "run_id,run_uuid,git_commit,machine,trial_id,config_hash,status,attempt,config.method,"
                              "config.sparsity,config.workload,metric.achieved_sparsity,metric.ppl,metric.ppl_se,"
                              "metric.rel_error,metric.speedup,samples.sparse.n,samples.sparse.median\n");
  assert_contains(csv, "\n1,uuid-1-0123456789abcdef,0123456789abcdef,fp1,2,h2,ok,1,topk,0.9,ffn,0.8,31.25,0.5,0.0625,4.5,,\n");
  assert_contains(csv, ",1.5,3,0.001\n");
  assert_int_equal(count_of(csv, "\n"), 5);
  free(csv);
  snprintf(out_path, sizeof out_path, "%s/export.jsonl", dir);
  char *argv2[] = {"export", path, "--format=jsonl", "--out", out_path, NULL};
  assert_int_equal(cmd_export(5, argv2), SW_EXIT_OK);
  char *jl = sw_test_read_file(out_path, NULL);
  assert_non_null(jl);
  assert_int_equal(count_of(jl, "\n"), 4);
  assert_contains(jl, "\"trial_id\":3,\"config_hash\":\"h3\",\"status\":\"ok\",\"attempt\":1,"
                             "\"config\":{\"method\":\"teal\",\"sparsity\":0.5,\"workload\":\"ffn\"},");
  assert_contains(jl, "\"samples\":{\"sparse\":[0.001,0.001,0.001]}");
  free(jl);
  char *argv3[] = {"export", path, "--format", "xml", NULL};
  assert_int_equal(cmd_export(4, argv3), SW_EXIT_USAGE);
}

/* Config values longer than any fixed buffer: a 300-byte method name is still a table row (before, the axes
 * kept 255 bytes and the row lookup 511, so no trial found its row and the report printed no table); the CSV
 * export writes a 5000-byte value whole.  Also the "only candidate" count over several candidate runs. */
static void test_long_config_values(void **state) {
  const char *dir = *state;
  char path[512], out_path[600];
  char *pad = malloc(5001), *cfg = malloc(6000);
  assert_non_null(pad);
  assert_non_null(cfg);
  memset(pad, 'x', 5000);
  pad[5000] = '\0';
  sqlite3 *db = new_db(dir, "long.db", path, sizeof path);
  add_run(db, 1, "0123456789abcdef", "fp1", 1);
  for (int i = 0; i < 4; i++) {
    char h[8];
    snprintf(h, sizeof h, "L%d", i);
    snprintf(cfg, 6000, "{\"method\":\"%c%.300s\",\"sparsity\":%s,\"note\":\"%s\"}", "AB"[i / 2], pad,
             i % 2 ? "0.5" : "0.7", pad);
    sqlite3_stmt *q = NULL; /* add_trial's SQL text holds 1 KiB: bind the long config instead */
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO trials(trial_id, run_id, config_hash, config, status)"
                                            " VALUES (?1, 1, ?2, ?3, 'ok')", -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_int(q, 1, i + 1);
    sqlite3_bind_text(q, 2, h, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, cfg, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    add_metric(db, i + 1, "ppl", 10 + i, "ppl");
  }
  close_db(db);
  sw_report_opts_t o;
  sw_report_opts_default(&o);
  o.n_metrics = 1;
  o.metrics[0] = "ppl";
  o.format = SW_FMT_CSV;
  sw_buf_t out = SW_BUF_INIT;
  report_text(path, NULL, &o, &out);
  char want[400];
  snprintf(want, sizeof want, "\nA%.300s,11,10\n", pad); /* ppl 10 + i: i = 0 at sparsity 0.7, 1 at 0.5 */
  assert_contains(sw_buf_str(&out), want);
  snprintf(want, sizeof want, "\nB%.300s,13,12\n", pad);
  assert_contains(sw_buf_str(&out), want);
  sw_buf_free(&out);
  snprintf(out_path, sizeof out_path, "%s/long.csv", dir);
  char *argv[] = {"export", path, "--format", "csv", "--out", out_path, NULL};
  assert_int_equal(cmd_export(6, argv), SW_EXIT_OK);
  char *csv = sw_test_read_file(out_path, NULL);
  assert_non_null(csv);
  snprintf(cfg, 6000, ",%s,", pad);
  assert_non_null(strstr(csv, cfg));
  free(csv);
  free(pad);
  free(cfg);
}

static void test_compare_only_candidate_count(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "onlycand.db", path, sizeof path);
  add_run(db, 1, "base", "fp", 1), add_run(db, 2, "cand", "fp", 2), add_run(db, 3, "cand", "fp", 3);
  add_trial(db, 1, 1, "h1", "{\"method\":\"teal\"}");
  add_trial(db, 2, 2, "h2", "{\"method\":\"cats\"}"); /* only in a candidate run */
  add_trial(db, 3, 3, "h1", "{\"method\":\"teal\"}");
  add_trial(db, 4, 3, "h2", "{\"method\":\"cats\"}"); /* the same configuration again: counted once */
  close_db(db);
  sw_rdb_t *rdb = open_ro(path);
  sw_rset_t b, c[2];
  sw_err_t err;
  assert_int_equal(sw_rset_load(rdb, 1, NULL, &b, &err), SW_OK);
  assert_int_equal(sw_rset_load(rdb, 2, NULL, &c[0], &err), SW_OK);
  assert_int_equal(sw_rset_load(rdb, 3, NULL, &c[1], &err), SW_OK);
  sw_report_close(rdb);
  sw_compare_opts_t o;
  sw_compare_opts_default(&o);
  o.min_runs = 1;
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  assert_int_equal(sw_compare_runs(&b, 1, c, 2, &o, &out, &warn, &sum, &err), SW_OK);
  assert_int_equal(sum.matched, 1);
  assert_int_equal(sum.only_baseline, 0);
  assert_int_equal(sum.only_candidate, 1);
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&b);
  sw_rset_free(&c[0]);
  sw_rset_free(&c[1]);
}

/* ------------------------------------------------------------------ plots */

/* Minimal XML well-formedness: declarations, comments and CDATA skipped, every start tag closed in order,
 * exactly one root element, which must be <svg>. */
static int svg_well_formed(const char *s) {
  char stack[64][64];
  int depth = 0, roots = 0;
  while ((s = strchr(s, '<'))) {
    if (strncmp(s, "<?", 2) == 0) s = strstr(s, "?>");
    else if (strncmp(s, "<!--", 4) == 0) s = strstr(s, "-->");
    else if (strncmp(s, "<![CDATA[", 9) == 0) s = strstr(s, "]]>");
    else if (strncmp(s, "<!", 2) == 0) s = strchr(s, '>');
    else {
      int closing = s[1] == '/';
      const char *name = s + 1 + closing;
      size_t n = strcspn(name, " \t\r\n/>");
      const char *end = strchr(s, '>');
      if (!end || n == 0 || n >= 64) return 0;
      int empty = end[-1] == '/';
      if (closing) {
        if (depth == 0 || strlen(stack[depth - 1]) != n || strncmp(stack[depth - 1], name, n) != 0) return 0;
        depth--;
      } else {
        if (depth == 0 && (roots++ || strncmp(name, "svg", n) != 0 || n != 3)) return 0;
        if (!empty) {
          if (depth == 64) return 0;
          memcpy(stack[depth], name, n);
          stack[depth++][n] = '\0';
        }
      }
      s = end;
    }
    if (!s) return 0;
    s++;
  }
  return depth == 0 && roots == 1;
}

static void check_figure(const char *dir, const char *name) {
  char path[700];
  size_t len;
  snprintf(path, sizeof path, "%s/%s.png", dir, name);
  char *png = sw_test_read_file(path, &len);
  if (!png) fail_msg("missing %s", path);
  assert_true(len > 1000);
  assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8); /* PNG signature, ISO/IEC 15948 §5.2 */
  free(png);
  snprintf(path, sizeof path, "%s/%s.svg", dir, name);
  char *svg = sw_test_read_file(path, &len);
  if (!svg) fail_msg("missing %s", path);
  if (!svg_well_formed(svg)) fail_msg("%s is not well-formed XML with root <svg>", path);
  free(svg);
}

static void test_plots_png_svg(void **state) {
  const char *dir = *state;
  char path[512];
  sqlite3 *db = new_db(dir, "plot.db", path, sizeof path);
  add_run(db, 1, "abc", "fp", 1);
  rng_t r = {11};
  int id = 0;
  static const char *const methods[] = {"topk", "teal"};
  for (int m = 0; m < 2; m++)
    for (int b = 1; b <= 4; b *= 4)
      for (int s = 0; s < 4; s++) {
        double sp = 0.2 * (s + 1), v[8];
        char cfg[128], h[16];
        snprintf(cfg, sizeof cfg, "{\"batch\":%d,\"method\":\"%s\",\"sparsity\":%.1f}", b, methods[m], sp);
        snprintf(h, sizeof h, "t%d", ++id);
        add_trial(db, id, 1, h, cfg);
        add_metric(db, id, "speedup", 0.8 / (1 - sp), "x");
        add_metric(db, id, "rel_error", 0.05 * sp * (m + 1), NULL);
        add_metric(db, id, "flops_sparse", 1e6 * (1 - sp), "flop");
        for (int i = 0; i < 8; i++) v[i] = 1e-3 * (1 + 0.05 * rng_normal(&r));
        add_samples(db, id, "dense", v, 8);
        for (int i = 0; i < 8; i++) v[i] = 1e-3 * (1 - sp) * (1 + 0.05 * rng_normal(&r));
        add_samples(db, id, "sparse", v, 8);
      }
  close_db(db);
  char plots[600];
  snprintf(plots, sizeof plots, "%s/plots", dir);
  char *argv[] = {"report", path, "--plot", plots, "--format", "md", NULL};
  assert_int_equal(cmd_report(6, argv), SW_EXIT_OK);
  check_figure(plots, "accuracy_vs_flops");
  check_figure(plots, "speedup_vs_sparsity");
  check_figure(plots, "latency");
  /* The checker itself rejects broken documents. */
  assert_false(svg_well_formed("<svg><g></svg>"));
  assert_false(svg_well_formed("<html></html>"));
  assert_true(svg_well_formed("<?xml version=\"1.0\"?><!-- c --><svg a=\"1\"><g/><text>x</text></svg>"));
}

/* A modularity trial: the heatmap's data holds, per layer, the IoU matrix (1 on the diagonal, symmetric). */
static void test_plot_overlap_heatmap(void **state) {
  const char *dir = *state;
  char path[512], plots[600], dat[700];
  sqlite3 *db = new_db(dir, "heat.db", path, sizeof path);
  add_run(db, 1, "abc", "fp", 1);
  add_trial(db, 1, 1, "m1", "{\"subsets\":\"a=x.txt;bb=y.txt@5;c=z\",\"workload\":\"modularity\"}");
  add_metric(db, 1, "iou_random", 0.05, "fraction");
  static const char *const pairs[] = {"a_bb", "a_c", "bb_c"};
  for (int l = 0; l < 2; l++)
    for (int p = 0; p < 3; p++) {
      char name[64];
      snprintf(name, sizeof name, "iou_act_l%02d_%s", l, pairs[p]);
      add_metric(db, 1, name, 0.1 * (l * 3 + p + 1), "fraction");
    }
  close_db(db);
  snprintf(plots, sizeof plots, "%s/heat", dir);
  char *argv[] = {"report", path, "--plot", plots, NULL};
  assert_int_equal(cmd_report(4, argv), SW_EXIT_OK);
  check_figure(plots, "overlap_heatmap");
  snprintf(dat, sizeof dat, "%s/overlap_heatmap.dat", plots);
  char *txt = sw_test_read_file(dat, NULL);
  assert_non_null(txt);
  /* layer 1 block: x y value rows; (x=2, y=1) is bb-c = 0.6, (x=0, y=2) is a-c = 0.5, diagonal 1 */
  char *l1 = strstr(txt, "\n\n\n");
  assert_non_null(l1);
  assert_non_null(strstr(l1, "2\t1\t0.6\n"));
  assert_non_null(strstr(l1, "0\t2\t0.5\n"));
  assert_non_null(strstr(l1, "1\t1\t1\n"));
  assert_non_null(strstr(txt, "1\t0\t0.1\n")); /* layer 0, a-bb */
  assert_null(strstr(l1 + 3, "\n\n\n0\t0")); /* exactly two layers */
  free(txt);
}

static void test_report_format_names(void **state) {
  (void)state;
  static const struct {
    const char      *name;
    sw_report_format want;
  } cases[] = {{"text", SW_FMT_TEXT}, {"md", SW_FMT_MD}, {"markdown", SW_FMT_MD}, {"csv", SW_FMT_CSV},
               {"latex", SW_FMT_LATEX}};
  sw_report_format f;
  sw_err_t err;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    f = (sw_report_format)-1;
    assert_int_equal(sw_report_format_parse(cases[i].name, &f, &err), SW_OK);
    assert_int_equal(f, cases[i].want);
  }
  assert_int_equal(sw_report_format_parse("xml", &f, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "'xml'"));
  assert_int_equal(sw_report_format_parse("TEXT", &f, &err), SW_ERR_INVALID); /* exact spelling only */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_report_format_names),
      cmocka_unit_test(test_report_native_vs_f32_line),
      cmocka_unit_test(test_report_small_exact),
      cmocka_unit_test(test_report_cli_strict_values),
      cmocka_unit_test(test_report_selection_quality_columns),
      cmocka_unit_test(test_report_where_relative_trials),
      cmocka_unit_test(test_report_precision_gate),
      cmocka_unit_test(test_report_relative_to_dense),
      cmocka_unit_test(test_report_merged_knobs),
      cmocka_unit_test(test_report_pareto),
      cmocka_unit_test(test_compare_planted_regression),
      cmocka_unit_test(test_compare_unchanged_noise_is_quiet),
      cmocka_unit_test(test_compare_too_few_and_counts),
      cmocka_unit_test(test_compare_paired_resists_drift),
      cmocka_unit_test(test_compare_noise_floor_two_baselines),
      cmocka_unit_test(test_compare_run_level_aa_is_quiet),
      cmocka_unit_test(test_compare_run_level_finds_planted),
      cmocka_unit_test(test_compare_run_level_too_few_runs),
      cmocka_unit_test(test_compare_along_axis),
      cmocka_unit_test(test_compare_two_baselines_unchanged),
      cmocka_unit_test(test_compare_metric_classes),
      cmocka_unit_test(test_compare_accuracy_tolerance),
      cmocka_unit_test(test_history_marks_step),
      cmocka_unit_test(test_export_csv_jsonl),
      cmocka_unit_test(test_long_config_values),
      cmocka_unit_test(test_compare_only_candidate_count),
      cmocka_unit_test(test_mean_trial_seconds),
      cmocka_unit_test(test_plots_png_svg),
      cmocka_unit_test(test_plot_overlap_heatmap),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
