/* sw_tokenizer_hf: tokenizer.json -> sw_vocab_spec_t -> sw_tokenizer_create (models/sw_tokenizer.c). */
#include "models/sw_tokenizer_hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/sw_gguf.h"
#include "models/sw_hf.h"
#include "models/sw_tokenizer_gguf.h"

/* The spec's parallel arrays, owned here (tokens borrow the JSON's strings; joined merges are owned). */
typedef struct hf_vocab {
  const char **tokens;
  size_t      *token_lens;
  int32_t     *types;
  size_t       n_tokens;
  char       **merges;
  size_t      *merge_lens;
  size_t       n_merges;
} hf_vocab_t;

static void hf_vocab_free(hf_vocab_t *v) {
  for (size_t i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
  free(v->tokens);
  free(v->token_lens);
  free(v->types);
  free(v->merges);
  free(v->merge_lens);
}

static int64_t hf_max_id(const sw_json_t *vocab, const sw_json_t *added) {
  int64_t max = -1;
  for (size_t i = 0; i < vocab->count; i++)
    if (vocab->items[i].kind == SW_JSON_NUMBER && vocab->items[i].is_integer && vocab->items[i].integer > max)
      max = vocab->items[i].integer;
  for (size_t i = 0; added && i < added->count; i++) {
    const sw_json_t *id = sw_json_get(&added->items[i], "id");
    if (id && id->kind == SW_JSON_NUMBER && id->is_integer && id->integer > max) max = id->integer;
  }
  return max;
}

/* 1 when a JSON string holds a NUL (\u0000): token texts are C strings in the tokenizer. */
static int hf_has_nul(const sw_json_t *s) { return strlen(s->string) != s->string_len; }

/* Places token `text` at id; a second, different token at the same id is an error. */
static sw_rc hf_put_token(hf_vocab_t *v, int64_t id, const char *text, size_t len, int32_t type, const char *what,
                          sw_err_t *err) {
  if (id < 0 || (uint64_t)id >= v->n_tokens)
    return sw_err_set(err, SW_ERR_PARSE, "%s: token '%.60s' has id %lld outside 0..%zu", what, text, (long long)id,
                      v->n_tokens - 1);
  if (v->tokens[id] && (v->token_lens[id] != len || memcmp(v->tokens[id], text, len) != 0))
    return sw_err_set(err, SW_ERR_PARSE, "%s: id %lld is both '%.60s' and '%.60s'", what, (long long)id,
                      v->tokens[id], text);
  v->tokens[id] = text;
  v->token_lens[id] = len;
  if (type != SW_TOKEN_NORMAL) v->types[id] = type;
  return SW_OK;
}

static sw_rc hf_read_vocab(hf_vocab_t *v, const sw_json_t *vocab, const sw_json_t *added, const char *what,
                           sw_err_t *err) {
  int64_t max = hf_max_id(vocab, added);
  if (max < 0 || max >= (int64_t)(INT32_MAX / 2))
    return sw_err_set(err, SW_ERR_RANGE, "%s: model.vocab is empty or its ids are out of range", what);
  const size_t given = vocab->count + (added ? added->count : 0);
  if ((uint64_t)max >= given) /* before allocating: one large id in a small file must not cost gigabytes */
    return sw_err_set(err, SW_ERR_PARSE, "%s: token id %lld but only %zu tokens (ids must be 0..N-1)", what,
                      (long long)max, given);
  v->n_tokens = (size_t)max + 1;
  v->tokens = calloc(v->n_tokens, sizeof *v->tokens);
  v->token_lens = calloc(v->n_tokens, sizeof *v->token_lens);
  v->types = calloc(v->n_tokens, sizeof *v->types);
  if (!v->tokens || !v->token_lens || !v->types) return sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", what);
  for (size_t i = 0; i < v->n_tokens; i++) v->types[i] = SW_TOKEN_NORMAL;
  sw_rc rc = SW_OK;
  for (size_t i = 0; !rc && i < vocab->count; i++) {
    const sw_json_t *id = &vocab->items[i];
    if (id->kind != SW_JSON_NUMBER || !id->is_integer)
      return sw_err_set(err, SW_ERR_PARSE, "%s: model.vocab['%.60s'] is not an integer id", what, vocab->keys[i]);
    rc = hf_put_token(v, id->integer, vocab->keys[i], strlen(vocab->keys[i]), SW_TOKEN_NORMAL, what, err);
  }
  for (size_t i = 0; !rc && added && i < added->count; i++) {
    const sw_json_t *a = &added->items[i], *id = sw_json_get(a, "id"), *content = sw_json_get(a, "content");
    const sw_json_t *special = sw_json_get(a, "special");
    if (!id || id->kind != SW_JSON_NUMBER || !id->is_integer || !content || content->kind != SW_JSON_STRING)
      return sw_err_set(err, SW_ERR_PARSE, "%s: added_tokens[%zu] needs an integer 'id' and a string 'content'", what, i);
    if (hf_has_nul(content)) return sw_err_set(err, SW_ERR_PARSE, "%s: added_tokens[%zu] contains \\u0000", what, i);
    int32_t type = special && special->kind == SW_JSON_BOOL && special->boolean ? SW_TOKEN_CONTROL : SW_TOKEN_USER_DEFINED;
    rc = hf_put_token(v, id->integer, content->string, content->string_len, type, what, err);
  }
  for (size_t i = 0; !rc && i < v->n_tokens; i++)
    if (!v->tokens[i]) rc = sw_err_set(err, SW_ERR_PARSE, "%s: token id %zu is missing (ids must be 0..%zu)", what, i,
                                       v->n_tokens - 1);
  return rc;
}

/* A merge as "left right": a string as written, or a [left, right] pair joined by one space. */
static sw_rc hf_merge_text(const sw_json_t *m, size_t r, const char *what, char **out, size_t *len, sw_err_t *err) {
  const int pair = m->kind == SW_JSON_ARRAY && m->count == 2 && m->items[0].kind == SW_JSON_STRING &&
                   m->items[1].kind == SW_JSON_STRING;
  if (m->kind != SW_JSON_STRING && !pair)
    return sw_err_set(err, SW_ERR_PARSE, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", what, r);
  if (pair ? hf_has_nul(&m->items[0]) || hf_has_nul(&m->items[1]) : hf_has_nul(m))
    return sw_err_set(err, SW_ERR_PARSE, "%s: model.merges[%zu] contains \\u0000", what, r);
  *len = pair ? m->items[0].string_len + 1 + m->items[1].string_len : m->string_len;
  if (!(*out = malloc(*len + 1))) return sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", what);
  if (pair) snprintf(*out, *len + 1, "%s %s", m->items[0].string, m->items[1].string);
  else memcpy(*out, m->string, *len + 1);
  return SW_OK;
}

static sw_rc hf_read_merges(hf_vocab_t *v, const sw_json_t *merges, const char *what, sw_err_t *err) {
  if (!merges || merges->kind != SW_JSON_ARRAY)
    return sw_err_set(err, SW_ERR_PARSE, "%s: model.merges is missing or not an array", what);
  v->merges = calloc(merges->count ? merges->count : 1, sizeof *v->merges);
  v->merge_lens = calloc(merges->count ? merges->count : 1, sizeof *v->merge_lens);
  if (!v->merges || !v->merge_lens) return sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", what);
  sw_rc rc = SW_OK;
  for (size_t r = 0; !rc && r < merges->count; r++) {
    rc = hf_merge_text(&merges->items[r], r, what, &v->merges[r], &v->merge_lens[r], err);
    if (!rc) v->n_merges = r + 1;
  }
  return rc;
}

/* ByteLevel as sparsweep implements it: the GPT-2 split (use_regex), no prefix space. */
static sw_rc hf_byte_level_ok(const sw_json_t *p, const char *what, sw_err_t *err) {
  const sw_json_t *prefix = sw_json_get(p, "add_prefix_space"), *regex = sw_json_get(p, "use_regex");
  if (prefix && prefix->kind == SW_JSON_BOOL && prefix->boolean)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: pre_tokenizer ByteLevel add_prefix_space = true is not supported",
                      what);
  if (regex && regex->kind == SW_JSON_BOOL && !regex->boolean)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: pre_tokenizer ByteLevel use_regex = false is not supported", what);
  return SW_OK;
}

static const char *hf_type(const sw_json_t *p) {
  const sw_json_t *t = sw_json_get(p, "type");
  return t && t->kind == SW_JSON_STRING ? t->string : "";
}

/* The pre-tokenizer's sparsweep name ("gpt2" / "smollm"). */
static sw_rc hf_pre_tokenizer(const sw_json_t *p, const char *what, const char **pre, sw_err_t *err) {
  if (!p || p->kind != SW_JSON_OBJECT)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: pre_tokenizer must be ByteLevel (byte-level BPE only)", what);
  if (strcmp(hf_type(p), "ByteLevel") == 0) {
    *pre = "gpt2";
    return hf_byte_level_ok(p, what, err);
  }
  const sw_json_t *seq = sw_json_get(p, "pretokenizers");
  if (strcmp(hf_type(p), "Sequence") == 0 && seq && seq->kind == SW_JSON_ARRAY && seq->count == 2 &&
      strcmp(hf_type(&seq->items[0]), "Digits") == 0 && strcmp(hf_type(&seq->items[1]), "ByteLevel") == 0) {
    const sw_json_t *single = sw_json_get(&seq->items[0], "individual_digits");
    if (!single || single->kind != SW_JSON_BOOL || !single->boolean)
      return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: pre_tokenizer Digits needs individual_digits = true", what);
    *pre = "smollm";
    return hf_byte_level_ok(&seq->items[1], what, err);
  }
  return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: pre_tokenizer '%.40s' is not supported (ByteLevel, or Sequence of "
                    "Digits(individual_digits) and ByteLevel)", what, hf_type(p));
}

/* BPE model without byte fallback, no normalizer. */
static sw_rc hf_check_model(const sw_json_t *json, const sw_json_t *model, const char *what, sw_err_t *err) {
  if (!model || model->kind != SW_JSON_OBJECT) return sw_err_set(err, SW_ERR_PARSE, "%s: 'model' object missing", what);
  if (strcmp(hf_type(model), "BPE") != 0 && sw_json_get(model, "type"))
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: model.type '%.40s' is not supported (BPE)", what, hf_type(model));
  const sw_json_t *fallback = sw_json_get(model, "byte_fallback");
  if (fallback && fallback->kind == SW_JSON_BOOL && fallback->boolean)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: model.byte_fallback = true is not supported (byte-level BPE)", what);
  const sw_json_t *norm = sw_json_get(json, "normalizer");
  if (norm && norm->kind != SW_JSON_NULL)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "%s: normalizer '%.40s' is not supported (none)", what, hf_type(norm));
  const sw_json_t *vocab = sw_json_get(model, "vocab");
  if (!vocab || vocab->kind != SW_JSON_OBJECT)
    return sw_err_set(err, SW_ERR_PARSE, "%s: model.vocab is missing or not an object", what);
  const sw_json_t *added = sw_json_get(json, "added_tokens");
  if (added && added->kind != SW_JSON_ARRAY && added->kind != SW_JSON_NULL)
    return sw_err_set(err, SW_ERR_PARSE, "%s: added_tokens is not an array", what);
  return SW_OK;
}

