/* `sparsweep report DB`: paper-style tables of one run (default: the latest), rows and columns chosen from
 * the config axes that vary, cells = the main metrics with their uncertainty and validity; --pareto for
 * the non-dominated configurations, --plot DIR for PNG/SVG figures through gnuplot. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "common/sw_metrics.h"
#include "results/sw_plot.h"
#include "results/sw_report.h"

static void usage(FILE *f) {
  fprintf(f, "usage: sparsweep report DB [--run RUN] [--rows AXIS] [--cols AXIS] [--metric NAME[,NAME...]]\n"
             "         [--format text|md|csv|latex] [--where EXPR] [--relative] [--trials] [--pareto X,Y]\n"
             "         [--plot DIR] [--min-reps N] [--max-ci X] [--max-cv X] [--max-sparsity-gap X]\n"
             "         [--layout NAME]\n"
             "  RUN: run id, uuid prefix or 'latest' (default).  EXPR: SQL over config keys, e.g.\n"
             "  \"method = 'teal' and sparsity >= 0.5\".  Cells of INVALID trials are marked '!'.\n"
             "  --max-ci X: a median (or paired speedup) whose 95%% interval half-width exceeds X of it is INVALID\n"
             "  (default 0.135); --max-cv X: also a CV above X (default 0: off); --max-sparsity-gap X: also an\n"
             "  achieved sparsity further than X >= 0 from its target (default 0.05); --min-reps N: also a series\n"
             "  of fewer than N samples (a whole number, default 6).  --metric takes at most %d names.\n"
             "  --pareto X,Y: '+name' maximises, '-name' minimises (default by name).\n"
             "  --layout NAME: a paper's rows/columns/metrics (experiments/papers/, docs/papers.md):\n",
          SW_REPORT_MAX_METRICS);
  sw_report_layouts_list(f);
  fprintf(f, "       sparsweep report --explain [METRIC] [--markdown]\n"
             "  Prints the unit, the workloads and the definition of METRIC (of every metric without one), from\n"
             "  common/sw_metrics.h; --markdown prints the table of results/SCHEMA.md.\n");
}

/* `report --explain [METRIC] [--markdown]`: the declared metrics, no database needed. */
static int explain(int argc, char **argv) {
  const char *name = NULL;
  int markdown = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--markdown")) markdown = 1;
    else if (argv[i][0] != '-' && !name) name = argv[i];
    else return fprintf(stderr, "sparsweep report --explain: unexpected '%s'\n", argv[i]), SW_EXIT_USAGE;
  }
  const sw_metric_def_t *defs, *one = name ? sw_metric_find(name) : NULL;
  size_t n = sw_metrics_all(&defs);
  if (name && !one) {
    fprintf(stderr, "sparsweep report --explain: metric '%s' is not declared (common/sw_metrics.h)\n", name);
    return SW_EXIT_USAGE;
  }
  if (markdown) printf("| metric | unit | workloads | definition |\n|---|---|---|---|\n");
  for (size_t i = 0; i < n; i++) {
    const sw_metric_def_t *m = &defs[i];
    if (one && m != one) continue;
    if (markdown) printf("| `%s` | %s | %s | %s |\n", m->name, m->unit, m->workloads, m->definition);
    else printf("%s [%s] (%s): %s\n", one ? name : m->name, m->unit, m->workloads, m->definition);
  }
  return fflush(stdout) ? SW_EXIT_FAIL : SW_EXIT_OK;
}

/* Value of "--name VALUE" / "--name=VALUE" at argv[*i] (advancing *i), or NULL when it is another option;
 * *bad is set when the value is missing. */
typedef struct report_args {
  const char      *db, *run, *where, *pareto, *plot;
  char            *metric_list; /* owned copy split in place */
  const sw_report_layout_t *layout; /* --layout preset (explicit --rows/--cols/--metric win) */
  sw_report_opts_t o;
} report_args_t;

/* A finite number >= min into *out; 1 when valid. */
static int parse_number(const char *s, double min, double *out) {
  return sw_cli_parse_double(s, min, HUGE_VAL, out) == 0;
}

