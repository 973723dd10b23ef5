/* sw_report: reading a results database (results/schema.sql) for people: trial sets loaded per run,
 * validity stamps, benchstat-style projections into paper tables (rows and columns chosen from config
 * axes, one table per value of the remaining varying axes) in text, Markdown, CSV or LaTeX, a Pareto view,
 * A/B comparison of two runs with multiple-comparison control, metric history with change points, and
 * export to CSV / JSON Lines.  Every connection used here is read-only. */
#ifndef SW_REPORT_H
#define SW_REPORT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "common/sw_json.h"
#include "common/sw_stats.h"

/* ------------------------------------------------------------------ loading */

/* A results database opened read-only for reports.  Opaque: SQLite stays inside results/ (its CMake target
 * links it PRIVATE), so commands hold this handle and call the functions below. */
typedef struct sw_rdb sw_rdb_t;

/* Opens path read-only and checks it is a sparsweep database this build understands (application_id and
 * PRAGMA user_version <= SW_STORE_SCHEMA_VERSION); errors name the path.  Close with sw_report_close. */
sw_rc sw_report_open(const char *path, sw_rdb_t **db, sw_err_t *err);
/* Closes a handle from sw_report_open; NULL-safe. */
void sw_report_close(sw_rdb_t *db);

/* Mean wall time (ended_s - started_s, seconds) of every trial row of the database; NaN when it has none. */
sw_rc sw_report_mean_trial_seconds(sw_rdb_t *db, double *mean_s, sw_err_t *err);

/* Resolves a run: NULL or "latest" = the newest run that has trials; a number = runs.run_id; otherwise a
 * runs.uuid prefix (must be unique).  SW_ERR_NOTFOUND with a message when nothing matches. */
sw_rc sw_report_resolve_run(sw_rdb_t *db, const char *spec, int64_t *run_id, sw_err_t *err);

/* Rewrites a user filter into SQL over trials aliased t: bare identifiers are config keys
 * (json_extract(t.config, '$.key')), except SQL keywords, function names (followed by '('), and the trial
 * columns status, attempt, trial_id, run_id, config_hash, host.  Example: "method = 'teal' and sparsity >= 0.5".
 * SW_ERR_PARSE on an unterminated string or a character that has no place in a filter (';'). */
sw_rc sw_where_to_sql(const char *expr, sw_buf_t *out, sw_err_t *err);

typedef struct sw_rmetric {
  char  *name;
  double value; /* NaN for SQL NULL */
  char  *unit;  /* may be NULL */
} sw_rmetric_t;

typedef struct sw_rseries {
  char   *name; /* "dense", "sparse", ... */
  double *v;    /* seconds, in repetition order */
  size_t  n;
} sw_rseries_t;

typedef struct sw_rcounter {
  char  *series, *name;
  double value;     /* NaN when not available */
  char  *reason;    /* why it is missing, or NULL */
} sw_rcounter_t;

/* One trial (the latest "ok" attempt of a config hash in the run, else its latest attempt). */
typedef struct sw_rtrial {
  int64_t        trial_id, run_id;
  char          *config_hash, *config_json, *status;
  int            attempt;
  sw_json_t     *config;  /* parsed flat object */
  sw_rmetric_t  *metrics; /* sorted by name */
  size_t         n_metrics;
  sw_rseries_t  *series;  /* sorted by name */
  size_t         n_series;
  sw_rcounter_t *counters;
  size_t         n_counters;
  int            valid;        /* validity stamp (sw_report_stamp) */
  double         worst_ci;     /* by the stamp: the widest relative median half-width of its series and paired
                                  speedups, and the largest CV of its series (NaN without series) */
  double         worst_cv;
  char           reasons[512]; /* "; "-separated reasons when invalid */
} sw_rtrial_t;

/* Provenance of the run a set came from. */
typedef struct sw_rrun {
  int64_t run_id;
  char   *uuid, *git_commit, *fingerprint, *spec_name, *status, *cpu_model;
  int     git_dirty;
  double  started_s;
} sw_rrun_t;

typedef struct sw_rset {
  sw_rrun_t    run;
  sw_rtrial_t *trials; /* sorted by trial_id */
  size_t       n;
} sw_rset_t;

/* Loads the trials of run_id (with metrics, samples and counters), restricted by where (user syntax of
 * sw_where_to_sql; NULL = all).  out must be zeroed; free with sw_rset_free. */
sw_rc sw_rset_load(sw_rdb_t *db, int64_t run_id, const char *where, sw_rset_t *out, sw_err_t *err);
void  sw_rset_free(sw_rset_t *set);

