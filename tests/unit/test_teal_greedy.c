/* Tests for kernels/sw_teal_greedy (TEAL's greedy block-wise allocation) on small cases worked by hand in the
 * comments: quadratic block errors a·s0² + b·s1², so every step's choice can be checked with pencil and paper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernels/sw_teal_greedy.h"
#include "tests/unit/sw_test_util.h"

typedef struct quad {
  double a[2];
  int    calls;
} quad_cost_t;

static double quad_err(void *ctx, const double *s, int n) {
  quad_cost_t *q = ctx;
  double  e = 0;
  for (int i = 0; i < n; i++) e += q->a[i] * s[i] * s[i];
  q->calls++;
  return e;
}

/* sizes {1, 3}, errors 4·s0² + s1², step 0.25, target 0.5:
 *   step 1: s0+.25 -> .25, s1+.25 -> .0625: s1 = .25 (block .1875)
 *   step 2: s0 -> .3125, s1 -> .25: s1 = .5 (block .375)
 *   step 3: s0+.25 -> .5; s1 + min(.25, .125·4/3) = 2/3 -> .444: s1 = 2/3, block exactly .5.  3 steps. */
static void test_greedy_prefers_cheap_tensor(void **state) {
  (void)state;
  const double size[2] = {1, 3};
  quad_cost_t q = {{4, 1}, 0};
  sw_teal_greedy_cfg_t cfg = {2, size, 0.5, 0.25, 1.0};
  double s[2];
  int steps = 0;
  sw_err_t err = {0};
  assert_int_equal(sw_teal_greedy(s, &cfg, quad_err, &q, &steps, &err), SW_OK);
  assert_int_equal(steps, 3);
  assert_true(sw_test_close(s[0], 0.0, 1e-12, 0));
  assert_true(sw_test_close(s[1], 2.0 / 3.0, 1e-12, 0));
  assert_true(sw_test_close(sw_teal_block_sparsity(s, size, 2), 0.5, 1e-12, 0));
  assert_int_equal(q.calls, 6); /* two candidates per step */
}

/* sizes {1, 3}, errors s0² + 10·s1², step .25, max_s .9, target .5:
 *   s0 .25, .5, .75 (each cheaper than s1's .625 + ...), then s0 + min(.25, .9-.75) = .9 (.81 < 1.1875),
 *   then s0 is capped: s1 .25 (block .4125), s1 + .0875·4/3 = .36667 (block .5).  6 steps. */
static void test_greedy_respects_ceiling(void **state) {
  (void)state;
  const double size[2] = {1, 3};
  quad_cost_t q = {{1, 10}, 0};
  sw_teal_greedy_cfg_t cfg = {2, size, 0.5, 0.25, 0.9};
  double s[2];
  int steps = 0;
  sw_err_t err = {0};
  assert_int_equal(sw_teal_greedy(s, &cfg, quad_err, &q, &steps, &err), SW_OK);
  assert_int_equal(steps, 6);
  assert_true(sw_test_close(s[0], 0.9, 1e-12, 0));
  assert_true(sw_test_close(s[1], 1.1 / 3.0, 1e-12, 0));
}

static void test_greedy_target_zero_and_bad_config(void **state) {
  (void)state;
  const double size[2] = {1, 3}, bad[2] = {1, 0};
  quad_cost_t q = {{1, 1}, 0};
  double s[2] = {7, 7};
  sw_err_t err = {0};
  sw_teal_greedy_cfg_t cfg = {2, size, 0.0, 0.25, 1.0};
  assert_int_equal(sw_teal_greedy(s, &cfg, quad_err, &q, NULL, &err), SW_OK);
  assert_true(s[0] == 0 && s[1] == 0 && q.calls == 0);
  cfg.target = 0.95, cfg.max_s = 0.9;
  assert_int_equal(sw_teal_greedy(s, &cfg, quad_err, &q, NULL, &err), SW_ERR_RANGE);
  cfg.target = 0.5, cfg.size = bad;
  assert_int_equal(sw_teal_greedy(s, &cfg, quad_err, &q, NULL, &err), SW_ERR_RANGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_greedy_prefers_cheap_tensor),
      cmocka_unit_test(test_greedy_respects_ceiling),
      cmocka_unit_test(test_greedy_target_zero_and_bad_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
