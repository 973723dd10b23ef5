/* Test of the attribution mask's FFN (models/sw_attrib.c, masked_ffn on the sparse kernels of
 * kernels/sw_ffn_sparse.h) on SmolLM2's real layers and real hidden states: a checking hook runs the mask hook's
 * FFN on the input each layer receives during a forward pass and compares it, in three layers, with a naive
 * float64 FFN written here over the same active neurons.  The calls mimic the task scoring of
 * models/sw_mcscore.c: a 40-token context (the token-sparse tiled, packed-block and dense-masked batch paths,
 * by the active fraction) and then continuations of 1, 2 and 3 tokens from the KV cache (the gathered one-token
 * kernel and the few-token batch paths).  Active fractions 0.2, 0.5, 0.9 and 1 (every neuron: the dense kernel).
 * Skipped when the model file is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/sw_attrib.h"
#include "models/sw_gguf.h"
#include "models/sw_llama.h"
#include "models/sw_tokenizer.h"
#include "models/sw_tokenizer_gguf.h"
#include "tests/unit/sw_test_util.h"

/* f32 kernels (dot products over d_model = 576 inputs, sums over up to 1536 neurons, in blocked or SIMD order)
 * against float64: the largest error of an output row relative to that row's largest magnitude.  Measured on
 * SmolLM2: up to about 2e-6 in every path; the bound leaves a margin of 10. */
#define SW_TOL_FFN_ROW_REL 2e-5

enum { N_CHECKED = 3 };
static const int checked_layers[N_CHECKED] = {0, 15, 29};

typedef struct checker {
  sw_llama_ffn_t inner; /* the mask hook under test */
  const sw_llama_t *m;
  const sw_attrib_mask_t *mask;
  double worst;    /* largest row-relative error seen */
  double masked;   /* largest row-relative change of the reference between the mask and every neuron */
  int    calls;    /* checked calls */
} checker_t;

/* h_i(x) = SiLU(gate_i·x)·(up_i·x), summed over the active neurons into out (d_model doubles); when every_neuron,
 * the mask is ignored. */
static void naive_ffn(double *out, const float *x, const sw_ffn_weights_t *w, const uint8_t *active, int every_neuron) {
  int d = w->d_model;
  for (int j = 0; j < d; j++) out[j] = 0;
  for (int i = 0; i < w->d_ff; i++) {
    if (!every_neuron && !active[i]) continue;
    const float *g = (const float *)w->gate + (size_t)i * w->ld_gate, *u = (const float *)w->up + (size_t)i * w->ld_up;
    const float *dn = (const float *)w->down + (size_t)i * w->ld_down; /* f32 rows (the model's dequantised copy) */
    double gs = 0, us = 0;
    for (int j = 0; j < d; j++) gs += (double)g[j] * x[j], us += (double)u[j] * x[j];
    double h = gs / (1.0 + exp(-gs)) * us;
    for (int j = 0; j < d; j++) out[j] += h * dn[j];
  }
}

static int is_checked(int layer) {
  for (int i = 0; i < N_CHECKED; i++)
    if (checked_layers[i] == layer) return 1;
  return 0;
}

static sw_rc checking_ffn(void *ctx, int layer, float *out, const float *x, int n_tok, sw_err_t *err) {
  checker_t *c = ctx;
  sw_rc rc = c->inner.forward(c->inner.ctx, layer, out, x, n_tok, err);
  if (rc || !is_checked(layer)) return rc;
  const sw_ffn_weights_t *w = &c->m->w.ffn[layer];
  const uint8_t *active = c->mask->ffn + (size_t)layer * w->d_ff;
  int d = w->d_model;
  double *ref = malloc(2 * (size_t)d * sizeof *ref), *all = ref + d;
  assert_non_null(ref);
  for (int t = 0; t < n_tok; t++) {
    naive_ffn(ref, x + (size_t)t * d, w, active, 0);
    naive_ffn(all, x + (size_t)t * d, w, active, 1);
    double scale = 0, err_max = 0, change = 0;
    for (int j = 0; j < d; j++) scale = fmax(scale, fabs(ref[j]));
    for (int j = 0; j < d; j++) {
      err_max = fmax(err_max, fabs(out[(size_t)t * d + j] - ref[j]));
      change = fmax(change, fabs(all[j] - ref[j]));
    }
    c->worst = fmax(c->worst, err_max / scale);
    c->masked = fmax(c->masked, change / scale);
  }
  free(ref);
  c->calls++;
  return SW_OK;
}

