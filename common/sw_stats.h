/* sw_stats: the project's one statistics module, used by the runners (workers/), the benchmarks (cli/) and
 * the reports (results/): median and quantiles with one definition (below), and the statistics behind
 * `report`, `compare` and `history`: Mann-Whitney U (exact and normal
 * approximation), Holm and Benjamini-Hochberg adjustment, median with a distribution-free confidence
 * interval, a confidence interval for a ratio of medians, CV, geometric mean, and change-point
 * detection for a history.  Pure functions over double arrays; inputs are never modified (functions
 * that need sorted data copy it).  No allocation in the simple summaries; the tests and intervals
 * allocate scratch and report SW_ERR_NOMEM. */
#ifndef SW_STATS_H
#define SW_STATS_H
#include <stddef.h>

#include "common/sw_err.h"

/* Exact Mann-Whitney null distribution is used when there are no ties and nx + ny <= this. */
#define SW_MWU_EXACT_MAX_N 40

/* Result of a two-sided Mann-Whitney U test of x against y. */
typedef struct sw_mwu {
  double u;       /* U statistic of x: #pairs x_i > y_j plus half the ties (scipy's U1) */
  double p;       /* two-sided p-value in [0, 1] */
  double z;       /* normal score (0 when the exact distribution was used) */
  int    exact;   /* 1 when p comes from the exact null distribution */
  int    ties;    /* 1 when the pooled sample had ties */
} sw_mwu_t;

/* Two-sided Mann-Whitney U (Wilcoxon rank-sum) test.  Exact p when there are no ties and
 * nx + ny <= SW_MWU_EXACT_MAX_N; otherwise the normal approximation with tie-corrected variance and
 * a 0.5 continuity correction (Hollander & Wolfe, Nonparametric Statistical Methods, 3rd ed., §4.1).
 * nx, ny >= 1; SW_ERR_INVALID otherwise or on NaN input. */
sw_rc sw_mwu_test(const double *x, size_t nx, const double *y, size_t ny, sw_mwu_t *out, sw_err_t *err);

/* Smallest two-sided p-value a U test can reach with these sample sizes (no ties): 2 / C(nx+ny, nx).
 * Used to say "too few samples to ever be significant" instead of giving a verdict. */
double sw_mwu_min_p(size_t nx, size_t ny);

/* Lower-tail probabilities of the exact null distribution of U: cdf[u] = P(U <= u), u = 0..nx*ny.
 * cdf must hold nx*ny + 1 doubles. */
sw_rc sw_mwu_null_cdf(size_t nx, size_t ny, double *cdf, sw_err_t *err);

typedef enum sw_padjust {
  SW_PADJUST_NONE = 0,
  SW_PADJUST_HOLM = 1, /* family-wise error rate (Holm 1979) */
  SW_PADJUST_BH = 2    /* false discovery rate (Benjamini & Hochberg 1995) */
} sw_padjust;

/* Adjusted p-values for m tests, in the input order: Holm's step-down or BH's step-up.  NaN inputs
 * (tests that were not performed) stay NaN and do not count in m. */
sw_rc sw_p_adjust(const double *p, size_t m, sw_padjust method, double *adjusted, sw_err_t *err);
/* Parses "holm" | "bh" | "none"; SW_ERR_INVALID otherwise. */
sw_rc sw_padjust_parse(const char *name, sw_padjust *out, sw_err_t *err);

/* A location estimate with a confidence interval; lo/hi are NaN when n is too small for one. */
typedef struct sw_estimate {
  double value;      /* the point estimate */
  double lo, hi;     /* interval bounds, NaN when unavailable */
  double confidence; /* the interval's actual coverage guarantee (>= the requested level) */
} sw_estimate_t;

/* Median of x (mean of the two middle values for even n) with the distribution-free order-statistic
 * interval [x_(l), x_(n-l+1)], l the largest index with P(Bin(n, 1/2) < l) <= (1 - level) / 2
 * (Hollander & Wolfe §3.6; benchstat's QuantileCI).  Needs n >= 6 for a 95% interval. */
sw_rc sw_median_ci(const double *x, size_t n, double level, sw_estimate_t *out, sw_err_t *err);

/* Precision of a median as the reports judge it: the relative half-width (hi - lo) / (2 |median|) of the
 * order-statistic interval of sw_median_ci at level.  NaN when n is too small for an interval (n < 6 at 95%), the
 * median is 0, or a scratch copy cannot be allocated. */
double sw_median_ci_relhw(const double *x, size_t n, double level);

/* ---- adaptive repetitions (a sequential fixed-width interval rule, after Chow & Robbins 1965) ----
 * A timed phase runs at least min_reps repetitions, then keeps adding one while the widest of the tracked
 * medians' intervals (sw_median_ci_relhw) is above target, up to max_reps and within a time budget.  The rule
 * looks only at interval widths, never at where the medians lie (docs/measurement.md, "Adaptive
 * repetitions"). */
typedef struct sw_reps_rule {
  size_t min_reps; /* always run this many */
  size_t max_reps; /* never more (>= min_reps) */
  double target;   /* stop once every tracked relative half-width is <= target */
  double level;    /* interval level (0.95) */
  double budget_s; /* no repetition is added when the n done plus one more of their mean time exceed it; <= 0: none */
} sw_reps_rule_t;

typedef enum sw_reps_verdict {
  SW_REPS_MORE = 0,   /* run another repetition */
  SW_REPS_TARGET = 1, /* every tracked median is within the target */
  SW_REPS_MAX = 2,    /* max_reps reached with a median still wider than the target */
  SW_REPS_BUDGET = 3  /* one more repetition would exceed the time budget */
} sw_reps_verdict;

