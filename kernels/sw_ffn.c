/* sw_ffn: storage helpers for the shared FFN types: interleaved neuron-major weight allocation, reproducible
 * random fill, packing from PyTorch layouts, bf16 conversion, masks, stats and the kernel workspace. */
#include "kernels/sw_ffn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/sw_ffn_internal.h"
#include "kernels/sw_pool.h"

#define SW_FFN_ALIGN_FLOATS 16 /* 64-byte rows */
#define SW_FFN_HUGE_BYTES ((size_t)4 << 20)
#define SW_FFN_HUGE_ALIGN ((size_t)2 << 20)


uint16_t sw_bf16_from_f32(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
  return (uint16_t)(u >> 16);
}

float sw_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float    x;
  memcpy(&x, &u, sizeof x);
  return x;
}

static void *sw_ffn_big_alloc(size_t bytes) {
  size_t align = bytes >= SW_FFN_HUGE_BYTES ? SW_FFN_HUGE_ALIGN : 64;
  size_t rounded = (bytes + align - 1) / align * align;
  void  *p = NULL;
  if (posix_memalign(&p, align, rounded ? rounded : align) != 0) return NULL;
  if (bytes >= SW_FFN_HUGE_BYTES) (void)madvise(p, rounded, MADV_HUGEPAGE); /* first touch is slow otherwise */
  return p;
}

sw_rc sw_ffn_weights_alloc(sw_ffn_weights_t *w, int d_model, int d_ff, int gated, sw_act_t act, float act_param,
                           sw_dtype_t dtype, sw_err_t *err) {
  memset(w, 0, sizeof *w);
  if (d_model <= 0 || d_ff <= 0)
    return sw_err_set(err, SW_ERR_INVALID, "ffn weights: d_model %d and d_ff %d must be positive", d_model, d_ff);
  size_t d_pad = ((size_t)d_model + SW_FFN_ALIGN_FLOATS - 1) / SW_FFN_ALIGN_FLOATS * SW_FFN_ALIGN_FLOATS;
  size_t n_mat = gated ? 3 : 2;
  size_t ld = n_mat * d_pad;
  size_t esz = dtype == SW_DTYPE_BF16 ? 2 : 4;
  size_t bytes = ld * (size_t)d_ff * esz;
  char  *buf = sw_ffn_big_alloc(bytes);
  if (!buf) return sw_err_set(err, SW_ERR_NOMEM, "ffn weights: cannot allocate %zu bytes", bytes);
  memset(buf, 0, bytes);
  w->d_model = d_model;
  w->d_ff = d_ff;
  w->gated = gated ? 1 : 0;
  w->act = act;
  w->act_param = act_param;
  w->dtype = dtype;
  w->ld_gate = w->ld_up = w->ld_down = ld;
  w->gate = gated ? buf : NULL;
  w->up = buf + (gated ? d_pad : 0) * esz;
  w->down = buf + (gated ? 2 : 1) * d_pad * esz;
  w->owned_buf = buf;
  return SW_OK;
}

void sw_ffn_weights_free(sw_ffn_weights_t *w) {
  if (!w) return;
  free(w->owned_buf);
  memset(w, 0, sizeof *w);
}

size_t sw_ffn_weights_bytes(const sw_ffn_weights_t *w) {
  size_t esz = w->dtype == SW_DTYPE_BF16 ? 2 : 4;
  return (w->gated ? 3u : 2u) * (size_t)w->d_model * (size_t)w->d_ff * esz;
}

static void sw_ffn_store(void *m, size_t ld, sw_dtype_t dtype, int row, int col, float v) {
  size_t at = (size_t)row * ld + (size_t)col;
  if (dtype == SW_DTYPE_BF16)
    ((uint16_t *)m)[at] = sw_bf16_from_f32(v);
  else
    ((float *)m)[at] = v;
}

float sw_ffn_weight_at(const void *m, size_t ld, sw_dtype_t dtype, int row, int col) {
  size_t at = (size_t)row * ld + (size_t)col;
  return dtype == SW_DTYPE_BF16 ? sw_bf16_to_f32(((const uint16_t *)m)[at]) : ((const float *)m)[at];
}

