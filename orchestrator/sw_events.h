/* sw_events: the orchestrator's live event stream, a libzmq PUB socket (bound to loopback by default).
 * Each event is two frames: the topic ("run_started", "trial_started", "trial_finished", "trial_failed",
 * "progress", "run_finished") and a JSON object that begins with "v":1 (schema version) and always
 * carries the run's counters (total/skipped/ok/failed/interrupted/running), so a subscriber that joins
 * late is up to date after one event.  Monitoring is best-effort: sends are non-blocking with a bounded
 * high-water mark, and a message that cannot be queued is counted as dropped, never waited for. */
#ifndef SW_EVENTS_H
#define SW_EVENTS_H
#include <stdint.h>

#include "common/sw_err.h"

#define SW_EVENTS_VERSION 1
#define SW_EVENTS_DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"
#define SW_EVENTS_DEFAULT_HWM 1000 /* messages queued per subscriber before new ones are dropped */

typedef struct sw_events sw_events_t;

/* Run counters carried by every event. */
typedef struct sw_events_counts {
  int64_t total;       /* trials in the expanded grid */
  int64_t skipped;     /* already ok in the database (resume), not run again */
  int64_t ok;          /* finished ok in this invocation */
  int64_t failed;      /* finished failed or timeout (after the last retry) in this invocation */
  int64_t interrupted; /* stopped by a drain */
  int64_t running;     /* dispatched and not yet finished */
} sw_events_counts_t;

/* Creates a publisher bound to endpoint (e.g. "tcp://127.0.0.1:5555"; a port of '*' picks a free one).
 * endpoint NULL or "" makes a disabled publisher whose publish calls do nothing.  hwm <= 0 means
 * SW_EVENTS_DEFAULT_HWM.  SW_ERR_IO with the zmq message when the endpoint cannot be bound. */
sw_rc sw_events_new(sw_events_t **out, const char *endpoint, int hwm, sw_err_t *err);
/* Closes the socket without lingering (queued events are discarded) and frees; NULL-safe, sets *ev = NULL. */
void sw_events_destroy(sw_events_t **ev);

/* The endpoint actually bound ("tcp://127.0.0.1:40123" after a '*' port), "" when disabled. Borrowed. */
const char *sw_events_endpoint(const sw_events_t *ev);
/* Sets the run id included in every later event (0 = unknown). */
void sw_events_set_run_id(sw_events_t *ev, int64_t run_id);

/* Publishes one event: topic frame, then {"v":1,"event":topic,"seq":n,"time":epoch_s,"run_id":id,
 * <counters>[,members]}.  members is NULL or a JSON object body without braces ("\"hash\":\"ab..\",...").
 * Never blocks; returns SW_OK even when the event was dropped (see sw_events_dropped). */
sw_rc sw_events_publish(sw_events_t *ev, const char *topic, const sw_events_counts_t *counts, const char *members);

/* Events published and events dropped (queue full or send error) so far. */
int64_t sw_events_sent(const sw_events_t *ev);
int64_t sw_events_dropped(const sw_events_t *ev);

#endif
