/* sw_prune: magnitude, Wanda and SparseGPT pruning (see models/sw_prune.h for the methods and their papers). */
#include "models/sw_prune.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (exported by libopenblas; no lapacke.h on the build machines).  The trailing length is the hidden
 * Fortran string-length argument, ignored by OpenBLAS's C implementations. */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);

static const char *const k_method_names[SW_PRUNE_COUNT] = {"magnitude", "wanda", "sparsegpt"};

const char *sw_prune_method_name(sw_prune_method_t m) {
  return m >= 0 && m < SW_PRUNE_COUNT ? k_method_names[m] : "?";
}

sw_rc sw_prune_method_parse(const char *s, sw_prune_method_t *out, sw_err_t *err) {
  for (int i = 0; i < SW_PRUNE_COUNT; i++)
    if (strcmp(s, k_method_names[i]) == 0) return *out = (sw_prune_method_t)i, SW_OK;
  return sw_err_set(err, SW_ERR_PARSE, "prune: unknown method '%s' (magnitude, wanda, sparsegpt)", s);
}

sw_rc sw_prune_pattern_parse(const char *s, sw_prune_pattern_t *out, sw_err_t *err) {
  if (strcmp(s, "unstructured") == 0) return *out = SW_PRUNE_UNSTRUCTURED, SW_OK;
  if (strcmp(s, "2:4") == 0) return *out = SW_PRUNE_NM24, SW_OK;
  return sw_err_set(err, SW_ERR_PARSE, "prune: unknown pattern '%s' (unstructured, 2:4)", s);
}

void sw_prune_gram(float *h, const float *x, int n, int cols) {
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, cols, n, 1.0f, x, cols, 0.0f, h, cols);
  for (int i = 0; i < cols; i++)
    for (int j = 0; j < i; j++) h[(size_t)i * cols + j] = h[(size_t)j * cols + i];
}

typedef struct prune_item {
  float score;
  int   idx;
} prune_item_t;

