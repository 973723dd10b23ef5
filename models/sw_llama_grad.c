/* sw_llama_grad: forward with saved activations and backward of the Llama decoder (see sw_llama_grad.h).
 * The forward follows docs/models.md §1 as models/sw_llama.c does (RMSNorm, adjacent-pair RoPE, causal GQA,
 * SwiGLU FFN with w_down_t neuron-major, output embedding); the backward applies the chain rule block by
 * block, last layer first:
 *   linear y = x·Wᵀ:        dx = dy·W
 *   RMSNorm y = x·r·w, r = (mean(x²)+eps)^-½:  dx = r·(dy⊙w) − x·r³·Σ(dy⊙w⊙x)/d
 *   RoPE (a rotation per pair): dx = the rotation by the opposite angle applied to dy
 *   softmax p = softmax(s):  ds = p ⊙ (dp − Σ p⊙dp)
 *   SiLU(z) = z·σ(z):        SiLU'(z) = σ(z)·(1 + z·(1 − σ(z)))
 *   residual x' = x + f(x):  dx = dx' + (df/dx)ᵀ dx'. */
#include "models/sw_llama_grad.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-layer sizes used everywhere below. */
typedef struct dims {
  int L, d, dff, H, Hkv, hd, qd, kvd, V, T;
} dims_t;

static dims_t dims_of(const sw_llama_config_t *c, int T) {
  dims_t z = {c->n_layer, c->d_model, c->d_ff, c->n_head, c->n_head_kv, c->head_dim, c->n_head * c->head_dim,
              c->n_head_kv * c->head_dim, c->vocab, T};
  return z;
}

/* Float counts of every buffer, in the order of the struct (activations, results, scratch). */
static void buffer_sizes(const sw_llama_config_t *c, int max_tok, size_t n[19]) {
  dims_t z = dims_of(c, max_tok);
  size_t T = (size_t)max_tok, L = (size_t)z.L;
  size_t k = 0;
  n[k++] = (L + 1) * T * z.d;               /* x_in */
  n[k++] = L * T * z.d;                     /* x_mid */
  n[k++] = L * T * z.qd;                    /* q */
  n[k++] = L * T * z.kvd;                   /* k */
  n[k++] = L * T * z.kvd;                   /* v */
  n[k++] = L * (size_t)z.H * T * T;         /* prob */
  n[k++] = L * T * z.qd;                    /* att */
  n[k++] = L * T * z.dff;                   /* gate */
  n[k++] = L * T * z.dff;                   /* up */
  n[k++] = L * T * z.dff;                   /* h */
  n[k++] = T * z.V;                         /* logits */
  n[k++] = L * T * z.dff;                   /* g_h */
  n[k++] = L * T * z.qd;                    /* g_att */
  n[k++] = T * z.d;                         /* d_x */
  n[k++] = T * z.d;                         /* d_mid */
  n[k++] = T * (size_t)(z.d > z.qd ? z.d : z.qd); /* d_norm */
  n[k++] = T * z.qd;                        /* d_q */
  n[k++] = 2 * T * z.kvd + 2 * T * z.dff;   /* d_k, d_v, d_gate, d_up */
  n[k++] = T * z.V;                         /* row: d_logits */
}

size_t sw_llama_grad_bytes(const sw_llama_config_t *c, int max_tok) {
  size_t n[19], total = 0;
  buffer_sizes(c, max_tok, n);
  for (int i = 0; i < 19; i++) total += n[i];
  return total * sizeof(float);
}

