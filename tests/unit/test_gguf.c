/* Hostile-file tests for models/sw_gguf: a table of hand-made GGUF images built in memory, each a valid
 * file with exactly one field corrupted (bad magic, version, counts, string lengths, types, dims, offsets,
 * truncation, size overflow, duplicate keys/names, bad alignment), grouped with success variants.  Every
 * corruption must be rejected with a message naming the field; every success variant must parse and expose
 * the values written.  Also: the type-traits table against the GGUF spec (docs/models.md §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_gguf.h"
#include "models/sw_types.h"
#include "tests/unit/sw_test_gguf_build.h"

typedef enum corrupt {
  OK_BASE, OK_VERSION_2, OK_ALIGN_64, OK_NESTED_ARRAY, OK_EMPTY_FILE_NO_TENSORS,
  BAD_MAGIC, BAD_MAGIC_SWAPPED, BAD_VERSION_0, BAD_VERSION_1, BAD_VERSION_4, BAD_VERSION_BIG_ENDIAN,
  BAD_N_TENSORS_HUGE, BAD_N_KV_HUGE, BAD_KEY_LEN_HUGE, BAD_KEY_LEN_PAST_END, BAD_KEY_EMPTY, BAD_KEY_NUL,
  BAD_VALUE_TYPE, BAD_ARRAY_ELEM_TYPE, BAD_ARRAY_COUNT_HUGE, BAD_STRING_ARRAY_COUNT_HUGE, BAD_STRING_LEN_HUGE,
  BAD_BOOL_VALUE, BAD_NESTED_TOO_DEEP, BAD_DUP_KEY, BAD_ALIGN_ZERO, BAD_ALIGN_13, BAD_ALIGN_TYPE,
  BAD_NAME_LEN_HUGE, BAD_NAME_EMPTY, BAD_NDIMS_0, BAD_NDIMS_5, BAD_NE_NEGATIVE, BAD_NE_OVERFLOW,
  BAD_GGML_TYPE, BAD_GGML_TYPE_REMOVED, BAD_NE0_BLOCK, BAD_OFFSET_MISMATCH, BAD_OFFSET_UNALIGNED,
  BAD_DUP_TENSOR, BAD_TRUNCATED_DATA, BAD_TRUNCATED_HEADER, BAD_TRUNCATED_TENSOR_INFO, BAD_SIZE_OVERFLOW,
  BAD_EMPTY
} corrupt_t;

typedef struct gguf_case {
  const char *name;
  corrupt_t   corrupt;
  int         expect_ok;
  const char *field; /* substring the error message must contain */
} gguf_case_t;

