/* sw_ffn_sparse: activation-sparse FFN.  Few tokens: per token, groups of 4 active neurons run a fused
 * gate/up dot pass and a down axpy pass (sw_simd_t.tok_run of the workspace's variant), split over the pool's
 * threads with private accumulators.  More tokens: the union of active neurons is packed in blocks of about
 * 1 MiB of rows and multiplied with OpenBLAS sgemm; h is zeroed for (token, neuron) pairs outside the token's
 * set.  When the union covers most neurons (f32), the dense sgemm path runs with h masked instead. */
#include "kernels/sw_ffn_sparse.h"

#include <cblas.h>
#include <string.h>

#include "kernels/sw_ffn_internal.h"
#include "kernels/sw_flops.h"
#include "kernels/sw_gather.h"
#include "kernels/sw_pool.h"
#include "kernels/sw_simd.h"

static size_t sw_esz(const sw_ffn_weights_t *w) { return w->dtype == SW_DTYPE_BF16 ? 2u : 4u; }

static const void *sw_row_ptr(const void *m, size_t ld, size_t esz, int32_t i) {
  return (const char *)m + (size_t)i * ld * esz;
}

sw_rc sw_ffn_check(const sw_ffn_weights_t *w, const sw_ffn_work_t *work, int n_tok) {
  if (!w || !work || !work->f) return SW_ERR_INVALID;
  if (n_tok < 0 || n_tok > work->max_tok) return SW_ERR_INVALID;
  if (w->d_model <= 0 || w->d_ff <= 0 || w->d_model > work->d_model || w->d_ff > work->d_ff) return SW_ERR_INVALID;
  if (!w->up || !w->down || (w->gated && !w->gate)) return SW_ERR_INVALID;
  return SW_OK;
}


typedef struct sw_token_job {
  float                  *accum; /* n_threads accumulators of stride acc_ld */
  size_t                  acc_ld;
  const float            *x;
  const sw_ffn_weights_t *w;
  const int32_t          *idx;
  int64_t                 n;
  const float            *gact, *h;
  const sw_simd_t        *k; /* SIMD variant of the workspace */
} sw_token_job_t;

static void sw_token_job_fn(void *arg, int tid, int n_threads) {
  sw_token_job_t *j = arg;
  int64_t         groups = (j->n + 3) / 4;
  int64_t         g0 = groups * tid / n_threads, g1 = groups * (tid + 1) / n_threads;
  int64_t         k0 = 4 * g0, k1 = 4 * g1 < j->n ? 4 * g1 : j->n;
  float          *acc = j->accum + (size_t)tid * j->acc_ld;
  memset(acc, 0, (size_t)j->w->d_model * sizeof *acc);
  if (k1 > k0) j->k->tok_run(acc, j->x, j->w, j->idx + k0, k1 - k0, j->gact, j->h);
}

/* Whether token t's set is every neuron of an f32 FFN computed from x alone: then the gathered kernel would
 * read exactly the dense matrices, and OpenBLAS sgemv (the dense path) streams them faster than 4-row groups.
 * Sets are strictly ascending (sw_mask_t), so n == d_ff means 0..d_ff-1. */
static int sw_gather_is_full(const sw_ffn_weights_t *w, int64_t n, const float *gact, const float *h) {
  return w->dtype == SW_DTYPE_F32 && n == w->d_ff && !gact && !h;
}

/* One token, every neuron, f32: the dense sgemv path (kernels/sw_ffn_dense.c) on the workspace's buffers. */
static void sw_exec_full_tok(float *o, const float *xt, const sw_ffn_weights_t *w, sw_ffn_work_t *work) {
  float *hb = sw_work_h(work);
  sw_ffn_compute_acts(sw_work_gact(work), w->gated ? sw_work_u(work) : NULL, hb, xt, w, 1, work);
  cblas_sgemv(CblasRowMajor, CblasTrans, w->d_ff, w->d_model, 1.0f, (const float *)w->down, (int)w->ld_down, hb, 1,
              0.0f, o, 1);
}

