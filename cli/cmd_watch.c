/* `sparsweep watch [ENDPOINT]`: live progress of a sweep from its zmq event stream (orchestrator/sw_events.h):
 * a progress bar with done/failed/total, rate, ETA and the latest results.  Every event carries the run's
 * counters, so watching can start before or after the run does.  Read-only: a SUB socket never slows the
 * sweep.  Exits 0 at run_finished, 1 after --timeout seconds without any event. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cli/sw_cli.h"
#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "common/sw_time.h"
#include "orchestrator/sw_events.h"

#define SW_WATCH_POLL_MS 250
#define SW_WATCH_BAR 30
#define SW_WATCH_MAX_MSG (1 << 20) /* bytes: events are a few hundred bytes (orchestrator/sw_events.h); anything larger
                                     is not from a sweep and would only cost memory */

static const char s_usage[] =
    "usage: sparsweep watch [ENDPOINT] [--timeout S] [--plain]\n"
    "  ENDPOINT     the run's --events endpoint (default " SW_EVENTS_DEFAULT_ENDPOINT ")\n"
    "  --timeout S  give up (exit 1) after S seconds without an event (default: wait forever)\n"
    "  --plain      one line per event instead of a redrawn progress bar (default when not a terminal)\n";

typedef struct s_watch {
  int64_t total, skipped, ok, failed, interrupted, running; /* last counters seen */
  double  first_time;     /* event time of the first counters seen (epoch s) */
  int64_t first_finished; /* ok+failed+interrupted at first_time */
  double  last_time;      /* event time of the latest event */
  double  last_bar_time;  /* event time when the bar was last printed (plain output) */
  int     seen;           /* 1 after the first event */
  int     tty;            /* redraw in place */
  char    run_name[128];  /* from run_started, may stay "" */
} s_watch_t;

static int64_t s_int(const sw_json_t *doc, const char *key) {
  const sw_json_t *v = sw_json_get(doc, key);
  return v && v->kind == SW_JSON_NUMBER ? (int64_t)v->number : 0;
}
static double s_num(const sw_json_t *doc, const char *key) {
  const sw_json_t *v = sw_json_get(doc, key);
  return v && v->kind == SW_JSON_NUMBER ? v->number : NAN;
}
static const char *s_str(const sw_json_t *doc, const char *key) {
  const sw_json_t *v = sw_json_get(doc, key);
  return v && v->kind == SW_JSON_STRING ? v->string : "";
}

/* Compact one-line JSON of an object member (label or metrics), with the outer braces stripped. */
static void s_members(sw_buf_t *b, const sw_json_t *obj) {
  for (size_t i = 0; obj && obj->kind == SW_JSON_OBJECT && i < obj->count; i++) {
    const sw_json_t *v = &obj->items[i];
    sw_buf_printf(b, "%s%s=", i ? " " : "", obj->keys[i]);
    if (v->kind == SW_JSON_NUMBER) sw_buf_printf(b, "%.4g", v->number);
    else if (v->kind == SW_JSON_STRING) sw_buf_puts(b, v->string);
    else if (v->kind == SW_JSON_BOOL) sw_buf_puts(b, v->boolean ? "true" : "false");
    else sw_buf_puts(b, "...");
  }
}

static void s_format_eta(char *out, size_t n, double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) {
    snprintf(out, n, "--:--");
    return;
  }
  long s = lround(seconds);
  if (s >= 3600) snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

