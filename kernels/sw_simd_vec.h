/* sw_simd_vec (internal to kernels/, included once by sw_simd_avx2.c and sw_simd_portable.c): the kernel bodies
 * written with GCC vector extensions and no ISA intrinsics, so the same text compiles to AVX2+FMA code under a
 * target attribute and to SSE2 / NEON code without one.  The row primitives stream one 64-byte line per step with
 * a prefetch of the same line of the next group's rows (kernels/sw_gather.h; the b_ bodies take NULL prefetch
 * rows for none); the batch-1 kernel leaves prefetching to the hardware.  d tails run in scalar code.
 * The includer defines SW_V_LANES (floats per vector), SW_V_ATTR (the function attribute selecting the ISA,
 * empty for portable), SW_V_TABLE (the sw_simd_t table to define) and SW_V_ISA (its level). */
#include <string.h>

#include "kernels/sw_act.h"
#include "kernels/sw_simd.h"

typedef float    sw_vf __attribute__((vector_size(4 * SW_V_LANES)));
typedef uint16_t sw_vh __attribute__((vector_size(2 * SW_V_LANES)));
typedef uint32_t sw_vu __attribute__((vector_size(4 * SW_V_LANES)));

#define SW_VI static inline __attribute__((always_inline)) SW_V_ATTR
#define SW_VF static SW_V_ATTR
#ifndef SW_V_PF_LOCALITY
#define SW_V_PF_LOCALITY 2 /* __builtin_prefetch locality: 2 = into L2 (prefetcht1 on x86) */
#endif
#define SW_V_PF(p) __builtin_prefetch((const void *)(p), 0, SW_V_PF_LOCALITY)

