/* sw_wsparse: the weight-sparse kernels of kernels/sw_wsparse.h, a portable body each and AVX2+FMA bodies
 * (per-function target attributes, chosen by ctx->isa) for SpMV, spMspV, SpMM and SDDMM.  spMspV is a scalar
 * scatter on every ISA (AVX2 has no scatter), loads issued before stores (distinct rows within a column); the AVX2
 * body fuses each update into one FMA with y from memory.  The portable bitmap body walks each byte's set bits
 * through ctx->bitmap_pos (one step per non-zero, none per zero bit).
 * Bitmap SpMV expands 8 packed values per bitmap byte with one vpermps through ctx->bitmap_lut and zeroes the
 * unset lanes with vblendvps on the table entry's sign bit (AVX-512: vexpandps, kernels/sw_wsparse_avx512.c); 2:4 SpMV compresses x with vpermps through
 * ctx->nm_lut instead, so the 8 kept values of 16 columns multiply 8 gathered inputs.  8x1 blocks (sw_blk8_t)
 * need no gather: SpMV broadcasts x[c] into one 8-wide FMA per block, spMspV adds x[j] times the block to 8
 * consecutive outputs. */
#include "kernels/sw_wsparse.h"

#include <string.h>

#include "kernels/sw_wsparse_avx512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define SW_WS_X86 1
#else
#define SW_WS_X86 0
#endif

#define SW_WS_AVX2 __attribute__((target("avx2,fma,popcnt")))

static int s_use_avx2(const sw_wsparse_ctx_t *ctx) { return SW_WS_X86 && ctx->isa >= SW_ISA_AVX2; }

static void s_stats(sw_ffn_stats_t *st, double flops, double flops_dense, double bytes, double bytes_dense,
                    int n_tok) {
  if (!st) return;
  memset(st, 0, sizeof *st);
  st->flops = flops, st->flops_dense = flops_dense;
  st->weight_bytes = bytes, st->weight_bytes_dense = bytes_dense;
  st->tokens = n_tok, st->calls = 1;
}

/* The counts of one batch-1 product with a rows x cols weight. */
static void s_stats_b1(sw_ffn_stats_t *st, double flops, int rows, int cols, double bytes) {
  s_stats(st, flops, 2.0 * rows * (double)cols, bytes, 4.0 * rows * (double)cols, 1);
}

/* ---- portable bodies ---- */

static float s_csr_row_dot(const sw_csr_t *w, int r, const float *x) {
  const uint16_t *c = w->col;
  const float    *v = w->val;
  float           a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f; /* four chains: the FMA latency is not the bound */
  uint32_t        k = w->row_ptr[r], end = w->row_ptr[r + 1];
  for (; k + 4 <= end; k += 4) {
    a0 += v[k] * x[c[k]], a1 += v[k + 1] * x[c[k + 1]];
    a2 += v[k + 2] * x[c[k + 2]], a3 += v[k + 3] * x[c[k + 3]];
  }
  for (; k < end; k++) a0 += v[k] * x[c[k]];
  return (a0 + a1) + (a2 + a3);
}

static void s_spmv_csr_portable(float *y, const sw_csr_t *w, const float *x) {
  for (int r = 0; r < w->rows; r++) y[r] = s_csr_row_dot(w, r, x);
}

/* Σ over the set bits of bitmap byte m (columns xc[0..8)) of the packed values at *v, which it advances: one
 * step per non-zero through the byte's position table (bits past the last column are never set). */
static float s_bitmap_byte_dot(const sw_wsparse_ctx_t *ctx, unsigned m, const float **v, const float *xc) {
  const uint8_t *pos = ctx->bitmap_pos[m];
  const float   *pv = *v;
  const int      n = ctx->bitmap_cnt[m];
  float          acc = 0.0f;
  for (int t = 0; t < n; t++) acc += pv[t] * xc[pos[t]];
  *v = pv + n;
  return acc;
}

