/* sw_expfile: reads a YAML experiment file (libyaml event API, bounded depth/size, aliases budgeted)
 * into a validated sw_experiment_t: fixed settings, measurement settings, run policy and the grid.
 * Every error names "file:line:column: what was expected" and returns SW_ERR_PARSE (not YAML / bad
 * YAML) or SW_ERR_INVALID (valid YAML that breaks the experiment language; see experiments/README.md).
 * Loading never writes anything; the experiment owns all its memory (sw_experiment_free). */
#ifndef SW_EXPFILE_H
#define SW_EXPFILE_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"

/* Hard limits (hostile-file defences). */
#define SW_EXP_MAX_FILE_BYTES   (1u << 20)  /* 1 MiB of YAML */
#define SW_EXP_MAX_DEPTH        32          /* YAML nesting levels */
#define SW_EXP_MAX_NODES        200000      /* YAML nodes after alias expansion (billion-laughs guard) */
#define SW_EXP_MAX_SCALAR       4096        /* bytes in one scalar */
#define SW_EXP_MAX_KEY          64          /* bytes in one config key */
#define SW_EXP_MAX_KEYS         512         /* distinct config keys in one experiment */
#define SW_EXP_MAX_LIST         100000      /* items in one list */
#define SW_EXP_DEFAULT_MAX_TRIALS 100000    /* trial cap unless the file sets max_trials */
#define SW_EXP_HARD_MAX_TRIALS  1000000     /* max_trials may not exceed this */
#define SW_EXP_MAX_WHEN_DEPTH   8           /* nested `when` blocks */
#define SW_EXP_MAX_BLOCKS       1024        /* entries in one `when` list, and `exclude` entries */
#define SW_EXP_MAX_MATCH_VALUES 4096        /* values in all `if:` and `exclude:` entries together */

/* A config value: a scalar, or a list of scalars.  line/col are 1-based file positions (0 = default). */
typedef enum sw_value_kind {
  SW_VAL_INT = 1,   /* plain scalar matching [-+]?[0-9]+ that fits int64 */
  SW_VAL_FLOAT = 2, /* plain scalar in decimal/exponent form, finite */
  SW_VAL_BOOL = 3,  /* plain true/false (also True/TRUE/False/FALSE) */
  SW_VAL_STR = 4,   /* any other scalar; quoted scalars are always strings */
  SW_VAL_LIST = 5   /* a YAML sequence of scalars (no nesting) */
} sw_value_kind;

typedef struct sw_value sw_value_t;
struct sw_value {
  sw_value_kind kind;
  int64_t       i;      /* SW_VAL_INT */
  double        f;      /* SW_VAL_FLOAT */
  int           b;      /* SW_VAL_BOOL: 0/1 */
  char         *s;      /* SW_VAL_STR: NUL-terminated UTF-8, owned */
  sw_value_t   *items;  /* SW_VAL_LIST: items[count], all scalars, owned */
  size_t        count;  /* SW_VAL_LIST: number of items */
  int           line;   /* 1-based line of the value in the file (0: built-in default) */
  int           col;    /* 1-based column */
};

/* One (key, value) pair of a flat config. */
typedef struct sw_kv {
  char      *key;  /* [a-z][a-z0-9_]*, owned */
  sw_value_t val;  /* owned */
  int        key_line, key_col; /* 1-based position of the key in the file (0: not written there) */
} sw_kv_t;

/* Values matched by `if:` conditions and `exclude:` entries: key -> any of these values. */
typedef struct sw_match {
  sw_kv_t *terms;   /* terms[n]: val is a scalar, or a list meaning "any of" */
  size_t   n;
  int      line;    /* position of the entry, for messages */
  int      col;
} sw_match_t;

/* A zip group: equal-length value lists advanced together (one grid dimension). */
typedef struct sw_zip {
  sw_kv_t *keys;    /* keys[n]; each val is SW_VAL_LIST of length `length` whose items are the values
                       (each a scalar or a list of scalars) */
  size_t   n;
  size_t   length;  /* common list length (>= 1) */
  int      line, col;
} sw_zip_t;

/* A grid block: product axes x zip groups, then conditional sub-blocks (applied in order). */
typedef struct sw_grid_block sw_grid_block_t;
struct sw_grid_block {
  sw_kv_t         *axes;    /* axes[n_axes]: each val is SW_VAL_LIST whose items are the axis values
                               (each a scalar or a list of scalars; >= 1 item, all distinct) */
  size_t           n_axes;  /* first axis varies slowest */
  sw_zip_t        *zips;    /* zips[n_zips], nested inside the axes in file order */
  size_t           n_zips;
  sw_grid_block_t *when;    /* when[n_when]: sub-blocks applied to points matching their cond */
  size_t           n_when;
  sw_match_t       cond;    /* for a `when` entry: the `if:` condition (empty for the top block) */
  double           timeout_s; /* for a `when` entry: timeout override in seconds, or 0 = inherit */
  int              retries;   /* for a `when` entry: retries override, or -1 = inherit */
  int              line, col; /* position of the block */
};

/* A loaded experiment. */
typedef struct sw_experiment {
  char           *path;        /* file name used in messages (as given) */
  char           *name;        /* `name:` [A-Za-z0-9_.-]{1,64} */
  char           *description; /* `description:` or "" */
  char           *workload;    /* "ffn" | "model" | "test" | "noop" */
  char           *spec_text;   /* the file bytes, NUL-terminated (stored with each run) */
  size_t          spec_len;    /* bytes in spec_text */
  char            spec_hash[65]; /* SHA-256 hex of spec_text */
  double          timeout_s;   /* per-trial timeout in seconds (run policy, not hashed) */
  int             retries;     /* retries after a failed attempt (run policy, not hashed) */
  size_t          max_trials;  /* expansion cap */
  sw_kv_t        *fixed;       /* fixed[n_fixed]: workload + settings + measure (defaults filled), file order */
  size_t          n_fixed;
  sw_grid_block_t grid;        /* top-level grid block (may be empty: one trial) */
  sw_match_t     *exclude;     /* exclude[n_exclude]: partial configs removed from the grid */
  size_t          n_exclude;
} sw_experiment_t;

/* Loads and validates the experiment file at path.  On success *out is a new experiment the caller
 * frees with sw_experiment_free().  On failure returns SW_ERR_IO (cannot read), SW_ERR_PARSE (YAML
 * syntax, encoding, limits) or SW_ERR_INVALID (language errors), err->msg = "path:line:col: ...",
 * and *out is NULL. */
sw_rc sw_expfile_load(const char *path, sw_experiment_t **out, sw_err_t *err);

/* Same, from memory (text[len], need not be NUL-terminated); `name` is used as the file name in
 * messages.  Used by the fuzzer and tests. */
sw_rc sw_expfile_load_mem(const char *name, const char *text, size_t len, sw_experiment_t **out,
                          sw_err_t *err);

/* Frees an experiment and everything it owns; NULL is a no-op. */
void sw_experiment_free(sw_experiment_t *e);

/* 1 when a and b are the same value: numbers compare numerically (1 == 1.0), strings bytewise,
 * lists element-wise. */
int sw_value_equal(const sw_value_t *a, const sw_value_t *b);

/* 1 when v matches a condition term t: t is a scalar equal to v, or a list with an item equal to v
 * (or, when v is itself a list, equal to t). */
int sw_value_matches(const sw_value_t *v, const sw_value_t *t);

#endif
