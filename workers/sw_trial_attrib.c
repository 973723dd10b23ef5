/* sw_trial_attrib: the "attribution" workload — attribution-based sparse activation (Song et al., arXiv
 * 2406.06562; models/sw_attrib.h): in every layer, the fraction 1 − activation_ratio of FFN neurons and of
 * attention heads with the lowest score is deactivated, and the model is evaluated on the evaluation span
 * against dense (perplexity, bits per byte, KL, top-1 agreement), like the model workload.
 * Config keys: those of the model workload for the model, text and spans (model, text, calib_tokens,
 * eval_tokens, window, calib_offset, eval_offset; workers/sw_trial_model.c), and
 *   metric ("gxo")            magnitude | grad | gxo | cor_gxo
 *   protocol ("oracle")       oracle: each evaluation window is masked with the scores of that same window
 *                             (labels = the dense model's greedy outputs), as the paper evaluates;
 *                             calibrated: the scores averaged over the calibration windows mask every
 *                             evaluation window (what a deployment could use: no gradient at inference)
 *   activation_ratio (0.5)    1 − the deactivated fraction p of each layer's units
 *   scope ("both")            both | ffn | heads: which units are deactivated
 * Metrics: ppl, ppl_se, nll, nll_se, bits_per_byte, kl, kl_se, top1_agree, ppl_dense, ppl_dense_se,
 * ppl_ratio; sparsity_paper ((1/3)·head + (2/3)·MLP sparsity, the paper's reported number),
 * activation_ratio_paper (1 − it), achieved_sparsity (FFN neurons, docs/methods.md §1 definition 1), head_sparsity,
 * sparsity_definition (1), ffn_flops_saved, model_flops_saved (analytic: skipped neurons, and q/o projections
 * and attention of skipped heads at the mean context window/2), grad_seconds_per_window and
 * forward_seconds_per_window (time of the backward pass relative to the forward), grad_mib_per_token,
 * eval_windows, calib/eval byte spans.  Scores of every window are computed once per executor (prepare) and
 * kept in the trial cache. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_time.h"
#include "models/sw_attrib.h"
#include "models/sw_eval.h"
#include "models/sw_llama_grad.h"
#include "experiments/sw_keys.h"
#include "workers/sw_trial.h"
#include "workers/sw_trial_model.h"
#include "workers/sw_trial_task.h"

#define TA_MAX_WINDOWS 1024 /* evaluation windows per trial */

typedef struct ta_cfg {
  const char        *metric_name, *protocol, *scope;
  double             ratio;
  sw_attrib_metric_t metric;
  int                calibrated;
  double             p_ffn, p_head;
} ta_cfg_t;

/* Executor-lifetime scores of every evaluation window and the calibration mean. */
typedef struct ta_scores {
  int                 n_win;
  sw_attrib_scores_t *win;   /* (n_win) */
  sw_attrib_scores_t  calib; /* mean over the calibration windows */
  double              grad_s, fwd_s; /* mean seconds per window: forward+backward, forward alone */
} ta_scores_t;

static sw_rc ta_parse(ta_cfg_t *c, const sw_json_t *j, sw_err_t *err) {
  memset(c, 0, sizeof *c);
  const sw_keytable_t *t = sw_keytable("attribution"); /* experiments/sw_keys_table.c */
  sw_rc rc = sw_key_str(t, j, "metric", &c->metric_name, err);
  if (!rc) rc = sw_key_str(t, j, "protocol", &c->protocol, err);
  if (!rc) rc = sw_key_str(t, j, "scope", &c->scope, err);
  if (!rc) rc = sw_key_num(t, j, "activation_ratio", &c->ratio, err);
  if (!rc) rc = sw_attrib_metric_parse(c->metric_name, &c->metric, err);
  if (rc) return rc;
  c->calibrated = c->protocol[0] == 'c';
  int ffn = strcmp(c->scope, "both") == 0 || strcmp(c->scope, "ffn") == 0;
  int heads = strcmp(c->scope, "both") == 0 || strcmp(c->scope, "heads") == 0;
  if (!ffn && !heads) return sw_err_set(err, SW_ERR_INVALID, "attribution: scope '%s' (both, ffn, heads)", c->scope);
  c->p_ffn = ffn ? 1.0 - c->ratio : 0.0;
  c->p_head = heads ? 1.0 - c->ratio : 0.0;
  return SW_OK;
}

