/* `sparsweep history DB --metric NAME`: one metric across every run of a database, per configuration,
 * runs in start order (labelled by commit), with step changes found by change-point detection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "results/sw_report.h"

static void usage(FILE *f) {
  fprintf(f, "usage: sparsweep history DB --metric NAME [--where EXPR] [--min-change 0.05]\n"
             "  NAME: a metric, or latency:SERIES for the median of a sample series.  Steps smaller than\n"
             "  --min-change (relative) are not reported.\n");
}

int cmd_history(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    usage(stdout);
    return SW_EXIT_OK;
  }
  const char *db_path = NULL, *metric = NULL, *where = NULL;
  double min_rel = 0.05;
  int bad = 0;
  for (int i = 1; i < argc && !bad; i++) {
    const char *v;
    if ((v = sw_cli_opt_value(argc, argv, &i, "--metric", &bad))) metric = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--where", &bad))) where = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--min-change", &bad))) {
      bad = sw_cli_parse_double(v, 0, HUGE_VAL, &min_rel) != 0;
    } else if (argv[i][0] != '-' && !db_path) db_path = argv[i];
    else bad = 1;
    if (bad) fprintf(stderr, "sparsweep history: bad or incomplete option '%s'\n", argv[i]);
  }
  if (bad || !db_path || !metric) {
    usage(stderr);
    return SW_EXIT_USAGE;
  }
  sw_err_t err;
  sw_err_clear(&err);
  sw_rdb_t *db = NULL;
  sw_buf_t out = SW_BUF_INIT;
  sw_rc rc = sw_report_open(db_path, &db, &err);
  if (rc == SW_OK) rc = sw_report_history(db, metric, where, min_rel, &out, &err);
  sw_report_close(db);
  fputs(sw_buf_str(&out), stdout);
  sw_buf_free(&out);
  if (rc != SW_OK) fprintf(stderr, "sparsweep history: %s\n", err.msg);
  return rc == SW_OK ? SW_EXIT_OK : rc == SW_ERR_NOMEM || rc == SW_ERR_IO ? SW_EXIT_FAIL : SW_EXIT_USAGE;
}
