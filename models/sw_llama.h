/* sw_llama: a Llama-family decoder (SmolLM2, Llama 2/3, ...) loaded from GGUF into f32 (plus the file's own
 * quantised projection blocks for weights: native, models/sw_llama_native.c), with a per-layer pluggable FFN.  Config holds hyperparameters read from GGUF metadata, Weights the dequantised tensors
 * (one allocation carved by a table; FFN weights neuron-major as the kernels want), RunState the activations
 * and the KV cache.  One size function (sw_llama_tensor_shape) drives both the allocation and the shape
 * check of every GGUF tensor.  Forward (docs/models.md §1): RMSNorm, adjacent-pair RoPE (GGUF's q/k row
 * order), grouped-query attention with a KV cache, gated FFN, output embedding (tied when output.weight
 * is absent).  Decode is the same path with n_tok = 1. */
#ifndef SW_LLAMA_H
#define SW_LLAMA_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_quant.h"
#include "models/sw_gguf.h"

/* Caps that keep a hostile file's metadata from requesting absurd allocations (GGUF and config.json alike). */
#define SW_LLAMA_MAX_DIM 65536
#define SW_LLAMA_MAX_LAYERS 1024
#define SW_LLAMA_MAX_VOCAB (1 << 22)

typedef struct sw_llama_config {
  int   n_layer;     /* transformer blocks ({arch}.block_count) */
  int   d_model;     /* embedding width ({arch}.embedding_length) */
  int   d_ff;        /* FFN neurons per layer ({arch}.feed_forward_length) */
  int   n_head;      /* query heads */
  int   n_head_kv;   /* key/value heads (GQA: query head h reads KV head h / (n_head/n_head_kv)) */
  int   head_dim;    /* d_model / n_head */
  int   rope_dim;    /* rotated dimensions per head ({arch}.rope.dimension_count, default head_dim) */
  int   vocab;       /* rows of token_embd */
  int   n_ctx_train; /* trained context length ({arch}.context_length) */
  float rope_theta;  /* RoPE base ({arch}.rope.freq_base, default 10000) */
  float rms_eps;     /* RMSNorm epsilon ({arch}.attention.layer_norm_rms_epsilon) */
  int   tied_output; /* 1 when the file has no output.weight: logits use token_embd */
  /* RoPE scaling ({arch}.rope.scaling.type; see sw_llama_rope_table).  The factors are 0 when unused. */
  int   rope_scaling;          /* SW_ROPE_SCALING_* */
  float rope_scale_factor;     /* {arch}.rope.scaling.factor (linear, llama3) */
  float rope_low_freq_factor;  /* {arch}.rope.scaling.low_freq_factor (llama3, default 1) */
  float rope_high_freq_factor; /* {arch}.rope.scaling.high_freq_factor (llama3, default 4) */
  int   rope_orig_ctx;         /* {arch}.rope.scaling.original_context_length (llama3: default 8192; yarn: default
                                  the trained context) */
  float rope_beta_fast;        /* yarn: {arch}.rope.scaling.yarn_beta_fast, rotations above which a pair is kept (32) */
  float rope_beta_slow;        /* yarn: {arch}.rope.scaling.yarn_beta_slow, rotations below which it is interpolated (1) */
  float rope_attn_scale;       /* magnitude factor of the rotated q/k components (yarn's sqrt(1/t); 1 otherwise, also
                                  when 0 for configs written before it existed) */
  sw_act_t act;      /* the FFN's activation, from the file's architecture (llama, mistral: SiLU, gated as
                        SwiGLU): the dense reference every method is compared with */
} sw_llama_config_t;

/* RoPE scaling schemes: none; linear (every frequency divided by the factor, i.e. positions interpolated);
 * llama3 (Llama 3.1: wavelengths longer than orig_ctx/low_freq_factor divided by the factor, shorter than
 * orig_ctx/high_freq_factor kept, interpolated in between); yarn (Peng et al. 2023, "YaRN", arXiv 2309.00071:
 * NTK-by-parts interpolation of the rates plus an attention temperature, see sw_llama_yarn_rate).  A file may
 * instead carry the per-pair divisors as the tensor rope_freqs.weight (llama.cpp's converter writes Llama 3.1
 * that way); they then replace the llama3 formula. */
