/* sw_ytree (internal to experiments/): a YAML document as a small node tree with 1-based positions,
 * built from libyaml events with an explicit stack (bounded depth), bounded scalar size, and aliases
 * shared rather than copied, with the expanded node count budgeted (billion-laughs guard). */
#ifndef SW_YTREE_H
#define SW_YTREE_H
#include <stddef.h>

#include "common/sw_err.h"

typedef enum sw_ynode_kind { SW_YN_SCALAR = 1, SW_YN_SEQ = 2, SW_YN_MAP = 3 } sw_ynode_kind;

/* The type a scalar's explicit core tag demands (!!str is SW_YTAG_NONE with plain = 0: a string). */
typedef enum { SW_YTAG_NONE, SW_YTAG_INT, SW_YTAG_FLOAT, SW_YTAG_BOOL } sw_ytag;

typedef struct sw_ynode sw_ynode_t;
struct sw_ynode {
  sw_ynode_kind kind;
  char         *text;   /* SCALAR: NUL-terminated bytes (no embedded NUL), owned */
  size_t        len;    /* SCALAR: bytes in text */
  int           plain;  /* SCALAR: 1 for a plain (unquoted, untagged) scalar, subject to type resolution */
  sw_ytag       tag;    /* SCALAR: the core type an explicit !!int, !!float or !!bool tag requires, else NONE */
  sw_ynode_t  **kids;   /* SEQ: items; MAP: key, value, key, value, ... (borrowed: the tree owns nodes) */
  size_t        n;      /* entries in kids */
  size_t        cap;    /* allocated entries in kids */
  size_t        weight; /* nodes in this subtree with aliases expanded */
  int           open;   /* 1 while the collection is being built (aliasing it would be a cycle) */
  int           line;   /* 1-based */
  int           col;    /* 1-based */
};

typedef struct sw_ytree {
  sw_ynode_t **all;     /* every node, for freeing (aliases add no nodes) */
  size_t       n_all, cap_all;
  sw_ynode_t  *root;    /* NULL for an empty document */
} sw_ytree_t;

/* Parses text[len] (one UTF-8 YAML document) into t (zero it first).  Errors: SW_ERR_PARSE with
 * "name:line:col: ..." (syntax, encoding, second document, depth, scalar size, alias budget, unknown or
 * recursive alias, unsupported tag), SW_ERR_NOMEM.  Free t with sw_ytree_free even on error. */
sw_rc sw_ytree_parse(sw_ytree_t *t, const char *name, const char *text, size_t len, sw_err_t *err);
void  sw_ytree_free(sw_ytree_t *t);

#endif
