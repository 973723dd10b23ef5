/* sw_report_table: projections of a run into paper tables (benchstat's -row/-col model: rows and columns
 * are config axes, every other varying axis splits the run into separate tables), cells with their
 * uncertainty, relative-to-dense blocks, a per-trial view with validity stamps, and the Pareto view;
 * rendered as aligned text, Markdown, CSV or LaTeX by one string-grid renderer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_names.h"
#include "results/sw_report.h"
#include "results/sw_report_int.h"

/* ------------------------------------------------------------------ string grid */

void sw_grid_init(sw_grid_t *g, size_t ncols) {
  memset(g, 0, sizeof *g);
  g->ncols = ncols;
  g->cells = calloc(ncols ? ncols : 1, sizeof *g->cells);
  g->cap_rows = 1;
  if (!g->cells) g->oom = 1;
}

static void grid_put(sw_grid_t *g, size_t row, size_t c, const char *text) {
  if (g->oom || c >= g->ncols || row > g->nrows) return;
  char **slot = &g->cells[row * g->ncols + c];
  free(*slot);
  *slot = sw_report_strdup(text ? text : "");
  if (!*slot) g->oom = 1;
}

void sw_grid_header(sw_grid_t *g, size_t c, const char *text) { grid_put(g, 0, c, text); }
void sw_grid_set(sw_grid_t *g, size_t row, size_t c, const char *text) { grid_put(g, row + 1, c, text); }

size_t sw_grid_add_row(sw_grid_t *g) {
  if (g->oom) return 0;
  if (g->nrows + 2 > g->cap_rows) {
    size_t nc = g->cap_rows * 2 + 2;
    char **p = realloc(g->cells, nc * g->ncols * sizeof *p);
    if (!p) {
      g->oom = 1;
      return 0;
    }
    memset(p + g->cap_rows * g->ncols, 0, (nc - g->cap_rows) * g->ncols * sizeof *p);
    g->cells = p;
    g->cap_rows = nc;
  }
  return g->nrows++;
}

void sw_grid_free(sw_grid_t *g) {
  if (g->cells)
    for (size_t i = 0; i < (g->nrows + 1) * g->ncols; i++) free(g->cells[i]);
  free(g->cells);
  memset(g, 0, sizeof *g);
}

static const char *grid_cell(const sw_grid_t *g, size_t row, size_t c) {
  const char *s = g->cells[row * g->ncols + c];
  return s ? s : "";
}

/* Display width in characters (UTF-8 continuation bytes do not count: "±" is one column). */
static size_t text_width(const char *s) {
  size_t w = 0;
  for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

static void pad(sw_buf_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) sw_buf_puts(out, " ");
}

static void render_text(const sw_grid_t *g, sw_buf_t *out) {
  size_t *w = calloc(g->ncols, sizeof *w);
  if (!w) {
    out->oom = 1;
    return;
  }
  for (size_t r = 0; r <= g->nrows; r++)
    for (size_t c = 0; c < g->ncols; c++) {
      size_t tw = text_width(grid_cell(g, r, c));
      if (tw > w[c]) w[c] = tw;
    }
  for (size_t r = 0; r <= g->nrows; r++) {
    for (size_t c = 0; c < g->ncols; c++) {
      const char *s = grid_cell(g, r, c);
      size_t gap = w[c] - text_width(s);
      if (c) sw_buf_puts(out, "  ");
      if (c == 0) {
        sw_buf_puts(out, s);
        if (g->ncols > 1) pad(out, gap);
      } else {
        pad(out, gap);
        sw_buf_puts(out, s);
      }
    }
    sw_buf_puts(out, "\n");
    if (r == 0) {
      for (size_t c = 0; c < g->ncols; c++) {
        if (c) sw_buf_puts(out, "  ");
        for (size_t k = 0; k < w[c]; k++) sw_buf_puts(out, "-");
      }
      sw_buf_puts(out, "\n");
    }
  }
  free(w);
}

static void render_md(const sw_grid_t *g, sw_buf_t *out) {
  for (size_t r = 0; r <= g->nrows; r++) {
    sw_buf_puts(out, "|");
    for (size_t c = 0; c < g->ncols; c++) {
      sw_buf_puts(out, " ");
      for (const char *s = grid_cell(g, r, c); *s; s++) sw_buf_puts(out, *s == '|' ? "\\|" : (char[2]){*s, 0});
      sw_buf_puts(out, " |");
    }
    sw_buf_puts(out, "\n");
    if (r == 0) {
      sw_buf_puts(out, "|");
      for (size_t c = 0; c < g->ncols; c++) sw_buf_puts(out, c ? "---:|" : "---|");
      sw_buf_puts(out, "\n");
    }
  }
}

/* RFC 4180: quote fields containing a comma, quote, CR or LF; double inner quotes. */
static void csv_field(sw_buf_t *out, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    sw_buf_puts(out, s);
    return;
  }
  sw_buf_puts(out, "\"");
  for (; *s; s++) sw_buf_puts(out, *s == '"' ? "\"\"" : (char[2]){*s, 0});
  sw_buf_puts(out, "\"");
}

static void render_csv(const sw_grid_t *g, sw_buf_t *out, int with_header) {
  for (size_t r = with_header ? 0 : 1; r <= g->nrows; r++) {
    for (size_t c = 0; c < g->ncols; c++) {
      if (c) sw_buf_puts(out, ",");
      csv_field(out, grid_cell(g, r, c));
    }
    sw_buf_puts(out, "\n");
  }
}

static void latex_text(sw_buf_t *out, const char *s) {
  for (; *s; s++) {
    if (strncmp(s, "±", strlen("±")) == 0) {
      sw_buf_puts(out, "$\\pm$");
      s += strlen("±") - 1;
    } else if (strchr("&%$#_{}", *s)) {
      sw_buf_printf(out, "\\%c", *s);
    } else if (*s == '~' || *s == '^' || *s == '\\') {
      sw_buf_puts(out, *s == '\\' ? "\\textbackslash{}" : *s == '~' ? "\\textasciitilde{}" : "\\textasciicircum{}");
    } else {
      sw_buf_append(out, s, 1);
    }
  }
}

static void render_latex(const sw_grid_t *g, sw_buf_t *out) {
  sw_buf_puts(out, "\\begin{tabular}{l");
  for (size_t c = 1; c < g->ncols; c++) sw_buf_puts(out, "r");
  sw_buf_puts(out, "}\n\\toprule\n");
  for (size_t r = 0; r <= g->nrows; r++) {
    for (size_t c = 0; c < g->ncols; c++) {
      if (c) sw_buf_puts(out, " & ");
      const char *s = grid_cell(g, r, c);
      latex_text(out, strcmp(s, "-") == 0 ? "--" : s);
    }
    sw_buf_puts(out, " \\\\\n");
    if (r == 0) sw_buf_puts(out, "\\midrule\n");
  }
  sw_buf_puts(out, "\\bottomrule\n\\end{tabular}\n");
}

