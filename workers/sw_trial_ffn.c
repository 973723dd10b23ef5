/* sw_trial_ffn: the "ffn" workload — dense vs activation-sparse FFN on synthetic weights (kernels/).
 * Each trial times dense and sparse calls interleaved, checks the sparse output against a float64 dense
 * reference and reports speedup, FLOPs, bytes, achieved sparsity and error (config keys and metrics below). */

/* Config keys (flat JSON; defaults in parentheses):
 *   d_model (576), d_ff (1536)      FFN shape (SmolLM2-135M by default; Llama-7B is 4096/11008)
 *   gated (1)                       1: gate/up/down (SwiGLU family), 0: plain W1/W2
 *   activation ("silu")             any sw_act_parse name; gated names (swiglu, geglu, reglu) force gated = 1
 *   dtype ("f32")                   "f32" | "bf16" weights
 *   batch (1)                       tokens per call
 *   method ("threshold")            dense | topk | threshold (alias cats) | chess | cett | random | teal, and the MoE /
 *                                   predictor methods of workers/sw_trial_moe.h (moe_topk, moe_dynk_max, ...)
 *   sparsity (0.5)                  target sparsity s for topk/threshold/chess/random
 *   tau (0.1)                       CETT target for cett (cumulative tail-truncation error), τ for MoE methods
 *   timing ("full")                 "full": selection included (dense gate for threshold/chess, gate+up for
 *                                   topk/cett); "kernel": mask computed once, only the masked kernel timed
 *   n_calib (64)                    calibration tokens (disjoint from the evaluation tokens)
 *   seed (1), warmup (2), repetitions (7), threads (1)
 *   cache ("cold")                  "cold": every call uses the next of several weight copies spanning
 *                                   cold_mib (256) MiB; "warm": one copy
 *   error_tokens (4)                tokens checked against the float64 dense reference
 *   act_param (0)                   FATReLU's threshold (activation fatrelu only; 0 makes it ReLU)
 *   teal_threshold ("abs_quantile") teal: abs_quantile (s-quantile of |x|) | signed_cdf (F⁻¹(0.5 + s/2), TEAL's
 *                                   code); t_h is read from the h of the sparsified x̃ (kernels/sw_teal.h) */

/* Metrics: speedup (median of per-pair dense/sparse ratios), time_dense, time_method (s, medians), ideal_speedup,
 * sparsity_target, achieved_sparsity (neurons, mean) and sparsity_token_p10/_p50/_p90, flops, flops_dense,
 * flops_select (flop per call, analytical), flop_ratio, weight_bytes, weight_bytes_dense (byte per call),
 * gbs_dense, gbs_method (GB/s), rel_error and rel_error_dense (mean ‖y − y_ref‖/‖y_ref‖ vs float64 dense),
 * threshold, k; teal adds sparsity_input (x̃ of gate/up), sparsity_model (parameter-weighted over the three
 * matrices, TEAL's "model-wide" notion restricted to the FFN) and thresholds t_x, t_h.
 * Samples: "dense" and "sparse" (interleaved A B per repetition).  Counters: PAPI presets and
 * the kernels' SDE events (sde:::sparsweep::*) for each series. */
#include <cblas.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_time.h"
#include "common/sw_stats.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"
#include "kernels/sw_flops.h"
#include "kernels/sw_isa.h"
#include "workers/sw_slot.h"
#include "kernels/sw_policy.h"
#include "kernels/sw_sde.h"
#include "kernels/sw_teal.h"
#include "workers/sw_counters.h"
#include "workers/sw_trial.h"
#include "workers/sw_trial_moe.h"
#include "experiments/sw_keys.h"

typedef struct ft_cfg {
  int64_t     d_model, d_ff, gated, batch, seed, warmup, reps, threads, n_calib, cold_mib, error_tokens;
  double      sparsity, tau, act_param;
  const char *activation, *dtype, *method, *timing, *cache, *kernel_isa, *teal_threshold;
  sw_act_t    act;
  sw_isa_t    isa; /* requested SIMD variant (AUTO: SPARSWEEP_KERNEL_ISA or the best) */
} ft_cfg_t;

