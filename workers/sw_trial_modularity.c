/* sw_trial_modularity: the "modularity" workload — do a model's FFN neurons specialise on kinds of text?
 * (Pochinkov et al., "Investigating neuron separability and specialization"; the same statistics decide
 * whether MoEfication-style experts can exist, see the MoE methods in models/sw_method.h.)
 * For S data subsets (byte spans of offline text files), each split into windows whose first half "profiles"
 * and whose second half "tests":
 *   - per layer and subset, the neurons with the largest activation mass (Σ|h|, "act") and the largest
 *     attribution (Σ_t |g_t·h_t|, "attr", models/sw_attrib.h) over the profile windows: top_frac of d_ff;
 *   - overlap: IoU of those top sets between every pair of subsets, per layer and as the mean over layers ±
 *     standard error across layers; the expected IoU of two random sets of the same size (iou_random) and the
 *     split-half IoU of a subset with itself (profile windows halved: iou_act_A_A, the noise ceiling);
 *   - co-activation clustering: balanced k-means (kernels/sw_kmeans.h) of the neurons' |h| profiles over the
 *     profile tokens (every stride-th token) into `clusters` clusters; a cluster's specialisation is the largest
 *     share of its activation mass (per token) that one subset holds; mean over clusters and layers, against a
 *     random equal-size partition and the uniform 1/S;
 *   - ablation: deactivating the neurons specific to subset A (in A's top set and in no other subset's) in every
 *     layer, the change of NLL on the test windows of each subset B (paired with dense, per window; mean ±
 *     standard error across windows), and the same number of random neurons per layer as a control on A.
 * Config keys: model (as the model workload), subsets ("name=path[@byte_offset];..."; at least 2, at most 8),
 * tokens (512 per subset), window (64), top_frac (0.1), clusters (16), stride (4), seed (1), threads (1).
 * Metrics (A, B subset names; LL the layer): iou_act_A_B, iou_act_A_B_se, iou_attr_A_B(_se), iou_act_lLL_A_B,
 * iou_attr_lLL_A_B, iou_random; cluster_spec, cluster_spec_se, cluster_spec_random, cluster_spec_random_se,
 * cluster_spec_uniform, cluster_spec_lLL; specific_neurons_A (mean per layer); nll_dense_A;
 * ablate_A_on_B_dnll(_se), ablate_random_A_on_A_dnll(_se); subset_A_byte_start/_end. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_kmeans.h"
#include "models/sw_attrib.h"
#include "models/sw_eval.h"
#include "models/sw_llama_grad.h"
#include "experiments/sw_keys.h"
#include "workers/sw_trial.h"
#include "workers/sw_trial_model.h"

#define MO_MAX_SUBSETS 8
#define MO_MAX_WINDOWS 256

typedef struct mo_subset {
  char                  name[32];
  char                  path[1024];
  size_t                b0;
  sw_trial_model_span_t span;
} mo_subset_t;

typedef struct mo_cfg {
  const char *subsets;
  int64_t     tokens, window, clusters, stride, seed, threads;
  double      top_frac;
} mo_cfg_t;

/* Everything one analysis accumulates. */
typedef struct mo_ctx {
  const sw_llama_t *m;
  int               S, L, dff, window, n_prof, n_test, ncol, col;
  mo_subset_t       sub[MO_MAX_SUBSETS];
  double           *mass;  /* (2 stats, S, 2 halves, L, dff): Σ over the profile tokens (equal counts per subset) */
  float            *feat;  /* (L, dff, ncol) |h| at the sampled profile tokens */
  uint8_t          *top;   /* (2 stats, S, L, dff) membership of the top sets */
  double           *dense; /* (S, n_test) dense NLL per test window */
} mo_ctx_t;

static double *mass_at(const mo_ctx_t *x, int stat, int s, int half) {
  return x->mass + (((size_t)stat * x->S + (size_t)s) * 2 + (size_t)half) * (size_t)x->L * x->dff;
}
static uint8_t *top_at(const mo_ctx_t *x, int stat, int s, int l) {
  return x->top + (((size_t)stat * x->S + (size_t)s) * x->L + (size_t)l) * x->dff;
}

