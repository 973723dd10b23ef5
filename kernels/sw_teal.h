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

/* Calibrates, sequentially as TEAL does, t_x on x (n_tok × d_model) and then t_h on the h that w computes from
 * x̃ = x·1[|x| > t_x] (the down input the kernel will see, not the dense h).  Rule: signed_cdf 1 TEAL's code,
 * t = F⁻¹(0.5 + s/2) of the signed values (sw_calib_teal); 0 the s-quantile of |v| (sw_calib_abs_quantile). */
sw_rc sw_teal_calibrate(sw_teal_policy_t *p, const sw_ffn_weights_t *w, const float *x, int n_tok, double s,
                        int signed_cdf, sw_err_t *err);

/* out[t] = Σ_{i: |h̃_i| > 0} h̃_i down_i (+ b_down) with h computed from x̃_t.  stats: neurons_executed counts
 * active down inputs; flops count active input rows per token; weight_bytes, per call (kernels/sw_ffn.h), count
 * each input row of the three matrices once if any token of the call needs it.  Needs 2·d_model ints of scratch
 * beyond the index lists: d_model <= d_ff·(max_tok + 1) / 2.
 * input_active (may be NULL) receives Σ over tokens of active x channels.  SW_ERR_INVALID on shape mismatch. */
sw_rc sw_ffn_teal_forward(float *out, const float *x, const sw_teal_weights_t *tw, const sw_teal_policy_t *p,
                          sw_ffn_stats_t *stats, int64_t *input_active, sw_ffn_work_t *work, int n_tok);

#endif
