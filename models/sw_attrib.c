/* sw_attrib: attribution scores from the backward pass, per-layer bottom-p masks and their hook (sw_attrib.h). */
#include "models/sw_attrib.h"

#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[SW_ATTRIB_COUNT] = {"magnitude", "grad", "gxo", "cor_gxo"};

const char *sw_attrib_metric_name(sw_attrib_metric_t m) {
  return m >= 0 && m < SW_ATTRIB_COUNT ? metric_names[m] : "?";
}

sw_rc sw_attrib_metric_parse(const char *name, sw_attrib_metric_t *m, sw_err_t *err) {
  for (int i = 0; i < SW_ATTRIB_COUNT; i++)
    if (name && strcmp(name, metric_names[i]) == 0) {
      *m = (sw_attrib_metric_t)i;
      return SW_OK;
    }
  return sw_err_set(err, SW_ERR_INVALID, "attribution: unknown metric '%s' (magnitude, grad, gxo, cor_gxo)",
                    name ? name : "(null)");
}

sw_rc sw_attrib_scores_init(sw_attrib_scores_t *s, const sw_llama_config_t *c, sw_err_t *err) {
  s->n_layer = c->n_layer, s->d_ff = c->d_ff, s->n_head = c->n_head;
  s->ffn = calloc((size_t)SW_ATTRIB_COUNT * c->n_layer * c->d_ff, sizeof *s->ffn);
  s->head = calloc((size_t)SW_ATTRIB_COUNT * c->n_layer * c->n_head, sizeof *s->head);
  if (s->ffn && s->head) return SW_OK;
  sw_attrib_scores_free(s);
  return sw_err_set(err, SW_ERR_NOMEM, "attribution: out of memory");
}

void sw_attrib_scores_free(sw_attrib_scores_t *s) {
  free(s->ffn);
  free(s->head);
  s->ffn = s->head = NULL;
}

/* The four scores of `n_unit` units of width w (FFN neuron: 1, head: head_dim) of one layer; o and g are
 * rows of `stride` floats for T tokens, unit u at columns u·w... */
static void unit_scores(const sw_attrib_scores_t *s, int l, int is_head, const float *o, const float *g, int T,
                        size_t stride, int n_unit, int w) {
  double *v[SW_ATTRIB_COUNT];
  for (int m = 0; m < SW_ATTRIB_COUNT; m++) {
    v[m] = is_head ? sw_attrib_head(s, (sw_attrib_metric_t)m, l) : sw_attrib_ffn(s, (sw_attrib_metric_t)m, l);
    memset(v[m], 0, (size_t)n_unit * sizeof(double));
  }
  for (int t = 0; t < T; t++) {
    const float *ot = o + t * stride, *gt = g + t * stride;
    double g_layer = 0;
    for (int j = 0; j < n_unit * w; j++) g_layer += (double)gt[j] * gt[j];
    g_layer = sqrt(g_layer);
    for (int u = 0; u < n_unit; u++) {
      double on = 0, gn = 0, gxo = 0;
      for (int j = u * w; j < (u + 1) * w; j++) on += (double)ot[j] * ot[j], gn += (double)gt[j] * gt[j], gxo += (double)gt[j] * ot[j];
      v[SW_ATTRIB_MAGNITUDE][u] += sqrt(on);
      v[SW_ATTRIB_GRAD][u] += sqrt(gn);
      v[SW_ATTRIB_GXO][u] += fabs(gxo);
      v[SW_ATTRIB_COR_GXO][u] += fabs(gxo) + 0.5 * sqrt(on) * g_layer;
    }
  }
}

