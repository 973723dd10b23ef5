/* sw_moefy: MoEfication's router target, centres, MLP-router training, co-activation split and the held-out
 * router quality (kernels/sw_moefy.h). */
#include "kernels/sw_moefy.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_ffn_dense.h"

/* MoEfication's validation metric uses the top 20 % of the experts (its MLPCenter: k = int(E * 0.2)). */
#define SW_MOEFY_VAL_TOP_FRAC 0.2

void sw_moefy_batch_normalise(float *t, size_t n, size_t n_out, void *unused) {
  (void)unused;
  float mx = 0.0f;
  for (size_t i = 0; i < n * n_out; i++) mx = t[i] > mx ? t[i] : mx;
  if (mx <= 0.0f) return;
  for (size_t i = 0; i < n * n_out; i++) t[i] /= mx;
}

void sw_moefy_l2_rows(float *y, const float *x, size_t n, size_t d) {
  for (size_t t = 0; t < n; t++) {
    double s = 0;
    for (size_t k = 0; k < d; k++) s += (double)x[t * d + k] * x[t * d + k];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (size_t k = 0; k < d; k++) y[t * d + k] = x[t * d + k] * inv;
  }
}

void sw_moefy_centres(float *c, const sw_moe_t *moe) {
  const size_t d = (size_t)moe->d_model, S = (size_t)moe->expert_size, R = moe->gated ? 2 * S : S;
  for (int e = 0; e < moe->n_expert; e++) {
    double *acc = calloc(d, sizeof *acc);
    float *ce = c + (size_t)e * d;
    for (size_t r = 0; acc && r < S; r++) {
      const float *row = moe->gu + ((size_t)e * R + r) * d; /* gate rows first (gated), else up rows */
      double nn = 0;
      for (size_t k = 0; k < d; k++) nn += (double)row[k] * row[k];
      double inv = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
      for (size_t k = 0; k < d; k++) acc[k] += row[k] * inv;
    }
    for (size_t k = 0; k < d; k++) ce[k] = acc ? (float)(acc[k] / (double)S) : 0.0f;
    free(acc);
  }
}

/* Sorted-descending top-k membership of one token's scores into flag[E] (ties: lower id). */
static void s_topk_flags(uint8_t *flag, const float *g, int E, int k) {
  memset(flag, 0, (size_t)E);
  for (int j = 0; j < k && j < E; j++) {
    int best = -1;
    for (int e = 0; e < E; e++)
      if (!flag[e] && (best < 0 || g[e] > g[best])) best = e;
    flag[best] = 1;
  }
}

double sw_moefy_mass_captured(const float *scores, const float *mass, int n_tok, int E, int k) {
  uint8_t *flag = malloc((size_t)E);
  double sum = 0;
  int counted = 0;
  for (int t = 0; flag && t < n_tok; t++) {
    const float *m = mass + (size_t)t * E;
    double total = 0, got = 0;
    for (int e = 0; e < E; e++) total += m[e] > 0 ? m[e] : 0;
    if (total <= 0) continue;
    s_topk_flags(flag, scores + (size_t)t * E, E, k);
    for (int e = 0; e < E; e++) got += flag[e] && m[e] > 0 ? m[e] : 0;
    sum += got / total;
    counted++;
  }
  free(flag);
  return counted ? sum / counted : 0.0;
}

/* Held-out tokens of MoEfication's router training and the metric's k. */
typedef struct s_moefy_val {
  const float *xn, *mass;
  int          n, E, k;
} s_moefy_val_t;

static double s_moefy_val_score(const sw_mlp_t *mlp, void *ctx) {
  const s_moefy_val_t *v = ctx;
  float *ws = malloc(sw_mlp_work_floats(mlp, (size_t)v->n) * sizeof(float));
  float *y = malloc((size_t)v->n * (size_t)v->E * sizeof(float));
  double score = -INFINITY;
  if (ws && y) {
    sw_mlp_forward(y, mlp, v->xn, (size_t)v->n, ws);
    score = sw_moefy_mass_captured(y, v->mass, v->n, v->E, v->k);
  }
  free(ws);
  free(y);
  return score;
}

