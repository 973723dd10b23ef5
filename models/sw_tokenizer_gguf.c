/* sw_tokenizer_gguf: builds a tokenizer from a GGUF file's tokenizer.ggml.* metadata (docs/models.md §2): model "gpt2"
 * (tokens, merges, pre) or "llama" (tokens, scores, add_space_prefix), token_type, unknown_token_id. */
#include <stdlib.h>
#include <string.h>

#include "models/sw_gguf.h"
#include "models/sw_tokenizer.h"
#include "models/sw_tokenizer_gguf.h"

static sw_rc gguf_token_types(const sw_gguf_t *g, size_t n_tokens, int32_t **types, sw_err_t *err) {
  *types = NULL;
  if (sw_gguf_find_key(g, "tokenizer.ggml.token_type") < 0) return SW_OK;
  size_t count = 0;
  int64_t *raw = malloc(n_tokens * sizeof *raw);
  if (!raw) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  sw_rc rc = sw_gguf_get_arr_int(g, "tokenizer.ggml.token_type", raw, n_tokens, &count, err);
  if (!rc && count != n_tokens)
    rc = sw_err_set(err, SW_ERR_PARSE, "gguf: tokenizer.ggml.token_type has %zu entries for %zu tokens", count,
                    n_tokens);
  if (!rc) {
    *types = malloc(n_tokens * sizeof **types);
    if (!*types) rc = sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; !rc && i < n_tokens; i++) (*types)[i] = (int32_t)raw[i];
  }
  free(raw);
  return rc;
}

/* Splits an array of string views into the parallel pointer/length arrays the tokenizer takes. */
static sw_rc views_to_arrays(const sw_gguf_str_t *v, size_t n, const char ***ptrs, size_t **lens, sw_err_t *err) {
  *ptrs = malloc((n ? n : 1) * sizeof **ptrs);
  *lens = malloc((n ? n : 1) * sizeof **lens);
  if (!*ptrs || !*lens) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  for (size_t i = 0; i < n; i++) {
    (*ptrs)[i] = v[i].ptr;
    (*lens)[i] = v[i].len;
  }
  return SW_OK;
}

/* tokenizer.ggml.scores as floats, one per token (SentencePiece). */
static sw_rc gguf_scores(const sw_gguf_t *g, size_t n_tokens, float **scores, sw_err_t *err) {
  size_t count = 0;
  *scores = malloc((n_tokens ? n_tokens : 1) * sizeof **scores);
  if (!*scores) return sw_err_set(err, SW_ERR_NOMEM, "tokenizer: out of memory");
  sw_rc rc = sw_gguf_get_arr_float(g, "tokenizer.ggml.scores", *scores, n_tokens, &count, err);
  if (!rc && count != n_tokens)
    rc = sw_err_set(err, SW_ERR_PARSE, "gguf: tokenizer.ggml.scores has %zu entries for %zu tokens", count, n_tokens);
  return rc;
}

/* The tokenizer kind: "gpt2" (byte-level BPE with merges) or "llama" (SentencePiece BPE with scores). */
static sw_rc gguf_model_kind(const sw_gguf_t *g, int *spm, sw_err_t *err) {
  const char *model = NULL;
  sw_rc rc = sw_gguf_get_str(g, "tokenizer.ggml.model", &model, NULL, err);
  if (rc) return rc;
  if (strcmp(model, "gpt2") == 0) *spm = 0;
  else if (strcmp(model, "llama") == 0) *spm = 1;
  else
    return sw_err_set(err, SW_ERR_UNSUPPORTED,
                      "gguf: tokenizer.ggml.model '%s' is not supported (gpt2 byte-level BPE, llama SentencePiece BPE)",
                      model);
  return SW_OK;
}

/* Whether the model expects a BOS token: tokenizer.ggml.add_bos_token, by default (absent) llama.cpp's choice for
 * the vocabulary (SentencePiece and Llama 3's llama-bpe: yes when the file names tokenizer.ggml.bos_token_id;
 * other byte-level BPE: no).  add_bos_token true without an id is an error naming the keys. */
