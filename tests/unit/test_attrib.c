/* Tests for models/sw_attrib: the four scores against values computed by hand on a two-token, one-layer
 * gradient record; per-layer bottom-p selection (counts, ties, sparsity); the mask hook on the random model of
 * tests/reference/gen_grad_ref.py (SW_GRAD_REF_DIR): all units active reproduces sw_llama_forward, and a masked
 * neuron and a masked head give the logits of a naive FFN/attention hook that zeroes the same unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_attrib.h"
#include "models/sw_llama.h"
#include "models/sw_llama_grad.h"
#include "tests/unit/sw_test_util.h"

/* Hook vs sw_llama_forward: with every unit active the hook runs the dense FFN kernel (the same sums); the bound
 * allows the summation order of the sparse kernels (models/sw_attrib.c). */
#define SW_TOL_HOOK_ABS 2e-5
#define SW_TOL_HOOK_REL 1e-5
/* Naive double-precision FFN reference vs the f32 hook. */
#define SW_TOL_NAIVE_ABS 1e-4
#define SW_TOL_NAIVE_REL 1e-4

/* One layer, d_ff 2, two heads of width 2, two tokens; o and g filled with small integers. */
static void test_scores_by_hand(void **state) {
  (void)state;
  sw_llama_config_t c = {.n_layer = 1, .d_ff = 2, .n_head = 2, .head_dim = 2};
  float h[4] = {1, -2, 3, 0.5f}, gh[4] = {2, 1, -1, 4};              /* (t, neuron) */
  float att[8] = {1, 0, 0, 2, 0, 3, 1, 1}, ga[8] = {1, 1, 2, 0, 4, 0, 0, -1}; /* (t, head*2+j) */
  sw_llama_grad_t g = {.max_tok = 2, .n_tok = 2, .h = h, .g_h = gh, .att = att, .g_att = ga};
  sw_attrib_scores_t s;
  sw_err_t err = {0};
  assert_int_equal(sw_attrib_scores_init(&s, &c, &err), SW_OK);
  sw_attrib_scores_from_grad(&s, &g, &c);
  /* neuron 0: |1|+|3| = 4; grad |2|+|-1| = 3; gxo |2·1| + |-1·3| = 5;
   * layer gradient norms: t0 sqrt(4+1) = √5, t1 sqrt(1+16) = √17; cor = 5 + ½(1·√5 + 3·√17) */
  assert_true(sw_test_close(sw_attrib_ffn(&s, SW_ATTRIB_MAGNITUDE, 0)[0], 4, 1e-12, 0));
  assert_true(sw_test_close(sw_attrib_ffn(&s, SW_ATTRIB_GRAD, 0)[0], 3, 1e-12, 0));
  assert_true(sw_test_close(sw_attrib_ffn(&s, SW_ATTRIB_GXO, 0)[0], 5, 1e-12, 0));
  assert_true(sw_test_close(sw_attrib_ffn(&s, SW_ATTRIB_COR_GXO, 0)[0], 5 + 0.5 * (sqrt(5) + 3 * sqrt(17)), 1e-6, 0));
  /* neuron 1: |-2|+|0.5| = 2.5; gxo |1·-2| + |4·0.5| = 4; cor = 4 + ½(2·√5 + 0.5·√17) */
  assert_true(sw_test_close(sw_attrib_ffn(&s, SW_ATTRIB_MAGNITUDE, 0)[1], 2.5, 1e-12, 0));
  assert_true(sw_test_close(sw_attrib_ffn(&s, SW_ATTRIB_COR_GXO, 0)[1], 4 + 0.5 * (2 * sqrt(5) + 0.5 * sqrt(17)), 1e-6,
                            0));
  /* head 1 (columns 2,3): o = (0,2) then (1,1); g = (2,0) then (0,-1).  magnitude 2 + √2; grad 2 + 1;
   * gxo |0| + |-1| = 1; layer norms: t0 sqrt(1+1+4) = √6, t1 sqrt(16+1) = √17; cor = 1 + ½(2·√6 + √2·√17) */
  assert_true(sw_test_close(sw_attrib_head(&s, SW_ATTRIB_MAGNITUDE, 0)[1], 2 + sqrt(2), 1e-6, 0));
  assert_true(sw_test_close(sw_attrib_head(&s, SW_ATTRIB_GRAD, 0)[1], 3, 1e-6, 0));
  assert_true(sw_test_close(sw_attrib_head(&s, SW_ATTRIB_GXO, 0)[1], 1, 1e-6, 0));
  assert_true(sw_test_close(sw_attrib_head(&s, SW_ATTRIB_COR_GXO, 0)[1], 1 + 0.5 * (2 * sqrt(6) + sqrt(2) * sqrt(17)),
                            1e-5, 0));
  /* averaging: add twice with weight 0.5 gives the same values */
  sw_attrib_scores_t avg;
  assert_int_equal(sw_attrib_scores_init(&avg, &c, &err), SW_OK);
  sw_attrib_scores_add(&avg, &s, 0.5);
  sw_attrib_scores_add(&avg, &s, 0.5);
  assert_true(sw_test_close(sw_attrib_ffn(&avg, SW_ATTRIB_GXO, 0)[0], 5, 1e-12, 0));
  sw_attrib_scores_free(&avg);
  sw_attrib_scores_free(&s);
}

