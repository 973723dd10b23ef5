/* Tests for RoPE scaling from GGUF metadata and Hugging Face config.json (models/sw_llama.c: sw_llama_rope_table
 * and the forward pass; models/sw_hf.c: rope_scaling), against tests/reference/gen_kquant_ref.py (ctest fixture,
 * SW_KQUANT_REF_DIR): the per-pair rates of Llama 3.1's scheme, of a rope_freqs.weight tensor combined with linear
 * scaling and of YaRN equal a float64 NumPy computation written after the Hugging Face formulation; the scaled
 * models' logits equal a float64 NumPy forward with those rates (and YaRN's attention factor) and differ from the
 * unscaled ones by far more than the tolerance; YaRN's rates meet the paper's boundary conditions (checked here
 * from its definitions, arXiv 2309.00071 eq. 17-18); a config.json rope_scaling with the same parameters as a GGUF
 * file gives the same rates; an unsupported scaling type is refused naming the file's key. */
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
#include "common/sw_json.h"
#include "models/sw_hf.h"
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
  size_t         len;
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
  assert_int_equal(hdr[0], 2);
  r->len = len;
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
  for (uint32_t i = 0; want && i < pairs; i++) {
    double got = sw_llama_rope_rate(&m, (int)i), ref = ref_f64(want, i);
    if (!sw_test_close(got, ref, 0.0, SW_TOL_RATE_REL)) fail_msg("%s pair %u: rate %.17g, NumPy %.17g", file, i, got, ref);
    changed += fabs(ref - pow(m.cfg.rope_theta, -2.0 * i / m.cfg.rope_dim)) > 1e-9 * ref;
  }
  assert_true(!want || changed >= (int)pairs / 2); /* the scaling is not a no-op on this file */
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

/* The logits of model m on the reference tokens equal `want` (NumPy) and differ from `unscaled` by far more than the
 * tolerance (the scaling is no no-op on these positions). */
static void check_logits(const sw_llama_t *m, const rope_ref_t *r, const uint8_t *want, const uint8_t *unscaled,
                         const char *label) {
  sw_llama_state_t st;
  sw_err_t err = {0};
  size_t n = (size_t)r->T * (size_t)m->cfg.vocab;
  int32_t *tok = malloc(4ull * r->T);
  memcpy(tok, r->tok, 4ull * r->T);
  assert_int_equal(sw_llama_state_init(&st, m, (int)r->T, (int)r->T, &err), SW_OK);
  assert_int_equal(sw_llama_forward(m, &st, NULL, tok, (int)r->T, 2, &err), SW_OK);
  double max_err = 0, max_gap = 0;
  for (size_t i = 0; i < n; i++) {
    float w = ref_f32(want, i);
    max_err = fmax(max_err, fabs(st.logits[i] - w));
    max_gap = fmax(max_gap, fabs(w - ref_f32(unscaled, i)));
    if (!sw_test_close(st.logits[i], w, SW_TOL_ROPE_LOGIT_ABS, SW_TOL_ROPE_LOGIT_REL))
      fail_msg("%s logit %zu: sparsweep %.7g, NumPy %.7g", label, i, st.logits[i], w);
  }
  assert_true(max_gap > 100 * SW_TOL_ROPE_LOGIT_ABS);
  print_message("%s RoPE scaling: max |logit - NumPy| = %.3g; unscaled logits differ by up to %.3g\n", label, max_err,
                max_gap);
  sw_llama_state_free(&st);
  free(tok);
}

static void test_scaled_logits_vs_numpy(void **state) {
  (void)state;
  rope_ref_t r;
  read_ref(&r);
  sw_gguf_t *g = open_ref("rope_llama3.gguf");
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load_gguf(&m, g, &err)) fail_msg("%s", err.msg);
  r.unscaled = r.scaled + 4 * (size_t)r.T * (size_t)m.cfg.vocab;
  check_logits(&m, &r, r.scaled, r.unscaled, "llama3");
  sw_llama_free(&m);
  sw_gguf_close(g);
  free(r.buf);
}

