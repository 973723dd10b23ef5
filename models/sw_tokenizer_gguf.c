/* sw_tokenizer_gguf: builds a tokenizer from a GGUF file's tokenizer.ggml.* metadata (docs/models.md §2). */
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

sw_rc sw_tokenizer_from_gguf(const sw_gguf_t *g, sw_tokenizer_t **out, sw_err_t *err) {
  const char *model = NULL, *pre = "gpt2";
  sw_rc rc = sw_gguf_get_str(g, "tokenizer.ggml.model", &model, NULL, err);
  if (rc) return rc;
  if (strcmp(model, "gpt2") != 0)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "gguf: tokenizer.ggml.model '%s' is not supported (gpt2 BPE only)",
                      model);
  if (sw_gguf_find_key(g, "tokenizer.ggml.pre") >= 0 && (rc = sw_gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL, err)))
    return rc;
  const sw_gguf_str_t *tokens = NULL, *merges = NULL;
  size_t n_tokens = 0, n_merges = 0;
  if ((rc = sw_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &tokens, &n_tokens, err))) return rc;
  if ((rc = sw_gguf_get_arr_str(g, "tokenizer.ggml.merges", &merges, &n_merges, err))) return rc;
  int64_t unk = -1;
  if (sw_gguf_find_key(g, "tokenizer.ggml.unknown_token_id") >= 0 &&
      (rc = sw_gguf_get_int(g, "tokenizer.ggml.unknown_token_id", &unk, err)))
    return rc;
  sw_vocab_spec_t spec = {0};
  int32_t *types = NULL;
  const char **tok_ptrs = NULL, **merge_ptrs = NULL;
  size_t *tok_lens = NULL, *merge_lens = NULL;
  rc = gguf_token_types(g, n_tokens, &types, err);
  if (!rc) rc = views_to_arrays(tokens, n_tokens, &tok_ptrs, &tok_lens, err);
  if (!rc) rc = views_to_arrays(merges, n_merges, &merge_ptrs, &merge_lens, err);
  if (!rc) {
    spec = (sw_vocab_spec_t){tok_ptrs, tok_lens, n_tokens, merge_ptrs, merge_lens, n_merges,
                             types, pre, unk >= 0 && unk < (int64_t)n_tokens ? (int32_t)unk : -1};
    rc = sw_tokenizer_create(out, &spec, err);
  }
  free(types);
  free(tok_ptrs);
  free(tok_lens);
  free(merge_ptrs);
  free(merge_lens);
  return rc;
}
