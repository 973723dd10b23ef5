/* sw_method: dispatch of one layer's FFN to the kernels library according to the method, with counters.
 * TEAL (Liu et al. 2024, teal/mlp.py): x̃ = x·1[|x| > t_x] feeds gate and up, h̃ = h·1[|h| > t_h] feeds down;
 * batch 1 uses the input-sparse GEMV on transposed gate/up and the row-axpy on down, larger batches mask and
 * use sgemm (identical values up to summation order). */
#include "models/sw_method.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_methods.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"
#include "models/sw_method_native.h"
#include "kernels/sw_flops.h"
#include "kernels/sw_gemv_sparse.h"

static const char *const method_names[SW_METHOD_COUNT] = {
    [SW_METHOD_DENSE] = "dense", [SW_METHOD_TOPK] = "topk",     [SW_METHOD_CATS] = "cats",
    [SW_METHOD_CHESS] = "chess", [SW_METHOD_CETT] = "cett",     [SW_METHOD_RANDOM] = "random",
    [SW_METHOD_TEAL] = "teal",   [SW_METHOD_D2DMOE] = "d2dmoe", [SW_METHOD_MOEFICATION] = "moefication",
    [SW_METHOD_DEJAVU] = "dejavu", [SW_METHOD_LTE] = "lte",     [SW_METHOD_POWERINFER] = "powerinfer",
};

const char *sw_method_name(sw_method_kind_t kind) {
  return kind >= 0 && kind < SW_METHOD_COUNT ? method_names[kind] : "?";
}

sw_rc sw_method_parse(const char *name, sw_method_kind_t *kind, sw_err_t *err) {
  const char *spelling = sw_method_spelling(name, method_names, SW_METHOD_COUNT); /* any alias (common/sw_methods.h) */
  for (int k = 0; spelling && k < SW_METHOD_COUNT; k++)
    if (strcmp(spelling, method_names[k]) == 0) {
      *kind = (sw_method_kind_t)k;
      return SW_OK;
    }
  return sw_err_set(err, SW_ERR_INVALID,
                    "unknown method '%s' (dense, topk, cats, chess, cett, random, teal, d2dmoe, moefication, dejavu, lte, "
                    "powerinfer)",
                    name ? name : "(null)");
}

int sw_method_sparsity_definition(sw_method_kind_t kind) {
  return kind == SW_METHOD_TEAL ? 3 : sw_method_is_moe(kind) ? 4 : 1;
}

int sw_method_is_predictor(sw_method_kind_t kind) {
  return kind == SW_METHOD_DEJAVU || kind == SW_METHOD_POWERINFER;
}

int sw_method_is_moe(sw_method_kind_t kind) {
  return kind == SW_METHOD_D2DMOE || kind == SW_METHOD_MOEFICATION || kind == SW_METHOD_LTE;
}

void sw_method_moe_defaults(sw_method_cfg_t *cfg) {
  cfg->moe_defaults_for = cfg->kind;
  cfg->moe_split = SW_PARTITION_BALANCED_KMEANS;
  cfg->router_epochs = 0, cfg->router_lr = 0, cfg->router_batch = 0;
  cfg->router_val_frac = 0.1;
  switch (cfg->kind) {
    case SW_METHOD_MOEFICATION: cfg->moe_router = SW_MOE_ROUTER_MOEFICATION, cfg->moe_select = SW_MOE_SELECT_TOPK; break;
    case SW_METHOD_LTE: cfg->moe_router = SW_MOE_ROUTER_LTE, cfg->moe_select = SW_MOE_SELECT_SCORE; break;
    default: cfg->moe_router = SW_MOE_ROUTER_MLP, cfg->moe_select = SW_MOE_SELECT_DYNK_MAX; break;
  }
}

