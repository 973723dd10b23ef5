/* sw_policy: k policies (top-k, CATS threshold, CHESS per-channel thresholds, CETT, random) — per-layer
 * calibration from activation samples and per-call mask selection.  Citations: CATS (Lee et al. 2024,
 * get_threshold: t = min{t' : F(t') >= s}), TEAL (Liu et al. 2024, t = F⁻¹(0.5 + s/2)), CHESS (He et al. 2024,
 * t_i = sqrt(T_l / E[u_i²])), CETT (Zhang et al. 2024, "ReLU² wins"; binary search on ε). */
#include "kernels/sw_policy.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_names.h"
#include "kernels/sw_ffn_internal.h"

#define SW_CETT_BISECT_STEPS 60

static const char *const sw_policy_names[SW_POLICY_COUNT] = {"dense", "topk", "threshold", "chess", "cett", "random"};

const char *sw_policy_name(sw_policy_kind_t kind) {
  return sw_names_at(sw_policy_names, SW_POLICY_COUNT, (int)kind);
}

sw_rc sw_policy_parse(const char *name, sw_policy_kind_t *kind, sw_err_t *err) {
  int k = sw_names_find(sw_policy_names, SW_POLICY_COUNT, name);
  if (k >= 0) {
    *kind = (sw_policy_kind_t)k;
    return SW_OK;
  }
  if (name && strcmp(name, "cats") == 0) {
    *kind = SW_POLICY_THRESHOLD;
    return SW_OK;
  }
  return sw_err_set(err, SW_ERR_INVALID, "unknown policy '%s' (dense, topk, threshold|cats, chess, cett, random)",
                    name ? name : "(null)");
}

sw_rc sw_policy_init(sw_policy_t *p, sw_policy_kind_t kind, int d_ff, uint64_t seed, sw_err_t *err) {
  memset(p, 0, sizeof *p);
  if (kind < 0 || kind >= SW_POLICY_COUNT || d_ff <= 0)
    return sw_err_set(err, SW_ERR_INVALID, "policy init: bad kind %d or d_ff %d", (int)kind, d_ff);
  p->kind = kind;
  p->d_ff = d_ff;
  p->seed = seed;
  p->k = d_ff;
  p->threshold = -1.0f;
  if (kind == SW_POLICY_CHESS) p->chan_thr = calloc((size_t)d_ff, sizeof *p->chan_thr);
  if (kind == SW_POLICY_CETT) p->down_norm = calloc((size_t)d_ff, sizeof *p->down_norm);
  if ((kind == SW_POLICY_CHESS && !p->chan_thr) || (kind == SW_POLICY_CETT && !p->down_norm)) {
    sw_policy_free(p);
    return sw_err_set(err, SW_ERR_NOMEM, "policy init: out of memory");
  }
  return SW_OK;
}

void sw_policy_free(sw_policy_t *p) {
  if (!p) return;
  free(p->chan_thr);
  free(p->down_norm);
  memset(p, 0, sizeof *p);
}

int sw_policy_needs_h(const sw_policy_t *p) { return p->kind == SW_POLICY_TOPK || p->kind == SW_POLICY_CETT; }

/* --- order statistics --- */

static int sw_cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static float median_of_3(float a, float b, float c) {
  if (a > b) { float t = a; a = b; b = t; }
  return c < a ? a : c > b ? b : c;
}

/* The k-th smallest of a[0..n) (0-based; finite values), a partly reordered: quickselect with Hoare partitions
 * around the median of three, O(n) expected; after 64 partitions the remaining range is sorted instead (bounds
 * the worst case).  The value equals a[k] of the fully sorted array, so thresholds do not change. */
static float sw_kth_smallest(float *a, size_t n, size_t k) {
  ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
  for (int budget = 64; lo < hi; budget--) {
    if (budget == 0) {
      qsort(a + lo, (size_t)(hi - lo + 1), sizeof *a, sw_cmp_float);
      break;
    }
    float     p = median_of_3(a[lo], a[lo + (hi - lo) / 2], a[hi]);
    ptrdiff_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) {
        float t = a[i];
        a[i++] = a[j], a[j--] = t;
      }
    }
    if (kk <= j) hi = j; /* a[lo..j] <= p <= a[i..hi], and every element between equals p */
    else if (kk >= i) lo = i;
    else break;
  }
  return a[kk];
}

