/* sw_hf: config.json -> sw_llama_config_t, safetensors shards -> the f32 weight block of models/sw_llama.c
 * (HF names, HF shapes [out, in], q/k rows permuted to GGUF's RoPE pair order, down_proj transposed to
 * neuron-major rows).  Every tensor's name, shape and dtype is checked before the weights are allocated. */
#include "models/sw_hf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/sw_hash.h"
#include "models/sw_safetensors.h"

#define SW_HF_MAX_CONFIG (1u << 20) /* config.json cap, bytes */

static const char *const hf_family_fmt[SW_LF_COUNT] = {
    [SW_LF_TOKEN_EMBD] = "model.embed_tokens.weight",
    [SW_LF_OUTPUT_NORM] = "model.norm.weight",
    [SW_LF_OUTPUT] = "lm_head.weight",
    [SW_LF_ATTN_NORM] = "model.layers.%d.input_layernorm.weight",
    [SW_LF_ATTN_Q] = "model.layers.%d.self_attn.q_proj.weight",
    [SW_LF_ATTN_K] = "model.layers.%d.self_attn.k_proj.weight",
    [SW_LF_ATTN_V] = "model.layers.%d.self_attn.v_proj.weight",
    [SW_LF_ATTN_OUT] = "model.layers.%d.self_attn.o_proj.weight",
    [SW_LF_FFN_NORM] = "model.layers.%d.post_attention_layernorm.weight",
    [SW_LF_FFN_GATE] = "model.layers.%d.mlp.gate_proj.weight",
    [SW_LF_FFN_UP] = "model.layers.%d.mlp.up_proj.weight",
    [SW_LF_FFN_DOWN] = "model.layers.%d.mlp.down_proj.weight",
};

