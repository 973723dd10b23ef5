/* sw_report_compare: A/B comparison of runs (trials matched by config hash; per sample series the
 * candidate/baseline ratio of medians with its interval and a Mann-Whitney U test, Holm or BH across every
 * comparison, a practical threshold, a run-to-run noise floor when several baseline runs are given, "too few
 * samples" as a warning only, accuracy metrics against their own tolerance, deterministic counts compared
 * exactly), metric history across runs with change points, and export to CSV / JSON Lines. */
#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results/sw_report.h"
#include "common/sw_hash.h"
#include "results/sw_report_int.h"

void sw_compare_opts_default(sw_compare_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->threshold = 0.05;
  o->alpha = 0.01; /* from the A/A calibration in results/REPORTS.md: 0.05 gave 1.5-5% false alarms per compare */
  o->correction = SW_PADJUST_HOLM;
  o->confidence = 0.95;
  o->acc_rel_tol = 1e-3;
  o->min_runs = 0; /* by mode: SW_COMPARE_MIN_RUNS_PAIRED or SW_COMPARE_MIN_RUNS_LATENCY */
}

/* "1.234 ms"-style text of a duration in seconds. */
static void fmt_seconds(double s, char *dst, size_t cap) {
  if (isnan(s)) snprintf(dst, cap, "-");
  else if (s >= 1) snprintf(dst, cap, "%.4g s", s);
  else if (s >= 1e-3) snprintf(dst, cap, "%.4g ms", s * 1e3);
  else if (s >= 1e-6) snprintf(dst, cap, "%.4g us", s * 1e6);
  else snprintf(dst, cap, "%.4g ns", s * 1e9);
}

/* Config description from the axes that vary (config hash prefix when none does). */
static void describe(const sw_rtrial_t *t, const sw_axis_t *axes, size_t nax, char *dst, size_t cap) {
  char v[256];
  dst[0] = '\0';
  for (size_t k = 0; k < nax; k++) {
    if (axes[k].n < 2) continue;
    sw_rtrial_config_text(t, axes[k].key, v, sizeof v);
    sw_report_appendf(dst, cap, "%s%s=%s", dst[0] ? " " : "", axes[k].key, v);
  }
  if (!dst[0]) snprintf(dst, cap, "config %.12s", t->config_hash);
}

static int cmp_trial_hash(const void *a, const void *b) {
  const sw_rtrial_t *x = *(const sw_rtrial_t *const *)a, *y = *(const sw_rtrial_t *const *)b;
  return strcmp(x->config_hash, y->config_hash);
}

/* A run's trials with status ok, sorted by config hash for bsearch. */
static const sw_rtrial_t **index_by_hash(const sw_rset_t *set, size_t *n) {
  const sw_rtrial_t **idx = malloc((set->n ? set->n : 1) * sizeof *idx);
  *n = 0;
  if (!idx) return NULL;
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->trials[i].status, "ok") == 0) idx[(*n)++] = &set->trials[i];
  qsort(idx, *n, sizeof *idx, cmp_trial_hash);
  return idx;
}

static const sw_rtrial_t *find_hash(const sw_rtrial_t **idx, size_t n, const sw_rtrial_t *key) {
  const sw_rtrial_t *const *hit = bsearch(&key, idx, n, sizeof *idx, cmp_trial_hash);
  return hit ? *hit : NULL;
}

/* One latency comparison. */
typedef struct lat_cmp {
  const sw_rtrial_t *base, *cand;
  const char        *series;
  double             med_base, med_cand;
  sw_estimate_t      ratio;
  double             p, p_adj;
  double             floor;         /* run-to-run noise floor, max |log(m_i/m_j)| over baseline runs; NaN if < 2 */
  int                too_few;
  int                higher_better; /* 1 for paired speedups: a lower candidate value is the regression */
  int                run_level;     /* 1: p and the interval come from the run-level test of the run medians */
  int                inconclusive;  /* 1: a side has fewer than min_runs runs; within-run interval only */
} lat_cmp_t;

/* The per-run values of one (configuration, series) on both sides: a run's median (paired: its median
 * per-repetition speedup), one per run that has the series. */
typedef struct run_medians {
  double b[SW_COMPARE_MAX_RUNS], c[SW_COMPARE_MAX_RUNS];
  size_t nb, nc;
} run_medians_t;

typedef struct cmp_ctx {
  const sw_compare_opts_t *o;
  size_t                   n_base_runs;   /* >= 2: the noise floor column is shown */
  lat_cmp_t               *lat;
  size_t                   n_lat, cap_lat;
  sw_axis_t               *axes;
  size_t                   nax;
  sw_grid_t                acc, counts;  /* accuracy and count change lists */
  sw_compare_summary_t    *sum;
  sw_buf_t                *warn;
} cmp_ctx_t;

/* One comparison of baseline values xb[nb] with candidate values xc[nc] (all > 0). */
/* The run-level verdict input (>= 2 runs per side): pooled t test of the log run medians (common/sw_stats.h).
 * Repetitions inside one process share its memory placement, frequency and neighbours, so they are not
 * independent samples of what a rerun shows; the runs are. */
static sw_rc run_level_test(cmp_ctx_t *c, lat_cmp_t *l, const run_medians_t *rm, sw_err_t *err) {
  sw_rc rc = sw_run_ttest(rm->b, rm->nb, rm->c, rm->nc, c->o->confidence, &l->ratio, &l->p, err);
  l->run_level = 1;
  l->med_base = sw_median(rm->b, rm->nb);
  l->med_cand = sw_median(rm->c, rm->nc);
  return rc;
}

/* One comparison of baseline values xb[nb] with candidate values xc[nc] (all > 0), pooled over the runs; rm
 * holds the same series' run medians, which decide when both sides have enough runs. */
static sw_rc compare_values(cmp_ctx_t *c, const sw_rtrial_t *b, const sw_rtrial_t *t, const char *name,
                            const double *xb, size_t nb, const double *xc, size_t nc, int higher_better, double floor,
                            const run_medians_t *rm, sw_err_t *err) {
  if (c->n_lat == c->cap_lat) {
    size_t ncap = c->cap_lat ? c->cap_lat * 2 : 64;
    lat_cmp_t *p = realloc(c->lat, ncap * sizeof *p);
    if (!p) return sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
    c->lat = p;
    c->cap_lat = ncap;
  }
  lat_cmp_t *l = &c->lat[c->n_lat];
  memset(l, 0, sizeof *l);
  l->base = b;
  l->cand = t;
  l->series = name;
  l->higher_better = higher_better;
  l->floor = floor;
  l->med_base = sw_median(xb, nb);
  l->med_cand = sw_median(xc, nc);
  sw_err_t e2;
  if (sw_ratio_ci(xb, nb, xc, nc, c->o->confidence, &l->ratio, &e2) != SW_OK) {
    char d[400];
    describe(b, c->axes, c->nax, d, sizeof d);
    sw_buf_printf(c->warn, "warning: %s series %s not compared: %s\n", d, name, e2.msg);
    return SW_OK;
  }
  size_t runs = rm->nb < rm->nc ? rm->nb : rm->nc;
  sw_rc rc = SW_OK;
  if (runs < c->o->min_runs) {
    l->inconclusive = 1; /* the within-run interval above describes the runs; no test, not in the family */
    l->p = NAN;
  } else if (runs >= 2) {
    rc = run_level_test(c, l, rm, err);
  } else { /* --min-runs 1 with single runs: within-run U test of the pooled repetitions */
    sw_mwu_t u;
    rc = sw_mwu_test(xb, nb, xc, nc, &u, err);
    l->p = u.p;
    l->too_few = sw_mwu_min_p(nb, nc) >= c->o->alpha;
    if (l->too_few) l->p = NAN; /* cannot ever be significant: not a test, not in the family */
  }
  if (rc != SW_OK) return rc;
  c->n_lat++;
  return SW_OK;
}

