/* sw_plot: writes each figure's data (NAME.dat, tab-separated, one gnuplot index block per line) and
 * script (NAME.gp) and runs gnuplot on the script with posix_spawnp: PNG through the pngcairo terminal,
 * then SVG through the svg terminal from the same plot command (replot). */
#include "results/sw_plot.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "results/sw_report_int.h"

extern char **environ;

void sw_plot_opts_default(sw_plot_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->gnuplot = "gnuplot";
  o->max_latency_trials = 24;
}

/* ------------------------------------------------------------------ files and gnuplot */

static void path_of(const char *dir, const char *name, const char *ext, char *dst, size_t cap) {
  snprintf(dst, cap, "%s/%s.%s", dir, name, ext);
}

static sw_rc open_out(const char *dir, const char *name, const char *ext, FILE **f, sw_err_t *err) {
  char path[4096];
  path_of(dir, name, ext, path, sizeof path);
  *f = fopen(path, "w");
  return *f ? SW_OK : sw_err_set(err, SW_ERR_IO, "cannot write %s: %s", path, strerror(errno));
}

/* A gnuplot single-quoted string ('' stands for a quote). */
static void gp_quote(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++) {
    if (*s == '\'') fputc('\'', f);
    if (*s != '\n' && *s != '\t') fputc(*s, f);
  }
  fputc('\'', f);
}

/* Script prelude: title and axis labels. */
static void gp_head(FILE *f, const char *title, const char *xlabel, const char *ylabel) {
  fputs("set datafile separator \"\\t\"\nset grid\nset key outside right top font ',9' spacing 0.9\n"
        "set format x '%g'\nset format y '%g'\nset title ", f);
  gp_quote(f, title);
  fputs("\nset xlabel ", f);
  gp_quote(f, xlabel);
  fputs("\nset ylabel ", f);
  gp_quote(f, ylabel);
  fputs("\n", f);
}

/* Terminal switches: PNG first, then the same plot as SVG. */
static void gp_terminal(FILE *f, const char *dir, const char *name, const char *ext) {
  char path[4096];
  path_of(dir, name, ext, path, sizeof path);
  fputs(strcmp(ext, "png") == 0 ? "set terminal pngcairo size 1200,700 noenhanced\nset output "
                                : "set terminal svg size 1200,700 noenhanced\nset output ",
        f);
  gp_quote(f, path);
  fputs("\n", f);
}

static sw_rc run_gnuplot(const sw_plot_opts_t *o, const char *dir, const char *name, sw_err_t *err) {
  char script[4096];
  path_of(dir, name, "gp", script, sizeof script);
  char *argv[] = {(char *)o->gnuplot, script, NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, o->gnuplot, NULL, NULL, argv, environ);
  if (rc != 0) return sw_err_set(err, SW_ERR_CHILD, "cannot run %s: %s", o->gnuplot, strerror(rc));
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return sw_err_set(err, SW_ERR_CHILD, "waiting for %s: %s", o->gnuplot, strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return sw_err_set(err, SW_ERR_CHILD, "%s %s failed (status %d)", o->gnuplot, script,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  static const char *const exts[] = {"png", "svg"};
  for (int i = 0; i < 2; i++) {
    char out[4096];
    struct stat sb;
    path_of(dir, name, exts[i], out, sizeof out);
    if (stat(out, &sb) != 0 || sb.st_size == 0)
      return sw_err_set(err, SW_ERR_CHILD, "%s did not write %s", o->gnuplot, out);
  }
  return SW_OK;
}

/* ------------------------------------------------------------------ grouping */

/* "k=v k2=v2" over the given keys that the trial sets (empty string when none). */
static void group_text(const sw_rtrial_t *t, const char *const *keys, size_t nk, char *dst, size_t cap) {
  char v[SW_CONFIG_TEXT_CAP];
  dst[0] = '\0';
  for (size_t k = 0; k < nk; k++) { /* keys a trial does not set ("-") are left out */
    sw_rtrial_config_text(t, keys[k], v, sizeof v);
    if (strcmp(v, "-") != 0) sw_report_appendf(dst, cap, "%s%s=%s", dst[0] ? " " : "", keys[k], v);
  }
}

/* Varying axes of the set (without the sparsity knobs when skip_knobs), as borrowed key pointers. */
static size_t varying_keys(const sw_axis_t *axes, size_t nax, int skip_knobs, const char **keys, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < nax && n < cap; i++)
    if (axes[i].n > 1 && !(skip_knobs && sw_report_is_sparsity_knob(axes[i].key))) keys[n++] = axes[i].key;
  return n;
}

typedef struct xy {
  double x, y;
  char   group[256];
} xy_t;

/* strcmp with digit runs compared as numbers ("batch=4" before "batch=16"). */
static int natural_cmp(const char *a, const char *b) {
  while (*a && *b) {
    if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
      char *ea, *eb;
      double x = strtod(a, &ea), y = strtod(b, &eb);
      if (x != y) return x < y ? -1 : 1;
      a = ea;
      b = eb;
    } else if (*a != *b) {
      return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    } else {
      a++;
      b++;
    }
  }
  return (unsigned char)*a - (unsigned char)*b;
}

