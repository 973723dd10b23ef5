/* sw_report_int: declarations shared by the report sources (sw_report.c, sw_report_table.c,
 * sw_report_compare.c, sw_plot.c); not part of the public API. */
#ifndef SW_REPORT_INT_H
#define SW_REPORT_INT_H
#include <stddef.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "results/sw_report.h"

struct sqlite3;

/* The handle behind sw_rdb_t: one read-only connection. */
struct sw_rdb {
  struct sqlite3 *db;
};

/* SW_ERR_DB with "what: sqlite3_errmsg(db)". */
sw_rc sw_report_db_error(struct sqlite3 *db, sw_err_t *err, const char *what);
/* strdup that tolerates NULL (returns NULL). */
char *sw_report_strdup(const char *s);
/* Appends printf-style text to the NUL-terminated string dst of capacity cap, truncating silently. */
void sw_report_appendf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Shortest "%.*g" text of v that reads back exactly. */
void sw_report_fmt_number(double v, char *dst, size_t cap);

/* A table of strings: header row + body rows, rendered in any sw_report_format. */
typedef struct sw_grid {
  size_t  ncols, nrows; /* nrows counts body rows only */
  char  **cells;        /* (nrows + 1) * ncols owned strings; row 0 is the header */
  size_t  cap_rows;
  int     oom;
} sw_grid_t;

/* Starts an empty grid of ncols columns (header cells NULL); allocation failure sets g->oom. Free with sw_grid_free. */
void sw_grid_init(sw_grid_t *g, size_t ncols);
/* Sets header cell c. */
void sw_grid_header(sw_grid_t *g, size_t c, const char *text);
/* Appends an empty body row; returns its index (cells set with sw_grid_set). */
size_t sw_grid_add_row(sw_grid_t *g);
/* Sets body cell (row, c) to a copy of text (out-of-range row or column: ignored). */
void sw_grid_set(sw_grid_t *g, size_t row, size_t c, const char *text);
/* Renders with a title line (may be NULL).  Text: aligned, first column left, others right. */
void sw_grid_render(const sw_grid_t *g, const char *title, sw_report_format fmt, sw_buf_t *out);
/* Frees every cell and zeroes g. */
void sw_grid_free(sw_grid_t *g);

/* Distinct display values of one config key over a set, sorted (numerically when all are numbers). */
typedef struct sw_axis {
  char   *key;
  char  **values;
  size_t  n;
  int     numeric;
} sw_axis_t;

/* All config keys of the set with their values (keys sorted).  Free with sw_axes_free. */
sw_rc sw_axes_collect(const sw_rset_t *set, sw_axis_t **axes, size_t *n, sw_err_t *err);
void  sw_axes_free(sw_axis_t *axes, size_t n);
/* Index of text in the axis' values, or (size_t)-1. */
size_t sw_axis_index(const sw_axis_t *a, const char *text);

/* One displayed value of a trial: a metric or a sample series, with its uncertainty. */
typedef struct sw_cell {
  int    has;     /* 0: the trial has no such metric/series */
  double value;
  double se;      /* NaN unless a standard error is known */
  double lo, hi;  /* NaN unless an interval is known */
} sw_cell_t;

/* Resolves metric for t (see sw_report_tables for the rules). */
void sw_cell_of(const sw_rtrial_t *t, const char *metric, double confidence, sw_cell_t *c);
/* Unit of a metric over the set ("s" for series), or NULL. */
const char *sw_metric_unit(const sw_rset_t *set, const char *metric);

/* 1 when key is a config key that sets how sparse a trial is (sparsity, tau, target, k, top_k, cett, threshold):
 * it moves a point along one curve instead of making a new one.  0 for NULL. */
int sw_report_is_sparsity_knob(const char *key);

#endif
