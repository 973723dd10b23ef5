/* sw_calib: FFN-input recording, per-method calibration and the on-disk calibration cache.
 * Cache file: "SWCB" magic, u32 version, u64 key length + key, u32 n_layer, then per layer
 * u64 n_floats, floats, u64 n_ints, ints (little-endian host order; the key includes nothing host-specific
 * but the file is only read back on the machine that wrote it). */
#include "models/sw_calib.h"
#include "models/sw_teal_alloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sw_hash.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_kmeans.h"
#include "kernels/sw_moefy.h"
#include "models/sw_calib_int.h"

#define CALIB_MAGIC "SWCB"
#define CALIB_VERSION 5u /* 3: MoE layers store their held-out router quality before the router parameters;
                                4: CHESS adds its attention thresholds, Deja Vu its label threshold;
                                5: MoE layers store only the router's best epoch before its parameters (the
                                   level-dependent quality is recomputed per trial), keys of level-free routers
                                   carry no level.  The key's CHESS, TEAL and predictor parts (once unreachable
                                   after the MoE return) also separate those methods' variants */
#define CALIB_MOE_HEAD 1 /* best epoch, then the router parameters */

typedef struct recorder {
  const sw_llama_t *m;
  sw_calib_data_t  *cd;
  sw_ffn_weights_t *w;   /* per-layer views with the activation */
  sw_ffn_work_t     work;
  int               off; /* token offset of the current window */
} recorder_t;

static sw_rc record_forward(void *ctx, int l, float *out, const float *x, int n_tok, sw_err_t *err) {
  recorder_t *r = ctx;
  sw_calib_data_t *cd = r->cd;
  memcpy(cd->x + ((size_t)l * cd->n_tok + (size_t)r->off) * cd->d_model, x, (size_t)n_tok * cd->d_model * sizeof(float));
  sw_rc rc = sw_ffn_dense_forward(out, x, &r->w[l], NULL, &r->work, n_tok);
  return rc ? sw_err_set(err, rc, "calibration: dense FFN of layer %d failed", l) : SW_OK;
}

static void record_attn(void *ctx, int l, int site, float *x, int n_tok, int dim) {
  recorder_t *r = ctx;
  sw_calib_data_t *cd = r->cd;
  if (dim != cd->d_model) return;
  memcpy(cd->a + (((size_t)l * SW_LLAMA_SITES + (size_t)site) * cd->n_tok + (size_t)r->off) * cd->d_model, x,
         (size_t)n_tok * cd->d_model * sizeof(float));
}

sw_rc sw_calib_collect(sw_calib_data_t *cd, const sw_llama_t *m, sw_act_t act, float act_param, const int32_t *tokens,
                       size_t n_tokens, int window, sw_err_t *err) {
  memset(cd, 0, sizeof *cd);
  const sw_llama_config_t *c = &m->cfg;
  size_t nw = window > 0 ? n_tokens / (size_t)window : 0;
  if (nw == 0) return sw_err_set(err, SW_ERR_INVALID, "calibration: %zu tokens make no window of %d", n_tokens, window);
  cd->n_layer = c->n_layer;
  cd->d_model = c->d_model;
  cd->n_tok = (int)(nw * (size_t)window);
  cd->act = act;
  cd->act_param = act_param;
  size_t per_layer = (size_t)cd->n_tok * (size_t)c->d_model;
  cd->window = window;
  cd->tokens = malloc((size_t)cd->n_tok * sizeof *cd->tokens);
  if (cd->tokens) memcpy(cd->tokens, tokens, (size_t)cd->n_tok * sizeof *cd->tokens);
  cd->x = malloc((size_t)c->n_layer * per_layer * sizeof(float));
  cd->a = calloc((size_t)c->n_layer * SW_LLAMA_SITES * per_layer, sizeof(float));
  recorder_t r = {.m = m, .cd = cd};
  r.w = malloc((size_t)c->n_layer * sizeof *r.w);
  if (!cd->x || !cd->a || !r.w || !cd->tokens) {
    free(r.w);
    sw_calib_data_free(cd);
    return sw_err_set(err, SW_ERR_NOMEM, "calibration: cannot hold %d tokens of FFN inputs", cd->n_tok);
  }
  for (int l = 0; l < c->n_layer; l++) {
    r.w[l] = m->w.ffn[l];
    r.w[l].act = act;
    r.w[l].act_param = act_param;
  }
  sw_llama_state_t st;
  sw_rc rc = sw_llama_state_init(&st, m, window, window, err);
  if (!rc) rc = sw_ffn_work_alloc(&r.work, c->d_model, c->d_ff, window, 1, err);
  sw_llama_ffn_t hook = {.forward = record_forward, .attn_input = record_attn, .ctx = &r};
  for (size_t w = 0; !rc && w < nw; w++) {
    r.off = (int)(w * (size_t)window);
    sw_llama_state_reset(&st);
    rc = sw_llama_forward(m, &st, &hook, tokens + r.off, window, 0, err);
  }
  if (r.work.f || r.work.i32) sw_ffn_work_free(&r.work);
  if (st.x) sw_llama_state_free(&st);
  free(r.w);
  if (rc) sw_calib_data_free(cd);
  return rc;
}

