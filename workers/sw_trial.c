/* sw_trial: the executor-lifetime cache, the result writer that turns a runner's metrics, samples and
 * counters into the result JSON ({"v":1,...}, see results/SCHEMA.md), and the table of workloads. */
#include "workers/sw_trial.h"

#include "common/sw_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cache ---- */

void *sw_trial_cache_get(const sw_trial_cache_t *cache, const char *key) {
  if (!cache || !key) return NULL;
  for (size_t i = 0; i < cache->count; i++)
    if (strcmp(cache->entries[i].key, key) == 0) return cache->entries[i].value;
  return NULL;
}

static void cache_entry_release(sw_trial_cache_entry_t *e) {
  if (e->destroy && e->value) e->destroy(e->value);
  free(e->key);
}

sw_rc sw_trial_cache_put(sw_trial_cache_t *cache, const char *key, void *value, void (*destroy)(void *)) {
  for (size_t i = 0; i < cache->count; i++) {
    sw_trial_cache_entry_t *e = &cache->entries[i];
    if (strcmp(e->key, key) != 0) continue;
    if (e->value != value && e->destroy && e->value) e->destroy(e->value);
    e->value = value;
    e->destroy = destroy;
    return SW_OK;
  }
  char *key_copy = strdup(key);
  if (!key_copy) goto nomem;
  if (cache->count == cache->cap) {
    size_t cap = cache->cap ? 2 * cache->cap : 8;
    sw_trial_cache_entry_t *grown = realloc(cache->entries, cap * sizeof *grown);
    if (!grown) {
      free(key_copy);
      goto nomem;
    }
    cache->entries = grown;
    cache->cap = cap;
  }
  cache->entries[cache->count++] = (sw_trial_cache_entry_t){key_copy, value, destroy};
  return SW_OK;
nomem:
  if (destroy && value) destroy(value);
  return SW_ERR_NOMEM;
}

void sw_trial_cache_free(sw_trial_cache_t *cache) {
  if (!cache) return;
  for (size_t i = 0; i < cache->count; i++) cache_entry_release(&cache->entries[i]);
  free(cache->entries);
  memset(cache, 0, sizeof *cache);
}

/* ---- result writer ---- */

void sw_trial_out_init(sw_trial_out_t *out) { memset(out, 0, sizeof *out); }

void sw_trial_out_free(sw_trial_out_t *out) {
  sw_buf_free(&out->metrics);
  sw_buf_free(&out->samples);
  sw_buf_free(&out->counters);
  memset(out, 0, sizeof *out);
}

static void put_str(sw_buf_t *b, const char *s) {
  if (s)
    sw_buf_json_string(b, s, strlen(s));
  else
    sw_buf_puts(b, "null");
}

void sw_trial_out_metric(sw_trial_out_t *out, const char *name, double value, const char *unit) {
  sw_buf_t *b = &out->metrics;
  if (!out->bad_metric[0] && !sw_metric_ok(name, unit))
    snprintf(out->bad_metric, sizeof out->bad_metric, "%s [%s]", name ? name : "(null)", unit ? unit : "(null)");
  if (out->n_metrics++) sw_buf_puts(b, ",");
  sw_buf_puts(b, "{\"name\":");
  put_str(b, name);
  sw_buf_puts(b, ",\"value\":");
  sw_buf_json_double(b, value);
  sw_buf_puts(b, ",\"unit\":");
  put_str(b, unit);
  sw_buf_puts(b, "}");
}

void sw_trial_out_sample(sw_trial_out_t *out, const char *series, int rep, double seconds) {
  sw_buf_t *b = &out->samples;
  if (out->n_samples++) sw_buf_puts(b, ",");
  sw_buf_puts(b, "{\"series\":");
  put_str(b, series);
  sw_buf_printf(b, ",\"rep\":%d,\"value\":", rep);
  sw_buf_json_double(b, seconds);
  sw_buf_puts(b, "}");
}

void sw_trial_out_counter(sw_trial_out_t *out, const char *series, const char *name, int has_value, double value,
                          const char *reason) {
  sw_buf_t *b = &out->counters;
  if (out->n_counters++) sw_buf_puts(b, ",");
  sw_buf_puts(b, "{\"series\":");
  put_str(b, series);
  sw_buf_puts(b, ",\"name\":");
  put_str(b, name);
  sw_buf_puts(b, ",\"value\":");
  if (has_value)
    sw_buf_json_double(b, value);
  else
    sw_buf_puts(b, "null");
  sw_buf_puts(b, ",\"reason\":");
  put_str(b, has_value ? NULL : (reason ? reason : "not measured"));
  sw_buf_puts(b, "}");
}

void sw_trial_out_json(const sw_trial_out_t *out, sw_buf_t *dst) {
  sw_buf_puts(dst, "{\"v\":1,\"metrics\":[");
  sw_buf_puts(dst, sw_buf_str(&out->metrics));
  sw_buf_puts(dst, "],\"samples\":[");
  sw_buf_puts(dst, sw_buf_str(&out->samples));
  sw_buf_puts(dst, "],\"counters\":[");
  sw_buf_puts(dst, sw_buf_str(&out->counters));
  sw_buf_puts(dst, "]}");
  if (!sw_buf_ok(&out->metrics) || !sw_buf_ok(&out->samples) || !sw_buf_ok(&out->counters)) dst->oom = 1;
}

/* ---- workloads ---- */

static sw_rc run_noop(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  (void)cache;
  (void)config;
  (void)err;
  sw_trial_out_metric(out, "noop", 1.0, "count");
  return SW_OK;
}

static const sw_workload_t sw_workloads[] = {
    {"attribution", sw_trial_run_attrib, "a GGUF model with attribution-scored FFN neurons and heads deactivated",
     sw_trial_prepare_attrib},
    {"ffn", sw_trial_run_ffn, "dense vs activation-sparse FFN on synthetic weights (kernels)", NULL},
    {"model", sw_trial_run_model, "a GGUF model's FFN layers / perplexity with a sparsity method",
     sw_trial_prepare_model},
    {"modularity", sw_trial_run_modularity, "FFN neuron overlap, co-activation clusters and ablation across texts",
     NULL},
    {"noop", run_noop, "does nothing (overhead benchmarks)", NULL},
    {"test", sw_trial_run_test, "test-only: ok|segv|abort|exit|hang|oom|sleep on demand", sw_trial_prepare_test},
};

const sw_workload_t *sw_workload_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof sw_workloads / sizeof sw_workloads[0]; i++)
    if (strcmp(sw_workloads[i].name, name) == 0) return &sw_workloads[i];
  return NULL;
}
