/* sw_method_native: the FFN of every method on the model's native (file-quantised) weights.  Per call the
 * input is quantised to 8-bit blocks once; what is read depends on how the method selects neurons:
 *   - CATS, CHESS (act(gate) alone decides): the gate over every row (sw_qgemm), the policy, then only the
 *     selected up rows (gathered dots on the file's rows: a neuron's up row is contiguous) and down rows;
 *   - top-k, CETT (they rank h = act(gate)·up): gate and up over every row, then only the selected down rows;
 *   - random, Deja Vu and PowerInfer (predictor on the f32 input), the MoE methods (router on the f32 input, experts expanded
 *     to their neurons): only the selected neurons' gate, up and down rows.
 * Down rows come from the neuron-major Q8_0 copy built once at load (models/sw_llama_native.c).  TEAL masks
 * the gate/up input and runs the dense native gate/up (a 32-element block is skippable only when all 32
 * inputs are zero, probability s^32 for independent zeros: 2e-10 at s = 0.5), then reads only the down rows of
 * the neurons whose |h| passes its threshold.  Kernels run on the bound state's pool (sw_method_native_bind). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_flops.h"
#include "models/sw_llama_native.h"
#include "models/sw_method.h"
#include "models/sw_method_native.h"

sw_rc sw_method_native(sw_method_t *M, sw_isa_t isa, sw_err_t *err) {
  const sw_llama_config_t *c = &M->model->cfg;
  sw_rc rc = sw_isa_resolve(isa, &M->nctx.isa, err);
  if (rc) return rc;
  free(M->xq);
  free(M->native_tmp);
  free(M->xq_down);
  M->xq = malloc((size_t)M->max_tok * (size_t)(c->d_ff / SW_QBLOCK + 1) * sizeof *M->xq);
  M->native_tmp = malloc(3 * (size_t)c->d_ff * sizeof *M->native_tmp);
  M->xq_down = malloc((size_t)(c->d_ff / SW_QBLOCK + 1) * sizeof *M->xq_down);
  if (!M->xq || !M->native_tmp || !M->xq_down) return sw_err_set(err, SW_ERR_NOMEM, "method: out of memory for native scratch");
  M->native = 1;
  return SW_OK;
}

void sw_method_native_bind(sw_method_t *M, const sw_llama_state_t *s) { M->nctx.pool = s ? s->qctx.pool : NULL; }

static const sw_qmat_t *qmat(const sw_method_t *M, sw_llama_family_t fam, int l) {
  const sw_qmat_t *q = &M->model->q.mats[(size_t)fam * M->n_layer + l];
  return q->data ? q : NULL;
}

int sw_method_native_layer(const sw_method_t *M, int l, int sparse) {
  if (!M->native || !M->model->q.mats || !qmat(M, SW_LF_FFN_GATE, l) || !qmat(M, SW_LF_FFN_UP, l) ||
      !qmat(M, SW_LF_FFN_DOWN, l))
    return 0;
  return !sparse || (M->model->q.down_t && M->model->q.down_t[l].data);
}

/* Quantises n_tok rows of n floats into M->xq. */
static void quantize_rows(sw_method_t *M, const float *x, int n_tok, int n) {
  for (int t = 0; t < n_tok; t++) sw_q8a_quantize(M->xq + (size_t)t * (n / SW_QBLOCK), x + (size_t)t * n, n);
}

/* g = gate(x), and u = up(x) when u is not NULL, over every row for n_tok tokens (x quantised into M->xq). */
static void native_gate_up(sw_method_t *M, int l, float *g, float *u, const float *x, int n_tok) {
  quantize_rows(M, x, n_tok, M->layers[l].w.d_model);
  sw_qgemm(&M->nctx, g, M->xq, qmat(M, SW_LF_FFN_GATE, l), n_tok, 0);
  if (u) sw_qgemm(&M->nctx, u, M->xq, qmat(M, SW_LF_FFN_UP, l), n_tok, 0);
}

/* The common counters of a call: tokens, neurons, dense FLOPs. */
static void stats_begin(sw_ffn_stats_t *st, const sw_method_layer_t *L, int n_tok) {
  memset(st, 0, sizeof *st);
  st->flops_dense = sw_flops_ffn_dense(L->w.d_model, L->w.d_ff, 1, n_tok);
  st->neurons_total = (int64_t)n_tok * L->w.d_ff;
  st->tokens = n_tok;
  st->calls = 1;
}