void sw_method_router_cfg(sw_moe_router_cfg_t *rc, const sw_method_cfg_t *cfg, int layer) {
  sw_moe_router_defaults(rc);
  int moefication = cfg->moe_router == SW_MOE_ROUTER_MOEFICATION;
  rc->train.lr = cfg->router_lr > 0 ? cfg->router_lr : moefication ? 1e-2 : 1e-3;
  rc->train.batch = (size_t)(cfg->router_batch > 0 ? cfg->router_batch : moefication ? 512 : 64);
  rc->train.epochs = (size_t)(cfg->router_epochs > 0 ? cfg->router_epochs : moefication ? 30 : 10);
  rc->val_frac = cfg->router_val_frac;
  rc->lte_eta = cfg->kind == SW_METHOD_LTE ? cfg->level : 0.0;
  rc->seed = cfg->seed + 1000u + (uint64_t)layer;
  rc->train.seed = rc->seed;
}

void sw_method_cfg_defaults(sw_method_cfg_t *cfg, const sw_llama_config_t *mc) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = SW_METHOD_DENSE;
  cfg->act = mc->act; /* the model's own */
  for (int l = 0; l < mc->n_layer && l < SW_METHOD_MAX_LAYERS; l++) cfg->layers[l] = 1;
  cfg->n_expert = mc->d_ff % 32 == 0 ? mc->d_ff / 32 : 1;
  cfg->pred_rank = 64;
  sw_predictor_cfg_t pc; /* Deja Vu's trainer */
  sw_predictor_dejavu_defaults(&pc);
  cfg->train_epochs = (int)pc.train.epochs;
  cfg->pred_lr = pc.train.lr, cfg->pred_weight_decay = pc.train.weight_decay, cfg->pred_val_frac = pc.val_frac;
  cfg->pred_stop_recall = pc.train.stop_score, cfg->pred_batch = (int)pc.train.batch;
  cfg->pred_patience = (int)pc.train.patience;
  cfg->seed = 1;
  sw_method_moe_defaults(cfg);
  cfg->chess_attention = 1; /* the paper's full CHESS */
}

sw_rc sw_method_parse_layers(sw_method_cfg_t *cfg, const char *spec, int n_layer, sw_err_t *err) {
  memset(cfg->layers, 0, sizeof cfg->layers);
  if (!spec || strcmp(spec, "all") == 0 || spec[0] == 0) {
    for (int l = 0; l < n_layer && l < SW_METHOD_MAX_LAYERS; l++) cfg->layers[l] = 1;
    return SW_OK;
  }
  const char *p = spec;
  while (*p) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p) return sw_err_set(err, SW_ERR_INVALID, "layers '%s': expected a number at '%s'", spec, p);
    p = end;
    if (*p == '-') {
      b = strtol(p + 1, &end, 10);
      if (end == p + 1) return sw_err_set(err, SW_ERR_INVALID, "layers '%s': bad range", spec);
      p = end;
    }
    if (a < 0 || b < a || b >= n_layer)
      return sw_err_set(err, SW_ERR_RANGE, "layers '%s': %ld-%ld outside 0..%d", spec, a, b, n_layer - 1);
    for (long l = a; l <= b; l++) cfg->layers[l] = 1;
    if (*p == ',') p++;
    else if (*p) return sw_err_set(err, SW_ERR_INVALID, "layers '%s': unexpected '%c'", spec, *p);
  }
  return SW_OK;
}

