/* sw_kmeans: balanced k-means (k-means++ seeding, Arthur & Vassilvitskii 2007; greedy capacity-constrained
 * E-step over each row's nearest candidate centres, in the spirit of the balanced assignment of
 * "Faster MoEfication"/BASE layers; mean M-step) and the random / contiguous baseline partitions. */
#include "kernels/sw_kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_names.h"
#include "kernels/sw_mlp.h" /* sw_mlp_rng_t */

/* Spelling of each sw_partition_t (index = enum value). */
static const char *const k_partition_names[] = {
    [SW_PARTITION_BALANCED_KMEANS] = "balanced_kmeans",
    [SW_PARTITION_RANDOM] = "random",
    [SW_PARTITION_CONTIGUOUS] = "contiguous",
    [SW_PARTITION_COACTIVATION] = "coactivation",
};
#define N_PARTITION_NAMES (sizeof k_partition_names / sizeof k_partition_names[0])

sw_rc sw_partition_parse(sw_partition_t *out, const char *name, sw_err_t *err) {
  int i = sw_names_find(k_partition_names, N_PARTITION_NAMES, name);
  if (i < 0)
    return sw_err_set(err, SW_ERR_INVALID, "unknown clustering '%s' (balanced_kmeans, random, contiguous, coactivation)",
                      name ? name : "(null)");
  *out = (sw_partition_t)i;
  return SW_OK;
}

const char *sw_partition_name(sw_partition_t p) { return sw_names_at(k_partition_names, N_PARTITION_NAMES, (int)p); }

void sw_kmeans_defaults(sw_kmeans_cfg_t *cfg) {
  cfg->max_iter = 30;
  cfg->seed = 0;
  cfg->candidates = 16;
}

static sw_rc s_check_dims(size_t n, size_t dim, size_t E, sw_err_t *err) {
  if (E == 0 || n == 0 || dim == 0) return sw_err_set(err, SW_ERR_INVALID, "partition: n=%zu dim=%zu E=%zu", n, dim, E);
  if (n % E) return sw_err_set(err, SW_ERR_INVALID, "partition: %zu neurons not divisible into %zu experts", n, E);
  if (n > INT32_MAX) return sw_err_set(err, SW_ERR_RANGE, "partition: %zu rows", n);
  return SW_OK;
}

/* Copies rows into x and L2-normalises each (zero rows stay zero). */
static void s_normalise(float *x, const float *rows, size_t n, size_t dim) {
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (size_t k = 0; k < dim; k++) s += (double)rows[i * dim + k] * rows[i * dim + k];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (size_t k = 0; k < dim; k++) x[i * dim + k] = rows[i * dim + k] * inv;
  }
}

static double s_sqnorm(const float *v, size_t dim) {
  double s = 0;
  for (size_t k = 0; k < dim; k++) s += (double)v[k] * v[k];
  return s;
}

/* k-means++: first centre uniform, then each next one with probability proportional to D^2. */
static void s_seed_centres(float *c, const float *x, const double *xn, size_t n, size_t dim, size_t E,
                           sw_mlp_rng_t *rng, double *dmin, float *dot) {
  size_t pick = sw_mlp_rng_below(rng, n);
  for (size_t i = 0; i < n; i++) dmin[i] = INFINITY;
  for (size_t e = 0; e < E; e++) {
    memcpy(c + e * dim, x + pick * dim, dim * sizeof(float));
    double cn = s_sqnorm(c + e * dim, dim), total = 0;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)dim, 1.0f, x, (int)dim, c + e * dim, 1, 0.0f, dot, 1);
    for (size_t i = 0; i < n; i++) {
      double d = xn[i] + cn - 2.0 * dot[i];
      d = d > 0 ? d : 0;
      if (d < dmin[i]) dmin[i] = d;
      total += dmin[i];
    }
    if (total <= 0) { /* fewer distinct rows than clusters: pick any */
      pick = sw_mlp_rng_below(rng, n);
      continue;
    }
    double u = sw_mlp_rng_uniform(rng) * total, acc = 0;
    pick = n - 1;
    for (size_t i = 0; i < n; i++) {
      acc += dmin[i];
      if (acc > u) {
        pick = i;
        break;
      }
    }
  }
}

typedef struct s_pair {
  float    d;
  uint32_t row, e;
} s_pair_t;

static int s_pair_cmp(const void *a, const void *b) {
  const s_pair_t *p = a, *q = b;
  if (p->d != q->d) return p->d < q->d ? -1 : 1;
  if (p->row != q->row) return p->row < q->row ? -1 : 1;
  return p->e < q->e ? -1 : (p->e > q->e);
}