void sw_calib_data_free(sw_calib_data_t *cd) {
  free(cd->tokens);
  free(cd->x);
  free(cd->a);
  memset(cd, 0, sizeof *cd);
}

static sw_policy_kind_t policy_of(sw_method_kind_t k) {
  switch (k) {
    case SW_METHOD_TOPK: return SW_POLICY_TOPK;
    case SW_METHOD_CATS: return SW_POLICY_THRESHOLD;
    case SW_METHOD_CHESS: return SW_POLICY_CHESS;
    case SW_METHOD_CETT: return SW_POLICY_CETT;
    case SW_METHOD_RANDOM: return SW_POLICY_RANDOM;
    default: return SW_POLICY_DENSE;
  }
}

/* gact and u (n × d_ff each) of layer l's first n calibration tokens, in chunks. */
sw_rc sw_calib_layer_acts(float *gact, float *u, const sw_ffn_weights_t *w, const float *x, int n, sw_err_t *err) {
  enum { CHUNK = 256 };
  sw_ffn_work_t work;
  sw_rc rc = sw_ffn_work_alloc(&work, w->d_model, w->d_ff, CHUNK, 1, err);
  for (int t0 = 0; !rc && t0 < n; t0 += CHUNK) {
    int c = n - t0 < CHUNK ? n - t0 : CHUNK;
    rc = sw_ffn_dense_acts(gact + (size_t)t0 * w->d_ff, u + (size_t)t0 * w->d_ff, NULL, x + (size_t)t0 * w->d_model,
                           w, &work, c);
    if (rc) sw_err_set(err, rc, "calibration: activations failed");
  }
  sw_ffn_work_free(&work);
  return rc;
}

static sw_rc calib_policy(sw_method_t *M, int l, const float *x, int n, sw_err_t *err) {
  sw_method_layer_t *L = &M->layers[l];
  int f = L->w.d_ff;
  if (M->cfg.kind == SW_METHOD_CETT && n > SW_CALIB_CETT_TOKENS) n = SW_CALIB_CETT_TOKENS;
  float *gact = malloc((size_t)n * f * sizeof(float)), *u = malloc((size_t)n * f * sizeof(float));
  sw_rc rc = gact && u ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "calibration: out of memory");
  if (!rc) rc = sw_calib_layer_acts(gact, u, &L->w, x, n, err);
  if (!rc) rc = sw_policy_init(&L->policy, policy_of(M->cfg.kind), f, M->cfg.seed + (uint64_t)l, err);
  if (!rc) rc = sw_policy_calibrate(&L->policy, &L->w, gact, u, n, M->cfg.level, err);
  free(gact);
  free(u);
  return rc;
}

/* Transposed gate/up for TEAL's input-sparse GEMV. */
sw_rc sw_calib_teal_transpose(sw_method_layer_t *L, sw_err_t *err) {
  int d = L->w.d_model, f = L->w.d_ff;
  L->gate_t = malloc((size_t)d * f * sizeof(float));
  L->up_t = malloc((size_t)d * f * sizeof(float));
  if (!L->gate_t || !L->up_t) return sw_err_set(err, SW_ERR_NOMEM, "teal: out of memory for transposed weights");
  const float *g = L->w.gate, *u = L->w.up;
  for (int i = 0; i < f; i++)
    for (int j = 0; j < d; j++) {
      L->gate_t[(size_t)j * f + i] = g[(size_t)i * d + j];
      L->up_t[(size_t)j * f + i] = u[(size_t)i * d + j];
    }
  return SW_OK;
}

static sw_rc method_workspaces(sw_method_t *M, const sw_method_layer_t *L, sw_err_t *err) {
  sw_rc rc = SW_OK;
  if (L->has_moe && !M->has_moe_work) {
    rc = sw_moe_work_alloc(&M->moe_work, &L->moe, &L->router, M->max_tok, err);
    M->has_moe_work = rc == SW_OK;
  }
  if (!rc && L->has_pred && !M->has_pred_work) {
    rc = sw_predictor_work_alloc(&M->pred_work, &L->pred, M->max_tok, err);
    M->has_pred_work = rc == SW_OK;
  }
  return rc;
}

/* CHESS's selective attention sparsification (He et al. 2024): per layer, the s-quantile of |x| over the dense
 * calibration inputs of q_proj (the normed block input) and of o_proj (the attention output). */
static sw_rc calib_chess_attention(sw_method_layer_t *L, const sw_calib_data_t *cd, int l, double s, sw_err_t *err) {
  size_t na = (size_t)cd->n_tok * cd->d_model;
  const float *a = cd->a + (size_t)l * SW_LLAMA_SITES * na;
  sw_rc rc = SW_OK;
  for (int site = 0; !rc && site < SW_LLAMA_SITES; site++) rc = sw_calib_abs_quantile(&L->chess_ta[site], a + site * na, na, s, err);
  return rc;
}

