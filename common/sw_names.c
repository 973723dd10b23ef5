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

size_t sw_names_distance(const char *a, const char *b) {
  size_t la = strnlen(a, 64), lb = strnlen(b, 64);
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *sw_names_closest(const char *word, const char *const *names, size_t count) {
  const char *best = NULL;
  size_t best_d = (size_t)-1, limit = strlen(word) <= 4 ? 1 : 2;
  for (size_t i = 0; i < count; i++) {
    if (!names[i]) continue;
    size_t d = sw_names_distance(word, names[i]);
    if (d <= limit && d < best_d) {
      best = names[i];
      best_d = d;
    }
  }
  return best;
}

int sw_names_in_list(const char *word, const char *list) {
  if (!word || !list) return 0;
  size_t n = strlen(word);
  for (const char *p = list; *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && !strncmp(p, word, n)) return 1;
    if (!bar) break;
    p = bar + 1;
  }
  return 0;
}