sw_rc sw_calib_abs_quantile(float *t, const float *v, size_t n, double s, sw_err_t *err) {
  if (!(s >= 0.0 && s <= 1.0) || n == 0)
    return sw_err_set(err, SW_ERR_RANGE, "abs quantile: need 0 <= s <= 1 (got %g) and samples (got %zu)", s, n);
  size_t k = (size_t)llround(s * (double)n);
  if (k == 0) {
    *t = -1.0f;
    return SW_OK;
  }
  float *a = malloc(n * sizeof *a);
  if (!a) return sw_err_set(err, SW_ERR_NOMEM, "abs quantile: out of memory for %zu samples", n);
  for (size_t i = 0; i < n; i++) a[i] = fabsf(v[i]);
  *t = sw_kth_smallest(a, n, k - 1);
  free(a);
  return SW_OK;
}

/* 0-based rank of TEAL's order statistic F⁻¹(0.5 + s/2) among n values. */
static size_t teal_rank(size_t n, double s) {
  size_t k = (size_t)ceil((0.5 + s / 2.0) * (double)n);
  return k > 0 ? (k > n ? n - 1 : k - 1) : 0;
}

/* The TEAL threshold of a sorted sample at sparsity s (s = 0: -1, everything active). */
static float teal_threshold_sorted(const float *a, size_t n, double s) {
  return s == 0.0 ? -1.0f : fabsf(a[teal_rank(n, s)]);
}

sw_rc sw_calib_teal_levels(float *t, const float *v, size_t n, const double *s, int n_levels, sw_err_t *err) {
  int need_sort = 0;
  for (int i = 0; i < n_levels; i++) {
    if (!(s[i] >= 0.0 && s[i] <= 1.0) || n == 0)
      return sw_err_set(err, SW_ERR_RANGE, "teal threshold: need 0 <= s <= 1 (got %g) and samples (got %zu)", s[i], n);
    need_sort |= s[i] != 0.0;
  }
  float *a = NULL;
  if (need_sort) {
    if (!(a = malloc(n * sizeof *a)))
      return sw_err_set(err, SW_ERR_NOMEM, "teal threshold: out of memory for %zu samples", n);
    memcpy(a, v, n * sizeof *a);
    qsort(a, n, sizeof *a, sw_cmp_float);
  }
  for (int i = 0; i < n_levels; i++) t[i] = teal_threshold_sorted(a, n, s[i]);
  free(a);
  return SW_OK;
}

sw_rc sw_calib_teal(float *t, const float *v, size_t n, double s, sw_err_t *err) {
  if (!(s > 0.0 && s <= 1.0) || n == 0) return sw_calib_teal_levels(t, v, n, &s, 1, err); /* s = 0 and errors */
  float *a = malloc(n * sizeof *a);
  if (!a) return sw_err_set(err, SW_ERR_NOMEM, "teal threshold: out of memory for %zu samples", n);
  memcpy(a, v, n * sizeof *a);
  *t = fabsf(sw_kth_smallest(a, n, teal_rank(n, s))); /* one level: the order statistic by selection, no sort */
  free(a);
  return SW_OK;
}

sw_rc sw_calib_chess(float *t_ch, const float *gact, const float *u, int n_tok, int d_ff, double s, sw_err_t *err) {
  if (n_tok <= 0 || d_ff <= 0 || !u) return sw_err_set(err, SW_ERR_INVALID, "chess calibration: need samples and u");
  size_t  n = (size_t)n_tok * d_ff;
  double *eu2 = calloc((size_t)d_ff, sizeof *eu2);
  float  *imp = malloc(n * sizeof *imp);
  if (!eu2 || !imp) {
    free(eu2);
    free(imp);
    return sw_err_set(err, SW_ERR_NOMEM, "chess calibration: out of memory");
  }
  for (size_t k = 0; k < n; k++) eu2[k % (size_t)d_ff] += (double)u[k] * u[k] / n_tok;
  for (size_t k = 0; k < n; k++) imp[k] = (float)((double)gact[k] * gact[k] * eu2[k % (size_t)d_ff]);
  float T = 0.0f;
  sw_rc rc = sw_calib_abs_quantile(&T, imp, n, s, err);
  for (int i = 0; rc == SW_OK && i < d_ff; i++) {
    if (T < 0.0f)
      t_ch[i] = -1.0f;
    else
      t_ch[i] = eu2[i] > 0.0 ? (float)sqrt((double)T / eu2[i]) : FLT_MAX;
  }
  free(eu2);
  free(imp);
  return rc;
}

/* --- CETT --- */

