/* sw_simd (internal to kernels/): the SIMD kernel variants behind run-time dispatch.  Every variant (portable,
 * AVX2+FMA, AVX-512) is compiled into the same binary with per-function target attributes (sw_simd_avx2.c,
 * sw_simd_avx512.c, sw_simd_portable.c); sw_simd_get returns the table of one level.  The level is chosen once
 * per workspace (sw_ffn_work_t.isa, sw_moe_work_t.isa) from sw_isa_resolve (kernels/sw_isa.h), never here. */
#ifndef SW_SIMD_H
#define SW_SIMD_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/sw_ffn.h"
#include "kernels/sw_isa.h"
#include "kernels/sw_membw.h"

/* Row arguments are f32 rows (bf = 0) or bf16 rows (bf = 1); vectors are f32.  pf/pfa/pfb: rows of the next
 * group, prefetched at the same offsets while the current ones stream (pass the current rows when none). */
typedef struct sw_simd {
  sw_isa_t isa;
  /* r[k] = rows[k] · x, k < 4 */
  void (*dot4)(float r[4], const void *const rows[4], const void *const pf[4], int bf, const float *x, int d);
  /* ra[k] = a[k] · x, rb[k] = b[k] · x */
  void (*dot4x2)(float ra[4], float rb[4], const void *const a[4], const void *const b[4], const void *const pfa[4],
                 const void *const pfb[4], int bf, const float *x, int d);
  /* y += Σ_k c[k] rows[k] */
  void (*axpy4)(float *y, const float c[4], const void *const rows[4], const void *const pf[4], int bf, int d);
  /* ra[k] = a · x[k], rb[k] = b · x[k] (b may be NULL) */
  void (*rows_dot_x4)(float ra[4], float rb[4], const void *a, const void *b, const float *const x[4],
                      const void *pfa, const void *pfb, int bf, int d);
  /* y[k] += c[k] row, four distinct y */
  void (*row_axpy_y4)(float *const y[4], const float c[4], const void *row, const void *pf, int bf, int d);
  /* Batch-1 gathered FFN over the active neurons idx[0..n): acc += Σ h_i down_i, with h from gate/up rows, from
   * gact (act(gate·x) given, gated only) or from h (given); f32 or bf16 weights.  Every variant runs the same
   * algorithm: 4 neurons per step, their gate/up rows in one pass, then their down rows, with no software
   * prefetch.  Prefetching every line of the next 4 neurons' rows (the earlier design) was slower than plain
   * streams that the hardware prefetchers follow in most interleaved runs against OpenBLAS sgemv on Llama-7B rows
   * (AVX2, Zen 3, s = 0.5/0.8/0.9; the numbers and the other schemes tried: docs/measurement.md). */
  void (*tok_run)(float *acc, const float *x, const sw_ffn_weights_t *w, const int32_t *idx, int64_t n,
                  const float *gact, const float *h);
  /* dst[i] = bf16 src[i] as f32 */
  void (*bf16_to_f32)(float *dst, const uint16_t *src, size_t n);
  /* Sum of the floats of buf (bytes a multiple of 4) read with a strategy; the sum keeps the reads alive. */
  float (*read)(const void *buf, size_t bytes, sw_membw_strategy_t strategy);
} sw_simd_t;

/* Streams of the multi-stream read strategy (1 for the others): each of the first `streams` equal parts of the
 * buffer (whole 64-byte lines) is read one line per step, all parts in the same step; the rest is read plainly. */
#define SW_MEMBW_MAX_STREAMS 8
static inline int sw_membw_streams(sw_membw_strategy_t s) { return s == SW_MEMBW_STREAMS8 ? 8 : 1; }
/* Prefetch distance in bytes of a read strategy (0: none); every strategy but plain uses 8 accumulators. */
static inline size_t sw_membw_pf_bytes(sw_membw_strategy_t s) {
  return s == SW_MEMBW_PF1K ? 1024u : s == SW_MEMBW_PF4K ? 4096u : s == SW_MEMBW_PF16K ? 16384u : 0u;
}

/* The table of a resolved level; a level the build has no code for (AVX2/AVX-512 off x86-64) gives the
 * portable table.  The caller checks sw_isa_supported (sw_isa_resolve does). */
const sw_simd_t *sw_simd_get(sw_isa_t isa);

/* Per-level tables (defined in sw_simd_<level>.c; the x86 ones only on x86-64). */
extern const sw_simd_t sw_simd_portable;
#if defined(__x86_64__)
extern const sw_simd_t sw_simd_avx2;
extern const sw_simd_t sw_simd_avx512;
#endif

#endif
