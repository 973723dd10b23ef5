/* sw_cnum: locale-independent number text (see sw_cnum.h).  The text is rewritten between '.' and the locale's
 * decimal point (localeconv) around strtod / snprintf, so no global state changes. */
#include "common/sw_cnum.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CNUM_MAX 64

/* The current LC_NUMERIC decimal point ("." in the C locale). */
static const char *decimal_point(void) {
  const struct lconv *lc = localeconv();
  return lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point : ".";
}

double sw_cnum_parse(const char *s, size_t n, size_t *used) {
  const char *dp = decimal_point();
  size_t dl = strlen(dp);
  char tmp[CNUM_MAX * 4];
  size_t map[CNUM_MAX * 4 + 1]; /* tmp offset -> source offset */
  size_t k = 0;
  *used = 0;
  if (n >= CNUM_MAX) return 0.0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.' && dl < 4) {
      for (size_t j = 0; j < dl; j++) map[k] = i, tmp[k++] = dp[j];
    } else {
      map[k] = i, tmp[k++] = s[i];
    }
  }
  map[k] = n;
  tmp[k] = '\0';
  char *end = NULL;
  double v = strtod(tmp, &end);
  size_t off = (size_t)(end - tmp);
  *used = off > 0 && off <= k ? (off == k ? n : map[off]) : 0;
  return v;
}

int sw_cnum_format_g(char *dst, size_t cap, int prec, double v) {
  char tmp[CNUM_MAX * 2];
  int len = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
  const char *dp = decimal_point();
  size_t dl = strlen(dp), k = 0;
  char *out = dst;
  for (int i = 0; i < len && (size_t)i < sizeof tmp - 1;) {
    if (strncmp(tmp + i, dp, dl) == 0 && dl > 0) {
      if (k + 1 < cap) out[k] = '.';
      k++, i += (int)dl;
    } else {
      if (k + 1 < cap) out[k] = tmp[i];
      k++, i++;
    }
  }
  if (cap) out[k < cap ? k : cap - 1] = '\0';
  return (int)k;
}
