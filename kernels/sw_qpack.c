/* sw_qpack: the row-interleaved quantised GEMV/GEMM (layout and reasoning in sw_qpack.h).
 *
 * Integer range of the Q4 step: pmaddubsw of 4-bit weights (0..15) by activation bytes (|q| <= 127) gives
 * int16 pairs of at most 2*15*127 = 3810; the 8 steps of a block add to at most 30480 < 32767, so a block's
 * sums stay in int16 until one pmaddwd widens them.  Q8_0 weights are signed: |w| times the activation byte
 * with w's sign (the usual psignb trick), at most 2*128*127 = 32512 per pair, widened after every step. */
#include "kernels/sw_qpack.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/sw_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define QP_TILE 4 /* tokens per pass over a group's blocks (prefill) */

static size_t pack_block_bytes(uint32_t type) {
  switch (type) {
    case SW_QTYPE_Q4_1: return 32 + 128;
    case SW_QTYPE_Q4_0: return 16 + 128;
    case SW_QTYPE_Q8_0: return 16 + 256;
    default: return 0;
  }
}

/* Offset of the quantised values inside a packed block. */
static size_t pack_q_offset(uint32_t type) { return type == SW_QTYPE_Q4_1 ? 32 : 16; }

size_t sw_qpack_bytes(uint32_t type, int rows, int cols) {
  size_t groups = (size_t)(rows + SW_QPACK_ROWS - 1) / SW_QPACK_ROWS;
  return groups * (size_t)(cols / SW_QBLOCK) * pack_block_bytes(type);
}

/* Element e (0..31) of a Q4 block's nibbles in the file's order (low nibbles 0..15, high 16..31). */
static int file_nibble(const uint8_t *q, int e) { return e < 16 ? q[e] & 15 : q[e - 16] >> 4; }

/* Row r (0..7) of one packed block from the file block `src`. */
static void pack_row_block(uint8_t *blk, uint32_t type, int r, const uint8_t *src) {
  uint8_t *q = blk + pack_q_offset(type);
  memcpy(blk + 2 * r, src, 2); /* d */
  if (type == SW_QTYPE_Q4_1) memcpy(blk + 16 + 2 * r, src + 2, 2); /* m */
  if (type == SW_QTYPE_Q8_0) {
    for (int p = 0; p < 8; p++) memcpy(q + 32 * p + 4 * r, src + 2 + 4 * p, 4);
    return;
  }
  const uint8_t *sq = src + (type == SW_QTYPE_Q4_1 ? 4 : 2);
  for (int p = 0; p < 4; p++)
    for (int i = 0; i < 4; i++)
      q[32 * p + 4 * r + i] = (uint8_t)(file_nibble(sq, 8 * p + i) | file_nibble(sq, 8 * p + 4 + i) << 4);
}

void sw_qpack_into(sw_qpack_t *p, const sw_qmat_t *W, uint8_t *dst) {
  int nb = W->cols / SW_QBLOCK;
  size_t sb = sw_qtype_block_bytes(W->type);
  p->type = W->type, p->rows = W->rows, p->cols = W->cols;
  p->groups = (W->rows + SW_QPACK_ROWS - 1) / SW_QPACK_ROWS;
  p->block_bytes = pack_block_bytes(W->type);
  p->group_bytes = (size_t)nb * p->block_bytes;
  p->data = dst;
  memset(dst, 0, (size_t)p->groups * p->group_bytes); /* padding rows: zero scales and values */
  for (int row = 0; row < W->rows; row++) {
    uint8_t *g = dst + (size_t)(row / SW_QPACK_ROWS) * p->group_bytes;
    for (int b = 0; b < nb; b++)
      pack_row_block(g + (size_t)b * p->block_bytes, W->type, row % SW_QPACK_ROWS,
                     W->data + (size_t)row * W->row_bytes + (size_t)b * sb);
  }
}

sw_rc sw_qpack_build(sw_qpack_t *p, const sw_qmat_t *W, const char *what, sw_err_t *err) {
  memset(p, 0, sizeof *p);
  size_t bytes = sw_qpack_bytes(W->type, W->rows, W->cols);
  if (!bytes) return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: no packed layout for type %u", what, W->type);
  void *dst = NULL;
  if (posix_memalign(&dst, 64, bytes) != 0)
    return sw_err_set(err, SW_ERR_NOMEM, "%s: cannot allocate %zu bytes of packed weights", what, bytes);
  sw_qpack_into(p, W, dst);
  return SW_OK;
}

void sw_qpack_free(sw_qpack_t *p) {
  free(p->data);
  memset(p, 0, sizeof *p);
}

/* ---- portable body: one group, a tile of nt tokens; out[t * 8 + r] ---- */

