/* sw_stats: median and quantiles (one definition, see sw_stats.h), Mann-Whitney U, p-value adjustment, order-statistic intervals, ratio intervals, summaries
 * and change-point detection (see sw_stats.h for the method behind each and its reference).
 * Everything is double precision; the exact U distribution is a probability recurrence, so it never
 * overflows (counts of arrangements would exceed 2^53 beyond about 55 samples). */
#include "common/sw_stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_names.h"

/* ---------------------------------------------------------------- small helpers */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void sw_sorted_copy(const double *x, size_t n, double *out) {
  if (n == 0) return;
  memcpy(out, x, n * sizeof *out);
  qsort(out, n, sizeof *out, cmp_double);
}

static double sorted_median(const double *s, size_t n);

double sw_quantile_sorted(const double *sorted, size_t n, double q) {
  if (n == 0 || isnan(q)) return NAN;
  if (q == 0.5) return sorted_median(sorted, n); /* bit-identical to sw_median */
  q = q < 0 ? 0 : q > 1 ? 1 : q;
  double h = (double)(n - 1) * q;
  size_t lo = (size_t)floor(h);
  if (lo + 1 >= n) return sorted[n - 1];
  return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

/* Median of an already sorted array: sw_quantile_sorted at 0.5, written out so that an even count gives exactly
 * the mean of the two middle values (h - floor h is exactly 0.5 there). */
static double sorted_median(const double *s, size_t n) {
  if (n == 0) return NAN;
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

double sw_quantile(const double *x, size_t n, double q) {
  if (n == 0 || isnan(q)) return NAN;
  double *s = malloc(n * sizeof *s);
  if (!s) return NAN;
  sw_sorted_copy(x, n, s);
  double v = sw_quantile_sorted(s, n, q);
  free(s);
  return v;
}

double sw_median(const double *x, size_t n) {
  if (n == 0) return NAN;
  double *s = malloc(n * sizeof *s);
  if (!s) return NAN;
  sw_sorted_copy(x, n, s);
  double m = sorted_median(s, n);
  free(s);
  return m;
}

double sw_mean(const double *x, size_t n) {
  if (n == 0) return NAN;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += x[i];
  return sum / (double)n;
}

double sw_stddev(const double *x, size_t n) {
  if (n < 2) return NAN;
  double m = sw_mean(x, n), ss = 0;
  for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
  return sqrt(ss / (double)(n - 1));
}

double sw_cv(const double *x, size_t n) {
  double m = sw_mean(x, n);
  if (n < 2 || m == 0) return NAN;
  return sw_stddev(x, n) / fabs(m);
}

double sw_geomean(const double *x, size_t n) {
  if (n == 0) return NAN;
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    if (!(x[i] > 0)) return NAN;
    s += log(x[i]);
  }
  return exp(s / (double)n);
}

double sw_norm_sf(double z) { return 0.5 * erfc(z / sqrt(2.0)); }

double sw_norm_isf(double p) {
  if (!(p > 0 && p < 1)) return NAN;
  double lo = -40, hi = 40; /* sf is decreasing: find z with sf(z) = p by bisection */
  for (int it = 0; it < 200 && hi - lo > 1e-15; it++) {
    double mid = 0.5 * (lo + hi);
    if (sw_norm_sf(mid) > p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

static int any_nan(const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (isnan(x[i])) return 1;
  return 0;
}

/* ---------------------------------------------------------------- Mann-Whitney U */

/* The null distribution of U for m x's and n y's by the recurrence on the largest pooled value:
 * it is an x (probability i/(i+j)) and beats all j y's, or a y (probability j/(i+j)).
 * p_{i,j}(u) = i/(i+j) p_{i-1,j}(u-j) + j/(i+j) p_{i,j-1}(u)  (Mann & Whitney 1947, eq. 2). */
sw_rc sw_mwu_null_cdf(size_t m, size_t n, double *cdf, sw_err_t *err) {
  if (m == 0 || n == 0) return sw_err_set(err, SW_ERR_INVALID, "U null distribution needs two non-empty samples");
  if ((double)(n + 1) * (double)(m * n + 1) > 4e6)
    return sw_err_set(err, SW_ERR_RANGE, "exact U distribution for %zu x %zu samples is too large", m, n);
  size_t w = m * n + 1;
  double *prev = calloc((n + 1) * w, sizeof *prev), *cur = calloc((n + 1) * w, sizeof *cur);
  if (!prev || !cur) {
    free(prev);
    free(cur);
    return sw_err_set(err, SW_ERR_NOMEM, "U null distribution: out of memory");
  }
  for (size_t j = 0; j <= n; j++) prev[j * w] = 1.0; /* i = 0: U = 0 surely */
  for (size_t i = 1; i <= m; i++) {
    cur[0] = 1.0;
    for (size_t j = 1; j <= n; j++) {
      double wi = (double)i / (double)(i + j), wj = (double)j / (double)(i + j);
      for (size_t u = 0; u <= i * j; u++) {
        double v = 0;
        if (u >= j && u - j <= (i - 1) * j) v += wi * prev[j * w + u - j];
        if (u <= i * (j - 1)) v += wj * cur[(j - 1) * w + u];
        cur[j * w + u] = v;
      }
    }
    double *t = prev;
    prev = cur;
    cur = t;
  }
  double acc = 0;
  for (size_t u = 0; u < w; u++) {
    acc += prev[n * w + u];
    cdf[u] = acc > 1 ? 1 : acc;
  }
  free(prev);
  free(cur);
  return SW_OK;
}

double sw_mwu_min_p(size_t nx, size_t ny) {
  if (nx == 0 || ny == 0) return 1;
  double lchoose = lgamma((double)(nx + ny) + 1) - lgamma((double)nx + 1) - lgamma((double)ny + 1);
  double p = 2 * exp(-lchoose);
  return p > 1 ? 1 : p;
}

typedef struct ranked {
  double v;
  int    from_x;
} ranked_t;

static int cmp_ranked(const void *a, const void *b) {
  return cmp_double(&((const ranked_t *)a)->v, &((const ranked_t *)b)->v);
}

/* Rank sum of x in the pooled sample (mid-ranks for ties) and the tie term sum(t^3 - t). */
static sw_rc pooled_ranks(const double *x, size_t nx, const double *y, size_t ny, double *rank_sum_x,
                          double *tie_term, sw_err_t *err) {
  size_t n = nx + ny;
  ranked_t *r = malloc(n * sizeof *r);
  if (!r) return sw_err_set(err, SW_ERR_NOMEM, "U test: out of memory");
  for (size_t i = 0; i < nx; i++) r[i] = (ranked_t){x[i], 1};
  for (size_t j = 0; j < ny; j++) r[nx + j] = (ranked_t){y[j], 0};
  qsort(r, n, sizeof *r, cmp_ranked);
  double rs = 0, tt = 0;
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k < n && r[k].v == r[i].v) k++;
    double t = (double)(k - i), mid = 0.5 * (double)(i + 1 + k); /* ranks i+1 .. k */
    for (size_t q = i; q < k; q++)
      if (r[q].from_x) rs += mid;
    tt += t * t * t - t;
    i = k;
  }
  free(r);
  *rank_sum_x = rs;
  *tie_term = tt;
  return SW_OK;
}

static sw_rc mwu_exact_p(size_t nx, size_t ny, double u, double *p, sw_err_t *err) {
  double *cdf = malloc((nx * ny + 1) * sizeof *cdf);
  if (!cdf) return sw_err_set(err, SW_ERR_NOMEM, "U test: out of memory");
  sw_rc rc = sw_mwu_null_cdf(nx, ny, cdf, err);
  if (rc == SW_OK) {
    size_t ui = (size_t)llround(u), mn = nx * ny;
    double lower = cdf[ui], upper = cdf[mn - ui]; /* P(U >= u) = P(U <= mn - u) by symmetry */
    double tail = lower < upper ? lower : upper;
    *p = 2 * tail > 1 ? 1 : 2 * tail;
  }
  free(cdf);
  return rc;
}

sw_rc sw_mwu_test(const double *x, size_t nx, const double *y, size_t ny, sw_mwu_t *out, sw_err_t *err) {
  if (nx == 0 || ny == 0) return sw_err_set(err, SW_ERR_INVALID, "U test needs two non-empty samples");
  if (any_nan(x, nx) || any_nan(y, ny)) return sw_err_set(err, SW_ERR_INVALID, "U test: NaN in a sample");
  double rs = 0, tt = 0;
  sw_rc rc = pooled_ranks(x, nx, y, ny, &rs, &tt, err);
  if (rc != SW_OK) return rc;
  double m = (double)nx, n = (double)ny, big_n = m + n;
  memset(out, 0, sizeof *out);
  out->u = rs - m * (m + 1) / 2;
  out->ties = tt > 0;
  if (!out->ties && nx + ny <= SW_MWU_EXACT_MAX_N) {
    out->exact = 1;
    return mwu_exact_p(nx, ny, out->u, &out->p, err);
  }
  double mu = m * n / 2;
  double var = m * n / 12 * ((big_n + 1) - tt / (big_n * (big_n - 1)));
  if (!(var > 0)) { /* every value tied: no evidence of a difference */
    out->p = 1;
    return SW_OK;
  }
  double dev = fabs(out->u - mu) - 0.5;
  double z = dev / sqrt(var);
  out->z = out->u >= mu ? z : -z;
  double p = 2 * sw_norm_sf(z);
  out->p = p > 1 ? 1 : p;
  return SW_OK;
}

/* ---------------------------------------------------------------- multiple comparisons */

typedef struct indexed {
  double v;
  size_t i;
} indexed_t;

static int cmp_indexed(const void *a, const void *b) {
  const indexed_t *x = a, *y = b;
  int c = cmp_double(&x->v, &y->v);
  return c ? c : (x->i > y->i) - (x->i < y->i);
}

sw_rc sw_padjust_parse(const char *name, sw_padjust *out, sw_err_t *err) {
  static const char *const names[] = {"none", "holm", "bh"}; /* indexed by sw_padjust */
  int i = sw_names_find(names, sizeof names / sizeof names[0], name);
  if (i < 0)
    return sw_err_set(err, SW_ERR_INVALID, "unknown correction '%s' (expected holm, bh or none)", name ? name : "(null)");
  *out = (sw_padjust)i;
  return SW_OK;
}

sw_rc sw_p_adjust(const double *p, size_t m, sw_padjust method, double *adjusted, sw_err_t *err) {
  indexed_t *s = malloc((m ? m : 1) * sizeof *s);
  if (!s) return sw_err_set(err, SW_ERR_NOMEM, "p-value adjustment: out of memory");
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    adjusted[i] = p[i];
    if (!isnan(p[i])) s[k++] = (indexed_t){p[i], i};
  }
  qsort(s, k, sizeof *s, cmp_indexed);
  if (method == SW_PADJUST_HOLM) { /* step-down: max over j <= i of (k - j) p_(j) */
    double run = 0;
    for (size_t j = 0; j < k; j++) {
      double v = (double)(k - j) * s[j].v;
      run = v > run ? v : run;
      adjusted[s[j].i] = run > 1 ? 1 : run;
    }
  } else if (method == SW_PADJUST_BH) { /* step-up: min over j >= i of k / (j + 1) p_(j) */
    double run = 1;
    for (size_t j = k; j-- > 0;) {
      double v = (double)k / (double)(j + 1) * s[j].v;
      run = v < run ? v : run;
      adjusted[s[j].i] = run;
    }
  }
  free(s);
  return SW_OK;
}

/* ---------------------------------------------------------------- intervals */

/* Largest l with P(Bin(n, 1/2) <= l - 1) <= tail (0 when none); *cum receives P(B <= l - 1). */
static size_t binom_half_cut(size_t n, double tail, double *cum) {
  double acc = 0, lfull = lgamma((double)n + 1) - (double)n * log(2.0);
  size_t l = 0;
  for (size_t k = 0; k <= n; k++) {
    double pk = exp(lfull - lgamma((double)k + 1) - lgamma((double)(n - k) + 1));
    if (acc + pk > tail) break;
    acc += pk;
    l = k + 1;
  }
  *cum = acc;
  return l;
}

sw_rc sw_median_ci(const double *x, size_t n, double level, sw_estimate_t *out, sw_err_t *err) {
  if (n == 0) return sw_err_set(err, SW_ERR_INVALID, "median of an empty sample");
  if (!(level > 0 && level < 1)) return sw_err_set(err, SW_ERR_INVALID, "confidence level %g not in (0, 1)", level);
  double *s = malloc(n * sizeof *s);
  if (!s) return sw_err_set(err, SW_ERR_NOMEM, "median: out of memory");
  sw_sorted_copy(x, n, s);
  out->value = sorted_median(s, n);
  double cum;
  size_t l = binom_half_cut(n, (1 - level) / 2, &cum);
  if (l == 0 || l > n - l + 1) {
    out->lo = out->hi = out->confidence = NAN;
  } else {
    out->lo = s[l - 1];
    out->hi = s[n - l];
    out->confidence = 1 - 2 * cum;
  }
  free(s);
  return SW_OK;
}

double sw_median_ci_relhw(const double *x, size_t n, double level) {
  sw_estimate_t e;
  if (n == 0 || sw_median_ci(x, n, level, &e, NULL) != SW_OK || e.value == 0) return NAN;
  return (e.hi - e.lo) / (2 * fabs(e.value)); /* NaN when the interval is */
}

/* Relative half-width of the median of the per-repetition ratios num_i / den_i. */
static double ratio_relhw(const double *num, const double *den, size_t n, double level) {
  double *r = malloc((n ? n : 1) * sizeof *r);
  if (!r) return NAN;
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    ok = ok && den[i] > 0;
    r[i] = ok ? num[i] / den[i] : NAN;
  }
  double w = ok ? sw_median_ci_relhw(r, n, level) : NAN;
  free(r);
  return w;
}

