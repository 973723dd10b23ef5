/* sw_events: libzmq PUB publisher for the live event stream.  ZMQ_SNDHWM bounds the per-subscriber
 * queue, ZMQ_DONTWAIT makes every send non-blocking and ZMQ_LINGER 0 makes close immediate, so neither
 * a slow nor an absent subscriber can slow the sweep. */
#include "orchestrator/sw_events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/sw_buf.h"
#include "common/sw_time.h"

#define SW_EVENTS_MAGIC 0x45564e54u /* "EVNT" */

struct sw_events {
  uint32_t magic;        /* SW_EVENTS_MAGIC while alive */
  void    *ctx;          /* zmq context, NULL when disabled */
  void    *sock;         /* PUB socket, NULL when disabled */
  char     endpoint[256];/* bound endpoint, "" when disabled */
  int64_t  run_id;       /* included in every event */
  int64_t  seq;          /* events published so far (next sequence number) */
  int64_t  dropped;      /* events not queued */
  sw_buf_t json;         /* reused message buffer */
};

static sw_rc s_zmq_fail(sw_events_t *ev, sw_err_t *err, const char *what, const char *endpoint) {
  sw_rc rc = sw_err_set(err, SW_ERR_IO, "cannot %s event endpoint '%s': %s", what, endpoint, zmq_strerror(zmq_errno()));
  sw_events_destroy(&ev);
  return rc;
}

sw_rc sw_events_new(sw_events_t **out, const char *endpoint, int hwm, sw_err_t *err) {
  *out = NULL;
  sw_events_t *ev = calloc(1, sizeof *ev);
  if (!ev) return sw_err_set(err, SW_ERR_NOMEM, "cannot allocate the event publisher");
  ev->magic = SW_EVENTS_MAGIC;
  if (!endpoint || !*endpoint) {
    *out = ev;
    return SW_OK;
  }
  if (strlen(endpoint) >= sizeof ev->endpoint) {
    free(ev);
    return sw_err_set(err, SW_ERR_INVALID, "event endpoint '%.40s...' is too long", endpoint);
  }
  ev->ctx = zmq_ctx_new();
  if (!ev->ctx) return s_zmq_fail(ev, err, "create a zmq context for", endpoint);
  ev->sock = zmq_socket(ev->ctx, ZMQ_PUB);
  if (!ev->sock) return s_zmq_fail(ev, err, "create a PUB socket for", endpoint);
  int linger = 0, sndhwm = hwm > 0 ? hwm : SW_EVENTS_DEFAULT_HWM;
  if (zmq_setsockopt(ev->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
      zmq_setsockopt(ev->sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm) != 0)
    return s_zmq_fail(ev, err, "configure the PUB socket of", endpoint);
  if (zmq_bind(ev->sock, endpoint) != 0) return s_zmq_fail(ev, err, "bind", endpoint);
  size_t len = sizeof ev->endpoint;
  if (zmq_getsockopt(ev->sock, ZMQ_LAST_ENDPOINT, ev->endpoint, &len) != 0)
    snprintf(ev->endpoint, sizeof ev->endpoint, "%s", endpoint);
  *out = ev;
  return SW_OK;
}

void sw_events_destroy(sw_events_t **evp) {
  if (!evp || !*evp) return;
  sw_events_t *ev = *evp;
  if (ev->sock) zmq_close(ev->sock);
  if (ev->ctx) zmq_ctx_term(ev->ctx);
  sw_buf_free(&ev->json);
  ev->magic = 0;
  free(ev);
  *evp = NULL;
}

const char *sw_events_endpoint(const sw_events_t *ev) { return ev ? ev->endpoint : ""; }

void sw_events_set_run_id(sw_events_t *ev, int64_t run_id) {
  if (ev) ev->run_id = run_id;
}

int64_t sw_events_sent(const sw_events_t *ev) { return ev ? ev->seq - ev->dropped : 0; }
int64_t sw_events_dropped(const sw_events_t *ev) { return ev ? ev->dropped : 0; }

sw_rc sw_events_publish(sw_events_t *ev, const char *topic, const sw_events_counts_t *c, const char *members) {
  if (!ev || !ev->sock) return SW_OK;
  (void)SW_ALWAYS(ev->magic == SW_EVENTS_MAGIC);
  sw_buf_t *b = &ev->json;
  sw_buf_reset(b);
  sw_buf_printf(b, "{\"v\":%d,\"event\":", SW_EVENTS_VERSION);
  sw_buf_json_string(b, topic, strlen(topic));
  sw_buf_printf(b, ",\"seq\":%lld,\"time\":", (long long)ev->seq);
  sw_buf_json_double(b, sw_wall_s());
  sw_buf_printf(b, ",\"run_id\":%lld,\"total\":%lld,\"skipped\":%lld,\"ok\":%lld,\"failed\":%lld,"
                   "\"interrupted\":%lld,\"running\":%lld",
                (long long)ev->run_id, (long long)c->total, (long long)c->skipped, (long long)c->ok,
                (long long)c->failed, (long long)c->interrupted, (long long)c->running);
  if (members && *members) {
    sw_buf_puts(b, ",");
    sw_buf_puts(b, members);
  }
  sw_buf_puts(b, "}");
  ev->seq++;
  if (!sw_buf_ok(b)) {
    ev->dropped++;
    return SW_OK;
  }
  if (zmq_send(ev->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
      zmq_send(ev->sock, b->data, b->len, ZMQ_DONTWAIT) < 0)
    ev->dropped++; /* EAGAIN (queue full) or a transient error: monitoring is best-effort */
  return SW_OK;
}
