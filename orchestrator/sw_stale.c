/* sw_stale: rank 0 stamps its host, pid and process start time into runs.env, and a later run on the same
 * database marks earlier 'running' runs whose stamped process is gone as 'aborted'.  The running runs come
 * from sw_store_each_running_run and the only write is sw_store_run_end: no SQL here (results/ owns it). */
#include "orchestrator/sw_stale.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/sw_json.h"

#define SW_STALE_START_FIELD 22 /* starttime in /proc/<pid>/stat (proc(5)) */

/* Reads the state (field 3) and starttime (field 22) of /proc/<pid>/stat; 0 on success, -1 when unreadable. */
static int s_proc_stat(int64_t pid, char *state, char *start, size_t cap) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  const char *p = ok ? strrchr(line, ')') : NULL; /* comm may contain spaces and ')': skip to the last one */
  if (!p) return -1;
  p++;                 /* now just before field 3 (state) */
  p += strspn(p, " ");
  *state = *p;
  for (int field = 3; field < SW_STALE_START_FIELD; field++) {
    p += strspn(p, " ");
    p += strcspn(p, " ");
  }
  p += strspn(p, " ");
  size_t n = strcspn(p, " \n");
  if (n == 0 || n >= cap) return -1;
  memcpy(start, p, n);
  start[n] = '\0';
  return 0;
}

static void s_member(sw_buf_t *dst, const char *key, const char *value) {
  sw_buf_json_string(dst, key, strlen(key));
  sw_buf_puts(dst, ":");
  sw_buf_json_string(dst, value, strlen(value));
}

void sw_stale_self_start(char *buf, size_t cap) {
  char state;
  if (cap > 0 && s_proc_stat((int64_t)getpid(), &state, buf, cap) != 0) buf[0] = '\0';
}

void sw_stale_owner_members(sw_buf_t *dst, const char *host) {
  char pid[32], start[32];
  snprintf(pid, sizeof pid, "%lld", (long long)getpid());
  s_member(dst, SW_STALE_KEY_HOST, host ? host : "");
  sw_buf_puts(dst, ",");
  s_member(dst, SW_STALE_KEY_PID, pid);
  char state;
  if (s_proc_stat((int64_t)getpid(), &state, start, sizeof start) == 0) {
    sw_buf_puts(dst, ",");
    s_member(dst, SW_STALE_KEY_START, start);
  }
}

void sw_stale_stamp_env(sw_buf_t *env, const char *host) {
  if (!env->data || env->len < 2 || env->data[env->len - 1] != '}') return;
  env->len--; /* drop the closing brace; the next append overwrites it */
  env->data[env->len] = '\0';
  int empty = env->len == 1; /* only "{" left */
  if (!empty) sw_buf_puts(env, ",");
  sw_stale_owner_members(env, host);
  sw_buf_puts(env, "}");
}

int sw_stale_owner_gone(int64_t pid, const char *start) {
  if (pid <= 0 || (int64_t)(pid_t)pid != pid) return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 1;
  char now[32], state = '?';
  if (s_proc_stat(pid, &state, now, sizeof now) != 0) return 0;
  if (state == 'Z' || state == 'X') return 1; /* exited, not yet reaped by its (new) parent */
  return start && strcmp(now, start) != 0;
}

/* 1 when a run whose env text is env_text belongs to host and its owner process is gone. */
static int s_run_is_stale(const char *env_text, const char *host) {
  sw_json_t *env = NULL;
  sw_err_t   ignored;
  if (!env_text || sw_json_parse(env_text, strlen(env_text), &env, &ignored) != SW_OK) return 0;
  const sw_json_t *h = sw_json_get(env, SW_STALE_KEY_HOST), *p = sw_json_get(env, SW_STALE_KEY_PID),
                  *s = sw_json_get(env, SW_STALE_KEY_START);
  int stale = 0;
  if (h && h->kind == SW_JSON_STRING && p && p->kind == SW_JSON_STRING && strcmp(h->string, host) == 0) {
    char   *end = NULL;
    int64_t pid = strtoll(p->string, &end, 10);
    if (end && *end == '\0') stale = sw_stale_owner_gone(pid, s && s->kind == SW_JSON_STRING ? s->string : NULL);
  }
  sw_json_free(env);
  return stale;
}

typedef struct s_stale_run {
  int64_t run_id;
  double  last_s; /* last trial's end, or the run's start */
} s_stale_run_t;

/* The stale runs of one host, collected during sw_store_each_running_run. */
typedef struct s_stale_list {
  const char    *host;
  s_stale_run_t *runs; /* owned */
  size_t         n, cap;
} s_stale_list_t;

static sw_rc s_collect_stale(void *ctx, int64_t run_id, const char *env, double last_s, sw_err_t *err) {
  s_stale_list_t *l = ctx;
  if (!s_run_is_stale(env, l->host)) return SW_OK;
  if (l->n == l->cap) {
    size_t         cap = l->cap ? 2 * l->cap : 4;
    s_stale_run_t *grown = realloc(l->runs, cap * sizeof *grown);
    if (!grown) return sw_err_set(err, SW_ERR_NOMEM, "out of memory listing aborted runs");
    l->runs = grown, l->cap = cap;
  }
  l->runs[l->n++] = (s_stale_run_t){run_id, last_s};
  return SW_OK;
}

sw_rc sw_stale_abort_runs(sw_store_t *st, const char *host, int64_t *n_aborted, sw_err_t *err) {
  s_stale_list_t list = {host ? host : "", NULL, 0, 0};
  if (n_aborted) *n_aborted = 0;
  sw_rc rc = sw_store_each_running_run(st, s_collect_stale, &list, err);
  for (size_t i = 0; rc == SW_OK && i < list.n; i++) {
    rc = sw_store_run_end(st, list.runs[i].run_id, "aborted", list.runs[i].last_s, err);
    if (rc == SW_OK && n_aborted) (*n_aborted)++;
  }
  free(list.runs);
  return rc;
}
