/* sw_err: one error-code table for all of sparsweep, and an error record carrying a precise message.
 * Library functions return an sw_rc (0 = SW_OK) and, on failure, fill an sw_err_t the caller owns,
 * so a message can name the file, line, field or trial without any global state. */
#ifndef SW_ERR_H
#define SW_ERR_H
#include <stdarg.h>
#include <stddef.h>

/* X-macro: code, name, default text.  Values are explicit and never reused. */
#define SW_ERR_MAP(X)                                                     \
  X(SW_OK,              0, "ok")                                          \
  X(SW_ERR_NOMEM,       1, "out of memory")                               \
  X(SW_ERR_IO,          2, "input/output error")                          \
  X(SW_ERR_PARSE,       3, "malformed input")                             \
  X(SW_ERR_TRUNCATED,   4, "input ends too early")                        \
  X(SW_ERR_RANGE,       5, "value out of range")                          \
  X(SW_ERR_UNSUPPORTED, 6, "unsupported feature")                         \
  X(SW_ERR_INVALID,     7, "invalid argument")                            \
  X(SW_ERR_DB,          8, "database error")                              \
  X(SW_ERR_MPI,         9, "MPI error")                                   \
  X(SW_ERR_TIMEOUT,    10, "timed out")                                   \
  X(SW_ERR_CHILD,      11, "child process failed")                        \
  X(SW_ERR_NOTFOUND,   12, "not found")                                   \
  X(SW_ERR_INTERNAL,   13, "internal error")

typedef enum sw_rc {
#define SW_ERR_ENUM(code, value, text) code = value,
  SW_ERR_MAP(SW_ERR_ENUM)
#undef SW_ERR_ENUM
  SW_ERR_COUNT
} sw_rc;

#define SW_ERR_MSG_MAX 1024

/* An error record: the code and a human message ("file.yaml:3:7: expected a number for 'tau'"). */
typedef struct sw_err {
  sw_rc code;                 /* SW_OK when nothing failed */
  char  msg[SW_ERR_MSG_MAX];  /* NUL-terminated message; empty when code == SW_OK */
} sw_err_t;

/* Name of a code ("SW_ERR_PARSE"); never NULL. */
const char *sw_err_name(sw_rc code);
/* Default text of a code ("malformed input"); never NULL. */
const char *sw_err_text(sw_rc code);
/* Resets an error record to SW_OK. */
void sw_err_clear(sw_err_t *err);
/* Sets code and a printf-style message; returns code so callers can `return sw_err_set(...)`.
 * err may be NULL (the message is then dropped). */
sw_rc sw_err_set(sw_err_t *err, sw_rc code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
sw_rc sw_err_vset(sw_err_t *err, sw_rc code, const char *fmt, va_list ap);
/* Prepends "prefix: " to an existing message (e.g. the file name), keeping the code. Returns the code. */
sw_rc sw_err_prefix(sw_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "Cannot happen" checks: assert in debug builds, pass the value through in release builds. */
#ifdef NDEBUG
#define SW_ALWAYS(x) (x)
#define SW_NEVER(x) (x)
#else
#include <assert.h>
#define SW_ALWAYS(x) ((x) ? 1 : (assert(0 && #x), 0))
#define SW_NEVER(x) ((x) ? (assert(0 && #x), 1) : 0)
#endif

#endif
