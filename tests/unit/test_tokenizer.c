/* Tokenizer tests: (1) token ids for >1000 cases of real text (Jane Austen) equal those of an independent
 * implementation (Hugging Face tokenizers, tests/reference/gen_tokenizer_fixture.py); (2) the published
 * SmolLM vectors of docs/models.md §2; (3) decode(encode(x)) == x, also for invalid UTF-8; (4) a hand-built
 * vocabulary whose merge order is worked out by hand; (5) malformed vocabularies are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "models/sw_gguf.h"
#include "models/sw_tokenizer.h"
#include "models/sw_tokenizer_gguf.h"
#include "tests/unit/sw_test_util.h"

typedef struct tok_fixture {
  sw_gguf_t      *gguf;
  sw_tokenizer_t *tok;
} tok_fixture_t;

static int setup_model(void **state) {
  const char *src = getenv("SW_SOURCE_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf", src ? src : ".");
  tok_fixture_t *fx = calloc(1, sizeof *fx);
  sw_err_t err;
  sw_err_clear(&err);
  if (sw_gguf_open(path, &fx->gguf, &err) || sw_tokenizer_from_gguf(fx->gguf, &fx->tok, &err)) {
    fprintf(stderr, "cannot load the default model (run scripts/setup.sh): %s\n", err.msg);
    free(fx);
    return -1;
  }
  *state = fx;
  return 0;
}

static int teardown_model(void **state) {
  tok_fixture_t *fx = *state;
  sw_tokenizer_free(fx->tok);
  sw_gguf_close(fx->gguf);
  free(fx);
  return 0;
}

/* Encodes text and compares with want[n_want]; prints the first difference. Returns 1 when equal. */
static int encodes_to(const sw_tokenizer_t *tok, const char *text, size_t len, const int64_t *want, size_t n_want) {
  int32_t *ids = NULL;
  size_t n = 0;
  sw_err_t err;
  if (sw_tokenizer_encode(tok, text, len, 0, &ids, &n, &err) != SW_OK) {
    fprintf(stderr, "encode failed: %s\n", err.msg);
    return 0;
  }
  int same = n == n_want;
  for (size_t i = 0; same && i < n; i++) same = ids[i] == want[i];
  if (!same) {
    size_t i = 0;
    while (i < n && i < n_want && ids[i] == want[i]) i++;
    fprintf(stderr, "mismatch for \"%.80s\": %zu ids vs %zu expected, first difference at %zu (%d vs %lld)\n", text,
            n, n_want, i, i < n ? ids[i] : -1, i < n_want ? (long long)want[i] : -1LL);
  }
  free(ids);
  return same;
}

static void test_matches_independent_reference(void **state) {
  tok_fixture_t *fx = *state;
  const char *src = getenv("SW_SOURCE_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/reference/tokenizer_austen.jsonl", src ? src : ".");
  size_t len;
  char *data = sw_test_read_file(path, &len);
  assert_non_null(data);
  size_t cases = 0, failures = 0, ids_total = 0;
  int64_t want[8192];
  for (char *line = data, *end; *line; line = end + 1) {
    end = strchr(line, '\n');
    if (!end) break;
    sw_json_t *v = NULL;
    sw_err_t err;
    assert_int_equal(sw_json_parse(line, (size_t)(end - line), &v, &err), SW_OK);
    if (line == data) { /* header: magic and version */
      const char *magic = NULL;
      int64_t version = 0;
      assert_int_equal(sw_json_get_str(v, "magic", "", &magic, &err), SW_OK);
      assert_string_equal(magic, "sparsweep-tokenizer-fixture");
      assert_int_equal(sw_json_get_int(v, "version", 0, &version, &err), SW_OK);
      assert_int_equal(version, 1);
      sw_json_free(v);
      continue;
    }
    const sw_json_t *text = sw_json_get(v, "text"), *ids = sw_json_get(v, "ids");
    assert_true(text && ids && ids->count < 8192);
    for (size_t i = 0; i < ids->count; i++) want[i] = ids->items[i].integer;
    failures += !encodes_to(fx->tok, text->string, text->string_len, want, ids->count);
    ids_total += ids->count;
    cases++;
    sw_json_free(v);
  }
  free(data);
  printf("tokenizer: %zu cases, %zu reference ids, %zu mismatching cases\n", cases, ids_total, failures);
  assert_true(cases >= 1000);
  assert_int_equal(failures, 0);
}

