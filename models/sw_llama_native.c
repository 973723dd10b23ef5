/* sw_llama_native: the model on its file's own quantisation (weights: native).  At load, the raw blocks of
 * every projection matrix (q, k, v, o, gate, up, down, output) whose type has a kernel in kernels/sw_quant.h
 * are copied once into one allocation, in GGUF orientation.  A native forward quantises each projection
 * input to 8-bit blocks and multiplies with the integer block kernels; prefill uses the same kernel per
 * token over row tiles (sw_qgemm), so a token's logits do not depend on how it was batched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_pool.h"
#include "kernels/sw_qpack.h"
#include "models/sw_llama.h"
#include "models/sw_llama_native.h"

static const sw_llama_family_t k_native_families[] = {SW_LF_ATTN_Q,   SW_LF_ATTN_K,  SW_LF_ATTN_V,
                                                      SW_LF_ATTN_OUT, SW_LF_FFN_GATE, SW_LF_FFN_UP,
                                                      SW_LF_FFN_DOWN, SW_LF_OUTPUT};
#define N_NATIVE_FAMILIES (sizeof k_native_families / sizeof k_native_families[0])

const char *sw_llama_weights_name(sw_llama_weights_kind_t k) { return k == SW_LLAMA_WEIGHTS_NATIVE ? "native" : "f32"; }

sw_rc sw_llama_weights_parse(const char *text, sw_llama_weights_kind_t *out, sw_err_t *err) {
  if (text && strcmp(text, "f32") == 0) *out = SW_LLAMA_WEIGHTS_F32;
  else if (text && strcmp(text, "native") == 0) *out = SW_LLAMA_WEIGHTS_NATIVE;
  else return sw_err_set(err, SW_ERR_PARSE, "weights '%s': expected f32 or native", text ? text : "(null)");
  return SW_OK;
}

/* The GGUF tensor of a native family in a layer (the tied output reads token_embd). */
static const sw_gguf_tensor_t *native_tensor(const sw_llama_t *m, const sw_gguf_t *g, sw_llama_family_t fam, int l) {
  char name[96];
  sw_llama_family_t src = fam == SW_LF_OUTPUT && m->cfg.tied_output ? SW_LF_TOKEN_EMBD : fam;
  sw_llama_tensor_name(src, l, name, sizeof name);
  return sw_gguf_find_tensor(g, name);
}

static int family_layers(const sw_llama_t *m, sw_llama_family_t fam) { return fam == SW_LF_OUTPUT ? 1 : m->cfg.n_layer; }

/* Visits every native matrix: sizes (copy == 0) or copies the blocks and sets the views (copy == 1). */
static size_t native_each(sw_llama_t *m, const sw_gguf_t *g, int copy) {
  size_t off = 0;
  for (size_t f = 0; f < N_NATIVE_FAMILIES; f++) {
    sw_llama_family_t fam = k_native_families[f];
    for (int l = 0; l < family_layers(m, fam); l++) {
      const sw_gguf_tensor_t *t = native_tensor(m, g, fam, l);
      if (!t || !sw_qtype_supported(t->type) || t->ne[0] % SW_QBLOCK) {
        m->q.n_fallback += copy;
        continue;
      }
      if (copy) {
        uint8_t *dst = (uint8_t *)m->q.block + off;
        memcpy(dst, t->data, t->nbytes);
        (void)sw_qmat_view(&m->q.mats[(size_t)fam * m->cfg.n_layer + l], t->type, (int)t->ne[1], (int)t->ne[0], dst,
                           t->name, NULL);
        m->q.n_native++;
      }
      off += (t->nbytes + 63) / 64 * 64;
    }
  }
  return off;
}

