/* sw_trial_moe: MoE-conversion (MoEfication / D2DMoE / LTE selection) and Deja Vu predictor methods of the
 * synthetic FFN trial.  Builds the conversion from the caller's FFN, trains on calibration tokens, measures
 * quality against the dense output and times dense vs method calls interleaved (A B A B). */
#include "workers/sw_trial_moe.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_names.h"
#include "common/sw_stats.h"
#include "common/sw_time.h"
#include "kernels/sw_act.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_isa.h"
#include "kernels/sw_moe.h"
#include "kernels/sw_predictor.h"
#include "kernels/sw_sde.h"
#include "workers/sw_counters.h"
#include "workers/sw_slot.h"
#include "common/sw_methods.h"
#include "experiments/sw_keys.h"

typedef enum moe_method {
  MOE_METHOD_TOPK = 0,
  MOE_METHOD_DYNK_MAX,
  MOE_METHOD_DYNK_CUM,
  MOE_METHOD_LTE,
  MOE_METHOD_PREDICTOR,
  MOE_METHOD_COUNT
} moe_method_t;

static const char *const k_method_names[MOE_METHOD_COUNT] = {"moe_topk", "moe_dynk_max", "moe_dynk_cum", "moe_lte",
                                                             "predictor"};

/* Any spelling of the vocabulary (common/sw_methods.h: d2dmoe = moe_dynk_max, dejavu = predictor). */
static int s_method_find(const char *method) {
  return sw_names_find(k_method_names, MOE_METHOD_COUNT, sw_method_spelling(method, k_method_names, MOE_METHOD_COUNT));
}

int sw_trial_moe_handles(const char *method) { return s_method_find(method) >= 0; }

/* Keys of one run. */
typedef struct moe_keys {
  moe_method_t         method;
  int                  experts, k, rank, pred_k;
  double               tau, threshold, label_thr;
  sw_moe_router_kind_t router;
  sw_partition_t       clustering;
  int64_t              seed, epochs, hidden, kmeans_iters;
  int64_t              warmup; /* untimed dense/method pairs before timing (measure.warmup) */
  double               lr, eta; /* eta: LTE's efficiency-loss weight (router lte) */
} moe_keys_t;

/* Keys are read through the moe table (experiments/sw_keys_table.c): declared default and range. */
#define MOE_KEYS sw_keytable("moe")

static sw_rc s_read_selection(moe_keys_t *k, const sw_json_t *c, int d_ff, sw_err_t *err) {
  int64_t e = d_ff % 32 == 0 ? d_ff / 32 : 0, kk = 0;
  sw_rc rc = sw_key_int(MOE_KEYS, c, "experts", &e, err);
  if (rc) return rc;
  if (e <= 0 || e > d_ff || d_ff % e)
    return sw_err_set(err, SW_ERR_INVALID, "'experts' = %lld does not divide d_ff %d", (long long)e, d_ff);
  k->experts = (int)e;
  double s = -1;
  if ((rc = sw_key_num(MOE_KEYS, c, "sparsity", &s, err))) return rc;
  kk = s >= 0 && s <= 1 ? (int64_t)lround((1.0 - s) * (double)e) : (e + 3) / 4;
  if ((rc = sw_key_int(MOE_KEYS, c, "k", &kk, err))) return rc;
  if (kk > e) return sw_err_set(err, SW_ERR_RANGE, "'k' = %lld outside [0, %lld]", (long long)kk, (long long)e);
  k->k = (int)kk;
  k->tau = k->method == MOE_METHOD_DYNK_CUM ? 0.9 : 0.5;
  if ((rc = sw_key_num(MOE_KEYS, c, "tau", &k->tau, err))) return rc;
  const char *router = k->method == MOE_METHOD_LTE ? "lte" : "mlp", *clus = NULL;
  if ((rc = sw_key_str(MOE_KEYS, c, "router", &router, err))) return rc;
  if ((rc = sw_moe_router_parse(&k->router, router, err))) return rc;
  if ((rc = sw_key_str(MOE_KEYS, c, "clustering", &clus, err))) return rc;
  return sw_partition_parse(&k->clustering, clus, err);
}