static void sw_exec_gather(float *out, const float *x, const sw_ffn_weights_t *w, const sw_sel_t *sel,
                           const float *gact, const float *h, sw_ffn_work_t *work, int n_tok) {
  int              d = w->d_model, nt = work->pool ? work->n_threads : 1;
  const sw_simd_t *k = sw_simd_get(work->isa);
  for (int t = 0; t < n_tok; t++) {
    int64_t        n;
    const int32_t *idx = sw_sel_tok(sel, t, &n);
    float         *o = out + (size_t)t * d;
    const float   *xt = x ? x + (size_t)t * d : NULL;
    const float   *gt = gact ? gact + (size_t)t * w->d_ff : NULL, *ht = h ? h + (size_t)t * w->d_ff : NULL;
    if (xt && sw_gather_is_full(w, n, gt, ht)) {
      sw_exec_full_tok(o, xt, w, work);
      continue;
    }
    if (nt == 1 || n < 8) {
      memset(o, 0, (size_t)d * sizeof *o);
      k->tok_run(o, xt, w, idx, n, gt, ht);
      continue;
    }
    sw_token_job_t job = {sw_work_accum(work), sw_ffn_pad16((size_t)d), xt, w, idx, n, gt, ht, k};
    sw_pool_run(work->pool, sw_token_job_fn, &job);
    memcpy(o, job.accum, (size_t)d * sizeof *o);
    for (int th = 1; th < nt; th++) {
      const float *a = job.accum + (size_t)th * job.acc_ld;
      for (int j = 0; j < d; j++) o[j] += a[j];
    }
  }
}

/* Copies b rows (ids) of a weight matrix into dst (stride ldd floats), converting bf16 to f32. */
static void sw_pack_rows(const sw_simd_t *ks, float *dst, size_t ldd, const void *m, size_t ld, sw_dtype_t dtype,
                         const int32_t *ids, int b, int d) {
  for (int k = 0; k < b; k++) {
    if (dtype == SW_DTYPE_F32)
      memcpy(dst + (size_t)k * ldd, (const float *)m + (size_t)ids[k] * ld, (size_t)d * sizeof(float));
    else
      ks->bf16_to_f32(dst + (size_t)k * ldd, (const uint16_t *)m + (size_t)ids[k] * ld, (size_t)d);
  }
}

/* Union of the selection's neurons (ascending) into uni; returns its size. */
static int64_t sw_sel_union(int32_t *uni, int32_t *flags, const sw_sel_t *sel, int d_ff, int n_tok) {
  if (sel->all) {
    memcpy(uni, sel->all, (size_t)sel->n_all * sizeof *uni);
    return sel->n_all;
  }
  memset(flags, 0, (size_t)d_ff * sizeof *flags);
  for (int64_t k = sel->off[0]; k < sel->off[n_tok]; k++) flags[sel->idx[k]] = 1;
  int64_t n = 0;
  for (int i = 0; i < d_ff; i++)
    if (flags[i]) uni[n++] = i;
  return n;
}

/* Block products of the union path: Hb[t*b + k] = h of neuron ids[k] for token t, or 0 when inactive. */
static void sw_union_block_h(float *hb, const float *x, const sw_ffn_weights_t *w, const sw_sel_t *sel,
                             const int32_t *ids, int b, const float *gact, const float *h, float *pack_a,
                             float *pack_b, float *tmp_a, float *tmp_b, int32_t *cursor, int n_tok,
                             const sw_simd_t *ks) {
  int    d = w->d_model, f = w->d_ff;
  size_t dp = sw_ffn_pad16((size_t)d);
  if (!h) {
    sw_pack_rows(ks, pack_b, dp, w->up, w->ld_up, w->dtype, ids, b, d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, b, d, 1.0f, x, d, pack_b, (int)dp, 0.0f, tmp_b, b);
    if (w->gated && !gact) {
      sw_pack_rows(ks, pack_a, dp, w->gate, w->ld_gate, w->dtype, ids, b, d);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, b, d, 1.0f, x, d, pack_a, (int)dp, 0.0f, tmp_a, b);
    }
  }
  for (int t = 0; t < n_tok; t++) {
    int64_t        n;
    const int32_t *idx = sw_sel_tok(sel, t, &n);
    for (int k = 0; k < b; k++) {
      int32_t i = ids[k];
      float   v = 0.0f;
      if (cursor[t] < n && idx[cursor[t]] == i) {
        cursor[t]++;
        size_t at = (size_t)t * b + k;
        if (h)
          v = h[(size_t)t * f + i];
        else if (!w->gated)
          v = sw_act_1(w->act, tmp_b[at] + (w->b_up ? w->b_up[i] : 0.0f), w->act_param);
        else if (gact)
          v = gact[(size_t)t * f + i] * tmp_b[at];
        else
          v = sw_act_1(w->act, tmp_a[at], w->act_param) * tmp_b[at];
      }
      hb[(size_t)t * b + k] = v;
    }
  }
}

