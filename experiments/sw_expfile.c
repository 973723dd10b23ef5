/* sw_expfile: the experiment language (experiments/README.md) on top of the YAML node tree.
 * Every key is checked against the language (unknown -> error with a did-you-mean), every value against
 * its expected type, and every config key is defined exactly once (fixed, or by the grid), so that grid
 * expansion (sw_grid.c) only has to combine values.  Messages are "file:line:col: what was expected". */
#include "experiments/sw_expfile.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_hash.h"
#include "common/sw_names.h"
#include "experiments/sw_canon.h"
#include "experiments/sw_keys.h"
#include "experiments/sw_ytree.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- the language's fixed vocabulary */

static const char *const top_keys[] = {"name",    "description", "workload",   "settings", "measure",
                                       "timeout", "retries",     "max_trials", "grid"};
static const char *const workloads[] = {"ffn", "model", "attribution", "modularity", "test", "noop"};
static const char *const grid_keys[] = {"product", "zip", "when", "exclude"};
static const char *const when_keys[] = {"if", "product", "zip", "when", "timeout", "retries"};

#define DEFAULT_TIMEOUT_S 300.0
#define MAX_TIMEOUT_S 1.0e6
#define MAX_RETRIES 100

/* Where a config key was defined, for conflict messages. */
typedef enum key_origin { ORIG_SETTINGS = 1, ORIG_MEASURE, ORIG_GRID, ORIG_WHEN } key_origin;

typedef struct key_reg {
  const char            *key;   /* borrowed from the experiment */
  key_origin             origin;
  const sw_grid_block_t *block; /* ORIG_GRID/ORIG_WHEN: the defining block */
  int                    line, col;
} key_reg_t;

typedef struct exp_ctx {
  const char      *path; /* file name for messages */
  sw_err_t        *err;  /* where messages go */
  sw_experiment_t *e;    /* experiment being filled */
  key_reg_t       *regs; /* every definition of a config key, in parse order */
  size_t           n_regs, cap_regs; /* used / allocated regs */
  size_t           n_keys;           /* distinct keys among regs (a key may be set by several when blocks) */
  size_t           n_match_values; /* values in all if: and exclude: entries so far (bounded) */
} exp_ctx_t;

/* ---------------------------------------------------------------- messages */

static sw_rc fail_at(exp_ctx_t *c, int line, int col, sw_rc code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static sw_rc fail_at(exp_ctx_t *c, int line, int col, sw_rc code, const char *fmt, ...) {
  char msg[SW_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sw_err_set(c->err, code, "%s:%d:%d: %s", c->path, line, col, msg);
}

#define FAIL(c, node, ...) fail_at((c), (node)->line, (node)->col, SW_ERR_INVALID, __VA_ARGS__)

static sw_rc nomem(exp_ctx_t *c) { return sw_err_set(c->err, SW_ERR_NOMEM, "%s: out of memory", c->path); }

static const char *kind_name(const sw_ynode_t *n) {
  return n->kind == SW_YN_MAP ? "a mapping" : n->kind == SW_YN_SEQ ? "a list" : "a scalar";
}

/* " (did you mean 'x'?)" or "" into buf. */
static const char *hint(char *buf, size_t cap, const char *word, const char *const *cands, size_t n) {
  const char *best = sw_names_closest(word, cands, n);
  if (best)
    snprintf(buf, cap, " (did you mean '%s'?)", best);
  else
    buf[0] = '\0';
  return buf;
}

/* Comma-separated list of words for "expected one of ..." messages. */
static const char *join(char *buf, size_t cap, const char *const *words, size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used < cap; i++) {
    int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", words[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}

/* ---------------------------------------------------------------- values */

static void value_free(sw_value_t *v) {
  if (!v) return;
  free(v->s);
  for (size_t i = 0; i < v->count; i++) value_free(&v->items[i]);
  free(v->items);
  memset(v, 0, sizeof *v);
}

static void kvs_free(sw_kv_t *kvs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(kvs[i].key);
    value_free(&kvs[i].val);
  }
  free(kvs);
}

static int is_null_word(const char *s) {
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_word(const char *s, int *b) {
  static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
  for (size_t i = 0; i < 3; i++) {
    if (!strcmp(s, t[i])) return *b = 1, 1;
    if (!strcmp(s, f[i])) return *b = 0, 1;
  }
  return 0;
}

/* [-+]?[0-9]+ */
static int looks_int(const char *s) {
  if (*s == '-' || *s == '+') s++;
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (YAML 1.2 core schema float, finite forms) */
static int looks_float(const char *s) {
  size_t digits = 0;
  if (*s == '-' || *s == '+') s++;
  while (*s >= '0' && *s <= '9') s++, digits++;
  if (*s == '.') {
    s++;
    while (*s >= '0' && *s <= '9') s++, digits++;
  }
  if (!digits) return 0;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+') s++;
    if (!(*s >= '0' && *s <= '9')) return 0;
    while (*s >= '0' && *s <= '9') s++;
  }
  return *s == '\0';
}

static int looks_nonfinite(const char *s) {
  if (*s == '-' || *s == '+') s++;
  return !strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, ".nan") ||
         !strcmp(s, ".NaN") || !strcmp(s, ".NAN");
}

/* A scalar with an explicit !!int, !!float or !!bool tag: quoted or not, its text must be of that type. */
static sw_rc tagged_scalar(exp_ctx_t *c, const sw_ynode_t *n, const char *what, sw_value_t *out) {
  static const char *const names[] = {"", "!!int", "!!float", "!!bool"};
  const char *t = n->text;
  if (n->tag == SW_YTAG_BOOL && bool_word(t, &out->b)) {
    out->kind = SW_VAL_BOOL;
    return SW_OK;
  }
  if (n->tag == SW_YTAG_INT && looks_int(t)) {
    errno = 0;
    out->i = strtoll(t, NULL, 10);
    if (errno == ERANGE) return FAIL(c, n, "integer %s for %s does not fit in 64 bits", t, what);
    out->kind = SW_VAL_INT;
    return SW_OK;
  }
  if (n->tag == SW_YTAG_FLOAT && (looks_int(t) || looks_float(t)) && !looks_nonfinite(t)) {
    errno = 0;
    out->f = strtod(t, NULL);
    if (!isfinite(out->f) || (errno == ERANGE && out->f == 0.0))
      return FAIL(c, n, "number %s for %s is out of range", t, what);
    out->kind = SW_VAL_FLOAT;
    return SW_OK;
  }
  return FAIL(c, n, "%s is tagged %s but '%s' is not of that type", what, names[n->tag], t);
}

/* Resolves a scalar node to a typed value (YAML 1.2 core schema, minus null and non-finite numbers). */
static sw_rc to_scalar(exp_ctx_t *c, const sw_ynode_t *n, const char *what, sw_value_t *out) {
  memset(out, 0, sizeof *out);
  out->line = n->line;
  out->col = n->col;
  if (n->kind != SW_YN_SCALAR) return FAIL(c, n, "expected a scalar for %s, got %s", what, kind_name(n));
  if (n->tag != SW_YTAG_NONE) return tagged_scalar(c, n, what, out);
  if (n->plain) {
    if (is_null_word(n->text)) return FAIL(c, n, "expected a value for %s, got null (nothing)", what);
    if (looks_nonfinite(n->text)) return FAIL(c, n, "expected a finite number for %s, got '%s'", what, n->text);
    if (bool_word(n->text, &out->b)) {
      out->kind = SW_VAL_BOOL;
      return SW_OK;
    }
    if (looks_int(n->text)) {
      errno = 0;
      long long v = strtoll(n->text, NULL, 10);
      if (errno == ERANGE)
        return FAIL(c, n, "integer %s for %s does not fit in 64 bits", n->text, what);
      out->kind = SW_VAL_INT;
      out->i = v;
      return SW_OK;
    }
    if (looks_float(n->text)) {
      errno = 0;
      double v = strtod(n->text, NULL);
      if (!isfinite(v) || (errno == ERANGE && v == 0.0)) /* overflow, or an underflow to 0 */
        return FAIL(c, n, "number %s for %s is out of range", n->text, what);
      out->kind = SW_VAL_FLOAT;
      out->f = v;
      return SW_OK;
    }
  }
  out->kind = SW_VAL_STR;
  out->s = strdup(n->text);
  return out->s ? SW_OK : nomem(c);
}

/* A scalar, or a list of scalars. */
static sw_rc to_value(exp_ctx_t *c, const sw_ynode_t *n, const char *what, sw_value_t *out) {
  if (n->kind != SW_YN_SEQ) {
    if (n->kind == SW_YN_MAP) {
      memset(out, 0, sizeof *out);
      return FAIL(c, n, "expected a scalar or a list of scalars for %s, got a mapping", what);
    }
    return to_scalar(c, n, what, out);
  }
  memset(out, 0, sizeof *out);
  out->kind = SW_VAL_LIST;
  out->line = n->line;
  out->col = n->col;
  if (n->n > SW_EXP_MAX_LIST) return FAIL(c, n, "list for %s has %zu items, more than %d", what, n->n, SW_EXP_MAX_LIST);
  out->items = calloc(n->n ? n->n : 1, sizeof *out->items);
  if (!out->items) return nomem(c);
  for (size_t i = 0; i < n->n; i++) {
    const sw_ynode_t *item = n->kids[i];
    if (item->kind != SW_YN_SCALAR)
      return FAIL(c, item, "expected a scalar in the list for %s, got %s (lists cannot be nested here)", what,
                  kind_name(item));
    sw_rc rc = to_scalar(c, item, what, &out->items[out->count]);
    if (rc != SW_OK) return rc;
    out->count++;
  }
  return SW_OK;
}

/* Exact: 2^53 + 1 does not equal 2^53.0 (converting the integer to a double would round it onto it). */
static int int_equals_float(int64_t i, double f) {
  if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0) || f != floor(f)) return 0;
  return (int64_t)f == i;
}

