/* sw_llama_grad: the backward pass of the Llama forward of models/sw_llama.h for one window of tokens, in f32,
 * giving the gradient of the cross-entropy loss with respect to every layer's FFN intermediate activations
 * h = SiLU(gate) ⊙ up and every layer's attention-head outputs (the input of o_proj), plus the activations
 * themselves.  Weights are read, never written; no weight gradient is formed.
 *
 * The forward pass here is its own (it must keep every layer's activations); tests check its logits against
 * sw_llama_forward and its gradients against automatic differentiation of a NumPy forward
 * (tests/reference/gen_grad_ref.py) and against finite differences through sw_llama_forward.
 *
 * Loss: mean over the labelled positions t (labels[t] >= 0) of −log softmax(logits_t)[labels[t]].
 *
 * Cost: one forward with saved activations plus a backward of about twice the forward's matrix work (each
 * linear layer needs one product for the input gradient); memory is sw_llama_grad_bytes (per token it is
 * dominated by L·(4·d + 2·q_dim + 2·kv_dim + 4·d_ff) floats, plus L·H·T² attention probabilities). */
#ifndef SW_LLAMA_GRAD_H
#define SW_LLAMA_GRAD_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "models/sw_llama.h"

typedef struct sw_llama_grad {
  int    max_tok;  /* tokens per window this context was sized for */
  int    n_tok;    /* tokens of the last run */
  /* saved forward activations (layer-major; row t = token t) */
  float *x_in;     /* (n_layer+1, max_tok, d_model) residual entering layer l; slot n_layer = final residual */
  float *x_mid;    /* (n_layer, max_tok, d_model) residual after attention (FFN block input) */
  float *q;        /* (n_layer, max_tok, q_dim) queries after RoPE */
  float *k;        /* (n_layer, max_tok, kv_dim) keys after RoPE */
  float *v;        /* (n_layer, max_tok, kv_dim) values */
  float *prob;     /* (n_layer, n_head, max_tok, max_tok) attention probabilities (causal, row t over j <= t) */
  float *att;      /* (n_layer, max_tok, q_dim) attention-head outputs: head h is columns h·head_dim.. */
  float *gate;     /* (n_layer, max_tok, d_ff) gate pre-activations */
  float *up;       /* (n_layer, max_tok, d_ff) up projections */
  float *h;        /* (n_layer, max_tok, d_ff) FFN intermediate activations SiLU(gate) ⊙ up */
  float *logits;   /* (max_tok, vocab) */
  /* results of the last run */
  float *g_h;      /* (n_layer, max_tok, d_ff) dLoss/dh */
  float *g_att;    /* (n_layer, max_tok, q_dim) dLoss/d(attention-head output) */
  double loss;     /* mean cross-entropy over the labelled positions (nats) */
  int    n_label;  /* labelled positions */
  /* scratch */
  float *d_x, *d_mid, *d_norm, *d_q, *d_k, *d_v, *d_gate, *d_up, *row; /* per-token-row gradient buffers */
} sw_llama_grad_t;

/* Bytes sw_llama_grad_init allocates for windows of max_tok tokens. */
size_t sw_llama_grad_bytes(const sw_llama_config_t *c, int max_tok);
sw_rc  sw_llama_grad_init(sw_llama_grad_t *g, const sw_llama_t *m, int max_tok, sw_err_t *err);
void   sw_llama_grad_free(sw_llama_grad_t *g);

/* Runs tokens[0..n_tok) (positions 0..n_tok-1, no cache) forward and backward.  labels[t] is the target of
 * position t (the next token, or the dense model's greedy output), < 0 = not scored; at least one must be
 * scored.  SW_ERR_RANGE for a token or label out of range or n_tok outside 1..max_tok. */
sw_rc sw_llama_grad_run(const sw_llama_t *m, sw_llama_grad_t *g, const int32_t *tokens, const int32_t *labels,
                        int n_tok, sw_err_t *err);

/* Row t of layer l of a (n_layer, max_tok, width) buffer. */
static inline float *sw_llama_grad_row(const sw_llama_grad_t *g, float *buf, int l, int t, int width) {
  return buf + ((size_t)l * (size_t)g->max_tok + (size_t)t) * (size_t)width;
}

#endif
