/* sw_cli_args: the argument helpers every subcommand shares (help detection, `--name VALUE` and
 * `--name=VALUE` options, strict number parsing).  Pure functions over argv; no state, no output. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"

int sw_cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
  return 0;
}

const char *sw_cli_next_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc || !argv[*i + 1] || strncmp(argv[*i + 1], "--", 2) == 0) return NULL;
  return argv[++*i];
}

const char *sw_cli_opt_value(int argc, char **argv, int *i, const char *name, int *bad) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] != '\0') return NULL;
  const char *v = sw_cli_next_value(argc, argv, i);
  if (!v) *bad = 1;
  return v;
}

int sw_cli_parse_double(const char *text, double min, double max, double *out) {
  char *end = NULL;
  if (!text || !*text) return -1;
  errno = 0;
  double v = strtod(text, &end);
  if (*end || errno == ERANGE || !isfinite(v) || v < min || v > max) return -1;
  *out = v;
  return 0;
}

int sw_cli_parse_long(const char *text, long min, long max, long *out) {
  char *end = NULL;
  if (!text || !*text) return -1;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (*end || errno == ERANGE || v < min || v > max) return -1;
  *out = v;
  return 0;
}

int sw_cli_parse_int(const char *text, int min, int max, int *out) {
  long v;
  if (sw_cli_parse_long(text, min, max, &v) != 0) return -1;
  *out = (int)v;
  return 0;
}

int sw_cli_parse_int_list(const char *text, int min, int max, int *out, int cap) {
  int n = 0;
  if (!text || !*text) return -1;
  for (const char *p = text;; n++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char item[32];
    if (len == 0 || len >= sizeof item) return -1;
    memcpy(item, p, len);
    item[len] = '\0';
    if (n == cap) return SW_CLI_LIST_TOO_LONG;
    if (sw_cli_parse_int(item, min, max, &out[n]) != 0) return -1;
    if (!comma) return n + 1;
    p = comma + 1;
  }
}