/* f32, union covering most neurons: dense sgemm projections, h zeroed outside each token's set, dense down. */
static void sw_exec_dense_masked(float *out, const float *x, const sw_ffn_weights_t *w, const sw_sel_t *sel,
                                 const float *gact, const float *h, sw_ffn_work_t *work, int n_tok) {
  int    f = w->d_ff, d = w->d_model;
  float *m = sw_work_u(work); /* receives the masked h; never the caller's buffer */
  if (h) {
    memcpy(m, h, (size_t)n_tok * f * sizeof *m);
  } else if (w->gated && gact) {
    sw_ffn_weights_t up_only = {.d_model = d, .d_ff = f, .act = SW_ACT_IDENTITY, .dtype = w->dtype, .up = w->up,
                                .ld_up = w->ld_up};
    sw_ffn_compute_acts(m, NULL, NULL, x, &up_only, n_tok, work); /* u = up·x */
    for (size_t k = 0; k < (size_t)n_tok * f; k++) m[k] *= gact[k];
  } else {
    sw_ffn_compute_acts(sw_work_gact(work), w->gated ? m : NULL, w->gated ? NULL : m, x, w, n_tok, work);
    if (w->gated) {
      const float *g = sw_work_gact(work);
      for (size_t k = 0; k < (size_t)n_tok * f; k++) m[k] *= g[k];
    }
  }
  for (int t = 0; t < n_tok; t++) {
    int64_t        n, c = 0;
    const int32_t *idx = sw_sel_tok(sel, t, &n);
    float         *row = m + (size_t)t * f;
    for (int i = 0; i < f; i++) {
      if (c < n && idx[c] == i)
        c++;
      else
        row[i] = 0.0f;
    }
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_tok, d, f, 1.0f, m, f, (const float *)w->down,
              (int)w->ld_down, 0.0f, out, d);
}

static void sw_exec_union(float *out, const float *x, const sw_ffn_weights_t *w, const sw_sel_t *sel,
                          const float *gact, const float *h, sw_ffn_work_t *work, int n_tok, int64_t n_uni) {
  int              d = w->d_model, B = sw_ffn_union_block(work->d_model);
  const sw_simd_t *ks = sw_simd_get(work->isa);
  size_t   dp = sw_ffn_pad16((size_t)d), n = (size_t)work->max_tok;
  int32_t *uni = work->i32 + work->d_ff, *cursor = work->i32 + 3 * (size_t)work->d_ff;
  float   *pa = sw_work_pack(work), *pb = pa + (size_t)B * dp, *pd = pb + (size_t)B * dp;
  float   *ta = pd + (size_t)B * dp, *tb = ta + n * B, *hb = tb + n * B;
  memset(out, 0, (size_t)n_tok * d * sizeof *out);
  memset(cursor, 0, (size_t)n_tok * sizeof *cursor);
  for (int64_t k0 = 0; k0 < n_uni; k0 += B) {
    int b = (int)(n_uni - k0 < B ? n_uni - k0 : B);
    sw_union_block_h(hb, x, w, sel, uni + k0, b, gact, h, pa, pb, ta, tb, cursor, n_tok, ks);
    sw_pack_rows(ks, pd, dp, w->down, w->ld_down, w->dtype, uni + k0, b, d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_tok, d, b, 1.0f, hb, b, pd, (int)dp, 1.0f, out, d);
  }
}

/* Token-sparse, neuron-major: every union neuron's rows are read once and applied to its active tokens, 4
 * tokens at a time (x and the outputs stay in cache).  Per-neuron token lists are built from the CSR mask. */
typedef struct sw_tok_job {
  float                  *out, *accum, *dummy;
  size_t                  acc_ld, dp;
  const float            *x, *gact, *h;
  const sw_ffn_weights_t *w;
  const int32_t          *uni, *cnt, *end, *ttok;
  int64_t                 n_uni;
  int                     n_tok;
  float                  *pg, *pu; /* tiled path: per-pair partial gate/up dots, then h in pg */
  int                     tile, pass;
  const sw_simd_t        *k; /* SIMD variant of the workspace */
} sw_tok_job_t;

