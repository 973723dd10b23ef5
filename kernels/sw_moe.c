/* sw_moe: expert-ordered FFN copies, routers (oracle / D2DMoE regression MLP / MoEfication-style classifier),
 * selection rules (top-k, dynamic-k by max ratio and cumulative share, LTE score threshold) and the
 * per-expert grouped sgemm execution with per-call accounting (router FLOPs included, as in D2DMoE's
 * eval.py and LTE's Table 1). */
#include "kernels/sw_moe.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/sw_names.h"
#include "kernels/sw_act.h"
#include "kernels/sw_flops.h"
#include "kernels/sw_gather.h"
#include "kernels/sw_lte.h"
#include "kernels/sw_moefy.h"

/* Groups of at most this many tokens skip OpenBLAS (whose packing copies every weight panel, a cost that
 * dominates when few tokens share an expert) and stream each group of 4 expert rows once from memory,
 * reusing it from cache for every token of the group (the 4-row gathered primitives of sw_gather.h). */
#define SW_MOE_GATHER_MAX_TOK 8

/* ---------------------------------------------------------------- weights */

/* Row `row` of a weight matrix as f32 (bf16 = the high half of an IEEE float). */
static void s_row_f32(float *dst, const void *m, size_t ld, sw_dtype_t dtype, size_t row, int d) {
  if (dtype == SW_DTYPE_F32) {
    memcpy(dst, (const float *)m + row * ld, (size_t)d * sizeof(float));
    return;
  }
  const uint16_t *src = (const uint16_t *)m + row * ld;
  for (int k = 0; k < d; k++) {
    uint32_t bits = (uint32_t)src[k] << 16;
    memcpy(&dst[k], &bits, sizeof bits);
  }
}

sw_rc sw_moe_partition(int32_t *assign, const sw_ffn_weights_t *w, sw_partition_t kind, int n_expert,
                       const sw_kmeans_cfg_t *cfg, uint64_t seed, sw_err_t *err) {
  if (kind != SW_PARTITION_BALANCED_KMEANS)
    return sw_partition_make(assign, kind, NULL, (size_t)w->d_ff, 0, (size_t)n_expert, cfg, seed, err);
  const void *m = w->gated ? w->gate : w->up;
  size_t ld = w->gated ? w->ld_gate : w->ld_up, d = (size_t)w->d_model;
  float *rows = malloc((size_t)w->d_ff * d * sizeof(float));
  if (!rows) return sw_err_set(err, SW_ERR_NOMEM, "moe: cannot copy %d neuron rows for clustering", w->d_ff);
  for (int i = 0; i < w->d_ff; i++) s_row_f32(rows + (size_t)i * d, m, ld, w->dtype, (size_t)i, w->d_model);
  sw_kmeans_cfg_t c;
  if (cfg) c = *cfg;
  else sw_kmeans_defaults(&c);
  if (!cfg) c.seed = seed;
  sw_rc rc = sw_kmeans_balanced(assign, rows, (size_t)w->d_ff, d, (size_t)n_expert, &c, err);
  free(rows);
  return rc;
}

void sw_moe_free(sw_moe_t *moe) {
  if (!moe) return;
  free(moe->gu), free(moe->down), free(moe->b_up), free(moe->b_down);
  free(moe->perm), free(moe->assign);
  memset(moe, 0, sizeof *moe);
}

/* Large matrices: 2 MiB aligned with transparent huge pages (first touch of 4 KiB pages is slow on this VM,
 * docs/measurement.md, "The machines") and fewer TLB misses while streaming; freed with free(). */
static float *s_big_floats(size_t n) {
  const size_t bytes = n * sizeof(float), huge = (size_t)2 << 20;
  if (bytes < 2 * huge) return malloc(bytes ? bytes : sizeof(float));
  void *p = NULL;
  size_t rounded = (bytes + huge - 1) / huge * huge;
  if (posix_memalign(&p, huge, rounded) != 0) return NULL;
  (void)madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}

static sw_rc s_moe_alloc(sw_moe_t *moe, const sw_ffn_weights_t *w, sw_err_t *err) {
  size_t n = (size_t)w->d_ff * (size_t)w->d_model;
  moe->gu = s_big_floats(w->gated ? 2 * n : n);
  moe->down = s_big_floats(n);
  moe->b_up = w->b_up ? malloc((size_t)w->d_ff * sizeof(float)) : NULL;
  moe->b_down = w->b_down ? malloc((size_t)w->d_model * sizeof(float)) : NULL;
  moe->perm = malloc((size_t)w->d_ff * sizeof(size_t));
  moe->assign = malloc((size_t)w->d_ff * sizeof(int32_t));
  if (!moe->gu || !moe->down || (w->b_up && !moe->b_up) || (w->b_down && !moe->b_down) ||
      !moe->perm || !moe->assign) {
    sw_moe_free(moe);
    return sw_err_set(err, SW_ERR_NOMEM, "moe: cannot allocate the expert-ordered copy (%zu floats per matrix)", n);
  }
  return SW_OK;
}