/* The expert split of layer l (assign[d_ff]) from the method's clustering; coactivation uses x (n tokens). */
static sw_rc moe_split(int32_t *assign, sw_method_t *M, int l, const float *x, int n, sw_err_t *err) {
  sw_method_layer_t *L = &M->layers[l];
  if (M->cfg.moe_split == SW_PARTITION_COACTIVATION) {
    sw_coact_cfg_t cc;
    sw_coact_defaults(&cc);
    return sw_coact_partition(assign, &L->w, x, n, M->cfg.n_expert, &cc, err);
  }
  sw_kmeans_cfg_t kc;
  sw_kmeans_defaults(&kc);
  kc.seed = M->cfg.seed + (uint64_t)l;
  return sw_moe_partition(assign, &L->w, M->cfg.moe_split, M->cfg.n_expert, &kc, M->cfg.seed + (uint64_t)l, err);
}

/* The exact scores a router imitates: MoEfication's routers the positive mass (its ground truth), the others
 * the expert output norms (D2DMoE's oracle). */
static sw_moe_router_kind_t truth_kind(sw_moe_router_kind_t k) {
  int moefication = k == SW_MOE_ROUTER_GT || k == SW_MOE_ROUTER_SIMILARITY || k == SW_MOE_ROUTER_MOEFICATION ||
                    k == SW_MOE_ROUTER_CLASSIFIER;
  return moefication ? SW_MOE_ROUTER_GT : SW_MOE_ROUTER_ORACLE;
}

/* Expert masks of n tokens of x under router r and the method's rule (work sized for n tokens). */
static sw_rc route_mask(sw_mask_t *mask, float *scores, const sw_method_t *M, const sw_moe_t *moe,
                        const sw_moe_router_t *r, const float *x, int n, sw_moe_work_t *work) {
  int E = moe->n_expert, k = (int)llround((1.0 - M->cfg.level) * E);
  double tau = M->cfg.kind == SW_METHOD_LTE ? SW_MOE_LTE_TAU : M->cfg.level;
  int norm = r->kind != SW_MOE_ROUTER_CLASSIFIER && r->kind != SW_MOE_ROUTER_MOEFICATION && r->kind != SW_MOE_ROUTER_LTE;
  sw_rc rc = sw_moe_router_scores(scores, r, moe, x, n, work);
  return rc ? rc : sw_moe_select(mask, scores, M->cfg.moe_select, k < 1 ? 1 : k, tau, norm, work, n);
}

/* Recall, precision and predicted density of layer l's router on its held-out tokens x[n] against the same rule
 * on the exact scores; and the positive mass its top-20 % experts capture (MoEfication's validation metric). */
static sw_rc router_quality(sw_method_t *M, int l, const float *x, int n, sw_err_t *err) {
  sw_method_layer_t *L = &M->layers[l];
  const int E = L->moe.n_expert;
  sw_moe_router_t truth = {.kind = truth_kind(L->router.kind), .d_model = L->moe.d_model, .n_expert = E};
  sw_moe_work_t work;
  sw_mask_t pm = {0}, tm = {0};
  float *sp = malloc((size_t)n * E * sizeof *sp), *st = malloc((size_t)n * E * sizeof *st);
  sw_rc rc = sp && st ? sw_moe_work_alloc(&work, &L->moe, &L->router, n, err) : SW_ERR_NOMEM;
  int has_work = rc == SW_OK;
  if (!rc) rc = sw_mask_alloc(&pm, E, n, err);
  if (!rc) rc = sw_mask_alloc(&tm, E, n, err);
  if (!rc) rc = route_mask(&pm, sp, M, &L->moe, &L->router, x, n, &work);
  if (!rc) rc = route_mask(&tm, st, M, &L->moe, &truth, x, n, &work);
  sw_router_quality_t q;
  if (!rc) rc = sw_router_quality(&q, &pm, &tm, E);
  if (!rc) rc = sw_moe_mass(st, &L->moe, x, n, 1, err);
  if (!rc) {
    int k = (int)(E * 0.2);
    L->rq_recall = q.recall, L->rq_precision = q.precision, L->rq_density = q.density;
    L->rq_mass_captured = sw_moefy_mass_captured(sp, st, n, E, k > 0 ? k : 1);
    L->rq_best_epoch = sw_moe_router_trained(L->router.kind) ? (double)L->router.train.best_epoch : NAN;
  }
  if (has_work) sw_moe_work_free(&work);
  if (pm.idx || pm.off) sw_mask_free(&pm);
  if (tm.idx || tm.off) sw_mask_free(&tm);
  free(sp), free(st);
  return rc ? sw_err_set(err, rc, "router quality of layer %d failed", l) : SW_OK;
}