SW_VI sw_vf v_set1(float c) { return (sw_vf){0} + c; }
SW_VI sw_vf v_ldf(const float *p) {
  sw_vf v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
/* bf16 → f32: widen the 16-bit lanes to 32 bits and shift them into the high half (the includer may give a
 * one-instruction widening as SW_V_WIDEN_BF16: GCC 12 splits __builtin_convertvector into 128-bit halves). */
SW_VI sw_vf v_ldh(const uint16_t *p) {
#ifdef SW_V_WIDEN_BF16
  return SW_V_WIDEN_BF16(p);
#else
  sw_vh h;
  __builtin_memcpy(&h, p, sizeof h);
  return (sw_vf)(__builtin_convertvector(h, sw_vu) << 16);
#endif
}
SW_VI sw_vf v_ld(const void *row, int j, int bf) {
  return bf ? v_ldh((const uint16_t *)row + j) : v_ldf((const float *)row + j);
}
SW_VI void  v_st(float *p, sw_vf v) { __builtin_memcpy(p, &v, sizeof v); }
SW_VI float v_sum(sw_vf v) {
  float s = 0.0f;
  for (int i = 0; i < SW_V_LANES; i++) s += v[i];
  return s;
}
SW_VI float s_el(const void *row, int j, int bf) {
  if (!bf) return ((const float *)row)[j];
  uint32_t u = (uint32_t)((const uint16_t *)row)[j] << 16;
  float    f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}
/* Elements per 64-byte line and the byte address of element j (for prefetches). */
SW_VI int         v_line(int bf) { return bf ? 32 : 16; }
SW_VI const char *v_at(const void *row, int j, int bf) { return (const char *)row + (size_t)j * (bf ? 2u : 4u); }

/* ------------------------------------------------------------------ 4 rows · x */
SW_VI void st_dot4(sw_vf a[4], const void *const rows[4], int bf, const float *x, int j) {
  sw_vf xv = v_ldf(x + j);
  for (int q = 0; q < 4; q++) a[q] += v_ld(rows[q], j, bf) * xv;
}
SW_VI void b_dot4(float r[4], const void *const rows[4], const void *const pf[4], int bf, const float *x, int d) {
  sw_vf a[4] = {{0}, {0}, {0}, {0}};
  int   j = 0, L = v_line(bf);
  for (; j + L <= d; j += L) {
    for (int q = 0; q < 4 && pf; q++) SW_V_PF(v_at(pf[q], j, bf));
    for (int v = 0; v < L; v += SW_V_LANES) st_dot4(a, rows, bf, x, j + v);
  }
  for (; j + SW_V_LANES <= d; j += SW_V_LANES) st_dot4(a, rows, bf, x, j);
  for (int q = 0; q < 4; q++) {
    r[q] = v_sum(a[q]);
    for (int k = j; k < d; k++) r[q] += s_el(rows[q], k, bf) * x[k];
  }
}

/* ------------------------------------------------------------------ 4 + 4 rows · x (gate and up) */
SW_VI void st_dot4x2(sw_vf a[4], sw_vf b[4], const void *const ra[4], const void *const rb[4], int bf,
                     const float *x, int j) {
  sw_vf xv = v_ldf(x + j);
  for (int q = 0; q < 4; q++) {
    a[q] += v_ld(ra[q], j, bf) * xv;
    b[q] += v_ld(rb[q], j, bf) * xv;
  }
}
SW_VI void b_dot4x2(float ra[4], float rb[4], const void *const a[4], const void *const b[4],
                    const void *const pfa[4], const void *const pfb[4], int bf, const float *x, int d) {
  sw_vf va[4] = {{0}, {0}, {0}, {0}}, vb[4] = {{0}, {0}, {0}, {0}};
  int   j = 0, L = v_line(bf);
  for (; j + L <= d; j += L) {
    for (int q = 0; q < 4 && pfa; q++) {
      SW_V_PF(v_at(pfa[q], j, bf));
      SW_V_PF(v_at(pfb[q], j, bf));
    }
    for (int v = 0; v < L; v += SW_V_LANES) st_dot4x2(va, vb, a, b, bf, x, j + v);
  }
  for (; j + SW_V_LANES <= d; j += SW_V_LANES) st_dot4x2(va, vb, a, b, bf, x, j);
  for (int q = 0; q < 4; q++) {
    ra[q] = v_sum(va[q]);
    rb[q] = v_sum(vb[q]);
    for (int k = j; k < d; k++) {
      ra[q] += s_el(a[q], k, bf) * x[k];
      rb[q] += s_el(b[q], k, bf) * x[k];
    }
  }
}

/* ------------------------------------------------------------------ y += Σ c[k] rows[k] */
SW_VI void st_axpy4(float *y, const sw_vf c[4], const void *const rows[4], int bf, int j) {
  sw_vf acc = v_ldf(y + j);
  for (int q = 0; q < 4; q++) acc += v_ld(rows[q], j, bf) * c[q];
  v_st(y + j, acc);
}
SW_VI void b_axpy4(float *y, const float c[4], const void *const rows[4], const void *const pf[4], int bf, int d) {
  sw_vf cv[4] = {v_set1(c[0]), v_set1(c[1]), v_set1(c[2]), v_set1(c[3])};
  int   j = 0, L = v_line(bf);
  for (; j + L <= d; j += L) {
    for (int q = 0; q < 4 && pf; q++) SW_V_PF(v_at(pf[q], j, bf));
    for (int v = 0; v < L; v += SW_V_LANES) st_axpy4(y, cv, rows, bf, j + v);
  }
  for (; j + SW_V_LANES <= d; j += SW_V_LANES) st_axpy4(y, cv, rows, bf, j);
  for (; j < d; j++)
    for (int q = 0; q < 4; q++) y[j] += c[q] * s_el(rows[q], j, bf);
}

/* ------------------------------------------------------------------ one or two rows · 4 vectors */
SW_VI void st_rows_x4(sw_vf a[4], sw_vf b[4], const void *ra, const void *rb, const float *const x[4], int bf, int j) {
  sw_vf av = v_ld(ra, j, bf), bv = rb ? v_ld(rb, j, bf) : v_set1(0.0f);
  for (int q = 0; q < 4; q++) {
    sw_vf xv = v_ldf(x[q] + j);
    a[q] += av * xv;
    if (rb) b[q] += bv * xv;
  }
}
SW_VI void b_rows_dot_x4(float ra[4], float rb[4], const void *a, const void *b, const float *const x[4],
                         const void *pfa, const void *pfb, int bf, int d) {
  sw_vf va[4] = {{0}, {0}, {0}, {0}}, vb[4] = {{0}, {0}, {0}, {0}};
  int   j = 0, L = v_line(bf);
  for (; j + L <= d; j += L) {
    SW_V_PF(v_at(pfa, j, bf));
    if (b) SW_V_PF(v_at(pfb, j, bf));
    for (int v = 0; v < L; v += SW_V_LANES) st_rows_x4(va, vb, a, b, x, bf, j + v);
  }
  for (; j + SW_V_LANES <= d; j += SW_V_LANES) st_rows_x4(va, vb, a, b, x, bf, j);
  for (int q = 0; q < 4; q++) {
    ra[q] = v_sum(va[q]);
    if (b) rb[q] = v_sum(vb[q]);
    for (int k = j; k < d; k++) {
      ra[q] += s_el(a, k, bf) * x[q][k];
      if (b) rb[q] += s_el(b, k, bf) * x[q][k];
    }
  }
}

/* ------------------------------------------------------------------ y[k] += c[k] row */
SW_VI void st_row_y4(float *const y[4], const sw_vf c[4], const void *row, int bf, int j) {
  sw_vf r = v_ld(row, j, bf);
  for (int q = 0; q < 4; q++) v_st(y[q] + j, v_ldf(y[q] + j) + r * c[q]);
}
SW_VI void b_row_axpy_y4(float *const y[4], const float c[4], const void *row, const void *pf, int bf, int d) {
  sw_vf cv[4] = {v_set1(c[0]), v_set1(c[1]), v_set1(c[2]), v_set1(c[3])};
  int   j = 0, L = v_line(bf);
  for (; j + L <= d; j += L) {
    SW_V_PF(v_at(pf, j, bf));
    for (int v = 0; v < L; v += SW_V_LANES) st_row_y4(y, cv, row, bf, j + v);
  }
  for (; j + SW_V_LANES <= d; j += SW_V_LANES) st_row_y4(y, cv, row, bf, j);
  for (; j < d; j++)
    for (int q = 0; q < 4; q++) y[q][j] += c[q] * s_el(row, j, bf);
}

/* Out-of-line entry points, specialised on the row type. */
SW_VF void v_dot4(float r[4], const void *const rows[4], const void *const pf[4], int bf, const float *x, int d) {
  if (bf)
    b_dot4(r, rows, pf, 1, x, d);
  else
    b_dot4(r, rows, pf, 0, x, d);
}
SW_VF void v_dot4x2(float ra[4], float rb[4], const void *const a[4], const void *const b[4],
                    const void *const pfa[4], const void *const pfb[4], int bf, const float *x, int d) {
  if (bf)
    b_dot4x2(ra, rb, a, b, pfa, pfb, 1, x, d);
  else
    b_dot4x2(ra, rb, a, b, pfa, pfb, 0, x, d);
}
SW_VF void v_axpy4(float *y, const float c[4], const void *const rows[4], const void *const pf[4], int bf, int d) {
  if (bf)
    b_axpy4(y, c, rows, pf, 1, d);
  else
    b_axpy4(y, c, rows, pf, 0, d);
}
SW_VF void v_rows_dot_x4(float ra[4], float rb[4], const void *a, const void *b, const float *const x[4],
                         const void *pfa, const void *pfb, int bf, int d) {
  if (bf)
    b_rows_dot_x4(ra, rb, a, b, x, pfa, pfb, 1, d);
  else
    b_rows_dot_x4(ra, rb, a, b, x, pfa, pfb, 0, d);
}
SW_VF void v_row_axpy_y4(float *const y[4], const float c[4], const void *row, const void *pf, int bf, int d) {
  if (bf)
    b_row_axpy_y4(y, c, row, pf, 1, d);
  else
    b_row_axpy_y4(y, c, row, pf, 0, d);
}

/* ------------------------------------------------------------------ batch-1 gathered FFN */
/* h of the 4 neurons cur[] from their rows (mode chosen by which of gact/h is given; see sw_simd_t.tok_run). */
SW_VI void b_tok_h(float hv[4], const sw_ffn_weights_t *w, const int32_t cur[4], const float *x, const float *gact,
                   const float *h, int bf) {
  size_t      esz = bf ? 2u : 4u;
  const char *U = w->up, *G = w->gate;
  size_t      lu = w->ld_up * esz, lg = w->ld_gate * esz;
  const void *u[4], *g[4];
  float       uv[4], gv[4];
  if (h) {
    for (int q = 0; q < 4; q++) hv[q] = h[cur[q]];
    return;
  }
  for (int q = 0; q < 4; q++) u[q] = U + cur[q] * lu;
  if (w->gated && !gact) {
    for (int q = 0; q < 4; q++) g[q] = G + cur[q] * lg;
    b_dot4x2(gv, uv, g, u, NULL, NULL, bf, x, w->d_model);
    for (int q = 0; q < 4; q++) hv[q] = sw_act_1(w->act, gv[q], w->act_param) * uv[q];
    return;
  }
  b_dot4(uv, u, NULL, bf, x, w->d_model);
  for (int q = 0; q < 4; q++)
    hv[q] = w->gated ? gact[cur[q]] * uv[q]
                     : sw_act_1(w->act, uv[q] + (w->b_up ? w->b_up[cur[q]] : 0.0f), w->act_param);
}

/* 4 active neurons per step: one pass over their gate and/or up rows (8 or 4 streams), then one axpy pass over
 * their down rows; no software prefetch (why: sw_simd_t.tok_run, kernels/sw_simd.h). */
SW_VI void b_tok_run(float *acc, const float *x, const sw_ffn_weights_t *w, const int32_t *idx, int64_t n,
                     const float *gact, const float *h, int bf) {
  size_t      lw = w->ld_down * (bf ? 2u : 4u);
  const char *D = w->down;
  for (int64_t k = 0; k < n; k += 4) {
    int32_t     cur[4];
    const void *dn[4];
    float       hv[4];
    for (int q = 0; q < 4; q++) {
      cur[q] = idx[k + q < n ? k + q : n - 1];
      dn[q] = D + cur[q] * lw;
    }
    b_tok_h(hv, w, cur, x, gact, h, bf);
    for (int q = 0; q < 4; q++)
      if (k + q >= n) hv[q] = 0.0f;
    b_axpy4(acc, hv, dn, NULL, bf, w->d_model);
  }
}
SW_VF void v_tok_run(float *acc, const float *x, const sw_ffn_weights_t *w, const int32_t *idx, int64_t n,
                     const float *gact, const float *h) {
  if (!w->gated) gact = NULL;
  if (w->dtype == SW_DTYPE_BF16)
    b_tok_run(acc, x, w, idx, n, gact, h, 1);
  else
    b_tok_run(acc, x, w, idx, n, gact, h, 0);
}

SW_VF void v_bf16_to_f32(float *dst, const uint16_t *src, size_t n) {
  size_t i = 0;
  for (; i + SW_V_LANES <= n; i += SW_V_LANES) v_st(dst + i, v_ldh(src + i));
  for (; i < n; i++) dst[i] = s_el(src + i, 0, 1);
}

/* ------------------------------------------------------------------ streaming read */
/* Sum of n floats with `acc` vector accumulators (4 or 8) and, when pf_bytes > 0, a prefetch of every line
 * pf_bytes ahead. */
SW_VI float b_read(const float *p, size_t n, int acc, size_t pf_bytes) {
  sw_vf  a[8] = {{0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}};
  size_t step = (size_t)acc * SW_V_LANES, i = 0;
  for (; i + step <= n; i += step) {
    if (pf_bytes)
      for (size_t b = 0; b < step * sizeof(float); b += 64) SW_V_PF((const char *)(p + i) + pf_bytes + b);
    for (int q = 0; q < acc; q++) a[q] += v_ldf(p + i + (size_t)q * SW_V_LANES);
  }
  float s = 0.0f;
  for (int q = 0; q < acc; q++) s += v_sum(a[q]);
  for (; i < n; i++) s += p[i];
  return s;
}
/* Sum of the first streams * part floats, the streams parts of `part` floats (a multiple of 16) read in lockstep,
 * one 64-byte line of each per step. */
SW_VI float b_read_streams(const float *p, size_t part, int streams) {
  enum { line = 16 / SW_V_LANES }; /* vectors per 64-byte line */
  sw_vf a[SW_MEMBW_MAX_STREAMS][line];
  memset(a, 0, sizeof a);
  for (size_t i = 0; i < part; i += 16)
    for (int q = 0; q < streams; q++)
      for (int v = 0; v < line; v++) a[q][v] += v_ldf(p + (size_t)q * part + i + (size_t)v * SW_V_LANES);
  float s = 0.0f;
  for (int q = 0; q < streams; q++)
    for (int v = 0; v < line; v++) s += v_sum(a[q][v]);
  return s;
}
SW_VF float v_read(const void *buf, size_t bytes, sw_membw_strategy_t strategy) {
  const float *p = buf;
  size_t       n = bytes / sizeof(float);
  int          k = sw_membw_streams(strategy);
  if (k > 1) {
    size_t part = n / (size_t)k / 16 * 16;
    return b_read_streams(p, part, k) + b_read(p + part * (size_t)k, n - part * (size_t)k, 4, 0);
  }
  return strategy == SW_MEMBW_PLAIN ? b_read(p, n, 4, 0) : b_read(p, n, 8, sw_membw_pf_bytes(strategy));
}

const sw_simd_t SW_V_TABLE = {SW_V_ISA,  v_dot4,    v_dot4x2,      v_axpy4, v_rows_dot_x4,
                              v_row_axpy_y4, v_tok_run, v_bf16_to_f32, v_read};