int sw_value_equal(const sw_value_t *a, const sw_value_t *b) {
  int an = a->kind == SW_VAL_INT || a->kind == SW_VAL_FLOAT, bn = b->kind == SW_VAL_INT || b->kind == SW_VAL_FLOAT;
  if (an && bn) {
    if (a->kind == SW_VAL_INT && b->kind == SW_VAL_INT) return a->i == b->i;
    if (a->kind == SW_VAL_FLOAT && b->kind == SW_VAL_FLOAT) return a->f == b->f;
    return int_equals_float(a->kind == SW_VAL_INT ? a->i : b->i, a->kind == SW_VAL_FLOAT ? a->f : b->f);
  }
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
    case SW_VAL_BOOL: return a->b == b->b;
    case SW_VAL_STR: return strcmp(a->s, b->s) == 0;
    case SW_VAL_LIST:
      if (a->count != b->count) return 0;
      for (size_t i = 0; i < a->count; i++)
        if (!sw_value_equal(&a->items[i], &b->items[i])) return 0;
      return 1;
    default: return 0;
  }
}

int sw_value_matches(const sw_value_t *v, const sw_value_t *t) {
  if (sw_value_equal(v, t)) return 1;
  if (t->kind != SW_VAL_LIST) return 0;
  for (size_t i = 0; i < t->count; i++)
    if (sw_value_equal(v, &t->items[i])) return 1;
  return 0;
}

/* ---------------------------------------------------------------- mappings */

typedef struct keyed {
  const sw_ynode_t *key;
  size_t            order;
} keyed_t;

static int keyed_cmp(const void *pa, const void *pb) {
  const keyed_t *a = pa, *b = pb;
  if (a->key->len != b->key->len) return a->key->len < b->key->len ? -1 : 1;
  int r = memcmp(a->key->text, b->key->text, a->key->len);
  if (r) return r;
  return a->order < b->order ? -1 : a->order > b->order;
}

/* Checks that n is a mapping with scalar, distinct keys; when allowed != NULL, every key must be one
 * of allowed[n_allowed]. */
static sw_rc check_map(exp_ctx_t *c, const sw_ynode_t *n, const char *what, const char *const *allowed,
                       size_t n_allowed) {
  if (n->kind != SW_YN_MAP) return FAIL(c, n, "expected a mapping for %s, got %s", what, kind_name(n));
  size_t pairs = n->n / 2;
  keyed_t *ks = calloc(pairs ? pairs : 1, sizeof *ks);
  if (!ks) return nomem(c);
  sw_rc rc = SW_OK;
  for (size_t i = 0; i < pairs && rc == SW_OK; i++) {
    const sw_ynode_t *k = n->kids[2 * i];
    ks[i] = (keyed_t){k, i};
    if (k->kind != SW_YN_SCALAR) {
      rc = FAIL(c, k, "expected a scalar key in %s, got %s", what, kind_name(k));
    } else if (allowed) {
      size_t j = 0;
      while (j < n_allowed && strcmp(k->text, allowed[j]) != 0) j++;
      if (j == n_allowed) {
        char h[96], list[256];
        rc = FAIL(c, k, "unknown key '%.64s' in %s%s; expected one of: %s", k->text, what,
                  hint(h, sizeof h, k->text, allowed, n_allowed), join(list, sizeof list, allowed, n_allowed));
      }
    }
  }
  if (rc == SW_OK && pairs > 1) {
    qsort(ks, pairs, sizeof *ks, keyed_cmp);
    for (size_t i = 1; i < pairs && rc == SW_OK; i++)
      if (ks[i].key->len == ks[i - 1].key->len && !memcmp(ks[i].key->text, ks[i - 1].key->text, ks[i].key->len))
        rc = FAIL(c, ks[i].key, "duplicate key '%.64s' in %s (first at line %d, column %d)", ks[i].key->text, what,
                  ks[i - 1].key->line, ks[i - 1].key->col);
  }
  free(ks);
  return rc;
}

