/* sw_grid: grid expansion.  A point is one value pointer per config key (keys sorted bytewise, NULL =
 * unset); values are borrowed from the experiment, so points are cheap.  expand() makes the block's
 * combinations of a point, then applies each `when` sub-block to the points its condition matches.
 * Sizes are checked against max_trials before anything is generated, so a huge grid fails fast. */
#include "experiments/sw_grid.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sw_buf.h"
#include "common/sw_methods.h"
#include "experiments/sw_canon.h"
#include "experiments/sw_keys.h"

#define GRID_MAX_CHANGED 8  /* keys of one workload whose default changed (sw_keydef_t.legacy_def) */
#define GRID_MAX_MEASURE 16 /* rows of the measurement table (sw_keytable("measure")) */

/* A key of the workload whose default changed: its current default fills the trials that do not set it, and its
 * legacy default is left out of the hashed text (experiments/sw_keys_table.c). */
typedef struct changed_key {
  const sw_keydef_t *row;
  sw_value_t         def, legacy; /* strings borrowed from the row */
  size_t             k;           /* index in grid_ctx.keys */
} changed_key_t;

/* A measurement key with a default that the grid sets (so not every point need have it): its default fills the
 * trials that do not set it, as experiments/sw_expfile.c fills a measurement key the file never sets. */
typedef struct measure_fill {
  sw_value_t def; /* the measurement row's default; strings borrowed from the row */
  size_t     k;   /* index in grid_ctx.keys */
} measure_fill_t;

/* A growable list of points: vals[count * nk]. */
typedef struct plist {
  const sw_value_t **vals;    /* vals[i * nk + k]: value of key k in point i, or NULL (borrowed) */
  double            *timeout; /* per point, seconds */
  int               *retries; /* per point */
  size_t             count, cap; /* points used / allocated */
} plist_t;

typedef struct grid_ctx {
  const sw_experiment_t *e;       /* the experiment being expanded */
  sw_err_t              *err;     /* where messages go */
  const char           **keys;    /* keys[nk], sorted, distinct (borrowed) */
  unsigned char         *is_grid; /* is_grid[k]: key k is set by the grid, not fixed */
  size_t                 nk;      /* number of distinct config keys */
  const sw_grid_block_t **whens;  /* every when block, in file order (pre-order) */
  size_t                *hits;    /* hits[i]: points whens[i] was applied to, over the whole expansion */
  size_t                 n_whens; /* entries in whens, hits, by_addr */
  struct when_ref       *by_addr; /* (block, index into whens) sorted by block address, for count_hit */
  changed_key_t          changed[GRID_MAX_CHANGED];
  size_t                 n_changed;
  measure_fill_t         measure_fills[GRID_MAX_MEASURE];
  size_t                 n_measure_fills;
} grid_ctx_t;

static void plist_free(plist_t *l) {
  free(l->vals);
  free(l->timeout);
  free(l->retries);
  memset(l, 0, sizeof *l);
}

static sw_rc too_many(grid_ctx_t *g, int line, int col) {
  return sw_err_set(g->err, SW_ERR_INVALID,
                    "%s:%d:%d: the grid expands to more than max_trials = %zu trials (before exclusions); shrink it "
                    "or raise max_trials (at most %d)", g->e->path, line, col, g->e->max_trials,
                    SW_EXP_HARD_MAX_TRIALS);
}

static sw_rc plist_push(grid_ctx_t *g, plist_t *l, const sw_value_t *const *vals, double t, int r) {
  if (l->count >= g->e->max_trials) return too_many(g, g->e->grid.line, g->e->grid.col);
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    const sw_value_t **v = realloc(l->vals, cap * (g->nk ? g->nk : 1) * sizeof *v);
    if (v) l->vals = v;
    double *tt = v ? realloc(l->timeout, cap * sizeof *tt) : NULL;
    if (tt) l->timeout = tt;
    int *rr = tt ? realloc(l->retries, cap * sizeof *rr) : NULL;
    if (!rr) return sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory expanding the grid", g->e->path);
    l->retries = rr;
    l->cap = cap;
  }
  if (g->nk) memcpy(l->vals + l->count * g->nk, vals, g->nk * sizeof *vals);
  l->timeout[l->count] = t;
  l->retries[l->count] = r;
  l->count++;
  return SW_OK;
}

static const sw_value_t **point(const grid_ctx_t *g, const plist_t *l, size_t i) { return l->vals + i * g->nk; }