sw_rc sw_llama_grad_init(sw_llama_grad_t *g, const sw_llama_t *m, int max_tok, sw_err_t *err) {
  memset(g, 0, sizeof *g);
  if (max_tok < 1) return sw_err_set(err, SW_ERR_INVALID, "model grad: max_tok %d must be >= 1", max_tok);
  size_t n[19];
  buffer_sizes(&m->cfg, max_tok, n);
  float **slot[19] = {&g->x_in, &g->x_mid, &g->q,   &g->k,   &g->v,     &g->prob,  &g->att,
                      &g->gate, &g->up,    &g->h,   &g->logits, &g->g_h, &g->g_att, &g->d_x,
                      &g->d_mid, &g->d_norm, &g->d_q, &g->d_k, &g->row};
  g->max_tok = max_tok;
  for (int i = 0; i < 19; i++) {
    *slot[i] = calloc(n[i], sizeof(float));
    if (!*slot[i]) {
      sw_llama_grad_free(g);
      return sw_err_set(err, SW_ERR_NOMEM, "model grad: out of memory (%zu MiB for %d tokens)",
                        sw_llama_grad_bytes(&m->cfg, max_tok) >> 20, max_tok);
    }
  }
  size_t T = (size_t)max_tok, kvd = (size_t)m->cfg.n_head_kv * m->cfg.head_dim;
  g->d_v = g->d_k + T * kvd;
  g->d_gate = g->d_v + T * kvd;
  g->d_up = g->d_gate + T * (size_t)m->cfg.d_ff;
  return SW_OK;
}

void sw_llama_grad_free(sw_llama_grad_t *g) {
  float *own[19] = {g->x_in, g->x_mid, g->q,   g->k,   g->v,     g->prob,  g->att, g->gate, g->up, g->h,
                    g->logits, g->g_h, g->g_att, g->d_x, g->d_mid, g->d_norm, g->d_q, g->d_k, g->row};
  for (int i = 0; i < 19; i++) free(own[i]);
  memset(g, 0, sizeof *g);
}

/* ---------------------------------------------------------------- building blocks */

/* y (T × n_out) = x (T × n_in) · Wᵀ (W row-major n_out × n_in) + beta·y. */
static void mat_xwt(float *y, const float *x, const float *w, int T, int n_out, int n_in, float beta) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, n_out, n_in, 1.0f, x, n_in, w, n_in, beta, y, n_out);
}

/* y (T × n_in) = dy (T × n_out) · W (row-major n_out × n_in) + beta·y: the input gradient of mat_xwt. */
static void mat_xw(float *y, const float *dy, const float *w, int T, int n_out, int n_in, float beta) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, n_in, n_out, 1.0f, dy, n_out, w, n_in, beta, y, n_in);
}

static float rms_scale(const float *x, int d, float eps) {
  double ss = 0;
  for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
  return (float)(1.0 / sqrt(ss / d + eps));
}

static void rmsnorm_fwd(float *y, const float *x, const float *w, int T, int d, float eps) {
  for (int t = 0; t < T; t++) {
    const float *xr = x + (size_t)t * d;
    float r = rms_scale(xr, d, eps), *yr = y + (size_t)t * d;
    for (int i = 0; i < d; i++) yr[i] = xr[i] * r * w[i];
  }
}

/* out = base + (input gradient of RMSNorm at x for output gradient dy); out may alias base. */
static void rmsnorm_bwd(float *out, const float *base, const float *x, const float *w, const float *dy, int T, int d,
                        float eps) {
  for (int t = 0; t < T; t++) {
    const float *xr = x + (size_t)t * d, *dr = dy + (size_t)t * d, *br = base + (size_t)t * d;
    float *o = out + (size_t)t * d;
    double r = rms_scale(xr, d, eps), dot = 0;
    for (int i = 0; i < d; i++) dot += (double)dr[i] * w[i] * xr[i];
    double c = r * r * r * dot / d;
    for (int i = 0; i < d; i++) o[i] = br[i] + (float)(r * dr[i] * w[i] - c * xr[i]);
  }
}

/* Rotates adjacent pairs of n_heads heads of one token by sign·pos·rate_i (sign -1 = inverse, the transpose), at
 * the model's rates (sw_llama_rope_rate: theta^(-2i/rope_dim) with any RoPE scaling), scaled by the rotation's
 * magnitude factor (sw_llama_rope_attn_scale), which the transpose keeps. */