/* dist[i][e] = ||x_i - c_e||^2 via one sgemm. */
static void s_distances(float *dist, const float *x, const double *xn, const float *c, size_t n, size_t dim, size_t E) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)E, (int)dim, 1.0f, x, (int)dim, c, (int)dim, 0.0f,
              dist, (int)E);
  for (size_t e = 0; e < E; e++) {
    double cn = s_sqnorm(c + e * dim, dim);
    for (size_t i = 0; i < n; i++) dist[i * E + e] = (float)(xn[i] + cn - 2.0 * dist[i * E + e]);
  }
}

/* The m nearest centres of one row into pairs (insertion into a sorted list of m). */
static void s_row_candidates(s_pair_t *out, const float *drow, size_t row, size_t E, size_t m) {
  size_t have = 0;
  for (size_t e = 0; e < E; e++) {
    float d = drow[e];
    if (have == m && d >= out[m - 1].d) continue;
    size_t j = have < m ? have++ : m - 1;
    while (j > 0 && out[j - 1].d > d) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = (s_pair_t){d, (uint32_t)row, (uint32_t)e};
  }
}

/* Capacity-constrained assignment: globally sorted (row, candidate) pairs placed greedily; rows whose
 * candidates all filled up go to their nearest non-full centre. */
static void s_balanced_assign(int32_t *assign, const float *dist, size_t n, size_t E, size_t m, s_pair_t *pairs,
                              size_t *fill) {
  const size_t cap = n / E;
  for (size_t i = 0; i < n; i++) s_row_candidates(pairs + i * m, dist + i * E, i, E, m);
  qsort(pairs, n * m, sizeof *pairs, s_pair_cmp);
  for (size_t i = 0; i < n; i++) assign[i] = -1;
  for (size_t e = 0; e < E; e++) fill[e] = 0;
  for (size_t p = 0; p < n * m; p++) {
    const s_pair_t *q = &pairs[p];
    if (assign[q->row] >= 0 || fill[q->e] >= cap) continue;
    assign[q->row] = (int32_t)q->e;
    fill[q->e]++;
  }
  for (size_t i = 0; i < n; i++) {
    if (assign[i] >= 0) continue;
    size_t best = E;
    for (size_t e = 0; e < E; e++)
      if (fill[e] < cap && (best == E || dist[i * E + e] < dist[i * E + best])) best = e;
    assign[i] = (int32_t)best;
    fill[best]++;
  }
}

static void s_update_centres(float *c, const float *x, const int32_t *assign, size_t n, size_t dim, size_t E) {
  memset(c, 0, E * dim * sizeof(float));
  const float inv = (float)E / (float)n; /* every cluster holds n/E rows */
  for (size_t i = 0; i < n; i++) cblas_saxpy((int)dim, inv, x + i * dim, 1, c + (size_t)assign[i] * dim, 1);
}

sw_rc sw_kmeans_balanced(int32_t *assign, const float *rows, size_t n, size_t dim, size_t E,
                         const sw_kmeans_cfg_t *cfg, sw_err_t *err) {
  sw_rc rc = s_check_dims(n, dim, E, err);
  if (rc) return rc;
  sw_kmeans_cfg_t def;
  if (!cfg) sw_kmeans_defaults(&def), cfg = &def;
  size_t m = cfg->candidates ? cfg->candidates : 16;
  if (m > E) m = E;
  float *x = malloc(n * dim * sizeof(float)), *c = malloc(E * dim * sizeof(float));
  float *dist = malloc(n * E * sizeof(float));
  double *xn = malloc(n * sizeof(double)), *dmin = malloc(n * sizeof(double));
  s_pair_t *pairs = malloc(n * m * sizeof *pairs);
  size_t *fill = malloc(E * sizeof *fill);
  int32_t *prev = malloc(n * sizeof *prev);
  if (!x || !c || !dist || !xn || !dmin || !pairs || !fill || !prev) {
    rc = sw_err_set(err, SW_ERR_NOMEM, "kmeans: cannot allocate for %zu x %zu rows, %zu clusters", n, dim, E);
    goto out;
  }
  s_normalise(x, rows, n, dim);
  for (size_t i = 0; i < n; i++) xn[i] = s_sqnorm(x + i * dim, dim);
  sw_mlp_rng_t rng = {cfg->seed};
  s_seed_centres(c, x, xn, n, dim, E, &rng, dmin, dist);
  for (size_t it = 0; it < (cfg->max_iter ? cfg->max_iter : 1); it++) {
    s_distances(dist, x, xn, c, n, dim, E);
    s_balanced_assign(assign, dist, n, E, m, pairs, fill);
    if (it > 0 && memcmp(prev, assign, n * sizeof *assign) == 0) break;
    memcpy(prev, assign, n * sizeof *assign);
    s_update_centres(c, x, assign, n, dim, E);
  }
out:
  free(x), free(c), free(dist), free(xn), free(dmin), free(pairs), free(fill), free(prev);
  return rc;
}