static void sw_tok_neuron(const sw_tok_job_t *j, float *out, float *dummy, int32_t i, int32_t inext) {
  const sw_ffn_weights_t *w = j->w;
  size_t                  esz = sw_esz(w);
  int                     d = w->d_model, f = w->d_ff;
  const void *g = w->gated ? sw_row_ptr(w->gate, w->ld_gate, esz, i) : NULL, *u = sw_row_ptr(w->up, w->ld_up, esz, i);
  const void *dn = sw_row_ptr(w->down, w->ld_down, esz, i);
  const void *gpf = w->gated ? sw_row_ptr(w->gate, w->ld_gate, esz, inext) : NULL;
  const void *upf = sw_row_ptr(w->up, w->ld_up, esz, inext), *dpf = sw_row_ptr(w->down, w->ld_down, esz, inext);
  const int32_t *tl = j->ttok + j->end[i] - j->cnt[i];
  int            n = j->cnt[i];
  for (int k = 0; k < n; k += 4) {
    const float *xs[4];
    float       *ys[4], hv[4], av[4], bv[4];
    for (int q = 0; q < 4; q++) {
      int t = tl[k + q < n ? k + q : k];
      xs[q] = j->x ? j->x + (size_t)t * d : NULL;
      ys[q] = k + q < n ? out + (size_t)tl[k + q] * j->acc_ld : dummy + (size_t)q * j->dp;
    }
    if (j->h) {
      for (int q = 0; q < 4; q++) hv[q] = j->h[(size_t)tl[k + q < n ? k + q : k] * f + i];
    } else if (w->gated && j->gact) {
      sw_gather_rows_dot_x4(j->k, bv, NULL, u, NULL, xs, upf, NULL, w->dtype, d);
      for (int q = 0; q < 4; q++) hv[q] = j->gact[(size_t)tl[k + q < n ? k + q : k] * f + i] * bv[q];
    } else if (w->gated) {
      sw_gather_rows_dot_x4(j->k, av, bv, g, u, xs, gpf, upf, w->dtype, d);
      for (int q = 0; q < 4; q++) hv[q] = sw_act_1(w->act, av[q], w->act_param) * bv[q];
    } else {
      sw_gather_rows_dot_x4(j->k, bv, NULL, u, NULL, xs, upf, NULL, w->dtype, d);
      for (int q = 0; q < 4; q++) hv[q] = sw_act_1(w->act, bv[q] + (w->b_up ? w->b_up[i] : 0.0f), w->act_param);
    }
    for (int q = 0; q < 4; q++)
      if (k + q >= n) hv[q] = 0.0f;
    sw_gather_row_axpy_y4(j->k, ys, hv, dn, dpf, w->dtype, d);
  }
}

static void sw_tok_job_fn(void *arg, int tid, int n_threads) {
  const sw_tok_job_t *j = arg;
  int64_t             a = j->n_uni * tid / n_threads, b = j->n_uni * (tid + 1) / n_threads;
  float              *out = n_threads == 1 ? j->out : j->accum + (size_t)tid * ((size_t)j->n_tok * j->acc_ld + 16);
  float              *dummy = j->dummy + (size_t)tid * 4 * j->dp;
  if (n_threads > 1)
    for (int t = 0; t < j->n_tok; t++) memset(out + (size_t)t * j->acc_ld, 0, (size_t)j->w->d_model * sizeof *out);
  for (int64_t k = a; k < b; k++) sw_tok_neuron(j, out, dummy, j->uni[k], j->uni[k + 1 < b ? k + 1 : k]);
}

/* Tile width (floats) of the d-tiled token-sparse kernel for n_tok tokens. */
static int sw_ffn_tile(int n_tok) {
  size_t t = sw_ffn_pad16((size_t)SW_FFN_TILE_X_FLOATS / (size_t)n_tok);
  return (int)(t < SW_FFN_TILE_MIN ? SW_FFN_TILE_MIN : (t > SW_FFN_TILE_MAX ? SW_FFN_TILE_MAX : t));
}

