/* sw_teal: TEAL FFN — transposed gate/up copies, per-tensor calibration and the input-sparse forward built on
 * sw_gemv_sparse (rows of active input channels only, 4 at a time with prefetch). */
#include "kernels/sw_teal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_internal.h"
#include "kernels/sw_gemv_sparse.h"
#include "kernels/sw_policy.h"

static void *sw_teal_transpose(const void *m, size_t ld, sw_dtype_t dt, int rows, int cols) {
  size_t esz = dt == SW_DTYPE_BF16 ? 2 : 4;
  char  *t = malloc((size_t)rows * cols * esz);
  if (!t) return NULL;
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++)
      memcpy(t + ((size_t)j * rows + i) * esz, (const char *)m + ((size_t)i * ld + j) * esz, esz);
  return t;
}

sw_rc sw_teal_weights_init(sw_teal_weights_t *tw, const sw_ffn_weights_t *w, sw_err_t *err) {
  memset(tw, 0, sizeof *tw);
  tw->base = w;
  tw->ld_t = (size_t)w->d_ff;
  tw->up_t = sw_teal_transpose(w->up, w->ld_up, w->dtype, w->d_ff, w->d_model);
  if (w->gated) tw->gate_t = sw_teal_transpose(w->gate, w->ld_gate, w->dtype, w->d_ff, w->d_model);
  if (!tw->up_t || (w->gated && !tw->gate_t)) {
    sw_teal_weights_free(tw);
    return sw_err_set(err, SW_ERR_NOMEM, "teal: out of memory for transposed weights");
  }
  return SW_OK;
}

void sw_teal_weights_free(sw_teal_weights_t *tw) {
  if (!tw) return;
  free(tw->gate_t);
  free(tw->up_t);
  memset(tw, 0, sizeof *tw);
}

static sw_rc sw_teal_rule(float *t, const float *v, size_t n, double s, int signed_cdf, sw_err_t *err) {
  return signed_cdf ? sw_calib_teal(t, v, n, s, err) : sw_calib_abs_quantile(t, v, n, s, err);
}

/* h of x̃ = x·1[|x| > t_x] for n_tok tokens, in chunks of the workspace's size. */
static sw_rc sw_teal_masked_h(float *h, const float *x, float t_x, const sw_ffn_weights_t *w, int n_tok, sw_err_t *err) {
  enum { CHUNK = 64 };
  size_t        nx = (size_t)n_tok * w->d_model;
  float        *xm = malloc(nx * sizeof *xm), *g = malloc((size_t)CHUNK * w->d_ff * sizeof *g);
  sw_ffn_work_t work;
  sw_rc         rc = xm && g ? sw_ffn_work_alloc(&work, w->d_model, w->d_ff, CHUNK, 1, err)
                             : sw_err_set(err, SW_ERR_NOMEM, "teal: out of memory for %d calibration tokens", n_tok);
  if (rc) return free(xm), free(g), rc;
  for (size_t k = 0; k < nx; k++) xm[k] = fabsf(x[k]) > t_x ? x[k] : 0.0f;
  for (int t0 = 0; !rc && t0 < n_tok; t0 += CHUNK) {
    int c = n_tok - t0 < CHUNK ? n_tok - t0 : CHUNK;
    rc = sw_ffn_dense_acts(g, NULL, h + (size_t)t0 * w->d_ff, xm + (size_t)t0 * w->d_model, w, &work, c);
    if (rc) sw_err_set(err, rc, "teal: activations of the calibration tokens failed");
  }
  sw_ffn_work_free(&work);
  free(xm);
  free(g);
  return rc;
}

sw_rc sw_teal_calibrate(sw_teal_policy_t *p, const sw_ffn_weights_t *w, const float *x, int n_tok, double s,
                        int signed_cdf, sw_err_t *err) {
  p->target = s;
  sw_rc  rc = sw_teal_rule(&p->t_x, x, (size_t)n_tok * w->d_model, s, signed_cdf, err);
  float *h = rc ? NULL : malloc((size_t)n_tok * w->d_ff * sizeof *h);
  if (!rc && !h) rc = sw_err_set(err, SW_ERR_NOMEM, "teal: out of memory for %d calibration tokens", n_tok);
  if (!rc) rc = sw_teal_masked_h(h, x, p->t_x, w, n_tok, err);
  if (!rc) rc = sw_teal_rule(&p->t_h, h, (size_t)n_tok * w->d_ff, s, signed_cdf, err);
  free(h);
  return rc;
}

/* Marks of the input rows read during one call (a row shared by several tokens is read once, kernels/sw_ffn.h):
 * x channels after the x index list, h neurons at the start of the int scratch (unused by this path). */
static int32_t *sw_teal_marks_x(const sw_ffn_work_t *work) { return work->i32 + 3 * (size_t)work->d_ff + work->d_model; }
static int32_t *sw_teal_marks_h(const sw_ffn_work_t *work) { return work->i32; }

