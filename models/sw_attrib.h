/* sw_attrib: attribution-based sparse activation (Song et al., "Achieving Sparse Activation in Small Language
 * Models", arXiv 2406.06562): per-window importance scores of every FFN neuron and attention head from the
 * backward pass (models/sw_llama_grad.h), per-layer bottom-p deactivation masks, and the sw_llama hook that
 * applies them.
 *
 * Scores of unit i of layer l over a window of T tokens, with o_t its output at token t (FFN: h_{t,i}; head: the
 * head's output vector) and g_t = dLoss/do_t, the loss being the cross-entropy against the dense model's own
 * greedy next tokens (the paper's labels), each summed over the window's tokens:
 *   magnitude  Σ_t ||o_t||₂                  (a neuron: |h_{t,i}|)
 *   grad       Σ_t ||g_t||₂
 *   gxo        Σ_t |g_t·o_t|: the first-order change of the loss when the unit is removed at token t
 *   cor_gxo    Σ_t (|g_t·o_t| + ½·||o_t||₂·||G_t||₂), G_t the gradient of the whole layer (all its units) at t.
 *              The paper bounds the error that the inter-layer dependency adds to a unit's GxO attribution by
 *              [0, |o_i|·||∇_layer F||₂] and corrects the score by the middle of that interval.  The authors'
 *              code (main.py, cor_gxo branch) ranks −GxO + ½·|o|·||g|| with the signed GxO instead (and that
 *              branch raises NameError as released); here the unsigned GxO of the paper's text is used.
 * Deactivating the fraction p of a layer's units with the lowest score (per layer, FFN neurons and heads
 * separately) gives the paper's reported sparsity (1/3)·head sparsity + (2/3)·MLP sparsity. */
#ifndef SW_ATTRIB_H
#define SW_ATTRIB_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"
#include "models/sw_llama.h"
#include "models/sw_llama_grad.h"

typedef enum sw_attrib_metric {
  SW_ATTRIB_MAGNITUDE = 0,
  SW_ATTRIB_GRAD = 1,
  SW_ATTRIB_GXO = 2,
  SW_ATTRIB_COR_GXO = 3,
  SW_ATTRIB_COUNT
} sw_attrib_metric_t;

/* "magnitude", "grad", "gxo", "cor_gxo". */
const char *sw_attrib_metric_name(sw_attrib_metric_t m);
sw_rc       sw_attrib_metric_parse(const char *name, sw_attrib_metric_t *m, sw_err_t *err);

/* Scores of every metric for every FFN neuron and head of every layer. */
typedef struct sw_attrib_scores {
  int    n_layer, d_ff, n_head;
  double *ffn;  /* (SW_ATTRIB_COUNT, n_layer, d_ff) */
  double *head; /* (SW_ATTRIB_COUNT, n_layer, n_head) */
} sw_attrib_scores_t;

sw_rc sw_attrib_scores_init(sw_attrib_scores_t *s, const sw_llama_config_t *c, sw_err_t *err);
void  sw_attrib_scores_free(sw_attrib_scores_t *s);
/* s = the scores of the window last run through g (overwrites). */
void  sw_attrib_scores_from_grad(sw_attrib_scores_t *s, const sw_llama_grad_t *g, const sw_llama_config_t *c);
/* dst += w · src (to average windows). */
void  sw_attrib_scores_add(sw_attrib_scores_t *dst, const sw_attrib_scores_t *src, double w);
static inline double *sw_attrib_ffn(const sw_attrib_scores_t *s, sw_attrib_metric_t m, int l) {
  return s->ffn + ((size_t)m * s->n_layer + (size_t)l) * s->d_ff;
}
static inline double *sw_attrib_head(const sw_attrib_scores_t *s, sw_attrib_metric_t m, int l) {
  return s->head + ((size_t)m * s->n_layer + (size_t)l) * s->n_head;
}

/* Mean of v[0..n) and (into *se) its standard error, sample standard deviation / sqrt(n) (NaN for n < 2):
 * how the attribution and modularity workloads summarise per-window and per-layer values. */
double sw_attrib_mean_se(const double *v, int n, double *se);

/* Scores of one window: a dense forward gives the greedy labels (label of position t = the dense argmax after
 * t; the last position is unlabelled), then the backward.  st must hold n_tok tokens. */
sw_rc sw_attrib_window(const sw_llama_t *m, sw_llama_state_t *st, sw_llama_grad_t *g, const int32_t *tokens, int n_tok,
                       sw_attrib_scores_t *out, sw_err_t *err);

/* Per-layer masks of FFN neurons and heads (1 = active) and the hook that applies them: the FFN computes
 * gate, up and down of the active neurons only (their weight rows read in place by the sparse kernels of
 * kernels/sw_ffn_sparse.h); a masked head's output is zeroed before o_proj (its projections are still computed). */
typedef struct sw_attrib_rank {
  double score;
  int    index;
} sw_attrib_rank_t;

typedef struct sw_attrib_mask {
  const sw_llama_t *model;  /* borrowed */
  int      max_tok;
  uint8_t *ffn;   /* (n_layer, d_ff) */
  uint8_t *head;  /* (n_layer, n_head) */
  sw_attrib_rank_t *order; /* (max(d_ff, n_head)) sorting scratch */
  int32_t  *active; /* (d_ff) ascending indices of a layer's active neurons */
  sw_ffn_work_t work; /* the sparse kernels' scratch for max_tok tokens (one thread) */
} sw_attrib_mask_t;

sw_rc sw_attrib_mask_init(sw_attrib_mask_t *k, const sw_llama_t *m, int max_tok, sw_err_t *err);
void  sw_attrib_mask_free(sw_attrib_mask_t *k);
/* In every layer, deactivates the round(p_ffn·d_ff) neurons and round(p_head·n_head) heads with the lowest
 * score of metric (equal scores: the lower index is deactivated first). */
void  sw_attrib_mask_select(sw_attrib_mask_t *k, const sw_attrib_scores_t *s, sw_attrib_metric_t metric, double p_ffn,
                            double p_head);
/* Fractions of FFN neurons and of heads deactivated over all layers. */
void  sw_attrib_mask_sparsity(const sw_attrib_mask_t *k, double *ffn, double *head);
sw_llama_ffn_t sw_attrib_mask_hook(sw_attrib_mask_t *k);

#endif