static int cmp_xy(const void *a, const void *b) {
  const xy_t *u = a, *v = b;
  int c = natural_cmp(u->group, v->group);
  if (c) return c;
  return (u->x > v->x) - (u->x < v->x);
}

/* Writes groups as gnuplot index blocks and the matching plot clauses; returns the number of groups. */
static size_t write_groups(FILE *dat, FILE *gp, const char *datpath, xy_t *pts, size_t n, const char *style) {
  qsort(pts, n, sizeof *pts, cmp_xy);
  size_t blocks = 0;
  fputs("plot ", gp);
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || strcmp(pts[i].group, pts[i - 1].group) != 0) {
      if (i) fputs("\n\n", dat);
      fprintf(dat, "# %s\n", pts[i].group);
      if (blocks) fputs(", \\\n     ", gp);
      gp_quote(gp, blocks ? "" : datpath);
      fprintf(gp, " index %zu using 1:2 with %s title ", blocks, style);
      gp_quote(gp, *pts[i].group ? pts[i].group : "all");
      blocks++;
    }
    fprintf(dat, "%.17g\t%.17g\n", pts[i].x, pts[i].y);
  }
  return blocks;
}

static const char *first_metric(const sw_rset_t *set, const char *const *names, size_t n) {
  for (size_t k = 0; k < n; k++)
    for (size_t i = 0; i < set->n; i++)
      if (sw_rtrial_metric(&set->trials[i], names[k])) return names[k];
  return NULL;
}

static const char *flops_metric(const sw_rset_t *set) {
  /* FLOPs relative to dense first: comparable across shapes and batch sizes (the TEAL / D2DMoE x axis). */
  static const char *const prefs[] = {"flop_ratio", "flops"}; /* names of common/sw_metrics.h */
  const char *m = first_metric(set, prefs, 2);
  for (size_t i = 0; !m && i < set->n; i++)
    for (size_t k = 0; k < set->trials[i].n_metrics && !m; k++) {
      const sw_rmetric_t *x = &set->trials[i].metrics[k];
      int flop = (x->unit && strcmp(x->unit, "flop") == 0) || strstr(x->name, "flops");
      if (flop && !strstr(x->name, "dense") && !strstr(x->name, "saved")) m = x->name;
    }
  return m;
}

/* ------------------------------------------------------------------ figures */

