/* sw_names: lookups in the static tables that give each value of an enum its config/CLI spelling (table index
 * = enum value).  One helper for "which enum is this name" and back, instead of a loop and a switch per enum. */
#ifndef SW_NAMES_H
#define SW_NAMES_H
#include <stddef.h>

/* Index of name in names[count] (exact, case-sensitive match), or -1 when absent or name is NULL. */
int sw_names_find(const char *const *names, size_t count, const char *name);
/* names[index], or "?" when index is outside [0, count) or the entry is NULL; never NULL. */
const char *sw_names_at(const char *const *names, size_t count, int index);

#endif
