/* sw_calib_teal: TEAL's thresholds calibrated sequentially.  A threshold t = F⁻¹(0.5 + s/2) (kernels/sw_policy.h,
 * sw_calib_teal; or the s-quantile of |x|, the default, models/sw_method.h) only gives sparsity s on the
 * distribution it was read from, and every TEAL site but the first
 * sees inputs that upstream thresholds have changed: the down-projection input h = act(x̃W_gate)⊙(x̃W_up) is
 * computed from a sparsified x̃, and a block's input comes out of sparsified blocks.  Calibrated on the dense
 * model's activations, h's threshold overshoots (0.88 achieved for 0.8 on SmolLM2-135M).  So, as TEAL
 * calibrates, block by block and site by site in execution order — q/k/v input, o_proj input, gate/up input x,
 * down input h — each threshold is read from the inputs that site receives with every earlier threshold in
 * force: all calibration windows run through block l with the thresholds chosen so far (those not yet chosen
 * keep everything), the site's inputs are recorded, its threshold set, and the next site follows; h needs no
 * block run (the FFN is per token: h is recomputed from the recorded x masked by t_x).  Finally every window
 * passes block l with all four thresholds, and its output feeds block l + 1.  Cost: four runs of each
 * sparsified block over the calibration tokens (about four dense forward passes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_calib_int.h"
#include "models/sw_teal_alloc.h"

enum { SEQ_NONE = -1, SEQ_X = SW_LLAMA_SITES }; /* recorded site: SW_LLAMA_SITE_QKV, SW_LLAMA_SITE_O, SEQ_X */

typedef struct seq_ctx {
  sw_method_t *M;
  int          site; /* the site being recorded (SEQ_NONE: none) */
  float       *rec;  /* (n_tok, d_model) recorded inputs */
  int          off;  /* token offset of the current window */
  int          d;
} seq_ctx_t;

static sw_rc seq_forward(void *ctx, int l, float *out, const float *x, int n_tok, sw_err_t *err) {
  seq_ctx_t *r = ctx;
  if (r->site == SEQ_X) memcpy(r->rec + (size_t)r->off * r->d, x, (size_t)n_tok * r->d * sizeof(float));
  sw_llama_ffn_t h = sw_method_hook(r->M);
  return h.forward(h.ctx, l, out, x, n_tok, err);
}

static void seq_attn(void *ctx, int l, int site, float *x, int n_tok, int dim) {
  seq_ctx_t *r = ctx;
  sw_llama_ffn_t h = sw_method_hook(r->M);
  h.attn_input(h.ctx, l, site, x, n_tok, dim); /* a threshold not yet chosen (< 0) keeps every input */
  if (site == r->site && dim == r->d) memcpy(r->rec + (size_t)r->off * r->d, x, (size_t)n_tok * dim * sizeof(float));
}

/* Every calibration window through block l from its residual rows in resid (updated when keep). */
static sw_rc seq_block(seq_ctx_t *r, sw_llama_state_t *st, float *resid, const sw_calib_data_t *cd, int l, int keep,
                       sw_err_t *err) {
  sw_llama_ffn_t hook = {.forward = seq_forward, .attn_input = seq_attn, .ctx = r};
  size_t         wbytes = (size_t)cd->window * r->d * sizeof(float);
  for (int off = 0; off + cd->window <= cd->n_tok; off += cd->window) {
    r->off = off;
    memcpy(st->x, resid + (size_t)off * r->d, wbytes);
    st->pos = 0;
    sw_rc rc = sw_llama_forward_layer(r->M->model, st, &hook, l, cd->window, err);
    if (rc) return rc;
    if (keep) memcpy(resid + (size_t)off * r->d, st->x, wbytes);
  }
  return SW_OK;
}

/* The threshold that zeroes a fraction `level` of v (n values) by the configured rule (models/sw_method.h). */
static sw_rc teal_rule(const sw_method_t *M, float *t, const float *v, size_t n, double level, sw_err_t *err) {
  if (M->cfg.teal_signed_cdf) return sw_calib_teal(t, v, n, level, err);
  return sw_calib_abs_quantile(t, v, n, level, err);
}

/* Layer l's per-input levels: the method's level for each (teal_alloc uniform), or TEAL's greedy block-wise
 * allocation read from the layer's dense calibration inputs (teal_alloc greedy, models/sw_teal_alloc.h). */
static sw_rc seq_levels(const sw_method_t *M, const sw_calib_data_t *cd, int l, double lv[SW_TEAL_INPUTS],
                        sw_err_t *err) {
  for (int i = 0; i < SW_TEAL_INPUTS; i++) lv[i] = M->cfg.level;
  if (!M->cfg.teal_greedy) return SW_OK;
  const sw_method_layer_t *L = &M->layers[l];
  size_t nx = (size_t)cd->n_tok * cd->d_model, nh = (size_t)cd->n_tok * L->w.d_ff;
  const float *x = cd->x + (size_t)l * nx, *a = cd->a + (size_t)l * SW_LLAMA_SITES * nx;
  float *g = malloc(nh * sizeof *g), *u = malloc(nh * sizeof *u);
  sw_rc rc = g && u ? sw_calib_layer_acts(g, u, &L->w, x, cd->n_tok, err) : sw_err_set(err, SW_ERR_NOMEM, "teal: out of memory");
  for (size_t k = 0; !rc && k < nh; k++) g[k] *= u[k];
  if (!rc) rc = sw_teal_alloc_levels(M, l, x, a, g, cd->n_tok, lv, err);
  free(g);
  free(u);
  return rc;
}