/* One token; returns the active down inputs, *nx the active x channels; marks the rows it read. */
static int sw_teal_token(float *out, const float *x, const sw_teal_weights_t *tw, const sw_teal_policy_t *p,
                         sw_ffn_work_t *work, int *nx) {
  const sw_ffn_weights_t *w = tw->base;
  int                     d = w->d_model, f = w->d_ff;
  int32_t                *idx_h = sw_work_list(work), *idx_x = work->i32 + 3 * (size_t)work->d_ff;
  float                  *g = sw_work_gact(work), *u = sw_work_u(work), *h = sw_work_h(work);
  int                     n = 0;
  for (int j = 0; j < d; j++)
    if (fabsf(x[j]) > p->t_x) idx_x[n++] = j;
  *nx = n;
  for (int k = 0; k < n; k++) sw_teal_marks_x(work)[idx_x[k]] = 1;
  sw_gemv_in_sparse_idx(u, tw->up_t, tw->ld_t, w->dtype, x, idx_x, n, f, work->isa);
  if (w->gated) {
    sw_gemv_in_sparse_idx(g, tw->gate_t, tw->ld_t, w->dtype, x, idx_x, n, f, work->isa);
    sw_act_apply_gated(h, g, u, w->act, w->act_param, (size_t)f);
  } else {
    for (int i = 0; i < f; i++) h[i] = sw_act_1(w->act, u[i] + (w->b_up ? w->b_up[i] : 0.0f), w->act_param);
  }
  int m = 0;
  for (int i = 0; i < f; i++)
    if (fabsf(h[i]) > p->t_h) idx_h[m++] = i;
  for (int k = 0; k < m; k++) sw_teal_marks_h(work)[idx_h[k]] = 1;
  sw_gemv_in_sparse_idx(out, w->down, w->ld_down, w->dtype, h, idx_h, m, d, work->isa);
  if (w->b_down)
    for (int j = 0; j < d; j++) out[j] += w->b_down[j];
  return m;
}

sw_rc sw_ffn_teal_forward(float *out, const float *x, const sw_teal_weights_t *tw, const sw_teal_policy_t *p,
                          sw_ffn_stats_t *stats, int64_t *input_active, sw_ffn_work_t *work, int n_tok) {
  const sw_ffn_weights_t *w = tw ? tw->base : NULL;
  if (!w || !p || sw_ffn_check(w, work, n_tok) != SW_OK || !tw->up_t || (w->gated && !tw->gate_t) ||
      2 * (size_t)w->d_model > (size_t)work->d_ff * ((size_t)work->max_tok + 1))
    return SW_ERR_INVALID;
  int64_t nh = 0, nx = 0, rows_x = 0, rows_h = 0;
  memset(sw_teal_marks_x(work), 0, (size_t)w->d_model * sizeof(int32_t));
  memset(sw_teal_marks_h(work), 0, (size_t)w->d_ff * sizeof(int32_t));
  for (int t = 0; t < n_tok; t++) {
    int k = 0;
    nh += sw_teal_token(out + (size_t)t * w->d_model, x + (size_t)t * w->d_model, tw, p, work, &k);
    nx += k;
  }
  if (input_active) *input_active = nx;
  for (int j = 0; j < w->d_model; j++) rows_x += sw_teal_marks_x(work)[j];
  for (int i = 0; i < w->d_ff; i++) rows_h += sw_teal_marks_h(work)[i];
  if (stats) {
    double esz = w->dtype == SW_DTYPE_BF16 ? 2.0 : 4.0, in_mats = w->gated ? 2.0 : 1.0;
    memset(stats, 0, sizeof *stats);
    stats->flops = 2.0 * in_mats * (double)nx * w->d_ff + 2.0 * (double)nh * w->d_model +
                   (w->gated ? (double)n_tok * w->d_ff : 0.0);
    stats->flops_dense = (w->gated ? 6.0 * w->d_model + 1.0 : 4.0 * w->d_model) * (double)w->d_ff * n_tok;
    stats->flops_select = (double)n_tok * (w->d_model + w->d_ff); /* the two threshold comparisons */
    stats->flops += stats->flops_select;
    /* per call: each input row of gate/up (d_ff wide) and down (d_model wide) read once if any token needs it */
    stats->weight_bytes = (in_mats * (double)rows_x * w->d_ff + (double)rows_h * w->d_model) * esz;
    stats->weight_bytes_dense = (double)sw_ffn_weights_bytes(w);
    stats->neurons_executed = nh;
    stats->neurons_total = (int64_t)n_tok * w->d_ff;
    stats->rows_read = rows_h;
    stats->tokens = n_tok;
    stats->calls = 1;
  }
  return SW_OK;
}