void sw_grid_render(const sw_grid_t *g, const char *title, sw_report_format fmt, sw_buf_t *out) {
  if (g->oom) {
    out->oom = 1;
    return;
  }
  if (title && fmt == SW_FMT_TEXT) sw_buf_printf(out, "%s\n", title);
  if (title && fmt == SW_FMT_MD) sw_buf_printf(out, "**%s**\n\n", title);
  if (title && fmt == SW_FMT_LATEX) {
    sw_buf_puts(out, "% ");
    sw_buf_puts(out, title);
    sw_buf_puts(out, "\n");
  }
  switch (fmt) {
  case SW_FMT_TEXT: render_text(g, out); break;
  case SW_FMT_MD: render_md(g, out); break;
  case SW_FMT_CSV: render_csv(g, out, 1); break;
  case SW_FMT_LATEX: render_latex(g, out); break;
  }
}

/* ------------------------------------------------------------------ axes */

static int is_number(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return *s && *end == '\0';
}

static int cmp_values(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  double u, v;
  if (strcmp(x, "-") == 0 || strcmp(y, "-") == 0) return (strcmp(y, "-") == 0) - (strcmp(x, "-") == 0); /* absent first */
  int nx = is_number(x, &u), ny = is_number(y, &v);
  if (nx && ny) return (u > v) - (u < v);
  if (nx != ny) return nx ? -1 : 1; /* numbers first, then text */
  return strcmp(x, y);
}

static void axis_sort(sw_axis_t *a) {
  qsort(a->values, a->n, sizeof *a->values, cmp_values);
  a->numeric = 1;
  for (size_t i = 0; i < a->n; i++) { /* "-" (key not set by some trials) does not make an axis textual */
    double v;
    if (strcmp(a->values[i], "-") != 0 && !is_number(a->values[i], &v)) a->numeric = 0;
  }
}

size_t sw_axis_index(const sw_axis_t *a, const char *text) {
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->values[i], text) == 0) return i;
  return (size_t)-1;
}

void sw_axes_free(sw_axis_t *axes, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(axes[i].key);
    for (size_t k = 0; k < axes[i].n; k++) free(axes[i].values[k]);
    free(axes[i].values);
  }
  free(axes);
}

static int axis_add_value(sw_axis_t *a, const char *text) {
  if (sw_axis_index(a, text) != (size_t)-1) return 1;
  char **p = realloc(a->values, (a->n + 1) * sizeof *p);
  if (!p) return 0;
  a->values = p;
  a->values[a->n] = sw_report_strdup(text);
  return a->values[a->n++] != NULL;
}

static int cmp_axis_key(const void *a, const void *b) {
  return strcmp(((const sw_axis_t *)a)->key, ((const sw_axis_t *)b)->key);
}

sw_rc sw_axes_collect(const sw_rset_t *set, sw_axis_t **axes, size_t *n, sw_err_t *err) {
  *axes = NULL;
  *n = 0;
  sw_axis_t *ax = NULL;
  size_t count = 0;
  int ok = 1;
  for (size_t i = 0; ok && i < set->n; i++) { /* keys */
    const sw_json_t *cfg = set->trials[i].config;
    for (size_t k = 0; ok && k < cfg->count; k++) {
      size_t j = 0;
      while (j < count && strcmp(ax[j].key, cfg->keys[k]) != 0) j++;
      if (j < count) continue;
      sw_axis_t *p = realloc(ax, (count + 1) * sizeof *p);
      if (!p) ok = 0;
      else {
        ax = p;
        memset(&ax[count], 0, sizeof ax[count]);
        ax[count].key = sw_report_strdup(cfg->keys[k]);
        ok = ax[count++].key != NULL;
      }
    }
  }
  char text[SW_CONFIG_TEXT_CAP];
  for (size_t j = 0; ok && j < count; j++) { /* values */
    for (size_t i = 0; ok && i < set->n; i++) {
      sw_rtrial_config_text(&set->trials[i], ax[j].key, text, sizeof text);
      ok = axis_add_value(&ax[j], text);
    }
    axis_sort(&ax[j]);
  }
  if (!ok) {
    sw_axes_free(ax, count);
    return sw_err_set(err, SW_ERR_NOMEM, "collecting axes: out of memory");
  }
  if (count) qsort(ax, count, sizeof *ax, cmp_axis_key);
  *axes = ax;
  *n = count;
  return SW_OK;
}

static const sw_axis_t *axis_find(const sw_axis_t *axes, size_t n, const char *key) {
  for (size_t i = 0; key && i < n; i++)
    if (strcmp(axes[i].key, key) == 0) return &axes[i];
  return NULL;
}

/* ------------------------------------------------------------------ cells */

/* A speedup measured as the median of per-pair ratios dense_i / sparse_i (interleaved repetitions, as the
 * trial runners do) gets the order-statistic interval of that same median, from the stored samples.
 * "<p>speedup" pairs the series "<p>dense" and "<p>sparse". */
static void paired_ratio_ci(const sw_rtrial_t *t, const char *metric, double confidence, sw_cell_t *c) {
  size_t n = strlen(metric);
  if (n < 7 || n > 100 || strcmp(metric + n - 7, "speedup") != 0 || !isnan(c->se)) return;
  char sn[128]; /* "speedup" -> dense/sparse, "decode_speedup" -> decode_dense/decode_sparse */
  snprintf(sn, sizeof sn, "%.*ssparse", (int)(n - 7), metric);
  const sw_rseries_t *sparse = sw_rtrial_series(t, sn);
  double *r = sparse ? sw_series_ratios(sw_rtrial_dense_partner(t, sn), sparse) : NULL;
  sw_estimate_t e;
  if (r && sw_median_ci(r, sparse->n, confidence, &e, NULL) == SW_OK) {
    c->lo = e.lo;
    c->hi = e.hi;
  }
  free(r);
}

void sw_cell_of(const sw_rtrial_t *t, const char *metric, double confidence, sw_cell_t *c) {
  c->has = 0;
  c->value = c->se = c->lo = c->hi = NAN;
  const char *series = strncmp(metric, "latency:", 8) == 0 ? metric + 8 : NULL;
  const sw_rmetric_t *m = series ? NULL : sw_rtrial_metric(t, metric);
  if (!series && !m) series = metric;
  if (m) {
    c->has = !isnan(m->value);
    c->value = m->value;
    const sw_rmetric_t *se = sw_metric_se(t, metric);
    if (se) c->se = se->value;
    paired_ratio_ci(t, metric, confidence, c);
    return;
  }
  const sw_rseries_t *s = sw_rtrial_series(t, series);
  sw_estimate_t e;
  if (s && sw_median_ci(s->v, s->n, confidence, &e, NULL) == SW_OK) {
    c->has = 1;
    c->value = e.value;
    c->lo = e.lo;
    c->hi = e.hi;
  }
}