static sw_rc s_read_keys(moe_keys_t *k, const sw_json_t *c, int d_ff, sw_err_t *err) {
  memset(k, 0, sizeof *k);
  const char *method = NULL;
  sw_rc rc = sw_key_str(sw_keytable("ffn"), c, "method", &method, err);
  if (rc) return rc;
  int m = s_method_find(method);
  if (m < 0) return sw_err_set(err, SW_ERR_INVALID, "method '%s' is not a MoE/predictor method", method ? method : "(none)");
  k->method = (moe_method_t)m;
  if ((rc = sw_key_int(MOE_KEYS, c, "seed", &k->seed, err))) return rc;
  if ((rc = sw_key_int(MOE_KEYS, c, "router_epochs", &k->epochs, err))) return rc;
  if ((rc = sw_key_int(MOE_KEYS, c, "router_hidden", &k->hidden, err))) return rc;
  if ((rc = sw_key_int(MOE_KEYS, c, "kmeans_iters", &k->kmeans_iters, err))) return rc;
  if ((rc = sw_key_int(MOE_KEYS, c, "warmup", &k->warmup, err))) return rc;
  if ((rc = sw_key_num(MOE_KEYS, c, "router_lr", &k->lr, err))) return rc;
  if ((rc = sw_key_num(MOE_KEYS, c, "eta", &k->eta, err))) return rc;
  if (k->method != MOE_METHOD_PREDICTOR) return s_read_selection(k, c, d_ff, err);
  int64_t rank = 0, pk = 0;
  if ((rc = sw_key_int(MOE_KEYS, c, "rank", &rank, err))) return rc;
  if ((rc = sw_key_int(MOE_KEYS, c, "k", &pk, err))) return rc;
  if (pk > d_ff) return sw_err_set(err, SW_ERR_RANGE, "'k' = %lld outside [0, %d]", (long long)pk, d_ff);
  if ((rc = sw_key_num(MOE_KEYS, c, "threshold", &k->threshold, err))) return rc;
  if ((rc = sw_key_num(MOE_KEYS, c, "label_thr", &k->label_thr, err))) return rc;
  k->rank = (int)rank, k->pred_k = (int)pk;
  return SW_OK;
}

/* ---------------------------------------------------------------- shared measurement */

/* Mean over tokens of ‖y − ref‖ / ‖ref‖ (tokens with a zero reference are skipped). */
static double s_rel_error(const float *y, const float *ref, int n_tok, int d) {
  double sum = 0;
  int used = 0;
  for (int t = 0; t < n_tok; t++) {
    double num = 0, den = 0;
    for (int j = 0; j < d; j++) {
      double a = y[(size_t)t * d + j], b = ref[(size_t)t * d + j];
      num += (a - b) * (a - b), den += b * b;
    }
    if (den > 0) sum += sqrt(num / den), used++;
  }
  return used ? sum / used : 0.0;
}

/* The method under test as a callback so that timing and metrics are shared by MoE and predictor. */
typedef struct method_ctx {
  const sw_json_t         *config; /* the trial config (papi_events) */
  const sw_trial_moe_in_t *in;
  const moe_keys_t        *keys;
  const sw_moe_t          *moe;     /* [n_copies]: expert-ordered copy k is built from in->copies[k] */
  const sw_moe_router_t   *router;
  sw_moe_work_t           *mwork;
  const sw_predictor_t    *pred;
  sw_predictor_work_t     *pwork;
  sw_ffn_work_t           *fwork;
  sw_mask_t               *mask;
} method_ctx_t;

/* Number of weight copies the timed calls rotate over (1: warm). */
static int s_n_copies(const sw_trial_moe_in_t *in) { return in->copies && in->n_copies > 1 ? in->n_copies : 1; }

/* The dense weights of rotation step `call` (copy 0 = in->w for the quality call). */
static const sw_ffn_weights_t *s_dense_w(const sw_trial_moe_in_t *in, int64_t call) {
  return s_n_copies(in) > 1 ? &in->copies[call % in->n_copies] : in->w;
}