static uint64_t sw_splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Approximately N(0,1): Irwin–Hall sum of 4 uniforms (mean 2, variance 1/3), centred and scaled. */
static float sw_ffn_randn(uint64_t *s) {
  uint64_t r = sw_splitmix64(s);
  double   sum = 0.0;
  for (int k = 0; k < 4; k++) sum += (double)((r >> (16 * k)) & 0xffffu) / 65535.0;
  return (float)((sum - 2.0) * 1.7320508075688772);
}

static void sw_ffn_fill_matrix(void *m, size_t ld, sw_dtype_t dtype, int rows, int cols, float scale, uint64_t *s) {
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) sw_ffn_store(m, ld, dtype, i, j, scale * sw_ffn_randn(s));
}

void sw_ffn_weights_fill_random(sw_ffn_weights_t *w, uint64_t seed) {
  uint64_t s = seed ^ 0x5157a11ce5eedull;
  float    up_scale = 1.0f / sqrtf((float)w->d_model), down_scale = 1.0f / sqrtf((float)w->d_ff);
  if (w->gated) sw_ffn_fill_matrix((void *)w->gate, w->ld_gate, w->dtype, w->d_ff, w->d_model, up_scale, &s);
  sw_ffn_fill_matrix((void *)w->up, w->ld_up, w->dtype, w->d_ff, w->d_model, up_scale, &s);
  sw_ffn_fill_matrix((void *)w->down, w->ld_down, w->dtype, w->d_ff, w->d_model, down_scale, &s);
}

void sw_ffn_weights_pack(sw_ffn_weights_t *w, const float *gate, const float *up, const float *down,
                         int down_transposed) {
  int d = w->d_model, f = w->d_ff;
  for (int i = 0; i < f; i++) {
    for (int j = 0; j < d; j++) {
      if (w->gated) sw_ffn_store((void *)w->gate, w->ld_gate, w->dtype, i, j, gate[(size_t)i * d + j]);
      sw_ffn_store((void *)w->up, w->ld_up, w->dtype, i, j, up[(size_t)i * d + j]);
      float dv = down_transposed ? down[(size_t)j * f + i] : down[(size_t)i * d + j];
      sw_ffn_store((void *)w->down, w->ld_down, w->dtype, i, j, dv);
    }
  }
}

sw_rc sw_mask_alloc(sw_mask_t *m, int n_units, int max_tok, sw_err_t *err) {
  memset(m, 0, sizeof *m);
  if (n_units <= 0 || max_tok <= 0)
    return sw_err_set(err, SW_ERR_INVALID, "mask: n_units %d and max_tok %d must be positive", n_units, max_tok);
  m->cap = (size_t)n_units * (size_t)max_tok;
  m->idx = malloc(m->cap * sizeof *m->idx);
  m->off = calloc((size_t)max_tok + 1, sizeof *m->off);
  if (!m->idx || !m->off) {
    sw_mask_free(m);
    return sw_err_set(err, SW_ERR_NOMEM, "mask: out of memory for %d x %d", max_tok, n_units);
  }
  m->n_units = n_units;
  m->max_tok = max_tok;
  return SW_OK;
}

void sw_mask_free(sw_mask_t *m) {
  if (!m) return;
  free(m->idx);
  free(m->off);
  memset(m, 0, sizeof *m);
}

void sw_mask_set_all(sw_mask_t *m, int n_tok) {
  m->n_tok = n_tok;
  m->off[0] = 0;
  for (int t = 0; t < n_tok; t++) {
    int32_t *row = m->idx + m->off[t];
    for (int i = 0; i < m->n_units; i++) row[i] = i;
    m->off[t + 1] = m->off[t] + m->n_units;
  }
}

void sw_mask_set_none(sw_mask_t *m, int n_tok) {
  m->n_tok = n_tok;
  for (int t = 0; t <= n_tok; t++) m->off[t] = 0;
}

void sw_mask_from_flags(sw_mask_t *m, const uint8_t *active, int n_tok) {
  int64_t k = 0;
  m->n_tok = n_tok;
  m->off[0] = 0;
  for (int t = 0; t < n_tok; t++) {
    const uint8_t *a = active + (size_t)t * m->n_units;
    for (int i = 0; i < m->n_units; i++)
      if (a[i]) m->idx[k++] = i;
    m->off[t + 1] = k;
  }
}

double sw_mask_sparsity(const sw_mask_t *m) {
  if (m->n_tok <= 0) return 0.0;
  return 1.0 - (double)m->off[m->n_tok] / ((double)m->n_tok * m->n_units);
}