sw_rc sw_moefy_train(sw_moe_router_t *r, const sw_moe_t *moe, const float *xn, const float *mass, int n_tok,
                     const sw_moe_router_cfg_t *cfg, sw_err_t *err) {
  const int E = moe->n_expert, d = moe->d_model;
  sw_mlp_t *mlp = &r->mlp;
  if (mlp->n_layer != 2 || mlp->layer[0].n_out != (size_t)E || mlp->layer[1].n_out != (size_t)E || !r->centres)
    return sw_err_set(err, SW_ERR_INVALID, "moefication router: expected a d→E→E MLP and the expert centres");
  memcpy(mlp->layer[0].w, r->centres, (size_t)E * d * sizeof(float));
  memset(mlp->layer[1].w, 0, (size_t)E * E * sizeof(float));
  for (int e = 0; e < E; e++) mlp->layer[1].w[(size_t)e * E + e] = 1.0f;
  sw_mlp_train_cfg_t tc = cfg->train;
  tc.loss = SW_MLP_LOSS_BCE;
  tc.batch_targets = sw_moefy_batch_normalise;
  const int n_train = sw_moe_router_n_train(n_tok, cfg->val_frac);
  int k = (int)(E * SW_MOEFY_VAL_TOP_FRAC);
  s_moefy_val_t val = {xn + (size_t)n_train * d, mass + (size_t)n_train * E, n_tok - n_train, E, k > 0 ? k : 1};
  if (val.n > 0) tc.epoch_score = s_moefy_val_score, tc.ctx = &val;
  sw_rc rc = sw_mlp_train(mlp, xn, mass, (size_t)n_train, &tc, &r->train, err);
  r->train.final_loss = NAN; /* BCE on the raw masses is not the training loss (that used batch-normalised ones) */
  return rc;
}

/* ---------------------------------------------------------------- co-activation split */

void sw_coact_defaults(sw_coact_cfg_t *cfg) {
  cfg->group = 8;
  cfg->drop_frac = 0.0;
  cfg->passes = 4;
}

void sw_coact_graph(float *w, const float *hp, size_t n_tok, size_t d_ff, int group) {
  float *g = malloc(d_ff * d_ff * sizeof *g);
  memset(w, 0, d_ff * d_ff * sizeof *w);
  if (!g) return;
  size_t gs = group > 0 ? (size_t)group : 1;
  for (size_t t0 = 0; t0 < n_tok; t0 += gs) {
    size_t c = n_tok - t0 < gs ? n_tok - t0 : gs;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d_ff, (int)d_ff, (int)c, 1.0f, hp + t0 * d_ff,
                (int)d_ff, hp + t0 * d_ff, (int)d_ff, 0.0f, g, (int)d_ff);
    for (size_t i = 0; i < d_ff * d_ff; i++) w[i] += g[i] < 1.0f ? g[i] : 1.0f;
  }
  for (size_t i = 0; i < d_ff; i++) w[i * d_ff + i] = 0.0f;
  free(g);
}

static int s_cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Zeroes the edges below the drop_frac quantile of the non-zero weights. */
static void s_drop_edges(float *w, size_t n, double drop_frac) {
  if (drop_frac <= 0) return;
  size_t nz = 0;
  for (size_t i = 0; i < n * n; i++) nz += w[i] > 0;
  float *v = nz ? malloc(nz * sizeof *v) : NULL;
  if (!v) return;
  nz = 0;
  for (size_t i = 0; i < n * n; i++)
    if (w[i] > 0) v[nz++] = w[i];
  qsort(v, nz, sizeof *v, s_cmp_float);
  size_t q = (size_t)(drop_frac * (double)nz);
  float thr = q < nz ? v[q] : INFINITY;
  for (size_t i = 0; i < n * n; i++)
    if (w[i] < thr) w[i] = 0.0f;
  free(v);
}

