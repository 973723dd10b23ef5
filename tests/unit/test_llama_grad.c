/* Tests for models/sw_llama_grad (the backward pass): loss, logits, dLoss/dh of every layer's FFN
 * intermediate activations and dLoss/d(head output) of every layer's attention against automatic
 * differentiation (`autograd`) of a float64 NumPy forward (tests/reference/gen_grad_ref.py, run as a ctest
 * fixture into SW_GRAD_REF_DIR), on a random 2-layer GQA model the script writes and on SmolLM2-135M; the
 * forward's logits against sw_llama_forward; central finite differences of the loss computed through
 * sw_llama_forward (perturbing h or a head output in its FFN and attention hooks); bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/sw_llama.h"
#include "models/sw_llama_grad.h"
#include "tests/unit/sw_test_util.h"

/* Per-layer relative L2 error ||g - g_ref|| / ||g_ref|| of f32 gradients against float64 autograd.  Tiny model
 * (2 layers, width 32): f32 rounding only, measured 9e-7.  SmolLM2 (30 layers, 24 tokens): rounding
 * accumulated through 30 layers of the forward and backward, measured 9e-6 (worst layer). */
#define SW_TOL_GRAD_TINY 2e-5
#define SW_TOL_GRAD_MODEL 1e-4
/* Logits and loss: as test_model.c's dense-logit tolerance (f32 through the layers). */
#define SW_TOL_LOGIT_ABS 5e-4
#define SW_TOL_LOGIT_REL 1e-4
/* Own forward vs sw_llama_forward on the same weights: only summation order differs. */
#define SW_TOL_SELF_ABS 2e-5
#define SW_TOL_SELF_REL 1e-5
/* Central finite differences in f32 with step SW_FD_STEP: truncation O(step²) plus the loss's f32 rounding
 * divided by the step; the gradient coordinates checked are the largest of their layer (>= 1e-3). */
#define SW_FD_STEP 1e-2
#define SW_TOL_FD_ABS 2e-4
#define SW_TOL_FD_REL 2e-2

#define REF_VERSION 1

typedef struct grad_ref {
  uint32_t L, T, dff, qd, vocab;
  int32_t *tokens, *labels;
  double   loss;
  double  *logits, *g_h, *g_att; /* (T, vocab), (L, T, dff), (L, T, qd) */
  char    *buf;
} grad_ref_t;

static char *path_in(const char *env, const char *file) {
  char *p = malloc(4096);
  const char *dir = getenv(env);
  snprintf(p, 4096, "%s/%s", dir ? dir : ".", file);
  return p;
}

/* Reads a fixture written by gen_grad_ref.py; 0 when it is missing (the caller skips). */
static int read_ref(const char *file, grad_ref_t *r) {
  char *path = path_in("SW_GRAD_REF_DIR", file);
  size_t len = 0;
  memset(r, 0, sizeof *r);
  r->buf = sw_test_read_file(path, &len);
  if (!r->buf) {
    fprintf(stderr, "%s: missing (HINT: tests/reference/gen_grad_ref.py)\n", path);
    free(path);
    return 0;
  }
  uint32_t hdr[6];
  assert_true(len >= 28 && memcmp(r->buf, "SWGR", 4) == 0);
  memcpy(hdr, r->buf + 4, sizeof hdr);
  assert_int_equal(hdr[0], REF_VERSION);
  r->L = hdr[1], r->T = hdr[2], r->dff = hdr[3], r->qd = hdr[4], r->vocab = hdr[5];
  size_t off = 28, T = r->T;
  size_t need = off + 8 * T + 8 * (1 + T * r->vocab + (size_t)r->L * T * (r->dff + r->qd));
  assert_int_equal(len, need);
  /* the file packs i32 and f64 arrays without padding: copy each into its own (aligned) allocation */
  size_t n_tok = 4 * T, n_lg = 8 * T * r->vocab, n_h = 8 * T * r->L * r->dff, n_a = 8 * T * r->L * r->qd;
  r->tokens = malloc(n_tok), r->labels = malloc(n_tok);
  r->logits = malloc(n_lg), r->g_h = malloc(n_h), r->g_att = malloc(n_a);
  assert_true(r->tokens && r->labels && r->logits && r->g_h && r->g_att);
  memcpy(r->tokens, r->buf + off, n_tok), off += n_tok;
  memcpy(r->labels, r->buf + off, n_tok), off += n_tok;
  memcpy(&r->loss, r->buf + off, 8), off += 8;
  memcpy(r->logits, r->buf + off, n_lg), off += n_lg;
  memcpy(r->g_h, r->buf + off, n_h), off += n_h;
  memcpy(r->g_att, r->buf + off, n_a);
  free(path);
  return 1;
}