double sw_mask_token_sparsity(const sw_mask_t *m, int t) {
  return 1.0 - (double)sw_mask_count(m, t) / (double)m->n_units;
}

void sw_ffn_stats_add(sw_ffn_stats_t *dst, const sw_ffn_stats_t *src) {
  dst->flops += src->flops;
  dst->flops_dense += src->flops_dense;
  dst->flops_select += src->flops_select;
  dst->weight_bytes += src->weight_bytes;
  dst->weight_bytes_dense += src->weight_bytes_dense;
  dst->neurons_executed += src->neurons_executed;
  dst->neurons_total += src->neurons_total;
  dst->rows_read += src->rows_read;
  dst->experts_executed += src->experts_executed;
  dst->experts_total += src->experts_total;
  dst->tokens += src->tokens;
  dst->calls += src->calls;
}

static size_t sw_pad16(size_t n) { return (n + 15) / 16 * 16; }

size_t sw_ffn_work_floats(int d_model, int d_ff, int max_tok, int n_threads) {
  size_t d = sw_pad16((size_t)d_model), f = sw_pad16((size_t)d_ff), n = (size_t)max_tok;
  size_t b = (size_t)sw_ffn_union_block(d_model);
  size_t acts = 3 * n * f;                   /* gate/act, up, h of every token */
  size_t packed = 3 * b * d + 3 * n * b;     /* packed union rows and their block products */
  size_t accum = (size_t)(n_threads > 0 ? n_threads : 1) * (n * d + 16); /* per-thread output accumulators */
  size_t pairs = 2 * n * f;                  /* tiled token-sparse path: partial dots of active pairs */
  return acts + packed + accum + pairs + 64;
}

size_t sw_ffn_work_ints(int d_model, int d_ff, int max_tok, int n_threads) {
  (void)d_model;
  (void)n_threads;
  return 4 * (size_t)d_ff + 2 * (size_t)max_tok + (size_t)max_tok * (size_t)d_ff + 64;
}

sw_rc sw_ffn_work_alloc(sw_ffn_work_t *work, int d_model, int d_ff, int max_tok, int n_threads, sw_err_t *err) {
  memset(work, 0, sizeof *work);
  if (d_model <= 0 || d_ff <= 0 || max_tok <= 0 || n_threads <= 0)
    return sw_err_set(err, SW_ERR_INVALID, "ffn workspace: bad shape d_model %d d_ff %d max_tok %d threads %d",
                      d_model, d_ff, max_tok, n_threads);
  work->n_f = sw_ffn_work_floats(d_model, d_ff, max_tok, n_threads);
  work->n_i32 = sw_ffn_work_ints(d_model, d_ff, max_tok, n_threads);
  work->f = sw_ffn_big_alloc(work->n_f * sizeof(float));
  work->i32 = malloc(work->n_i32 * sizeof(int32_t));
  if (!work->f || !work->i32) {
    sw_ffn_work_free(work);
    return sw_err_set(err, SW_ERR_NOMEM, "ffn workspace: out of memory (%zu floats)",
                      sw_ffn_work_floats(d_model, d_ff, max_tok, n_threads));
  }
  memset(work->f, 0, work->n_f * sizeof(float));
  work->max_tok = max_tok;
  work->d_model = d_model;
  work->d_ff = d_ff;
  work->n_threads = n_threads;
  sw_rc rc = sw_isa_resolve(SW_ISA_AUTO, &work->isa, err);
  if (rc != SW_OK) {
    sw_ffn_work_free(work);
    return rc;
  }
  if (n_threads > 1) {
    rc = sw_pool_create(&work->pool, n_threads, err);
    if (rc != SW_OK) {
      sw_ffn_work_free(work);
      return rc;
    }
  }
  return SW_OK;
}

sw_rc sw_ffn_work_set_isa(sw_ffn_work_t *work, sw_isa_t request, sw_err_t *err) {
  sw_isa_t isa;
  sw_rc    rc = sw_isa_resolve(request, &isa, err);
  if (rc == SW_OK) work->isa = isa;
  return rc;
}

void sw_ffn_work_free(sw_ffn_work_t *work) {
  if (!work) return;
  if (work->pool) sw_pool_destroy(work->pool);
  free(work->f);
  free(work->i32);
  memset(work, 0, sizeof *work);
}