static void test_published_vectors(void **state) {
  tok_fixture_t *fx = *state;
  /* docs/models.md §2 test vectors (a public project's self-check of the SmolLM vocabulary). */
  static const struct {
    const char *text;
    int64_t ids[12];
    size_t n;
  } v[] = {
      {"Hello, we can use", {19556, 28, 392, 416, 722}, 5},
      {"The capital of France is", {504, 3575, 282, 4649, 314}, 5},
      {"Hello world! 123", {19556, 905, 17, 216, 33, 34, 35}, 7},
      {"  multiple   spaces", {216, 2701, 256, 5600}, 4},
      {"\n", {198}, 1},
      {"Caf\xc3\xa9 d\xc3\xa9j\xc3\xa0 vu.", {51, 1939, 2756, 32564, 90, 16739, 386, 101, 30}, 9},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    assert_true(encodes_to(fx->tok, v[i].text, strlen(v[i].text), v[i].ids, v[i].n));
}

static void assert_round_trip(const sw_tokenizer_t *tok, const char *text, size_t len) {
  int32_t *ids = NULL;
  size_t n = 0;
  sw_err_t err;
  assert_int_equal(sw_tokenizer_encode(tok, text, len, 0, &ids, &n, &err), SW_OK);
  sw_buf_t out = SW_BUF_INIT;
  assert_int_equal(sw_tokenizer_decode(tok, ids, n, &out, &err), SW_OK);
  assert_int_equal(out.len, len);
  assert_memory_equal(sw_buf_str(&out), text, len);
  sw_buf_free(&out);
  free(ids);
}

static void test_round_trip(void **state) {
  tok_fixture_t *fx = *state;
  static const char *const texts[] = {"", "a", "It is a truth universally acknowledged, that a single man\n",
                                      "invalid \xc3 utf8 \xed\xa0\x80 surrogate \xe6\x97", "<|im_start|>user\nhi",
                                      "tabs\t\tand  \r\n crlf   "};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) assert_round_trip(fx->tok, texts[i], strlen(texts[i]));
  /* Every byte that has its own byte token, in one string (reverse order, so unusual neighbours meet). */
  char bytes[256];
  size_t n_bytes = 0, n_tokenless = 0;
  for (int b = 255; b >= 0; b--) {
    char one = (char)b;
    int32_t *one_id = NULL;
    size_t n_one = 0;
    assert_int_equal(sw_tokenizer_encode(fx->tok, &one, 1, 0, &one_id, &n_one, NULL), SW_OK);
    if (one_id[0] != 0) bytes[n_bytes++] = one;
    else n_tokenless++;
    free(one_id);
  }
  assert_true(n_bytes >= 200); /* nearly all of the 256 bytes are in a byte-level vocabulary */
  assert_round_trip(fx->tok, bytes, n_bytes);
  /* Bytes that can never occur in UTF-8 (0xF5..0xFF) have no token in this vocabulary: they become the
   * unknown token rather than failing. */
  int32_t *ids = NULL;
  size_t n = 0;
  sw_err_t err;
  assert_int_equal(sw_tokenizer_encode(fx->tok, "\xff", 1, 0, &ids, &n, &err), SW_OK);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], 0);
  free(ids);
  /* A hostile input: a long run of spaces is one piece; the heap-based BPE handles it. */
  size_t big = 200000;
  char *spaces = malloc(big);
  memset(spaces, ' ', big);
  assert_round_trip(fx->tok, spaces, big);
  free(spaces);
}

static void test_special_tokens(void **state) {
  tok_fixture_t *fx = *state;
  const char *text = "<|im_start|>user";
  int32_t *ids = NULL;
  size_t n = 0;
  sw_err_t err;
  int32_t im_start = sw_tokenizer_lookup(fx->tok, "<|im_start|>", 12);
  assert_true(im_start >= 0);
  assert_int_equal(sw_tokenizer_encode(fx->tok, text, strlen(text), 1, &ids, &n, &err), SW_OK);
  assert_true(n >= 2);
  assert_int_equal(ids[0], im_start);
  free(ids);
  assert_int_equal(sw_tokenizer_encode(fx->tok, text, strlen(text), 0, &ids, &n, &err), SW_OK);
  assert_true(n > 2 && ids[0] != im_start); /* without parse_special it is plain text */
  free(ids);
}

/* A toy vocabulary: bytes a, b, c plus merges (rank order) "a b" -> ab, "b c" -> bc, "ab c" -> abc.
 * For "abc": candidates "a b" (rank 0) and "b c" (rank 1): a+b first, then ab+c -> [abc].
 * For "bcab": "b c" (1) and "a b" (0) -> a b first: [b, c, ab] -> then b c: [bc, ab]. */