double sw_reps_widths(const sw_reps_view_t *v, size_t n, double level, double *widths) {
  double worst = -INFINITY;
  for (size_t j = 0; j < v->n_series + v->n_pairs; j++) {
    double w = j < v->n_series ? sw_median_ci_relhw(v->series[j], n, level)
                               : ratio_relhw(v->series[v->pairs[j - v->n_series][0]],
                                             v->series[v->pairs[j - v->n_series][1]], n, level);
    if (widths) widths[j] = w;
    worst = isnan(w) || isnan(worst) ? NAN : fmax(worst, w);
  }
  return worst;
}

sw_reps_verdict sw_reps_decide(const sw_reps_rule_t *r, const sw_reps_view_t *v, size_t n, double elapsed_s) {
  if (n < r->min_reps) return SW_REPS_MORE;
  if (sw_reps_widths(v, n, r->level, NULL) <= r->target) return SW_REPS_TARGET; /* NaN: not yet measurable */
  if (n >= r->max_reps) return SW_REPS_MAX;
  if (r->budget_s > 0 && n > 0 && elapsed_s + elapsed_s / (double)n > r->budget_s) return SW_REPS_BUDGET;
  return SW_REPS_MORE;
}

/* Index k (1-based, 0 = none) of the Moses interval's lower end in the sorted nx*ny differences. */
static sw_rc moses_cut(size_t nx, size_t ny, double level, size_t *k, double *conf, sw_err_t *err) {
  double tail = (1 - level) / 2;
  *k = 0;
  *conf = NAN;
  if (nx + ny <= SW_MWU_EXACT_MAX_N) {
    double *cdf = malloc((nx * ny + 1) * sizeof *cdf);
    if (!cdf) return sw_err_set(err, SW_ERR_NOMEM, "ratio interval: out of memory");
    sw_rc rc = sw_mwu_null_cdf(nx, ny, cdf, err);
    for (size_t u = 0; rc == SW_OK && u < nx * ny && cdf[u] <= tail; u++) {
      *k = u + 1;
      *conf = 1 - 2 * cdf[u];
    }
    free(cdf);
    return rc;
  }
  double m = (double)nx, n = (double)ny;
  double c = m * n / 2 - sw_norm_isf(tail) * sqrt(m * n * (m + n + 1) / 12); /* H&W eq. 4.41 */
  if (c >= 1) {
    *k = (size_t)floor(c);
    *conf = level;
  }
  return SW_OK;
}