#define FT_KEY(key, field) {key, offsetof(ft_cfg_t, field)}
/* The keys of the ffn table (experiments/sw_keys_table.c) and the fields they fill. */
static const sw_keybind_t ft_keys[] = {
    FT_KEY("d_model", d_model),   FT_KEY("d_ff", d_ff),           FT_KEY("gated", gated),
    FT_KEY("batch", batch),       FT_KEY("seed", seed),           FT_KEY("warmup", warmup),
    FT_KEY("threads", threads),   FT_KEY("n_calib", n_calib),     FT_KEY("cold_mib", cold_mib),
    FT_KEY("error_tokens", error_tokens), FT_KEY("repetitions", reps), FT_KEY("sparsity", sparsity),
    FT_KEY("tau", tau),           FT_KEY("activation", activation), FT_KEY("dtype", dtype),
    FT_KEY("method", method),     FT_KEY("timing", timing),       FT_KEY("cache", cache),
    FT_KEY("kernel_isa", kernel_isa), FT_KEY("act_param", act_param), FT_KEY("teal_threshold", teal_threshold),
};
#undef FT_KEY

static sw_rc ft_parse(ft_cfg_t *c, const sw_json_t *j, sw_err_t *err) {
  memset(c, 0, sizeof *c);
  c->kernel_isa = "auto"; /* declared without default: absent means SPARSWEEP_KERNEL_ISA or the best */
  sw_rc rc = sw_keys_read(sw_keytable("ffn"), j, ft_keys, sizeof ft_keys / sizeof ft_keys[0], c, err);
  if (rc != SW_OK) return sw_err_prefix(err, "ffn");
  if ((rc = sw_isa_parse(c->kernel_isa, &c->isa, err)) != SW_OK) return sw_err_prefix(err, "ffn: kernel_isa");
  int gated_name = 0;
  if ((rc = sw_act_parse(c->activation, &c->act, &gated_name, err)) != SW_OK) return rc;
  if (gated_name) c->gated = 1;
  if (!(c->act_param >= 0.0 && c->act_param <= 1e6) || (c->act_param != 0.0 && c->act != SW_ACT_FATRELU))
    return sw_err_set(err, SW_ERR_RANGE, "ffn: act_param %g: the FATReLU threshold, >= 0, only with activation "
                      "fatrelu", c->act_param);
  return SW_OK;
}

/* Weight copies for cache rotation (kept in the trial cache across trials of the same shape). */
typedef struct ft_weights {
  sw_ffn_weights_t *w;
  int               n;
} ft_weights_t;

static void ft_weights_destroy(void *v) {
  ft_weights_t *fw = v;
  for (int k = 0; k < fw->n; k++) sw_ffn_weights_free(&fw->w[k]);
  free(fw->w);
  free(fw);
}

static sw_rc ft_weights_get(ft_weights_t **out, sw_trial_cache_t *cache, const ft_cfg_t *c, sw_err_t *err) {
  sw_dtype_t dt = strcmp(c->dtype, "bf16") == 0 ? SW_DTYPE_BF16 : SW_DTYPE_F32;
  double     one = (double)c->d_model * c->d_ff * (c->gated ? 3 : 2) * (dt == SW_DTYPE_BF16 ? 2 : 4);
  int        n = strcmp(c->cache, "warm") == 0 ? 1 : (int)ceil((double)c->cold_mib * 1048576.0 / one);
  if (n < 1) n = 1;
  char key[200];
  snprintf(key, sizeof key, "ffn_weights:%lld:%lld:%lld:%d:%.9g:%s:%lld:%d", (long long)c->d_model,
           (long long)c->d_ff, (long long)c->gated, (int)c->act, c->act_param, c->dtype, (long long)c->seed, n);
  ft_weights_t *fw = cache ? sw_trial_cache_get(cache, key) : NULL;
  if (fw) {
    *out = fw;
    return SW_OK;
  }
  fw = calloc(1, sizeof *fw);
  if (fw) fw->w = calloc((size_t)n, sizeof *fw->w);
  if (!fw || !fw->w) {
    free(fw);
    return sw_err_set(err, SW_ERR_NOMEM, "ffn: out of memory for weight copies");
  }
  for (int k = 0; k < n; k++) {
    sw_rc rc = sw_ffn_weights_alloc(&fw->w[k], (int)c->d_model, (int)c->d_ff, (int)c->gated, c->act,
                                    (float)c->act_param, dt, err);
    if (rc != SW_OK) {
      ft_weights_destroy(fw);
      return rc;
    }
    fw->n = k + 1;
    /* copy 0 is the model; the rotation copies hold the same values so every call computes the same FFN */
    if (k == 0)
      sw_ffn_weights_fill_random(&fw->w[0], (uint64_t)c->seed);
    else
      memcpy(fw->w[k].owned_buf, fw->w[0].owned_buf, fw->w[0].ld_up * (size_t)c->d_ff * (dt == SW_DTYPE_BF16 ? 2 : 4));
  }
  if (cache) {
    sw_rc rc = sw_trial_cache_put(cache, key, fw, ft_weights_destroy);
    if (rc != SW_OK) return sw_err_set(err, rc, "ffn: cannot cache weights");
  }
  *out = fw;
  return SW_OK;
}

