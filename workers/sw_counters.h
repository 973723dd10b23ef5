/* sw_counters: PAPI event counting around a measured region, best effort.  Every requested event ends up
 * in the trial result either with a value or as NULL with the reason it is missing ("PAPI_TOT_CYC: not
 * available on this machine (perf_event component disabled: ...)").  Preset events (PAPI_TOT_CYC, ...) and
 * the kernels' software-defined events ("sde:::sparsweep::<counter>", see kernels/sw_sde.h) are read the
 * same way, by name.  Used inside the trial child, never across a fork. */
#ifndef SW_COUNTERS_H
#define SW_COUNTERS_H
#include <stddef.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "common/sw_json.h"
#include "workers/sw_trial.h"

#define SW_COUNTERS_MAX 32

typedef struct sw_counters sw_counters_t;

/* The default preset list: cycles, instructions, FP operations, last-level cache misses.  Returns the count
 * and points *names at a static table. */
size_t sw_counters_default_presets(const char *const **names);

/* Opens a counter set for names[n] (n <= SW_COUNTERS_MAX).  Events that cannot be counted are kept with
 * their reason (PAPI errors never fail the open: counters are optional); errors are only bad arguments or
 * out of memory. */
sw_rc sw_counters_open(sw_counters_t **c, const char *const *names, size_t n, sw_err_t *err);
/* Opens the default set: the presets above, then every kernels SDE counter as "sde:::<library>::<name>"
 * (library NULL = "sparsweep", the kernels' default; see kernels/sw_sde.h).  The kernels' sw_sde_init must
 * have run in this process for the SDE values to exist; otherwise they are NULL with PAPI's reason. */
sw_rc sw_counters_open_default(sw_counters_t **c, const char *sde_library, sw_err_t *err);
/* Opens the set a trial config asks for: config["papi_events"] (a name or a list of names, see
 * experiments/README.md) when present, the default set above when absent or "default".  An empty list leaves *c NULL
 * (nothing requested, nothing counted: callers treat a NULL set as "no counters").  Errors: the key has the
 * wrong type, more than SW_COUNTERS_MAX names, or out of memory. */
sw_rc sw_counters_open_config(sw_counters_t **c, const sw_json_t *config, const char *sde_library, sw_err_t *err);
/* Starts / stops counting.  Values of successive start/stop pairs add up until sw_counters_write. */
sw_rc sw_counters_start(sw_counters_t *c, sw_err_t *err);
sw_rc sw_counters_stop(sw_counters_t *c, sw_err_t *err);
/* Writes one counter item per event for series (value or NULL + reason) and resets the sums. */
void sw_counters_write(sw_counters_t *c, sw_trial_out_t *out, const char *series);
/* The series runs n_threads threads (kernel pool, OpenBLAS).  PAPI's event sets count the thread that started
 * them (PAPI_INHERIT would only follow threads created later; the pools exist before), so with n_threads > 1
 * every non-SDE event (presets, perf_event natives) is written as NULL with the reason "PAPI counted the calling
 * thread only; the series ran N threads".  SDE events keep their values: the kernels count their own work. */
void sw_counters_set_threads(sw_counters_t *c, int n_threads);
/* Number of events that are actually being counted. */
size_t sw_counters_active(const sw_counters_t *c);
void   sw_counters_close(sw_counters_t *c);

/* Run provenance: appends a JSON object {"papi_version":"7.0.0.0","presets_available":["PAPI_TOT_CYC",...],
 * "components":[{"name":..,"enabled":bool,"reason":..}],"perf_event":"enabled"|"disabled: <reason>"}. */
sw_rc sw_counters_describe(sw_buf_t *json, sw_err_t *err);

#endif
