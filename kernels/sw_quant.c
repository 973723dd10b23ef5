/* sw_quant: quantised-weight dot products and GEMV/GEMM (see sw_quant.h).  Block layouts (little-endian, as
 * in the GGUF file, docs/models.md §2): Q8_0 {f16 d; i8 q[32]} value d*q; Q4_0 {f16 d; u8 q[16]} value
 * d*(nibble-8); Q4_1 {f16 d; f16 m; u8 q[16]} value d*nibble+m; low nibbles are elements 0..15, high nibbles
 * 16..31.  With a = d_a*qa: Q4_1 block dot = d*d_a*sum(nibble*qa) + m*s_a; Q4_0 = d*(d_a*sum(nibble*qa) - 8*s_a);
 * Q8_0 = d*d_a*sum(q*qa), s_a = d_a*sum(qa). */
#include "kernels/sw_quant.h"

#include <math.h>
#include <string.h>

#include "kernels/sw_pool.h"
#include "kernels/sw_qpack.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define Q8_0_BYTES 34
#define Q4_0_BYTES 18
#define Q4_1_BYTES 20

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

float sw_qf16_to_f32(uint16_t h) {
  /* exponent/mantissa moved to f32 position and rescaled by 2^112 (exact for normals and subnormals) */
  uint32_t mag = (uint32_t)(h & 0x7fff) << 13, sign = (uint32_t)(h & 0x8000) << 16;
  float f;
  if ((h & 0x7c00) == 0x7c00) {
    uint32_t bits = sign | 0x7f800000u | mag;
    memcpy(&f, &bits, sizeof f);
    return f;
  }
  memcpy(&f, &mag, sizeof f);
  f *= 0x1p112f;
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  bits |= sign;
  memcpy(&f, &bits, sizeof f);
  return f;
}

int sw_qtype_supported(uint32_t type) { return sw_qtype_block_bytes(type) != 0; }

size_t sw_qtype_block_bytes(uint32_t type) {
  switch (type) {
    case SW_QTYPE_Q8_0: return Q8_0_BYTES;
    case SW_QTYPE_Q4_0: return Q4_0_BYTES;
    case SW_QTYPE_Q4_1: return Q4_1_BYTES;
    default: return 0;
  }
}

sw_rc sw_qmat_view(sw_qmat_t *m, uint32_t type, int rows, int cols, const void *data, const char *what,
                   sw_err_t *err) {
  if (!sw_qtype_supported(type))
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "quant: %s has type id %u, no quantised kernel (q8_0, q4_0, q4_1)",
                      what ? what : "matrix", type);
  if (rows < 1 || cols < SW_QBLOCK || cols % SW_QBLOCK)
    return sw_err_set(err, SW_ERR_INVALID, "quant: %s is %d x %d, columns must be a positive multiple of 32",
                      what ? what : "matrix", rows, cols);
  m->type = type;
  m->rows = rows;
  m->cols = cols;
  m->row_bytes = (size_t)(cols / SW_QBLOCK) * sw_qtype_block_bytes(type);
  m->data = data;
  m->packed = NULL;
  return SW_OK;
}

#if defined(__x86_64__)
/* The same arithmetic as the portable loop, 8 lanes at a time (bit-identical): max |x| by max_ps, the products
 * x * (127 / amax) as single float multiplications, and roundf's half-away-from-zero from trunc plus 1 (with
 * x's sign) where |x - trunc(x)| >= 0.5. */
__attribute__((target("avx2,fma"))) static void q8a_quantize_avx2(sw_q8a_t *out, const float *x, int n) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), half = _mm256_set1_ps(0.5f);
  const __m256 one = _mm256_set1_ps(1.0f), lim = _mm256_set1_ps(127.0f);
  for (int b = 0; b < n / SW_QBLOCK; b++, x += SW_QBLOCK) {
    __m256 v[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k), m = _mm256_max_ps(_mm256_and_ps(v[k], absmask), m);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
    __m256i sum = _mm256_setzero_si256();
    for (int k = 0; k < 4; k++) {
      __m256 p = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
      __m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      __m256 up = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(p, t), absmask), half, _CMP_GE_OQ);
      __m256 r = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(one, _mm256_andnot_ps(absmask, p))));
      r = _mm256_max_ps(_mm256_min_ps(r, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
      __m256i q = _mm256_cvttps_epi32(r);
      sum = _mm256_add_epi32(sum, q);
      __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      _mm_storel_epi64((__m128i *)(out[b].qs + 8 * k), _mm_packs_epi16(q16, q16));
    }
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    out[b].d = d;
    out[b].s = d * (float)_mm_cvtsi128_si32(s4);
  }
}
#endif

