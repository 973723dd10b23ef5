/* sw_wsparse_avx512: bitmap SpMV with AVX-512 (kernels/sw_wsparse_avx512.h).  AVX2 has no expand instruction, so
 * its bitmap body (kernels/sw_wsparse.c) expands each byte's packed values with a table lookup, a vpermps and a
 * blend per 8 columns.  With AVX-512 a 16-column step is a value load, one placement of the packed values into the
 * lanes of the mask's set bits, and an FMA.  Two placements, the same row loop:
 *   permute  lane i takes packed value popcount(k & (2^i - 1)): a broadcast of the mask, an AND, vpopcntd and a
 *            zero-masked vpermps (needs AVX512_VPOPCNTDQ: Ice Lake and later, Zen 4 and later);
 *   expand   one vexpandps (AVX-512F: every AVX-512 CPU, Skylake-X and Cascade Lake included).
 * The expand is the shorter sequence, but on AMD Zen 5 it issued one per ~6.4 cycles (a 24-row slice of a
 * 4096-column matrix in L2, ws 0.7, 4 GHz: 1.6 ns per 16-column step for vexpandps or vcompressps, zmm or ymm,
 * register or memory source; 0.65 ns for the permute; 0.50 ns for the same loop with no placement at all), so the
 * permute is what runs wherever the CPU has vpopcntd (kernels/sw_wsparse.c, sw_spmv_bitmap).  Not measured on
 * Intel.  Per-function target attributes: the binary still runs on CPUs without AVX-512 (these functions are only
 * called when sw_isa_supported(SW_ISA_AVX512), the permute only when sw_bitmap_avx512_permute_supported()).  Empty
 * off x86-64 unless built with SW_AVX512_SHIM (the plain-C intrinsics of tests/shim/sw_avx512_shim.h). */
#include "kernels/sw_wsparse_avx512.h"

#include <string.h>

#if defined(SW_AVX512_SHIM) /* the intrinsics are defined by the including file, tests/shim/sw_wsparse_avx512_shim.c */
#define SW_WS_AVX512
#define SW_WS_AVX512_PERM
#define SW_WS_AVX512_ON 1
#elif defined(__x86_64__)
#include <immintrin.h>
#define SW_WS_AVX512      __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,popcnt")))
#define SW_WS_AVX512_PERM __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,popcnt,avx512vpopcntdq")))
#define SW_WS_AVX512_ON   1
#else
#define SW_WS_AVX512_ON 0
#endif

#if SW_WS_AVX512_ON
/* An empty asm on the loaded values keeps the load a separate instruction: GCC otherwise folds it into vexpandps
 * as its memory operand (which ran no faster on Zen 5, and the memory forms of expand/compress are the slow ones
 * on some cores: compress to memory is microcoded on Zen 4). */
#if defined(SW_AVX512_SHIM)
#define SW_WS_KEEP_IN_REG(v) ((void)0)
#else
#define SW_WS_KEEP_IN_REG(v) __asm__("" : "+v"(v))
#endif

/* One 16-column step: the packed values at v placed into the set lanes of k = bits 16u..16u+15 of m (zero
 * elsewhere), times x, added to acc.  A 16-wide value load reaches at most 16 floats past the row's last non-zero:
 * the format's padding (kernels/sw_wsparse_fmt.c). */
typedef __m512 (*s_step16_fn)(uint64_t m, int u, const float *v, __m512 x, __m512 acc);

static inline SW_WS_AVX512 __m512 s_step16_expand(uint64_t m, int u, const float *v, __m512 x, __m512 acc) {
  __m512 d = _mm512_loadu_ps(v);
  SW_WS_KEEP_IN_REG(d);
  return _mm512_fmadd_ps(_mm512_maskz_expand_ps((__mmask16)(m >> (16 * u)), d), x, acc);
}

/* The permutation index of lane i is the number of k's set bits below bit i.  It is taken from the 32-bit half of
 * m holding k, broadcast and ANDed with the bits below bit 16(u mod 2) + i: once the four steps of a word are
 * inlined, steps 0 and 1 (and 2 and 3) share their broadcast (7 % faster in L2 than a broadcast per step). */
