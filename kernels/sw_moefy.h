/* sw_moefy: the parts of MoEfication (Zhang et al., Findings of ACL 2022, arXiv 2110.01786) that are not an
 * execution kernel: the router target (each expert's positive activation mass, normalised by its maximum over
 * the mini-batch), the expert centres of the similarity router and of the MLP router's initialisation, the
 * co-activation graph split, the training of the MLP router (90/10 split, best epoch by the activation mass
 * its top-20 % experts capture) and the held-out quality of any router (recall, precision, predicted density).
 * MoEfication assumes ReLU-like activations (h_i = 0 for most neurons); on a SiLU model the positive mass is
 * a proxy that ignores the negative part of h (experiments/README.md, "MoE methods on the model"). */
#ifndef SW_MOEFY_H
#define SW_MOEFY_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_moe.h"

/* Divides t[n][n_out] by its largest entry (left unchanged when that is <= 0): MoEfication's targets are the
 * mini-batch's masses over the mini-batch's maximum, so they lie in [0, 1]. */
void sw_moefy_batch_normalise(float *t, size_t n, size_t n_out, void *unused);

/* c[E][d_model]: c_e = mean of the L2-normalised gate rows (gated) or up rows (plain) of expert e's neurons. */
void sw_moefy_centres(float *c, const sw_moe_t *moe);

/* Copies x[n][d] into y with every row divided by its L2 norm (an all-zero row stays zero).  y may be x. */
void sw_moefy_l2_rows(float *y, const float *x, size_t n, size_t d);

/* Trains r (already shaped d→E→E, tanh then sigmoid, no bias) as MoEfication's MLP router on the normalised
 * inputs xn[n_tok][d] and raw positive masses mass[n_tok][E]: first layer = the expert centres, second = the
 * identity, BCE against the batch-normalised mass with cfg->train (lr, batch, epochs), the last
 * floor(n·val_frac) tokens held out and the epoch whose top-20 % experts capture the most mass on them kept. */
sw_rc sw_moefy_train(sw_moe_router_t *r, const sw_moe_t *moe, const float *xn, const float *mass, int n_tok,
                     const sw_moe_router_cfg_t *cfg, sw_err_t *err);

/* Fraction of the positive mass that the k highest-scoring experts of each token hold, averaged over the
 * tokens with any mass (MoEfication's validation metric at k = 20 % of E). */
double sw_moefy_mass_captured(const float *scores, const float *mass, int n_tok, int E, int k);

/* ---- co-activation split (MoEfication §3.1, "co-activation graph") ---- */
typedef struct sw_coact_cfg {
  int    group;      /* tokens per co-activation group (MoEfication: 8) */
  double drop_frac;  /* edges below this quantile of the non-zero edge weights are dropped (0: keep all) */
  int    passes;     /* swap-refinement passes after the greedy growth (default 4) */
} sw_coact_cfg_t;

void sw_coact_defaults(sw_coact_cfg_t *cfg);

/* Edge weights w[d_ff][d_ff] of the co-activation graph from positive activations hp[n_tok][d_ff]: for each
 * group of cfg->group consecutive tokens, min(1, Σ_t hp_n hp_m), summed over groups (diagonal 0).
 * Allocates nothing; w is caller storage. */
void sw_coact_graph(float *w, const float *hp, size_t n_tok, size_t d_ff, int group);

/* Balanced partition of the graph w[n][n] into E parts of n/E nodes maximising the weight inside parts:
 * greedy growth (each part seeded by the free node with most free weight, grown by the free node most
 * connected to it) then pairwise swaps between parts while any improves (cfg->passes).  assign[n] in [0, E).
 * This replaces the METIS call of MoEfication's code, which is not a dependency of this suite. */
sw_rc sw_coact_partition_graph(int32_t *assign, const float *w, size_t n, size_t E, const sw_coact_cfg_t *cfg,
                               sw_err_t *err);

/* The whole split: positive activations of x[n_tok] through w (f32 weights), the graph, the edge drop, the
 * partition.  Allocates d_ff² floats. */
sw_rc sw_coact_partition(int32_t *assign, const sw_ffn_weights_t *w, const float *x, int n_tok, int E,
                         const sw_coact_cfg_t *cfg, sw_err_t *err);

/* ---- held-out router quality ---- */
typedef struct sw_router_quality {
  double recall;    /* mean over tokens of |pred ∩ truth| / |truth| */
  double precision; /* mean over tokens of |pred ∩ truth| / |pred| */
  double density;   /* mean over tokens of |pred| / E (predicted density) */
  int64_t tokens;
} sw_router_quality_t;

/* Compares two expert masks of the same tokens (truth: the same selection rule on the exact scores). */
sw_rc sw_router_quality(sw_router_quality_t *q, const sw_mask_t *pred, const sw_mask_t *truth, int E);

#endif
