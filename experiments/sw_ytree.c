/* sw_ytree: libyaml event stream -> node tree.  Defences: explicit stack (no recursion) capped at
 * SW_EXP_MAX_DEPTH, scalars capped at SW_EXP_MAX_SCALAR bytes with NUL rejected, one document only,
 * aliases shared and their expanded size counted against SW_EXP_MAX_NODES, recursive aliases refused. */
#include "experiments/sw_ytree.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "experiments/sw_expfile.h"

#define TAG_STR "tag:yaml.org,2002:str"
#define TAG_PREFIX "tag:yaml.org,2002:"
#define READER_EXPECT "expected UTF-8 text without control characters"

typedef struct yanchor {
  char       *name;  /* owned */
  sw_ynode_t *node;  /* borrowed from the tree */
} yanchor_t;

/* Parser state: the tree being built, open collections, anchors, and the expansion budget. */
typedef struct ybuild {
  sw_ytree_t *t;    /* tree being built */
  const char *name; /* file name for messages */
  const char *text; /* input bytes */
  size_t      len;  /* bytes in text */
  sw_err_t   *err;  /* where messages go */
  sw_ynode_t *stack[SW_EXP_MAX_DEPTH + 1]; /* open collections, innermost last */
  int         depth;                       /* entries used in stack */
  yanchor_t  *anchors;                     /* anchors defined so far (a later one shadows) */
  size_t      n_anchors, cap_anchors;      /* used / allocated anchors */
  size_t      expanded; /* nodes so far with aliases expanded */
  int         docs;     /* documents seen */
} ybuild_t;

static sw_rc yfail(ybuild_t *b, const yaml_mark_t *m, const char *msg) {
  return sw_err_set(b->err, SW_ERR_PARSE, "%s:%zu:%zu: %s", b->name, m->line + 1, m->column + 1, msg);
}

/* 1-based line/column of a byte offset (reader errors carry only an offset). */
static void offset_position(const char *text, size_t len, size_t off, size_t *line, size_t *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    if (text[i] == '\n') {
      (*line)++;
      *col = 1;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      (*col)++;
    }
  }
}

static sw_rc libyaml_error(ybuild_t *b, const yaml_parser_t *p) {
  const char *problem = p->problem ? p->problem : "unknown problem";
  if (p->error == YAML_MEMORY_ERROR) return sw_err_set(b->err, SW_ERR_NOMEM, "%s: out of memory", b->name);
  if (p->error == YAML_READER_ERROR) {
    size_t line, col;
    offset_position(b->text, b->len, p->problem_offset, &line, &col);
    if (p->problem_value < 0)
      return sw_err_set(b->err, SW_ERR_PARSE, "%s:%zu:%zu: " READER_EXPECT " (%s at byte offset %zu)", b->name, line,
                        col, problem, p->problem_offset);
    return sw_err_set(b->err, SW_ERR_PARSE, "%s:%zu:%zu: " READER_EXPECT " (%s: 0x%02x at byte offset %zu)", b->name,
                      line, col, problem, (unsigned)p->problem_value, p->problem_offset);
  }
  if (p->context)
    return sw_err_set(b->err, SW_ERR_PARSE, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu, column %zu)",
                      b->name, p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                      p->context_mark.line + 1, p->context_mark.column + 1);
  return sw_err_set(b->err, SW_ERR_PARSE, "%s:%zu:%zu: YAML syntax error: %s", b->name, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem);
}

static sw_ynode_t *ynode_new(ybuild_t *b, sw_ynode_kind kind, const yaml_mark_t *m) {
  sw_ytree_t *t = b->t;
  if (t->n_all == t->cap_all) {
    size_t cap = t->cap_all ? t->cap_all * 2 : 64;
    sw_ynode_t **all = realloc(t->all, cap * sizeof *all);
    if (!all) return NULL;
    t->all = all;
    t->cap_all = cap;
  }
  sw_ynode_t *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->weight = 1;
  n->line = (int)(m->line + 1 > INT32_MAX ? INT32_MAX : m->line + 1);
  n->col = (int)(m->column + 1 > INT32_MAX ? INT32_MAX : m->column + 1);
  t->all[t->n_all++] = n;
  return n;
}