void sw_attrib_scores_from_grad(sw_attrib_scores_t *s, const sw_llama_grad_t *g, const sw_llama_config_t *c) {
  int qd = c->n_head * c->head_dim;
  for (int l = 0; l < c->n_layer; l++) {
    unit_scores(s, l, 0, sw_llama_grad_row(g, g->h, l, 0, c->d_ff), sw_llama_grad_row(g, g->g_h, l, 0, c->d_ff),
                g->n_tok, (size_t)c->d_ff, c->d_ff, 1);
    unit_scores(s, l, 1, sw_llama_grad_row(g, g->att, l, 0, qd), sw_llama_grad_row(g, g->g_att, l, 0, qd), g->n_tok,
                (size_t)qd, c->n_head, c->head_dim);
  }
}

void sw_attrib_scores_add(sw_attrib_scores_t *dst, const sw_attrib_scores_t *src, double w) {
  size_t nf = (size_t)SW_ATTRIB_COUNT * dst->n_layer * dst->d_ff, nh = (size_t)SW_ATTRIB_COUNT * dst->n_layer * dst->n_head;
  for (size_t i = 0; i < nf; i++) dst->ffn[i] += w * src->ffn[i];
  for (size_t i = 0; i < nh; i++) dst->head[i] += w * src->head[i];
}

