/* Unit tests for common/: SHA-256 against FIPS 180-4 example vectors, bounded cursor reads,
 * JSON string/number writing, error records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_cnum.h"
#include "common/sw_cursor.h"
#include "common/sw_err.h"
#include "common/sw_hash.h"
#include "common/sw_json.h"
#include "common/sw_names.h"
#include "common/sw_outcome.h"

static void test_sha256_vectors(void **state) {
  (void)state;
  char hex[65];
  /* FIPS 180-4 examples (NIST CSRC "SHA256.pdf"): "abc" and the 448-bit message; plus the empty string. */
  sw_sha256_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sw_sha256_hex(m, strlen(m), hex);
  assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  sw_sha256_hex("", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_streaming_equals_oneshot(void **state) {
  (void)state;
  uint8_t data[1000];
  for (int i = 0; i < 1000; i++) data[i] = (uint8_t)(i * 7 + 3);
  char one[65], streamed[65];
  sw_sha256_hex(data, sizeof data, one);
  sw_sha256_t h;
  uint8_t d[32];
  sw_sha256_init(&h);
  for (size_t off = 0; off < sizeof data; off += 37)
    sw_sha256_update(&h, data + off, sizeof data - off < 37 ? sizeof data - off : 37);
  sw_sha256_final(&h, d);
  sw_digest_hex(d, streamed);
  assert_string_equal(one, streamed);
}

/* C-notation numbers: value and bytes used, never past n (hand-written cases). */
static void test_cnum_parse_c_notation(void **state) {
  (void)state;
  size_t used;
  assert_true(sw_cnum_parse("0.5", 3, &used) == 0.5 && used == 3);
  assert_true(sw_cnum_parse("-1.25e-3", 8, &used) == -1.25e-3 && used == 8);
  assert_true(sw_cnum_parse("12.5xyz", 7, &used) == 12.5 && used == 4);
  assert_true(sw_cnum_parse("0.75", 2, &used) == 0.0 && used == 2); /* "0." of the first 2 bytes only */
  sw_cnum_parse("x", 1, &used);
  assert_int_equal(used, 0);
  char big[80];
  memset(big, '1', sizeof big);
  sw_cnum_parse(big, sizeof big, &used); /* too long: nothing parsed */
  assert_int_equal(used, 0);
  char out[40];
  assert_int_equal(sw_cnum_format_g(out, sizeof out, 3, 0.125), 5);
  assert_string_equal(out, "0.125");
}

/* Under a comma-decimal LC_NUMERIC (if one is installed) JSON numbers still parse and print with '.'. */
static void test_json_numbers_under_comma_locale(void **state) {
  (void)state;
  const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "ru_RU.UTF-8", "de_DE"};
  const char *got = NULL;
  for (size_t i = 0; !got && i < sizeof names / sizeof names[0]; i++) got = setlocale(LC_NUMERIC, names[i]);
  if (!got || strcmp(localeconv()->decimal_point, ",") != 0) {
    setlocale(LC_NUMERIC, "C");
    print_message("skipped: no comma-decimal locale installed (test_cnum_parse_c_notation covers the parser)\n");
    skip();
  }
  assert_true(strtod("0.5", NULL) == 0.0); /* the locale really breaks plain strtod */
  const char text[] = "{\"a\":0.5,\"b\":-1.25e-3,\"c\":3}";
  sw_json_t *doc = NULL;
  sw_err_t err;
  assert_int_equal(sw_json_parse(text, sizeof text - 1, &doc, &err), SW_OK);
  assert_true(sw_json_get(doc, "a")->number == 0.5);
  assert_true(sw_json_get(doc, "b")->number == -1.25e-3);
  assert_true(sw_json_get(doc, "c")->number == 3.0);
  sw_json_free(doc);
  sw_buf_t b = SW_BUF_INIT;
  sw_buf_json_double(&b, 0.1);
  sw_buf_puts(&b, " ");
  sw_buf_json_double(&b, -2.5e-7);
  setlocale(LC_NUMERIC, "C");
  assert_string_equal(sw_buf_str(&b), "0.1 -2.5e-07");
  sw_buf_free(&b);
}