const char *sw_metric_unit(const sw_rset_t *set, const char *metric) {
  for (size_t i = 0; i < set->n; i++) {
    const sw_rmetric_t *m = sw_rtrial_metric(&set->trials[i], metric);
    if (m) return m->unit;
    if (strncmp(metric, "latency:", 8) == 0 || sw_rtrial_series(&set->trials[i], metric)) return "s";
  }
  return NULL;
}

static void fmt4(double v, char *dst, size_t cap) { snprintf(dst, cap, "%.4g", v); }

/* Cell text: "v", "v ± se", "v [lo, hi]"; " !" when the trial is INVALID; "-" when absent. */
static void cell_text(const sw_cell_t *c, int invalid, sw_report_format fmt, char *dst, size_t cap) {
  char v[32], a[32], b[32];
  if (!c->has) {
    snprintf(dst, cap, "%s", fmt == SW_FMT_CSV ? "" : "-");
    return;
  }
  if (fmt == SW_FMT_CSV) {
    snprintf(dst, cap, "%.6g", c->value);
    return;
  }
  fmt4(c->value, v, sizeof v);
  if (!isnan(c->se)) {
    fmt4(c->se, a, sizeof a);
    snprintf(dst, cap, "%s ± %s%s", v, a, invalid ? " !" : "");
  } else if (!isnan(c->lo) && !isnan(c->hi)) {
    fmt4(c->lo, a, sizeof a);
    fmt4(c->hi, b, sizeof b);
    snprintf(dst, cap, "%s [%s, %s]%s", v, a, b, invalid ? " !" : "");
  } else {
    snprintf(dst, cap, "%s%s", v, invalid ? " !" : "");
  }
}

/* ------------------------------------------------------------------ choosing axes and metrics */

static const char *const row_prefs[] = {"method", "policy", "kernel", "variant", "workload"};
static const char *const col_prefs[] = {"sparsity", "tau", "target", "k", "top_k", "cett", "batch"};
/* metric names as declared in common/sw_metrics.h */
static const char *const metric_prefs[] = {"ppl", "kl", "top1_agree", "ffn_flops_saved", "decode_speedup", "speedup",
                                           "rel_error"};

static const char *pick_axis(const sw_axis_t *ax, size_t n, const char *const *prefs, size_t np,
                             const char *avoid, int want_numeric) {
  for (size_t p = 0; p < np; p++) {
    const sw_axis_t *a = axis_find(ax, n, prefs[p]);
    if (a && a->n > 1 && (!avoid || strcmp(a->key, avoid) != 0)) return a->key;
  }
  for (int pass = 0; pass < 2; pass++) { /* the widest axis of the wanted kind, then of any kind */
    const sw_axis_t *best = NULL;
    for (size_t i = 0; i < n; i++)
      if (ax[i].n > 1 && (!avoid || strcmp(ax[i].key, avoid) != 0) && (pass || ax[i].numeric == want_numeric) &&
          (!best || ax[i].n > best->n))
        best = &ax[i];
    if (best) return best->key;
  }
  return NULL;
}