static const sw_ynode_t *map_get(const sw_ynode_t *n, const char *key) {
  if (n->kind != SW_YN_MAP) return NULL;
  for (size_t i = 0; i + 1 < n->n; i += 2)
    if (n->kids[i]->kind == SW_YN_SCALAR && strcmp(n->kids[i]->text, key) == 0) return n->kids[i + 1];
  return NULL;
}

/* ---------------------------------------------------------------- scalar fields */

static sw_rc get_number(exp_ctx_t *c, const sw_ynode_t *n, const char *what, double lo, double hi, double *out) {
  sw_value_t v;
  sw_rc rc = to_scalar(c, n, what, &v);
  if (rc != SW_OK) return value_free(&v), rc;
  double x = v.kind == SW_VAL_INT ? (double)v.i : v.f;
  int ok = (v.kind == SW_VAL_INT || v.kind == SW_VAL_FLOAT) && x > lo && x <= hi;
  value_free(&v);
  if (!ok) return FAIL(c, n, "expected a number in (%g, %g] for %s, got '%.64s'", lo, hi, what, n->text);
  *out = x;
  return SW_OK;
}

static sw_rc get_int(exp_ctx_t *c, const sw_ynode_t *n, const char *what, long long lo, long long hi, long long *out) {
  sw_value_t v;
  sw_rc rc = to_scalar(c, n, what, &v);
  if (rc != SW_OK) return value_free(&v), rc;
  int ok = v.kind == SW_VAL_INT && v.i >= lo && v.i <= hi;
  long long x = v.i;
  value_free(&v);
  if (!ok) return FAIL(c, n, "expected an integer in [%lld, %lld] for %s, got '%.64s'", lo, hi, what, n->text);
  *out = x;
  return SW_OK;
}

static sw_rc get_text(exp_ctx_t *c, const sw_ynode_t *n, const char *what, char **out) {
  if (n->kind != SW_YN_SCALAR) return FAIL(c, n, "expected text for %s, got %s", what, kind_name(n));
  *out = strdup(n->text);
  return *out ? SW_OK : nomem(c);
}

static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-' || *s == '.'))
      return 0;
  return 1;
}

/* Config keys: [a-z][a-z0-9_]*, at most SW_EXP_MAX_KEY bytes. */
static int config_key_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > SW_EXP_MAX_KEY || !(*s >= 'a' && *s <= 'z')) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
  return 1;
}

/* ---------------------------------------------------------------- measurement keys */

/* The measurement keys are the rows of the shared "measure" table (experiments/sw_keys_table.c).  A value is
 * checked against the row the workload uses (the model workload narrows repetitions), and the rows with a
 * default have it recorded in every config so the hash covers it; kernel_isa and exclusive have none (absent
 * means auto / node, applied by the runners), so files written before those keys existed kept their hashes. */
static const sw_keydef_t *measure_find(const char *key) { return sw_keytable_find(sw_keytable("measure"), key); }

/* Any value given to a measurement key (fixed or in the grid) must fit the workload's row. */
static sw_rc check_measure_value(exp_ctx_t *c, const char *key, const sw_value_t *v) {
  const sw_keydef_t *m = measure_find(key);
  if (!m) return SW_OK;
  const sw_keydef_t *w = sw_keys_lookup(c->e->workload, key);
  char why[800];
  if (!sw_keys_check_value(w ? w : m, v, why, sizeof why)) return SW_OK;
  return fail_at(c, v->line, v->col, SW_ERR_INVALID, "%s", why);
}

/* The built-in default of measurement key m (an owned copy). */
static sw_rc measure_default(const sw_keydef_t *m, sw_value_t *v) {
  memset(v, 0, sizeof *v);
  if (m->type == SW_KT_INT || m->type == SW_KT_INTS) {
    v->kind = SW_VAL_INT;
    v->i = strtoll(m->def, NULL, 10);
    return SW_OK;
  }
  v->kind = SW_VAL_STR;
  return (v->s = strdup(m->def)) ? SW_OK : SW_ERR_NOMEM;
}

/* ---------------------------------------------------------------- key registry */

static const key_reg_t *reg_find(const exp_ctx_t *c, const char *key) {
  for (size_t i = 0; i < c->n_regs; i++)
    if (!strcmp(c->regs[i].key, key)) return &c->regs[i];
  return NULL;
}

static const char *origin_name(key_origin o) {
  switch (o) {
    case ORIG_SETTINGS: return "fixed in settings";
    case ORIG_MEASURE: return "fixed in measure";
    case ORIG_GRID: return "a grid axis";
    case ORIG_WHEN: return "set by a when block";
  }
  return "defined";
}

/* Records a definition of key, refusing a second definition unless both are in different when blocks
 * (which may apply to disjoint trials; sw_grid checks the overlap). */
static sw_rc reg_add(exp_ctx_t *c, const char *key, key_origin o, const sw_grid_block_t *block, const sw_ynode_t *at) {
  int known = 0;
  for (size_t i = 0; i < c->n_regs; i++) {
    const key_reg_t *r = &c->regs[i];
    if (strcmp(r->key, key) != 0) continue;
    known = 1;
    if (o == ORIG_WHEN && r->origin == ORIG_WHEN && r->block != block) continue;
    return FAIL(c, at, "key '%s' is already %s at line %d, column %d; a key is defined once (fixed, or by the grid)",
                key, origin_name(r->origin), r->line, r->col);
  }
  if (!known && c->n_keys >= SW_EXP_MAX_KEYS)
    return FAIL(c, at, "more than %d distinct config keys", SW_EXP_MAX_KEYS);
  if (c->n_regs == c->cap_regs) {
    size_t cap = c->cap_regs ? c->cap_regs * 2 : 32;
    key_reg_t *r = realloc(c->regs, cap * sizeof *r);
    if (!r) return nomem(c);
    c->regs = r;
    c->cap_regs = cap;
  }
  if (c->n_regs >= SW_EXP_MAX_KEYS * 4)
    return FAIL(c, at, "more than %d definitions of config keys (when blocks included)", SW_EXP_MAX_KEYS * 4);
  c->regs[c->n_regs++] = (key_reg_t){key, o, block, at->line, at->col};
  c->n_keys += !known;
  return SW_OK;
}

/* Did-you-mean over all registered keys. */
static const char *reg_hint(const exp_ctx_t *c, char *buf, size_t cap, const char *word) {
  const char **names = calloc(c->n_regs ? c->n_regs : 1, sizeof *names);
  buf[0] = '\0';
  if (!names) return buf;
  for (size_t i = 0; i < c->n_regs; i++) names[i] = c->regs[i].key;
  hint(buf, cap, word, names, c->n_regs);
  free(names);
  return buf;
}