/* Deterministic scores (a fixed LCG): the mask selection is then reproducible and unrelated to the inputs. */
static void fill_scores(sw_attrib_scores_t *s) {
  uint64_t st = 0x9E3779B97F4A7C15ull;
  size_t nf = (size_t)SW_ATTRIB_COUNT * s->n_layer * s->d_ff, nh = (size_t)SW_ATTRIB_COUNT * s->n_layer * s->n_head;
  for (size_t i = 0; i < nf + nh; i++) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    double v = (double)(st >> 11) / 9007199254740992.0;
    if (i < nf) s->ffn[i] = v;
    else s->head[i - nf] = v;
  }
}

/* Context then three continuations (1, 2, 3 tokens) from its KV cache, as sw_mc_score runs an item. */
static void run_item(const sw_llama_t *m, const sw_llama_ffn_t *hook, const int32_t *ids, int n_ctx) {
  sw_llama_state_t st;
  sw_err_t err = {0};
  assert_int_equal(sw_llama_state_init(&st, m, 64, 64, &err), SW_OK);
  if (sw_llama_forward(m, &st, hook, ids, n_ctx, 1, &err)) fail_msg("%s", err.msg);
  for (int len = 1; len <= 3; len++) {
    st.pos = n_ctx;
    if (sw_llama_forward(m, &st, hook, ids + n_ctx, len, 2, &err)) fail_msg("%s", err.msg);
  }
  sw_llama_state_free(&st);
}

static void test_masked_ffn_vs_float64(void **state) {
  (void)state;
  const char *path = getenv("SW_MODEL_PATH");
  if (!path || access(path, R_OK)) skip();
  sw_llama_t m;
  sw_gguf_t *g = NULL;
  sw_tokenizer_t *tok = NULL;
  sw_err_t err = {0};
  if (sw_llama_load(&m, path, &err) || sw_gguf_open(path, &g, &err) || sw_tokenizer_from_gguf(g, &tok, &err))
    fail_msg("%s", err.msg);
  sw_gguf_close(g);
  const char *text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
                     "must be in want of a wife. However little known the feelings or views of such a man may be on "
                     "his first entering a neighbourhood, this truth is so well fixed in the minds of the families.";
  int32_t *ids = NULL;
  size_t n = 0;
  if (sw_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, &err)) fail_msg("%s", err.msg);
  enum { CTX = 40 };
  assert_true(n >= CTX + 3);
  sw_attrib_scores_t s;
  sw_attrib_mask_t k;
  assert_int_equal(sw_attrib_scores_init(&s, &m.cfg, &err), SW_OK);
  assert_int_equal(sw_attrib_mask_init(&k, &m, 64, &err), SW_OK);
  fill_scores(&s);
  const double ratio[4] = {0.2, 0.5, 0.9, 1.0};
  for (int r = 0; r < 4; r++) {
    checker_t c = {sw_attrib_mask_hook(&k), &m, &k, 0, 0, 0};
    sw_llama_ffn_t hook = {checking_ffn, c.inner.attn_input, &c, NULL};
    sw_attrib_mask_select(&k, &s, SW_ATTRIB_GXO, 1.0 - ratio[r], 0.0);
    run_item(&m, &hook, ids, CTX);
    printf("active fraction %.1f: largest row-relative error %.2e over %d checked calls (masking changes rows by up to "
           "%.2f)\n", ratio[r], c.worst, c.calls, c.masked);
    assert_int_equal(c.calls, 4 * N_CHECKED);
    assert_true(c.worst <= SW_TOL_FFN_ROW_REL);
    if (ratio[r] < 1.0) assert_true(c.masked > 100 * SW_TOL_FFN_ROW_REL); /* the mask is not a no-op */
  }
  sw_attrib_mask_free(&k);
  sw_attrib_scores_free(&s);
  free(ids);
  sw_tokenizer_free(tok);
  sw_llama_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_masked_ffn_vs_float64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