/* Adds node (weight w, already budgeted) to the innermost open collection, or makes it the root. */
static sw_rc yattach(ybuild_t *b, sw_ynode_t *node, const yaml_mark_t *m) {
  if (b->depth == 0) {
    if (b->t->root) return yfail(b, m, "expected one YAML document, found more content");
    b->t->root = node;
    return SW_OK;
  }
  sw_ynode_t *parent = b->stack[b->depth - 1];
  if (parent->n == parent->cap) {
    size_t cap = parent->cap ? parent->cap * 2 : 8;
    sw_ynode_t **kids = realloc(parent->kids, cap * sizeof *kids);
    if (!kids) return sw_err_set(b->err, SW_ERR_NOMEM, "%s: out of memory", b->name);
    parent->kids = kids;
    parent->cap = cap;
  }
  parent->kids[parent->n++] = node;
  return SW_OK;
}

static sw_rc ybudget(ybuild_t *b, size_t w, const yaml_mark_t *m) {
  if (w > SW_EXP_MAX_NODES || b->expanded > SW_EXP_MAX_NODES - w) {
    char msg[160];
    snprintf(msg, sizeof msg, "the document expands to more than %d nodes (alias bomb?); refusing it",
             SW_EXP_MAX_NODES);
    return yfail(b, m, msg);
  }
  b->expanded += w;
  return SW_OK;
}

static sw_rc yanchor_add(ybuild_t *b, const yaml_char_t *anchor, sw_ynode_t *node) {
  if (!anchor) return SW_OK;
  if (b->n_anchors == b->cap_anchors) {
    size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 8;
    yanchor_t *a = realloc(b->anchors, cap * sizeof *a);
    if (!a) return sw_err_set(b->err, SW_ERR_NOMEM, "%s: out of memory", b->name);
    b->anchors = a;
    b->cap_anchors = cap;
  }
  char *name = strdup((const char *)anchor);
  if (!name) return sw_err_set(b->err, SW_ERR_NOMEM, "%s: out of memory", b->name);
  b->anchors[b->n_anchors++] = (yanchor_t){name, node};
  return SW_OK;
}

/* Tags: only the core-schema ones; !!str forces a string, !!int, !!float and !!bool demand that type (checked
 * when the value is read, experiments/sw_expfile.c), !!seq and !!map only restate a collection. */
