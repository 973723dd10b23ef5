/* sw_buf: growable byte buffer and JSON text writer.  Invariant: data[len] == '\0' whenever data != NULL;
 * an allocation failure is sticky (sw_buf_ok() turns 0, later appends are dropped) instead of an error per call. */
#include "common/sw_buf.h"


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_cnum.h"

static int sw_buf_reserve(sw_buf_t *b, size_t extra) {
  if (b->oom) return 0;
  if (extra > SIZE_MAX - b->len - 1) {
    b->oom = 1;
    return 0;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = 1;
    return 0;
  }
  b->data = p;
  b->cap = cap;
  return 1;
}

void sw_buf_append(sw_buf_t *b, const void *bytes, size_t n) {
  if (!sw_buf_reserve(b, n)) return;
  if (n) memcpy(b->data + b->len, bytes, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sw_buf_puts(sw_buf_t *b, const char *s) { sw_buf_append(b, s, strlen(s)); }

void sw_buf_vprintf(sw_buf_t *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0 || !sw_buf_reserve(b, (size_t)n)) return;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void sw_buf_printf(sw_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sw_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void sw_buf_json_string(sw_buf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  sw_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': sw_buf_append(b, "\\\"", 2); break;
      case '\\': sw_buf_append(b, "\\\\", 2); break;
      case '\n': sw_buf_append(b, "\\n", 2); break;
      case '\r': sw_buf_append(b, "\\r", 2); break;
      case '\t': sw_buf_append(b, "\\t", 2); break;
      default:
        if (c < 0x20) {
          char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
          sw_buf_append(b, esc, 6);
        } else {
          sw_buf_append(b, &s[i], 1);
        }
    }
  }
  sw_buf_append(b, "\"", 1);
}

void sw_buf_json_double(sw_buf_t *b, double v) {
  if (!isfinite(v)) {
    sw_buf_puts(b, "null");
    return;
  }
  char tmp[40];
  /* Shortest precision that round-trips, so the same value always prints the same text. */
  for (int prec = 1; prec <= 17; prec++) {
    size_t used;
    int len = sw_cnum_format_g(tmp, sizeof tmp, prec, v); /* '.' whatever LC_NUMERIC says */
    if (sw_cnum_parse(tmp, (size_t)len, &used) == v) break;
  }
  sw_buf_puts(b, tmp);
}

void sw_buf_reset(sw_buf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

int sw_buf_ok(const sw_buf_t *b) { return !b->oom; }

const char *sw_buf_str(const sw_buf_t *b) { return b->data ? b->data : ""; }

char *sw_buf_take(sw_buf_t *b) {
  char *p = NULL;
  if (!b->oom) p = b->data ? b->data : strdup("");
  else free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
  return p;
}

void sw_buf_free(sw_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

/* ---- binary little-endian appends ---- */

static void put_le(sw_buf_t *b, uint64_t v, size_t n) {
  unsigned char x[8];
  for (size_t i = 0; i < n; i++) x[i] = (unsigned char)(v >> (8 * i));
  sw_buf_append(b, x, n);
}

void sw_buf_put_u16(sw_buf_t *b, uint16_t v) { put_le(b, v, 2); }
void sw_buf_put_u32(sw_buf_t *b, uint32_t v) { put_le(b, v, 4); }
void sw_buf_put_u64(sw_buf_t *b, uint64_t v) { put_le(b, v, 8); }

void sw_buf_put_f64(sw_buf_t *b, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  put_le(b, bits, 8);
}

void sw_buf_put_str(sw_buf_t *b, const char *s) {
  if (!s) {
    sw_buf_put_u32(b, SW_BUF_STR_NULL);
    return;
  }
  size_t n = strlen(s);
  if (n >= SW_BUF_STR_NULL) {
    b->oom = 1;
    return;
  }
  sw_buf_put_u32(b, (uint32_t)n);
  sw_buf_append(b, s, n);
}