int sw_hf_is_dir(const char *path) {
  struct stat sb;
  return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void hf_tensor_name(sw_llama_family_t fam, int layer, char *buf, size_t len) {
  if (sw_llama_family_per_layer(fam)) snprintf(buf, len, hf_family_fmt[fam], layer);
  else snprintf(buf, len, "%s", hf_family_fmt[fam]);
}

/* An integer key in 1..max; def < 0 means required. */
static sw_rc hf_int(const sw_json_t *j, const char *what, const char *key, int64_t def, int64_t max, int *out,
                    sw_err_t *err) {
  const sw_json_t *v = sw_json_get(j, key);
  if (!v && def < 0) return sw_err_set(err, SW_ERR_NOTFOUND, "%s: required key '%s' is missing", what, key);
  int64_t x = def;
  if (v && (v->kind != SW_JSON_NUMBER || !v->is_integer))
    return sw_err_set(err, SW_ERR_PARSE, "%s: '%s' must be an integer", what, key);
  if (v) x = v->integer;
  if (x < 1 || x > max)
    return sw_err_set(err, SW_ERR_RANGE, "%s: '%s' = %lld is not in 1..%lld", what, key, (long long)x, (long long)max);
  *out = (int)x;
  return SW_OK;
}

static sw_rc hf_real(const sw_json_t *j, const char *what, const char *key, double def, float *out, sw_err_t *err) {
  const sw_json_t *v = sw_json_get(j, key);
  if (v && v->kind != SW_JSON_NUMBER) return sw_err_set(err, SW_ERR_PARSE, "%s: '%s' must be a number", what, key);
  double x = v ? v->number : def;
  if (!(x > 0) || !isfinite(x) || !isfinite((float)x) || (float)x == 0.0f)
    return sw_err_set(err, SW_ERR_RANGE, "%s: '%s' = %g must be a positive float", what, key, x);
  *out = (float)x;
  return SW_OK;
}

static sw_rc hf_bool(const sw_json_t *j, const char *what, const char *key, int def, int *out, sw_err_t *err) {
  const sw_json_t *v = sw_json_get(j, key);
  if (v && v->kind != SW_JSON_BOOL) return sw_err_set(err, SW_ERR_PARSE, "%s: '%s' must be true or false", what, key);
  *out = v ? v->boolean : def;
  return SW_OK;
}

/* model_type (or architectures[0]) must be llama-family; the forward has SiLU and no biases. */
static sw_rc hf_check_supported(const sw_json_t *j, const char *what, sw_err_t *err) {
  const sw_json_t *mt = sw_json_get(j, "model_type"), *arch = sw_json_get(j, "architectures");
  const char *type = mt && mt->kind == SW_JSON_STRING ? mt->string : NULL;
  if (!type && arch && arch->kind == SW_JSON_ARRAY && arch->count && arch->items[0].kind == SW_JSON_STRING)
    type = arch->items[0].string;
  if (!type) return sw_err_set(err, SW_ERR_PARSE, "%s: neither 'model_type' nor 'architectures' names the model", what);
  if (strcmp(type, "llama") && strcmp(type, "mistral") && strcmp(type, "LlamaForCausalLM") &&
      strcmp(type, "MistralForCausalLM"))
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: architecture '%.80s' is not supported (llama, mistral)", what, type);
  const char *act = NULL;
  sw_rc rc = sw_json_get_str(j, "hidden_act", "silu", &act, err);
  if (rc) return sw_err_prefix(err, "%s", what);
  if (strcmp(act, "silu") != 0)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: hidden_act '%.40s' is not supported (silu)", what, act);
  static const char *const bias_keys[] = {"attention_bias", "mlp_bias"};
  for (size_t i = 0; i < 2; i++) {
    int bias = 0;
    if ((rc = hf_bool(j, what, bias_keys[i], 0, &bias, err))) return rc;
    if (bias) return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: '%s' = true is not supported (no biases)", what, bias_keys[i]);
  }
  return SW_OK;
}

/* rope_scaling's yarn fields (transformers' names): factor, original_max_position_embeddings (default
 * max_position_embeddings), attention_factor (replaces the paper's 0.1 ln(factor) + 1 when given), beta_fast (32),
 * beta_slow (1).  DeepSeek's mscale / mscale_all_dim variant and truncate: false are refused naming the key. */
static sw_rc hf_rope_yarn(sw_llama_config_t *c, const sw_json_t *s, const char *what, sw_err_t *err) {
  static const char *const refused[] = {"mscale", "mscale_all_dim"};
  for (size_t i = 0; i < 2; i++)
    if (sw_json_get(s, refused[i]))
      return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: '%s' is not supported for yarn", what, refused[i]);
  int truncate = 1;
  float attn = 0;
  sw_rc rc = hf_bool(s, what, "truncate", 1, &truncate, err);
  if (!rc && !truncate) return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: 'truncate' = false is not supported", what);
  c->rope_scaling = SW_ROPE_SCALING_YARN;
  if (!rc) rc = hf_real(s, what, "factor", 1.0, &c->rope_scale_factor, err);
  if (!rc) rc = hf_int(s, what, "original_max_position_embeddings", c->n_ctx_train, 1 << 24, &c->rope_orig_ctx, err);
  if (!rc) rc = hf_real(s, what, "beta_fast", 32.0, &c->rope_beta_fast, err);
  if (!rc) rc = hf_real(s, what, "beta_slow", 1.0, &c->rope_beta_slow, err);
  if (!rc) rc = hf_real(s, what, "attention_factor", sw_llama_yarn_mscale(c->rope_scale_factor), &attn, err);
  if (rc) return rc;
  if (!(c->rope_beta_fast > c->rope_beta_slow) || !(c->rope_theta > 1.0f))
    return sw_err_set(err, SW_ERR_RANGE, "%s: beta_fast %g must exceed beta_slow %g and rope_theta %g exceed 1", what,
                      c->rope_beta_fast, c->rope_beta_slow, c->rope_theta);
  c->rope_attn_scale = attn;
  return SW_OK;
}

/* rope_scaling (null or absent: none) -> the config's scaling fields, as the GGUF path reads them
 * (models/sw_llama.c): rope_type (or the older type) linear, llama3 or yarn; any other is refused naming it. */
static sw_rc hf_rope_scaling(sw_llama_config_t *c, const sw_json_t *j, const char *file, sw_err_t *err) {
  const sw_json_t *s = sw_json_get(j, "rope_scaling");
  c->rope_scaling = SW_ROPE_SCALING_NONE;
  c->rope_attn_scale = 1.0f;
  if (!s || s->kind == SW_JSON_NULL) return SW_OK;
  char what[4300];
  snprintf(what, sizeof what, "%s: rope_scaling", file);
  if (s->kind != SW_JSON_OBJECT) return sw_err_set(err, SW_ERR_PARSE, "%s is not an object", what);
  const char *type = NULL;
  sw_rc rc = sw_json_get_str(s, "rope_type", NULL, &type, err);
  if (!rc && !type) rc = sw_json_get_str(s, "type", NULL, &type, err);
  if (rc) return sw_err_prefix(err, "%s", what);
  if (!type) return sw_err_set(err, SW_ERR_PARSE, "%s: 'rope_type' is missing", what);
  if (strcmp(type, "default") == 0) return SW_OK;
  if (strcmp(type, "linear") == 0) {
    c->rope_scaling = SW_ROPE_SCALING_LINEAR;
    return hf_real(s, what, "factor", 1.0, &c->rope_scale_factor, err);
  }
  if (strcmp(type, "yarn") == 0) return hf_rope_yarn(c, s, what, err);
  if (strcmp(type, "llama3") != 0)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: rope_type '%.40s' is not supported (default, linear, llama3, yarn)",
                      what, type);
  c->rope_scaling = SW_ROPE_SCALING_LLAMA3; /* transformers requires every field; the defaults are Llama 3.1's */
  if ((rc = hf_real(s, what, "factor", 8.0, &c->rope_scale_factor, err)) ||
      (rc = hf_real(s, what, "low_freq_factor", 1.0, &c->rope_low_freq_factor, err)) ||
      (rc = hf_real(s, what, "high_freq_factor", 4.0, &c->rope_high_freq_factor, err)) ||
      (rc = hf_int(s, what, "original_max_position_embeddings", 8192, 1 << 24, &c->rope_orig_ctx, err)))
    return rc;
  if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
    return sw_err_set(err, SW_ERR_RANGE, "%s: high_freq_factor %g must exceed low_freq_factor %g", what,
                      c->rope_high_freq_factor, c->rope_low_freq_factor);
  return SW_OK;
}