/* Draws one x/y figure: data points built by the caller, grouped into lines. */
static sw_rc xy_figure(const char *dir, const char *name, const sw_plot_opts_t *o, xy_t *pts, size_t n,
                       const char *title, const char *xl, const char *yl, const char *extra, sw_err_t *err) {
  FILE *dat = NULL, *gp = NULL;
  sw_rc rc = open_out(dir, name, "dat", &dat, err);
  if (rc == SW_OK) rc = open_out(dir, name, "gp", &gp, err);
  if (rc == SW_OK) {
    char datpath[4096];
    path_of(dir, name, "dat", datpath, sizeof datpath);
    gp_head(gp, title, xl, yl);
    if (extra) fputs(extra, gp);
    gp_terminal(gp, dir, name, "png");
    write_groups(dat, gp, datpath, pts, n, "linespoints pointsize 1.2");
    if (strstr(name, "speedup")) fputs(", \\\n     1/(1-x) with lines dashtype 2 lc rgb 'black' title 'ideal 1/(1-s)'", gp);
    fputs("\n", gp);
    gp_terminal(gp, dir, name, "svg");
    fputs("replot\nunset output\n", gp);
  }
  if (dat && fclose(dat) != 0 && rc == SW_OK) rc = sw_err_set(err, SW_ERR_IO, "writing %s/%s.dat failed", dir, name);
  if (gp && fclose(gp) != 0 && rc == SW_OK) rc = sw_err_set(err, SW_ERR_IO, "writing %s/%s.gp failed", dir, name);
  if (rc == SW_OK) rc = run_gnuplot(o, dir, name, err);
  return rc;
}

sw_rc sw_plot_accuracy_vs_flops(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err) {
  static const char *const acc[] = {"ppl", "kl", "rel_error", "top1_agree"}; /* names of common/sw_metrics.h */
  const char *ym = o->accuracy_metric ? o->accuracy_metric : first_metric(set, acc, 4);
  const char *xm = o->flops_metric ? o->flops_metric : flops_metric(set);
  if (!ym || !xm) return sw_err_set(err, SW_ERR_NOTFOUND, "accuracy_vs_flops: no %s metric", ym ? "FLOPs" : "accuracy");
  sw_axis_t *axes = NULL;
  size_t nax = 0, n = 0;
  sw_rc arc = sw_axes_collect(set, &axes, &nax, err);
  if (arc != SW_OK) return arc;
  xy_t *pts = calloc(set->n ? set->n : 1, sizeof *pts);
  if (!pts) {
    sw_axes_free(axes, nax);
    return sw_err_set(err, SW_ERR_NOMEM, "plot: out of memory");
  }
  const char *keys[32];
  size_t nk = varying_keys(axes, nax, 1, keys, 32);
  for (size_t i = 0; i < set->n; i++) {
    const sw_rmetric_t *x = sw_rtrial_metric(&set->trials[i], xm), *y = sw_rtrial_metric(&set->trials[i], ym);
    if (!x || !y || isnan(x->value) || isnan(y->value)) continue;
    pts[n] = (xy_t){x->value, y->value, ""};
    group_text(&set->trials[i], keys, nk, pts[n].group, sizeof pts[n].group);
    n++;
  }
  sw_axes_free(axes, nax);
  sw_rc rc = n ? SW_OK : sw_err_set(err, SW_ERR_NOTFOUND, "accuracy_vs_flops: no trial has both %s and %s", xm, ym);
  char title[256];
  snprintf(title, sizeof title, "%s vs %s, one line per method and shape (run %lld)", ym, xm, (long long)set->run.run_id);
  /* Perplexity spans orders of magnitude between mild and aggressive sparsity: a log axis keeps both readable. */
  const char *extra = strstr(ym, "ppl") ? "set logscale y\n" : NULL;
  if (rc == SW_OK) rc = xy_figure(dir, "accuracy_vs_flops", o, pts, n, title, xm, ym, extra, err);
  free(pts);
  return rc;
}