/* "name=path[@offset];..." into x->sub. */
static sw_rc parse_subsets(mo_ctx_t *x, const char *spec, sw_err_t *err) {
  const char *p = spec;
  x->S = 0;
  while (p && *p) {
    const char *end = strchr(p, ';'), *eq = strchr(p, '=');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (x->S == MO_MAX_SUBSETS) return sw_err_set(err, SW_ERR_RANGE, "modularity: more than %d subsets", MO_MAX_SUBSETS);
    mo_subset_t *s = &x->sub[x->S];
    if (!eq || eq > p + len || eq == p || (size_t)(eq - p) >= sizeof s->name)
      return sw_err_set(err, SW_ERR_PARSE, "modularity: subset %d '%.*s' is not name=path[@offset]", x->S + 1,
                        (int)len, p);
    memcpy(s->name, p, (size_t)(eq - p));
    for (const char *c = s->name; *c; c++)
      if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
        return sw_err_set(err, SW_ERR_PARSE, "modularity: subset name '%s': use a-z, 0-9, _", s->name);
    size_t plen = len - (size_t)(eq + 1 - p);
    if (plen == 0 || plen >= sizeof s->path) return sw_err_set(err, SW_ERR_PARSE, "modularity: subset '%s': bad path", s->name);
    memcpy(s->path, eq + 1, plen);
    char *at = strrchr(s->path, '@');
    if (at) {
      char *e = NULL;
      s->b0 = strtoull(at + 1, &e, 10);
      if (e == at + 1 || *e) return sw_err_set(err, SW_ERR_PARSE, "modularity: subset '%s': bad offset '%s'", s->name, at + 1);
      *at = '\0';
    }
    x->S++;
    p = end ? end + 1 : NULL;
  }
  if (x->S < 2) return sw_err_set(err, SW_ERR_INVALID, "modularity: 'subsets' needs at least 2 entries name=path[@offset]");
  return SW_OK;
}

static sw_rc mo_parse(mo_cfg_t *c, const sw_json_t *j, sw_err_t *err) {
  memset(c, 0, sizeof *c);
  const sw_keytable_t *t = sw_keytable("modularity"); /* experiments/sw_keys_table.c */
  sw_rc rc = sw_key_str(t, j, "subsets", &c->subsets, err);
  if (!rc) rc = sw_key_int(t, j, "tokens", &c->tokens, err);
  if (!rc) rc = sw_key_int(t, j, "window", &c->window, err);
  if (!rc) rc = sw_key_int(t, j, "clusters", &c->clusters, err);
  if (!rc) rc = sw_key_int(t, j, "stride", &c->stride, err);
  if (!rc) rc = sw_key_int(t, j, "seed", &c->seed, err);
  if (!rc) rc = sw_key_int(t, j, "threads", &c->threads, err);
  if (!rc) rc = sw_key_num(t, j, "top_frac", &c->top_frac, err);
  if (rc) return rc;
  if (!c->subsets) return sw_err_set(err, SW_ERR_INVALID, "modularity: missing 'subsets' (name=path[@offset];...)");
  if (c->window < 4 || c->window > 1024 || c->tokens < 3 * c->window || c->tokens / c->window > MO_MAX_WINDOWS)
    return sw_err_set(err, SW_ERR_RANGE, "modularity: window %lld / tokens %lld: need 3..%d windows of 4..1024 tokens",
                      (long long)c->window, (long long)c->tokens, MO_MAX_WINDOWS);
  if (!(c->top_frac > 0 && c->top_frac < 1) || c->clusters < 2 || c->stride < 1 || c->threads < 1 || c->threads > 256)
    return sw_err_set(err, SW_ERR_RANGE, "modularity: top_frac in (0,1), clusters >= 2, stride >= 1, threads 1..256");
  return SW_OK;
}

static void mo_free(mo_ctx_t *x) {
  for (int s = 0; s < x->S; s++) free(x->sub[s].span.ids), free(x->sub[s].span.bytes);
  free(x->mass), free(x->feat), free(x->top), free(x->dense);
}

