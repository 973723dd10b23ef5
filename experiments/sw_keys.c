/* sw_keys: lookups, value checks, the experiment check of `plan`/`run`, the runners' key reader and the printed
 * table, all over the rows of experiments/sw_keys_table.c. */
#include "experiments/sw_keys.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_names.h"
#include "experiments/sw_keys_int.h"

/* ---------------------------------------------------------------- lookups */

const sw_keytable_t *sw_keytable(const char *name) {
  for (size_t i = 0; name && i < sw_n_keytables; i++)
    if (!strcmp(sw_keytables[i].name, name)) return &sw_keytables[i];
  return NULL;
}

static const sw_keydef_t *table_row(const sw_keytable_t *t, const char *name) {
  for (size_t i = 0; t && i < t->n; i++)
    if (!strcmp(t->keys[i].name, name)) return &t->keys[i];
  return NULL;
}

const sw_keydef_t *sw_keytable_find(const sw_keytable_t *t, const char *name) {
  const sw_keydef_t *k = table_row(t, name);
  return k ? k : table_row(sw_keytable("measure"), name);
}

static const sw_workload_keys_t *workload_keys(const char *workload) {
  for (size_t i = 0; workload && i < sw_n_workload_keys; i++)
    if (!strcmp(sw_workload_keys[i].workload, workload)) return &sw_workload_keys[i];
  return NULL;
}

const sw_keydef_t *sw_keys_lookup(const char *workload, const char *name) {
  const sw_workload_keys_t *w = workload_keys(workload);
  for (size_t i = 0; w && i < SW_KEYS_MAX_TABLES && w->tables[i]; i++) {
    const sw_keydef_t *k = table_row(sw_keytable(w->tables[i]), name);
    if (k) return k;
  }
  return NULL;
}

size_t sw_keys_changed_defaults(const char *workload, const sw_keydef_t **rows, size_t cap) {
  const sw_workload_keys_t *w = workload_keys(workload);
  size_t n = 0;
  for (size_t i = 0; w && i < SW_KEYS_MAX_TABLES && w->tables[i]; i++) {
    const sw_keytable_t *t = sw_keytable(w->tables[i]);
    for (size_t j = 0; j < t->n; j++) {
      const sw_keydef_t *k = &t->keys[j];
      if (!k->legacy_def || sw_keys_lookup(workload, k->name) != k) continue; /* none, or another row decides */
      if (n < cap) rows[n] = k;
      n++;
    }
  }
  return n;
}

int sw_keys_open(const char *workload) {
  const sw_workload_keys_t *w = workload_keys(workload);
  return w && w->open;
}

size_t sw_keys_workloads(const char *const **names) {
  static const char *const order[] = {"ffn", "model", "attribution", "modularity", "test", "noop"};
  *names = order;
  return sizeof order / sizeof order[0];
}

/* ---------------------------------------------------------------- values */

/* The word of list closest to word (for "did you mean"), into buf; "" when none is close. */
static const char *closest_word(const char *word, const char *list, char *buf, size_t cap) {
  const char *words[64];
  char copy[512];
  size_t n = 0;
  snprintf(copy, sizeof copy, "%s", list);
  for (char *save = NULL, *w = strtok_r(copy, "|", &save); w && n < 64; w = strtok_r(NULL, "|", &save)) words[n++] = w;
  const char *best = sw_names_closest(word, words, n);
  snprintf(buf, cap, "%s", best ? best : "");
  return buf;
}

static void range_text(const sw_keydef_t *k, char *buf, size_t cap) {
  char lo[32], hi[32];
  if (k->lo <= -9e15) snprintf(lo, sizeof lo, "-inf");
  else snprintf(lo, sizeof lo, "%.10g", k->lo);
  if (k->hi >= 9e15) snprintf(hi, sizeof hi, "inf");
  else snprintf(hi, sizeof hi, "%.10g", k->hi);
  snprintf(buf, cap, "%c%s, %s%c", k->lo_open ? '(' : '[', lo, hi, k->hi_open ? ')' : ']');
}

static int in_range(const sw_keydef_t *k, double x) {
  return (k->lo_open ? x > k->lo : x >= k->lo) && (k->hi_open ? x < k->hi : x <= k->hi);
}

