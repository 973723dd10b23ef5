/* Tests for the Q5_0/Q5_1 and K-quant dequantisers (models/sw_types.c) and for a mixed-type model file
 * through the f32 loader (models/sw_llama.c), against files written by the `gguf` Python package
 * (tests/reference/gen_kquant_ref.py, run as a ctest fixture into SW_KQUANT_REF_DIR):
 *   - each type's blocks, read from a GGUF file by sparsweep's reader, equal the package's f32 dequantisation
 *     bit for bit (sw_types.c is built without FMA contraction, so the f32 operations are the same);
 *   - a tiny Llama whose matrices mix q4_k, q6_k, q5_0, q2_k, q3_k, q5_k and q5_1 (Q4_K_M-style) gives the
 *     logits of a float64 NumPy forward on the package's dequantised weights;
 *     (also under weights: native, where these types have no kernel and every matrix stays f32);
 *   - the same file with an iq4_nl tensor is refused with an error naming the tensor and the type. */
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
#include "models/sw_types.h"
#include "tests/unit/sw_test_util.h"

/* Tiny 2-layer model, f32 engine vs float64 reference: logits are O(1). */
#define SW_TOL_KQ_LOGIT_ABS 1e-4
#define SW_TOL_KQ_LOGIT_REL 1e-4

static void ref_path(char *buf, size_t len, const char *file) {
  const char *dir = getenv("SW_KQUANT_REF_DIR");
  snprintf(buf, len, "%s/%s", dir ? dir : ".", file);
}

static sw_gguf_t *open_ref(const char *file) {
  char path[4096];
  ref_path(path, sizeof path, file);
  sw_gguf_t *g = NULL;
  sw_err_t err = {0};
  if (sw_gguf_open(path, &g, &err) != SW_OK)
    fail_msg("%s (HINT: run tests/reference/gen_kquant_ref.py OUT_DIR)", err.msg);
  return g;
}

/* Dequantises tensor q.<type> with sparsweep and compares it with ref.<type> (the package's values). */
static void check_type(const sw_gguf_t *g, uint32_t type) {
  char qname[64], rname[64];
  snprintf(qname, sizeof qname, "q.%s", sw_type_name(type));
  snprintf(rname, sizeof rname, "ref.%s", sw_type_name(type));
  const sw_gguf_tensor_t *q = sw_gguf_find_tensor(g, qname), *r = sw_gguf_find_tensor(g, rname);
  if (!q || !r) fail_msg("tensors %s / %s missing from the reference file", qname, rname);
  assert_int_equal(q->type, type);
  assert_int_equal(r->type, SW_TYPE_F32);
  assert_int_equal(q->n_elements, r->n_elements);
  size_t n = (size_t)q->n_elements;
  float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
  sw_err_t err = {0};
  assert_int_equal(sw_dequant_bytes(got, q->data, q->nbytes, n, type, qname, &err), SW_OK);
  assert_int_equal(sw_dequant_bytes(want, r->data, r->nbytes, n, SW_TYPE_F32, rname, &err), SW_OK);
  size_t nonzero = 0;
  for (size_t i = 0; i < n; i++) {
    if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
      fail_msg("%s element %zu: sparsweep %.9g, gguf %.9g", sw_type_name(type), i, got[i], want[i]);
    nonzero += want[i] != 0.0f;
  }
  assert_true(nonzero > n / 2); /* the blocks are not degenerate */
  free(got);
  free(want);
}

static void test_blocks_equal_gguf_package(void **state) {
  (void)state;
  sw_gguf_t *g = open_ref("kquant_blocks.gguf");
  static const uint32_t types[] = {SW_TYPE_Q5_0, SW_TYPE_Q5_1, SW_TYPE_Q2_K, SW_TYPE_Q3_K,
                                   SW_TYPE_Q4_K, SW_TYPE_Q5_K, SW_TYPE_Q6_K};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_type(g, types[i]);
  sw_gguf_close(g);
}

/* Hand-computed Q5_0 block: d = 0.5 (f16 0x3800); element 0 has nibble 3 and qh bit 0 set -> (19-16)*0.5 = 1.5;
 * element 17 has high nibble 0 and no qh bit -> (0-16)*0.5 = -8; element 31 has high nibble 15 and bit 31
 * set -> (31-16)*0.5 = 7.5. */
static void test_q5_0_hand_block(void **state) {
  (void)state;
  uint8_t b[22] = {0x00, 0x38, 0x01, 0x00, 0x00, 0x80};
  for (int j = 0; j < 16; j++) b[6 + j] = 0x08; /* low nibble 8, high nibble 0 */
  b[6 + 0] = 0x03;
  b[6 + 15] = 0xF8;
  float y[32];
  assert_int_equal(sw_dequant(y, b, 32, SW_TYPE_Q5_0, "hand", NULL), SW_OK);
  assert_true(y[0] == 1.5f);
  assert_true(y[1] == -4.0f); /* nibble 8, no qh bit: (8-16)*0.5 */
  assert_true(y[17] == -8.0f);
  assert_true(y[31] == 7.5f);
}