static sw_rc s_method_call(const method_ctx_t *m, float *y, sw_ffn_stats_t *st, int64_t call) {
  const sw_trial_moe_in_t *in = m->in;
  const moe_keys_t *k = m->keys;
  if (k->method == MOE_METHOD_PREDICTOR)
    return sw_predictor_forward(y, m->mask, in->x, s_dense_w(in, call), m->pred,
                                sw_predictor_logit_of_prob(k->threshold), k->pred_k, st, m->pwork,
                                m->fwork, in->n_tok);
  static const sw_moe_select_t sel_of[4] = {SW_MOE_SELECT_TOPK, SW_MOE_SELECT_DYNK_MAX, SW_MOE_SELECT_DYNK_CUM,
                                            SW_MOE_SELECT_SCORE};
  return sw_moe_forward_routed(y, m->mask, in->x, &m->moe[call % s_n_copies(in)], m->router, sel_of[k->method], k->k,
                               k->tau, st, m->mwork, in->n_tok);
}

static void s_stats_metrics(sw_trial_out_t *out, const sw_ffn_stats_t *st, const sw_mask_t *mask, int n_units) {
  sw_trial_out_metric(out, "flops", st->flops, "flop");
  sw_trial_out_metric(out, "flops_dense", st->flops_dense, "flop");
  sw_trial_out_metric(out, "flops_select", st->flops_select, "flop");
  sw_trial_out_metric(out, "flop_ratio", st->flops_dense > 0 ? st->flops / st->flops_dense : NAN, "ratio");
  sw_trial_out_metric(out, "weight_bytes", st->weight_bytes, "byte");
  sw_trial_out_metric(out, "weight_bytes_dense", st->weight_bytes_dense, "byte");
  sw_trial_out_metric(out, "achieved_sparsity",
                      st->neurons_total ? 1.0 - (double)st->neurons_executed / (double)st->neurons_total : 0.0,
                      "fraction");
  if (st->experts_total)
    sw_trial_out_metric(out, "sparsity_expert", 1.0 - (double)st->experts_executed / (double)st->experts_total,
                        "fraction");
  const int n = mask->n_tok;
  double *cnt = malloc((size_t)(n > 0 ? n : 1) * sizeof(double)), *sp = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  if (!cnt || !sp) {
    free(cnt), free(sp);
    return;
  }
  double mean = 0;
  for (int t = 0; t < n; t++) cnt[t] = (double)sw_mask_count(mask, t), sp[t] = 1.0 - cnt[t] / n_units, mean += cnt[t];
  const char *unit_name = st->experts_total ? "experts_per_token" : "neurons_per_token";
  char name[64];
  snprintf(name, sizeof name, "%s_mean", unit_name);
  sw_trial_out_metric(out, name, n ? mean / n : 0.0, "count");
  static const double qs[3] = {0.1, 0.5, 0.9};
  static const char *const qn[3] = {"p10", "p50", "p90"};
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "%s_%s", unit_name, qn[i]);
    sw_trial_out_metric(out, name, sw_quantile(cnt, (size_t)n, qs[i]), "count");
    snprintf(name, sizeof name, "sparsity_token_%s", qn[i]);
    sw_trial_out_metric(out, name, sw_quantile(sp, (size_t)n, qs[i]), "fraction");
  }
  free(cnt), free(sp);
}

/* The events of config "papi_events" (PAPI presets or the kernels' SDE events) around each timed call.  PAPI
 * being unavailable is recorded per event, not an error; a malformed papi_events value is. */
typedef struct moe_counters {
  sw_sde_t       sde;
  int            sde_on;
  sw_counters_t *dense, *method; /* NULL when no event is requested */
} moe_counters_t;

static sw_rc s_counters_open(moe_counters_t *c, const sw_json_t *config, int n_threads, sw_err_t *err) {
  sw_err_t e;
  memset(c, 0, sizeof *c);
  c->sde_on = sw_sde_init(&c->sde, NULL, &e) == SW_OK;
  sw_rc rc = sw_counters_open_config(&c->dense, config, NULL, err);
  if (!rc) rc = sw_counters_open_config(&c->method, config, NULL, err);
  sw_counters_set_threads(c->dense, n_threads); /* both series run on n_threads */
  sw_counters_set_threads(c->method, n_threads);
  return rc;
}