enum { SW_ROPE_SCALING_NONE = 0, SW_ROPE_SCALING_LINEAR = 1, SW_ROPE_SCALING_LLAMA3 = 2, SW_ROPE_SCALING_YARN = 3 };
#define SW_LLAMA_MAX_ROPE_DIM 1024

/* Weight families, in the order they are carved from the weight block. */
typedef enum sw_llama_family {
  SW_LF_TOKEN_EMBD = 0, /* token_embd.weight      (vocab, d_model) */
  SW_LF_OUTPUT_NORM,    /* output_norm.weight     (d_model) */
  SW_LF_OUTPUT,         /* output.weight          (vocab, d_model); 0 elements when tied */
  SW_LF_ATTN_NORM,      /* blk.N.attn_norm.weight (n_layer, d_model) */
  SW_LF_ATTN_Q,         /* blk.N.attn_q.weight    (n_layer, n_head*head_dim, d_model) */
  SW_LF_ATTN_K,         /* blk.N.attn_k.weight    (n_layer, n_head_kv*head_dim, d_model) */
  SW_LF_ATTN_V,         /* blk.N.attn_v.weight    (n_layer, n_head_kv*head_dim, d_model) */
  SW_LF_ATTN_OUT,       /* blk.N.attn_output.weight (n_layer, d_model, n_head*head_dim) */
  SW_LF_FFN_NORM,       /* blk.N.ffn_norm.weight  (n_layer, d_model) */
  SW_LF_FFN_GATE,       /* blk.N.ffn_gate.weight  (n_layer, d_ff, d_model): row i = neuron i */
  SW_LF_FFN_UP,         /* blk.N.ffn_up.weight    (n_layer, d_ff, d_model): row i = neuron i */
  SW_LF_FFN_DOWN,       /* blk.N.ffn_down.weight stored TRANSPOSED (n_layer, d_ff, d_model): row i = neuron i */
  SW_LF_COUNT
} sw_llama_family_t;

typedef struct sw_llama_weights {
  float *token_embd;  /* (vocab, d_model) */
  float *output_norm; /* (d_model) */
  float *output;      /* (vocab, d_model); == token_embd when tied */
  float *attn_norm;   /* (n_layer, d_model) */
  float *wq;          /* (n_layer, n_head*head_dim, d_model): row r computes output r */
  float *wk;          /* (n_layer, n_head_kv*head_dim, d_model) */
  float *wv;          /* (n_layer, n_head_kv*head_dim, d_model) */
  float *wo;          /* (n_layer, d_model, n_head*head_dim) */
  float *ffn_norm;    /* (n_layer, d_model) */
  float *w_gate;      /* (n_layer, d_ff, d_model) */
  float *w_up;        /* (n_layer, d_ff, d_model) */
  float *w_down_t;    /* (n_layer, d_ff, d_model): neuron i's down row = column i of GGUF ffn_down */
  sw_ffn_weights_t *ffn; /* (n_layer) kernel views of w_gate/w_up/w_down_t, act = SiLU, gated */
  void  *block;       /* the single allocation all the above point into (owned) */
  size_t block_bytes; /* its size */
} sw_llama_weights_t;

/* The projection matrices as stored in the file (models/sw_llama_native.c): GGUF orientation (row r computes
 * output r; ffn_down is (d_model, d_ff), not transposed), raw blocks copied once at load.  mats[fam * n_layer
 * + layer] for the families Q, K, V, O, GATE, UP, DOWN; mats[SW_LF_OUTPUT * n_layer] is the output matrix
 * (token_embd when tied).  A matrix whose type has no quantised kernel (kernels/sw_quant.h) has data == NULL
 * and runs on its f32 copy. */