static int set_has_metric(const sw_rset_t *set, const char *name) {
  for (size_t i = 0; i < set->n; i++)
    if (sw_rtrial_metric(&set->trials[i], name)) return 1;
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The held-out quality of MoE routers and neuron predictors, shown beside quality whenever a set has it. */
static const char *const selection_metrics[] = {"router_recall",    "router_precision",    "router_density",
                                                "predictor_recall", "predictor_precision", "predictor_density"};

/* Auto metrics: the preferred names present (at most 5) followed by the router/predictor recall, precision and
 * density present; else every metric name that is not a "_se" companion (at most 4); else the sample series (as
 * latencies).  Names are borrowed from the set. */
static size_t pick_metrics(const sw_rset_t *set, const char **out) {
  size_t n = 0;
  for (size_t p = 0; p < sizeof metric_prefs / sizeof *metric_prefs && n < 5; p++)
    if (set_has_metric(set, metric_prefs[p])) out[n++] = metric_prefs[p];
  for (size_t p = 0; n > 0 && p < sizeof selection_metrics / sizeof *selection_metrics; p++)
    if (set_has_metric(set, selection_metrics[p])) out[n++] = selection_metrics[p];
  for (size_t i = 0; n == 0 && i < set->n; i++) /* first trial with metrics */
    for (size_t k = 0; k < set->trials[i].n_metrics && n < 4; k++) {
      const char *name = set->trials[i].metrics[k].name;
      size_t len = strlen(name);
      if (len < 3 || strcmp(name + len - 3, "_se") != 0) out[n++] = name;
    }
  for (size_t i = 0; n == 0 && i < set->n; i++)
    for (size_t k = 0; k < set->trials[i].n_series && n < 4; k++) out[n++] = set->trials[i].series[k].name;
  if (n > 1 && !set_has_metric(set, out[0])) qsort(out, n, sizeof *out, cmp_str);
  return n;
}

/* ------------------------------------------------------------------ the tables */

void sw_report_opts_default(sw_report_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->format = SW_FMT_TEXT;
  o->confidence = 0.95;
  sw_validity_opts_default(&o->validity);
}

sw_rc sw_report_format_parse(const char *s, sw_report_format *out, sw_err_t *err) {
  static const char *const names[] = {"text", "md", "csv", "latex"}; /* indexed by sw_report_format */
  int i = sw_names_find(names, sizeof names / sizeof names[0], s);
  if (i >= 0) {
    *out = (sw_report_format)i;
    return SW_OK;
  }
  if (s && strcmp(s, "markdown") == 0) {
    *out = SW_FMT_MD;
    return SW_OK;
  }
  return sw_err_set(err, SW_ERR_INVALID, "unknown format '%s' (expected text, md, csv or latex)", s ? s : "(null)");
}

/* Everything one projection needs. */
typedef struct proj {
  sw_rset_t              *set;
  const sw_report_opts_t *o;
  sw_axis_t              *axes;
  size_t                  n_axes;
  const sw_axis_t        *row;
  const sw_axis_t        *cols[8];       /* column axes: none, one, or several sparsity knobs merged */
  size_t                  n_cols;
  char                  **colv;          /* distinct column texts in display order (n_colv) */
  size_t                  n_colv;
  const sw_axis_t        *attrs[16];     /* varying axes fixed by the row value: shown in the row label */
  size_t                  n_attrs;
  const sw_axis_t        *split[32];     /* other varying axes: one table per combination */
  size_t                  n_split;
  size_t                 *t_row, *t_col, *t_grp; /* per trial: row value, column and split group indexes */
  const sw_rtrial_t     **map;           /* current group's trial at [r * ncol + c], NULL when none */
  const char             *metrics[SW_REPORT_MAX_METRICS];
  size_t                  n_metrics;
} proj_t;

/* Text "k1=v1, k2=v2" of the split axes of trial t (empty when none). */
static void split_key(const proj_t *p, const sw_rtrial_t *t, char *dst, size_t cap) {
  dst[0] = '\0';
  char v[SW_CONFIG_TEXT_CAP];
  for (size_t i = 0; i < p->n_split; i++) {
    sw_rtrial_config_text(t, p->split[i]->key, v, sizeof v);
    sw_report_appendf(dst, cap, "%s%s=%s", i ? ", " : "", p->split[i]->key, v);
  }
}

/* Column text of a trial: the single column axis' value, or "k=v ..." of the merged knobs it sets ("-": none). */
static void col_text(const proj_t *p, const sw_rtrial_t *t, char *dst, size_t cap) {
  char v[SW_CONFIG_TEXT_CAP];
  dst[0] = '\0';
  if (p->n_cols == 1) {
    sw_rtrial_config_text(t, p->cols[0]->key, dst, cap);
    return;
  }
  for (size_t i = 0; i < p->n_cols; i++) {
    sw_rtrial_config_text(t, p->cols[i]->key, v, sizeof v);
    if (strcmp(v, "-") != 0) sw_report_appendf(dst, cap, "%s%s=%s", dst[0] ? " " : "", p->cols[i]->key, v);
  }
  if (!dst[0]) snprintf(dst, cap, "-");
}

/* Display order of column texts: "-" first; merged knobs by knob, then numerically. */
static int col_cmp(const proj_t *p, const char *a, const char *b) {
  if (p->n_cols == 1) {
    size_t ia = sw_axis_index(p->cols[0], a), ib = sw_axis_index(p->cols[0], b);
    return (ia > ib) - (ia < ib);
  }
  if (strcmp(a, "-") == 0 || strcmp(b, "-") == 0) return (strcmp(b, "-") == 0) - (strcmp(a, "-") == 0);
  size_t ka = p->n_cols, kb = p->n_cols;
  for (size_t i = 0; i < p->n_cols; i++) {
    size_t n = strlen(p->cols[i]->key);
    if (ka == p->n_cols && strncmp(a, p->cols[i]->key, n) == 0 && a[n] == '=') ka = i;
    if (kb == p->n_cols && strncmp(b, p->cols[i]->key, n) == 0 && b[n] == '=') kb = i;
  }
  if (ka != kb) return ka < kb ? -1 : 1;
  const char *ea = strchr(a, '='), *eb = strchr(b, '=');
  double x = ea ? strtod(ea + 1, NULL) : 0, y = eb ? strtod(eb + 1, NULL) : 0;
  if (x != y) return x < y ? -1 : 1;
  return strcmp(a, b);
}

/* Collects the distinct column texts of the set into p->colv, ordered by col_cmp. */
static int build_columns(proj_t *p) {
  char text[SW_CONFIG_TEXT_CAP];
  p->colv = calloc(p->set->n ? p->set->n : 1, sizeof *p->colv);
  if (!p->colv) return 0;
  for (size_t i = 0; p->n_cols && i < p->set->n; i++) {
    col_text(p, &p->set->trials[i], text, sizeof text);
    size_t j = 0;
    while (j < p->n_colv && strcmp(p->colv[j], text) != 0) j++;
    if (j < p->n_colv) continue;
    if (!(p->colv[p->n_colv] = sw_report_strdup(text))) return 0;
    for (j = p->n_colv++; j > 0 && col_cmp(p, p->colv[j - 1], p->colv[j]) > 0; j--) {
      char *t = p->colv[j];
      p->colv[j] = p->colv[j - 1];
      p->colv[j - 1] = t;
    }
  }
  return 1;
}

/* The trial at (row value r, column c) of the current split group (set_group); NULL when none. */
static const sw_rtrial_t *trial_at(const proj_t *p, size_t r, size_t c) {
  return p->map[r * (p->n_cols ? p->n_colv : 1) + c];
}

/* Row, column and group index of every trial, computed once (groups: the sorted split keys). */
static int index_trials(proj_t *p, char **groups, size_t ng) {
  size_t n = p->set->n;
  char text[SW_CONFIG_TEXT_CAP];
  p->t_row = calloc(n ? n : 1, sizeof *p->t_row);
  p->t_col = calloc(n ? n : 1, sizeof *p->t_col);
  p->t_grp = calloc(n ? n : 1, sizeof *p->t_grp);
  p->map = calloc(p->row->n * (p->n_cols ? p->n_colv : 1) + 1, sizeof *p->map);
  if (!p->t_row || !p->t_col || !p->t_grp || !p->map) return 0;
  for (size_t i = 0; i < n; i++) {
    const sw_rtrial_t *t = &p->set->trials[i];
    sw_rtrial_config_text(t, p->row->key, text, sizeof text);
    p->t_row[i] = sw_axis_index(p->row, text);
    p->t_col[i] = 0;
    if (p->n_cols) {
      col_text(p, t, text, sizeof text);
      while (p->t_col[i] < p->n_colv && strcmp(p->colv[p->t_col[i]], text) != 0) p->t_col[i]++;
    }
    split_key(p, t, text, sizeof text);
    for (p->t_grp[i] = 0; p->t_grp[i] < ng && strcmp(groups[p->t_grp[i]], text) != 0;) p->t_grp[i]++;
  }
  return 1;
}

/* Makes group g current: fills the cell map with its trials (the first trial of a cell wins). */
static void set_group(proj_t *p, size_t g) {
  size_t ncol = p->n_cols ? p->n_colv : 1;
  memset(p->map, 0, p->row->n * ncol * sizeof *p->map);
  for (size_t i = 0; i < p->set->n; i++) {
    const sw_rtrial_t **slot = &p->map[p->t_row[i] * ncol + p->t_col[i]];
    if (p->t_grp[i] == g && p->t_row[i] < p->row->n && p->t_col[i] < ncol && !*slot) *slot = &p->set->trials[i];
  }
}

static void proj_free(proj_t *p) {
  for (size_t i = 0; i < p->n_colv; i++) free(p->colv[i]);
  free(p->colv);
  free(p->t_row);
  free(p->t_col);
  free(p->t_grp);
  free(p->map);
  sw_axes_free(p->axes, p->n_axes);
}

/* 1 when column text c means "no sparsity": a single numeric 0, or one merged knob at 0. */
static int zero_column(const char *c) {
  const char *eq = strchr(c, '=');
  double v;
  return is_number(eq ? eq + 1 : c, &v) && v == 0;
}

/* Dense reference of cell (r, c): the same row's zero-sparsity column, else the row named "dense" in the
 * same column, else that row's only cell. */
static const sw_rtrial_t *dense_ref(const proj_t *p, size_t r, size_t c) {
  for (size_t j = 0; j < p->n_colv; j++)
    if (zero_column(p->colv[j])) return trial_at(p, r, j);
  size_t d = sw_axis_index(p->row, "dense");
  if (d == (size_t)-1) return NULL;
  const sw_rtrial_t *t = trial_at(p, d, c), *only = NULL;
  for (size_t j = 0; !t && j < p->n_colv; j++) {
    const sw_rtrial_t *u = trial_at(p, d, j);
    if (u && only) return NULL;
    if (u) only = u;
  }
  return t ? t : only;
}

/* Row label: the row value, then the attributes it fixes ("moe_topk experts=48"). */
static void row_label(const proj_t *p, size_t r, char *dst, size_t cap) {
  char v[SW_CONFIG_TEXT_CAP];
  snprintf(dst, cap, "%s", p->row->values[r]);
  const sw_rtrial_t *t = NULL;
  for (size_t c = 0; !t && c < (p->n_cols ? p->n_colv : 1); c++) t = trial_at(p, r, c);
  for (size_t i = 0; t && i < p->n_attrs; i++) {
    sw_rtrial_config_text(t, p->attrs[i]->key, v, sizeof v);
    if (strcmp(v, "-") != 0) sw_report_appendf(dst, cap, " %s=%s", p->attrs[i]->key, v);
  }
}

static void block_title(const proj_t *p, const char *metric, const char *key, int relative, char *dst, size_t cap) {
  const char *unit = sw_metric_unit(p->set, metric);
  snprintf(dst, cap, "%s%s%s%s%s%s%s", metric, relative ? " relative to dense" : "",
           unit && !relative ? " [" : "", unit && !relative ? unit : "", unit && !relative ? "]" : "",
           *key ? " -- " : "", key);
}

/* Fills cells[r * ncol + c] (and trials) for one metric of the current group; relative divides by the dense cell. */
static void block_cells(const proj_t *p, const char *metric, int relative, size_t ncol,
                        sw_cell_t *cells, const sw_rtrial_t **trials) {
  for (size_t r = 0; r < p->row->n; r++)
    for (size_t c = 0; c < ncol; c++) {
      sw_cell_t *cell = &cells[r * ncol + c], ref;
      const sw_rtrial_t *t = trials[r * ncol + c] = trial_at(p, r, c);
      cell->has = 0;
      if (!t) continue;
      sw_cell_of(t, metric, p->o->confidence, cell);
      if (!relative) continue;
      const sw_rtrial_t *d = dense_ref(p, r, c);
      ref.has = 0;
      if (d) sw_cell_of(d, metric, p->o->confidence, &ref);
      cell->has = cell->has && ref.has && ref.value != 0;
      cell->value = cell->has ? cell->value / ref.value : NAN;
      cell->se = cell->lo = cell->hi = NAN;
    }
}

/* Renders the rows and columns of a block that have at least one value. */
static void block_grid(const proj_t *p, const char *metric, size_t ncol, const sw_cell_t *cells,
                       const sw_rtrial_t **trials, sw_grid_t *g) {
  size_t nrow = p->row->n, used = 0, *col_of = calloc(ncol, sizeof *col_of);
  char text[600];
  if (!col_of) {
    g->oom = 1;
    return;
  }
  for (size_t c = 0; c < ncol; c++) {
    int any = 0;
    for (size_t r = 0; r < nrow; r++) any |= cells[r * ncol + c].has;
    col_of[c] = any ? ++used : 0; /* 0: column dropped, else its grid column */
  }
  sw_grid_init(g, used + 1);
  sw_grid_header(g, 0, p->row->key);
  for (size_t c = 0; c < ncol; c++) {
    if (!col_of[c]) continue;
    if (p->n_cols == 1) snprintf(text, sizeof text, "%s=%s", p->cols[0]->key, p->colv[c]);
    else snprintf(text, sizeof text, "%s", p->n_cols ? p->colv[c] : metric);
    sw_grid_header(g, col_of[c], text);
  }
  for (size_t r = 0; r < nrow; r++) {
    int any = 0;
    for (size_t c = 0; c < ncol; c++) any |= cells[r * ncol + c].has;
    if (!any) continue;
    size_t row = sw_grid_add_row(g);
    row_label(p, r, text, sizeof text);
    sw_grid_set(g, row, 0, text);
    for (size_t c = 0; c < ncol; c++) {
      if (!col_of[c]) continue;
      const sw_rtrial_t *t = trials[r * ncol + c];
      cell_text(&cells[r * ncol + c], t && !t->valid, p->o->format, text, sizeof text);
      sw_grid_set(g, row, col_of[c], text);
    }
  }
  free(col_of);
}

/* One metric block of one split group; returns 0 when no cell has the metric. */
static int metric_block(const proj_t *p, const char *metric, const char *key, int relative, sw_buf_t *out) {
  size_t ncol = p->n_cols ? p->n_colv : 1, nrow = p->row->n, ncell = nrow * ncol;
  sw_cell_t *cells = calloc(ncell > 0 ? ncell : 1, sizeof *cells);
  const sw_rtrial_t **trials = calloc(ncell > 0 ? ncell : 1, sizeof *trials);
  if (!cells || !trials) {
    free(cells);
    free(trials);
    out->oom = 1;
    return 0;
  }
  block_cells(p, metric, relative, ncol, cells, trials);
  int any = 0;
  for (size_t i = 0; i < nrow * ncol; i++) any |= cells[i].has;
  if (any) {
    sw_grid_t g;
    char title[640];
    block_grid(p, metric, ncol, cells, trials, &g);
    block_title(p, metric, key, relative, title, sizeof title);
    if (p->o->format == SW_FMT_CSV) sw_buf_printf(out, "# %s\n", title);
    sw_grid_render(&g, p->o->format == SW_FMT_CSV ? NULL : title, p->o->format, out);
    sw_buf_puts(out, "\n");
    sw_grid_free(&g);
  }
  free(cells);
  free(trials);
  return any;
}

/* Orders two trials by their split axes' value order (numeric axes numerically). */
static int split_cmp(const proj_t *p, const sw_rtrial_t *a, const sw_rtrial_t *b) {
  char va[SW_CONFIG_TEXT_CAP], vb[SW_CONFIG_TEXT_CAP];
  for (size_t i = 0; i < p->n_split; i++) {
    sw_rtrial_config_text(a, p->split[i]->key, va, sizeof va);
    sw_rtrial_config_text(b, p->split[i]->key, vb, sizeof vb);
    size_t ia = sw_axis_index(p->split[i], va), ib = sw_axis_index(p->split[i], vb);
    if (ia != ib) return ia < ib ? -1 : 1;
  }
  return 0;
}

/* Distinct split keys, in the order of the split axes' values. */
static char **split_groups(const proj_t *p, size_t *n) {
  char **keys = calloc(p->set->n ? p->set->n : 1, sizeof *keys);
  const sw_rtrial_t **rep = calloc(p->set->n ? p->set->n : 1, sizeof *rep);
  char k[SW_CONFIG_TEXT_CAP];
  *n = 0;
  for (size_t i = 0; keys && rep && i < p->set->n; i++) {
    const sw_rtrial_t *t = &p->set->trials[i];
    split_key(p, t, k, sizeof k);
    size_t j = 0;
    while (j < *n && strcmp(keys[j], k) != 0) j++;
    if (j < *n || !(keys[*n] = sw_report_strdup(k))) continue;
    rep[(*n)++] = t;
  }
  for (size_t i = 1; rep && i < *n; i++) /* insertion sort: few groups */
    for (size_t j = i; j > 0 && split_cmp(p, rep[j - 1], rep[j]) > 0; j--) {
      char *tk = keys[j];
      const sw_rtrial_t *tr = rep[j];
      keys[j] = keys[j - 1];
      rep[j] = rep[j - 1];
      keys[j - 1] = tk;
      rep[j - 1] = tr;
    }
  free(rep);
  return keys;
}

/* In the order merged knob columns are shown. */
static const char *const knobs[] = {"sparsity", "tau", "target", "k", "top_k", "cett", "threshold"};

int sw_report_is_sparsity_knob(const char *key) { return sw_names_find(knobs, sizeof knobs / sizeof *knobs, key) >= 0; }

static sw_rc unknown_key(const proj_t *p, const char *key, sw_err_t *err) {
  sw_buf_t keys = SW_BUF_INIT;
  for (size_t i = 0; i < p->n_axes; i++) sw_buf_printf(&keys, "%s%s", i ? ", " : "", p->axes[i].key);
  sw_rc rc = sw_err_set(err, SW_ERR_INVALID, "no config key '%s' in run %lld (keys: %s)", key,
                        (long long)p->set->run.run_id, sw_buf_str(&keys));
  sw_buf_free(&keys);
  return rc;
}

/* Column axes: --cols (comma-separated), else the auto column key plus, when it is a sparsity knob, every
 * other varying knob (methods set different knobs: sparsity for top-k, tau for CETT, ...). */
static sw_rc choose_columns(proj_t *p, const char *ck, sw_err_t *err) {
  const char *given = p->o->cols;
  if (given) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", given);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && p->n_cols < 8; tok = strtok_r(NULL, ",", &save)) {
      const sw_axis_t *a = axis_find(p->axes, p->n_axes, tok);
      if (!a) return unknown_key(p, tok, err);
      p->cols[p->n_cols++] = a;
    }
    return SW_OK;
  }
  if (!ck) return SW_OK;
  p->cols[p->n_cols++] = axis_find(p->axes, p->n_axes, ck);
  for (size_t k = 0; sw_report_is_sparsity_knob(ck) && k < sizeof knobs / sizeof *knobs && p->n_cols < 8; k++) {
    const sw_axis_t *a = axis_find(p->axes, p->n_axes, knobs[k]);
    if (a && a->n > 1 && a != p->cols[0] && a != p->row) p->cols[p->n_cols++] = a;
  }
  return SW_OK;
}

