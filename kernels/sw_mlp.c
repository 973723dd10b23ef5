/* sw_mlp: dense-layer MLP with batched forward/backward on OpenBLAS sgemm and mini-batch Adam
 * (Kingma & Ba 2015, PyTorch's bias-corrected form; decoupled weight decay as AdamW, Loshchilov & Hutter
 * 2019).  Parameters live in one flat array so the optimiser is a single loop. */
#include "kernels/sw_mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- random numbers */

uint64_t sw_mlp_rng_next(sw_mlp_rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double sw_mlp_rng_uniform(sw_mlp_rng_t *r) { return (double)(sw_mlp_rng_next(r) >> 11) * 0x1.0p-53; }

double sw_mlp_rng_normal(sw_mlp_rng_t *r) {
  double u1 = sw_mlp_rng_uniform(r), u2 = sw_mlp_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

size_t sw_mlp_rng_below(sw_mlp_rng_t *r, size_t n) { return (size_t)(sw_mlp_rng_uniform(r) * (double)n) % n; }

/* ---------------------------------------------------------------- construction */

sw_rc sw_mlp_init(sw_mlp_t *mlp, const size_t *dims, const sw_mlp_act_t *acts, size_t n_layer, int use_bias,
                  uint64_t seed, sw_err_t *err) {
  memset(mlp, 0, sizeof *mlp);
  if (n_layer == 0 || n_layer > SW_MLP_MAX_LAYERS)
    return sw_err_set(err, SW_ERR_INVALID, "mlp: %zu layers (1..%d supported)", n_layer, SW_MLP_MAX_LAYERS);
  size_t total = 0;
  for (size_t l = 0; l < n_layer; l++) {
    if (dims[l] == 0 || dims[l + 1] == 0) return sw_err_set(err, SW_ERR_INVALID, "mlp: layer %zu has a zero dimension", l);
    if ((unsigned)acts[l] > SW_MLP_ACT_TANH) return sw_err_set(err, SW_ERR_INVALID, "mlp: bad activation %d", (int)acts[l]);
    total += dims[l] * dims[l + 1] + (use_bias ? dims[l + 1] : 0);
  }
  mlp->params = calloc(total, sizeof(float));
  if (!mlp->params) return sw_err_set(err, SW_ERR_NOMEM, "mlp: cannot allocate %zu parameters", total);
  mlp->n_params = total;
  mlp->n_layer = n_layer;
  sw_mlp_rng_t rng = {seed};
  float *p = mlp->params;
  for (size_t l = 0; l < n_layer; l++) {
    sw_mlp_layer_t *L = &mlp->layer[l];
    L->n_in = dims[l];
    L->n_out = dims[l + 1];
    L->act = acts[l];
    L->w = p;
    p += L->n_in * L->n_out;
    double bound = 1.0 / sqrt((double)L->n_in);
    for (size_t i = 0; i < L->n_in * L->n_out; i++) L->w[i] = (float)((2.0 * sw_mlp_rng_uniform(&rng) - 1.0) * bound);
    if (use_bias) {
      L->b = p;
      p += L->n_out;
    }
  }
  return SW_OK;
}

sw_rc sw_mlp_copy(sw_mlp_t *dst, const sw_mlp_t *src, sw_err_t *err) {
  *dst = *src;
  dst->params = malloc(src->n_params * sizeof(float));
  if (!dst->params) {
    memset(dst, 0, sizeof *dst);
    return sw_err_set(err, SW_ERR_NOMEM, "mlp: cannot copy %zu parameters", src->n_params);
  }
  memcpy(dst->params, src->params, src->n_params * sizeof(float));
  for (size_t l = 0; l < src->n_layer; l++) {
    dst->layer[l].w = dst->params + (src->layer[l].w - src->params);
    if (src->layer[l].b) dst->layer[l].b = dst->params + (src->layer[l].b - src->params);
  }
  return SW_OK;
}

void sw_mlp_free(sw_mlp_t *mlp) {
  if (!mlp) return;
  free(mlp->params);
  memset(mlp, 0, sizeof *mlp);
}

size_t sw_mlp_n_in(const sw_mlp_t *mlp) { return mlp->layer[0].n_in; }
size_t sw_mlp_n_out(const sw_mlp_t *mlp) { return mlp->layer[mlp->n_layer - 1].n_out; }
size_t sw_mlp_n_params(const sw_mlp_t *mlp) { return mlp->n_params; }

double sw_mlp_flops_per_row(const sw_mlp_t *mlp) {
  double f = 0;
  for (size_t l = 0; l < mlp->n_layer; l++) f += 2.0 * (double)mlp->layer[l].n_in * (double)mlp->layer[l].n_out;
  return f;
}

static size_t s_max_width(const sw_mlp_t *mlp) {
  size_t w = 0;
  for (size_t l = 0; l < mlp->n_layer; l++) w = mlp->layer[l].n_out > w ? mlp->layer[l].n_out : w;
  return w;
}

size_t sw_mlp_work_floats(const sw_mlp_t *mlp, size_t n) { return 2 * n * s_max_width(mlp); }

/* ---------------------------------------------------------------- forward */

static float s_act(sw_mlp_act_t act, float z) {
  switch (act) {
  case SW_MLP_ACT_RELU: return z > 0.0f ? z : 0.0f;
  case SW_MLP_ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
  case SW_MLP_ACT_ABS: return fabsf(z);
  case SW_MLP_ACT_TANH: return tanhf(z);
  case SW_MLP_ACT_NONE: break;
  }
  return z;
}

/* z[n][out] = a[n][in] W^T + b (pre-activation). */
static void s_layer_linear(float *z, const sw_mlp_layer_t *L, const float *a, size_t n) {
  const int in = (int)L->n_in, out = (int)L->n_out;
  if (n == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, L->w, in, a, 1, 0.0f, z, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, out, in, 1.0f, a, in, L->w, in, 0.0f, z, out);
  if (L->b)
    for (size_t r = 0; r < n; r++)
      for (size_t j = 0; j < L->n_out; j++) z[r * L->n_out + j] += L->b[j];
}

static void s_apply_act(float *y, const float *z, sw_mlp_act_t act, size_t count) {
  for (size_t i = 0; i < count; i++) y[i] = s_act(act, z[i]);
}

static void s_forward(float *y, const sw_mlp_t *mlp, const float *x, size_t n, float *work, int last_act) {
  const size_t half = n * s_max_width(mlp);
  const float *a = x;
  for (size_t l = 0; l < mlp->n_layer; l++) {
    const sw_mlp_layer_t *L = &mlp->layer[l];
    const int last = l + 1 == mlp->n_layer;
    float *z = last ? y : work + (l % 2) * half;
    s_layer_linear(z, L, a, n);
    if (!last || last_act) s_apply_act(z, z, L->act, n * L->n_out);
    a = z;
  }
}

void sw_mlp_forward(float *y, const sw_mlp_t *mlp, const float *x, size_t n, float *work) {
  s_forward(y, mlp, x, n, work, 1);
}

void sw_mlp_forward_logits(float *y, const sw_mlp_t *mlp, const float *x, size_t n, float *work) {
  s_forward(y, mlp, x, n, work, 0);
}

/* ---------------------------------------------------------------- losses */

void sw_mlp_train_defaults(sw_mlp_train_cfg_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->loss = SW_MLP_LOSS_MSE;
  cfg->lr = 1e-3;
  cfg->beta1 = 0.9;
  cfg->beta2 = 0.999;
  cfg->eps = 1e-8;
  cfg->batch = 64;
  cfg->epochs = 10;
  cfg->pos_weight = 1.0;
  cfg->neg_weight = 1.0;
  cfg->seed = 1;
}

static double s_softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* Loss summed over count elements; if grad != NULL also writes dLoss/d(pre-activation of the last layer)
 * (BCE) or dLoss/d(output) (MSE), scaled by `scale` (1/elements of the batch). */
static double s_loss(float *grad, const float *z, const float *y, const float *t, size_t count,
                     const sw_mlp_train_cfg_t *cfg, double scale) {
  double sum = 0;
  for (size_t i = 0; i < count; i++) {
    if (cfg->loss == SW_MLP_LOSS_MSE) {
      double d = (double)y[i] - (double)t[i];
      sum += d * d;
      if (grad) grad[i] = (float)(2.0 * d * scale);
    } else {
      double zi = z[i], ti = t[i], wp = cfg->pos_weight, wn = cfg->neg_weight;
      sum += wp * ti * s_softplus(-zi) + wn * (1.0 - ti) * s_softplus(zi);
      if (grad) {
        double sg = 1.0 / (1.0 + exp(-zi));
        grad[i] = (float)((wp * ti * (sg - 1.0) + wn * (1.0 - ti) * sg) * scale);
      }
    }
  }
  return sum;
}

static sw_rc s_check_loss(const sw_mlp_t *mlp, const sw_mlp_train_cfg_t *cfg, sw_err_t *err) {
  if (cfg->loss == SW_MLP_LOSS_BCE && mlp->layer[mlp->n_layer - 1].act != SW_MLP_ACT_SIGMOID)
    return sw_err_set(err, SW_ERR_INVALID, "mlp: BCE loss needs a sigmoid output layer");
  if (cfg->loss != SW_MLP_LOSS_BCE && cfg->loss != SW_MLP_LOSS_MSE)
    return sw_err_set(err, SW_ERR_INVALID, "mlp: unknown loss %d", (int)cfg->loss);
  return SW_OK;
}

/* ---------------------------------------------------------------- training state */

/* Activations of one mini-batch: a[l] is the input of layer l (a[n_layer] the output), z[l] its pre-activation. */
typedef struct s_tape {
  float *a[SW_MLP_MAX_LAYERS + 1];
  float *z[SW_MLP_MAX_LAYERS];
  float *da, *dz; /* [batch * max(width, n_in)] gradients */
  float *grad;    /* [n_params] */
  float *m, *v;   /* Adam moments [n_params] */
  float *xb, *tb; /* gathered mini-batch inputs and targets */
  float *mem;
} s_tape_t;

static sw_rc s_tape_init(s_tape_t *tp, const sw_mlp_t *mlp, size_t batch, sw_err_t *err) {
  memset(tp, 0, sizeof *tp);
  size_t wmax = s_max_width(mlp), n_in = sw_mlp_n_in(mlp), wide = wmax > n_in ? wmax : n_in;
  size_t total = batch * n_in + batch * sw_mlp_n_out(mlp) + 2 * batch * wide + 3 * mlp->n_params;
  for (size_t l = 0; l < mlp->n_layer; l++) total += 2 * batch * mlp->layer[l].n_out;
  tp->mem = calloc(total, sizeof(float));
  if (!tp->mem) return sw_err_set(err, SW_ERR_NOMEM, "mlp: cannot allocate %zu training floats", total);
  float *p = tp->mem;
  tp->xb = p, p += batch * n_in;
  tp->tb = p, p += batch * sw_mlp_n_out(mlp);
  tp->da = p, p += batch * wide;
  tp->dz = p, p += batch * wide;
  tp->grad = p, p += mlp->n_params;
  tp->m = p, p += mlp->n_params;
  tp->v = p, p += mlp->n_params;
  tp->a[0] = tp->xb;
  for (size_t l = 0; l < mlp->n_layer; l++) {
    tp->z[l] = p, p += batch * mlp->layer[l].n_out;
    tp->a[l + 1] = p, p += batch * mlp->layer[l].n_out;
  }
  return SW_OK;
}

static void s_tape_forward(s_tape_t *tp, const sw_mlp_t *mlp, size_t n) {
  for (size_t l = 0; l < mlp->n_layer; l++) {
    s_layer_linear(tp->z[l], &mlp->layer[l], tp->a[l], n);
    s_apply_act(tp->a[l + 1], tp->z[l], mlp->layer[l].act, n * mlp->layer[l].n_out);
  }
}

/* dz = dy * act'(z) given output y = act(z). */
static void s_act_backward(float *dz, const float *dy, const float *z, const float *y, sw_mlp_act_t act, size_t count) {
  for (size_t i = 0; i < count; i++) {
    float g = dy[i];
    switch (act) {
    case SW_MLP_ACT_RELU: g = z[i] > 0.0f ? g : 0.0f; break;
    case SW_MLP_ACT_SIGMOID: g *= y[i] * (1.0f - y[i]); break;
    case SW_MLP_ACT_ABS: g = z[i] > 0.0f ? g : (z[i] < 0.0f ? -g : 0.0f); break;
    case SW_MLP_ACT_TANH: g *= 1.0f - y[i] * y[i]; break;
    case SW_MLP_ACT_NONE: break;
    }
    dz[i] = g;
  }
}

/* Backpropagates tp->dz (gradient w.r.t. the last layer's pre-activation) into tp->grad. */
static void s_tape_backward(s_tape_t *tp, const sw_mlp_t *mlp, size_t n) {
  for (size_t li = mlp->n_layer; li-- > 0;) {
    const sw_mlp_layer_t *L = &mlp->layer[li];
    const int in = (int)L->n_in, out = (int)L->n_out;
    float *gw = tp->grad + (L->w - mlp->params);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, (int)n, 1.0f, tp->dz, out, tp->a[li], in, 0.0f,
                gw, in);
    if (L->b) {
      float *gb = tp->grad + (L->b - mlp->params);
      for (size_t j = 0; j < L->n_out; j++) gb[j] = 0.0f;
      for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < L->n_out; j++) gb[j] += tp->dz[r * L->n_out + j];
    }
    if (li == 0) break;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, in, out, 1.0f, tp->dz, out, L->w, in, 0.0f,
                tp->da, in);
    const sw_mlp_layer_t *P = &mlp->layer[li - 1];
    s_act_backward(tp->dz, tp->da, tp->z[li - 1], tp->a[li], P->act, n * P->n_out);
  }
}