double sw_attrib_mean_se(const double *v, int n, double *se) {
  double m = 0, ss = 0;
  for (int i = 0; i < n; i++) m += v[i] / n;
  for (int i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
  *se = n > 1 ? sqrt(ss / (n - 1) / n) : NAN;
  return m;
}

sw_rc sw_attrib_window(const sw_llama_t *m, sw_llama_state_t *st, sw_llama_grad_t *g, const int32_t *tokens, int n_tok,
                       sw_attrib_scores_t *out, sw_err_t *err) {
  int32_t *labels = malloc((size_t)n_tok * sizeof *labels);
  if (!labels) return sw_err_set(err, SW_ERR_NOMEM, "attribution: out of memory");
  sw_llama_state_reset(st);
  sw_rc rc = sw_llama_forward(m, st, NULL, tokens, n_tok, 2, err);
  int V = m->cfg.vocab;
  for (int t = 0; !rc && t < n_tok; t++) {
    const float *lg = st->logits + (size_t)t * V;
    int best = 0;
    for (int v = 1; v < V; v++) best = lg[v] > lg[best] ? v : best;
    labels[t] = t + 1 < n_tok ? best : -1;
  }
  if (!rc) rc = sw_llama_grad_run(m, g, tokens, labels, n_tok, err);
  if (!rc) sw_attrib_scores_from_grad(out, g, &m->cfg);
  free(labels);
  return rc;
}

/* ---------------------------------------------------------------- masks */

sw_rc sw_attrib_mask_init(sw_attrib_mask_t *k, const sw_llama_t *m, int max_tok, sw_err_t *err) {
  memset(k, 0, sizeof *k);
  const sw_llama_config_t *c = &m->cfg;
  k->model = m;
  k->max_tok = max_tok;
  k->ffn = malloc((size_t)c->n_layer * c->d_ff);
  k->head = malloc((size_t)c->n_layer * c->n_head);
  k->order = malloc((size_t)(c->d_ff > c->n_head ? c->d_ff : c->n_head) * sizeof *k->order);
  k->active = malloc((size_t)c->d_ff * sizeof *k->active);
  if (!k->ffn || !k->head || !k->order || !k->active) {
    sw_attrib_mask_free(k);
    return sw_err_set(err, SW_ERR_NOMEM, "attribution: out of memory");
  }
  sw_rc rc = sw_ffn_work_alloc(&k->work, c->d_model, c->d_ff, max_tok, 1, err);
  if (rc) {
    sw_attrib_mask_free(k);
    return rc;
  }
  memset(k->ffn, 1, (size_t)c->n_layer * c->d_ff);
  memset(k->head, 1, (size_t)c->n_layer * c->n_head);
  return SW_OK;
}

void sw_attrib_mask_free(sw_attrib_mask_t *k) {
  free(k->ffn);
  free(k->head);
  free(k->order);
  free(k->active);
  if (k->work.f || k->work.i32) sw_ffn_work_free(&k->work);
  memset(k, 0, sizeof *k);
}

static int by_score_then_index(const void *a, const void *b) {
  const sw_attrib_rank_t *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* active[u] = 0 for the round(p·n) units with the lowest score (equal scores: lower index first), else 1. */
static void select_bottom(uint8_t *active, const double *score, int n, double p, sw_attrib_rank_t *order) {
  int k = (int)lround(p * n);
  for (int i = 0; i < n; i++) order[i].score = score[i], order[i].index = i, active[i] = 1;
  qsort(order, (size_t)n, sizeof *order, by_score_then_index);
  for (int i = 0; i < k && i < n; i++) active[order[i].index] = 0;
}

void sw_attrib_mask_select(sw_attrib_mask_t *k, const sw_attrib_scores_t *s, sw_attrib_metric_t metric, double p_ffn,
                           double p_head) {
  for (int l = 0; l < s->n_layer; l++) {
    select_bottom(k->ffn + (size_t)l * s->d_ff, sw_attrib_ffn(s, metric, l), s->d_ff, p_ffn, k->order);
    select_bottom(k->head + (size_t)l * s->n_head, sw_attrib_head(s, metric, l), s->n_head, p_head, k->order);
  }
}

static double zero_fraction(const uint8_t *a, size_t n) {
  size_t z = 0;
  for (size_t i = 0; i < n; i++) z += a[i] == 0;
  return n ? (double)z / (double)n : 0.0;
}

void sw_attrib_mask_sparsity(const sw_attrib_mask_t *k, double *ffn, double *head) {
  const sw_llama_config_t *c = &k->model->cfg;
  *ffn = zero_fraction(k->ffn, (size_t)c->n_layer * c->d_ff);
  *head = zero_fraction(k->head, (size_t)c->n_layer * c->n_head);
}

/* FFN of `layer` with the layer's neuron mask applied to h: only the active neurons are computed, their gate, up
 * and down rows read in place by the sparse kernels (kernels/sw_ffn_sparse.h, one active set for every token),
 * so a masked FFN reads about the active fraction of the dense weights, also for the one-token calls of the
 * task's continuations; with every neuron active the dense kernel runs. */
static sw_rc masked_ffn(void *ctx, int layer, float *out, const float *x, int n_tok, sw_err_t *err) {
  sw_attrib_mask_t *k = ctx;
  const sw_ffn_weights_t *w = &k->model->w.ffn[layer];
  int dff = w->d_ff, na = 0;
  if (n_tok > k->max_tok) return sw_err_set(err, SW_ERR_RANGE, "attribution: %d tokens > %d", n_tok, k->max_tok);
  const uint8_t *act = k->ffn + (size_t)layer * dff;
  for (int i = 0; i < dff; i++)
    if (act[i]) k->active[na++] = i;
  sw_rc rc = na == dff ? sw_ffn_dense_forward(out, x, w, NULL, &k->work, n_tok)
                       : sw_ffn_subset_forward(out, x, w, k->active, na, NULL, &k->work, n_tok);
  return rc ? sw_err_set(err, rc, "attribution: masked FFN of layer %d failed", layer) : SW_OK;
}

/* Zeroes the outputs of the layer's masked heads before o_proj. */
static void masked_heads(void *ctx, int layer, int site, float *x, int n_tok, int dim) {
  sw_attrib_mask_t *k = ctx;
  if (site != SW_LLAMA_SITE_O || !k->head) return; /* no head mask: every head kept (an FFN-only mask) */
  const sw_llama_config_t *c = &k->model->cfg;
  const uint8_t *act = k->head + (size_t)layer * c->n_head;
  for (int h = 0; h < c->n_head; h++)
    if (!act[h])
      for (int t = 0; t < n_tok; t++) memset(x + (size_t)t * dim + (size_t)h * c->head_dim, 0, c->head_dim * sizeof(float));
}

sw_llama_ffn_t sw_attrib_mask_hook(sw_attrib_mask_t *k) {
  sw_llama_ffn_t h = {masked_ffn, masked_heads, k, NULL};
  return h;
}