static void test_unsupported_scaling_named(void **state) {
  (void)state;
  sw_gguf_t *g = open_ref("rope_longrope.gguf");
  sw_llama_t m;
  sw_err_t err = {0};
  assert_int_equal(sw_llama_load_gguf(&m, g, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "llama.rope.scaling.type"));
  assert_non_null(strstr(err.msg, "'longrope'"));
  sw_gguf_close(g);
}

/* The YaRN block after the version-1 layout: rates[pairs], f64 attention factor, logits[T][vocab]. */
static const uint8_t *yarn_block(const rope_ref_t *r, size_t vocab) {
  size_t at = 16 + 16ull * r->pairs + 4ull * r->T + 8ull * r->T * vocab;
  assert_true(r->len == at + 8ull * r->pairs + 8 + 4ull * r->T * vocab);
  return r->buf + at;
}

static void test_yarn_vs_numpy(void **state) {
  (void)state;
  rope_ref_t r;
  read_ref(&r);
  check_rates("rope_yarn.gguf", NULL, r.pairs, SW_ROPE_SCALING_YARN);
  sw_gguf_t *g = open_ref("rope_yarn.gguf");
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load_gguf(&m, g, &err)) fail_msg("%s", err.msg);
  const uint8_t *y = yarn_block(&r, (size_t)m.cfg.vocab), *logits = y + 8ull * r.pairs + 8;
  for (uint32_t i = 0; i < r.pairs; i++)
    if (!sw_test_close(sw_llama_rope_rate(&m, (int)i), ref_f64(y, i), 0.0, SW_TOL_RATE_REL))
      fail_msg("yarn pair %u: rate %.17g, NumPy %.17g", i, sw_llama_rope_rate(&m, (int)i), ref_f64(y, i));
  double mscale = ref_f64(y + 8ull * r.pairs, 0);
  assert_true(sw_test_close(sw_llama_rope_attn_scale(&m), mscale, 0.0, 1e-6)); /* stored as f32 */
  check_logits(&m, &r, logits, r.scaled + 4 * (size_t)r.T * (size_t)m.cfg.vocab, "yarn");
  sw_llama_free(&m);
  sw_gguf_close(g);
  free(r.buf);
}

/* The paper's NTK-by-parts conditions, from its definitions alone: with r = L * theta_d / 2pi rotations over the
 * original context L, a pair with r >= beta_fast keeps theta_d, one with r <= beta_slow gets theta_d / s, and
 * every rate lies between the two.  The file's parameters put pairs on both sides and in between. */
static void test_yarn_paper_bounds(void **state) {
  (void)state;
  const double two_pi = 6.283185307179586;
  sw_gguf_t *g = open_ref("rope_yarn.gguf");
  sw_llama_config_t c;
  sw_err_t err = {0};
  double rates[SW_LLAMA_MAX_ROPE_DIM / 2];
  if (sw_llama_config_read(&c, g, &err) || sw_llama_rope_table(&c, g, rates, &err)) fail_msg("%s", err.msg);
  assert_true(sw_test_close(c.rope_attn_scale, 0.9 * (0.1 * log(4.0) + 1.0), 0.0, 1e-6)); /* eq. 22 x attn_factor */
  int kept = 0, interpolated = 0, between = 0;
  for (int i = 0; i < c.rope_dim / 2; i++) {
    double theta = pow(10000.0, -2.0 * i / c.rope_dim), r = c.rope_orig_ctx * theta / two_pi;
    double s = c.rope_scale_factor;
    assert_true(rates[i] <= theta * (1 + 1e-12) && rates[i] >= theta / s * (1 - 1e-12));
    if (r >= c.rope_beta_fast) kept++, assert_true(sw_test_close(rates[i], theta, 0.0, 1e-12));
    else if (r <= c.rope_beta_slow) interpolated++, assert_true(sw_test_close(rates[i], theta / s, 0.0, 1e-12));
    else between += rates[i] < theta * (1 - 1e-9) && rates[i] > theta / s * (1 + 1e-9);
  }
  assert_true(kept >= 3 && interpolated >= 3 && between >= 3);
  sw_gguf_close(g);
}