static void native_dense(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  const sw_method_layer_t *L = &M->layers[l];
  int f = L->w.d_ff;
  float *g = M->scratch, *u = g + (size_t)n_tok * f;
  native_gate_up(M, l, g, u, x, n_tok);
  sw_act_apply_gated(g, g, u, L->w.act, L->w.act_param, (size_t)n_tok * f);
  quantize_rows(M, g, n_tok, f);
  sw_qgemm(&M->nctx, out, M->xq, qmat(M, SW_LF_FFN_DOWN, l), n_tok, 0);
  stats_begin(st, L, n_tok);
  st->flops = st->flops_dense;
  st->neurons_executed = st->neurons_total;
  st->rows_read = f;
}

/* Bytes for bytes, reading the selected rows of the neuron-major Q8_0 down copy took 2.2x as long as streaming
 * the packed dense down (6.7 vs 14.6 GB/s from DRAM, one thread, AMD Zen 3; kernels/sw_quant.c gathered axpy vs
 * kernels/sw_qpack.c), and a Q8_0 row is 1.7x the bytes of the file's Q4 column of the same neuron: above
 * about a quarter of the neurons, the masked dense down is the faster kernel. */
#define SW_NATIVE_GATHER_COST 2.2

/* 1 when the selected neurons' down runs as the masked dense GEMV (see sw_native_down_t). */
static int down_masked(const sw_method_t *M, int l, int n) {
  const sw_qmat_t *D = qmat(M, SW_LF_FFN_DOWN, l), *T = &M->model->q.down_t[l];
  if (M->native_down != SW_NATIVE_DOWN_AUTO) return M->native_down == SW_NATIVE_DOWN_MASKED;
  return SW_NATIVE_GATHER_COST * (double)n * (double)T->row_bytes > (double)D->rows * (double)D->row_bytes;
}

/* out = sum over the n selected neurons of coef[k] * down column sel[k]: the gathered rows of the neuron-major
 * Q8_0 copy, or the file's blocks on the masked h (quantised like every native projection input). */
static void down_rows(sw_method_t *M, int l, float *out, const int32_t *sel, const float *coef, int n) {
  int f = M->layers[l].w.d_ff;
  if (down_masked(M, l, n)) {
    float *h = M->native_tmp + 2 * (size_t)f;
    memset(h, 0, (size_t)f * sizeof *h);
    for (int k = 0; k < n; k++) h[sel[k]] = coef[k];
    sw_q8a_quantize(M->xq_down, h, f);
    sw_qgemm(&M->nctx, out, M->xq_down, qmat(M, SW_LF_FFN_DOWN, l), 1, 0);
    return;
  }
  memset(out, 0, (size_t)M->layers[l].w.d_model * sizeof *out);
  sw_q8_axpy_rows_ctx(&M->nctx, out, &M->model->q.down_t[l], sel, coef, n);
}

/* One token's selected neurons from scratch: gate and up rows gathered, h = act(gate)·up, down rows. */
static void gathered_token(sw_method_t *M, int l, float *out, const int32_t *sel, int n, const sw_q8a_t *xq) {
  const sw_method_layer_t *L = &M->layers[l];
  float *g = M->native_tmp, *u = g + L->w.d_ff;
  sw_qdot_rows_ctx(&M->nctx, qmat(M, SW_LF_FFN_GATE, l), sel, n, xq, g);
  sw_qdot_rows_ctx(&M->nctx, qmat(M, SW_LF_FFN_UP, l), sel, n, xq, u);
  sw_act_apply_gated(g, g, u, L->w.act, L->w.act_param, (size_t)n);
  down_rows(M, l, out, sel, g, n);
}

/* One token's selected neurons given act(gate) of every neuron: up rows gathered, then down rows. */
static void gate_selected_token(sw_method_t *M, int l, float *out, const float *gact, const int32_t *sel, int n,
                                const sw_q8a_t *xq) {
  float *h = M->native_tmp;
  sw_qdot_rows_ctx(&M->nctx, qmat(M, SW_LF_FFN_UP, l), sel, n, xq, h);
  for (int k = 0; k < n; k++) h[k] *= gact[sel[k]];
  down_rows(M, l, out, sel, h, n);
}

