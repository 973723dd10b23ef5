/* sw_counters: PAPI presets, native events and SDE events by name, one event set per PAPI component; every
 * event that cannot be counted keeps a precise reason (unknown name, component disabled with PAPI's own
 * disabled_reason, conflicts, a component's set that failed to start). */
#include "workers/sw_counters.h"

#include "kernels/sw_sde.h"

#include <papi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 320

/* PAPI binds an event set to one component (perf_event, perf_event_uncore, sde, ...) and refuses events of
 * another, so the events are grouped: one event set per component, all started and stopped together. */
typedef struct counter_set {
  int  cidx;                   /* PAPI component index */
  int  event_set;              /* PAPI_NULL when it could not be created */
  int  n_active;               /* events added to it */
  int  running;                /* PAPI_start succeeded and no stop yet */
  char run_error[REASON_MAX];  /* start/stop failure since the last write, for this set's events only */
} counter_set_t;

typedef struct counter_event {
  char      name[128];
  int       set;                /* index in sw_counters.sets when added, -1 otherwise */
  int       slot;               /* index in that event set's value array */
  long long sum;                /* accumulated over start/stop pairs since the last write */
  int       measured;           /* at least one stop since the last write */
  int       unregistered;       /* an SDE event read back negative: a placeholder nobody registered */
  char      reason[REASON_MAX]; /* why the value is missing when the event was not added */
} counter_event_t;

struct sw_counters {
  counter_event_t events[SW_COUNTERS_MAX];
  counter_set_t   sets[SW_COUNTERS_MAX];
  size_t          n, n_sets, n_active;
  int             running; /* between sw_counters_start and sw_counters_stop */
  int             threads; /* threads the measured series runs (sw_counters_set_threads; 0 = not said, one) */
};

/* Cycles, instructions, FP operations, last-level cache misses (hardware presets: need a PMU), then two perf
 * software events that every Linux perf_event reports even in a VM without a PMU (CPU time of the task; page
 * faults, which expose first-touch effects in cold-cache runs). */
static const char *const sw_default_presets[] = {"PAPI_TOT_CYC", "PAPI_TOT_INS",     "PAPI_FP_OPS",
                                                 "PAPI_L3_TCM",  "perf::TASK-CLOCK", "perf::PAGE-FAULTS"};

size_t sw_counters_default_presets(const char *const **names) {
  *names = sw_default_presets;
  return sizeof sw_default_presets / sizeof sw_default_presets[0];
}

static void set_reason(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(char *dst, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, REASON_MAX, fmt, ap);
  va_end(ap);
}

/* Initialises PAPI once per process (PAPI's own state); returns 0 or a PAPI error code. */
static int papi_ready(void) {
  if (PAPI_is_initialized() != PAPI_NOT_INITED) return 0;
  int v = PAPI_library_init(PAPI_VER_CURRENT);
  return v == PAPI_VER_CURRENT ? 0 : (v < 0 ? v : PAPI_EINVAL);
}

/* The component an event belongs to: PAPI's own answer for a known name; "sde" for an "sde:::" name PAPI does
 * not know (the SDE component adds such names as placeholders); -1 with the lookup's error otherwise. */
static int component_of(const char *name, int *papi_rc) {
  int code = 0;
  *papi_rc = PAPI_event_name_to_code(name, &code);
  if (*papi_rc == PAPI_OK) {
    int cidx = PAPI_get_event_component(code);
    if (cidx >= 0) return cidx;
    *papi_rc = cidx;
  }
  if (strncmp(name, "sde:::", 6) == 0) return PAPI_get_component_index("sde");
  return -1;
}

static void explain_failure(counter_event_t *e, int cidx, int papi_rc) {
  const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
  if (ci && ci->disabled)
    set_reason(e->reason, "%s: not available on this machine (%s component disabled: %s)", e->name, ci->name,
               ci->disabled_reason[0] ? ci->disabled_reason : "no reason given");
  else if (cidx < 0 || papi_rc == PAPI_ENOEVNT)
    set_reason(e->reason, "%s: no such event on this machine (PAPI: %s)", e->name, PAPI_strerror(papi_rc));
  else if (papi_rc == PAPI_ECNFLCT)
    set_reason(e->reason, "%s: cannot be counted together with the other requested %s events (PAPI: %s)", e->name,
               ci ? ci->name : "", PAPI_strerror(papi_rc));
  else
    set_reason(e->reason, "%s: cannot be counted (%s component, PAPI_add_named_event: %s)", e->name,
               ci ? ci->name : "unknown", PAPI_strerror(papi_rc));
}