/* Lookups (NULL when absent). */
const sw_rmetric_t *sw_rtrial_metric(const sw_rtrial_t *t, const char *name);
const sw_rseries_t *sw_rtrial_series(const sw_rtrial_t *t, const char *name);
/* The standard error companion of a metric: "<name>_se", or for "<x>_mean" also "<x>_se"; NULL when none. */
const sw_rmetric_t *sw_metric_se(const sw_rtrial_t *t, const char *metric);
/* Text of a config value ("0.5", "teal", "true", array items joined by ","); "-" when the key is absent.
 * _buf appends the whole text (exports and config identities); _text truncates it to cap - 1 bytes. */
void sw_rtrial_config_buf(const sw_rtrial_t *t, const char *key, sw_buf_t *b);
void sw_rtrial_config_text(const sw_rtrial_t *t, const char *key, char *dst, size_t cap);
/* The one size of every fixed buffer that holds a config value in the reports: values are told apart (as axis
 * values, table rows, columns and groups) by their first SW_CONFIG_TEXT_CAP - 1 bytes, the same everywhere. */
#define SW_CONFIG_TEXT_CAP 4096

/* ------------------------------------------------------------------ validity */

typedef struct sw_validity_opts {
  size_t min_reps;          /* fewer samples in any series is INVALID (default 6: the least with a 95% median CI) */
  double max_ci;            /* the precision gate: a series' median, or a paired speedup's median of per-repetition
                               ratios, whose ci_level order-statistic interval has a relative half-width
                               (sw_median_ci_relhw) above this is INVALID (default 0.10) */
  double ci_level;          /* level of those intervals (default 0.95) */
  double max_cv;            /* optional extra gate: CV of any series above this is INVALID (pyperf's check); 0
                               (default) = off, since one outlier among 7 drives the CV and not the median */
  double min_sample_s;      /* a median sample below this is under the timer's useful resolution (default 1e-6 s:
                               1000 x the 1 ns CLOCK_MONOTONIC resolution keeps quantisation below 0.1%) */
  double max_sparsity_gap;  /* |achieved - target| sparsity above this is INVALID (default 0.05) */
} sw_validity_opts_t;

/* Fills o with the default validity rules: >= 6 repetitions, median interval half-width <= 10 % at 95 % (series
 * and paired speedups), no CV gate, samples >= 1 µs, sparsity gap 0.05. */
void sw_validity_opts_default(sw_validity_opts_t *o);
/* Sets t->valid and t->reasons from the rules above (and status != "ok").  The paired speedups are the series
 * "<p>sparse" that have a "<p>dense" of the same length (dense/sparse, decode_dense/decode_sparse, ...): their
 * per-repetition ratios dense_i / sparse_i, as the runners compute the stored speedups.  The target sparsity is
 * config "sparsity"; the achieved one the metric "achieved_sparsity" (or "sparsity_neuron" in older ffn
 * databases). */
void sw_report_stamp(sw_rtrial_t *t, const sw_validity_opts_t *o);

/* The per-repetition ratios dense->v[i] / sparse->v[i] (malloc'd, dense->n values), or NULL when the series
 * differ in length, are empty, a sparse value is not positive, or on allocation failure. */
double *sw_series_ratios(const sw_rseries_t *dense, const sw_rseries_t *sparse);
/* The series "<p>dense" paired with the series "<p>sparse" named sparse_name (NULL when the name does not end in
 * "sparse" or the trial has no such dense series). */
const sw_rseries_t *sw_rtrial_dense_partner(const sw_rtrial_t *t, const char *sparse_name);

/* ------------------------------------------------------------------ tables */

typedef enum sw_report_format {
  SW_FMT_TEXT = 0,
  SW_FMT_MD = 1,
  SW_FMT_CSV = 2,
  SW_FMT_LATEX = 3
} sw_report_format;

/* Parses text|md|csv|latex. */
sw_rc sw_report_format_parse(const char *s, sw_report_format *out, sw_err_t *err);

#define SW_REPORT_MAX_METRICS 16

typedef struct sw_report_opts {
  const char        *rows, *cols;  /* config axes; NULL = chosen from the axes that vary */
  const char        *metrics[SW_REPORT_MAX_METRICS]; /* cell metrics; none = chosen from what is present */
  size_t             n_metrics;
  sw_report_format   format;
  int                relative;     /* 1: also print each metric relative to the dense cell of its row/column */
  int                trials_view;  /* 1: one row per trial (axes, metrics, VALID/INVALID with reasons) */
  double             confidence;   /* interval level (default 0.95) */
  sw_validity_opts_t validity;
} sw_report_opts_t;

