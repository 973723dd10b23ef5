/* sw_ffn_sparse: activation-sparse FFN at neuron granularity.  Only the active neurons' gate/up rows and
 * down rows are read, and the results equal the masked dense FFN in every case; which kernel runs depends on
 * the batch size and on the fraction of active (token, neuron) pairs (see the next comment). */

/* Batch 1: a gathered kernel over 4 active neurons at a time with software prefetch (split over the
 * workspace's threads).  Batches: when at most 35% of (token, neuron) pairs are active (and always for bf16),
 * a token-sparse neuron-major kernel reads each union neuron's rows once and applies them to its active tokens
 * 4 at a time (tiled over d_model in 256..1024-float tiles, dots then axpys, when the batch's inputs exceed
 * 64 KiB, so the x/out tiles stay in L2); denser f32 batches run OpenBLAS sgemm, on packed blocks of the
 * union's rows or, when the union covers >= 80% of the neurons, on the whole matrices with h masked. */
#ifndef SW_FFN_SPARSE_H
#define SW_FFN_SPARSE_H
#include "kernels/sw_ffn.h"
#include "kernels/sw_policy.h"

/* out[t] = Σ_{i ∈ mask_t} h_i(x_t) down_i (+ b_down) for n_tok tokens (mask->n_tok must equal n_tok).
 * stats (may be NULL) receives this call's counters.  SW_ERR_INVALID on shape/workspace mismatch. */
sw_rc sw_ffn_sparse_forward(float *out, const float *x, const sw_ffn_weights_t *w, const sw_mask_t *mask,
                            sw_ffn_stats_t *stats, sw_ffn_work_t *work, int n_tok);

/* The same FFN for n_tok tokens that share one active set: active[0..n_active) ascending neuron ids (a static
 * or per-sequence mask; no per-token CSR mask to build).  The kernels are those of sw_ffn_sparse_forward: the
 * rows are read in place (gathered at batch 1, token-sparse or packed in L2-sized blocks above), never copied
 * whole.  SW_ERR_INVALID on shape/workspace mismatch or ids outside [0, d_ff). */
sw_rc sw_ffn_subset_forward(float *out, const float *x, const sw_ffn_weights_t *w, const int32_t *active,
                            int64_t n_active, sw_ffn_stats_t *stats, sw_ffn_work_t *work, int n_tok);

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