sw_rc sw_hf_config_read(sw_llama_config_t *c, const sw_json_t *j, const char *what, sw_err_t *err) {
  memset(c, 0, sizeof *c);
  if (j->kind != SW_JSON_OBJECT) return sw_err_set(err, SW_ERR_PARSE, "%s: not a JSON object", what);
  sw_rc rc = hf_check_supported(j, what, err);
  if (!rc) rc = hf_int(j, what, "num_hidden_layers", -1, SW_LLAMA_MAX_LAYERS, &c->n_layer, err);
  if (!rc) rc = hf_int(j, what, "hidden_size", -1, SW_LLAMA_MAX_DIM, &c->d_model, err);
  if (!rc) rc = hf_int(j, what, "intermediate_size", -1, SW_LLAMA_MAX_DIM, &c->d_ff, err);
  if (!rc) rc = hf_int(j, what, "num_attention_heads", -1, SW_LLAMA_MAX_DIM, &c->n_head, err);
  if (!rc) rc = hf_int(j, what, "num_key_value_heads", c->n_head, c->n_head, &c->n_head_kv, err);
  if (!rc) rc = hf_int(j, what, "vocab_size", -1, SW_LLAMA_MAX_VOCAB, &c->vocab, err);
  if (!rc) rc = hf_int(j, what, "max_position_embeddings", 2048, 1 << 24, &c->n_ctx_train, err);
  if (!rc) rc = hf_real(j, what, "rope_theta", 10000.0, &c->rope_theta, err);
  if (!rc) rc = hf_real(j, what, "rms_norm_eps", 1e-6, &c->rms_eps, err); /* HF LlamaConfig's default */
  if (!rc) rc = hf_bool(j, what, "tie_word_embeddings", 0, &c->tied_output, err);
  if (rc) return rc;
  if (c->d_model % c->n_head || c->n_head % c->n_head_kv)
    return sw_err_set(err, SW_ERR_RANGE, "%s: hidden_size %d / num_attention_heads %d / num_key_value_heads %d do not "
                      "divide", what, c->d_model, c->n_head, c->n_head_kv);
  c->head_dim = c->rope_dim = c->d_model / c->n_head;
  c->act = SW_ACT_SILU; /* hidden_act silu, checked above: a SwiGLU FFN as in the GGUF path (models/sw_llama.c) */
  int head_dim = c->head_dim;
  if ((rc = hf_int(j, what, "head_dim", c->head_dim, SW_LLAMA_MAX_DIM, &head_dim, err))) return rc;
  if (head_dim != c->head_dim || c->head_dim % 2)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: head_dim %d must be even and equal hidden_size / "
                      "num_attention_heads = %d", what, head_dim, c->head_dim);
  return hf_rope_scaling(c, j, what, err);
}

