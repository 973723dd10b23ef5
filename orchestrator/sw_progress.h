/* sw_progress: the progress of `sparsweep run` where the user is, on stderr.  It sees every orchestrator
 * event (the same topics and counters as the zmq stream, orchestrator/sw_events.h) through one hook and
 * draws from them:
 *   - on a terminal, one line rewritten in place at most once per second: done, failed, running, total, rate,
 *     ETA and the running trial that has run longest;
 *   - otherwise (a log file, a batch job), a plain line each time another 10% of the trials finished, or 60 s
 *     after the last line, and a last line at the end.
 * `sparsweep run --quiet` creates none.  No global state: everything is in sw_progress_t. */
#ifndef SW_PROGRESS_H
#define SW_PROGRESS_H
#include <stdint.h>
#include <stdio.h>

#include "common/sw_err.h"
#include "orchestrator/sw_events.h"

#define SW_PROGRESS_TTY_PERIOD_NS 1000000000LL   /* at most one redraw per second on a terminal */
#define SW_PROGRESS_PLAIN_PERIOD_NS 60000000000LL /* a plain line at least every 60 s */
#define SW_PROGRESS_PLAIN_STEP 0.10               /* and each time another 10% finished */
#define SW_PROGRESS_LABEL_MAX 96                  /* characters of a running trial's label kept */

typedef struct sw_progress sw_progress_t;

/* A progress writer on out (stderr in `run`); tty: 1 for the terminal line, 0 for plain lines, -1 to ask
 * isatty(fileno(out)).  NULL on allocation failure (then nothing is shown). */
sw_progress_t *sw_progress_new(FILE *out, int tty);
/* Ends a terminal line with a newline, then frees; NULL-safe. */
void sw_progress_free(sw_progress_t *p);

/* One orchestrator event (topic, counters, members as published on the event stream).  now_ns is the
 * monotonic time (sw_now_ns); tests pass their own. */
void sw_progress_event(sw_progress_t *p, const char *topic, const sw_events_counts_t *c, const char *members,
                       int64_t now_ns);

/* The current line (without carriage return or newline) into dst; used by the drawing and by tests. */
void sw_progress_format(const sw_progress_t *p, const sw_events_counts_t *c, int64_t now_ns, char *dst, size_t cap);

#endif