static void s_spmv_bitmap_portable(const sw_wsparse_ctx_t *ctx, float *y, const sw_bitmap_t *w, const float *x) {
  for (int r = 0; r < w->rows; r++) {
    const uint8_t *b = w->bits + (size_t)r * w->row_bytes;
    const float   *v = w->val + w->row_off[r];
    float          a0 = 0.0f, a1 = 0.0f; /* even and odd bytes: two addition chains */
    int            j = 0;
    for (; j + 2 <= w->row_bytes; j += 2) {
      a0 += s_bitmap_byte_dot(ctx, b[j], &v, x + 8 * j);
      a1 += s_bitmap_byte_dot(ctx, b[j + 1], &v, x + 8 * j + 8);
    }
    if (j < w->row_bytes) a0 += s_bitmap_byte_dot(ctx, b[j], &v, x + 8 * j);
    y[r] = a0 + a1;
  }
}

/* Dot of one row's groups [g0, g1) with x. */
static float s_nm24_groups_dot(const sw_nm24_t *w, int r, int g0, int g1, const float *x) {
  const float   *v = w->val + (size_t)r * (w->cols / 2);
  const uint8_t *meta = w->meta + (size_t)r * (w->cols / 8);
  float          acc = 0.0f;
  for (int g = g0; g < g1; g++) {
    unsigned nib = (unsigned)meta[g / 2] >> (4 * (g & 1)) & 15u;
    acc += v[2 * g] * x[4 * g + (int)(nib & 3u)] + v[2 * g + 1] * x[4 * g + (int)(nib >> 2)];
  }
  return acc;
}

static void s_spmv_nm24_portable(float *y, const sw_nm24_t *w, const float *x) {
  for (int r = 0; r < w->rows; r++) y[r] = s_nm24_groups_dot(w, r, 0, w->cols / 4, x);
}

/* Rows of row group g that exist (8, or fewer in the last group). */
static int s_blk8_live(const sw_blk8_t *w, int g) { return w->rows - 8 * g < 8 ? w->rows - 8 * g : 8; }

static void s_spmv_blk8_portable(float *y, const sw_blk8_t *w, const float *x) {
  for (int g = 0; g < w->n_outer; g++) {
    float acc[8] = {0};
    for (uint32_t k = w->ptr[g]; k < w->ptr[g + 1]; k++) {
      const float xc = x[w->idx[k]], *v = w->val + 8 * (size_t)k;
      for (int i = 0; i < 8; i++) acc[i] += v[i] * xc;
    }
    memcpy(y + 8 * (size_t)g, acc, (size_t)s_blk8_live(w, g) * sizeof *y);
  }
}

/* y rows of block k (row group idx[k]) += xj * its values; the last group's missing rows are skipped. */
static void s_blk8_axpy_portable(float *y, const sw_blk8_t *w, uint32_t k, float xj) {
  const int    g = w->idx[k], n = s_blk8_live(w, g);
  const float *v = w->val + 8 * (size_t)k;
  float       *out = y + 8 * (size_t)g;
  for (int i = 0; i < n; i++) out[i] += xj * v[i];
}

static void s_spmspv_blk8_portable(float *y, const sw_blk8_t *w, const float *x, const int32_t *act, int n_act) {
  for (int a = 0; a < n_act; a++)
    for (uint32_t k = w->ptr[act[a]]; k < w->ptr[act[a] + 1]; k++) s_blk8_axpy_portable(y, w, k, x[act[a]]);
}

/* ---- AVX2 bodies ---- */
#if SW_WS_X86
static SW_WS_AVX2 float s_hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* x at 8 column indices from scalar loads (measured faster than vgatherdps on Zen 3: 2.2 vs 1.3 G nnz/s).  The
 * vector initialiser, unlike _mm_insert_ps of _mm_load_ss, lets GCC fold half the loads into vinsertps.  The
 * eight indices come from two 64-bit loads split by shifts rather than eight 16-bit loads: the kernel is bound by
 * loads issued, not by instructions (with the matrix in L2, 3.2 against 2.9 G non-zeros/s at 4.6 against 3.3
 * instructions per non-zero under callgrind; cold, Llama-7B up projection at ws 0.7, idle: /ideal 0.63-0.68
 * against 0.62-0.64). */
static inline SW_WS_AVX2 __m256 s_gather8(const float *x, const uint16_t *c) {
  uint64_t lo, hi;
  memcpy(&lo, c, sizeof lo), memcpy(&hi, c + 4, sizeof hi);
  return _mm256_setr_ps(x[lo & 0xffff], x[lo >> 16 & 0xffff], x[lo >> 32 & 0xffff], x[lo >> 48], x[hi & 0xffff],
                        x[hi >> 16 & 0xffff], x[hi >> 32 & 0xffff], x[hi >> 48]);
}