/* Tiled pass A: partial gate/up dots of every active pair over one d-tile [j0, j0+tl), neurons [a, b). */
static void sw_tile_dots(const sw_tok_job_t *j, int64_t a, int64_t b, int j0, int tl) {
  const sw_ffn_weights_t *w = j->w;
  size_t                  esz = sw_esz(w), off = (size_t)j0 * esz;
  int                     d = w->d_model, both = w->gated && !j->gact;
  for (int64_t k = a; k < b; k++) {
    int32_t     i = j->uni[k], in = j->uni[k + 1 < b ? k + 1 : k];
    const char *u = (const char *)sw_row_ptr(w->up, w->ld_up, esz, i) + off;
    const char *upf = (const char *)sw_row_ptr(w->up, w->ld_up, esz, in) + off;
    const char *g = both ? (const char *)sw_row_ptr(w->gate, w->ld_gate, esz, i) + off : NULL;
    const char *gpf = both ? (const char *)sw_row_ptr(w->gate, w->ld_gate, esz, in) + off : NULL;
    int64_t     s0 = j->end[i] - j->cnt[i];
    int         n = j->cnt[i];
    for (int q0 = 0; q0 < n; q0 += 4) {
      const float *xs[4];
      float        av[4], bv[4];
      for (int q = 0; q < 4; q++) xs[q] = j->x + (size_t)j->ttok[s0 + (q0 + q < n ? q0 + q : q0)] * d + j0;
      if (both)
        sw_gather_rows_dot_x4(j->k, av, bv, g, u, xs, gpf, upf, w->dtype, tl);
      else
        sw_gather_rows_dot_x4(j->k, bv, NULL, u, NULL, xs, upf, NULL, w->dtype, tl);
      for (int q = 0; q < 4 && q0 + q < n; q++) {
        if (both) j->pg[s0 + q0 + q] += av[q];
        j->pu[s0 + q0 + q] += bv[q];
      }
    }
  }
}

/* Tiled pass B: out[t][tile] += h · down_i[tile] for the active pairs of neurons [a, b). */
static void sw_tile_axpy(const sw_tok_job_t *j, float *out, float *dummy, int64_t a, int64_t b, int j0, int tl) {
  const sw_ffn_weights_t *w = j->w;
  size_t                  esz = sw_esz(w), off = (size_t)j0 * esz;
  for (int64_t k = a; k < b; k++) {
    int32_t     i = j->uni[k], in = j->uni[k + 1 < b ? k + 1 : k];
    const char *dn = (const char *)sw_row_ptr(w->down, w->ld_down, esz, i) + off;
    const char *dpf = (const char *)sw_row_ptr(w->down, w->ld_down, esz, in) + off;
    int64_t     s0 = j->end[i] - j->cnt[i];
    int         n = j->cnt[i];
    for (int q0 = 0; q0 < n; q0 += 4) {
      float *ys[4], hv[4];
      for (int q = 0; q < 4; q++) {
        int in_range = q0 + q < n;
        ys[q] = in_range ? out + (size_t)j->ttok[s0 + q0 + q] * j->acc_ld + j0 : dummy + (size_t)q * j->dp;
        hv[q] = in_range ? j->pg[s0 + q0 + q] : 0.0f;
      }
      sw_gather_row_axpy_y4(j->k, ys, hv, dn, dpf, w->dtype, tl);
    }
  }
}

static void sw_tile_job_fn(void *arg, int tid, int n_threads) {
  const sw_tok_job_t *j = arg;
  int64_t             a = j->n_uni * tid / n_threads, b = j->n_uni * (tid + 1) / n_threads;
  int                 d = j->w->d_model;
  float              *out = n_threads == 1 ? j->out : j->accum + (size_t)tid * ((size_t)j->n_tok * j->acc_ld + 16);
  float              *dummy = j->dummy + (size_t)tid * 4 * j->dp;
  if (j->pass == 1 && n_threads > 1)
    for (int t = 0; t < j->n_tok; t++) memset(out + (size_t)t * j->acc_ld, 0, (size_t)d * sizeof *out);
  for (int j0 = 0; j0 < d; j0 += j->tile) {
    int tl = d - j0 < j->tile ? d - j0 : j->tile;
    if (j->pass == 0)
      sw_tile_dots(j, a, b, j0, tl);
    else
      sw_tile_axpy(j, out, dummy, a, b, j0, tl);
  }
}

