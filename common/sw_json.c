/* sw_json: recursive-descent JSON parser (RFC 8259) over a bounded (text, len) buffer.
 * Depth is capped at SW_JSON_MAX_DEPTH; every read checks the position against len; strings are
 * validated for escapes (\uXXXX incl. surrogate pairs, encoded back to UTF-8). */
#include "common/sw_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_cnum.h"

typedef struct json_parser {
  const char *text; /* input (not NUL-terminated) */
  size_t      len;  /* input bytes */
  size_t      pos;  /* next byte to read */
  sw_err_t   *err;  /* where failures are reported */
} json_parser_t;

static sw_rc json_fail(json_parser_t *p, const char *what) {
  return sw_err_set(p->err, SW_ERR_PARSE, "offset %zu: %s", p->pos, what);
}

static void json_skip_ws(json_parser_t *p) {
  while (p->pos < p->len) {
    char c = p->text[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static int json_peek(const json_parser_t *p) { return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1; }

static sw_rc json_literal(json_parser_t *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) return json_fail(p, "invalid literal");
  p->pos += n;
  return SW_OK;
}

static int json_hex4(const json_parser_t *p, size_t at, unsigned *out) {
  if (p->len - at < 4) return 0;
  unsigned v = 0;
  for (size_t i = 0; i < 4; i++) {
    char c = p->text[at + i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

static void json_put_utf8(char *dst, size_t *n, unsigned cp) {
  if (cp < 0x80) {
    dst[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    dst[(*n)++] = (char)(0xC0 | (cp >> 6));
    dst[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    dst[(*n)++] = (char)(0xE0 | (cp >> 12));
    dst[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    dst[(*n)++] = (char)(0xF0 | (cp >> 18));
    dst[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

/* Reads one \u escape (p->pos at the 'u'), combining a surrogate pair; returns the code point or -1. */
static long json_unicode_escape(json_parser_t *p) {
  unsigned hi;
  if (!json_hex4(p, p->pos + 1, &hi)) return -1;
  p->pos += 5;
  if (hi < 0xD800 || hi > 0xDFFF) return hi;
  if (hi > 0xDBFF) return -1; /* a lone low surrogate */
  unsigned lo;
  if (p->len - p->pos < 6 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u' ||
      !json_hex4(p, p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
    return -1;
  p->pos += 6;
  return 0x10000 + (((long)hi - 0xD800) << 10) + ((long)lo - 0xDC00);
}

static sw_rc json_string(json_parser_t *p, char **out, size_t *out_len) {
  p->pos++; /* opening quote */
  size_t start = p->pos;
  /* The decoded string is never longer than the raw text up to the closing quote. */
  size_t end = start;
  while (end < p->len && p->text[end] != '"') end += p->text[end] == '\\' ? 2 : 1;
  if (end >= p->len) return json_fail(p, "unterminated string");
  char *dst = malloc(end - start + 1);
  if (!dst) return sw_err_set(p->err, SW_ERR_NOMEM, "out of memory parsing JSON string");
  size_t n = 0;
  while (p->pos < end) {
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c < 0x20) {
      free(dst);
      return json_fail(p, "control character in string");
    }
    if (c != '\\') {
      dst[n++] = (char)c;
      p->pos++;
      continue;
    }
    p->pos++;
    char e = p->text[p->pos];
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e != '\0' && simple) {
      static const char decoded[] = "\"\\/\b\f\n\r\t";
      dst[n++] = decoded[simple - "\"\\/bfnrt"];
      p->pos++;
    } else if (e == 'u') {
      long cp = json_unicode_escape(p);
      if (cp < 0 || (size_t)p->pos > end) {
        free(dst);
        return json_fail(p, "invalid \\u escape");
      }
      json_put_utf8(dst, &n, (unsigned)cp);
    } else {
      free(dst);
      return json_fail(p, "invalid escape in string");
    }
  }
  dst[n] = '\0';
  p->pos = end + 1;
  *out = dst;
  *out_len = n;
  return SW_OK;
}

static sw_rc json_number(json_parser_t *p, sw_json_t *v) {
  size_t start = p->pos;
  int integral = 1;
  if (json_peek(p) == '-') p->pos++;
  if (json_peek(p) == '0') {
    p->pos++;
  } else if (json_peek(p) >= '1' && json_peek(p) <= '9') {
    while (json_peek(p) >= '0' && json_peek(p) <= '9') p->pos++;
  } else {
    return json_fail(p, "expected a value");
  }
  if (json_peek(p) == '.') {
    integral = 0;
    p->pos++;
    if (!(json_peek(p) >= '0' && json_peek(p) <= '9')) return json_fail(p, "expected digits after '.'");
    while (json_peek(p) >= '0' && json_peek(p) <= '9') p->pos++;
  }
  if (json_peek(p) == 'e' || json_peek(p) == 'E') {
    integral = 0;
    p->pos++;
    if (json_peek(p) == '+' || json_peek(p) == '-') p->pos++;
    if (!(json_peek(p) >= '0' && json_peek(p) <= '9')) return json_fail(p, "expected exponent digits");
    while (json_peek(p) >= '0' && json_peek(p) <= '9') p->pos++;
  }
  char tmp[64];
  size_t n = p->pos - start;
  if (n >= sizeof tmp) return json_fail(p, "number too long");
  memcpy(tmp, p->text + start, n);
  tmp[n] = '\0';
  v->kind = SW_JSON_NUMBER;
  size_t used;
  v->number = sw_cnum_parse(tmp, n, &used); /* '.' whatever LC_NUMERIC says */
  if (integral) {
    errno = 0;
    long long i = strtoll(tmp, NULL, 10);
    if (errno == 0) {
      v->is_integer = 1;
      v->integer = i;
    }
  }
  return SW_OK;
}

static sw_rc json_value(json_parser_t *p, sw_json_t *v, int depth);

/* Appends one item slot (and key slot for objects) to a container; returns it or NULL on OOM. */
static sw_json_t *json_grow(sw_json_t *v, size_t *cap, int with_keys) {
  if (v->count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    sw_json_t *items = realloc(v->items, ncap * sizeof *items);
    if (!items) return NULL;
    v->items = items;
    if (with_keys) {
      char **keys = realloc(v->keys, ncap * sizeof *keys);
      if (!keys) return NULL;
      v->keys = keys;
    }
    *cap = ncap;
  }
  sw_json_t *slot = &v->items[v->count];
  memset(slot, 0, sizeof *slot);
  if (with_keys) v->keys[v->count] = NULL;
  v->count++;
  return slot;
}

static int json_cmp_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when two keys of a finished object are equal (RFC 8259 §4: names SHOULD be unique; a config with a
 * repeated key is almost certainly a mistake, and first-wins lookups would hide it).  Sorting a copy of the
 * key pointers keeps objects with many keys (a tokenizer.json vocabulary: ~50k) at n log n; -1 on OOM. */
static int json_keys_repeat(const sw_json_t *v) {
  if (v->count < 2) return 0;
  char **sorted = malloc(v->count * sizeof *sorted);
  if (!sorted) return -1;
  memcpy(sorted, v->keys, v->count * sizeof *sorted);
  qsort(sorted, v->count, sizeof *sorted, json_cmp_key);
  int repeat = 0;
  for (size_t i = 1; !repeat && i < v->count; i++) repeat = strcmp(sorted[i - 1], sorted[i]) == 0;
  free(sorted);
  return repeat;
}

/* Closes an object: its keys must be unique. */
static sw_rc json_object_close(json_parser_t *p, const sw_json_t *v) {
  int repeat = json_keys_repeat(v);
  if (repeat < 0) return sw_err_set(p->err, SW_ERR_NOMEM, "out of memory parsing JSON");
  return repeat ? json_fail(p, "duplicate key in object") : SW_OK;
}

static sw_rc json_container(json_parser_t *p, sw_json_t *v, int depth, int is_object) {
  v->kind = is_object ? SW_JSON_OBJECT : SW_JSON_ARRAY;
  char close = is_object ? '}' : ']';
  size_t cap = 0;
  p->pos++;
  json_skip_ws(p);
  if (json_peek(p) == close) {
    p->pos++;
    return SW_OK;
  }
  for (;;) {
    sw_json_t *slot = json_grow(v, &cap, is_object);
    if (!slot) return sw_err_set(p->err, SW_ERR_NOMEM, "out of memory parsing JSON");
    json_skip_ws(p);
    if (is_object) {
      if (json_peek(p) != '"') return json_fail(p, "expected a string key");
      size_t klen;
      sw_rc rc = json_string(p, &v->keys[v->count - 1], &klen);
      if (rc) return rc;
      /* keys are looked up as C strings: "a\u0000b" would silently be "a" */
      if (strlen(v->keys[v->count - 1]) != klen) return json_fail(p, "object key contains \\u0000");
      json_skip_ws(p);
      if (json_peek(p) != ':') return json_fail(p, "expected ':'");
      p->pos++;
    }
    sw_rc rc = json_value(p, slot, depth + 1);
    if (rc) return rc;
    json_skip_ws(p);
    int c = json_peek(p);
    p->pos += c >= 0;
    if (c == close) return is_object ? json_object_close(p, v) : SW_OK;
    if (c != ',') {
      p->pos -= c >= 0;
      return json_fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
}

static sw_rc json_value(json_parser_t *p, sw_json_t *v, int depth) {
  if (depth > SW_JSON_MAX_DEPTH) return json_fail(p, "nesting too deep");
  json_skip_ws(p);
  switch (json_peek(p)) {
    case '{': return json_container(p, v, depth, 1);
    case '[': return json_container(p, v, depth, 0);
    case '"':
      v->kind = SW_JSON_STRING;
      return json_string(p, &v->string, &v->string_len);
    case 't': v->kind = SW_JSON_BOOL; v->boolean = 1; return json_literal(p, "true");
    case 'f': v->kind = SW_JSON_BOOL; v->boolean = 0; return json_literal(p, "false");
    case 'n': v->kind = SW_JSON_NULL; return json_literal(p, "null");
    case -1: return json_fail(p, "unexpected end of input");
    default: return json_number(p, v);
  }
}

static void json_free_members(sw_json_t *v) {
  for (size_t i = 0; i < v->count; i++) {
    json_free_members(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
}

sw_rc sw_json_parse(const char *text, size_t len, sw_json_t **out, sw_err_t *err) {
  json_parser_t p = {text, text ? len : 0, 0, err};
  sw_json_t *root = calloc(1, sizeof *root);
  if (!root) return sw_err_set(err, SW_ERR_NOMEM, "out of memory parsing JSON");
  sw_rc rc = json_value(&p, root, 0);
  if (!rc) {
    json_skip_ws(&p);
    if (p.pos != p.len) rc = json_fail(&p, "trailing characters after the value");
  }
  if (rc) {
    sw_json_free(root);
    return rc;
  }
  *out = root;
  return SW_OK;
}

void sw_json_free(sw_json_t *v) {
  if (!v) return;
  json_free_members(v);
  free(v);
}

const sw_json_t *sw_json_get(const sw_json_t *obj, const char *key) {
  if (!obj || obj->kind != SW_JSON_OBJECT) return NULL;
  for (size_t i = 0; i < obj->count; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

static sw_rc json_wrong_type(const char *key, const char *want, sw_err_t *err) {
  return sw_err_set(err, SW_ERR_INVALID, "config key '%s': expected %s", key, want);
}

sw_rc sw_json_get_str(const sw_json_t *obj, const char *key, const char *def, const char **out, sw_err_t *err) {
  const sw_json_t *v = sw_json_get(obj, key);
  if (!v) {
    *out = def;
    return SW_OK;
  }
  if (v->kind != SW_JSON_STRING) return json_wrong_type(key, "a string", err);
  *out = v->string;
  return SW_OK;
}

sw_rc sw_json_get_double(const sw_json_t *obj, const char *key, double def, double *out, sw_err_t *err) {
  const sw_json_t *v = sw_json_get(obj, key);
  if (!v) {
    *out = def;
    return SW_OK;
  }
  if (v->kind != SW_JSON_NUMBER) return json_wrong_type(key, "a number", err);
  *out = v->number;
  return SW_OK;
}

sw_rc sw_json_get_int(const sw_json_t *obj, const char *key, int64_t def, int64_t *out, sw_err_t *err) {
  const sw_json_t *v = sw_json_get(obj, key);
  if (!v) {
    *out = def;
    return SW_OK;
  }
  if (v->kind != SW_JSON_NUMBER || !v->is_integer) return json_wrong_type(key, "an integer", err);
  *out = v->integer;
  return SW_OK;
}

sw_rc sw_json_get_bool(const sw_json_t *obj, const char *key, int def, int *out, sw_err_t *err) {
  const sw_json_t *v = sw_json_get(obj, key);
  if (!v) {
    *out = def;
    return SW_OK;
  }
  if (v->kind != SW_JSON_BOOL) return json_wrong_type(key, "true or false", err);
  *out = v->boolean;
  return SW_OK;
}