/* pf: the software prefetch distance in non-zeros (ctx->prefetch_nnz, kernels/sw_wsparse.h). */
static SW_WS_AVX2 void s_spmv_csr_avx2(float *y, const sw_csr_t *w, const float *x, size_t pf) {
  for (int r = 0; r < w->rows; r++) {
    uint32_t k = w->row_ptr[r], end = w->row_ptr[r + 1];
    __m256   a0 = _mm256_setzero_ps(), a1 = a0;
    for (; k + 16 <= end; k += 16) {
      _mm_prefetch((const char *)(w->val + k + pf), _MM_HINT_T0);
      _mm_prefetch((const char *)(w->col + k + pf), _MM_HINT_T0);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w->val + k), s_gather8(x, w->col + k), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w->val + k + 8), s_gather8(x, w->col + k + 8), a1);
    }
    float acc = s_hsum256(_mm256_add_ps(a0, a1));
    for (; k < end; k++) acc += w->val[k] * x[w->col[k]];
    y[r] = acc;
  }
}

/* The 8 lanes of bitmap byte m expanded from the packed values at v (unset lanes zero). */
static inline SW_WS_AVX2 __m256 s_expand8(const sw_wsparse_ctx_t *ctx, unsigned m, const float *v) {
  __m256i p = _mm256_loadu_si256((const __m256i *)ctx->bitmap_lut[m]);
  __m256  d = _mm256_loadu_ps(v);
  /* An empty asm on d keeps the load a separate instruction: GCC otherwise folds it into vpermps as its memory
   * operand, which ran 10-30 % slower on Zen 3 (a 32-row slice in L2, interleaved: 0.73-0.82 against 0.64-0.73
   * G 8-column steps per second, 1.37 against 1.03 on a quieter run). */
  __asm__("" : "+x"(d));
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(d, p), _mm256_setzero_ps(), _mm256_castsi256_ps(p));
}

/* Eight bitmap bytes (64 columns) from one 64-bit load: each byte's value offset is the popcount of the word's
 * bits below it (a constant mask once unrolled, and popcnt), so the eight expansions are independent of each other;
 * one accumulator per byte keeps 8 FMAs in flight (2 pipes x 4 cycles of latency on Zen 3). */
static inline __attribute__((always_inline)) SW_WS_AVX2 void
s_bitmap_word64(const sw_wsparse_ctx_t *ctx, uint64_t m, const float *v, const float *x, __m256 a[8]) {
  for (int u = 0; u < 8; u++) {
    const int off = (int)_mm_popcnt_u64(m & ((1ull << (8 * u)) - 1)); /* u = 0: no bits below */
    a[u] = _mm256_fmadd_ps(s_expand8(ctx, (unsigned)(m >> (8 * u)) & 0xffu, v + off), _mm256_loadu_ps(x + 8 * u), a[u]);
  }
}

static SW_WS_AVX2 void s_spmv_bitmap_avx2(const sw_wsparse_ctx_t *ctx, float *y, const sw_bitmap_t *w,
                                          const float *x) {
  const int full = w->cols / 8;
  for (int r = 0; r < w->rows; r++) {
    const uint8_t *b = w->bits + (size_t)r * w->row_bytes;
    const float   *v = w->val + w->row_off[r];
    __m256         a[8];
    for (int u = 0; u < 8; u++) a[u] = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= full; j += 8) {
      uint64_t m;
      memcpy(&m, b + j, sizeof m);
      _mm_prefetch((const char *)(v + ctx->prefetch_nnz), _MM_HINT_T0);
      s_bitmap_word64(ctx, m, v, x + 8 * j, a);
      v += _mm_popcnt_u64(m);
    }
    for (; j < full; j++) {
      a[0] = _mm256_fmadd_ps(s_expand8(ctx, b[j], v), _mm256_loadu_ps(x + 8 * j), a[0]);
      v += __builtin_popcount(b[j]);
    }
    for (int u = 1; u < 8; u++) a[0] = _mm256_add_ps(a[0], a[u]);
    float acc = s_hsum256(a[0]);
    if (j < w->row_bytes) acc += s_bitmap_byte_dot(ctx, b[j], &v, x + 8 * j);
    y[r] = acc;
  }
}

