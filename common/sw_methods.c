/* sw_methods: lookups in the method vocabulary of common/sw_methods.h. */
#include "common/sw_methods.h"

#include <string.h>

#include "common/sw_names.h"

typedef struct method_row {
  const char *canonical, *aliases;
  int         version;
  const char *definition;
} method_row_t;

#define SW_METHOD_ROW(c, a, v, d) {c, a, v, d},
static const method_row_t rows[] = {SW_METHODS(SW_METHOD_ROW)};
#undef SW_METHOD_ROW

static const method_row_t *row_of(const char *word) {
  for (size_t i = 0; word && i < sizeof rows / sizeof rows[0]; i++)
    if (!strcmp(rows[i].canonical, word) || sw_names_in_list(word, rows[i].aliases)) return &rows[i];
  return NULL;
}

const char *sw_method_canonical(const char *word) {
  const method_row_t *r = row_of(word);
  return r ? r->canonical : NULL;
}

int sw_method_version(const char *word) {
  const method_row_t *r = row_of(word);
  return r ? r->version : 0;
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