/* A config key as written in the file: syntax, and not reserved. */
static sw_rc check_config_key(exp_ctx_t *c, const sw_ynode_t *k, const char *what) {
  if (!config_key_ok(k->text))
    return FAIL(c, k, "bad key '%.64s' in %s: expected lowercase letters, digits and '_', starting with a letter "
                      "(at most %d bytes)", k->text, what, SW_EXP_MAX_KEY);
  if (!strcmp(k->text, "workload"))
    return FAIL(c, k, "'workload' is set at the top level of the file, not in %s", what);
  return SW_OK;
}

/* ---------------------------------------------------------------- settings and measure */

static sw_rc add_fixed(exp_ctx_t *c, const char *key, sw_value_t *v, const sw_ynode_t *at) {
  sw_experiment_t *e = c->e;
  sw_kv_t *f = realloc(e->fixed, (e->n_fixed + 1) * sizeof *f);
  if (!f) return value_free(v), nomem(c);
  e->fixed = f;
  char *k = strdup(key);
  if (!k) return value_free(v), nomem(c);
  e->fixed[e->n_fixed].key = k;
  e->fixed[e->n_fixed].val = *v;
  e->fixed[e->n_fixed].key_line = at ? at->line : 0;
  e->fixed[e->n_fixed].key_col = at ? at->col : 0;
  e->n_fixed++;
  memset(v, 0, sizeof *v);
  return SW_OK;
}

static sw_rc parse_settings(exp_ctx_t *c, const sw_ynode_t *n) {
  sw_rc rc = check_map(c, n, "settings", NULL, 0);
  for (size_t i = 0; rc == SW_OK && i + 1 < n->n; i += 2) {
    const sw_ynode_t *k = n->kids[i];
    rc = check_config_key(c, k, "settings");
    if (rc == SW_OK && measure_find(k->text))
      rc = FAIL(c, k, "'%s' is a measurement setting: put it under measure:", k->text);
    sw_value_t v;
    if (rc == SW_OK) {
      char what[96];
      snprintf(what, sizeof what, "'%s'", k->text);
      rc = to_value(c, n->kids[i + 1], what, &v);
      if (rc == SW_OK) rc = add_fixed(c, k->text, &v, k);
      value_free(&v);
    }
    if (rc == SW_OK) rc = reg_add(c, c->e->fixed[c->e->n_fixed - 1].key, ORIG_SETTINGS, NULL, k);
  }
  return rc;
}

static sw_rc parse_measure(exp_ctx_t *c, const sw_ynode_t *n) {
  const sw_keytable_t *mt = sw_keytable("measure");
  const char *measure_names[16];
  for (size_t i = 0; i < mt->n && i < NELEM(measure_names); i++) measure_names[i] = mt->keys[i].name;
  sw_rc rc = check_map(c, n, "measure", measure_names, mt->n < NELEM(measure_names) ? mt->n : NELEM(measure_names));
  for (size_t i = 0; rc == SW_OK && i + 1 < n->n; i += 2) {
    const sw_ynode_t *k = n->kids[i];
    char what[96];
    snprintf(what, sizeof what, "'%s'", k->text);
    sw_value_t v;
    rc = to_value(c, n->kids[i + 1], what, &v);
    if (rc == SW_OK) rc = check_measure_value(c, k->text, &v);
    if (rc == SW_OK) rc = add_fixed(c, k->text, &v, k);
    value_free(&v);
    if (rc == SW_OK) rc = reg_add(c, c->e->fixed[c->e->n_fixed - 1].key, ORIG_MEASURE, NULL, k);
  }
  return rc;
}

/* Adds the default of every measurement key that nothing defined to the fixed settings.  A measurement key the
 * grid sets (perhaps only in a when block) gets its default per trial, in each trial that does not set it
 * (experiments/sw_grid.c, find_measure_fills). */
static sw_rc fill_measure_defaults(exp_ctx_t *c) {
  const sw_keytable_t *mt = sw_keytable("measure");
  for (size_t i = 0; i < mt->n; i++) {
    if (reg_find(c, mt->keys[i].name) || !mt->keys[i].def) continue; /* given, or no recorded default */
    sw_value_t v;
    if (measure_default(&mt->keys[i], &v) != SW_OK) return nomem(c);
    sw_rc rc = add_fixed(c, mt->keys[i].name, &v, NULL);
    if (rc != SW_OK) return rc;
  }
  return SW_OK;
}

/* ---------------------------------------------------------------- grid */

static void match_free(sw_match_t *m) {
  kvs_free(m->terms, m->n);
  memset(m, 0, sizeof *m);
}

static void block_free(sw_grid_block_t *b) {
  kvs_free(b->axes, b->n_axes);
  for (size_t i = 0; i < b->n_zips; i++) kvs_free(b->zips[i].keys, b->zips[i].n);
  free(b->zips);
  for (size_t i = 0; i < b->n_when; i++) block_free(&b->when[i]);
  free(b->when);
  match_free(&b->cond);
  memset(b, 0, sizeof *b);
}

/* {range: [start, stop]} or {range: [start, stop, step]}: integers start, start+step, ... < stop (step > 0)
 * or > stop (step < 0), like Python's range. */
static sw_rc parse_range(exp_ctx_t *c, const sw_ynode_t *k, const sw_ynode_t *n, sw_value_t *out) {
  static const char *const range_keys[] = {"range"};
  sw_rc rc = check_map(c, n, "a range", range_keys, 1);
  if (rc != SW_OK) return rc;
  const sw_ynode_t *r = map_get(n, "range");
  if (!r || r->kind != SW_YN_SEQ || r->n < 2 || r->n > 3)
    return FAIL(c, r ? r : n, "expected range: [start, stop] or [start, stop, step] (integers) for grid key '%s'",
                k->text);
  long long v[3] = {0, 0, 1};
  for (size_t i = 0; i < r->n && rc == SW_OK; i++)
    rc = get_int(c, r->kids[i], "a range bound", -(1LL << 52), 1LL << 52, &v[i]);
  if (rc != SW_OK) return rc;
  if (v[2] == 0) return FAIL(c, r->kids[2], "range step must not be 0");
  long long span = v[2] > 0 ? v[1] - v[0] : v[0] - v[1], step = v[2] > 0 ? v[2] : -v[2];
  long long count = span <= 0 ? 0 : (span + step - 1) / step;
  if (count == 0) return FAIL(c, r, "range for grid key '%s' is empty: expected at least one value", k->text);
  if (count > SW_EXP_MAX_LIST)
    return FAIL(c, r, "range for grid key '%s' has %lld values, more than %d", k->text, count, SW_EXP_MAX_LIST);
  out->items = calloc((size_t)count, sizeof *out->items);
  if (!out->items) return nomem(c);
  for (long long i = 0; i < count; i++)
    out->items[out->count++] = (sw_value_t){.kind = SW_VAL_INT, .i = v[0] + i * v[2], .line = r->line, .col = r->col};
  for (size_t i = 0; i < out->count; i++) {
    rc = check_measure_value(c, k->text, &out->items[i]);
    if (rc != SW_OK) return rc;
  }
  return SW_OK;
}

