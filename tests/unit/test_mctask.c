/* Tests for models/sw_mctask (multiple-choice tasks): the JSONL parser's malformed-line table (each error names
 * file:line), the built-in cloze generator's definition checked item by item against the text, acc / acc_norm /
 * paired statistics and McNemar's test against hand-computed values, and the scores of every choice of
 * tests/reference/mctask_small.jsonl on SmolLM2 against an independent float64 NumPy forward pass with Hugging
 * Face token ids (tests/reference/gen_mctask_ref.py, a ctest fixture into SW_MCTASK_REF). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_hash.h"
#include "common/sw_json.h"
#include "models/sw_gguf.h"
#include "models/sw_llama.h"
#include "models/sw_mctask.h"
#include "models/sw_tokenizer_gguf.h"
#include "tests/unit/sw_test_util.h"

/* Summed log-probability, f32 engine vs float64 NumPy through 30 layers: logits agree to ~7e-5 (test_model.c),
 * a sum of a few log-softmax terms to a few 1e-4. */
#define SW_TOL_LL_ABS 2e-3
#define SW_TOL_LL_REL 1e-4
/* The same engine with the prefill cut into chunks of 3 tokens: only summation order differs (sgemm blocking). */
#define SW_TOL_CHUNK_ABS 2e-4

typedef struct bad_line {
  const char *text, *want;
} bad_line_t;