/* Router quality of layer l on the held-out tail of its n calibration tokens x (the last router_val_frac, which
 * training did not use) at the method's current level; nothing when nothing is held out. */
static sw_rc held_out_quality(sw_method_t *M, int l, const float *x, int n, sw_err_t *err) {
  int n_train = sw_moe_router_n_train(n, M->cfg.router_val_frac);
  if (n_train >= n) return SW_OK;
  return router_quality(M, l, x + (size_t)n_train * M->layers[l].w.d_model, n - n_train, err);
}

/* Experts (the method's split) and a router trained on x (n tokens; epochs 0 = shaped only, for the cache);
 * assign_in (may be NULL) restores a cached split.  Trained routers hold out the last router_val_frac of x,
 * where every router's quality is then measured. */
static sw_rc build_moe(sw_method_t *M, int l, const int32_t *assign_in, const float *x, int n, int train,
                       sw_err_t *err) {
  sw_method_layer_t *L = &M->layers[l];
  int32_t *assign = malloc((size_t)L->w.d_ff * sizeof *assign);
  if (!assign) return sw_err_set(err, SW_ERR_NOMEM, "moe: out of memory");
  sw_rc rc = SW_OK;
  if (assign_in) memcpy(assign, assign_in, (size_t)L->w.d_ff * sizeof *assign);
  else rc = moe_split(assign, M, l, x, sw_moe_router_n_train(n, M->cfg.router_val_frac), err);
  if (!rc) rc = sw_moe_build(&L->moe, &L->w, assign, M->cfg.n_expert, err);
  free(assign);
  if (rc) return rc;
  L->has_moe = 1;
  sw_moe_router_cfg_t rcfg;
  sw_method_router_cfg(&rcfg, &M->cfg, l);
  if (!train) rcfg.train.epochs = 0;
  rc = sw_moe_router_train(&L->router, M->cfg.moe_router, &L->moe, x, n, &rcfg, NULL, err);
  L->rq_recall = L->rq_precision = L->rq_density = L->rq_mass_captured = L->rq_best_epoch = NAN;
  if (!rc && train) rc = held_out_quality(M, l, x, n, err);
  return rc ? rc : method_workspaces(M, L, err);
}

sw_rc sw_calib_router_quality(sw_method_t *M, const sw_calib_data_t *cd, sw_err_t *err) {
  if (!sw_method_is_moe(M->cfg.kind)) return SW_OK;
  if (cd->n_layer != M->n_layer)
    return sw_err_set(err, SW_ERR_INVALID, "router quality: calibration data of another model");
  sw_rc rc = SW_OK;
  for (int l = 0; !rc && l < M->n_layer; l++) {
    if (!M->layers[l].sparse || !M->layers[l].has_moe) continue;
    double best = M->layers[l].rq_best_epoch; /* from the training, kept */
    rc = held_out_quality(M, l, cd->x + (size_t)l * cd->n_tok * cd->d_model, cd->n_tok, err);
    M->layers[l].rq_best_epoch = best;
  }
  return rc;
}

/* Deja Vu labels a neuron active when |h_i| > label_thr.  SiLU never gives exact zeros, so the label threshold
 * is the s-quantile of |h| over this layer's calibration tokens: the predictor learns which neurons are in
 * the top (1-s) by magnitude (label_thr = 0 when epochs = 0, i.e. restoring from the cache). */
static sw_rc label_threshold(double *thr, const sw_ffn_weights_t *w, const float *x, int n, double s, sw_err_t *err) {
  size_t k = (size_t)n * w->d_ff;
  float *g = malloc(k * sizeof *g), *u = malloc(k * sizeof *u);
  sw_rc rc = g && u ? sw_calib_layer_acts(g, u, w, x, n, err) : sw_err_set(err, SW_ERR_NOMEM, "dejavu: out of memory");
  for (size_t i = 0; !rc && i < k; i++) g[i] *= u[i];
  float t = 0;
  if (!rc) rc = sw_calib_abs_quantile(&t, g, k, s, err);
  *thr = t > 0 ? t : 0;
  free(g);
  free(u);
  return rc;
}

/* The trainer of a predictor method from the method's settings (Deja Vu's defaults, sw_method_cfg_defaults). */
static void pred_cfg(sw_predictor_cfg_t *pc, const sw_method_cfg_t *c, int l, int epochs) {
  sw_predictor_dejavu_defaults(pc);
  pc->rank = c->pred_rank;
  pc->hidden_act = c->kind == SW_METHOD_POWERINFER ? SW_MLP_ACT_RELU : SW_MLP_ACT_NONE;
  pc->train.epochs = (size_t)epochs;
  pc->train.lr = c->pred_lr, pc->train.weight_decay = c->pred_weight_decay, pc->train.batch = (size_t)c->pred_batch;
  pc->train.patience = (size_t)c->pred_patience, pc->train.stop_score = c->pred_stop_recall;
  pc->val_frac = c->pred_val_frac;
  pc->val_logit_thr = sw_method_predictor_logit_thr(c);
  pc->seed = c->seed + 2000u + (uint64_t)l;
  pc->train.seed = pc->seed;
}