sw_rc sw_plot_speedup_vs_sparsity(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err) {
  static const char *const sp[] = {"speedup", "decode_speedup"};
  const char *ym = o->speedup_metric ? o->speedup_metric : first_metric(set, sp, 2);
  if (!ym) return sw_err_set(err, SW_ERR_NOTFOUND, "speedup_vs_sparsity: no speedup metric");
  sw_axis_t *axes = NULL;
  size_t nax = 0, n = 0;
  sw_rc rc = sw_axes_collect(set, &axes, &nax, err);
  xy_t *pts = rc == SW_OK ? calloc(set->n ? set->n : 1, sizeof *pts) : NULL;
  if (rc == SW_OK && !pts) rc = sw_err_set(err, SW_ERR_NOMEM, "plot: out of memory");
  const char *keys[32];
  size_t nk = rc == SW_OK ? varying_keys(axes, nax, 1, keys, 32) : 0;
  double max_s = 0, max_y = 1;
  for (size_t i = 0; rc == SW_OK && i < set->n; i++) {
    const sw_rtrial_t *t = &set->trials[i];
    const sw_rmetric_t *y = sw_rtrial_metric(t, ym), *a = sw_rtrial_metric(t, "achieved_sparsity");
    if (!a) a = sw_rtrial_metric(t, "sparsity_neuron");
    const sw_json_t *s = sw_json_get(t->config, "sparsity");
    double x = a && !isnan(a->value) ? a->value : s && s->kind == SW_JSON_NUMBER ? s->number : NAN;
    if (!y || isnan(y->value) || isnan(x) || x >= 1) continue;
    pts[n] = (xy_t){x, y->value, ""};
    group_text(t, keys, nk, pts[n++].group, sizeof pts[0].group);
    max_s = x > max_s ? x : max_s;
    max_y = y->value > max_y ? y->value : max_y;
  }
  if (rc == SW_OK && n == 0) rc = sw_err_set(err, SW_ERR_NOTFOUND, "speedup_vs_sparsity: no trial has %s and a sparsity", ym);
  if (rc == SW_OK) {
    double ideal = 1 / (1 - max_s), top = (ideal > max_y ? ideal : max_y) * 1.1;
    char extra[256], title[256];
    snprintf(extra, sizeof extra, "set xrange [0:%.6g]\nset yrange [0:%.6g]\nset samples 400\n", max_s, top);
    snprintf(title, sizeof title, "%s vs sparsity (run %lld)", ym, (long long)set->run.run_id);
    rc = xy_figure(dir, "speedup_vs_sparsity", o, pts, n, title, "sparsity", ym, extra, err);
  }
  free(pts);
  sw_axes_free(axes, nax);
  return rc;
}

/* Union of series names over the first max trials (at most 4, sorted). */
static size_t series_names(const sw_rset_t *set, size_t max, const char **names) {
  size_t n = 0;
  for (size_t i = 0; i < set->n && i < max; i++)
    for (size_t k = 0; k < set->trials[i].n_series; k++) {
      const char *s = set->trials[i].series[k].name;
      size_t j = 0;
      while (j < n && strcmp(names[j], s) != 0) j++;
      if (j == n && n < 4) names[n++] = s;
    }
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      const char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  return n;
}

static double latency_scale(const sw_rset_t *set, size_t max, const char **unit) {
  double m = 0;
  for (size_t i = 0; i < set->n && i < max; i++)
    for (size_t k = 0; k < set->trials[i].n_series; k++) {
      double med = sw_median(set->trials[i].series[k].v, set->trials[i].series[k].n);
      m = med > m ? med : m;
    }
  *unit = m >= 1 ? "s" : m >= 1e-3 ? "ms" : m >= 1e-6 ? "us" : "ns";
  return m >= 1 ? 1 : m >= 1e-3 ? 1e3 : m >= 1e-6 ? 1e6 : 1e9;
}