/* One token's selected neurons given h of every neuron: only the down rows. */
static void h_selected_token(sw_method_t *M, int l, float *out, const float *h, const int32_t *sel, int n) {
  float *coef = M->native_tmp;
  for (int k = 0; k < n; k++) coef[k] = h[sel[k]];
  down_rows(M, l, out, sel, coef, n);
}

typedef enum { READ_GATHERED, READ_GATE, READ_GATE_UP } read_kind_t;

/* Runs the neurons of M->mask for every token, reading what `kind` says was not read yet. */
static void masked_tokens(sw_method_t *M, int l, float *out, const float *dense_v, int n_tok, read_kind_t kind,
                          sw_ffn_stats_t *st) {
  const sw_method_layer_t *L = &M->layers[l];
  int d = L->w.d_model, f = L->w.d_ff, nb = d / SW_QBLOCK;
  for (int t = 0; t < n_tok; t++) {
    int64_t o = M->mask.off[t];
    int n = (int)(M->mask.off[t + 1] - o);
    const int32_t *sel = M->mask.idx + o;
    float *ot = out + (size_t)t * d;
    if (kind == READ_GATHERED) gathered_token(M, l, ot, sel, n, M->xq + (size_t)t * nb);
    else if (kind == READ_GATE) gate_selected_token(M, l, ot, dense_v + (size_t)t * f, sel, n, M->xq + (size_t)t * nb);
    else h_selected_token(M, l, ot, dense_v + (size_t)t * f, sel, n);
  }
  int64_t n_exec = M->mask.off[n_tok];
  double per_neuron = kind == READ_GATHERED ? 6.0 * d + 1 : kind == READ_GATE ? 4.0 * d + 1 : 2.0 * d;
  st->flops += per_neuron * (double)n_exec;
  st->neurons_executed = n_exec;
  st->rows_read = n_tok == 1 ? n_exec : f; /* batches: an upper bound (the union is not tracked here) */
}

/* The neuron policies (top-k, CATS, CHESS, CETT, random). */
static sw_rc native_policy(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  sw_method_layer_t *L = &M->layers[l];
  int d = L->w.d_model, f = L->w.d_ff;
  float *g = M->scratch, *u = g + (size_t)n_tok * f;
  int needs_h = sw_policy_needs_h(&L->policy), random = L->policy.kind == SW_POLICY_RANDOM;
  stats_begin(st, L, n_tok);
  if (random) quantize_rows(M, x, n_tok, d);
  else native_gate_up(M, l, g, needs_h ? u : NULL, x, n_tok);
  if (needs_h) sw_act_apply_gated(u, g, u, L->w.act, L->w.act_param, (size_t)n_tok * f);
  else if (!random) sw_act_apply(g, g, L->w.act, L->w.act_param, (size_t)n_tok * f);
  sw_rc rc = sw_policy_select(&M->mask, &L->policy, random ? NULL : g, needs_h ? u : NULL, M->nonce, &M->work, n_tok);
  if (rc) return rc;
  /* the gated product act(gate)·up of every neuron is computed to select too (as the f32 policy path counts) */
  st->flops_select = random ? 0 : sw_flops_linear(d, f, n_tok) * (needs_h ? 2 : 1) + (needs_h ? (double)n_tok * f : 0);
  st->flops = st->flops_select;
  masked_tokens(M, l, out, needs_h ? u : g, n_tok, random ? READ_GATHERED : needs_h ? READ_GATE_UP : READ_GATE, st);
  return SW_OK;
}

/* The MoE methods: the router on the f32 input picks experts, whose neurons run gathered. */
static sw_rc native_moe(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  sw_method_layer_t *L = &M->layers[l];
  const sw_moe_t *moe = &L->moe;
  int E = moe->n_expert, es = moe->expert_size, k = (int)llround((1.0 - M->cfg.level) * E);
  double tau = M->cfg.kind == SW_METHOD_LTE ? SW_MOE_LTE_TAU : M->cfg.level;
  sw_rc rc = sw_moe_route(&M->emask, x, moe, &L->router, M->cfg.moe_select, k < 1 ? 1 : k, tau, &M->moe_work, n_tok);
  if (rc) return rc;
  M->mask.n_tok = n_tok; /* expand each token's experts to their neurons */
  for (int t = 0; t < n_tok; t++) {
    int64_t n = M->mask.off[t];
    for (int64_t j = M->emask.off[t]; j < M->emask.off[t + 1]; j++)
      for (int r = 0; r < es; r++) M->mask.idx[n++] = (int32_t)moe->perm[(size_t)M->emask.idx[j] * es + r];
    M->mask.off[t + 1] = n;
  }
  stats_begin(st, L, n_tok);
  st->flops_select = st->flops = sw_moe_router_flops(&L->router, moe) * n_tok;
  quantize_rows(M, x, n_tok, L->w.d_model);
  masked_tokens(M, l, out, NULL, n_tok, READ_GATHERED, st);
  st->experts_executed = M->emask.off[n_tok];
  st->experts_total = (int64_t)n_tok * E;
  return SW_OK;
}

