/* `sparsweep run`: placeholder until its module lands (see cli/sw_cmd_table.c for the intent). */
#include <stdio.h>

#include "cli/sw_cli.h"

int cmd_run(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sparsweep run: not available in this build yet\n");
  return SW_EXIT_FAIL;
}
