/* sw_ffn_dense: the dense FFN baseline (OpenBLAS sgemv at batch 1, sgemm above; bf16 weights use the
 * sparse kernel with every neuron active) and a naive float64 reference for tests and error measurements. */
#ifndef SW_FFN_DENSE_H
#define SW_FFN_DENSE_H
#include "kernels/sw_ffn.h"

/* out[t*d_model + j] = FFN(x_t)_j for n_tok tokens (x is n_tok × d_model row-major).  stats (may be NULL)
 * receives this call's counters (overwritten, not accumulated).  SW_ERR_INVALID on shape/workspace mismatch. */
sw_rc sw_ffn_dense_forward(float *out, const float *x, const sw_ffn_weights_t *w, sw_ffn_stats_t *stats,
                           sw_ffn_work_t *work, int n_tok);
/* Intermediate values for calibration and oracle policies: gact[t*d_ff+i] = act(gate_i·x_t) (plain:
 * act(up_i·x_t + b1_i)), u[t*d_ff+i] = up_i·x_t (gated only; u may be NULL to skip), and h (may be NULL)
 * = gact·u (gated) or gact (plain). */
sw_rc sw_ffn_dense_acts(float *gact, float *u, float *h, const float *x, const sw_ffn_weights_t *w,
                        sw_ffn_work_t *work, int n_tok);
/* Naive float64 reference: out = Σ_{i active} h_i down_i (+ b_down); mask NULL = every neuron. */
void sw_ffn_reference_f64(double *out, const float *x, const sw_ffn_weights_t *w, const sw_mask_t *mask, int n_tok);

#endif