/* A predictor for layer l: labels from the layer's FFN on x, the predictor reading x_pred (lookahead: the previous
 * layer's inputs); epochs 0 shapes it only (restoring from the cache). */
static sw_rc build_pred(sw_method_t *M, int l, const float *x, const float *x_pred, int n, int epochs, sw_err_t *err) {
  sw_method_layer_t *L = &M->layers[l];
  sw_predictor_cfg_t pc;
  pred_cfg(&pc, &M->cfg, l, epochs);
  if (epochs > 0) {
    sw_rc rc = label_threshold(&pc.label_thr, &L->w, x, n, M->cfg.level, err);
    if (rc) return rc;
  }
  sw_mlp_train_stats_t ts = {0};
  sw_rc rc = sw_predictor_train_from(&L->pred, &L->w, x, x_pred, n, &pc, &ts, err);
  if (rc) return rc;
  L->pred_label_thr = (float)pc.label_thr;
  L->pred_best_epoch = epochs > 0 ? (double)ts.best_epoch : NAN;
  L->pred_epochs_run = epochs > 0 ? (double)ts.epochs_run : NAN;
  L->has_pred = 1;
  return method_workspaces(M, L, err);
}

sw_rc sw_calib_method(sw_method_t *M, const sw_calib_data_t *cd, sw_err_t *err) {
  if (cd->n_layer != M->n_layer || cd->act != M->cfg.act || cd->act_param != M->cfg.act_param)
    return sw_err_set(err, SW_ERR_INVALID, "calibration data was recorded with another model or activation");
  for (int l = 0; l < M->n_layer; l++) {
    sw_method_layer_t *L = &M->layers[l];
    L->sparse = M->cfg.layers[l] && M->cfg.kind != SW_METHOD_DENSE;
    if (!L->sparse) continue;
    const float *x = cd->x + (size_t)l * cd->n_tok * cd->d_model;
    sw_rc rc;
    switch (M->cfg.kind) {
      case SW_METHOD_TEAL: continue; /* sequential, below */
      case SW_METHOD_D2DMOE:
      case SW_METHOD_MOEFICATION:
      case SW_METHOD_LTE: rc = build_moe(M, l, NULL, x, cd->n_tok, 1, err); break;
      case SW_METHOD_DEJAVU:
      case SW_METHOD_POWERINFER: {
        const float *xp = M->cfg.pred_lookahead && l > 0 ? x - (size_t)cd->n_tok * cd->d_model : x;
        rc = build_pred(M, l, x, xp, cd->n_tok, M->cfg.train_epochs, err);
        break;
      }
      default:
        rc = calib_policy(M, l, x, cd->n_tok, err);
        if (!rc && M->cfg.kind == SW_METHOD_CHESS && M->cfg.chess_attention) rc = calib_chess_attention(L, cd, l, M->cfg.level, err);
        break;
    }
    if (rc) return sw_err_prefix(err, "calibrating %s layer %d", sw_method_name(M->cfg.kind), l);
  }
  return M->cfg.kind == SW_METHOD_TEAL ? sw_calib_teal_sequential(M, cd, err) : SW_OK;
}

int sw_calib_uses_level(const sw_method_cfg_t *c) {
  /* D2DMoE's and MoEfication's clustering and router training never read the level (τ, the fraction of experts
   * skipped): only the selection at run time does.  LTE's η weighs its training loss. */
  return !sw_method_is_moe(c->kind) || c->kind == SW_METHOD_LTE;
}

