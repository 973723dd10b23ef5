/* sw_gemv_sparse: gathered-row primitives (AVX-512 with masked tails, scalar fallback) and the input-sparse
 * GEMV built on them.  Four rows are processed per pass with explicit loads of contiguous rows (the literal
 * one-row loop is auto-vectorised into slow gather instructions on this CPU; machine.md "Traps"). */
#include "kernels/sw_gemv_sparse.h"

#include <math.h>
#include <string.h>

#include "kernels/sw_gather.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define SW_HAVE_AVX512 1
#else
#define SW_HAVE_AVX512 0
#endif

#define SW_PF(p) __builtin_prefetch((const void *)(p), 0, 2)

#if SW_HAVE_AVX512
static inline __m512 sw_ld_f32(const void *row, int j) { return _mm512_loadu_ps((const float *)row + j); }
static inline __m512 sw_ld_f32_tail(const void *row, int j, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, (const float *)row + j);
}
static inline __m512 sw_ld_bf16(const void *row, int j) {
  __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + j));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline __m512 sw_ld_bf16_tail(const void *row, int j, __mmask16 m) {
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + j);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
#define SW_LD(bf, row, j) ((bf) ? sw_ld_bf16((row), (j)) : sw_ld_f32((row), (j)))
#define SW_LDT(bf, row, j, m) ((bf) ? sw_ld_bf16_tail((row), (j), (m)) : sw_ld_f32_tail((row), (j), (m)))
/* byte address of element j, for prefetching */
#define SW_AT(bf, row, j) ((const char *)(row) + (size_t)(j) * ((bf) ? 2u : 4u))

static inline __attribute__((always_inline)) void sw_dot4_body(float r[4], const void *const rows[4],
                                                               const void *const pf[4], int bf, const float *x,
                                                               int d) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int    j = 0;
  for (; j + 16 <= d; j += 16) {
    if (!bf || (j & 16) == 0) {
      SW_PF(SW_AT(bf, pf[0], j));
      SW_PF(SW_AT(bf, pf[1], j));
      SW_PF(SW_AT(bf, pf[2], j));
      SW_PF(SW_AT(bf, pf[3], j));
    }
    __m512 xv = _mm512_loadu_ps(x + j);
    a0 = _mm512_fmadd_ps(SW_LD(bf, rows[0], j), xv, a0);
    a1 = _mm512_fmadd_ps(SW_LD(bf, rows[1], j), xv, a1);
    a2 = _mm512_fmadd_ps(SW_LD(bf, rows[2], j), xv, a2);
    a3 = _mm512_fmadd_ps(SW_LD(bf, rows[3], j), xv, a3);
  }
  if (j < d) {
    __mmask16 m = (__mmask16)((1u << (d - j)) - 1u);
    __m512    xv = _mm512_maskz_loadu_ps(m, x + j);
    a0 = _mm512_fmadd_ps(SW_LDT(bf, rows[0], j, m), xv, a0);
    a1 = _mm512_fmadd_ps(SW_LDT(bf, rows[1], j, m), xv, a1);
    a2 = _mm512_fmadd_ps(SW_LDT(bf, rows[2], j, m), xv, a2);
    a3 = _mm512_fmadd_ps(SW_LDT(bf, rows[3], j, m), xv, a3);
  }
  r[0] = _mm512_reduce_add_ps(a0);
  r[1] = _mm512_reduce_add_ps(a1);
  r[2] = _mm512_reduce_add_ps(a2);
  r[3] = _mm512_reduce_add_ps(a3);
}