static sw_rc ycheck_tag(ybuild_t *b, const yaml_char_t *tag, const yaml_mark_t *m, int scalar, int *force_str,
                        sw_ytag *type) {
  *force_str = 0;
  *type = SW_YTAG_NONE;
  if (!tag || strcmp((const char *)tag, "!") == 0) {
    *force_str = tag != NULL;
    return SW_OK;
  }
  const char *s = (const char *)tag;
  if (scalar && strcmp(s, TAG_STR) == 0) {
    *force_str = 1;
    return SW_OK;
  }
  static const char *const ok_scalar[] = {"int", "float", "bool"};
  static const sw_ytag scalar_type[] = {SW_YTAG_INT, SW_YTAG_FLOAT, SW_YTAG_BOOL};
  static const char *const ok_coll[] = {"seq", "map"};
  if (strncmp(s, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
    const char *suffix = s + strlen(TAG_PREFIX);
    for (size_t i = 0; i < (scalar ? 3u : 2u); i++)
      if (strcmp(suffix, scalar ? ok_scalar[i] : ok_coll[i]) == 0) {
        if (scalar) *type = scalar_type[i];
        return SW_OK;
      }
  }
  char msg[SW_EXP_MAX_KEY * 4];
  snprintf(msg, sizeof msg, "unsupported YAML tag '%.100s' (only !!str, !!int, !!float, !!bool, !!seq, !!map)", s);
  return yfail(b, m, msg);
}

static sw_rc yon_scalar(ybuild_t *b, const yaml_event_t *ev) {
  const yaml_mark_t *m = &ev->start_mark;
  size_t len = ev->data.scalar.length;
  if (len > SW_EXP_MAX_SCALAR) {
    char msg[96];
    snprintf(msg, sizeof msg, "scalar of %zu bytes is longer than the limit of %d", len, SW_EXP_MAX_SCALAR);
    return yfail(b, m, msg);
  }
  if (memchr(ev->data.scalar.value, 0, len)) return yfail(b, m, "scalar contains a NUL character");
  int force_str;
  sw_ytag type;
  sw_rc rc = ycheck_tag(b, ev->data.scalar.tag, m, 1, &force_str, &type);
  if (rc == SW_OK) rc = ybudget(b, 1, m);
  if (rc != SW_OK) return rc;
  sw_ynode_t *n = ynode_new(b, SW_YN_SCALAR, m);
  if (!n || !(n->text = malloc(len + 1))) return sw_err_set(b->err, SW_ERR_NOMEM, "%s: out of memory", b->name);
  memcpy(n->text, ev->data.scalar.value, len);
  n->text[len] = '\0';
  n->len = len;
  n->plain = !force_str && type == SW_YTAG_NONE && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  n->tag = type;
  rc = yanchor_add(b, ev->data.scalar.anchor, n);
  if (rc == SW_OK) rc = yattach(b, n, m);
  if (rc == SW_OK && b->depth > 0) b->stack[b->depth - 1]->weight += 1;
  return rc;
}

static sw_rc yon_start(ybuild_t *b, const yaml_event_t *ev, sw_ynode_kind kind) {
  const yaml_mark_t *m = &ev->start_mark;
  const yaml_char_t *tag = kind == SW_YN_SEQ ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
  const yaml_char_t *anchor = kind == SW_YN_SEQ ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
  if (b->depth >= SW_EXP_MAX_DEPTH) {
    char msg[96];
    snprintf(msg, sizeof msg, "nesting deeper than %d levels", SW_EXP_MAX_DEPTH);
    return yfail(b, m, msg);
  }
  int force_str;
  sw_ytag type;
  sw_rc rc = ycheck_tag(b, tag, m, 0, &force_str, &type);
  if (rc == SW_OK) rc = ybudget(b, 1, m);
  if (rc != SW_OK) return rc;
  sw_ynode_t *n = ynode_new(b, kind, m);
  if (!n) return sw_err_set(b->err, SW_ERR_NOMEM, "%s: out of memory", b->name);
  n->open = 1;
  rc = yanchor_add(b, anchor, n);
  if (rc == SW_OK) rc = yattach(b, n, m);
  if (rc == SW_OK) b->stack[b->depth++] = n;
  return rc;
}

static void yon_end(ybuild_t *b) {
  if (b->depth == 0) return; /* libyaml guarantees balance; stay safe anyway */
  sw_ynode_t *n = b->stack[--b->depth];
  n->open = 0;
  if (b->depth > 0) b->stack[b->depth - 1]->weight += n->weight;
}

static sw_rc yon_alias(ybuild_t *b, const yaml_event_t *ev) {
  const yaml_mark_t *m = &ev->start_mark;
  const char *name = (const char *)ev->data.alias.anchor;
  sw_ynode_t *target = NULL;
  for (size_t i = b->n_anchors; i-- > 0;)
    if (strcmp(b->anchors[i].name, name) == 0) {
      target = b->anchors[i].node;
      break;
    }
  char msg[200];
  if (!target) {
    snprintf(msg, sizeof msg, "alias *%.64s names no anchor defined before it", name);
    return yfail(b, m, msg);
  }
  if (target->open) {
    snprintf(msg, sizeof msg, "alias *%.64s refers to a collection that contains it (recursive alias)", name);
    return yfail(b, m, msg);
  }
  sw_rc rc = ybudget(b, target->weight, m);
  if (rc == SW_OK) rc = yattach(b, target, m);
  if (rc == SW_OK && b->depth > 0) b->stack[b->depth - 1]->weight += target->weight;
  return rc;
}

static sw_rc yon_event(ybuild_t *b, const yaml_event_t *ev, int *done) {
  switch (ev->type) {
    case YAML_STREAM_END_EVENT: *done = 1; return SW_OK;
    case YAML_DOCUMENT_START_EVENT:
      if (++b->docs > 1) return yfail(b, &ev->start_mark, "expected one YAML document, found a second one");
      return SW_OK;
    case YAML_SCALAR_EVENT: return yon_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT: return yon_start(b, ev, SW_YN_SEQ);
    case YAML_MAPPING_START_EVENT: return yon_start(b, ev, SW_YN_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: yon_end(b); return SW_OK;
    case YAML_ALIAS_EVENT: return yon_alias(b, ev);
    default: return SW_OK; /* stream start, document end, no event */
  }
}

sw_rc sw_ytree_parse(sw_ytree_t *t, const char *name, const char *text, size_t len, sw_err_t *err) {
  ybuild_t b = {.t = t, .name = name, .text = text, .len = len, .err = err};
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return sw_err_set(err, SW_ERR_NOMEM, "%s: out of memory", name);
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
  sw_rc rc = SW_OK;
  int done = 0;
  while (rc == SW_OK && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      rc = libyaml_error(&b, &p);
      break;
    }
    rc = yon_event(&b, &ev, &done);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  for (size_t i = 0; i < b.n_anchors; i++) free(b.anchors[i].name);
  free(b.anchors);
  return rc;
}

void sw_ytree_free(sw_ytree_t *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n_all; i++) {
    free(t->all[i]->text);
    free(t->all[i]->kids);
    free(t->all[i]);
  }
  free(t->all);
  memset(t, 0, sizeof *t);
}
