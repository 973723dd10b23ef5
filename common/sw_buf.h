/* sw_buf: a growable byte buffer with a sticky out-of-memory flag, and JSON text writing helpers.
 * Writers append without checking each call; check sw_buf_ok() once at the end. */
#ifndef SW_BUF_H
#define SW_BUF_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sw_buf {
  char  *data; /* NUL-terminated contents (NULL until the first append); owned */
  size_t len;  /* bytes used, excluding the NUL */
  size_t cap;  /* bytes allocated */
  int    oom;  /* 1 once an allocation failed: every later append is a no-op */
} sw_buf_t;

#define SW_BUF_INIT {NULL, 0, 0, 0}

/* Appends n bytes. */
void sw_buf_append(sw_buf_t *b, const void *bytes, size_t n);
/* Appends a NUL-terminated string. */
void sw_buf_puts(sw_buf_t *b, const char *s);
/* Appends printf-style text. */
void sw_buf_printf(sw_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sw_buf_vprintf(sw_buf_t *b, const char *fmt, va_list ap);
/* Appends s (n bytes) as a JSON string literal with quotes and escapes (RFC 8259 §7). */
void sw_buf_json_string(sw_buf_t *b, const char *s, size_t n);
/* Appends a double as JSON: shortest round-trip form ("%.17g" trimmed); NaN/inf become null. */
void sw_buf_json_double(sw_buf_t *b, double v);
/* Empties the buffer, keeping its memory. */
void sw_buf_reset(sw_buf_t *b);
/* 1 when no allocation failed. */
int sw_buf_ok(const sw_buf_t *b);
/* Returns the contents (never NULL: "" when empty); borrowed until the next append or free. */
const char *sw_buf_str(const sw_buf_t *b);
/* Hands the contents to the caller (free() it) and resets b. NULL on OOM. */
char *sw_buf_take(sw_buf_t *b);
void sw_buf_free(sw_buf_t *b);

/* Binary little-endian appends, the writing side of sw_cursor: fixed-size integers, doubles by their IEEE-754
 * bits, and strings as a u32 byte length followed by the bytes (no NUL), NULL as the length SW_BUF_STR_NULL so
 * that "absent" and "" stay distinct. */
#define SW_BUF_STR_NULL UINT32_MAX
void sw_buf_put_u16(sw_buf_t *b, uint16_t v);
void sw_buf_put_u32(sw_buf_t *b, uint32_t v);
void sw_buf_put_u64(sw_buf_t *b, uint64_t v);
void sw_buf_put_f64(sw_buf_t *b, double v);
/* s must be shorter than SW_BUF_STR_NULL bytes; a longer one sets the out-of-memory flag instead. */
void sw_buf_put_str(sw_buf_t *b, const char *s);

#endif
