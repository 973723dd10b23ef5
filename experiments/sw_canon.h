/* sw_canon: canonical JSON of a flat trial config and its hash.  Canonical form: one JSON object, no
 * whitespace, keys sorted bytewise (unique), integers as integers ("%lld"), other numbers in shortest
 * round-trip form (sw_buf_json_double), true/false, strings with sw_buf_json_string escapes, lists as
 * arrays of scalars.  The hash is the SHA-256 hex of that text, so the same config gives the same hash on
 * any machine, in any run, whatever the key order in the file. */
#ifndef SW_CANON_H
#define SW_CANON_H
#include <stddef.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "common/sw_json.h"
#include "experiments/sw_expfile.h"

/* Appends the canonical JSON of kvs[n] (any order; keys must be distinct) to out.
 * SW_ERR_INVALID on a duplicate key or a nested list, SW_ERR_NOMEM on allocation failure. */
sw_rc sw_canon_config(const sw_kv_t *kvs, size_t n, sw_buf_t *out, sw_err_t *err);

/* Same for parallel arrays keys[n] / vals[n] (the grid uses this to avoid copying values);
 * vals[i] may be NULL: that key is skipped. */
sw_rc sw_canon_config_parts(const char *const *keys, const sw_value_t *const *vals, size_t n, sw_buf_t *out,
                            sw_err_t *err);

/* Appends the canonical JSON of a parsed flat JSON object (e.g. a config read back from the database)
 * to out: re-sorts keys and reprints numbers, so canonical(parse(canonical(x))) == canonical(x).
 * SW_ERR_INVALID when obj is not an object of scalars / arrays of scalars, or has duplicate keys. */
sw_rc sw_canon_json_object(const sw_json_t *obj, sw_buf_t *out, sw_err_t *err);

/* The config hash: SHA-256 hex of the canonical text. */
void sw_canon_hash(const char *canonical_json, size_t len, char hex[65]);

#endif