/* Per-repetition ratios dense_i / sparse_i of the series pair (<p>dense, <p>sparse); NULL when not paired. */
static double *paired_ratios(const sw_rtrial_t *t, const sw_rseries_t *d, size_t *n) {
  size_t pl = strlen(d->name) - 5;
  char sn[160];
  *n = 0;
  snprintf(sn, sizeof sn, "%.*ssparse", (int)pl, d->name);
  const sw_rseries_t *s = sw_rtrial_series(t, sn);
  if (!s || d->n != s->n || d->n == 0) return NULL;
  double *r = malloc(d->n * sizeof *r);
  for (size_t i = 0; r && i < d->n; i++) {
    if (!(s->v[i] > 0) || !(d->v[i] > 0)) {
      free(r);
      return NULL;
    }
    r[i] = d->v[i] / s->v[i];
  }
  if (r) *n = d->n;
  return r;
}

static void add_change_row(sw_grid_t *g, const char *desc, const char *what, double vb, double vc, const char *verdict) {
  char a[40], b[40];
  size_t r = sw_grid_add_row(g);
  sw_report_fmt_number(vb, a, sizeof a);
  sw_report_fmt_number(vc, b, sizeof b);
  sw_grid_set(g, r, 0, desc);
  sw_grid_set(g, r, 1, what);
  sw_grid_set(g, r, 2, isnan(vb) ? "null" : a);
  sw_grid_set(g, r, 3, isnan(vc) ? "null" : b);
  sw_grid_set(g, r, 4, verdict);
}

static void add_accuracy_change(cmp_ctx_t *c, const char *desc, const char *name, double vb, double vc, int worse) {
  c->sum->accuracy_changes++;
  c->sum->accuracy_regressions += (size_t)worse;
  add_change_row(&c->acc, desc, name, vb, vc, worse ? "WORSE" : "better");
}

/* mc NULL: the candidate lacks the metric.  Non-finite values are stored as NULL and read as NaN: a value that
 * becomes NaN or goes missing (a diverged perplexity) is a regression, one that appears is a change. */
static void compare_accuracy(cmp_ctx_t *c, const sw_rtrial_t *b, const sw_rtrial_t *t, const sw_rmetric_t *mb,
                             const sw_rmetric_t *mc, const char *desc) {
  const double vb = mb->value, vc = mc ? mc->value : NAN;
  if (isnan(vb) || isnan(vc)) {
    if (isnan(vb) != isnan(vc)) add_accuracy_change(c, desc, mb->name, vb, vc, isnan(vc));
    return;
  }
  const sw_rmetric_t *sb = sw_metric_se(b, mb->name), *sc = sw_metric_se(t, mb->name);
  double tol = c->o->acc_rel_tol * fabs(vb);
  if (sb && sc && !isnan(sb->value) && !isnan(sc->value))
    tol = 2 * sqrt(sb->value * sb->value + sc->value * sc->value); /* ~95% band for a difference */
  double d = vc - vb;
  if (fabs(d) <= tol) return;
  add_accuracy_change(c, desc, mb->name, vb, vc, sw_metric_higher_is_better(mb->name) ? d < 0 : d > 0);
}

static void compare_counts(cmp_ctx_t *c, const sw_rtrial_t *b, const sw_rtrial_t *t, const char *desc) {
  for (size_t k = 0; k < b->n_metrics; k++) {
    const sw_rmetric_t *mb = &b->metrics[k], *mc = sw_rtrial_metric(t, mb->name);
    if (sw_is_accuracy_metric(mb->name)) compare_accuracy(c, b, t, mb, mc, desc);
    else if (!mc) continue;
    else if (sw_is_exact_count(mb->name, mb->unit, 0) && !(mb->value == mc->value) &&
             !(isnan(mb->value) && isnan(mc->value))) {
      c->sum->count_changes++;
      add_change_row(&c->counts, desc, mb->name, mb->value, mc->value, "CHANGED");
    }
  }
  for (size_t k = 0; k < b->n_counters; k++) {
    const sw_rcounter_t *cb = &b->counters[k];
    if (isnan(cb->value) || !sw_is_exact_count(cb->name, NULL, 1)) continue;
    for (size_t j = 0; j < t->n_counters; j++) {
      const sw_rcounter_t *cc = &t->counters[j];
      if (strcmp(cc->series, cb->series) != 0 || strcmp(cc->name, cb->name) != 0 || isnan(cc->value)) continue;
      if (cc->value != cb->value) {
        char what[200];
        snprintf(what, sizeof what, "%s:%s", cb->series, cb->name);
        c->sum->count_changes++;
        add_change_row(&c->counts, desc, what, cb->value, cc->value, "CHANGED");
      }
    }
  }
}

/* One configuration in every listed run: bt[0] is the base[0] trial; NULL where a run lacks it. */
typedef struct cfg_runs {
  const sw_rtrial_t *bt[SW_COMPARE_MAX_RUNS], *ct[SW_COMPARE_MAX_RUNS];
  size_t             nb, nc;
} cfg_runs_t;

/* Values of one series of one trial: the raw samples, or (paired) the per-repetition speedups; NULL if absent. */
static double *series_values(const sw_rtrial_t *t, const char *name, int paired, size_t *n) {
  const sw_rseries_t *s = t ? sw_rtrial_series(t, name) : NULL;
  *n = 0;
  if (!s) return NULL;
  if (paired) return paired_ratios(t, s, n);
  double *v = malloc((s->n ? s->n : 1) * sizeof *v);
  if (v && s->n) memcpy(v, s->v, s->n * sizeof *v);
  if (v) *n = s->n;
  return v;
}

/* Why several runs: a benchmark's level moves between processes (memory placement, frequency, neighbours on a
 * shared machine) by more than its repetitions inside one process vary, so one run's repetitions underestimate
 * the noise that matters between two runs.  pyperf therefore spreads its values over many worker processes
 * (--processes, 20 by default) and asv repeats each benchmark in several processes ("processes", 2 by
 * default) and folds the spread into the uncertainty its compare uses.  Here the unit is a whole run: the
 * baseline runs' medians give a run-to-run noise floor, and a change must exceed it as well (ideas only; no
 * code from either project).  With two runs the floor is one draw of that spread, so more runs are safer.
 *
 * The values of series name pooled over trials ts[n] (runs without it are skipped) into *pool (malloc'd, NULL
 * when no run has it); *floor = max |log(m_i / m_j)| = log(max m / min m) over the per-run medians m when at
 * least two runs contributed, else NaN.  Returns 0 on allocation failure. */