sw_rc sw_moe_build(sw_moe_t *moe, const sw_ffn_weights_t *w, const int32_t *assign, int n_expert, sw_err_t *err) {
  memset(moe, 0, sizeof *moe);
  if (n_expert <= 0 || w->d_ff % n_expert)
    return sw_err_set(err, SW_ERR_INVALID, "moe: d_ff %d not divisible into %d experts", w->d_ff, n_expert);
  sw_rc rc = s_moe_alloc(moe, w, err);
  if (rc) return rc;
  if ((rc = sw_partition_perm(moe->perm, assign, (size_t)w->d_ff, (size_t)n_expert, err))) {
    sw_moe_free(moe);
    return rc;
  }
  moe->d_model = w->d_model, moe->d_ff = w->d_ff, moe->n_expert = n_expert, moe->expert_size = w->d_ff / n_expert;
  moe->gated = w->gated, moe->act = w->act, moe->act_param = w->act_param;
  memcpy(moe->assign, assign, (size_t)w->d_ff * sizeof(int32_t));
  const size_t d = (size_t)w->d_model, S = (size_t)moe->expert_size;
  for (size_t j = 0; j < (size_t)w->d_ff; j++) {
    size_t i = moe->perm[j], e = j / S, r = j % S;
    if (w->gated) {
      s_row_f32(moe->gu + (e * 2 * S + r) * d, w->gate, w->ld_gate, w->dtype, i, w->d_model);
      s_row_f32(moe->gu + (e * 2 * S + S + r) * d, w->up, w->ld_up, w->dtype, i, w->d_model);
    } else {
      s_row_f32(moe->gu + j * d, w->up, w->ld_up, w->dtype, i, w->d_model);
    }
    s_row_f32(moe->down + j * d, w->down, w->ld_down, w->dtype, i, w->d_model);
    if (w->b_up) moe->b_up[j] = w->b_up[i];
  }
  if (w->b_down) memcpy(moe->b_down, w->b_down, d * sizeof(float));
  return SW_OK;
}

/* ---------------------------------------------------------------- names */

/* Spellings of the router kinds and selection rules (index = enum value). */
static const char *const k_router_names[] = {
    [SW_MOE_ROUTER_ORACLE] = "oracle",
    [SW_MOE_ROUTER_MLP] = "mlp",
    [SW_MOE_ROUTER_CLASSIFIER] = "classifier",
    [SW_MOE_ROUTER_GT] = "ground_truth",
    [SW_MOE_ROUTER_SIMILARITY] = "similarity",
    [SW_MOE_ROUTER_MOEFICATION] = "moefication",
    [SW_MOE_ROUTER_LTE] = "lte",
};
static const char *const k_select_names[] = {
    [SW_MOE_SELECT_TOPK] = "topk",
    [SW_MOE_SELECT_DYNK_MAX] = "dynk_max",
    [SW_MOE_SELECT_DYNK_CUM] = "dynk_cum",
    [SW_MOE_SELECT_SCORE] = "score",
};
#define N_ROUTER_NAMES (sizeof k_router_names / sizeof k_router_names[0])
#define N_SELECT_NAMES (sizeof k_select_names / sizeof k_select_names[0])

sw_rc sw_moe_router_parse(sw_moe_router_kind_t *kind, const char *name, sw_err_t *err) {
  int i = sw_names_find(k_router_names, N_ROUTER_NAMES, name);
  if (i < 0)
    return sw_err_set(err, SW_ERR_INVALID, "unknown router '%s' (oracle, mlp, classifier, ground_truth, similarity, moefication, lte)", name ? name : "(null)");
  *kind = (sw_moe_router_kind_t)i;
  return SW_OK;
}

const char *sw_moe_router_name(sw_moe_router_kind_t kind) {
  return sw_names_at(k_router_names, N_ROUTER_NAMES, (int)kind);
}

sw_rc sw_moe_select_parse(sw_moe_select_t *sel, const char *name, sw_err_t *err) {
  int i = sw_names_find(k_select_names, N_SELECT_NAMES, name);
  if (i < 0)
    return sw_err_set(err, SW_ERR_INVALID, "unknown expert selection '%s' (topk, dynk_max, dynk_cum, score)",
                      name ? name : "(null)");
  *sel = (sw_moe_select_t)i;
  return SW_OK;
}

const char *sw_moe_select_name(sw_moe_select_t sel) { return sw_names_at(k_select_names, N_SELECT_NAMES, (int)sel); }

/* ---------------------------------------------------------------- workspace */

typedef struct s_pair {
  float   s;
  int32_t i;
} s_pair_t;

sw_rc sw_moe_work_alloc(sw_moe_work_t *work, const sw_moe_t *moe, const sw_moe_router_t *router, int max_tok,
                        sw_err_t *err) {
  memset(work, 0, sizeof *work);
  if (max_tok <= 0) return sw_err_set(err, SW_ERR_INVALID, "moe: workspace for %d tokens", max_tok);
  const size_t T = (size_t)max_tok, E = (size_t)moe->n_expert, d = (size_t)moe->d_model, S = (size_t)moe->expert_size;
  size_t mlp_n = (router && router->mlp.n_layer > 0) ? sw_mlp_work_floats(&router->mlp, T) : 0;
  size_t floats = T * E + mlp_n + 2 * T * d + 3 * T * S;
  size_t bytes = floats * sizeof(float) + E * sizeof(s_pair_t) + (E + 1 + T * E) * sizeof(int32_t) + E;
  work->mem = malloc(bytes);
  if (!work->mem) return sw_err_set(err, SW_ERR_NOMEM, "moe: cannot allocate a %zu-byte workspace", bytes);
  float *f = work->mem;
  work->scores = f, f += T * E;
  work->mlp_ws = f, f += mlp_n;
  work->xg = f, f += T * d;
  work->yg = f, f += T * d;
  work->g = f, f += 2 * T * S;
  work->u = f, f += T * S;
  work->pairs = f;
  int32_t *ip = (int32_t *)((s_pair_t *)work->pairs + E);
  work->grp_off = ip, ip += E + 1;
  work->grp_tok = ip, ip += T * E;
  work->flag = (uint8_t *)ip;
  work->max_tok = max_tok, work->d_model = moe->d_model, work->expert_size = moe->expert_size;
  work->n_expert = moe->n_expert, work->mlp_ws_n = mlp_n;
  sw_rc rc = sw_isa_resolve(SW_ISA_AUTO, &work->isa, err);
  if (rc != SW_OK) sw_moe_work_free(work);
  return rc;
}