typedef struct sw_llama_qweights {
  sw_qmat_t *mats;
  void      *block;       /* owned raw blocks */
  size_t     block_bytes;
  sw_qmat_t *down_t;      /* (n_layer) Q8_0 (d_ff, d_model): neuron i's down row, re-quantised along d_model from
                             the f32 copy, for the sparse FFN; data NULL when gate/up have no native copy */
  void      *down_t_block;
  struct sw_qpack *packs; /* one per mats entry (row-interleaved copies for the dense GEMV, kernels/sw_qpack.h);
                             mats[i].packed points here when mats[i].data is set */
  void      *pack_block;  /* owned storage of every packed copy */
  int        n_native;    /* matrices with a quantised kernel */
  int        n_fallback;  /* matrices that stay f32 under weights: native */
} sw_llama_qweights_t;

/* Which weights a forward pass multiplies by: the f32 dequantisation (the accuracy reference) or the file's
 * own quantised blocks with 8-bit activation blocks (the latency setting). */
typedef enum sw_llama_weights_kind { SW_LLAMA_WEIGHTS_F32 = 0, SW_LLAMA_WEIGHTS_NATIVE = 1 } sw_llama_weights_kind_t;
/* "f32" / "native"; parse gives SW_ERR_PARSE naming the value otherwise. */
const char *sw_llama_weights_name(sw_llama_weights_kind_t k);
sw_rc sw_llama_weights_parse(const char *text, sw_llama_weights_kind_t *out, sw_err_t *err);

typedef struct sw_llama {
  sw_llama_config_t  cfg;
  sw_llama_weights_t w;
  sw_llama_qweights_t q;
  double            *rope_inv_freq; /* (rope_dim/2) rotation rate of pair i in radians per position, owned; NULL:
                                       unscaled theta^(-2i/rope_dim) (see sw_llama_rope_rate) */
  char               sha256[65]; /* hex SHA-256 of the GGUF file ("" for memory images) */
  char               path[1024]; /* where it was loaded from */
} sw_llama_t;

/* Expected shape of one GGUF tensor of a family: ne[0] (contiguous, input width) and ne[1] (rows), per layer.
 * Returns the elements the family occupies in the weight block (all layers; 0 for OUTPUT when tied).
 * Used for both allocation and validation. */
size_t sw_llama_tensor_shape(const sw_llama_config_t *cfg, sw_llama_family_t fam, int64_t ne[2]);
/* GGUF name of family fam in layer (layer ignored for global tensors) written into buf. */
void sw_llama_tensor_name(sw_llama_family_t fam, int layer, char *buf, size_t len);

/* 1 for the families with one tensor per layer. */
int sw_llama_family_per_layer(sw_llama_family_t fam);
/* Where family fam starts in the weights (all layers back to back, each sw_llama_tensor_shape elements). */
float **sw_llama_family_ptr(sw_llama_weights_t *w, sw_llama_family_t fam);
/* For loaders of other formats (models/sw_hf.c): allocates the f32 weight block for m->cfg (every family
 * pointer set; output = token_embd when tied), then, once the caller has filled it in GGUF orientation (q/k
 * rows in GGUF's RoPE order, ffn_down neuron-major), sw_llama_weights_ready sets the FFN kernel views.  The
 * model has no native (quantised) copies: weights: native runs on f32. */
sw_rc sw_llama_weights_alloc(sw_llama_t *m, sw_err_t *err);
void  sw_llama_weights_ready(sw_llama_t *m);
/* One tensor of a loader: check it (dst NULL) or check it and write it to dst in GGUF orientation. */
typedef sw_rc (*sw_llama_tensor_fn)(void *ctx, sw_llama_family_t fam, int layer, float *dst, sw_err_t *err);
/* Calls fn for every tensor m->cfg needs (family order, then layers; output skipped when tied), dst NULL when
 * load is 0, else the tensor's place in m's weight block.  Stops at the first error. */