sw_rc sw_method_init(sw_method_t *M, const sw_llama_t *m, const sw_method_cfg_t *cfg, int max_tok, sw_err_t *err) {
  memset(M, 0, sizeof *M);
  const sw_llama_config_t *c = &m->cfg;
  if (c->n_layer > SW_METHOD_MAX_LAYERS) return sw_err_set(err, SW_ERR_RANGE, "method: too many layers");
  M->cfg = *cfg;
  if (sw_method_is_moe(cfg->kind) && cfg->moe_defaults_for != cfg->kind) sw_method_moe_defaults(&M->cfg);
  M->model = m;
  M->n_layer = c->n_layer;
  M->max_tok = max_tok;
  M->layers = calloc((size_t)c->n_layer, sizeof *M->layers);
  M->scratch = malloc((size_t)max_tok * (2 * (size_t)c->d_ff + (size_t)c->d_model) * sizeof(float));
  M->idx = malloc((size_t)(c->d_ff > c->d_model ? c->d_ff : c->d_model) * sizeof(int32_t));
  M->prev_x = malloc((size_t)max_tok * (size_t)c->d_model * sizeof(float));
  if (!M->layers || !M->scratch || !M->idx || !M->prev_x) {
    sw_method_free(M);
    return sw_err_set(err, SW_ERR_NOMEM, "method: out of memory");
  }
  for (int l = 0; l < c->n_layer; l++) {
    M->layers[l].w = m->w.ffn[l];
    M->layers[l].w.act = cfg->act;
    M->layers[l].w.act_param = cfg->act_param;
    M->layers[l].teal_tx = M->layers[l].teal_th = -1.0f;
    M->layers[l].teal_ta[0] = M->layers[l].teal_ta[1] = -1.0f;
    M->layers[l].chess_ta[0] = M->layers[l].chess_ta[1] = -1.0f;
  }
  sw_rc rc = sw_mask_alloc(&M->mask, c->d_ff, max_tok, err);
  if (!rc) rc = sw_mask_alloc(&M->emask, cfg->n_expert > 0 ? cfg->n_expert : 1, max_tok, err);
  if (!rc) rc = sw_ffn_work_alloc(&M->work, c->d_model, c->d_ff, max_tok, 1, err);
  if (rc) sw_method_free(M);
  return rc;
}

void sw_method_free(sw_method_t *M) {
  if (M->layers) {
    for (int l = 0; l < M->n_layer; l++) {
      sw_method_layer_t *L = &M->layers[l];
      if (L->policy.d_ff) sw_policy_free(&L->policy);
      if (L->has_moe) {
        sw_moe_router_free(&L->router);
        sw_moe_free(&L->moe);
      }
      if (L->has_pred) sw_predictor_free(&L->pred);
      free(L->gate_t);
      free(L->up_t);
    }
  }
  free(M->layers);
  free(M->scratch);
  free(M->idx);
  free(M->prev_x);
  free(M->xq);
  free(M->native_tmp);
  free(M->xq_down);
  if (M->mask.idx || M->mask.off) sw_mask_free(&M->mask);
  if (M->emask.idx || M->emask.off) sw_mask_free(&M->emask);
  if (M->work.f || M->work.i32) sw_ffn_work_free(&M->work);
  if (M->has_moe_work) sw_moe_work_free(&M->moe_work);
  if (M->has_pred_work) sw_predictor_work_free(&M->pred_work);
  memset(M, 0, sizeof *M);
}

void sw_method_reset_stats(sw_method_t *M) {
  memset(M->tok_hist, 0, sizeof M->tok_hist);
  for (int l = 0; l < M->n_layer; l++) {
    sw_method_layer_t *L = &M->layers[l];
    memset(&L->stats, 0, sizeof L->stats);
    L->teal_sx_sum = L->teal_sh_sum = L->teal_sa_sum[0] = L->teal_sa_sum[1] = 0;
    L->teal_att_tokens = 0;
    L->pred_tp = L->pred_true = L->pred_pos = L->pred_tok = 0;
  }
}

/* Counts one (token, layer) sparsity value (fraction skipped) in the per-token histogram. */
static void hist_add(sw_method_t *M, double skipped) {
  long b = lround(skipped * SW_METHOD_TOK_BINS);
  M->tok_hist[b < 0 ? 0 : b > SW_METHOD_TOK_BINS ? SW_METHOD_TOK_BINS : b]++;
}

/* TEAL, one token at a time through the input-sparse kernels. */
static void teal_token(sw_method_t *M, sw_method_layer_t *L, float *out, const float *x, sw_ffn_stats_t *st) {
  const sw_ffn_weights_t *w = &L->w;
  int d = w->d_model, f = w->d_ff;
  float *g = M->scratch, *u = g + f;
  int nx = sw_gemv_in_sparse_thr(g, L->gate_t, (size_t)f, SW_DTYPE_F32, x, L->teal_tx, M->idx, d, f, M->work.isa);
  sw_gemv_in_sparse_idx(u, L->up_t, (size_t)f, SW_DTYPE_F32, x, M->idx, nx, f, M->work.isa);
  sw_act_apply_gated(g, g, u, w->act, w->act_param, (size_t)f);
  int nh = 0;
  for (int i = 0; i < f; i++)
    if (fabsf(g[i]) > L->teal_th) M->idx[nh] = i, u[nh++] = g[i];
  sw_gemv_rows_axpy(out, w->down, (size_t)d, SW_DTYPE_F32, u, M->idx, nh, d, M->work.isa);
  st->flops += 2.0 * 2.0 * nx * f + f + 2.0 * nh * d;
  st->weight_bytes = (2.0 * nx * f + (double)nh * d) * sizeof(float); /* the input rows read (one token) */
  st->neurons_executed += nh;
  L->teal_sx_sum += 1.0 - (double)nx / d;
  L->teal_sh_sum += 1.0 - (double)nh / f;
  hist_add(M, 1.0 - (double)nh / f);
}