void sw_moe_work_free(sw_moe_work_t *work) {
  if (!work) return;
  free(work->mem);
  memset(work, 0, sizeof *work);
}

static sw_rc s_check_work(const sw_moe_work_t *work, const sw_moe_t *moe, int n_tok) {
  if (n_tok < 0 || n_tok > work->max_tok || work->d_model != moe->d_model || work->n_expert != moe->n_expert ||
      work->expert_size != moe->expert_size)
    return SW_ERR_INVALID;
  return SW_OK;
}

/* ---------------------------------------------------------------- one expert over a group of tokens */

/* h[c][S] = intermediates of expert e for the c rows of xs (row stride d); one GEMM (GEMV for c = 1) over
 * the expert's gate|up block into tmp[c][2S], then the (gated) activation. */
static void s_expert_hidden(float *h, float *tmp, const sw_moe_t *moe, int e, const float *xs, int c) {
  const int d = moe->d_model, S = moe->expert_size, R = moe->gated ? 2 * S : S;
  const float *gu = moe->gu + (size_t)e * (size_t)R * (size_t)d;
  float *z = moe->gated ? tmp : h;
  if (c == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, R, d, 1.0f, gu, d, xs, 1, 0.0f, z, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, R, d, 1.0f, xs, d, gu, d, 0.0f, z, R);
  if (!moe->gated) {
    if (moe->b_up)
      for (int t = 0; t < c; t++)
        for (int j = 0; j < S; j++) h[(size_t)t * S + j] += moe->b_up[(size_t)e * S + (size_t)j];
    sw_act_apply(h, h, moe->act, moe->act_param, (size_t)c * (size_t)S);
    return;
  }
  for (int t = 0; t < c; t++)
    sw_act_apply_gated(h + (size_t)t * S, tmp + (size_t)t * R, tmp + (size_t)t * R + S, moe->act, moe->act_param,
                       (size_t)S);
}

/* y[c][d] = beta*y + h · down_e. */
static void s_expert_down(float *y, const sw_moe_t *moe, int e, const float *h, int c, float beta) {
  const int d = moe->d_model, S = moe->expert_size;
  const float *down = moe->down + (size_t)e * (size_t)S * (size_t)d;
  if (c == 1)
    cblas_sgemv(CblasRowMajor, CblasTrans, S, d, 1.0f, down, d, h, 1, beta, y, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, d, S, 1.0f, h, S, down, d, beta, y, d);
}

/* Row pointers of 4 consecutive rows starting at row r of a block of n rows (rows past the end repeat the last
 * row; callers give them zero weight or ignore their results). */
static void s_rows4(const void *rows[4], const float *block, int r, int n, int d) {
  for (int q = 0; q < 4; q++) rows[q] = block + (size_t)(r + q < n ? r + q : n - 1) * (size_t)d;
}

/* h[j][S] for the c tokens toks[] of expert e: every 4 gate|up rows are read from memory once and dotted with
 * each token (the next group is prefetched while the first token streams). */
static void s_gathered_hidden(float *h, const float *x, const sw_moe_t *moe, int e, const int32_t *toks, int c,
                              const sw_simd_t *k) {
  const int d = moe->d_model, S = moe->expert_size, R = moe->gated ? 2 * S : S;
  const float *gate = moe->gu + (size_t)e * (size_t)R * (size_t)d, *up = moe->gated ? gate + (size_t)S * d : gate;
  const float *bu = moe->b_up ? moe->b_up + (size_t)e * S : NULL;
  for (int r = 0; r < S; r += 4) {
    const void *g4[4], *u4[4], *gpf[4], *upf[4];
    s_rows4(g4, gate, r, S, d), s_rows4(u4, up, r, S, d);
    s_rows4(gpf, gate, r + 4 < S ? r + 4 : r, S, d), s_rows4(upf, up, r + 4 < S ? r + 4 : r, S, d);
    for (int j = 0; j < c; j++) {
      const float *xt = x + (size_t)toks[j] * (size_t)d;
      float gv[4], uv[4];
      if (moe->gated) sw_gather_dot4x2(k, gv, uv, g4, u4, j ? g4 : gpf, j ? u4 : upf, SW_DTYPE_F32, xt, d);
      else sw_gather_dot4(k, uv, u4, j ? u4 : upf, SW_DTYPE_F32, xt, d);
      for (int q = 0; q < 4 && r + q < S; q++) {
        float *hv = h + (size_t)j * S + r + q;
        if (moe->gated) *hv = sw_act_1(moe->act, gv[q], moe->act_param) * uv[q];
        else *hv = sw_act_1(moe->act, uv[q] + (bu ? bu[r + q] : 0.0f), moe->act_param);
      }
    }
  }
}