/* Free node with the largest key (ties: lowest index), -1 if none. */
static long s_best_free(const double *key, const int32_t *assign, size_t n) {
  long best = -1;
  for (size_t i = 0; i < n; i++)
    if (assign[i] < 0 && (best < 0 || key[i] > key[best])) best = (long)i;
  return best;
}

/* Assigns node v to part p; updates the free weight of every node and the connection to the growing part. */
static void s_take(int32_t *assign, double *free_w, double *conn, const float *w, size_t n, size_t v, int p) {
  assign[v] = p;
  for (size_t i = 0; i < n; i++) {
    free_w[i] -= w[i * n + v];
    conn[i] += w[i * n + v];
  }
}

static void s_greedy_grow(int32_t *assign, const float *w, size_t n, size_t E, double *free_w, double *conn) {
  const size_t S = n / E;
  for (size_t i = 0; i < n; i++) {
    assign[i] = -1;
    free_w[i] = 0;
    for (size_t j = 0; j < n; j++) free_w[i] += w[i * n + j];
  }
  for (size_t p = 0; p < E; p++) {
    memset(conn, 0, n * sizeof *conn);
    long v = s_best_free(free_w, assign, n);
    for (size_t taken = 0; v >= 0 && taken < S; taken++) {
      s_take(assign, free_w, conn, w, n, (size_t)v, (int)p);
      v = s_best_free(conn, assign, n);
    }
  }
}

/* P[i][q] = Σ_{j in part q} w[i][j]. */
static void s_part_weights(double *P, const int32_t *assign, const float *w, size_t n, size_t E) {
  memset(P, 0, n * E * sizeof *P);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) P[i * E + (size_t)assign[j]] += w[i * n + j];
}

/* One pass of best-swap refinement; returns the number of swaps made. */
static size_t s_swap_pass(int32_t *assign, double *P, const float *w, size_t n, size_t E) {
  size_t swaps = 0;
  for (size_t i = 0; i < n; i++) {
    size_t p = (size_t)assign[i], best_j = n;
    double best = 1e-9;
    for (size_t j = 0; j < n; j++) {
      size_t q = (size_t)assign[j];
      if (q == p) continue;
      double gain = P[i * E + q] - P[i * E + p] + P[j * E + p] - P[j * E + q] - 2.0 * w[i * n + j];
      if (gain > best) best = gain, best_j = j;
    }
    if (best_j == n) continue;
    size_t j = best_j, q = (size_t)assign[j];
    for (size_t k = 0; k < n; k++) {
      P[k * E + p] += (double)w[k * n + j] - w[k * n + i];
      P[k * E + q] += (double)w[k * n + i] - w[k * n + j];
    }
    assign[i] = (int32_t)q, assign[j] = (int32_t)p;
    swaps++;
  }
  return swaps;
}

sw_rc sw_coact_partition_graph(int32_t *assign, const float *w, size_t n, size_t E, const sw_coact_cfg_t *cfg,
                               sw_err_t *err) {
  if (E == 0 || n % E) return sw_err_set(err, SW_ERR_INVALID, "co-activation split: %zu neurons into %zu parts", n, E);
  double *free_w = malloc(n * sizeof *free_w), *conn = malloc(n * sizeof *conn), *P = malloc(n * E * sizeof *P);
  if (!free_w || !conn || !P) {
    free(free_w), free(conn), free(P);
    return sw_err_set(err, SW_ERR_NOMEM, "co-activation split: out of memory");
  }
  s_greedy_grow(assign, w, n, E, free_w, conn);
  s_part_weights(P, assign, w, n, E);
  for (int pass = 0; pass < cfg->passes && s_swap_pass(assign, P, w, n, E) > 0; pass++) {
  }
  free(free_w), free(conn), free(P);
  return SW_OK;
}