/* The set of component cidx, created and bound on first use; returns its index, or -1 with *papi_rc set. */
static int set_for_component(sw_counters_t *c, int cidx, int *papi_rc) {
  for (size_t s = 0; s < c->n_sets; s++)
    if (c->sets[s].cidx == cidx) return c->sets[s].event_set == PAPI_NULL ? -1 : (int)s;
  counter_set_t *set = &c->sets[c->n_sets];
  memset(set, 0, sizeof *set);
  set->cidx = cidx;
  set->event_set = PAPI_NULL;
  *papi_rc = PAPI_create_eventset(&set->event_set);
  if (*papi_rc == PAPI_OK) {
    *papi_rc = PAPI_assign_eventset_component(set->event_set, cidx);
    if (*papi_rc != PAPI_OK) PAPI_destroy_eventset(&set->event_set);
  }
  if (*papi_rc != PAPI_OK) set->event_set = PAPI_NULL;
  c->n_sets++;
  return set->event_set == PAPI_NULL ? -1 : (int)c->n_sets - 1;
}

/* Adds one event to its component's set; a failure only marks this event (reason kept). */
static void add_event(sw_counters_t *c, counter_event_t *e) {
  int papi_rc = PAPI_OK, cidx = component_of(e->name, &papi_rc), s = -1;
  if (cidx >= 0) s = set_for_component(c, cidx, &papi_rc);
  if (s >= 0) papi_rc = PAPI_add_named_event(c->sets[s].event_set, e->name);
  if (s < 0 || papi_rc != PAPI_OK) {
    if (papi_rc == PAPI_OK) papi_rc = PAPI_ENOCMP;
    explain_failure(e, cidx, papi_rc);
    return;
  }
  e->set = s;
  e->slot = c->sets[s].n_active++;
  c->n_active++;
}

sw_rc sw_counters_open(sw_counters_t **out, const char *const *names, size_t n, sw_err_t *err) {
  *out = NULL;
  if (n > SW_COUNTERS_MAX) return sw_err_set(err, SW_ERR_RANGE, "%zu counters requested, at most %d", n, SW_COUNTERS_MAX);
  sw_counters_t *c = calloc(1, sizeof *c);
  if (!c) return sw_err_set(err, SW_ERR_NOMEM, "counters: out of memory");
  c->n = n;
  for (size_t i = 0; i < n; i++) {
    if (!names[i] || !names[i][0] || strlen(names[i]) >= sizeof c->events[i].name) {
      free(c);
      return sw_err_set(err, SW_ERR_INVALID, "counter %zu: empty or over-long event name", i);
    }
    snprintf(c->events[i].name, sizeof c->events[i].name, "%s", names[i]);
    c->events[i].set = -1;
  }
  int prc = papi_ready();
  for (size_t i = 0; i < n; i++) {
    if (prc == 0)
      add_event(c, &c->events[i]);
    else
      set_reason(c->events[i].reason, "%s: PAPI_library_init failed (%s)", c->events[i].name, PAPI_strerror(prc));
  }
  *out = c;
  return SW_OK;
}

sw_rc sw_counters_open_default(sw_counters_t **c, const char *sde_library, sw_err_t *err) {
  char        storage[SW_COUNTERS_MAX][128];
  const char *names[SW_COUNTERS_MAX];
  const char *const *presets;
  size_t n_presets = sw_counters_default_presets(&presets), n = 0;
  for (size_t i = 0; i < n_presets; i++) names[n++] = presets[i];
  for (size_t k = 0; k < SW_SDE_N_COUNTERS && n < SW_COUNTERS_MAX; k++, n++) {
    snprintf(storage[n], sizeof storage[n], "sde:::%.40s::%s", sde_library ? sde_library : SW_SDE_LIBRARY,
             sw_sde_counter_names[k]);
    names[n] = storage[n];
  }
  return sw_counters_open(c, names, n, err);
}

/* Collects the event names of config["papi_events"] (a string or a list of strings) into names. */
static sw_rc papi_event_names(const sw_json_t *ev, const char **names, size_t *n, sw_err_t *err) {
  if (ev->kind == SW_JSON_STRING) {
    names[0] = ev->string, *n = 1;
    return SW_OK;
  }
  if (ev->kind != SW_JSON_ARRAY)
    return sw_err_set(err, SW_ERR_INVALID, "'papi_events' must be a string or a list of strings");
  if (ev->count > SW_COUNTERS_MAX)
    return sw_err_set(err, SW_ERR_RANGE, "'papi_events' lists %zu events, at most %d", ev->count, SW_COUNTERS_MAX);
  for (size_t i = 0; i < ev->count; i++) {
    if (ev->items[i].kind != SW_JSON_STRING)
      return sw_err_set(err, SW_ERR_INVALID, "'papi_events' item %zu is not an event name", i);
    names[i] = ev->items[i].string;
  }
  *n = ev->count;
  return SW_OK;
}