static void ft_fill_tokens(float *x, size_t n, uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 12345;
  for (size_t i = 0; i < n; i += 2) { /* Box–Muller: N(0, 1) entries */
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    double u1 = ((double)(s >> 11) + 1.0) / 9007199254740993.0;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    double u2 = (double)(s >> 11) / 9007199254740992.0, r = sqrt(-2.0 * log(u1));
    x[i] = (float)(r * cos(6.283185307179586 * u2));
    if (i + 1 < n) x[i + 1] = (float)(r * sin(6.283185307179586 * u2));
  }
}

/* Everything one trial needs, freed by ft_state_free. */
typedef struct ft_state {
  ft_cfg_t       cfg;
  ft_weights_t  *fw;
  sw_ffn_work_t  work;
  sw_mask_t      mask;
  sw_policy_t    policy;
  int            has_policy, kernel_only, teal;
  sw_teal_weights_t *tw; /* teal: one per weight copy */
  sw_teal_policy_t   tp;
  int64_t            teal_nx; /* active x channels of the last teal call */
  float         *x, *xc, *y_dense, *y_sparse, *gact, *u;
  int            next;
  sw_sde_t       sde;
  int            sde_on;
  sw_counters_t *cnt_dense, *cnt_sparse;
} ft_state_t;

static void ft_state_free(ft_state_t *s) {
  for (int k = 0; s->tw && k < s->fw->n; k++) sw_teal_weights_free(&s->tw[k]);
  free(s->tw);
  sw_ffn_work_free(&s->work);
  sw_mask_free(&s->mask);
  if (s->has_policy) sw_policy_free(&s->policy);
  free(s->x), free(s->xc), free(s->y_dense), free(s->y_sparse), free(s->gact), free(s->u);
  if (s->cnt_dense) sw_counters_close(s->cnt_dense);
  if (s->cnt_sparse) sw_counters_close(s->cnt_sparse);
  if (s->sde_on) sw_sde_shutdown(&s->sde);
}

static const sw_ffn_weights_t *ft_next_weights(ft_state_t *s) {
  const sw_ffn_weights_t *w = &s->fw->w[s->next];
  s->next = (s->next + 1) % s->fw->n;
  return w;
}