static SW_WS_AVX2 void s_spmv_nm24_avx2(const sw_wsparse_ctx_t *ctx, float *y, const sw_nm24_t *w, const float *x) {
  const int n16 = w->cols / 16;
  for (int r = 0; r < w->rows; r++) {
    const float   *v = w->val + (size_t)r * (w->cols / 2);
    const uint8_t *meta = w->meta + (size_t)r * (w->cols / 8);
    __m256         acc = _mm256_setzero_ps();
    for (int q = 0; q < n16; q++) {
      __m256i p0 = _mm256_loadu_si256((const __m256i *)ctx->nm_lut[meta[2 * q]]);
      __m256i p1 = _mm256_loadu_si256((const __m256i *)ctx->nm_lut[meta[2 * q + 1]]);
      __m256  c0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + 16 * q), p0);
      __m256  c1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + 16 * q + 8), p1);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(v + 8 * q), _mm256_blend_ps(c0, c1, 0xF0), acc);
    }
    y[r] = s_hsum256(acc) + s_nm24_groups_dot(w, r, 4 * n16, w->cols / 4, x);
  }
}

/* Blocks [k, end) of one row group added to acc, one broadcast x load and one 8-wide FMA each. */
static inline SW_WS_AVX2 __m256 s_blk8_run(const sw_blk8_t *w, uint32_t k, uint32_t end, const float *x, __m256 acc) {
  for (; k < end; k++) acc = _mm256_fmadd_ps(_mm256_loadu_ps(w->val + 8 * (size_t)k), _mm256_broadcast_ss(x + w->idx[k]), acc);
  return acc;
}

/* The rows of group g (8, or fewer in the last group) from acc. */
static inline SW_WS_AVX2 void s_blk8_store(float *y, const sw_blk8_t *w, int g, __m256 acc) {
  if (s_blk8_live(w, g) == 8) _mm256_storeu_ps(y + 8 * (size_t)g, acc);
  else {
    float tmp[8];
    _mm256_storeu_ps(tmp, acc);
    memcpy(y + 8 * (size_t)g, tmp, (size_t)s_blk8_live(w, g) * sizeof *y);
  }
}

/* Row groups g and g + 1 in flight: two blocks of each per step over their common length (four accumulators),
 * then the longer one's remaining blocks.  Two sequential streams instead of one keep more cache misses
 * outstanding on a cold matrix. */
static inline SW_WS_AVX2 void s_blk8_pair_avx2(float *y, const sw_blk8_t *w, const float *x, int g) {
  const uint32_t  k0 = w->ptr[g], k1 = w->ptr[g + 1], k2 = w->ptr[g + 2];
  const uint32_t  n = k1 - k0 < k2 - k1 ? k1 - k0 : k2 - k1;
  const float    *p = w->val + 8 * (size_t)k0, *q = w->val + 8 * (size_t)k1;
  const uint16_t *cp = w->idx + k0, *cq = w->idx + k1;
  __m256          a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
  uint32_t        t = 0;
  for (; t + 2 <= n; t += 2) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8 * (size_t)t), _mm256_broadcast_ss(x + cp[t]), a0);
    b0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * (size_t)t), _mm256_broadcast_ss(x + cq[t]), b0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8 * (size_t)t + 8), _mm256_broadcast_ss(x + cp[t + 1]), a1);
    b1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * (size_t)t + 8), _mm256_broadcast_ss(x + cq[t + 1]), b1);
  }
  s_blk8_store(y, w, g, s_blk8_run(w, k0 + t, k1, x, _mm256_add_ps(a0, a1)));
  s_blk8_store(y, w, g + 1, s_blk8_run(w, k1 + t, k2, x, _mm256_add_ps(b0, b1)));
}

/* Pairs of row groups, then the odd last group alone.  No software prefetch: the two streams are sequential and
 * the hardware prefetcher follows them (idle, Llama-7B up projection at ws 0.7, cold: /ideal 0.70-0.76 with 32
 * KiB of prefetch ahead, 0.79-0.87 without, 0.87-0.99 with two groups in flight and 0.87-0.88 with four; README.md
 * "Weight sparsity beside activation sparsity"). */
