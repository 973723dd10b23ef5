/* sw_predictor: Deja Vu low-rank sparsity predictor on sw_mlp (labels from the dense FFN's intermediates via
 * sw_ffn_dense_acts, weighted BCE, probability threshold or top-k selection, positives computed with the
 * sparse FFN kernel). */
#include "kernels/sw_predictor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"

void sw_predictor_defaults(sw_predictor_cfg_t *cfg) {
  cfg->rank = 64;
  cfg->hidden_act = SW_MLP_ACT_NONE;
  cfg->label_thr = 0.0;
  sw_mlp_train_defaults(&cfg->train);
  cfg->train.epochs = 20;
  cfg->train.batch = 64;
  cfg->val_frac = 0.0;
  cfg->val_logit_thr = 0.0;
  cfg->seed = 1;
}

void sw_predictor_dejavu_defaults(sw_predictor_cfg_t *cfg) {
  sw_predictor_defaults(cfg);
  cfg->train.weight_decay = 0.01; /* AdamW, Deja Vu trainer_mlp.py */
  cfg->val_frac = 0.05;           /* 95/5 split */
  cfg->train.stop_score = 0.99;   /* stop at held-out recall 0.99 ... */
  cfg->train.patience = 5;        /* ... or after 5 epochs without a better one */
}

sw_rc sw_predictor_labels(float *labels, const sw_ffn_weights_t *w, const float *x, int n_tok, double thr,
                          sw_err_t *err) {
  const int chunk = n_tok < 128 ? (n_tok > 0 ? n_tok : 1) : 128;
  const size_t f = (size_t)w->d_ff;
  sw_ffn_work_t work;
  sw_rc rc = sw_ffn_work_alloc(&work, w->d_model, w->d_ff, chunk, 1, err);
  if (rc) return rc;
  float *gact = malloc((size_t)chunk * f * sizeof(float)), *u = malloc((size_t)chunk * f * sizeof(float));
  float *h = malloc((size_t)chunk * f * sizeof(float));
  if (!gact || !u || !h) rc = sw_err_set(err, SW_ERR_NOMEM, "predictor: cannot allocate label buffers");
  for (int t0 = 0; t0 < n_tok && rc == SW_OK; t0 += chunk) {
    int c = n_tok - t0 < chunk ? n_tok - t0 : chunk;
    rc = sw_ffn_dense_acts(gact, u, h, x + (size_t)t0 * (size_t)w->d_model, w, &work, c);
    if (rc) {
      sw_err_set(err, rc, "predictor: dense activations failed for tokens %d..%d", t0, t0 + c);
      break;
    }
    for (size_t i = 0; i < (size_t)c * f; i++) labels[(size_t)t0 * f + i] = fabsf(h[i]) > thr ? 1.0f : 0.0f;
  }
  free(gact), free(u), free(h);
  sw_ffn_work_free(&work);
  return rc;
}

/* Held-out recall of the predictor being trained (sw_mlp_train_cfg_t.epoch_score). */
typedef struct s_val {
  const sw_predictor_t *p;
  const float          *x, *labels;
  int                   n;
  double                logit_thr;
} s_val_t;

static double s_val_recall(const sw_mlp_t *mlp, void *ctx) {
  const s_val_t *v = ctx;
  sw_predictor_t q = *v->p;
  q.mlp = *mlp;
  double recall = NAN;
  sw_err_t e;
  if (sw_predictor_eval(&recall, NULL, NULL, NULL, &q, v->x, v->labels, v->n, v->logit_thr, 0, &e)) return NAN;
  return recall;
}

/* Weighted BCE (Deja Vu's weights) on labels[n_tok][d_ff]; the last val_frac of the rows score every epoch. */
static sw_rc s_fit(sw_predictor_t *p, const float *x, const float *labels, int n_tok, const sw_predictor_cfg_t *cfg,
                   sw_mlp_train_stats_t *stats, sw_err_t *err) {
  const size_t f = (size_t)p->d_ff, total = (size_t)n_tok * f;
  double pos = 0;
  for (size_t i = 0; i < total; i++) pos += labels[i];
  double wgt = pos / (double)total + 0.005; /* DejaVu: w = label density + 0.005 */
  sw_mlp_train_cfg_t tc = cfg->train;
  tc.loss = SW_MLP_LOSS_BCE;
  tc.pos_weight = 1.0 - wgt;
  tc.neg_weight = wgt;
  int n_val = (int)floor(cfg->val_frac * n_tok), n_train = n_tok - n_val;
  if (cfg->val_frac <= 0 || n_val < 1 || n_train < 1) {
    tc.epoch_score = NULL, tc.stop_score = 0, tc.patience = 0;
    return sw_mlp_train(&p->mlp, x, labels, (size_t)n_tok, &tc, stats, err);
  }
  s_val_t v = {p, x + (size_t)n_train * (size_t)p->d_model, labels + (size_t)n_train * f, n_val, cfg->val_logit_thr};
  tc.epoch_score = s_val_recall, tc.ctx = &v;
  return sw_mlp_train(&p->mlp, x, labels, (size_t)n_train, &tc, stats, err);
}