void sw_mlp_adam_step(float *params, const float *grad, float *m, float *v, size_t n, const sw_mlp_train_cfg_t *cfg,
                      size_t step) {
  const double bc1 = 1.0 - pow(cfg->beta1, (double)step), bc2 = 1.0 - pow(cfg->beta2, (double)step);
  const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2;
  const float step_size = (float)(cfg->lr / bc1), sq_bc2 = (float)sqrt(bc2), eps = (float)cfg->eps;
  const float decay = (float)(1.0 - cfg->lr * cfg->weight_decay);
  for (size_t i = 0; i < n; i++) {
    float g = grad[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    params[i] = params[i] * decay - step_size * m[i] / (sqrtf(v[i]) / sq_bc2 + eps);
  }
}

static void s_adam_step(sw_mlp_t *mlp, s_tape_t *tp, const sw_mlp_train_cfg_t *cfg, size_t step) {
  sw_mlp_adam_step(mlp->params, tp->grad, tp->m, tp->v, mlp->n_params, cfg, step);
}

/* Fills tb/xb with rows order[first .. first+n). */
static void s_gather(s_tape_t *tp, const sw_mlp_t *mlp, const float *x, const float *t, const size_t *order,
                     size_t first, size_t n) {
  size_t n_in = sw_mlp_n_in(mlp), n_out = sw_mlp_n_out(mlp);
  for (size_t r = 0; r < n; r++) {
    memcpy(tp->xb + r * n_in, x + order[first + r] * n_in, n_in * sizeof(float));
    memcpy(tp->tb + r * n_out, t + order[first + r] * n_out, n_out * sizeof(float));
  }
}

/* Forward, loss and backward of the gathered batch into tp->grad.  Returns the batch's mean loss. */
static double s_batch_grad(const sw_mlp_t *mlp, s_tape_t *tp, const sw_mlp_train_cfg_t *cfg, size_t n) {
  size_t last = mlp->n_layer - 1, n_out = sw_mlp_n_out(mlp), count = n * n_out;
  s_tape_forward(tp, mlp, n);
  double scale = 1.0 / (double)count;
  double sum = s_loss(tp->dz, tp->z[last], tp->a[last + 1], tp->tb, count, cfg, scale);
  if (cfg->loss == SW_MLP_LOSS_MSE) { /* gradient was w.r.t. the output: through the output activation */
    memcpy(tp->da, tp->dz, count * sizeof(float));
    s_act_backward(tp->dz, tp->da, tp->z[last], tp->a[last + 1], mlp->layer[last].act, count);
  }
  s_tape_backward(tp, mlp, n);
  return sum * scale;
}

/* One mini-batch: gradient then Adam.  Returns the batch's mean loss. */
static double s_train_batch(sw_mlp_t *mlp, s_tape_t *tp, const sw_mlp_train_cfg_t *cfg, size_t n, size_t step) {
  double loss = s_batch_grad(mlp, tp, cfg, n);
  s_adam_step(mlp, tp, cfg, step);
  return loss;
}

sw_rc sw_mlp_grad(double *loss, float *grad, const sw_mlp_t *mlp, const float *x, const float *t, size_t n,
                  const sw_mlp_train_cfg_t *cfg, sw_err_t *err) {
  if (n == 0) return sw_err_set(err, SW_ERR_INVALID, "mlp: empty batch");
  sw_rc rc = s_check_loss(mlp, cfg, err);
  if (rc) return rc;
  s_tape_t tp;
  if ((rc = s_tape_init(&tp, mlp, n, err))) return rc;
  memcpy(tp.xb, x, n * sw_mlp_n_in(mlp) * sizeof(float));
  memcpy(tp.tb, t, n * sw_mlp_n_out(mlp) * sizeof(float));
  *loss = s_batch_grad(mlp, &tp, cfg, n);
  memcpy(grad, tp.grad, mlp->n_params * sizeof(float));
  free(tp.mem);
  return SW_OK;
}

/* Best-epoch bookkeeping of sw_mlp_train (cfg->epoch_score). */
typedef struct s_best {
  float *params; /* copy of the best epoch's parameters (NULL without epoch_score) */
  double score;
  size_t epoch;
} s_best_t;

/* Scores epoch ep; returns 1 when training should stop early: the score reached cfg->stop_score, or
 * cfg->patience epochs passed without a better score (Deja Vu's recall-based early stopping). */
static int s_best_update(s_best_t *b, const sw_mlp_t *mlp, const sw_mlp_train_cfg_t *cfg, size_t ep) {
  if (!b->params) {
    b->epoch = ep;
    return 0;
  }
  double sc = cfg->epoch_score(mlp, cfg->ctx);
  if (ep == 0 || sc > b->score) {
    b->score = sc;
    b->epoch = ep;
    memcpy(b->params, mlp->params, mlp->n_params * sizeof(float));
  }
  if (cfg->stop_score > 0 && sc >= cfg->stop_score) return 1;
  return cfg->patience > 0 && ep - b->epoch >= cfg->patience;
}

/* One epoch over order[] (shuffled first).  Returns the mean mini-batch loss. */
static double s_epoch(sw_mlp_t *mlp, s_tape_t *tp, const sw_mlp_train_cfg_t *cfg, const float *x, const float *t,
                      size_t *order, size_t n, size_t batch, sw_mlp_rng_t *rng, size_t *step) {
  for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
    size_t j = sw_mlp_rng_below(rng, i), tmp = order[i - 1];
    order[i - 1] = order[j], order[j] = tmp;
  }
  double sum = 0;
  size_t batches = 0;
  for (size_t off = 0; off < n; off += batch, batches++) {
    size_t nb = n - off < batch ? n - off : batch;
    s_gather(tp, mlp, x, t, order, off, nb);
    if (cfg->batch_targets) cfg->batch_targets(tp->tb, nb, sw_mlp_n_out(mlp), cfg->ctx);
    sum += s_train_batch(mlp, tp, cfg, nb, ++*step);
  }
  return sum / (double)batches;
}