static sw_rc mo_alloc(mo_ctx_t *x, const mo_cfg_t *c, sw_err_t *err) {
  const sw_llama_config_t *mc = &x->m->cfg;
  x->L = mc->n_layer, x->dff = mc->d_ff, x->window = (int)c->window;
  int n_win = (int)(c->tokens / c->window);
  x->n_prof = n_win / 2 < 2 ? 2 : n_win / 2;
  x->n_test = n_win - x->n_prof;
  x->ncol = x->S * x->n_prof * (int)((c->window + c->stride - 1) / c->stride);
  size_t ld = (size_t)x->L * x->dff;
  x->mass = calloc(2 * (size_t)x->S * 2 * ld, sizeof *x->mass);
  x->feat = calloc(ld * (size_t)x->ncol, sizeof *x->feat);
  x->top = calloc(2 * (size_t)x->S * ld, 1);
  x->dense = calloc((size_t)x->S * x->n_test, sizeof *x->dense);
  if (!x->mass || !x->feat || !x->top || !x->dense) return sw_err_set(err, SW_ERR_NOMEM, "modularity: out of memory");
  return SW_OK;
}

/* Profile windows of every subset: masses per half and the sampled |h| columns. */
static sw_rc profile(mo_ctx_t *x, int stride, sw_err_t *err) {
  sw_llama_state_t st;
  sw_llama_grad_t g;
  sw_attrib_scores_t sc;
  sw_rc rc = sw_llama_state_init(&st, x->m, x->window, x->window, err);
  if (!rc) rc = sw_llama_grad_init(&g, x->m, x->window, err);
  if (!rc) rc = sw_attrib_scores_init(&sc, &x->m->cfg, err);
  for (int s = 0; !rc && s < x->S; s++)
    for (int w = 0; !rc && w < x->n_prof; w++) {
      rc = sw_attrib_window(x->m, &st, &g, x->sub[s].span.ids + (size_t)w * x->window, x->window, &sc, err);
      int half = w < x->n_prof / 2 ? 0 : 1;
      for (int l = 0; !rc && l < x->L; l++) {
        double *ma = mass_at(x, 0, s, half) + (size_t)l * x->dff, *mg = mass_at(x, 1, s, half) + (size_t)l * x->dff;
        const double *a = sw_attrib_ffn(&sc, SW_ATTRIB_MAGNITUDE, l), *b = sw_attrib_ffn(&sc, SW_ATTRIB_GXO, l);
        for (int i = 0; i < x->dff; i++) ma[i] += a[i], mg[i] += b[i];
        for (int t = 0, c = x->col; t < x->window; t += stride, c++) {
          const float *h = sw_llama_grad_row(&g, g.h, l, t, x->dff);
          float *f = x->feat + (size_t)l * x->dff * x->ncol;
          for (int i = 0; i < x->dff; i++) f[(size_t)i * x->ncol + c] = fabsf(h[i]);
        }
      }
      x->col += (x->window + stride - 1) / stride;
    }
  sw_attrib_scores_free(&sc);
  sw_llama_grad_free(&g);
  sw_llama_state_free(&st);
  return rc;
}

/* member[i] = 1 for the k largest of v[0..n) (equal values: lower index first). */
static void top_set(uint8_t *member, const double *v, int n, int k, sw_attrib_rank_t *tmp) {
  for (int i = 0; i < n; i++) tmp[i].score = -v[i], tmp[i].index = i, member[i] = 0;
  for (int a = 1; a < n; a++) { /* insertion sort: n = d_ff, once per subset and layer */
    sw_attrib_rank_t r = tmp[a];
    int b = a - 1;
    while (b >= 0 && (tmp[b].score > r.score || (tmp[b].score == r.score && tmp[b].index > r.index))) tmp[b + 1] = tmp[b], b--;
    tmp[b + 1] = r;
  }
  for (int i = 0; i < k; i++) member[tmp[i].index] = 1;
}

static double iou(const uint8_t *a, const uint8_t *b, int n) {
  int in = 0, un = 0;
  for (int i = 0; i < n; i++) in += a[i] && b[i], un += a[i] || b[i];
  return un ? (double)in / un : 0.0;
}