/* Row i of the down matrix as floats into buf (d_model entries); returns buf or the row itself for f32. */
static const float *sw_down_row(const sw_ffn_weights_t *w, int i, float *buf) {
  if (w->dtype == SW_DTYPE_F32) return (const float *)w->down + (size_t)i * w->ld_down;
  for (int j = 0; j < w->d_model; j++) buf[j] = sw_ffn_weight_at(w->down, w->ld_down, w->dtype, i, j);
  return buf;
}

static void sw_down_norms(float *nrm, const sw_ffn_weights_t *w) {
  for (int i = 0; i < w->d_ff; i++) {
    double s = 0.0;
    for (int j = 0; j < w->d_model; j++) {
      double v = sw_ffn_weight_at(w->down, w->ld_down, w->dtype, i, j);
      s += v * v;
    }
    nrm[i] = (float)sqrt(s);
  }
}

double sw_cett_token(const float *h, const sw_ffn_weights_t *w, const float *down_norm, double eps) {
  int     d = w->d_model;
  double *tail = calloc((size_t)d, sizeof *tail), *full = calloc((size_t)d, sizeof *full);
  float  *buf = malloc((size_t)d * sizeof *buf);
  double  nt = 0.0, nf = 0.0;
  if (!tail || !full || !buf) {
    free(tail);
    free(full);
    free(buf);
    return NAN;
  }
  for (int i = 0; i < w->d_ff; i++) {
    int          small = fabs((double)h[i]) * down_norm[i] < eps;
    const float *row = sw_down_row(w, i, buf);
    for (int j = 0; j < d; j++) {
      double v = (double)h[i] * row[j];
      full[j] += v;
      if (small) tail[j] += v;
    }
  }
  for (int j = 0; j < d; j++) nt += tail[j] * tail[j], nf += full[j] * full[j];
  free(tail);
  free(full);
  free(buf);
  return nf > 0.0 ? sqrt(nt / nf) : 0.0;
}

typedef struct sw_cett_sorted {
  double *r;      /* [n_tok][d_ff] ascending |h_i|·‖down_i‖ */
  double *pnorm;  /* [n_tok][d_ff+1] ‖Σ of the first k truncated n_i‖ / ‖FFN‖ */
  int     n_tok, d_ff;
} sw_cett_sorted_t;

typedef struct sw_rank {
  double r;
  int    i;
} sw_rank_t;

static int sw_cmp_rank(const void *a, const void *b) {
  double x = ((const sw_rank_t *)a)->r, y = ((const sw_rank_t *)b)->r;
  return (x > y) - (x < y);
}

/* Per token: neurons sorted by ‖n_i‖ and the norm of every prefix sum (one pass over the down rows). */
static sw_rc sw_cett_prepare(sw_cett_sorted_t *cs, const float *h, const sw_ffn_weights_t *w, const float *nrm,
                             int n_tok) {
  int        d = w->d_model, f = w->d_ff;
  sw_rank_t *rk = malloc((size_t)f * sizeof *rk);
  double    *acc = malloc((size_t)d * sizeof *acc);
  float     *buf = malloc((size_t)d * sizeof *buf);
  cs->r = malloc((size_t)n_tok * f * sizeof *cs->r);
  cs->pnorm = malloc((size_t)n_tok * (f + 1) * sizeof *cs->pnorm);
  cs->n_tok = n_tok, cs->d_ff = f;
  sw_rc rc = (rk && acc && buf && cs->r && cs->pnorm) ? SW_OK : SW_ERR_NOMEM;
  for (int t = 0; rc == SW_OK && t < n_tok; t++) {
    const float *ht = h + (size_t)t * f;
    for (int i = 0; i < f; i++) rk[i] = (sw_rank_t){fabs((double)ht[i]) * nrm[i], i};
    qsort(rk, (size_t)f, sizeof *rk, sw_cmp_rank);
    double *pn = cs->pnorm + (size_t)t * (f + 1);
    memset(acc, 0, (size_t)d * sizeof *acc);
    pn[0] = 0.0;
    for (int k = 0; k < f; k++) {
      int          i = rk[k].i;
      double       s = 0.0, hi = (double)ht[i];
      const float *row = sw_down_row(w, i, buf);
      cs->r[(size_t)t * f + k] = rk[k].r;
      for (int j = 0; j < d; j++) {
        acc[j] += hi * row[j];
        s += acc[j] * acc[j];
      }
      pn[k + 1] = sqrt(s);
    }
    double full = pn[f];
    for (int k = 0; k <= f; k++) pn[k] = full > 0.0 ? pn[k] / full : 0.0;
  }
  free(rk);
  free(acc);
  free(buf);
  return rc;
}