static inline SW_WS_AVX512_PERM __m512 s_step16_permute(uint64_t m, int u, const float *v, __m512 x, __m512 acc) {
  const __m512i below = _mm512_setr_epi32(0x0, 0x1, 0x3, 0x7, 0xf, 0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff,
                                          0xfff, 0x1fff, 0x3fff, 0x7fff); /* lane i: the bits below bit i */
  const __m512i half = _mm512_set1_epi32((int)(uint32_t)(m >> (32 * (u / 2))));
  const __m512i idx = _mm512_popcnt_epi32(_mm512_and_si512(half, u % 2 ? _mm512_slli_epi32(below, 16) : below));
  return _mm512_fmadd_ps(_mm512_maskz_permutexvar_ps((__mmask16)(m >> (16 * u)), idx, _mm512_loadu_ps(v)), x, acc);
}

/* Columns [c0, cols) of one row (fewer than 64), 16 at a time; x is read under a mask, never past cols, and the
 * bitmap one byte at a time, never past the row's row_bytes. */
static inline __attribute__((always_inline)) SW_WS_AVX512 __m512
s_bitmap_tail(const uint8_t *b, const float *v, const float *x, int c0, int cols, __m512 acc, s_step16_fn step) {
  for (; c0 < cols; c0 += 16) {
    const int      n = cols - c0 < 16 ? cols - c0 : 16;
    const unsigned k = b[c0 / 8] | (n > 8 ? (unsigned)b[c0 / 8 + 1] << 8 : 0u);
    acc = step(k, 0, v, _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), x + c0), acc);
    v += __builtin_popcount(k);
  }
  return acc;
}

/* The row loop of both bodies: per 64-bit word of the row's bitmap, four steps whose value offsets are popcounts
 * of the word's lower bits (independent of each other, as in the AVX2 body), one accumulator each, and a
 * prefetch of the values pf non-zeros ahead (kernels/sw_wsparse.h, prefetch_nnz).  Always
 * inlined with a constant step, so each body is one loop with its step inlined (an indirect call only at -O0). */
static inline __attribute__((always_inline)) SW_WS_AVX512 void
s_bitmap_rows(float *y, const sw_bitmap_t *w, const float *x, size_t pf, s_step16_fn step) {
  const int words = w->cols / 64;
  for (int r = 0; r < w->rows; r++) {
    const uint8_t *b = w->bits + (size_t)r * w->row_bytes;
    const float   *v = w->val + w->row_off[r];
    __m512         a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int q = 0; q < words; q++) {
      uint64_t m;
      memcpy(&m, b + 8 * q, sizeof m);
      _mm_prefetch((const char *)(v + pf), _MM_HINT_T0);
      for (int u = 0; u < 4; u++) {
        const int off = (int)_mm_popcnt_u64(m & ((1ull << (16 * u)) - 1)); /* u = 0: no bits below */
        a[u] = step(m, u, v + off, _mm512_loadu_ps(x + 64 * q + 16 * u), a[u]);
      }
      v += _mm_popcnt_u64(m);
    }
    a[0] = s_bitmap_tail(b, v, x, 64 * words, w->cols, a[0], step);
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])));
  }
}

SW_WS_AVX512 void sw_spmv_bitmap_avx512(float *y, const sw_bitmap_t *w, const float *x, size_t pf) {
  s_bitmap_rows(y, w, x, pf, s_step16_expand);
}

SW_WS_AVX512_PERM void sw_spmv_bitmap_avx512_permute(float *y, const sw_bitmap_t *w, const float *x, size_t pf) {
  s_bitmap_rows(y, w, x, pf, s_step16_permute);
}

bool sw_bitmap_avx512_permute_supported(void) {
#if defined(SW_AVX512_SHIM)
  return true;
#else
  __builtin_cpu_init();
  return sw_isa_supported(SW_ISA_AVX512) && __builtin_cpu_supports("avx512vpopcntdq");
#endif
}
#else
void sw_spmv_bitmap_avx512(float *y, const sw_bitmap_t *w, const float *x, size_t pf) {
  (void)y, (void)w, (void)x, (void)pf;
}
void sw_spmv_bitmap_avx512_permute(float *y, const sw_bitmap_t *w, const float *x, size_t pf) {
  (void)y, (void)w, (void)x, (void)pf;
}
bool sw_bitmap_avx512_permute_supported(void) { return false; }
#endif
