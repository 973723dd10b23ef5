/* sw_outcome: the trial-outcome type's codec, status names and signal names (see sw_outcome.h). */
#include "common/sw_outcome.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_status_names[SW_TRIAL_STATUS_COUNT] = {"ok", "failed", "timeout", "interrupted",
                                                                   "skipped"}; /* by value */

const char *sw_trial_status_name(sw_trial_status status) {
  unsigned i = (unsigned)status;
  return i < SW_TRIAL_STATUS_COUNT ? s_status_names[i] : "unknown";
}

sw_rc sw_trial_status_parse(const char *name, sw_trial_status *out, sw_err_t *err) {
  for (unsigned i = 0; i < SW_TRIAL_STATUS_COUNT; i++)
    if (name && strcmp(name, s_status_names[i]) == 0) {
      *out = (sw_trial_status)i;
      return SW_OK;
    }
  return sw_err_set(err, SW_ERR_INVALID, "unknown trial status '%s' (expected ok, failed, timeout, interrupted, skipped)",
                    name ? name : "(null)");
}

const char *sw_signal_name(int signo, char *buf, size_t buf_len) {
  const char *abbrev = signo > 0 ? sigabbrev_np(signo) : NULL;
  if (buf && buf_len) {
    if (abbrev) snprintf(buf, buf_len, "SIG%s", abbrev);
    else snprintf(buf, buf_len, "SIG%d", signo);
    return buf;
  }
  return "SIG?";
}

void sw_outcome_set_cause(sw_outcome_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->cause, sizeof o->cause, fmt, ap);
  va_end(ap);
}

void sw_outcome_set_signal(sw_outcome_t *o, int signo) {
  o->signo = signo;
  if (signo) sw_signal_name(signo, o->signal_name, sizeof o->signal_name);
  else o->signal_name[0] = '\0';
}

void sw_outcome_free(sw_outcome_t *o) {
  if (!o) return;
  free(o->stderr_tail);
  free(o->result_json);
  memset(o, 0, sizeof *o);
}

void sw_outcome_encode(sw_buf_t *b, const sw_outcome_t *o) {
  sw_buf_put_u32(b, (uint32_t)o->status);
  sw_buf_put_u32(b, (uint32_t)o->signo);
  sw_buf_put_u32(b, (uint32_t)o->exit_status);
  sw_buf_put_u32(b, (uint32_t)o->out_of_memory);
  sw_buf_put_u32(b, (uint32_t)o->infra);
  sw_buf_put_f64(b, o->start_wall);
  sw_buf_put_f64(b, o->end_wall);
  sw_buf_put_str(b, o->cause);
  sw_buf_put_str(b, o->stderr_tail ? o->stderr_tail : "");
  sw_buf_put_str(b, o->result_json);
}

/* The fixed-size head: status, signal, exit status, flags and times. */
static sw_rc s_decode_head(sw_cursor_t *c, sw_outcome_t *o, sw_err_t *err) {
  uint32_t status, signo, exit_status, oom, infra;
  if (sw_cursor_u32(c, &status) || sw_cursor_u32(c, &signo) || sw_cursor_u32(c, &exit_status) ||
      sw_cursor_u32(c, &oom) || sw_cursor_u32(c, &infra) || sw_cursor_f64(c, &o->start_wall) ||
      sw_cursor_f64(c, &o->end_wall))
    return sw_err_set(err, SW_ERR_TRUNCATED, "trial outcome: cut short before its strings");
  if (status >= SW_TRIAL_STATUS_COUNT)
    return sw_err_set(err, SW_ERR_PARSE, "trial outcome: bad status %u", status);
  o->status = (sw_trial_status)status;
  sw_outcome_set_signal(o, (int)signo);
  o->exit_status = (int)exit_status;
  o->out_of_memory = oom != 0;
  o->infra = infra != 0;
  return SW_OK;
}

sw_rc sw_outcome_decode(sw_cursor_t *c, size_t max_string, sw_outcome_t *o, sw_err_t *err) {
  char *cause = NULL;
  memset(o, 0, sizeof *o);
  sw_rc rc = s_decode_head(c, o, err);
  if (!rc) rc = sw_cursor_str(c, max_string, "cause", &cause, err);
  if (!rc) rc = sw_cursor_str(c, max_string, "stderr_tail", &o->stderr_tail, err);
  if (!rc) rc = sw_cursor_str(c, max_string, "result_json", &o->result_json, err);
  if (!rc && !o->stderr_tail && !(o->stderr_tail = strdup("")))
    rc = sw_err_set(err, SW_ERR_NOMEM, "trial outcome: out of memory");
  if (cause) snprintf(o->cause, sizeof o->cause, "%s", cause);
  free(cause);
  if (rc) sw_outcome_free(o);
  return rc;
}
