/* sw_llama: loading a Llama-family GGUF into f32 and running the forward pass (docs/models.md §1).
 * Matrix products go through OpenBLAS (sgemm for prefill, sgemv for decode); the FFN goes through the
 * kernels library or a caller's per-layer hook.  RoPE rotates adjacent pairs (x[2i], x[2i+1]) by
 * pos·theta^(-2i/rope_dim) (rescaled by the file's RoPE scaling, sw_llama_rope_table): convert_hf_to_gguf
 * permutes the q/k rows so that this equals HF's rotate-half. */
#include "models/sw_llama.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/sw_hash.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_flops.h"
#include "models/sw_hf.h"
#include "kernels/sw_attn.h"
#include "models/sw_llama_native.h"

#define SW_LLAMA_ALIGN_FLOATS 16 /* each family starts on a 64-byte boundary */

static const char *const family_fmt[SW_LF_COUNT] = {
    [SW_LF_TOKEN_EMBD] = "token_embd.weight",       [SW_LF_OUTPUT_NORM] = "output_norm.weight",
    [SW_LF_OUTPUT] = "output.weight",               [SW_LF_ATTN_NORM] = "blk.%d.attn_norm.weight",
    [SW_LF_ATTN_Q] = "blk.%d.attn_q.weight",        [SW_LF_ATTN_K] = "blk.%d.attn_k.weight",
    [SW_LF_ATTN_V] = "blk.%d.attn_v.weight",        [SW_LF_ATTN_OUT] = "blk.%d.attn_output.weight",
    [SW_LF_FFN_NORM] = "blk.%d.ffn_norm.weight",    [SW_LF_FFN_GATE] = "blk.%d.ffn_gate.weight",
    [SW_LF_FFN_UP] = "blk.%d.ffn_up.weight",        [SW_LF_FFN_DOWN] = "blk.%d.ffn_down.weight",
};

int sw_llama_family_per_layer(sw_llama_family_t f) { return f >= SW_LF_ATTN_NORM; }

void sw_llama_tensor_name(sw_llama_family_t fam, int layer, char *buf, size_t len) {
  if (sw_llama_family_per_layer(fam))
    snprintf(buf, len, family_fmt[fam], layer);
  else
    snprintf(buf, len, "%s", family_fmt[fam]);
}

size_t sw_llama_tensor_shape(const sw_llama_config_t *c, sw_llama_family_t fam, int64_t ne[2]) {
  int64_t d = c->d_model, qd = (int64_t)c->n_head * c->head_dim, kvd = (int64_t)c->n_head_kv * c->head_dim;
  switch (fam) {
    case SW_LF_TOKEN_EMBD: ne[0] = d; ne[1] = c->vocab; break;
    case SW_LF_OUTPUT: ne[0] = d; ne[1] = c->vocab; break;
    case SW_LF_OUTPUT_NORM:
    case SW_LF_ATTN_NORM:
    case SW_LF_FFN_NORM: ne[0] = d; ne[1] = 1; break;
    case SW_LF_ATTN_Q: ne[0] = d; ne[1] = qd; break;
    case SW_LF_ATTN_K:
    case SW_LF_ATTN_V: ne[0] = d; ne[1] = kvd; break;
    case SW_LF_ATTN_OUT: ne[0] = qd; ne[1] = d; break;
    case SW_LF_FFN_GATE:
    case SW_LF_FFN_UP: ne[0] = d; ne[1] = c->d_ff; break;
    case SW_LF_FFN_DOWN: ne[0] = c->d_ff; ne[1] = d; break; /* GGUF shape; stored transposed */
    default: ne[0] = ne[1] = 0; return 0;
  }
  if (fam == SW_LF_OUTPUT && c->tied_output) return 0;
  size_t per = (size_t)ne[0] * (size_t)ne[1]; /* bounded by the config caps: no overflow */
  return sw_llama_family_per_layer(fam) ? per * (size_t)c->n_layer : per;
}

static sw_rc get_dim(const sw_gguf_t *g, const char *arch, const char *suffix, int64_t def, int64_t max, int *out,
                     sw_err_t *err) {
  char key[160];
  snprintf(key, sizeof key, "%s.%s", arch, suffix);
  int64_t v = def;
  sw_rc rc = sw_gguf_get_int(g, key, &v, err);
  if (rc == SW_ERR_NOTFOUND && def >= 0) rc = SW_OK, v = def;
  if (rc) return rc;
  if (v < 1 || v > max) return sw_err_set(err, SW_ERR_RANGE, "model: %s = %lld is not in 1..%lld", key, (long long)v,
                                          (long long)max);
  *out = (int)v;
  return SW_OK;
}