/* Finds the tensor of (fam, layer) and checks dtype and HF shape ([out, in], or [n] for norms). */
static sw_rc hf_check_tensor(const sw_st_t *st, const sw_llama_config_t *cfg, sw_llama_family_t fam, int layer,
                             const char *dir, const sw_st_tensor_t **out, sw_err_t *err) {
  char name[128];
  hf_tensor_name(fam, layer, name, sizeof name);
  const sw_st_tensor_t *t = sw_st_find(st, name);
  if (!t) return sw_err_set(err, SW_ERR_NOTFOUND, "%s: tensor '%s' is missing from the checkpoint", dir, name);
  int64_t ne[2];
  sw_llama_tensor_shape(cfg, fam, ne);
  int vector = ne[1] == 1 && (fam == SW_LF_OUTPUT_NORM || fam == SW_LF_ATTN_NORM || fam == SW_LF_FFN_NORM);
  int ok = vector ? t->n_dims == 1 && t->shape[0] == ne[0] : t->n_dims == 2 && t->shape[0] == ne[1] && t->shape[1] == ne[0];
  if (!ok)
    return sw_err_set(err, SW_ERR_PARSE, "%s: tensor '%s' has %d dims [%lld, %lld, ...], expected [%lld%s%lld]",
                      st->shards[t->shard].path, name, t->n_dims, (long long)(t->n_dims > 0 ? t->shape[0] : 0),
                      (long long)(t->n_dims > 1 ? t->shape[1] : 0), (long long)(vector ? ne[0] : ne[1]),
                      vector ? "" : ", ", vector ? 0LL : (long long)ne[0]);
  if (t->dtype != SW_ST_F32 && t->dtype != SW_ST_F16 && t->dtype != SW_ST_BF16)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)",
                      st->shards[t->shard].path, name, sw_st_dtype_name(t->dtype));
  *out = t;
  return SW_OK;
}

/* HF rotate-half rows -> GGUF adjacent-pair rows, per head: dst row 2i+j = src row j*half+i. */
static void permute_rope_rows(float *dst, const float *src, int n_heads, int head_dim, int width) {
  int half = head_dim / 2;
  for (int h = 0; h < n_heads; h++)
    for (int i = 0; i < half; i++)
      for (int j = 0; j < 2; j++)
        memcpy(dst + ((size_t)h * head_dim + 2 * i + j) * width, src + ((size_t)h * head_dim + j * half + i) * width,
               (size_t)width * sizeof *dst);
}

static sw_rc hf_load_tensor(const sw_st_t *st, const sw_llama_config_t *c, const sw_st_tensor_t *t,
                            sw_llama_family_t fam, float *dst, sw_err_t *err) {
  size_t n = (size_t)t->n_elements;
  if (fam != SW_LF_ATTN_Q && fam != SW_LF_ATTN_K && fam != SW_LF_FFN_DOWN) return sw_st_to_f32(st, t, dst, err);
  float *tmp = malloc(n * sizeof *tmp);
  if (!tmp) return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory converting '%s'", t->name);
  sw_rc rc = sw_st_to_f32(st, t, tmp, err);
  if (!rc && fam == SW_LF_FFN_DOWN) { /* HF (d_model, d_ff) -> neuron-major (d_ff, d_model) */
    for (int64_t j = 0; j < t->shape[0]; j++)
      for (int64_t i = 0; i < t->shape[1]; i++) dst[i * t->shape[0] + j] = tmp[j * t->shape[1] + i];
  } else if (!rc) {
    permute_rope_rows(dst, tmp, fam == SW_LF_ATTN_Q ? c->n_head : c->n_head_kv, c->head_dim, c->d_model);
  }
  free(tmp);
  return rc;
}