void sw_q8a_quantize(sw_q8a_t *out, const float *x, int n) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    q8a_quantize_avx2(out, x, n);
    return;
  }
#endif
  for (int b = 0; b < n / SW_QBLOCK; b++, x += SW_QBLOCK) {
    float amax = 0;
    for (int j = 0; j < SW_QBLOCK; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < SW_QBLOCK; j++) {
      float v = roundf(x[j] * id);
      int q = v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v;
      out[b].qs[j] = (int8_t)q;
      sum += q;
    }
    out[b].d = d;
    out[b].s = d * (float)sum;
  }
}

/* ---- portable bodies ---- */

static float dot_q4_1_portable(const uint8_t *w, const sw_q8a_t *a, int nb) {
  float sum = 0;
  for (int b = 0; b < nb; b++, w += Q4_1_BYTES) {
    int si = 0;
    for (int j = 0; j < 16; j++) si += (w[4 + j] & 15) * a[b].qs[j] + (w[4 + j] >> 4) * a[b].qs[j + 16];
    sum += sw_qf16_to_f32(rd16(w)) * a[b].d * (float)si + sw_qf16_to_f32(rd16(w + 2)) * a[b].s;
  }
  return sum;
}

static float dot_q4_0_portable(const uint8_t *w, const sw_q8a_t *a, int nb) {
  float sum = 0;
  for (int b = 0; b < nb; b++, w += Q4_0_BYTES) {
    int si = 0;
    for (int j = 0; j < 16; j++) si += (w[2 + j] & 15) * a[b].qs[j] + (w[2 + j] >> 4) * a[b].qs[j + 16];
    sum += sw_qf16_to_f32(rd16(w)) * (a[b].d * (float)si - 8.0f * a[b].s);
  }
  return sum;
}

static float dot_q8_0_portable(const uint8_t *w, const sw_q8a_t *a, int nb) {
  float sum = 0;
  for (int b = 0; b < nb; b++, w += Q8_0_BYTES) {
    int si = 0;
    for (int j = 0; j < SW_QBLOCK; j++) si += (int8_t)w[2 + j] * a[b].qs[j];
    sum += sw_qf16_to_f32(rd16(w)) * a[b].d * (float)si;
  }
  return sum;
}

/* ---- AVX2 bodies (the AVX-512 variant runs these too; see sw_quant.h) ---- */
#if defined(__x86_64__)
#define SW_Q_AVX2 __attribute__((target("avx2,fma,f16c")))

SW_Q_AVX2 static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

SW_Q_AVX2 static inline float f16c(const uint8_t *p) { return _cvtsh_ss(rd16(p)); }

/* 16 bytes of nibbles -> 32 unsigned bytes (low nibbles first, then high), times 32 signed bytes, as 8 f32
 * partial sums of the integer dot. */
/* 16 bytes of nibbles -> 32 unsigned bytes (low nibbles first, then high), times the 32 signed activation
 * bytes x, as 8 f32 partial sums of the integer dot. */
SW_Q_AVX2 static inline __m256 nibble_dot_x(const uint8_t *q, __m256i x) {
  __m128i raw = _mm_loadu_si128((const __m128i *)q);
  __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(15));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1)));
}

/* Four rows (anywhere: strided or gathered) against one activation vector: four independent accumulator chains share each
 * activation block load (the single-row loop is bound by the FMA latency of its one chain). */
