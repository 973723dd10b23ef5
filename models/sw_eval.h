/* sw_eval: language-model quality and speed of a sw_llama under a per-layer FFN method.
 * Perplexity over fixed, non-overlapping windows of `window` tokens (the state is reset per window; each
 * window scores its positions 1..window-1), with the standard error of the per-window mean NLL across
 * windows; bits per byte (total NLL in bits / UTF-8 bytes of the scored tokens, so numbers survive a change
 * of tokenizer); KL(dense ‖ method) of the next-token distributions and top-1 agreement with dense, against
 * a dense reference computed once on the same windows; decode latency per token (batch 1, KV cache) and
 * prefill throughput.  Input is token ids (plus optional bytes per token). */
#ifndef SW_EVAL_H
#define SW_EVAL_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "common/sw_stats.h"
#include "models/sw_llama.h"

/* The dense model's next-token log-probabilities at every scored position of every window. */
typedef struct sw_eval_ref {
  int     window;     /* tokens per window */
  size_t  n_windows;  /* windows evaluated */
  int     vocab;      /* columns of logprobs */
  size_t  n_scored;   /* n_windows * (window - 1) */
  float  *logprobs;   /* (n_scored, vocab) log-softmax of the dense logits (owned) */
  int32_t *argmax;    /* (n_scored) dense top-1 token (owned) */
} sw_eval_ref_t;

typedef struct sw_eval_result {
  size_t n_windows;      /* windows evaluated */
  size_t n_scored;       /* predicted tokens */
  uint64_t n_bytes;      /* UTF-8 bytes of the predicted tokens (0 when unknown) */
  double nll_mean;       /* nats per token over all scored tokens */
  double nll_se;         /* standard error of the per-window mean NLL across windows (nats) */
  double ppl;            /* exp(nll_mean) */
  double ppl_se;         /* ppl · nll_se (delta method) */
  double bits_per_byte;  /* Σ NLL / ln 2 / n_bytes; NAN when bytes are unknown */
  double kl_mean;        /* mean KL(dense ‖ this) in nats per token; NAN without a reference */
  double kl_se;          /* standard error of the per-window mean KL across windows */
  double top1_agree;     /* fraction of positions whose argmax equals dense's; NAN without a reference */
  double seconds;        /* wall time of the evaluation */
} sw_eval_result_t;

/* Number of windows the span yields (n_tokens / window, remainder dropped). */
size_t sw_eval_n_windows(size_t n_tokens, int window);

/* Evaluates tokens[0..n_windows*window) with FFN hook ffn (NULL = dense).  tok_bytes (may be NULL) gives the
 * UTF-8 byte length of each token.  ref (may be NULL) enables KL and top-1 agreement; ref_out (may be NULL)
 * receives this run's distributions as a new reference (free with sw_eval_ref_free).  The state s must have
 * max_tok >= window and n_ctx >= window. */
sw_rc sw_eval_run(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                  size_t n_tokens, const uint32_t *tok_bytes, int window, const sw_eval_ref_t *ref,
                  sw_eval_ref_t *ref_out, sw_eval_result_t *res, sw_err_t *err);
void  sw_eval_ref_free(sw_eval_ref_t *ref);

/* Same result as sw_eval_run with a dense reference, without storing one: each window is run dense first
 * (its distributions kept for that window only), then with ffn.  Costs two forward passes per window and
 * window x vocab floats of memory; dense (may be NULL) receives the dense model's own result. */
sw_rc sw_eval_run_paired(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                         size_t n_tokens, const uint32_t *tok_bytes, int window, sw_eval_result_t *res,
                         sw_eval_result_t *dense, sw_err_t *err);
/* Bytes a dense reference of n_tokens in windows of `window` would take (for choosing run vs run_paired). */
size_t sw_eval_ref_bytes(size_t n_tokens, int window, int vocab);

/* Timing of one configuration: prefill n_prompt tokens (seconds), then n_decode single-token steps
 * (seconds each into decode_s[n_decode]).  The state is reset first. */
sw_rc sw_eval_time(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                   int n_prompt, int n_decode, double *prefill_s, double *decode_s, sw_err_t *err);

#endif