static const gguf_case_t cases[] = {
    {"success", OK_BASE, 1, NULL},
    {"success version 2", OK_VERSION_2, 1, NULL},
    {"success alignment 64", OK_ALIGN_64, 1, NULL},
    {"success nested array", OK_NESTED_ARRAY, 1, NULL},
    {"success no tensors", OK_EMPTY_FILE_NO_TENSORS, 1, NULL},
    {"bad magic", BAD_MAGIC, 0, "magic"},
    {"byte-swapped magic", BAD_MAGIC_SWAPPED, 0, "byte-swapped"},
    {"version 0", BAD_VERSION_0, 0, "version 0"},
    {"version 1", BAD_VERSION_1, 0, "version 1"},
    {"future version", BAD_VERSION_4, 0, "version 4"},
    {"big-endian version", BAD_VERSION_BIG_ENDIAN, 0, "big-endian"},
    {"tensor_count -1", BAD_N_TENSORS_HUGE, 0, "tensor_count"},
    {"kv_count huge", BAD_N_KV_HUGE, 0, "kv_count"},
    {"key length over cap", BAD_KEY_LEN_HUGE, 0, "kv 0 key: string length"},
    {"key length past end", BAD_KEY_LEN_PAST_END, 0, "kv 0 key: string length"},
    {"empty key", BAD_KEY_EMPTY, 0, "kv 1 key: empty name"},
    {"key with NUL", BAD_KEY_NUL, 0, "NUL"},
    {"bad value type", BAD_VALUE_TYPE, 0, "value_type 13"},
    {"bad array element type", BAD_ARRAY_ELEM_TYPE, 0, "'test.ids'): value_type 99"},
    {"array count huge", BAD_ARRAY_COUNT_HUGE, 0, "'test.ids'): array count"},
    {"string array count huge", BAD_STRING_ARRAY_COUNT_HUGE, 0, "'test.names'): array count"},
    {"string length huge", BAD_STRING_LEN_HUGE, 0, "'general.architecture'): string length"},
    {"bool value 2", BAD_BOOL_VALUE, 0, "'test.flag'): bool value 2"},
    {"arrays nested too deep", BAD_NESTED_TOO_DEEP, 0, "nested deeper"},
    {"duplicate key", BAD_DUP_KEY, 0, "duplicate key 'general.architecture'"},
    {"alignment 0", BAD_ALIGN_ZERO, 0, "general.alignment: 0 is not a power of two"},
    {"alignment 13", BAD_ALIGN_13, 0, "general.alignment: 13 is not a power of two"},
    {"alignment not u32", BAD_ALIGN_TYPE, 0, "general.alignment: must be u32"},
    {"tensor name length huge", BAD_NAME_LEN_HUGE, 0, "tensor 0 name: string length"},
    {"empty tensor name", BAD_NAME_EMPTY, 0, "tensor 1 name: empty name"},
    {"n_dims 0", BAD_NDIMS_0, 0, "'t.f32'): n_dims 0"},
    {"n_dims 5", BAD_NDIMS_5, 0, "'t.f32'): n_dims 5"},
    {"negative ne", BAD_NE_NEGATIVE, 0, "'t.f32'): ne[1]"},
    {"ne product overflow", BAD_NE_OVERFLOW, 0, "'t.f32'): element count overflows"},
    {"unknown ggml type", BAD_GGML_TYPE, 0, "'t.q4'): ggml_type 99"},
    {"removed ggml type 4", BAD_GGML_TYPE_REMOVED, 0, "'t.q4'): ggml_type 4"},
    {"ne0 not a block multiple", BAD_NE0_BLOCK, 0, "'t.q4'): ne[0] = 30"},
    {"offset mismatch", BAD_OFFSET_MISMATCH, 0, "'t.q8'): offset 128, expected 96"},
    {"offset unaligned", BAD_OFFSET_UNALIGNED, 0, "'t.q8'): offset 82"},
    {"duplicate tensor name", BAD_DUP_TENSOR, 0, "duplicate tensor name 't.f32'"},
    {"truncated data", BAD_TRUNCATED_DATA, 0, "'t.q8'): data"},
    {"truncated header", BAD_TRUNCATED_HEADER, 0, "kv_count"},
    {"truncated tensor info", BAD_TRUNCATED_TENSOR_INFO, 0, "tensor 2 ('t.q8')"},
    {"byte size overflow", BAD_SIZE_OVERFLOW, 0, "'t.f32'): byte size"},
    {"empty file", BAD_EMPTY, 0, "magic"},
};

