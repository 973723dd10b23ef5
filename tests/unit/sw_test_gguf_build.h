/* Test helper: writes GGUF images into an sw_buf_t field by field, so tests can build valid files and
 * corrupt exactly one field (tests/unit/test_gguf.c, test_model.c, tests/fuzz seeds).  Little-endian. */
#ifndef SW_TEST_GGUF_BUILD_H
#define SW_TEST_GGUF_BUILD_H
#include <stdint.h>
#include <string.h>

#include "common/sw_buf.h"

static inline void gb_u8(sw_buf_t *b, uint8_t v) { sw_buf_append(b, &v, 1); }
static inline void gb_u32(sw_buf_t *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  sw_buf_append(b, x, 4);
}
static inline void gb_u64(sw_buf_t *b, uint64_t v) {
  gb_u32(b, (uint32_t)v);
  gb_u32(b, (uint32_t)(v >> 32));
}
static inline void gb_f32(sw_buf_t *b, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  gb_u32(b, v);
}
/* A GGUF string: u64 length then the bytes. */
static inline void gb_str(sw_buf_t *b, const char *s) {
  gb_u64(b, strlen(s));
  sw_buf_append(b, s, strlen(s));
}
static inline void gb_header(sw_buf_t *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  gb_u32(b, 0x46554747u);
  gb_u32(b, version);
  gb_u64(b, n_tensors);
  gb_u64(b, n_kv);
}
static inline void gb_kv_u32(sw_buf_t *b, const char *key, uint32_t v) {
  gb_str(b, key);
  gb_u32(b, 4);
  gb_u32(b, v);
}
static inline void gb_kv_f32(sw_buf_t *b, const char *key, float v) {
  gb_str(b, key);
  gb_u32(b, 6);
  gb_f32(b, v);
}
static inline void gb_kv_str(sw_buf_t *b, const char *key, const char *v) {
  gb_str(b, key);
  gb_u32(b, 8);
  gb_str(b, v);
}
/* Tensor info with up to 4 dims. */
static inline void gb_tensor(sw_buf_t *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                             uint64_t offset) {
  gb_str(b, name);
  gb_u32(b, n_dims);
  for (uint32_t i = 0; i < n_dims; i++) gb_u64(b, ne[i]);
  gb_u32(b, type);
  gb_u64(b, offset);
}
/* Zero bytes up to a multiple of align. */
static inline void gb_pad(sw_buf_t *b, size_t align) {
  while (b->len % align) gb_u8(b, 0);
}

#endif