static sw_rc get_real(const sw_gguf_t *g, const char *arch, const char *suffix, double def, float *out,
                      sw_err_t *err) {
  char key[160];
  snprintf(key, sizeof key, "%s.%s", arch, suffix);
  double v = def;
  sw_rc rc = sw_gguf_get_float(g, key, &v, err);
  if (rc == SW_ERR_NOTFOUND) rc = SW_OK, v = def;
  if (rc) return rc;
  if (!(v > 0) || !isfinite(v)) return sw_err_set(err, SW_ERR_RANGE, "model: %s = %g must be positive", key, v);
  *out = (float)v;
  return SW_OK;
}

/* yarn's keys (llama.cpp's names): factor, original_context_length (default the trained context), attn_factor
 * (multiplies the paper's sqrt(1/t), default 1, as ggml's rope does), yarn_beta_fast / yarn_beta_slow (32 / 1,
 * the paper's alpha and beta for Llama).  Variants this forward does not implement are refused naming the key. */
static sw_rc read_rope_yarn(sw_llama_config_t *c, const sw_gguf_t *g, const char *arch, sw_err_t *err) {
  static const char *const refused[] = {"rope.scaling.yarn_log_multiplier", "rope.scaling.yarn_ext_factor",
                                        "rope.scaling.yarn_attn_factor"};
  char key[160];
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    snprintf(key, sizeof key, "%s.%s", arch, refused[i]);
    if (sw_gguf_find_key(g, key) >= 0)
      return sw_err_set(err, SW_ERR_UNSUPPORTED, "model: %s is not supported (yarn takes factor, "
                        "original_context_length, attn_factor, yarn_beta_fast, yarn_beta_slow)", key);
  }
  float attn = 1.0f;
  c->rope_scaling = SW_ROPE_SCALING_YARN;
  sw_rc rc;
  if ((rc = get_real(g, arch, "rope.scaling.factor", 1.0, &c->rope_scale_factor, err)) ||
      (rc = get_dim(g, arch, "rope.scaling.original_context_length", c->n_ctx_train, 1 << 24, &c->rope_orig_ctx,
                    err)) ||
      (rc = get_real(g, arch, "rope.scaling.attn_factor", 1.0, &attn, err)) ||
      (rc = get_real(g, arch, "rope.scaling.yarn_beta_fast", 32.0, &c->rope_beta_fast, err)) ||
      (rc = get_real(g, arch, "rope.scaling.yarn_beta_slow", 1.0, &c->rope_beta_slow, err)))
    return rc;
  if (!(c->rope_theta > 1.0f))
    return sw_err_set(err, SW_ERR_RANGE, "model: %s.rope.freq_base %g must exceed 1 for yarn", arch, c->rope_theta);
  if (!(c->rope_beta_fast > c->rope_beta_slow))
    return sw_err_set(err, SW_ERR_RANGE, "model: %s.rope.scaling.yarn_beta_fast %g must exceed yarn_beta_slow %g", arch,
                      c->rope_beta_fast, c->rope_beta_slow);
  c->rope_attn_scale = (float)(attn * sw_llama_yarn_mscale(c->rope_scale_factor));
  return SW_OK;
}

/* {arch}.rope.scaling.*: the scheme and its factors (models/README.md, "RoPE scaling"). */
static sw_rc read_rope_scaling(sw_llama_config_t *c, const sw_gguf_t *g, const char *arch, sw_err_t *err) {
  char key[160];
  const char *type = "none";
  snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
  sw_rc rc = sw_gguf_find_key(g, key) >= 0 ? sw_gguf_get_str(g, key, &type, NULL, err) : SW_OK;
  if (rc) return rc;
  c->rope_attn_scale = 1.0f;
  if (strcmp(type, "none") == 0) {
    c->rope_scaling = SW_ROPE_SCALING_NONE;
    return SW_OK;
  }
  if (strcmp(type, "linear") == 0) {
    c->rope_scaling = SW_ROPE_SCALING_LINEAR;
    return get_real(g, arch, "rope.scaling.factor", 1.0, &c->rope_scale_factor, err);
  }
  if (strcmp(type, "yarn") == 0) return read_rope_yarn(c, g, arch, err);
  if (strcmp(type, "llama3") != 0)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "model: %s = '%s' is not supported (none, linear, llama3, yarn)", key,
                      type);
  c->rope_scaling = SW_ROPE_SCALING_LLAMA3; /* defaults: Llama 3.1's config.json rope_scaling */
  if ((rc = get_real(g, arch, "rope.scaling.factor", 8.0, &c->rope_scale_factor, err)) ||
      (rc = get_real(g, arch, "rope.scaling.low_freq_factor", 1.0, &c->rope_low_freq_factor, err)) ||
      (rc = get_real(g, arch, "rope.scaling.high_freq_factor", 4.0, &c->rope_high_freq_factor, err)) ||
      (rc = get_dim(g, arch, "rope.scaling.original_context_length", 8192, 1 << 24, &c->rope_orig_ctx, err)))
    return rc;
  if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
    return sw_err_set(err, SW_ERR_RANGE, "model: %s.rope.scaling.high_freq_factor %g must exceed low_freq_factor %g", arch,
                      c->rope_high_freq_factor, c->rope_low_freq_factor);
  return SW_OK;
}