/* TEAL for a batch: mask x, dense acts, mask h, sgemm through the neuron-major down rows. */
static sw_rc teal_batch(sw_method_t *M, sw_method_layer_t *L, float *out, const float *x, int n_tok,
                        sw_ffn_stats_t *st) {
  const sw_ffn_weights_t *w = &L->w;
  int d = w->d_model, f = w->d_ff;
  float *h = M->scratch, *ga = h + (size_t)n_tok * f, *xm = ga + (size_t)n_tok * f;
  for (int t = 0; t < n_tok; t++) {
    int nx = 0;
    for (int j = 0; j < d; j++) {
      float v = x[(size_t)t * d + j];
      int keep = fabsf(v) > L->teal_tx;
      xm[(size_t)t * d + j] = keep ? v : 0.0f;
      nx += keep;
    }
    st->flops += 2.0 * 2.0 * nx * f + f;
    L->teal_sx_sum += 1.0 - (double)nx / d;
  }
  sw_rc rc = sw_ffn_dense_acts(ga, NULL, h, xm, w, &M->work, n_tok);
  if (rc) return rc;
  for (int t = 0; t < n_tok; t++) {
    int nh = 0;
    for (int i = 0; i < f; i++) {
      float *v = &h[(size_t)t * f + i];
      if (fabsf(*v) > L->teal_th) nh++;
      else *v = 0.0f;
    }
    st->flops += 2.0 * nh * d;
    st->neurons_executed += nh;
    L->teal_sh_sum += 1.0 - (double)nh / f;
    hist_add(M, 1.0 - (double)nh / f);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_tok, d, f, 1.0f, h, f, (const float *)w->down, d, 0.0f,
              out, d);
  st->weight_bytes = (double)sw_ffn_weights_bytes(w); /* masked inputs, dense sgemm: every row is read */
  return SW_OK;
}

static sw_rc teal_forward(sw_method_t *M, sw_method_layer_t *L, float *out, const float *x, int n_tok,
                          sw_ffn_stats_t *st) {
  const sw_ffn_weights_t *w = &L->w;
  memset(st, 0, sizeof *st);
  st->tokens = n_tok;
  st->calls = 1;
  st->neurons_total = (int64_t)n_tok * w->d_ff;
  st->flops_dense = sw_flops_ffn_dense(w->d_model, w->d_ff, 1, n_tok);
  st->weight_bytes_dense = (double)sw_ffn_weights_bytes(w);
  if (n_tok > 1) return teal_batch(M, L, out, x, n_tok, st);
  teal_token(M, L, out, x, st);
  return SW_OK;
}

/* Scores layer L's predictor (reading x_pred) on this call's inputs x against the true labels |h_i| > pred_label_thr. */
static sw_rc predictor_score(sw_method_layer_t *L, const float *x, const float *x_pred, int n_tok, double thr, int k,
                             sw_err_t *err) {
  size_t n = (size_t)n_tok * L->w.d_ff;
  float *labels = malloc(n * sizeof *labels);
  double rec = NAN, prec = NAN, pd = NAN, td = NAN;
  sw_rc rc = labels ? sw_predictor_labels(labels, &L->w, x, n_tok, L->pred_label_thr, err)
                    : sw_err_set(err, SW_ERR_NOMEM, "dejavu: out of memory for labels");
  if (!rc) rc = sw_predictor_eval(&rec, &prec, &pd, &td, &L->pred, x_pred, labels, n_tok, thr, k, err);
  free(labels);
  if (rc) return rc;
  double total = (double)n, truly = td * total;
  L->pred_tp += truly > 0 ? rec * truly : 0.0;
  L->pred_true += truly, L->pred_pos += pd * total, L->pred_tok += n_tok;
  return SW_OK;
}

