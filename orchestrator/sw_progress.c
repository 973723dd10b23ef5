/* sw_progress: progress line of `sparsweep run` (see orchestrator/sw_progress.h). */
#include "orchestrator/sw_progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/sw_json.h"

/* A dispatched trial that has not finished. */
typedef struct running {
  int64_t index;
  int64_t start_ns;
  char    label[SW_PROGRESS_LABEL_MAX + 1];
} running_t;

struct sw_progress {
  FILE      *out;
  int        tty;
  int64_t    start_ns;       /* run_started (or the first event) */
  int        started;        /* start_ns is set */
  int64_t    last_draw_ns;   /* last terminal redraw or plain line; 0 = never */
  int        last_step;      /* tenths of the trials finished at the last plain line */
  int        drawn;          /* a terminal line is on screen (needs a newline at the end) */
  running_t *run;            /* run[n_run] */
  size_t     n_run, cap_run;
};

sw_progress_t *sw_progress_new(FILE *out, int tty) {
  sw_progress_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->out = out;
  p->tty = tty >= 0 ? tty : isatty(fileno(out));
  return p;
}

void sw_progress_free(sw_progress_t *p) {
  if (!p) return;
  if (p->tty && p->drawn) fputc('\n', p->out);
  fflush(p->out);
  free(p->run);
  free(p);
}

/* Short text of a scalar JSON value. */
static void scalar_text(const sw_json_t *v, char *dst, size_t cap) {
  if (v->kind == SW_JSON_STRING) snprintf(dst, cap, "%s", v->string);
  else if (v->kind == SW_JSON_NUMBER) snprintf(dst, cap, "%g", v->number);
  else if (v->kind == SW_JSON_BOOL) snprintf(dst, cap, "%s", v->boolean ? "true" : "false");
  else snprintf(dst, cap, "%s", v->kind == SW_JSON_NULL ? "null" : "[..]");
}

/* "index" and a compact "k=v k=v" text of "label" from an event's members; 0 when there is no index. */
static int parse_members(const char *members, int64_t *index, char *label, size_t cap) {
  label[0] = '\0';
  if (!members || !*members) return 0;
  size_t n = strlen(members);
  char *text = malloc(n + 3);
  if (!text) return 0;
  text[0] = '{';
  memcpy(text + 1, members, n);
  memcpy(text + 1 + n, "}", 2);
  sw_json_t *j = NULL;
  sw_err_t err;
  int ok = sw_json_parse(text, n + 2, &j, &err) == SW_OK && sw_json_get_int(j, "index", -1, index, &err) == SW_OK &&
           *index >= 0;
  const sw_json_t *l = ok ? sw_json_get(j, "label") : NULL;
  for (size_t i = 0; l && l->kind == SW_JSON_OBJECT && i < l->count; i++) {
    char v[64];
    scalar_text(&l->items[i], v, sizeof v);
    size_t used = strlen(label);
    snprintf(label + used, cap - used, "%s%s=%s", used ? " " : "", l->keys[i], v);
  }
  sw_json_free(j);
  free(text);
  return ok;
}

static void running_add(sw_progress_t *p, const char *members, int64_t now_ns) {
  running_t r = {0, now_ns, ""};
  if (!parse_members(members, &r.index, r.label, sizeof r.label)) return;
  if (p->n_run == p->cap_run) {
    size_t cap = p->cap_run ? 2 * p->cap_run : 16;
    running_t *g = realloc(p->run, cap * sizeof *g);
    if (!g) return;
    p->run = g;
    p->cap_run = cap;
  }
  p->run[p->n_run++] = r;
}

static void running_remove(sw_progress_t *p, const char *members) {
  int64_t index;
  char label[SW_PROGRESS_LABEL_MAX + 1];
  if (!parse_members(members, &index, label, sizeof label)) return;
  for (size_t i = 0; i < p->n_run; i++)
    if (p->run[i].index == index) {
      p->run[i] = p->run[--p->n_run];
      return;
    }
}

/* "1:02:03" or "2:03" of a number of seconds; "-" when unknown. */
static void fmt_duration(double s, char *dst, size_t cap) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(dst, cap, "-");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(dst, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(dst, cap, "%ld:%02ld", t / 60, t % 60);
}

