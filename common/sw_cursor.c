/* sw_cursor: bounded little-endian reads over (buf, len).  Every read checks the bytes remaining before it
 * touches memory; a failed read leaves pos unchanged and returns SW_ERR_TRUNCATED. */
#include "common/sw_cursor.h"

#include <stdlib.h>
#include <string.h>

void sw_cursor_init(sw_cursor_t *c, const void *buf, size_t len) {
  c->buf = buf;
  c->len = buf ? len : 0;
  c->pos = 0;
}

size_t sw_cursor_remain(const sw_cursor_t *c) { return c->len - c->pos; }

sw_rc sw_cursor_bytes(sw_cursor_t *c, size_t n, const uint8_t **out) {
  if (n > sw_cursor_remain(c)) return SW_ERR_TRUNCATED;
  *out = c->buf + c->pos;
  c->pos += n;
  return SW_OK;
}

static sw_rc sw_cursor_le(sw_cursor_t *c, size_t n, uint64_t *out) {
  const uint8_t *p;
  sw_rc rc = sw_cursor_bytes(c, n, &p);
  if (rc) return rc;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  *out = v;
  return SW_OK;
}

sw_rc sw_cursor_u8(sw_cursor_t *c, uint8_t *out) {
  uint64_t v;
  sw_rc rc = sw_cursor_le(c, 1, &v);
  if (!rc) *out = (uint8_t)v;
  return rc;
}

sw_rc sw_cursor_u16(sw_cursor_t *c, uint16_t *out) {
  uint64_t v;
  sw_rc rc = sw_cursor_le(c, 2, &v);
  if (!rc) *out = (uint16_t)v;
  return rc;
}

sw_rc sw_cursor_u32(sw_cursor_t *c, uint32_t *out) {
  uint64_t v;
  sw_rc rc = sw_cursor_le(c, 4, &v);
  if (!rc) *out = (uint32_t)v;
  return rc;
}

sw_rc sw_cursor_u64(sw_cursor_t *c, uint64_t *out) { return sw_cursor_le(c, 8, out); }

sw_rc sw_cursor_f32(sw_cursor_t *c, float *out) {
  uint32_t bits;
  sw_rc rc = sw_cursor_u32(c, &bits);
  if (!rc) memcpy(out, &bits, sizeof bits);
  return rc;
}

sw_rc sw_cursor_f64(sw_cursor_t *c, double *out) {
  uint64_t bits;
  sw_rc rc = sw_cursor_u64(c, &bits);
  if (!rc) memcpy(out, &bits, sizeof bits);
  return rc;
}

sw_rc sw_cursor_skip(sw_cursor_t *c, size_t n) {
  const uint8_t *p;
  return sw_cursor_bytes(c, n, &p);
}

sw_rc sw_cursor_seek(sw_cursor_t *c, size_t pos) {
  if (pos > c->len) return SW_ERR_TRUNCATED;
  c->pos = pos;
  return SW_OK;
}

int sw_cursor_has_array(const sw_cursor_t *c, uint64_t count, size_t size) {
  if (size == 0) return 1;
  if (count > SIZE_MAX / size) return 0;
  return count * size <= sw_cursor_remain(c);
}

sw_rc sw_cursor_str(sw_cursor_t *c, size_t max_len, const char *field, char **out, sw_err_t *err) {
  uint32_t n;
  const uint8_t *p;
  *out = NULL;
  if (sw_cursor_u32(c, &n)) return sw_err_set(err, SW_ERR_TRUNCATED, "input ends before the length of '%s'", field);
  if (n == UINT32_MAX) return SW_OK; /* SW_BUF_STR_NULL: absent */
  if (n > max_len)
    return sw_err_set(err, SW_ERR_RANGE, "'%s' length %u exceeds the %zu-byte limit", field, n, max_len);
  if (sw_cursor_bytes(c, n, &p))
    return sw_err_set(err, SW_ERR_TRUNCATED, "'%s' claims %u bytes, %zu left", field, n, sw_cursor_remain(c));
  char *s = malloc((size_t)n + 1);
  if (!s) return sw_err_set(err, SW_ERR_NOMEM, "cannot allocate %zu bytes for '%s'", (size_t)n + 1, field);
  memcpy(s, p, n);
  s[n] = '\0';
  *out = s;
  return SW_OK;
}