sw_rc sw_llama_config_read(sw_llama_config_t *c, const sw_gguf_t *g, sw_err_t *err) {
  memset(c, 0, sizeof *c);
  const char *arch = NULL;
  sw_rc rc = sw_gguf_get_str(g, "general.architecture", &arch, NULL, err);
  if (rc) return rc;
  if (strcmp(arch, "llama") != 0 && strcmp(arch, "mistral") != 0)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "model: architecture '%s' is not llama-family", arch);
  if ((rc = get_dim(g, arch, "block_count", -1, SW_LLAMA_MAX_LAYERS, &c->n_layer, err)) ||
      (rc = get_dim(g, arch, "embedding_length", -1, SW_LLAMA_MAX_DIM, &c->d_model, err)) ||
      (rc = get_dim(g, arch, "feed_forward_length", -1, SW_LLAMA_MAX_DIM, &c->d_ff, err)) ||
      (rc = get_dim(g, arch, "attention.head_count", -1, SW_LLAMA_MAX_DIM, &c->n_head, err)) ||
      (rc = get_dim(g, arch, "attention.head_count_kv", c->n_head, c->n_head, &c->n_head_kv, err)) ||
      (rc = get_dim(g, arch, "context_length", 2048, 1 << 24, &c->n_ctx_train, err)) ||
      (rc = get_real(g, arch, "rope.freq_base", 10000.0, &c->rope_theta, err)) ||
      (rc = get_real(g, arch, "attention.layer_norm_rms_epsilon", 1e-5, &c->rms_eps, err)))
    return rc;
  if (c->d_model % c->n_head || c->n_head % c->n_head_kv)
    return sw_err_set(err, SW_ERR_RANGE, "model: embedding_length %d / head_count %d / head_count_kv %d do not divide",
                      c->d_model, c->n_head, c->n_head_kv);
  c->head_dim = c->d_model / c->n_head;
  if ((rc = get_dim(g, arch, "rope.dimension_count", c->head_dim, c->head_dim, &c->rope_dim, err))) return rc;
  if (c->rope_dim % 2 || c->rope_dim > SW_LLAMA_MAX_ROPE_DIM)
    return sw_err_set(err, SW_ERR_RANGE, "model: rope.dimension_count %d is odd or above %d", c->rope_dim,
                      SW_LLAMA_MAX_ROPE_DIM);
  if ((rc = read_rope_scaling(c, g, arch, err))) return rc;
  const sw_gguf_tensor_t *emb = sw_gguf_find_tensor(g, "token_embd.weight");
  if (!emb) return sw_err_set(err, SW_ERR_NOTFOUND, "model: tensor 'token_embd.weight' is missing");
  if (emb->ne[1] < 1 || emb->ne[1] > SW_LLAMA_MAX_VOCAB)
    return sw_err_set(err, SW_ERR_RANGE, "model: tensor 'token_embd.weight': vocab %lld out of range",
                      (long long)emb->ne[1]);
  c->vocab = (int)emb->ne[1];
  c->tied_output = sw_gguf_find_tensor(g, "output.weight") == NULL;
  c->act = SW_ACT_SILU; /* every architecture accepted above has a SwiGLU FFN */
  return SW_OK;
}

/* Llama 3.1's frequency-dependent scaling of one rate (Meta's llama-models reference, apply_scaling): long
 * wavelengths are divided by the factor, short ones kept, those in between interpolated smoothly. */
static double llama3_scaled_rate(const sw_llama_config_t *c, double rate) {
  const double two_pi = 6.283185307179586;
  double orig = c->rope_orig_ctx, lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor;
  double wavelen = two_pi / rate;
  if (wavelen < orig / hi) return rate;
  if (wavelen > orig / lo) return rate / c->rope_scale_factor;
  double smooth = (orig / wavelen - lo) / (hi - lo);
  return (1.0 - smooth) * rate / c->rope_scale_factor + smooth * rate;
}

double sw_llama_yarn_mscale(double factor) { return factor <= 1.0 ? 1.0 : 0.1 * log(factor) + 1.0; }

/* The pair index at which a pair turns `rotations` times over orig_ctx positions: orig_ctx * rate_i / 2pi = rot with
 * rate_i = theta^(-2i/dim) gives i = dim * ln(orig_ctx / (2pi rot)) / (2 ln theta). */
static double yarn_pair_at(const sw_llama_config_t *c, double rotations) {
  const double two_pi = 6.283185307179586;
  return c->rope_dim * log(c->rope_orig_ctx / (two_pi * rotations)) / (2.0 * log((double)c->rope_theta));
}