static SW_WS_AVX2 void s_spmv_blk8_avx2(float *y, const sw_blk8_t *w, const float *x) {
  int g = 0;
  for (; g + 2 <= w->n_outer; g += 2) s_blk8_pair_avx2(y, w, x, g);
  if (g < w->n_outer) s_blk8_store(y, w, g, s_blk8_run(w, w->ptr[g], w->ptr[g + 1], x, _mm256_setzero_ps()));
}

/* Per active column: its blocks' 8-wide updates of y, while the next active column is prefetched line by line at
 * the same offset (the columns read are not adjacent, so each one would restart the hardware prefetcher).  A
 * column's blocks are in increasing row group, so only its last block can be the partial last group: that one
 * goes to the portable update and the loop over the others has no branch (Llama-7B up projection at 70 x 50 %,
 * cold, load average 3: 1.91-1.92 ms against 2.33-2.44 ms with a test for the partial group in every block). */
static SW_WS_AVX2 void s_spmspv_blk8_avx2(float *y, const sw_blk8_t *w, const float *x, const int32_t *act,
                                          int n_act) {
  const int full = w->rows / 8;
  for (int a = 0; a < n_act; a++) {
    const uint32_t k0 = w->ptr[act[a]], k1 = w->ptr[act[a] + 1];
    const uint32_t n0 = a + 1 < n_act ? w->ptr[act[a + 1]] : k0; /* next column's first block */
    const uint32_t kf = k1 > k0 && w->idx[k1 - 1] >= full ? k1 - 1 : k1;
    const __m256   xj = _mm256_set1_ps(x[act[a]]);
    for (uint32_t k = k0; k < kf; k++) {
      float *out = y + 8 * (size_t)w->idx[k];
      _mm_prefetch((const char *)(w->val + 8 * (size_t)(n0 + k - k0)), _MM_HINT_T0);
      if (((k - k0) & 31) == 0) _mm_prefetch((const char *)(w->idx + n0 + k - k0), _MM_HINT_T0);
      _mm256_storeu_ps(out, _mm256_fmadd_ps(xj, _mm256_loadu_ps(w->val + 8 * (size_t)k), _mm256_loadu_ps(out)));
    }
    if (kf < k1) s_blk8_axpy_portable(y, w, kf, x[act[a]]);
  }
}

/* One non-zero of the scatter: y[idx] + xj * val as one FMA (no rounding between product and sum). */
#define SW_WS_SCAT(i) __builtin_fmaf(xj, val[i], y[idx[i]])

/* Eight non-zeros from i: eight loads before eight stores (the rows of one column are distinct, so no store
 * feeds a load of the same step). */
static inline __attribute__((always_inline)) SW_WS_AVX2 void s_scatter8(float *y, const uint16_t *idx, const float *val,
                                                                       size_t i, float xj) {
  const float t0 = SW_WS_SCAT(i), t1 = SW_WS_SCAT(i + 1), t2 = SW_WS_SCAT(i + 2), t3 = SW_WS_SCAT(i + 3);
  const float t4 = SW_WS_SCAT(i + 4), t5 = SW_WS_SCAT(i + 5), t6 = SW_WS_SCAT(i + 6), t7 = SW_WS_SCAT(i + 7);
  y[idx[i]] = t0, y[idx[i + 1]] = t1, y[idx[i + 2]] = t2, y[idx[i + 3]] = t3;
  y[idx[i + 4]] = t4, y[idx[i + 5]] = t5, y[idx[i + 6]] = t6, y[idx[i + 7]] = t7;
}

/* y[idx[0..n)] += xj * val[0..n) for one column, 16 non-zeros per step with one index increment, so each
 * non-zero costs an index load, a value load, an FMA with y from memory and a store (callgrind: about 5.3
 * instructions per non-zero); the next active column (at nv, ni) is prefetched one line of each per step at the
 * offset reached in this one (the index line twice: 16 indices are half a line). */
static inline SW_WS_AVX2 void s_scatter_col_avx2(float *y, const uint16_t *idx, const float *val, size_t n, float xj,
                                                 const float *nv, const uint16_t *ni) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm_prefetch((const char *)(nv + i), _MM_HINT_T0);
    _mm_prefetch((const char *)(ni + i), _MM_HINT_T0);
    s_scatter8(y, idx, val, i, xj);
    s_scatter8(y, idx, val, i + 8, xj);
  }
  for (; i < n; i++) y[idx[i]] = SW_WS_SCAT(i);
}
#undef SW_WS_SCAT