/* Top sets of both statistics (both halves summed), IoU matrices and split-half self-overlap. */
static sw_rc overlap(mo_ctx_t *x, int k, sw_trial_out_t *out, sw_err_t *err) {
  static const char *const stat_name[2] = {"act", "attr"};
  sw_attrib_rank_t *tmp = malloc((size_t)x->dff * sizeof *tmp);
  uint8_t *h0 = malloc((size_t)x->dff * 2), *h1 = h0 ? h0 + x->dff : NULL;
  double *sum = malloc((size_t)x->dff * sizeof *sum), v[1024];
  if (!tmp || !h0 || !sum) return free(tmp), free(h0), free(sum), sw_err_set(err, SW_ERR_NOMEM, "modularity: oom");
  char name[128];
  for (int st = 0; st < 2; st++)
    for (int s = 0; s < x->S; s++)
      for (int l = 0; l < x->L; l++) {
        const double *a = mass_at(x, st, s, 0) + (size_t)l * x->dff, *b = mass_at(x, st, s, 1) + (size_t)l * x->dff;
        for (int i = 0; i < x->dff; i++) sum[i] = a[i] + b[i];
        top_set(top_at(x, st, s, l), sum, x->dff, k, tmp);
      }
  for (int st = 0; st < 2; st++)
    for (int a = 0; a < x->S; a++)
      for (int b = a; b < x->S; b++) {
        for (int l = 0; l < x->L && l < 1024; l++) {
          if (a == b) { /* split-half: top sets of the two halves of the profile windows */
            top_set(h0, mass_at(x, st, a, 0) + (size_t)l * x->dff, x->dff, k, tmp);
            top_set(h1, mass_at(x, st, a, 1) + (size_t)l * x->dff, x->dff, k, tmp);
            v[l] = iou(h0, h1, x->dff);
          } else {
            v[l] = iou(top_at(x, st, a, l), top_at(x, st, b, l), x->dff);
            snprintf(name, sizeof name, "iou_%s_l%02d_%s_%s", stat_name[st], l, x->sub[a].name, x->sub[b].name);
            sw_trial_out_metric(out, name, v[l], "fraction");
          }
        }
        double se, m = sw_attrib_mean_se(v, x->L, &se);
        snprintf(name, sizeof name, "iou_%s_%s_%s", stat_name[st], x->sub[a].name, x->sub[b].name);
        sw_trial_out_metric(out, name, m, "fraction");
        snprintf(name, sizeof name, "iou_%s_%s_%s_se", stat_name[st], x->sub[a].name, x->sub[b].name);
        sw_trial_out_metric(out, name, se, "fraction");
      }
  double f = (double)k / x->dff;
  sw_trial_out_metric(out, "iou_random", f / (2.0 - f), "fraction"); /* E|A∩B| = k²/n for random k-sets */
  free(tmp), free(h0), free(sum);
  return SW_OK;
}

/* Mean over clusters of the largest per-subset share of a cluster's per-token activation mass. */
static double specialisation(const mo_ctx_t *x, int l, const int32_t *assign, int E) {
  double *m = calloc((size_t)E * x->S, sizeof *m), spec = 0;
  if (!m) return NAN;
  for (int s = 0; s < x->S; s++) {
    const double *a = mass_at(x, 0, s, 0) + (size_t)l * x->dff, *b = mass_at(x, 0, s, 1) + (size_t)l * x->dff;
    for (int i = 0; i < x->dff; i++) m[(size_t)assign[i] * x->S + s] += a[i] + b[i];
  }
  for (int e = 0; e < E; e++) {
    double tot = 0, mx = 0;
    for (int s = 0; s < x->S; s++) tot += m[(size_t)e * x->S + s], mx = fmax(mx, m[(size_t)e * x->S + s]);
    spec += tot > 0 ? mx / tot / E : 0;
  }
  free(m);
  return spec;
}