/* Canonical text of one value, for sorting (equal text <=> the value gives the same config). */
typedef struct value_text {
  char             *text; /* owned */
  const sw_value_t *val;
} value_text_t;

static int value_text_cmp(const void *a, const void *b) {
  const value_text_t *x = a, *y = b;
  int r = strcmp(x->text, y->text);
  if (r) return r;
  if (x->val->line != y->val->line) return x->val->line < y->val->line ? -1 : 1; /* file order among equals */
  return (x->val->col > y->val->col) - (x->val->col < y->val->col);
}

/* {"v":<value>} in canonical form (allocated), or NULL on OOM. */
static char *value_canon(const sw_value_t *v) {
  static const char *const one_key[] = {"v"};
  sw_buf_t b = SW_BUF_INIT;
  char *text = sw_canon_config_parts(one_key, &v, 1, &b, NULL) == SW_OK ? sw_buf_take(&b) : NULL;
  sw_buf_free(&b);
  return text;
}

/* Refuses a repeated value in an axis, in O(n log n) (axes may hold up to SW_EXP_MAX_LIST values). */
static sw_rc check_distinct(exp_ctx_t *c, const char *key, const sw_value_t *list) {
  value_text_t *vt = calloc(list->count ? list->count : 1, sizeof *vt);
  if (!vt) return nomem(c);
  sw_rc rc = SW_OK;
  size_t made = 0;
  for (; made < list->count && rc == SW_OK; made++) {
    vt[made] = (value_text_t){value_canon(&list->items[made]), &list->items[made]};
    if (!vt[made].text) rc = nomem(c);
  }
  if (rc == SW_OK) qsort(vt, list->count, sizeof *vt, value_text_cmp);
  for (size_t i = 1; rc == SW_OK && i < list->count; i++)
    if (strcmp(vt[i].text, vt[i - 1].text) == 0)
      rc = fail_at(c, vt[i].val->line, vt[i].val->col, SW_ERR_INVALID,
                   "value repeated in grid key '%s' (also at line %d, column %d): trials would repeat", key,
                   vt[i - 1].val->line, vt[i - 1].val->col);
  for (size_t i = 0; i < made; i++) free(vt[i].text);
  free(vt);
  return rc;
}

/* A list of grid values for key: a non-empty YAML list, each item a scalar or a list of scalars,
 * all distinct (when distinct != 0), each valid for the key when it is a measurement key. */
static sw_rc parse_values(exp_ctx_t *c, const sw_ynode_t *k, const sw_ynode_t *n, int distinct, sw_value_t *out) {
  memset(out, 0, sizeof *out);
  out->kind = SW_VAL_LIST;
  out->line = n->line;
  out->col = n->col;
  if (n->kind == SW_YN_MAP) return parse_range(c, k, n, out);
  if (n->kind != SW_YN_SEQ)
    return FAIL(c, n, "expected a list of values for grid key '%s', got %s (put a fixed value under settings:)",
                k->text, kind_name(n));
  if (n->n == 0) return FAIL(c, n, "grid key '%s' has an empty list of values: expected at least one", k->text);
  if (n->n > SW_EXP_MAX_LIST) return FAIL(c, n, "grid key '%s' has more than %d values", k->text, SW_EXP_MAX_LIST);
  out->items = calloc(n->n, sizeof *out->items);
  if (!out->items) return nomem(c);
  char what[96];
  snprintf(what, sizeof what, "grid key '%s'", k->text);
  for (size_t i = 0; i < n->n; i++) {
    sw_rc rc = to_value(c, n->kids[i], what, &out->items[i]);
    if (rc != SW_OK) return value_free(&out->items[i]), rc;
    out->count++;
    rc = check_measure_value(c, k->text, &out->items[i]);
    if (rc != SW_OK) return rc;
  }
  return distinct ? check_distinct(c, k->text, out) : SW_OK;
}

static sw_rc parse_product(exp_ctx_t *c, const sw_ynode_t *n, sw_grid_block_t *b, key_origin o) {
  sw_rc rc = check_map(c, n, "product", NULL, 0);
  if (rc != SW_OK) return rc;
  b->axes = calloc(n->n / 2 + 1, sizeof *b->axes);
  if (!b->axes) return nomem(c);
  for (size_t i = 0; rc == SW_OK && i + 1 < n->n; i += 2) {
    const sw_ynode_t *k = n->kids[i];
    rc = check_config_key(c, k, "product");
    if (rc != SW_OK) break;
    sw_kv_t *kv = &b->axes[b->n_axes];
    if (!(kv->key = strdup(k->text))) return nomem(c);
    kv->key_line = k->line, kv->key_col = k->col;
    b->n_axes++;
    rc = parse_values(c, k, n->kids[i + 1], 1, &kv->val);
    if (rc == SW_OK) rc = reg_add(c, kv->key, o, b, k);
  }
  return rc;
}

static sw_rc parse_zip_group(exp_ctx_t *c, const sw_ynode_t *n, sw_grid_block_t *b, key_origin o) {
  sw_rc rc = check_map(c, n, "a zip group", NULL, 0);
  if (rc != SW_OK) return rc;
  if (n->n < 2) return FAIL(c, n, "empty zip group: expected keys with equal-length lists of values");
  sw_zip_t *z = &b->zips[b->n_zips++];
  z->line = n->line;
  z->col = n->col;
  z->keys = calloc(n->n / 2, sizeof *z->keys);
  if (!z->keys) return nomem(c);
  for (size_t i = 0; rc == SW_OK && i + 1 < n->n; i += 2) {
    const sw_ynode_t *k = n->kids[i];
    rc = check_config_key(c, k, "zip");
    if (rc != SW_OK) break;
    sw_kv_t *kv = &z->keys[z->n];
    if (!(kv->key = strdup(k->text))) return nomem(c);
    kv->key_line = k->line, kv->key_col = k->col;
    z->n++;
    rc = parse_values(c, k, n->kids[i + 1], 0, &kv->val);
    if (rc == SW_OK && i == 0) z->length = kv->val.count;
    if (rc == SW_OK && kv->val.count != z->length)
      rc = FAIL(c, n->kids[i + 1], "zipped key '%s' has %zu values but '%s' has %zu: zipped lists must have equal "
                "length", k->text, kv->val.count, z->keys[0].key, z->length);
    if (rc == SW_OK) rc = reg_add(c, kv->key, o, b, k);
  }
  return rc;
}

/* zip: one group (a mapping) or a list of groups. */
static sw_rc parse_zip(exp_ctx_t *c, const sw_ynode_t *n, sw_grid_block_t *b, key_origin o) {
  size_t groups = n->kind == SW_YN_SEQ ? n->n : 1;
  if (n->kind == SW_YN_SCALAR) return FAIL(c, n, "expected a mapping or a list of mappings for zip, got a scalar");
  if (groups == 0) return FAIL(c, n, "empty zip list: expected at least one group");
  b->zips = calloc(groups, sizeof *b->zips);
  if (!b->zips) return nomem(c);
  if (n->kind == SW_YN_MAP) return parse_zip_group(c, n, b, o);
  sw_rc rc = SW_OK;
  for (size_t i = 0; rc == SW_OK && i < groups; i++) rc = parse_zip_group(c, n->kids[i], b, o);
  return rc;
}

