/* Unit tests for common/sw_stats: Mann-Whitney U and p against hand counts and scipy 1.17.1
 * (scipy.stats.mannwhitneyu, an independent implementation; the numbers are written down here, scipy is
 * not needed at run time), Holm/BH on a p-value list adjusted by hand, order-statistic and ratio
 * intervals against hand values and a brute-force Python enumeration, interval coverage on synthetic
 * distributions with a fixed seed, change points on planted steps, and the adaptive-repetition rule on hand-made
 * sequences (tight data stops at the minimum, one outlier stops once the interval drops it, steady noise runs to
 * the maximum, the paired ratio alone keeps it going, the time budget) and its coverage after optional stopping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_stats.h"

/* Tolerances: p-values and quantities computed in closed form agree to rounding error only. */
#define TOL_ABS 1e-12
#define TOL_REL 1e-9

static void assert_close(double got, double want) {
  double tol = TOL_ABS + TOL_REL * fabs(want);
  if (!(fabs(got - want) <= tol)) fail_msg("got %.17g, want %.17g (tol %.3g)", got, want, tol);
}

/* splitmix64 (Steele et al. 2014) for reproducible synthetic data, and Box-Muller normals. */
typedef struct rng {
  uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double rng_uniform(rng_t *r) { return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

static double rng_normal(rng_t *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* ------------------------------------------------------------------ Student t and the run-level test */

/* Closed forms: df = 1 is the Cauchy distribution (p = 1 - 2 atan|t| / pi), df = 2 has p = 1 - |t|/sqrt(2+t^2);
 * quantiles from printed t tables (t_0.975 = 12.7062 at df 1, 2.776445 at df 4, 2.228139 at df 10). */
static void test_student_t_closed_forms(void **state) {
  (void)state;
  for (double t = 0; t < 50; t = t * 1.7 + 0.05) {
    assert_close(sw_t_p2(t, 1), 1 - 2 * atan(t) / M_PI);
    assert_close(sw_t_p2(-t, 2), 1 - t / sqrt(2 + t * t));
  }
  assert_true(fabs(sw_t_isf2(0.05, 1) - 12.7062047) < 1e-6);
  assert_true(fabs(sw_t_isf2(0.05, 4) - 2.776445) < 1e-5);
  assert_true(fabs(sw_t_isf2(0.05, 10) - 2.228139) < 1e-5);
  assert_true(isnan(sw_t_p2(1, 0)) && isnan(sw_t_isf2(0, 3)));
}

/* Logs 0, 0.1, 0.2 against 0.2, 0.3, 0.4: difference 0.2, pooled variance 0.01, t = 0.2 / (0.1 sqrt(2/3)) =
 * sqrt(6), df 4; two-sided p = 0.0704840 from the closed-form df-4 CDF (1/2 + 3/8 u (1 - t^2/(12 (1 + t^2/4))),
 * u = t / sqrt(1 + t^2/4)), checked by numerical integration of the density. */
static void test_run_ttest_hand_computed(void **state) {
  (void)state;
  const double x[] = {1, exp(0.1), exp(0.2)}, y[] = {exp(0.3), exp(0.2), exp(0.4)};
  sw_estimate_t r;
  double p;
  sw_err_t err;
  assert_int_equal(sw_run_ttest(x, 3, y, 3, 0.95, &r, &p, &err), SW_OK);
  assert_close(r.value, exp(0.2));
  assert_true(fabs(p - 0.0704840) < 1e-6);
  const double se = 0.1 * sqrt(2.0 / 3.0);
  assert_true(fabs(log(r.lo) - (0.2 - 2.776445 * se)) < 1e-5);
  assert_true(fabs(log(r.hi) - (0.2 + 2.776445 * se)) < 1e-5);
  /* identical runs: no variance, p 1 without a change; one run per side is refused */
  const double same[] = {2, 2, 2};
  assert_int_equal(sw_run_ttest(same, 3, same, 3, 0.95, &r, &p, &err), SW_OK);
  assert_true(p == 1 && r.value == 1);
  assert_int_equal(sw_run_ttest(x, 1, y, 3, 0.95, &r, &p, &err), SW_ERR_INVALID);
}

/* ------------------------------------------------------------------ Mann-Whitney U */

static void test_mwu_hand_counted(void **state) {
  (void)state;
  /* x = {1, 2}, y = {3, 4}: no x beats a y, U = 0; the arrangement is 1 of C(4,2) = 6, two-sided p = 2/6. */
  const double x[] = {1, 2}, y[] = {3, 4};
  sw_mwu_t r;
  sw_err_t err;
  assert_int_equal(sw_mwu_test(x, 2, y, 2, &r, &err), SW_OK);
  assert_close(r.u, 0);
  assert_close(r.p, 1.0 / 3.0);
  assert_true(r.exact);
  /* Smallest reachable p with 3 + 3 samples: 2 / C(6, 3) = 0.1 (why benchstat wants >= 4 per side). */
  assert_close(sw_mwu_min_p(3, 3), 0.1);
  assert_close(sw_mwu_min_p(4, 4), 2.0 / 70.0);
}

static void test_mwu_exact_scipy(void **state) {
  (void)state;
  sw_mwu_t r;
  sw_err_t err;
  /* scipy.stats.mannwhitneyu(x, y, method='exact') -> U = 17.0, p = 0.1111111111111111.
   * Hand check of U: 19 > 3 of y, 22 > 4, 16 > 2, 29 > 4, 24 > 4: 17. */
  const double ax[] = {19, 22, 16, 29, 24}, ay[] = {20, 11, 17, 12};
  assert_int_equal(sw_mwu_test(ax, 5, ay, 4, &r, &err), SW_OK);
  assert_close(r.u, 17);
  assert_close(r.p, 0.1111111111111111);
  /* 15 vs 20 values without ties; scipy exact: U = 81.0, p = 0.02099321651922012. */
  double cx[15], cy[20];
  for (int i = 1; i <= 15; i++) cx[i - 1] = round((0.1 * i * i + 0.37 * i) * 1000) / 1000;
  for (int i = 1; i <= 20; i++) cy[i - 1] = round((0.09 * i * i + 1.1 * i + 0.05) * 1000) / 1000;
  assert_int_equal(sw_mwu_test(cx, 15, cy, 20, &r, &err), SW_OK);
  assert_true(r.exact);
  assert_close(r.u, 81);
  assert_close(r.p, 0.02099321651922012);
  /* Swapping the samples gives U2 = nx*ny - U1 and the same two-sided p. */
  assert_int_equal(sw_mwu_test(cy, 20, cx, 15, &r, &err), SW_OK);
  assert_close(r.u, 300 - 81);
  assert_close(r.p, 0.02099321651922012);
}

static void test_mwu_normal_ties_scipy(void **state) {
  (void)state;
  sw_mwu_t r;
  sw_err_t err;
  /* Ties: scipy asymptotic with continuity correction (tie-corrected variance): U = 15, p = 0.0010278501195082567. */
  const double bx[] = {3, 4, 2, 6, 2, 5, 5, 7, 3, 4, 6, 1}, by[] = {9, 7, 5, 10, 6, 8, 7, 9, 4, 6, 8, 8};
  assert_int_equal(sw_mwu_test(bx, 12, by, 12, &r, &err), SW_OK);
  assert_false(r.exact);
  assert_true(r.ties);
  assert_close(r.u, 15);
  assert_close(r.p, 0.0010278501195082567);
  /* 30 vs 30 without ties (above the exact limit), numpy default_rng(1) normals rounded to 4 digits;
   * scipy asymptotic: U = 289, p = 0.017649028129173842. */
  const double dx[] = {10.3456, 10.8216, 10.3304, 8.6968, 10.9054, 10.4464, 9.463,  10.5811, 10.3646, 10.2941,
                       10.0284, 10.5467, 9.2635,  9.8371, 9.5179,  10.5988, 10.0397, 9.7075, 9.2181,  9.7428,
                       10.0081, 9.7244,  11.2941, 11.0067, 7.2888, 8.111,   9.8252,  9.5778, 10.2136, 10.2173};
  const double dy[] = {12.7178, 9.488,   10.2224, 12.6428, 11.2467, 11.2631, 10.086,  8.9519,  10.7675, 10.709,
                       9.3726,  9.9168,  10.528,  9.6552,  10.5017, 10.6955, 10.6356, 10.0937, 11.1937, 11.4912,
                       10.9208, 9.7818,  11.3317, 10.0986, 11.4792, 9.5282,  11.5145, 10.5799, 9.3513,  10.2861};
  assert_int_equal(sw_mwu_test(dx, 30, dy, 30, &r, &err), SW_OK);
  assert_false(r.exact);
  assert_close(r.u, 289);
  assert_close(r.p, 0.017649028129173842);
  /* Everything tied: no evidence at all. */
  const double t[] = {5, 5, 5};
  assert_int_equal(sw_mwu_test(t, 3, t, 3, &r, &err), SW_OK);
  assert_close(r.p, 1);
}

static void test_mwu_rejects_bad_input(void **state) {
  (void)state;
  const double x[] = {1, NAN};
  sw_mwu_t r;
  sw_err_t err;
  assert_int_equal(sw_mwu_test(x, 0, x, 1, &r, &err), SW_ERR_INVALID);
  assert_int_equal(sw_mwu_test(x, 2, x, 1, &r, &err), SW_ERR_INVALID);
}

static void test_mwu_null_cdf_sums(void **state) {
  (void)state;
  /* m = 2, n = 2: U takes 0,1,2,2,3,4 over the 6 arrangements -> cdf 1/6, 2/6, 4/6, 5/6, 1. */
  double cdf[5];
  sw_err_t err;
  assert_int_equal(sw_mwu_null_cdf(2, 2, cdf, &err), SW_OK);
  const double want[] = {1.0 / 6, 2.0 / 6, 4.0 / 6, 5.0 / 6, 1.0};
  for (int i = 0; i < 5; i++) assert_close(cdf[i], want[i]);
}

/* ------------------------------------------------------------------ multiple comparisons */

static void test_p_adjust_holm_bh(void **state) {
  (void)state;
  const double p[] = {0.01, 0.04, 0.03, 0.005, 0.2, 0.5};
  double a[6];
  sw_err_t err;
  /* Holm by hand: sorted 0.005*6 = .03, 0.01*5 = .05, 0.03*4 = .12, 0.04*3 = .12, 0.2*2 = .4, 0.5*1 = .5,
   * running maximum, back in input order. */
  assert_int_equal(sw_p_adjust(p, 6, SW_PADJUST_HOLM, a, &err), SW_OK);
  const double holm[] = {0.05, 0.12, 0.12, 0.03, 0.4, 0.5};
  for (int i = 0; i < 6; i++) assert_close(a[i], holm[i]);
  /* BH: scipy.stats.false_discovery_control(p) = [0.03, 0.06, 0.06, 0.03, 0.24, 0.5]. */
  assert_int_equal(sw_p_adjust(p, 6, SW_PADJUST_BH, a, &err), SW_OK);
  const double bh[] = {0.03, 0.06, 0.06, 0.03, 0.24, 0.5};
  for (int i = 0; i < 6; i++) assert_close(a[i], bh[i]);
  /* NaN = test not performed: kept NaN and not counted (m = 2 here). */
  const double q[] = {0.01, NAN, 0.04};
  double b[3];
  assert_int_equal(sw_p_adjust(q, 3, SW_PADJUST_HOLM, b, &err), SW_OK);
  assert_close(b[0], 0.02);
  assert_true(isnan(b[1]));
  assert_close(b[2], 0.04);
  sw_padjust m;
  assert_int_equal(sw_padjust_parse("bh", &m, &err), SW_OK);
  assert_int_equal(m, SW_PADJUST_BH);
  assert_int_equal(sw_padjust_parse("holm", &m, &err), SW_OK);
  assert_int_equal(m, SW_PADJUST_HOLM);
  assert_int_equal(sw_padjust_parse("none", &m, &err), SW_OK);
  assert_int_equal(m, SW_PADJUST_NONE);
  assert_int_equal(sw_padjust_parse("bonferroni", &m, &err), SW_ERR_INVALID);
}

/* ------------------------------------------------------------------ intervals */

static void test_median_ci_hand(void **state) {
  (void)state;
  sw_estimate_t e;
  sw_err_t err;
  /* n = 10: P(Bin(10,.5) <= 1) = 11/1024 <= .025 < P(<= 2) = 56/1024, so [x_(2), x_(9)], coverage 1 - 22/1024. */
  const double x[] = {7, 3, 9, 1, 5, 8, 2, 10, 4, 6};
  assert_int_equal(sw_median_ci(x, 10, 0.95, &e, &err), SW_OK);
  assert_close(e.value, 5.5);
  assert_close(e.lo, 2);
  assert_close(e.hi, 9);
  assert_close(e.confidence, 1 - 22.0 / 1024);
  /* n = 6 is the smallest with a 95% interval (2/64 <= .05): [min, max]; n = 5 has none (2/32 > .05). */
  assert_int_equal(sw_median_ci(x, 6, 0.95, &e, &err), SW_OK);
  assert_close(e.lo, 1);
  assert_close(e.hi, 9);
  assert_close(e.confidence, 1 - 2.0 / 64);
  assert_int_equal(sw_median_ci(x, 5, 0.95, &e, &err), SW_OK);
  assert_close(e.value, 5);
  assert_true(isnan(e.lo) && isnan(e.hi));
}

static void test_ratio_ci_reference(void **state) {
  (void)state;
  sw_estimate_t e;
  sw_err_t err;
  /* Reference: a Python script enumerating all C(16, 8) arrangements for the exact U null distribution,
   * then the Moses order statistics of log y - log x: ratio 1.14975845410628, [1.0181818181818183, 1.25],
   * k = 14, coverage 0.9501165501165502. */
  const double x[] = {1.00, 1.10, 0.95, 1.30, 1.02, 0.99, 1.05, 1.21};
  const double y[] = {1.12, 1.25, 1.09, 1.31, 1.18, 1.40, 1.15, 1.20};
  assert_int_equal(sw_ratio_ci(x, 8, y, 8, 0.95, &e, &err), SW_OK);
  assert_close(e.value, 1.14975845410628);
  assert_close(e.lo, 1.0181818181818183);
  assert_close(e.hi, 1.25);
  assert_close(e.confidence, 0.9501165501165502);
  /* 25 vs 25 (normal critical value, H&W eq. 4.41, scipy.stats.norm.isf): [1.0620348173814733, 1.1750712773958822]. */
  const double lx[] = {1.00012, 1.03033, 0.97296, 0.91479, 0.95555, 0.90559, 1.00603, 1.14342, 0.95197,
                       0.93984, 1.0502,  1.03633, 1.0106,  0.91115, 0.99708, 1.072,   0.87422, 0.95527,
                       0.82686, 0.87901, 0.83179, 0.97677, 0.88096, 1.0275,  1.0158};
  const double ly[] = {1.07963, 0.85525, 1.04231, 1.09468, 1.11253, 0.94393, 1.04868, 0.99746, 1.01453,
                       1.22311, 1.01466, 1.09643, 1.20171, 1.03764, 1.08778, 1.11222, 1.10704, 0.97317,
                       1.10841, 1.2601,  0.94233, 1.19871, 1.11321, 1.03165, 1.3436};
  assert_int_equal(sw_ratio_ci(lx, 25, ly, 25, 0.95, &e, &err), SW_OK);
  assert_close(e.value, 1.1180110179246834);
  assert_close(e.lo, 1.0620348173814733);
  assert_close(e.hi, 1.1750712773958822);
  /* Too small for a 95% interval (min p with 2 + 2 is 1/3): NaN bounds, still a ratio. */
  assert_int_equal(sw_ratio_ci(x, 2, y, 2, 0.95, &e, &err), SW_OK);
  assert_true(isnan(e.lo));
  const double bad[] = {1, 0};
  assert_int_equal(sw_ratio_ci(bad, 2, y, 2, 0.95, &e, &err), SW_ERR_INVALID);
}

/* Coverage of the median interval on exponential data (true median ln 2): the guarantee for n = 15 is
 * 1 - 2 * 576/32768 = 0.9648; 2000 replications have a binomial sd of 0.004. */
static void test_median_ci_coverage(void **state) {
  (void)state;
  rng_t r = {20261125};
  int covered = 0, reps = 2000;
  double x[15];
  sw_estimate_t e;
  sw_err_t err;
  for (int k = 0; k < reps; k++) {
    for (int i = 0; i < 15; i++) x[i] = -log(rng_uniform(&r));
    assert_int_equal(sw_median_ci(x, 15, 0.95, &e, &err), SW_OK);
    covered += e.lo <= log(2.0) && log(2.0) <= e.hi;
  }
  double cov = (double)covered / reps;
  assert_close(e.confidence, 1 - 2 * 576.0 / 32768);
  if (cov < 0.95 || cov > 0.98) fail_msg("median CI coverage %.4f outside [0.95, 0.98]", cov);
}

/* The precision the reports gate on: (hi - lo) / (2 median) of the order-statistic interval.  n = 7 has l = 1 (1/128
 * <= .025 < 8/128): the interval is [min, max]; n = 9 has l = 2 (10/512 <= .025): [x_(2), x_(8)]. */
static void test_median_ci_relhw_hand(void **state) {
  (void)state;
  const double x7[] = {1.00, 1.01, 0.99, 1.35, 1.02, 0.98, 1.00}; /* sorted .98 .99 1 1 1.01 1.02 1.35 */
  assert_close(sw_median_ci_relhw(x7, 7, 0.95), (1.35 - 0.98) / 2.0);
  const double x9[] = {1.00, 1.01, 0.99, 1.35, 1.02, 0.98, 1.00, 1.00, 1.01}; /* x_(2) .99, median 1, x_(8) 1.02 */
  assert_close(sw_median_ci_relhw(x9, 9, 0.95), (1.02 - 0.99) / 2.0);
  assert_true(isnan(sw_median_ci_relhw(x9, 5, 0.95))); /* no 95% interval below 6 */
  const double zero[] = {0, 0, 0, 0, 0, 0};
  assert_true(isnan(sw_median_ci_relhw(zero, 6, 0.95)));
}

/* A synthetic timed phase: series 0 (dense) and 1 (sparse) plus their paired ratio, fed by gen(series, rep); each
 * repetition "takes" one second.  Returns the repetitions run; *why the verdict, widths[3] the final widths. */
typedef double (*rep_gen_t)(int series, size_t rep);

static size_t run_phase(const sw_reps_rule_t *rule, rep_gen_t gen, sw_reps_verdict *why, double widths[3]) {
  static double v[2][100];
  const double *series[2] = {v[0], v[1]};
  static const size_t pair[1][2] = {{0, 1}};
  sw_reps_view_t view = {series, 2, pair, 1};
  size_t n = 0;
  while ((*why = sw_reps_decide(rule, &view, n, (double)n)) == SW_REPS_MORE) {
    if (n >= 100) fail_msg("the rule asked for more than 100 repetitions");
    v[0][n] = gen(0, n), v[1][n] = gen(1, n);
    n++;
  }
  (void)sw_reps_widths(&view, n, rule->level, widths);
  return n;
}

/* Within 1 % of 1.5 (dense) and 1.0 (sparse): width at 7 <= 0.01, so the minimum is enough. */
static double gen_tight(int s, size_t i) { return (s ? 1.00 : 1.50) + 0.01 * (double)((int)(i % 3) - 1); }
/* Tight, except one sparse repetition (index 3) 35 % slow: the data of test_median_ci_relhw_hand, then tight. */
static double gen_outlier(int s, size_t i) {
  static const double de[] = {1.50, 1.51, 1.49, 1.50, 1.52, 1.48, 1.50, 1.50, 1.49};
  static const double sp[] = {1.00, 1.01, 0.99, 1.35, 1.02, 0.98, 1.00, 1.00, 1.01};
  return i < 9 ? (s ? sp[i] : de[i]) : gen_tight(s, i);
}
/* ±20 % every other repetition: no median interval ever gets narrower than 20 %. */
static double gen_noisy(int s, size_t i) { return (s ? 1.0 : 1.5) * (i % 2 ? 0.8 : 1.2); }
/* Each series within ±5 % but in opposite phase, so the per-repetition ratio swings 1.105 / 0.905. */
static double gen_pair_noise(int s, size_t i) { return (i % 2) == (size_t)s ? 1.05 : 0.95; }

static void test_reps_rule_sequences(void **state) {
  (void)state;
  sw_reps_rule_t rule = {7, 21, 0.05, 0.95, 0};
  sw_reps_verdict why;
  double w[3];
  assert_int_equal(run_phase(&rule, gen_tight, &why, w), 7);
  assert_int_equal(why, SW_REPS_TARGET);
  assert_close(w[0], 0.02 / 3.0); /* [1.49, 1.51] around 1.5 */
  assert_close(w[1], 0.01);       /* [0.99, 1.01] around 1.0 */
  /* One outlier: [min, max] at 7 and 8 repetitions holds it (width 0.185), 9 drop it: stop there. */
  assert_int_equal(run_phase(&rule, gen_outlier, &why, w), 9);
  assert_int_equal(why, SW_REPS_TARGET);
  assert_close(w[0], (1.51 - 1.49) / 3.0);  /* dense sorted 1.48 1.49 1.49 1.5 1.5 1.5 1.5 1.51 1.52 */
  assert_close(w[1], (1.02 - 0.99) / 2.0);
  /* ratios 1.5 1.51/1.01 1.49/.99 1.5/1.35 1.52/1.02 1.48/.98 1.5 1.5 1.49/1.01: x_(2) = 1.49/1.01 (1.4752),
   * x_(8) = 1.49/0.99 (1.5051), median 1.5 */
  assert_close(w[2], (1.49 / 0.99 - 1.49 / 1.01) / 3.0);
  /* Steadily noisy: to the maximum, still 0.2 wide. */
  assert_int_equal(run_phase(&rule, gen_noisy, &why, w), 21);
  assert_int_equal(why, SW_REPS_MAX);
  assert_close(w[1], 0.2 / 1.2); /* 11 of 21 at 1.2: median 1.2, interval [0.8, 1.2] */
  /* The paired ratio alone keeps it going: both series within a 0.06 target, their ratio not. */
  rule.target = 0.06;
  assert_int_equal(run_phase(&rule, gen_pair_noise, &why, w), 21);
  assert_int_equal(why, SW_REPS_MAX);
  assert_close(w[0], 0.1 / 2.1);           /* dense: 11 of 21 at 1.05 */
  assert_close(w[1], 0.1 / 1.9);           /* sparse: 11 of 21 at 0.95 */
  assert_close(w[2], (1.05 / 0.95 - 0.95 / 1.05) / (2 * 1.05 / 0.95));
  /* Time budget of 10 s at 1 s per repetition: after 9, 9 + 1 is within; after 10, 10 + 1 is not. */
  rule.target = 0.05;
  rule.budget_s = 10;
  assert_int_equal(run_phase(&rule, gen_noisy, &why, w), 10);
  assert_int_equal(why, SW_REPS_BUDGET);
  /* Fewer than 6 repetitions have no interval: max = min = 3 stops at 3 with the widths NaN. */
  sw_reps_rule_t few = {3, 3, 0.05, 0.95, 0};
  assert_int_equal(run_phase(&few, gen_tight, &why, w), 3);
  assert_int_equal(why, SW_REPS_MAX);
  assert_true(isnan(w[0]) && isnan(w[2]));
}

/* Optional stopping looks at widths only, so the final interval still covers the true median about as often as a
 * fixed-n one: normal data with CV 0.06 (the rule adapts: mean n ~12.5) and true median 1, 1000 phases.  A
 * simulation with numpy (4000 phases) gave coverage 0.954 and a mean of 12.5 repetitions. */
static void test_reps_rule_coverage(void **state) {
  (void)state;
  rng_t r = {20261203};
  sw_reps_rule_t rule = {7, 21, 0.05, 0.95, 0};
  double x[21];
  const double *series[1] = {x};
  sw_reps_view_t view = {series, 1, NULL, 0};
  int covered = 0, phases = 1000;
  size_t total = 0;
  for (int k = 0; k < phases; k++) {
    size_t n = 0;
    while (sw_reps_decide(&rule, &view, n, 0) == SW_REPS_MORE) x[n++] = 1 + 0.06 * rng_normal(&r);
    sw_estimate_t e;
    sw_err_t err;
    assert_int_equal(sw_median_ci(x, n, 0.95, &e, &err), SW_OK);
    covered += e.lo <= 1 && 1 <= e.hi;
    total += n;
  }
  double cov = (double)covered / phases, mean_n = (double)total / phases;
  if (cov < 0.93) fail_msg("coverage after adaptive stopping %.3f < 0.93", cov);
  if (mean_n < 10 || mean_n > 15) fail_msg("mean repetitions %.2f outside [10, 15]", mean_n);
}

/* A ratio with a non-positive denominator has no width. */
static void test_reps_widths_bad_ratio(void **state) {
  (void)state;
  const double a[] = {1, 1, 1, 1, 1, 1}, b[] = {1, 1, 0, 1, 1, 1};
  const double *series[2] = {a, b};
  static const size_t pair[1][2] = {{0, 1}};
  sw_reps_view_t view = {series, 2, pair, 1};
  double w[3];
  assert_true(isnan(sw_reps_widths(&view, 6, 0.95, w)));
  assert_close(w[0], 0);
  assert_true(isnan(w[2]));
}

/* Coverage of the ratio interval: lognormal latencies (sigma 0.1) with a true ratio of 1.2, with the exact
 * (10 vs 10) and normal (30 vs 30) critical values; 1000 replications each, sd of the coverage 0.007. */
static void test_ratio_ci_coverage(void **state) {
  (void)state;
  const size_t sizes[] = {10, 30};
  rng_t r = {42};
  double x[30], y[30];
  sw_estimate_t e;
  sw_err_t err;
  for (int s = 0; s < 2; s++) {
    size_t n = sizes[s];
    int covered = 0, reps = 1000;
    for (int k = 0; k < reps; k++) {
      for (size_t i = 0; i < n; i++) x[i] = exp(0.1 * rng_normal(&r));
      for (size_t i = 0; i < n; i++) y[i] = 1.2 * exp(0.1 * rng_normal(&r));
      assert_int_equal(sw_ratio_ci(x, n, y, n, 0.95, &e, &err), SW_OK);
      covered += e.lo <= 1.2 && 1.2 <= e.hi;
    }
    double cov = (double)covered / reps;
    if (cov < 0.93 || cov > 0.975) fail_msg("ratio CI coverage %.4f (n=%zu) outside [0.93, 0.975]", cov, n);
  }
}

/* ------------------------------------------------------------------ summaries */

/* The one median and quantile definition (common/sw_stats.h: Hyndman & Fan definition 7), on hand-computed
 * values.  Input order must not matter and the input must stay unchanged. */
static void test_median_quantile_definition(void **state) {
  (void)state;
  const double odd[] = {9, 1, 5};           /* sorted 1 5 9 */
  const double even[] = {10, 1, 4, 3};      /* sorted 1 3 4 10: the mean of the middle two is 3.5 */
  const double one[] = {7};
  assert_true(sw_median(odd, 3) == 5.0);
  assert_true(sw_median(even, 4) == 3.5);  /* not 3 (lower middle, nearest rank) nor 4 (upper middle) */
  assert_true(sw_median(one, 1) == 7.0);
  assert_true(isnan(sw_median(odd, 0)));
  assert_true(even[0] == 10 && even[1] == 1 && even[2] == 4 && even[3] == 3);
  /* h = (n - 1) q on 1 3 4 10: q = 0.25 -> h = 0.75 -> 1 + 0.75 * 2 = 2.5; q = 0.9 -> h = 2.7 -> 4 + 0.7 * 6 = 8.2;
   * q = 0.1 -> h = 0.3 -> 1 + 0.3 * 2 = 1.6. */
  assert_close(sw_quantile(even, 4, 0.25), 2.5);
  assert_close(sw_quantile(even, 4, 0.9), 8.2);
  assert_close(sw_quantile(even, 4, 0.1), 1.6);
  assert_true(sw_quantile(even, 4, 0.5) == sw_median(even, 4));
  assert_true(sw_quantile(even, 4, 0.0) == 1.0 && sw_quantile(even, 4, 1.0) == 10.0);
  assert_true(sw_quantile(even, 4, -3.0) == 1.0 && sw_quantile(even, 4, 7.0) == 10.0); /* clamped */
  assert_true(isnan(sw_quantile(even, 4, NAN)) && isnan(sw_quantile(even, 0, 0.5)));
  const double sorted[] = {1, 3, 4, 10};
  assert_close(sw_quantile_sorted(sorted, 4, 0.75), 5.5); /* h = 2.25 -> 4 + 0.25 * 6 */
}

static void test_summaries(void **state) {
  (void)state;
  const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
  /* mean 5; sum of squares 32; sample sd sqrt(32/7). */
  assert_close(sw_mean(x, 8), 5);
  assert_close(sw_stddev(x, 8), sqrt(32.0 / 7));
  assert_close(sw_cv(x, 8), sqrt(32.0 / 7) / 5);
  assert_close(sw_median(x, 8), 4.5);
  const double g[] = {1, 2, 4, 8};
  assert_close(sw_geomean(g, 4), sqrt(8.0)); /* (1*2*4*8)^(1/4) = 64^(1/4) */
  const double neg[] = {1, -1};
  assert_true(isnan(sw_geomean(neg, 2)));
  assert_true(isnan(sw_stddev(x, 1)));
  assert_close(sw_norm_sf(0), 0.5);
  assert_close(sw_norm_isf(0.025), 1.959963984540054); /* scipy.stats.norm.isf(0.025) */
}

/* ------------------------------------------------------------------ change points */

static void test_change_points_planted(void **state) {
  (void)state;
  enum { N = 60 };
  double x[N], level[N];
  int step[N];
  size_t ns;
  sw_err_t err;
  rng_t r = {7};
  /* One planted 10% step at index 25 under 1% noise. */
  for (int i = 0; i < N; i++) x[i] = (i < 25 ? 100 : 110) * (1 + 0.01 * rng_normal(&r));
  assert_int_equal(sw_change_points(x, N, 0.05, step, level, &ns, &err), SW_OK);
  assert_int_equal(ns, 1);
  assert_int_equal(step[25], 1);
  if (fabs(level[0] - 100) > 1.5 || fabs(level[N - 1] - 110) > 1.5) fail_msg("levels %g %g", level[0], level[N - 1]);
  /* Pure noise: no step. */
  for (int i = 0; i < N; i++) x[i] = 100 * (1 + 0.01 * rng_normal(&r));
  assert_int_equal(sw_change_points(x, N, 0.05, step, level, &ns, &err), SW_OK);
  assert_int_equal(ns, 0);
  /* Two steps (down 20% at 10, up 30% at 40). */
  for (int i = 0; i < N; i++) x[i] = (i < 10 ? 50 : i < 40 ? 40 : 52) * (1 + 0.01 * rng_normal(&r));
  assert_int_equal(sw_change_points(x, N, 0.05, step, level, &ns, &err), SW_OK);
  assert_int_equal(ns, 2);
  assert_true(step[10] && step[40]);
  /* Exact counts (no noise): a 2% change is a step when the threshold is 1%, none at 5%. */
  const double c[] = {1000, 1000, 1000, 1000, 1020, 1020, 1020};
  int cs[7];
  double cl[7];
  assert_int_equal(sw_change_points(c, 7, 0.01, cs, cl, &ns, &err), SW_OK);
  assert_int_equal(ns, 1);
  assert_int_equal(cs[4], 1);
  assert_int_equal(sw_change_points(c, 7, 0.05, cs, cl, &ns, &err), SW_OK);
  assert_int_equal(ns, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_median_quantile_definition), cmocka_unit_test(test_mwu_hand_counted),    cmocka_unit_test(test_mwu_exact_scipy),
      cmocka_unit_test(test_mwu_normal_ties_scipy), cmocka_unit_test(test_mwu_rejects_bad_input),
      cmocka_unit_test(test_mwu_null_cdf_sums),   cmocka_unit_test(test_p_adjust_holm_bh),
      cmocka_unit_test(test_median_ci_hand),      cmocka_unit_test(test_ratio_ci_reference),
      cmocka_unit_test(test_median_ci_relhw_hand), cmocka_unit_test(test_reps_rule_sequences),
      cmocka_unit_test(test_reps_rule_coverage),  cmocka_unit_test(test_reps_widths_bad_ratio),
      cmocka_unit_test(test_median_ci_coverage),  cmocka_unit_test(test_ratio_ci_coverage),
      cmocka_unit_test(test_summaries),           cmocka_unit_test(test_student_t_closed_forms),
      cmocka_unit_test(test_run_ttest_hand_computed),           cmocka_unit_test(test_change_points_planted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