void sw_calib_key(char *key, size_t len, const sw_method_t *M, const char *model_sha, const char *span) {
  const sw_method_cfg_t *c = &M->cfg;
  char layers[SW_METHOD_MAX_LAYERS + 1];
  int n = M->n_layer < SW_METHOD_MAX_LAYERS ? M->n_layer : SW_METHOD_MAX_LAYERS;
  for (int l = 0; l < n; l++) layers[l] = c->layers[l] ? '1' : '0';
  layers[n] = 0;
  char level[40] = "any"; /* a router trained without the level serves every level (sw_calib.h) */
  if (sw_calib_uses_level(c)) snprintf(level, sizeof level, "%.17g", c->level);
  snprintf(key, len,
           "v%u|model=%s|span=%s|method=%s|level=%s|act=%s|act_param=%.9g|experts=%d|rank=%d|epochs=%d|seed=%llu|"
           "layers=%s|cett_tokens=%d",
           CALIB_VERSION, model_sha, span, sw_method_name(c->kind), level, sw_act_name(c->act), c->act_param,
           c->n_expert, c->pred_rank, c->train_epochs, (unsigned long long)c->seed, layers, SW_CALIB_CETT_TOKENS);
  size_t used = strlen(key);
  if (c->teal_greedy && used < len) snprintf(key + used, len - used, "|teal_alloc=greedy"); /* uniform keys unchanged */
  /* The method-specific parts come before the MoE return: CHESS with and without attention thresholds must not
   * share a cache file (they did while these lines sat after it). */
  used = strlen(key);
  if (c->kind == SW_METHOD_CHESS && used < len) snprintf(key + used, len - used, "|chess_attention=%d", c->chess_attention);
  used = strlen(key);
  if (sw_method_is_predictor(c->kind) && used < len) /* the trainer, the lookahead and PowerInfer's threshold */
    snprintf(key + used, len - used, "|label_thr_saved|pred_lr=%.9g|pred_wd=%.9g|pred_batch=%d|pred_val=%.9g|"
             "pred_stop=%.9g|pred_patience=%d|pred_input=%s|pred_logit_thr=%.9g", c->pred_lr, c->pred_weight_decay,
             c->pred_batch, c->pred_val_frac, c->pred_stop_recall, c->pred_patience,
             c->pred_lookahead ? "previous" : "current", c->pred_logit_thr);
  used = strlen(key);
  if (c->kind == SW_METHOD_TEAL && used < len) /* sequential (not v2's dense calibration) and the threshold rule */
    snprintf(key + used, len - used, "|teal=sequential|teal_rule=%s", c->teal_signed_cdf ? "signed_cdf" : "abs_quantile");
  if (!sw_method_is_moe(c->kind)) return;
  sw_moe_router_cfg_t rc;
  sw_method_router_cfg(&rc, c, 0);
  used = strlen(key);
  snprintf(key + used, len > used ? len - used : 0, "|split=%s|router=%s|select=%s|lr=%.9g|batch=%zu|router_epochs=%zu|val=%.9g",
           sw_partition_name(c->moe_split), sw_moe_router_name(c->moe_router), sw_moe_select_name(c->moe_select),
           rc.train.lr, rc.train.batch, rc.train.epochs, rc.val_frac);
}

static void cache_path(char *path, size_t len, const char *dir, const char *key) {
  char hex[65];
  sw_sha256_hex(key, strlen(key), hex);
  snprintf(path, len, "%s/calib-%.32s.bin", dir, hex);
}

/* An MoE layer's floats: the router's best epoch then its parameters (allocated; NULL on failure).  The held-out
 * quality depends on the level and is recomputed by sw_calib_router_quality. */
static float *moe_blob(const sw_method_layer_t *L, size_t *nf) {
  size_t np = L->router.mlp.n_params;
  float *f = malloc((CALIB_MOE_HEAD + np) * sizeof *f);
  if (!f) return NULL;
  f[0] = (float)L->rq_best_epoch;
  if (np) memcpy(f + CALIB_MOE_HEAD, L->router.mlp.params, np * sizeof *f);
  *nf = CALIB_MOE_HEAD + np;
  return f;
}

/* Per-layer floats and ints that describe the calibration (*owned: a buffer to free after writing). */
static void layer_blobs(const sw_method_t *M, const sw_method_layer_t *L, const float **f, size_t *nf,
                        float scalars[4], const int32_t **ints, size_t *ni, int32_t *assign_buf, float *chess_buf,
                        float **owned) {
  *f = NULL, *nf = 0, *ints = NULL, *ni = 0;
  int d_ff = L->w.d_ff;
  switch (M->cfg.kind) {
    case SW_METHOD_CATS:
    case SW_METHOD_TOPK:
    case SW_METHOD_RANDOM:
    case SW_METHOD_CETT:
      scalars[0] = L->policy.threshold, scalars[1] = (float)L->policy.k;
      *f = scalars, *nf = 2;
      break;
    case SW_METHOD_CHESS: /* d_ff channel thresholds, then the q_proj and o_proj input thresholds */
      memcpy(chess_buf, L->policy.chan_thr, (size_t)d_ff * sizeof(float));
      chess_buf[d_ff] = L->chess_ta[0], chess_buf[d_ff + 1] = L->chess_ta[1];
      *f = chess_buf, *nf = (size_t)d_ff + 2;
      break;
    case SW_METHOD_TEAL:
      scalars[0] = L->teal_tx, scalars[1] = L->teal_th, scalars[2] = L->teal_ta[0], scalars[3] = L->teal_ta[1];
      *f = scalars, *nf = 4;
      break;
    case SW_METHOD_D2DMOE:
    case SW_METHOD_MOEFICATION:
    case SW_METHOD_LTE:
      *f = *owned = moe_blob(L, nf);
      if (!*owned) *nf = 0;
      for (int i = 0; i < d_ff; i++) assign_buf[i] = L->moe.assign[i];
      *ints = assign_buf, *ni = (size_t)d_ff;
      break;
    case SW_METHOD_DEJAVU:
    case SW_METHOD_POWERINFER: *f = L->pred.mlp.params, *nf = L->pred.mlp.n_params; /* then the label threshold */
      scalars[0] = L->pred_label_thr, *ints = (const int32_t *)scalars, *ni = 1;
      break;
    default: break;
  }
}