/* Calibrates the policy on the calibration tokens and, for timing "kernel", precomputes the mask. */
static sw_rc ft_setup_policy(ft_state_t *s, sw_policy_kind_t kind, sw_err_t *err) {
  const ft_cfg_t         *c = &s->cfg;
  const sw_ffn_weights_t *w0 = &s->fw->w[0];
  sw_rc                   rc = sw_policy_init(&s->policy, kind, (int)c->d_ff, (uint64_t)c->seed, err);
  if (rc != SW_OK) return rc;
  s->has_policy = 1;
  rc = sw_ffn_dense_acts(s->gact, c->gated ? s->u : NULL, NULL, s->xc, w0, &s->work, (int)c->n_calib);
  if (rc != SW_OK) return sw_err_set(err, rc, "ffn: dense activations for calibration failed");
  double target = kind == SW_POLICY_CETT ? c->tau : c->sparsity;
  rc = sw_policy_calibrate(&s->policy, w0, s->gact, c->gated ? s->u : NULL, (int)c->n_calib, target, err);
  if (rc != SW_OK) return rc;
  /* the mask of the evaluation tokens (used by timing "kernel", and for the achieved-sparsity metrics) */
  rc = sw_ffn_policy_forward(s->y_sparse, &s->mask, s->x, w0, &s->policy, 0, NULL, &s->work, (int)c->batch);
  if (rc != SW_OK) return sw_err_set(err, rc, "ffn: policy forward failed");
  return SW_OK;
}

/* TEAL: transposed copies of every rotation copy, thresholds from the calibration tokens. */
static sw_rc ft_setup_teal(ft_state_t *s, sw_err_t *err) {
  const ft_cfg_t *c = &s->cfg;
  s->teal = 1;
  s->tw = calloc((size_t)s->fw->n, sizeof *s->tw);
  if (!s->tw) return sw_err_set(err, SW_ERR_NOMEM, "ffn: out of memory for teal weights");
  for (int k = 0; k < s->fw->n; k++) {
    sw_rc rc = sw_teal_weights_init(&s->tw[k], &s->fw->w[k], err);
    if (rc != SW_OK) return rc;
  }
  /* t_h on the h computed from the sparsified x̃ (sequential, kernels/sw_teal.h) */
  return sw_teal_calibrate(&s->tp, &s->fw->w[0], s->xc, (int)c->n_calib, c->sparsity,
                           strcmp(c->teal_threshold, "signed_cdf") == 0, err);
}

static double ft_call(ft_state_t *s, int sparse, sw_ffn_stats_t *st, sw_rc *rc) {
  int                     copy = s->next;
  const sw_ffn_weights_t *w = ft_next_weights(s);
  int                     n = (int)s->cfg.batch;
  int64_t                 t0 = sw_now_ns();
  if (sparse && s->teal)
    *rc = sw_ffn_teal_forward(s->y_sparse, s->x, &s->tw[copy], &s->tp, st, &s->teal_nx, &s->work, n);
  else if (!sparse)
    *rc = sw_ffn_dense_forward(s->y_dense, s->x, w, st, &s->work, n);
  else if (s->kernel_only)
    *rc = sw_ffn_sparse_forward(s->y_sparse, s->x, w, &s->mask, st, &s->work, n);
  else
    *rc = sw_ffn_policy_forward(s->y_sparse, &s->mask, s->x, w, &s->policy, (uint64_t)s->next, st, &s->work, n);
  return (double)(sw_now_ns() - t0) * 1e-9;
}

static void ft_counted(sw_counters_t *c, int start) {
  sw_err_t e;
  if (!c) return;
  if (start)
    (void)sw_counters_start(c, &e);
  else
    (void)sw_counters_stop(c, &e);
}