static sw_rc latency_data(const sw_rset_t *set, size_t max, const char **names, size_t ns, const char **keys,
                          size_t nk, double scale, FILE *dat) {
  double *tmp = NULL;
  size_t cap = 0;
  char label[256];
  for (size_t s = 0; s < ns; s++) {
    if (s) fputs("\n\n", dat);
    fprintf(dat, "# %s: x min p25 median p75 max label\n", names[s]);
    for (size_t i = 0; i < set->n && i < max; i++) {
      const sw_rseries_t *sr = sw_rtrial_series(&set->trials[i], names[s]);
      if (!sr || sr->n == 0) continue;
      if (sr->n > cap) {
        double *p = realloc(tmp, sr->n * sizeof *p);
        if (!p) {
          free(tmp);
          return SW_ERR_NOMEM;
        }
        tmp = p;
        cap = sr->n;
      }
      sw_sorted_copy(sr->v, sr->n, tmp);
      group_text(&set->trials[i], keys, nk, label, sizeof label);
      double x = (double)i + ((double)s - (double)(ns - 1) / 2) * 0.8 / (double)ns;
      fprintf(dat, "%.6g\t%.9g\t%.9g\t%.9g\t%.9g\t%.9g\t%s\n", x, tmp[0] * scale,
              sw_quantile_sorted(tmp, sr->n, 0.25) * scale, sw_quantile_sorted(tmp, sr->n, 0.5) * scale,
              sw_quantile_sorted(tmp, sr->n, 0.75) * scale, tmp[sr->n - 1] * scale,
              *label ? label : set->trials[i].config_hash);
    }
  }
  free(tmp);
  return SW_OK;
}

static void latency_plot_cmd(FILE *gp, const char *datpath, const char **names, size_t ns, size_t ntr) {
  fputs("plot ", gp);
  for (size_t s = 0; s < ns; s++) {
    if (s) fputs(", \\\n     ", gp);
    gp_quote(gp, s ? "" : datpath);
    fprintf(gp, " index %zu using 1:3:2:6:5%s with candlesticks whiskerbars lw 1.2 title ", s, s ? "" : ":xtic(7)");
    gp_quote(gp, names[s]);
    fprintf(gp, ", \\\n     '' index %zu using 1:4:4:4:4 with candlesticks lt -1 lw 2 notitle", s);
  }
  fprintf(gp, "\n");
  (void)ntr;
}

sw_rc sw_plot_latency(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err) {
  const char *names[4];
  size_t max = o->max_latency_trials ? o->max_latency_trials : 24;
  size_t ns = series_names(set, max, names);
  if (ns == 0) return sw_err_set(err, SW_ERR_NOTFOUND, "latency: no trial has samples");
  sw_axis_t *axes = NULL;
  size_t nax = 0;
  sw_rc rc = sw_axes_collect(set, &axes, &nax, err);
  const char *keys[32], *unit;
  size_t nk = rc == SW_OK ? varying_keys(axes, nax, 0, keys, 32) : 0;
  double scale = latency_scale(set, max, &unit);
  FILE *dat = NULL, *gp = NULL;
  if (rc == SW_OK) rc = open_out(dir, "latency", "dat", &dat, err);
  if (rc == SW_OK) rc = open_out(dir, "latency", "gp", &gp, err);
  if (rc == SW_OK && latency_data(set, max, names, ns, keys, nk, scale, dat) != SW_OK)
    rc = sw_err_set(err, SW_ERR_NOMEM, "plot: out of memory");
  if (rc == SW_OK) {
    char title[256], ylabel[64], datpath[4096];
    size_t ntr = set->n < max ? set->n : max;
    snprintf(title, sizeof title, "latency per trial: min, quartiles, median, max (run %lld, first %zu trials)",
             (long long)set->run.run_id, ntr);
    snprintf(ylabel, sizeof ylabel, "latency [%s]", unit);
    path_of(dir, "latency", "dat", datpath, sizeof datpath);
    gp_head(gp, title, "", ylabel);
    fprintf(gp, "set boxwidth %.3f absolute\nset xtics rotate by -40 font ',8'\nset xrange [-0.6:%zu.4]\n"
                "set bmargin 14\nset yrange [0:*]\n",
            0.7 / (double)ns, ntr - 1);
    gp_terminal(gp, dir, "latency", "png");
    latency_plot_cmd(gp, datpath, names, ns, ntr);
    gp_terminal(gp, dir, "latency", "svg");
    fputs("replot\nunset output\n", gp);
  }
  if (dat && fclose(dat) != 0 && rc == SW_OK) rc = sw_err_set(err, SW_ERR_IO, "writing %s/latency.dat failed", dir);
  if (gp && fclose(gp) != 0 && rc == SW_OK) rc = sw_err_set(err, SW_ERR_IO, "writing %s/latency.gp failed", dir);
  if (rc == SW_OK) rc = run_gnuplot(o, dir, "latency", err);
  sw_axes_free(axes, nax);
  return rc;
}