static void s_counted(sw_counters_t *c, int start) {
  sw_err_t e;
  if (c && start) (void)sw_counters_start(c, &e);
  if (c && !start) (void)sw_counters_stop(c, &e);
}

/* Writes the counted values into out (unless out is NULL: the trial failed) and releases everything. */
static void s_counters_close(moe_counters_t *c, sw_trial_out_t *out) {
  if (c->dense && out) sw_counters_write(c->dense, out, "dense");
  if (c->method && out) sw_counters_write(c->method, out, "sparse");
  sw_counters_close(c->dense);
  sw_counters_close(c->method);
  if (c->sde_on) sw_sde_shutdown(&c->sde);
}

/* One dense call then one method call, each inside its own counting window; seconds in t_dense/t_method. */
static void s_timed_pair(const method_ctx_t *m, moe_counters_t *cn, float *yd, float *ym, double *t_dense,
                         double *t_method, int64_t call) {
  const sw_trial_moe_in_t *in = m->in;
  sw_ffn_stats_t sd, sm;
  s_counted(cn->dense, 1);
  int64_t t0 = sw_now_ns();
  sw_ffn_dense_forward(yd, in->x, s_dense_w(in, call), &sd, m->fwork, in->n_tok);
  int64_t t1 = sw_now_ns();
  if (cn->sde_on) sw_sde_account(&cn->sde, &sd); /* inside the counting window, or the SDE delta is 0 */
  s_counted(cn->dense, 0);
  s_counted(cn->method, 1);
  int64_t t2 = sw_now_ns();
  s_method_call(m, ym, &sm, call);
  int64_t t3 = sw_now_ns();
  if (cn->sde_on) sw_sde_account(&cn->sde, &sm);
  s_counted(cn->method, 0);
  *t_dense = 1e-9 * (double)(t1 - t0), *t_method = 1e-9 * (double)(t3 - t2);
}

/* Untimed warm-up pairs (keys->warmup), then in->reps timed pairs recorded as samples and counters. */
static void s_time_pairs(const method_ctx_t *m, moe_counters_t *cn, float *yd, float *ym, double *td, double *tm,
                         double *ratio, sw_trial_out_t *out) {
  const sw_trial_moe_in_t *in = m->in;
  sw_ffn_stats_t st;
  int64_t call = 1; /* copy 0 served the quality call */
  for (int64_t i = 0; i < m->keys->warmup; i++, call++) {
    sw_ffn_dense_forward(yd, in->x, s_dense_w(in, call), NULL, m->fwork, in->n_tok);
    s_method_call(m, ym, &st, call);
  }
  for (int rep = 0; rep < in->reps; rep++, call++) {
    s_timed_pair(m, cn, yd, ym, &td[rep], &tm[rep], call);
    ratio[rep] = tm[rep] > 0 ? td[rep] / tm[rep] : NAN;
    sw_trial_out_sample(out, "dense", rep, td[rep]);
    sw_trial_out_sample(out, "sparse", rep, tm[rep]);
  }
}

/* Medians of the timed pairs and the rates derived from them and the quality call's stats st. */
static void s_timing_metrics(const sw_trial_moe_in_t *in, const sw_ffn_stats_t *st, double *td, double *tm,
                             double *ratio, sw_trial_out_t *out) {
  size_t n = (size_t)in->reps;
  double t_dense = sw_median(td, n), t_method = sw_median(tm, n);
  sw_trial_out_metric(out, "speedup", sw_median(ratio, n), "ratio");
  sw_trial_out_metric(out, "time_dense", t_dense, "s");
  sw_trial_out_metric(out, "time_method", t_method, "s");
  /* ideal: dense FLOPs over executed FLOPs (1/(1-s) for neuron sparsity s, router cost included) */
  sw_trial_out_metric(out, "ideal_speedup", st->flops > 0 ? st->flops_dense / st->flops : NAN, "ratio");
  sw_trial_out_metric(out, "gbs_dense", t_dense > 0 ? 1e-9 * st->weight_bytes_dense / t_dense : NAN, "GB/s");
  sw_trial_out_metric(out, "gbs_method", t_method > 0 ? 1e-9 * st->weight_bytes / t_method : NAN, "GB/s");
  sw_trial_out_metric(out, "threads", in->n_threads, "count");
  sw_trial_out_metric(out, "n_weight_copies", s_n_copies(in), "count");
}