/* Interleaved dense/sparse pairs; fills medians, the median pair ratio and the last sparse stats. */
static sw_rc ft_time(ft_state_t *s, sw_trial_out_t *out, double *t_dense, double *t_sparse, double *ratio,
                     sw_ffn_stats_t *st_sparse, sw_err_t *err) {
  int     reps = (int)s->cfg.reps;
  double *td = malloc((size_t)reps * 3 * sizeof *td), *ts = td + reps, *r = td + 2 * reps;
  if (!td) return sw_err_set(err, SW_ERR_NOMEM, "ffn: out of memory");
  sw_rc          rc = SW_OK;
  sw_ffn_stats_t st;
  for (int i = 0; rc == SW_OK && i < s->cfg.warmup; i++) {
    ft_call(s, 0, &st, &rc);
    if (rc == SW_OK) ft_call(s, 1, &st, &rc);
  }
  for (int i = 0; rc == SW_OK && i < reps; i++) {
    /* the SDE counters are bumped inside each counted region (after the timed call) */
    ft_counted(s->cnt_dense, 1);
    td[i] = ft_call(s, 0, &st, &rc);
    if (s->sde_on) sw_sde_account(&s->sde, &st);
    ft_counted(s->cnt_dense, 0);
    if (rc != SW_OK) break;
    ft_counted(s->cnt_sparse, 1);
    ts[i] = ft_call(s, 1, st_sparse, &rc);
    if (s->sde_on) sw_sde_account(&s->sde, st_sparse);
    ft_counted(s->cnt_sparse, 0);
    r[i] = td[i] / ts[i];
    sw_trial_out_sample(out, "dense", i, td[i]);
    sw_trial_out_sample(out, "sparse", i, ts[i]);
  }
  if (rc == SW_OK) {
    *t_dense = sw_median(td, (size_t)reps);
    *t_sparse = sw_median(ts, (size_t)reps);
    *ratio = sw_median(r, (size_t)reps);
  } else {
    sw_err_set(err, rc, "ffn: kernel call failed (%s)", sw_err_name(rc));
  }
  free(td);
  return rc;
}

/* Mean over the first error_tokens tokens of ‖y − ref‖ / ‖ref‖ against the float64 dense FFN. */
static double ft_rel_error(const float *y, const double *ref, int n_tok, int d) {
  double sum = 0.0;
  for (int t = 0; t < n_tok; t++) {
    double e = 0.0, nr = 0.0;
    for (int j = 0; j < d; j++) {
      double dv = (double)y[(size_t)t * d + j] - ref[(size_t)t * d + j];
      e += dv * dv, nr += ref[(size_t)t * d + j] * ref[(size_t)t * d + j];
    }
    sum += nr > 0.0 ? sqrt(e / nr) : sqrt(e);
  }
  return n_tok > 0 ? sum / n_tok : 0.0;
}

static double ft_ideal(const ft_state_t *s, double sp) {
  const ft_cfg_t *c = &s->cfg;
  double          a = 1.0 - sp, rows = c->gated ? 3.0 : 2.0;
  if (s->teal) return a > 0.0 ? 1.0 / a : INFINITY; /* sp is then the parameter-weighted sparsity */
  if (!s->has_policy || s->kernel_only || s->policy.kind == SW_POLICY_RANDOM || s->policy.kind == SW_POLICY_DENSE)
    return a > 0.0 ? 1.0 / a : INFINITY;
  if (!c->gated || sw_policy_needs_h(&s->policy)) return rows / (rows - 1.0 + a);
  return 3.0 / (1.0 + 2.0 * a);
}