static int key_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static size_t key_index(const grid_ctx_t *g, const char *key) {
  const char **hit = bsearch(&key, g->keys, g->nk, sizeof *g->keys, key_cmp);
  return hit ? (size_t)(hit - g->keys) : SIZE_MAX;
}

/* ---------------------------------------------------------------- key table */

static size_t block_key_count(const sw_grid_block_t *b) {
  size_t n = b->n_axes;
  for (size_t i = 0; i < b->n_zips; i++) n += b->zips[i].n;
  for (size_t i = 0; i < b->n_when; i++) n += block_key_count(&b->when[i]);
  return n;
}

static void block_keys(const sw_grid_block_t *b, const char **out, size_t *n) {
  for (size_t i = 0; i < b->n_axes; i++) out[(*n)++] = b->axes[i].key;
  for (size_t i = 0; i < b->n_zips; i++)
    for (size_t j = 0; j < b->zips[i].n; j++) out[(*n)++] = b->zips[i].keys[j].key;
  for (size_t i = 0; i < b->n_when; i++) block_keys(&b->when[i], out, n);
}

struct when_ref {
  uintptr_t addr;  /* address of the when block */
  size_t    index; /* its position in grid_ctx.whens */
};

static int when_ref_cmp(const void *a, const void *b) {
  uintptr_t x = ((const struct when_ref *)a)->addr, y = ((const struct when_ref *)b)->addr;
  return (x > y) - (x < y);
}

static size_t when_count(const sw_grid_block_t *b) {
  size_t n = b->n_when;
  for (size_t i = 0; i < b->n_when; i++) n += when_count(&b->when[i]);
  return n;
}

static void when_list(const sw_grid_block_t *b, const sw_grid_block_t **out, size_t *n) {
  for (size_t i = 0; i < b->n_when; i++) {
    out[(*n)++] = &b->when[i];
    when_list(&b->when[i], out, n);
  }
}

static sw_rc build_whens(grid_ctx_t *g) {
  size_t total = when_count(&g->e->grid);
  g->whens = calloc(total ? total : 1, sizeof *g->whens);
  g->hits = calloc(total ? total : 1, sizeof *g->hits);
  g->by_addr = calloc(total ? total : 1, sizeof *g->by_addr);
  if (!g->whens || !g->hits || !g->by_addr) return sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", g->e->path);
  when_list(&g->e->grid, g->whens, &g->n_whens);
  for (size_t i = 0; i < g->n_whens; i++) g->by_addr[i] = (struct when_ref){(uintptr_t)g->whens[i], i};
  qsort(g->by_addr, g->n_whens, sizeof *g->by_addr, when_ref_cmp);
  return SW_OK;
}

static void count_hit(grid_ctx_t *g, const sw_grid_block_t *w) {
  struct when_ref key = {(uintptr_t)w, 0};
  const struct when_ref *r = bsearch(&key, g->by_addr, g->n_whens, sizeof key, when_ref_cmp);
  if (r) g->hits[r->index]++;
}

/* A when block that applies to no point anywhere is almost surely a typo in its condition. */
static sw_rc check_when_hits(grid_ctx_t *g) {
  for (size_t i = 0; i < g->n_whens; i++)
    if (!g->hits[i])
      return sw_err_set(g->err, SW_ERR_INVALID, "%s:%d:%d: this when block's 'if' condition matches no trial (check "
                        "its values against the grid)", g->e->path, g->whens[i]->cond.line, g->whens[i]->cond.col);
  return SW_OK;
}

static int block_sets(const sw_grid_block_t *b, const char *key) {
  for (size_t i = 0; i < b->n_axes; i++)
    if (!strcmp(b->axes[i].key, key)) return 1;
  for (size_t i = 0; i < b->n_zips; i++)
    for (size_t j = 0; j < b->zips[i].n; j++)
      if (!strcmp(b->zips[i].keys[j].key, key)) return 1;
  for (size_t i = 0; i < b->n_when; i++)
    if (block_sets(&b->when[i], key)) return 1;
  return 0;
}

