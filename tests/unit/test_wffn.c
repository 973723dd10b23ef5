/* Unit test for models/sw_wffn (the weight-sparse FFN hook): a 2-layer synthetic model with pruned weights,
 * every token's FFN output against a float64 naive SwiGLU (all neurons, and the float64 top-k of |h| at
 * activation sparsity 0.5), one token at a time (SpMV, spMspV) and in batches of 3 and 19 tokens (SpMM: a partial
 * 8-token tile, and 16 + 8; with top-k each token's own selection), and the number of kernel calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_wffn.h"
#include "tests/unit/sw_test_util.h"

enum { L = 2, D = 24, F = 40, T = 19 };

static float uni(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Random weights with ~60 % zeros. */
static void fill(float *w, size_t n, uint64_t *s) {
  for (size_t i = 0; i < n; i++) {
    float v = uni(s);
    w[i] = fabsf(v) < 0.6f ? 0.0f : v;
  }
}

/* float64 FFN of layer l for x: keep the k largest |h| (k = F: all). */
static void ref_ffn(const sw_llama_t *m, int l, const float *x, int k, double *out) {
  double h[F];
  for (int i = 0; i < F; i++) {
    double g = 0, u = 0;
    for (int j = 0; j < D; j++) {
      g += (double)m->w.w_gate[((size_t)l * F + i) * D + j] * x[j];
      u += (double)m->w.w_up[((size_t)l * F + i) * D + j] * x[j];
    }
    h[i] = g / (1.0 + exp(-g)) * u;
  }
  for (int i = 0; i < F; i++) { /* neuron i kept when fewer than k neurons have a larger |h| */
    int larger = 0;
    for (int j = 0; j < F; j++) larger += fabs(h[j]) > fabs(h[i]);
    if (larger >= k) h[i] = 0.0;
  }
  for (int o = 0; o < D; o++) {
    out[o] = 0.0;
    for (int i = 0; i < F; i++) out[o] += h[i] * m->w.w_down_t[((size_t)l * F + i) * D + o];
  }
}

/* Layer l's FFN of n tokens of x in one hook call, against the float64 reference token by token. */
static void check_call(sw_llama_ffn_t *hook, const sw_llama_t *m, int l, const float *x, int n, int k) {
  float    out[T * D];
  sw_err_t err;
  for (int i = 0; i < T * D; i++) out[i] = 12345.0f;
  assert_int_equal(hook->forward(hook->ctx, l, out, x, n, &err), SW_OK);
  for (int t = 0; t < n; t++) {
    double want[D];
    ref_ffn(m, l, x + t * D, k, want);
    for (int o = 0; o < D; o++)
      if (!sw_test_close(out[t * D + o], want[o], 1e-4, 1e-4))
        fail_msg("layer %d, %d tokens, token %d out %d: %.7g, want %.7g", l, n, t, o, (double)out[t * D + o], want[o]);
  }
}

static void run_case(double act_s, int k) {
  sw_llama_t m;
  memset(&m, 0, sizeof m);
  m.cfg.n_layer = L, m.cfg.d_model = D, m.cfg.d_ff = F;
  uint64_t s = 42;
  float   *wg = malloc(sizeof(float) * L * F * D), *wu = malloc(sizeof(float) * L * F * D);
  float   *wd = malloc(sizeof(float) * L * F * D);
  fill(wg, (size_t)L * F * D, &s), fill(wu, (size_t)L * F * D, &s), fill(wd, (size_t)L * F * D, &s);
  m.w.w_gate = wg, m.w.w_up = wu, m.w.w_down_t = wd;
  float x[T * D];
  for (int i = 0; i < T * D; i++) x[i] = 2.0f * uni(&s);
  sw_wffn_t f;
  sw_err_t  err;
  assert_int_equal(sw_wffn_init(&f, &m, act_s, &err), SW_OK);
  sw_llama_ffn_t hook = sw_wffn_hook(&f);
  const int      batches[] = {1, 3, T};
  int64_t        calls = 0;
  for (int l = 0; l < L; l++)
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
      const int n = batches[b];
      check_call(&hook, &m, l, x, n, k);
      calls += 3; /* gate, up, down: SpMV and spMspV for one token, SpMM for a batch */
      assert_int_equal(f.stats.calls, calls);
    }
  sw_wffn_free(&f);
  free(wg), free(wu), free(wd);
}

static void test_wffn_all_neurons(void **state) {
  (void)state;
  run_case(0.0, F);
}

static void test_wffn_topk_half(void **state) {
  (void)state;
  run_case(0.5, F / 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_wffn_all_neurons), cmocka_unit_test(test_wffn_topk_half)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