/* Fills o with the defaults: text format, 95 % confidence intervals, default validity rules, axes and metrics
 * chosen from the data (all pointers NULL). */
void sw_report_opts_default(sw_report_opts_t *o);

/* Writes the tables of a loaded set (stamps every trial first).  Cell = the metric's value with its
 * uncertainty: "<metric>_se" as "± se"; sample series (metric "latency:<series>", or a series' name) as
 * median [95% order-statistic CI]; "speedup" with paired dense and sparse series (same repetition count)
 * gets the order-statistic interval of the median of the per-pair ratios dense_i / sparse_i, which is how
 * the trial runners compute the stored speedup.  An INVALID trial's cell is marked "!" and its reasons are listed under the table.
 * Notes (axes chosen, hidden axes) go to notes when not NULL. */
sw_rc sw_report_tables(sw_rset_t *set, const sw_report_opts_t *o, sw_buf_t *out, sw_buf_t *notes, sw_err_t *err);

/* Pareto view: every trial with metrics x and y (prefix '+' = maximise, '-' = minimise; bare names take the
 * direction of sw_metric_higher_is_better), and '*' on the configurations no other trial dominates. */
sw_rc sw_report_pareto(sw_rset_t *set, const char *x, const char *y, const sw_report_opts_t *o, sw_buf_t *out,
                       sw_err_t *err);

/* 1 when a metric is higher-is-better: the declared direction of a model-quality metric (accuracy, agreement,
 * task counts), else by name: speedups, savings, throughputs, token rates, recall and precision. */
int sw_metric_higher_is_better(const char *name);
/* The names of the model-quality metrics with a declared direction: names[i] for i < min(return, cap). */
size_t sw_quality_metric_names(const char **names, size_t cap);

/* ------------------------------------------------------------------ compare */

typedef struct sw_compare_opts {
  double     threshold;   /* practical threshold on |ratio - 1| (default 0.05) */
  double     alpha;       /* significance after correction (default 0.01) */
  sw_padjust correction;  /* default Holm */
  double     confidence;  /* ratio interval level (default 0.95) */
  double     acc_rel_tol; /* accuracy metrics without a standard error: relative tolerance (default 1e-3) */
  int        verbose;     /* 1: list every compared pair, not only changes and warnings */
  int        paired;      /* 1: compare each trial's per-repetition speedups dense_i/sparse_i (interleaved pairs,
                             so machine drift between the two runs cancels) instead of raw latencies; a lower
                             candidate speedup is the regression */
  size_t     min_runs;    /* runs per side needed for a latency verdict; 0 (default): SW_COMPARE_MIN_RUNS_PAIRED
                             with paired, else SW_COMPARE_MIN_RUNS_LATENCY.  Fewer: "inconclusive", never a
                             regression.  1 allows the within-run test of single runs */
} sw_compare_opts_t;

/* Default runs per side for a verdict, from the A/A and planted-slowdown calibration on a shared 2-core VM with
 * a memory-streaming neighbour (results/REPORTS.md, scripts/calibrate_compare.sh): the paired speedup gave no
 * false alarm and found the planted 10% every time with 3 runs per side; raw latency needed 5 to find it. */
#define SW_COMPARE_MIN_RUNS_PAIRED 3
#define SW_COMPARE_MIN_RUNS_LATENCY 5

/* Fills o with the defaults: 5 % regression threshold, alpha 0.01 with Holm correction, 95 % confidence,
 * accuracy relative tolerance 1e-3. */
void sw_compare_opts_default(sw_compare_opts_t *o);

typedef struct sw_compare_summary {
  size_t matched, only_baseline, only_candidate;
  size_t compared;          /* (trial, series) latency comparisons with a test */
  size_t too_few;           /* comparisons without enough samples to ever be significant (warning) */
  size_t regressions, improvements;
  size_t accuracy_regressions, accuracy_changes;
  size_t count_changes;     /* deterministic counts that differ */
  double geomean_ratio;     /* geometric mean of candidate/baseline latency ratios (NaN when none) */
  int    machines_differ;
  size_t noisy;             /* significant and beyond the threshold but within the run-to-run noise floor of the
                               baseline runs (warning "noisy (floor X%)", never a verdict); 0 with one baseline run */
  size_t floor_above;       /* comparisons whose noise floor alone exceeds the threshold */
  size_t inconclusive;      /* comparisons without a verdict because a side has fewer than min_runs runs */
  int    run_level;         /* 1 when verdicts came from the run-level test (>= 2 runs per side) */
} sw_compare_summary_t;

