/* sw_canon: canonical JSON text of flat configs (sorted keys, fixed number forms) and its SHA-256.
 * Invariant: the text depends only on the set of (key, value) pairs, never on input order, and
 * canonicalising the parsed canonical text reproduces it byte for byte. */
#include "experiments/sw_canon.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_hash.h"

/* One pair to print; sorting these sorts the keys. */
typedef struct canon_pair {
  const char       *key;
  const sw_value_t *val;  /* from an experiment, or NULL */
  const sw_json_t  *json; /* from a parsed JSON object, or NULL */
} canon_pair_t;

static int canon_pair_cmp(const void *a, const void *b) {
  /* strcmp compares as unsigned char: bytewise order, the same on every machine. */
  return strcmp(((const canon_pair_t *)a)->key, ((const canon_pair_t *)b)->key);
}

/* Doubles that hold an integer below 2^53 in magnitude print as that integer (so 100.0, 1e2 and 100 are one
 * value, and -0.0 is 0); everything else in shortest round-trip form.  Re-parsing either form gives the
 * same text again. */
#define CANON_EXACT_INT_LIMIT 9007199254740992.0 /* 2^53: doubles below this are exact integers */
static void canon_double(sw_buf_t *out, double v) {
  if (v == floor(v) && fabs(v) < CANON_EXACT_INT_LIMIT) {
    sw_buf_printf(out, "%" PRId64, (int64_t)v);
    return;
  }
  sw_buf_json_double(out, v);
}

static sw_rc canon_scalar(sw_buf_t *out, const sw_value_t *v, sw_err_t *err) {
  switch (v->kind) {
    case SW_VAL_INT: sw_buf_printf(out, "%" PRId64, v->i); return SW_OK;
    case SW_VAL_FLOAT: canon_double(out, v->f); return SW_OK;
    case SW_VAL_BOOL: sw_buf_puts(out, v->b ? "true" : "false"); return SW_OK;
    case SW_VAL_STR: sw_buf_json_string(out, v->s, strlen(v->s)); return SW_OK;
    case SW_VAL_LIST: break;
  }
  return sw_err_set(err, SW_ERR_INVALID, "canonical JSON: lists cannot be nested");
}

static sw_rc canon_value(sw_buf_t *out, const sw_value_t *v, sw_err_t *err) {
  if (v->kind != SW_VAL_LIST) return canon_scalar(out, v, err);
  sw_buf_puts(out, "[");
  for (size_t i = 0; i < v->count; i++) {
    if (i) sw_buf_puts(out, ",");
    sw_rc rc = canon_scalar(out, &v->items[i], err);
    if (rc != SW_OK) return rc;
  }
  sw_buf_puts(out, "]");
  return SW_OK;
}

static sw_rc canon_json_scalar(sw_buf_t *out, const sw_json_t *j, sw_err_t *err) {
  switch (j->kind) {
    case SW_JSON_NUMBER:
      if (j->is_integer)
        sw_buf_printf(out, "%" PRId64, j->integer);
      else
        canon_double(out, j->number);
      return SW_OK;
    case SW_JSON_BOOL: sw_buf_puts(out, j->boolean ? "true" : "false"); return SW_OK;
    case SW_JSON_STRING: sw_buf_json_string(out, j->string, j->string_len); return SW_OK;
    default: break;
  }
  return sw_err_set(err, SW_ERR_INVALID, "canonical JSON: expected a string, number or boolean");
}

static sw_rc canon_json_value(sw_buf_t *out, const sw_json_t *j, sw_err_t *err) {
  if (j->kind != SW_JSON_ARRAY) return canon_json_scalar(out, j, err);
  sw_buf_puts(out, "[");
  for (size_t i = 0; i < j->count; i++) {
    if (i) sw_buf_puts(out, ",");
    sw_rc rc = canon_json_scalar(out, &j->items[i], err);
    if (rc != SW_OK) return rc;
  }
  sw_buf_puts(out, "]");
  return SW_OK;
}

/* Sorts pairs[n], rejects duplicate keys, prints the object. */
static sw_rc canon_pairs(canon_pair_t *pairs, size_t n, sw_buf_t *out, sw_err_t *err) {
  if (n > 1) qsort(pairs, n, sizeof *pairs, canon_pair_cmp);
  for (size_t i = 1; i < n; i++)
    if (strcmp(pairs[i - 1].key, pairs[i].key) == 0)
      return sw_err_set(err, SW_ERR_INVALID, "canonical JSON: key '%s' appears twice", pairs[i].key);
  sw_buf_puts(out, "{");
  for (size_t i = 0; i < n; i++) {
    if (i) sw_buf_puts(out, ",");
    sw_buf_json_string(out, pairs[i].key, strlen(pairs[i].key));
    sw_buf_puts(out, ":");
    sw_rc rc = pairs[i].val ? canon_value(out, pairs[i].val, err) : canon_json_value(out, pairs[i].json, err);
    if (rc != SW_OK) return rc;
  }
  sw_buf_puts(out, "}");
  if (!sw_buf_ok(out)) return sw_err_set(err, SW_ERR_NOMEM, "canonical JSON: out of memory");
  return SW_OK;
}

sw_rc sw_canon_config(const sw_kv_t *kvs, size_t n, sw_buf_t *out, sw_err_t *err) {
  canon_pair_t *pairs = calloc(n ? n : 1, sizeof *pairs);
  if (!pairs) return sw_err_set(err, SW_ERR_NOMEM, "canonical JSON: out of memory");
  for (size_t i = 0; i < n; i++) pairs[i] = (canon_pair_t){kvs[i].key, &kvs[i].val, NULL};
  sw_rc rc = canon_pairs(pairs, n, out, err);
  free(pairs);
  return rc;
}

sw_rc sw_canon_config_parts(const char *const *keys, const sw_value_t *const *vals, size_t n, sw_buf_t *out,
                            sw_err_t *err) {
  canon_pair_t *pairs = calloc(n ? n : 1, sizeof *pairs);
  if (!pairs) return sw_err_set(err, SW_ERR_NOMEM, "canonical JSON: out of memory");
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (vals[i]) pairs[m++] = (canon_pair_t){keys[i], vals[i], NULL};
  sw_rc rc = canon_pairs(pairs, m, out, err);
  free(pairs);
  return rc;
}

sw_rc sw_canon_json_object(const sw_json_t *obj, sw_buf_t *out, sw_err_t *err) {
  if (!obj || obj->kind != SW_JSON_OBJECT)
    return sw_err_set(err, SW_ERR_INVALID, "canonical JSON: expected an object");
  canon_pair_t *pairs = calloc(obj->count ? obj->count : 1, sizeof *pairs);
  if (!pairs) return sw_err_set(err, SW_ERR_NOMEM, "canonical JSON: out of memory");
  for (size_t i = 0; i < obj->count; i++) pairs[i] = (canon_pair_t){obj->keys[i], NULL, &obj->items[i]};
  sw_rc rc = canon_pairs(pairs, obj->count, out, err);
  free(pairs);
  return rc;
}

void sw_canon_hash(const char *canonical_json, size_t len, char hex[65]) {
  sw_sha256_hex(canonical_json, len, hex);
}