sw_rc sw_mlp_train(sw_mlp_t *mlp, const float *x, const float *t, size_t n, const sw_mlp_train_cfg_t *cfg,
                   sw_mlp_train_stats_t *stats, sw_err_t *err) {
  if (n == 0 || cfg->batch == 0) return sw_err_set(err, SW_ERR_INVALID, "mlp: empty training set or batch size 0");
  sw_rc rc = s_check_loss(mlp, cfg, err);
  if (rc) return rc;
  size_t batch = cfg->batch < n ? cfg->batch : n;
  s_tape_t tp;
  size_t *order = malloc(n * sizeof *order);
  s_best_t best = {NULL, NAN, 0};
  if (cfg->epoch_score) best.params = malloc(mlp->n_params * sizeof(float));
  if (!order || (cfg->epoch_score && !best.params)) {
    free(order), free(best.params);
    return sw_err_set(err, SW_ERR_NOMEM, "mlp: cannot allocate %zu row indices", n);
  }
  if ((rc = s_tape_init(&tp, mlp, batch, err))) {
    free(order), free(best.params);
    return rc;
  }
  for (size_t i = 0; i < n; i++) order[i] = i;
  sw_mlp_rng_t rng = {cfg->seed};
  size_t step = 0;
  double first = 0;
  size_t ran = 0;
  for (size_t ep = 0; ep < cfg->epochs; ep++) {
    double loss = s_epoch(mlp, &tp, cfg, x, t, order, n, batch, &rng, &step);
    if (ep == 0) first = loss;
    ran = ep + 1;
    if (s_best_update(&best, mlp, cfg, ep)) break;
  }
  if (best.params && cfg->epochs > 0) memcpy(mlp->params, best.params, mlp->n_params * sizeof(float));
  free(best.params);
  free(tp.mem);
  free(order);
  if (stats) {
    stats->first_epoch_loss = first;
    stats->steps = step;
    stats->best_epoch = best.epoch;
    stats->epochs_run = ran;
    stats->best_score = cfg->epoch_score ? best.score : NAN;
    return sw_mlp_eval_loss(&stats->final_loss, mlp, x, t, n, cfg, err);
  }
  return SW_OK;
}

sw_rc sw_mlp_eval_loss(double *loss, const sw_mlp_t *mlp, const float *x, const float *t, size_t n,
                       const sw_mlp_train_cfg_t *cfg, sw_err_t *err) {
  sw_rc rc = s_check_loss(mlp, cfg, err);
  if (rc) return rc;
  const size_t chunk = 256, n_in = sw_mlp_n_in(mlp), n_out = sw_mlp_n_out(mlp);
  s_tape_t tp;
  if ((rc = s_tape_init(&tp, mlp, chunk, err))) return rc;
  size_t last = mlp->n_layer - 1;
  double sum = 0;
  for (size_t off = 0; off < n; off += chunk) {
    size_t nb = n - off < chunk ? n - off : chunk;
    memcpy(tp.xb, x + off * n_in, nb * n_in * sizeof(float));
    s_tape_forward(&tp, mlp, nb);
    sum += s_loss(NULL, tp.z[last], tp.a[last + 1], t + off * n_out, nb * n_out, cfg, 1.0);
  }
  free(tp.mem);
  *loss = sum / (double)(n * n_out);
  return SW_OK;
}
