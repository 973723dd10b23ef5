/* sw_wffn: weight-sparse FFN hook (see models/sw_wffn.h). */
#include "models/sw_wffn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static sw_rc wffn_topk(sw_wffn_t *f, double s, sw_err_t *err) {
  if (s <= 0.0) return sw_policy_init(&f->topk, SW_POLICY_DENSE, f->d_ff, 1, err);
  sw_rc rc = sw_policy_init(&f->topk, SW_POLICY_TOPK, f->d_ff, 1, err);
  if (!rc) rc = sw_mask_alloc(&f->mask, f->d_ff, 1, err);
  if (!rc) rc = sw_ffn_work_alloc(&f->work, f->d_model, f->d_ff, 1, 1, err);
  if (rc) return rc;
  f->topk.target = s;
  f->topk.k = (int)lround((1.0 - s) * f->d_ff);
  f->topk.calibrated = 1;
  return SW_OK;
}

/* Grows g, u, h and the SpMM scratch to n_tok tokens (-1: out of memory, the old buffers kept). */
static int wffn_reserve(sw_wffn_t *f, int n_tok) {
  if (n_tok <= f->cap_tok) return 0;
  const sw_csr_t shape = {.rows = f->d_ff, .cols = f->d_model}; /* gate/up; down_rows is its transpose: same size */
  const size_t   n = (size_t)n_tok * f->d_ff;
  float *g = malloc(n * sizeof *g), *u = malloc(n * sizeof *u), *h = malloc(n * sizeof *h);
  float *sc = malloc(sw_spmm_scratch_floats(&shape, n_tok) * sizeof *sc);
  if (!g || !u || !h || !sc) return free(g), free(u), free(h), free(sc), -1;
  free(f->g), free(f->u), free(f->h), free(f->scratch);
  f->g = g, f->u = u, f->h = h, f->scratch = sc, f->cap_tok = n_tok;
  return 0;
}

sw_rc sw_wffn_init(sw_wffn_t *f, const sw_llama_t *m, double act_sparsity, sw_err_t *err) {
  memset(f, 0, sizeof *f);
  const int L = m->cfg.n_layer, d = m->cfg.d_model, ff = m->cfg.d_ff;
  f->n_layer = L, f->d_model = d, f->d_ff = ff;
  sw_rc rc = sw_wsparse_ctx_init(&f->ctx, SW_ISA_AUTO, err);
  if (rc) return rc;
  f->gate = calloc((size_t)L, sizeof *f->gate), f->up = calloc((size_t)L, sizeof *f->up);
  f->down = calloc((size_t)L, sizeof *f->down);
  f->all = malloc((size_t)ff * sizeof(int32_t));
  f->down_rows = calloc((size_t)L, sizeof *f->down_rows);
  if (!f->gate || !f->up || !f->down || !f->down_rows || !f->all || wffn_reserve(f, 1))
    return sw_wffn_free(f), sw_err_set(err, SW_ERR_NOMEM, "weight-sparse FFN: out of memory");
  for (int i = 0; i < ff; i++) f->all[i] = i;
  for (int l = 0; l < L && !rc; l++) {
    size_t off = (size_t)l * ff * d;
    rc = sw_csr_from_dense(&f->gate[l], m->w.w_gate + off, ff, d, (size_t)d, err);
    if (!rc) rc = sw_csr_from_dense(&f->up[l], m->w.w_up + off, ff, d, (size_t)d, err);
    if (!rc) rc = sw_csr_from_dense(&f->down[l], m->w.w_down_t + off, ff, d, (size_t)d, err);
    if (!rc) rc = sw_csc_from_dense(&f->down_rows[l], m->w.w_down_t + off, ff, d, (size_t)d, err);
  }
  if (!rc) rc = wffn_topk(f, act_sparsity, err);
  if (rc) sw_wffn_free(f);
  return rc;
}

void sw_wffn_free(sw_wffn_t *f) {
  for (int l = 0; l < f->n_layer; l++) {
    if (f->gate) sw_csr_free(&f->gate[l]);
    if (f->up) sw_csr_free(&f->up[l]);
    if (f->down) sw_csr_free(&f->down[l]);
    if (f->down_rows) sw_csr_free(&f->down_rows[l]);
  }
  free(f->gate), free(f->up), free(f->down), free(f->down_rows), free(f->g), free(f->u), free(f->h), free(f->all);
  free(f->scratch);
  sw_policy_free(&f->topk);
  sw_mask_free(&f->mask);
  if (f->work.f || f->work.i32) sw_ffn_work_free(&f->work);
  memset(f, 0, sizeof *f);
}

