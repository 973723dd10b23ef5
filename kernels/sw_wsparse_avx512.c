/* sw_wsparse_avx512: bitmap SpMV with AVX-512 (kernels/sw_wsparse_avx512.h).  AVX2 has no expand instruction, so
 * its bitmap body (kernels/sw_wsparse.c) expands each byte's packed values with a table lookup, a vpermps and a
 * blend per 8 columns; here one vexpandps puts 16 columns' packed values into the lanes of their set bits, so a
 * 16-column step is a value load, the expansion and an FMA.  Per-function target attribute: the binary still runs
 * on CPUs without AVX-512 (the function is only called when sw_isa_supported(SW_ISA_AVX512)).  Empty off x86-64
 * unless built with SW_AVX512_SHIM (the plain-C intrinsics of tests/shim/sw_avx512_shim.h). */
#include "kernels/sw_wsparse_avx512.h"

#include <string.h>

#if defined(SW_AVX512_SHIM) /* the intrinsics are defined by the including file, tests/shim/sw_wsparse_avx512_shim.c */
#define SW_WS_AVX512
#define SW_WS_AVX512_ON 1
#elif defined(__x86_64__)
#include <immintrin.h>
#define SW_WS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,popcnt")))
#define SW_WS_AVX512_ON 1
#else
#define SW_WS_AVX512_ON 0
#endif

#if SW_WS_AVX512_ON
/* An empty asm on the loaded values keeps the load a separate instruction: GCC otherwise folds it into vexpandps
 * as its memory operand.  The memory forms of expand/compress are the slow ones on some cores (compress to memory
 * is microcoded on AMD Zen 4); the register form is a short shuffle everywhere.  Not timed here (no AVX-512 on the
 * development VMs); the AVX2 body keeps vpermps's load separate for a measured reason (kernels/sw_wsparse.c). */
#if defined(SW_AVX512_SHIM)
#define SW_WS_KEEP_IN_REG(v) ((void)0)
#else
#define SW_WS_KEEP_IN_REG(v) __asm__("" : "+v"(v))
#endif

/* 16 columns: the packed values at v expanded into the set lanes of k (zero elsewhere), times x, added to acc. */
static inline SW_WS_AVX512 __m512 s_bitmap16(unsigned k, const float *v, __m512 x, __m512 acc) {
  __m512 d = _mm512_loadu_ps(v);
  SW_WS_KEEP_IN_REG(d);
  return _mm512_fmadd_ps(_mm512_maskz_expand_ps((__mmask16)k, d), x, acc);
}

/* Columns [c0, cols) of one row (fewer than 64), 16 at a time; x is read under a mask, never past cols, and the
 * bitmap one byte at a time, never past the row's row_bytes. */
static inline SW_WS_AVX512 __m512 s_bitmap_tail(const uint8_t *b, const float *v, const float *x, int c0, int cols,
                                                __m512 acc) {
  for (; c0 < cols; c0 += 16) {
    const int      n = cols - c0 < 16 ? cols - c0 : 16;
    const unsigned k = b[c0 / 8] | (n > 8 ? (unsigned)b[c0 / 8 + 1] << 8 : 0u);
    acc = s_bitmap16(k, v, _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), x + c0), acc);
    v += __builtin_popcount(k);
  }
  return acc;
}

/* Per 64-bit word of the row's bitmap, four expansions whose value offsets are popcounts of the word's lower bits
 * (independent of each other, as in the AVX2 body).  A 16-wide value load reaches at most 16 floats past the last
 * non-zero: the format's padding (kernels/sw_wsparse_fmt.c). */
SW_WS_AVX512 void sw_spmv_bitmap_avx512(float *y, const sw_bitmap_t *w, const float *x) {
  const int words = w->cols / 64;
  for (int r = 0; r < w->rows; r++) {
    const uint8_t *b = w->bits + (size_t)r * w->row_bytes;
    const float   *v = w->val + w->row_off[r];
    __m512         a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int q = 0; q < words; q++) {
      uint64_t m;
      memcpy(&m, b + 8 * q, sizeof m);
      for (int u = 0; u < 4; u++) {
        const int off = (int)_mm_popcnt_u64(m & ((1ull << (16 * u)) - 1)); /* u = 0: no bits below */
        a[u] = s_bitmap16((unsigned)(m >> (16 * u)) & 0xffffu, v + off, _mm512_loadu_ps(x + 64 * q + 16 * u), a[u]);
      }
      v += _mm_popcnt_u64(m);
    }
    a[0] = s_bitmap_tail(b, v, x, 64 * words, w->cols, a[0]);
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])));
  }
}
#else
void sw_spmv_bitmap_avx512(float *y, const sw_bitmap_t *w, const float *x) { (void)y, (void)w, (void)x; }
#endif