/* 1 when axis a takes one value for each value of the row axis (e.g. "experts" only set for MoE methods). */
static int fixed_by_row(const proj_t *p, const sw_axis_t *a) {
  size_t *first = malloc(p->row->n * sizeof *first); /* per row value: the axis value index seen first */
  char rv[SW_CONFIG_TEXT_CAP], av[SW_CONFIG_TEXT_CAP];
  int fixed = first != NULL;
  for (size_t r = 0; fixed && r < p->row->n; r++) first[r] = (size_t)-1;
  for (size_t i = 0; fixed && i < p->set->n; i++) {
    sw_rtrial_config_text(&p->set->trials[i], p->row->key, rv, sizeof rv);
    sw_rtrial_config_text(&p->set->trials[i], a->key, av, sizeof av);
    size_t r = sw_axis_index(p->row, rv), v = sw_axis_index(a, av);
    if (r == (size_t)-1) continue;
    if (first[r] == (size_t)-1) first[r] = v;
    else fixed = first[r] == v;
  }
  free(first);
  return fixed;
}

static int is_col(const proj_t *p, const sw_axis_t *a) {
  for (size_t i = 0; i < p->n_cols; i++)
    if (p->cols[i] == a) return 1;
  return 0;
}

static sw_rc choose_projection(proj_t *p, sw_buf_t *notes, sw_err_t *err) {
  const sw_report_opts_t *o = p->o;
  const char *rk = o->rows, *ck = NULL;
  if (!o->cols && !rk) ck = pick_axis(p->axes, p->n_axes, col_prefs, 7, NULL, 1);
  if (!rk) rk = pick_axis(p->axes, p->n_axes, row_prefs, 5, ck, 0);
  for (size_t i = 0; !rk && i < 5; i++) /* a constant "method" as the single row */
    if (axis_find(p->axes, p->n_axes, row_prefs[i]) && (!ck || strcmp(row_prefs[i], ck) != 0)) rk = row_prefs[i];
  if (!rk) {
    rk = ck ? ck : p->n_axes ? p->axes[0].key : NULL;
    ck = NULL;
  }
  if (!ck && !o->cols && o->rows) ck = pick_axis(p->axes, p->n_axes, col_prefs, 7, rk, 1);
  if (!rk) return sw_err_set(err, SW_ERR_INVALID, "run %lld has no trials with a config", (long long)p->set->run.run_id);
  p->row = axis_find(p->axes, p->n_axes, rk);
  if (!p->row) return unknown_key(p, rk, err);
  sw_rc rc = choose_columns(p, ck, err);
  if (rc != SW_OK) return rc;
  for (size_t i = 0; i < p->n_axes; i++) {
    const sw_axis_t *a = &p->axes[i];
    if (a->n < 2 || a == p->row || is_col(p, a)) continue;
    if (fixed_by_row(p, a) && p->n_attrs < 16) p->attrs[p->n_attrs++] = a;
    else if (p->n_split < 32) p->split[p->n_split++] = a;
  }
  if (!build_columns(p)) return sw_err_set(err, SW_ERR_NOMEM, "report: out of memory");
  if (notes) {
    sw_buf_printf(notes, "rows: %s; columns:", p->row->key);
    for (size_t i = 0; i < p->n_cols; i++) sw_buf_printf(notes, " %s", p->cols[i]->key);
    sw_buf_printf(notes, "%s; %zu axes split the tables\n", p->n_cols ? "" : " (none)", p->n_split);
  }
  p->n_metrics = o->n_metrics;
  for (size_t i = 0; i < o->n_metrics; i++) p->metrics[i] = o->metrics[i];
  if (!p->n_metrics) p->n_metrics = pick_metrics(p->set, p->metrics);
  return SW_OK;
}