/* The workload's keys whose default changed (their index into keys is set by build_keys). */
static sw_rc find_changed(grid_ctx_t *g) {
  const sw_keydef_t *rows[GRID_MAX_CHANGED];
  size_t n = sw_keys_changed_defaults(g->e->workload, rows, GRID_MAX_CHANGED);
  if (n > GRID_MAX_CHANGED)
    return sw_err_set(g->err, SW_ERR_INTERNAL, "grid: workload %s has %zu changed defaults, more than %d", g->e->workload,
                      n, GRID_MAX_CHANGED);
  for (size_t i = 0; i < n; i++) {
    changed_key_t *c = &g->changed[i];
    c->row = rows[i];
    sw_keys_default_value(rows[i], rows[i]->def, &c->def);
    sw_keys_default_value(rows[i], rows[i]->legacy_def, &c->legacy);
  }
  g->n_changed = n;
  return SW_OK;
}

/* The measurement keys with a default that the grid sets (set by build_keys; the fixed ones are in every point). */
static sw_rc find_measure_fills(grid_ctx_t *g) {
  const sw_keytable_t *mt = sw_keytable("measure");
  g->n_measure_fills = 0;
  for (size_t i = 0; i < mt->n; i++) {
    size_t k = key_index(g, mt->keys[i].name);
    if (!mt->keys[i].def || k == SIZE_MAX || !g->is_grid[k]) continue;
    if (g->n_measure_fills == GRID_MAX_MEASURE)
      return sw_err_set(g->err, SW_ERR_INTERNAL, "grid: more than %d measurement keys", GRID_MAX_MEASURE);
    measure_fill_t *f = &g->measure_fills[g->n_measure_fills++];
    sw_keys_default_value(&mt->keys[i], mt->keys[i].def, &f->def);
    f->k = k;
  }
  return SW_OK;
}

/* keys: every key fixed, set by the grid, or with a changed default; is_grid marks those the grid sets. */
static sw_rc build_keys(grid_ctx_t *g) {
  const sw_experiment_t *e = g->e;
  sw_rc rc = find_changed(g);
  if (rc != SW_OK) return rc;
  size_t total = e->n_fixed + block_key_count(&e->grid) + g->n_changed, n = 0;
  g->keys = calloc(total ? total : 1, sizeof *g->keys);
  g->is_grid = calloc(total ? total : 1, 1);
  if (!g->keys || !g->is_grid) return sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", e->path);
  for (size_t i = 0; i < e->n_fixed; i++) g->keys[n++] = e->fixed[i].key;
  block_keys(&e->grid, g->keys, &n);
  for (size_t i = 0; i < g->n_changed; i++) g->keys[n++] = g->changed[i].row->name;
  qsort(g->keys, n, sizeof *g->keys, key_cmp);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || strcmp(g->keys[u - 1], g->keys[i]) != 0) g->keys[u++] = g->keys[i];
  g->nk = u;
  for (size_t k = 0; k < u; k++) g->is_grid[k] = (unsigned char)block_sets(&e->grid, g->keys[k]);
  for (size_t i = 0; i < g->n_changed; i++) g->changed[i].k = key_index(g, g->changed[i].row->name);
  return find_measure_fills(g);
}

/* ---------------------------------------------------------------- expansion */