static int pool_series(const sw_rtrial_t *const *ts, size_t n, const char *name, int paired, double **pool,
                       size_t *len, double *floor, double *medians, size_t *runs_out) {
  double mmin = INFINITY, mmax = -INFINITY;
  size_t runs = 0;
  *runs_out = 0;
  *pool = NULL;
  *len = 0;
  *floor = NAN;
  for (size_t i = 0; i < n; i++) {
    size_t k;
    double *v = series_values(ts[i], name, paired, &k);
    if (!v || k == 0) {
      free(v);
      continue;
    }
    double *p = realloc(*pool, (*len + k) * sizeof *p);
    if (!p) {
      free(v);
      return 0;
    }
    memcpy(p + *len, v, k * sizeof *v);
    *pool = p;
    *len += k;
    double m = sw_median(v, k);
    mmin = fmin(mmin, m);
    mmax = fmax(mmax, m);
    medians[runs++] = m;
    free(v);
  }
  *runs_out = runs;
  if (runs >= 2 && mmin > 0) *floor = log(mmax / mmin);
  return 1;
}

/* Compares one series (raw samples, or paired speedups of "<p>dense"/"<p>sparse") pooled over the runs. */
static sw_rc compare_series(cmp_ctx_t *c, const cfg_runs_t *r, const char *name, int paired, sw_err_t *err) {
  double *xb, *xc, floor, unused;
  size_t nb, nc;
  run_medians_t rm;
  int ok = pool_series(r->bt, r->nb, name, paired, &xb, &nb, &floor, rm.b, &rm.nb);
  ok = pool_series(r->ct, r->nc, name, paired, &xc, &nc, &unused, rm.c, &rm.nc) && ok;
  sw_rc rc = ok ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
  const sw_rtrial_t *t = NULL;
  for (size_t j = 0; j < r->nc && !t; j++) t = r->ct[j];
  if (rc == SW_OK && xb && xc && nb && nc)
    rc = compare_values(c, r->bt[0], t, name, xb, nb, xc, nc, paired, floor, &rm, err);
  free(xb);
  free(xc);
  return rc;
}

static sw_rc compare_config(cmp_ctx_t *c, const cfg_runs_t *r, sw_err_t *err) {
  const sw_rtrial_t *b = r->bt[0], *t = NULL;
  for (size_t j = 0; j < r->nc && !t; j++) t = r->ct[j];
  char desc[400];
  describe(b, c->axes, c->nax, desc, sizeof desc);
  sw_rc rc = SW_OK;
  for (size_t k = 0; rc == SW_OK && k < b->n_series; k++) {
    const char *name = b->series[k].name;
    size_t len = strlen(name);
    if (c->o->paired && (len < 5 || strcmp(name + len - 5, "dense") != 0)) continue;
    rc = compare_series(c, r, name, c->o->paired, err);
  }
  if (rc == SW_OK) compare_counts(c, b, t, desc);
  return rc;
}

static void latency_row(cmp_ctx_t *c, sw_grid_t *g, const lat_cmp_t *l, const char *verdict) {
  char desc[400], a[40], b[40], r[120];
  describe(l->base, c->axes, c->nax, desc, sizeof desc);
  size_t row = sw_grid_add_row(g);
  sw_grid_set(g, row, 0, desc);
  if (l->higher_better) { /* "<p>dense" -> "<p>dense/sparse" */
    snprintf(r, sizeof r, "%s/sparse", l->series);
    sw_grid_set(g, row, 1, r);
  } else {
    sw_grid_set(g, row, 1, l->series);
  }
  if (l->higher_better) snprintf(a, sizeof a, "%.4gx", l->med_base);
  else fmt_seconds(l->med_base, a, sizeof a);
  sw_grid_set(g, row, 2, a);
  if (l->higher_better) snprintf(a, sizeof a, "%.4gx", l->med_cand);
  else fmt_seconds(l->med_cand, a, sizeof a);
  sw_grid_set(g, row, 3, a);
  if (isnan(l->ratio.lo)) snprintf(r, sizeof r, "%.3f", l->ratio.value);
  else snprintf(r, sizeof r, "%.3f [%.3f, %.3f]", l->ratio.value, l->ratio.lo, l->ratio.hi);
  sw_grid_set(g, row, 4, r);
  snprintf(a, sizeof a, "%.2g", l->p);
  snprintf(b, sizeof b, "%.2g", l->p_adj);
  sw_grid_set(g, row, 5, isnan(l->p) ? "-" : a);
  sw_grid_set(g, row, 6, isnan(l->p_adj) ? "-" : b);
  size_t vc = 7;
  if (c->n_base_runs >= 2) {
    if (isnan(l->floor)) snprintf(r, sizeof r, "-");
    else snprintf(r, sizeof r, "%.1f%%", (exp(l->floor) - 1) * 100);
    sw_grid_set(g, row, vc++, r);
  }
  sw_grid_set(g, row, vc, verdict);
}

static void init_change_grid(sw_grid_t *g) {
  static const char *const h[] = {"config", "metric", "baseline", "candidate", "verdict"};
  sw_grid_init(g, 5);
  for (size_t i = 0; i < 5; i++) sw_grid_header(g, i, h[i]);
}