static void ta_scores_destroy(void *v) {
  ta_scores_t *s = v;
  for (int i = 0; s->win && i < s->n_win; i++) sw_attrib_scores_free(&s->win[i]);
  free(s->win);
  sw_attrib_scores_free(&s->calib);
  free(s);
}

/* Scores of n_win windows of `window` tokens from tokens (into out[i]), timing forward and forward+backward. */
static sw_rc score_windows(const sw_llama_t *m, const int32_t *tokens, int n_win, int window, sw_attrib_scores_t *out,
                           double *grad_s, double *fwd_s, sw_err_t *err) {
  sw_llama_state_t st;
  sw_llama_grad_t g;
  sw_rc rc = sw_llama_state_init(&st, m, window, window, err);
  if (rc) return rc;
  if ((rc = sw_llama_grad_init(&g, m, window, err))) {
    sw_llama_state_free(&st);
    return rc;
  }
  for (int w = 0; !rc && w < n_win; w++) {
    const int32_t *tok = tokens + (size_t)w * window;
    int64_t t0 = sw_now_ns();
    rc = sw_attrib_window(m, &st, &g, tok, window, &out[w], err);
    int64_t t1 = sw_now_ns();
    if (!rc) rc = sw_llama_forward(m, (sw_llama_state_reset(&st), &st), NULL, tok, window, 2, err);
    int64_t t2 = sw_now_ns();
    /* sw_attrib_window = one forward for the labels + forward and backward: subtract the labels' forward */
    *grad_s += (double)(t1 - t0 - (t2 - t1)) * 1e-9 / n_win, *fwd_s += (double)(t2 - t1) * 1e-9 / n_win;
  }
  sw_llama_grad_free(&g);
  sw_llama_state_free(&st);
  return rc;
}

static sw_rc compute_scores(const sw_trial_model_inputs_t *in, ta_scores_t **out, sw_err_t *err) {
  ta_scores_t *s = calloc(1, sizeof *s);
  const sw_llama_config_t *c = &in->model->cfg;
  int nc = (int)(in->n_calib / (size_t)in->window);
  s->n_win = (int)(in->n_eval / (size_t)in->window);
  s->win = s ? calloc((size_t)s->n_win + (size_t)nc, sizeof *s->win) : NULL;
  if (!s || !s->win) {
    free(s);
    return sw_err_set(err, SW_ERR_NOMEM, "attribution: out of memory");
  }
  sw_rc rc = sw_attrib_scores_init(&s->calib, c, err);
  for (int i = 0; !rc && i < s->n_win + nc; i++) rc = sw_attrib_scores_init(&s->win[i], c, err);
  double gs = 0, fs = 0, gc = 0, fc = 0;
  if (!rc) rc = score_windows(in->model, in->eval, s->n_win, in->window, s->win, &gs, &fs, err);
  if (!rc) rc = score_windows(in->model, in->calib, nc, in->window, s->win + s->n_win, &gc, &fc, err);
  for (int i = 0; !rc && i < nc; i++) sw_attrib_scores_add(&s->calib, &s->win[s->n_win + i], 1.0 / nc);
  for (int i = 0; i < nc; i++) sw_attrib_scores_free(&s->win[s->n_win + i]);
  s->grad_s = gs, s->fwd_s = fs;
  if (rc) {
    ta_scores_destroy(s);
    return rc;
  }
  *out = s;
  return SW_OK;
}

