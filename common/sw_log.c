/* sw_log: one line per message, "<prefix>: <level>: <text>", flushed at once so that lines of different ranks
 * interleave whole.  State is the caller's sw_log_t; the only input besides it is SPARSWEEP_LOG. */
#include "common/sw_log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void sw_log_init(sw_log_t *log, const char *prefix, sw_log_level level) {
  log->out = stderr;
  log->level = level;
  snprintf(log->prefix, sizeof log->prefix, "%s", prefix ? prefix : "sparsweep");
  const char *env = getenv("SPARSWEEP_LOG");
  if (!env) return;
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (strcmp(env, names[i]) == 0) log->level = (sw_log_level)i;
}

void sw_log(const sw_log_t *log, sw_log_level level, const char *fmt, ...) {
  static const char *const names[] = {"error", "warning", "info", "debug"};
  if ((unsigned)level > SW_LOG_DEBUG || level > log->level) return; /* names[] has 4 entries */
  FILE *out = log->out ? log->out : stderr;
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(out, "%s: %s: %s\n", log->prefix, names[level], line);
  fflush(out);
}