static inline __attribute__((always_inline)) void sw_dot4x2_body(float ra[4], float rb[4], const void *const a[4],
                                                                 const void *const b[4], const void *const pfa[4],
                                                                 const void *const pfb[4], int bf, const float *x,
                                                                 int d) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  int    j = 0;
  for (; j + 16 <= d; j += 16) {
    if (!bf || (j & 16) == 0) {
      for (int k = 0; k < 4; k++) {
        SW_PF(SW_AT(bf, pfa[k], j));
        SW_PF(SW_AT(bf, pfb[k], j));
      }
    }
    __m512 xv = _mm512_loadu_ps(x + j);
    a0 = _mm512_fmadd_ps(SW_LD(bf, a[0], j), xv, a0);
    b0 = _mm512_fmadd_ps(SW_LD(bf, b[0], j), xv, b0);
    a1 = _mm512_fmadd_ps(SW_LD(bf, a[1], j), xv, a1);
    b1 = _mm512_fmadd_ps(SW_LD(bf, b[1], j), xv, b1);
    a2 = _mm512_fmadd_ps(SW_LD(bf, a[2], j), xv, a2);
    b2 = _mm512_fmadd_ps(SW_LD(bf, b[2], j), xv, b2);
    a3 = _mm512_fmadd_ps(SW_LD(bf, a[3], j), xv, a3);
    b3 = _mm512_fmadd_ps(SW_LD(bf, b[3], j), xv, b3);
  }
  if (j < d) {
    __mmask16 m = (__mmask16)((1u << (d - j)) - 1u);
    __m512    xv = _mm512_maskz_loadu_ps(m, x + j);
    a0 = _mm512_fmadd_ps(SW_LDT(bf, a[0], j, m), xv, a0);
    b0 = _mm512_fmadd_ps(SW_LDT(bf, b[0], j, m), xv, b0);
    a1 = _mm512_fmadd_ps(SW_LDT(bf, a[1], j, m), xv, a1);
    b1 = _mm512_fmadd_ps(SW_LDT(bf, b[1], j, m), xv, b1);
    a2 = _mm512_fmadd_ps(SW_LDT(bf, a[2], j, m), xv, a2);
    b2 = _mm512_fmadd_ps(SW_LDT(bf, b[2], j, m), xv, b2);
    a3 = _mm512_fmadd_ps(SW_LDT(bf, a[3], j, m), xv, a3);
    b3 = _mm512_fmadd_ps(SW_LDT(bf, b[3], j, m), xv, b3);
  }
  ra[0] = _mm512_reduce_add_ps(a0);
  ra[1] = _mm512_reduce_add_ps(a1);
  ra[2] = _mm512_reduce_add_ps(a2);
  ra[3] = _mm512_reduce_add_ps(a3);
  rb[0] = _mm512_reduce_add_ps(b0);
  rb[1] = _mm512_reduce_add_ps(b1);
  rb[2] = _mm512_reduce_add_ps(b2);
  rb[3] = _mm512_reduce_add_ps(b3);
}

static inline __attribute__((always_inline)) void sw_axpy4_body(float *y, const float c[4], const void *const rows[4],
                                                                const void *const pf[4], int bf, int d) {
  __m512 c0 = _mm512_set1_ps(c[0]), c1 = _mm512_set1_ps(c[1]), c2 = _mm512_set1_ps(c[2]), c3 = _mm512_set1_ps(c[3]);
  int    j = 0;
  for (; j + 16 <= d; j += 16) {
    if (!bf || (j & 16) == 0) {
      SW_PF(SW_AT(bf, pf[0], j));
      SW_PF(SW_AT(bf, pf[1], j));
      SW_PF(SW_AT(bf, pf[2], j));
      SW_PF(SW_AT(bf, pf[3], j));
    }
    __m512 acc = _mm512_loadu_ps(y + j);
    acc = _mm512_fmadd_ps(SW_LD(bf, rows[0], j), c0, acc);
    acc = _mm512_fmadd_ps(SW_LD(bf, rows[1], j), c1, acc);
    acc = _mm512_fmadd_ps(SW_LD(bf, rows[2], j), c2, acc);
    acc = _mm512_fmadd_ps(SW_LD(bf, rows[3], j), c3, acc);
    _mm512_storeu_ps(y + j, acc);
  }
  if (j < d) {
    __mmask16 m = (__mmask16)((1u << (d - j)) - 1u);
    __m512    acc = _mm512_maskz_loadu_ps(m, y + j);
    acc = _mm512_fmadd_ps(SW_LDT(bf, rows[0], j, m), c0, acc);
    acc = _mm512_fmadd_ps(SW_LDT(bf, rows[1], j, m), c1, acc);
    acc = _mm512_fmadd_ps(SW_LDT(bf, rows[2], j, m), c2, acc);
    acc = _mm512_fmadd_ps(SW_LDT(bf, rows[3], j, m), c3, acc);
    _mm512_mask_storeu_ps(y + j, m, acc);
  }
}