SW_Q_AVX2 static void dot4_q4_1_avx2(const uint8_t *const *rows, const sw_q8a_t *a, int nb, float *out) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
  const uint8_t *w0 = rows[0], *w1 = rows[1], *w2 = rows[2], *w3 = rows[3];
  for (int b = 0; b < nb; b++, w0 += Q4_1_BYTES, w1 += Q4_1_BYTES, w2 += Q4_1_BYTES, w3 += Q4_1_BYTES) {
    __m256i x = _mm256_loadu_si256((const __m256i *)a[b].qs);
    float da = a[b].d, sa = a[b].s;
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w0) * da), nibble_dot_x(w0 + 4, x), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w1) * da), nibble_dot_x(w1 + 4, x), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w2) * da), nibble_dot_x(w2 + 4, x), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w3) * da), nibble_dot_x(w3 + 4, x), acc3);
    o0 += f16c(w0 + 2) * sa, o1 += f16c(w1 + 2) * sa, o2 += f16c(w2 + 2) * sa, o3 += f16c(w3 + 2) * sa;
  }
  out[0] = hsum8(acc0) + o0, out[1] = hsum8(acc1) + o1, out[2] = hsum8(acc2) + o2, out[3] = hsum8(acc3) + o3;
}

/* Eight gathered Q4 rows (Q4_1, or Q4_0 with its zero point -8 d) at once, transposed on the fly into the
 * lane-per-row form of kernels/sw_qpack.h: each row's 16 nibble bytes are 4 dwords; a 4x4 dword transpose
 * per 128-bit lane (rows r and r+4 share a load) gives vector p with lane r = dword p of row r, i.e. elements
 * 4p..4p+3 in the low nibbles and 16+4p..16+4p+3 in the high ones, each multiplied by 4 activation bytes
 * broadcast to every lane; the int16 sums stay below 8 * 2 * 15 * 127 (sw_qpack.c).  The 8 rows' {d, m}
 * words come in one dword gather and one byte shuffle.  Offsets of the rows from rows[0] fit in int32
 * (one matrix). */
SW_Q_AVX2 static inline __m256i bcast4_x(const int8_t *x) {
  int32_t v;
  memcpy(&v, x, 4);
  return _mm256_set1_epi32(v);
}

SW_Q_AVX2 static inline __m256 q4_gather_sums(const uint8_t *const *rows, size_t o, const int8_t *x) {
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256i r04 = _mm256_loadu2_m128i((const __m128i *)(rows[4] + o), (const __m128i *)(rows[0] + o));
  __m256i r15 = _mm256_loadu2_m128i((const __m128i *)(rows[5] + o), (const __m128i *)(rows[1] + o));
  __m256i r26 = _mm256_loadu2_m128i((const __m128i *)(rows[6] + o), (const __m128i *)(rows[2] + o));
  __m256i r37 = _mm256_loadu2_m128i((const __m128i *)(rows[7] + o), (const __m128i *)(rows[3] + o));
  __m256i t0 = _mm256_unpacklo_epi32(r04, r15), t1 = _mm256_unpackhi_epi32(r04, r15);
  __m256i t2 = _mm256_unpacklo_epi32(r26, r37), t3 = _mm256_unpackhi_epi32(r26, r37);
  __m256i v[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2), _mm256_unpacklo_epi64(t1, t3),
                  _mm256_unpackhi_epi64(t1, t3)};
  __m256i s16 = _mm256_setzero_si256();
  for (int p = 0; p < 4; p++) {
    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_and_si256(v[p], m4), bcast4_x(x + 4 * p)));
    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v[p], 4), m4),
                                                     bcast4_x(x + 16 + 4 * p)));
  }
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
}