double sw_llama_yarn_rate(const sw_llama_config_t *c, int i) {
  double rate = pow((double)c->rope_theta, -2.0 * i / c->rope_dim);
  double lo = fmax(floor(yarn_pair_at(c, c->rope_beta_fast)), 0.0);
  double hi = fmin(ceil(yarn_pair_at(c, c->rope_beta_slow)), c->rope_dim - 1.0);
  if (hi <= lo) hi = lo + 0.001; /* the reference code's guard against a zero-width ramp */
  double interp = fmin(fmax((i - lo) / (hi - lo), 0.0), 1.0); /* 1 - gamma(r) of eq. 17 */
  return (1.0 - interp) * rate + interp * rate / c->rope_scale_factor; /* h(theta_d), eq. 18 */
}

/* Divides the rates by the rope_freqs.weight factors. */
static sw_rc apply_rope_freqs(const sw_gguf_tensor_t *t, int n, double *out, sw_err_t *err) {
  float f[SW_LLAMA_MAX_ROPE_DIM / 2];
  if (t->n_elements != n)
    return sw_err_set(err, SW_ERR_PARSE, "model: tensor 'rope_freqs.weight' has %lld values, expected rope_dim/2 = %d",
                      (long long)t->n_elements, n);
  sw_rc rc = sw_dequant_bytes(f, t->data, t->nbytes, (size_t)n, t->type, t->name, err);
  for (int i = 0; !rc && i < n; i++) {
    if (!(f[i] > 0.0f) || !isfinite(f[i]))
      return sw_err_set(err, SW_ERR_RANGE, "model: tensor 'rope_freqs.weight'[%d] = %g is not a positive factor", i,
                        (double)f[i]);
    out[i] /= f[i];
  }
  return rc;
}

sw_rc sw_llama_rope_table(const sw_llama_config_t *c, const sw_gguf_t *g, double *out, sw_err_t *err) {
  int n = c->rope_dim / 2;
  const sw_gguf_tensor_t *freqs = g ? sw_gguf_find_tensor(g, "rope_freqs.weight") : NULL;
  for (int i = 0; i < n; i++) {
    out[i] = pow((double)c->rope_theta, -2.0 * i / c->rope_dim);
    if (c->rope_scaling == SW_ROPE_SCALING_LINEAR) out[i] /= c->rope_scale_factor;
    else if (c->rope_scaling == SW_ROPE_SCALING_LLAMA3 && !freqs) out[i] = llama3_scaled_rate(c, out[i]);
    else if (c->rope_scaling == SW_ROPE_SCALING_YARN) out[i] = sw_llama_yarn_rate(c, i);
  }
  return freqs ? apply_rope_freqs(freqs, n, out, err) : SW_OK;
}

sw_rc sw_llama_rope_init(sw_llama_t *m, const sw_gguf_t *g, sw_err_t *err) {
  if (!(m->rope_inv_freq = malloc((size_t)(m->cfg.rope_dim / 2 + 1) * sizeof *m->rope_inv_freq)))
    return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory");
  return sw_llama_rope_table(&m->cfg, g, m->rope_inv_freq, err);
}

double sw_llama_rope_attn_scale(const sw_llama_t *m) {
  return m->cfg.rope_attn_scale > 0 ? (double)m->cfg.rope_attn_scale : 1.0;
}

double sw_llama_rope_rate(const sw_llama_t *m, int i) {
  if (m->rope_inv_freq) return m->rope_inv_freq[i];
  return pow((double)m->cfg.rope_theta, -2.0 * i / m->cfg.rope_dim);
}

float **sw_llama_family_ptr(sw_llama_weights_t *w, sw_llama_family_t f) {
  switch (f) {
    case SW_LF_TOKEN_EMBD: return &w->token_embd;
    case SW_LF_OUTPUT_NORM: return &w->output_norm;
    case SW_LF_OUTPUT: return &w->output;
    case SW_LF_ATTN_NORM: return &w->attn_norm;
    case SW_LF_ATTN_Q: return &w->wq;
    case SW_LF_ATTN_K: return &w->wk;
    case SW_LF_ATTN_V: return &w->wv;
    case SW_LF_ATTN_OUT: return &w->wo;
    case SW_LF_FFN_NORM: return &w->ffn_norm;
    case SW_LF_FFN_GATE: return &w->w_gate;
    case SW_LF_FFN_UP: return &w->w_up;
    case SW_LF_FFN_DOWN: return &w->w_down_t;
    default: return NULL;
  }
}

static size_t round_up_floats(size_t n) {
  return (n + SW_LLAMA_ALIGN_FLOATS - 1) / SW_LLAMA_ALIGN_FLOATS * SW_LLAMA_ALIGN_FLOATS;
}