sw_rc sw_predictor_train(sw_predictor_t *p, const sw_ffn_weights_t *w, const float *x, int n_tok,
                         const sw_predictor_cfg_t *cfg, sw_mlp_train_stats_t *stats, sw_err_t *err) {
  return sw_predictor_train_from(p, w, x, x, n_tok, cfg, stats, err);
}

sw_rc sw_predictor_train_from(sw_predictor_t *p, const sw_ffn_weights_t *w, const float *x, const float *x_pred,
                              int n_tok, const sw_predictor_cfg_t *cfg, sw_mlp_train_stats_t *stats, sw_err_t *err) {
  memset(p, 0, sizeof *p);
  if (n_tok <= 0 || cfg->rank <= 0)
    return sw_err_set(err, SW_ERR_INVALID, "predictor: %d training tokens, rank %d", n_tok, cfg->rank);
  p->d_model = w->d_model, p->d_ff = w->d_ff, p->rank = cfg->rank;
  const size_t dims[3] = {(size_t)w->d_model, (size_t)cfg->rank, (size_t)w->d_ff};
  const sw_mlp_act_t acts[2] = {cfg->hidden_act, SW_MLP_ACT_SIGMOID};
  sw_rc rc = sw_mlp_init(&p->mlp, dims, acts, 2, 0, cfg->seed, err);
  if (rc) return rc;
  const size_t total = (size_t)n_tok * (size_t)w->d_ff;
  float *labels = malloc(total * sizeof(float));
  if (!labels) {
    sw_predictor_free(p);
    return sw_err_set(err, SW_ERR_NOMEM, "predictor: cannot allocate %zu labels", total);
  }
  rc = sw_predictor_labels(labels, w, x, n_tok, cfg->label_thr, err);
  if (rc == SW_OK) rc = s_fit(p, x_pred, labels, n_tok, cfg, stats, err);
  free(labels);
  if (rc) sw_predictor_free(p);
  return rc;
}

void sw_predictor_free(sw_predictor_t *p) {
  if (!p) return;
  sw_mlp_free(&p->mlp);
  memset(p, 0, sizeof *p);
}

double sw_predictor_flops(const sw_predictor_t *p) { return sw_mlp_flops_per_row(&p->mlp); }

typedef struct s_pair {
  float   s;
  int32_t i;
} s_pair_t;

sw_rc sw_predictor_work_alloc(sw_predictor_work_t *work, const sw_predictor_t *p, int max_tok, sw_err_t *err) {
  memset(work, 0, sizeof *work);
  if (max_tok <= 0) return sw_err_set(err, SW_ERR_INVALID, "predictor: workspace for %d tokens", max_tok);
  const size_t T = (size_t)max_tok, f = (size_t)p->d_ff, m = sw_mlp_work_floats(&p->mlp, T);
  size_t bytes = (T * f + m) * sizeof(float) + f * sizeof(s_pair_t) + T * f;
  work->mem = malloc(bytes);
  if (!work->mem) return sw_err_set(err, SW_ERR_NOMEM, "predictor: cannot allocate a %zu-byte workspace", bytes);
  work->prob = work->mem;
  work->mlp_ws = work->prob + T * f;
  work->pairs = work->mlp_ws + m;
  work->flag = (uint8_t *)((s_pair_t *)work->pairs + f);
  work->max_tok = max_tok, work->d_ff = p->d_ff;
  return SW_OK;
}

void sw_predictor_work_free(sw_predictor_work_t *work) {
  if (!work) return;
  free(work->mem);
  memset(work, 0, sizeof *work);
}

static int s_pair_desc(const void *a, const void *b) {
  const s_pair_t *p = a, *q = b;
  if (p->s != q->s) return p->s > q->s ? -1 : 1;
  return p->i < q->i ? -1 : (p->i > q->i);
}

double sw_predictor_logit_of_prob(double p) {
  if (!(p > 0.0)) return -INFINITY;
  if (p >= 1.0) return INFINITY;
  return log(p) - log1p(-p);
}