sw_rc sw_counters_open_config(sw_counters_t **c, const sw_json_t *config, const char *sde_library, sw_err_t *err) {
  *c = NULL;
  const sw_json_t *ev = sw_json_get(config, "papi_events");
  if (!ev || (ev->kind == SW_JSON_STRING && strcmp(ev->string, "default") == 0))
    return sw_counters_open_default(c, sde_library, err);
  const char *names[SW_COUNTERS_MAX];
  size_t      n = 0;
  sw_rc       rc = papi_event_names(ev, names, &n, err);
  if (rc || n == 0) return rc;
  return sw_counters_open(c, names, n, err);
}

size_t sw_counters_active(const sw_counters_t *c) { return c ? c->n_active : 0; }

void sw_counters_set_threads(sw_counters_t *c, int n_threads) {
  if (c) c->threads = n_threads;
}

/* 1 for a software-defined event (the kernels' own counts, whatever thread made them). */
static int is_sde(const counter_event_t *e) { return strncmp(e->name, "sde:::", 6) == 0; }

sw_rc sw_counters_start(sw_counters_t *c, sw_err_t *err) {
  if (c->running) return sw_err_set(err, SW_ERR_INVALID, "counters: start while already running");
  c->running = 1;
  for (size_t s = 0; s < c->n_sets; s++) {
    counter_set_t *set = &c->sets[s];
    if (!set->n_active) continue;
    int rc = PAPI_start(set->event_set);
    if (rc == PAPI_OK)
      set->running = 1;
    else /* this component only: the other sets still count */
      set_reason(set->run_error, "PAPI_start of the %s event set failed: %s",
                 PAPI_get_component_info(set->cidx)->name, PAPI_strerror(rc));
  }
  return SW_OK;
}

/* Stops one set and adds its values to its events' sums. */
static void stop_set(sw_counters_t *c, int s) {
  counter_set_t *set = &c->sets[s];
  long long      values[SW_COUNTERS_MAX];
  set->running = 0;
  int rc = PAPI_stop(set->event_set, values);
  if (rc != PAPI_OK) {
    set_reason(set->run_error, "PAPI_stop of the %s event set failed: %s", PAPI_get_component_info(set->cidx)->name,
               PAPI_strerror(rc));
    return;
  }
  for (size_t i = 0; i < c->n; i++) {
    counter_event_t *e = &c->events[i];
    if (e->set != s) continue;
    /* PAPI SDE accepts names nobody registered (placeholders) and reads them as -1; real counters are
     * monotonically increasing, so a negative delta can only mean "not registered in this process". */
    if (values[e->slot] < 0 && is_sde(e)) e->unregistered = 1;
    e->sum += values[e->slot];
    e->measured = 1;
  }
}

sw_rc sw_counters_stop(sw_counters_t *c, sw_err_t *err) {
  if (!c->running) return c->n_active ? sw_err_set(err, SW_ERR_INVALID, "counters: stop without start") : SW_OK;
  c->running = 0;
  for (size_t s = c->n_sets; s-- > 0;) /* reverse order: the sets' regions nest */
    if (c->sets[s].running) stop_set(c, (int)s);
  return SW_OK;
}

/* The reason an event has no value after a region, or NULL when it has one. */
static const char *missing_reason(const sw_counters_t *c, const counter_event_t *e, char *buf, size_t cap) {
  if (e->set < 0) return e->reason;
  const counter_set_t *set = &c->sets[e->set];
  if (set->run_error[0])
    snprintf(buf, cap, "%s: %s", e->name, set->run_error);
  else if (e->unregistered)
    snprintf(buf, cap,
             "%s: no such software-defined counter registered in this process (kernels' sw_sde_init not run "
             "for that library)", e->name);
  else if (!e->measured)
    snprintf(buf, cap, "%s: not measured (no start/stop around the region)", e->name);
  else if (c->threads > 1 && !is_sde(e)) /* perf_event counts the thread that started the event set */
    snprintf(buf, cap, "%s: PAPI counted the calling thread only; the series ran %d threads", e->name, c->threads);
  else
    return NULL;
  return buf;
}

void sw_counters_write(sw_counters_t *c, sw_trial_out_t *out, const char *series) {
  for (size_t i = 0; i < c->n; i++) {
    counter_event_t *e = &c->events[i];
    char        buf[REASON_MAX + 160];
    const char *reason = missing_reason(c, e, buf, sizeof buf);
    if (reason)
      sw_trial_out_counter(out, series, e->name, 0, 0, reason);
    else
      sw_trial_out_counter(out, series, e->name, 1, (double)e->sum, NULL);
    e->sum = 0;
    e->measured = 0;
    e->unregistered = 0;
  }
  for (size_t s = 0; s < c->n_sets; s++) c->sets[s].run_error[0] = '\0';
}