/* Neuron-major Q8_0 down rows of every layer whose gate and up are native (sparse FFN on native weights). */
static sw_rc native_down_t(sw_llama_t *m, sw_err_t *err) {
  const sw_llama_config_t *c = &m->cfg;
  size_t rb = (size_t)(c->d_model / SW_QBLOCK) * sw_qtype_block_bytes(SW_QTYPE_Q8_0), per = rb * (size_t)c->d_ff;
  m->q.down_t = calloc((size_t)c->n_layer, sizeof *m->q.down_t);
  if (!m->q.down_t || posix_memalign(&m->q.down_t_block, 64, per * (size_t)c->n_layer) != 0)
    return sw_err_set(err, SW_ERR_NOMEM, "model: cannot allocate the native down rows");
  for (int l = 0; l < c->n_layer; l++) {
    if (!m->q.mats[(size_t)SW_LF_FFN_GATE * c->n_layer + l].data || !m->q.mats[(size_t)SW_LF_FFN_UP * c->n_layer + l].data)
      continue;
    uint8_t *dst = (uint8_t *)m->q.down_t_block + per * (size_t)l;
    const float *src = m->w.w_down_t + (size_t)l * c->d_ff * c->d_model;
    for (int i = 0; i < c->d_ff; i++) sw_q8_0_quantize_row(dst + rb * (size_t)i, src + (size_t)i * c->d_model, c->d_model);
    (void)sw_qmat_view(&m->q.down_t[l], SW_QTYPE_Q8_0, c->d_ff, c->d_model, dst, "down_t", NULL);
  }
  return SW_OK;
}

/* Row-interleaved copies of every native matrix (kernels/sw_qpack.h): the dense GEMV/GEMM of decode and prefill
 * read them; the sparse methods' gathered rows keep reading the file's row-major blocks. */
/* Bytes of a matrix's packed copy in the shared block (rounded to cache lines; 0 without native blocks). */
static size_t pack_slot_bytes(const sw_qmat_t *q) {
  return q->data ? (sw_qpack_bytes(q->type, q->rows, q->cols) + 63) / 64 * 64 : 0;
}

static sw_rc native_pack(sw_llama_t *m, sw_err_t *err) {
  size_t n = (size_t)SW_LF_COUNT * (size_t)m->cfg.n_layer, bytes = 0;
  for (size_t i = 0; i < n; i++) bytes += pack_slot_bytes(&m->q.mats[i]);
  m->q.packs = calloc(n, sizeof *m->q.packs);
  if (!m->q.packs || (bytes && posix_memalign(&m->q.pack_block, 64, bytes) != 0))
    return sw_err_set(err, SW_ERR_NOMEM, "model: cannot allocate %zu MiB of packed native weights", bytes >> 20);
  uint8_t *dst = m->q.pack_block;
  for (size_t i = 0; i < n; i++) {
    sw_qmat_t *q = &m->q.mats[i];
    if (!q->data) continue;
    sw_qpack_into(&m->q.packs[i], q, dst);
    q->packed = &m->q.packs[i];
    dst += pack_slot_bytes(q);
  }
  return SW_OK;
}

sw_rc sw_llama_native_load(sw_llama_t *m, const sw_gguf_t *g, sw_err_t *err) {
  memset(&m->q, 0, sizeof m->q);
  size_t bytes = native_each(m, g, 0);
  m->q.mats = calloc((size_t)SW_LF_COUNT * (size_t)m->cfg.n_layer, sizeof *m->q.mats);
  if (!m->q.mats || (bytes && posix_memalign(&m->q.block, 64, bytes) != 0))
    return sw_err_set(err, SW_ERR_NOMEM, "model: cannot allocate %zu MiB of native weights", bytes >> 20);
  m->q.block_bytes = bytes;
  native_each(m, g, 1);
  sw_rc rc = native_pack(m, err);
  if (rc) return rc;
  return m->cfg.d_model % SW_QBLOCK ? SW_OK : native_down_t(m, err);
}

void sw_llama_native_free(sw_llama_t *m) {
  free(m->q.down_t);
  free(m->q.down_t_block);
  free(m->q.packs);
  free(m->q.pack_block);
  free(m->q.mats);
  free(m->q.block);
  memset(&m->q, 0, sizeof m->q);
}