/* Positive activations h⁺ = max(h, 0) of n_tok tokens, chunked. */
static sw_rc s_positive_acts(float *hp, const sw_ffn_weights_t *w, const float *x, int n_tok, sw_err_t *err) {
  enum { CHUNK = 256 };
  sw_ffn_work_t work;
  float *ga = malloc((size_t)2 * CHUNK * (size_t)w->d_ff * sizeof *ga);
  if (!ga) return sw_err_set(err, SW_ERR_NOMEM, "co-activation split: out of memory");
  sw_rc rc = sw_ffn_work_alloc(&work, w->d_model, w->d_ff, CHUNK, 1, err);
  for (int t0 = 0; !rc && t0 < n_tok; t0 += CHUNK) {
    int c = n_tok - t0 < CHUNK ? n_tok - t0 : CHUNK;
    rc = sw_ffn_dense_acts(ga, ga + (size_t)CHUNK * w->d_ff, hp + (size_t)t0 * w->d_ff, x + (size_t)t0 * w->d_model,
                           w, &work, c);
    if (rc) sw_err_set(err, rc, "co-activation split: activations failed");
  }
  if (work.f || work.i32) sw_ffn_work_free(&work);
  free(ga);
  for (size_t i = 0; !rc && i < (size_t)n_tok * w->d_ff; i++) hp[i] = hp[i] > 0 ? hp[i] : 0.0f;
  return rc;
}

sw_rc sw_coact_partition(int32_t *assign, const sw_ffn_weights_t *w, const float *x, int n_tok, int E,
                         const sw_coact_cfg_t *cfg, sw_err_t *err) {
  const size_t n = (size_t)w->d_ff;
  float *hp = malloc((size_t)n_tok * n * sizeof *hp), *g = malloc(n * n * sizeof *g);
  sw_rc rc = hp && g ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "co-activation split: out of memory");
  if (!rc) rc = s_positive_acts(hp, w, x, n_tok, err);
  if (!rc) {
    sw_coact_graph(g, hp, (size_t)n_tok, n, cfg->group);
    s_drop_edges(g, n, cfg->drop_frac);
    rc = sw_coact_partition_graph(assign, g, n, (size_t)E, cfg, err);
  }
  free(hp);
  free(g);
  return rc;
}

/* ---------------------------------------------------------------- router quality */

sw_rc sw_router_quality(sw_router_quality_t *q, const sw_mask_t *pred, const sw_mask_t *truth, int E) {
  memset(q, 0, sizeof *q);
  if (pred->n_tok != truth->n_tok || E <= 0) return SW_ERR_INVALID;
  uint8_t *flag = calloc((size_t)E, 1);
  if (!flag) return SW_ERR_NOMEM;
  double rec = 0, prec = 0, dens = 0;
  int n_rec = 0, n_prec = 0;
  for (int t = 0; t < pred->n_tok; t++) {
    int64_t np = pred->off[t + 1] - pred->off[t], nt = truth->off[t + 1] - truth->off[t], both = 0;
    for (int64_t p = truth->off[t]; p < truth->off[t + 1]; p++) flag[truth->idx[p]] = 1;
    for (int64_t p = pred->off[t]; p < pred->off[t + 1]; p++) both += flag[pred->idx[p]];
    for (int64_t p = truth->off[t]; p < truth->off[t + 1]; p++) flag[truth->idx[p]] = 0;
    if (nt > 0) rec += (double)both / (double)nt, n_rec++;
    if (np > 0) prec += (double)both / (double)np, n_prec++;
    dens += (double)np / E;
  }
  free(flag);
  q->tokens = pred->n_tok;
  q->recall = n_rec ? rec / n_rec : 1.0;
  q->precision = n_prec ? prec / n_prec : 1.0;
  q->density = pred->n_tok ? dens / pred->n_tok : 0.0;
  return SW_OK;
}
