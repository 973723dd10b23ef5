/* sw_teal_alloc: TEAL's uniform and greedy per-input sparsities (models/sw_teal_alloc.h). */
#include "models/sw_teal_alloc.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_policy.h"
#include "kernels/sw_teal_greedy.h"

enum { GRID = 20 }; /* sparsities 0, STEP, ..., SW_TEAL_ALLOC_MAX */

sw_rc sw_teal_alloc_parse(const char *text, int *greedy, sw_err_t *err) {
  if (strcmp(text, "uniform") == 0) return *greedy = 0, SW_OK;
  if (strcmp(text, "greedy") == 0) return *greedy = 1, SW_OK;
  return sw_err_set(err, SW_ERR_PARSE, "model: teal_alloc '%s' (uniform, greedy)", text);
}

/* One sparsified input: its calibration values and the matrices (rows × in, row-major) it feeds. */
typedef struct alloc_input {
  const float *v;       /* (n, in) */
  int          in;
  const float *mat[3];  /* up to three matrices; NULL-terminated */
  int          rows[3];
  int          transposed; /* 1: mat[0] is (in, rows) (the neuron-major down rows) */
} alloc_input_t;

/* ‖Y‖² of Y = V Wᵀ (or V W when transposed) for the sub-sampled rows of V. */
static double out_energy(const alloc_input_t *p, const float *v, int n, float *y) {
  double e = 0;
  for (int m = 0; m < 3 && p->mat[m]; m++) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, p->transposed ? CblasNoTrans : CblasTrans, n, p->rows[m], p->in, 1.0f, v,
                p->in, p->mat[m], p->transposed ? p->rows[m] : p->in, 0.0f, y, p->rows[m]);
    for (size_t k = 0; k < (size_t)n * p->rows[m]; k++) e += (double)y[k] * y[k];
  }
  return e;
}

/* err[g] = relative output error at sparsity g·STEP, g = 0..GRID-1 (thresholds from all n tokens). */
static sw_rc error_curve(const alloc_input_t *p, int n, double *curve, sw_err_t *err) {
  int ns = n < SW_TEAL_ALLOC_TOKENS ? n : SW_TEAL_ALLOC_TOKENS, rows = 0;
  for (int m = 0; m < 3 && p->mat[m]; m++) rows = p->rows[m] > rows ? p->rows[m] : rows;
  float *sub = malloc((size_t)ns * p->in * sizeof *sub), *d = malloc((size_t)ns * p->in * sizeof *d);
  float *y = malloc((size_t)ns * rows * sizeof *y);
  sw_rc rc = sub && d && y ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "teal_alloc: out of memory");
  for (int t = 0; !rc && t < ns; t++) memcpy(sub + (size_t)t * p->in, p->v + (size_t)(t * n / ns) * p->in, p->in * sizeof *sub);
  double base = rc ? 0 : out_energy(p, sub, ns, y), level[GRID];
  float  th[GRID];
  for (int g = 0; g < GRID; g++) level[g] = g * SW_TEAL_ALLOC_STEP;
  if (!rc) rc = sw_calib_teal_levels(th, p->v, (size_t)n * p->in, level, GRID, err); /* one sort for the grid */
  for (int g = 0; !rc && g < GRID; g++) {
    for (size_t k = 0; k < (size_t)ns * p->in; k++) d[k] = fabsf(sub[k]) > th[g] ? 0.0f : sub[k]; /* x - x̃ */
    curve[g] = base > 0 ? out_energy(p, d, ns, y) / base : 0.0;
  }
  free(sub), free(d), free(y);
  return rc;
}

typedef struct alloc_curves {
  double e[SW_TEAL_INPUTS][GRID];
} alloc_curves_t;

/* Σ_i curve_i(s_i), linear between grid points. */
static double block_error(void *ctx, const double *s, int n) {
  const alloc_curves_t *c = ctx;
  double total = 0;
  for (int i = 0; i < n; i++) {
    double pos = s[i] / SW_TEAL_ALLOC_STEP;
    int g = (int)pos < GRID - 1 ? (int)pos : GRID - 2;
    double f = pos - g;
    total += c->e[i][g] * (1 - f) + c->e[i][g + 1] * f;
  }
  return total;
}

static void layer_inputs(const sw_method_t *M, int l, const float *x, const float *a, const float *h, int n,
                         alloc_input_t in[SW_TEAL_INPUTS]) {
  const sw_llama_config_t *c = &M->model->cfg;
  const sw_llama_weights_t *w = &M->model->w;
  int d = c->d_model, f = c->d_ff, qd = c->n_head * c->head_dim, kvd = c->n_head_kv * c->head_dim;
  size_t na = (size_t)n * d;
  memset(in, 0, SW_TEAL_INPUTS * sizeof *in);
  in[SW_TEAL_IN_QKV] = (alloc_input_t){a, d, {w->wq + (size_t)l * qd * d, w->wk + (size_t)l * kvd * d,
                                              w->wv + (size_t)l * kvd * d}, {qd, kvd, kvd}, 0};
  in[SW_TEAL_IN_O] = (alloc_input_t){a + na, qd, {w->wo + (size_t)l * d * qd}, {d}, 0};
  in[SW_TEAL_IN_FFN] = (alloc_input_t){x, d, {w->w_gate + (size_t)l * f * d, w->w_up + (size_t)l * f * d}, {f, f}, 0};
  in[SW_TEAL_IN_DOWN] = (alloc_input_t){h, f, {w->w_down_t + (size_t)l * f * d}, {d}, 1};
}

sw_rc sw_teal_alloc_levels(const sw_method_t *M, int l, const float *x, const float *a, const float *h, int n,
                           double levels[SW_TEAL_INPUTS], sw_err_t *err) {
  for (int i = 0; i < SW_TEAL_INPUTS; i++) levels[i] = M->cfg.level;
  if (!M->cfg.teal_greedy || M->cfg.level == 0.0) return SW_OK; /* at 0 the greedy loop takes no step */
  if (M->cfg.level > SW_TEAL_ALLOC_MAX)
    return sw_err_set(err, SW_ERR_RANGE, "teal_alloc greedy: level %g above %g", M->cfg.level, SW_TEAL_ALLOC_MAX);
  alloc_input_t in[SW_TEAL_INPUTS];
  layer_inputs(M, l, x, a, h, n, in);
  alloc_curves_t curves;
  double size[SW_TEAL_INPUTS];
  for (int i = 0; i < SW_TEAL_INPUTS; i++) {
    size[i] = 0;
    for (int m = 0; m < 3 && in[i].mat[m]; m++) size[i] += (double)in[i].rows[m] * in[i].in;
    sw_rc rc = error_curve(&in[i], n, curves.e[i], err);
    if (rc) return rc;
  }
  sw_teal_greedy_cfg_t cfg = {SW_TEAL_INPUTS, size, M->cfg.level, SW_TEAL_ALLOC_STEP, SW_TEAL_ALLOC_MAX};
  return sw_teal_greedy(levels, &cfg, block_error, &curves, NULL, err);
}
