/* sw_names: lookups in the static tables that give each value of an enum its config/CLI spelling (table index
 * = enum value).  One helper for "which enum is this name" and back, instead of a loop and a switch per enum. */
#ifndef SW_NAMES_H
#define SW_NAMES_H
#include <stddef.h>

/* Index of name in names[count] (exact, case-sensitive match), or -1 when absent or name is NULL. */
int sw_names_find(const char *const *names, size_t count, const char *name);
/* names[index], or "?" when index is outside [0, count) or the entry is NULL; never NULL. */
const char *sw_names_at(const char *const *names, size_t count, int index);
/* 1 when word is one of the '|'-separated words of list ("a|b|c"); 0 for a NULL word or list. */
int sw_names_in_list(const char *word, const char *list);
/* Levenshtein distance of two strings, each compared on its first 64 bytes. */
size_t sw_names_distance(const char *a, const char *b);
/* The entry of names[count] closest to word within a small edit distance (1 for words of up to 4 bytes, else
 * 2), for "did you mean" messages; NULL when none is that close.  NULL entries are skipped. */
const char *sw_names_closest(const char *word, const char *const *names, size_t count);

#endif