static void scores_key(char *key, size_t len, const sw_trial_model_inputs_t *in, const sw_json_t *config) {
  const char *text = NULL;
  (void)sw_key_str(sw_keytable("model"), config, "text", &text, NULL);
  snprintf(key, len, "attrib-scores:%s:%s:%zu:%zu:%zu:%zu:%d", in->model->sha256, text ? text : "", in->calib_b0,
           in->calib_b1, in->eval_b0, in->eval_b1, in->window);
}

/* Finds or computes (and caches) the model inputs and the scores of the config's spans. */
static sw_rc ta_prepare(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_model_inputs_t *in,
                        ta_scores_t **scores, sw_err_t *err) {
  char key[4096];
  int64_t threads = 1;
  sw_rc rc = sw_key_int(sw_keytable("model"), config, "threads", &threads, err);
  if (rc) return rc;
  openblas_set_num_threads(threads >= 1 && threads <= 256 ? (int)threads : 1);
  if ((rc = sw_trial_model_inputs(cache, config, in, err))) return rc;
  scores_key(key, sizeof key, in, config);
  if ((*scores = sw_trial_cache_get(cache, key))) return SW_OK;
  if ((rc = compute_scores(in, scores, err))) return rc;
  if ((rc = sw_trial_cache_put(cache, key, *scores, ta_scores_destroy)))
    return sw_err_set(err, rc, "attribution: cache full");
  return SW_OK;
}

/* ---------------------------------------------------------------- the multiple-choice task */

#define TA_TASK_GRAD_MAX 128 /* oracle: an item's context is scored on its last (at most) this many tokens */

/* Oracle scores of every task item, from the item's own context (the tokens the model reads before the choices;
 * labels = the dense model's greedy outputs, sw_attrib_window), computed once per executor. */
typedef struct ta_task_scores {
  size_t              n;
  sw_attrib_scores_t *item; /* (n) */
  double              seconds_per_item;
} ta_task_scores_t;

static void ta_task_scores_destroy(void *v) {
  ta_task_scores_t *s = v;
  for (size_t i = 0; s->item && i < s->n; i++) sw_attrib_scores_free(&s->item[i]);
  free(s->item);
  free(s);
}

/* Scores of item i's context, on its last TA_TASK_GRAD_MAX tokens. */
static sw_rc item_scores(const sw_trial_model_inputs_t *in, const sw_mc_item_t *it, sw_llama_state_t *st,
                         sw_llama_grad_t *g, sw_attrib_scores_t *out, sw_err_t *err) {
  int32_t *ids = NULL;
  size_t n = 0;
  sw_rc rc = sw_tokenizer_encode(in->tok, it->context, it->context_len, 0, &ids, &n, err);
  size_t from = n > TA_TASK_GRAD_MAX ? n - TA_TASK_GRAD_MAX : 0;
  if (!rc && n < 2) rc = sw_err_set(err, SW_ERR_INVALID, "attribution: task item %s: context under 2 tokens", it->id);
  if (!rc) rc = sw_attrib_scores_init(out, &in->model->cfg, err);
  if (!rc) rc = sw_attrib_window(in->model, st, g, ids + from, (int)(n - from), out, err);
  free(ids);
  return rc;
}

/* Forward + backward over every item's context (a state and a gradient context for TA_TASK_GRAD_MAX tokens). */
static sw_rc score_items(const sw_trial_model_inputs_t *in, const sw_trial_task_t *t, ta_task_scores_t *s,
                         sw_err_t *err) {
  sw_llama_state_t st;
  sw_llama_grad_t g;
  sw_rc rc = sw_llama_state_init(&st, in->model, TA_TASK_GRAD_MAX, TA_TASK_GRAD_MAX, err);
  if (rc) return rc;
  if ((rc = sw_llama_grad_init(&g, in->model, TA_TASK_GRAD_MAX, err))) return sw_llama_state_free(&st), rc;
  int64_t t0 = sw_now_ns();
  for (size_t i = 0; !rc && i < s->n; i++) rc = item_scores(in, &t->task.items[i], &st, &g, &s->item[i], err);
  s->seconds_per_item = s->n ? (double)(sw_now_ns() - t0) * 1e-9 / (double)s->n : 0.0;
  sw_llama_grad_free(&g);
  sw_llama_state_free(&st);
  return rc;
}