static void test_cursor_bounds(void **state) {
  (void)state;
  const uint8_t bytes[] = {0x47, 0x47, 0x55, 0x46, 0x03, 0x00, 0x00, 0x00, 0xAA};
  sw_cursor_t c;
  sw_cursor_init(&c, bytes, sizeof bytes);
  uint32_t magic, version;
  uint64_t big;
  assert_int_equal(sw_cursor_u32(&c, &magic), SW_OK);
  assert_int_equal(magic, 0x46554747u);
  assert_int_equal(sw_cursor_u32(&c, &version), SW_OK);
  assert_int_equal(version, 3u);
  assert_int_equal(sw_cursor_u64(&c, &big), SW_ERR_TRUNCATED);
  assert_int_equal(sw_cursor_remain(&c), 1u); /* a failed read does not move */
  assert_false(sw_cursor_has_array(&c, UINT64_MAX / 2, 4));
  assert_true(sw_cursor_has_array(&c, 1, 1));
  assert_false(sw_cursor_has_array(&c, 2, 1));
  assert_int_equal(sw_cursor_seek(&c, sizeof bytes + 1), SW_ERR_TRUNCATED);
}

static void test_buf_json(void **state) {
  (void)state;
  sw_buf_t b = SW_BUF_INIT;
  sw_buf_json_string(&b, "a\"b\\c\n\x01", 7);
  assert_string_equal(sw_buf_str(&b), "\"a\\\"b\\\\c\\n\\u0001\"");
  sw_buf_reset(&b);
  sw_buf_json_double(&b, 0.1);
  sw_buf_puts(&b, ",");
  sw_buf_json_double(&b, 1.0 / 3.0);
  sw_buf_puts(&b, ",");
  sw_buf_json_double(&b, 0.0 / 0.0);
  assert_string_equal(sw_buf_str(&b), "0.1,0.3333333333333333,null");
  assert_true(sw_buf_ok(&b));
  char *owned = sw_buf_take(&b);
  assert_non_null(owned);
  assert_int_equal(b.len, 0u);
  free(owned);
  sw_buf_free(&b);
}

static void test_err_prefix(void **state) {
  (void)state;
  sw_err_t e;
  sw_err_clear(&e);
  assert_int_equal(sw_err_set(&e, SW_ERR_PARSE, "line %d: expected %s", 3, "a number"), SW_ERR_PARSE);
  sw_err_prefix(&e, "%s", "x.yaml");
  assert_string_equal(e.msg, "x.yaml: line 3: expected a number");
  assert_string_equal(sw_err_name(SW_ERR_PARSE), "SW_ERR_PARSE");
  assert_string_equal(sw_err_name((sw_rc)999), "SW_ERR_UNKNOWN");
}


static void test_json_parse_document(void **state) {
  (void)state;
  const char *text = " {\"a\": [1, -2.5e1, true, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"n\": 12345678901} ";
  sw_json_t *v = NULL;
  sw_err_t err;
  sw_err_clear(&err);
  assert_int_equal(sw_json_parse(text, strlen(text), &v, &err), SW_OK);
  const sw_json_t *a = sw_json_get(v, "a");
  assert_non_null(a);
  assert_int_equal(a->kind, SW_JSON_ARRAY);
  assert_int_equal(a->count, 4u);
  assert_true(a->items[0].is_integer);
  assert_int_equal(a->items[0].integer, 1);
  assert_false(a->items[1].is_integer);
  assert_true(a->items[1].number == -25.0);
  assert_int_equal(a->items[2].kind, SW_JSON_BOOL);
  assert_int_equal(a->items[3].kind, SW_JSON_NULL);
  const char *s = NULL;
  assert_int_equal(sw_json_get_str(v, "s", NULL, &s, &err), SW_OK);
  assert_string_equal(s, "x\xc3\xa9\xf0\x9f\x98\x80\n"); /* U+00E9, U+1F600 (surrogate pair) */
  int64_t n = 0;
  assert_int_equal(sw_json_get_int(v, "n", 0, &n, &err), SW_OK);
  assert_true(n == 12345678901LL);
  int64_t def = 0;
  assert_int_equal(sw_json_get_int(v, "missing", 7, &def, &err), SW_OK);
  assert_int_equal(def, 7);
  assert_int_equal(sw_json_get_int(v, "s", 0, &n, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "'s'"));
  sw_json_free(v);
}

