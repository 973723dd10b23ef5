/* sw_simd_avx512: the AVX-512 (F/BW/VL/DQ) kernel variant: intrinsics with masked d tails, compiled with a
 * per-function target attribute so the binary runs on CPUs without AVX-512 (the table is only used when
 * sw_isa_supported(SW_ISA_AVX512)).  Empty off x86-64. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "kernels/sw_act.h"
#include "kernels/sw_simd.h"

#define SW_T5 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define SW_I5 static inline __attribute__((always_inline)) SW_T5
#define SW_PF(p) __builtin_prefetch((const void *)(p), 0, 2)

/* ------------------------------------------------------------------ gathered-row primitives */
SW_I5 __m512 sw_ld_f32(const void *row, int j) { return _mm512_loadu_ps((const float *)row + j); }
SW_I5 __m512 sw_ld_f32_tail(const void *row, int j, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, (const float *)row + j);
}
SW_I5 __m512 sw_ld_bf16(const void *row, int j) {
  __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + j));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
SW_I5 __m512 sw_ld_bf16_tail(const void *row, int j, __mmask16 m) {
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + j);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
#define SW_LD(bf, row, j) ((bf) ? sw_ld_bf16((row), (j)) : sw_ld_f32((row), (j)))
#define SW_LDT(bf, row, j, m) ((bf) ? sw_ld_bf16_tail((row), (j), (m)) : sw_ld_f32_tail((row), (j), (m)))
/* byte address of element j, for prefetching */
#define SW_AT(bf, row, j) ((const char *)(row) + (size_t)(j) * ((bf) ? 2u : 4u))