static int32_t hf_find_token(const hf_vocab_t *v, const char *text, size_t len) {
  for (size_t i = 0; i < v->n_tokens; i++)
    if (v->token_lens[i] == len && memcmp(v->tokens[i], text, len) == 0) return (int32_t)i;
  return -1;
}

static int32_t hf_unk_id(const sw_json_t *model, const hf_vocab_t *v) {
  const sw_json_t *unk = sw_json_get(model, "unk_token");
  if (!unk || unk->kind != SW_JSON_STRING) return -1;
  return hf_find_token(v, unk->string, unk->string_len);
}

/* The BOS the tokenizer.json post-processor puts first (a TemplateProcessing, alone or in a Sequence, whose
 * `single` template starts with a SpecialToken, as Llama 2 and 3 ship), or NULL. */
static const sw_json_t *hf_template_bos(const sw_json_t *post) {
  if (!post || post->kind != SW_JSON_OBJECT) return NULL;
  const sw_json_t *procs = sw_json_get(post, "processors");
  if (strcmp(hf_type(post), "Sequence") == 0 && procs && procs->kind == SW_JSON_ARRAY) {
    for (size_t i = 0; i < procs->count; i++) {
      const sw_json_t *b = hf_template_bos(&procs->items[i]);
      if (b) return b;
    }
    return NULL;
  }
  const sw_json_t *single = sw_json_get(post, "single");
  if (strcmp(hf_type(post), "TemplateProcessing") != 0 || !single || single->kind != SW_JSON_ARRAY || !single->count)
    return NULL;
  const sw_json_t *id = sw_json_get(sw_json_get(&single->items[0], "SpecialToken"), "id");
  return id && id->kind == SW_JSON_STRING ? id : NULL;
}