static void test_json_rejects_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"abc", "\"\\x\"", "tru",
                                    "[1] 2", "\"\\ud800\"", "{\"a\":1,}", "{\"a\":1,\"a\":2}", "\"\x01\"", "-", "1e"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sw_json_t *v = NULL;
    sw_err_t err;
    sw_err_clear(&err);
    assert_int_equal(sw_json_parse(bad[i], strlen(bad[i]), &v, &err), SW_ERR_PARSE);
    assert_null(v);
    assert_non_null(strstr(err.msg, "offset"));
  }
  /* Nesting beyond the cap is refused rather than recursing without bound. */
  char deep[SW_JSON_MAX_DEPTH * 2 + 8];
  size_t n = 0;
  for (int i = 0; i < SW_JSON_MAX_DEPTH + 2; i++) deep[n++] = '[';
  sw_json_t *v = NULL;
  assert_int_equal(sw_json_parse(deep, n, &v, NULL), SW_ERR_PARSE);
}

/* The binary writer and sw_cursor agree: hand-written little-endian bytes, a NULL string distinct from "",
 * and a string whose length claims more than the input, or more than the caller's limit, is refused. */
static void test_buf_put_cursor_roundtrip(void **state) {
  (void)state;
  sw_buf_t b = SW_BUF_INIT;
  sw_buf_put_u16(&b, 0x0201);
  sw_buf_put_u32(&b, 0x06050403u);
  static const unsigned char head[6] = {1, 2, 3, 4, 5, 6};
  assert_memory_equal(b.data, head, sizeof head);
  sw_buf_put_u64(&b, 0x0102030405060708ull);
  sw_buf_put_f64(&b, -0.375);
  sw_buf_put_str(&b, "abc");
  sw_buf_put_str(&b, NULL);
  sw_buf_put_str(&b, "");
  assert_true(sw_buf_ok(&b));
  assert_int_equal(b.len, 2 + 4 + 8 + 8 + (4 + 3) + 4 + 4);
  sw_cursor_t c;
  sw_cursor_init(&c, b.data, b.len);
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  double f;
  char *s1, *s2, *s3;
  sw_err_t err;
  assert_int_equal(sw_cursor_u16(&c, &u16) | sw_cursor_u32(&c, &u32) | sw_cursor_u64(&c, &u64), SW_OK);
  assert_int_equal(sw_cursor_f64(&c, &f), SW_OK);
  assert_true(u16 == 0x0201 && u32 == 0x06050403u && u64 == 0x0102030405060708ull && f == -0.375);
  assert_int_equal(sw_cursor_str(&c, 16, "s1", &s1, &err), SW_OK);
  assert_int_equal(sw_cursor_str(&c, 16, "s2", &s2, &err), SW_OK);
  assert_int_equal(sw_cursor_str(&c, 16, "s3", &s3, &err), SW_OK);
  assert_string_equal(s1, "abc");
  assert_null(s2);
  assert_string_equal(s3, "");
  assert_int_equal(sw_cursor_remain(&c), 0);
  free(s1), free(s3);
  sw_cursor_init(&c, b.data + 22, 6); /* "abc" string cut after 2 of its 3 bytes */
  assert_int_equal(sw_cursor_str(&c, 16, "name", &s1, &err), SW_ERR_TRUNCATED);
  assert_null(s1);
  assert_non_null(strstr(err.msg, "'name' claims 3 bytes, 2 left"));
  sw_cursor_init(&c, b.data + 22, 7);
  assert_int_equal(sw_cursor_str(&c, 2, "name", &s1, &err), SW_ERR_RANGE);
  assert_non_null(strstr(err.msg, "'name' length 3 exceeds the 2-byte limit"));
  sw_buf_free(&b);
}

/* Name tables: exact matches only, holes and out-of-range indexes give "?" instead of NULL. */
static void test_names_lookup(void **state) {
  (void)state;
  static const char *const names[] = {[0] = "alpha", [2] = "gamma"};
  assert_int_equal(sw_names_find(names, 3, "alpha"), 0);
  assert_int_equal(sw_names_find(names, 3, "gamma"), 2);
  assert_int_equal(sw_names_find(names, 3, "Gamma"), -1);
  assert_int_equal(sw_names_find(names, 3, "gam"), -1);
  assert_int_equal(sw_names_find(names, 3, NULL), -1);
  assert_int_equal(sw_names_find(names, 1, "gamma"), -1); /* outside the counted part */
  assert_string_equal(sw_names_at(names, 3, 2), "gamma");
  assert_string_equal(sw_names_at(names, 3, 1), "?");
  assert_string_equal(sw_names_at(names, 3, 3), "?");
  assert_string_equal(sw_names_at(names, 3, -1), "?");
  /* did-you-mean: hand-computed Levenshtein distances */
  assert_int_equal(sw_names_distance("sed", "seed"), 1);
  assert_int_equal(sw_names_distance("orcale", "oracle"), 2);
  assert_int_equal(sw_names_distance("kitten", "sitting"), 3);
  assert_string_equal(sw_names_closest("gama", names, 3), "gamma");
  assert_null(sw_names_closest("zzz", names, 3));
  assert_null(sw_names_closest("alp", names, 3)); /* 2 edits from a 3-byte word: too far */
  assert_int_equal(sw_names_in_list("b", "a|b|c"), 1);
  assert_int_equal(sw_names_in_list("c", "a|b|c"), 1);
  assert_int_equal(sw_names_in_list("a|b", "a|b|c"), 0);
  assert_int_equal(sw_names_in_list("", "a|b"), 0);
  assert_int_equal(sw_names_in_list("ab", "a|b"), 0);
}