/* One allocation for every family, carved in family order with the sizes from sw_llama_tensor_shape. */
sw_rc sw_llama_weights_alloc(sw_llama_t *m, sw_err_t *err) {
  size_t total = 0, off[SW_LF_COUNT];
  int64_t ne[2];
  for (int f = 0; f < SW_LF_COUNT; f++) {
    off[f] = total;
    total += round_up_floats(sw_llama_tensor_shape(&m->cfg, (sw_llama_family_t)f, ne));
  }
  void *block = NULL;
  if (total > SIZE_MAX / sizeof(float) || posix_memalign(&block, 64, total * sizeof(float)) != 0)
    return sw_err_set(err, SW_ERR_NOMEM, "model: cannot allocate %zu MiB of f32 weights", total * 4 >> 20);
  m->w.block = block;
  m->w.block_bytes = total * sizeof(float);
  for (int f = 0; f < SW_LF_COUNT; f++) *sw_llama_family_ptr(&m->w, (sw_llama_family_t)f) = (float *)block + off[f];
  if (m->cfg.tied_output) m->w.output = m->w.token_embd;
  m->w.ffn = calloc((size_t)m->cfg.n_layer, sizeof *m->w.ffn);
  if (!m->w.ffn) return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory");
  return SW_OK;
}