/* What a value of row k must be, for messages. */
static void expected_text(const sw_keydef_t *k, char *buf, size_t cap) {
  char r[96];
  range_text(k, r, sizeof r);
  switch (k->type) {
    case SW_KT_INT: snprintf(buf, cap, "an integer in %s", r); break;
    case SW_KT_NUM: snprintf(buf, cap, "a number in %s", r); break;
    case SW_KT_BOOL: snprintf(buf, cap, "true or false"); break;
    case SW_KT_STR: snprintf(buf, cap, "text"); break;
    case SW_KT_ENUM: snprintf(buf, cap, "one of %s", k->allowed); break;
    case SW_KT_INTS: snprintf(buf, cap, "an integer in %s or a non-empty list of them", r); break;
    case SW_KT_STRS: snprintf(buf, cap, "a word or a list of words"); break;
  }
}

static const char *kind_text(const sw_value_t *v) {
  switch (v->kind) {
    case SW_VAL_INT: return "an integer";
    case SW_VAL_FLOAT: return "a number with a fraction";
    case SW_VAL_BOOL: return "a boolean";
    case SW_VAL_STR: return "text";
    case SW_VAL_LIST: return "a list";
  }
  return "a value";
}

/* One scalar against row k (lists are handled by the caller). */
static int scalar_fits(const sw_keydef_t *k, const sw_value_t *v) {
  switch (k->type) {
    case SW_KT_INT:
    case SW_KT_INTS: return v->kind == SW_VAL_INT && in_range(k, (double)v->i);
    case SW_KT_NUM:
      if (v->kind == SW_VAL_INT) return in_range(k, (double)v->i);
      return v->kind == SW_VAL_FLOAT && in_range(k, v->f);
    case SW_KT_BOOL: return v->kind == SW_VAL_BOOL;
    case SW_KT_STR: return v->kind == SW_VAL_STR;
    case SW_KT_ENUM: return v->kind == SW_VAL_STR && sw_names_in_list(v->s, k->allowed);
    case SW_KT_STRS: return v->kind == SW_VAL_STR && v->s[0];
  }
  return 0;
}

int sw_keys_check_value(const sw_keydef_t *k, const sw_value_t *v, char *why, size_t why_len) {
  int ok;
  if (v->kind == SW_VAL_LIST) {
    ok = (k->type == SW_KT_INTS || k->type == SW_KT_STRS) && (v->count > 0 || k->type == SW_KT_STRS);
    for (size_t i = 0; ok && i < v->count; i++) ok = scalar_fits(k, &v->items[i]);
  } else {
    ok = scalar_fits(k, v);
  }
  if (ok) return 0;
  char exp[600], hint[128] = "";
  expected_text(k, exp, sizeof exp);
  if (v->kind == SW_VAL_STR && k->type == SW_KT_ENUM) {
    char best[64];
    if (*closest_word(v->s, k->allowed, best, sizeof best)) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    snprintf(why, why_len, "'%s' = '%.64s' is not allowed%s: expected %s", k->name, v->s, hint, exp);
  } else if (v->kind == SW_VAL_INT || v->kind == SW_VAL_FLOAT) {
    char num[40];
    if (v->kind == SW_VAL_INT) snprintf(num, sizeof num, "%lld", (long long)v->i);
    else snprintf(num, sizeof num, "%.17g", v->f);
    snprintf(why, why_len, "'%s' = %s is %s: expected %s", k->name, num,
             k->type == SW_KT_INT || k->type == SW_KT_NUM || k->type == SW_KT_INTS ? "out of range" : "of the wrong type",
             exp);
  } else {
    snprintf(why, why_len, "'%s' is %s: expected %s", k->name, kind_text(v), exp);
  }
  if (k->unit && *k->unit) snprintf(why + strlen(why), why_len - strlen(why), " (%s)", k->unit);
  return 1;
}

/* ---------------------------------------------------------------- the experiment check */

typedef struct check_ctx {
  const sw_experiment_t *e;
  sw_err_t              *err;
  const char           **names; /* every key the workload accepts, for did-you-mean */
  size_t                 n_names;
} check_ctx_t;

