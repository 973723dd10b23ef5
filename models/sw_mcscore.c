/* sw_mcscore: log-likelihood scoring of multiple-choice items and their statistics (models/sw_mctask.h).
 * acc and acc_norm follow lm-evaluation-harness (Gao et al., "A framework for few-shot language model
 * evaluation", 2021): the choice with the highest summed log-probability of its continuation tokens, and the
 * highest sum divided by the choice's length (here its UTF-8 bytes); standard errors are the sample standard
 * deviation over items divided by sqrt(n), as that harness reports them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_time.h"
#include "models/sw_attrib.h"
#include "models/sw_mctask.h"

void sw_mc_scores_free(sw_mc_scores_t *s) {
  if (!s) return;
  free(s->offset);
  free(s->ll);
  free(s->n_cont);
  free(s->pred);
  free(s->pred_norm);
  memset(s, 0, sizeof *s);
}

static sw_rc scores_alloc(sw_mc_scores_t *s, const sw_mctask_t *t, sw_err_t *err) {
  memset(s, 0, sizeof *s);
  s->n_items = t->n_items;
  s->offset = malloc((t->n_items + 1) * sizeof *s->offset);
  if (!s->offset) return sw_err_set(err, SW_ERR_NOMEM, "task: out of memory");
  s->offset[0] = 0;
  for (size_t i = 0; i < t->n_items; i++) s->offset[i + 1] = s->offset[i] + (size_t)t->items[i].n_choices;
  size_t n = s->offset[t->n_items];
  s->ll = calloc(n, sizeof *s->ll);
  s->n_cont = calloc(n, sizeof *s->n_cont);
  s->pred = calloc(t->n_items, sizeof *s->pred);
  s->pred_norm = calloc(t->n_items, sizeof *s->pred_norm);
  if (!s->ll || !s->n_cont || !s->pred || !s->pred_norm) return sw_err_set(err, SW_ERR_NOMEM, "task: out of memory");
  return SW_OK;
}

/* log p(token) under logits row l (vocab n), in double. */
static double token_logprob(const float *l, int n, int32_t token) {
  float mx = l[0];
  for (int i = 1; i < n; i++)
    if (l[i] > mx) mx = l[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += exp((double)l[i] - mx);
  return (double)l[token] - mx - log(s);
}

/* The token ids of one item: the context alone and context + each choice, each after the BOS token when the model
 * expects one (sw_tokenizer_bos). */
typedef struct mc_seqs {
  int32_t *ctx;
  size_t   n_ctx;
  int32_t *full[SW_MCTASK_MAX_CHOICES];
  size_t   n_full[SW_MCTASK_MAX_CHOICES];
  size_t   prefix[SW_MCTASK_MAX_CHOICES]; /* common prefix of full[c] with ctx: the continuation starts here */
} mc_seqs_t;

static void seqs_free(mc_seqs_t *q, int n) {
  free(q->ctx);
  for (int c = 0; c < n; c++) free(q->full[c]);
}

static sw_rc seqs_build(mc_seqs_t *q, const sw_tokenizer_t *tok, const sw_mc_item_t *it, sw_err_t *err) {
  memset(q, 0, sizeof *q);
  sw_rc rc = sw_tokenizer_encode(tok, it->context, it->context_len, 0, &q->ctx, &q->n_ctx, err);
  if (!rc) rc = sw_tokenizer_prepend_bos(tok, &q->ctx, &q->n_ctx, err);
  char *joined = malloc(it->context_len + SW_MCTASK_MAX_TEXT + 1);
  if (!rc && !joined) rc = sw_err_set(err, SW_ERR_NOMEM, "task: out of memory");
  for (int c = 0; !rc && c < it->n_choices; c++) {
    memcpy(joined, it->context, it->context_len);
    memcpy(joined + it->context_len, it->choices[c], it->choice_lens[c]);
    rc = sw_tokenizer_encode(tok, joined, it->context_len + it->choice_lens[c], 0, &q->full[c], &q->n_full[c], err);
    if (!rc) rc = sw_tokenizer_prepend_bos(tok, &q->full[c], &q->n_full[c], err);
    size_t p = 0;
    while (!rc && p < q->n_ctx && p < q->n_full[c] && q->ctx[p] == q->full[c][p]) p++;
    q->prefix[c] = p;
    if (!rc && (p == 0 || p == q->n_full[c]))
      rc = sw_err_set(err, SW_ERR_INVALID, "choice %d: no context token precedes its continuation", c);
  }
  free(joined);
  return rc;
}

/* Adds to *ll the log-probability of every token full[t] with first <= t < n given full[0, t).  prev (vocab floats)
 * holds the logits that predict full[from] (the context's last row, from the state's position - 1); the tokens
 * full[from, n - 1) are run from the state's position in chunks of max_tok, each row predicting the next token.
 * The last token is not run: its logits would predict nothing that is scored, so a one-token continuation
 * costs no forward at all. */
static sw_rc run_continuation(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *full,
                              size_t from, size_t n, size_t first, const float *prev, double *ll, sw_err_t *err) {
  int V = m->cfg.vocab;
  if (from >= first) *ll += token_logprob(prev, V, full[from]);
  for (size_t b = from; b + 1 < n; b += (size_t)s->max_tok) {
    size_t k = n - 1 - b < (size_t)s->max_tok ? n - 1 - b : (size_t)s->max_tok;
    sw_rc rc = sw_llama_forward(m, s, ffn, full + b, (int)k, 2, err);
    if (rc) return rc;
    for (size_t t = b + 1; t <= b + k; t++)
      if (t >= first) *ll += token_logprob(s->logits + (t - 1 - b) * (size_t)V, V, full[t]);
  }
  return SW_OK;
}

/* Runs the shared context once, then each choice from its KV cache; fills ll/n_cont of the item.  last holds
 * vocab floats: the context's last logits. */
static sw_rc score_item(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const mc_seqs_t *q,
                        int n_choices, float *last, double *ll, int *n_cont, sw_err_t *err) {
  size_t P = q->prefix[0], longest = 0, V = (size_t)m->cfg.vocab;
  for (int c = 0; c < n_choices; c++) {
    if (q->prefix[c] < P) P = q->prefix[c];
    if (q->n_full[c] > longest) longest = q->n_full[c];
  }
  size_t drop = longest > (size_t)s->n_ctx ? longest - (size_t)s->n_ctx : 0; /* left truncation */
  if (drop >= P) return sw_err_set(err, SW_ERR_RANGE, "a choice needs more than the %d positions of the context", s->n_ctx);
  sw_llama_state_reset(s);
  sw_rc rc = SW_OK;
  for (size_t b = drop; !rc && b < P; b += (size_t)s->max_tok) {
    size_t n = P - b < (size_t)s->max_tok ? P - b : (size_t)s->max_tok;
    rc = sw_llama_forward(m, s, ffn, q->ctx + b, (int)n, b + n == P ? 1 : 0, err);
  }
  if (!rc) memcpy(last, s->logits, V * sizeof *last);
  for (int c = 0; !rc && c < n_choices; c++) {
    s->pos = (int)(P - drop); /* the shared context stays in the KV cache */
    ll[c] = 0;
    rc = run_continuation(m, s, ffn, q->full[c], P, q->n_full[c], q->prefix[c], last, &ll[c], err);
    n_cont[c] = (int)(q->n_full[c] - q->prefix[c]);
  }
  return rc;
}

static int argmax_choice(const double *ll, const sw_mc_item_t *it, int norm) {
  int best = 0;
  for (int c = 1; c < it->n_choices; c++) {
    double a = norm ? ll[c] / (double)it->choice_lens[c] : ll[c];
    double b = norm ? ll[best] / (double)it->choice_lens[best] : ll[best];
    if (a > b) best = c;
  }
  return best;
}

sw_rc sw_mc_score(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const sw_tokenizer_t *tok,
                  const sw_mctask_t *t, sw_mc_scores_t *out, sw_err_t *err) {
  return sw_mc_score_each(m, s, ffn, NULL, NULL, tok, t, out, err);
}

sw_rc sw_mc_score_each(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, sw_mc_before_item_fn before,
                       void *before_ctx, const sw_tokenizer_t *tok, const sw_mctask_t *t, sw_mc_scores_t *out,
                       sw_err_t *err) {
  int64_t t0 = sw_now_ns();
  sw_rc rc = scores_alloc(out, t, err);
  float *last = malloc((size_t)m->cfg.vocab * sizeof *last);
  if (!rc && !last) rc = sw_err_set(err, SW_ERR_NOMEM, "task: out of memory");
  for (size_t i = 0; !rc && i < t->n_items; i++) {
    const sw_mc_item_t *it = &t->items[i];
    mc_seqs_t q;
    rc = seqs_build(&q, tok, it, err);
    double *ll = out->ll + out->offset[i];
    if (!rc && before) before(before_ctx, i);
    if (!rc) rc = score_item(m, s, ffn, &q, it->n_choices, last, ll, out->n_cont + out->offset[i], err);
    seqs_free(&q, it->n_choices);
    if (rc) sw_err_prefix(err, "%s: item %s", t->name, it->id);
    out->pred[i] = argmax_choice(ll, it, 0);
    out->pred_norm[i] = argmax_choice(ll, it, 1);
  }
  free(last);
  out->seconds = (double)(sw_now_ns() - t0) * 1e-9;
  if (rc) sw_mc_scores_free(out);
  return rc;
}

void sw_mc_summarise(const sw_mctask_t *t, const sw_mc_scores_t *s, sw_mc_summary_t *out) {
  size_t n = t->n_items;
  double *a = calloc(n ? n : 1, sizeof *a), *b = calloc(n ? n : 1, sizeof *b), chance = 0;
  memset(out, 0, sizeof *out);
  out->n_items = n;
  if (!a || !b) {
    free(a), free(b);
    out->acc = out->acc_norm = NAN;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    a[i] = s->pred[i] == t->items[i].gold;
    b[i] = s->pred_norm[i] == t->items[i].gold;
    chance += 1.0 / t->items[i].n_choices;
  }
  out->acc = sw_attrib_mean_se(a, (int)n, &out->acc_se); /* sample sd / sqrt(n) */
  out->acc_norm = sw_attrib_mean_se(b, (int)n, &out->acc_norm_se);
  out->chance = n ? chance / (double)n : NAN;
  free(a), free(b);
}

double sw_mc_mcnemar_p(int64_t b, int64_t c) {
  int64_t n = b + c, k = b < c ? b : c;
  if (n == 0) return 1.0;
  double tail = 0; /* P(X <= k), X ~ Binomial(n, 1/2), summed in log space */
  for (int64_t i = 0; i <= k; i++)
    tail += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * log(2.0));
  return tail * 2 < 1 ? tail * 2 : 1.0;
}

void sw_mc_pair(const sw_mctask_t *t, const sw_mc_scores_t *dense, const sw_mc_scores_t *method, int norm,
                sw_mc_paired_t *out) {
  size_t n = t->n_items;
  double *d = calloc(n ? n : 1, sizeof *d);
  memset(out, 0, sizeof *out);
  for (size_t i = 0; d && i < n; i++) {
    int gold = t->items[i].gold;
    int cd = (norm ? dense->pred_norm[i] : dense->pred[i]) == gold;
    int cm = (norm ? method->pred_norm[i] : method->pred[i]) == gold;
    d[i] = cm - cd;
    out->only_method += cm && !cd;
    out->only_dense += cd && !cm;
  }
  if (d) out->diff = sw_attrib_mean_se(d, (int)n, &out->diff_se);
  else out->diff = out->diff_se = NAN;
  free(d);
  out->mcnemar_p = sw_mc_mcnemar_p(out->only_method, out->only_dense);
}