/* out[toks[j]] += h[j] · down_e, 4 down rows at a time, each reused for every token of the group. */
static void s_gathered_down(float *out, const float *h, const sw_moe_t *moe, int e, const int32_t *toks, int c,
                            const sw_simd_t *k) {
  const int d = moe->d_model, S = moe->expert_size;
  const float *down = moe->down + (size_t)e * (size_t)S * (size_t)d;
  for (int r = 0; r < S; r += 4) {
    const void *d4[4], *pf[4];
    s_rows4(d4, down, r, S, d), s_rows4(pf, down, r + 4 < S ? r + 4 : r, S, d);
    for (int j = 0; j < c; j++) {
      float coef[4];
      for (int q = 0; q < 4; q++) coef[q] = r + q < S ? h[(size_t)j * S + r + q] : 0.0f;
      sw_gather_axpy4(k, out + (size_t)toks[j] * (size_t)d, coef, d4, j ? d4 : pf, SW_DTYPE_F32, d);
    }
  }
}

/* ---------------------------------------------------------------- accounting */

static void s_stats(sw_ffn_stats_t *st, const sw_moe_t *moe, const sw_mask_t *mask, const uint8_t *used, int n_tok) {
  if (!st) return;
  memset(st, 0, sizeof *st);
  const int64_t S = moe->expert_size;
  int64_t pairs = mask->off[n_tok] - mask->off[0], distinct = 0;
  for (int e = 0; e < moe->n_expert; e++) distinct += used[e] != 0;
  st->flops = sw_flops_ffn_neurons(moe->d_model, moe->gated, pairs * S);
  st->flops_dense = sw_flops_ffn_dense(moe->d_model, moe->d_ff, moe->gated, n_tok);
  st->weight_bytes = sw_bytes_ffn_rows(moe->d_model, moe->gated, SW_DTYPE_F32, distinct * S);
  st->weight_bytes_dense = sw_bytes_ffn_rows(moe->d_model, moe->gated, SW_DTYPE_F32, moe->d_ff);
  st->neurons_executed = pairs * S;
  st->neurons_total = (int64_t)n_tok * moe->d_ff;
  st->rows_read = distinct * S;
  st->experts_executed = pairs;
  st->experts_total = (int64_t)n_tok * moe->n_expert;
  st->tokens = n_tok;
  st->calls = 1;
}

static void s_init_out(float *out, const sw_moe_t *moe, int n_tok) {
  const size_t d = (size_t)moe->d_model;
  for (int t = 0; t < n_tok; t++) {
    if (moe->b_down) memcpy(out + (size_t)t * d, moe->b_down, d * sizeof(float));
    else memset(out + (size_t)t * d, 0, d * sizeof(float));
  }
}

static sw_rc s_check_mask(const sw_mask_t *mask, const sw_moe_t *moe, int n_tok) {
  if (mask->n_units != moe->n_expert || mask->n_tok != n_tok) return SW_ERR_INVALID;
  for (int64_t p = mask->off[0]; p < mask->off[n_tok]; p++)
    if (mask->idx[p] < 0 || mask->idx[p] >= moe->n_expert) return SW_ERR_RANGE;
  return SW_OK;
}

/* ---------------------------------------------------------------- execution */

/* Counting sort of (token, expert) pairs by expert into grp_off/grp_tok; flag[e] = group non-empty. */
static void s_group_tokens(sw_moe_work_t *work, const sw_mask_t *mask, int E, int n_tok) {
  int32_t *off = work->grp_off;
  memset(off, 0, (size_t)(E + 1) * sizeof *off);
  for (int64_t p = mask->off[0]; p < mask->off[n_tok]; p++) off[mask->idx[p] + 1]++;
  for (int e = 0; e < E; e++) off[e + 1] += off[e];
  for (int e = 0; e < E; e++) work->flag[e] = off[e + 1] > off[e];
  int32_t *next = work->grp_tok; /* fill positions: reuse off as a cursor copy held in pairs' ints */
  int32_t *cursor = (int32_t *)work->pairs;
  memcpy(cursor, off, (size_t)E * sizeof *cursor);
  for (int t = 0; t < n_tok; t++)
    for (int64_t p = mask->off[t]; p < mask->off[t + 1]; p++) next[cursor[mask->idx[p]]++] = t;
}

sw_rc sw_moe_forward(float *out, const float *x, const sw_moe_t *moe, const sw_mask_t *mask, sw_ffn_stats_t *stats,
                     sw_moe_work_t *work, int n_tok) {
  sw_rc rc = s_check_work(work, moe, n_tok);
  if (rc || (rc = s_check_mask(mask, moe, n_tok))) return rc;
  const int E = moe->n_expert;
  const size_t d = (size_t)moe->d_model;
  s_init_out(out, moe, n_tok);
  s_group_tokens(work, mask, E, n_tok);
  for (int e = 0; e < E; e++) {
    const int c = work->grp_off[e + 1] - work->grp_off[e];
    const int32_t *toks = work->grp_tok + work->grp_off[e];
    if (c == 0) continue;
    if (c == 1) { /* no gather: vector kernels straight into the output row */
      s_expert_hidden(work->u, work->g, moe, e, x + (size_t)toks[0] * d, 1);
      s_expert_down(out + (size_t)toks[0] * d, moe, e, work->u, 1, 1.0f);
      continue;
    }
    if (c <= SW_MOE_GATHER_MAX_TOK) {
      s_gathered_hidden(work->u, x, moe, e, toks, c, sw_simd_get(work->isa));
      s_gathered_down(out, work->u, moe, e, toks, c, sw_simd_get(work->isa));
      continue;
    }
    for (int j = 0; j < c; j++) memcpy(work->xg + (size_t)j * d, x + (size_t)toks[j] * d, d * sizeof(float));
    s_expert_hidden(work->u, work->g, moe, e, work->xg, c);
    s_expert_down(work->yg, moe, e, work->u, c, 0.0f);
    for (int j = 0; j < c; j++) cblas_saxpy((int)d, 1.0f, work->yg + (size_t)j * d, 1, out + (size_t)toks[j] * d, 1);
  }
  s_stats(stats, moe, mask, work->flag, n_tok);
  return SW_OK;
}

