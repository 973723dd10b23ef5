/* sw_grid: expands an experiment's grid into an ordered list of trials.  Each trial is a flat config
 * (fixed settings + one grid point + the current default of every key of the workload whose default changed,
 * sw_keydef_t.legacy_def, and of every measurement key the grid sets for other points but not this one), its
 * canonical JSON (experiments/sw_canon.h) and that JSON's SHA-256, with the keys
 * holding their legacy default left out (and a method version suffix, experiments/README.md "Trial identity"):
 * the trial's identity for resume and results.  Order: product axes in file order (first
 * slowest), then zip groups, then `when` sub-blocks; exclusions removed; indices 0..count-1. */
#ifndef SW_GRID_H
#define SW_GRID_H
#include <stddef.h>

#include "common/sw_err.h"
#include "experiments/sw_expfile.h"

#define SW_SHORT_HASH_LEN 12 /* hex digits shown by `sparsweep plan` */

/* One expanded trial.  timeout_s/retries are run policy and are not part of config_json or hash. */
typedef struct sw_trial_spec {
  size_t index;       /* 0-based position in the expansion order */
  char   hash[65];    /* SHA-256 hex of config_json (without keys at their legacy default; method version) */
  char  *config_json; /* canonical flat JSON object of the whole config, owned */
  char  *axes_json;   /* canonical JSON of only the keys the grid set (a short label), owned */
  double timeout_s;   /* seconds, > 0 */
  int    retries;     /* >= 0 */
} sw_trial_spec_t;

typedef struct sw_trial_list {
  sw_trial_spec_t *items; /* items[count], owned */
  size_t           count;
} sw_trial_list_t;

/* Expands e into *out (which must be zeroed or freed before).  Errors: SW_ERR_INVALID with
 * "file:line:col: ..." for an empty grid, a grid larger than e->max_trials, a `when` block or
 * exclusion that matches no trial, two trials with the same config, or a key set twice for one trial;
 * SW_ERR_NOMEM.  On error *out is left empty.  Deterministic: same experiment -> same list. */
sw_rc sw_grid_expand(const sw_experiment_t *e, sw_trial_list_t *out, sw_err_t *err);

/* Frees the trials and zeroes the list; safe on a zeroed list. */
void sw_trial_list_free(sw_trial_list_t *list);

#endif
