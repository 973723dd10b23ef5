/* sw_wffn: a Llama FFN hook (sw_llama_ffn_t) that runs each layer from weight-sparse formats
 * (kernels/sw_wsparse.h), per token: gate and up as CSR SpMV; down as spMspV over the active neurons (CSR of
 * the stored transposed down matrix = CSC of W_down) under top-k, or as CSR SpMV of W_down with every neuron
 * active.  With act_sparsity > 0 the active neurons are the oracle
 * top-k by |h| (kernels/sw_policy.h), so weight and activation sparsity combine as in DuoGPT's spMspV
 * (arXiv 2506.20194); with 0 every neuron is active (weight sparsity only).  Built from the model's current
 * (pruned) weights; zeros are skipped, so a dense model gives the dense FFN.  Several tokens at once (prefill)
 * share each weight read: gate, up and down (a CSR of W_down) run as CSR SpMM (sw_spmm_csr), with each token's
 * unselected neurons zeroed in h under top-k. */
#ifndef SW_WFFN_H
#define SW_WFFN_H
#include "kernels/sw_ffn.h"
#include "kernels/sw_policy.h"
#include "kernels/sw_wsparse.h"
#include "models/sw_llama.h"

typedef struct sw_wffn {
  int               n_layer, d_model, d_ff;
  sw_wsparse_ctx_t  ctx;
  sw_csr_t         *gate, *up, *down; /* (n_layer) each; down = CSR of w_down_t (neuron-major) */
  sw_csr_t         *down_rows;        /* (n_layer) CSR of W_down (output-major), for SpMM */
  sw_policy_t       topk;             /* SW_POLICY_DENSE when act_sparsity == 0 */
  sw_mask_t         mask;
  sw_ffn_work_t     work;             /* top-k scratch */
  float            *g, *u, *h;        /* (cap_tok, d_ff) each */
  float            *scratch;          /* SpMM's token-minor copies (sw_spmm_scratch_floats) for cap_tok tokens */
  int               cap_tok;          /* tokens the buffers hold */
  int32_t          *all;              /* 0..d_ff-1 */
  sw_ffn_stats_t    stats;            /* accumulated over calls */
} sw_wffn_t;

sw_rc          sw_wffn_init(sw_wffn_t *f, const sw_llama_t *m, double act_sparsity, sw_err_t *err);
void           sw_wffn_free(sw_wffn_t *f);
sw_llama_ffn_t sw_wffn_hook(sw_wffn_t *f);

#endif
