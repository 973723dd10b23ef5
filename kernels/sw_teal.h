/* sw_teal: TEAL-style FFN (Liu et al. 2024, docs/methods.md §5.1): the inputs of every FFN matmul are thresholded,
 * x̃ = x·1[|x| > t_x] for gate and up, h̃ = h·1[|h| > t_h] for down, with t = F⁻¹(0.5 + s/2) calibrated per
 * tensor.  Input sparsity skips rows of Wᵀ, so gate and up are kept input-channel-major (d_model rows of d_ff,
 * as TEAL's kernel stores them) and the neuron-major down rows are already input-channel-major.  Tokens are
 * processed one at a time (TEAL's kernel is batch-1 only). */
#ifndef SW_TEAL_H
#define SW_TEAL_H
#include "kernels/sw_ffn.h"

typedef struct sw_teal_weights {
  const sw_ffn_weights_t *base;   /* the FFN (down rows, biases, activation, dtype) */
  void                   *gate_t; /* gated: [d_model][d_ff] (dtype of base), owned */
  void                   *up_t;   /* [d_model][d_ff], owned */
  size_t                  ld_t;   /* = d_ff */
} sw_teal_weights_t;

typedef struct sw_teal_policy {
  double target; /* per-tensor sparsity s */
  float  t_x;    /* threshold on the FFN input (gate and up inputs) */
  float  t_h;    /* threshold on the intermediate h (down input) */
} sw_teal_policy_t;

/* Builds the transposed gate/up copies of w (same dtype).  base stays borrowed. */
sw_rc sw_teal_weights_init(sw_teal_weights_t *tw, const sw_ffn_weights_t *w, sw_err_t *err);
void  sw_teal_weights_free(sw_teal_weights_t *tw);

/* Calibrates t_x on x (n_tok × d_model) and t_h on h (n_tok × d_ff) with sw_calib_teal at sparsity s. */
sw_rc sw_teal_calibrate(sw_teal_policy_t *p, const float *x, const float *h, int n_tok, int d_model, int d_ff, double s,
                        sw_err_t *err);

/* out[t] = Σ_{i: |h̃_i| > 0} h̃_i down_i (+ b_down) with h computed from x̃_t.  stats: neurons_executed counts
 * active down inputs; flops/weight_bytes count only active input rows of the three matrices.
 * input_active (may be NULL) receives Σ over tokens of active x channels.  SW_ERR_INVALID on shape mismatch. */
sw_rc sw_ffn_teal_forward(float *out, const float *x, const sw_teal_weights_t *tw, const sw_teal_policy_t *p,
                          sw_ffn_stats_t *stats, int64_t *input_active, sw_ffn_work_t *work, int n_tok);

#endif
