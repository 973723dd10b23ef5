/* Tests for the BOS token (models/sw_tokenizer.h sw_tokenizer_bos, models/sw_mcscore.c): which files make a model
 * expect one (GGUF tokenizer.ggml.add_bos_token and its per-vocabulary default, tokenizer.ggml.bos_token_id; Hugging
 * Face tokenizer.json's TemplateProcessing post-processor, overridden by tokenizer_config.json add_bos_token /
 * bos_token), the errors naming the key or file when it cannot be honoured, and multiple-choice scores with a BOS:
 * equal to an independent float64 reference (one full forward of BOS + context + choice, log-softmax summed over the
 * choice's tokens) and different from the scores without it.  The model is the tiny random Llama of
 * tests/reference/gen_kquant_ref.py (ctest fixture, SW_KQUANT_REF_DIR); the vocabulary is built here. */
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

#include "common/sw_buf.h"
#include "models/sw_gguf.h"
#include "models/sw_llama.h"
#include "models/sw_mctask.h"
#include "models/sw_tokenizer.h"
#include "models/sw_tokenizer_gguf.h"
#include "models/sw_tokenizer_hf.h"
#include "tests/unit/sw_test_gguf_build.h"
#include "tests/unit/sw_test_util.h"

/* Summed log-probabilities of a few tokens: the KV-cached, chunked scorer vs one float64 log-softmax pass over the
 * same f32 logits. */
#define SW_TOL_BOS_LL_ABS 1e-4

/* A GGUF with only tokenizer keys: vocabulary a, b, <s>, no merges; model gpt2 with pre `pre`; add_bos_token
 * written when add >= 0, bos_token_id when bos >= 0.  The parsed file points into *image (sw_gguf_parse does not
 * copy it): free the image only after sw_gguf_close. */
static sw_gguf_t *tok_gguf(sw_buf_t *image, const char *pre, int add, int64_t bos) {
  sw_buf_t b = {0};
  uint64_t n_kv = 5 + (add >= 0) + (bos >= 0);
  gb_header(&b, 3, 0, n_kv);
  gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
  gb_kv_str(&b, "tokenizer.ggml.pre", pre);
  const char *toks[] = {"a", "b", "<s>"};
  gb_str(&b, "tokenizer.ggml.tokens");
  gb_u32(&b, 9), gb_u32(&b, 8), gb_u64(&b, 3);
  for (int i = 0; i < 3; i++) gb_str(&b, toks[i]);
  gb_str(&b, "tokenizer.ggml.merges");
  gb_u32(&b, 9), gb_u32(&b, 8), gb_u64(&b, 0);
  if (add >= 0) gb_str(&b, "tokenizer.ggml.add_bos_token"), gb_u32(&b, 7), gb_u8(&b, (uint8_t)add);
  if (bos >= 0) gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
  gb_kv_u32(&b, "general.alignment", 32);
  gb_pad(&b, 32);
  sw_gguf_t *g = NULL;
  sw_err_t err = {0};
  if (sw_gguf_parse(b.data, b.len, &g, &err)) fail_msg("%s", err.msg);
  *image = b;
  return g;
}

/* BOS id of the tokenizer of tok_gguf(pre, add, bos), or the error code (message in err). */
static int32_t gguf_bos(const char *pre, int add, int64_t bos, sw_err_t *err) {
  sw_buf_t image = {0};
  sw_gguf_t *g = tok_gguf(&image, pre, add, bos);
  sw_tokenizer_t *tok = NULL;
  sw_rc rc = sw_tokenizer_from_gguf(g, &tok, err);
  int32_t id = rc ? -100 - (int32_t)rc : sw_tokenizer_bos(tok);
  sw_tokenizer_free(tok);
  sw_gguf_close(g);
  sw_buf_free(&image);
  return id;
}