/* h of every active pair into pg (after pass A, or from the known h). */
static void sw_tile_h(sw_tok_job_t *j) {
  const sw_ffn_weights_t *w = j->w;
  int                     f = w->d_ff;
  for (int64_t k = 0; k < j->n_uni; k++) {
    int32_t i = j->uni[k];
    int64_t s0 = j->end[i] - j->cnt[i];
    for (int q = 0; q < j->cnt[i]; q++) {
      size_t tf = (size_t)j->ttok[s0 + q] * f + i;
      float *hv = &j->pg[s0 + q], u = j->pu[s0 + q];
      if (j->h)
        *hv = j->h[tf];
      else if (!w->gated)
        *hv = sw_act_1(w->act, u + (w->b_up ? w->b_up[i] : 0.0f), w->act_param);
      else if (j->gact)
        *hv = j->gact[tf] * u;
      else
        *hv = sw_act_1(w->act, *hv, w->act_param) * u;
    }
  }
}

/* Runs the tiled two-pass token-sparse kernel (x tile and out tile stay in L2). */
static void sw_exec_tiled(sw_tok_job_t *job, sw_ffn_work_t *work, int64_t nnz) {
  int nt = work->pool && job->n_uni >= 8 ? work->n_threads : 1, d = job->w->d_model;
  job->tile = sw_ffn_tile(job->n_tok);
  job->pg = sw_work_pairs(work);
  job->pu = job->pg + nnz;
  memset(job->pg, 0, 2 * (size_t)nnz * sizeof *job->pg);
  if (!job->h) {
    job->pass = 0;
    if (nt > 1)
      sw_pool_run(work->pool, sw_tile_job_fn, job);
    else
      sw_tile_job_fn(job, 0, 1);
  }
  sw_tile_h(job);
  job->pass = 1;
  if (nt == 1) {
    sw_tile_job_fn(job, 0, 1);
    return;
  }
  job->acc_ld = sw_ffn_pad16((size_t)d);
  sw_pool_run(work->pool, sw_tile_job_fn, job);
  for (int th = 0; th < nt; th++) {
    const float *a = job->accum + (size_t)th * ((size_t)job->n_tok * job->acc_ld + 16);
    for (int t = 0; t < job->n_tok; t++)
      for (int jj = 0; jj < d; jj++) job->out[(size_t)t * d + jj] += a[(size_t)t * job->acc_ld + jj];
  }
}

static void sw_exec_toksparse(float *out, const float *x, const sw_ffn_weights_t *w, const sw_sel_t *sel,
                              const float *gact, const float *h, sw_ffn_work_t *work, int n_tok, int64_t n_uni) {
  int      f = w->d_ff, d = w->d_model, nt = work->pool ? work->n_threads : 1;
  size_t   F = (size_t)work->d_ff, N = (size_t)work->max_tok;
  int32_t *cnt = work->i32, *uni = work->i32 + F, *pos = work->i32 + 3 * F + N, *ttok = pos + F;
  memset(cnt, 0, (size_t)f * sizeof *cnt);
  for (int t = 0; t < n_tok; t++) {
    int64_t        n;
    const int32_t *idx = sw_sel_tok(sel, t, &n);
    for (int64_t k = 0; k < n; k++) cnt[idx[k]]++;
  }
  int32_t acc = 0;
  for (int i = 0; i < f; i++) pos[i] = acc, acc += cnt[i];
  for (int t = 0; t < n_tok; t++) {
    int64_t        n;
    const int32_t *idx = sw_sel_tok(sel, t, &n);
    for (int64_t k = 0; k < n; k++) ttok[pos[idx[k]]++] = t; /* pos[i] ends at the end of neuron i's list */
  }
  memset(out, 0, (size_t)n_tok * d * sizeof *out);
  sw_tok_job_t job = {out,  sw_work_accum(work), sw_work_pack(work), (size_t)d, sw_ffn_pad16((size_t)d), x, gact, h, w,
                      uni,  cnt, pos, ttok, n_uni, n_tok, NULL, NULL, 0, 0, sw_simd_get(work->isa)};
  if ((size_t)n_tok * (size_t)d > SW_FFN_TILED_MIN_X && d > sw_ffn_tile(n_tok)) {
    sw_exec_tiled(&job, work, acc);
    return;
  }
  if (nt == 1 || n_uni < 8) {
    sw_tok_job_fn(&job, 0, 1);
    return;
  }
  job.acc_ld = sw_ffn_pad16((size_t)d);
  sw_pool_run(work->pool, sw_tok_job_fn, &job);
  for (int th = 0; th < nt; th++) {
    const float *a = job.accum + (size_t)th * ((size_t)n_tok * job.acc_ld + 16);
    for (int t = 0; t < n_tok; t++)
      for (int jj = 0; jj < d; jj++) out[(size_t)t * d + jj] += a[(size_t)t * job.acc_ld + jj];
  }
}