static void test_metric_names(void **state) {
  (void)state;
  sw_attrib_metric_t m;
  sw_err_t err = {0};
  for (int i = 0; i < SW_ATTRIB_COUNT; i++) {
    assert_int_equal(sw_attrib_metric_parse(sw_attrib_metric_name((sw_attrib_metric_t)i), &m, &err), SW_OK);
    assert_int_equal(m, i);
  }
  assert_int_equal(sw_attrib_metric_parse("snip", &m, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "unknown metric 'snip'"));
}

static int load_tiny(sw_llama_t *m) {
  char path[4096];
  const char *dir = getenv("SW_GRAD_REF_DIR");
  snprintf(path, sizeof path, "%s/grad_tiny.gguf", dir ? dir : ".");
  sw_err_t err = {0};
  if (sw_llama_load(m, path, &err) == SW_OK) return 1;
  fprintf(stderr, "%s: %s\n", path, err.msg);
  return 0;
}

/* Bottom-p per layer: exact counts, lowest scores first, ties to the lower index. */
static void test_select_bottom_p(void **state) {
  (void)state;
  sw_llama_t m;
  sw_attrib_mask_t k;
  sw_attrib_scores_t s;
  sw_err_t err = {0};
  assert_true(load_tiny(&m));
  assert_int_equal(sw_attrib_mask_init(&k, &m, 4, &err), SW_OK);
  assert_int_equal(sw_attrib_scores_init(&s, &m.cfg, &err), SW_OK);
  int dff = m.cfg.d_ff, H = m.cfg.n_head;
  for (int l = 0; l < m.cfg.n_layer; l++) {
    for (int i = 0; i < dff; i++) sw_attrib_ffn(&s, SW_ATTRIB_GXO, l)[i] = (double)((i * 7) % dff);
    for (int h = 0; h < H; h++) sw_attrib_head(&s, SW_ATTRIB_GXO, l)[h] = 1.0; /* all tied */
  }
  sw_attrib_mask_select(&k, &s, SW_ATTRIB_GXO, 0.25, 0.5);
  for (int l = 0; l < m.cfg.n_layer; l++) {
    int off = 0;
    for (int i = 0; i < dff; i++) {
      int expect_off = (i * 7) % dff < (int)lround(0.25 * dff);
      assert_int_equal(k.ffn[l * dff + i], !expect_off);
      off += !k.ffn[l * dff + i];
    }
    assert_int_equal(off, 12);
    for (int h = 0; h < H; h++) assert_int_equal(k.head[l * H + h], h >= H / 2); /* ties: lower index off first */
  }
  double sf, sh;
  sw_attrib_mask_sparsity(&k, &sf, &sh);
  assert_true(sw_test_close(sf, 0.25, 1e-12, 0));
  assert_true(sw_test_close(sh, 0.5, 1e-12, 0));
  sw_attrib_mask_select(&k, &s, SW_ATTRIB_GXO, 0.0, 0.0);
  sw_attrib_mask_sparsity(&k, &sf, &sh);
  assert_true(sf == 0 && sh == 0);
  sw_attrib_scores_free(&s);
  sw_attrib_mask_free(&k);
  sw_llama_free(&m);
}