static void test_parse_malformed_table(void **state) {
  (void)state;
  static const char ok[] = "{\"context\":\"a\",\"choices\":[\"b\",\"c\"],\"gold\":1}\n";
  static const bad_line_t cases[] = {
      {"{\"context\":\"a\",\"choices\":[\"b\",\"c\"],\"gold\":2}", "t.jsonl:2: gold 2 outside 0..1"},
      {"{\"context\":\"a\",\"choices\":[\"b\",\"c\"],\"gold\":-1}", "t.jsonl:2: gold -1 outside"},
      {"{\"context\":\"a\",\"choices\":[\"b\",\"c\"],\"gold\":0.5}", "t.jsonl:2: \"gold\" must be an integer"},
      {"{\"context\":\"a\",\"choices\":[\"b\",\"c\"]}", "t.jsonl:2: \"gold\" must be an integer"},
      {"{\"context\":\"\",\"choices\":[\"b\",\"c\"],\"gold\":0}", "t.jsonl:2: \"context\" is empty"},
      {"{\"context\":3,\"choices\":[\"b\",\"c\"],\"gold\":0}", "t.jsonl:2: \"context\" must be a string"},
      {"{\"context\":\"a\",\"choices\":[\"b\"],\"gold\":0}", "t.jsonl:2: 1 choices (2..32 allowed)"},
      {"{\"context\":\"a\",\"choices\":\"b\",\"gold\":0}", "t.jsonl:2: \"choices\" must be an array"},
      {"{\"context\":\"a\",\"choices\":[\"b\",7],\"gold\":0}", "t.jsonl:2: choice 1 must be a string"},
      {"{\"context\":\"a\",\"choices\":[\"b\",\"\"],\"gold\":0}", "t.jsonl:2: choice 1 is empty"},
      {"{\"context\":\"a\",\"choices\":[\"b\",\"c\"],\"gold\":0,\"id\":[1]}", "t.jsonl:2: \"id\" must be"},
      {"[1,2]", "t.jsonl:2: an item must be a JSON object"},
      {"{\"context\":\"a\",", "t.jsonl:2: offset"},
      {"{\"context\":\"a\",\"context\":\"b\",\"choices\":[\"b\",\"c\"],\"gold\":0}", "t.jsonl:2:"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[512];
    snprintf(text, sizeof text, "%s%s\n%s", ok, cases[i].text, ok);
    sw_mctask_t t;
    sw_err_t err = {0};
    sw_rc rc = sw_mctask_parse(&t, text, strlen(text), "t.jsonl", 0, &err);
    sw_mctask_free(&t);
    if (rc == SW_OK || !strstr(err.msg, cases[i].want))
      fail_msg("case %zu: got rc %d '%s', want '%s'", i, rc, err.msg, cases[i].want);
  }
  sw_mctask_t t;
  sw_err_t err = {0};
  assert_int_not_equal(sw_mctask_parse(&t, "\n  \n", 4, "empty.jsonl", 0, &err), SW_OK);
  assert_non_null(strstr(err.msg, "empty.jsonl: no items"));
  sw_mctask_free(&t);
}

static void test_parse_fields_and_limits(void **state) {
  (void)state;
  const char *text = "\n{\"context\":\"x y\",\"choices\":[\" a\",\" bb\",\"c\"],\"gold\":2,\"other\":{}}\r\n"
                     "{\"id\":\"q7\",\"context\":\"z\",\"choices\":[\"1\",\"2\"],\"gold\":0}\n"
                     "{\"id\":12,\"context\":\"z\",\"choices\":[\"1\",\"2\"],\"gold\":1}";
  sw_mctask_t t;
  sw_err_t err = {0};
  assert_int_equal(sw_mctask_parse(&t, text, strlen(text), "f.jsonl", 0, &err), SW_OK);
  assert_int_equal(t.n_items, 3);
  assert_string_equal(t.items[0].id, "line 2");
  assert_string_equal(t.items[0].context, "x y");
  assert_int_equal(t.items[0].n_choices, 3);
  assert_int_equal(t.items[0].choice_lens[1], 3);
  assert_int_equal(t.items[0].gold, 2);
  assert_string_equal(t.items[1].id, "q7");
  assert_string_equal(t.items[2].id, "12");
  char want[65];
  sw_sha256_hex(text, strlen(text), want);
  assert_string_equal(t.sha256, want);
  sw_mctask_free(&t);
  assert_int_equal(sw_mctask_parse(&t, text, strlen(text), "f.jsonl", 2, &err), SW_OK); /* max_items */
  assert_int_equal(t.n_items, 2);
  sw_mctask_free(&t);
}

/* Scores set by hand: 4 items of 2 choices (gold 0, 0, 1, 1); ll chosen so acc and acc_norm differ. */
static void test_summary_and_paired_by_hand(void **state) {
  (void)state;
  const char *text = "{\"context\":\"c\",\"choices\":[\"a\",\"bbbb\"],\"gold\":0}\n"
                     "{\"context\":\"c\",\"choices\":[\"a\",\"bbbb\"],\"gold\":0}\n"
                     "{\"context\":\"c\",\"choices\":[\"a\",\"bbbb\"],\"gold\":1}\n"
                     "{\"context\":\"c\",\"choices\":[\"a\",\"b\",\"c\",\"d\"],\"gold\":1}\n";
  sw_mctask_t t;
  sw_err_t err = {0};
  assert_int_equal(sw_mctask_parse(&t, text, strlen(text), "h", 0, &err), SW_OK);
  int pred_d[4] = {0, 1, 1, 1}, pred_m[4] = {1, 1, 0, 1}, pn[4] = {0, 0, 0, 0};
  sw_mc_scores_t d = {.n_items = 4, .pred = pred_d, .pred_norm = pn}, m = {.n_items = 4, .pred = pred_m, .pred_norm = pn};
  sw_mc_summary_t s;
  sw_mc_summarise(&t, &d, &s);
  /* dense correct 1,0,1,1: mean 0.75, sample sd sqrt(0.25) -> se 0.5/2 = 0.25 */
  assert_true(sw_test_close(s.acc, 0.75, 1e-12, 0));
  assert_true(sw_test_close(s.acc_se, 0.25, 1e-12, 0));
  assert_true(sw_test_close(s.acc_norm, 0.5, 1e-12, 0)); /* norm correct 1,1,0,0 */
  assert_true(sw_test_close(s.acc_norm_se, sqrt(1.0 / 3.0) / 2.0, 1e-12, 0));
  assert_true(sw_test_close(s.chance, (0.5 * 3 + 0.25) / 4, 1e-12, 0));
  sw_mc_paired_t p;
  sw_mc_pair(&t, &d, &m, 0, &p); /* method correct 0,0,0,1: differences -1,0,-1,0 */
  assert_true(sw_test_close(p.diff, -0.5, 1e-12, 0));
  assert_true(sw_test_close(p.diff_se, sqrt(1.0 / 3.0) / 2.0, 1e-12, 0));
  assert_int_equal(p.only_dense, 2);
  assert_int_equal(p.only_method, 0);
  assert_true(sw_test_close(p.mcnemar_p, 0.5, 1e-12, 0)); /* 2 * 0.5^2 */
  sw_mctask_free(&t);
}

static void test_mcnemar_by_hand(void **state) {
  (void)state;
  assert_true(sw_test_close(sw_mc_mcnemar_p(1, 6), 2.0 * 8.0 / 128.0, 1e-12, 0)); /* (C(7,0)+C(7,1))/2^7 */
  assert_true(sw_test_close(sw_mc_mcnemar_p(6, 1), 0.125, 1e-12, 0));
  assert_true(sw_test_close(sw_mc_mcnemar_p(0, 5), 2.0 / 32.0, 1e-12, 0));
  assert_true(sw_test_close(sw_mc_mcnemar_p(5, 5), 1.0, 1e-12, 0));
  assert_true(sw_test_close(sw_mc_mcnemar_p(0, 0), 1.0, 0, 0));
  /* 2 * sum_{k<=10} C(40, k) / 2^40 = 0.0022214337732 (exact integers in Python, math.comb) */
  assert_true(sw_test_close(sw_mc_mcnemar_p(10, 30), 0.0022214337732, 1e-12, 1e-9));
}

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Every item against the definition in models/sw_cloze.c, re-checked on the source text. */
static void check_cloze_item(const sw_mc_item_t *it, const char *text, size_t b0, size_t b1) {
  const char *gold = it->choices[it->gold];
  size_t gn = it->choice_lens[it->gold];
  assert_true(gn >= 4 && gold[0] == ' ');
  const char *ctx = strstr(text + b0, it->context);
  assert_non_null(ctx);
  size_t at = (size_t)(ctx - text) + it->context_len; /* the space before the target */
  assert_true(at + gn < b1);
  assert_memory_equal(text + at, gold, gn);
  assert_non_null(strchr(".!?", text[at + gn]));
  char word[32];
  snprintf(word, sizeof word, "%.*s", (int)gn - 1, gold + 1);
  int seen = 0;
  for (const char *p = strstr(it->context, word); p && !seen; p = strstr(p + 1, word))
    seen = (p == it->context || !is_alpha(p[-1])) && !is_alpha(p[gn - 1]);
  assert_true(seen);
  for (int c = 0; c < it->n_choices; c++) {
    assert_true(it->choices[c][0] == ' ');
    for (int e = 0; e < c; e++) assert_false(strcmp(it->choices[c], it->choices[e]) == 0);
  }
}

static const char cloze_text[] =
    "Anne walked to the garden with her sister. The garden was quiet and the roses were in bloom, and Anne "
    "thought of nothing but the letter from Captain Wentworth. She had read it twice before she put it down. "
    "Her sister asked about the garden, and whether she would come back to the garden. Elizabeth only laughed at the idea of a letter, "
    "and said that nobody writes such letters any more; but Anne kept the letter.  Mary came in from the lane "
    "and asked about the roses, the weather, the carriage and the dinner. Charles had gone out to see the horses, "
    "and he would see the horses again before dinner, for he loved the horses.\n";

static void test_cloze_definition(void **state) {
  (void)state;
  size_t len = sizeof cloze_text - 1;
  sw_cloze_cfg_t cfg = {.b0 = 0, .b1 = len, .n_items = 10, .n_choices = 3, .context_bytes = 64, .seed = 1};
  sw_mctask_t a, b, c;
  sw_err_t err = {0};
  assert_int_equal(sw_mctask_cloze(&a, cloze_text, len, &cfg, "t.txt", &err), SW_OK);
  assert_true(a.n_items >= 2);
  for (size_t i = 0; i < a.n_items; i++) check_cloze_item(&a.items[i], cloze_text, 0, len);
  for (size_t i = 1; i < a.n_items; i++) /* contexts do not overlap */
    assert_true(strstr(cloze_text, a.items[i].context) >= strstr(cloze_text, a.items[i - 1].context) +
                                                              a.items[i - 1].context_len);
  assert_int_equal(sw_mctask_cloze(&b, cloze_text, len, &cfg, "t.txt", &err), SW_OK);
  assert_string_equal(a.sha256, b.sha256); /* deterministic */
  cfg.seed = 2;
  assert_int_equal(sw_mctask_cloze(&c, cloze_text, len, &cfg, "t.txt", &err), SW_OK);
  assert_string_not_equal(a.sha256, c.sha256);
  assert_string_equal(a.items[0].context, c.items[0].context); /* only the draw changes */
  sw_mctask_free(&a), sw_mctask_free(&b), sw_mctask_free(&c);
  cfg.b1 = 40;
  assert_int_not_equal(sw_mctask_cloze(&a, cloze_text, len, &cfg, "t.txt", &err), SW_OK);
  assert_non_null(strstr(err.msg, "cloze:t.txt:[0,40)"));
  sw_mctask_free(&a);
  cfg.b1 = len, cfg.n_choices = 1;
  assert_int_equal(sw_mctask_cloze(&a, cloze_text, len, &cfg, "t.txt", &err), SW_ERR_RANGE);
  sw_mctask_free(&a);
}

static char *env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return (char *)(v && *v ? v : def);
}

