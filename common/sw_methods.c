/* sw_methods: lookups in the method vocabulary of common/sw_methods.h. */
#include "common/sw_methods.h"

#include <string.h>

typedef struct method_row {
  const char *canonical, *aliases, *definition;
} method_row_t;

#define SW_METHOD_ROW(c, a, d) {c, a, d},
static const method_row_t rows[] = {SW_METHODS(SW_METHOD_ROW)};
#undef SW_METHOD_ROW

/* 1 when word is one of the '|'-separated aliases. */
static int alias_of(const char *word, const char *aliases) {
  size_t n = strlen(word);
  for (const char *p = aliases; *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && !strncmp(p, word, n)) return 1;
    if (!bar) break;
    p = bar + 1;
  }
  return 0;
}

static const method_row_t *row_of(const char *word) {
  for (size_t i = 0; word && i < sizeof rows / sizeof rows[0]; i++)
    if (!strcmp(rows[i].canonical, word) || alias_of(word, rows[i].aliases)) return &rows[i];
  return NULL;
}

const char *sw_method_canonical(const char *word) {
  const method_row_t *r = row_of(word);
  return r ? r->canonical : NULL;
}

const char *sw_method_definition(const char *word) {
  const method_row_t *r = row_of(word);
  return r ? r->definition : NULL;
}

const char *sw_method_spelling(const char *word, const char *const *spellings, size_t n) {
  const char *c = sw_method_canonical(word);
  for (size_t i = 0; c && i < n; i++)
    if (spellings[i] && sw_method_canonical(spellings[i]) == c) return spellings[i];
  return NULL;
}
