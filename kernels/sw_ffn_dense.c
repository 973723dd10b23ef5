/* sw_ffn_dense: dense FFN baseline on OpenBLAS (sgemv for one token, sgemm for more; row strides let the
 * interleaved neuron-major layout be used as is), bf16 through the gathered kernel with every neuron active,
 * and the naive float64 reference. */
#include "kernels/sw_ffn_dense.h"

#include <cblas.h>
#include <string.h>

#include "kernels/sw_ffn_internal.h"
#include "kernels/sw_flops.h"
#include "kernels/sw_gather.h"

/* y[i] = row_i · x for i < rows, bf16 rows, 4 rows per pass. */
static void sw_matvec_gathered(const sw_simd_t *k, float *y, const void *m, size_t ld, sw_dtype_t dtype, const float *x,
                               int rows, int d) {
  size_t esz = dtype == SW_DTYPE_BF16 ? 2u : 4u;
  for (int i = 0; i < rows; i += 4) {
    const void *r[4], *pf[4];
    float       v[4];
    for (int q = 0; q < 4; q++) {
      int ii = i + q < rows ? i + q : rows - 1, in = i + 4 + q < rows ? i + 4 + q : ii;
      r[q] = (const char *)m + (size_t)ii * ld * esz;
      pf[q] = (const char *)m + (size_t)in * ld * esz;
    }
    sw_gather_dot4(k, v, r, pf, dtype, x, d);
    for (int q = 0; q < 4 && i + q < rows; q++) y[i + q] = v[q];
  }
}

/* y (n_tok × rows) = x (n_tok × d) · Mᵀ. */
static void sw_project(float *y, const void *m, size_t ld, const sw_ffn_weights_t *w, const float *x, int n_tok,
                       const sw_simd_t *k) {
  int d = w->d_model, f = w->d_ff;
  if (w->dtype == SW_DTYPE_BF16) {
    for (int t = 0; t < n_tok; t++) sw_matvec_gathered(k, y + (size_t)t * f, m, ld, w->dtype, x + (size_t)t * d, f, d);
  } else if (n_tok == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, f, d, 1.0f, (const float *)m, (int)ld, x, 1, 0.0f, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, f, d, 1.0f, x, d, (const float *)m, (int)ld, 0.0f, y,
                f);
  }
}

void sw_ffn_compute_acts(float *gact, float *u, float *h, const float *x, const sw_ffn_weights_t *w, int n_tok,
                         const sw_ffn_work_t *work) {
  const sw_simd_t *k = sw_simd_get(work->isa);
  size_t n = (size_t)n_tok * w->d_ff;
  if (n_tok <= 0) return;
  if (w->gated) {
    sw_project(gact, w->gate, w->ld_gate, w, x, n_tok, k);
    sw_act_apply(gact, gact, w->act, w->act_param, n);
    float *uu = u ? u : h;
    if (uu) sw_project(uu, w->up, w->ld_up, w, x, n_tok, k);
    if (h)
      for (size_t i = 0; i < n; i++) h[i] = gact[i] * uu[i];
    return;
  }
  sw_project(gact, w->up, w->ld_up, w, x, n_tok, k);
  for (int t = 0; t < n_tok && w->b_up; t++)
    for (int i = 0; i < w->d_ff; i++) gact[(size_t)t * w->d_ff + i] += w->b_up[i];
  sw_act_apply(gact, gact, w->act, w->act_param, n);
  if (h) memcpy(h, gact, n * sizeof *h);
}

sw_rc sw_ffn_dense_acts(float *gact, float *u, float *h, const float *x, const sw_ffn_weights_t *w,
                        sw_ffn_work_t *work, int n_tok) {
  if (sw_ffn_check(w, work, n_tok) != SW_OK || !gact) return SW_ERR_INVALID;
  sw_ffn_compute_acts(gact, w->gated ? u : NULL, h, x, w, n_tok, work);
  return SW_OK;
}