static int cmp_item(const void *a, const void *b) {
  const prune_item_t *x = a, *y = b;
  return x->score < y->score ? -1 : x->score > y->score ? 1 : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Zeroes the k lowest-scoring of the n entries listed in it (it[i].idx indexes w). */
static void zero_lowest(float *w, prune_item_t *it, size_t n, size_t k) {
  qsort(it, n, sizeof *it, cmp_item);
  for (size_t i = 0; i < k && i < n; i++) w[it[i].idx] = 0.0f;
}

/* Score of weight (r, c): |w| (magnitude) or |w|·‖X_c‖ (wanda; hd = diagonal of XᵀX). */
static float score_of(const float *w, const float *hd, size_t i, int c) {
  return hd ? fabsf(w[i]) * sqrtf(hd[c]) : fabsf(w[i]);
}

/* 2:4 by score: in each group of 4 of a row the two lowest scores are zeroed. */
static void prune_24_by_score(float *w, int rows, int cols, const float *hd) {
  for (int r = 0; r < rows; r++)
    for (int g = 0; g < cols; g += 4) {
      prune_item_t it[4];
      for (int i = 0; i < 4; i++) it[i] = (prune_item_t){score_of(w, hd, (size_t)r * cols + g + i, g + i), g + i};
      qsort(it, 4, sizeof *it, cmp_item);
      w[(size_t)r * cols + it[0].idx] = 0.0f, w[(size_t)r * cols + it[1].idx] = 0.0f;
    }
}

/* Unstructured: magnitude over the whole matrix (layer-wise), wanda per output row (the paper's comparison group). */
static sw_rc prune_unstructured_by_score(float *w, int rows, int cols, const float *hd, double s, sw_err_t *err) {
  size_t        n = hd ? (size_t)cols : (size_t)rows * cols;
  prune_item_t *it = malloc(n * sizeof *it);
  if (!it) return sw_err_set(err, SW_ERR_NOMEM, "prune: out of memory");
  if (!hd) {
    for (size_t i = 0; i < n; i++) it[i] = (prune_item_t){fabsf(w[i]), (int)i};
    zero_lowest(w, it, n, (size_t)floor(s * (double)n));
  }
  for (int r = 0; hd && r < rows; r++) {
    float *row = w + (size_t)r * cols;
    for (int c = 0; c < cols; c++) it[c] = (prune_item_t){score_of(row, hd, (size_t)c, c), c};
    zero_lowest(row, it, n, (size_t)floor(s * (double)cols));
  }
  free(it);
  return SW_OK;
}

/* ---- SparseGPT ---- */

/* u (cols x cols, row-major, upper triangle used) = upper Cholesky factor of (h + damp)⁻¹; dead inputs
 * (h_jj = 0) get h_jj = 1 and their weights zeroed. */
static sw_rc sgpt_hinv_factor(float *u, const float *h, float *w, int rows, int cols, sw_err_t *err) {
  double mean = 0.0;
  memcpy(u, h, (size_t)cols * cols * sizeof *u);
  for (int j = 0; j < cols; j++) {
    float *d = &u[(size_t)j * cols + j];
    if (*d == 0.0f) {
      *d = 1.0f;
      for (int r = 0; r < rows; r++) w[(size_t)r * cols + j] = 0.0f;
    }
    mean += *d;
  }
  float damp = (float)(SW_PRUNE_DAMP * mean / cols);
  for (int j = 0; j < cols; j++) u[(size_t)j * cols + j] += damp;
  /* column-major "L" on a row-major buffer works on the row-major upper triangle (the matrix is symmetric) */
  int n = cols, info = 0;
  spotrf_("L", &n, u, &n, &info, 1);
  if (!info) spotri_("L", &n, u, &n, &info, 1);
  if (info) return sw_err_set(err, SW_ERR_INTERNAL, "sparsegpt: Cholesky of H failed (LAPACK info %d)", info);
  for (int i = 0; i < cols; i++) /* H⁻¹ in the upper triangle: mirror it */
    for (int j = 0; j < i; j++) u[(size_t)i * cols + j] = u[(size_t)j * cols + i];
  spotrf_("L", &n, u, &n, &info, 1); /* row-major upper R with H⁻¹ = RᵀR */
  if (info) return sw_err_set(err, SW_ERR_INTERNAL, "sparsegpt: Cholesky of H^-1 failed (LAPACK info %d)", info);
  return SW_OK;
}

/* Mask of block [j1, j2) (1 = prune): the lowest w²/u_jj² over the block's rows x columns, k of them. */
static void sgpt_block_mask(uint8_t *mask, const float *w, const float *u, int rows, int cols, int j1, int j2,
                            double s, prune_item_t *it) {
  int    nb = j2 - j1;
  size_t n = (size_t)rows * nb;
  for (int r = 0; r < rows; r++)
    for (int j = j1; j < j2; j++) {
      float v = w[(size_t)r * cols + j], d = u[(size_t)j * cols + j];
      it[(size_t)r * nb + (j - j1)] = (prune_item_t){v * v / (d * d), r * nb + (j - j1)};
    }
  qsort(it, n, sizeof *it, cmp_item);
  memset(mask, 0, n);
  for (size_t i = 0; i < (size_t)floor(s * (double)n); i++) mask[it[i].idx] = 1;
}

/* 2:4 mask of columns [j, j+4) of every row from the current (updated) weights. */
static void sgpt_group_mask(uint8_t *mask, const float *w, const float *u, int rows, int cols, int j1, int j) {
  int nb = SW_PRUNE_BLOCK;
  for (int r = 0; r < rows; r++) {
    prune_item_t it[4];
    for (int i = 0; i < 4; i++) {
      float v = w[(size_t)r * cols + j + i], d = u[(size_t)(j + i) * cols + j + i];
      it[i] = (prune_item_t){v * v / (d * d), i};
    }
    qsort(it, 4, sizeof *it, cmp_item);
    for (int i = 0; i < 4; i++) mask[(size_t)r * nb + (j - j1) + i] = 0;
    mask[(size_t)r * nb + (j - j1) + it[0].idx] = mask[(size_t)r * nb + (j - j1) + it[1].idx] = 1;
  }
}

/* One block: prune column by column, compensating within the block; err (rows x nb) for the later columns. */
static void sgpt_block(float *w, const float *u, int rows, int cols, int j1, int j2, const sw_prune_cfg_t *cfg,
                       uint8_t *mask, float *err, prune_item_t *it) {
  const int nb = j2 - j1, ldm = cfg->pattern == SW_PRUNE_NM24 ? SW_PRUNE_BLOCK : nb;
  if (cfg->pattern == SW_PRUNE_UNSTRUCTURED) sgpt_block_mask(mask, w, u, rows, cols, j1, j2, cfg->sparsity, it);
  for (int j = j1; j < j2; j++) {
    if (cfg->pattern == SW_PRUNE_NM24 && (j - j1) % 4 == 0) sgpt_group_mask(mask, w, u, rows, cols, j1, j);
    const float  d = u[(size_t)j * cols + j];
    const float *uj = u + (size_t)j * cols;
    for (int r = 0; r < rows; r++) {
      float *wr = w + (size_t)r * cols;
      float  e = mask[(size_t)r * ldm + (j - j1)] ? wr[j] / d : 0.0f;
      if (mask[(size_t)r * ldm + (j - j1)]) wr[j] = 0.0f;
      for (int k = j + 1; k < j2; k++) wr[k] -= e * uj[k];
      err[(size_t)r * nb + (j - j1)] = e;
    }
  }
  if (j2 < cols) /* W[:, j2:] -= Err · U[j1:j2, j2:] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols - j2, nb, -1.0f, err, nb,
                u + (size_t)j1 * cols + j2, cols, 1.0f, w + j2, cols);
}

static sw_rc prune_sparsegpt(float *w, int rows, int cols, const float *h, const sw_prune_cfg_t *cfg, sw_err_t *err) {
  float        *u = malloc((size_t)cols * cols * sizeof *u);
  float        *e = malloc((size_t)rows * SW_PRUNE_BLOCK * sizeof *e);
  uint8_t      *mask = malloc((size_t)rows * SW_PRUNE_BLOCK);
  prune_item_t *it = malloc((size_t)rows * SW_PRUNE_BLOCK * sizeof *it);
  sw_rc         rc = !u || !e || !mask || !it ? sw_err_set(err, SW_ERR_NOMEM, "sparsegpt: out of memory") : SW_OK;
  if (!rc) rc = sgpt_hinv_factor(u, h, w, rows, cols, err);
  for (int j1 = 0; !rc && j1 < cols; j1 += SW_PRUNE_BLOCK)
    sgpt_block(w, u, rows, cols, j1, j1 + SW_PRUNE_BLOCK < cols ? j1 + SW_PRUNE_BLOCK : cols, cfg, mask, e, it);
  free(u), free(e), free(mask), free(it);
  return rc;
}

sw_rc sw_prune_matrix(float *w, int rows, int cols, const float *h, const sw_prune_cfg_t *cfg, sw_err_t *err) {
  if (rows <= 0 || cols <= 0) return sw_err_set(err, SW_ERR_INVALID, "prune: %d x %d matrix", rows, cols);
  if (cfg->pattern == SW_PRUNE_UNSTRUCTURED && !(cfg->sparsity >= 0.0 && cfg->sparsity < 1.0))
    return sw_err_set(err, SW_ERR_INVALID, "prune: sparsity %g outside [0, 1)", cfg->sparsity);
  if (cfg->pattern == SW_PRUNE_NM24 && cols % 4)
    return sw_err_set(err, SW_ERR_INVALID, "prune: 2:4 needs a multiple of 4 inputs, not %d", cols);
  if (cfg->method != SW_PRUNE_MAGNITUDE && !h)
    return sw_err_set(err, SW_ERR_INVALID, "prune: %s needs calibration inputs", sw_prune_method_name(cfg->method));
  if (cfg->method == SW_PRUNE_SPARSEGPT) return prune_sparsegpt(w, rows, cols, h, cfg, err);
  float *hd = NULL;
  if (cfg->method == SW_PRUNE_WANDA) {
    if (!(hd = malloc((size_t)cols * sizeof *hd))) return sw_err_set(err, SW_ERR_NOMEM, "prune: out of memory");
    for (int c = 0; c < cols; c++) hd[c] = h[(size_t)c * cols + c];
  }
  sw_rc rc = SW_OK;
  if (cfg->pattern == SW_PRUNE_NM24) prune_24_by_score(w, rows, cols, hd);
  else rc = prune_unstructured_by_score(w, rows, cols, hd, cfg->sparsity, err);
  free(hd);
  return rc;
}

/* ---- whole model ---- */

/* Prunes w (rows x cols, row stride cols) or, when transposed, the matrix stored as its transpose (cols x rows). */
static sw_rc prune_linear(float *w, int rows, int cols, int transposed, const float *h, const sw_prune_cfg_t *cfg,
                          sw_err_t *err) {
  if (!transposed) return sw_prune_matrix(w, rows, cols, h, cfg, err);
  float *t = malloc((size_t)rows * cols * sizeof *t);
  if (!t) return sw_err_set(err, SW_ERR_NOMEM, "prune: out of memory");
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) t[(size_t)r * cols + c] = w[(size_t)c * rows + r];
  sw_rc rc = sw_prune_matrix(t, rows, cols, h, cfg, err);
  for (int r = 0; !rc && r < rows; r++)
    for (int c = 0; c < cols; c++) w[(size_t)c * rows + r] = t[(size_t)r * cols + c];
  free(t);
  return rc;
}

/* h = SiLU(x W_gateᵀ) ⊙ (x W_upᵀ) for the recorded FFN inputs x (n x d) of one layer: (n x f). */
static void ffn_hidden(float *hid, float *tmp, const float *x, const float *wg, const float *wu, int n, int d, int f) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, f, d, 1.0f, x, d, wg, d, 0.0f, hid, f);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, f, d, 1.0f, x, d, wu, d, 0.0f, tmp, f);
  for (size_t i = 0; i < (size_t)n * f; i++) hid[i] = hid[i] / (1.0f + expf(-hid[i])) * tmp[i];
}