sw_rc sw_ratio_ci(const double *x, size_t nx, const double *y, size_t ny, double level, sw_estimate_t *out,
                  sw_err_t *err) {
  if (nx == 0 || ny == 0) return sw_err_set(err, SW_ERR_INVALID, "ratio of medians needs two non-empty samples");
  if (!(level > 0 && level < 1)) return sw_err_set(err, SW_ERR_INVALID, "confidence level %g not in (0, 1)", level);
  for (size_t i = 0; i < nx; i++)
    if (!(x[i] > 0)) return sw_err_set(err, SW_ERR_INVALID, "ratio of medians: baseline value %g is not > 0", x[i]);
  for (size_t j = 0; j < ny; j++)
    if (!(y[j] > 0)) return sw_err_set(err, SW_ERR_INVALID, "ratio of medians: candidate value %g is not > 0", y[j]);
  if ((double)nx * (double)ny > 4e6)
    return sw_err_set(err, SW_ERR_RANGE, "ratio interval for %zu x %zu samples is too large", nx, ny);
  out->value = sw_median(y, ny) / sw_median(x, nx);
  out->lo = out->hi = out->confidence = NAN;
  size_t k;
  double conf;
  sw_rc rc = moses_cut(nx, ny, level, &k, &conf, err);
  if (rc != SW_OK || k == 0) return rc;
  size_t d = nx * ny;
  double *diff = malloc(d * sizeof *diff);
  if (!diff) return sw_err_set(err, SW_ERR_NOMEM, "ratio interval: out of memory");
  for (size_t i = 0; i < nx; i++)
    for (size_t j = 0; j < ny; j++) diff[i * ny + j] = log(y[j]) - log(x[i]);
  qsort(diff, d, sizeof *diff, cmp_double);
  out->lo = exp(diff[k - 1]);
  out->hi = exp(diff[d - k]);
  out->confidence = conf;
  free(diff);
  return SW_OK;
}