static void s_progress(const s_watch_t *w, sw_buf_t *b) {
  int64_t finished = w->ok + w->failed + w->interrupted, done = w->skipped + finished;
  int64_t remaining = w->total - done;
  double elapsed = w->last_time - w->first_time;
  double rate = elapsed > 0 ? (double)(finished - w->first_finished) / elapsed : 0.0;
  char eta[32];
  s_format_eta(eta, sizeof eta, rate > 0 ? (double)remaining / rate : -1.0);
  int fill = w->total > 0 ? (int)((double)SW_WATCH_BAR * (double)done / (double)w->total) : 0;
  sw_buf_puts(b, "[");
  for (int i = 0; i < SW_WATCH_BAR; i++) sw_buf_puts(b, i < fill ? "#" : ".");
  sw_buf_printf(b, "] %lld/%lld done (%lld ok, %lld failed, %lld interrupted, %lld skipped), %lld running, "
                   "%.1f trials/s, ETA %s",
                (long long)done, (long long)w->total, (long long)w->ok, (long long)w->failed, (long long)w->interrupted,
                (long long)w->skipped, (long long)w->running, rate, eta);
}

/* Line describing a finished/failed trial event. */
static void s_trial_line(const sw_json_t *doc, const char *topic, sw_buf_t *b) {
  const char *status = s_str(doc, "status");
  sw_buf_printf(b, "%-11s #%lld %.12s rank %lld %.3f s  ", *status ? status : topic, (long long)s_int(doc, "index"),
                s_str(doc, "hash"), (long long)s_int(doc, "rank"), s_num(doc, "seconds"));
  s_members(b, sw_json_get(doc, "label"));
  if (strcmp(topic, "trial_finished") == 0) {
    sw_buf_puts(b, "  -> ");
    s_members(b, sw_json_get(doc, "metrics"));
  } else {
    sw_buf_printf(b, "  (%s)", s_str(doc, "cause"));
    const sw_json_t *r = sw_json_get(doc, "retry");
    if (r && r->kind == SW_JSON_BOOL && r->boolean) sw_buf_puts(b, " -> retry");
  }
}

/* Updates the state from one event and prints; returns 1 at run_finished. */
static int s_handle(s_watch_t *w, const char *topic, const sw_json_t *doc) {
  w->total = s_int(doc, "total");
  w->skipped = s_int(doc, "skipped");
  w->ok = s_int(doc, "ok");
  w->failed = s_int(doc, "failed");
  w->interrupted = s_int(doc, "interrupted");
  w->running = s_int(doc, "running");
  w->last_time = s_num(doc, "time");
  if (!w->seen || strcmp(topic, "run_started") == 0) {
    w->seen = 1;
    w->first_time = w->last_time;
    w->first_finished = w->ok + w->failed + w->interrupted;
  }
  sw_buf_t line = SW_BUF_INIT;
  if (strcmp(topic, "trial_finished") == 0 || strcmp(topic, "trial_failed") == 0) s_trial_line(doc, topic, &line);
  else if (strcmp(topic, "run_started") == 0)
    sw_buf_printf(&line, "run %lld '%s' started: %lld trials, %lld to run on %lld worker(s)",
                  (long long)s_int(doc, "run_id"), s_str(doc, "name"), (long long)w->total,
                  (long long)s_int(doc, "to_run"), (long long)s_int(doc, "workers"));
  else if (strcmp(topic, "run_draining") == 0) sw_buf_puts(&line, "run draining: no more trials are dispatched");
  else if (strcmp(topic, "run_finished") == 0)
    sw_buf_printf(&line, "run %lld finished: %s in %.1f s (rank 0 CPU %.2f s)", (long long)s_int(doc, "run_id"),
                  s_str(doc, "status"), s_num(doc, "wall_s"), s_num(doc, "rank0_cpu_s"));
  sw_buf_t bar = SW_BUF_INIT;
  s_progress(w, &bar);
  if (w->tty) {
    if (line.len) printf("\r\033[K%s\n", sw_buf_str(&line));
    printf("\r\033[K%s", sw_buf_str(&bar));
  } else {
    /* plain output: every result line, the bar at run events and at most once a second */
    int run_event = strncmp(topic, "run_", 4) == 0;
    if (line.len) printf("%s\n", sw_buf_str(&line));
    if (run_event || w->last_time - w->last_bar_time >= 1.0) {
      printf("%s\n", sw_buf_str(&bar));
      w->last_bar_time = w->last_time;
    }
  }
  fflush(stdout);
  sw_buf_free(&line);
  sw_buf_free(&bar);
  return strcmp(topic, "run_finished") == 0;
}