/* Loads SmolLM2 and its tokenizer; skips (never passes) when the model file is absent. */
static int load_smollm2(sw_llama_t *m, sw_tokenizer_t **tok) {
  const char *path = env_or("SW_MODEL_PATH", "cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fclose(f);
  sw_err_t err = {0};
  sw_gguf_t *g = NULL;
  if (sw_llama_load(m, path, &err) || sw_gguf_open(path, &g, &err) || sw_tokenizer_from_gguf(g, tok, &err))
    fail_msg("%s", err.msg);
  sw_gguf_close(g);
  return 1;
}

static void score_with(const sw_llama_t *m, const sw_tokenizer_t *tok, const sw_mctask_t *t, int max_tok,
                       sw_mc_scores_t *s) {
  sw_llama_state_t st;
  sw_err_t err = {0};
  if (sw_llama_state_init(&st, m, max_tok, 128, &err) || sw_mc_score(m, &st, NULL, tok, t, s, &err))
    fail_msg("%s", err.msg);
  sw_llama_state_free(&st);
}

static void test_scores_vs_numpy(void **state) {
  (void)state;
  sw_llama_t m;
  sw_tokenizer_t *tok = NULL;
  if (!load_smollm2(&m, &tok)) skip();
  char *ref_text = sw_test_read_file(env_or("SW_MCTASK_REF", "mctask_ref.json"), NULL);
  if (!ref_text) fail_msg("no reference (HINT: tests/reference/gen_mctask_ref.py MODEL TASK OUT)");
  sw_json_t *ref = NULL;
  sw_mctask_t t;
  sw_err_t err = {0};
  if (sw_json_parse(ref_text, strlen(ref_text), &ref, &err) ||
      sw_mctask_load(&t, env_or("SW_MCTASK_FILE", "tests/reference/mctask_small.jsonl"), 0, &err))
    fail_msg("%s", err.msg);
  const sw_json_t *items = sw_json_get(ref, "items");
  assert_int_equal(items->count, t.n_items);
  sw_mc_scores_t s, chunked;
  score_with(&m, tok, &t, 128, &s);
  score_with(&m, tok, &t, 3, &chunked);
  for (size_t i = 0; i < t.n_items; i++) {
    const sw_json_t *ll = sw_json_get(&items->items[i], "ll"), *nc = sw_json_get(&items->items[i], "n_cont");
    for (int c = 0; c < t.items[i].n_choices; c++) {
      double got = s.ll[s.offset[i] + (size_t)c], want = ll->items[c].number;
      if (!sw_test_close(got, want, SW_TOL_LL_ABS, SW_TOL_LL_REL))
        fail_msg("item %zu choice %d: ll %.6f, float64 reference %.6f", i, c, got, want);
      assert_int_equal(s.n_cont[s.offset[i] + (size_t)c], nc->items[c].integer);
      assert_true(sw_test_close(chunked.ll[s.offset[i] + (size_t)c], got, SW_TOL_CHUNK_ABS, 0));
    }
  }
  sw_mc_summary_t sum;
  sw_mc_summarise(&t, &s, &sum);
  double acc, acc_norm;
  assert_int_equal(sw_json_get_double(ref, "acc", -1, &acc, &err), SW_OK);
  assert_int_equal(sw_json_get_double(ref, "acc_norm", -1, &acc_norm, &err), SW_OK);
  assert_true(sw_test_close(sum.acc, acc, 1e-12, 0));
  assert_true(sw_test_close(sum.acc_norm, acc_norm, 1e-12, 0));
  sw_mc_scores_free(&s), sw_mc_scores_free(&chunked);
  sw_mctask_free(&t);
  sw_json_free(ref);
  free(ref_text);
  sw_tokenizer_free(tok);
  sw_llama_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_malformed_table), cmocka_unit_test(test_parse_fields_and_limits),
      cmocka_unit_test(test_summary_and_paired_by_hand), cmocka_unit_test(test_mcnemar_by_hand),
      cmocka_unit_test(test_cloze_definition), cmocka_unit_test(test_scores_vs_numpy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