static sw_rc compute_task_scores(const sw_trial_model_inputs_t *in, const sw_trial_task_t *t, ta_task_scores_t **out,
                                 sw_err_t *err) {
  ta_task_scores_t *s = calloc(1, sizeof *s);
  sw_attrib_scores_t *item = s ? calloc(t->task.n_items ? t->task.n_items : 1, sizeof *item) : NULL;
  if (!item) return free(s), sw_err_set(err, SW_ERR_NOMEM, "attribution: out of memory");
  s->item = item, s->n = t->task.n_items;
  sw_rc rc = score_items(in, t, s, err);
  if (rc) return ta_task_scores_destroy(s), rc;
  *out = s;
  return SW_OK;
}

/* The config's task (NULL without one) and, for the oracle protocol, its per-item scores (cached with it). */
static sw_rc ta_task_prepare(sw_trial_cache_t *cache, const sw_json_t *config, const ta_cfg_t *c,
                             const sw_trial_model_inputs_t *in, sw_trial_task_t **t, ta_task_scores_t **ts,
                             sw_err_t *err) {
  char key[128];
  *ts = NULL;
  sw_rc rc = sw_trial_model_task(cache, config, t, err);
  if (rc || !*t || c->calibrated) return rc;
  snprintf(key, sizeof key, "attrib-task-scores:%p", (void *)*t); /* the task lives as long as the cache */
  if ((*ts = sw_trial_cache_get(cache, key))) return SW_OK;
  if ((rc = compute_task_scores(in, *t, ts, err))) return sw_err_prefix(err, "attribution: task oracle");
  if ((rc = sw_trial_cache_put(cache, key, *ts, ta_task_scores_destroy)))
    return sw_err_set(err, rc, "attribution: cache full");
  return SW_OK;
}

sw_rc sw_trial_prepare_attrib(sw_trial_cache_t *cache, const sw_json_t *config, sw_err_t *err) {
  ta_cfg_t c;
  sw_trial_model_inputs_t in;
  ta_scores_t *s;
  sw_trial_task_t *t;
  ta_task_scores_t *ts;
  sw_rc rc = ta_parse(&c, config, err);
  if (!rc) rc = ta_prepare(cache, config, &in, &s, err);
  return rc ? rc : ta_task_prepare(cache, config, &c, &in, &t, &ts, err);
}

typedef struct ta_oracle_item {
  sw_attrib_mask_t       *mask;
  const ta_task_scores_t *scores;
  const ta_cfg_t         *cfg;
} ta_oracle_item_t;

/* sw_mc_before_item_fn: item i is masked with its own scores. */
static void oracle_select(void *ctx, size_t i) {
  ta_oracle_item_t *o = ctx;
  sw_attrib_mask_select(o->mask, &o->scores->item[i], o->cfg->metric, o->cfg->p_ffn, o->cfg->p_head);
}

/* The task under the trial's masks: calibrated, one mask (the calibration mean) for every item; oracle, each
 * item's own.  Writes the task_* metrics (method, dense, paired; workers/sw_trial_task.c). */