static void run_header(const sw_rset_t *set, sw_report_format fmt, sw_buf_t *out) {
  size_t invalid = 0;
  for (size_t i = 0; i < set->n; i++) invalid += !set->trials[i].valid;
  const sw_rrun_t *r = &set->run;
  char commit[16];
  snprintf(commit, sizeof commit, "%.7s%s", r->git_commit ? r->git_commit : "unknown", r->git_dirty == 1 ? "+" : "");
  const char *lead = fmt == SW_FMT_LATEX ? "% " : fmt == SW_FMT_MD ? "_" : "";
  sw_buf_printf(out, "%srun %lld (%s, commit %s, machine %s): %zu trials, %zu INVALID%s\n\n", lead,
                (long long)r->run_id, r->spec_name ? r->spec_name : "unnamed", commit,
                r->fingerprint ? r->fingerprint : "unknown", set->n, invalid, fmt == SW_FMT_MD ? "_" : "");
}

static void invalid_list(const sw_rset_t *set, const proj_t *p, sw_report_format fmt, sw_buf_t *out) {
  int first = 1;
  char v[SW_CONFIG_TEXT_CAP];
  for (size_t i = 0; i < set->n; i++) {
    const sw_rtrial_t *t = &set->trials[i];
    if (t->valid) continue;
    if (first) sw_buf_puts(out, fmt == SW_FMT_LATEX ? "% INVALID (!):\n" : "INVALID (!):\n");
    first = 0;
    sw_buf_puts(out, fmt == SW_FMT_LATEX ? "%   " : fmt == SW_FMT_MD ? "- " : "  ");
    sw_buf_printf(out, "trial %lld", (long long)t->trial_id);
    const sw_axis_t *shown[64] = {p->row};
    size_t ns = 1;
    for (size_t k = 0; k < p->n_attrs; k++) shown[ns++] = p->attrs[k];
    for (size_t k = 0; k < p->n_cols; k++) shown[ns++] = p->cols[k];
    for (size_t k = 0; k < p->n_split; k++) shown[ns++] = p->split[k];
    for (size_t k = 0; k < ns; k++) {
      sw_rtrial_config_text(t, shown[k]->key, v, sizeof v);
      if (k == 0 || strcmp(v, "-") != 0 || (p->n_cols == 1 && shown[k] == p->cols[0]))
        sw_buf_printf(out, " %s=%s", shown[k]->key, v);
    }
    sw_buf_printf(out, ": %s\n", t->reasons);
  }
}