/* flag[t*d_ff+i] from the predictor's logits: top-k (k > 0) or logit > logit_thr. */
static void s_flags(uint8_t *flag, const float *logit, int d_ff, double logit_thr, int k, s_pair_t *pr, int n_tok) {
  for (int t = 0; t < n_tok; t++) {
    const float *pt = logit + (size_t)t * d_ff;
    uint8_t *ft = flag + (size_t)t * d_ff;
    if (k <= 0) {
      for (int i = 0; i < d_ff; i++) ft[i] = pt[i] > logit_thr;
      continue;
    }
    memset(ft, 0, (size_t)d_ff);
    for (int i = 0; i < d_ff; i++) pr[i] = (s_pair_t){pt[i], i};
    qsort(pr, (size_t)d_ff, sizeof *pr, s_pair_desc);
    for (int j = 0; j < k && j < d_ff; j++) ft[pr[j].i] = 1;
  }
}

sw_rc sw_predictor_select(sw_mask_t *mask, const sw_predictor_t *p, const float *x, double logit_thr, int k,
                          sw_predictor_work_t *work, int n_tok) {
  if (n_tok < 0 || n_tok > work->max_tok || n_tok > mask->max_tok || mask->n_units != p->d_ff || work->d_ff != p->d_ff)
    return SW_ERR_INVALID;
  if (n_tok == 0) {
    sw_mask_set_none(mask, 0);
    return SW_OK;
  }
  sw_mlp_forward_logits(work->prob, &p->mlp, x, (size_t)n_tok, work->mlp_ws);
  s_flags(work->flag, work->prob, p->d_ff, logit_thr, k, work->pairs, n_tok);
  sw_mask_from_flags(mask, work->flag, n_tok);
  return SW_OK;
}

sw_rc sw_predictor_forward(float *out, sw_mask_t *mask, const float *x, const sw_ffn_weights_t *w,
                           const sw_predictor_t *p, double logit_thr, int k, sw_ffn_stats_t *stats,
                           sw_predictor_work_t *pwork, sw_ffn_work_t *fwork, int n_tok) {
  return sw_predictor_forward_from(out, mask, x, x, w, p, logit_thr, k, stats, pwork, fwork, n_tok);
}

sw_rc sw_predictor_forward_from(float *out, sw_mask_t *mask, const float *x, const float *x_pred,
                                const sw_ffn_weights_t *w, const sw_predictor_t *p, double logit_thr, int k,
                                sw_ffn_stats_t *stats, sw_predictor_work_t *pwork, sw_ffn_work_t *fwork, int n_tok) {
  if (p->d_model != w->d_model || p->d_ff != w->d_ff) return SW_ERR_INVALID;
  sw_rc rc = sw_predictor_select(mask, p, x_pred, logit_thr, k, pwork, n_tok);
  if (rc || (rc = sw_ffn_sparse_forward(out, x, w, mask, stats, fwork, n_tok))) return rc;
  if (stats) {
    double f = sw_predictor_flops(p) * n_tok;
    stats->flops_select += f;
    stats->flops += f;
    stats->weight_bytes += 4.0 * (double)p->mlp.n_params;
  }
  return SW_OK;
}

sw_rc sw_predictor_eval(double *recall, double *precision, double *pred_density, double *true_density,
                        const sw_predictor_t *p, const float *x, const float *labels, int n_tok, double logit_thr,
                        int k, sw_err_t *err) {
  const int chunk = 128;
  sw_predictor_work_t work;
  sw_rc rc = sw_predictor_work_alloc(&work, p, chunk, err);
  if (rc) return rc;
  double tp = 0, fp = 0, fn = 0, pos = 0;
  const size_t f = (size_t)p->d_ff;
  for (int t0 = 0; t0 < n_tok; t0 += chunk) {
    int c = n_tok - t0 < chunk ? n_tok - t0 : chunk;
    sw_mlp_forward_logits(work.prob, &p->mlp, x + (size_t)t0 * (size_t)p->d_model, (size_t)c, work.mlp_ws);
    s_flags(work.flag, work.prob, p->d_ff, logit_thr, k, work.pairs, c);
    for (size_t i = 0; i < (size_t)c * f; i++) {
      int y = labels[(size_t)t0 * f + i] > 0.5f, yhat = work.flag[i];
      tp += y && yhat, fp += !y && yhat, fn += y && !yhat, pos += y;
    }
  }
  sw_predictor_work_free(&work);
  double cells = (double)n_tok * (double)f;
  if (recall) *recall = tp + fn > 0 ? tp / (tp + fn) : 1.0;
  if (precision) *precision = tp + fp > 0 ? tp / (tp + fp) : 1.0;
  if (pred_density) *pred_density = cells > 0 ? (tp + fp) / cells : 0.0;
  if (true_density) *true_density = cells > 0 ? pos / cells : 0.0;
  return SW_OK;
}