typedef struct prune_layer_buf {
  float *h_d, *h_f, *hid, *tmp; /* Gram matrices d x d and f x f, FFN hidden n x f (twice) */
} prune_layer_buf_t;

/* The calibration statistic of one input site into h (cols x cols): NULL for magnitude (none needed), only the
 * diagonal ‖X_c‖² for Wanda, the full XᵀX for SparseGPT. */
static const float *site_gram(float *h, const float *x, int n, int cols, const sw_prune_cfg_t *cfg) {
  if (cfg->method == SW_PRUNE_MAGNITUDE) return NULL;
  if (cfg->method == SW_PRUNE_SPARSEGPT) return sw_prune_gram(h, x, n, cols), h;
  for (int c = 0; c < cols; c++) {
    double acc = 0.0;
    for (int t = 0; t < n; t++) acc += (double)x[(size_t)t * cols + c] * x[(size_t)t * cols + c];
    h[(size_t)c * cols + c] = (float)acc;
  }
  return h;
}

static sw_rc prune_layer(sw_llama_t *m, const sw_calib_data_t *cd, int l, const sw_prune_cfg_t *cfg,
                         prune_layer_buf_t *b, sw_err_t *err) {
  const sw_llama_config_t *c = &m->cfg;
  const int                d = c->d_model, f = c->d_ff, n = cd->n_tok, qd = c->n_head * c->head_dim;
  const int                kv = c->n_head_kv * c->head_dim;
  const float             *xa = cd->a + (size_t)l * SW_LLAMA_SITES * n * d, *xf = cd->x + (size_t)l * n * d;
  float                   *wg = m->w.w_gate + (size_t)l * f * d, *wu = m->w.w_up + (size_t)l * f * d;
  if (cfg->method != SW_PRUNE_MAGNITUDE) /* before gate/up are pruned: the dense model's h */
    ffn_hidden(b->hid, b->tmp, xf, wg, wu, n, d, f);
  const float *h = site_gram(b->h_d, xa, n, d, cfg); /* q/k/v input */
  sw_rc        rc = prune_linear(m->w.wq + (size_t)l * qd * d, qd, d, 0, h, cfg, err);
  if (!rc) rc = prune_linear(m->w.wk + (size_t)l * kv * d, kv, d, 0, h, cfg, err);
  if (!rc) rc = prune_linear(m->w.wv + (size_t)l * kv * d, kv, d, 0, h, cfg, err);
  h = site_gram(b->h_d, xa + (size_t)n * d, n, qd, cfg); /* o_proj input (n_head*head_dim == d_model) */
  if (!rc) rc = prune_linear(m->w.wo + (size_t)l * d * qd, d, qd, 0, h, cfg, err);
  h = site_gram(b->h_d, xf, n, d, cfg);
  if (!rc) rc = prune_linear(wg, f, d, 0, h, cfg, err);
  if (!rc) rc = prune_linear(wu, f, d, 0, h, cfg, err);
  h = site_gram(b->h_f, b->hid, n, f, cfg);
  if (!rc) rc = prune_linear(m->w.w_down_t + (size_t)l * f * d, d, f, 1, h, cfg, err);
  return rc;
}

