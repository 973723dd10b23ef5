/* sw_membw: a streaming read kernel (AVX-512 loads, 4 independent accumulators) for measuring the machine's
 * read bandwidth in the same run as a benchmark, optionally on the pool's threads. */
#ifndef SW_MEMBW_H
#define SW_MEMBW_H
#include <stddef.h>

#include "kernels/sw_pool.h"

/* Reads bytes (multiple of 64 recommended) from buf and returns a checksum so the reads cannot be elided. */
float sw_membw_read(const void *buf, size_t bytes);
/* Same, split over the pool's threads (pool NULL = calling thread only). */
float sw_membw_read_pool(sw_pool_t *pool, const void *buf, size_t bytes);

#endif
