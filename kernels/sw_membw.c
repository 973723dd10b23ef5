/* sw_membw: streaming read kernel for same-run bandwidth measurements (kernels/sw_membw.h); the read loops are
 * the SIMD variants' (kernels/sw_simd.h).  The pool variant splits the buffer into 64-byte lines over the pool's
 * threads.  No allocation, no state. */
#include "kernels/sw_membw.h"

#include <string.h>

#include "kernels/sw_simd.h"

static const char *const sw_membw_names[SW_MEMBW_N_STRATEGIES] = {"plain", "unroll8", "pf1k", "pf4k", "pf16k",
                                                                           "streams8"};

const char *sw_membw_strategy_name(sw_membw_strategy_t s) {
  return s >= 0 && s < SW_MEMBW_N_STRATEGIES ? sw_membw_names[s] : "?";
}

float sw_membw_read(const sw_membw_t *how, const void *buf, size_t bytes) {
  return sw_simd_get(how->isa)->read(buf, bytes, how->strategy);
}

#define SW_MEMBW_MAX_READERS 64 /* threads beyond this many stay idle (one checksum slot per reader) */

typedef struct sw_membw_job {
  const char       *buf;
  size_t            bytes;
  const sw_membw_t *how;
  float             sums[SW_MEMBW_MAX_READERS];
} sw_membw_job_t;

static void sw_membw_fn(void *arg, int tid, int n_threads) {
  sw_membw_job_t *j = arg;
  int             readers = n_threads < SW_MEMBW_MAX_READERS ? n_threads : SW_MEMBW_MAX_READERS;
  if (tid >= readers) return;
  size_t lines = j->bytes / 64, l0 = lines * tid / readers, l1 = lines * (tid + 1) / readers;
  j->sums[tid] = sw_membw_read(j->how, j->buf + l0 * 64, (l1 - l0) * 64);
}

float sw_membw_read_pool(sw_pool_t *pool, const sw_membw_t *how, const void *buf, size_t bytes) {
  if (!pool) return sw_membw_read(how, buf, bytes);
  sw_membw_job_t job;
  memset(&job, 0, sizeof job);
  job.buf = buf;
  job.bytes = bytes;
  job.how = how;
  sw_pool_run(pool, sw_membw_fn, &job);
  float s = 0.0f;
  for (int t = 0; t < SW_MEMBW_MAX_READERS; t++) s += job.sums[t];
  return s;
}