/* ------------------------------------------------------------------ native vs f32 */

#define NATIVE_NOTE_MAX 8 /* distinct native-vs-f32 results listed (one per model and evaluation span) */

static double metric_or_nan(const sw_rtrial_t *t, const char *name) {
  const sw_rmetric_t *m = sw_rtrial_metric(t, name);
  return m ? m->value : NAN;
}

/* One line per distinct native-vs-f32 dense comparison the trials recorded (weights: native): the quantised
 * model's own error, which the method columns (relative to the dense model on the same weights) do not show. */
static void native_note(const sw_rset_t *set, sw_report_format fmt, sw_buf_t *out) {
  double seen[NATIVE_NOTE_MAX][2];
  size_t n_seen = 0;
  const char *lead = fmt == SW_FMT_LATEX ? "% " : fmt == SW_FMT_MD ? "- " : "  ";
  for (size_t i = 0; i < set->n && n_seen < NATIVE_NOTE_MAX; i++) {
    const sw_rtrial_t *t = &set->trials[i];
    double f32 = metric_or_nan(t, "ppl_f32_dense"), nat = metric_or_nan(t, "ppl_native_dense");
    if (isnan(f32) || isnan(nat)) continue;
    size_t k = 0;
    while (k < n_seen && !(seen[k][0] == f32 && seen[k][1] == nat)) k++;
    if (k < n_seen) continue;
    seen[n_seen][0] = f32, seen[n_seen][1] = nat;
    if (n_seen++ == 0)
      sw_buf_puts(out, fmt == SW_FMT_LATEX ? "% weights native vs f32, dense model on the evaluation tokens:\n"
                                           : "weights native vs f32, dense model on the evaluation tokens:\n");
    sw_buf_printf(out, "%sperplexity %.4g ± %.3g native, %.4g ± %.3g f32; KL(f32 || native) %.3g nat/token; top-1 "
                  "agreement %.4g (trial %lld)\n", lead, nat, metric_or_nan(t, "ppl_native_dense_se"), f32,
                  metric_or_nan(t, "ppl_f32_dense_se"), metric_or_nan(t, "kl_native_dense"),
                  metric_or_nan(t, "top1_native_dense"), (long long)t->trial_id);
  }
  if (n_seen) sw_buf_puts(out, "\n");
}

/* The trials view's timing precision: the widest median half-width and the largest CV ("-" without series). */
static void precision_text(const sw_rtrial_t *t, char *dst, size_t cap) {
  if (isnan(t->worst_ci) && isnan(t->worst_cv)) snprintf(dst, cap, "-");
  else snprintf(dst, cap, "±%.1f%% CV %.3f", 100 * t->worst_ci, t->worst_cv);
}

static void trials_view(const proj_t *p, sw_buf_t *out) {
  size_t nax = 0;
  const sw_axis_t *shown[34];
  for (size_t i = 0; i < p->n_axes && nax < 32; i++)
    if (p->axes[i].n > 1) shown[nax++] = &p->axes[i];
  sw_grid_t g;
  size_t vcol = 1 + nax + p->n_metrics + 1;
  sw_grid_init(&g, vcol + 1);
  sw_grid_header(&g, 0, "trial");
  for (size_t k = 0; k < nax; k++) sw_grid_header(&g, 1 + k, shown[k]->key);
  for (size_t m = 0; m < p->n_metrics; m++) sw_grid_header(&g, 1 + nax + m, p->metrics[m]);
  sw_grid_header(&g, vcol - 1, "timing precision");
  sw_grid_header(&g, vcol, "validity");
  char text[600];
  for (size_t i = 0; i < p->set->n; i++) {
    const sw_rtrial_t *t = &p->set->trials[i];
    size_t r = sw_grid_add_row(&g);
    snprintf(text, sizeof text, "%lld", (long long)t->trial_id);
    sw_grid_set(&g, r, 0, text);
    for (size_t k = 0; k < nax; k++) {
      sw_rtrial_config_text(t, shown[k]->key, text, sizeof text);
      sw_grid_set(&g, r, 1 + k, text);
    }
    for (size_t m = 0; m < p->n_metrics; m++) {
      sw_cell_t c;
      sw_cell_of(t, p->metrics[m], p->o->confidence, &c);
      cell_text(&c, 0, p->o->format, text, sizeof text);
      sw_grid_set(&g, r, 1 + nax + m, text);
    }
    precision_text(t, text, sizeof text);
    sw_grid_set(&g, r, vcol - 1, text);
    snprintf(text, sizeof text, "%s%s%s", t->valid ? "VALID" : "INVALID", t->valid ? "" : ": ", t->reasons);
    sw_grid_set(&g, r, vcol, text);
  }
  sw_grid_render(&g, p->o->format == SW_FMT_CSV ? NULL : "trials", p->o->format, out);
  sw_grid_free(&g);
}