/* spMspV over the active columns only: the weight bytes read are those of the active columns' non-zeros. */
static SW_WS_AVX2 void s_spmspv_csc_avx2(float *y, const sw_csr_t *wt, const float *x, const int32_t *act,
                                        int n_act) {
  for (int a = 0; a < n_act; a++) {
    const uint32_t k0 = wt->row_ptr[act[a]], k1 = wt->row_ptr[act[a] + 1];
    const uint32_t n0 = a + 1 < n_act ? wt->row_ptr[act[a + 1]] : k0;
    s_scatter_col_avx2(y, wt->col + k0, wt->val + k0, k1 - k0, x[act[a]], wt->val + n0, wt->col + n0);
  }
}
#endif

void sw_spmv_csr(const sw_wsparse_ctx_t *ctx, float *y, const sw_csr_t *w, const float *x, sw_ffn_stats_t *st) {
#if SW_WS_X86
  if (s_use_avx2(ctx)) s_spmv_csr_avx2(y, w, x, ctx->prefetch_nnz);
  else
#endif
    s_spmv_csr_portable(y, w, x);
  s_stats_b1(st, 2.0 * (double)w->nnz, w->rows, w->cols, sw_csr_bytes(w));
}

void sw_spmv_bitmap(const sw_wsparse_ctx_t *ctx, float *y, const sw_bitmap_t *w, const float *x,
                    sw_ffn_stats_t *st) {
#if SW_WS_X86
  if (ctx->bitmap_permute) sw_spmv_bitmap_avx512_permute(y, w, x, ctx->prefetch_nnz); /* implies AVX-512 */
  else if (ctx->isa >= SW_ISA_AVX512) sw_spmv_bitmap_avx512(y, w, x, ctx->prefetch_nnz);
  else if (s_use_avx2(ctx)) s_spmv_bitmap_avx2(ctx, y, w, x);
  else
#endif
    s_spmv_bitmap_portable(ctx, y, w, x);
  s_stats_b1(st, 2.0 * (double)w->nnz, w->rows, w->cols, sw_bitmap_bytes(w));
}

void sw_spmv_nm24(const sw_wsparse_ctx_t *ctx, float *y, const sw_nm24_t *w, const float *x, sw_ffn_stats_t *st) {
#if SW_WS_X86
  if (s_use_avx2(ctx)) s_spmv_nm24_avx2(ctx, y, w, x);
  else
#endif
    s_spmv_nm24_portable(y, w, x);
  s_stats_b1(st, 1.0 * w->rows * (double)w->cols, w->rows, w->cols, sw_nm24_bytes(w));
}

void sw_spmv_blk8(const sw_wsparse_ctx_t *ctx, float *y, const sw_blk8_t *w, const float *x, sw_ffn_stats_t *st) {
#if SW_WS_X86
  if (s_use_avx2(ctx)) s_spmv_blk8_avx2(y, w, x);
  else
#endif
    s_spmv_blk8_portable(y, w, x);
  s_stats_b1(st, 16.0 * (double)w->n_blocks, w->rows, w->cols, sw_blk8_bytes(w));
}

/* Entries (non-zeros or blocks) of the active outer indices act[0..n_act) of a pointer array: what spMspV reads. */
static size_t s_active_entries(const uint32_t *ptr, const int32_t *act, int n_act) {
  size_t n = 0;
  for (int a = 0; a < n_act; a++) n += ptr[act[a] + 1] - ptr[act[a]];
  return n;
}

void sw_spmspv_blk8(const sw_wsparse_ctx_t *ctx, float *y, const sw_blk8_t *w, const float *x, const int32_t *act,
                    int n_act, sw_ffn_stats_t *st) {
  memset(y, 0, (size_t)w->rows * sizeof *y);
#if SW_WS_X86
  if (s_use_avx2(ctx)) s_spmspv_blk8_avx2(y, w, x, act, n_act);
  else
#endif
    s_spmspv_blk8_portable(y, w, x, act, n_act);
  const size_t read = s_active_entries(w->ptr, act, n_act);
  s_stats_b1(st, 16.0 * (double)read, w->rows, w->cols,
             (double)read * (8 * sizeof(float) + sizeof(uint16_t)) + 2.0 * n_act * sizeof(uint32_t));
}