sw_rc sw_llama_each_tensor(sw_llama_t *m, int load, sw_llama_tensor_fn fn, void *ctx, sw_err_t *err);

/* Reads the config from GGUF metadata (general.architecture selects the key prefix; llama-family only). */
sw_rc sw_llama_config_read(sw_llama_config_t *cfg, const sw_gguf_t *g, sw_err_t *err);
/* Loads a model from a parsed GGUF: validates every tensor's shape against the config (message names the
 * tensor), dequantises to f32 (message names tensor and type when unsupported).  Free with sw_llama_free. */
sw_rc sw_llama_load_gguf(sw_llama_t *m, const sw_gguf_t *g, sw_err_t *err);
/* The RoPE rate of each adjacent pair i < rope_dim/2 (angle = pos * out[i]): theta^(-2i/rope_dim), then the
 * config's scaling, then division by the rope_freqs.weight factors when g has that tensor (rope_dim/2 positive
 * values; a wrong count or value is an error naming the tensor). */
sw_rc sw_llama_rope_table(const sw_llama_config_t *cfg, const sw_gguf_t *g, double *out, sw_err_t *err);
/* Rate of pair i of a loaded model (its table, or the unscaled formula when it has none). */
double sw_llama_rope_rate(const sw_llama_t *m, int i);
/* Magnitude factor RoPE applies to the rotated q/k components of m (cfg.rope_attn_scale, 1 when unset). */
double sw_llama_rope_attn_scale(const sw_llama_t *m);
/* YaRN's rate of pair i (Peng et al. 2023, arXiv 2309.00071, §3.2 eq. 17-18) for base rate theta^(-2i/rope_dim):
 * r = orig_ctx / wavelength rotations; pairs with r above beta_fast keep their rate, pairs below beta_slow are
 * divided by the factor, and between them the two are mixed by a ramp.  As in the paper's reference code (and
 * Hugging Face transformers / llama.cpp, whose checkpoints assume it), the ramp is linear in the pair index
 * between floor(i at r = beta_fast) and ceil(i at r = beta_slow), not linear in r. */
double sw_llama_yarn_rate(const sw_llama_config_t *cfg, int i);
/* YaRN's default attention factor sqrt(1/t) = 0.1 ln(factor) + 1 (arXiv 2309.00071 eq. 22; 1 for factor <= 1). */
double sw_llama_yarn_mscale(double factor);
/* Allocates m->rope_inv_freq and fills it (sw_llama_rope_table; g may be NULL for non-GGUF loaders). */
sw_rc sw_llama_rope_init(sw_llama_t *m, const sw_gguf_t *g, sw_err_t *err);
/* Opens, hashes, parses and loads a GGUF file, or a Hugging Face checkpoint when path is a directory
 * (models/sw_hf.h: m->sha256 is then the hash of its provenance manifest). */
sw_rc sw_llama_load(sw_llama_t *m, const char *path, sw_err_t *err);
void  sw_llama_free(sw_llama_t *m);

/* The FFN of layer `layer` for n_tok tokens: out[t*d_model..] = FFN_layer(x_t).  A method (sparse policy,
 * MoE, calibration recorder) implements this; NULL hook = the dense kernel. */
typedef struct sw_llama_ffn {
  sw_rc (*forward)(void *ctx, int layer, float *out, const float *x, int n_tok, sw_err_t *err);
  /* Optional (NULL = none): may modify, in place, an attention projection input of layer `layer` before it is
   * used: site SW_LLAMA_SITE_QKV is the normed block input shared by q/k/v, SW_LLAMA_SITE_O the attention
   * output entering o_proj; x is (n_tok, dim).  TEAL's input sparsity on attention uses it. */
  void (*attn_input)(void *ctx, int layer, int site, float *x, int n_tok, int dim);
  void *ctx;
  /* Optional (NULL = none): may modify, in place, a copy of the normed block input that feeds q_proj only (k and
   * v keep the input as attn_input left it); CHESS's attention sparsification uses it (models/sw_method.h). */
  void (*q_input)(void *ctx, int layer, float *x, int n_tok, int dim);
} sw_llama_ffn_t;

