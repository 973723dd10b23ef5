/* sw_cnum: numbers in the C ("POSIX") notation whatever the process locale: JSON, YAML and the canonical configs
 * always write a '.' decimal point, while strtod and printf follow LC_NUMERIC (a comma under de_DE.UTF-8, where
 * strtod("0.5") stops at the '.' and returns 0).  These translate between the two, so a library or host program
 * that calls setlocale cannot change a parsed value or a config hash. */
#ifndef SW_CNUM_H
#define SW_CNUM_H
#include <stddef.h>

/* Parses the n bytes at s (a number in C notation, e.g. "-1.25e-3") as strtod does in the C locale; *used gets the
 * bytes consumed (0: no number).  n is at most 63 bytes (longer text parses nothing); never reads past s + n. */
double sw_cnum_parse(const char *s, size_t n, size_t *used);

/* snprintf(dst, cap, "%.*g", prec, v) with a '.' decimal point whatever the locale.  Returns the length. */
int sw_cnum_format_g(char *dst, size_t cap, int prec, double v);

#endif