/* The portable spMspV: a scalar scatter, four loads issued before four stores (distinct rows within a column). */
static void s_spmspv_csc_portable(float *y, const sw_csr_t *wt, const float *x, const int32_t *act, int n_act) {
  for (int a = 0; a < n_act; a++) {
    const int32_t   j = act[a];
    const uint32_t  k0 = wt->row_ptr[j], k1 = wt->row_ptr[j + 1];
    const float     xj = x[j];
    const uint16_t *idx = wt->col;
    const float    *val = wt->val;
    uint32_t        k = k0;
    /* the next active column is not adjacent: fetch it line by line at the offset reached in this one */
    const uint32_t n0 = a + 1 < n_act ? wt->row_ptr[act[a + 1]] : k0;
    for (; k + 4 <= k1; k += 4) { /* four loads before four stores: no store-to-load ordering stalls */
      if (((k - k0) & 15) == 0) __builtin_prefetch(val + n0 + (k - k0)), __builtin_prefetch(idx + n0 + (k - k0));
      float t0 = y[idx[k]] + xj * val[k], t1 = y[idx[k + 1]] + xj * val[k + 1];
      float t2 = y[idx[k + 2]] + xj * val[k + 2], t3 = y[idx[k + 3]] + xj * val[k + 3];
      y[idx[k]] = t0, y[idx[k + 1]] = t1, y[idx[k + 2]] = t2, y[idx[k + 3]] = t3;
    }
    for (; k < k1; k++) y[idx[k]] += xj * val[k];
  }
}

void sw_spmspv_csc(const sw_wsparse_ctx_t *ctx, float *y, const sw_csr_t *wt, const float *x, const int32_t *act,
                   int n_act, sw_ffn_stats_t *st) {
  memset(y, 0, (size_t)wt->cols * sizeof *y);
#if SW_WS_X86
  if (s_use_avx2(ctx)) s_spmspv_csc_avx2(y, wt, x, act, n_act);
  else
#endif
    s_spmspv_csc_portable(y, wt, x, act, n_act);
  const size_t read = s_active_entries(wt->row_ptr, act, n_act);
  s_stats_b1(st, 2.0 * (double)read, wt->rows, wt->cols,
             (double)read * (sizeof(float) + sizeof(uint16_t)) + 2.0 * n_act * sizeof(uint32_t));
}

void sw_spmspv_csc_blocked(const sw_wsparse_ctx_t *ctx, float *y, const sw_csc_blocked_t *w, const float *x,
                           const int32_t *act, int n_act, sw_ffn_stats_t *st) {
  sw_ffn_stats_t sum = {0}, one;
  for (int b = 0; b < w->n_blocks; b++) {
    sw_spmspv_csc(ctx, y + (size_t)b * w->block_rows, &w->blk[b], x, act, n_act, &one);
    sw_ffn_stats_add(&sum, &one);
  }
  sum.calls = 1, sum.tokens = 1;
  if (st) *st = sum;
}

/* ---- SpMM: token-minor copies (ld = n_tok rounded up to 8, zero padded) so a non-zero updates a run of tokens ---- */

static int s_ld8(int n_tok) { return (n_tok + 7) / 8 * 8; }

size_t sw_spmm_scratch_floats(const sw_csr_t *w, int n_tok) {
  return ((size_t)w->cols + (size_t)w->rows) * (size_t)s_ld8(n_tok);
}

static void s_transpose_in(float *xt, const float *x, int n_tok, int cols, int ld) {
  for (int c = 0; c < cols; c++) {
    for (int t = 0; t < n_tok; t++) xt[(size_t)c * ld + t] = x[(size_t)t * cols + c];
    for (int t = n_tok; t < ld; t++) xt[(size_t)c * ld + t] = 0.0f;
  }
}

static void s_transpose_out(float *y, const float *yt, int n_tok, int rows, int ld) {
  for (int t = 0; t < n_tok; t++)
    for (int r = 0; r < rows; r++) y[(size_t)t * rows + r] = yt[(size_t)r * ld + t];
}

static void s_spmm_portable(float *yt, const sw_csr_t *w, const float *xt, int ld) {
  for (int r = 0; r < w->rows; r++) {
    float *acc = yt + (size_t)r * ld;
    for (int t = 0; t < ld; t++) acc[t] = 0.0f;
    for (uint32_t k = w->row_ptr[r]; k < w->row_ptr[r + 1]; k++) {
      const float  v = w->val[k];
      const float *xr = xt + (size_t)w->col[k] * ld;
      for (int t = 0; t < ld; t++) acc[t] += v * xr[t];
    }
  }
}