sw_rc sw_partition_make(int32_t *assign, sw_partition_t kind, const float *rows, size_t n, size_t dim, size_t E,
                        const sw_kmeans_cfg_t *cfg, uint64_t seed, sw_err_t *err) {
  sw_rc rc = s_check_dims(n, dim ? dim : 1, E, err);
  if (rc) return rc;
  const size_t size = n / E;
  if (kind == SW_PARTITION_BALANCED_KMEANS) return sw_kmeans_balanced(assign, rows, n, dim, E, cfg, err);
  if (kind == SW_PARTITION_CONTIGUOUS) {
    for (size_t i = 0; i < n; i++) assign[i] = (int32_t)(i / size);
    return SW_OK;
  }
  if (kind == SW_PARTITION_COACTIVATION)
    return sw_err_set(err, SW_ERR_INVALID, "partition: the coactivation split needs activations (the model workload "
                      "records them; the synthetic ffn workload offers balanced_kmeans, random, contiguous)");
  if (kind != SW_PARTITION_RANDOM) return sw_err_set(err, SW_ERR_INVALID, "partition: unknown kind %d", (int)kind);
  size_t *perm = malloc(n * sizeof *perm);
  if (!perm) return sw_err_set(err, SW_ERR_NOMEM, "partition: cannot allocate %zu indices", n);
  for (size_t i = 0; i < n; i++) perm[i] = i;
  sw_mlp_rng_t rng = {seed};
  for (size_t i = n; i > 1; i--) {
    size_t j = sw_mlp_rng_below(&rng, i), t = perm[i - 1];
    perm[i - 1] = perm[j], perm[j] = t;
  }
  for (size_t j = 0; j < n; j++) assign[perm[j]] = (int32_t)(j / size);
  free(perm);
  return SW_OK;
}

sw_rc sw_kmeans_cost(double *cost, const int32_t *assign, const float *rows, size_t n, size_t dim, size_t E,
                     sw_err_t *err) {
  sw_rc rc = s_check_dims(n, dim, E, err);
  if (rc) return rc;
  float *x = malloc(n * dim * sizeof(float));
  double *mean = calloc(E * dim, sizeof(double));
  size_t *cnt = calloc(E, sizeof *cnt);
  if (!x || !mean || !cnt) {
    rc = sw_err_set(err, SW_ERR_NOMEM, "kmeans: cannot allocate cost buffers");
    goto out;
  }
  s_normalise(x, rows, n, dim);
  for (size_t i = 0; i < n; i++) {
    if (assign[i] < 0 || (size_t)assign[i] >= E) {
      rc = sw_err_set(err, SW_ERR_RANGE, "kmeans: row %zu has expert %d (E=%zu)", i, (int)assign[i], E);
      goto out;
    }
    cnt[assign[i]]++;
    for (size_t k = 0; k < dim; k++) mean[(size_t)assign[i] * dim + k] += x[i * dim + k];
  }
  for (size_t e = 0; e < E; e++)
    for (size_t k = 0; k < dim; k++) mean[e * dim + k] /= cnt[e] ? (double)cnt[e] : 1.0;
  double s = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < dim; k++) {
      double d = x[i * dim + k] - mean[(size_t)assign[i] * dim + k];
      s += d * d;
    }
  *cost = s;
out:
  free(x), free(mean), free(cnt);
  return rc;
}

sw_rc sw_partition_perm(size_t *perm, const int32_t *assign, size_t n, size_t E, sw_err_t *err) {
  if (E == 0 || n % E) return sw_err_set(err, SW_ERR_INVALID, "partition: %zu rows not divisible into %zu experts", n, E);
  size_t *next = calloc(E, sizeof *next);
  if (!next) return sw_err_set(err, SW_ERR_NOMEM, "partition: cannot allocate %zu counters", E);
  const size_t size = n / E;
  sw_rc rc = SW_OK;
  for (size_t i = 0; i < n && rc == SW_OK; i++) {
    if (assign[i] < 0 || (size_t)assign[i] >= E)
      rc = sw_err_set(err, SW_ERR_RANGE, "partition: row %zu has expert %d (E=%zu)", i, (int)assign[i], E);
    else if (next[assign[i]] == size)
      rc = sw_err_set(err, SW_ERR_INVALID, "partition: expert %d has more than %zu rows", (int)assign[i], size);
    else
      perm[(size_t)assign[i] * size + next[assign[i]]++] = i;
  }
  free(next);
  return rc;
}
