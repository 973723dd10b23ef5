/* Unit tests for kernels/sw_kmeans: every partition has exactly n/E rows per expert; balanced k-means recovers
 * planted clusters (rows scaled arbitrarily, since rows are L2-normalised first) and its objective, computed
 * here in float64 independently of the library, is at most the planted partition's and far below a random
 * partition's; the expert permutation groups experts contiguously; bad inputs are rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_kmeans.h"
#include "kernels/sw_mlp.h"

/* Objective comparisons are between float32 distance computations of the same data. */
#define COST_TOL_REL 1e-4
/* Absolute floor for the same comparison when a cost is near 0. */
#define COST_TOL_ABS 1e-6

/* Planted data: E centres in dim dimensions, n/E rows each = scale * (centre + noise), rows shuffled. */
static void planted(float *rows, int32_t *truth, size_t n, size_t dim, size_t E, double noise, uint64_t seed) {
  sw_mlp_rng_t r = {seed};
  double *c = malloc(E * dim * sizeof(double));
  for (size_t i = 0; i < E * dim; i++) c[i] = sw_mlp_rng_normal(&r);
  size_t *perm = malloc(n * sizeof *perm);
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = sw_mlp_rng_below(&r, i), t = perm[i - 1];
    perm[i - 1] = perm[j], perm[j] = t;
  }
  for (size_t j = 0; j < n; j++) {
    size_t row = perm[j], cl = j / (n / E);
    double scale = 0.2 + 5.0 * sw_mlp_rng_uniform(&r);
    truth[row] = (int32_t)cl;
    for (size_t k = 0; k < dim; k++) rows[row * dim + k] = (float)(scale * (c[cl * dim + k] + noise * sw_mlp_rng_normal(&r)));
  }
  free(c);
  free(perm);
}

/* Independent float64 objective: squared distances of normalised rows to their cluster means. */
static double ref_cost(const float *rows, const int32_t *assign, size_t n, size_t dim, size_t E) {
  double *mean = calloc(E * dim, sizeof(double)), *x = malloc(n * dim * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (size_t k = 0; k < dim; k++) s += (double)rows[i * dim + k] * rows[i * dim + k];
    for (size_t k = 0; k < dim; k++) x[i * dim + k] = rows[i * dim + k] / sqrt(s);
    for (size_t k = 0; k < dim; k++) mean[(size_t)assign[i] * dim + k] += x[i * dim + k] / (double)(n / E);
  }
  double cost = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < dim; k++) cost += pow(x[i * dim + k] - mean[(size_t)assign[i] * dim + k], 2);
  free(mean);
  free(x);
  return cost;
}

static void assert_balanced(const int32_t *assign, size_t n, size_t E) {
  size_t *cnt = calloc(E, sizeof *cnt);
  for (size_t i = 0; i < n; i++) {
    assert_true(assign[i] >= 0 && (size_t)assign[i] < E);
    cnt[assign[i]]++;
  }
  for (size_t e = 0; e < E; e++) assert_int_equal(cnt[e], n / E);
  free(cnt);
}

static void test_partitions_are_equal_size(void **state) {
  (void)state;
  const size_t n = 96, dim = 7, E = 8;
  float rows[96 * 7];
  int32_t truth[96], a[96];
  planted(rows, truth, n, dim, E, 2.0, 3); /* heavy noise: clusters overlap, capacity constraints bind */
  sw_err_t err;
  for (int kind = 0; kind < 3; kind++) {
    for (size_t i = 0; i < n; i++) a[i] = -7;
    assert_int_equal(sw_partition_make(a, (sw_partition_t)kind, rows, n, dim, E, NULL, 5, &err), SW_OK);
    assert_balanced(a, n, E);
  }
  /* contiguous is index blocks; random is not */
  assert_int_equal(sw_partition_make(a, SW_PARTITION_CONTIGUOUS, NULL, n, 0, E, NULL, 0, &err), SW_OK);
  for (size_t i = 0; i < n; i++) assert_int_equal(a[i], (int32_t)(i / 12));
  assert_int_equal(sw_partition_make(a, SW_PARTITION_RANDOM, NULL, n, 0, E, NULL, 0, &err), SW_OK);
  size_t differs = 0;
  for (size_t i = 0; i < n; i++) differs += a[i] != (int32_t)(i / 12);
  assert_true(differs > n / 2);
}