void sw_method_predictor_quality(const sw_method_t *M, int l, double *recall, double *precision, double *pred_density,
                                 double *true_density) {
  const sw_method_layer_t *L = &M->layers[l];
  double n = L->pred_tok * L->w.d_ff;
  *recall = L->pred_true > 0 ? L->pred_tp / L->pred_true : NAN;
  *precision = L->pred_pos > 0 ? L->pred_tp / L->pred_pos : NAN;
  *pred_density = n > 0 ? L->pred_pos / n : NAN;
  *true_density = n > 0 ? L->pred_true / n : NAN;
}

/* 1 when the calibrated layer would keep every neuron: run the dense kernel instead (bitwise dense). */
static int layer_keeps_all(const sw_method_t *M, const sw_method_layer_t *L) {
  const sw_policy_t *p = &L->policy;
  int f = L->w.d_ff;
  if (sw_method_is_moe(M->cfg.kind)) /* top-k at 0 experts skipped, dynk_max at τ = 0: every expert runs */
    return (M->cfg.moe_select == SW_MOE_SELECT_TOPK || M->cfg.moe_select == SW_MOE_SELECT_DYNK_MAX) &&
           M->cfg.level <= 0.0;
  if (M->cfg.level <= 0.0) return 1; /* level 0: no neuron may be dropped (CETT 0 = no truncation error) */
  switch (M->cfg.kind) {
    case SW_METHOD_DENSE: return 1;
    case SW_METHOD_TOPK:
    case SW_METHOD_RANDOM: return p->k >= f;
    case SW_METHOD_CATS: return p->threshold < 0.0f;
    case SW_METHOD_CETT: return p->threshold <= 0.0f;
    case SW_METHOD_CHESS:
      for (int i = 0; i < f; i++)
        if (p->chan_thr[i] >= 0.0f) return 0;
      return 1;
    case SW_METHOD_TEAL: return L->teal_tx < 0.0f && L->teal_th < 0.0f && L->teal_ta[0] < 0.0f && L->teal_ta[1] < 0.0f;
    case SW_METHOD_DEJAVU:
    case SW_METHOD_POWERINFER: return M->cfg.level <= 0.0;
    default: return 0;
  }
}

/* Per-token sparsity of the call just made, from the mask it left (TEAL on f32 records its own per token; on
 * native weights it leaves its down neurons in M->mask). */
static void token_hist(sw_method_t *M, int n_tok, int native) {
  if (M->cfg.kind == SW_METHOD_TEAL && !native) return;
  /* every MoE method routes into emask: its per-token sparsity is over experts (definition 4), for LTE too */
  const sw_mask_t *m = sw_method_is_moe(M->cfg.kind) ? &M->emask : &M->mask;
  for (int t = 0; t < n_tok && t < m->n_tok; t++) hist_add(M, 1.0 - (double)(m->off[t + 1] - m->off[t]) / m->n_units);
}

double sw_method_token_quantile(const sw_method_t *M, double q) {
  int64_t n = 0, c = 0;
  for (int b = 0; b <= SW_METHOD_TOK_BINS; b++) n += M->tok_hist[b];
  if (n == 0) return NAN;
  int64_t want = (int64_t)ceil(q * (double)n);
  for (int b = 0; b <= SW_METHOD_TOK_BINS; b++)
    if ((c += M->tok_hist[b]) >= (want > 0 ? want : 1)) return (double)b / SW_METHOD_TOK_BINS;
  return 1.0;
}

/* The predictor's selection rule for layer l: Deja Vu keeps the top k = (1-s)·d_ff predicted probabilities, PowerInfer
 * every neuron whose logit reaches pred_logit_thr (k = 0); under lookahead the predictor reads layer l-1's FFN
 * input (M->prev_x, kept by method_forward). */