/* Mean over tokens of CETT(eps): the prefix of neurons with ‖n_i‖ < eps. */
static double sw_cett_mean(const sw_cett_sorted_t *cs, double eps) {
  double sum = 0.0;
  for (int t = 0; t < cs->n_tok; t++) {
    const double *r = cs->r + (size_t)t * cs->d_ff;
    int           lo = 0, hi = cs->d_ff; /* count of r < eps */
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (r[mid] < eps)
        lo = mid + 1;
      else
        hi = mid;
    }
    sum += cs->pnorm[(size_t)t * (cs->d_ff + 1) + lo];
  }
  return sum / cs->n_tok;
}

static sw_rc sw_calib_cett(sw_policy_t *p, const sw_ffn_weights_t *w, const float *gact, const float *u, int n_tok,
                           double target, sw_err_t *err) {
  if (!w || w->d_ff != p->d_ff || !(target >= 0.0 && target < 1.0))
    return sw_err_set(err, SW_ERR_INVALID, "cett calibration: need weights of d_ff %d and 0 <= target < 1 (got %g)",
                      p->d_ff, target);
  size_t n = (size_t)n_tok * p->d_ff;
  float *h = malloc(n * sizeof *h);
  if (!h) return sw_err_set(err, SW_ERR_NOMEM, "cett calibration: out of memory");
  for (size_t k = 0; k < n; k++) h[k] = w->gated ? gact[k] * u[k] : gact[k];
  sw_down_norms(p->down_norm, w);
  sw_cett_sorted_t cs = {0};
  sw_rc            rc = sw_cett_prepare(&cs, h, w, p->down_norm, n_tok);
  if (rc == SW_OK) {
    double lo = 0.0, hi = 0.0;
    for (size_t k = 0; k < n; k++) hi = fmax(hi, cs.r[k]);
    hi = hi * 1.000001 + 1e-30;
    for (int it = 0; it < SW_CETT_BISECT_STEPS; it++) {
      double mid = 0.5 * (lo + hi);
      if (sw_cett_mean(&cs, mid) <= target)
        lo = mid;
      else
        hi = mid;
    }
    float t = (float)lo;
    if ((double)t > lo) t = nextafterf(t, 0.0f); /* never round ε up: that would truncate one more neuron */
    p->threshold = t;
  } else {
    sw_err_set(err, rc, "cett calibration: out of memory");
  }
  free(cs.r);
  free(cs.pnorm);
  free(h);
  return rc;
}

sw_rc sw_policy_calibrate(sw_policy_t *p, const sw_ffn_weights_t *w, const float *gact, const float *u, int n_tok,
                          double target, sw_err_t *err) {
  if (!(target >= 0.0 && target <= 1.0))
    return sw_err_set(err, SW_ERR_RANGE, "policy %s: target %g outside [0, 1]", sw_policy_name(p->kind), target);
  if (p->kind != SW_POLICY_DENSE && p->kind != SW_POLICY_TOPK && p->kind != SW_POLICY_RANDOM && (!gact || n_tok <= 0))
    return sw_err_set(err, SW_ERR_INVALID, "policy %s: calibration needs activation samples", sw_policy_name(p->kind));
  int gated = w ? w->gated : (u != NULL);
  sw_rc rc = SW_OK;
  p->target = target;
  switch (p->kind) {
  case SW_POLICY_DENSE: p->k = p->d_ff; break;
  case SW_POLICY_TOPK:
  case SW_POLICY_RANDOM: p->k = (int)llround((1.0 - target) * p->d_ff); break;
  case SW_POLICY_THRESHOLD:
    rc = sw_calib_abs_quantile(&p->threshold, gact, (size_t)n_tok * p->d_ff, target, err);
    break;
  case SW_POLICY_CHESS:
    if (!gated || !u) return sw_err_set(err, SW_ERR_INVALID, "policy chess: needs a gated FFN and up samples");
    rc = sw_calib_chess(p->chan_thr, gact, u, n_tok, p->d_ff, target, err);
    break;
  case SW_POLICY_CETT:
    if (gated && !u) return sw_err_set(err, SW_ERR_INVALID, "policy cett: gated FFN needs up samples");
    rc = sw_calib_cett(p, w, gact, u, n_tok, target, err);
    break;
  case SW_POLICY_COUNT: return sw_err_set(err, SW_ERR_INVALID, "policy: bad kind");
  }
  if (rc == SW_OK) p->calibrated = 1;
  return rc;
}

