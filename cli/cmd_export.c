/* `sparsweep export DB --format csv|jsonl`: every trial of every run (or one run) for pandas: CSV with
 * config.*, metric.* and samples.*.{n,median} columns, or JSON Lines with the samples and counters nested. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "results/sw_report.h"

static void usage(FILE *f) {
  fprintf(f, "usage: sparsweep export DB --format csv|jsonl [--out FILE] [--run RUN]\n"
             "  One row per configuration and run (its latest ok attempt, else its latest attempt).\n");
}

int cmd_export(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    usage(stdout);
    return SW_EXIT_OK;
  }
  const char *db_path = NULL, *format = "csv", *out_path = NULL, *run = NULL;
  int bad = 0;
  for (int i = 1; i < argc && !bad; i++) {
    const char *v;
    if ((v = sw_cli_opt_value(argc, argv, &i, "--format", &bad))) format = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--out", &bad))) out_path = v;
    else if ((v = sw_cli_opt_value(argc, argv, &i, "--run", &bad))) run = v;
    else if (argv[i][0] != '-' && !db_path) db_path = argv[i];
    else bad = 1;
    if (bad) fprintf(stderr, "sparsweep export: bad or incomplete option '%s'\n", argv[i]);
  }
  sw_export_format fmt = strcmp(format, "jsonl") == 0 ? SW_EXPORT_JSONL : SW_EXPORT_CSV;
  if (!bad && strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0) {
    fprintf(stderr, "sparsweep export: unknown format '%s' (expected csv or jsonl)\n", format);
    bad = 1;
  }
  if (bad || !db_path) {
    usage(stderr);
    return SW_EXIT_USAGE;
  }
  sw_err_t err;
  sw_err_clear(&err);
  sw_rdb_t *db = NULL;
  int64_t run_id = 0;
  sw_rc rc = sw_report_open(db_path, &db, &err);
  if (rc == SW_OK && run) rc = sw_report_resolve_run(db, run, &run_id, &err);
  FILE *out = stdout;
  if (rc == SW_OK && out_path && !(out = fopen(out_path, "w")))
    rc = sw_err_set(&err, SW_ERR_IO, "cannot write %s", out_path);
  if (rc == SW_OK) rc = sw_report_export(db, run_id, fmt, out, &err);
  if (out && out != stdout && fclose(out) != 0 && rc == SW_OK) rc = sw_err_set(&err, SW_ERR_IO, "writing %s failed", out_path);
  sw_report_close(db);
  if (rc != SW_OK) fprintf(stderr, "sparsweep export: %s\n", err.msg);
  return rc == SW_OK ? SW_EXIT_OK : rc == SW_ERR_NOMEM || rc == SW_ERR_IO ? SW_EXIT_FAIL : SW_EXIT_USAGE;
}