/* ---------------------------------------------------------------- change points */

/* Robust Laplace scale of the noise from successive differences: the differences of iid noise with
 * standard deviation s have median |d| = 0.6745 * s * sqrt(2); Laplace scale b = s / sqrt(2). */
static double noise_scale(const double *x, size_t n, double *tmp) {
  if (n < 2) return 0;
  for (size_t i = 0; i + 1 < n; i++) tmp[i] = fabs(x[i + 1] - x[i]);
  sw_sorted_copy(tmp, n - 1, tmp);
  double s = sorted_median(tmp, n - 1) / (0.6744897501960817 * sqrt(2.0));
  return s / sqrt(2.0);
}

/* Inserts v into the sorted prefix s[0..len) and returns the L1 cost sum |s - median| of s[0..len]. */
static double insert_and_cost(double *s, size_t len, double v) {
  size_t pos = len;
  while (pos > 0 && s[pos - 1] > v) {
    s[pos] = s[pos - 1];
    pos--;
  }
  s[pos] = v;
  double med = sorted_median(s, len + 1), c = 0;
  for (size_t i = 0; i <= len; i++) c += fabs(s[i] - med);
  return c;
}

/* Optimal partitioning: best[j] = min_i best[i] + cost(i, j) + beta; start[j] = argmin. */
static void optimal_partition(const double *x, size_t n, double beta, double *best, size_t *start, double *s) {
  best[0] = -beta;
  for (size_t j = 1; j <= n; j++) best[j] = INFINITY;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j <= n; j++) {
      double c = best[i] + insert_and_cost(s, j - i - 1, x[j - 1]) + beta;
      if (c < best[j]) {
        best[j] = c;
        start[j] = i;
      }
    }
}

