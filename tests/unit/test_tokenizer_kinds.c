/* Tests for the llama-bpe (Llama 3) and SentencePiece ("llama") tokenizers of models/sw_tokenizer.c, built from
 * GGUF files (models/sw_tokenizer_gguf.c): vocabularies trained by tests/reference/gen_tokenizer_kinds_ref.py on
 * the Austen text with Hugging Face `tokenizers` and `sentencepiece`, written with the `gguf` package; the token
 * ids of each library on ~1400 texts (Austen lines and multi-line chunks, hard cases) must be reproduced exactly,
 * and decoding must give the text back.  An unsupported tokenizer model is an error naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "models/sw_gguf.h"
#include "models/sw_tokenizer.h"
#include "models/sw_tokenizer_gguf.h"
#include "tests/unit/sw_test_util.h"

static void ref_path(char *buf, size_t len, const char *file) {
  const char *dir = getenv("SW_TOKENIZER_KINDS_DIR");
  snprintf(buf, len, "%s/%s", dir ? dir : ".", file);
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* Encodes every case of <name>.bin with the tokenizer of <name>.gguf and compares ids and the round trip. */
static void check_cases(const char *name) {
  char gpath[4096], cpath[4096], file[64];
  snprintf(file, sizeof file, "%s.gguf", name);
  ref_path(gpath, sizeof gpath, file);
  snprintf(file, sizeof file, "%s.bin", name);
  ref_path(cpath, sizeof cpath, file);
  size_t len = 0;
  uint8_t *buf = (uint8_t *)sw_test_read_file(cpath, &len);
  if (!buf) fail_msg("cannot read %s (HINT: run tests/reference/gen_tokenizer_kinds_ref.py TEXT OUT_DIR)", cpath);
  assert_true(len >= 12 && memcmp(buf, "SWTK", 4) == 0 && rd32(buf + 4) == 1);
  sw_gguf_t *g = NULL;
  sw_tokenizer_t *tok = NULL;
  sw_err_t err = {0};
  if (sw_gguf_open(gpath, &g, &err) || sw_tokenizer_from_gguf(g, &tok, &err)) fail_msg("%s", err.msg);
  uint32_t n_cases = rd32(buf + 8), n_tokens = 0;
  size_t pos = 12;
  for (uint32_t c = 0; c < n_cases; c++) {
    uint32_t tlen = rd32(buf + pos);
    const char *text = (const char *)buf + pos + 4;
    uint32_t n_ref = rd32(buf + pos + 4 + tlen);
    const uint8_t *ref = buf + pos + 8 + tlen;
    pos += 8ull + tlen + 4ull * n_ref;
    assert_true(pos <= len);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    assert_int_equal(sw_tokenizer_encode(tok, text, tlen, 0, &ids, &n_ids, &err), SW_OK);
    for (size_t i = 0; i < n_ids || i < n_ref; i++)
      if (i >= n_ids || i >= n_ref || ids[i] != (int32_t)rd32(ref + 4 * i))
        fail_msg("%s case %u (\"%.60s\"): token %zu is %d, the reference library gives %d (%zu vs %u tokens)", name,
                 c, text, i, i < n_ids ? ids[i] : -1, i < n_ref ? (int32_t)rd32(ref + 4 * i) : -1, n_ids, n_ref);
    sw_buf_t back = {0};
    assert_int_equal(sw_tokenizer_decode(tok, ids, n_ids, &back, &err), SW_OK);
    if (back.len != tlen || memcmp(back.data, text, tlen) != 0) fail_msg("%s case %u: decode differs", name, c);
    sw_buf_free(&back);
    n_tokens += (uint32_t)n_ids;
    free(ids);
  }
  assert_true(n_cases > 1000);
  print_message("%s: %u cases, %u tokens equal to the reference library\n", name, n_cases, n_tokens);
  sw_tokenizer_free(tok);
  sw_gguf_close(g);
  free(buf);
}

static void test_llama_bpe_matches_hf_tokenizers(void **state) {
  (void)state;
  check_cases("llama_bpe");
}

static void test_spm_matches_sentencepiece(void **state) {
  (void)state;
  char path[4096];
  ref_path(path, sizeof path, "spm.bin");
  FILE *f = fopen(path, "rb");
  if (!f) {
    print_message("SKIP: %s absent: the `sentencepiece` package is not installed (scripts/setup.sh)\n", path);
    skip();
  }
  fclose(f);
  check_cases("spm");
}

static void test_unsupported_model_named(void **state) {
  (void)state;
  char path[4096];
  ref_path(path, sizeof path, "unsupported.gguf");
  sw_gguf_t *g = NULL;
  sw_tokenizer_t *tok = NULL;
  sw_err_t err = {0};
  if (sw_gguf_open(path, &g, &err)) fail_msg("%s", err.msg);
  assert_int_equal(sw_tokenizer_from_gguf(g, &tok, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "'rwkv'"));
  assert_null(tok);
  sw_gguf_close(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_llama_bpe_matches_hf_tokenizers),
      cmocka_unit_test(test_spm_matches_sentencepiece),
      cmocka_unit_test(test_unsupported_model_named),
  };
  return cmocka_run_group_tests_name("tokenizer_kinds", tests, NULL, NULL);
}
