/* `sparsweep compare DB --baseline RUN[,RUN...] --candidate RUN[,RUN...]`: A/B statistics between runs
 * (candidates possibly from a second database): ratio of medians with a CI and a Mann-Whitney U test per trial
 * and series, Holm/BH across all of them, a practical threshold and, with two or more baseline runs, their
 * run-to-run noise floor; exit 1 when a significant regression (or an accuracy regression, or a change in a
 * deterministic count) is found, for CI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "results/sw_report.h"

static void usage(FILE *f) {
  fprintf(f, "usage: sparsweep compare DB --baseline RUN[,RUN...] --candidate RUN[,RUN...] [--candidate-db DB2]\n"
             "         [--threshold 0.05] [--alpha 0.01] [--correction holm|bh|none] [--acc-tol 1e-3] [--where EXPR]\n"
             "         [--paired] [--min-runs N] [--verbose]\n"
             "       sparsweep compare DB --baseline-where KEY=V --candidate-where KEY=V2 [--baseline RUNS]\n"
             "         [--candidate RUNS] [...]\n"
             "  RUN: a run id, a run uuid prefix, or 'latest'; a comma-separated list of runs (at most %d).\n"
             "  The run is the unit of replication: with >= --min-runs runs per side (default %d with --paired, %d\n"
             "  for raw latency, from the A/A calibration in results/REPORTS.md), each config and series is tested across runs (Student t on the\n"
             "  logs of the run medians, Holm/BH across all of them); with fewer, the within-run interval is shown\n"
             "  and the verdict is 'inconclusive: need >= N runs per side' (exit 0).  --min-runs 1 allows single\n"
             "  runs (U test of the pooled repetitions; two or more baseline runs add a run-to-run noise floor and\n"
             "  'noisy (floor X%%)' warnings): that test ignores run-to-run noise and raises false alarms.\n"
             "  --baseline-where KEY=V --candidate-where KEY=V2: compare along one axis inside the database (kernel\n"
             "  variants, ISA variants, thread counts of one sweep): baseline trials have KEY=V, candidate trials\n"
             "  KEY=V2, matched when every other config key is equal; the runs default to 'latest' on both sides.\n"
             "  --paired: compare each trial's interleaved per-repetition speedups dense_i/sparse_i instead of raw\n"
             "  latencies (drift of a shared machine between the two runs cancels).\n"
             "  exit 0: no significant regression; 1: a latency regression (adjusted p < alpha, ratio > 1 +\n"
             "  threshold and beyond the floor), an accuracy regression, or a changed deterministic count;\n"
             "  2: bad usage or input.\n", SW_COMPARE_MAX_RUNS, SW_COMPARE_MIN_RUNS_PAIRED,
          SW_COMPARE_MIN_RUNS_LATENCY);
}

typedef struct compare_args {
  const char       *db, *db2, *base, *cand, *where, *base_where, *cand_where;
  sw_compare_opts_t o;
} compare_args_t;

/* A finite number in [min, max] into *out; 1 when valid. */
static int number(const char *s, double min, double max, double *out) {
  return sw_cli_parse_double(s, min, max, out) == 0;
}

static int parse_args(int argc, char **argv, compare_args_t *a) {
  int bad = 0;
  for (int i = 1; i < argc && !bad; i++) {
    const char *v;
    if ((v = sw_cli_opt_value(argc, argv, &i, "--baseline", &bad))) a->base = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--candidate-db", &bad))) a->db2 = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--candidate", &bad))) a->cand = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--where", &bad))) a->where = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--baseline-where", &bad))) a->base_where = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--candidate-where", &bad))) a->cand_where = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--threshold", &bad))) bad = !number(v, 0, HUGE_VAL, &a->o.threshold);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--alpha", &bad))) bad = !number(v, 0, 1, &a->o.alpha) || !(a->o.alpha > 0 && a->o.alpha < 1);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--min-runs", &bad))) {
      int m = 0;
      bad = sw_cli_parse_int(v, 1, SW_COMPARE_MAX_RUNS, &m) != 0;
      a->o.min_runs = bad ? a->o.min_runs : (size_t)m;
    } else if ((v = sw_cli_opt_value(argc, argv, &i, "--acc-tol", &bad))) bad = !number(v, 0, HUGE_VAL, &a->o.acc_rel_tol);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--correction", &bad))) {
      sw_err_t err;
      if (sw_padjust_parse(v, &a->o.correction, &err) != SW_OK) {
        fprintf(stderr, "sparsweep compare: %s\n", err.msg);
        return 0;
      }
    } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) a->o.verbose = 1;
    else if (strcmp(argv[i], "--paired") == 0) a->o.paired = 1;
    else if (argv[i][0] != '-' && !a->db) a->db = argv[i];
    else bad = 1;
    if (bad) fprintf(stderr, "sparsweep compare: bad or incomplete option '%s'\n", argv[i]);
  }
  if (!bad && (!a->base_where) != (!a->cand_where)) {
    fprintf(stderr, "sparsweep compare: --baseline-where and --candidate-where go together\n");
    return 0;
  }
  if (!bad && a->base_where) { /* along an axis: the same runs on both sides unless given */
    if (!a->base) a->base = a->cand ? a->cand : "latest";
    if (!a->cand) a->cand = a->base;
  }
  if (!bad && (!a->db || !a->base || !a->cand)) {
    fprintf(stderr, "sparsweep compare: DB, --baseline and --candidate are required\n");
    return 0;
  }
  return !bad;
}

