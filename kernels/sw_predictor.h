/* sw_predictor: Deja Vu's low-rank MLP sparsity predictor (Liu et al., ICML 2023; docs/methods.md §6.1): d_model →
 * r → d_ff with no non-linearity in between and a sigmoid output (PowerInfer's predictor, Song et al. 2024, puts a
 * ReLU between the two layers and thresholds the output logit: hidden_act = SW_MLP_ACT_RELU, k = 0), trained with weighted BCE on which neurons
 * are active (|h_i| > label threshold; ReLU: h_i > 0), positives get weight 1-w and negatives w with
 * w = label density + 0.005 (DejaVu trainer_mlp.py).  At inference the predicted positives (probability >
 * threshold, or the top-k by probability) are computed with the sparse FFN kernel; predictor FLOPs are
 * charged to the call (stats->flops_select). */
#ifndef SW_PREDICTOR_H
#define SW_PREDICTOR_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_mlp.h"

typedef struct sw_predictor {
  int      d_model, d_ff, rank;
  sw_mlp_t mlp; /* Linear(d, r) identity, Linear(r, d_ff) sigmoid, no biases */
} sw_predictor_t;

typedef struct sw_predictor_cfg {
  int                rank;      /* r (Deja Vu: 1000 for OPT; choose ~d/4 for small models); PowerInfer: hidden size */
  sw_mlp_act_t       hidden_act; /* between the two layers: NONE (Deja Vu) or RELU (PowerInfer) */
  double             label_thr; /* neuron active iff |h_i| > label_thr */
  sw_mlp_train_cfg_t train;     /* loss/weights are set by sw_predictor_train; train.patience and
                                   train.stop_score stop on the held-out recall (needs val_frac > 0) */
  double             val_frac;  /* the last val_frac of the tokens are held out: the recall at val_logit_thr is scored
                                   after every epoch and the best epoch kept (0: train on all, keep the last) */
  double             val_logit_thr; /* logit threshold of the held-out recall (0: probability 0.5) */
  uint64_t           seed;      /* weight initialisation */
} sw_predictor_cfg_t;

/* Defaults: rank 64, no hidden activation, label_thr 0, Adam lr 1e-3, batch 64, 20 epochs, no validation (the
 * ffn workload's predictor).  sw_predictor_dejavu_defaults gives Deja Vu's trainer. */
void sw_predictor_defaults(sw_predictor_cfg_t *cfg);
/* Deja Vu's trainer (sparse_predictor/trainer_mlp.py): AdamW lr 1e-3, weight decay 0.01, 20 epochs, a 5 % validation
 * split, early stopping at held-out recall >= 0.99 or after 5 epochs without a better recall; batch 64 (Deja Vu:
 * 1024 over 400k tokens; the model workload calibrates on ~1k tokens, where 1024 would be one step per epoch). */
void sw_predictor_dejavu_defaults(sw_predictor_cfg_t *cfg);

/* labels[t*d_ff+i] = 1 if |h_i(x_t)| > thr else 0 (h from the dense FFN).  Allocates temporaries. */
sw_rc sw_predictor_labels(float *labels, const sw_ffn_weights_t *w, const float *x, int n_tok, double thr,
                          sw_err_t *err);

/* Computes labels from w and trains a predictor on x[n_tok][d_model].  stats may be NULL. */
sw_rc sw_predictor_train(sw_predictor_t *p, const sw_ffn_weights_t *w, const float *x, int n_tok,
                         const sw_predictor_cfg_t *cfg, sw_mlp_train_stats_t *stats, sw_err_t *err);
/* The same with the labels from the FFN on x and the predictor reading x_pred (n_tok rows of d_model): Deja Vu's
 * lookahead predicts layer l's neurons from an earlier layer's input. */
sw_rc sw_predictor_train_from(sw_predictor_t *p, const sw_ffn_weights_t *w, const float *x, const float *x_pred,
                              int n_tok, const sw_predictor_cfg_t *cfg, sw_mlp_train_stats_t *stats, sw_err_t *err);
void  sw_predictor_free(sw_predictor_t *p);
/* FLOPs per token: 2·(d·r + r·d_ff). */
double sw_predictor_flops(const sw_predictor_t *p);

/* Inference workspace for max_tok tokens. */
typedef struct sw_predictor_work {
  int    max_tok, d_ff;
  float *prob;   /* [max_tok * d_ff] */
  float *mlp_ws; /* MLP workspace */
  void  *pairs;  /* [d_ff] sort scratch for top-k */
  uint8_t *flag; /* [max_tok * d_ff] */
  void  *mem;
} sw_predictor_work_t;

/* Allocates a workspace for up to max_tok tokens of p (one block); SW_ERR_INVALID for max_tok <= 0,
 * SW_ERR_NOMEM.  A failed alloc leaves nothing to free. */
sw_rc sw_predictor_work_alloc(sw_predictor_work_t *work, const sw_predictor_t *p, int max_tok, sw_err_t *err);
/* Releases the workspace and zeroes it; safe on a zeroed or already freed workspace. */
void  sw_predictor_work_free(sw_predictor_work_t *work);

/* The logit of a probability threshold p (exact in double; p <= 0: -inf, every neuron; p >= 1: +inf, none). */
double sw_predictor_logit_of_prob(double p);

/* Neuron mask of n_tok tokens (mask->n_units == d_ff): k > 0 selects the k most probable neurons per token
 * (Deja Vu inference), k == 0 those whose predicted logit is above logit_thr (0 = probability 0.5, Deja Vu
 * training; PowerInfer's threshold).  Decided on the logits, never on float probabilities, which round to 1
 * above a logit of about 16.6.  No allocation. */
sw_rc sw_predictor_select(sw_mask_t *mask, const sw_predictor_t *p, const float *x, double logit_thr, int k,
                          sw_predictor_work_t *work, int n_tok);

/* Predict, then compute the predicted positives with sw_ffn_sparse_forward; stats gets the sparse kernel's
 * counters plus the predictor's FLOPs and weight bytes (flops_select). */
sw_rc sw_predictor_forward(float *out, sw_mask_t *mask, const float *x, const sw_ffn_weights_t *w,
                           const sw_predictor_t *p, double logit_thr, int k, sw_ffn_stats_t *stats,
                           sw_predictor_work_t *pwork, sw_ffn_work_t *fwork, int n_tok);
/* The same with the predictor reading x_pred (lookahead) while the FFN computes on x. */
sw_rc sw_predictor_forward_from(float *out, sw_mask_t *mask, const float *x, const float *x_pred,
                                const sw_ffn_weights_t *w, const sw_predictor_t *p, double logit_thr, int k,
                                sw_ffn_stats_t *stats, sw_predictor_work_t *pwork, sw_ffn_work_t *fwork, int n_tok);

/* Quality on labelled tokens: recall = TP/(TP+FN), precision = TP/(TP+FP), predicted and true density
 * (fractions of neurons).  Any output may be NULL.  Allocates. */
sw_rc sw_predictor_eval(double *recall, double *precision, double *pred_density, double *true_density,
                        const sw_predictor_t *p, const float *x, const float *labels, int n_tok, double logit_thr,
                        int k, sw_err_t *err);

#endif