void sw_method_predictor_rule(const sw_method_t *M, int l, const float *x, const float **x_pred, double *thr, int *k) {
  const sw_method_layer_t *L = &M->layers[l];
  *k = 0;
  if (M->cfg.kind == SW_METHOD_DEJAVU) *k = (int)llround((1.0 - M->cfg.level) * L->w.d_ff), *k = *k < 1 ? 1 : *k;
  *thr = sw_method_predictor_logit_thr(&M->cfg);
  *x_pred = M->cfg.pred_lookahead && l > 0 ? M->prev_x : x;
}

/* Held-out recall/precision/density of the predictor on this call's tokens (measure_predictor only). */
static sw_rc predictor_measure(sw_method_t *M, int l, const float *x, int n_tok, sw_err_t *err) {
  if (!M->measure_predictor) return SW_OK;
  const float *xp;
  double thr;
  int k;
  sw_method_predictor_rule(M, l, x, &xp, &thr, &k);
  return predictor_score(&M->layers[l], x, xp, n_tok, thr, k, err);
}

/* Deja Vu or PowerInfer on f32 weights. */
static sw_rc predictor_forward(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  sw_method_layer_t *L = &M->layers[l];
  const float *xp;
  double thr;
  int k;
  sw_method_predictor_rule(M, l, x, &xp, &thr, &k);
  return sw_predictor_forward_from(out, &M->mask, x, xp, &L->w, &L->pred, thr, k, st, &M->pred_work, &M->work, n_tok);
}

double sw_method_predictor_logit_thr(const sw_method_cfg_t *cfg) {
  return cfg->kind == SW_METHOD_POWERINFER ? cfg->pred_logit_thr : 0.0;
}

static sw_rc method_forward(void *ctx, int l, float *out, const float *x, int n_tok, sw_err_t *err) {
  sw_method_t *M = ctx;
  sw_method_layer_t *L = &M->layers[l];
  sw_ffn_stats_t st;
  memset(&st, 0, sizeof st);
  M->nonce++;
  sw_rc rc;
  int E = L->has_moe ? L->moe.n_expert : 1;
  int dense = !L->sparse || layer_keeps_all(M, L);
  if (!dense && sw_method_is_predictor(M->cfg.kind) && (rc = predictor_measure(M, l, x, n_tok, err))) return rc;
  int native = sw_method_native_layer(M, l, !dense);
  if (native) {
    rc = sw_method_native_forward(M, l, out, x, n_tok, !dense, &st);
  } else if (dense) {
    rc = sw_ffn_dense_forward(out, x, &L->w, &st, &M->work, n_tok);
  } else {
    switch (M->cfg.kind) {
      case SW_METHOD_TEAL: rc = teal_forward(M, L, out, x, n_tok, &st); break;
      case SW_METHOD_D2DMOE:
      case SW_METHOD_MOEFICATION:
      case SW_METHOD_LTE: {
        int k = (int)llround((1.0 - M->cfg.level) * E);
        double tau = M->cfg.kind == SW_METHOD_LTE ? SW_MOE_LTE_TAU : M->cfg.level;
        rc = sw_moe_forward_routed(out, &M->emask, x, &L->moe, &L->router, M->cfg.moe_select, k < 1 ? 1 : k, tau, &st,
                                   &M->moe_work, n_tok);
        break;
      }
      case SW_METHOD_DEJAVU:
      case SW_METHOD_POWERINFER: rc = predictor_forward(M, l, out, x, n_tok, &st); break;
      default:
        rc = sw_ffn_policy_forward(out, &M->mask, x, &L->w, &L->policy, M->nonce, &st, &M->work, n_tok);
        break;
    }
  }
  if (rc) return sw_err_set(err, rc, "method %s: layer %d FFN kernel failed (%s)", sw_method_name(M->cfg.kind), l,
                            sw_err_text(rc));
  if (M->cfg.pred_lookahead && n_tok <= M->max_tok) /* the next layer's predictor input */
    memcpy(M->prev_x, x, (size_t)n_tok * (size_t)L->w.d_model * sizeof *x);
  if (!dense) token_hist(M, n_tok, native);
  sw_ffn_stats_add(&L->stats, &st);
  return SW_OK;
}

