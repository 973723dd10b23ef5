/* sw_metrics: lookups in the metric table of common/sw_metrics.h. */
#include "common/sw_metrics.h"

#include <fnmatch.h>
#include <string.h>

#define SW_METRIC_ROW(name, unit, workloads, definition) {name, unit, workloads, definition},
static const sw_metric_def_t sw_metric_defs[] = {SW_METRICS(SW_METRIC_ROW)};
#undef SW_METRIC_ROW
#define SW_N_METRICS (sizeof sw_metric_defs / sizeof sw_metric_defs[0])

const sw_metric_def_t *sw_metric_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < SW_N_METRICS; i++)
    if (!strcmp(sw_metric_defs[i].name, name)) return &sw_metric_defs[i];
  for (size_t i = 0; i < SW_N_METRICS; i++)
    if (strchr(sw_metric_defs[i].name, '*') && fnmatch(sw_metric_defs[i].name, name, 0) == 0) return &sw_metric_defs[i];
  return NULL;
}

size_t sw_metrics_all(const sw_metric_def_t **defs) {
  *defs = sw_metric_defs;
  return SW_N_METRICS;
}

int sw_metric_ok(const char *name, const char *unit) {
  const sw_metric_def_t *m = sw_metric_find(name);
  if (!m || !strcmp(m->workloads, "legacy")) return 0;
  return !strcmp(m->unit, "*") || (unit && !strcmp(m->unit, unit));
}
