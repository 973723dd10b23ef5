/* sw_membw: streaming read kernel for same-run bandwidth measurements (sum of floats, 4 accumulators).
 * The sum is returned so the reads cannot be elided; the pool variant splits the buffer into 64-byte lines
 * over the pool's threads.  No allocation, no state. */
#include "kernels/sw_membw.h"

#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

float sw_membw_read(const void *buf, size_t bytes) {
  const float *p = buf;
  size_t       n = bytes / sizeof(float), i = 0;
  float        tail = 0.0f;
#if defined(__AVX512F__)
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
  }
  tail = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#endif
  for (; i < n; i++) tail += p[i];
  return tail;
}

#define SW_MEMBW_MAX_READERS 64 /* threads beyond this many stay idle (one checksum slot per reader) */

typedef struct sw_membw_job {
  const char *buf;
  size_t      bytes;
  float       sums[SW_MEMBW_MAX_READERS];
} sw_membw_job_t;

static void sw_membw_fn(void *arg, int tid, int n_threads) {
  sw_membw_job_t *j = arg;
  int             readers = n_threads < SW_MEMBW_MAX_READERS ? n_threads : SW_MEMBW_MAX_READERS;
  if (tid >= readers) return;
  size_t lines = j->bytes / 64, l0 = lines * tid / readers, l1 = lines * (tid + 1) / readers;
  j->sums[tid] = sw_membw_read(j->buf + l0 * 64, (l1 - l0) * 64);
}

float sw_membw_read_pool(sw_pool_t *pool, const void *buf, size_t bytes) {
  if (!pool) return sw_membw_read(buf, bytes);
  sw_membw_job_t job;
  memset(&job, 0, sizeof job);
  job.buf = buf;
  job.bytes = bytes;
  sw_pool_run(pool, sw_membw_fn, &job);
  float s = 0.0f;
  for (int t = 0; t < SW_MEMBW_MAX_READERS; t++) s += job.sums[t];
  return s;
}