/* The grid part of a point as canonical JSON, for messages (truncated). */
static void describe(const grid_ctx_t *g, const sw_value_t *const *p, char *buf, size_t cap) {
  const sw_value_t **only = calloc(g->nk ? g->nk : 1, sizeof *only);
  sw_buf_t b = SW_BUF_INIT;
  buf[0] = '\0';
  if (only) {
    for (size_t k = 0; k < g->nk; k++) only[k] = g->is_grid[k] ? p[k] : NULL;
    if (sw_canon_config_parts(g->keys, only, g->nk, &b, NULL) == SW_OK) snprintf(buf, cap, "%s", sw_buf_str(&b));
  }
  if (strlen(buf) + 1 == cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
  free(only);
  sw_buf_free(&b);
}

/* Number of combinations of a block's own dimensions, or SIZE_MAX when above max_trials. */
static size_t block_combos(const grid_ctx_t *g, const sw_grid_block_t *b) {
  size_t n = 1;
  for (size_t i = 0; i < b->n_axes + b->n_zips; i++) {
    size_t d = i < b->n_axes ? b->axes[i].val.count : b->zips[i - b->n_axes].length;
    if (d == 0 || n > g->e->max_trials / d) return SIZE_MAX;
    n *= d;
  }
  return n;
}

static sw_rc set_key(grid_ctx_t *g, const sw_value_t **p, const sw_kv_t *kv, const sw_value_t *v) {
  size_t k = key_index(g, kv->key);
  if (k == SIZE_MAX) return sw_err_set(g->err, SW_ERR_INTERNAL, "grid: key '%s' missing from the key table", kv->key);
  if (p[k]) {
    char desc[256];
    describe(g, p, desc, sizeof desc);
    return sw_err_set(g->err, SW_ERR_INVALID,
                      "%s:%d:%d: key '%s' is set again for trial %s, which already has it from line %d, column %d: "
                      "when blocks whose conditions overlap must not set the same key", g->e->path, v->line, v->col,
                      kv->key, desc, p[k]->line, p[k]->col);
  }
  p[k] = v;
  return SW_OK;
}

/* Sets the dimensions of combination idx (last dimension fastest) on p. */
static sw_rc set_combo(grid_ctx_t *g, const sw_grid_block_t *b, size_t idx, const sw_value_t **p) {
  sw_rc rc = SW_OK;
  for (size_t i = b->n_axes + b->n_zips; i-- > 0 && rc == SW_OK;) {
    if (i < b->n_axes) {
      const sw_kv_t *a = &b->axes[i];
      rc = set_key(g, p, a, &a->val.items[idx % a->val.count]);
      idx /= a->val.count;
    } else {
      const sw_zip_t *z = &b->zips[i - b->n_axes];
      for (size_t j = 0; j < z->n && rc == SW_OK; j++)
        rc = set_key(g, p, &z->keys[j], &z->keys[j].val.items[idx % z->length]);
      idx /= z->length;
    }
  }
  return rc;
}

static int point_matches(const grid_ctx_t *g, const sw_value_t *const *p, const sw_match_t *m) {
  for (size_t i = 0; i < m->n; i++) {
    size_t k = key_index(g, m->terms[i].key);
    if (k == SIZE_MAX || !p[k] || !sw_value_matches(p[k], &m->terms[i].val)) return 0;
  }
  return 1;
}

static sw_rc expand(grid_ctx_t *g, const sw_grid_block_t *b, const sw_value_t *const *base, double t, int r,
                    plist_t *out);

/* Replaces *list by the points with w applied to those matching its condition. */
static sw_rc apply_when(grid_ctx_t *g, const sw_grid_block_t *w, plist_t *list) {
  plist_t next = {0};
  sw_rc rc = SW_OK;
  for (size_t i = 0; i < list->count && rc == SW_OK; i++) {
    const sw_value_t **p = point(g, list, i);
    if (point_matches(g, p, &w->cond)) {
      count_hit(g, w);
      rc = expand(g, w, p, list->timeout[i], list->retries[i], &next);
    } else {
      rc = plist_push(g, &next, p, list->timeout[i], list->retries[i]);
    }
  }
  if (rc != SW_OK) {
    plist_free(&next);
    return rc;
  }
  plist_free(list);
  *list = next;
  return SW_OK;
}

/* Appends to out every point of block b applied to base (with b's when blocks applied). */
static sw_rc expand(grid_ctx_t *g, const sw_grid_block_t *b, const sw_value_t *const *base, double t, int r,
                    plist_t *out) {
  size_t combos = block_combos(g, b);
  if (combos == SIZE_MAX || out->count > g->e->max_trials - combos) return too_many(g, b->line, b->col);
  if (b != &g->e->grid && b->timeout_s > 0) t = b->timeout_s; /* when-block overrides; the top block has none */
  if (b != &g->e->grid && b->retries >= 0) r = b->retries;
  plist_t mine = {0};
  const sw_value_t **p = calloc(g->nk ? g->nk : 1, sizeof *p);
  sw_rc rc = p ? SW_OK : sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", g->e->path);
  for (size_t c = 0; c < combos && rc == SW_OK; c++) {
    memcpy(p, base, g->nk * sizeof *p);
    rc = set_combo(g, b, c, p);
    if (rc == SW_OK) rc = plist_push(g, &mine, p, t, r);
  }
  free(p);
  for (size_t i = 0; i < b->n_when && rc == SW_OK; i++) rc = apply_when(g, &b->when[i], &mine);
  for (size_t i = 0; i < mine.count && rc == SW_OK; i++)
    rc = plist_push(g, out, point(g, &mine, i), mine.timeout[i], mine.retries[i]);
  plist_free(&mine);
  return rc;
}

/* Removes excluded points; every exclude entry must remove at least one. */
static sw_rc apply_excludes(grid_ctx_t *g, plist_t *l) {
  const sw_experiment_t *e = g->e;
  size_t *hits = calloc(e->n_exclude ? e->n_exclude : 1, sizeof *hits);
  if (!hits) return sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", e->path);
  size_t kept = 0, before = l->count;
  for (size_t i = 0; i < l->count; i++) {
    const sw_value_t **p = point(g, l, i);
    int drop = 0;
    for (size_t x = 0; x < e->n_exclude; x++)
      if (point_matches(g, p, &e->exclude[x])) hits[x]++, drop = 1;
    if (drop) continue;
    if (kept != i) memmove(point(g, l, kept), p, g->nk * sizeof *p);
    l->timeout[kept] = l->timeout[i];
    l->retries[kept] = l->retries[i];
    kept++;
  }
  l->count = kept;
  sw_rc rc = SW_OK;
  for (size_t x = 0; x < e->n_exclude && rc == SW_OK; x++)
    if (!hits[x])
      rc = sw_err_set(g->err, SW_ERR_INVALID, "%s:%d:%d: this exclude entry matches no trial (check its keys and "
                      "values against the grid)", e->path, e->exclude[x].line, e->exclude[x].col);
  free(hits);
  if (rc == SW_OK && kept == 0)
    rc = sw_err_set(g->err, SW_ERR_INVALID, "%s:%d:%d: the grid is empty: exclusions remove all %zu trials", e->path,
                    e->grid.line, e->grid.col, before);
  return rc;
}

/* ---------------------------------------------------------------- trials */

/* The definition version of the point's method (common/sw_methods.h); 1 without a method key or for a word that
 * names no method (the runner refuses it). */
static int point_method_version(const grid_ctx_t *g, const sw_value_t **p) {
  for (size_t k = 0; k < g->nk; k++)
    if (!strcmp(g->keys[k], "method") && p[k] && p[k]->kind == SW_VAL_STR) {
      int v = sw_method_version(p[k]->s);
      return v > 1 ? v : 1;
    }
  return 1;
}

/* The trial hash: SHA-256 of the canonical text of hashed (the config without the keys that hold their legacy
 * default), followed by "\nmethod_version=v" when the method's definition version v is above 1, so results of an
 * older definition are not resumed as this trial's. */
static sw_rc trial_hash(const grid_ctx_t *g, const sw_value_t **full, const sw_value_t **hashed, char hex[65]) {
  sw_buf_t b = SW_BUF_INIT;
  sw_rc rc = sw_canon_config_parts(g->keys, hashed, g->nk, &b, g->err);
  int v = point_method_version(g, full);
  if (rc == SW_OK && v > 1) sw_buf_printf(&b, "\nmethod_version=%d", v);
  if (rc == SW_OK && !sw_buf_str(&b)) rc = sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", g->e->path);
  if (rc == SW_OK) sw_canon_hash(sw_buf_str(&b), b.len, hex);
  sw_buf_free(&b);
  return rc;
}

/* Per-trial views of a point (nk pointers each): full (changed defaults and the measurement defaults of keys the
 * point does not set filled in: what the runner reads),
 * hashed (full without the keys at their legacy default) and axes (the keys the grid sets). */
typedef struct trial_views {
  const sw_value_t **full, **hashed, **axes;
} trial_views_t;

/* full = p with the default of every changed-default key and grid-set measurement key that p does not set. */
static void fill_defaults(const grid_ctx_t *g, const sw_value_t **p, const sw_value_t **full) {
  memcpy(full, p, g->nk * sizeof *p);
  for (size_t i = 0; i < g->n_changed; i++)
    if (!p[g->changed[i].k]) full[g->changed[i].k] = &g->changed[i].def;
  for (size_t i = 0; i < g->n_measure_fills; i++)
    if (!p[g->measure_fills[i].k]) full[g->measure_fills[i].k] = &g->measure_fills[i].def;
}

static void fill_views(const grid_ctx_t *g, const sw_value_t **p, trial_views_t *v) {
  fill_defaults(g, p, v->full);
  memcpy(v->hashed, v->full, g->nk * sizeof *p);
  for (size_t i = 0; i < g->n_changed; i++)
    if (sw_value_equal(v->full[g->changed[i].k], &g->changed[i].legacy)) v->hashed[g->changed[i].k] = NULL;
  for (size_t k = 0; k < g->nk; k++) v->axes[k] = g->is_grid[k] ? p[k] : NULL;
}

static sw_rc make_trial(grid_ctx_t *g, const sw_value_t **p, sw_trial_spec_t *t, trial_views_t *v) {
  sw_buf_t b = SW_BUF_INIT;
  fill_views(g, p, v);
  sw_rc rc = sw_canon_config_parts(g->keys, v->full, g->nk, &b, g->err);
  if (rc == SW_OK) rc = trial_hash(g, v->full, v->hashed, t->hash);
  if (rc == SW_OK) {
    t->config_json = sw_buf_take(&b);
    rc = sw_canon_config_parts(g->keys, v->axes, g->nk, &b, g->err);
  }
  if (rc == SW_OK) t->axes_json = sw_buf_take(&b);
  sw_buf_free(&b);
  if (rc == SW_OK && (!t->config_json || !t->axes_json))
    rc = sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", g->e->path);
  return rc;
}

static int trial_hash_cmp(const void *a, const void *b) {
  const sw_trial_spec_t *x = *(const sw_trial_spec_t *const *)a, *y = *(const sw_trial_spec_t *const *)b;
  int r = strcmp(x->hash, y->hash);
  return r ? r : (x->index < y->index ? -1 : x->index > y->index);
}

/* Two trials with one config would share one result row; refuse. */
static sw_rc check_unique(grid_ctx_t *g, const sw_trial_list_t *list) {
  const sw_trial_spec_t **order = calloc(list->count ? list->count : 1, sizeof *order);
  if (!order) return sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", g->e->path);
  for (size_t i = 0; i < list->count; i++) order[i] = &list->items[i];
  qsort(order, list->count, sizeof *order, trial_hash_cmp);
  sw_rc rc = SW_OK;
  for (size_t i = 1; i < list->count && rc == SW_OK; i++)
    if (strcmp(order[i]->hash, order[i - 1]->hash) == 0)
      rc = sw_err_set(g->err, SW_ERR_INVALID, "%s:%d:%d: trials %zu and %zu have the same config %.300s (repeated "
                      "zip tuples, or when blocks producing the same point)", g->e->path, g->e->grid.line,
                      g->e->grid.col, order[i - 1]->index, order[i]->index, order[i]->axes_json);
  free(order);
  return rc;
}

static sw_rc build_trials(grid_ctx_t *g, const plist_t *l, sw_trial_list_t *out) {
  out->items = calloc(l->count ? l->count : 1, sizeof *out->items);
  const sw_value_t **scratch = calloc(3 * (g->nk ? g->nk : 1), sizeof *scratch);
  trial_views_t views = {scratch, scratch + g->nk, scratch + 2 * g->nk};
  sw_rc rc = out->items && scratch ? SW_OK : sw_err_set(g->err, SW_ERR_NOMEM, "%s: out of memory", g->e->path);
  for (size_t i = 0; i < l->count && rc == SW_OK; i++) {
    sw_trial_spec_t *t = &out->items[i];
    t->index = i;
    t->timeout_s = l->timeout[i];
    t->retries = l->retries[i];
    out->count++;
    rc = make_trial(g, point(g, l, i), t, &views);
  }
  free(scratch);
  if (rc == SW_OK) rc = check_unique(g, out);
  return rc;
}

sw_rc sw_grid_expand(const sw_experiment_t *e, sw_trial_list_t *out, sw_err_t *err) {
  memset(out, 0, sizeof *out);
  grid_ctx_t g = {.e = e, .err = err};
  plist_t points = {0};
  const sw_value_t **base = NULL;
  sw_rc rc = build_keys(&g);
  if (rc == SW_OK) rc = build_whens(&g);
  if (rc == SW_OK && !(base = calloc(g.nk ? g.nk : 1, sizeof *base)))
    rc = sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", e->path);
  for (size_t i = 0; i < e->n_fixed && rc == SW_OK; i++) base[key_index(&g, e->fixed[i].key)] = &e->fixed[i].val;
  if (rc == SW_OK) rc = expand(&g, &e->grid, base, e->timeout_s, e->retries, &points);
  if (rc == SW_OK) rc = check_when_hits(&g);
  if (rc == SW_OK) rc = apply_excludes(&g, &points);
  if (rc == SW_OK) rc = build_trials(&g, &points, out);
  if (rc != SW_OK) sw_trial_list_free(out);
  free(base);
  plist_free(&points);
  free(g.keys);
  free(g.is_grid);
  free(g.whens);
  free(g.hits);
  free(g.by_addr);
  return rc;
}

void sw_trial_list_free(sw_trial_list_t *list) {
  if (!list) return;
  for (size_t i = 0; i < list->count; i++) {
    free(list->items[i].config_json);
    free(list->items[i].axes_json);
  }
  free(list->items);
  memset(list, 0, sizeof *list);
}
