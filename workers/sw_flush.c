/* sw_flush: cache eviction by touching a buffer several times the last-level cache. */
#include "workers/sw_flush.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t sw_flush_llc_bytes(void) {
  long l3 = -1, l2 = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
  l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
#ifdef _SC_LEVEL2_CACHE_SIZE
  l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
  return l3 > 0 ? (size_t)l3 : l2 > 0 ? (size_t)l2 : 0;
}

sw_rc sw_flush_init(sw_flush_t *f, sw_err_t *err) {
  memset(f, 0, sizeof *f);
  f->llc = sw_flush_llc_bytes();
  size_t min = (size_t)64 << 20;
  f->bytes = f->llc ? 4 * f->llc : (size_t)256 << 20;
  if (f->bytes < min) f->bytes = min;
  f->buf = malloc(f->bytes);
  if (!f->buf) return sw_err_set(err, SW_ERR_NOMEM, "cache flush: cannot allocate %zu MiB", f->bytes >> 20);
  memset(f->buf, 1, f->bytes);
  return SW_OK;
}

unsigned sw_flush_run(sw_flush_t *f) {
  unsigned acc = 0;
  const volatile char *p = f->buf; /* volatile: every line is really read */
  for (size_t i = 0; i < f->bytes; i += 64) acc += (unsigned char)p[i];
  return acc;
}

void sw_flush_free(sw_flush_t *f) {
  free(f->buf);
  memset(f, 0, sizeof *f);
}