static void test_gguf_bos_keys(void **state) {
  (void)state;
  sw_err_t err = {0};
  assert_int_equal(gguf_bos("gpt2", -1, 2, &err), -1);        /* byte-level BPE: none by default */
  assert_int_equal(gguf_bos("gpt2", 0, 2, &err), -1);
  assert_int_equal(gguf_bos("gpt2", 1, 2, &err), 2);          /* add_bos_token true */
  assert_int_equal(gguf_bos("llama-bpe", -1, 2, &err), 2);    /* Llama 3: yes by default */
  assert_int_equal(gguf_bos("llama-bpe", 0, 2, &err), -1);    /* ... unless the file says no */
  assert_int_equal(gguf_bos("llama-bpe", -1, -1, &err), -1); /* a default without an id adds nothing */
  assert_int_equal(gguf_bos("gpt2", 1, -1, &err), -100 - SW_ERR_NOTFOUND);
  assert_non_null(strstr(err.msg, "tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is missing"));
  assert_int_equal(gguf_bos("gpt2", 1, 7, &err), -100 - SW_ERR_RANGE);
  assert_non_null(strstr(err.msg, "tokenizer.ggml.bos_token_id 7"));
}

/* Writes text to dir/name. */
static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static const char hf_tokenizer_fmt[] =
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"<s>\":2},\"merges\":[]},"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
    "\"added_tokens\":[{\"id\":2,\"content\":\"<s>\",\"special\":true}],\"post_processor\":%s}";

/* BOS id of a checkpoint directory's tokenizer (tokenizer_config.json written when config is not NULL). */
static int32_t hf_bos(const char *post, const char *config, sw_err_t *err) {
  char dir[] = "/tmp/sw_test_bos_XXXXXX", text[1024];
  assert_non_null(mkdtemp(dir));
  snprintf(text, sizeof text, hf_tokenizer_fmt, post);
  write_file(dir, "tokenizer.json", text);
  if (config) write_file(dir, "tokenizer_config.json", config);
  sw_tokenizer_t *tok = NULL;
  sw_rc rc = sw_tokenizer_open(dir, &tok, err);
  int32_t id = rc ? -100 - (int32_t)rc : sw_tokenizer_bos(tok);
  sw_tokenizer_free(tok);
  char path[512];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir), unlink(path);
  snprintf(path, sizeof path, "%s/tokenizer_config.json", dir), unlink(path);
  rmdir(dir);
  return id;
}

static void test_hf_bos_files(void **state) {
  (void)state;
  const char *templ = "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
                      "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]}";
  char seq[512];
  snprintf(seq, sizeof seq, "{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},%s]}", templ);
  sw_err_t err = {0};
  assert_int_equal(hf_bos("null", NULL, &err), -1);
  assert_int_equal(hf_bos("{\"type\":\"ByteLevel\"}", NULL, &err), -1);
  assert_int_equal(hf_bos(templ, NULL, &err), 2);  /* Llama 2 style */
  assert_int_equal(hf_bos(seq, NULL, &err), 2);    /* Llama 3 style */
  assert_int_equal(hf_bos(templ, "{\"add_bos_token\":false}", &err), -1);
  assert_int_equal(hf_bos("null", "{\"add_bos_token\":true,\"bos_token\":\"<s>\"}", &err), 2);
  assert_int_equal(hf_bos("null", "{\"add_bos_token\":true,\"bos_token\":{\"content\":\"<s>\"}}", &err), 2);
  assert_int_equal(hf_bos("null", "{\"add_bos_token\":true,\"bos_token\":\"<bos>\"}", &err), -100 - SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "tokenizer.json: BOS token '<bos>' is not in the vocabulary"));
  assert_int_equal(hf_bos("null", "{\"add_bos_token\":true}", &err), -100 - SW_ERR_NOTFOUND);
  assert_non_null(strstr(err.msg, "no bos_token"));
  assert_int_equal(hf_bos("null", "{\"add_bos_token\":1}", &err), -100 - SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "'add_bos_token' must be true or false"));
}

/* ---------------------------------------------------------------- scores with a BOS */

static sw_llama_t *load_tiny(void) {
  char path[4096];
  const char *dir = getenv("SW_KQUANT_REF_DIR");
  snprintf(path, sizeof path, "%s/kquant_model.gguf", dir ? dir : ".");
  sw_llama_t *m = calloc(1, sizeof *m);
  sw_err_t err = {0};
  if (sw_llama_load(m, path, &err)) fail_msg("%s (HINT: run tests/reference/gen_kquant_ref.py OUT_DIR)", err.msg);
  return m;
}

