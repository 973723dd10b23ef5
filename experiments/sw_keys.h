/* sw_keys: the declared settings of every workload, as data (experiments/sw_keys.c).  One row per key: name,
 * type, default, range or allowed values, unit, one-line help, and whether the key is part of what a trial
 * measures.  Three users read the same rows:
 *   - `sparsweep plan` and `run` check every key of an experiment against its workload before anything runs
 *     (sw_keys_check_experiment: unknown key with a did-you-mean, wrong type, out of range, all as
 *     "file:line:col: ...");
 *   - the runners under workers/ fill their config structs through sw_keys_read / sw_key_* (the declared
 *     default, the declared range); reading a key its table does not declare is an error, so a runner cannot
 *     read a key that `plan` would refuse;
 *   - `sparsweep workloads [NAME]` prints the tables (sw_keys_print), and a test checks experiments/README.md
 *     against them.
 * Keys are grouped in tables ("measure", "labels", "ffn", "moe", "model", "prune", "attribution",
 * "modularity", "test"); a workload accepts the keys of its list of tables, the first table naming a key
 * deciding its row (so the model table narrows the shared measure key `repetitions`). */
#ifndef SW_KEYS_H
#define SW_KEYS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/sw_err.h"
#include "common/sw_json.h"
#include "experiments/sw_expfile.h"

typedef enum sw_key_type {
  SW_KT_INT = 1,  /* an integer */
  SW_KT_NUM,      /* a number (an integer is accepted) */
  SW_KT_BOOL,     /* true or false */
  SW_KT_STR,      /* free text */
  SW_KT_ENUM,     /* one of the allowed words */
  SW_KT_INTS,     /* an integer, or a non-empty list of integers */
  SW_KT_STRS      /* a word, or a list of words */
} sw_key_type;

typedef struct sw_keydef {
  const char *name;
  sw_key_type type;
  const char *def;      /* default as written in a file ("576", "0.5", "silu"); NULL: the runner derives it
                           (help says how) or the key is required */
  double      lo, hi;   /* INT/NUM/INTS: the range */
  int         lo_open;  /* 1: lo itself is excluded */
  int         hi_open;  /* 1: hi itself is excluded */
  const char *allowed;  /* ENUM: "a|b|c" (aliases included) */
  const char *unit;     /* "" when the value has none */
  const char *help;     /* one line */
  int         identity; /* 1: changes what the trial measures; 0: scheduling or memory only (still hashed when
                           written, so databases resume) */
  const char *legacy_def; /* NULL, or the default before def replaced it: the expander records def in every
                             trial config that does not write the key, and the hash omits the key when it holds
                             this value (experiments/sw_grid.c), so results of the former default keep their hash
                             where a file now writes it */
} sw_keydef_t;

typedef struct sw_keytable {
  const char        *name;  /* "ffn", "measure", ... */
  const sw_keydef_t *keys;
  size_t             n;
} sw_keytable_t;

/* A table by name, or NULL. */
const sw_keytable_t *sw_keytable(const char *name);

/* The row of key name in table t (then in the shared measure table), or NULL. */
const sw_keydef_t *sw_keytable_find(const sw_keytable_t *t, const char *name);

/* The row deciding key name for a workload, or NULL (unknown key, or an unknown workload). */
const sw_keydef_t *sw_keys_lookup(const char *workload, const char *name);

/* The rows deciding the workload's keys that have a legacy default (legacy_def): up to cap of them into rows;
 * returns how many there are. */
size_t sw_keys_changed_defaults(const char *workload, const sw_keydef_t **rows, size_t cap);

/* A default written as in a file (k->def, k->legacy_def) as a value of row k's type; strings are borrowed. */
void sw_keys_default_value(const sw_keydef_t *k, const char *text, sw_value_t *v);

/* 1 when the workload accepts any key (noop: it reads none, so keys only label trials). */
int sw_keys_open(const char *workload);

/* Checks one value (a scalar, or a list where the type allows) against row k.  0 when it fits; otherwise 1
 * and "expected ..." in why. */
int sw_keys_check_value(const sw_keydef_t *k, const sw_value_t *v, char *why, size_t why_len);

/* Checks every key an experiment sets (settings, measure, grid axes and zips, when blocks) against its
 * workload.  SW_ERR_INVALID with "file:line:col: ..." naming the key or value and a suggestion. */
sw_rc sw_keys_check_experiment(const sw_experiment_t *e, sw_err_t *err);

/* ---- reading a trial's config in a runner ---- */

/* Binds a key of table t to a field of the runner's struct: int64_t for INT/INTS, double for NUM, int for
 * BOOL, const char * for STR/ENUM/STRS (borrowed from the config). */
typedef struct sw_keybind {
  const char *name;
  size_t      offset; /* offsetof(struct, field) */
} sw_keybind_t;

/* Fills every bound field from config: the value when given, else the declared default; a row without a
 * default leaves the field as the caller set it.  Values are checked against the row (type, range, allowed
 * words).  An undeclared name is refused (SW_ERR_INVALID), never read. */
sw_rc sw_keys_read(const sw_keytable_t *t, const sw_json_t *config, const sw_keybind_t *binds, size_t n, void *dst,
                   sw_err_t *err);

/* One key, same rules as sw_keys_read (*out keeps the caller's value when absent and without default). */
sw_rc sw_key_int(const sw_keytable_t *t, const sw_json_t *config, const char *name, int64_t *out, sw_err_t *err);
sw_rc sw_key_num(const sw_keytable_t *t, const sw_json_t *config, const char *name, double *out, sw_err_t *err);
sw_rc sw_key_bool(const sw_keytable_t *t, const sw_json_t *config, const char *name, int *out, sw_err_t *err);
sw_rc sw_key_str(const sw_keytable_t *t, const sw_json_t *config, const char *name, const char **out, sw_err_t *err);

/* Prints the workload's keys (every workload when name is NULL) as a text table, or as Markdown tables (the key
 * reference of experiments/README.md).  SW_ERR_INVALID for an unknown workload (with a did-you-mean in err). */
sw_rc sw_keys_print(FILE *to, const char *workload, int markdown, sw_err_t *err);

/* The workloads in the order `sparsweep workloads` prints them: names[i] for i < count. */
size_t sw_keys_workloads(const char *const **names);

#endif