/* A naive hook zeroing neuron (zl, zi) of h and head (hl, hh). */
typedef struct naive {
  const sw_llama_t *m;
  int zl, zi, hl, hh;
} naive_t;

static sw_rc naive_ffn(void *ctx, int layer, float *out, const float *x, int n_tok, sw_err_t *err) {
  (void)err;
  naive_t *p = ctx;
  const sw_ffn_weights_t *w = &p->m->w.ffn[layer];
  const float *wg = w->gate, *wu = w->up, *wd = w->down;
  int d = w->d_model, dff = w->d_ff;
  for (int t = 0; t < n_tok; t++)
    for (int k = 0; k < d; k++) {
      double o = 0;
      for (int n = 0; n < dff; n++) {
        if (layer == p->zl && n == p->zi) continue;
        double gs = 0, us = 0;
        for (int j = 0; j < d; j++) gs += (double)wg[n * d + j] * x[t * d + j], us += (double)wu[n * d + j] * x[t * d + j];
        o += gs / (1 + exp(-gs)) * us * wd[n * d + k];
      }
      out[t * d + k] = (float)o;
    }
  return SW_OK;
}

static void naive_attn(void *ctx, int layer, int site, float *x, int n_tok, int dim) {
  naive_t *p = ctx;
  int hd = p->m->cfg.head_dim;
  if (site == SW_LLAMA_SITE_O && layer == p->hl)
    for (int t = 0; t < n_tok; t++) memset(x + t * dim + p->hh * hd, 0, hd * sizeof(float));
}

static void run_logits(const sw_llama_t *m, const sw_llama_ffn_t *hook, const int32_t *tok, int T, float *out) {
  sw_llama_state_t st;
  sw_err_t err = {0};
  assert_int_equal(sw_llama_state_init(&st, m, T, T, &err), SW_OK);
  assert_int_equal(sw_llama_forward(m, &st, hook, tok, T, 2, &err), SW_OK);
  memcpy(out, st.logits, (size_t)T * m->cfg.vocab * sizeof(float));
  sw_llama_state_free(&st);
}

static void test_hook_masks(void **state) {
  (void)state;
  sw_llama_t m;
  sw_attrib_mask_t k;
  sw_err_t err = {0};
  assert_true(load_tiny(&m));
  enum { T = 9 };
  int32_t tok[T] = {3, 14, 15, 9, 26, 5, 35, 8, 9};
  size_t n = (size_t)T * m.cfg.vocab;
  float *dense = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
  assert_int_equal(sw_attrib_mask_init(&k, &m, T, &err), SW_OK);
  sw_llama_ffn_t hook = sw_attrib_mask_hook(&k);
  run_logits(&m, NULL, tok, T, dense);
  run_logits(&m, &hook, tok, T, got); /* all active */
  for (size_t i = 0; i < n; i++) assert_true(sw_test_close(got[i], dense[i], SW_TOL_HOOK_ABS, SW_TOL_HOOK_REL));
  naive_t nv = {&m, 1, 17, 0, 3};
  k.ffn[1 * m.cfg.d_ff + 17] = 0;
  k.head[0 * m.cfg.n_head + 3] = 0;
  sw_llama_ffn_t ref = {naive_ffn, naive_attn, &nv, NULL};
  run_logits(&m, &hook, tok, T, got);
  run_logits(&m, &ref, tok, T, want);
  double diff = 0;
  for (size_t i = 0; i < n; i++) {
    assert_true(sw_test_close(got[i], want[i], SW_TOL_NAIVE_ABS, SW_TOL_NAIVE_REL));
    diff = fmax(diff, fabs(got[i] - dense[i]));
  }
  assert_true(diff > 1e-3); /* the masked units do change the output */
  free(dense), free(got), free(want);
  sw_attrib_mask_free(&k);
  sw_llama_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scores_by_hand),
      cmocka_unit_test(test_metric_names),
      cmocka_unit_test(test_select_bottom_p),
      cmocka_unit_test(test_hook_masks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