/* The base file: 6 kv pairs, 3 tensors (f32 [8,2], q4_0 [32], q8_0 [64]); data offsets 0, 64, 96. */
static void build(sw_buf_t *b, corrupt_t c) {
  if (c == BAD_EMPTY) return;
  uint32_t version = c == OK_VERSION_2 ? 2 : c == BAD_VERSION_0 ? 0 : c == BAD_VERSION_1 ? 1
                     : c == BAD_VERSION_4 ? 4 : c == BAD_VERSION_BIG_ENDIAN ? 0x03000000u : 3;
  uint64_t n_tensors = c == OK_EMPTY_FILE_NO_TENSORS ? 0 : c == BAD_N_TENSORS_HUGE ? UINT64_MAX : 3;
  uint64_t n_kv = c == BAD_N_KV_HUGE ? ((uint64_t)1 << 40) : (c == OK_NESTED_ARRAY || c == BAD_NESTED_TOO_DEEP) ? 7 : 6;
  gb_u32(b, c == BAD_MAGIC ? 0x46554746u : c == BAD_MAGIC_SWAPPED ? 0x47475546u : 0x46554747u);
  gb_u32(b, version);
  gb_u64(b, n_tensors);
  if (c == BAD_TRUNCATED_HEADER) return;
  gb_u64(b, n_kv);
  /* kv 0: general.architecture = "llama" */
  if (c == BAD_KEY_LEN_HUGE) gb_u64(b, (uint64_t)1 << 40);
  else if (c == BAD_KEY_LEN_PAST_END) gb_u64(b, 5000);
  else gb_str(b, c == BAD_KEY_NUL ? "" : "general.architecture");
  if (c == BAD_KEY_NUL) {
    b->len -= 8;
    gb_u64(b, 5);
    sw_buf_append(b, "ab\0cd", 5);
  }
  gb_u32(b, c == BAD_VALUE_TYPE ? 13 : 8);
  if (c == BAD_STRING_LEN_HUGE) gb_u64(b, UINT64_MAX - 3);
  else gb_str(b, "llama");
  /* kv 1: general.alignment */
  if (c == BAD_ALIGN_TYPE) {
    gb_str(b, "general.alignment");
    gb_u32(b, 10);
    gb_u64(b, 32);
  } else {
    gb_kv_u32(b, c == BAD_KEY_EMPTY ? "" : c == BAD_DUP_KEY ? "general.architecture" : "general.alignment",
              c == OK_ALIGN_64 ? 64 : c == BAD_ALIGN_ZERO ? 0 : c == BAD_ALIGN_13 ? 13 : 32);
  }
  /* kv 2: test.count u32 */
  gb_kv_u32(b, "test.count", 7);
  /* kv 3: test.names = ["a", "bc", ""] */
  gb_str(b, "test.names");
  gb_u32(b, 9);
  gb_u32(b, 8);
  gb_u64(b, c == BAD_STRING_ARRAY_COUNT_HUGE ? ((uint64_t)1 << 62) : 3);
  gb_str(b, "a");
  gb_str(b, "bc");
  gb_str(b, "");
  /* kv 4: test.ids = i32 [1, -2, 3] */
  gb_str(b, "test.ids");
  gb_u32(b, 9);
  gb_u32(b, c == BAD_ARRAY_ELEM_TYPE ? 99 : 5);
  gb_u64(b, c == BAD_ARRAY_COUNT_HUGE ? ((uint64_t)1 << 62) : 3);
  gb_u32(b, 1);
  gb_u32(b, (uint32_t)-2);
  gb_u32(b, 3);
  /* kv 5: test.flag = true */
  gb_str(b, "test.flag");
  gb_u32(b, 7);
  gb_u8(b, c == BAD_BOOL_VALUE ? 2 : 1);
  if (n_kv == 7) { /* kv 6: arrays nested 2 deep (ok) or 5 deep (rejected) */
    int depth = c == OK_NESTED_ARRAY ? 2 : 5;
    gb_str(b, "test.nested");
    gb_u32(b, 9);
    for (int d = 1; d < depth; d++) {
      gb_u32(b, 9);
      gb_u64(b, 1);
    }
    gb_u32(b, 4);
    gb_u64(b, 2);
    gb_u32(b, 10);
    gb_u32(b, 20);
  }
  if (n_tensors == 0 || c == BAD_N_TENSORS_HUGE) return;
  /* tensor 0: t.f32 f32 [8, 2] at 0 (64 bytes) */
  uint64_t ne_f32[5] = {8, 2, 1, 1, 1};
  if (c == BAD_NE_NEGATIVE) ne_f32[1] = UINT64_MAX;
  if (c == BAD_NE_OVERFLOW) ne_f32[0] = ne_f32[1] = (uint64_t)1 << 32;
  if (c == BAD_SIZE_OVERFLOW) ne_f32[0] = (uint64_t)1 << 62, ne_f32[1] = 1;
  uint32_t nd = c == BAD_NDIMS_0 ? 0 : c == BAD_NDIMS_5 ? 5 : 2;
  if (c == BAD_NAME_LEN_HUGE) {
    gb_u64(b, (uint64_t)1 << 20);
    gb_u32(b, nd);
  } else {
    gb_tensor(b, "t.f32", nd, ne_f32, 0, 0);
  }
  /* tensor 1: t.q4 q4_0 [32] at 64 (18 bytes) */
  uint64_t ne_q4[1] = {c == BAD_NE0_BLOCK ? 30u : 32u};
  uint32_t q4_type = c == BAD_GGML_TYPE ? 99 : c == BAD_GGML_TYPE_REMOVED ? 4 : 2;
  gb_tensor(b, c == BAD_NAME_EMPTY ? "" : "t.q4", 1, ne_q4, q4_type, 64);
  /* tensor 2: t.q8 q8_0 [64] at 96 (68 bytes) */
  uint64_t ne_q8[1] = {64};
  uint64_t off = c == BAD_OFFSET_MISMATCH ? 128 : c == BAD_OFFSET_UNALIGNED ? 82 : c == OK_ALIGN_64 ? 128 : 96;
  if (c == BAD_TRUNCATED_TENSOR_INFO) {
    gb_str(b, "t.q8");
    gb_u32(b, 1);
    return;
  }
  gb_tensor(b, c == BAD_DUP_TENSOR ? "t.f32" : "t.q8", 1, ne_q8, 8, off);
  gb_pad(b, c == OK_ALIGN_64 ? 64 : 32);
  size_t data_start = b->len;
  for (int i = 0; i < (c == OK_ALIGN_64 ? 196 : 164); i++) gb_u8(b, (uint8_t)(i * 7));
  if (c == BAD_TRUNCATED_DATA) b->len = data_start + 150;
}