static void ft_write_metrics(ft_state_t *s, sw_trial_out_t *out, double td, double tsp, double ratio,
                             const sw_ffn_stats_t *st) {
  const ft_cfg_t *c = &s->cfg;
  int             n = (int)c->batch;
  double         *tok = s->teal ? NULL : malloc((size_t)n * sizeof *tok);
  double          sp = sw_mask_sparsity(&s->mask), sp_ideal = sp;
  if (s->teal) {
    double sx = 1.0 - (double)s->teal_nx / ((double)n * c->d_model);
    double sh = st->neurons_total ? 1.0 - (double)st->neurons_executed / (double)st->neurons_total : 0.0;
    sp = c->gated ? (2.0 * sx + sh) / 3.0 : (sx + sh) / 2.0;
    sp_ideal = sp;
    sw_trial_out_metric(out, "sparsity_input", sx, "fraction");
    sw_trial_out_metric(out, "sparsity_model", sp, "fraction");
    sw_trial_out_metric(out, "t_x", s->tp.t_x, "value");
    sw_trial_out_metric(out, "t_h", s->tp.t_h, "value");
    sp = sh; /* achieved_sparsity below: the down input (intermediate) sparsity */
  }
  sw_trial_out_metric(out, "speedup", ratio, "ratio");
  sw_trial_out_metric(out, "time_dense", td, "s");
  sw_trial_out_metric(out, "time_method", tsp, "s");
  sw_trial_out_metric(out, "ideal_speedup", ft_ideal(s, sp_ideal), "ratio");
  sw_trial_out_metric(out, "sparsity_target", c->sparsity, "fraction");
  sw_trial_out_metric(out, "achieved_sparsity", sp, "fraction");
  if (tok) {
    for (int t = 0; t < n; t++) tok[t] = sw_mask_token_sparsity(&s->mask, t);
    sw_trial_out_metric(out, "sparsity_token_p10", sw_quantile(tok, (size_t)n, 0.1), "fraction");
    sw_trial_out_metric(out, "sparsity_token_p50", sw_quantile(tok, (size_t)n, 0.5), "fraction");
    sw_trial_out_metric(out, "sparsity_token_p90", sw_quantile(tok, (size_t)n, 0.9), "fraction");
    free(tok);
  }
  sw_trial_out_metric(out, "flops", st->flops, "flop");
  sw_trial_out_metric(out, "flops_dense", st->flops_dense, "flop");
  sw_trial_out_metric(out, "flops_select", st->flops_select, "flop");
  sw_trial_out_metric(out, "flop_ratio", st->flops_dense > 0 ? st->flops / st->flops_dense : 0.0, "ratio");
  sw_trial_out_metric(out, "weight_bytes", st->weight_bytes, "byte");
  sw_trial_out_metric(out, "weight_bytes_dense", st->weight_bytes_dense, "byte");
  sw_trial_out_metric(out, "gbs_dense", st->weight_bytes_dense / td * 1e-9, "GB/s");
  sw_trial_out_metric(out, "gbs_method", st->weight_bytes / tsp * 1e-9, "GB/s");
  if (s->has_policy) {
    sw_trial_out_metric(out, "threshold", s->policy.threshold, "value");
    sw_trial_out_metric(out, "k", s->policy.k, "count");
  }
  sw_trial_out_metric(out, "n_weight_copies", s->fw->n, "count");
  sw_trial_out_metric(out, "threads", (double)c->threads, "count");
  /* the variant that ran: its level as the value, its name as the unit (e.g. 1, "avx2") */
  sw_trial_out_metric(out, "kernel_isa", (double)s->work.isa, sw_isa_name(s->work.isa));
}

static sw_rc ft_alloc_state(ft_state_t *s, sw_err_t *err) {
  const ft_cfg_t *c = &s->cfg;
  size_t          d = (size_t)c->d_model, f = (size_t)c->d_ff, nb = (size_t)c->batch, nc = (size_t)c->n_calib;
  int             max_tok = (int)(nb > nc ? nb : nc);
  sw_rc           rc = sw_ffn_work_alloc(&s->work, (int)d, (int)f, max_tok, (int)c->threads, err);
  if (rc == SW_OK && (rc = sw_ffn_work_set_isa(&s->work, c->isa, err)) != SW_OK) sw_err_prefix(err, "ffn: kernel_isa");
  if (rc == SW_OK) rc = sw_mask_alloc(&s->mask, (int)f, (int)nb, err);
  if (rc != SW_OK) return rc;
  s->x = malloc(nb * d * sizeof(float));
  s->xc = malloc(nc * d * sizeof(float));
  s->y_dense = malloc(nb * d * sizeof(float));
  s->y_sparse = malloc(nb * d * sizeof(float));
  s->gact = malloc(nc * f * sizeof(float));
  s->u = malloc(nc * f * sizeof(float));
  if (!s->x || !s->xc || !s->y_dense || !s->y_sparse || !s->gact || !s->u)
    return sw_err_set(err, SW_ERR_NOMEM, "ffn: out of memory for %zu tokens", nb + nc);
  ft_fill_tokens(s->x, nb * d, (uint64_t)c->seed * 2 + 1);
  ft_fill_tokens(s->xc, nc * d, (uint64_t)c->seed * 2 + 2);
  return SW_OK;
}