SW_Q_AVX2 static inline void dot8_q4_avx2(int q4_1, const uint8_t *const *rows, const sw_q8a_t *a, int nb,
                                          float *out) {
  size_t bb = q4_1 ? Q4_1_BYTES : Q4_0_BYTES, qoff = q4_1 ? 4 : 2;
  __m256i offs = _mm256_setr_epi32(0, (int)(rows[1] - rows[0]), (int)(rows[2] - rows[0]), (int)(rows[3] - rows[0]),
                                   (int)(rows[4] - rows[0]), (int)(rows[5] - rows[0]), (int)(rows[6] - rows[0]),
                                   (int)(rows[7] - rows[0]));
  /* per 128-bit lane: the d words of its 4 dwords to bytes 0..7, the m words to bytes 8..15 */
  const __m256i split = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12,
                                         13, 2, 3, 6, 7, 10, 11, 14, 15);
  __m256 acc = _mm256_setzero_ps(), accm = acc;
  for (int b = 0; b < nb; b++) {
    size_t o = (size_t)b * bb;
    __m256 sums = q4_gather_sums(rows, o + qoff, a[b].qs);
    __m256i dm = _mm256_i32gather_epi32((const int *)(const void *)(rows[0] + o), offs, 1);
    dm = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(dm, split), 0xD8); /* d0..d7 | m0..m7 */
    __m256 d = _mm256_cvtph_ps(_mm256_castsi256_si128(dm));
    __m256 m = q4_1 ? _mm256_cvtph_ps(_mm256_extracti128_si256(dm, 1)) : _mm256_mul_ps(d, _mm256_set1_ps(-8.0f));
    acc = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(a[b].d)), sums, acc);
    accm = _mm256_fmadd_ps(m, _mm256_set1_ps(a[b].s), accm);
  }
  _mm256_storeu_ps(out, _mm256_add_ps(acc, accm));
}

SW_Q_AVX2 static void dot8_q4_1_avx2(const uint8_t *const *rows, const sw_q8a_t *a, int nb, float *out) {
  dot8_q4_avx2(1, rows, a, nb, out);
}

SW_Q_AVX2 static void dot8_q4_0_avx2(const uint8_t *const *rows, const sw_q8a_t *a, int nb, float *out) {
  dot8_q4_avx2(0, rows, a, nb, out);
}

/* |q| (unsigned) times x with q's sign: the signed product through the unsigned x signed maddubs. */
SW_Q_AVX2 static inline __m256 q8_dot_x(const uint8_t *q8, __m256i x) {
  __m256i q = _mm256_loadu_si256((const __m256i *)q8);
  __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

SW_Q_AVX2 static void dot4_q8_0_avx2(const uint8_t *const *rows, const sw_q8a_t *a, int nb, float *out) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  const uint8_t *w0 = rows[0], *w1 = rows[1], *w2 = rows[2], *w3 = rows[3];
  for (int b = 0; b < nb; b++, w0 += Q8_0_BYTES, w1 += Q8_0_BYTES, w2 += Q8_0_BYTES, w3 += Q8_0_BYTES) {
    __m256i x = _mm256_loadu_si256((const __m256i *)a[b].qs);
    float da = a[b].d;
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w0) * da), q8_dot_x(w0 + 2, x), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w1) * da), q8_dot_x(w1 + 2, x), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w2) * da), q8_dot_x(w2 + 2, x), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w3) * da), q8_dot_x(w3 + 2, x), acc3);
  }
  out[0] = hsum8(acc0), out[1] = hsum8(acc1), out[2] = hsum8(acc2), out[3] = hsum8(acc3);
}

SW_Q_AVX2 static float dot_q4_1_avx2(const uint8_t *w, const sw_q8a_t *a, int nb) {
  __m256 acc = _mm256_setzero_ps();
  float offs = 0;
  for (int b = 0; b < nb; b++, w += Q4_1_BYTES) {
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w) * a[b].d), nibble_dot_x(w + 4, _mm256_loadu_si256((const __m256i *)a[b].qs)), acc);
    offs += f16c(w + 2) * a[b].s;
  }
  return hsum8(acc) + offs;
}

SW_Q_AVX2 static float dot_q4_0_avx2(const uint8_t *w, const sw_q8a_t *a, int nb) {
  __m256 acc = _mm256_setzero_ps();
  float offs = 0;
  for (int b = 0; b < nb; b++, w += Q4_0_BYTES) {
    float dw = f16c(w);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * a[b].d), nibble_dot_x(w + 2, _mm256_loadu_si256((const __m256i *)a[b].qs)), acc);
    offs -= 8.0f * dw * a[b].s;
  }
  return hsum8(acc) + offs;
}