static void test_merge_order_by_hand(void **state) {
  (void)state;
  const char *tokens[] = {"a", "b", "c", "ab", "bc", "abc"};
  size_t tlen[] = {1, 1, 1, 2, 2, 3};
  const char *merges[] = {"a b", "b c", "ab c"};
  size_t mlen[] = {3, 3, 4};
  sw_vocab_spec_t spec = {tokens, tlen, 6, merges, mlen, 3, NULL, "gpt2", -1, 0, NULL, 0, 0, -1};
  sw_tokenizer_t *tok = NULL;
  sw_err_t err;
  assert_int_equal(sw_tokenizer_create(&tok, &spec, &err), SW_OK);
  int64_t abc[] = {5}, bcab[] = {4, 3}, aaa[] = {0, 0, 0};
  assert_true(encodes_to(tok, "abc", 3, abc, 1));
  assert_true(encodes_to(tok, "bcab", 4, bcab, 2));
  assert_true(encodes_to(tok, "aaa", 3, aaa, 3));
  int32_t *ids = NULL;
  size_t n = 0;
  assert_int_equal(sw_tokenizer_encode(tok, "x", 1, 0, &ids, &n, &err), SW_ERR_NOTFOUND); /* no byte token */
  sw_tokenizer_free(tok);
}

static void test_malformed_vocabularies(void **state) {
  (void)state;
  const char *tokens[] = {"a", "b", "a"};
  size_t tlen[] = {1, 1, 1};
  const char *bad_merge[] = {"a z"};
  size_t bmlen[] = {3};
  sw_tokenizer_t *tok = NULL;
  sw_err_t err;
  sw_vocab_spec_t dup = {tokens, tlen, 3, NULL, NULL, 0, NULL, "gpt2", -1, 0, NULL, 0, 0, -1};
  assert_int_equal(sw_tokenizer_create(&tok, &dup, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "duplicates"));
  sw_vocab_spec_t missing = {tokens, tlen, 2, bad_merge, bmlen, 1, NULL, "gpt2", -1, 0, NULL, 0, 0, -1};
  assert_int_equal(sw_tokenizer_create(&tok, &missing, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "merge 0"));
  sw_vocab_spec_t pre = {tokens, tlen, 2, NULL, NULL, 0, NULL, "qwen2", -1, 0, NULL, 0, 0, -1};
  assert_int_equal(sw_tokenizer_create(&tok, &pre, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "qwen2"));
  assert_null(tok);
}

/* SentencePiece "abc" with ab (score 2) and bc (score 1): ab merges first, giving "ab c".  A NaN score on an
 * unrelated token must not change that: before, NaN compared as equal to every score and left qsort's order
 * of the finite scores undefined ("a bc" came out). */
static void encode_spm_abc(float zz_score, int32_t out[4], size_t *n) {
  static const char *const toks[] = {"a", "b", "c", "bc", "zz", "ab"};
  static const size_t lens[] = {1, 1, 1, 2, 2, 2};
  static const int32_t types[] = {1, 1, 1, 1, 1, 1};
  const float scores[] = {0, 0, 0, 1, zz_score, 2};
  sw_vocab_spec_t spec = {.tokens = toks, .token_lens = lens, .n_tokens = 6, .token_types = types, .unk_id = -1,
                          .spm = 1, .scores = scores, .bos_id = -1};
  sw_tokenizer_t *tok = NULL;
  sw_err_t err;
  if (sw_tokenizer_create(&tok, &spec, &err)) fail_msg("%s", err.msg);
  int32_t *ids = NULL;
  assert_int_equal(sw_tokenizer_encode(tok, "abc", 3, 0, &ids, n, &err), SW_OK);
  assert_true(*n <= 4);
  memcpy(out, ids, *n * sizeof *ids);
  free(ids);
  sw_tokenizer_free(tok);
}

static void test_spm_nan_score_keeps_order(void **state) {
  (void)state;
  int32_t a[4], b[4];
  size_t na = 0, nb = 0;
  encode_spm_abc(-5.0f, a, &na);
  assert_int_equal(na, 2);
  assert_int_equal(a[0], 5); /* ab */
  assert_int_equal(a[1], 2); /* c */
  encode_spm_abc(NAN, b, &nb);
  assert_int_equal(nb, 2);
  assert_memory_equal(a, b, sizeof a[0] * 2);
}

int main(void) {
  const struct CMUnitTest model_tests[] = {
      cmocka_unit_test(test_matches_independent_reference),
      cmocka_unit_test(test_published_vectors),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_special_tokens),
  };
  const struct CMUnitTest toy_tests[] = {
      cmocka_unit_test(test_merge_order_by_hand),
      cmocka_unit_test(test_malformed_vocabularies),
      cmocka_unit_test(test_spm_nan_score_keeps_order),
  };
  int failed = cmocka_run_group_tests_name("tokenizer_toy", toy_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("tokenizer_smollm2", model_tests, setup_model, teardown_model);
  return failed;
}
