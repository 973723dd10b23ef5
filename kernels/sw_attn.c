/* sw_attn: one query token's attention over its layer's cache (see sw_attn.h). */
#include "kernels/sw_attn.h"

#include <math.h>
#include <string.h>

#include "kernels/sw_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Adds p·v to o after scaling o by c (the online softmax step), n floats. */
static void scale_add_portable(float *o, float c, float p, const float *v, int n) {
  for (int i = 0; i < n; i++) o[i] = o[i] * c + p * v[i];
}

static float dot_portable(const float *a, const float *b, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

#if defined(__x86_64__)
#define SW_ATTN_AVX2 __attribute__((target("avx2,fma")))
SW_ATTN_AVX2 static float dot_avx2(const float *a, const float *b, int n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  __m256 s = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float r = _mm_cvtss_f32(h);
  for (; i < n; i++) r += a[i] * b[i];
  return r;
}

SW_ATTN_AVX2 static void scale_add_avx2(float *o, float c, float p, const float *v, int n) {
  __m256 cv = _mm256_set1_ps(c), pv = _mm256_set1_ps(p);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(o + i, _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + i), _mm256_mul_ps(cv, _mm256_loadu_ps(o + i))));
  for (; i < n; i++) o[i] = o[i] * c + p * v[i];
}
#endif

typedef struct attn_fns {
  float (*dot)(const float *, const float *, int);
  void (*scale_add)(float *, float, float, const float *, int);
} attn_fns_t;

static attn_fns_t attn_pick(sw_isa_t isa) {
#if defined(__x86_64__)
  if (isa >= SW_ISA_AVX2) return (attn_fns_t){dot_avx2, scale_add_avx2};
#else
  (void)isa;
#endif
  return (attn_fns_t){dot_portable, scale_add_portable};
}

/* One head: running maximum m and sum l; o is rescaled by exp(m_old - m_new) when the maximum grows. */
static void attn_head(attn_fns_t fn, const sw_attn_query_t *a, int h) {
  const float *q = a->q + (size_t)h * a->hd, *k = a->k + (size_t)(h / a->group) * a->hd;
  const float *v = a->v + (size_t)(h / a->group) * a->hd;
  float *o = a->out + (size_t)h * a->hd, m = -INFINITY;
  double l = 0;
  memset(o, 0, (size_t)a->hd * sizeof *o);
  for (int j = 0; j < a->n_pos; j++) {
    float s = fn.dot(q, k + (size_t)j * a->stride, a->hd) * a->scale, c = 1.0f;
    if (s > m) c = expf(m - s), m = s, l *= c; /* expf(-inf) = 0 on the first position */
    float p = expf(s - m);
    l += p;
    fn.scale_add(o, c, p, v + (size_t)j * a->stride, a->hd);
  }
  float inv = (float)(1.0 / l);
  for (int i = 0; i < a->hd; i++) o[i] *= inv;
}

typedef struct attn_job {
  attn_fns_t             fn;
  const sw_attn_query_t *a;
} attn_job_t;

static void attn_thread(void *arg, int tid, int n_threads) {
  const attn_job_t *j = arg;
  int h0 = tid * j->a->n_head / n_threads, h1 = (tid + 1) * j->a->n_head / n_threads;
  for (int h = h0; h < h1; h++) attn_head(j->fn, j->a, h);
}

void sw_attn_query(const sw_qctx_t *ctx, const sw_attn_query_t *a) {
  attn_job_t j = {attn_pick(ctx->isa), a};
  if (ctx->pool) sw_pool_run(ctx->pool, attn_thread, &j);
  else attn_thread(&j, 0, 1);
}