/* t_h from h computed on the recorded x (overwritten by x̃ = x·1[|x| > t_x]). */
static sw_rc seq_down_threshold(const sw_method_t *M, sw_method_layer_t *L, float *x, int n, double level,
                                sw_err_t *err) {
  size_t nx = (size_t)n * L->w.d_model, nh = (size_t)n * L->w.d_ff;
  for (size_t k = 0; k < nx; k++)
    if (!(fabsf(x[k]) > L->teal_tx)) x[k] = 0.0f;
  float *g = malloc(nh * sizeof *g), *u = malloc(nh * sizeof *u);
  sw_rc  rc = g && u ? sw_calib_layer_acts(g, u, &L->w, x, n, err) : sw_err_set(err, SW_ERR_NOMEM, "teal: out of memory");
  for (size_t k = 0; !rc && k < nh; k++) g[k] *= u[k];
  if (!rc) rc = teal_rule(M, &L->teal_th, g, nh, level, err);
  free(g);
  free(u);
  return rc;
}

/* Layer l's four thresholds, site after site, then its output rows for the next layer. */
static sw_rc seq_layer(seq_ctx_t *r, sw_llama_state_t *st, float *resid, const sw_calib_data_t *cd, int l,
                       sw_err_t *err) {
  sw_method_layer_t *L = &r->M->layers[l];
  size_t             n = (size_t)cd->n_tok * r->d;
  double             lv[SW_TEAL_INPUTS];
  sw_rc              rc = L->gate_t ? SW_OK : sw_calib_teal_transpose(L, err);
  if (!rc) rc = seq_levels(r->M, cd, l, lv, err);
  for (int site = 0; !rc && site < SW_LLAMA_SITES; site++) {
    r->site = site;
    rc = seq_block(r, st, resid, cd, l, 0, err);
    if (!rc) rc = teal_rule(r->M, &L->teal_ta[site], r->rec, n, lv[SW_TEAL_IN_QKV + site], err);
  }
  r->site = SEQ_X;
  if (!rc) rc = seq_block(r, st, resid, cd, l, 0, err);
  if (!rc) rc = teal_rule(r->M, &L->teal_tx, r->rec, n, lv[SW_TEAL_IN_FFN], err);
  if (!rc) rc = seq_down_threshold(r->M, L, r->rec, cd->n_tok, lv[SW_TEAL_IN_DOWN], err);
  r->site = SEQ_NONE;
  return rc ? rc : seq_block(r, st, resid, cd, l, 1, err);
}

/* Level 0: both threshold rules give -1 (keep everything) for every site whatever its inputs, so the block runs are
 * skipped; only the layout the TEAL kernels read is prepared. */
static sw_rc teal_keep_all(sw_method_t *M, sw_err_t *err) {
  for (int l = 0; l < M->n_layer; l++) {
    sw_method_layer_t *L = &M->layers[l];
    if (!L->sparse) continue;
    sw_rc rc = L->gate_t ? SW_OK : sw_calib_teal_transpose(L, err);
    if (rc) return rc;
    for (int site = 0; site < SW_LLAMA_SITES; site++) L->teal_ta[site] = -1.0f;
    L->teal_tx = L->teal_th = -1.0f;
  }
  return SW_OK;
}

sw_rc sw_calib_teal_sequential(sw_method_t *M, const sw_calib_data_t *cd, sw_err_t *err) {
  if (M->cfg.level == 0.0) return teal_keep_all(M, err);
  const sw_llama_t *m = M->model;
  int               d = m->cfg.d_model;
  if (!cd->tokens || cd->window < 1 || cd->n_tok < cd->window)
    return sw_err_set(err, SW_ERR_INVALID, "teal: sequential calibration needs the calibration tokens");
  if (m->cfg.n_head * m->cfg.head_dim != d)
    return sw_err_set(err, SW_ERR_INVALID, "teal: o_proj input width %d differs from d_model %d",
                      m->cfg.n_head * m->cfg.head_dim, d);
  seq_ctx_t r = {.M = M, .site = SEQ_NONE, .d = d};
  float    *resid = malloc((size_t)cd->n_tok * d * sizeof *resid);
  r.rec = malloc((size_t)cd->n_tok * d * sizeof *r.rec);
  sw_llama_state_t st = {0};
  sw_rc rc = resid && r.rec ? sw_llama_state_init(&st, m, cd->window, cd->window, err)
                            : sw_err_set(err, SW_ERR_NOMEM, "teal: out of memory for %d calibration tokens", cd->n_tok);
  for (int t = 0; !rc && t < cd->n_tok; t++)
    memcpy(resid + (size_t)t * d, m->w.token_embd + (size_t)cd->tokens[t] * d, (size_t)d * sizeof *resid);
  for (int l = 0; !rc && l < M->n_layer; l++) {
    rc = M->layers[l].sparse ? seq_layer(&r, &st, resid, cd, l, err) : seq_block(&r, &st, resid, cd, l, 1, err);
    if (rc) sw_err_prefix(err, "calibrating teal layer %d", l);
  }
  if (st.x) sw_llama_state_free(&st);
  free(resid);
  free(r.rec);
  sw_method_reset_stats(M); /* the calibration runs are not part of any result */
  return rc;
}