static sw_rc ta_task_run(const sw_json_t *config, const sw_trial_model_inputs_t *in, const ta_cfg_t *c,
                         const ta_scores_t *s, const sw_trial_task_t *t, const ta_task_scores_t *ts,
                         sw_attrib_mask_t *k, sw_trial_out_t *out, sw_err_t *err) {
  sw_trial_task_cfg_t tc;
  sw_llama_state_t st;
  sw_rc rc = sw_trial_task_parse(&tc, config, err);
  if (!rc) rc = sw_llama_state_init(&st, in->model, k->max_tok, (int)tc.ctx, err);
  if (rc) return rc;
  sw_llama_ffn_t hook = sw_attrib_mask_hook(k);
  ta_oracle_item_t o = {k, ts, c};
  if (c->calibrated) sw_attrib_mask_select(k, &s->calib, c->metric, c->p_ffn, c->p_head);
  rc = sw_trial_task_run_each(t, in->model, &st, &hook, ts ? oracle_select : NULL, &o, in->tok, out, err);
  sw_llama_state_free(&st);
  if (!rc && ts) sw_trial_out_metric(out, "task_oracle_seconds_per_item", ts->seconds_per_item, "s");
  return rc;
}

/* Per-window results combined: means over windows with standard errors across windows. */
typedef struct ta_acc {
  double nll[TA_MAX_WINDOWS], kl[TA_MAX_WINDOWS], top1, bits, bytes;
  int    n;
} ta_acc_t;


static sw_rc eval_masked(const sw_trial_model_inputs_t *in, const ta_cfg_t *c, const ta_scores_t *s,
                         sw_attrib_mask_t *k, ta_acc_t *acc, sw_err_t *err) {
  sw_llama_state_t st;
  sw_rc rc = sw_llama_state_init(&st, in->model, in->window, in->window, err);
  sw_llama_ffn_t hook = sw_attrib_mask_hook(k);
  int n = s->n_win;
  if (!rc && n > TA_MAX_WINDOWS)
    rc = sw_err_set(err, SW_ERR_RANGE, "attribution: %d evaluation windows, at most %d (raise window)", n,
                    TA_MAX_WINDOWS);
  for (int w = 0; !rc && w < n; w++) {
    sw_attrib_mask_select(k, c->calibrated ? &s->calib : &s->win[w], c->metric, c->p_ffn, c->p_head);
    size_t off = (size_t)w * in->window;
    sw_eval_result_t r, dense;
    if (in->ref) {
      sw_eval_ref_t view = *in->ref;
      view.n_windows = 1, view.n_scored = (size_t)in->window - 1;
      view.logprobs += (size_t)w * view.n_scored * view.vocab, view.argmax += (size_t)w * view.n_scored;
      rc = sw_eval_run(in->model, &st, &hook, in->eval + off, in->window, in->eval_bytes + off, in->window, &view, NULL,
                       &r, err);
    } else {
      rc = sw_eval_run_paired(in->model, &st, &hook, in->eval + off, in->window, in->eval_bytes + off, in->window, &r,
                              &dense, err);
    }
    if (rc) break;
    acc->nll[acc->n] = r.nll_mean, acc->kl[acc->n] = r.kl_mean, acc->n++;
    acc->top1 += r.top1_agree / n;
    acc->bits += r.nll_mean * (double)r.n_scored / log(2.0), acc->bytes += (double)r.n_bytes;
  }
  sw_llama_state_free(&st);
  return rc;
}