/* h[i] = SiLU(g[i]) · u[i] for n values. */
static void wffn_swiglu(float *h, const float *g, const float *u, size_t n) {
  for (size_t i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* Token t's h row (g, u, h hold n tokens) reduced to its active neurons: with top-k, the others set to zero;
 * act / n_act receive the active indices (every neuron without top-k). */
static sw_rc wffn_select(sw_wffn_t *f, int l, int t, const int32_t **act, int *n_act, sw_err_t *err) {
  float *h = f->h + (size_t)t * f->d_ff;
  *act = f->all, *n_act = f->d_ff;
  if (f->topk.kind != SW_POLICY_TOPK) return SW_OK;
  sw_rc rc = sw_policy_select(&f->mask, &f->topk, h, h, 0, &f->work, 1);
  if (rc) return sw_err_set(err, rc, "weight-sparse FFN: top-k selection failed in layer %d", l);
  *act = f->mask.idx, *n_act = (int)f->mask.off[1];
  return SW_OK;
}

/* h of token t with every neuron outside act[0..n_act) set to zero (act in any order). */
static void wffn_zero_inactive(sw_wffn_t *f, int t, const int32_t *act, int n_act) {
  float *h = f->h + (size_t)t * f->d_ff, *keep = f->g + (size_t)t * f->d_ff; /* g of token t is spent */
  for (int k = 0; k < n_act; k++) keep[act[k]] = h[act[k]];
  memset(h, 0, (size_t)f->d_ff * sizeof *h);
  for (int k = 0; k < n_act; k++) h[act[k]] = keep[act[k]];
}

/* One token: out (d_model) = W_down · (SiLU(W_gate x) ⊙ W_up x) over the selected neurons, as spMspV over them
 * under top-k.  With every neuron active, down is a CSR SpMV of W_down instead: the same bytes, read by the
 * streaming SpMV body (cold /ideal about 0.9 on Zen 5) rather than the scalar scatter of spMspV (about 0.5),
 * README.md, "On an AVX-512 node". */
static sw_rc wffn_token(sw_wffn_t *f, int l, float *out, const float *x, sw_err_t *err) {
  sw_ffn_stats_t st;
  sw_spmv_csr(&f->ctx, f->g, &f->gate[l], x, &st);
  sw_ffn_stats_add(&f->stats, &st);
  sw_spmv_csr(&f->ctx, f->u, &f->up[l], x, &st);
  sw_ffn_stats_add(&f->stats, &st);
  wffn_swiglu(f->h, f->g, f->u, (size_t)f->d_ff);
  if (f->topk.kind != SW_POLICY_TOPK) {
    sw_spmv_csr(&f->ctx, out, &f->down_rows[l], f->h, &st);
    sw_ffn_stats_add(&f->stats, &st);
    return SW_OK;
  }
  const int32_t *act;
  int            n_act;
  sw_rc          rc = wffn_select(f, l, 0, &act, &n_act, err);
  if (rc) return rc;
  sw_spmspv_csc(&f->ctx, out, &f->down[l], f->h, act, n_act, &st);
  sw_ffn_stats_add(&f->stats, &st);
  return SW_OK;
}

/* n_tok tokens: gate, up and down as SpMM, one read of each weight for the whole batch.  With top-k, each token's
 * inactive neurons are zeroed in h first: the union of the tokens' selections covers nearly every neuron
 * (1 - s^n_tok of them), so per-token spMspV would read nearly all of W_down once per token instead of once. */
static sw_rc wffn_batch(sw_wffn_t *f, int l, float *out, const float *x, int n_tok, sw_err_t *err) {
  if (wffn_reserve(f, n_tok))
    return sw_err_set(err, SW_ERR_NOMEM, "weight-sparse FFN: out of memory for %d tokens", n_tok);
  sw_ffn_stats_t st;
  sw_spmm_csr(&f->ctx, f->g, &f->gate[l], x, n_tok, f->scratch, &st);
  sw_ffn_stats_add(&f->stats, &st);
  sw_spmm_csr(&f->ctx, f->u, &f->up[l], x, n_tok, f->scratch, &st);
  sw_ffn_stats_add(&f->stats, &st);
  wffn_swiglu(f->h, f->g, f->u, (size_t)n_tok * f->d_ff);
  for (int t = 0; t < n_tok && f->topk.kind == SW_POLICY_TOPK; t++) {
    const int32_t *act;
    int            n_act;
    sw_rc          rc = wffn_select(f, l, t, &act, &n_act, err);
    if (rc) return rc;
    wffn_zero_inactive(f, t, act, n_act);
  }
  sw_spmm_csr(&f->ctx, out, &f->down_rows[l], f->h, n_tok, f->scratch, &st);
  sw_ffn_stats_add(&f->stats, &st);
  return SW_OK;
}

static sw_rc wffn_forward(void *ctx, int layer, float *out, const float *x, int n_tok, sw_err_t *err) {
  sw_wffn_t *f = ctx;
  return n_tok == 1 ? wffn_token(f, layer, out, x, err) : wffn_batch(f, layer, out, x, n_tok, err);
}

sw_llama_ffn_t sw_wffn_hook(sw_wffn_t *f) {
  sw_llama_ffn_t h = {wffn_forward, NULL, f, NULL};
  return h;
}