/* Quality call, then warm-up and reps interleaved dense/method pairs. */
static sw_rc s_measure(const method_ctx_t *m, int n_units, sw_trial_out_t *out, sw_err_t *err) {
  const sw_trial_moe_in_t *in = m->in;
  const size_t ny = (size_t)in->n_tok * (size_t)in->w->d_model;
  float *yd = malloc(ny * sizeof(float)), *ym = malloc(ny * sizeof(float));
  double *ratio = malloc((size_t)in->reps * sizeof(double)), *td = malloc((size_t)in->reps * sizeof(double));
  double *tm = malloc((size_t)in->reps * sizeof(double));
  moe_counters_t cn;
  sw_rc rc = s_counters_open(&cn, m->config, in->n_threads, err);
  if (rc) goto out;
  if (!yd || !ym || !ratio || !td || !tm) {
    rc = sw_err_set(err, SW_ERR_NOMEM, "moe trial: cannot allocate output buffers");
    goto out;
  }
  sw_ffn_stats_t st;
  if ((rc = sw_ffn_dense_forward(yd, in->x, in->w, NULL, m->fwork, in->n_tok)) || (rc = s_method_call(m, ym, &st, 0))) {
    sw_err_set(err, rc, "moe trial: kernel call failed (shape or workspace mismatch)");
    goto out;
  }
  sw_trial_out_metric(out, "rel_error", s_rel_error(ym, yd, in->n_tok, in->w->d_model), "ratio");
  s_stats_metrics(out, &st, m->mask, n_units);
  sw_slot_t slot; /* only the timed pairs hold the host's measurement slot */
  if ((rc = sw_slot_acquire(&slot, m->config, err))) goto out;
  s_time_pairs(m, &cn, yd, ym, td, tm, ratio, out);
  sw_slot_release(&slot, out);
  s_timing_metrics(in, &st, td, tm, ratio, out);
out:
  s_counters_close(&cn, rc ? NULL : out);
  free(yd), free(ym), free(ratio), free(td), free(tm);
  return rc;
}

/* ---------------------------------------------------------------- MoE and predictor setups */

/* Expert-ordered copies 1.. of the rotation, built from the caller's weight copies with moe[0]'s partition. */
static sw_rc s_moe_copies(sw_moe_t *moe, const sw_trial_moe_in_t *in, sw_err_t *err) {
  for (int c = 1; c < s_n_copies(in); c++) {
    sw_rc rc = sw_moe_build(&moe[c], &in->copies[c], moe[0].assign, moe[0].n_expert, err);
    if (rc) return rc;
  }
  return SW_OK;
}