sw_rc sw_plot_run(sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_buf_t *log, sw_err_t *err) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return sw_err_set(err, SW_ERR_IO, "cannot create plot directory %s: %s", dir, strerror(errno));
  typedef sw_rc (*fig_fn)(const sw_rset_t *, const char *, const sw_plot_opts_t *, sw_err_t *);
  static const fig_fn figs[] = {sw_plot_accuracy_vs_flops, sw_plot_speedup_vs_sparsity, sw_plot_latency,
                                sw_plot_overlap_heatmap};
  static const char *const names[] = {"accuracy_vs_flops", "speedup_vs_sparsity", "latency", "overlap_heatmap"};
  int drawn = 0;
  for (int i = 0; i < 4; i++) {
    sw_err_t e;
    sw_err_clear(&e);
    sw_rc rc = figs[i](set, dir, o, &e);
    if (rc == SW_ERR_NOTFOUND) {
      if (log) sw_buf_printf(log, "plot %s skipped: %s\n", names[i], e.msg);
      continue;
    }
    if (rc != SW_OK) {
      sw_err_set(err, rc, "%s", e.msg);
      return rc;
    }
    drawn++;
    if (log) sw_buf_printf(log, "plot %s/%s.png and .svg written\n", dir, names[i]);
  }
  return drawn ? SW_OK : sw_err_set(err, SW_ERR_NOTFOUND, "no figure has data in run %lld", (long long)set->run.run_id);
}

/* ------------------------------------------------------------------ overlap heatmap (modularity workload) */

#define SW_PLOT_MAX_SUBSETS 8

/* Subset names from a trial's "subsets" setting ("name=path[@offset];..."); returns their count. */
static size_t subset_names(const sw_rtrial_t *t, char names[][32]) {
  const sw_json_t *v = t->config ? sw_json_get(t->config, "subsets") : NULL;
  size_t n = 0;
  for (const char *p = v && v->kind == SW_JSON_STRING ? v->string : NULL; p && *p && n < SW_PLOT_MAX_SUBSETS;) {
    const char *eq = strchr(p, '='), *end = strchr(p, ';');
    if (!eq || (end && eq > end) || eq - p >= 32) break;
    snprintf(names[n++], 32, "%.*s", (int)(eq - p), p);
    p = end ? end + 1 : NULL;
  }
  return n;
}

/* IoU of subsets a and b in layer l (1 on the diagonal); NaN when the metric is absent. */
static double layer_iou(const sw_rtrial_t *t, char names[][32], int l, size_t a, size_t b) {
  if (a == b) return 1.0;
  char key[128];
  snprintf(key, sizeof key, "iou_act_l%02d_%.31s_%.31s", l, names[a < b ? a : b], names[a < b ? b : a]);
  const sw_rmetric_t *m = sw_rtrial_metric(t, key);
  return m ? m->value : NAN;
}

/* One gnuplot index block per layer: rows "x y iou" scanned by y (blank line between scan lines). */
static int heatmap_data(FILE *dat, const sw_rtrial_t *t, char names[][32], size_t ns) {
  int layers = 0;
  while (layers < 1000 && !isnan(layer_iou(t, names, layers, 0, 1))) {
    for (size_t y = 0; y < ns; y++) {
      for (size_t x = 0; x < ns; x++) fprintf(dat, "%zu\t%zu\t%.6g\n", x, y, layer_iou(t, names, layers, x, y));
      fputs("\n", dat);
    }
    fputs("\n", dat);
    layers++;
  }
  return layers;
}

