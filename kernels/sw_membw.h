/* sw_membw: streaming read kernels for measuring the machine's read bandwidth in the same run as a benchmark,
 * in any SIMD variant (kernels/sw_isa.h) and with one of a few read strategies, optionally on the pool's threads.
 * A benchmark times every strategy and anchors on the fastest (cli/cmd_bench_kernels.c). */
#ifndef SW_MEMBW_H
#define SW_MEMBW_H
#include <stddef.h>

#include "kernels/sw_isa.h"
#include "kernels/sw_pool.h"

typedef enum sw_membw_strategy {
  SW_MEMBW_PLAIN = 0, /* 4 vector accumulators, one vector each per step */
  SW_MEMBW_UNROLL,    /* 8 accumulators */
  SW_MEMBW_PF1K,      /* unrolled, software prefetch of every line 1 KiB ahead */
  SW_MEMBW_PF4K,      /* unrolled, prefetch 4 KiB ahead */
  SW_MEMBW_PF16K,     /* unrolled, prefetch 16 KiB ahead */
  SW_MEMBW_STREAMS8,  /* 8 concurrent streams (the buffer cut in 8 parts, one line of each per step), the access
                         pattern of the batch-1 gathered kernel's gate and up rows of 4 neurons */
  SW_MEMBW_N_STRATEGIES
} sw_membw_strategy_t;

/* How to read: a resolved SIMD level (sw_isa_resolve) and a strategy. */
typedef struct sw_membw {
  sw_isa_t            isa;
  sw_membw_strategy_t strategy;
} sw_membw_t;

/* "plain", "unroll8", "pf1k", "pf4k", "pf16k", "streams8" ("?" out of range). */
const char *sw_membw_strategy_name(sw_membw_strategy_t s);
/* Reads bytes (multiple of 64 recommended) from buf and returns the sum of its floats so the reads cannot be
 * elided. */
float sw_membw_read(const sw_membw_t *how, const void *buf, size_t bytes);
/* Same, split into 64-byte lines over the pool's threads (pool NULL = calling thread only). */
float sw_membw_read_pool(sw_pool_t *pool, const sw_membw_t *how, const void *buf, size_t bytes);

#endif