static sw_rc s_run_moe(const moe_keys_t *k, const sw_trial_moe_in_t *in, method_ctx_t *m, sw_trial_out_t *out,
                       sw_err_t *err) {
  const sw_ffn_weights_t *w = in->w;
  sw_moe_t *moes = calloc((size_t)s_n_copies(in), sizeof *moes);
  if (!moes) return sw_err_set(err, SW_ERR_NOMEM, "moe trial: cannot allocate %d expert copies", s_n_copies(in));
  sw_moe_t moe;
  sw_moe_router_t router;
  sw_moe_work_t mwork;
  sw_mask_t mask;
  memset(&moe, 0, sizeof moe), memset(&router, 0, sizeof router), memset(&mwork, 0, sizeof mwork);
  memset(&mask, 0, sizeof mask);
  int32_t *assign = malloc((size_t)w->d_ff * sizeof(int32_t));
  if (!assign) return sw_err_set(err, SW_ERR_NOMEM, "moe trial: cannot allocate the partition");
  sw_kmeans_cfg_t kc;
  sw_kmeans_defaults(&kc);
  kc.seed = (uint64_t)k->seed, kc.max_iter = (size_t)k->kmeans_iters;
  int64_t t0 = sw_now_ns();
  sw_rc rc = sw_moe_partition(assign, w, k->clustering, k->experts, &kc, (uint64_t)k->seed, err);
  if (!rc) rc = sw_moe_build(&moe, w, assign, k->experts, err);
  int64_t t1 = sw_now_ns();
  moes[0] = moe;
  if (!rc) rc = s_moe_copies(moes, in, err);
  sw_moe_router_cfg_t rcfg;
  sw_moe_router_defaults(&rcfg);
  rcfg.hidden = (int)k->hidden, rcfg.train.epochs = (size_t)k->epochs, rcfg.train.lr = k->lr;
  rcfg.seed = rcfg.train.seed = (uint64_t)k->seed;
  rcfg.lte_eta = k->eta;
  sw_mlp_train_stats_t ts = {NAN, NAN, 0, 0, NAN, 0};
  if (!rc) rc = sw_moe_router_train(&router, k->router, &moe, in->x_calib, in->n_calib, &rcfg, &ts, err);
  int64_t t2 = sw_now_ns();
  if (!rc) rc = sw_moe_work_alloc(&mwork, &moe, &router, in->n_tok, err);
  if (!rc) mwork.isa = m->fwork->isa; /* the trial's kernel_isa (sw_trial_ffn_moe) */
  if (!rc) rc = sw_mask_alloc(&mask, k->experts, in->n_tok, err);
  if (!rc) {
    m->moe = moes, m->router = &router, m->mwork = &mwork, m->mask = &mask;
    sw_trial_out_metric(out, "n_experts", k->experts, "count");
    sw_trial_out_metric(out, "expert_size", moe.expert_size, "count");
    sw_trial_out_metric(out, "k", k->method == MOE_METHOD_TOPK ? k->k : NAN, "count");
    sw_trial_out_metric(out, "tau", k->method == MOE_METHOD_TOPK ? NAN : k->tau, "ratio");
    sw_trial_out_metric(out, "build_time", 1e-9 * (double)(t1 - t0), "s");
    sw_trial_out_metric(out, "train_time", 1e-9 * (double)(t2 - t1), "s");
    if (k->router != SW_MOE_ROUTER_ORACLE) {
      sw_trial_out_metric(out, "router_loss_first", ts.first_epoch_loss, "loss");
      sw_trial_out_metric(out, "router_loss_final", ts.final_loss, "loss");
    }
    rc = s_measure(m, k->experts, out, err);
  }
  sw_mask_free(&mask);
  sw_moe_work_free(&mwork);
  sw_moe_router_free(&router);
  for (int c = 0; c < s_n_copies(in); c++) sw_moe_free(&moes[c]);
  free(moes);
  free(assign);
  return rc;
}

static sw_rc s_run_predictor(const moe_keys_t *k, const sw_trial_moe_in_t *in, method_ctx_t *m, sw_trial_out_t *out,
                             sw_err_t *err) {
  const sw_ffn_weights_t *w = in->w;
  sw_predictor_t p;
  sw_predictor_work_t pw;
  sw_mask_t mask;
  memset(&p, 0, sizeof p), memset(&pw, 0, sizeof pw), memset(&mask, 0, sizeof mask);
  sw_predictor_cfg_t cfg;
  sw_predictor_defaults(&cfg);
  cfg.rank = k->rank, cfg.label_thr = k->label_thr, cfg.seed = cfg.train.seed = (uint64_t)k->seed;
  cfg.train.epochs = (size_t)k->epochs, cfg.train.lr = k->lr;
  sw_mlp_train_stats_t ts = {NAN, NAN, 0, 0, NAN, 0};
  int64_t t0 = sw_now_ns();
  sw_rc rc = sw_predictor_train(&p, w, in->x_calib, in->n_calib, &cfg, &ts, err);
  int64_t t1 = sw_now_ns();
  float *labels = rc ? NULL : malloc((size_t)in->n_tok * (size_t)w->d_ff * sizeof(float));
  if (!rc && !labels) rc = sw_err_set(err, SW_ERR_NOMEM, "predictor trial: cannot allocate labels");
  double recall = NAN, precision = NAN, pd = NAN, td = NAN;
  if (!rc) rc = sw_predictor_labels(labels, w, in->x, in->n_tok, k->label_thr, err);
  if (!rc)
    rc = sw_predictor_eval(&recall, &precision, &pd, &td, &p, in->x, labels, in->n_tok,
                           sw_predictor_logit_of_prob(k->threshold), k->pred_k, err);
  if (!rc) rc = sw_predictor_work_alloc(&pw, &p, in->n_tok, err);
  if (!rc) rc = sw_mask_alloc(&mask, w->d_ff, in->n_tok, err);
  if (!rc) {
    m->pred = &p, m->pwork = &pw, m->mask = &mask;
    sw_trial_out_metric(out, "rank", k->rank, "count");
    sw_trial_out_metric(out, "k", k->pred_k ? k->pred_k : NAN, "count");
    sw_trial_out_metric(out, "predictor_recall", recall, "fraction");
    sw_trial_out_metric(out, "predictor_precision", precision, "fraction");
    sw_trial_out_metric(out, "predictor_density", pd, "fraction");
    sw_trial_out_metric(out, "true_density", td, "fraction");
    sw_trial_out_metric(out, "train_time", 1e-9 * (double)(t1 - t0), "s");
    sw_trial_out_metric(out, "router_loss_first", ts.first_epoch_loss, "loss");
    sw_trial_out_metric(out, "router_loss_final", ts.final_loss, "loss");
    rc = s_measure(m, w->d_ff, out, err);
  }
  free(labels);
  sw_mask_free(&mask);
  sw_predictor_work_free(&pw);
  sw_predictor_free(&p);
  return rc;
}