static void free_ref(grad_ref_t *r) {
  free(r->tokens), free(r->labels), free(r->logits), free(r->g_h), free(r->g_att), free(r->buf);
}

/* ||a - b|| / ||b|| over n floats of layer l (rows of width w for T tokens, a strided by max_tok). */
static double layer_rel_err(const sw_llama_grad_t *g, const float *a, const double *b, int l, int T, int w) {
  double num = 0, den = 0;
  for (int t = 0; t < T; t++) {
    const float *ar = sw_llama_grad_row(g, (float *)a, l, t, w);
    const double *br = b + ((size_t)l * T + t) * w;
    for (int i = 0; i < w; i++) num += (ar[i] - br[i]) * (ar[i] - br[i]), den += br[i] * br[i];
  }
  return sqrt(num / den);
}

/* Runs the backward on the fixture's window and compares loss, logits and every layer's gradients. */
static void check_against_ref(const sw_llama_t *m, const grad_ref_t *r, double tol) {
  sw_llama_grad_t g;
  sw_err_t err = {0};
  assert_int_equal(m->cfg.n_layer, r->L);
  assert_int_equal(sw_llama_grad_init(&g, m, (int)r->T, &err), SW_OK);
  assert_int_equal(sw_llama_grad_run(m, &g, r->tokens, r->labels, (int)r->T, &err), SW_OK);
  assert_true(sw_test_close(g.loss, r->loss, SW_TOL_LOGIT_ABS, SW_TOL_LOGIT_REL));
  for (size_t i = 0; i < (size_t)r->T * r->vocab; i++)
    if (!sw_test_close(g.logits[i], r->logits[i], SW_TOL_LOGIT_ABS, SW_TOL_LOGIT_REL))
      fail_msg("logit %zu: %g vs reference %g", i, g.logits[i], r->logits[i]);
  double worst_h = 0, worst_a = 0;
  for (int l = 0; l < (int)r->L; l++) {
    double eh = layer_rel_err(&g, g.g_h, r->g_h, l, (int)r->T, (int)r->dff);
    double ea = layer_rel_err(&g, g.g_att, r->g_att, l, (int)r->T, (int)r->qd);
    if (eh > tol || ea > tol) fail_msg("layer %d: relative error dL/dh %.3g, dL/dhead %.3g > %.3g", l, eh, ea, tol);
    worst_h = fmax(worst_h, eh), worst_a = fmax(worst_a, ea);
  }
  printf("loss %.6f (ref %.6f); worst layer relative L2 error: dL/dh %.2e, dL/dhead %.2e (tolerance %.0e)\n", g.loss,
         r->loss, worst_h, worst_a, tol);
  sw_llama_grad_free(&g);
}

static int load_tiny(sw_llama_t *m) {
  char *path = path_in("SW_GRAD_REF_DIR", "grad_tiny.gguf");
  sw_err_t err = {0};
  int ok = sw_llama_load(m, path, &err) == SW_OK;
  if (!ok) fprintf(stderr, "%s: %s\n", path, err.msg);
  free(path);
  return ok;
}

static void test_tiny_vs_autograd(void **state) {
  (void)state;
  grad_ref_t r;
  sw_llama_t m;
  if (!read_ref("grad_tiny.bin", &r)) fail_msg("fixture missing: the ctest fixture grad_reference_fixtures failed");
  assert_true(load_tiny(&m));
  assert_int_equal(m.cfg.n_head_kv * 2, m.cfg.n_head); /* the fixture exercises grouped-query attention */
  check_against_ref(&m, &r, SW_TOL_GRAD_TINY);
  sw_llama_free(&m);
  free_ref(&r);
}

/* The tiny model's fixture, weights, a run state and a gradient context (max_tok = window + extra). */
typedef struct tiny {
  grad_ref_t       r;
  sw_llama_t       m;
  sw_llama_state_t s;
  sw_llama_grad_t  g;
} tiny_t;

static void open_tiny(tiny_t *x, int extra) {
  sw_err_t err = {0};
  if (!read_ref("grad_tiny.bin", &x->r)) fail_msg("fixture missing");
  assert_true(load_tiny(&x->m));
  assert_int_equal(sw_llama_state_init(&x->s, &x->m, (int)x->r.T, (int)x->r.T, &err), SW_OK);
  assert_int_equal(sw_llama_grad_init(&x->g, &x->m, (int)x->r.T + extra, &err), SW_OK);
  assert_int_equal(sw_llama_grad_run(&x->m, &x->g, x->r.tokens, x->r.labels, (int)x->r.T, &err), SW_OK);
}