typedef struct hf_visit {
  const sw_llama_config_t *cfg;
  const sw_st_t           *st;
  const char              *dir;
} hf_visit_t;

/* sw_llama_tensor_fn for a checkpoint: check the tensor, then convert it when dst is set. */
static sw_rc hf_tensor(void *ctx, sw_llama_family_t fam, int layer, float *dst, sw_err_t *err) {
  const hf_visit_t *v = ctx;
  const sw_st_tensor_t *t = NULL;
  sw_rc rc = hf_check_tensor(v->st, v->cfg, fam, layer, v->dir, &t, err);
  return !rc && dst ? hf_load_tensor(v->st, v->cfg, t, fam, dst, err) : rc;
}

sw_rc sw_hf_read_json(const char *dir, const char *name, size_t cap, sw_json_t **out, char *sha256, sw_err_t *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return sw_st_read_json(path, cap, out, sha256, err);
}

void sw_hf_manifest_sha256(const char *config_sha, const sw_st_t *st, char out[65]) {
  sw_sha256_t h;
  sw_sha256_init(&h);
  char line[4200];
  int n = snprintf(line, sizeof line, "%s  config.json\n", config_sha);
  sw_sha256_update(&h, line, (size_t)n);
  for (size_t i = 0; i < st->n_shards; i++) {
    const char *base = strrchr(st->shards[i].path, '/');
    n = snprintf(line, sizeof line, "%s  %s\n", st->shards[i].sha256, base ? base + 1 : st->shards[i].path);
    sw_sha256_update(&h, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  }
  uint8_t d[32];
  sw_sha256_final(&h, d);
  sw_digest_hex(d, out);
}

static sw_rc hf_check_vocab(const sw_llama_config_t *c, const sw_st_t *st, sw_err_t *err) {
  const sw_st_tensor_t *e = sw_st_find(st, hf_family_fmt[SW_LF_TOKEN_EMBD]);
  if (e && e->n_dims == 2 && e->shape[0] != c->vocab)
    return sw_err_set(err, SW_ERR_PARSE, "%s: '%s' has %lld rows but config.json vocab_size is %d",
                      st->shards[e->shard].path, e->name, (long long)e->shape[0], c->vocab);
  return SW_OK;
}

sw_rc sw_llama_load_hf(sw_llama_t *m, const char *dir, sw_err_t *err) {
  memset(m, 0, sizeof *m);
  sw_json_t *config = NULL;
  sw_st_t *st = NULL;
  char config_sha[65], what[4200];
  snprintf(what, sizeof what, "%s/config.json", dir);
  sw_rc rc = sw_hf_read_json(dir, "config.json", SW_HF_MAX_CONFIG, &config, config_sha, err);
  if (!rc) rc = sw_hf_config_read(&m->cfg, config, what, err);
  sw_json_free(config);
  if (!rc) rc = sw_st_open_dir(dir, &st, err);
  if (!rc) rc = hf_check_vocab(&m->cfg, st, err);
  hf_visit_t visit = {&m->cfg, st, dir};
  if (!rc) rc = sw_llama_each_tensor(m, 0, hf_tensor, &visit, err); /* every name, shape, dtype before allocating */
  if (!rc) rc = sw_llama_weights_alloc(m, err);
  if (!rc) rc = sw_llama_each_tensor(m, 1, hf_tensor, &visit, err);
  if (!rc) rc = sw_llama_rope_init(m, NULL, err);
  if (!rc) {
    sw_llama_weights_ready(m);
    sw_st_hash_shards(st);
    sw_hf_manifest_sha256(config_sha, st, m->sha256);
    snprintf(m->path, sizeof m->path, "%s", dir);
  } else {
    sw_llama_free(m);
  }
  sw_st_close(st);
  return rc;
}