static float *read_logits(uint32_t *T, uint32_t *vocab, int32_t **tok) {
  char path[4096];
  ref_path(path, sizeof path, "kquant_logits.bin");
  size_t len = 0;
  uint8_t *buf = (uint8_t *)sw_test_read_file(path, &len);
  if (!buf) fail_msg("cannot read %s (HINT: run tests/reference/gen_kquant_ref.py OUT_DIR)", path);
  uint32_t ver;
  assert_true(len >= 16 && memcmp(buf, "SWKL", 4) == 0);
  memcpy(&ver, buf + 4, 4);
  assert_int_equal(ver, 1);
  memcpy(T, buf + 8, 4);
  memcpy(vocab, buf + 12, 4);
  assert_int_equal(len, 16 + 4ull * *T + 4ull * *T * *vocab);
  *tok = malloc(4ull * *T);
  memcpy(*tok, buf + 16, 4ull * *T);
  float *ref = malloc(4ull * *T * *vocab);
  memcpy(ref, buf + 16 + 4ull * *T, 4ull * *T * *vocab);
  free(buf);
  return ref;
}

/* Counts the distinct tensor types of a file. */
static int distinct_types(const sw_gguf_t *g) {
  int seen[SW_TYPE_COUNT] = {0}, n = 0;
  for (size_t i = 0; i < g->n_tensors; i++)
    if (!seen[g->tensors[i].type]++) n++;
  return n;
}

static void test_mixed_type_model_logits(void **state) {
  (void)state;
  sw_gguf_t *g = open_ref("kquant_model.gguf");
  assert_true(distinct_types(g) >= 8); /* f32 norms + the seven new types */
  sw_llama_t m;
  sw_err_t err = {0};
  if (sw_llama_load_gguf(&m, g, &err) != SW_OK) fail_msg("load: %s", err.msg);
  uint32_t T, vocab;
  int32_t *tok;
  float *ref = read_logits(&T, &vocab, &tok);
  assert_int_equal(vocab, (uint32_t)m.cfg.vocab);
  sw_llama_state_t st;
  assert_int_equal(sw_llama_state_init(&st, &m, (int)T, (int)T, &err), SW_OK);
  assert_int_equal(sw_llama_forward(&m, &st, NULL, tok, (int)T, 2, &err), SW_OK);
  double max_err = 0;
  for (size_t i = 0; i < (size_t)T * vocab; i++) {
    max_err = fmax(max_err, fabs(st.logits[i] - ref[i]));
    if (!sw_test_close(st.logits[i], ref[i], SW_TOL_KQ_LOGIT_ABS, SW_TOL_KQ_LOGIT_REL))
      fail_msg("logit %zu: sparsweep %.7g, NumPy %.7g", i, st.logits[i], ref[i]);
  }
  print_message("mixed-type model: max |logit - float64 reference| = %.3g over %u x %u\n", max_err, T, vocab);
  sw_llama_state_free(&st);
  /* weights: native has no kernel for these types: every matrix runs on its f32 copy, same logits */
  assert_int_equal(m.q.n_native, 0);
  assert_int_equal(m.q.n_fallback, 7 * m.cfg.n_layer + 1);
  assert_int_equal(sw_llama_state_init(&st, &m, (int)T, (int)T, &err), SW_OK);
  assert_int_equal(sw_llama_state_native(&st, &m, 1, SW_ISA_AUTO, &err), SW_OK);
  assert_int_equal(sw_llama_forward(&m, &st, NULL, tok, (int)T, 2, &err), SW_OK);
  for (size_t i = 0; i < (size_t)T * vocab; i++)
    if (!sw_test_close(st.logits[i], ref[i], SW_TOL_KQ_LOGIT_ABS, SW_TOL_KQ_LOGIT_REL))
      fail_msg("native state, logit %zu: sparsweep %.7g, NumPy %.7g", i, st.logits[i], ref[i]);
  sw_llama_state_free(&st);
  sw_llama_free(&m);
  free(ref);
  free(tok);
  sw_gguf_close(g);
}

static void test_unsupported_type_named(void **state) {
  (void)state;
  sw_gguf_t *g = open_ref("kquant_model_iq.gguf");
  sw_llama_t m;
  sw_err_t err = {0};
  assert_int_equal(sw_llama_load_gguf(&m, g, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "blk.1.attn_k.weight"));
  assert_non_null(strstr(err.msg, "iq4_nl"));
  sw_gguf_close(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocks_equal_gguf_package),
      cmocka_unit_test(test_q5_0_hand_block),
      cmocka_unit_test(test_mixed_type_model_logits),
      cmocka_unit_test(test_unsupported_type_named),
  };
  return cmocka_run_group_tests_name("kquant", tests, NULL, NULL);
}