static void close_tiny(tiny_t *x) {
  sw_llama_grad_free(&x->g);
  sw_llama_state_free(&x->s);
  sw_llama_free(&x->m);
  free_ref(&x->r);
}

/* The saved-activation forward gives sw_llama_forward's logits. */
static void test_forward_matches_llama_forward(void **state) {
  (void)state;
  tiny_t x;
  sw_err_t err = {0};
  open_tiny(&x, 3); /* max_tok > T: strided rows */
  int T = (int)x.r.T;
  assert_int_equal(sw_llama_forward(&x.m, &x.s, NULL, x.r.tokens, T, 2, &err), SW_OK);
  for (size_t i = 0; i < (size_t)T * x.m.cfg.vocab; i++)
    assert_true(sw_test_close(x.g.logits[i], x.s.logits[i], SW_TOL_SELF_ABS, SW_TOL_SELF_REL));
  check_against_ref(&x.m, &x.r, SW_TOL_GRAD_TINY); /* also with the larger max_tok */
  close_tiny(&x);
}

/* ---- finite differences through sw_llama_forward */

typedef struct fd_probe {
  const sw_llama_t *m;
  int layer, t, i, site; /* site 0: FFN activation h, 1: head output */
  float delta;
  float *hbuf;           /* (T, d_ff) scratch */
} fd_probe_t;

/* Naive SwiGLU FFN with h[t][i] += delta in the probed layer. */
static sw_rc fd_ffn(void *ctx, int layer, float *out, const float *x, int n_tok, sw_err_t *err) {
  (void)err;
  fd_probe_t *p = ctx;
  const sw_ffn_weights_t *w = &p->m->w.ffn[layer];
  int d = w->d_model, dff = w->d_ff;
  const float *wg = w->gate, *wu = w->up, *wd = w->down;
  for (int t = 0; t < n_tok; t++) {
    for (int n = 0; n < dff; n++) {
      double gs = 0, us = 0;
      for (int k = 0; k < d; k++) gs += (double)wg[(size_t)n * d + k] * x[t * d + k];
      for (int k = 0; k < d; k++) us += (double)wu[(size_t)n * d + k] * x[t * d + k];
      p->hbuf[t * dff + n] = (float)(gs / (1.0 + exp(-gs)) * us);
    }
    if (p->site == 0 && layer == p->layer && t == p->t) p->hbuf[t * dff + p->i] += p->delta;
    for (int k = 0; k < d; k++) {
      double o = 0;
      for (int n = 0; n < dff; n++) o += (double)p->hbuf[t * dff + n] * wd[(size_t)n * d + k];
      out[t * d + k] = (float)o;
    }
  }
  return SW_OK;
}

static void fd_attn(void *ctx, int layer, int site, float *x, int n_tok, int dim) {
  fd_probe_t *p = ctx;
  if (site == SW_LLAMA_SITE_O && p->site == 1 && layer == p->layer && p->t < n_tok && p->i < dim)
    x[(size_t)p->t * dim + p->i] += p->delta;
}

static double loss_via_forward(const sw_llama_t *m, sw_llama_state_t *s, fd_probe_t *p, const grad_ref_t *r) {
  sw_llama_ffn_t hook = {fd_ffn, fd_attn, p, NULL};
  sw_err_t err = {0};
  sw_llama_state_reset(s);
  assert_int_equal(sw_llama_forward(m, s, &hook, r->tokens, (int)r->T, 2, &err), SW_OK);
  double sum = 0;
  int n = 0, V = m->cfg.vocab;
  for (int t = 0; t < (int)r->T; t++) {
    if (r->labels[t] < 0) continue;
    const float *lg = s->logits + (size_t)t * V;
    double mx = lg[0], z = 0;
    for (int v = 1; v < V; v++) mx = fmax(mx, lg[v]);
    for (int v = 0; v < V; v++) z += exp(lg[v] - mx);
    sum += mx + log(z) - lg[r->labels[t]], n++;
  }
  return sum / n;
}

/* Index of the largest |g| of layer l (site's buffer). */
static int argmax_abs(const sw_llama_grad_t *g, const float *buf, int l, int T, int w, int *tt) {
  float best = -1;
  int bi = 0;
  for (int t = 0; t < T; t++)
    for (int i = 0; i < w; i++) {
      float v = fabsf(sw_llama_grad_row(g, (float *)buf, l, t, w)[i]);
      if (v > best) best = v, bi = i, *tt = t;
    }
  return bi;
}