/* A condition or exclusion: a non-empty mapping key -> scalar or list ("any of").  grid_only: keys
 * must be set by the grid (exclusions); otherwise any key defined so far (when conditions). */
static sw_rc parse_match(exp_ctx_t *c, const sw_ynode_t *n, const char *what, int grid_only, sw_match_t *m) {
  sw_rc rc = check_map(c, n, what, NULL, 0);
  if (rc != SW_OK) return rc;
  if (n->n < 2) return FAIL(c, n, "empty %s: expected at least one key: value", what);
  m->line = n->line;
  m->col = n->col;
  m->terms = calloc(n->n / 2, sizeof *m->terms);
  if (!m->terms) return nomem(c);
  for (size_t i = 0; rc == SW_OK && i + 1 < n->n; i += 2) {
    const sw_ynode_t *k = n->kids[i];
    const key_reg_t *r = reg_find(c, k->text);
    char h[96];
    if (!r) {
      return FAIL(c, k, "%s names key '%.64s', which is not defined %s%s", what, k->text,
                  grid_only ? "by the grid" : "before this point", reg_hint(c, h, sizeof h, k->text));
    }
    if (grid_only && r->origin != ORIG_GRID && r->origin != ORIG_WHEN)
      return FAIL(c, k, "%s names key '%s', which is %s: only grid keys vary, so only they can be excluded", what,
                  k->text, origin_name(r->origin));
    sw_kv_t *kv = &m->terms[m->n];
    if (!(kv->key = strdup(k->text))) return nomem(c);
    m->n++;
    char w[96];
    snprintf(w, sizeof w, "'%s' in %s", k->text, what);
    rc = to_value(c, n->kids[i + 1], w, &kv->val);
    c->n_match_values += kv->val.kind == SW_VAL_LIST ? kv->val.count : 1;
    if (rc == SW_OK && c->n_match_values > SW_EXP_MAX_MATCH_VALUES)
      rc = FAIL(c, n->kids[i + 1], "more than %d values in all if: conditions and exclude: entries together",
                SW_EXP_MAX_MATCH_VALUES);
  }
  return rc;
}

static sw_rc parse_block(exp_ctx_t *c, const sw_ynode_t *n, sw_grid_block_t *b, int depth);

static sw_rc parse_when_entry(exp_ctx_t *c, const sw_ynode_t *n, sw_grid_block_t *b, int depth) {
  b->line = n->line;
  b->col = n->col;
  b->retries = -1;
  sw_rc rc = check_map(c, n, "a when block", when_keys, NELEM(when_keys));
  if (rc != SW_OK) return rc;
  const sw_ynode_t *cond = map_get(n, "if");
  if (!cond) return FAIL(c, n, "when block without 'if:': expected e.g. if: {method: [topk, cats]}");
  rc = parse_match(c, cond, "if condition", 0, &b->cond);
  const sw_ynode_t *t = map_get(n, "timeout"), *r = map_get(n, "retries");
  if (rc == SW_OK && t) rc = get_number(c, t, "timeout (seconds)", 0, MAX_TIMEOUT_S, &b->timeout_s);
  long long retries = 0;
  if (rc == SW_OK && r && (rc = get_int(c, r, "retries", 0, MAX_RETRIES, &retries)) == SW_OK) b->retries = (int)retries;
  if (rc == SW_OK) rc = parse_block(c, n, b, depth);
  return rc;
}

static sw_rc parse_when(exp_ctx_t *c, const sw_ynode_t *n, sw_grid_block_t *b, int depth) {
  if (depth >= SW_EXP_MAX_WHEN_DEPTH) return FAIL(c, n, "when blocks nested deeper than %d", SW_EXP_MAX_WHEN_DEPTH);
  if (n->kind != SW_YN_SEQ) return FAIL(c, n, "expected a list of when blocks, got %s", kind_name(n));
  if (n->n == 0) return FAIL(c, n, "empty when list: expected at least one block");
  if (n->n > SW_EXP_MAX_BLOCKS) return FAIL(c, n, "more than %d when blocks in one list", SW_EXP_MAX_BLOCKS);
  b->when = calloc(n->n, sizeof *b->when);
  if (!b->when) return nomem(c);
  sw_rc rc = SW_OK;
  for (size_t i = 0; rc == SW_OK && i < n->n; i++) {
    b->n_when++;
    rc = parse_when_entry(c, n->kids[i], &b->when[i], depth + 1);
  }
  return rc;
}

/* The grid-defining keys of a block (top block or when entry; the caller checked the key set). */
static sw_rc parse_block(exp_ctx_t *c, const sw_ynode_t *n, sw_grid_block_t *b, int depth) {
  key_origin o = depth == 0 ? ORIG_GRID : ORIG_WHEN;
  const sw_ynode_t *p = map_get(n, "product"), *z = map_get(n, "zip"), *w = map_get(n, "when");
  sw_rc rc = SW_OK;
  if (p) rc = parse_product(c, p, b, o);
  if (rc == SW_OK && z) rc = parse_zip(c, z, b, o);
  if (rc == SW_OK && depth > 0 && !p && !z && !w && b->timeout_s == 0 && b->retries < 0)
    rc = FAIL(c, n, "when block sets nothing: expected product:, zip:, when:, timeout: or retries:");
  if (rc == SW_OK && w) rc = parse_when(c, w, b, depth);
  return rc;
}

static sw_rc parse_exclude(exp_ctx_t *c, const sw_ynode_t *n) {
  if (n->kind != SW_YN_SEQ) return FAIL(c, n, "expected a list of partial configs for exclude, got %s", kind_name(n));
  if (n->n > SW_EXP_MAX_BLOCKS) return FAIL(c, n, "more than %d exclude entries", SW_EXP_MAX_BLOCKS);
  sw_experiment_t *e = c->e;
  e->exclude = calloc(n->n ? n->n : 1, sizeof *e->exclude);
  if (!e->exclude) return nomem(c);
  sw_rc rc = SW_OK;
  for (size_t i = 0; rc == SW_OK && i < n->n; i++) {
    e->n_exclude++;
    rc = parse_match(c, n->kids[i], "exclude entry", 1, &e->exclude[i]);
  }
  return rc;
}

static sw_rc parse_grid(exp_ctx_t *c, const sw_ynode_t *n) {
  c->e->grid.line = n->line;
  c->e->grid.col = n->col;
  c->e->grid.retries = -1;
  sw_rc rc = check_map(c, n, "grid", grid_keys, NELEM(grid_keys));
  if (rc == SW_OK) rc = parse_block(c, n, &c->e->grid, 0);
  const sw_ynode_t *x = rc == SW_OK ? map_get(n, "exclude") : NULL;
  if (x) rc = parse_exclude(c, x);
  return rc;
}