static sw_rc fail_at(check_ctx_t *c, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static sw_rc fail_at(check_ctx_t *c, int line, int col, const char *fmt, ...) {
  char msg[SW_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sw_err_set(c->err, SW_ERR_INVALID, "%s:%d:%d: %s", c->e->path, line, col, msg);
}

/* Every key name the workload's tables declare (duplicates are harmless for did-you-mean). */
static sw_rc collect_names(check_ctx_t *c) {
  const sw_workload_keys_t *w = workload_keys(c->e->workload);
  size_t cap = 0;
  for (size_t i = 0; w && i < SW_KEYS_MAX_TABLES && w->tables[i]; i++) cap += sw_keytable(w->tables[i])->n;
  c->names = calloc(cap ? cap : 1, sizeof *c->names);
  if (!c->names) return sw_err_set(c->err, SW_ERR_NOMEM, "%s: out of memory", c->e->path);
  for (size_t i = 0; w && i < SW_KEYS_MAX_TABLES && w->tables[i]; i++) {
    const sw_keytable_t *t = sw_keytable(w->tables[i]);
    for (size_t j = 0; j < t->n; j++) c->names[c->n_names++] = t->keys[j].name;
  }
  return SW_OK;
}

/* One key with its values (vals[n]; for a grid axis the axis items). */
static sw_rc check_key(check_ctx_t *c, const sw_kv_t *kv, const sw_value_t *vals, size_t n) {
  const sw_keydef_t *k = sw_keys_lookup(c->e->workload, kv->key);
  if (!k) {
    if (sw_keys_open(c->e->workload)) return SW_OK;
    const char *best = sw_names_closest(kv->key, c->names, c->n_names);
    char hint[96] = "";
    if (best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    return fail_at(c, kv->key_line ? kv->key_line : kv->val.line, kv->key_line ? kv->key_col : kv->val.col,
                   "unknown key '%s' for workload %s%s; `sparsweep workloads %s` lists its keys", kv->key,
                   c->e->workload, hint, c->e->workload);
  }
  for (size_t i = 0; i < n; i++) {
    char why[800];
    if (sw_keys_check_value(k, &vals[i], why, sizeof why))
      return fail_at(c, vals[i].line, vals[i].col, "%s (workload %s)", why, c->e->workload);
  }
  return SW_OK;
}

static sw_rc check_axes(check_ctx_t *c, const sw_kv_t *axes, size_t n) {
  sw_rc rc = SW_OK;
  for (size_t i = 0; i < n && rc == SW_OK; i++) rc = check_key(c, &axes[i], axes[i].val.items, axes[i].val.count);
  return rc;
}

static sw_rc check_block(check_ctx_t *c, const sw_grid_block_t *b) {
  sw_rc rc = check_axes(c, b->axes, b->n_axes);
  for (size_t z = 0; z < b->n_zips && rc == SW_OK; z++) rc = check_axes(c, b->zips[z].keys, b->zips[z].n);
  for (size_t w = 0; w < b->n_when && rc == SW_OK; w++) rc = check_block(c, &b->when[w]);
  return rc;
}

sw_rc sw_keys_check_experiment(const sw_experiment_t *e, sw_err_t *err) {
  check_ctx_t c = {.e = e, .err = err};
  if (!workload_keys(e->workload))
    return sw_err_set(err, SW_ERR_INVALID, "%s: workload '%s' declares no keys", e->path, e->workload);
  sw_rc rc = collect_names(&c);
  for (size_t i = 0; i < e->n_fixed && rc == SW_OK; i++)
    if (strcmp(e->fixed[i].key, "workload") != 0) rc = check_key(&c, &e->fixed[i], &e->fixed[i].val, 1);
  if (rc == SW_OK) rc = check_block(&c, &e->grid);
  free(c.names);
  return rc;
}

/* ---------------------------------------------------------------- reading a config */

/* The row of name in t, or an error: a runner may only read what its table declares. */
static sw_rc declared(const sw_keytable_t *t, const char *name, const sw_keydef_t **k, sw_err_t *err) {
  *k = t ? sw_keytable_find(t, name) : NULL;
  if (*k) return SW_OK;
  return sw_err_set(err, SW_ERR_INVALID, "key '%s' is read but not declared in the %s table (experiments/sw_keys_table.c)",
                    name, t ? t->name : "(null)");
}

void sw_keys_default_value(const sw_keydef_t *k, const char *text, sw_value_t *v) {
  memset(v, 0, sizeof *v); /* defaults are written as in a file */
  if (k->type == SW_KT_BOOL) v->kind = SW_VAL_BOOL, v->b = !strcmp(text, "true");
  else if (k->type == SW_KT_INT || k->type == SW_KT_INTS) v->kind = SW_VAL_INT, v->i = strtoll(text, NULL, 10);
  else if (k->type == SW_KT_NUM) v->kind = SW_VAL_FLOAT, v->f = strtod(text, NULL);
  else v->kind = SW_VAL_STR, v->s = (char *)text;
}

/* The config's value of k as an sw_value_t (scalars only), or the declared default; *given = 0 when neither. */
static sw_rc value_of(const sw_keydef_t *k, const sw_json_t *config, sw_value_t *v, int *given, sw_err_t *err) {
  const sw_json_t *j = sw_json_get(config, k->name);
  memset(v, 0, sizeof *v);
  *given = 1;
  if (!j && !k->def) return *given = 0, SW_OK;
  if (!j) return sw_keys_default_value(k, k->def, v), SW_OK;
  switch (j->kind) {
    case SW_JSON_BOOL: v->kind = SW_VAL_BOOL, v->b = j->boolean; break;
    case SW_JSON_NUMBER:
      if (j->is_integer) v->kind = SW_VAL_INT, v->i = j->integer;
      else v->kind = SW_VAL_FLOAT, v->f = j->number;
      break;
    case SW_JSON_STRING: v->kind = SW_VAL_STR, v->s = j->string; break;
    default: v->kind = SW_VAL_LIST; break; /* refused below: runners read scalars */
  }
  char why[800];
  if (v->kind != SW_VAL_LIST && !sw_keys_check_value(k, v, why, sizeof why)) return SW_OK;
  if (v->kind == SW_VAL_LIST) snprintf(why, sizeof why, "'%s' must be a single value here", k->name);
  int numeric = (v->kind == SW_VAL_INT || v->kind == SW_VAL_FLOAT) &&
                (k->type == SW_KT_INT || k->type == SW_KT_NUM || k->type == SW_KT_INTS);
  return sw_err_set(err, numeric ? SW_ERR_RANGE : SW_ERR_INVALID, "%s", why);
}

static sw_rc read_one(const sw_keytable_t *t, const sw_json_t *config, const char *name, sw_key_type want,
                      void *field, sw_err_t *err) {
  const sw_keydef_t *k;
  sw_rc rc = declared(t, name, &k, err);
  if (rc) return rc;
  int given;
  sw_value_t v;
  if ((rc = value_of(k, config, &v, &given, err)) || !given) return rc;
  sw_key_type type = want ? want : k->type;
  switch (type) {
    case SW_KT_INT:
    case SW_KT_INTS: *(int64_t *)field = v.i; break;
    case SW_KT_NUM: *(double *)field = v.kind == SW_VAL_INT ? (double)v.i : v.f; break;
    case SW_KT_BOOL: *(int *)field = v.b; break;
    default: *(const char **)field = v.s; break;
  }
  return SW_OK;
}

sw_rc sw_keys_read(const sw_keytable_t *t, const sw_json_t *config, const sw_keybind_t *binds, size_t n, void *dst,
                   sw_err_t *err) {
  sw_rc rc = SW_OK;
  for (size_t i = 0; i < n && rc == SW_OK; i++)
    rc = read_one(t, config, binds[i].name, 0, (char *)dst + binds[i].offset, err);
  return rc;
}

/* The typed readers check that the caller's field type matches the declared type. */
static sw_rc typed(const sw_keytable_t *t, const sw_json_t *config, const char *name, int ok_types, void *field,
                   sw_err_t *err) {
  const sw_keydef_t *k;
  sw_rc rc = declared(t, name, &k, err);
  if (rc) return rc;
  if (!(ok_types & (1 << k->type)))
    return sw_err_set(err, SW_ERR_INVALID, "key '%s' is read with the wrong type (experiments/sw_keys_table.c)", name);
  return read_one(t, config, name, 0, field, err);
}

sw_rc sw_key_int(const sw_keytable_t *t, const sw_json_t *config, const char *name, int64_t *out, sw_err_t *err) {
  return typed(t, config, name, 1 << SW_KT_INT | 1 << SW_KT_INTS, out, err);
}
sw_rc sw_key_num(const sw_keytable_t *t, const sw_json_t *config, const char *name, double *out, sw_err_t *err) {
  return typed(t, config, name, 1 << SW_KT_NUM, out, err);
}
sw_rc sw_key_bool(const sw_keytable_t *t, const sw_json_t *config, const char *name, int *out, sw_err_t *err) {
  return typed(t, config, name, 1 << SW_KT_BOOL, out, err);
}
sw_rc sw_key_str(const sw_keytable_t *t, const sw_json_t *config, const char *name, const char **out, sw_err_t *err) {
  return typed(t, config, name, 1 << SW_KT_STR | 1 << SW_KT_ENUM | 1 << SW_KT_STRS, out, err);
}

/* ---------------------------------------------------------------- `sparsweep workloads` */

static const char *type_name(sw_key_type t) {
  static const char *const names[] = {"", "int", "number", "bool", "text", "word", "int/list", "word/list"};
  return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* The range or the allowed words of k, for printing ("" for free text); words separated by sep. */
static void domain_text(const sw_keydef_t *k, const char *sep, char *buf, size_t cap) {
  buf[0] = '\0';
  if (k->type == SW_KT_INT || k->type == SW_KT_NUM || k->type == SW_KT_INTS) range_text(k, buf, cap);
  if (k->type != SW_KT_ENUM) return;
  size_t used = 0;
  for (const char *p = k->allowed; *p && used + 8 < cap; p++) {
    int w = *p == '|' ? snprintf(buf + used, cap - used, "%s", sep) : snprintf(buf + used, cap - used, "%c", *p);
    used += w > 0 ? (size_t)w : 0;
  }
}

static void print_row(FILE *to, const sw_keydef_t *k, int markdown) {
  char r[700], def[96];
  const char *unit = k->unit && *k->unit ? k->unit : "-";
  if (k->legacy_def) snprintf(def, sizeof def, "%s (was %s)", k->def, k->legacy_def);
  else snprintf(def, sizeof def, "%s", k->def ? k->def : "-");
  domain_text(k, markdown ? ", " : "|", r, sizeof r);
  if (markdown)
    fprintf(to, "| `%s` | %s | %s | %s | %s | %s%s |\n", k->name, type_name(k->type), def, r, unit, k->help,
            k->identity ? "" : " (not identity)");
  else
    fprintf(to, "  %-16s %-9s %-16s %-22s %-11s %s%s\n", k->name, type_name(k->type), def, r, unit, k->help,
            k->identity ? "" : " [not identity]");
}

static void print_workload(FILE *to, const sw_workload_keys_t *w, int markdown) {
  const char *open = w->open ? " (accepts any other key as a label)" : "";
  if (markdown)
    fprintf(to, "#### `%s`%s\n\n| key | type | default | range / allowed | unit | help |\n|---|---|---|---|---|---|\n",
            w->workload, open);
  else
    fprintf(to, "workload %s%s\n  %-16s %-9s %-16s %-22s %-11s %s\n", w->workload, open, "key", "type", "default",
            "range/allowed", "unit", "help");
  for (size_t i = 0; i < SW_KEYS_MAX_TABLES && w->tables[i]; i++) {
    const sw_keytable_t *t = sw_keytable(w->tables[i]);
    for (size_t j = 0; j < t->n; j++)
      if (sw_keys_lookup(w->workload, t->keys[j].name) == &t->keys[j]) print_row(to, &t->keys[j], markdown);
  }
}

sw_rc sw_keys_print(FILE *to, const char *workload, int markdown, sw_err_t *err) {
  const char *const *names;
  size_t n = sw_keys_workloads(&names);
  if (workload && !workload_keys(workload)) {
    const char *best = sw_names_closest(workload, names, n);
    return sw_err_set(err, SW_ERR_INVALID, "unknown workload '%s'%s%s%s", workload, best ? " (did you mean '" : "",
                      best ? best : "", best ? "'?)" : "");
  }
  for (size_t i = 0; i < n; i++)
    if (!workload || !strcmp(workload, names[i])) {
      if (!workload && i) fputc('\n', to);
      print_workload(to, workload_keys(names[i]), markdown);
    }
  return SW_OK;
}
