/* `sparsweep compare DB --baseline RUN --candidate RUN`: A/B statistics between two runs (possibly from two
 * databases): ratio of medians with a CI and a Mann-Whitney U test per trial and series, Holm/BH across all
 * of them, a practical threshold; exit 1 when a significant regression (or an accuracy regression, or a
 * change in a deterministic count) is found, for CI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cli/sw_cli.h"
#include "results/sw_report.h"

static void usage(FILE *f) {
  fprintf(f, "usage: sparsweep compare DB --baseline RUN --candidate RUN [--candidate-db DB2] [--threshold 0.05]\n"
             "         [--alpha 0.05] [--correction holm|bh|none] [--acc-tol 1e-3] [--where EXPR] [--paired] [--verbose]\n"
             "  --paired: compare each trial's interleaved per-repetition speedups dense_i/sparse_i instead of raw\n"
             "  latencies (drift of a shared machine between the two runs cancels).\n"
             "  exit 0: no significant regression; 1: a latency regression (adjusted p < alpha and ratio > 1 +\n"
             "  threshold), an accuracy regression, or a changed deterministic count; 2: bad usage or input.\n");
}

typedef struct compare_args {
  const char       *db, *db2, *base, *cand, *where;
  sw_compare_opts_t o;
} compare_args_t;

static int number(const char *s, double *out) {
  char *end;
  *out = strtod(s, &end);
  return *s && *end == '\0';
}

static int parse_args(int argc, char **argv, compare_args_t *a) {
  int bad = 0;
  for (int i = 1; i < argc && !bad; i++) {
    const char *v;
    if ((v = sw_cli_opt_value(argc, argv, &i, "--baseline", &bad))) a->base = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--candidate-db", &bad))) a->db2 = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--candidate", &bad))) a->cand = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--where", &bad))) a->where = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--threshold", &bad))) bad = !number(v, &a->o.threshold) || a->o.threshold < 0;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--alpha", &bad))) bad = !number(v, &a->o.alpha) || !(a->o.alpha > 0 && a->o.alpha < 1);
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--acc-tol", &bad))) bad = !number(v, &a->o.acc_rel_tol) || a->o.acc_rel_tol < 0;
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
  if (!bad && (!a->db || !a->base || !a->cand)) {
    fprintf(stderr, "sparsweep compare: DB, --baseline and --candidate are required\n");
    return 0;
  }
  return !bad;
}

/* Opens a database and loads one run of it. */
static sw_rc load(const char *path, const char *run, const char *where, sw_rset_t *set, sw_err_t *err) {
  sqlite3 *db = NULL;
  int64_t id;
  sw_rc rc = sw_report_open(path, &db, err); /* its messages name the path already */
  if (rc != SW_OK) return rc;
  rc = sw_report_resolve_run(db, run, &id, err);
  if (rc == SW_OK) rc = sw_rset_load(db, id, where, set, err);
  if (rc != SW_OK) sw_err_prefix(err, "%s", path);
  sqlite3_close(db);
  return rc;
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
  sw_rset_t base, cand;
  memset(&base, 0, sizeof base);
  memset(&cand, 0, sizeof cand);
  sw_rc rc = load(a.db, a.base, a.where, &base, &err);
  if (rc == SW_OK) rc = load(a.db2 ? a.db2 : a.db, a.cand, a.where, &cand, &err);
  if (rc != SW_OK) {
    fprintf(stderr, "sparsweep compare: %s\n", err.msg);
    sw_rset_free(&base);
    return SW_EXIT_USAGE;
  }
  sw_buf_t out = SW_BUF_INIT, warn = SW_BUF_INIT;
  sw_compare_summary_t sum;
  rc = sw_compare_sets(&base, &cand, &a.o, &out, &warn, &sum, &err);
  fputs(sw_buf_str(&warn), stderr);
  fputs(sw_buf_str(&out), stdout);
  if (rc != SW_OK) fprintf(stderr, "sparsweep compare: %s\n", err.msg);
  sw_buf_free(&out);
  sw_buf_free(&warn);
  sw_rset_free(&base);
  sw_rset_free(&cand);
  if (rc != SW_OK) return SW_EXIT_FAIL;
  return sum.regressions + sum.accuracy_regressions + sum.count_changes > 0 ? SW_EXIT_FAIL : SW_EXIT_OK;
}