static void put_results(sw_trial_out_t *out, const sw_trial_model_inputs_t *in, const ta_acc_t *a,
                        const sw_attrib_mask_t *k, const ta_scores_t *s) {
  double nll_se, kl_se, nll = sw_attrib_mean_se(a->nll, a->n, &nll_se), kl = sw_attrib_mean_se(a->kl, a->n, &kl_se);
  sw_trial_out_metric(out, "ppl", exp(nll), "ppl");
  sw_trial_out_metric(out, "ppl_se", exp(nll) * nll_se, "ppl");
  sw_trial_out_metric(out, "nll", nll, "nat/token");
  sw_trial_out_metric(out, "nll_se", nll_se, "nat/token");
  sw_trial_out_metric(out, "bits_per_byte", a->bytes > 0 ? a->bits / a->bytes : NAN, "bit/byte");
  sw_trial_out_metric(out, "kl", kl, "nat/token");
  sw_trial_out_metric(out, "kl_se", kl_se, "nat/token");
  sw_trial_out_metric(out, "top1_agree", a->top1, "fraction");
  if (in->ref) {
    sw_trial_out_metric(out, "ppl_dense", in->dense.ppl, "ppl");
    sw_trial_out_metric(out, "ppl_dense_se", in->dense.ppl_se, "ppl");
    sw_trial_out_metric(out, "ppl_ratio", exp(nll) / in->dense.ppl, "ratio");
  }
  double sf, sh;
  sw_attrib_mask_sparsity(k, &sf, &sh);
  const sw_llama_config_t *c = &in->model->cfg;
  double ctx = 0.5 * in->window, hd = c->head_dim;
  double head_flops = 2.0 * c->d_model * hd * 2 + 2.0 * 2.0 * hd * ctx; /* q and o projections, scores, sum of v */
  double saved = sw_llama_ffn_flops_per_token(c) * sf + sh * c->n_layer * c->n_head * head_flops;
  sw_trial_out_metric(out, "sparsity_paper", sh / 3.0 + 2.0 * sf / 3.0, "fraction");
  sw_trial_out_metric(out, "activation_ratio_paper", 1.0 - (sh / 3.0 + 2.0 * sf / 3.0), "fraction");
  sw_trial_out_metric(out, "achieved_sparsity", sf, "fraction");
  sw_trial_out_metric(out, "head_sparsity", sh, "fraction");
  sw_trial_out_metric(out, "sparsity_definition", 1, "definition");
  sw_trial_out_metric(out, "ffn_flops_saved", sf, "fraction");
  sw_trial_out_metric(out, "model_flops_saved", saved / sw_llama_flops_per_token(c, ctx), "fraction");
  sw_trial_out_metric(out, "grad_seconds_per_window", s->grad_s, "s");
  sw_trial_out_metric(out, "forward_seconds_per_window", s->fwd_s, "s");
  sw_trial_out_metric(out, "grad_mib_per_token", sw_llama_grad_bytes(c, in->window) / (double)in->window / 1048576.0,
                      "MiB");
  sw_trial_out_metric(out, "eval_windows", a->n, "count");
  sw_trial_out_metric(out, "calib_byte_start", (double)in->calib_b0, "byte");
  sw_trial_out_metric(out, "calib_byte_end", (double)in->calib_b1, "byte");
  sw_trial_out_metric(out, "eval_byte_start", (double)in->eval_b0, "byte");
  sw_trial_out_metric(out, "eval_byte_end", (double)in->eval_b1, "byte");
}

sw_rc sw_trial_run_attrib(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  ta_cfg_t c;
  sw_trial_model_inputs_t in;
  ta_scores_t *s = NULL;
  sw_rc rc = ta_parse(&c, config, err);
  if (rc) return rc;
  if ((rc = ta_prepare(cache, config, &in, &s, err))) return rc;
  sw_attrib_mask_t k;
  ta_acc_t *acc = calloc(1, sizeof *acc);
  rc = acc ? sw_attrib_mask_init(&k, in.model, in.window, err) : sw_err_set(err, SW_ERR_NOMEM, "attribution: oom");
  sw_trial_task_t *task = NULL;
  ta_task_scores_t *ts = NULL;
  if (!rc) rc = ta_task_prepare(cache, config, &c, &in, &task, &ts, err);
  if (!rc) {
    rc = eval_masked(&in, &c, s, &k, acc, err);
    if (!rc) put_results(out, &in, acc, &k, s);
    if (!rc && task) rc = ta_task_run(config, &in, &c, s, task, ts, &k, out, err);
    sw_attrib_mask_free(&k);
  }
  free(acc);
  return rc;
}
