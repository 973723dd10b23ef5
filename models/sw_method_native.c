/* sw_method_native: the FFN of a method on the model's native (file-quantised) weights, for layers where the
 * method selects neurons from the gate alone (CATS, CHESS) and for the layers it leaves dense.  Per token:
 * the input is quantised to 8-bit blocks; the gate runs over every row (kernels/sw_quant.h sw_qgemm); the
 * policy selects neurons from act(gate); only the selected up rows are read (gathered dots, rows of the
 * file's GGUF layout: a neuron's up row is contiguous), and down accumulates the selected neurons' rows of
 * the neuron-major Q8_0 copy (models/sw_llama_native.c).  TEAL masks the gate/up input and the down input
 * with its thresholds and runs the dense native kernels: a 32-element block is skippable only when all 32
 * inputs are zero, probability s^32 for independent zeros (2e-10 at s = 0.5), so on block-quantised
 * weights TEAL's input sparsity saves no weight reads and its native latency is the dense one.  Other methods
 * keep their f32 kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_flops.h"
#include "models/sw_llama_native.h"
#include "models/sw_method.h"
#include "models/sw_method_native.h"

sw_rc sw_method_native(sw_method_t *M, sw_isa_t isa, sw_err_t *err) {
  const sw_llama_config_t *c = &M->model->cfg;
  sw_rc rc = sw_isa_resolve(isa, &M->native_isa, err);
  if (rc) return rc;
  free(M->xq);
  M->xq = malloc((size_t)M->max_tok * (size_t)(c->d_ff / SW_QBLOCK + 1) * sizeof *M->xq);
  if (!M->xq) return sw_err_set(err, SW_ERR_NOMEM, "method: out of memory for native scratch");
  M->native = 1;
  return SW_OK;
}

static const sw_qmat_t *qmat(const sw_method_t *M, sw_llama_family_t fam, int l) {
  const sw_qmat_t *q = &M->model->q.mats[(size_t)fam * M->n_layer + l];
  return q->data ? q : NULL;
}

int sw_method_native_layer(const sw_method_t *M, int l, int sparse) {
  if (!M->native || !M->model->q.mats || !qmat(M, SW_LF_FFN_GATE, l) || !qmat(M, SW_LF_FFN_UP, l)) return 0;
  if (!sparse || M->cfg.kind == SW_METHOD_TEAL) return qmat(M, SW_LF_FFN_DOWN, l) != NULL;
  const sw_policy_t *p = &M->layers[l].policy;
  int gate_only = (M->cfg.kind == SW_METHOD_CATS || M->cfg.kind == SW_METHOD_CHESS) && !sw_policy_needs_h(p);
  return gate_only && M->model->q.down_t && M->model->q.down_t[l].data;
}

/* Gate over every row for n_tok quantised tokens, then the method's activation: gact (n_tok, d_ff). */
static void native_gate(sw_method_t *M, int l, float *gact, const float *x, int n_tok) {
  const sw_method_layer_t *L = &M->layers[l];
  int d = L->w.d_model, nb = d / SW_QBLOCK;
  sw_qctx_t ctx = {M->native_isa, NULL};
  for (int t = 0; t < n_tok; t++) sw_q8a_quantize(M->xq + (size_t)t * nb, x + (size_t)t * d, d);
  sw_qgemm(&ctx, gact, M->xq, qmat(M, SW_LF_FFN_GATE, l), n_tok, 0);
}

static void native_dense(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  const sw_method_layer_t *L = &M->layers[l];
  int d = L->w.d_model, f = L->w.d_ff;
  float *g = M->scratch, *u = g + (size_t)n_tok * f;
  sw_qctx_t ctx = {M->native_isa, NULL};
  native_gate(M, l, g, x, n_tok);
  sw_qgemm(&ctx, u, M->xq, qmat(M, SW_LF_FFN_UP, l), n_tok, 0);
  sw_act_apply_gated(g, g, u, L->w.act, L->w.act_param, (size_t)n_tok * f);
  for (int t = 0; t < n_tok; t++) sw_q8a_quantize(M->xq + (size_t)t * (f / SW_QBLOCK), g + (size_t)t * f, f);
  sw_qgemm(&ctx, out, M->xq, qmat(M, SW_LF_FFN_DOWN, l), n_tok, 0);
  memset(st, 0, sizeof *st);
  st->flops = st->flops_dense = sw_flops_ffn_dense(d, f, 1, n_tok);
  st->neurons_executed = st->neurons_total = (int64_t)n_tok * f;
  st->rows_read = f;
  st->tokens = n_tok;
  st->calls = 1;
}

