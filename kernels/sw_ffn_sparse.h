/* sw_ffn_sparse: activation-sparse FFN at neuron granularity.  Only the active neurons' gate/up rows and
 * down rows are read: batch 1 (and small batches) run a gathered kernel over 4 active neurons at a time
 * with software prefetch; larger batches pack the union of active rows in blocks and run OpenBLAS sgemm,
 * zeroing h for (token, neuron) pairs outside each token's set.  Results equal the masked dense FFN. */
#ifndef SW_FFN_SPARSE_H
#define SW_FFN_SPARSE_H
#include "kernels/sw_ffn.h"
#include "kernels/sw_policy.h"

/* out[t] = Σ_{i ∈ mask_t} h_i(x_t) down_i (+ b_down) for n_tok tokens (mask->n_tok must equal n_tok).
 * stats (may be NULL) receives this call's counters.  SW_ERR_INVALID on shape/workspace mismatch. */
sw_rc sw_ffn_sparse_forward(float *out, const float *x, const sw_ffn_weights_t *w, const sw_mask_t *mask,
                            sw_ffn_stats_t *stats, sw_ffn_work_t *work, int n_tok);

/* Selection included: computes act(gate) densely (and up too when the policy needs h), selects the mask
 * with p into mask_out, then computes the rest only for active neurons (threshold/chess: up+down rows;
 * topk/cett: down rows).  The dense part is counted in stats->flops_select.  nonce: see sw_policy_select. */
sw_rc sw_ffn_policy_forward(float *out, sw_mask_t *mask_out, const float *x, const sw_ffn_weights_t *w,
                            const sw_policy_t *p, uint64_t nonce, sw_ffn_stats_t *stats, sw_ffn_work_t *work,
                            int n_tok);

/* Down projection only, for given intermediates h (n_tok × d_ff): out[t] = Σ_{i ∈ mask_t} h[t,i] down_i
 * (+ b_down).  Used by policies that computed h already and by MoE experts. */
sw_rc sw_ffn_sparse_down(float *out, const float *h, const sw_ffn_weights_t *w, const sw_mask_t *mask,
                         sw_ffn_stats_t *stats, sw_ffn_work_t *work, int n_tok);

#endif