/* The SIMD variant of config key kernel_isa (default auto: SPARSWEEP_KERNEL_ISA or the best) on the workspace. */
static sw_rc s_set_isa(sw_ffn_work_t *work, const sw_json_t *config, sw_err_t *err) {
  const char *name = "auto"; /* declared without default: absent means SPARSWEEP_KERNEL_ISA or the best */
  sw_isa_t    isa;
  sw_rc       rc = sw_key_str(MOE_KEYS, config, "kernel_isa", &name, err);
  if (!rc) rc = sw_isa_parse(name, &isa, err);
  if (!rc) rc = sw_ffn_work_set_isa(work, isa, err);
  return rc ? sw_err_prefix(err, "kernel_isa") : rc;
}

sw_rc sw_trial_ffn_moe(const sw_json_t *config, const sw_trial_moe_in_t *in, sw_trial_out_t *out, sw_err_t *err) {
  if (!in || !in->w || !in->x || !in->x_calib || in->n_tok <= 0 || in->n_calib <= 0 || in->reps < 1)
    return sw_err_set(err, SW_ERR_INVALID, "moe trial: missing weights/inputs or reps < 1");
  moe_keys_t k;
  sw_rc rc = s_read_keys(&k, config, in->w->d_ff, err);
  if (rc) return rc;
  sw_ffn_work_t fwork;
  if ((rc = sw_ffn_work_alloc(&fwork, in->w->d_model, in->w->d_ff, in->n_tok, in->n_threads > 0 ? in->n_threads : 1, err)))
    return rc;
  if ((rc = s_set_isa(&fwork, config, err))) {
    sw_ffn_work_free(&fwork);
    return rc;
  }
  sw_trial_out_metric(out, "kernel_isa", (double)fwork.isa, sw_isa_name(fwork.isa)); /* level, name as unit */
  method_ctx_t m;
  memset(&m, 0, sizeof m);
  m.config = config, m.in = in, m.keys = &k, m.fwork = &fwork;
  sw_trial_out_metric(out, "calib_overlap", in->x_calib == in->x ? 1.0 : 0.0, "bool");
  sw_trial_out_metric(out, "n_calib", in->n_calib, "count");
  rc = k.method == MOE_METHOD_PREDICTOR ? s_run_predictor(&k, in, &m, out, err) : s_run_moe(&k, in, &m, out, err);
  sw_ffn_work_free(&fwork);
  if (rc) sw_err_prefix(err, "%s", k_method_names[k.method]);
  return rc;
}

/* ---------------------------------------------------------------- standalone runner */

/* The standalone runner's cache rotation: "warm" one copy (w itself), "cold" identical copies spanning cold_mib
 * MiB (the ffn runner's rule, workers/sw_trial_ffn.c).  *copies NULL when warm. */
