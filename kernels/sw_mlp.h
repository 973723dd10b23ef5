/* sw_mlp: a small multi-layer perceptron library for routers and predictors (D2DMoE regression router,
 * MoEfication classifier, LTE sigmoid router, Deja Vu low-rank predictor): dense layers with an optional
 * bias and a per-layer activation (none, ReLU, sigmoid, abs, tanh), batched forward and backward on OpenBLAS
 * sgemm, mini-batch Adam, MSE and (weighted) BCE losses.  Deterministic given a seed (single-threaded
 * BLAS calls give bit-identical results run to run).  Training allocates; inference uses caller workspace. */
#ifndef SW_MLP_H
#define SW_MLP_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"

#define SW_MLP_MAX_LAYERS 4

typedef enum sw_mlp_act {
  SW_MLP_ACT_NONE    = 0, /* identity */
  SW_MLP_ACT_RELU    = 1,
  SW_MLP_ACT_SIGMOID = 2,
  SW_MLP_ACT_ABS     = 3, /* |z|: D2DMoE's router output activation */
  SW_MLP_ACT_TANH    = 4
} sw_mlp_act_t;

typedef enum sw_mlp_loss {
  SW_MLP_LOSS_MSE = 0, /* mean over all outputs of (y - t)^2 (PyTorch MSELoss, reduction "mean") */
  SW_MLP_LOSS_BCE = 1  /* weighted BCE on the last layer's pre-activation (logit); last act must be SIGMOID */
} sw_mlp_loss_t;

/* Deterministic 64-bit generator (splitmix64).  State lives in the caller's struct. */
typedef struct sw_mlp_rng {
  uint64_t s;
} sw_mlp_rng_t;

/* Next 64 random bits; advances r. */
uint64_t sw_mlp_rng_next(sw_mlp_rng_t *r);
/* Uniform in [0, 1). */
double sw_mlp_rng_uniform(sw_mlp_rng_t *r);
/* Standard normal (Box-Muller). */
double sw_mlp_rng_normal(sw_mlp_rng_t *r);
/* Uniform integer in [0, n), n >= 1. */
size_t sw_mlp_rng_below(sw_mlp_rng_t *r, size_t n);

/* One dense layer: y = act(x W^T + b); W is [n_out][n_in] row-major. */
typedef struct sw_mlp_layer {
  size_t       n_in, n_out;
  float       *w;   /* [n_out * n_in] */
  float       *b;   /* [n_out] or NULL (no bias) */
  sw_mlp_act_t act;
} sw_mlp_layer_t;

typedef struct sw_mlp {
  size_t         n_layer;
  sw_mlp_layer_t layer[SW_MLP_MAX_LAYERS];
  float         *params;   /* one allocation holding every layer's w then b, in layer order */
  size_t         n_params; /* floats in params */
} sw_mlp_t;

/* Builds an MLP with dims[0] inputs and dims[n_layer] outputs, acts[l] after layer l, a bias on every layer
 * iff use_bias.  Weights ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) (PyTorch Linear's default bound), biases 0,
 * drawn from seed.  Caller-owned storage: call sw_mlp_free afterwards (also after a failed init). */
sw_rc sw_mlp_init(sw_mlp_t *mlp, const size_t *dims, const sw_mlp_act_t *acts, size_t n_layer, int use_bias,
                  uint64_t seed, sw_err_t *err);
/* Deep copy (dst must be uninitialised or freed). */
sw_rc sw_mlp_copy(sw_mlp_t *dst, const sw_mlp_t *src, sw_err_t *err);
/* Frees the layers and zeroes mlp (safe on a zeroed or failed-init MLP). */
void  sw_mlp_free(sw_mlp_t *mlp);
/* Input width dims[0] and output width dims[n_layer]. */
size_t sw_mlp_n_in(const sw_mlp_t *mlp);
size_t sw_mlp_n_out(const sw_mlp_t *mlp);
/* Number of parameters (weights + biases). */
size_t sw_mlp_n_params(const sw_mlp_t *mlp);
/* Multiply-add FLOPs of one forward pass for one row: 2 * sum_l n_in*n_out (activations not counted). */
double sw_mlp_flops_per_row(const sw_mlp_t *mlp);
/* Workspace floats that sw_mlp_forward needs for n rows. */
size_t sw_mlp_work_floats(const sw_mlp_t *mlp, size_t n);

/* Inference: y[n][n_out] = mlp(x[n][n_in]).  work has sw_mlp_work_floats(mlp, n) floats.  No allocation.
 * n == 1 uses sgemv (sgemm at N=1 is several times slower on OpenBLAS). */
