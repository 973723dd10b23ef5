/* sw_mctask: the JSONL task parser (bounded; every error names file:line) and loader.  See models/sw_mctask.h. */
#include "models/sw_mctask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/sw_hash.h"
#include "common/sw_json.h"

static void item_free(sw_mc_item_t *it) {
  free(it->id);
  free(it->context);
  for (int c = 0; c < it->n_choices && it->choices; c++) free(it->choices[c]);
  free(it->choices);
  free(it->choice_lens);
  memset(it, 0, sizeof *it);
}

void sw_mctask_free(sw_mctask_t *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n_items; i++) item_free(&t->items[i]);
  free(t->items);
  t->items = NULL;
  t->n_items = 0;
}

static char *dup_bytes(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n), d[n] = '\0';
  return d;
}

/* A non-empty string member of at most SW_MCTASK_MAX_TEXT bytes. */
static sw_rc text_field(const sw_json_t *v, const char *what, sw_err_t *err) {
  if (!v || v->kind != SW_JSON_STRING) return sw_err_set(err, SW_ERR_PARSE, "%s must be a string", what);
  if (v->string_len == 0) return sw_err_set(err, SW_ERR_PARSE, "%s is empty", what);
  if (v->string_len > SW_MCTASK_MAX_TEXT)
    return sw_err_set(err, SW_ERR_RANGE, "%s is %zu bytes (limit %u)", what, v->string_len, SW_MCTASK_MAX_TEXT);
  return SW_OK;
}

static sw_rc item_id(sw_mc_item_t *it, const sw_json_t *id, size_t line, sw_err_t *err) {
  char buf[64];
  const char *s = buf;
  size_t n;
  if (!id) n = (size_t)snprintf(buf, sizeof buf, "line %zu", line);
  else if (id->kind == SW_JSON_NUMBER && id->is_integer) n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)id->integer);
  else if (id->kind == SW_JSON_STRING && id->string_len <= 256) s = id->string, n = id->string_len;
  else return sw_err_set(err, SW_ERR_PARSE, "\"id\" must be an integer or a string of at most 256 bytes");
  return (it->id = dup_bytes(s, n)) ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "out of memory");
}

static sw_rc item_choices(sw_mc_item_t *it, const sw_json_t *ch, sw_err_t *err) {
  if (!ch || ch->kind != SW_JSON_ARRAY) return sw_err_set(err, SW_ERR_PARSE, "\"choices\" must be an array of strings");
  if (ch->count < 2 || ch->count > SW_MCTASK_MAX_CHOICES)
    return sw_err_set(err, SW_ERR_RANGE, "%zu choices (2..%d allowed)", ch->count, SW_MCTASK_MAX_CHOICES);
  it->choices = calloc(ch->count, sizeof *it->choices);
  it->choice_lens = calloc(ch->count, sizeof *it->choice_lens);
  if (!it->choices || !it->choice_lens) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
  for (size_t c = 0; c < ch->count; c++) {
    char what[32];
    snprintf(what, sizeof what, "choice %zu", c);
    sw_rc rc = text_field(&ch->items[c], what, err);
    if (rc) return rc;
    it->n_choices = (int)c + 1;
    if (!(it->choices[c] = dup_bytes(ch->items[c].string, ch->items[c].string_len)))
      return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
    it->choice_lens[c] = ch->items[c].string_len;
  }
  return SW_OK;
}

static sw_rc item_from_json(sw_mc_item_t *it, const sw_json_t *j, size_t line, sw_err_t *err) {
  if (j->kind != SW_JSON_OBJECT) return sw_err_set(err, SW_ERR_PARSE, "an item must be a JSON object");
  const sw_json_t *ctx = sw_json_get(j, "context"), *gold = sw_json_get(j, "gold");
  sw_rc rc = text_field(ctx, "\"context\"", err);
  if (!rc) rc = item_choices(it, sw_json_get(j, "choices"), err);
  if (!rc && (!gold || gold->kind != SW_JSON_NUMBER || !gold->is_integer))
    rc = sw_err_set(err, SW_ERR_PARSE, "\"gold\" must be an integer");
  if (!rc && (gold->integer < 0 || gold->integer >= it->n_choices))
    rc = sw_err_set(err, SW_ERR_RANGE, "gold %lld outside 0..%d", (long long)gold->integer, it->n_choices - 1);
  if (!rc) rc = item_id(it, sw_json_get(j, "id"), line, err);
  if (rc) return rc;
  it->gold = (int)gold->integer;
  it->context_len = ctx->string_len;
  return (it->context = dup_bytes(ctx->string, ctx->string_len)) ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "out of memory");
}

static int blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
  return 1;
}

/* Parses one non-blank line into the next item slot (growing the array). */
static sw_rc parse_line(sw_mctask_t *t, size_t *cap, const char *s, size_t n, size_t line, sw_err_t *err) {
  if (n > SW_MCTASK_MAX_LINE) return sw_err_set(err, SW_ERR_RANGE, "line of %zu bytes (limit %u)", n, SW_MCTASK_MAX_LINE);
  if (t->n_items >= SW_MCTASK_MAX_ITEMS) return sw_err_set(err, SW_ERR_RANGE, "more than %d items", SW_MCTASK_MAX_ITEMS);
  if (t->n_items == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    sw_mc_item_t *ni = realloc(t->items, nc * sizeof *ni);
    if (!ni) return sw_err_set(err, SW_ERR_NOMEM, "out of memory");
    t->items = ni, *cap = nc;
  }
  sw_json_t *j = NULL;
  sw_rc rc = sw_json_parse(s, n, &j, err);
  if (rc) return rc;
  sw_mc_item_t *it = &t->items[t->n_items];
  memset(it, 0, sizeof *it);
  rc = item_from_json(it, j, line, err);
  sw_json_free(j);
  if (rc) item_free(it);
  else t->n_items++;
  return rc;
}

sw_rc sw_mctask_parse(sw_mctask_t *t, const char *text, size_t len, const char *name, size_t max_items,
                      sw_err_t *err) {
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  sw_sha256_hex(text, len, t->sha256);
  size_t cap = 0, line = 0;
  for (size_t pos = 0; pos < len && (max_items == 0 || t->n_items < max_items);) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    line++;
    if (!blank(text + pos, end - pos)) {
      sw_rc rc = parse_line(t, &cap, text + pos, end - pos, line, err);
      if (rc) return sw_err_prefix(err, "%s:%zu", name, line);
    }
    pos = end + 1;
  }
  if (t->n_items == 0) return sw_err_set(err, SW_ERR_PARSE, "%s: no items", name);
  return SW_OK;
}

sw_rc sw_mctask_load(sw_mctask_t *t, const char *path, size_t max_items, sw_err_t *err) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "rb");
  if (!f) return sw_err_set(err, SW_ERR_IO, "task file '%s' cannot be opened", path);
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > SW_MCTASK_MAX_FILE) {
    fclose(f);
    return sw_err_set(err, SW_ERR_RANGE, "task file '%s': size unknown or above %u bytes", path, SW_MCTASK_MAX_FILE);
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n ? n : 1);
  size_t got = buf ? fread(buf, 1, n, f) : 0;
  fclose(f);
  sw_rc rc = !buf ? sw_err_set(err, SW_ERR_NOMEM, "out of memory")
             : got != n ? sw_err_set(err, SW_ERR_IO, "task file '%s' cannot be read", path)
                        : sw_mctask_parse(t, buf, n, path, max_items, err);
  free(buf);
  return rc;
}