static inline __attribute__((always_inline)) void sw_rows_dot_x4_body(float ra[4], float rb[4], const void *a,
                                                                      const void *b, const float *const x[4],
                                                                      const void *pfa, const void *pfb, int bf,
                                                                      int d) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  int    j = 0;
  for (; j + 16 <= d; j += 16) {
    if (!bf || (j & 16) == 0) {
      SW_PF(SW_AT(bf, pfa, j));
      if (b) SW_PF(SW_AT(bf, pfb, j));
    }
    __m512 av = SW_LD(bf, a, j), x0 = _mm512_loadu_ps(x[0] + j), x1 = _mm512_loadu_ps(x[1] + j);
    __m512 x2 = _mm512_loadu_ps(x[2] + j), x3 = _mm512_loadu_ps(x[3] + j);
    a0 = _mm512_fmadd_ps(av, x0, a0);
    a1 = _mm512_fmadd_ps(av, x1, a1);
    a2 = _mm512_fmadd_ps(av, x2, a2);
    a3 = _mm512_fmadd_ps(av, x3, a3);
    if (b) {
      __m512 bv = SW_LD(bf, b, j);
      b0 = _mm512_fmadd_ps(bv, x0, b0);
      b1 = _mm512_fmadd_ps(bv, x1, b1);
      b2 = _mm512_fmadd_ps(bv, x2, b2);
      b3 = _mm512_fmadd_ps(bv, x3, b3);
    }
  }
  if (j < d) {
    __mmask16 m = (__mmask16)((1u << (d - j)) - 1u);
    __m512    av = SW_LDT(bf, a, j, m);
    __m512    x0 = _mm512_maskz_loadu_ps(m, x[0] + j), x1 = _mm512_maskz_loadu_ps(m, x[1] + j);
    __m512    x2 = _mm512_maskz_loadu_ps(m, x[2] + j), x3 = _mm512_maskz_loadu_ps(m, x[3] + j);
    a0 = _mm512_fmadd_ps(av, x0, a0);
    a1 = _mm512_fmadd_ps(av, x1, a1);
    a2 = _mm512_fmadd_ps(av, x2, a2);
    a3 = _mm512_fmadd_ps(av, x3, a3);
    if (b) {
      __m512 bv = SW_LDT(bf, b, j, m);
      b0 = _mm512_fmadd_ps(bv, x0, b0);
      b1 = _mm512_fmadd_ps(bv, x1, b1);
      b2 = _mm512_fmadd_ps(bv, x2, b2);
      b3 = _mm512_fmadd_ps(bv, x3, b3);
    }
  }
  ra[0] = _mm512_reduce_add_ps(a0);
  ra[1] = _mm512_reduce_add_ps(a1);
  ra[2] = _mm512_reduce_add_ps(a2);
  ra[3] = _mm512_reduce_add_ps(a3);
  if (b) {
    rb[0] = _mm512_reduce_add_ps(b0);
    rb[1] = _mm512_reduce_add_ps(b1);
    rb[2] = _mm512_reduce_add_ps(b2);
    rb[3] = _mm512_reduce_add_ps(b3);
  }
}

