/* sw_avx512_shim: plain-C definitions of the AVX-512 intrinsics kernels/sw_wsparse_avx512.c uses, written from
 * their documented lane semantics, so that the AVX-512 body's indexing (value offsets, masks, tails) is tested on
 * CPUs without AVX-512 (tests/unit/test_wsparse_shim.c).  A full load reads all 16 floats, as the instruction
 * does (AddressSanitizer then sees any read past the format's padding); a masked load reads only its lanes. */
#ifndef SW_AVX512_SHIM_H
#define SW_AVX512_SHIM_H
#include <math.h>
#include <stdint.h>

typedef struct {
  float f[16];
} __m512;
typedef struct {
  int32_t i[16];
} __m512i;
typedef uint16_t __mmask16;

static inline __m512 _mm512_setzero_ps(void) {
  __m512 r = {{0}};
  return r;
}

static inline __m512 _mm512_loadu_ps(const float *p) {
  __m512 r;
  for (int i = 0; i < 16; i++) r.f[i] = p[i];
  return r;
}

static inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const float *p) {
  __m512 r = {{0}};
  for (int i = 0; i < 16; i++)
    if (k >> i & 1) r.f[i] = p[i];
  return r;
}

/* Lane i of the result: the next unused element of a (from lane 0 up) when bit i of k is set, 0 otherwise. */
static inline __m512 _mm512_maskz_expand_ps(__mmask16 k, __m512 a) {
  __m512 r = {{0}};
  for (int i = 0, next = 0; i < 16; i++)
    if (k >> i & 1) r.f[i] = a.f[next++];
  return r;
}

static inline __m512i _mm512_setr_epi32(int e0, int e1, int e2, int e3, int e4, int e5, int e6, int e7, int e8,
                                        int e9, int e10, int e11, int e12, int e13, int e14, int e15) {
  __m512i r = {{e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15}};
  return r;
}

static inline __m512i _mm512_set1_epi32(int a) {
  __m512i r;
  for (int i = 0; i < 16; i++) r.i[i] = a;
  return r;
}

static inline __m512i _mm512_and_si512(__m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 16; i++) r.i[i] = a.i[i] & b.i[i];
  return r;
}

static inline __m512i _mm512_slli_epi32(__m512i a, unsigned n) {
  __m512i r;
  for (int i = 0; i < 16; i++) r.i[i] = n > 31 ? 0 : (int32_t)((uint32_t)a.i[i] << n);
  return r;
}

/* Lane i: the number of set bits of lane i of a. */
static inline __m512i _mm512_popcnt_epi32(__m512i a) {
  __m512i r;
  for (int i = 0; i < 16; i++) r.i[i] = __builtin_popcount((uint32_t)a.i[i]);
  return r;
}

/* Lane i of the result: lane (idx lane i mod 16) of a when bit i of k is set, 0 otherwise. */
static inline __m512 _mm512_maskz_permutexvar_ps(__mmask16 k, __m512i idx, __m512 a) {
  __m512 r = {{0}};
  for (int i = 0; i < 16; i++)
    if (k >> i & 1) r.f[i] = a.f[idx.i[i] & 15];
  return r;
}

static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  __m512 r;
  for (int i = 0; i < 16; i++) r.f[i] = fmaf(a.f[i], b.f[i], c.f[i]);
  return r;
}

static inline __m512 _mm512_add_ps(__m512 a, __m512 b) {
  __m512 r;
  for (int i = 0; i < 16; i++) r.f[i] = a.f[i] + b.f[i];
  return r;
}

static inline float _mm512_reduce_add_ps(__m512 a) {
  float s = 0.0f;
  for (int i = 0; i < 16; i++) s += a.f[i];
  return s;
}

/* A prefetch has no effect on results (and never faults). */
#define _MM_HINT_T0 3
static inline void _mm_prefetch(const char *p, int hint) { (void)p, (void)hint; }

static inline long long _mm_popcnt_u64(uint64_t x) { return __builtin_popcountll(x); }

#endif