#if SW_WS_X86
/* One row, tokens [t0, t0 + 8·nacc): nacc accumulators kept in registers (nacc a constant after inlining). */
static inline __attribute__((always_inline)) SW_WS_AVX2 void s_spmm_row_blk(float *out, const sw_csr_t *w, int r,
                                                                           const float *xt, int ld, int t0,
                                                                           int nacc) {
  __m256 acc[4];
  for (int a = 0; a < nacc; a++) acc[a] = _mm256_setzero_ps();
  for (uint32_t k = w->row_ptr[r]; k < w->row_ptr[r + 1]; k++) {
    const __m256 v = _mm256_broadcast_ss(w->val + k);
    const float *xr = xt + (size_t)w->col[k] * ld + t0;
    for (int a = 0; a < nacc; a++) acc[a] = _mm256_fmadd_ps(v, _mm256_loadu_ps(xr + 8 * a), acc[a]);
  }
  for (int a = 0; a < nacc; a++) _mm256_storeu_ps(out + t0 + 8 * a, acc[a]);
}

static SW_WS_AVX2 void s_spmm_avx2(float *yt, const sw_csr_t *w, const float *xt, int ld) {
  for (int r = 0; r < w->rows; r++) {
    float *out = yt + (size_t)r * ld;
    int    t = 0;
    for (; t + 32 <= ld; t += 32) s_spmm_row_blk(out, w, r, xt, ld, t, 4);
    if (t + 16 <= ld) s_spmm_row_blk(out, w, r, xt, ld, t, 2), t += 16;
    if (t < ld) s_spmm_row_blk(out, w, r, xt, ld, t, 1);
  }
}
#endif

void sw_spmm_csr(const sw_wsparse_ctx_t *ctx, float *y, const sw_csr_t *w, const float *x, int n_tok,
                 float *scratch, sw_ffn_stats_t *st) {
  const int ld = s_ld8(n_tok);
  float    *xt = scratch, *yt = scratch + (size_t)w->cols * ld;
  s_transpose_in(xt, x, n_tok, w->cols, ld);
#if SW_WS_X86
  if (s_use_avx2(ctx)) s_spmm_avx2(yt, w, xt, ld);
  else
#endif
    s_spmm_portable(yt, w, xt, ld);
  s_transpose_out(y, yt, n_tok, w->rows, ld);
  s_stats(st, 2.0 * (double)w->nnz * n_tok, 2.0 * w->rows * (double)w->cols * n_tok, sw_csr_bytes(w),
          4.0 * w->rows * (double)w->cols, n_tok);
}

/* ---- SDDMM ---- */

static float s_dot_portable(const float *a, const float *b, int k) {
  float acc = 0.0f;
  for (int i = 0; i < k; i++) acc += a[i] * b[i];
  return acc;
}

#if SW_WS_X86
static SW_WS_AVX2 float s_dot_avx2(const float *a, const float *b, int k) {
  __m256 acc = _mm256_setzero_ps();
  int    i = 0;
  for (; i + 8 <= k; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = s_hsum256(acc);
  for (; i < k; i++) s += a[i] * b[i];
  return s;
}
#endif

void sw_sddmm_csr(const sw_wsparse_ctx_t *ctx, float *out, const sw_csr_t *s, const float *a, const float *b, int k,
                  sw_ffn_stats_t *st) {
  float (*dot)(const float *, const float *, int) = s_dot_portable;
#if SW_WS_X86
  if (s_use_avx2(ctx)) dot = s_dot_avx2;
#endif
  for (int i = 0; i < s->rows; i++)
    for (uint32_t p = s->row_ptr[i]; p < s->row_ptr[i + 1]; p++)
      out[p] = s->val[p] * dot(a + (size_t)i * k, b + (size_t)s->col[p] * k, k);
  s_stats(st, 2.0 * (double)s->nnz * k, 2.0 * s->rows * (double)s->cols * k, sw_csr_bytes(s) + 4.0 * (double)s->nnz,
          4.0 * s->rows * (double)s->cols, s->rows);
}