static int portable_row_sum(const uint8_t *q, uint32_t type, int r, const int8_t *x) {
  int s = 0;
  if (type == SW_QTYPE_Q8_0) {
    for (int p = 0; p < 8; p++)
      for (int i = 0; i < 4; i++) s += (int8_t)q[32 * p + 4 * r + i] * x[4 * p + i];
    return s;
  }
  for (int p = 0; p < 4; p++)
    for (int i = 0; i < 4; i++) {
      int v = q[32 * p + 4 * r + i];
      s += (v & 15) * x[8 * p + i] + (v >> 4) * x[8 * p + 4 + i];
    }
  return s;
}

static void group_portable(const sw_qpack_t *P, const uint8_t *g, const sw_q8a_t *xq, int nb, int nt, float *out) {
  for (int t = 0; t < nt; t++) {
    float acc[SW_QPACK_ROWS] = {0}, accm[SW_QPACK_ROWS] = {0};
    for (int b = 0; b < nb; b++) {
      const uint8_t *blk = g + (size_t)b * P->block_bytes;
      const sw_q8a_t *a = xq + (size_t)t * nb + b;
      for (int r = 0; r < SW_QPACK_ROWS; r++) {
        float d = sw_qf16_to_f32((uint16_t)(blk[2 * r] | blk[2 * r + 1] << 8));
        float m = P->type == SW_QTYPE_Q4_1   ? sw_qf16_to_f32((uint16_t)(blk[16 + 2 * r] | blk[17 + 2 * r] << 8))
                  : P->type == SW_QTYPE_Q4_0 ? -8.0f * d
                                             : 0.0f;
        acc[r] += d * a->d * (float)portable_row_sum(blk + pack_q_offset(P->type), P->type, r, a->qs);
        accm[r] += m * a->s;
      }
    }
    for (int r = 0; r < SW_QPACK_ROWS; r++) out[t * SW_QPACK_ROWS + r] = acc[r] + accm[r];
  }
}

/* ---- AVX2 bodies (the AVX-512 variant runs them too, compiled for AVX2) ---- */
#if defined(__x86_64__)
#define SW_QP_AVX2 __attribute__((target("avx2,fma,f16c")))
#define SW_QP_INLINE SW_QP_AVX2 static inline __attribute__((always_inline))

/* 4 activation bytes broadcast to every 32-bit lane. */
SW_QP_INLINE __m256i bcast4(const int8_t *x) {
  int32_t v;
  memcpy(&v, x, 4);
  return _mm256_set1_epi32(v);
}

/* Lane r: the integer dot of row r's Q4 block with the activation block x, as float. */
SW_QP_INLINE __m256 q4_block_sums(const uint8_t *q, const int8_t *x) {
  const __m256i m4 = _mm256_set1_epi8(15);
  __m256i s16 = _mm256_setzero_si256();
  for (int p = 0; p < 4; p++) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * p));
    __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo, bcast4(x + 8 * p)));
    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi, bcast4(x + 8 * p + 4)));
  }
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
}

SW_QP_INLINE __m256 q8_block_sums(const uint8_t *q, const int8_t *x) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i s32 = _mm256_setzero_si256();
  for (int p = 0; p < 8; p++) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * p));
    __m256i prod = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(bcast4(x + 4 * p), v));
    s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(prod, ones));
  }
  return _mm256_cvtepi32_ps(s32);
}

/* One block of one token: acc += (d * d_a) * sums; accm += m * s_a (Q4 offsets; Q8_0 has none). */
SW_QP_INLINE void block_step(uint32_t type, const uint8_t *blk, __m256 d, __m256 m, const sw_q8a_t *a, __m256 *acc,
                             __m256 *accm) {
  __m256 sums = type == SW_QTYPE_Q8_0 ? q8_block_sums(blk + 16, a->qs) : q4_block_sums(blk + pack_q_offset(type), a->qs);
  *acc = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(a->d)), sums, *acc);
  if (type != SW_QTYPE_Q8_0) *accm = _mm256_fmadd_ps(m, _mm256_set1_ps(a->s), *accm);
}

/* The block's 8 row scales and offsets (Q4_0: m = -8 d, the format's zero point). */
SW_QP_INLINE void block_scales(uint32_t type, const uint8_t *blk, __m256 *d, __m256 *m) {
  *d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
  if (type == SW_QTYPE_Q4_1) *m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));
  else if (type == SW_QTYPE_Q4_0) *m = _mm256_mul_ps(*d, _mm256_set1_ps(-8.0f));
  else *m = _mm256_setzero_ps();
}

/* One token (decode): the accumulators stay in registers.  Same operations per token as group_tile_avx2, except
 * that an all-zero activation block (d = 0, e.g. 32 inputs zeroed by a threshold) is skipped: its terms are
 * (d_w * 0) * sums and m * 0, which leave the accumulators unchanged for finite weights. */
SW_QP_INLINE void group_one_avx2(uint32_t type, size_t bb, const uint8_t *g, const sw_q8a_t *a, int nb, float *out) {
  __m256 acc = _mm256_setzero_ps(), accm = acc, d, m;
  for (int b = 0; b < nb; b++, g += bb) {
    if (a[b].d == 0.0f) continue;
    block_scales(type, g, &d, &m);
    block_step(type, g, d, m, a + b, &acc, &accm);
  }
  _mm256_storeu_ps(out, _mm256_add_ps(acc, accm));
}