/* ---------------------------------------------------------------- condition values */

/* Calls fn on every value key can take in block b (axes and zip items, nested blocks included);
 * stops and returns 1 when fn does. */
typedef int (*value_fn)(const sw_value_t *v, void *arg);

static int block_values(const sw_grid_block_t *b, const char *key, value_fn fn, void *arg) {
  for (size_t i = 0; i < b->n_axes; i++)
    if (!strcmp(b->axes[i].key, key))
      for (size_t j = 0; j < b->axes[i].val.count; j++)
        if (fn(&b->axes[i].val.items[j], arg)) return 1;
  for (size_t z = 0; z < b->n_zips; z++)
    for (size_t i = 0; i < b->zips[z].n; i++)
      if (!strcmp(b->zips[z].keys[i].key, key))
        for (size_t j = 0; j < b->zips[z].keys[i].val.count; j++)
          if (fn(&b->zips[z].keys[i].val.items[j], arg)) return 1;
  for (size_t w = 0; w < b->n_when; w++)
    if (block_values(&b->when[w], key, fn, arg)) return 1;
  return 0;
}

static int experiment_values(const sw_experiment_t *e, const char *key, value_fn fn, void *arg) {
  for (size_t i = 0; i < e->n_fixed; i++)
    if (!strcmp(e->fixed[i].key, key) && fn(&e->fixed[i].val, arg)) return 1;
  return block_values(&e->grid, key, fn, arg);
}

/* Sorted canonical texts of every value one key can take, built once per key named in a condition. */
typedef struct key_values {
  const char   *key;  /* borrowed */
  value_text_t *vt;   /* vt[n], sorted by text, owned */
  size_t        n, cap;
  int           oom;
} key_values_t;

typedef struct cond_ctx {
  exp_ctx_t    *c;
  key_values_t *kv; /* kv[n_kv] */
  size_t        n_kv;
} cond_ctx_t;

static int collect_value(const sw_value_t *v, void *arg) {
  key_values_t *k = arg;
  if (k->n == k->cap) {
    size_t cap = k->cap ? k->cap * 2 : 16;
    value_text_t *vt = realloc(k->vt, cap * sizeof *vt);
    if (!vt) return k->oom = 1;
    k->vt = vt;
    k->cap = cap;
  }
  char *text = value_canon(v);
  if (!text) return k->oom = 1;
  k->vt[k->n++] = (value_text_t){text, v};
  return 0;
}

static int text_cmp(const void *a, const void *b) {
  return strcmp(((const value_text_t *)a)->text, ((const value_text_t *)b)->text);
}

static const key_values_t *key_values(cond_ctx_t *cc, const char *key) {
  for (size_t i = 0; i < cc->n_kv; i++)
    if (!strcmp(cc->kv[i].key, key)) return &cc->kv[i];
  key_values_t *grown = realloc(cc->kv, (cc->n_kv + 1) * sizeof *grown);
  if (!grown) return NULL;
  cc->kv = grown;
  key_values_t *k = &cc->kv[cc->n_kv++];
  *k = (key_values_t){.key = key};
  experiment_values(cc->c->e, key, collect_value, k);
  if (k->oom) return NULL;
  qsort(k->vt, k->n, sizeof *k->vt, text_cmp);
  return k;
}

/* 1 when key can take value t (-1 on OOM). */
static int value_possible(cond_ctx_t *cc, const char *key, const sw_value_t *t) {
  const key_values_t *k = key_values(cc, key);
  char *text = value_canon(t);
  if (!k || !text) return free(text), -1;
  value_text_t probe = {text, t};
  int found = bsearch(&probe, k->vt, k->n, sizeof probe, text_cmp) != NULL;
  free(text);
  return found;
}

/* Closest string value of a key (for did-you-mean on condition values). */
typedef struct closest_str {
  const char *word;
  const char *best;
  size_t      best_d;
} closest_str_t;

static int value_closer(const sw_value_t *v, void *arg) {
  closest_str_t *c = arg;
  if (v->kind != SW_VAL_STR) return 0;
  size_t d = sw_names_distance(c->word, v->s), limit = strlen(c->word) <= 4 ? 1 : 2;
  if (d <= limit && d < c->best_d) {
    c->best = v->s;
    c->best_d = d;
  }
  return 0;
}

/* One value of a condition or exclusion: some trial must be able to have it. */
static sw_rc check_term_value(cond_ctx_t *cc, const char *key, const sw_value_t *t, const char *what) {
  int ok = value_possible(cc, key, t);
  if (ok < 0) return nomem(cc->c);
  if (ok) return SW_OK;
  closest_str_t near = {t->kind == SW_VAL_STR ? t->s : "", NULL, (size_t)-1};
  if (t->kind == SW_VAL_STR) experiment_values(cc->c->e, key, value_closer, &near);
  char h[96] = "";
  if (near.best) snprintf(h, sizeof h, " (did you mean '%.64s'?)", near.best);
  return fail_at(cc->c, t->line, t->col, SW_ERR_INVALID, "%s: no trial can have this value of '%s'%s", what, key, h);
}

static sw_rc check_match_values(cond_ctx_t *cc, const sw_match_t *m, const char *what) {
  sw_rc rc = SW_OK;
  for (size_t i = 0; i < m->n && rc == SW_OK; i++) {
    const sw_kv_t *t = &m->terms[i];
    if (t->val.kind != SW_VAL_LIST) {
      rc = check_term_value(cc, t->key, &t->val, what);
      continue;
    }
    int whole = value_possible(cc, t->key, &t->val); /* a list value itself, else "any of" its items */
    if (whole < 0) rc = nomem(cc->c);
    for (size_t j = 0; !whole && j < t->val.count && rc == SW_OK; j++)
      rc = check_term_value(cc, t->key, &t->val.items[j], what);
  }
  return rc;
}

static sw_rc check_block_conditions(cond_ctx_t *cc, const sw_grid_block_t *b) {
  sw_rc rc = SW_OK;
  for (size_t i = 0; i < b->n_when && rc == SW_OK; i++) {
    rc = check_match_values(cc, &b->when[i].cond, "if condition");
    if (rc == SW_OK) rc = check_block_conditions(cc, &b->when[i]);
  }
  return rc;
}

/* Typos in condition and exclusion values are caught here, with a position and a suggestion; the
 * grid expansion then only reports combinations that never occur together. */
static sw_rc check_conditions(exp_ctx_t *c) {
  cond_ctx_t cc = {.c = c};
  sw_rc rc = check_block_conditions(&cc, &c->e->grid);
  for (size_t i = 0; i < c->e->n_exclude && rc == SW_OK; i++)
    rc = check_match_values(&cc, &c->e->exclude[i], "exclude entry");
  for (size_t i = 0; i < cc.n_kv; i++) {
    for (size_t j = 0; j < cc.kv[i].n; j++) free(cc.kv[i].vt[j].text);
    free(cc.kv[i].vt);
  }
  free(cc.kv);
  return rc;
}

