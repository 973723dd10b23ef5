/* sw_policy: the k policies that turn an FFN's intermediate activations into a per-token active-neuron mask
 * (docs/methods.md §1, §4, §5, §8), and their per-layer calibration from activation samples.
 * Usage per layer: sw_policy_init, sw_policy_calibrate(samples of that layer), then sw_policy_select per call. */

/* The policies:
 *   topk      k neurons per token with the largest |h_i| (oracle; h_i = act(gate_i·x)·(up_i·x));
 *   threshold |act(gate_i·x)| > t, t = the s-quantile of |act(gate)| over calibration tokens (CATS);
 *   chess     |act(gate_i·x)| > t_i, t_i = sqrt(T_l / E[u_i²]), T_l = s-quantile of act(gate)²·E[u²] (CHESS);
 *   cett      |h_i|·‖down_i‖ >= ε, ε found by binary search so that the mean CETT equals the target (ReLU²);
 *   random    k uniformly random neurons per token (baseline). */
#ifndef SW_POLICY_H
#define SW_POLICY_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"

typedef enum sw_policy_kind {
  SW_POLICY_DENSE = 0,
  SW_POLICY_TOPK = 1,
  SW_POLICY_THRESHOLD = 2, /* CATS */
  SW_POLICY_CHESS = 3,
  SW_POLICY_CETT = 4,
  SW_POLICY_RANDOM = 5,
  SW_POLICY_COUNT
} sw_policy_kind_t;

typedef struct sw_policy {
  sw_policy_kind_t kind;
  int              d_ff;
  double           target;    /* requested sparsity s (CETT: requested CETT value) */
  int              k;         /* TOPK, RANDOM: active neurons per token */
  float            threshold; /* THRESHOLD: t on |act(gate)|; CETT: ε on |h_i|·‖down_i‖ */
  float           *chan_thr;  /* CHESS: t_i [d_ff] (owned) */
  float           *down_norm; /* CETT: ‖down_i‖₂ [d_ff] (owned) */
  uint64_t         seed;      /* RANDOM */
  int              calibrated;
} sw_policy_t;

/* Config name ("dense", "topk", "threshold", "chess", "cett", "random") and its parser ("cats" is an
 * alias of "threshold").  SW_ERR_INVALID for an unknown name. */
const char *sw_policy_name(sw_policy_kind_t kind);
sw_rc       sw_policy_parse(const char *name, sw_policy_kind_t *kind, sw_err_t *err);

/* Initialises an uncalibrated policy for d_ff neurons (allocates per-channel arrays when needed). */
sw_rc sw_policy_init(sw_policy_t *p, sw_policy_kind_t kind, int d_ff, uint64_t seed, sw_err_t *err);
void  sw_policy_free(sw_policy_t *p);

/* 1 when sw_policy_select needs h (gate and up both computed: topk, cett), 0 when act(gate) suffices. */
int sw_policy_needs_h(const sw_policy_t *p);

/* Calibrates from n_tok activation samples of this layer: gact[t*d_ff+i] = act(gate_i·x_t) (plain FFN:
 * h itself) and u[t*d_ff+i] = up_i·x_t (gated; NULL for a plain FFN).  target is the sparsity s in [0,1]
 * (topk/random/threshold/chess) or the CETT value in [0,1) (cett, which also needs w for ‖down_i‖ and
 * the truncated vectors).  Not a hot path: allocates temporaries. */
sw_rc sw_policy_calibrate(sw_policy_t *p, const sw_ffn_weights_t *w, const float *gact, const float *u, int n_tok,
                          double target, sw_err_t *err);

/* Builds the mask of n_tok tokens (mask->max_tok >= n_tok, mask->n_units == d_ff).  gact as above; h is
 * the intermediate h = act(gate)·up (needed when sw_policy_needs_h, else may be NULL).  nonce makes RANDOM
 * draws differ between calls (token t of a call uses seed, nonce, t).  No allocation; scratch ints for
 * top-k come from work->i32 (needs d_ff ints; work may be NULL for the other kinds). */
sw_rc sw_policy_select(sw_mask_t *mask, const sw_policy_t *p, const float *gact, const float *h, uint64_t nonce,
                       sw_ffn_work_t *work, int n_tok);

/* --- calibration primitives (exported for the model's attention inputs and for tests) --- */
/* Threshold t with a fraction s of |v| at or below t: the order statistic of |v| (CATS, CHESS-style
 * per-layer quantile).  s = 0 gives a negative t (everything active).  *t receives it.  Deliberately not
 * sw_quantile (common/sw_stats.h): a threshold must be one of the values, so that exactly round(s n) of
 * them fall at or below it; an interpolated quantile would not be. */
sw_rc sw_calib_abs_quantile(float *t, const float *v, size_t n, double s, sw_err_t *err);
/* TEAL: t = F⁻¹(0.5 + s/2) of the signed empirical distribution of v (assumes symmetry around 0). */
sw_rc sw_calib_teal(float *t, const float *v, size_t n, double s, sw_err_t *err);
/* The same at n_levels sparsities s[] into t[] from one sort of v (the greedy allocation's error curves). */
sw_rc sw_calib_teal_levels(float *t, const float *v, size_t n, const double *s, int n_levels, sw_err_t *err);
/* CHESS per-channel thresholds t_ch[d_ff] from gact and u (n_tok × d_ff each) at sparsity s. */
sw_rc sw_calib_chess(float *t_ch, const float *gact, const float *u, int n_tok, int d_ff, double s, sw_err_t *err);
/* CETT of one token at threshold eps (float64): ‖Σ_{i: |h_i|‖down_i‖ < eps} h_i down_i‖ / ‖Σ_i h_i down_i‖. */
double sw_cett_token(const float *h, const sw_ffn_weights_t *w, const float *down_norm, double eps);

#endif