sw_rc sw_moe_forward_per_token(float *out, const float *x, const sw_moe_t *moe, const sw_mask_t *mask,
                               sw_ffn_stats_t *stats, sw_moe_work_t *work, int n_tok) {
  sw_rc rc = s_check_work(work, moe, n_tok);
  if (rc || (rc = s_check_mask(mask, moe, n_tok))) return rc;
  const size_t d = (size_t)moe->d_model;
  s_init_out(out, moe, n_tok);
  memset(work->flag, 0, (size_t)moe->n_expert);
  for (int t = 0; t < n_tok; t++)
    for (int64_t p = mask->off[t]; p < mask->off[t + 1]; p++) {
      const int e = mask->idx[p];
      work->flag[e] = 1;
      s_expert_hidden(work->u, work->g, moe, e, x + (size_t)t * d, 1);
      s_expert_down(out + (size_t)t * d, moe, e, work->u, 1, 1.0f);
    }
  s_stats(stats, moe, mask, work->flag, n_tok);
  return SW_OK;
}

/* ---------------------------------------------------------------- targets and routers */

/* For a chunk of c <= max_tok tokens: norms[t][e] = ‖E_e(x_t)‖ and raw mass[t][e] = Σ_{i∈e}|h_i| (positive:
 * Σ_{i∈e} max(h_i, 0)). */
static void s_expert_norms(float *norms, float *mass, const sw_moe_t *moe, const float *x, int c, int positive,
                           sw_moe_work_t *work) {
  const int E = moe->n_expert, S = moe->expert_size, d = moe->d_model;
  for (int e = 0; e < E; e++) {
    s_expert_hidden(work->u, work->g, moe, e, x, c);
    if (norms) s_expert_down(work->yg, moe, e, work->u, c, 0.0f);
    for (int t = 0; t < c; t++) {
      if (norms) {
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)work->yg[(size_t)t * d + k] * work->yg[(size_t)t * d + k];
        norms[(size_t)t * E + e] = (float)sqrt(s);
      }
      if (mass) {
        double m = 0;
        for (int j = 0; j < S; j++) {
          double h = work->u[(size_t)t * S + j];
          m += positive ? (h > 0 ? h : 0) : fabs(h);
        }
        mass[(size_t)t * E + e] = (float)m;
      }
    }
  }
}

/* Per-chunk targets of n_tok tokens (norms and/or raw mass, either may be NULL). */
static sw_rc s_targets_raw(float *norms, float *mass, const sw_moe_t *moe, const float *x, int n_tok, int positive,
                           sw_err_t *err) {
  sw_moe_work_t work;
  const int chunk = n_tok < 256 ? (n_tok > 0 ? n_tok : 1) : 256, E = moe->n_expert;
  sw_rc rc = sw_moe_work_alloc(&work, moe, NULL, chunk, err);
  if (rc) return rc;
  for (int t0 = 0; t0 < n_tok; t0 += chunk) {
    int c = n_tok - t0 < chunk ? n_tok - t0 : chunk;
    s_expert_norms(norms ? norms + (size_t)t0 * E : NULL, mass ? mass + (size_t)t0 * E : NULL, moe,
                   x + (size_t)t0 * moe->d_model, c, positive, &work);
  }
  sw_moe_work_free(&work);
  return SW_OK;
}

sw_rc sw_moe_expert_gram(float *K, const sw_moe_t *moe, const float *x, int n_tok, sw_err_t *err) {
  const int E = moe->n_expert, d = moe->d_model, chunk = 32;
  sw_moe_work_t work;
  float *Y = malloc((size_t)E * chunk * d * sizeof *Y);
  sw_rc rc = Y ? sw_moe_work_alloc(&work, moe, NULL, chunk, err) : sw_err_set(err, SW_ERR_NOMEM, "moe: out of memory");
  if (rc) {
    free(Y);
    return rc;
  }
  for (int t0 = 0; t0 < n_tok; t0 += chunk) {
    int c = n_tok - t0 < chunk ? n_tok - t0 : chunk;
    for (int e = 0; e < E; e++) { /* Y[e][t][d] */
      s_expert_hidden(work.u, work.g, moe, e, x + (size_t)t0 * d, c);
      s_expert_down(Y + (size_t)e * chunk * d, moe, e, work.u, c, 0.0f);
    }
    for (int t = 0; t < c; t++) /* K_t = Y_t Y_tᵀ, the rows of Y_t being token t of each expert (stride chunk·d) */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, E, E, d, 1.0f, Y + (size_t)t * d, chunk * d,
                  Y + (size_t)t * d, chunk * d, 0.0f, K + (size_t)(t0 + t) * E * E, E);
  }
  sw_moe_work_free(&work);
  free(Y);
  return SW_OK;
}

sw_rc sw_moe_mass(float *mass, const sw_moe_t *moe, const float *x, int n_tok, int positive, sw_err_t *err) {
  return s_targets_raw(NULL, mass, moe, x, n_tok, positive, err);
}