static void check_success_values(const sw_gguf_t *g, corrupt_t c) {
  sw_err_t err = {0};
  const char *arch = NULL;
  assert_int_equal(sw_gguf_get_str(g, "general.architecture", &arch, NULL, &err), SW_OK);
  assert_string_equal(arch, "llama");
  int64_t v = 0;
  assert_int_equal(sw_gguf_get_int(g, "test.count", &v, &err), SW_OK);
  assert_int_equal(v, 7);
  const sw_gguf_str_t *names = NULL;
  size_t n = 0;
  assert_int_equal(sw_gguf_get_arr_str(g, "test.names", &names, &n, &err), SW_OK);
  assert_int_equal(n, 3);
  assert_int_equal(names[1].len, 2);
  assert_memory_equal(names[1].ptr, "bc", 2);
  assert_int_equal(names[2].len, 0);
  int64_t ids[3] = {0};
  assert_int_equal(sw_gguf_get_arr_int(g, "test.ids", ids, 3, &n, &err), SW_OK);
  assert_int_equal(n, 3);
  assert_int_equal(ids[1], -2);
  int flag = 0;
  assert_int_equal(sw_gguf_get_bool(g, "test.flag", &flag, &err), SW_OK);
  assert_int_equal(flag, 1);
  /* wrong type and missing key are errors naming the key */
  assert_int_equal(sw_gguf_get_str(g, "test.count", &arch, NULL, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "'test.count' is u32"));
  assert_int_equal(sw_gguf_get_int(g, "no.such.key", &v, &err), SW_ERR_NOTFOUND);
  assert_non_null(strstr(err.msg, "no.such.key"));
  if (c == OK_EMPTY_FILE_NO_TENSORS) {
    assert_int_equal(g->n_tensors, 0);
    return;
  }
  assert_int_equal(g->alignment, c == OK_ALIGN_64 ? 64 : 32);
  assert_int_equal(g->n_tensors, 3);
  const sw_gguf_tensor_t *t = sw_gguf_find_tensor(g, "t.q8");
  assert_non_null(t);
  assert_int_equal(t->nbytes, 68);
  assert_int_equal(t->data - g->buf, (ptrdiff_t)(g->data_offset + (c == OK_ALIGN_64 ? 128 : 96)));
  t = sw_gguf_find_tensor(g, "t.f32");
  assert_int_equal(t->nb[1], 32);
  assert_int_equal(t->n_elements, 16);
}