/* Adjusts p-values, decides every comparison and writes the latency table. */
static sw_rc verdicts(cmp_ctx_t *c, sw_buf_t *out, sw_err_t *err) {
  double *p = malloc((c->n_lat ? c->n_lat : 1) * sizeof *p), *adj = malloc((c->n_lat ? c->n_lat : 1) * sizeof *adj);
  double *ratios = malloc((c->n_lat ? c->n_lat : 1) * sizeof *ratios);
  sw_rc rc = p && adj && ratios ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
  for (size_t i = 0; rc == SW_OK && i < c->n_lat; i++) p[i] = c->lat[i].p;
  if (rc == SW_OK) rc = sw_p_adjust(p, c->n_lat, c->o->correction, adj, err);
  static const char *const h[] = {"config", "series", "baseline", "candidate", "ratio [CI]", "p", "p_adj", "floor", "verdict"};
  int with_floor = c->n_base_runs >= 2;
  size_t ncol = with_floor ? 9 : 8;
  sw_grid_t g;
  sw_grid_init(&g, ncol);
  for (size_t i = 0; i < ncol; i++) sw_grid_header(&g, i, h[i + (!with_floor && i == 7)]);
  size_t nr = 0;
  for (size_t i = 0; rc == SW_OK && i < c->n_lat; i++) {
    lat_cmp_t *l = &c->lat[i];
    l->p_adj = adj[i];
    ratios[nr++] = l->ratio.value;
    /* "worse" is the factor by which the candidate is slower: latency ratio, or the inverse speedup ratio. */
    double worse = l->higher_better ? 1 / l->ratio.value : l->ratio.value;
    int over = worse > 1 + c->o->threshold || worse < 1 / (1 + c->o->threshold);
    /* Beyond the run-to-run noise floor too (NaN floor: one baseline run, the threshold alone decides); the
     * run-level test already weighs the run-to-run spread, so the floor is not applied a second time. */
    int big = over && (l->run_level || !(fabs(log(worse)) <= l->floor));
    int sig = !l->too_few && l->p_adj < c->o->alpha;
    char noisy[64];
    const char *v = "~";
    if (l->floor > log1p(c->o->threshold)) c->sum->floor_above++;
    char inconclusive[64];
    if (l->inconclusive) {
      c->sum->inconclusive++;
      snprintf(inconclusive, sizeof inconclusive, "inconclusive: need >= %zu runs per side", c->o->min_runs);
      v = inconclusive;
    } else if (l->too_few) {
      c->sum->too_few++;
      v = "too few samples";
    } else {
      c->sum->compared++;
      if (sig && big) v = worse > 1 ? "REGRESSION" : "improvement";
      else if (sig && over) { /* only the floor, which exceeds the threshold, keeps it from being flagged */
        c->sum->noisy++;
        snprintf(noisy, sizeof noisy, "noisy (floor %.1f%%)", (exp(l->floor) - 1) * 100);
        v = noisy;
      }
    }
    if (sig && big && worse > 1) c->sum->regressions++;
    if (sig && big && worse < 1) c->sum->improvements++;
    int shown = l->inconclusive ? over : strcmp(v, "~") != 0 && !l->too_few;
    if (c->o->verbose || shown) latency_row(c, &g, l, v);
  }
  c->sum->geomean_ratio = sw_geomean(ratios, nr);
  if (rc == SW_OK && g.nrows) {
    sw_buf_printf(out, "%s: candidate/baseline ratio of %s, %.0f%% CI; changes need p_adj < %g AND a change > %g%s\n",
                  c->o->paired ? "paired speedup (dense_i/sparse_i)" : "latency",
                  c->sum->run_level ? "the runs' geometric means of run medians (run-level t test)" : "medians",
                  c->o->confidence * 100, c->o->alpha, c->o->threshold,
                  with_floor && !c->sum->run_level ? " AND > floor" : "");
    sw_grid_render(&g, NULL, SW_FMT_TEXT, out);
    sw_buf_puts(out, "\n");
  }
  sw_grid_free(&g);
  free(p);
  free(adj);
  free(ratios);
  return rc;
}

/* Warns when two runs' machines differ or are unknown; returns 1 when it warned. */
static int machine_warning(const sw_rset_t *base, const sw_rset_t *cand, sw_compare_summary_t *sum, sw_buf_t *warn) {
  const char *fb = base->run.fingerprint, *fc = cand->run.fingerprint;
  if (fb && fc && strcmp(fb, fc) == 0) return 0;
  if (!fb && !fc) {
    sw_buf_puts(warn, "warning: machine fingerprints unknown: cannot check that both runs come from one machine\n");
    return 1;
  }
  sum->machines_differ = 1;
  sw_buf_printf(warn, "warning: machines differ (baseline %s, candidate %s): latency changes may come from the machine\n",
                fb ? fb : "unknown", fc ? fc : "unknown");
  return 1;
}

static const char *correction_name(sw_padjust m) {
  return m == SW_PADJUST_HOLM ? "Holm" : m == SW_PADJUST_BH ? "Benjamini-Hochberg" : "no";
}

static void summary_lines(const cmp_ctx_t *c, sw_buf_t *out) {
  const sw_compare_summary_t *s = c->sum;
  sw_buf_printf(out, "summary: %zu matched configs (only baseline %zu, only candidate %zu); %zu comparisons"
                     " (%s correction), %zu with too few samples\n",
                s->matched, s->only_baseline, s->only_candidate, s->compared, correction_name(c->o->correction),
                s->too_few);
  if (isnan(s->geomean_ratio))
    sw_buf_printf(out, "geomean %s ratio (candidate/baseline): - (nothing compared)\n", c->o->paired ? "paired speedup" : "latency");
  else
    sw_buf_printf(out, "geomean %s ratio (candidate/baseline): %.4f\n", c->o->paired ? "paired speedup" : "latency",
                  s->geomean_ratio);
  sw_buf_printf(out, "%zu regressions, %zu improvements, %zu accuracy regressions (%zu changes), %zu count changes\n",
                s->regressions, s->improvements, s->accuracy_regressions, s->accuracy_changes, s->count_changes);
  if (s->inconclusive)
    sw_buf_printf(out, "%zu comparisons inconclusive: fewer than %zu runs on a side (within-run intervals shown, no"
                       " verdict)\n", s->inconclusive, c->o->min_runs);
  if (c->n_base_runs >= 2 && !s->run_level)
    sw_buf_printf(out, "run-to-run noise: %zu comparisons have a floor above the threshold; %zu changes within their floor"
                       " (noisy: a warning, not a verdict)\n", s->floor_above, s->noisy);
}

/* "run 1 (commit abc1234, machine fp)" for every listed run, comma-separated. */
static void runs_text(const sw_rset_t *sets, size_t n, sw_buf_t *out) {
  for (size_t i = 0; i < n; i++)
    sw_buf_printf(out, "%srun %lld (commit %.7s, machine %s)", i ? ", " : "", (long long)sets[i].run.run_id,
                  sets[i].run.git_commit ? sets[i].run.git_commit : "unknown",
                  sets[i].run.fingerprint ? sets[i].run.fingerprint : "unknown");
}

static void header_lines(const cmp_ctx_t *c, const sw_rset_t *base, size_t nb, const sw_rset_t *cand, size_t nc,
                         sw_buf_t *out) {
  sw_buf_printf(out, "compare: baseline%s ", nb > 1 ? "s" : "");
  runs_text(base, nb, out);
  sw_buf_printf(out, " vs candidate%s ", nc > 1 ? "s" : "");
  runs_text(cand, nc, out);
  sw_buf_puts(out, "\n");
  if ((nb > 1 || nc > 1) && !c->sum->run_level)
    sw_buf_printf(out, "samples pooled over the %zu baseline and the %zu candidate runs for the %s\n", nb, nc,
                  c->o->min_runs <= 1 ? "U test and the ratio CI" : "within-run ratio CI");
  if (c->sum->run_level)
    sw_buf_printf(out, "run-level test: one value per run (its median%s), Student t on the logs across runs, %s across"
                       " comparisons\n", c->o->paired ? " per-repetition speedup" : "", correction_name(c->o->correction));
  else if (c->n_base_runs >= 2)
    sw_buf_puts(out, "floor: run-to-run noise, the largest ratio between the baseline runs' medians; a change must exceed"
                     " it and the threshold\n");
  sw_buf_puts(out, "\n");
}