sw_rc sw_calib_save(const sw_method_t *M, const char *dir, const char *key, sw_err_t *err) {
  char path[4096], tmp[4200];
  mkdir(dir, 0777); /* may exist */
  cache_path(path, sizeof path, dir, key);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *fp = fopen(tmp, "wb");
  if (!fp) return sw_err_set(err, SW_ERR_IO, "calibration cache: cannot write %s: %s", tmp, strerror(errno));
  uint32_t v = CALIB_VERSION, nl = (uint32_t)M->n_layer;
  uint64_t klen = strlen(key);
  fwrite(CALIB_MAGIC, 1, 4, fp);
  fwrite(&v, 4, 1, fp);
  fwrite(&klen, 8, 1, fp);
  fwrite(key, 1, klen, fp);
  fwrite(&nl, 4, 1, fp);
  int32_t *assign = malloc((size_t)M->model->cfg.d_ff * sizeof *assign);
  float *chess_buf = malloc(((size_t)M->model->cfg.d_ff + 2) * sizeof *chess_buf);
  for (int l = 0; assign && chess_buf && l < M->n_layer; l++) {
    const float *f;
    const int32_t *ints;
    size_t nf, ni;
    float sc[4], *owned = NULL;
    if (M->layers[l].sparse)
      layer_blobs(M, &M->layers[l], &f, &nf, sc, &ints, &ni, assign, chess_buf, &owned);
    else
      f = NULL, ints = NULL, nf = ni = 0;
    uint64_t a = nf, b = ni;
    fwrite(&a, 8, 1, fp);
    if (nf) fwrite(f, sizeof(float), nf, fp);
    fwrite(&b, 8, 1, fp);
    if (ni) fwrite(ints, sizeof(int32_t), ni, fp);
    free(owned);
  }
  int bad = ferror(fp) || !assign || !chess_buf;
  free(assign);
  free(chess_buf);
  if (fclose(fp) != 0 || bad || rename(tmp, path) != 0) {
    unlink(tmp);
    return sw_err_set(err, SW_ERR_IO, "calibration cache: cannot write %s", path);
  }
  return SW_OK;
}

static int rd(FILE *fp, void *p, size_t sz, size_t n) { return fread(p, sz, n, fp) == n; }

/* Restores an MoE layer: the cached split, the router shaped without training, then its best epoch and
 * parameters (moe_blob); the held-out quality stays NAN until sw_calib_router_quality. */
static sw_rc restore_moe(sw_method_t *M, int l, const float *f, size_t nf, const int32_t *ints, size_t ni,
                         sw_err_t *err) {
  sw_method_layer_t *L = &M->layers[l];
  if (ni != (size_t)L->w.d_ff || nf < CALIB_MOE_HEAD)
    return sw_err_set(err, SW_ERR_PARSE, "calibration cache: layer %d assignment or router epoch missing", l);
  float *zero = calloc((size_t)L->w.d_model, sizeof *zero);
  if (!zero) return sw_err_set(err, SW_ERR_NOMEM, "calibration cache: out of memory");
  sw_rc rc = build_moe(M, l, ints, zero, 1, 0, err);
  free(zero);
  if (rc) return rc;
  if (L->router.mlp.n_params != nf - CALIB_MOE_HEAD)
    return sw_err_set(err, SW_ERR_PARSE, "calibration cache: layer %d has %zu parameters, expected %zu", l,
                      nf - CALIB_MOE_HEAD, L->router.mlp.n_params);
  if (L->router.mlp.n_params) memcpy(L->router.mlp.params, f + CALIB_MOE_HEAD, L->router.mlp.n_params * sizeof *f);
  L->rq_best_epoch = f[0];
  return SW_OK;
}