void sw_counters_close(sw_counters_t *c) {
  if (!c) return;
  for (size_t s = 0; s < c->n_sets; s++) {
    counter_set_t *set = &c->sets[s];
    if (set->event_set == PAPI_NULL) continue;
    long long values[SW_COUNTERS_MAX];
    if (set->running) PAPI_stop(set->event_set, values);
    PAPI_cleanup_eventset(set->event_set);
    PAPI_destroy_eventset(&set->event_set);
  }
  free(c);
}

/* ---- provenance ---- */

/* 1 when preset code can be added to an event set on this host and started (PAPI also names presets it
 * cannot count, e.g. every hardware preset on a VM without a PMU). */
static int preset_addable(int code) {
  int       es = PAPI_NULL;
  long long values[1]; /* PAPI_stop writes one value per event in the set, derived presets included */
  if (PAPI_create_eventset(&es) != PAPI_OK) return 0;
  int ok = PAPI_add_event(es, code) == PAPI_OK && PAPI_start(es) == PAPI_OK;
  if (ok) ok = PAPI_stop(es, values) == PAPI_OK;
  PAPI_cleanup_eventset(es);
  PAPI_destroy_eventset(&es);
  return ok;
}

static void describe_presets(sw_buf_t *json) {
  int code = PAPI_PRESET_MASK, first = 1;
  sw_buf_puts(json, "\"presets_available\":[");
  if (PAPI_enum_event(&code, PAPI_ENUM_FIRST) == PAPI_OK) {
    do {
      char name[PAPI_MAX_STR_LEN];
      if (PAPI_query_event(code) != PAPI_OK || !preset_addable(code) || PAPI_event_code_to_name(code, name) != PAPI_OK)
        continue;
      if (!first) sw_buf_puts(json, ",");
      sw_buf_json_string(json, name, strlen(name));
      first = 0;
    } while (PAPI_enum_event(&code, PAPI_PRESET_ENUM_AVAIL) == PAPI_OK);
  }
  sw_buf_puts(json, "]");
}

static void describe_components(sw_buf_t *json) {
  const PAPI_component_info_t *perf = NULL;
  sw_buf_puts(json, ",\"components\":[");
  for (int i = 0; i < PAPI_num_components(); i++) {
    const PAPI_component_info_t *ci = PAPI_get_component_info(i);
    if (!ci) continue;
    if (strcmp(ci->name, "perf_event") == 0) perf = ci;
    sw_buf_puts(json, i ? ",{\"name\":" : "{\"name\":");
    sw_buf_json_string(json, ci->name, strlen(ci->name));
    sw_buf_printf(json, ",\"enabled\":%s,\"reason\":", ci->disabled ? "false" : "true");
    sw_buf_json_string(json, ci->disabled_reason, strlen(ci->disabled_reason));
    sw_buf_puts(json, "}");
  }
  sw_buf_puts(json, "],\"perf_event\":");
  char text[PAPI_HUGE_STR_LEN + 32];
  if (!perf)
    snprintf(text, sizeof text, "disabled: PAPI was built without the perf_event component");
  else if (perf->disabled)
    snprintf(text, sizeof text, "disabled: %s", perf->disabled_reason);
  else
    snprintf(text, sizeof text, "enabled");
  sw_buf_json_string(json, text, strlen(text));
}

sw_rc sw_counters_describe(sw_buf_t *json, sw_err_t *err) {
  int prc = papi_ready();
  char version[64];
  snprintf(version, sizeof version, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION), PAPI_VERSION_MINOR(PAPI_VERSION),
           PAPI_VERSION_REVISION(PAPI_VERSION), PAPI_VERSION_INCREMENT(PAPI_VERSION));
  sw_buf_puts(json, "{\"papi_version\":");
  sw_buf_json_string(json, version, strlen(version));
  sw_buf_puts(json, ",");
  if (prc != 0) {
    char text[160];
    snprintf(text, sizeof text, "disabled: PAPI_library_init failed (%s)", PAPI_strerror(prc));
    sw_buf_puts(json, "\"presets_available\":[],\"components\":[],\"perf_event\":");
    sw_buf_json_string(json, text, strlen(text));
  } else {
    describe_presets(json);
    describe_components(json);
  }
  sw_buf_puts(json, "}");
  return sw_buf_ok(json) ? SW_OK : sw_err_set(err, SW_ERR_NOMEM, "counters: out of memory describing PAPI");
}