static inline __attribute__((always_inline)) void sw_row_axpy_y4_body(float *const y[4], const float c[4],
                                                                      const void *row, const void *pf, int bf, int d) {
  __m512 c0 = _mm512_set1_ps(c[0]), c1 = _mm512_set1_ps(c[1]), c2 = _mm512_set1_ps(c[2]), c3 = _mm512_set1_ps(c[3]);
  int    j = 0;
  for (; j + 16 <= d; j += 16) {
    if (!bf || (j & 16) == 0) SW_PF(SW_AT(bf, pf, j));
    __m512 r = SW_LD(bf, row, j);
    _mm512_storeu_ps(y[0] + j, _mm512_fmadd_ps(r, c0, _mm512_loadu_ps(y[0] + j)));
    _mm512_storeu_ps(y[1] + j, _mm512_fmadd_ps(r, c1, _mm512_loadu_ps(y[1] + j)));
    _mm512_storeu_ps(y[2] + j, _mm512_fmadd_ps(r, c2, _mm512_loadu_ps(y[2] + j)));
    _mm512_storeu_ps(y[3] + j, _mm512_fmadd_ps(r, c3, _mm512_loadu_ps(y[3] + j)));
  }
  if (j < d) {
    __mmask16 m = (__mmask16)((1u << (d - j)) - 1u);
    __m512    r = SW_LDT(bf, row, j, m);
    _mm512_mask_storeu_ps(y[0] + j, m, _mm512_fmadd_ps(r, c0, _mm512_maskz_loadu_ps(m, y[0] + j)));
    _mm512_mask_storeu_ps(y[1] + j, m, _mm512_fmadd_ps(r, c1, _mm512_maskz_loadu_ps(m, y[1] + j)));
    _mm512_mask_storeu_ps(y[2] + j, m, _mm512_fmadd_ps(r, c2, _mm512_maskz_loadu_ps(m, y[2] + j)));
    _mm512_mask_storeu_ps(y[3] + j, m, _mm512_fmadd_ps(r, c3, _mm512_maskz_loadu_ps(m, y[3] + j)));
  }
}

#else /* portable fallback */

static inline float sw_elem(const void *row, int j, int bf) {
  return bf ? sw_bf16_to_f32(((const uint16_t *)row)[j]) : ((const float *)row)[j];
}

static inline void sw_dot4_body(float r[4], const void *const rows[4], const void *const pf[4], int bf,
                                const float *x, int d) {
  (void)pf;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int j = 0; j < d; j++) {
    s0 += sw_elem(rows[0], j, bf) * x[j];
    s1 += sw_elem(rows[1], j, bf) * x[j];
    s2 += sw_elem(rows[2], j, bf) * x[j];
    s3 += sw_elem(rows[3], j, bf) * x[j];
  }
  r[0] = s0, r[1] = s1, r[2] = s2, r[3] = s3;
}

static inline void sw_dot4x2_body(float ra[4], float rb[4], const void *const a[4], const void *const b[4],
                                  const void *const pfa[4], const void *const pfb[4], int bf, const float *x, int d) {
  (void)pfb;
  sw_dot4_body(ra, a, pfa, bf, x, d);
  sw_dot4_body(rb, b, pfa, bf, x, d);
}

static inline void sw_axpy4_body(float *y, const float c[4], const void *const rows[4], const void *const pf[4], int bf,
                                 int d) {
  (void)pf;
  for (int j = 0; j < d; j++)
    y[j] += c[0] * sw_elem(rows[0], j, bf) + c[1] * sw_elem(rows[1], j, bf) + c[2] * sw_elem(rows[2], j, bf) +
            c[3] * sw_elem(rows[3], j, bf);
}

static inline void sw_rows_dot_x4_body(float ra[4], float rb[4], const void *a, const void *b, const float *const x[4],
                                       const void *pfa, const void *pfb, int bf, int d) {
  (void)pfa, (void)pfb;
  for (int k = 0; k < 4; k++) {
    float sa = 0, sb = 0;
    for (int j = 0; j < d; j++) {
      sa += sw_elem(a, j, bf) * x[k][j];
      if (b) sb += sw_elem(b, j, bf) * x[k][j];
    }
    ra[k] = sa;
    if (b) rb[k] = sb;
  }
}

static inline void sw_row_axpy_y4_body(float *const y[4], const float c[4], const void *row, const void *pf, int bf,
                                       int d) {
  (void)pf;
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < d; j++) y[k][j] += c[k] * sw_elem(row, j, bf);
}
#endif

void sw_gather_dot4(float r[4], const void *const rows[4], const void *const pf[4], sw_dtype_t dtype, const float *x,
                    int d) {
  if (dtype == SW_DTYPE_BF16)
    sw_dot4_body(r, rows, pf, 1, x, d);
  else
    sw_dot4_body(r, rows, pf, 0, x, d);
}

