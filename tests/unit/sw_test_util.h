/* sw_test_util: small helpers shared by the unit tests: the absolute+relative tolerance check every numeric
 * comparison uses, and reading a whole file (fixtures, generated outputs). Header-only, test code only. */
#ifndef SW_TEST_UTIL_H
#define SW_TEST_UTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* 1 when |got - want| <= atol + rtol * |want| (the style rule's named absolute and relative parts). */
static inline int sw_test_close(double got, double want, double atol, double rtol) {
  return fabs(got - want) <= atol + rtol * fabs(want);
}

/* Reads a whole file into a malloc'd, NUL-terminated buffer (caller frees); *len (may be NULL) gets its size.
 * NULL when the file cannot be opened or read. */
static inline char *sw_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  fclose(f);
  if (!s) return NULL;
  s[n] = '\0';
  if (len) *len = (size_t)n;
  return s;
}

#endif
