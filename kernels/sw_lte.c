/* sw_lte: LTE's router objective and its trainer (kernels/sw_lte.h). */
#include "kernels/sw_lte.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double sw_lte_token_loss(double *dG, const float *G, const float *K, int E, double eta, double lambda) {
  double y2 = 0, task = 0, eff = 0, sep = 0;
  for (int e = 0; e < E * E; e++) y2 += K[e];
  for (int e = 0; e < E; e++) {
    double row = 0, ge = G[e], q = (ge - SW_MOE_LTE_TAU) * (ge - SW_MOE_LTE_TAU) + SW_LTE_SEP_EPS;
    for (int f = 0; f < E; f++) row += ((double)G[f] - 1.0) * K[(size_t)e * E + f];
    if (y2 > 0) task += (ge - 1.0) * row / y2;
    eff += ge * ge / E;
    sep += 1.0 / q / E;
    if (dG)
      dG[e] = (y2 > 0 ? 2.0 * row / y2 : 0.0) + eta * 2.0 * ge / E - lambda * 2.0 * (ge - SW_MOE_LTE_TAU) / (q * q) / E;
  }
  return task + eta * eff + lambda * sep;
}

/* Training state of one router. */
typedef struct s_lte {
  const float *x, *K;    /* inputs [n][d], Gram matrices [n][E][E] */
  int          d, E;
  double       eta, lambda;
  float       *z, *dz, *grad, *m, *v, *xb, *best;
  double      *dG;
} s_lte_t;

/* Mean loss of rows[0..n) (indices into x/K) and, when grad, dL/dW into st->grad. */
static double s_lte_batch(s_lte_t *st, const float *W, const size_t *rows, size_t n, int grad) {
  const int d = st->d, E = st->E;
  for (size_t r = 0; r < n; r++) memcpy(st->xb + r * d, st->x + rows[r] * d, (size_t)d * sizeof(float));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, E, d, 1.0f, st->xb, d, W, d, 0.0f, st->z, E);
  double sum = 0;
  for (size_t r = 0; r < n; r++) {
    float *g = st->z + r * E;
    for (int e = 0; e < E; e++) g[e] = 1.0f / (1.0f + expf(-g[e]));
    sum += sw_lte_token_loss(st->dG, g, st->K + rows[r] * E * E, E, st->eta, st->lambda);
    for (int e = 0; e < E; e++) st->dz[r * E + e] = (float)(st->dG[e] * g[e] * (1.0 - g[e]) / (double)n);
  }
  if (grad)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, E, d, (int)n, 1.0f, st->dz, E, st->xb, d, 0.0f, st->grad, d);
  return sum / (double)n;
}

/* Scratch for up to `rows` tokens per s_lte_batch call (the whole training set for its loss). */
static sw_rc s_lte_alloc(s_lte_t *st, size_t rows) {
  size_t E = (size_t)st->E, d = (size_t)st->d;
  st->z = malloc(rows * E * sizeof(float));
  st->dz = malloc(rows * E * sizeof(float));
  st->xb = malloc(rows * d * sizeof(float));
  st->grad = malloc(E * d * sizeof(float));
  st->m = calloc(E * d, sizeof(float));
  st->v = calloc(E * d, sizeof(float));
  st->best = malloc(E * d * sizeof(float));
  st->dG = malloc(E * sizeof(double));
  return st->z && st->dz && st->xb && st->grad && st->m && st->v && st->best && st->dG ? SW_OK : SW_ERR_NOMEM;
}

static void s_lte_free(s_lte_t *st) {
  free(st->z), free(st->dz), free(st->xb), free(st->grad), free(st->m), free(st->v), free(st->best), free(st->dG);
}

/* Epochs of mini-batch Adam over the first n_train rows; the epoch with the lowest loss on the rest is kept. */
static void s_lte_epochs(s_lte_t *st, sw_moe_router_t *r, size_t *order, int n_train, int n_tok,
                         const sw_moe_router_cfg_t *cfg) {
  float *W = r->mlp.layer[0].w;
  const size_t nW = (size_t)st->E * st->d, batch = cfg->train.batch < (size_t)n_train ? cfg->train.batch : (size_t)n_train;
  sw_mlp_rng_t rng = {cfg->train.seed};
  size_t step = 0, per_epoch = ((size_t)n_train + batch - 1) / batch;
  double best = INFINITY, ramp = cfg->lte_sep_warmup * (double)(per_epoch * cfg->train.epochs);
  for (size_t ep = 0; ep < cfg->train.epochs; ep++) {
    for (size_t i = (size_t)n_train; i > 1; i--) {
      size_t j = sw_mlp_rng_below(&rng, i), t = order[i - 1];
      order[i - 1] = order[j], order[j] = t;
    }
    for (size_t off = 0; off < (size_t)n_train; off += batch) {
      size_t nb = (size_t)n_train - off < batch ? (size_t)n_train - off : batch;
      st->lambda = (double)step < ramp ? 0.0 : cfg->lte_lambda; /* L_sep off during the warm-up */
      s_lte_batch(st, W, order + off, nb, 1);
      sw_mlp_adam_step(W, st->grad, st->m, st->v, nW, &cfg->train, ++step);
    }
    st->lambda = cfg->lte_lambda; /* held-out loss: the full objective */
    double val = n_train < n_tok ? s_lte_batch(st, W, order + n_train, (size_t)(n_tok - n_train), 0) : 0.0;
    if (ep == 0 || val < best || n_train == n_tok) { /* no held-out tokens: the last epoch */
      best = val;
      memcpy(st->best, W, nW * sizeof(float));
      r->train.best_epoch = ep;
      r->train.best_score = -val;
    }
    if (ep == 0) r->train.first_epoch_loss = s_lte_batch(st, W, order, (size_t)n_train, 0);
  }
  if (cfg->train.epochs > 0) memcpy(W, st->best, nW * sizeof(float));
  r->train.steps = step;
  r->train.final_loss = s_lte_batch(st, W, order, (size_t)n_train, 0);
}

sw_rc sw_lte_train(sw_moe_router_t *r, const sw_moe_t *moe, const float *x, int n_tok, const sw_moe_router_cfg_t *cfg,
                   sw_err_t *err) {
  const size_t dims[2] = {(size_t)moe->d_model, (size_t)moe->n_expert};
  const sw_mlp_act_t act = SW_MLP_ACT_SIGMOID;
  sw_rc rc = sw_mlp_init(&r->mlp, dims, &act, 1, 0, cfg->seed, err);
  if (rc || cfg->train.epochs == 0) return rc; /* epochs 0: shaped only (restored from a cache) */
  const int E = moe->n_expert, n_train = sw_moe_router_n_train(n_tok, cfg->val_frac);
  s_lte_t st = {.x = x, .d = moe->d_model, .E = E, .eta = cfg->lte_eta, .lambda = cfg->lte_lambda};
  float *K = malloc((size_t)n_tok * E * E * sizeof *K);
  size_t *order = malloc((size_t)n_tok * sizeof *order);
  st.K = K;
  rc = K && order && !s_lte_alloc(&st, (size_t)n_tok) ? SW_OK
           : sw_err_set(err, SW_ERR_NOMEM, "lte: cannot allocate the training state for %d tokens", n_tok);
  if (!rc) rc = sw_moe_expert_gram(K, moe, x, n_tok, err);
  if (!rc) {
    for (int i = 0; i < n_tok; i++) order[i] = (size_t)i;
    s_lte_epochs(&st, r, order, n_train, n_tok, cfg);
  }
  s_lte_free(&st);
  free(K);
  free(order);
  return rc;
}