SW_Q_AVX2 static float dot_q8_0_avx2(const uint8_t *w, const sw_q8a_t *a, int nb) {
  __m256 acc = _mm256_setzero_ps();
  for (int b = 0; b < nb; b++, w += Q8_0_BYTES) {
    __m256 p = q8_dot_x(w + 2, _mm256_loadu_si256((const __m256i *)a[b].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16c(w) * a[b].d), p, acc);
  }
  return hsum8(acc);
}
#endif

typedef float (*qdot_fn)(const uint8_t *w, const sw_q8a_t *a, int nb);
typedef void (*qdot4_fn)(const uint8_t *const *rows, const sw_q8a_t *a, int nb, float *out);

/* The eight-row gathered kernel of a type (NULL: none). */
static qdot4_fn qdot8_pick(sw_isa_t isa, uint32_t type) {
#if defined(__x86_64__)
  if (isa >= SW_ISA_AVX2 && type == SW_QTYPE_Q4_1) return dot8_q4_1_avx2;
  if (isa >= SW_ISA_AVX2 && type == SW_QTYPE_Q4_0) return dot8_q4_0_avx2;
#else
  (void)isa, (void)type;
#endif
  return NULL;
}

/* The four-row kernel of a type (NULL: rows go one by one). */
static qdot4_fn qdot4_pick(sw_isa_t isa, uint32_t type) {
#if defined(__x86_64__)
  if (isa >= SW_ISA_AVX2 && type == SW_QTYPE_Q4_1) return dot4_q4_1_avx2;
  if (isa >= SW_ISA_AVX2 && type == SW_QTYPE_Q8_0) return dot4_q8_0_avx2;
#else
  (void)isa, (void)type;
#endif
  return NULL;
}

static qdot_fn qdot_pick(sw_isa_t isa, uint32_t type) {
#if defined(__x86_64__)
  if (isa >= SW_ISA_AVX2) {
    switch (type) {
      case SW_QTYPE_Q4_1: return dot_q4_1_avx2;
      case SW_QTYPE_Q4_0: return dot_q4_0_avx2;
      case SW_QTYPE_Q8_0: return dot_q8_0_avx2;
      default: return NULL;
    }
  }
#else
  (void)isa;
#endif
  switch (type) {
    case SW_QTYPE_Q4_1: return dot_q4_1_portable;
    case SW_QTYPE_Q4_0: return dot_q4_0_portable;
    case SW_QTYPE_Q8_0: return dot_q8_0_portable;
    default: return NULL;
  }
}

float sw_qdot(sw_isa_t isa, uint32_t type, const void *row, const sw_q8a_t *a, int nb) {
  qdot_fn f = qdot_pick(isa, type);
  return f ? f((const uint8_t *)row, a, nb) : NAN;
}

double sw_q8a_error_bound(uint32_t type, const void *row, const sw_q8a_t *a, int nb) {
  const uint8_t *w = row;
  size_t bb = sw_qtype_block_bytes(type);
  double bound = 0;
  for (int b = 0; b < nb; b++, w += bb) {
    double d = sw_qf16_to_f32(rd16(w)), m = type == SW_QTYPE_Q4_1 ? sw_qf16_to_f32(rd16(w + 2)) : 0, sabs = 0;
    for (int j = 0; j < SW_QBLOCK; j++) {
      double v;
      if (type == SW_QTYPE_Q8_0) v = d * (int8_t)w[2 + j];
      else {
        const uint8_t *q = w + (type == SW_QTYPE_Q4_1 ? 4 : 2);
        int nib = j < 16 ? q[j] & 15 : q[j - 16] >> 4;
        v = type == SW_QTYPE_Q4_1 ? d * nib + m : d * (nib - 8);
      }
      sabs += fabs(v);
    }
    bound += sabs * a[b].d * 0.5;
  }
  return bound;
}

/* ---- GEMV / GEMM over rows, split across the pool ---- */

#define QGEMM_ROW_TILE 16