static void test_corruption_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const gguf_case_t *tc = &cases[i];
    sw_buf_t b = SW_BUF_INIT;
    build(&b, tc->corrupt);
    assert_true(sw_buf_ok(&b));
    /* an exact-size heap copy, so ASan sees any read past the end */
    uint8_t *img = malloc(b.len ? b.len : 1);
    if (b.len) memcpy(img, b.data, b.len);
    sw_gguf_t *g = NULL;
    sw_err_t err = {0};
    sw_rc rc = sw_gguf_parse(img, b.len, &g, &err);
    if (tc->expect_ok) {
      if (rc) fail_msg("%s: unexpected failure: %s", tc->name, err.msg);
      check_success_values(g, tc->corrupt);
      sw_gguf_close(g);
    } else {
      if (rc == SW_OK) fail_msg("%s: corrupt file was accepted", tc->name);
      assert_null(g);
      if (!strstr(err.msg, tc->field)) fail_msg("%s: message '%s' does not name '%s'", tc->name, err.msg, tc->field);
    }
    free(img);
    sw_buf_free(&b);
  }
}

/* Every truncation of the valid file is rejected (and none reads out of bounds under ASan). */
static void test_every_truncation_rejected(void **state) {
  (void)state;
  sw_buf_t b = SW_BUF_INIT;
  build(&b, OK_BASE);
  for (size_t len = 0; len < b.len; len++) {
    uint8_t *img = malloc(len ? len : 1);
    memcpy(img, b.data, len);
    sw_gguf_t *g = NULL;
    sw_err_t err = {0};
    if (sw_gguf_parse(img, len, &g, &err) == SW_OK) fail_msg("truncation to %zu bytes accepted", len);
    assert_true(strlen(err.msg) > 0);
    free(img);
  }
  sw_buf_free(&b);
}

/* The type-traits table: sizes from the GGUF spec (docs/models.md §2) and ggml's block structs. */
static void test_type_traits(void **state) {
  (void)state;
  static const struct { uint32_t id; const char *name; size_t block, size; int dq; } expect[] = {
      {0, "f32", 1, 4, 1},     {1, "f16", 1, 2, 1},      {2, "q4_0", 32, 18, 1},  {3, "q4_1", 32, 20, 1},
      {6, "q5_0", 32, 22, 1},  {7, "q5_1", 32, 24, 1},   {8, "q8_0", 32, 34, 1},  {12, "q4_k", 256, 144, 1},
      {13, "q5_k", 256, 176, 1}, {10, "q2_k", 256, 84, 1}, {11, "q3_k", 256, 110, 1},
      {15, "q8_k", 256, 292, 0}, {16, "iq2_xxs", 256, 66, 0}, {14, "q6_k", 256, 210, 1}, {30, "bf16", 1, 2, 1},
  };
  for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
    const sw_type_traits_t *t = sw_type_traits_get(expect[i].id);
    assert_non_null(t);
    assert_string_equal(t->name, expect[i].name);
    assert_int_equal(t->block_size, expect[i].block);
    assert_int_equal(t->type_size, expect[i].size);
    assert_int_equal(t->to_f32 != NULL, expect[i].dq);
  }
  /* every used id has a complete row; removed ids have none */
  int used = 0;
  for (uint32_t id = 0; id < SW_TYPE_COUNT; id++) {
    const sw_type_traits_t *t = sw_type_traits_get(id);
    if (!t) continue;
    used++;
    assert_non_null(t->name);
    assert_true(t->type_size > 0);
    assert_int_equal(t->is_quantized, t->block_size > 1);
  }
  assert_true(used >= 30);
  assert_null(sw_type_traits_get(4));
  assert_null(sw_type_traits_get(5));
  assert_null(sw_type_traits_get(SW_TYPE_COUNT));
  assert_int_equal(sw_type_row_bytes(SW_TYPE_Q4_1, 576), 18 * 20);
  assert_int_equal(sw_type_row_bytes(SW_TYPE_Q4_1, 33), 0);
}