static void test_recovers_planted_clusters(void **state) {
  (void)state;
  const size_t n = 256, dim = 24, E = 16;
  float *rows = malloc(n * dim * sizeof(float));
  int32_t truth[256], a[256], rnd[256];
  planted(rows, truth, n, dim, E, 0.15, 11);
  sw_kmeans_cfg_t cfg;
  sw_kmeans_defaults(&cfg);
  sw_err_t err;
  assert_int_equal(sw_kmeans_balanced(a, rows, n, dim, E, &cfg, &err), SW_OK);
  assert_balanced(a, n, E);
  /* every found cluster is one planted cluster (labels may differ) */
  for (size_t e = 0; e < E; e++) {
    int32_t seen = -1;
    for (size_t i = 0; i < n; i++) {
      if ((size_t)a[i] != e) continue;
      if (seen < 0) seen = truth[i];
      assert_int_equal(truth[i], seen);
    }
  }
  double c_km = ref_cost(rows, a, n, dim, E), c_truth = ref_cost(rows, truth, n, dim, E);
  assert_int_equal(sw_partition_make(rnd, SW_PARTITION_RANDOM, NULL, n, 0, E, NULL, 1, &err), SW_OK);
  double c_rnd = ref_cost(rows, rnd, n, dim, E);
  assert_true(c_km <= c_truth * (1 + COST_TOL_REL));
  assert_true(c_km < 0.2 * c_rnd);
  double lib_cost;
  assert_int_equal(sw_kmeans_cost(&lib_cost, a, rows, n, dim, E, &err), SW_OK);
  assert_true(fabs(lib_cost - c_km) <= COST_TOL_ABS + COST_TOL_REL * c_km);
  free(rows);
}

/* With overlapping clusters (noise 1.0) balanced k-means must still beat a random partition by a margin and
 * be deterministic given the seed. */
static void test_beats_random_and_is_deterministic(void **state) {
  (void)state;
  const size_t n = 192, dim = 16, E = 12;
  float *rows = malloc(n * dim * sizeof(float));
  int32_t truth[192], a[192], b[192], rnd[192];
  planted(rows, truth, n, dim, E, 1.0, 21);
  sw_err_t err;
  sw_kmeans_cfg_t cfg;
  sw_kmeans_defaults(&cfg);
  cfg.seed = 4;
  assert_int_equal(sw_kmeans_balanced(a, rows, n, dim, E, &cfg, &err), SW_OK);
  assert_int_equal(sw_kmeans_balanced(b, rows, n, dim, E, &cfg, &err), SW_OK);
  assert_memory_equal(a, b, sizeof a);
  double best_rnd = INFINITY;
  for (uint64_t s = 0; s < 5; s++) {
    assert_int_equal(sw_partition_make(rnd, SW_PARTITION_RANDOM, NULL, n, 0, E, NULL, s, &err), SW_OK);
    best_rnd = fmin(best_rnd, ref_cost(rows, rnd, n, dim, E));
  }
  assert_true(ref_cost(rows, a, n, dim, E) < 0.8 * best_rnd);
  free(rows);
}

static void test_perm_groups_experts(void **state) {
  (void)state;
  const int32_t assign[12] = {2, 0, 1, 2, 0, 1, 1, 2, 0, 0, 2, 1};
  size_t perm[12];
  sw_err_t err;
  assert_int_equal(sw_partition_perm(perm, assign, 12, 3, &err), SW_OK);
  const size_t expect[12] = {1, 4, 8, 9, 2, 5, 6, 11, 0, 3, 7, 10};
  assert_memory_equal(perm, expect, sizeof expect);
  const int32_t unbalanced[6] = {0, 0, 0, 0, 1, 1};
  assert_int_equal(sw_partition_perm(perm, unbalanced, 6, 2, &err), SW_ERR_INVALID);
  const int32_t bad[4] = {0, 5, 1, 0};
  assert_int_equal(sw_partition_perm(perm, bad, 4, 2, &err), SW_ERR_RANGE);
}

static void test_rejects_bad_inputs(void **state) {
  (void)state;
  float rows[10 * 2] = {0};
  int32_t a[10];
  sw_err_t err;
  assert_int_equal(sw_kmeans_balanced(a, rows, 10, 2, 3, NULL, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "divisible"));
  sw_partition_t p;
  assert_int_equal(sw_partition_parse(&p, "random", &err), SW_OK);
  assert_int_equal(p, SW_PARTITION_RANDOM);
  assert_string_equal(sw_partition_name(SW_PARTITION_BALANCED_KMEANS), "balanced_kmeans");
  assert_int_equal(sw_partition_parse(&p, "metis", &err), SW_ERR_INVALID);
  /* all-zero rows (no direction) still give a balanced partition */
  assert_int_equal(sw_kmeans_balanced(a, rows, 10, 2, 5, NULL, &err), SW_OK);
  assert_balanced(a, 10, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partitions_are_equal_size),
      cmocka_unit_test(test_recovers_planted_clusters),
      cmocka_unit_test(test_beats_random_and_is_deterministic),
      cmocka_unit_test(test_perm_groups_experts),
      cmocka_unit_test(test_rejects_bad_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