sw_rc sw_moe_targets(float *norms, float *mass, const sw_moe_t *moe, const float *x, int n_tok, sw_err_t *err) {
  const int E = moe->n_expert;
  sw_rc rc = s_targets_raw(norms, mass, moe, x, n_tok, 0, err);
  for (int t = 0; !rc && mass && t < n_tok; t++) {
    float mx = 0;
    for (int e = 0; e < E; e++) mx = fmaxf(mx, mass[(size_t)t * E + e]);
    for (int e = 0; e < E; e++) mass[(size_t)t * E + e] = mx > 0 ? mass[(size_t)t * E + e] / mx : 0.0f;
  }
  return rc;
}

void sw_moe_router_defaults(sw_moe_router_cfg_t *cfg) {
  cfg->hidden = 128;
  sw_mlp_train_defaults(&cfg->train);
  cfg->train.epochs = 20;
  cfg->train.batch = 64;
  cfg->seed = 1;
  cfg->val_frac = 0.0;
  cfg->lte_eta = 0.0;
  cfg->lte_lambda = 0.5;
  cfg->lte_sep_warmup = 0.5;
}

int sw_moe_router_trained(sw_moe_router_kind_t kind) {
  return kind == SW_MOE_ROUTER_MLP || kind == SW_MOE_ROUTER_CLASSIFIER || kind == SW_MOE_ROUTER_MOEFICATION ||
         kind == SW_MOE_ROUTER_LTE;
}

int sw_moe_router_normalises(sw_moe_router_kind_t kind) {
  return kind == SW_MOE_ROUTER_SIMILARITY || kind == SW_MOE_ROUTER_MOEFICATION;
}

int sw_moe_router_n_train(int n_tok, double val_frac) {
  int held = val_frac > 0 ? (int)floor((double)n_tok * val_frac) : 0;
  return held > 0 && held < n_tok ? n_tok - held : n_tok;
}

/* Validation of a regression/classifier router: minus its mean loss on the held-out tokens. */
typedef struct s_val {
  const float              *x, *t;
  size_t                    n;
  const sw_mlp_train_cfg_t *cfg;
} s_val_t;

static double s_val_score(const sw_mlp_t *mlp, void *ctx) {
  const s_val_t *v = ctx;
  double loss = 0;
  sw_err_t e = {0};
  if (sw_mlp_eval_loss(&loss, mlp, v->x, v->t, v->n, v->cfg, &e)) return -INFINITY;
  return -loss;
}

/* D2DMoE regression router (MSE on ‖E_e(x)‖₂) or the older classifier (BCE on per-token-max mass). */
static sw_rc s_train_mlp_kind(sw_moe_router_t *r, const sw_moe_t *moe, const float *x, int n_tok,
                              const sw_moe_router_cfg_t *cfg, sw_err_t *err) {
  const size_t E = (size_t)moe->n_expert, d = (size_t)moe->d_model;
  sw_mlp_train_cfg_t tc = cfg->train;
  const int mlp = r->kind == SW_MOE_ROUTER_MLP;
  const size_t dims[3] = {d, mlp ? (size_t)cfg->hidden : E, E};
  const sw_mlp_act_t acts[2] = {mlp ? SW_MLP_ACT_RELU : SW_MLP_ACT_TANH, mlp ? SW_MLP_ACT_ABS : SW_MLP_ACT_SIGMOID};
  tc.loss = mlp ? SW_MLP_LOSS_MSE : SW_MLP_LOSS_BCE;
  sw_rc rc = sw_mlp_init(&r->mlp, dims, acts, 2, 0, cfg->seed, err);
  float *target = rc ? NULL : malloc((size_t)n_tok * E * sizeof(float));
  if (!rc && !target) rc = sw_err_set(err, SW_ERR_NOMEM, "moe: cannot allocate router targets");
  if (!rc) rc = sw_moe_targets(mlp ? target : NULL, mlp ? NULL : target, moe, x, n_tok, err);
  const int n_train = sw_moe_router_n_train(n_tok, cfg->val_frac);
  s_val_t val = {x + (size_t)n_train * d, target + (size_t)n_train * E, (size_t)(n_tok - n_train), &tc};
  if (n_train < n_tok) tc.epoch_score = s_val_score, tc.ctx = &val;
  if (!rc) rc = sw_mlp_train(&r->mlp, x, target, (size_t)n_train, &tc, &r->train, err);
  free(target);
  return rc;
}

/* MoEfication's routers: SIMILARITY (centres only), MOEFICATION (trained on normalised inputs). */
static sw_rc s_train_moefication_kind(sw_moe_router_t *r, const sw_moe_t *moe, const float *x, int n_tok,
                                      const sw_moe_router_cfg_t *cfg, sw_err_t *err) {
  const size_t E = (size_t)moe->n_expert, d = (size_t)moe->d_model;
  r->centres = malloc(E * d * sizeof(float));
  if (!r->centres) return sw_err_set(err, SW_ERR_NOMEM, "moe: cannot allocate expert centres");
  sw_moefy_centres(r->centres, moe);
  if (r->kind == SW_MOE_ROUTER_SIMILARITY) return SW_OK;
  const size_t dims[3] = {d, E, E};
  const sw_mlp_act_t acts[2] = {SW_MLP_ACT_TANH, SW_MLP_ACT_SIGMOID};
  sw_rc rc = sw_mlp_init(&r->mlp, dims, acts, 2, 0, cfg->seed, err);
  if (rc) return rc;
  float *xn = malloc((size_t)n_tok * d * sizeof(float)), *mass = malloc((size_t)n_tok * E * sizeof(float));
  if (!xn || !mass) rc = sw_err_set(err, SW_ERR_NOMEM, "moe: cannot allocate router training data");
  if (!rc) rc = sw_moe_mass(mass, moe, x, n_tok, 1, err);
  if (!rc) sw_moefy_l2_rows(xn, x, (size_t)n_tok, d);
  if (!rc) rc = sw_moefy_train(r, moe, xn, mass, n_tok, cfg, err);
  free(xn);
  free(mass);
  return rc;
}