static void rope_rotate(float *v, int n_heads, const sw_llama_t *m, int pos, float sign) {
  const sw_llama_config_t *c = &m->cfg;
  double mag = sw_llama_rope_attn_scale(m);
  for (int i = 0; i < c->rope_dim / 2; i++) {
    double ang = (double)pos * sw_llama_rope_rate(m, i);
    float cs = (float)(mag * cos(ang)), sn = sign * (float)(mag * sin(ang));
    for (int h = 0; h < n_heads; h++) {
      float *p = v + (size_t)h * c->head_dim + 2 * i, a = p[0], b = p[1];
      p[0] = a * cs - b * sn;
      p[1] = a * sn + b * cs;
    }
  }
}

static float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* ---------------------------------------------------------------- forward with saved activations */

/* Causal attention of layer l: prob rows and head outputs from the saved q, k, v. */
static void attention_fwd(sw_llama_grad_t *g, const dims_t *z, int l) {
  size_t T = (size_t)z->T, M = (size_t)g->max_tok;
  const float *Q = sw_llama_grad_row(g, g->q, l, 0, z->qd), *K = sw_llama_grad_row(g, g->k, l, 0, z->kvd);
  const float *Vv = sw_llama_grad_row(g, g->v, l, 0, z->kvd);
  float *A = sw_llama_grad_row(g, g->att, l, 0, z->qd), scale = 1.0f / sqrtf((float)z->hd);
  int group = z->H / z->Hkv;
  for (int h = 0; h < z->H; h++) {
    float *P = g->prob + ((size_t)l * z->H + (size_t)h) * M * M;
    size_t ko = (size_t)(h / group) * z->hd;
    for (size_t t = 0; t < T; t++) {
      const float *q = Q + t * z->qd + (size_t)h * z->hd;
      float *p = P + t * M, mx = -INFINITY;
      for (size_t j = 0; j <= t; j++) {
        float dot = 0;
        for (int i = 0; i < z->hd; i++) dot += q[i] * K[j * z->kvd + ko + i];
        p[j] = dot * scale;
        if (p[j] > mx) mx = p[j];
      }
      double sum = 0;
      for (size_t j = 0; j <= t; j++) sum += p[j] = expf(p[j] - mx);
      float inv = (float)(1.0 / sum), *o = A + t * z->qd + (size_t)h * z->hd;
      memset(o, 0, (size_t)z->hd * sizeof *o);
      for (size_t j = 0; j <= t; j++) {
        p[j] *= inv;
        for (int i = 0; i < z->hd; i++) o[i] += p[j] * Vv[j * z->kvd + ko + i];
      }
    }
  }
}

static void attention_block_fwd(const sw_llama_t *m, sw_llama_grad_t *g, const dims_t *z, int l) {
  const sw_llama_weights_t *w = &m->w;
  const float *X = sw_llama_grad_row(g, g->x_in, l, 0, z->d);
  float *xn = g->d_norm, *Q = sw_llama_grad_row(g, g->q, l, 0, z->qd), *K = sw_llama_grad_row(g, g->k, l, 0, z->kvd);
  rmsnorm_fwd(xn, X, w->attn_norm + (size_t)l * z->d, z->T, z->d, m->cfg.rms_eps);
  mat_xwt(Q, xn, w->wq + (size_t)l * z->qd * z->d, z->T, z->qd, z->d, 0.0f);
  mat_xwt(K, xn, w->wk + (size_t)l * z->kvd * z->d, z->T, z->kvd, z->d, 0.0f);
  mat_xwt(sw_llama_grad_row(g, g->v, l, 0, z->kvd), xn, w->wv + (size_t)l * z->kvd * z->d, z->T, z->kvd, z->d, 0.0f);
  for (int t = 0; t < z->T; t++) {
    rope_rotate(Q + (size_t)t * z->qd, z->H, m, t, 1.0f);
    rope_rotate(K + (size_t)t * z->kvd, z->Hkv, m, t, 1.0f);
  }
  attention_fwd(g, z, l);
  float *Xm = sw_llama_grad_row(g, g->x_mid, l, 0, z->d);
  memcpy(Xm, X, (size_t)z->T * z->d * sizeof *Xm);
  mat_xwt(Xm, sw_llama_grad_row(g, g->att, l, 0, z->qd), w->wo + (size_t)l * z->d * z->qd, z->T, z->d, z->qd, 1.0f);
}

