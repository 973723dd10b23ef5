/* sw_json: a small JSON (RFC 8259) DOM parser over (text, len) with bounded depth and sizes, and typed
 * accessors.  Used for trial configs (canonical JSON from experiments/) and for trial results sent from
 * executors to rank 0.  Numbers keep both the double value and whether they were integral. */
#ifndef SW_JSON_H
#define SW_JSON_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"

#define SW_JSON_MAX_DEPTH 64

typedef enum sw_json_kind {
  SW_JSON_NULL = 0,
  SW_JSON_BOOL = 1,
  SW_JSON_NUMBER = 2,
  SW_JSON_STRING = 3,
  SW_JSON_ARRAY = 4,
  SW_JSON_OBJECT = 5
} sw_json_kind;

typedef struct sw_json sw_json_t;
struct sw_json {
  sw_json_kind kind;
  int          boolean;    /* SW_JSON_BOOL */
  double       number;     /* SW_JSON_NUMBER */
  int          is_integer; /* SW_JSON_NUMBER written without fraction/exponent and fits int64 */
  int64_t      integer;    /* SW_JSON_NUMBER when is_integer */
  char        *string;     /* SW_JSON_STRING: NUL-terminated UTF-8; \u0000 decodes to a NUL inside (string_len) */
  size_t       string_len; /* bytes in string */
  size_t       count;      /* ARRAY/OBJECT: number of items */
  sw_json_t   *items;      /* ARRAY/OBJECT: items[count] */
  char       **keys;       /* OBJECT: keys[count], NUL-terminated (a key with \u0000 is a parse error) */
};

/* Parses exactly one JSON value (surrounding whitespace allowed; duplicate keys in an object are an error).  On error returns SW_ERR_PARSE with
 * "offset N: <what was expected>" in err and *out untouched.  Caller frees with sw_json_free(). */
sw_rc sw_json_parse(const char *text, size_t len, sw_json_t **out, sw_err_t *err);
void  sw_json_free(sw_json_t *v);

/* Object member by key, or NULL (also NULL when obj is not an object). */
const sw_json_t *sw_json_get(const sw_json_t *obj, const char *key);
/* Typed lookups with defaults: return SW_OK and the default when the key is absent; SW_ERR_INVALID with a
 * message naming the key when present with the wrong type or (for ints) a non-integral value. */
sw_rc sw_json_get_str(const sw_json_t *obj, const char *key, const char *def, const char **out, sw_err_t *err);
sw_rc sw_json_get_double(const sw_json_t *obj, const char *key, double def, double *out, sw_err_t *err);
sw_rc sw_json_get_int(const sw_json_t *obj, const char *key, int64_t def, int64_t *out, sw_err_t *err);
sw_rc sw_json_get_bool(const sw_json_t *obj, const char *key, int def, int *out, sw_err_t *err);

#endif