/* Distinct configurations with an ok trial in some candidate run and none in base[0] (the indexes are sorted). */
static size_t count_only_candidate(const sw_rtrial_t **bidx0, size_t bn0, const sw_rtrial_t **const *cidx,
                                   const size_t *cn, size_t nc) {
  size_t n = 0;
  for (size_t j = 0; j < nc; j++)
    for (size_t i = 0; i < cn[j]; i++) {
      const sw_rtrial_t *t = cidx[j][i];
      if ((i > 0 && cmp_trial_hash(&cidx[j][i - 1], &cidx[j][i]) == 0) || find_hash(bidx0, bn0, t)) continue;
      int seen = 0;
      for (size_t k = 0; k < j && !seen; k++) seen = find_hash(cidx[k], cn[k], t) != NULL;
      n += !seen;
    }
  return n;
}

/* Every (config, series) of base[0] against the candidate runs; fills c->lat and the change grids. */
static sw_rc match_configs(cmp_ctx_t *c, const sw_rset_t *base, size_t nb, const sw_rset_t *cand, size_t nc,
                           sw_err_t *err) {
  const sw_rtrial_t **bidx[SW_COMPARE_MAX_RUNS] = {0}, **cidx[SW_COMPARE_MAX_RUNS] = {0};
  size_t bn[SW_COMPARE_MAX_RUNS] = {0}, cn[SW_COMPARE_MAX_RUNS] = {0};
  sw_rc rc = SW_OK;
  for (size_t i = 0; rc == SW_OK && i < nb; i++)
    if (!(bidx[i] = index_by_hash(&base[i], &bn[i]))) rc = sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
  for (size_t j = 0; rc == SW_OK && j < nc; j++)
    if (!(cidx[j] = index_by_hash(&cand[j], &cn[j]))) rc = sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
  for (size_t i = 0; rc == SW_OK && i < base[0].n; i++) {
    const sw_rtrial_t *b = &base[0].trials[i];
    if (strcmp(b->status, "ok") != 0) continue;
    cfg_runs_t r;
    memset(&r, 0, sizeof r);
    r.nb = nb;
    r.nc = nc;
    size_t found = 0;
    for (size_t k = 0; k < nb; k++) r.bt[k] = find_hash(bidx[k], bn[k], b);
    for (size_t j = 0; j < nc; j++) found += (r.ct[j] = find_hash(cidx[j], cn[j], b)) != NULL;
    if (!found) {
      c->sum->only_baseline++;
      continue;
    }
    c->sum->matched++;
    rc = compare_config(c, &r, err);
  }
  if (rc == SW_OK) c->sum->only_candidate = count_only_candidate(bidx[0], bn[0], cidx, cn, nc);
  for (size_t i = 0; i < SW_COMPARE_MAX_RUNS; i++) {
    free(bidx[i]);
    free(cidx[i]);
  }
  return rc;
}

sw_rc sw_compare_sets(const sw_rset_t *base, const sw_rset_t *cand, const sw_compare_opts_t *o, sw_buf_t *out,
                      sw_buf_t *warn, sw_compare_summary_t *sum, sw_err_t *err) {
  return sw_compare_runs(base, 1, cand, 1, o, out, warn, sum, err);
}

sw_rc sw_compare_runs(const sw_rset_t *base, size_t nb, const sw_rset_t *cand, size_t nc, const sw_compare_opts_t *o,
                      sw_buf_t *out, sw_buf_t *warn, sw_compare_summary_t *sum, sw_err_t *err) {
  memset(sum, 0, sizeof *sum);
  if (nb < 1 || nc < 1 || nb > SW_COMPARE_MAX_RUNS || nc > SW_COMPARE_MAX_RUNS)
    return sw_err_set(err, SW_ERR_INVALID, "compare: need 1 to %d baseline and candidate runs (got %zu and %zu)",
                      SW_COMPARE_MAX_RUNS, nb, nc);
  sw_compare_opts_t eff = *o;
  if (eff.min_runs == 0) eff.min_runs = o->paired ? SW_COMPARE_MIN_RUNS_PAIRED : SW_COMPARE_MIN_RUNS_LATENCY;
  o = &eff;
  cmp_ctx_t c;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.sum = sum;
  c.warn = warn;
  c.n_base_runs = nb;
  sum->run_level = (nb < nc ? nb : nc) >= 2 && (nb < nc ? nb : nc) >= o->min_runs;
  init_change_grid(&c.acc);
  init_change_grid(&c.counts);
  int warned = 0; /* one machine warning at most: base[0] against every other listed run */
  for (size_t i = 1; i < nb && !warned; i++) warned = machine_warning(&base[0], &base[i], sum, warn);
  for (size_t j = 0; j < nc && !warned; j++) warned = machine_warning(&base[0], &cand[j], sum, warn);
  sw_rc rc = sw_axes_collect(&base[0], &c.axes, &c.nax, err);
  if (rc == SW_OK) rc = match_configs(&c, base, nb, cand, nc, err);
  header_lines(&c, base, nb, cand, nc, out);
  if (rc == SW_OK) rc = verdicts(&c, out, err);
  if (rc == SW_OK && c.acc.nrows) {
    sw_buf_printf(out, "accuracy metrics beyond tolerance (2 x combined standard error, else %g relative):\n", o->acc_rel_tol);
    sw_grid_render(&c.acc, NULL, SW_FMT_TEXT, out);
    sw_buf_puts(out, "\n");
  }
  if (rc == SW_OK && c.counts.nrows) {
    sw_buf_puts(out, "deterministic counts that changed (compared exactly):\n");
    sw_grid_render(&c.counts, NULL, SW_FMT_TEXT, out);
    sw_buf_puts(out, "\n");
  }
  if (rc == SW_OK && sum->too_few)
    sw_buf_printf(warn, "warning: %zu comparisons have too few samples to ever reach p < %g (need >= 4 per side): no verdict\n",
                  sum->too_few, o->alpha);
  if (rc == SW_OK && sum->noisy)
    sw_buf_printf(warn, "warning: %zu changes are significant and beyond the threshold but within the run-to-run noise"
                        " floor of the baseline runs: marked noisy, no verdict\n", sum->noisy);
  if (rc == SW_OK && sum->inconclusive)
    sw_buf_printf(warn, "warning: %zu comparisons inconclusive: need >= %zu runs per side (have %zu baseline, %zu"
                        " candidate); rerun the sweep with --force to add runs, or see --min-runs\n",
                  sum->inconclusive, o->min_runs, nb, nc);
  if (rc == SW_OK && nb == 1 && (sum->compared || sum->too_few))
    sw_buf_puts(warn, "hint: one baseline run measures only within-run noise; give two or more (--baseline 1,2) to"
                      " measure the run-to-run noise floor\n");
  if (rc == SW_OK) summary_lines(&c, out);
  sw_grid_free(&c.acc);
  sw_grid_free(&c.counts);
  sw_axes_free(c.axes, c.nax);
  free(c.lat);
  if (rc == SW_OK && (!sw_buf_ok(out) || !sw_buf_ok(warn))) rc = sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
  return rc;
}