static void ffn_block_fwd(const sw_llama_t *m, sw_llama_grad_t *g, const dims_t *z, int l) {
  const sw_llama_weights_t *w = &m->w;
  size_t per = (size_t)z->dff * z->d, n = (size_t)z->T * z->dff;
  const float *Xm = sw_llama_grad_row(g, g->x_mid, l, 0, z->d);
  float *Ga = sw_llama_grad_row(g, g->gate, l, 0, z->dff), *U = sw_llama_grad_row(g, g->up, l, 0, z->dff);
  float *Hh = sw_llama_grad_row(g, g->h, l, 0, z->dff), *Xo = sw_llama_grad_row(g, g->x_in, l + 1, 0, z->d);
  rmsnorm_fwd(g->d_norm, Xm, w->ffn_norm + (size_t)l * z->d, z->T, z->d, m->cfg.rms_eps);
  mat_xwt(Ga, g->d_norm, w->w_gate + per * l, z->T, z->dff, z->d, 0.0f);
  mat_xwt(U, g->d_norm, w->w_up + per * l, z->T, z->dff, z->d, 0.0f);
  for (size_t i = 0; i < n; i++) Hh[i] = Ga[i] * sigmoidf(Ga[i]) * U[i];
  memcpy(Xo, Xm, (size_t)z->T * z->d * sizeof *Xo);
  /* x_out += h · w_down_t, w_down_t (d_ff × d_model) neuron-major */
  mat_xw(Xo, Hh, w->w_down_t + per * l, z->T, z->dff, z->d, 1.0f);
}

/* Logits, loss and d_logits (in g->row) from the final residual. */
static void output_fwd(const sw_llama_t *m, sw_llama_grad_t *g, const dims_t *z, const int32_t *labels) {
  rmsnorm_fwd(g->d_norm, sw_llama_grad_row(g, g->x_in, z->L, 0, z->d), m->w.output_norm, z->T, z->d, m->cfg.rms_eps);
  mat_xwt(g->logits, g->d_norm, m->w.output, z->T, z->V, z->d, 0.0f);
  g->loss = 0;
  for (int t = 0; t < z->T; t++) {
    const float *lg = g->logits + (size_t)t * z->V;
    float *dl = g->row + (size_t)t * z->V, mx = -INFINITY;
    if (labels[t] < 0) {
      memset(dl, 0, (size_t)z->V * sizeof *dl);
      continue;
    }
    for (int v = 0; v < z->V; v++) mx = lg[v] > mx ? lg[v] : mx;
    double sum = 0;
    for (int v = 0; v < z->V; v++) sum += exp((double)lg[v] - mx);
    double lse = mx + log(sum);
    g->loss += lse - lg[labels[t]];
    for (int v = 0; v < z->V; v++) dl[v] = (float)(exp((double)lg[v] - lse) / g->n_label);
    dl[labels[t]] -= 1.0f / (float)g->n_label;
  }
  g->loss /= g->n_label;
}

/* ---------------------------------------------------------------- backward */

/* Output head: d_x = input gradient of the final RMSNorm and the output matrix. */
static void output_bwd(const sw_llama_t *m, sw_llama_grad_t *g, const dims_t *z) {
  mat_xw(g->d_norm, g->row, m->w.output, z->T, z->V, z->d, 0.0f);
  memset(g->d_x, 0, (size_t)z->T * z->d * sizeof(float));
  rmsnorm_bwd(g->d_x, g->d_x, sw_llama_grad_row(g, g->x_in, z->L, 0, z->d), m->w.output_norm, g->d_norm, z->T, z->d,
              m->cfg.rms_eps);
}

