/* sw_kmeans: partitions of an FFN's d_ff neurons into E equal-size experts.  Balanced k-means of the
 * L2-normalised neuron rows (MoEfication's ParamSplit / D2DMoE's param_clustering_split, which use
 * KMeansConstrained with size_min = size_max = n/E), plus the random and contiguous baselines.
 * Output is an expert id per row, every expert holding exactly n/E rows.  Allocates (not a hot path). */
#ifndef SW_KMEANS_H
#define SW_KMEANS_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"

typedef enum sw_partition {
  SW_PARTITION_BALANCED_KMEANS = 0,
  SW_PARTITION_RANDOM          = 1, /* seeded random permutation cut into E blocks */
  SW_PARTITION_CONTIGUOUS      = 2, /* row i -> expert i / (n/E) (MoEfication's "random split") */
  SW_PARTITION_COACTIVATION    = 3  /* MoEfication's co-activation graph split: needs activations, so it is made by
                                       sw_coact_partition (kernels/sw_moefy.h), not by sw_partition_make */
} sw_partition_t;

/* "balanced_kmeans" | "random" | "contiguous" | "coactivation" -> enum; SW_ERR_INVALID on an unknown name. */
sw_rc sw_partition_parse(sw_partition_t *out, const char *name, sw_err_t *err);
const char *sw_partition_name(sw_partition_t p);

typedef struct sw_kmeans_cfg {
  size_t   max_iter;   /* Lloyd iterations (balanced E-step + mean M-step); default 30 */
  uint64_t seed;       /* k-means++ initialisation */
  size_t   candidates; /* nearest centres each row may bid for in the balanced E-step; default 16 */
} sw_kmeans_cfg_t;

/* Fills cfg with the defaults: 30 iterations, seed 0, 16 candidate centres per row. */
void sw_kmeans_defaults(sw_kmeans_cfg_t *cfg);

/* Balanced k-means: assign[n] in [0, E) with exactly n/E rows per expert, clustering the L2-normalised
 * rows[n][dim] (row-major, stride dim).  n must be divisible by E.  Deterministic given cfg->seed.
 * E-step: rows sorted by (distance to a candidate centre) are placed greedily into non-full clusters;
 * M-step: centres = means of their rows.  Stops when the assignment no longer changes. */
sw_rc sw_kmeans_balanced(int32_t *assign, const float *rows, size_t n, size_t dim, size_t E,
                         const sw_kmeans_cfg_t *cfg, sw_err_t *err);

/* Any of the three partitions (rows and cfg unused for random/contiguous; cfg may be NULL = defaults). */
sw_rc sw_partition_make(int32_t *assign, sw_partition_t kind, const float *rows, size_t n, size_t dim, size_t E,
                        const sw_kmeans_cfg_t *cfg, uint64_t seed, sw_err_t *err);

/* k-means objective of a partition: sum over rows of the squared distance between the L2-normalised row
 * and the mean of its cluster's normalised rows (lower is better).  Allocates. */
sw_rc sw_kmeans_cost(double *cost, const int32_t *assign, const float *rows, size_t n, size_t dim, size_t E,
                     sw_err_t *err);

/* Neuron permutation making each expert contiguous: perm[j] = original row placed at position j, experts in
 * order 0..E-1 and rows ascending inside an expert.  Validates that every expert holds n/E rows. */
sw_rc sw_partition_perm(size_t *perm, const int32_t *assign, size_t n, size_t E, sw_err_t *err);

#endif