void sw_ffn_exec(float *out, const float *x, const sw_ffn_weights_t *w, const sw_sel_t *sel, const float *gact,
                 const float *h, sw_ffn_work_t *work, int n_tok, int64_t *rows_read) {
  *rows_read = 0;
  if (n_tok <= 0) return;
  if (n_tok <= SW_FFN_GATHER_MAX_TOK) {
    sw_exec_gather(out, x, w, sel, gact, h, work, n_tok);
    if (n_tok == 1)
      sw_sel_tok(sel, 0, rows_read);
    else
      *rows_read = sw_sel_union(work->i32 + work->d_ff, work->i32, sel, w->d_ff, n_tok);
  } else {
    int64_t n_uni = sw_sel_union(work->i32 + work->d_ff, work->i32, sel, w->d_ff, n_tok);
    int64_t nnz = sel->all ? sel->n_all * n_tok : sel->off[n_tok] - sel->off[0];
    if (w->dtype == SW_DTYPE_BF16 || (double)nnz <= SW_FFN_TOKSPARSE_MAX_DENSITY * n_tok * (double)w->d_ff) {
      sw_exec_toksparse(out, x, w, sel, gact, h, work, n_tok, n_uni);
      *rows_read = n_uni;
    } else if (w->dtype == SW_DTYPE_F32 && (double)n_uni >= SW_FFN_UNION_DENSE_FRAC * w->d_ff) {
      sw_exec_dense_masked(out, x, w, sel, gact, h, work, n_tok);
      *rows_read = w->d_ff;
    } else {
      sw_exec_union(out, x, w, sel, gact, h, work, n_tok, n_uni);
      *rows_read = n_uni;
    }
  }
  if (w->b_down) {
    for (int t = 0; t < n_tok; t++)
      for (int j = 0; j < w->d_model; j++) out[(size_t)t * w->d_model + j] += w->b_down[j];
  }
}

/* rows_per_neuron: weight rows read per active neuron (3 gated, 2 plain or gate known, 1 when h is known). */
static void sw_fill_stats(sw_ffn_stats_t *st, const sw_ffn_weights_t *w, int n_tok, int64_t n_exec, int64_t rows,
                          int rows_per_neuron, double flops_select, double bytes_select) {
  if (!st) return;
  memset(st, 0, sizeof *st);
  double esz = w->dtype == SW_DTYPE_BF16 ? 2.0 : 4.0;
  double per = 2.0 * w->d_model * rows_per_neuron + (w->gated && rows_per_neuron >= 2 ? 1.0 : 0.0);
  st->flops_select = flops_select;
  st->flops = flops_select + per * (double)n_exec;
  st->flops_dense = sw_flops_ffn_dense(w->d_model, w->d_ff, w->gated, n_tok);
  st->weight_bytes = bytes_select + (double)rows * rows_per_neuron * w->d_model * esz;
  st->weight_bytes_dense = (double)sw_ffn_weights_bytes(w);
  st->neurons_executed = n_exec;
  st->neurons_total = (int64_t)n_tok * w->d_ff;
  st->rows_read = rows;
  st->tokens = n_tok;
  st->calls = 1;
}

sw_rc sw_ffn_sparse_forward(float *out, const float *x, const sw_ffn_weights_t *w, const sw_mask_t *mask,
                            sw_ffn_stats_t *stats, sw_ffn_work_t *work, int n_tok) {
  if (sw_ffn_check(w, work, n_tok) != SW_OK || !mask || mask->n_tok != n_tok || mask->n_units != w->d_ff)
    return SW_ERR_INVALID;
  sw_sel_t sel = {mask->idx, mask->off, NULL, 0};
  int64_t  rows = 0;
  sw_ffn_exec(out, x, w, &sel, NULL, NULL, work, n_tok, &rows);
  sw_fill_stats(stats, w, n_tok, mask->off[n_tok], rows, w->gated ? 3 : 2, 0.0, 0.0);
  return SW_OK;
}