/* FFN block of layer l: g_h[l] and d_mid = d_x + the FFN path's gradient. */
static void ffn_block_bwd(const sw_llama_t *m, sw_llama_grad_t *g, const dims_t *z, int l) {
  const sw_llama_weights_t *w = &m->w;
  size_t per = (size_t)z->dff * z->d, n = (size_t)z->T * z->dff;
  float *Gh = sw_llama_grad_row(g, g->g_h, l, 0, z->dff);
  const float *Ga = sw_llama_grad_row(g, g->gate, l, 0, z->dff), *U = sw_llama_grad_row(g, g->up, l, 0, z->dff);
  mat_xwt(Gh, g->d_x, w->w_down_t + per * l, z->T, z->dff, z->d, 0.0f);
  for (size_t i = 0; i < n; i++) {
    float s = sigmoidf(Ga[i]);
    g->d_up[i] = Gh[i] * Ga[i] * s;
    g->d_gate[i] = Gh[i] * U[i] * s * (1.0f + Ga[i] * (1.0f - s));
  }
  mat_xw(g->d_norm, g->d_gate, w->w_gate + per * l, z->T, z->dff, z->d, 0.0f);
  mat_xw(g->d_norm, g->d_up, w->w_up + per * l, z->T, z->dff, z->d, 1.0f);
  rmsnorm_bwd(g->d_mid, g->d_x, sw_llama_grad_row(g, g->x_mid, l, 0, z->d), w->ffn_norm + (size_t)l * z->d, g->d_norm,
              z->T, z->d, m->cfg.rms_eps);
}

/* Softmax attention of layer l backward: d_q, d_k, d_v from g_att[l]. */
static void attention_bwd(sw_llama_grad_t *g, const dims_t *z, int l) {
  size_t T = (size_t)z->T, M = (size_t)g->max_tok;
  const float *Q = sw_llama_grad_row(g, g->q, l, 0, z->qd), *K = sw_llama_grad_row(g, g->k, l, 0, z->kvd);
  const float *Vv = sw_llama_grad_row(g, g->v, l, 0, z->kvd), *dA = sw_llama_grad_row(g, g->g_att, l, 0, z->qd);
  float scale = 1.0f / sqrtf((float)z->hd), *dp = g->d_norm; /* T floats of scratch */
  int group = z->H / z->Hkv;
  memset(g->d_q, 0, T * z->qd * sizeof(float));
  memset(g->d_k, 0, T * z->kvd * sizeof(float));
  memset(g->d_v, 0, T * z->kvd * sizeof(float));
  for (int h = 0; h < z->H; h++) {
    const float *P = g->prob + ((size_t)l * z->H + (size_t)h) * M * M;
    size_t ko = (size_t)(h / group) * z->hd, qo = (size_t)h * z->hd;
    for (size_t t = 0; t < T; t++) {
      const float *p = P + t * M, *dout = dA + t * z->qd + qo, *q = Q + t * z->qd + qo;
      double s = 0;
      for (size_t j = 0; j <= t; j++) {
        float dot = 0;
        for (int i = 0; i < z->hd; i++) dot += dout[i] * Vv[j * z->kvd + ko + i];
        dp[j] = dot;
        s += (double)p[j] * dot;
        for (int i = 0; i < z->hd; i++) g->d_v[j * z->kvd + ko + i] += p[j] * dout[i];
      }
      float *dq = g->d_q + t * z->qd + qo;
      for (size_t j = 0; j <= t; j++) {
        float ds = p[j] * (dp[j] - (float)s) * scale;
        for (int i = 0; i < z->hd; i++) {
          dq[i] += ds * K[j * z->kvd + ko + i];
          g->d_k[j * z->kvd + ko + i] += ds * q[i];
        }
      }
    }
  }
}