/* Finds a tensor and checks its shape against the config (message names the tensor and both shapes). */
static sw_rc check_tensor(const sw_llama_t *m, const sw_gguf_t *g, sw_llama_family_t fam, int layer,
                          const sw_gguf_tensor_t **out, sw_err_t *err) {
  char name[96];
  sw_llama_tensor_name(fam, layer, name, sizeof name);
  const sw_gguf_tensor_t *t = sw_gguf_find_tensor(g, name);
  if (!t) return sw_err_set(err, SW_ERR_NOTFOUND, "model: tensor '%s' is missing", name);
  int64_t ne[2];
  sw_llama_tensor_shape(&m->cfg, fam, ne);
  if (t->ne[0] != ne[0] || t->ne[1] != ne[1] || t->ne[2] != 1 || t->ne[3] != 1)
    return sw_err_set(err, SW_ERR_PARSE, "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                      name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                      (long long)ne[0], (long long)ne[1]);
  *out = t;
  return SW_OK;
}

/* Dequantises a checked tensor into dst (transposing ffn_down to neuron-major rows). */
static sw_rc load_tensor(const sw_gguf_tensor_t *t, sw_llama_family_t fam, float *dst, sw_err_t *err) {
  size_t n = (size_t)t->ne[0] * (size_t)t->ne[1];
  if (fam != SW_LF_FFN_DOWN) return sw_dequant_bytes(dst, t->data, t->nbytes, n, t->type, t->name, err);
  float *tmp = malloc(n * sizeof *tmp);
  if (!tmp) return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory transposing '%s'", t->name);
  sw_rc rc = sw_dequant_bytes(tmp, t->data, t->nbytes, n, t->type, t->name, err);
  /* tmp row j (output j) holds ne[0] = d_ff inputs; dst row i (neuron i) holds ne[1] = d_model outputs */
  for (int64_t j = 0; !rc && j < t->ne[1]; j++)
    for (int64_t i = 0; i < t->ne[0]; i++) dst[i * t->ne[1] + j] = tmp[j * t->ne[0] + i];
  free(tmp);
  return rc;
}

void sw_llama_weights_ready(sw_llama_t *m) {
  const sw_llama_config_t *c = &m->cfg;
  size_t per = (size_t)c->d_ff * (size_t)c->d_model;
  for (int l = 0; l < c->n_layer; l++) {
    sw_ffn_weights_t *f = &m->w.ffn[l];
    memset(f, 0, sizeof *f);
    f->d_model = c->d_model;
    f->d_ff = c->d_ff;
    f->gated = 1;
    f->act = c->act;
    f->dtype = SW_DTYPE_F32;
    f->gate = m->w.w_gate + per * (size_t)l;
    f->up = m->w.w_up + per * (size_t)l;
    f->down = m->w.w_down_t + per * (size_t)l;
    f->ld_gate = f->ld_up = f->ld_down = (size_t)c->d_model;
  }
}

sw_rc sw_llama_each_tensor(sw_llama_t *m, int load, sw_llama_tensor_fn fn, void *ctx, sw_err_t *err) {
  sw_rc rc = SW_OK;
  for (int f = 0; !rc && f < SW_LF_COUNT; f++) {
    sw_llama_family_t fam = (sw_llama_family_t)f;
    if (fam == SW_LF_OUTPUT && m->cfg.tied_output) continue;
    int64_t ne[2];
    sw_llama_tensor_shape(&m->cfg, fam, ne);
    size_t per = (size_t)ne[0] * (size_t)ne[1];
    int layers = sw_llama_family_per_layer(fam) ? m->cfg.n_layer : 1;
    for (int l = 0; !rc && l < layers; l++)
      rc = fn(ctx, fam, l, load ? *sw_llama_family_ptr(&m->w, fam) + per * (size_t)l : NULL, err);
  }
  return rc;
}

typedef struct gguf_visit {
  const sw_llama_t *m;
  const sw_gguf_t  *g;
} gguf_visit_t;

/* sw_llama_tensor_fn for a GGUF file: check the tensor, then dequantise it when dst is set. */
static sw_rc gguf_tensor(void *ctx, sw_llama_family_t fam, int layer, float *dst, sw_err_t *err) {
  const gguf_visit_t *v = ctx;
  const sw_gguf_tensor_t *t = NULL;
  sw_rc rc = check_tensor(v->m, v->g, fam, layer, &t, err);
  return !rc && dst ? load_tensor(t, fam, dst, err) : rc;
}

sw_rc sw_llama_load_gguf(sw_llama_t *m, const sw_gguf_t *g, sw_err_t *err) {
  memset(m, 0, sizeof *m);
  sw_rc rc = sw_llama_config_read(&m->cfg, g, err);
  gguf_visit_t visit = {m, g};
  if (!rc) rc = sw_llama_each_tensor(m, 0, gguf_tensor, &visit, err); /* every shape before any allocation */
  if (!rc) rc = sw_llama_weights_alloc(m, err);
  if (!rc) rc = sw_llama_each_tensor(m, 1, gguf_tensor, &visit, err);
  if (!rc) rc = sw_llama_rope_init(m, g, err);
  if (rc) {
    sw_llama_free(m);
    return rc;
  }
  sw_llama_weights_ready(m);
  if ((rc = sw_llama_native_load(m, g, err))) sw_llama_free(m);
  return rc;
}

sw_rc sw_llama_load(sw_llama_t *m, const char *path, sw_err_t *err) {
  if (sw_hf_is_dir(path)) return sw_llama_load_hf(m, path, err);
  sw_gguf_t *g = NULL;
  sw_rc rc = sw_gguf_open(path, &g, err);
  if (rc) return rc;
  rc = sw_llama_load_gguf(m, g, err);
  if (rc) {
    sw_err_prefix(err, "%s", path);
  } else {
    sw_sha256_hex(g->buf, g->len, m->sha256);
    snprintf(m->path, sizeof m->path, "%s", path);
  }
  sw_gguf_close(g);
  return rc;
}

void sw_llama_free(sw_llama_t *m) {
  sw_llama_native_free(m);
  free(m->w.block);
  free(m->w.ffn);
  memset(&m->w, 0, sizeof m->w);
  free(m->rope_inv_freq);
  m->rope_inv_freq = NULL;
}

sw_rc sw_llama_state_init(sw_llama_state_t *s, const sw_llama_t *m, int max_tok, int n_ctx, sw_err_t *err) {
  memset(s, 0, sizeof *s);
  const sw_llama_config_t *c = &m->cfg;
  if (max_tok < 1 || n_ctx < max_tok)
    return sw_err_set(err, SW_ERR_INVALID, "model state: max_tok %d / n_ctx %d invalid", max_tok, n_ctx);
  size_t d = (size_t)c->d_model, qd = (size_t)c->n_head * c->head_dim, kvd = (size_t)c->n_head_kv * c->head_dim;
  s->max_tok = max_tok;
  s->n_ctx = n_ctx;
  s->x = calloc((size_t)max_tok * d, sizeof(float));
  s->xb = calloc((size_t)max_tok * d, sizeof(float));
  s->xb2 = calloc((size_t)max_tok * d, sizeof(float));
  s->q = calloc((size_t)max_tok * qd, sizeof(float));
  s->att = calloc((size_t)max_tok * qd, sizeof(float));
  s->scores = calloc((size_t)n_ctx, sizeof(float));
  s->k_cache = calloc((size_t)c->n_layer * (size_t)n_ctx * kvd, sizeof(float));
  s->v_cache = calloc((size_t)c->n_layer * (size_t)n_ctx * kvd, sizeof(float));
  s->logits = calloc((size_t)max_tok * (size_t)c->vocab, sizeof(float));
  if (!s->x || !s->xb || !s->xb2 || !s->q || !s->att || !s->scores || !s->k_cache || !s->v_cache || !s->logits) {
    sw_llama_state_free(s);
    return sw_err_set(err, SW_ERR_NOMEM, "model state: out of memory (max_tok %d, n_ctx %d)", max_tok, n_ctx);
  }
  s->qctx.isa = sw_isa_best(); /* attention's variant (sw_llama_state_native sets the requested one) */
  sw_rc rc = sw_ffn_work_alloc(&s->work, c->d_model, c->d_ff, max_tok, 1, err);
  if (rc) sw_llama_state_free(s);
  return rc;
}

void sw_llama_state_free(sw_llama_state_t *s) {
  free(s->x);
  free(s->xb);
  free(s->xb2);
  free(s->q);
  free(s->att);
  free(s->scores);
  free(s->k_cache);
  free(s->v_cache);
  free(s->logits);
  if (s->work.f || s->work.i32 || s->work.pool) sw_ffn_work_free(&s->work);
  sw_llama_state_native_free(s);
  memset(s, 0, sizeof *s);
}

void sw_llama_state_reset(sw_llama_state_t *s) { s->pos = 0; }

/* y (n_tok × n_out) = x (n_tok × n_in) · Wᵀ + beta·y, W row-major (n_out × n_in). */
static void linear(float *y, const float *x, const float *w, int n_tok, int n_out, int n_in, float beta) {
  if (n_tok == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n_out, n_in, 1.0f, w, n_in, x, 1, beta, y, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, n_out, n_in, 1.0f, x, n_in, w, n_in, beta, y, n_out);
}

/* linear() on the state's weights: the native matrix of (fam, l) when the state runs native weights and the
 * file's type has a kernel, else the f32 matrix w.  shared_input: x is the input of the previous native
 * projection of this state (already quantised in s->xq). */
static void project(const sw_llama_t *m, sw_llama_state_t *s, sw_llama_family_t fam, int l, float *y, const float *x,
                    const float *w, int n_tok, int n_out, int n_in, float beta, int shared_input) {
  const sw_qmat_t *q = sw_llama_native_mat(m, s, fam, l);
  if (!q) linear(y, x, w, n_tok, n_out, n_in, beta);
  else if (shared_input) sw_qgemm(&s->qctx, y, s->xq, q, n_tok, beta != 0.0f);
  else sw_llama_native_project(s, q, y, x, n_tok, beta != 0.0f);
}

/* out = x / sqrt(mean(x²) + eps) ⊙ weight, per token. */
static void rmsnorm(float *out, const float *x, const float *weight, int n_tok, int d, float eps) {
  for (int t = 0; t < n_tok; t++) {
    const float *xr = x + (size_t)t * d;
    float *o = out + (size_t)t * d;
    double ss = 0;
    for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
    float scale = (float)(1.0 / sqrt(ss / d + eps));
    for (int i = 0; i < d; i++) o[i] = xr[i] * scale * weight[i];
  }
}

/* Adjacent-pair RoPE on n_heads heads of one token at position pos, at the model's rates (sw_llama_rope_rate),
 * the rotated components scaled by sw_llama_rope_attn_scale (YaRN's temperature; 1 otherwise). */
static void rope(const sw_llama_t *m, float *v, int n_heads, int pos) {
  int head_dim = m->cfg.head_dim;
  double mag = sw_llama_rope_attn_scale(m);
  for (int i = 0; i < m->cfg.rope_dim / 2; i++) {
    double ang = (double)pos * sw_llama_rope_rate(m, i);
    float cs = (float)(mag * cos(ang)), sn = (float)(mag * sin(ang));
    for (int h = 0; h < n_heads; h++) {
      float *p = v + (size_t)h * head_dim + 2 * i;
      float a = p[0], b = p[1];
      p[0] = a * cs - b * sn;
      p[1] = a * sn + b * cs;
    }
  }
}

/* Causal GQA attention of n_tok new tokens of layer l over cache positions [0, pos+t] (kernels/sw_attn.h: the
 * state's ISA variant, heads split across its pool). */
static void attention(const sw_llama_t *m, sw_llama_state_t *s, int l, int n_tok) {
  const sw_llama_config_t *c = &m->cfg;
  int hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_head_kv * hd;
  sw_attn_query_t a = {.k = s->k_cache + (size_t)l * s->n_ctx * kvd, .v = s->v_cache + (size_t)l * s->n_ctx * kvd,
                       .stride = (size_t)kvd, .n_head = c->n_head, .group = c->n_head / c->n_head_kv, .hd = hd,
                       .scale = 1.0f / sqrtf((float)hd)};
  for (int t = 0; t < n_tok; t++) {
    a.out = s->att + (size_t)t * qd;
    a.q = s->q + (size_t)t * qd;
    a.n_pos = s->pos + t + 1;
    sw_attn_query(&s->qctx, &a);
  }
}

/* q/k/v projections, RoPE, cache writes, attention and output projection added into x. */
static void attention_block(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *hook, int l, int n_tok) {
  const sw_llama_config_t *c = &m->cfg;
  int d = c->d_model, qd = c->n_head * c->head_dim, kvd = c->n_head_kv * c->head_dim;
  rmsnorm(s->xb, s->x, m->w.attn_norm + (size_t)l * d, n_tok, d, c->rms_eps);
  if (hook && hook->attn_input) hook->attn_input(hook->ctx, l, SW_LLAMA_SITE_QKV, s->xb, n_tok, d);
  float *kc = s->k_cache + ((size_t)l * s->n_ctx + (size_t)s->pos) * kvd;
  float *vc = s->v_cache + ((size_t)l * s->n_ctx + (size_t)s->pos) * kvd;
  const float *xq = s->xb; /* q_input: q reads its own copy (xb2 is free until the FFN) */
  if (hook && hook->q_input) {
    memcpy(s->xb2, s->xb, (size_t)n_tok * d * sizeof(float));
    hook->q_input(hook->ctx, l, s->xb2, n_tok, d);
    xq = s->xb2;
  }
  int q_native = xq == s->xb && sw_llama_native_mat(m, s, SW_LF_ATTN_Q, l) != NULL;
  project(m, s, SW_LF_ATTN_Q, l, s->q, xq, m->w.wq + (size_t)l * qd * d, n_tok, qd, d, 0.0f, 0);
  project(m, s, SW_LF_ATTN_K, l, kc, s->xb, m->w.wk + (size_t)l * kvd * d, n_tok, kvd, d, 0.0f, q_native);
  project(m, s, SW_LF_ATTN_V, l, vc, s->xb, m->w.wv + (size_t)l * kvd * d, n_tok, kvd, d, 0.0f, q_native);
  for (int t = 0; t < n_tok; t++) {
    rope(m, s->q + (size_t)t * qd, c->n_head, s->pos + t);
    rope(m, kc + (size_t)t * kvd, c->n_head_kv, s->pos + t);
  }
  attention(m, s, l, n_tok);
  if (hook && hook->attn_input) hook->attn_input(hook->ctx, l, SW_LLAMA_SITE_O, s->att, n_tok, qd);
  project(m, s, SW_LF_ATTN_OUT, l, s->x, s->att, m->w.wo + (size_t)l * d * qd, n_tok, d, qd, 1.0f, 0);
}

static sw_rc ffn_block(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, int l, int n_tok,
                       sw_err_t *err) {
  const sw_llama_config_t *c = &m->cfg;
  int d = c->d_model;
  rmsnorm(s->xb, s->x, m->w.ffn_norm + (size_t)l * d, n_tok, d, c->rms_eps);
  sw_rc rc = SW_OK;
  if (ffn && ffn->forward) rc = ffn->forward(ffn->ctx, l, s->xb2, s->xb, n_tok, err);
  else if (!sw_llama_native_ffn(m, s, l, s->xb2, s->xb, n_tok))
    rc = sw_ffn_dense_forward(s->xb2, s->xb, &m->w.ffn[l], NULL, &s->work, n_tok);
  if (rc) return err && err->code ? rc : sw_err_set(err, rc, "model: FFN of layer %d failed", l);
  size_t n = (size_t)n_tok * d;
  for (size_t i = 0; i < n; i++) s->x[i] += s->xb2[i];
  return SW_OK;
}

sw_rc sw_llama_forward_layer(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, int l, int n_tok,
                             sw_err_t *err) {
  if (n_tok < 1 || n_tok > s->max_tok || s->pos + n_tok > s->n_ctx || l < 0 || l >= m->cfg.n_layer)
    return sw_err_set(err, SW_ERR_RANGE, "model: layer %d, %d tokens at position %d exceed max_tok %d / n_ctx %d", l,
                      n_tok, s->pos, s->max_tok, s->n_ctx);
  attention_block(m, s, ffn, l, n_tok);
  return ffn_block(m, s, ffn, l, n_tok, err);
}

sw_rc sw_llama_forward(const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn, const int32_t *tokens,
                       int n_tok, int logits_mode, sw_err_t *err) {
  const sw_llama_config_t *c = &m->cfg;
  int d = c->d_model;
  if (n_tok < 1 || n_tok > s->max_tok || s->pos + n_tok > s->n_ctx)
    return sw_err_set(err, SW_ERR_RANGE, "model: %d tokens at position %d exceed max_tok %d / n_ctx %d", n_tok,
                      s->pos, s->max_tok, s->n_ctx);
  for (int t = 0; t < n_tok; t++) {
    if (tokens[t] < 0 || tokens[t] >= c->vocab)
      return sw_err_set(err, SW_ERR_RANGE, "model: token id %d at %d out of range (vocab %d)", tokens[t], t, c->vocab);
    memcpy(s->x + (size_t)t * d, m->w.token_embd + (size_t)tokens[t] * d, (size_t)d * sizeof(float));
  }
  for (int l = 0; l < c->n_layer; l++) {
    sw_rc rc = sw_llama_forward_layer(m, s, ffn, l, n_tok, err);
    if (rc) return rc;
  }
  s->pos += n_tok;
  if (logits_mode == 0) return SW_OK;
  int first = logits_mode == 1 ? n_tok - 1 : 0, rows = n_tok - first;
  rmsnorm(s->xb, s->x + (size_t)first * d, m->w.output_norm, rows, d, c->rms_eps);
  project(m, s, SW_LF_OUTPUT, 0, s->logits, s->xb, m->w.output, rows, c->vocab, d, 0.0f, 0);
  return SW_OK;
}

double sw_llama_ffn_flops_per_token(const sw_llama_config_t *c) {
  return c->n_layer * sw_flops_ffn_dense(c->d_model, c->d_ff, 1, 1);
}

double sw_llama_flops_per_token(const sw_llama_config_t *c, double ctx) {
  double d = c->d_model, qd = (double)c->n_head * c->head_dim, kvd = (double)c->n_head_kv * c->head_dim;
  double proj = 2.0 * d * (qd + 2 * kvd) + 2.0 * qd * d;
  double attn = 2.0 * 2.0 * qd * ctx; /* q·k and the weighted sum of v, per query head dimension */
  return c->n_layer * (proj + attn) + sw_llama_ffn_flops_per_token(c) + 2.0 * d * c->vocab;
}