sw_rc sw_report_tables(sw_rset_t *set, const sw_report_opts_t *o, sw_buf_t *out, sw_buf_t *notes, sw_err_t *err) {
  for (size_t i = 0; i < set->n; i++) sw_report_stamp(&set->trials[i], &o->validity);
  proj_t p;
  memset(&p, 0, sizeof p);
  p.set = set;
  p.o = o;
  if (set->n == 0) return sw_err_set(err, SW_ERR_NOTFOUND, "run %lld has no trials (after --where)", (long long)set->run.run_id);
  sw_rc rc = sw_axes_collect(set, &p.axes, &p.n_axes, err);
  if (rc == SW_OK) rc = choose_projection(&p, notes, err);
  if (rc != SW_OK) {
    proj_free(&p);
    return rc;
  }
  if (o->format != SW_FMT_CSV) run_header(set, o->format, out);
  if (o->trials_view) {
    trials_view(&p, out);
  } else {
    size_t ng;
    char **groups = split_groups(&p, &ng);
    if (!groups || !index_trials(&p, groups, ng)) out->oom = 1;
    for (size_t gi = 0; groups && p.map && gi < ng; gi++) {
      set_group(&p, gi);
      for (size_t m = 0; m < p.n_metrics; m++) {
        metric_block(&p, p.metrics[m], groups[gi], 0, out);
        if (o->relative) metric_block(&p, p.metrics[m], groups[gi], 1, out);
      }
    }
    for (size_t gi = 0; groups && gi < ng; gi++) free(groups[gi]);
    free(groups);
    if (o->format != SW_FMT_CSV) native_note(set, o->format, out);
    if (o->format != SW_FMT_CSV) invalid_list(set, &p, o->format, out);
  }
  proj_free(&p);
  return sw_buf_ok(out) ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "report: out of memory");
}

/* ------------------------------------------------------------------ Pareto view */

typedef struct pareto_pt {
  const sw_rtrial_t *t;
  double             x, y;
  int                front;
} pareto_pt_t;

static int cmp_pareto(const void *a, const void *b) {
  const pareto_pt_t *u = a, *v = b;
  if (u->x != v->x) return (u->x > v->x) - (u->x < v->x);
  return (u->y > v->y) - (u->y < v->y);
}

/* Parses "+name"/"-name"/"name" into a name and a sign (+1 = larger is better). */
static const char *pareto_dir(const char *spec, int *sign) {
  if (*spec == '+' || *spec == '-') {
    *sign = *spec == '+' ? 1 : -1;
    return spec + 1;
  }
  *sign = sw_metric_higher_is_better(spec) ? 1 : -1;
  return spec;
}

static void pareto_mark(pareto_pt_t *pts, size_t n, int sx, int sy) {
  for (size_t i = 0; i < n; i++) {
    pts[i].front = 1;
    for (size_t j = 0; j < n && pts[i].front; j++) {
      double dx = sx * (pts[j].x - pts[i].x), dy = sy * (pts[j].y - pts[i].y); /* > 0: j better */
      if (dx >= 0 && dy >= 0 && (dx > 0 || dy > 0)) pts[i].front = 0;
    }
  }
}

/* Moves the row-preference keys (method, ...) to the front of axes, keeping the rest in order. */
static void axes_rows_first(sw_axis_t *axes, size_t nax) {
  for (size_t p = sizeof row_prefs / sizeof *row_prefs; p-- > 0;)
    for (size_t i = 1; i < nax; i++)
      if (strcmp(axes[i].key, row_prefs[p]) == 0) {
        sw_axis_t a = axes[i];
        memmove(&axes[1], &axes[0], i * sizeof *axes);
        axes[0] = a;
        break;
      }
}

sw_rc sw_report_pareto(sw_rset_t *set, const char *xs, const char *ys, const sw_report_opts_t *o, sw_buf_t *out,
                       sw_err_t *err) {
  int sx, sy;
  const char *xn = pareto_dir(xs, &sx), *yn = pareto_dir(ys, &sy);
  pareto_pt_t *pts = calloc(set->n ? set->n : 1, sizeof *pts);
  sw_axis_t *axes = NULL;
  size_t n = 0, nax = 0;
  sw_rc rc = pts ? sw_axes_collect(set, &axes, &nax, err) : sw_err_set(err, SW_ERR_NOMEM, "pareto: out of memory");
  for (size_t i = 0; rc == SW_OK && i < set->n; i++) {
    sw_report_stamp(&set->trials[i], &o->validity);
    sw_cell_t cx, cy;
    sw_cell_of(&set->trials[i], xn, o->confidence, &cx);
    sw_cell_of(&set->trials[i], yn, o->confidence, &cy);
    if (cx.has && cy.has) pts[n++] = (pareto_pt_t){&set->trials[i], cx.value, cy.value, 0};
  }
  if (rc == SW_OK && n == 0)
    rc = sw_err_set(err, SW_ERR_NOTFOUND, "no trial has both metrics '%s' and '%s'", xn, yn);
  if (rc == SW_OK) {
    axes_rows_first(axes, nax);
    qsort(pts, n, sizeof *pts, cmp_pareto);
    pareto_mark(pts, n, sx, sy);
    size_t nv = 0, front = 0;
    for (size_t k = 0; k < nax; k++) nv += axes[k].n > 1;
    sw_grid_t g;
    sw_grid_init(&g, nv + 4);
    char text[600];
    size_t c = 0;
    for (size_t k = 0; k < nax; k++)
      if (axes[k].n > 1) sw_grid_header(&g, c++, axes[k].key);
    sw_grid_header(&g, c, xn);
    sw_grid_header(&g, c + 1, yn);
    sw_grid_header(&g, c + 2, "pareto");
    sw_grid_header(&g, c + 3, "validity");
    for (size_t i = 0; i < n; i++) {
      size_t r = sw_grid_add_row(&g), cc = 0;
      for (size_t k = 0; k < nax; k++)
        if (axes[k].n > 1) {
          sw_rtrial_config_text(pts[i].t, axes[k].key, text, sizeof text);
          sw_grid_set(&g, r, cc++, text);
        }
      snprintf(text, sizeof text, "%.4g", pts[i].x);
      sw_grid_set(&g, r, cc, text);
      snprintf(text, sizeof text, "%.4g", pts[i].y);
      sw_grid_set(&g, r, cc + 1, text);
      sw_grid_set(&g, r, cc + 2, pts[i].front ? "*" : "");
      sw_grid_set(&g, r, cc + 3, pts[i].t->valid ? "VALID" : "INVALID");
      front += (size_t)pts[i].front;
    }
    snprintf(text, sizeof text, "Pareto: %s (%s) vs %s (%s): %zu of %zu configurations not dominated", xn,
             sx > 0 ? "max" : "min", yn, sy > 0 ? "max" : "min", front, n);
    sw_grid_render(&g, o->format == SW_FMT_CSV ? NULL : text, o->format, out);
    sw_grid_free(&g);
  }
  sw_axes_free(axes, nax);
  free(pts);
  return rc;
}