sw_rc sw_moe_router_train(sw_moe_router_t *r, sw_moe_router_kind_t kind, const sw_moe_t *moe, const float *x,
                          int n_tok, const sw_moe_router_cfg_t *cfg, sw_mlp_train_stats_t *stats, sw_err_t *err) {
  memset(r, 0, sizeof *r);
  r->kind = kind, r->d_model = moe->d_model, r->n_expert = moe->n_expert;
  if (kind == SW_MOE_ROUTER_ORACLE || kind == SW_MOE_ROUTER_GT) return SW_OK;
  if (kind < SW_MOE_ROUTER_ORACLE || kind > SW_MOE_ROUTER_LTE)
    return sw_err_set(err, SW_ERR_INVALID, "moe: unknown router kind %d", (int)kind);
  if (n_tok <= 0 && kind != SW_MOE_ROUTER_SIMILARITY)
    return sw_err_set(err, SW_ERR_INVALID, "moe: router training needs tokens");
  sw_rc rc;
  if (kind == SW_MOE_ROUTER_SIMILARITY || kind == SW_MOE_ROUTER_MOEFICATION)
    rc = s_train_moefication_kind(r, moe, x, n_tok, cfg, err);
  else if (kind == SW_MOE_ROUTER_LTE)
    rc = sw_lte_train(r, moe, x, n_tok, cfg, err);
  else
    rc = s_train_mlp_kind(r, moe, x, n_tok, cfg, err);
  if (rc) {
    sw_moe_router_free(r);
    return rc;
  }
  if (stats) *stats = r->train;
  return SW_OK;
}

void sw_moe_router_free(sw_moe_router_t *r) {
  if (!r) return;
  sw_mlp_free(&r->mlp);
  free(r->centres);
  memset(r, 0, sizeof *r);
}

double sw_moe_router_flops(const sw_moe_router_t *r, const sw_moe_t *moe) {
  const double d = moe->d_model, E = moe->n_expert;
  switch (r->kind) {
  case SW_MOE_ROUTER_ORACLE: return sw_flops_ffn_dense(moe->d_model, moe->d_ff, moe->gated, 1);
  case SW_MOE_ROUTER_GT: return (moe->gated ? 4.0 : 2.0) * d * moe->d_ff + 2.0 * moe->d_ff;
  case SW_MOE_ROUTER_SIMILARITY: return 3.0 * d + 2.0 * d * E + 3.0 * E; /* normalise, dot products, distances */
  case SW_MOE_ROUTER_MOEFICATION: return 3.0 * d + sw_mlp_flops_per_row(&r->mlp);
  default: return sw_mlp_flops_per_row(&r->mlp);
  }
}

/* SIMILARITY: −‖x̂ − c_e‖₂ = −sqrt(1 − 2 x̂·c_e + ‖c_e‖²) for a unit x̂ (0 − ... for a zero row). */
static void s_similarity_scores(float *scores, const sw_moe_router_t *r, const float *xn, int n_tok) {
  const int E = r->n_expert, d = r->d_model;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, E, d, 1.0f, xn, d, r->centres, d, 0.0f, scores, E);
  for (int e = 0; e < E; e++) {
    double cc = 0;
    for (int k = 0; k < d; k++) cc += (double)r->centres[(size_t)e * d + k] * r->centres[(size_t)e * d + k];
    for (int t = 0; t < n_tok; t++) {
      double xx = 0;
      for (int k = 0; k < d && xx == 0; k++) xx = xn[(size_t)t * d + k] != 0.0f;
      double q = (xx ? 1.0 : 0.0) - 2.0 * scores[(size_t)t * E + e] + cc;
      scores[(size_t)t * E + e] = (float)-sqrt(q > 0 ? q : 0);
    }
  }
}

sw_rc sw_moe_router_scores(float *scores, const sw_moe_router_t *r, const sw_moe_t *moe, const float *x, int n_tok,
                           sw_moe_work_t *work) {
  sw_rc rc = s_check_work(work, moe, n_tok);
  if (rc) return rc;
  if (r->n_expert != moe->n_expert || r->d_model != moe->d_model) return SW_ERR_INVALID;
  if (n_tok == 0) return SW_OK;
  if (r->kind == SW_MOE_ROUTER_ORACLE || r->kind == SW_MOE_ROUTER_GT) {
    s_expert_norms(r->kind == SW_MOE_ROUTER_ORACLE ? scores : NULL, r->kind == SW_MOE_ROUTER_GT ? scores : NULL, moe, x,
                   n_tok, 1, work);
    return SW_OK;
  }
  if (sw_moe_router_normalises(r->kind)) { /* x̂ into xg (free until the experts run) */
    sw_moefy_l2_rows(work->xg, x, (size_t)n_tok, (size_t)moe->d_model);
    x = work->xg;
  }
  if (r->kind == SW_MOE_ROUTER_SIMILARITY) {
    s_similarity_scores(scores, r, x, n_tok);
    return SW_OK;
  }
  if (work->mlp_ws_n < sw_mlp_work_floats(&r->mlp, (size_t)n_tok)) return SW_ERR_INVALID;
  sw_mlp_forward(scores, &r->mlp, x, (size_t)n_tok, work->mlp_ws);
  return SW_OK;
}

