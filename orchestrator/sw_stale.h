/* sw_stale: finds runs left with status 'running' by a rank 0 that was killed (kill -9, OOM killer, node
 * reboot) and marks them 'aborted'.  A run is only judged when its rank 0 ran on this host: its env records
 * the host, pid and /proc start time, and the run is stale when that process no longer exists. */
#ifndef SW_STALE_H
#define SW_STALE_H
#include <stdint.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "results/sw_store.h"

/* Keys added to runs.env (values are strings, like the environment variables beside them). */
#define SW_STALE_KEY_HOST "sparsweep.rank0_host"   /* gethostname() of rank 0 */
#define SW_STALE_KEY_PID "sparsweep.rank0_pid"     /* rank 0's process id */
#define SW_STALE_KEY_START "sparsweep.rank0_start" /* field 22 of /proc/<pid>/stat (clock ticks after boot) */

/* Writes this process's start time (/proc/self/stat field 22) into buf; "" when unreadable. */
void sw_stale_self_start(char *buf, size_t cap);

/* Appends the three owner members `"key":"value"` (comma-separated, no braces) for this process running on
 * host.  The start time is omitted when /proc cannot be read.  Check sw_buf_ok(dst) afterwards. */
void sw_stale_owner_members(sw_buf_t *dst, const char *host);

/* Inserts the owner members into a JSON object text held in env ("{}" or "{...}"), before its closing brace.
 * Leaves env unchanged when it does not end in '}'. */
void sw_stale_stamp_env(sw_buf_t *env, const char *host);

/* 1 when the process recorded as (pid, start) is certainly gone: no process has that pid, it is a zombie
 * (exited, not yet reaped), or the process with that pid started at another time (the pid was reused).
 * 0 when it may still run or cannot be told (pid <= 0, /proc unreadable).  start may be NULL (then only
 * the pid and the zombie state are checked). */
int sw_stale_owner_gone(int64_t pid, const char *start);

/* Marks every run of st that is still 'running', was not imported, and whose env names host as rank 0's host
 * with an owner process that sw_stale_owner_gone() reports gone, as 'aborted' with ended_s = its last
 * trial's end (its start when it recorded no trial).  Runs of other hosts, or without an owner in env, are
 * left alone.  *n_aborted (may be NULL) receives the number of runs marked.  Call on rank 0 before
 * sw_store_run_begin.  SW_ERR_IO (message names the database) on SQL errors. */
sw_rc sw_stale_abort_runs(sw_store_t *st, const char *host, int64_t *n_aborted, sw_err_t *err);

#endif