/* The one trial-outcome codec: a round trip keeps every field bit for bit (signal_name is derived from signo),
 * every proper prefix is refused, and a status outside the enum is a parse error. */
static void test_outcome_codec(void **state) {
  (void)state;
  sw_outcome_t in = {.status = SW_TRIAL_TIMEOUT, .exit_status = -1, .out_of_memory = 1, .infra = 0,
                     .start_wall = 1700000000.25, .end_wall = 1700000002.5, .stderr_tail = (char *)"tail\n",
                     .result_json = NULL};
  sw_outcome_set_signal(&in, 15);
  sw_outcome_set_cause(&in, "timeout after %d s", 2);
  sw_buf_t b = SW_BUF_INIT;
  sw_outcome_encode(&b, &in);
  assert_true(sw_buf_ok(&b));
  sw_cursor_t c;
  sw_cursor_init(&c, b.data, b.len);
  sw_outcome_t out;
  sw_err_t err;
  assert_int_equal(sw_outcome_decode(&c, 1u << 20, &out, &err), SW_OK);
  assert_int_equal(sw_cursor_remain(&c), 0);
  assert_int_equal(out.status, SW_TRIAL_TIMEOUT);
  assert_int_equal(out.signo, 15);
  assert_string_equal(out.signal_name, "SIGTERM");
  assert_int_equal(out.exit_status, -1);
  assert_int_equal(out.out_of_memory, 1);
  assert_int_equal(out.infra, 0);
  assert_memory_equal(&out.start_wall, &in.start_wall, sizeof(double));
  assert_memory_equal(&out.end_wall, &in.end_wall, sizeof(double));
  assert_string_equal(out.cause, "timeout after 2 s");
  assert_string_equal(out.stderr_tail, "tail\n");
  assert_null(out.result_json); /* absent stays absent */
  sw_outcome_free(&out);
  for (size_t n = 0; n < b.len; n++) {
    char *copy = malloc(n ? n : 1);
    memcpy(copy, b.data, n);
    sw_cursor_init(&c, copy, n);
    assert_int_not_equal(sw_outcome_decode(&c, 1u << 20, &out, &err), SW_OK);
    assert_null(out.stderr_tail);
    free(copy);
  }
  b.data[0] = (char)SW_TRIAL_STATUS_COUNT; /* first byte of the little-endian status */
  sw_cursor_init(&c, b.data, b.len);
  assert_int_equal(sw_outcome_decode(&c, 1u << 20, &out, &err), SW_ERR_PARSE);
  sw_buf_free(&b);
  /* the one status-name table, both ways */
  for (int i = 0; i < SW_TRIAL_STATUS_COUNT; i++) {
    sw_trial_status s;
    assert_int_equal(sw_trial_status_parse(sw_trial_status_name((sw_trial_status)i), &s, &err), SW_OK);
    assert_int_equal(s, i);
  }
  assert_string_equal(sw_trial_status_name(SW_TRIAL_INTERRUPTED), "interrupted");
  assert_string_equal(sw_trial_status_name((sw_trial_status)99), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors), cmocka_unit_test(test_sha256_streaming_equals_oneshot),
      cmocka_unit_test(test_cursor_bounds),  cmocka_unit_test(test_buf_json),
      cmocka_unit_test(test_cnum_parse_c_notation), cmocka_unit_test(test_json_numbers_under_comma_locale),
      cmocka_unit_test(test_err_prefix),     cmocka_unit_test(test_json_parse_document),
      cmocka_unit_test(test_json_rejects_malformed), cmocka_unit_test(test_names_lookup),
      cmocka_unit_test(test_buf_put_cursor_roundtrip), cmocka_unit_test(test_outcome_codec),
  };
  return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