static sw_rc s_cold_copies(sw_ffn_weights_t **copies, int *n, const sw_ffn_weights_t *w, const sw_json_t *config,
                           sw_err_t *err) {
  const char *cache = NULL;
  int64_t mib = 0;
  sw_rc rc = sw_key_str(sw_keytable("measure"), config, "cache", &cache, err);
  if (!rc) rc = sw_key_int(sw_keytable("ffn"), config, "cold_mib", &mib, err); /* the ffn runner's row */
  if (rc) return rc;
  *copies = NULL, *n = 1;
  if (strcmp(cache, "warm") == 0) return SW_OK;
  size_t one = w->ld_up * (size_t)w->d_ff * (w->dtype == SW_DTYPE_BF16 ? 2 : 4); /* the whole owned buffer */
  int want = (int)ceil((double)mib * 1048576.0 / (double)(one ? one : 1));
  if (want < 2) want = 2;
  *copies = calloc((size_t)want, sizeof **copies);
  if (!*copies) return sw_err_set(err, SW_ERR_NOMEM, "moe trial: cannot allocate %d weight copies", want);
  for (int c = 0; c < want; c++) {
    sw_ffn_weights_t *k = &(*copies)[c];
    if ((rc = sw_ffn_weights_alloc(k, w->d_model, w->d_ff, w->gated, w->act, w->act_param, w->dtype, err))) return rc;
    *n = c + 1;
    memcpy(k->owned_buf, w->owned_buf, one);
  }
  return SW_OK;
}

sw_rc sw_trial_run_ffn_moe(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  (void)cache;
  int64_t d = 0, f = 0, seed = 0, n_calib = 0, batch = 0, reps = 0, threads = 0;
  const char *act_name = NULL;
  sw_rc rc;
  const sw_keytable_t *ffn = sw_keytable("ffn");
  if ((rc = sw_key_int(ffn, config, "d_model", &d, err)) || (rc = sw_key_int(ffn, config, "d_ff", &f, err)) ||
      (rc = sw_key_int(MOE_KEYS, config, "seed", &seed, err)) ||
      (rc = sw_key_int(MOE_KEYS, config, "n_calib", &n_calib, err)) ||
      (rc = sw_key_int(MOE_KEYS, config, "batch", &batch, err)) ||
      (rc = sw_key_int(MOE_KEYS, config, "repetitions", &reps, err)) ||
      (rc = sw_key_int(MOE_KEYS, config, "threads", &threads, err)) ||
      (rc = sw_key_str(MOE_KEYS, config, "activation", &act_name, err)))
    return rc;
  sw_act_t act;
  int gated;
  if ((rc = sw_act_parse(act_name, &act, &gated, err))) return rc;
  sw_ffn_weights_t w, *copies = NULL;
  int n_copies = 1;
  if ((rc = sw_ffn_weights_alloc(&w, (int)d, (int)f, gated, act, 0.0f, SW_DTYPE_F32, err))) return rc;
  sw_ffn_weights_fill_random(&w, (uint64_t)seed);
  float *xc = malloc((size_t)(n_calib * d) * sizeof(float)), *x = malloc((size_t)(batch * d) * sizeof(float));
  if (!xc || !x) rc = sw_err_set(err, SW_ERR_NOMEM, "moe trial: cannot allocate inputs");
  if (!rc) rc = s_cold_copies(&copies, &n_copies, &w, config, err);
  if (!rc) {
    sw_mlp_rng_t r = {(uint64_t)seed ^ 0x5eedull};
    for (int64_t i = 0; i < n_calib * d; i++) xc[i] = (float)sw_mlp_rng_normal(&r);
    for (int64_t i = 0; i < batch * d; i++) x[i] = (float)sw_mlp_rng_normal(&r);
    openblas_set_num_threads((int)threads);
    sw_trial_moe_in_t in = {&w, xc, (int)n_calib, x, (int)batch, (int)reps, (int)threads, copies, n_copies};
    rc = sw_trial_ffn_moe(config, &in, out, err);
  }
  for (int c = 0; copies && c < n_copies; c++) sw_ffn_weights_free(&copies[c]);
  free(copies);
  free(xc), free(x);
  sw_ffn_weights_free(&w);
  return rc;
}