const sw_qmat_t *sw_llama_native_mat(const sw_llama_t *m, const sw_llama_state_t *s, sw_llama_family_t fam, int l) {
  if (s->weights != SW_LLAMA_WEIGHTS_NATIVE || !m->q.mats) return NULL;
  const sw_qmat_t *q = &m->q.mats[(size_t)fam * m->cfg.n_layer + (fam == SW_LF_OUTPUT ? 0 : l)];
  return q->data ? q : NULL;
}

static size_t widest_input(const sw_llama_config_t *c) {
  size_t w = (size_t)c->d_model, qd = (size_t)c->n_head * c->head_dim;
  if (qd > w) w = qd;
  return (size_t)c->d_ff > w ? (size_t)c->d_ff : w;
}

sw_rc sw_llama_state_native(sw_llama_state_t *s, const sw_llama_t *m, int n_threads, sw_isa_t isa, sw_err_t *err) {
  if (n_threads < 1 || n_threads > 256) return sw_err_set(err, SW_ERR_RANGE, "model: native threads %d", n_threads);
  sw_llama_state_native_free(s);
  sw_rc rc = sw_isa_resolve(isa, &s->qctx.isa, err);
  if (rc) return rc;
  if (n_threads > 1 && (rc = sw_pool_create(&s->qctx.pool, n_threads, err))) return rc;
  size_t mt = (size_t)s->max_tok, ff = (size_t)m->cfg.d_ff;
  s->xq = malloc(mt * (widest_input(&m->cfg) / SW_QBLOCK + 1) * sizeof *s->xq);
  s->ffn_g = malloc(mt * ff * sizeof(float));
  s->ffn_u = malloc(mt * ff * sizeof(float));
  if (!s->xq || !s->ffn_g || !s->ffn_u) {
    sw_llama_state_native_free(s);
    return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory for native scratch");
  }
  s->weights = SW_LLAMA_WEIGHTS_NATIVE;
  return SW_OK;
}

void sw_llama_state_native_free(sw_llama_state_t *s) {
  sw_pool_destroy(s->qctx.pool);
  free(s->xq);
  free(s->ffn_g);
  free(s->ffn_u);
  s->qctx.pool = NULL;
  s->xq = NULL;
  s->ffn_g = s->ffn_u = NULL;
  s->weights = SW_LLAMA_WEIGHTS_F32;
}

void sw_llama_native_project(sw_llama_state_t *s, const sw_qmat_t *W, float *y, const float *x, int n_tok,
                             int accumulate) {
  int nb = W->cols / SW_QBLOCK;
  for (int t = 0; t < n_tok; t++) sw_q8a_quantize(s->xq + (size_t)t * nb, x + (size_t)t * W->cols, W->cols);
  sw_qgemm(&s->qctx, y, s->xq, W, n_tok, accumulate);
}

int sw_llama_native_ffn(const sw_llama_t *m, sw_llama_state_t *s, int l, float *out, const float *x, int n_tok) {
  const sw_qmat_t *gate = sw_llama_native_mat(m, s, SW_LF_FFN_GATE, l), *up = sw_llama_native_mat(m, s, SW_LF_FFN_UP, l);
  const sw_qmat_t *down = sw_llama_native_mat(m, s, SW_LF_FFN_DOWN, l);
  if (!gate || !up || !down) return 0;
  sw_llama_native_project(s, gate, s->ffn_g, x, n_tok, 0);
  sw_qgemm(&s->qctx, s->ffn_u, s->xq, up, n_tok, 0); /* same quantised input as gate */
  size_t n = (size_t)n_tok * (size_t)m->cfg.d_ff;
  sw_act_apply_gated(s->ffn_g, s->ffn_g, s->ffn_u, m->cfg.act, 0.0f, n);
  sw_llama_native_project(s, down, out, s->ffn_g, n_tok, 0);
  return 1;
}
