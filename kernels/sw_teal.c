/* sw_teal: TEAL FFN — transposed gate/up copies, per-tensor calibration and the input-sparse forward built on
 * sw_gemv_sparse (rows of active input channels only, 4 at a time with prefetch). */
#include "kernels/sw_teal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

sw_rc sw_teal_calibrate(sw_teal_policy_t *p, const float *x, const float *h, int n_tok, int d_model, int d_ff, double s,
                        sw_err_t *err) {
  p->target = s;
  sw_rc rc = sw_calib_teal(&p->t_x, x, (size_t)n_tok * d_model, s, err);
  if (rc == SW_OK) rc = sw_calib_teal(&p->t_h, h, (size_t)n_tok * d_ff, s, err);
  return rc;
}

/* One token; returns the active down inputs, *nx the active x channels. */
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
  sw_gemv_in_sparse_idx(out, w->down, w->ld_down, w->dtype, h, idx_h, m, d, work->isa);
  if (w->b_down)
    for (int j = 0; j < d; j++) out[j] += w->b_down[j];
  return m;
}

sw_rc sw_ffn_teal_forward(float *out, const float *x, const sw_teal_weights_t *tw, const sw_teal_policy_t *p,
                          sw_ffn_stats_t *stats, int64_t *input_active, sw_ffn_work_t *work, int n_tok) {
  const sw_ffn_weights_t *w = tw ? tw->base : NULL;
  if (!w || !p || sw_ffn_check(w, work, n_tok) != SW_OK || !tw->up_t || (w->gated && !tw->gate_t) ||
      (size_t)w->d_model > (size_t)work->d_ff * ((size_t)work->max_tok + 1))
    return SW_ERR_INVALID;
  int64_t nh = 0, nx = 0;
  for (int t = 0; t < n_tok; t++) {
    int k = 0;
    nh += sw_teal_token(out + (size_t)t * w->d_model, x + (size_t)t * w->d_model, tw, p, work, &k);
    nx += k;
  }
  if (input_active) *input_active = nx;
  if (stats) {
    double esz = w->dtype == SW_DTYPE_BF16 ? 2.0 : 4.0, in_mats = w->gated ? 2.0 : 1.0;
    memset(stats, 0, sizeof *stats);
    stats->flops = 2.0 * in_mats * (double)nx * w->d_ff + 2.0 * (double)nh * w->d_model +
                   (w->gated ? (double)n_tok * w->d_ff : 0.0);
    stats->flops_dense = (w->gated ? 6.0 * w->d_model + 1.0 : 4.0 * w->d_model) * (double)w->d_ff * n_tok;
    stats->flops_select = (double)n_tok * (w->d_model + w->d_ff); /* the two threshold comparisons */
    stats->flops += stats->flops_select;
    stats->weight_bytes = (in_mats * (double)nx * w->d_ff + (double)nh * w->d_model) * esz;
    stats->weight_bytes_dense = (double)sw_ffn_weights_bytes(w);
    stats->neurons_executed = nh;
    stats->neurons_total = (int64_t)n_tok * w->d_ff;
    stats->rows_read = nh;
    stats->tokens = n_tok;
    stats->calls = 1;
  }
  return SW_OK;
}
