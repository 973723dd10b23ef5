/* sw_outcome: the one type for the outcome of a trial attempt, from the executor that ran it (workers/) over
 * the MPI message to rank 0 (proto/) into the results store (results/), with its one encoder/decoder over
 * sw_buf/sw_cursor, the one table of status names (the strings stored in trials.status) and the signal names. */
#ifndef SW_OUTCOME_H
#define SW_OUTCOME_H
#include <stddef.h>

#include "common/sw_buf.h"
#include "common/sw_cursor.h"
#include "common/sw_err.h"
#include "common/sw_status.h"

#define SW_OUTCOME_CAUSE_MAX 512
#define SW_OUTCOME_STDERR_TAIL 4096 /* bytes of the child's stdout+stderr kept (the last ones) */

typedef struct sw_outcome {
  sw_trial_status status;
  char   cause[SW_OUTCOME_CAUSE_MAX]; /* "" when OK; e.g. "killed by signal 11 (SIGSEGV)", "exited with status 3",
                                         "timeout after 0.5 s (SIGTERM, exited within the 2 s grace period)",
                                         "out of memory: ...", "workload error SW_ERR_INVALID: ..." */
  int    signo;                       /* terminating signal of the child, 0 when none */
  char   signal_name[16];             /* "SIGSEGV", "" when signo == 0 */
  int    exit_status;                 /* exit status when the child exited normally, -1 otherwise */
  int    out_of_memory;               /* 1 when the failure was classified as out of memory */
  int    infra;                       /* 1 when the executor, not the trial, failed (cannot fork, pipe, spawn):
                                         the orchestrator requeues the trial and counts it against the rank */
  char  *stderr_tail;                 /* owned, NUL-terminated, may be NULL: last <= 4 KiB of output */
  char  *result_json;                 /* owned: sw_trial_out_json() text when status == OK, else NULL */
  double start_wall, end_wall;        /* wall-clock seconds since the epoch around the attempt */
} sw_outcome_t;

/* "ok", "failed", "timeout", "interrupted", "skipped" (the strings stored in the results database); "unknown"
 * for other values. */
const char *sw_trial_status_name(sw_trial_status status);
/* The status named name; SW_ERR_INVALID naming the accepted names otherwise. */
sw_rc sw_trial_status_parse(const char *name, sw_trial_status *out, sw_err_t *err);

/* "SIGSEGV" for 11 etc. (glibc's abbreviation); "SIG<n>" written into buf for numbers without one.  Never NULL. */
const char *sw_signal_name(int signo, char *buf, size_t buf_len);

/* Formats the cause (printf-style, truncated to SW_OUTCOME_CAUSE_MAX - 1 bytes). */
void sw_outcome_set_cause(sw_outcome_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets signo and the matching signal_name ("" for 0). */
void sw_outcome_set_signal(sw_outcome_t *o, int signo);

/* Releases the owned strings and zeroes the outcome (safe on a zeroed one and on NULL). */
void sw_outcome_free(sw_outcome_t *o);

/* Appends the outcome: u32 status, i32 signo, exit_status, out_of_memory, infra, f64 start_wall, end_wall, then
 * the strings cause, stderr_tail, result_json (sw_buf_put_str).  Check sw_buf_ok(b) afterwards. */
void sw_outcome_encode(sw_buf_t *b, const sw_outcome_t *o);
/* Reads what sw_outcome_encode wrote from the cursor into *o (zeroed first; strings longer than max_string
 * bytes are refused).  SW_ERR_TRUNCATED / SW_ERR_PARSE (bad status) / SW_ERR_RANGE naming the field; on an
 * error *o is left empty.  signal_name is derived from signo; stderr_tail is never NULL after success. */
sw_rc sw_outcome_decode(sw_cursor_t *c, size_t max_string, sw_outcome_t *o, sw_err_t *err);

#endif