/* x̃ = x·1[|x| > t] in place for n_tok rows of dim, the zeroed fraction summed into L->teal_sa_sum[site]. */
static void attn_threshold(sw_method_layer_t *L, int site, float t, float *x, int n_tok, int dim) {
  for (int tk = 0; tk < n_tok; tk++) {
    int zero = 0;
    float *v = x + (size_t)tk * dim;
    for (int j = 0; j < dim; j++)
      if (!(fabsf(v[j]) > t)) v[j] = 0.0f, zero++;
    L->teal_sa_sum[site] += (double)zero / dim;
  }
  if (site == SW_LLAMA_SITE_QKV) L->teal_att_tokens += n_tok;
}

static int chess_attn_on(const sw_method_t *M, const sw_method_layer_t *L) {
  return M->cfg.kind == SW_METHOD_CHESS && M->cfg.chess_attention && L->sparse && M->cfg.level > 0.0;
}

/* TEAL on attention inputs (q/k/v shared input, o_proj input), CHESS w/ on the o_proj input (simulated: the
 * projections stay dense). */
static void method_attn_input(void *ctx, int l, int site, float *x, int n_tok, int dim) {
  sw_method_t *M = ctx;
  sw_method_layer_t *L = &M->layers[l];
  if (chess_attn_on(M, L) && site == SW_LLAMA_SITE_O) attn_threshold(L, site, L->chess_ta[site], x, n_tok, dim);
  if (M->cfg.kind != SW_METHOD_TEAL || !L->sparse || layer_keeps_all(M, L)) return;
  attn_threshold(L, site, L->teal_ta[site], x, n_tok, dim);
}

/* CHESS w/: the q_proj input (its own copy; k and v keep the dense input). */
static void method_q_input(void *ctx, int l, float *x, int n_tok, int dim) {
  sw_method_t *M = ctx;
  sw_method_layer_t *L = &M->layers[l];
  if (chess_attn_on(M, L)) attn_threshold(L, SW_LLAMA_SITE_QKV, L->chess_ta[SW_LLAMA_SITE_QKV], x, n_tok, dim);
}

sw_llama_ffn_t sw_method_hook(sw_method_t *M) {
  sw_llama_ffn_t h = {.forward = method_forward, .attn_input = method_attn_input, .ctx = M,
                      .q_input = M->cfg.kind == SW_METHOD_CHESS && M->cfg.chess_attention ? method_q_input : NULL};
  return h;
}

/* TEAL's per-layer zeroed fractions: s[0] q/k/v input, s[1] o input, s[2] gate/up input, s[3] down input. */
static void teal_fractions(const sw_method_layer_t *L, double s[4]) {
  double at = L->teal_att_tokens > 0 ? (double)L->teal_att_tokens : 1, ft = L->stats.tokens > 0 ? (double)L->stats.tokens : 1;
  s[0] = L->teal_sa_sum[0] / at, s[1] = L->teal_sa_sum[1] / at;
  s[2] = L->teal_sx_sum / ft, s[3] = L->teal_sh_sum / ft;
}

double sw_method_layer_sparsity(const sw_method_t *M, int l) {
  const sw_method_layer_t *L = &M->layers[l];
  const sw_ffn_stats_t *s = &L->stats;
  if (s->tokens == 0) return NAN;
  if (M->cfg.kind == SW_METHOD_TEAL) { /* matrix-size weights (TEAL greedyopt.py): q, k, v, o, gate, up, down */
    const sw_llama_config_t *c = &M->model->cfg;
    double d = c->d_model, qd = (double)c->n_head * c->head_dim, kvd = (double)c->n_head_kv * c->head_dim;
    double f = c->d_ff, sp[4];
    teal_fractions(L, sp);
    double wq = d * qd, wkv = 2 * d * kvd, wo = qd * d, wf = d * f;
    return ((wq + wkv) * sp[0] + wo * sp[1] + 2 * wf * sp[2] + wf * sp[3]) / (wq + wkv + wo + 3 * wf);
  }
  if (s->experts_total > 0) return 1.0 - (double)s->experts_executed / (double)s->experts_total;
  if (s->neurons_total > 0) return 1.0 - (double)s->neurons_executed / (double)s->neurons_total;
  return 0.0;
}

