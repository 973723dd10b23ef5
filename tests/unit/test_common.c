/* Unit tests for common/: SHA-256 against FIPS 180-4 example vectors, bounded cursor reads,
 * JSON string/number writing, error records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_cursor.h"
#include "common/sw_err.h"
#include "common/sw_hash.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors), cmocka_unit_test(test_sha256_streaming_equals_oneshot),
      cmocka_unit_test(test_cursor_bounds),  cmocka_unit_test(test_buf_json),
      cmocka_unit_test(test_err_prefix),
  };
  return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