static void sw_dense_stats(sw_ffn_stats_t *st, const sw_ffn_weights_t *w, int n_tok) {
  if (!st) return;
  memset(st, 0, sizeof *st);
  st->flops = st->flops_dense = sw_flops_ffn_dense(w->d_model, w->d_ff, w->gated, n_tok);
  st->weight_bytes = st->weight_bytes_dense = (double)sw_ffn_weights_bytes(w);
  st->neurons_executed = st->neurons_total = (int64_t)n_tok * w->d_ff;
  st->rows_read = w->d_ff;
  st->tokens = n_tok;
  st->calls = 1;
}

sw_rc sw_ffn_dense_forward(float *out, const float *x, const sw_ffn_weights_t *w, sw_ffn_stats_t *stats,
                           sw_ffn_work_t *work, int n_tok) {
  if (sw_ffn_check(w, work, n_tok) != SW_OK) return SW_ERR_INVALID;
  int d = w->d_model, f = w->d_ff;
  sw_dense_stats(stats, w, n_tok);
  if (n_tok == 0) return SW_OK;
  if (w->dtype == SW_DTYPE_BF16) {
    int32_t *all = sw_work_list(work);
    for (int i = 0; i < f; i++) all[i] = i;
    sw_sel_t sel = {NULL, NULL, all, f};
    int64_t  rows = 0;
    sw_ffn_exec(out, x, w, &sel, NULL, NULL, work, n_tok, &rows);
    return SW_OK;
  }
  float *h = sw_work_h(work);
  sw_ffn_compute_acts(sw_work_gact(work), w->gated ? sw_work_u(work) : NULL, h, x, w, n_tok, work);
  if (n_tok == 1)
    cblas_sgemv(CblasRowMajor, CblasTrans, f, d, 1.0f, (const float *)w->down, (int)w->ld_down, h, 1, 0.0f, out, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_tok, d, f, 1.0f, h, f, (const float *)w->down,
                (int)w->ld_down, 0.0f, out, d);
  for (int t = 0; t < n_tok && w->b_down; t++)
    for (int j = 0; j < d; j++) out[(size_t)t * d + j] += w->b_down[j];
  return SW_OK;
}

static double sw_ref_dot(const void *m, size_t ld, sw_dtype_t dtype, int row, const float *x, int d) {
  double s = 0.0;
  for (int j = 0; j < d; j++) s += (double)sw_ffn_weight_at(m, ld, dtype, row, j) * (double)x[j];
  return s;
}

void sw_ffn_reference_f64(double *out, const float *x, const sw_ffn_weights_t *w, const sw_mask_t *mask, int n_tok) {
  int d = w->d_model, f = w->d_ff;
  for (int t = 0; t < n_tok; t++) {
    const float *xt = x + (size_t)t * d;
    double      *o = out + (size_t)t * d;
    for (int j = 0; j < d; j++) o[j] = w->b_down ? (double)w->b_down[j] : 0.0;
    int64_t n = mask ? mask->off[t + 1] - mask->off[t] : f;
    for (int64_t k = 0; k < n; k++) {
      int    i = mask ? mask->idx[mask->off[t] + k] : (int)k;
      double hv;
      if (w->gated) {
        double g = sw_ref_dot(w->gate, w->ld_gate, w->dtype, i, xt, d);
        hv = sw_act_ref(w->act, g, w->act_param) * sw_ref_dot(w->up, w->ld_up, w->dtype, i, xt, d);
      } else {
        double a = sw_ref_dot(w->up, w->ld_up, w->dtype, i, xt, d) + (w->b_up ? (double)w->b_up[i] : 0.0);
        hv = sw_act_ref(w->act, a, w->act_param);
      }
      for (int j = 0; j < d; j++) o[j] += hv * (double)sw_ffn_weight_at(w->down, w->ld_down, w->dtype, i, j);
    }
  }
}