static double segment_median(const double *x, size_t a, size_t b, double *tmp) {
  sw_sorted_copy(x + a, b - a, tmp);
  return sorted_median(tmp, b - a);
}

/* Removes, one at a time, the boundary with the smallest relative level change below min_rel. */
static void merge_small_steps(const double *x, size_t n, double min_rel, int *step_at, double *tmp) {
  for (;;) {
    size_t prev = 0, best_at = 0;
    double best_rel = INFINITY;
    for (size_t b = 1; b <= n; b++) {
      if (b < n && !step_at[b]) continue;
      if (prev > 0) { /* segment [before, prev) vs [prev, b) */
        size_t before = prev - 1;
        while (before > 0 && !step_at[before]) before--;
        double m1 = segment_median(x, before, prev, tmp), m2 = segment_median(x, prev, b, tmp);
        double rel = m1 != 0 ? fabs(m2 / m1 - 1) : (m2 != 0 ? INFINITY : 0);
        if (rel < best_rel) {
          best_rel = rel;
          best_at = prev;
        }
      }
      prev = b;
    }
    if (best_at == 0 || best_rel >= min_rel) return;
    step_at[best_at] = 0;
  }
}

sw_rc sw_change_points(const double *x, size_t n, double min_rel, int *step_at, double *level,
                       size_t *nsteps, sw_err_t *err) {
  *nsteps = 0;
  if (n == 0) return SW_OK;
  if (n > 1000) return sw_err_set(err, SW_ERR_RANGE, "change points: history of %zu points is too long (max 1000)", n);
  if (any_nan(x, n)) return sw_err_set(err, SW_ERR_INVALID, "change points: NaN in the history");
  double *best = malloc((n + 1) * sizeof *best), *tmp = malloc((n + 1) * sizeof *tmp);
  size_t *start = calloc(n + 1, sizeof *start);
  if (!best || !tmp || !start) {
    free(best);
    free(tmp);
    free(start);
    return sw_err_set(err, SW_ERR_NOMEM, "change points: out of memory");
  }
  double b = noise_scale(x, n, tmp), scale = fabs(sw_median(x, n));
  double floor_b = 1e-12 * (scale > 0 ? scale : 1); /* exact data: any change may be a step */
  double beta = 2 * log((double)n + 1) * (b > floor_b ? b : floor_b);
  optimal_partition(x, n, beta, best, start, tmp);
  memset(step_at, 0, n * sizeof *step_at);
  for (size_t j = n; j > 0; j = start[j])
    if (start[j] > 0) step_at[start[j]] = 1;
  merge_small_steps(x, n, min_rel, step_at, tmp);
  for (size_t a = 0; a < n;) {
    size_t e = a + 1;
    while (e < n && !step_at[e]) e++;
    double m = segment_median(x, a, e, tmp);
    for (size_t i = a; i < e; i++) level[i] = m;
    if (a > 0) (*nsteps)++;
    a = e;
  }
  free(best);
  free(tmp);
  free(start);
  return SW_OK;
}

