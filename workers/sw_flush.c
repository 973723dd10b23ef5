/* sw_flush: cache eviction by touching a buffer several times the last-level cache. */
#include "workers/sw_flush.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Size in bytes of a sysfs cache "size" value ("32768K", "1M"), 0 when it does not parse. */
static size_t parse_cache_size(const char *text) {
  char  *end = NULL;
  double v = strtod(text, &end);
  if (!end || end == text || !(v > 0)) return 0;
  double unit = *end == 'K' ? 1024.0 : *end == 'M' ? 1048576.0 : *end == 'G' ? 1073741824.0 : 1.0;
  return (size_t)(v * unit);
}

/* The largest cache cpu0 sees in sysfs (one instance: the slice a core can fill), 0 when sysfs has none. */
static size_t sysfs_llc_bytes(void) {
  size_t best = 0;
  for (int i = 0; i < 8; i++) {
    char  path[96], buf[64];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t got = fgets(buf, sizeof buf, f) ? parse_cache_size(buf) : 0;
    fclose(f);
    if (got > best) best = got;
  }
  return best;
}

size_t sw_flush_llc_bytes(void) {
  /* sysfs first: glibc's sysconf can report a whole socket's L3 (256 MiB on an 8-CCD AMD EPYC, where one core's
   * complex has 32 MiB), which would size the flush 8x too large */
  size_t s = sysfs_llc_bytes();
  if (s) return s;
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