static int parse_args(int argc, char **argv, report_args_t *a) {
  int bad = 0;
  for (int i = 1; i < argc && !bad; i++) {
    const char *v;
    if ((v = sw_cli_opt_value(argc, argv, &i, "--run", &bad))) a->run = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--rows", &bad))) a->o.rows = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--cols", &bad))) a->o.cols = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--where", &bad))) a->where = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--pareto", &bad))) a->pareto = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--plot", &bad))) a->plot = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--layout", &bad))) bad = !(a->layout = sw_report_layout_find(v));
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--metric", &bad))) {
      free(a->metric_list);
      a->metric_list = strdup(v);
    } else if ((v = sw_cli_opt_value(argc, argv, &i, "--format", &bad))) {
      sw_err_t err;
      if (sw_report_format_parse(v, &a->o.format, &err) != SW_OK) {
        fprintf(stderr, "sparsweep report: %s\n", err.msg);
        return 0;
      }
    } else if ((v = sw_cli_opt_value(argc, argv, &i, "--min-reps", &bad))) {
      long reps = 0;
      bad = sw_cli_parse_long(v, 0, LONG_MAX, &reps) != 0;
      if (!bad) a->o.validity.min_reps = (size_t)reps;
    } else if ((v = sw_cli_opt_value(argc, argv, &i, "--max-ci", &bad))) {
      bad = !parse_number(v, 0, &a->o.validity.max_ci) || !(a->o.validity.max_ci > 0);
    } else if ((v = sw_cli_opt_value(argc, argv, &i, "--max-cv", &bad))) {
      bad = !parse_number(v, 0, &a->o.validity.max_cv);
    } else if ((v = sw_cli_opt_value(argc, argv, &i, "--max-sparsity-gap", &bad))) {
      bad = !parse_number(v, 0, &a->o.validity.max_sparsity_gap);
    } else if (strcmp(argv[i], "--relative") == 0) a->o.relative = 1;
    else if (strcmp(argv[i], "--trials") == 0) a->o.trials_view = 1;
    else if (argv[i][0] != '-' && !a->db) a->db = argv[i];
    else bad = 1;
    if (bad) fprintf(stderr, "sparsweep report: bad or incomplete option '%s'\n", argv[i]);
  }
  if (!bad && !a->db) fprintf(stderr, "sparsweep report: missing DB\n");
  if (!bad && a->layout) {
    if (!a->o.rows) a->o.rows = a->layout->rows;
    if (!a->o.cols) a->o.cols = a->layout->cols;
    if (!a->metric_list) a->metric_list = strdup(a->layout->metrics);
  }
  return !bad && a->db;
}

/* --metric A,B: at most SW_REPORT_MAX_METRICS names; 0, or -1 with a message naming the limit. */
static int split_metrics(report_args_t *a) {
  char *save = NULL;
  for (char *tok = a->metric_list ? strtok_r(a->metric_list, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
    if (a->o.n_metrics == SW_REPORT_MAX_METRICS) {
      fprintf(stderr, "sparsweep report: --metric takes at most %d metrics\n", SW_REPORT_MAX_METRICS);
      return -1;
    }
    a->o.metrics[a->o.n_metrics++] = tok;
  }
  return 0;
}

static int exit_for(sw_rc rc) {
  return rc == SW_ERR_INVALID || rc == SW_ERR_NOTFOUND || rc == SW_ERR_PARSE || rc == SW_ERR_DB ? SW_EXIT_USAGE
                                                                                                 : SW_EXIT_FAIL;
}

/* Pareto: "X,Y" split into two names. */
static sw_rc do_pareto(sw_rset_t *set, const report_args_t *a, sw_buf_t *out, sw_err_t *err) {
  char x[128], *comma = strchr(a->pareto, ',');
  if (!comma || (size_t)(comma - a->pareto) >= sizeof x)
    return sw_err_set(err, SW_ERR_INVALID, "--pareto wants X,Y (two metric names), got '%s'", a->pareto);
  memcpy(x, a->pareto, (size_t)(comma - a->pareto));
  x[comma - a->pareto] = '\0';
  return sw_report_pareto(set, x, comma + 1, &a->o, out, err);
}

static sw_rc run_report(sw_rdb_t *db, report_args_t *a, sw_buf_t *out, sw_buf_t *notes, sw_err_t *err) {
  int64_t run_id;
  sw_rset_t set;
  memset(&set, 0, sizeof set);
  sw_rc rc = sw_report_resolve_run(db, a->run, &run_id, err);
  if (rc == SW_OK) rc = sw_rset_load(db, run_id, a->where, &set, err);
  if (rc == SW_OK && a->pareto) rc = do_pareto(&set, a, out, err);
  else if (rc == SW_OK) rc = sw_report_tables(&set, &a->o, out, notes, err);
  if (rc == SW_OK && a->plot) {
    sw_plot_opts_t po;
    sw_plot_opts_default(&po);
    rc = sw_plot_run(&set, a->plot, &po, notes, err);
  }
  sw_rset_free(&set);
  return rc;
}

int cmd_report(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    usage(stdout);
    return SW_EXIT_OK;
  }
  if (argc > 1 && !strcmp(argv[1], "--explain")) return explain(argc, argv);
  report_args_t a;
  memset(&a, 0, sizeof a);
  sw_report_opts_default(&a.o);
  if (!parse_args(argc, argv, &a) || split_metrics(&a) != 0) {
    usage(stderr);
    free(a.metric_list);
    return SW_EXIT_USAGE;
  }
  sw_err_t err;
  sw_err_clear(&err);
  sw_rdb_t *db = NULL;
  sw_buf_t out = SW_BUF_INIT, notes = SW_BUF_INIT;
  sw_rc rc = sw_report_open(a.db, &db, &err);
  if (rc == SW_OK) rc = run_report(db, &a, &out, &notes, &err);
  sw_report_close(db);
  fputs(sw_buf_str(&out), stdout);
  if (rc == SW_OK) fputs(sw_buf_str(&notes), stderr);
  else fprintf(stderr, "sparsweep report: %s\n", err.msg);
  sw_buf_free(&out);
  sw_buf_free(&notes);
  free(a.metric_list);
  return rc == SW_OK ? SW_EXIT_OK : exit_for(rc);
}