void sw_progress_format(const sw_progress_t *p, const sw_events_counts_t *c, int64_t now_ns, char *dst, size_t cap) {
  int64_t todo = c->total - c->skipped, finished = c->ok + c->failed + c->interrupted;
  double el = (double)(now_ns - p->start_ns) * 1e-9, rate = el > 0 ? (double)finished / el : 0;
  char eta[32], slow[32];
  fmt_duration(rate > 0 ? (double)(todo - finished) / rate : -1, eta, sizeof eta);
  int n = snprintf(dst, cap, "[%lld/%lld] done %lld, failed %lld, running %lld of %lld; %.2f trials/s, ETA %s",
                   (long long)finished, (long long)todo, (long long)c->ok, (long long)c->failed, (long long)c->running,
                   (long long)c->total, rate, eta);
  const running_t *oldest = NULL;
  for (size_t i = 0; i < p->n_run; i++)
    if (!oldest || p->run[i].start_ns < oldest->start_ns) oldest = &p->run[i];
  if (oldest && n > 0 && (size_t)n < cap) {
    fmt_duration((double)(now_ns - oldest->start_ns) * 1e-9, slow, sizeof slow);
    snprintf(dst + n, cap - (size_t)n, "; slowest running: %s (%s)", oldest->label[0] ? oldest->label : "-", slow);
  }
}

static size_t terminal_width(FILE *out) {
  struct winsize w;
  if (ioctl(fileno(out), TIOCGWINSZ, &w) == 0 && w.ws_col > 20) return w.ws_col;
  return 120;
}

static void draw(sw_progress_t *p, const sw_events_counts_t *c, int64_t now_ns, int final) {
  char line[512];
  sw_progress_format(p, c, now_ns, line, sizeof line);
  if (p->tty) {
    size_t w = terminal_width(p->out) - 1;
    if (strlen(line) > w) line[w] = '\0';
    fprintf(p->out, "\r\033[K%s", line); /* carriage return, erase the line, draw */
    p->drawn = 1;
  } else {
    fprintf(p->out, "sparsweep run: %s%s\n", final ? "finished: " : "", line);
  }
  fflush(p->out);
  p->last_draw_ns = now_ns;
}

/* Whether a plain (non-terminal) line is due: another 10% finished, or 60 s since the last line. */
static int plain_due(sw_progress_t *p, const sw_events_counts_t *c, int64_t now_ns) {
  int64_t todo = c->total - c->skipped;
  double f = todo > 0 ? (double)(c->ok + c->failed + c->interrupted) / (double)todo : 1;
  int step = (int)(f / SW_PROGRESS_PLAIN_STEP + 1e-9);
  if (step > p->last_step && f < 1) { /* the end has its own final line */
    p->last_step = step;
    return 1;
  }
  return now_ns - p->last_draw_ns >= SW_PROGRESS_PLAIN_PERIOD_NS;
}

void sw_progress_event(sw_progress_t *p, const char *topic, const sw_events_counts_t *c, const char *members,
                       int64_t now_ns) {
  if (!p || !topic || !c) return;
  if (strcmp(topic, "run_started") == 0 || !p->started) {
    p->start_ns = now_ns;
    p->started = 1;
    if (!p->tty) p->last_draw_ns = now_ns; /* the first plain line after 10% or 60 s */
    if (strcmp(topic, "run_started") == 0) return; /* the run's own info line follows: draw from the first trial */
  }
  if (strcmp(topic, "trial_started") == 0) running_add(p, members, now_ns);
  else if (strcmp(topic, "trial_finished") == 0 || strcmp(topic, "trial_failed") == 0) running_remove(p, members);
  int final = strcmp(topic, "run_finished") == 0;
  if (final) p->n_run = 0;
  if (p->tty) {
    if (final || p->last_draw_ns == 0 || now_ns - p->last_draw_ns >= SW_PROGRESS_TTY_PERIOD_NS) draw(p, c, now_ns, final);
  } else if (final || plain_due(p, c, now_ns)) {
    draw(p, c, now_ns, final);
  }
}