void sw_gather_dot4x2(float ra[4], float rb[4], const void *const a[4], const void *const b[4],
                      const void *const pfa[4], const void *const pfb[4], sw_dtype_t dtype, const float *x, int d) {
  if (dtype == SW_DTYPE_BF16)
    sw_dot4x2_body(ra, rb, a, b, pfa, pfb, 1, x, d);
  else
    sw_dot4x2_body(ra, rb, a, b, pfa, pfb, 0, x, d);
}

void sw_gather_axpy4(float *y, const float c[4], const void *const rows[4], const void *const pf[4], sw_dtype_t dtype,
                     int d) {
  if (dtype == SW_DTYPE_BF16)
    sw_axpy4_body(y, c, rows, pf, 1, d);
  else
    sw_axpy4_body(y, c, rows, pf, 0, d);
}

void sw_gather_rows_dot_x4(float ra[4], float rb[4], const void *a, const void *b, const float *const x[4],
                           const void *pfa, const void *pfb, sw_dtype_t dtype, int d) {
  if (dtype == SW_DTYPE_BF16)
    sw_rows_dot_x4_body(ra, rb, a, b, x, pfa, pfb, 1, d);
  else
    sw_rows_dot_x4_body(ra, rb, a, b, x, pfa, pfb, 0, d);
}

void sw_gather_row_axpy_y4(float *const y[4], const float c[4], const void *row, const void *pf, sw_dtype_t dtype,
                           int d) {
  if (dtype == SW_DTYPE_BF16)
    sw_row_axpy_y4_body(y, c, row, pf, 1, d);
  else
    sw_row_axpy_y4_body(y, c, row, pf, 0, d);
}

static const void *sw_row(const void *base, size_t ld, sw_dtype_t dtype, int32_t i) {
  return (const char *)base + (size_t)i * ld * (dtype == SW_DTYPE_BF16 ? 2u : 4u);
}

void sw_gemv_rows_axpy(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *c, const int32_t *idx,
                       int n_idx, int n_out) {
  memset(y, 0, (size_t)n_out * sizeof *y);
  for (int k = 0; k < n_idx; k += 4) {
    const void *rows[4], *pf[4];
    float       cc[4];
    for (int q = 0; q < 4; q++) {
      int kk = k + q < n_idx ? k + q : n_idx - 1; /* pad with the last row and a zero coefficient */
      rows[q] = sw_row(wt, ldw, dtype, idx[kk]);
      cc[q] = k + q < n_idx ? c[k + q] : 0.0f;
      int kn = k + 4 + q < n_idx ? k + 4 + q : kk;
      pf[q] = sw_row(wt, ldw, dtype, idx[kn]);
    }
    sw_gather_axpy4(y, cc, rows, pf, dtype, n_out);
  }
}

void sw_gemv_in_sparse_idx(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *x,
                           const int32_t *idx, int n_idx, int n_out) {
  memset(y, 0, (size_t)n_out * sizeof *y);
  for (int k = 0; k < n_idx; k += 4) {
    const void *rows[4], *pf[4];
    float       cc[4];
    for (int q = 0; q < 4; q++) {
      int kk = k + q < n_idx ? k + q : n_idx - 1;
      rows[q] = sw_row(wt, ldw, dtype, idx[kk]);
      cc[q] = k + q < n_idx ? x[idx[kk]] : 0.0f;
      int kn = k + 4 + q < n_idx ? k + 4 + q : kk;
      pf[q] = sw_row(wt, ldw, dtype, idx[kn]);
    }
    sw_gather_axpy4(y, cc, rows, pf, dtype, n_out);
  }
}

int sw_gemv_in_sparse_thr(float *y, const void *wt, size_t ldw, sw_dtype_t dtype, const float *x, float t,
                          int32_t *idx_scratch, int n_in, int n_out) {
  int n = 0;
  for (int j = 0; j < n_in; j++)
    if (fabsf(x[j]) > t) idx_scratch[n++] = j;
  sw_gemv_in_sparse_idx(y, wt, ldw, dtype, x, idx_scratch, n, n_out);
  return n;
}
