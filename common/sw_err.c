/* sw_err: name and text tables generated from SW_ERR_MAP, and message formatting for sw_err_t.  Messages
 * are truncated to the sw_err_t buffer; a NULL sw_err_t drops the message but keeps the code. */
#include "common/sw_err.h"

#include <stdio.h>
#include <string.h>

static const char *const sw_err_names[SW_ERR_COUNT] = {
#define SW_ERR_NAME(code, value, text) [value] = #code,
    SW_ERR_MAP(SW_ERR_NAME)
#undef SW_ERR_NAME
};

static const char *const sw_err_texts[SW_ERR_COUNT] = {
#define SW_ERR_TEXT(code, value, text) [value] = text,
    SW_ERR_MAP(SW_ERR_TEXT)
#undef SW_ERR_TEXT
};

const char *sw_err_name(sw_rc code) {
  if ((unsigned)code >= SW_ERR_COUNT) return "SW_ERR_UNKNOWN";
  return sw_err_names[code];
}

const char *sw_err_text(sw_rc code) {
  if ((unsigned)code >= SW_ERR_COUNT) return "unknown error";
  return sw_err_texts[code];
}

void sw_err_clear(sw_err_t *err) {
  if (!err) return;
  err->code = SW_OK;
  err->msg[0] = '\0';
}

sw_rc sw_err_vset(sw_err_t *err, sw_rc code, const char *fmt, va_list ap) {
  if (!err) return code;
  err->code = code;
  if (fmt)
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  else
    snprintf(err->msg, sizeof err->msg, "%s", sw_err_text(code));
  return code;
}

sw_rc sw_err_set(sw_err_t *err, sw_rc code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sw_rc rc = sw_err_vset(err, code, fmt, ap);
  va_end(ap);
  return rc;
}

sw_rc sw_err_prefix(sw_err_t *err, const char *fmt, ...) {
  if (!err) return SW_ERR_INTERNAL;
  char old[SW_ERR_MSG_MAX];
  memcpy(old, err->msg, sizeof old);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  size_t used = n < 0 ? 0 : (size_t)n;
  if (used < sizeof err->msg - 1) {
    size_t room = sizeof err->msg - used;
    size_t old_len = strnlen(old, sizeof old - 1);
    const char sep[] = ": ";
    size_t k = 0;
    for (; k < 2 && used + 1 < sizeof err->msg; k++) err->msg[used++] = sep[k];
    room = sizeof err->msg - used;
    size_t copy = old_len < room - 1 ? old_len : room - 1;
    memcpy(err->msg + used, old, copy);
    err->msg[used + copy] = '\0';
  }
  return err->code;
}