/* Opens a database and loads the runs of a comma-separated list (each resolved by sw_report_resolve_run) into
 * sets[0..*n); a run listed twice is an error. */
static sw_rc load(const char *path, const char *list, const char *where, sw_rset_t *sets, size_t *n, sw_err_t *err) {
  sw_rdb_t *db = NULL;
  *n = 0;
  sw_rc rc = sw_report_open(path, &db, err); /* its messages name the path already */
  if (rc != SW_OK) return rc;
  for (const char *p = list; rc == SW_OK && p;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char spec[128];
    int64_t id;
    if (len == 0 || len >= sizeof spec) rc = sw_err_set(err, SW_ERR_INVALID, "bad run list '%s'", list);
    else if (*n == SW_COMPARE_MAX_RUNS) rc = sw_err_set(err, SW_ERR_INVALID, "more than %d runs in '%s'", SW_COMPARE_MAX_RUNS, list);
    if (rc != SW_OK) break;
    memcpy(spec, p, len);
    spec[len] = '\0';
    rc = sw_report_resolve_run(db, spec, &id, err);
    for (size_t i = 0; rc == SW_OK && i < *n; i++)
      if (sets[i].run.run_id == id) rc = sw_err_set(err, SW_ERR_INVALID, "run %lld listed twice in '%s'", (long long)id, list);
    if (rc == SW_OK) rc = sw_rset_load(db, id, where, &sets[*n], err);
    if (rc == SW_OK) (*n)++;
    p = comma ? comma + 1 : NULL;
  }
  if (rc != SW_OK) sw_err_prefix(err, "%s", path);
  sw_report_close(db);
  return rc;
}

/* The filter of one side of an axis comparison (or the plain --where) and, for an axis, the re-keyed sets. */
static sw_rc load_side(const char *path, const char *list, const char *where, const char *axis, sw_rset_t *sets,
                       size_t *n, char **key, sw_err_t *err) {
  sw_buf_t filter = SW_BUF_INIT;
  *key = NULL;
  sw_rc rc = axis ? sw_axis_filter(axis, where, key, &filter, err) : SW_OK;
  if (rc == SW_OK) rc = load(path, list, axis ? sw_buf_str(&filter) : where, sets, n, err);
  for (size_t i = 0; rc == SW_OK && axis && i < *n; i++) rc = sw_compare_rekey(&sets[i], *key, err);
  sw_buf_free(&filter);
  return rc;
}

static void free_sets(sw_rset_t *sets, size_t n) {
  for (size_t i = 0; i < n; i++) sw_rset_free(&sets[i]);
}

int cmd_compare(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    usage(stdout);
    return SW_EXIT_OK;
  }
  compare_args_t a;
  memset(&a, 0, sizeof a);
  sw_compare_opts_default(&a.o);
  if (!parse_args(argc, argv, &a)) {
    usage(stderr);
    return SW_EXIT_USAGE;
  }
  sw_err_t err;
  sw_err_clear(&err);
  sw_rset_t base[SW_COMPARE_MAX_RUNS], cand[SW_COMPARE_MAX_RUNS];
  size_t nb = 0, nc = 0;
  memset(base, 0, sizeof base);
  memset(cand, 0, sizeof cand);
  char *kb = NULL, *kc = NULL;
  sw_rc rc = load_side(a.db, a.base, a.where, a.base_where, base, &nb, &kb, &err);
  if (rc == SW_OK) rc = load_side(a.db2 ? a.db2 : a.db, a.cand, a.where, a.cand_where, cand, &nc, &kc, &err);
  if (rc == SW_OK && kb && strcmp(kb, kc) != 0)
    rc = sw_err_set(&err, SW_ERR_INVALID, "--baseline-where and --candidate-where name different keys ('%s', '%s')", kb,
                    kc);
  if (rc == SW_OK && kb) printf("along %s: baseline %s, candidate %s; trials matched on every other config key\n", kb,
                                a.base_where, a.cand_where);
  free(kb);
  free(kc);
  if (rc != SW_OK) {
    fprintf(stderr, "sparsweep compare: %s\n", err.msg);
    free_sets(base, SW_COMPARE_MAX_RUNS);
    free_sets(cand, SW_COMPARE_MAX_RUNS);
    return SW_EXIT_USAGE;
  }
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  rc = sw_compare_runs(base, nb, cand, nc, &a.o, &out, &warn, &sum, &err);
  fputs(sw_buf_str(&warn), stderr);
  fputs(sw_buf_str(&out), stdout);
  if (rc != SW_OK) fprintf(stderr, "sparsweep compare: %s\n", err.msg);
  sw_buf_free(&out);
  sw_buf_free(&warn);
  free_sets(base, nb);
  free_sets(cand, nc);
  if (rc != SW_OK) return SW_EXIT_FAIL;
  return sum.regressions + sum.accuracy_regressions + sum.count_changes > 0 ? SW_EXIT_FAIL : SW_EXIT_OK;
}
