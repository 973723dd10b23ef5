/* Tests for RoPE scaling from GGUF metadata (models/sw_llama.c: sw_llama_rope_table and the forward pass), against
 * tests/reference/gen_kquant_ref.py (ctest fixture, SW_KQUANT_REF_DIR): the per-pair rates of Llama 3.1's scheme
 * and of a rope_freqs.weight tensor combined with linear scaling equal a float64 NumPy computation written after
 * the Hugging Face formulation; the scaled model's logits equal a float64 NumPy forward with those rates (and
 * differ from the unscaled ones by far more than the tolerance); an unsupported scaling type is refused naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_gguf.h"
#include "models/sw_llama.h"
#include "tests/unit/sw_test_util.h"

/* Rates: float64 both sides, only pow/exp rounding differs. */
#define SW_TOL_RATE_REL 1e-12
/* Tiny 2-layer model, f32 engine vs float64 reference: logits are O(1). */
#define SW_TOL_ROPE_LOGIT_ABS 1e-4
#define SW_TOL_ROPE_LOGIT_REL 1e-4

static sw_gguf_t *open_ref(const char *file) {
  char path[4096];
  const char *dir = getenv("SW_KQUANT_REF_DIR");
  snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", file);
  sw_gguf_t *g = NULL;
  sw_err_t err = {0};
  if (sw_gguf_open(path, &g, &err)) fail_msg("%s (HINT: run tests/reference/gen_kquant_ref.py OUT_DIR)", err.msg);
  return g;
}

typedef struct rope_ref {
  uint8_t       *buf;
  uint32_t       pairs, T;
  const uint8_t *rates_llama3, *rates_freqs, *tok, *scaled, *unscaled;
} rope_ref_t;

static void read_ref(rope_ref_t *r) {
  char path[4096];
  const char *dir = getenv("SW_KQUANT_REF_DIR");
  snprintf(path, sizeof path, "%s/rope_ref.bin", dir ? dir : ".");
  size_t len = 0;
  r->buf = (uint8_t *)sw_test_read_file(path, &len);
  if (!r->buf) fail_msg("cannot read %s (HINT: run tests/reference/gen_kquant_ref.py OUT_DIR)", path);
  uint32_t hdr[3];
  assert_true(len >= 16 && memcmp(r->buf, "SWRP", 4) == 0);
  memcpy(hdr, r->buf + 4, sizeof hdr);
  assert_int_equal(hdr[0], 1);
  r->pairs = hdr[1];
  r->T = hdr[2];
  r->rates_llama3 = r->buf + 16;
  r->rates_freqs = r->rates_llama3 + 8ull * r->pairs;
  r->tok = r->rates_freqs + 8ull * r->pairs;
  r->scaled = r->tok + 4ull * r->T;
  r->unscaled = NULL; /* set once the vocabulary is known */
}

static double ref_f64(const uint8_t *p, size_t i) {
  double v;
  memcpy(&v, p + 8 * i, 8);
  return v;
}

static float ref_f32(const uint8_t *p, size_t i) {
  float v;
  memcpy(&v, p + 4 * i, 4);
  return v;
}

static void check_rates(const char *file, const uint8_t *want, uint32_t pairs, int scaling) {
  sw_gguf_t *g = open_ref(file);
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load_gguf(&m, g, &err)) fail_msg("%s: %s", file, err.msg);
  assert_int_equal(m.cfg.rope_scaling, scaling);
  assert_int_equal(m.cfg.rope_dim / 2, (int)pairs);
  int changed = 0;
  for (uint32_t i = 0; i < pairs; i++) {
    double got = sw_llama_rope_rate(&m, (int)i), ref = ref_f64(want, i);
    if (!sw_test_close(got, ref, 0.0, SW_TOL_RATE_REL)) fail_msg("%s pair %u: rate %.17g, NumPy %.17g", file, i, got, ref);
    changed += fabs(ref - pow(m.cfg.rope_theta, -2.0 * i / m.cfg.rope_dim)) > 1e-9 * ref;
  }
  assert_true(changed >= (int)pairs / 2); /* the scaling is not a no-op on this file */
  sw_llama_free(&m);
  sw_gguf_close(g);
}

static void test_rates_vs_numpy(void **state) {
  (void)state;
  rope_ref_t r;
  read_ref(&r);
  check_rates("rope_llama3.gguf", r.rates_llama3, r.pairs, SW_ROPE_SCALING_LLAMA3);
  check_rates("rope_freqs.gguf", r.rates_freqs, r.pairs, SW_ROPE_SCALING_LINEAR);
  free(r.buf);
}

static void test_scaled_logits_vs_numpy(void **state) {
  (void)state;
  rope_ref_t r;
  read_ref(&r);
  sw_gguf_t *g = open_ref("rope_llama3.gguf");
  sw_llama_t m;
  sw_llama_state_t st;
  sw_err_t err = {0};
  if (sw_llama_load_gguf(&m, g, &err)) fail_msg("%s", err.msg);
  size_t n = (size_t)r.T * (size_t)m.cfg.vocab;
  r.unscaled = r.scaled + 4 * n;
  int32_t *tok = malloc(4ull * r.T);
  memcpy(tok, r.tok, 4ull * r.T);
  assert_int_equal(sw_llama_state_init(&st, &m, (int)r.T, (int)r.T, &err), SW_OK);
  assert_int_equal(sw_llama_forward(&m, &st, NULL, tok, (int)r.T, 2, &err), SW_OK);
  double max_err = 0, max_gap = 0;
  for (size_t i = 0; i < n; i++) {
    float want = ref_f32(r.scaled, i);
    max_err = fmax(max_err, fabs(st.logits[i] - want));
    max_gap = fmax(max_gap, fabs(st.logits[i] - ref_f32(r.unscaled, i)));
    if (!sw_test_close(st.logits[i], want, SW_TOL_ROPE_LOGIT_ABS, SW_TOL_ROPE_LOGIT_REL))
      fail_msg("logit %zu: sparsweep %.7g, NumPy %.7g", i, st.logits[i], want);
  }
  assert_true(max_gap > 100 * SW_TOL_ROPE_LOGIT_ABS);
  print_message("llama3 RoPE scaling: max |logit - NumPy| = %.3g; unscaled logits differ by up to %.3g\n", max_err,
                max_gap);
  sw_llama_state_free(&st);
  sw_llama_free(&m);
  sw_gguf_close(g);
  free(tok);
  free(r.buf);
}

static void test_unsupported_scaling_named(void **state) {
  (void)state;
  sw_gguf_t *g = open_ref("rope_yarn.gguf");
  sw_llama_t m;
  sw_err_t err = {0};
  assert_int_equal(sw_llama_load_gguf(&m, g, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "rope.scaling.type"));
  assert_non_null(strstr(err.msg, "'yarn'"));
  sw_gguf_close(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rates_vs_numpy),
      cmocka_unit_test(test_scaled_logits_vs_numpy),
      cmocka_unit_test(test_unsupported_scaling_named),
  };
  return cmocka_run_group_tests_name("rope_scaling", tests, NULL, NULL);
}