static sw_rc clustering(const mo_ctx_t *x, int E, uint64_t seed, sw_trial_out_t *out, sw_err_t *err) {
  if (x->dff % E) return sw_err_set(err, SW_ERR_RANGE, "modularity: clusters %d does not divide d_ff %d", E, x->dff);
  int32_t *assign = malloc((size_t)x->dff * sizeof *assign);
  double km[1024], rnd[1024];
  sw_kmeans_cfg_t kc;
  sw_kmeans_defaults(&kc);
  kc.seed = seed;
  sw_rc rc = assign ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "modularity: out of memory");
  char name[64];
  for (int l = 0; !rc && l < x->L && l < 1024; l++) {
    rc = sw_kmeans_balanced(assign, x->feat + (size_t)l * x->dff * x->ncol, (size_t)x->dff, (size_t)x->ncol,
                            (size_t)E, &kc, err);
    if (!rc) km[l] = specialisation(x, l, assign, E);
    if (!rc) rc = sw_partition_make(assign, SW_PARTITION_RANDOM, NULL, (size_t)x->dff, 0, (size_t)E, NULL, seed, err);
    if (!rc) rnd[l] = specialisation(x, l, assign, E);
    snprintf(name, sizeof name, "cluster_spec_l%02d", l);
    if (!rc) sw_trial_out_metric(out, name, km[l], "fraction");
  }
  free(assign);
  if (rc) return rc;
  double se, m = sw_attrib_mean_se(km, x->L, &se);
  sw_trial_out_metric(out, "cluster_spec", m, "fraction");
  sw_trial_out_metric(out, "cluster_spec_se", se, "fraction");
  m = sw_attrib_mean_se(rnd, x->L, &se);
  sw_trial_out_metric(out, "cluster_spec_random", m, "fraction");
  sw_trial_out_metric(out, "cluster_spec_random_se", se, "fraction");
  sw_trial_out_metric(out, "cluster_spec_uniform", 1.0 / x->S, "fraction");
  return SW_OK;
}

/* NLL of each test window of subset s under hook (NULL = dense) into nll[n_test]. */
static sw_rc test_nll(const mo_ctx_t *x, sw_llama_state_t *st, const sw_llama_ffn_t *hook, int s, double *nll,
                      sw_err_t *err) {
  sw_rc rc = SW_OK;
  for (int w = 0; !rc && w < x->n_test; w++) {
    size_t off = (size_t)(x->n_prof + w) * x->window;
    sw_eval_result_t r;
    rc = sw_eval_run(x->m, st, hook, x->sub[s].span.ids + off, (size_t)x->window, x->sub[s].span.bytes + off,
                     x->window, NULL, NULL, &r, err);
    nll[w] = r.nll_mean;
  }
  return rc;
}

/* Δ NLL (ablated − dense) of subset b's test windows: mean and standard error across windows. */
static sw_rc put_delta(const mo_ctx_t *x, sw_llama_state_t *st, const sw_llama_ffn_t *hook, int b, const char *name,
                       sw_trial_out_t *out, sw_err_t *err) {
  double nll[MO_MAX_WINDOWS], se;
  sw_rc rc = test_nll(x, st, hook, b, nll, err);
  if (rc) return rc;
  for (int w = 0; w < x->n_test; w++) nll[w] -= x->dense[(size_t)b * x->n_test + w];
  char key[160];
  double m = sw_attrib_mean_se(nll, x->n_test, &se);
  snprintf(key, sizeof key, "%s_dnll", name);
  sw_trial_out_metric(out, key, m, "nat/token");
  snprintf(key, sizeof key, "%s_dnll_se", name);
  sw_trial_out_metric(out, key, se, "nat/token");
  return SW_OK;
}

/* Mask of the neurons specific to subset a (act top set, in no other subset's); returns the mean count per layer. */
static double specific_mask(const mo_ctx_t *x, int a, uint8_t *active) {
  size_t n = 0;
  for (int l = 0; l < x->L; l++)
    for (int i = 0; i < x->dff; i++) {
      int other = 0;
      for (int b = 0; b < x->S; b++) other |= b != a && top_at(x, 0, b, l)[i];
      active[(size_t)l * x->dff + i] = !(top_at(x, 0, a, l)[i] && !other);
      n += !active[(size_t)l * x->dff + i];
    }
  return (double)n / x->L;
}

/* Same count per layer as `spec`, random neurons (seeded Fisher–Yates prefix). */
static void random_mask(const mo_ctx_t *x, const uint8_t *spec, uint8_t *active, uint64_t seed, int32_t *perm) {
  uint64_t r = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int l = 0; l < x->L; l++) {
    int cnt = 0;
    for (int i = 0; i < x->dff; i++) cnt += !spec[(size_t)l * x->dff + i], perm[i] = i;
    for (int i = 0; i < cnt; i++) {
      r ^= r << 13, r ^= r >> 7, r ^= r << 17;
      int j = i + (int)(r % (uint64_t)(x->dff - i)), t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    memset(active + (size_t)l * x->dff, 1, (size_t)x->dff);
    for (int i = 0; i < cnt; i++) active[(size_t)l * x->dff + perm[i]] = 0;
  }
}