/* ------------------------------------------------------------------ compare along an axis */

/* Two ok trials of one run with the same config apart from key would make the matching ambiguous. */
static sw_rc rekey_unique(const sw_rset_t *set, const char *key, sw_err_t *err) {
  size_t n;
  const sw_rtrial_t **idx = index_by_hash(set, &n);
  if (!idx) return sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
  sw_rc rc = SW_OK;
  for (size_t i = 1; rc == SW_OK && i < n; i++)
    if (strcmp(idx[i - 1]->config_hash, idx[i]->config_hash) == 0)
      rc = sw_err_set(err, SW_ERR_INVALID, "run %lld: trials %lld and %lld differ only in '%s' or not at all: cannot match"
                      " configs along it", (long long)set->run.run_id, (long long)idx[i - 1]->trial_id,
                      (long long)idx[i]->trial_id, key);
  free(idx);
  return rc;
}

sw_rc sw_compare_rekey(sw_rset_t *set, const char *key, sw_err_t *err) {
  sw_buf_t b = SW_BUF_INIT;
  char hex[65];
  for (size_t i = 0; i < set->n; i++) {
    sw_rtrial_t *t = &set->trials[i];
    sw_buf_reset(&b);
    for (size_t k = 0; t->config && k < t->config->count; k++) {
      if (strcmp(t->config->keys[k], key) == 0) continue;
      sw_buf_printf(&b, "%s=", t->config->keys[k]);
      sw_rtrial_config_buf(t, t->config->keys[k], &b);
      sw_buf_puts(&b, "\n");
    }
    sw_sha256_hex(b.data ? b.data : "", b.len, hex);
    char *nh = sw_buf_ok(&b) ? sw_report_strdup(hex) : NULL;
    if (!nh) {
      sw_buf_free(&b);
      return sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
    }
    free(t->config_hash);
    t->config_hash = nh;
  }
  sw_buf_free(&b);
  return rekey_unique(set, key, err);
}

static int is_identifier(const char *s, size_t n) {
  if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) return 0;
  return 1;
}

sw_rc sw_axis_filter(const char *kv, const char *where, char **key, sw_buf_t *filter, sw_err_t *err) {
  const char *eq = strchr(kv, '=');
  *key = NULL;
  if (!eq || !is_identifier(kv, (size_t)(eq - kv)) || !eq[1] || strchr(eq + 1, '\''))
    return sw_err_set(err, SW_ERR_INVALID, "'%s': expected KEY=VALUE (KEY a config key, VALUE without quotes)", kv);
  char *end = NULL;
  (void)strtod(eq + 1, &end);
  int number = end && *end == '\0';
  *key = malloc((size_t)(eq - kv) + 1);
  if (!*key) return sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
  memcpy(*key, kv, (size_t)(eq - kv));
  (*key)[eq - kv] = '\0';
  sw_buf_reset(filter);
  if (where) sw_buf_printf(filter, "(%s) and ", where);
  sw_buf_printf(filter, number ? "%s = %s" : "%s = '%s'", *key, eq + 1);
  return sw_buf_ok(filter) ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "compare: out of memory");
}

/* ------------------------------------------------------------------ history */

typedef struct hist_pt {
  size_t run; /* index into the loaded sets */
  double value;
} hist_pt_t;

/* One trial of one run, and one configuration's group of them. */
typedef struct hist_ref {
  const sw_rtrial_t *t;
  size_t             set;
} hist_ref_t;

typedef struct hist_group {
  size_t  first; /* index of its first ref */
  size_t  set;   /* run (set index) where it first appears */
  int64_t trial_id;
} hist_group_t;

static int cmp_hist_ref(const void *a, const void *b) {
  const hist_ref_t *x = a, *y = b;
  int c = strcmp(x->t->config_hash, y->t->config_hash);
  return c ? c : (x->set > y->set) - (x->set < y->set);
}

static int cmp_hist_group(const void *a, const void *b) {
  const hist_group_t *x = a, *y = b;
  if (x->set != y->set) return x->set < y->set ? -1 : 1;
  return (x->trial_id > y->trial_id) - (x->trial_id < y->trial_id);
}