/* --- selection --- */

static uint64_t sw_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* k-th largest of non-negative float bit patterns (as int32, which order like the floats); a is permuted. */
static int32_t sw_kth_largest(int32_t *a, int n, int k) {
  int lo = 0, hi = n - 1, want = k - 1;
  while (lo < hi) {
    int32_t piv = a[lo + (hi - lo) / 2];
    int     i = lo, j = hi;
    while (i <= j) {
      while (a[i] > piv) i++;
      while (a[j] < piv) j--;
      if (i <= j) {
        int32_t tmp = a[i];
        a[i++] = a[j];
        a[j--] = tmp;
      }
    }
    if (want <= j)
      hi = j;
    else if (want >= i)
      lo = i;
    else
      break;
  }
  return a[want];
}

static int32_t sw_abs_bits(float v) {
  float   a = fabsf(v);
  int32_t b;
  memcpy(&b, &a, sizeof b);
  return b;
}

static int64_t sw_select_topk(int32_t *dst, const float *h, int f, int k, int32_t *scratch) {
  if (k >= f) {
    for (int i = 0; i < f; i++) dst[i] = i;
    return f;
  }
  if (k <= 0) return 0;
  for (int i = 0; i < f; i++) scratch[i] = sw_abs_bits(h[i]);
  int32_t kth = sw_kth_largest(scratch, f, k);
  int     above = 0;
  for (int i = 0; i < f; i++) above += sw_abs_bits(h[i]) > kth;
  int     ties = k - above, n = 0;
  for (int i = 0; i < f; i++) {
    int32_t b = sw_abs_bits(h[i]);
    if (b > kth || (b == kth && ties-- > 0)) dst[n++] = i;
  }
  return n;
}

static int64_t sw_select_random(int32_t *dst, int f, int k, uint64_t seed) {
  int64_t n = 0;
  for (int i = 0; i < f && n < k; i++) { /* selection sampling (Knuth TAOCP 3.4.2, algorithm S) */
    uint64_t r = sw_mix64(seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
    double   uu = (double)(r >> 11) * (1.0 / 9007199254740992.0);
    if ((double)(f - i) * uu < (double)(k - n)) dst[n++] = i;
  }
  return n;
}

sw_rc sw_policy_select(sw_mask_t *mask, const sw_policy_t *p, const float *gact, const float *h, uint64_t nonce,
                       sw_ffn_work_t *work, int n_tok) {
  int f = p->d_ff;
  if (!mask || mask->n_units != f || n_tok > mask->max_tok || n_tok < 0) return SW_ERR_INVALID;
  if ((p->kind == SW_POLICY_THRESHOLD || p->kind == SW_POLICY_CHESS) && !gact) return SW_ERR_INVALID;
  if (sw_policy_needs_h(p) && !h) return SW_ERR_INVALID;
  if (p->kind == SW_POLICY_TOPK && (!work || !work->i32 || work->d_ff < f)) return SW_ERR_INVALID;
  mask->n_tok = n_tok;
  mask->off[0] = 0;
  for (int t = 0; t < n_tok; t++) {
    int32_t     *dst = mask->idx + mask->off[t];
    const float *g = gact ? gact + (size_t)t * f : NULL, *ht = h ? h + (size_t)t * f : NULL;
    int64_t      n = 0;
    switch (p->kind) {
    case SW_POLICY_DENSE:
    case SW_POLICY_COUNT:
      for (int i = 0; i < f; i++) dst[n++] = i;
      break;
    case SW_POLICY_TOPK: n = sw_select_topk(dst, ht, f, p->k, sw_work_list(work)); break;
    case SW_POLICY_THRESHOLD:
      for (int i = 0; i < f; i++)
        if (fabsf(g[i]) > p->threshold) dst[n++] = i;
      break;
    case SW_POLICY_CHESS:
      for (int i = 0; i < f; i++)
        if (fabsf(g[i]) > p->chan_thr[i]) dst[n++] = i;
      break;
    case SW_POLICY_CETT:
      for (int i = 0; i < f; i++)
        if (fabsf(ht[i]) * p->down_norm[i] >= p->threshold) dst[n++] = i;
      break;
    case SW_POLICY_RANDOM:
      n = sw_select_random(dst, f, p->k, sw_mix64(p->seed ^ sw_mix64(nonce * 0x100000001b3ull + (uint64_t)t)));
      break;
    }
    mask->off[t + 1] = mask->off[t] + n;
  }
  return SW_OK;
}