/* ---------------------------------------------------------------- selection */

static int s_pair_desc(const void *a, const void *b) {
  const s_pair_t *p = a, *q = b;
  if (p->s != q->s) return p->s > q->s ? -1 : 1;
  return p->i < q->i ? -1 : (p->i > q->i);
}

/* Sorted (descending score, ascending id) pairs of one token. */
static s_pair_t *s_sorted(sw_moe_work_t *work, const float *g, int E) {
  s_pair_t *pr = work->pairs;
  for (int e = 0; e < E; e++) pr[e] = (s_pair_t){g[e], e};
  qsort(pr, (size_t)E, sizeof *pr, s_pair_desc);
  return pr;
}

static int s_argmax(const float *g, int E) {
  int best = 0;
  for (int e = 1; e < E; e++)
    if (g[e] > g[best]) best = e;
  return best;
}

/* flag[e] for one token under the rule. */
static void s_select_token(uint8_t *flag, const float *g, int E, sw_moe_select_t sel, int k, double tau, int norm,
                           sw_moe_work_t *work) {
  memset(flag, 0, (size_t)E);
  const int top = s_argmax(g, E);
  const double mx = g[top];
  switch (sel) {
  case SW_MOE_SELECT_TOPK: {
    s_pair_t *pr = s_sorted(work, g, E);
    for (int j = 0; j < k && j < E; j++) flag[pr[j].i] = 1;
    break;
  }
  case SW_MOE_SELECT_DYNK_MAX:
    if (tau >= 1.0 || (tau > 0.0 && mx <= 0.0)) {
      flag[top] = 1;
      break;
    }
    for (int e = 0; e < E; e++) flag[e] = (double)g[e] >= tau * mx;
    break;
  case SW_MOE_SELECT_DYNK_CUM: {
    double total = 0;
    for (int e = 0; e < E; e++) total += g[e] > 0 ? g[e] : 0;
    s_pair_t *pr = s_sorted(work, g, E);
    double cum = 0;
    flag[pr[0].i] = 1;
    cum += total > 0 ? pr[0].s / total : 0;
    for (int j = 1; j < E && total > 0 && cum < tau; j++) {
      flag[pr[j].i] = 1;
      cum += (pr[j].s > 0 ? pr[j].s : 0) / total;
    }
    break;
  }
  case SW_MOE_SELECT_SCORE:
    for (int e = 0; e < E; e++) {
      double s = norm ? (mx > 0 ? g[e] / mx : 0.0) : g[e];
      flag[e] = s > tau;
    }
    break;
  }
}

sw_rc sw_moe_select(sw_mask_t *mask, const float *scores, sw_moe_select_t sel, int k, double tau,
                    int normalise_scores, sw_moe_work_t *work, int n_tok) {
  const int E = work->n_expert;
  if (mask->n_units != E || n_tok > mask->max_tok || n_tok > work->max_tok || n_tok < 0) return SW_ERR_INVALID;
  if (sel == SW_MOE_SELECT_TOPK && k < 0) return SW_ERR_RANGE;
  mask->off[0] = 0;
  for (int t = 0; t < n_tok; t++) {
    s_select_token(work->flag, scores + (size_t)t * E, E, sel, k, tau, normalise_scores, work);
    int64_t o = mask->off[t];
    for (int e = 0; e < E; e++)
      if (work->flag[e]) mask->idx[o++] = e;
    mask->off[t + 1] = o;
  }
  mask->n_tok = n_tok;
  return SW_OK;
}

sw_rc sw_moe_route(sw_mask_t *mask, const float *x, const sw_moe_t *moe, const sw_moe_router_t *r, sw_moe_select_t sel,
                   int k, double tau, sw_moe_work_t *work, int n_tok) {
  sw_rc rc = sw_moe_router_scores(work->scores, r, moe, x, n_tok, work);
  if (rc) return rc;
  int norm = r->kind != SW_MOE_ROUTER_CLASSIFIER && r->kind != SW_MOE_ROUTER_MOEFICATION &&
             r->kind != SW_MOE_ROUTER_LTE; /* sigmoid outputs are thresholded as they are */
  return sw_moe_select(mask, work->scores, sel, k, tau, norm, work, n_tok);
}

sw_rc sw_moe_forward_routed(float *out, sw_mask_t *mask, const float *x, const sw_moe_t *moe,
                            const sw_moe_router_t *r, sw_moe_select_t sel, int k, double tau, sw_ffn_stats_t *stats,
                            sw_moe_work_t *work, int n_tok) {
  sw_rc rc = sw_moe_route(mask, x, moe, r, sel, k, tau, work, n_tok);
  if (rc) return rc;
  if ((rc = sw_moe_forward(out, x, moe, mask, stats, work, n_tok))) return rc;
  if (stats) {
    double f = sw_moe_router_flops(r, moe) * n_tok;
    stats->flops_select = f;
    stats->flops += f;
    if (r->kind == SW_MOE_ROUTER_SIMILARITY) {
      stats->weight_bytes += 4.0 * (double)r->n_expert * r->d_model;
    } else if (r->kind != SW_MOE_ROUTER_ORACLE && r->kind != SW_MOE_ROUTER_GT) {
      stats->weight_bytes += 4.0 * (double)r->mlp.n_params;
    } else { /* the oracle and the ground truth read every expert's rows */
      stats->weight_bytes = stats->weight_bytes_dense;
      stats->rows_read = moe->d_ff;
    }
  }
  return SW_OK;
}