/* The medians a timed phase tracks after n repetitions: n_series series of n values each, and n_pairs
 * per-repetition ratios series[pairs[j][0]][i] / series[pairs[j][1]][i] (a paired speedup). */
typedef struct sw_reps_view {
  const double *const *series;
  size_t               n_series;
  const size_t (*pairs)[2];
  size_t               n_pairs;
} sw_reps_view_t;

/* The relative half-widths of every tracked median after n repetitions (series first, then pairs) into
 * widths (n_series + n_pairs values; may be NULL) and their maximum as the result; NaN when any is NaN (too
 * few repetitions, a ratio with a non-positive denominator, no memory). */
double sw_reps_widths(const sw_reps_view_t *v, size_t n, double level, double *widths);

/* What to do after n repetitions that took elapsed_s of wall time (warm-up excluded). */
sw_reps_verdict sw_reps_decide(const sw_reps_rule_t *r, const sw_reps_view_t *v, size_t n, double elapsed_s);

/* Ratio y/x of medians (candidate y over baseline x) with a confidence interval for it.  The interval is
 * the Hodges-Lehmann/Moses interval for a shift on the log scale: order statistics of the nx*ny pairwise
 * differences log y_j - log x_i, cut at the Mann-Whitney critical value (exact null when small, normal
 * otherwise), then exponentiated.  Why this and not a bootstrap: it needs no random numbers, it is
 * exactly distribution-free under the multiplicative-slowdown model that suits latencies (y = r * x in
 * distribution), and it is consistent with the U test reported next to it (the interval excludes 1
 * essentially when the test rejects at the same level).  All values must be > 0.  value = median(y) /
 * median(x); lo/hi NaN when the samples are too small. */
sw_rc sw_ratio_ci(const double *x, size_t nx, const double *y, size_t ny, double level, sw_estimate_t *out,
                  sw_err_t *err);

/* Arithmetic mean; NaN when n == 0. */
double sw_mean(const double *x, size_t n);
/* Sample standard deviation (n - 1 denominator); NaN when n < 2. */
double sw_stddev(const double *x, size_t n);
/* Coefficient of variation stddev / |mean|; NaN when n < 2 or the mean is 0. */
double sw_cv(const double *x, size_t n);
/* Geometric mean exp(mean(log x)); NaN when n == 0 or any value <= 0. */
double sw_geomean(const double *x, size_t n);
/* The project's one median and quantile definition (docs/measurement.md):
 * the q-quantile of n values is the linear interpolation between order statistics at h = (n - 1) q
 * (Hyndman & Fan 1996, "Sample quantiles in statistical packages", definition 7; R's and numpy's default):
 * x_(floor h) + (h - floor h) (x_(floor h + 1) - x_(floor h)), 0-based.  At q = 0.5 it is the usual median:
 * the middle value for odd n, the mean of the two middle values for even n, so the median of an even number of
 * repetitions does not lean towards the faster or the slower half.  Both functions leave x unchanged. */
/* Median; NaN when n == 0 (or when a scratch copy cannot be allocated). */
double sw_median(const double *x, size_t n);
/* q-quantile (q in [0, 1], clamped) of x; NaN when n == 0, q is NaN, or on allocation failure. */
double sw_quantile(const double *x, size_t n, double q);
/* The same on already sorted values (no copy). */
double sw_quantile_sorted(const double *sorted, size_t n, double q);
/* Sorts a copy of x into out (n doubles). */
void sw_sorted_copy(const double *x, size_t n, double *out);

/* Standard normal upper-tail probability P(Z > z), and its inverse for p in (0, 1). */
double sw_norm_sf(double z);
double sw_norm_isf(double p);

/* Student's t distribution with df > 0 degrees of freedom: the two-sided tail P(|T| > |t|) (through the
 * regularized incomplete beta function, I_{df/(df+t^2)}(df/2, 1/2)), and its inverse: the t with
 * P(|T| > t) = p, for p in (0, 1).  NaN on bad input. */
double sw_t_p2(double t, double df);
double sw_t_isf2(double p, double df);

/* The run-level test of compare: x[nx] and y[ny] are one value per run (a run's median, or its median
 * per-repetition speedup), all > 0, nx, ny >= 2.  Runs, not repetitions, are the independent samples (a rerun
 * moves the whole run).  Two-sample Student t test with pooled variance on the logs (df = nx + ny - 2; a
 * multiplicative change is a shift of the logs, and on one machine both sides share one run-to-run
 * variance); *ratio = exp(mean log y - mean log x), the ratio of geometric means, with its t interval at
 * level; *p the two-sided p-value (1 or 0 when every run has the same value).  SW_ERR_INVALID on bad input. */
sw_rc sw_run_ttest(const double *x, size_t nx, const double *y, size_t ny, double level, sw_estimate_t *ratio,
                   double *p, sw_err_t *err);

/* Change-point detection on a history (values in commit order).  Optimal partitioning (Jackson et al.
 * 2005, "An algorithm for optimal partitioning of data on an interval") of an L1 piecewise-constant
 * fit, as in asv's step detection but without its per-point weights and AR(1) term: minimise
 * sum |x - segment median| + beta * (#segments), with beta = 2 ln(n) * b, b the Laplace scale estimated
 * robustly from successive differences (a BIC-style penalty, Schwarz 1978).  Steps whose relative
 * change |m_after / m_before - 1| is below min_rel are then merged away (asv default 5%).
 * step_at[i] is set to 1 when a new level starts at index i (i >= 1), 0 otherwise; level[i] receives
 * the fitted level (segment median).  Returns the number of steps in *nsteps.  O(n^3) time with the
 * straightforward segment costs: n <= 1000 (SW_ERR_RANGE beyond). */
sw_rc sw_change_points(const double *x, size_t n, double min_rel, int *step_at, double *level,
                       size_t *nsteps, sw_err_t *err);

#endif