SW_I5 void sw_rows_dot_x4_body(float ra[4], float rb[4], const void *a,
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

SW_I5 void sw_row_axpy_y4_body(float *const y[4], const float c[4],
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


SW_T5 static void sw5_rows_dot_x4(float ra[4], float rb[4], const void *a, const void *b, const float *const x[4],
                                  const void *pfa, const void *pfb, int bf, int d) {
  if (bf)
    sw_rows_dot_x4_body(ra, rb, a, b, x, pfa, pfb, 1, d);
  else
    sw_rows_dot_x4_body(ra, rb, a, b, x, pfa, pfb, 0, d);
}
SW_T5 static void sw5_row_axpy_y4(float *const y[4], const float c[4], const void *row, const void *pf, int bf,
                                  int d) {
  if (bf)
    sw_row_axpy_y4_body(y, c, row, pf, 1, d);
  else
    sw_row_axpy_y4_body(y, c, row, pf, 0, d);
}

/* ------------------------------------------------------------------ batch-1 gathered FFN */
/* What the batch-1 fast path computes per neuron before the down row. */
typedef enum sw_tok_mode {
  SW_TOK_GATE_UP,  /* gated: h = act(gate·x) · (up·x) */
  SW_TOK_UP_GACT,  /* gated, act(gate·x) given: h = gact · (up·x) */
  SW_TOK_UP_PLAIN, /* plain: h = act(up·x + b_up) */
  SW_TOK_H         /* h given */
} sw_tok_mode_t;

/* Elements j..j+15 of a row (bf = bf16 row, else f32) as f32; the tail form loads only the lanes of m. */
SW_I5 __m512 sw_tok_ld(const char *r, int j, int bf) {
  if (!bf) return _mm512_loadu_ps((const float *)r + j);
  __m256i v = _mm256_loadu_si256((const __m256i *)((const uint16_t *)r + j));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}
SW_I5 __m512 sw_tok_ldt(const char *r, int j, int bf, __mmask16 m) {
  if (!bf) return _mm512_maskz_loadu_ps(m, (const float *)r + j);
  __m256i v = _mm256_maskz_loadu_epi16(m, (const uint16_t *)r + j);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}
/* Prefetch (into L2) of the 64-byte line holding element j, once per line. */
SW_I5 void sw_tok_pf(const char *r, int j, int bf) {
  if (!bf || (j & 16) == 0) _mm_prefetch(r + (size_t)j * (bf ? 2u : 4u), _MM_HINT_T1);
}

/* ra[q] = rows a[q] · x, and rb[q] = rows b[q] · x when two (4 or 8 streams), prefetching the same lines of pa/pb
 * (NULL: no prefetch). */
SW_I5 void sw_tok_dots(__m512 ra[4], __m512 rb[4], const char *const a[4], const char *const b[4],
                                  const char *const pa[4], const char *const pb[4], int two, int bf, const float *x,
                                  int d) {
  int       jt = d & ~15;
  __mmask16 tm = (__mmask16)((1u << (d - jt)) - 1u);
  for (int q = 0; q < 4; q++) ra[q] = rb[q] = _mm512_setzero_ps();
  for (int j = 0; j < jt; j += 16) {
    __m512 xv = _mm512_loadu_ps(x + j);
    for (int q = 0; q < 4; q++) {
      if (pa) sw_tok_pf(pa[q], j, bf);
      ra[q] = _mm512_fmadd_ps(sw_tok_ld(a[q], j, bf), xv, ra[q]);
      if (two) {
        if (pb) sw_tok_pf(pb[q], j, bf);
        rb[q] = _mm512_fmadd_ps(sw_tok_ld(b[q], j, bf), xv, rb[q]);
      }
    }
  }
  if (jt < d) {
    __m512 xv = _mm512_maskz_loadu_ps(tm, x + jt);
    for (int q = 0; q < 4; q++) {
      ra[q] = _mm512_fmadd_ps(sw_tok_ldt(a[q], jt, bf, tm), xv, ra[q]);
      if (two) rb[q] = _mm512_fmadd_ps(sw_tok_ldt(b[q], jt, bf, tm), xv, rb[q]);
    }
  }
}

/* acc += Σ_q hv[q] · dn[q], prefetching the same lines of pd (NULL: no prefetch). */
SW_I5 void sw_tok_axpy(float *acc, const __m512 hv[4], const char *const dn[4], const char *const pd[4],
                                  int bf, int d) {
  int       jt = d & ~15;
  __mmask16 tm = (__mmask16)((1u << (d - jt)) - 1u);
  for (int j = 0; j < jt; j += 16) {
    __m512 y = _mm512_loadu_ps(acc + j);
    for (int q = 0; q < 4; q++) {
      if (pd) sw_tok_pf(pd[q], j, bf);
      y = _mm512_fmadd_ps(sw_tok_ld(dn[q], j, bf), hv[q], y);
    }
    _mm512_storeu_ps(acc + j, y);
  }
  if (jt < d) {
    __m512 y = _mm512_maskz_loadu_ps(tm, acc + jt);
    for (int q = 0; q < 4; q++) y = _mm512_fmadd_ps(sw_tok_ldt(dn[q], jt, bf, tm), hv[q], y);
    _mm512_mask_storeu_ps(acc + jt, tm, y);
  }
}

/* h of neuron i from the dot accumulators (mode SW_TOK_H reads it from h). */
SW_I5 float sw_tok_h(const sw_ffn_weights_t *w, sw_tok_mode_t mode, __m512 a, __m512 b, int32_t i,
                                const float *gact, const float *h) {
  if (mode == SW_TOK_H) return h[i];
  float av = _mm512_reduce_add_ps(a);
  if (mode == SW_TOK_UP_GACT) return gact[i] * av;
  if (mode == SW_TOK_UP_PLAIN) return sw_act_1(w->act, av + (w->b_up ? w->b_up[i] : 0.0f), w->act_param);
  return sw_act_1(w->act, av, w->act_param) * _mm512_reduce_add_ps(b);
}

/* Batch-1 fast path (f32 or bf16 rows), 4 active neurons per step: one pass over their gate and/or up rows (8
 * or 4 streams), then one axpy pass over their 4 down rows into acc.  The same algorithm as the AVX2 and portable
 * variants (kernels/sw_simd_vec.h): no software prefetch, the hardware prefetchers follow the row streams (why:
 * sw_simd_t.tok_run, kernels/sw_simd.h).  Tails of d use masked loads; no gather instructions. */
SW_I5 void sw_tok_body(float *acc, const float *x, const sw_ffn_weights_t *w, const int32_t *idx,
                                  int64_t n, const float *gact, const float *h, sw_tok_mode_t mode, int bf) {
  size_t      esz = bf ? 2u : 4u;
  const char *A = mode == SW_TOK_GATE_UP ? w->gate : w->up, *B = w->up, *D = w->down;
  size_t      la = (mode == SW_TOK_GATE_UP ? w->ld_gate : w->ld_up) * esz, lb = w->ld_up * esz, lw = w->ld_down * esz;
  for (int64_t k = 0; k < n; k += 4) {
    const char *a[4], *b[4], *dn[4];
    __m512      ra[4], rb[4], hv[4];
    for (int q = 0; q < 4; q++) {
      int64_t c = k + q < n ? k + q : n - 1;
      a[q] = A + (size_t)idx[c] * la, b[q] = B + (size_t)idx[c] * lb, dn[q] = D + (size_t)idx[c] * lw;
    }
    if (mode != SW_TOK_H)
      sw_tok_dots(ra, rb, a, b, NULL, NULL, mode == SW_TOK_GATE_UP, bf, x, w->d_model);
    else
      for (int q = 0; q < 4; q++) ra[q] = rb[q] = _mm512_setzero_ps();
    for (int q = 0; q < 4; q++) {
      int64_t c = k + q < n ? k + q : n - 1;
      hv[q] = _mm512_set1_ps(k + q < n ? sw_tok_h(w, mode, ra[q], rb[q], idx[c], gact, h) : 0.0f);
    }
    sw_tok_axpy(acc, hv, dn, NULL, bf, w->d_model);
  }
}

SW_I5 void sw_tok_modes(float *acc, const float *x, const sw_ffn_weights_t *w, const int32_t *idx,
                                   int64_t n, const float *gact, const float *h, int bf) {
  if (h)
    sw_tok_body(acc, x, w, idx, n, gact, h, SW_TOK_H, bf);
  else if (!w->gated)
    sw_tok_body(acc, x, w, idx, n, gact, h, SW_TOK_UP_PLAIN, bf);
  else if (gact)
    sw_tok_body(acc, x, w, idx, n, gact, h, SW_TOK_UP_GACT, bf);
  else
    sw_tok_body(acc, x, w, idx, n, gact, h, SW_TOK_GATE_UP, bf);
}

/* The 4-row primitives on the batch-1 kernel's dot and axpy passes (one prefetch per 64-byte line, masked tails). */
SW_I5 void sw_rows4(const char *out[4], const void *const in[4]) {
  for (int q = 0; q < 4; q++) out[q] = in[q];
}
SW_I5 void sw_dot4_body(float r[4], const void *const rows[4], const void *const pf[4], int bf, const float *x,
                        int d) {
  const char *a[4], *p[4];
  __m512      ra[4], rb[4];
  sw_rows4(a, rows), sw_rows4(p, pf);
  sw_tok_dots(ra, rb, a, a, p, p, 0, bf, x, d);
  for (int q = 0; q < 4; q++) r[q] = _mm512_reduce_add_ps(ra[q]);
}
SW_I5 void sw_dot4x2_body(float ra[4], float rb[4], const void *const a[4], const void *const b[4],
                          const void *const pfa[4], const void *const pfb[4], int bf, const float *x, int d) {
  const char *ca[4], *cb[4], *pa[4], *pb[4];
  __m512      va[4], vb[4];
  sw_rows4(ca, a), sw_rows4(cb, b), sw_rows4(pa, pfa), sw_rows4(pb, pfb);
  sw_tok_dots(va, vb, ca, cb, pa, pb, 1, bf, x, d);
  for (int q = 0; q < 4; q++) ra[q] = _mm512_reduce_add_ps(va[q]), rb[q] = _mm512_reduce_add_ps(vb[q]);
}
SW_I5 void sw_axpy4_body(float *y, const float c[4], const void *const rows[4], const void *const pf[4], int bf,
                         int d) {
  const char *r[4], *p[4];
  __m512      cv[4];
  sw_rows4(r, rows), sw_rows4(p, pf);
  for (int q = 0; q < 4; q++) cv[q] = _mm512_set1_ps(c[q]);
  sw_tok_axpy(y, cv, r, p, bf, d);
}

SW_T5 static void sw5_dot4(float r[4], const void *const rows[4], const void *const pf[4], int bf, const float *x,
                           int d) {
  if (bf)
    sw_dot4_body(r, rows, pf, 1, x, d);
  else
    sw_dot4_body(r, rows, pf, 0, x, d);
}
SW_T5 static void sw5_dot4x2(float ra[4], float rb[4], const void *const a[4], const void *const b[4],
                             const void *const pfa[4], const void *const pfb[4], int bf, const float *x, int d) {
  if (bf)
    sw_dot4x2_body(ra, rb, a, b, pfa, pfb, 1, x, d);
  else
    sw_dot4x2_body(ra, rb, a, b, pfa, pfb, 0, x, d);
}
SW_T5 static void sw5_axpy4(float *y, const float c[4], const void *const rows[4], const void *const pf[4], int bf,
                            int d) {
  if (bf)
    sw_axpy4_body(y, c, rows, pf, 1, d);
  else
    sw_axpy4_body(y, c, rows, pf, 0, d);
}
/* The fast path for f32 or bf16 rows (gact is ignored for plain FFNs). */
SW_T5 static void sw5_tok_run(float *acc, const float *x, const sw_ffn_weights_t *w, const int32_t *idx, int64_t n,
                              const float *gact, const float *h) {
  if (w->dtype == SW_DTYPE_BF16)
    sw_tok_modes(acc, x, w, idx, n, w->gated ? gact : NULL, h, 1);
  else
    sw_tok_modes(acc, x, w, idx, n, w->gated ? gact : NULL, h, 0);
}

SW_T5 static void sw5_bf16_to_f32(float *dst, const uint16_t *src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, sw_ld_bf16(src + i, 0));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(dst + i, m, sw_ld_bf16_tail(src + i, 0, m));
  }
}