static void heatmap_plot(FILE *gp, const char *datpath, int layers, double rnd) {
  int cols = (int)ceil(sqrt((double)layers)), rows = (layers + cols - 1) / cols;
  fprintf(gp, "set multiplot layout %d,%d title 'IoU of the top neuron sets between texts per layer (activation "
              "mass; white 0, dark blue 1; random sets %.3f)'\n", rows, cols, rnd);
  for (int l = 0; l < layers; l++) {
    fprintf(gp, "set title 'layer %d' font ',9'\nplot ", l);
    gp_quote(gp, datpath);
    fprintf(gp, " index %d using 1:2:3 with image notitle\n", l);
  }
  fputs("unset multiplot\n", gp);
}

sw_rc sw_plot_overlap_heatmap(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err) {
  const sw_rtrial_t *t = NULL;
  char names[SW_PLOT_MAX_SUBSETS][32];
  size_t ns = 0;
  for (size_t i = 0; i < set->n && !t; i++)
    if (sw_rtrial_metric(&set->trials[i], "iou_random") && (ns = subset_names(&set->trials[i], names)) >= 2)
      t = &set->trials[i];
  if (!t) return sw_err_set(err, SW_ERR_NOTFOUND, "overlap_heatmap: no modularity trial (metric iou_random)");
  FILE *dat = NULL, *gp = NULL;
  sw_rc rc = open_out(dir, "overlap_heatmap", "dat", &dat, err);
  if (rc == SW_OK) rc = open_out(dir, "overlap_heatmap", "gp", &gp, err);
  int layers = rc == SW_OK ? heatmap_data(dat, t, names, ns) : 0;
  if (rc == SW_OK && layers == 0) rc = sw_err_set(err, SW_ERR_NOTFOUND, "overlap_heatmap: no per-layer IoU metrics");
  if (rc == SW_OK) {
    char datpath[4096];
    path_of(dir, "overlap_heatmap", "dat", datpath, sizeof datpath);
    fputs("set cbrange [0:1]\nset palette defined (0 'white', 1 'dark-blue')\nset size ratio -1\n"
          "set xtics rotate by -45 font ',6'\nset ytics font ',6'\nunset colorbox\n", gp);
    for (int axis = 0; axis < 2; axis++) {
      fprintf(gp, "set %ctics (", axis ? 'y' : 'x');
      for (size_t i = 0; i < ns; i++) fprintf(gp, "%s'%s' %zu", i ? ", " : "", names[i], i);
      fputs(")\n", gp);
    }
    fprintf(gp, "set xrange [-0.5:%zu.5]\nset yrange [-0.5:%zu.5]\n", ns - 1, ns - 1);
    const sw_rmetric_t *rnd = sw_rtrial_metric(t, "iou_random");
    for (int pass = 0; pass < 2; pass++) { /* a larger canvas than gp_terminal's: one square per layer */
      char out[4096];
      path_of(dir, "overlap_heatmap", pass ? "svg" : "png", out, sizeof out);
      fputs(pass ? "set terminal svg size 1600,1400 noenhanced\nset output " :
                   "set terminal pngcairo size 1600,1400 noenhanced\nset output ", gp);
      gp_quote(gp, out);
      fputs("\n", gp);
      heatmap_plot(gp, datpath, layers, rnd->value);
    }
    fputs("unset output\n", gp);
  }
  if (dat && fclose(dat) != 0 && rc == SW_OK) rc = sw_err_set(err, SW_ERR_IO, "writing %s/overlap_heatmap.dat failed", dir);
  if (gp && fclose(gp) != 0 && rc == SW_OK) rc = sw_err_set(err, SW_ERR_IO, "writing %s/overlap_heatmap.gp failed", dir);
  if (rc == SW_OK) rc = run_gnuplot(o, dir, "overlap_heatmap", err);
  return rc;
}