/* A tile of nt <= QP_TILE tokens (prefill): each block's scales are converted once for the tile. */
SW_QP_INLINE void group_tile_avx2(uint32_t type, size_t bb, const uint8_t *g, const sw_q8a_t *xq, int nb, int nt,
                                  float *out) {
  __m256 acc[QP_TILE], accm[QP_TILE], d, m;
  for (int t = 0; t < QP_TILE; t++) acc[t] = accm[t] = _mm256_setzero_ps();
  for (int b = 0; b < nb; b++, g += bb) {
    block_scales(type, g, &d, &m);
    for (int t = 0; t < nt; t++) block_step(type, g, d, m, xq + (size_t)t * nb + b, &acc[t], &accm[t]);
  }
  for (int t = 0; t < nt; t++) _mm256_storeu_ps(out + t * SW_QPACK_ROWS, _mm256_add_ps(acc[t], accm[t]));
}

#define QP_AVX2_TYPE(NAME, TYPE)                                                                                 \
  SW_QP_AVX2 static void NAME(const sw_qpack_t *P, const uint8_t *g, const sw_q8a_t *xq, int nb, int nt,        \
                              float *out) {                                                                      \
    if (nt == 1) group_one_avx2(TYPE, P->block_bytes, g, xq, nb, out);                                           \
    else group_tile_avx2(TYPE, P->block_bytes, g, xq, nb, nt, out);                                              \
  }
QP_AVX2_TYPE(group_q4_1_avx2, SW_QTYPE_Q4_1)
QP_AVX2_TYPE(group_q4_0_avx2, SW_QTYPE_Q4_0)
QP_AVX2_TYPE(group_q8_0_avx2, SW_QTYPE_Q8_0)
#endif

typedef void (*group_fn)(const sw_qpack_t *P, const uint8_t *g, const sw_q8a_t *xq, int nb, int nt, float *out);

static group_fn group_pick(sw_isa_t isa, uint32_t type) {
#if defined(__x86_64__)
  if (isa >= SW_ISA_AVX2) {
    if (type == SW_QTYPE_Q4_1) return group_q4_1_avx2;
    if (type == SW_QTYPE_Q4_0) return group_q4_0_avx2;
    if (type == SW_QTYPE_Q8_0) return group_q8_0_avx2;
  }
#else
  (void)isa;
#endif
  return group_portable;
}

/* ---- the GEMM over groups, split across the pool ---- */

typedef struct qp_job {
  group_fn          fn;
  const sw_qpack_t *P;
  float            *y;
  const sw_q8a_t   *xq;
  int               n_tok, accumulate;
} qp_job_t;

static void store_group(const qp_job_t *j, int grp, int t0, int nt, const float *out) {
  int r0 = grp * SW_QPACK_ROWS, nr = j->P->rows - r0 < SW_QPACK_ROWS ? j->P->rows - r0 : SW_QPACK_ROWS;
  for (int t = 0; t < nt; t++) {
    float *y = j->y + (size_t)(t0 + t) * j->P->rows + r0;
    for (int r = 0; r < nr; r++) y[r] = j->accumulate ? y[r] + out[t * SW_QPACK_ROWS + r] : out[t * SW_QPACK_ROWS + r];
  }
}

static void qp_groups(const qp_job_t *j, int g0, int g1) {
  int nb = j->P->cols / SW_QBLOCK;
  float out[QP_TILE * SW_QPACK_ROWS];
  for (int grp = g0; grp < g1; grp++) {
    const uint8_t *g = j->P->data + (size_t)grp * j->P->group_bytes;
    for (int t0 = 0; t0 < j->n_tok; t0 += QP_TILE) { /* the group's blocks stay in L1 across tiles */
      int nt = j->n_tok - t0 < QP_TILE ? j->n_tok - t0 : QP_TILE;
      j->fn(j->P, g, j->xq + (size_t)t0 * nb, nb, nt, out);
      store_group(j, grp, t0, nt, out);
    }
  }
}

static void qp_thread(void *arg, int tid, int n_threads) {
  const qp_job_t *j = arg;
  int per = (j->P->groups + n_threads - 1) / n_threads, g0 = tid * per;
  int g1 = g0 + per < j->P->groups ? g0 + per : j->P->groups;
  if (g0 < g1) qp_groups(j, g0, g1);
}

void sw_qpack_gemm(const sw_qctx_t *ctx, float *y, const sw_q8a_t *xq, const sw_qpack_t *P, int n_tok,
                   int accumulate) {
  qp_job_t j = {group_pick(ctx->isa, P->type), P, y, xq, n_tok, accumulate};
  if (ctx->pool) sw_pool_run(ctx->pool, qp_thread, &j);
  else qp_groups(&j, 0, P->groups);
}