/* Compares two loaded sets, trials matched by config hash.  Writes the report to out and warnings to warn.
 * The verdict is in the summary: a regression needs adjusted p < alpha AND the candidate slower by more than
 * the threshold (latency ratio > 1 + threshold; paired: speedup ratio < 1 / (1 + threshold)). */
sw_rc sw_compare_sets(const sw_rset_t *base, const sw_rset_t *cand, const sw_compare_opts_t *o, sw_buf_t *out,
                      sw_buf_t *warn, sw_compare_summary_t *sum, sw_err_t *err);

#define SW_COMPARE_MAX_RUNS 16

/* sw_compare_sets over nb >= 1 baseline runs and nc >= 1 candidate runs (at most SW_COMPARE_MAX_RUNS each).
 * The run is the unit of replication: one run's repetitions only measure within-run noise, and on a shared
 * machine a configuration's level moves between runs by much more.  Configurations are those of base[0] (ok
 * status) that at least one candidate run has.  Per (configuration, series), with k = min(runs with the
 * series on each side) and m = o->min_runs (0: by mode, see SW_COMPARE_MIN_RUNS_*):
 *   - k >= m and k >= 2: run-level test, sw_run_ttest of the runs' medians (--paired: of their median
 *     per-repetition speedups); these p-values are corrected together (Holm/BH);
 *   - k < m: the ratio of pooled medians with its within-run interval, verdict "inconclusive: need >= m runs
 *     per side" (sum->inconclusive), never a regression, not in the correction;
 *   - m == 1 and k == 1: the within-run Mann-Whitney U test of the pooled repetitions; with nb >= 2 also a
 *     run-to-run noise floor (the largest |log(m_i / m_j)| over the baseline runs' medians) that a change
 *     must exceed, else the verdict "noisy (floor X%)", a warning counted in sum->noisy.
 * Accuracy metrics and deterministic counts are compared between base[0] and the first candidate run that
 * has the configuration. */
sw_rc sw_compare_runs(const sw_rset_t *base, size_t nb, const sw_rset_t *cand, size_t nc, const sw_compare_opts_t *o,
                      sw_buf_t *out, sw_buf_t *warn, sw_compare_summary_t *sum, sw_err_t *err);

/* Compare along an axis inside one database (--baseline-where KEY=V --candidate-where KEY=V2): replaces each
 * trial's config_hash in set by the SHA-256 of its config without key ("k=v" texts of every other key, in
 * key order), so that sw_compare_runs matches trials that differ only in key.  SW_ERR_NOMEM on failure. */
sw_rc sw_compare_rekey(sw_rset_t *set, const char *key, sw_err_t *err);

/* Parses "KEY=VALUE" (KEY an identifier) into the filter "KEY = VALUE" (a number as is, anything else quoted)
 * for sw_where_to_sql, ANDed with where when where is non-NULL; *key receives KEY (malloc'd).  SW_ERR_INVALID
 * naming the text when it is not of that form or the value contains a quote. */
sw_rc sw_axis_filter(const char *kv, const char *where, char **key, sw_buf_t *filter, sw_err_t *err);

/* 1 when a metric (is_counter 0: unit flop/count/byte(s) or a "flops" name) or a counter (is_counter 1) is a
 * deterministic count compared exactly: FLOPs, byte and neuron counts, SDE counters; never hardware or kernel
 * counters, cycles, cache misses, stalls, times, rates, preemptions or the adaptive repetition count. */
int sw_is_exact_count(const char *name, const char *unit, int is_counter);
/* 1 when a metric is compared as accuracy: perplexity, bits per byte, KL, error, top-1 agreement, task
 * accuracy and its paired difference; by exact name. */
int sw_is_accuracy_metric(const char *name);

/* ------------------------------------------------------------------ history and export */

/* A metric ("latency:<series>" = median of samples) across all runs, per config (restricted by where),
 * runs ordered by start time, with change points (sw_change_points, min_rel) marked. */
sw_rc sw_report_history(sw_rdb_t *db, const char *metric, const char *where, double min_rel, sw_buf_t *out,
                        sw_err_t *err);

typedef enum sw_export_format {
  SW_EXPORT_CSV = 0,
  SW_EXPORT_JSONL = 1
} sw_export_format;

/* Writes every trial (run_id 0 = all runs) as one CSV row (run and trial columns, then config keys, then
 * metrics, then per-series n and median) or one JSON object per line (config, metrics, units, samples,
 * counters nested). */
sw_rc sw_report_export(sw_rdb_t *db, int64_t run_id, sw_export_format fmt, FILE *out, sw_err_t *err);

#endif