static sw_rc ft_errors(ft_state_t *s, sw_trial_out_t *out, sw_err_t *err) {
  const ft_cfg_t *c = &s->cfg;
  int             n = (int)(c->error_tokens < c->batch ? c->error_tokens : c->batch);
  if (n <= 0) return SW_OK;
  double *ref = malloc((size_t)n * c->d_model * sizeof *ref);
  if (!ref) return sw_err_set(err, SW_ERR_NOMEM, "ffn: out of memory for the reference");
  sw_ffn_reference_f64(ref, s->x, &s->fw->w[0], NULL, n);
  sw_trial_out_metric(out, "rel_error", ft_rel_error(s->y_sparse, ref, n, (int)c->d_model), "ratio");
  sw_trial_out_metric(out, "rel_error_dense", ft_rel_error(s->y_dense, ref, n, (int)c->d_model), "ratio");
  free(ref);
  return SW_OK;
}

/* Opens the counters the experiment asks for (measure.papi_events; "default" = the default presets plus
 * the kernels' SDE events); a malformed papi_events fails the trial with a message naming the key. */
static sw_rc ft_open_counters(ft_state_t *s, const sw_json_t *config, sw_err_t *err) {
  sw_err_t e;
  s->sde_on = sw_sde_init(&s->sde, NULL, &e) == SW_OK;
  sw_rc rc = sw_counters_open_config(&s->cnt_dense, config, NULL, err);
  if (rc == SW_OK) rc = sw_counters_open_config(&s->cnt_sparse, config, NULL, err);
  sw_counters_set_threads(s->cnt_dense, (int)s->cfg.threads); /* both series run on the kernels' pool */
  sw_counters_set_threads(s->cnt_sparse, (int)s->cfg.threads);
  return rc;
}

static sw_rc ft_run_moe(ft_state_t *s, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  const ft_cfg_t   *c = &s->cfg;
  sw_trial_moe_in_t in = {&s->fw->w[0], s->xc, (int)c->n_calib, s->x,      (int)c->batch,
                          (int)c->reps, (int)c->threads, s->fw->w, s->fw->n}; /* cache: cold rotates the copies */
  return sw_trial_ffn_moe(config, &in, out, err);
}

sw_rc sw_trial_run_ffn(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  ft_state_t s;
  memset(&s, 0, sizeof s);
  sw_rc rc = ft_parse(&s.cfg, config, err);
  if (rc != SW_OK) return rc;
  sw_policy_kind_t kind = SW_POLICY_DENSE;
  int              moe = sw_trial_moe_handles(s.cfg.method), teal = strcmp(s.cfg.method, "teal") == 0;
  if (!moe && !teal && (rc = sw_policy_parse(s.cfg.method, &kind, err)) != SW_OK) return rc;
  openblas_set_num_threads((int)s.cfg.threads);
  rc = ft_weights_get(&s.fw, cache, &s.cfg, err);
  if (rc == SW_OK) rc = ft_alloc_state(&s, err);
  if (rc == SW_OK && moe) {
    rc = ft_run_moe(&s, config, out, err);
    ft_state_free(&s);
    if (!cache && s.fw) ft_weights_destroy(s.fw);
    return rc;
  }
  if (rc == SW_OK) rc = teal ? ft_setup_teal(&s, err) : ft_setup_policy(&s, kind, err);
  s.kernel_only = strcmp(s.cfg.timing, "kernel") == 0;
  double         td = 0, tsp = 0, ratio = 0;
  sw_ffn_stats_t st;
  memset(&st, 0, sizeof st);
  if (rc == SW_OK) rc = ft_open_counters(&s, config, err);
  sw_slot_t slot; /* the timed phase only: setup and the error check above/below run in parallel */
  if (rc == SW_OK && (rc = sw_slot_acquire(&slot, config, err)) == SW_OK) {
    rc = ft_time(&s, out, &td, &tsp, &ratio, &st, err);
    sw_slot_release(&slot, out);
  }
  if (rc == SW_OK) {
    if (s.cnt_dense) sw_counters_write(s.cnt_dense, out, "dense");
    if (s.cnt_sparse) sw_counters_write(s.cnt_sparse, out, "sparse");
    ft_write_metrics(&s, out, td, tsp, ratio, &st);
    rc = ft_errors(&s, out, err);
  }
  ft_state_free(&s);
  if (!cache && s.fw) ft_weights_destroy(s.fw);
  return rc;
}