/* ------------------------------------------------------------------ streaming read */
/* Sum of n floats with 4 or 8 accumulators, prefetching every line pf_bytes ahead when pf_bytes > 0. */
SW_I5 float sw5_read_body(const float *p, size_t n, int acc, size_t pf_bytes) {
  __m512 a[8];
  for (int q = 0; q < 8; q++) a[q] = _mm512_setzero_ps();
  size_t step = (size_t)acc * 16, i = 0;
  for (; i + step <= n; i += step) {
    if (pf_bytes)
      for (size_t b = 0; b < step * sizeof(float); b += 64) SW_PF((const char *)(p + i) + pf_bytes + b);
    for (int q = 0; q < acc; q++) a[q] = _mm512_add_ps(a[q], _mm512_loadu_ps(p + i + (size_t)q * 16));
  }
  for (int q = 1; q < acc; q++) a[0] = _mm512_add_ps(a[0], a[q]);
  float s = _mm512_reduce_add_ps(a[0]);
  for (; i < n; i++) s += p[i];
  return s;
}
/* Sum of the first streams * part floats, the parts (multiples of 16 floats) read in lockstep, one line each. */
SW_I5 float sw5_read_streams(const float *p, size_t part, int streams) {
  __m512 a[SW_MEMBW_MAX_STREAMS];
  for (int q = 0; q < SW_MEMBW_MAX_STREAMS; q++) a[q] = _mm512_setzero_ps();
  for (size_t i = 0; i < part; i += 16)
    for (int q = 0; q < streams; q++) a[q] = _mm512_add_ps(a[q], _mm512_loadu_ps(p + (size_t)q * part + i));
  for (int q = 1; q < streams; q++) a[0] = _mm512_add_ps(a[0], a[q]);
  return _mm512_reduce_add_ps(a[0]);
}
SW_T5 static float sw5_read(const void *buf, size_t bytes, sw_membw_strategy_t strategy) {
  const float *p = buf;
  size_t       n = bytes / sizeof(float);
  int          k = sw_membw_streams(strategy);
  if (k > 1) {
    size_t part = n / (size_t)k / 16 * 16;
    return sw5_read_streams(p, part, k) + sw5_read_body(p + part * (size_t)k, n - part * (size_t)k, 4, 0);
  }
  return strategy == SW_MEMBW_PLAIN ? sw5_read_body(p, n, 4, 0) : sw5_read_body(p, n, 8, sw_membw_pf_bytes(strategy));
}

const sw_simd_t sw_simd_avx512 = {SW_ISA_AVX512, sw5_dot4,    sw5_dot4x2,      sw5_axpy4, sw5_rows_dot_x4,
                                  sw5_row_axpy_y4, sw5_tok_run, sw5_bf16_to_f32, sw5_read};
#else
typedef int sw_simd_avx512_empty_t;
#endif