/* config.json's rope_scaling with the same parameters as a GGUF file gives the same rates and attention factor. */
static void check_hf_same(const char *gguf, const char *scaling_json) {
  char text[1024];
  snprintf(text, sizeof text, "{\"model_type\":\"llama\",\"num_hidden_layers\":2,\"hidden_size\":256,"
           "\"intermediate_size\":512,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":320,"
           "\"max_position_embeddings\":256,\"rope_theta\":10000.0,\"rope_scaling\":%s}", scaling_json);
  sw_json_t *j = NULL;
  sw_err_t err = {0};
  sw_llama_config_t hf, gc;
  double a[SW_LLAMA_MAX_ROPE_DIM / 2], b[SW_LLAMA_MAX_ROPE_DIM / 2];
  assert_int_equal(sw_json_parse(text, strlen(text), &j, &err), SW_OK);
  if (sw_hf_config_read(&hf, j, "config.json", &err)) fail_msg("%s: %s", scaling_json, err.msg);
  sw_gguf_t *g = open_ref(gguf);
  if (sw_llama_config_read(&gc, g, &err)) fail_msg("%s", err.msg);
  assert_int_equal(hf.rope_scaling, gc.rope_scaling);
  assert_int_equal(sw_llama_rope_table(&hf, NULL, a, &err), SW_OK);
  assert_int_equal(sw_llama_rope_table(&gc, NULL, b, &err), SW_OK);
  for (int i = 0; i < hf.rope_dim / 2; i++)
    if (!sw_test_close(a[i], b[i], 0.0, 1e-12)) fail_msg("%s pair %d: HF %.17g, GGUF %.17g", gguf, i, a[i], b[i]);
  assert_true(sw_test_close(hf.rope_attn_scale, gc.rope_attn_scale, 0.0, 1e-6));
  sw_json_free(j);
  sw_gguf_close(g);
}

static void test_hf_rope_scaling(void **state) {
  (void)state;
  check_hf_same("rope_llama3.gguf", "{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
                "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":32}");
  /* HF's attention_factor is the whole multiplier: GGUF attn_factor 0.9 x (0.1 ln 4 + 1) */
  char yarn[256];
  snprintf(yarn, sizeof yarn, "{\"rope_type\":\"yarn\",\"factor\":4.0,\"original_max_position_embeddings\":256,"
           "\"beta_fast\":8,\"attention_factor\":%.9g}", (double)0.9f * (0.1 * log(4.0) + 1.0));
  check_hf_same("rope_yarn.gguf", yarn);
  sw_json_t *j = NULL;
  sw_err_t err = {0};
  sw_llama_config_t c;
  const char *bad = "{\"model_type\":\"llama\",\"num_hidden_layers\":1,\"hidden_size\":8,\"intermediate_size\":8,"
                    "\"num_attention_heads\":2,\"vocab_size\":4,\"rope_scaling\":{\"rope_type\":\"longrope\"}}";
  assert_int_equal(sw_json_parse(bad, strlen(bad), &j, &err), SW_OK);
  assert_int_equal(sw_hf_config_read(&c, j, "dir/config.json", &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "dir/config.json: rope_scaling: rope_type 'longrope'"));
  sw_json_free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rates_vs_numpy),
      cmocka_unit_test(test_scaled_logits_vs_numpy),
      cmocka_unit_test(test_unsupported_scaling_named),
      cmocka_unit_test(test_yarn_vs_numpy),
      cmocka_unit_test(test_yarn_paper_bounds),
      cmocka_unit_test(test_hf_rope_scaling),
  };
  return cmocka_run_group_tests_name("rope_scaling", tests, NULL, NULL);
}
