/* sw_names: linear lookups in short static name tables (a handful of entries each, so no hashing).
 * Pure functions over the caller's const table; no state. */
#include "common/sw_names.h"

#include <string.h>

int sw_names_find(const char *const *names, size_t count, const char *name) {
  if (!name) return -1;
  for (size_t i = 0; i < count; i++)
    if (names[i] && strcmp(names[i], name) == 0) return (int)i;
  return -1;
}

const char *sw_names_at(const char *const *names, size_t count, int index) {
  if (index < 0 || (size_t)index >= count || !names[index]) return "?";
  return names[index];
}
