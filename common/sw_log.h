/* sw_log: levelled logging to a stream with a caller-chosen prefix (e.g. "rank 3").
 * The logger is a context value the caller owns: there is no global logger. */
#ifndef SW_LOG_H
#define SW_LOG_H
#include <stdio.h>

typedef enum sw_log_level {
  SW_LOG_ERROR = 0,
  SW_LOG_WARN  = 1,
  SW_LOG_INFO  = 2,
  SW_LOG_DEBUG = 3
} sw_log_level;

typedef struct sw_log {
  FILE        *out;        /* destination (stderr when NULL) */
  sw_log_level level;      /* messages above this level are dropped */
  char         prefix[64]; /* printed before each message, e.g. "sparsweep[rank 0]" */
} sw_log_t;

/* Initialises a logger; the level comes from SPARSWEEP_LOG (error|warn|info|debug) when set. */
void sw_log_init(sw_log_t *log, const char *prefix, sw_log_level level);
/* Writes one formatted line (truncated at 2 KiB) when level <= log->level; a level outside the enum is dropped. */
void sw_log(const sw_log_t *log, sw_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