/* BOS from tokenizer_config.json (tok_config, may be NULL): add_bos_token decides when present, else the
 * post-processor's template does; the token is bos_token (a string or an object with `content`) or the
 * template's.  A BOS that names no token is an error naming the file. */
static sw_rc hf_bos(const sw_json_t *json, const sw_json_t *tok_config, const hf_vocab_t *v, const char *what,
                    sw_vocab_spec_t *spec, sw_err_t *err) {
  const sw_json_t *templ = hf_template_bos(sw_json_get(json, "post_processor")), *text = templ;
  const sw_json_t *flag = tok_config ? sw_json_get(tok_config, "add_bos_token") : NULL;
  const sw_json_t *named = tok_config ? sw_json_get(tok_config, "bos_token") : NULL;
  if (named && named->kind == SW_JSON_OBJECT) named = sw_json_get(named, "content");
  if (named && named->kind == SW_JSON_STRING) text = named;
  if (flag && flag->kind != SW_JSON_BOOL)
    return sw_err_set(err, SW_ERR_PARSE, "%s: tokenizer_config.json 'add_bos_token' must be true or false", what);
  spec->add_bos = flag ? flag->boolean : templ != NULL;
  if (!spec->add_bos) return SW_OK;
  if (!text) return sw_err_set(err, SW_ERR_NOTFOUND, "%s: add_bos_token is true but no bos_token is named", what);
  spec->bos_id = hf_find_token(v, text->string, text->string_len);
  if (spec->bos_id < 0)
    return sw_err_set(err, SW_ERR_PARSE, "%s: BOS token '%.60s' is not in the vocabulary", what, text->string);
  return SW_OK;
}