/* Deja Vu / PowerInfer: the predictor on the f32 input (or layer l-1's under lookahead) picks the neurons, which
 * run gathered. */
static sw_rc native_predictor(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  sw_method_layer_t *L = &M->layers[l];
  const float *xp;
  double thr;
  int k;
  sw_method_predictor_rule(M, l, x, &xp, &thr, &k);
  sw_rc rc = sw_predictor_select(&M->mask, &L->pred, xp, thr, k, &M->pred_work, n_tok);
  if (rc) return rc;
  stats_begin(st, L, n_tok);
  st->flops_select = st->flops = sw_predictor_flops(&L->pred) * n_tok;
  quantize_rows(M, x, n_tok, L->w.d_model);
  masked_tokens(M, l, out, NULL, n_tok, READ_GATHERED, st);
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

/* M->mask := per token the neurons with |h| > t (h: n_tok x f). */
static void mask_above(sw_method_t *M, const float *h, float t, int n_tok, int f) {
  M->mask.n_tok = n_tok;
  for (int k = 0; k < n_tok; k++) {
    int64_t n = M->mask.off[k];
    for (int i = 0; i < f; i++)
      if (fabsf(h[(size_t)k * f + i]) > t) M->mask.idx[n++] = i;
    M->mask.off[k + 1] = n;
  }
}

/* TEAL: masked input through the dense native gate/up, then the down rows of the kept |h| (see the header);
 * with no h threshold (every h kept) the dense down on the file's blocks. */
static void native_teal(sw_method_t *M, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st) {
  sw_method_layer_t *L = &M->layers[l];
  int d = L->w.d_model, f = L->w.d_ff;
  float *g = M->scratch, *u = g + (size_t)n_tok * f, *xm = u + (size_t)n_tok * f;
  double sx = teal_mask(xm, x, L->teal_tx, n_tok, d);
  native_gate_up(M, l, g, u, xm, n_tok);
  sw_act_apply_gated(g, g, u, L->w.act, L->w.act_param, (size_t)n_tok * f);
  stats_begin(st, L, n_tok);
  if (L->teal_th < 0.0f) {
    quantize_rows(M, g, n_tok, f);
    sw_qgemm(&M->nctx, out, M->xq, qmat(M, SW_LF_FFN_DOWN, l), n_tok, 0);
    st->neurons_executed = st->neurons_total;
    st->rows_read = f;
  } else {
    mask_above(M, g, L->teal_th, n_tok, f);
    masked_tokens(M, l, out, g, n_tok, READ_GATE_UP, st);
  }
  L->teal_sx_sum += sx;
  L->teal_sh_sum += (double)n_tok - (double)st->neurons_executed / f;
  st->flops = 2.0 * 2.0 * (n_tok * d - sx * d) * f + (double)n_tok * f + 2.0 * (double)st->neurons_executed * d;
}

sw_rc sw_method_native_forward(sw_method_t *M, int l, float *out, const float *x, int n_tok, int sparse,
                               sw_ffn_stats_t *st) {
  if (!sparse) {
    native_dense(M, l, out, x, n_tok, st);
    return SW_OK;
  }
  switch (M->cfg.kind) {
    case SW_METHOD_TEAL: native_teal(M, l, out, x, n_tok, st); return SW_OK;
    case SW_METHOD_D2DMOE:
    case SW_METHOD_MOEFICATION:
    case SW_METHOD_LTE: return native_moe(M, l, out, x, n_tok, st);
    case SW_METHOD_DEJAVU:
    case SW_METHOD_POWERINFER: return native_predictor(M, l, out, x, n_tok, st);
    default: return native_policy(M, l, out, x, n_tok, st);
  }
}