/* Restores one layer from its blobs. */
static sw_rc restore_layer(sw_method_t *M, int l, const float *f, size_t nf, const int32_t *ints, size_t ni,
                           sw_err_t *err) {
  sw_method_layer_t *L = &M->layers[l];
  int d_ff = L->w.d_ff;
  sw_rc rc = SW_OK;
  float *zero = NULL;
  switch (M->cfg.kind) {
    case SW_METHOD_CATS:
    case SW_METHOD_TOPK:
    case SW_METHOD_RANDOM:
    case SW_METHOD_CETT:
    case SW_METHOD_CHESS:
      if (nf != (M->cfg.kind == SW_METHOD_CHESS ? (size_t)d_ff + 2 : 2))
        return sw_err_set(err, SW_ERR_PARSE, "calibration cache: layer %d has %zu values", l, nf);
      rc = sw_policy_init(&L->policy, policy_of(M->cfg.kind), d_ff, M->cfg.seed + (uint64_t)l, err);
      if (rc) return rc;
      L->policy.target = M->cfg.level;
      L->policy.calibrated = 1;
      if (M->cfg.kind == SW_METHOD_CHESS) {
        memcpy(L->policy.chan_thr, f, (size_t)d_ff * sizeof(float));
        L->chess_ta[0] = f[d_ff], L->chess_ta[1] = f[d_ff + 1];
      } else {
        L->policy.threshold = f[0];
        L->policy.k = (int)f[1];
      }
      if (M->cfg.kind == SW_METHOD_CETT) { /* ‖down_i‖₂, recomputed from the weights */
        for (int i = 0; i < d_ff; i++) {
          double s = 0;
          const float *row = (const float *)L->w.down + (size_t)i * L->w.ld_down;
          for (int j = 0; j < L->w.d_model; j++) s += (double)row[j] * row[j];
          L->policy.down_norm[i] = (float)sqrt(s);
        }
      }
      return SW_OK;
    case SW_METHOD_TEAL:
      if (nf != 4) return sw_err_set(err, SW_ERR_PARSE, "calibration cache: layer %d has %zu values", l, nf);
      L->teal_tx = f[0], L->teal_th = f[1], L->teal_ta[0] = f[2], L->teal_ta[1] = f[3];
      return sw_calib_teal_transpose(L, err);
    case SW_METHOD_D2DMOE:
    case SW_METHOD_MOEFICATION:
    case SW_METHOD_LTE:
      return restore_moe(M, l, f, nf, ints, ni, err);
    case SW_METHOD_DEJAVU:
    case SW_METHOD_POWERINFER:
      zero = calloc((size_t)L->w.d_model, sizeof *zero);
      if (!zero) return sw_err_set(err, SW_ERR_NOMEM, "calibration cache: out of memory");
      rc = build_pred(M, l, zero, zero, 1, 0, err);
      free(zero);
      if (rc) return rc;
      if (L->pred.mlp.n_params != nf)
        return sw_err_set(err, SW_ERR_PARSE, "calibration cache: layer %d has %zu parameters, expected %zu", l, nf,
                          L->pred.mlp.n_params);
      memcpy(L->pred.mlp.params, f, nf * sizeof(float));
      if (ni != 1) return sw_err_set(err, SW_ERR_PARSE, "calibration cache: layer %d has no label threshold", l);
      memcpy(&L->pred_label_thr, ints, sizeof(float)); /* the label threshold's float bits, saved as the int blob */
      return SW_OK;
    default: return SW_OK;
  }
}

sw_rc sw_calib_load(sw_method_t *M, const char *dir, const char *key, sw_err_t *err) {
  char path[4096];
  cache_path(path, sizeof path, dir, key);
  FILE *fp = fopen(path, "rb");
  if (!fp) return sw_err_set(err, SW_ERR_NOTFOUND, "calibration cache: no entry %s", path);
  char magic[4];
  uint32_t v = 0, nl = 0;
  uint64_t klen = 0;
  sw_rc rc = SW_OK;
  if (!rd(fp, magic, 1, 4) || memcmp(magic, CALIB_MAGIC, 4) || !rd(fp, &v, 4, 1) || v != CALIB_VERSION ||
      !rd(fp, &klen, 8, 1) || klen != strlen(key)) {
    rc = sw_err_set(err, SW_ERR_PARSE, "calibration cache %s: bad header or version (HINT: delete the file)", path);
  }
  char *k = rc ? NULL : malloc(klen + 1);
  if (!rc && (!k || !rd(fp, k, 1, klen) || memcmp(k, key, klen) || !rd(fp, &nl, 4, 1) || nl != (uint32_t)M->n_layer))
    rc = sw_err_set(err, SW_ERR_PARSE, "calibration cache %s: key or layer count mismatch", path);
  free(k);
  for (int l = 0; !rc && l < M->n_layer; l++) {
    uint64_t nf = 0, ni = 0;
    float *f = NULL;
    int32_t *ints = NULL;
    if (!rd(fp, &nf, 8, 1) || nf > (1u << 26)) rc = SW_ERR_PARSE;
    if (!rc && nf && (!(f = malloc(nf * sizeof *f)) || !rd(fp, f, sizeof *f, nf))) rc = SW_ERR_PARSE;
    if (!rc && (!rd(fp, &ni, 8, 1) || ni > (1u << 26))) rc = SW_ERR_PARSE;
    if (!rc && ni && (!(ints = malloc(ni * sizeof *ints)) || !rd(fp, ints, sizeof *ints, ni))) rc = SW_ERR_PARSE;
    if (rc) {
      sw_err_set(err, SW_ERR_PARSE, "calibration cache %s: layer %d truncated", path, l);
    } else {
      M->layers[l].sparse = M->cfg.layers[l] && M->cfg.kind != SW_METHOD_DENSE;
      if (M->layers[l].sparse) rc = restore_layer(M, l, f, (size_t)nf, ints, (size_t)ni, err);
    }
    free(f);
    free(ints);
  }
  fclose(fp);
  return rc;
}