/* Receives one two-frame event; returns 1 when the run finished. */
static int s_receive(void *sock, s_watch_t *w) {
  char topic[64];
  int n = zmq_recv(sock, topic, sizeof topic - 1, 0);
  if (n < 0) return 0;
  topic[n < (int)sizeof topic - 1 ? n : (int)sizeof topic - 1] = '\0';
  zmq_msg_t body;
  zmq_msg_init(&body);
  int more = 0;
  size_t more_len = sizeof more;
  zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
  int finished = 0;
  if (more && zmq_msg_recv(&body, sock, 0) >= 0) {
    sw_json_t *doc = NULL;
    sw_err_t err;
    if (sw_json_parse(zmq_msg_data(&body), zmq_msg_size(&body), &doc, &err) == SW_OK &&
        s_int(doc, "v") == SW_EVENTS_VERSION)
      finished = s_handle(w, topic, doc);
    sw_json_free(doc);
  }
  zmq_msg_close(&body);
  return finished;
}

static int s_watch(const char *endpoint, double timeout_s, int plain) {
  void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
  int linger = 0, reconnect_ms = 20; /* retry quickly while the run has not bound its endpoint yet */
  int64_t max_msg = SW_WATCH_MAX_MSG; /* a peer sending larger messages is disconnected by libzmq */
  if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
      zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0 ||
      zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &reconnect_ms, sizeof reconnect_ms) != 0 ||
      zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0) != 0 || zmq_connect(sock, endpoint) != 0) {
    fprintf(stderr, "sparsweep watch: cannot connect to '%s': %s\n", endpoint, zmq_strerror(zmq_errno()));
    if (sock) zmq_close(sock);
    if (ctx) zmq_ctx_term(ctx);
    return SW_EXIT_USAGE;
  }
  s_watch_t w;
  memset(&w, 0, sizeof w);
  w.tty = !plain && isatty(STDOUT_FILENO);
  int64_t last_ns = sw_now_ns();
  int rc = -1;
  while (rc < 0) {
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, SW_WATCH_POLL_MS);
    if (n > 0 && (item.revents & ZMQ_POLLIN)) {
      last_ns = sw_now_ns();
      if (s_receive(sock, &w)) rc = SW_EXIT_OK;
    } else if (timeout_s > 0 && (double)(sw_now_ns() - last_ns) > timeout_s * 1e9) {
      fprintf(stderr, "%ssparsweep watch: no event from %s for %.0f s\n", w.tty ? "\n" : "", endpoint, timeout_s);
      rc = SW_EXIT_FAIL;
    }
  }
  if (w.tty) printf("\n");
  zmq_close(sock);
  zmq_ctx_term(ctx);
  return rc;
}

int cmd_watch(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    fputs(s_usage, stdout);
    return SW_EXIT_OK;
  }
  const char *endpoint = SW_EVENTS_DEFAULT_ENDPOINT;
  double timeout_s = 0;
  int plain = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int bad = 0;
    if ((v = sw_cli_opt_value(argc, argv, &i, "--timeout", &bad)) || bad) {
      if (bad || sw_cli_parse_double(v, 0, HUGE_VAL, &timeout_s) != 0) {
        fprintf(stderr, "sparsweep watch: --timeout needs a number of seconds\n%s", s_usage);
        return SW_EXIT_USAGE;
      }
    } else if (strcmp(argv[i], "--plain") == 0) {
      plain = 1;
    } else if (argv[i][0] != '-') {
      endpoint = argv[i];
    } else {
      fprintf(stderr, "sparsweep watch: unknown option '%s'\n%s", argv[i], s_usage);
      return SW_EXIT_USAGE;
    }
  }
  return s_watch(endpoint, timeout_s, plain);
}