/* Vocabulary a, b, c, d, <s> (ids 0..4) with bos 4 when add_bos. */
static sw_tokenizer_t *toy_tokenizer(int add_bos) {
  const char *tokens[] = {"a", "b", "c", "d", "<s>"};
  size_t tlen[] = {1, 1, 1, 1, 3};
  int32_t types[] = {1, 1, 1, 1, SW_TOKEN_CONTROL};
  sw_vocab_spec_t spec = {tokens, tlen, 5, NULL, NULL, 0, types, "gpt2", -1, 0, NULL, 0, add_bos, 4};
  sw_tokenizer_t *tok = NULL;
  sw_err_t err = {0};
  if (sw_tokenizer_create(&tok, &spec, &err)) fail_msg("%s", err.msg);
  return tok;
}

/* Independent reference: log p(ids[from..n) | ids[0..from)) from one forward of all n tokens, in double. */
static double full_pass_ll(const sw_llama_t *m, const int32_t *ids, int n, int from) {
  sw_llama_state_t st;
  sw_err_t err = {0};
  if (sw_llama_state_init(&st, m, n, n, &err) || sw_llama_forward(m, &st, NULL, ids, n, 2, &err))
    fail_msg("%s", err.msg);
  double ll = 0;
  int V = m->cfg.vocab;
  for (int t = from; t < n; t++) {
    const float *row = st.logits + (size_t)(t - 1) * (size_t)V;
    double mx = row[0], s = 0;
    for (int v = 1; v < V; v++) mx = fmax(mx, row[v]);
    for (int v = 0; v < V; v++) s += exp(row[v] - mx);
    ll += row[ids[t]] - mx - log(s);
  }
  sw_llama_state_free(&st);
  return ll;
}

static void score(const sw_llama_t *m, const sw_tokenizer_t *tok, const sw_mctask_t *t, sw_mc_scores_t *s) {
  sw_llama_state_t st;
  sw_err_t err = {0};
  if (sw_llama_state_init(&st, m, 2, 32, &err) || sw_mc_score(m, &st, NULL, tok, t, s, &err)) fail_msg("%s", err.msg);
  sw_llama_state_free(&st);
}

static void test_scores_with_bos(void **state) {
  (void)state;
  sw_llama_t *m = load_tiny();
  sw_tokenizer_t *with = toy_tokenizer(1), *without = toy_tokenizer(0);
  const char jsonl[] = "{\"context\":\"abca\",\"choices\":[\"dd\",\"b\",\"cab\"],\"gold\":1}\n";
  sw_mctask_t t;
  sw_err_t err = {0};
  if (sw_mctask_parse(&t, jsonl, strlen(jsonl), "bos.jsonl", 0, &err)) fail_msg("%s", err.msg);
  sw_mc_scores_t sb, sn;
  score(m, with, &t, &sb);
  score(m, without, &t, &sn);
  const int32_t ctx[] = {4, 0, 1, 2, 0}; /* <s> a b c a */
  const int32_t conts[3][3] = {{3, 3}, {1}, {2, 0, 1}};
  const int lens[3] = {2, 1, 3};
  double max_gap = 0;
  for (int c = 0; c < 3; c++) {
    int32_t ids[8];
    memcpy(ids, ctx, sizeof ctx);
    memcpy(ids + 5, conts[c], (size_t)lens[c] * sizeof *ids);
    double want = full_pass_ll(m, ids, 5 + lens[c], 5), plain = full_pass_ll(m, ids + 1, 4 + lens[c], 4);
    if (!sw_test_close(sb.ll[c], want, SW_TOL_BOS_LL_ABS, 0))
      fail_msg("choice %d with BOS: %.6f, full-pass reference %.6f", c, sb.ll[c], want);
    assert_true(sw_test_close(sn.ll[c], plain, SW_TOL_BOS_LL_ABS, 0));
    assert_int_equal(sb.n_cont[c], lens[c]);
    max_gap = fmax(max_gap, fabs(sb.ll[c] - sn.ll[c]));
  }
  assert_true(max_gap > 100 * SW_TOL_BOS_LL_ABS); /* the BOS changes the scores */
  sw_mc_scores_free(&sb), sw_mc_scores_free(&sn);
  sw_mctask_free(&t);
  sw_tokenizer_free(with), sw_tokenizer_free(without);
  sw_llama_free(m);
  free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gguf_bos_keys),
      cmocka_unit_test(test_hf_bos_files),
      cmocka_unit_test(test_scores_with_bos),
  };
  return cmocka_run_group_tests_name("bos", tests, NULL, NULL);
}