/* Selected neurons of token t: up rows gathered, h = act(gate) * up, down rows accumulated. */
static void native_sparse_token(sw_method_t *M, int l, float *out, const float *gact, const int32_t *sel, int n,
                                const sw_q8a_t *xq) {
  int d = M->layers[l].w.d_model;
  float *h = M->scratch + (size_t)M->max_tok * M->layers[l].w.d_ff; /* after gact */
  sw_qdot_rows(M->native_isa, qmat(M, SW_LF_FFN_UP, l), sel, n, xq, h);
  for (int k = 0; k < n; k++) h[k] *= gact[sel[k]];
  memset(out, 0, (size_t)d * sizeof *out);
  sw_q8_axpy_rows(M->native_isa, out, &M->model->q.down_t[l], sel, h, n);
}

static sw_rc native_sparse(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  sw_method_layer_t *L = &M->layers[l];
  int d = L->w.d_model, f = L->w.d_ff, nb = d / SW_QBLOCK;
  float *gact = M->scratch;
  native_gate(M, l, gact, x, n_tok);
  sw_act_apply(gact, gact, L->w.act, L->w.act_param, (size_t)n_tok * f);
  sw_rc rc = sw_policy_select(&M->mask, &L->policy, gact, NULL, M->nonce, &M->work, n_tok);
  if (rc) return rc;
  for (int t = 0; t < n_tok; t++) {
    int64_t o = M->mask.off[t];
    native_sparse_token(M, l, out + (size_t)t * d, gact + (size_t)t * f, M->mask.idx + o, (int)(M->mask.off[t + 1] - o),
                        M->xq + (size_t)t * nb);
  }
  int64_t n_exec = M->mask.off[n_tok];
  memset(st, 0, sizeof *st);
  st->flops_select = sw_flops_linear(d, f, n_tok);
  st->flops = st->flops_select + (4.0 * d + 1.0) * (double)n_exec;
  st->flops_dense = sw_flops_ffn_dense(d, f, 1, n_tok);
  st->neurons_executed = n_exec;
  st->neurons_total = (int64_t)n_tok * f;
  st->rows_read = n_tok == 1 ? n_exec : f; /* batches: an upper bound (the union is not tracked here) */
  st->tokens = n_tok;
  st->calls = 1;
  return SW_OK;
}

/* v (n_tok, n) := v * 1[|v| > t] per element; returns the zeroed fraction summed over tokens. */
static double teal_mask(float *dst, const float *v, float t, int n_tok, int n) {
  double zero_frac = 0;
  for (int k = 0; k < n_tok; k++) {
    int zero = 0;
    for (int j = 0; j < n; j++) {
      float a = v[(size_t)k * n + j];
      int keep = fabsf(a) > t;
      dst[(size_t)k * n + j] = keep ? a : 0.0f;
      zero += !keep;
    }
    zero_frac += (double)zero / n;
  }
  return zero_frac;
}

/* TEAL on native weights: masked inputs through the dense native kernels (see the header comment). */
static void native_teal(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  sw_method_layer_t *L = &M->layers[l];
  int d = L->w.d_model, f = L->w.d_ff;
  float *g = M->scratch, *u = g + (size_t)n_tok * f, *xm = u + (size_t)n_tok * f;
  sw_qctx_t ctx = {M->native_isa, NULL};
  double sx = teal_mask(xm, x, L->teal_tx, n_tok, d);
  native_gate(M, l, g, xm, n_tok);
  sw_qgemm(&ctx, u, M->xq, qmat(M, SW_LF_FFN_UP, l), n_tok, 0);
  sw_act_apply_gated(g, g, u, L->w.act, L->w.act_param, (size_t)n_tok * f);
  double sh = teal_mask(g, g, L->teal_th, n_tok, f);
  for (int t = 0; t < n_tok; t++) sw_q8a_quantize(M->xq + (size_t)t * (f / SW_QBLOCK), g + (size_t)t * f, f);
  sw_qgemm(&ctx, out, M->xq, qmat(M, SW_LF_FFN_DOWN, l), n_tok, 0);
  L->teal_sx_sum += sx;
  L->teal_sh_sum += sh;
  memset(st, 0, sizeof *st);
  st->flops_dense = sw_flops_ffn_dense(d, f, 1, n_tok);
  st->flops = 2.0 * 2.0 * (n_tok * d - sx * d) * f + (double)n_tok * f + 2.0 * (n_tok * f - sh * f) * d;
  st->neurons_executed = (int64_t)llround(n_tok * f - sh * f);
  st->neurons_total = (int64_t)n_tok * f;
  st->rows_read = f;
  st->tokens = n_tok;
  st->calls = 1;
}

sw_rc sw_method_native_forward(sw_method_t *M, int l, float *out, const float *x, int n_tok, int sparse,
                               sw_ffn_stats_t *st) {
  if (!sparse) {
    native_dense(M, l, out, x, n_tok, st);
    return SW_OK;
  }
  if (M->cfg.kind == SW_METHOD_TEAL) {
    native_teal(M, l, out, x, n_tok, st);
    return SW_OK;
  }
  return native_sparse(M, l, out, x, n_tok, st);
}
