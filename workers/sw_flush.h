/* sw_flush: evicting the CPU caches before a timed region, for workloads that cannot rotate weight copies
 * (the model workload reads one model): the "cold" label then means what it says on every machine. */
#ifndef SW_FLUSH_H
#define SW_FLUSH_H
#include <stddef.h>

#include "common/sw_err.h"

typedef struct sw_flush {
  char  *buf;   /* owned */
  size_t bytes; /* 4 × the last-level cache, at least 64 MiB (256 MiB when the size is unknown) */
  size_t llc;   /* last-level cache bytes reported by the C library, 0 when unknown */
} sw_flush_t;

/* The last-level cache size one core can fill: the largest cache of cpu0 in sysfs (one instance), else sysconf
 * L3, else L2; 0 when the system reports none. */
size_t sw_flush_llc_bytes(void);
sw_rc  sw_flush_init(sw_flush_t *f, sw_err_t *err);
/* Reads one byte per 64-byte line of the whole buffer, which evicts everything else.  Reads, not writes: dirty
 * flush lines would be written back while the next timed region runs and add their memory traffic to it.
 * Returns a value that depends on the buffer. */
unsigned sw_flush_run(sw_flush_t *f);
void     sw_flush_free(sw_flush_t *f);

#endif