typedef struct qgemm_job {
  qdot_fn          dot;
  qdot4_fn         dot4;
  float           *y;
  const sw_q8a_t  *xq;
  const sw_qmat_t *W;
  int              n_tok, accumulate;
} qgemm_job_t;

static void qgemm_rows(const qgemm_job_t *j, int r0, int r1) {
  int nb = j->W->cols / SW_QBLOCK;
  for (int t0 = r0; t0 < r1; t0 += QGEMM_ROW_TILE) {
    int t1 = t0 + QGEMM_ROW_TILE < r1 ? t0 + QGEMM_ROW_TILE : r1;
    for (int t = 0; t < j->n_tok; t++) { /* a tile of rows stays in L1 while every token passes over it */
      const sw_q8a_t *a = j->xq + (size_t)t * nb;
      float *y = j->y + (size_t)t * j->W->rows;
      int r = t0;
      for (float v4[4]; j->dot4 && r + 4 <= t1; r += 4) {
        const uint8_t *w0 = j->W->data + (size_t)r * j->W->row_bytes, *rows[4];
        for (int k = 0; k < 4; k++) rows[k] = w0 + (size_t)k * j->W->row_bytes;
        j->dot4(rows, a, nb, v4);
        for (int k = 0; k < 4; k++) y[r + k] = j->accumulate ? y[r + k] + v4[k] : v4[k];
      }
      for (; r < t1; r++) {
        float v = j->dot(j->W->data + (size_t)r * j->W->row_bytes, a, nb);
        y[r] = j->accumulate ? y[r] + v : v;
      }
    }
  }
}

static void qgemm_thread(void *arg, int tid, int n_threads) {
  const qgemm_job_t *j = arg;
  int rows = j->W->rows, per = (rows + n_threads - 1) / n_threads;
  per = (per + 7) / 8 * 8; /* whole cache lines of y per thread */
  int r0 = tid * per, r1 = r0 + per < rows ? r0 + per : rows;
  if (r0 < r1) qgemm_rows(j, r0, r1);
}

void sw_qgemm(const sw_qctx_t *ctx, float *y, const sw_q8a_t *xq, const sw_qmat_t *W, int n_tok, int accumulate) {
  qgemm_job_t j = {qdot_pick(ctx->isa, W->type), qdot4_pick(ctx->isa, W->type), y, xq, W, n_tok, accumulate};
  if (!j.dot) return;
  if (W->packed) {
    sw_qpack_gemm(ctx, y, xq, W->packed, n_tok, accumulate);
    return;
  }
  if (ctx->pool) sw_pool_run(ctx->pool, qgemm_thread, &j);
  else qgemm_rows(&j, 0, W->rows);
}

/* ---- gathered rows (sparse FFN on native weights) ---- */

/* Asks for rows idx[0..n) (row_bytes each, from `base` plus `off`, `len` bytes) to be brought into the cache:
 * the hardware prefetcher cannot guess the next selected row, so the kernels prefetch one group ahead. */
static void prefetch_rows(const uint8_t *base, size_t row_bytes, const int32_t *idx, int n, size_t off, size_t len) {
  for (int k = 0; k < n; k++)
    for (size_t o = 0; o < len; o += 64) __builtin_prefetch(base + (size_t)idx[k] * row_bytes + off + o, 0, 3);
}

void sw_qdot_rows(sw_isa_t isa, const sw_qmat_t *W, const int32_t *idx, int n, const sw_q8a_t *a, float *out) {
  qdot_fn dot = qdot_pick(isa, W->type);
  qdot4_fn dot4 = qdot4_pick(isa, W->type), dot8 = qdot8_pick(isa, W->type);
  int nb = W->cols / SW_QBLOCK, k = 0;
  if (!dot) return;
  for (const uint8_t *rows[8]; dot8 && k + 8 <= n; k += 8) {
    prefetch_rows(W->data, W->row_bytes, idx + k + 8, n - k - 8 < 8 ? n - k - 8 : 8, 0, W->row_bytes);
    for (int q = 0; q < 8; q++) rows[q] = W->data + (size_t)idx[k + q] * W->row_bytes;
    dot8(rows, a, nb, out + k);
  }
  for (const uint8_t *rows[4]; dot4 && k + 4 <= n; k += 4) {
    for (int q = 0; q < 4; q++) rows[q] = W->data + (size_t)idx[k + q] * W->row_bytes;
    dot4(rows, a, nb, out + k);
  }
  for (; k < n; k++) out[k] = dot(W->data + (size_t)idx[k] * W->row_bytes, a, nb);
}