static sw_rc gguf_bos(const sw_gguf_t *g, sw_vocab_spec_t *spec, sw_err_t *err) {
  const char *pre = spec->pre ? spec->pre : "gpt2";
  int add = spec->spm || !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "llama-v3");
  int64_t id = -1;
  sw_rc rc = SW_OK;
  int has_id = sw_gguf_find_key(g, "tokenizer.ggml.bos_token_id") >= 0;
  if (sw_gguf_find_key(g, "tokenizer.ggml.add_bos_token") < 0) add = add && has_id; /* a default needs an id */
  else rc = sw_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add, err);
  if (!rc && add && !has_id)
    return sw_err_set(err, SW_ERR_NOTFOUND, "gguf: tokenizer.ggml.add_bos_token is true but "
                      "tokenizer.ggml.bos_token_id is missing");
  if (!rc && add) rc = sw_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &id, err);
  if (!rc && add && (id < 0 || id >= (int64_t)spec->n_tokens))
    return sw_err_set(err, SW_ERR_RANGE, "gguf: tokenizer.ggml.bos_token_id %lld is outside the vocabulary of %zu",
                      (long long)id, spec->n_tokens);
  spec->add_bos = add;
  spec->bos_id = (int32_t)id;
  return rc;
}

/* Optional keys: the pre-tokenizer name, the unknown token and (SentencePiece) the space prefix flag. */
static sw_rc gguf_options(const sw_gguf_t *g, sw_vocab_spec_t *spec, sw_err_t *err) {
  sw_rc rc = SW_OK;
  int64_t unk = -1;
  int prefix = 1; /* llama.cpp's default for SentencePiece vocabularies */
  spec->pre = "gpt2";
  if (sw_gguf_find_key(g, "tokenizer.ggml.pre") >= 0) rc = sw_gguf_get_str(g, "tokenizer.ggml.pre", &spec->pre, NULL, err);
  if (!rc && sw_gguf_find_key(g, "tokenizer.ggml.unknown_token_id") >= 0)
    rc = sw_gguf_get_int(g, "tokenizer.ggml.unknown_token_id", &unk, err);
  if (!rc && sw_gguf_find_key(g, "tokenizer.ggml.add_space_prefix") >= 0)
    rc = sw_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &prefix, err);
  spec->unk_id = unk >= 0 && unk < (int64_t)spec->n_tokens ? (int32_t)unk : -1;
  spec->add_space_prefix = prefix;
  return rc ? rc : gguf_bos(g, spec, err);
}

sw_rc sw_tokenizer_from_gguf(const sw_gguf_t *g, sw_tokenizer_t **out, sw_err_t *err) {
  sw_vocab_spec_t spec = {0};
  sw_rc rc = gguf_model_kind(g, &spec.spm, err);
  if (rc) return rc;
  const sw_gguf_str_t *tokens = NULL, *merges = NULL;
  size_t n_tokens = 0, n_merges = 0;
  if ((rc = sw_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &tokens, &n_tokens, err))) return rc;
  if (!spec.spm && (rc = sw_gguf_get_arr_str(g, "tokenizer.ggml.merges", &merges, &n_merges, err))) return rc;
  spec.n_tokens = n_tokens;
  spec.n_merges = n_merges;
  if ((rc = gguf_options(g, &spec, err))) return rc;
  int32_t *types = NULL;
  float *scores = NULL;
  const char **tok_ptrs = NULL, **merge_ptrs = NULL;
  size_t *tok_lens = NULL, *merge_lens = NULL;
  rc = gguf_token_types(g, n_tokens, &types, err);
  if (!rc && spec.spm) rc = gguf_scores(g, n_tokens, &scores, err);
  if (!rc) rc = views_to_arrays(tokens, n_tokens, &tok_ptrs, &tok_lens, err);
  if (!rc) rc = views_to_arrays(merges, n_merges, &merge_ptrs, &merge_lens, err);
  if (!rc) {
    spec.tokens = tok_ptrs;
    spec.token_lens = tok_lens;
    spec.merges = merge_ptrs;
    spec.merge_lens = merge_lens;
    spec.token_types = types;
    spec.scores = scores;
    rc = sw_tokenizer_create(out, &spec, err);
  }
  free(types);
  free(scores);
  free(tok_ptrs);
  free(tok_lens);
  free(merge_ptrs);
  free(merge_lens);
  return rc;
}
