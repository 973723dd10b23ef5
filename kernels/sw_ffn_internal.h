/* sw_ffn_internal (private to kernels/): workspace carving and the shared execution core of the sparse FFN,
 * used by the dense path for bf16 weights (every neuron selected) and by the policy forward. */
#ifndef SW_FFN_INTERNAL_H
#define SW_FFN_INTERNAL_H
#include "kernels/sw_ffn.h"

#define SW_FFN_UNION_MIN_BLOCK 64   /* neurons per packed block in the batched path: about 1 MiB of packed */
#define SW_FFN_UNION_MAX_BLOCK 512  /* rows (L2 size, docs/measurement.md, "The machines"), at least 64 and at most 512 neurons */
#define SW_FFN_UNION_DENSE_FRAC 0.8 /* f32: when the union covers this fraction of d_ff, skip packing and run
                                       the dense sgemm path with h masked */
#define SW_FFN_GATHER_MAX_TOK 1 /* up to this many tokens, run the per-token gathered kernel */
#define SW_FFN_TILE_X_FLOATS 65536 /* token-sparse d-tile: x and out tiles of the batch within ~512 KiB of L2 */
#define SW_FFN_TILE_MIN 256          /* tile width bounds (floats); 1024 measured best for Llama rows at */
#define SW_FFN_TILE_MAX 1024         /* batch 16 and 64 (kernels/dev/cpu_time.c) */
#define SW_FFN_TILED_MIN_X 16384     /* tile when the batch's inputs exceed 64 KiB and d_model > one tile */
#define SW_FFN_TOKSPARSE_MAX_DENSITY 0.35 /* f32 batches: token-sparse neuron-major kernel when at most this
                                             fraction of (token, neuron) pairs is active */

/* A selection: per-token CSR lists, or one list `all` shared by every token. */
typedef struct sw_sel {
  const int32_t *idx;
  const int64_t *off;
  const int32_t *all;
  int64_t        n_all;
} sw_sel_t;

/* Active neurons of token t: returns the list and stores its length in *n (borrowed from s). */
static inline const int32_t *sw_sel_tok(const sw_sel_t *s, int t, int64_t *n) {
  if (s->all) {
    *n = s->n_all;
    return s->all;
  }
  *n = s->off[t + 1] - s->off[t];
  return s->idx + s->off[t];
}

/* n rounded up to a multiple of 16 elements (64-byte rows for f32). */
static inline size_t sw_ffn_pad16(size_t n) { return (n + 15) / 16 * 16; }
/* Neurons per packed block for rows of d_model floats. */
static inline int sw_ffn_union_block(int d_model) {
  size_t b = sw_ffn_pad16((size_t)262144 / sw_ffn_pad16((size_t)d_model));
  if (b < SW_FFN_UNION_MIN_BLOCK) b = SW_FFN_UNION_MIN_BLOCK;
  if (b > SW_FFN_UNION_MAX_BLOCK) b = SW_FFN_UNION_MAX_BLOCK;
  return (int)b;
}
/* Workspace regions (floats): activations of every token (gact, u, h; stride d_ff), packed blocks,
 * per-thread accumulators.  Ints: flags/counts[d_ff], union[d_ff], list[d_ff], cursors[max_tok],
 * token-list positions[d_ff], token lists[max_tok * d_ff]. */
/* act(gate) of every token. */
static inline float *sw_work_gact(const sw_ffn_work_t *wk) { return wk->f; }
/* up projections of every token. */
static inline float *sw_work_u(const sw_ffn_work_t *wk) {
  return wk->f + (size_t)wk->max_tok * sw_ffn_pad16((size_t)wk->d_ff);
}
/* h = act(gate)·up (gated) or act(up) of every token. */
static inline float *sw_work_h(const sw_ffn_work_t *wk) {
  return wk->f + 2 * (size_t)wk->max_tok * sw_ffn_pad16((size_t)wk->d_ff);
}
/* Packed weight blocks of the batched union path. */
static inline float *sw_work_pack(const sw_ffn_work_t *wk) {
  return wk->f + 3 * (size_t)wk->max_tok * sw_ffn_pad16((size_t)wk->d_ff);
}
/* Per-thread output accumulators (n_threads x max_tok x padded d_model). */
static inline float *sw_work_accum(const sw_ffn_work_t *wk) {
  size_t d = sw_ffn_pad16((size_t)wk->d_model), n = (size_t)wk->max_tok, b = (size_t)sw_ffn_union_block(wk->d_model);
  return sw_work_pack(wk) + 3 * b * d + 3 * n * b;
}
/* (token, neuron) pair scratch of the token-sparse kernel, after the accumulators. */
static inline float *sw_work_pairs(const sw_ffn_work_t *wk) {
  size_t d = sw_ffn_pad16((size_t)wk->d_model), n = (size_t)wk->max_tok;
  return sw_work_accum(wk) + (size_t)wk->n_threads * (n * d + 16);
}
/* Neuron list scratch (d_ff ints, after the flags and the union). */
static inline int32_t *sw_work_list(const sw_ffn_work_t *wk) { return wk->i32 + 2 * (size_t)wk->d_ff; }

/* Checks that w/work/n_tok are consistent; SW_ERR_INVALID otherwise. */
sw_rc sw_ffn_check(const sw_ffn_weights_t *w, const sw_ffn_work_t *work, int n_tok);
/* out[t] = Σ_{i ∈ sel_t} h_i(x_t) down_i + b_down.  Known values: gact (n_tok × d_ff, act(gate) of gated FFNs:
 * only up and down rows are read) or h (n_tok × d_ff: only down rows are read); both NULL: all rows read.
 * *rows_read receives the number of distinct neurons read. */
void sw_ffn_exec(float *out, const float *x, const sw_ffn_weights_t *w, const sw_sel_t *sel, const float *gact,
                 const float *h, sw_ffn_work_t *work, int n_tok, int64_t *rows_read);
/* act(gate)·x (gated) / h (plain) and optionally up / h for n_tok tokens into buffers of stride d_ff (not
 * work's).  Uses OpenBLAS for f32 and the gathered kernel of work's SIMD variant for bf16. */
void sw_ffn_compute_acts(float *gact, float *u, float *h, const float *x, const sw_ffn_weights_t *w, int n_tok,
                         const sw_ffn_work_t *work);

#endif