static void axpy_q8_0_portable(float *y, const uint8_t *row, float coef, int nb) {
  for (int b = 0; b < nb; b++, row += Q8_0_BYTES, y += SW_QBLOCK) {
    float s = coef * sw_qf16_to_f32(rd16(row));
    for (int j = 0; j < SW_QBLOCK; j++) y[j] += s * (float)(int8_t)row[2 + j];
  }
}

#if defined(__x86_64__)
SW_Q_AVX2 static void axpy_q8_0_avx2(float *y, const uint8_t *row, float coef, int nb) {
  for (int b = 0; b < nb; b++, row += Q8_0_BYTES, y += SW_QBLOCK) {
    __m256 s = _mm256_set1_ps(coef * f16c(row));
    for (int q = 0; q < 4; q++) {
      __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(row + 2 + 8 * q))));
      _mm256_storeu_ps(y + 8 * q, _mm256_fmadd_ps(s, v, _mm256_loadu_ps(y + 8 * q)));
    }
  }
}
#endif

#if defined(__x86_64__)
/* Four rows at once: y is loaded and stored once per block for four rows' contributions. */
SW_Q_AVX2 static void axpy4_q8_0_avx2(float *y, const uint8_t *const *rows, const float *coef, int nb) {
  for (int b = 0; b < nb; b++, y += SW_QBLOCK) {
    size_t o = (size_t)b * Q8_0_BYTES;
    __m256 s[4];
    for (int r = 0; r < 4; r++) s[r] = _mm256_set1_ps(coef[r] * f16c(rows[r] + o));
    for (int q = 0; q < 4; q++) {
      __m256 acc = _mm256_loadu_ps(y + 8 * q);
      for (int r = 0; r < 4; r++) {
        __m128i raw = _mm_loadl_epi64((const __m128i *)(rows[r] + o + 2 + 8 * q));
        acc = _mm256_fmadd_ps(s[r], _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw)), acc);
      }
      _mm256_storeu_ps(y + 8 * q, acc);
    }
  }
}
#endif

/* Blocks [b0, b1) of y += sum_k coef[k] * deq(row idx[k]) for a Q8_0 W. */
static void q8_axpy_span(sw_isa_t isa, float *y, const sw_qmat_t *W, const int32_t *idx, const float *coef, int n,
                         int b0, int b1) {
  void (*axpy)(float *, const uint8_t *, float, int) = axpy_q8_0_portable;
  size_t off = (size_t)b0 * Q8_0_BYTES;
  int k = 0;
  y += (size_t)b0 * SW_QBLOCK;
#if defined(__x86_64__)
  if (isa >= SW_ISA_AVX2) {
    axpy = axpy_q8_0_avx2;
    for (const uint8_t *rows[4]; k + 4 <= n; k += 4) {
      prefetch_rows(W->data, W->row_bytes, idx + k + 4, n - k - 4 < 4 ? n - k - 4 : 4, off,
                    (size_t)(b1 - b0) * Q8_0_BYTES);
      for (int r = 0; r < 4; r++) rows[r] = W->data + (size_t)idx[k + r] * W->row_bytes + off;
      axpy4_q8_0_avx2(y, rows, coef + k, b1 - b0);
    }
  }
#else
  (void)isa;
#endif
  for (; k < n; k++) axpy(y, W->data + (size_t)idx[k] * W->row_bytes + off, coef[k], b1 - b0);
}

void sw_q8_axpy_rows(sw_isa_t isa, float *y, const sw_qmat_t *W, const int32_t *idx, const float *coef, int n) {
  if (W->type == SW_QTYPE_Q8_0) q8_axpy_span(isa, y, W, idx, coef, n, 0, W->cols / SW_QBLOCK);
}

/* ---- gathered rows split across the pool ---- */