/* ------------------------------------------------------------------ Student t, run-level test */

/* Continued fraction of the regularized incomplete beta function I_x(a, b), evaluated with the modified
 * Lentz method (Press et al., Numerical Recipes, 3rd ed., §6.4, eq. 6.4.5; own implementation). */
static double beta_cont_frac(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (fabs(d) < tiny ? tiny : d);
  double h = d;
  for (int m = 1; m <= 300; m++) {
    for (int odd = 0; odd < 2; odd++) {
      double num = odd ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                       : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
      d = 1 + num * d;
      d = 1 / (fabs(d) < tiny ? tiny : d);
      c = 1 + num / c;
      if (fabs(c) < tiny) c = tiny;
      h *= d * c;
      if (odd && fabs(d * c - 1) < 1e-15) return h;
    }
  }
  return h;
}

/* Regularized incomplete beta I_x(a, b) for a, b > 0, x in [0, 1]. */
static double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double lbeta = lgamma(a + b) - lgamma(a) - lgamma(b);
  double front = exp(lbeta + a * log(x) + b * log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_cont_frac(a, b, x) / a;
  return 1 - front * beta_cont_frac(b, a, 1 - x) / b;
}

double sw_t_p2(double t, double df) {
  if (isnan(t) || !(df > 0)) return NAN;
  if (isinf(t)) return 0;
  return incomplete_beta(0.5 * df, 0.5, df / (df + t * t));
}

double sw_t_isf2(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
  double lo = 0, hi = 1;
  while (sw_t_p2(hi, df) > p && hi < 1e12) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    double mid = 0.5 * (lo + hi);
    if (sw_t_p2(mid, df) > p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

sw_rc sw_run_ttest(const double *x, size_t nx, const double *y, size_t ny, double level, sw_estimate_t *ratio,
                   double *p, sw_err_t *err) {
  if (nx < 2 || ny < 2 || !(level > 0 && level < 1))
    return sw_err_set(err, SW_ERR_INVALID, "run-level test: need >= 2 runs per side (got %zu and %zu)", nx, ny);
  double sx = 0, sy = 0, qx = 0, qy = 0;
  for (size_t i = 0; i < nx; i++) {
    if (!(x[i] > 0)) return sw_err_set(err, SW_ERR_INVALID, "run-level test: values must be > 0");
    sx += log(x[i]);
  }
  for (size_t i = 0; i < ny; i++) {
    if (!(y[i] > 0)) return sw_err_set(err, SW_ERR_INVALID, "run-level test: values must be > 0");
    sy += log(y[i]);
  }
  double mx = sx / (double)nx, my = sy / (double)ny;
  for (size_t i = 0; i < nx; i++) qx += (log(x[i]) - mx) * (log(x[i]) - mx);
  for (size_t i = 0; i < ny; i++) qy += (log(y[i]) - my) * (log(y[i]) - my);
  double df = (double)(nx + ny - 2), diff = my - mx;
  double se = sqrt((qx + qy) / df * (1.0 / (double)nx + 1.0 / (double)ny));
  double q = sw_t_isf2(1 - level, df);
  ratio->value = exp(diff);
  ratio->confidence = level;
  ratio->lo = exp(diff - q * se);
  ratio->hi = exp(diff + q * se);
  if (se > 0) *p = sw_t_p2(diff / se, df);
  else *p = diff == 0 ? 1 : 0;
  return SW_OK;
}