/* TEAL's per-site zeroed fractions averaged over the sparsified layers (NAN for other methods). */
static void teal_site_means(const sw_method_t *M, double mean[4]) {
  int n = 0;
  for (int i = 0; i < 4; i++) mean[i] = 0.0;
  for (int l = 0; M->cfg.kind == SW_METHOD_TEAL && l < M->n_layer; l++) {
    if (!M->layers[l].sparse || M->layers[l].stats.tokens == 0) continue;
    double fr[4];
    teal_fractions(&M->layers[l], fr);
    for (int i = 0; i < 4; i++) mean[i] += fr[i];
    n++;
  }
  for (int i = 0; i < 4; i++) mean[i] = n ? mean[i] / n : NAN;
}

/* CHESS w/: the q_proj and o_proj input zeroed fractions averaged over the sparsified layers (NAN otherwise). */
static void chess_attn_means(const sw_method_t *M, double mean[SW_LLAMA_SITES]) {
  int n = 0;
  mean[0] = mean[1] = 0.0;
  for (int l = 0; M->cfg.kind == SW_METHOD_CHESS && M->cfg.chess_attention && l < M->n_layer; l++) {
    const sw_method_layer_t *L = &M->layers[l];
    if (!L->sparse || L->teal_att_tokens == 0) continue;
    for (int i = 0; i < SW_LLAMA_SITES; i++) mean[i] += L->teal_sa_sum[i] / (double)L->teal_att_tokens;
    n++;
  }
  for (int i = 0; i < SW_LLAMA_SITES; i++) mean[i] = n ? mean[i] / n : NAN;
}

void sw_method_summary(const sw_method_t *M, sw_method_summary_t *sum) {
  memset(sum, 0, sizeof *sum);
  double sp = 0, sp_sparse = 0;
  int n_sparse = 0;
  for (int l = 0; l < M->n_layer; l++) {
    const sw_ffn_stats_t *s = &M->layers[l].stats;
    double ls = sw_method_layer_sparsity(M, l);
    if (isnan(ls)) ls = 0;
    sp += ls;
    if (M->layers[l].sparse) sp_sparse += ls, n_sparse++;
    sum->ffn_flops_per_tok += s->flops;
    if (s->calls > 0) {
      sum->ffn_weight_bytes_per_call += s->weight_bytes / (double)s->calls;
      sum->ffn_weight_bytes_dense_per_call += s->weight_bytes_dense / (double)s->calls;
    }
    sum->ffn_flops_dense_per_tok += s->flops_dense;
    sum->select_flops_per_tok += s->flops_select;
    int chess = M->cfg.kind == SW_METHOD_CHESS && M->cfg.chess_attention; /* site QKV feeds q only */
    if ((M->cfg.kind == SW_METHOD_TEAL || chess) && M->layers[l].sparse) {
      const sw_llama_config_t *c = &M->model->cfg;
      double d = c->d_model, qd = (double)c->n_head * c->head_dim, kvd = (double)c->n_head_kv * c->head_dim, fr[4];
      teal_fractions(&M->layers[l], fr);
      double qkv_out = chess ? qd : qd + 2 * kvd;
      sum->attn_flops_saved_per_tok += (2.0 * d * qkv_out * fr[0] + 2.0 * qd * d * fr[1]) * (double)s->tokens;
    }
    if (l == 0) sum->tokens = s->tokens;
  }
  teal_site_means(M, sum->teal_site_sparsity);
  chess_attn_means(M, sum->chess_attn_sparsity);
  double tok = sum->tokens > 0 ? (double)sum->tokens : NAN;
  sum->sparsity = M->n_layer ? sp / M->n_layer : 0;
  sum->sparsity_sparse_layers = n_sparse ? sp_sparse / n_sparse : 0;
  sum->ffn_flops_per_tok /= tok;
  sum->ffn_flops_dense_per_tok /= tok;
  sum->select_flops_per_tok /= tok;
  sum->attn_flops_saved_per_tok /= tok;
}