void sw_mlp_forward(float *y, const sw_mlp_t *mlp, const float *x, size_t n, float *work);
/* sw_mlp_forward without the last layer's activation: its pre-activation (a sigmoid output's logit).  A float
 * sigmoid rounds to exactly 1 above a logit of about 16.6, so a threshold on a logit is applied here. */
void sw_mlp_forward_logits(float *y, const sw_mlp_t *mlp, const float *x, size_t n, float *work);

/* Training configuration (defaults from sw_mlp_train_defaults: Adam lr 1e-3, betas 0.9/0.999, eps 1e-8). */
typedef struct sw_mlp_train_cfg {
  sw_mlp_loss_t loss;
  double        lr;
  double        beta1, beta2, eps;
  double        weight_decay; /* decoupled (AdamW); 0 = plain Adam */
  size_t        batch;        /* mini-batch rows */
  size_t        epochs;
  double        pos_weight;   /* BCE: weight of positive targets (t=1 part) */
  double        neg_weight;   /* BCE: weight of negative targets (t=0 part) */
  uint64_t      seed;         /* shuffling */
  /* Optional (NULL = unused).  batch_targets rewrites a gathered mini-batch's targets t[n][n_out] before the
   * loss (MoEfication normalises its targets by the mini-batch maximum).  epoch_score is called after every
   * epoch and returns a validation score (higher is better); training then ends with the parameters of the
   * best-scoring epoch (MoEfication's best-epoch choice on its 10 % validation split). */
  void        (*batch_targets)(float *t, size_t n, size_t n_out, void *ctx);
  /* Early stopping (with epoch_score; 0 = off): stop after an epoch scoring >= stop_score, or after patience
   * epochs without a better score than the best so far (Deja Vu: recall 0.99, patience 5). */
  double        stop_score;
  size_t        patience;
  double      (*epoch_score)(const struct sw_mlp *mlp, void *ctx);
  void         *ctx;
} sw_mlp_train_cfg_t;

/* Fills cfg with the training defaults (MSE loss, Adam with lr 1e-3, beta 0.9/0.999; see sw_mlp.c). */
void sw_mlp_train_defaults(sw_mlp_train_cfg_t *cfg);

/* One Adam(W) update of n parameters with gradient grad and moments m, v (zero before step 1); cfg gives lr,
 * betas, eps and weight decay; step counts from 1.  For trainers with their own loss (kernels/sw_lte.c). */
void sw_mlp_adam_step(float *params, const float *grad, float *m, float *v, size_t n, const sw_mlp_train_cfg_t *cfg,
                      size_t step);

/* Per-run statistics. */
typedef struct sw_mlp_train_stats {
  double first_epoch_loss; /* mean loss over the first epoch's mini-batches (before most updates) */
  double final_loss;       /* loss of the trained model on the whole training set (sw_mlp_eval_loss) */
  size_t steps;            /* Adam steps taken */
  size_t best_epoch;       /* 0-based epoch whose parameters were kept (the last one without epoch_score) */
  double best_score;       /* its epoch_score (NAN without epoch_score) */
  size_t epochs_run;       /* epochs trained (fewer than cfg->epochs after an early stop) */
} sw_mlp_train_stats_t;

/* Trains mlp on x[n][n_in] -> t[n][n_out] with mini-batch Adam; rows are shuffled every epoch from
 * cfg->seed.  BCE targets may be soft (in [0,1]).  stats may be NULL. */
sw_rc sw_mlp_train(sw_mlp_t *mlp, const float *x, const float *t, size_t n, const sw_mlp_train_cfg_t *cfg,
                   sw_mlp_train_stats_t *stats, sw_err_t *err);

/* Mean loss of a batch x[n] -> t[n] and its gradient w.r.t. every parameter (grad[n_params], laid out
 * like mlp->params).  Exposed for gradient checks.  Allocates. */
sw_rc sw_mlp_grad(double *loss, float *grad, const sw_mlp_t *mlp, const float *x, const float *t, size_t n,
                  const sw_mlp_train_cfg_t *cfg, sw_err_t *err);

/* Mean loss of mlp on a data set (same definition as training; BCE weights from cfg).  Allocates. */
sw_rc sw_mlp_eval_loss(double *loss, const sw_mlp_t *mlp, const float *x, const float *t, size_t n,
                       const sw_mlp_train_cfg_t *cfg, sw_err_t *err);

#endif