sw_rc sw_ffn_subset_forward(float *out, const float *x, const sw_ffn_weights_t *w, const int32_t *active,
                            int64_t n_active, sw_ffn_stats_t *stats, sw_ffn_work_t *work, int n_tok) {
  if (sw_ffn_check(w, work, n_tok) != SW_OK || !active || n_active < 0 || n_active > w->d_ff) return SW_ERR_INVALID;
  for (int64_t k = 0; k < n_active; k++)
    if (active[k] < 0 || active[k] >= w->d_ff || (k > 0 && active[k] <= active[k - 1])) return SW_ERR_INVALID;
  sw_sel_t sel = {NULL, NULL, active, n_active};
  int64_t  rows = 0;
  if (n_active > 0) {
    sw_ffn_exec(out, x, w, &sel, NULL, NULL, work, n_tok, &rows);
  } else {
    for (int t = 0; t < n_tok; t++)
      for (int j = 0; j < w->d_model; j++) out[(size_t)t * w->d_model + j] = w->b_down ? w->b_down[j] : 0.0f;
  }
  sw_fill_stats(stats, w, n_tok, n_active * n_tok, rows, w->gated ? 3 : 2, 0.0, 0.0);
  return SW_OK;
}

sw_rc sw_ffn_sparse_down(float *out, const float *h, const sw_ffn_weights_t *w, const sw_mask_t *mask,
                         sw_ffn_stats_t *stats, sw_ffn_work_t *work, int n_tok) {
  if (sw_ffn_check(w, work, n_tok) != SW_OK || !mask || mask->n_tok != n_tok || mask->n_units != w->d_ff)
    return SW_ERR_INVALID;
  sw_sel_t sel = {mask->idx, mask->off, NULL, 0};
  int64_t  rows = 0;
  sw_ffn_exec(out, NULL, w, &sel, NULL, h, work, n_tok, &rows);
  sw_fill_stats(stats, w, n_tok, mask->off[n_tok], rows, 1, 0.0, 0.0);
  return SW_OK;
}

sw_rc sw_ffn_policy_forward(float *out, sw_mask_t *mask_out, const float *x, const sw_ffn_weights_t *w,
                            const sw_policy_t *p, uint64_t nonce, sw_ffn_stats_t *stats, sw_ffn_work_t *work,
                            int n_tok) {
  if (sw_ffn_check(w, work, n_tok) != SW_OK || !mask_out || !p || mask_out->max_tok < n_tok ||
      mask_out->n_units != w->d_ff || p->d_ff != w->d_ff)
    return SW_ERR_INVALID;
  int    need_h = sw_policy_needs_h(p) || !w->gated;
  int    need_gate = p->kind != SW_POLICY_RANDOM && p->kind != SW_POLICY_DENSE;
  float *gact = sw_work_gact(work), *u = sw_work_u(work), *h = sw_work_h(work);
  double esz = w->dtype == SW_DTYPE_BF16 ? 2.0 : 4.0, mat_bytes = (double)w->d_model * w->d_ff * esz;
  double fsel = 0.0, bsel = 0.0;
  if (need_gate) {
    sw_ffn_compute_acts(gact, need_h && w->gated ? u : NULL, need_h ? h : NULL, x, w, n_tok, work);
    int mats = w->gated ? (need_h ? 2 : 1) : 1;
    fsel = mats * sw_flops_linear(w->d_model, w->d_ff, n_tok) + (need_h && w->gated ? (double)n_tok * w->d_ff : 0);
    bsel = mats * mat_bytes;
  }
  sw_rc rc = sw_policy_select(mask_out, p, gact, need_h ? h : NULL, nonce, work, n_tok);
  if (rc != SW_OK) return rc;
  sw_sel_t sel = {mask_out->idx, mask_out->off, NULL, 0};
  int64_t  rows = 0;
  int      use_h = need_gate && need_h, use_g = need_gate && !need_h;
  sw_ffn_exec(out, x, w, &sel, use_g ? gact : NULL, use_h ? h : NULL, work, n_tok, &rows);
  int per = use_h ? 1 : (use_g ? 2 : (w->gated ? 3 : 2));
  sw_fill_stats(stats, w, n_tok, mask_out->off[n_tok], rows, per, fsel, bsel);
  return SW_OK;
}