/* Runs in start-time order. */
static sw_rc list_runs(sqlite3 *db, int64_t **ids, size_t *n, sw_err_t *err) {
  sqlite3_stmt *st = NULL;
  *ids = NULL;
  *n = 0;
  if (sqlite3_prepare_v2(db, "SELECT run_id FROM runs ORDER BY started_s, run_id", -1, &st, NULL) != SQLITE_OK)
    return sw_report_db_error(db, err, "runs");
  size_t cap = 0;
  sw_rc rc = SW_OK;
  while (rc == SW_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      int64_t *p = realloc(*ids, cap * sizeof *p);
      if (!p) rc = sw_err_set(err, SW_ERR_NOMEM, "runs: out of memory");
      else *ids = p;
    }
    if (rc == SW_OK) (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return rc;
}

static void fmt_time(double t, char *dst, size_t cap) {
  time_t s = (time_t)t;
  struct tm tm;
  if (isnan(t) || !gmtime_r(&s, &tm)) snprintf(dst, cap, "-");
  else strftime(dst, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

/* All trials of all sets in one shallow view, for axes over the whole history. */
static sw_rc history_axes(const sw_rset_t *sets, size_t ns, sw_axis_t **axes, size_t *nax, sw_err_t *err) {
  size_t total = 0;
  for (size_t i = 0; i < ns; i++) total += sets[i].n;
  sw_rset_t all;
  memset(&all, 0, sizeof all);
  all.trials = malloc((total ? total : 1) * sizeof *all.trials);
  if (!all.trials) return sw_err_set(err, SW_ERR_NOMEM, "history: out of memory");
  for (size_t i = 0; i < ns; i++)
    for (size_t k = 0; k < sets[i].n; k++) all.trials[all.n++] = sets[i].trials[k];
  sw_rc rc = sw_axes_collect(&all, axes, nax, err);
  free(all.trials);
  return rc;
}

static sw_rc history_one(const sw_rset_t *sets, const hist_pt_t *pts, size_t n, const sw_rtrial_t *t,
                         const sw_axis_t *axes, size_t nax, double min_rel, sw_buf_t *out, sw_err_t *err) {
  double *x = malloc(n * sizeof *x), *level = malloc(n * sizeof *level);
  int *step = malloc(n * sizeof *step);
  sw_rc rc = x && level && step ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "history: out of memory");
  size_t ns = 0;
  for (size_t i = 0; rc == SW_OK && i < n; i++) x[i] = pts[i].value;
  if (rc == SW_OK) rc = sw_change_points(x, n, min_rel, step, level, &ns, err);
  if (rc == SW_OK) {
    char desc[400], text[64];
    describe(t, axes, nax, desc, sizeof desc);
    sw_buf_printf(out, "%s: %zu runs, %zu step%s\n", desc, n, ns, ns == 1 ? "" : "s");
    sw_grid_t g;
    static const char *const h[] = {"run", "commit", "started (UTC)", "value", "level", "step"};
    sw_grid_init(&g, 6);
    for (size_t i = 0; i < 6; i++) sw_grid_header(&g, i, h[i]);
    for (size_t i = 0; i < n; i++) {
      const sw_rrun_t *r = &sets[pts[i].run].run;
      size_t row = sw_grid_add_row(&g);
      snprintf(text, sizeof text, "%lld", (long long)r->run_id);
      sw_grid_set(&g, row, 0, text);
      snprintf(text, sizeof text, "%.7s%s", r->git_commit ? r->git_commit : "-", r->git_dirty == 1 ? "+" : "");
      sw_grid_set(&g, row, 1, text);
      fmt_time(r->started_s, text, sizeof text);
      sw_grid_set(&g, row, 2, text);
      snprintf(text, sizeof text, "%.4g", x[i]);
      sw_grid_set(&g, row, 3, text);
      snprintf(text, sizeof text, "%.4g", level[i]);
      sw_grid_set(&g, row, 4, text);
      if (i > 0 && step[i]) snprintf(text, sizeof text, "<- %+.1f%%", (level[i] / level[i - 1] - 1) * 100);
      else text[0] = '\0';
      sw_grid_set(&g, row, 5, text);
    }
    sw_grid_render(&g, NULL, SW_FMT_TEXT, out);
    sw_buf_puts(out, "\n");
    sw_grid_free(&g);
  }
  free(x);
  free(level);
  free(step);
  return rc;
}

sw_rc sw_report_history(sw_rdb_t *db, const char *metric, const char *where, double min_rel, sw_buf_t *out,
                        sw_err_t *err) {
  int64_t *ids;
  size_t nr, nsets = 0;
  sw_rc rc = list_runs(db->db, &ids, &nr, err);
  sw_rset_t *sets = rc == SW_OK ? calloc(nr ? nr : 1, sizeof *sets) : NULL;
  if (rc == SW_OK && !sets) rc = sw_err_set(err, SW_ERR_NOMEM, "history: out of memory");
  for (size_t i = 0; rc == SW_OK && i < nr; i++, nsets++) rc = sw_rset_load(db, ids[i], where, &sets[i], err);
  sw_axis_t *axes = NULL;
  size_t nax = 0, shown = 0;
  if (rc == SW_OK) rc = history_axes(sets, nsets, &axes, &nax, err);
  hist_pt_t *pts = rc == SW_OK ? malloc((nsets ? nsets : 1) * sizeof *pts) : NULL;
  if (rc == SW_OK && !pts) rc = sw_err_set(err, SW_ERR_NOMEM, "history: out of memory");
  /* Every (config, run) once, sorted by config hash then run; a config's points are one run of that order. */
  size_t total = 0, nref = 0;
  for (size_t i = 0; i < nsets; i++) total += sets[i].n;
  hist_ref_t *refs = rc == SW_OK ? malloc((total ? total : 1) * sizeof *refs) : NULL;
  if (rc == SW_OK && !refs) rc = sw_err_set(err, SW_ERR_NOMEM, "history: out of memory");
  for (size_t i = 0; rc == SW_OK && i < nsets; i++)
    for (size_t k = 0; k < sets[i].n; k++) refs[nref++] = (hist_ref_t){&sets[i].trials[k], i};
  if (rc == SW_OK) qsort(refs, nref, sizeof *refs, cmp_hist_ref);
  hist_group_t *groups = rc == SW_OK ? malloc((nref ? nref : 1) * sizeof *groups) : NULL;
  size_t ng = 0;
  if (rc == SW_OK && !groups) rc = sw_err_set(err, SW_ERR_NOMEM, "history: out of memory");
  for (size_t i = 0; rc == SW_OK && i < nref; i++)
    if (i == 0 || strcmp(refs[i].t->config_hash, refs[i - 1].t->config_hash) != 0) groups[ng++] = (hist_group_t){i, refs[i].set, refs[i].t->trial_id};
  if (rc == SW_OK) qsort(groups, ng, sizeof *groups, cmp_hist_group); /* order of first appearance */
  for (size_t g = 0; rc == SW_OK && g < ng; g++) {
    size_t n = 0;
    for (size_t i = groups[g].first; i < nref && strcmp(refs[i].t->config_hash, refs[groups[g].first].t->config_hash) == 0; i++) {
      sw_cell_t c;
      if (strcmp(refs[i].t->status, "ok") != 0) continue;
      sw_cell_of(refs[i].t, metric, 0.95, &c);
      if (c.has) pts[n++] = (hist_pt_t){refs[i].set, c.value};
    }
    if (n == 0) continue;
    shown++;
    rc = history_one(sets, pts, n, refs[groups[g].first].t, axes, nax, min_rel, out, err);
  }
  free(refs);
  free(groups);
  if (rc == SW_OK && shown == 0)
    rc = sw_err_set(err, SW_ERR_NOTFOUND, "no trial has metric '%s'%s%s", metric, where ? " with --where " : "",
                    where ? where : "");
  free(pts);
  sw_axes_free(axes, nax);
  for (size_t i = 0; i < nsets; i++) sw_rset_free(&sets[i]);
  free(sets);
  free(ids);
  return rc;
}

/* ------------------------------------------------------------------ export */

/* Sorted unique names collected from every trial of every set by get(trial, i). */
typedef struct name_list {
  char  **v;
  size_t  n;
} name_list_t;

static int names_add(name_list_t *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], name) == 0) return 1;
  char **p = realloc(l->v, (l->n + 1) * sizeof *p);
  if (!p) return 0;
  l->v = p;
  l->v[l->n] = sw_report_strdup(name);
  return l->v[l->n++] != NULL;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void names_free(name_list_t *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

static void csv_out(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void csv_num(FILE *f, double v) {
  char b[40];
  if (isnan(v)) return;
  sw_report_fmt_number(v, b, sizeof b);
  fputs(b, f);
}

static void export_csv(const sw_rset_t *sets, size_t ns, const name_list_t *keys, const name_list_t *mets,
                       const name_list_t *ser, FILE *f) {
  fputs("run_id,run_uuid,git_commit,machine,trial_id,config_hash,status,attempt", f);
  for (size_t i = 0; i < keys->n; i++) fprintf(f, ",config.%s", keys->v[i]);
  for (size_t i = 0; i < mets->n; i++) fprintf(f, ",metric.%s", mets->v[i]);
  for (size_t i = 0; i < ser->n; i++) fprintf(f, ",samples.%s.n,samples.%s.median", ser->v[i], ser->v[i]);
  fputc('\n', f);
  sw_buf_t text = SW_BUF_INIT;
  for (size_t s = 0; s < ns; s++)
    for (size_t k = 0; k < sets[s].n; k++) {
      const sw_rrun_t *r = &sets[s].run;
      const sw_rtrial_t *t = &sets[s].trials[k];
      fprintf(f, "%lld,%s,%s,%s,%lld,%s,%s,%d", (long long)r->run_id, r->uuid ? r->uuid : "",
              r->git_commit ? r->git_commit : "", r->fingerprint ? r->fingerprint : "", (long long)t->trial_id,
              t->config_hash, t->status, t->attempt);
      for (size_t i = 0; i < keys->n; i++) {
        fputc(',', f);
        if (!sw_json_get(t->config, keys->v[i])) continue;
        sw_buf_reset(&text);
        sw_rtrial_config_buf(t, keys->v[i], &text);
        csv_out(f, sw_buf_ok(&text) ? sw_buf_str(&text) : "");
      }
      for (size_t i = 0; i < mets->n; i++) {
        const sw_rmetric_t *m = sw_rtrial_metric(t, mets->v[i]);
        fputc(',', f);
        if (m) csv_num(f, m->value);
      }
      for (size_t i = 0; i < ser->n; i++) {
        const sw_rseries_t *sr = sw_rtrial_series(t, ser->v[i]);
        if (sr) fprintf(f, ",%zu,", sr->n);
        else fputs(",,", f);
        if (sr) csv_num(f, sw_median(sr->v, sr->n));
      }
      fputc('\n', f);
    }
  sw_buf_free(&text);
}

static void json_str(sw_buf_t *b, const char *s) {
  if (s) sw_buf_json_string(b, s, strlen(s));
  else sw_buf_puts(b, "null");
}

static void export_jsonl_trial(const sw_rrun_t *r, const sw_rtrial_t *t, sw_buf_t *b) {
  sw_buf_printf(b, "{\"run_id\":%lld,\"run_uuid\":", (long long)r->run_id);
  json_str(b, r->uuid);
  sw_buf_puts(b, ",\"git_commit\":");
  json_str(b, r->git_commit);
  sw_buf_puts(b, ",\"machine\":");
  json_str(b, r->fingerprint);
  sw_buf_printf(b, ",\"trial_id\":%lld,\"config_hash\":", (long long)t->trial_id);
  json_str(b, t->config_hash);
  sw_buf_puts(b, ",\"status\":");
  json_str(b, t->status);
  sw_buf_printf(b, ",\"attempt\":%d,\"config\":%s,\"metrics\":{", t->attempt, t->config_json);
  for (size_t i = 0; i < t->n_metrics; i++) {
    if (i) sw_buf_puts(b, ",");
    json_str(b, t->metrics[i].name);
    sw_buf_puts(b, ":");
    sw_buf_json_double(b, t->metrics[i].value);
  }
  sw_buf_puts(b, "},\"units\":{");
  for (size_t i = 0; i < t->n_metrics; i++) {
    if (i) sw_buf_puts(b, ",");
    json_str(b, t->metrics[i].name);
    sw_buf_puts(b, ":");
    json_str(b, t->metrics[i].unit);
  }
  sw_buf_puts(b, "},\"samples\":{");
  for (size_t i = 0; i < t->n_series; i++) {
    if (i) sw_buf_puts(b, ",");
    json_str(b, t->series[i].name);
    sw_buf_puts(b, ":[");
    for (size_t k = 0; k < t->series[i].n; k++) {
      if (k) sw_buf_puts(b, ",");
      sw_buf_json_double(b, t->series[i].v[k]);
    }
    sw_buf_puts(b, "]");
  }
  sw_buf_puts(b, "},\"counters\":[");
  for (size_t i = 0; i < t->n_counters; i++) {
    const sw_rcounter_t *c = &t->counters[i];
    sw_buf_puts(b, i ? ",{\"series\":" : "{\"series\":");
    json_str(b, c->series);
    sw_buf_puts(b, ",\"name\":");
    json_str(b, c->name);
    sw_buf_puts(b, ",\"value\":");
    sw_buf_json_double(b, c->value);
    sw_buf_puts(b, ",\"reason\":");
    json_str(b, c->reason);
    sw_buf_puts(b, "}");
  }
  sw_buf_puts(b, "]}\n");
}

sw_rc sw_report_export(sw_rdb_t *db, int64_t run_id, sw_export_format fmt, FILE *out, sw_err_t *err) {
  int64_t *ids = NULL;
  size_t nr = 0, nsets = 0;
  sw_rc rc = SW_OK;
  if (run_id > 0) {
    ids = malloc(sizeof *ids);
    if (ids) ids[nr++] = run_id;
    else rc = sw_err_set(err, SW_ERR_NOMEM, "export: out of memory");
  } else {
    rc = list_runs(db->db, &ids, &nr, err);
  }
  sw_rset_t *sets = rc == SW_OK ? calloc(nr ? nr : 1, sizeof *sets) : NULL;
  if (rc == SW_OK && !sets) rc = sw_err_set(err, SW_ERR_NOMEM, "export: out of memory");
  for (size_t i = 0; rc == SW_OK && i < nr; i++, nsets++) rc = sw_rset_load(db, ids[i], NULL, &sets[i], err);
  name_list_t keys = {0}, mets = {0}, ser = {0};
  int ok = 1;
  for (size_t s = 0; rc == SW_OK && s < nsets; s++)
    for (size_t k = 0; k < sets[s].n; k++) {
      const sw_rtrial_t *t = &sets[s].trials[k];
      for (size_t i = 0; i < t->config->count; i++) ok &= names_add(&keys, t->config->keys[i]);
      for (size_t i = 0; i < t->n_metrics; i++) ok &= names_add(&mets, t->metrics[i].name);
      for (size_t i = 0; i < t->n_series; i++) ok &= names_add(&ser, t->series[i].name);
    }
  if (rc == SW_OK && !ok) rc = sw_err_set(err, SW_ERR_NOMEM, "export: out of memory");
  if (rc == SW_OK) {
    /* qsort's array must not be NULL even for 0 elements (a run without metrics or samples) */
    if (keys.n) qsort(keys.v, keys.n, sizeof *keys.v, cmp_name);
    if (mets.n) qsort(mets.v, mets.n, sizeof *mets.v, cmp_name);
    if (ser.n) qsort(ser.v, ser.n, sizeof *ser.v, cmp_name);
    if (fmt == SW_EXPORT_CSV) export_csv(sets, nsets, &keys, &mets, &ser, out);
    sw_buf_t b = SW_BUF_INIT;
    for (size_t s = 0; fmt == SW_EXPORT_JSONL && s < nsets; s++)
      for (size_t k = 0; k < sets[s].n; k++) {
        sw_buf_reset(&b);
        export_jsonl_trial(&sets[s].run, &sets[s].trials[k], &b);
        fputs(sw_buf_str(&b), out);
      }
    if (!sw_buf_ok(&b)) rc = sw_err_set(err, SW_ERR_NOMEM, "export: out of memory");
    sw_buf_free(&b);
    if (rc == SW_OK && ferror(out)) rc = sw_err_set(err, SW_ERR_IO, "export: write error");
  }
  names_free(&keys);
  names_free(&mets);
  names_free(&ser);
  for (size_t i = 0; i < nsets; i++) sw_rset_free(&sets[i]);
  free(sets);
  free(ids);
  return rc;
}