/* f16: hand-computed values (IEEE 754 binary16). */
static void test_f16_hand_values(void **state) {
  (void)state;
  assert_true(sw_f16_to_f32(0x3C00) == 1.0f);
  assert_true(sw_f16_to_f32(0xC000) == -2.0f);
  assert_true(sw_f16_to_f32(0x7BFF) == 65504.0f);
  assert_true(sw_f16_to_f32(0x0001) == 5.9604644775390625e-8f); /* 2^-24, smallest subnormal */
  assert_true(sw_f16_to_f32(0x03FF) == 6.09755516052246094e-5f); /* largest subnormal */
  assert_true(sw_f16_to_f32(0x7C00) > 3e38f);
  assert_true(sw_bf16_bits_to_f32(0x3F80) == 1.0f);
}

/* Unsupported types are errors naming the tensor and the type; a byte size that does not match the block
 * count is refused naming the tensor. */
static void test_unsupported_type_message(void **state) {
  (void)state;
  uint8_t block[84] = {0};
  float y[256];
  sw_err_t err = {0};
  assert_int_equal(sw_dequant(y, block, 256, SW_TYPE_IQ2_XXS, "blk.3.ffn_up.weight", &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "blk.3.ffn_up.weight"));
  assert_non_null(strstr(err.msg, "iq2_xxs"));
  assert_non_null(strstr(err.msg, "q5_k")); /* the list of supported types comes from the table */
  assert_int_equal(sw_dequant(y, block, 31, SW_TYPE_Q4_0, "x", &err), SW_ERR_INVALID);
  /* one Q2_K block is 84 bytes: 83 or 85 bytes for 256 elements is refused, 84 accepted */
  assert_int_equal(sw_dequant_bytes(y, block, 83, 256, SW_TYPE_Q2_K, "blk.0.attn_v.weight", &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "blk.0.attn_v.weight"));
  assert_int_equal(sw_dequant_bytes(y, block, 85, 256, SW_TYPE_Q2_K, "t", &err), SW_ERR_INVALID);
  assert_int_equal(sw_dequant_bytes(y, block, 84, 256, SW_TYPE_Q2_K, "t", &err), SW_OK);
  /* a Q8_0 block (f16 scale, 32 int8 values) whose scale is f16 +inf (0x7c00): every weight would be +-inf or NaN
   * (0 * inf); the load is refused naming the tensor and the first element, a finite scale loads */
  uint8_t q8[34] = {0x00, 0x7c, 1, 2, 3};
  assert_int_equal(sw_dequant_bytes(y, q8, 34, 32, SW_TYPE_Q8_0, "blk.1.ffn_gate.weight", &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "'blk.1.ffn_gate.weight': element 0 is"));
  assert_non_null(strstr(err.msg, "not a finite number"));
  q8[1] = 0x3c; /* 1.0 */
  assert_int_equal(sw_dequant_bytes(y, q8, 34, 32, SW_TYPE_Q8_0, "t", &err), SW_OK);
  assert_true(y[0] == 1.0f && y[2] == 3.0f && y[31] == 0.0f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corruption_table),       cmocka_unit_test(test_every_truncation_rejected),
      cmocka_unit_test(test_type_traits),            cmocka_unit_test(test_f16_hand_values),
      cmocka_unit_test(test_unsupported_type_message),
  };
  return cmocka_run_group_tests_name("gguf", tests, NULL, NULL);
}
