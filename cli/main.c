/* sparsweep: git-style dispatch through the sorted command table (cli/sw_cmd_table.c).  Exit codes are the
 * command's (0 ok, 1 failure, 2 usage); a write error on stdout turns success into 1. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/sw_cli.h"

static void usage(FILE *out) {
  fprintf(out, "usage: sparsweep <command> [options]   (sparsweep <command> --help for details)\n\ncommands:\n");
  for (int i = 0; i < sw_cmd_count; i++) fprintf(out, "  %-10s %s\n", sw_cmd_table[i].name, sw_cmd_table[i].help);
}

static int finish_stdout(int rc) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "sparsweep: error writing to standard output: %s\n", strerror(errno));
    return rc ? rc : SW_EXIT_FAIL;
  }
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return SW_EXIT_USAGE;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return finish_stdout(SW_EXIT_OK);
  }
  for (int i = 0; i < sw_cmd_count; i++)
    if (strcmp(argv[1], sw_cmd_table[i].name) == 0)
      return finish_stdout(sw_cmd_table[i].fn(argc - 1, argv + 1));
  fprintf(stderr, "sparsweep: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return SW_EXIT_USAGE;
}
