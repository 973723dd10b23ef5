/* sw_cursor: the bounded reader every binary parser uses.  Each read checks the bytes remaining
 * before touching memory; a failed read leaves the cursor where it was and returns SW_ERR_TRUNCATED. */
#ifndef SW_CURSOR_H
#define SW_CURSOR_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"

typedef struct sw_cursor {
  const uint8_t *buf; /* start of the input (borrowed) */
  size_t         len; /* input length in bytes */
  size_t         pos; /* bytes consumed so far; always <= len */
} sw_cursor_t;

/* Starts a cursor at offset 0 of buf[len] (borrowed: buf must outlive the cursor). */
void   sw_cursor_init(sw_cursor_t *c, const void *buf, size_t len);
/* Bytes not yet consumed (len - pos). */
size_t sw_cursor_remain(const sw_cursor_t *c);
/* Little-endian fixed-size reads. */
sw_rc sw_cursor_u8(sw_cursor_t *c, uint8_t *out);
sw_rc sw_cursor_u16(sw_cursor_t *c, uint16_t *out);
sw_rc sw_cursor_u32(sw_cursor_t *c, uint32_t *out);
sw_rc sw_cursor_u64(sw_cursor_t *c, uint64_t *out);
sw_rc sw_cursor_f32(sw_cursor_t *c, float *out);
sw_rc sw_cursor_f64(sw_cursor_t *c, double *out);
/* Returns a pointer to the next n bytes (borrowed from the buffer) and advances past them. */
sw_rc sw_cursor_bytes(sw_cursor_t *c, size_t n, const uint8_t **out);
/* Advances past n bytes without reading them; SW_ERR_TRUNCATED when fewer remain. */
sw_rc sw_cursor_skip(sw_cursor_t *c, size_t n);
/* Moves to absolute offset pos (<= len). */
sw_rc sw_cursor_seek(sw_cursor_t *c, size_t pos);
/* 1 when count*size fits in size_t and in the bytes remaining. */
int sw_cursor_has_array(const sw_cursor_t *c, uint64_t count, size_t size);

/* Reads a string written by sw_buf_put_str (u32 length, then the bytes): *out = NULL for the NULL marker, else
 * a malloc'd NUL-terminated copy the caller frees.  Errors name field: SW_ERR_TRUNCATED (length or bytes cut
 * short; the length may have been consumed), SW_ERR_RANGE (longer than max_len bytes), SW_ERR_NOMEM.  On an
 * error *out is NULL. */
sw_rc sw_cursor_str(sw_cursor_t *c, size_t max_len, const char *field, char **out, sw_err_t *err);

#endif