static double zero_fraction(const sw_llama_t *m) {
  const sw_llama_config_t *c = &m->cfg;
  const size_t qd = (size_t)c->n_head * c->head_dim, kv = (size_t)c->n_head_kv * c->head_dim, d = (size_t)c->d_model;
  const float *arr[7] = {m->w.wq, m->w.wk, m->w.wv, m->w.wo, m->w.w_gate, m->w.w_up, m->w.w_down_t};
  const size_t len[7] = {qd * d, kv * d, kv * d, d * qd, d * c->d_ff, d * c->d_ff, d * c->d_ff};
  double       zeros = 0.0, total = 0.0;
  for (int k = 0; k < 7; k++) {
    size_t n = len[k] * (size_t)c->n_layer;
    for (size_t i = 0; i < n; i++) zeros += arr[k][i] == 0.0f;
    total += (double)n;
  }
  return zeros / total;
}

sw_rc sw_prune_model(sw_llama_t *m, const sw_calib_data_t *cd, const sw_prune_cfg_t *cfg, double *achieved,
                     sw_err_t *err) {
  const sw_llama_config_t *c = &m->cfg;
  if (cd->n_layer != c->n_layer || cd->d_model != c->d_model || c->n_head * c->head_dim != c->d_model)
    return sw_err_set(err, SW_ERR_INVALID, "prune: calibration data (%d layers, d %d) does not fit the model",
                      cd->n_layer, cd->d_model);
  size_t            nf = (size_t)cd->n_tok * c->d_ff;
  prune_layer_buf_t b = {malloc((size_t)c->d_model * c->d_model * sizeof(float)),
                         malloc((size_t)c->d_ff * c->d_ff * sizeof(float)), malloc(nf * sizeof(float)),
                         malloc(nf * sizeof(float))};
  sw_rc rc = !b.h_d || !b.h_f || !b.hid || !b.tmp ? sw_err_set(err, SW_ERR_NOMEM, "prune: out of memory") : SW_OK;
  for (int l = 0; !rc && l < c->n_layer; l++) rc = prune_layer(m, cd, l, cfg, &b, err);
  free(b.h_d), free(b.h_f), free(b.hid), free(b.tmp);
  if (!rc && achieved) *achieved = zero_fraction(m);
  return rc;
}