/* ---------------------------------------------------------------- top level */

static sw_rc parse_header(exp_ctx_t *c, const sw_ynode_t *root) {
  sw_experiment_t *e = c->e;
  const sw_ynode_t *name = map_get(root, "name"), *wl = map_get(root, "workload");
  if (!name) return FAIL(c, root, "missing key 'name': expected e.g. name: my_sweep");
  if (!wl) return FAIL(c, root, "missing key 'workload': expected one of ffn, model, attribution, modularity, test, noop");
  sw_rc rc = get_text(c, name, "name", &e->name);
  if (rc == SW_OK && !name_ok(e->name))
    rc = FAIL(c, name, "expected a name of 1-64 letters, digits, '_', '-' or '.', got '%.64s'", e->name);
  if (rc == SW_OK) rc = get_text(c, wl, "workload", &e->workload);
  if (rc != SW_OK) return rc;
  size_t i = 0;
  while (i < NELEM(workloads) && strcmp(e->workload, workloads[i]) != 0) i++;
  char h[96];
  if (i == NELEM(workloads))
    return FAIL(c, wl, "unknown workload '%.64s'%s; expected one of ffn, model, attribution, modularity, test, noop", e->workload,
                hint(h, sizeof h, e->workload, workloads, NELEM(workloads)));
  const sw_ynode_t *d = map_get(root, "description");
  e->description = NULL;
  rc = d ? get_text(c, d, "description", &e->description) : SW_OK;
  if (rc == SW_OK && !e->description && !(e->description = strdup(""))) rc = nomem(c);
  return rc;
}

static sw_rc parse_policy(exp_ctx_t *c, const sw_ynode_t *root) {
  sw_experiment_t *e = c->e;
  const sw_ynode_t *t = map_get(root, "timeout"), *r = map_get(root, "retries"), *m = map_get(root, "max_trials");
  e->timeout_s = DEFAULT_TIMEOUT_S;
  e->retries = 0;
  e->max_trials = SW_EXP_DEFAULT_MAX_TRIALS;
  sw_rc rc = t ? get_number(c, t, "timeout (seconds)", 0, MAX_TIMEOUT_S, &e->timeout_s) : SW_OK;
  long long v;
  if (rc == SW_OK && r && (rc = get_int(c, r, "retries", 0, MAX_RETRIES, &v)) == SW_OK) e->retries = (int)v;
  if (rc == SW_OK && m && (rc = get_int(c, m, "max_trials", 1, SW_EXP_HARD_MAX_TRIALS, &v)) == SW_OK)
    e->max_trials = (size_t)v;
  return rc;
}

static sw_rc parse_root(exp_ctx_t *c, const sw_ynode_t *root) {
  sw_rc rc = check_map(c, root, "the experiment file", top_keys, NELEM(top_keys));
  if (rc != SW_OK) return rc; /* map_get needs scalar keys */
  rc = parse_header(c, root);
  if (rc == SW_OK) rc = parse_policy(c, root);
  sw_value_t wl = {.kind = SW_VAL_STR, .s = rc == SW_OK ? strdup(c->e->workload) : NULL};
  if (rc == SW_OK) rc = wl.s ? add_fixed(c, "workload", &wl, NULL) : nomem(c);
  const sw_ynode_t *s = map_get(root, "settings"), *m = map_get(root, "measure"), *g = map_get(root, "grid");
  if (rc == SW_OK && s) rc = parse_settings(c, s);
  if (rc == SW_OK && m) rc = parse_measure(c, m);
  if (rc == SW_OK && g) rc = parse_grid(c, g);
  if (rc == SW_OK) rc = fill_measure_defaults(c);
  if (rc == SW_OK) rc = check_conditions(c);
  return rc;
}

void sw_experiment_free(sw_experiment_t *e) {
  if (!e) return;
  free(e->path);
  free(e->name);
  free(e->description);
  free(e->workload);
  free(e->spec_text);
  kvs_free(e->fixed, e->n_fixed);
  block_free(&e->grid);
  for (size_t i = 0; i < e->n_exclude; i++) match_free(&e->exclude[i]);
  free(e->exclude);
  free(e);
}

static sw_rc load_tree(exp_ctx_t *c, sw_ytree_t *t) {
  sw_experiment_t *e = c->e;
  sw_rc rc = sw_ytree_parse(t, c->path, e->spec_text, e->spec_len, c->err);
  if (rc != SW_OK) return rc;
  if (!t->root)
    return sw_err_set(c->err, SW_ERR_INVALID, "%s:1:1: the file is empty: expected a mapping with name, workload, "
                      "settings, measure and grid", c->path);
  return parse_root(c, t->root);
}

sw_rc sw_expfile_load_mem(const char *name, const char *text, size_t len, sw_experiment_t **out, sw_err_t *err) {
  *out = NULL;
  sw_err_clear(err);
  if (!name) name = "<memory>";
  if (len > SW_EXP_MAX_FILE_BYTES)
    return sw_err_set(err, SW_ERR_PARSE, "%s:1:1: file of %zu bytes is larger than the limit of %u bytes", name, len,
                      SW_EXP_MAX_FILE_BYTES);
  sw_experiment_t *e = calloc(1, sizeof *e);
  if (!e) return sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", name);
  exp_ctx_t c = {.path = name, .err = err, .e = e};
  sw_rc rc = SW_OK;
  e->path = strdup(name);
  e->spec_text = malloc(len + 1);
  if (!e->path || !e->spec_text) {
    rc = nomem(&c);
  } else {
    if (len) memcpy(e->spec_text, text, len);
    e->spec_text[len] = '\0';
    e->spec_len = len;
    sw_sha256_hex(e->spec_text, len, e->spec_hash);
    sw_ytree_t t = {0};
    rc = load_tree(&c, &t);
    sw_ytree_free(&t);
  }
  free(c.regs);
  if (rc != SW_OK) {
    sw_experiment_free(e);
    return rc;
  }
  *out = e;
  return SW_OK;
}

sw_rc sw_expfile_load(const char *path, sw_experiment_t **out, sw_err_t *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return sw_err_set(err, SW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  sw_rc rc = SW_OK;
  while (buf) {
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
    if (len > SW_EXP_MAX_FILE_BYTES) break;
    if (len == cap) {
      char *grown = realloc(buf, cap * 2);
      if (!grown) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
  }
  if (!buf)
    rc = sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", path);
  else if (ferror(f))
    rc = sw_err_set(err, SW_ERR_IO, "%s: read error: %s", path, strerror(errno));
  fclose(f);
  if (rc == SW_OK) rc = sw_expfile_load_mem(path, buf, len, out, err);
  free(buf);
  return rc;
}