static sw_rc hf_build(const sw_json_t *json, const sw_json_t *tok_config, const char *what, sw_tokenizer_t **out,
                      sw_err_t *err) {
  const sw_json_t *model = sw_json_get(json, "model"), *added = sw_json_get(json, "added_tokens");
  const char *pre = NULL;
  hf_vocab_t v = {0};
  sw_rc rc = hf_check_model(json, model, what, err);
  if (!rc) rc = hf_pre_tokenizer(sw_json_get(json, "pre_tokenizer"), what, &pre, err);
  if (!rc) rc = hf_read_vocab(&v, sw_json_get(model, "vocab"), added && added->kind == SW_JSON_ARRAY ? added : NULL,
                              what, err);
  if (!rc) rc = hf_read_merges(&v, sw_json_get(model, "merges"), what, err);
  sw_vocab_spec_t spec = {v.tokens, v.token_lens, v.n_tokens, (const char *const *)v.merges, v.merge_lens,
                          v.n_merges, v.types, pre, -1, 0, NULL, 0, 0, -1};
  if (!rc) rc = hf_bos(json, tok_config, &v, what, &spec, err);
  if (!rc) {
    spec.unk_id = hf_unk_id(model, &v);
    if ((rc = sw_tokenizer_create(out, &spec, err))) sw_err_prefix(err, "%s", what);
  }
  hf_vocab_free(&v);
  return rc;
}

sw_rc sw_tokenizer_from_hf_json(const sw_json_t *json, const char *what, sw_tokenizer_t **out, sw_err_t *err) {
  return hf_build(json, NULL, what, out, err);
}

/* dir/tokenizer.json with dir/tokenizer_config.json when the checkpoint has one (its BOS settings). */
static sw_rc hf_open_dir(const char *dir, sw_tokenizer_t **out, sw_err_t *err) {
  sw_json_t *json = NULL, *tok_config = NULL;
  char what[4200], cfg_path[4200];
  snprintf(what, sizeof what, "%s/tokenizer.json", dir);
  snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", dir);
  struct stat sb;
  sw_rc rc = sw_hf_read_json(dir, "tokenizer.json", SW_TOKENIZER_HF_MAX_FILE, &json, NULL, err);
  if (!rc && stat(cfg_path, &sb) == 0)
    rc = sw_hf_read_json(dir, "tokenizer_config.json", SW_TOKENIZER_HF_MAX_FILE, &tok_config, NULL, err);
  if (!rc && tok_config && tok_config->kind != SW_JSON_OBJECT)
    rc = sw_err_set(err, SW_ERR_PARSE, "%s: not a JSON object", cfg_path);
  if (!rc) rc = hf_build(json, tok_config, what, out, err);
  sw_json_free(json);
  sw_json_free(tok_config);
  return rc;
}

sw_rc sw_tokenizer_open(const char *path, sw_tokenizer_t **out, sw_err_t *err) {
  if (sw_hf_is_dir(path)) return hf_open_dir(path, out, err);
  sw_gguf_t *g = NULL;
  sw_rc rc = sw_gguf_open(path, &g, err);
  if (!rc) rc = sw_tokenizer_from_gguf(g, out, err);
  sw_gguf_close(g);
  return rc;
}
