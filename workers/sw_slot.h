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

#endif