/* Attention block of layer l: g_att[l] and d_x = d_mid + the attention path's gradient. */
static void attention_block_bwd(const sw_llama_t *m, sw_llama_grad_t *g, const dims_t *z, int l) {
  const sw_llama_weights_t *w = &m->w;
  mat_xw(sw_llama_grad_row(g, g->g_att, l, 0, z->qd), g->d_mid, w->wo + (size_t)l * z->d * z->qd, z->T, z->d, z->qd,
         0.0f);
  attention_bwd(g, z, l);
  for (int t = 0; t < z->T; t++) {
    rope_rotate(g->d_q + (size_t)t * z->qd, z->H, m, t, -1.0f);
    rope_rotate(g->d_k + (size_t)t * z->kvd, z->Hkv, m, t, -1.0f);
  }
  mat_xw(g->d_norm, g->d_q, w->wq + (size_t)l * z->qd * z->d, z->T, z->qd, z->d, 0.0f);
  mat_xw(g->d_norm, g->d_k, w->wk + (size_t)l * z->kvd * z->d, z->T, z->kvd, z->d, 1.0f);
  mat_xw(g->d_norm, g->d_v, w->wv + (size_t)l * z->kvd * z->d, z->T, z->kvd, z->d, 1.0f);
  rmsnorm_bwd(g->d_x, g->d_mid, sw_llama_grad_row(g, g->x_in, l, 0, z->d), w->attn_norm + (size_t)l * z->d, g->d_norm,
              z->T, z->d, m->cfg.rms_eps);
}

static sw_rc check_ids(const sw_llama_t *m, const sw_llama_grad_t *g, const int32_t *tokens, const int32_t *labels,
                       int n_tok, int *n_label, sw_err_t *err) {
  if (n_tok < 1 || n_tok > g->max_tok)
    return sw_err_set(err, SW_ERR_RANGE, "model grad: %d tokens outside 1..%d", n_tok, g->max_tok);
  *n_label = 0;
  for (int t = 0; t < n_tok; t++) {
    if (tokens[t] < 0 || tokens[t] >= m->cfg.vocab)
      return sw_err_set(err, SW_ERR_RANGE, "model grad: token id %d at %d out of range (vocab %d)", tokens[t], t,
                        m->cfg.vocab);
    if (labels[t] >= m->cfg.vocab)
      return sw_err_set(err, SW_ERR_RANGE, "model grad: label %d at %d out of range (vocab %d)", labels[t], t,
                        m->cfg.vocab);
    *n_label += labels[t] >= 0;
  }
  if (*n_label == 0) return sw_err_set(err, SW_ERR_RANGE, "model grad: no labelled position in %d tokens", n_tok);
  return SW_OK;
}

sw_rc sw_llama_grad_run(const sw_llama_t *m, sw_llama_grad_t *g, const int32_t *tokens, const int32_t *labels,
                        int n_tok, sw_err_t *err) {
  sw_rc rc = check_ids(m, g, tokens, labels, n_tok, &g->n_label, err);
  if (rc) return rc;
  dims_t z = dims_of(&m->cfg, n_tok);
  g->n_tok = n_tok;
  for (int t = 0; t < n_tok; t++)
    memcpy(sw_llama_grad_row(g, g->x_in, 0, t, z.d), m->w.token_embd + (size_t)tokens[t] * z.d,
           (size_t)z.d * sizeof(float));
  for (int l = 0; l < z.L; l++) {
    attention_block_fwd(m, g, &z, l);
    ffn_block_fwd(m, g, &z, l);
  }
  output_fwd(m, g, &z, labels);
  output_bwd(m, g, &z);
  for (int l = z.L - 1; l >= 0; l--) {
    ffn_block_bwd(m, g, &z, l);
    attention_block_bwd(m, g, &z, l);
  }
  return SW_OK;
}