static void test_finite_differences(void **state) {
  (void)state;
  tiny_t x;
  open_tiny(&x, 0);
  const sw_llama_grad_t *g = &x.g;
  int T = (int)x.r.T, qd = x.m.cfg.n_head * x.m.cfg.head_dim;
  fd_probe_t p = {.m = &x.m, .hbuf = malloc((size_t)T * x.m.cfg.d_ff * sizeof(float))};
  for (int l = 0; l < x.m.cfg.n_layer; l++)
    for (int site = 0; site < 2; site++) {
      float *buf = site ? g->g_att : g->g_h;
      int w = site ? qd : x.m.cfg.d_ff;
      p.layer = l, p.site = site, p.i = argmax_abs(g, buf, l, T, w, &p.t);
      double want = sw_llama_grad_row(g, buf, l, p.t, w)[p.i];
      assert_true(fabs(want) >= 1e-3);
      p.delta = SW_FD_STEP;
      double lp = loss_via_forward(&x.m, &x.s, &p, &x.r);
      p.delta = -SW_FD_STEP;
      double lm = loss_via_forward(&x.m, &x.s, &p, &x.r);
      double fd = (lp - lm) / (2 * SW_FD_STEP);
      printf("layer %d %s (t %d, i %d): backward %.6g, finite difference %.6g\n", l, site ? "head out" : "h", p.t, p.i,
             want, fd);
      assert_true(sw_test_close(fd, want, SW_TOL_FD_ABS, SW_TOL_FD_REL));
    }
  free(p.hbuf);
  close_tiny(&x);
}

static void test_bad_input(void **state) {
  (void)state;
  sw_llama_t m;
  sw_llama_grad_t g;
  sw_err_t err = {0};
  assert_true(load_tiny(&m));
  assert_int_equal(sw_llama_grad_init(&g, &m, 4, &err), SW_OK);
  int32_t tok[4] = {1, 2, 3, 4}, none[4] = {-1, -1, -1, -1}, bad[4] = {2, 3, 4, 1000};
  assert_int_equal(sw_llama_grad_run(&m, &g, tok, none, 4, &err), SW_ERR_RANGE);
  assert_non_null(strstr(err.msg, "no labelled position"));
  assert_int_equal(sw_llama_grad_run(&m, &g, tok, bad, 4, &err), SW_ERR_RANGE);
  assert_non_null(strstr(err.msg, "label 1000 at 3"));
  assert_int_equal(sw_llama_grad_run(&m, &g, tok, tok, 5, &err), SW_ERR_RANGE);
  sw_llama_grad_free(&g);
  sw_llama_free(&m);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* SmolLM2 against autograd on one 24-token window; prints memory per token and time relative to the forward
 * at the sweep's 128-token window (information, not a check). */
static void test_smollm2_vs_autograd(void **state) {
  (void)state;
  grad_ref_t r;
  sw_llama_t m;
  sw_err_t err = {0};
  const char *path = getenv("SW_MODEL_PATH");
  if (!path || !read_ref("grad_model.bin", &r)) skip();
  if (sw_llama_load(&m, path, &err) != SW_OK) fail_msg("%s: %s", path, err.msg);
  check_against_ref(&m, &r, SW_TOL_GRAD_MODEL);
  enum { W = 128 };
  int32_t tok[W], lab[W];
  for (int t = 0; t < W; t++) tok[t] = r.tokens[t % r.T], lab[t] = t + 1 < W ? r.tokens[(t + 1) % r.T] : -1;
  sw_llama_state_t s;
  sw_llama_grad_t g;
  assert_int_equal(sw_llama_state_init(&s, &m, W, W, &err), SW_OK);
  assert_int_equal(sw_llama_grad_init(&g, &m, W, &err), SW_OK);
  double t0 = now_s();
  assert_int_equal(sw_llama_forward(&m, &s, NULL, tok, W, 2, &err), SW_OK);
  double t1 = now_s();
  assert_int_equal(sw_llama_grad_run(&m, &g, tok, lab, W, &err), SW_OK);
  double t2 = now_s();
  printf("SmolLM2, %d-token window: forward %.3f s, forward+backward %.3f s (%.2fx); gradient state %.2f MiB per "
         "token (%.0f MiB)\n", W, t1 - t0, t2 - t1, (t2 - t1) / (t1 - t0),
         sw_llama_grad_bytes(&m.cfg, W) / (double)W / 1048576.0, sw_llama_grad_bytes(&m.cfg, W) / 1048576.0);
  sw_llama_grad_free(&g);
  sw_llama_state_free(&s);
  sw_llama_free(&m);
  free_ref(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tiny_vs_autograd),   cmocka_unit_test(test_forward_matches_llama_forward),
      cmocka_unit_test(test_finite_differences), cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_smollm2_vs_autograd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
