/* sw_slot: host-wide measurement slots.  Trials on one host must not time their latency-critical phase at
 * the same moment (two workers on two cores compete for the cores and the memory bus, and both measure the
 * competition), so a trial runner takes a slot around its timed phase only; loading, calibration and
 * accuracy evaluation stay outside it and run in parallel.
 *
 * Config key "exclusive" (measure.exclusive in an experiment file, experiments/README.md):
 *   "node" (default)  one timed phase at a time per host
 *   "socket"          one per host and CPU package (the package of the CPU the trial runs on when it asks)
 *   "none"            no slot
 * The slot is an flock(2) on a lock file named after the host (and package): in $SW_SLOT_DIR, else /dev/shm,
 * else /tmp.  The kernel releases it when the trial's process exits, even on a crash or a timeout kill, so a
 * dead trial never holds it.  Each trial records metrics slot_wait (s, time spent waiting) and slot_mode
 * (0 none, 1 socket, 2 node). */
#ifndef SW_SLOT_H
#define SW_SLOT_H
#include <stddef.h>

#include "common/sw_err.h"
#include "common/sw_json.h"
#include "workers/sw_trial.h"

typedef enum sw_slot_mode { SW_SLOT_NONE = 0, SW_SLOT_SOCKET = 1, SW_SLOT_NODE = 2 } sw_slot_mode;

typedef struct sw_slot {
  sw_slot_mode mode;
  int          fd;      /* the locked file, -1 when none is held */
  double       wait_s;  /* time spent in acquire */
} sw_slot_t;

/* Parses "node" | "socket" | "none"; SW_ERR_INVALID naming the value otherwise. */
sw_rc sw_slot_mode_parse(const char *name, sw_slot_mode *mode, sw_err_t *err);

/* Lock file path for mode on this host (package = the CPU package for SW_SLOT_SOCKET, ignored otherwise). */
void sw_slot_path(sw_slot_mode mode, int package, char *dst, size_t cap);

/* Reads config "exclusive" (default "node") and blocks until the slot is free.  A lock file that cannot be
 * opened is an error naming its path (never a silent unlocked measurement). */
sw_rc sw_slot_acquire(sw_slot_t *slot, const sw_json_t *config, sw_err_t *err);

/* Releases the slot (if held) and records slot_wait and slot_mode in out (out may be NULL). */
void sw_slot_release(sw_slot_t *slot, sw_trial_out_t *out);

/* ---- quiet host: untimed work pauses while another trial of the host times ----
 * The slot alone keeps two timed phases apart, but the other workers' untimed work (loading, calibration, router
 * training, perplexity evaluation) still runs beside a timed phase and competes for the memory bus and the shared
 * cache; a single-shot sample such as a prefill then varies with whatever the neighbour is doing.  With config key
 * "quiet" true (measure.quiet, the default; absent = true) a trial process checks the slot every
 * SW_SLOT_QUIET_PERIOD_US of its own CPU time (ITIMER_VIRTUAL, so the check fires only while the process computes
 * and never interrupts a blocking call): it takes the lock file shared and drops it at once, which blocks for as
 * long as another process holds it exclusively for a timed phase.  While the process itself holds the slot the
 * checks are off (no signal lands inside a timed loop, no self-deadlock).  The state lives in one process-wide
 * context (a signal handler has no other way to reach it): sw_slot_quiet_ctx in workers/sw_slot.c.  Each trial
 * records quiet_pause (s, time its untimed work spent paused) and quiet (0/1). */
#define SW_SLOT_QUIET_PERIOD_US 20000

/* Starts the checks for this process per config ("exclusive" none or "quiet" false: nothing to do).  A lock file
 * that cannot be opened is an error naming its path. */
sw_rc sw_slot_quiet_begin(const sw_json_t *config, sw_err_t *err);

/* Stops the checks and records quiet_pause and quiet in out (out may be NULL). */
void sw_slot_quiet_end(sw_trial_out_t *out);

/* Seconds spent paused since sw_slot_quiet_begin (0 when the checks are off). */
double sw_slot_quiet_paused_s(void);

#endif