enum { SW_LLAMA_SITE_QKV = 0, SW_LLAMA_SITE_O = 1, SW_LLAMA_SITES = 2 };

typedef struct sw_llama_state {
  int    max_tok;   /* tokens per forward call */
  int    n_ctx;     /* KV cache positions */
  int    pos;       /* next position (tokens already in the cache) */
  float *x;         /* (max_tok, d_model) residual stream */
  float *xb;        /* (max_tok, d_model) normed input */
  float *xb2;       /* (max_tok, d_model) block output */
  float *q;         /* (max_tok, n_head*head_dim) */
  float *att;       /* (max_tok, n_head*head_dim) attention output */
  float *scores;    /* (n_ctx) softmax scratch */
  float *k_cache;   /* (n_layer, n_ctx, kv_dim) */
  float *v_cache;   /* (n_layer, n_ctx, kv_dim) */
  float *logits;    /* (max_tok, vocab) */
  sw_ffn_work_t work; /* dense FFN kernel scratch for max_tok tokens */
  /* weights: native (sw_llama_state_native); all NULL/0 for f32 */
  sw_llama_weights_kind_t weights;
  sw_qctx_t qctx;     /* ISA variant and pool of the quantised kernels */
  sw_q8a_t *xq;       /* (max_tok, max(d_model, n_head*head_dim, d_ff)/32) quantised activations */
  float    *ffn_g;    /* (max_tok, d_ff) gate, then the activation product */
  float    *ffn_u;    /* (max_tok, d_ff) up */
} sw_llama_state_t;

/* Allocates the run state for up to max_tok tokens per call and n_ctx cached positions. */
sw_rc sw_llama_state_init(sw_llama_state_t *s, const sw_llama_t *m, int max_tok, int n_ctx, sw_err_t *err);
void  sw_llama_state_free(sw_llama_state_t *s);
/* Switches a state to weights: native: quantised projections, FFN and output (the dense FFN only: a hook
 * still runs its own kernels), n_threads threads (a pool when > 1), ISA variant `isa` resolved once here
 * (SW_ISA_AUTO: the best the CPU runs).  Errors: bad thread count, an ISA the CPU cannot run, no memory. */
sw_rc sw_llama_state_native(sw_llama_state_t *s, const sw_llama_t *m, int n_threads, sw_isa_t isa, sw_err_t *err);
/* Forgets the cached context (pos = 0). */
void  sw_llama_state_reset(sw_llama_state_t *s);

/* Runs n_tok tokens (1..max_tok) at positions s->pos.. and advances s->pos.  ffn: per-layer FFN (NULL =
 * dense).  logits_mode: 0 none, 1 the last token's logits in s->logits[0..vocab), 2 all tokens' logits
 * (s->logits row t).  SW_ERR_RANGE when the cache would overflow or a token id is out of range. */
sw_rc sw_llama_forward(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                       int n_tok, int logits_mode, sw_err_t *err);

/* Runs block l alone (attention and FFN, hooks as in sw_llama_forward) on the n_tok residual rows already in
 * s->x at positions s->pos.., without advancing s->pos: layer-by-layer calibration (models/sw_calib_teal.c)
 * runs every window through one block before the next.  SW_ERR_RANGE as sw_llama_forward. */
sw_rc sw_llama_forward_layer(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, int l, int n_tok,
                             sw_err_t *err);

/* Dense FLOPs per token of the whole model at context length ctx (2 per multiply-add; attention scores
 * and weighted sums included; norms/softmax excluded) and of the FFNs only. */
double sw_llama_flops_per_token(const sw_llama_config_t *cfg, double ctx);
double sw_llama_ffn_flops_per_token(const sw_llama_config_t *cfg);

#endif