typedef struct qrows_job {
  sw_isa_t         isa;
  const sw_qmat_t *W;
  const int32_t   *idx;
  int              n;
  const sw_q8a_t  *a;   /* dots: the activation blocks */
  const float     *coef; /* axpy: the coefficients */
  float           *out;
} qrows_job_t;

/* Dots: thread tid takes a contiguous share of the selected rows (multiples of eight, so the rows go through the
 * same eight- and four-row kernels as on one thread). */
static void qrows_dot_thread(void *arg, int tid, int n_threads) {
  const qrows_job_t *j = arg;
  int per = ((j->n + n_threads - 1) / n_threads + 7) / 8 * 8, k0 = tid * per, k1 = k0 + per < j->n ? k0 + per : j->n;
  if (k0 < k1) sw_qdot_rows(j->isa, j->W, j->idx + k0, k1 - k0, j->a, j->out + k0);
}

/* Axpy: thread tid takes a contiguous share of the output blocks (every selected row, no reduction). */
static void qrows_axpy_thread(void *arg, int tid, int n_threads) {
  const qrows_job_t *j = arg;
  int nb = j->W->cols / SW_QBLOCK, b0 = tid * nb / n_threads, b1 = (tid + 1) * nb / n_threads;
  if (b0 < b1) q8_axpy_span(j->isa, j->out, j->W, j->idx, j->coef, j->n, b0, b1);
}

void sw_qdot_rows_ctx(const sw_qctx_t *ctx, const sw_qmat_t *W, const int32_t *idx, int n, const sw_q8a_t *a,
                      float *out) {
  qrows_job_t j = {ctx->isa, W, idx, n, a, NULL, out};
  if (ctx->pool && n >= 16) sw_pool_run(ctx->pool, qrows_dot_thread, &j);
  else sw_qdot_rows(ctx->isa, W, idx, n, a, out);
}

void sw_q8_axpy_rows_ctx(const sw_qctx_t *ctx, float *y, const sw_qmat_t *W, const int32_t *idx, const float *coef,
                         int n) {
  qrows_job_t j = {ctx->isa, W, idx, n, NULL, coef, y};
  if (W->type != SW_QTYPE_Q8_0) return;
  if (ctx->pool && n >= 16) sw_pool_run(ctx->pool, qrows_axpy_thread, &j);
  else sw_q8_axpy_rows(ctx->isa, y, W, idx, coef, n);
}

uint16_t sw_qf32_to_f16(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  uint16_t sign = (uint16_t)((b >> 16) & 0x8000);
  float a = fabsf(x);
  if (!(a < 65520.0f)) return (uint16_t)(sign | (a != a ? 0x7e00 : 0x7c00)); /* overflow to inf; NaN */
  if (a < 0x1p-14f) return (uint16_t)(sign | (uint16_t)lrintf(a * 0x1p24f)); /* subnormal (or zero) */
  int e;
  float m = frexpf(a, &e);                        /* a = m * 2^e, m in [0.5, 1) */
  long q = lrintf(m * 2048.0f);                   /* 11 significant bits, round to nearest even */
  if (q == 2048) q = 1024, e++;
  return (uint16_t)(sign | (uint16_t)((e + 14) << 10) | (uint16_t)(q - 1024));
}

void sw_q8_0_quantize_row(uint8_t *dst, const float *x, int n) {
  for (int b = 0; b < n / SW_QBLOCK; b++, x += SW_QBLOCK, dst += Q8_0_BYTES) {
    float amax = 0;
    for (int j = 0; j < SW_QBLOCK; j++) amax = fmaxf(amax, fabsf(x[j]));
    uint16_t dh = sw_qf32_to_f16(amax / 127.0f);
    float d = sw_qf16_to_f32(dh), id = d > 0 ? 1.0f / d : 0.0f;
    dst[0] = (uint8_t)(dh & 0xff), dst[1] = (uint8_t)(dh >> 8);
    for (int j = 0; j < SW_QBLOCK; j++) {
      float v = roundf(x[j] * id);
      dst[2 + j] = (uint8_t)(int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
    }
  }
}
