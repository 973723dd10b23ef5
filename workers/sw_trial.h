/* sw_trial: the interface between the executor (which runs one trial in a forked child) and the code that
 * knows how to run a kind of trial ("workload").  A trial runner reads its flat JSON config, measures, and
 * writes named metrics, per-repetition latency samples and counters through sw_trial_out; the executor
 * turns that into the result JSON that travels to rank 0 (see results/SCHEMA.md).
 * Expensive state that later trials can reuse (loaded models, calibration) lives in sw_trial_cache,
 * which the executor keeps across trials and forks from (copy-on-write). */
#ifndef SW_TRIAL_H
#define SW_TRIAL_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "common/sw_json.h"

/* Executor-lifetime cache of expensive objects, keyed by what they depend on (e.g. "model:<sha>",
 * "calib:<model sha>:<span>:<params hash>").  Entries are freed with their destructor when the executor exits. */
typedef struct sw_trial_cache_entry {
  char  *key;                 /* owned */
  void  *value;               /* owned through destroy */
  void (*destroy)(void *value);
} sw_trial_cache_entry_t;

typedef struct sw_trial_cache {
  sw_trial_cache_entry_t *entries; /* entries[count] */
  size_t                  count;
  size_t                  cap;
} sw_trial_cache_t;

/* Returns the value stored under key, or NULL. */
void *sw_trial_cache_get(const sw_trial_cache_t *cache, const char *key);
/* Stores value under key (taking ownership through destroy). SW_ERR_NOMEM on failure (value is then destroyed). */
sw_rc sw_trial_cache_put(sw_trial_cache_t *cache, const char *key, void *value, void (*destroy)(void *));
void  sw_trial_cache_free(sw_trial_cache_t *cache);

/* Result writer: accumulates the result JSON of one trial.  All numbers are SI units as named. */
typedef struct sw_trial_out {
  sw_buf_t metrics;   /* JSON array body: {"name":..,"value":..,"unit":..} items */
  sw_buf_t samples;   /* JSON array body: {"series":..,"rep":..,"value":..} items (seconds) */
  sw_buf_t counters;  /* JSON array body: {"series":..,"name":..,"value":..|null,"reason":..} items */
  size_t   n_metrics, n_samples, n_counters;
  char     bad_metric[160]; /* first metric emitted with a name or unit common/sw_metrics.h does not declare
                               ("" when none); the metric is still recorded, tests assert this stays empty */
} sw_trial_out_t;

/* Empties out (no allocation until the first item). */
void sw_trial_out_init(sw_trial_out_t *out);
/* Releases the buffers and leaves out empty; safe to call twice. */
void sw_trial_out_free(sw_trial_out_t *out);
/* A named scalar, e.g. ("speedup", 1.93, "ratio"), ("ppl", 23.1, "ppl"); name and unit as declared in
 * common/sw_metrics.h (otherwise out->bad_metric names it). */
void sw_trial_out_metric(sw_trial_out_t *out, const char *name, double value, const char *unit);
/* One timed repetition of a series ("dense", "sparse", "decode_dense", ...), in seconds. */
void sw_trial_out_sample(sw_trial_out_t *out, const char *series, int rep, double seconds);
/* A counter value for a series; has_value = 0 records NULL with the reason ("PAPI_TOT_CYC: no hardware counters"). */
void sw_trial_out_counter(sw_trial_out_t *out, const char *series, const char *name, int has_value, double value,
                          const char *reason);
/* Serialises {"v":1,"metrics":[...],"samples":[...],"counters":[...]} into dst (appended). */
void sw_trial_out_json(const sw_trial_out_t *out, sw_buf_t *dst);

/* A workload runner.  config is the trial's flat JSON object (key "workload" selects the runner).
 * Returns SW_OK, or an error with a message; the executor records it as a failed trial. */
typedef sw_rc (*sw_trial_fn)(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err);

/* Optional: loads the expensive state a trial needs (weights, calibration) into the cache.  Runs in the
 * executor process itself, BEFORE the per-trial fork, so the entry survives for later trials (a cache_put
 * done inside run() happens in the forked child and is lost when it exits).  Not crash-isolated: it must
 * validate its inputs and return an error instead of crashing.  run() then finds the entry with cache_get. */
typedef sw_rc (*sw_trial_prepare_fn)(sw_trial_cache_t *cache, const sw_json_t *config, sw_err_t *err);

typedef struct sw_workload {
  const char *name;  /* value of config["workload"] */
  sw_trial_fn run;
  const char *help;  /* one line */
  sw_trial_prepare_fn prepare; /* NULL when the workload keeps no state across trials */
} sw_workload_t;

/* Finds the runner for a workload name, or NULL. */
const sw_workload_t *sw_workload_find(const char *name);

/* Runners (each in its own file under workers/). */
sw_rc sw_trial_run_test(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err);
sw_rc sw_trial_run_ffn(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err);
sw_rc sw_trial_run_model(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err);
/* The attribution workload (workers/sw_trial_attrib.c) and its prepare: the model workload's inputs plus the
 * attribution scores of every calibration and evaluation window. */
sw_rc sw_trial_run_attrib(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err);
sw_rc sw_trial_prepare_attrib(sw_trial_cache_t *cache, const sw_json_t *config, sw_err_t *err);
/* The modularity workload (workers/sw_trial_modularity.c): neuron overlap, clustering and ablation across texts. */
sw_rc sw_trial_run_modularity(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err);
/* The test workload's prepare: with config "cache_key", stores its creation time under "test:<cache_key>". */
sw_rc sw_trial_prepare_test(sw_trial_cache_t *cache, const sw_json_t *config, sw_err_t *err);
/* The model workload's prepare: loads the GGUF model, tokenises the spans, computes the dense reference and
 * records the calibration inputs into the executor's cache (workers/sw_trial_model.c). */
sw_rc sw_trial_prepare_model(sw_trial_cache_t *cache, const sw_json_t *config, sw_err_t *err);

#endif