static sw_rc ablation(mo_ctx_t *x, uint64_t seed, sw_trial_out_t *out, sw_err_t *err) {
  sw_llama_state_t st;
  sw_attrib_mask_t k;
  memset(&k, 0, sizeof k);
  sw_rc rc = sw_llama_state_init(&st, x->m, x->window, x->window, err);
  if (!rc) rc = sw_attrib_mask_init(&k, x->m, x->window, err);
  int32_t *perm = malloc((size_t)x->dff * sizeof *perm);
  if (!rc && !perm) rc = sw_err_set(err, SW_ERR_NOMEM, "modularity: out of memory");
  sw_llama_ffn_t hook = sw_attrib_mask_hook(&k);
  char name[160];
  for (int s = 0; !rc && s < x->S; s++) {
    rc = test_nll(x, &st, NULL, s, x->dense + (size_t)s * x->n_test, err);
    double se, m = sw_attrib_mean_se(x->dense + (size_t)s * x->n_test, x->n_test, &se);
    snprintf(name, sizeof name, "nll_dense_%s", x->sub[s].name);
    sw_trial_out_metric(out, name, m, "nat/token");
  }
  for (int a = 0; !rc && a < x->S; a++) {
    snprintf(name, sizeof name, "specific_neurons_%s", x->sub[a].name);
    sw_trial_out_metric(out, name, specific_mask(x, a, k.ffn), "count");
    for (int b = 0; !rc && b < x->S; b++) {
      snprintf(name, sizeof name, "ablate_%s_on_%s", x->sub[a].name, x->sub[b].name);
      rc = put_delta(x, &st, &hook, b, name, out, err);
    }
    if (rc) break;
    uint8_t *spec = malloc((size_t)x->L * x->dff);
    if (!spec) rc = sw_err_set(err, SW_ERR_NOMEM, "modularity: out of memory");
    if (!rc) {
      memcpy(spec, k.ffn, (size_t)x->L * x->dff);
      random_mask(x, spec, k.ffn, seed + (uint64_t)a, perm);
      snprintf(name, sizeof name, "ablate_random_%s_on_%s", x->sub[a].name, x->sub[a].name);
      rc = put_delta(x, &st, &hook, a, name, out, err);
    }
    free(spec);
  }
  free(perm);
  if (k.ffn) sw_attrib_mask_free(&k);
  sw_llama_state_free(&st);
  return rc;
}

sw_rc sw_trial_run_modularity(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  mo_cfg_t c;
  mo_ctx_t x;
  memset(&x, 0, sizeof x);
  sw_rc rc = mo_parse(&c, config, err);
  if (!rc) rc = parse_subsets(&x, c.subsets, err);
  if (rc) return rc;
  openblas_set_num_threads((int)c.threads);
  for (int s = 0; !rc && s < x.S; s++) {
    rc = sw_trial_model_text_span(cache, config, x.sub[s].path, x.sub[s].b0, (size_t)c.tokens, &x.sub[s].span, err);
    if (rc) sw_err_prefix(err, "modularity: subset '%s'", x.sub[s].name);
    x.m = x.sub[s].span.model;
  }
  if (!rc) rc = mo_alloc(&x, &c, err);
  if (!rc) rc = profile(&x, (int)c.stride, err);
  if (!rc) rc = overlap(&x, (int)lround(c.top_frac * x.dff), out, err);
  if (!rc) rc = clustering(&x, (int)c.clusters, (uint64_t)c.seed, out, err);
  if (!rc) rc = ablation(&x, (uint64_t)c.seed, out, err);
  for (int s = 0; !rc && s < x.S; s++) {
    char name[96];
    snprintf(name, sizeof name, "subset_%s_byte_start", x.sub[s].name);
    sw_trial_out_metric(out, name, (double)x.sub[s].span.b0, "byte");
    snprintf(name, sizeof name, "subset_%s_byte_end", x.sub[s].name);
    sw_trial_out_metric(out, name, (double)x.sub[s].span.b1, "byte");
  }
  mo_free(&x);
  return rc;
}
