/* sw_eval: window loop, log-softmax in double, KL against the dense reference, and timing helpers.
 * Window statistics: the per-window mean NLL (and KL) are treated as independent samples, so the
 * standard error is sd(window means)/sqrt(n_windows) — windows are contiguous text, so this is a
 * lower bound when text is correlated across windows. */
#include "models/sw_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_time.h"

size_t sw_eval_n_windows(size_t n_tokens, int window) { return window >= 2 ? n_tokens / (size_t)window : 0; }

void sw_eval_ref_free(sw_eval_ref_t *ref) {
  if (!ref) return;
  free(ref->logprobs);
  free(ref->argmax);
  memset(ref, 0, sizeof *ref);
}

/* log Σ exp(l_v) in double. */
static double logsumexp(const float *l, int n) {
  float mx = l[0];
  for (int i = 1; i < n; i++)
    if (l[i] > mx) mx = l[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += exp((double)l[i] - mx);
  return mx + log(s);
}

static int argmax_of(const float *l, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (l[i] > l[best]) best = i;
  return best;
}

/* KL(p ‖ q) with log p = ref_lp, log q = logits - lse. */
static double kl_row(const float *ref_lp, const float *logits, double lse, int n) {
  double kl = 0;
  for (int i = 0; i < n; i++) {
    double lp = ref_lp[i];
    if (lp < -80) continue; /* p < 1e-35: no contribution at double precision */
    kl += exp(lp) * (lp - ((double)logits[i] - lse));
  }
  return kl;
}

static void mean_se(const double *v, size_t n, double *mean, double *se) {
  double s = 0, ss = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  *mean = n ? s / n : NAN;
  for (size_t i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
  *se = n > 1 ? sqrt(ss / (n - 1) / n) : NAN;
}

static sw_rc ref_alloc(sw_eval_ref_t *r, int window, size_t n_windows, int vocab, sw_err_t *err) {
  memset(r, 0, sizeof *r);
  r->window = window;
  r->n_windows = n_windows;
  r->vocab = vocab;
  r->n_scored = n_windows * (size_t)(window - 1);
  r->logprobs = malloc(r->n_scored * (size_t)vocab * sizeof(float));
  r->argmax = malloc(r->n_scored * sizeof(int32_t));
  if (!r->logprobs || !r->argmax) {
    sw_eval_ref_free(r);
    return sw_err_set(err, SW_ERR_NOMEM, "eval: cannot allocate the dense reference (%zu positions x %d)",
                      n_windows * (size_t)(window - 1), vocab);
  }
  return SW_OK;
}

sw_rc sw_eval_run(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                  size_t n_tokens, const uint32_t *tok_bytes, int window, const sw_eval_ref_t *ref,
                  sw_eval_ref_t *ref_out, sw_eval_result_t *res, sw_err_t *err) {
  memset(res, 0, sizeof *res);
  size_t nw = sw_eval_n_windows(n_tokens, window);
  int V = m->cfg.vocab;
  if (nw == 0) return sw_err_set(err, SW_ERR_INVALID, "eval: %zu tokens make no window of %d", n_tokens, window);
  if (window > s->max_tok || window > s->n_ctx)
    return sw_err_set(err, SW_ERR_INVALID, "eval: window %d exceeds the state (max_tok %d)", window, s->max_tok);
  if (ref && (ref->window != window || ref->n_windows != nw || ref->vocab != V))
    return sw_err_set(err, SW_ERR_INVALID, "eval: dense reference has window %d x %zu, this run %d x %zu",
                      ref->window, ref->n_windows, window, nw);
  if (ref_out && ref_alloc(ref_out, window, nw, V, err)) return err->code;
  double *w_nll = calloc(nw, sizeof *w_nll), *w_kl = calloc(nw, sizeof *w_kl);
  if (!w_nll || !w_kl) {
    free(w_nll);
    free(w_kl);
    return sw_err_set(err, SW_ERR_NOMEM, "eval: out of memory");
  }
  int64_t t0 = sw_now_ns();
  double nll_total = 0;
  size_t agree = 0, k = 0;
  sw_rc rc = SW_OK;
  for (size_t w = 0; w < nw && !rc; w++) {
    const int32_t *tok = tokens + w * (size_t)window;
    sw_llama_state_reset(s);
    rc = sw_llama_forward(m, s, ffn, tok, window, 2, err);
    for (int t = 0; !rc && t + 1 < window; t++, k++) {
      const float *l = s->logits + (size_t)t * V;
      double lse = logsumexp(l, V), nll = lse - l[tok[t + 1]];
      w_nll[w] += nll;
      nll_total += nll;
      if (tok_bytes) res->n_bytes += tok_bytes[w * (size_t)window + (size_t)t + 1];
      int am = argmax_of(l, V);
      if (ref) {
        w_kl[w] += kl_row(ref->logprobs + k * (size_t)V, l, lse, V);
        agree += am == ref->argmax[k];
      }
      if (ref_out) {
        float *dst = ref_out->logprobs + k * (size_t)V;
        for (int v = 0; v < V; v++) dst[v] = (float)((double)l[v] - lse);
        ref_out->argmax[k] = am;
      }
    }
    w_nll[w] /= window - 1;
    w_kl[w] /= window - 1;
  }
  if (!rc) {
    res->n_windows = nw;
    res->n_scored = k;
    res->nll_mean = nll_total / (double)k;
    double unused;
    mean_se(w_nll, nw, &unused, &res->nll_se);
    res->ppl = exp(res->nll_mean);
    res->ppl_se = res->ppl * res->nll_se;
    res->bits_per_byte = tok_bytes && res->n_bytes ? nll_total / log(2.0) / (double)res->n_bytes : NAN;
    if (ref) {
      mean_se(w_kl, nw, &res->kl_mean, &res->kl_se);
      res->top1_agree = (double)agree / (double)k;
    } else {
      res->kl_mean = res->kl_se = res->top1_agree = NAN;
    }
    res->seconds = (double)(sw_now_ns() - t0) * 1e-9;
  } else if (ref_out) {
    sw_eval_ref_free(ref_out);
  }
  free(w_nll);
  free(w_kl);
  return rc;
}

size_t sw_eval_ref_bytes(size_t n_tokens, int window, int vocab) {
  return sw_eval_n_windows(n_tokens, window) * (size_t)(window > 1 ? window - 1 : 0) * ((size_t)vocab * 4 + 4);
}

/* Combines per-window results (each of one window) into one result, as sw_eval_run computes it. */
static void combine(sw_eval_result_t *res, const sw_eval_result_t *w, size_t nw, double seconds, int with_ref) {
  double *nll = malloc(nw * sizeof *nll), *kl = malloc(nw * sizeof *kl);
  memset(res, 0, sizeof *res);
  double total = 0, agree = 0;
  for (size_t i = 0; i < nw; i++) {
    res->n_scored += w[i].n_scored;
    res->n_bytes += w[i].n_bytes;
    total += w[i].nll_mean * (double)w[i].n_scored;
    agree += w[i].top1_agree * (double)w[i].n_scored;
    if (nll) nll[i] = w[i].nll_mean;
    if (kl) kl[i] = w[i].kl_mean;
  }
  res->n_windows = nw;
  res->nll_mean = total / (double)res->n_scored;
  double unused;
  if (nll) mean_se(nll, nw, &unused, &res->nll_se);
  res->ppl = exp(res->nll_mean);
  res->ppl_se = res->ppl * res->nll_se;
  res->bits_per_byte = res->n_bytes ? total / log(2.0) / (double)res->n_bytes : NAN;
  res->kl_mean = res->kl_se = res->top1_agree = NAN;
  if (with_ref && kl) {
    mean_se(kl, nw, &res->kl_mean, &res->kl_se);
    res->top1_agree = agree / (double)res->n_scored;
  }
  res->seconds = seconds;
  free(nll);
  free(kl);
}

sw_rc sw_eval_run_paired(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                         size_t n_tokens, const uint32_t *tok_bytes, int window, sw_eval_result_t *res,
                         sw_eval_result_t *dense, sw_err_t *err) {
  size_t nw = sw_eval_n_windows(n_tokens, window);
  if (nw == 0) return sw_err_set(err, SW_ERR_INVALID, "eval: %zu tokens make no window of %d", n_tokens, window);
  sw_eval_result_t *wd = calloc(nw, sizeof *wd), *wm = calloc(nw, sizeof *wm);
  if (!wd || !wm) {
    free(wd);
    free(wm);
    return sw_err_set(err, SW_ERR_NOMEM, "eval: out of memory");
  }
  int64_t t0 = sw_now_ns();
  double dense_s = 0;
  sw_rc rc = SW_OK;
  for (size_t w = 0; !rc && w < nw; w++) {
    const int32_t *tok = tokens + w * (size_t)window;
    const uint32_t *b = tok_bytes ? tok_bytes + w * (size_t)window : NULL;
    sw_eval_ref_t ref;
    rc = sw_eval_run(m, s, NULL, tok, (size_t)window, b, window, NULL, &ref, &wd[w], err);
    if (rc) break;
    dense_s += wd[w].seconds;
    rc = sw_eval_run(m, s, ffn, tok, (size_t)window, b, window, &ref, NULL, &wm[w], err);
    sw_eval_ref_free(&ref);
  }
  if (!rc) {
    double total_s = (double)(sw_now_ns() - t0) * 1e-9;
    combine(res, wm, nw, total_s - dense_s, 1);
    if (dense) combine(dense, wd, nw, dense_s, 0);
  }
  free(wd);
  free(wm);
  return rc;
}

sw_rc sw_eval_time(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                   int n_prompt, int n_decode, double *prefill_s, double *decode_s, sw_err_t *err) {
  sw_llama_state_reset(s);
  int64_t t0 = sw_now_ns();
  sw_rc rc = sw_llama_forward(m, s, ffn, tokens, n_prompt, 1, err);
  if (rc) return rc;
  *prefill_s = (double)(sw_now_ns() - t0) * 1e-9;
  for (int i = 0; i < n_decode; i++) {
    int64_t t1 = sw_now_ns();
    rc = sw_llama_forward(m, s, ffn, &tokens[n_prompt + i], 1, 1, err);
    if (rc) return rc;
    decode_s[i] = (double)(sw_now_ns() - t1) * 1e-9;
  }
  return SW_OK;
}

